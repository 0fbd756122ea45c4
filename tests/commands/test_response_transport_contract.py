"""The output contract of ``orbsym response`` and ``orbsym transport`` (issue 22, item 1).

A summary on stdout with units and the defaults used; ``--out`` NetCDF with ``units`` and
``description`` on every variable and the record of every scan point; ``--json``; the API's key names
and the model's ``mu``; ``--output`` refused; the symmetry-zero note; progress that never writes a
carriage return into a non-terminal (and a bar on a terminal).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from orbsym.cli import main

ROOT = Path(__file__).resolve().parents[2]
MODEL = '''
from orbsym.symbolic.symmetry import symmetric_hoppings
model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
params = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
'''
SMALL = ["--N-x", "4", "--N-y", "12", "--T", "0.05", "--eta", "0.1"]


@pytest.fixture(scope="module")
def nnn(tmp_path_factory):
    p = tmp_path_factory.mktemp("models") / "nnn.py"
    p.write_text(MODEL)
    return p


def _all_have_units(ds):
    missing = [v for v in ds.variables if not str(ds[v].attrs.get("units", "")).strip() or not str(ds[v].attrs.get("description", "")).strip()]
    assert not missing, f"variables without units/description: {missing}"


# ------------------------------------------------------------------------------------------ response
def test_response_netcdf_units_every_variable_and_every_point(tmp_path, nnn, capsys):
    out = tmp_path / "r.nc"
    assert main(["response", "bilayer", "--metal-model", str(nnn), "--m-FM", "x", *SMALL, "--scan", "mu=-0.4,0.1", "--out", str(out), "--progress", "off"]) == 0
    ds = xr.load_dataset(out)
    _all_have_units(ds)
    assert ds["density"].attrs["units"].startswith("particles [charge] or hbar [x, y, z] per site, per unit force q E_y")
    assert ds["mu"].attrs["units"] == "t"
    points = json.loads(ds.attrs["points"])
    assert [p["point"] for p in points] == [0, 1] and [p["mu"] for p in points] == [-0.4, 0.1]
    assert [p["system"]["mu"] for p in points] == [-0.4, 0.1]  # the full record of each point, not the first one twice
    assert [p["system"]["metal_model"]["parameters"]["mu"] for p in points] == [-0.4, 0.1]
    assert json.loads(ds.attrs["system"])["mu"] == [-0.4, 0.1] and json.loads(ds.attrs["system"])["N_x"] == 4
    assert ds.attrs["eta"] == 0.1 and ds.attrs["T"] == 0.05 and "Kubo" in ds.attrs["engine"]
    assert "symmetry_zero" not in ds.attrs  # this metal has an orbital Hall response
    text = capsys.readouterr().out
    assert "note:" not in text and f"wrote {out}" in text


def test_response_summary_names_system_engine_defaults_and_the_api_numbers(nnn, capsys):
    from orbsym.commands.compute import _user_metal
    from orbsym.response import response
    from orbsym.symbolic.models import ferromagnet
    from orbsym.systems import heterostructure, layer

    assert main(["response", "bilayer", "--metal-model", str(nnn), "--m-FM", "x", *SMALL, "--progress", "off"]) == 0
    text = capsys.readouterr().out
    head = text.splitlines()
    assert head[0].startswith("response: bilayer (metal model 't2g-D4h' from") and "N_x = 4, N_y = 12, N_FM = 1" in head[0]
    assert "field E_y; T = 0.05, eta = 0.1" in head[0]
    assert head[1].startswith("  engine: Kubo linear response")
    assert head[2] == "  defaults used: --N-FM 1, --mu -0.2, --m 1.0"  # what was not given, with its value
    assert "per unit force q E_y" in head[3] and "slice-boundary total" in head[3]
    model, params = _user_metal(nnn)
    r = response(heterostructure([layer(model, 3, **params), layer(ferromagnet(model.generators), 1, m="x", t=1.0)], N_y=12, mu=-0.2), 0.05, 0.1)
    tq = r.orbital_torque()
    assert abs(tq["y"]) > 1e-3
    assert f"orbital torque on the FM (exchange, summed over the FM columns; hbar t/hbar per row): x {tq['x']: .4g}, y {tq['y']: .4g}, z {tq['z']: .4g}" in head[4]
    assert "L_z accumulation per column" in text  # without --out the profiles follow the summary


def test_response_symmetry_zero_is_said_once(tmp_path, capsys):
    """The paper's Eq. 3 metal: every k-even response is exactly zero -- one line says so (and the file)."""
    out = tmp_path / "eq3.nc"
    assert main(["response", "bilayer", *SMALL, "--m-FM", "x", "--out", str(out), "--progress", "off"]) == 0
    text = capsys.readouterr().out
    notes = [line for line in text.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "no orbital Hall response" in notes[0] and "Eq. 3" in notes[0]
    ds = xr.load_dataset(out)
    assert ds.attrs["symmetry_zero"] == notes[0]
    assert float(np.abs(ds["density"].sel(polarization=["x", "y", "z"])).max()) == 0.0  # the note is about an exact zero
    assert float(np.abs(ds["current_y"].sel(polarization="charge")).max()) > 1  # the Drude current is not zero
    assert main(["response", "bulk", "--N-k", "12", "--mu-range=-1:1:3", "--progress", "off"]) == 0
    bulk = capsys.readouterr().out
    assert sum(line.startswith("note: sigma^{J_z}_xy vanishes at every mu") for line in bulk.splitlines()) == 1


def test_response_bulk_outputs(tmp_path, nnn, capsys):
    nc, csv, csv2 = tmp_path / "b.nc", tmp_path / "ohc.csv", tmp_path / "scan.csv"
    base = ["response", "bulk", "--metal-model", str(nnn), "--N-k", "12", "--mu-range=-1:1:3", "--progress", "off"]
    assert main([*base, "--out", str(nc)]) == 0
    ds = xr.load_dataset(nc)
    _all_have_units(ds)
    assert json.loads(ds.attrs["points"])[0]["parameters"]["s_3"] == 0.2 and ds.attrs["T"] == 0.01
    assert main([*base, "--out", str(csv)]) == 0
    rows = [line for line in csv.read_text().splitlines() if not line.startswith("#")]
    assert rows[0].split(",") == ["mu", "sigma", "charge_hall"] and len(rows) == 4  # no scan: no point column
    assert main([*base, "--scan", "eta=0.05,0.2", "--out", str(csv2)]) == 0
    rows = [line.split(",") for line in csv2.read_text().splitlines() if not line.startswith("#")]
    assert rows[0][:3] == ["point", "eta", "mu"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("0", "0.05")] * 3 + [("1", "0.2")] * 3  # point = the scan index
    text = capsys.readouterr().out
    assert "response bulk: model t2g-D4h" in text and "note:" not in text


def test_response_json_on_stdout(capsys):
    assert main(["response", "bilayer", *SMALL, "--json", "--progress", "off"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["data"]["density"]["dims"] == ["point", "part", "polarization", "column"]
    assert "per unit force q E_y" in d["data"]["density"]["attrs"]["units"] and d["coord_attrs"]["column"]["units"] == "1"


# ------------------------------------------------------------------------------------------ transport
TSMALL = ["--n-metal", "2", "--fm", "y", "--N-y", "6"]


def test_transport_summary_and_json_follow_the_api(capsys):
    from orbsym.systems import heterostructure, layer
    from orbsym.transport import attach_leads, transport

    s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m="y"), layer("nm", 2, gamma=0.3)], N_y=6, mu=-0.2)
    res = transport(attach_leads(s), T=0.01)
    G = res.conductance()["total"]
    assert main(["transport", *TSMALL, "--progress", "off"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("transport: NM(2) | FM(y) | NM(2) (Eq. 3 metal, gamma = 0.3, mu = -0.2), N_y = 6 periodic rows") and "linear response" in lines[0]
    assert lines[1] == "  defaults used: --gamma 0.3, --mu -0.2, --T 0.01, --width periodic, --angle 0, --solver auto"
    assert lines[2].startswith("  leads: NM (continuation) | NM (continuation), semi-infinite in x")
    assert f"conductance G = {G:.6g} e^2/h per row (Landauer)" in text
    assert "bond current through the column boundaries" in text and "exchange torque on the FM column" in text and "max |-div j + tau|" in text
    assert len(lines) < 12 and "{" not in text  # a summary, not the JSON document
    assert main(["transport", *TSMALL, "--json", "--progress", "off"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["conductance"]["total"] == pytest.approx(G, abs=1e-13) and "total_per_row" not in json.dumps(d)
    assert d["landauer_current"]["value"] == pytest.approx(res.landauer_current(), abs=1e-13)
    assert d["mu"] == -0.2 and d["system"]["leads"]["left"]["params"]["mu"] == -0.2  # the model's mu, not the axis zero
    assert "conductance in e^2/h per row" in d["units"]


def test_transport_finite_bias_record(tmp_path, capsys):
    """At finite bias: the model's mu and the leads' mu_L, mu_R on its scale; no conductance anywhere."""
    out = tmp_path / "t.json"
    assert main(["transport", *TSMALL, "--mu", "-0.5", "--bias", "0.1", "--n-energy", "10", "--out", str(out), "--progress", "off"]) == 0
    d = json.loads(out.read_text())
    assert d["mu"] == -0.5 and d["mu_L"] == pytest.approx(-0.45) and d["mu_R"] == pytest.approx(-0.55)
    assert "conductance" not in d and "conductance" not in d["units"] and "conductance" not in d["landauer_current"]["units"]
    assert "--mu" not in d["defaults_used"] and d["defaults_used"]["--T"] == 0.01
    text = capsys.readouterr().out
    assert "Landauer particle current" in text and "(no conductance at finite bias: omit --bias for G)" in text and "conductance G" not in text


def test_transport_netcdf_and_csv(tmp_path, capsys):
    from orbsym.systems import heterostructure, layer
    from orbsym.transport import attach_leads, transport

    nc, csv = tmp_path / "t.nc", tmp_path / "t.csv"
    assert main(["transport", *TSMALL, "--T", "0.05", "--out", str(nc), "--progress", "off"]) == 0
    ds = xr.load_dataset(nc)
    _all_have_units(ds)
    s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m="y"), layer("nm", 2, gamma=0.3)], N_y=6, mu=-0.2)
    res = transport(attach_leads(s), T=0.05)
    assert float(ds["conductance"]) == pytest.approx(res.conductance()["total"], abs=1e-13) and ds["conductance"].attrs["units"] == "e^2/h per row"
    np.testing.assert_allclose(ds["density"].sel(polarization="y").values, res.densities()["y"], atol=1e-13)
    np.testing.assert_allclose(ds["current_x"].sel(polarization="y").values, res.currents("bond")["y"], atol=1e-13)
    np.testing.assert_allclose(ds["torque_total"].sel(polarization="y").values, res.torques()["y"]["total"], atol=1e-13)
    assert ds.attrs["mu"] == -0.2 and "per unit bias" in ds["density"].attrs["units"]
    assert main(["transport", *TSMALL, "--T", "0.05", "--out", str(csv), "--progress", "off"]) == 0
    lines = csv.read_text().splitlines()
    header = next(line for line in lines if not line.startswith("#")).split(",")
    assert header[:2] == ["polarization", "column"] and {"density", "current_x_in", "current_x_out"} <= set(header)
    assert any(line.startswith("# conductance = ") and "e^2/h per row" in line for line in lines)
    body = [dict(zip(header, line.split(","))) for line in lines[lines.index(",".join(header)) + 1:]]
    y = [r for r in body if r["polarization"] == "y"]
    np.testing.assert_allclose([float(r["current_x_in"]) for r in y], res.currents("bond")["y"][:-1], atol=1e-12)
    np.testing.assert_allclose([float(r["current_x_out"]) for r in y], res.currents("bond")["y"][1:], atol=1e-12)


def test_transport_metal_model_equals_the_api(nnn, capsys):
    from orbsym.commands.compute import _user_metal
    from orbsym.symbolic.models import ferromagnet
    from orbsym.systems import heterostructure, layer
    from orbsym.transport import attach_leads, transport

    assert main(["transport", "--metal-model", str(nnn), "--n-metal", "2", "--fm", "z", "--N-y", "6", "--T", "0.05", "--json", "--progress", "off"]) == 0
    d = json.loads(capsys.readouterr().out)
    model, params = _user_metal(nnn)
    s = heterostructure([layer(model, 2, **params), layer(ferromagnet(model.generators), 1, m="z", t=1.0), layer(model, 2, **params)], N_y=6, mu=-0.2)
    res = transport(attach_leads(s), T=0.05)
    assert d["conductance"]["total"] == pytest.approx(res.conductance()["total"], abs=1e-12)
    np.testing.assert_allclose(d["densities"]["z"], res.densities()["z"], atol=1e-12)
    assert np.abs(res.densities()["z"]).max() > 1e-4  # the model file's metal (orbital mixing), not the Eq. 3 one
    assert d["metal_model"]["parameters"]["s_3"] == 0.2 and d["options"]["gamma"] is None and "--gamma" not in d["defaults_used"]


def test_help_states_the_defaults():
    from orbsym.cli import build_parser

    subs = build_parser()._defaults["_commands"]
    t = " ".join(subs["transport"].format_help().split())
    for words in ("default 10", "default 0.3", "default -0.2", "default 0.01", "default 200", "default 16", "--progress {auto,on,off}"):
        assert words in t, words
    r = " ".join(subs["response"].format_help().split())
    for words in ("default 25", "default 800", "default 1", "default 0.01", "default 0.05", "--progress {auto,on,off}"):
        assert words in r, words


# ------------------------------------------------------------------------------------------ progress
@pytest.mark.parametrize("mode", ["auto", "on"])
def test_progress_lines_without_carriage_returns_off_a_terminal(mode, capsys, monkeypatch):
    from orbsym import execution as cmd  # the one progress policy (QUIET_SECONDS) lives in the execution layer

    monkeypatch.setenv("ORBSYM_PROGRESS_INTERVAL", "0")  # a line at every update
    if mode == "auto":  # auto: silent for short runs off a terminal ...
        assert main(["response", "bilayer", *SMALL, "--progress", mode]) == 0
        assert main(["transport", *TSMALL, "--progress", mode]) == 0
        assert capsys.readouterr().err == ""
        monkeypatch.setattr(cmd, "QUIET_SECONDS", 0.0)  # ... and the same lines as "on" for the long ones
    assert main(["response", "bilayer", *SMALL, "--scan", "mu=-0.4,0,0.3", "--progress", mode]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0].startswith("orbsym response:") and "0/3" in lines[0] and "3/3" in lines[-1] and all(line.startswith("orbsym response:") for line in lines)
    assert main(["transport", *TSMALL, "--progress", mode]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and err.startswith("orbsym transport (estimate ~") and "1/1" in err.splitlines()[-1]
    assert main(["transport", *TSMALL, "--progress", "off"]) == 0
    assert capsys.readouterr().err == ""


def test_line_stream_rate_limit_and_heartbeat():
    """tqdm refreshes (carriage returns) become whole lines, at most one per interval, the final state
    always; other text passes; the heartbeat repeats a stale state."""
    import io

    from orbsym.execution import LineStream

    sink = io.StringIO()
    s = LineStream(sink, interval=3600)
    s.write("\rbar 0/3")
    s.write("\rbar 1/3  ")
    s.write("\rbar 2/3")
    s.write("a warning\n")
    s.write("\rbar 3/3")
    s.write("\n")
    assert sink.getvalue() == "bar 0/3\na warning\nbar 3/3\n"
    s.interval = 0.0
    s.write("\rnext 0/1")
    s.heartbeat()
    assert sink.getvalue().splitlines()[-1].startswith("next 0/1 (still running,") and "\r" not in sink.getvalue()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal():
    """Under a pseudo-terminal --progress auto draws tqdm's bar (carriage returns) on stderr."""
    from pty_run import run_under_pty

    rc, out, err = run_under_pty(["transport", *TSMALL])
    assert rc == 0 and "conductance G" in out
    assert "\r" in err and "orbsym transport (estimate" in err and "1/1" in err


def test_transport_metal_model_refusals_and_its_mu(tmp_path, nnn, capsys):
    """A model file is checked before any work; its own mu is the model's mu of the record."""
    flat = tmp_path / "flat.py"
    flat.write_text(MODEL.replace("s_3=0.2)", "s_3=0.2, mu=-0.4)"))
    cubic = tmp_path / "cubic.py"
    cubic.write_text("from orbsym.symbolic.models import cubic_t2g_metal\nmodel = cubic_t2g_metal()\nparams = {}\n")
    typo = tmp_path / "typo.py"
    typo.write_text(MODEL.replace("s_3=0.2", "s_4=0.2"))
    for argv, words in (
        (["--metal-model", str(tmp_path / "none.py")], ["none.py", "does not exist"]),
        (["--metal-model", str(cubic)], ["is 3D", "--N-z"]),
        (["--metal-model", str(typo)], ["s_4", "did you mean", "s_3"]),
        (["--metal-model", str(flat), "--mu", "-0.1"], ["--mu conflicts with 'mu'", "flat.py"]),
    ):
        assert main(["transport", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and all(w in err for w in words), (argv, err)
    assert main(["transport", "--metal-model", str(flat), "--n-metal", "1", "--N-y", "4", "--T", "0.05", "--json", "--progress", "off"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["mu"] == -0.4 and d["system"]["leads"]["left"]["params"]["mu"] == -0.4 and "--mu" not in d["defaults_used"]
