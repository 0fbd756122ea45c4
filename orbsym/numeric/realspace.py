"""Brute-force real-space solver: the independent slow path the Bloch solver is tested against.

Builds the full dense one-body matrix ``h`` of a small :class:`~orbsym.numeric.lattice.Lattice`
(``N_x N_y dim`` states, site index ``s = x N_y + y``, periodic y, open x; conventions in
:mod:`orbsym.conventions`), diagonalizes it in one piece, forms the full correlation matrix of
Eq. (12) ``G_ij = <c_i^dag c_j> = sum_n U*_in U_jn f(E_n)`` and evaluates the kernels at every site
by direct indexing into ``G`` -- no Bloch decomposition, no translation invariance assumed.  It
also gives the equation of motion of any one-body density matrix directly,
``d<J_n>/dt = i Tr(rho [h, J_n])`` with ``rho = G^T``.

Cost is ``O((N_x N_y dim)^3)``: use it for ``N_x N_y dim`` up to a few thousand.
"""

from __future__ import annotations

import numpy as np

from .observables import _ZERO_FOR_CHARGE, Observables
from .thermo import check_temperature, fermi, grand_potential_terms, zero_level_tolerance

__all__ = ["dense_hamiltonian", "site_index", "thermal_correlations", "RealSpaceObservables", "RealSpaceSolution", "solve_realspace", "angular_momentum_rate"]


def site_index(lattice, x, y):
    """Site index ``x N_y + (y mod N_y)``."""
    return np.asarray(x) * lattice.N_y + np.mod(y, lattice.N_y)


def dense_hamiltonian(lattice):
    """Full one-body matrix ``h`` (``h_{n, n+d} = t_d``, ``h_{n+d, n} = t_d^dag``), complex dense."""
    N, Ny, d = lattice.N_x, lattice.N_y, lattice.dim
    S = N * Ny
    h = np.zeros((S, d, S, d), complex)
    y = np.arange(Ny)
    for x in range(N):
        s = site_index(lattice, x, y)
        h[s, :, s, :] += lattice.onsite[x]
    for (dx, dy), hop in lattice.hoppings.items():  # every bond (x, y) -> (x + dx, y + dy) once
        for x in range(hop.shape[0]):
            s = site_index(lattice, x, y)
            s2 = site_index(lattice, x + dx, y + dy)
            t = hop[x]
            for a, b in zip(s, s2):  # += also for N_y <= 2, where a bond repeats
                h[a, :, b, :] += t
                h[b, :, a, :] += t.conj().T
    return h.reshape(S * d, S * d)


def thermal_correlations(h, T):
    """Eigenvalues ``E`` and ``G = U* f(E) U^T`` (Eq. 12) of a dense one-body matrix."""
    E, U = np.linalg.eigh(h)
    f = fermi(E, T, zero_level_tolerance(E))
    return E, (U.conj() * f[None, :]) @ U.T


