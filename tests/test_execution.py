"""orbsym.execution: the one execution layer -- lost tasks re-run, failures reported with their
parameters, no orphan workers after the main process is killed, unreachable schedulers fail fast,
BLAS limited to one thread inside the solves with identical numbers."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from orbsym import execution
from orbsym.execution import SerialExecutor, TaskError, map_tasks, process_pool, run_tasks

ROOT = pathlib.Path(__file__).resolve().parents[1]
HERE = pathlib.Path(__file__).parent


def square(x):
    return x * x


def fail_at_three(x):
    if x == 3:
        raise ArithmeticError(f"no {x}")
    return x


def die_once(x, marker):
    """Kills its worker process the first time it runs for x == 2 (marker file records the death)."""
    if x == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    time.sleep(0.05)
    return x + 100


def always_die(x):
    if x == 1:
        os._exit(9)
    time.sleep(0.05)
    return -x


def test_serial_map_reports_failed_tasks_with_their_parameters():
    labels = [{"gamma": g} for g in (0.1, 0.2, 0.3, 0.4, 0.5)]
    with pytest.raises(TaskError) as info:
        map_tasks(fail_at_three, [(i,) for i in range(5)], labels=labels, progress=False)
    err = info.value
    assert [f["point"] for f in err.failures] == [{"gamma": 0.4}]
    assert "ArithmeticError: no 3" in err.failures[0]["error"]
    assert "1 of 5 tasks failed" in str(err) and '"gamma": 0.4' in str(err)
    assert err.results == [0, 1, 2, None, 4]  # the others completed
    with pytest.raises(ArithmeticError, match="no 3"):  # the parts of one computation: the original error
        map_tasks(fail_at_three, [(i,) for i in range(5)], errors="raise", progress=False)


def test_run_tasks_is_lazy_and_bounded():
    """Tasks are consumed from the iterable only as the window frees up."""
    consumed = []

    def tasks():
        for i in range(6):
            consumed.append(i)
            yield (i,)

    out = []
    for j, res, err in run_tasks(square, tasks(), SerialExecutor(), window=1):
        out.append((j, res, err))
        assert len(consumed) == j + 1
    assert out == [(i, i * i, None) for i in range(6)]


def test_a_dead_worker_loses_no_task(tmp_path):
    """A worker dying mid-run breaks the pool; every in-flight task is re-run on a fresh pool."""
    marker = str(tmp_path / "died")
    with process_pool(2) as pool:
        got = dict((j, (res, err)) for j, res, err in run_tasks(die_once, [(i, marker) for i in range(6)], pool, window=4))
        assert pool.restarts >= 1
    assert os.path.exists(marker)
    assert got == {i: (i + 100, None) for i in range(6)}


def test_a_task_that_always_kills_its_worker_is_the_only_failure():
    """Lost tasks are re-run alone, so the culprit is found and the bystanders are not charged."""
    with pytest.raises(TaskError) as info:
        map_tasks(always_die, [(i,) for i in range(5)], executor=process_pool(2), workers=2, labels=[{"i": i} for i in range(5)], progress=False)
    err = info.value
    assert [f["point"] for f in err.failures] == [{"i": 1}]
    assert "BrokenProcessPool" in err.failures[0]["error"]
    assert err.results == [0, None, -2, -3, -4]


_ORPHAN = """
import os, sys, time
sys.path.insert(0, {root!r})
from orbsym import execution

def nap(s):
    time.sleep(s)
    return os.getpid()

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "kpoints":          # the forked pool of a solve's k-point splitting
        pool = execution.shared_pool(2)
    else:
        pool = execution.process_pool(2)
    futs = [pool.submit(nap, 0.3) for _ in range(2)]
    pids = sorted({{f.result() for f in futs}} | {{p.pid for p in pool.processes()}})
    pool.submit(nap, 600)          # a worker busy for a long time
    pool.submit(nap, 600)
    with open(sys.argv[3], "w") as fh:
        fh.write(" ".join(map(str, pids)))
    time.sleep(0.3)
    os.kill(os.getpid(), getattr(__import__("signal"), sys.argv[2]))
    time.sleep(600)
"""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead (its parent, the test runner's child, is gone or not reaping)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("mode, sig", [("spawn", "SIGKILL"), ("spawn", "SIGTERM"), ("kpoints", "SIGKILL")])
def test_killing_the_main_process_leaves_no_orphan_workers(tmp_path, mode, sig):
    """The caller's pipes close promptly (``capture_output`` returns) and no pool process survives."""
    script = tmp_path / "victim.py"
    script.write_text(_ORPHAN.format(root=str(ROOT)))
    pid_file = tmp_path / "pids"
    pids = []
    try:
        t0 = time.perf_counter()
        try:
            res = subprocess.run([sys.executable, str(script), mode, sig, str(pid_file)], capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            res = None  # the pipes stayed open: some pool process survived and holds them
        waited = time.perf_counter() - t0
        pids = [int(p) for p in pid_file.read_text().split()]
        assert len(pids) == 2
        assert res is not None, "stdout/stderr of the killed process stayed open for 20 s"
        assert res.returncode == -getattr(signal, sig), res.stderr
        deadline = time.time() + 5
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids)
        assert waited < 20
    finally:  # never leave processes behind, even when the test fails
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_unreachable_scheduler_fails_fast_with_one_line():
    pytest.importorskip("dask.distributed")
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError) as info:
        execution.connect_scheduler("tcp://127.0.0.1:9", timeout=1.5)
    assert time.perf_counter() - t0 < 15
    msg = str(info.value)
    assert "tcp://127.0.0.1:9" in msg and "1.5 s" in msg and "\n" not in msg


