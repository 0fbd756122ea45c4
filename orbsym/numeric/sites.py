"""Site-resolved lattices: several sites per cell, bonds of any offset, finite samples.

A :class:`SiteLattice` describes a crystal (or a finite flake) as cells along the stacking axis x, each
holding several :class:`Site` objects (own position, own number of orbitals, own on-site matrix and
angular-momentum generators, so p, d, t2g and spin sites can be mixed), and :class:`Hopping` objects
between site ``i`` in cell ``R`` and site ``j`` in cell ``R + dR`` for ANY integer cell offset
``dR = (dx, dy)`` (films: ``(dx, dy, dz)``).  The transverse directions are either

* transverse dimension 0 (``width=W``): ``W`` cells along y, open (flakes, open strips, disordered
  samples); there is no periodic direction at all, or
* transverse dimension 1 (``N_y=N``): ``N`` cells along y, periodic (momenta ``k = 2 pi j / N``), or
* transverse dimension 2 (``N_y=N, N_z=M``): a film, periodic in y and z; hopping offsets are then
  ``(dx, dy, dz)`` (any ``dz``), and the slice chain is a film solved by its k_z sectors
  (:mod:`orbsym.numeric.film`: at fixed ``k_z`` every z-bond is the phase ``e^{i k_z dz}``).

From this description the lattice builds, once, a chain of *slices* along x: the 2D column lattice
that every 2D engine consumes (:func:`orbsym.numeric.bloch.solve_bloch`,
:func:`orbsym.numeric.greens.solve_greens` when only nearest-slice bonds are present).  A slice holds
``m_x`` consecutive x-cells (``m_x = max |dx|`` of the bonds, so that only neighbouring slices couple,
as :mod:`orbsym.numeric.supercell` does for ``dx = 2``) and

* for transverse dimension 0: the whole width (``W`` cells); the slice lattice has ``N_y = 1`` and no
  y-bond;
* for transverse dimensions 1 and 2: ``m_y = max |dy|`` consecutive y-cells (so that ``|dY| <= 1``
  between super-rows, as the ``H0 + cos k C + sin k S`` form of :mod:`orbsym.numeric.bloch` needs); the
  slice lattice has ``N_y / m_y`` periodic super-rows (and, films, ``N_z`` periodic cells along z: z is
  never merged, the sectors take any ``dz``).

State order inside a slice ``X`` (``D = m_x W_s n_cell`` states, ``W_s = W`` or ``m_y``)::

    index = (a W_s + b) n_cell + offset(site) + orbital,    x-cell x = X m_x + a,  row b,

with ``n_cell = sum of the sites' orbitals`` and ``offset(site)`` the running sum in cell order.  For a
finite sample (dimension 0) the global order ``X D + index`` is therefore the natural
``((x W + y) n_cell + offset(site) + orbital)``.  Correlation bands of the slice chain are keyed
``(dX, dY)`` (films: ``(dX, dY, dz)``) like those of :class:`orbsym.numeric.Lattice`.

Hamiltonian and conventions (:mod:`orbsym.conventions`)
------------------------------------------------------
::

    H = sum_{R, i} c_{R,i}^dag eps_i(R) c_{R,i}
        + sum_{hoppings (i, j, dR, T)} sum_R [ c_{R,i}^dag T(R) c_{R+dR,j} + h.c. ],   R = (x, y[, z]),

each hopping listed once (its Hermitian conjugate, ``j -> i`` with ``-dR``, is added here; listing it
as well is refused).  Couplings between different sites of one cell are hoppings with ``dR = 0``.
Bonds that leave the sample (x outside ``0 .. N_x - 1``, or, dimension 0, y outside ``0 .. W - 1``) are
absent.  Expectation values use ``G_ab = <c_a^dag c_b>``, ``<c^dag A c> = Tr(A G^T)``; ``hbar = 1``,
``dO/dt = i [H, O]``.  Positions and bond vectors are in units of the lattice constant ``a``.

Observables: :class:`SiteObservables` (densities per site, bond currents and hopping torques per bond,
on-site torques, the exact per-site continuity balance and the slice-boundary current).

Finite samples (dimension 0) take per-cell on-site matrices (``onsite=``: disorder, gates) and
vacancies (``vacancies=``: removed sites, decoupled exactly and excluded from the observables).

Linear response: :meth:`SiteLattice.respond` (a uniform field along a periodic direction, y or, films,
z; Peierls phases on the real bond vectors, so the response is per real ``E`` whatever the slice
merge) -> :class:`SiteResponse` (a :class:`SiteObservables` per Kubo part and the driven per-site
balance ``-div j + tau = eta <J> + D``, checked).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .checks import check_energy_scale, integer_at_least, unknown_name

__all__ = ["Site", "Hopping", "SiteLattice", "SiteObservables", "SiteResponse", "BalanceError", "MAX_SLICE_STATES", "VACANCY_ENERGY", "from_column_lattice"]

#: Largest number of states of one slice (``m_x W_s n_cell``); a longer bond or a wider sample needs a
#: bigger slice, whose dense blocks would cost ``O(D^3)`` per k-point.
MAX_SLICE_STATES = 4096
#: On-site energy (units of t, measured from mu) of the decoupled states of a vacancy (any value is exact;
#: away from the Fermi level, so that they never sit at the zero level of a T = 0 solve).
VACANCY_ENERGY = 1.0
#: Positions closer than this (units of a) are "the same position".
POSITION_TOL = 1e-9

_POLS = (None, "x", "y", "z")


def _matrix(name, value, shape=None):
    try:
        m = np.array(value, dtype=complex)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric matrix, got {type(value).__name__}") from None
    if shape is not None and m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape}, expected {shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite, got {m.tolist()}")
    if m.size:
        check_energy_scale(name, float(np.abs(m).max()))
    return m


@dataclass(frozen=True)
class Site:
    """One site of a cell.

    Parameters
    ----------
    name : str
        Unique name inside the cell (``"A"``, ``"Ti1"``...).
    position : sequence of 2 or 3 floats
        Cartesian position inside the cell (units of the lattice constant ``a``); a missing z is 0.
    onsite : array_like, shape (n, n)
        Hermitian on-site matrix ``eps`` (units of t; chemical potential included as ``-mu 1``).  Its
        size ``n`` is the site's number of orbitals.
    generators : array_like, shape (3, n, n), optional
        Hermitian angular-momentum matrices ``J_x, J_y, J_z`` of the site's orbitals (``L`` of p, d or
        t2g orbitals, ``sigma / 2`` of a spin...).  None: zero (the site carries charge only).
    """

    name: str
    position: tuple
    onsite: np.ndarray = field(compare=False)
    generators: np.ndarray = field(default=None, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a site name must be a non-empty string, got {self.name!r}")
        pos = np.asarray(self.position, dtype=float) if _is_vector(self.position) else None
        if pos is None or pos.shape not in ((2,), (3,)) or not np.all(np.isfinite(pos)):
            raise ValueError(f"position of site {self.name!r} must be 2 or 3 finite numbers (units of a), got {self.position!r}")
        object.__setattr__(self, "position", tuple(float(v) for v in np.r_[pos, np.zeros(3 - pos.size)]))
        eps = _matrix(f"on-site matrix of site {self.name!r}", self.onsite)
        if eps.ndim != 2 or eps.shape[0] != eps.shape[1] or eps.shape[0] < 1:
            raise ValueError(f"on-site matrix of site {self.name!r} must be square (n, n) with n >= 1 orbitals, got shape {eps.shape}")
        if not np.allclose(eps, eps.conj().T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(eps).max()))):
            raise ValueError(f"on-site matrix of site {self.name!r} must be Hermitian, got {eps.tolist()}")
        n = eps.shape[0]
        J = np.zeros((3, n, n), complex) if self.generators is None else _matrix(f"generators of site {self.name!r}", self.generators, (3, n, n))
        if not np.allclose(J, J.conj().transpose(0, 2, 1), rtol=0, atol=1e-12):
            raise ValueError(f"generators J_x, J_y, J_z of site {self.name!r} must be Hermitian matrices")
        object.__setattr__(self, "onsite", eps)
        object.__setattr__(self, "generators", J)

    @property
    def orbitals(self):
        """Number of orbitals ``n`` of the site."""
        return self.onsite.shape[0]


def _is_vector(v):
    try:
        return np.asarray(v, dtype=float).ndim == 1
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Hopping:
    """A bond family: site ``start`` in cell ``R`` to site ``end`` in cell ``R + offset``.

    Parameters
    ----------
    start, end : str or int
        Site names (or indices in the cell).
    offset : tuple of int
        Cell offset ``(dx, dy)`` or ``(dx, dy, dz)`` (any integers; ``dz != 0`` needs a film, ``N_z``).
    matrix : array_like, shape (n_start, n_end), (N_x, n_start, n_end) or (N_x, width, n_start, n_end)
        Hopping ``T`` in ``c_{R,start}^dag T c_{R+offset,end} + h.c.`` (units of t); with a leading
        axis, ``T[x]`` is the matrix of the bonds starting in x-cell ``x`` (heterostructures); with two,
        finite samples only (transverse dimension 0), ``T[x, y]`` that of the bond starting in cell
        ``(x, y)`` (random hoppings: one matrix per bond instance).
    """

    start: object
    end: object
    offset: tuple
    matrix: np.ndarray = field(compare=False)

    def __post_init__(self):
        off = tuple(self.offset) if isinstance(self.offset, (tuple, list, np.ndarray)) else None
        if off is None or len(off) not in (2, 3) or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in off):
            raise ValueError(f"hopping offset must be 2 or 3 integers (dx, dy[, dz]) of cells, got {self.offset!r}")
        off = tuple(int(v) for v in off) + (0,) * (3 - len(off))  # stored as (dx, dy, dz)
        object.__setattr__(self, "offset", off)
        object.__setattr__(self, "matrix", _matrix(f"hopping matrix {self.start!r} -> {self.end!r} {off}", self.matrix))


class SiteLattice:
    """Cells of several sites along x (open), transverse dimension 0 (open width) or 1 (periodic y).

    Parameters
    ----------
    cells : sequence of sequences of Site, or one sequence of Site
        The sites of every x-cell ``0 .. N_x - 1`` (all cells: same site names, orbital counts and
        positions; on-site matrices and generators may differ, e.g. a magnetization per layer), or
        the sites of one cell repeated ``N_x`` times.
    hoppings : sequence of Hopping
    N_x : int, optional
        Number of x-cells when ``cells`` is one cell.
    N_y : int, optional
        Transverse dimension 1 (or 2 with ``N_z``): periodic cells along y (``>= 1``).
    width : int, optional
        Transverse dimension 0: open cells along y (``>= 1``; default 1 when ``N_y`` is not given).
    vectors : array_like, shape (3, 3)
        Cell vectors ``a_x, a_y, a_z`` as rows (units of a); default the unit cube.  ``a_x`` is the
        stacking direction, ``a_y`` (films: and ``a_z``) the transverse ones.  Real bond vectors are
        ``p_end + dx a_x + dy a_y + dz a_z - p_start`` (:attr:`bond_vectors`).
    N_z : int, optional
        Transverse dimension 2 (a film, with ``N_y``): periodic cells along z (``>= 1``); at least one
        hopping must have ``dz != 0``.
    onsite : dict, optional
        Finite samples (transverse dimension 0) only: on-site matrices per cell, REPLACING the site's
        ``eps`` there (disorder, a local gate...).  Keys ``(x, y, site)`` with a Hermitian ``(n, n)``
        matrix, or ``site`` (name or index) with an array ``(N_x, width, n, n)`` of every cell.
    vacancies : iterable of (x, y, site), or bool array (N_x, width, n_sites), optional
        Finite samples only: removed sites.  Exact method: every bond touching a vacancy is dropped
        (the hopping is absent, as at the sample edge) and its states keep the on-site matrix
        ``VACANCY_ENERGY * 1``.  They are then decoupled: ``h`` is block diagonal, so every correlation
        and response of the remaining sites is exactly that of the sample without the site (the
        vacancy's own levels are not part of it, whatever their energy).  The observables exclude
        them: density and on-site torque 0 at a vacancy, its bonds absent (:meth:`SiteObservables.present`
        False); :meth:`SiteObservables.free_energy` subtracts the vacancy levels' grand potential.

    Attributes
    ----------
    sites : tuple of Site
        Sites of cell 0 (names, positions, orbitals).
    N_x, transverse_dimension, N_y, N_z, width : int
        ``N_y`` is None for dimension 0, ``N_z`` None unless a film, ``width`` None unless dimension 0.
    hoppings : tuple of (i, j, offset, T)
        Site indices, the offset ``(dx, dy)`` (films: ``(dx, dy, dz)``) and ``T`` of shape ``(N_x, n_i, n_j)``,
        or ``(N_x, width, n_i, n_j)`` for per-bond-instance matrices of a finite sample (``T[x, y]``: the
        bond starting in cell ``(x, y)``).
    ndim : int
        Length of the offsets: 2, or 3 for films.
    cell_dim : int
        Orbitals per cell ``n_cell``.
    merge_x, merge_y : int
        Cells per slice along x (``m_x``) and, dimensions 1 and 2, y-cells per super-row (``m_y``).
    slices : object
        The slice chain: a 2D column lattice (duck type of :class:`orbsym.numeric.Lattice`) with
        ``N_x = N_x / m_x`` slices of ``D`` states and ``N_y = N_y / m_y`` (dimension 1) or 1; films: a
        film lattice (``N_z``, bonds ``(dX, dY, dz)``, :meth:`orbsym.numeric.Lattice.sector`).
    pairs : list of (dX, dY) or (dX, dY, dz)
        Slice offsets of the correlation bands :class:`SiteObservables` needs.
    vacant : ndarray of bool, shape (N_x, rows, n_sites)
        The vacancies (all False unless given).
    """

    def __init__(self, cells, hoppings, N_x=None, N_y=None, width=None, vectors=None, N_z=None, onsite=None, vacancies=None):
        cells = self._check_cells(cells, N_x)
        self.N_x = len(cells)
        if N_y is not None and width is not None:
            raise ValueError(f"give N_y (periodic y, transverse dimension 1) or width (open y, dimension 0), not both: N_y={N_y!r}, width={width!r}")
        if N_z is not None and N_y is None:
            raise ValueError(f"N_z = {N_z!r} given without N_y: a film is periodic in y and z, give both (N_y=..., N_z=...)")
        self.N_z = None if N_z is None else integer_at_least("N_z", N_z, 1, " (periodic cells along z of a film: the k_z grid)")
        if N_y is not None:
            self.N_y = integer_at_least("N_y", N_y, 1, " (periodic cells along y: the k grid k = 2 pi j / N_y)")
            self.width, self.transverse_dimension = None, 1 if N_z is None else 2
        else:
            self.width = integer_at_least("width", 1 if width is None else width, 1, " (open cells along y of a finite sample)")
            self.N_y, self.transverse_dimension = None, 0
        self.vectors = np.eye(3) if vectors is None else np.asarray(vectors, dtype=float)
        if self.vectors.shape != (3, 3) or not np.all(np.isfinite(self.vectors)) or abs(np.linalg.det(self.vectors)) < 1e-12:
            raise ValueError(f"vectors must be 3 linearly independent cell vectors (rows a_x, a_y, a_z; units of a), got {np.asarray(vectors).tolist()}")
        self.ndim = 3 if self.transverse_dimension == 2 else 2
        self.cells = cells
        self.sites = cells[0]
        self.names = tuple(s.name for s in self.sites)
        self.orbitals = np.array([s.orbitals for s in self.sites])
        self.site_offsets = np.r_[0, np.cumsum(self.orbitals)[:-1]]
        self.cell_dim = int(self.orbitals.sum())
        self._check_positions()
        self.hoppings = self._check_hoppings(hoppings)
        self._geometry()
        self._site_onsite = self._check_onsite(onsite)
        self.vacant = self._check_vacancies(vacancies)
        self._inst = None  # the bond placements depend on the vacancies
        self._slices = None  # built on first use (:attr:`slices`): a large finite sample for the sparse
        # Chebyshev engine (orbsym.numeric.chebyshev) never needs the dense slice chain

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_cells(cells, N_x):
        if isinstance(cells, Site):
            cells = [cells]
        cells = list(cells)
        if not cells:
            raise ValueError("a SiteLattice needs at least one site per cell")
        if all(isinstance(s, Site) for s in cells):  # one cell, repeated
            if N_x is None:
                raise ValueError("cells is one cell (a sequence of Site): give N_x, the number of x-cells")
            n = integer_at_least("N_x", N_x, 1, " (cells along x)")
            cells = [tuple(cells)] * n
        else:
            cells = [tuple([c] if isinstance(c, Site) else c) for c in cells]
            if N_x is not None and integer_at_least("N_x", N_x, 1, " (cells along x)") != len(cells):
                raise ValueError(f"N_x = {N_x} but {len(cells)} cells were given")
        for x, c in enumerate(cells):
            bad = [s for s in c if not isinstance(s, Site)]
            if bad or not c:
                raise TypeError(f"cell {x} must be a non-empty sequence of orbsym.numeric.sites.Site, got {bad[0]!r}" if bad else f"cell {x} has no site")
        ref = cells[0]
        for x, c in enumerate(cells[1:], 1):
            if c is ref:
                continue
            same = len(c) == len(ref) and all(
                a.name == b.name and a.orbitals == b.orbitals and np.allclose(a.position, b.position, rtol=0, atol=POSITION_TOL) for a, b in zip(c, ref)
            )
            if not same:
                raise ValueError(
                    f"cell {x} has sites {[(s.name, s.position, s.orbitals) for s in c]}, cell 0 has "
                    f"{[(s.name, s.position, s.orbitals) for s in ref]}: every cell must have the same site names, positions and orbital counts"
                )
        return tuple(cells)

    def _check_positions(self):
        names = self.names
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"site names must be unique in a cell, got {sorted(dup)} more than once in {list(names)}")
        inv = np.linalg.inv(self.vectors)
        frac = np.array([s.position for s in self.sites]) @ inv  # fractional coordinates
        for i in range(len(names)):
            for j in range(i):
                d = frac[i] - frac[j]
                per = 3 if self.transverse_dimension == 2 else 2  # lattice translations: a_x, a_y (films: a_z)
                d[:per] -= np.round(d[:per])  # a site one cell vector away is the same site of the next cell
                if np.all(np.abs(d) < POSITION_TOL):
                    raise ValueError(
                        f"sites {names[j]!r} at {self.sites[j].position} and {names[i]!r} at {self.sites[i].position} sit at the same "
                        "position (modulo the cell vectors): two sites of a crystal cannot coincide; merge their orbitals into one Site"
                    )

    def _site_index(self, s):
        if isinstance(s, str):
            if s not in self.names:
                raise unknown_name("site", s, self.names)
            return self.names.index(s)
        if isinstance(s, numbers.Integral) and not isinstance(s, bool) and 0 <= int(s) < len(self.names):
            return int(s)
        raise ValueError(f"site must be one of the names {list(self.names)} or an index 0 .. {len(self.names) - 1}, got {s!r}")

    def _check_hoppings(self, hoppings):
        out = []
        seen = {}
        for h in hoppings:
            if not isinstance(h, Hopping):
                raise TypeError(f"hoppings must be orbsym.numeric.sites.Hopping objects, got {type(h).__name__}")
            i, j = self._site_index(h.start), self._site_index(h.end)
            ni, nj = self.orbitals[i], self.orbitals[j]
            T = h.matrix
            what = f"hopping {self.names[i]!r} -> {self.names[j]!r} {h.offset}"
            if T.shape == (ni, nj):
                T = np.broadcast_to(T, (self.N_x, ni, nj))
            elif T.shape == (self.N_x, ni, nj):
                pass
            elif T.ndim == 4 and T.shape == (self.N_x, T.shape[1], ni, nj) and self.transverse_dimension == 0 and T.shape[1] == self.width:
                if not np.all(np.isfinite(T)):
                    raise ValueError(f"{what}: per-bond matrices must be finite")
            elif T.ndim == 4 and self.transverse_dimension != 0:
                raise ValueError(f"{what}: per-bond-instance matrices (N_x, width, {ni}, {nj}) are for finite samples (width=...); "
                                 "in a periodic direction every y-cell must carry the same bond")
            else:
                raise ValueError(f"{what}: matrix has shape {T.shape}, expected ({ni}, {nj}), (N_x, {ni}, {nj}) = ({self.N_x}, {ni}, {nj})"
                                 + (f" or (N_x, width, {ni}, {nj}) = ({self.N_x}, {self.width}, {ni}, {nj})" if self.transverse_dimension == 0 else ""))
            if h.offset[2] != 0 and self.transverse_dimension != 2:
                raise ValueError(
                    f"{what} has dz = {h.offset[2]}: bonds along z need a film (transverse dimension 2): give N_y and N_z"
                )
            if i == j and h.offset == (0, 0, 0):
                raise ValueError(f"{what}: a bond from a site to itself in the same cell has zero length; put it into the site's on-site matrix")
            key = (i, j, h.offset)
            rev = (j, i, tuple(-v for v in h.offset))
            if key in seen or rev in seen:
                raise ValueError(
                    f"{what} is listed twice (the bond {self.names[j]!r} -> {self.names[i]!r} {rev[2]} is its Hermitian conjugate, "
                    "added automatically): list each bond once"
                )
            seen[key] = len(out)
            out.append((i, j, h.offset[: self.ndim], np.ascontiguousarray(T)))
        if self.transverse_dimension == 2 and not any(off[2] != 0 and np.any(T != 0) for _, _, off, T in out):
            raise ValueError(
                f"N_z = {self.N_z} given, but no hopping has dz != 0: the planes would be decoupled along z; add a z hopping "
                "(offset (dx, dy, dz) with dz != 0) or drop N_z"
            )
        return tuple(out)

    def _geometry(self):
        live = [(i, j, off) for i, j, off, T in self.hoppings if np.any(T != 0)]
        far_x = [off for _, _, off in live if abs(off[0]) >= self.N_x]
        if far_x:
            raise ValueError(
                f"bond offsets {far_x} reach dx >= N_x = {self.N_x}: no such bond fits in the sample (limit |dx| <= N_x - 1); "
                "drop the bond or use more cells"
            )
        self.merge_x = max([abs(o[0]) for _, _, o in live] + [1])
        if self.N_x % self.merge_x:
            raise ValueError(
                f"bonds reach dx = {self.merge_x}, so slices merge {self.merge_x} x-cells; N_x = {self.N_x} is not a multiple of "
                f"{self.merge_x} (use N_x = {self.N_x - self.N_x % self.merge_x} or {self.N_x + self.merge_x - self.N_x % self.merge_x})"
            )
        if self.transverse_dimension >= 1:
            self.merge_y = max([abs(o[1]) for _, _, o in live] + [1])
            if self.merge_y > self.N_y or self.N_y % self.merge_y:
                raise ValueError(
                    f"bonds reach dy = {self.merge_y}, so super-rows merge {self.merge_y} y-cells; N_y = {self.N_y} must be a multiple "
                    f"of {self.merge_y} (the slice merge holds bonds with |dy| <= N_y only when N_y is a multiple of max |dy|)"
                )
            self.rows = self.merge_y
        else:
            self.merge_y = 1
            self.rows = self.width
        self.slice_states = self.merge_x * self.rows * self.cell_dim
        if self.slice_states > MAX_SLICE_STATES:
            raise ValueError(
                f"a slice would hold {self.slice_states} states ({self.merge_x} x-cells x {self.rows} y-cells x {self.cell_dim} "
                f"orbitals; bonds reach dx = {self.merge_x}" + (f", dy = {self.merge_y}" if self.transverse_dimension >= 1 else f", width {self.width}")
                + f"), more than the limit MAX_SLICE_STATES = {MAX_SLICE_STATES}: shorten the bonds or narrow the sample"
            )
        self.n_slices = self.N_x // self.merge_x
        self.slice_N_y = self.N_y // self.merge_y if self.transverse_dimension >= 1 else 1

    @property
    def gamma_only(self):
        """True for a periodic lattice whose slices hold every transverse cell (``N_y = m_y``; films also
        ``N_z = 1``): one k point, ``k = 0``.  Such a lattice (the supercell of
        :func:`orbsym.numeric.disorder.supercell`) takes per-cell on-site matrices and vacancies like a finite
        sample: every cell is its own row of the slice, and the wrap bonds are those of the period."""
        return self.transverse_dimension >= 1 and self.slice_N_y == 1 and (self.N_z or 1) == 1

    def _finite_only(self, what, value):
        if value is not None and self.transverse_dimension != 0 and not self.gamma_only:
            raise ValueError(
                f"{what} is for finite samples (transverse dimension 0, width=...): in a periodic direction (N_y) a per-cell "
                "change breaks the translation symmetry the k grid needs; use width=..., per-x on-site matrices in cells, or the "
                "Gamma-only supercell (orbsym.numeric.disorder.supercell: N_y = 1, the whole period in one cell)"
            )

    def _cell(self, key, what):
        """``(x, y, site index)`` of a cell key, checked."""
        if not isinstance(key, tuple) or len(key) != 3:
            raise ValueError(f"{what} keys must be (x, y, site) tuples, got {key!r}")
        x, y, site = key
        for name, v, hi in (("x", x, self.N_x), ("y", y, self.rows)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v < hi:
                raise ValueError(f"{what} {key!r}: {name} must be an integer in 0 .. {hi - 1}, got {v!r}")
        return int(x), int(y), self._site_index(site)

    def _check_onsite(self, onsite):
        """Per-site on-site matrices of every cell, ``[(N_x, rows, n, n) per site]`` (views of the cells' ``eps``
        unless overridden)."""
        self._finite_only("onsite (per-cell on-site matrices)", onsite)
        out = [np.broadcast_to(np.array([c[s].onsite for c in self.cells])[:, None], (self.N_x, self.rows) + (n, n))
               for s, n in enumerate(self.orbitals)]
        self.n_onsite_overrides = 0
        if onsite is None:
            return out
        if not isinstance(onsite, dict):
            raise TypeError(f"onsite must be a dict {{(x, y, site): matrix}} or {{site: array (N_x, width, n, n)}}, got {type(onsite).__name__}")
        done = set()
        for key, val in onsite.items():
            if isinstance(key, tuple):
                x, y, s = self._cell(key, "onsite")
                n = self.orbitals[s]
                M = _matrix(f"onsite{key!r}", val, (n, n))
                cells = [(x, y)]
                M = M[None, None]
            else:
                s = self._site_index(key)
                n = self.orbitals[s]
                M = _matrix(f"onsite[{key!r}]", val, (self.N_x, self.rows, n, n))
                cells = [(x, y) for x in range(self.N_x) for y in range(self.rows)]
            if not np.allclose(M, np.swapaxes(M, -1, -2).conj(), rtol=0, atol=1e-12 * max(1.0, float(np.abs(M).max()))):
                raise ValueError(f"onsite[{key!r}] must be Hermitian (every cell's matrix)")
            twice = done & {(x, y, s) for x, y in cells}
            if twice:
                raise ValueError(f"onsite gives the matrix of cell (x, y, site) = {sorted(twice)[0]} twice (key {key!r}); give each cell once")
            done |= {(x, y, s) for x, y in cells}
            if not out[s].flags.writeable:
                out[s] = out[s].copy()
            if isinstance(key, tuple):
                out[s][x, y] = M[0, 0]
            else:
                out[s][:] = M
        self.n_onsite_overrides = len(done)
        return out

    def _check_vacancies(self, vacancies):
        self._finite_only("vacancies", vacancies)
        shape = (self.N_x, self.rows, len(self.sites))
        if vacancies is None:
            return np.zeros(shape, bool)
        arr = np.asarray(vacancies) if not isinstance(vacancies, (set, frozenset)) else None
        if arr is not None and arr.dtype == bool:
            if arr.shape != shape:
                raise ValueError(f"vacancies as a mask must have shape (N_x, width, n_sites) = {shape}, got {arr.shape}")
            return arr.copy()
        out = np.zeros(shape, bool)
        for key in vacancies:
            key = tuple(key) if isinstance(key, (list, np.ndarray)) else key
            x, y, s = self._cell(key, "vacancy")
            out[x, y, s] = True
        return out

    def site_onsite(self, site):
        """On-site matrix of ``site`` in every cell, ``(N_x, rows, n, n)`` (the overrides included)."""
        return self._site_onsite[self._site_index(site)]

    def _check_size(self):
        from .budget import check_resources, lattice_estimate

        # on-site, hop_x, hop_y and up to three more slice bonds, each (n_slices, D, D) complex
        est = lattice_estimate(self.n_slices, self.slice_states, n_matrices=6)
        # memory only: building the chain costs its memory's worth of time; each solver checks its own time
        check_resources(est, max_seconds=float("inf"), what=f"the slice chain of this SiteLattice ({self.n_slices} slices of {self.slice_states} states)",
                        hint="use fewer cells, a narrower sample or shorter bonds")

    # ------------------------------------------------------------------ geometry helpers
    def state(self, x, y, site):
        """``(slice X, index inside the slice)`` of the first orbital of ``site`` in cell ``(x, y)``
        (``y`` modulo ``m_y`` in dimensions 1, 2: the row inside the super-row)."""
        i = self._site_index(site)
        X, a = divmod(int(x), self.merge_x)
        b = int(y) % self.rows if self.transverse_dimension >= 1 else int(y)
        if not (0 <= X < self.n_slices and 0 <= b < self.rows):
            raise ValueError(f"cell ({x}, {y}) is outside the sample (x in 0 .. {self.N_x - 1}" + (f", y in 0 .. {self.width - 1})" if self.transverse_dimension == 0 else ")"))
        return X, (a * self.rows + b) * self.cell_dim + int(self.site_offsets[i])

    def describe(self):
        """Plain-data summary for output: sites, hoppings, transverse group and the slice merge."""
        return {
            "N_x": self.N_x,
            "transverse_dimension": self.transverse_dimension,
            **({"width": self.width} if self.transverse_dimension == 0 else {"N_y": self.N_y}),
            **({"N_z": self.N_z} if self.transverse_dimension == 2 else {}),
            "sites": [{"name": s.name, "position": list(s.position), "orbitals": s.orbitals} for s in self.sites],
            "hoppings": [{"start": self.names[i], "end": self.names[j], "offset": list(off)} for i, j, off, _ in self.hoppings],
            "merge_x": self.merge_x,
            "merge_y": self.merge_y,
            "slice_states": self.slice_states,
            **({"vacancies": int(self.vacant.sum()), "onsite_overrides": self.n_onsite_overrides} if self.transverse_dimension == 0 or self.vacant.any() or self.n_onsite_overrides else {}),
        }

    @property
    def n_transverse(self):
        """Transverse cells the quantities are per: ``N_y`` (dimension 1), ``N_y N_z`` (films), 1 (finite width)."""
        return {0: 1, 1: self.N_y, 2: (self.N_y or 1) * (self.N_z or 1)}[self.transverse_dimension]

    @property
    def bond_vectors(self):
        """Real bond vectors ``p_end + dx a_x + dy a_y + dz a_z - p_start`` of the hoppings, shape ``(n_hoppings, 3)`` (units of a)."""
        P = np.array([s.position for s in self.sites])
        return np.array([P[j] + np.asarray(off + (0,) * (3 - len(off))) @ self.vectors - P[i] for i, j, off, _ in self.hoppings]).reshape(-1, 3)

    def _instances(self):
        """Every placement of every hopping in slice coordinates (cached).

        Yields per hopping a list of ``(a, b, key, a2, b2, Xs)``: bonds starting at row ``b`` of x-cell
        ``X m_x + a`` for the slices ``Xs`` (those whose end lies inside the sample), ending in slice
        ``X + dX``, super-row offset ``dY`` (films: z offset ``dz``), x-cell ``a2`` and row ``b2`` of that
        slice; ``key = (dX, dY)`` (films ``(dX, dY, dz)``) is the slice offset of the correlation band.
        """
        if getattr(self, "_inst", None) is not None:
            return self._inst
        mx, W, P = self.merge_x, self.rows, self.n_slices
        inst = []
        vac = getattr(self, "vacant", None)
        for i, j, off, _ in self.hoppings:
            dx, dy = off[:2]
            lst = []
            for a in range(mx):
                dX, a2 = divmod(a + dx, mx)
                Xs = np.arange(P)
                Xs = Xs[(Xs + dX >= 0) & (Xs + dX < P)]
                if Xs.size == 0:
                    continue
                for b in range(W):
                    if self.transverse_dimension >= 1:
                        dY, b2 = divmod(b + dy, W)
                    else:
                        dY, b2 = 0, b + dy
                        if not 0 <= b2 < W:
                            continue  # leaves the open width
                    X2 = Xs
                    if vac is not None and vac.any():  # a bond touching a vacancy is absent
                        X2 = Xs[~vac[Xs * mx + a, b, i] & ~vac[(Xs + dX) * mx + a2, b2, j]]
                        if X2.size == 0:
                            continue
                    lst.append((a, b, (dX, dY) + tuple(off[2:]), a2, b2, X2))
            inst.append(lst)
        self._inst = inst
        return inst

    # ------------------------------------------------------------------ slices
    @property
    def slices(self):
        """The slice chain (class docstring), built on first use after the size check
        (:class:`orbsym.numeric.budget.ResourceError` with the estimate when it does not fit)."""
        if self._slices is None:
            self._check_size()
            self._slices = self._build_slices()
        return self._slices

    def _build_slices(self, bond_scale=None):
        """The slice chain (see the class docstring).  ``bond_scale`` (one complex number per hopping):
        the same chain with every hopping ``T`` replaced by ``bond_scale[h] T`` and no on-site matrices
        (the velocity of :meth:`velocity_slices`)."""
        from .lattice import UNIT_BONDS, Lattice

        P, D, nc, W = self.n_slices, self.slice_states, self.cell_dim, self.rows
        mx = self.merge_x
        onsite = np.zeros((P, D, D), complex)
        hops = {}

        zero = (0,) * self.ndim

        def acc(key):
            dX = key[0]
            if key not in hops:
                hops[key] = np.zeros((max(P - dX, 0), D, D), complex)
            return hops[key]

        def canonical(key):  # dX > 0, or dX = 0 < dY, or (films) dX = dY = 0 < dz
            return tuple(key) > zero

        for a in range(mx):
            for b in range(W):
                for s, o in enumerate(self.site_offsets if bond_scale is None else ()):
                    n = self.orbitals[s]
                    r = (a * W + b) * nc + o
                    eps = self._site_onsite[s][a::mx, b]
                    vac = self.vacant[a::mx, b, s]
                    if vac.any():
                        eps = np.where(vac[:, None, None], VACANCY_ENERGY * np.eye(n), eps)
                    onsite[:, r : r + n, r : r + n] = eps
        for h, ((i, j, _, T), lst) in enumerate(zip(self.hoppings, self._instances())):
            ni, nj = self.orbitals[i], self.orbitals[j]
            for a, b, key, a2, b2, Xs in lst:
                dX = key[0]
                r = (a * W + b) * nc + self.site_offsets[i]
                c = (a2 * W + b2) * nc + self.site_offsets[j]
                t = T[Xs * mx + a] if T.ndim == 3 else T[Xs * mx + a, b]
                if bond_scale is not None:
                    t = bond_scale[h] * t
                td = t.conj().transpose(0, 2, 1)
                if key == zero:
                    onsite[Xs, r : r + ni, c : c + nj] += t
                    onsite[Xs, c : c + nj, r : r + ni] += td
                elif canonical(key):
                    acc(key)[Xs, r : r + ni, c : c + nj] += t
                else:  # the Hermitian conjugate runs along the canonical offset -key
                    acc(tuple(-v for v in key))[Xs + dX, c : c + nj, r : r + ni] += td
        units = tuple(UNIT_BONDS[self.ndim].values())
        for key in units:
            acc(key)
        sl = object.__new__(Lattice)
        sl.columns = None
        sl.site_lattice = self if bond_scale is None else None
        sl.N_x, sl.N_y, sl.dim = P, self.slice_N_y, D
        sl.N_z, sl.ndim = self.N_z, self.ndim
        sl.x_bond, sl.y_bond = units[0], units[1]
        sl.generators, sl.normalization, sl.interface = None, None, None
        sl.bonds = tuple(sorted(hops, key=lambda b: (units.index(b) if b in units else len(units), sum(map(abs, b)), b)))
        sl.hoppings = hops
        sl.owners = {k: np.arange(v.shape[0]) for k, v in hops.items()}
        sl.x_owner = sl.owners[sl.x_bond]
        sl.onsite = onsite
        sl.hop_x, sl.hop_y = hops[sl.x_bond], hops[sl.y_bond]
        sl._blocks, sl._anchor_groups, sl._sectors = {}, {}, {}
        # one k (finite sample: the rows are inside the slice): h(-k) = h(k) trivially
        sl.y_hermitian = True if self.transverse_dimension == 0 else (bool(sl._k_even()) if self.ndim == 2 else None)
        return sl

    @property
    def pairs(self):
        """Slice offsets ``(dX, dY)`` (films ``(dX, dY, dz)``) of the correlation bands :class:`SiteObservables`
        reads (pass them to ``solve_bloch`` / ``solve_greens`` / ``solve_film`` as ``pairs``)."""
        out = {(0,) * self.ndim}
        for lst in self._instances():
            for _, _, key, _, _, _ in lst:
                out.add(key)
        return sorted(out)

    def estimate(self, engine="bloch", vectors=True):
        """Resource estimate (:mod:`orbsym.numeric.budget`) of solving the slice chain with ``engine``
        (``"bloch"``: dense Bloch, films: one per k_z sector; ``"realspace"``: one dense matrix of the
        whole sample, not for films)."""
        from .budget import dense_bloch_estimate, dense_realspace_estimate, film_estimate

        if engine == "bloch":
            if self.transverse_dimension == 2:
                sec = self.slices.sector(0.0)
                one = dense_bloch_estimate(self.n_slices, self.slice_N_y, self.slice_states, vectors=vectors,
                                           symmetric=sec.y_hermitian, n_pairs=len({p[:2] for p in self.pairs}))
                return film_estimate(one, self.slices, vectors)
            return dense_bloch_estimate(self.n_slices, self.slice_N_y, self.slice_states, vectors=vectors,
                                        symmetric=self.slices.y_hermitian, n_pairs=len(self.pairs))
        if engine == "realspace" and self.transverse_dimension < 2:
            return dense_realspace_estimate(self.n_slices, self.slice_N_y, self.slice_states)
        raise unknown_name("engine", engine, ("bloch", "realspace"))

    def choose_engine(self, T):
        """``"dense"`` or ``"greens"`` for ``engine="auto"``: dense whenever the slice chain (films: its
        ``k_z = 0`` sector) has bonds beyond ``(1, 0)``, ``(0, 1)`` (the Green's-function engine takes
        nearest-slice bonds only); else the faster by :func:`orbsym.numeric.engines.engine_costs`."""
        from .engines import engine_costs

        base = self.slices.sector(0.0) if self.transverse_dimension == 2 else self.slices
        if base.has_diagonal_bonds:
            return "dense"
        with np.errstate(under="ignore"):
            cost = engine_costs(base, T, True)
        return "greens" if cost["greens"] < cost["dense"] else "dense"

    def solve(self, T, engine="dense", **options):
        """Thermal state at temperature ``T`` (units of t; ``mu`` inside the on-site matrices).

        ``engine="dense"``: :func:`orbsym.numeric.bloch.solve_bloch` on the slice chain (refused up front
        with the estimate when it does not fit the memory/time limits); ``"greens"``:
        :func:`orbsym.numeric.greens.solve_greens` (nearest-slice bonds only, i.e. no ``(1, +-1)`` slice
        bond).  Films: :func:`orbsym.numeric.film.solve_film` with that engine per k_z sector.  Returns a
        :class:`SiteObservables` whose ``solution`` holds ``F`` and ``N`` of the slice chain (per super-row;
        :meth:`SiteObservables.free_energy` gives F per transverse cell).
        """
        from .budget import check_resources

        if engine not in ("dense", "greens"):
            raise unknown_name("engine", engine, ("dense", "greens"))
        if self.transverse_dimension == 2:
            from .film import solve_film

            if engine == "dense":
                check_resources(self.estimate("bloch"), what="the dense film solve of this SiteLattice", hint="use fewer cells or a coarser k grid")
            sol = solve_film(self.slices, T, self.pairs, engine=engine, **options)
        elif engine == "dense":
            from .bloch import solve_bloch

            check_resources(self.estimate("bloch"), what="the dense Bloch solve of this SiteLattice", hint="use fewer cells or a narrower sample")
            sol = solve_bloch(self.slices, T, self.pairs, **options)
        elif engine == "greens":
            from .greens import solve_greens

            sol = solve_greens(self.slices, T, self.pairs, **options)
        return SiteObservables(self, sol.bands, solution=sol)

    def correlation_bands(self, G):
        """Bands ``{(dX, 0): (n_slices, D, D)}`` of a full correlation matrix ``G_ab = <c_a^dag c_b>`` of a
        finite sample (transverse dimension 0; state order of the module docstring), for any state
        (thermal, driven, random)."""
        if self.transverse_dimension != 0:
            raise ValueError("correlation_bands(G) takes the full matrix of a finite sample (transverse dimension 0, width=...)")
        P, D = self.n_slices, self.slice_states
        G = np.asarray(G)
        if G.shape != (P * D, P * D):
            raise ValueError(f"G must have shape ({P * D}, {P * D}) (all states of the sample), got {G.shape}")
        G4 = G.reshape(P, D, P, D)
        out = {}
        for dX, _ in self.pairs:  # dimension 0: every key is (dX, 0)
            band = np.zeros((P, D, D), G.dtype)
            Xs = np.arange(max(0, -dX), min(P, P - dX))
            band[Xs] = G4[Xs, :, Xs + dX, :]
            out[(dX, 0)] = band
        return out

    # ------------------------------------------------------------------ linear response
    def _field_axis(self, field):
        """Cartesian axis (1 for ``"y"``, 2 for ``"z"``) of a uniform field, after checking that the
        field runs along a periodic direction of this lattice."""
        if field not in ("y", "z"):
            raise unknown_name("field direction", field, ("y", "z"))
        if self.transverse_dimension == 0:
            raise ValueError(
                f"a field E_{field} needs a periodic direction, but this SiteLattice is a finite sample (transverse dimension 0, "
                f"width={self.width}): a uniform field along an open direction is a potential ramp, not the drifting momentum "
                "(uniform vector potential) of the Kubo formalism (orbsym.numeric.kubo); build the lattice with N_y (E_y) or N_y "
                "and N_z (E_y, E_z)"
            )
        if field == "z" and self.transverse_dimension != 2:
            raise ValueError("a field E_z needs a film (transverse dimension 2: N_y and N_z); this lattice is periodic in y only: use field='y'")
        axis = "xyz".index(field)
        # the surfaces (films) or edges (dimension 1) are spanned by a_y and a_z: E must be parallel to them.
        # An oblique stacking vector (a_x with a component along E) is allowed: it only relabels the layers.
        normal = np.cross(self.vectors[1], self.vectors[2])
        normal /= np.linalg.norm(normal)
        if abs(normal[axis]) > POSITION_TOL:
            raise ValueError(
                f"the field E_{field} crosses the open surfaces of this lattice (their normal a_y x a_z = {np.round(normal, 6).tolist()} has "
                f"a {field} component): it would push charge against the open stacking axis (a potential ramp, outside the Kubo "
                f"formalism of a uniform vector potential); choose cell vectors with a_y x a_z perpendicular to {field}"
            )
        return axis

    def velocity_slices(self, field="y"):
        """The velocity ``v = -dh/dA`` of a uniform vector potential ``A`` along ``field``, as a slice chain.

        A uniform ``A`` multiplies every hopping by its Peierls phase ``e^{-i q A . b}`` with the REAL bond
        vector ``b`` (:attr:`bond_vectors`: site positions and cell vectors included), so::

            v = sum_bonds i b_field (c_i^dag T c_j) + h.c.,

        returned as a lattice of the slice chain's shape (hoppings ``i b T``, on-site the ``dR = 0`` and
        intra-slice bonds, no ``eps``), in the ``H0 + cos K C + sin K S`` form the Kubo engine takes as
        ``velocity`` (films: per k_z sector with :meth:`orbsym.numeric.Lattice.sector`).  This is the
        velocity per real momentum: with ``m_y`` merged rows the super-lattice momentum is ``K = m_y k_y``
        and ``v = dh/dk_y`` in the gauge of the real positions, not ``dh/dK`` (which would drive only the
        bonds that cross a super-row boundary, with ``m_y`` times the phase).
        """
        axis = self._field_axis(field)
        return self._build_slices(bond_scale=1j * self.bond_vectors[:, axis])

    def respond(self, T, eta, field="y", check=True, tol=1e-8, use_symmetry=True, chunk_bytes=None):
        """Linear response to a static uniform field ``E_field`` (Kubo, :mod:`orbsym.numeric.kubo`).

        The field enters as a uniform vector potential with Peierls phases on the real bond vectors
        (:meth:`velocity_slices`); :func:`orbsym.numeric.kubo.solve_kubo` solves the slice chain with that
        velocity (films: every k_z sector, recombined by :func:`orbsym.numeric.film.sector_sum`).

        Parameters
        ----------
        T : float
            Temperature (units of t), ``T >= 0`` (the Fermi-surface part needs ``T`` above the level spacing).
        eta : float
            Relaxation rate ``hbar eta > 0`` (units of t).
        field : {"y", "z"}
            Cartesian direction of the field: ``"y"`` (transverse dimensions 1, 2), ``"z"`` (films).  The
            stacking vector ``a_x`` must be perpendicular to it.  A finite sample (dimension 0) is refused:
            it has no uniform-field velocity in this formalism.
        check : bool
            Raise :class:`BalanceError` when the driven balance (below) is off by more than ``tol`` (relative
            to the largest term); else only report it (:attr:`SiteResponse.max_abs_residual`).
        tol : float
            Relative tolerance of the balance check.
        use_symmetry : bool
            Films: solve only ``0 <= k_z <= pi`` when the sectors and the velocity have the needed parity.
        chunk_bytes : int, optional
            Memory per chunk of k points (default :data:`orbsym.numeric.kubo.CHUNK_BYTES`).

        Returns
        -------
        SiteResponse
            Per part (``total``, ``fermi_surface``, ``fermi_sea``, ``drive``) a :class:`SiteObservables` of the
            response bands, per unit force ``q E_field`` (``e = hbar = a = 1``; densities per site, bond
            currents and torques per bond, per transverse cell in dimensions 1, 2), and the driven per-site
            balance ``-div j + tau = eta <J> + D`` (:meth:`SiteResponse.balance`).

        Notes
        -----
        Units: the response per real ``E`` (bond vectors in units of a), whatever the slice merge.  On
        the ``N_y`` (films ``N_y x N_z``) periodic k grid of the lattice; ``D`` (part ``drive``) is the
        finite-grid sum of a k-derivative, -> 0 for a fine grid.
        """
        from .kubo import CHUNK_BYTES, solve_kubo

        axis = self._field_axis(field)
        vel = self.velocity_slices(field)
        parts = ("fermi_surface", "fermi_sea", "drive")
        cb = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        if self.transverse_dimension == 1:
            sol = solve_kubo(self.slices, T, eta, self.pairs, parts=parts, velocity=vel, chunk_bytes=cb)
        else:
            from .film import FilmKuboSolution, sector_sum

            parity = 1 if axis == 1 else -1  # v_y is even under k_z -> -k_z when h is, v_z odd
            symmetric = bool(use_symmetry and self.slices.z_symmetric and _z_parity(vel) == parity)

            def one(sec, k, pairs2):
                return solve_kubo(sec, T, eta, pairs2, parts=parts, velocity=vel.sector(k), chunk_bytes=cb)

            bands, kz, wz, sols = sector_sum(self.slices, one, self.pairs, symmetric, parity=parity)
            sol = FilmKuboSolution(float(T), float(eta), self.N_y, self.N_z, field, kz, wz, bands, sols)
        return SiteResponse(self, sol, field, check=check, tol=tol)


class SiteObservables:
    """Per-site densities, per-bond currents and torques, and the exact per-site balance.

    Parameters
    ----------
    site_lattice : SiteLattice
    bands : dict
        ``{(dX, dY): ndarray (n_slices, D, D)}``, ``bands[dX, dY][X] = G(X, X + dX; dY)`` of the slice
        chain ``site_lattice.slices`` (films: keys ``(dX, dY, dz)``, ``G(X, X + dX; dY, dz)``) for the
        offsets ``site_lattice.pairs``; a missing offset is taken from its Hermitian partner
        ``G(X, X+dX; dY) = G(X+dX, X; -dY)^dag``.  From ``solve_bloch``, ``solve_greens``, ``solve_film``,
        a Kubo or time-evolution solve of the slice chain, or :meth:`SiteLattice.correlation_bands`.
    solution : optional
        The solve that produced the bands (kept for ``F`` and ``N``).

    Notes
    -----
    Every value is real (the real part is returned; the imaginary parts vanish for a Hermitian ``G``).
    Arrays are indexed ``[x, row, site]`` (sites) or ``[hopping, x, row]`` (bonds, by start cell):
    ``row`` runs over the ``width`` cells of a finite sample, and is a single entry (per transverse
    cell, averaged over the ``m_y`` rows of a super-row) in transverse dimensions 1 and 2.  Polarization
    ``None`` is the charge (``J = 1``), else ``"x"``, ``"y"``, ``"z"``.  Units: densities in units of
    ``J`` (hbar for L), currents and torques in ``J t / hbar`` per bond or site (``hbar = 1``).

    One-body algebra (``[c^dag A c, c^dag B c] = c^dag [A, B] c``) for one bond
    ``H_b = c_i^dag T c_j + c_j^dag T^dag c_i`` and ``O_i = c_i^dag J_i c_i`` gives, with
    ``G_ij = <c_i^dag c_j>`` (block ``n_i x n_j``) and ``Tr(A G^T) = sum_ab A_ab G_ab``::

        eom_start = <i [H_b, O_i]> = i Tr((T^dag J_i) G_ji^T) - i Tr((J_i T) G_ij^T) =  2 Im Tr((J_i T) G_ij^T)
        eom_end   = <i [H_b, O_j]> = i Tr((T J_j) G_ij^T) - i Tr((J_j T^dag) G_ji^T) = -2 Im Tr((T J_j) G_ij^T)
        current   = (eom_end - eom_start) / 2      (flow of J from site i to site j; positive along i -> j)
        source    = (eom_start + eom_end) / 2      (hopping torque, given to EACH end site)
        torque_onsite_i = <i [c_i^dag eps_i c_i, O_i]> = i Tr([eps_i, J_i] G_ii^T),

    (``G_ji^T = conj(G_ij)`` was used), the same definitions as the kernels of
    :class:`orbsym.kernels.KernelSet`.  The balance at every site is exact::

        d<O_i>/dt = torque_onsite_i + sum_{bonds from i} eom_start + sum_{bonds into i} eom_end
                  = -div_i j + tau_i,   div_i j = sum_from current - sum_into current,
                                        tau_i   = torque_onsite_i + sum_{bonds at i} source.

    A bond whose two ends are the same states (a y-bond closing on itself when ``N_y = m_y``) gives both
    pieces to that site; the balance stays exact.  A vacancy (:class:`SiteLattice` ``vacancies``) has
    density and on-site torque 0 and no bonds; the per-site on-site matrices (``onsite``) enter the
    on-site torque.
    """

    def __init__(self, site_lattice, bands, solution=None):
        if not isinstance(site_lattice, SiteLattice):
            raise TypeError(f"site_lattice must be a SiteLattice, got {type(site_lattice).__name__}")
        self.lattice = site_lattice
        self.bands = dict(bands)  # completed with Hermitian partners on demand (the caller's dict is not touched)
        self.solution = solution
        self._cache = {}

    # ------------------------------------------------------------------ helpers
    def _band(self, key):
        b = self.bands.get(key)
        if b is not None:
            return b
        dX = key[0]
        src = self.bands.get(tuple(-v for v in key))
        if src is None:
            raise ValueError(f"correlation band {key} (dX, dY of the slice chain) is missing; solve with pairs=site_lattice.pairs ({self.lattice.pairs})")
        P = src.shape[0]
        out = np.zeros_like(src)
        Xs = np.arange(max(0, -dX), min(P, P - dX))
        out[Xs] = src[Xs + dX].conj().transpose(0, 2, 1)
        self.bands[key] = out
        return out

    def _J(self, s, pol):
        """Generators of site ``s`` in every x-cell, ``(N_x, n, n)`` (identity for the charge)."""
        if pol not in _POLS:
            raise unknown_name("polarization", pol, ("x", "y", "z", "None (charge)"))
        n = self.lattice.orbitals[s]
        if pol is None:
            return np.broadcast_to(np.eye(n), (self.lattice.N_x, n, n))
        a = "xyz".index(pol)
        return np.array([c[s].generators[a] for c in self.lattice.cells])

    def _per_cell(self, arr):
        """``(N_x, rows, ...)`` -> per transverse cell in dimensions 1, 2 (average over the super-row)."""
        if self.lattice.transverse_dimension >= 1:
            return arr.mean(axis=1, keepdims=True)
        return arr

    def _diag_blocks(self, s):
        """``G_ii`` of site ``s`` at every cell: ``(N_x, rows, n, n)``."""
        lat = self.lattice
        mx, W, nc, n = lat.merge_x, lat.rows, lat.cell_dim, lat.orbitals[s]
        G0 = self._band((0,) * lat.ndim)
        out = np.empty((lat.N_x, W, n, n), G0.dtype)
        for a in range(mx):
            for b in range(W):
                r = (a * W + b) * nc + lat.site_offsets[s]
                out[a::mx, b] = G0[:, r : r + n, r : r + n]
        out[lat.vacant[:, :, s]] = 0  # a vacancy is no site: its decoupled states are not observed
        return out

    # ------------------------------------------------------------------ sites
    def density(self, polarization=None):
        """``<c_i^dag J_alpha c_i>`` per site, shape ``(N_x, rows, n_sites)`` (charge: particles)."""
        key = ("density", polarization)
        if key not in self._cache:
            lat = self.lattice
            out = np.zeros((lat.N_x, lat.rows, len(lat.sites)))
            for s in range(len(lat.sites)):
                J = self._J(s, polarization)
                out[:, :, s] = np.einsum("xab,xrab->xr", J, self._diag_blocks(s)).real
            self._cache[key] = self._per_cell(out)
        return self._cache[key]

    def onsite_torque(self, polarization):
        """``i <c_i^dag [eps_i, J_i] c_i>`` per site (e.g. the exchange torque), shape ``(N_x, rows, n_sites)``."""
        key = ("onsite", polarization)
        if key not in self._cache:
            lat = self.lattice
            out = np.zeros((lat.N_x, lat.rows, len(lat.sites)))
            for s in range(len(lat.sites)):
                J = self._J(s, polarization)
                eps = lat._site_onsite[s]
                K = 1j * (eps @ J[:, None] - J[:, None] @ eps)
                out[:, :, s] = np.einsum("xrab,xrab->xr", K, self._diag_blocks(s)).real
            self._cache[key] = self._per_cell(out)
        return self._cache[key]

    # ------------------------------------------------------------------ bonds
    def _bond_terms(self, polarization):
        """``(eom_start, eom_end, present)`` of every hopping, each ``(n_hoppings, N_x, rows)`` (all rows),
        and the per-site accumulation of the pieces (``(N_x, rows, n_sites)``)."""
        key = ("bonds", polarization)
        if key in self._cache:
            return self._cache[key]
        lat = self.lattice
        mx, W, nc = lat.merge_x, lat.rows, lat.cell_dim
        nh = len(lat.hoppings)
        start = np.zeros((nh, lat.N_x, W))
        end = np.zeros((nh, lat.N_x, W))
        present = np.zeros((nh, lat.N_x, W), bool)
        rate = np.zeros((lat.N_x, W, len(lat.sites)))
        Js = {}
        for h, ((i, j, _, T), lst) in enumerate(zip(lat.hoppings, lat._instances())):
            ni, nj = lat.orbitals[i], lat.orbitals[j]
            Ji = Js.setdefault(i, self._J(i, polarization))
            Jj = Js.setdefault(j, self._J(j, polarization))
            for a, b, key, a2, b2, Xs in lst:
                dX = key[0]
                r = (a * W + b) * nc + lat.site_offsets[i]
                c = (a2 * W + b2) * nc + lat.site_offsets[j]
                G = self._band(key)[Xs, r : r + ni, c : c + nj]  # <c_i^dag c_j>, (len(Xs), ni, nj)
                xs = Xs * mx + a
                t = T[xs] if T.ndim == 3 else T[xs, b]
                s_val = 2 * np.einsum("xab,xab->x", Ji[xs] @ t, G).imag
                e_val = -2 * np.einsum("xab,xab->x", t @ Jj[xs + (a2 - a) + dX * mx], G).imag
                start[h, xs, b] = s_val
                end[h, xs, b] = e_val
                present[h, xs, b] = True
                np.add.at(rate, (xs, b, i), s_val)
                np.add.at(rate, (xs + dX * mx + a2 - a, b2, j), e_val)
        out = (start, end, present, rate)
        self._cache[key] = out
        return out

    def eom_start(self, polarization):
        """``<i [H_b, O_i]>`` of every bond at its start site, shape ``(n_hoppings, N_x, rows)`` (by start cell)."""
        return self._bonds_per_cell(self._bond_terms(polarization)[0])

    def eom_end(self, polarization):
        """``<i [H_b, O_j]>`` of every bond at its end site, shape ``(n_hoppings, N_x, rows)`` (by start cell)."""
        return self._bonds_per_cell(self._bond_terms(polarization)[1])

    def _bonds_per_cell(self, arr):
        if self.lattice.transverse_dimension >= 1:
            return arr.mean(axis=2, keepdims=True)
        return arr

    def present(self):
        """Which bonds exist (both ends inside the sample), shape ``(n_hoppings, N_x, rows)``."""
        p = self._bond_terms(None)[2]
        return p[:, :, :1] if self.lattice.transverse_dimension >= 1 else p

    def current(self, polarization=None):
        """Bond current ``(eom_end - eom_start) / 2`` of every bond, ``(n_hoppings, N_x, rows)``: the flow of
        ``J_alpha`` (charge: particles) from the start site to the end site per unit time (``hbar = 1``);
        zero for bonds that leave the sample."""
        s, e = self.eom_start(polarization), self.eom_end(polarization)
        return 0.5 * (e - s)

    def source(self, polarization=None):
        """Hopping torque ``(eom_start + eom_end) / 2`` of every bond (given to each end site),
        ``(n_hoppings, N_x, rows)``."""
        s, e = self.eom_start(polarization), self.eom_end(polarization)
        return 0.5 * (e + s)

    # ------------------------------------------------------------------ balance
    def time_derivative(self, polarization=None):
        """``d<O_i>/dt`` per site from the bond pieces and the on-site torque, ``(N_x, rows, n_sites)``
        (zero in a stationary state)."""
        rate = self._per_cell(self._bond_terms(polarization)[3])
        return rate + self.onsite_torque(polarization)

    def divergence(self, polarization=None):
        """``div_i j = sum_{bonds from i} current - sum_{bonds into i} current`` per site, ``(N_x, rows, n_sites)``."""
        return self._scatter(polarization, "current")

    def torque(self, polarization):
        """``tau_i = torque_onsite_i + sum_{bonds at i} source`` per site, ``(N_x, rows, n_sites)``."""
        return self.onsite_torque(polarization) + self._scatter(polarization, "source")

    def _scatter(self, polarization, what):
        lat = self.lattice
        start, end, _, _ = self._bond_terms(polarization)
        cur, src = 0.5 * (end - start), 0.5 * (end + start)
        val, sign = (cur, -1.0) if what == "current" else (src, 1.0)
        out = np.zeros((lat.N_x, lat.rows, len(lat.sites)))
        mx = lat.merge_x
        for h, ((i, j, _, _), lst) in enumerate(zip(lat.hoppings, lat._instances())):
            for a, b, key, a2, b2, Xs in lst:
                dX = key[0]
                xs = Xs * mx + a
                v = val[h, xs, b]
                np.add.at(out, (xs, b, i), v)
                np.add.at(out, (xs + dX * mx + a2 - a, b2, j), sign * v)
        return self._per_cell(out)

    def continuity_residual(self, polarization):
        """``d<O_i>/dt - (-div_i j + tau_i)`` per site (zero to rounding: the decomposition is exact)."""
        return self.time_derivative(polarization) - (self.torque(polarization) - self.divergence(polarization))

    def boundary_current(self, polarization=None):
        """Current through every x-cell boundary: the sum over every bond crossing it.

        Entry ``x`` (``0 .. N_x - 2``) is the boundary between x-cells ``x`` and ``x + 1``: every bond with
        start cell ``<= x < `` end cell counts ``+current``, every bond running the other way
        ``-current``.  Summed over the width of a finite sample; per transverse cell in dimension 1.
        With ``Q_x = sum of O over the cells <= x``: ``dQ_x/dt = -boundary[x] + sum of tau over those cells``.
        """
        lat = self.lattice
        cur = self.current(polarization)  # (nh, N_x, rows)
        N = lat.N_x
        out = np.zeros(max(N - 1, 0))
        for h, (_, _, off, _) in enumerate(lat.hoppings):
            dx = off[0]
            if dx == 0:
                continue
            # a bond from start cell x0 crosses the boundaries min(x0, x0+dx) .. max(x0, x0+dx) - 1
            c = np.r_[0.0, np.cumsum(cur[h].sum(axis=1))]  # c[m] = sum of x0 < m
            b = np.arange(N - 1)
            if dx > 0:  # x0 in (b - dx, b]
                out += c[b + 1] - c[np.maximum(b + 1 - dx, 0)]
            else:  # x0 in (b, b - dx]: running toward -x
                out -= c[np.minimum(b + 1 - dx, N)] - c[b + 1]
        return out

    def free_energy(self):
        """Grand potential per transverse cell (dimension 1) or of the whole sample (dimension 0), from
        the solve that produced the bands."""
        if self.solution is None:
            raise ValueError("no solution attached: SiteObservables(site_lattice, bands, solution=...) or SiteLattice.solve")
        F = self.solution.free_energy(per_row=False)
        lat = self.lattice
        if lat.vacant.any():  # the decoupled vacancy levels (VACANCY_ENERGY, one per orbital) are no part of the sample
            from .thermo import grand_potential_terms

            n_vac = int(sum(lat.vacant[:, :, s].sum() * n for s, n in enumerate(lat.orbitals)))
            F -= n_vac * float(grand_potential_terms(VACANCY_ENERGY, self.solution.T))
        return F / lat.n_transverse


def _z_parity(film):
    """``+1`` if every k_z sector of a film-shaped slice chain satisfies ``sector(-k_z) = sector(k_z)``,
    ``-1`` if ``sector(-k_z) = -sector(k_z)``, else 0 (exact: compares the Fourier coefficients).

    The sector at ``k_z`` is ``sum_dz c_(dx,dy)[dz] e^{i k_z dz}`` per 2D offset, with the on-site part
    ``c_(0,0)[0] = eps``, ``c_(0,0)[dz] = t_(0,0,dz)``, ``c_(0,0)[-dz] = t_(0,0,dz)^dag``; parity ``p`` means
    ``c[-dz] = p c[dz]`` for every ``dz``."""
    coeff = {(0, 0): {0: film.onsite}}
    for (dx, dy, dz), t in film.hoppings.items():
        if not np.any(t != 0):
            continue
        c = coeff.setdefault((dx, dy), {})
        c[dz] = c.get(dz, 0) + t
        if (dx, dy) == (0, 0):
            c[-dz] = c.get(-dz, 0) + t.conj().transpose(0, 2, 1)
    for p in (1, -1):
        ok = True
        for c in coeff.values():
            for dz, t in c.items():
                other = c.get(-dz, 0)
                scale = max(1.0, float(np.abs(t).max(initial=0.0)))
                if not np.allclose(other, p * t, rtol=0, atol=1e-14 * scale):
                    ok = False
                    break
            if not ok:
                break
        if ok:
            return p
    return 0


class BalanceError(ArithmeticError):
    """The driven per-site continuity balance of a response is off (a broken solve, never bad input)."""


class SiteResponse:
    """Linear response of a :class:`SiteLattice` to a uniform field (:meth:`SiteLattice.respond`).

    Attributes
    ----------
    lattice : SiteLattice
    field : {"y", "z"}
    T, eta : float
    solution : KuboSolution or FilmKuboSolution
        The Kubo solve of the slice chain (bands per part).
    parts : dict
        ``{part: SiteObservables}`` for ``total`` (= ``fermi_surface + fermi_sea``), ``fermi_surface``,
        ``fermi_sea`` and ``drive``; also ``response[part]``.  Values per unit force ``q E_field``
        (:mod:`orbsym.numeric.kubo`: ``e = hbar = a = 1``, for electrons ``q E = -e E``).
    max_abs_residual : float
        Largest residual of :meth:`balance` over the charge and ``J_x, J_y, J_z``.

    Notes
    -----
    The steady state ``-i [h, delta] - eta delta = df/dA`` gives, for ``O_i = c_i^dag J c_i`` at every
    site (:mod:`orbsym.numeric.kubo`, module docstring)::

        d<O_i>/dt|_delta = -div_i j + tau_i = eta <O_i>_delta + D_i,

    ``<.>_delta`` the ``total`` part, ``D_i = <O_i>`` of the ``drive`` part (``Tr(J F o v)``: the k-sum of a
    derivative, small on a fine grid).
    """

    def __init__(self, lattice, solution, field, check=True, tol=1e-8):
        self.lattice = lattice
        self.solution = solution
        self.field = field
        self.T, self.eta = float(solution.T), float(solution.eta)
        self.parts = {p: SiteObservables(lattice, b, solution=None) for p, b in solution.bands.items()}
        worst, scale = 0.0, 0.0
        for pol in _POLS:
            b = self.balance(pol)
            worst = max(worst, float(np.abs(b["residual"]).max(initial=0.0)))
            scale = max(scale, *(float(np.abs(b[k]).max(initial=0.0)) for k in ("divergence", "torque", "relaxation", "drive")))
        self.max_abs_residual = worst
        self.balance_scale = scale
        if check and worst > tol * max(1.0, scale):
            raise BalanceError(
                f"the driven per-site balance -div j + tau = eta <J> + D is off by {worst:.3g} (largest term {scale:.3g}, "
                f"tolerance {tol:g} relative): the response solve is inconsistent"
            )

    def __getitem__(self, part):
        if part not in self.parts:
            raise unknown_name("response part", part, tuple(self.parts))
        return self.parts[part]

    def balance(self, polarization=None):
        """Terms of the driven balance per site, each ``(N_x, rows, n_sites)``.

        Returns ``{"divergence": div j, "torque": tau, "relaxation": eta <J>, "drive": D, "residual":
        -div j + tau - eta <J> - D}`` (``div j`` and ``tau`` from the bonds and on-site matrices,
        :class:`SiteObservables`; charge: ``tau = 0``).
        """
        tot, drv = self.parts["total"], self.parts["drive"]
        div = tot.divergence(polarization)
        tau = tot.torque(polarization)
        relax = self.eta * tot.density(polarization)
        drive = drv.density(polarization)
        return {"divergence": div, "torque": tau, "relaxation": relax, "drive": drive, "residual": tau - div - relax - drive}


def from_column_lattice(lattice, name="site"):
    """A :class:`SiteLattice` of one site per cell with the same Hamiltonian as a column
    :class:`orbsym.numeric.Lattice` (same ``N_x``, ``N_y``, films ``N_z``; per-column on-site and bond matrices, the
    column models' generators).  With bonds ``dx <= 1`` its slice chain equals the column lattice, so the
    same bands serve both; a ``(2, dy)`` bond merges pairs of columns into one slice (``N_x`` even)."""
    if getattr(lattice, "columns", None) is None:
        raise TypeError(f"from_column_lattice takes an orbsym.numeric.Lattice, got {type(lattice).__name__}")
    gens = np.asarray(lattice.generators)
    cells = [(Site(name, (0.0, 0.0, 0.0), lattice.onsite[x], gens),) for x in range(lattice.N_x)]
    hops = []
    for bond in lattice.bonds:
        t = lattice.hoppings[bond]
        if t.shape[0] == 0 or not np.any(t != 0):
            continue
        full = np.zeros((lattice.N_x,) + t.shape[1:], complex)
        full[: t.shape[0]] = t
        hops.append(Hopping(name, name, tuple(int(v) for v in bond), full))
    return SiteLattice(cells, hops, N_y=lattice.N_y, N_z=lattice.N_z)
