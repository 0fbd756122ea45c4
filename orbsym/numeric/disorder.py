"""Disorder as data on a finite sample: random or explicit on-site terms, hoppings, vacancies, textures.

A disordered sample is a :class:`orbsym.numeric.sites.SiteLattice` of transverse dimension 0 (open in
``y``, ``width=...``) whose per-cell on-site matrices, per-bond hopping matrices and vacancy mask
differ from cell to cell.  No new engine: every engine, driver and the per-site balance of
:class:`~orbsym.numeric.sites.SiteObservables` apply to each realization unchanged.

Periodic samples (transverse dimension 1, ``N_y``; films ``N_y x N_z``) are disordered exactly through
their Gamma-only supercell (:func:`supercell`): one cell holds the ``R = N_y`` (films ``N_y N_z``)
transverse copies of every site, the supercell has ``N_y = 1`` (films ``N_y = N_z = 1``) and its wrap
bonds carry the Bloch phase of the supercell momentum ``k = 0``, i.e. 1.  The supercell Hamiltonian is
the real-space Hamiltonian of the ``N_x x N_y`` torus (films ``N_x x N_y x N_z``), unitarily
equivalent to the direct sum of the clean lattice's ``h(k_j)``: the clean supercell reproduces every
result of the clean periodic lattice (to rounding), and a disordered one is the torus with disorder,
periodic with the period of the whole sample.  The disorder arrays of a periodic sample are indexed
``(N_x, R, ...)`` with the transverse cell ``r = y`` (films ``r = y N_z + z``);
:meth:`Supercell.observables` maps the supercell's observables back to that layout
(sites ``[x, r, site]``, bonds ``[hopping, x, r]``; the free energy and boundary current per
transverse cell, the normalization of the clean periodic lattice).

Kinds (term ``i`` of the list draws from stream ``i`` of ``numpy.random.SeedSequence(seed).spawn``, so
that appending a term does not change the draws of the terms before it)::

    Anderson(W)             eps(x, y, s) += V 1 (per_orbital: diag(V_1..V_n)); V uniform in
                            [-W/2, W/2] or Gaussian with standard deviation W
    RandomHopping(W)        T(x, y) -> (1 + d) T, d uniform in [-W/2, W/2] (or Gaussian, std W): one
                            factor per bond instance (bond-length disorder; the bond's matrix
                            structure, hence its symmetry, is kept)
    Vacancies(c)            each site removed with probability c (exact: its bonds are cut, see
                            :class:`~orbsym.numeric.sites.SiteLattice`)
    Substitution(c, onsite) each site replaced with probability c by an impurity with another on-site
                            matrix (and optionally other generators' model: same orbitals)
    MagneticTexture(m, cone) eps(x, y, s) += -m(x, y) . J_s with |m| fixed and directions uniform on
                            the spherical cap of half-angle ``cone`` around ``direction``
    Potential(site, values) explicit arrays: per-cell potentials or matrices (a configuration
                            brought by the user); VacancyMask(mask) explicit vacancies

Units: energies in the model's unit (``t``, or eV for materials).  Every realization records its
kinds, parameters and seed (:attr:`Realization.record`), so that it can be rebuilt exactly.
Conventions: :mod:`orbsym.conventions` ("Disorder").  No SymPy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .checks import check_name, integer_at_least, real_number
from .sites import Hopping, Site, SiteLattice

__all__ = [
    "Anderson", "RandomHopping", "Vacancies", "Substitution", "MagneticTexture", "Potential", "VacancyMask",
    "Realization", "realize", "DISTRIBUTIONS", "supercell", "Supercell",
]

#: Distributions of the random kinds: box of full width W, or Gaussian of standard deviation W.
DISTRIBUTIONS = ("uniform", "gaussian")


def _sites_arg(sites):
    if sites is None:
        return None
    return (sites,) if isinstance(sites, (str, int)) else tuple(sites)


@dataclass(frozen=True)
class Anderson:
    """On-site Anderson disorder of strength ``W`` (energy): uniform in ``[-W/2, W/2]`` or Gaussian (std ``W``)."""

    W: float
    distribution: str = "uniform"
    per_orbital: bool = False
    sites: tuple = None

    def __post_init__(self):
        object.__setattr__(self, "W", real_number("Anderson strength W", self.W, minimum=0.0))
        check_name("distribution", self.distribution, DISTRIBUTIONS)
        object.__setattr__(self, "sites", _sites_arg(self.sites))


@dataclass(frozen=True)
class RandomHopping:
    """Bond disorder: every bond instance's matrix scaled by ``1 + d``, ``d`` of width (or std) ``W`` (dimensionless)."""

    W: float
    distribution: str = "uniform"

    def __post_init__(self):
        object.__setattr__(self, "W", real_number("random-hopping strength W", self.W, minimum=0.0))
        check_name("distribution", self.distribution, DISTRIBUTIONS)


