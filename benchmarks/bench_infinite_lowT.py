"""Benchmark of the N_y = infinity k_y integral at low temperature (orbsym.numeric.infinite).

For the Fig. 3 bilayer (gamma = 0.3, m along x, mu = -0.2) at N_x = 4, 10, 25 and T from 0 to 0.01,
with the free energy only and with all correlation bands (profiles), reports for ``method="auto"``
the rule it chose, the number of h(k) diagonalizations, wall and CPU time, the error estimate, and
F(T) - F(0) (the Sommerfeld T^2 term).  ``--trapezoid`` also times the trapezoidal rule alone
(it fails for T <~ 1e-4: more than 2^17 nodes).

Usage::

    python benchmarks/bench_infinite_lowT.py            # N_x = 4, 10, 25
    python benchmarks/bench_infinite_lowT.py --quick    # N_x = 4, 10
"""

import os

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = "1"

import argparse  # noqa: E402
import time  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trapezoid", action="store_true")
    ap.add_argument("--tol", type=float, default=1e-10)
    args = ap.parse_args()
    from orbsym.numeric.infinite import solve_infinite
    from orbsym.numeric.observables import KERNEL_NAMES
    from orbsym.systems import bilayer

    print(f"load average before start: {os.getloadavg()}")
    for N_x in (4, 10) if args.quick else (4, 10, 25):
        lat = bilayer(gamma=0.3, N_x=N_x, m_FM="x").lattice
        for label, pairs in (("F only", ()), ("profiles", lat.offset_pairs(KERNEL_NAMES))):
            F0 = None
            for T in (0.0, 1e-9, 1e-7, 1e-5, 1e-4, 1e-3, 1e-2):
                methods = ["auto"] + (["trapezoid"] if args.trapezoid else [])
                for m in methods:
                    w0, c0 = time.perf_counter(), time.process_time()
                    try:
                        r = solve_infinite(lat, T, pairs=pairs, tol=args.tol, method=m)
                    except ValueError as exc:
                        print(f"N_x={N_x:3d} {label:8s} T={T:7.0e} {m:9s} FAILED after {time.perf_counter() - w0:.2f} s: {str(exc)[:70]}")
                        continue
                    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                    if T == 0:
                        F0 = r.free_energy
                    print(
                        f"N_x={N_x:3d} {label:8s} T={T:7.0e} {m:9s}-> {r.method:9s} evals {r.evaluations:6d}  wall {wall:6.3f} s  cpu {cpu:6.3f} s  "
                        f"error {r.error:8.1e}  F-F(0) {r.free_energy - F0:+.3e}"
                    )


if __name__ == "__main__":
    main()
