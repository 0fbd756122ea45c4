"""Engine choice: dense Bloch diagonalization or recursive Green's functions, by a measured cost model.

Both engines give the same correlation bands, free energy and particle number (to ~1e-12; tested).
``engine="auto"`` picks the one this model predicts to be faster:

* dense (:func:`orbsym.numeric.solve_bloch`): ``D_0 + N_k * t_dense(n)``, ``n = dim N_x``,
  ``N_k = N_y/2 + 1`` (``h(-k) = h(k)``) or ``N_y``; ``t_dense`` is interpolated (log-log) in a table
  measured with one BLAS thread (eigh with vectors, eigvalsh, or -- eigenvalues only with bandwidth
  ``4 u < n`` -- the band solver ``~ n^2``), ``~ n^3`` asymptotically and extrapolated so; times ``REAL_GAUGE_FACTOR`` when the real gauge applies.  ``D_0``: per-solve
  overhead.
* greens (:func:`orbsym.numeric.greens.solve_greens`): ``g_0 + a P + b P N_x + h n_batch N_x``
  (:func:`greens_seconds`) with ``P`` the exact number of (k, w) points the solve will use (poles
  times their k sub-grids, :func:`greens_point_count`), ``b`` the arithmetic per point and column
  and ``h`` the NumPy per-call overhead of one column step of one batch: the solve processes the
  points in ``n_batch = ceil(P / batch)`` batches of at most ``greens.CHUNK_BYTES``
  (:func:`orbsym.numeric.greens.batch_size`), each a Python loop over the columns.  With bands the
  batch holds ``~CHUNK_BYTES / (64 dim^2 N_x)`` points, so once ``P N_x`` exceeds ~4.7e5 (dim 3)
  ``n_batch`` grows like ``N_x`` and the cost like ``N_x^2`` (issue 23: ``N_x = 10^5, N_y = 10``
  runs 69 batches of 4 points, ~0.4 ms per column and batch).  At ``T = 0`` plus the zero-level
  check (two Sylvester-inertia sweeps, :func:`orbsym.numeric.greens.zero_levels`).

Two sets of constants.  :data:`_GREENS` (the budget: :func:`greens_solve_estimate`,
:func:`greens_estimate`, the up-front refusals of ``compute``) is calibrated against measured CPU
time by ``benchmarks/bench_estimates.py`` (2026-12-07, 2 shared cores, one BLAS thread: estimate /
CPU 0.91-1.34 over 30 cases at load average 1-2, ~0.66-1.14 at load 5-7; N_x = 5 ... 2 10^4,
N_y = 10 ... 800 and infinity, T = 0 and 0.01, orbital and spin, bands, free energy and RKKY; and
1.00 at N_x = 10^5 with batches of 4 points; benchmarks/results.txt).
:data:`_GREENS_RANK` (``engine="auto"``) keeps the old quiet-machine fit, on the same scale as the
dense table, with the same batch term; it only has to rank the engines (rms error 10% for
N_x = 3..50, where both cost about the same).

Slices of ``D > 3`` states (site lattices with several sites per slice; the Gamma-only supercell of a
disordered periodic sample, :func:`orbsym.numeric.disorder.supercell`, ``D = N_y dim`` at one k point):
the batched kernels make ``~D^3`` NumPy calls per batch and column (:func:`orbsym.numeric.greens._mm`
loops over the block entries) and ``~D^3`` arithmetic per point and column, so both models scale every
term by ``(D/3)^3``.  (The ranking used to scale the per-point terms by ``(D/3)^2`` and the per-call term
not at all: at one k point, 55 poles and ``D = 48`` it predicted greens 5x cheaper than dense where it
is 35-55x slower, trilayer 12 x 16.)  ``benchmarks/bench_estimates.py --supercells`` checks the choice.
"""

from __future__ import annotations

import math

import numpy as np

from .bloch import real_gauge
from .checks import check_name

