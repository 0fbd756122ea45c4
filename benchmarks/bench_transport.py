"""Benchmark: NEGF transport of a 25 x 800 (k_y-periodic) scattering region with all observables.

Run by hand: ``OMP_NUM_THREADS=1 python benchmarks/bench_transport.py [--bias] [--solver auto|rgf|dense]``.
Reports wall and CPU time (the machine may be shared).

Length scan (issue 13, "cost linear in the length of the scattering region"):
``python benchmarks/bench_transport.py --scan [--N-y 200] [--dense-max 100]``: linear response
T = 0.01, all observables + balance, N_x = 25, 50, 100, 200, 400, both region solvers
(``rgf``: orbsym.numeric.rgf; ``dense``: the reference, up to ``--dense-max`` columns).
``--crossover``: the two region solvers alone on random blocks (the crossover of ``solver="auto"``).
``--estimate``: the up-front resource estimate (:func:`orbsym.transport.transport_resources`) against the
measured CPU time and peak memory of ``orbsym transport`` runs (one process each; issue 24).
"""

import sys
import time

from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, transport


def _arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def sandwich(N_x, N_y):
    n = (N_x - 1) // 2
    return heterostructure([layer("nm", n, gamma=0.3), layer("fm", 1, m=(1.0, 0.0, 0.0)), layer("nm", N_x - 1 - n, gamma=0.3)], N_y=N_y)


def run(L, **kw):
    w0, c0 = time.perf_counter(), time.process_time()
    res = transport(L, **kw)
    res.densities(), res.currents(), res.torques(), res.torques("forward")
    r = res.continuity_residual()
    w1, c1 = time.perf_counter(), time.process_time()
    return res, r, w1 - w0, c1 - c0


def scan():
    N_y = _arg("--N-y", 200)
    dense_max = _arg("--dense-max", 100)
    print(f"length scan: NM | FM | NM, N_y = {N_y}, linear response T = 0.01 (16 nodes + error estimate), all observables + balance")
    run(attach_leads(sandwich(5, 4)), T=0.01)  # warm-up (kernel compilation, caches) outside the timings
    for N_x in (25, 50, 100, 200, 400):
        L = attach_leads(sandwich(N_x, N_y))
        line = f"  N_x = {N_x:4d}"
        G = {}
        for solver in ("rgf", "dense"):
            if solver == "dense" and N_x > dense_max:
                continue
            res, r, wall, cpu = run(L, T=0.01, solver=solver)
            G[solver] = res.conductance()["total"]
            line += f" | {solver:5s} cpu {cpu:7.2f} s (wall {wall:7.2f} s, balance {r['max_abs_balance']:.0e})"
        if len(G) == 2:
            line += f" | |G_rgf - G_dense| = {abs(G['rgf'] - G['dense']):.1e}"
        print(line, flush=True)


def crossover():
    """CPU per (k, E) point of the two region solvers alone on random blocks (the ``"auto"`` crossover)."""
    import numpy as np

    from orbsym.numeric.negf import dense_region_solver
    from orbsym.numeric.rgf import rgf_region_solver

    rng = np.random.default_rng(0)

    def cpu(f, *a):
        best = np.inf
        for _ in range(2):
            c = time.process_time()
            f(*a)
            best = min(best, time.process_time() - c)
        return best

    print("region solvers alone, CPU us per point: dense / rgf, end columns only | + bands dx = -1, 0, 1")
    for d in (2, 3, 6):
        for M in (3, 5, 8, 10, 16, 27):
            nb = max(50, 200000 // (M * d * d))
            diag = rng.normal(size=(nb, M, d, d)) + 0j
            diag = diag + np.conj(np.swapaxes(diag, -1, -2))
            hop = rng.normal(size=(M - 1, d, d)) + 0j
            s = -0.3j * np.broadcast_to(np.eye(d), (nb, d, d))
            z = np.full(nb, 0.1 + 0j)
            line = f"  d = {d:2d}, M = {M:3d}"
            for dxs in ((), (-1, 0, 1)):
                td, tr = (1e6 * cpu(f, z, diag, hop, s, s, dxs) / nb for f in (dense_region_solver, rgf_region_solver))
                line += f" | {td:8.1f} / {tr:8.1f} (x{td / tr:5.2f})"
            print(line, flush=True)


ESTIMATE_RUNS = [
    [], ["--fm", "y", "--bias", "0.05"], ["--n-metal", "100", "--N-y", "400"], ["--N-y", "800", "--T", "0"],
    ["--fm", "y", "--width", "open"], ["--fm", "y", "--bias", "0.05", "--width", "open"], ["--fm", "y", "--width", "open", "--N-y", "48"],
    ["--width", "open", "--N-y", "96", "--T", "0"],
]

_ESTIMATE_CHILD = """
import contextlib, io, json, resource, sys, time
import argparse
from orbsym.cli import main
from orbsym.commands import transport as cmd
argv = json.loads(sys.argv[1])
p = argparse.ArgumentParser(); cmd.add_arguments(p); a = p.parse_args(argv); cmd.check_options(a); est = cmd._estimate(a)
warm = ["transport", "--n-metal", "1", "--N-y", "2", "--T", "0.05", "--fm", "y"] + (["--width", "open"] if a.width == "open" else [])
with contextlib.redirect_stdout(io.StringIO()):
    main(warm)  # kernels compiled, modules imported: outside the measurement
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
c = time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(["transport"] + argv)
cpu = time.process_time() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
print(json.dumps([rc, est.seconds, cpu, est.bytes, peak]))
"""


def estimate():
    """Estimate / actual of the transport resource model (CPU time, peak memory above the warmed-up process)."""
    import json
    import os
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    print("orbsym transport: estimate vs actual (CPU s; MiB above the warmed-up process)")
    for argv in ESTIMATE_RUNS:
        out = subprocess.run([sys.executable, "-c", _ESTIMATE_CHILD, json.dumps(argv)], capture_output=True, text=True, env=env, check=True)
        rc, est_s, cpu, est_b, peak = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {' '.join(argv) or '(defaults)':45s} time est {est_s:7.2f} s  actual {cpu:7.2f} s  (x{cpu / est_s:4.2f})"
              f" | memory est {est_b / 2**20:7.1f} MiB  peak {peak / 2**20:7.1f} MiB", flush=True)


def main():
    if "--estimate" in sys.argv:
        return estimate()
    if "--scan" in sys.argv:
        return scan()
    if "--crossover" in sys.argv:
        return crossover()
    solver = _arg("--solver", "auto")
    L = attach_leads(sandwich(25, 800))
    runs = [("linear response, T = 0", dict(T=0.0)), ("linear response, T = 0.01, 16 nodes", dict(T=0.01))]
    if "--bias" in sys.argv:
        runs.append(("finite bias V = 0.1, T = 0.01, 200 window nodes + poles", dict(T=0.01, bias=0.1)))
    for name, kw in runs:
        res, r, wall, cpu = run(L, solver=solver, **kw)
        print(f"{name} [{res.info['region_solver']}]: wall {wall:.2f} s, cpu {cpu:.2f} s; I/V or I = {res.landauer_current():.6g}; balance {r['max_abs_balance']:.1e}")


if __name__ == "__main__":
    main()
