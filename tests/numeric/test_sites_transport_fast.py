"""Fast paths of the site-lattice transport (orbsym.numeric.sites_transport) against their slow paths:
a lead read from a two-slice window of its source equals the lead read from the source's whole chain."""

import numpy as np
import pytest

from orbsym.numeric.disorder import Anderson, RandomHopping, Vacancies, realize
from orbsym.numeric.sites import Hopping, Site, SiteLattice
from orbsym.numeric.sites_transport import SiteLead, _slice_window, site_transport


def herm(rng, n):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return a + a.conj().T


def cplx(rng, *shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def _lattices(rng):
    n = 2
    gens = np.array([herm(rng, n) for _ in range(3)])
    site = Site("a", (0, 0), herm(rng, n), gens)
    tx, ty, tu = cplx(rng, n, n), 0.6 * cplx(rng, n, n), 0.3 * cplx(rng, n, n)
    strip = SiteLattice([site], [Hopping("a", "a", (1, 0), tx), Hopping("a", "a", (0, 1), ty), Hopping("a", "a", (1, 1), tu)], N_x=7, width=3)
    dirty = realize(strip, [Anderson(1.0), RandomHopping(0.3), Vacancies(0.1)], seed=2).lattice
    periodic = SiteLattice([(Site("a", (0, 0), herm(rng, n), gens),) for _ in range(6)],
                           [Hopping("a", "a", (1, 0), tx), Hopping("a", "a", (0, 1), ty), Hopping("a", "a", (1, -1), tu)], N_y=4)
    film = SiteLattice([(Site("a", (0, 0, 0), herm(rng, n), gens),) for _ in range(5)],
                       [Hopping("a", "a", (1, 0, 0), tx), Hopping("a", "a", (0, 1, 0), ty), Hopping("a", "a", (0, 0, 1), 0.7 * tx),
                        Hopping("a", "a", (1, 0, 1), tu)], N_y=2, N_z=3)
    merged = SiteLattice([(Site("A", (0, 0), herm(rng, n), gens), Site("B", (0.5, 0), herm(rng, n), gens)) for _ in range(8)],
                         [Hopping("A", "B", (0, 0), tx), Hopping("B", "A", (1, 0), tx), Hopping("A", "A", (2, 0), tu),
                          Hopping("A", "A", (0, 1), ty)], width=2)
    return {"strip": strip, "dirty": dirty, "periodic": periodic, "film": film, "merged": merged}


@pytest.mark.parametrize("name", ["strip", "dirty", "periodic", "film", "merged"])
def test_windowed_lead_equals_the_whole_chain(name):
    rng = np.random.default_rng(11)
    src = _lattices(rng)[name]
    P = src.n_slices
    for X in (0, 1, P // 2, P - 1):
        for side in ("left", "right"):
            fresh = SiteLattice.__new__(SiteLattice)
            fresh.__dict__.update(src.__dict__)
            fresh._slices = None  # a copy whose chain is not built: the windowed path
            lo = min(X, SiteLead(src, X, side).pair[0])
            assert _slice_window(fresh, lo, lo + 2) is not None or P == 2
            kz = [0.0, 2 * np.pi / 3] if src.transverse_dimension == 2 else [None]
            for k in kz:
                a = SiteLead(fresh, X, side).lead(k)
                assert fresh._slices is None  # the source's whole chain was not built
                b = SiteLead(src, X, side).lead(k)  # the whole chain (built)
                for attr in ("onsite", "hop_x", "hop_y", "hop_up", "hop_down"):
                    np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_transport_with_a_long_clean_lead_source():
    """Leads continued from another (long, clean) lattice: the same result as with its chain built."""
    rng = np.random.default_rng(5)
    lat = _lattices(rng)
    clean, dirty = lat["strip"], lat["dirty"]
    fresh = SiteLattice.__new__(SiteLattice)
    fresh.__dict__.update(clean.__dict__)
    fresh._slices = None
    clean.slices  # noqa: B018 -- build the chain of the reference source
    a = site_transport(dirty, T=0.0, mu=0.3, left=(fresh, 0), right=(fresh, fresh.n_slices - 1))
    b = site_transport(dirty, T=0.0, mu=0.3, left=(clean, 0), right=(clean, clean.n_slices - 1))
    assert fresh._slices is None
    assert a.conductance()["total"] == pytest.approx(b.conductance()["total"], rel=1e-12, abs=1e-14)
    for part in b.parts:
        for pol in (None, "z"):
            np.testing.assert_allclose(a[part].density(pol), b[part].density(pol), rtol=0, atol=1e-13)
            np.testing.assert_allclose(a[part].current(pol), b[part].current(pol), rtol=0, atol=1e-13)


def test_window_that_would_merge_differently_is_refused():
    """A bond family reaching dx = 2 only far from the window: the window alone would slice by 1 cell, so
    the whole chain is used (None) and the lead still equals the chain's."""
    rng = np.random.default_rng(2)
    n = 2
    gens = np.array([herm(rng, n) for _ in range(3)])
    far = np.zeros((8, n, n), complex)
    far[6] = cplx(rng, n, n)  # the (2, 0) bond exists only from cell 6
    src = SiteLattice([Site("a", (0, 0), herm(rng, n), gens)], [Hopping("a", "a", (1, 0), cplx(rng, n, n)), Hopping("a", "a", (2, 0), far)],
                      N_x=8, width=2)
    assert src.merge_x == 2
    assert _slice_window(src, 0, 2) is None
    a = SiteLead(src, 0, "left").lead()
    np.testing.assert_array_equal(a.onsite, src.slices.onsite[0])
    np.testing.assert_array_equal(a.hop_x, src.slices.hop_x[0])


def test_public_helper_names_and_private_aliases():
    from orbsym.numeric import sites_transport as st

    assert st._lead_spec is st.lead_spec and st._n_equilibrium_points is st.n_equilibrium_points
    assert st._radius is st.spectral_radius_bound is st.radius
    assert {"lead_spec", "n_equilibrium_points", "spectral_radius_bound", "radius"} <= set(st.__all__)


def test_site_kernel_time_model():
    """The site-lattice estimate uses the vectorized site kernels (3e-7 s per M D^2), not the column ones."""
    from orbsym.numeric.budget import transport_estimate

    cols = transport_estimate(200, 1, 150, points=1, n_leads=2)
    sites = transport_estimate(200, 1, 150, points=1, n_leads=2, kernels="sites")
    assert sites.seconds < 10 < cols.seconds  # measured ~3.5 s (benchmarks/bench_disorder.py)
    with pytest.raises(ValueError, match="kernels"):
        transport_estimate(200, 1, 150, kernels="fast")


def test_batch_points_rule():
    from orbsym.numeric.negf import DENSE_BYTES, MAX_BATCH_BYTES, MIN_BATCH_POINTS, batch_points

    assert batch_points(DENSE_BYTES // 1000) == 1000  # the budget alone already gives large batches
    small = 4 * 2**20  # 32 points within the budget
    n = DENSE_BYTES // small
    assert MAX_BATCH_BYTES // small >= MIN_BATCH_POINTS > n
    assert batch_points(small) == MIN_BATCH_POINTS  # grown, still within MAX_BATCH_BYTES
    assert batch_points(small, grow=False) == n  # the dense solver is not grown
    assert batch_points(small, d=16) == n  # large blocks: not grown
    big = MAX_BATCH_BYTES // 4
    assert batch_points(big) == 4 and batch_points(10 * MAX_BATCH_BYTES) == 1


def test_results_independent_of_the_batch_size(monkeypatch):
    """Periodic y (several k) at T > 0 (several energies, poles): one point per batch equals all in one batch."""
    from orbsym.numeric import negf

    rng = np.random.default_rng(8)
    lat = _lattices(rng)["periodic"]
    out = []
    for mb, chunk in ((1, 1), (10**6, 2**40)):
        monkeypatch.setattr(negf, "MIN_BATCH_POINTS", mb)
        monkeypatch.setattr(negf, "MAX_BATCH_BYTES", chunk)
        monkeypatch.setattr(negf.OpenSystem.__init__, "__defaults__", (negf.DEFAULT_ETA, negf.dense_region_solver, chunk))
        out.append(site_transport(lat, T=0.1, n_energy=4, solver="rgf"))
    a, b = out
    assert a.conductance()["total"] == pytest.approx(b.conductance()["total"], rel=1e-12)
    for part in b.parts:
        for pol in (None, "z"):
            np.testing.assert_allclose(a[part].density(pol), b[part].density(pol), rtol=0, atol=1e-13)
            np.testing.assert_allclose(a[part].current(pol), b[part].current(pol), rtol=0, atol=1e-13)
