"""The fast paths of orbsym.numeric.kubo.solve_kubo against a per-k slow reference written here.

The fast path diagonalizes half the zone (``h(-k) = h(k)``), forms the kernel factors in place with the
degenerate pairs found from the sorted energies, lets the Fermi-surface (Hermitian) and Fermi-sea
(anti-Hermitian) parts share one transform and separates them on the band, forms only the band
``(x + dx, x)`` of ``U X U^dag`` from strided row windows, applies the velocity as a sparse matrix and
works in cache-sized chunks of k; when the real ``h(k)`` is tridiagonal in some order of the states it
diagonalizes with the tridiagonal eigensolver.  The reference does none of this: one k of the full zone at a time,
``h(k)`` and ``v(k) = dh/dk`` built from the lattice's blocks, the kernel from its formula with
``np.abs(E_n - E_m) <= tol`` for the degenerate pairs, the full matrix
``delta = U (K o U^dag v U) U^dag`` and the band sum ``N_y^-1 sum_k e^{i k dy} delta[x + dx, x]^T``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import random_lattice, trilayer
from nnn_kernels import random_nnn_lattice

from orbsym.numeric import KERNEL_NAMES
from orbsym.numeric.bloch import _gauged_pieces, real_gauge
from orbsym.numeric.kubo import _path_order, _sorted_degenerate_pairs, _tridiagonal_eigh, solve_kubo
from orbsym.numeric.thermo import fermi

PARTS = ("fermi_surface", "fermi_sea", "drive")


def _bloch(lat, k):
    """``h(k)`` and ``dh/dk`` from the lattice's on-site and hopping blocks (one k)."""
    N, d = lat.N_x, lat.dim
    h = np.zeros((N, d, N, d), complex)
    v = np.zeros_like(h)
    for x in range(N):
        h[x, :, x, :] += lat.onsite[x]
    for (dx, dy), t in lat.hoppings.items():
        for x in range(t.shape[0]):
            ph = np.exp(1j * k * dy)
            h[x, :, x + dx, :] += t[x] * ph
            h[x + dx, :, x, :] += t[x].conj().T / ph
            v[x, :, x + dx, :] += 1j * dy * t[x] * ph
            v[x + dx, :, x, :] += -1j * dy * t[x].conj().T / ph
    return h.reshape(N * d, N * d), v.reshape(N * d, N * d)


def _kernels(E, T, eta, tol):
    """``{part: K}`` from the formulas of the module docstring, pair by pair (no fused passes)."""
    f = fermi(E, T)
    n = E.size
    K = {p: np.zeros((n, n), complex) for p in PARTS}
    for a in range(n):
        for b in range(n):
            D = E[a] - E[b]
            if abs(D) <= tol:
                x = 0.5 * (E[a] + E[b])
                F = -np.exp(-abs(x) / T) / (T * (1 + np.exp(-abs(x) / T)) ** 2)
                sea = 0.0
            else:
                F = (f[a] - f[b]) / D
                sea = 1j * (f[a] - f[b]) / (eta**2 + D**2)
            K["drive"][a, b] = F
            K["fermi_sea"][a, b] = sea
            K["fermi_surface"][a, b] = -F * eta / (eta**2 + D**2)
    return K


def reference(lat, T, eta, pairs, W=None):
    """Response bands per part, one k of the full zone at a time (the slow path)."""
    N, d, Ny = lat.N_x, lat.dim, lat.N_y
    bands = {p: {q: np.zeros((N, d, d), complex) for q in pairs} for p in PARTS}
    for j in range(Ny):
        k = 2 * np.pi * j / Ny
        h, v = _bloch(lat, k)
        if W is not None:
            v = np.zeros_like(v)
            for x in range(N):
                v[x * d : (x + 1) * d, x * d : (x + 1) * d] = W[x]
        E, U = np.linalg.eigh(h)
        K = _kernels(E, T, eta, 1e-9 * max(1.0, np.abs(E).max()))
        Vb = U.conj().T @ v @ U
        for p in PARTS:
            delta = (U @ (K[p] * Vb) @ U.conj().T).reshape(N, d, N, d)
            for dx, dy in pairs:
                for x in range(max(0, -dx), min(N, N - dx)):
                    bands[p][(dx, dy)][x] += np.exp(1j * k * dy) * delta[x + dx, :, x, :].T / Ny
    bands["total"] = {q: bands["fermi_surface"][q] + bands["fermi_sea"][q] for q in pairs}
    return bands


def _lattice(seed, kind, N_x, N_y):
    rng = np.random.default_rng(seed)
    if kind == "nnn":
        return random_nnn_lattice(rng, "nnn", N_x, N_y, "fm")
    return random_lattice(rng, kind, N_x, N_y, "fm")


def _assert_bands_equal(fast, slow, parts, atol):
    scale = max(np.abs(b).max() for p in parts for b in slow[p].values())
    assert scale > 1e-4  # a nonzero response is compared
    for p in parts:
        for q, b in slow[p].items():
            np.testing.assert_allclose(fast[p][q], b, rtol=0, atol=atol * scale, err_msg=f"{p} {q}")


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["orbital", "spin", "user", "nnn"]),
    N_x=st.integers(1, 5),
    N_y=st.integers(3, 6),
)
def test_field_response_matches_per_k_reference(seed, kind, N_x, N_y):
    """Every part's bands (E_y drive, half zone when h(-k) = h(k)) == the per-k reference to 1e-12."""
    lat = _lattice(seed, kind, N_x, N_y)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    fast = solve_kubo(lat, 0.2, 0.1, pairs).bands
    _assert_bands_equal(fast, reference(lat, 0.2, 0.1, pairs), PARTS + ("total",), 1e-12)


