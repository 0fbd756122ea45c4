"""The derived torques (Eq. 11 form) checked directly, not against the stored derivations/*.md.

The torque that the bonds along ``d`` exert on site ``n`` collects the pieces of the equation of
motion that are not a divergence.  A bond ``(n, n + d)`` gives it its source at the start site, and
the bond ``(n - d, n)`` its source at the end site: the torque is the source plus its copy shifted by
``-d``.  Dropping that shifted copy for one polarization changes the rendered derivations/*.md, so the
stored-file comparison catches it, but regenerating the files would hide it.  These tests check, for
every polarization and bond of several models (paper models, a spin-1/2 set, a random complex model
with next-nearest-neighbour bonds), symbolically (differences simplify to exactly zero):

* the Eq. (11) lattice-derivative form (``Derivation.torque_derivative_form``, both decompositions),
  turned back into bilinears, is the source plus its shifted copy;
* per bond direction, Eq. (8) written down here from the hopping matrices alone equals
  ``torque_d - (j_d(n) - j_d(n - d))`` -- a check of the torque against the Hamiltonian that does not
  use the library's equation of motion.
"""

import numpy as np
import pytest
import sympy as sp

from orbsym.symbolic.continuity import derive, from_derivative_form
from orbsym.symbolic.generators import spin_half, t2g_L
from orbsym.symbolic.models import Model, altermagnet, ferromagnet, multiorbital_metal
from orbsym.symbolic.operators import LatticeOperator, adjoint, neg_offset


def _random_nnn_model():
    """Numeric complex (non-Hermitian) hoppings on (1, 0), (0, 1), (1, 1), (1, -1); Gaussian rationals."""
    rng = np.random.default_rng(7)

    def cmat():
        a = rng.integers(-3, 4, size=(3, 3, 2))
        return sp.Matrix(3, 3, lambda i, j: sp.Rational(int(a[i, j, 0]), 2) + sp.I * sp.Rational(int(a[i, j, 1]), 3))

    hops = {"x": cmat(), "y": cmat(), (1, 1): cmat(), (1, -1): cmat()}
    return Model("random-nnn", t2g_L(), hops, -sp.Symbol("mu", real=True) * sp.eye(3))


MODELS = {
    "multiorbital": multiorbital_metal,
    "altermagnet-pauli": altermagnet,
    "altermagnet-S": lambda: altermagnet(spin_half()),
    "ferromagnet": ferromagnet,
    "random-nnn": _random_nnn_model,
}


def _zero(op):
    return op.simplify().is_zero()


def _eq8_bond(J, t, d):
    """Eq. (8) of the bonds along d at site 0, from the hopping t_d alone: ``i c^dag [h, J_0] c`` restricted
    to the bonds (0, d) and (-d, 0), with h_{0,d} = t_d, h_{d,0} = t_d^dag, h_{-d,0} = t_d, h_{0,-d} = t_d^dag."""
    I = sp.I
    td = adjoint(t)
    md = neg_offset(d)
    z = (0, 0)
    return LatticeOperator(
        {
            (d, z): I * td * J,  # c_{n+d}^dag t^dag J c_n
            (z, d): -I * J * t,  # -c_n^dag J t c_{n+d}
            (md, z): I * t * J,  # c_{n-d}^dag t J c_n
            (z, md): -I * J * td,  # -c_n^dag J t^dag c_{n-d}
        }
    )


@pytest.mark.parametrize("name", list(MODELS))
def test_torque_is_the_source_plus_its_shifted_copy(name):
    model = MODELS[name]()
    der = derive(model)
    for alpha in "xyz":
        for d in model.offsets:
            md = neg_offset(d)
            src = der.source[(alpha, d)]
            bond = from_derivative_form(der.torque_derivative_form(alpha, d, "bond"))
            assert _zero(bond - (src + src.shift(md))), (name, alpha, d, "bond")
            assert _zero(der.torque[(alpha, d)] - (src + src.shift(md))), (name, alpha, d)
            _, s_start, s_end = der.forward[(alpha, d)]
            fwd = from_derivative_form(der.torque_derivative_form(alpha, d, "forward"))
            assert _zero(fwd - (s_start + s_end.shift(md))), (name, alpha, d, "forward")


@pytest.mark.parametrize("name", list(MODELS))
def test_eq11_torque_closes_eq8_with_the_divergence_bond_by_bond(name):
    """Eq. (8) of the bonds along d == torque_d - (j_d(n) - j_d(n - d)) for the bond current and for the
    Eq. (7) forward current, every polarization; the torques read back from their Eq. (11) form."""
    model = MODELS[name]()
    der = derive(model)
    nonzero = 0
    for alpha, J in zip("xyz", der.generators.matrices):
        J = sp.ImmutableMatrix(J)
        for d in model.offsets:
            md = neg_offset(d)
            eq8 = _eq8_bond(J, model.hopping(d), d)
            for kind, j in (("bond", der.current[(alpha, d)]), ("forward", der.forward[(alpha, d)][0])):
                tau = from_derivative_form(der.torque_derivative_form(alpha, d, kind))
                nonzero += not tau.is_zero()
                assert _zero(eq8 - (tau - (j - j.shift(md)))), (name, alpha, d, kind)
    if name != "ferromagnet":
        assert nonzero > 0  # some torque was there to lose


@pytest.mark.parametrize("hermitian", [False, True])
def test_generic_torque_closes_the_equation_of_motion(hermitian):
    """Position-dependent generic hoppings (the derivations/generic.md document): the torque of the
    bonds along d is the source plus its shifted copy, and Eq. (8) == onsite + sum_d (torque_d - div_d j)."""
    from orbsym.symbolic.continuity import derive_generic

    g = derive_generic(hermitian=hermitian)
    rel = g.symbols.relabel
    total = LatticeOperator()
    for op in g.eom.values():
        total = total + op
    closed = g.onsite
    for d in g.directions:
        md = neg_offset(d)
        src, j = g.source[d], g.current[d]
        assert _zero(g.torque[d] - (src + src.shift(md, rel))), d
        closed = closed + g.torque[d] - (j - j.shift(md, rel))
    assert _zero(total - closed)
