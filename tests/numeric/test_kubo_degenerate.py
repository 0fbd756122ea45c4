"""Kubo response (orbsym.numeric.kubo) where a drive mixes the states of a degenerate subspace.

Inside a degenerate subspace the divided difference is ``F_nm = f'(E)`` for EVERY pair n, m, not only
on the diagonal: ``delta = U (K o U^dag V U) U^dag`` must not depend on the basis eigh picks inside the
subspace.  The paper-like test model of test_kubo.py (gamma = t = t') hides an error there, because its
velocity is a multiple of the identity inside each degenerate subspace.  Here the drive mixes the
degenerate states:

* a random Hermitian drive on a Hamiltonian with prescribed degenerate levels, in random bases of
  the degenerate subspaces (the formula of :func:`response_factors` itself);
* the on-site pumping drive ``perturbation=W`` (``W = -L_x``, ``L_z``: mix the three degenerate orbitals
  of the gamma = t = t' metal);
* the field ``E_y`` on a metal with gamma != t = t': at ``k = pi/2`` the d_xz and d_xy bands cross in
  every transverse mode with different velocities (2 gamma and 2 t), in an orbital basis turned by a
  fixed rotation so that eigh returns mixed states.

Every case is compared with an eigenvector-free slow path (tests/kubo_helpers.py): ``d f(h + s V)/ds``
by a finite difference and the Sylvester solve of ``-i [h, delta] - eta delta = df``.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from kubo_helpers import dfermi_direction_fd, dfermi_exact, onsite_matrix, peierls_hamiltonian, sylvester_response
from numeric_kernels import L_T2G, X, Y, _e, fm, linear_kernelset, nm_orbital
from realspace_helpers import random_unitary

from orbsym.numeric import KERNEL_NAMES, Column, Lattice, Observables
from orbsym.numeric.kubo import DEGENERACY_RTOL, response_factors, solve_kubo
from orbsym.numeric.realspace import RealSpaceObservables
from lattices import all_kernel_values


def _max_relative_error(lat, bands, G):
    """max |fast - slow| / max |slow| over every kernel, and max |slow|."""
    fast = all_kernel_values(lat, Observables(lat, bands))
    slow = all_kernel_values(lat, RealSpaceObservables(lat, G))
    scale = max(np.abs(v).max(initial=0.0) for v in slow.values())
    err = max(np.abs(fast[k] - slow[k]).max(initial=0.0) for k in slow)
    return err / scale, scale


def _degenerate_hamiltonian(rng, multiplicities):
    """h = Q diag(E) Q^dag with the given multiplicities, levels in [-1, 1]; returns h, E (sorted)."""
    levels = np.sort(rng.uniform(-1, 1, len(multiplicities)))
    E = np.repeat(levels, multiplicities)
    Q = random_unitary(E.size, rng)
    return (Q * E) @ Q.conj().T, E


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**31),
    multiplicities=st.lists(st.integers(1, 3), min_size=2, max_size=4).filter(lambda m: max(m) > 1),
    T=st.sampled_from([0.3, 0.5]),
    eta=st.sampled_from([0.05, 0.4]),
)
def test_response_factors_in_any_basis_of_the_degenerate_subspaces(seed, multiplicities, T, eta):
    """``delta = U (K o U^dag V U) U^dag`` with K from response_factors, U any orthonormal eigenbasis
    (eigh's basis turned by a random unitary inside each degenerate subspace), equals the Sylvester
    solve with the finite-difference df; the 'drive' factor F gives df itself (Daleckii-Krein)."""
    rng = np.random.default_rng(seed)
    h, E = _degenerate_hamiltonian(rng, multiplicities)
    A = rng.normal(size=h.shape) + 1j * rng.normal(size=h.shape)
    V = A + A.conj().T
    V /= np.linalg.norm(V, 2)  # a drive that mixes the degenerate states, |V| = 1
    Eh, U = np.linalg.eigh(h)
    start = 0
    for m in multiplicities:  # any basis of each degenerate subspace
        U[:, start : start + m] = U[:, start : start + m] @ random_unitary(m, rng)
        start += m
    fac = response_factors(Eh, T, eta, DEGENERACY_RTOL)
    Ve = U.conj().T @ V @ U

    def back(K):
        return U @ (K * Ve) @ U.conj().T

    df = dfermi_direction_fd(h, V, T)
    slow = sylvester_response(h, df, eta)
    fast = back(fac["fermi_surface"] + fac["fermi_sea"])
    scale = np.abs(slow).max()
    assert scale > 0.05
    np.testing.assert_allclose(back(fac["drive"]), df, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10 * scale / eta)


def _degenerate_lattice(N_y=4):
    """gamma = t = t' metals and m = 0 FMs: the three orbitals are degenerate at every k."""
    ks, f = nm_orbital(), fm()
    cols = [Column(f, dict(t=1.0, mu=-0.3, m_x=0.0, m_y=0.0, m_z=0.0), label="FM")]
    cols += [Column(ks, dict(t=1.0, gamma=1.0, tp=1.0, mu=-0.3), label="M") for _ in range(2)]
    return Lattice(cols, N_y)


def pumping_error(lat=None, T=0.2, eta=0.1):
    """(relative error, scale) of the pumped response (W = -L_x on the FM, L_z + 0.5 L_y on a metal
    column: both mix the degenerate orbitals) against the dense Sylvester solve."""
    lat = lat or _degenerate_lattice()
    W = np.zeros((lat.N_x, lat.dim, lat.dim), complex)
    W[0] = -lat.generators[0]
    W[2] = lat.generators[2] + 0.5 * lat.generators[1]
    h = peierls_hamiltonian(lat, 0.0)
    E = np.linalg.eigvalsh(h)
    assert np.sum(np.abs(np.diff(E)) < 1e-10) > 10  # heavily degenerate
    sol = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES), perturbation=W)
    delta = sylvester_response(h, dfermi_direction_fd(h, onsite_matrix(lat, W), T), eta)
    return _max_relative_error(lat, sol.bands["total"], delta.T)


