"""Expectation values of the derived kernels on translation-invariant (in y) correlation blocks.

Every observable here is a kernel of the symbolic layer (:class:`orbsym.kernels.KernelSet`),
evaluated as::

    <O>_anchor = sum_terms coefficient * sum_ij M_ij G(x + left_x, x + right_x; right_y - left_y)_ij

with ``G(x, x'; dy) = <c^dag_{x,y} c_{x',y+dy}>`` (:mod:`orbsym.conventions`: ``<c^dag A c> =
Tr(A G^T)``).  Because the state is invariant under y-translations, every value is per site (the
same in every row).  Terms touching a column outside ``0 .. N_x - 1`` vanish (hard walls).

Quantities, for polarization ``alpha`` in ``'x', 'y', 'z'`` or ``None`` (charge):

* ``density``: ``<c_n^dag J_alpha c_n>`` per column.
* bond currents ``current`` of every x-bond (``N_x - 1`` values, positive toward larger x) and of
  the y-bonds of every column; the paper's Eq. (7) current (``current_forward`` /
  ``current_backward``, site-centred average at interior columns).
* torques: ``exchange`` (``torque_onsite``, the FM exchange torque ``i c^dag [eps, J] c``),
  ``bond_x`` and ``bond_y`` (the ``source`` kernels given to both end sites), with diagonal
  (next-nearest-neighbour) bonds also ``bond_diagonal`` (all other bond offsets), and their sum.
  The lattice divergence and the equation of motion sum over every bond of the lattice.
* the equation of motion ``d<J_n>/dt`` from ``eom_start``/``eom_end`` (zero in equilibrium).

Our normalization counts every bond once (conventions); currents and torques are therefore twice
the paper's printed Eqs. (7)-(11).
"""

from __future__ import annotations

import numpy as np

from .checks import unknown_name
from .lattice import UNIT_BONDS

__all__ = ["Observables", "POLARIZATIONS", "KERNEL_NAMES", "polarization_label"]

#: Polarizations in output order; None is the charge (particle-number) channel.
POLARIZATIONS = (None, "x", "y", "z")
#: Kernel names evaluated by :class:`Observables`.
KERNEL_NAMES = (
    "density",
    "torque_onsite",
    "eom_start",
    "eom_end",
    "current",
    "source",
    "current_forward",
    "current_backward",
    "source_forward_start",
    "source_forward_end",
)


#: Charge-channel kernels that vanish identically (``[eps, 1] = 0``; ``eom_start + eom_end = 0`` for
#: the particle number); a KernelSet may omit them.
_ZERO_FOR_CHARGE = ("torque_onsite", "source")


def polarization_label(p):
    """Output label of a polarization: ``'charge'`` for None, else ``'x'``, ``'y'``, ``'z'``."""
    return "charge" if p is None else p


def _check_pol(p):
    if p == "charge":
        return None
    if p not in POLARIZATIONS:
        raise unknown_name("polarization", p, ("x", "y", "z", "charge"))
    return p