@pytest.mark.parametrize("text, expected", [(None, 1), ("", 1), ("3", 3), ("0", None), ("off", None), ("none", None)])
def test_blas_threads_setting(monkeypatch, text, expected):
    if text is None:
        monkeypatch.delenv(execution.BLAS_THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(execution.BLAS_THREADS_ENV, text)
    assert execution.blas_threads() == expected


@pytest.mark.parametrize("text", ["two", "-1", "1.5"])
def test_bad_blas_threads_setting_is_named(monkeypatch, text):
    monkeypatch.setenv(execution.BLAS_THREADS_ENV, text)
    with pytest.raises(ValueError, match=f"ORBSYM_BLAS_THREADS={text!r}"):
        execution.blas_threads()
    with pytest.raises(ValueError, match="BLAS threads must be"):
        execution.set_blas_threads(-2)


def test_solve_runs_with_one_blas_thread_and_identical_numbers():
    """Under a multithreaded-BLAS environment the solve runs with one thread inside (threadpoolctl)
    and gives the numbers of the unlimited solve; outside the solve BLAS keeps its setting."""
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(HERE / "numeric")!r}]
        import numpy as np, threadpoolctl
        from orbsym import execution
        from orbsym.numeric import bloch, KERNEL_NAMES
        from lattices import trilayer

        def blas():
            return sorted(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")

        seen = []
        real = bloch._solve_range
        def spy(*a, **k):
            seen.append(blas())
            return real(*a, **k)
        bloch._solve_range = spy
        lat = trilayer("orbital", 5, 30, 0.5, (1.0, 0, 0), (0, 1.0, 0))
        pairs = lat.offset_pairs(KERNEL_NAMES)
        outside = blas()
        a = bloch.solve_bloch(lat, 0.02, pairs)
        after = blas()
        execution.set_blas_threads(None)          # opt out: BLAS as the environment set it
        b = bloch.solve_bloch(lat, 0.02, pairs)
        dE = float(np.abs(a.energies - b.energies).max())
        dG = max(float(np.abs(a.bands[p] - b.bands[p]).max()) for p in a.bands)
        print(json.dumps({{"outside": outside, "after": after, "seen": seen, "dE": dE, "dG": dG, "F": [a.free_energy(), b.free_energy()]}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in execution.BLAS_ENV and k != execution.BLAS_THREADS_ENV}
    env.update(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["outside"] and set(out["outside"]) == {2} and out["after"] == out["outside"]
    assert set(out["seen"][0]) == {1}  # inside the default solve
    assert set(out["seen"][1]) == {2}  # opted out
    assert out["dE"] < 1e-12 and out["dG"] < 1e-12
    assert abs(out["F"][0] - out["F"][1]) < 1e-12


def test_execution_imports_neither_sympy_nor_xarray_nor_numpy():
    code = "import sys; import orbsym.execution; print(sorted(m for m in ('sympy', 'xarray', 'numpy') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def bilayer_dying_once(gamma, marker, **kw):
    """Sweep factory whose worker dies the first time it builds gamma == 0.5."""
    from orbsym.systems import bilayer

    if gamma == 0.5 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    return bilayer(gamma=gamma, **kw)


def test_sweep_survives_a_dying_worker_with_every_point(tmp_path):
    """Issue 15: a worker dying mid-sweep breaks the pool; the lost chunks are re-run on a fresh pool
    and the sweep completes with the numbers of a serial run, nothing reported as failed."""
    import functools

    import numpy as np

    from orbsym.systems import bilayer
    from orbsym.workflows.sweeps import sweep

    bilayer(N_x=3, N_y=8)  # kernels derived here, inherited by the forked workers
    marker = str(tmp_path / "died")
    factory = functools.partial(bilayer_dying_once, marker=marker, N_x=3, N_y=8)
    axes = {"gamma": [0.3, 0.5, 0.8, 1.0]}
    pool = process_pool(2, context="fork")
    with pool:
        ds = sweep(factory, axes, executor=pool, workers=2, chunk_size=1, out=tmp_path / "F.nc")
        assert pool.restarts >= 1
    assert os.path.exists(marker)
    ref = sweep(factory, axes, executor="serial")
    np.testing.assert_array_equal(ds.free_energy.values, ref.free_energy.values)


def test_every_engine_entry_point_limits_blas_threads(monkeypatch):
    """The newer engines (Green's functions, Kubo, bulk Hall, real-time evolution, NEGF) run their
    many small blocks inside the same one-BLAS-thread limit as the dense solve (issue 14, item 7):
    each entry point, called on a tiny system, enters ``execution.limit_blas``."""
    import contextlib

    from orbsym.dynamics import evolve
    from orbsym.numeric.greens import solve_greens
    from orbsym.numeric.kubo import solve_kubo
    from orbsym.response import orbital_hall
    from orbsym.systems import trilayer
    from orbsym.transport import attach_leads, transport

    entered = []

    @contextlib.contextmanager
    def recording(n="default"):
        entered.append(n)
        yield

    monkeypatch.setattr(execution, "limit_blas", recording)
    system = trilayer(N_x=3, N_y=4, gamma=0.5)
    lat = system.lattice
    calls = {
        "solve_greens": lambda: solve_greens(lat, 0.1),
        "solve_kubo": lambda: solve_kubo(lat, 0.1, 0.2),
        "bulk_hall": lambda: orbital_hall(mu=[-0.2], N_k=8, T=0.1, eta=0.1),
        "evolve": lambda: evolve(system, times=[0.0, 0.1], T=0.1),
        "transport": lambda: transport(attach_leads(system), T=0.1),
    }
    for name, call in calls.items():
        entered.clear()
        call()
        assert entered, f"{name} ran without execution.limit_blas"
