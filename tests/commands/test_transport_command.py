"""``orbsym transport``: JSON output with the balance, usage errors exit 2."""

import json

from orbsym.cli import main


def test_transport_command_writes_balanced_state(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc = main(["transport", "--n-metal", "2", "--fm", "y", "--N-y", "6", "--bias", "0.05", "--n-energy", "10", "--out", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["regime"] == "finite bias" and d["continuity"]["max_abs_balance"] < 1e-10
    assert abs(d["currents"]["bond"]["charge"][0] - d["landauer_current"]["value"]) < 1e-10


def test_transport_command_linear_and_bad_split(capsys):
    assert main(["transport", "--n-metal", "2", "--N-y", "4", "--T", "0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["conductance"]["total"] > 0
    assert main(["transport", "--split", "3"]) == 2
    assert "split" in capsys.readouterr().err


def test_transport_command_open_strip(capsys):
    assert main(["transport", "--n-metal", "1", "--fm", "z", "--N-y", "3", "--width", "open", "--T", "0.05", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["densities"]["z"]) == 3 and len(d["densities"]["z"][0]) == 3
    assert main(["transport", "--width", "ring"]) == 2


def test_transport_command_at_45_degrees(capsys):
    """--angle 45: Eq. 3 metal around an FM column, crystal rotated; balanced, diagonal torque reported."""
    assert main(["transport", "--n-metal", "2", "--fm", "z", "--N-y", "4", "--angle", "45", "--T", "0.05", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["continuity"]["max_abs_balance"] < 1e-10 and "bond_diagonal" in d["torques"]["z"]
    assert any("@45" in str(c) for c in d["system"]["columns"]) or d["system"]["bonds"]
    assert main(["transport", "--angle", "30"]) == 2
    assert "angle" in capsys.readouterr().err


def test_transport_command_region_solver(capsys):
    """--solver rgf / dense give the same state (recorded as region_solver); auto picks rgf for a long region."""
    outs = {}
    for solver in ("rgf", "dense"):
        assert main(["transport", "--n-metal", "3", "--fm", "y", "--N-y", "4", "--T", "0", "--solver", solver, "--json"]) == 0
        outs[solver] = json.loads(capsys.readouterr().out)
        assert outs[solver]["region_solver"] == solver
    assert abs(outs["rgf"]["conductance"]["total"] - outs["dense"]["conductance"]["total"]) < 1e-12
    assert max(abs(a - b) for a, b in zip(outs["rgf"]["densities"]["y"], outs["dense"]["densities"]["y"])) < 1e-12
    assert main(["transport", "--n-metal", "5", "--fm", "z", "--N-y", "2", "--T", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["region_solver"] == "rgf"
    assert main(["transport", "--solver", "fast"]) == 2
    assert "solver" in capsys.readouterr().err


import pytest  # noqa: E402

# options that DO apply are still accepted (the refusals of test_transport_refusals.py must not over-reach)
ACCEPTED = [
    ("split in linear response", ["--split", "0.3"]),
    ("split at finite bias", ["--bias", "0.05", "--split", "0.3", "--n-energy", "10"]),
    ("n-energy linear T > 0", ["--n-energy", "4"]),
    ("energy-tol linear T > 0", ["--energy-tol", "0.5", "--n-energy", "2"]),
    ("zero bias at T = 0", ["--bias", "0", "--T", "0"]),
    ("negative bias", ["--bias=-0.05", "--n-energy", "10", "--T", "0.05"]),
    ("signed fm axis", ["--fm=-y", "--T", "0"]),
]


@pytest.mark.parametrize("argv", [a for _, a in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_transport_command_accepts_options_that_apply(argv, capsys):
    assert main(["transport", "--n-metal", "1", "--N-y", "2", "--json", *argv]) == 0, capsys.readouterr().err
    d = json.loads(capsys.readouterr().out)
    assert d["continuity"]["max_abs_balance"] < 1e-10


def test_transport_command_open_default_rows(tmp_path, capsys):
    """--width open without --N-y is a strip of OPEN_N_Y rows (not 200); the summary names that default."""
    from orbsym.commands.transport import OPEN_N_Y

    out = tmp_path / "strip.json"
    assert main(["transport", "--n-metal", "1", "--width", "open", "--T", "0", "--out", str(out), "--progress", "off"]) == 0
    d = json.loads(out.read_text())
    assert len(d["densities"]["z"][0]) == OPEN_N_Y == 16
    assert d["defaults_used"]["--N-y"] == 16
    text = capsys.readouterr().out
    assert "--N-y 16" in text and f"wrote {out}" in text
