"""Disorder on periodic samples (orbsym.numeric.disorder.supercell): the Gamma-only supercell reproduces the
clean periodic lattice exactly, and a disordered realization is the torus with disorder (checked against a
dense real-space Hamiltonian of the N_x x N_y (x N_z) torus built here, independently of the supercell)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.numeric.disorder import (
    Anderson, MagneticTexture, Potential, RandomHopping, Substitution, VacancyMask, Vacancies, realize, supercell,
)
from orbsym.numeric.sites import Hopping, Site, SiteLattice

FAST = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLS = (None, "x", "y", "z")
L = np.array([  # t2g L (a J with a nonzero exchange torque)
    [[0, 0, 0], [0, 0, 1j], [0, -1j, 0]],
    [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]],
    [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]],
])


def model(N_x=3, N_y=3, seed=0, diagonal=True, N_z=None):
    """A 3-orbital metal site and a 1-orbital site, x, y (films: z) and (optionally) diagonal bonds, periodic."""
    rng = np.random.default_rng(seed)
    cell = (Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]) + 0.05 * _herm(rng, 3), L), Site("s", (0.5, 0.3, 0.2), [[0.4]]))
    z = (0,) if N_z is not None else ()
    tx = -np.diag([0.3, 1.0, 1.0]) + 0.1 * rng.standard_normal((3, 3))
    hops = [Hopping("m", "m", (1, 0) + z, tx), Hopping("m", "m", (0, 1) + z, -np.diag([1.0, 0.3, 1.0]) + 0.1j * _herm(rng, 3)),
            Hopping("m", "s", (0, 0) + z, [[0.5], [0.2], [0.1j]])]
    if diagonal:
        hops.append(Hopping("s", "m", (1, 1) + z, [[0.3, 0.1, 0.2]]))
    if N_z is not None:
        hops.append(Hopping("m", "m", (0, 0, 1), -np.diag([1.0, 1.0, 0.3])))
    return SiteLattice(cell, hops, N_x=N_x, N_y=N_y, N_z=N_z)


def _herm(rng, n):
    a = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    return (a + a.conj().T) / 2


def torus(lat, r, T):
    """Independent slow path: the dense real-space Hamiltonian of the N_x x N_y (x N_z) torus with the
    realization's on-site shifts, bond factors and vacancies, its thermal state, F per transverse cell and
    every bond instance's eom pieces ``[h, x, r]`` (parent layout)."""
    N_x, N_y, N_z = lat.N_x, lat.N_y, lat.N_z or 1
    R, nc, ns = N_y * N_z, lat.cell_dim, len(lat.sites)
    off = lat.site_offsets
    n = N_x * R * nc

    def idx(x, y, z, s):
        return ((x * R + y * N_z + z) * nc + off[s])

    H = np.zeros((n, n), complex)
    keep = np.ones(n, bool)
    for x in range(N_x):
        for y in range(N_y):
            for z in range(N_z):
                for s, site in enumerate(lat.cells[x]):
                    a, k = idx(x, y, z, s), site.orbitals
                    H[a : a + k, a : a + k] += site.onsite + r.onsite_shift[s][x, y * N_z + z]
                    if r.vacant[x, y * N_z + z, s]:
                        keep[a : a + k] = False
    bonds = []
    for h, (i, j, o, Tm) in enumerate(lat.hoppings):
        dx, dy, dz = (tuple(o) + (0,))[:3]
        for x in range(N_x):
            if not 0 <= x + dx < N_x:
                continue
            for y in range(N_y):
                for z in range(N_z):
                    y2, z2 = (y + dy) % N_y, (z + dz) % N_z
                    if r.vacant[x, y * N_z + z, i] or r.vacant[x + dx, y2 * N_z + z2, j]:
                        continue
                    t = Tm[x] * (1 if r.hopping_factor is None else r.hopping_factor[h, x, y * N_z + z])
                    a, b = idx(x, y, z, i), idx(x + dx, y2, z2, j)
                    H[a : a + t.shape[0], b : b + t.shape[1]] += t
                    H[b : b + t.shape[1], a : a + t.shape[0]] += t.conj().T
                    bonds.append((h, x, y * N_z + z, a, b, t, i, j, x + dx))
    Hk = H[np.ix_(keep, keep)]
    E, U = np.linalg.eigh(Hk)
    f = 0.5 * (1 - np.tanh(E / (2 * T)))
    rho = np.zeros((n, n), complex)
    rho[np.ix_(keep, keep)] = (U * f) @ U.conj().T
    F = -T * np.logaddexp(0, -E / T).sum() / R
    return rho, F, bonds


