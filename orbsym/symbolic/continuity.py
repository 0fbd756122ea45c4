"""Exact lattice continuity equation of the local angular momentum (Eqs. 7-11 of the paper).

Everything here is *derived* with the one-body operator algebra of :mod:`orbsym.symbolic.operators`:

1. the Heisenberg equation ``dJ_{alpha,n}/dt = i [H, J_{alpha,n}]`` (Eq. 8), split by the bond (or
   site) of ``H`` each term comes from: bond ``(n, n+d)`` contributes ``eom_start`` to site ``n`` and
   ``eom_end`` to site ``n + d``;
2. the **bond current** ``j = (eom_end - eom_start) / 2`` (antisymmetric part) and the **bond
   source** ``(eom_start + eom_end) / 2`` (symmetric part, given to each end), so that exactly

       dJ_n/dt = - sum_d [ j(n, d) - j(n - d, d) ] + tau_n,
       tau_n   = sum_d [ s(n, d) + s(n - d, d) ] + i c_n^dag [eps, J] c_n ;

3. the paper's **site-centred current** of Eq. (7) with forward, backward or central lattice
   derivative, combined with forward, backward or central divergences; the code decides which
   combinations give an exact identity whose source vanishes whenever ``[t_d, J] = 0``;
4. the torques rewritten with lattice derivatives ``d+ c_n = c_{n+e} - c_n``,
   ``d- c_n = c_n - c_{n-e}`` by the (invertible) change of variables
   ``c_{n+e} = c_n + d+ c_n``, ``c_{n-e} = c_n - d- c_n``: the Eq. (10)/(11) form.

The derivation is done twice: *generically*, with non-commutative operator symbols ``t_x, t_y``
(position dependent, so heterostructures are covered), ``eps`` and ``J`` (Hermitian); and
*concretely* for a :class:`~orbsym.symbolic.models.Model`, with its matrices.  :func:`kernels` exports the
concrete operators as plain data for the numeric layer (:mod:`orbsym.kernels`).

Normalization: each bond once with amplitude ``t`` (see :mod:`orbsym.conventions`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.physics.quantum import AntiCommutator, Commutator, Dagger, HermitianOperator, Operator

from ..kernels import Kernel, KernelSet, Term
from .models import Model
from .operators import Hamiltonian, LatticeOperator, add_offsets, adjoint, is_zero, neg_offset

__all__ = [
    "derive",
    "derive_generic",
    "Derivation",
    "kernels",
    "derivative_form",
    "from_derivative_form",
    "collect_commutators",
    "paper_current",
    "divergence",
    "current_analysis",
    "central_remainder",
    "DERIVATIVES",
]

I = sp.I
DIRECTION_LABELS = {(1, 0): "x", (0, 1): "y"}
DERIVATIVES = ("forward", "backward", "central")


def _label(d):
    return DIRECTION_LABELS.get(tuple(d), f"({d[0]},{d[1]})")


# =============================================================================== generic symbols
class _Symbols:
    """Position-dependent operator symbols of the generic derivation.

    ``hop(d, s)``: hopping matrix of the bond starting at offset ``s`` along ``d``; ``eps(s)``: on-site
    matrix at ``s``; ``J``: the Hermitian generator ``J_alpha``.  In the bulk (translation-invariant)
    display every anchored symbol is replaced by its unanchored name.
    """

    def __init__(self):
        self._by_key = {}
        self._key_of = {}
        self.J = HermitianOperator(r"J_{\alpha}")
        self.bulk_hop = {}

    def _make(self, base, s, cls, latex):
        key = (base, tuple(s))
        sym = self._by_key.get(key)
        if sym is None:
            name = latex if all(v == 0 for v in s) else f"{latex}^{{({s[0]},{s[1]})}}"
            sym = cls(name)
            self._by_key[key] = sym
            self._key_of[sym] = key
        return sym

    def hop(self, d, s):
        lab = _label(d)
        sym = self._make(("t", tuple(d)), s, Operator, f"t_{{{lab}}}")
        self.bulk_hop[tuple(d)] = self._make(("t", tuple(d)), (0, 0), Operator, f"t_{{{lab}}}")
        return sym

    def eps(self, s):
        return self._make(("eps",), s, HermitianOperator, r"\epsilon")

    def relabel(self, expr, shift):
        """Translate the anchors of all position-dependent symbols in ``expr`` by ``shift``."""
        rep = {}
        for sym in expr.atoms(Operator):
            key = self._key_of.get(sym)
            if key is not None:
                base, s = key
                cls = HermitianOperator if base == ("eps",) else Operator
                latex = r"\epsilon" if base == ("eps",) else f"t_{{{_label(base[1])}}}"
                rep[sym] = self._make(base, add_offsets(s, shift), cls, latex)
        return expr.xreplace(rep) if rep else expr

    def bulk(self, expr):
        """Translation-invariant form: drop all anchors."""
        rep = {}
        for sym in expr.atoms(Operator):
            key = self._key_of.get(sym)
            if key is not None:
                base, _ = key
                cls = HermitianOperator if base == ("eps",) else Operator
                latex = r"\epsilon" if base == ("eps",) else f"t_{{{_label(base[1])}}}"
                rep[sym] = self._make(base, (0, 0), cls, latex)
        return expr.xreplace(rep) if rep else expr

    def hermitian(self, expr):
        """Hermitian hoppings: ``Dagger(t) -> t`` (all of the paper's models)."""
        rep = {Dagger(sym): sym for sym in self._key_of}
        return sp.expand(expr.xreplace(rep))

    def scalar_hoppings(self, expr):
        """Replace every hopping symbol by a commuting scalar (tests ``[t, J] = 0``)."""
        rep = {}
        for sym, key in self._key_of.items():
            if key[0][0] == "t":
                lam = sp.Symbol(f"lambda_{len(rep)}")
                rep[sym] = lam
                rep[Dagger(sym)] = sp.conjugate(lam)
        return sp.expand(expr.xreplace(rep))

    def hopping_symbols(self):
        return [s for s, k in self._key_of.items() if k[0][0] == "t"]


def _generic_hamiltonian(S, directions=((1, 0), (0, 1))):
    return Hamiltonian({d: (lambda s, d=d: S.hop(d, s)) for d in directions}, lambda s: S.eps(s))


def _model_hamiltonian(model):
    return Hamiltonian({d: (lambda s, m=m: m) for d, m in model.hoppings.items()}, lambda s: model.onsite)


# =============================================================================== bond decomposition
def _bond_pieces(eom, bonds, shift_coef=None):
    """Split the equation of motion of J at site 0 into per-bond start/end pieces (bond-anchored)."""
    zero = (0,) * len(next(iter(bonds), (0, 0)))
    pieces = {}
    for d in bonds:
        start = eom.get(("bond", zero, d), LatticeOperator())
        end = eom.get(("bond", neg_offset(d), d), LatticeOperator())
        # re-anchor the end piece at the bond's start site (translate by +d)
        end = end.shift(d, shift_coef).simplify() if end.terms else end
        pieces[d] = (start, end)
    onsite = eom.get(("site", zero, None), LatticeOperator())
    unknown = set(eom) - {("site", zero, None)} - {("bond", zero, d) for d in bonds} - {("bond", neg_offset(d), d) for d in bonds}
    if any(not eom[k].is_zero() for k in unknown):  # pragma: no cover - structural guarantee
        raise RuntimeError(f"unexpected terms in the equation of motion: {unknown}")
    return pieces, onsite


# =============================================================================== Eq. (7) currents
def _eq7_forward(J, hop_right):
    """``i c_n^dag J h_{n,n+e} (c_{n+e} - c_n) + h.c.`` (Eq. 7, forward difference), site-anchored."""
    def build(d):
        h = hop_right(d)
        op = LatticeOperator({((0, 0), d): I * J * h, ((0, 0), (0, 0)): -I * J * h})
        return (op + op.dagger()).simplify()
    return build


def paper_current(J, hop, derivative, d):
    """Site-anchored Eq. (7) current at ``n`` along ``d`` with the given lattice derivative.

    ``hop(d, s)`` returns the hopping matrix of the bond starting at offset ``s``.  With our
    normalization (each bond once, amplitude t) the printed expression carries an extra factor 2::

        forward : i c_n^dag J h_{n,n+d} (c_{n+d} - c_n) + h.c.
        backward: i c_n^dag J h_{n,n-d} (c_n - c_{n-d}) + h.c.,   h_{n,n-d} = t_d(n-d)^dag
        central : (forward + backward) / 2   -- Eq. (7) as printed (central difference)

    For Hermitian, translation-invariant hoppings ``h_{n,n-d} = t_d`` and these are exactly the
    paper's expression ``(i a^2/2) c^dag J t (c_{n+e} - c_{n-e})/(2a) + h.c.`` times 2.
    """
    zero = (0,) * len(d)
    md = neg_offset(d)
    fwd_h = hop(d, zero)
    bwd_h = adjoint(hop(d, md))
    fwd = LatticeOperator({(zero, d): I * J * fwd_h, (zero, zero): -I * J * fwd_h})
    bwd = LatticeOperator({(zero, zero): I * J * bwd_h, (zero, md): -I * J * bwd_h})
    fwd = fwd + fwd.dagger()
    bwd = bwd + bwd.dagger()
    if derivative == "forward":
        return fwd.simplify()
    if derivative == "backward":
        return bwd.simplify()
    if derivative == "central":
        return (fwd + bwd).scale(sp.Rational(1, 2)).simplify()
    raise ValueError(f"unknown lattice derivative {derivative!r}; allowed: {', '.join(DERIVATIVES)}")


def divergence(current_at, d, kind, relabel=None):
    """Lattice divergence along ``d`` of a site-anchored current field ``j_n``.

    ``forward``: ``j_{n+d} - j_n``; ``backward``: ``j_n - j_{n-d}``; ``central``: ``(j_{n+d} - j_{n-d})/2``.
    """
    j0 = current_at
    jp = current_at.shift(d, relabel)
    jm = current_at.shift(neg_offset(d), relabel)
    if kind == "forward":
        return (jp - j0).simplify()
    if kind == "backward":
        return (j0 - jm).simplify()
    if kind == "central":
        return (jp - jm).scale(sp.Rational(1, 2)).simplify()
    raise ValueError(f"unknown divergence {kind!r}; allowed: {', '.join(DERIVATIVES)}")


# =============================================================================== derivative form
def derivative_form(op, directions=((1, 0), (0, 1))):
    """Rewrite a site-anchored operator in lattice-derivative variables.

    Uses the exact, invertible substitution ``c_{n+e} = c_n + d+ c_n``, ``c_{n-e} = c_n - d- c_n``
    (``e`` a unit vector in ``directions``); any other offset ``a`` becomes ``c_n + D_a c_n`` with
    ``D_a c_n = c_{n+a} - c_n``.  Returns ``{(u, v): X}`` meaning ``sum (u c_n)^dag X (v c_n)`` where
    ``u, v`` are ``"c"``, ``("+", d)``, ``("-", d)`` or ``("D", a)``.  The form is unique.
    """
    unit = {tuple(d): ("+", tuple(d)) for d in directions}
    unit.update({neg_offset(d): ("-", tuple(d)) for d in directions})

    def expand(a):
        a = tuple(a)
        if all(v == 0 for v in a):
            return [("c", 1)]
        if a in unit:
            var = unit[a]
            return [("c", 1), (var, 1 if var[0] == "+" else -1)]
        return [("c", 1), (("D", a), 1)]

    out = {}
    for (a, b), X in op.terms.items():
        for (u, su), (v, sv) in itertools.product(expand(a), expand(b)):
            key = (u, v)
            val = (su * sv) * X
            out[key] = out[key] + val if key in out else val
    from .operators import simplify_coefficient

    return {k: simplify_coefficient(v) for k, v in out.items() if not is_zero(v)}


class DerivativeForm(dict):
    """A :func:`derivative_form` result ``{(u, v): X}`` that prints readably.

    Still a plain dict (``form[("c", "c")]`` is a SymPy matrix); ``str(form)`` lists the bilinears
    ``(u c_n)^dag X (v c_n)`` with the difference operators spelled out, and ``_repr_latex_`` renders
    it in notebooks.
    """

    def __init__(self, form, title=""):
        super().__init__(form)
        self.title = title

    @staticmethod
    def _var(u, latex=False):
        names = {(1, 0): "x", (0, 1): "y"}
        if u == "c":
            return "c_n"
        kind, d = u
        dn = names.get(tuple(d), str(tuple(d)))
        if latex:
            return rf"(\partial^{{{kind}}}_{{{dn}}} c_n)" if kind in "+-" else rf"(c_{{n+{dn}}} - c_n)"
        return f"(d{kind}_{dn} c_n)" if kind in "+-" else f"(c_n+{dn} - c_n)"

    def __str__(self):
        lines = [self.title] if self.title else []
        lines.append("sum of (u c_n)^dag X (v c_n), with d+_e c_n = c_n+e - c_n and d-_e c_n = c_n - c_n-e:")
        for (u, v), X in self.items():
            rows = sp.Matrix(X).tolist()
            mat = "[" + ", ".join("[" + ", ".join(sp.sstr(c) for c in r) + "]" for r in rows) + "]"
            lines.append(f"  {self._var(u)}^dag X {self._var(v)}  with X = {mat}")
        return "\n".join(lines)

    def _repr_latex_(self):
        terms = [rf"{self._var(u, True)}^\dagger {sp.latex(sp.Matrix(X))} {self._var(v, True)}" for (u, v), X in self.items()]
        return "$" + (" + ".join(terms) or "0") + "$"


def from_derivative_form(form):
    """Inverse of :func:`derivative_form`: back to ``{(a, b): X}`` bilinears (for checks)."""
    def offsets(u):
        if u == "c":
            return [((0, 0), 1)]
        kind, d = u
        if kind == "+":
            return [(tuple(d), 1), ((0, 0), -1)]
        if kind == "-":
            return [((0, 0), 1), (neg_offset(d), -1)]
        if kind == "2":
            return [(tuple(d), 1), ((0, 0), -2), (neg_offset(d), 1)]
        return [(tuple(d), 1), ((0, 0), -1)]

    op = LatticeOperator()
    for (u, v), X in form.items():
        for (a, sa), (b, sb) in itertools.product(offsets(u), offsets(v)):
            op = op + LatticeOperator({(a, b): (sa * sb) * X})
    return op.simplify()


# =============================================================================== commutator recognition
class _Comm(Commutator):
    """Commutator that keeps the written order (``[t, J]``, as in the paper) when printed."""

    @classmethod
    def eval(cls, a, b):
        if not (a and b) or a == b or a.is_commutative or b.is_commutative:
            return sp.S.Zero
        return None


class _AntiComm(AntiCommutator):
    """Anticommutator that keeps the written order when printed."""

    @classmethod
    def eval(cls, a, b):
        if not (a and b):
            return sp.S.Zero
        return None


def _second(x, y):
    """Order a pair so that the generator J (a Hermitian operator) comes second."""
    def is_gen(z):
        return isinstance(z, HermitianOperator) and str(z.label[0]).startswith("J")
    if is_gen(x) and not is_gen(y):
        return (y, x), -1
    return (x, y), 1


def collect_commutators(expr):
    """Rewrite a sum of two-letter operator words as commutators and anticommutators.

    ``p X Y + q Y X = (p + q)/2 {X, Y} + (p - q)/2 [X, Y]``; longer or single words are kept.
    The generator is written second (``[t, J]``, ``{t, J}``), as in the paper.
    """
    expr = sp.expand(expr)
    words = {}
    rest = sp.Integer(0)
    for term in sp.Add.make_args(expr):
        c, nc = term.args_cnc()
        coeff = sp.Mul(*c)
        if len(nc) == 2 and nc[0] != nc[1]:
            words[(nc[0], nc[1])] = words.get((nc[0], nc[1]), 0) + coeff
        else:
            rest += term
    done = set()
    out = rest
    for (x, y), p in words.items():
        if (x, y) in done:
            continue
        q = words.get((y, x), 0)
        done |= {(x, y), (y, x)}
        (a, b), sign = _second(x, y)
        plus = sp.simplify((p + q) / 2)
        minus = sp.simplify(sign * (p - q) / 2)
        if plus != 0:
            out += plus * _AntiComm(a, b)
        if minus != 0:
            out += minus * _Comm(a, b)
    return out


def _is_commutator_only(expr, S):
    """True if ``expr`` (linear in the hoppings) vanishes whenever all hoppings commute with J."""
    return sp.expand(S.scalar_hoppings(expr)) == 0


# =============================================================================== generic derivation
@dataclass
class GenericDerivation:
    """The continuity equation for arbitrary (position-dependent) hoppings ``t_d`` and generator ``J``.

    Attributes hold :class:`~orbsym.symbolic.operators.LatticeOperator` objects with non-commutative
    coefficients; ``symbols`` translates/bulk-ifies them.
    """

    symbols: _Symbols
    directions: tuple
    eom: dict
    pieces: dict
    onsite: LatticeOperator
    current: dict
    source: dict
    torque: dict
    hermitian: bool


def derive_generic(hermitian=False, directions=((1, 0), (0, 1))):
    """Derive Eqs. (8)-(10) for arbitrary hoppings ``t_d(n)``, on-site ``eps(n)`` and Hermitian ``J``.

    Parameters
    ----------
    hermitian : bool
        Impose ``t_d^dag = t_d`` (true for all of the paper's models).
    """
    S = _Symbols()
    H = _generic_hamiltonian(S, directions)
    Jn = LatticeOperator({((0, 0), (0, 0)): S.J})
    eom = H.heisenberg(Jn)
    if hermitian:
        eom = {k: v.map(S.hermitian).simplify() for k, v in eom.items()}
    pieces, onsite = _bond_pieces(eom, directions, S.relabel)
    current, source, torque = {}, {}, {}
    for d, (start, end) in pieces.items():
        current[d] = (end - start).scale(sp.Rational(1, 2)).simplify()
        source[d] = (end + start).scale(sp.Rational(1, 2)).simplify()
        # site torque from the two bonds along d: s(n, d) + s(n - d, d)
        torque[d] = (source[d] + source[d].shift(neg_offset(d), S.relabel)).simplify()
    return GenericDerivation(S, tuple(directions), eom, pieces, onsite, current, source, torque, hermitian)


def current_analysis(hermitian=True, directions=((1, 0), (0, 1))):
    """Which (Eq. 7 derivative, divergence) pairs give an exact continuity equation with torques.

    For each pair, ``tau = dJ_n/dt + sum_d div_d j_d`` is computed (exact by definition); the pair
    *works* if ``tau`` vanishes whenever every hopping commutes with ``J`` (i.e. ``tau`` contains
    only commutators ``[t, J]``), so that the current is conserved for isotropic hopping.
    Position-dependent hoppings are kept, so "works" holds in heterostructures as well.

    Returns
    -------
    dict ``{(derivative, divergence): (works: bool, tau: LatticeOperator, residual: LatticeOperator)}``
    where ``residual`` is ``tau`` with all hoppings replaced by commuting scalars.
    """
    g = derive_generic(hermitian=hermitian, directions=directions)
    S = g.symbols
    J = S.J
    eom_total = LatticeOperator()
    for op in g.eom.values():
        eom_total = eom_total + op
    onsite = g.onsite
    results = {}
    for der in DERIVATIVES:
        currents = {}
        for d in directions:
            jd = paper_current(J, S.hop, der, d)
            if hermitian:
                jd = jd.map(S.hermitian)
            currents[d] = jd.simplify()
        for div in DERIVATIVES:
            tau = eom_total - onsite
            for d in directions:
                tau = tau + divergence(currents[d], d, div, S.relabel)
            tau = tau.simplify()
            resid = tau.map(S.scalar_hoppings).simplify()
            results[(der, div)] = (resid.is_zero(), tau, resid)
    return results


def central_remainder():
    """The remainder of Eq. (7) as printed (central difference, central divergence) at ``[t, J] = 0``.

    Returns ``(remainder, third_difference)``: the remainder ``dJ/dt + div_c j^c`` with every hopping
    a scalar (translation-invariant), and ``(1/4) sum_d (j_{n+d} - 3 j_n + 3 j_{n-d} - j_{n-2d})`` of
    the bond current with the same scalars; they are equal, i.e. the printed pair is exact only up to
    a third lattice derivative (continuum limit).
    """
    g = derive_generic(hermitian=True)
    S = g.symbols
    eom = LatticeOperator()
    for key, op in g.eom.items():
        if key[0] == "bond":
            eom = eom + op
    tau = eom
    for d in g.directions:
        jc = paper_current(S.J, S.hop, "central", d).map(S.hermitian).simplify()
        tau = tau + divergence(jc, d, "central", S.relabel)
    lam = {d: sp.Symbol(f"lambda_{_label(d)}", real=True) for d in g.directions}

    def scalar(expr):
        expr = S.bulk(expr)
        rep = {}
        for d, l in lam.items():
            rep[S.bulk_hop[d]] = l
            rep[Dagger(S.bulk_hop[d])] = l
        return sp.expand(expr.xreplace(rep))

    remainder = tau.map(scalar).simplify()
    third = LatticeOperator()
    for d in g.directions:
        j = g.current[d].map(scalar)
        md = neg_offset(d)
        m2d = tuple(2 * v for v in md)
        third = third + (j.shift(d) - j.scale(3) + j.shift(md).scale(3) - j.shift(m2d)).scale(sp.Rational(1, 4))
    return remainder, third.simplify()


# =============================================================================== concrete derivation
@dataclass
class Derivation:
    """Continuity equation of a concrete model, per polarization (see :func:`derive`).

    Attributes
    ----------
    model : Model
    generators : GeneratorSet
    eom : dict
        ``{alpha: {tag: LatticeOperator}}`` -- Eq. (8) split by origin.
    current, source : dict
        ``{(alpha, d): LatticeOperator}`` bond-anchored bond current and bond source.
    torque : dict
        ``{(alpha, d): LatticeOperator}`` site-anchored torque from the bonds along ``d``.
    torque_onsite : dict
        ``{alpha: LatticeOperator}`` ``i c^dag [eps, J_alpha] c`` (exchange torque).
    forward : dict
        ``{(alpha, d): (current, source_start, source_end)}`` for the Eq. (7) forward current.
    """

    model: Model
    generators: object
    eom: dict
    pieces: dict
    current: dict
    source: dict
    torque: dict
    torque_onsite: dict
    forward: dict = field(default_factory=dict)
    backward: dict = field(default_factory=dict)

    def torque_derivative_form(self, alpha, d, kind="bond"):
        """Torque from bonds along ``d`` in lattice-derivative variables (:func:`derivative_form`).

        ``alpha`` is a polarization ``"x"``, ``"y"``, ``"z"``; ``d`` a bond offset of the model
        (``(1, 0)``, ``(0, 1)``, or ``"x"``/``"y"``).  Anything else raises ValueError naming the allowed ones.
        """
        alpha, d = self._check_key(alpha, d)
        if kind == "bond":
            op = self.torque[(alpha, d)]
        elif kind == "forward":
            _, s_start, s_end = self.forward[(alpha, d)]
            op = (s_start + s_end.shift(neg_offset(d))).simplify()
        else:
            raise ValueError(f"unknown decomposition {kind!r}; allowed: 'bond', 'forward'")
        names = {(1, 0): "x", (0, 1): "y"}
        title = (f"torque on J_{alpha} from the {names.get(d, d)}-bonds of model {self.model.name!r} "
                 f"({kind} decomposition, lattice-derivative form, Eq. 11):")
        return DerivativeForm(derivative_form(op, self.model.offsets), title)

    def _check_key(self, alpha, d):
        alphas = sorted({a for a, _ in self.torque})
        if not isinstance(alpha, str) or alpha not in alphas:
            raise ValueError(f"unknown polarization {alpha!r}; allowed: {', '.join(alphas)}")
        offsets = self.model.offsets
        key = {"x": (1, 0), "y": (0, 1)}.get(d, d) if isinstance(d, str) else d
        try:
            key = tuple(key)
        except (TypeError, ValueError):
            key = None
        if key not in offsets:
            raise ValueError(f"unknown bond offset {d!r} of model {self.model.name!r}; allowed: {', '.join(str(o) for o in offsets)} (or 'x', 'y')")
        return alpha, key


def _decompose(model, H, Jmat):
    """All bond/site pieces of the continuity equation of ``c^dag Jmat c`` for a concrete model."""
    Jm = sp.ImmutableMatrix(Jmat)
    zero = model.zero
    e = H.heisenberg(LatticeOperator({(zero, zero): Jm}))
    p, onsite = _bond_pieces(e, model.offsets)
    out = {"eom": e, "torque_onsite": onsite, "pieces": p, "current": {}, "source": {}, "torque": {}, "forward": {}, "backward": {}}
    hop = lambda dd, s: model.hopping(dd)  # noqa: E731 - translation-invariant model
    for d, (start, end) in p.items():
        out["current"][d] = (end - start).scale(sp.Rational(1, 2)).simplify()
        out["source"][d] = (end + start).scale(sp.Rational(1, 2)).simplify()
        out["torque"][d] = (out["source"][d] + out["source"][d].shift(neg_offset(d))).simplify()
        jf = paper_current(Jm, hop, "forward", d)
        out["forward"][d] = (jf, (start + jf).simplify(), (end - jf).simplify())
        jb = paper_current(Jm, hop, "backward", d).shift(d)
        out["backward"][d] = (jb, (start + jb).simplify(), (end - jb).simplify())
    return out


def _model_key(model, generators):
    gens = generators or model.generators
    return (
        model.name,
        tuple((d, tuple(m)) for d, m in model.hoppings.items()),
        tuple(model.onsite),
        tuple(tuple(m) for m in gens.matrices),
    )


_DERIVATIONS = {}


def derive(model, generators=None):
    """Derive the exact continuity equation of ``J_alpha`` for a concrete model (Eqs. 7-11).

    Parameters
    ----------
    model : Model
    generators : GeneratorSet, optional
        Generators whose local density is followed (default ``model.generators``), e.g. the spin
        part of a product basis.

    Returns
    -------
    Derivation
        Cached per model; every expression is computed from the Hamiltonian by the commutator algebra.
    """
    if not isinstance(model, Model):
        raise TypeError(f"derive() needs an orbsym Model, got {type(model).__name__}")
    gens = generators or model.generators
    if gens.dim != model.dim:
        raise ValueError(f"generators {gens.name} act on {gens.dim} states but model {model.name!r} has {model.dim}")
    key = _model_key(model, generators)
    if key in _DERIVATIONS:
        return _DERIVATIONS[key]
    H = _model_hamiltonian(model)
    eom, pieces, current, source, torque, onsite_t, forward, backward = {}, {}, {}, {}, {}, {}, {}, {}
    for alpha, Ja in zip("xyz", gens.matrices):
        dec = _decompose(model, H, Ja)
        eom[alpha] = dec["eom"]
        onsite_t[alpha] = dec["torque_onsite"]
        for d in model.offsets:
            pieces[(alpha, d)] = dec["pieces"][d]
            current[(alpha, d)] = dec["current"][d]
            source[(alpha, d)] = dec["source"][d]
            torque[(alpha, d)] = dec["torque"][d]
            forward[(alpha, d)] = dec["forward"][d]
            backward[(alpha, d)] = dec["backward"][d]
    result = Derivation(model, gens, eom, pieces, current, source, torque, onsite_t, forward, backward)
    _DERIVATIONS[key] = result
    return result


# =============================================================================== kernels (hand-off)
def _split_matrix(A, params):
    """Split ``A`` into ``[(coefficient expr, constant matrix)]``, grouping proportional matrices.

    Linear dependence on the parameters (the usual case: hoppings, exchange, chemical potential)
    gives one constant matrix per group of parameters with proportional matrices, e.g.
    ``(t - gamma) |L_y|``; anything else falls back to one term per nonzero entry.
    """
    A = sp.Matrix(A)
    pset = set(params)
    per = {}
    for idx, e in enumerate(A):
        e = sp.expand(e)
        if e == 0:
            continue
        for term, coeff in e.as_coefficients_dict().items():
            key = sp.Integer(1) if term == 1 else term
            if not (key == 1 or key in pset) or coeff.free_symbols:
                return _split_entrywise(A)
            per.setdefault(key, {})
            per[key][idx] = per[key].get(idx, 0) + coeff
    groups = []  # [normalized {idx: value}, coefficient expr]
    for key, vec in per.items():
        vec = {i: v for i, v in vec.items() if v != 0}
        if not vec:
            continue
        first = vec[min(vec)]
        norm = {i: sp.expand(v / first) for i, v in vec.items()}
        for g in groups:
            if g[0] == norm:
                g[1] += key * first
                break
        else:
            groups.append([norm, key * first])
    out = []
    for norm, coeff in groups:
        coeff = sp.factor(coeff)
        if coeff == 0:
            continue
        M = sp.zeros(*A.shape)
        for i, v in norm.items():
            M[i] = v
        out.append((coeff, M))
    return out


def _split_entrywise(A):
    out = []
    for i, j in itertools.product(range(A.rows), range(A.cols)):
        if sp.expand(A[i, j]) != 0:
            E = sp.zeros(*A.shape)
            E[i, j] = 1
            out.append((A[i, j], E))
    return out


def _to_kernel(op, name, anchor, bond, polarization, params, printer):
    terms = []
    for (a, b), A in sorted(op.terms.items()):
        for coef, M in _split_matrix(A, params):
            src = printer.doprint(coef)
            mat = np.array([[complex(v) for v in row] for row in M.tolist()], dtype=complex)
            terms.append(Term(tuple(a), tuple(b), src, mat))
    return Kernel(name, anchor, None if bond is None else tuple(bond), polarization, tuple(terms), tuple(p.name for p in params))


_KERNELS = {}
#: id(model) -> (model, KernelSet); the model is kept alive so its id cannot be reused.
_KERNELS_BY_ID = {}


def kernels(model):
    """Export the derived operators of ``model`` as a :class:`~orbsym.kernels.KernelSet` (cached).

    The numeric layer evaluates these on correlation matrices; see :class:`~orbsym.kernels.KernelSet`
    for the names and the exact continuity identities they satisfy.
    """
    from sympy.printing.numpy import NumPyPrinter

    hit = _KERNELS_BY_ID.get(id(model))
    if hit is not None and hit[0] is model:  # same (immutable) Model object: no SymPy hashing at all
        return hit[1]
    key = _model_key(model, None)
    if key in _KERNELS:
        _KERNELS_BY_ID[id(model)] = (model, _KERNELS[key])
        return _KERNELS[key]
    der = derive(model)
    params = list(model.parameters)
    printer = NumPyPrinter({"fully_qualified_modules": True})
    ops = {}
    H = _model_hamiltonian(model)
    zero = model.zero
    channels = [(None, sp.eye(model.dim))] + list(zip("xyz", der.generators.matrices))
    for alpha, Ja in channels:
        dec = _decompose(model, H, Ja) if alpha is None else None
        density = LatticeOperator({(zero, zero): sp.ImmutableMatrix(Ja)})
        ops[("density", alpha, None)] = _to_kernel(density, "density", "site", None, alpha, params, printer)
        onsite = dec["torque_onsite"] if dec else der.torque_onsite[alpha]
        ops[("torque_onsite", alpha, None)] = _to_kernel(onsite, "torque_onsite", "site", None, alpha, params, printer)
        for d in model.offsets:
            if dec:
                start, end = dec["pieces"][d]
                cur, src = dec["current"][d], dec["source"][d]
                jf, sf_start, sf_end = dec["forward"][d]
                jb = dec["backward"][d][0]
            else:
                start, end = der.pieces[(alpha, d)]
                cur, src = der.current[(alpha, d)], der.source[(alpha, d)]
                jf, sf_start, sf_end = der.forward[(alpha, d)]
                jb = der.backward[(alpha, d)][0]
            for name, op in (
                ("eom_start", start),
                ("eom_end", end),
                ("current", cur),
                ("source", src),
                ("current_forward", jf),
                ("current_backward", jb),
                ("source_forward_start", sf_start),
                ("source_forward_end", sf_end),
            ):
                ops[(name, alpha, d)] = _to_kernel(op, name, "bond", d, alpha, params, printer)
    ham = {"onsite": _to_kernel(LatticeOperator({(zero, zero): model.onsite}), "onsite", "site", None, None, params, printer)}
    for d, t in model.hoppings.items():
        ham[d] = _to_kernel(LatticeOperator({(zero, d): t}), "hopping", "bond", d, None, params, printer)
    gens = der.generators
    ks = KernelSet(
        model.name,
        model.dim,
        tuple(gens.basis),
        gens.to_numpy(),
        float(gens.normalization),
        tuple(p.name for p in params),
        tuple(model.offsets),
        ham,
        ops,
    )
    _KERNELS[key] = ks
    _KERNELS_BY_ID[id(model)] = (model, ks)
    return ks
