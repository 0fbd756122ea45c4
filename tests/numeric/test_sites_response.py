"""Linear response of site lattices (SiteLattice.respond) against independent slow paths.

Slow path: the dense real-space Hamiltonian of the whole sample (``dense_h`` of test_sites, written
from the site description, periodic y [and z] wrapping around) with a uniform vector potential ``A``
along the field: every bond ``c_i^dag T c_j`` gets the Peierls phase ``e^{-i A b}`` with ``b`` its real
bond vector along the field (site positions and cell vectors; written here from the cell and site
data, not from ``SiteLattice.bond_vectors``).  The velocity is ``V = -dh/dA``, the driven steady state
solves ``-i [h, delta] - eta delta = d f(h + s V)/ds`` (Sylvester; the source from a finite difference
without eigenvectors), and the Fermi-surface / Fermi-sea parts come from the dense eigenbasis
(``kubo_helpers.eigen_parts``).  Quantities are read off ``delta`` by the dense bond operators
(``dense_reference``).
"""

import numpy as np
import pytest
from kubo_helpers import dfermi_direction_fd, eigen_parts, sylvester_response
from lattices import random_lattice
from test_sites import POLS, cplx, dense_h, dense_reference, herm, one_site, per_cell, random_hoppings, random_sites, regroup_x, regroup_y

from orbsym.numeric import Observables
from orbsym.numeric.kubo import solve_kubo
from orbsym.numeric.observables import KERNEL_NAMES
from orbsym.numeric.sites import BalanceError, Hopping, Site, SiteLattice, SiteObservables, SiteResponse, from_column_lattice


def dense_velocity(sl, H, bonds, axis):
    """``V = -dh/dA`` of a uniform A along Cartesian ``axis``: ``i b T`` on every bond, ``b`` the real bond
    vector (end position + dR . cell vectors - start position) along the axis."""
    V = np.zeros_like(H)
    for h, start, end, r, c in bonds:
        i, j, off, T = sl.hoppings[h]
        dR = np.array(tuple(off) + (0,) * (3 - len(off)), float)
        b = (np.array(sl.sites[j].position) + dR @ sl.vectors - np.array(sl.sites[i].position))[axis]
        ni, nj = sl.orbitals[i], sl.orbitals[j]
        V[r : r + ni, c : c + nj] += 1j * b * T[start[0]]
        V[c : c + nj, r : r + ni] += (1j * b * T[start[0]]).conj().T
    return V


def dense_response(sl, T, eta, axis):
    """Dense ``{part: delta}`` (density-matrix response per unit q E) and the pieces ``H, bonds``."""
    H, bonds = dense_h(sl)
    V = dense_velocity(sl, H, bonds, axis)
    src = dfermi_direction_fd(H, V, T, step=1e-3)
    surf, sea = eigen_parts(H, V, T, eta)
    total = sylvester_response(H, src, eta)
    np.testing.assert_allclose(surf + sea, total, atol=1e-8)  # the two slow paths agree
    return {"total": total, "fermi_surface": surf, "fermi_sea": sea, "drive": src}, H, bonds


def compare(sl, resp, dense, H, bonds, parts=("total", "fermi_surface", "fermi_sea", "drive"), atol=1e-7):
    for part in parts:
        so = resp[part]
        for pol in POLS:
            ref, rate, dens = dense_reference(sl, H, bonds, dense[part], pol)
            np.testing.assert_allclose(so.density(pol), per_cell(sl, dens), atol=atol, err_msg=f"{part} density {pol}")
            np.testing.assert_allclose(so.time_derivative(pol), per_cell(sl, rate), atol=atol, err_msg=f"{part} rate {pol}")
            cur, src = so.current(pol), so.source(pol)
            for (h, x, y, z), (rs, re) in ref.items():
                assert cur[h, x, 0] == pytest.approx(0.5 * (re - rs), abs=atol), (part, pol, h, x)
                assert src[h, x, 0] == pytest.approx(0.5 * (re + rs), abs=atol), (part, pol, h, x)


