import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from orbsym.symbolic.generators import GeneratorSet, d_L, levi_civita, p_L, pauli, spin_half, spin_matrices, t2g_L

BUILTIN = {
    "t2g": t2g_L,
    "p": p_L,
    "pauli": pauli,
    "spin_half": spin_half,
    "spin1": lambda: spin_matrices(1),
    "spin3/2": lambda: spin_matrices(sp.Rational(3, 2)),
    "spin2": lambda: spin_matrices(2),
    "d": d_L,
}


def _algebra_residual(mats, c):
    worst = 0.0
    for a, b in itertools.combinations(range(3), 2):
        comm = mats[a] @ mats[b] - mats[b] @ mats[a]
        exp = sum(1j * c * levi_civita(a, b, g) * mats[g] for g in range(3))
        worst = max(worst, np.abs(comm - exp).max())
    return worst


def test_eq2_matrices_exactly_as_printed():
    L = t2g_L()
    assert L.matrices[0] == sp.Matrix([[0, 0, 0], [0, 0, sp.I], [0, -sp.I, 0]])
    assert L.matrices[1] == sp.Matrix([[0, 0, -sp.I], [0, 0, 0], [sp.I, 0, 0]])
    assert L.matrices[2] == sp.Matrix([[0, -sp.I, 0], [sp.I, 0, 0], [0, 0, 0]])
    assert L.basis == ("d_yz", "d_xz", "d_xy")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_sets_are_hermitian_and_close_the_declared_algebra(name):
    g = BUILTIN[name]()
    mats = g.to_numpy()
    for m in mats:
        assert np.allclose(m, m.conj().T)
    assert _algebra_residual(mats, float(g.normalization)) < 1e-12
    # and fail the algebra with a wrong normalization
    assert _algebra_residual(mats, 2 * float(g.normalization)) > 0.1


@pytest.mark.parametrize("j", [sp.Rational(1, 2), 1, sp.Rational(3, 2), 2, sp.Rational(5, 2)])
def test_spin_casimir(j):
    g = spin_matrices(j)
    assert g.dim == 2 * j + 1
    assert g.casimir() == j * (j + 1) * sp.eye(g.dim)


def test_pauli_normalization_is_two_and_spin_half_is_one():
    assert pauli().normalization == 2
    assert spin_half().normalization == 1
    with pytest.raises(ValueError, match="fail the declared algebra"):
        GeneratorSet(pauli().matrices, 1, "sigma")


def test_absolute_values():
    absx, absy, absz = t2g_L().absolute()
    assert absx == sp.Matrix([[0, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert absy == sp.Matrix([[0, 0, 1], [0, 0, 0], [1, 0, 0]])
    assert absz == sp.Matrix([[0, 1, 0], [1, 0, 0], [0, 0, 0]])


def test_d_orbital_t2g_block_is_reversed_effective_L():
    d = d_L()
    L = t2g_L()
    assert d.matrices[0][:3, :3] == L.matrices[0]
    assert d.matrices[1][:3, :3] == L.matrices[1]
    assert d.matrices[2][:3, :3] == -L.matrices[2]


def _rotation(axis, angle):
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


@given(
    name=st.sampled_from(sorted(BUILTIN)),
    axis=st.tuples(*[st.floats(-1, 1) for _ in range(3)]).filter(lambda v: np.linalg.norm(v) > 0.1),
    angle=st.floats(0, 2 * np.pi),
)
def test_rotated_generators_close_the_same_algebra(name, axis, angle):
    g = BUILTIN[name]()
    R = _rotation(axis, angle)
    mats = np.einsum("ab,bij->aij", R, g.to_numpy())
    assert _algebra_residual(mats, float(g.normalization)) < 1e-10
    # an improper rotation (det -1) reverses the algebra
    assert _algebra_residual(-mats, float(g.normalization)) > 1e-3


@pytest.mark.parametrize(
    "mats, match",
    [
        ((np.eye(2), np.eye(2)), "exactly three"),
        ((np.eye(2), np.eye(3), np.eye(2)), "same size"),
        (([[0, 1], [0, 0]], [[0, 0], [1, 0]], [[1, 0], [0, -1]]), "not Hermitian"),
        ((np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3))), "square"),
    ],
)
def test_bad_generator_sets_are_rejected(mats, match):
    with pytest.raises(ValueError, match=match):
        GeneratorSet(mats, 1)


def test_bad_spin():
    with pytest.raises(ValueError, match="positive integer or half-integer"):
        spin_matrices(0.3)
