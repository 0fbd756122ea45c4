"""Recursive Green's-function (RGF) region solver: the blocks of ``G^r`` in ``O(M d^3)`` per point.

Implements the region-solver contract of :mod:`orbsym.numeric.negf` (``solver(z, diag, hop, sigma_L,
sigma_R, dxs) -> RegionGreens``) for the block-tridiagonal ``A = z - h - Sigma_L - Sigma_R`` of ``M``
columns of ``d`` states, batched over the ``nb`` points ``(k, z)`` with NumPy.  With ``A_xx`` the
diagonal blocks (``Sigma_L`` in ``A_00``, ``Sigma_R`` in ``A_{M-1,M-1}``) and ``t_x = h_{x,x+1}``:

* left-connected sweep: ``gL_0 = A_00^-1``, ``gL_x = (A_xx - SL_x)^-1`` with
  ``SL_x = t_{x-1}^dag gL_{x-1} t_{x-1}`` (the Green's function of columns ``0..x`` alone);
* right-connected sweep: ``gR_{M-1} = A^-1_{M-1,M-1}``, ``gR_x = (A_xx - SR_x)^-1`` with
  ``SR_x = t_x gR_{x+1} t_x^dag``;
* diagonal: ``G_xx = (A_xx - SL_x - SR_x)^-1`` (one batched inverse over all ``x``);
* off the diagonal, from the rows of ``A G = 1``: ``G_{x,y} = gL_x t_x G_{x+1,y}`` (``x < y``) and
  ``G_{x,y} = gR_x t_{x-1}^dag G_{x-1,y}`` (``x > y``).  They give the band ``G_{x,x+dx}`` from the band
  ``dx - 1`` (``dx > 0``) or ``dx + 1`` (``dx < 0``), vectorized over ``x``, and the end columns by
  propagation from the corners: ``G_{x,0} = gR_x t_{x-1}^dag G_{x-1,0}`` from ``G_00 = gR_0`` and
  ``G_{x,M-1} = gL_x t_x G_{x+1,M-1}`` from ``G_{M-1,M-1} = gL_{M-1}``.

Cost per point: ``2 M`` inverses of ``d x d`` blocks and ``~6 M`` block products (plus ``M`` inverses
for the diagonal when bands are asked for); ``~2 M`` dense products when the couplings ``t_x`` are block
diagonal (a site coupled to the same site of the next slice: finite-width strips; :class:`_Coupling`, from
:data:`BLOCK_MIN_DIM` states).  The work arrays are slice-major (each slice's stack of ``nb`` blocks
contiguous), against ``O((M d)^3)`` for
:func:`~orbsym.numeric.negf.dense_region_solver`, which stays the slow reference the tests compare with.
The recursions are the rows of ``A G = 1`` solved exactly (no truncation): agreement with the dense
inverse is to rounding times the condition of the sweeps' blocks (``~1e-13`` relative on the tests'
random blocks).  :func:`choose_region_solver` picks between the two (``"auto"``; crossover measured in
``benchmarks/bench_transport.py --crossover``; length scan: ``--scan``).
"""

from __future__ import annotations

import numpy as np

from .negf import RegionGreens, _dag, dense_region_solver

__all__ = ["rgf_region_solver", "choose_region_solver", "REGION_SOLVERS", "RGF_MIN_COLUMNS", "RGF_MIN_COLUMNS_SMALL"]

#: ``"auto"`` uses the RGF solver for regions of ``M >= RGF_MIN_COLUMNS`` solved columns (leads' cells
#: included), ``M >= RGF_MIN_COLUMNS_SMALL`` for blocks of ``d <= 3`` states (closed-form inverses); measured
#: crossover (benchmarks/results.txt): RGF faster from M = 3 at d = 2, 3 and from M ~ 6-8 at d = 6.
RGF_MIN_COLUMNS = 6
RGF_MIN_COLUMNS_SMALL = 3


# 3 x 3 cofactors by cyclic indices: C_ij = a_{i+1,j+1} a_{i+2,j+2} - a_{i+1,j+2} a_{i+2,j+1} (indices mod 3),
# as four gathers of the flattened blocks (a handful of NumPy calls per stack, not one per entry)
_R1, _R2 = np.array([1, 2, 0]), np.array([2, 0, 1])
_G = [(3 * r[:, None] + c[None, :]).ravel() for r, c in ((_R1, _R1), (_R2, _R2), (_R1, _R2), (_R2, _R1))]


