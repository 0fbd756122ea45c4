"""Films: the transverse Bloch group of dimension 2, solved as k_z sectors of the 2D engines.

A film (:class:`~orbsym.numeric.Lattice` built with ``N_z``) is open in x and periodic in y and z.
With ``c_{x,y,z} = (N_y N_z)^{-1/2} sum_{k_y,k_z} e^{i (k_y y + k_z z)} c_{x,k}`` its Hamiltonian
splits into blocks ``h(k_y, k_z)``, and at fixed ``k_z`` the z-bonds are phases: ``h(k_y, k_z)`` is
``h(k_y)`` of the 2D column lattice :meth:`Lattice.sector` (hoppings
``t_(dx,dy)(k_z) = sum_dz t_(dx,dy,dz) e^{i k_z dz}``).  Every 2D engine (dense Bloch, Green's
function) therefore solves a film sector by sector, and the film's correlation bands follow
exactly::

    G(x, x+dx; dy, dz) = <c^dag_{x,y,z} c_{x+dx,y+dy,z+dz}>
                       = N_z^{-1} sum_{k_z} e^{i k_z dz} G_{k_z}(x, x+dx; dy),

with ``G_{k_z}`` the sector's 2D bands (``N_y^{-1} sum_{k_y}`` inside).  The grand potential and the
particle number per transverse cell are the sector averages ``N_z^{-1} sum_{k_z} F_{k_z}``.  When
the sector at ``-k_z`` equals the one at ``k_z`` (:attr:`Lattice.z_symmetric`: the cubic films of
:mod:`orbsym.systems`), only ``0 <= k_z <= pi`` is solved, with weight 2 for the interior points and
``e^{i k_z dz}`` replaced by ``cos(k_z dz)``.

Open systems (transport of films, :mod:`orbsym.transport` and :mod:`orbsym.numeric.sites_transport`): the
sectors' NEGF solves run in common point batches (sectors x k_y x energies, :func:`sector_sum`,
:class:`orbsym.numeric.negf.SectorBatch`), equal to the sector-by-sector loop (``BATCH_SECTORS = False``).

Units: every quantity per site, i.e. per transverse cell ``a^2`` of one column; F and N per
transverse cell (:mod:`orbsym.conventions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bloch import k_points

__all__ = ["FilmSolution", "FilmKuboSolution", "solve_film", "solve_film_kubo", "sector_sum", "sector_pairs"]


def sector_pairs(pairs):
    """Split film offsets ``(dx, dy, dz)`` into the sectors' 2D offsets ``(dx, dy)`` and the ``dz`` of each."""
    out = {}
    for p in pairs:
        dx, dy, dz = (int(v) for v in p)
        out.setdefault((dx, dy), set()).add(dz)
    return {k: sorted(v) for k, v in sorted(out.items())}


@dataclass
class FilmSolution:
    """Result of :func:`solve_film`: the interface of :class:`orbsym.numeric.BlochSolution`.

    Attributes
    ----------
    T : float
    N_y, N_z : int
    k_z, weights : ndarray
        Sector momenta solved and their multiplicities (``weights.sum() == N_z``).
    bands : dict
        ``{(dx, dy, dz): ndarray (N_x, dim, dim)}``, ``bands[p][x] = G(x, x + dx; dy, dz)``.
    engine : str
        The 2D engine that solved the sectors (``"dense"`` or ``"greens"``).
    sectors : list
        The per-sector solutions (their ``free_energy``, ``particle_number``, ``points``...).
    """

    T: float
    N_y: object
    N_z: object
    k_z: np.ndarray
    weights: np.ndarray
    bands: dict
    engine: str
    sectors: list = field(repr=False, default_factory=list)
    #: ``N_z = infinity``: error estimate of the k_z trapezoid (last change between doublings, max
    #: norm over F, N and every band element); 0 for a finite ``N_z``.
    kz_error: float = 0.0

    def _average(self, fn):
        return float(sum(w * fn(s) for w, s in zip(self.weights, self.sectors)) / self.weights.sum())

    def _total(self, value, what):
        if self.N_y is None or self.N_z is None:
            raise ValueError(f"the total {what} of a film with N_y or N_z = infinity is infinite; use per_row=True (per transverse cell)")
        return value * self.N_y * self.N_z

    def free_energy(self, per_row=True):
        """Grand potential (Eq. 13) per transverse cell (default) or in total (units of t)."""
        F = self._average(lambda s: s.free_energy(per_row=True))
        return F if per_row else self._total(F, "free energy")

    def particle_number(self, per_row=True):
        """Electrons per transverse cell (default) or in total."""
        n = self._average(lambda s: s.particle_number(per_row=True))
        return n if per_row else self._total(n, "particle number")

    def k_integral(self):
        """How the transverse k integrals were done (``N_y`` / ``N_z`` = infinity) and their error estimates."""
        out = {"N_y": "inf" if self.N_y is None else self.N_y, "N_z": "inf" if self.N_z is None else self.N_z, "engine": self.engine}
        if self.N_z is None:
            out.update(k_z_method="trapezoid (doubling)", k_z_points=int(self.k_z.size), k_z_error_estimate=float(self.kz_error))
        if self.N_y is None:
            errs = [float(getattr(sec, "error", 0.0)) for sec in self.sectors]
            out.update(k_y_method="poles+k-subgrids" if self.engine == "greens" else "per-sector trapezoid/adaptive",
                       k_y_error_estimate=max(errs, default=0.0))
        return out

    @property
    def _N(self):
        """None when a sector solve gave no particle number (Green's-function free-energy solves), as
        :class:`orbsym.numeric.GreensSolution` says; else the number per transverse cell."""
        if any(getattr(sec, "_N", 0) is None for sec in self.sectors):
            return None
        return self.particle_number()

    @property
    def points(self):
        """Evaluation points summed over sectors (Green's-function engine; diagonalizations for dense)."""
        return int(sum(getattr(s, "points", np.size(getattr(s, "k", 0))) for s in self.sectors))


