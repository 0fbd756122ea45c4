"""Finite-width strips (open in y) between semi-infinite leads of the same width.

The periodic-in-y transport of :mod:`orbsym.numeric.negf` conserves ``k_y``; an orbital (or spin)
Hall accumulation at the lateral edges needs hard walls in y as well.  A strip of ``N_y`` rows with
open ends in y is mapped onto the same NEGF machinery by treating each column as one *super-site*
of ``D = N_y dim`` states (one "k-point", ``N_y = 1`` in the super-lattice)::

    h_col = 1 (x) eps + S (x) t_y + S^T (x) t_y^dag,     S_{y,y+1} = 1 (y < N_y - 1),
    h_{x,x+1} = 1 (x) t_(1,0) + S (x) t_(1,1) + S^T (x) t_(1,-1)

(state index ``y dim + i``; ``(x)`` the Kronecker product; no bond between rows ``N_y - 1`` and 0,
and no diagonal bond that would wrap around: ``(1, 1)`` from row ``N_y - 1``, ``(1, -1)`` from row 0).
The leads are semi-infinite strips of the same width (their own ``h_col`` and ``h_{x,x+1}``).

Observables are evaluated site by site with :class:`~orbsym.numeric.realspace.RealSpaceObservables`
kernels, with the y-bond that would close the ring (anchored at row ``N_y - 1``) removed
(:class:`OpenStripObservables`).  Balance: ``-div j + tau = 0`` at every site, with the y-divergence
taken explicitly.

Memory: the kernels reach only the columns ``x + dx`` with ``|dx|`` up to the bonds' reach, so the fast
path keeps the correlation *band by slice* (:class:`StripBand`, ``G[x, x + dx]`` for the offsets the
region solver returned, ``O(M D^2)`` memory for ``M`` columns of ``D = N_y d`` states), never the dense
``(M D)^2`` matrix of :func:`strip_correlations` (kept as the slow reference of the tests).  The exact
per-site rate ``d<J_n>/dt = i Tr(rho [h, J_n])`` is taken from the band and the column blocks of ``h``
(:func:`strip_hamiltonian_blocks`, :func:`band_commutator_site_blocks`): ``O(M D^2 d)`` per offset,
against ``O((M D)^2 d)`` for the dense site blocks.

Conventions: :mod:`orbsym.conventions`; site index ``s = x N_y + y`` as in :mod:`orbsym.numeric.realspace`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lattice import Y_BOND
from .leads import Lead
from .realspace import RealSpaceObservables

__all__ = [
    "SuperLattice", "strip_lattice", "strip_lead", "strip_hamiltonian", "strip_correlations", "StripBand", "strip_band",
    "strip_hamiltonian_blocks", "band_commutator_site_blocks", "OpenStripObservables",
]


@dataclass
class SuperLattice:
    """Columns of a strip as super-sites (duck-types the parts of ``Lattice`` that ``OpenSystem`` uses)."""

    onsite: np.ndarray
    hop_x: np.ndarray
    hop_y: np.ndarray
    N_x: int
    dim: int
    rows: int
    N_y: int = 1
    y_hermitian: bool = True


def _shift(n):
    S = np.zeros((n, n))
    S[np.arange(n - 1), np.arange(1, n)] = 1.0
    return S


def _column(eps, ty, rows):
    S = _shift(rows)
    return np.kron(np.eye(rows), eps) + np.kron(S, ty) + np.kron(S.T, ty.conj().T)


def _inter(t10, t11, t1m, rows):
    S = _shift(rows)
    return np.kron(np.eye(rows), t10) + np.kron(S, t11) + np.kron(S.T, t1m)


def strip_lattice(lattice):
    """Super-lattice of an orbsym Lattice with its y-ring opened (``N_y`` rows, hard walls in y)."""
    rows, d = lattice.N_y, lattice.dim
    far = [b for b, t in lattice.hoppings.items() if b[0] >= 2 and np.any(t != 0)]
    if far:
        raise ValueError(f"bonds {far} skip a column (dx >= 2); strips between leads support (1, 0), (0, 1), (1, 1), (1, -1)")
    zero = np.zeros_like(lattice.hop_x)
    up, down = lattice.hoppings.get((1, 1), zero), lattice.hoppings.get((1, -1), zero)
    on = _banded_columns(np.asarray(lattice.onsite), np.asarray(lattice.hop_y), np.conj(np.swapaxes(lattice.hop_y, -1, -2)), rows)
    hx = _banded_columns(np.asarray(lattice.hop_x), np.asarray(up), np.asarray(down), rows).reshape(lattice.N_x - 1, rows * d, rows * d)
    return SuperLattice(on, hx, np.zeros_like(on), lattice.N_x, rows * d, rows)


def _banded_columns(diag, above, below, rows):
    """Per column ``1 (x) diag + S (x) above + S^T (x) below`` (``S_{y,y+1} = 1``), shape ``(n, rows d, rows d)``:
    the blocks of :func:`_column` / :func:`_inter` for a whole stack at once (no Kronecker product per column)."""
    n, d = diag.shape[0], diag.shape[-1]
    dtype = np.result_type(diag, above, below)
    out = np.zeros((n, rows, d, rows, d), dtype)
    r = np.arange(rows)
    out[:, r, :, r, :] = diag[None]
    if rows > 1:
        out[:, r[:-1], :, r[1:], :] = above[None]
        out[:, r[1:], :, r[:-1], :] = below[None]
    return out.reshape(n, rows * d, rows * d)


def strip_lead(lead, rows):
    """A lead of ``rows`` rows, open in y (super-site lead)."""
    D = rows * lead.dim
    return Lead(lead.column, _column(lead.onsite, lead.hop_y, rows), _inter(lead.hop_x, lead.hop_up, lead.hop_down, rows), np.zeros((D, D), complex))


def strip_hamiltonian(sup):
    """Dense one-body matrix of the super-lattice (site index ``x N_y + y``), shape ``(N_x D, N_x D)``."""
    M, D = sup.N_x, sup.dim
    h = np.zeros((M, D, M, D), complex)
    x = np.arange(M)
    h[x, :, x, :] = sup.onsite
    if M > 1:
        xb = np.arange(M - 1)
        h[xb, :, xb + 1, :] = sup.hop_x
        h[xb + 1, :, xb, :] = sup.hop_x.conj().transpose(0, 2, 1)
    return h.reshape(M * D, M * D)


def strip_correlations(blocks, M, D):
    """Full ``G = rho^T`` (``G_ij = <c_i^dag c_j>``) from the one-k blocks ``rho[x+dx, x]`` (other
    column pairs, never used by nearest-neighbour kernels, are left zero)."""
    G = np.zeros((M, D, M, D), complex)
    for dx, b in blocks.items():
        for x in range(max(0, -dx), min(M, M - dx)):
            G[x, :, x + dx, :] = b[0, x].T
    return G.reshape(M * D, M * D)


class StripBand:
    """The correlation band of a strip by slice: ``G[x, x + dx]`` (``G_ij = <c_i^dag c_j>``) for the
    offsets ``dx`` the region solver returned, without the dense matrix.

    Attributes
    ----------
    offsets : tuple of int
        The column offsets held (sorted).
    band : ndarray, shape ``(len(offsets), M, N_y, d, N_y, d)``
        ``band[k, x, y, i, y', j] = G[(x, y, i), (x + offsets[k], y', j)]``; zero where ``x + dx`` is
        outside ``0 .. M - 1``.  Memory ``16 len(offsets) M D^2`` bytes (``D = N_y d``).

    Indexing ``band_obj[sl, :, sr, :]`` with integer site arrays ``sl``, ``sr`` (site ``x N_y + y``,
    equal shapes) returns the ``d x d`` blocks ``G[sl, :, sr, :]`` of the dense ``(S, d, S, d)`` view,
    shape ``sl.shape + (d, d)`` -- the access :class:`~orbsym.numeric.realspace.RealSpaceObservables`
    makes.  A pair whose column offset is not held raises ValueError (the dense matrix of
    :func:`strip_correlations` holds zeros there, which no kernel should read).
    """

    def __init__(self, band, offsets, rows, dim):
        self.band = np.ascontiguousarray(band)  # __getitem__ reads it through flat indices
        self.offsets = tuple(int(o) for o in offsets)
        self.N_x, self.N_y, self.dim = band.shape[1], rows, dim
        lo, hi = min(self.offsets), max(self.offsets)
        self._lo = lo
        self._slot = np.full(hi - lo + 1, -1)
        self._slot[np.array(self.offsets) - lo] = np.arange(len(self.offsets))

    @property
    def nbytes(self):
        return self.band.nbytes

    def slot(self, dx):
        """Index of offset ``dx`` in :attr:`band`; ValueError if not held."""
        k = dx - self._lo
        if not 0 <= k < self._slot.size or self._slot[k] < 0:
            raise ValueError(f"column offset {dx} is not in the correlation band (held: {self.offsets})")
        return int(self._slot[k])

    def block(self, dx):
        """``G[x, x + dx]`` for every column ``x``, shape ``(M, D, D)`` (zero where ``x + dx`` is outside)."""
        D = self.N_y * self.dim
        return self.band[self.slot(dx)].reshape(self.N_x, D, D)

    def __getitem__(self, key):
        if not (isinstance(key, tuple) and len(key) == 4 and key[1] == slice(None) and key[3] == slice(None)):
            raise TypeError(f"StripBand supports only G[sites_left, :, sites_right, :], got {key!r}")
        sl, sr = np.asarray(key[0]), np.asarray(key[2])
        xl, yl = np.divmod(sl, self.N_y)
        xr, yr = np.divmod(sr, self.N_y)
        dx = xr - xl
        k = dx - self._lo
        ok = (k >= 0) & (k < self._slot.size)
        if not ok.all() or np.any(self._slot[k] < 0):
            bad = sorted(set(np.unique(dx).tolist()) - set(self.offsets))
            raise ValueError(f"column offsets {bad} are not in the correlation band (held: {self.offsets})")
        # one flat gather: element [k, x, y, i, y', j] of the C-ordered band sits at
        # ((((k M + x) rows + y) d + i) rows + y') d + j  (a 6-index fancy gather with slices between the
        # indices costs ~5x more: one strided sub-block copy per site pair)
        rows, d = self.N_y, self.dim
        base = (((self._slot[k] * self.N_x + xl) * rows + yl) * d * rows + yr) * d
        inner = np.arange(d)[:, None] * (rows * d) + np.arange(d)[None, :]
        return self.band.reshape(-1).take(base[..., None, None] + inner)

    def dense(self):
        """The dense ``(M D, M D)`` matrix with the band filled (zeros elsewhere): tests and small systems only."""
        M, D = self.N_x, self.N_y * self.dim
        G = np.zeros((M, D, M, D), complex)
        for dx in self.offsets:
            b = self.block(dx)
            for x in range(max(0, -dx), min(M, M - dx)):
                G[x, :, x + dx, :] = b[x]
        return G.reshape(M * D, M * D)


def strip_band(blocks, M, rows, dim):
    """The correlation band (:class:`StripBand`) from the one-k blocks ``rho[x + dx, x]`` of the region
    solver (``{dx: (1, M, D, D)}``, ``D = rows dim``): ``G[x, x + dx] = rho[x + dx, x]^T``.

    Same entries as :func:`strip_correlations` on the band; memory ``O(M D^2)`` per offset.
    """
    D = rows * dim
    offsets = sorted(blocks)
    band = np.zeros((len(offsets), M, rows, dim, rows, dim), complex)
    for k, dx in enumerate(offsets):
        b = np.asarray(blocks[dx])
        if b.shape != (1, M, D, D):
            raise ValueError(f"blocks[{dx}] has shape {b.shape}; expected (1, {M}, {D}, {D}) (one k-point, M columns, D = rows dim)")
        lo, hi = max(0, -dx), min(M, M - dx)
        if hi > lo:
            band[k, lo:hi] = b[0, lo:hi].transpose(0, 2, 1).reshape(hi - lo, rows, dim, rows, dim)
    return StripBand(band, offsets, rows, dim)


def strip_hamiltonian_blocks(sup, period=1):
    """Column blocks of the strip's one-body matrix, ``{dx: (M, D, D)}`` with ``[dx][x] = h[x, x + dx]``
    (zero where ``x + dx`` is outside; all-zero offsets dropped).

    ``sup`` is the solved super-lattice (:func:`strip_lattice`); for ``period = 2`` its super-sites are
    pairs of columns with state index ``(y, a, i)`` (column ``2 X + a``), and the blocks are returned per
    column (``M = 2 N_x`` of ``sup``, ``D = rows d``), the ordering of :func:`strip_band`.  Same entries as
    :func:`strip_hamiltonian` (reordered to columns).
    """
    if period not in (1, 2):
        raise ValueError(f"period must be 1 or 2, got {period!r}")
    P, Dp = sup.N_x, sup.dim
    if Dp % period:
        raise ValueError(f"super-site dimension {Dp} is not divisible by the period {period}")
    D = Dp // period
    rows = sup.rows
    d = D // rows
    M = P * period
    onsite = np.asarray(sup.onsite, complex)
    hop = np.asarray(sup.hop_x, complex).reshape(max(P - 1, 0), Dp, Dp)

    def split(B):  # (n, Dp, Dp) -> (n, a, b, D, D): the column blocks [a, b] of pair blocks
        n = B.shape[0]
        return B.reshape(n, rows, period, d, rows, period, d).transpose(0, 2, 5, 1, 3, 4, 6).reshape(n, period, period, D, D)

    if period == 1:  # the column blocks are the super-lattice's own: no regrouping
        out = {0: onsite.copy()}
        if P > 1:
            out[1] = np.zeros((M, D, D), complex)
            out[1][:-1] = hop
            out[-1] = np.zeros((M, D, D), complex)
            out[-1][1:] = hop.conj().transpose(0, 2, 1)
        return {dx: v for dx, v in sorted(out.items()) if v.any()}
    out = {}
    parts = [(0, split(onsite)), (1, split(hop))]
    if P > 1:
        parts.append((-1, split(hop.conj().transpose(0, 2, 1))))
    for DX, B in parts:
        X0 = max(0, -DX)  # B[n] couples pair X0 + n to X0 + n + DX
        for a in range(period):
            for b in range(period):
                dx = period * DX + b - a
                blk = out.setdefault(dx, np.zeros((M, D, D), complex))
                blk[period * (X0 + np.arange(B.shape[0])) + a] += B[:, a, b]
    return {dx: v for dx, v in sorted(out.items()) if v.any()}


def band_commutator_site_blocks(band, hblocks):
    """Diagonal site blocks ``[rho h - h rho]_{ss}``, shape ``(S, d, d)`` (``S = M N_y``, ``rho = G^T``),
    from the correlation band and the column blocks of ``h`` alone.

    ``[rho h]_{xx} = sum_dx rho[x, x + dx] h[x + dx, x]`` and ``[h rho]_{xx} = sum_dx h[x, x + dx]
    rho[x + dx, x]``, with ``rho[x, x + dx] = G[x + dx, x]^T`` and ``h[x + dx, x] = h[x + dx, (x + dx) -
    dx]``; only the ``d x d`` site blocks on the diagonal of each column block are formed (``O(M D^2 d)``
    per offset).  Every offset of ``hblocks`` (and its negative) must be in the band (ValueError).
    Equals :func:`orbsym.transport._commutator_site_blocks` on the dense matrices.
    """
    M, rows, d = band.N_x, band.N_y, band.dim
    D = rows * d
    C = np.zeros((M, rows, d, d), complex)
    for dx, h in hblocks.items():
        if h.shape != (M, D, D):
            raise ValueError(f"h block at offset {dx} has shape {h.shape}; expected ({M}, {D}, {D})")
        lo, hi = max(0, -dx), min(M, M - dx)
        if hi <= lo:
            continue
        n = hi - lo
        G_fwd = band.block(dx)[lo:hi]  # G[x, x + dx]
        G_bwd = band.block(-dx)[lo + dx : hi + dx]  # G[x + dx, x]
        h_bwd = hblocks.get(-dx)
        # [rho h]: rows of rho[x, x + dx] = G[x + dx, x]^T (site y of column x), columns of h[x + dx, x]
        if h_bwd is not None:
            rows_r = G_bwd.transpose(0, 2, 1).reshape(n, rows, d, D)
            cols_h = h_bwd[lo + dx : hi + dx].reshape(n, D, rows, d).transpose(0, 2, 1, 3)
            C[lo:hi] += rows_r @ cols_h
        # [h rho]: rows of h[x, x + dx], columns of rho[x + dx, x] = G[x, x + dx]^T
        rows_h = h.reshape(M, rows, d, D)[lo:hi]
        cols_r = G_fwd.transpose(0, 2, 1).reshape(n, D, rows, d).transpose(0, 2, 1, 3)
        C[lo:hi] -= rows_h @ cols_r
    return C.reshape(M * rows, d, d)


class OpenStripObservables(RealSpaceObservables):
    """Site-resolved kernels on a strip open in y: the bonds that would close the ring -- ``(0, 1)``
    and ``(1, 1)`` from row ``N_y - 1``, ``(1, -1)`` from row 0 -- are absent.

    ``G`` is the dense ``(S d, S d)`` correlation matrix or a :class:`StripBand` (kept as is: no dense
    matrix is formed).
    """

    def __init__(self, lattice, G):
        if isinstance(G, StripBand):
            if (G.N_x, G.N_y, G.dim) != (lattice.N_x, lattice.N_y, lattice.dim):
                raise ValueError(f"correlation band of {G.N_x} x {G.N_y} sites of dim {G.dim} does not match the lattice ({lattice.N_x} x {lattice.N_y}, dim {lattice.dim})")
            super(RealSpaceObservables, self).__init__(lattice, bands=None)
            self.G = G
        else:
            super().__init__(lattice, G)

    def evaluate_sites(self, name, polarization=None, bond=None):
        out = super().evaluate_sites(name, polarization, bond)
        if bond is not None and tuple(bond)[1] != 0:
            out = out.copy()
            out[:, self.lattice.N_y - 1 if tuple(bond)[1] == 1 else 0] = 0.0
        return out

    def bond_sum_per_bond(self, start_name, end_name, polarization):
        """Per site and bond offset: the kernel at the bond's start site + at its end site, ``{bond: (N_x, N_y)}``."""
        N, Ny = self.lattice.N_x, self.lattice.N_y
        out = {}
        for b in self.lattice.bonds:
            dx, dy = b
            v = np.zeros((N, Ny))
            if N - dx > 0:
                v[: N - dx] += self.evaluate_sites(start_name, polarization, b)
                v[dx:] += np.roll(self.evaluate_sites(end_name, polarization, b), dy, axis=1)
            out[b] = v
        return out

    def bond_sum_sites(self, start_name, end_name, polarization):
        """Per site: the x-bond kernel at its start site (bond x) + end site (bond x-1), and the same in y."""
        per = self.bond_sum_per_bond(start_name, end_name, polarization)
        return per[(1, 0)], per[Y_BOND]

    def divergence_sites(self, name, polarization):
        """``div j`` per site from the bond currents ``name`` of every bond (out of the start site, into the end site)."""
        N, Ny = self.lattice.N_x, self.lattice.N_y
        div = np.zeros((N, Ny))
        for dx, dy in self.lattice.bonds:
            if N - dx <= 0:
                continue
            j = self.evaluate_sites(name, polarization, (dx, dy))
            div[: N - dx] += j
            div[dx:] -= np.roll(j, dy, axis=1)
        return div