class RealSpaceObservables(Observables):
    """Kernel values on a full real-space ``G`` (site by site), averaged over rows.

    :meth:`evaluate_sites` gives the per-site values, shape ``(anchors, N_y)``; :meth:`evaluate`
    (and thus every quantity of :class:`~orbsym.numeric.observables.Observables`) the row average.
    """

    def __init__(self, lattice, G):
        super().__init__(lattice, bands=None)
        S = lattice.N_x * lattice.N_y
        self.G = np.asarray(G).reshape(S, lattice.dim, S, lattice.dim)

    def evaluate_sites(self, name, polarization=None, bond=None):
        lat = self.lattice
        N, Ny = lat.N_x, lat.N_y
        if polarization is None and name in _ZERO_FOR_CHARGE and not lat.has_kernel(name, None, bond):
            return np.zeros((lat.anchors(bond)[0].size, Ny))
        xs, groups = lat.kernel_blocks(name, polarization, bond)
        y = np.arange(Ny)
        out = np.zeros((xs.size, Ny), complex)
        for idx, blocks in groups:
            for (left, right), M in blocks.items():
                xl = xs[idx] + left[0]
                xr = xs[idx] + right[0]
                inside = (xl >= 0) & (xl < N) & (xr >= 0) & (xr < N)
                if not inside.any():
                    continue
                sl = site_index(lat, xl[inside, None], y[None, :] + left[1])
                sr = site_index(lat, xr[inside, None], y[None, :] + right[1])
                out[idx[inside]] += np.einsum("ij,ayij->ay", M, self.G[sl, :, sr, :])
        return out.real

    def evaluate(self, name, polarization=None, bond=None):
        key = (name, polarization, None if bond is None else tuple(bond))
        if key not in self._cache:
            self._cache[key] = self.evaluate_sites(name, polarization, bond).mean(axis=1)
        return self._cache[key]

    def site_continuity(self, polarization, kind="bond"):
        """``-div j + tau`` at every site ``(x, y)`` from the kernels, shape ``(N_x, N_y)``.

        Uses the current/source kernels of ``kind`` ('bond' or 'forward'), with the y-divergence
        taken explicitly (no translation invariance assumed).
        """
        names = {"bond": ("current", "source", "source"), "forward": ("current_forward", "source_forward_start", "source_forward_end")}
        if kind not in names:
            raise ValueError(f"unknown kind {kind!r}; allowed: 'bond', 'forward'")
        cur, s_start, s_end = names[kind]
        N = self.lattice.N_x
        out = self.evaluate_sites("torque_onsite", polarization).copy()
        for dx, dy in self.lattice.bonds:  # bond (x, y) -> (x + dx, y + dy), every bond once
            if N - dx <= 0:
                continue
            b = (dx, dy)
            j = self.evaluate_sites(cur, polarization, b)
            out[: N - dx] += self.evaluate_sites(s_start, polarization, b) - j
            out[dx:] += np.roll(self.evaluate_sites(s_end, polarization, b) + j, dy, axis=1)
        return out


def angular_momentum_rate(lattice, h, rho, polarization):
    """Direct equation of motion ``d<J_n>/dt = i Tr(rho [h, J_n])`` at every site, ``(N_x, N_y)``.

    ``J_n`` is the generator ``J_alpha`` (identity for ``polarization=None``) on site ``n``; no
    kernel is used.
    """
    d = lattice.dim
    J = np.eye(d) if polarization is None else lattice.generators["xyz".index(polarization)]
    S = lattice.N_x * lattice.N_y
    comm = (rho @ h - h @ rho).reshape(S, d, S, d)
    diag = comm[np.arange(S), :, np.arange(S), :]
    rate = 1j * np.einsum("ij,sji->s", J, diag)
    return rate.real.reshape(lattice.N_x, lattice.N_y)


class RealSpaceSolution:
    """Thermal state of the dense real-space problem.

    Attributes
    ----------
    h : ndarray
        Dense one-body matrix.
    energies : ndarray
    G : ndarray
        Full ``<c_i^dag c_j>``.
    observables : RealSpaceObservables
    """

    def __init__(self, lattice, T):
        self.lattice = lattice
        self.T = check_temperature(T)
        self.h = dense_hamiltonian(lattice)
        self.energies, self.G = thermal_correlations(self.h, self.T)
        self.observables = RealSpaceObservables(lattice, self.G)

    def free_energy(self, per_row=True):
        """Grand potential (Eq. 13) from the full spectrum; per row by default."""
        total = float(grand_potential_terms(self.energies, self.T).sum())
        return total / self.lattice.N_y if per_row else total

    def particle_number(self, per_row=True):
        total = float(fermi(self.energies, self.T, zero_level_tolerance(self.energies)).sum())
        return total / self.lattice.N_y if per_row else total


def solve_realspace(lattice, T):
    """Diagonalize the dense real-space ``h`` and return a :class:`RealSpaceSolution`.

    Refused before any allocation if the dense matrix would not fit in memory
    (:func:`orbsym.numeric.budget.dense_realspace_estimate`)."""
    from .budget import check_resources, dense_realspace_estimate

    check_resources(dense_realspace_estimate(lattice.N_x, lattice.N_y, lattice.dim), what="the dense real-space solve")
    return RealSpaceSolution(lattice, T)