class Observables:
    """Kernel expectation values on correlation bands ``G(x, x+dx; dy)``.

    Parameters
    ----------
    lattice : orbsym.numeric.Lattice
    bands : dict
        ``{(dx, dy): ndarray (N_x, dim, dim)}`` as produced by
        :func:`orbsym.numeric.bloch.solve_bloch` (``bands[dx, dy][x] = G(x, x + dx; dy)``).
    """

    def __init__(self, lattice, bands):
        self.lattice = lattice
        self.bands = bands
        self._cache = {}
        self._inside = {}

    # ------------------------------------------------------------------ core
    def evaluate(self, name, polarization=None, bond=None):
        """Evaluate one kernel at all its anchors.

        Returns an array of length ``N_x`` (site kernels, y-bond kernels: one per column) or
        ``N_x - 1`` (x-bond kernels: one per bond ``(x, x+1)``).  Values are real up to rounding;
        the real part is returned.
        """
        key = (name, polarization, self.lattice.bond_key(bond))
        if key in self._cache:
            return self._cache[key]
        lat = self.lattice
        N = lat.N_x
        if polarization is None and name in _ZERO_FOR_CHARGE and not lat.has_kernel(name, None, bond):
            val = np.zeros(lat.anchors(bond)[0].size)
            self._cache[key] = val
            return val
        xs, groups = lat.kernel_blocks(name, polarization, bond)
        out = np.zeros(xs.size, complex)
        for gi, (idx, blocks) in enumerate(groups):
            for (left, right), M in blocks.items():
                rel = tuple(r - l for r, l in zip(right, left))  # (dx, dy) or, films, (dx, dy, dz)
                dx = rel[0]
                sel = self._inside.get((key[2], gi, left[0], dx))
                if sel is None:  # anchors whose term stays inside the lattice (the same for every kernel)
                    xl = xs[idx] + left[0]
                    inside = (xl >= 0) & (xl < N) & (xl + dx >= 0) & (xl + dx < N)
                    sel = self._inside[key[2], gi, left[0], dx] = (idx[inside], xl[inside]) if inside.any() else None
                if sel is None:
                    continue
                band = self.bands.get(rel)
                if band is None:
                    raise ValueError(f"correlation band {rel} (dx, dy{', dz' if len(rel) == 3 else ''}) needed by kernel {name!r} was not computed")
                with np.errstate(under="ignore"):  # tiny correlations of nearly empty bands
                    out[sel[0]] += np.einsum("ij,aij->a", M, band[sel[1]])
        val = out.real
        self._cache[key] = val
        return val

    # ------------------------------------------------------------------ quantities
    def density(self, polarization=None):
        """``<c_n^dag J_alpha c_n>`` per column (charge: particles per site)."""
        return self.evaluate("density", _check_pol(polarization))

    def particle_number(self, per_row=True):
        """Particles per row (films: per transverse cell; default) or in total, from the charge density kernel."""
        n = float(self.density(None).sum())
        return n if per_row else n * self.lattice.n_transverse

    # Currents.  Two x currents are named throughout orbsym:
    #   "slice-boundary total" (direction "x"): the current through the boundary between columns
    #       b and b + 1, summed over every bond that crosses it -- the default x current;
    #   "bond (dx, dy)" (direction a bond offset): the current of that one bond offset alone.
    # Both coincide bit for bit when (1, 0) is the only bond with dx > 0.
    def bond_current(self, polarization=None, direction="x"):
        """Exact bond current (kernel ``current``, positive from the bond's start to its end site).

        Parameters
        ----------
        polarization : {None, "charge", "x", "y", "z"}
        direction : "x", "y" or a bond offset ``(dx, dy)`` of the lattice
            ``"x"`` -- the **slice-boundary total** (:meth:`boundary_current`): the current through the
            boundary between columns ``b`` and ``b + 1`` (``N_x - 1`` values), the sum of the currents
            of every bond that crosses it, ``I(b) = sum_{d, dx > 0} sum_{s=0}^{dx-1} j_d(b - s)``.  It
            obeys ``d<J_x>/dt = I(x - 1) - I(x) + tau(x)`` column by column and, in a uniform bulk,
            equals the conventional current ``{v_x, J}/2 = sum_d d_x j_d`` per site.  With ``(1, 0)``
            the only bond with ``dx > 0`` (nearest neighbours) it is the ``(1, 0)`` bond current itself,
            bit for bit.
            ``(dx, dy)`` -- **bond (dx, dy)** alone: ``j_d(x)`` of the bonds ``(x, x + d)``, length
            ``N_x - dx`` (``dx > 0``) or ``N_x`` (``dx = 0``, one per column).
            ``"y"`` -- bond ``(0, 1)`` alone, one per column (diagonal bonds carry y current too;
            the total y current per row is ``sum_d d_y sum_x j_d(x)``).

        Returns
        -------
        ndarray
            Units of ``t / hbar`` times the unit of ``J`` (charge: particles), per row (one y cell),
            each bond counted once (:mod:`orbsym.conventions`).
        """
        p = _check_pol(polarization)
        if direction == "x":
            return self.boundary_current(p, "bond")
        return self.evaluate("current", p, self._offset(direction))

    def forward_current(self, polarization=None, direction="x"):
        """Eq. (7) current with a forward difference (kernel ``current_forward``), anchored at the bond start.

        ``direction`` as in :meth:`bond_current`: ``"x"`` is the slice-boundary total of the forward
        kernel (``N_x - 1`` values; it obeys the balance with the forward torques,
        :meth:`torques` ``kind="forward"``), a bond offset ``(dx, dy)`` that bond alone, ``"y"`` bond
        ``(0, 1)``.
        """
        p = _check_pol(polarization)
        if direction == "x":
            return self.boundary_current(p, "forward")
        return self.evaluate("current_forward", p, self._offset(direction))

    def backward_current(self, polarization=None, direction="x"):
        """Eq. (7) current with a backward difference (kernel ``current_backward``), anchored at the bond end.

        ``direction`` as in :meth:`bond_current`: ``"x"`` is the slice-boundary total of the backward
        kernel (``N_x - 1`` values, the sum over every bond crossing the boundary; no torque
        decomposition pairs with it), a bond offset ``(dx, dy)`` that bond alone (indexed by the
        bond's start column), ``"y"`` bond ``(0, 1)``.
        """
        p = _check_pol(polarization)
        if direction == "x":
            return self.boundary_current(p, "backward")
        return self.evaluate("current_backward", p, self._offset(direction))

    def eq7_current(self, polarization=None, direction="x"):
        """Paper's site-centred Eq. (7) current per column (length ``N_x``).

        * ``"x"``: the average of the forward slice-boundary total through the column's right boundary
          and the backward slice-boundary total through its left boundary,
          ``(I_fwd(n) + I_bwd(n - 1)) / 2``; for nearest-neighbour models this is the paper's
          ``(forward(n) + backward(n - 1)) / 2`` of the ``(1, 0)`` bond.  The two hard-wall end columns
          lack one boundary: NaN.
        * a bond offset ``d = (dx, dy)`` with ``dx > 0``: that bond alone,
          ``(forward(n, d) + backward(n - dx, d)) / 2`` (:class:`orbsym.kernels.KernelSet`); NaN at the
          ``dx`` columns next to each wall.
        * ``"y"`` or ``(0, dy)``: ``(forward + backward) / 2`` of that bond in every column.
        """
        p = _check_pol(polarization)
        N = self.lattice.N_x
        if direction == "x":
            f, b = self.boundary_current(p, "forward"), self.boundary_current(p, "backward")
            dx = 1
        else:
            d = self._offset(direction)
            f, b = self.evaluate("current_forward", p, d), self.evaluate("current_backward", p, d)
            dx = d[0]
            if dx == 0:
                return 0.5 * (f + b)
        out = np.full(N, np.nan)
        if N - 2 * dx > 0:
            out[dx : N - dx] = 0.5 * (f[dx:] + b[: N - 2 * dx])
        return out

    def _offset(self, direction):
        return current_offset(self.lattice, direction)

    def _bond_sum(self, start_name, end_name, polarization):
        """Per column and bond offset: kernel at the start site (bond from x) + end site (bond from x - dx).

        Returns ``{bond: array (N_x,)}`` for every bond offset of the lattice.
        """
        N = self.lattice.N_x
        out = {}
        for b in self.lattice.bonds:
            dx = b[0]
            v = np.zeros(N)
            if N - dx > 0:
                v[: N - dx] += self.evaluate(start_name, polarization, b)
                v[dx:] += self.evaluate(end_name, polarization, b)
            out[b] = v
        return out

    def _grouped(self, per_bond):
        """``bond_x``, ``bond_y`` (films: ``bond_z``) and (if present) ``bond_diagonal`` = all other offsets."""
        lat = self.lattice
        N = lat.N_x
        units = UNIT_BONDS[lat.ndim]
        out = {f"bond_{a}": per_bond.get(b, np.zeros(N)) for a, b in units.items()}
        if lat.has_diagonal_bonds:
            out["bond_diagonal"] = sum((v for b, v in per_bond.items() if b not in units.values()), np.zeros(N))
        return out

    def torques(self, polarization, kind="bond"):
        """Torque terms per column for the bond-current (``kind='bond'``) or Eq. (7) forward
        (``kind='forward'``) decomposition.

        Returns
        -------
        dict
            ``exchange`` (on-site, FM exchange torque), ``bond_x``, ``bond_y`` (hopping torques
            from the x- and y-bonds of the site), ``bond_diagonal`` (all other bonds; only when
            the lattice has them) and ``total``; arrays of length N_x.
        """
        p = _check_pol(polarization)
        if kind == "bond":
            per = self._bond_sum("source", "source", p)
        elif kind == "forward":
            per = self._bond_sum("source_forward_start", "source_forward_end", p)
        else:
            raise ValueError(f"unknown torque decomposition kind {kind!r}; allowed: 'bond', 'forward'")
        ex = self.evaluate("torque_onsite", p)
        out = {"exchange": ex, **self._grouped(per)}
        out["total"] = ex + sum(per.values(), np.zeros(self.lattice.N_x))
        return out

    def divergence(self, polarization, kind="bond"):
        """Lattice divergence of the current per column, summed over every bond with ``dx > 0``
        (bond ``(x, x + dx)`` takes ``j`` out of column ``x`` into ``x + dx``; the y part of each bond
        vanishes by translation invariance)."""
        name = {"bond": "current", "forward": "current_forward"}.get(kind)
        if name is None:
            raise ValueError(f"unknown current kind {kind!r}; allowed: 'bond', 'forward'")
        p = _check_pol(polarization)
        N = self.lattice.N_x
        div = np.zeros(N)
        for b in self.lattice.bonds:
            dx = b[0]
            if dx == 0 or N - dx <= 0:
                continue
            j = self.evaluate(name, p, b)
            div[: N - dx] += j
            div[dx:] -= j
        return div

    def boundary_current(self, polarization, kind="bond"):
        """Slice-boundary total: the current through each boundary between columns ``b`` and ``b + 1``.

        ``I(b) = sum_{d, dx > 0} sum_{s=0}^{dx-1} j_d(b - s)`` (``N_x - 1`` values, positive toward larger
        x): the x-directed currents of every bond that crosses the boundary (``(1, 0)``, ``(1, +-1)``,
        ``(2, 0)`` twice ...), so that ``-div j`` of column x is ``I(x - 1) - I(x)`` (hard walls:
        ``I(-1) = I(N_x - 1) = 0``) and ``d<J_x>/dt = I(x - 1) - I(x) + tau(x)``.  In a uniform bulk it
        is the conventional current ``{v_x, J}/2 = sum_d d_x j_d`` per site.  With nearest-neighbour
        x bonds only it is the ``(1, 0)`` bond current, bit for bit.

        Parameters
        ----------
        polarization : {None, "charge", "x", "y", "z"}
        kind : {"bond", "forward", "backward"}
            Kernel summed: the exact bond current (``current``), or the paper's Eq. (7) with a forward
            (``current_forward``; balanced by :meth:`torques` ``kind="forward"``) or backward
            (``current_backward``) difference.
        """
        name = {"bond": "current", "forward": "current_forward", "backward": "current_backward"}.get(kind)
        if name is None:
            raise ValueError(f"unknown current kind {kind!r}; allowed: 'bond', 'forward', 'backward'")
        p = _check_pol(polarization)
        N = self.lattice.N_x
        out = None
        for b in self.lattice.bonds:  # (1, 0) first
            dx = b[0]
            if dx == 0 or N - dx <= 0:
                continue
            j = self.evaluate(name, p, b)
            for s in range(dx):  # bond (x, x + dx) crosses the boundaries x + s, s = 0 .. dx - 1
                if out is None and dx == 1:
                    out = j.copy()  # the (1, 0) bond: nearest-neighbour models return it unchanged
                    continue
                if out is None:
                    out = np.zeros(max(N - 1, 0))
                out[s : s + j.size] += j
        return np.zeros(max(N - 1, 0)) if out is None else out

    def torque_dipole(self, polarization, kind="bond", rtol=1e-10):
        """Lattice torque dipole ``P`` with ``tau = -div P`` (Shi-Zhang-Xiao-Niu, the paper's ref. 44).

        On the column lattice (open x, translation invariant in y) ``P`` on boundary ``b`` is
        ``-sum_{x <= b} tau(x)``; it exists iff the net torque ``sum_x tau(x)`` vanishes (true in every
        stationary state, ``rho = g(H)``: ``sum_x tau = <i [H, J_total]> = 0``; in a driven state only
        when the driven accumulation has no net rate).  As an operator identity a local ``P`` exists
        only if ``[h(k), J] = 0`` for all k (then ``tau = 0``; :mod:`orbsym.symbolic.proper`).

        Returns
        -------
        dict
            ``P`` (``N_x - 1`` values), ``net_torque`` and ``exists`` (``|net| <= rtol * scale``).
        """
        tau = self.torques(polarization, kind)["total"]
        c = np.cumsum(tau)
        net = float(c[-1]) if c.size else 0.0
        scale = max(1e-300, float(np.abs(tau).sum()), float(np.abs(self.boundary_current(polarization, kind)).max(initial=0.0)))
        return {"P": -c[:-1], "net_torque": net, "exists": abs(net) <= rtol * max(scale, 1.0)}

    def proper_current(self, polarization, kind="bond", rtol=1e-10):
        """Proper (conserved) current ``I + P`` per column boundary, with ``-div(I + P) = d<J>/dt``.

        Raises ValueError (naming the net torque) when no torque dipole exists (see :meth:`torque_dipole`).
        """
        td = self.torque_dipole(polarization, kind, rtol)
        if not td["exists"]:
            raise ValueError(
                f"no torque dipole for polarization {polarization!r}: the net torque sum_x tau = {td['net_torque']:.3e} does not vanish, "
                "so tau is not a lattice divergence and the proper current is undefined for this state"
            )
        return self.boundary_current(polarization, kind) + td["P"]

    def time_derivative(self, polarization):
        """``d<J_n>/dt`` per column from the equation of motion (``eom_start/end + torque_onsite``)."""
        p = _check_pol(polarization)
        per = self._bond_sum("eom_start", "eom_end", p)
        return sum(per.values(), np.zeros(self.lattice.N_x)) + self.evaluate("torque_onsite", p)

    def continuity_residual(self, polarization, kind="bond"):
        """``d<J>/dt - (-div j + tau)`` per column: zero by the exact lattice continuity equation."""
        return self.time_derivative(polarization) - (-self.divergence(polarization, kind) + self.torques(polarization, kind)["total"])


