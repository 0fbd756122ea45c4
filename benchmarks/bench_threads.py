"""BLAS threads in the default environment: orbsym's own limit (one thread inside the solves) vs none.

Run by hand (not a test)::

    python benchmarks/bench_threads.py [--repeat 3]

Each case runs in a fresh subprocess whose environment has NO ``OMP_NUM_THREADS`` /
``OPENBLAS_NUM_THREADS`` (what a new user's shell has), so OpenBLAS starts with one thread per
core.  "before" is ``ORBSYM_BLAS_THREADS=0`` (orbsym leaves BLAS alone, the behaviour before the
limit existed); "after" is the default (one BLAS thread inside every solve).  Cases:

* ``eigh``: a full Fig. 2 trilayer solve at the paper's size (N_x = 25, N_y = 800: 401 blocks of 75 x 75);
* ``figure 2 --quick``: ``orbsym figure 2 --quick`` end to end (CLI, plot and files included).

Wall and CPU time (``time.process_time`` of the child, all its threads) are reported; the machine
may be shared, so compare CPU time as well.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SOLVE = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    from orbsym.systems import solve, trilayer
    s = trilayer(N_x=25, N_y=800, m_L="x", m_R="y", gamma=0.5)
    solve(s.rebuild(N_y=20), 0.01).currents()        # imports, kernels
    t0, c0 = time.perf_counter(), time.process_time()
    solve(s, 0.01).currents()
    print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]))
    """
)

_FIGURE = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    t0, c0 = time.perf_counter(), time.process_time()
    from orbsym.cli import main
    rc = main(["figure", "2", "--quick", "--no-progress", "--out", {out!r}])
    assert rc == 0, rc
    print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]))
    """
)


def _run(code, limit):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and k not in ("ORBSYM_BLAS_THREADS", "VECLIB_MAXIMUM_THREADS")}
    if not limit:
        env["ORBSYM_BLAS_THREADS"] = "0"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    import numpy  # noqa: F401 - load BLAS so that threadpoolctl sees it
    import threadpoolctl

    info = [(i["internal_api"], i["num_threads"]) for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    print(f"cpus={os.cpu_count()}, load={os.getloadavg()[0]:.2f}, BLAS in this environment: {info}")
    with tempfile.TemporaryDirectory() as out:
        cases = {"solve N_x=25 N_y=800 (eigh, 401 blocks 75x75)": _SOLVE.format(root=ROOT), "orbsym figure 2 --quick": _FIGURE.format(root=ROOT, out=out)}
        for name, code in cases.items():
            for label, limit in (("before (no limit)", False), ("after (1 thread)", True)):
                runs = [_run(code, limit) for _ in range(args.repeat)]
                wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
                print(f"{name:48s} {label:18s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  (best of {args.repeat})")


if __name__ == "__main__":
    main()
