"""Exponential midpoint step for a local on-site perturbation (orbsym.numeric.local_update) against
the eigen-decomposition of the full Hamiltonian, on random Hermitian stacks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.numeric.local_update import MAX_NODES, LocalPropagator, nodes_needed


def _herm(rng, *shape):
    a = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return (a + np.swapaxes(a, -1, -2).conj()) / 2


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31), dt=st.floats(0.01, 1.5), r=st.integers(1, 4), vscale=st.floats(0.0, 3.0), rank=st.integers(0, 4))
def test_step_equals_dense_exponential(seed, dt, r, vscale, rank):
    """exp(-i (h_ref + P v P^T) dt) psi by collocation == by eigh of the full h, to 1e-12 (up to the
    common phase per k that the propagator drops), for v of any rank (rank < r: the collocation on
    the range of v; rank 0: v = 0)."""
    rng = np.random.default_rng(seed)
    nk, n, m = 3, 12, 5
    h = _herm(rng, nk, n, n) / 3
    rows = np.sort(rng.choice(n, r, replace=False))
    U = np.linalg.qr(rng.normal(size=(r, r)) + 1j * rng.normal(size=(r, r)))[0][:, : min(rank, r)]
    v = vscale * (U * rng.normal(size=U.shape[1])) @ U.conj().T
    hv = h.copy()
    hv[:, rows[:, None], rows[None, :]] += v
    psi = rng.normal(size=(nk, n, m)) + 1j * rng.normal(size=(nk, n, m))
    E, Q = np.linalg.eigh(hv)
    ref = (Q * np.exp(-1j * dt * E)[:, None, :]) @ (Q.conj().transpose(0, 2, 1) @ psi)
    P = LocalPropagator(h, rows)
    out = P.step(P.to_eigenbasis(psi), v, dt)
    got = P.from_eigenbasis(out) * np.exp(-0.5j * dt * (P.E_ref[:, 0] + P.E_ref[:, -1]))[:, None, None]
    np.testing.assert_allclose(got, ref, atol=1e-12 * np.abs(psi).max())


def test_node_count_bound_and_refusal():
    """M grows with R dt and the interpolation bound holds at the chosen M; too large R dt is refused."""
    assert nodes_needed(1.0, 0.1) < nodes_needed(5.0, 0.5) < nodes_needed(10.0, 1.0)
    M = nodes_needed(5.0, 0.5)
    import math

    assert 2 * (5.0 * 0.5 / 4) ** M / math.factorial(M) <= 1e-17
    assert nodes_needed(100.0, 10.0) is None
    rng = np.random.default_rng(0)
    P = LocalPropagator(_herm(rng, 1, 4, 4), [0])
    assert P.step(np.zeros((1, 4, 1), complex), np.eye(1), 1e4) is None
    assert MAX_NODES >= 40


def test_wrong_v_is_not_the_dense_step():
    """The comparison above can fail: a perturbation on the wrong rows gives a different state."""
    rng = np.random.default_rng(3)
    h = _herm(rng, 2, 8, 8)
    v = _herm(rng, 2, 2)
    hv = h.copy()
    hv[:, :2, :2] += v
    psi = rng.normal(size=(2, 8, 3)) + 0j
    E, Q = np.linalg.eigh(hv)
    ref = (Q * np.exp(-0.3j * E)[:, None, :]) @ (Q.conj().transpose(0, 2, 1) @ psi)
    P = LocalPropagator(h, [2, 3])
    got = P.from_eigenbasis(P.step(P.to_eigenbasis(psi), v, 0.3)) * np.exp(-0.15j * (P.E_ref[:, 0] + P.E_ref[:, -1]))[:, None, None]
    assert np.abs(got - ref).max() > 1e-3


def test_reduced_rank_path_is_taken_and_matches_full_rank(monkeypatch):
    """An exchange change -dm.L of t2g orbitals has rank 2 (L has the eigenvalue 0): the step solves the
    (2M) x (2M) system on the range of v, and equals the step with the rank reduction switched off."""
    from orbsym.numeric import local_update as lu

    rng = np.random.default_rng(8)
    Lx = np.array([[0, 0, 0], [0, 0, -1j], [0, 1j, 0]])
    Ly = np.array([[0, 0, 1j], [0, 0, 0], [-1j, 0, 0]])
    v = -(0.3 * Lx + 0.2 * Ly)
    assert np.sum(np.abs(np.linalg.eigvalsh(v)) > 1e-12) == 2
    h = _herm(rng, 4, 9, 9) / 3
    psi = rng.normal(size=(4, 9, 3)) + 0j
    P = LocalPropagator(h, [3, 4, 5])
    phi = P.to_eigenbasis(psi)
    sizes = []
    real_solve = np.linalg.solve
    monkeypatch.setattr(np.linalg, "solve", lambda A, b: sizes.append(A.shape[-1]) or real_solve(A, b))
    reduced = P.step(phi, v, 0.4)
    monkeypatch.setattr(lu, "RANK_RTOL", -1.0)  # keep every eigenvalue: the full-rank system
    full = P.step(phi, v, 0.4)
    M = P._tables[next(iter(P._tables))]["M"]
    assert sizes == [2 * M, 3 * M]
    np.testing.assert_allclose(reduced, full, atol=1e-13)


def _banded(rng, nk, N, d, scale):
    """Random block-tridiagonal Hermitian h (N columns of d states, nearest-neighbour blocks)."""
    h = np.zeros((nk, N * d, N * d), complex)
    for x in range(N):
        h[:, x * d : (x + 1) * d, x * d : (x + 1) * d] = scale * _herm(rng, nk, d, d)
        if x + 1 < N:
            t = scale * (rng.normal(size=(nk, d, d)) + 1j * rng.normal(size=(nk, d, d)))
            h[:, x * d : (x + 1) * d, (x + 1) * d : (x + 2) * d] = t
            h[:, (x + 1) * d : (x + 2) * d, x * d : (x + 1) * d] = t.conj().transpose(0, 2, 1)
    return h


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31), dt=st.floats(0.01, 1.5), scale=st.floats(0.05, 1.0), rank=st.integers(0, 3), two=st.booleans())
def test_site_basis_step_equals_dense_exponential(seed, dt, scale, rank, two):
    """Site mode (banded free step, collocated correction on the columns within reach of the magnet)
    == exp(-i (h_ref + P v P^T) dt) psi by eigh of the full h, to 1e-12, for v of any rank and one or
    two perturbed columns -- also when the reach is shorter than the strip (the truncation is bounded)."""
    rng = np.random.default_rng(seed)
    nk, N, d, m = 2, 14, 2, 3
    h = _banded(rng, nk, N, d, scale)
    cols = [0, N - 1] if two else [int(rng.integers(0, N))]
    rows = np.concatenate([np.arange(c * d, (c + 1) * d) for c in cols])
    r = rows.size
    U = np.linalg.qr(rng.normal(size=(r, r)) + 1j * rng.normal(size=(r, r)))[0][:, : min(rank, r)]
    v = (U * rng.normal(size=U.shape[1])) @ U.conj().T
    hv = h.copy()
    hv[:, rows[:, None], rows[None, :]] += v
    psi = rng.normal(size=(nk, N * d, m)) + 1j * rng.normal(size=(nk, N * d, m))
    E, Q = np.linalg.eigh(hv)
    ref = (Q * np.exp(-1j * dt * E)[:, None, :]) @ (Q.conj().transpose(0, 2, 1) @ psi)
    P = LocalPropagator(h, rows, site=(N, d, 1))
    out = np.full_like(psi, np.nan)
    got = P.step(psi, v, dt, out=out)
    assert got is out
    got = got * np.exp(-0.5j * dt * (P.E_ref[:, 0] + P.E_ref[:, -1]))[:, None, None]
    np.testing.assert_allclose(got, ref, atol=1e-12 * np.abs(psi).max())


def test_site_reach_is_a_bound_and_shorter_than_the_strip_for_short_steps():
    """The reach bounds the free propagator's blocks: beyond it every block of e^{-i h dt} (formed densely
    from the eigenvectors) is at the rounding level of that product; for a short step on a long strip it
    is shorter than the strip (the banded product skips the far blocks)."""
    rng = np.random.default_rng(2)
    N, d = 40, 2
    h = _banded(rng, 1, N, d, 0.3)
    P = LocalPropagator(h, [0, 1], site=(N, d, 1))
    for dt in (0.1, 0.5):
        B = P.reach(dt)
        assert B < N - 1
        U0 = (P.Q * np.exp(-1j * dt * P.E)[:, None, :]) @ P.Q.conj().transpose(0, 2, 1)
        far = max(np.linalg.norm(U0[0, x * d : (x + 1) * d, y * d : (y + 1) * d], 2) for x in range(N) for y in range(N) if abs(x - y) > B)
        assert far <= 1e-14
    B = P.reach(0.1)
    slabs = P.free_slabs(0.1)
    assert B < N // 2 and len(slabs) > 1 and max(len(range(*cols.indices(N * d))) for _, cols, _ in slabs) < N * d
