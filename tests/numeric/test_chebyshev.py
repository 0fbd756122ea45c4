"""Chebyshev (kernel polynomial) engine (orbsym.numeric.chebyshev) against exact slow paths.

Slow paths written here: a dense real-space H of a finite sample assembled cell by cell with Python loops
(vacancy states dropped), exact ``f(H)`` by ``eigh``, exact traces; and the dense exact engine of the
sites module (``SiteLattice.solve``) for the per-site and per-bond observables.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.numeric.budget import ResourceError
from orbsym.numeric.chebyshev import (
    POLARIZATIONS, FermiExpansion, SparseSample, jackson_kernel, kubo_bastin, local_observables, spectral_bounds, stochastic_traces,
)
from orbsym.numeric.disorder import Anderson, RandomHopping, Vacancies, realize
from orbsym.numeric.sites import Hopping, Site, SiteLattice

FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLS = (None, "x", "y", "z")


def herm(rng, n, scale=1.0):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return scale * (a + a.conj().T) / 2


def sample_lattice(seed, N_x=4, width=3, W=1.0, vac=0.1, real=False):
    """A random two-site finite sample (2 + 3 orbitals, random generators), bonds (0,0), (1,0), (0,1),
    (1,-1), (2,1), then Anderson + random-hopping disorder and vacancies."""
    rng = np.random.default_rng(seed)
    c = (lambda m: m.real) if real else (lambda m: m)
    cell = (Site("A", (0, 0, 0), c(herm(rng, 2)), np.array([herm(rng, 2) for _ in range(3)])),
            Site("B", (0.5, 0.3, 0), c(herm(rng, 3)), np.array([herm(rng, 3) for _ in range(3)])))
    hops = [Hopping("A", "B", (0, 0), c(0.5 * herm(rng, 3)[:2])), Hopping("A", "A", (1, 0), c(0.5 * herm(rng, 2))),
            Hopping("B", "B", (0, 1), c(0.5 * herm(rng, 3))), Hopping("B", "A", (1, -1), c(0.4 * herm(rng, 3)[:, :2])),
            Hopping("A", "B", (2, 1), c(0.3 * herm(rng, 3)[:2]))]
    lat = SiteLattice(cell, hops, N_x=N_x, width=width)
    terms = [Anderson(W), RandomHopping(0.2)] + ([Vacancies(vac)] if vac else [])
    return realize(lat, terms, seed=seed).lattice


def dense_slow(lat):
    """Dense H of a finite SiteLattice by loops over cells and bonds, vacancy states dropped; and the
    index of every kept site's first orbital ``{(x, y, s): index}``."""
    nc, W = lat.cell_dim, lat.width
    full = lambda x, y, s: (x * W + y) * nc + int(lat.site_offsets[s])  # noqa: E731
    n = lat.N_x * W * nc
    H = np.zeros((n, n), complex)
    for x in range(lat.N_x):
        for y in range(W):
            for s in range(len(lat.sites)):
                r, k = full(x, y, s), lat.orbitals[s]
                H[r : r + k, r : r + k] = lat.site_onsite(s)[x, y]
    for i, j, (dx, dy), T in lat.hoppings:
        for x in range(lat.N_x):
            for y in range(W):
                x2, y2 = x + dx, y + dy
                if not (0 <= x2 < lat.N_x and 0 <= y2 < W) or lat.vacant[x, y, i] or lat.vacant[x2, y2, j]:
                    continue
                t = T[x] if T.ndim == 3 else T[x, y]
                r, c = full(x, y, i), full(x2, y2, j)
                H[r : r + t.shape[0], c : c + t.shape[1]] += t
                H[c : c + t.shape[1], r : r + t.shape[0]] += t.conj().T
    keep = np.ones(n, bool)
    index, k = {}, 0
    for x in range(lat.N_x):
        for y in range(W):
            for s in range(len(lat.sites)):
                r = full(x, y, s)
                if lat.vacant[x, y, s]:
                    keep[r : r + lat.orbitals[s]] = False
                else:
                    index[(x, y, s)] = k
                    k += lat.orbitals[s]
    return H[np.ix_(keep, keep)], index


