"""Bloch solver (fast path) against the dense real-space solver (slow path), and its building blocks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import all_kernel_values, random_lattice, trilayer

from orbsym.numeric import (
    KERNEL_NAMES,
    POLARIZATIONS,
    Observables,
    bloch_hamiltonians,
    dense_hamiltonian,
    fermi,
    free_energy_bloch,
    grand_potential_terms,
    k_points,
    real_gauge,
    solve_bloch,
    solve_realspace,
)

BONDS = (None, (1, 0), (0, 1))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31),
    basis=st.sampled_from(["orbital", "spin", "user"]),
    N_x=st.integers(1, 5),
    N_y=st.integers(1, 5),
    T=st.sampled_from([0.0, 1e-4, 0.05, 0.7]),
    interface=st.sampled_from(["fm", "metal"]),
)
def test_bloch_matches_brute_force(seed, basis, N_x, N_y, T, interface):
    """Every kernel value, F and N from the Bloch path equal the dense real-space solver to 1e-10."""
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, N_x, N_y, interface)
    sol = solve_bloch(lat, T, lat.offset_pairs(KERNEL_NAMES))
    fast = all_kernel_values(lat, Observables(lat, sol.bands))
    slow_sol = solve_realspace(lat, T)
    slow = all_kernel_values(lat, slow_sol.observables)
    assert fast.keys() == slow.keys() and len(fast) > 10
    for key in fast:
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-10, err_msg=str(key))
    assert sol.free_energy() == pytest.approx(slow_sol.free_energy(), abs=1e-10)
    assert sol.free_energy(per_row=False) == pytest.approx(slow_sol.free_energy(per_row=False), abs=1e-9)
    assert sol.particle_number() == pytest.approx(slow_sol.particle_number(), abs=1e-10)
    assert free_energy_bloch(lat, T) == pytest.approx(sol.free_energy(), abs=1e-12)


@pytest.mark.parametrize("basis", ["orbital", "spin"])
def test_fast_paths_agree_with_plain_path(basis):
    """k -> -k symmetry and the real gauge change nothing (coplanar m: real gauge is taken)."""
    lat = trilayer(basis, 6, 9, 0.4, (0, -1.0, 0), (0, 0.6, 0.8), interface="metal", w=0.3)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    ref = solve_bloch(lat, 0.03, pairs, use_symmetry=False, use_real_gauge=False)
    for opts in (dict(), dict(use_real_gauge=False), dict(use_symmetry=False), dict(chunk_bytes=1)):
        sol = solve_bloch(lat, 0.03, pairs, **opts)
        for p in pairs:
            np.testing.assert_allclose(sol.bands[p], ref.bands[p], atol=1e-12)
        assert sol.free_energy() == pytest.approx(ref.free_energy(), abs=1e-12)
    assert solve_bloch(lat, 0.03, pairs).real_gauge


def test_real_gauge_detection():
    """Coplanar (yz-plane) orbital magnetizations admit a real gauge; generic ones do not."""
    lat = trilayer("orbital", 4, 3, 0.5, (0, 1.0, 0), (0, 0.6, 0.8))
    phi = real_gauge(lat)
    assert phi is not None
    h = bloch_hamiltonians(lat, k_points(3, False)[0])
    D = np.tile(np.exp(1j * phi), 4)
    rotated = D.conj()[None, :, None] * h * D[None, None, :]
    assert np.abs(rotated.imag).max() < 1e-14
    assert real_gauge(trilayer("orbital", 4, 3, 0.5, (0.6, 0.0, 0.8), (0.0, 0.6, 0.8))) is None


def test_bloch_blocks_reassemble_dense_hamiltonian():
    """Fourier transforming the dense h over rows gives the Bloch blocks h(k)."""
    lat = random_lattice(np.random.default_rng(3), "user", 3, 4, "fm")
    N, Ny, d = lat.N_x, lat.N_y, lat.dim
    h = dense_hamiltonian(lat).reshape(N, Ny, d, N, Ny, d)
    k, _ = k_points(Ny, False)
    phase = np.exp(1j * np.outer(k, np.arange(Ny))) / np.sqrt(Ny)  # c_{x,y} = sum_k e^{iky} c_k / sqrt(N_y)
    hk = np.einsum("ky,xyiXYj,kY->kxiXj", phase.conj(), h, phase).reshape(Ny, N * d, N * d)
    np.testing.assert_allclose(hk, bloch_hamiltonians(lat, k), atol=1e-13)


def test_k_points_weights():
    for Ny in (1, 2, 7, 8):
        for sym in (True, False):
            k, w = k_points(Ny, sym)
            assert w.sum() == Ny
            assert np.all(k <= 2 * np.pi * (Ny - 1) / Ny + 1e-15)
    k, w = k_points(8, True)
    assert np.allclose(k, np.pi * np.arange(5) / 4) and list(w) == [1, 2, 2, 2, 1]


def test_fermi_and_grand_potential_stable_at_low_T():
    """No overflow warning (warnings are errors) at T = 1e-4 with |E| ~ 10; T = 0 limits."""
    E = np.array([-12.0, -10.0, -1e-3, 0.0, 1e-3, 10.0, 12.0])
    f = fermi(E, 1e-4)
    assert f[0] == 1.0 and f[-1] == 0.0 and f[3] == 0.5
    np.testing.assert_allclose(fermi(E, 0.0), [1, 1, 1, 0.5, 0, 0, 0])
    np.testing.assert_allclose(grand_potential_terms(E, 1e-4), np.minimum(E, 0) - 1e-4 * np.log1p(np.exp(-np.abs(E) / 1e-4)), atol=1e-15)
    np.testing.assert_allclose(grand_potential_terms(E, 0.0), np.minimum(E, 0.0))
    Em = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(grand_potential_terms(Em, 0.5), -0.5 * np.log(1 + np.exp(-Em / 0.5)), rtol=1e-12)
    np.testing.assert_allclose(fermi(Em, 0.5), 1 / (1 + np.exp(Em / 0.5)), rtol=1e-14)
    with pytest.raises(ValueError, match="temperature"):
        fermi(E, -0.1)


def test_zero_temperature_half_filled_level():
    """A level exactly at zero (mu on a flat level) counts half: single site, N_y = 1, t = 0."""
    from lattices import models
    from orbsym.numeric import Column, Lattice

    metal, _ = models("spin")
    lat = Lattice([Column(metal, dict(t=0.0, w=0.0, mu=0.0))], 1)
    sol = solve_bloch(lat, 0.0, [(0, 0)])
    assert sol.particle_number() == pytest.approx(1.0)  # two levels at 0, each half occupied
    np.testing.assert_allclose(Observables(lat, sol.bands).density(None), [1.0])


def test_memory_no_dense_blocks_kept():
    """The bands have size N_x dim^2 per offset, independent of N_y."""
    lat = trilayer("orbital", 5, 64, 0.5, (1, 0, 0), (0, 1, 0))
    sol = solve_bloch(lat, 0.01, lat.offset_pairs(KERNEL_NAMES), chunk_bytes=2**14)
    assert all(b.shape == (5, 3, 3) for b in sol.bands.values())
    ref = solve_bloch(lat, 0.01, lat.offset_pairs(KERNEL_NAMES))
    for p in ref.bands:
        np.testing.assert_allclose(sol.bands[p], ref.bands[p], atol=1e-13)


@pytest.mark.parametrize("bad, msg", [(dict(N_y=0), "N_y"), (dict(interface="both"), "interface")])
def test_lattice_validation(bad, msg):
    from lattices import models
    from orbsym.numeric import Column, Lattice

    metal, _ = models("orbital")
    kw = dict(N_y=3, interface="fm")
    kw.update(bad)
    with pytest.raises(ValueError, match=msg):
        Lattice([Column(metal, dict(t=1, gamma=1, tp=1, mu=0))], **kw)
    with pytest.raises(ValueError, match="missing parameter"):
        Column(metal, dict(t=1, mu=0))


def test_polarizations_constant():
    assert POLARIZATIONS == (None, "x", "y", "z")


def test_worker_processes_give_the_same_solution():
    import warnings

    lat = trilayer("orbital", 5, 12, 0.5, (0.3, 0.5, 0.8), (0.0, 1.0, 0.2))
    pairs = lat.offset_pairs(KERNEL_NAMES)
    one = solve_bloch(lat, 0.02, pairs)
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork() if BLAS started threads
        warnings.simplefilter("ignore", DeprecationWarning)
        two = solve_bloch(lat, 0.02, pairs, workers=2)
    np.testing.assert_allclose(two.energies, one.energies, atol=1e-13)
    for p in pairs:
        np.testing.assert_allclose(two.bands[p], one.bands[p], atol=1e-13)
    with pytest.raises(ValueError, match="workers"):
        solve_bloch(lat, 0.02, workers=0)


@pytest.mark.parametrize("interface", ["fm", "metal"])
def test_interface_bond_owner_and_hopping(interface):
    """FM-metal x-bonds use the FM hopping (-t 1) for 'fm' and the metal's t_x for 'metal'."""
    lat = trilayer("orbital", 4, 2, 0.3, (1.0, 0, 0), (0, 1.0, 0), interface=interface)
    assert lat.columns[0].magnetic and not lat.columns[1].magnetic
    fm_owned = [0, 1, 3] if interface == "fm" else [1, 1, 2]
    assert lat.x_owner.tolist() == fm_owned
    metal_tx = np.diag([-0.3, -1.0, -1.0])
    expect_edge = -np.eye(3) if interface == "fm" else metal_tx
    np.testing.assert_allclose(lat.hop_x[0], expect_edge)
    np.testing.assert_allclose(lat.hop_x[2], expect_edge)
    np.testing.assert_allclose(lat.hop_x[1], metal_tx)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), basis=st.sampled_from(["orbital", "spin"]), N_x=st.integers(8, 14), N_y=st.integers(3, 9))
def test_banded_eigenvalue_path_equals_dense(seed, basis, N_x, N_y):
    """The band solver used for eigenvalues-only solves gives the dense spectrum of every h(k)."""
    from orbsym.numeric.bloch import _banded_eigenvalues, _gauged_pieces, _lower_bandwidth

    lat = random_lattice(np.random.default_rng(seed), basis, N_x, N_y, "fm")
    k, _ = k_points(N_y, symmetric=False)
    H0, C, S = _gauged_pieces(lat, None)
    u = _lower_bandwidth(H0, C, S)
    assert 4 * u < H0.shape[0]  # the banded path is the one taken at these sizes
    dense = np.linalg.eigvalsh(bloch_hamiltonians(lat, k))
    np.testing.assert_allclose(_banded_eigenvalues(H0, C, S, k, u), dense, rtol=0, atol=1e-11)
