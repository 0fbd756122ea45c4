"""Calibration of the response cost estimates (plain script; prints estimate / actual CPU time).

    python benchmarks/bench_response_estimate.py [--kubo-only] [--fit] [--sizes 25x200,50x100,...]

:func:`orbsym.numeric.budget.kubo_estimate` (heterostructure Kubo solve) and
:func:`orbsym.numeric.budget.bulk_hall_estimate` (bulk Hall conductivity) refuse runs beyond the
limits before any work; this script measures the CPU time (one BLAS thread) of a few sizes and
prints ``actual / estimate``, which should stay within a factor 2 (0.5 ... 2).

The Kubo table runs the paper's trilayer (orbital, ``gamma = 0.5``, ``mu = -0.2``, ``T = 0.01``,
``eta = 0.05``) at ``N_x = 25 ... 400`` with few k points (``N_y`` small: the work is per k point)
on the three eigensolver paths of :func:`orbsym.numeric.kubo.solve_kubo`
(:func:`orbsym.numeric.budget.kubo_path`):

* ``tridiagonal``: ``m_L = x, m_R = y`` (real ``h(k)``, a path of states: LAPACK ``dstevd``);
* ``real``: the same lattice with the tridiagonal order switched off (real ``eigh``, real products);
* ``complex``: a generic magnetization (complex ``eigh`` and products).

The solve alone is timed (``response(...).solution``: the bands of the Fermi-surface, Fermi-sea and
drive parts), the quantity :func:`~orbsym.numeric.budget.kubo_estimate` budgets.  ``--fit``: relative
least squares of the per-k-point time ``a n^3 + b n^2 + c`` per path (``n = N_x dim``), the
constants of ``budget._KUBO_PATH``.
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

from orbsym.numeric import kubo  # noqa: E402
from orbsym.numeric.budget import bulk_hall_estimate, kubo_estimate, kubo_path  # noqa: E402
from orbsym.numeric.kubo import bulk_hall  # noqa: E402
from orbsym.response import orbital_hall, response  # noqa: E402
from orbsym.systems import bilayer, trilayer  # noqa: E402

FIG2 = dict(N_FM=1, m=1.0, mu=-0.2, t=1.0, gamma=0.5)
PATHS = {"tridiagonal": ("x", "y"), "real": ("x", "y"), "complex": ((0.7, 0.3), (1.9, 2.2))}
SIZES = ((25, 200), (50, 100), (100, 40), (200, 12), (400, 4))


def cpu(fn):
    c = time.process_time()
    fn()
    return time.process_time() - c


def kubo_table(sizes, fit):
    """Trilayer Kubo solves on the three paths: actual CPU s, estimate, ratio; optionally the fit."""
    print("Kubo response (trilayer, 3 states per site; solve only): path N_x N_y n_k  actual  estimate  actual/estimate")
    keep = kubo._path_order
    data = {}
    for path, m in PATHS.items():
        if path == "real":  # no tridiagonal order: the real eigh path on the same lattice
            kubo._path_order = lambda *mats: None
        try:
            response(trilayer(N_x=sizes[0][0], N_y=sizes[0][1], m_L=m[0], m_R=m[1], **FIG2), 0.01, 0.05).solution  # warm up
            for N_x, N_y in sizes:
                s = trilayer(N_x=N_x, N_y=N_y, m_L=m[0], m_R=m[1], **FIG2)
                lat = s.lattice
                found = kubo_path(lat)
                assert found == ("tridiagonal" if path == "real" else path), (path, found)  # real: forced here
                r = response(s, 0.01, 0.05)
                t = cpu(lambda r=r: r.solution)
                est = kubo_estimate(N_x, N_y, lat.dim, symmetric=bool(lat.y_hermitian), path=path)
                nk = N_y // 2 + 1 if lat.y_hermitian else N_y
                data.setdefault(path, []).append((N_x * lat.dim, nk, t))
                print(f"  {path:11s} {N_x:4d} {N_y:4d} {nk:4d}  {t:8.3f} s {est.seconds:8.3f} s  {t / est.seconds:5.2f}", flush=True)
        finally:
            kubo._path_order = keep
    if fit:
        print("relative least-squares fit of the per-k time a n^3 + b n^2 + c:")
        for path, rows in data.items():
            n, nk, t = (np.array(v, float) for v in zip(*rows))
            y = t / nk
            A = np.stack([n ** 3, n ** 2, np.ones_like(n)], axis=1) / y[:, None]
            coef = np.linalg.lstsq(A, np.ones_like(y), rcond=None)[0]
            print(f"  {path:11s} a = {coef[0]:.3g}, b = {coef[1]:.3g}, c = {coef[2]:.3g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubo-only", action="store_true", help="only the trilayer Kubo table")
    ap.add_argument("--fit", action="store_true", help="fit (a, b, c) per path from the Kubo table")
    ap.add_argument("--sizes", default=None, help="comma-separated N_xxN_y of the Kubo table (default 25x200,...,400x4)")
    args = ap.parse_args()
    sizes = SIZES if args.sizes is None else tuple(tuple(int(v) for v in s.split("x")) for s in args.sizes.split(","))
    print(f"load average before start: {os.getloadavg()}")
    kubo_table(sizes, args.fit)
    if args.kubo_only:
        print(f"load average at the end: {os.getloadavg()}")
        return
    response(bilayer(N_x=6, N_y=10), 0.05, 0.05).solution  # warm up
    print("Kubo response (bilayer, 3 states per site): N_x N_y  actual  estimate  ratio")
    for N_x, N_y in ((10, 200), (20, 100), (40, 60), (80, 30), (100, 10), (200, 6), (300, 4)):
        s = bilayer(N_x=N_x, N_y=N_y, gamma=0.5, m_FM="x")
        r = response(s, 0.05, 0.05)
        t = cpu(lambda r=r: r.solution)
        e = kubo_estimate(N_x, N_y, 3, symmetric=s.lattice.y_hermitian, path=kubo_path(s.lattice)).seconds
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
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