def exact_rho(H, T, mu=0.0):
    E, U = np.linalg.eigh(H)
    f = 0.5 * (1 - np.tanh((E - mu) / (2 * T)))
    return (U * f) @ U.conj().T, E


def all_sites(lat):
    return [(x, y, s) for x in range(lat.N_x) for y in range(lat.width) for s in range(len(lat.sites)) if not lat.vacant[x, y, s]]


# ---------------------------------------------------------------- (1) the sparse Hamiltonian
@FAST
@given(seed=st.integers(0, 2**31), real=st.booleans())
def test_sparse_h_equals_dense_assembly(seed, real):
    lat = sample_lattice(seed, real=real)
    S = SparseSample.from_sites(lat)
    H, index = dense_slow(lat)
    assert S.n_states == H.shape[0] < lat.N_x * lat.width * lat.cell_dim  # vacancies' states are dropped
    np.testing.assert_allclose(S.H.toarray(), H, atol=1e-14, rtol=0)
    assert (S.H.dtype.kind == "f") == real
    for (x, y, s), k in index.items():
        assert S.start[x, y, s] == k
    assert np.all(S.start[lat.vacant] == -1)
    # the raw-array constructor (no dense slice chain) gives the same matrix
    S2 = SparseSample.from_arrays(lat.cells, lat.hoppings, lat.width, onsite=[lat.site_onsite(s) for s in range(2)],
                                  vacant=lat.vacant, vectors=lat.vectors)
    assert (S2.H != S.H).nnz == 0
    np.testing.assert_allclose(S.bond_vectors, lat.bond_vectors, atol=1e-15)


def test_spectral_bounds_contain_the_spectrum():
    lat = sample_lattice(3, N_x=6, width=4)
    S = SparseSample.from_sites(lat)
    E = np.linalg.eigvalsh(S.H.toarray())
    lo, hi = spectral_bounds(S.H, margin=0.0)
    assert lo <= E[0] and E[-1] <= hi
    lo2, hi2 = spectral_bounds(S.H, method="lanczos", margin=0.0, tol=1e-10)
    assert lo <= lo2 <= E[0] + 1e-8 and E[-1] - 1e-8 <= hi2 <= hi and (hi2 - lo2) < (hi - lo)


