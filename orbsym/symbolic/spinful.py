"""Spinful (orbital x spin) models: on-site spin-orbit coupling, orbital and spin Rashba hoppings.

Built on the product bases of :mod:`orbsym.symbolic.bases` (orbital-major ``kron(orbital, spin)``
ordering, :mod:`orbsym.conventions`); ``hopping="symmetric"`` takes the D4h-invariant orbital
hoppings of :mod:`orbsym.symbolic.symmetry`.  Hopping terms follow the one-bond-once convention
``c_n^dag t_d c_{n+d} + h.c.``; a term ``A sin(k . d)`` (``A`` Hermitian) is the hopping
``t_d = -i A / 2``.

Parameters introduced here are real SymPy symbols in :data:`SYMBOLS`: ``lam`` (SOC ``lambda``),
``alpha_R`` (orbital Rashba) and ``alpha_S`` (spin Rashba).
"""

from __future__ import annotations

import sympy as sp

from .bases import get_basis, kron, require_generators
from .models import SYMBOLS as MODEL_SYMBOLS
from .models import Model
from .symmetry import point_group, symmetric_hoppings

__all__ = [
    "SYMBOLS",
    "spin_orbit_coupling",
    "orbital_rashba",
    "spin_rashba",
    "spinful_metal",
    "spinful_ferromagnet",
    "with_generators",
]

#: Parameters of the on-site and Rashba terms (real symbols).
SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("lam", "alpha_R", "alpha_S")}


# ---------------------------------------------------------------------- on-site and Rashba terms
def spin_orbit_coupling(basis, lam=None):
    """On-site spin-orbit coupling ``lambda L . S`` (``S = sigma / 2``) on a spinful orbital basis.

    Parameters
    ----------
    basis : Basis or str
        An orbital x spin basis (``"t2g-spin"``, ``"p-spin"``, ``"d-spin"``).
    lam : expression, optional
        Coupling (default the real symbol ``lam``, rendered ``lambda``).

    Returns
    -------
    sympy.ImmutableMatrix
        Hermitian ``dim x dim`` matrix.  It commutes with every ``J_a = L_a + S_a`` (the on-site
        SOC torque on J vanishes) but not with ``L_a`` or ``S_a`` separately.
    """
    basis = get_basis(basis)
    L = require_generators(basis, "L", "spin-orbit coupling")
    S = require_generators(basis, "S", "spin-orbit coupling")
    lam = SYMBOLS["lam"] if lam is None else sp.sympify(lam)
    return sp.ImmutableMatrix(lam * sum((a * b for a, b in zip(L.matrices, S.matrices)), sp.zeros(basis.dim)))


def _rashba(gens, alpha, scale):
    # alpha (G x k)_z = alpha (G_x sin k_y - G_y sin k_x);  A sin(k.d)  <->  t_d = -i A / 2
    Gx, Gy = gens.matrices[0] * scale, gens.matrices[1] * scale
    return {
        (1, 0): sp.ImmutableMatrix(-sp.I * (-alpha * Gy) / 2),
        (0, 1): sp.ImmutableMatrix(-sp.I * (alpha * Gx) / 2),
    }


def orbital_rashba(basis, alpha=None):
    """Orbital Rashba hopping ``alpha_R (L x k)_z = alpha_R (L_x sin k_y - L_y sin k_x)``.

    Returns the hopping matrices ``{(1, 0): i alpha_R L_y / 2, (0, 1): -i alpha_R L_x / 2}`` (one bond
    once, :mod:`orbsym.conventions`).  It breaks ``M_z`` and is allowed by C4v (checked in the tests
    against :func:`orbsym.symbolic.symmetry.symmetric_hoppings`).
    """
    basis = get_basis(basis)
    L = require_generators(basis, "L", "the orbital Rashba term")
    return _rashba(L, SYMBOLS["alpha_R"] if alpha is None else sp.sympify(alpha), 1)


def spin_rashba(basis, alpha=None):
    """Spin Rashba hopping ``alpha_S (sigma x k)_z`` with ``sigma = 2 S``; same form as :func:`orbital_rashba`."""
    basis = get_basis(basis)
    S = require_generators(basis, "S", "the spin Rashba term")
    return _rashba(S, SYMBOLS["alpha_S"] if alpha is None else sp.sympify(alpha), 2)


def _add(hops, extra):
    out = dict(hops)
    for d, m in extra.items():
        out[d] = sp.ImmutableMatrix(out.get(d, sp.zeros(m.rows)) + m)
    return out


def with_generators(model, basis, kind):
    """The same model with the generator set ``kind`` (``"L"``, ``"S"`` or ``"J"``) of ``basis``.

    Use it to derive orbital, spin and total angular-momentum currents and torques of one
    Hamiltonian (``orbsym.symbolic.continuity.derive`` works on the model's generators).
    """
    basis = get_basis(basis)
    gens = basis.generators(kind)
    if gens.dim != model.dim:
        raise ValueError(f"basis {basis.name!r} has {gens.dim} states but model {model.name!r} has {model.dim}")
    return Model(model.name, gens, model.hoppings, model.onsite, model.description, model.magnetization)


