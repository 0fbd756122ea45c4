"""Steady-state transport through a :class:`~orbsym.numeric.sites.SiteLattice` between semi-infinite leads.

The scattering region is the slice chain of a :class:`~orbsym.numeric.sites.SiteLattice`
(``lattice.slices``: ``P`` slices of ``D`` states, each coupled to the next only); a semi-infinite lead is
attached to slice 0 (left) and to slice ``P - 1`` (right).  Every transverse group of the site lattice is
supported:

* transverse dimension 0 (finite width): one block, ``k = 0`` only (the slice is the whole width);
* dimension 1 (periodic y): per super-row momentum ``K = 2 pi j / (N_y / m_y)`` of the slice chain;
* dimension 2 (films): per ``k_z`` sector (:meth:`orbsym.numeric.Lattice.sector`) and ``K``, recombined by
  :func:`orbsym.numeric.film.sector_sum` (only ``0 <= k_z <= pi`` when region and leads are even in k_z).

Leads (:class:`SiteLead`)
-------------------------
A lead is the periodic continuation of one slice ``X`` of a site lattice: the lead cell is the slice's
on-site block ``h_XX(K)`` and two lead cells couple like two neighbouring slices of that lattice,
``h_01(K) = t_(1,0) + t_(1,1) e^{iK} + t_(1,-1) e^{-iK}`` of the slice pair ``(X, X + 1)`` (left lead) or
``(X - 1, X)`` (right lead): the bonds that exist inside the lattice (a bond starting in the last slice
leaves the sample, so the last slice's own outgoing bonds are not defined there).  By default the left
lead continues slice 0 of the region and the right lead its last slice; any other site lattice's slice
with the same slice size and transverse group may be given.  The lead couples to the region's end slice
with its own ``h_01``, exactly as between two of its own cells: ``Sigma_L = h_01^dag g_L h_01``,
``Sigma_R = h_01 g_R h_01^dag`` (:mod:`orbsym.numeric.leads`).  Surface Green's functions: decimation
with the eigenmode fallback of :mod:`orbsym.numeric.leads` (a :class:`~orbsym.numeric.leads.SurfaceGreenError`
propagates with its message, the sector added).  A vacancy repeated in a lead slice is a flat band of
decoupled states at :data:`orbsym.numeric.sites.VACANCY_ENERGY` in the lead: energies right at it are
singular for the lead (prefer lead slices without vacancies).

Steady state (the rules of :mod:`orbsym.numeric.negf` and :mod:`orbsym.transport`)
---------------------------------------------------------------------------------
The region and its leads form a :class:`~orbsym.numeric.negf.OpenSystem` (per k_z sector for films).
With ``A_a = G^r Gamma_a G^a`` the spectral function of the states injected from lead ``a`` and the
chemical potentials of :mod:`orbsym.conventions` ("Transport") with ``s = 1/2``,
``mu_L = mu + V/2``, ``mu_R = mu - V/2``:

* linear response (``bias=None``), per unit bias, ``T >= 0``::

      d rho / dV = int dE (-f'(E - mu)) [A_L / 2 - A_R / 2] / 2pi       (part ``"response"``),

  with :func:`~orbsym.numeric.negf.fermi_derivative_rule` (``E = mu`` at ``T = 0``); the equilibrium state
  ``rho_eq(mu, T)`` (bound states included, :meth:`OpenSystem.equilibrium_blocks`) is part ``"equilibrium"``;
* finite bias ``V`` (``orbsym.transport``'s split into equilibrium + window)::

      rho = rho_eq(mu_R, T) + int dE (f_L - f_R) A_L / 2pi,

  parts ``"equilibrium"`` (``rho_eq(mu_R)``), ``"window"`` (the integral,
  :func:`~orbsym.numeric.negf.window_rule` clipped to the spectral bounds) and ``"total"`` (their sum).

Every part is returned as :class:`~orbsym.numeric.sites.SiteObservables` of the region (bands
``G(X, X + dX; dY) = <c^dag c>`` of :func:`~orbsym.numeric.negf.bands_from_blocks`, the format of
:meth:`SiteLattice.solve`): densities per site, bond currents and hopping torques per bond, the
per-site balance and the slice-boundary current, per transverse cell (dimensions 1, 2) or for the whole
finite sample (dimension 0).

Landauer: conductance ``G = (1/n_t) sum_k int dE (-f') T(k, E)`` in units of ``e^2/h`` per transverse cell
(``n_t`` = :attr:`SiteLattice.n_transverse`; ``T(k, E) = Tr(Gamma_L G_{0,P-1} Gamma_R G_{0,P-1}^dag)``), the
particle current ``I = (1/n_t)(1/2pi) sum_k int dE T (f_L - f_R)`` (``e = hbar = 1``, units of t, positive
toward +x; per unit bias ``G / 2pi`` in linear response).

Checks (exact, any energy grid): at every site of the interior slices ``1 .. P - 2`` the steady state has
``d<O_i>/dt = -div_i j + tau_i = 0`` for the charge and every ``J_alpha`` (the end slices also exchange
particles with the leads through bonds outside the site lattice); the charge current through every
x-cell boundary of the region (:meth:`SiteObservables.boundary_current`) equals the Landauer current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bloch import k_points
from .budget import check_resources, transport_estimate
from .checks import ENERGY_LIMIT, check_energy_scale, integer_at_least, real_number, unknown_name
from .leads import DEFAULT_ETA, Lead, SurfaceGreenError
from .negf import OpenSystem, bands_from_blocks, fermi_derivative_rule, imaginary_axis_rule, window_rule
from .rgf import choose_region_solver
from .sites import BalanceError, Hopping, SiteLattice, SiteObservables
from .thermo import check_temperature

__all__ = ["SiteLead", "SiteTransportResult", "site_transport", "lead_spec", "n_equilibrium_points", "spectral_radius_bound", "radius",
           "DEFAULT_N_LINEAR", "DEFAULT_N_BIAS"]

#: Default energy nodes of the linear response at ``T > 0`` (Gauss-Legendre in ``u = f``).
DEFAULT_N_LINEAR = 16
#: Default energy nodes of the bias window.
DEFAULT_N_BIAS = 200
_POLS = (None, "x", "y", "z")


class SiteLead:
    """A semi-infinite lead: slice ``X`` of a :class:`SiteLattice` repeated along x.

    The lead cell is the slice (its on-site block ``h_XX``: sites, on-site matrices, bonds inside the slice,
    the super-row bonds ``(0, 1)``) and the coupling between two lead cells is the source's slice-to-slice
    coupling at that slice: ``h_{X,X+1}`` for a left lead, ``h_{X-1,X}`` for a right lead (the bonds that
    exist inside the source; the other one where the slice is at that end of the source, e.g. slice 0 of
    a right lead).  For a uniform source both are the same.

    Parameters
    ----------
    source : SiteLattice
        The lattice whose slice is continued (at least 2 slices).
    slice_index : int
        The slice ``X`` (``0 .. n_slices - 1``; negative counts from the end).
    side : {"left", "right"}
        Where the lead sits.

    Attributes
    ----------
    slice_states : int
        States of one lead cell (``D``).
    """

    def __init__(self, source, slice_index, side):
        if not isinstance(source, SiteLattice):
            raise TypeError(f"a lead is built from a SiteLattice, got {type(source).__name__}")
        if side not in ("left", "right"):
            raise unknown_name("lead side", side, ("left", "right"))
        P = source.n_slices
        if isinstance(slice_index, bool) or not isinstance(slice_index, (int, np.integer)) or not -P <= slice_index < P:
            raise ValueError(f"lead slice index must be an integer in {-P} .. {P - 1} (the source has {P} slices), got {slice_index!r}")
        if P < 2:
            raise ValueError(
                f"the lead's lattice has {P} slice ({source.N_x} x-cells, {source.merge_x} per slice): a lead needs the slice-to-slice "
                "coupling, i.e. a lattice of at least 2 slices"
            )
        X = int(slice_index) % P
        self.source, self.slice_index, self.side = source, X, side
        # the pair of slices whose coupling is the lead's h_01
        self.pair = (X, X + 1) if (side == "left" and X + 1 < P) or X == 0 else (X - 1, X)
        self.slice_states = source.slice_states

    def _slices(self):
        """``(slice chain, offset)``: the source's chain when built, else the chain of the two slices the lead
        reads (:func:`_slice_window`; building a long source's whole chain for one slice cost as much as the
        region's), with the index of its first slice in the source."""
        if getattr(self, "_window", None) is None:
            src = self.source
            lo = min(self.slice_index, self.pair[0])
            win = None if src._slices is not None else _slice_window(src, lo, lo + 2)
            self._window = (src.slices, 0) if win is None else (win.slices, lo)
        return self._window

    def lead(self, k_z=None):
        """The 2D :class:`orbsym.numeric.leads.Lead` (films: of the sector ``k_z``, radians per cell)."""
        sl, off = self._slices()
        if self.source.transverse_dimension == 2:
            if k_z is None:
                raise ValueError("a film lead is taken per k_z sector: give k_z")
            sl = sl.sector(float(k_z))
        X, p = self.slice_index - off, self.pair[0] - off
        zero = np.zeros((sl.dim, sl.dim), complex)
        up = sl.hoppings[(1, 1)][p].copy() if (1, 1) in sl.hoppings else zero
        down = sl.hoppings[(1, -1)][p].copy() if (1, -1) in sl.hoppings else zero
        return Lead(None, sl.onsite[X].copy(), sl.hop_x[p].copy(), sl.hop_y[X].copy(), up, down)

    @property
    def z_symmetric(self):
        """Films: whether the sector at ``-k_z`` equals that at ``k_z`` (of the whole source lattice)."""
        return bool(self.source.slices.z_symmetric) if self.source.transverse_dimension == 2 else True


def _slice_window(source, lo, hi):
    """The :class:`SiteLattice` of slices ``lo .. hi - 1`` of ``source`` (its x-cells, hoppings, per-cell on-site
    matrices and vacancies there), or None when the window would slice differently (a bond family that is
    zero inside the window changes the merge) or is the whole source.  Its slice chain equals the source's
    slices ``lo .. hi - 1`` block by block, with the bonds leaving the window dropped."""
    mx = source.merge_x
    a, b = lo * mx, hi * mx
    if a <= 0 and b >= source.N_x:
        return None
    fin = source.transverse_dimension == 0
    hops = [Hopping(source.names[i], source.names[j], off, T[a:b]) for i, j, off, T in source.hoppings]
    onsite = None
    if fin and source.n_onsite_overrides:
        onsite = {name: np.asarray(source._site_onsite[s][a:b]) for s, name in enumerate(source.names)}
    kw = dict(width=source.width, onsite=onsite, vacancies=source.vacant[a:b]) if fin else dict(N_y=source.N_y, N_z=source.N_z)
    try:
        win = SiteLattice(list(source.cells[a:b]), hops, vectors=source.vectors, **kw)
    except ValueError:
        return None
    if (win.merge_x, win.merge_y, win.slice_states) != (mx, source.merge_y, source.slice_states):
        return None
    return win


def lead_spec(spec, region, side):
    """``SiteLead`` from ``None`` (the region's end slice), a ``SiteLattice`` (its slice 0 for the left lead,
    its last slice for the right one), a ``(SiteLattice, slice)`` pair or a ``SiteLead``; checked against the region."""
    default = 0 if side == "left" else -1
    if spec is None:
        lead = SiteLead(region, default, side)
    elif isinstance(spec, SiteLead):
        lead = spec
    elif isinstance(spec, SiteLattice):
        lead = SiteLead(spec, default, side)
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], SiteLattice):
        lead = SiteLead(spec[0], spec[1], side)
    else:
        raise TypeError(f"{side} lead must be None, a SiteLattice, a (SiteLattice, slice index) pair or a SiteLead, got {spec!r}")
    src = lead.source
    if lead.slice_states != region.slice_states:
        raise ValueError(
            f"{side} lead cell has {lead.slice_states} states, a slice of the region {region.slice_states}: the lead's slice size must "
            "equal the region's (same m_x x-cells x rows x orbitals per cell)"
        )
    same = (src.transverse_dimension, src.N_y, src.merge_y, src.N_z, src.width) == (
        region.transverse_dimension, region.N_y, region.merge_y, region.N_z, region.width)
    if not same:
        raise ValueError(
            f"{side} lead has transverse group (dimension {src.transverse_dimension}, N_y={src.N_y}, m_y={src.merge_y}, N_z={src.N_z}, "
            f"width={src.width}), the region (dimension {region.transverse_dimension}, N_y={region.N_y}, m_y={region.merge_y}, "
            f"N_z={region.N_z}, width={region.width}): leads must carry the region's transverse group (conserved k)"
        )
    return lead