# ---------------------------------------------------------------- (2) the Fermi series and its bound
@FAST
@given(T=st.floats(0.05, 1.0), mu=st.floats(-2.0, 2.0), tol=st.sampled_from([1e-3, 1e-6, 1e-10]))
def test_fermi_series_within_its_bound(T, mu, tol):
    bounds = (-4.0, 3.0)
    for kind in ("fermi", "grand"):
        ex = FermiExpansion.build(bounds, T, mu, tol, kind=kind)
        assert ex.truncation_error <= tol
        x = np.cos(np.linspace(0, np.pi, 2001))
        series = np.polynomial.chebyshev.chebval(x, ex.coefficients)
        E = ex.a * x + ex.b
        exact = 1 / (1 + np.exp((E - mu) / T)) if kind == "fermi" else -T * np.logaddexp(0, -(E - mu) / T)
        err = np.abs(series - exact).max()
        assert err <= ex.truncation_error
        assert err > 1e-4 * ex.truncation_error or ex.truncation_error < 1e-12  # and not absurdly loose (seen: >= 2e-3)
        low = FermiExpansion.build(bounds, T, mu, order=max(ex.order // 2, 1), kind=kind)
        assert low.truncation_error > ex.truncation_error  # the error shrinks as the order grows


def test_order_follows_the_matsubara_pole():
    ex = [FermiExpansion.build((-5, 5), T, 0.0, 1e-8) for T in (0.4, 0.2, 0.1)]
    ratio = [ex[k + 1].order / ex[k].order for k in range(2)]
    assert all(1.7 < r < 2.3 for r in ratio)  # N ~ (a / pi T) ln(1/tol)
    y = np.pi * 0.4 / 5  # pole at i y in the rescaled variable: r_p = y + sqrt(1 + y^2)
    assert ex[0].pole_radius == pytest.approx(y + np.sqrt(1 + y**2), rel=1e-12)


# ---------------------------------------------------------------- (3) local observables vs the dense exact engine
def test_local_observables_against_dense_solve():
    lat = sample_lattice(5)
    S = SparseSample.from_sites(lat)
    T, tol = 0.3, 1e-9
    so = lat.solve(T)
    res = local_observables(S, T, all_sites(lat), tol=tol)
    assert res.truncation_error <= tol and res.region_error == 0 and res.engine == "chebyshev"
    x, y, s = res.sites.T
    present = so.present()
    n_bonds = present.sum()
    assert res.eom_start.shape[1] == n_bonds  # every present bond, once
    for p, pol in enumerate(POLS):
        np.testing.assert_array_less(np.abs(so.density(pol)[x, y, s] - res.density[p]), res.density_error[p] + 1e-13)
        if pol is not None:
            np.testing.assert_array_less(np.abs(so.onsite_torque(pol)[x, y, s] - res.onsite_torque[p]), res.onsite_torque_error[p] + 1e-13)
        h, bx, by = res.bond_hopping, res.bond_start[:, 0], res.bond_start[:, 1]
        assert present[h, bx, by].all()
        np.testing.assert_array_less(np.abs(so.eom_start(pol)[h, bx, by] - res.eom_start[p]), res.eom_start_error[p] + 1e-13)
        np.testing.assert_array_less(np.abs(so.eom_end(pol)[h, bx, by] - res.eom_end[p]), res.eom_end_error[p] + 1e-13)
        np.testing.assert_array_less(np.abs(so.current(pol)[h, bx, by] - res.current[p]), res.current_error[p] + 1e-13)
        np.testing.assert_allclose(so.divergence(pol)[x, y, s], res.divergence[p], atol=1e-8)
    # the values really are close (not only within a loose bound)
    np.testing.assert_allclose(res.density[0], so.density(None)[x, y, s], atol=1e-9)


def test_error_bound_holds_and_shrinks_with_the_order():
    lat = sample_lattice(7, vac=0.0)
    S = SparseSample.from_sites(lat)
    T = 0.25
    so = lat.solve(T)
    sites = all_sites(lat)[:10]
    errs, bounds = [], []
    for order in (15, 30, 60, 120):
        res = local_observables(S, T, sites, order=order)
        x, y, s = res.sites.T
        worst = 0.0
        for p, pol in enumerate(POLS):
            d = np.abs(so.density(pol)[x, y, s] - res.density[p])
            assert np.all(d <= res.density_error[p] + 1e-13)  # an upper bound at every order
            worst = max(worst, d.max())
            h, bx, by = res.bond_hopping, res.bond_start[:, 0], res.bond_start[:, 1]
            assert np.all(np.abs(so.eom_start(pol)[h, bx, by] - res.eom_start[p]) <= res.eom_start_error[p] + 1e-13)
        errs.append(worst)
        bounds.append(res.truncation_error)
    assert all(b2 < b1 for b1, b2 in zip(bounds, bounds[1:]))
    assert errs[-1] < 1e-3 * errs[0]


def test_truncated_state_is_stationary_and_balanced():
    lat = sample_lattice(11)
    S = SparseSample.from_sites(lat)
    for order in (12, 200):  # even a poor expansion p_N(H) commutes with H
        res = local_observables(S, 0.2, all_sites(lat), order=order)
        assert np.abs(res.rate).max() < 1e-10
        assert np.abs(res.residual).max() < 1e-12  # rate = -div j + tau, an identity
        assert np.abs(res.torque - res.divergence).max() < 1e-10


def test_region_truncation():
    rng = np.random.default_rng(13)
    cell = (Site("d", (0, 0, 0), herm(rng, 3), np.array([herm(rng, 3) for _ in range(3)])),)
    lat = SiteLattice(cell, [Hopping("d", "d", (1, 0), 0.5 * herm(rng, 3)), Hopping("d", "d", (0, 1), 0.5 * herm(rng, 3))], N_x=80, width=3)
    S = SparseSample.from_sites(realize(lat, Anderson(1.0), seed=2).lattice)
    T, site = 1.0, [(0, 0, 0)]
    full = local_observables(S, T, site, tol=1e-6, radius=10**6)
    auto = local_observables(S, T, site, tol=1e-6)
    assert auto.n_region_states < S.n_states and auto.region_error == 0  # the exact half light cone suffices
    for k in ("density", "onsite_torque", "eom_start", "eom_end"):
        np.testing.assert_allclose(getattr(auto, k), getattr(full, k), atol=1e-12)
    small = local_observables(S, T, site, tol=1e-6, radius=3)
    assert small.region_error > 0 and small.n_region_states < auto.n_region_states
    assert np.all(np.abs(small.density - full.density) <= small.density_error + full.density_error)
    assert np.abs(small.density - full.density).max() > 1e-12  # the region is felt


def test_clean_limit_equals_clean_engine():
    rng = np.random.default_rng(2)
    cell = (Site("d", (0, 0, 0), herm(rng, 3), np.array([herm(rng, 3) for _ in range(3)])),)
    lat = SiteLattice(cell, [Hopping("d", "d", (1, 0), 0.5 * herm(rng, 3)), Hopping("d", "d", (0, 1), 0.5 * herm(rng, 3))], N_x=5, width=3)
    clean = lat.solve(0.3)
    for W in (0.0, 1e-9):
        dirty = realize(lat, Anderson(W), seed=1).lattice
        res = local_observables(SparseSample.from_sites(dirty), 0.3, all_sites(lat), tol=1e-10)
        x, y, s = res.sites.T
        for p, pol in enumerate(POLS):
            np.testing.assert_allclose(res.density[p], clean.density(pol)[x, y, s], atol=1e-9 + 10 * W)
            h, bx, by = res.bond_hopping, res.bond_start[:, 0], res.bond_start[:, 1]
            np.testing.assert_allclose(res.current[p], clean.current(pol)[h, bx, by], atol=1e-9 + 10 * W)


def test_to_xarray_labels_and_units():
    lat = sample_lattice(17)
    res = local_observables(SparseSample.from_sites(lat), 0.4, [(1, 1, "B"), (2, 0, 0)], tol=1e-6)
    ds = res.to_xarray()
    assert list(ds.polarization.values) == list(POLARIZATIONS)
    assert ds.density.dims == ("polarization", "site") and ds.current.dims == ("polarization", "bond")
    np.testing.assert_array_equal(ds.x.values, [1, 2])
    assert ds.attrs["engine"] == "chebyshev" and ds.attrs["order"] == res.order and ds.attrs["error"] == res.error
    assert "J t / hbar" in ds.attrs["unit_current, source, torque, rate"]
    mask = np.zeros(lat.vacant.shape, bool)
    mask[1, 1, 1] = mask[2, 0, 0] = True
    by_mask = local_observables(SparseSample.from_sites(lat), 0.4, mask, tol=1e-6)  # a mask: sites in (x, y, site) order
    np.testing.assert_array_equal(by_mask.sites, [[1, 1, 1], [2, 0, 0]])
    np.testing.assert_allclose(by_mask.density, res.density, atol=1e-13)


# ---------------------------------------------------------------- (4) stochastic traces
def test_stochastic_traces_within_four_standard_errors():
    lat = sample_lattice(19, N_x=6, width=4)
    S = SparseSample.from_sites(lat)
    T, mu = 0.3, 0.2
    tr = stochastic_traces(S, T, n_vectors=24, mu=mu, n_moments=40, tol=1e-9, seed=4)
    H = S.H.toarray()
    rho, E = exact_rho(H, T, mu)
    assert abs(tr.particles - np.trace(rho).real) < 4 * tr.particles_se + tr.particles_truncation
    assert tr.particles_truncation < 1e-6
    omega = np.sum(-T * np.logaddexp(0, -(E - mu) / T))
    assert abs(tr.grand_potential - omega) < 4 * tr.grand_potential_se + tr.grand_potential_truncation
    for a in range(3):
        J = S.generator_operator("xyz"[a]).toarray()
        assert abs(tr.generators[a] - np.trace(J @ rho).real) < 4 * tr.generators_se[a] + tr.generators_truncation[a]
    # KPM moments Tr T_n(Ht) / n_states
    x = (E - tr.b) / tr.a
    exact = np.cos(np.arange(40)[:, None] * np.arccos(x)[None]).mean(axis=1)
    assert np.all(np.abs(tr.moments - exact) < 4 * tr.moments_se + 1e-12)
    assert tr.moments[0] == pytest.approx(1.0, abs=1e-12)  # |v_a| = 1: the zeroth moment is exact
    assert np.all(tr.moments_se[1:] > 0)
    # a wrong answer is caught: the standard errors are not huge
    assert tr.particles_se < 0.1 * S.n_states


def test_dos_with_jackson_kernel():
    lat = sample_lattice(23, N_x=6, width=4)
    S = SparseSample.from_sites(lat)
    tr = stochastic_traces(S, 0.5, n_vectors=16, n_moments=64, tol=1e-6, seed=1)
    E = np.linalg.eigvalsh(S.H.toarray())
    grid = np.linspace(tr.b - 0.999 * tr.a, tr.b + 0.999 * tr.a, 4001)
    dos, se = tr.dos(grid)
    assert np.trapezoid(dos, grid) == pytest.approx(1.0, abs=0.02)
    # the same kernel-broadened DOS from the exact moments
    x = (E - tr.b) / tr.a
    Nm = 64
    mom = np.cos(np.arange(Nm)[:, None] * np.arccos(x)[None]).mean(axis=1)
    g = jackson_kernel(Nm) * np.where(np.arange(Nm) == 0, 1, 2)
    xg = (grid - tr.b) / tr.a
    ref = (g * mom) @ np.cos(np.arange(Nm)[:, None] * np.arccos(xg)[None]) / (np.pi * tr.a * np.sqrt(1 - xg**2))
    inner = np.abs(xg) < 0.9
    assert np.all(np.abs(dos - ref)[inner] < 4 * se[inner] + 1e-12)
    assert tr.resolution == pytest.approx(np.pi * tr.a / 64)
    assert jackson_kernel(10)[0] == pytest.approx(1.0) and np.all(np.diff(jackson_kernel(50)) < 0)


# ---------------------------------------------------------------- (5) refusals
def test_refusals(monkeypatch):
    lat = sample_lattice(29)
    S = SparseSample.from_sites(lat)
    for T in (0, 0.0, -0.1):
        with pytest.raises(ValueError, match="T"):
            local_observables(S, T, [(0, 0, 0)])
    with pytest.raises(ValueError, match="T = 0 is refused"):
        local_observables(S, 0.0, [(0, 0, 0)])
    vac = tuple(int(v) for v in np.argwhere(lat.vacant)[0])
    for bad, msg in (([(9, 0, 0)], "x must be"), ([(0, 5, 0)], "y must be"), ([(0, 0, "C")], "unknown site"), ([(0, 0, 7)], "site must be"),
                     ([vac], "vacancy"), ([(0, 0, 0), (0, 0, "A")], "twice"), ([], "no site"), ([(0, 0)], "tuples"),
                     (np.zeros((2, 2, 2), bool), "mask")):
        with pytest.raises(ValueError, match=msg):
            local_observables(S, 0.3, bad)
    with pytest.raises(ValueError, match=r"order \d+ is needed"):
        local_observables(S, 0.3, [(0, 0, 0)], order=10, tol=1e-8)
    with pytest.raises(ValueError, match="polarization"):
        S.generator_operator("w")
    with pytest.raises(ValueError, match="n_vectors"):
        stochastic_traces(S, 0.3, n_vectors=1)
    with pytest.raises(ValueError, match="spectral bound method"):
        spectral_bounds(S.H, method="exact")
    with pytest.raises(TypeError, match="SparseSample"):
        local_observables(lat, 0.3, [(0, 0, 0)])
    periodic = SiteLattice(lat.cells[0], [Hopping("A", "A", (1, 0), np.eye(2))], N_x=3, N_y=2)
    with pytest.raises(ValueError, match="finite sample"):
        SparseSample.from_sites(periodic)
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "1K")
    with pytest.raises(ResourceError, match="sparse Hamiltonian"):
        SparseSample.from_sites(lat)
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "20K")
    with pytest.raises(ResourceError, match="local Chebyshev"):
        local_observables(S, 0.3, all_sites(lat), block=10**4)


