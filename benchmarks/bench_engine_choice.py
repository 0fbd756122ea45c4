"""Benchmark: does engine="auto" pick the faster engine?  (run by hand, not a test)

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_engine_choice.py [--repeat 3] [--fit]

For trilayers/bilayers around the dense-greens crossover (N_x = 3 .. 50, N_y = 100 and 800,
T = 0.01 and 0.1, generic and coplanar m, orbital and spin basis) it times the full solve as a user
sees it (and T = 0, N_y = inf: dense = the k integral of :mod:`orbsym.numeric.infinite`) -- ``to_dict`` of densities, currents, torques and F ("all") and ``free_energy()`` alone
("F") -- with both engines (CPU seconds, best of ``--repeat``; the machine may be shared, CPU time
is the number to compare), the engine auto chose, and the model's predicted seconds
(:func:`orbsym.numeric.engines.engine_costs`).  Prints auto / best per case and the worst.
``--fit`` also prints least-squares per-point constants of the greens model from the measurements.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orbsym.numeric.engines import engine_costs  # noqa: E402
from orbsym.systems import bilayer, solve, trilayer  # noqa: E402

QS = ("densities", "currents", "torques", "free_energy")


def cpu(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        c = time.process_time()
        fn()
        best = min(best, time.process_time() - c)
    return best


def cases(only=None):
    for label, s, T in _cases():
        if only is None or only in label:
            yield label, s, T


def _cases():
    for N_y in (800, 100):
        for N in (3, 5, 7, 10, 15, 25, 35, 50):
            yield f"tri orb generic N_y={N_y}", trilayer(N_x=N, N_y=N_y, gamma=0.5, m_L=(0.3, 0.5, 0.8)), 0.01
    for N in (3, 5, 10, 25):
        yield "tri orb T=0", trilayer(N_x=N, N_y=800, gamma=0.5, m_L=(0.3, 0.5, 0.8)), 0.0
        yield "tri orb N_y=inf", trilayer(N_x=N, N_y=float("inf"), gamma=0.5, m_L=(0.3, 0.5, 0.8)), 0.01
    for N in (5, 10, 25):
        yield "tri orb coplanar", trilayer(N_x=N, N_y=800, gamma=0.5, m_L="x", m_R="y"), 0.01
        yield "tri orb T=0.1", trilayer(N_x=N, N_y=800, gamma=0.5, m_L=(0.3, 0.5, 0.8)), 0.1
        yield "bil spin am", bilayer("am", N_x=N, N_y=800, m_FM=(0.2, 0.4, 0.9)), 0.01


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--only", default=None, help="run only the cases whose label contains this text")
    args = ap.parse_args(argv)
    solve(trilayer(N_x=5, N_y=10), 0.01, engine="greens").to_dict(QS)  # warm up kernels / caches
    worst = {"all": 0.0, "F": 0.0}
    fit = {"all": [], "F": []}
    print(f"{'case':28s} {'N_x':>4} {'what':>4} {'dense':>8} {'greens':>8} {'auto':>6} {'auto/best':>9} {'pred d':>8} {'pred g':>8}")
    for label, s, T in cases(args.only):
        for what, vectors in (("all", True), ("F", False)):
            if what == "all":
                run = lambda e: solve(s, T, engine=e).to_dict(QS)  # noqa: E731
            else:
                run = lambda e: solve(s, T, engine=e).free_energy()  # noqa: E731
            d = cpu(lambda: run("dense"), args.repeat)
            g = cpu(lambda: run("greens"), args.repeat)
            r = solve(s, T)
            a = r._engine_for(vectors)
            pred = engine_costs(s.lattice, T, vectors, N_y=None if s.infinite else "lattice")
            ratio = (g if a == "greens" else d) / min(d, g)
            worst[what] = max(worst[what], ratio)
            fit[what].append((s.lattice.N_x, s.lattice.dim, pred["greens_points"], g, d))
            print(f"{label:28s} {s.lattice.N_x:4d} {what:>4} {d:8.4f} {g:8.4f} {a:>6} {ratio:9.3f} {pred['dense']:8.4f} {pred['greens']:8.4f}")
    print(f"worst auto / best: all profiles {worst['all']:.3f}, F only {worst['F']:.3f}")
    if args.fit:
        for what, rows in fit.items():
            A = np.array([[p * (dim / 3) ** 2.5, p * N * (dim / 3) ** 2.5] for N, dim, p, _, _ in rows])
            y = np.array([g for *_, g, _ in rows])
            coef = np.linalg.lstsq(A / y[:, None], np.ones_like(y), rcond=None)[0]  # relative least squares
            print(f"greens model ({what}): a = {coef[0]:.3g} s/point, b = {coef[1]:.3g} s/(point column)")


if __name__ == "__main__":
    main()
