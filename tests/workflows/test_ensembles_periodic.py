"""Disorder ensembles of periodic samples (Gamma-only supercells): per-realization values against direct
solves, the clean limit against the clean periodic lattice, responses with their driven balance, films,
the labeled NetCDF output."""

import functools

import numpy as np
import pytest
import xarray as xr

from orbsym.numeric.disorder import Anderson, RandomHopping, Vacancies, realize
from orbsym.numeric.sites import Hopping, Site, SiteLattice
from orbsym.workflows.ensembles import ensemble

L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]], [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])


def periodic(N_x=3, N_y=3, N_z=None):
    cell = (Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]), L),)
    z = (0,) if N_z else ()
    hops = [Hopping("m", "m", (1, 0) + z, -np.diag([0.4, 1.0, 1.0])), Hopping("m", "m", (0, 1) + z, -np.diag([1.0, 0.4, 1.0]) + 0.1j * L[2])]
    if N_z:
        hops.append(Hopping("m", "m", (0, 0, 1), -np.diag([1.0, 1.0, 0.4])))
    else:
        hops.append(Hopping("m", "m", (1, 1), 0.2 * np.ones((3, 3))))
    return SiteLattice(cell, hops, N_x=N_x, N_y=N_y, N_z=N_z)


DIS = (Anderson(1.0), RandomHopping(0.3), Vacancies(0.1))


def test_equilibrium_realizations_equal_direct_solves():
    ds = ensemble(periodic, DIS, [2, 9], T=0.1)
    assert ds.density.shape == (2, 4, 3, 3, 1) and ds.attrs["transverse_cells"] == 3
    assert "Gamma-only supercell" in ds.attrs["engine"] and "per transverse cell" in ds.free_energy.attrs["units"]
    for k, seed in enumerate([2, 9]):
        r = realize(periodic(), DIS, seed=seed)
        obs = r.observables(r.lattice.solve(0.1))
        assert ds.free_energy.values[k] == pytest.approx(obs.free_energy(), abs=1e-12)
        np.testing.assert_allclose(ds.density.values[k, 3], obs.density("z"), atol=1e-12)
        np.testing.assert_allclose(ds.boundary_current.values[k, 1], obs.boundary_current("x"), atol=1e-12)
    assert ds.max_balance_residual < 1e-10


def test_zero_disorder_ensemble_is_the_clean_periodic_lattice():
    ds = ensemble(periodic, Anderson(0.0), 2, T=0.1)
    ref = periodic().solve(0.1)
    np.testing.assert_allclose(ds.free_energy.values, ref.free_energy(), atol=1e-12)
    for p, pol in enumerate((None, "x", "y", "z")):
        np.testing.assert_allclose(ds.density_mean.values[p], np.broadcast_to(ref.density(pol), (3, 3, 1)), atol=1e-12)
        np.testing.assert_allclose(ds.boundary_current_mean.values[p], ref.boundary_current(pol), atol=1e-12)
    assert float(ds.free_energy_stderr) == pytest.approx(0, abs=1e-13)


def test_response_ensemble_and_netcdf(tmp_path):
    ds = ensemble(functools.partial(periodic, 2, 3), DIS, 2, T=0.1, response="y", eta=0.2, out=tmp_path / "e.nc")
    assert "kubo" in ds.attrs["engine"] and ds.attrs["field"] == "y" and "free_energy" not in ds
    for k in range(2):
        r = realize(periodic(2, 3), DIS, seed=k)
        resp = r.lattice.respond(0.1, 0.2)
        assert ds.balance_residual.values[k] == pytest.approx(resp.max_abs_residual, abs=1e-15) and ds.balance_residual.values[k] < 1e-10
        np.testing.assert_allclose(ds.density.values[k, 3], r.observables(resp["total"]).density("z"), atol=1e-12)
    back = xr.open_dataset(tmp_path / "e.nc")
    for v in back.data_vars:
        assert back[v].attrs.get("units") and back[v].attrs.get("description"), v
    assert "per unit force" in back.density.attrs["units"] and back.attrs["field"] == "y"
    back.close()
    clean = ensemble(functools.partial(periodic, 3, 3), Anderson(0.0), 1, T=0.1, response="y", eta=0.2)
    ref = periodic(3, 3).respond(0.1, 0.2)["total"]
    assert np.abs(ref.density("z")).max() > 0.1
    np.testing.assert_allclose(clean.density.values[0, 3], np.broadcast_to(ref.density("z"), (3, 3, 1)), atol=1e-12)
    np.testing.assert_allclose(clean.boundary_current.values[0], np.stack([ref.boundary_current(p) for p in (None, "x", "y", "z")]), atol=1e-12)