# ---------------------------------------------------------------- (6) Kubo-Bastin
def positions(S):
    """Cartesian position of every state (its site's), by loops: the slow path of the Peierls velocity."""
    pos = np.zeros((S.n_states, 3))
    for x in range(S.N_x):
        for y in range(S.width):
            for s in range(S.n_sites):
                k = S.start[x, y, s]
                if k >= 0:
                    pos[k : k + S.orbitals[s]] = x * S.vectors[0] + y * S.vectors[1] + S.positions[s]
    return pos


def dense_bastin(H, j, v, T, mus, a, b, N, n_energy, area, theta_range):
    """Bastin formula in the eigenbasis with the Jackson-kernel delta and dG+-/dE written as functions of two
    energies, in Crepieux and Bruno's order Tr[j dG+ v delta - j delta v dG-]:
    sigma = (i / area) int dE f(E) sum_kl j_kl v_lk [G+'(E, E_l) delta(E - E_k) - delta(E - E_l) G-'(E, E_k)]."""
    E, U = np.linalg.eigh(H)
    e = (E - b) / a
    jh, vh = U.conj().T @ j @ U, U.conj().T @ v @ U
    h = (theta_range[1] - theta_range[0]) / n_energy
    th = theta_range[0] + h * (np.arange(n_energy) + 0.5)
    x, s = np.cos(th), np.sin(th)
    m = np.arange(N)
    w = jackson_kernel(N) * np.where(m == 0, 1, 2)
    Te = np.cos(m[:, None] * np.arccos(e)[None])  # (N, n)
    D = np.einsum("m,mx,mk->xk", w, np.cos(m[:, None] * th[None]) / (np.pi * s[None]), Te)
    Gp = np.einsum("m,mx,mk->xk", w, -1j * np.exp(-1j * m[:, None] * th[None]) * (x[None] + 1j * m[:, None] * s[None]) / s[None] ** 3, Te)
    Gm = np.einsum("m,mx,mk->xk", w, 1j * np.exp(1j * m[:, None] * th[None]) * (x[None] - 1j * m[:, None] * s[None]) / s[None] ** 3, Te)
    P = jh * vh.T  # j_kl v_lk
    integrand = 1j * (np.einsum("kl,xl,xk->x", P, Gp, D) - np.einsum("kl,xl,xk->x", P, D, Gm))
    f = 1 / (1 + np.exp((a * x[None] + b - np.asarray(mus)[:, None]) / T))
    return (f * (integrand * s)[None]).sum(axis=1).real * h / (a**2 * area)  # dx = sin(theta) d theta, dE = a dx


