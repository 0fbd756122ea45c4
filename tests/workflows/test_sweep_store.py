"""Fault injection for the sweep store (orbsym.workflows.sweeps.store) and the sweep's input checks.

No silent wrong answer: a chunk is reused only when it carries this sweep's fingerprint; one run
owns ``OUT.parts/`` at a time (a second, in another process, fails at once); corrupt state files
give one line naming the file and the recovery; a SIGKILLed sweep resumes to a byte-identical
file.  Bad options fail before any point runs.  Tiny sizes (N_x = 4, N_y = 8).
"""

import contextlib
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from orbsym.cli import main
from orbsym.systems import bilayer, solve
from orbsym.workflows.sweeps import SweepError, load, sweep
from orbsym.workflows.sweeps.store import FINGERPRINT_KEY, SweepStateError

ROOT = Path(__file__).resolve().parents[2]
P = {"N_x": 4, "N_y": 8}
AXES = {"theta": [0.0, 0.8, 1.6], "phi": [0.0, 2.0]}
OBS = ["free_energy", "densities"]


def run(out, gamma=1.0, **kw):
    return sweep("bilayer", AXES, OBS, params=dict(P, gamma=gamma), executor="serial", chunk_size=1, out=out, **kw)


def direct_F(gamma, theta, phi):
    return solve(bilayer(gamma=gamma, m_FM=(theta, phi), **P), 0.01).free_energy()


class Stop(Exception):
    pass


def stop_after(k):
    seen = []

    def cb(info):
        seen.append(info)
        if len(seen) == k:
            raise Stop

    return cb


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted runs: gamma = 1 and gamma = 0.3 written to files."""
    d = tmp_path_factory.mktemp("ref")
    run(d / "g1.nc", 1.0)
    run(d / "g03.nc", 0.3)
    return {1.0: d / "g1.nc", 0.3: d / "g03.nc"}


def _assert_is_gamma(out, gamma, reference):
    ds = load(out)
    assert Path(out).read_bytes() == reference[gamma].read_bytes()
    assert f'"gamma": {gamma}' in ds.attrs["parameters"]
    assert ds.free_energy.sel(theta=1.6, phi=2.0).item() == direct_F(gamma, 1.6, 2.0)


def _leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.suffix != ".nc")


# ------------------------------------------------------------------ chunks prove their sweep
def test_deleted_sweep_json_never_mixes_sweeps(tmp_path, reference):
    """The issue's deterministic variant: interrupt, delete sweep.json, run another gamma."""
    out = tmp_path / "F.nc"
    with pytest.raises(Stop):
        run(out, 1.0, on_chunk=stop_after(3))
    (tmp_path / "F.nc.parts" / "sweep.json").unlink()
    with pytest.raises(SweepStateError, match=r"chunk '.*points_0000000.*\.npz' belongs to a different sweep.*--restart"):
        run(out, 0.3)
    assert not out.exists()
    run(out, 0.3, restart=True)
    _assert_is_gamma(out, 0.3, reference)
    assert not (tmp_path / "F.nc.parts").exists() and _leftovers(tmp_path) == []


def test_deleted_sweep_json_of_the_same_sweep_heals(tmp_path, reference):
    out = tmp_path / "F.nc"
    with pytest.raises(Stop):
        run(out, 1.0, on_chunk=stop_after(2))
    (tmp_path / "F.nc.parts" / "sweep.json").unlink()
    seen = []
    run(out, 1.0, on_chunk=seen.append)  # the chunks prove they are this sweep's: reused
    assert sorted(i for s in seen for i in s["indices"]) == [2, 3, 4, 5]
    _assert_is_gamma(out, 1.0, reference)


