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
    "cubic_t2g_metal",
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
_DIRECTION_ALIASES_3D = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1), "e_x": (1, 0, 0), "e_y": (0, 1, 0), "e_z": (0, 0, 1)}


def _lattice_dimension(keys):
    """2 (square lattice, offsets ``(dx, dy)``) or 3 (cubic, ``(dx, dy, dz)``) from the hopping keys."""
    dims = set()
    for key in keys:
        if isinstance(key, str):
            if key in ("z", "e_z"):
                dims.add(3)
        else:
            try:
                dims.add(len(tuple(key)))
            except TypeError:
                pass
    dims &= {2, 3}
    if len(dims) > 1:
        raise ValueError(
            f"bond offsets {list(keys)} mix 2D pairs (dx, dy) and 3D triples (dx, dy, dz); give every offset of a model "
            "with the same number of components ('x', 'y' and 'z' follow the model's dimension)"
        )
    return dims.pop() if dims else 2


def _offset(key, ndim=2):
    if isinstance(key, str):
        aliases = _DIRECTION_ALIASES_3D if ndim == 3 else _DIRECTION_ALIASES
        try:
            return aliases[key]
        except KeyError:
            raise ValueError(
                f"unknown bond direction {key!r}; allowed: {', '.join(repr(a) for a in ('x', 'y', 'z'))} or an integer offset "
                "(dx, dy) / (dx, dy, dz)"
            ) from None
    try:
        off = tuple(int(v) for v in key)
    except Exception:
        raise TypeError(f"bond offset must be 'x', 'y', 'z' or a tuple of integers, got {key!r}") from None
    if len(off) != ndim or not any(off) or tuple(key) != off:
        what = "nonzero triple of integers (dx, dy, dz)" if ndim == 3 else "nonzero pair of integers (dx, dy)"
        raise ValueError(f"bond offset must be a {what}, got {key!r}")
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
        ndim = _lattice_dimension(dict(self.hoppings))
        for key, mat in dict(self.hoppings).items():
            off = _offset(key, ndim)
            if off in hops or tuple(-v for v in off) in hops:
                raise ValueError(
                    f"bond offset {off} given twice (or together with its reverse); give each bond once, "
                    "the reverse hop is the Hermitian conjugate"
                )
            m = self._matrix(mat, f"hopping matrix for offset {off}")
            hops[off] = m
        # 2D order (|dx| + |dy|, dy, dx); 3D offsets sort by their total length, then dz, dy, dx
        order = (lambda d: (abs(d[0]) + abs(d[1]), d[1], d[0])) if ndim == 2 else (lambda d: (sum(map(abs, d)), d[2], d[1], d[0]))
        object.__setattr__(self, "hoppings", dict(sorted(hops.items(), key=lambda kv: order(kv[0]))))
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
    def ndim(self):
        """Number of lattice directions: 2 (square lattice, offsets ``(dx, dy)``) or 3 (cubic, ``(dx, dy, dz)``)."""
        return len(next(iter(self.hoppings)))

    @property
    def zero(self):
        """The zero offset ``(0,) * ndim`` (the site itself)."""
        return (0,) * self.ndim

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
def _dimension(dimension):
    if isinstance(dimension, bool) or dimension not in (2, 3):
        raise ValueError(f"dimension must be 2 (square lattice, the paper) or 3 (cubic, films), got {dimension!r}")
    return dimension


def multiorbital_metal(tp=None, dimension=2):
    """Multiorbital d_yz/d_xz/d_xy normal metal, Eq. (3), with the t2g L of Eq. (2).

    ``t_x = diag(-gamma, -t, -t')``, ``t_y = diag(-t, -gamma, -t')``, on-site ``-mu``.
    ``tp`` sets t' (default: the free symbol t'; the paper takes t' = t).

    ``dimension=3``: the cubic t2g metal of films, with ``t_z = diag(-t, -t, -gamma)``: each orbital
    is weak (``gamma``) along the axis normal to its plane -- d_yz along x, d_xz along y, d_xy along
    z -- and strong (``t``) in its plane; ``t'`` stays d_xy's in-plane (x, y) hopping.
    """
    t, g, mu = SYMBOLS["t"], SYMBOLS["gamma"], SYMBOLS["mu"]
    tpv = SYMBOLS["tp"] if tp is None else sp.sympify(tp)
    hops = {"x": sp.diag(-g, -t, -tpv), "y": sp.diag(-t, -g, -tpv)}
    if _dimension(dimension) == 3:
        hops["z"] = sp.diag(-t, -t, -g)
    return Model(
        "multiorbital" if dimension == 2 else "multiorbital-3d",
        t2g_L(),
        hops,
        -mu * sp.eye(3),
        "multiorbital (d_yz, d_xz, d_xy) normal metal, Eq. (3)" + ("" if dimension == 2 else "; cubic, t_z = diag(-t, -t, -gamma)"),
    )


