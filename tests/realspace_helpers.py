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


def eq7_operator(lattice, h, x, y, polarization, direction):
    """Dense one-body matrix ``O`` of the paper's Eq. (7) current at site ``(x, y)`` of a column lattice.

    Built from the blocks of the dense real-space Hamiltonian ``h`` (orbsym.numeric.realspace:
    site index ``x N_y + y``, so the hopping of each bond -- with the lattice's interface rule -- is
    whatever ``h`` holds there; no kernel of the symbolic layer is used).  The site-centred reading,
    twice the printed value (each bond once)::

        O = [ i c_n^dag J h_{n,n+e} (c_{n+e} - c_n) + i c_n^dag J h_{n,n-e} (c_n - c_{n-e}) ] / 2 + h.c.

    ``polarization``: None (identity: particle current) or 'x', 'y', 'z' (the lattice's generator);
    ``direction``: 'x' (``e = (1, 0)``, needs ``0 < x < N_x - 1``) or 'y' (``e = (0, 1)``, periodic).
    ``<c^dag O c> = sum_ij O_ij G_ij`` with ``G = <c_i^dag c_j>``.
    """
    N, Ny, d = lattice.N_x, lattice.N_y, lattice.dim
    S = N * Ny
    J = np.eye(d) if polarization is None else lattice.generators["xyz".index(polarization)]
    ex, ey = {"x": (1, 0), "y": (0, 1)}[direction]
    if direction == "x" and not 0 < x < N - 1:
        raise ValueError(f"Eq. (7) along x needs both neighbours: 0 < x < {N - 1}, got x = {x}")

    def site(xx, yy):
        return xx * Ny + yy % Ny

    hb = h.reshape(S, d, S, d)
    n, right, left = site(x, y), site(x + ex, y + ey), site(x - ex, y - ey)
    A = np.zeros((S, d, S, d), complex)
    fwd = 1j * J @ hb[n, :, right, :]  # forward: i c_n^dag J h_{n,n+e} (c_{n+e} - c_n)
    A[n, :, right, :] += 0.5 * fwd
    A[n, :, n, :] -= 0.5 * fwd
    bwd = 1j * J @ hb[n, :, left, :]  # backward: i c_n^dag J h_{n,n-e} (c_n - c_{n-e})
    A[n, :, n, :] += 0.5 * bwd
    A[n, :, left, :] -= 0.5 * bwd
    A = A.reshape(S * d, S * d)
    return A + A.conj().T
