"""Parameter sweeps over site lattices (orbsym.workflows.sweeps.sweep_sites).

Reference: the same lattice built by the factory and solved directly (SiteLattice.solve / respond) at
every point; the sweep must place exactly those numbers at the labeled coordinates.
"""

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.numeric.budget import ResourceError
from orbsym.numeric.sites import Hopping, Site, SiteLattice
from orbsym.workflows.sweeps import SweepError, load, save, sweep_sites
from orbsym.workflows.sweeps import sites as sites_mod

POLS = (None, "x", "y", "z")
SX = np.array([[0, 1], [1, 0]]) / 2
SY = np.array([[0, -1j], [1j, 0]]) / 2
SZ = np.array([[1, 0], [0, -1]]) / 2


def two_sites(mu, h, shift=0, N_x=4, N_y=4, width=None, diag=True):
    """Module-level (picklable) factory: spin site A (exchange h along x+z) and one-orbital site B per cell,
    bonds A-B in the cell, A-A along x, B-B along y, A-B along (1, 1) (complex, spin-mixing)."""
    A = Site("A", (0.0, 0.0, 0.0), -mu * np.eye(2) + h * (SX + SZ) + 0.1 * shift * np.eye(2), np.array([SX, SY, SZ]))
    B = Site("B", (0.5, 0.3, 0.0), np.array([[0.4 - mu]]))
    hops = [
        Hopping("A", "B", (0, 0), np.array([[0.7], [0.2j]])),
        Hopping("A", "A", (1, 0), np.array([[1.0, 0.3j], [0.3j, 0.8]])),
        Hopping("B", "B", (0, 1), np.array([[0.9]])),
    ] + ([Hopping("A", "B", (1, 1), np.array([[0.2 + 0.1j], [0.3]]))] if diag else [])
    kw = dict(width=width) if width is not None else dict(N_y=N_y)
    return SiteLattice([A, B], hops, N_x=N_x, **kw)


def varying_N_x(mu, n):
    return two_sites(mu, 0.3, N_x=n)


GRID = {"mu": [-0.3, 0.2], "h": [0.0, 0.5], "shift": [0, 2]}


def _direct_eq(lat, T):
    obs = lat.solve(T)
    return {
        "free_energy": obs.free_energy(),
        "density": np.stack([obs.density(p) for p in POLS]),
        "boundary_current": np.stack([obs.boundary_current(p) for p in POLS]),
    }


@pytest.fixture(scope="module")
def serial_ds():
    return sweep_sites(two_sites, GRID, T=0.1)


def test_equilibrium_values_equal_direct_solves(serial_ds):
    ds = serial_ds
    assert ds.free_energy.dims == ("mu", "h", "shift")
    assert ds.density.dims == ("mu", "h", "shift", "polarization", "x", "row", "site")
    assert ds.boundary_current.dims == ("mu", "h", "shift", "polarization", "boundary")
    for mu in GRID["mu"]:
        for h in GRID["h"]:
            for shift in GRID["shift"]:
                ref = _direct_eq(two_sites(mu, h, shift), 0.1)
                sel = dict(mu=mu, h=h, shift=shift)
                assert ds.free_energy.sel(sel).item() == ref["free_energy"]
                np.testing.assert_array_equal(ds.density.sel(sel).values, ref["density"])
                np.testing.assert_array_equal(ds.boundary_current.sel(sel).values, ref["boundary_current"])
    # the exchange really matters (the sweep did not return one point everywhere)
    assert abs(ds.density.sel(mu=0.2, h=0.5, shift=0, polarization="x").sum() - ds.density.sel(mu=0.2, h=0.0, shift=0, polarization="x").sum()) > 1e-3
    assert float(ds.balance_residual.max()) < 1e-10


