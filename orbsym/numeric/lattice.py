"""Column-sequence geometry of a heterostructure (open in x, periodic in y).

A :class:`Lattice` is a sequence of ``N_x`` columns, each carrying a
:class:`~orbsym.kernels.KernelSet` (the model of that column) and numeric parameter values, and
``N_y`` periodic rows.  It resolves, once, which model owns every bond and evaluates the numeric
on-site and hopping matrices that the Bloch solver (:mod:`orbsym.numeric.bloch`) and the real-space
solver (:mod:`orbsym.numeric.realspace`) both use.  Conventions (bond counted once, ``h_{n,n+d} =
t_d``, hard walls at ``x = 0`` and ``x = N_x - 1``): :mod:`orbsym.conventions`.

Bond ownership
--------------
* y-bonds inside column ``x`` belong to the model of column ``x``.
* The x-bond ``(x, x+1)`` between a ferromagnetic and a non-magnetic column belongs to the FM column
  for ``interface="fm"`` (isotropic hopping ``-t 1``, the default of the paper's reproduction) and to
  the metal for ``interface="metal"``.
* Any other x-bond (same kind on both sides) belongs to its left column.
* Further bonds (next-nearest neighbours ``(1, 1)``, ``(1, -1)``, or any offset ``(dx, dy)`` with
  ``dx >= 0`` and ``|dy| <= 1``) follow the same rule: the bond ``(x, x + dx)`` joins columns ``x``
  and ``x + dx`` and belongs to the FM end (``interface="fm"``) or the metal end
  (``interface="metal"``) when exactly one end is an FM, else to its left column ``x``.  If the
  owner's model has no hopping for that offset, the bond is absent (zero hopping, and all its
  kernels vanish): e.g. with ``interface="fm"`` an FM without NNN hoppings cuts the NNN bonds that
  cross the interface.

General representation
----------------------
``lattice.bonds`` lists every bond offset of the column models (canonical: ``dx >= 0``,
``dy = 1`` when ``dx = 0``); ``lattice.hoppings[d]`` is an ``(N_x - dx, dim, dim)`` array (the
hopping ``t_d`` of the bond starting in column ``x``) and ``lattice.owners[d]`` its owner columns.
``onsite``, ``hop_x``, ``hop_y`` and ``x_owner`` remain the nearest-neighbour views; engines that
only understand those must check :attr:`Lattice.has_diagonal_bonds` (True when any bond other
than ``(1, 0)``, ``(0, 1)`` is present) and refuse or handle the other bonds.

All bond kernels of a bond (currents, torques, equation-of-motion pieces) are evaluated with the
owner's kernels and parameters: the equation of motion splits exactly bond by bond, so this is
exact for any owner choice as long as the Hamiltonian uses the same hopping.

Films (transverse dimension 2)
------------------------------
``Lattice(columns, N_y, interface, N_z=N_z)`` with models whose bond offsets are triples
``(dx, dy, dz)`` (:class:`orbsym.symbolic.models.Model` with a ``"z"`` hopping) is a film: open in x,
periodic in y (``N_y``) and in z (``N_z``).  Canonical offsets: ``dx > 0``, or ``dx = 0`` and
``dy > 0``, or ``dx = dy = 0`` and ``dz > 0``; ``|dy| <= 1`` (any ``dz``).  Every quantity is per
site, i.e. per transverse cell of one column; bands are keyed ``(dx, dy, dz)``.  The film is solved
by its k_z sectors (:meth:`Lattice.sector`, :mod:`orbsym.numeric.film`): at fixed
``k_z = 2 pi j / N_z`` the z-bonds fold into a 2D column lattice with hoppings
``t_(dx,dy)(k_z) = sum_dz t_(dx,dy,dz) e^{i k_z dz}`` (on-site: ``eps + sum_{dz>0} (t e^{i k_z dz} + h.c.)``),
exactly the 2D engines' input.  ``N_z=None`` (default) is the 2D lattice, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .checks import check_energy_scale, check_name, integer_at_least

__all__ = ["Column", "Lattice", "INTERFACES", "X_BOND", "Y_BOND", "UNIT_BONDS"]

#: Allowed values of the FM-metal interface rule.
INTERFACES = ("fm", "metal")
X_BOND = (1, 0)
Y_BOND = (0, 1)
#: Nearest-neighbour bonds along x, y (and z for films) by number of offset components.
UNIT_BONDS = {2: {"x": (1, 0), "y": (0, 1)}, 3: {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}}


@dataclass(frozen=True)
class Column:
    """One column of the heterostructure.

    Parameters
    ----------
    kernels : orbsym.kernels.KernelSet
        Model of the column (from :func:`orbsym.symbolic.continuity.kernels` or built by hand).
    params : dict
        Numeric values of every name in ``kernels.parameters``.
    magnetic : bool or None
        Whether the column is a ferromagnet (decides the interface rule).  None: magnetic when the
        model has the exchange parameters ``m_x, m_y, m_z``.
    label : str
        Short name for output (``"FM"``, ``"NM"``, ``"AM"``...).
    """

    kernels: object
    params: dict
    magnetic: bool = None
    label: str = ""
    _key: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        ks = self.kernels
        missing = [p for p in ks.parameters if p not in self.params]
        if missing:
            raise ValueError(
                f"column {self.label or ks.model!r}: missing parameter values {missing}; model {ks.model!r} "
                f"needs {list(ks.parameters)}"
            )
        vals = {}
        for p in ks.parameters:
            v = self.params[p]
            try:
                if isinstance(v, (str, bytes, bool, np.bool_)):
                    raise TypeError("not a number")
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"parameter {p!r} of column {self.label or ks.model!r} must be a real number, got {v!r}") from None
            if not np.isfinite(v):
                raise ValueError(f"parameter {p!r} of column {self.label or ks.model!r} must be finite, got {v!r}")
            check_energy_scale(f"parameter {p} of column {self.label or ks.model!r}", v)
            vals[p] = v
        object.__setattr__(self, "params", vals)
        if self.magnetic is None:
            object.__setattr__(self, "magnetic", all(f"m_{a}" in ks.parameters for a in "xyz"))
        object.__setattr__(self, "_key", (id(ks), tuple(sorted(vals.items()))))


class Lattice:
    """Heterostructure geometry: columns along x (open), ``N_y`` periodic rows.

    Parameters
    ----------
    columns : sequence of Column
        One entry per column ``x = 0 .. N_x - 1``.
    N_y : int
        Number of rows (periodic), ``>= 1``: a ring of ``N_y`` y-bonds per column, i.e. the
        momenta ``k = 2 pi j / N_y``.  ``N_y = 2``: both bonds join rows 0 and 1 (hopping doubled);
        ``N_y = 1``: the bond closes on the site (``t_y + t_y^dag`` adds to the on-site matrix).
    interface : {"fm", "metal"}
        Owner of FM-metal x-bonds (see module docstring).
    N_z : int, optional
        Films only: periodic cells along z (``>= 1``; models with ``(dx, dy, dz)`` offsets and a z
        hopping).  None (default): the 2D lattice.

    Attributes
    ----------
    N_x, N_y, dim : int
    onsite : ndarray, shape (N_x, dim, dim)
        ``eps_x`` of each column.
    hop_x : ndarray, shape (N_x - 1, dim, dim)
        ``t`` of the x-bond ``(x, x+1)`` (``h_{x, x+1} = t``).
    hop_y : ndarray, shape (N_x, dim, dim)
        ``t`` of the y-bonds of column ``x``.
    x_owner : ndarray of int, shape (N_x - 1,)
        Column whose model owns each x-bond.
    bonds : tuple of (dx, dy)
        Bond offsets of all column models (``(1, 0)``, ``(0, 1)`` first).
    hoppings : dict
        ``{(dx, dy): ndarray (N_x - dx, dim, dim)}``: ``t_d`` of the bond starting in column ``x``
        (zero where the owner has no such bond); ``hoppings[(1, 0)] is hop_x``, ``hoppings[(0, 1)] is hop_y``.
    owners : dict
        ``{(dx, dy): ndarray of int (N_x - dx,)}``: owner column of each bond.
    has_diagonal_bonds, max_dx, max_dy
        Whether bonds beyond ``(1, 0)``, ``(0, 1)`` are present; largest ``dx``, ``|dy|``.
    y_hermitian : bool
        ``h(-k) = h(k)`` (e.g. all ``t_y`` Hermitian and no diagonal bonds).
    """

    def __init__(self, columns, N_y, interface="fm", N_z=None):
        columns = tuple(columns)
        if not columns:
            raise ValueError("a lattice needs at least one column")
        bad = [c for c in columns if not isinstance(c, Column)]
        if bad:
            raise TypeError(f"columns must be orbsym.numeric.Column objects, got {type(bad[0]).__name__}")
        integer_at_least("N_y", N_y, 1, " (rows, periodic in y)")
        if N_z is not None:
            integer_at_least("N_z", N_z, 1, " (cells of a film, periodic in z)")
        check_name("interface rule", interface, INTERFACES)
        ref = columns[0].kernels
        ndim = _check_dimension(columns, N_z)
        gens = np.asarray(ref.generators)
        if gens.shape != (3, ref.dim, ref.dim):
            raise ValueError(f"model {ref.model!r}: generators have shape {gens.shape}, expected (3, {ref.dim}, {ref.dim}) for its {ref.dim}-state basis")
        checked = set()  # KernelSets already checked (a layer's columns share one)
        for x, c in enumerate(columns):
            ks = c.kernels
            if id(ks) in checked:
                continue
            checked.add(id(ks))
            if ks.dim != ref.dim or np.shape(ks.generators) != gens.shape or not np.allclose(np.asarray(ks.generators), gens):
                what = f"basis size dim {ks.dim} vs dim {ref.dim}" if ks.dim != ref.dim else "different generator matrices"
                raise ValueError(
                    f"all columns must share the same on-site basis and generator set: column {x} (model {ks.model!r}, "
                    f"basis {tuple(ks.basis)}) differs from column 0 (model {ref.model!r}, basis {tuple(ref.basis)}): {what}"
                )
            bad_offsets = [tuple(d) for d in ks.bonds if not _supported_offset(d)]
            if bad_offsets and ndim == 3:
                raise ValueError(
                    f"model {ks.model!r} has bond offsets {bad_offsets}; a film supports bond offsets (dx, dy, dz) with "
                    "dx > 0, or dx = 0 and dy > 0, or dx = dy = 0 and dz > 0 (each bond once), and |dy| <= 1 (any dz), "
                    "e.g. (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, -1), (0, 0, 2)"
                )
            if bad_offsets:
                raise ValueError(
                    f"model {ks.model!r} has bond offsets {bad_offsets}; the heterostructure solver supports bond "
                    "offsets (dx, dy) with dx >= 0, |dy| <= 1 and dy = 1 when dx = 0 (each bond once), e.g. "
                    f"{X_BOND}, {Y_BOND}, (1, 1), (1, -1), (2, 0)"
                )
        self.columns = columns
        self.N_x = len(columns)
        self.N_y = int(N_y)
        self.N_z = None if N_z is None else int(N_z)
        self.ndim = ndim
        self.x_bond, self.y_bond = UNIT_BONDS[ndim]["x"], UNIT_BONDS[ndim]["y"]
        self.dim = ref.dim
        self.generators = gens
        self.normalization = ref.normalization
        self.interface = interface
        units = tuple(UNIT_BONDS[ndim].values())
        bonds = set(units)
        for c in columns:
            bonds.update(tuple(int(v) for v in b) for b in c.kernels.bonds)
        if ndim == 2:
            self.bonds = tuple(sorted(bonds, key=lambda b: (b != X_BOND, b != Y_BOND, abs(b[0]) + abs(b[1]), b)))
        else:  # units first (x, y, z), then by length
            self.bonds = tuple(sorted(bonds, key=lambda b: (units.index(b) if b in units else len(units), sum(map(abs, b)), b)))
        self._blocks = {}
        self._anchor_groups = {}
        memo = {}  # (column object, bond) -> matrix: the columns of a layer are one object, evaluated once
        d = self.dim
        self.owners = {}
        self.hoppings = {}
        for bond in self.bonds:
            dx = bond[0]
            owners = []
            for x in range(max(0, self.N_x - dx)):
                a, b = columns[x], columns[x + dx]
                if dx > 0 and a.magnetic != b.magnetic:
                    fm_side = x if a.magnetic else x + dx
                    owners.append(fm_side if interface == "fm" else (2 * x + dx - fm_side))
                else:
                    owners.append(x)
            self.owners[bond] = np.array(owners, dtype=int)
            what = _hopping_name(bond)
            self.hoppings[bond] = np.array(
                [self._evaluate_once(memo, columns[o], o, what, bond) for o in owners], dtype=complex
            ).reshape(len(owners), d, d)
        self.x_owner = self.owners[self.x_bond]
        self.onsite = np.array([self._evaluate_once(memo, c, x, None, None) for x, c in enumerate(columns)], dtype=complex).reshape(self.N_x, d, d)
        self.hop_y = self.hoppings[self.y_bond]
        self.hop_x = self.hoppings[self.x_bond]
        # h(-k) = h(k) iff the k-odd part S of h(k) = H0 + cos k C + sin k S vanishes: every dy = 1
        # block of h(k) (t_d at (x, x + dx), t_{(dx, -1)}^dag at (x + dx, x)) is Hermitian.  Films:
        # each k_z sector has its own (Lattice.sector)
        self.y_hermitian = bool(self._k_even()) if ndim == 2 else None
        self._sectors = {}

    def with_columns(self, updates):
        """This lattice with some columns replaced by columns of the same models (new parameter values).

        Only the replaced columns' on-site matrices and the bonds they own are evaluated again, so the
        cost is O(replaced columns) instead of O(N_x) (a precessing magnet rebuilds its lattice at
        every time step); bond owners are unchanged because the magnetic flags must be.  Kernel
        blocks are cached by model and parameter values, so the cache is shared with this lattice.

        Parameters
        ----------
        updates : dict
            ``{x: Column}``; each new column has the same ``kernels`` object and ``magnetic`` flag as
            the column it replaces.

        Returns
        -------
        Lattice
            Equal (to the last bit) to ``Lattice(columns, N_y, interface)`` with the new columns.
        """
        cols = list(self.columns)
        for x, c in updates.items():
            x = int(x)
            if not 0 <= x < self.N_x:
                raise ValueError(f"column index {x} is outside the lattice (0 .. {self.N_x - 1})")
            if not isinstance(c, Column):
                raise TypeError(f"columns must be orbsym.numeric.Column objects, got {type(c).__name__}")
            old = cols[x]
            if c.kernels is not old.kernels or c.magnetic != old.magnetic:
                raise ValueError(
                    f"with_columns keeps models and interfaces: column {x} must keep model {old.kernels.model!r} and "
                    f"magnetic={old.magnetic}; build a new Lattice to change them"
                )
            cols[x] = c
        changed = sorted({int(x) for x in updates})
        new = object.__new__(Lattice)
        new.__dict__.update(self.__dict__)
        new.columns = tuple(cols)
        new._anchor_groups = {}
        new.onsite = self.onsite.copy()
        for x in changed:
            new.onsite[x] = new._onsite(cols[x], x)
        new.hoppings = dict(self.hoppings)
        hops_changed = False
        for bond, owners in self.owners.items():
            idx = np.nonzero(np.isin(owners, changed))[0]
            if idx.size == 0:
                continue
            what = _hopping_name(bond)
            t = self.hoppings[bond].copy()
            for i in idx:
                o = int(owners[i])
                t[i] = self._evaluate(cols[o], o, what, bond)
            hops_changed = hops_changed or not np.array_equal(t, self.hoppings[bond])
            new.hoppings[bond] = t
        new.hop_y = new.hoppings[self.y_bond]
        new.hop_x = new.hoppings[self.x_bond]
        new._sectors = {}
        if hops_changed and self.ndim == 2:
            new.y_hermitian = bool(new._k_even())
        return new

    def _evaluate_once(self, memo, column, x, what, bond):
        """:meth:`_evaluate` (``bond`` given) or :meth:`_onsite` (``bond=None``), once per column object."""
        key = (id(column), bond)
        if key not in memo:
            memo[key] = self._onsite(column, x) if bond is None else self._evaluate(column, x, what, bond)
        return memo[key]

    def _onsite(self, column, x):
        """Evaluated on-site matrix of ``column`` at position ``x``; ValueError if not Hermitian."""
        e = self._evaluate(column, x, "on-site matrix", None)
        dev = float(np.abs(e - e.conj().T).max(initial=0.0))
        if dev > 1e-12 * max(1.0, float(np.abs(e).max(initial=0.0))):
            i, j = np.unravel_index(int(np.argmax(np.abs(e - e.conj().T))), e.shape)
            raise ValueError(
                f"on-site matrix of column {x} ({column.kernels.model!r}, parameters {column.params}) is not "
                f"Hermitian: entry [{i}, {j}] = {e[i, j]:.6g} but conj([{j}, {i}]) = {np.conj(e[j, i]):.6g}; h must be Hermitian"
            )
        return e

    # ------------------------------------------------------------------ geometry
    @property
    def has_diagonal_bonds(self):
        """True if any bond other than the nearest-neighbour ``(1, 0)``, ``(0, 1)`` (films: and
        ``(0, 0, 1)``) is present."""
        units = tuple(UNIT_BONDS[self.ndim].values())
        return any(b not in units and np.any(self.hoppings[b] != 0) for b in self.bonds)

    @property
    def is_film(self):
        """Whether this is a film (periodic in y and z, ``N_z`` set)."""
        return self.N_z is not None

    @property
    def n_transverse(self):
        """Transverse cells per column: ``N_y`` (2D) or ``N_y N_z`` (film)."""
        return self.N_y * (self.N_z or 1)

    def unit_bond(self, direction):
        """Nearest-neighbour bond offset of a direction name ``"x"``, ``"y"`` (films: also ``"z"``)."""
        try:
            return UNIT_BONDS[self.ndim][direction]
        except (KeyError, TypeError):
            from .checks import unknown_name

            raise unknown_name("bond direction", direction, tuple(UNIT_BONDS[self.ndim]) + ("a bond offset",)) from None

    # ------------------------------------------------------------------ films: k_z sectors
    @property
    def z_symmetric(self):
        """Films: whether the sector at ``-k_z`` equals the one at ``k_z`` for every ``k_z`` (then only
        ``0 <= k_z <= pi`` is solved).  True iff every on-site z-bond ``(0, 0, dz)`` is Hermitian and
        every other bond's hopping equals that of its mirror offset ``(dx, dy, -dz)``."""
        if not self.is_film:
            return None
        for (dx, dy, dz), t in self.hoppings.items():
            if dz == 0 or not np.any(t != 0):
                continue
            if dx == 0 and dy == 0:
                if not np.allclose(t, t.conj().transpose(0, 2, 1), rtol=0, atol=1e-14):
                    return False
            else:
                mirror = self.hoppings.get((dx, dy, -dz))
                if mirror is None or not np.allclose(t, mirror, rtol=0, atol=1e-14):
                    return False
        return True

    def sector(self, k_z, derivative=False):
        """The 2D column lattice of a film at fixed ``k_z`` (radians per cell; cached).

        The z-bonds fold into the 2D bonds: ``t_(dx,dy)(k_z) = sum_dz t_(dx,dy,dz) e^{i k_z dz}``
        and ``eps(k_z) = eps + sum_{dz > 0} (t_(0,0,dz) e^{i k_z dz} + h.c.)``; ``h(k_y, k_z)`` of the film
        is ``h(k_y)`` of the sector.  The sector carries the matrices only (``N_x``, ``N_y``, ``dim``,
        ``onsite``, ``hoppings``, ``hop_x``, ``hop_y``, ``bonds``, ``y_hermitian``), enough for every 2D
        engine; its kernels are not defined (evaluate observables on the film).

        ``derivative=True``: the same structure with every matrix replaced by its ``k_z`` derivative
        (``i dz t e^{i k_z dz}``), i.e. the velocity ``v_z(k_y) = dh(k_y, k_z)/dk_z`` in the sector's
        ``H0 + cos k_y C + sin k_y S`` form (the Kubo response to ``E_z``).
        """
        if not self.is_film:
            raise ValueError("sector(k_z) is defined for films only (a lattice built with N_z)")
        key = float(k_z)
        hit = self._sectors.get((key, derivative))
        if hit is not None:
            return hit
        N, d = self.N_x, self.dim
        onsite = np.zeros_like(self.onsite) if derivative else self.onsite.copy()
        hops = {}
        for (dx, dy, dz), t in self.hoppings.items():
            if t.shape[0] == 0 and (dx, dy) not in hops:
                hops[(dx, dy)] = np.zeros((0, d, d), complex)
                continue
            phase = np.exp(1j * key * dz) if dz else 1.0
            if derivative:
                phase = 1j * dz * phase
            if dx == 0 and dy == 0:  # on-site z-bond: t e^{i k dz} + h.c.
                onsite += phase * t + np.conj(phase) * t.conj().transpose(0, 2, 1)
                continue
            acc = hops.setdefault((dx, dy), np.zeros((N - dx, d, d), complex))
            acc += phase * t
        sec = object.__new__(Lattice)
        sec.columns = self.columns
        sec.N_x, sec.N_y, sec.dim = N, self.N_y, d
        sec.N_z, sec.ndim = None, 2
        sec.x_bond, sec.y_bond = X_BOND, Y_BOND
        sec.generators, sec.normalization, sec.interface = self.generators, self.normalization, self.interface
        for b in (X_BOND, Y_BOND):
            hops.setdefault(b, np.zeros((max(N - b[0], 0), d, d), complex))
        sec.bonds = tuple(sorted(hops, key=lambda b: (b != X_BOND, b != Y_BOND, abs(b[0]) + abs(b[1]), b)))
        sec.hoppings = hops
        sec.owners = {(dx, dy): self.owners[(dx, dy, 0)] if (dx, dy, 0) in self.owners else np.arange(max(N - dx, 0)) for (dx, dy) in hops}
        sec.x_owner = sec.owners[X_BOND]
        sec.onsite = onsite
        sec.hop_x, sec.hop_y = hops[X_BOND], hops[Y_BOND]
        sec._blocks, sec._anchor_groups, sec._sectors = {}, {}, {}
        sec.y_hermitian = bool(sec._k_even())
        sec.k_z = key
        self._sectors[(key, derivative)] = sec
        return sec

    @property
    def max_dy(self):
        """Largest ``|dy|`` of a bond (1 for every supported model: ``h(k)`` has ``cos k``, ``sin k`` only)."""
        return max((abs(b[1]) for b in self.bonds if np.any(self.hoppings[b] != 0)), default=0)

    @property
    def max_dx(self):
        """Largest ``dx`` of a bond (the block bandwidth of ``h(k)`` in the column index)."""
        return max((b[0] for b in self.bonds if np.any(self.hoppings[b] != 0)), default=0)

    def _k_even(self):
        """Whether the ``e^{+ik}`` part of ``h(k)`` is Hermitian (then ``h(-k) = h(k)``), in O(N_x) memory."""
        N, d = self.N_x, self.dim
        A = {}  # A[o][x] = block (x, x + o) of the e^{+ik} part
        for (dx, dy), t in self.hoppings.items():
            xs = np.arange(t.shape[0])
            if dy == 1:
                A.setdefault(dx, np.zeros((N, d, d), complex))[xs] += t
            elif dy == -1:
                A.setdefault(-dx, np.zeros((N, d, d), complex))[xs + dx] += t.conj().transpose(0, 2, 1)
        zero = np.zeros((N, d, d), complex)
        for o, a in A.items():
            b = A.get(-o, zero)
            lo, hi = max(0, -o), min(N, N - o)  # rows x with x + o inside the lattice
            if not np.allclose(a[lo:hi], b[lo + o : hi + o].conj().transpose(0, 2, 1), rtol=0, atol=1e-14):
                return False
        return True

    @classmethod
    def _evaluate(cls, column, x, what, bond):
        """On-site (``bond=None``) or hopping matrix of a column; ValueError if not finite."""
        ks = column.kernels
        key = "onsite" if bond is None else tuple(bond)
        zero = (0,) * ks.ndim
        expected = (zero, zero if bond is None else tuple(bond))
        if bond is not None and key not in [tuple(b) for b in ks.bonds]:
            return np.zeros((ks.dim,) * 2, complex)
        try:
            with np.errstate(all="raise"):
                blocks = ks.hamiltonian[key].blocks(column.params)
                m = np.asarray(blocks.get(expected, np.zeros((ks.dim,) * 2)), dtype=complex)
        except KeyError:
            raise ValueError(f"model {ks.model!r} of column {x} has no Hamiltonian kernel for {key!r}") from None
        except (ArithmeticError, FloatingPointError, ValueError) as exc:
            raise ValueError(
                f"{what} of column {x} ({column.kernels.model!r}) cannot be evaluated at parameters {column.params}: {exc}"
            ) from None
        stray = [k for k, v in blocks.items() if k != expected and np.any(v != 0)]
        if stray:
            raise ValueError(
                f"{what} kernel of column {x} ({ks.model!r}) has terms at offsets {stray}; it must be the single "
                f"block c^dag_{{n+{expected[0]}}} M c_{{n+{expected[1]}}} (the Hermitian conjugate of a hop is added by "
                "orbsym, so h stays Hermitian)"
            )
        if m.shape != (column.kernels.dim,) * 2:
            raise ValueError(f"{what} of column {x} has shape {m.shape}, expected {(column.kernels.dim,) * 2} (basis size of model {column.kernels.model!r})")
        if not np.all(np.isfinite(m)):
            raise ValueError(f"{what} of column {x} ({column.kernels.model!r}) is not finite at parameters {column.params}: {m.tolist()}")
        return m

    # ------------------------------------------------------------------ kernels
    def anchors(self, bond):
        """Anchor columns and owner columns of a kernel family.

        ``bond=None`` (site kernels) and ``bond=(0, 1)``: every column, owned by itself.
        ``bond=(dx, dy)``: bonds starting in columns ``x = 0 .. N_x - 1 - dx``, owned by
        ``owners[bond]`` (``x_owner`` for ``(1, 0)``).
        """
        if bond is None:
            xs = np.arange(self.N_x)
            return xs, xs
        b = self.bond_key(bond)
        if b not in self.owners:
            raise ValueError(f"bond must be None or one of the lattice's bond offsets {list(self.bonds)}, got {bond!r}")
        o = self.owners[b]
        return np.arange(o.size), o

    def bond_key(self, bond):
        """None (site kernels), a bond offset tuple, or the offset of a direction name ``"x"``, ``"y"``, ``"z"``."""
        if bond is None:
            return None
        if isinstance(bond, str):
            return self.unit_bond(bond)
        return tuple(bond)

    def _owner_has_bond(self, owner, bond):
        return bond is None or tuple(bond) in {tuple(b) for b in self.columns[owner].kernels.bonds}

    def has_kernel(self, name, polarization, bond):
        """Whether every owner model of the anchors (that has the bond) provides kernel ``(name, polarization, bond)``."""
        _, owners = self.anchors(bond)
        bond = self.bond_key(bond)
        key = (name, polarization, bond)
        return all(key in self.columns[o].kernels.operators for o in set(owners.tolist()) if self._owner_has_bond(o, bond))

    def kernel_blocks(self, name, polarization, bond):
        """Evaluated kernel coefficients for every anchor, grouped by owner model and parameters.

        Returns
        -------
        anchors : ndarray of int
            Start columns of the anchors (see :meth:`anchors`).
        groups : list of (index array, {(left, right): matrix})
            ``index`` selects anchors that share one owner model and parameter set.
        """
        bkey = self.bond_key(bond)
        xs, anchor_groups = self.anchor_groups(bkey)
        groups = []
        for key, idx, owner in anchor_groups:
            ck = (key, name, polarization, bkey)
            blocks = self._blocks.get(ck)
            if blocks is None:
                col = self.columns[owner]
                blocks = col.kernels.kernel(name, polarization, bkey).blocks(col.params)
                self._blocks[ck] = blocks
            groups.append((idx, blocks))
        return xs, groups

    def anchor_groups(self, bond):
        """Anchors of a kernel family grouped by owner model and parameters (computed once per lattice).

        Returns ``(anchors, [(column key, index array, owner column), ...])``; anchors whose owner
        has no such bond (zero hopping) are in no group."""
        bkey = self.bond_key(bond)
        hit = self._anchor_groups.get(bkey)
        if hit is None:
            xs, owners = self.anchors(bkey)
            by_key = {}
            for i, o in enumerate(owners):
                if self._owner_has_bond(o, bkey):  # an owner without this bond: zero hopping, no kernel
                    by_key.setdefault(self.columns[o]._key, []).append(i)
            hit = (xs, [(key, np.array(idx, dtype=int), int(owners[idx[0]])) for key, idx in by_key.items()])
            self._anchor_groups[bkey] = hit
        return hit

    def offset_pairs(self, names, polarizations=(None, "x", "y", "z")):
        """All relative offsets ``(dx, dy) = right - left`` (films: ``(dx, dy, dz)``) the named kernels
        need (plus zero)."""
        pairs = {(0,) * self.ndim}
        for c in {id(c.kernels): c.kernels for c in self.columns}.values():
            for (name, pol, bond), k in c.operators.items():
                if name in names and pol in polarizations:
                    for t in k.terms:
                        pairs.add(tuple(r - l for r, l in zip(t.right, t.left)))
        return sorted(pairs)

    def describe(self):
        """Plain-data summary (labels, owners, interface) for output."""
        return {
            "N_x": self.N_x,
            "N_y": self.N_y,
            **({"N_z": self.N_z} if self.is_film else {}),
            "dim": self.dim,
            "interface": self.interface,
            "columns": [c.label or c.kernels.model for c in self.columns],
            "x_bond_owner": [int(o) for o in self.x_owner],
            **({"bonds": [list(b) for b in self.bonds if np.any(self.hoppings[b] != 0)]} if self.has_diagonal_bonds else {}),
        }