# ---------------------------------------------------------------- against the dense Peierls solve
def test_merged_rows_and_cells_against_dense_peierls():
    """Two sites at different y (and x) positions, bonds (0, 2) and (2, -1): slices merge m_x = 2 cells and
    m_y = 2 rows; the response is per real E_y (a dh/dK velocity of the super-lattice would be off)."""
    rng = np.random.default_rng(3)
    N_x = 4
    orbs, cells = random_sites(rng, 2, max_orb=2, per_x=N_x)
    cells = [(c[0], Site(c[1].name, (0.45, 0.35, 0.2), c[1].onsite, c[1].generators)) for c in cells]
    hops = random_hoppings(rng, orbs, N_x, [(0, 0), (1, 0), (0, 1), (0, 2), (2, -1)], p=0.8, keep_last=True)
    if not any((h.start, h.end, h.offset[:2]) == ("s0", "s0", (0, 2)) for h in hops):
        hops.append(Hopping("s0", "s0", (0, 2), 0.5 * cplx(rng, N_x, orbs[0], orbs[0])))
    # an oblique stacking vector (allowed: the edges, spanned by a_y, stay parallel to E_y): x bonds carry
    # Peierls phases too
    sl = SiteLattice(cells, hops, N_y=4, vectors=[[1, 0.3, 0], [0, 1.0, 0], [0, 0, 1]])
    assert (sl.merge_x, sl.merge_y, sl.slice_N_y) == (2, 2, 2)
    T, eta = 0.3, 0.25
    resp = sl.respond(T, eta)
    assert isinstance(resp, SiteResponse) and resp.max_abs_residual < 1e-10
    dense, H, bonds = dense_response(sl, T, eta, axis=1)
    compare(sl, resp, dense, H, bonds)
    # the super-lattice velocity dh/dK (K = m_y k_y) is a different drive: its response differs
    wrong = solve_kubo(sl.slices, T, eta, sl.pairs, parts=("fermi_surface", "fermi_sea"))
    bad = SiteObservables(sl, wrong.bands["total"])
    assert np.abs(bad.current("z") - resp["total"].current("z")).max() > 1e-3


@pytest.mark.parametrize("field", ["y", "z"])
def test_film_against_dense_peierls(field):
    """A film with sites at different heights z, bonds along z and diagonal: E_y and E_z."""
    rng = np.random.default_rng(11)
    N_x = 2
    orbs, cells = random_sites(rng, 2, max_orb=2, per_x=N_x)
    cells = [(c[0], Site(c[1].name, (0.5, 0.25, 0.4), c[1].onsite, c[1].generators)) for c in cells]
    hops = random_hoppings(rng, orbs, N_x, [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, -1)], p=0.8, keep_last=True)
    sl = SiteLattice(cells, hops, N_y=3, N_z=3)
    T, eta = 0.3, 0.2
    resp = sl.respond(T, eta, field=field)
    assert resp.max_abs_residual < 1e-10
    dense, H, bonds = dense_response(sl, T, eta, axis="xyz".index(field))
    compare(sl, resp, dense, H, bonds)


@pytest.mark.parametrize("field", ["y", "z"])
def test_symmetric_film_uses_half_the_kz_grid(field):
    """Sites at z = 0 with mirror-symmetric z bonds: the k_z half-zone shortcut (parity +1 for E_y, -1 for
    E_z) gives the full-grid numbers."""
    rng = np.random.default_rng(2)
    eps = herm(rng, 2)
    gens = np.array([herm(rng, 2) for _ in range(3)])
    tz, tx, ty = herm(rng, 2), cplx(rng, 2, 2), cplx(rng, 2, 2)
    d = cplx(rng, 2, 2)
    cells = (Site("a", (0, 0, 0), eps, gens),)
    hops = [Hopping("a", "a", (1, 0, 0), tx), Hopping("a", "a", (0, 1, 0), ty), Hopping("a", "a", (0, 0, 1), tz),
            Hopping("a", "a", (1, 0, 1), d), Hopping("a", "a", (1, 0, -1), d)]
    sl = SiteLattice(cells, hops, N_x=3, N_y=3, N_z=4)
    assert sl.slices.z_symmetric
    full, half = sl.respond(0.3, 0.2, field=field, use_symmetry=False), sl.respond(0.3, 0.2, field=field)
    assert half.solution.k_z.size < full.solution.k_z.size
    for pol in POLS:
        np.testing.assert_allclose(half["total"].current(pol), full["total"].current(pol), atol=1e-12)
        np.testing.assert_allclose(half["total"].density(pol), full["total"].density(pol), atol=1e-12)


# ---------------------------------------------------------------- multi-site cells = one site per cell
def _column_response(lat, T, eta):
    sol = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES))
    return {p: Observables(lat, b) for p, b in sol.bands.items()}