def n_equilibrium_points(T, radius):
    """Complex energies of one equilibrium part: Fermi poles (``~2.2 sqrt(radius / T)``, multiple of 8) or
    the imaginary-axis nodes at ``T = 0``."""
    if T == 0:
        return int(imaginary_axis_rule(1.0)[0].size)
    return 8 * max(1, math.ceil(2.2 * math.sqrt(max(radius, 1e-3) / T) / 8))


def spectral_radius_bound(sl, leads):
    """Bound on ``max |E|`` (sum of the norms of the blocks, region and leads).

    Each block's spectral norm is bounded by ``sqrt(||A||_1 ||A||_inf)`` (max column and row sums):
    O(D^2) per block instead of an SVD, so that wide slices cost nothing here."""
    def nrm(a):
        if not a.size:
            return 0.0
        m = np.abs(a)
        return float(np.sqrt(m.sum(axis=-1).max(axis=-1) * m.sum(axis=-2).max(axis=-1)).max(initial=0.0))

    r = nrm(sl.onsite) + 2 * sum(nrm(t) for t in sl.hoppings.values())
    for ld in leads:
        r = max(r, nrm(ld.onsite) + 2 * sum(nrm(t) for t in (ld.hop_x, ld.hop_y, ld.hop_up, ld.hop_down)))
    return r


