"""Real time on site lattices: quenches, on-site drives and relaxation of a :class:`SiteLattice`.

:func:`evolve_sites` starts from the thermal state of a :class:`~orbsym.numeric.sites.SiteLattice` and
propagates the one-body density matrix of every momentum block of its slice chain
(:attr:`SiteLattice.slices`), then records at every requested time the per-site and per-bond
observables of :class:`~orbsym.numeric.sites.SiteObservables` and checks the exact per-site balance.
NumPy only (xarray is imported when the Dataset is built).

State and momentum blocks
-------------------------
Every drive offered here is uniform along the periodic directions, so the momentum blocks never mix:

* transverse dimension 1 (periodic y): one block per super-row momentum ``K = 2 pi j / (N_y / m_y)``;
* films (periodic y and z): one block per ``(k_z, K)``, ``k_z = 2 pi l / N_z`` (the k_z sector
  :meth:`orbsym.numeric.Lattice.sector` of the slice chain, then its ``K``);
* finite samples (dimension 0): the single block (the whole sample).

Each block holds ``rho_k`` (``(n, n)``, ``n = n_slices D``, rows ``X D + i`` in the slice order of
:mod:`orbsym.numeric.sites`) with ``rho_k[b, a] = <c^dag_{a,k} c_{b,k}>`` (``rho = G^T``), exactly as
:mod:`orbsym.numeric.evolution`; the full grid is used (no ``k -> -k`` reduction).  The correlation
bands of the slice chain follow as in :func:`orbsym.numeric.evolution.correlation_bands`, and for films
``G(X, X+dX; dY, dz) = N_z^-1 sum_{k_z} e^{i k_z dz} G_{k_z}(X, X+dX; dY)`` (:mod:`orbsym.numeric.film`).

Equation of motion (hbar = 1, time in units of 1/t)
---------------------------------------------------
::

    h_k(t) = h'_k + V(t),        d rho_k/dt = -i [h_k(t), rho_k] - eta (rho_k - f(h_k(t)))          (1)

* ``h'`` is the Hamiltonian of ``quench`` (a SiteLattice of the same geometry; default: the lattice
  itself): the sudden quench happens at ``t = 0``, the initial state is ``rho_k(0) = f(h_k)`` of
  ``site_lattice`` at temperature ``T`` (``mu`` inside the on-site matrices).
* ``V(t)`` is the on-site drive (``onsite_drive(t)``), block diagonal in the sites, the same in every
  momentum block; it is on from ``t = 0`` on.
* ``eta`` (``relaxation``, a rate in units of ``t/hbar``; None: off) is the relaxation-time model of
  Eq. (1) of :mod:`orbsym.numeric.evolution` with ``eta = 1/tau_r``: every block relaxes toward the
  instantaneous equilibrium ``f(h_k(t))`` at the bath's ``T``.  It does not conserve the particle
  number.

Propagators
-----------
* Without a drive ``h`` is constant after the quench and Eq. (1) is solved exactly by the
  eigen-decomposition ``h'_k = Q E Q^dag``: ``r = Q^dag rho Q``, ``r_ab(t) = F_a delta_ab +
  e^{-eta t} (r_ab(0) - F_a delta_ab) e^{-i (E_a - E_b) t}`` (``F = f(E)``; ``eta = 0`` without
  relaxation).  Any time, no step.
* With a drive: the exponential midpoint rule of :func:`orbsym.numeric.evolution.step` (method
  ``"exact"``): ``rho -> U rho U^dag``, ``U = exp(-i h(t + dt/2) dt)`` by a batched ``eigh`` of the
  Hermitian midpoint Hamiltonian; with relaxation the step solves (1) exactly for ``h`` frozen at the
  midpoint.  Global error ``O(dt^2)`` (second order); ``steps_per_interval`` equal steps between
  consecutive requested times (and from 0 to the first).

Records and balance
-------------------
At every requested time the correlation bands of the state (pairs of the observed lattice, ``quench``
or ``site_lattice``) give a :class:`~orbsym.numeric.sites.SiteObservables`, from which per polarization
(charge, J_x, J_y, J_z): densities per site, bond currents and hopping torques per bond, the
slice-boundary currents, the divergence ``div j`` and the torque ``tau`` per site (on-site torque of
``h'`` plus the drive's ``i <c^dag [V, J] c>`` plus the bonds' sources).  Independently, the exact rate
``d<J_i>/dt|_h = Tr(rho i[h(t), J_i]) = -2 Im Tr(J_i (rho h)_ii)`` is formed from the matrices of every
block (no kernel).  The balance ``rate = -div j + tau`` is exact; a residual above
``tol * max(1, largest term)`` raises :class:`SiteContinuityError`.  With relaxation the full derivative
is ``d<J_i>/dt = rate + relaxation``, ``relaxation_i = -eta (<J_i> - <J_i>_eq)`` (recorded).
"""

