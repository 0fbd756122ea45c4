"""The one progress policy of the command line (:mod:`orbsym.execution`): ``--progress {auto,on,off}`` on
every long-running command, one-line updates without carriage returns off a terminal, tqdm's bar under a
pseudo-terminal, and the deprecated spellings ``--quiet`` / ``--no-progress``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pty_run import run_under_pty

from orbsym import execution
from orbsym.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]

# one small run per command (each a few tenths of a second), as (argv without --progress, bar description)
RUNS = {
    "figure": (["figure", "4", "--quick", "--N-x", "4", "--N-y", "8", "--mu-range=-1:1:5", "--out", "{tmp}"], "orbsym sweep"),
    "reproduce": (["reproduce", "--quick", "--figures", "4", "--N-y", "8", "--out", "{tmp}"], "orbsym sweep"),
    "sweep": (["sweep", "bilayer", "--param", "theta=0,1", "--set", "N_x=3", "--set", "N_y=6", "--executor", "serial"], "orbsym sweep"),
    "evolve": (["evolve", "bilayer", "--basis", "spin", "--N-x", "3", "--N-y", "2", "--N-FM", "1", "--precess", "0.3,0.3", "--t-max", "0.4", "--steps", "4"], "evolve"),
    "response": (["response", "bilayer", "--N-x", "4", "--N-y", "4", "--T", "0.1", "--scan", "mu=-0.4,0"], "orbsym response"),
    "transport": (["transport", "--n-metal", "1", "--N-y", "4", "--T", "0.05"], "orbsym transport"),
    "compute": (["compute", "bilayer", "--N-x", "4", "--N-y", "4", "--quantities", "free_energy"], "orbsym compute"),
}


def _argv(name, tmp_path, *extra):
    argv, desc = RUNS[name]
    return [a.replace("{tmp}", str(tmp_path / "out")) for a in argv] + list(extra), desc


# ------------------------------------------------------------------------------------- policy
@pytest.mark.parametrize(
    "terminal, mode, seconds, expected",
    [
        (True, "auto", 0.1, (True, False)), (True, "on", None, (True, False)), (True, "off", 100, (False, False)),
        (False, "auto", 0.1, (False, False)), (False, "auto", 5.0, (True, True)), (False, "auto", None, (True, True)),
        (False, "on", 0.1, (True, True)), (False, "off", 100, (False, False)),
    ],
)
def test_policy_table(terminal, mode, seconds, expected, monkeypatch):
    """A bar on a terminal; lines elsewhere (auto: only for runs estimated >= QUIET_SECONDS); nothing with off."""
    monkeypatch.setattr(execution, "progress_enabled", lambda progress=None: terminal)
    assert execution.progress_policy(mode, seconds) == expected


def test_bad_mode_and_bad_interval_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"--progress 'yes'.*allowed: auto, on, off"):
        execution.progress_policy("yes")
    monkeypatch.setenv("ORBSYM_PROGRESS_INTERVAL", "-1")
    with pytest.raises(ValueError, match=r"ORBSYM_PROGRESS_INTERVAL='-1'"):
        execution.progress_interval()
    monkeypatch.setenv("ORBSYM_PROGRESS_INTERVAL", "2.5")
    assert execution.progress_interval() == 2.5


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_command_takes_the_same_flag(name):
    sub = build_parser()._defaults["_commands"][name]
    text = " ".join(sub.format_help().split())
    flag = "--progress [{auto,on,off}]" if name in ("figure", "reproduce") else "--progress {auto,on,off}"  # figure's bare --progress: on
    assert flag in text and "auto (default): a bar on a terminal" in text
    assert sub.parse_args(_argv(name, Path("/tmp"), "--progress", "off")[0][1:]).progress == "off"
    # not given: auto (transport keeps None, "not given", and fills in auto with its other defaults)
    assert sub.parse_args(_argv(name, Path("/tmp"))[0][1:]).progress == (None if name == "transport" else "auto")


# --------------------------------------------------------------------------------- log files
@pytest.mark.parametrize("name", sorted(RUNS))
def test_lines_without_carriage_returns_off_a_terminal(name, tmp_path, capsys, monkeypatch):
    """--progress on in a log file: whole lines (first and final state), never a carriage return; off: nothing."""
    monkeypatch.setenv("ORBSYM_PROGRESS_INTERVAL", "0")
    argv, desc = _argv(name, tmp_path, "--progress", "on")
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) >= 2, err
    bars = [line for line in lines if line.startswith(desc)]
    assert bars and "100%" in bars[-1], err
    if name not in ("figure", "reproduce"):  # (the figures' runs are the slowest: their "off" is the sweep's)
        argv, _ = _argv(name, tmp_path / "off", "--progress", "off")
        assert main(argv) == 0
        assert capsys.readouterr().err == ""


def test_auto_is_silent_for_short_runs_off_a_terminal(tmp_path, capsys):
    for name in ("sweep", "evolve", "compute"):
        assert main(_argv(name, tmp_path, "--progress", "auto")[0]) == 0
        assert capsys.readouterr().err == "", name


# -------------------------------------------------------------------------------- deprecated
@pytest.mark.parametrize("name, old", [("sweep", "--quiet"), ("evolve", "--quiet"), ("figure", "--no-progress"), ("reproduce", "--no-progress")])
def test_old_spellings_are_deprecated_aliases_of_off(name, old, capsys, monkeypatch):
    """Off a terminal (scripts, logs) an old spelling is --progress off, silently; on a terminal it says so in one line."""
    sub = build_parser()._defaults["_commands"][name]
    argv = _argv(name, Path("/tmp"))[0][1:]
    assert sub.parse_args([*argv, old]).progress == "off"
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(execution, "progress_enabled", lambda progress=None: True)
    assert sub.parse_args([*argv, old]).progress == "off"
    assert capsys.readouterr().err == f"orbsym: {old} is deprecated; use --progress off\n"
    monkeypatch.undo()
    assert main([*_argv(name, Path("/tmp"))[0], old, "--progress", "on"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not allowed with" in err


def test_figure_keeps_its_bare_progress_switch():
    sub = build_parser()._defaults["_commands"]["figure"]
    assert sub.parse_args(["4", "--progress"]).progress == "on"


# ----------------------------------------------------------------------------- pseudo-terminal
def _under_pty(argv):
    return run_under_pty(argv)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("name", ["sweep", "evolve"])
def test_bar_under_a_pseudo_terminal(name, tmp_path):
    """Under a pseudo-terminal --progress on draws tqdm's bar (carriage-return refreshes) on stderr (sweep:
    the bars of figure and reproduce too, whose grids are sweeps under the same progress_output)."""
    argv, desc = _argv(name, tmp_path, "--progress", "on")
    rc, out, err = _under_pty(argv)
    assert rc == 0, err
    assert "\r" + desc in err and "100%" in err, err