#: Names of the current kinds in outputs (:func:`current_definition`).
_KIND_NAMES = {
    "bond": "exact bond current",
    "forward": "Eq. (7) current, forward difference",
    "backward": "Eq. (7) current, backward difference",
    "eq7": "Eq. (7) site-centred current",
}


def current_definition(kind="bond", direction="x"):
    """One-line name of a current for outputs: the kernel (``kind``) and which bonds it sums.

    ``direction="x"``: the slice-boundary total (every bond crossing a column boundary); a bond
    offset ``(dx, dy)``: that bond alone; ``"y"``: bond ``(0, 1)``.  Example:
    ``current_definition("bond", "x")`` -> ``"exact bond current, x: slice-boundary total ..."``.
    """
    if kind not in _KIND_NAMES:
        raise unknown_name("current kind", kind, tuple(_KIND_NAMES))
    what = _KIND_NAMES[kind]
    if direction == "x":
        where = (
            "per column, average of the forward total through its right boundary and the backward total through its left one"
            if kind == "eq7"
            else "per boundary between columns b and b+1"
        )
        return (
            f"{what}, x: slice-boundary total, summed over every bond crossing the boundary ((1,0), (1,+-1), (2,0) ...; "
            f"= the (1,0) bond current for nearest-neighbour models), {where}"
        )
    names = {"y": (0, 1), "z": (0, 0, 1)}  # "z": films; their "y" bond is (0, 1, 0)
    d = _bond(direction) if isinstance(direction, tuple) else names.get(direction)
    if d is None:
        raise unknown_name("current direction", direction, ("x", "y", "z", "a bond offset (dx, dy) or (dx, dy, dz)"))
    return f"{what} of bond {d} alone" + (", per column" if d[0] == 0 or kind == "eq7" else ", per bond (x, x+d), indexed by its start column x")