def _inv(a):
    """Inverse of a stack of ``d x d`` blocks: closed form (adjugate / determinant) for ``d <= 3``, 2-4x
    faster than ``np.linalg.inv`` on the stacks of a sweep (measured, benchmarks/results.txt), LAPACK above."""
    d = a.shape[-1]
    if d > 3:
        return np.linalg.inv(a)
    if d == 1:
        det = a[..., 0, 0]
        out = np.ones_like(a)
    elif d == 2:
        a00, a01, a10, a11 = a[..., 0, 0], a[..., 0, 1], a[..., 1, 0], a[..., 1, 1]
        det = a00 * a11 - a01 * a10
        out = np.stack([a11, -a01, -a10, a00], axis=-1).reshape(a.shape)
    else:
        f = a.reshape(a.shape[:-2] + (9,))
        C = f.take(_G[0], axis=-1)
        C *= f.take(_G[1], axis=-1)
        C -= f.take(_G[2], axis=-1) * f.take(_G[3], axis=-1)
        C = C.reshape(a.shape)  # cofactor matrix; inverse = C^T / det
        det = np.einsum("...j,...j->...", a[..., 0, :], C[..., 0, :])
        out = np.swapaxes(C, -1, -2)
    if not np.all(det != 0):
        raise np.linalg.LinAlgError("Singular matrix (a block of the recursive Green's function sweep)")
    out = out / det[..., None, None]
    return out


def _bytes_per_point(M, d, ndx):
    """Working memory (bytes) of :func:`rgf_region_solver` per batch point."""
    # A, Q, P, first, last; with bands also SL, SR, G0 and the ndx bands (plus one temporary)
    return (5 + (4 + ndx if ndx else 1)) * M * d * d * 16


#: Slices of at least this many states use the block-diagonal products (:class:`_Coupling`); below, stacked
#: dense products of the small blocks are as fast (measured: benchmarks/bench_transport.py, d = 6).
BLOCK_MIN_DIM = 16


