"""Parameter sweeps over site lattices (:class:`orbsym.numeric.sites.SiteLattice`).

:func:`sweep_sites` runs ``factory(**point)`` on every point of a Cartesian grid of named parameters,
solves each lattice (:meth:`SiteLattice.solve`, equilibrium at temperature ``T``) or its linear response
to a uniform field (:meth:`SiteLattice.respond`), and returns one labeled :class:`xarray.Dataset`::

    free_energy       [grid...]                              F per transverse cell (equilibrium only)
    density           [grid..., polarization, x, row, site]  <c_i^dag J_alpha c_i> per site
    boundary_current  [grid..., polarization, boundary]      current through the boundary x | x + 1
    balance_residual  [grid...]                              largest per-site balance residual

Everything is checked in the parent before any point runs: the grid values (finite real numbers or
integers, no empty axis), every point's lattice (built here: milliseconds each) and that all points
share one geometry (``N_x``, rows, site names), and the resources of the whole sweep (the sum of the
per-point estimates, :meth:`SiteLattice.estimate` / :func:`orbsym.numeric.budget.kubo_estimate`).
Points then run through :func:`orbsym.execution.map_tasks` (serial, a local process pool, or any
``concurrent.futures`` executor); every point is computed by the same function on the same inputs, so
the numbers do not depend on the executor.

Conventions (:mod:`orbsym.conventions`, :class:`orbsym.numeric.sites.SiteObservables`): energies in units
of t, ``hbar = k_B = a = 1``; densities in units of ``J`` (charge: particles), currents in ``J t / hbar``;
in transverse dimensions 1 and 2 every quantity is per transverse cell (``row`` has one entry), for a
finite sample (dimension 0) ``row`` runs over the open width and the free energy and boundary current
are of the whole sample.  Responses are per unit force ``q E`` (:meth:`SiteLattice.respond`).
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import pickle

import numpy as np

from ... import execution
from ...execution import SerialExecutor, TaskError
from .core import SweepError, _qualname
from .points import POLARIZATION_LABELS

__all__ = ["sweep_sites", "SITE_OBSERVABLES", "check_observables", "point_estimate", "assemble_sites", "check_mode", "site_profiles", "run_site_point"]

#: Observables :func:`sweep_sites` can collect (``balance_residual`` is always stored).
SITE_OBSERVABLES = ("free_energy", "density", "boundary_current")
_POLS = (None, "x", "y", "z")  # in the order of POLARIZATION_LABELS ("charge", "x", "y", "z")
_ENGINES = ("dense", "greens")
_PARTS = ("total", "fermi_surface", "fermi_sea", "drive")


# ----------------------------------------------------------------------------- worker side
def run_site_point(factory, point, T, observables, response, eta, engine, part):
    """One point of :func:`sweep_sites` (module level: runs in the workers).

    Returns ``{variable: ndarray}``: ``free_energy`` (scalar), ``density`` ``(4, N_x, rows, n_sites)``,
    ``boundary_current`` ``(4, N_x - 1)`` (polarizations charge, x, y, z) as requested, and
    ``balance_residual`` (scalar): equilibrium, ``max |d<O_i>/dt - (-div_i j + tau_i)|`` over sites and
    polarizations; response, :attr:`SiteResponse.max_abs_residual` of the driven balance.
    """
    lat = factory(**point)
    out = {}
    if response is None:
        obs = lat.solve(T, engine=engine)
        out["balance_residual"] = np.array(max(float(np.abs(obs.continuity_residual(p)).max(initial=0.0)) for p in _POLS))
    else:
        resp = lat.respond(T, eta, field=response)
        obs = resp[part]
        out["balance_residual"] = np.array(float(resp.max_abs_residual))
    out.update(site_profiles(obs, lat, observables))
    return out


def site_profiles(obs, lat, observables):
    """The stored profiles of one solved point: ``free_energy`` (scalar), ``density`` ``(4, N_x, rows,
    n_sites)`` and ``boundary_current`` ``(4, N_x - 1)`` (polarizations charge, x, y, z), those requested."""
    out = {}
    if "free_energy" in observables:
        out["free_energy"] = np.array(float(obs.free_energy()))
    if "density" in observables:
        out["density"] = np.stack([obs.density(p) for p in _POLS])
    if "boundary_current" in observables:
        out["boundary_current"] = np.stack([obs.boundary_current(p) for p in _POLS]).reshape(len(_POLS), max(lat.N_x - 1, 0))
    return out


# ----------------------------------------------------------------------------- input checks
def _check_grid(grid):
    """``{name: list of values}``: names are identifiers, axes 1-D and non-empty, values finite reals or ints."""
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict {{name: sequence of values}}, got {type(grid).__name__}")
    if not grid:
        raise ValueError("grid is empty: a sweep needs at least one axis {name: values}")
    out = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid axis name {name!r} must be a Python identifier (it is passed as factory(**point))")
        if name in ("T", "eta"):
            raise ValueError(f"grid axis {name!r} is refused: {name} is the argument {name}= of sweep_sites, fixed for the whole sweep")
        try:
            ndim = np.ndim(values)
        except ValueError:  # ragged nesting
            ndim = -1
        if isinstance(values, (str, bytes, dict)) or ndim != 1:
            raise ValueError(f"grid axis {name!r}: values must be a 1-D sequence, got {values!r}")
        vals = []
        for k, v in enumerate(list(values)):
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, (numbers.Integral, numbers.Real)):
                raise ValueError(f"grid axis {name!r}: value {v!r} at position {k} is not a real number (allowed: finite floats or ints)")
            if isinstance(v, numbers.Integral):
                v = int(v)
            else:
                v = float(v)
                if not math.isfinite(v):
                    raise ValueError(f"grid axis {name!r}: value {v!r} at position {k} is not finite")
            vals.append(v)
        if not vals:
            raise ValueError(f"grid axis {name!r} has no values")
        out[name] = vals
    return out


def check_observables(observables, response):
    """The requested site observables as a tuple (checked: names from :data:`SITE_OBSERVABLES`, no
    ``free_energy`` with a response; the default with a response drops ``free_energy``)."""
    if observables is SITE_OBSERVABLES and response is not None:  # the default: everything a response has
        observables = tuple(o for o in SITE_OBSERVABLES if o != "free_energy")
    if isinstance(observables, str):
        observables = [observables]
    try:
        observables = list(observables)
    except TypeError:
        raise ValueError(f"observables must be a name or a list of names from {SITE_OBSERVABLES}, got {observables!r}") from None
    if not observables:
        raise ValueError(f"no observables requested; allowed: {', '.join(SITE_OBSERVABLES)}")
    out = []
    for o in observables:
        if o not in SITE_OBSERVABLES:
            raise ValueError(f"unknown site observable {o!r}; allowed: {', '.join(SITE_OBSERVABLES)}")
        if o == "free_energy" and response is not None:
            raise ValueError("observable 'free_energy' is an equilibrium quantity; it is not available with response=... (drop it)")
        if o not in out:
            out.append(o)
    return tuple(out)


def _uses_processes(executor, workers):
    """Whether points are pickled to other processes by a pool this module knows (the factory must then
    be picklable: checked up front).  A user executor is used as is (a thread pool needs no pickling; a
    dask or process executor that cannot send the factory fails point by point, as in :func:`sweep`)."""
    import concurrent.futures as cf

    if executor is None:
        return workers > 1
    if executor == "process":
        return True
    return isinstance(executor, (cf.ProcessPoolExecutor, execution.ProcessPool))


def _geometry(lat):
    return {
        "transverse_dimension": lat.transverse_dimension,
        "N_x": lat.N_x,
        "rows": lat.rows if lat.transverse_dimension == 0 else 1,
        "sites": tuple(lat.names),
    }


def _point_text(point):
    return ", ".join(f"{k}={v!r}" for k, v in point.items())


def point_estimate(lat, response):
    """Resource estimate (:mod:`orbsym.numeric.budget`) of one solve (``response=None``) or Kubo response of ``lat``."""
    from ...numeric.budget import film_estimate, kubo_estimate

    if response is None:
        return lat.estimate("bloch")
    one = kubo_estimate(lat.n_slices, lat.slice_N_y, lat.slice_states, symmetric=False)
    if lat.transverse_dimension == 2:
        return film_estimate(one, lat.slices, vectors=True, n_sectors=lat.N_z)
    return one


def check_mode(response, eta, engine, part):
    """Check the equilibrium / response options of a site-lattice job; returns ``eta`` (float or None).

    Equilibrium (``response=None``): no ``eta``, an engine of ``dense``/``greens``, ``part="total"``;
    response (``"y"``/``"z"``): a finite ``eta > 0`` (the engine and part are checked by the caller).
    """
    if response is not None and response not in ("y", "z"):
        raise ValueError(f"response must be None (equilibrium) or a field direction 'y' or 'z', got {response!r}")
    if response is None:
        if eta is not None:
            raise ValueError(f"eta = {eta!r} given without response=...: eta is the relaxation rate of a linear response; give response='y' or 'z', or drop eta")
        if engine not in _ENGINES:
            raise ValueError(f"unknown engine {engine!r}; allowed: {', '.join(_ENGINES)}")
        if part != "total":
            raise ValueError(f"part = {part!r} needs response=...; an equilibrium solve has no response parts")
        return None
    if eta is None or isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not (math.isfinite(float(eta)) and float(eta) > 0):
        raise ValueError(f"response={response!r} needs eta, a finite relaxation rate > 0 (units of t), got {eta!r}")
    return float(eta)


# ----------------------------------------------------------------------------- the sweep
def sweep_sites(factory, grid, T, observables=SITE_OBSERVABLES, response=None, eta=None, executor=None, workers=1, progress=False, *, engine="dense", part="total"):
    """Solve (or drive) a site lattice on every point of a parameter grid; one labeled Dataset.

    Parameters
    ----------
    factory : callable
        ``factory(**point) -> SiteLattice``.  Picklable (a module-level function or a
        :func:`functools.partial` of one) when points run in other processes (``workers > 1`` or a
        process / dask executor), as for :func:`orbsym.workflows.sweeps.sweep` (checked up front for the
        local process pools).  It is called twice per point: once in the parent (checks and estimate;
        the lattice is then dropped) and once where the point runs.
    grid : dict
        ``{name: 1-D sequence}``: the Cartesian product, in this axis order (the first axis varies
        slowest); values finite real numbers or integers (ints stay ints: ``factory`` gets them as given).
    T : float
        Temperature (units of t), ``T >= 0``, for every point.
    observables : str or sequence of str
        From ``free_energy`` (equilibrium only), ``density``, ``boundary_current``.
        ``balance_residual`` is always stored.  The default is all three (with ``response``: the
        last two; ``free_energy`` asked for explicitly with a response is refused).
    response : {None, "y", "z"}
        None: the thermal state (:meth:`SiteLattice.solve`).  ``"y"``/``"z"``: the linear response to a
        uniform field along that periodic direction (:meth:`SiteLattice.respond`), per unit force ``q E``.
    eta : float, optional
        Relaxation rate ``hbar eta > 0`` (units of t); required with ``response``, refused without.
    executor : None, "serial", "process" or concurrent.futures.Executor
        None: serial for ``workers == 1``, else a local process pool (``spawn``, one BLAS thread per
        worker; scripts need the ``if __name__ == "__main__":`` guard), shut down afterwards.
    workers : int
        Processes of the local pool (or the size of a user executor).
    progress : bool
        tqdm progress bar on stderr.
    engine : {"dense", "greens"}
        Equilibrium solver (:meth:`SiteLattice.solve`); the response always uses the Kubo engine.  The
        resource check uses the dense estimate for both (an upper bound for ``"greens"``).
    part : {"total", "fermi_surface", "fermi_sea", "drive"}
        Response part whose densities and currents are stored (:class:`SiteResponse`).

    Returns
    -------
    xarray.Dataset
        Dimensions: the grid axes (coordinates = the values), ``polarization`` (charge, x, y, z), ``x``
        (cells ``0 .. N_x - 1``), ``row`` (open width of a finite sample; one entry per transverse cell
        otherwise), ``site`` (site names), ``boundary`` (boundary ``b`` between cells ``b`` and ``b + 1``).
        Variables (each with ``units`` and ``description``):

        * ``free_energy`` ``[grid]``: grand potential ``F = -T sum ln(1 + e^{-E/T})`` (``mu`` in the on-site
          matrices) per transverse cell (dimension 0: of the whole sample), units of t;
        * ``density`` ``[grid, polarization, x, row, site]``: ``<c_i^dag J_alpha c_i>`` (charge: particles);
        * ``boundary_current`` ``[grid, polarization, boundary]``: the sum of the bond currents of every
          bond crossing the boundary (:meth:`SiteObservables.boundary_current`; summed over the width of a
          finite sample, per transverse cell otherwise);
        * ``balance_residual`` ``[grid]``: the largest per-site continuity residual of the point (a check
          of the solve, zero to rounding).

        ``attrs``: engine, ``T``, ``eta``, ``field``, ``part``, the factory, the grid axes, the geometry
        (:meth:`SiteLattice.describe` of the first point, JSON), conventions and which current is stored.

    Raises
    ------
    ValueError
        A bad grid (empty axis, non-finite or non-real value), bad options, a point whose factory
        fails or returns no SiteLattice, points with different geometries (the first differing point
        is named), an unpicklable factory for a process pool, or a sweep whose estimated memory or
        total CPU time exceeds the limits (:class:`orbsym.numeric.budget.ResourceError`, with the
        estimate) -- all before any point runs.
    TypeError
        ``factory`` is not callable, ``grid`` is not a dict.
    SweepError
        Some points failed while running (listed with their parameters); ``err.dataset`` holds the
        others (NaN at the failed points).

    Examples
    --------
    >>> ds = sweep_sites(make_lattice, {"mu": [-0.5, 0.0, 0.5]}, T=0.05)     # doctest: +SKIP
    >>> ds.density.sel(mu=0.0, polarization="charge")                         # doctest: +SKIP
    """
    from ...numeric.budget import check_resources
    from ...numeric.sites import SiteLattice
    from ...numeric.thermo import check_temperature

    if not callable(factory):
        raise TypeError(f"factory must be a callable factory(**point) -> SiteLattice, got {factory!r}")
    axes = _check_grid(grid)
    T = check_temperature(T)
    eta = check_mode(response, eta, engine, part)
    if response is not None:
        if engine != "dense":
            raise ValueError(f"engine = {engine!r} applies to equilibrium solves; the response always uses the Kubo engine (leave engine='dense')")
        if part not in _PARTS:
            raise ValueError(f"unknown response part {part!r}; allowed: {', '.join(_PARTS)}")
    obs = check_observables(observables, response)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    workers = int(workers)
    if (isinstance(executor, str) and executor not in ("serial", "process")) or not (executor is None or isinstance(executor, str) or hasattr(executor, "submit")):
        raise ValueError(f"unknown executor {executor!r}; allowed: None, 'serial', 'process', or a concurrent.futures.Executor")
    if _uses_processes(executor, workers):
        try:
            pickle.dumps(factory)
        except Exception as exc:  # noqa: BLE001 - PicklingError, AttributeError, TypeError... by object
            raise ValueError(
                f"factory {_qualname(factory)} cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                "use a module-level function or functools.partial of one, or workers=1 / executor='serial'"
            ) from None

    names = list(axes)
    points = [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]

    # every point built in the parent: geometry and resources, before any point runs
    ref = ref_point = ref_lat = None
    total = None
    for p in points:
        try:
            lat = factory(**p)
        except Exception as exc:  # noqa: BLE001 - reported with the point's values
            raise ValueError(f"sweep point {_point_text(p)}: factory failed ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
        if not isinstance(lat, SiteLattice):
            raise ValueError(f"sweep point {_point_text(p)}: factory returned {type(lat).__name__}, not a SiteLattice")
        geo = _geometry(lat)
        if ref is None:
            ref, ref_point, ref_lat = geo, p, lat
        elif geo != ref:
            diff = [f"{k} {geo[k]!r} (first point: {ref[k]!r})" for k in ref if geo[k] != ref[k]]
            raise ValueError(
                f"sweep point {_point_text(p)} has another geometry than the first point {_point_text(ref_point)}: "
                f"{'; '.join(diff)}; all points of a site sweep must share N_x, the rows and the sites"
            )
        if response is not None:
            lat._field_axis(response)  # a field along an open direction is refused here, not in a worker
        est = point_estimate(lat, response)
        total = est if total is None else total + est
    n_workers = 1 if executor == "serial" or isinstance(executor, SerialExecutor) or (executor is None and workers == 1) else workers
    check_resources(
        total, what=f"the site sweep of {len(points)} points", workers=n_workers,
        hint="use fewer grid points, fewer cells or a coarser k grid",
    )

    tasks = [(factory, p, T, obs, response, eta, engine, part) for p in points]
    failures = None
    try:
        results = execution.map_tasks(run_site_point, tasks, executor=executor, workers=workers, progress=progress, desc="orbsym site sweep", labels=points)
    except TaskError as err:
        results, failures = err.results, err.failures
    ds = assemble_sites(axes, obs, results, ref_lat, dict(T=T, eta=eta, response=response, engine=engine, part=part, factory=factory))
    if failures:
        raise SweepError(failures, ds, len(points))
    return ds


# ----------------------------------------------------------------------------- assembly
_CONVENTIONS = "energies in units of t, hbar = k_B = a = 1; see orbsym.conventions and orbsym.numeric.sites.SiteObservables"


def assemble_sites(axes, obs, results, lat, run):
    """The labeled Dataset of a site sweep: ``results`` (one dict per grid point, None if failed) on the grid
    ``axes`` with the geometry of ``lat`` and the run options ``run`` (T, eta, response, engine, part, factory)."""
    import xarray as xr

    from ... import __version__

    dim0 = lat.transverse_dimension == 0
    per = "of the whole sample" if dim0 else "per transverse cell"
    shape = tuple(len(v) for v in axes.values())
    sizes = {"polarization": len(POLARIZATION_LABELS), "x": lat.N_x, "row": lat.rows if dim0 else 1, "site": len(lat.names), "boundary": max(lat.N_x - 1, 0)}
    resp = run["response"]
    what = f"linear response ({run['part']} part) to a uniform field E_{resp}, per unit force q E" if resp else "thermal equilibrium"
    per_force = " per unit force q E (e = hbar = a = 1)" if resp else ""
    schema = {
        "free_energy": ((), "t " + per, f"grand potential F = -T sum_n ln(1 + exp(-E_n / T)) (mu in the on-site matrices) {per}"),
        "density": (("polarization", "x", "row", "site"), "J (charge: particles), per site" + per_force,
                    f"{what}: <c_i^dag J_alpha c_i> per site (J = 1 for the charge; the site generators otherwise); "
                    + ("row: y-cell of the open width" if dim0 else "per transverse cell (row: one entry)")),
        "boundary_current": (("polarization", "boundary"), "J t / hbar" + per_force,
                             f"{what}: current of J_alpha through the boundary between cells b and b + 1, the sum of the bond "
                             f"currents of every bond crossing it (SiteObservables.boundary_current), {'summed over the width' if dim0 else 'per transverse cell'}"),
        "balance_residual": ((), "J t / hbar",
                             "largest |residual| of the per-site balance over sites and polarizations: "
                             + ("d<O_i>/dt - (-div_i j + tau_i) of the thermal state" if not resp else "-div j + tau - eta <J> - D of the driven state (SiteResponse.max_abs_residual)")
                             + " (a check of the solve; zero to rounding)"),
    }
    data_vars = {}
    for var in [o for o in SITE_OBSERVABLES if o in obs] + ["balance_residual"]:
        dims, units, desc = schema[var]
        arr = np.full(shape + tuple(sizes[d] for d in dims), np.nan)
        for i, r in enumerate(results):
            if r is not None:
                arr[np.unravel_index(i, shape)] = r[var]
        data_vars[var] = (tuple(axes) + dims, arr, {"units": units, "description": desc})
    coords = {n: (np.array(v, dtype=np.int64) if all(isinstance(x, int) for x in v) else np.array(v, dtype=float)) for n, v in axes.items()}
    used = {d for v in data_vars.values() for d in v[0]}
    labels = {
        "polarization": np.array(POLARIZATION_LABELS, dtype=str),
        "x": np.arange(sizes["x"]),
        "row": np.arange(sizes["row"]),
        "site": np.array(lat.names, dtype=str),
        "boundary": np.arange(sizes["boundary"]),
    }
    coords.update({d: labels[d] for d in labels if d in used})
    ds = xr.Dataset(data_vars, coords=coords)
    long_names = {
        "polarization": "charge (J = 1) or the site generators J_x, J_y, J_z",
        "x": "x-cell (stacking axis, open ends)",
        "row": "y-cell of the open width" if dim0 else "one entry: per transverse cell (periodic y; films: y and z)",
        "site": "site name inside the cell",
        "boundary": "boundary between x-cells b and b + 1 (labeled by its left cell b)",
    }
    for d, text in long_names.items():
        if d in ds.coords:
            ds[d].attrs["long_name"] = text
    ds.attrs = {
        "title": "orbsym site-lattice parameter sweep",
        "orbsym_version": __version__,
        "factory": _qualname(run["factory"]),
        "sweep_axes": json.dumps(list(axes)),
        "observables": json.dumps(list(obs)),
        "T": float(run["T"]),
        "state": what,
        "engine": "kubo (SiteLattice.respond)" if resp else f"{run['engine']} (SiteLattice.solve)",
        "eta": float(run["eta"]) if resp else "none (equilibrium)",
        "field": resp if resp else "none (equilibrium)",
        "part": run["part"] if resp else "none (equilibrium)",
        "units": "energies and T in t; densities in J (charge: particles); currents in J t / hbar"
                 + ("; response values per unit force q E" if resp else ""),
        "current": f"boundary_current: the sum of the bond currents (eom_end - eom_start) / 2 of every bond crossing the boundary, "
                   f"positive toward +x, {'summed over the width' if dim0 else 'per transverse cell'}",
        "transverse_dimension": int(lat.transverse_dimension),
        "geometry": json.dumps(lat.describe(), default=repr),
        "conventions": _CONVENTIONS + ("; finite sample: free energy and boundary current of the whole sample" if dim0 else "; per transverse cell"),
    }
    return ds
