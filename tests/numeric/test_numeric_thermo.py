"""Free energy from the density matrix: invariant under unitary mixing inside degenerate eigenspaces."""

import numpy as np
import pytest
from lattices import trilayer

from orbsym.numeric import RealSpaceObservables, dense_hamiltonian, fermi, grand_potential_from_density_matrix, grand_potential_terms


def _clusters(E, tol=1e-9):
    out, start = [], 0
    for i in range(1, E.size + 1):
        if i == E.size or E[i] - E[i - 1] > tol:
            out.append(np.arange(start, i))
            start = i
    return out


def _random_unitary(rng, n):
    q, r = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


@pytest.mark.parametrize("T", [0.05, 0.0])
def test_free_energy_invariant_under_degenerate_mixing(T):
    # gamma = t = t' in the NM and m = 0: every orbital is an identical chain -> large degeneracies
    lat = trilayer("orbital", 4, 4, 1.0, (0, 0, 0), (0, 0, 0), mu=-0.3)
    h = dense_hamiltonian(lat)
    E, U = np.linalg.eigh(h)
    clusters = _clusters(E)
    assert max(len(c) for c in clusters) >= 3
    rng = np.random.default_rng(1)
    V = np.eye(E.size, dtype=complex)
    for c in clusters:
        V[np.ix_(c, c)] = _random_unitary(rng, c.size)
    U2 = U @ V
    assert np.abs(U2.conj().T @ h @ U2 - np.diag(E)).max() < 1e-10  # still an eigenbasis
    f = fermi(E, T)
    rho = (U * f) @ U.conj().T
    rho2 = (U2 * f) @ U2.conj().T
    F_eig = float(grand_potential_terms(E, T).sum())
    assert grand_potential_from_density_matrix(h, rho2, T) == pytest.approx(F_eig, abs=1e-10)
    o1, o2 = RealSpaceObservables(lat, rho.T), RealSpaceObservables(lat, rho2.T)
    for p in (None, "x", "z"):
        np.testing.assert_allclose(o2.density(p), o1.density(p), atol=1e-12)
        np.testing.assert_allclose(o2.bond_current(p), o1.bond_current(p), atol=1e-12)
    # negative control: mixing two NON-degenerate levels across the Fermi level changes F
    i = int(np.searchsorted(E, 0.0))
    W = np.eye(E.size, dtype=complex)
    W[np.ix_([i - 1, i], [i - 1, i])] = _random_unitary(rng, 2)
    U3 = U @ W
    rho3 = (U3 * f) @ U3.conj().T
    assert abs(grand_potential_from_density_matrix(h, rho3, T) - F_eig) > 1e-6