def sector_sum(lattice, solve_sector, pairs, use_symmetry=True, parity=1, N_z="lattice"):
    """Run ``solve_sector(sector, k_z, pairs2)`` on every k_z sector of a film and recombine its bands.

    ``solve_sector`` returns an object with ``bands``: either ``{(dx, dy): array}`` or
    ``{part: {(dx, dy): array}}``.  The film bands are ``N_z^{-1} sum_{k_z} e^{i k_z dz} G_{k_z}``;
    on the half grid (:attr:`Lattice.z_symmetric`) the sector at ``-k_z`` contributes
    ``parity * G_{k_z}`` (``+1``: equilibrium and responses to fields in the x-y plane; ``-1``: a
    response to ``E_z``, odd in ``k_z``), i.e. ``cos(k_z dz)`` or ``i sin(k_z dz)``.

    ``N_z``: ``"lattice"`` (the film's own ``N_z``) or another number of k_z points (the grids of
    the ``N_z = infinity`` trapezoid, :func:`solve_film`).

    Returns
    -------
    (bands, k_z, weights, sector results)
        ``bands`` keyed ``(dx, dy, dz)`` (or ``{part: ...}`` like the sector results).
    """
    if not getattr(lattice, "is_film", False):
        raise ValueError("this solve needs a film: a Lattice built with N_z (models with (dx, dy, dz) offsets)")
    symmetric = bool(use_symmetry and lattice.z_symmetric)
    n_cells = lattice.N_z if N_z == "lattice" else int(N_z)
    kz, wz = k_points(n_cells, symmetric)
    split = sector_pairs(pairs)
    pairs2 = sorted(split)
    N, d = lattice.N_x, lattice.dim
    empty = lambda: {(dx, dy, dz): np.zeros((N, d, d), complex) for (dx, dy), dzs in split.items() for dz in dzs}  # noqa: E731
    bands = None
    sols = _solve_sectors(lattice, solve_sector, kz, pairs2)
    for k, w, sol in zip(kz, wz, sols):
        parted = bool(sol.bands) and isinstance(next(iter(sol.bands.values())), dict)
        groups = sol.bands if parted else {None: sol.bands}
        if bands is None:
            bands = {part: empty() for part in groups}
        for part, b2 in groups.items():
            for (dx, dy), dzs in split.items():
                g = b2[(dx, dy)]
                for dz in dzs:
                    if symmetric:
                        phase = w * (np.cos(k * dz) if parity == 1 else 1j * np.sin(k * dz)) / n_cells
                    else:
                        phase = w * np.exp(1j * k * dz) / n_cells
                    bands[part][(dx, dy, dz)] += phase * g
    if bands is None or set(bands) == {None}:
        bands = empty() if bands is None else bands[None]
    return bands, kz, wz, sols


#: Solve the k_z sectors' open systems in common point batches (:func:`_solve_sectors`); False: one sector
#: after the other (the reference the tests compare with).
BATCH_SECTORS = True
#: Memory (bytes) of the outputs of the sectors held between their recording and their replay; a group of
#: sectors is solved when its outputs reach it (the batches themselves are bounded by ``negf.batch_points``).
SECTOR_GROUP_BYTES = 128 * 2**20


