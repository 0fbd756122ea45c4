"""Sweeps of films (``N_z`` fixed or swept): values equal the API, labels and units, estimates per
k_z sector, fingerprints, refusals before any point runs (issue 19)."""

import numpy as np
import pytest

from orbsym.workflows.sweeps import estimate_sweep, sweep

BASE = {"N_x": 5, "N_FM": 1, "N_y": 3, "gamma": 0.5, "m_FM": "x", "T": 0.1}
OBS = ["free_energy", "particle_number", "densities", "torques", "currents", "currents:bond:z"]


@pytest.fixture(scope="module")
def swept():
    return sweep("bilayer", {"N_z": [2, 3]}, OBS, params=BASE, executor="serial")


def test_swept_N_z_equals_the_api_point_by_point(swept):
    from orbsym.systems import bilayer, solve

    ds = swept
    assert list(ds["N_z"].values) == [2, 3]
    assert list(ds["torque_term"].values) == ["exchange", "bond_x", "bond_y", "bond_z", "bond_diagonal", "total"]
    for nz in (2, 3):
        r = solve(bilayer(**{k: v for k, v in BASE.items() if k != "T"}, N_z=nz), 0.1)
        p = ds.sel(N_z=nz)
        assert float(p.free_energy) == pytest.approx(r.free_energy(), abs=1e-12)
        assert float(p.particle_number) == pytest.approx(r.particle_number(), abs=1e-12)
        for a in ("x", "y", "z"):
            np.testing.assert_allclose(p.density.sel(polarization=a).values, r.densities()[a], atol=1e-12)
            np.testing.assert_allclose(p.current_bond_x.sel(polarization=a).values, r.currents("bond", "x")[a], atol=1e-12)
            np.testing.assert_allclose(p.current_bond_z.sel(polarization=a).values, r.currents("bond", "z")[a], atol=1e-12)
            t = r.torques()[a]
            for term in ("exchange", "bond_x", "bond_y", "bond_z", "total"):
                np.testing.assert_allclose(p.torque_bond.sel(axis=a, torque_term=term).values, t[term], atol=1e-12)
            assert "bond_diagonal" not in t  # nearest neighbours: no diagonal bonds, stored as exactly 0
            np.testing.assert_array_equal(p.torque_bond.sel(axis=a, torque_term="bond_diagonal").values, 0.0)
        tz = p.torque_bond.sel(axis="x")
        np.testing.assert_allclose(tz.sel(torque_term="total"), tz.sel(torque_term=["exchange", "bond_x", "bond_y", "bond_z", "bond_diagonal"]).sum("torque_term"), atol=1e-12)
    assert float(ds.free_energy.sel(N_z=2)) != pytest.approx(float(ds.free_energy.sel(N_z=3)), abs=1e-3)


def test_film_sweeps_are_labelled_per_transverse_cell(swept):
    ds = swept
    assert ds.attrs["N_z"] == "swept" and "per transverse cell" in ds.attrs["conventions"] and "per transverse cell" in ds.attrs["film"]
    assert ds.free_energy.attrs["units"] == "t per transverse cell (F / (N_y N_z))"
    assert ds.particle_number.attrs["units"] == "electrons per transverse cell"
    assert "per transverse cell" in ds.density.attrs["units"]


def test_fixed_N_z_and_its_fingerprint(tmp_path):
    import xarray as xr

    from orbsym.systems import bilayer, solve
    from orbsym.workflows.sweeps.core import _checked_inputs, _fingerprint

    def fp(params):
        spec, axes, _, parsed, tol, *_ = _checked_inputs("bilayer", {"gamma": [0.5]}, ["free_energy"], params, "serial", None, None, 1e-10, "auto", "auto")
        return _fingerprint(spec, axes, parsed, tol)[0]

    p2 = {k: v for k, v in BASE.items() if k != "gamma"}
    prints = {fp(p2), fp(dict(p2, N_z=2)), fp(dict(p2, N_z=3)), fp(dict(p2, N_z=4))}
    assert len(prints) == 4  # 2D and every N_z: four different sweeps
    assert fp(dict(p2, N_z=None)) == fp(p2)  # N_z = None is the 2D default, the same sweep
    out = tmp_path / "film.nc"
    ds = sweep("bilayer", {"gamma": [0.5, 1.0]}, "free_energy", params=dict(p2, N_z=2), executor="serial", out=out)
    with xr.open_dataset(out) as back:
        assert back.attrs["N_z"] == 2 and back.attrs["fingerprint"] == ds.attrs["fingerprint"]
        r = solve(bilayer(**{k: v for k, v in p2.items() if k != "T"}, gamma=1.0, N_z=2), 0.1)
        assert float(back.free_energy.sel(gamma=1.0)) == pytest.approx(r.free_energy(), abs=1e-12)
    # the same file with another N_z: never the stored N_z = 2 numbers
    ds3 = sweep("bilayer", {"gamma": [0.5, 1.0]}, "free_energy", params=dict(p2, N_z=3), executor="serial", out=out)
    assert ds3.attrs["fingerprint"] != ds.attrs["fingerprint"] and ds3.attrs["N_z"] == 3
    assert not np.allclose(ds3.free_energy.values, ds.free_energy.values)