def test_planted_foreign_or_unmarked_chunk_is_refused(tmp_path, reference):
    other, out = tmp_path / "other.nc", tmp_path / "F.nc"
    with pytest.raises(Stop):
        run(other, 0.3, on_chunk=stop_after(1))
    with pytest.raises(Stop):
        run(out, 1.0, on_chunk=stop_after(1))
    parts = tmp_path / "F.nc.parts"
    foreign = next((tmp_path / "other.nc.parts").glob("points_*.npz"))
    planted = parts / "points_0000005_0000005_1.npz"
    planted.write_bytes(foreign.read_bytes().replace(b"0000000", b"0000000"))
    # rename its entries to index 5 so that it would fill a missing point
    with np.load(planted) as z:
        arrays = {k.replace("__0", "__5") if k != FINGERPRINT_KEY else k: z[k] for k in z.files}
    np.savez(planted, **arrays)
    with pytest.raises(SweepStateError, match="points_0000005_0000005_1.npz' belongs to a different sweep"):
        run(out, 1.0)
    arrays.pop(FINGERPRINT_KEY)
    np.savez(planted, **arrays)  # a chunk without any fingerprint (e.g. an older orbsym)
    with pytest.raises(SweepStateError, match="carries no sweep fingerprint"):
        run(out, 1.0)
    planted.unlink()
    run(out, 1.0)
    _assert_is_gamma(out, 1.0, reference)


def test_equal_numbers_are_the_same_sweep(tmp_path):
    out = tmp_path / "F.nc"
    ints = {"theta": [0, 1], "phi": [0, 2]}
    with pytest.raises(Stop):
        sweep("bilayer", ints, params={"N_x": 4, "N_y": 8, "gamma": 1}, executor="serial", chunk_size=1, out=out, on_chunk=stop_after(2))
    seen = []
    floats = {"theta": [0.0, 1.0], "phi": [0.0, 2.0]}
    a = sweep("bilayer", floats, params={"N_x": 4.0, "N_y": 8, "gamma": 1.0}, executor="serial", chunk_size=1, out=out, on_chunk=seen.append)
    assert sorted(i for s in seen for i in s["indices"]) == [2, 3]  # resumed: same sweep
    b = sweep("bilayer", ints, params={"N_x": 4, "N_y": 8, "gamma": 1}, executor="serial")
    assert a.attrs["fingerprint"] == b.attrs["fingerprint"] and a.theta.dtype == b.theta.dtype == np.float64
    np.testing.assert_array_equal(a.free_energy.values, b.free_energy.values)
    # the bilayer fixed angle: theta = 0 and 0.0 alike
    c = sweep("bilayer", {"phi": [0.0]}, params={"N_x": 4, "N_y": 8, "m_FM": (0, 0)}, executor="serial")
    d = sweep("bilayer", {"phi": [0]}, params={"N_x": 4, "N_y": 8, "m_FM": (0.0, 0.0)}, executor="serial")
    assert c.attrs["fingerprint"] == d.attrs["fingerprint"]


def test_leftovers_are_cleaned(tmp_path, reference, monkeypatch):
    import orbsym.workflows.sweeps.core as core

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    out = tmp_path / "F.nc"
    with monkeypatch.context() as m:
        m.setattr(core, "run_chunk", interrupted)
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C before anything was stored: nothing is left
            run(out, 1.0)
    assert list(tmp_path.iterdir()) == []
    run(out, 1.0)
    # killed between writing OUT and removing OUT.parts/: the next run finds the file complete and
    # removes its own leftovers
    (tmp_path / "F.nc.parts").mkdir()
    (tmp_path / "F.nc.parts" / "sweep.json").write_text('{"fingerprint": "%s"}' % load(out).attrs["fingerprint"])
    (tmp_path / "F.nc.parts" / "points_0000000_0000000_1.npz").write_bytes(b"stale")
    seen = []
    run(out, 1.0, on_chunk=seen.append)
    assert seen == [] and sorted(p.name for p in tmp_path.iterdir()) == ["F.nc"]
    _assert_is_gamma(out, 1.0, reference)


