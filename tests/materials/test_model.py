"""TightBinding: H(k), the two phase conventions, velocities, construction checks, the kernel bridge."""

import numpy as np
import pytest

from orbsym.materials.model import Atom, TightBinding

RNG = np.random.default_rng(7)


def random_model(n_atoms=2, n_orb=2, n_R=3, spinful=False, seed=0):
    rng = np.random.default_rng(seed)
    cell = np.eye(3) + 0.3 * rng.standard_normal((3, 3))
    atoms = [Atom(f"X{a}", rng.standard_normal(3), tuple(f"o{i}" for i in range(n_orb))) for a in range(n_atoms)]
    n = n_atoms * n_orb * (2 if spinful else 1)
    onsite = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    onsite = onsite + onsite.conj().T
    bonds = {}
    for _ in range(n_R):
        R = tuple(int(v) for v in rng.integers(-2, 3, 3))
        bonds[R] = bonds.get(R, 0) + rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    return TightBinding.from_bonds(cell, atoms, onsite, bonds, spinful=spinful)


def slow_hk(model, k, convention):
    """H(k) summed entry by entry (independent of the vectorized path)."""
    H = np.zeros((model.n, model.n), complex)
    for R, M in zip(model.R, model.H):
        Rc = R @ model.cell
        for i in range(model.n):
            for j in range(model.n):
                d = Rc + (model.positions[j] - model.positions[i] if convention == "I" else 0)
                H[i, j] += np.exp(1j * k @ d) * M[i, j]
    return H


@pytest.mark.parametrize("convention", ["I", "II"])
def test_hamiltonian_equals_entrywise_sum(convention):
    m = random_model(seed=1)
    k = RNG.standard_normal(3)
    assert np.allclose(m.hamiltonian(k, convention), slow_hk(m, k, convention), atol=1e-12)


def test_hermitian_and_conventions_share_the_spectrum():
    m = random_model(seed=2)
    k = RNG.standard_normal((5, 3))
    H2, H1 = m.hamiltonian(k), m.hamiltonian(k, "I")
    assert np.allclose(H2, H2.conj().swapaxes(-1, -2), atol=1e-12)
    assert np.allclose(np.linalg.eigvalsh(H1), np.linalg.eigvalsh(H2), atol=1e-12)


def test_periodic_in_reciprocal_vectors_in_convention_II_only():
    m = random_model(seed=3)
    k = RNG.standard_normal(3)
    b = m.reciprocal[1]
    assert np.allclose(m.hamiltonian(k + b), m.hamiltonian(k), atol=1e-11)
    # convention I is periodic only up to the gauge U(b) = diag(e^{i b.tau}) (centres not at lattice points)
    assert not np.allclose(m.hamiltonian(k + b, "I"), m.hamiltonian(k, "I"), atol=1e-6)


@pytest.mark.parametrize("positions", [True, False])
def test_velocity_against_finite_differences(positions):
    m = random_model(seed=4)
    k = RNG.standard_normal(3)
    h = 1e-5
    v = m.velocity(k, positions=positions)
    conv = "I" if positions else "II"
    u = np.exp(1j * m.positions @ k)  # positions: v = U (dH^I/dk) U^dagger in the gauge of H(k)
    for a in range(3):
        e = np.zeros(3)
        e[a] = h
        fd = (m.hamiltonian(k + e, conv) - m.hamiltonian(k - e, conv)) / (2 * h)
        if positions:
            fd = u[:, None] * fd * u.conj()[None, :]
        assert np.allclose(v[a], fd, atol=1e-8)


def test_velocity_is_i_commutator_with_position_in_real_space():
    """v = i[H, r] on a finite periodic supercell (an independent real-space route)."""
    m = random_model(n_atoms=2, n_orb=1, n_R=2, seed=5)
    N = 7
    frac = np.array([[1, 2, 3]]) / N
    k = m.k_cartesian(frac)[0]
    v = m.velocity(k)
    # Bloch state of orbital j: sum_R e^{ik.(R)} |R, j>, on a large open cluster the matrix element
    # <k i| i[H, r] |k j> per cell = sum_R e^{ik.R} i H(R)_ij (R + tau_j - tau_i)
    ref = sum(np.exp(1j * k @ (R @ m.cell)) * 1j * M * ((R @ m.cell)[None, None, :] + m.positions[None, :, :] - m.positions[:, None, :]).transpose(2, 0, 1) for R, M in zip(m.R, m.H))
    assert np.allclose(v, ref, atol=1e-12)


