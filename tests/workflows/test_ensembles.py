"""Disorder ensembles (orbsym.workflows.ensembles): per-realization values against direct solves, the
statistics, the balance check and the clean limit."""

import functools

import numpy as np
import pytest

from orbsym.numeric.disorder import Anderson, RandomHopping, Vacancies, realize
from orbsym.numeric.sites import BalanceError, Hopping, Site, SiteLattice
from orbsym.workflows.ensembles import ensemble

L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]], [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])


def clean(N_x=4, width=2):
    cell = (Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]), L),)
    hops = [Hopping("m", "m", (1, 0), -np.diag([0.4, 1.0, 1.0])), Hopping("m", "m", (0, 1), -np.diag([1.0, 0.4, 1.0])),
            Hopping("m", "m", (1, 1), 0.2 * np.ones((3, 3)))]
    return SiteLattice(cell, hops, N_x=N_x, width=width)


DIS = (Anderson(1.0), RandomHopping(0.3), Vacancies(0.1))


def test_realizations_equal_direct_solves_and_statistics():
    ds = ensemble(clean, DIS, [3, 8, 21], T=0.1)
    assert list(ds.realization.values) == [3, 8, 21]
    for r, seed in enumerate([3, 8, 21]):
        obs = realize(clean(), DIS, seed=seed).lattice.solve(0.1)
        assert ds.free_energy.values[r] == pytest.approx(obs.free_energy(), abs=1e-12)
        np.testing.assert_allclose(ds.density.values[r, 3], obs.density("z"), atol=1e-12)
    d = ds.density.values
    np.testing.assert_allclose(ds.density_mean.values, d.mean(0), atol=1e-14)
    np.testing.assert_allclose(ds.density_stderr.values, d.std(0, ddof=1) / np.sqrt(3), atol=1e-14)
    assert ds.free_energy_stderr.item() > 0
    assert ds.density_mean.attrs["units"] == ds.density.attrs["units"] and "3 realizations" in ds.density_mean.attrs["description"]
    assert "Anderson" in ds.attrs["disorder"] and ds.attrs["realizations"] == 3


def test_clean_limit_has_no_spread():
    ds = ensemble(functools.partial(clean, 3, 2), Anderson(0.0), 3, T=0.1, observables=("free_energy",))
    ref = clean(3, 2).solve(0.1).free_energy()
    np.testing.assert_allclose(ds.free_energy.values, ref, atol=1e-13)
    assert ds.free_energy_stderr.item() == pytest.approx(0.0, abs=1e-13)


def test_balance_is_checked_in_every_realization():
    with pytest.raises(BalanceError, match="seed=0"):
        ensemble(clean, DIS, 2, T=0.1, observables=("free_energy",), tol=0.0)


def test_refusals():
    with pytest.raises(ValueError, match="distinct integers"):
        ensemble(clean, DIS, [1, 1], T=0.1)
    with pytest.raises(ValueError, match=">= 1"):
        ensemble(clean, DIS, 0, T=0.1)
    with pytest.raises(TypeError, match="disorder must be"):
        ensemble(clean, "anderson", 2, T=0.1)


def test_average_independent_of_the_worker_count():
    serial = ensemble(clean, DIS, 4, T=0.1, observables=("free_energy", "boundary_current"))
    pooled = ensemble(clean, DIS, 4, T=0.1, observables=("free_energy", "boundary_current"), workers=2)
    for var in ("free_energy", "boundary_current_mean", "boundary_current_stderr"):
        np.testing.assert_array_equal(pooled[var].values, serial[var].values)


# ----------------------------------------------------------------------------- resumable store, NetCDF output
import json  # noqa: E402

import xarray as xr  # noqa: E402

from orbsym.numeric.disorder import VacancyMask  # noqa: E402
from orbsym.numeric.sites_transport import site_transport  # noqa: E402
from orbsym.workflows.ensembles import DisconnectedError, check_connected  # noqa: E402
from orbsym.workflows.sweeps.core import SweepError  # noqa: E402
from orbsym.workflows.sweeps.store import SweepStateError  # noqa: E402