from __future__ import annotations

import json

import numpy as np

from . import evolution as ev
from .budget import check_resources, evolve_estimate
from .checks import integer_at_least, real_number
from .sites import SiteLattice, SiteObservables, _matrix
from .thermo import check_temperature, fermi, zero_level_tolerance

__all__ = ["evolve_sites", "estimate_sites_evolution", "SiteContinuityError", "PROPAGATORS", "PROPAGATOR_ORDER", "BALANCE_RTOL"]

#: Propagators: the exact eigen-decomposition of a constant ``h`` (no drive) and the midpoint rule.
PROPAGATORS = ("exact eigen-decomposition", "exponential midpoint")
#: Global error order in the time step of the midpoint rule.
PROPAGATOR_ORDER = 2
#: Default tolerance of the exact balance, relative to ``max(1, largest term)``.
BALANCE_RTOL = 1e-10

_POLS = (None, "x", "y", "z")
_POL_LABELS = ("charge", "x", "y", "z")


class SiteContinuityError(ArithmeticError):
    """The per-site balance ``d<J_i>/dt = -div j + tau`` of a site-lattice run is off (a broken
    propagation or bookkeeping, never bad input)."""


# ---------------------------------------------------------------------------------------------- blocks
class _Blocks:
    """The momentum blocks of a SiteLattice's slice chain (see the module docstring)."""

    def __init__(self, lat):
        self.lat = lat
        self.P, self.D = lat.n_slices, lat.slice_states
        self.n = self.P * self.D
        self.Ny = lat.slice_N_y
        self.ky = 2 * np.pi * np.arange(self.Ny) / self.Ny
        self.wy = np.ones(self.Ny)
        if lat.transverse_dimension == 2:
            self.kz = 2 * np.pi * np.arange(lat.N_z) / lat.N_z
        else:
            self.kz = None
        self.nk = self.Ny * (1 if self.kz is None else self.kz.size)

    def hamiltonians(self, lat):
        """``h_k`` of ``lat`` (same geometry) for every block, ``(n_k, n, n)`` (k_z-major for films)."""
        if self.kz is None:
            return ev.hamiltonians(lat.slices, self.ky)
        return np.concatenate([ev.hamiltonians(lat.slices.sector(k), self.ky) for k in self.kz])

    def bands(self, rho, pairs):
        """Correlation bands ``{pair: (n_slices, D, D)}`` of the slice chain for ``pairs``."""
        if self.kz is None:
            return ev.correlation_bands(rho, self.ky, self.wy, self.Ny, self.P, self.D, pairs)
        from .film import sector_pairs

        split = sector_pairs(pairs)
        out = {(dx, dy, dz): np.zeros((self.P, self.D, self.D), complex) for (dx, dy), dzs in split.items() for dz in dzs}
        r = rho.reshape(self.kz.size, self.Ny, self.n, self.n)
        for iz, k in enumerate(self.kz):
            b2 = ev.correlation_bands(r[iz], self.ky, self.wy, self.Ny, self.P, self.D, sorted(split))
            for (dx, dy), dzs in split.items():
                for dz in dzs:
                    out[dx, dy, dz] += np.exp(1j * k * dz) / self.kz.size * b2[dx, dy]
        return out

    def site_slots(self, s):
        """Where site ``s`` sits in the slices: list of ``(a, b, r, xs, Xs)`` (x-cells ``xs = Xs m_x + a``,
        row ``b``, first state ``r`` inside the slice)."""
        lat = self.lat
        mx, W, nc = lat.merge_x, lat.rows, lat.cell_dim
        Xs = np.arange(self.P)
        return [(a, b, (a * W + b) * nc + int(lat.site_offsets[s]), Xs * mx + a, Xs) for a in range(mx) for b in range(W)]