def reference(lat, r, rho, bonds, pol):
    """Densities ``(N_x, R, n_sites)`` and eom pieces ``(n_hoppings, N_x, R)`` of the torus."""
    N_x, R, nc = lat.N_x, lat.N_y * (lat.N_z or 1), lat.cell_dim

    def J(x, s):
        k = lat.orbitals[s]
        return np.eye(k) if pol is None else lat.cells[x][s].generators["xyz".index(pol)]

    dens = np.zeros((N_x, R, len(lat.sites)))
    for x in range(N_x):
        for q in range(R):
            for s in range(len(lat.sites)):
                if not r.vacant[x, q, s]:
                    a, k = (x * R + q) * nc + lat.site_offsets[s], lat.orbitals[s]
                    dens[x, q, s] = np.trace(J(x, s) @ rho[a : a + k, a : a + k]).real
    start = np.zeros((len(lat.hoppings), N_x, R))
    end = np.zeros_like(start)
    for h, x, q, a, b, t, i, j, x2 in bonds:
        rji = rho[b : b + t.shape[1], a : a + t.shape[0]]
        start[h, x, q] += 2 * np.trace(J(x, i) @ t @ rji).imag
        end[h, x, q] += -2 * np.trace(t @ J(x2, j) @ rji).imag
    return dens, start, end


# ----------------------------------------------------------------------------- the clean limit
@pytest.mark.parametrize("N_y", [1, 3])
def test_zero_disorder_is_the_clean_periodic_lattice(N_y):
    """W = 0: densities, bond currents, torques, F and boundary current per transverse cell, and every
    Kubo part of the response equal the clean lattice's (its N_y k grid) to rounding."""
    lat = model(N_y=N_y)
    r = realize(lat, (Anderson(0.0), RandomHopping(0.0), Vacancies(0.0), MagneticTexture(0.0, sites="m")), seed=5)
    assert r.lattice.N_y == 1 and r.lattice.gamma_only and r.lattice.cell_dim == N_y * lat.cell_dim
    a, b = lat.solve(0.1), r.observables(r.lattice.solve(0.1))
    assert b.free_energy() == pytest.approx(a.free_energy(), abs=1e-12)
    for pol in POLS:
        np.testing.assert_allclose(b.density(pol), np.broadcast_to(a.density(pol), b.density(pol).shape), atol=1e-12)
        np.testing.assert_allclose(b.current(pol), np.broadcast_to(a.current(pol), b.current(pol).shape), atol=1e-12)
        np.testing.assert_allclose(b.torque(pol) if pol else b.divergence(pol), np.broadcast_to(a.torque(pol) if pol else a.divergence(pol), b.density(pol).shape), atol=1e-12)
        np.testing.assert_allclose(b.boundary_current(pol), a.boundary_current(pol), atol=1e-12)
    A, B = lat.respond(0.1, 0.2), r.lattice.respond(0.1, 0.2)
    for part in ("total", "fermi_surface", "fermi_sea", "drive"):
        pa, pb = A[part], r.observables(B[part])
        for pol in POLS:
            np.testing.assert_allclose(pb.density(pol), np.broadcast_to(pa.density(pol), pb.density(pol).shape), atol=1e-12)
            np.testing.assert_allclose(pb.current(pol), np.broadcast_to(pa.current(pol), pb.current(pol).shape), atol=1e-12)
            np.testing.assert_allclose(pb.boundary_current(pol), pa.boundary_current(pol), atol=1e-12)


def test_zero_disorder_film_and_greens():
    """A film (N_y x N_z supercell, E_z response) and the Green's-function engine on the clean supercell."""
    lat = model(N_x=2, N_y=2, N_z=2, diagonal=False)
    r = realize(lat, Anderson(0.0), seed=1)
    assert r.lattice.N_y == 1 and r.lattice.N_z == 1 and r.lattice.names[2:4] == ("m[0,1]", "s[0,1]")
    a = lat.solve(0.2)
    for engine in ("dense", "greens"):
        b = r.observables(r.lattice.solve(0.2, engine=engine))
        assert b.free_energy() == pytest.approx(a.free_energy(), abs=1e-11)
        np.testing.assert_allclose(b.density("y"), np.broadcast_to(a.density("y"), b.density("y").shape), atol=1e-11)
        np.testing.assert_allclose(b.current("z"), np.broadcast_to(a.current("z"), b.current("z").shape), atol=1e-11)
    A, B = lat.respond(0.2, 0.3, field="z"), r.lattice.respond(0.2, 0.3, field="z")
    pa, pb = A["total"], r.observables(B["total"])
    np.testing.assert_allclose(pb.density("x"), np.broadcast_to(pa.density("x"), pb.density("x").shape), atol=1e-12)
    np.testing.assert_allclose(pb.boundary_current(None), pa.boundary_current(None), atol=1e-12)


