"""Finite-width strips (open in y) between semi-infinite leads of the same width.

The periodic-in-y transport of :mod:`orbsym.numeric.negf` conserves ``k_y``; an orbital (or spin)
Hall accumulation at the lateral edges needs hard walls in y as well.  A strip of ``N_y`` rows with
open ends in y is mapped onto the same NEGF machinery by treating each column as one *super-site*
of ``D = N_y dim`` states (one "k-point", ``N_y = 1`` in the super-lattice)::

    h_col = 1 (x) eps + S (x) t_y + S^T (x) t_y^dag,     h_{x,x+1} = 1 (x) t_x,     S_{y,y+1} = 1 (y < N_y - 1)

(state index ``y dim + i``; ``(x)`` the Kronecker product; no bond between rows ``N_y - 1`` and 0).
The leads are semi-infinite strips of the same width (their own ``h_col``, ``1 (x) t_x``).

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


def strip_lattice(lattice):
    """Super-lattice of an orbsym Lattice with its y-ring opened (``N_y`` rows, hard walls in y)."""
    rows, d = lattice.N_y, lattice.dim
    on = np.array([_column(e, t, rows) for e, t in zip(lattice.onsite, lattice.hop_y)])
    hx = np.array([np.kron(np.eye(rows), t) for t in lattice.hop_x]).reshape(lattice.N_x - 1, rows * d, rows * d)
    return SuperLattice(on, hx, np.zeros_like(on), lattice.N_x, rows * d, rows)


def strip_lead(lead, rows):
    """A lead of ``rows`` rows, open in y (super-site lead)."""
    D = rows * lead.dim
    return Lead(lead.column, _column(lead.onsite, lead.hop_y, rows), np.kron(np.eye(rows), lead.hop_x), np.zeros((D, D), complex))


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
    """Site-resolved kernels on a strip open in y: the ring-closing y-bond (row ``N_y - 1`` to 0) is absent."""

    def evaluate_sites(self, name, polarization=None, bond=None):
        out = super().evaluate_sites(name, polarization, bond)
        if bond is not None and tuple(bond) == Y_BOND:
            out = out.copy()
            out[:, self.lattice.N_y - 1] = 0.0
        return out

    def bond_sum_sites(self, start_name, end_name, polarization):
        """Per site: the x-bond kernel at its start site (bond x) + end site (bond x-1), and the same in y."""
        N = self.lattice.N_x
        sx = self.evaluate_sites(start_name, polarization, (1, 0))
        ex = self.evaluate_sites(end_name, polarization, (1, 0))
        bx = np.zeros((N, self.lattice.N_y))
        bx[: N - 1] += sx
        bx[1:] += ex
        by = self.evaluate_sites(start_name, polarization, Y_BOND) + np.roll(self.evaluate_sites(end_name, polarization, Y_BOND), 1, axis=1)
        return bx, by