# ---------------------------------------------------------------------------------------------- checks
def _check_times(times):
    try:
        t = np.array(times, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"times must be a sequence of real numbers (units of hbar/t), got {times!r}") from None
    if np.iscomplexobj(np.asarray(times)) or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"times must be a non-empty sequence of finite real numbers (units of hbar/t), got {times!r}")
    if t[0] < 0:
        raise ValueError(f"times must be >= 0 (the run starts at t = 0 from the thermal state), got the first time {t[0]!r}")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        i = int(np.nonzero(np.diff(t) <= 0)[0][0])
        raise ValueError(f"times must be strictly increasing, got times[{i}] = {t[i]!r} followed by times[{i + 1}] = {t[i + 1]!r}")
    return t


def _check_quench(lat, quench):
    if quench is None:
        return lat
    if not isinstance(quench, SiteLattice):
        raise TypeError(f"quench must be a SiteLattice of the same geometry as site_lattice, got {type(quench).__name__}")
    a, b = lat, quench
    same = (
        a.N_x == b.N_x and a.transverse_dimension == b.transverse_dimension and a.N_y == b.N_y and a.N_z == b.N_z
        and a.width == b.width and a.names == b.names and np.array_equal(a.orbitals, b.orbitals)
        and all(np.allclose(s.position, t.position) for s, t in zip(a.sites, b.sites)) and np.allclose(a.vectors, b.vectors)
        and a.merge_x == b.merge_x and a.merge_y == b.merge_y and np.array_equal(a.vacant, b.vacant)
    )
    if not same:
        da, db = a.describe(), b.describe()
        keys = [k for k in ("N_x", "transverse_dimension", "width", "N_y", "N_z", "sites", "merge_x", "merge_y", "vacancies") if da.get(k) != db.get(k)]
        if not keys:
            keys = ["cell vectors or vacancy positions"]
        raise ValueError(
            f"quench must be a SiteLattice of the same geometry as site_lattice (same cells, sites, transverse group, slice "
            f"merge and vacancies; on-site and hopping matrices may differ); they differ in {', '.join(keys)}: "
            + "; ".join(f"{k}: {da.get(k)!r} -> {db.get(k)!r}" for k in keys if k in da or k in db)
        )
    return quench


