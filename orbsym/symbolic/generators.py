"""Angular-momentum generator sets (Eqs. 1-2 of the paper).

A :class:`GeneratorSet` is three Hermitian matrices ``(J_x, J_y, J_z)`` acting on a named on-site
basis, together with the normalization ``c`` of their algebra
``[J_a, J_b] = i c eps_abc J_c`` (``c = 1`` for L and S, ``c = 2`` for the Pauli matrices).
Sets are validated on construction; see :mod:`orbsym.conventions` for basis orders.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from ..conventions import ORBITAL_BASIS, P_BASIS, SPIN_BASIS

__all__ = [
    "GeneratorSet",
    "t2g_L",
    "p_L",
    "pauli",
    "spin_half",
    "spin_matrices",
    "d_L",
    "levi_civita",
]

I = sp.I


def levi_civita(a, b, c):
    """Levi-Civita symbol for indices in {0, 1, 2}."""
    return int(sp.LeviCivita(a, b, c))


def _as_matrix(m, what):
    try:
        mat = sp.ImmutableMatrix(sp.Matrix(m))
    except Exception as exc:  # sympy raises many types for bad input
        raise TypeError(f"{what} must be a square matrix (nested list, NumPy array or SymPy Matrix), got {m!r}") from exc
    if mat.rows != mat.cols or mat.rows == 0:
        raise ValueError(f"{what} must be a non-empty square matrix, got shape {mat.shape}")
    for (i, j), v in zip(((i, j) for i in range(mat.rows) for j in range(mat.cols)), mat):
        if v.has(sp.nan, sp.oo, -sp.oo, sp.zoo) or (v.is_number and v.is_finite is False):
            raise ValueError(f"{what} has the non-finite entry {v} at ({i}, {j}); generators must be finite numbers")
    return mat


#: Relative tolerance for generator sets given as floating-point numbers (NumPy arrays, sympy
#: Floats): a rotated or numerically computed set closes its algebra only up to rounding.
FLOAT_RTOL = 1e-10


def _vanishes(mat, scale):
    """Whether ``mat`` is zero: exactly (symbolic/rational entries) or, when it holds floats, up to
    ``FLOAT_RTOL * scale`` (rounding of numerically given generators)."""
    if not mat.free_symbols and mat.has(sp.Float):
        return max((abs(complex(v)) for v in mat), default=0.0) <= FLOAT_RTOL * max(1.0, scale)
    return sp.simplify(mat).is_zero_matrix


def first_non_hermitian_entry(mat):
    """``(i, j)`` of the first entry with ``mat[i, j] != conj(mat[j, i])`` (None if Hermitian).

    Free symbols are treated as real parameters.
    """
    subs = {s: sp.Symbol(s.name, real=True) for s in mat.free_symbols if not s.is_real}
    m = mat.xreplace(subs) if subs else mat
    for i in range(m.rows):
        for j in range(i, m.cols):
            if not sp.simplify(m[i, j] - sp.conjugate(m[j, i])).is_zero:
                return i, j
    return None


def hermiticity_message(what, mat):
    """``"<what> is not Hermitian: [i, j] = a but conj([j, i]) = b"`` or None if Hermitian."""
    subs = {s: sp.Symbol(s.name, real=True) for s in mat.free_symbols if not s.is_real}
    mat = mat.xreplace(subs) if subs else mat
    ij = first_non_hermitian_entry(mat)
    if ij is None:
        return None
    i, j = ij
    return (
        f"{what} is not Hermitian: entry [{i}, {j}] = {mat[i, j]} but conj([{j}, {i}]) = {sp.conjugate(mat[j, i])}"
        f" (full matrix {mat.tolist()})"
    )


@dataclass(frozen=True)
class GeneratorSet:
    """Three Hermitian generators with a declared Lie-algebra normalization.

    Parameters
    ----------
    matrices : sequence of 3 square matrices
        ``(J_x, J_y, J_z)`` in the on-site basis ``basis``.
    normalization : number, default 1
        ``c`` in ``[J_a, J_b] = i c eps_abc J_c``.
    name : str
        Short identifier, e.g. ``"L"`` (orbital), ``"sigma"`` (Pauli), ``"S"``.
    symbol : str
        LaTeX symbol used when rendering, e.g. ``r"\\tilde{L}"``.
    basis : tuple of str
        Labels of the on-site states (basis order; see :mod:`orbsym.conventions`).
    check : bool
        Validate Hermiticity and the algebra (default True).

    Raises
    ------
    ValueError
        If the matrices are not three, not square of equal size, not Hermitian, or do not satisfy
        the declared algebra; the message names the failing component or commutator.
    """

    matrices: tuple
    normalization: sp.Expr = sp.Integer(1)
    name: str = "J"
    symbol: str = "J"
    basis: tuple = ()
    check: bool = True

    def __post_init__(self):
        mats = self.matrices
        if isinstance(mats, (sp.MatrixBase,)) or not hasattr(mats, "__len__") or len(mats) != 3:
            raise ValueError(
                f"a generator set needs exactly three matrices (J_x, J_y, J_z), got "
                f"{len(mats) if hasattr(mats, '__len__') else type(mats).__name__}"
            )
        mats = tuple(_as_matrix(m, f"generator J_{a}") for a, m in zip("xyz", mats))
        dims = {m.rows for m in mats}
        if len(dims) != 1:
            raise ValueError(f"generators must all have the same size, got sizes {[m.rows for m in mats]}")
        object.__setattr__(self, "matrices", mats)
        object.__setattr__(self, "normalization", sp.sympify(self.normalization))
        n = mats[0].rows
        basis = tuple(self.basis) if self.basis else tuple(f"s{i}" for i in range(n))
        if len(basis) != n:
            raise ValueError(f"basis has {len(basis)} labels {basis} but the generators are {n}x{n}")
        object.__setattr__(self, "basis", basis)
        if self.check:
            self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self):
        """Check Hermiticity and ``[J_a, J_b] = i c eps_abc J_c``; raise ValueError otherwise."""
        c = self.normalization
        if c.is_number and not (c.is_real and c.is_nonzero and c.is_finite):
            raise ValueError(f"normalization c must be a finite nonzero real number (1 for L and S, 2 for Pauli), got {c}")
        for a, m in zip("xyz", self.matrices):
            if not _vanishes(m - m.H, self._scale()):
                raise ValueError(hermiticity_message(f"generator {self.name}_{a}", m) or f"generator {self.name}_{a} is not Hermitian: {m.tolist()}")
        for a, b in itertools.combinations(range(3), 2):
            comm = self.matrices[a] * self.matrices[b] - self.matrices[b] * self.matrices[a]
            expected = sp.zeros(self.dim)
            for g in range(3):
                eps = levi_civita(a, b, g)
                if eps:
                    expected += I * c * eps * self.matrices[g]
            if not _vanishes(comm - expected, self._scale() ** 2):
                g = 3 - a - b
                raise ValueError(
                    f"generators {self.name} fail the declared algebra [J_a, J_b] = i*c*eps_abc*J_c with "
                    f"c = {c}: [{self.name}_{'xyz'[a]}, {self.name}_{'xyz'[b]}] != i*{c}*{self.name}_{'xyz'[g]}"
                    " (check the normalization you declared, or the sign/ordering of the matrices)"
                )

    def _scale(self):
        """Largest absolute entry of the generators (numeric sets), for rounding tolerances."""
        vals = [abs(complex(v)) for m in self.matrices if not m.free_symbols for v in m]
        return max(vals, default=1.0) or 1.0

    # ------------------------------------------------------------------ accessors
    @property
    def dim(self):
        """Size of the on-site basis."""
        return self.matrices[0].rows

    def __getitem__(self, alpha):
        if isinstance(alpha, str):
            try:
                alpha = "xyz".index(alpha)
            except ValueError:
                raise ValueError(f"unknown polarization {alpha!r}; allowed: 'x', 'y', 'z'") from None
        return self.matrices[alpha]

    def __iter__(self):
        return iter(self.matrices)

    def absolute(self):
        """Element-wise absolute values ``|J_alpha|`` (used in the paper's Eq. 11)."""
        return tuple(m.applyfunc(sp.Abs) for m in self.matrices)

    def dot(self, vector):
        """``v . J`` for a 3-vector ``v`` (symbolic or numeric)."""
        return sum((sp.sympify(v) * m for v, m in zip(vector, self.matrices)), sp.zeros(self.dim))

    def casimir(self):
        """``J^2 = sum_a J_a J_a``."""
        return sp.simplify(sum((m * m for m in self.matrices), sp.zeros(self.dim)))

    def rotated(self, rotation):
        """Return the set ``J'_a = sum_b R_ab J_b`` for a real 3x3 rotation ``R`` (det +1).

        The rotated set satisfies the same algebra; used in property tests.
        """
        R = sp.Matrix(rotation)
        mats = tuple(sum((R[a, b] * self.matrices[b] for b in range(3)), sp.zeros(self.dim)) for a in range(3))
        return GeneratorSet(mats, self.normalization, self.name, self.symbol, self.basis, check=False)

    def to_numpy(self):
        """Generators as a complex array of shape ``(3, dim, dim)``."""
        import numpy as np

        return np.array([[[complex(x) for x in row] for row in m.tolist()] for m in self.matrices], dtype=complex)


# ---------------------------------------------------------------------- built-in sets
def t2g_L():
    """Effective L = 1 matrices of the t2g orbitals, Eq. (2), basis ``(d_yz, d_xz, d_xy)``."""
    Lx = [[0, 0, 0], [0, 0, I], [0, -I, 0]]
    Ly = [[0, 0, -I], [0, 0, 0], [I, 0, 0]]
    Lz = [[0, -I, 0], [I, 0, 0], [0, 0, 0]]
    return GeneratorSet((Lx, Ly, Lz), 1, "L", r"\tilde{L}", ORBITAL_BASIS)


def p_L():
    """L = 1 matrices of p orbitals in the real basis ``(p_x, p_y, p_z)``: ``(L_a)_bc = -i eps_abc``."""
    mats = tuple(sp.Matrix(3, 3, lambda b, c: -I * levi_civita(a, b, c)) for a in range(3))
    return GeneratorSet(mats, 1, "L", r"L", P_BASIS)


def pauli():
    """Pauli matrices, the paper's spin generators (normalization ``c = 2``), basis ``(up, down)``."""
    sx = [[0, 1], [1, 0]]
    sy = [[0, -I], [I, 0]]
    sz = [[1, 0], [0, -1]]
    return GeneratorSet((sx, sy, sz), 2, "sigma", r"\sigma", SPIN_BASIS)


def spin_half():
    """Spin-1/2 operators ``S = sigma / 2`` (normalization ``c = 1``)."""
    return GeneratorSet(tuple(m / 2 for m in pauli().matrices), 1, "S", r"S", SPIN_BASIS)


def spin_matrices(j):
    """Angular-momentum matrices for spin ``j`` (``2j + 1`` states, basis ``m = j, j-1, ..., -j``).

    Parameters
    ----------
    j : int, half-integer (e.g. ``sympy.Rational(3, 2)`` or ``1.5``) > 0
    """
    jj = sp.nsimplify(j)
    if not (jj.is_Rational and jj > 0 and (2 * jj).is_integer):
        raise ValueError(f"spin j must be a positive integer or half-integer, got {j!r}")
    n = int(2 * jj + 1)
    ms = [jj - k for k in range(n)]
    Jz = sp.diag(*ms)
    Jp = sp.zeros(n)
    for k in range(1, n):
        m = ms[k]
        Jp[k - 1, k] = sp.sqrt(jj * (jj + 1) - m * (m + 1))
    Jm = Jp.T
    Jx = (Jp + Jm) / 2
    Jy = (Jp - Jm) / (2 * I)
    basis = tuple(f"m={m}" for m in ms)
    return GeneratorSet((Jx, Jy, Jz), 1, f"J{jj}", "J", basis)


def d_L():
    """L = 2 matrices of the five real d orbitals, basis ``(d_yz, d_xz, d_xy, d_x2-y2, d_z2)``.

    Obtained from the spherical ``|l=2, m>`` matrices (Condon-Shortley phases) by the standard
    real-harmonic transformation.  These are the physical L matrices: their t2g block satisfies the
    *reversed* algebra ``[L_a, L_b] = -i eps_abc L_c`` (the T-P correspondence) and equals
    ``(L_x, L_y, -L_z)`` of Eq. (2); Eq. (2) is the *effective* L = 1 of the t2g triplet.
    """
    L = spin_matrices(2)
    r2 = sp.sqrt(2)
    # rows: real orbitals as combinations of |m=2,1,0,-1,-2>
    U = sp.Matrix(
        [
            [0, I / r2, 0, I / r2, 0],  # d_yz
            [0, -1 / r2, 0, 1 / r2, 0],  # d_xz
            [-I / r2, 0, 0, 0, I / r2],  # d_xy
            [1 / r2, 0, 0, 0, 1 / r2],  # d_x2-y2
            [0, 0, 1, 0, 0],  # d_z2
        ]
    )
    mats = tuple(sp.simplify(U.conjugate() * m * U.T) for m in L.matrices)
    return GeneratorSet(mats, 1, "L", "L", ("d_yz", "d_xz", "d_xy", "d_x2-y2", "d_z2"))