@dataclass(frozen=True)
class Vacancies:
    """Each site (of the kinds in ``sites``, default all) removed with probability ``concentration``."""

    concentration: float
    sites: tuple = None

    def __post_init__(self):
        c = real_number("vacancy concentration", self.concentration, minimum=0.0)
        if c > 1:
            raise ValueError(f"vacancy concentration must be in [0, 1], got {c}")
        object.__setattr__(self, "concentration", c)
        object.__setattr__(self, "sites", _sites_arg(self.sites))


@dataclass(frozen=True)
class Substitution:
    """Each site of kind ``site`` replaced with probability ``concentration`` by an impurity of on-site matrix ``onsite``."""

    concentration: float
    site: object
    onsite: np.ndarray = field(compare=False)

    def __post_init__(self):
        c = real_number("substitution concentration", self.concentration, minimum=0.0)
        if c > 1:
            raise ValueError(f"substitution concentration must be in [0, 1], got {c}")
        object.__setattr__(self, "concentration", c)
        object.__setattr__(self, "onsite", np.asarray(self.onsite, dtype=complex))


@dataclass(frozen=True)
class MagneticTexture:
    """A random magnetization ``m(x, y)`` of fixed magnitude on the chosen sites, adding ``-m . J_s``.

    Directions are uniform on the cap of half-angle ``cone`` (radians; ``pi``: the whole sphere)
    around ``direction``.  Give the sites without their exchange term.
    """

    magnitude: float
    cone: float = math.pi
    direction: tuple = (0.0, 0.0, 1.0)
    sites: tuple = None

    def __post_init__(self):
        object.__setattr__(self, "magnitude", real_number("texture magnitude |m|", self.magnitude, minimum=0.0))
        cone = real_number("texture cone half-angle (radians)", self.cone, minimum=0.0)
        if cone > math.pi:
            raise ValueError(f"texture cone half-angle must be in [0, pi], got {cone}")
        object.__setattr__(self, "cone", cone)
        d = np.asarray(self.direction, dtype=float)
        if d.shape != (3,) or not np.isfinite(d).all() or np.linalg.norm(d) == 0:
            raise ValueError(f"texture direction must be a nonzero 3-vector, got {self.direction!r}")
        object.__setattr__(self, "direction", tuple(float(v) for v in d / np.linalg.norm(d)))
        object.__setattr__(self, "sites", _sites_arg(self.sites))


@dataclass(frozen=True)
class Potential:
    """Explicit per-cell terms on site ``site``: ``values`` of shape ``(N_x, width)`` (a potential times 1),
    ``(N_x, width, n)`` (diagonal) or ``(N_x, width, n, n)`` (Hermitian matrices), ADDED to the site's ``eps``.
    Periodic samples: ``width`` is the number of transverse cells ``R = N_y`` (films ``N_y N_z``, ``r = y N_z + z``)."""

    site: object
    values: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class VacancyMask:
    """Explicit vacancies: a boolean array ``(N_x, width, n_sites)`` (periodic samples: ``(N_x, R, n_sites)``)."""

    mask: np.ndarray = field(compare=False)


KINDS = (Anderson, RandomHopping, Vacancies, Substitution, MagneticTexture, Potential, VacancyMask)


@dataclass
class Realization:
    """One disordered sample and how to rebuild it.

    Attributes
    ----------
    lattice : SiteLattice
    seed : int or None
    record : list of dict
        Kind and parameters of every disorder term (explicit arrays by shape), with the seed.
    onsite_shift : list of ndarray
        Per site kind, the added on-site matrices ``(N_x, width, n, n)`` (substitutions included).
    hopping_factor : ndarray or None
        ``(n_hoppings, N_x, width)`` factors ``1 + d`` of the bond instances.
    vacant : ndarray of bool, shape (N_x, width, n_sites)
    supercell : Supercell or None
        Periodic samples: the Gamma-only supercell (``lattice`` is ``supercell.lattice``), whose
        :meth:`Supercell.observables` gives the results in the layout of the periodic sample; None for a
        finite sample.  The arrays above are then ``(N_x, R, ...)``.
    """

    lattice: SiteLattice
    seed: object
    record: list
    onsite_shift: list
    hopping_factor: object
    vacant: np.ndarray
    supercell: object = None

    def observables(self, obs):
        """``obs`` (of ``self.lattice``) in the layout of the sample: unchanged for a finite sample, unfolded
        onto ``(x, r, site)`` for a periodic one (:meth:`Supercell.observables`)."""
        return obs if self.supercell is None else self.supercell.observables(obs)


