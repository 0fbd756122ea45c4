"""Benchmark: bulk orbital Hall conductivity of a 9-orbital (s, p, d) one-atom crystal (run by hand, not a test).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_hall.py [--N-k 100] [--components all|zxy] [--sizes]

The model: fcc, a = 3.61 Angstrom (Cu-like cell), one atom with the orbitals s, p, d (Wannier90
order), random Hermitian hopping matrices on the 12 nearest and 6 next-nearest neighbours (seeded;
amplitudes ~1 eV and ~0.3 eV) and a crystal-field on-site matrix: not a real metal, a
cost-representative one (the work does not depend on the numbers).  The operator is the atom-centred
L (:meth:`TightBinding.angular_momentum`; a random Hermitian stand-in of the same shape if the shell
module is absent: same cost).

It times :func:`orbsym.materials.hall.hall_conductivity` with ``convergence=False``:

1. one E_F on the N_k^3 grid (default 100^3 = 10^6 k points),
2. a 21-point E_F scan on the same grid, in the same run (target: <= 2x the single E_F),

printing CPU (this process and its workers) and wall seconds and the cost per k point per orbital^3.
``--workers N`` splits the k points over N forked processes (:mod:`orbsym.execution`).  ``--sizes`` also times
a few smaller grids and orbital counts (the cost model of :func:`orbsym.materials.hall.hall_estimate`).

Measured (2026-12-07, this 2-core machine shared with ~6 other jobs, load 3-6; CPU seconds of one
core, all 27 components): 100^3, one E_F: CPU 52.3 s (wall 116 s under load), 52 us per k, 72 ns per
k per orbital^3; 21 E_F in the same run: CPU 48.3 s (ratio 0.92).  Per k point: n = 3: 8.8 us, n = 5:
16 us, n = 9: 45-54 us, n = 18: 205 us (eigh ~14 us of the n = 9 cost).  ``--workers 2`` gave no
wall-time gain on the loaded machine (N_k = 50: 9.9 s vs 8.8 s), as expected with both cores busy.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orbsym.materials.hall import hall_conductivity  # noqa: E402
from orbsym.materials.model import Atom, TightBinding  # noqa: E402

SPD = ("s", "pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy")


def spd_model(n_orb=9, a=3.61, seed=0):
    rng = np.random.default_rng(seed)
    cell = 0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], float)
    inv = np.linalg.inv(cell)
    nn = [np.array(v) * a / 2 for v in ((1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1))]
    nnn = [np.array(v) * a for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    bonds = {}
    for vecs, amp in ((nn, 1.0), (nnn, 0.3)):
        for d in vecs:
            R = tuple(int(round(x)) for x in d @ inv)
            bonds[R] = amp * (rng.normal(size=(n_orb, n_orb)) + 1j * rng.normal(size=(n_orb, n_orb))) / np.sqrt(n_orb)
    onsite = np.diag(np.linspace(-2.0, 4.0, n_orb)).astype(complex)
    labels = SPD[:n_orb] if n_orb <= 9 else tuple(f"o{i}" for i in range(n_orb))
    return TightBinding.from_bonds(cell, [Atom("X", (0, 0, 0), labels)], onsite, bonds, name=f"random spd fcc ({n_orb} orbitals)")


def operator(model, seed=1):
    try:
        return model.angular_momentum("L"), "L"
    except (ImportError, ValueError):
        rng = np.random.default_rng(seed)
        A = rng.normal(size=(3, model.n, model.n)) + 1j * rng.normal(size=(3, model.n, model.n))
        return A + A.conj().transpose(0, 2, 1), "random Hermitian stand-in for L (same cost)"


def timed(model, O, mus, N_k, components, workers=1):
    """(dataset, CPU seconds of this process and its workers (joined at the end of each grid), wall seconds)."""
    import resource

    def cpu():
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    c, w = cpu(), time.perf_counter()
    ds = hall_conductivity(model, mus, operator=O, components=components, N_k=N_k, convergence=False, max_seconds=1e9, workers=workers)
    return ds, cpu() - c, time.perf_counter() - w


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N-k", type=int, default=100)
    ap.add_argument("--components", default="all", help="all (27 components) or e.g. zxy,xyz,yzx")
    ap.add_argument("--sizes", action="store_true")
    ap.add_argument("--workers", type=int, default=1, help="local processes sharing the k points")
    args = ap.parse_args()
    comps = None if args.components == "all" else args.components
    model = spd_model()
    O, what = operator(model)
    lo, hi = model.band_range(8)
    E_F = 0.5 * (lo + hi)
    mus = np.linspace(lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo), 21)
    nk = args.N_k**3
    print(f"workers: {args.workers}; model: {model!r}; operator {what}; bands [{lo:.2f}, {hi:.2f}] eV; grid {args.N_k}^3 = {nk:.3g} k; components {args.components}")
    ds1, c1, w1 = timed(model, O, [E_F], args.N_k, comps, args.workers)
    print(f"1 E_F:  CPU {c1:7.2f} s, wall {w1:7.2f} s; {1e6 * c1 / nk:.2f} us per k; {1e9 * c1 / nk / model.n**3:.2f} ns per k per orbital^3")
    ds21, c21, w21 = timed(model, O, mus, args.N_k, comps, args.workers)
    print(f"21 E_F: CPU {c21:7.2f} s, wall {w21:7.2f} s; ratio to 1 E_F: CPU {c21 / c1:.2f}, wall {w21 / w1:.2f}")
    print(f"estimate of the 1 E_F run: {ds1.attrs['estimate']}")
    s = ds1.sigma.sel(gamma="z", alpha="x", beta="y").values[0]
    print(f"sigma^z_xy(E_F = {E_F:.3f} eV) = {s:.6g} {ds1.attrs['units']}")
    if args.sizes:
        for n_orb, N in ((3, 40), (5, 40), (9, 40), (9, 60), (18, 30)):
            m = spd_model(n_orb)
            o, _ = operator(m)
            _, c, w = timed(m, o, [0.0], N, comps)
            print(f"n = {n_orb:2d}, N_k = {N:3d}: CPU {c:6.2f} s; {1e6 * c / N**3:.2f} us per k; {1e9 * c / N**3 / n_orb**3:.2f} ns per k per orbital^3")


if __name__ == "__main__":
    main()
