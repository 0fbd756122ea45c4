"""Symbolic lattice models with matrix-valued hoppings (Eqs. 3-6 of the paper).

A :class:`Model` is a translation-invariant square-lattice Hamiltonian

    H = sum_n sum_d ( c_n^dag t_d c_{n+d} + h.c. ) + sum_n c_n^dag eps c_n,

with one hopping matrix ``t_d`` per bond offset ``d`` (``(1, 0)`` = ``e_x``, ``(0, 1)`` = ``e_y``,
further offsets allowed), an on-site matrix ``eps`` and a :class:`~orbsym.symbolic.generators.GeneratorSet`.
Each bond is counted once (see :mod:`orbsym.conventions`).  Parameters are real SymPy symbols.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .generators import GeneratorSet, hermiticity_message, pauli, t2g_L

__all__ = [
    "Model",
    "SYMBOLS",
    "multiorbital_metal",
    "altermagnet",
    "ferromagnet",
    "builtin_model",
    "BUILTIN_MODELS",
]

#: The paper's parameters as real SymPy symbols.  ``tp`` is t' (rendered ``t'``).
SYMBOLS = {
    name: sp.Symbol(name, real=True) for name in ("t", "gamma", "tp", "w", "m_x", "m_y", "m_z", "mu")
}
LATEX_NAMES = {SYMBOLS["tp"]: "t'", SYMBOLS["gamma"]: r"\gamma", SYMBOLS["mu"]: r"\mu"}

_DIRECTION_ALIASES = {"x": (1, 0), "y": (0, 1), "e_x": (1, 0), "e_y": (0, 1)}


def _offset(key):
    if isinstance(key, str):
        try:
            return _DIRECTION_ALIASES[key]
        except KeyError:
            raise ValueError(f"unknown bond direction {key!r}; allowed: 'x', 'y' or an integer offset (dx, dy)") from None
    try:
        off = tuple(int(v) for v in key)
    except Exception:
        raise TypeError(f"bond offset must be 'x', 'y' or a pair of integers, got {key!r}") from None
    if len(off) != 2 or off == (0, 0) or tuple(key) != off:
        raise ValueError(f"bond offset must be a nonzero pair of integers (dx, dy), got {key!r}")
    return off


def _check_finite(mat, what):
    """Reject NaN and infinite entries (``nan``, ``oo``, ``zoo``), naming the first one."""
    bad = (sp.nan, sp.oo, -sp.oo, sp.zoo)
    for (i, j), v in zip(((i, j) for i in range(mat.rows) for j in range(mat.cols)), mat):
        if v.has(*bad) or (v.is_number and v.is_finite is False):
            raise ValueError(f"{what} has the non-finite entry {v} at ({i}, {j}); entries must be finite numbers or expressions")


def _hermitian_up_to_rounding(mat):
    """``mat == mat^dag`` for real parameters; floating-point coefficients (NumPy input) may differ by
    rounding, ``1e-10`` relative to the largest float in ``mat``."""
    diff = _realify(mat - mat.H).applyfunc(sp.expand)
    floats = [abs(f) for f in mat.atoms(sp.Float)]
    if floats:
        tol = 1e-10 * max(1.0, float(max(floats)))
        diff = diff.applyfunc(lambda v: v.xreplace({f: 0 for f in v.atoms(sp.Float) if abs(f) <= tol}))
    return sp.simplify(diff).is_zero_matrix


def _realify(expr_or_matrix):
    """Replace non-real free symbols by real ones (for Hermiticity checks of user input)."""
    subs = {s: sp.Symbol(s.name, real=True) for s in expr_or_matrix.free_symbols if not s.is_real}
    return expr_or_matrix.xreplace(subs) if subs else expr_or_matrix


@dataclass(frozen=True)
class Model:
    """A lattice model: hopping matrix per bond offset, on-site matrix, generators.

    Parameters
    ----------
    name : str
        Identifier (used for file names and the CLI).
    generators : GeneratorSet
        Angular-momentum generators; fixes the on-site basis and its size.
    hoppings : dict
        ``{offset: matrix}`` with offsets ``'x'``, ``'y'`` or integer pairs; the matrix is the
        amplitude ``t_d`` of ``c_n^dag t_d c_{n+d}`` (the reverse hop is ``t_d^dag``).  Give each
        bond once: ``d`` and ``-d`` may not both appear.
    onsite : matrix, optional
        Hermitian on-site matrix ``eps`` (default ``-mu 1``).
    description : str
    magnetization : tuple of 3 expressions, optional
        The ``m`` of an exchange term ``-m . J`` contained in ``onsite`` (informational; used to
        present the exchange torque as ``J x m``).

    Raises
    ------
    ValueError, TypeError
        On wrong shapes, an on-site matrix that is not Hermitian, or both ``d`` and ``-d`` given.
    """

    name: str
    generators: GeneratorSet
    hoppings: dict
    onsite: sp.ImmutableMatrix = None
    description: str = ""
    magnetization: tuple = None
    parameters: tuple = field(default=(), compare=False)

    def __post_init__(self):
        if not isinstance(self.generators, GeneratorSet):
            raise TypeError(f"generators must be a GeneratorSet, got {type(self.generators).__name__}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"model name must be a non-empty string, got {self.name!r}")
        n = self.generators.dim
        if not self.hoppings:
            raise ValueError("a model needs at least one hopping matrix, e.g. {'x': tx, 'y': ty}")
        hops = {}
        for key, mat in dict(self.hoppings).items():
            off = _offset(key)
            if off in hops or tuple(-v for v in off) in hops:
                raise ValueError(
                    f"bond offset {off} given twice (or together with its reverse); give each bond once, "
                    "the reverse hop is the Hermitian conjugate"
                )
            m = self._matrix(mat, f"hopping matrix for offset {off}")
            hops[off] = m
        object.__setattr__(self, "hoppings", dict(sorted(hops.items(), key=lambda kv: (abs(kv[0][0]) + abs(kv[0][1]), kv[0][1], kv[0][0]))))
        onsite = self.onsite if self.onsite is not None else -SYMBOLS["mu"] * sp.eye(n)
        onsite = self._matrix(onsite, "on-site matrix")
        if not _hermitian_up_to_rounding(onsite):
            what = f"on-site matrix of model {self.name!r}"
            msg = hermiticity_message(what, onsite) or f"{what} is not Hermitian: {onsite.tolist()}"
            raise ValueError(f"{msg}; h must be Hermitian (parameters are real symbols)")
        object.__setattr__(self, "onsite", onsite)
        if self.magnetization is not None:
            object.__setattr__(self, "magnetization", tuple(sp.sympify(v) for v in self.magnetization))
        syms = set(onsite.free_symbols)
        for m in hops.values():
            syms |= m.free_symbols
        order = list(SYMBOLS.values())
        params = sorted(syms, key=lambda s: (order.index(s) if s in order else len(order), s.name))
        from ..kernels import check_parameter_name

        for s in params:  # the names become arguments of generated NumPy code
            check_parameter_name(s.name, f"model {self.name!r}")
        object.__setattr__(self, "parameters", tuple(params))

    def _matrix(self, mat, what):
        n = self.generators.dim
        try:
            m = sp.ImmutableMatrix(sp.Matrix(mat))
        except Exception as exc:
            raise TypeError(f"{what} must be a matrix, got {mat!r}") from exc
        if m.shape != (n, n):
            raise ValueError(
                f"{what} has shape {m.shape}, but the generators {self.generators.name} act on a "
                f"{n}-state basis {self.generators.basis}: expected ({n}, {n})"
            )
        _check_finite(m, f"{what} of model {self.name!r}")
        return m

    # ------------------------------------------------------------------ views
    @property
    def dim(self):
        return self.generators.dim

    @property
    def offsets(self):
        """Bond offsets ``d`` with a hopping matrix (each bond once)."""
        return tuple(self.hoppings)

    def hopping(self, offset):
        """Matrix of ``c_n^dag h c_{n+offset}``: ``t_d`` for ``d``, ``t_d^dag`` for ``-d``, else zero."""
        off = tuple(offset)
        if off in self.hoppings:
            return self.hoppings[off]
        rev = tuple(-v for v in off)
        if rev in self.hoppings:
            return self.hoppings[rev].H
        return sp.zeros(self.dim)

    def subs(self, *args, name=None, **kwargs):
        """Model with parameters substituted (``sympy.Matrix.subs`` semantics)."""
        return Model(
            name or self.name,
            self.generators,
            {d: m.subs(*args, **kwargs) for d, m in self.hoppings.items()},
            self.onsite.subs(*args, **kwargs),
            self.description,
            None if self.magnetization is None else tuple(sp.sympify(v).subs(*args, **kwargs) for v in self.magnetization),
        )

    def with_exchange(self, magnetization=None):
        """Add the ferromagnetic exchange ``-m . J`` (Eq. 6) to the on-site matrix."""
        m = tuple(SYMBOLS[f"m_{a}"] for a in "xyz") if magnetization is None else tuple(sp.sympify(v) for v in magnetization)
        return Model(self.name, self.generators, self.hoppings, self.onsite - self.generators.dot(m), self.description, m)


# ---------------------------------------------------------------------- paper models
def multiorbital_metal(tp=None):
    """Multiorbital d_yz/d_xz/d_xy normal metal, Eq. (3), with the t2g L of Eq. (2).

    ``t_x = diag(-gamma, -t, -t')``, ``t_y = diag(-t, -gamma, -t')``, on-site ``-mu``.
    ``tp`` sets t' (default: the free symbol t'; the paper takes t' = t).
    """
    t, g, mu = SYMBOLS["t"], SYMBOLS["gamma"], SYMBOLS["mu"]
    tpv = SYMBOLS["tp"] if tp is None else sp.sympify(tp)
    return Model(
        "multiorbital",
        t2g_L(),
        {"x": sp.diag(-g, -t, -tpv), "y": sp.diag(-t, -g, -tpv)},
        -mu * sp.eye(3),
        "multiorbital (d_yz, d_xz, d_xy) normal metal, Eq. (3)",
    )


def altermagnet(generators=None):
    """Altermagnet, Eq. (4): ``t_x = -t 1 + w sigma_z``, ``t_y = -t 1 - w sigma_z``, on-site ``-mu``.

    The hopping is written with the Pauli matrices regardless of ``generators`` (default: Pauli,
    as in the paper; pass :func:`~orbsym.symbolic.generators.spin_half` for ``S = sigma/2`` currents).
    """
    gens = pauli() if generators is None else generators
    if gens.dim != 2:
        raise ValueError(f"the altermagnet acts on a spin-1/2 basis (2 states); generators {gens.name} have {gens.dim}")
    t, w, mu = SYMBOLS["t"], SYMBOLS["w"], SYMBOLS["mu"]
    sz = sp.diag(1, -1)
    return Model(
        "altermagnet",
        gens,
        {"x": -t * sp.eye(2) + w * sz, "y": -t * sp.eye(2) - w * sz},
        -mu * sp.eye(2),
        "altermagnet with spin-dependent hopping, Eq. (4)",
    )


def ferromagnet(generators=None):
    """Isotropic ferromagnet: ``t_x = t_y = -t 1`` and on-site ``-mu - m . J`` (Eq. 6).

    ``generators`` defaults to the t2g L of Eq. (2) (the orbital FM of the paper's trilayers);
    pass :func:`~orbsym.symbolic.generators.pauli` for a spin FM.
    """
    gens = t2g_L() if generators is None else generators
    n = gens.dim
    t, mu = SYMBOLS["t"], SYMBOLS["mu"]
    m = tuple(SYMBOLS[f"m_{a}"] for a in "xyz")
    return Model(
        "ferromagnet",
        gens,
        {"x": -t * sp.eye(n), "y": -t * sp.eye(n)},
        -mu * sp.eye(n) - gens.dot(m),
        f"isotropic ferromagnet with exchange -m.{gens.name}, Eq. (6)",
        m,
    )


BUILTIN_MODELS = {
    "multiorbital": multiorbital_metal,
    "altermagnet": altermagnet,
    "ferromagnet": ferromagnet,
    "ferromagnet-spin": lambda: ferromagnet(pauli()),
}


def builtin_model(name):
    """Return a built-in model by name; unknown names raise ValueError suggesting close ones."""
    try:
        factory = BUILTIN_MODELS[name]
    except (KeyError, TypeError):
        import difflib

        close = difflib.get_close_matches(str(name), BUILTIN_MODELS, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"unknown model {name!r}{hint}; allowed: {', '.join(BUILTIN_MODELS)}") from None
    model = factory()
    if name == "ferromagnet-spin":
        model = Model("ferromagnet-spin", model.generators, model.hoppings, model.onsite, model.description, model.magnetization)
    return model
