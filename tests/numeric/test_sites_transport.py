"""Transport through a SiteLattice between leads (orbsym.numeric.sites_transport).

Independent references: the column-lattice transport (orbsym.transport on orbsym.systems), the same
chain written with a different cell, and the number of open channels counted here from a lead Bloch
Hamiltonian built directly from the site description.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.numeric import leads as leads_module
from orbsym.numeric.budget import ResourceError
from orbsym.numeric.leads import SurfaceGreenError
from orbsym.numeric.sites import Hopping, Site, SiteLattice, from_column_lattice
from orbsym.numeric.sites_transport import SiteLead, site_transport

POLS = (None, "x", "y", "z")


def herm(rng, n, scale=1.0):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return scale * (a + a.conj().T) / 2


def cplx(rng, *shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


# ---------------------------------------------------------------- (1) against orbsym.transport
@pytest.fixture(scope="module")
def paper_system():
    from orbsym.systems import heterostructure, layer
    from orbsym.transport import attach_leads

    s = heterostructure([layer("nm", 3, gamma=0.3), layer("fm", 2, m=(0.6, 0.0, 0.8)), layer("nm", 3, gamma=0.3)], N_y=6)
    return attach_leads(s)


@pytest.mark.parametrize("bias", [None, 0.3])
def test_column_lattice_against_orbsym_transport(paper_system, bias):
    from orbsym.transport import transport

    kw = dict(T=0.05, n_energy=8 if bias is None else 20, bias=bias)
    ref = transport(paper_system, **kw, error_estimate=False)
    sl = from_column_lattice(paper_system.lattice)  # region + one lead column on each side
    res = site_transport(sl, **kw)
    part = res["response" if bias is None else "total"]
    if bias is None:
        assert res.conductance()["total"] == pytest.approx(ref.conductance()["total"], rel=0, abs=1e-8)
        assert ref.conductance()["total"] > 0.5
    assert res.landauer_current() == pytest.approx(ref.landauer_current(), rel=0, abs=1e-8)
    dens = ref.densities()
    for pol, key in zip(POLS, ("charge", "x", "y", "z")):
        mine = part.density(pol)[1:-1, 0, 0]  # the region's columns (lead column on each side dropped)
        np.testing.assert_allclose(mine, dens[key], rtol=0, atol=1e-8)
        assert np.abs(dens[key]).max() > 1e-4
    # charge current through every boundary == Landauer current (region + lead columns)
    np.testing.assert_allclose(res.boundary_current(), ref.landauer_current(), rtol=0, atol=1e-10)


# ---------------------------------------------------------------- (2) two sites per cell == one site per cell
def _chain(rng, M, n=2, N_y=4):
    """The same chain of 2M columns as one site per cell (2M cells) and two sites per cell (M cells, sites
    at x and x + 1/2); the two end columns on each side are equal (so both choices of lead cell repeat the
    same crystal)."""
    eps = [herm(rng, n) for _ in range(2 * M)]
    eps[1], eps[-2] = eps[0], eps[-1]
    gens = [np.array([herm(rng, n) for _ in range(3)]) for _ in range(2 * M)]
    gens[1], gens[-2] = gens[0], gens[-1]
    tx, ty = cplx(rng, n, n), cplx(rng, n, n) * 0.6
    one = SiteLattice([(Site("a", (0, 0), eps[x], gens[x]),) for x in range(2 * M)],
                      [Hopping("a", "a", (1, 0), tx), Hopping("a", "a", (0, 1), ty)], N_y=N_y)
    two = SiteLattice([(Site("A", (0, 0), eps[2 * X], gens[2 * X]), Site("B", (0.5, 0), eps[2 * X + 1], gens[2 * X + 1])) for X in range(M)],
                      [Hopping("A", "B", (0, 0), tx), Hopping("B", "A", (1, 0), tx), Hopping("A", "A", (0, 1), ty), Hopping("B", "B", (0, 1), ty)],
                      N_y=N_y, vectors=np.diag([1.0, 1.0, 1.0]))
    return one, two


@pytest.mark.parametrize("bias", [None, 0.4])
def test_two_site_cell_equals_one_site_per_cell(bias):
    rng = np.random.default_rng(7)
    M = 4
    one, two = _chain(rng, M)
    kw = dict(T=0.1, bias=bias, n_energy=6 if bias is None else 20)
    r1, r2 = site_transport(one, solver="dense", **kw), site_transport(two, solver="rgf", **kw)  # both region solvers
    assert (r1.info["region_solver"], r2.info["region_solver"]) == ("dense", "rgf")
    assert two.slice_states == 2 * one.slice_states
    I1 = r1.landauer_current()
    assert abs(I1) > 1e-3
    assert r2.landauer_current() == pytest.approx(I1, rel=1e-9)
    if bias is None:
        assert r2.conductance()["total"] == pytest.approx(r1.conductance()["total"], rel=1e-9)
    for part in r1.parts:
        for pol in POLS:
            d1 = r1[part].density(pol)[:, 0, 0]
            d2 = r2[part].density(pol)[:, 0, :].reshape(-1)  # (X, site) -> column 2X + site
            np.testing.assert_allclose(d2, d1, rtol=0, atol=1e-9)
        # boundary between cells X and X+1 of the two-site chain = boundary 2X+1 of the one-site chain
        np.testing.assert_allclose(r2.boundary_current(part=part), r1.boundary_current(part=part)[1::2], rtol=0, atol=1e-10)
    # the bond A -> B inside a cell is the (1, 0) bond from the even column
    np.testing.assert_allclose(r2.driven.current("z")[0, :, 0], r1.driven.current("z")[0, 0::2, 0], rtol=0, atol=1e-10)


# ---------------------------------------------------------------- (3) finite width with a vacancy
def _strip(rng, N_x=6, W=3, vacancies=None, n=2):
    eps = herm(rng, n)
    gens = np.array([herm(rng, n) for _ in range(3)])
    site = Site("a", (0, 0), eps, gens)
    hops = [Hopping("a", "a", (1, 0), cplx(rng, n, n)), Hopping("a", "a", (0, 1), 0.7 * cplx(rng, n, n)),
            Hopping("a", "a", (1, 1), 0.3 * cplx(rng, n, n))]
    return SiteLattice([site], hops, N_x=N_x, width=W, vacancies=vacancies)


@pytest.mark.parametrize("bias,T", [(None, 0.0), (0.5, 0.05)])
def test_finite_width_vacancy_boundary_current_and_balance(bias, T):
    rng = np.random.default_rng(3)
    sl = _strip(rng, vacancies=[(3, 1, "a")])
    res = site_transport(sl, T=T, bias=bias, mu=0.2, check=False)
    I = res.landauer_current()
    assert abs(I) > 0.05
    bc = res.boundary_current()
    assert bc.shape == (sl.N_x - 1,)
    np.testing.assert_allclose(bc, I, rtol=1e-10, atol=0)
    inner = res.interior()
    assert inner.sum() == (sl.N_x - 2) * sl.width  # vacancy included in the mask, with zero rate
    for part in res.parts:
        obs = res[part]
        for pol in POLS:
            rate = obs.time_derivative(pol)
            assert np.abs(rate[inner]).max() < 1e-10 * max(1.0, np.abs(obs.current(pol)).max())
            # -div j + tau = 0: the current alone does not balance (angular momentum is not conserved)
            np.testing.assert_allclose(obs.torque(pol)[inner] - obs.divergence(pol)[inner], 0, atol=1e-10)
        assert np.all(obs.density()[3, 1] == 0)  # the vacancy holds no particle
    # the end slices exchange current with the leads: their rates are not zero
    assert np.abs(res.driven.time_derivative()[0]).sum() > 1e-3
    # the vacancy matters: without it the current changes
    clean = site_transport(_strip(np.random.default_rng(3)), T=T, bias=bias, mu=0.2)
    assert abs(clean.landauer_current() - I) > 1e-4


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), x=st.integers(1, 3), y=st.integers(0, 2), mu=st.floats(-1.5, 1.5))
def test_boundary_current_is_landauer_current_with_any_vacancy(seed, x, y, mu):
    sl = _strip(np.random.default_rng(seed), N_x=5, W=3, vacancies=[(x, y, "a")])
    res = site_transport(sl, T=0.0, mu=mu, equilibrium=False, check=False)
    I = res.landauer_current()
    np.testing.assert_allclose(res.boundary_current(), I, rtol=0, atol=1e-10 * max(1.0, abs(I)))
    rate = res.balance()
    assert np.abs(rate[res.interior()]).max() < 1e-10 * max(1.0, np.abs(res.driven.current()).max())


# ---------------------------------------------------------------- (4) clean chain: open channels
def _bloch_strip(sl, kx, ky=None):
    """Lead Bloch Hamiltonian h(k_x) of one x-cell of a uniform site lattice, written from its hoppings
    (finite width: W rows, open; periodic y: one row at k_y)."""
    nc, off = sl.cell_dim, sl.site_offsets
    W = sl.width if sl.transverse_dimension == 0 else 1
    H = np.zeros((W * nc, W * nc), complex)
    for s, site in enumerate(sl.sites):
        for y in range(W):
            r = y * nc + off[s]
            H[r : r + site.orbitals, r : r + site.orbitals] += site.onsite
    for i, j, (dx, dy), T in sl.hoppings:
        t = T[0]
        for y in range(W):
            if sl.transverse_dimension == 0:
                y2, ph = y + dy, 1.0
                if not 0 <= y2 < W:
                    continue
            else:
                y2, ph = 0, np.exp(1j * ky * dy)
            r, c = y * nc + off[i], y2 * nc + off[j]
            blk = t * ph * np.exp(1j * kx * dx)
            H[r : r + t.shape[0], c : c + t.shape[1]] += blk
            H[c : c + t.shape[1], r : r + t.shape[0]] += blk.conj().T
    return H


def _open_channels(sl, E, ky=None, n_kx=720):
    """Right-moving propagating modes at E: half the sign changes of E_s(k_x) - E around the Brillouin zone
    (sorted bands: a crossing of two bands does not change the count of levels below E), and the distance
    of E to the nearest band extremum."""
    kx = 2 * np.pi * np.arange(n_kx) / n_kx
    bands = np.array([np.linalg.eigvalsh(_bloch_strip(sl, k, ky)) for k in kx]) - E
    prev, nxt = np.roll(bands, 1, axis=0), np.roll(bands, -1, axis=0)
    extrema = bands[((bands >= prev) & (bands >= nxt)) | ((bands <= prev) & (bands <= nxt))]
    gap = np.abs(extrema).min()  # distance of E to the nearest band extremum (van Hove point)
    s = np.sign(bands)
    return int((s != np.roll(s, -1, axis=0)).sum() // 2), gap


def _uniform(rng, N_x, **kw):
    A = Site("A", (0, 0), herm(rng, 2, 0.5))
    B = Site("B", (0.5, 0.3), herm(rng, 1, 0.5))
    hops = [Hopping("A", "B", (0, 0), cplx(rng, 2, 1)), Hopping("B", "A", (1, 0), cplx(rng, 1, 2)),
            Hopping("A", "A", (1, 0), 0.5 * cplx(rng, 2, 2)), Hopping("A", "A", (0, 1), 0.5 * cplx(rng, 2, 2)),
            Hopping("B", "A", (0, 1), 0.4 * cplx(rng, 1, 2))]
    return SiteLattice([A, B], hops, N_x=N_x, **kw)


def test_clean_chain_transmission_counts_open_channels():
    rng = np.random.default_rng(11)
    sl = _uniform(rng, 3, width=3)
    counts = []
    for E in np.linspace(-2.5, 2.5, 9):
        n, gap = _open_channels(sl, E)
        if gap < 1e-3:  # too close to a band extremum for the k_x grid
            continue
        G = site_transport(sl, T=0.0, mu=E, equilibrium=False).conductance()["total"]
        assert G == pytest.approx(n, abs=1e-6), E
        counts.append(n)
    assert max(counts) >= 2 and len(set(counts)) >= 3
    # periodic y: per k_y
    N_y = 4
    sp = _uniform(np.random.default_rng(11), 3, N_y=N_y)
    E = 0.4
    res = site_transport(sp, T=0.0, mu=E, equilibrium=False)
    sec = res.sectors[0]
    for k, g in zip(sec.open.k, sec.g_k):
        n, gap = _open_channels(sp, E, ky=k)
        assert gap > 1e-3
        assert g == pytest.approx(n, abs=1e-6)
    assert res.conductance()["total"] == pytest.approx(float(sec.open.weights @ sec.g_k) / N_y, rel=1e-14)


# ---------------------------------------------------------------- (5) refusals
def test_refusals(monkeypatch):
    rng = np.random.default_rng(5)
    sl = _strip(rng, N_x=4, W=2)
    with pytest.raises(ValueError, match="slice size"):
        site_transport(sl, T=0.0, left=_strip(rng, N_x=4, W=3))
    with pytest.raises(ValueError, match="transverse group"):
        periodic = SiteLattice([Site("a", (0, 0), np.eye(4))], [Hopping("a", "a", (1, 0), np.eye(4))], N_x=2, N_y=1)  # 4 states too
        site_transport(sl, T=0.0, right=periodic)
    with pytest.raises(ValueError, match="T .*required.*bias"):
        site_transport(sl, bias=0.1)
    with pytest.raises(ValueError, match="T"):
        site_transport(sl, T=-1.0)
    with pytest.raises(ValueError, match="n_energy"):
        site_transport(sl, T=0.0, n_energy=4)
    with pytest.raises(TypeError, match="SiteLattice"):
        site_transport(object(), T=0.0)
    with pytest.raises(ValueError, match="at least 2 slices"):
        one_slice = SiteLattice([Site("a", (0, 0), np.eye(2))], [Hopping("a", "a", (0, 1), np.eye(2))], N_x=1, width=2)
        assert one_slice.n_slices == 1  # no slice-to-slice coupling to repeat
        SiteLead(one_slice, 0, "left")
    with pytest.raises(ValueError, match="slice index"):
        site_transport(sl, T=0.0, left=(sl, 7))
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "1e-9")
    with pytest.raises(ResourceError, match="site-lattice transport"):
        site_transport(sl, T=0.0)
    monkeypatch.delenv("ORBSYM_MAX_SECONDS")

    def broken(self, k, z, side, **kw):
        raise SurfaceGreenError("decimation and eigenmodes failed: residual 3e-2 (test)", "dyson_residual", complex(z[0]), float(k[0]))

    monkeypatch.setattr(leads_module.Lead, "self_energy_batch", broken)
    with pytest.raises(SurfaceGreenError, match=r"site-lattice transport: decimation and eigenmodes failed: residual 3e-2 \(test\)") as info:
        site_transport(sl, T=0.0)
    assert info.value.criterion == "dyson_residual"


# ---------------------------------------------------------------- leads from other lattices
def test_leads_from_other_lattices_equal_the_extended_region():
    """Region R between leads of materials L and Rm (given as their own SiteLattices) is the same infinite
    system as the region [L, R, Rm] with the default leads (its end slices continued)."""
    rng = np.random.default_rng(21)
    n, N_y, M = 2, 3, 4
    mats = {m: (herm(rng, n), cplx(rng, n, n), 0.5 * cplx(rng, n, n), np.array([herm(rng, n) for _ in range(3)])) for m in ("L", "R")}
    reg = [(herm(rng, n), cplx(rng, n, n), 0.5 * cplx(rng, n, n), np.array([herm(rng, n) for _ in range(3)])) for _ in range(M)]

    def lattice(cells):  # cells: (eps, t_x of the bond to the next cell, t_y, generators) per x
        sites = [(Site("a", (0, 0), e, g),) for e, _, _, g in cells]
        return SiteLattice(sites, [Hopping("a", "a", (1, 0), np.array([c[1] for c in cells])),
                                   Hopping("a", "a", (0, 1), np.array([c[2] for c in cells]))], N_y=N_y)

    region = lattice(reg)
    extended = lattice([mats["L"]] + reg[:-1] + [reg[-1][:1] + (mats["R"][1],) + reg[-1][2:]] + [mats["R"]])
    lead_L, lead_R = lattice([mats["L"]] * 2), lattice([mats["R"]] * 2)
    for bias in (None, 0.3):
        kw = dict(T=0.1, bias=bias, n_energy=6 if bias is None else 20)
        a = site_transport(region, left=lead_L, right=(lead_R, 1), **kw)
        b = site_transport(extended, **kw)
        assert abs(a.landauer_current()) > 1e-3
        assert a.landauer_current() == pytest.approx(b.landauer_current(), rel=1e-9)
        for part in a.parts:
            for pol in POLS:
                np.testing.assert_allclose(a[part].density(pol)[:, 0, 0], b[part].density(pol)[1:-1, 0, 0], rtol=0, atol=1e-9)
    # the default leads (region's own end slices) are a different system
    assert abs(site_transport(region, T=0.1).landauer_current() - a.landauer_current()) > 1e-4


# ---------------------------------------------------------------- films
def test_film_equals_planes_as_sites():
    """A film (periodic y and z, N_z = 3) against the same crystal written in dimension 1 with the three
    z-planes as three sites of one cell (the z bonds, wrap-around included, become intra-cell bonds)."""
    rng = np.random.default_rng(4)
    n, N_y, N_z, N_x = 2, 2, 3, 4
    eps = [herm(rng, n) for _ in range(N_x)]
    eps[1], eps[-2] = eps[0], eps[-1]
    gens = np.array([herm(rng, n) for _ in range(3)])
    tx, ty, tz, txz = cplx(rng, n, n), 0.5 * cplx(rng, n, n), 0.7 * cplx(rng, n, n), 0.3 * cplx(rng, n, n)
    film = SiteLattice([(Site("a", (0, 0, 0), e, gens),) for e in eps],
                       [Hopping("a", "a", (1, 0, 0), tx), Hopping("a", "a", (0, 1, 0), ty), Hopping("a", "a", (0, 0, 1), tz),
                        Hopping("a", "a", (1, 0, 1), txz)], N_y=N_y, N_z=N_z)
    names = [f"z{z}" for z in range(N_z)]
    planes = SiteLattice(
        [tuple(Site(names[z], (0, 0, z), e, gens) for z in range(N_z)) for e in eps],
        [Hopping(names[z], names[z], (1, 0), tx) for z in range(N_z)] + [Hopping(names[z], names[z], (0, 1), ty) for z in range(N_z)]
        + [Hopping(names[z], names[(z + 1) % N_z], (0, 0), tz) for z in range(N_z)]
        + [Hopping(names[z], names[(z + 1) % N_z], (1, 0), txz) for z in range(N_z)],
        N_y=N_y, vectors=np.diag([1.0, 1.0, N_z]))
    f = site_transport(film, T=0.1, n_energy=6)
    p = site_transport(planes, T=0.1, n_energy=6)
    assert len(f.sectors) >= 2
    assert f.conductance()["total"] > 0.1
    assert p.conductance()["total"] == pytest.approx(N_z * f.conductance()["total"], rel=1e-9)  # per cell of 3 planes
    for part in f.parts:
        for pol in POLS:
            np.testing.assert_allclose(p[part].density(pol)[:, 0, :], np.repeat(f[part].density(pol)[:, 0, :], N_z, axis=1), rtol=0, atol=1e-9)
    np.testing.assert_allclose(p.boundary_current(), N_z * f.boundary_current(), rtol=0, atol=1e-10)


def test_merged_end_slices_check_only_the_boundaries_outside_them():
    """A (2, 0) bond merges two x-cells per slice: inside an end slice lead bonds cross the boundary too,
    so the Landauer check covers boundaries merge_x - 1 .. N_x - 1 - merge_x, where it holds exactly
    (the default check=True used to raise here)."""
    S = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]]) / 2
    A, B = Site("A", (0, 0), -0.4 * S[0], S), Site("B", (0.5, 0.5), -0.4 * S[2], S)
    hops = [Hopping("A", "B", (0, 0), -np.eye(2)), Hopping("B", "A", (1, 0), -np.eye(2)), Hopping("A", "A", (0, 1), -np.eye(2)),
            Hopping("B", "B", (0, 1), -np.eye(2)), Hopping("A", "A", (2, 0), -0.2 * np.eye(2))]
    lat = SiteLattice([A, B], hops, N_x=8, N_y=6)
    r = site_transport(lat, 0.05)
    assert lat.merge_x == 2 and list(r.checked_boundaries()) == [1, 2, 3, 4, 5]
    I = r.landauer_current()
    np.testing.assert_allclose(r.boundary_current()[1:6], I, rtol=0, atol=1e-12)
    assert abs(r.boundary_current()[0] - I) > 1e-3  # the end slice's boundary is not closed by the lattice's bonds alone