def test_kernel_bridge_matches_the_bulk_hamiltonian_of_orbsym():
    from orbsym.numeric.kubo import bulk_hamiltonian
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.models import multiorbital_metal

    ks = kernels(multiorbital_metal())
    vals = {p: 0.37 + 0.1 * i for i, p in enumerate(ks.parameters)}
    m = TightBinding.from_kernels(ks, vals)
    assert m.periodic == 2 and m.length_unit == "a" and m.energy_unit == "t"
    kx, ky = RNG.uniform(-np.pi, np.pi, (2, 6))
    onsite = ks.onsite_matrix(vals)
    hops = {tuple(d): ks.hopping_matrix(d, vals) for d in ks.bonds}
    h, vx, vy = bulk_hamiltonian(onsite, hops, kx, ky)
    k = np.stack([kx, ky, np.zeros(6)], -1)
    assert np.allclose(m.hamiltonian(k), h, atol=1e-12)
    v = m.velocity(k)
    assert np.allclose(v[0], vx, atol=1e-12) and np.allclose(v[1], vy, atol=1e-12)
    assert np.allclose(m.angular_momentum("model"), ks.generators)


def test_kernel_bridge_refuses_a_missing_parameter():
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.models import multiorbital_metal

    ks = kernels(multiorbital_metal())
    vals = {p: 1.0 for p in ks.parameters[1:]}
    with pytest.raises((ValueError, KeyError), match=ks.parameters[0]):
        TightBinding.from_kernels(ks, vals)


def test_refusals_name_the_bad_value():
    cell, atoms = np.eye(3), [Atom("A", (0, 0, 0), ("s",))]
    with pytest.raises(ValueError, match=r"-R = \(-1, 0, 0\)"):
        TightBinding(cell, atoms, {(0, 0, 0): [[0]], (1, 0, 0): [[1]]})
    with pytest.raises(ValueError, match=r"R = \(1, 0, 0\).*mismatch 0\.5"):
        TightBinding(cell, atoms, {(0, 0, 0): [[0]], (1, 0, 0): [[1]], (-1, 0, 0): [[1.5]]})
    with pytest.raises(ValueError, match="shape"):
        TightBinding(cell, atoms, {(0, 0, 0): np.zeros((2, 2))})
    with pytest.raises(ValueError, match="R = \\(0, 0, 0\\)"):
        TightBinding(cell, atoms, {(1, 0, 0): [[1]], (-1, 0, 0): [[1]]})
    with pytest.raises(ValueError, match="linearly independent"):
        TightBinding(np.zeros((3, 3)), atoms, {(0, 0, 0): [[0]]})
    with pytest.raises(ValueError, match="spin_order"):
        TightBinding(cell, atoms, {(0, 0, 0): np.zeros((2, 2))}, spinful=True, spin_order="up-down")
    with pytest.raises(ValueError, match="2D crystal"):
        TightBinding(cell, atoms, {(0, 0, 0): [[0]], (0, 0, 1): [[1]], (0, 0, -1): [[1]]}, periodic=2)
    with pytest.raises(ValueError, match="position"):
        Atom("A", (0, 0), ("s",))


def test_spinful_basis_orders():
    atoms = [Atom("A", (0, 0, 0), ("px", "py")), Atom("B", (0.5, 0.5, 0.5), ("s",))]
    H0 = np.zeros((6, 6))
    inter = TightBinding(np.eye(3), atoms, {(0, 0, 0): H0}, spinful=True)
    block = TightBinding(np.eye(3), atoms, {(0, 0, 0): H0}, spinful=True, spin_order="block")
    assert [(o.atom, o.label, o.spin) for o in inter.basis[:3]] == [(0, "px", 1), (0, "px", -1), (0, "py", 1)]
    assert [(o.atom, o.label, o.spin) for o in block.basis[:4]] == [(0, "px", 1), (0, "py", 1), (1, "s", 1), (0, "px", -1)]
    for m in (inter, block):
        S = m.angular_momentum("S")
        comm = S[0] @ S[1] - S[1] @ S[0]
        assert np.allclose(comm, 1j * S[2], atol=1e-14)
        assert np.allclose(sum(s @ s for s in S), 0.75 * np.eye(6))


def test_neighbour_shells_of_a_simple_cubic_s_band():
    atoms = [Atom("A", (0, 0, 0), ("s",))]
    bonds = {(1, 0, 0): [[-1]], (0, 1, 0): [[-1]], (0, 0, 1): [[-1]], (1, 1, 0): [[-0.1]]}
    m = TightBinding.from_bonds(2.5 * np.eye(3), atoms, [[0]], bonds)
    shells = m.neighbour_shells()
    assert shells == [(2.5, 6), (round(2.5 * np.sqrt(2), 6), 2)]
    lo, hi = m.band_range(N_k=8)
    assert lo == pytest.approx(-6.2, abs=1e-9) and hi <= 6.2