class _Drive:
    """The on-site drive ``V(t)``: ``onsite_drive(t) -> {key: matrix}`` turned into slice blocks.

    Keys: a site (name or index) with an ``(n, n)`` matrix (every cell) or an ``(N_x, n, n)`` array (per
    x-cell, e.g. only the magnetic layers); finite samples also ``(x, y, site)`` with ``(n, n)``.  The
    drive is zero at vacancies (their states stay decoupled).
    """

    def __init__(self, fn, blocks):
        if not callable(fn):
            raise TypeError(f"onsite_drive must be a callable t -> {{site or (x, y, site): matrix}}, got {type(fn).__name__}")
        self.fn, self.B, self.lat = fn, blocks, blocks.lat

    def cells(self, t):
        """``{site index: (N_x, rows, n, n)}`` of ``V(t)`` (only the driven sites)."""
        lat = self.lat
        val = self.fn(t)
        if not isinstance(val, dict):
            raise TypeError(f"onsite_drive(t) must return a dict {{site or (x, y, site): matrix}}, got {type(val).__name__} at t = {t!r}")
        out = {}
        for key, M in val.items():
            if isinstance(key, tuple):
                if lat.transverse_dimension != 0:
                    raise ValueError(
                        f"onsite_drive key {key!r}: (x, y, site) keys are for finite samples (width=...); a periodic lattice keeps "
                        "its translation symmetry: give a site with an (n, n) matrix or an (N_x, n, n) array per x-cell"
                    )
                x, y, s = lat._cell(key, "onsite_drive")
                n = lat.orbitals[s]
                A = _matrix(f"onsite_drive(t)[{key!r}] at t = {t!r}", M, (n, n))
                if lat.vacant[x, y, s]:
                    raise ValueError(f"onsite_drive key {key!r} drives a vacancy (SiteLattice vacancies): a removed site has no state to drive")
                cur = out.setdefault(s, np.zeros((lat.N_x, lat.rows, n, n), complex))
                cur[x, y] += A
                continue
            s = lat._site_index(key)
            n = lat.orbitals[s]
            A = _matrix(f"onsite_drive(t)[{key!r}] at t = {t!r}", M)
            if A.shape == (n, n):
                A = np.broadcast_to(A, (lat.N_x, n, n))
            elif A.shape != (lat.N_x, n, n):
                raise ValueError(f"onsite_drive(t)[{key!r}] has shape {A.shape}, expected ({n}, {n}) or (N_x, {n}, {n}) = ({lat.N_x}, {n}, {n})")
            cur = out.setdefault(s, np.zeros((lat.N_x, lat.rows, n, n), complex))
            cur += A[:, None]
        for s, A in out.items():
            if not np.allclose(A, np.swapaxes(A, -1, -2).conj(), rtol=0, atol=1e-12 * max(1.0, float(np.abs(A).max()))):
                raise ValueError(f"onsite_drive(t) at t = {t!r} gives a non-Hermitian matrix for site {lat.names[s]!r}")
            A[lat.vacant[:, :, s]] = 0
        return out

    def matrix(self, cells):
        """Block-diagonal ``V`` of the whole slice chain, ``(n, n)``."""
        B = self.B
        V = np.zeros((B.P, B.D, B.P, B.D), complex)
        for s, A in cells.items():
            n = self.lat.orbitals[s]
            for a, b, r, xs, Xs in B.site_slots(s):
                V[Xs, r : r + n, Xs, r : r + n] = A[xs, b]
        return V.reshape(B.n, B.n)


# ---------------------------------------------------------------------------------------------- estimate
def estimate_sites_evolution(site_lattice, n_times, n_steps=0, relaxation=False):
    """Resource estimate of :func:`evolve_sites` (:func:`orbsym.numeric.budget.evolve_estimate` with one
    block per momentum of the slice chain, ``n = n_slices D`` states per block).

    ``n_steps`` is the total number of midpoint steps (0: the exact path, one eigen-decomposition).
    """
    lat = site_lattice
    nk = lat.slice_N_y * (lat.N_z or 1)
    return evolve_estimate(lat.n_slices, nk, lat.slice_states, n_times=n_times, n_steps=max(1, n_steps), path="eigh",
                           symmetric=False, relaxation=bool(relaxation), n_pairs=len(lat.pairs))


# ---------------------------------------------------------------------------------------------- records
def _exact_rates(B, rho, h):
    """``Tr(rho i[h, J])`` per slice state block: ``-2 Im Tr(J_X A_X)``, ``A_X = <(rho h)_XX>_k``.

    Returns the block average ``A`` ``(n_slices, D, D)``; the per-site rates are read from it."""
    rows = rho.reshape(B.nk, B.P, B.D, B.n)
    cols = h.reshape(B.nk, B.n, B.P, B.D).transpose(0, 2, 1, 3)
    return np.matmul(rows, cols).mean(axis=0)


def _per_site(B, A, Js, obs):
    """``-2 Im Tr(J_s A_site)`` per site, ``(N_x, rows, n_sites)`` -> per transverse cell (``obs._per_cell``)."""
    lat = B.lat
    out = np.zeros((lat.N_x, lat.rows, len(lat.sites)))
    for s, n in enumerate(lat.orbitals):
        J = Js[s]
        for a, b, r, xs, Xs in B.site_slots(s):
            out[xs, b, s] = -2 * np.einsum("xca,xac->x", J[xs], A[Xs, r : r + n, r : r + n]).imag
    out[lat.vacant] = 0.0
    return obs._per_cell(out)


