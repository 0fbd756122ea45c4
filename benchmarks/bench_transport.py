"""Benchmark: NEGF transport of a 25 x 800 (k_y-periodic) scattering region with all observables.

Run by hand: ``OMP_NUM_THREADS=1 python benchmarks/bench_transport.py [--bias]``.  Reports wall and
CPU time (the machine may be shared).  Dense reference region solver (orbsym.numeric.negf).
"""

import sys
import time

import numpy as np

from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, transport


def main():
    s = heterostructure([layer("nm", 12, gamma=0.3), layer("fm", 1, m=(1.0, 0.0, 0.0)), layer("nm", 12, gamma=0.3)], N_y=800)
    L = attach_leads(s)
    runs = [("linear response, T = 0", dict(T=0.0)), ("linear response, T = 0.01, 16 nodes", dict(T=0.01))]
    if "--bias" in sys.argv:
        runs.append(("finite bias V = 0.1, T = 0.01, 200 window nodes + poles", dict(T=0.01, bias=0.1)))
    for name, kw in runs:
        w0, c0 = time.perf_counter(), time.process_time()
        res = transport(L, **kw)
        res.densities(), res.currents(), res.torques(), res.torques("forward")
        r = res.continuity_residual()
        w1, c1 = time.perf_counter(), time.process_time()
        print(f"{name}: wall {w1 - w0:.2f} s, cpu {c1 - c0:.2f} s; I/V or I = {res.landauer_current():.6g}; balance {r['max_abs_balance']:.1e}")


if __name__ == "__main__":
    main()
