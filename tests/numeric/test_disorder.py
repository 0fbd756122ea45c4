"""Disorder on finite samples (orbsym.numeric.disorder): draws, reproducibility, explicit arrays, the
per-site balance in every realization, and the clean limit."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.numeric.disorder import (
    Anderson, MagneticTexture, Potential, RandomHopping, Substitution, VacancyMask, Vacancies, realize,
)
from orbsym.numeric.sites import Hopping, Site, SiteLattice

FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
L = np.array([  # t2g L of Eq. 2 (a J with a nonzero exchange torque)
    [[0, 0, 0], [0, 0, 1j], [0, -1j, 0]],
    [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]],
    [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]],
])


def sample(N_x=5, width=3, seed=0):
    """Two sites per cell (a 3-orbital 'metal' site and a 1-orbital 's' site) with x, y and diagonal bonds."""
    rng = np.random.default_rng(seed)
    eps = np.diag([0.1, -0.2, 0.3])
    cell = (Site("m", (0, 0, 0), eps, L), Site("s", (0.5, 0.3, 0), [[0.4]]))
    tx = -np.diag([0.3, 1.0, 1.0]) + 0.1 * rng.standard_normal((3, 3))
    hops = [Hopping("m", "m", (1, 0), tx), Hopping("m", "m", (0, 1), -np.diag([1.0, 0.3, 1.0])),
            Hopping("m", "s", (0, 0), [[0.5], [0.2], [0.0]]), Hopping("s", "m", (1, 1), [[0.3, 0.1, 0.2]])]
    return SiteLattice(cell, hops, N_x=N_x, width=width)


ALL = (Anderson(0.8), Anderson(0.3, "gaussian", per_orbital=True, sites="m"), RandomHopping(0.4), Vacancies(0.1, sites="s"),
       Substitution(0.3, "s", [[1.5]]), MagneticTexture(0.7, cone=1.0, sites="m"))


def test_zero_strength_is_the_clean_sample():
    lat = sample()
    r = realize(lat, (Anderson(0.0), RandomHopping(0.0), Vacancies(0.0), MagneticTexture(0.0)), seed=3)
    a, b = lat.solve(0.1), r.lattice.solve(0.1)
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-13)
    np.testing.assert_allclose(b.density("z"), a.density("z"), atol=1e-13)


def test_reproducible_and_streams_independent():
    lat = sample()
    a = realize(lat, ALL, seed=11)
    b = realize(lat, ALL, seed=11)
    c = realize(lat, ALL, seed=12)
    for s in range(2):
        np.testing.assert_array_equal(a.onsite_shift[s], b.onsite_shift[s])
    assert not np.allclose(a.onsite_shift[0], c.onsite_shift[0])
    # appending a term keeps the draws of the terms before it
    d = realize(lat, ALL[:1], seed=11)
    e = realize(lat, ALL[:1] + (Vacancies(0.5),), seed=11)
    np.testing.assert_array_equal(d.onsite_shift[0], e.onsite_shift[0])
    assert all(r["seed"] == 11 for r in a.record) and [r["kind"] for r in a.record][:3] == ["Anderson", "Anderson", "RandomHopping"]


def test_anderson_statistics():
    lat = sample(N_x=40, width=25)
    r = realize(lat, Anderson(2.0), seed=5)
    V = r.onsite_shift[0][..., 0, 0].ravel()
    assert np.all(np.abs(V) <= 1.0) and abs(V.mean()) < 0.05 and V.var() == pytest.approx(4 / 12, rel=0.1)
    # orbital-independent: the same V on every orbital of a site
    np.testing.assert_array_equal(r.onsite_shift[0][..., 1, 1], r.onsite_shift[0][..., 0, 0])
    g = realize(lat, Anderson(0.5, "gaussian", per_orbital=True), seed=5).onsite_shift[0]
    assert g[..., 0, 0].std() == pytest.approx(0.5, rel=0.1) and not np.allclose(g[..., 0, 0], g[..., 1, 1])


def test_explicit_arrays_equal_the_drawn_configuration():
    """A user's configuration (Potential, VacancyMask, per-bond matrices) rebuilds the drawn one exactly."""
    lat = sample()
    r = realize(lat, ALL, seed=21)
    pots = [Potential(name, r.onsite_shift[s]) for s, name in enumerate(lat.names)]
    hops = []
    for h, (i, j, off, T) in enumerate(lat.hoppings):
        hops.append(Hopping(lat.names[i], lat.names[j], off, np.broadcast_to(T[:, None], (lat.N_x, lat.width) + T.shape[1:]) * r.hopping_factor[h][..., None, None]))
    manual = SiteLattice(lat.cells, hops, width=lat.width)
    again = realize(manual, pots + [VacancyMask(r.vacant)])
    a, b = r.lattice.solve(0.2), again.lattice.solve(0.2)
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-12)
    for pol in (None, "x", "z"):
        np.testing.assert_allclose(a.density(pol), b.density(pol), atol=1e-12)
        np.testing.assert_allclose(a.current(pol), b.current(pol), atol=1e-12)


