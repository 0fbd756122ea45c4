"""Kubo response to E_y (orbsym.numeric.kubo) against independent slow paths.

Slow paths (tests/kubo_helpers.py): the dense real-space Hamiltonian with a Peierls vector
potential A (no Bloch decomposition), d f(H(A))/dA from the dense eigenbasis (checked against a
5-point finite difference), and the steady state from a Sylvester solve of
-i[h, delta] - eta delta = -df/dA (no eigenvectors, so degenerate subspaces need no care).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubo_helpers import dfermi_exact, dfermi_fd, eigen_parts, peierls_hamiltonian, sylvester_response
from lattices import random_lattice, trilayer
from nnn_kernels import nnn_orbital, random_nnn_lattice
from numeric_kernels import nm_orbital

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Column, Lattice, Observables
from orbsym.numeric.kubo import bulk_hall, bulk_hamiltonian, solve_kubo
from orbsym.numeric.realspace import RealSpaceObservables
from lattices import all_kernel_values as kernel_values


def make_lattice(rng, kind, N_x, N_y, interface):
    if kind in ("nnn", "user-nnn"):
        return random_nnn_lattice(rng, "nnn" if kind == "nnn" else "user", N_x, N_y, interface)
    return random_lattice(rng, kind, N_x, N_y, interface)


def compare(lat, bands, G, atol):
    fast = kernel_values(lat, Observables(lat, bands))
    slow = kernel_values(lat, RealSpaceObservables(lat, G))
    assert fast.keys() == slow.keys()
    for key in fast:
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=atol, err_msg=str(key))
    return fast


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["orbital", "spin", "user", "nnn", "user-nnn"]),
    N_x=st.integers(1, 4),
    N_y=st.integers(3, 5),
    T=st.sampled_from([0.1, 0.4]),
    eta=st.sampled_from([0.02, 0.3]),
    interface=st.sampled_from(["fm", "metal"]),
)
def test_kubo_matches_real_space_sylvester(seed, kind, N_x, N_y, T, eta, interface):
    """Every kernel's response (total and both parts) == dense real space with a Peierls A to 1e-10."""
    lat = make_lattice(np.random.default_rng(seed), kind, N_x, N_y, interface)
    sol = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES))
    h, dF = dfermi_exact(lat, T)
    delta = sylvester_response(h, -dF, eta)  # source d f/dk = -d f/dA (k - A)
    fast = compare(lat, sol.bands["total"], delta.T, 1e-10)
    assert max(np.abs(v).max(initial=0.0) for v in fast.values()) > 1e-3  # a nonzero response was compared
    surf, sea = eigen_parts(h, -peierls_hamiltonian(lat, 0.0, derivative=True), T, eta)
    compare(lat, sol.bands["fermi_surface"], surf.T, 1e-10)
    compare(lat, sol.bands["fermi_sea"], sea.T, 1e-10)
    compare(lat, sol.bands["drive"], -dF.T, 1e-10)


def test_fermi_derivative_against_finite_difference():
    """The exact d f(H(A))/dA of the slow path itself agrees with a 5-point finite difference."""
    lat = random_nnn_lattice(np.random.default_rng(2), "user", 3, 4, "metal")
    _, dF = dfermi_exact(lat, 0.4)
    np.testing.assert_allclose(dF, dfermi_fd(lat, 0.4), rtol=0, atol=1e-8)
    assert np.abs(dF).max() > 1e-2


def test_degenerate_subspaces():
    """gamma = t = t' makes the three orbitals degenerate at every k, m = 0 FMs too: the density-matrix
    formula still equals the eigenvector-free Sylvester solve."""
    ks = nm_orbital()
    from numeric_kernels import fm

    f = fm()
    cols = [Column(f, dict(t=1.0, mu=-0.3, m_x=0.0, m_y=0.0, m_z=0.0))]
    cols += [Column(ks, dict(t=1.0, gamma=1.0, tp=1.0, mu=-0.3)) for _ in range(2)]
    lat = Lattice(cols, 4)
    sol = solve_kubo(lat, 0.2, 0.1, lat.offset_pairs(KERNEL_NAMES))
    E = np.linalg.eigvalsh(peierls_hamiltonian(lat, 0.0))
    assert np.sum(np.abs(np.diff(E)) < 1e-10) > 10  # heavily degenerate
    h, dF = dfermi_exact(lat, 0.2)
    compare(lat, sol.bands["total"], sylvester_response(h, -dF, 0.1).T, 1e-10)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["orbital", "user", "nnn", "user-nnn"]), N_x=st.integers(2, 6), N_y=st.integers(3, 12))
