"""Benchmark: Green's-function engine vs dense Bloch engine (run by hand, not a test).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_greens.py [--quick] [--dense-max 200] [--plot]

Measures (one BLAS thread; wall and CPU time, the machine may be shared -- CPU time is the number
to compare):

1. time vs N_x (trilayer, N_y = 800, gamma = 0.5, generic m_L, T = 0.01) for both engines: all
   profiles (to_dict with densities, currents, torques, F, N, continuity) and the free energy alone;
   dense up to --dense-max; peak traced memory of the greens solves; the crossover N_x; auto vs best.
2. RKKY J(N_x), N_x = 3..200, N_y = 800, one Lloyd sweep (target <= 10 s).
3. N_x = 1000, N_y = 800, generic m, all profiles (target <= 15 s).
4. N_x = 10^4 free energy (target <= 120 s).
5. RKKY J(N_x) at N_y = infinity for gamma = 1, 0.8, 0.5, 0.3 (N_x = 3..200), and at N_y = 800.
With --plot: docs/figures/greens_scaling.png (time vs N_x and |J(N_x)|).

    python benchmarks/bench_greens.py --compare OLD_ROOT [--sizes 500 1000 2000 10000] [--old-max 2000]

instead compares this tree with another checkout of orbsym (e.g. ``git archive`` of an older commit
unpacked in OLD_ROOT) side by side: all profiles, N_y = 800, generic m_L and m_R, each solve in a
fresh process (one BLAS thread), old and new interleaved per size; CPU seconds, the ratio, and the
exponent of CPU time vs N_x between consecutive sizes.  The old tree runs up to --old-max columns.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
import time
import tracemalloc

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orbsym.numeric import KERNEL_NAMES  # noqa: E402
from orbsym.numeric.greens import solve_greens  # noqa: E402
from orbsym.rkky import rkky_vs_length  # noqa: E402
from orbsym.systems import QUANTITIES, solve, trilayer  # noqa: E402

T = 0.01
M_L = (0.3, 0.5, 0.8)


def timed(fn, memory=False):
    if memory:
        tracemalloc.start()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    w, c = time.perf_counter() - w, time.process_time() - c
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, w, c, peak


def system(N_x, N_y=800, gamma=0.5, m_L=M_L, m_R="y"):
    return trilayer(gamma=gamma, m_L=m_L, m_R=m_R, N_x=N_x, N_y=N_y)


def full(s, engine):
    return solve(s, T, engine=engine).to_dict(QUANTITIES)


def free(s, engine):
    return solve(s, T, engine=engine).free_energy()


M_R_GENERIC = (0.6, -0.2, 0.4)
CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from orbsym.systems import QUANTITIES, solve, trilayer
def run(N):
    return solve(trilayer(gamma=0.5, m_L={m_L!r}, m_R={m_R!r}, N_x=N, N_y=800), {T!r}, engine="greens").to_dict(QUANTITIES)
run(5)  # warm up: kernels derived and cached once
c, w = time.process_time(), time.perf_counter()
d = run({N})
print(time.process_time() - c, time.perf_counter() - w, d["continuity"]["max_abs_continuity_residual"])
"""


