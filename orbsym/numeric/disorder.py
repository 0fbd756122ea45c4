"""Disorder as data on a finite sample: random or explicit on-site terms, hoppings, vacancies, textures.

A disordered sample is a :class:`orbsym.numeric.sites.SiteLattice` of transverse dimension 0 (open in
``y``, ``width=...``) whose per-cell on-site matrices, per-bond hopping matrices and vacancy mask
differ from cell to cell.  No new engine: every engine, driver and the per-site balance of
:class:`~orbsym.numeric.sites.SiteObservables` apply to each realization unchanged.

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
from .sites import Hopping, SiteLattice

__all__ = [
    "Anderson", "RandomHopping", "Vacancies", "Substitution", "MagneticTexture", "Potential", "VacancyMask",
    "Realization", "realize", "DISTRIBUTIONS",
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
    ``(N_x, width, n)`` (diagonal) or ``(N_x, width, n, n)`` (Hermitian matrices), ADDED to the site's ``eps``."""

    site: object
    values: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class VacancyMask:
    """Explicit vacancies: a boolean array ``(N_x, width, n_sites)``."""

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
    """

    lattice: SiteLattice
    seed: object
    record: list
    onsite_shift: list
    hopping_factor: object
    vacant: np.ndarray


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
    """Apply ``disorder`` (one term or a sequence) to a clean finite sample -> :class:`Realization`.

    Parameters
    ----------
    lattice : SiteLattice
        A finite sample (``width=...``); its own on-site overrides and vacancies are kept.
    disorder : kind or sequence of kinds
        :class:`Anderson`, :class:`RandomHopping`, :class:`Vacancies`, :class:`Substitution`,
        :class:`MagneticTexture`, :class:`Potential`, :class:`VacancyMask`.
    seed : int, optional
        Needed when any random kind is present (refused otherwise: a realization is reproducible).
    """
    if not isinstance(lattice, SiteLattice):
        raise TypeError(f"lattice must be an orbsym.numeric.sites.SiteLattice, got {type(lattice).__name__}")
    if lattice.transverse_dimension != 0:
        raise ValueError(
            f"disorder needs a finite sample (transverse dimension 0, width=...): this lattice is periodic along y (N_y = {lattice.N_y}); "
            "a random configuration breaks the translation symmetry of the k grid"
        )
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
    N_x, W, ns = lattice.N_x, lattice.width, len(lattice.sites)
    shift = [np.zeros((N_x, W, n, n), complex) for n in lattice.orbitals]
    factor = None
    vacant = lattice.vacant.copy()
    record = []

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
            base = lattice.site_onsite(s)
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
            if v.shape == (N_x, W):
                add = v[..., None, None] * np.eye(n)
            elif v.shape == (N_x, W, n):
                add = v[..., None] * np.eye(n)
            elif v.shape == (N_x, W, n, n):
                add = v
            else:
                raise ValueError(f"Potential values for site {lattice.names[s]!r} must have shape (N_x, width) = {(N_x, W)}, "
                                 f"(N_x, width, n) = {(N_x, W, n)} or (N_x, width, n, n), got {v.shape}")
            if not np.all(np.isfinite(add)) or not np.allclose(add, np.swapaxes(add, -1, -2).conj(), atol=1e-12):
                raise ValueError(f"Potential values for site {lattice.names[s]!r} must be finite and Hermitian")
            shift[s] += add
            rec.update(site=lattice.names[s], shape=list(v.shape))
        elif isinstance(term, VacancyMask):
            mask = np.asarray(term.mask)
            if mask.dtype != bool or mask.shape != (N_x, W, ns):
                raise ValueError(f"VacancyMask must be a boolean array of shape (N_x, width, n_sites) = {(N_x, W, ns)}, got {mask.dtype} {mask.shape}")
            vacant |= mask
            rec.update(vacancies=int(mask.sum()))
        record.append(rec)
    onsite = {lattice.names[s]: np.asarray(lattice.site_onsite(s)) + shift[s] for s in range(ns)}
    hops = []
    for h, (i, j, off, T) in enumerate(lattice.hoppings):
        if factor is not None:
            base = T if T.ndim == 4 else np.broadcast_to(T[:, None], (N_x, W) + T.shape[1:])
            T = base * factor[h][..., None, None]
        hops.append(Hopping(lattice.names[i], lattice.names[j], off, T))
    out = SiteLattice(lattice.cells, hops, width=W, vectors=lattice.vectors, onsite=onsite, vacancies=vacant)
    return Realization(out, seed, [dict(r, seed=seed) for r in record], shift, factor, vacant)


def _names(lattice, sites):
    return None if sites is None else [lattice.names[lattice._site_index(s)] for s in sites]


def describe(term):
    """Plain-data description of a disorder term (explicit arrays by shape)."""
    d = {k: v for k, v in asdict(term).items() if not isinstance(v, np.ndarray)}
    return {"kind": type(term).__name__, **d}
