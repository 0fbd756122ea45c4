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

3. ``--transport``: film transport (issue 23, item 2: the k_z sectors' open-system solves in common point
   batches), this checkout against ``--baseline PATH``, interleaved rounds in separate processes (best CPU of
   ``--rounds``): the column-lattice film 200 x 4 x 16 (trilayer, ``orbsym.transport``) at T = 0 (linear
   response, one energy), at T = 0.01 (16 energies) and at finite bias (T = 0.05, V = 0.1, 20 window
   energies + equilibrium poles), and a site-lattice film (:func:`orbsym.numeric.sites_transport.site_transport`
   of the same trilayer as one site per cell) at T = 0, and the film equilibrium 200 x 4 x 16 (Green's-function
   sectors stacked) and 25 x 64 x 64 (the issue-19 target, sectors too large to stack: no regression); each
   prints the Landauer current (free energy) of both checkouts (they must agree).

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

TRANSPORT = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from orbsym.systems import trilayer
from orbsym.transport import attach_leads, transport
case = sys.argv[2]
def film(N_x=200, N_y=4, N_z=16):
    return trilayer(N_x=N_x, N_y=N_y, N_z=N_z, gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R=(0.6, -0.2, 0.4))
def run(s, site):
    if site:
        from orbsym.numeric.sites import from_column_lattice
        from orbsym.numeric.sites_transport import site_transport
        return site_transport(from_column_lattice(attach_leads(s).lattice), T=0.0, equilibrium=False)
    kw = dict(T=0.0) if case == "T0" else dict(T=0.01) if case == "T001" else dict(T=0.05, bias=0.1, n_energy=20)
    return transport(attach_leads(s), **kw)
site = case == "sites"
if case.startswith("eq"):  # the film equilibrium (Green's-function engine: sectors' sweeps stacked)
    from orbsym.systems import QUANTITIES, solve
    solve(film(5, 8, 8), 0.01).to_dict(QUANTITIES)
    s = film(200, 4, 16) if case == "eq" else film(25, 64, 64)
    w, c = time.perf_counter(), time.process_time()
    r = solve(s, 0.01)
    d = r.to_dict(QUANTITIES)
    print(json.dumps({"wall": time.perf_counter() - w, "cpu": time.process_time() - c, "value": r.free_energy()}))
    sys.exit()
run(film(5, 2, 2), site)  # warm-up: kernels derived, code compiled
s = film()
w, c = time.perf_counter(), time.process_time()
r = run(s, site)
cpu, wall = time.process_time() - c, time.perf_counter() - w
value = r.landauer_current()
print(json.dumps({"wall": wall, "cpu": cpu, "value": value}))
"""
TRANSPORT_CASES = {
    "T0": "column film 200 x 4 x 16, T = 0, linear response",
    "T001": "column film 200 x 4 x 16, T = 0.01, linear response (16 energies)",
    "bias": "column film 200 x 4 x 16, T = 0.05, V = 0.1 (20 window energies + poles)",
    "sites": "site-lattice film 200 x 4 x 16 (one site per cell), T = 0, linear response (no equilibrium part)",
    "eq": "film equilibrium 200 x 4 x 16, T = 0.01, all profiles (auto: greens; free energy)",
    "eq64": "film equilibrium 25 x 64 x 64, T = 0.01, all profiles (auto: greens; sectors of 1650 points, not stacked)",
}


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
    ap.add_argument("--transport", action="store_true", help="only the batched-sector cases: film transport and equilibrium (against --baseline when given)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.transport:
        paths = [("this", str(ROOT))] + ([("baseline", args.baseline)] if args.baseline else [])
        for case, label in TRANSPORT_CASES.items():
            runs = {name: [] for name, _ in paths}
            for _ in range(args.rounds):
                for name, path in paths:
                    out = subprocess.run([sys.executable, "-c", TRANSPORT, path, case], capture_output=True, text=True, check=True)
                    runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            text = ", ".join(name + " " + " ".join(f"{r['cpu']:.3f}" for r in v) + f" s CPU (current {v[0]['value']:.12g})" for name, v in runs.items())
            ratio = ""
            if args.baseline:
                ratio = f"; best ratio this/baseline {min(r['cpu'] for r in runs['this']) / min(r['cpu'] for r in runs['baseline']):.2f}"
            print(f"{label}: {text}{ratio}", flush=True)
        return
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
