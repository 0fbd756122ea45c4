"""Engine choice: dense Bloch diagonalization or recursive Green's functions, by a measured cost model.

Both engines give the same correlation bands, free energy and particle number (to ~1e-12; tested).
``engine="auto"`` picks the one this model predicts to be faster:

* dense (:func:`orbsym.numeric.solve_bloch`): ``D_0 + N_k * t_dense(n)``, ``n = dim N_x``,
  ``N_k = N_y/2 + 1`` (``h(-k) = h(k)``) or ``N_y``; ``t_dense`` is interpolated (log-log) in a table
  measured with one BLAS thread (eigh with vectors, eigvalsh, or -- eigenvalues only with bandwidth
  ``4 u < n`` -- the band solver ``~ n^2``), ``~ n^3`` asymptotically and extrapolated so; times ``REAL_GAUGE_FACTOR`` when the real gauge applies.  ``D_0``: per-solve
  overhead.
* greens (:func:`orbsym.numeric.greens.solve_greens`): ``g_0 + (dim / 3)^2 P_eff (a + b N_x) + h N_x``
  with ``P_eff`` the exact number of (k, w) points the solve will use (poles times their k
  sub-grids), ``a, b`` per point (and column) and ``h`` the per-column cost of the batched NumPy
  calls; at ``T = 0`` plus ``2 N_k N_x c_0`` for the zero-level check (Sylvester inertia,
  :func:`orbsym.numeric.greens.zero_levels`).

Constants re-measured (2026-12-02, ``benchmarks/bench_engine_choice.py`` and a fit of the raw engine
times for N_x = 3..50, N_y = 100 and 800, orbital/spin, generic/coplanar m; 2 shared cores, one BLAS
thread, NumPy/OpenBLAS; CPU time).  The fitted greens model has an rms error of 10% (bands) and
7% (free energy) over those cases (the previous ``P (a + b N_x)`` form: 56% and 30%); the model only
has to rank the engines, and near the crossover both cost about the same.
"""

from __future__ import annotations

import numpy as np

from .bloch import real_gauge
from .checks import check_name

__all__ = ["ENGINES", "engine_costs", "choose_engine", "greens_estimate"]

#: Allowed engine names.
ENGINES = ("auto", "dense", "greens")

#: Dense seconds per k-point vs matrix size n (generic complex h(k)), with eigenvectors / eigenvalues only.
_DENSE_N = np.array([6.0, 9.0, 15.0, 24.0, 36.0, 60.0, 90.0, 150.0, 300.0])
_DENSE_VEC = np.array([5.4e-6, 1.12e-5, 2.94e-5, 7.84e-5, 1.23e-4, 3.33e-4, 7.97e-4, 2.49e-3, 1.66e-2])
_DENSE_VAL = np.array([2.7e-6, 4.9e-6, 1.2e-5, 2.4e-5, 4.4e-5, 1.1e-4, 2.8e-4, 1.4e-3, 1.1e-2])
#: Dense eigenvalues only with the band solver (per-k loop; used when ``4 u < n``, ``u`` the bandwidth).
_BANDED_N = np.array([9.0, 16.0, 24.0, 36.0, 60.0, 90.0, 150.0, 300.0])
_BANDED_VAL = np.array([9.0e-6, 1.4e-5, 2.42e-5, 4.39e-5, 1.02e-4, 1.96e-4, 4.94e-4, 2.0e-3])
#: Per-solve overhead of the dense engine (seconds).
_DENSE_OVERHEAD = 3e-4
#: Real-gauge speed-up of the dense path (vectors / eigenvalues only).
REAL_GAUGE_FACTOR = (0.62, 0.75)
#: Green's function model ``g_0, a, h, b`` (seconds; see the module docstring): bands, and the forward sweep only.
_GREENS_VEC = (2.4e-4, 4.1e-8, 1.15e-4, 2.9e-7)
_GREENS_VAL = (1.7e-4, 7.3e-8, 7.2e-5, 1.17e-7)
#: T = 0 zero-level check: seconds per (k, column) and inertia count.
_INERTIA = 1.6e-6
#: ``E_max / T`` above which auto does not consider the Green's-function engine (about 2500 poles).
MAX_RATIO = 1e6


def _interp(n, table, sizes=_DENSE_N, power=3):
    ln = np.log(sizes)
    lt = np.log(table)
    x = np.log(max(float(n), 1.0))
    if x <= ln[-1]:
        return float(np.exp(np.interp(x, ln, lt)))
    return float(table[-1] * (n / sizes[-1]) ** power)


