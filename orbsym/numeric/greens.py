"""Linear-scaling Green's-function engine: block-tridiagonal recursion of ``(i w - h(k))^{-1}``.

Each Bloch block ``h(k)`` (:mod:`orbsym.numeric.bloch`) is block tridiagonal in the column index
``x`` with ``dim x dim`` blocks::

    h(k)_{x,x} = A_x(k) = eps_x + e^{ik} t_{y,x} + e^{-ik} t_{y,x}^dag,   h_{x,x+1} = B_x = t_{x,x+1}.

With the imaginary-axis expansion of :mod:`orbsym.numeric.poles`, ``f(h) = 1/2 + sum_p c_p [G(i w_p)
+ G(i w_p)^dag]`` and ``Tr Omega(h) = Tr h/2 + n Omega_0 - 2 sum_p c_p [ln|det(i w_p - h)| - n ln w_p]``,
so only the blocks ``G_{x,x}``, ``G_{x,x+1}``, ``G_{x+1,x}`` and ``ln det`` are needed.  They come from
the standard recursive Green's function (a block LU of ``z - h``)::

    g_0 = (z - A_0)^{-1},      g_x = (z - A_x - B_{x-1}^dag g_{x-1} B_{x-1})^{-1}      (left-connected)
    ln det(z - h) = sum_x ln det(g_x^{-1})                                         (LU pivots)
    G_{N-1,N-1} = g_{N-1};     G_{x,x+1} = g_x B_x G_{x+1,x+1},   G_{x+1,x} = G_{x+1,x+1} B_x^dag g_x,
    G_{x,x} = g_x + G_{x,x+1} B_x^dag g_x                                          (backward sweep)

in ``O(N_x dim^3)`` per (k, w) point, batched over all points with NumPy (arrays ``(dim, dim, batch)``,
explicit 2x2/3x3 inverses).  From ``N_x = 256`` on the backward sweep reads the ``g_x`` in segments of
``s = ceil(sqrt(N_x))`` columns, recomputed from checkpoints kept by the forward sweep
(:func:`checkpoint_stride`): ``O(sqrt(N_x) dim^2)`` memory per point, so a batch of the memory budget
holds thousands of points even at ``N_x = 10^4`` and the NumPy calls per column do enough work.  ``ln|det|`` is evaluated as ``ln|det(1 - Y)|`` with ``Y = (A + Sigma)/(i w)``
from the principal minors, so the large-``w`` points (``ln|det| - dim ln w -> 0``) keep full relative
accuracy.

Correlation bands (the input of :class:`orbsym.numeric.Observables`, exactly as
:func:`orbsym.numeric.solve_bloch` returns them)::

    G(x, x+dx; dy)_{ij} = N_y^{-1} sum_k e^{i k dy} f(h(k))_{(x+dx, j), (x, i)},   |dx| <= 1.

k-points per frequency
    ``G(i w, k)`` is analytic in ``|Im k| < asinh(w / (2 tau))`` (``tau = max_x ||t_{y,x}||``: there
    ``||h(k) - h(Re k)|| < w``), so its Fourier coefficients in ``k`` decay like
    ``e^{-|j| asinh(w / 4 tau)}``.  The ``N_y``-point sum of a frequency therefore equals the sum over
    any sub-grid of ``M | N_y`` points up to ``4 B e^{-M kappa} / (1 - e^{-M kappa})`` (Poisson
    summation), ``B`` a bound of the summand on the strip.  Each frequency uses the smallest divisor
    ``M`` of ``N_y`` for which that bound (times its weight) is below ``tol / P``: the low
    (Matsubara-like) frequencies use all ``N_y`` momenta, the high ones a few dozen.  The same bound
    makes ``N_y = infinity`` a plain sum (see :func:`k_grid`).

Levels at zero (T = 0)
    The quadrature resolves ``|E| >= 4 resolution``; a level much closer (an exact zero mode sits at
    rounding distance ~1e-16 from zero) would come out neither full nor exactly half.  Such levels
    are counted per k on the ``N_y`` grid by the Sylvester inertia of the block ``LDL^dag`` of
    ``h(k) -+ 4 resolution`` (:func:`count_below`); if there are any, the result is the average of
    the solves at ``mu -+ s`` (``s = 1e-5 t`` by default, no other level within ``2 s``, checked),
    which counts them exactly half occupied as the dense engine does (:func:`zero_levels`).

Conventions: :mod:`orbsym.conventions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..execution import blas_limited
from .bloch import k_points
from .checks import integer_at_least
from .poles import DEFAULT_RESOLUTION, DEFAULT_TOL, pole_expansion
from .thermo import check_temperature

__all__ = ["GreensSolution", "solve_greens", "solve_greens_sectors", "free_energy_greens", "spectral_bound", "k_grid", "count_below", "zero_levels", "CHUNK_BYTES", "MEMORY_LIMIT", "point_bytes", "batch_size", "checkpoint_stride"]

#: Memory budget (bytes) of one batch of (k, w) points (stored left-connected blocks and work arrays).
CHUNK_BYTES = 256 * 2**20
#: Refuse a solve whose smallest batch (one point) would need more than this.
MEMORY_LIMIT = 4 * 2**30
#: Largest sub-grid used for N_y = infinity.
MAX_K_INFINITE = 2**16


def spectral_bound(lattice):
    """Bound on ``|E|`` for every level of every ``h(k)`` (units of t, measured from ``mu``).

    Block Gershgorin for a Hermitian block-tridiagonal matrix: ``||h(k)|| <= max_x (||eps_x|| +
    2 ||t_{y,x}|| + ||t_{x-1,x}|| + ||t_{x,x+1}||)`` with spectral norms of the blocks.
    """
    n2 = lambda M: np.linalg.norm(M, ord=2, axis=(-2, -1)) if M.size else np.zeros(0)  # noqa: E731
    b = n2(lattice.onsite) + 2 * n2(lattice.hop_y)
    hx = n2(lattice.hop_x)
    b[:-1] += hx
    b[1:] += hx
    return float(max(b.max(), 1e-3))


def _tau(lattice):
    return float(max(np.linalg.norm(lattice.hop_y, ord=2, axis=(-2, -1)).max(), 1e-300))


def _divisors(n):
    return sorted({d for i in range(1, int(math.isqrt(n)) + 1) if n % i == 0 for d in (i, n // i)})


def k_grid(omega, weight, N_y, tau, E_max, tol, symmetric):
    """Per frequency the sub-grid size ``M`` (a divisor of ``N_y``, or any size for ``N_y = inf``).

    ``M`` is the smallest size with ``8 c B e^{-M kappa} / (1 - e^{-M kappa}) <= tol / P``,
    ``kappa = asinh(w / (4 tau))``, ``B = max(2 / w, 2 ln(2 (E_max + w) / w))`` (bound of ``||G||`` and
    of the per-level ``ln|det|`` on the strip, a factor ``e^kappa`` for ``|dy| = 1`` included).
    Returns an int array (``N_y`` where no divisor suffices).
    """
    P = max(1, omega.size)
    kappa = np.arcsinh(omega / (4 * tau))
    B = np.maximum(2 / omega, 2 * np.log(2 * (E_max + omega) / omega)) * np.exp(kappa)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        need = np.ceil((np.log(np.maximum(8 * weight * B * P / tol, 1.0)) + math.log(2.0)) / kappa)
    # kappa underflows for w << tau (energy scales near the 1e100 bound): no sub-grid, all momenta
    need = np.where(np.isfinite(need) & (need < 2**62), need, 2**62).astype(np.int64) + 1
    if N_y is None:
        M = np.minimum(np.maximum(need, 4), MAX_K_INFINITE)
        if np.any(need > MAX_K_INFINITE):
            raise ValueError(
                f"N_y = infinity: the lowest frequency w = {omega.min():.3g} needs {int(need.max())} > {MAX_K_INFINITE} "
                "k-points for the requested tolerance (raise T or tol)"
            )
        return M
    divs = np.array(_divisors(int(N_y)))
    idx = np.searchsorted(divs, need)
    return np.where(idx < divs.size, divs[np.minimum(idx, divs.size - 1)], int(N_y))


#: Work arrays of one column step, in ``dim x dim`` complex blocks per point (K, Y, the inverse's
#: cofactors, the backward sweep's products and their temporaries).
WORK_BLOCKS = 24
#: From this many columns on, the backward sweep stores ``g_x`` in segments (:func:`checkpoint_stride`).
CHECKPOINT_MIN_COLUMNS = 256


def checkpoint_stride(N_x):
    """Columns per segment ``s`` of the left-connected blocks ``g_x`` the backward sweep reads.

    ``s = N_x`` below :data:`CHECKPOINT_MIN_COLUMNS` columns: the forward sweep keeps every ``g_x``.
    From there on ``s = ceil(sqrt(N_x))``: the forward sweep keeps ``g_x`` only at the last column of
    each segment (``ceil(N_x / s) - 1`` checkpoints, plus the last segment) and the backward sweep
    recomputes one segment at a time from its checkpoint, with the same arithmetic, so the blocks are
    bit-identical.  A point then needs ``O(sqrt(N_x) dim^2)`` memory instead of ``O(N_x dim^2)``, so a
    batch of the memory budget holds ``~sqrt(N_x) / 2`` times more points (the number of NumPy calls
    stops growing like ``N_x^2``), for one more forward step (without the determinant) per column.
    """
    N_x = integer_at_least("N_x", N_x, 1, " (columns)")
    if N_x < CHECKPOINT_MIN_COLUMNS:
        return N_x
    return math.isqrt(N_x - 1) + 1


def point_bytes(N_x, dim, vectors=True):
    """Bytes one (k, w) point of a batch needs, ``16 dim^2`` per ``dim x dim`` block: the stored
    left-connected blocks (with ``vectors``: ``ceil(N_x / s) - 1 + s`` for the segments ``s`` of
    :func:`checkpoint_stride`, i.e. ``N_x`` below :data:`CHECKPOINT_MIN_COLUMNS` and
    ``~2 sqrt(N_x)`` above; without, none: the forward sweep keeps one block) and
    :data:`WORK_BLOCKS` blocks of work arrays.
    """
    stored = 0
    if vectors:
        s = checkpoint_stride(N_x)
        stored = -(-int(N_x) // s) - 1 + s
    return (stored + WORK_BLOCKS) * dim * dim * 16


def batch_size(n_points, N_x, dim, vectors=True, chunk_bytes=CHUNK_BYTES):
    """(k, w) points per batch: as many as fit in ``chunk_bytes`` (at least one, at most all).

    The solve makes ``ceil(n_points / batch)`` batches, each a Python loop over the ``N_x`` columns
    (forward, and backward with ``vectors``) of a fixed number of NumPy calls on ``(dim, dim,
    batch)`` arrays.  With ``vectors`` and ``N_x >= CHECKPOINT_MIN_COLUMNS`` a point needs
    ``O(sqrt(N_x))`` blocks (:func:`point_bytes`), so the batch shrinks only like ``N_x^{-1/2}`` and
    the number of calls grows like ``N_x^{3/2}`` once ``n_points * point_bytes > chunk_bytes`` (the
    cost model of :mod:`orbsym.numeric.engines` counts them); at the paper's sizes (``P`` ~ 5000
    points, ``N_x <= 10^4``) all points fit in one batch and the solve is linear in ``N_x``.
    """
    return int(max(1, min(int(n_points), int(chunk_bytes) // point_bytes(N_x, dim, vectors))))


# ----------------------------------------------------------------- small batched linear algebra
def _mm(X, Y):
    """Batched product of ``(d, d, n)`` arrays."""
    d = X.shape[0]
    out = np.empty(X.shape, dtype=np.result_type(X, Y))
    for i in range(d):
        for j in range(d):
            acc = X[i, 0] * Y[0, j]
            for l in range(1, d):
                acc += X[i, l] * Y[l, j]
            out[i, j] = acc
    return out


def _lmul(C, X):
    """``C @ X`` for a constant ``(d, d)`` matrix ``C`` and a batch ``X`` (``(d, d, n)``): one product
    ``C (d, d n)``, C-contiguous result."""
    d = C.shape[0]
    return np.dot(C, X.reshape(d, -1)).reshape(X.shape)


def _rmul(X, C):
    """``X @ C`` for a batch ``X`` and a constant matrix ``C``: ``(X C)_{ij} = sum_l X_{il} C_{lj}``, one
    product ``(1 (x) C^T) X`` on the ``(d^2, n)`` view of ``X`` (no transposed copies), C-contiguous."""
    d = C.shape[0]
    return np.dot(np.kron(np.eye(d), C.T), X.reshape(d * d, -1)).reshape(X.shape)


def _inv_det(M):
    """Batched inverse of ``(d, d, n)`` matrices (explicit for d <= 3, else LAPACK)."""
    d = M.shape[0]
    if d == 1:
        return 1.0 / M
    if d == 2:
        a, b, c, e = M[0, 0], M[0, 1], M[1, 0], M[1, 1]
        r = 1.0 / (a * e - b * c)
        return np.array([[e * r, -b * r], [-c * r, a * r]])
    if d == 3:
        a00, a01, a02 = M[0]
        a10, a11, a12 = M[1]
        a20, a21, a22 = M[2]
        c00 = a11 * a22 - a12 * a21
        c10 = a12 * a20 - a10 * a22
        c20 = a10 * a21 - a11 * a20
        r = 1.0 / (a00 * c00 + a01 * c10 + a02 * c20)
        out = np.empty_like(M)
        out[0, 0] = c00 * r
        out[1, 0] = c10 * r
        out[2, 0] = c20 * r
        out[0, 1] = (a02 * a21 - a01 * a22) * r
        out[1, 1] = (a00 * a22 - a02 * a20) * r
        out[2, 1] = (a01 * a20 - a00 * a21) * r
        out[0, 2] = (a01 * a12 - a02 * a11) * r
        out[1, 2] = (a02 * a10 - a00 * a12) * r
        out[2, 2] = (a00 * a11 - a01 * a10) * r
        return out
    return np.moveaxis(np.linalg.inv(np.moveaxis(M, 2, 0)), 0, 2)


def _log_abs_det_unit(Y):
    """``ln|det(1 - Y)|`` per batch element, accurate when ``Y`` is small (principal minors)."""
    d = Y.shape[0]
    if d > 3:
        return np.linalg.slogdet(np.eye(d)[None] - np.moveaxis(Y, 2, 0))[1]
    e1 = sum(Y[i, i] for i in range(d))
    if d == 1:
        delta = -e1
    else:
        e2 = sum(Y[i, i] * Y[j, j] - Y[i, j] * Y[j, i] for i in range(d) for j in range(i + 1, d))
        if d == 2:
            delta = -e1 + e2
        else:
            e3 = (
                Y[0, 0] * (Y[1, 1] * Y[2, 2] - Y[1, 2] * Y[2, 1])
                - Y[0, 1] * (Y[1, 0] * Y[2, 2] - Y[1, 2] * Y[2, 0])
                + Y[0, 2] * (Y[1, 0] * Y[2, 1] - Y[1, 1] * Y[2, 0])
            )
            delta = -e1 + e2 - e3
    # ln|1 + delta| = log1p(2 Re delta + |delta|^2) / 2
    return 0.5 * np.log1p(2 * delta.real + (delta.real**2 + delta.imag**2))


def _ct(X):
    """Batched conjugate transpose."""
    return X.conj().transpose(1, 0, 2)


# ----------------------------------------------------------------- solution object
@dataclass
class GreensSolution:
    """Result of :func:`solve_greens`: same interface as :class:`orbsym.numeric.BlochSolution`.

    Attributes
    ----------
    T : float
    N_y : int or None
        Rows (None: ``N_y = infinity``, per-row quantities are the k integral).
    bands : dict
        ``{(dx, dy): ndarray (N_x, dim, dim)}`` (empty for free-energy-only solves).
    expansion : orbsym.numeric.poles.PoleExpansion
    points : int
        Number of (k, w) points evaluated.
    k_sizes : ndarray
        Sub-grid size ``M`` per frequency.
    error : float
        A-priori bound of the per-level occupation error (expansion + k sub-grids).
    zero_levels : float
        T = 0: levels per row within ``ZERO_WINDOW * resolution`` of zero, counted half occupied
        (solved as the average of ``mu -+ 8 resolution``; see :func:`zero_levels`).
    """

    T: float
    N_y: object
    bands: dict
    expansion: object
    points: int
    k_sizes: np.ndarray
    error: float
    _F: float = 0.0
    _N: float = None
    engine: str = field(default="greens")
    zero_levels: float = 0.0

    def free_energy(self, per_row=True):
        """Grand potential of Eq. (13), per row (default) or total (finite ``N_y`` only)."""
        if per_row:
            return self._F
        if self.N_y is None:
            raise ValueError("the total free energy of an N_y = infinity system is infinite; use per_row=True")
        return self._F * self.N_y

    def particle_number(self, per_row=True):
        """Electrons per row (default) or in total."""
        if self._N is None:
            raise ValueError("this Green's-function solution was computed for the free energy only (no particle number)")
        if per_row:
            return self._N
        if self.N_y is None:
            raise ValueError("the total particle number of an N_y = infinity system is infinite; use per_row=True")
        return self._N * self.N_y


# ----------------------------------------------------------------- the solver
def _points(lattice, exp, N_y, tol, use_subgrids):
    """Flat list of (k, w, c * k-weight) points and the per-frequency sub-grid sizes."""
    symmetric = lattice.y_hermitian
    tau = _tau(lattice)
    if use_subgrids or N_y is None:
        M = k_grid(exp.omega, exp.weight, N_y, tau, exp.E_max, tol, symmetric)
    else:
        M = np.full(exp.size, int(N_y))
    ks, ws, cs = [], [], []
    for m in np.unique(M):
        sel = M == m
        k, w = k_points(int(m), symmetric)
        nk = k.size
        ks.append(np.repeat(k[None, :], sel.sum(), axis=0).ravel())
        ws.append(np.repeat(exp.omega[sel][:, None], nk, axis=1).ravel())
        cs.append((exp.weight[sel][:, None] * (w / m)[None, :]).ravel())
    return np.concatenate(ks), np.concatenate(ws), np.concatenate(cs), M


def _k_average(N_y, q):
    """``N_y^{-1} sum_k e^{i k q}``: 1 if ``q = 0 (mod N_y)`` else 0 (``N_y = None``: ``q = 0``)."""
    if N_y is None:
        return 1.0 if q == 0 else 0.0
    return 1.0 if q % N_y == 0 else 0.0


def _local_h_average(lattice, N_y, dys):
    """``N_y^{-1} sum_k e^{i k dy} A_x(k)`` (diagonal blocks of ``h(k)``) per ``dy``, ``(N_x, d, d)``."""
    avg = lambda q: _k_average(N_y, q)  # noqa: E731
    ty = lattice.hop_y
    out = {}
    for dy in dys:
        out[dy] = avg(dy) * lattice.onsite + avg(dy + 1) * ty + avg(dy - 1) * ty.conj().transpose(0, 2, 1)
    return out


def _check_pairs(pairs):
    pairs = sorted({(int(p[0]), int(p[1])) for p in pairs})
    bad = [p for p in pairs if abs(p[0]) > 1]
    if bad:
        raise ValueError(f"the Green's-function engine forms bands with |dx| <= 1 only (nearest-neighbour x-bonds), got {bad}")
    return pairs


@blas_limited
def solve_greens(lattice, T, pairs=((0, 0),), vectors=True, tol=DEFAULT_TOL, resolution=DEFAULT_RESOLUTION, N_y="lattice", chunk_bytes=CHUNK_BYTES, use_subgrids=True):
    """Correlation bands, free energy and particle number from recursive Green's functions.

    Parameters
    ----------
    lattice : Lattice
    T : float
        Temperature (units of t), ``>= 0`` (T = 0: imaginary-axis quadrature).
    pairs : iterable of (dx, dy)
        Bands to form, ``|dx| <= 1`` (see :meth:`Lattice.offset_pairs`).
    vectors : bool
        False: free energy only (forward sweep, no bands, no particle number).
    tol : float
        Accuracy of the occupations (see :func:`orbsym.numeric.poles.pole_expansion`); the k
        sub-grids add at most the same.
    resolution : float
        T = 0 only: levels with ``|E| >= 4 resolution`` are resolved (units of t).
    N_y : int, None or "lattice"
        Rows: ``"lattice"`` (default) uses ``lattice.N_y``; None means ``N_y = infinity``.
    chunk_bytes : int
        Memory budget of one batch of (k, w) points.
    use_subgrids : bool
        Use the per-frequency k sub-grids (module docstring); False: every frequency on all ``N_y``
        momenta (for testing).

    Returns
    -------
    GreensSolution
    """
    with np.errstate(under="ignore"):
        return _solve_zero_safe(lattice, T, pairs, vectors, tol, resolution, N_y, chunk_bytes, use_subgrids)


@blas_limited
def solve_greens_sectors(lattices, T, pairs=((0, 0),), vectors=True, tol=DEFAULT_TOL, resolution=DEFAULT_RESOLUTION, N_y="lattice",
                         chunk_bytes=CHUNK_BYTES, use_subgrids=True):
    """``[solve_greens(lattice, T, pairs, ...) for lattice in lattices]`` with the points of all lattices in
    common batches (the k_z sectors of a film: same ``N_x``, ``dim`` and pairs).

    Each lattice keeps its own pole expansion, k grids and blocks; the sweeps run once over the stacked
    points (sectors x k x poles), so that each NumPy call on the ``(dim, dim, batch)`` stacks does the work
    of all sectors (a sector of a few k points had batches of ~100 points).  A lattice that needs the
    T = 0 average over shifted chemical potentials (levels at zero, :func:`zero_levels`) is solved on its
    own.  The bands are summed per sector from per-point products (``O(dim^2 x 2 n_dy)`` memory per point,
    counted in the batch size).  Equal to the one-by-one solves to rounding.

    Returns
    -------
    list of GreensSolution
    """
    lattices = list(lattices)
    out = [None] * len(lattices)
    with np.errstate(under="ignore"):
        plans, where = [], []
        for i, lat in enumerate(lattices):
            rows = lat.N_y if (isinstance(N_y, str) and N_y == "lattice") else N_y
            if check_temperature(T) == 0 and rows is not None and not (isinstance(rows, float) and math.isinf(rows)):
                _check_nn(lat)
                if zero_levels(lat, integer_at_least("N_y", rows, 1, " (rows)"), resolution)[0] != 0:
                    out[i] = _solve_zero_safe(lat, T, pairs, vectors, tol, resolution, N_y, chunk_bytes, use_subgrids)
                    continue
            plans.append(_Plan(lat, T, pairs, vectors, tol, resolution, N_y, use_subgrids))
            where.append(i)
        # stacks of sectors with the same N_x and dim, up to STACK_POINTS points each (a sector with that many
        # points already keeps its calls busy and is swept alone: larger stacks run out of cache)
        groups, sizes = {}, {}
        for i, p in zip(where, plans):
            key = (p.lattice.N_x, p.lattice.dim)
            if key not in groups or sizes[key] + p.k.size > STACK_POINTS:
                groups.setdefault(key, []).append([])
                sizes[key] = 0
            groups[key][-1].append((i, p))
            sizes[key] += p.k.size
        for stacks in groups.values():
            for members in stacks:
                sums = _sweep([p for _, p in members], vectors, chunk_bytes)
                for (i, p), r in zip(members, sums):
                    out[i] = _assemble(p, *r)
    return out


#: Points (k x poles) of one stack of sectors in :func:`solve_greens_sectors`: sectors are stacked while their
#: points add up to at most this (measured: 200 x 4 x 16 film, 165 points per sector, 1.6-1.9x faster stacked by 2048; a
#: 25 x 64 x 64 film's 1650-point sectors were 2.7x slower stacked, benchmarks/results.txt).
STACK_POINTS = 2048


# ----------------------------------------------------------------- T = 0 levels at zero
#: T = 0: levels with ``|E| < ZERO_WINDOW * resolution`` are "at zero" (half occupied).
ZERO_WINDOW = 4.0
#: Shifts ``s / resolution`` tried (largest first) for the average over ``mu -+ s``; a shift is
#: usable when no level has ``ZERO_WINDOW resolution <= |E| < 2 s``.  The recursion's rounding
#: for a level at distance ``s`` falls like ``(eps / s)^2``: ``s = 1e-5 t`` gives ~1e-14.
SHIFTS = (1000.0, 64.0, 8.0)


class _Shifted:
    """A lattice whose on-site blocks are shifted by ``-s`` (``h -> h - s``); all else delegated."""

    def __init__(self, lattice, s):
        self._lattice = lattice
        self.onsite = lattice.onsite - s * np.eye(lattice.dim)[None]

    def __getattr__(self, name):
        return getattr(self._lattice, name)


def count_below(lattice, k, sigma):
    """Number of levels ``E < sigma`` of each ``h(k)`` (Sylvester inertia of the block LDL^dag).

    ``h(k) - sigma = L D L^dag`` with the Schur-complement pivots ``D_0 = A_0 - sigma``,
    ``D_x = A_x - sigma - B_{x-1}^dag D_{x-1}^{-1} B_{x-1}``; the count is the number of negative
    eigenvalues of all pivots (``O(N_x dim^3)`` per k, vectorized over k).
    """
    d = lattice.dim
    eik = np.exp(1j * np.asarray(k, float))[:, None, None]
    ty, hop = lattice.hop_y, lattice.hop_x
    n = np.zeros(eik.shape[0], dtype=np.int64)
    Dinv = None
    for x in range(lattice.N_x):
        D = lattice.onsite[x] - sigma * np.eye(d) + ty[x] * eik + ty[x].conj().T * eik.conj()
        if x > 0:
            B = hop[x - 1]
            D = D - B.conj().T @ Dinv @ B
        D = 0.5 * (D + D.conj().transpose(0, 2, 1))
        ev, U = np.linalg.eigh(D)
        n += (ev < 0).sum(axis=1)
        tiny = 1e-300 + 1e-15 * np.abs(ev).max(axis=1, initial=0.0)[:, None]
        ev = np.where(np.abs(ev) < tiny, tiny, ev)  # an exactly singular pivot: a level at sigma, counted above
        Dinv = (U / ev[:, None, :]) @ U.conj().transpose(0, 2, 1)
    return n


def zero_levels(lattice, N_y, resolution=DEFAULT_RESOLUTION):
    """T = 0 levels near zero on the ``N_y`` momenta: ``(at_zero, shift)``.

    ``at_zero``: levels per row with ``|E| < ZERO_WINDOW resolution`` (unresolved by the
    imaginary-axis quadrature; counted half occupied), ``N_y^{-1} sum_k`` of the k-resolved counts
    of :func:`count_below`.  ``shift``: the largest ``s`` of :data:`SHIFTS` (times ``resolution``)
    with no level in ``ZERO_WINDOW resolution <= |E| < 2 s``, or None if there is none.
    """
    from .bloch import k_points

    k, w = k_points(int(N_y), lattice.y_hermitian)
    count = lambda e: float(np.dot(w, count_below(lattice, k, e))) / N_y  # noqa: E731
    lo, hi = count(-ZERO_WINDOW * resolution), count(ZERO_WINDOW * resolution)
    at_zero = hi - lo
    if at_zero == 0:
        return 0.0, None
    for m in SHIFTS:
        s = m * resolution
        if count(2 * s) == hi and count(-2 * s) == lo:
            return at_zero, s
    return at_zero, None


def _solve_zero_safe(lattice, T, pairs, vectors, tol, resolution, N_y, chunk_bytes, use_subgrids):
    """:func:`_solve`, and at T = 0 with levels at zero the average of the solves at ``mu -+ s``.

    ``s`` from :func:`zero_levels`.  A level at zero then sits at ``-+ s`` (resolved) and is half
    occupied in the average, as in the dense engine; every other level (``|E| >= 2 s``, checked)
    stays on its side.  The grand potential of the average, ``(min(E - s, 0) + min(E + s, 0)) / 2``,
    is exact except ``-s/2`` per level at zero, which is added back from the count.
    """
    args = (T, pairs, vectors, tol, resolution, N_y, chunk_bytes, use_subgrids)
    rows = lattice.N_y if (isinstance(N_y, str) and N_y == "lattice") else N_y
    if check_temperature(T) != 0 or rows is None or (isinstance(rows, float) and math.isinf(rows)):
        return _solve(lattice, *args)
    _check_nn(lattice)
    rows = integer_at_least("N_y", rows, 1, " (rows), or None / inf for N_y = infinity")
    at_zero, s = zero_levels(lattice, rows, resolution)
    if at_zero == 0:
        return _solve(lattice, *args)
    if s is None:
        raise ValueError(
            f"T = 0 with {at_zero:g} levels per row within {ZERO_WINDOW * resolution:.2g} t of the chemical potential "
            f"and others within {2 * SHIFTS[-1] * resolution:.2g} t: the Green's-function quadrature cannot separate "
            "them; use engine='dense', T > 0 or another resolution"
        )
    a = _solve(_Shifted(lattice, s), *args)
    b = _solve(_Shifted(lattice, -s), *args)
    bands = {p: 0.5 * (a.bands[p] + b.bands[p]) for p in a.bands}
    Nn = None if a._N is None else 0.5 * (a._N + b._N)
    F = 0.5 * (a._F + b._F) + 0.5 * s * at_zero
    return GreensSolution(T, a.N_y, bands, a.expansion, a.points + b.points, a.k_sizes, max(a.error, b.error), F, Nn, zero_levels=at_zero)


def _check_nn(lattice):
    if lattice.has_diagonal_bonds:
        extra = [tuple(b) for b in lattice.bonds if tuple(b) not in ((1, 0), (0, 1))]
        raise ValueError(
            f"the Green's-function engine handles nearest-neighbour bonds (1, 0) and (0, 1) only; this lattice "
            f"has bonds {extra} (next-nearest neighbours): use engine='dense'"
        )


def _solve(lattice, T, pairs, vectors, tol, resolution, N_y, chunk_bytes, use_subgrids):
    plan = _plan(lattice, T, pairs, vectors, tol, resolution, N_y, use_subgrids)
    return _assemble(plan, *_sweep([plan], vectors, chunk_bytes)[0])


class _Plan:
    """One lattice's part of a solve: its pole expansion, points ``(k, w, c)`` and matrices."""

    def __init__(self, lattice, T, pairs, vectors, tol, resolution, N_y, use_subgrids):
        T = check_temperature(T)
        _check_nn(lattice)
        if isinstance(N_y, str) and N_y == "lattice":
            N_y = lattice.N_y
        elif N_y is not None and not (isinstance(N_y, float) and math.isinf(N_y)):
            N_y = integer_at_least("N_y", N_y, 1, " (rows), or None / inf for N_y = infinity")
        else:
            N_y = None
        self.lattice, self.T, self.N_y, self.vectors = lattice, T, N_y, bool(vectors)
        self.pairs = _check_pairs(pairs) if vectors else []
        N, d = lattice.N_x, lattice.dim
        self.exp = pole_expansion(T, spectral_bound(lattice), tol, resolution)
        self.k, self.w, self.c, self.M = _points(lattice, self.exp, N_y, tol, use_subgrids)
        per_point = point_bytes(N, d, vectors)
        if per_point > MEMORY_LIMIT:
            raise ValueError(
                f"the Green's-function solve needs {per_point / 2**20:.3g} MiB per (k, w) point for N_x = {N} "
                f"(limit {MEMORY_LIMIT / 2**20:.3g} MiB): reduce N_x"
            )
        self.dys = sorted({p[1] for p in self.pairs} | {-p[1] for p in self.pairs})
        self.onsite = lattice.onsite
        self.ty = lattice.hop_y
        self.tyd = self.ty.conj().transpose(0, 2, 1)
        self.hop = lattice.hop_x
        self.hopd = self.hop.conj().transpose(0, 2, 1)
        self.symmetric = lattice.y_hermitian
        # B_x^dag g B_x as one product on the (d^2, n) view of g: S_x[(k, j), (i, l)] = conj(B_x[i, k]) B_x[l, j]
        self.sandwich = np.einsum("xki,xlj->xkjil", self.hopd, self.hop).reshape(max(N - 1, 0), d * d, d * d)


