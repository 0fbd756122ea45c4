"""Periodic (torus) samples of the Chebyshev engine: SparseSample.from_tight_binding / from_arrays(periodic=True)."""

import numpy as np
import pytest

from orbsym.materials.model import Atom, TightBinding
from orbsym.numeric.chebyshev import SparseSample, jackson_kernel, kubo_bastin
from orbsym.numeric.chebyshev import _kb_sigma

SX = np.array([[0, 1], [1, 0]], complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)


def random_model(seed, far=True):
    """Two atoms (1 + 2 orbitals) at distinct positions, complex hoppings up to R = (2, -1), random generators."""
    rng = np.random.default_rng(seed)

    def herm(n):
        a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
        return (a + a.conj().T) / 2

    atoms = [Atom("A", (0, 0, 0), ("a",)), Atom("B", (0.4, 0.3, 0), ("b1", "b2"))]
    cplx = lambda s: s * (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))  # noqa: E731
    bonds = {(1, 0, 0): cplx(0.4), (0, 1, 0): cplx(0.4), (1, 1, 0): cplx(0.2)}
    if far:
        bonds[(2, -1, 0)] = cplx(0.1)
    gens = np.array([herm(3) for _ in range(3)])
    gens[:, 0, 1:] = gens[:, 1:, 0] = 0  # atom-centred: no generator element between the two atoms
    return TightBinding.from_bonds(np.eye(3) * [1.0, 1.3, 1.0], atoms, herm(3), bonds, periodic=2, length_unit="a", energy_unit="t", name="random",
                                   generators=gens)


def folded(model, Lx, Ly, op=None):
    """Dense torus matrix of sum_R X(R) (X = H, or the velocity i (R + tau_j - tau_i)_op H(R)), basis (x, y, orbital)."""
    n = model.n
    out = np.zeros((Lx, Ly, n, Lx, Ly, n), complex)
    tau = model.positions
    for R, M in zip(model.R, model.H):
        if op is not None:
            d = (R @ model.cell)[None, None, :] + tau[None, :, :] - tau[:, None, :]
            M = 1j * d[..., "xyz".index(op)] * M
        for x in range(Lx):
            for y in range(Ly):
                out[x, y, :, (x + R[0]) % Lx, (y + R[1]) % Ly, :] += M
    return out.reshape(Lx * Ly * n, -1)


def test_torus_hamiltonian_and_velocity_equal_the_folded_bloch_matrices():
    m = random_model(1)
    Lx, Ly = 5, 6
    S = SparseSample.from_tight_binding(m, (Lx, Ly))
    assert S.periodic and S.n_states == Lx * Ly * m.n
    # sample order (x, y, site, orbital) = (x, y, model orbital) here (atoms in basis order)
    np.testing.assert_allclose(S.H.toarray(), folded(m, Lx, Ly), rtol=0, atol=1e-14)
    for a in "xy":
        np.testing.assert_allclose(S.velocity(a).toarray(), folded(m, Lx, Ly, a), rtol=0, atol=1e-14)
    # Bloch folding: the spectrum is that of H(k) on the Lx x Ly grid
    frac = np.stack(np.meshgrid(np.arange(Lx) / Lx, np.arange(Ly) / Ly, [0.0], indexing="ij"), -1).reshape(-1, 3)
    ek = np.sort(m.bands(m.k_cartesian(frac)).ravel())
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(S.H.toarray())), ek, rtol=0, atol=1e-12)
    # the generators of the polarized currents are the model's, per atom block
    Jz = S.generator_operator("z").toarray()
    np.testing.assert_allclose(Jz[:3, :3], m.generators[2], atol=1e-15)
    # open sample (default) is unchanged: no wrapped bonds
    assert SparseSample.from_arrays([tuple(_sites(m))] * Lx, [], Ly).periodic is False


def _sites(m):
    from orbsym.numeric.sites import Site

    return [Site("A", (0, 0, 0), np.zeros((1, 1))), Site("B", (0.4, 0.3, 0), np.zeros((2, 2)))]