def _block_size(t):
    """Smallest ``b < d`` (a divisor of ``d``) such that every ``t_x`` is block diagonal with ``b x b`` blocks
    (one site's orbitals coupled to the same site of the next slice), or None (dense coupling; also for
    ``d < BLOCK_MIN_DIM``)."""
    d = t.shape[-1]
    if d < max(2, BLOCK_MIN_DIM) or t.size == 0:
        return None
    nz = np.any(t != 0, axis=tuple(range(t.ndim - 2)))
    rows, cols = np.nonzero(nz)
    for b in range(1, d // 2 + 1):
        if d % b == 0 and np.all(rows // b == cols // b):
            return b
    return None


class _Coupling:
    """Products with the slice couplings ``t_x`` (``td_x = t_x^dag``), stored slice-major ``(M - 1, 1 or nb, d, d)``:
    dense matmul, or, for block-diagonal couplings (:func:`_block_size`), ``d / b`` products of ``b x b``
    blocks (``O(d^2 b)`` instead of ``O(d^3)``)."""

    def __init__(self, t):
        self.b = _block_size(t)
        if self.b is None:
            self.t = t
            self.td = _dag(t)
        else:
            d, b = t.shape[-1], self.b
            n = d // b
            # the diagonal blocks, (n, ..., b, b) after the fancy indexing: move the block axis next to the matrix axes
            self.tb = np.ascontiguousarray(np.moveaxis(t.reshape(t.shape[:-2] + (n, b, n, b))[..., np.arange(n), :, np.arange(n), :], 0, -3))
            self.tdb = np.ascontiguousarray(_dag(self.tb))

    def right(self, X, x, dag=False):
        """``X @ t_x`` (``X @ td_x`` with ``dag``); ``X`` of shape ``(nb, d, d)``."""
        if self.b is None:
            return X @ (self.td if dag else self.t)[x]
        T = (self.tdb if dag else self.tb)[x]  # (1 or nb, n, b, b)
        nb, d = X.shape[0], X.shape[-1]
        Xr = X.reshape(nb, d, -1, self.b).transpose(0, 2, 1, 3)  # (nb, n, d, b)
        return (Xr @ T).transpose(0, 2, 1, 3).reshape(nb, d, d)

    def left(self, X, x, dag=False):
        """``t_x @ X`` (``td_x @ X`` with ``dag``)."""
        if self.b is None:
            return (self.td if dag else self.t)[x] @ X
        T = (self.tdb if dag else self.tb)[x]
        nb, d = X.shape[0], X.shape[-1]
        return (T @ X.reshape(nb, -1, self.b, d)).reshape(nb, d, d)


def rgf_region_solver(z, diag, hop, sigma_L, sigma_R, dxs=()):
    """Region solver by the recursive Green's function (module docstring); contract of :mod:`orbsym.numeric.negf`.

    Parameters
    ----------
    z : (nb,) complex
    diag : (nb, M, d, d)
        ``h_xx(k)`` per batch point.
    hop : (M - 1, d, d) or (nb, M - 1, d, d)
        ``h_{x,x+1}`` (shared, or per batch point).
    sigma_L, sigma_R : (nb, d, d)
        Lead self-energies, added to blocks ``(0, 0)`` and ``(M - 1, M - 1)``.
    dxs : tuple of int
        Band offsets wanted (any integers).

    Returns
    -------
    RegionGreens

    Notes
    -----
    Block-diagonal couplings ``t_x`` (a site coupled only to the same site of the next slice, the usual
    strip; :func:`_block_size`) are multiplied block by block: the sweeps then cost ``2 M`` inverses and
    ``2 M`` dense products (the end columns) instead of ``2 M`` inverses and ``6 M`` products.
    """
    z = np.asarray(z, complex)
    nb, M, d, _ = diag.shape
    eye = np.arange(d)
    # slice-major work arrays (M, nb, d, d): the sweeps' per-slice stacks are contiguous (with the batch
    # axis first, a slice of a long region is nb blocks M d^2 apart, which ran out of cache and TLB)
    A = np.empty((M, nb, d, d), complex)
    np.negative(np.swapaxes(diag, 0, 1), out=A)
    A[:, :, eye, eye] += z[None, :, None]
    A[0] -= sigma_L
    A[M - 1] -= sigma_R
    t = np.asarray(hop, complex)
    t = t[:, None] if t.ndim == 3 else np.swapaxes(t, 0, 1)  # (M - 1, 1 or nb, d, d) (a view)
    cp = _Coupling(t)
    # left- and right-connected sweeps; SL / SR the self-energies of the parts to the left / right
    # (_inv: closed form for d <= 3, else np.linalg.inv; a batched Gauss-Jordan in NumPy was 1.5-5x slower for d = 2..12)
    keep = bool(dxs)  # SL, SR only for the diagonal G_xx = (A_xx - SL_x - SR_x)^-1
    if keep:
        SL = np.zeros_like(A)
        SR = np.zeros_like(A)
    Q = np.empty((M - 1, nb, d, d), complex)  # gL_x t_x, x = 0 .. M-2: G_{x,y} = Q_x G_{x+1,y} for x < y
    P = np.empty((M - 1, nb, d, d), complex)  # P[x-1] = gR_x t_{x-1}^dag, x = 1 .. M-1: G_{x,y} = P_x G_{x-1,y} for x > y
    # gL_x, gR_x are kept only while needed (Q, P hold what the columns and bands use)
    g = _inv(A[0])
    for x in range(1, M):
        Q[x - 1] = cp.right(g, x - 1)
        s = cp.left(Q[x - 1], x - 1, dag=True)
        if keep:
            SL[x] = s
        g = _inv(A[x] - s)
    gL_end = g
    g = _inv(A[M - 1])
    for x in range(M - 2, -1, -1):
        P[x] = cp.right(g, x, dag=True)
        s = cp.left(P[x], x)
        if keep:
            SR[x] = s
        g = _inv(A[x] - s)
    first = np.empty_like(A)
    last = np.empty_like(A)
    first[0] = g
    for x in range(1, M):
        np.matmul(P[x - 1], first[x - 1], out=first[x])
    last[M - 1] = gL_end
    for x in range(M - 2, -1, -1):
        np.matmul(Q[x], last[x + 1], out=last[x])

    def batch_major(a):  # the contract's (nb, M, d, d), as a view (a transposed copy of small blocks cost more than it saved)
        return np.swapaxes(a, 0, 1)

    bands = {}
    if dxs:
        A -= SL
        A -= SR
        del SL, SR
        G0 = _inv(A)
        bands[0] = G0
        up, down = G0, G0
        for dx in range(1, max(max(dxs), 0) + 1):
            nxt = np.zeros_like(G0)
            if dx < M:
                np.matmul(Q[: M - dx], up[1 : M - dx + 1], out=nxt[: M - dx])
            bands[dx] = up = nxt
        for dx in range(-1, min(min(dxs), 0) - 1, -1):
            nxt = np.zeros_like(G0)
            if -dx < M:
                np.matmul(P[-dx - 1 :], down[-dx - 1 : M - 1], out=nxt[-dx:])
            bands[dx] = down = nxt
        bands = {dx: batch_major(bands[dx]) for dx in dxs}
    return RegionGreens(batch_major(first), batch_major(last), bands)


rgf_region_solver.bytes_per_point = _bytes_per_point

#: Region solvers by name (``transport(..., solver=NAME)``; ``"auto"`` is :func:`choose_region_solver`).
REGION_SOLVERS = {"dense": dense_region_solver, "rgf": rgf_region_solver}


def choose_region_solver(solver, M, d):
    """Resolve ``solver`` (``"auto"``, ``"dense"``, ``"rgf"`` or a callable) for a region of ``M`` columns of ``d`` states.

    ``"auto"``: :func:`rgf_region_solver` when ``M >= RGF_MIN_COLUMNS`` (``RGF_MIN_COLUMNS_SMALL`` for
    ``d <= 3``), else the dense reference.
    Returns ``(callable, name)``; a user callable is named by its ``__name__``.
    """
    if callable(solver):
        return solver, getattr(solver, "__name__", "user")
    if not isinstance(solver, str) or solver not in ("auto",) + tuple(REGION_SOLVERS):
        raise ValueError(f"region solver must be 'auto', 'dense', 'rgf' or a callable, got {solver!r}")
    if solver == "auto":
        solver = "rgf" if M >= (RGF_MIN_COLUMNS_SMALL if d <= 3 else RGF_MIN_COLUMNS) else "dense"
    return REGION_SOLVERS[solver], solver
