"""Wall time of every figure of ``orbsym reproduce`` (plain script; prints a table).

    python benchmarks/bench_reproduce.py                # full paper parameters and --quick
    python benchmarks/bench_reproduce.py --quick-only
    python benchmarks/bench_reproduce.py --workers 2

Targets on the 2-core reference machine: full reproduction under 2 minutes, ``--quick`` under 20 s.
Each figure is timed from ``compute`` to the saved files (PNG, PDF, CSV, NetCDF) in a temporary
directory; SymPy kernel generation (once per model and process) is timed separately, first.
One BLAS thread per process (set before NumPy is imported).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

try:
    import orbsym  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import orbsym  # noqa: E402
from orbsym.workflows import figures  # noqa: E402

TARGETS = {False: 120.0, True: 20.0}


def warm_kernels():
    """Generate the SymPy kernels of every model used (cached per process)."""
    from orbsym.systems import bilayer, trilayer

    t0 = time.perf_counter()
    trilayer(N_y=4)
    bilayer(metal="am", N_y=4)
    return time.perf_counter() - t0


def run(quick, workers, out):
    rows = []
    for n in figures.FIGURES:
        mod = figures.module(n)
        t0, c0 = time.perf_counter(), time.process_time()
        data = mod.compute(quick=quick, workers=workers, show_progress=False)
        t1, c1 = time.perf_counter(), time.process_time()
        mod.save(data, out)
        t2, c2 = time.perf_counter(), time.process_time()
        rows.append((n, t1 - t0, t2 - t1, figures.headline(n, data), c1 - c0, c2 - c1))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick-only", action="store_true")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    print(f"orbsym {orbsym.__version__}, workers={args.workers}, cpus={os.cpu_count()}, load={os.getloadavg()[0]:.2f}")
    print(f"kernel generation (SymPy, once per process): {warm_kernels():.2f} s")
    modes = [True] if args.quick_only else [False, True]
    with tempfile.TemporaryDirectory() as out:
        for quick in modes:
            rows = run(quick, args.workers, out)
            total = sum(r[1] + r[2] for r in rows)
            label = "quick" if quick else "full (paper parameters)"
            print(f"\n{label}: total {total:.1f} s (target < {TARGETS[quick]:.0f} s) {'OK' if total < TARGETS[quick] else 'SLOW'}")
            print(f"  (cpu: this process's CPU time; the machine may be shared, compare it as well)")
            for n, tc, ts, head, cc, cs in rows:
                print(f"  Fig. {n}: compute {tc:6.2f} s (cpu {cc:6.2f} s)  plot+save {ts:5.2f} s (cpu {cs:5.2f} s)")
                print(f"          {head}")


if __name__ == "__main__":
    main()