@FAST
@given(seed=st.integers(0, 2**31))
def test_per_site_balance_in_every_realization(seed):
    r = realize(sample(N_x=4, width=3), ALL, seed=seed)
    obs = r.lattice.solve(0.15)
    for pol in "xyz":
        assert np.max(np.abs(obs.continuity_residual(pol))) < 1e-10
    # the exchange torque of the texture is present and balanced
    assert np.abs(obs.onsite_torque("x")).max() > 1e-4


def test_texture_cone_and_uniform_limit():
    lat = sample(N_x=6, width=4)
    u = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    r = realize(lat, MagneticTexture(0.9, cone=0.0, direction=u, sites="m"), seed=1)
    expect = -0.9 * np.einsum("a,aij->ij", u, L)
    np.testing.assert_allclose(r.onsite_shift[0], np.broadcast_to(expect, r.onsite_shift[0].shape), atol=1e-14)
    wide = realize(lat, MagneticTexture(1.0, cone=0.4, direction=(0, 0, 1), sites="m"), seed=2).onsite_shift[0]
    mz = -np.einsum("xyij,ji->xy", wide, L[2]).real / np.trace(L[2] @ L[2]).real  # recover m_z from -m.L
    assert np.all(mz >= math.cos(0.4) - 1e-12) and np.all(mz <= 1 + 1e-12)


def test_substitution_and_vacancy_counts():
    lat = sample(N_x=30, width=20)
    r = realize(lat, (Substitution(0.25, "s", [[2.0]]), Vacancies(0.1, sites="m")), seed=4)
    n_imp = r.record[0]["impurities"]
    assert n_imp == pytest.approx(0.25 * 600, abs=40)
    eps = r.lattice.site_onsite("s")[..., 0, 0].real
    assert np.sum(np.isclose(eps, 2.0)) == n_imp and np.all(np.isclose(eps, 2.0) | np.isclose(eps, 0.4))
    assert r.vacant[:, :, 0].mean() == pytest.approx(0.1, abs=0.03) and not r.vacant[:, :, 1].any()


def test_refusals():
    lat = sample()
    with pytest.raises(ValueError, match="seed is required"):
        realize(lat, Anderson(1.0))
    # a periodic sample is taken through its Gamma-only supercell (tests/numeric/test_disorder_periodic.py)
    r = realize(SiteLattice(lat.sites, [Hopping("m", "m", (1, 0), np.eye(3))], N_x=3, N_y=4), Anderson(1.0), seed=1)
    assert r.supercell is not None and r.lattice.N_y == 1 and len(r.lattice.sites) == 4 * len(lat.sites)
    with pytest.raises(ValueError, match=r"concentration must be in \[0, 1\], got 1.5"):
        Vacancies(1.5)
    with pytest.raises(ValueError, match="distribution"):
        Anderson(1.0, "lorentzian")
    with pytest.raises(ValueError, match=r"\(N_x, width\) = \(5, 3\)"):
        realize(lat, Potential("m", np.zeros((5, 4))))
    with pytest.raises(ValueError, match="boolean array"):
        realize(lat, VacancyMask(np.zeros((5, 3, 2), int)))
    with pytest.raises(ValueError, match="Hermitian"):
        realize(lat, Substitution(0.5, "s", [[1.0, 0.0]]), seed=1)
    with pytest.raises(TypeError, match="disorder terms"):
        realize(lat, ["anderson"], seed=1)


# ---------------------------------------------------------------- exact engines on explicit random configurations
def test_greens_engine_equals_dense_on_a_realization():
    """The slice Green's-function engine (poles x block LU) against the dense solve, every kernel per site and bond."""
    r = realize(sample(N_x=6, width=2), (Anderson(0.9), RandomHopping(0.3), Vacancies(0.15), MagneticTexture(0.5, sites="m")), seed=7)
    lat = r.lattice
    a, b = lat.solve(0.1, engine="dense"), lat.solve(0.1, engine="greens")
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-10)
    for pol in (None, "x", "y", "z"):
        for what in ("density", "current", "source", "onsite_torque") if pol else ("density", "current"):
            np.testing.assert_allclose(getattr(b, what)(pol), getattr(a, what)(pol), atol=1e-10, err_msg=f"{what} {pol}")


def test_transport_through_a_realization_rgf_equals_dense_and_is_balanced():
    """Clean leads on a disordered finite strip: the RGF and dense region solvers agree, the interior
    balance and the boundary current = Landauer current hold (checked by site_transport)."""
    from orbsym.numeric.sites_transport import site_transport

    clean = sample(N_x=6, width=2)
    r = realize(clean, (Anderson(1.2), RandomHopping(0.3)), seed=9)
    kw = dict(T=0.0, mu=0.2, left=(clean, 0), right=(clean, clean.n_slices - 1))
    a = site_transport(r.lattice, solver="rgf", **kw)
    b = site_transport(r.lattice, solver="dense", **kw)
    assert a.max_balance_residual < 1e-9 and a.max_boundary_mismatch < 1e-9
    for pol in (None, "z"):
        np.testing.assert_allclose(a["response"].density(pol), b["response"].density(pol), atol=1e-10)
        np.testing.assert_allclose(a["response"].current(pol), b["response"].current(pol), atol=1e-10)
