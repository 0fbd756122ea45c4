"""The ``engine`` option of sweep(): passed to every point, recorded, part of the fingerprint."""

import math

import numpy as np
import pytest

from orbsym.workflows.sweeps import sweep
from orbsym.workflows.sweeps.core import _fingerprint
from orbsym.workflows.sweeps.inputs import system_spec

PARAMS = {"N_x": 5, "N_y": 8, "T": 0.05, "gamma": 0.5}


def test_engine_reaches_the_points_and_agrees():
    obs = ["free_energy", "particle_number", "currents", "torques"]
    a = sweep("trilayer", {"mu": [-0.4, 0.1]}, obs, params=PARAMS, engine="dense")
    b = sweep("trilayer", {"mu": [-0.4, 0.1]}, obs, params=PARAMS, engine="greens")
    assert a.attrs["engine_requested"] == "dense" and b.attrs["engine_requested"] == "greens"
    assert a.attrs["fingerprint"] != b.attrs["fingerprint"]
    for v in a.data_vars:
        np.testing.assert_allclose(b[v].values, a[v].values, rtol=0, atol=1e-10, err_msg=v)


def test_engine_greens_at_infinite_rows():
    """N_y = inf with engine='greens': the k sub-grids, equal to the dense k integral."""
    p = {**PARAMS, "N_y": math.inf}
    a = sweep("trilayer", {"mu": [-0.4]}, ["free_energy", "particle_number", "densities"], params=p)
    b = sweep("trilayer", {"mu": [-0.4]}, ["free_energy", "particle_number", "densities"], params=p, engine="greens")
    for v in ("free_energy", "particle_number", "density"):
        np.testing.assert_allclose(b[v].values, a[v].values, rtol=0, atol=1e-10, err_msg=v)
    assert 0 < float(b.free_energy_error.max()) < 1e-10


def test_engine_in_fingerprint_and_checked():
    spec = system_spec("trilayer", PARAMS)
    base = _fingerprint(spec, {"mu": [0.0]}, [("free_energy", None, None)], 1e-10)[0]
    other = type(spec)(spec.geometry, spec.factory, spec.fixed, "auto", "greens")
    assert _fingerprint(other, {"mu": [0.0]}, [("free_energy", None, None)], 1e-10)[0] != base
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        sweep("trilayer", {"mu": [0.0]}, "free_energy", params=PARAMS, engine="fast")


def test_sweep_command_engine_option(tmp_path, capsys):
    import xarray as xr

    from orbsym.cli import main

    argv = ["sweep", "trilayer", "--param", "mu=-0.4,0.1", "--set", "N_x=5", "--set", "N_y=8", "--set", "T=0.05", "--executor", "serial", "--quiet"]
    assert main([*argv, "--engine", "greens", "--out", str(tmp_path / "g.nc")]) == 0
    assert main([*argv, "--engine", "dense", "--out", str(tmp_path / "d.nc")]) == 0
    with xr.open_dataset(tmp_path / "g.nc") as g, xr.open_dataset(tmp_path / "d.nc") as d:
        assert (g.attrs["engine_requested"], d.attrs["engine_requested"]) == ("greens", "dense")
        np.testing.assert_allclose(g.free_energy.values, d.free_energy.values, rtol=0, atol=1e-10)
    capsys.readouterr()
    assert main([*argv, "--engine", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--engine: invalid choice: 'fast'" in err