def _bandwidth(lattice):
    """Lower bandwidth of ``h(k)`` (as :func:`orbsym.numeric.bloch` sees it) from the block sparsity."""
    d = lattice.dim
    u = 0
    for M in (lattice.onsite, lattice.hop_y):
        i, j = np.nonzero(np.any(M != 0, axis=0))
        if i.size:
            u = max(u, int(np.abs(i - j).max()))
    if lattice.N_x > 1:
        i, j = np.nonzero(np.any(lattice.hop_x != 0, axis=0))  # h[(x+1) d + j, x d + i] = conj(t[i, j])
        if i.size:
            u = max(u, int((d + j - i).max()))
    return u


def engine_costs(lattice, T, vectors=True, tol=None, N_y="lattice"):
    """Predicted seconds of both engines: ``{"dense": s, "greens": s, "greens_points": P_eff}``.

    ``N_y = None`` (infinity) has no dense cost (``inf``).
    """
    from .greens import _points, spectral_bound
    from .poles import DEFAULT_TOL, pole_expansion

    tol = DEFAULT_TOL if tol is None else tol
    N_y = lattice.N_y if isinstance(N_y, str) else N_y
    N, d = lattice.N_x, lattice.dim
    E_max = spectral_bound(lattice)
    g0, a, h, b = _GREENS_VEC if vectors else _GREENS_VAL
    nk = None if N_y is None else (N_y // 2 + 1 if lattice.y_hermitian else N_y)
    if T > 0 and E_max / T > MAX_RATIO:  # thousands of poles: never the faster engine, do not even build them
        pts, greens = 0, float("inf")
    else:
        exp = pole_expansion(T, E_max, tol)
        try:
            pts = _points(lattice, exp, N_y, tol, True)[0].size
            greens = g0 + pts * (a + b * N) * (d / 3.0) ** 2 + h * N
            if T == 0 and nk is not None:
                greens += 2 * nk * N * _INERTIA
        except ValueError:  # N_y = infinity beyond the largest k sub-grid (low T): greens cannot run
            pts, greens = 0, float("inf")
    if N_y is None:
        return {"dense": float("inf"), "greens": greens, "greens_points": int(pts)}
    if vectors:
        per_k = _interp(N * d, _DENSE_VEC)
    elif 4 * _bandwidth(lattice) < N * d:  # solve_bloch's band solver (one LAPACK call per k)
        per_k = _interp(N * d, _BANDED_VAL, _BANDED_N, 2)
    else:
        per_k = _interp(N * d, _DENSE_VAL)
    if real_gauge(lattice) is not None:
        per_k *= REAL_GAUGE_FACTOR[0 if vectors else 1]
    return {"dense": _DENSE_OVERHEAD + nk * per_k, "greens": greens, "greens_points": int(pts)}


def choose_engine(engine, lattice, T, vectors=True, N_y="lattice"):
    """Resolve ``engine`` (``"auto"``, ``"dense"``, ``"greens"``) to ``"dense"`` or ``"greens"``."""
    check_name("engine", engine, ENGINES)
    if engine != "auto":
        return engine
    if any(tuple(b) not in ((1, 0), (0, 1)) for c in lattice.columns for b in c.kernels.bonds):
        return "dense"
    with np.errstate(under="ignore"):
        cost = engine_costs(lattice, T, vectors, N_y=N_y)
    return "greens" if cost["greens"] < cost["dense"] else "dense"


def greens_estimate(N_x, N_y, dim, T, vectors=True, E_max=8.0, tol=None):
    """Rough :class:`orbsym.numeric.budget.ResourceEstimate` of the Green's-function engine from the
    sizes alone (before any system is built; the CLI's up-front check for ``engine="auto"``).

    Time: the cost model above with ``P = N_k * n_poles`` (every pole on the full k grid -- an upper
    bound, the sub-grids only lower it), ``n_poles`` from :func:`orbsym.numeric.poles.pole_expansion`
    at the bound ``E_max`` (units of t; ~8 t for the paper's models with |m| = 1).  Memory: one batch
    (``greens.CHUNK_BYTES``) plus the correlation bands, O(N_x).
    """
    from .budget import ResourceEstimate
    from .greens import CHUNK_BYTES
    from .poles import DEFAULT_TOL, pole_expansion

    N_x, dim = int(N_x), int(dim)
    T = float(T)
    if T > 0 and E_max / T > MAX_RATIO:
        return ResourceEstimate("Green's-function", float("inf"), float("inf"), f"E_max/T = {E_max / T:.3g} needs too many poles")
    n_poles = pole_expansion(T, E_max, DEFAULT_TOL if tol is None else tol).omega.size
    nk = float(N_y) // 2 + 1
    g0, a, h, b = _GREENS_VEC if vectors else _GREENS_VAL
    seconds = g0 + nk * n_poles * (a + b * N_x) * (dim / 3.0) ** 2 + h * N_x
    bands = (9 if vectors else 0) * N_x * dim * dim * 16.0
    detail = f"{n_poles} poles x {int(nk)} momenta x {N_x} columns of {dim} states"
    return ResourceEstimate("Green's-function", CHUNK_BYTES + bands, seconds, detail)

