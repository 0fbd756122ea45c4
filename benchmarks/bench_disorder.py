"""Exact engines on disordered finite samples: the slice-RGF transport of a wide strip, and its growth.

    python benchmarks/bench_disorder.py              # 200 x 50 strip of 3-orbital sites, one energy
    python benchmarks/bench_disorder.py --scaling    # also N_x = 50..400 at width 50, width 10..50 at N_x = 200

Issue target: a 200 x 50 strip (3 orbitals per site) with clean leads, one energy, all per-site
observables (densities, bond currents, torques, the per-site balance): <= 5 s.  CPU seconds of this
process (one BLAS thread), with the 1-minute load average printed (2-core machine).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from orbsym.numeric.disorder import Anderson, realize  # noqa: E402
from orbsym.numeric.sites import Hopping, Site, SiteLattice  # noqa: E402
from orbsym.numeric.sites_transport import site_transport  # noqa: E402

L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]], [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])


def strip(N_x, width):
    """The paper's t2g metal (gamma = 0.4) as a finite strip of one 3-orbital site per cell."""
    cell = Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]), L)
    hops = [Hopping("m", "m", (1, 0), -np.diag([0.4, 1.0, 1.0])), Hopping("m", "m", (0, 1), -np.diag([1.0, 0.4, 1.0]))]
    return SiteLattice(cell, hops, N_x=N_x, width=width)


def one(N_x, width, W=1.0, seed=1):
    clean = strip(N_x, width)
    t0 = time.process_time()
    lat = realize(clean, Anderson(W), seed=seed).lattice
    t1 = time.process_time()
    res = site_transport(lat, T=0.0, mu=0.2, left=(clean, 0), right=(clean, clean.n_slices - 1), equilibrium=False)
    t2 = time.process_time()
    r = res["response"]
    for pol in (None, "x", "y", "z"):
        r.density(pol), r.current(pol), r.source(pol)
        if pol:
            r.torque(pol)
    t3 = time.process_time()
    return {"build": t1 - t0, "transport": t2 - t1, "observables": t3 - t2, "total": t3 - t0, "G": res.conductance()["total"], "balance": res.max_balance_residual}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scaling", action="store_true")
    args = ap.parse_args(argv)
    print(f"# load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; CPU seconds")
    print("| N_x | width | states/slice | realize | transport | observables | total | G (e^2/h) | balance |")
    print("|---|---|---|---|---|---|---|---|---|")
    cases = [(200, 50)]
    if args.scaling:
        cases += [(50, 50), (100, 50), (400, 50), (200, 10), (200, 25)]
    for N_x, w in cases:
        r = one(N_x, w)
        print(f"| {N_x} | {w} | {3 * w} | {r['build']:.2f} | {r['transport']:.2f} | {r['observables']:.2f} | {r['total']:.2f} | {r['G']:.3f} | {r['balance']:.1e} |", flush=True)


if __name__ == "__main__":
    main()
