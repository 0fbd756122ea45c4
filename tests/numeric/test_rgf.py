"""Recursive Green's-function region solver (orbsym.numeric.rgf) against the dense reference inverse."""

import numpy as np
import pytest

from orbsym.numeric.negf import dense_region_solver
from orbsym.numeric.rgf import RGF_MIN_COLUMNS, RGF_MIN_COLUMNS_SMALL, _inv, choose_region_solver, rgf_region_solver


def _random_blocks(rng, nb, M, d, per_point_hop):
    diag = rng.normal(size=(nb, M, d, d)) + 1j * rng.normal(size=(nb, M, d, d))
    diag = 0.5 * (diag + np.conj(np.swapaxes(diag, -1, -2)))
    shape = (nb, M - 1, d, d) if per_point_hop else (M - 1, d, d)
    hop = rng.normal(size=shape) + 1j * rng.normal(size=shape)  # non-Hermitian h_{x,x+1}, as with diagonal bonds
    s = rng.normal(size=(2, nb, d, d)) + 1j * rng.normal(size=(2, nb, d, d))
    gam = s @ np.conj(np.swapaxes(s, -1, -2))  # retarded self-energies: anti-Hermitian part negative
    h = rng.normal(size=(2, nb, d, d))
    sig = 0.5 * (h + np.swapaxes(h, -1, -2)) - 0.5j * gam
    return diag, hop, sig[0], sig[1]


@pytest.mark.parametrize("M, d, per_point_hop", [(1, 3, False), (2, 2, True), (4, 1, True), (7, 3, False), (9, 4, True)])
def test_rgf_equals_dense_on_random_blocks(M, d, per_point_hop):
    """Every block of the contract (end columns, bands dx = -3..3, zero outside) on random Hermitian
    diagonal blocks, random (per-point, k-dependent) hoppings and random retarded self-energies, at
    real energies and at poles off the axis."""
    rng = np.random.default_rng(M * 10 + d)
    nb = 5
    diag, hop, sL, sR = _random_blocks(rng, nb, M, d, per_point_hop)
    z = np.array([0.3, -1.1, 0.7 + 0.4j, -0.2 + 2.0j, 1e-3j])
    dxs = (-3, -2, -1, 0, 1, 2, 3)
    for want in ((), dxs, (1, -1)):
        a = dense_region_solver(z, diag, hop, sL, sR, want)
        b = rgf_region_solver(z, diag, hop, sL, sR, want)
        scale = np.abs(a.first).max()
        np.testing.assert_allclose(b.first, a.first, atol=1e-12 * scale)
        np.testing.assert_allclose(b.last, a.last, atol=1e-12 * scale)
        assert set(b.bands) == set(want)
        for dx in want:
            np.testing.assert_allclose(b.bands[dx], a.bands[dx], atol=1e-12 * scale)
            if abs(dx) >= M:
                assert not np.any(b.bands[dx])


def test_rgf_per_point_hop_follows_each_point():
    rng = np.random.default_rng(5)
    diag, hop, sL, sR = _random_blocks(rng, 3, 5, 2, False)
    hops = np.stack([hop, 2 * hop, hop.conj()])
    z = np.array([0.1, 0.2, 0.3 + 0.1j])
    many = rgf_region_solver(z, diag, hops, sL, sR, (0, 1))
    one = rgf_region_solver(z[1:2], diag[1:2], 2 * hop, sL[1:2], sR[1:2], (0, 1))
    for dx in (0, 1):
        np.testing.assert_allclose(many.bands[dx][1], one.bands[dx][0], atol=1e-14)
    np.testing.assert_allclose(many.last[1], one.last[0], atol=1e-14)


def test_choose_region_solver():
    assert choose_region_solver("auto", RGF_MIN_COLUMNS, 6) == (rgf_region_solver, "rgf")
    assert choose_region_solver("auto", RGF_MIN_COLUMNS - 1, 6) == (dense_region_solver, "dense")
    assert choose_region_solver("auto", RGF_MIN_COLUMNS_SMALL, 3) == (rgf_region_solver, "rgf")
    assert choose_region_solver("auto", RGF_MIN_COLUMNS_SMALL - 1, 3) == (dense_region_solver, "dense")
    assert choose_region_solver("dense", 500, 3)[0] is dense_region_solver
    assert choose_region_solver(rgf_region_solver, 2, 3) == (rgf_region_solver, "rgf_region_solver")
    with pytest.raises(ValueError, match="'auto', 'dense', 'rgf'"):
        choose_region_solver("fast", 10, 3)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_small_block_inverse(d):
    """Closed-form inverses (d <= 3) equal LAPACK's on random complex stacks; a singular block raises."""
    rng = np.random.default_rng(d)
    a = rng.normal(size=(50, 2, d, d)) + 1j * rng.normal(size=(50, 2, d, d))
    np.testing.assert_allclose(_inv(a) @ a, np.broadcast_to(np.eye(d), a.shape), atol=1e-11)
    np.testing.assert_allclose(_inv(a), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    a[3, 1] = 0
    with pytest.raises(np.linalg.LinAlgError):
        _inv(a)