#: ``radius``: the short public name of :func:`spectral_radius_bound`; private aliases kept for existing imports
#: (e.g. :mod:`orbsym.workflows.ensembles`).
radius = spectral_radius_bound
_lead_spec, _n_equilibrium_points, _radius = lead_spec, n_equilibrium_points, spectral_radius_bound


@dataclass
class _Sector:
    """One 2D open system solved (the lattice itself, or one k_z sector of a film)."""

    k_z: object
    weight: float
    open: OpenSystem
    bands: dict
    g_k: object
    current_k: np.ndarray
    energies: np.ndarray
    info: dict


def site_transport(lattice, T=None, bias=None, mu=0.0, left=None, right=None, n_energy=None, eta=DEFAULT_ETA, solver="auto",
                   equilibrium=True, check=True, tol=1e-8):
    """Steady state of a :class:`SiteLattice` between two semi-infinite leads (module docstring).

    Parameters
    ----------
    lattice : SiteLattice
        The scattering region (any transverse group; ``mu`` of the models inside the on-site matrices).
    T : float
        Temperature of both leads (units of t, ``>= 0``); required (also with a bias).
    bias : float or None
        ``V = mu_L - mu_R`` (units of t/e), ``mu_L = mu + V/2``, ``mu_R = mu - V/2``.  None: linear response.
    mu : float
        Equilibrium chemical potential on the energy axis of ``h``.
    left, right : None, SiteLattice, (SiteLattice, slice index) or SiteLead
        The leads (:class:`SiteLead`; default: the region's first / last slice continued).
    n_energy : int, optional
        Energy nodes of the linear response at ``T > 0`` (default 16) or of the bias window (default 200).
    eta : float
        Imaginary part of the energy in the leads' surface Green's functions (``> 0``).
    solver : {"auto", "rgf", "dense"} or callable
        Region solver (:func:`orbsym.numeric.rgf.choose_region_solver`).
    equilibrium : bool
        Linear response: also compute the equilibrium part ``rho_eq(mu, T)`` (always at finite bias).
    check, tol : bool, float
        Raise :class:`orbsym.numeric.sites.BalanceError` when the interior balance or the boundary current
        against the Landauer current is off by more than ``tol`` relative to the largest term.

    Returns
    -------
    SiteTransportResult

    Raises
    ------
    TypeError, ValueError
        Bad arguments (named); a lead whose slice size or transverse group differs from the region's; an
        estimated memory / time above the limits (:class:`orbsym.numeric.budget.ResourceError`) before
        anything is solved.
    orbsym.numeric.leads.SurfaceGreenError
        A lead's surface Green's function failed (its message, with the sector).
    """
    if not isinstance(lattice, SiteLattice):
        raise TypeError(f"site_transport takes a SiteLattice (orbsym.numeric.sites), got {type(lattice).__name__}")
    if T is None:
        raise ValueError(
            "T (temperature of both leads, units of t, T >= 0) is required"
            + (f": a bias V = {bias!r} sets mu_L, mu_R, and the occupations f(E - mu_L), f(E - mu_R) need T" if bias is not None else "")
        )
    T = check_energy_scale("T", check_temperature(T))
    mu = real_number("mu", mu, bound=ENERGY_LIMIT)
    if bias is not None:
        bias = real_number("bias", bias, bound=ENERGY_LIMIT)
    if n_energy is not None:
        n_energy = integer_at_least("n_energy", n_energy, 1, " (energy nodes)")
        if bias is None and T == 0:
            raise ValueError("n_energy does not apply to the linear response at T = 0 (one energy, E = mu); it applies at T > 0 or with a bias")
    eta = real_number("eta", eta, minimum=0.0, strict=True, bound=ENERGY_LIMIT)
    if isinstance(solver, str) and solver not in ("auto", "rgf", "dense"):
        raise unknown_name("region solver", solver, ("auto", "rgf", "dense"))
    if not isinstance(solver, str) and not callable(solver):
        raise TypeError(f"solver must be 'auto', 'rgf', 'dense' or a callable region solver, got {type(solver).__name__}")
    for name, v in (("equilibrium", equilibrium), ("check", check)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {v!r}")
    tol = real_number("tol", tol, minimum=0.0, strict=True)
    lead_L, lead_R = lead_spec(left, lattice, "left"), lead_spec(right, lattice, "right")
    return SiteTransportResult(lattice, lead_L, lead_R, T, bias, mu, n_energy, eta, solver, bool(equilibrium), bool(check), tol)


class SiteTransportResult:
    """Steady state of a site lattice between two leads (:func:`site_transport`).

    Attributes
    ----------
    lattice : SiteLattice
    left, right : SiteLead
    T, bias, mu, mu_L, mu_R, eta : float
        ``bias`` None in linear response (then ``mu_L = mu_R = mu``).
    parts : dict of SiteObservables
        Linear response: ``"response"`` (per unit bias) and, with ``equilibrium``, ``"equilibrium"``
        (``rho_eq(mu)``); finite bias: ``"window"``, ``"equilibrium"`` (``rho_eq(mu_R)``) and ``"total"``.
        Also ``result[part]``.
    sectors : list
        The 2D open systems solved (one; films: one per k_z sector solved) with ``k_z``, ``weight``
        (multiplicity / N_z), ``open`` (:class:`~orbsym.numeric.negf.OpenSystem`), ``g_k``, ``current_k``.
    info : dict
        Energy rules, region solver, the checks' residuals.
    max_balance_residual, max_boundary_mismatch : float
        Largest ``|d<O_i>/dt|`` at the interior sites (every part, charge and ``J_x, J_y, J_z``) and largest
        ``|boundary current - Landauer current|`` (charge, driven part) over the boundaries.
    """

    def __init__(self, lattice, left, right, T, bias, mu, n_energy, eta, solver, equilibrium, check, tol):
        self.lattice, self.left, self.right = lattice, left, right
        self.T, self.bias, self.mu, self.eta = T, bias, mu, eta
        self.mu_L, self.mu_R = (mu, mu) if bias is None else (mu + 0.5 * bias, mu - 0.5 * bias)
        self._equilibrium = equilibrium or bias is not None
        pairs = lattice.pairs
        sl = lattice.slices
        film = lattice.transverse_dimension == 2
        if film:
            symmetric = bool(sl.z_symmetric and left.z_symmetric and right.z_symmetric)
            kz, wz = k_points(lattice.N_z, symmetric)
            parts = [(float(k), sl.sector(float(k)), left.lead(k), right.lead(k)) for k in kz]
            weight = {float(k): float(w) / lattice.N_z for k, w in zip(kz, wz)}
        else:
            parts = [(None, sl, left.lead(), right.lead())]
            weight = {None: 1.0}
        self._check_size(parts, n_energy, solver, len({p[0] for p in pairs}), len(weight))
        ops, names = {}, set()
        for k, sec, lL, lR in parts:
            fn, name = choose_region_solver(solver, sec.N_x, sec.dim)
            ops[k] = OpenSystem(sec, lL, lR, eta=eta, solver=fn)
            names.add(name)

        def one(sec, k, pairs2):
            key = None if k is None else float(k)
            op = ops[key]
            try:
                blocks, g_k, current_k, E, info = self._steady(op, pairs2, n_energy)
            except SurfaceGreenError as e:
                where = "" if key is None else f" (k_z sector {key:.6g})"
                raise type(e)(f"lead surface Green's function of the site-lattice transport{where}: {e}", e.criterion, e.z, e.k, e.index, e.details) from e
            bands = {part: bands_from_blocks(b, op.k, op.weights, sec.N_y, pairs2, op.symmetric) for part, b in blocks.items()}
            return _Sector(key, weight[key], op, bands, g_k, current_k, E, info)

        if film:
            from .film import sector_sum

            bands, _, _, sols = sector_sum(sl, one, pairs, use_symmetry=symmetric)
        else:
            sol = one(sl, None, pairs)
            bands, sols = sol.bands, [sol]
        self.sectors = sols
        self.parts = {p: SiteObservables(lattice, b) for p, b in bands.items()}
        self.info = {"region_solver": "/".join(sorted(names)), "k_z_sectors": len(sols) if film else None, **sols[0].info}
        self._checks(check, tol)

    # ---------------------------------------------------------------- solve
    def _check_size(self, parts, n_energy, solver, n_dx, n_sectors):
        """Refuse up front (memory and time of the region solves, :func:`orbsym.numeric.budget.transport_estimate`)."""
        lat = self.lattice
        _, sec, lL, lR = parts[0]
        symmetric = bool(sec.y_hermitian and lL.k_even and lR.k_even)
        nk = len(k_points(sec.N_y, symmetric)[0])
        if self.bias is None:
            full = 1 if self.T == 0 else (n_energy or DEFAULT_N_LINEAR)
        else:
            full = (0 if (self.T == 0 and self.bias == 0) else 10 * max(1, math.ceil((n_energy or DEFAULT_N_BIAS) / 10)))
        poles = 0
        if self._equilibrium:  # the spectral bound sets the pole count at T > 0 only (a pass over every block: skipped otherwise)
            radius = max(spectral_radius_bound(s, (a, b)) for _, s, a, b in parts[:: max(1, len(parts) // 3)]) if self.T > 0 else 0.0
            poles = n_equilibrium_points(self.T, radius + abs(self.mu_R))
        name = "rgf" if callable(solver) else choose_region_solver(solver, sec.N_x, sec.dim)[1]
        est = transport_estimate(sec.N_x, sec.N_y, sec.dim, points=full + poles, k_points=nk, solver=name, n_leads=2,
                                 n_dx=max(3, n_dx), poles=poles if self.T > 0 else 0, kernels="sites")
        # films: the sectors' solves share point batches and hold a group's outputs (orbsym.numeric.film.SECTOR_GROUP_BYTES)
        from .film import SECTOR_GROUP_BYTES

        held = min((n_sectors - 1) * float(est.bytes), float(SECTOR_GROUP_BYTES)) if n_sectors > 1 else 0.0
        est = type(est)(est.engine, est.bytes + held, est.seconds * n_sectors,
                        f"{n_sectors} sector(s) x {nk} k-point(s) x {full + poles} energies, {sec.N_x} slices of {sec.dim} states; {est.detail}")
        check_resources(est, what=f"this site-lattice transport solve ({lat.n_slices} slices of {lat.slice_states} states)",
                        hint="use fewer energies (n_energy), fewer k points (N_y, N_z), fewer cells or a narrower sample")

    def _steady(self, op, pairs, n_energy):
        """Per-k density-matrix blocks of every part of one 2D open system (rules of :mod:`orbsym.transport`)."""
        T, mu = self.T, self.mu
        dxs = sorted({p[0] for p in pairs})
        info, blocks = {}, {}
        if self.bias is None:
            E, w = fermi_derivative_rule(mu, T, n_energy or DEFAULT_N_LINEAR)
            blocks["response"], trans = op.scattering_blocks(E, 0.5 * w, -0.5 * w, dxs)
            g_k = trans @ w
            current_k = g_k / (2 * np.pi)
            info["energy_rule"] = "E = mu" if T == 0 else f"Gauss-Legendre in u = f(E - mu), {E.size} nodes"
            if self._equilibrium:
                blocks["equilibrium"], info["equilibrium_part"] = op.equilibrium_blocks(mu, T, dxs)
        else:
            E, w = window_rule(self.mu_L, self.mu_R, T, n_energy or DEFAULT_N_BIAS, bounds=op.spectral_bounds())
            blocks["window"], trans = op.scattering_blocks(E, w, np.zeros_like(w), dxs)
            blocks["equilibrium"], info["equilibrium_part"] = op.equilibrium_blocks(self.mu_R, T, dxs)
            blocks["total"] = {dx: blocks["window"][dx] + blocks["equilibrium"][dx] for dx in dxs}
            current_k = trans @ w / (2 * np.pi)
            g_k = None
            info["energy_rule"] = f"composite Gauss-Legendre on the bias window, {E.size} nodes"
            info["mu_L"], info["mu_R"] = self.mu_L, self.mu_R
        return blocks, g_k, current_k, E, info

    # ---------------------------------------------------------------- results
    def __getitem__(self, part):
        if part not in self.parts:
            raise unknown_name("transport part", part, tuple(self.parts))
        return self.parts[part]

    @property
    def linear(self):
        return self.bias is None

    @property
    def driven(self):
        """The part carrying the current: ``"response"`` (linear) or ``"total"`` (finite bias)."""
        return self.parts["response" if self.linear else "total"]

    def _cells(self):
        """Transverse cells one k-sum of a 2D open system covers (``N_y``; 1 for a finite width)."""
        return self.lattice.N_y or 1

    def conductance(self):
        """Landauer conductance in ``e^2/h`` per transverse cell (linear response only).

        Returns ``{"total": G, "per_k": [G(k) per sector], "k": [k of each sector], "k_z": [...]}``:
        ``G = (1/n_t) sum_{k_z} sum_K w_K G(K, k_z)``, ``G(K) = int dE (-f') T(K, E)`` (module docstring).
        """
        if not self.linear:
            raise ValueError("conductance() is the linear response; this result is at finite bias (use landauer_current())")
        tot = sum(s.weight * float(s.open.weights @ s.g_k) for s in self.sectors) / self._cells()
        return {"total": tot, "per_k": [s.g_k for s in self.sectors], "k": [s.open.k for s in self.sectors],
                "k_z": [s.k_z for s in self.sectors], "units": "e^2/h per transverse cell"}

    def landauer_current(self):
        """Particle current ``(1/n_t)(1/2pi) sum_k int dE T (f_L - f_R)`` per transverse cell (units of t,
        positive toward +x; per unit bias ``G / 2pi`` in linear response)."""
        return sum(s.weight * float(s.open.weights @ s.current_k) for s in self.sectors) / self._cells()

    def interior(self):
        """Mask ``(N_x, rows, n_sites)`` of the sites outside the two end slices (where the balance is closed)."""
        lat = self.lattice
        mask = np.zeros((lat.N_x, lat.rows if lat.transverse_dimension == 0 else 1, len(lat.sites)), bool)
        mask[lat.merge_x : lat.N_x - lat.merge_x] = True
        return mask

    def balance(self, polarization=None, part=None):
        """``d<O_i>/dt = -div_i j + tau_i`` per site of ``part`` (default the driven one), zero at every
        interior site in the steady state (:meth:`interior`); shape ``(N_x, rows, n_sites)``."""
        obs = self.driven if part is None else self[part]
        return obs.time_derivative(polarization)

    def checked_boundaries(self):
        """Indices of the x-cell boundaries where the charge current must equal the Landauer current:
        ``merge_x - 1 .. N_x - 1 - merge_x`` (boundary ``b`` lies between cells ``b`` and ``b + 1``).  Inside
        an end slice of ``merge_x > 1`` cells, bonds to the lead also cross the boundary, and they are
        not part of the lattice's bonds."""
        lat = self.lattice
        return np.arange(lat.merge_x - 1, lat.N_x - lat.merge_x)

    def boundary_current(self, polarization=None, part=None):
        """Current through every x-cell boundary (:meth:`SiteObservables.boundary_current`) of ``part``
        (default the driven one); for the charge it equals :meth:`landauer_current` at every boundary."""
        obs = self.driven if part is None else self[part]
        return obs.boundary_current(polarization)

    def _checks(self, check, tol):
        interior = self.interior()
        worst, scale = 0.0, 0.0
        for obs in self.parts.values():
            for pol in _POLS:
                r = obs.time_derivative(pol)
                worst = max(worst, float(np.abs(r[interior]).max(initial=0.0)))
                scale = max(scale, float(np.abs(obs.current(pol)).max(initial=0.0)), float(np.abs(obs.onsite_torque(pol)).max(initial=0.0)))
        I = self.landauer_current()
        bc = self.boundary_current()[self.checked_boundaries()]  # charge: one value per x-cell boundary
        mismatch = float(np.abs(bc - I).max(initial=0.0))
        self.max_balance_residual, self.max_boundary_mismatch = worst, mismatch
        self.info["max_balance_residual"], self.info["max_boundary_mismatch"] = worst, mismatch
        if check:
            if worst > tol * max(1.0, scale):
                raise BalanceError(f"the steady-state balance d<O_i>/dt = 0 is off by {worst:.3g} at an interior site (largest term {scale:.3g}, tolerance {tol:g} relative)")
            if mismatch > tol * max(1.0, abs(I)):
                raise BalanceError(f"the charge current through a cell boundary differs from the Landauer current {I:.6g} by {mismatch:.3g} (tolerance {tol:g} relative)")