def test_fermi_level_of_a_simple_cubic_s_band():
    atoms = [Atom("A", (0, 0, 0), ("s",))]
    m = TightBinding.from_bonds(np.eye(3), atoms, [[0.3]], {(1, 0, 0): [[-1]], (0, 1, 0): [[-1]], (0, 0, 1): [[-1]]})
    # half filling of a bipartite band: E_F = the on-site energy (particle-hole symmetry)
    assert m.fermi_level(0.5, N_k=12, T=0.05) == pytest.approx(0.3, abs=1e-9)
    # and the count at the result equals the request at another filling
    mu = m.fermi_level(0.2, N_k=12, T=0.1)
    frac = np.stack(np.meshgrid(*[np.arange(12) / 12] * 3, indexing="ij"), -1).reshape(-1, 3)
    E = m.bands(m.k_cartesian(frac))
    assert np.mean(1 / (1 + np.exp((E - mu) / 0.1))) == pytest.approx(0.2, abs=1e-9)
    with pytest.raises(ValueError, match="below the 1 states"):
        m.fermi_level(1.0)


# ---------------------------------------------------------------- atom-centred L, spin, SOC, exchange
def spd_atom_model(spinful=False):
    atoms = [Atom("Ti", (0, 0, 0), ("s", "pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy")), Atom("O", (0.5, 0.5, 0.0), ("dxz", "dyz", "dxy"))]
    n = 12 * (2 if spinful else 1)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((n, n))
    return TightBinding.from_bonds(np.eye(3) * 3.0, atoms, A + A.T, {(1, 0, 0): rng.standard_normal((n, n))}, spinful=spinful)


def test_atom_centred_L_blocks_follow_the_shells():
    from orbsym.materials.shells import orbital_L, shell_L

    m = spd_atom_model()
    L = m.angular_momentum("L")
    np.testing.assert_allclose(L[:, 1:4, 1:4], shell_L(1), atol=1e-14)
    np.testing.assert_allclose(L[:, 4:9, 4:9], shell_L(2), atol=1e-14)
    np.testing.assert_allclose(L[:, 9:, 9:], orbital_L(("dxz", "dyz", "dxy")), atol=1e-14)
    assert np.abs(L[:, 0]).max() == 0 and np.abs(L[:, :9, 9:]).max() == 0  # s carries none; atoms do not mix
    # the algebra on the complete shells of atom 0: [L_x, L_y] = i L_z there
    Ti = slice(0, 9)
    comm = L[0, Ti, Ti] @ L[1, Ti, Ti] - L[1, Ti, Ti] @ L[0, Ti, Ti]
    np.testing.assert_allclose(comm, 1j * L[2, Ti, Ti], atol=1e-13)


@pytest.mark.parametrize("order", ["interleaved", "block"])
def test_with_spin_soc_and_exchange(order):
    m0 = spd_atom_model()
    m = m0.with_spin(order)
    k = RNG.standard_normal((3, 3))
    np.testing.assert_allclose(np.repeat(m0.bands(k), 2, axis=-1), m.bands(k), atol=1e-12)  # Kramers-degenerate copy
    soc = m.with_soc({"Ti": {"p": 0.2, "d": 0.1}})
    Jt = soc.angular_momentum("J")
    Ti = soc.atom_indices(0)
    H0 = soc.H[np.flatnonzero(np.all(soc.R == 0, axis=1))[0]] - m.H[np.flatnonzero(np.all(m.R == 0, axis=1))[0]]
    # the added term is lam L.S on Ti's p and d shells: it commutes with J there and has the j splittings
    blk = H0[np.ix_(Ti, Ti)]
    for a in range(3):
        np.testing.assert_allclose(blk @ Jt[a][np.ix_(Ti, Ti)] - Jt[a][np.ix_(Ti, Ti)] @ blk, 0, atol=1e-12)
    ev = np.sort(np.linalg.eigvalsh(blk))
    expect = np.sort(np.r_[[0.0] * 2, [0.1] * 4, [-0.2] * 2, [0.1] * 6, [-0.15] * 4])
    np.testing.assert_allclose(ev, expect, atol=1e-12)
    assert np.abs(H0[np.ix_(soc.atom_indices(1), soc.atom_indices(1))]).max() == 0  # O untouched
    ex = m.with_exchange(0.8, (1, 0, 0), atoms="O")
    dH = ex.H[np.flatnonzero(np.all(ex.R == 0, axis=1))[0]] - m.H[np.flatnonzero(np.all(m.R == 0, axis=1))[0]]
    O = ex.atom_indices(1)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(dH[np.ix_(O, O)])), [-0.4] * 3 + [0.4] * 3, atol=1e-12)
    with pytest.raises(ValueError, match="spinful"):
        m0.with_soc(0.1)
    with pytest.raises(ValueError, match="no atom named 'Fe'"):
        m.with_soc({"Fe": 0.1})