def _drive_torque(obs, cells, pol):
    """``i <c_i^dag [V_i, J_i] c_i>`` per site (the drive's on-site torque), ``(N_x, rows', n_sites)``."""
    lat = obs.lattice
    out = np.zeros((lat.N_x, lat.rows, len(lat.sites)))
    for s, V in cells.items():
        J = obs._J(s, pol)[:, None]
        K = 1j * (V @ J - J @ V)
        out[:, :, s] = np.einsum("xrab,xrab->xr", K, obs._diag_blocks(s)).real
    return obs._per_cell(out)


def _j_matrices(obs, pol):
    return [np.asarray(obs._J(s, pol)) for s in range(len(obs.lattice.sites))]


# ---------------------------------------------------------------------------------------------- driver
def evolve_sites(site_lattice, T, times, quench=None, onsite_drive=None, relaxation=None, steps_per_interval=16,
                 check=True, tol=BALANCE_RTOL):
    """Propagate the thermal state of a site lattice in real time and record per-site observables.

    Parameters
    ----------
    site_lattice : SiteLattice
        The lattice whose thermal state at ``T`` is the initial state (any transverse dimension).
    T : float
        Temperature (units of t), ``>= 0``; also the bath temperature of the relaxation.
    times : sequence of float
        Recorded times (units of ``hbar/t``), strictly increasing, ``>= 0`` (``0``: the initial state,
        observed with the post-quench Hamiltonian).
    quench : SiteLattice, optional
        Hamiltonian from ``t = 0`` on (sudden quench): same geometry (cells, sites, transverse group,
        slice merge, vacancies), other on-site or hopping matrices.  Default: ``site_lattice``.
    onsite_drive : callable, optional
        ``onsite_drive(t) -> {key: matrix}`` added to the on-site matrices at time ``t`` (units of t):
        key a site (name or index) with an ``(n, n)`` matrix for every cell or an ``(N_x, n, n)`` array per
        x-cell; finite samples also ``(x, y, site)``.  Hermitian; zero at vacancies.  Propagated with the
        exponential midpoint rule (second order).
    relaxation : float, optional
        Relaxation rate ``eta > 0`` (units of ``t/hbar``) toward ``f(h(t))`` (Eq. (1) of the module
        docstring); None: none.
    steps_per_interval : int
        Midpoint steps between consecutive recorded times (and from 0 to the first); the global error
        is ``O((interval / steps_per_interval)^2)``.  Unused without a drive (exact propagation).
    check : bool
        Raise :class:`SiteContinuityError` when the per-site balance is off by more than ``tol``.
    tol : float
        Relative tolerance of the balance (``residual <= tol * max(1, largest rate or term)``).

    Returns
    -------
    xarray.Dataset
        Dimensions ``time``, ``polarization`` (``"charge", "x", "y", "z"``), ``x`` (x-cells), ``row`` (the
        ``width`` cells of a finite sample; one entry, per transverse cell, otherwise), ``site`` (names),
        ``bond`` (the hoppings, labelled ``start->end(offset)``, by start cell), ``boundary`` (between x-cells
        ``x`` and ``x + 1``).  Variables: ``density``, ``rate`` (exact ``Tr(rho i[h, J])``), ``divergence``,
        ``torque``, ``drive_torque``, ``residual`` (``rate + div j - tau``), ``relaxation`` (with
        ``relaxation``), ``current``, ``source``, ``boundary_current``, ``particle_number``, ``present``; each
        with ``units`` and ``description``.  ``attrs``: ``max_abs_residual``, ``balance_scale``,
        ``propagator``, ``propagator_order``, ``steps_per_interval``, ``T``, ``relaxation``, ``lattice`` (JSON).

    Raises
    ------
    ValueError
        Bad input (times not strictly increasing or negative, negative ``T``, a quench of another geometry,
        bad drive keys or matrices), or :class:`orbsym.numeric.budget.ResourceError` (a ValueError) with the
        estimate when the run does not fit the memory/time limits.
    SiteContinuityError
        The per-site balance is off (with ``check``).

    Notes
    -----
    Units: ``hbar = 1``; densities in units of ``J`` (charge: particles), currents, torques and rates in
    ``J t / hbar``; per transverse cell in dimensions 1 and 2, of the whole width (per row) in dimension 0.
    The particle number is per transverse cell (dimension 0: of the whole sample).
    """
    if not isinstance(site_lattice, SiteLattice):
        raise TypeError(f"site_lattice must be a SiteLattice, got {type(site_lattice).__name__}")
    T = check_temperature(T)
    t_rec = _check_times(times)
    obs_lat = _check_quench(site_lattice, quench)
    eta = real_number("relaxation", relaxation, minimum=0.0, strict=True, allow_none=True)
    nsteps = integer_at_least("steps_per_interval", steps_per_interval, 1, " (midpoint steps between recorded times)")
    tol = real_number("tol", tol, minimum=0.0, strict=True)
    driven = onsite_drive is not None
    total_steps = nsteps * t_rec.size if driven else 0
    check_resources(
        estimate_sites_evolution(obs_lat, t_rec.size, total_steps, eta is not None),
        what=f"the real-time run of this SiteLattice ({t_rec.size} times" + (f", {total_steps} midpoint steps)" if driven else ", exact propagation)"),
        hint="use fewer cells, a coarser k grid, fewer times or fewer steps",
    )

    B = _Blocks(obs_lat)
    drive = _Drive(onsite_drive, B) if driven else None
    rho = ev.equilibrium_state(B.hamiltonians(site_lattice), T)
    H = B.hamiltonians(obs_lat) if obs_lat is not site_lattice else None
    if H is None:
        H = B.hamiltonians(site_lattice)
    pairs = obs_lat.pairs

    def h_at(t, cells=None):
        if drive is None:
            return H
        V = drive.matrix(drive.cells(t) if cells is None else cells)
        return H + V[None]

    # exact path: eigen-decomposition of the constant post-quench h
    if not driven:
        E, Q = np.linalg.eigh(H)
        QH = Q.conj().transpose(0, 2, 1)
        r0 = QH @ rho @ Q
        F = fermi(E, T, zero_level_tolerance(E)) if eta is not None else None

    recs = {k: [] for k in ("density", "rate", "divergence", "torque", "drive_torque", "relaxation", "current", "source", "boundary_current")}
    t_prev = 0.0
    for t in t_rec:
        if driven:
            if t > t_prev:
                rho = ev.propagate(rho, h_at, t_prev, t, nsteps, "exact", T, None if eta is None else 1.0 / eta)
            t_prev = t
            cells = drive.cells(t)
            h = h_at(t, cells)
        else:
            ph = np.exp(-1j * t * E)
            r = r0.copy()
            if eta is not None:
                idx = np.arange(E.shape[1])
                r[:, idx, idx] -= F
                r *= np.exp(-eta * t)
            r *= ph[:, :, None] * ph.conj()[:, None, :]
            if eta is not None:
                r[:, idx, idx] += F
            rho = ev.hermitize(Q @ r @ QH)
            cells, h = {}, H
        obs = SiteObservables(obs_lat, B.bands(rho, pairs))
        A = _exact_rates(B, rho, h)
        eq_obs = None
        if eta is not None:
            eq_obs = SiteObservables(obs_lat, B.bands(ev.equilibrium_state(h, T), pairs))
        per = {k: [] for k in recs}
        for pol in _POLS:
            dens = obs.density(pol)
            dtq = _drive_torque(obs, cells, pol)
            per["density"].append(dens)
            per["rate"].append(_per_site(B, A, _j_matrices(obs, pol), obs))
            per["divergence"].append(obs.divergence(pol))
            per["torque"].append(obs.torque(pol) + dtq)
            per["drive_torque"].append(dtq)
            per["relaxation"].append(-eta * (dens - eq_obs.density(pol)) if eta is not None else np.zeros_like(dens))
            per["current"].append(obs.current(pol))
            per["source"].append(obs.source(pol))
            per["boundary_current"].append(obs.boundary_current(pol))
        for k in recs:
            recs[k].append(np.stack(per[k]))
        present = obs.present()
    R = {k: np.stack(v) for k, v in recs.items()}
    residual = R["rate"] + R["divergence"] - R["torque"]
    worst = float(np.abs(residual).max(initial=0.0))
    scale = max(float(np.abs(R[k]).max(initial=0.0)) for k in ("rate", "divergence", "torque"))
    if check and worst > tol * max(1.0, scale):
        t_bad = float(t_rec[np.unravel_index(np.argmax(np.abs(residual)), residual.shape)[0]])
        raise SiteContinuityError(
            f"the per-site balance d<J>/dt = -div j + tau is off by {worst:.3g} at t = {t_bad:g} (largest term {scale:.3g}, "
            f"tolerance {tol:g} relative): the propagation or its bookkeeping is inconsistent"
        )
    return _dataset(obs_lat, t_rec, R, residual, present, worst, scale, T, eta, driven, nsteps)


