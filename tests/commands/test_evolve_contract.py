"""``orbsym evolve`` output contract: units on every variable, the cycle-averaged pumped current of the
summary (equal to the API's ``pumped_current``), the particle-number note under relaxation, the defaults
named in ``--help`` and in the summary, and a progress bar that reaches its total without carriage
returns in a log file."""

import json
import math
import re

import numpy as np
import pytest

from orbsym import dynamics as dyn
from orbsym.cli import build_parser, main
from orbsym.systems import bilayer

# spin bilayer 4 x 4 (three metal columns, N_FM = 1: the NM|FM boundary is bond 2): omega = pi, a period of 2 = 10 stored intervals
SPIN = ["evolve", "bilayer", "--basis", "spin", "--N-x", "4", "--N-y", "4", "--N-FM", "1", "--t-max", "4", "--steps", "20", "--progress", "off"]
PREC = ["--precess", f"{math.pi!r},0.4", "--switch-on", "1"]
TIMES = np.linspace(0, 4, 21)


def _api(tau=None, **kw):
    drives = [dyn.Precession(math.pi, 0.4, switch_on=1.0)] + ([dyn.Relaxation(tau)] if tau else [])
    return dyn.evolve(bilayer(basis="spin", N_x=4, N_y=4, N_FM=1, **kw), drives, TIMES, T=0.05)


def _summary_line(text, start):
    lines = [line for line in text.splitlines() if line.startswith(start)]
    assert len(lines) >= 1, text
    return lines