# ------------------------------------------------------------------ truncated state
def test_truncated_chunk_and_sweep_json_name_the_file(tmp_path, reference):
    out = tmp_path / "F.nc"
    with pytest.raises(Stop):
        run(out, 1.0, on_chunk=stop_after(2))
    parts = tmp_path / "F.nc.parts"
    chunk = sorted(parts.glob("points_*.npz"))[1]
    chunk.write_bytes(chunk.read_bytes()[:40])
    with pytest.raises(SweepStateError, match=rf"chunk '.*{chunk.name}' is corrupt or truncated .*--restart"):
        run(out, 1.0)
    meta = parts / "sweep.json"
    meta.write_text(meta.read_text()[:30])
    with pytest.raises(SweepStateError, match=r"sweep.json' is corrupt or truncated .*--restart"):
        run(out, 1.0)
    rc, err = _main(["sweep", "bilayer", *_argv(1.0), "--out", str(out)])
    assert rc == 2 and err.count("\n") == 1 and "sweep.json' is corrupt or truncated" in err and "--restart" in err
    rc, _ = _main(["sweep", "bilayer", *_argv(1.0), "--out", str(out), "--restart"])
    assert rc == 0
    _assert_is_gamma(out, 1.0, reference)


def test_truncated_netcdf(tmp_path, reference):
    out = tmp_path / "F.nc"
    out.write_bytes(reference[1.0].read_bytes()[:300])
    stale = tmp_path / ".F.nc.abc123.tmp.nc"  # the temporary file of a save killed half-way
    stale.write_bytes(b"half")
    with pytest.raises(ValueError, match=r"'.*F.nc' is not a readable NetCDF3 file .*truncated"):
        load(out)
    with pytest.raises(ValueError, match="is not a file"):
        load(tmp_path)
    run(out, 1.0)  # a damaged output is recomputed, not trusted
    _assert_is_gamma(out, 1.0, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["F.nc"]


# ------------------------------------------------------------------ one owner at a time
def test_second_run_in_this_process_fails_on_the_lock(tmp_path, reference):
    out = tmp_path / "F.nc"
    inner = []

    def cb(info):
        if not inner:
            with pytest.raises(SweepStateError, match=rf"'{out}' is being written by another orbsym run \(pid {os.getpid()} .*lock '.*F.nc.parts/lock'"):
                run(out, 0.3)
            inner.append(True)

    run(out, 1.0, on_chunk=cb)
    assert inner
    _assert_is_gamma(out, 1.0, reference)
    assert _leftovers(tmp_path) == []  # no parts directory, lock file or temporary file left


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orbsym.workflows.sweeps import sweep
    out, marker, go, pause = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "pause"
    def cb(info):
        if not pause:
            marker.write_text("running")
        elif info["done"] == 2:
            marker.write_text("paused")
            t0 = time.time()
            while not go.exists() and time.time() - t0 < 60:
                time.sleep(0.02)
    sweep("bilayer", {axes}, {obs}, params={params}, executor="serial", chunk_size=1, out=out, on_chunk=cb)
    """
).format(axes=AXES, obs=OBS, params=dict(P, gamma=1.0))


@contextlib.contextmanager
def _child(out, tmp_path, pause=True):
    marker, go = tmp_path / "paused", tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(out), str(marker), str(go), "pause" if pause else "run"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    try:
        t0 = time.time()
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() - t0 < 60, "child sweep did not start"
            time.sleep(0.02)
        yield proc, go
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()


def test_concurrent_runs_in_two_processes(tmp_path, reference):
    """The issue's sequence: A and B on one output, A finishes, then a different sweep C."""
    out = tmp_path / "F.nc"
    with _child(out, tmp_path) as (proc, go):
        t0 = time.perf_counter()
        rc, err = _main(["sweep", "bilayer", *_argv(1.0), "--out", str(out)])
        assert time.perf_counter() - t0 < 10  # fails fast, computes nothing
        assert rc == 2 and err.count("\n") == 1
        assert f"is being written by another orbsym run (pid {proc.pid} on" in err and "F.nc.parts/lock" in err
        assert len(list((tmp_path / "F.nc.parts").glob("points_*.npz"))) == 2  # B touched nothing
        go.write_text("go")
        assert proc.wait(timeout=60) == 0
    assert not (tmp_path / "F.nc.parts").exists()  # A removed it; B never recreated it
    _assert_is_gamma(out, 1.0, reference)
    run(out, 0.3)  # C: a different sweep into the same file
    _assert_is_gamma(out, 0.3, reference)


def test_sigkill_mid_sweep_then_resume_is_identical(tmp_path, reference):
    out = tmp_path / "F.nc"
    with _child(out, tmp_path) as (proc, _):
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not out.exists()
    seen = []
    run(out, 1.0, on_chunk=seen.append)  # the kernel released the dead owner's lock
    assert sorted(i for s in seen for i in s["indices"]) == [2, 3, 4, 5]
    _assert_is_gamma(out, 1.0, reference)
    assert _leftovers(tmp_path) == ["paused"]


def test_sigkill_while_computing_then_resume_is_identical(tmp_path, reference):
    """Killed at an arbitrary moment (mid-point, mid-write or even after the save): same file."""
    out = tmp_path / "F.nc"
    with _child(out, tmp_path, pause=False) as (proc, _):
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    run(out, 1.0)
    _assert_is_gamma(out, 1.0, reference)
    assert _leftovers(tmp_path) == ["paused"]  # the marker file


# ------------------------------------------------------------------ bad options, found up front
def _argv(gamma):
    return ["--param", "theta=0,0.8,1.6", "--param", "phi=0,2", "--set", f"gamma={gamma}", "--set", "N_x=4", "--set", "N_y=8", "--observable", "free_energy,densities", "--chunk-size", "1", "--executor", "serial", "--quiet"]


def _main(argv):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


BASE = ["sweep", "bilayer", "--set", "N_y=8", "--quiet"]


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--param", "theta=0,1", "--set", "gamma=1", "--set", "gamma=2"], ["--set gamma is given twice", "1", "2"]),
        (["--param", "gamma=1,,0.5"], ["gamma=1,,0.5", "empty value", "position 2"]),
        (["--param", "theta=0,1", "--set", "m_FM=1.57,,0"], ["m_FM", "empty value"]),
        (["--param", "theta=0,1", "--set", "gamma=abc"], ["gamma must be a real number", "'abc'"]),
        (["--param", "theta=0,1", "--set", "gamma=nan"], ["gamma", "nan", "not finite"]),
        (["--param", "theta=0,1", "--set", "mu=inf"], ["mu", "inf", "not finite"]),
        (["--param", "interface=fm,metl"], ["interface", "'metl'", "did you mean 'metal'"]),
        (["--param", "basis=orbital,spn"], ["basis", "'spn'", "orbital, spin"]),
        (["--param", "metal=nm,xm"], ["'xm'", "nm"]),
        (["--param", "N_FM=1,2", "--param", "N_x=2,5"], ["N_FM=2, N_x=2", "N_x = 2 is too small for N_FM = 2", "N_FM = [1, 2]", "N_x = [2, 5]"]),
        (["--param", "theta=0:1:1000000000"], ["1000000000 values", "at most 10000000 points"]),
        (["--param", "theta=0:1:5000", "--param", "phi=0:1:5000"], ["25000000 points", "iB of memory", "core-hours"]),
        (["--param", "theta=0,1", "--ny-inf-method", "simpson"], ["invalid choice", "'simpson'"]),
        (["--param", "theta=0,1", "--set", "m_FM=q"], ["fixed parameters", "m_FM='q' are invalid", "unknown magnetization direction 'q'"]),
        (["--param", "theta=0,1", "--set", "w=0.3"], ["'w' applies only to the spin basis", "orbital basis", "silently ignored"]),
        (["--param", "mu=0,1", "--set", "basis=spin", "--set", "tp=0.5"], ["'tp' applies only to the orbital basis"]),
        (["--param", "theta=0,1", "--out", ""], ["--out is empty", "give a file name"]),
    ],
)
def test_bad_sweep_options_are_usage_errors_before_any_point(extra, words, tmp_path, monkeypatch):
    import orbsym.workflows.sweeps.core as core

    def no_points(*a, **k):
        raise AssertionError("a point ran")

    monkeypatch.setattr(core, "run_chunk", no_points)
    monkeypatch.chdir(tmp_path)
    rc, err = _main(BASE + extra)
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("orbsym: error: ")
    for w in words:
        assert w in err, (w, err)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"params": {"gamma": "abc"}}, "gamma must be a real number"),
        ({"params": {"gamma": float("nan")}}, "'gamma' = nan is not finite"),
        ({"params": {"m_FM": (0.5, float("inf"))}}, "component inf"),
        ({"axes": {"interface": ["fm", "metl"]}}, "sweep point interface='metl' is invalid: unknown interface rule 'metl'"),
        ({"axes": {"N_x": [2, 3, 4]}, "params": {"N_FM": 2}}, "sweep point N_x=2 is invalid.*too small for N_FM = 2.*N_x = \\[2, 3, 4\\]"),
        ({"axes": {"N_x": [3, 4], "N_FM": [1, 3]}, "params": {"N_y": 8}}, "N_x=3, N_FM=3 is invalid"),
        ({"axes": {"theta": np.broadcast_to(0.0, (10**9,))}}, "1000000000 values; a sweep has at most 10000000 points .*GiB of memory.*core-hours"),
        ({"axes": {"theta": range(4000), "phi": range(4000)}}, "16000000 points .*iB of memory"),
        ({"axes": {"m": [0.5, -1.0]}}, "sweep point m=-1.0 is invalid: m is the magnitude"),
        ({"axes": {"N_x": [4, 100000]}, "params": {"N_y": 8}, "engine": "dense"}, "sweep of 2 points \\(N_x=2\\) needs .*TiB of memory"),
        ({"observables": None}, "observables must be a name or a list"),
        ({"params": [("gamma", 1)]}, "params must be a dict"),
        ({"ny_inf_method": "gauss"}, "unknown N_y = inf method 'gauss'"),
        ({"executor": "threads"}, "unknown executor 'threads'"),
        ({"axes": {"interface": ["fm", " "]}}, "empty value"),
        ({"params": {"N_y": 8, "spin_unit": "S"}}, "'spin_unit' applies only to the spin basis"),
    ],
)
def test_bad_sweep_values_api(kwargs, match, tmp_path, monkeypatch):
    import orbsym.workflows.sweeps.core as core

    monkeypatch.setattr(core, "run_chunk", lambda *a, **k: pytest.fail("a point ran"))
    call = {"axes": {"theta": [0.0, 1.0]}, "observables": "free_energy", "params": {"N_x": 4, "N_y": 8}}
    call.update(kwargs)
    call.setdefault("executor", "serial")
    with pytest.raises(ValueError, match=match) as info:
        sweep("bilayer", call.pop("axes"), call.pop("observables"), out=tmp_path / "F.nc", **call)
    assert not isinstance(info.value, SweepError)
    assert list(tmp_path.iterdir()) == []