def child_cpu(root, N):
    """CPU and wall seconds of one all-profile greens solve of the tree at ``root`` in a fresh process."""
    import os
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    code = CHILD.format(root=str(root), m_L=M_L, m_R=M_R_GENERIC, T=T, N=int(N))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def compare(old_root, sizes, old_max):
    """Old tree vs this tree, interleaved per size (module docstring)."""
    import os

    print(f"# old ({old_root}) vs new ({ROOT}): all profiles, N_y = 800, T = {T}, m_L = {M_L}, m_R = {M_R_GENERIC}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'N_x':>6} {'old CPU s':>10} {'new CPU s':>10} {'old/new':>8} {'new wall s':>10} {'exp old':>8} {'exp new':>8}")
    prev = None
    for N in sizes:
        old = child_cpu(old_root, N) if N <= old_max else None
        new = child_cpu(ROOT, N)
        e_old = e_new = "-"
        if prev is not None:
            lr = math.log(N / prev[0])
            e_new = f"{math.log(new[0] / prev[2][0]) / lr:.2f}"
            if old is not None and prev[1] is not None:
                e_old = f"{math.log(old[0] / prev[1][0]) / lr:.2f}"
        o = f"{old[0]:10.2f}" if old else f"{'-':>10}"
        r = f"{old[0] / new[0]:8.2f}" if old else f"{'-':>8}"
        print(f"{N:6d} {o} {new[0]:10.2f} {r} {new[1]:10.2f} {e_old:>8} {e_new:>8}   (continuity residual new {new[2]:.1e})", flush=True)
        prev = (N, old, new)
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", metavar="OLD_ROOT", help="compare with the orbsym tree at OLD_ROOT (all profiles vs N_x) and stop")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 10000], help="N_x of --compare")
    ap.add_argument("--old-max", type=int, default=2000, help="largest N_x the old tree runs in --compare")
    ap.add_argument("--quick", action="store_true", help="fewer sizes (N_x <= 1000), no N_x = 10^4")
    ap.add_argument("--dense-max", type=int, default=100, help="largest N_x for the dense engine")
    ap.add_argument("--plot", action="store_true", help="write docs/figures/greens_scaling.png")
    args = ap.parse_args(argv)
    if args.compare:
        compare(pathlib.Path(args.compare).resolve(), args.sizes, args.old_max)
        return
    sizes = [25, 50, 100, 200, 500, 1000] + ([] if args.quick else [2000, 5000, 10000])
    rows = []
    print("# 1. time vs N_x (N_y = 800, T = 0.01, generic m): seconds wall / CPU; peak MiB (greens)")
    print(f"{'N_x':>6} {'dense all':>16} {'greens all':>16} {'auto all':>8} {'dense F':>14} {'greens F':>14} {'auto F':>7} {'peak MiB':>9}")
    full(system(5), "greens"), full(system(5), "dense")  # warm up: kernels derived and cached once
    for N in sizes:
        s = system(N)
        row = {"N_x": N}
        if N <= 2000:
            _, w, c, _ = timed(lambda: full(s, "greens"))
            row.update(greens_all=(w, c))
        _, w, c, _ = timed(lambda: free(s, "greens"))
        row.update(greens_F=(w, c))
        # peak traced memory in a separate run (tracemalloc slows NumPy allocations down)
        row["peak"] = timed(lambda: (solve_greens(s.lattice, T, s.lattice.offset_pairs(KERNEL_NAMES)) if N <= 2000 else free(s, "greens")), memory=True)[3]
        if N <= args.dense_max:
            row["dense_all"] = timed(lambda: full(s, "dense"))[1:3]
            row["dense_F"] = timed(lambda: free(s, "dense"))[1:3]
        res = solve(s, T)
        row["auto_all"] = res._engine_for(True)
        row["auto_F"] = res._engine_for(False)
        rows.append(row)
        f = lambda key: f"{row[key][0]:7.3f}/{row[key][1]:7.3f}" if key in row else f"{'-':>15}"  # noqa: E731
        print(f"{N:6d} {f('dense_all'):>16} {f('greens_all'):>16} {row['auto_all']:>8} {f('dense_F'):>14} {f('greens_F'):>14} {row['auto_F']:>7} {row['peak'] / 2**20:9.1f}")
    both = [r for r in rows if "dense_all" in r and "greens_all" in r]
    cross = [r["N_x"] for r in both if r["greens_all"][1] < r["dense_all"][1]]
    print(f"crossover (all profiles, CPU): greens faster from N_x = {min(cross) if cross else 'none measured'}")
    for r in both:
        best = min(r["greens_all"][1], r["dense_all"][1])
        auto = r["greens_all"][1] if r["auto_all"] == "greens" else r["dense_all"][1]
        bestF = min(r["greens_F"][1], r["dense_F"][1])
        autoF = r["greens_F"][1] if r["auto_F"] == "greens" else r["dense_F"][1]
        print(f"  N_x = {r['N_x']}: auto / best = {auto / best:.3f} (all profiles), {autoF / bestF:.3f} (F only)")
    # small sizes: auto vs best at the paper's Fig. 2 size and below
    print("# auto vs best at small N_x (N_y = 800, all profiles, CPU seconds)")
    for N in (3, 5, 10, 25):
        s = system(N)
        d = min(timed(lambda: full(s, "dense"))[2] for _ in range(2))
        g = min(timed(lambda: full(s, "greens"))[2] for _ in range(2))
        a = solve(s, T)._engine_for(True)
        print(f"  N_x = {N}: dense {d:.4f}, greens {g:.4f}, auto -> {a}: {(g if a == 'greens' else d) / min(d, g):.3f}x best")

    print("# 2. RKKY J(N_x), N_x = 3..200, N_y = 800, one Lloyd sweep")
    s = system(200, gamma=0.5, m_L="y", m_R="y")
    out, w, c, _ = timed(lambda: rkky_vs_length(s, T))
    print(f"  {w:.2f} s wall / {c:.2f} s CPU for {out['N_x'].size} lengths; J(3) = {out['J'][0]:.6e}, J(200) = {out['J'][-1]:.3e}")

    print("# 3. N_x = 1000, N_y = 800, generic m, all profiles")
    s = system(1000)
    d, w, c, _ = timed(lambda: full(s, "greens"))
    peak = rows[[r["N_x"] for r in rows].index(1000)]["peak"]
    print(f"  {w:.2f} s wall / {c:.2f} s CPU, peak {peak / 2**20:.0f} MiB (greens bands), continuity residual {d['continuity']['max_abs_continuity_residual']:.1e}")

    if not args.quick:
        print("# 4. N_x = 10^4 free energy")
        s = system(10000)
        F, w, c, _ = timed(lambda: free(s, "greens"))
        peak = rows[-1]["peak"]
        print(f"  {w:.2f} s wall / {c:.2f} s CPU, peak {peak / 2**20:.0f} MiB, F per row = {F:.12f}")

    print("# 5. RKKY J(N_x) at N_y = infinity and N_y = 800 (Fig. 5 parameters, m along y)")
    Js = {}
    for g in (1.0, 0.8, 0.5, 0.3):
        s = system(200, gamma=g, m_L="y", m_R="y")
        inf, w, c, _ = timed(lambda: rkky_vs_length(s, T, N_y=math.inf))
        fin = rkky_vs_length(s, T)
        Js[g] = (inf["N_x"], inf["J"], fin["J"])
        diff = np.abs(inf["J"] - fin["J"])
        print(
            f"  gamma = {g}: {c:.2f} s CPU; |J| at N_x = 50, 100, 200: {abs(inf['J'][47]):.2e}, {abs(inf['J'][97]):.2e}, {abs(inf['J'][-1]):.2e}; "
            f"max |J(800) - J(inf)| = {diff.max():.1e} (N_x >= 100: {diff[97:].max():.1e})"
        )
    if args.plot:
        plot(rows, Js)


def plot(rows, Js):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=90)
    for key, lab, st in (("dense_all", "dense, all profiles", "o-"), ("greens_all", "greens, all profiles", "s-"), ("dense_F", "dense, F only", "o--"), ("greens_F", "greens, F only", "s--")):
        pts = [(r["N_x"], r[key][1]) for r in rows if key in r]
        if pts:
            a.loglog(*zip(*pts), st, label=lab, ms=4)
    a.set_xlabel("$N_x$")
    a.set_ylabel("CPU time (s)")
    a.set_title("$N_y = 800$, $T = 0.01t$, generic $m_L$", fontsize=9)
    a.legend(fontsize=7)
    for g, (N, Jinf, J800) in Js.items():
        b.semilogy(N, np.abs(Jinf), "-", lw=1, label=f"$\\gamma = {g}$, $N_y = \\infty$")
    N, _, J800 = Js[0.5]
    b.semilogy(N, np.abs(J800), ":", color="k", lw=1, label="$\\gamma = 0.5$, $N_y = 800$")
    b.set_xlabel("$N_x$")
    b.set_ylabel("$|J_y|$ per row ($t$)")
    b.legend(fontsize=7)
    fig.tight_layout()
    out = ROOT / "docs" / "figures" / "greens_scaling.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
