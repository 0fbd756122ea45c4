"""Benchmark of orbsym.workflows.sweeps: a 200-point free-energy sweep of the Fig. 3 bilayer (N_y = 800).

Measures, on the NM/FM bilayer of Fig. 3 (gamma = 0.3, N_x = 25, N_y = 800, T = 0.01, mu = -0.2)
over a (theta, phi) grid:

* the plain loop ``solve(bilayer(...)).free_energy()`` in this process (one BLAS thread),
* ``sweep(..., executor="process", workers=1 or 2)`` with a new pool per sweep (cold: includes
  spawning the workers, importing orbsym and deriving the kernels once per worker),
* the same on a warm pool (``process_executor``, reused across sweeps) -> executor overhead per
  point vs the loop, and speed-up 2 vs 1 worker,
* ``sweep(..., executor=client.get_executor())`` on a dask LocalCluster with 2 worker processes
  (1 thread each) -> ratio to the process pool.

Usage::

    python benchmarks/bench_sweep.py            # 200 points (10 x 20)
    python benchmarks/bench_sweep.py --points 40 --skip-dask

Targets (issue 5): speed-up >= 1.8x, overhead < 5 %, dask within 15 % of the process pool.
"""

import os

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = "1"  # before NumPy loads: the loop baseline and the workers use one BLAS thread

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

FIG3 = {"gamma": 0.3, "N_x": 25, "N_y": 800, "T": 0.01, "mu": -0.2}


def grid(points):
    n_theta = max(1, int(round(np.sqrt(points / 2))))
    n_phi = max(1, points // n_theta)
    return {"theta": np.linspace(0.0, np.pi, n_theta), "phi": np.linspace(0.0, 2 * np.pi, n_phi, endpoint=False)}


def cpu():
    """CPU seconds of this process plus its reaped children (workers, once their pool is shut down)."""
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def loop(axes):
    from orbsym.systems import bilayer, solve

    p = {k: v for k, v in FIG3.items() if k != "T"}
    bilayer(**p)  # derive the kernels once (the workers do the same once per process)
    t0, c0 = time.perf_counter(), cpu()
    F = [solve(bilayer(m_FM=(th, ph), **p), FIG3["T"]).free_energy() for th in axes["theta"] for ph in axes["phi"]]
    return time.perf_counter() - t0, cpu() - c0, np.array(F).reshape(len(axes["theta"]), len(axes["phi"]))


def timed_sweep(axes, **kw):
    from orbsym.workflows.sweeps import sweep

    busy = []
    t0 = time.perf_counter()
    ds = sweep("bilayer", axes, "free_energy", params=FIG3, progress=False, on_chunk=lambda info: busy.append(info["seconds"]), **kw)
    wall = time.perf_counter() - t0
    timed_sweep.busy = sum(busy)  # seconds the workers spent inside the points
    return wall, ds.free_energy.values


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="alternate warm pool / dask runs this many times, report the fastest of each")
    args = ap.parse_args()
    axes = grid(args.points)
    n = len(axes["theta"]) * len(axes["phi"])
    print(f"Fig. 3 bilayer free-energy sweep: {n} points ({len(axes['theta'])} theta x {len(axes['phi'])} phi), N_x=25, N_y=800, T=0.01")
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

    t_loop, c_loop, F_loop = loop(axes)
    print(f"plain loop (1 process)          : {t_loop:7.2f} s  ({1e3 * t_loop / n:.1f} ms/point), CPU {c_loop:.2f} s")
    from orbsym.workflows.sweeps import process_executor

    t1c, _ = timed_sweep(axes, executor="process", workers=1)
    print(f"sweep, new pool, 1 worker (cold): {t1c:7.2f} s  overhead vs loop {100 * (t1c / t_loop - 1):+.1f} % (incl. worker start: spawn, imports, kernel derivation)")
    t2c, _ = timed_sweep(axes, executor="process", workers=2)
    print(f"sweep, new pool, 2 workers (cold): {t2c:7.2f} s  speed-up vs 1 worker {t1c / t2c:.2f}x")
    warm = {"theta": [0.0], "phi": [0.0, 1.0]}
    c0 = cpu()
    with process_executor(1) as ex:
        timed_sweep(warm, executor=ex, workers=1)
        c_warm = cpu() - c0
        t1, F1 = timed_sweep(axes, executor=ex, workers=1)
    c1 = cpu() - c0 - c_warm  # upper bound: the warm-up's worker CPU is only counted after shutdown
    busy1 = timed_sweep.busy
    print(f"sweep, warm pool, 1 worker      : {t1:7.2f} s  overhead vs loop {100 * (t1 / t_loop - 1):+.1f} % ({1e3 * (t1 - t_loop) / n:+.2f} ms/point; target < 5 %)")
    print(f"   executor path: wall - worker time in points = {t1 - busy1:.2f} s = {1e3 * (t1 - busy1) / n:.2f} ms/point = {100 * (t1 / busy1 - 1):.1f} % (target < 5 %)")
    print(f"   CPU (parent + worker, incl. worker start-up): {c1:.2f} s, {100 * (c1 / c_loop - 1):+.1f} % vs loop")
    t2 = td = math.inf
    with warnings.catch_warnings(), process_executor(2) as pex:
        warnings.simplefilter("ignore")
        timed_sweep(warm, executor=pex, workers=2, chunk_size=1)
        cluster = client = dex = None
        if not args.skip_dask:
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            dex = client.get_executor()
            timed_sweep({"theta": [0.0] * 4}, executor=dex, workers=2, chunk_size=1)  # imports and kernels in both workers
        try:
            for _ in range(max(1, args.repeat)):
                t, F2 = timed_sweep(axes, executor=pex, workers=2)
                if t < t2:
                    t2, busy2 = t, timed_sweep.busy
                if dex is not None:
                    t, Fd = timed_sweep(axes, executor=dex, workers=2)
                    if t < td:
                        td, busyd = t, timed_sweep.busy
        finally:
            if client is not None:
                client.close()
                cluster.close()
    print(f"sweep, warm pool, 2 workers     : {t2:7.2f} s  speed-up vs 1 worker {t1 / t2:.2f}x (target >= 1.8x); worker utilization {busy2 / (2 * t2):.2f}")
    print(f"max |F(loop) - F(pool)| = {np.abs(F_loop - F2).max():.1e}, |F(1 worker) - F(2 workers)| = {np.abs(F1 - F2).max():.1e}")
    if dex is not None:
        print(f"sweep, dask LocalCluster 2 procs (warm): {td:7.2f} s  ratio to warm process pool {td / t2:.3f} (target within 15 %); worker utilization {busyd / (2 * td):.2f}")
        print(f"max |F(dask) - F(pool)| = {np.abs(Fd - F2).max():.1e}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