def test_onsite_disorder_shapes():
    m = random_model(2, far=False)
    L = (3, 4)
    rng = np.random.default_rng(0)
    eps_atom = rng.normal(size=L + (2,))
    eps_orb = rng.normal(size=L + (3,))
    H0 = SparseSample.from_tight_binding(m, L).H.toarray()
    d1 = np.diag(SparseSample.from_tight_binding(m, L, onsite_disorder=eps_atom).H.toarray() - H0).real.reshape(L + (3,))
    np.testing.assert_allclose(d1, eps_atom[..., [0, 1, 1]], atol=1e-14)
    d2 = SparseSample.from_tight_binding(m, L, onsite_disorder=eps_orb).H.toarray() - H0
    np.testing.assert_allclose(np.diag(d2).real.reshape(L + (3,)), eps_orb, atol=1e-14)
    assert np.abs(d2 - np.diag(np.diag(d2))).max() == 0
    with pytest.raises(ValueError, match="onsite_disorder must have shape"):
        SparseSample.from_tight_binding(m, L, onsite_disorder=np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="own image"):
        SparseSample.from_tight_binding(m, (2, 4))
    m3 = TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("s",))], np.zeros((1, 1)), {(0, 0, 1): np.eye(1)})
    with pytest.raises(ValueError, match="2D tori"):
        SparseSample.from_tight_binding(m3, (4, 4))
    with pytest.raises(TypeError, match="periodic"):
        SparseSample.from_arrays([tuple(_sites(m))], [], 1, periodic="yes")


@pytest.mark.parametrize("alpha, beta, pol", [("x", "y", "z"), ("y", "y", None), ("x", "y", None)])
def test_clean_torus_kubo_bastin_equals_the_k_space_moments(alpha, beta, pol):
    """W = 0: the torus trace Tr[v T_m(Ht) j T_n(Ht)] equals the k sum over the folded grid of the Bloch matrices
    (eigenbasis of H(k), the model's velocity and generators), so sigma is the k-space Kubo-Bastin with the same
    Jackson kernel, to rounding."""
    m = random_model(4)
    Lx, Ly = 5, 6
    S = SparseSample.from_tight_binding(m, (Lx, Ly))
    N = 24
    kb = kubo_bastin(S, alpha, beta, pol, T=0.1, mu=[-0.3, 0.4], n_moments=N, n_vectors="exact", n_energy=512)
    frac = np.stack(np.meshgrid(np.arange(Lx) / Lx, np.arange(Ly) / Ly, [0.0], indexing="ij"), -1).reshape(-1, 3)
    k = m.k_cartesian(frac)
    E, U = np.linalg.eigh(m.hamiltonian(k))
    v = m.velocity(k)
    ia, ib = "xyz".index(alpha), "xyz".index(beta)
    j = v[ia] if pol is None else 0.5 * (v[ia] @ m.generators[2] + m.generators[2] @ v[ia])
    Ud = U.conj().swapaxes(-1, -2)
    jn, vn = Ud @ j @ U, Ud @ v[ib] @ U
    x = (E - kb.b) / kb.a
    Tm = np.cos(np.arange(N)[:, None, None] * np.arccos(np.clip(x, -1, 1))[None])  # (N, nk, n)
    mom = np.einsum("kab,mkb,kba,nka->mn", vn, Tm, jn, Tm) / kb.area
    np.testing.assert_allclose(kb.moments, mom, rtol=0, atol=1e-11 * np.abs(mom).max())
    ref = _kb_sigma(mom, jackson_kernel(N), 0.1, kb.a, kb.b, np.array([-0.3, 0.4]), 512, kb.theta_range)
    np.testing.assert_allclose(kb.sigma, ref, rtol=1e-10, atol=1e-13)
    assert np.abs(ref).max() > 1e-3


def test_chern_insulator_torus_and_the_sign_of_kubo_bastin():
    """QWZ (m = -1, |C| = 1) on a clean torus, mu in the gap: kubo_bastin gives the sigma_xy = -C/(2 pi) of hall.py
    (both in Crepieux and Bruno's operator order; Garcia et al.'s transposed order would flip the Hall sign)."""
    from orbsym.materials.hall import hall_conductivity

    m = TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("a", "b"))], -SZ, {(1, 0, 0): (SZ - 1j * SX) / 2, (0, 1, 0): (SZ - 1j * SY) / 2},
                                periodic=2, length_unit="a", energy_unit="t")
    S = SparseSample.from_tight_binding(m, (8, 8), generators=np.zeros((3, 2, 2)))
    kb = kubo_bastin(S, "x", "y", T=0.05, mu=[0.0], n_moments=64, n_vectors="exact", bounds=(-3.05, 3.05))
    ref = hall_conductivity(m, 0.0, operator="charge", components="xy", N_k=8, units="natural", convergence=False).sigma.values[0, 0, 0, 1]
    assert ref == pytest.approx(-1 / (2 * np.pi), rel=2e-2)  # 8 x 8 grid
    assert kb.sigma[0] == pytest.approx(ref, rel=0.05)  # the Jackson kernel (resolution pi a / N ~ 0.17) leaks into the gap