CALLS = []
FAIL_AT = {"call": None}


def counted():
    """The clean sample, counting calls; raises at call number FAIL_AT["call"] (a run killed part way)."""
    CALLS.append(1)
    if len(CALLS) == FAIL_AT["call"]:
        raise RuntimeError("killed part way")
    return clean(3, 2)


def interrupted(out, seeds=6, T=0.1):
    """An ensemble of 6 realizations in chunks of 2 whose 4th realization dies: parts 0-1, 2 and 4-5 are stored."""
    CALLS.clear()
    FAIL_AT["call"] = 1 + 4  # the parent's call, then one per realization
    try:
        with pytest.raises(SweepError, match=r"(?s)1 of 6 disorder realizations failed.*\"seed\": 3}: RuntimeError: killed part way"):
            ensemble(counted, DIS, seeds, T=T, out=out, chunk=2)
    finally:
        FAIL_AT["call"] = None
    CALLS.clear()


def test_resume_reuses_the_stored_realizations_and_gives_identical_numbers(tmp_path):
    out = tmp_path / "e.nc"
    interrupted(out)
    assert not out.exists() and len(list((tmp_path / "e.nc.parts").glob("points_*.npz"))) == 3
    ds = ensemble(counted, DIS, 6, T=0.1, out=out, chunk=2)
    assert len(CALLS) == 1 + 1  # the parent's clean sample and the one missing realization only
    ref = ensemble(functools.partial(clean, 3, 2), DIS, 6, T=0.1)
    for var in ("free_energy", "density", "boundary_current", "density_mean", "density_stderr", "free_energy_stderr", "balance_residual"):
        np.testing.assert_array_equal(ds[var].values, ref[var].values)
    assert out.is_file() and not (tmp_path / "e.nc.parts").exists()
    CALLS.clear()
    again = ensemble(counted, DIS, 6, T=0.1, out=out, chunk=2)  # complete: read back, nothing solved
    assert len(CALLS) == 1
    np.testing.assert_array_equal(again.density_mean.values, ref.density_mean.values)


def test_foreign_or_corrupt_parts_are_refused_with_the_recovery(tmp_path):
    out = tmp_path / "e.nc"
    interrupted(out)
    for other in (dict(T=0.2), dict(disorder=(Anderson(1.0),)), dict(seeds=[0, 1, 2, 3, 4, 7])):
        kw = dict(disorder=DIS, seeds=6, T=0.1, out=out, chunk=2) | other
        with pytest.raises(SweepStateError, match="different sweep.*restart=True"):
            ensemble(counted, **kw)
    assert len(CALLS) == 3  # the parents' clean samples only: no realization ran
    part = sorted((tmp_path / "e.nc.parts").glob("points_*.npz"))[0]
    part.write_bytes(part.read_bytes()[:50])
    with pytest.raises(SweepStateError, match="corrupt or truncated.*restart=True"):
        ensemble(counted, DIS, 6, T=0.1, out=out, chunk=2)
    ds = ensemble(counted, DIS, 6, T=0.2, out=out, chunk=2, restart=True)
    ref = ensemble(functools.partial(clean, 3, 2), DIS, 6, T=0.2, observables=("free_energy",))
    np.testing.assert_array_equal(ds.free_energy.values, ref.free_energy.values)