def test_driven_continuity_balance(seed, kind, N_x, N_y):
    """-div j + tau = eta <J> + D per column and polarization to 1e-12 (D: the 'drive' bands)."""
    lat = make_lattice(np.random.default_rng(seed), kind, N_x, N_y, "fm")
    eta = 0.07
    sol = solve_kubo(lat, 0.15, eta, lat.offset_pairs(KERNEL_NAMES))
    tot, drv = Observables(lat, sol.bands["total"]), Observables(lat, sol.bands["drive"])
    for p in POLARIZATIONS:
        tq = tot.torques(p)["total"] if p else 0.0
        np.testing.assert_allclose(-tot.divergence(p) + tq, eta * tot.density(p) + drv.density(p), rtol=0, atol=1e-12)
        np.testing.assert_allclose(tot.time_derivative(p), eta * tot.density(p) + drv.density(p), rtol=0, atol=1e-12)
        if p:
            np.testing.assert_allclose(tot.continuity_residual(p, "forward"), 0, atol=1e-12)


def test_drive_term_vanishes_for_large_N_y():
    """D (sum over the N_y momenta of a k-derivative) decays exponentially with N_y T."""
    rng = np.random.default_rng(4)
    sizes = {}
    for N_y in (4, 100):
        lat = random_nnn_lattice(np.random.default_rng(4), "nnn", 4, N_y, "metal")
        sol = solve_kubo(lat, 0.3, 0.05, lat.offset_pairs(["density"]), parts=("drive",))
        obs = Observables(lat, sol.bands["drive"])
        sizes[N_y] = max(np.abs(obs.density(p)).max() for p in POLARIZATIONS)
    assert sizes[4] > 1e-3 and sizes[100] < 1e-12
    del rng


def test_k_even_hamiltonian_has_no_k_even_response():
    """If h(-k) = h(k) (Hermitian t_y, no diagonal bonds: all of the paper's models), delta(-k) = -delta(k),
    so every k-even observable (densities, x currents, torques) has zero response; only y currents respond.
    Diagonal NNN bonds with d_yz-d_xz mixing (t_(1,1) != t_(1,-1)) break it."""
    lat = trilayer("orbital", 5, 40, 0.4, (1.0, 0, 0), (0, 0.6, 0.8))
    assert lat.y_hermitian
    obs = Observables(lat, solve_kubo(lat, 0.1, 0.05, lat.offset_pairs(KERNEL_NAMES)).bands["total"])
    for p in "xyz":
        assert np.abs(obs.density(p)).max() < 1e-13 and np.abs(obs.bond_current(p)).max() < 1e-13
        assert np.abs(obs.torques(p)["total"]).max() < 1e-13
    assert np.abs(obs.bond_current(None, "y")).min() > 1.0  # the driven particle current
    from nnn_kernels import nnn_bilayer

    nnn = nnn_bilayer("metal")
    obs = Observables(nnn, solve_kubo(nnn, 0.1, 0.05, nnn.offset_pairs(KERNEL_NAMES)).bands["total"])
    assert np.abs(obs.density("z")).max() > 1e-3 and np.abs(obs.bond_current("z")).max() > 1e-3


def test_solve_kubo_input_checks():
    lat = trilayer("orbital", 3, 4, 0.4, (1.0, 0, 0), (0, 1.0, 0))
    with pytest.raises(ValueError, match="eta must be > 0"):
        solve_kubo(lat, 0.1, 0.0)
    with pytest.raises(ValueError, match="unknown response part 'sea'"):
        solve_kubo(lat, 0.1, 0.1, parts=("sea",))
    with pytest.raises(ValueError, match="temperature"):
        solve_kubo(lat, -1, 0.1)
    import orbsym.numeric.kubo as kubo

    old, kubo.MAX_BYTES = kubo.MAX_BYTES, 1000
    try:
        with pytest.raises(ValueError, match=r"needs ~.* GiB per k-point .* reduce N_x"):
            solve_kubo(lat, 0.1, 0.1)
    finally:
        kubo.MAX_BYTES = old
    with pytest.raises(ValueError, match="perturbation must have shape"):
        solve_kubo(lat, 0.1, 0.1, perturbation=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="Hermitian"):
        solve_kubo(lat, 0.1, 0.1, perturbation=np.tile(np.triu(np.ones((3, 3))), (3, 1, 1)))


# =============================================================================== bulk
def _bulk(ks, params):
    onsite = ks.onsite_matrix(params)
    hops = {d: ks.hopping_matrix(d, params) for d in ks.bonds}
    return onsite, hops


NNN = dict(t=1.0, gamma=0.5, tp=1.0, mu=0.0, s_1=0.1, s_2=0.1, s_3=0.2)