def _supported_offset(d):
    """Canonical bond offsets the engine handles: ``dx >= 0``, ``|dy| <= 1``, ``dy = 1`` if ``dx = 0``
    (films ``(dx, dy, dz)``: ``dx > 0``, or ``dx = 0 < dy``, or ``dx = dy = 0 < dz``; ``|dy| <= 1``)."""
    if len(d) == 3:
        dx, dy, dz = (int(v) for v in d)
        return abs(dy) <= 1 and (dx > 0 or (dx == 0 and (dy > 0 or (dy == 0 and dz > 0))))
    dx, dy = (int(v) for v in d)
    return dx >= 0 and abs(dy) <= 1 and (dx > 0 or dy == 1)


def _hopping_name(bond):
    if bond in UNIT_BONDS[len(bond)].values():
        return f"{'xyz'[list(bond).index(1)]} hopping"
    return f"hopping {bond}"


def _check_dimension(columns, N_z):
    """2 (square-lattice models, ``N_z`` None) or 3 (film: every model 3D with a z hopping, ``N_z`` set)."""
    models = {id(c.kernels): c.kernels for c in columns}.values()
    dims = {ks.model: ks.ndim for ks in models}
    if N_z is None:
        three = [m for m, n in dims.items() if n == 3]
        if three:
            raise ValueError(
                f"model(s) {three} have 3D bond offsets (dx, dy, dz): a lattice of them is a film, give N_z (cells along z, "
                "periodic), e.g. Lattice(columns, N_y, N_z=64) or trilayer(..., N_z=64)"
            )
        return 2
    two = [m for m, n in dims.items() if n != 3]
    if two:
        raise ValueError(
            f"N_z = {N_z} given, but model(s) {two} have 2D bond offsets (dx, dy) and no z hopping; a film needs every "
            "model in 3D, with a 'z' hopping (orbsym.symbolic.models.Model(..., {'x': tx, 'y': ty, 'z': tz}))"
        )
    flat = [ks.model for ks in models if not any(b[2] != 0 for b in ks.bonds)]
    if flat:
        raise ValueError(
            f"N_z = {N_z} given, but model(s) {flat} have no z hopping (no bond with dz != 0): their planes would be "
            "decoupled along z; add a 'z' hopping to the model, or drop N_z for the 2D system"
        )
    return 3
