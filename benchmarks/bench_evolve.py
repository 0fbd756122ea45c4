"""Benchmark of the real-time engine (plain script; prints numbers).

    python benchmarks/bench_evolve.py            # one precession period, Fig. 2 size, 200 steps
    python benchmarks/bench_evolve.py --quick    # 20 steps (extrapolated) + N_x scaling at 10 steps

Fig. 2 size (N_x = 25, N_y = 800, orbital trilayer, N_FM = 1, gamma = 0.5): the left FM precesses
(omega = 0.1, theta = 0.3) for one period with 200 stored times = 200 steps, every observable at
every step and both continuity checks.  One BLAS thread per process.  The exact method runs on the
precession fast path (orbsym.numeric.local_update, records from the orbitals); ``--eigh`` switches
it off (the per-step eigen-decomposition reference).  Runs: the default (``error_estimate="auto"``,
i.e. no step doubling for the exact midpoint), the forced step-doubling estimate, each on one and on
two processes (``workers=2``), a quench (fast path: one eigh per segment), magnus4 (eigen-decomposition path, 20 steps, extrapolated) and the cost
per step vs N_x.  Reports wall time and CPU time of all processes (``time.process_time`` plus the
children's rusage).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

try:
    import orbsym  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from orbsym.dynamics import Precession, evolve  # noqa: E402
from orbsym.systems import trilayer  # noqa: E402

OMEGA, THETA = 0.1, 0.3


def run(N_x, N_y, steps, periods=1.0, method="exact", error_estimate="auto", workers=1):
    s = trilayer(N_x=N_x, N_y=N_y, N_FM=1, gamma=0.5, m_L="z", m_R="y")
    times = np.linspace(0, periods * 2 * np.pi / OMEGA, steps + 1)
    c0, w0, ch0 = time.process_time(), time.perf_counter(), _children()
    ds = evolve(s, Precession(OMEGA, THETA, columns="FM_L"), times, T=0.01, method=method, error_estimate=error_estimate, check="warn", workers=workers)
    return time.process_time() - c0 + _children() - ch0, time.perf_counter() - w0, ds


def _children():
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--eigh", action="store_true", help="per-step eigen-decomposition (no precession fast path)")
    args = ap.parse_args()
    if args.eigh:
        import orbsym.dynamics

        orbsym.dynamics.LOCAL_UPDATE = False
    print(f"load average before start: {os.getloadavg()}")
    c0 = time.process_time()
    run(5, 8, 4)  # kernels (SymPy, once per process), imports
    print(f"setup (kernel generation, imports): {time.process_time() - c0:.2f} s CPU")
    steps = 20 if args.quick else 200
    periods = steps / 200
    cases = [("exact", "auto", 1), ("exact", "auto", 2), ("exact", True, 1), ("exact", True, 2)]
    for method, est, workers in cases:
        cpu, wall, ds = run(25, 800, steps, periods, method, est, workers)
        print(
            f"N_x=25 N_y=800 {method:8s} error_estimate={est!s:5s} workers={workers} {steps} steps: wall {wall:7.2f} s  CPU {cpu:7.2f} s  "
            f"per step {1e3 * wall / steps:6.1f} ms wall  -> 200 steps {200 * wall / steps:6.1f} s wall   "
            f"N_k={ds.attrs['N_k']} check={ds.attrs['continuity_check'][:6]} max exact residual {ds.attrs['max_residual_exact']:.1e}"
        )
    from orbsym.dynamics import Quench

    q = trilayer(N_x=25, N_y=800, N_FM=1, gamma=0.5, m_L="z", m_R="y")
    c0, w0 = time.process_time(), time.perf_counter()
    ds = evolve(q, Quench(gamma=0.3), np.linspace(0, steps * 0.1, steps + 1), T=0.01, check="warn")
    print(f"N_x=25 N_y=800 quench gamma 0.5 -> 0.3 at t = 0, {steps} steps of 0.1: CPU {time.process_time() - c0:7.2f} s  wall {time.perf_counter() - w0:7.2f} s  check={ds.attrs['continuity_check'][:6]}")
    for est in ("auto", False):  # auto = step doubling for magnus4 (three Magnus steps per stored time)
        cpu, wall, ds = run(25, 800, 5, 0.025, "magnus4", est, 1)
        print(f"N_x=25 N_y=800 magnus4  error_estimate={est!s:5s} (eigh per step) 5 steps: CPU {cpu:7.2f} s -> 200 steps ~{40 * cpu:6.1f} s CPU")
    print("cost per step vs N_x (N_y = 800, exact, default estimate, one process; (25 steps - 5 steps) / 20, and the setup):")
    for N_x in (10, 25, 50, 100):
        c5, _, _ = run(N_x, 800, 5, 0.025)
        c25, _, _ = run(N_x, 800, 25, 0.125)
        step = (c25 - c5) / 20
        print(f"  N_x={N_x:3d} n={3 * N_x:4d}: {1e3 * step:8.1f} ms CPU per step, setup {c5 - 5 * step:6.2f} s CPU")


if __name__ == "__main__":
    main()
