"""Supercells of two columns for transport: bonds that skip a column, and leads of period two.

A bond ``(2, dy)`` couples columns ``x`` and ``x + 2``: ``h(k)`` is then block *pentadiagonal* in the
column index and neither the leads' decimation nor the region solver of :mod:`orbsym.numeric.negf`
apply.  Grouping columns in pairs ``X = (2X, 2X + 1)`` (super-columns of ``2 dim`` states, state
``a dim + i`` for column ``2X + a``) restores nearest-neighbour coupling::

    super on-site  [a, b]   : eps (a = b), t_(1,0) (a = 0, b = 1) and h.c.
    super y-bond   [a, b]   : t_(0,1) (a = b), t_(1,1) (0 -> 1), t_(1,-1)^dag (1 -> 0)
                              (the e^{+ik} part, so h_XX(k) = H0 + cos k C + sin k S as in bloch._pieces)
    super (1, dy)  [a, b]   : t_(dx, dy) of the bond from column 2X + a to 2(X + 1) + b, dx = 2 + b - a

(``dx <= 2`` only; larger offsets are refused).  The same grouping gives leads of period two (two
different columns repeated, e.g. the alternating even/odd columns of a crystal rotated by 45
degrees, :func:`orbsym.transport.rotated_layers`).  The Green's function blocks of the super-lattice
are unpacked into the per-column blocks ``rho[x + dx, x]`` (:func:`unpack_blocks`), on which every
kernel of the original lattice is evaluated unchanged.

Conventions: :mod:`orbsym.conventions`; phases of :func:`orbsym.numeric.bloch._pieces`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .lattice import Lattice
from .leads import Lead

__all__ = ["PairLattice", "pair_columns", "pair_lead", "super_offsets", "unpack_blocks"]


@dataclass
class PairLattice:
    """Columns of a lattice grouped in pairs (duck-types what :class:`~orbsym.numeric.negf.OpenSystem` uses)."""

    onsite: np.ndarray
    hop_x: np.ndarray
    hop_y: np.ndarray
    hoppings: dict
    N_x: int
    dim: int
    N_y: int
    y_hermitian: bool
    base_dim: int = 0
    extra: dict = field(default_factory=dict)


def pair_columns(lattice):
    """:class:`PairLattice` of a :class:`~orbsym.numeric.Lattice` with an even number of columns."""
    M, d = lattice.N_x, lattice.dim
    if M % 2:
        raise ValueError(f"supercells of 2 columns need an even number of columns, got N_x = {M}")
    far = [b for b, t in lattice.hoppings.items() if b[0] >= 3 and np.any(t != 0)]
    if far:
        raise ValueError(f"bonds {far} skip two columns (dx >= 3); supercells of 2 columns handle dx <= 2")
    P = M // 2
    D = 2 * d
    on = np.zeros((P, 2, d, 2, d), complex)
    ey = np.zeros((P, 2, d, 2, d), complex)  # e^{+ik} part inside a pair
    inter = {dy: np.zeros((max(P - 1, 0), 2, d, 2, d), complex) for dy in (-1, 0, 1)}
    for a in (0, 1):
        on[:, a, :, a, :] = lattice.onsite[a::2]
        ey[:, a, :, a, :] = lattice.hop_y[a::2]
    for (dx, dy), t in lattice.hoppings.items():
        if dx == 0 or t.shape[0] == 0:
            continue
        for x in range(t.shape[0]):
            X, a = divmod(x, 2)
            Xe, b = divmod(x + dx, 2)
            if Xe == X:  # inside the pair: (1, dy) from column 0 to column 1
                if dy == 0:
                    on[X, a, :, b, :] += t[x]
                    on[X, b, :, a, :] += t[x].conj().T
                elif dy == 1:
                    ey[X, a, :, b, :] += t[x]
                else:  # e^{-ik} t at (a, b): its e^{+ik} conjugate t^dag at (b, a)
                    ey[X, b, :, a, :] += t[x].conj().T
            else:  # Xe == X + 1
                inter[dy][X, a, :, b, :] += t[x]
    r = lambda A: A.reshape(A.shape[0], D, D)  # noqa: E731
    hop = {(1, 0): r(inter[0]), (0, 1): r(ey), (1, 1): r(inter[1]), (1, -1): r(inter[-1])}
    return PairLattice(r(on), hop[(1, 0)], hop[(0, 1)], hop, P, D, lattice.N_y, lattice.y_hermitian, d)


def pair_lead(first, second, interface="fm"):
    """Lead of period two: columns ``first, second, first, second, ...`` as one cell of ``2 dim`` states."""
    p = pair_columns(Lattice([first, second, first, second], 1, interface))
    return Lead(first, p.onsite[0].copy(), p.hop_x[0].copy(), p.hop_y[0].copy(), p.hoppings[(1, 1)][0].copy(), p.hoppings[(1, -1)][0].copy())


def super_offsets(dxs):
    """Super-lattice offsets ``DX`` whose blocks hold the column offsets ``dxs``."""
    out = set()
    for dx in dxs:
        for a in (0, 1):
            out.add((a + dx) // 2)
    return sorted(out)


def unpack_blocks(blocks, M, d, dxs, rows=1):
    """Per-column blocks ``rho[x + dx, x]`` (``{dx: (nk, M, rows d, rows d)}``) from super blocks.

    ``blocks[DX][k, X]`` is ``rho[X + DX, X]`` of the super-lattice, shape ``(nk, M / 2, rows 2 d,
    rows 2 d)`` with state index ``(y, a, i)`` (``rows > 1``: a strip open in y, super-sites of rows).
    """
    some = next(iter(blocks.values()))
    nk = some.shape[0]
    out = {}
    for dx in dxs:
        o = np.zeros((nk, M, rows * d, rows * d), complex)
        for x in range(max(0, -dx), min(M, M - dx)):
            X, a = divmod(x, 2)
            Xe, b = divmod(x + dx, 2)
            B = blocks[Xe - X][:, X].reshape(nk, rows, 2, d, rows, 2, d)[:, :, b, :, :, a, :]
            o[:, x] = B.reshape(nk, rows * d, rows * d)
        out[dx] = o
    return out