def _solve_sectors(lattice, solve_sector, kz, pairs2):
    """``[solve_sector(lattice.sector(k), k, pairs2) for k in kz]``, with the open-system solves of all sectors
    in common batches of points (sectors x k_y x energies).

    Each sector's code runs first while a :class:`orbsym.numeric.negf.SectorBatch` records its open-system
    quantities (scattering states, equilibrium, transmission); a sector that asked for none (the dense and
    Green's-function equilibrium engines) has its result already.  The recorded jobs of a group of sectors
    (outputs up to :data:`SECTOR_GROUP_BYTES`) are solved together (:func:`orbsym.numeric.negf.run_jobs`:
    with small blocks each NumPy call of a single sector did little work), and the sectors' code runs again,
    each call returning its solved job.  If the common solve fails (e.g. a lead's surface Green's function),
    the group's sectors are solved one by one, so that the error comes with its sector.
    """
    from . import negf

    out = [None] * len(kz)
    if not BATCH_SECTORS or len(kz) < 2:
        for i, k in enumerate(kz):
            out[i] = solve_sector(lattice.sector(k), k, pairs2)
        return out
    group, rec = [], negf.SectorBatch()

    def flush():
        nonlocal rec
        try:
            rec.run()
        except Exception:  # noqa: BLE001 - re-raised by the sector that fails, in its own context
            for i, sec, k in group:
                out[i] = solve_sector(sec, k, pairs2)
        else:
            with rec.replaying():
                for i, sec, k in group:
                    out[i] = solve_sector(sec, k, pairs2)
        group.clear()
        rec = negf.SectorBatch()

    for i, k in enumerate(kz):
        sec = lattice.sector(k)
        before = rec.recorded
        try:
            with rec.recording():
                sol = solve_sector(sec, k, pairs2)
        except Exception:  # noqa: BLE001 - the sector's code did not run on placeholders: solve it on its own
            rec.discard(before)
            out[i] = solve_sector(sec, k, pairs2)
            continue
        if rec.recorded == before:
            out[i] = sol  # no open-system solve: the result is final
            continue
        group.append((i, sec, k))
        if rec.nbytes() >= SECTOR_GROUP_BYTES:
            flush()
    if group:
        flush()
    return out


def solve_film(lattice, T, pairs=((0, 0, 0),), vectors=True, engine="dense", use_symmetry=True, workers=1, N_y="lattice", N_z="lattice", tol=1e-10, max_kz=4096, **options):
    """Solve a film sector by sector with a 2D engine and recombine its bands.

    Parameters
    ----------
    lattice : orbsym.numeric.Lattice
        A film (built with ``N_z``).
    T : float
        Temperature (units of t), ``T >= 0``.
    pairs : iterable of (dx, dy, dz)
        Film band offsets to form (:meth:`Lattice.offset_pairs`).
    vectors : bool
        False: free energy and particle number only.
    engine : {"dense", "greens"}
        2D engine of every sector (:func:`orbsym.numeric.solve_bloch`, :func:`orbsym.numeric.solve_greens`).
    use_symmetry : bool
        Solve only ``0 <= k_z <= pi`` when :attr:`Lattice.z_symmetric` (exact; for testing it).
    workers : int
        Dense engine: processes sharing each sector's k_y points.
    N_y : "lattice" or None
        None: ``N_y = infinity``, each sector's k_y integral (Green's function: poles and k
        sub-grids; dense: :func:`orbsym.numeric.infinite.solve_infinite` to ``tol``).
    N_z : "lattice" or None
        None: ``N_z = infinity``, the k_z integral ``(1 / 2 pi) int dk_z`` by the periodic trapezoid
        rule on doubling grids (8, 16, 32 ... points, each reusing the last), until the largest change
        of F, N and every band element is below ``tol`` (exponential convergence at ``T > 0``);
        ValueError beyond ``max_kz`` points.
    tol : float
        Absolute tolerance of the infinite k integrals (units of t per transverse cell for F).
    **options
        Passed to the sector engine (e.g. ``tol`` of the Green's-function engine).

    Returns
    -------
    FilmSolution
    """
    if engine not in ("dense", "greens"):
        from .checks import unknown_name

        raise unknown_name("film sector engine", engine, ("dense", "greens"))
    infinite_y = N_y is None
    cache = {}

    def one(sec, k, pairs2):
        key = float(k)
        if key in cache:
            return cache[key]
        if engine == "dense" and infinite_y:
            from .infinite import solve_infinite

            sol = _InfiniteSector(solve_infinite(sec, T, pairs2 if vectors else (), tol=tol))
        elif engine == "dense":
            from .bloch import solve_bloch

            if vectors:
                sol = solve_bloch(sec, T, pairs2, workers=workers, **options)
            else:
                sol = solve_bloch(sec, T, vectors=False, workers=workers, **options)
        else:
            from .greens import solve_greens

            sol = solve_greens(sec, T, pairs2 if vectors else (), vectors=vectors, N_y=None if infinite_y else "lattice", **options)
        cache[key] = sol
        return sol

    if engine == "greens" and BATCH_SECTORS:
        # every sector's Green's-function solve in common point batches (sectors x k_y x poles), filled into the
        # cache that ``one`` reads (the N_z = infinity doublings add only the new sectors)
        from .greens import solve_greens_sectors

        def prefill(n_cells):
            kz = k_points(n_cells, bool(use_symmetry and lattice.z_symmetric))[0]
            todo = [float(k) for k in kz if float(k) not in cache]
            if len(todo) > 1:
                secs = [lattice.sector(k) for k in todo]
                got = solve_greens_sectors(secs, T, sorted(sector_pairs(pairs)) if vectors else (), vectors=vectors,
                                           N_y=None if infinite_y else "lattice", **options)
                cache.update(zip(todo, got))
    else:
        def prefill(n_cells):
            return None

    Ny = None if infinite_y else lattice.N_y
    if N_z == "lattice" or N_z == lattice.N_z:
        prefill(lattice.N_z)
        bands, kz, wz, sols = sector_sum(lattice, one, pairs if vectors else (), use_symmetry)
        return FilmSolution(float(T), Ny, lattice.N_z, kz, wz, bands, engine, sols)
    if N_z is not None:
        raise ValueError(f"N_z must be 'lattice' or None (N_z = infinity), got {N_z!r}")
    M, last, change = 8, None, np.inf
    while True:
        prefill(M)
        bands, kz, wz, sols = sector_sum(lattice, one, pairs if vectors else (), use_symmetry, N_z=M)
        now = FilmSolution(float(T), Ny, None, kz, wz, bands, engine, sols)
        if last is not None:
            numbers = [abs(now._N - last._N)] if now._N is not None else []  # Green's-function F-only solves have no N
            change = max(
                [abs(now.free_energy() - last.free_energy())] + numbers + [float(np.abs(bands[p] - last.bands[p]).max(initial=0.0)) for p in bands]
            )
            if change <= tol:
                now.kz_error = change
                return now
        if 2 * M > max_kz:
            raise ValueError(
                f"the N_z = infinity k_z integral did not reach tol = {tol:g} with {M} k_z points (last change {change:.2g}); "
                "use T > 0 (the integrand is smooth only at T > 0), a larger tol, or a finite N_z"
            )
        last, M = now, 2 * M


