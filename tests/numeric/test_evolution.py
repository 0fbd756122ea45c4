"""Real-time core (orbsym.numeric.evolution): bands, exact rate identity, propagators and their order.

Every check is against an independent path: ``solve_bloch`` bands, dense ``scipy.linalg.expm``,
the Liouvillian of Eq. (1) exponentiated as one matrix, and a fine-step reference trajectory.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import random_lattice, trilayer

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Observables, solve_bloch
from orbsym.numeric import evolution as ev


def _ops(lat):
    return np.concatenate([np.eye(lat.dim)[None], lat.generators])


def _random_rho(rng, nk, n):
    X = rng.normal(size=(nk, n, n)) + 1j * rng.normal(size=(nk, n, n))
    R = X @ X.conj().transpose(0, 2, 1)
    return R / np.trace(R, axis1=1, axis2=2).real[:, None, None] * n / 2


@pytest.mark.parametrize("basis", ["orbital", "spin"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_thermal_bands_match_solve_bloch(basis, symmetric):
    lat = trilayer(basis, 5, 9, 0.4, (0.3, 0.5, 0.8), (0.0, 1.0, 0.2), w=0.3 if basis == "spin" else 0.0)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    sol = solve_bloch(lat, 0.07, pairs)
    k, w = ev.momentum_grid(lat.N_y, symmetric)
    rho = ev.thermal_state(lat, 0.07, k)
    bands = ev.correlation_bands(rho, k, w, lat.N_y, lat.N_x, lat.dim, pairs, symmetric=symmetric)
    for p in pairs:
        np.testing.assert_allclose(bands[p], sol.bands[p], atol=1e-13, err_msg=f"band {p}")
    dens = ev.onsite_expectations(rho, _ops(lat), w, lat.N_y, lat.N_x)
    obs = Observables(lat, bands)
    for j, pol in enumerate(POLARIZATIONS):
        np.testing.assert_allclose(dens[j], obs.density(pol), atol=1e-13)
    assert abs(dens[0].sum() - sol.particle_number()) < 1e-12


@settings(max_examples=12)
@given(seed=st.integers(0, 2**31), basis=st.sampled_from(["orbital", "spin", "user"]), interface=st.sampled_from(["fm", "metal"]), A=st.floats(-3.0, 3.0))
def test_rate_identity_random_states(seed, basis, interface, A):
    """Tr(rho i[h(k+A), J_n]) from the matrices == kernel EOM == -div j + tau, to 1e-12, on random
    non-equilibrium states and with a vector potential (kinetic bands)."""
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, int(rng.integers(2, 6)), int(rng.integers(2, 9)), interface)
    k, w = ev.momentum_grid(lat.N_y, False)
    rho = _random_rho(rng, k.size, lat.N_x * lat.dim)
    h = ev.hamiltonians(lat, k, A)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    obs = Observables(lat, ev.correlation_bands(rho, k, w, lat.N_y, lat.N_x, lat.dim, pairs, A=A))
    rates = ev.onsite_rates(rho, h, _ops(lat), w, lat.N_y, lat.N_x)
    # slow, fully independent: dense commutator per k
    for j, pol in enumerate(POLARIZATIONS):
        Jx = [np.kron(np.diag(np.eye(lat.N_x)[x]), _ops(lat)[j]) for x in range(lat.N_x)]
        slow = [sum(wk * np.trace(r @ (1j * (hk @ J - J @ hk))).real for wk, r, hk in zip(w, rho, h)) / lat.N_y for J in Jx]
        np.testing.assert_allclose(rates[j], slow, atol=1e-12)
        np.testing.assert_allclose(obs.time_derivative(pol), rates[j], atol=1e-12, err_msg=f"EOM kernels vs matrices, {pol}")
        for kind in ("bond", "forward"):
            dec = -obs.divergence(pol, kind) + obs.torques(pol, kind)["total"]
            np.testing.assert_allclose(dec, rates[j], atol=1e-12, err_msg=f"decomposition {kind}, {pol}")


def test_vector_potential_shifts_k():
    """With A = 2 pi m / N_y the kinetic bands equal the A = 0 ones (the grid is relabelled)."""
    lat = trilayer("orbital", 4, 6, 0.3, (1.0, 0, 0), (0, 0.5, 0.5))
    k, w = ev.momentum_grid(6, False)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    b0 = ev.correlation_bands(ev.thermal_state(lat, 0.1, k), k, w, 6, 4, 3, pairs)
    A = 2 * np.pi / 6
    bA = ev.correlation_bands(ev.thermal_state(lat, 0.1, k, A), k, w, 6, 4, 3, pairs, A=A)
    for p in pairs:
        np.testing.assert_allclose(bA[p], b0[p], atol=1e-13)


def _drive(lat, k, omega=1.3, amp=0.7):
    """Smooth test drive: h(t) = h0 + sin(omega t) V + cos(0.6 t) W (on-site Hermitian V, W)."""
    rng = np.random.default_rng(5)
    h0 = ev.hamiltonians(lat, k)
    n = h0.shape[1]
    V = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    V = amp * (V + V.conj().T) / np.sqrt(n)
    W = np.diag(rng.normal(size=n))
    return lambda t: h0 + np.sin(omega * t) * V + np.cos(0.6 * t) * W


@pytest.mark.parametrize("method,order", [("exact", 2), ("magnus4", 4)])
def test_propagator_order(method, order):
    lat = trilayer("spin", 3, 4, 0.0, (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))
    k, w = ev.momentum_grid(4, False)
    hf = _drive(lat, k)
    rho0 = ev.thermal_state(lat, 0.2, k)
    t1 = 2.0
    ref = ev.propagate(rho0, hf, 0.0, t1, 400, "magnus4")
    errs = [np.abs(ev.propagate(rho0, hf, 0.0, t1, m, method) - ref).max() for m in (10, 20, 40)]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - order) < 0.3), (errs, rates)


def test_exact_step_for_constant_h_and_unitarity():
    rng = np.random.default_rng(2)
    lat = random_lattice(rng, "user", 3, 3, "fm")
    k, w = ev.momentum_grid(3, False)
    h = ev.hamiltonians(lat, k)
    rho = _random_rho(rng, k.size, h.shape[1])
    for method in ev.METHODS:
        out = ev.propagate(rho, lambda t: h, 0.0, 3.7, 1, method)
        U = np.array([scipy.linalg.expm(-1j * 3.7 * hk) for hk in h])
        np.testing.assert_allclose(out, U @ rho @ U.conj().transpose(0, 2, 1), atol=1e-12)
        # unitarity: spectrum and trace of every block unchanged
        np.testing.assert_allclose(np.linalg.eigvalsh(out), np.linalg.eigvalsh(rho), atol=1e-11)


def test_relaxation_step_solves_equation_one_exactly():
    """Frozen h: rho(t) from the step == exp(L t) applied to vec(rho) with the Liouvillian of Eq. (1)."""
    rng = np.random.default_rng(3)
    lat = trilayer("spin", 2, 1, 0.0, (0.2, 0.0, 1.0), (1.0, 0.3, 0.0))
    k, w = ev.momentum_grid(1, False)
    h = ev.hamiltonians(lat, k)
    T, tau, t = 0.3, 0.8, 1.9
    rho = _random_rho(rng, 1, h.shape[1])
    out = ev.step(rho, lambda s: h, 0.0, t, "exact", T, tau)[0]
    n = h.shape[1]
    eq = ev.equilibrium_state(h, T)[0]
    I = np.eye(n)
    Lv = -1j * (np.kron(h[0], I) - np.kron(I, h[0].T)) - np.eye(n * n) / tau  # row-major vec
    # d vec/dt = Lv vec + vec(eq)/tau  -> augmented linear system
    M = np.zeros((n * n + 1, n * n + 1), complex)
    M[: n * n, : n * n] = Lv
    M[: n * n, -1] = eq.reshape(-1) / tau
    v = scipy.linalg.expm(M * t) @ np.concatenate([rho[0].reshape(-1), [1.0]])
    np.testing.assert_allclose(out, v[:-1].reshape(n, n), atol=1e-12)
    # long times: the equilibrium f(h)
    far = ev.step(rho, lambda s: h, 0.0, 60 * tau, "exact", T, tau)[0]
    np.testing.assert_allclose(far, eq, atol=1e-12)


def test_symmetric_grid_is_exact_for_hermitian_ty():
    """Half grid (0..pi) and full grid give the same bands after a k-independent drive."""
    lat = trilayer("orbital", 4, 8, 0.5, (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))
    assert lat.y_hermitian
    pairs = lat.offset_pairs(KERNEL_NAMES)
    res = []
    for sym in (True, False):
        k, w = ev.momentum_grid(8, sym)
        hf = _drive(lat, k)
        rho = ev.propagate(ev.thermal_state(lat, 0.1, k), hf, 0.0, 1.5, 8, "magnus4")
        res.append(ev.correlation_bands(rho, k, w, 8, 4, 3, pairs, symmetric=sym))
    for p in pairs:
        np.testing.assert_allclose(res[0][p], res[1][p], atol=1e-13)


def test_bad_inputs():
    lat = trilayer("spin", 3, 4, 0.0, (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))
    k, w = ev.momentum_grid(4, False)
    rho = ev.thermal_state(lat, 0.1, k)
    with pytest.raises(ValueError, match="unknown propagator 'rk4'.*exact, magnus4"):
        ev.step(rho, lambda t: ev.hamiltonians(lat, k), 0.0, 0.1, "rk4")
    with pytest.raises(ValueError, match="magnus4' does not support relaxation"):
        ev.step(rho, lambda t: ev.hamiltonians(lat, k), 0.0, 0.1, "magnus4", 0.1, 1.0)
    with pytest.raises(ValueError, match="symmetric k grid"):
        ev.correlation_bands(rho, k, w, 4, 3, 2, [(0, 0)], A=0.1, symmetric=True)


def _factored(rng, nk, n, m):
    """Random orbitals psi (nk, n, m), real occupations f (nk, m) of either sign and identity parts c (nk,)."""
    psi = rng.normal(size=(nk, n, m)) + 1j * rng.normal(size=(nk, n, m))
    return psi, rng.normal(size=(nk, m)), rng.normal(size=nk) * (rng.random(nk) < 0.5)


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["orbital", "spin", "user", "nnn"]),
    grid=st.sampled_from(["symmetric", "full", "full+A"]),
    interface=st.sampled_from(["fm", "metal"]),
)
def test_factored_bands_rates_energy_equal_the_full_matrices(seed, kind, grid, interface):
    """The records of the precession fast path, from the orbitals alone (factored_bands, then exact
    rates, energy, densities and particle number from the bands and the real-space h), equal
    correlation_bands / onsite_rates / energy / onsite_expectations of the full rho_k = c_k 1 +
    psi_k f_k psi_k^dag to 1e-12 -- with diagonal (2, 0) and (1, +-1) bonds (kind 'nnn'), a vector
    potential, and either grid."""
    from nnn_kernels import random_nnn_lattice

    rng = np.random.default_rng(seed)
    N_x, N_y = int(rng.integers(1, 6)), int(rng.integers(1, 8))
    lat = random_nnn_lattice(rng, "user", N_x, N_y, interface) if kind == "nnn" else random_lattice(rng, kind, N_x, N_y, interface)
    symmetric = grid == "symmetric"
    A = 0.7 if grid == "full+A" else 0.0
    k, w = ev.momentum_grid(lat.N_y, symmetric)
    N, d = lat.N_x, lat.dim
    n, m = N * d, int(rng.integers(1, 5))
    psi, f, c = _factored(rng, k.size, n, m)
    rho = np.einsum("kam,km,kbm->kab", psi, f, psi.conj()) + c[:, None, None] * np.eye(n)
    pairs = sorted(set(lat.offset_pairs(KERNEL_NAMES)) | {(a, b) for a in range(-lat.max_dx, lat.max_dx + 1) for b in (-1, 0, 1)})
    D = max(abs(a) for a, _ in pairs)
    X = np.zeros((n + D * d, k.size * m), complex)
    X[:n] = psi.transpose(1, 0, 2).reshape(n, -1)
    bands = ev.factored_bands(
        X,
        lambda dy: (ev.band_phases(k, w, lat.N_y, dy, A, symmetric)[:, None] * f).reshape(-1),
        lambda dy: complex(np.sum(ev.band_phases(k, w, lat.N_y, dy, A, symmetric) * c)),
        N,
        d,
        pairs,
        symmetric,
    )
    ref = ev.correlation_bands(rho, k, w, lat.N_y, N, d, pairs, A, symmetric)
    for p in pairs:
        np.testing.assert_allclose(bands[p], ref[p], atol=1e-12, err_msg=f"band {p}")
    ops = _ops(lat)
    h = ev.hamiltonians(lat, k, A)
    pieces = ev.hamiltonian_pieces(lat)
    if not symmetric or lat.y_hermitian:  # the 0..pi grid stands for the full one only where h(-k) = h(k)
        np.testing.assert_allclose(ev.rates_from_bands(bands, pieces, ops, N, d, lat.max_dx), ev.onsite_rates(rho, h, ops, w, lat.N_y, N), atol=1e-12)
        block = ev.density_hamiltonian_blocks(bands, pieces, N, d, lat.max_dx)
        assert float(np.trace(block, axis1=1, axis2=2).sum().real) == pytest.approx(ev.energy(rho, h, w, lat.N_y), abs=1e-11)
    np.testing.assert_allclose(ev.onsite_from_bands(bands, ops), ev.onsite_expectations(rho, ops, w, lat.N_y, N), atol=1e-12)


def test_rates_from_bands_fail_without_a_hopping_block():
    """The band-based rate can fail: dropping the C piece (the y-bonds) changes it (so the equality above
    tests the y-bond terms), and a missing band is named."""
    rng = np.random.default_rng(4)
    lat = random_lattice(rng, "orbital", 4, 6, "fm")
    k, w = ev.momentum_grid(lat.N_y, False)
    rho = _random_rho(rng, k.size, lat.N_x * lat.dim)
    pairs = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)]
    bands = ev.correlation_bands(rho, k, w, lat.N_y, lat.N_x, lat.dim, pairs)
    H0, C, S = ev.hamiltonian_pieces(lat)
    good = ev.rates_from_bands(bands, (H0, C, S), _ops(lat), lat.N_x, lat.dim, 1)
    assert np.abs(good - ev.rates_from_bands(bands, (H0, None, S), _ops(lat), lat.N_x, lat.dim, 1)).max() > 1e-3
    del bands[0, 1]
    with pytest.raises(ValueError, match=r"\(dx, dy\) = \(0, 1\)"):
        ev.rates_from_bands(bands, (H0, C, S), _ops(lat), lat.N_x, lat.dim, 1)
    X = np.zeros((5 * lat.dim, 4), complex)
    with pytest.raises(ValueError, match="reach beyond band = 0"):
        ev.factored_bands(X, lambda dy: np.ones(4), lambda dy: 0.0, 4, lat.dim, [(0, 0), (1, 0)], band=0)