def test_netcdf_has_units_descriptions_dimensions_and_the_record(tmp_path):
    out = tmp_path / "e.nc"
    ensemble(clean, DIS, [4, 9, 11], T=0.1, out=out, engine="greens")
    with xr.open_dataset(out, engine="scipy") as ds:
        ds.load()
    for name in list(ds.data_vars) + ["realization"]:
        assert ds[name].attrs.get("units") and ds[name].attrs.get("description"), name
    assert ds.density.dims == ("realization", "polarization", "x", "row", "site")
    assert ds.density_mean.dims == ("polarization", "x", "row", "site") and list(ds.realization.values) == [4, 9, 11]
    record = json.loads(ds.attrs["disorder"])
    assert [r["kind"] for r in record] == ["Anderson", "RandomHopping", "Vacancies"] and record[2]["concentration"] == 0.1
    assert ds.attrs["engine"].startswith("greens") and ds.attrs["T"] == 0.1 and ds.attrs["realizations"] == 3
    ref = ensemble(clean, DIS, [4, 9, 11], T=0.1)
    np.testing.assert_allclose(ds.density_mean.values, ref.density_mean.values, atol=1e-12)


# ----------------------------------------------------------------------------- transport ensembles
def test_transport_ensemble_equals_site_transport_per_seed():
    tds = ensemble(clean, DIS, [2, 5], T=0.1, transport=dict(mu=0.3, n_energy=4))
    c = clean()
    for r, seed in enumerate([2, 5]):
        res = site_transport(realize(c, DIS, seed=seed).lattice, T=0.1, mu=0.3, n_energy=4, left=(c, 0), right=(c, -1))
        assert tds.conductance.values[r] == pytest.approx(res.conductance()["total"], abs=1e-12)
        assert tds.landauer_current.values[r] == pytest.approx(res.landauer_current(), abs=1e-12)
        for k, pol in enumerate((None, "x", "y", "z")):
            np.testing.assert_allclose(tds.density.values[r, k], res["response"].density(pol), atol=1e-12)
            np.testing.assert_allclose(tds.boundary_current.values[r, k], res["response"].boundary_current(pol), atol=1e-12)
    g = tds.conductance.values
    assert tds.conductance_mean.item() == pytest.approx(g.mean(), abs=1e-14)
    assert tds.conductance_stderr.item() == pytest.approx(g.std(ddof=1) / np.sqrt(2), abs=1e-14) and g[0] != g[1]
    assert tds.conductance.attrs["units"] == "e^2/h" and "NEGF" in tds.attrs["engine"]
    assert (tds.balance_residual.values < 1e-12).all() and (tds.boundary_mismatch.values < 1e-12).all()


def test_transport_ensemble_at_a_bias_and_its_refusals():
    tds = ensemble(clean, (Anderson(0.5),), [1], T=0.1, transport=dict(bias=0.2, n_energy=10))
    c = clean()
    res = site_transport(realize(c, (Anderson(0.5),), seed=1).lattice, T=0.1, bias=0.2, n_energy=10, left=(c, 0), right=(c, -1))
    assert tds.landauer_current.item() == pytest.approx(res.landauer_current(), abs=1e-12) and "conductance" not in tds
    np.testing.assert_allclose(tds.density.values[0, 3], res["total"].density("z"), atol=1e-12)
    with pytest.raises(ValueError, match="conductance is the linear response"):
        ensemble(clean, DIS, 1, T=0.1, transport=dict(bias=0.2), observables=("conductance",))
    with pytest.raises(ValueError, match="unknown transport key 'bais'"):
        ensemble(clean, DIS, 1, T=0.1, transport=dict(bais=0.2))


def test_transport_ensemble_resumes(tmp_path):
    out = tmp_path / "g.nc"
    CALLS.clear()
    FAIL_AT["call"] = 1 + 3
    with pytest.raises(SweepError, match="seed"):
        ensemble(counted, DIS[:2], 4, T=0.1, transport={}, out=out, chunk=1)
    FAIL_AT["call"] = None
    CALLS.clear()
    ds = ensemble(counted, DIS[:2], 4, T=0.1, transport={}, out=out)
    assert len(CALLS) == 2
    ref = ensemble(functools.partial(clean, 3, 2), DIS[:2], 4, T=0.1, transport={})
    for var in ("conductance", "density", "boundary_current", "conductance_stderr"):
        np.testing.assert_array_equal(ds[var].values, ref[var].values)
    with xr.open_dataset(out, engine="scipy") as saved:
        assert "region solver" in saved.attrs["engine"] and saved.attrs["realizations"] == 4


