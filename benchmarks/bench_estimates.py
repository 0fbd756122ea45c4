"""Benchmark: the Green's-function engine's own cost estimate against its measured CPU time.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_estimates.py [--quick | --large] [--fit]

For each row of a table of sizes (small N_x with large N_y, the Fig. 2 size 25 x 800, N_x = 1000 -
10^4 with small N_y; T > 0 and T = 0; orbital (3 states) and spin (2 states) bases; bands and free
energy only; N_y = infinity; RKKY by Lloyd's formula) it builds the system (not timed), solves it
with :func:`orbsym.numeric.greens.solve_greens` and prints

    estimate (:func:`orbsym.numeric.engines.greens_solve_estimate`), actual, estimate / actual

The actual cost is the **process CPU time** (``time.process_time``) with one BLAS thread: the
machine is shared (other jobs load its cores), so wall time is printed for information only, and
the estimate is calibrated in CPU seconds of one core.  Short solves are repeated (at least 0.3 s
of CPU in all) and the fastest repetition is taken.  Rows marked ``chunk`` run with a smaller batch
memory budget (``chunk_bytes``) so that a short strip has the tiny batches of a long one (e.g. the
4 points per batch of N_x = 10^5, N_y = 10): the per-call overhead regime of issue 23, at a
fraction of the cost.

Exit status 1 if any ratio is outside [0.5, 2].  ``--quick``: ~30 s; default: ~2-4 min;
``--large``: adds N_x = 2 10^4 (~2 min more).  ``--fit``: least-squares constants ``(g_0, a, b, h)``
per (vectors, dim) from the rows (relative error), to paste into ``orbsym/numeric/engines.py``.

``--supercells`` (only that table, ~1 min): the Gamma-only supercells of disordered periodic samples
(:func:`orbsym.numeric.disorder.supercell` of the trilayer ``N_x x N_y``: one k point, a slice of
``D = 3 N_y`` states), both engines timed (bands, T = 0.01): the budget's Green's-function estimate /
CPU, the ranking's prediction of both engines (:func:`orbsym.numeric.engines.engine_costs`), the engine
``auto`` picks and the faster one.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orbsym.numeric import KERNEL_NAMES  # noqa: E402
from orbsym.numeric.budget import ResourceEstimate  # noqa: E402
from orbsym.numeric.engines import SYSTEM_SECONDS_PER_COLUMN, greens_solve_estimate  # noqa: E402
from orbsym.numeric.greens import CHUNK_BYTES, point_bytes, solve_greens  # noqa: E402
from orbsym.systems import bilayer, rkky, trilayer  # noqa: E402

GEN = (0.3, 0.5, 0.8)  # a generic magnetization (no symmetry)


def system(basis, N_x, N_y):
    """Trilayer (orbital, gamma = 0.5) or spin bilayer with a generic magnetization."""
    if basis == "orbital":
        return trilayer(gamma=0.5, m_L=GEN, m_R="y", N_x=N_x, N_y=N_y)
    return bilayer("nm", "spin", m_FM=GEN, N_x=N_x, N_y=N_y)


#: (label, basis, N_x, N_y, T, kind, batch) -- kind "bands" / "F" / "rkky"; batch: points per batch
#: forced through chunk_bytes (None: the default budget); quick: in the --quick set.
ROWS = [
    # small N_x, large N_y; the Fig. 2 size
    ("fig2", "orbital", 25, 800, 0.01, "bands", None, True),
    ("fig2 T=0", "orbital", 25, 800, 0.0, "bands", None, True),
    ("fig2 F", "orbital", 25, 800, 0.01, "F", None, True),
    ("fig2 spin", "spin", 25, 800, 0.01, "bands", None, True),
    ("fig2 F spin", "spin", 25, 800, 0.01, "F", None, False),
    ("small", "orbital", 5, 800, 0.01, "bands", None, False),
    ("small", "orbital", 10, 100, 0.01, "bands", None, True),
    ("small spin", "spin", 10, 100, 0.0, "bands", None, False),
    ("mid", "orbital", 50, 100, 0.01, "bands", None, False),
    ("mid", "orbital", 200, 800, 0.01, "bands", None, False),
    ("mid F T=0", "orbital", 100, 800, 0.0, "F", None, False),
    ("N_y=inf", "orbital", 25, math.inf, 0.01, "bands", None, False),
    ("rkky", "orbital", 25, 800, 0.01, "rkky", None, True),
    # long strips, small N_y: batches shrink like 1/N_x
    ("long", "orbital", 1000, 10, 0.01, "bands", None, True),
    ("long", "orbital", 2000, 10, 0.01, "bands", None, False),
    ("long", "orbital", 5000, 10, 0.01, "bands", None, False),
    ("long", "orbital", 10000, 10, 0.01, "bands", None, False),
    ("long T=0", "orbital", 2000, 10, 0.0, "bands", None, False),
    ("long spin", "spin", 3000, 10, 0.01, "bands", None, False),
    ("long F", "orbital", 10000, 10, 0.01, "F", None, True),
    ("long F T=0", "orbital", 10000, 10, 0.0, "F", None, False),
    ("long F spin", "spin", 10000, 10, 0.01, "F", None, False),
    ("long F spin", "spin", 2000, 100, 0.0, "F", None, False),
    ("long F", "orbital", 1000, 800, 0.01, "F", None, False),
    ("long rkky", "orbital", 2000, 10, 0.01, "rkky", None, False),
    # tiny batches of N_x = 1e5 (4 points) at a short length
    ("chunk", "orbital", 300, 10, 0.01, "bands", 4, True),
    ("chunk", "orbital", 500, 100, 0.01, "bands", 30, False),
    ("chunk spin", "spin", 300, 10, 0.01, "bands", 4, False),
    ("chunk T=0", "orbital", 200, 10, 0.0, "bands", 16, False),
]
LARGE = [("long", "orbital", 20000, 10, 0.01, "bands", None, False)]


def measure(fn, min_cpu=0.3):
    """Fastest CPU time of ``fn()`` over repetitions totalling ``min_cpu`` (at least one), and its wall time."""
    best, wall, total = math.inf, math.inf, 0.0
    while True:
        w, c = time.perf_counter(), time.process_time()
        fn()
        c, w = time.process_time() - c, time.perf_counter() - w
        if c < best:
            best, wall = c, w
        total += c
        if total >= min_cpu:
            return best, wall


def run_row(row):
    label, basis, N_x, N_y, T, kind, batch, _ = row
    s = system(basis, N_x, 1 if math.isinf(N_y) else N_y)
    lat = s.lattice
    ny = None if math.isinf(N_y) else "lattice"
    vectors = kind == "bands"
    chunk = CHUNK_BYTES if batch is None else batch * point_bytes(N_x, lat.dim, vectors)
    if kind == "rkky":
        # F_P, F_AP and one Lloyd sweep (each about a free-energy solve), and the two rebuilt systems
        est = greens_solve_estimate(lat, T, vectors=False).times(3, "solves")
        est = est + ResourceEstimate(est.engine, 0, 2 * SYSTEM_SECONDS_PER_COLUMN * N_x)
        fn = lambda: rkky(s, T, engine="greens")  # noqa: E731
    else:
        est = greens_solve_estimate(lat, T, vectors=vectors, N_y=None if ny is None else "lattice", chunk_bytes=chunk)
        pairs = lat.offset_pairs(KERNEL_NAMES) if vectors else ()
        fn = lambda: solve_greens(lat, T, pairs, vectors=vectors, N_y=ny, chunk_bytes=chunk)  # noqa: E731
    cpu, wall = measure(fn)
    return {"row": row, "dim": lat.dim, "vectors": vectors, "est": est, "cpu": cpu, "wall": wall}


def features(r):
    """``(1, P, P N_x, n_batch N_x)`` and the fixed T = 0 inertia part, for the fit."""
    from orbsym.numeric.engines import _INERTIA

    label, basis, N_x, N_y, T, kind, batch, _ = r["row"]
    det = r["est"].detail  # "P (k, w) points (n poles) in B batches x N columns ..."
    words = det.split()
    P = int(words[0])
    B = int(words[words.index("batches") - 1])
    inert = 0.0
    if T == 0 and not math.isinf(N_y):
        c0, c1 = _INERTIA[r["dim"]]
        inert = 2 * N_x * (c0 + (N_y // 2 + 1) * c1)
    return np.array([1.0, P, float(P) * N_x, float(B) * N_x]), inert


def fit(results):
    from scipy.optimize import nnls

    print("\n# fit (relative least squares, non-negative): (g_0, a, b, h) per (vectors, dim)")
    for vectors in (True, False):
        for dim in (3, 2):
            rs = [r for r in results if r["vectors"] == vectors and r["dim"] == dim and r["row"][5] != "rkky"]
            if len(rs) < 3:
                continue
            A, y = [], []
            for r in rs:
                f, inert = features(r)
                A.append(f / r["cpu"])
                y.append(1.0 - inert / r["cpu"])
            coef, _ = nnls(np.array(A), np.array(y))
            print(f"    ({vectors}, {dim}): ({coef[0]:.3g}, {coef[1]:.3g}, {coef[2]:.3g}, {coef[3]:.3g}),   # {len(rs)} rows")


SUPERCELLS = ((12, 2), (12, 4), (12, 8), (24, 4), (6, 16), (12, 16), (100, 2), (200, 2))


def supercells():
    """The supercell table of ``--supercells``; returns the number of wrong choices and budget ratios outside [0.5, 2]."""
    from orbsym.numeric.bloch import solve_bloch
    from orbsym.numeric.disorder import supercell
    from orbsym.numeric.engines import engine_costs
    from orbsym.systems import disorder_site_lattice

    print(f"# Gamma-only supercells of the trilayer (generic m, T = 0.01, bands): load average {os.getloadavg()}")
    print(f"{'N_x':>4} {'N_y':>4} {'D':>3} {'points':>6} {'dense cpu':>9} {'model':>8} {'greens cpu':>10} {'model':>8} {'budget':>8} "
          f"{'budget/cpu':>10} {'auto':>6} {'faster':>6}")
    bad = 0
    for N_x, N_y in SUPERCELLS:
        sc = supercell(disorder_site_lattice(system("orbital", N_x, N_y), "a supercell")).lattice
        lat = sc.slices
        pairs = ((0, 0), (1, 0), (0, 1))
        cost = engine_costs(lat, 0.01, True)
        budget = greens_solve_estimate(lat, 0.01, True).seconds
        cpu = {"dense": measure(lambda: solve_bloch(lat, 0.01, pairs, vectors=True), 0.0)[0],
               "greens": measure(lambda: solve_greens(lat, 0.01, pairs, vectors=True), 0.0)[0]}
        auto, faster = sc.choose_engine(0.01), min(cpu, key=cpu.get)
        ratio = budget / cpu["greens"]
        flag = ""
        if auto != faster and max(cpu.values()) > 1.3 * min(cpu.values()):
            flag += "  <-- wrong choice"
        if not 0.5 <= ratio <= 2:
            flag += "  <-- budget outside [0.5, 2]"
        bad += bool(flag)
        print(f"{N_x:>4} {N_y:>4} {lat.dim:>3} {cost['greens_points']:>6} {cpu['dense']:>9.3g} {cost['dense']:>8.3g} {cpu['greens']:>10.3g} "
              f"{cost['greens']:>8.3g} {budget:>8.3g} {ratio:>10.2f} {auto:>6} {faster:>6}{flag}", flush=True)
    print(f"# load average at the end {os.getloadavg()}")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="the rows marked quick only (~30 s)")
    g.add_argument("--large", action="store_true", help="also N_x = 2e4, N_y = 10 (~2 min more)")
    ap.add_argument("--fit", action="store_true", help="print least-squares constants of the cost model")
    ap.add_argument("--supercells", action="store_true", help="only the table of Gamma-only supercells (engine choice, ~1 min)")
    args = ap.parse_args(argv)
    if args.supercells:
        bad = supercells()
        print("FAIL" if bad else "OK: auto picks the faster engine (or a near tie) and the budget is within a factor 2")
        return 1 if bad else 0
    rows = [r for r in ROWS if r[7] or not args.quick] + (LARGE if args.large else [])
    system("orbital", 5, 10), system("spin", 5, 10)  # kernels derived and cached once
    solve_greens(system("orbital", 5, 10).lattice, 0.01)
    print("# Green's-function engine: estimate vs actual (process CPU time, one BLAS thread, shared machine:")
    print("# other jobs load the cores, so CPU seconds -- not wall -- are compared; the estimate is CPU seconds of one core)")
    print(f"{'case':<12} {'basis':<7} {'N_x':>6} {'N_y':>5} {'T':>5} {'kind':<6} {'batch':>6} {'batches':>7} {'est s':>9} {'cpu s':>9} {'wall s':>9} {'est/cpu':>8}")
    results, bad = [], []
    t0 = time.process_time()
    for row in rows:
        r = run_row(row)
        results.append(r)
        label, basis, N_x, N_y, T, kind, batch, _ = row
        ratio = r["est"].seconds / r["cpu"]
        words = r["est"].detail.split()
        nb = words[words.index("batches") - 1] if "batches" in words else "-"
        flag = "" if 0.5 <= ratio <= 2 else "  <-- outside [0.5, 2]"
        if flag:
            bad.append(row)
        ny = "inf" if math.isinf(N_y) else str(N_y)
        print(
            f"{label:<12} {basis:<7} {N_x:>6} {ny:>5} {T:>5g} {kind:<6} {'-' if batch is None else batch:>6} {nb:>7} "
            f"{r['est'].seconds:>9.3g} {r['cpu']:>9.3g} {r['wall']:>9.3g} {ratio:>8.2f}{flag}",
            flush=True,
        )
    ratios = [r["est"].seconds / r["cpu"] for r in results]
    print(f"# {len(results)} rows in {time.process_time() - t0:.0f} s CPU; est/cpu from {min(ratios):.2f} to {max(ratios):.2f} "
          f"(geometric mean {math.exp(np.mean(np.log(ratios))):.2f})")
    if args.fit:
        fit(results)
    if bad:
        print(f"FAIL: {len(bad)} rows outside [0.5, 2]")
        return 1
    print("OK: every estimate within a factor 2 of the measured CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