def _paper_hopping(orbitals):
    if orbitals != "t2g":
        raise ValueError(f"hopping='paper' (Eq. 3) exists only for orbitals 't2g', got {orbitals!r}; use hopping='symmetric' or 'isotropic'")
    t, g, tp = MODEL_SYMBOLS["t"], MODEL_SYMBOLS["gamma"], MODEL_SYMBOLS["tp"]
    return {(1, 0): sp.diag(-g, -t, -tp), (0, 1): sp.diag(-t, -g, -tp)}


def spinful_metal(orbitals="t2g", hopping="paper", soc=True, orbital_rashba_term=False, spin_rashba_term=False, generators="J"):
    """Orbital x spin metal with optional on-site SOC and Rashba hoppings.

    ``H = sum_{n,d} (c_n^dag t_d c_{n+d} + h.c.) + sum_n c_n^dag (-mu + lambda L.S) c_n``.

    Parameters
    ----------
    orbitals : {"t2g", "p", "d"}
    hopping : {"paper", "symmetric", "isotropic"}
        ``"paper"``: Eq. (3) (t2g only) times the spin identity; ``"symmetric"``: the most general
        spin-independent nearest-neighbour hopping allowed by C4v + M_z
        (:func:`orbsym.symbolic.symmetry.symmetric_hoppings` on the orbital basis, parameters ``t_1, t_2, ...``)
        times the spin identity; ``"isotropic"``: ``-t 1``.
    soc : bool
        Add ``lambda L . S`` on site (symbol ``lam``).
    orbital_rashba_term, spin_rashba_term : bool
        Add the Rashba hoppings of :func:`orbital_rashba` (``alpha_R``) / :func:`spin_rashba` (``alpha_S``).
    generators : {"J", "L", "S"}
        Generator set attached to the model (currents/torques of that quantity).

    Returns
    -------
    Model
    """
    allowed = ("t2g", "p", "d")
    if orbitals not in allowed:
        raise ValueError(f"unknown orbitals {orbitals!r}; allowed: {', '.join(allowed)}")
    basis = get_basis(f"{orbitals}-spin")
    n_orb = len(basis.orbitals)
    if hopping == "paper":
        orb_hops = _paper_hopping(orbitals)
    elif hopping == "symmetric":
        orb_hops = symmetric_hoppings(orbitals, point_group("D4h")).hoppings
    elif hopping == "isotropic":
        orb_hops = {(1, 0): -MODEL_SYMBOLS["t"] * sp.eye(n_orb), (0, 1): -MODEL_SYMBOLS["t"] * sp.eye(n_orb)}
    else:
        raise ValueError(f"unknown hopping {hopping!r}; allowed: 'paper', 'symmetric', 'isotropic'")
    hops = {d: kron(m, sp.eye(2)) for d, m in orb_hops.items()}
    if orbital_rashba_term:
        hops = _add(hops, orbital_rashba(basis))
    if spin_rashba_term:
        hops = _add(hops, spin_rashba(basis))
    onsite = -MODEL_SYMBOLS["mu"] * sp.eye(basis.dim)
    if soc:
        onsite = onsite + spin_orbit_coupling(basis)
    parts = [f"{orbitals} x spin metal, {hopping} hopping"]
    if soc:
        parts.append("on-site SOC lambda L.S")
    if orbital_rashba_term:
        parts.append("orbital Rashba alpha_R")
    if spin_rashba_term:
        parts.append("spin Rashba alpha_S")
    return Model(f"{orbitals}-spin-metal", basis.generators(generators), hops, onsite, ", ".join(parts))


def spinful_ferromagnet(orbitals="t2g", exchange="S", generators="J"):
    """Isotropic orbital x spin ferromagnet: ``t_x = t_y = -t 1``, on-site ``-mu - m . G``.

    Parameters
    ----------
    orbitals : {"t2g", "p", "d"}
    exchange : {"S", "L", "J"}
        Which angular momentum the exchange field couples to (Eq. 6 with ``G`` = that set);
        default spin.
    generators : {"J", "L", "S"}
        Generator set attached to the model.
    """
    allowed = ("t2g", "p", "d")
    if orbitals not in allowed:
        raise ValueError(f"unknown orbitals {orbitals!r}; allowed: {', '.join(allowed)}")
    basis = get_basis(f"{orbitals}-spin")
    ex = basis.generators(exchange)
    n = basis.dim
    t, mu = MODEL_SYMBOLS["t"], MODEL_SYMBOLS["mu"]
    m = tuple(MODEL_SYMBOLS[f"m_{a}"] for a in "xyz")
    return Model(
        f"{orbitals}-spin-ferromagnet",
        basis.generators(generators),
        {(1, 0): -t * sp.eye(n), (0, 1): -t * sp.eye(n)},
        -mu * sp.eye(n) - ex.dot(m),
        f"isotropic {orbitals} x spin ferromagnet with exchange -m.{exchange}",
        m,
    )
