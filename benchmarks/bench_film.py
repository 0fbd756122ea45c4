"""Benchmark: films (periodic in y and z) and the 2D engine against a baseline checkout (run by hand).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_film.py [--baseline PATH] [--rounds 3] [--quick]

1. The film target of issue 19: cubic-t2g FM/NM/FM trilayer, N_x = 25, N_y = N_z = 64, generic m,
   all profiles (``to_dict`` with densities, currents, torques, F, N, continuity), ``engine="auto"``
   (target <= 10 s on this 2-core machine).  Then the cost against N_x (25, 50, 100, 200) and
   against the k grid (N_y = N_z = 16 .. 128), for the engine auto picks.
2. The Fig. 2 case in 2D (trilayer N_x = 25, N_y = 800, gamma = 0.5, T = 0.01, all profiles):
   this checkout against ``--baseline PATH`` (another checkout of orbsym, e.g. a ``git worktree``
   of the commit before the film work), interleaved rounds in separate processes, ratio of CPU
   times (target <= 1.05).

CPU time is the number to compare (the machine may be shared); wall time is printed too.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

FIG2 = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from orbsym.systems import QUANTITIES, solve, trilayer
s = trilayer(gamma=0.5, N_x=25, N_y=800, m_L="x", m_R="y")
solve(trilayer(N_x=5, N_y=8), 0.01).to_dict(QUANTITIES)  # warm-up: kernels derived, code compiled
w, c = time.perf_counter(), time.process_time()
solve(s, 0.01).to_dict(QUANTITIES)
print(json.dumps({"wall": time.perf_counter() - w, "cpu": time.process_time() - c}))
"""


def film_case(N_x, N_k, engine="auto"):
    from orbsym.systems import QUANTITIES, solve, trilayer

    s = trilayer(N_x=N_x, N_y=N_k, N_z=N_k, gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R=(0.6, -0.2, 0.4))
    w, c = time.perf_counter(), time.process_time()
    r = solve(s, 0.01, engine=engine)
    d = r.to_dict(QUANTITIES)
    return {"wall": time.perf_counter() - w, "cpu": time.process_time() - c, "engine": r.engine, "residual": d["continuity"]["max_abs_continuity_residual"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=None, help="path of another orbsym checkout for the 2D ratio")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="only the target case and the 2D ratio")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    film_case(5, 8)  # warm-up: derive the cubic models once
    r = film_case(25, 64)
    print(f"film N_x = 25, N_y = N_z = 64, all profiles, auto ({r['engine']}): {r['wall']:.2f} s wall / {r['cpu']:.2f} s CPU "
          f"(target <= 10 s; continuity residual {r['residual']:.1e})")
    if not args.quick:
        for N_x in (50, 100, 200):
            r = film_case(N_x, 64)
            print(f"  N_x = {N_x:4d}, N_y = N_z = 64 ({r['engine']}): {r['wall']:.2f} s wall / {r['cpu']:.2f} s CPU")
        for N_k in (16, 32, 128):
            r = film_case(25, N_k)
            print(f"  N_x = 25, N_y = N_z = {N_k:4d} ({r['engine']}): {r['wall']:.2f} s wall / {r['cpu']:.2f} s CPU")
    if args.baseline:
        runs = {"this": [], "baseline": []}
        for _ in range(args.rounds):
            for name, path in (("this", str(ROOT)), ("baseline", args.baseline)):
                out = subprocess.run([sys.executable, "-c", FIG2, path], capture_output=True, text=True, check=True)
                runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
        best = {k: min(v, key=lambda d: d["cpu"]) for k, v in runs.items()}
        ratio = best["this"]["cpu"] / best["baseline"]["cpu"]
        print(f"2D Fig. 2 case (N_x = 25, N_y = 800, all profiles), best of {args.rounds} interleaved rounds: this "
              f"{best['this']['cpu']:.3f} s CPU, baseline {best['baseline']['cpu']:.3f} s CPU, ratio {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
