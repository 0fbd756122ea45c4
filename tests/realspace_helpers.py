"""Test-only slow path: real-space lattices, random density matrices, direct kernel evaluation."""

import numpy as np


class Torus:
    """Periodic L_x x L_y lattice (both >= 3 so that every bond is distinct)."""

    def __init__(self, Lx, Ly, dim):
        self.Lx, self.Ly, self.dim = Lx, Ly, dim
        self.N = Lx * Ly * dim

    def index(self, pos):
        x, y = pos
        return ((x % self.Lx) * self.Ly + (y % self.Ly)) * self.dim

    def sites(self):
        return [(x, y) for x in range(self.Lx) for y in range(self.Ly)]

    def hamiltonian(self, onsite, hoppings):
        """Dense h with h_{n,n+d} = t_d, h_{n+d,n} = t_d^dag (conventions: each bond once)."""
        h = np.zeros((self.N, self.N), complex)
        d = self.dim
        for n in self.sites():
            i = self.index(n)
            h[i : i + d, i : i + d] += onsite
            for off, t in hoppings.items():
                j = self.index((n[0] + off[0], n[1] + off[1]))
                h[i : i + d, j : j + d] += t
                h[j : j + d, i : i + d] += t.conj().T
        return h

    def site_matrix(self, n, A):
        M = np.zeros((self.N, self.N), complex)
        i = self.index(n)
        M[i : i + self.dim, i : i + self.dim] = A
        return M

    def kernel_value(self, kernel, params, G, anchor):
        """<kernel> at anchor site (site kernels) or bond start (bond kernels), by direct sums."""
        total = 0j
        for (a, b), M in kernel.blocks(params).items():
            i = self.index((anchor[0] + a[0], anchor[1] + a[1]))
            j = self.index((anchor[0] + b[0], anchor[1] + b[1]))
            total += np.sum(M * G[i : i + self.dim, j : j + self.dim])
        return total


def random_correlation(N, rng):
    """Random NON-equilibrium G = <c^dag c> (Hermitian, eigenvalues in [0, 1])."""
    A = rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))
    _, U = np.linalg.eigh(A + A.conj().T)
    occ = rng.uniform(0, 1, N)
    rho = (U * occ) @ U.conj().T  # one-body density matrix rho = G^T
    return rho.T


def eom_expectation(h, Jn, G):
    """<i [H, c^dag Jn c]> = i sum_ij [h, Jn]_ij G_ij = i Tr(rho [h, Jn])."""
    return 1j * np.sum((h @ Jn - Jn @ h) * G)


def random_unitary(n, rng):
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    Q, R = np.linalg.qr(A)
    return Q * (np.diag(R) / np.abs(np.diag(R)))
