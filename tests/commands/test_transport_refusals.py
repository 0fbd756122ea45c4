"""``orbsym transport``: every bad command line is refused in one line, exit 2, before any work.

The system builder and the NEGF solver are replaced by tripwires: a refusal that came after
building the system or starting the solve fails the test.  Limits are pinned with
``ORBSYM_MAX_MEMORY`` / ``ORBSYM_MAX_SECONDS`` so that the size refusals do not depend on the machine.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import orbsym.numeric.negf as negf
import orbsym.systems as systems
from orbsym.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tripwire(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work started before the refusal")

    monkeypatch.setattr(systems, "heterostructure", boom)
    monkeypatch.setattr(negf.OpenSystem, "__init__", boom)
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "8G")
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "3600")


def _one_line(capsys, rc, status, words):
    cap = capsys.readouterr()
    err = cap.err
    assert rc == status, (rc, err)
    assert err.count("\n") == 1 and err.startswith("orbsym: error: ") and "Traceback" not in err, err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert cap.out == ""


# (id, arguments after "transport", words in the message)
REFUSED = [
    # work bounded up front: sizes, energies, poles
    ("huge n-energy", ["--n-energy", "1000000000"], ["--n-energy", "of memory", "CPU time", "1000000000 nodes"]),
    ("huge n-energy at bias", ["--bias", "0.1", "--n-energy", "100000000"], ["--n-energy", "of memory", "bias window"]),
    ("huge strip", ["--n-metal", "1000000", "--N-y", "100000"], ["--n-metal", "--N-y", "of memory", "1000002 x 3-state"]),
    ("long time", ["--n-metal", "100", "--n-energy", "100000"], ["limit of 1 h", "ORBSYM_MAX_SECONDS", "--n-metal", "--n-energy"]),
    ("wide open strip", ["--width", "open", "--N-y", "2000"], ["of memory", "correlation band of the open strip", "--width open"]),
    ("open strip many rows x many columns", ["--width", "open", "--n-metal", "400", "--N-y", "1000"], ["--N-y", "open strip"]),
    ("bias beyond energy limit", ["--bias", "1e200"], ["--bias", "1e+200", "[-1e+100, 1e+100]"]),
    ("negative bias beyond limit", ["--bias=-1e101"], ["--bias", "outside the allowed range"]),
    ("mu beyond energy limit", ["--mu", "1e300"], ["--mu", "outside the allowed range"]),
    ("gamma beyond energy limit", ["--gamma=-1e150"], ["--gamma", "outside the allowed range"]),
    ("T beyond energy limit", ["--T", "1e200"], ["--T", "outside the allowed range"]),
    ("bias needing too many poles", ["--bias", "1e50"], ["Fermi poles", "raise T"]),
    ("T too small for poles", ["--bias", "0.1", "--T", "1e-9"], ["Fermi poles", "more than 4096"]),
    # NaN / inf / bad numbers
    ("nan bias", ["--bias", "nan"], ["--bias", "finite"]),
    ("inf mu", ["--mu", "inf"], ["--mu", "finite"]),
    ("nan gamma", ["--gamma", "nan"], ["--gamma", "finite"]),
    ("nan T", ["--T", "nan"], ["--T", "finite"]),
    ("negative T", ["--T", "-0.1"], ["--T", ">= 0"]),
    ("nan split", ["--split", "nan"], ["--split", "finite"]),
    ("split above 1", ["--split", "3"], ["--split", "[0, 1]"]),
    ("negative split", ["--split", "-0.5"], ["--split", ">= 0"]),
    ("nan energy-tol", ["--energy-tol", "nan"], ["--energy-tol", "finite"]),
    ("zero energy-tol", ["--energy-tol", "0"], ["--energy-tol", "> 0"]),
    ("complex bias", ["--bias", "1+2j"], ["--bias", "invalid float"]),
    ("float n-energy", ["--n-energy", "1e9"], ["--n-energy", "invalid int"]),
    ("zero n-energy", ["--n-energy", "0"], ["--n-energy", ">= 1"]),
    ("zero n-metal", ["--n-metal", "0"], ["--n-metal", ">= 1"]),
    ("negative N-y", ["--N-y", "-3"], ["--N-y", ">= 1"]),
    # names: misspellings and empty
    ("misspelled width", ["--width", "opne"], ["--width", "did you mean 'open'"]),
    ("empty width", ["--width", ""], ["--width", "allowed: periodic, open"]),
    ("misspelled solver", ["--solver", "rfg"], ["--solver", "did you mean 'rgf'"]),
    ("empty solver", ["--solver", ""], ["--solver", "allowed: auto, rgf, dense"]),
    ("bad angle", ["--angle", "30"], ["--angle", "allowed: 0, 45"]),
    ("empty angle", ["--angle", ""], ["--angle"]),
    ("misspelled fm axis", ["--fm", "yy"], ["--fm", "did you mean 'y'"]),
    ("empty fm axis", ["--fm", ""], ["--fm", "allowed: x, y, z"]),
    ("fm vector with empty entry", ["--fm", "1,,0"], ["--fm", "allowed"]),
    # options that do not apply
    ("split at zero bias", ["--bias", "0", "--split", "0.3"], ["--split", "does not apply at --bias 0"]),
    ("n-energy at T = 0 linear", ["--T", "0", "--n-energy", "8"], ["--n-energy", "does not apply", "--T 0"]),
    ("n-energy at zero bias", ["--bias", "0", "--n-energy", "8"], ["--n-energy", "does not apply at --bias 0"]),
    ("energy-tol with bias", ["--bias", "0.05", "--energy-tol", "1e-3"], ["--energy-tol", "does not apply with --bias"]),
    ("energy-tol at T = 0", ["--T", "0", "--energy-tol", "1e-3"], ["--energy-tol", "does not apply at --T 0"]),
    ("energy-tol open strip T = 0", ["--width", "open", "--T", "0", "--energy-tol", "1e-3"], ["--energy-tol", "linear response"]),
    # outputs checked before computing
    ("out empty", ["--out", ""], ["--out is empty"]),
    ("out dash", ["--out", "-"], ["--out '-'"]),
    ("out trailing slash", ["--out", "somewhere/"], ["--out 'somewhere/'", "directory"]),
    ("out unknown format", ["--out", "t.txt"], ["--out 't.txt'", "unknown format '.txt'", ".nc, .csv, .json"]),
    # --output (the old name) is refused, pointing to --out: every orbsym command writes with --out
    ("old --output", ["--output", "t.json"], ["--output was renamed --out", "--out t.json"]),
    ("gamma with a model file", ["--metal-model", "m.py", "--gamma", "0.5"], ["--gamma does not apply with --metal-model"]),
    ("bad progress", ["--progress", "yes"], ["--progress", "allowed: auto, on, off"]),
]


@pytest.mark.parametrize("name,argv,words", REFUSED, ids=[r[0] for r in REFUSED])
def test_transport_refuses_before_any_work(name, argv, words, tripwire, capsys):
    rc = main(["transport", *argv])
    _one_line(capsys, rc, 2, words)


def test_transport_output_paths_checked_before_computing(tmp_path, tripwire, capsys):
    """A directory, a parent that is a file, a missing parent under a file: refused naming the user's path."""
    d = tmp_path / "dir"
    d.mkdir()
    f = tmp_path / "file"
    f.write_text("x")
    cases = [
        (["--out", str(d)], [repr(str(d)), "is a directory"]),
        (["--out", str(f / "t.json")], [repr(str(f / "t.json")), "not a directory"]),
        (["--out", str(f / "sub" / "t.json")], [repr(str(f / "sub" / "t.json"))]),
    ]
    for argv, words in cases:
        _one_line(capsys, main(["transport", *argv]), 2, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"] and not any(d.iterdir())


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write into read-only directories")
def test_transport_read_only_parent_refused(tmp_path, tripwire, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _one_line(capsys, main(["transport", "--out", str(ro / "t.json")]), 2, [repr(str(ro / "t.json")), "not writable"])
    finally:
        ro.chmod(0o700)


def test_estimate_notice_and_limit_name_the_options(tripwire, capsys, monkeypatch):
    """ORBSYM_MAX_SECONDS tiny: even the default run is refused, naming the limit and the options to change."""
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "1e-6")
    _one_line(capsys, main(["transport"]), 2, ["ORBSYM_MAX_SECONDS", "--n-energy", "--N-y", "--n-metal", "linear response, 16 nodes"])


def test_subprocess_huge_run_refused_fast():
    """The issue's examples from a real process: one line, exit 2, within a few seconds (no work)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", ORBSYM_MAX_MEMORY="8G")
    for argv, word in ((["--n-metal", "1000000", "--N-y", "100000"], "of memory"), (["--bias", "1e200"], "--bias")):
        p = subprocess.run([sys.executable, "-m", "orbsym.cli", "transport", *argv], capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1 and word in p.stderr, p.stderr
