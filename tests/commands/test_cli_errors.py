"""The ``orbsym`` command through a subprocess: exit status 2 for usage errors and 1 for other
failures, exactly one line on stderr and no traceback (unless ``--debug``), and output files that
are either complete or absent/unchanged after a failed or interrupted run."""

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["compute", "trilayer", "--N-x", "5", "--N-y", "4"]


def run(*argv, cwd=None, preexec_fn=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "orbsym.cli", *argv], capture_output=True, text=True, env=env, cwd=cwd or ROOT,
        timeout=timeout, preexec_fn=preexec_fn,
    )


def assert_one_line_error(proc, status, *words):
    err = proc.stderr
    assert proc.returncode == status, (proc.returncode, err)
    assert err.endswith("\n") and err.count("\n") == 1, f"stderr is not one line: {err!r}"
    assert err.startswith("orbsym: ") and "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert proc.stdout == ""


USAGE_ERRORS = [
    ("no command", [], ["no command given", "--help"]),
    ("unknown command", ["comptue"], ["invalid choice", "'comptue'", "compute"]),
    ("unknown option", [*SMALL, "--gama", "0.3"], ["unrecognized arguments", "--gama", "did you mean --gamma?"]),
    ("unknown option with =", [*SMALL, "--qantities=densities"], ["unrecognized arguments", "did you mean --quantities?"]),
    ("bad geometry", ["compute", "trilyer"], ["unknown geometry 'trilyer'", "did you mean 'trilayer'"]),
    ("bad basis", [*SMALL, "--basis", "orbitl"], ["--basis", "'orbitl'", "did you mean 'orbital'"]),
    ("bad interface", [*SMALL, "--interface", "metl"], ["--interface", "did you mean 'metal'", "fm, metal"]),
    ("bad metal", [*SMALL, "--metal", "AM"], ["--metal", "did you mean 'am'"]),
    ("non-integer N_x", [*SMALL, "--N-x", "2.5"], ["--N-x", "invalid int value", "'2.5'"]),
    ("N_y = 0", ["compute", "trilayer", "--N-y", "0"], ["N_y", ">= 1", "got 0"]),
    ("N_FM too large", [*SMALL, "--N-FM", "3"], ["N_x = 5", "N_FM = 3", ">= 2 N_FM + 1 = 7"]),
    ("N_FM = 0", [*SMALL, "--N-FM", "0"], ["N_FM", ">= 1", "got 0"]),
    ("bilayer N_x too small", ["compute", "bilayer", "--N-x", "1", "--N-y", "4"], ["N_x", ">= 2", "got 1"]),
    ("negative T", [*SMALL, "--T", "-0.01"], ["--T", ">= 0", "-0.01"]),
    ("NaN T", [*SMALL, "--T", "nan"], ["--T", "finite", "nan"]),
    ("NaN gamma", [*SMALL, "--gamma", "nan"], ["gamma", "finite", "nan"]),
    ("infinite mu", [*SMALL, "--mu", "inf"], ["mu", "finite", "inf"]),
    ("negative |m|", [*SMALL, "--m", "-1"], ["|m|", ">= 0"]),
    ("bad magnetization axis", [*SMALL, "--m-L", "q"], ["'q'", "x, y, z"]),
    ("bad magnetization vector", [*SMALL, "--m-L", "1,a,0"], ["--m-L", "'1,a,0'", "mx,my,mz"]),
    ("four magnetization numbers", [*SMALL, "--m-R", "1,2,3,4"], ["--m-R", "got 4 numbers"]),
    ("quantity typo", [*SMALL, "--quantities", "densites"], ["'densites'", "did you mean 'densities'", "--quantities"]),
    ("empty quantities", [*SMALL, "--quantities", ","], ["--quantities is empty"]),
    ("empty quantities entry", [*SMALL, "--quantities", "densities,,currents"], ["--quantities", "empty entry at position 2"]),
    ("trailing quantities comma", [*SMALL, "--quantities", "densities,"], ["--quantities", "empty entry at position 2"]),
    ("rkky of a bilayer", ["compute", "bilayer", "--N-x", "4", "--N-y", "4", "--rkky"], ["--rkky", "trilayer"]),
    ("workers 0", [*SMALL, "--workers", "0"], ["--workers", ">= 1"]),
    ("AM in orbital basis", [*SMALL, "--metal", "am", "--basis", "orbital"], ["altermagnet", "--metal am", "--basis spin"]),
]