def test_estimates_scale_with_the_k_z_sectors():
    """Dense engine, eigenvalues only: a film point costs (N_z // 2 + 1) sector solves of the 2D
    point's size (the cubic built-in films are z-symmetric: half a k_z zone)."""
    from orbsym.numeric.budget import film_sector_count
    from orbsym.numeric.engines import SYSTEM_SECONDS_PER_COLUMN
    from orbsym.workflows.sweeps.estimate import POINT_OVERHEAD

    p = {"N_x": 120, "N_FM": 2, "N_y": 64}
    around = 2 * (POINT_OVERHEAD + SYSTEM_SECONDS_PER_COLUMN * 120)  # per point, once: building, bookkeeping
    flat = estimate_sweep("bilayer", {"gamma": [0.5, 1.0]}, "free_energy", params=p, engine="dense").seconds - around
    assert flat > 0
    for nz in (4, 9):
        film = estimate_sweep("bilayer", {"gamma": [0.5, 1.0]}, "free_energy", params=dict(p, N_z=nz), engine="dense").seconds - around
        assert film / flat == pytest.approx(film_sector_count(nz), rel=1e-9)
    swept = estimate_sweep("bilayer", {"N_z": [4, 9]}, "free_energy", params=p, engine="dense").seconds - around
    assert swept / flat == pytest.approx((film_sector_count(4) + film_sector_count(9)) / 2, rel=1e-9)
    with_bands = estimate_sweep("bilayer", {"gamma": [0.5]}, "densities", params=dict(p, N_z=9), engine="dense", workers=1)
    flat_bands = estimate_sweep("bilayer", {"gamma": [0.5]}, "densities", params=p, engine="dense", workers=1)
    assert with_bands.bytes > flat_bands.bytes  # the film's sector and recombined bands


def test_a_film_sweep_beyond_the_time_limit_is_refused_naming_the_sweep(monkeypatch):
    p = {"N_x": 120, "N_FM": 2, "N_y": 64}
    flat = estimate_sweep("bilayer", {"gamma": [0.5, 1.0]}, "free_energy", params=p, engine="dense")
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(3 * flat.seconds))
    import orbsym.workflows.sweeps.points as points

    monkeypatch.setattr(points, "compute_point", lambda *a, **k: pytest.fail("a point ran"))
    with pytest.raises(ValueError, match=r"the sweep of 2 points \(gamma=2\)"):
        sweep("bilayer", {"gamma": [0.5, 1.0]}, "free_energy", params=dict(p, N_z=16), engine="dense", executor="serial")


@pytest.mark.parametrize(
    "axes, params, obs, match",
    [
        ({"N_y": [8, float("inf")]}, {"N_z": 4}, "free_energy", r"N_y = inf is not available for films yet \(N_z = 4\)"),
        ({"N_z": [2, 4]}, {"N_y": float("inf")}, "free_energy", r"N_z swept over \[2, 4\]"),
        ({"N_z": [2, 0]}, {}, "free_energy", r"N_z=0 is invalid: N_z must be an integer >= 1"),
        ({"N_z": [2, 2.5]}, {}, "free_energy", r"N_z must be an integer, got 2.5"),
        ({"gamma": [0.5]}, {"N_z": 4}, "levels", r"'levels' needs 2D points"),
        ({"gamma": [0.5]}, {}, "currents:bond:z", r"'currents:bond:z' needs films"),
    ],
)
def test_refusals_before_any_point(axes, params, obs, match, monkeypatch):
    import orbsym.workflows.sweeps.points as points

    monkeypatch.setattr(points, "compute_point", lambda *a, **k: pytest.fail("a point ran"))
    with pytest.raises(ValueError, match=match):
        sweep("bilayer", axes, obs, params={"N_x": 5, "N_FM": 1, **params}, executor="serial")


def test_cli_sweep_of_N_z_equals_the_api(tmp_path, capsys):
    import xarray as xr

    from orbsym.cli import main

    out = tmp_path / "cli.nc"
    argv = ["sweep", "bilayer", "--param", "N_z=2,3", "--set", "N_x=5", "--set", "N_FM=1", "--set", "N_y=3", "--set", "gamma=0.5", "--set", "m_FM=x",
            "--set", "T=0.1", "--observable", "free_energy,currents:bond:z", "--out", str(out), "--quiet", "--executor", "serial"]
    assert main(argv) == 0
    api = sweep("bilayer", {"N_z": [2, 3]}, ["free_energy", "currents:bond:z"], params=BASE, executor="serial")
    with xr.open_dataset(out) as ds:
        assert ds["N_z"].dtype.kind == "i" and ds.attrs["N_z"] == "swept"
        np.testing.assert_array_equal(ds.free_energy.values, api.free_energy.values)
        np.testing.assert_array_equal(ds.current_bond_z.values, api.current_bond_z.values)
    capsys.readouterr()
    assert main(["sweep", "bilayer", "--param", "gamma=0.5,1", "--set", "N_z=4", "--set", "N_y=inf", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "N_y = inf is not available for films yet (N_z = 4)" in err
