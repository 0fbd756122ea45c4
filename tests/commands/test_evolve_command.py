"""``orbsym evolve``: output files (NetCDF round trip, CSV), the summary, and one-line errors (exit 2/1)."""

import numpy as np
import pytest

from orbsym import dynamics as dyn
from orbsym.cli import main

SMALL = ["evolve", "bilayer", "--basis", "spin", "--N-x", "4", "--N-y", "4", "--N-FM", "1", "--quiet"]


def test_netcdf_output_matches_api(tmp_path, capsys):
    out = tmp_path / "run.nc"
    rc = main([*SMALL, "--precess", "0.3,0.4", "--tau-r", "3", "--t-max", "2", "--steps", "10", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "continuity: passed" in text and f"wrote {out}" in text
    ds = dyn.load(out)
    from orbsym.systems import bilayer

    ref = dyn.evolve(bilayer(basis="spin", N_x=4, N_y=4, N_FM=1), [dyn.Precession(0.3, 0.4), dyn.Relaxation(3.0)], np.linspace(0, 2, 11), T=0.05)
    np.testing.assert_allclose(ds["current_x"].values, ref["current_x"].values, atol=1e-14)
    assert ds.attrs["tau_r"] == 3.0 and "Precession" in ds.attrs["drives"]


def test_csv_output_with_quench_and_pulse(tmp_path, capsys):
    out = tmp_path / "run.csv"
    rc = main([*SMALL, "--quench", "m_FM=x@0.5", "--field", "0.05", "--pulse", "1,0.3", "--t-max", "2", "--steps", "8", "--method", "magnus4", "--out", str(out)])
    assert rc == 0
    lines = out.read_text().splitlines()
    assert any(line.startswith("# drives:") and "Quench" in line and "ElectricField" in line for line in lines)
    header = lines.index("time,polarization,site,variable,value")
    names = {line.split(",")[3] for line in lines[header + 1 :]}
    assert names == {"density", "current_x", "torque_total", "relaxation", "residual_exact", "residual_fd"}


@pytest.mark.parametrize(
    "argv,words,status",
    [
        (["--t-max", "2"], ["no drive given"], 2),
        (["--t-max", "2", "--precess", "0.1"], ["--precess", "2 finite comma-separated numbers"], 2),
        (["--t-max", "2", "--precess", "0.1,0.2,NM"], ["unknown FM layer label 'NM'"], 2),
        (["--t-max", "2", "--quench", "gamma"], ["--quench", "NAME=VALUE"], 2),
        (["--t-max", "2", "--quench", "gama=0.3"], ["gama"], 2),
        (["--t-max", "2", "--quench", "mu=0.1@0.3", "--steps", "4"], ["quench time 0.3", "stored times"], 2),
        (["--t-max", "2", "--tau-r", "0"], ["tau_r must be > 0"], 2),
        (["--t-max", "-1", "--tau-r", "1"], ["--t-max", "> 0"], 2),
        (["--t-max", "2", "--steps", "3", "--tau-r", "1"], ["--steps", ">= 4"], 2),
        (["--t-max", "2", "--pulse", "1,1"], ["--pulse needs --field"], 2),
        (["--t-max", "2", "--field", "0.1", "--pulse", "1,0"], ["pulse width sigma must be > 0"], 2),
        (["--t-max", "2", "--tau-r", "1", "--method", "magnus4"], ["needs method 'exact'"], 2),
        (["--t-max", "2", "--tau-r", "1", "--method", "rk45"], ["unknown propagator method 'rk45'"], 2),
        (["--t-max", "2", "--tau-r", "1", "--out", "x.txt"], [".nc", ".csv"], 2),
    ],
)
def test_errors_are_one_line(argv, words, status, capsys):
    rc = main([*SMALL, *argv])
    err = capsys.readouterr().err
    assert rc == status, err
    assert err.startswith("orbsym: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_failed_balance_exits_1_without_writing(tmp_path, capsys, monkeypatch):
    from orbsym.numeric import evolution as ev

    real = ev.step
    monkeypatch.setattr(ev, "step", lambda rho, hfun, t, dt, *a: real(rho, lambda s: -hfun(s), t, dt, *a))
    monkeypatch.setattr("orbsym.dynamics.LOCAL_UPDATE", False)  # precession's fast path does not call ev.step
    out = tmp_path / "bad.nc"
    rc = main([*SMALL, "--precess", "0.4,0.5", "--t-max", "2", "--steps", "20", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "ContinuityError" in err and "finite-difference balance violated" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("flag,estimated", [([], False), (["--error-estimate", "on"], True), (["--no-error-estimate"], False), (["--error-estimate", "off", "--tau-r", "2"], False), (["--tau-r", "2"], True)])
def test_error_estimate_option(tmp_path, capsys, flag, estimated):
    out = tmp_path / "run.nc"
    rc = main([*SMALL, "--precess", "0.3,0.4", "--t-max", "1", "--steps", "8", *flag, "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    ds = dyn.load(out)
    assert ds.attrs["error_estimate"].startswith("step doubling" if estimated else "off")
    assert (np.abs(ds["defect_estimate"].values).max() > 0) == estimated
    rc = main([*SMALL, "--precess", "0.3,0.4", "--t-max", "1", "--error-estimate", "maybe"])
    err = capsys.readouterr().err
    assert rc == 2 and "error estimate" in err and "maybe" in err and err.count("\n") == 1


def test_workers_default_all_cores_for_large_runs_only(tmp_path, capsys, monkeypatch):
    """--workers: one process for a small run, all cores from LARGE_RUN on (same numbers), 0 refused."""
    import os

    from orbsym.commands import evolve as cmd

    argv = [*SMALL[:-1], "--N-y", "12", "--precess", "0.3,0.4", "--t-max", "1", "--steps", "8", "--quiet"]
    outs = {}
    for large in (False, True):
        monkeypatch.setattr(cmd, "LARGE_RUN", 0 if large else 5e7)
        out = tmp_path / f"run{large}.nc"
        assert main([*argv, "--out", str(out)]) == 0
        text = capsys.readouterr().out
        n = max(1, os.cpu_count() or 1) if large else 1
        assert f"{n} process(es)" in text, text
        outs[large] = dyn.load(out)
    np.testing.assert_allclose(outs[True]["current_x"].values, outs[False]["current_x"].values, atol=1e-13)
    assert main([*argv, "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers must be an integer >= 1, got 0" in err and err.count("\n") == 1