def test_basis_only_parameter_is_fine_when_some_points_use_it():
    ds = sweep("bilayer", {"basis": ["orbital", "spin"]}, params={"N_x": 4, "N_y": 8, "gamma": 0.3}, executor="serial")
    assert ds.free_energy.sel(basis="orbital").item() == solve(bilayer(gamma=0.3, N_x=4, N_y=8), 0.01).free_energy()
    assert ds.free_energy.sel(basis="spin").item() == solve(bilayer(basis="spin", N_x=4, N_y=8), 0.01).free_energy()


def test_factory_points_still_fail_one_by_one():
    """User factories are not run in the parent: their bad points are SweepErrors, as before."""
    import functools

    with pytest.raises(SweepError, match="1 of 2 sweep points failed"):
        sweep(functools.partial(bilayer, N_y=8), {"N_x": [4, 1]}, executor="serial")
    assert math.isfinite(sweep(functools.partial(bilayer, N_y=8), {"N_x": [4]}, executor="serial").free_energy.item())


@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=5), st.integers(-50, 50))
def test_fingerprint_sees_values_not_their_type(values, fixed):
    from orbsym.workflows.sweeps.store import fingerprint

    as_int = {"axes": {"gamma": values}, "fixed": {"mu": fixed, "m_FM": (fixed, 0)}}
    as_float = {"axes": {"gamma": [float(v) for v in values]}, "fixed": {"mu": float(fixed), "m_FM": [float(fixed), 0.0]}}
    assert fingerprint(as_int) == fingerprint(as_float)
    shifted = {"axes": {"gamma": [v + 0.5 for v in values]}, "fixed": as_int["fixed"]}
    assert fingerprint(shifted)[0] != fingerprint(as_int)[0]
    assert fingerprint({**as_int, "fixed": {"mu": fixed, "m_FM": (fixed, 1)}})[0] != fingerprint(as_int)[0]