def test_pumping_drive_matches_per_k_reference():
    """The on-site drive (``perturbation=W``: full zone, complex gauge) == the reference to 1e-12."""
    lat = _lattice(3, "orbital", 4, 5)
    W = np.zeros((lat.N_x, lat.dim, lat.dim), complex)
    W[1:3] = -lat.generators[0]
    pairs = lat.offset_pairs(KERNEL_NAMES)
    fast = solve_kubo(lat, 0.2, 0.1, pairs, perturbation=W).bands
    _assert_bands_equal(fast, reference(lat, 0.2, 0.1, pairs, W=W), PARTS + ("total",), 1e-12)


@pytest.mark.parametrize("kind", ["orbital", "nnn"])
def test_shared_transform_and_chunks_equal_single_parts(kind):
    """Fermi surface and sea alone (one transform each, no separation), with one k per chunk, equal
    the shared transform of both to 1e-13."""
    lat = _lattice(11, kind, 5, 7)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    both = solve_kubo(lat, 0.2, 0.1, pairs).bands
    alone = {p: solve_kubo(lat, 0.2, 0.1, pairs, parts=(p,), chunk_bytes=1).bands[p] for p in PARTS}
    _assert_bands_equal(alone, both, PARTS, 1e-13)
    mixed = solve_kubo(lat, 0.2, 0.1, pairs, parts=("fermi_sea", "drive")).bands
    _assert_bands_equal(mixed, both, ("fermi_sea", "drive"), 1e-13)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    clusters=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    chain=st.booleans(),
)
def test_sorted_degenerate_pairs_equal_the_dense_mask(seed, clusters, chain):
    """The pairs found from the sorted energies == np.nonzero(|E_n - E_m| <= tol), including chains
    of gaps just below tol whose ends are farther apart than tol."""
    rng = np.random.default_rng(seed)
    tol = 1e-9
    E = []
    for size in clusters:
        base = rng.uniform(-2, 2)
        step = 0.6 * tol if chain else 0.0
        E += [base + i * step + rng.uniform(0, 0.1 * tol) for i in range(size)]
    E = np.sort(np.array(E))[None, :].repeat(2, axis=0)
    E[1] += rng.uniform(0, 1e-3)
    D = E[:, :, None] - E[:, None, :]
    slow = set(zip(*(a.tolist() for a in np.nonzero(np.abs(D) <= tol))))
    fast = list(zip(*(a.tolist() for a in _sorted_degenerate_pairs(E, tol))))
    assert len(fast) == len(set(fast))
    assert set(fast) == slow


@pytest.mark.parametrize("gamma", [0.5, 1.0])
def test_tridiagonal_eigensolver_path_matches_per_k_reference(gamma):
    """The trilayer with m_L = x, m_R = y (one path of 3 N_x states: the tridiagonal eigensolver; gamma
    = 1 adds degenerate levels) == the per-k reference to 1e-12."""
    lat = trilayer("orbital", 5, 6, gamma, (1.0, 0.0, 0.0), (0.0, 0.7, 0.0))
    phases = real_gauge(lat)
    assert phases is not None and _path_order(*_gauged_pieces(lat, phases)) is not None  # the fast path runs
    pairs = lat.offset_pairs(KERNEL_NAMES)
    fast = solve_kubo(lat, 0.2, 0.1, pairs).bands
    _assert_bands_equal(fast, reference(lat, 0.2, 0.1, pairs), PARTS + ("total",), 1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 12), splits=st.integers(0, 3))
def test_path_order_and_tridiagonal_eigh(seed, n, splits):
    """A symmetric tridiagonal matrix (with split points) in a random order of its states: the order
    is found, and the eigen-decomposition equals numpy's (eigenvalues; h U = U E, U^T U = 1)."""
    rng = np.random.default_rng(seed)
    T = np.diag(rng.normal(size=n)) + np.diag(rng.normal(size=n - 1), 1)
    T[np.arange(min(splits, n - 1)), np.arange(min(splits, n - 1)) + 1] = 0.0
    T = np.triu(T) + np.triu(T, 1).T
    p = rng.permutation(n)
    h = T[np.ix_(p, p)]
    order = _path_order(h)
    assert order is not None and sorted(order.tolist()) == list(range(n))
    t = h[np.ix_(order, order)]
    assert not np.any(np.triu(t, 2)) and not np.any(np.tril(t, -2))
    E, U = _tridiagonal_eigh(h[None], order)
    np.testing.assert_allclose(E[0], np.linalg.eigvalsh(h), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h @ U[0], U[0] * E[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(U[0].T @ U[0], np.eye(n), rtol=0, atol=1e-12)


def test_path_order_refuses_cycles_and_branches():
    """A ring (every state two neighbours) and a star (a state with three) have no tridiagonal order."""
    ring = np.roll(np.eye(5), 1, axis=1)
    star = np.zeros((4, 4))
    star[0, 1:] = 1.0
    for M in (ring + ring.T, star + star.T):
        assert _path_order(M) is None