__all__ = ["ENGINES", "engine_costs", "choose_engine", "greens_seconds", "greens_point_count", "greens_solve_estimate", "greens_estimate"]

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
#: Green's-function cost ``(g_0, a, b, h)`` per (vectors, dim) (seconds; see the module docstring):
#: per solve, per (k, w) point, per (point, column) and per (batch, column).  Other ``dim``: the
#: ``dim = 3`` values times ``(dim / 3)^3`` (the explicit 3x3 kernels make ~d^3 NumPy calls).
#: ``b, h``: the mean of two relative least-squares fits of ``benchmarks/bench_estimates.py --fit``
#: (2026-12-07, 29 and 30 cases, load average 5-7 on the 2 cores).  The CPU time of one and the same
#: solve varied by up to +-40% between runs (other jobs on the cores), hence the factor-2 window.
#: Recalibrated 2026-12-07 06:01 (load ~1, quiet) after the segmented backward sweep and the
#: one-product ``B^dag g B`` (issue 23): the fit of ``bench_estimates.py --fit`` times ~1.1-1.2 (the
#: shared machine's load), est/cpu 0.88-1.46 on that run (rkky 1.3-1.7, T = 0 small batches 1.65);
#: ``g_0, a`` unchanged.  ``(False, 3)`` keeps its load-5-7 values (est/cpu 1.2-1.8 on a quiet machine):
#: the sweep tests size an RKKY point against them.
_GREENS = {
    (True, 3): (2.4e-4, 4.1e-8, 5.6e-7, 3.9e-4),
    (True, 2): (2.4e-4, 4.6e-8, 2.1e-7, 2.3e-4),
    (False, 3): (1.7e-4, 7.3e-8, 2.8e-7, 2.05e-4),
    (False, 2): (1.7e-4, 7.3e-8, 7.5e-8, 5.5e-5),
}
#: ``dim > 3`` (:func:`_greens_constants`): the per-(batch, column) overhead ``h`` in units of ``(dim/3)^3``
#: (bands, free energy).  The dim-3 ``h`` includes the explicit 3x3 inverse (~50 NumPy calls per column),
#: which LAPACK's batched inverse replaces for larger blocks; fitted 2026-12-07 (load 2.4-3.7) to Gamma-only
#: supercells of the trilayer (one k point, 46-55 poles: D = 6 ... 48, where this term is ~90% of the
#: time; 1.15e-4 ... 2.4e-4) -- estimate / CPU 0.7-1.4 there, 0.7-1.0 on lattices of D = 4, 7 with
#: 4000-10000 points.  Free energy: the same ratio to the dim-3 value.
_GREENS_LARGE_D_H = {True: 1.6e-4, False: 8.4e-5}
#: The engine choice's own constants ``(g_0, a, b, h)`` for bands and free energy (``a, b`` times
#: ``(dim/3)^2``; T = 0 check ``2 n_k N_x _RANK_INERTIA``): measured on a quiet machine in the same runs
#: as the dense table above, so that the two engines are compared on one scale (the crossovers of
#: ``bench_engine_choice.py``); :data:`_GREENS` is the budget's calibration on today's shared machine.
_GREENS_RANK = {True: (2.4e-4, 4.1e-8, 2.9e-7, 1.15e-4), False: (1.7e-4, 7.3e-8, 1.17e-7, 7.2e-5)}
_RANK_INERTIA = 1.6e-6
#: T = 0: the same sweeps run ~1.25x slower per point and column (measured, all seven T = 0 cases of
#: ``bench_estimates.py``; the quadrature's frequencies reach ~1e4 t, where G ~ 1/w underflows).
_T0_FACTOR = 1.25
#: T = 0 zero-level check (two Sylvester-inertia sweeps over the N_y momenta): seconds per column
#: ``(c_0, c_1)`` of ``c_0 + n_k c_1`` per sweep, per dim.
_INERTIA = {3: (7e-5, 2.1e-6), 2: (6e-5, 8.7e-7)}
#: CPU seconds per column of a command around the solve: building the system's lattice (~1.8e-4) and
#: evaluating the observables of ``to_dict`` (~0.7e-4); measured at N_x = 1000 - 16000.
SYSTEM_SECONDS_PER_COLUMN = 2.5e-4
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
    nk = None if N_y is None else (N_y // 2 + 1 if lattice.y_hermitian else N_y)
    if T > 0 and E_max / T > MAX_RATIO:  # thousands of poles: never the faster engine, do not even build them
        pts, greens = 0, float("inf")
    else:
        exp = pole_expansion(T, E_max, tol)
        try:
            pts = _points(lattice, exp, N_y, tol, True)[0].size
            greens = greens_seconds(N, pts, d, vectors, T, nk, ranking=True)[0]
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
    if hasattr(lattice, "k_z"):  # a film's k_z sector: its own folded (2D) bonds decide
        if lattice.has_diagonal_bonds:
            return "dense"
    elif any(tuple(b) not in ((1, 0), (0, 1)) for c in lattice.columns for b in c.kernels.bonds):
        return "dense"
    with np.errstate(under="ignore"):
        cost = engine_costs(lattice, T, vectors, N_y=N_y)
    return "greens" if cost["greens"] < cost["dense"] else "dense"


def _greens_constants(dim, vectors):
    """``(g_0, a, b, h)`` of the Green's-function cost model for ``dim`` states per site."""
    dim = int(dim)
    if (bool(vectors), dim) in _GREENS:
        return _GREENS[bool(vectors), dim]
    g0, a, b, h = _GREENS[bool(vectors), 3]
    s = (dim / 3.0) ** 3
    if dim > 3:  # LAPACK's batched inverse instead of the explicit 3x3 one: fewer NumPy calls per column
        h = _GREENS_LARGE_D_H[bool(vectors)]
    return g0, a * s, b * s, h * s


def greens_seconds(N_x, n_points, dim, vectors=True, T=None, n_k=None, chunk_bytes=None, ranking=False):
    """Predicted CPU seconds (one core, one BLAS thread) of :func:`orbsym.numeric.greens.solve_greens`.

    ``g_0 + a P + b P N_x + h n_batch N_x`` (module docstring), ``n_batch = ceil(P / batch)`` with
    the batch of :func:`orbsym.numeric.greens.batch_size`; at ``T = 0`` that times :data:`_T0_FACTOR`,
    and with ``n_k`` (momenta of the ``N_y`` grid) plus the zero-level check, two inertia sweeps of
    ``N_x (c_0 + n_k c_1)``.

    Parameters
    ----------
    N_x : int
        Columns.
    n_points : int
        (k, w) points ``P`` the solve evaluates (poles times their k sub-grids).
    dim : int
        States per site.
    vectors : bool
        Correlation bands (forward and backward sweep) or the free energy only (forward).
    T : float, optional
        Temperature (units of t); ``T = 0`` adds the zero-level check.
    n_k : int, optional
        Momenta of the ``N_y`` grid (None: ``N_y = infinity``, no check).
    chunk_bytes : int, optional
        Batch memory budget (default :data:`orbsym.numeric.greens.CHUNK_BYTES`).
    ranking : bool
        The engine choice's constants (:data:`_GREENS_RANK`, on the dense table's scale) instead of
        the budget's calibration (:data:`_GREENS`).

    Returns
    -------
    (float, int)
        Seconds and the number of batches.
    """
    from .greens import CHUNK_BYTES, batch_size

    N_x, P, dim = int(N_x), int(n_points), int(dim)
    n_batch = -(-P // batch_size(P, N_x, dim, vectors, CHUNK_BYTES if chunk_bytes is None else chunk_bytes)) if P else 0
    if ranking:
        g0, a, b, h = _GREENS_RANK[bool(vectors)]
        if dim <= 3:  # the explicit 2x3 / 3x3 kernels: as fitted (rms 10% at the crossovers)
            seconds = g0 + P * (a + b * N_x) * (dim / 3.0) ** 2 + h * N_x * n_batch
            inertia = _RANK_INERTIA
        else:  # d^3 NumPy calls per batch and column, d^3 arithmetic per point and column
            s = (dim / 3.0) ** 3
            seconds = g0 + s * (P * (a + b * N_x) + h * N_x * n_batch)
            inertia = _RANK_INERTIA * s
        if T is not None and T == 0 and n_k is not None:
            seconds += 2 * n_k * N_x * inertia
        return seconds, n_batch
    g0, a, b, h = _greens_constants(dim, vectors)
    seconds = g0 + a * P + b * float(P) * N_x + h * float(n_batch) * N_x
    if T is not None and T == 0:
        seconds *= _T0_FACTOR
    if T is not None and T == 0 and n_k is not None:
        c0, c1 = _INERTIA.get(dim, tuple(c * (dim / 3.0) ** 3 for c in _INERTIA[3]))
        seconds += 2 * N_x * (c0 + n_k * c1)
    return seconds, n_batch


def greens_point_count(T, E_max, N_y, tau=1.0, symmetric=True, tol=None):
    """``(P, n_poles)``: the (k, w) points of a Green's-function solve and its poles, from the sizes.

    Each pole ``w`` uses the k sub-grid of :func:`orbsym.numeric.greens.k_grid` (``M | N_y``,
    ``M // 2 + 1`` momenta when ``h(-k) = h(k)``); ``N_y = None`` or ``inf``: infinitely many rows.
    ``tau`` (largest ``||t_y||``, units of t) and ``E_max`` (spectral bound) set the sub-grids.
    """
    from .greens import k_grid
    from .poles import DEFAULT_TOL, pole_expansion

    tol = DEFAULT_TOL if tol is None else tol
    exp = pole_expansion(T, E_max, tol)
    N_y = None if N_y is None or (isinstance(N_y, float) and math.isinf(N_y)) else int(N_y)
    M = k_grid(exp.omega, exp.weight, N_y, float(tau), exp.E_max, tol, symmetric)
    per = M // 2 + 1 if symmetric else M
    return int(per.sum()), exp.size


def greens_solve_estimate(lattice, T, vectors=True, N_x=None, N_y="lattice", tol=None, chunk_bytes=None, pairs=9):
    """:class:`orbsym.numeric.budget.ResourceEstimate` of :func:`orbsym.numeric.greens.solve_greens` on
    ``lattice`` (the calibrated model of :func:`greens_seconds`, exact point count).

    ``N_x`` overrides the lattice's length: a short copy of a long system (same column types, same
    ``N_y``) gives the estimate of the long one without building it.  ``pairs``: bands stored.
    """
    from .budget import ResourceEstimate
    from .greens import CHUNK_BYTES, _tau, batch_size, point_bytes, spectral_bound

    N_x = lattice.N_x if N_x is None else int(N_x)
    N_y = lattice.N_y if isinstance(N_y, str) else N_y
    d = lattice.dim
    E_max = spectral_bound(lattice)
    if T > 0 and E_max / T > MAX_RATIO:
        return ResourceEstimate("Green's-function", float("inf"), float("inf"), f"E_max/T = {E_max / T:.3g} needs too many poles")
    P, n_poles = greens_point_count(T, E_max, N_y, _tau(lattice), lattice.y_hermitian, tol)
    nk = None if N_y is None or (isinstance(N_y, float) and math.isinf(N_y)) else (int(N_y) // 2 + 1 if lattice.y_hermitian else int(N_y))
    chunk = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    seconds, n_batch = greens_seconds(N_x, P, d, vectors, T, nk, chunk)
    batch = batch_size(P, N_x, d, vectors, chunk)
    nbytes = batch * point_bytes(N_x, d, vectors) + (pairs if vectors else 0) * N_x * d * d * 16.0
    detail = f"{P} (k, w) points ({n_poles} poles) in {n_batch} batches x {N_x} columns of {d} states"
    return ResourceEstimate("Green's-function", nbytes, seconds, detail)


def greens_estimate(N_x, N_y, dim, T, vectors=True, E_max=8.0, tol=None, tau=1.0, symmetric=True):
    """:class:`orbsym.numeric.budget.ResourceEstimate` of the Green's-function engine from the sizes
    alone (before any system is built).

    Time: :func:`greens_seconds` with the point count of :func:`greens_point_count` at the spectral
    bound ``E_max`` (units of t; ~4-8 t for the paper's models with |m| = 1: an upper bound) and
    ``tau = ||t_y||``.  Memory: one batch (``greens.CHUNK_BYTES``, or one point if that is larger)
    plus the correlation bands, O(N_x).  With a (short) lattice at hand,
    :func:`greens_solve_estimate` is exact in the point count.
    """
    from .budget import ResourceEstimate
    from .greens import CHUNK_BYTES, batch_size, point_bytes

    N_x, dim = int(N_x), int(dim)
    T = float(T)
    if T > 0 and E_max / T > MAX_RATIO:
        return ResourceEstimate("Green's-function", float("inf"), float("inf"), f"E_max/T = {E_max / T:.3g} needs too many poles")
    P, n_poles = greens_point_count(T, E_max, N_y, tau, symmetric, tol)
    inf = N_y is None or (isinstance(N_y, float) and math.isinf(N_y))
    nk = None if inf else (int(N_y) // 2 + 1 if symmetric else int(N_y))
    seconds, n_batch = greens_seconds(N_x, P, dim, vectors, T, nk)
    batch = batch_size(P, N_x, dim, vectors, CHUNK_BYTES)
    nbytes = batch * point_bytes(N_x, dim, vectors) + (9 if vectors else 0) * N_x * dim * dim * 16.0
    detail = f"{P} (k, w) points ({n_poles} poles) in {n_batch} batches x {N_x} columns of {dim} states"
    return ResourceEstimate("Green's-function", nbytes, seconds, detail)