def test_velocity_is_the_commutator_with_positions():
    lat = sample_lattice(31)
    S = SparseSample.from_sites(lat)
    H, X = S.H.toarray(), positions(S)
    for d, name in enumerate("xy"):
        np.testing.assert_allclose(S.velocity(name).toarray(), 1j * (H * X[None, :, d] - X[:, d, None] * H), atol=1e-14)
    oblique = SparseSample.from_arrays(lat.cells, lat.hoppings, lat.width, onsite=[lat.site_onsite(s) for s in range(2)],
                                       vacant=lat.vacant, vectors=[[1.0, 0.2, 0], [0.5, 0.8, 0], [0, 0, 1]])
    H2, X2 = oblique.H.toarray(), positions(oblique)
    for d, name in enumerate("xy"):  # the real bond vectors of oblique cells
        np.testing.assert_allclose(oblique.velocity(name).toarray(), 1j * (H2 * X2[None, :, d] - X2[:, d, None] * H2), atol=1e-14)
    J = S.generator_operator("z").toarray()
    v = S.velocity("x").toarray()
    np.testing.assert_allclose(S.current_operator("x", "z").toarray(), (v @ J + J @ v) / 2, atol=1e-14)


def test_green_function_series():
    """The series of G+ (sign, phase) and of its derivative (the algebra of the Kubo-Bastin kernel)."""
    N, y = 3000, 0.3
    g = jackson_kernel(N)
    m = np.arange(N)
    w = g * np.where(m == 0, 1, 2)

    def Gp(x):
        th = np.arccos(x)
        return np.sum(-1j * w * np.exp(-1j * m * th) / np.sin(th) * np.cos(m * np.arccos(y)))

    for x in (-0.2, 0.7):
        assert Gp(x).real == pytest.approx(1 / (x - y), rel=1e-4)  # away from the pole: the principal value
        assert abs(Gp(x).imag) < 1e-6  # and no delta weight
        th = np.arccos(x)
        analytic = np.sum(-1j * w * np.exp(-1j * m * th) * (x + 1j * m * np.sin(th)) / np.sin(th) ** 3 * np.cos(m * np.arccos(y)))
        h = 1e-6
        assert analytic == pytest.approx((Gp(x + h) - Gp(x - h)) / (2 * h), rel=1e-5)
    assert Gp(y + 1e-9).imag == pytest.approx(-np.pi * np.sum(w * np.cos(m * np.arccos(y)) ** 2) / (np.pi * np.sin(np.arccos(y))), rel=1e-6)


