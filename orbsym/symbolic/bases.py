"""On-site bases beyond the paper: d, p and orbital x spin product bases and their generators.

A :class:`Basis` names the on-site states of a lattice site, the real-space *shape* of each orbital
(a real polynomial in ``x, y, z``; :mod:`orbsym.symbolic.symmetry` derives the point-group representation
from it) and whether each orbital carries a spin 1/2.  It provides the angular-momentum generator
sets on the full on-site space:

* ``L`` -- orbital angular momentum, ``L (x) 1`` on a spinful basis,
* ``S`` -- spin, ``1 (x) S`` with ``S = sigma / 2`` (normalization 1),
* ``J`` -- total angular momentum ``L (x) 1 + 1 (x) S``,

all validated by :class:`~orbsym.symbolic.generators.GeneratorSet` with normalization ``c = 1``.

Conventions (see :mod:`orbsym.conventions`)
--------------------------------------------
* Product bases are orbital-major: ``(o1 up, o1 down, o2 up, o2 down, ...)``, i.e. matrices are
  ``kron(orbital, spin)``.
* ``t2g`` uses the *effective* L of Eq. (2) (``orbsym.symbolic.generators.t2g_L``), ``p`` the L = 1 matrices
  of ``p_L``, ``d`` the physical L = 2 matrices of ``d_L`` in the real basis
  ``(d_yz, d_xz, d_xy, d_x2-y2, d_z2)``.  For t2g, ``lambda L.S`` with the effective L is the usual
  effective SOC of the t2g manifold (the physical projected SOC is ``-lambda L_eff . S`` up to the
  orbital phase convention; the sign of ``lambda`` is a free parameter here).
* Hopping terms follow the one-bond-once convention ``c_n^dag t_d c_{n+d} + h.c.``; a term
  ``A sin(k . d)`` (``A`` Hermitian) is the hopping ``t_d = -i A / 2``.

The spin-orbit, Rashba and spinful model builders on these bases are in
:mod:`orbsym.symbolic.spinful`; the symmetry analysis of :mod:`orbsym.symbolic.symmetry` uses the
bases (never the reverse).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import sympy as sp

from .generators import GeneratorSet, d_L, p_L, pauli, spin_half, t2g_L

__all__ = ["Basis", "BASES", "get_basis", "product_generators", "require_generators", "kron"]


#: Real-space coordinates used in orbital shapes.
X, Y, Z = sp.symbols("x y z", real=True)

SPIN_LABELS = ("up", "down")


def kron(a, b):
    """``kron(a, b)`` of two SymPy matrices (orbital-major product basis), immutable."""
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
    Lm = tuple(kron(m, one_s) for m in orbital.matrices)
    Sm = tuple(kron(one_o, m) for m in spin.matrices)
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
            raise ValueError(f"basis {self.name!r}: orbital shapes must be polynomials in orbsym.symbolic.bases.X, Y, Z, got {bad}")
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
        "five real d orbitals, physical L = 2 (orbsym.symbolic.generators.d_L)",
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


def require_generators(basis, kind, what):
    """Generator set ``kind`` of ``basis``; ValueError naming ``what`` needs it if the basis lacks it."""
    if kind not in basis.generator_kinds:
        raise ValueError(f"{what} needs {kind} generators, but basis {basis.name!r} only has {', '.join(basis.generator_kinds) or 'none'}")
    return basis.generators(kind)
