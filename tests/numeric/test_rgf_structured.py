"""Fast paths of the recursive Green's function (orbsym.numeric.rgf) against the dense reference inverse:
block-diagonal slice couplings multiplied block by block."""

import numpy as np
import pytest

from orbsym.numeric.negf import dense_region_solver
from orbsym.numeric import rgf
from orbsym.numeric.rgf import _block_size, _Coupling, rgf_region_solver


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """The block path on the tests' small slices (it is used from BLOCK_MIN_DIM states on)."""
    monkeypatch.setattr(rgf, "BLOCK_MIN_DIM", 2)


def _blocks(rng, nb, M, d, b, per_point_hop):
    diag = rng.normal(size=(nb, M, d, d)) + 1j * rng.normal(size=(nb, M, d, d))
    diag = 0.5 * (diag + np.conj(np.swapaxes(diag, -1, -2)))
    shape = (nb, M - 1, d, d) if per_point_hop else (M - 1, d, d)
    hop = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    mask = (np.arange(d)[:, None] // b) == (np.arange(d)[None, :] // b)
    hop = hop * mask  # block diagonal, b x b blocks
    s = rng.normal(size=(2, nb, d, d)) + 1j * rng.normal(size=(2, nb, d, d))
    gam = s @ np.conj(np.swapaxes(s, -1, -2))
    h = rng.normal(size=(2, nb, d, d))
    sig = 0.5 * (h + np.swapaxes(h, -1, -2)) - 0.5j * gam
    return diag, hop, sig[0], sig[1]


@pytest.mark.parametrize("M, d, b, per_point_hop", [(6, 6, 1, False), (5, 6, 2, True), (7, 6, 3, False), (4, 8, 4, True)])
def test_block_diagonal_coupling_equals_dense(M, d, b, per_point_hop):
    rng = np.random.default_rng(100 * M + 10 * d + b)
    nb = 3
    diag, hop, sL, sR = _blocks(rng, nb, M, d, b, per_point_hop)
    assert _block_size(hop) == b
    z = np.array([0.3, -0.5 + 0.2j, 1.5j])
    for want in ((), (-1, 0, 1, 2)):
        a = dense_region_solver(z, diag, hop, sL, sR, want)
        r = rgf_region_solver(z, diag, hop, sL, sR, want)
        scale = np.abs(a.first).max()
        np.testing.assert_allclose(r.first, a.first, atol=1e-12 * scale)
        np.testing.assert_allclose(r.last, a.last, atol=1e-12 * scale)
        for dx in want:
            np.testing.assert_allclose(r.bands[dx], a.bands[dx], atol=1e-12 * scale)


def test_coupling_products_and_block_size():
    rng = np.random.default_rng(3)
    d = 6
    t = (rng.normal(size=(1, 4, d, d)) + 1j * rng.normal(size=(1, 4, d, d))) * np.kron(np.eye(3), np.ones((2, 2)))
    cp = _Coupling(np.swapaxes(t, 0, 1))  # slice-major (M - 1, 1, d, d)
    assert cp.b == 2
    X = rng.normal(size=(2, d, d)) + 1j * rng.normal(size=(2, d, d))
    td = np.conj(np.swapaxes(t, -1, -2))
    for x in range(4):
        np.testing.assert_allclose(cp.right(X, x), X @ t[:, x], atol=1e-13)
        np.testing.assert_allclose(cp.right(X, x, dag=True), X @ td[:, x], atol=1e-13)
        np.testing.assert_allclose(cp.left(X, x), t[:, x] @ X, atol=1e-13)
        np.testing.assert_allclose(cp.left(X, x, dag=True), td[:, x] @ X, atol=1e-13)
    t[0, 1, 0, 5] = 1.0  # one entry off the blocks: dense
    assert _block_size(t) is None
    assert _block_size(np.zeros((0, 4, 4))) is None


def test_small_slices_use_dense_products(monkeypatch):
    monkeypatch.setattr(rgf, "BLOCK_MIN_DIM", 16)
    assert _block_size(np.broadcast_to(np.eye(8), (3, 8, 8))) is None
    assert _block_size(np.broadcast_to(np.eye(16), (3, 16, 16))) == 1


def test_newton_polish_in_slices_equals_one_batch(monkeypatch):
    """The lead's Newton polish run on slices of the batch (cache-sized) equals the whole batch at once."""
    from orbsym.numeric import leads

    rng = np.random.default_rng(4)
    d, n = 3, 40
    h = rng.normal(size=(n, d, d)) + 1j * rng.normal(size=(n, d, d))
    h = h + np.conj(np.swapaxes(h, -1, -2))
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    b = np.conj(a.T)
    z = rng.normal(size=n) + 1e-3j
    g0 = leads._decimate(h, a, b, z, leads.DEFAULT_TOL, leads.DEFAULT_MAX_ITER)[0]
    g0 = g0 + 1e-6 * (rng.normal(size=g0.shape) + 1j * rng.normal(size=g0.shape))  # something to polish
    whole = leads._newton(g0, h, a, b, z)
    monkeypatch.setattr(leads, "NEWTON_CHUNK_BYTES", 7 * 64 * d**4)  # slices of 7 points
    sliced = leads._newton(g0, h, a, b, z)
    np.testing.assert_allclose(sliced, whole, rtol=0, atol=1e-13 * np.abs(whole).max())
    assert np.abs(whole - g0).max() > 1e-8  # the polish did change g