@pytest.mark.parametrize("alpha, beta, pol", [("x", "y", None), ("x", "x", None), ("y", "x", "z"), ("x", "y", "x")])
def test_kubo_bastin_against_dense_eigenbasis(alpha, beta, pol):
    lat = sample_lattice(37, N_x=4, width=3)
    S = SparseSample.from_sites(lat)
    T, mus, N, ne = 0.2, [-0.5, 0.0, 0.7], 24, 1024
    kb = kubo_bastin(S, alpha, beta, pol, T=T, mu=mus, n_moments=N, n_vectors="exact", n_energy=ne)
    ref = dense_bastin(S.H.toarray(), S.current_operator(alpha, pol).toarray(), S.velocity(beta).toarray(), T, mus, kb.a, kb.b, N, ne, kb.area,
                       kb.theta_range)
    np.testing.assert_allclose(kb.sigma, ref, rtol=1e-8, atol=1e-10 * np.abs(ref).max())
    assert np.abs(ref).max() > 1e-4  # not a trivial zero
    assert kb.area == S.N_x * S.width and kb.resolution == pytest.approx(np.pi * kb.a / N)
    if pol is None and alpha != beta:  # chunked storage (the T_n r recurrence rerun per chunk of n) changes nothing
        small = kubo_bastin(S, alpha, beta, pol, T=T, mu=mus, n_moments=N, n_vectors="exact", n_energy=ne, chunk_bytes=1)
        np.testing.assert_allclose(small.moments, kb.moments, rtol=0, atol=1e-13 * np.abs(kb.moments).max())