def test_conventional_current_is_the_bond_current_sum():
    """{v_x, J}/2 in k space == sum_d d_x (bond current kernel of d)(k), for every polarization."""
    ks = nnn_orbital()
    onsite, hops = _bulk(ks, NNN)
    k = np.array([0.3, -1.1]), np.array([0.7, 2.0])
    _, vx, _ = bulk_hamiltonian(onsite, hops, *k)
    for a, J in zip("xyz", ks.generators):
        conv = 0.5 * (vx @ J + J @ vx)
        bond = np.zeros_like(conv)
        for d in ks.bonds:
            for (l, r), M in ks.kernel("current", a, d).blocks(NNN).items():
                ph = np.exp(1j * (k[0] * (r[0] - l[0]) + k[1] * (r[1] - l[1])))
                bond += d[0] * ph[:, None, None] * M
        np.testing.assert_allclose(bond, conv, atol=1e-14)


def test_bulk_hall_against_sylvester():
    """bulk_hall (both parts, eta > 0) == per-k Sylvester solve with df/dk_y by a 5-point difference."""
    ks = nnn_orbital()
    onsite, hops = _bulk(ks, NNN)
    N_k, T, eta, mu = 6, 0.3, 0.1, -0.2
    res = bulk_hall(onsite, hops, ks.generators, [mu], N_k, T, eta, 2)
    g = np.arange(N_k) * 2 * np.pi / N_k
    total = 0.0
    from orbsym.numeric import fermi

    def fm(kx, ky):
        h, _, _ = bulk_hamiltonian(onsite - mu * np.eye(3), hops, np.array([kx]), np.array([ky]))
        E, U = np.linalg.eigh(h[0])
        return h[0], (U * fermi(E, T)) @ U.conj().T

    s = 1e-3
    for kx in g:
        for ky in g:
            h, _ = fm(kx, ky)
            dfk = (fm(kx, ky - 2 * s)[1] - 8 * fm(kx, ky - s)[1] + 8 * fm(kx, ky + s)[1] - fm(kx, ky + 2 * s)[1]) / (12 * s)
            delta = sylvester_response(h, dfk, eta)
            _, vx, _ = bulk_hamiltonian(onsite, hops, np.array([kx]), np.array([ky]))
            O = 0.5 * (vx[0] @ ks.generators[2] + ks.generators[2] @ vx[0])
            total += np.trace(O @ delta).real
    total /= N_k**2
    assert abs(total) > 1e-3
    assert res["fermi_sea"][0] + res["fermi_surface"][0] == pytest.approx(total, abs=1e-8)


def test_bulk_orbital_hall_eq3_vanishes_nnn_finite():
    """Eq. (3) (no interorbital mixing): sigma^{L_z}_xy = 0 at every mu; the NNN d_yz-d_xz mixing
    s_3 makes it finite, odd in s_3; the intrinsic limit is the eta -> 0 limit; no charge Hall effect."""
    mus = np.linspace(-3, 3, 13)
    eq3 = nm_orbital()
    onsite, hops = _bulk(eq3, dict(t=1.0, gamma=0.5, tp=1.0, mu=0.0))
    assert np.abs(bulk_hall(onsite, hops, eq3.generators, mus, 40)["fermi_sea"]).max() < 1e-14
    ks = nnn_orbital()
    onsite, hops = _bulk(ks, NNN)
    plus = bulk_hall(onsite, hops, ks.generators, mus, 40)
    assert np.abs(plus["fermi_sea"]).max() > 0.05
    assert np.abs(plus["charge_hall"]).max() < 1e-12
    onsite, hops = _bulk(ks, {**NNN, "s_3": -0.2})
    minus = bulk_hall(onsite, hops, ks.generators, mus, 40)
    np.testing.assert_allclose(minus["fermi_sea"], -plus["fermi_sea"], atol=1e-12)
    onsite, hops = _bulk(ks, NNN)
    small = bulk_hall(onsite, hops, ks.generators, mus, 40, eta=1e-5)
    np.testing.assert_allclose(small["fermi_sea"], plus["fermi_sea"], atol=1e-6)


@pytest.mark.parametrize("kind", ["nnn", "user-nnn", "orbital"])
def test_onsager_reciprocity_torque_and_pumping(kind):
    """Global reciprocity between the E_y drive and a precessing magnetization (d m_a/dt, W = dh/dm_a = -J_a
    on the FM columns): the FM's driven <-W> per unit qE_y and the pumped particle current per unit dm_a/dt
    (sum_d dy j_d over the sample) agree for the Fermi-surface part and are opposite for the Fermi-sea
    part (K_mn = conj(K_nm)), part by part, to rounding."""
    lat = make_lattice(np.random.default_rng(11), kind, 5, 7, "fm")
    fm = [x for x, c in enumerate(lat.columns) if c.magnetic]
    if not fm:
        pytest.skip("no FM column drawn")
    T, eta = 0.1, 0.08
    E = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES))
    for a, J in zip("xyz", lat.generators):
        W = np.zeros((lat.N_x, lat.dim, lat.dim), complex)
        W[fm] = -J
        pump = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES), perturbation=W)
        for part, sign in (("fermi_surface", 1), ("fermi_sea", -1)):
            oE, oP = Observables(lat, E.bands[part]), Observables(lat, pump.bands[part])
            A = -float(oE.density(a)[fm].sum())
            B = sum(d[1] * float(oP.evaluate("current", None, d).sum()) for d in lat.bonds if d[1] != 0)
            assert B == pytest.approx(sign * A, abs=1e-12), (a, part)
        # the pumped state also balances (D: the adiabatic rate d<J>/dlambda)
        tot, drv = Observables(lat, pump.bands["total"]), Observables(lat, pump.bands["drive"])
        np.testing.assert_allclose(tot.time_derivative(a), eta * tot.density(a) + drv.density(a), atol=1e-12)


