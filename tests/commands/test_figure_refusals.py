"""``orbsym figure`` / ``reproduce`` / ``sweep``: bad input refused before any solve, outputs checked
first, one run at a time on a figure's files, and the temporary files of a killed run cleaned up.

Most cases run ``orbsym.cli.main`` in this process with the solvers replaced by a tripwire (the
figure ``compute`` functions -- except when they are only sized, with a
:class:`~orbsym.workflows.figures.common.PlanRunner` that runs nothing --, the figures' sweep runner,
the sweep engine's point loop and the dask connection), so a refusal that came too late fails the test.  A few subprocess tests hold a lock
in another process and kill it with SIGKILL.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orbsym import cli
from orbsym.io import FileLock, OutputLockedError
from orbsym.workflows import figures
from orbsym.workflows.figures import common

ROOT = Path(__file__).resolve().parents[2]


class Tripwire(Exception):
    """A solver was reached."""


@pytest.fixture
def tripwire(monkeypatch):
    """Replace every solver entry point by a recorder that raises :class:`Tripwire`."""
    calls = []

    def trip(name):
        def fn(*args, **kwargs):
            calls.append(name)
            raise Tripwire(f"solver {name} ran")

        return fn

    def trip_compute(name, real):
        def fn(*args, **kwargs):
            if isinstance(kwargs.get("run"), common.PlanRunner):  # sizing the figure: its grids are recorded, none runs
                return real(*args, **kwargs)
            return trip(name)(*args, **kwargs)

        return fn

    for n in figures.FIGURES:
        mod = figures.module(n)
        monkeypatch.setattr(mod, "compute", trip_compute(f"fig{n}.compute", mod.compute))
    monkeypatch.setattr(common.Runner, "sweep", trip("Runner.sweep"))
    from orbsym import execution
    from orbsym.workflows.sweeps import core

    monkeypatch.setattr(core, "_compute", trip("sweep._compute"))
    monkeypatch.setattr(execution, "connect_scheduler", trip("connect_scheduler"))
    return calls


def main(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line(rc, out, err, status, words):
    assert rc == status, err
    assert err.endswith("\n") and err.count("\n") == 1, f"stderr is not one line: {err!r}"
    assert err.startswith("orbsym: error: ") and "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert out == ""


SW = ["sweep", "bilayer", "--param", "mu=1,2"]

# (id, argv without --out, words in the message); {out} / {file} are filled in per test
BAD = [
    # --- empty list entries and empty options
    ("gamma empty entry", ["figure", "2", "--gamma", "1,,0.5"], ["--gamma '1,,0.5'", "empty entry at position 2"]),
    ("gamma trailing comma", ["figure", "2", "--gamma", "1,0.5,"], ["--gamma '1,0.5,'", "empty entry at position 3"]),
    ("gamma leading comma", ["figure", "5", "--gamma", ",0.3"], ["--gamma ',0.3'", "empty entry at position 1"]),
    ("gamma blank entry", ["figure", "2", "--gamma", "1, ,0.5"], ["--gamma", "empty entry at position 2"]),
    ("gamma empty", ["figure", "2", "--gamma", ""], ["--gamma is empty"]),
    ("fig3 gamma empty entry", ["figure", "3", "--gamma", "0.3,"], ["--gamma '0.3,'", "empty entry at position 2"]),
    ("configs empty entry", ["figure", "2", "--configs", "x:y,,y:z"], ["--configs 'x:y,,y:z'", "empty entry at position 2"]),
    ("configs empty axis", ["figure", "2", "--configs", "x:"], ["--configs 'x:'", "m_L:m_R"]),
    ("configs empty", ["figure", "2", "--configs", ""], ["--configs is empty"]),
    ("panels empty entry", ["figure", "3", "--panels", "nm,,am"], ["--panels 'nm,,am'", "empty entry at position 2"]),
    ("panels empty", ["figure", "3", "--panels", " "], ["--panels is empty"]),
    ("grid empty field", ["figure", "3", "--grid", "7x"], ["--grid '7x'", "empty field at position 2"]),
    ("mu-range empty field", ["figure", "4", "--mu-range=-3::601"], ["--mu-range '-3::601'", "empty field at position 2"]),
    ("mu-range empty first", ["figure", "4", "--mu-range=:3:11"], ["--mu-range ':3:11'", "empty field at position 1"]),
    ("N-x-range empty field", ["figure", "5", "--N-x-range", "3:"], ["--N-x-range '3:'", "empty field at position 2"]),
    ("figures empty entry", ["reproduce", "--figures", "2,,3"], ["--figures '2,,3'", "empty entry at position 2"]),
    ("figures trailing comma", ["reproduce", "--figures", "4,"], ["--figures '4,'", "empty entry at position 2"]),
    ("figures empty", ["reproduce", "--figures", ""], ["--figures is empty"]),
    ("figure scheduler empty", ["figure", "2", "--scheduler", ""], ["--scheduler is empty"]),
    ("figure scheduler blank", ["figure", "4", "--scheduler", "  "], ["--scheduler is empty"]),
    ("reproduce scheduler empty", ["reproduce", "--scheduler", ""], ["--scheduler is empty"]),
    ("sweep scheduler empty", [*SW, "--scheduler", ""], ["--scheduler is empty"]),
    ("sweep observable empty entry", [*SW, "--observable", "free_energy,,particle_number"], ["--observable 'free_energy,,particle_number'", "empty entry at position 2"]),
    ("sweep observable trailing comma", [*SW, "--observable", "free_energy,"], ["--observable 'free_energy,'", "empty entry at position 2"]),
    ("sweep observable empty", [*SW, "--observable", ""], ["--observable is empty"]),
    ("sweep param empty entry", ["sweep", "bilayer", "--param", "mu=1,,2"], ["--param mu=1,,2", "position 2"]),
    ("sweep param empty words entry", ["sweep", "bilayer", "--param", "interface=fm,"], ["--param interface=fm,", "position 2"]),
    ("sweep set empty entry", [*SW, "--set", "m_FM=1,,0"], ["--set m_FM=1,,0", "position 2"]),
    ("sweep param empty range field", ["sweep", "bilayer", "--param", "mu=0:1:"], ["--param mu=0:1:", "empty field at position 3"]),
    ("sweep param empty range start", ["sweep", "bilayer", "--param", "mu=:1:3"], ["--param mu=:1:3", "empty field at position 1"]),
    # --- NaN, inf, complex where reals are needed
    ("gamma nan", ["figure", "2", "--gamma", "1,nan"], ["--gamma '1,nan'", "'nan' is not a finite number"]),
    ("gamma inf", ["figure", "5", "--gamma", "inf"], ["--gamma", "'inf' is not a finite number"]),
    ("gamma complex", ["figure", "2", "--gamma", "0.5,1j"], ["--gamma '0.5,1j'", "'1j' is complex"]),
    ("gamma word", ["figure", "2", "--gamma", "1,abc"], ["--gamma '1,abc'", "'abc' is not a number"]),
    ("fig3 gamma nan", ["figure", "3", "--gamma", "nan"], ["--gamma", "not a finite number"]),
    ("mu-range nan", ["figure", "4", "--mu-range=nan:1:5"], ["--mu-range 'nan:1:5'", "not a finite number"]),
    ("mu-range complex", ["figure", "4", "--mu-range=-1:2j:5"], ["--mu-range '-1:2j:5'", "'2j' is complex"]),
    ("mu-range float N", ["figure", "4", "--mu-range=-1:1:1e3"], ["--mu-range '-1:1:1e3'", "N '1e3' is not an integer"]),
    ("N-x-range float", ["figure", "5", "--N-x-range", "3:7.5"], ["--N-x-range '3:7.5'", "MAX '7.5' is not an integer"]),
    ("T nan", ["figure", "2", "--T", "nan"], ["--T", "finite", "nan"]),
    ("mu inf", ["figure", "3", "--mu", "inf"], ["--mu", "finite", "inf"]),
    ("w nan", ["figure", "3", "--w", "nan"], ["--w", "finite"]),
    ("reproduce T inf", ["reproduce", "--T", "inf"], ["--T", "finite", "inf"]),
    ("sweep param nan", ["sweep", "bilayer", "--param", "mu=nan,1"], ["'mu'", "nan", "not finite"]),
    ("sweep param complex", ["sweep", "bilayer", "--param", "mu=1j,1"], ["--param mu=1j,1", "'1j' is complex"]),
    ("sweep param inf range", ["sweep", "bilayer", "--param", "mu=0:inf:3"], ["--param mu=0:inf:3", "finite"]),
    ("sweep set nan", [*SW, "--set", "gamma=nan"], ["'gamma'", "nan", "not finite"]),
    ("sweep set complex", [*SW, "--set", "gamma=1j"], ["gamma", "'1j'", "real number"]),
    ("sweep tol nan", [*SW, "--tol", "nan"], ["tol", "finite", "nan"]),
    # --- misspelled names: matched against the allowed ones
    ("configs axis typo", ["figure", "2", "--configs", "xx:y"], ["--configs 'xx:y'", "'xx'", "did you mean 'x'"]),
    ("configs unknown axis", ["figure", "2", "--configs", "x:q"], ["--configs 'x:q'", "'q'", "allowed: x, y, z"]),
    ("panel typo", ["figure", "3", "--panels", "nmm"], ["--panels 'nmm'", "did you mean 'nm'", "allowed: nm, am"]),
    ("panel twice", ["figure", "3", "--panels", "am,am"], ["--panels 'am,am'", "twice"]),
    ("interface typo", ["figure", "2", "--interface", "metl"], ["--interface", "did you mean 'metal'"]),
    ("current typo", ["figure", "2", "--current", "eq8"], ["--current", "did you mean 'eq7'"]),
    ("axis typo", ["figure", "5", "--axis", "yy"], ["--axis", "'yy'", "did you mean 'y'"]),
    ("unknown figure", ["figure", "7"], ["unknown figure '7'", "allowed: 2, 3, 4, 5"]),
    ("figures word", ["reproduce", "--figures", "2,three"], ["--figures '2,three'", "'three' is not a figure number"]),
    ("sweep fixed typo", [*SW, "--set", "gama=1"], ["'gama'", "did you mean 'gamma'"]),
    ("sweep axis typo", ["sweep", "bilayer", "--param", "muu=1,2"], ["'muu'", "did you mean 'mu'"]),
    ("sweep observable typo", [*SW, "--observable", "free_enrgy"], ["'free_enrgy'", "did you mean 'free_energy'"]),
    ("sweep current kind typo", [*SW, "--observable", "currents:bnd"], ["'currents:bnd'", "did you mean 'bond'"]),
    ("sweep torque kind typo", [*SW, "--observable", "torques:forwrd"], ["'torques:forwrd'", "did you mean 'forward'"]),
    ("sweep geometry typo", ["sweep", "bilayr", "--param", "mu=1,2"], ["'bilayr'", "did you mean 'bilayer'"]),
    ("sweep interface typo", [*SW, "--set", "interface=metl"], ["'metl'", "did you mean 'metal'"]),
]


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in BAD])
def test_bad_input_refused_before_any_solve(argv, words, tmp_path, capsys, tripwire):
    out = tmp_path / ("F.nc" if argv[0] == "sweep" else "figs")
    rc, so, err = main([*argv, "--out", out], capsys)
    assert_one_line(rc, so, err, 2, words)
    assert tripwire == []
    assert not out.exists() or (out.is_dir() and os.listdir(out) == [])


def _outputs(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    return afile


# (id, command, how --out is formed from an existing file F, words); checked before any solve
BAD_OUT = [
    ("figure out is a file", ["figure", "2"], "{F}", ["--out '{F}'", "is a file, not a directory"]),
    ("figure out under a file", ["figure", "4"], "{F}/sub", ["--out '{F}/sub'", "Not a directory"]),
    ("figure out empty", ["figure", "2"], "", ["--out is empty"]),
    ("figure out dash", ["figure", "3"], "-", ["--out '-'", "output directory"]),
    ("reproduce out is a file", ["reproduce"], "{F}", ["--out '{F}'", "is a file"]),
    ("reproduce out under a file", ["reproduce", "--figures", "2"], "{F}/a/b", ["--out '{F}/a/b'", "Not a directory"]),
    ("sweep out is a directory", SW, "{D}", ["--out '{D}'", "is a directory"]),
    ("sweep out ends in a slash", SW, "{D}/new/", ["--out '{D}/new/'", "is a directory"]),
    ("sweep out under a file", SW, "{F}/s.nc", ["--out '{F}/s.nc'", "is not a directory"]),
    ("sweep out under a file, deeper", SW, "{F}/x/s.nc", ["--out '{F}/x/s.nc'", "Not a directory"]),
    ("sweep out empty", SW, "", ["--out is empty"]),
    ("sweep out dash", SW, "-", ["--out '-'"]),
    ("figure name is a path", ["figure", "2", "--name", "a/b"], "{D}/figs", ["--name 'a/b'", "plain file name"]),
    ("figure target is a directory", ["figure", "2"], "{D}/withdir", ["fig2.png", "existing directory"]),
]


@pytest.mark.parametrize("argv, out, words", [pytest.param(a, o, w, id=i) for i, a, o, w in BAD_OUT])
def test_bad_output_refused_before_any_solve(argv, out, words, tmp_path, capsys, tripwire):
    afile = _outputs(tmp_path)
    (tmp_path / "withdir" / "fig2.png").mkdir(parents=True)
    fill = {"F": str(afile), "D": str(tmp_path)}
    rc, so, err = main([*argv, "--out", out.format(**fill)], capsys)
    assert_one_line(rc, so, err, 2, [w.format(**fill) for w in words])
    assert tripwire == []


@pytest.mark.parametrize("argv, out", [(["figure", "2"], "figs"), (["reproduce", "--figures", "3"], "figs"), (SW, "sub/F.nc")])
def test_unwritable_output_directory_refused(argv, out, tmp_path, capsys, tripwire, monkeypatch):
    """A read-only directory (simulated: this test may run as root, who can write anywhere)."""
    import tempfile

    from orbsym import io as oio

    target = tmp_path / out
    ro = target if argv[0] != "sweep" else target.parent
    ro.mkdir(parents=True)
    real_access, real_mkstemp = os.access, tempfile.mkstemp
    monkeypatch.setattr(oio.os, "access", lambda p, mode, **kw: False if Path(p) == ro else real_access(p, mode, **kw))
    monkeypatch.setattr(oio.tempfile, "mkstemp", lambda *a, **kw: (_ for _ in ()).throw(PermissionError(13, "Permission denied")) if Path(kw.get("dir", "")) == ro else real_mkstemp(*a, **kw))
    rc, so, err = main([*argv, "--out", target], capsys)
    assert_one_line(rc, so, err, 2, [f"--out '{target}'", "not writable"])
    assert tripwire == []


# ------------------------------------------------------------------------------ one run at a time
LOCKED = [
    ("figure", ["figure", "2"], "fig2"),
    ("figure fig4", ["figure", "4", "--mu-range=-1:1:5"], "fig4"),
    ("figure with --name", ["figure", "3", "--name", "mine"], "mine"),
    ("reproduce (one of its figures locked)", ["reproduce", "--figures", "2,5"], "fig5"),
]


@pytest.mark.parametrize("argv, stem", [pytest.param(a, s, id=i) for i, a, s in LOCKED])
def test_second_run_on_the_same_files_refused_naming_the_lock(argv, stem, tmp_path, capsys, tripwire):
    out = tmp_path / "figs"
    out.mkdir()
    leftover = out / f".{stem}.png.abcd1234.tmp.png"  # a live writer's temporary file: must survive
    leftover.write_bytes(b"")
    lock = FileLock(out / f".{stem}.lock").acquire("test holder")
    try:
        rc, so, err = main([*argv, "--out", out], capsys)
    finally:
        lock.release(unlink=True)
    assert_one_line(rc, so, err, 2, ["being written by another orbsym run", f"lock '{out / ('.' + stem + '.lock')}'", f"pid {os.getpid()} on {socket.gethostname()}", "--out"])
    assert tripwire == []
    assert leftover.exists()


def test_other_figure_files_in_the_same_directory_are_not_blocked(tmp_path, capsys, tripwire):
    out = tmp_path / "figs"
    lock = FileLock(out / ".fig2.lock").acquire("test holder")
    try:
        rc, so, err = main(["figure", "4", "--out", out], capsys)
    finally:
        lock.release(unlink=True)
    assert tripwire == ["fig4.compute"]  # got past the lock
    assert rc == 1 and "Tripwire" in err
    assert not (out / ".fig4.lock").exists()  # the lock file goes with the run


def test_api_runs_are_locked_too(tmp_path, tripwire):
    from orbsym.workflows.figures import fig2, fig5

    lock = FileLock(tmp_path / ".fig5.lock").acquire("test holder")
    try:
        with pytest.raises(OutputLockedError, match=r"fig5.*being written by another orbsym run.*\.fig5\.lock"):
            figures.reproduce(tmp_path, figures=(2, 5))
        with pytest.raises(OutputLockedError, match=r"\.fig5\.lock"):
            fig5.run(tmp_path)
        with pytest.raises(Tripwire):  # fig2's files are free
            fig2.run(tmp_path)
    finally:
        lock.release(unlink=True)
    assert tripwire == ["fig2.compute"]


def test_nested_lock_in_one_process_is_allowed(tmp_path):
    with common.locked_outputs(tmp_path, ["fig2", "fig3"]):
        with common.locked_outputs(tmp_path, ["fig2"]):
            assert (tmp_path / ".fig2.lock").exists()
        assert (tmp_path / ".fig2.lock").exists()  # still held by the outer block
        with pytest.raises(OutputLockedError):
            FileLock(tmp_path / ".fig2.lock").acquire("another holder")
    assert not (tmp_path / ".fig2.lock").exists() and not (tmp_path / ".fig3.lock").exists()


def test_forked_child_does_not_keep_the_lock(tmp_path):
    """A forked child (e.g. a pool worker that outlives a killed parent) must not hold the lock."""
    lock = FileLock(tmp_path / "lock").acquire("parent")
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child (the at-fork hooks have run): say so, then wait until the parent says stop
        os.close(w)
        os.write(ready_w, b"r")
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"r"
    os.close(ready_r)
    try:
        lock.release()  # the child is alive and inherited the descriptor before the release
        again = FileLock(tmp_path / "lock").acquire("parent again")
        again.release(unlink=True)
    finally:
        os.write(w, b"x")
        os.close(w)
        os.waitpid(pid, 0)


# ------------------------------------------------------------------------------ killed runs
HOLDER = textwrap.dedent(
    """
    import sys, time
    from orbsym.io import atomic_files, atomic_path
    from orbsym.workflows.figures.common import locked_outputs
    out = sys.argv[1]
    with locked_outputs(out, ["fig2"]), atomic_files():
        with atomic_path(out + "/fig2.png") as a, atomic_path(out + "/fig2.csv") as b:
            print("ready", flush=True)
            time.sleep(60)
    """
)


def _start_holder(out):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_killed_run_lock_not_stale_and_its_temp_files_removed_with_notice(tmp_path, capsys, tripwire):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "fig2.png").write_bytes(b"old")  # a complete earlier result: kept
    (out / ".fig3.png.q1w2e3.tmp.png").write_bytes(b"")  # another figure's: not ours to remove
    proc = _start_holder(out)
    try:
        temps = sorted(p.name for p in out.glob(".fig2.*.tmp.*"))
        assert len(temps) == 2
        rc, so, err = main(["figure", "2", "--out", out], capsys)  # while it lives: refused
        assert_one_line(rc, so, err, 2, [f"pid {proc.pid} on", ".fig2.lock"])
        assert sorted(p.name for p in out.glob(".fig2.*.tmp.*")) == temps
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert (out / ".fig2.lock").exists()  # left behind by the killed run, but not held
    rc, so, err = main(["figure", "2", "--out", out], capsys)
    lines = err.splitlines()
    assert lines[0] == f"orbsym: removed 2 leftover temporary files of an interrupted run in '{out}'"
    assert tripwire == ["fig2.compute"] and rc == 1  # the run went on to compute
    assert list(out.glob(".fig2.*.tmp.*")) == []
    assert (out / ".fig3.png.q1w2e3.tmp.png").exists() and (out / "fig2.png").read_bytes() == b"old"
    assert not (out / ".fig2.lock").exists()


@pytest.mark.parametrize("argv, names", [(["figure", "4"], ["fig4"]), (["reproduce", "--figures", "4,2"], ["fig4", "fig2"])])
def test_leftovers_of_every_suffix_removed_by_the_next_run(argv, names, tmp_path, capsys, tripwire):
    out = tmp_path / "o"
    out.mkdir()
    made = [out / f".{n}{s}.x{i}.tmp{s}" for n in names for i, s in enumerate((".png", ".pdf", ".csv", ".nc"))]
    for p in made:
        p.write_bytes(b"")
    keep = [out / ".fig4.png.keep", out / "fig4.png.x.tmp.png", out / ".fig44.png.x.tmp.png"]
    for p in keep:
        p.write_bytes(b"")
    rc, so, err = main([*argv, "--out", out], capsys)
    assert err.splitlines()[0] == f"orbsym: removed {len(made)} leftover temporary files of an interrupted run in '{out}'"
    assert not any(p.exists() for p in made) and all(p.exists() for p in keep)


def test_full_run_after_a_killed_one(tmp_path, capsys):
    """A real (small) figure run: leftovers removed with the notice, files written, no lock left."""
    out = tmp_path / "o"
    out.mkdir()
    (out / ".fig4.png.abc.tmp.png").write_bytes(b"")
    rc, so, err = main(["figure", "4", "--quick", "--N-x", "4", "--N-y", "8", "--mu-range=-1:1:5", "--no-progress", "--out", out], capsys)
    assert rc == 0, err
    assert err == f"orbsym: removed 1 leftover temporary file of an interrupted run in '{out}'\n"
    assert sorted(os.listdir(out)) == ["fig4.csv", "fig4.nc", "fig4.pdf", "fig4.png"]
    rc, so, err = main(["figure", "4", "--quick", "--N-x", "4", "--N-y", "8", "--mu-range=-1:1:5", "--no-progress", "--out", out], capsys)
    assert rc == 0 and err == ""  # nothing left over: no notice