def test_film_ensemble():
    ds = ensemble(functools.partial(periodic, 2, 2, 2), Anderson(0.5), 2, T=0.2, response="z", eta=0.3)
    assert ds.density.shape == (2, 4, 2, 4, 1) and list(ds.row_z.values) == [0, 1, 0, 1]
    r = realize(periodic(2, 2, 2), Anderson(0.5), seed=1)
    resp = r.lattice.respond(0.2, 0.3, field="z")
    np.testing.assert_allclose(ds.density.values[1, 1], r.observables(resp["total"]).density("x"), atol=1e-12)


def test_periodic_refusals():
    with pytest.raises(ValueError, match="transport=... needs a finite sample"):
        ensemble(periodic, DIS, 2, T=0.1, transport={})
    with pytest.raises(ValueError, match="Kubo engine"):
        ensemble(periodic, DIS, 2, T=0.1, response="y", eta=0.1, engine="greens")
    with pytest.raises(ValueError, match="needs a film"):
        ensemble(periodic, DIS, 2, T=0.1, response="z", eta=0.1)


# ----------------------------------------------------------------------------- the API: solve / response with disorder=
def test_api_solve_with_zero_disorder_is_the_clean_solve():
    import orbsym

    for sys_ in (orbsym.trilayer(N_x=5, N_FM=1, N_y=4), orbsym.bilayer(N_x=3, N_FM=1, N_y=3, basis="spin", spin_unit="S")):
        clean = orbsym.solve(sys_, T=0.1)
        ds = orbsym.solve(sys_, T=0.1, disorder=Anderson(0.0), realizations=2, seed=4)
        assert list(ds.realization.values) == [4, 5] and "Gamma-only supercell" in ds.attrs["engine"]
        np.testing.assert_allclose(ds.free_energy.values, clean.free_energy(), atol=1e-11)
        dens = clean.densities()
        for p, label in enumerate(("charge", "x", "y", "z")):
            np.testing.assert_allclose(ds.density_mean.values[p, :, :, 0], np.broadcast_to(np.asarray(dens[label])[:, None], (sys_.lattice.N_x, sys_.N_y)), atol=1e-12)
        assert ds.attrs["max_balance_residual"] < 1e-10


def test_api_response_with_disorder():
    import orbsym

    lat = periodic(3, 3)
    ds = orbsym.response(lat, T=0.1, eta=0.2, disorder=Anderson(0.0), part="fermi_sea")
    ref = lat.respond(0.1, 0.2)["fermi_sea"]
    assert np.abs(ref.boundary_current("z")).max() > 0.1 and np.abs(ref.density(None)).max() > 0.1
    np.testing.assert_allclose(ds.density_mean.values[0], np.broadcast_to(ref.density(None), (3, 3, 1)), atol=1e-12)
    np.testing.assert_allclose(ds.boundary_current_mean.values[3], ref.boundary_current("z"), atol=1e-12)
    assert ds.attrs["part"] == "fermi_sea" and ds.attrs["max_balance_residual"] < 1e-10
    dis = orbsym.response(lat, T=0.1, eta=0.2, disorder=DIS, realizations=2)
    assert dis.density_stderr.values.max() > 0 and "kubo" in dis.attrs["engine"]


def test_api_refusals_and_no_change_without_disorder():
    import math

    import orbsym

    sys_ = orbsym.trilayer(N_x=4, N_FM=1, N_y=3)
    assert isinstance(orbsym.solve(sys_, T=0.1), orbsym.systems.Result)
    with pytest.raises(ValueError, match="realizations=3 applies only to a disorder ensemble"):
        orbsym.solve(sys_, T=0.1, realizations=3)
    with pytest.raises(ValueError, match="seed=1 applies only"):
        orbsym.response(sys_, T=0.1, seed=1)
    with pytest.raises(ValueError, match="finite N_y"):
        orbsym.solve(orbsym.trilayer(N_x=4, N_FM=1, N_y=math.inf), T=0.1, disorder=Anderson(1.0))
    with pytest.raises(TypeError, match="disorder must be one or more terms"):
        orbsym.solve(sys_, T=0.1, disorder="anderson:1")
    with pytest.raises(ValueError, match="realizations"):
        orbsym.solve(sys_, T=0.1, disorder=Anderson(1.0), realizations=0)