def _draw(rng, dist, W, shape):
    if dist == "uniform":
        return W * (rng.random(shape) - 0.5)
    return W * rng.standard_normal(shape)


def _cap(rng, n, cone, axis):
    """``n`` unit vectors uniform on the spherical cap of half-angle ``cone`` around ``axis``."""
    cos_t = 1 - rng.random(n) * (1 - math.cos(cone))
    phi = 2 * math.pi * rng.random(n)
    sin_t = np.sqrt(np.clip(1 - cos_t**2, 0, None))
    local = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], -1)
    z = np.asarray(axis)
    a = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(a, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return local @ np.stack([x, y, z])


def realize(lattice, disorder, seed=None):
    """Apply ``disorder`` (one term or a sequence) to a clean sample -> :class:`Realization`.

    Parameters
    ----------
    lattice : SiteLattice
        A finite sample (``width=...``; its own on-site overrides and vacancies are kept), or a periodic
        one (``N_y``, films ``N_y, N_z``): the realization is then its Gamma-only :func:`supercell` with the
        disorder drawn on the ``(N_x, R)`` cells of the torus (``R = N_y``, films ``N_y N_z``) and
        ``Realization.lattice`` the supercell (``N_y = 1``): the disordered sample repeats with the period
        of the whole sample.
    disorder : kind or sequence of kinds
        :class:`Anderson`, :class:`RandomHopping`, :class:`Vacancies`, :class:`Substitution`,
        :class:`MagneticTexture`, :class:`Potential`, :class:`VacancyMask`.
    seed : int, optional
        Needed when any random kind is present (refused otherwise: a realization is reproducible).
    """
    if not isinstance(lattice, SiteLattice):
        raise TypeError(f"lattice must be an orbsym.numeric.sites.SiteLattice, got {type(lattice).__name__}")
    periodic = lattice.transverse_dimension != 0
    terms = (disorder,) if isinstance(disorder, KINDS) else tuple(disorder)
    bad = [t for t in terms if not isinstance(t, KINDS)]
    if bad:
        raise TypeError(f"disorder terms must be one of {[k.__name__ for k in KINDS]}, got {bad[0]!r}")
    random_kinds = (Anderson, RandomHopping, Vacancies, Substitution, MagneticTexture)
    if any(isinstance(t, random_kinds) for t in terms):
        if seed is None:
            raise ValueError("seed is required for random disorder (every realization must be reproducible): give seed=<int>")
        seed = integer_at_least("seed", seed, 0)
    streams = np.random.SeedSequence(seed if seed is not None else 0).spawn(len(terms))
    N_x, ns = lattice.N_x, len(lattice.sites)
    W = _rows(lattice) if periodic else lattice.width
    shift = [np.zeros((N_x, W, n, n), complex) for n in lattice.orbitals]
    factor = None
    vacant = _per_row(lattice.vacant, W).copy()
    record = []
    where_w = "R = N_y" + (" N_z" if lattice.transverse_dimension == 2 else "") if periodic else "width"

    def chosen(sites):
        return range(ns) if sites is None else sorted({lattice._site_index(s) for s in sites})

    for term, ss in zip(terms, streams):
        rng = np.random.default_rng(ss)
        rec = {"kind": type(term).__name__}
        if isinstance(term, Anderson):
            for s in chosen(term.sites):
                n = lattice.orbitals[s]
                V = _draw(rng, term.distribution, term.W, (N_x, W, n) if term.per_orbital else (N_x, W, 1))
                shift[s] += np.eye(n)[None, None] * np.broadcast_to(V, (N_x, W, n))[..., None]
            rec.update(W=term.W, distribution=term.distribution, per_orbital=term.per_orbital, sites=_names(lattice, term.sites))
        elif isinstance(term, RandomHopping):
            d = _draw(rng, term.distribution, term.W, (len(lattice.hoppings), N_x, W))
            factor = (1 + d) if factor is None else factor * (1 + d)
            rec.update(W=term.W, distribution=term.distribution)
        elif isinstance(term, Vacancies):
            for s in chosen(term.sites):
                vacant[:, :, s] |= rng.random((N_x, W)) < term.concentration
            rec.update(concentration=term.concentration, sites=_names(lattice, term.sites))
        elif isinstance(term, Substitution):
            s = lattice._site_index(term.site)
            n = lattice.orbitals[s]
            if term.onsite.shape != (n, n) or not np.allclose(term.onsite, term.onsite.conj().T, atol=1e-12):
                raise ValueError(f"impurity on-site matrix for site {lattice.names[s]!r} must be Hermitian ({n}, {n}), got shape {term.onsite.shape}")
            where = rng.random((N_x, W)) < term.concentration
            base = _per_row(lattice.site_onsite(s), W)
            shift[s][where] += term.onsite[None] - base[where]
            rec.update(concentration=term.concentration, site=lattice.names[s], impurities=int(where.sum()))
        elif isinstance(term, MagneticTexture):
            for s in chosen(term.sites):
                m = term.magnitude * _cap(rng, N_x * W, term.cone, term.direction).reshape(N_x, W, 3)
                J = np.array([c[s].generators for c in lattice.cells])  # (N_x, 3, n, n)
                shift[s] -= np.einsum("xya,xaij->xyij", m, J)
            rec.update(magnitude=term.magnitude, cone=term.cone, direction=list(term.direction), sites=_names(lattice, term.sites))
        elif isinstance(term, Potential):
            s = lattice._site_index(term.site)
            n = lattice.orbitals[s]
            v = np.asarray(term.values)
            if lattice.transverse_dimension == 2 and v.shape[:3] == (N_x, lattice.N_y, lattice.N_z):
                v = v.reshape((N_x, W) + v.shape[3:])
            if v.shape == (N_x, W):
                add = v[..., None, None] * np.eye(n)
            elif v.shape == (N_x, W, n):
                add = v[..., None] * np.eye(n)
            elif v.shape == (N_x, W, n, n):
                add = v
            else:
                raise ValueError(f"Potential values for site {lattice.names[s]!r} must have shape (N_x, {where_w}) = {(N_x, W)}, "
                                 f"(N_x, {where_w}, n) = {(N_x, W, n)} or (N_x, {where_w}, n, n), got {v.shape}")
            if not np.all(np.isfinite(add)) or not np.allclose(add, np.swapaxes(add, -1, -2).conj(), atol=1e-12):
                raise ValueError(f"Potential values for site {lattice.names[s]!r} must be finite and Hermitian")
            shift[s] += add
            rec.update(site=lattice.names[s], shape=list(v.shape))
        elif isinstance(term, VacancyMask):
            mask = np.asarray(term.mask)
            if lattice.transverse_dimension == 2 and mask.shape[:3] == (N_x, lattice.N_y, lattice.N_z):
                mask = mask.reshape((N_x, W) + mask.shape[3:])
            if mask.dtype != bool or mask.shape != (N_x, W, ns):
                raise ValueError(f"VacancyMask must be a boolean array of shape (N_x, {where_w}, n_sites) = {(N_x, W, ns)}, got {mask.dtype} {mask.shape}")
            vacant |= mask
            rec.update(vacancies=int(mask.sum()))
        record.append(rec)
    record = [dict(r, seed=seed) for r in record]
    if periodic:
        sc = supercell(lattice, onsite_shift=shift, hopping_factor=factor, vacancies=vacant)
        return Realization(sc.lattice, seed, record, shift, factor, vacant, sc)
    onsite = {lattice.names[s]: np.asarray(lattice.site_onsite(s)) + shift[s] for s in range(ns)}
    hops = []
    for h, (i, j, off, T) in enumerate(lattice.hoppings):
        if factor is not None:
            base = T if T.ndim == 4 else np.broadcast_to(T[:, None], (N_x, W) + T.shape[1:])
            T = base * factor[h][..., None, None]
        hops.append(Hopping(lattice.names[i], lattice.names[j], off, T))
    out = SiteLattice(lattice.cells, hops, width=W, vectors=lattice.vectors, onsite=onsite, vacancies=vacant)
    return Realization(out, seed, record, shift, factor, vacant)


def _names(lattice, sites):
    return None if sites is None else [lattice.names[lattice._site_index(s)] for s in sites]


def describe(term):
    """Plain-data description of a disorder term (explicit arrays by shape)."""
    d = {k: v for k, v in asdict(term).items() if not isinstance(v, np.ndarray)}
    return {"kind": type(term).__name__, **d}


# ============================================================================ periodic samples
def _rows(lattice):
    """Transverse cells ``R`` of a periodic lattice: ``N_y`` (films ``N_y N_z``)."""
    return lattice.N_y * (lattice.N_z or 1)


def _per_row(arr, R):
    """A per-cell array ``(N_x, rows, ...)`` of a lattice on its ``R`` transverse cells: as is when
    ``rows == R``, else the rows of one super-row are those of every cell (a periodic lattice that is not
    Gamma-only takes no per-cell terms, so its rows are identical)."""
    arr = np.asarray(arr)
    if arr.shape[1] == R:
        return arr
    return np.broadcast_to(arr[:, :1], (arr.shape[0], R) + arr.shape[2:])


class Supercell:
    """The Gamma-only supercell of a periodic :class:`SiteLattice` (:func:`supercell`) and the map back.

    Attributes
    ----------
    lattice : SiteLattice
        The supercell: transverse dimension of the parent, ``N_y = 1`` (films ``N_z = 1``), ``R n_sites``
        sites per x-cell named ``"name[y]"`` (films ``"name[y,z]"``), site index ``r n_sites + s``, hopping
        index ``h R + r`` (the copy of parent hopping ``h`` starting in transverse cell ``r``).
    parent : SiteLattice
        The periodic lattice.
    rows : int
        ``R = N_y`` (films ``N_y N_z``); transverse cell ``r = y`` (films ``r = y N_z + z``).
    """

    def __init__(self, lattice, parent, rows):
        self.lattice, self.parent, self.rows = lattice, parent, rows

    def sites(self, arr):
        """A per-site array of the supercell ``(N_x, 1, R n_sites)`` -> ``(N_x, R, n_sites)``."""
        arr = np.asarray(arr)
        return arr.reshape(arr.shape[0], self.rows, -1)

    def bonds(self, arr):
        """A per-bond array of the supercell ``(n_hoppings R, N_x, 1)`` -> ``(n_hoppings, N_x, R)``."""
        arr = np.asarray(arr)
        return arr.reshape(-1, self.rows, arr.shape[1]).transpose(0, 2, 1)

    def observables(self, obs):
        """:class:`UnfoldedObservables`: the supercell's ``obs`` in the layout of the periodic sample."""
        return UnfoldedObservables(self, obs)


class UnfoldedObservables:
    """Observables of a Gamma-only supercell in the layout of its periodic sample.

    Per-site quantities (``density``, ``onsite_torque``, ``time_derivative``, ``divergence``, ``torque``,
    ``continuity_residual``) come as ``(N_x, R, n_sites)``, per-bond ones (``eom_start``, ``eom_end``,
    ``current``, ``source``, ``present``) as ``(n_hoppings, N_x, R)`` (parent hopping, start x-cell, start
    transverse cell), the same units as :class:`orbsym.numeric.sites.SiteObservables`.  ``free_energy()``
    and ``boundary_current()`` are PER TRANSVERSE CELL (the supercell's divided by ``R``), the
    normalization of the clean periodic lattice, so that a clean supercell gives its numbers; the
    per-site values averaged over ``r`` give the clean per-cell values.
    """

    _SITES = ("density", "onsite_torque", "time_derivative", "divergence", "torque", "continuity_residual")
    _BONDS = ("eom_start", "eom_end", "current", "source", "present")

    def __init__(self, supercell, obs):
        self.supercell, self.raw = supercell, obs
        self.lattice = supercell.parent

    def __getattr__(self, name):
        if name in self._SITES:
            return lambda *a, **k: self.supercell.sites(getattr(self.raw, name)(*a, **k))
        if name in self._BONDS:
            return lambda *a, **k: self.supercell.bonds(getattr(self.raw, name)(*a, **k))
        raise AttributeError(name)

    def free_energy(self):
        """Grand potential per transverse cell (units of t)."""
        return self.raw.free_energy() / self.supercell.rows

    def boundary_current(self, polarization=None):
        """Current through every x-cell boundary per transverse cell, ``(N_x - 1,)``."""
        return self.raw.boundary_current(polarization) / self.supercell.rows


def supercell(lattice, onsite_shift=None, hopping_factor=None, vacancies=None):
    """The Gamma-only supercell of a periodic lattice: the whole transverse period in one cell.

    The supercell of a lattice of transverse dimension 1 (``N_y``) or 2 (``N_y x N_z``) has, in every
    x-cell, the ``R = N_y`` (``N_y N_z``) transverse copies of every site, at ``p + y a_y (+ z a_z)``, and
    cell vectors ``a_x, N_y a_y, N_z a_z``; it is periodic with ``N_y = 1`` (films ``N_y = N_z = 1``).
    The parent bond ``(i, j, (dx, dy[, dz]))`` starting in transverse cell ``(y, z)`` becomes the bond
    ``(i[y, z], j[y', z'], (dx, dY[, dZ]))`` with ``y + dy = y' + dY N_y`` (``0 <= y' < N_y``; same for z):
    a wrap bond (``dY != 0``) is the supercell bond across its period, with the Bloch phase
    ``e^{i k dY} = 1`` of the only momentum ``k = 0``.  Its Hamiltonian is the real-space Hamiltonian of the
    ``N_x x N_y (x N_z)`` torus, unitarily equivalent to the direct sum over the parent's ``k`` grid of
    ``h(k)``: every clean result is the parent's (per transverse cell, to rounding); the real bond
    vectors are the parent's (so is the velocity of a uniform field).

    Parameters
    ----------
    lattice : SiteLattice
        Periodic (transverse dimension 1 or 2).
    onsite_shift : list of ndarray, optional
        Per parent site, matrices ``(N_x, R, n, n)`` ADDED to the on-site matrix of every copy (units of t).
    hopping_factor : ndarray, optional
        ``(n_hoppings, N_x, R)``: the copy of hopping ``h`` starting in cell ``(x, r)`` is ``factor T``.
    vacancies : ndarray of bool, optional
        ``(N_x, R, n_sites)``: removed copies (exact, as :class:`SiteLattice` ``vacancies``).

    Returns
    -------
    Supercell
    """
    if not isinstance(lattice, SiteLattice):
        raise TypeError(f"lattice must be an orbsym.numeric.sites.SiteLattice, got {type(lattice).__name__}")
    if lattice.transverse_dimension == 0:
        raise ValueError(f"supercell takes a periodic lattice (N_y, or N_y and N_z); this one is a finite sample (width={lattice.width}): "
                         "it needs no supercell, disorder applies to it directly")
    film = lattice.transverse_dimension == 2
    N_x, N_y, N_z = lattice.N_x, lattice.N_y, (lattice.N_z or 1)
    R, ns = N_y * N_z, len(lattice.sites)
    cells_yz = [(y, z) for y in range(N_y) for z in range(N_z)]
    onsite = [_per_row(lattice.site_onsite(s), R) for s in range(ns)]
    if onsite_shift is not None:
        onsite = [o + np.asarray(d) for o, d in zip(onsite, onsite_shift)]
    vac = _per_row(lattice.vacant, R) if vacancies is None else np.asarray(vacancies, bool) | _per_row(lattice.vacant, R)
    if vac.shape != (N_x, R, ns):
        raise ValueError(f"vacancies of the supercell must have shape (N_x, R, n_sites) = {(N_x, R, ns)}, got {vac.shape}")
    V = lattice.vectors
    cells = []
    for x in range(N_x):
        cell = []
        for r, (y, z) in enumerate(cells_yz):
            shift = y * V[1] + (z * V[2] if film else 0)
            for s, site in enumerate(lattice.cells[x]):
                name = f"{site.name}[{y},{z}]" if film else f"{site.name}[{y}]"
                cell.append(Site(name, tuple(np.asarray(site.position) + shift), onsite[s][x, r], site.generators))
        cells.append(tuple(cell))
    hops = []
    for h, (i, j, off, T) in enumerate(lattice.hoppings):
        dx, dy = off[0], off[1]
        dz = off[2] if film else 0
        T3 = T if T.ndim == 3 else None
        if T3 is None:
            raise ValueError("per-bond-instance hopping matrices exist only on finite samples")
        for r, (y, z) in enumerate(cells_yz):
            dY, y2 = divmod(y + dy, N_y)
            dZ, z2 = divmod(z + dz, N_z)
            r2 = y2 * N_z + z2
            t = T3 if hopping_factor is None else T3 * np.asarray(hopping_factor)[h, :, r][:, None, None]
            hops.append(Hopping(r * ns + i, r2 * ns + j, (dx, dY, dZ) if film else (dx, dY), t))
    vectors = np.array([V[0], N_y * V[1], N_z * V[2]])
    out = SiteLattice(cells, hops, N_y=1, N_z=1 if film else None, vectors=vectors,
                      vacancies=vac.reshape(N_x, 1, R * ns) if vac.any() else None)
    return Supercell(out, lattice, R)
