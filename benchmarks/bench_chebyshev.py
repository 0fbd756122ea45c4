"""Benchmark: the Chebyshev engine (orbsym.numeric.chebyshev) on a disordered sample of >= 10^6 orbitals.

Run by hand (one BLAS thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_chebyshev.py [--L 600] [--W 1.0] [--T 0.05]
        [--tol 1e-4] [--sites 2] [--vectors 4] [--moments 256]

System: a t2g metal (three orbitals yz, zx, xy per site, ``L`` of the t2g shell as generators) on an
``L x L`` square sample (open edges), nearest-neighbour hopping ``t = 1`` for the two orbitals lying in
the bond's plane and ``0.1`` for the third, plus ``0.1 L_y`` (x bonds) and ``-0.1 L_x`` (y bonds), an orbital
Zeeman term ``0.1 L_z`` (so that ``H`` is complex and has no antiunitary symmetry: the equilibrium bond
currents of ``L`` do not vanish), and uniform Anderson disorder of width ``W``.  Built with
:meth:`SparseSample.from_arrays` (a :class:`SiteLattice` of this size cannot be built: its dense slice
chain alone is ``L (3 L)^2`` complex numbers).

Stages, each with wall time and the peak resident memory so far (``ru_maxrss``):

1. assembly of the sparse ``H`` and the Gershgorin bounds;
2. time per Chebyshev step (one sparse product ``Ht @ X`` and the recurrence update) for blocks of
   ``m = 1, 4, 16, 48`` vectors;
3. local observables (densities, every bond's eom pieces, torques, the balance) at ``--sites`` sites near
   the centre at ``T``, order from ``--tol``;
4. a stochastic trace with ``--vectors`` random-phase vectors (particles, total L, grand potential,
   ``--moments`` DOS moments), with standard errors;
5. Kubo-Bastin ``sigma_xy`` (charge, and the orbital Hall conductivity of ``{v_x, L_z}/2``) with
   ``--kb-moments`` moments and ``--kb-vectors`` random vectors, at three chemical potentials.

``--stages 345`` runs a subset.

Measured 2026-12-07 07:30 UTC (2-core machine shared with other sessions, one BLAS thread; times vary
by up to ~2x with the load; ``--L 600 --T 0.05 --tol 1e-4 --sites 4 --vectors 4 --moments 256
--kb-moments 64 --kb-vectors 4``)::

    [1] H: 1080000 orbitals, 8988000 nonzeros (complex128); assembly 6.7 s (2.6 s unloaded), Gershgorin 0.15 s
        Fermi series at T = 0.05: order 397, truncation bound 9.99e-05
    [2] per Chebyshev step: m = 1: 64 ms; m = 4: 78 ms/vector; m = 16: 93 ms/vector; m = 48: 73 ms/vector
        (0.10-0.14 G nonzero-vector products/s; an earlier, more loaded run: 76 / 88 / 211 / 169 ms/vector)
    [3] local observables at 4 sites (12 columns): order 397, region 199 hops = 242394 orbitals, 15.0 s
        (1.25 s per orbital column: 1000 t2g sites would take ~1 h on one core), error bound 1.0e-4 per
        rho entry (2e-4 on <L_z>), balance residual 1e-18, rate 5e-18
    [4] stochastic trace, 4 vectors, order 397: 43 s; particles 540438 +- 246 of 1080000,
        L_z total -16917 +- 227, grand potential -767068 +- 317 t
    [5] Kubo-Bastin 64 x 64 moments, 4 vectors (resolution 0.29 t): charge sigma_xy 55 s, orbital Hall
        sigma^{L_z}_xy 32 s; at mu = -1, 0, 1: sigma^{L_z}_xy = (-0.6 +- 0.7, -0.7 +- 1.6, -2.4 +- 0.5) 1e-3
        (before the chunked storage); with the chunked storage, ``--stages 5 --kb-moments 128 --kb-vectors 2``
        (resolution 0.14 t): charge 53 s, orbital Hall 55 s, peak RSS 3.5 GB; sigma^{L_z}_xy at mu = -1, 0, 1:
        (-3.0 +- 0.4, -3.3 +- 0.8, -7.8 +- 1.5) 1e-3 (two vectors: the error bars are themselves rough)
    peak RSS 5.4 GB (the m = 48 block of stage 2); stages 1, 3, 4, 5 alone: 2.6 GB
    (the orbital Hall values above were measured in Garcia et al.'s operator order; kubo_bastin now uses
    Crepieux and Bruno's, the order of orbsym.materials.hall: rerun, their sign is opposite.)

Scaling with the sample (one site, T = 0.05, tol 1e-4; 2 vectors; Kubo-Bastin 32 moments, 2 vectors)::

    L x L      orbitals   local 1 site (region)      trace (order 397)   Kubo-Bastin
    150 x 150     67500   1.2 s (whole sample)        1.2 s               0.7 s
    300 x 300    270000   5.5 s (209397 orbitals)     7.4 s               2.9 s
    600 x 600   1080000   7.5 s (238803 orbitals)    24.1 s              21.1 s

Local observables stop growing once the sample is larger than the region (``~ (N/2)^2`` cells); traces
and Kubo-Bastin grow linearly (a little faster at 10^6 orbitals: the vectors leave the caches).
"""

import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from orbsym.numeric.chebyshev import (  # noqa: E402
    FermiExpansion, SparseSample, _chebyshev_apply, _rescaled, kubo_bastin, local_observables, spectral_bounds, stochastic_traces,
)
from orbsym.numeric.sites import Site  # noqa: E402


def _arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def rss():
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB"