def test_coordinates_and_attrs(serial_ds):
    ds = serial_ds
    assert ds.mu.values.tolist() == GRID["mu"] and ds.mu.dtype == float
    assert ds["shift"].values.tolist() == [0, 2] and ds["shift"].dtype == np.int64
    assert ds.polarization.values.tolist() == ["charge", "x", "y", "z"]
    assert ds.site.values.tolist() == ["A", "B"]
    assert ds.x.values.tolist() == [0, 1, 2, 3] and ds.boundary.values.tolist() == [0, 1, 2] and ds.row.size == 1
    for var in ds.data_vars:
        assert ds[var].attrs["units"] and ds[var].attrs["description"], var
    assert "per transverse cell" in ds.free_energy.attrs["units"]
    a = ds.attrs
    assert a["T"] == 0.1 and a["engine"].startswith("dense") and "equilibrium" in a["field"] and "equilibrium" in a["eta"]
    assert "crossing" in a["current"] and a["units"] and a["factory"].endswith("two_sites")
    assert a["sweep_axes"] == '["mu", "h", "shift"]'


def test_finite_width_rows_and_save_load(tmp_path):
    factory = functools.partial(two_sites, h=0.4, N_x=3, width=3)
    ds = sweep_sites(factory, {"mu": [0.1, -0.4]}, T=0.2, observables=["density", "boundary_current"])
    assert "free_energy" not in ds and ds.row.values.tolist() == [0, 1, 2]
    assert "whole sample" in ds.attrs["conventions"]
    for mu in (0.1, -0.4):
        ref = _direct_eq(factory(mu=mu), 0.2)
        np.testing.assert_array_equal(ds.density.sel(mu=mu).values, ref["density"])
        np.testing.assert_array_equal(ds.boundary_current.sel(mu=mu).values, ref["boundary_current"])
    save(ds, tmp_path / "s.nc")
    back = load(tmp_path / "s.nc")
    np.testing.assert_array_equal(back.density.values, ds.density.values)
    assert back.site.values.tolist() == ["A", "B"] and back.attrs["current"] == ds.attrs["current"]


def test_response_values_equal_direct_respond():
    grid = {"mu": [-0.2, 0.3]}
    ds = sweep_sites(two_sites, {"mu": grid["mu"], "h": [0.5]}, T=0.2, response="y", eta=0.3)  # default: no free energy
    assert set(ds.data_vars) == {"density", "boundary_current", "balance_residual"}
    sea = sweep_sites(two_sites, {"mu": grid["mu"], "h": [0.5]}, T=0.2, observables="density", response="y", eta=0.3, part="fermi_sea")
    for mu in grid["mu"]:
        resp = two_sites(mu, 0.5).respond(0.2, 0.3, field="y")
        tot = resp["total"]
        np.testing.assert_array_equal(ds.density.sel(mu=mu, h=0.5).values, np.stack([tot.density(p) for p in POLS]))
        np.testing.assert_array_equal(ds.boundary_current.sel(mu=mu, h=0.5).values, np.stack([tot.boundary_current(p) for p in POLS]))
        np.testing.assert_array_equal(sea.density.sel(mu=mu, h=0.5).values, np.stack([resp["fermi_sea"].density(p) for p in POLS]))
        assert ds.balance_residual.sel(mu=mu, h=0.5).item() == resp.max_abs_residual
    assert np.abs(ds.boundary_current.sel(polarization="charge").values).max() > 1e-6  # a driven current flows
    assert ds.attrs["field"] == "y" and ds.attrs["eta"] == 0.3 and ds.attrs["part"] == "total" and ds.attrs["engine"].startswith("kubo")
    assert "per unit force" in ds.density.attrs["units"]


def film(mu, t_z):
    """A one-site film (periodic y and z) with a z-bond ``t_z``."""
    A = Site("A", (0.0, 0.0, 0.0), np.array([[-mu]]))
    hops = [Hopping("A", "A", (1, 0, 0), [[1.0]]), Hopping("A", "A", (0, 1, 0), [[0.8]]), Hopping("A", "A", (0, 0, 1), [[t_z]])]
    return SiteLattice([A], hops, N_x=3, N_y=4, N_z=3)


