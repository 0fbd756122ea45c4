"""Point-group symmetry of square-lattice models: which hopping matrices does symmetry allow?

This module derives the most general hopping matrices ``t_d`` (one bond once, as in
:mod:`orbsym.conventions`) compatible with a group of lattice symmetries, for any on-site
:class:`~orbsym.bases.Basis`.  It reproduces Eq. (3) of the paper from C4v + M_z and the
altermagnet of Eq. (4) from a spin group (see :func:`altermagnet_group`).

Symmetry operations
-------------------
An :class:`Operation` is a triple ``(R, S, antiunitary)``:

* ``R`` -- orthogonal 3x3 matrix acting on real space (it moves bonds ``d -> R d`` and transforms
  orbital shapes);
* ``S`` -- proper 3x3 rotation acting on spin.  For ordinary (magnetic) point-group operations the
  spin is *locked* to the lattice, ``S = det(R) R`` (a mirror acts on the spin pseudovector as the
  C2 rotation about its normal); spin groups (no SOC) let ``S`` differ from ``R``;
* ``antiunitary`` -- whether the operation contains time reversal ``T = i sigma_y K`` (``K`` alone
  on real orbitals).

Representations
---------------
* Orbitals: from their real-space shapes (polynomials in x, y, z, :mod:`orbsym.bases`):
  ``phi_a(R^{-1} r) = sum_b phi_b(r) D_ba``.  This is *not* ``exp(-i theta n . L)`` with the
  effective L of Eq. (2) (which gets e.g. the sign of ``d_xy`` under C4z wrong).
* Spin 1/2: the SU(2) matrix ``u(S) = cos(theta/2) - i sin(theta/2) n . sigma`` (double-group sign
  ambiguity is irrelevant, since only ``U X U^dag`` enters); time reversal adds ``i sigma_y`` and K.
* Product bases: ``U = D (x) u`` (orbital-major, :mod:`orbsym.bases`).

Constraints
-----------
With ``T(d) = <n| h |n + d>`` (so ``T(-d) = T(d)^dag``), invariance under ``g = (R, U, K^a)`` reads
``T(R d) = U T(d)^(*a) U^dag``.  For each orbit of bonds ``{d, -d}`` under the group we take a
representative ``d0``, impose the constraint of every element of its stabilizer (those with
``R d0 = +-d0``; for ``-d0`` the left-hand side is ``T(d0)^dag``), solve the real-linear system
exactly (SymPy ``DomainMatrix`` over QQ) and propagate the solution to the rest of the orbit.  Free
parameters are real symbols ``t_1, t_2, ...`` (nearest neighbours), ``s_1, ...`` (next-nearest) and
``e_1, ...`` (on-site); each equals one real or imaginary part of an entry of the representative's
matrix (recorded in :attr:`SymmetricHoppings.meaning`).

Why not qsymm: it would do the constraint solving, but not the orbital representations from shapes,
and works with floating-point representation matrices and k-space models; the exact solve here
is a few lines of SymPy.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from .bases import Basis, X, Y, Z, get_basis
from .models import Model, SYMBOLS

__all__ = [
    "Operation",
    "Group",
    "OPERATIONS",
    "POINT_GROUPS",
    "GROUP_NAMES",
    "operation",
    "generate_group",
    "point_group",
    "altermagnet_group",
    "get_group",
    "orbital_representation",
    "spin_representation",
    "representation",
    "SHELLS",
    "SymmetricHoppings",
    "symmetric_hoppings",
    "symmetric_onsite",
    "check_invariance",
    "match_parameters",
    "transform_hopping",
]

_MAX_ORDER = 1024


def _mat3(m, what):
    try:
        M = sp.ImmutableMatrix(sp.Matrix(m))
    except Exception as exc:
        raise TypeError(f"{what} must be a 3x3 matrix, got {m!r}") from exc
    if M.shape != (3, 3):
        raise ValueError(f"{what} must be 3x3, got shape {M.shape}")
    if not sp.simplify(M.T * M - sp.eye(3)).is_zero_matrix:
        raise ValueError(f"{what} must be orthogonal (R^T R = 1), got {M.tolist()}")
    return M


@dataclass(frozen=True)
class Operation:
    """A symmetry operation ``(R, S, antiunitary)``; see the module docstring.

    Use :func:`operation` to build one (it defaults the spin rotation to the locked one).
    Operations compose with ``*`` (``(g * h)`` acts as ``h`` first, then ``g``).
    """

    name: str
    rotation: sp.ImmutableMatrix
    spin_rotation: sp.ImmutableMatrix
    antiunitary: bool = False

    @property
    def key(self):
        """Hashable identity (names are ignored)."""
        return (tuple(self.rotation), tuple(self.spin_rotation), bool(self.antiunitary))

    def __mul__(self, other):
        if self.name == "E":
            name = other.name
        elif other.name == "E":
            name = self.name
        else:
            name = f"{self.name}*{other.name}"
        return Operation(name, sp.ImmutableMatrix(self.rotation * other.rotation),
                         sp.ImmutableMatrix(self.spin_rotation * other.spin_rotation), self.antiunitary != other.antiunitary)

    def act(self, offset):
        """Image ``R d`` of an in-plane bond offset ``d = (dx, dy)``.

        Raises
        ------
        ValueError
            If ``R`` moves the offset out of the plane or off the lattice.
        """
        v = self.rotation * sp.Matrix([offset[0], offset[1], 0])
        if v[2] != 0 or not all(c.is_integer for c in v):
            raise ValueError(f"operation {self.name} maps the bond {tuple(offset)} to {tuple(v)}, off the square lattice")
        return (int(v[0]), int(v[1]))


def operation(name, rotation, spin_rotation=None, antiunitary=False):
    """Build an :class:`Operation`.

    Parameters
    ----------
    name : str
    rotation : 3x3 orthogonal matrix
        Action on real space.
    spin_rotation : 3x3 proper rotation, optional
        Action on the spin vector; default ``det(R) R`` (spin locked to the lattice, i.e. the
        ordinary point-group action with spin-orbit coupling allowed).
    antiunitary : bool
        Whether the operation includes time reversal.
    """
    R = _mat3(rotation, f"rotation of {name}")
    S = R * R.det() if spin_rotation is None else _mat3(spin_rotation, f"spin rotation of {name}")
    if S.det() != 1:
        raise ValueError(f"spin rotation of {name} must be proper (det +1), got det {S.det()}")
    return Operation(name, sp.ImmutableMatrix(R), sp.ImmutableMatrix(S), bool(antiunitary))


_E3 = sp.eye(3)
_C4z = sp.Matrix([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
_C2x = sp.diag(1, -1, -1)
_C2z = sp.diag(-1, -1, 1)

#: Named operations of the square lattice (spin locked), time reversal and spin-only rotations.
OPERATIONS = {
    "E": operation("E", _E3),
    "C4z": operation("C4z", _C4z),
    "C4z^-1": operation("C4z^-1", _C4z.T),
    "C2z": operation("C2z", _C2z),
    "C2x": operation("C2x", _C2x),
    "C2y": operation("C2y", sp.diag(-1, 1, -1)),
    "M_x": operation("M_x", sp.diag(-1, 1, 1)),
    "M_y": operation("M_y", sp.diag(1, -1, 1)),
    "M_xy": operation("M_xy", sp.Matrix([[0, 1, 0], [1, 0, 0], [0, 0, 1]])),
    "M_x-y": operation("M_x-y", sp.Matrix([[0, -1, 0], [-1, 0, 0], [0, 0, 1]])),
    "M_z": operation("M_z", sp.diag(1, 1, -1)),
    "I": operation("I", -_E3),
    "T": operation("T", _E3, antiunitary=True),
    # spin-only rotations (no action on real space): symmetries of a Hamiltonian without SOC
    "U_x": operation("U_x", _E3, _C2x),
    "U_z": operation("U_z", _E3, _C2z),
}

#: Ordinary point groups (spin locked to the lattice) by their generators.
POINT_GROUPS = {
    "C2v": ("C2z", "M_x"),
    "C4": ("C4z",),
    "C4v": ("C4z", "M_x"),
    "C4h": ("C4z", "M_z"),
    "D2h": ("C2z", "M_x", "M_z"),
    "D4h": ("C4z", "M_x", "M_z"),
}
_ALIASES = {"C4v+Mz": "D4h", "C4v+M_z": "D4h"}
#: Names accepted by :func:`get_group`.
GROUP_NAMES = tuple(POINT_GROUPS) + tuple(_ALIASES) + ("altermagnet",)


@dataclass(frozen=True)
class Group:
    """A finite group of :class:`Operation` (closed under composition), with its generators."""

    name: str
    elements: tuple
    generators: tuple = field(default=(), compare=False)

    def __len__(self):
        return len(self.elements)

    def __iter__(self):
        return iter(self.elements)

    @property
    def has_time_reversal(self):
        return any(g.antiunitary for g in self.elements)

    def names(self):
        return [g.name for g in self.elements]


def generate_group(generators, name="G"):
    """Close a set of operations under composition.

    Raises
    ------
    ValueError
        If the closure exceeds 1024 elements (e.g. a non-crystallographic rotation).
    """
    gens = tuple(generators)
    if not gens:
        gens = (OPERATIONS["E"],)
    elements = {OPERATIONS["E"].key: OPERATIONS["E"]}
    frontier = [OPERATIONS["E"]]
    while frontier:
        new = []
        for g in frontier:
            for h in gens:
                p = h * g
                if p.key not in elements:
                    elements[p.key] = p
                    new.append(p)
                    if len(elements) > _MAX_ORDER:
                        raise ValueError(f"group {name!r} has more than {_MAX_ORDER} elements; are the generators crystallographic?")
        frontier = new
    return Group(name, tuple(elements.values()), gens)


def point_group(name, time_reversal=False, spin_rotation_invariant=False):
    """An ordinary point group of the square lattice, optionally with T and spin-rotation symmetry.

    Parameters
    ----------
    name : {"C2v", "C4", "C4v", "C4h", "D2h", "D4h"}
        ``"D4h"`` (alias ``"C4v+Mz"``) is C4v together with M_z, the group of Eq. (3).
    time_reversal : bool
        Add ``T`` (antiunitary).
    spin_rotation_invariant : bool
        Add spin-only rotations (``U_x``, ``U_z``; together they leave only spin-independent terms):
        the spin group of a Hamiltonian without spin-orbit coupling.  Irrelevant for spinless bases.
    """
    name = _ALIASES.get(name, name)
    if name not in POINT_GROUPS:
        close = difflib.get_close_matches(str(name), list(POINT_GROUPS) + list(_ALIASES), n=2)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"unknown point group {name!r}{hint}; allowed: {', '.join(list(POINT_GROUPS) + list(_ALIASES))}")
    gens = [OPERATIONS[g] for g in POINT_GROUPS[name]]
    label = name
    if spin_rotation_invariant:
        gens += [OPERATIONS["U_x"], OPERATIONS["U_z"]]
        label += " x SU(2)"
    if time_reversal:
        gens.append(OPERATIONS["T"])
        label += " + T"
    return generate_group(gens, label)


def altermagnet_group():
    """Spin group of a d-wave altermagnet on the square lattice with Neel vector along z.

    Generators (``[spin operation || space operation]``):

    * ``[E || C2z]``, ``[E || M_x]``, ``[E || M_z]`` -- the halving subgroup D2h acts on space only;
    * ``[C2x || C4z]`` -- a fourfold rotation combined with a spin flip (exchanges the two spin
      sublattices' environments: this is what makes the splitting d-wave, ``t_x != t_y``);
    * ``[C2z || E]`` -- spin rotation about the Neel axis (for spin 1/2 equivalent to the full U(1));
    * ``[C2x T || E]`` -- time reversal combined with a spin flip (collinear magnet).

    No SOC: spin transforms only through the spin parts.  For a spin-1/2 s orbital this allows
    exactly ``t_x = a + b sigma_z``, ``t_y = a - b sigma_z`` (Eq. 4 with ``a = -t``, ``b = w``).
    Adding plain time reversal (``time_reversal=True`` in :func:`symmetric_hoppings`) kills ``b``.
    """
    E3 = _E3
    gens = [
        operation("C2z", _C2z, E3),
        operation("M_x", sp.diag(-1, 1, 1), E3),
        operation("M_z", sp.diag(1, 1, -1), E3),
        operation("[C2x||C4z]", _C4z, _C2x),
        operation("U_z", E3, _C2z),
        operation("[C2x T||E]", E3, _C2x, antiunitary=True),
    ]
    return generate_group(gens, "altermagnet spin group (d-wave, Neel || z)")


def get_group(name, time_reversal=False, spin_rotation_invariant=False):
    """Group by name: a point group (:data:`POINT_GROUPS`, ``"C4v+Mz"``) or ``"altermagnet"``.

    A :class:`Group` is returned as is (with T / spin rotations added if requested).
    """
    if isinstance(name, Group):
        extra = []
        if spin_rotation_invariant:
            extra += [OPERATIONS["U_x"], OPERATIONS["U_z"]]
        if time_reversal:
            extra.append(OPERATIONS["T"])
        return generate_group(list(name.generators or name.elements) + extra, name.name) if extra else name
    if name == "altermagnet":
        g = altermagnet_group()
        if time_reversal or spin_rotation_invariant:
            return get_group(g, time_reversal, spin_rotation_invariant)
        return g
    if not isinstance(name, str) or (_ALIASES.get(name, name) not in POINT_GROUPS):
        close = difflib.get_close_matches(str(name), GROUP_NAMES, n=2)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"unknown group {name!r}{hint}; allowed: {', '.join(GROUP_NAMES)}")
    return point_group(name, time_reversal, spin_rotation_invariant)


# ---------------------------------------------------------------------- representations
def orbital_representation(shapes, rotation):
    """Matrix ``D`` with ``phi_a(R^{-1} r) = sum_b phi_b(r) D_ba`` for real-space shapes ``phi``.

    Parameters
    ----------
    shapes : sequence of polynomials in ``orbsym.bases.X, Y, Z``
    rotation : 3x3 orthogonal matrix ``R``

    Raises
    ------
    ValueError
        If the span of the shapes is not mapped into itself by ``R``, or if ``D`` is not orthogonal
        (shapes not orthonormal under rotation-invariant integration).
    """
    R = sp.Matrix(rotation)
    Rinv = R.T
    r = sp.Matrix([X, Y, Z])
    back = Rinv * r
    subs = {X: back[0], Y: back[1], Z: back[2]}
    shapes = [sp.expand(sp.sympify(s)) for s in shapes]
    moved = [sp.expand(s.xreplace(subs)) for s in shapes]
    monos = sorted({m for p in shapes + moved for m in sp.Poly(p, X, Y, Z).monoms()})
    idx = {m: i for i, m in enumerate(monos)}

    def coeffs(p):
        v = sp.zeros(len(monos), 1)
        for m, c in sp.Poly(p, X, Y, Z).terms():
            v[idx[m]] = c
        return v

    B = sp.Matrix.hstack(*[coeffs(p) for p in shapes])
    C = sp.Matrix.hstack(*[coeffs(p) for p in moved])
    if B.rank() != len(shapes):
        raise ValueError(f"orbital shapes {shapes} are linearly dependent")
    D = ((B.T * B).inv() * B.T * C).applyfunc(sp.radsimp)
    if not (B * D - C).applyfunc(sp.expand).is_zero_matrix:
        raise ValueError(f"the orbital shapes {shapes} are not closed under the operation {R.tolist()} (rotated shapes {moved})")
    if not (D.T * D - sp.eye(len(shapes))).applyfunc(sp.expand).is_zero_matrix:
        raise ValueError(
            f"the orbital shapes {shapes} give a non-orthogonal representation of {R.tolist()}; use orthonormal "
            "shapes (e.g. x*y together with (x**2 - y**2)/2, not x**2 - y**2)"
        )
    return sp.ImmutableMatrix(D)


_SIGMA = (sp.Matrix([[0, 1], [1, 0]]), sp.Matrix([[0, -sp.I], [sp.I, 0]]), sp.Matrix([[1, 0], [0, -1]]))


def spin_representation(spin_rotation):
    """SU(2) matrix ``u = cos(theta/2) - i sin(theta/2) n . sigma`` of a proper 3x3 rotation.

    Satisfies ``u^dag sigma_a u = sum_b S_ab sigma_b`` (active rotation of the spin vector); the
    overall sign (double group) is arbitrary.
    """
    S = sp.Matrix(spin_rotation)
    cos_t = sp.nsimplify((S.trace() - 1) / 2)
    if cos_t == 1:
        return sp.ImmutableMatrix(sp.eye(2))
    if cos_t == -1:  # theta = pi: S = 2 n n^T - 1
        nn = (S + sp.eye(3)) / 2
        i = max(range(3), key=lambda k: nn[k, k])
        n = [nn[i, k] / sp.sqrt(nn[i, i]) for k in range(3)]
        return sp.ImmutableMatrix(sp.simplify(-sp.I * sum((n[k] * _SIGMA[k] for k in range(3)), sp.zeros(2))))
    theta = sp.acos(cos_t)
    s = sp.sin(theta)
    n = [(S[2, 1] - S[1, 2]) / (2 * s), (S[0, 2] - S[2, 0]) / (2 * s), (S[1, 0] - S[0, 1]) / (2 * s)]
    u = sp.cos(theta / 2) * sp.eye(2) - sp.I * sp.sin(theta / 2) * sum((n[k] * _SIGMA[k] for k in range(3)), sp.zeros(2))
    return sp.ImmutableMatrix(sp.simplify(u))


_ISY = sp.Matrix([[0, 1], [-1, 0]])  # i sigma_y


def representation(basis, op):
    """Unitary part ``U`` of ``op`` on the on-site space of ``basis`` (``op`` acts as ``U K^a``).

    Returns
    -------
    (sympy.ImmutableMatrix, bool)
        ``U`` and whether the operation is antiunitary.
    """
    basis = get_basis(basis)
    return _representation(basis.shapes, basis.spinful, op.rotation, op.spin_rotation, op.antiunitary), op.antiunitary


@functools.lru_cache(maxsize=4096)
def _representation(shapes, spinful, rotation, spin_rotation, antiunitary):
    D = orbital_representation(shapes, rotation)
    if not spinful:
        return D
    u = sp.Matrix(spin_representation(spin_rotation))
    if antiunitary:
        u = u * _ISY
    return sp.ImmutableMatrix(sp.kronecker_product(sp.Matrix(D), u))


def transform_hopping(basis, op, matrix):
    """``U M^(*) U^dag``: the image under ``op`` of the hopping matrix of the bond ``d`` (now on ``R d``)."""
    U, anti = representation(basis, op)
    M = sp.Matrix(matrix)
    if anti:
        M = M.conjugate()
    return sp.ImmutableMatrix(sp.expand(U * M * U.H))


# ---------------------------------------------------------------------- constraint solving
#: Bond shells: nearest (``"nn"``) and next-nearest (``"nnn"``) neighbours, each bond once.
SHELLS = {"nn": ((1, 0), (0, 1)), "nnn": ((1, 1), (1, -1))}
_PREFIX = {"nn": "t", "nnn": "s", "onsite": "e"}


def _numeric(M):
    return np.array(sp.Matrix(M).evalf(30).tolist(), dtype=complex)


def _real_map(U, antiunitary, dagger):
    """Real matrix of ``X -> (U X^(*) U^dag)^(dag)`` on ``v = (Re vec X, Im vec X)`` (row-major vec)."""
    n = U.shape[0]
    K = np.kron(U, U.conj())  # row-major: vec(U X U^dag) = kron(U, conj U) vec(X)
    n2 = n * n
    out = np.empty((2 * n2, 2 * n2))
    for k in range(2 * n2):
        x = np.zeros(n2, dtype=complex)
        x[k % n2] = 1 if k < n2 else 1j
        y = K @ (x.conj() if antiunitary else x)
        if dagger:
            y = y.reshape(n, n).conj().T.reshape(-1)
        out[:n2, k] = y.real
        out[n2:, k] = y.imag
    return out


_DENOMINATORS = (1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 27, 32, 36, 48, 64)


def _rationalize(M):
    """Exact rational form of a float matrix whose entries have a small common denominator.

    Returns ``(integer numpy array, denominator)``; raises ValueError for irrational entries.
    """
    for den in _DENOMINATORS:
        scaled = M * den
        rounded = np.rint(scaled)
        if np.all(np.abs(scaled - rounded) < 1e-9):
            return rounded.astype(np.int64), den
    raise ValueError(
        "representation matrices with irrational entries are not supported (only the crystallographic "
        "square-lattice operations of orbsym.symmetry.OPERATIONS and compositions of them)"
    )


def _variable_order(n):
    """Column order of the real unknowns: preferred free parameters (diagonal, then upper triangle) last."""
    n2 = n * n
    preferred = [i * n + i for i in range(n)]  # Re diagonal
    preferred += [i * n + j for i in range(n) for j in range(i + 1, n)]  # Re upper
    preferred += [n2 + i * n + j for i in range(n) for j in range(i + 1, n)]  # Im upper
    preferred += [n2 + i * n + i for i in range(n)]  # Im diagonal
    rest = [k for k in range(2 * n2) if k not in set(preferred)]
    return rest + preferred[::-1], preferred


def _solve(maps, n):
    """Exact real nullspace of ``(A - 1) v = 0`` for all ``A`` in ``maps``; returns (basis vectors, free columns)."""
    order, preferred = _variable_order(n)
    ncol = 2 * n * n
    blocks = [np.zeros((1, ncol), dtype=np.int64)]
    for A in maps:
        ints, den = _rationalize(A - np.eye(ncol))
        blocks.append(ints[:, order])  # every row scaled by the same den: same constraint
    rows = np.unique(np.vstack(blocks), axis=0)
    rows = rows[np.any(rows != 0, axis=1)]
    if len(rows) == 0:
        rows = np.zeros((1, ncol), dtype=np.int64)
    dm = DomainMatrix([[sp.QQ(int(v)) for v in r] for r in rows], (len(rows), ncol), sp.QQ)
    null = dm.nullspace().to_Matrix()
    vectors = []
    for r in range(null.rows):
        vec = [0] * ncol
        for pos, c in enumerate(order):
            vec[c] = null[r, pos]
        vectors.append(vec)
    # free column of each vector = the (reordered) position with entry 1 and zeros in the others
    free = []
    for r in range(null.rows):
        cols = [order[pos] for pos in range(ncol) if null[r, pos] == 1 and all(null[q, pos] == 0 for q in range(null.rows) if q != r)]
        free.append(cols[-1] if cols else None)
    rank = {c: i for i, c in enumerate(preferred)}
    perm = sorted(range(len(vectors)), key=lambda i: rank.get(free[i], len(rank)))
    return [vectors[i] for i in perm], [free[i] for i in perm]


def _describe(col, n, labels, where):
    n2 = n * n
    part = "Re" if col < n2 else "Im"
    i, j = divmod(col % n2, n)
    return f"{part} {where}[{labels[i]}, {labels[j]}]"


def _matrix_from(vectors, params, n):
    n2 = n * n
    X_ = sp.zeros(n)
    for vec, p in zip(vectors, params):
        for k in range(n2):
            c = sp.Rational(vec[k]) + sp.I * sp.Rational(vec[n2 + k])
            if c != 0:
                X_[k // n, k % n] += c * p
    return X_


def _shells(neighbours):
    if isinstance(neighbours, str):
        names = [s for s in neighbours.replace(",", "+").split("+") if s]
    else:
        names = list(neighbours)
    allowed = ("nn", "nnn", "nn+nnn")
    bad = [s for s in names if s not in SHELLS]
    if bad or not names:
        raise ValueError(f"unknown neighbours {neighbours!r}; allowed: {', '.join(allowed)}")
    return names


@dataclass(frozen=True)
class SymmetricHoppings:
    """Result of :func:`symmetric_hoppings`.

    Attributes
    ----------
    basis : Basis
    group : Group
    hoppings : dict
        ``{offset: sympy.ImmutableMatrix}`` -- ``t_d`` of ``c_n^dag t_d c_{n+d}``, each bond once.
    onsite : sympy.ImmutableMatrix or None
        Most general symmetric Hermitian on-site matrix (if requested).
    parameters : tuple of sympy.Symbol
        The free real parameters.
    meaning : dict
        ``{symbol: "Re t_(1, 0)[a, b]"}`` -- which real number each parameter is.
    """

    basis: Basis
    group: Group
    hoppings: dict
    onsite: sp.ImmutableMatrix = None
    parameters: tuple = ()
    meaning: dict = field(default_factory=dict, compare=False)

    def subs(self, *args, **kwargs):
        """Substitute parameters in every matrix (``sympy.Matrix.subs`` semantics)."""
        hops = {d: sp.ImmutableMatrix(m.subs(*args, **kwargs)) for d, m in self.hoppings.items()}
        ons = None if self.onsite is None else sp.ImmutableMatrix(self.onsite.subs(*args, **kwargs))
        syms = set().union(*(m.free_symbols for m in hops.values()), *(() if ons is None else (ons.free_symbols,)))
        params = tuple(p for p in self.parameters if p in syms)
        params += tuple(sorted(syms - set(params), key=lambda s: s.name))
        return SymmetricHoppings(self.basis, self.group, hops, ons, params, {p: m for p, m in self.meaning.items() if p in syms})

    def to_model(self, name=None, generators=None, onsite=None, description=None):
        """An orbsym :class:`~orbsym.models.Model` with these hoppings.

        Parameters
        ----------
        name : str, optional
        generators : str or GeneratorSet, optional
            A kind of ``self.basis`` (``"L"``, ``"S"``, ``"J"``) or a GeneratorSet; default the basis default.
        onsite : matrix or "symmetric", optional
            Default ``-mu 1``; ``"symmetric"`` uses the derived on-site matrix minus ``mu``.
        """
        gens = self.basis.generators(generators) if generators is None or isinstance(generators, str) else generators
        if isinstance(onsite, str):
            if onsite != "symmetric":
                raise ValueError(f"unknown onsite {onsite!r}; allowed: a matrix, None or 'symmetric'")
            if self.onsite is None:
                raise ValueError("no symmetric on-site matrix was derived; call symmetric_hoppings(..., onsite=True)")
            onsite = self.onsite - SYMBOLS["mu"] * sp.eye(self.basis.dim)
        return Model(
            name or f"{self.basis.name}-{self.group.name.split()[0]}",
            gens,
            dict(self.hoppings),
            onsite,
            description or f"{self.basis.name} hoppings allowed by {self.group.name} (orbsym.symmetry)",
        )

    def to_text(self):
        """Plain-text rendering of all matrices and the parameter meanings."""
        lines = [f"basis {self.basis.name}: {', '.join(self.basis.labels)}",
                 f"group {self.group.name} ({len(self.group)} elements)",
                 f"{len(self.parameters)} free real parameters: {', '.join(p.name for p in self.parameters)}"]
        for p in self.parameters:
            if p in self.meaning:
                lines.append(f"  {p.name} = {self.meaning[p]}")
        for d, m in self.hoppings.items():
            lines.append(f"t_{d} =")
            lines.append(sp.pretty(m, use_unicode=False))
        if self.onsite is not None:
            lines.append("onsite =")
            lines.append(sp.pretty(self.onsite, use_unicode=False))
        return "\n".join(lines)

    def to_latex(self):
        """LaTeX rendering (one ``align*``-free equation per matrix)."""
        lines = [f"% basis {self.basis.name}: {', '.join(self.basis.labels)}; group {self.group.name}"]
        lines += [f"% {p.name} = {self.meaning[p]}" for p in self.parameters if p in self.meaning]
        for d, m in self.hoppings.items():
            lines.append(rf"t_{{({d[0]},{d[1]})}} = {sp.latex(m)}")
        if self.onsite is not None:
            lines.append(rf"\epsilon = {sp.latex(self.onsite)}")
        return "\n".join(lines)


def _orbits(offsets, group):
    canon = list(offsets)
    pairs = {o: o for o in canon}
    pairs.update({(-o[0], -o[1]): o for o in canon})
    seen, orbits = set(), []
    for d0 in canon:
        if d0 in seen:
            continue
        orbit = {}
        for g in group:
            img = g.act(d0)
            if img not in pairs:
                raise ValueError(f"operation {g.name} maps bond {d0} to {img}, outside the shell {tuple(canon)}")
            c = pairs[img]
            if c not in orbit:
                orbit[c] = (g, img != c)  # (element, reversed?)
        seen |= set(orbit)
        orbits.append((d0, orbit))
    return orbits


def _representations(basis, group):
    return {g.key: representation(basis, g) for g in group}


def symmetric_hoppings(basis, group="D4h", neighbours="nn", time_reversal=False, spin_rotation_invariant=False, onsite=False, prefixes=None):
    """Most general hopping matrices allowed by a symmetry group.

    Parameters
    ----------
    basis : str or Basis
        ``"t2g"``, ``"p"``, ``"d"``, ``"spin"``, ``"t2g-spin"``, ``"p-spin"``, ``"d-spin"`` or a
        :class:`~orbsym.bases.Basis`.
    group : str or Group
        A name of :data:`GROUP_NAMES` (default ``"D4h"`` = C4v + M_z) or a :class:`Group`.
    neighbours : {"nn", "nnn", "nn+nnn"}
        Bond shells: nearest neighbours ``(1, 0), (0, 1)``; next-nearest ``(1, 1), (1, -1)``.
    time_reversal : bool
        Add time reversal to the group.
    spin_rotation_invariant : bool
        Add spin-only rotations (no spin-orbit coupling); only matters for spinful bases.
    onsite : bool
        Also derive the most general symmetric Hermitian on-site matrix (parameters ``e_k``).
    prefixes : dict, optional
        Parameter name prefixes per shell, default ``{"nn": "t", "nnn": "s", "onsite": "e"}``.

    Returns
    -------
    SymmetricHoppings

    Notes
    -----
    ``T(R d) = U T(d)^(*) U^dag`` for every element, with ``T(-d) = T(d)^dag``; see the module
    docstring.  For ``("t2g", "D4h")`` the result is ``t_(1,0) = diag(t_1, t_2, t_3)``,
    ``t_(0,1) = diag(t_2, t_1, t_3)``: Eq. (3) with ``t_1 = -gamma, t_2 = -t, t_3 = -t'``.
    """
    basis = get_basis(basis)
    grp = get_group(group, time_reversal, spin_rotation_invariant)
    prefixes = {**_PREFIX, **(prefixes or {})}
    n = basis.dim
    reps = _representations(basis, grp)
    num = {k: (_numeric(U), a) for k, (U, a) in reps.items()}
    labels = basis.labels
    hoppings, params, meaning = {}, [], {}
    for shell in _shells(neighbours):
        count = 0
        for d0, orbit in _orbits(SHELLS[shell], grp):
            maps = []
            for g in grp:
                img = g.act(d0)
                if img == d0 or img == (-d0[0], -d0[1]):
                    U, a = num[g.key]
                    maps.append(_real_map(U, a, img != d0))
            vectors, free = _solve(maps, n)
            syms = []
            for col in free:
                count += 1
                s = sp.Symbol(f"{prefixes[shell]}_{count}", real=True)
                syms.append(s)
                if col is not None:
                    meaning[s] = _describe(col, n, labels, f"t_{d0}")
            params += syms
            X0 = _matrix_from(vectors, syms, n)
            for d, (g, rev) in orbit.items():
                M = transform_hopping(basis, g, X0)
                hoppings[d] = sp.ImmutableMatrix(M.H if rev else M)
    ons = None
    if onsite:
        herm = _real_map(np.eye(n, dtype=complex), False, True)
        maps = [herm] + [_real_map(*num[g.key], False) for g in grp]
        vectors, free = _solve(maps, n)
        syms = []
        for k, col in enumerate(free, 1):
            s = sp.Symbol(f"{prefixes['onsite']}_{k}", real=True)
            syms.append(s)
            if col is not None:
                meaning[s] = _describe(col, n, labels, "onsite")
        params += syms
        ons = sp.ImmutableMatrix(_matrix_from(vectors, syms, n))
    return SymmetricHoppings(basis, grp, hoppings, ons, tuple(params), meaning)


def symmetric_onsite(basis, group="D4h", time_reversal=False, spin_rotation_invariant=False):
    """Most general Hermitian on-site matrix invariant under the group (parameters ``e_1, e_2, ...``)."""
    res = symmetric_hoppings(basis, group, "nn", time_reversal, spin_rotation_invariant, onsite=True)
    return res.onsite


def check_invariance(hoppings, basis, group, onsite=None):
    """Exact check that ``{offset: t_d}`` (and ``onsite``) are invariant under every group element.

    Returns
    -------
    list of str
        Human-readable violations (empty when invariant).  Offsets not in ``hoppings`` (nor their
        reverses) count as zero hopping.
    """
    basis = get_basis(basis)
    grp = get_group(group)
    hops = {tuple(d): sp.Matrix(m) for d, m in hoppings.items()}

    def T(d):
        if d in hops:
            return hops[d]
        r = (-d[0], -d[1])
        if r in hops:
            return hops[r].H
        return sp.zeros(basis.dim)

    problems = []
    for g in grp:
        for d in list(hops):
            img = g.act(d)
            diff = (transform_hopping(basis, g, T(d)) - T(img)).applyfunc(sp.expand)
            if not diff.is_zero_matrix:
                problems.append(f"{g.name}: U t_{d} U^dag != t_{img}")
        if onsite is not None:
            if not (transform_hopping(basis, g, onsite) - sp.Matrix(onsite)).applyfunc(sp.expand).is_zero_matrix:
                problems.append(f"{g.name}: on-site matrix not invariant")
    return problems



def match_parameters(result, reference):
    """Express a reference model in the free parameters of ``result``.

    Parameters
    ----------
    result : SymmetricHoppings
    reference : dict or Model
        ``{offset: matrix}`` (e.g. Eq. 3's ``{(1, 0): t_x, (0, 1): t_y}``) or a Model (its hoppings).

    Returns
    -------
    dict
        ``{parameter: expression}`` with ``result.subs(solution).hoppings == reference`` on every
        offset of ``reference``; parameters not fixed by the reference are left out.

    Raises
    ------
    ValueError
        If the reference is not a member of the symmetric family (symmetry forbids it).
    """
    hops = reference.hoppings if isinstance(reference, Model) else reference
    eqs = []
    for d, M in hops.items():
        d = tuple(d)
        if d in result.hoppings:
            G = result.hoppings[d]
        elif (-d[0], -d[1]) in result.hoppings:
            G = result.hoppings[(-d[0], -d[1])].H
        else:
            raise ValueError(f"offset {d} is not among the derived bonds {tuple(result.hoppings)}")
        for e in sp.Matrix(G) - sp.Matrix(M):
            e = sp.expand(e)
            eqs += [sp.re(e), sp.im(e)]
    eqs = [e for e in eqs if e != 0]
    params = [p for p in result.parameters]
    sol = sp.linsolve(eqs, params) if eqs else sp.FiniteSet(tuple(params))
    if sol == sp.EmptySet or not sol:
        raise ValueError("the reference hoppings are not allowed by the symmetry group (no parameter values reproduce them)")
    (values,) = tuple(sol)
    return {p: v for p, v in zip(params, values) if v != p}