def test_vacancies_that_cut_the_sample_are_refused_before_anything_runs():
    mask = np.zeros((4, 2, 1), bool)
    mask[2] = True  # x-cell 2 empty over the whole width
    CALLS.clear()
    with pytest.raises(DisconnectedError, match="slice 2 .*entirely vacant.*disconnects the leads"):
        ensemble(counted, (Anderson(0.3), VacancyMask(mask[:3])), 2, T=0.1, transport={})
    assert len(CALLS) == 1
    mask[2, 0] = False  # one site left: connected
    check_connected(mask, 1)
    two = np.zeros((6, 2, 1), bool)
    two[2] = True  # half of slice 1 when slices merge two x-cells: still connected
    check_connected(two, 2)
    two[3] = True
    with pytest.raises(DisconnectedError, match="x-cells 2..3"):
        check_connected(two, 2)


def test_more_refusals(monkeypatch):
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        ensemble(clean, DIS, 2, T=0.1, chunk=0)
    with pytest.raises(ValueError, match="transport=... needs a finite sample"):  # periodic: equilibrium and response only
        ensemble(lambda: SiteLattice(clean().sites, [Hopping("m", "m", (1, 0), -np.eye(3))], N_x=3, N_y=4), DIS, 2, T=0.1, transport={})
    with pytest.raises(ValueError, match=r"ending in \.nc"):
        ensemble(clean, DIS, 2, T=0.1, out="e.txt")
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "0.01")  # one realization: ~4e-5 s; 10^4 of them: ~0.4 s
    CALLS.clear()
    with pytest.raises(ValueError, match="disorder ensemble of 10000 realization.*more than the limit"):
        ensemble(counted, DIS, 10_000, T=0.1)
    assert len(CALLS) == 1


def shifted():
    """The clean sample of ``counted`` with one on-site matrix changed by 1e-9 (another sample)."""
    lat = clean(3, 2)
    eps = lat.site_onsite("m").copy()
    eps[1, 0, 0, 0] += 1e-9
    return SiteLattice(lat.cells, [Hopping("m", "m", off, T) for _, _, off, T in lat.hoppings], width=2, onsite={"m": eps})


def test_the_fingerprint_is_the_sample_content_not_the_factory_name(tmp_path):
    out = tmp_path / "e.nc"
    interrupted(out)
    with pytest.raises(SweepStateError, match="different sweep"):
        ensemble(shifted, DIS, 6, T=0.1, out=out, chunk=2)
    ds = ensemble(functools.partial(clean, 3, 2), DIS, 6, T=0.1, out=out, chunk=2)  # same sample, other factory: resumed
    ref = ensemble(counted, DIS, 6, T=0.1)
    np.testing.assert_array_equal(ds.density.values, ref.density.values)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=6, deadline=None)
@given(chunk=st.integers(1, 5), seeds=st.lists(st.integers(0, 50), min_size=1, max_size=5, unique=True))
def test_numbers_do_not_depend_on_the_chunking_or_the_store(chunk, seeds):
    import tempfile

    ref = ensemble(clean, DIS[:2], seeds, T=0.1, observables=("free_energy", "boundary_current"))
    with tempfile.TemporaryDirectory() as tmp:
        ds = ensemble(clean, DIS[:2], seeds, T=0.1, observables=("free_energy", "boundary_current"), out=f"{tmp}/e.nc", chunk=chunk)
        with xr.open_dataset(f"{tmp}/e.nc", engine="scipy") as saved:
            np.testing.assert_array_equal(saved.boundary_current_mean.values, ref.boundary_current_mean.values)
    for var in ("free_energy", "boundary_current", "free_energy_mean", "boundary_current_stderr"):
        np.testing.assert_array_equal(ds[var].values, ref[var].values)
    assert list(ds.realization.values) == seeds
