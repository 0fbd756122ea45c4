"""The pool workers' own BLAS limit (orbsym.execution._worker_start), tested without ``submit``.

``ProcessPool.submit`` sets the single-thread BLAS environment around every submission, and the
pool's worker initializer ``_worker_start`` sets it again inside the worker: the environment
variables (for a worker that has not loaded BLAS yet) and a threadpoolctl limit (for a forked
worker whose BLAS is loaded already).  Because ``submit`` alone makes a spawned worker
single-threaded, the tests below call the initializer directly, in fresh processes whose BLAS runs
with 2 threads, so that each worker-side line is checked on its own.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

from orbsym import execution

ROOT = pathlib.Path(__file__).resolve().parents[1]

_BLAS = """
def blas():
    import threadpoolctl
    return sorted({i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"})
"""


def _run(body):
    """Run ``body`` in a fresh interpreter whose environment asks BLAS for 2 threads; its JSON line."""
    code = f"import json, os, sys\nsys.path.insert(0, {str(ROOT)!r})\n" + _BLAS + textwrap.dedent(body)
    env = {k: v for k, v in os.environ.items() if k not in execution.BLAS_ENV and k != execution.BLAS_THREADS_ENV}
    env.update(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_worker_initializer_limits_loaded_blas_to_one_thread():
    """BLAS already loaded with 2 threads (a forked worker): the initializer alone brings it to 1,
    and still runs the user's initializer; a fork pool's workers (numpy loaded before the fork, so
    the environment set by ``submit`` cannot act) compute with 1 thread while the parent keeps 2."""
    out = _run(
        """
        import numpy
        from orbsym import execution

        def task():
            return blas()

        before = blas()
        with execution.process_pool(1, context="fork") as pool:
            forked = pool.submit(task).result()
        parent = blas()
        seen = []
        execution._worker_start(os.getppid(), {}, seen.append, ("init",))
        inside = blas()
        print(json.dumps({"before": before, "forked": forked, "parent": parent, "inside": inside, "init": seen}))
        """
    )
    assert out["before"] == [2] and out["parent"] == [2], out  # the fresh process really had a multithreaded BLAS
    assert out["inside"] == [1], out
    assert out["init"] == ["init"]
    assert out["forked"] == [1], out


def test_worker_initializer_environment_limits_blas_loaded_later():
    """BLAS not loaded yet (a spawned worker): the environment the initializer receives makes the
    BLAS loaded afterwards single-threaded, without ``submit`` having set anything."""
    out = _run(
        """
        from orbsym import execution
        assert "numpy" not in sys.modules
        execution._worker_start(os.getppid(), dict(execution.BLAS_ENV), None, ())
        env = {k: os.environ.get(k) for k in execution.BLAS_ENV}
        import numpy
        print(json.dumps({"after": blas(), "env": env}))
        """
    )
    assert out["env"] == execution.BLAS_ENV
    assert out["after"] == [1], out
