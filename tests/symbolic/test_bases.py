"""Tests of orbsym.symbolic.bases and .spinful: product generator sets, SOC (L/S exchange, J conserved), Rashba terms, models."""

import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from orbsym.symbolic.bases import BASES, get_basis, product_generators
from orbsym.symbolic.spinful import (
    SYMBOLS,
    orbital_rashba,
    spin_orbit_coupling,
    spin_rashba,
    spinful_ferromagnet,
    spinful_metal,
    with_generators,
)
from orbsym.symbolic.generators import GeneratorSet, levi_civita, pauli, t2g_L
from orbsym.symbolic.models import SYMBOLS as MODEL_SYMBOLS
from orbsym.symbolic.models import multiorbital_metal

SPINFUL = ["t2g-spin", "p-spin", "d-spin"]


def _np(M):
    return np.array(sp.Matrix(M).evalf().tolist(), dtype=complex)


def _comm(a, b):
    return sp.simplify(a * b - b * a)


# ---------------------------------------------------------------------- bases and generator sets
@pytest.mark.parametrize("name", sorted(BASES))
def test_named_bases_have_consistent_sizes_and_valid_generators(name):
    b = get_basis(name)
    assert len(b.labels) == b.dim == len(set(b.labels))
    for kind in b.generator_kinds:
        g = b.generators(kind)
        assert isinstance(g, GeneratorSet) and g.dim == b.dim
        g.validate()  # raises if not Hermitian or the algebra fails


@pytest.mark.parametrize("name", SPINFUL)
def test_product_sets_close_the_algebra_with_normalization_one_and_commute(name):
    b = get_basis(name)
    L, S, J = (b.generators(k) for k in "LSJ")
    for g in (L, S, J):
        assert g.normalization == 1
        mats = g.to_numpy()
        for a, c in itertools.product(range(3), range(3)):
            comm = mats[a] @ mats[c] - mats[c] @ mats[a]
            assert np.allclose(comm, sum(1j * levi_civita(a, c, e) * mats[e] for e in range(3)))
    Ln, Sn = L.to_numpy(), S.to_numpy()
    for a, c in itertools.product(range(3), range(3)):
        assert np.allclose(Ln[a] @ Sn[c], Sn[c] @ Ln[a])  # [L_a, S_b] = 0
    assert np.allclose(J.to_numpy(), Ln + Sn)
    assert b.labels[:2] == (f"{b.orbitals[0]},up", f"{b.orbitals[0]},down")  # orbital-major


@pytest.mark.parametrize("name,js", [("t2g-spin", {sp.Rational(1, 2): 2, sp.Rational(3, 2): 4}),
                                     ("p-spin", {sp.Rational(1, 2): 2, sp.Rational(3, 2): 4}),
                                     ("d-spin", {sp.Rational(3, 2): 4, sp.Rational(5, 2): 6})])
def test_total_j_multiplets(name, js):
    ev = get_basis(name).generators("J").casimir().eigenvals()
    assert ev == {j * (j + 1): mult for j, mult in js.items()}


def test_product_generators_refuse_mismatched_normalizations():
    with pytest.raises(ValueError, match="normalization"):
        product_generators(t2g_L(), pauli())


def test_unknown_basis_and_kind_messages():
    with pytest.raises(ValueError, match=r"unknown basis 't2g_spin' \(did you mean 't2g-spin'.*allowed: t2g"):
        get_basis("t2g_spin")
    with pytest.raises(ValueError, match=r"generator kind 'S' is not available for basis 't2g'; allowed: L"):
        get_basis("t2g").generators("S")
    with pytest.raises(ValueError, match="needs S generators"):
        spin_orbit_coupling("t2g")


def test_spin_basis_offers_s_and_paper_pauli():
    b = get_basis("spin")
    assert b.generators("sigma").matrices == pauli().matrices
    assert b.generators().matrices == tuple(m / 2 for m in pauli().matrices)


# ---------------------------------------------------------------------- spin-orbit coupling
@pytest.mark.parametrize("name", SPINFUL)
def test_soc_torque_vanishes_for_j_but_not_for_l_and_s(name):
    b = get_basis(name)
    H = sp.Matrix(spin_orbit_coupling(b))
    L, S, J = (b.generators(k) for k in "LSJ")
    for a in range(3):
        tJ = sp.I * _comm(H, J.matrices[a])
        tL = sp.I * _comm(H, L.matrices[a])
        tS = sp.I * _comm(H, S.matrices[a])
        assert tJ.is_zero_matrix
        assert not tL.is_zero_matrix and not tS.is_zero_matrix
        assert sp.simplify(tL + tS).is_zero_matrix  # L and S exchange angular momentum


def test_t2g_soc_levels():
    """Effective L = 1 with S = 1/2: L.S = 1/2 (j = 3/2, 4 states) and -1 (j = 1/2, 2 states)."""
    lam = SYMBOLS["lam"]
    ev = sp.Matrix(spin_orbit_coupling("t2g-spin")).eigenvals()
    assert ev == {lam / 2: 4, -lam: 2}