# ------------------------------------------------------------------------------------------ units
def test_every_variable_and_coordinate_has_units_and_a_description(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main([*SPIN, *PREC, "--tau-r", "2", "--out", str(out)]) == 0
    ds = dyn.load(out)
    missing = [k for k, v in ds.variables.items() if not str(v.attrs.get("units", "")).strip() or not str(v.attrs.get("description", "")).strip()]
    assert not missing, missing
    assert {"residual_fd", "tolerance_fd", "residual_exact", "dJdt_fd"} <= set(ds.data_vars)  # the continuity check's variables too
    # spin basis in Pauli units: J in sigma; densities per site, currents per row, rates per site
    assert ds["current_x"].attrs["units"].startswith("charge: t/hbar") and "sigma t/hbar; per row" in ds["current_x"].attrs["units"]
    assert "sigma per site" in ds["density"].attrs["units"] and "sigma t/hbar per site" in ds["torque_total"].attrs["units"]
    assert ds["energy"].attrs["units"] == "t per row" and ds["time"].attrs["units"].startswith("1/t")
    # the CSV names the units of each of its variables in a header line
    csv = tmp_path / "run.csv"
    assert main([*SPIN, *PREC, "--out", str(csv)]) == 0
    head = [line for line in csv.read_text().splitlines() if line.startswith("# current_x:")]
    assert len(head) == 1 and head[0].endswith("[" + ds["current_x"].attrs["units"] + "]")


@pytest.mark.parametrize("basis, spin_unit, J", [("spin", "sigma", "sigma"), ("spin", "S", "hbar"), ("orbital", None, "hbar")])
def test_the_unit_of_J_follows_the_basis(basis, spin_unit, J):
    kw = {"spin_unit": spin_unit} if spin_unit else {}
    ds = dyn.evolve(bilayer(basis=basis, N_x=3, N_y=2, N_FM=1, **kw), dyn.Precession(0.3, 0.2), np.linspace(0, 0.4, 5), T=0.1)
    units = ds["current_y"].attrs["units"]
    assert f"x, y, z: {J} t/hbar" in units and ("sigma" in units) == (J == "sigma")
    assert all("units" in ds[k].attrs for k in ("density", "current_x", "torque_exchange", "m", "A_y", "E_y", "particle_number"))


# ------------------------------------------------------------------------------ pumped current
def test_summary_pumped_current_is_the_api_cycle_average(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main([*SPIN, *PREC, "--tau-r", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    (line,) = _summary_line(text, "pumped current through the NM|FM boundary (bond 2, columns 2|3)")
    # one whole period 2 pi/omega = 2 after the switch-on at t = 1: the last period, t = 2..4
    assert "cycle average over the last 1 period(s)" in line and "t = 2..4" in line and "(sigma t/hbar per row" in line
    api = dyn.pumped_current(_api(tau=2.0), 2, window=(2.0, 4.0))
    printed = {k: float(v) for k, v in re.findall(r"J_([xyz]) +(-?[0-9.]+e[-+][0-9]+)", line)}
    assert set(printed) == {"x", "y", "z"}
    for p in "xyz":
        assert printed[p] == pytest.approx(api[p], rel=1e-4, abs=1e-15)  # printed with 5 digits
    rec = json.loads(dyn.load(out).attrs["pumped_current"])  # the full-precision record in the file
    assert rec["window"] == [2.0, 4.0] and rec["bonds"][0]["bond"] == 2 and rec["bonds"][0]["boundary"] == "NM|FM"
    for p in "xyz":
        assert rec["bonds"][0]["current"][p] == pytest.approx(api[p], rel=1e-12, abs=1e-16)
    # not the instantaneous current at t_max (what the summary used to print)
    last = _api(tau=2.0)["current_x"].sel(bond=2, polarization="z").values[-1]
    assert abs(last - api["z"]) > 1e-3 * abs(api["z"])


def test_pumped_current_of_a_trilayer_names_both_interfaces(capsys):
    argv = ["evolve", "trilayer", "--N-x", "5", "--N-y", "2", "--N-FM", "1", "--precess", "1,0.3", "--t-max", "1", "--steps", "4", "--progress", "off"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert len(_summary_line(text, "pumped current through the FM_L|NM boundary (bond 0, columns 0|1)")) == 1
    assert len(_summary_line(text, "pumped current through the NM|FM_R boundary (bond 3, columns 3|4)")) == 1
    assert "less than one period" in text  # 2 pi/omega = 6.28 > t_max: said, not called a cycle average
    assert main([*SPIN, "--quench", "mu=0"]) == 0  # no precession: a time average, not called pumping
    (line,) = _summary_line(capsys.readouterr().out, "time-averaged current through the NM|FM boundary (bond 2, columns 2|3)")
    assert "no periodic drive" in line and "t = 0..4" in line


# --------------------------------------------------------------------------- particle number
def test_drift_note_with_relaxation_only(capsys):
    assert main([*SPIN, *PREC]) == 0
    assert "note: particles" not in capsys.readouterr().out
    assert main([*SPIN, *PREC, "--tau-r", "2"]) == 0
    (note,) = _summary_line(capsys.readouterr().out, "note: particles per row")
    assert "dN/dt = -(N - N_eq(t))/tau_r" in note and "f(h(t))" in note
    # the spin metal is spin-rotation invariant: rotating m leaves the spectrum, hence N_eq, unchanged
    assert "stays" in note and "so N is conserved" in note


def test_drift_note_states_the_measured_drift_and_its_cause(capsys):
    """Orbital metal with gamma = 0.5: N_eq = Tr f(h(t)) changes as m(t) precesses, N follows it with lag tau_r."""
    argv = ["evolve", "bilayer", "--N-x", "3", "--N-y", "4", "--N-FM", "1", "--gamma", "0.5", "--m-FM", "x", "--precess", "1,0.5", "--tau-r", "1",
            "--t-max", "3", "--steps", "30", "--progress", "off"]
    assert main(argv) == 0
    (note,) = _summary_line(capsys.readouterr().out, "note: particles per row")
    ds = dyn.evolve(bilayer(N_x=3, N_y=4, N_FM=1, gamma=0.5, m_FM="x"), [dyn.Precession(1.0, 0.5), dyn.Relaxation(1.0)], np.linspace(0, 3, 31), T=0.05)
    N = ds["particle_number"].values
    change = N[-1] - N[0]
    assert abs(change) > 1e-6  # a real drift ...
    assert f"{N[0]:.10g} -> {N[-1]:.10g} ({change:+.3g})" in note and "moves over" in note
    # ... whose cause is the relaxation source: dN/dt = sum of the charge relaxation source (trapezoid on the stored grid)
    src = ds["relaxation"].sel(polarization="charge").sum("column").values
    assert np.trapezoid(src, ds["time"].values) == pytest.approx(change, rel=0.05)
    n_eq = ds["density_eq"].sel(polarization="charge").sum("column").values
    assert np.ptp(n_eq) > 1e-6 and f"{n_eq.min():.10g}..{n_eq.max():.10g}" in note


# ----------------------------------------------------------------------------------- defaults
def test_defaults_in_help_and_summary(capsys):
    subs = build_parser()._defaults["_commands"]
    h = " ".join(subs["evolve"].format_help().split())
    for words in ("default 9", "default 40", "default 2", "(default 0.05)", "N_x = 9 columns, N_y = 40 rows, N_FM = 2, T = 0.05",
                  "25 x 800, N_FM = 1, T = 0.01", "--progress {auto,on,off}"):
        assert words in h, words
    c = " ".join(subs["compute"].format_help().split())
    for words in ("(default: 25)", "(default: 800)", "(default: 1)", "(default: 0.01)", "evolve 9 x 40, N_FM = 2, T = 0.05", "N_y = 200"):
        assert words in c, words
    assert main(["evolve", "bilayer", "--basis", "spin", "--N-x", "4", "--precess", "0.3,0.3", "--t-max", "0.4", "--steps", "4", "--progress", "off", "--N-y", "2"]) == 0
    (line,) = _summary_line(capsys.readouterr().out, "  defaults used:")
    used = line.split("(")[0]
    assert "--N-FM 2" in used and "--T 0.05" in used and "--mu -0.2" in used and "--m-FM z" in used
    assert "--N-x" not in used and "--N-y" not in used and "--gamma" not in used  # given, or not applicable (spin basis)
    assert main(["compute", "bilayer", "--N-x", "4", "--N-y", "4", "--T", "0.05", "--quantities", "free_energy"]) == 0
    (line,) = _summary_line(capsys.readouterr().out, "defaults used:")
    used = line.split("(")[0]
    assert "--N-FM 1" in used and "--mu -0.2" in used and "--gamma 1.0" in used and "--m-FM z" in used
    assert "--N-x" not in used and "--T" not in used and "--m-L" not in used
    assert main(["compute", "bilayer", "--N-x", "4", "--N-y", "4", "--quantities", "free_energy", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["defaults_used"]["--N-FM"] == 1 and d["defaults_used"]["--T"] == 0.01 and "--N-x" not in d["defaults_used"]


# ----------------------------------------------------------------------------------- progress
@pytest.mark.parametrize("workers", ["1", "2"])
def test_progress_lines_reach_the_total_without_carriage_returns(workers, capsys, monkeypatch):
    monkeypatch.setenv("ORBSYM_PROGRESS_INTERVAL", "0")
    argv = [*SPIN[:-2], *PREC, "--N-y", "8", "--steps", "10", "--workers", workers, "--progress", "on"]
    assert main(argv) == 0
    assert f"{workers} process(es)" in capsys.readouterr().out  # workers = 2: the momenta shared by two processes
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and lines and all(line.startswith("evolve") for line in lines), err
    assert "0/11" in lines[0] and "11/11" in lines[-1]
    assert main([*argv[:-1], "off"]) == 0 and capsys.readouterr().err == ""


def test_api_dataset_carries_units_on_every_variable():
    """evolve() itself (not only the saved file) labels every variable, the balance checks included."""
    import numpy as np

    from orbsym.dynamics import Quench, evolve
    from orbsym.systems import bilayer

    ds = evolve(bilayer(N_x=4, N_y=6), [Quench(m_FM="y")], np.linspace(0, 1, 5), T=0.05)
    missing = [v for v in ds.data_vars if "units" not in ds[v].attrs or "description" not in ds[v].attrs]
    assert not missing, missing