def _dataset(lat, t_rec, R, residual, present, worst, scale, T, eta, driven, nsteps):
    import xarray as xr

    rows = R["density"].shape[3]
    site_dims = ("time", "polarization", "x", "row", "site")
    bond_dims = ("time", "polarization", "bond", "x", "row")
    per = "per transverse cell" if lat.transverse_dimension >= 1 else "per cell of the finite sample"
    rate_u = "J t/hbar (charge: particles t/hbar)"

    def var(dims, data, units, desc):
        return xr.Variable(dims, data, attrs={"units": units, "description": desc})

    data = {
        "density": var(site_dims, R["density"], "J (hbar for L; charge: particles)", f"<c_i^dag J c_i> per site, {per}"),
        "rate": var(site_dims, R["rate"], rate_u, "exact Hamiltonian rate Tr(rho i[h(t), J_i]) per site, from the matrices of every k block"),
        "divergence": var(site_dims, R["divergence"], rate_u, "div_i j: sum of the bond currents leaving site i minus those entering it"),
        "torque": var(site_dims, R["torque"], rate_u, "tau_i: on-site torque of h (drive included) plus the hopping torques (sources) of the bonds at i"),
        "drive_torque": var(site_dims, R["drive_torque"], rate_u, "i <c_i^dag [V_i(t), J_i] c_i>: the on-site drive's part of tau_i"),
        "residual": var(site_dims, residual, rate_u, "rate + div j - tau (zero to rounding: the exact per-site balance)"),
        "current": var(bond_dims, R["current"], rate_u, f"bond current (eom_end - eom_start)/2 from start to end site, by start cell, {per}"),
        "source": var(bond_dims, R["source"], rate_u, "hopping torque (eom_start + eom_end)/2 of every bond, given to each end site"),
        "boundary_current": var(("time", "polarization", "boundary"), R["boundary_current"], rate_u,
                                "current through the boundary between x-cells x and x+1: the sum over every bond crossing it"),
        "particle_number": var(("time",), R["density"][:, 0].sum(axis=(1, 2, 3)), "particles",
                               "total particle number " + ("per transverse cell" if lat.transverse_dimension >= 1 else "of the sample")),
        "present": var(("bond", "x", "row"), present, "1", "the bond exists (both ends inside the sample, no vacancy)"),
    }
    if eta is not None:
        data["relaxation"] = var(site_dims, R["relaxation"], rate_u, "-eta (<J_i> - <J_i>_eq), <.>_eq in f(h(t)): the bath's source; d<J_i>/dt = rate + relaxation")
    bonds = [f"{lat.names[i]}->{lat.names[j]}{tuple(int(v) for v in off)}" for i, j, off, _ in lat.hoppings]
    coords = {
        "time": var(("time",), t_rec, "hbar/t", "recorded time"),
        "polarization": ("polarization", list(_POL_LABELS)),
        "x": ("x", np.arange(lat.N_x)),
        "row": ("row", np.arange(rows)),
        "site": ("site", list(lat.names)),
        "bond": ("bond", bonds),
        "boundary": ("boundary", np.arange(max(lat.N_x - 1, 0))),
    }
    attrs = {
        "max_abs_residual": worst,
        "balance_scale": scale,
        "propagator": PROPAGATORS[1] if driven else PROPAGATORS[0],
        "propagator_order": PROPAGATOR_ORDER if driven else 0,
        "steps_per_interval": nsteps if driven else 0,
        "T": T,
        "relaxation": float(eta) if eta is not None else 0.0,
        "lattice": json.dumps(lat.describe()),
        "units": "hbar = 1; energies in t, times in hbar/t",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