def test_soc_torques_through_the_continuity_equation():
    continuity = pytest.importorskip("orbsym.symbolic.continuity")
    b = get_basis("t2g-spin")
    model = spinful_metal(hopping="isotropic", soc=True)
    dJ, dL, dS = (continuity.derive(model, b.generators(k)) for k in "JLS")
    for a in "xyz":
        assert dJ.torque_onsite[a].is_zero()
        assert not dL.torque_onsite[a].is_zero() and not dS.torque_onsite[a].is_zero()
        assert (dL.torque_onsite[a] + dS.torque_onsite[a]).simplify().is_zero()
        for d in model.offsets:  # isotropic hopping: no bond torques at all
            assert dJ.torque[(a, d)].is_zero()
    # with the paper's anisotropic hopping the orbital (hence total) bond torques appear, spin ones do not
    aniso = spinful_metal(hopping="paper", soc=True)
    dJa, dSa = continuity.derive(aniso, b.generators("J")), continuity.derive(aniso, b.generators("S"))
    assert not dJa.torque[("x", (1, 0))].is_zero()
    assert all(dSa.torque[(a, d)].is_zero() for a in "xyz" for d in aniso.offsets)


# ---------------------------------------------------------------------- Rashba terms
def _bloch(hops, k):
    return sum(_np(m) * np.exp(1j * (k[0] * d[0] + k[1] * d[1])) + _np(m).conj().T * np.exp(-1j * (k[0] * d[0] + k[1] * d[1]))
               for d, m in hops.items())


@settings(max_examples=15)
@given(st.floats(-np.pi, np.pi), st.floats(-np.pi, np.pi), st.floats(-2, 2))
def test_rashba_hoppings_are_alpha_g_cross_k(kx, ky, alpha):
    for name, fn, scale in (("t2g", orbital_rashba, 1), ("p-spin", orbital_rashba, 1), ("t2g-spin", spin_rashba, 2)):
        b = get_basis(name)
        G = b.generators("S" if fn is spin_rashba else "L").to_numpy() * scale
        h = _bloch(fn(b, alpha), (kx, ky))
        assert np.allclose(h, alpha * (G[0] * np.sin(ky) - G[1] * np.sin(kx))), name


# ---------------------------------------------------------------------- models
def test_spinful_metal_paper_hopping_is_eq3_times_spin_identity():
    m = spinful_metal("t2g", hopping="paper", soc=False)
    ref = multiorbital_metal()
    for d, t in ref.hoppings.items():
        assert m.hoppings[d] == sp.kronecker_product(t, sp.eye(2))
    assert m.onsite == -MODEL_SYMBOLS["mu"] * sp.eye(6)
    assert m.generators == get_basis("t2g-spin").generators("J")


def test_spinful_metal_options_add_the_documented_terms():
    b = get_basis("t2g-spin")
    m = spinful_metal("t2g", hopping="paper", soc=True, orbital_rashba_term=True, spin_rashba_term=True, generators="L")
    base = spinful_metal("t2g", hopping="paper", soc=False)
    assert m.onsite - base.onsite == spin_orbit_coupling(b)
    for d in base.hoppings:
        assert m.hoppings[d] - base.hoppings[d] == orbital_rashba(b)[d] + spin_rashba(b)[d]
    assert m.generators.name == "L"
    assert {SYMBOLS["lam"], SYMBOLS["alpha_R"], SYMBOLS["alpha_S"]} <= set(m.parameters)


def test_spinful_metal_symmetric_hopping_and_errors():
    m = spinful_metal("p", hopping="symmetric", soc=True)
    assert {s.name for s in m.parameters} >= {"t_1", "t_2", "t_3", "lam", "mu"}
    with pytest.raises(ValueError, match=r"unknown orbitals 'f'; allowed: t2g, p, d"):
        spinful_metal("f")
    with pytest.raises(ValueError, match=r"unknown hopping 'sk'; allowed: 'paper', 'symmetric', 'isotropic'"):
        spinful_metal("t2g", hopping="sk")
    with pytest.raises(ValueError, match="only for orbitals 't2g'"):
        spinful_metal("d", hopping="paper")


def test_spinful_ferromagnet_and_with_generators():
    fm = spinful_ferromagnet("t2g", exchange="S")
    b = get_basis("t2g-spin")
    m = tuple(MODEL_SYMBOLS[f"m_{a}"] for a in "xyz")
    assert fm.onsite == -MODEL_SYMBOLS["mu"] * sp.eye(6) - b.generators("S").dot(m)
    assert with_generators(fm, b, "L").generators == b.generators("L")
    with pytest.raises(ValueError, match="has 3 states"):
        with_generators(fm, "t2g", "L")
