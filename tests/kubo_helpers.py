"""Test-only slow path for the Kubo response: dense real space, Peierls phases, Sylvester solve."""

import numpy as np
from scipy.linalg import solve_sylvester

from orbsym.numeric import fermi
from orbsym.numeric.realspace import site_index


def peierls_hamiltonian(lattice, A, derivative=False):
    """Dense real-space h with the vector potential A along y: t_d -> t_d e^{-i A dy} (q = 1);
    ``derivative``: dh/dA instead (t_d -> -i dy t_d e^{-i A dy}, on-site 0)."""
    N, Ny, d = lattice.N_x, lattice.N_y, lattice.dim
    S = N * Ny
    h = np.zeros((S, d, S, d), complex)
    y = np.arange(Ny)
    for x in range(N):
        s = site_index(lattice, x, y)
        if not derivative:
            h[s, :, s, :] += lattice.onsite[x]
    for (dx, dy), hop in lattice.hoppings.items():
        for x in range(hop.shape[0]):
            s, s2 = site_index(lattice, x, y), site_index(lattice, x + dx, y + dy)
            t = hop[x] * np.exp(-1j * A * dy) * (-1j * dy if derivative else 1)
            for a, b in zip(s, s2):
                h[a, :, b, :] += t
                h[b, :, a, :] += t.conj().T
    return h.reshape(S * d, S * d)


def fermi_matrix(h, T):
    E, U = np.linalg.eigh(h)
    return (U * fermi(E, T)) @ U.conj().T


def dfermi_fd(lattice, T, step=2e-3):
    """d f(H(A))/dA at A = 0 by the 5-point stencil (error ~ step^4 f^(5))."""
    F = {s: fermi_matrix(peierls_hamiltonian(lattice, s * step), T) for s in (-2, -1, 1, 2)}
    return (F[-2] - 8 * F[-1] + 8 * F[1] - F[2]) / (12 * step)


def dfermi_exact(lattice, T, tol=1e-9):
    """d f(H(A))/dA at A = 0, Daleckii-Krein in the dense real-space eigenbasis (exact)."""
    h0 = peierls_hamiltonian(lattice, 0.0)
    V = peierls_hamiltonian(lattice, 0.0, derivative=True)
    E, U = np.linalg.eigh(h0)
    f = fermi(E, T)
    D = E[:, None] - E[None, :]
    deg = np.abs(D) <= tol
    Fd = np.where(deg, -f * (1 - f) / T if T > 0 else 0.0, (f[:, None] - f[None, :]) / np.where(deg, 1.0, D))
    return h0, U @ (Fd * (U.conj().T @ V @ U)) @ U.conj().T


def eigen_parts(h, source_V, T, eta, tol=1e-9):
    """Fermi-surface and Fermi-sea parts in the dense eigenbasis: delta = U (K o U^dag V U) U^dag with
    K_surface = -F eta/(eta^2 + D^2), K_sea = i (f_n - f_m)/(eta^2 + D^2) (module kubo); V = dh/dk = -dh/dA."""
    E, U = np.linalg.eigh(h)
    f = fermi(E, T)
    D = E[:, None] - E[None, :]
    deg = np.abs(D) <= tol
    Fd = np.where(deg, -f * (1 - f) / T, (f[:, None] - f[None, :]) / np.where(deg, 1.0, D))
    den = eta**2 + D**2
    Ve = U.conj().T @ source_V @ U
    surf = U @ ((-Fd * eta / den) * Ve) @ U.conj().T
    sea = U @ (np.where(deg, 0, 1j * (f[:, None] - f[None, :]) / den) * Ve) @ U.conj().T
    return surf, sea


def sylvester_response(h, source, eta):
    """delta solving -i [h, delta] - eta delta = source (no eigenvectors)."""
    n = h.shape[0]
    I = np.eye(n)
    return solve_sylvester(-1j * h - 0.5 * eta * I, 1j * h - 0.5 * eta * I, source)


def dfermi_direction_fd(h, V, T, step=2e-3):
    """d f(h + s V)/ds at s = 0 by the 5-point stencil (no eigenvectors of h; smooth in s even where
    h is degenerate, so no degenerate subspace needs care; error ~ step^4 f^(5))."""
    F = {s: fermi_matrix(h + s * step * V, T) for s in (-2, -1, 1, 2)}
    return (F[-2] - 8 * F[-1] + 8 * F[1] - F[2]) / (12 * step)


def onsite_matrix(lattice, W):
    """Dense real-space matrix of the on-site operator ``W[x]`` on every site of column x (the layout of
    :func:`peierls_hamiltonian`: site index x N_y + y)."""
    N, Ny, d = lattice.N_x, lattice.N_y, lattice.dim
    out = np.zeros((N * Ny * d, N * Ny * d), complex)
    n = Ny * d
    for x in range(N):
        out[x * n : (x + 1) * n, x * n : (x + 1) * n] = np.kron(np.eye(Ny), W[x])
    return out