def test_pumping_drive_mixing_degenerate_orbitals_against_sylvester():
    """The on-site pumping drive mixes the degenerate orbitals of the gamma = t = t' trilayer."""
    err, scale = pumping_error()
    assert scale > 0.05
    assert err < 1e-7, err


def _rotated_metal(R):
    """Eq. (3) metal in the orbital basis turned by the unitary R (same physics, mixed basis)."""
    def rot(M):
        return R @ M @ R.conj().T

    hx = {"gamma": -rot(_e(0)), "t": -rot(_e(1)), "tp": -rot(_e(2))}
    hy = {"t": -rot(_e(0)), "gamma": -rot(_e(1)), "tp": -rot(_e(2))}
    gens = np.array([rot(L) for L in L_T2G])
    return linear_kernelset("rotated-multiorbital", gens, 1, {X: hx, Y: hy}, {"mu": -rot(np.eye(3))})


def crossing_error(real=True, T=0.25, eta=0.1):
    """(relative error, scale) of the E_y response of a gamma = 0.4, t = t' = 1 metal strip (N_y = 8:
    k = pi/2 on the grid, where the d_xz and d_xy bands of every transverse mode cross with different
    velocities) against the dense Sylvester solve."""
    rng = np.random.default_rng(5)
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0] if real else random_unitary(3, rng)
    ks = _rotated_metal(R)
    lat = Lattice([Column(ks, dict(t=1.0, gamma=0.4, tp=1.0, mu=0.0), label="M") for _ in range(3)], 8)
    assert lat.y_hermitian
    sol = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES))
    E = sol.energies[np.argmin(np.abs(sol.k - np.pi / 2))]
    assert np.sum(np.abs(np.diff(E)) < 1e-12) >= 3  # a crossing in every transverse mode
    h, dF = dfermi_exact(lat, T)
    delta = sylvester_response(h, -dF, eta)
    return _max_relative_error(lat, sol.bands["total"], delta.T)


def test_field_drive_at_a_band_crossing_against_sylvester():
    """E_y on a gamma != t metal: the velocity differs between the two crossing bands at k = pi/2
    (real gauge with a real rotation; complex gauge with a complex one)."""
    for real in (True, False):
        err, scale = crossing_error(real)
        assert scale > 0.05
        assert err < 1e-9, (real, err)
