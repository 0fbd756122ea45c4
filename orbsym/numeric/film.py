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
    N_y: int
    N_z: int
    k_z: np.ndarray
    weights: np.ndarray
    bands: dict
    engine: str
    sectors: list = field(repr=False, default_factory=list)

    def _average(self, fn):
        return float(sum(w * fn(s) for w, s in zip(self.weights, self.sectors)) / self.N_z)

    def free_energy(self, per_row=True):
        """Grand potential (Eq. 13) per transverse cell (default) or in total (units of t)."""
        F = self._average(lambda s: s.free_energy(per_row=True))
        return F if per_row else F * self.N_y * self.N_z

    def particle_number(self, per_row=True):
        """Electrons per transverse cell (default) or in total."""
        n = self._average(lambda s: s.particle_number(per_row=True))
        return n if per_row else n * self.N_y * self.N_z

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


def sector_sum(lattice, solve_sector, pairs, use_symmetry=True, parity=1):
    """Run ``solve_sector(sector, k_z, pairs2)`` on every k_z sector of a film and recombine its bands.

    ``solve_sector`` returns an object with ``bands``: either ``{(dx, dy): array}`` or
    ``{part: {(dx, dy): array}}``.  The film bands are ``N_z^{-1} sum_{k_z} e^{i k_z dz} G_{k_z}``;
    on the half grid (:attr:`Lattice.z_symmetric`) the sector at ``-k_z`` contributes
    ``parity * G_{k_z}`` (``+1``: equilibrium and responses to fields in the x-y plane; ``-1``: a
    response to ``E_z``, odd in ``k_z``), i.e. ``cos(k_z dz)`` or ``i sin(k_z dz)``.

    Returns
    -------
    (bands, k_z, weights, sector results)
        ``bands`` keyed ``(dx, dy, dz)`` (or ``{part: ...}`` like the sector results).
    """
    if not getattr(lattice, "is_film", False):
        raise ValueError("this solve needs a film: a Lattice built with N_z (models with (dx, dy, dz) offsets)")
    symmetric = bool(use_symmetry and lattice.z_symmetric)
    kz, wz = k_points(lattice.N_z, symmetric)
    split = sector_pairs(pairs)
    pairs2 = sorted(split)
    N, d = lattice.N_x, lattice.dim
    empty = lambda: {(dx, dy, dz): np.zeros((N, d, d), complex) for (dx, dy), dzs in split.items() for dz in dzs}  # noqa: E731
    bands, sols = None, []
    for k, w in zip(kz, wz):
        sol = solve_sector(lattice.sector(k), k, pairs2)
        sols.append(sol)
        parted = bool(sol.bands) and isinstance(next(iter(sol.bands.values())), dict)
        groups = sol.bands if parted else {None: sol.bands}
        if bands is None:
            bands = {part: empty() for part in groups}
        for part, b2 in groups.items():
            for (dx, dy), dzs in split.items():
                g = b2[(dx, dy)]
                for dz in dzs:
                    if symmetric:
                        phase = w * (np.cos(k * dz) if parity == 1 else 1j * np.sin(k * dz)) / lattice.N_z
                    else:
                        phase = w * np.exp(1j * k * dz) / lattice.N_z
                    bands[part][(dx, dy, dz)] += phase * g
    if bands is None or set(bands) == {None}:
        bands = empty() if bands is None else bands[None]
    return bands, kz, wz, sols


def solve_film(lattice, T, pairs=((0, 0, 0),), vectors=True, engine="dense", use_symmetry=True, workers=1, **options):
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
    **options
        Passed to the sector engine (e.g. ``tol`` of the Green's-function engine).

    Returns
    -------
    FilmSolution
    """
    if engine not in ("dense", "greens"):
        from .checks import unknown_name

        raise unknown_name("film sector engine", engine, ("dense", "greens"))

    def one(sec, k, pairs2):
        if engine == "dense":
            from .bloch import solve_bloch

            if vectors:
                return solve_bloch(sec, T, pairs2, workers=workers, **options)
            return solve_bloch(sec, T, vectors=False, workers=workers, **options)
        from .greens import solve_greens

        return solve_greens(sec, T, pairs2 if vectors else (), vectors=vectors, **options)

    bands, kz, wz, sols = sector_sum(lattice, one, pairs if vectors else (), use_symmetry)
    return FilmSolution(float(T), lattice.N_y, lattice.N_z, kz, wz, bands, engine, sols)


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
