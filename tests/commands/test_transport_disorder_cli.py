"""``orbsym transport --width open --disorder ...``: disorder ensembles of an open strip from the command line.

The NetCDF equals the API's ``transport(..., disorder=...)`` value by value and carries ``units`` and
``description`` on every variable, the disorder record and the seeds; the summary names the engine and the
units; every refusal is one line on stderr with exit status 2, before anything is solved (the solvers are
replaced by a tripwire) and nothing is written.
"""

import numpy as np
import pytest
import xarray as xr

import orbsym.numeric.sites_transport as sites_transport
from orbsym.cli import main
from orbsym.commands.transport import _system, check_options
from orbsym.numeric.disorder import Anderson, Potential, RandomHopping
from orbsym.transport import attach_leads, transport

SMALL = ["--width", "open", "--N-y", "3", "--n-metal", "2", "--fm", "x", "--T", "0.05", "--n-energy", "4"]


def run(capsys, *argv):
    code = main(["transport", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_ensemble_netcdf_equals_the_api(capsys, tmp_path):
    f = tmp_path / "ens.nc"
    code, out, err = run(capsys, *SMALL, "--disorder", "anderson:1.0,hopping:0.2", "--realizations", 2, "--seed", 3, "--out", f)
    assert code == 0, err
    assert "engine NEGF (orbsym.numeric.sites_transport.site_transport" in out and "e^2/h (whole strip;" in out and "seeds 3..4" in out
    assert "worst per-site / per-layer residual" in out and f"wrote {f}" in out
    with xr.open_dataset(f, engine="scipy") as ds:
        ds = ds.load()
    missing = [v for v in list(ds.data_vars) + list(ds.coords) if not {"units", "description"} <= set(ds[v].attrs)]
    assert not missing
    assert list(ds.realization.values) == [3, 4] and ds.attrs["seeds"] == "[3, 4]" and '"kind": "Anderson"' in ds.attrs["disorder"]
    assert ds.attrs["command_disorder"] == "anderson:1.0,hopping:0.2" and ds.attrs["engine"].startswith("NEGF")
    assert "contact" in ds["boundary_current"].attrs["description"] and ds["layer_torque"].attrs["units"].startswith("J t / hbar")
    # the same ensemble through the API (the command's mu is the model's: the Fermi level is mu = 0 on the axis of h)
    args = type("A", (), {})()
    vars(args).update(n_metal=2, gamma=None, mu=None, fm="x", N_y=3, N_z=None, T=0.05, bias=None, split=None, n_energy=4, width="open",
                      energy_tol=None, angle=None, solver=None, metal_model=None, json=False, out=None, progress=None,
                      disorder=None, disorder_file=None, realizations=None, seed=None, workers=None)
    check_options(args)
    api = transport(attach_leads(_system(args), width="open"), T=0.05, n_energy=4, disorder=(Anderson(1.0), RandomHopping(0.2)), realizations=2, seed=3)
    for var in ("conductance", "density", "boundary_current", "layer_torque", "layer_torque_onsite"):
        assert np.allclose(ds[var].values, api.dataset[var].values, rtol=0, atol=1e-12), var
    m = float(ds["conductance_mean"])
    assert f"<G> = {m:.6g} +- " in out
    # the same command again: the finished file is recognized by its fingerprint and reused (tripwire on the solver)
    import orbsym.numeric.sites_transport as st

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("solved again")

    saved, st.site_transport = st.site_transport, boom
    try:
        code, again, err = run(capsys, *SMALL, "--disorder", "anderson:1.0,hopping:0.2", "--realizations", 2, "--seed", 3, "--out", f)
    finally:
        st.site_transport = saved
    assert code == 0 and f"<G> = {m:.6g} +- " in again, err


def test_disorder_file_is_one_explicit_configuration(capsys, tmp_path):
    V = np.random.default_rng(0).uniform(-0.4, 0.4, (5, 3))  # N_x = 2 + 1 + 2 columns, N_y = 3 rows
    np.savez(tmp_path / "d.npz", potential_site=V)
    code, out, err = run(capsys, *SMALL, "--disorder-file", tmp_path / "d.npz", "--bias", "0.1")
    assert code == 0, err
    assert "1 realization;" in out and "Landauer particle current <I> =" in out and "explicit arrays" in out
    args = type("A", (), {})()
    vars(args).update(n_metal=2, gamma=None, mu=None, fm="x", N_y=3, N_z=None, T=0.05, bias=0.1, split=None, n_energy=4, width="open",
                      energy_tol=None, angle=None, solver=None, metal_model=None, json=False, out=None, progress=None,
                      disorder=None, disorder_file=None, realizations=None, seed=None, workers=None)
    check_options(args)
    api = transport(attach_leads(_system(args), width="open"), T=0.05, bias=0.1, n_energy=4, disorder=Potential("site", V))
    assert f"<I> = {api.mean('landauer_current'):.6g} t/hbar" in out


@pytest.fixture
def tripwire(monkeypatch):
    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("solved although the options were refused")

    monkeypatch.setattr(sites_transport, "site_transport", boom)


@pytest.mark.parametrize("argv, message", [
    (("--disorder", "anderson:1"), r"--disorder needs --width open: .*supercell"),
    (("--width", "periodic", "--disorder", "anderson:1"), r"--disorder needs --width open"),
    (("--width", "open", "--realizations", "3"), r"--realizations applies only to a disorder ensemble"),
    (("--width", "open", "--seed", "3"), r"--seed applies only to a disorder ensemble"),
    (("--width", "open", "--workers", "2"), r"--workers applies only to a disorder ensemble"),
    (("--width", "open", "--restart"), r"--restart applies only to a disorder ensemble"),
    (("--width", "open", "--disorder", "anderson:1", "--restart"), r"--restart applies to a disorder ensemble written with --out"),
    (("--width", "open", "--disorder", "anderson:1", "--realizations", "0"), r"--realizations 0: the number of realizations must be >= 1"),
    (("--width", "open", "--disorder", "anderson:1", "--seed", "-2"), r"--seed -2: seeds are integers >= 0"),
    (("--width", "open", "--disorder", "anderson:-1"), r"strength W = -1 of anderson must be a finite number >= 0"),
    (("--width", "open", "--disorder", "tornado:1"), r"unknown disorder kind 'tornado'"),
    (("--width", "open", "--disorder", "anderson:1", "--bias", "0.1", "--split", "0.3"), r"--split does not apply to a disorder ensemble"),
    (("--width", "open", "--disorder", "anderson:1", "--energy-tol", "1e-3"), r"--energy-tol does not apply to a disorder ensemble"),
    (("--width", "open", "--disorder", "anderson:1", "--json"), r"--json does not apply to a disorder ensemble"),
    (("--width", "open", "--disorder", "anderson:1", "--angle", "45"), r"does not apply with --angle 45"),
    (("--N-z", "4", "--disorder", "anderson:1"), r"--disorder needs --width open"),
    (("--width", "open", "--disorder", "anderson:1", "--out", "x.csv"), r"written as NetCDF .*use FILE.nc"),
    (("--width", "open", "--disorder", "anderson:1", "--realizations", "100000", "--N-y", "40"),
     r"disorder ensemble of 100000 realization\(s\) needs .* CPU time \(.*100000 realizations of"),
])
def test_refusals_exit_2_before_solving(capsys, tmp_path, monkeypatch, tripwire, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("orbsym: error: "), err
    import re

    assert re.search(message, err), err
    assert list(tmp_path.iterdir()) == []


def test_seed_without_random_disorder_and_bad_file(capsys, tmp_path, tripwire):
    np.savez(tmp_path / "d.npz", potential_site=np.zeros((5, 3)))
    code, out, err = run(capsys, *SMALL, "--disorder-file", tmp_path / "d.npz", "--seed", 2)
    assert code == 2 and "--seed applies to random disorder" in err
    np.savez(tmp_path / "bad.npz", potential_site=np.zeros((4, 3)))
    code, out, err = run(capsys, *SMALL, "--disorder-file", tmp_path / "bad.npz")
    assert code == 2 and "potential_site has shape (4, 3)" in err and err.count("\n") == 1
