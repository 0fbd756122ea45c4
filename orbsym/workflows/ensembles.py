"""Disorder ensembles: many realizations of one disordered sample, with averages and standard errors.

:func:`ensemble` draws one realization per seed (:func:`orbsym.numeric.disorder.realize` on the clean
sample of ``factory()``) and solves it (:meth:`SiteLattice.solve`, the thermal state), drives it
(:meth:`SiteLattice.respond`) or connects it to two clean leads (``transport=...``,
:func:`orbsym.numeric.sites_transport.site_transport`).  Realizations run through the execution layer
(:mod:`orbsym.execution`: serial, a local process pool or any executor such as dask), in chunks of
``chunk`` realizations; everything is checked and the whole ensemble estimated before any realization
runs.  Periodic samples (``N_y``; films ``N_y x N_z``) run as their Gamma-only supercell (the ``N_x x N_y``
torus with disorder, :func:`orbsym.numeric.disorder.supercell`): ``row`` is then the transverse cell
``r = y`` (films ``y N_z + z``) and the free energy and boundary current are per transverse cell (the
normalization of the clean periodic lattice, which a zero-strength ensemble reproduces).
One labeled Dataset comes back::

    <var>              [realization, ...]   every realization (the per-site profiles included)
    <var>_mean         [...]                the ensemble average  <X> = n^-1 sum_r X_r
    <var>_stderr       [...]                its standard error    s / sqrt(n), s^2 = sum_r (X_r - <X>)^2 / (n - 1)
    balance_residual   [realization]        the per-site balance of every realization (checked)

Every realization's balance is checked: equilibrium ``d<O_i>/dt = -div_i j + tau_i = 0`` (the
decomposition and the stationarity of the thermal state),
the driven balance of :meth:`SiteLattice.respond` with a field, and with leads the steady state
``-div_i j + tau_i = 0`` at every interior site plus the charge boundary current against the Landauer
current.  A residual above ``tol`` raises :class:`orbsym.numeric.sites.BalanceError` naming the seed.

Resumable store (``out="E.nc"``): every completed chunk is written atomically to ``E.nc.parts/`` by
:class:`orbsym.workflows.sweeps.store.Store` with the ensemble's fingerprint (the SHA-256 of the clean
sample's content, the disorder terms -- explicit arrays by digest --, the seeds, ``T``, the observables,
the mode and its parameters, the engine and the orbsym version); a re-run computes only the missing
realizations, refuses a foreign or corrupt part with the recovery (``restart=True``), then writes
``E.nc`` atomically (NetCDF3) and removes the parts.

Units: those of the site lattice (t, or eV for materials; ``e = hbar = a = 1``); conductance in
``e^2/h`` (per transverse cell: the whole sample for a finite width).  Conventions as
:func:`orbsym.workflows.sweeps.sites.sweep_sites` and :mod:`orbsym.numeric.sites_transport`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import pickle
from pathlib import Path

import numpy as np

from .sweeps.core import SweepError
from .sweeps.sites import check_mode, site_profiles

__all__ = ["ensemble", "BALANCE_TOL", "TRANSPORT_OBSERVABLES", "DisconnectedError", "EnsembleError", "lattice_digest", "disorder_digest"]

#: Largest per-site balance residual accepted in a realization (units of J t / hbar).
BALANCE_TOL = 1e-9
#: Observables of a transport ensemble (``conductance``: linear response only).  ``layer_torque`` stores the
#: torque of every x-cell (layer) summed over its width and sites, with its on-site part and the part of the
#: on-site torque due to the disorder's on-site terms (``layer_torque``, ``layer_torque_onsite``,
#: ``layer_torque_disorder``): with ``boundary_current`` the exact layer balance
#: ``j(x - 1 | x) - j(x | x + 1) + tau(x) = 0`` of the steady state (no source term between leads).
TRANSPORT_OBSERVABLES = ("conductance", "landauer_current", "density", "boundary_current", "layer_torque")
_TRANSPORT_KEYS = ("left", "right", "mu", "bias", "n_energy")
_POLS = (None, "x", "y", "z")


class DisconnectedError(ValueError):
    """A vacancy configuration cuts the sample between the leads (a whole slice vacant: zero transmission)."""


class EnsembleError(SweepError):
    """Some realizations failed (listed with their seeds); the others are kept (and stored with ``out=``).

    A :class:`orbsym.workflows.sweeps.core.SweepError`: ``failures`` and ``dataset`` (NaN at the failed ones)."""

    what = "disorder realizations"


# ============================================================================ digests (fingerprint)
def lattice_digest(lat):
    """SHA-256 of everything of a :class:`SiteLattice` that enters a solve: geometry, positions, generators,
    on-site matrices of every cell, hopping matrices, vacancies and lattice vectors."""
    h = hashlib.sha256(json.dumps(lat.describe(), sort_keys=True, default=repr).encode())
    for s in range(len(lat.sites)):
        h.update(np.ascontiguousarray(lat.site_onsite(s), dtype=complex).tobytes())
    for i, j, off, T in lat.hoppings:
        h.update(repr((int(i), int(j), tuple(int(o) for o in off))).encode())
        h.update(np.ascontiguousarray(T, dtype=complex).tobytes())
    h.update(np.ascontiguousarray(lat.vacant, dtype=bool).tobytes())
    h.update(np.ascontiguousarray(lat.vectors, dtype=float).tobytes())
    for cell in lat.cells:
        for site in cell:
            h.update(np.ascontiguousarray(site.generators, dtype=complex).tobytes())
            h.update(np.ascontiguousarray(site.position, dtype=float).tobytes())
    return h.hexdigest()


def disorder_digest(term):
    """Plain-data description of a disorder term with the SHA-256 of its explicit arrays (if any)."""
    from dataclasses import asdict

    from ..numeric.disorder import describe

    d = describe(term)
    for k, v in asdict(term).items():
        if isinstance(v, np.ndarray):
            a = np.ascontiguousarray(v)
            d[k] = {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
    return d


# ============================================================================ worker side
def realization_lattice(factory, disorder, seed):
    """The disordered lattice of one seed (module level: runs in the workers)."""
    from ..numeric.disorder import realize

    return realize(factory(), disorder, seed=seed).lattice


def _embed(contacts, region):
    """``region`` (a realization of the clean sample, ``N_x`` x-cells) placed inside ``contacts`` (the clean
    sample with one clean lead cell on each side, ``N_x + 2`` x-cells, the same sites and hoppings in the same
    order): on-site matrices, vacancies and bond matrices of the region's cells are the realization's, the two
    lead cells and every bond touching them (the contact bonds) stay those of ``contacts``."""
    from ..numeric.sites import Hopping, SiteLattice

    N, W = region.N_x, region.width
    onsite = {}
    for s, name in enumerate(contacts.names):
        a = np.array(contacts.site_onsite(s), dtype=complex)
        a[1 : N + 1] = region.site_onsite(s)
        onsite[name] = a
    vacant = contacts.vacant.copy()
    vacant[1 : N + 1] = region.vacant
    hops = []
    for (i, j, off, Tc), (_, _, _, Tr) in zip(contacts.hoppings, region.hoppings):
        full = np.array(Tc if Tc.ndim == 4 else np.broadcast_to(Tc[:, None], (N + 2, W) + Tc.shape[1:]), dtype=complex)
        reg = Tr if Tr.ndim == 4 else np.broadcast_to(Tr[:, None], (N, W) + Tr.shape[1:])
        dx = off[0]
        lo, hi = max(0, -dx), min(N, N - dx)  # start cells whose bond stays inside the region
        if hi > lo:
            full[1 + lo : 1 + hi] = reg[lo:hi]
        hops.append(Hopping(contacts.names[i], contacts.names[j], tuple(off), full))
    return SiteLattice(contacts.cells, hops, width=W, vectors=contacts.vectors, onsite=onsite, vacancies=vacant)


def run_transport_realization(factory, disorder, seed, T, observables, tr):
    """One realization between the clean leads (module level: runs in the workers).

    Returns ``{variable: ndarray}``: ``conductance`` (linear response), ``landauer_current``, ``density``
    ``(4, N_x, rows, n_sites)`` and ``boundary_current`` ``(4, n_boundaries)`` of the driven part, the layer
    torques ``layer_torque``, ``layer_torque_onsite``, ``layer_torque_disorder`` ``(4, N_x)`` (summed over
    the width and the sites of each x-cell), the ``balance_residual`` (the larger of the per-site balance at
    the interior sites and the layer balance ``j(x - 1 | x) - j(x | x + 1) + tau(x)`` at the interior
    layers), the ``boundary_mismatch`` and ``balance_scale``; ``region_solver`` is returned as a 0-d string
    array.

    With ``tr["contacts"]`` (a clean lattice of ``N_x + 2`` x-cells: the sample with one clean lead cell on
    each side, :func:`orbsym.transport.transport` of an open strip) the realization of the clean sample is
    placed between those two cells (:func:`_embed`) and solved with them: every x-cell of the sample is then
    interior (balance checked at every site and layer) and ``boundary_current`` has ``N_x + 1`` entries,
    the two contact boundaries included (entry 0: left lead cell -> x-cell 0).  Without it the sample is
    solved alone: ``N_x - 1`` boundaries, balance at the x-cells outside the end slices.
    """
    from ..numeric.disorder import realize
    from ..numeric.sites import SiteObservables
    from ..numeric.sites_transport import site_transport

    clean = factory()
    lat = realize(clean, disorder, seed=seed).lattice
    contacts = tr.get("contacts")
    if contacts is not None:
        solved, reference, pad = _embed(contacts, lat), contacts, 1
    else:
        solved, reference, pad = lat, clean, 0
    left = tr["left"] if tr["left"] is not None else (clean, 0)
    right = tr["right"] if tr["right"] is not None else (clean, -1)
    res = site_transport(solved, T=T, bias=tr["bias"], mu=tr["mu"], left=left, right=right, n_energy=tr["n_energy"],
                         solver=tr["solver"], equilibrium=False, check=False)
    obs = res.driven
    N = solved.N_x
    region = slice(pad, N - pad)
    scale = 0.0
    for pol in _POLS:
        scale = max(scale, float(np.abs(obs.current(pol)).max(initial=0.0)), float(np.abs(obs.onsite_torque(pol)).max(initial=0.0)))
    bnd = np.stack([obs.boundary_current(p) for p in _POLS]).reshape(len(_POLS), max(N - 1, 0))
    tau = np.stack([obs.torque(p).sum(axis=(1, 2)) for p in _POLS])
    # the layer balance at the x-cells outside the end slices (there the per-site balance is closed)
    x = np.arange(solved.merge_x, N - solved.merge_x)
    layer = float(np.abs(bnd[:, x - 1] - bnd[:, x] + tau[:, x]).max(initial=0.0)) if x.size else 0.0
    out = {"balance_residual": np.array(max(float(res.max_balance_residual), layer)),
           "boundary_mismatch": np.array(float(res.max_boundary_mismatch)), "balance_scale": np.array(scale)}
    if "conductance" in observables:
        out["conductance"] = np.array(float(res.conductance()["total"]))
    if "landauer_current" in observables:
        out["landauer_current"] = np.array(float(res.landauer_current()))
    if "density" in observables:
        out["density"] = np.stack([obs.density(p)[region] for p in _POLS])
    if "boundary_current" in observables:
        out["boundary_current"] = bnd  # N_x + 1 with contacts (every boundary of the sample), else N_x - 1
    if "layer_torque" in observables:
        onsite = np.stack([obs.onsite_torque(p) for p in _POLS])
        ref = SiteObservables(reference, obs.bands)  # the same state, the clean on-site matrices
        clean_onsite = np.stack([ref.onsite_torque(p) for p in _POLS])
        clean_onsite[:, solved.vacant] = 0.0  # a vacancy has no on-site torque (and no clean one to subtract)
        out["layer_torque"] = tau[:, region]
        out["layer_torque_onsite"] = onsite.sum(axis=(2, 3))[:, region]
        out["layer_torque_disorder"] = (onsite - clean_onsite).sum(axis=(2, 3))[:, region]
    out["region_solver"] = np.array(str(res.info["region_solver"]))
    return out


def run_equilibrium_realization(factory, disorder, seed, T, observables, engine):
    """One realization in thermal equilibrium (module level: runs in the workers).

    As :func:`orbsym.workflows.sweeps.sites.run_site_point` (same variables and shapes), with a
    stronger ``balance_residual``: the largest of ``|d<O_i>/dt - (-div_i j + tau_i)|`` (the decomposition)
    and ``|-div_i j + tau_i|`` (stationarity of the thermal state) over sites and the charge, ``J_x, J_y, J_z``.
    A periodic sample is solved as its Gamma-only supercell and reported in its own layout
    (:meth:`orbsym.numeric.disorder.Realization.observables`: ``density`` ``(4, N_x, R, n_sites)``, the free
    energy and boundary current per transverse cell).
    """
    from ..numeric.disorder import realize

    clean = factory()
    r = realize(clean, disorder, seed=seed)
    obs = r.observables(r.lattice.solve(T, engine=engine))
    worst = 0.0
    for p in _POLS:
        worst = max(worst, float(np.abs(obs.continuity_residual(p)).max(initial=0.0)), float(np.abs(obs.torque(p) - obs.divergence(p)).max(initial=0.0)))
    return {"balance_residual": np.array(worst), **site_profiles(obs, clean, observables)}


def run_response_realization(factory, disorder, seed, T, observables, field, eta, part):
    """One realization's Kubo response to a uniform field ``E_field`` (module level: runs in the workers).

    :meth:`SiteLattice.respond` of the realization (periodic samples: the Gamma-only supercell, whose velocity
    is the parent's, per real ``E``), which checks the driven per-site balance ``-div j + tau = eta <J> + D``
    (:class:`orbsym.numeric.sites.BalanceError`); ``balance_residual`` is its largest residual
    (:attr:`SiteResponse.max_abs_residual`), ``density`` and ``boundary_current`` those of ``part`` in the
    layout of the sample (per unit force ``q E``).
    """
    from ..numeric.disorder import realize

    clean = factory()
    r = realize(clean, disorder, seed=seed)
    resp = r.lattice.respond(T, eta, field=field)
    return {"balance_residual": np.array(float(resp.max_abs_residual)), **site_profiles(r.observables(resp[part]), clean, observables)}


def run_chunk(factory, terms, items, mode):
    """A chunk of realizations ``items = [(index, seed)]`` -> ``[(index, {variable: array} or None, error or None)]``
    (module level: one task of the execution layer).

    A realization that raises is reported with its error (the others of the chunk are kept)."""
    rows = []
    for i, seed in items:
        try:
            if mode["transport"] is not None:
                d = run_transport_realization(factory, terms, seed, mode["T"], mode["observables"], mode["transport"])
            elif mode["response"] is None:
                d = run_equilibrium_realization(factory, terms, seed, mode["T"], mode["observables"], mode["engine"])
            else:
                d = run_response_realization(factory, terms, seed, mode["T"], mode["observables"], mode["response"], mode["eta"], mode["part"])
            rows.append((i, d, None))
        except Exception as exc:  # noqa: BLE001 - reported with the seed
            rows.append((i, None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
    return rows


# ============================================================================ checks
def _check_transport(transport, clean):
    from ..numeric.checks import ENERGY_LIMIT, integer_at_least, real_number
    from ..numeric.sites import SiteLattice
    from ..numeric.sites_transport import _lead_spec

    keys = _TRANSPORT_KEYS + ("contacts",)
    if not isinstance(transport, dict):
        raise TypeError(f"transport must be a dict with keys from {', '.join(keys)}, got {type(transport).__name__}")
    bad = [k for k in transport if k not in keys]
    if bad:
        raise ValueError(f"unknown transport key {bad[0]!r}; allowed: {', '.join(keys)}")
    tr = {"left": transport.get("left"), "right": transport.get("right"), "mu": real_number("transport mu", transport.get("mu", 0.0), bound=ENERGY_LIMIT),
          "bias": transport.get("bias"), "n_energy": transport.get("n_energy")}
    contacts = transport.get("contacts")
    if contacts is not None:
        # the clean sample with one clean lead cell on each side (orbsym.transport of an open strip)
        if not isinstance(contacts, SiteLattice):
            raise TypeError(f"transport contacts must be a SiteLattice (the clean sample with one lead cell on each side), got {type(contacts).__name__}")
        same = (contacts.transverse_dimension == 0 and contacts.N_x == clean.N_x + 2 and contacts.width == clean.width and contacts.names == clean.names
                and contacts.merge_x == 1 and clean.merge_x == 1
                and [(i, j, tuple(o)) for i, j, o, _ in contacts.hoppings] == [(i, j, tuple(o)) for i, j, o, _ in clean.hoppings])
        if not same:
            raise ValueError(
                f"transport contacts ({contacts.N_x} x-cells, width {contacts.width}, sites {contacts.names}) must be the clean sample "
                f"({clean.N_x} x-cells, width {clean.width}, sites {clean.names}) with one lead cell on each side: N_x + 2 x-cells, the same "
                "width, sites and hoppings (same order), nearest-cell bonds only")
        if contacts.vacant.any():
            raise ValueError("transport contacts must be clean (no vacancies): they hold the lead cells and the clean sample")
        tr["contacts"] = contacts
    if tr["bias"] is not None:
        tr["bias"] = real_number("transport bias", tr["bias"], bound=ENERGY_LIMIT)
    if tr["n_energy"] is not None:
        tr["n_energy"] = integer_at_least("transport n_energy", tr["n_energy"], 1, " (energy nodes)")
    for side in ("left", "right"):
        spec = tr[side]
        if spec is not None and not (isinstance(spec, SiteLattice) or (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], SiteLattice))):
            raise TypeError(f"transport {side} lead must be None (the clean sample's end slice), a SiteLattice or a (SiteLattice, slice index) pair, got {spec!r:.80}")
        _lead_spec(spec if spec is not None else (clean, 0 if side == "left" else -1), clean, side)  # slice size, transverse group
    return tr


def _lead_text(spec, side):
    if spec is None:
        return f"the clean sample's {'first' if side == 'left' else 'last'} slice continued"
    from ..numeric.sites import SiteLattice

    lat, X = (spec, 0 if side == "left" else -1) if isinstance(spec, SiteLattice) else spec
    return f"slice {X} of a given lattice continued (lattice sha256 {lattice_digest(lat)[:16]})"


def check_connected(vacant, merge_x, seed=None):
    """Raise :class:`DisconnectedError` if some slice (``merge_x`` x-cells, the full width) is entirely vacant.

    Slices couple to their neighbours only, so such a slice cuts every path between the leads: the
    transmission is exactly zero and the region between is decoupled."""
    N_x = vacant.shape[0]
    per_cell = vacant.reshape(N_x, -1).all(axis=1)
    n = N_x // merge_x
    full = per_cell[: n * merge_x].reshape(n, merge_x).all(axis=1)
    if full.any():
        s = int(np.flatnonzero(full)[0])
        cells = f"x-cell {s}" if merge_x == 1 else f"x-cells {s * merge_x}..{(s + 1) * merge_x - 1}"
        who = f"realization seed={seed}" if seed is not None else "the sample"
        raise DisconnectedError(
            f"{who}: slice {s} ({cells}, the whole width) is entirely vacant, which disconnects the leads (zero transmission; "
            f"{int(full.sum())} such slice(s)): lower the vacancy concentration, widen the sample or choose other seeds"
        )


def _transport_estimate(clean, T, tr, solver):
    """Memory and time of one realization's transport (:func:`orbsym.numeric.budget.transport_estimate`, as
    :func:`orbsym.numeric.sites_transport.site_transport` sizes it)."""
    from ..numeric.budget import transport_estimate
    from ..numeric.rgf import choose_region_solver
    from ..numeric.sites_transport import DEFAULT_N_BIAS, DEFAULT_N_LINEAR, _lead_spec, _n_equilibrium_points, _radius

    if tr.get("contacts") is not None:  # solved with its two clean lead cells
        clean = tr["contacts"]
    sl = clean.slices
    leads = [_lead_spec(tr[s] if tr[s] is not None else (clean, 0 if s == "left" else -1), clean, s).lead() for s in ("left", "right")]
    if tr["bias"] is None:
        full, poles = (1 if T == 0 else (tr["n_energy"] or DEFAULT_N_LINEAR)), 0
    else:
        full = 0 if (T == 0 and tr["bias"] == 0) else 10 * max(1, math.ceil((tr["n_energy"] or DEFAULT_N_BIAS) / 10))
        poles = _n_equilibrium_points(T, _radius(sl, leads) + abs(tr["mu"] - 0.5 * tr["bias"]))
    name = choose_region_solver(solver, sl.N_x, sl.dim)[1]
    n_dx = len({p[0] for p in clean.pairs})
    return transport_estimate(sl.N_x, sl.N_y, sl.dim, points=full + poles, k_points=1, solver=name, n_leads=2, n_dx=max(3, n_dx),
                              poles=poles if T > 0 else 0)


# ============================================================================ the ensemble
def ensemble(factory, disorder, seeds, T, observables=None, response=None, eta=None, executor=None, workers=1, progress=False, *,
             engine=None, part="total", tol=BALANCE_TOL, transport=None, out=None, restart=False, chunk=None, attrs=None):
    """Average observables over disorder realizations, one per seed.

    Parameters
    ----------
    factory : callable
        ``factory() -> SiteLattice``, the clean sample: finite (transverse dimension 0), or periodic (``N_y``,
        films ``N_y, N_z``: every realization is its Gamma-only supercell, :func:`orbsym.numeric.disorder.supercell`,
        the torus with disorder; equilibrium and response only, no transport); called once here
        (checks, estimate, fingerprint) and once per realization where it runs.  Picklable for process
        pools (a module-level function or a :func:`functools.partial` of one).
    disorder : disorder term or sequence of terms
        :mod:`orbsym.numeric.disorder` kinds (``Anderson``, ``RandomHopping``, ``Vacancies``, ``Potential``...).
    seeds : int or sequence of int
        The realizations: ``n`` gives seeds ``0 .. n-1``; a sequence gives them explicitly (distinct, >= 0).
    T : float
        Temperature (units of t), ``T >= 0``: of the thermal state, or of both leads.
    observables : str or sequence of str, optional
        Equilibrium / response: from ``free_energy`` (equilibrium only), ``density``, ``boundary_current``
        (:func:`~orbsym.workflows.sweeps.sites.sweep_sites`); transport: from :data:`TRANSPORT_OBSERVABLES`
        (``conductance`` in linear response only).  Default: all that apply.
    response, eta, part
        As :func:`orbsym.workflows.sweeps.sites.sweep_sites`: the Kubo response of every realization to a uniform
        field along a periodic direction (periodic samples only; a finite sample has none), its driven per-site
        balance ``-div j + tau = eta <J> + D`` checked in every realization.
    executor, workers
        As :func:`sweep_sites`: None (serial for ``workers == 1``, else a local process pool), ``"serial"``,
        ``"process"`` or a :class:`concurrent.futures.Executor` (e.g. dask ``client.get_executor()``).
    progress : bool or None
        tqdm progress bar on stderr (None: when stderr is a terminal).
    engine : str, optional
        Equilibrium: ``"dense"`` (default) or ``"greens"``; transport: the region solver ``"auto"``
        (default), ``"rgf"`` or ``"dense"``.  Recorded in ``attrs["engine"]`` (the solver that ran).
    tol : float
        Largest balance residual accepted in any realization (absolute; units of J t / hbar).
    transport : dict, optional
        Connect every realization to two clean semi-infinite leads: keys ``left``, ``right`` (None: the clean
        sample's first / last slice continued; or a SiteLattice / ``(SiteLattice, slice)``), ``mu``
        (default 0), ``bias`` (None: linear response, per unit bias), ``n_energy``.  Stored: the Landauer
        conductance ``G = int dE (-f') Tr(Gamma_L G^r Gamma_R G^a)`` (``e^2/h``), the Landauer current,
        and the densities and boundary currents of the driven part (per unit bias in linear response).
        A realization with a whole slice vacant is refused (:class:`DisconnectedError`) before any runs.
    out : path, optional
        NetCDF file (``.nc``) to write atomically; enables the resumable store ``<out>.parts/``.
    restart : bool
        Discard ``<out>.parts/`` (partial, foreign or corrupt) and an existing ``out`` instead of reusing or refusing them.
    chunk : int, optional
        Realizations per task and per stored part (default: about four tasks per worker, at most 16).
        The progress bar shows the running mean and standard error of the free energy (equilibrium),
        the conductance (transport, linear) or the Landauer current after every chunk.
    attrs : dict, optional
        Extra global attributes of the Dataset (informative, e.g. the source file; strings or numbers; not
        part of the fingerprint).

    Returns
    -------
    xarray.Dataset
        The per-realization variables on dimension ``realization`` (coordinate: the seed), their ``_mean``
        and ``_stderr`` (NaN for one realization), ``balance_residual`` (transport: also
        ``boundary_mismatch``); every variable with ``units`` and ``description``.  ``attrs``: the disorder
        record (JSON), ``engine`` (which one ran), ``T``, the number of realizations, the seeds and the
        fingerprint.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (named), a periodic sample, an ensemble whose estimate exceeds the limits
        (:class:`~orbsym.numeric.budget.ResourceError`, with the estimate), disconnecting vacancies
        (:class:`DisconnectedError`), a store in use, foreign or corrupt (:class:`SweepStateError`) -- all
        before any realization runs.
    BalanceError
        A realization's balance is off by more than ``tol`` (the seed is named).
    EnsembleError
        (a :class:`~orbsym.workflows.sweeps.core.SweepError`) Some realizations failed (listed with their
        seeds); the others are kept (and stored with ``out``).
    """
    from ..numeric.budget import check_resources
    from ..numeric.disorder import KINDS, realize, supercell
    from ..numeric.sites import SiteLattice
    from ..numeric.thermo import check_temperature
    from .sweeps.sites import SITE_OBSERVABLES, check_observables, point_estimate

    if not callable(factory):
        raise TypeError(f"factory must be a callable factory() -> SiteLattice (the clean sample), got {factory!r}")
    terms = (disorder,) if isinstance(disorder, KINDS) else tuple(disorder) if isinstance(disorder, (list, tuple)) else ()
    if not terms or not all(isinstance(t, KINDS) for t in terms):
        raise TypeError(f"disorder must be one or more of {[k.__name__ for k in KINDS]}, got {disorder!r}")
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a number of realizations >= 1 or a sequence of seeds, got {seeds}")
        seeds = list(range(int(seeds)))
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be distinct integers >= 0 (one per realization), got {seeds!r}")
    seeds = [int(s) for s in seeds]
    n = len(seeds)
    T = check_temperature(T)
    tol = float(tol)
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1):
        raise ValueError(f"chunk must be an integer >= 1 (realizations per stored part), got {chunk!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    workers = int(workers)
    if (isinstance(executor, str) and executor not in ("serial", "process")) or not (executor is None or isinstance(executor, str) or hasattr(executor, "submit")):
        raise ValueError(f"unknown executor {executor!r}; allowed: None, 'serial', 'process', or a concurrent.futures.Executor")
    if not isinstance(restart, (bool, np.bool_)):
        raise TypeError(f"restart must be True or False, got {restart!r}")

    if out is not None:
        from ..io import ensure_writable_dir

        given = str(out)
        out = Path(out)
        if given.strip() in ("", ".", "-") or out.is_dir():
            raise ValueError(f"ensemble output {given!r} must be a file path (e.g. ensemble.nc), not {'a directory' if out.is_dir() else 'empty or stdout'}")
        if out.suffix != ".nc":
            raise ValueError(f"ensemble output {given!r} must be a NetCDF file ending in .nc (e.g. ensemble.nc)")
        try:
            ensure_writable_dir(out.parent if str(out.parent) else ".")
        except ValueError as exc:
            raise ValueError(f"ensemble output {given!r}: {exc}") from None

    # the clean sample: once, here
    clean = factory()
    if not isinstance(clean, SiteLattice):
        raise TypeError(f"factory() returned {type(clean).__name__}, not an orbsym.numeric.sites.SiteLattice (the clean sample)")
    periodic = clean.transverse_dimension != 0

    if transport is not None:
        if periodic:
            raise ValueError(f"transport=... needs a finite sample (transverse dimension 0, width=...); factory() returned a periodic lattice "
                             f"(transverse dimension {clean.transverse_dimension}, N_y = {clean.N_y}): its leads would be periodic too; "
                             "use width=... for a transport ensemble")
        if response is not None or eta is not None:
            raise ValueError("transport=... and response=/eta= are different calculations: a transport ensemble has leads, no field and no relaxation rate")
        if part != "total":
            raise ValueError(f"part = {part!r} applies to response=...; a transport ensemble stores the driven part (per unit bias in linear response)")
        tr = _check_transport(transport, clean)
        solver = "auto" if engine is None else engine
        if solver not in ("auto", "rgf", "dense"):
            raise ValueError(f"unknown transport region solver engine={engine!r}; allowed: auto, rgf, dense")
        tr["solver"] = solver
        allowed = tuple(o for o in TRANSPORT_OBSERVABLES if not (o == "conductance" and tr["bias"] is not None))
        obs = allowed if observables is None else ((observables,) if isinstance(observables, str) else tuple(observables))
        if not obs:
            raise ValueError(f"no observables requested; allowed: {', '.join(allowed)}")
        for o in obs:
            if o not in allowed:
                why = " (the conductance is the linear response: drop bias or ask for landauer_current)" if o == "conductance" else ""
                raise ValueError(f"unknown transport observable {o!r}{why}; allowed: {', '.join(allowed)}")
        obs = tuple(dict.fromkeys(obs))
        est_one = _transport_estimate(clean, T, tr, solver)
    else:
        tr = None
        engine = "dense" if engine is None else engine
        obs = check_observables(SITE_OBSERVABLES if observables is None else observables, response)
        eta = check_mode(response, eta, engine, part)
        if response is not None:
            if engine != "dense":
                raise ValueError(f"engine = {engine!r} applies to equilibrium solves; a response always uses the Kubo engine (leave engine unset)")
            if part not in ("total", "fermi_surface", "fermi_sea", "drive"):
                raise ValueError(f"unknown response part {part!r}; allowed: total, fermi_surface, fermi_sea, drive")
            clean._field_axis(response)  # a finite sample has no periodic direction: refused here
        # a periodic sample runs as its Gamma-only supercell (R transverse copies of the cell in one slice): estimate that
        est_one = point_estimate(supercell(clean).lattice if periodic else clean, response)

    n_workers = 1 if executor == "serial" or (executor is None and workers == 1) else workers

    def check(missing):
        if missing:
            check_resources(est_one.times(missing, "realizations"), what=f"the disorder ensemble of {missing} realization(s)", workers=n_workers,
                            hint="use fewer realizations, fewer cells or a narrower sample")

    if out is None:
        check(n)  # the whole ensemble, before anything else
    # every realization drawn here (cheap; a Potential of the wrong shape or a missing seed fails now)
    for s in seeds if tr is not None else seeds[:1]:
        r = realize(clean, terms, seed=s)
        if tr is not None:
            check_connected(r.vacant, clean.merge_x, s)
    if workers > 1 or executor == "process" or (executor is not None and not isinstance(executor, str)):
        try:
            pickle.dumps((factory, terms, tr))
        except Exception as exc:  # noqa: BLE001 - PicklingError, AttributeError, TypeError... by object
            if executor is None or executor == "process":
                raise ValueError(f"factory or disorder cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                                 "use a module-level function or functools.partial of one, or workers=1") from None

    mode = {"T": T, "observables": obs, "response": response, "eta": eta, "engine": engine, "part": part, "transport": tr}
    fp, doc = _fingerprint(clean, terms, seeds, mode)
    extra = dict(attrs or {})
    bad = [k for k, v in extra.items() if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (str, int, float, np.integer, np.floating))]
    if bad:
        raise TypeError(f"attrs must map names to strings or numbers (NetCDF attributes), got {bad[0]!r}: {extra[bad[0]]!r}")
    run = dict(clean=clean, terms=terms, seeds=seeds, mode=mode, fingerprint=fp, factory=factory, tol=tol, attrs=extra)
    if out is None:
        return _compute(run, {}, None, executor, workers, progress, chunk)
    from .sweeps.core import load, save
    from .sweeps.store import Store

    with Store(out, fp, doc, bool(restart)) as store:
        if out.is_file() and not restart:
            with contextlib.suppress(ValueError):
                old = load(out)
                if old.attrs.get("fingerprint") == fp:
                    store.finish(clear=bool(store.same_sweep()))
                    _check_balance(run, old)  # the tolerance of this call
                    return old
        store.prepare()
        stored = store.load(n)
        check(n - len(stored))
        ds = _compute(run, stored, store, executor, workers, progress, chunk)
        save(ds, out)
        store.finish()
    return ds


def _fingerprint(clean, terms, seeds, mode):
    from .. import __version__
    from .sweeps.store import fingerprint

    tr = mode["transport"]
    doc = {
        "what": "orbsym disorder ensemble",
        "orbsym_version": __version__,
        "clean_sample_sha256": lattice_digest(clean),
        "disorder": [disorder_digest(t) for t in terms],
        "seeds": seeds,
        "T": mode["T"],
        "observables": list(mode["observables"]),
        "response": mode["response"],
        "eta": mode["eta"],
        "part": mode["part"],
        "engine": mode["engine"] if tr is None else tr["solver"],
    }
    if tr is not None:
        doc["transport"] = {"mu": tr["mu"], "bias": tr["bias"], "n_energy": tr["n_energy"],
                            "left": None if tr["left"] is None else _lead_text(tr["left"], "left"),
                            "right": None if tr["right"] is None else _lead_text(tr["right"], "right")}
        if tr.get("contacts") is not None:  # the clean contact cells between the leads and the sample
            doc["transport"]["contacts_sha256"] = lattice_digest(tr["contacts"])
    return fingerprint(doc)


def _default_chunk(n_missing, n_workers):
    return max(1, min(16, math.ceil(n_missing / (4 * n_workers)))) if n_missing else 1


def _compute(run, results, store, executor, workers, progress, chunk):
    """Run the missing realizations in chunks (each stored in ``store``), check them, assemble."""
    from .. import execution
    from ..execution import SerialExecutor
    seeds, mode = run["seeds"], run["mode"]
    n = len(seeds)
    missing = [i for i in range(n) if i not in results]
    if executor is None:
        executor = "serial" if workers == 1 else "process"
    ex, n_workers, owned = execution.resolve_executor(executor, workers if executor == "process" or not isinstance(executor, str) else None)
    size = chunk or _default_chunk(len(missing), n_workers)
    chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
    tasks = ((run["factory"], run["terms"], [(i, seeds[i]) for i in ch], mode) for ch in chunks)
    failures = []
    key = next((k for k in ("free_energy", "conductance", "landauer_current") if k in mode["observables"]), None)
    window = 1 if isinstance(ex, SerialExecutor) else max(2, 2 * n_workers)
    bar = execution.progress_bar(n, "orbsym ensemble", progress, initial=n - len(missing), unit="realization")
    with execution.closing_pool(owned), bar:
        for j, rows, exc in execution.run_tasks(run_chunk, tasks, ex, window=window):
            ch = chunks[j]
            if exc is not None:
                rows = [(i, None, f"{execution.describe(exc)} (task of realizations {ch[0]}..{ch[-1]} lost)") for i in ch]
            good = [(i, d) for i, d, err in rows if err is None]
            failures += [{"index": int(i), "point": {"seed": seeds[i]}, "error": err} for i, d, err in rows if err is not None]
            if store is not None:
                store.write(good)
            results.update(good)
            bar.update(len(ch))
            running = _running(results, key)
            if running:
                bar.set_postfix_str(running, refresh=False)
    ds = _assemble(run, results)
    if failures:
        failures.sort(key=lambda f: f["index"])
        raise EnsembleError(failures, ds, n)
    _check_balance(run, ds)
    return _statistics(run, ds)


def _running(results, key):
    """``"<free_energy> = m +- e (n)"``: the running mean and standard error of a scalar over the realizations done."""
    if key is None:
        return ""
    x = np.array([float(r[key]) for r in results.values() if key in r])
    if not x.size:
        return ""
    err = f" +- {x.std(ddof=1) / math.sqrt(x.size):.2g}" if x.size > 1 else ""
    return f"<{key}> = {x.mean():.6g}{err} ({x.size})"


def _check_balance(run, ds):
    from ..numeric.sites import BalanceError

    seeds, tol = run["seeds"], run["tol"]
    res = ds["balance_residual"].values
    bad = np.flatnonzero(~(res <= tol))
    if bad.size:
        r = int(bad[0])
        raise BalanceError(f"the per-site balance of realization seed={seeds[r]} is off by {res[r]:.3g} (tolerance {tol:g})")
    if "boundary_mismatch" in ds:
        mm = ds["boundary_mismatch"].values
        bad = np.flatnonzero(~(mm <= tol))
        if bad.size:
            r = int(bad[0])
            raise BalanceError(f"realization seed={seeds[r]}: the charge boundary current differs from the Landauer current by {mm[r]:.3g} (tolerance {tol:g})")


def _assemble(run, results):
    from .. import __version__
    from ..numeric.disorder import describe
    from .sweeps.sites import assemble_sites

    seeds, mode, clean = run["seeds"], run["mode"], run["clean"]
    n = len(seeds)
    rows = [results.get(i) for i in range(n)]
    tr = mode["transport"]
    if tr is None and clean.transverse_dimension != 0:
        ds = _assemble_periodic(seeds, mode, rows, clean, run["factory"])
    elif tr is None:
        ds = assemble_sites({"seed": seeds}, mode["observables"], rows, clean,
                            dict(T=mode["T"], eta=mode["eta"], response=mode["response"], engine=mode["engine"], part=mode["part"], factory=run["factory"]))
        ds = ds.rename({"seed": "realization"})
        if mode["response"] is None:
            ds["balance_residual"].attrs["description"] = (
                "largest of |d<O_i>/dt - (-div_i j + tau_i)| and |-div_i j + tau_i| (the thermal state is stationary) over sites and "
                "polarizations, per realization (a check of the solve; zero to rounding)")
    else:
        ds = _assemble_transport(seeds, mode, rows, clean, run["factory"])
    ds["realization"].attrs.update(long_name="disorder realization (its seed)", units="1",
                                   description="the seed of each realization: orbsym.numeric.disorder.realize(clean, disorder, seed)")
    ds.attrs.update({
        "title": "orbsym disorder ensemble",
        "orbsym_version": __version__,
        "disorder": json.dumps([describe(t) for t in run["terms"]]),
        "disorder_fingerprint": json.dumps([disorder_digest(t) for t in run["terms"]]),
        "realizations": n,
        "seeds": json.dumps(seeds),
        "balance_tolerance": run["tol"],
        "fingerprint": run["fingerprint"],
        "clean_sample_sha256": lattice_digest(clean),
    })
    ds.attrs.update(run["attrs"])
    if tr is not None:
        solvers = sorted({str(r["region_solver"]) for r in rows if r is not None and "region_solver" in r})
        ds.attrs["engine"] = f"NEGF (orbsym.numeric.sites_transport.site_transport, region solver {'/'.join(solvers) or tr['solver']})"
    return ds


def _assemble_transport(seeds, mode, rows, clean, factory):
    import xarray as xr

    from .sweeps.core import _qualname
    from .sweeps.points import POLARIZATION_LABELS

    tr = mode["transport"]
    contacts = tr.get("contacts") is not None
    linear = tr["bias"] is None
    n = len(seeds)
    per_bias = " per unit bias V (V in t/e, e = 1)" if linear else ""
    driven = "response (d rho / dV, linear response)" if linear else f"total (equilibrium rho_eq(mu_R) + window) at bias V = {tr['bias']:g}"
    schema = {
        "conductance": ((), "e^2/h", "Landauer conductance G = int dE (-f'(E - mu)) Tr(Gamma_L G^r Gamma_R G^a) of the whole sample"),
        "landauer_current": ((), "t (particles per unit time, e = hbar = 1)" + per_bias,
                             "Landauer particle current (1/2pi) int dE T(E) (f_L - f_R), positive toward +x" + (" (= G / 2pi per unit bias)" if linear else "")),
        "density": (("polarization", "x", "row", "site"), "J (charge: particles), per site" + per_bias,
                    f"<c_i^dag J_alpha c_i> of the driven part, {driven}; 0 at a vacancy"),
        "boundary_current": (("polarization", "boundary"), "J t / hbar" + per_bias,
                             f"current of J_alpha through the boundary between x-cells b and b + 1 (every bond crossing it, summed over the width) of the driven part, {driven}"
                             + ("; b = -1: left lead -> x-cell 0, b = N_x - 1: x-cell N_x - 1 -> right lead (the contacts)" if contacts else "")),
        "layer_torque": (("polarization", "x"), "J t / hbar" + per_bias,
                         f"torque of x-cell (layer) x: sum over its sites of tau_i = on-site torque + hopping torques (sources) of the bonds at i, {driven}; "
                         "exact layer balance j(x - 1 | x) - j(x | x + 1) + tau(x) = 0 (steady state, no source term): the current lost in a layer is its torque"),
        "layer_torque_onsite": (("polarization", "x"), "J t / hbar" + per_bias,
                                "on-site part of layer_torque: sum over the layer of i <c_i^dag [eps_i, J_i] c_i> with the realization's on-site matrices "
                                "(exchange, crystal field, disorder); the hopping part is layer_torque - layer_torque_onsite"),
        "layer_torque_disorder": (("polarization", "x"), "J t / hbar" + per_bias,
                                  "part of layer_torque_onsite due to the disorder's on-site terms: i <c^dag [eps - eps_clean, J] c> summed over the layer, on the realization's state "
                                  "(0 for an orbital-independent potential, which commutes with J)"),
        "balance_residual": ((), "J t / hbar" + per_bias,
                             "larger of: the largest |d<O_i>/dt| = |-div_i j + tau_i| at the interior sites (outside the end slices) and the largest "
                             "|j(x - 1 | x) - j(x | x + 1) + tau(x)| at the interior layers, over every polarization (a check, zero to rounding)"),
        "boundary_mismatch": ((), "t (particles per unit time)" + per_bias,
                              "largest |charge boundary current - Landauer current| over the boundaries outside the end slices (a check, zero to rounding)"),
    }
    sizes = {"polarization": len(POLARIZATION_LABELS), "x": clean.N_x, "row": clean.rows, "site": len(clean.names),
             "boundary": clean.N_x + 1 if contacts else max(clean.N_x - 1, 0)}
    groups = {"layer_torque": ("layer_torque", "layer_torque_onsite", "layer_torque_disorder")}
    names = [v for o in TRANSPORT_OBSERVABLES if o in mode["observables"] for v in groups.get(o, (o,))]
    data = _stack_rows(rows, names + ["balance_residual", "boundary_mismatch"], schema, sizes, n)
    coords = {"realization": np.array(seeds, dtype=np.int64)}
    labels = {"polarization": np.array(POLARIZATION_LABELS, dtype=str), "x": np.arange(sizes["x"]), "row": np.arange(sizes["row"]),
              "site": np.array(clean.names, dtype=str), "boundary": np.arange(sizes["boundary"]) - (1 if contacts else 0)}
    used = {d for v in data.values() for d in v[0]}
    coords.update({d: v for d, v in labels.items() if d in used})
    ds = xr.Dataset(data, coords=coords)
    long = {"polarization": "charge (J = 1) or the site generators J_x, J_y, J_z",
            "x": "x-cell of the sample (one clean lead cell before x-cell 0 and after x-cell N_x - 1)" if contacts else "x-cell (leads attached at x-cell 0 and N_x - 1)",
            "row": "y-cell of the open width", "site": "site name inside the cell", "boundary": "boundary between x-cells b and b + 1 (labeled by b)"}
    for d, text in long.items():
        if d in ds.coords:
            ds[d].attrs.update(long_name=text, units="cells" if d in ("x", "row", "boundary") else "1", description=text)
    ds.attrs.update({
        "factory": _qualname(factory),
        "observables": json.dumps(list(mode["observables"])),
        "T": float(mode["T"]),
        "state": "transport between two clean semi-infinite leads: " + ("linear response to a bias (per unit bias)" if linear else f"finite bias V = {tr['bias']:g}"),
        "mu": float(tr["mu"]),
        "bias": float(tr["bias"]) if not linear else "none (linear response)",
        "bias_split": "symmetric: mu_L = mu + V/2, mu_R = mu - V/2 (orbsym.conventions, Transport)",
        "n_energy": int(tr["n_energy"]) if tr["n_energy"] is not None else "default",
        "left_lead": _lead_text(tr["left"], "left"),
        "right_lead": _lead_text(tr["right"], "right"),
        "contacts": ("one clean lead cell on each side of the sample is part of the solved lattice (the clean contact bonds; "
                     f"lattice sha256 {lattice_digest(tr['contacts'])[:16]}): every x-cell of the sample is interior") if contacts else "none",
        "units": "energies and T in t; conductance in e^2/h; densities in J (charge: particles); currents in J t / hbar (e = hbar = a = 1)"
                 + ("; densities and currents per unit bias" if linear else ""),
        "transverse_dimension": 0,
        "geometry": json.dumps(clean.describe(), default=repr),
        "conventions": "orbsym.conventions; site-resolved definitions: orbsym.numeric.sites (SiteObservables); transport: orbsym.numeric.sites_transport",
    })
    return ds


def _assemble_periodic(seeds, mode, rows, clean, factory):
    """The Dataset of an equilibrium or response ensemble of a periodic sample (Gamma-only supercells)."""
    import xarray as xr

    from .sweeps.core import _qualname
    from .sweeps.points import POLARIZATION_LABELS

    film = clean.transverse_dimension == 2
    R = clean.N_y * (clean.N_z or 1)
    resp = mode["response"]
    what = f"linear response ({mode['part']} part) to a uniform field E_{resp}, per unit force q E" if resp else "thermal equilibrium"
    per_force = " per unit force q E (e = hbar = a = 1)" if resp else ""
    rowtext = "transverse cell r = y N_z + z of the torus (films)" if film else "transverse cell r = y of the torus"
    schema = {
        "free_energy": ((), "t per transverse cell",
                        "grand potential F = -T sum_n ln(1 + exp(-E_n / T)) of the disordered torus (the Gamma-only supercell), divided by the "
                        f"R = {R} transverse cells (the normalization of the clean periodic lattice)"),
        "density": (("polarization", "x", "row", "site"), "J (charge: particles), per site" + per_force,
                    f"{what}: <c_i^dag J_alpha c_i> per site of the disordered torus (J = 1 for the charge; the site generators otherwise); "
                    f"row: {rowtext}; 0 at a vacancy"),
        "boundary_current": (("polarization", "boundary"), "J t / hbar per transverse cell" + per_force,
                             f"{what}: current of J_alpha through the boundary between x-cells b and b + 1, the sum of the bond currents "
                             f"(eom_end - eom_start) / 2 of every bond crossing it, positive toward +x, divided by the R = {R} transverse cells"),
        "balance_residual": ((), "J t / hbar" + per_force,
                             "largest |residual| of the per-site balance over the sites of the torus and the polarizations: "
                             + ("max of |d<O_i>/dt - (-div_i j + tau_i)| and |-div_i j + tau_i| (stationary thermal state)" if not resp
                                else "-div j + tau - eta <J> - D of the driven state (SiteResponse.max_abs_residual)")
                             + " (a check of the solve; zero to rounding)"),
    }
    n = len(seeds)
    sizes = {"polarization": len(POLARIZATION_LABELS), "x": clean.N_x, "row": R, "site": len(clean.names), "boundary": max(clean.N_x - 1, 0)}
    from .sweeps.sites import SITE_OBSERVABLES

    data = _stack_rows(rows, [o for o in SITE_OBSERVABLES if o in mode["observables"]] + ["balance_residual"], schema, sizes, n)
    coords = {"realization": np.array(seeds, dtype=np.int64)}
    labels = {"polarization": np.array(POLARIZATION_LABELS, dtype=str), "x": np.arange(sizes["x"]), "row": np.arange(R),
              "site": np.array(clean.names, dtype=str), "boundary": np.arange(sizes["boundary"])}
    used = {d for v in data.values() for d in v[0]}
    coords.update({d: v for d, v in labels.items() if d in used})
    ds = xr.Dataset(data, coords=coords)
    long = {"polarization": "charge (J = 1) or the site generators J_x, J_y, J_z", "x": "x-cell (stacking axis, open ends)", "row": rowtext,
            "site": "site name inside the cell", "boundary": "boundary between x-cells b and b + 1 (labeled by its left cell b)"}
    for d, text in long.items():
        if d in ds.coords:
            ds[d].attrs.update(long_name=text, units="cells" if d in ("x", "row", "boundary") else "1", description=text)
    if film:
        ds.coords["row_y"] = ("row", np.arange(R) // clean.N_z, {"units": "cells", "description": "y of the transverse cell r"})
        ds.coords["row_z"] = ("row", np.arange(R) % clean.N_z, {"units": "cells", "description": "z of the transverse cell r"})
    ds.attrs.update({
        "factory": _qualname(factory),
        "observables": json.dumps(list(mode["observables"])),
        "T": float(mode["T"]),
        "state": what,
        "engine": (f"kubo (SiteLattice.respond of the Gamma-only supercell, field E_{resp})" if resp
                   else f"{mode['engine']} (SiteLattice.solve of the Gamma-only supercell)"),
        "eta": float(mode["eta"]) if resp else "none (equilibrium)",
        "field": resp if resp else "none (equilibrium)",
        "part": mode["part"] if resp else "none (equilibrium)",
        "sample": (f"periodic (transverse dimension {clean.transverse_dimension}): every realization is the Gamma-only supercell of the "
                   f"N_x x {clean.N_y}" + (f" x {clean.N_z}" if film else "") + " torus (orbsym.numeric.disorder.supercell), periodic with the "
                   "period of the whole sample; k = 0 only"),
        "units": "energies and T in t; densities in J (charge: particles); currents in J t / hbar; free energy and boundary current per "
                 "transverse cell" + ("; response values per unit force q E" if resp else ""),
        "current": "boundary_current: the sum of the bond currents (eom_end - eom_start) / 2 of every bond crossing the boundary, positive "
                   "toward +x, per transverse cell",
        "transverse_dimension": int(clean.transverse_dimension),
        "transverse_cells": R,
        "geometry": json.dumps(clean.describe(), default=repr),
        "conventions": "orbsym.conventions; site-resolved definitions: orbsym.numeric.sites (SiteObservables); the supercell: orbsym.numeric.disorder",
    })
    return ds


def _statistics(run, ds):
    n = len(run["seeds"])
    checks = ("balance_residual", "boundary_mismatch")
    for var in [v for v in list(ds.data_vars) if v not in checks]:
        x = ds[var]
        mean = x.mean("realization")
        err = x.std("realization", ddof=1) / math.sqrt(n) if n > 1 else mean * np.nan
        units = x.attrs.get("units", "")
        ds[f"{var}_mean"] = mean.assign_attrs(units=units, description=f"ensemble average over {n} realizations of: {x.attrs.get('description', var)}")
        ds[f"{var}_stderr"] = err.assign_attrs(units=units, description=f"standard error s / sqrt(n) of {var}_mean (s: sample standard deviation, n = {n}; NaN for n = 1)")
    ds.attrs["max_balance_residual"] = float(np.max([float(ds[c].max()) for c in checks if c in ds]))
    return ds


def _stack_rows(rows, names, schema, sizes, n):
    """``{var: (dims, array, attrs)}``: each variable of the per-realization ``rows`` stacked along a leading
    ``realization`` axis (NaN where a row is missing), with its ``schema`` dims, units and description."""
    data = {}
    for var in names:
        dims, units, desc = schema[var]
        arr = np.full((n,) + tuple(sizes[d] for d in dims), np.nan)
        for i, r in enumerate(rows):
            if r is not None:
                arr[i] = r[var]
        data[var] = (("realization",) + dims, arr, {"units": units, "description": desc})
    return data