class _InfiniteSector:
    """:class:`orbsym.numeric.infinite.InfiniteSolution` of one sector with the engines' method interface."""

    def __init__(self, solution):
        self.solution = solution
        self.bands = solution.bands
        self.error = solution.error
        self.points = solution.evaluations

    def free_energy(self, per_row=True):
        return self.solution.free_energy

    def particle_number(self, per_row=True):
        return self.solution.particle_number


@dataclass
class FilmKuboSolution:
    """Result of :func:`solve_film_kubo`: response bands per part (:class:`orbsym.numeric.kubo.KuboSolution` layout).

    Attributes
    ----------
    field : {"y", "z"}
        Direction of the field.
    bands : dict
        ``{part: {(dx, dy, dz): ndarray (N_x, dim, dim)}}`` per unit ``q E``.
    """

    T: float
    eta: float
    N_y: int
    N_z: int
    field: str
    k_z: np.ndarray
    weights: np.ndarray
    bands: dict
    sectors: list = field(repr=False, default_factory=list)


def solve_film_kubo(lattice, T, eta, pairs, field="y", parts=("fermi_surface", "fermi_sea", "drive"), use_symmetry=True):
    """Linear response of a film to a static field ``E_y`` or ``E_z`` (:func:`orbsym.numeric.kubo.solve_kubo` per sector).

    ``E_y``: each sector's own ``v = dh/dk_y``; ``E_z``: ``v = dh/dk_z`` from the derivative sector
    (:meth:`Lattice.sector` with ``derivative=True``).  Both are uniform fields, diagonal in
    ``(k_y, k_z)``, so the film's response is exactly the sum of the sectors' responses.
    ``E_z`` makes the response odd under ``k_z -> -k_z`` (parity ``-1`` in :func:`sector_sum`).
    """
    from .kubo import solve_kubo

    if field not in ("y", "z"):
        from .checks import unknown_name

        raise unknown_name("field direction of a film", field, ("y", "z"))

    def one(sec, k, pairs2):
        vel = lattice.sector(k, derivative=True) if field == "z" else None
        return solve_kubo(sec, T, eta, pairs2, parts=parts, velocity=vel)

    bands, kz, wz, sols = sector_sum(lattice, one, pairs, use_symmetry, parity=-1 if field == "z" else 1)
    return FilmKuboSolution(float(T), float(eta), lattice.N_y, lattice.N_z, field, kz, wz, bands, sols)
