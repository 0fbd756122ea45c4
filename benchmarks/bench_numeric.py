"""Benchmarks of the numeric engine (plain script; prints numbers).

    python benchmarks/bench_numeric.py            # everything (a few minutes)
    python benchmarks/bench_numeric.py --quick    # Fig. 2 timings, memory, small scaling

One BLAS thread (set below, before NumPy is imported): for many small dense diagonalizations
multithreaded BLAS is several times slower.  Times are the best of ``--repeat`` warm runs; kernel
generation (SymPy, once per model and process) is reported separately.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402, F401

try:
    import orbsym  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Observables, solve_bloch, solve_realspace  # noqa: E402
from orbsym.systems import solve, trilayer  # noqa: E402

FIG2 = dict(N_x=25, N_y=800, N_FM=1, m=1.0, mu=-0.2, t=1.0, gamma=0.5)
T = 0.01
# coplanar magnetizations (real-gauge path) and a generic non-coplanar pair (complex path)
CONFIGS = {"m_L=x, m_R=y (real gauge)": ("x", "y"), "generic m_L, m_R (complex)": ((0.7, 0.3), (1.9, 2.2))}


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def all_profiles(lattice, T, workers=1):
    """One full solve: bands plus every current and torque profile for every polarization."""
    sol = solve_bloch(lattice, T, lattice.offset_pairs(KERNEL_NAMES), workers=workers)
    obs = Observables(lattice, sol.bands)
    for p in POLARIZATIONS:
        obs.density(p)
        obs.bond_current(p)
        obs.bond_current(p, "y")
        if p is not None:
            obs.eq7_current(p)
            obs.torques(p)
            obs.torques(p, "forward")
        obs.time_derivative(p)
    return sol.free_energy()


def free_energy_only(lattice, T, workers=1):
    return solve_bloch(lattice, T, vectors=False, workers=workers).free_energy()


def peak_memory(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load average before start: {os.getloadavg()}")

    t0 = time.perf_counter()
    systems = {name: trilayer(m_L=a, m_R=b, **FIG2) for name, (a, b) in CONFIGS.items()}
    print(f"kernel generation + system setup (SymPy, once per process): {time.perf_counter() - t0:.2f} s")
    print(f"\nFig. 2 parameters: {FIG2}, T={T}, orbital basis, one BLAS thread")
    for name, s in systems.items():
        lat = s.lattice
        all_profiles(lat, T)  # warm-up (compiles the coefficient functions once)
        t_full = best(lambda: all_profiles(lat, T), args.repeat)
        t_F = best(lambda: free_energy_only(lat, T), args.repeat)
        t_api = best(lambda: solve(s, T).to_dict(), max(1, args.repeat // 2))
        mem_full = peak_memory(lambda: all_profiles(lat, T))
        mem_F = peak_memory(lambda: free_energy_only(lat, T))
        print(f"  {name:30s} full solve + all profiles {t_full:6.3f} s | F only {t_F:6.3f} s | "
              f"solve().to_dict() {t_api:6.3f} s | peak NumPy memory {mem_full:6.1f} MB (F only {mem_F:5.1f} MB)")
        all_profiles(lat, T, workers=2)  # starts the worker processes once
        t_full2 = best(lambda: all_profiles(lat, T, workers=2), args.repeat)
        t_F2 = best(lambda: free_energy_only(lat, T, workers=2), args.repeat)
        print(f"  {'':30s} with workers=2: full {t_full2:6.3f} s | F only {t_F2:6.3f} s")
    print(f"  process max RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    nxs = (25, 50, 100) if args.quick else (25, 50, 100, 200, 300)
    nys = (800, 2000) if args.quick else (800, 2000, 5000, 10000)
    for name, (a, b) in CONFIGS.items():
        print(f"\nscaling with N_x (N_y = 800), {name}")
        for nx in nxs:
            lat = trilayer(m_L=a, m_R=b, **{**FIG2, "N_x": nx}).lattice
            r = 1 if nx >= 200 else 2
            print(f"  N_x={nx:4d}  full {best(lambda: all_profiles(lat, T), r):8.3f} s   F only {best(lambda: free_energy_only(lat, T), r):8.3f} s"
                  f"   peak {peak_memory(lambda: all_profiles(lat, T)):7.1f} MB")
        print(f"scaling with N_y (N_x = 25), {name}")
        for ny in nys:
            lat = trilayer(m_L=a, m_R=b, **{**FIG2, "N_y": ny}).lattice
            print(f"  N_y={ny:6d}  full {best(lambda: all_profiles(lat, T), 2):8.3f} s   F only {best(lambda: free_energy_only(lat, T), 2):8.3f} s"
                  f"   peak {peak_memory(lambda: all_profiles(lat, T)):7.1f} MB")

    print("\nBloch vs dense real-space solver (generic m, all profiles; real space = one dense eigh of N_x N_y 3 states)")
    sizes = ((5, 16), (10, 30), (25, 16)) if args.quick else ((5, 16), (10, 30), (25, 16), (25, 32))
    for nx, ny in sizes:
        lat = trilayer(m_L=(0.7, 0.3), m_R=(1.9, 2.2), **{**FIG2, "N_x": nx, "N_y": ny}).lattice
        tb = best(lambda: all_profiles(lat, T), 3)

        def slow():
            o = solve_realspace(lat, T).observables
            for p in POLARIZATIONS:
                o.bond_current(p)
                o.density(p)

        ts = best(slow, 1)
        print(f"  N_x={nx:3d} N_y={ny:3d} (dim {3 * nx * ny:5d}): Bloch {tb:7.4f} s, real space {ts:7.3f} s, ratio {ts / tb:8.1f}")


if __name__ == "__main__":
    main()