#: usage errors also run through a real process (argparse's own error, an unknown option, a value
#: check after parsing); the rest of the table runs in-process through cli.main (same code, same
#: stderr line and status, without ~0.5 CPU s of interpreter start and imports per case)
THROUGH_A_PROCESS = ("no command", "unknown option", "NaN T")


def run_in_process(argv, capsys):
    """cli.main(argv) as a CompletedProcess-like result (returncode, stdout, stderr)."""
    import types

    from orbsym import cli

    capsys.readouterr()
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return types.SimpleNamespace(returncode=rc, stdout=out, stderr=err)


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in USAGE_ERRORS])
def test_usage_error_is_one_line_with_status_2(argv, words, capsys):
    assert_one_line_error(run_in_process(argv, capsys), 2, "error:", *words)


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in USAGE_ERRORS if i in THROUGH_A_PROCESS])
def test_usage_error_is_one_line_with_status_2_from_a_process(argv, words):
    assert_one_line_error(run(*argv), 2, "error:", *words)


def test_debug_shows_the_traceback():
    proc = run("--debug", *SMALL, "--T", "-1")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ValueError: --T must be a finite temperature" in proc.stderr


def test_output_file_complete_and_atomic(tmp_path, capsys):
    out = tmp_path / "result.json"
    proc = run(*SMALL, "--json", "--out", str(out), "--quantities", "free_energy,currents")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    data = json.loads(out.read_text())
    assert data["system"]["N_x"] == 5 and "free_energy_per_row" in data and "currents" in data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # not the 0600 of the temporary file
    out.chmod(0o640)  # replacing a file keeps its permissions (in-process: the same atomic replace)
    assert run_in_process([*SMALL, "--out", str(out), "--quantities", "free_energy"], capsys).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o640 and out.read_text().startswith("system:")


@pytest.mark.parametrize("target", ["file-as-directory", "directory"])
def test_unusable_output_path_is_a_usage_error(tmp_path, target):
    blocker = tmp_path / "plain"
    blocker.write_text("x")
    out = blocker / "r.json" if target == "file-as-directory" else tmp_path
    proc = run(*SMALL, "--json", "--out", str(out))
    assert_one_line_error(proc, 2, str(blocker) if target == "file-as-directory" else "--out", "directory")
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_output_directory_is_a_usage_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert_one_line_error(run(*SMALL, "--out", str(ro / "r.json")), 2, "not writable")
    finally:
        ro.chmod(0o700)


def _limit_file_size():
    """In the child: writing beyond 2 kB fails with EFBIG (instead of killing it with SIGXFSZ)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))


def test_failed_write_exits_1_and_keeps_the_old_file(tmp_path):
    """A write that fails half way (file size limit) is a failure, not a usage error: status 1,
    one line, and the previous file untouched with no temporary file left behind."""
    out = tmp_path / "result.json"
    out.write_text("old\n")
    proc = run(*SMALL, "--json", "--out", str(out), preexec_fn=_limit_file_size)
    assert_one_line_error(proc, 1, "error:", "File too large", f"cannot write {str(out)!r}")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_interrupt_before_rename_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    """Ctrl-C at the last moment (temporary file complete, rename pending): exit 130, old file kept."""
    import orbsym.io
    from orbsym.cli import main

    out = tmp_path / "result.json"
    out.write_text("old\n")

    def interrupted(src, dst):
        assert Path(src).read_text().startswith("{")  # the new content was fully written
        raise KeyboardInterrupt

    monkeypatch.setattr(orbsym.io.os, "replace", interrupted)
    assert main([*SMALL, "--json", "--out", str(out), "--quantities", "free_energy"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
