"""On-site bases beyond the paper: d, p and orbital x spin product bases, with SOC and Rashba terms.

A :class:`Basis` names the on-site states of a lattice site, the real-space *shape* of each orbital
(a real polynomial in ``x, y, z``; :mod:`orbsym.symmetry` derives the point-group representation
from it) and whether each orbital carries a spin 1/2.  It provides the angular-momentum generator
sets on the full on-site space:

* ``L`` -- orbital angular momentum, ``L (x) 1`` on a spinful basis,
* ``S`` -- spin, ``1 (x) S`` with ``S = sigma / 2`` (normalization 1),
* ``J`` -- total angular momentum ``L (x) 1 + 1 (x) S``,

all validated by :class:`~orbsym.generators.GeneratorSet` with normalization ``c = 1``.

Conventions (see :mod:`orbsym.conventions`)
--------------------------------------------
* Product bases are orbital-major: ``(o1 up, o1 down, o2 up, o2 down, ...)``, i.e. matrices are
  ``kron(orbital, spin)``.
* ``t2g`` uses the *effective* L of Eq. (2) (``orbsym.generators.t2g_L``), ``p`` the L = 1 matrices
  of ``p_L``, ``d`` the physical L = 2 matrices of ``d_L`` in the real basis
  ``(d_yz, d_xz, d_xy, d_x2-y2, d_z2)``.  For t2g, ``lambda L.S`` with the effective L is the usual
  effective SOC of the t2g manifold (the physical projected SOC is ``-lambda L_eff . S`` up to the
  orbital phase convention; the sign of ``lambda`` is a free parameter here).
* Hopping terms follow the one-bond-once convention ``c_n^dag t_d c_{n+d} + h.c.``; a term
  ``A sin(k . d)`` (``A`` Hermitian) is the hopping ``t_d = -i A / 2``.

Parameters introduced here are real SymPy symbols in :data:`SYMBOLS`: ``lam`` (SOC ``lambda``),
``alpha_R`` (orbital Rashba) and ``alpha_S`` (spin Rashba).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import sympy as sp

from .generators import GeneratorSet, d_L, p_L, pauli, spin_half, t2g_L
from .models import SYMBOLS as MODEL_SYMBOLS
from .models import Model

__all__ = [
    "Basis",
    "BASES",
    "SYMBOLS",
    "get_basis",
    "product_generators",
    "spin_orbit_coupling",
    "orbital_rashba",
    "spin_rashba",
    "spinful_metal",
    "spinful_ferromagnet",
    "with_generators",
]

#: Parameters of the on-site and Rashba terms (real symbols).
SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("lam", "alpha_R", "alpha_S")}

#: Real-space coordinates used in orbital shapes.
X, Y, Z = sp.symbols("x y z", real=True)

SPIN_LABELS = ("up", "down")


def _kron(a, b):
    a, b = sp.Matrix(a), sp.Matrix(b)
    return sp.ImmutableMatrix(sp.kronecker_product(a, b))


def product_generators(orbital, spin=None):
    """Generator sets ``L (x) 1``, ``1 (x) S`` and ``J = L (x) 1 + 1 (x) S`` on an orbital x spin space.

    Parameters
    ----------
    orbital : GeneratorSet
        Orbital angular momentum on the orbital basis (normalization 1).
    spin : GeneratorSet, optional
        Spin generators on ``(up, down)``; default ``S = sigma / 2`` (normalization 1).

    Returns
    -------
    dict
        ``{"L": GeneratorSet, "S": GeneratorSet, "J": GeneratorSet}``, all validated; basis labels
        ``"<orbital>,<spin>"`` in orbital-major order.

    Raises
    ------
    ValueError
        If the two normalizations differ (``L + S`` would not close an algebra).
    """
    spin = spin_half() if spin is None else spin
    if sp.simplify(orbital.normalization - spin.normalization) != 0:
        raise ValueError(
            f"orbital ({orbital.name}, c = {orbital.normalization}) and spin ({spin.name}, c = {spin.normalization}) "
            "generators must share the normalization c for J = L + S to close the algebra; use spin_half() for S"
        )
    labels = tuple(f"{o},{s}" for o in orbital.basis for s in spin.basis)
    one_o = sp.eye(orbital.dim)
    one_s = sp.eye(spin.dim)
    Lm = tuple(_kron(m, one_s) for m in orbital.matrices)
    Sm = tuple(_kron(one_o, m) for m in spin.matrices)
    Jm = tuple(sp.ImmutableMatrix(a + b) for a, b in zip(Lm, Sm))
    c = orbital.normalization
    return {
        "L": GeneratorSet(Lm, c, "L", orbital.symbol, labels),
        "S": GeneratorSet(Sm, c, "S", spin.symbol, labels),
        "J": GeneratorSet(Jm, c, "J", "J", labels),
    }


@dataclass(frozen=True)
class Basis:
    """On-site basis: orbitals with real-space shapes, optionally times spin 1/2.

    Parameters
    ----------
    name : str
        Identifier (``"t2g"``, ``"t2g-spin"``, ...).
    orbitals : tuple of str
        Orbital labels in basis order.
    shapes : tuple of sympy expressions
        Real polynomial in ``x, y, z`` (:data:`X`, :data:`Y`, :data:`Z`) for each orbital, e.g.
        ``y*z`` for ``d_yz``; fixes how the orbital transforms under point-group operations.
    spinful : bool
        Whether each orbital carries spin 1/2 (orbital-major product basis).
    orbital_generators : GeneratorSet or None
        Orbital angular momentum on the orbital part (None for a pure spin basis).
    description : str
    """

    name: str
    orbitals: tuple
    shapes: tuple
    spinful: bool = False
    orbital_generators: GeneratorSet = None
    description: str = ""
    _sets: dict = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if len(self.orbitals) != len(self.shapes) or not self.orbitals:
            raise ValueError(f"basis {self.name!r}: need one shape per orbital, got {len(self.orbitals)} orbitals and {len(self.shapes)} shapes")
        shapes = tuple(sp.sympify(s) for s in self.shapes)
        bad = [s for s in shapes if not s.free_symbols <= {X, Y, Z}]
        if bad:
            raise ValueError(f"basis {self.name!r}: orbital shapes must be polynomials in orbsym.bases.X, Y, Z, got {bad}")
        object.__setattr__(self, "shapes", shapes)
        if self.orbital_generators is not None and self.orbital_generators.dim != len(self.orbitals):
            raise ValueError(
                f"basis {self.name!r}: orbital generators act on {self.orbital_generators.dim} states, "
                f"but there are {len(self.orbitals)} orbitals"
            )
        object.__setattr__(self, "_sets", self._build_sets())

    def _build_sets(self):
        if not self.spinful:
            if self.orbital_generators is None:
                return {}
            return {"L": self.orbital_generators}
        if self.orbital_generators is None:  # pure spin (s orbital)
            return {"S": spin_half(), "sigma": pauli()}
        return product_generators(self.orbital_generators)

    @property
    def labels(self):
        """Labels of the on-site states in basis order."""
        if not self.spinful:
            return tuple(self.orbitals)
        if len(self.orbitals) == 1 and self.orbital_generators is None:
            return SPIN_LABELS
        return tuple(f"{o},{s}" for o in self.orbitals for s in SPIN_LABELS)

    @property
    def dim(self):
        """Number of on-site states."""
        return len(self.orbitals) * (2 if self.spinful else 1)

    @property
    def generator_kinds(self):
        """Names of the available generator sets (subset of ``("L", "S", "J")``)."""
        return tuple(self._sets)

    def generators(self, kind=None):
        """Generator set ``"L"``, ``"S"`` or ``"J"`` on the full on-site space.

        Parameters
        ----------
        kind : str, optional
            Default ``"J"`` for product bases, ``"L"`` for orbital bases, ``"S"`` for spin (the pure
            spin basis also offers the paper's Pauli matrices as ``"sigma"``).

        Raises
        ------
        ValueError
            If ``kind`` is not available for this basis; the message lists the allowed kinds.
        """
        if kind is None:
            kind = "J" if "J" in self._sets else next(iter(self._sets), None)
        try:
            return self._sets[kind]
        except KeyError:
            raise ValueError(
                f"generator kind {kind!r} is not available for basis {self.name!r}; allowed: {', '.join(self._sets) or 'none'}"
            ) from None


def _t2g():
    return Basis("t2g", ("d_yz", "d_xz", "d_xy"), (Y * Z, X * Z, X * Y), False, t2g_L(),
                 "t2g orbitals (d_yz, d_xz, d_xy) with the effective L of Eq. (2)")


def _p():
    return Basis("p", ("p_x", "p_y", "p_z"), (X, Y, Z), False, p_L(), "p orbitals (p_x, p_y, p_z), L = 1")


def _d():
    return Basis(
        "d",
        ("d_yz", "d_xz", "d_xy", "d_x2-y2", "d_z2"),
        (Y * Z, X * Z, X * Y, (X**2 - Y**2) / 2, (2 * Z**2 - X**2 - Y**2) / (2 * sp.sqrt(3))),
        False,
        d_L(),
        "five real d orbitals, physical L = 2 (orbsym.generators.d_L)",
    )


def _spinful(base, name):
    return Basis(name, base.orbitals, base.shapes, True, base.orbital_generators, base.description + " x spin 1/2")


#: Named bases (factories).
BASES = {
    "t2g": _t2g,
    "p": _p,
    "d": _d,
    "spin": lambda: Basis("spin", ("s",), (sp.Integer(1),), True, None, "spin 1/2 on an s orbital (up, down), S = sigma/2"),
    "t2g-spin": lambda: _spinful(_t2g(), "t2g-spin"),
    "p-spin": lambda: _spinful(_p(), "p-spin"),
    "d-spin": lambda: _spinful(_d(), "d-spin"),
}

_CACHE = {}


def get_basis(name):
    """Return a named :class:`Basis` (``"t2g"``, ``"p"``, ``"d"``, ``"spin"``, ``"t2g-spin"``, ``"p-spin"``, ``"d-spin"``).

    A :class:`Basis` instance is returned unchanged.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the allowed names.
    """
    if isinstance(name, Basis):
        return name
    if not isinstance(name, str) or name not in BASES:
        close = difflib.get_close_matches(str(name), BASES, n=2)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"unknown basis {name!r}{hint}; allowed: {', '.join(BASES)}")
    if name not in _CACHE:
        _CACHE[name] = BASES[name]()
    return _CACHE[name]


def _need(basis, kind, what):
    if kind not in basis.generator_kinds:
        raise ValueError(f"{what} needs {kind} generators, but basis {basis.name!r} only has {', '.join(basis.generator_kinds) or 'none'}")
    return basis.generators(kind)


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
    L = _need(basis, "L", "spin-orbit coupling")
    S = _need(basis, "S", "spin-orbit coupling")
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
    against :func:`orbsym.symmetry.symmetric_hoppings`).
    """
    basis = get_basis(basis)
    L = _need(basis, "L", "the orbital Rashba term")
    return _rashba(L, SYMBOLS["alpha_R"] if alpha is None else sp.sympify(alpha), 1)


def spin_rashba(basis, alpha=None):
    """Spin Rashba hopping ``alpha_S (sigma x k)_z`` with ``sigma = 2 S``; same form as :func:`orbital_rashba`."""
    basis = get_basis(basis)
    S = _need(basis, "S", "the spin Rashba term")
    return _rashba(S, SYMBOLS["alpha_S"] if alpha is None else sp.sympify(alpha), 2)


def _add(hops, extra):
    out = dict(hops)
    for d, m in extra.items():
        out[d] = sp.ImmutableMatrix(out.get(d, sp.zeros(m.rows)) + m)
    return out


def with_generators(model, basis, kind):
    """The same model with the generator set ``kind`` (``"L"``, ``"S"`` or ``"J"``) of ``basis``.

    Use it to derive orbital, spin and total angular-momentum currents and torques of one
    Hamiltonian (``orbsym.continuity.derive`` works on the model's generators).
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
        (:func:`orbsym.symmetry.symmetric_hoppings` on the orbital basis, parameters ``t_1, t_2, ...``)
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
        from .symmetry import point_group, symmetric_hoppings

        orb_hops = symmetric_hoppings(orbitals, point_group("D4h")).hoppings
    elif hopping == "isotropic":
        orb_hops = {(1, 0): -MODEL_SYMBOLS["t"] * sp.eye(n_orb), (0, 1): -MODEL_SYMBOLS["t"] * sp.eye(n_orb)}
    else:
        raise ValueError(f"unknown hopping {hopping!r}; allowed: 'paper', 'symmetric', 'isotropic'")
    hops = {d: _kron(m, sp.eye(2)) for d, m in orb_hops.items()}
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