def current_offset(lattice, direction):
    """Bond offset of a single-bond current direction: ``"y"`` -> ``(0, 1)`` (films: ``"y"``, ``"z"``
    -> ``(0, 1, 0)``, ``(0, 0, 1)``); a tuple of integers must be one of ``lattice.bonds`` (ValueError
    naming the allowed offsets, and the reverse when the tuple is a bond counted from its other end).
    ``"x"`` (the slice-boundary total) is not a single bond and is refused here."""
    transverse = ("y", "z") if lattice.ndim == 3 else ("y",)
    if direction in transverse:
        return lattice.unit_bond(direction)
    n = lattice.ndim
    if isinstance(direction, (tuple, list)) and len(direction) == n and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in direction):
        d = tuple(int(v) for v in direction)
        if d in lattice.bonds:
            return d
        flip = tuple(-v for v in d)
        hint = f" (bond {flip} counted from its other end: use {flip} and change the sign)" if flip in lattice.bonds else ""
        names = ", ".join(repr(t) for t in transverse)
        raise ValueError(f"current direction {d}: not a bond offset of this lattice{hint}; allowed: 'x' (slice-boundary total), {names} or one of {list(lattice.bonds)}")
    what = "a bond offset (dx, dy, dz)" if n == 3 else "a bond offset (dx, dy)"
    raise unknown_name("current direction", direction, ("x",) + transverse + (what,))


def _bond(direction):
    """A bond offset tuple, or a direction name ``"x"``, ``"y"``, ``"z"`` (resolved by the lattice in
    :meth:`Observables.evaluate`: ``(1, 0)`` in 2D, ``(1, 0, 0)`` in a film)."""
    if isinstance(direction, tuple) and len(direction) in (2, 3):
        return tuple(int(v) for v in direction)
    if direction in ("x", "y", "z"):
        return direction
    raise unknown_name("current direction", direction, ("x", "y", "z", "a bond offset (dx, dy) or (dx, dy, dz)"))
