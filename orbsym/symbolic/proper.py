"""The proper (conserved) angular-momentum current on the lattice (Shi, Zhang, Xiao, Niu; the paper's ref. 44).

If the torque density is a divergence, ``tau_n = -div P_n``, the proper current ``j + P`` obeys an
ordinary continuity equation ``dJ_n/dt = -div (j + P)_n``.  On the lattice this is decided exactly:

Operator identity
    A translation-invariant local operator density ``O_n = sum c^dag_{n+a} M_ab c_{n+b}`` is a
    lattice divergence of a local operator iff its sum over the lattice vanishes as an operator,
    i.e. iff its Bloch matrix ``O(k) = sum_ab M_ab e^{i k.(b - a)}`` vanishes at every k.  For the
    torque of :mod:`orbsym.symbolic.continuity` (bond sources + exchange torque) the sum is
    ``sum_n tau_n = i [H, J_total]``, with Bloch matrix ``tau(k) = i [h(k), J_alpha]``
    (:func:`net_torque`).  Because the Fourier components of ``h(k)`` are independent, ``tau(k) = 0``
    forces ``[t_d, J] = 0`` on every bond and ``[eps, J] = 0``, and then every bond source vanishes:
    **a local operator P exists only when J_alpha is conserved bond by bond, and then P = 0.**  For
    the paper's models ([t, L] != 0 for gamma != t, the FM exchange) no operator P exists.

Expectation values in a class of states
    For a state invariant along y (the column geometry of :mod:`orbsym.numeric`) the torque per
    column ``tau(x)`` is a divergence iff its sum vanishes, with ``P(b) = -sum_{x <= b} tau(x)`` on
    the boundary between columns ``b`` and ``b + 1`` (hard walls).  The sum is
    ``d<J_total>/dt``: zero in every stationary state ``rho = g(H)`` (equilibrium), so there P always
    exists and ``-div (I + P) = 0`` -- the equilibrium proper current vanishes identically; in a
    driven steady state it exists iff the driven accumulation has no net relaxation rate.  This is
    what :meth:`orbsym.numeric.Observables.torque_dipole` / ``proper_current`` and
    :meth:`orbsym.systems.Result.proper_currents` evaluate; P is a string (cumulative) operator, not
    a local kernel, so it is evaluated from the torque kernels rather than exported as one.

The sample-integrated SZXN current ``d(sum_n x_n J_n)/dt = sum_bonds d_x j + sum_n x_n tau_n``
needs no condition; on the column lattice it equals ``sum_b (I + P)(b)`` whenever P exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .models import Model

__all__ = ["bloch_hamiltonian", "net_torque", "TorqueDipole", "torque_dipole", "KX", "KY"]

KX, KY = sp.symbols("k_x k_y", real=True)


def bloch_hamiltonian(model, generators=None):
    """``h(k) = eps + sum_d (t_d e^{i k.d} + h.c.)`` of a :class:`Model` (each bond once)."""
    if not isinstance(model, Model):
        raise TypeError(f"bloch_hamiltonian() needs an orbsym Model, got {type(model).__name__}")
    h = sp.Matrix(model.onsite)
    for d, t in model.hoppings.items():
        ph = sp.exp(sp.I * (KX * d[0] + KY * d[1]))
        h += ph * sp.Matrix(t) + sp.conjugate(ph) * sp.Matrix(t).H
    return h


def net_torque(model, polarization, generators=None):
    """Bloch matrix ``tau(k) = i [h(k), J_alpha]`` of the lattice-summed torque (simplified)."""
    gens = generators or model.generators
    if polarization not in ("x", "y", "z"):
        raise ValueError(f"unknown polarization {polarization!r}; allowed: x, y, z")
    J = sp.Matrix(gens.matrices["xyz".index(polarization)])
    h = bloch_hamiltonian(model)
    tau = sp.I * (h * J - J * h)
    return sp.ImmutableMatrix(tau.applyfunc(lambda v: sp.simplify(sp.expand_complex(v))))


@dataclass(frozen=True)
class TorqueDipole:
    """Whether the torque of one polarization is a lattice divergence as an operator.

    Attributes
    ----------
    polarization : str
    exists_as_operator : bool
        ``tau(k) = 0`` identically: then every bond conserves ``J`` and ``P = 0``.
    net_torque : sympy.Matrix
        ``i [h(k), J_alpha]`` (the obstruction when nonzero).
    statement : str
        What holds instead (the expectation-value construction).
    """

    polarization: str
    exists_as_operator: bool
    net_torque: sp.Matrix
    statement: str


def torque_dipole(model, generators=None):
    """Decide, per polarization, whether a local operator torque dipole exists (module docstring).

    Returns
    -------
    dict ``{"x" | "y" | "z": TorqueDipole}``
    """
    out = {}
    for a in "xyz":
        tau = net_torque(model, a, generators)
        zero = all(v == 0 for v in tau)
        if zero:
            text = f"J_{a} is conserved by every bond and the exchange: tau = 0, P = 0, the bond current is already proper"
        else:
            text = (
                f"no local operator P for J_{a}: sum_n tau_n = i[H, J_total] != 0 (tau(k) below); P = -sum_(x<=b) <tau(x)> exists "
                "for expectation values in states with zero net torque (every stationary state, e.g. equilibrium)"
            )
        out[a] = TorqueDipole(a, zero, tau, text)
    return out