def test_film_points_equal_direct_solves():
    ds = sweep_sites(film, {"mu": [0.0, 0.3], "t_z": [0.2, 0.6]}, T=0.1)
    assert '"N_z": 3' in ds.attrs["geometry"] and ds.attrs["transverse_dimension"] == 2 and ds.row.size == 1
    for mu in (0.0, 0.3):
        for t_z in (0.2, 0.6):
            ref = _direct_eq(film(mu, t_z), 0.1)
            assert ds.free_energy.sel(mu=mu, t_z=t_z).item() == ref["free_energy"]
            np.testing.assert_array_equal(ds.density.sel(mu=mu, t_z=t_z).values, ref["density"])
    assert ds.free_energy.sel(mu=0.3, t_z=0.2).item() != ds.free_energy.sel(mu=0.3, t_z=0.6).item()


def test_process_pool_equals_serial(serial_ds, monkeypatch):
    pools = []
    real = sites_mod.execution.process_pool

    def spy(n, *a, **k):
        pools.append(n)
        return real(n, *a, **k)

    monkeypatch.setattr(sites_mod.execution, "process_pool", spy)
    ds = sweep_sites(two_sites, GRID, T=0.1, workers=2)
    assert pools == [2]  # the points really went through a local pool of two processes
    for var in serial_ds.data_vars:
        np.testing.assert_array_equal(ds[var].values, serial_ds[var].values)
    assert ds.attrs == serial_ds.attrs