def test_kubo_bastin_stochastic_and_symmetries():
    lat = sample_lattice(41, N_x=4, width=3)
    S = SparseSample.from_sites(lat)
    ex = kubo_bastin(S, "x", "y", T=0.3, mu=[0.0, 0.5], n_moments=16, n_vectors="exact")
    st_ = kubo_bastin(S, "x", "y", T=0.3, mu=[0.0, 0.5], n_moments=16, n_vectors=30, seed=2)
    assert np.all(np.abs(st_.sigma - ex.sigma) < 4 * st_.sigma_se) and np.all(st_.sigma_se > 0)
    mus = [-1.0, 0.0, 0.5]
    xx = kubo_bastin(S, "x", "x", T=0.3, mu=mus, n_moments=64, n_vectors="exact")
    assert np.all(xx.sigma > 0)  # dissipative
    # for alpha = beta the Bastin formula reduces to Kubo-Greenwood (Fermi surface only, the sea term is a total
    # derivative): sigma_xx = (pi / area) int dE (-f') Tr[v delta(E - H) v delta(E - H)], same kernel delta
    E, U = np.linalg.eigh(S.H.toarray())
    e, vh = (E - xx.b) / xx.a, U.conj().T @ S.velocity("x").toarray() @ U
    h = (xx.theta_range[1] - xx.theta_range[0]) / 4000
    th = xx.theta_range[0] + h * (np.arange(4000) + 0.5)
    m = np.arange(64)
    w = jackson_kernel(64) * np.where(m == 0, 1, 2)
    D = np.einsum("m,mx,mk->xk", w, np.cos(m[:, None] * th[None]) / (np.pi * np.sin(th)[None]), np.cos(m[:, None] * np.arccos(e)[None]))
    tr = np.einsum("kl,xl,xk->x", np.abs(vh) ** 2, D, D)
    for mu, sig in zip(mus, xx.sigma):
        z = (xx.a * np.cos(th) + xx.b - mu) / 0.3
        mfp = 1 / (4 * 0.3 * np.cosh(z / 2) ** 2)  # -df/dE
        assert sig == pytest.approx(np.pi / (xx.area * xx.a) * np.sum(mfp * tr * np.sin(th)) * h, rel=1e-6)
    real = SparseSample.from_sites(sample_lattice(41, N_x=4, width=3, real=True))
    kw = dict(T=0.3, mu=[0.0, 0.5], n_moments=16, n_vectors="exact")
    xy, yx = kubo_bastin(real, "x", "y", **kw), kubo_bastin(real, "y", "x", **kw)
    assert np.abs(xy.sigma - yx.sigma).max() < 1e-12 * np.abs(xy.sigma).max()  # real H (time reversal): no Hall part (Onsager)
    assert np.abs(ex.sigma - kubo_bastin(S, "y", "x", **kw).sigma).max() > 1e-4  # a complex H has one
    with pytest.raises(ValueError, match="T = 0"):
        kubo_bastin(S, T=0.0)
    with pytest.raises(ValueError, match="velocity direction"):
        kubo_bastin(S, "w", "y")
    with pytest.raises(ValueError, match="n_vectors"):
        kubo_bastin(S, n_vectors="all")


def test_from_arrays_refuses_bad_input():
    lat = sample_lattice(43)
    cells, W = lat.cells, lat.width
    T = np.eye(2)
    for hops, msg in (([(0, 5, (1, 0), T)], "site indices"), ([(0, 0, (0, 0), T)], "zero length"),
                      ([(0, 0, (1, 0), T), (0, 0, (-1, 0), T)], "listed twice"), ([(0, 0, (1, 0, 0), T)], r"\(dx, dy\)"),
                      ([(0, 0, (1, 0), np.eye(3))], "shape"), ([(0, 0)], "tuples")):
        with pytest.raises((ValueError, TypeError), match=msg):
            SparseSample.from_arrays(cells, hops, W)
    bad = [np.array(lat.site_onsite(s)) for s in range(2)]
    bad[1][0, 0, 0, 1] += 1.0
    with pytest.raises(ValueError, match="Hermitian"):
        SparseSample.from_arrays(cells, [], W, onsite=bad)
    with pytest.raises(ValueError, match="vacant"):
        SparseSample.from_arrays(cells, [], W, vacant=np.zeros((1, 1, 1), bool))