# ----------------------------------------------------------------------------- random configurations
ALL = (Anderson(0.8), Anderson(0.3, "gaussian", per_orbital=True, sites="m"), RandomHopping(0.4), Vacancies(0.15, sites="s"),
       Substitution(0.3, "s", [[1.5]]), MagneticTexture(0.7, cone=1.0, sites="m"))


@FAST
@given(seed=st.integers(0, 2**31), N_y=st.integers(1, 3), film=st.booleans())
def test_realization_against_the_dense_torus(seed, N_y, film):
    """Every kind at once: the supercell solve against the torus built here -- densities, every bond's
    eom pieces, F per transverse cell -- and the per-site balance."""
    lat = model(N_x=3, N_y=N_y, seed=seed % 7, N_z=2 if film else None, diagonal=not film)
    r = realize(lat, ALL, seed=seed)
    T = 0.3
    rho, F, bonds = torus(lat, r, T)
    so = r.observables(r.lattice.solve(T))
    assert so.free_energy() == pytest.approx(F, abs=1e-10)
    for pol in POLS:
        dens, s_, e_ = reference(lat, r, rho, bonds, pol)
        np.testing.assert_allclose(so.density(pol), dens, atol=1e-10)
        np.testing.assert_allclose(so.eom_start(pol), s_, atol=1e-10)
        np.testing.assert_allclose(so.eom_end(pol), e_, atol=1e-10)
        np.testing.assert_allclose(so.continuity_residual(pol), 0, atol=1e-10)
        np.testing.assert_allclose(so.torque(pol) - so.divergence(pol), 0, atol=1e-10)  # stationary


def test_dense_and_greens_on_a_realization_and_the_driven_balance():
    lat = model(N_x=4, N_y=3, diagonal=False)
    r = realize(lat, (Anderson(1.0), RandomHopping(0.3), Vacancies(0.2)), seed=3)
    assert r.vacant.any()
    a, b = r.lattice.solve(0.15), r.lattice.solve(0.15, engine="greens")
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-10)
    for pol in POLS:
        np.testing.assert_allclose(a.density(pol), b.density(pol), atol=1e-10)
        np.testing.assert_allclose(a.current(pol), b.current(pol), atol=1e-10)
    resp = r.lattice.respond(0.15, 0.2)  # checks -div j + tau = eta <J> + D at every site
    assert resp.max_abs_residual < 1e-10
    u = r.observables(resp["total"])
    assert u.density("z").shape == (4, 3, 2) and u.current(None).shape == (3, 4, 3)
    np.testing.assert_array_equal(u.density(None)[r.vacant], 0)


def test_explicit_arrays_on_periodic_samples():
    lat = model(N_x=2, N_y=3)
    rng = np.random.default_rng(1)
    V = rng.standard_normal((2, 3))
    mask = np.zeros((2, 3, 2), bool)
    mask[1, 2, 1] = True
    r = realize(lat, (Potential("s", V), VacancyMask(mask)))
    eps = r.lattice.site_onsite("s[1]")[:, 0, 0, 0].real
    np.testing.assert_allclose(eps, 0.4 + V[:, 1])
    assert r.lattice.vacant[1, 0, 2 * 2 + 1] and r.lattice.vacant.sum() == 1
    film = model(N_x=2, N_y=2, N_z=2, diagonal=False)
    rf = realize(film, Potential("m", np.ones((2, 2, 2))), seed=None)  # (N_x, N_y, N_z) accepted for films
    assert rf.onsite_shift[0].shape == (2, 4, 3, 3)
    with pytest.raises(ValueError, match=r"shape \(N_x, R = N_y\) = \(2, 3\)"):
        realize(lat, Potential("s", np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"\(N_x, R = N_y, n_sites\) = \(2, 3, 2\)"):
        realize(lat, VacancyMask(np.zeros((2, 2, 2), bool)))
    with pytest.raises(ValueError, match="supercell takes a periodic lattice"):
        supercell(SiteLattice(lat.sites, [], N_x=2, width=2))
