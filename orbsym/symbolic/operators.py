"""One-body lattice operator algebra (symbolic layer).

A :class:`LatticeOperator` is a finite sum of bilinears

    O_n = sum_{(a, b)} c^dag_{n+a} A_{ab} c_{n+b},

anchored at a site ``n`` (or at the start of a bond), with explicit integer lattice offsets
``a, b`` and a coefficient ``A_ab`` that is either a SymPy matrix (a concrete model) or a
non-commutative SymPy expression (the generic derivation, where hoppings and generators are
operator symbols).  Commutators are done at the one-body level,

    [c^dag X c, c^dag Y c] = c^dag [X, Y] c,

with the lattice offsets carried along: for ``H = sum_m sum_d c_m^dag h_d(m) c_{m+d}``::

    [H, O_n] = sum_{d, (a, b)} ( c^dag_{n+a-d} h_d A_ab c_{n+b}  -  c^dag_{n+a} A_ab h_d c_{n+b+d} ).

Every term of the result is tagged with the bond (or site) of ``H`` it comes from, so that the
equation of motion can be split bond by bond (see :mod:`orbsym.symbolic.continuity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.physics.quantum import Dagger

__all__ = [
    "LatticeOperator",
    "Hamiltonian",
    "adjoint",
    "is_zero",
    "simplify_coefficient",
    "add_offsets",
    "neg_offset",
]


def add_offsets(a, b):
    return tuple(x + y for x, y in zip(a, b))


def neg_offset(a):
    return tuple(-x for x in a)


def adjoint(x):
    """Hermitian conjugate of a coefficient (matrix ``.H`` or operator ``Dagger``)."""
    if isinstance(x, sp.MatrixBase):
        return sp.ImmutableMatrix(x.H)
    return Dagger(x)


def simplify_coefficient(x):
    """Canonical simplified form: expanded non-commutative expression or entry-wise simplified matrix."""
    if isinstance(x, sp.MatrixBase):
        return sp.ImmutableMatrix(x.applyfunc(sp.expand))
    return sp.expand(x)


def is_zero(x):
    if isinstance(x, sp.MatrixBase):
        return all(sp.expand(e) == 0 for e in x)
    return sp.expand(x) == 0


class LatticeOperator:
    """Sum of bilinears ``c^dag_{n+a} A c_{n+b}`` keyed by ``(a, b)``.

    Parameters
    ----------
    terms : dict, optional
        ``{(a, b): A}`` with ``a, b`` integer offset tuples.
    """

    __slots__ = ("terms",)

    def __init__(self, terms=None):
        self.terms = {}
        for (a, b), coef in (terms or {}).items():
            self._add(tuple(a), tuple(b), coef)

    def _add(self, a, b, coef):
        key = (a, b)
        if key in self.terms:
            self.terms[key] = self.terms[key] + coef
        else:
            self.terms[key] = coef

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        out = LatticeOperator(self.terms)
        for (a, b), c in other.terms.items():
            out._add(a, b, c)
        return out

    def __neg__(self):
        return LatticeOperator({k: -v for k, v in self.terms.items()})

    def __sub__(self, other):
        return self + (-other)

    def scale(self, factor):
        """Multiply every coefficient by a commutative scalar ``factor``."""
        return LatticeOperator({k: factor * v for k, v in self.terms.items()})

    def dagger(self):
        """Hermitian conjugate: ``(c^dag_a A c_b)^dag = c^dag_b A^dag c_a``."""
        return LatticeOperator({(b, a): adjoint(v) for (a, b), v in self.terms.items()})

    def shift(self, s, relabel=None):
        """Translate by offset ``s``; ``relabel(coef, s)`` may translate position-dependent symbols."""
        out = {}
        for (a, b), v in self.terms.items():
            out[(add_offsets(a, s), add_offsets(b, s))] = relabel(v, s) if relabel else v
        return LatticeOperator(out)

    def map(self, fn):
        return LatticeOperator({k: fn(v) for k, v in self.terms.items()})

    def simplify(self):
        """Simplify coefficients and drop vanishing terms."""
        out = {}
        for k, v in self.terms.items():
            v = simplify_coefficient(v)
            if not is_zero(v):
                out[k] = v
        return LatticeOperator(out)

    def is_zero(self):
        return all(is_zero(v) for v in self.terms.values())

    def is_hermitian(self):
        return (self - self.dagger()).is_zero()

    def __eq__(self, other):
        return isinstance(other, LatticeOperator) and (self - other).is_zero()

    __hash__ = None

    def __repr__(self):
        inner = ", ".join(f"{a}->{b}: {v}" for (a, b), v in sorted(self.terms.items()))
        return f"LatticeOperator({{{inner}}})"

    @property
    def offsets(self):
        s = set()
        for a, b in self.terms:
            s.add(a)
            s.add(b)
        return s

    # ------------------------------------------------------------------ numerics (tests)
    def expectation(self, G, site, index, dim):
        """``<O_site>`` for a real-space correlation matrix ``G_ij = <c_i^dag c_j>`` (slow path).

        ``index(pos) -> int or None`` maps a lattice position to its first basis index (None if the
        site does not exist).  Only for concrete (numeric-valued) matrix coefficients.
        """
        import numpy as np

        total = 0j
        for (a, b), A in self.terms.items():
            i = index(add_offsets(site, a))
            j = index(add_offsets(site, b))
            if i is None or j is None:
                continue
            M = np.array(A.tolist(), dtype=complex)
            total += np.sum(M * G[i : i + dim, j : j + dim])
        return total


@dataclass(frozen=True)
class Hamiltonian:
    """Hopping table of ``H = sum_m [ sum_d (c_m^dag t_d(m) c_{m+d} + h.c.) + c_m^dag eps(m) c_m ]``.

    Parameters
    ----------
    bonds : dict
        ``{d: fn(start) -> coefficient}`` for each bond offset ``d`` (each bond once); ``start`` is
        the bond's start site relative to the anchor of the operator being commuted.
    onsite : callable
        ``fn(pos) -> coefficient`` for the on-site term.
    """

    bonds: dict
    onsite: object

    def hops(self):
        """Yield ``(d, fn(m) -> h_d(m), tag_fn(m))`` for all ordered hops ``c_m^dag h_d c_{m+d}``."""
        for d, fn in self.bonds.items():
            nd = neg_offset(d)
            yield d, (lambda m, fn=fn: fn(m)), (lambda m, d=d: ("bond", m, d))
            yield nd, (lambda m, fn=fn, nd=nd: adjoint(fn(add_offsets(m, nd)))), (
                lambda m, d=d, nd=nd: ("bond", add_offsets(m, nd), d)
            )
        zero = (0,) * len(next(iter(self.bonds)))
        yield zero, (lambda m: self.onsite(m)), (lambda m: ("site", m, None))

    def commutator(self, op):
        """``[H, op]`` split by origin: ``{("bond", start, d) | ("site", pos, None): LatticeOperator}``."""
        out = {}
        for d, h, tag in self.hops():
            for (a, b), A in op.terms.items():
                m1 = add_offsets(a, neg_offset(d))  # c^dag_{m1} h_d(m1) c_{m1+d} with m1 + d = a
                t1 = tag(m1)
                out.setdefault(t1, LatticeOperator())._add(m1, b, h(m1) * A)
                m2 = b  # c^dag_{m2} h_d(m2) c_{m2+d} with m2 = b
                t2 = tag(m2)
                out.setdefault(t2, LatticeOperator())._add(a, add_offsets(b, d), -(A * h(m2)))
        return {k: v.simplify() for k, v in out.items()}

    def heisenberg(self, op):
        """``dO/dt = i [H, O]`` (Eq. 8), split by origin as in :meth:`commutator`."""
        return {k: v.scale(sp.I).simplify() for k, v in self.commutator(op).items()}
