"""Bulk orbital Hall conductivity against disorder strength: SCBA, SCBA + ladder (k space) and Chebyshev Kubo-Bastin (real space).

Model: s, px, py orbitals on the square lattice (Slater-Koster nearest neighbours, ``E_s = 1``, ``E_p = -1``,
``t_ss = -0.5``, ``t_sp = 0.6``, ``t_pp sigma = 0.8``, ``t_pp pi = -0.2``; bands in [-3, 3]), the s-p hybridized metal
of the orbital Hall effect (Go, Jo, Kim, Lee PRL 121, 086602 (2018); Jo, Go, Lee PRB 98, 214405 (2018)), at ``mu = 0``.
Why this model: three orbitals per site (cheap real-space samples), a large intrinsic OHC, and orbitals of both
parities on one atom, so that the ladder vertex of on-site disorder does not vanish by symmetry (for an atom whose
orbitals share one parity, e.g. the t2g metal, the local current vertex <G v G> is odd in k and the ladder is zero).

Disorder: uniform on-site energies in [-W/2, W/2], the same on the three orbitals of a site (orbital-independent).

* k space (:func:`orbsym.materials.born.disordered_conductivity`): Kubo-Bastin with SCBA Green's functions, without
  and with the ladder vertex (R-A at the Fermi level, R-R in the sea), N_k^2 grid, T = 0.
* real space (:func:`orbsym.numeric.chebyshev.kubo_bastin`): L x L torus (:meth:`SparseSample.from_tight_binding`),
  ``n_real`` realizations x ``n_vec`` random-phase vectors, Jackson kernel with ``N`` moments, T = 0.02 t; the error
  bar is the standard error over realizations (each realization's estimate includes its random-vector noise).
  kubo_bastin uses Crepieux and Bruno's operator order, as hall.py and born.py (same Hall sign; see
  tests/numeric/test_chebyshev_periodic.py).

Run: ``PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/ohc_disorder.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from orbsym.materials.born import disordered_conductivity
from orbsym.materials.model import Atom, TightBinding
from orbsym.numeric.chebyshev import SparseSample, kubo_bastin


def sp_model(Es=1.0, Ep=-1.0, tss=-0.5, tsp=0.6, tpps=0.8, tppp=-0.2):
    on = np.diag([Es, Ep, Ep]).astype(complex)
    Tx = np.array([[tss, tsp, 0], [-tsp, tpps, 0], [0, 0, tppp]], complex)
    Ty = np.array([[tss, 0, tsp], [0, tppp, 0], [-tsp, 0, tpps]], complex)
    return TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("s", "px", "py"))], on, {(1, 0, 0): Tx, (0, 1, 0): Ty},
                                   periodic=2, length_unit="a", energy_unit="t", name="sp square")


def chebyshev(model, W, L, N, n_real, n_vec, mu, T, seed=0, xx=True):
    """Realization average of sigma^z_xy and sigma_xx with standard errors (the sign of hall.py)."""
    ohc, xx, want_xx = [], [], xx
    bounds = (-3.05 - W / 2, 3.05 + W / 2)  # clean bands in [-3, 3], |V| <= W/2
    for r in range(n_real):
        rng = np.random.default_rng(10_000 * seed + r)
        S = SparseSample.from_tight_binding(model, (L, L), onsite_disorder=rng.uniform(-W / 2, W / 2, size=(L, L, 1)))
        kw = dict(T=T, mu=[mu], n_moments=N, n_vectors=n_vec, seed=r, bounds=bounds)
        kb = kubo_bastin(S, "x", "y", "z", **kw)
        ohc.append(kb.sigma[0])
        if want_xx:
            xx.append(kubo_bastin(S, "x", "x", None, **kw).sigma[0])
    se = lambda a: float(np.std(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan")  # noqa: E731
    mean = lambda a: float(np.mean(a)) if a else float("nan")  # noqa: E731
    return mean(ohc), se(ohc), mean(xx), se(xx), kb.resolution


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small samples (a smoke run, minutes)")
    ap.add_argument("--W", type=float, nargs="*", default=None)
    ap.add_argument("--size", type=int, nargs=4, metavar=("L", "N", "REAL", "VEC"), default=None,
                    help="override the torus size, moments, realizations and vectors of the chosen W")
    ap.add_argument("--seed", type=int, default=0, help="realization seeds 10000 seed + r")
    ap.add_argument("--ohc-only", action="store_true", help="skip sigma_xx in real space")
    args = ap.parse_args()
    model = sp_model()
    mu, T = 0.0, 0.02
    # (W, L, N, realizations, vectors): L >> l = v/(2 Gamma), Jackson resolution pi a / N below Gamma/3
    plan = [(3.0, 24, 256, 8, 2), (2.5, 32, 384, 8, 2), (2.0, 40, 512, 8, 2)]
    if args.quick:
        plan = [(3.0, 16, 128, 4, 2), (2.0, 24, 256, 4, 2)]
    if args.W:
        plan = [p for p in plan if p[0] in args.W] if args.size is None else [(w,) + tuple(args.size) for w in args.W]
    print(f"model {model.name}: s, px, py; mu = {mu}; uniform orbital-independent disorder; load {os.getloadavg()[0]:.1f}")
    head = (f"{'W':>4} {'Gamma_s':>8} {'Gamma_p':>8} | {'OHC SCBA':>9} {'+ladder':>9} {'Chebyshev':>16} | {'xx SCBA':>8} {'+ladder':>8} "
            f"{'Chebyshev':>14} | {'L':>3} {'N':>4} {'res':>6} {'k s':>5} {'r s':>6}")
    print(head)
    for W, L, N, n_real, n_vec in plan:
        t0 = time.perf_counter()
        k = disordered_conductivity(model, mu, W, components=["zxy"], N_k=128, n_sea=40)
        kx = disordered_conductivity(model, mu, W, operator="charge", components=["xx"], N_k=128, n_sea=24)
        t1 = time.perf_counter()
        o, oe, x, xe, res = chebyshev(model, W, L, N, n_real, n_vec, mu, T, seed=args.seed, xx=not args.ohc_only)
        t2 = time.perf_counter()
        g = k.gamma
        print(f"{W:4.1f} {g[0]:8.4f} {g[1]:8.4f} | {k.total_bare['zxy']:9.4f} {k.total['zxy']:9.4f} {o:9.4f} +- {oe:5.4f} | "
              f"{kx.total_bare['xx']:8.4f} {kx.total['xx']:8.4f} {x:7.4f} +- {xe:5.3f} | {L:3d} {N:4d} {res:6.3f} {t1 - t0:5.1f} {t2 - t1:6.1f}",
              flush=True)
    print(f"load at the end {os.getloadavg()[0]:.1f} (2 cores shared); natural units: sigma dimensionless (e^2/hbar = 1), per unit force qE, "
          "L_z current {v_x, L_z}/2 to E_y")


if __name__ == "__main__":
    main()