def t2g_sample(L, W, seed=0):
    eps = np.zeros((3, 3), complex)
    Lop = np.zeros((3, 3, 3), complex)  # (L_a)_bc = -i eps_abc in the (yz, zx, xy) basis
    for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        Lop[a, b, c], Lop[a, c, b] = -1j, 1j
    eps += 0.1 * Lop[2]
    cell = (Site("t2g", (0, 0, 0), eps, Lop),)
    rng = np.random.default_rng(seed)
    onsite = np.broadcast_to(eps, (L, L, 3, 3)) + (W * (rng.random((L, L)) - 0.5))[:, :, None, None] * np.eye(3)
    # orbital-Rashba-like complex hopping 0.1 L_y (x bonds), -0.1 L_x (y bonds): no antiunitary symmetry left
    hops = [(0, 0, (1, 0), np.diag([0.1, 1.0, 1.0]) + 0.1 * Lop[1]), (0, 0, (0, 1), np.diag([1.0, 0.1, 1.0]) - 0.1 * Lop[0])]
    return SparseSample.from_arrays([cell] * L, hops, L, onsite=[onsite])


def main():
    L, W, T, tol = _arg("--L", 600), _arg("--W", 1.0), _arg("--T", 0.05), _arg("--tol", 1e-4)
    n_sites, R, n_mom = _arg("--sites", 2), _arg("--vectors", 4), _arg("--moments", 256)
    kb_mom, kb_vec = _arg("--kb-moments", 64), _arg("--kb-vectors", 2)
    stages = _arg("--stages", "12345")
    print(f"t2g sample {L} x {L}, Anderson W = {W}, T = {T}, tol = {tol}")
    t0 = time.perf_counter()
    S = t2g_sample(L, W)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    bounds = spectral_bounds(S.H)
    t_bounds = time.perf_counter() - t0
    print(f"[1] H: {S.n_states} orbitals, {S.H.nnz} nonzeros ({S.H.dtype}); assembly {t_build:.2f} s, Gershgorin bounds "
          f"({bounds[0]:.3f}, {bounds[1]:.3f}) {t_bounds:.2f} s; peak RSS {rss()}")
    ex = FermiExpansion.build(bounds, T, 0.0, tol)
    print(f"    Fermi series at T = {T}: order {ex.order}, truncation bound {ex.truncation_error:.2e} (pole radius {ex.pole_radius:.5f})")
    Ht = _rescaled(S.H, ex.a, ex.b)
    steps = 6
    for m in ((1, 4, 16, 48) if "2" in stages else ()):
        X = np.random.default_rng(1).standard_normal((S.n_states, m)) + 0j
        t0 = time.perf_counter()
        _chebyshev_apply(Ht, X, [np.ones(steps + 1)])
        dt = (time.perf_counter() - t0) / steps
        print(f"[2] block m = {m:3d}: {dt:.3f} s per Chebyshev step ({dt / m * 1e3:.1f} ms per vector-step, "
              f"{S.H.nnz * m / dt / 1e9:.3f} G nonzero-vector products/s); peak RSS {rss()}")
        del X
    if "3" in stages:
        stage3(S, L, T, tol, n_sites, bounds)
    if "4" in stages:
        stage4(S, T, tol, R, n_mom, bounds)
    if "5" in stages:
        stage5(S, T, kb_mom, kb_vec)


def stage3(S, L, T, tol, n_sites, bounds):
    c = L // 2
    sites = [(c + k, c, 0) for k in range(n_sites)]
    t0 = time.perf_counter()
    res = local_observables(S, T, sites, tol=tol, bounds=bounds)
    t_loc = time.perf_counter() - t0
    print(f"[3] local observables at {n_sites} sites, T = {T}: order {res.order}, region radius {res.radius} hops "
          f"({res.n_region_states} of {S.n_states} orbitals), {t_loc:.1f} s; peak RSS {rss()}")
    print(f"    error bound per rho entry {res.error:.2e}; density(L_z) {np.round(res.density[3], 6)} +- {res.density_error[3].max():.1e}; "
          f"{res.eom_start.shape[1]} bonds, |current_z| max {np.abs(res.current[3]).max():.3e}; balance residual "
          f"{np.abs(res.residual).max():.1e}, rate {np.abs(res.rate).max():.1e}")


def stage4(S, T, tol, R, n_mom, bounds):
    t0 = time.perf_counter()
    tr = stochastic_traces(S, T, n_vectors=R, tol=tol, n_moments=n_mom, bounds=bounds, seed=3)
    t_tr = time.perf_counter() - t0
    print(f"[4] stochastic trace, {R} vectors, order {tr.order}: {t_tr:.1f} s; peak RSS {rss()}")
    print(f"    particles {tr.particles:.2f} +- {tr.particles_se:.2f} (of {S.n_states}); L_z total {tr.generators[2]:.2f} +- "
          f"{tr.generators_se[2]:.2f}; grand potential {tr.grand_potential:.1f} +- {tr.grand_potential_se:.1f} t")


def stage5(S, T, N, R):
    for pol in (None, "z"):
        t0 = time.perf_counter()
        kb = kubo_bastin(S, "x", "y", pol, T=T, mu=[-1.0, 0.0, 1.0], n_moments=N, n_vectors=R, seed=5)
        what = "charge sigma_xy" if pol is None else "orbital Hall sigma^{L_z}_xy"
        print(f"[5] Kubo-Bastin {what}, {N} x {N} moments, {R} vectors (resolution {kb.resolution:.3f} t): {time.perf_counter() - t0:.1f} s; "
              f"peak RSS {rss()}")
        print(f"    mu = -1, 0, 1: sigma = {np.array2string(kb.sigma, precision=5)} +- {np.array2string(kb.sigma_se, precision=5)} (per area, e = hbar = a = 1)")


if __name__ == "__main__":
    main()
