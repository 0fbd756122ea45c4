"""Films: the k_z sectors' open-system solves in common point batches (issue 23, item 2).

:func:`orbsym.numeric.film.sector_sum` records every sector's open-system quantities and solves them as one
stack of points (sectors x k_y x energies, :func:`orbsym.numeric.negf.run_jobs`).  Checked here against

* the sector-by-sector loop (``film.BATCH_SECTORS = False``) to 1e-12, for site-lattice films
  (:func:`orbsym.numeric.sites_transport.site_transport`: scattering window, equilibrium poles) and
  column-lattice films (:func:`orbsym.transport.transport`: linear response with the transmission's error
  estimate, finite bias);
* an independent recombination written here: each sector's open system solved alone (outside any
  batch), its k_y sum done here and the sectors summed with ``w / N_z`` and ``e^{i k_z dz}``; a wrong
  weight or phase in that sum is shown to differ by far more than the tolerance.
"""

import numpy as np
import pytest

from orbsym.numeric import film as film_module
from orbsym.numeric import negf
from orbsym.numeric.sites import Hopping, Site, SiteLattice

DIM = 2


def herm(rng, n, scale=1.0):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return scale * (a + a.conj().T) / 2


def cplx(rng, *shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def random_film(seed=3, N_x=5, N_y=3, N_z=4):
    """A random site-lattice film: complex z bonds (the full k_z grid), an x bond with a z step (the
    slice coupling depends on k_z) and a diagonal (1, 1, 0) bond (it depends on k_y)."""
    rng = np.random.default_rng(seed)
    eps = [herm(rng, DIM) for _ in range(N_x)]
    eps[1], eps[-2] = eps[0], eps[-1]  # the leads continue the end slices
    gens = np.array([herm(rng, DIM) for _ in range(3)])
    hops = [Hopping("a", "a", (1, 0, 0), cplx(rng, DIM, DIM)), Hopping("a", "a", (0, 1, 0), 0.5 * cplx(rng, DIM, DIM)),
            Hopping("a", "a", (0, 0, 1), 0.7 * cplx(rng, DIM, DIM)), Hopping("a", "a", (1, 0, 1), 0.3 * cplx(rng, DIM, DIM)),
            Hopping("a", "a", (1, 1, 0), 0.2 * cplx(rng, DIM, DIM))]
    return SiteLattice([(Site("a", (0, 0, 0), e, gens),) for e in eps], hops, N_y=N_y, N_z=N_z)


def loop_and_batch(monkeypatch, run):
    """``run()`` with the sectors one after the other, then batched."""
    with monkeypatch.context() as m:
        m.setattr(film_module, "BATCH_SECTORS", False)
        ref = run()
    return ref, run()


def assert_bands_equal(a, b, atol=1e-12):
    assert set(a) == set(b)
    for p in a:
        np.testing.assert_allclose(a[p], b[p], rtol=0, atol=atol)


def test_site_film_batched_equals_sector_loop(monkeypatch):
    from orbsym.numeric.sites_transport import site_transport

    lat = random_film()
    calls = []
    orig = negf._run_group
    monkeypatch.setattr(negf, "_run_group", lambda js: (calls.append(len(js)), orig(js))[1])
    ref, bat = loop_and_batch(monkeypatch, lambda: site_transport(lat, T=0.1, bias=0.3, n_energy=10))
    assert not lat.slices.z_symmetric and len(bat.sectors) == 4
    # the loop solves each sector's window and equilibrium alone; the batch one stack of 4 sectors per quantity
    assert calls[: 2 * 4] == [1] * 8 and calls[8:] == [4, 4]
    assert abs(bat.landauer_current()) > 1e-3
    assert bat.landauer_current() == pytest.approx(ref.landauer_current(), rel=0, abs=1e-12)
    for part in ("window", "equilibrium", "total"):
        assert_bands_equal(ref[part].bands, bat[part].bands)
    assert bat.max_balance_residual < 1e-10


def test_site_film_independent_recombination():
    """The batched film bands equal sum_{k_z} (1/N_z) e^{i k_z dz} G_{k_z}, each sector solved alone here;
    a wrong sector weight or k_z phase is far off (the check sees them)."""
    from orbsym.numeric.sites_transport import site_transport

    lat = random_film(seed=5)
    res = site_transport(lat, T=0.1, bias=0.3, n_energy=10)
    E, w = negf.window_rule(res.mu_L, res.mu_R, res.T, 10, bounds=res.sectors[0].open.spectral_bounds())
    N_y, N_z = lat.N_y, lat.N_z
    kz = 2 * np.pi * np.arange(N_z) / N_z
    assert np.allclose([s.k_z for s in res.sectors], kz)
    per = []  # per sector: {(dx, dy): G_kz(x, x+dx; dy)} from its own open system, solved alone
    for s in res.sectors:
        op = s.open
        Es, ws = negf.window_rule(res.mu_L, res.mu_R, res.T, 10, bounds=op.spectral_bounds())
        blocks, _ = op.scattering_blocks(Es, ws, np.zeros_like(ws), (-1, 0, 1))
        k = op.k
        bands = {}
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                ph = np.exp(1j * k * dy) if not op.symmetric else np.cos(k * dy)
                bands[dx, dy] = np.einsum("k,kxab->xba", op.weights * ph / N_y, blocks[dx])
        per.append(bands)
    got = res["window"].bands
    keys = [p for p in got if p[2] != 0 and (p[0], p[1]) in per[0]]
    assert keys, "the test needs z-bonds"

    def combine(weight, sign):
        return {p: sum(weight[j] * np.exp(sign * 1j * kz[j] * p[2]) * per[j][p[0], p[1]] for j in range(N_z)) for p in keys}

    good = combine(np.full(N_z, 1.0 / N_z), 1)
    for p in keys:
        np.testing.assert_allclose(got[p], good[p], rtol=0, atol=1e-12)
    wrong_w = np.full(N_z, 1.0 / N_z)
    wrong_w[1] *= 2
    for bad in (combine(wrong_w, 1), combine(np.full(N_z, 1.0 / N_z), -1)):
        assert max(np.abs(got[p] - bad[p]).max() for p in keys) > 1e-4


def test_column_film_transport_batched_equals_sector_loop(monkeypatch):
    from orbsym.systems import trilayer
    from orbsym.transport import attach_leads, transport

    s = trilayer(N_x=6, N_y=3, N_z=4, gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R=(0.6, -0.2, 0.4))
    leaded = attach_leads(s)
    for kw in (dict(T=0.05, n_energy=4), dict(T=0.05, bias=0.2, n_energy=10)):
        ref, bat = loop_and_batch(monkeypatch, lambda: transport(leaded, **kw))
        assert len(bat.sectors) == 3  # 0 <= k_z <= pi of N_z = 4
        assert_bands_equal(ref.bands, bat.bands)
        assert bat.landauer_current() == pytest.approx(ref.landauer_current(), rel=0, abs=1e-12)
        assert bat.info["energy_error_estimate"]["abs"] == pytest.approx(ref.info["energy_error_estimate"]["abs"], rel=0, abs=1e-12)


def test_replay_mismatch_is_solved_alone():
    """A replayed call whose arguments differ from the recorded one is solved on its own (never the recorded output)."""
    from orbsym.numeric.sites_transport import SiteLead

    lat = random_film(seed=7).slices.sector(0.3)
    src = random_film(seed=7)
    op = negf.OpenSystem(lat, SiteLead(src, 0, "left").lead(0.3), SiteLead(src, -1, "right").lead(0.3))
    E1, E2 = np.array([0.1, 0.2]), np.array([0.15])
    rec = negf.SectorBatch()
    with rec.recording():
        placeholder = op.transmission(E1)
    assert rec.recorded == 1 and not placeholder.any()
    rec.run()
    with rec.replaying():
        other = op.transmission(E2)
        same = op.transmission(E1)
    np.testing.assert_allclose(other, op.transmission(E2), rtol=0, atol=1e-14)
    np.testing.assert_allclose(same, op.transmission(E1), rtol=0, atol=1e-14)
    assert other.shape == (op.k.size, 1) and same.any()


def test_groups_and_fallbacks_equal_the_loop(monkeypatch):
    """A group budget of one sector (every sector flushed alone), a failing common solve (each sector then
    solved on its own) and a sector whose recording pass raises all give the loop's bands."""
    from orbsym.numeric.sites_transport import site_transport

    lat = random_film(seed=11, N_x=4, N_y=2, N_z=3)
    run = lambda: site_transport(lat, T=0.1, n_energy=4)  # noqa: E731
    ref, _ = loop_and_batch(monkeypatch, run)
    sizes = []
    orig = negf._run_group
    monkeypatch.setattr(negf, "_run_group", lambda js: (sizes.append(len(js)), orig(js))[1])
    with monkeypatch.context() as m:
        m.setattr(film_module, "SECTOR_GROUP_BYTES", 1)
        one_by_one = run()
    assert sizes and set(sizes) == {1}
    sizes.clear()
    with monkeypatch.context() as m:
        m.setattr(negf.SectorBatch, "run", lambda self: (_ for _ in ()).throw(RuntimeError("batch failed")))
        fallback = run()
    assert set(sizes) == {1}
    calls = {"n": 0}
    orig_rec = negf.SectorBatch.recording

    def flaky(self):  # the second sector's recording pass fails
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("recording failed")
        return orig_rec(self)

    with monkeypatch.context() as m:
        m.setattr(negf.SectorBatch, "recording", flaky)
        partial = run()
    for res in (one_by_one, fallback, partial):
        for part in ref.parts:
            assert_bands_equal(ref[part].bands, res[part].bands)


# ---------------------------------------------------------------- film equilibrium: Green's-function sweeps of stacked sectors
@pytest.mark.parametrize("T, kw", [(0.05, {}), (0.0, {}), (0.1, dict(vectors=False)), (0.1, dict(N_y=None, tol=1e-6)),
                                   (0.2, dict(N_z=None, tol=1e-6)), (0.05, dict(use_symmetry=False))])
def test_film_greens_stacked_sectors_equal_sector_loop(monkeypatch, T, kw):
    """solve_film(engine="greens"): the sectors' sweeps stacked (greens.solve_greens_sectors) equal the loop of
    solve_greens per sector (F, N and every band), with stacks of several sectors."""
    from orbsym.numeric import greens
    from orbsym.numeric.film import solve_film
    from orbsym.systems import trilayer

    lat = trilayer(N_x=6, N_y=4, N_z=5, gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R=(0.6, -0.2, 0.4)).lattice
    pairs = [(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 1), (0, 0, 1), (1, 0, 1)]
    stacks = []
    orig = greens._sweep
    monkeypatch.setattr(greens, "_sweep", lambda plans, *a: (stacks.append(len(plans)), orig(plans, *a))[1])
    ref, bat = loop_and_batch(monkeypatch, lambda: solve_film(lat, T, pairs, engine="greens", **kw))
    assert max(stacks) > 1  # the batched run stacked sectors
    assert bat.free_energy() == pytest.approx(ref.free_energy(), rel=1e-13, abs=1e-12)
    if kw.get("vectors", True):
        assert bat.particle_number() == pytest.approx(ref.particle_number(), rel=1e-13, abs=1e-12)
        assert_bands_equal(ref.bands, bat.bands)
    assert [s.points for s in bat.sectors] == [s.points for s in ref.sectors]


def test_greens_sectors_stacks_of_mixed_sizes(monkeypatch):
    """solve_greens_sectors with stacks cut by STACK_POINTS (sectors of different pole counts) equals
    solve_greens one lattice at a time; a wrong sector in a stack (another k_z) is seen."""
    from orbsym.numeric import greens
    from orbsym.systems import trilayer

    lat = trilayer(N_x=5, N_y=3, N_z=6, gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R=(0.6, -0.2, 0.4)).lattice
    secs = [lat.sector(k) for k in (0.0, 1.1, 2.0, np.pi)]
    pairs = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    alone = [greens.solve_greens(s, 0.07, pairs) for s in secs]
    monkeypatch.setattr(greens, "STACK_POINTS", int(alone[0].points + alone[1].points))
    got = greens.solve_greens_sectors(secs, 0.07, pairs)
    for a, b in zip(alone, got):
        assert b.free_energy() == pytest.approx(a.free_energy(), rel=1e-13, abs=1e-12)
        assert_bands_equal(a.bands, b.bands)
    assert np.abs(got[1].bands[0, 1] - alone[2].bands[0, 1]).max() > 1e-6
