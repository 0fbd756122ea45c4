"""Next-nearest-neighbour (diagonal) bonds in the numeric engine: Bloch == real space, exact continuity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nnn_kernels import D1, D2, _models, nnn_bilayer, random_nnn_lattice

from orbsym.numeric import KERNEL_NAMES, Column, Lattice, Observables, angular_momentum_rate, bloch_hamiltonians, solve_bloch, solve_realspace
from orbsym.numeric.bloch import k_points
from orbsym.numeric.realspace import dense_hamiltonian
from lattices import all_kernel_values as kernel_values


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["nnn", "user"]),
    N_x=st.integers(1, 5),
    N_y=st.integers(1, 5),
    T=st.sampled_from([0.0, 0.05, 0.7]),
    interface=st.sampled_from(["fm", "metal"]),
)
def test_nnn_bloch_matches_real_space(seed, kind, N_x, N_y, T, interface):
    """Every kernel (incl. the diagonal-bond ones), F and N: Bloch path == dense real space to 1e-10;
    the continuity equation holds exactly on the Bloch bands and site by site in real space."""
    lat = random_nnn_lattice(np.random.default_rng(seed), kind, N_x, N_y, interface)
    sol = solve_bloch(lat, T, lat.offset_pairs(KERNEL_NAMES))
    fast_obs = Observables(lat, sol.bands)
    fast = kernel_values(lat, fast_obs)
    slow_sol = solve_realspace(lat, T)
    slow = kernel_values(lat, slow_sol.observables)
    assert fast.keys() == slow.keys()
    assert any(k[2] == D1 for k in fast) or N_x == 1 or all(c.label == "FM" for c in lat.columns)
    for key in fast:
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-10, err_msg=str(key))
    assert sol.free_energy() == pytest.approx(slow_sol.free_energy(), abs=1e-10)
    for p in "xyz":
        for kind_ in ("bond", "forward"):
            np.testing.assert_allclose(fast_obs.continuity_residual(p, kind_), 0, atol=1e-12)
            np.testing.assert_allclose(slow_sol.observables.site_continuity(p, kind_), angular_momentum_rate(lat, slow_sol.h, slow_sol.G.T, p), atol=1e-12)


def test_nnn_continuity_on_random_nonequilibrium_state():
    """Site-by-site continuity with diagonal bonds on a random (non-thermal) density matrix, where the
    torques and the divergence do not vanish: kernels == direct i Tr(rho [h, J_n])."""
    from realspace_helpers import random_correlation

    from orbsym.numeric.realspace import RealSpaceObservables

    lat = random_nnn_lattice(np.random.default_rng(5), "user", 4, 3, "metal")
    assert lat.has_diagonal_bonds
    h = dense_hamiltonian(lat)
    G = random_correlation(h.shape[0], np.random.default_rng(6))
    obs = RealSpaceObservables(lat, G)
    for p in "xyz":
        rate = angular_momentum_rate(lat, h, G.T, p)
        assert np.abs(rate).max() > 1e-2
        for kind in ("bond", "forward"):
            np.testing.assert_allclose(obs.site_continuity(p, kind), rate, atol=1e-12)
        tq = obs.torques(p)
        assert np.abs(tq["bond_diagonal"]).max() > 1e-3
        np.testing.assert_allclose(tq["total"], tq["exchange"] + tq["bond_x"] + tq["bond_y"] + tq["bond_diagonal"], atol=1e-14)


def test_diagonal_bond_ownership_and_flags():
    """Diagonal NM-FM bonds: the FM (no NNN hoppings) owns them under interface='fm' -> absent;
    the metal owns them under interface='metal'; flags tell NN-only engines to refuse."""
    fm_rule, metal_rule = nnn_bilayer("fm"), nnn_bilayer("metal")
    for lat in (fm_rule, metal_rule):
        assert lat.bonds == ((1, 0), (0, 1), (1, -1), (1, 1))
        assert lat.has_diagonal_bonds and lat.max_dy == 1 and lat.max_dx == 1
        assert lat.hoppings[(1, 0)] is lat.hop_x and lat.hoppings[(0, 1)] is lat.hop_y
        assert lat.hoppings[D1].shape == (3, 3, 3)
    assert fm_rule.owners[D1].tolist() == [0, 1, 3] and metal_rule.owners[D1].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(fm_rule.hoppings[D1][2], 0)
    np.testing.assert_allclose(metal_rule.hoppings[D1][2], metal_rule.hoppings[D1][0])
    assert not fm_rule.y_hermitian  # t_(1,1) != t_(1,-1): h(-k) != h(k)
    assert fm_rule.describe()["bonds"] == [[1, 0], [0, 1], [1, -1], [1, 1]]
    nn_only = nnn_bilayer("fm", s3=0.0)
    ms = _models()
    plain = Lattice([Column(ms["fm"], dict(t=1.0, mu=0.0, m_x=0, m_y=0, m_z=1.0))] * 2, 3)
    assert not plain.has_diagonal_bonds and plain.max_dy == 1 and plain.max_dx == 1
    assert nn_only.has_diagonal_bonds  # s_1, s_2 still hop diagonally


def test_bloch_hamiltonian_of_diagonal_bonds():
    """h(k) entries of a diagonal bond: t_(1,1) e^{ik} + t_(1,-1) e^{-ik} on block (x, x+1)."""
    lat = nnn_bilayer("metal")
    k = np.array([0.37])
    h = bloch_hamiltonians(lat, k)[0].reshape(4, 3, 4, 3)
    t = lat.hoppings
    expect = t[(1, 0)][0] + t[D1][0] * np.exp(1j * k[0]) + t[D2][0] * np.exp(-1j * k[0])
    np.testing.assert_allclose(h[0, :, 1, :], expect, atol=1e-14)
    np.testing.assert_allclose(h[1, :, 0, :], expect.conj().T, atol=1e-14)
    kk, _ = k_points(6, symmetric=False)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(bloch_hamiltonians(lat, kk)).ravel()), np.linalg.eigvalsh(dense_hamiltonian(lat)), atol=1e-12)


@pytest.mark.parametrize("offset", [(0, 2), (-1, 1), (0, -1), (1, 2)])
def test_unsupported_offsets_are_refused(offset):
    from numeric_kernels import linear_kernelset, L_T2G

    ks = linear_kernelset("bad", L_T2G, 1, {offset: {"t": np.eye(3)}}, {"mu": -np.eye(3)})
    with pytest.raises(ValueError, match=r"bond offsets \[\(" + str(offset[0])):
        Lattice([Column(ks, dict(t=1.0, mu=0.0))], 3)


def test_infinite_N_y_with_diagonal_bonds():
    """The N_y = inf k integral (orbsym.numeric.infinite) takes diagonal bonds: equals a converged large N_y."""
    from orbsym.numeric.infinite import solve_infinite

    lat = nnn_bilayer("metal")
    big = Lattice(lat.columns, 300, "metal")
    pairs = big.offset_pairs(KERNEL_NAMES)
    inf, fin = solve_infinite(big, 0.2, pairs), solve_bloch(big, 0.2, pairs)
    assert inf.free_energy == pytest.approx(fin.free_energy(), abs=1e-12)
    for p in "xyz":
        np.testing.assert_allclose(Observables(big, inf.bands).bond_current(p, D1), Observables(big, fin.bands).bond_current(p, D1), atol=1e-12)


def test_lattice_setup_memory_is_linear_in_N_x():
    """Building a long strip (the Green's-function engine's N_x = 10^4 regime) must not allocate
    anything of size (N_x dim)^2: the k -> -k symmetry test works on column blocks."""
    import tracemalloc

    from lattices import trilayer

    small = trilayer("orbital", 6, 4, 0.5, (1.0, 0, 0), (0, 1.0, 0))
    col = small.columns[2]
    tracemalloc.start()
    lat = Lattice([col] * 4000, 4)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert lat.y_hermitian
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB for 4000 columns"  # dense (N_x dim)^2 would be 2.1 GiB


def test_block_pieces_are_the_dense_pieces_and_real_gauge_is_linear_in_N_x():
    """``real_gauge`` (used by the engine choice for every solve) reads the d x d blocks of h(k)
    without forming the (N_x dim)^2 pieces: same blocks as the dense ``_pieces``, O(N_x) memory."""
    import tracemalloc

    from lattices import trilayer

    from orbsym.numeric.bloch import _block_pieces, _pieces, real_gauge

    lat = random_nnn_lattice(np.random.default_rng(3), "nnn", 5, 4, "metal")
    N, d = lat.N_x, lat.dim
    dense = np.concatenate([P.reshape(N, d, N, d).transpose(0, 2, 1, 3).reshape(N * N, d, d) for P in _pieces(lat)])
    dense = dense[np.abs(dense).reshape(dense.shape[0], -1).max(axis=1) > 0]
    blocks = _block_pieces(lat)
    blocks = blocks[np.abs(blocks).reshape(blocks.shape[0], -1).max(axis=1) > 0]
    key = lambda b: tuple(np.round(b.ravel(), 12).tolist())  # noqa: E731 - compare as sets of blocks
    assert {key(b) for b in dense} == {key(b) for b in blocks}
    col = trilayer("orbital", 6, 4, 0.5, (1.0, 0, 0), (0, 1.0, 0)).columns[2]
    tracemalloc.start()
    phases = real_gauge(Lattice([col] * 4000, 4))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert phases is not None and peak < 50 * 2**20


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["nnn", "user"]), interface=st.sampled_from(["fm", "metal"]))
def test_with_columns_equals_a_new_lattice(seed, kind, interface):
    """Lattice.with_columns (re-evaluates only the replaced columns) == Lattice built anew with the same
    columns: on-site matrices, every bond's hoppings and owners, the k-symmetry flag and every kernel
    on a random state; the original lattice is unchanged."""
    rng = np.random.default_rng(seed)
    lat = random_nnn_lattice(rng, kind, int(rng.integers(2, 6)), 4, interface)
    before = {b: t.copy() for b, t in lat.hoppings.items()}
    onsite = lat.onsite.copy()
    xs = rng.choice(lat.N_x, size=int(rng.integers(1, lat.N_x + 1)), replace=False)
    updates = {}
    for x in xs:
        c = lat.columns[x]
        params = {p: v + rng.normal() * 0.3 for p, v in c.params.items()}
        updates[int(x)] = Column(c.kernels, params, c.magnetic, c.label)
    fast = lat.with_columns(updates)
    cols = list(lat.columns)
    for x, c in updates.items():
        cols[x] = c
    slow = Lattice(cols, lat.N_y, lat.interface)
    np.testing.assert_array_equal(fast.onsite, slow.onsite)
    assert fast.hoppings.keys() == slow.hoppings.keys() and fast.y_hermitian == slow.y_hermitian
    for b in slow.hoppings:
        np.testing.assert_array_equal(fast.hoppings[b], slow.hoppings[b])
        np.testing.assert_array_equal(fast.owners[b], slow.owners[b])
    sol = solve_bloch(slow, 0.1, slow.offset_pairs(KERNEL_NAMES))
    a, b = kernel_values(fast, Observables(fast, sol.bands)), kernel_values(slow, Observables(slow, sol.bands))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
    np.testing.assert_array_equal(lat.onsite, onsite)
    for bnd, t in before.items():
        np.testing.assert_array_equal(lat.hoppings[bnd], t)


def test_with_columns_refuses_other_models_and_indices():
    lat = nnn_bilayer("fm")
    fm_x = next(x for x, c in enumerate(lat.columns) if c.magnetic)
    metal_x = next(x for x, c in enumerate(lat.columns) if not c.magnetic)
    with pytest.raises(ValueError, match="must keep model"):
        lat.with_columns({metal_x: lat.columns[fm_x]})
    with pytest.raises(ValueError, match="outside the lattice"):
        lat.with_columns({lat.N_x: lat.columns[0]})
    with pytest.raises(TypeError, match="Column"):
        lat.with_columns({0: "FM"})