@pytest.mark.parametrize("basis", ["orbital", "spin"])
def test_multi_site_cells_equal_one_site_per_cell(basis):
    rng = np.random.default_rng(7)
    lat = random_lattice(rng, basis, 4, 6, "fm")
    T, eta = 0.2, 0.15
    ref = _column_response(lat, T, eta)
    one = from_column_lattice(lat)
    r1 = one.respond(T, eta)
    many, wx = regroup_x(one, 2)  # columns 2X, 2X + 1 as the two sites of cell X (a_x = 2)
    r2 = many.respond(T, eta)
    tall, wy = regroup_y(one, 2)  # rows y, y + 1 as two sites (a_y = 2, N_y / 2 cells)
    r3 = tall.respond(T, eta)
    for part in ("total", "fermi_surface", "fermi_sea", "drive"):
        obs = ref[part]
        for pol in POLS:
            d = obs.density(pol)
            np.testing.assert_allclose(r1[part].density(pol)[:, 0, 0], d, atol=1e-11)
            np.testing.assert_allclose(r2[part].density(pol)[:, 0, :].reshape(-1), d, atol=1e-11)
            for b in range(2):
                np.testing.assert_allclose(r3[part].density(pol)[:, 0, b], d, atol=1e-11)
            for h, (_, _, bond, _) in enumerate(one.hoppings):
                c = obs.evaluate("current", pol, bond)
                np.testing.assert_allclose(r1[part].current(pol)[h, : c.size, 0], c, atol=1e-11)
            for hh, (h, a) in enumerate(wx):
                c = obs.evaluate("current", pol, one.hoppings[h][2])[a::2]
                np.testing.assert_allclose(r2[part].current(pol)[hh, : c.size, 0], c, atol=1e-11)
            for hh, (h, b) in enumerate(wy):
                c = obs.evaluate("current", pol, one.hoppings[h][2])
                np.testing.assert_allclose(r3[part].current(pol)[hh, : c.size, 0], c, atol=1e-11)
    for r in (r1, r2, r3):
        assert r.max_abs_residual < 1e-10


def test_one_site_per_cell_merged_rows_equal_unmerged():
    """A (0, 2) bond merges rows (m_y = 2); the same lattice written as two sites per cell (a_y = 2) needs no
    merge (m_y = 1): both must give the response per real E_y."""
    rng = np.random.default_rng(4)
    one = one_site(rng, 3, 6, [(1, 0), (0, 1), (0, 2), (1, -2)])
    assert one.merge_y == 2
    tall, wy = regroup_y(one, 2)
    assert tall.merge_y == 1
    r1, r2 = one.respond(0.25, 0.2), tall.respond(0.25, 0.2)
    for pol in POLS:
        for b in range(2):
            np.testing.assert_allclose(r2["total"].density(pol)[:, 0, b], r1["total"].density(pol)[:, 0, 0], atol=1e-11)
        for hh, (h, b) in enumerate(wy):
            np.testing.assert_allclose(r2["total"].current(pol)[hh], r1["total"].current(pol)[h], atol=1e-11)


# ---------------------------------------------------------------- balance check and bad input
def test_balance_is_checked():
    rng = np.random.default_rng(1)
    one = one_site(rng, 3, 4, [(1, 0), (0, 1)])
    good = one.respond(0.3, 0.2)
    b = good.balance("z")
    assert np.abs(b["relaxation"]).max() > 1e-3 and np.abs(b["residual"]).max() < 1e-12
    broken = good.solution
    broken.bands["drive"] = {k: 2 * v for k, v in broken.bands["drive"].items()}  # a wrong drive term
    with pytest.raises(BalanceError, match="balance"):
        SiteResponse(one, broken, "y")
    flagged = SiteResponse(one, broken, "y", check=False)
    assert flagged.max_abs_residual > 1e-3


def test_refuses_fields_without_periodic_direction():
    A = Site("A", (0, 0, 0), np.zeros((1, 1)))
    one = np.eye(1)
    finite = SiteLattice([A], [Hopping("A", "A", (1, 0), one), Hopping("A", "A", (0, 1), one)], N_x=2, width=3)
    with pytest.raises(ValueError, match="finite sample"):
        finite.respond(0.1, 0.1)
    strip = SiteLattice([A], [Hopping("A", "A", (1, 0), one), Hopping("A", "A", (0, 1), one)], N_x=2, N_y=3)
    with pytest.raises(ValueError, match="film"):
        strip.respond(0.1, 0.1, field="z")
    with pytest.raises(ValueError, match="field direction"):
        strip.respond(0.1, 0.1, field="x")
    # edges along a_y = (0.3, 1, 0): E_y would cross them (charge pushed against the open axis)
    crossing = SiteLattice([A], [Hopping("A", "A", (1, 0), one), Hopping("A", "A", (0, 1), one)], N_x=2, N_y=3, vectors=[[1, 0, 0], [0.3, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"crosses the open surfaces.*a_y x a_z"):
        crossing.respond(0.1, 0.1)
    # a sheared stacking vector with edges parallel to E_y is a legitimate geometry (fcc (111) films...)
    tilted = SiteLattice([A], [Hopping("A", "A", (1, 0), one), Hopping("A", "A", (0, 1), one)], N_x=2, N_y=3, vectors=[[1, 0.5, 0], [0, 1, 0], [0, 0, 1]])
    assert tilted.respond(0.1, 0.1).max_abs_residual < 1e-10
    with pytest.raises(ValueError, match="eta"):
        strip.respond(0.1, 0.0)
    with pytest.raises(ValueError, match="part"):
        strip.respond(0.1, 0.1)["sea"]
