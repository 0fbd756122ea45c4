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
on the full real-space correlation matrix of the solved columns, with the y-bond that would close
the ring (anchored at row ``N_y - 1``) removed (:class:`OpenStripObservables`).  Balance:
``-div j + tau = 0`` at every site, with the y-divergence taken explicitly.

Conventions: :mod:`orbsym.conventions`; site index ``s = x N_y + y`` as in :mod:`orbsym.numeric.realspace`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lattice import Y_BOND
from .leads import Lead
from .realspace import RealSpaceObservables

__all__ = ["SuperLattice", "strip_lattice", "strip_lead", "strip_hamiltonian", "strip_correlations", "OpenStripObservables"]


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
    on = np.array([_column(e, t, rows) for e, t in zip(lattice.onsite, lattice.hop_y)])
    zero = np.zeros_like(lattice.hop_x)
    up, down = lattice.hoppings.get((1, 1), zero), lattice.hoppings.get((1, -1), zero)
    hx = np.array([_inter(a, b, c, rows) for a, b, c in zip(lattice.hop_x, up, down)]).reshape(lattice.N_x - 1, rows * d, rows * d)
    return SuperLattice(on, hx, np.zeros_like(on), lattice.N_x, rows * d, rows)


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


class OpenStripObservables(RealSpaceObservables):
    """Site-resolved kernels on a strip open in y: the bonds that would close the ring -- ``(0, 1)``
    and ``(1, 1)`` from row ``N_y - 1``, ``(1, -1)`` from row 0 -- are absent."""

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