def cubic_t2g_metal(second_neighbours=True):
    """Cubic t2g metal of films with nearest and second-nearest neighbours (Slater-Koster).

    Basis (d_yz, d_xz, d_xy) with the t2g L of Eq. 2.  Nearest neighbours as in
    :func:`multiorbital_metal` with ``dimension=3`` (``dd pi = -t``, ``dd delta = -gamma``, t' = t).
    Second neighbours ``(1, +-1, 0)``, ``(1, 0, +-1)``, ``(0, 1, +-1)`` from the two-centre integrals
    ``v_sigma``, ``v_pi``, ``v_delta`` of the second shell (Slater and Koster, Phys. Rev. 94, 1498 (1954),
    Table I, direction cosines ``(1, +-1, 0)/sqrt 2`` and permutations): the orbital lying in the bond's
    plane hops with ``(3 v_sigma + v_delta)/4``, the other two with ``(v_pi + v_delta)/2``, and those
    two mix with ``+-(v_pi - v_delta)/2`` (the sign of the product of the two nonzero direction
    cosines): d_yz-d_xz on ``(1, +-1, 0)``, d_xy-d_yz on
    ``(1, 0, +-1)``, d_xy-d_xz on ``(0, 1, +-1)``.  The mixing is what gives the orbital Hall effect
    (the nearest-neighbour model is orbital-diagonal and has none).
    """
    t, g, mu = SYMBOLS["t"], SYMBOLS["gamma"], SYMBOLS["mu"]
    vs, vp, vd = (sp.Symbol(n, real=True) for n in ("v_sigma", "v_pi", "v_delta"))
    hops = {"x": sp.diag(-g, -t, -t), "y": sp.diag(-t, -g, -t), "z": sp.diag(-t, -t, -g)}
    if second_neighbours:
        plane = (3 * vs + vd) / 4
        other = (vp + vd) / 2
        mix = (vp - vd) / 2
        # (bond family, index of the in-plane orbital, the mixed pair)
        for offsets, inplane, (a, b) in (
            (((1, 1, 0), (1, -1, 0)), 2, (0, 1)),
            (((1, 0, 1), (1, 0, -1)), 1, (2, 0)),
            (((0, 1, 1), (0, 1, -1)), 0, (2, 1)),
        ):
            for off in offsets:
                sign = 1 if off == offsets[0] else -1
                m = sp.diag(*[plane if i == inplane else other for i in range(3)])
                m[a, b] = m[b, a] = sign * mix
                hops[off] = m
    return Model(
        "cubic-t2g" + ("-nnn" if second_neighbours else ""),
        t2g_L(),
        hops,
        -mu * sp.eye(3),
        "cubic t2g metal (films): nearest neighbours of Eq. 3 in 3D"
        + (" and Slater-Koster second neighbours v_sigma, v_pi, v_delta" if second_neighbours else ""),
    )


def altermagnet(generators=None, dimension=2):
    """Altermagnet, Eq. (4): ``t_x = -t 1 + w sigma_z``, ``t_y = -t 1 - w sigma_z``, on-site ``-mu``.

    The hopping is written with the Pauli matrices regardless of ``generators`` (default: Pauli,
    as in the paper; pass :func:`~orbsym.symbolic.generators.spin_half` for ``S = sigma/2`` currents).
    ``dimension=3`` (films): ``t_z = -t 1`` (the d-wave splitting is in the x-y plane).
    """
    gens = pauli() if generators is None else generators
    if gens.dim != 2:
        raise ValueError(f"the altermagnet acts on a spin-1/2 basis (2 states); generators {gens.name} have {gens.dim}")
    t, w, mu = SYMBOLS["t"], SYMBOLS["w"], SYMBOLS["mu"]
    sz = sp.diag(1, -1)
    hops = {"x": -t * sp.eye(2) + w * sz, "y": -t * sp.eye(2) - w * sz}
    if _dimension(dimension) == 3:
        hops["z"] = -t * sp.eye(2)
    return Model(
        "altermagnet" if dimension == 2 else "altermagnet-3d",
        gens,
        hops,
        -mu * sp.eye(2),
        "altermagnet with spin-dependent hopping, Eq. (4)" + ("" if dimension == 2 else "; t_z = -t 1"),
    )


def ferromagnet(generators=None, dimension=2):
    """Isotropic ferromagnet: ``t_x = t_y = -t 1`` and on-site ``-mu - m . J`` (Eq. 6).

    ``generators`` defaults to the t2g L of Eq. (2) (the orbital FM of the paper's trilayers);
    pass :func:`~orbsym.symbolic.generators.pauli` for a spin FM.  ``dimension=3`` (films):
    ``t_z = -t 1`` too (isotropic on every bond).
    """
    gens = t2g_L() if generators is None else generators
    n = gens.dim
    t, mu = SYMBOLS["t"], SYMBOLS["mu"]
    m = tuple(SYMBOLS[f"m_{a}"] for a in "xyz")
    hops = {"x": -t * sp.eye(n), "y": -t * sp.eye(n)}
    if _dimension(dimension) == 3:
        hops["z"] = -t * sp.eye(n)
    return Model(
        "ferromagnet" if dimension == 2 else "ferromagnet-3d",
        gens,
        hops,
        -mu * sp.eye(n) - gens.dot(m),
        f"isotropic ferromagnet with exchange -m.{gens.name}, Eq. (6)" + ("" if dimension == 2 else "; t_z = -t 1"),
        m,
    )


BUILTIN_MODELS = {
    "multiorbital": multiorbital_metal,
    "altermagnet": altermagnet,
    "ferromagnet": ferromagnet,
    "ferromagnet-spin": lambda: ferromagnet(pauli()),
    "cubic-t2g-nnn": cubic_t2g_metal,
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