def test_pumping_against_sylvester():
    """The on-site perturbation path == dense real-space Sylvester solve with df/dlambda."""
    from kubo_helpers import fermi_matrix

    lat = make_lattice(np.random.default_rng(3), "nnn", 4, 4, "metal")
    W = np.zeros((lat.N_x, lat.dim, lat.dim), complex)
    W[-1] = -lat.generators[0]
    W[0] = 0.3 * lat.generators[2]
    T, eta, s = 0.3, 0.1, 1e-3
    h = peierls_hamiltonian(lat, 0.0)
    Wd = np.zeros_like(h)  # real space, site index x N_y + y
    n = lat.N_y * lat.dim
    for x in range(lat.N_x):
        Wd[x * n : (x + 1) * n, x * n : (x + 1) * n] = np.kron(np.eye(lat.N_y), W[x])
    dF = (fermi_matrix(h - 2 * s * Wd, T) - 8 * fermi_matrix(h - s * Wd, T) + 8 * fermi_matrix(h + s * Wd, T) - fermi_matrix(h + 2 * s * Wd, T)) / (12 * s)
    sol = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES), perturbation=W)
    compare(lat, sol.bands["total"], sylvester_response(h, dF, eta).T, 1e-8)


def test_steady_state_is_the_long_time_limit_of_the_damped_evolution():
    """One Bloch block in a small static field E (k(t) = k0 + E t), damped toward f(h(k(t))): integrating
    X = rho - f(h(k(t))), dX/dt = -i[h, X] - eta X - E df/dk (RK4, df/dk by a 5-point difference), the
    long-time X/E equals the Kubo delta(k(t)); the difference is O(E) (relative 3.5e-4 at E = 1e-4,
    3.5e-5 at 1e-5 for eta = 1: the lag of the drifting state).  No eigenbasis formula on this path."""
    from kubo_helpers import fermi_matrix

    from orbsym.numeric.bloch import _pieces
    from orbsym.numeric.kubo import DEGENERACY_RTOL, response_factors, velocity

    lat = make_lattice(np.random.default_rng(8), "nnn", 3, 5, "metal")
    H0, C, S = _pieces(lat)
    T, eta, k0, dt = 0.3, 1.0, 0.4, 0.1

    def h(k):
        return H0 + np.cos(k) * C + np.sin(k) * S

    def dfdk(k, s=1e-3):
        return (fermi_matrix(h(k - 2 * s), T) - 8 * fermi_matrix(h(k - s), T) + 8 * fermi_matrix(h(k + s), T) - fermi_matrix(h(k + 2 * s), T)) / (12 * s)

    errors = []
    for E in (1e-4, 1e-5):
        def rhs(t, X, E=E):
            hk = h(k0 + E * t)
            return -1j * (hk @ X - X @ hk) - eta * X - E * dfdk(k0 + E * t)

        X, t = np.zeros_like(H0), 0.0
        for _ in range(int(36 / eta / dt)):  # e^{-36}: the transient is gone
            a = rhs(t, X)
            b = rhs(t + dt / 2, X + dt / 2 * a)
            c = rhs(t + dt / 2, X + dt / 2 * b)
            d = rhs(t + dt, X + dt * c)
            X, t = X + dt / 6 * (a + 2 * b + 2 * c + d), t + dt
        kf = np.array([k0 + E * t])
        En, U = np.linalg.eigh(h(kf[0]))
        fac = response_factors(En[None], T, eta, DEGENERACY_RTOL)
        V = U.conj().T @ velocity(C, S, kf)[0] @ U
        delta = U @ ((fac["fermi_surface"][0] + fac["fermi_sea"][0]) * V) @ U.conj().T
        assert np.abs(delta).max() > 0.05
        errors.append(np.abs(X / E - delta).max() / np.abs(delta).max())
    assert errors[1] < 1e-4 and 5 < errors[0] / errors[1] < 20  # converges linearly in E
