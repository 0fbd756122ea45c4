"""Calibration of the response cost estimates (plain script; prints estimate / actual CPU time).

    python benchmarks/bench_response_estimate.py

:func:`orbsym.numeric.budget.kubo_estimate` (heterostructure Kubo solve) and
:func:`orbsym.numeric.budget.bulk_hall_estimate` (bulk Hall conductivity) refuse runs beyond the
limits before any work; this script measures the CPU time (one BLAS thread) of a few sizes and
prints ``actual / estimate``, which should stay within a factor 2 (0.5 ... 2).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import pathlib  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

try:
    import orbsym  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from orbsym.numeric.budget import bulk_hall_estimate, kubo_estimate  # noqa: E402
from orbsym.numeric.kubo import bulk_hall  # noqa: E402
from orbsym.response import orbital_hall, response  # noqa: E402
from orbsym.systems import bilayer  # noqa: E402


def cpu(fn):
    c = time.process_time()
    fn()
    return time.process_time() - c


def main():
    print(f"load average before start: {os.getloadavg()}")
    response(bilayer(N_x=6, N_y=10), 0.05, 0.05).solution  # warm up
    print("Kubo response (bilayer, 3 states per site): N_x N_y  actual  estimate  ratio")
    for N_x, N_y in ((10, 200), (20, 100), (40, 60), (80, 30), (100, 10), (200, 6), (300, 4)):
        s = bilayer(N_x=N_x, N_y=N_y, gamma=0.5, m_FM="x")
        r = response(s, 0.05, 0.05)
        t = cpu(lambda r=r: r.solution)
        e = kubo_estimate(N_x, N_y, 3, symmetric=s.lattice.y_hermitian).seconds
        print(f"  {N_x:4d} {N_y:4d}  {t:8.3f} s {e:8.3f} s  {t / e:5.2f}")
    orbital_hall("nm", N_k=4)
    print("bulk Hall, Eq. 3 metal (dim 3): N_k n_mu eta  actual  estimate  ratio")
    for N_k, n_mu, eta in ((300, 1, 0.0), (300, 40, 0.1), (20, 2000, 0.0), (2, 20000, 0.0)):
        t = cpu(lambda: orbital_hall("nm", mu=np.linspace(-1, 1, n_mu), N_k=N_k, eta=eta))
        e = bulk_hall_estimate(N_k, 3, n_mu).seconds
        print(f"  {N_k:4d} {n_mu:6d} {eta:4.2f}  {t:8.3f} s {e:8.3f} s  {t / e:5.2f}")
    print("bulk Hall, random dim x dim blocks: dim n_mu  actual  estimate  ratio")
    rng = np.random.default_rng(0)
    for d in (2, 6, 12, 24):
        def herm():
            a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
            return a + a.conj().T

        on, hops, gens = herm(), {(1, 0): herm() / 4, (0, 1): herm() / 4, (1, 1): herm() / 8}, np.array([herm() for _ in range(3)])
        N_k = max(20, int(600 / d))
        for n_mu in (1, 20):
            t = cpu(lambda: bulk_hall(on, hops, gens, np.linspace(-1, 1, n_mu), N_k, 0.01, 0.0, 2))
            e = bulk_hall_estimate(N_k, d, n_mu).seconds
            print(f"  {d:4d} {n_mu:4d}  {t:8.3f} s {e:8.3f} s  {t / e:5.2f}")


if __name__ == "__main__":
    main()