def test_thread_executor_takes_unpicklable_factory():
    """A user executor is used as is: threads need no pickling, so a lambda factory is fine there."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        ds = sweep_sites(lambda mu: two_sites(mu, 0.3), {"mu": [0.0, 0.4]}, T=0.1, observables="free_energy", executor=ex, workers=2)
    assert [ds.free_energy.sel(mu=m).item() for m in (0.0, 0.4)] == [two_sites(m, 0.3).solve(0.1).free_energy() for m in (0.0, 0.4)]


def test_failed_point_reported_others_kept():
    """engine='greens' takes nearest-neighbour bonds only: the point with the (1, 1) bond fails in its solve."""
    with pytest.raises(SweepError) as info:
        sweep_sites(functools.partial(two_sites, h=0.2), {"diag": [0, 1], "mu": [0.1]}, T=0.1, engine="greens")
    err = info.value
    assert [f["point"] for f in err.failures] == [{"diag": 1, "mu": 0.1}] and "nearest-neighbour" in err.failures[0]["error"]
    ds = err.dataset
    assert np.isnan(ds.free_energy.sel(diag=1)).all() and np.isnan(ds.density.sel(diag=1)).all()
    ref = two_sites(0.1, 0.2, diag=False).solve(0.1, engine="greens")
    assert ds.free_energy.sel(diag=0, mu=0.1).item() == ref.free_energy()
    np.testing.assert_array_equal(ds.density.sel(diag=0, mu=0.1, polarization="z").values, ref.density("z"))
    assert ds.attrs["engine"].startswith("greens")


@given(
    st.lists(st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=6),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(0, 6),
)
@settings(max_examples=40, deadline=None)
def test_grid_values_kept_or_refused_at_their_position(values, bad, where):
    """Finite ints and floats pass unchanged (ints stay ints); a non-finite value is refused with its position."""
    checked = sites_mod._check_grid({"p": values})["p"]
    assert checked == values and [type(v) for v in checked] == [type(v) for v in values]
    where = min(where, len(values))
    with pytest.raises(ValueError, match=rf"grid axis 'p': value {bad!r} at position {where} is not finite"):
        sites_mod._check_grid({"p": values[:where] + [bad] + values[where:]})


# ------------------------------------------------------------------------ refusals, before any point runs
@pytest.fixture
def no_run(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a point ran although the sweep should have been refused")

    monkeypatch.setattr(sites_mod.execution, "map_tasks", boom)


@pytest.mark.parametrize(
    "factory, grid, kwargs, match",
    [
        (varying_N_x, {"mu": [0.0, 0.1], "n": [4, 4, 6]}, {}, r"sweep point mu=0\.0, n=6 has another geometry.*N_x 6 \(first point: 4\)"),
        (two_sites, {"mu": [0.0], "h": []}, {}, r"grid axis 'h' has no values"),
        (two_sites, {"mu": [0.0, math.nan], "h": [0.1]}, {}, r"grid axis 'mu': value nan at position 1 is not finite"),
        (two_sites, {"mu": [0.0, math.inf], "h": [0.1]}, {}, r"value inf at position 1 is not finite"),
        (two_sites, {"mu": ["0.1"], "h": [0.1]}, {}, r"'0\.1' at position 0 is not a real number"),
        (two_sites, {"mu": [1j], "h": [0.1]}, {}, r"not a real number"),
        (two_sites, {}, {}, r"grid is empty"),
        (two_sites, {"mu": [0.0, [0.1, 0.2]], "h": [0.1]}, {}, r"grid axis 'mu': values must be a 1-D sequence"),
        (two_sites, {"mu": 0.0, "h": [0.1]}, {}, r"grid axis 'mu': values must be a 1-D sequence"),
        (two_sites, {"mu": [0.0], "h": [0.1], "T": [0.1]}, {}, r"grid axis 'T' is refused"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"response": "y"}, r"needs eta"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"eta": 0.1}, r"eta = 0\.1 given without response"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"response": "y", "eta": 0.1, "observables": "free_energy"}, r"'free_energy' is an equilibrium quantity"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"observables": "currents"}, r"unknown site observable 'currents'"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"workers": 0}, r"workers must be an integer >= 1"),
        (lambda mu: two_sites(mu, 0.1), {"mu": [0.0, 0.1]}, {"workers": 2}, r"cannot be sent to worker processes"),
        (lambda mu: "no lattice", {"mu": [0.0]}, {}, r"sweep point mu=0\.0: factory returned str, not a SiteLattice"),
        (lambda mu: 1 / 0, {"mu": [0.0]}, {}, r"sweep point mu=0\.0: factory failed \(ZeroDivisionError"),
        (functools.partial(two_sites, h=0.1), {"mu": [0.0], "N_y": [4, 8]}, {}, None),
        (lambda mu, w: two_sites(mu, 0.1, N_x=2, width=w), {"mu": [0.0], "w": [1, 2]}, {}, r"w=2 has another geometry.*rows 2 \(first point: 1\)"),
        (lambda mu, d: two_sites(mu, 0.1, N_x=2, width=1 if d else None, N_y=1), {"mu": [0.0], "d": [0, 1]}, {}, r"d=1 has another geometry.*transverse_dimension 0 \(first point: 1\)"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"engine": "magic"}, r"unknown engine 'magic'"),
        (two_sites, {"mu": [0.0], "h": [0.1]}, {"part": "fermi_sea"}, r"needs response"),
        (functools.partial(two_sites, width=2), {"mu": [0.0], "h": [0.1]}, {"response": "y", "eta": 0.1}, r"needs a periodic direction"),
    ],
)
def test_bad_inputs_refused_before_any_point(no_run, factory, grid, kwargs, match):
    if match is None:  # a valid sweep: reaches the (patched) runner
        with pytest.raises(AssertionError, match="a point ran"):
            sweep_sites(factory, grid, T=0.1, **kwargs)
        return
    with pytest.raises((ValueError, TypeError), match=match):
        sweep_sites(factory, grid, T=0.1, **kwargs)


def test_too_large_sweep_refused_with_estimate(no_run, monkeypatch):
    one = two_sites(0.0, 0.1).estimate("bloch").seconds
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", repr(2.5 * one))
    with pytest.raises(ResourceError, match=r"site sweep of 3 points needs ~.*CPU time"):
        sweep_sites(two_sites, {"mu": [0.0, 0.1, 0.2], "h": [0.1]}, T=0.1)
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", repr(3.5 * one))  # the sum of the three per-point estimates fits:
    with pytest.raises(AssertionError, match="a point ran"):  # the check passes and the points would run
        sweep_sites(two_sites, {"mu": [0.0, 0.1, 0.2], "h": [0.1]}, T=0.1)