_plan = _Plan


def _sweep(plans, vectors, chunk_bytes):
    """Forward (and with ``vectors`` backward) sweeps over the points of one or several plans of the same
    ``N_x``, ``dim`` and pairs (the k_z sectors of a film), stacked into common batches: each point uses
    its own plan's blocks; the bands, ``ln|det|`` sums and traces are accumulated per plan.

    Returns ``[(acc, logdet, trace)]`` per plan.
    """
    p0 = plans[0]
    N, d = p0.lattice.N_x, p0.lattice.dim
    pairs, dys = p0.pairs, p0.dys
    nd = len(dys)
    S = len(plans)
    single = S == 1
    sid = np.concatenate([np.full(p.k.size, i) for i, p in enumerate(plans)])
    k = np.concatenate([p.k for p in plans])
    w = np.concatenate([p.w for p in plans])
    c = np.concatenate([p.c for p in plans])
    stride = checkpoint_stride(N)
    if single:
        batch = batch_size(k.size, N, d, vectors, chunk_bytes)
    else:  # plus the per-point products of the contraction (d^2 x 2 nd per point) and the per-point blocks
        extra = (d * d * 2 * nd + 4 * d * d) * 16
        batch = int(max(1, min(k.size, int(chunk_bytes) // (point_bytes(N, d, vectors) + extra))))
    acc = {p: np.zeros((S, N, d, d), complex) for p in pairs}
    logdet = np.zeros(S)
    trace = np.zeros(S)
    if single:
        onsite, ty, tyd, hop, hopd, sandwich = p0.onsite, p0.ty, p0.tyd, p0.hop, p0.hopd, p0.sandwich
    else:  # per plan, stacked: (S, N, d, d); each point picks its plan's blocks
        onsite, ty, tyd = (np.stack([getattr(p, a) for p in plans]) for a in ("onsite", "ty", "tyd"))
        hop, hopd, sandwich = (np.stack([getattr(p, a) for p in plans]) for a in ("hop", "hopd", "sandwich"))

    for a in range(0, k.size, batch):
        kk, ww, cc, ss = k[a : a + batch], w[a : a + batch], c[a : a + batch], sid[a : a + batch]
        nb = kk.size
        eik = np.exp(1j * kk)
        z = 1j * ww
        if single:
            segs = [(0, 0, nb)]
        else:
            cut = np.concatenate([[0], np.flatnonzero(np.diff(ss)) + 1, [nb]])
            segs = [(int(ss[lo]), int(lo), int(hi)) for lo, hi in zip(cut[:-1], cut[1:])]

        def at(arr, x):
            """``arr[x]`` of each point's plan, as ``(d, d, 1)`` (one plan) or ``(d, d, nb)``."""
            if single:
                return arr[x][:, :, None]
            return np.moveaxis(arr[ss, x], 0, 2)

        def lmul(C, X, x):  # C_x @ X per point
            if single:
                return _lmul(C[x], X)
            out = np.empty(X.shape, complex)
            for i, lo, hi in segs:
                out[..., lo:hi] = np.dot(C[i, x], X[..., lo:hi].reshape(d, -1)).reshape(d, d, hi - lo)
            return out

        def rmul(X, C, x):  # X @ C_x per point
            if single:
                return _rmul(X, C[x])
            out = np.empty(X.shape, complex)
            for i, lo, hi in segs:
                out[..., lo:hi] = _rmul(np.ascontiguousarray(X[..., lo:hi]), C[i, x])
            return out

        def step(x, prev):
            """``K = A_x + B_{x-1}^dag g_{x-1} B_{x-1}`` and ``g_x = (z - K)^{-1}``."""
            K = at(onsite, x) + at(ty, x) * eik + at(tyd, x) * eik.conj()
            if x > 0:
                p2 = prev.reshape(d * d, -1)
                if single:
                    K += np.dot(sandwich[x - 1], p2).reshape(prev.shape)
                else:
                    Sd = np.empty(p2.shape, complex)
                    for i, lo, hi in segs:
                        Sd[:, lo:hi] = np.dot(sandwich[i, x - 1], p2[:, lo:hi])
                    K += Sd.reshape(prev.shape)
            Mx = -K
            for i in range(d):
                Mx[i, i] += z
            return K, _inv_det(Mx)

        starts = None if single else np.array([lo for _, lo, _ in segs])
        rows = np.array([0]) if single else np.array([i for i, _, _ in segs])
        if vectors:
            # phase weights for the contraction: columns (+dy), then conj phases (-dy) (each point its plan's)
            if single:
                ph = {dy: (np.cos(kk * dy) if p0.symmetric else np.exp(1j * kk * dy)) * cc for dy in dys}
                W = np.stack([ph[dy] for dy in dys] + [np.conj(ph[dy]) if not p0.symmetric else ph[dy] for dy in dys], axis=1)
            else:
                sym = np.array([p.symmetric for p in plans])[ss]
                ph = {dy: np.where(sym, np.cos(kk * dy), np.exp(1j * kk * dy)) * cc for dy in dys}
                W = np.stack([ph[dy] for dy in dys] + [np.where(sym, ph[dy], np.conj(ph[dy])) for dy in dys], axis=1)
            seg = np.empty((stride, d, d, nb), complex)
            marks = np.empty((-(-N // stride) - 1, d, d, nb), complex)
        ld = np.zeros(nb)
        prev = None
        for x in range(N):
            K, prev = step(x, prev)
            ld += _log_abs_det_unit(K * (1.0 / z))  # ln|det(1 - K / (i w))|
            if vectors:
                seg[x % stride] = prev
                if x % stride == stride - 1 and x < N - 1:
                    marks[x // stride] = prev
        logdet += np.bincount(ss, weights=cc * ld, minlength=S) if not single else float(np.dot(cc, ld))
        if not vectors:
            continue
        Gd = None
        tr = np.zeros(nb, complex)
        for j in range((N - 1) // stride, -1, -1):
            x0 = j * stride
            if x0 + stride < N:
                prev = marks[j - 1] if j > 0 else None
                for x in range(x0, x0 + stride):
                    prev = step(x, prev)[1]
                    seg[x - x0] = prev
            for x in range(min(x0 + stride, N) - 1, x0 - 1, -1):
                g = seg[x - x0]
                if Gd is None:  # x = N - 1 (a copy: seg is overwritten by the next segment)
                    Gd = g.copy()
                else:
                    Q = lmul(hopd, g, x)  # B^dag g
                    Gup = _mm(rmul(g, hop, x), Gd)  # G_{x,x+1}
                    Glo = _mm(Gd, Q)  # G_{x+1,x}
                    Gd = g + _mm(Gup, Q)  # G_{x,x}
                    _contract_bond(acc, pairs, dys, W, Gup, Glo, x, starts, rows)
                _contract_site(acc, pairs, dys, W, Gd, x, starts, rows)
                tr += sum(Gd[i, i] for i in range(d))
        trace += 2 * (np.bincount(ss, weights=cc * tr.real, minlength=S) if not single else float(np.dot(cc, tr.real)))
        del seg, marks
    return [({p: acc[p][i] for p in pairs}, float(logdet[i]), float(trace[i])) for i in range(S)]


def _assemble(plan, acc, logdet, trace):
    """The solution of one plan from its sweeps' sums: constant 1/2, the T = 0 tail, free energy and number."""
    lattice, exp, N_y, dys = plan.lattice, plan.exp, plan.N_y, plan.dys
    N, d = lattice.N_x, lattice.dim
    n = N * d
    hop = plan.hop
    Npoint = None if N_y is None else N_y
    hdiag = _local_h_average(lattice, Npoint, sorted(set(dys) | {0}))
    tr_h = float(np.trace(hdiag[0], axis1=1, axis2=2).real.sum())
    tr_h2 = _mean_trace_h2(lattice, Npoint)
    F = 0.5 * tr_h + n * exp.offset - 2 * logdet - exp.tail_omega * tr_h2
    bands = {}
    Nnum = None
    if plan.vectors:
        for (dx, dy), B in acc.items():
            if dx == 0:
                B += 0.5 * _k_average(Npoint, dy) * np.eye(d)[None]
                B -= exp.tail_f * hdiag[dy].transpose(0, 2, 1)
            elif exp.tail_f and _k_average(Npoint, dy):
                # h_{(x+dx, j), (x, i)} is k independent: dx = 1 -> (B_x^dag)[j, i], dx = -1 -> B_{x-1}[j, i]
                if dx == 1:
                    B[: N - 1] -= exp.tail_f * hop.conj()
                else:
                    B[1:] -= exp.tail_f * hop.transpose(0, 2, 1)
            bands[dx, dy] = B
        Nnum = 0.5 * n + trace - exp.tail_f * tr_h
    err = exp.error * 2
    return GreensSolution(plan.T, N_y, bands, exp, int(plan.k.size), plan.M, err, float(F), Nnum)


def _mean_trace_h2(lattice, N_y):
    """``N_y^{-1} sum_k Tr h(k)^2`` (exact on the grid; the k integral for ``N_y = None``)."""
    # Tr h(k)^2 is a trigonometric polynomial of degree 2: for N_y >= 3 (and the integral) its grid
    # average is the exact one from 8 points; N_y = 1, 2 alias and use their own grid
    M = 8 if (N_y is None or N_y >= 3) else N_y
    diag = 0.0
    for kk in 2 * np.pi * np.arange(M) / M:
        e = np.exp(1j * kk)
        A = lattice.onsite + lattice.hop_y * e + lattice.hop_y.conj().transpose(0, 2, 1) * np.conj(e)
        diag += float(np.einsum("xij,xji->", A, A).real) / M
    return float(diag + 2 * np.sum(np.abs(lattice.hop_x) ** 2))


def _project(G, W, starts):
    """``sum_m G_m W_m`` per plan: ``(d, d, n_plans_in_batch, 2 nd)`` from ``G`` ``(d, d, nb)`` and the phase
    weights ``W`` ``(nb, 2 nd)``; ``starts``: first point of each plan's (contiguous) segment, or None for
    a single plan (one matrix product)."""
    d = G.shape[0]
    if starts is None:
        return (G.reshape(d * d, -1) @ W).reshape(d, d, 1, -1)
    P = G.reshape(d * d, -1)[:, :, None] * W[None]  # (d^2, nb, 2 nd): one product per point, summed per plan
    return np.add.reduceat(P, starts, axis=1).reshape(d, d, len(starts), -1)


def _contract_site(acc, pairs, dys, W, G, x, starts=None, rows=0):
    """bands[0, dy][plan, x] += sum_m c_m phi_m(dy) [G_m + G_m^dag]_{(x, j), (x, i)} (``acc[p]`` of shape
    ``(plans, N_x, d, d)``; ``rows``: the plans of the batch's segments, :func:`_project`)."""
    nd = len(dys)
    Sp = np.moveaxis(_project(G, W, starts), 2, 0)  # (segments, d, d, 2 nd)
    for dx, dy in pairs:
        if dx != 0:
            continue
        i = dys.index(dy)
        acc[0, dy][rows, x] += Sp[..., i].transpose(0, 2, 1) + Sp[..., nd + i].conj()


def _contract_bond(acc, pairs, dys, W, Gup, Glo, x, starts=None, rows=0):
    """Bands with dx = +-1 on the bond (x, x+1), per plan (:func:`_contract_site`)."""
    nd = len(dys)
    Su = np.moveaxis(_project(Gup, W, starts), 2, 0)
    Sl = np.moveaxis(_project(Glo, W, starts), 2, 0)
    for dx, dy in pairs:
        if dx == 0:
            continue
        i = dys.index(dy)
        if dx == 1:  # element ((x+1, j), (x, i)): G_{x+1,x}[j,i] + conj(G_{x,x+1}[i,j])
            acc[1, dy][rows, x] += Sl[..., i].transpose(0, 2, 1) + Su[..., nd + i].conj()
        else:  # at column x+1, element ((x, j), (x+1, i)): G_{x,x+1}[j,i] + conj(G_{x+1,x}[i,j])
            acc[-1, dy][rows, x + 1] += Su[..., i].transpose(0, 2, 1) + Sl[..., nd + i].conj()


def free_energy_greens(lattice, T, per_row=True, **kwargs):
    """Grand potential (Eq. 13) from the forward sweep only; per row by default."""
    return solve_greens(lattice, T, vectors=False, **kwargs).free_energy(per_row=per_row)
