"""Parameter sweeps: labeled results, any ``concurrent.futures`` executor, resumable chunked storage.

A sweep is the Cartesian product of named axes (``{"theta": [...], "phi": [...]}``) over any
parameter of a system recipe (:mod:`orbsym.workflows.sweeps.points`).  Points are grouped into chunks; each
chunk is one task ``run_chunk(spec, points, ...)`` run by the execution layer :mod:`orbsym.execution`
(bounded submission window, lost tasks re-run on a fresh pool, one progress-bar policy) on a
:class:`concurrent.futures.Executor`:

* ``"serial"`` -- in this process (default for tiny sweeps);
* ``"process"`` -- a local :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn`` context, one
  BLAS thread per worker; default for larger sweeps).  Scripts that use it need the usual
  ``if __name__ == "__main__":`` guard;
* any user executor, e.g. ``dask.distributed.Client(...).get_executor()`` on a laptop
  (``LocalCluster``) or a real cluster (``Client("tcp://scheduler:8786")``; install orbsym on the
  workers; dask's nanny already starts workers with ``OMP_NUM_THREADS=1``).

Every point is computed by the same function on the same inputs, and results are placed by point
index, so the numbers and their order do not depend on the executor, the worker count or the
chunking.

With ``out="F.nc"`` each completed chunk is written atomically to ``F.nc.parts/``, carrying the
sweep's fingerprint (:mod:`orbsym.workflows.sweeps.store`: a chunk is reused only when it proves it
belongs to this sweep; one run owns the directory at a time); re-running the same sweep computes
only the missing points, then writes ``F.nc`` atomically (NetCDF3 via xarray's scipy backend) and
removes the parts directory.  A point that raises is reported (:class:`SweepError`, with its
parameters) and left out; the others are kept.  Inputs are checked in the parent before any point
runs (:mod:`orbsym.workflows.sweeps.inputs`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path

import numpy as np

from ... import execution
from ...execution import BLAS_ENV, SerialExecutor, TaskError
from ...numeric.infinite import DEFAULT_TOL, METHODS as NY_INF_METHODS
from .estimate import check_sweep_resources
from .inputs import (
    GEOMETRIES,
    canonical_values,
    check_film_observables,
    check_names,
    check_points,
    check_size,
    check_values,
    is_film_sweep,
    parse_axes,
    system_spec,
)
from .points import (
    ANGLE_PARAMETERS,
    AXIS_LABELS,
    FILM_TORQUE_TERMS,
    POLARIZATION_LABELS,
    TORQUE_TERMS,
    observable_schema,
    parse_observable,
    run_chunk,
    worker_init,
)

from .store import SweepStateError, Store, fingerprint as _store_fingerprint

__all__ = ["sweep", "estimate_sweep", "save", "load", "SweepError", "SweepStateError", "SerialExecutor", "process_executor", "GEOMETRIES", "BLAS_ENV"]
#: Sweeps estimated below this many seconds run serially when no executor is given.
SERIAL_SECONDS = 2.0
#: Target duration of one task (points per chunk follow from the cost estimate).
TASK_SECONDS = 0.5
_SECONDS_PER_UNIT = 1e-9  # ~ time of eigvalsh per (N_x dim)^3 per k-point on one core
_UNITS = {
    "free_energy": "t per row (F / N_y)",
    "free_energy_error": "t per row",
    "particle_number": "electrons per row",
    "rkky_J": "t per row (F_AP - F_P)",
    "F_P": "t per row",
    "F_AP": "t per row",
    "levels": "t (single-particle energies E_n(k), measured from the point's mu)",
    "k_weight": "k-point weight (sums to N_y)",
}


_DESCRIPTIONS = {
    "free_energy": "grand potential (Eq. 13)",
    "free_energy_error": "estimated error of the N_y = infinity k integral of the free energy",
    "particle_number": "number of electrons per row",
    "rkky_J": "RKKY coupling J = F_AP - F_P per row (Fig. 5; m_R antiparallel minus parallel to m_L)",
    "F_P": "grand potential per row with m_R parallel to m_L",
    "F_AP": "grand potential per row with m_R antiparallel to m_L",
    "levels": "single-particle energies E_n(k) of the point (measured from its mu)",
    "k_weight": "weight of each k point in the sums (sums to N_y)",
    "density": "<c_n^dag J_alpha c_n> per site (charge: particles per site), per column x",
}


def describe_variable(var):
    """The ``description`` attribute of a sweep variable (names of :func:`points.observable_schema`)."""
    if var in _DESCRIPTIONS:
        return _DESCRIPTIONS[var]
    if var.startswith("current_"):
        kind, _, direction = var[len("current_"):].rpartition("_")
        what = {"bond": "bond current (the antisymmetric part of the bond's equation of motion; along x: per x-bond (x, x+1), "
                        "the slice-boundary total of every bond crossing it)",
                "eq7": "the paper's Eq. 7 site current (central difference)", "proper": "proper (conserved) current: bond current plus torque dipole"}
        return f"{what.get(kind, kind + ' current')} of J_alpha along {direction}, per row"
    if var.startswith("torque_"):
        return f"torques ({var[len('torque_'):]} decomposition) on J_alpha per site: exchange (on-site), bond_x, bond_y (hopping torques) and their total"
    return var.replace("_", " ")


class SweepError(TaskError):
    """Some points of a sweep failed; the others are computed and kept.

    The error policy of :class:`orbsym.execution.TaskError` (failed points listed with their
    parameters).

    Attributes
    ----------
    failures : list of dict
        ``{"index", "point", "error"}`` per failed point (``point``: its parameter values).
    dataset : xarray.Dataset
        The result with NaN at the failed points (not written to ``out``).
    """

    what = "sweep points"

    def __init__(self, failures, dataset, n_points):
        self.dataset = dataset
        super().__init__(failures, n_points)


def process_executor(workers):
    """Local process pool with ``workers`` processes (``spawn``), one BLAS thread each (alias of
    :func:`orbsym.execution.process_pool`; the workers also carry the sweeps' initializer).

    Usable on its own to keep warm workers across several sweeps::

        with process_executor(2) as ex:
            a = sweep("bilayer", {...}, executor=ex, workers=2)
            b = sweep("bilayer", {...}, executor=ex, workers=2)

    Scripts need the ``if __name__ == "__main__":`` guard (spawned workers import ``__main__``).
    """
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return execution.process_pool(int(workers), initializer=worker_init, initargs=(dict(BLAS_ENV),))


# ----------------------------------------------------------------------------- inputs (see .inputs)
def _coord(values):
    if isinstance(values[0], str):
        return np.array(values, dtype=str)
    if all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=float)


def _estimate_seconds(spec, axes, n_points):
    def biggest(name, default):
        vals = axes.get(name, [spec.fixed.get(name, default)])
        nums = [float(v) for v in vals if not isinstance(v, str)]
        return max(nums) if nums else float(default)

    from ...conventions import PAPER_PARAMETERS

    N_x = biggest("N_x", PAPER_PARAMETERS["N_x"])
    N_y = biggest("N_y", PAPER_PARAMETERS["N_y"])
    nk = 3000 if math.isinf(N_y) else N_y / 2 + 1
    N_z = [int(v) for v in axes.get("N_z", [spec.fixed.get("N_z")]) if isinstance(v, (int, np.integer))]
    sectors = max(N_z) // 2 + 1 if N_z else 1  # films: one 2D solve per k_z sector
    return n_points * nk * sectors * (3 * N_x) ** 3 * _SECONDS_PER_UNIT


def _planned_workers(executor, workers):
    """Processes that will run points at once (sizes the time and memory check of the whole sweep)."""
    if workers is not None:
        return int(workers)
    if executor == "serial" or isinstance(executor, SerialExecutor):
        return 1
    if executor is None or executor == "process":
        return int(os.cpu_count() or 1)
    return 1  # a user executor of unknown size


def _default_chunk(spec, axes, n_missing, n_workers):
    """About ``TASK_SECONDS`` of work per task, at least ``4 n_workers`` tasks (load balance)."""
    if n_missing == 0:
        return 1
    per_point = _estimate_seconds(spec, axes, 1)
    by_time = max(1, int(TASK_SECONDS / max(per_point, 1e-6)))
    by_balance = max(1, math.ceil(n_missing / (4 * n_workers)))
    return max(1, min(by_time, by_balance, 64))


def _fingerprint(spec, axes, observables, tol, method="auto"):
    """``(sha256, canonical JSON)`` of everything that determines the numbers (:mod:`.store`)."""
    from ... import __version__

    infinite = any(v == math.inf for v in axes.get("N_y", []) if not isinstance(v, str)) or spec.fixed.get("N_y") == math.inf
    doc = {
        "orbsym_version": __version__,
        "geometry": spec.geometry,
        "factory": None if spec.factory is None else _qualname(spec.factory),
        "fixed": spec.fixed,
        "axes": axes,
        "observables": [":".join(p for p in o if p) for o in observables],
        "tol": tol,
    }
    if infinite:
        doc["ny_inf_method"] = method
    if getattr(spec, "engine", "auto") != "auto":  # "auto" keeps the fingerprints of older sweeps
        doc["engine"] = spec.engine
    if spec.factory is not None:  # a factory may tell 1 from 1.0: keep the types in the fingerprint
        doc["types"] = {
            "axes": {n: sorted({type(v).__name__ for v in vals}) for n, vals in axes.items()},
            "fixed": {n: type(v).__name__ for n, v in spec.fixed.items()},
        }
    return _store_fingerprint(doc)


def _qualname(fn):
    import functools

    if isinstance(fn, functools.partial):
        return f"partial({_qualname(fn.func)}, {fn.args!r}, {sorted(fn.keywords.items())!r})"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


# ----------------------------------------------------------------------------- assembly
_DIM_LABELS = {"polarization": POLARIZATION_LABELS, "axis": AXIS_LABELS, "torque_term": TORQUE_TERMS}


def _assemble(axes, schema, results, attrs):
    import xarray as xr

    film = "N_z" in attrs
    labels_of = dict(_DIM_LABELS, torque_term=FILM_TORQUE_TERMS) if film else _DIM_LABELS
    shape = tuple(len(v) for v in axes.values())
    sizes = dict((d, len(labels)) for d, labels in labels_of.items())
    for var, dims in schema:
        for d in dims:
            if d not in labels_of:  # x, x_bond, k, level: sized by the results
                pos = dims.index(d)
                sizes[d] = max([sizes.get(d, 0)] + [r[var].shape[pos] for r in results.values() if var in r])
    data_vars = {}
    for var, dims in schema:
        arr = np.full(shape + tuple(sizes[d] for d in dims), np.nan)
        for i, r in results.items():
            if var in r:
                a = r[var]
                arr[np.unravel_index(i, shape) + tuple(slice(0, n) for n in a.shape)] = a
        vattrs = {"units": _UNITS.get(var, "units of t (conventions: orbsym.conventions)")}
        if film:
            vattrs = {"units": _film_units(var)}
        vattrs["description"] = describe_variable(var)
        data_vars[var] = (tuple(axes) + tuple(dims), arr, vattrs)
    coords = {name: _coord(vals) for name, vals in axes.items()}
    used = {d for _, dims in schema for d in dims}
    for d in used:
        if d in labels_of:
            coords[d] = np.array(labels_of[d], dtype=str)
        else:
            coords[d] = np.arange(sizes[d])
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    if "x_bond" in ds.coords:
        ds["x_bond"].attrs["long_name"] = "boundary between columns x and x+1 (every bond crossing it; the x-bond of nearest-neighbour models), labeled by its left column x"
    if "x" in ds.coords:
        ds["x"].attrs["long_name"] = "column x (open ends; NaN beyond N_x - 1 when N_x is swept)"
    return ds


def _film_units(var):
    """Units of a film sweep's variable: per transverse cell (``a^2`` of one column) instead of per row."""
    u = _UNITS.get(var)
    if u is None:
        return "units of t, per site = per transverse cell a^2 of one column (conventions: orbsym.conventions)"
    return u.replace("per row (F / N_y)", "per transverse cell (F / (N_y N_z))").replace("per row", "per transverse cell")


def _attrs(spec, axes, observables, tol, fingerprint):
    from ... import __version__

    defaults = {}
    if spec.factory is None:
        import inspect

        sig = inspect.signature(spec.constructor())
        defaults = {p.name: p.default for p in sig.parameters.values() if p.default is not inspect.Parameter.empty}
    params = {k: v for k, v in defaults.items() if k not in axes}
    params.update({k: v for k, v in spec.fixed.items() if k not in axes})
    if "T" not in axes:
        from ...conventions import PAPER_PARAMETERS

        params["T"] = spec.fixed.get("T", PAPER_PARAMETERS["T"])
    attrs = {
        "title": "orbsym parameter sweep",
        "orbsym_version": __version__,
        "geometry": spec.geometry,
        "sweep_axes": json.dumps(list(axes)),
        "parameters": json.dumps(params, sort_keys=True, default=repr),
        "observables": json.dumps([":".join(p for p in o if p) for o in observables]),
        "interface": "swept" if "interface" in axes else str(params.get("interface", "see parameters")),
        "conventions": "energies in units of t, hbar = k_B = a = 1; free energies per row; see orbsym.conventions",
        "fingerprint": fingerprint,
        "engine_requested": getattr(spec, "engine", "auto"),
    }
    if spec.factory is not None:
        attrs["factory"] = _qualname(spec.factory)
    if is_film_sweep(axes, spec.fixed):
        attrs["N_z"] = "swept" if "N_z" in axes else int(spec.fixed["N_z"])
        attrs["film"] = "periodic in y and z (N_y x N_z k grid); every quantity per transverse cell a^2 of one column"
        attrs["conventions"] = "energies in units of t, hbar = k_B = a = 1; films: free energies, particle numbers, densities, currents and torques per transverse cell; see orbsym.conventions"
    if any(math.isinf(v) for v in axes.get("N_y", []) if not isinstance(v, str)) or spec.fixed.get("N_y") == math.inf:
        attrs["k_integral_tol"] = float(tol)
    return attrs


def save(ds, path):
    """Write a sweep Dataset to NetCDF (NetCDF3 via xarray's scipy backend), atomically.

    Complex variables are stored as ``<name>_real`` and ``<name>_imag`` (NetCDF3 has no complex
    type) and recombined by :func:`load`.
    """
    from ...io import atomic_path

    out = ds.copy()
    for name in list(out.data_vars):
        if np.iscomplexobj(out[name].values):
            v = out[name]
            out[f"{name}_real"] = v.real.assign_attrs({**v.attrs, "complex_part": "real", "complex_of": name})
            out[f"{name}_imag"] = v.imag.assign_attrs({**v.attrs, "complex_part": "imag", "complex_of": name})
            out = out.drop_vars(name)
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")


def load(path):
    """Read a sweep written by :func:`save` / :func:`sweep` into memory (complex parts recombined)."""
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise ValueError(f"sweep file {str(p)!r} does not exist")
    if not p.is_file():
        raise ValueError(f"sweep file {str(p)!r} is not a file")
    try:
        with xr.open_dataset(p, engine="scipy") as ds:
            ds = ds.load()
    except Exception as exc:  # noqa: BLE001 - scipy's reader fails with IndexError, TypeError, ValueError... on a bad file
        raise SweepStateError(
            f"sweep file {str(p)!r} is not a readable NetCDF3 file ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            f"it is truncated or was not written by orbsym -- re-run the sweep that made it (its output is rewritten) or restore a copy"
        ) from None
    for name in list(ds.data_vars):
        if name in ds.data_vars and ds[name].attrs.get("complex_part") == "real":
            base = ds[name].attrs["complex_of"]
            imag = ds[f"{base}_imag"]
            attrs = {k: v for k, v in ds[name].attrs.items() if k not in ("complex_part", "complex_of")}
            ds[base] = (ds[name] + 1j * imag).assign_attrs(attrs)
            ds = ds.drop_vars([name, f"{base}_imag"])
    return ds


# ----------------------------------------------------------------------------- the sweep
def _checked_inputs(system, axes, observables, params, executor, workers, chunk_size, tol, ny_inf_method, engine):
    """Every input check of :func:`sweep` (nothing runs): the canonical spec, axes, observables..."""
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params must be a dict {{name: value}} of fixed parameters, got {params!r}")
    params = dict(params or {})
    spec = system_spec(system, params)
    axes = parse_axes(axes, lambda: _estimate_seconds(spec, {}, 1))
    check_names(spec, list(axes), "sweep parameter")
    check_names(spec, list(params), "fixed parameter")
    check_values(axes, params)
    axes, params = canonical_values(spec, axes, params)
    if ny_inf_method not in NY_INF_METHODS:
        raise ValueError(f"unknown N_y = inf method {ny_inf_method!r}; allowed: {', '.join(NY_INF_METHODS)}")
    from ...numeric.checks import check_name
    from ...numeric.engines import ENGINES

    spec = type(spec)(spec.geometry, spec.factory, dict(params), ny_inf_method, check_name("engine", engine, ENGINES))
    both = [n for n in axes if n in params]
    if both:
        raise ValueError(f"parameter {both[0]!r} is both swept (axes) and fixed (params); give it in one place")
    for geo, angles in ANGLE_PARAMETERS.items():
        if spec.geometry == geo:
            for a, (target, _) in angles.items():
                if a in axes and target in axes:
                    raise ValueError(f"sweep either the angle {a!r} or the magnetization {target!r}, not both")
    if isinstance(observables, str):
        observables = [observables]
    if observables is None or not hasattr(observables, "__iter__"):
        raise ValueError(f"observables must be a name or a list of names, got {observables!r}; allowed: free_energy, particle_number, densities, currents, torques, rkky")
    observables = list(observables)
    if not observables:
        raise ValueError("no observables requested; allowed: free_energy, particle_number, densities, currents, torques, rkky")
    parsed = []
    for o in observables:
        p = parse_observable(o)
        if p not in parsed:
            parsed.append(p)
    film = is_film_sweep(axes, params)
    check_film_observables(parsed, film)
    if any(p[0] == "rkky" for p in parsed) and spec.geometry == "bilayer":
        raise ValueError("observable 'rkky' needs the trilayer geometry (J = F_AP - F_P between two FMs)")
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive number, got {tol!r}") from None
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    infinite = any(v == math.inf for v in axes.get("N_y", []) if not isinstance(v, str)) or params.get("N_y") == math.inf
    if film and infinite:
        Nz = f"N_z = {params['N_z']}" if "N_z" in params else f"N_z swept over {axes['N_z']}"
        raise ValueError(f"N_y = inf is not available for films yet ({Nz}); give a finite N_y")
    schema = [s for o in parsed for s in observable_schema(o, infinite)]
    if (isinstance(executor, str) and executor not in ("serial", "process")) or not (executor is None or isinstance(executor, str) or hasattr(executor, "submit")):
        raise ValueError(f"unknown executor {executor!r}; allowed: 'serial', 'process', or a concurrent.futures.Executor (e.g. dask client.get_executor())")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")

    names = list(axes)
    shape = tuple(len(v) for v in axes.values())
    columns = [v for v in axes.get("N_x", [spec.fixed.get("N_x")]) if isinstance(v, int)]
    from ...conventions import PAPER_PARAMETERS

    bases = set(axes.get("basis", [spec.fixed.get("basis")])) | {"spin" for m in axes.get("metal", [spec.fixed.get("metal")]) if m == "am"}
    site_dim = 2 if bases and bases <= {"spin"} else 3
    rows = [v for v in axes.get("N_y", [spec.fixed.get("N_y")]) if isinstance(v, int)]
    n_points, result_bytes = check_size(
        axes, schema, max(columns or [PAPER_PARAMETERS["N_x"]]), _estimate_seconds(spec, axes, math.prod(shape)), site_dim,
        max_rows=max(rows or [PAPER_PARAMETERS["N_y"]]), with_bytes=True, film=film,
    )
    check_points(spec, axes)
    return spec, axes, params, parsed, tol, schema, names, shape, n_points, result_bytes


def estimate_sweep(system, axes, observables=("free_energy",), *, params=None, workers=1, tol=DEFAULT_TOL, ny_inf_method="auto", engine="auto", executor=None, skip=()):
    """Memory and CPU time of :func:`sweep` with these arguments, without running any point.

    The inputs are checked as by :func:`sweep` (ValueError naming a bad one); each point is sized
    with the engine that will run it (:func:`orbsym.workflows.sweeps.estimate.sweep_estimate`).

    Parameters
    ----------
    system, axes, observables, params, tol, ny_inf_method, engine, executor
        As for :func:`sweep`.
    workers : int
        Processes running points at once (the memory of that many points).
    skip : iterable of int
        Flat indices of points already computed (not counted).

    Returns
    -------
    orbsym.numeric.budget.ResourceEstimate
        ``seconds``: CPU time on one core (``describe(workers)`` divides it), ``bytes``: peak memory.
    """
    from .estimate import sweep_estimate

    spec, axes, params, parsed, tol, *_, result_bytes = _checked_inputs(
        system, axes, observables, params, executor, workers, None, tol, ny_inf_method, engine
    )
    return sweep_estimate(spec, axes, parsed, tol, skip, workers if workers is not None else 1, result_bytes)


def sweep(
    system,
    axes,
    observables=("free_energy",),
    *,
    params=None,
    executor=None,
    workers=None,
    chunk_size=None,
    out=None,
    restart=False,
    progress=None,
    tol=DEFAULT_TOL,
    on_chunk=None,
    ny_inf_method="auto",
    engine="auto",
):
    """Compute observables on the Cartesian product of parameter axes.

    Parameters
    ----------
    system : {"trilayer", "bilayer"} or callable
        Geometry of :mod:`orbsym.systems`, or a factory ``f(**params) -> System`` (picklable --
        a module-level function or :func:`functools.partial` -- for process pools and dask).
    axes : dict
        ``{name: 1-D values}``, in dimension order; names are constructor keywords, ``T``, angle
        parameters (``theta``/``phi`` for the bilayer, ``theta_L``... for the trilayer) -- see
        :mod:`orbsym.workflows.sweeps.points`.  ``N_y`` may include ``math.inf`` (thermodynamic limit).
        ``N_z`` (swept, or fixed in ``params``) makes every point a film (finite ``N_y``; values
        per transverse cell, labelled by the ``N_z`` attribute or coordinate; estimates per k_z sector).
    observables : str or sequence of str
        From ``free_energy``, ``particle_number``, ``densities``, ``currents[:KIND[:DIR]]``,
        ``torques[:KIND]``, ``rkky`` (trilayer); films also ``currents:KIND:z``, and no ``levels``.
    params : dict, optional
        Fixed parameter values (e.g. ``{"gamma": 0.3, "T": 0.01}``); defaults of the constructor
        and the paper (``orbsym.conventions.PAPER_PARAMETERS``) otherwise.
    executor : None, "serial", "process" or concurrent.futures.Executor
        None: serial when the sweep is estimated under ``SERIAL_SECONDS`` or ``workers == 1``,
        else a local process pool.  A user executor (e.g. ``client.get_executor()`` of
        dask.distributed) is used as is and not shut down.
    workers : int, optional
        Processes of the local pool (default: ``os.cpu_count()``); with a user executor, the
        number of its workers (only sizes the chunks and the submission window).
    chunk_size : int, optional
        Points per task (default: about ``TASK_SECONDS`` of estimated work per task and at
        least four tasks per worker).
    out : path, optional
        NetCDF file to write; enables resumable per-chunk storage in ``<out>.parts/``.
    restart : bool
        Start over: discard ``<out>.parts/`` (partial results, also of a different sweep, stale
        or corrupt ones) and an existing ``out`` instead of raising or reusing them.
    progress : bool, optional
        tqdm progress bar on stderr; default: only when stderr is a terminal (or in Jupyter).
    tol : float
        Absolute tolerance of the k_y integral for ``N_y = inf`` (units of t per row).
    ny_inf_method : {"auto", "trapezoid", "adaptive"}
        Rule of the ``N_y = inf`` k_y integral (:func:`orbsym.numeric.infinite.solve_infinite`):
        ``"auto"`` takes the trapezoidal rule at ordinary T and the adaptive rule split at the
        Fermi points for ``T <~ 1e-3`` (and ``T = 0``).
    engine : {"auto", "dense", "greens"}
        Solver of every point (:func:`orbsym.systems.solve`; enters the fingerprint).  At
        ``N_y = inf`` ``"greens"`` uses the Green's-function k sub-grids, ``"auto"`` and ``"dense"``
        the k integral of ``ny_inf_method``.
    on_chunk : callable, optional
        Called after every stored chunk with ``{"indices", "done", "total", "failed",
        "seconds"}`` (``seconds``: time the worker spent on the chunk's points); an exception
        raised there stops the sweep (completed chunks stay stored).

    Returns
    -------
    xarray.Dataset
        One variable per output quantity with the sweep axes as leading dimensions and
        coordinates; ``attrs`` hold the geometry, all fixed parameters (JSON), observables, the
        orbsym version and a fingerprint of the sweep.

    Raises
    ------
    ValueError
        Bad axes, parameter names, values, observables or options, a point that cannot be built,
        or a sweep whose points do not fit in memory or whose total CPU time exceeds the limit
        (:class:`orbsym.numeric.budget.ResourceError`, estimated point by point with the engine that
        runs it, :mod:`orbsym.workflows.sweeps.estimate`; points already stored in ``out`` are not
        counted) -- all found before any point runs (the message names the bad value or the
        estimate).
    SweepStateError
        (a ValueError) ``out`` is being written by another run, or its partial results belong
        to another sweep or are corrupt (the message names the file and the recovery).
    SweepError
        Some points failed (listed with their parameters); the others are computed and kept.

    Examples
    --------
    >>> from orbsym.workflows.sweeps import sweep
    >>> ds = sweep("bilayer", {"theta": [0, 0.5, 1.0]}, "free_energy", params={"gamma": 0.3, "N_y": 100})
    >>> ds.free_energy.sel(theta=0.5)                                         # doctest: +SKIP
    """
    spec, axes, params, parsed, tol, schema, names, shape, n_points, result_bytes = _checked_inputs(
        system, axes, observables, params, executor, workers, chunk_size, tol, ny_inf_method, engine
    )
    fingerprint, doc = _fingerprint(spec, axes, parsed, tol, ny_inf_method)
    attrs = _attrs(spec, axes, parsed, tol, fingerprint)
    if ny_inf_method != "auto" and "k_integral_tol" in attrs:
        attrs["k_integral_method"] = ny_inf_method
    run = (spec, axes, parsed, tol, schema, attrs, names, shape, n_points)
    options = dict(executor=executor, workers=workers, chunk_size=chunk_size, progress=progress, on_chunk=on_chunk)
    budget = dict(tol=tol, workers=_planned_workers(executor, workers), result_bytes=result_bytes)
    if out is None:
        check_sweep_resources(spec, axes, parsed, **budget)  # the whole sweep, before any point runs
        return _compute(run, {}, None, **options)
    given = str(out)
    out = Path(out)
    if given.strip() in ("", ".", "-") or out.is_dir():
        raise ValueError(f"sweep output {given!r} must be a file path (e.g. F.nc), not {'a directory' if out.is_dir() else 'empty or stdout'}")
    try:
        from ...io import ensure_writable_dir

        ensure_writable_dir(out.parent if str(out.parent) else ".")
    except ValueError as exc:
        raise ValueError(f"sweep output {given!r}: {exc}") from None
    with Store(out, fingerprint, doc, restart) as store:
        if out.is_file() and not restart:
            with contextlib.suppress(ValueError):
                old = load(out)
                if old.attrs.get("fingerprint") == fingerprint:
                    store.finish(clear=bool(store.same_sweep()))  # our own leftovers (killed after the save) go
                    return old
        store.prepare()
        stored = store.load(n_points)
        check_sweep_resources(spec, axes, parsed, skip=stored, **budget)  # the missing points, before any runs
        ds = _compute(run, stored, store, **options)
        save(ds, out)
        store.finish()
    return ds


def _compute(run, results, store, *, executor, workers, chunk_size, progress, on_chunk):
    """Run the missing points (not in ``results``), storing each chunk in ``store``; the Dataset."""
    spec, axes, parsed, tol, schema, attrs, names, shape, n_points = run
    missing = [i for i in range(n_points) if i not in results]

    # executor (orbsym.execution: serial, local pool with one BLAS thread per worker, or any Executor)
    if executor is None:
        if workers == 1 or (workers is None and _estimate_seconds(spec, axes, len(missing)) < SERIAL_SECONDS):
            executor = "serial"
        else:
            executor = "process"
    if executor == "process":
        n_workers = int(workers or os.cpu_count() or 1)
        ex = owned = process_executor(n_workers)
    else:
        ex, n_workers, owned = execution.resolve_executor(executor, workers)
    if chunk_size is None:
        chunk_size = _default_chunk(spec, axes, len(missing), n_workers)
    chunks = [missing[i : i + chunk_size] for i in range(0, len(missing), chunk_size)]
    values = [axes[n] for n in names]

    def point(i):
        return {n: values[j][k] for j, (n, k) in enumerate(zip(names, np.unravel_index(i, shape)))}

    failures = []
    bar = execution.progress_bar(n_points, "orbsym sweep", progress, initial=n_points - len(missing), unit="pt")
    window = 1 if isinstance(ex, SerialExecutor) else max(2, 2 * n_workers)
    tasks = ((spec, [(i, point(i)) for i in ch], parsed, tol) for ch in chunks)
    done_count = n_points - len(missing)
    with execution.closing_pool(owned), bar:
        for j, rows, exc in execution.run_tasks(run_chunk, tasks, ex, window=window):
            ch = chunks[j]
            if exc is not None:  # the whole task was lost (e.g. its worker died on every retry)
                rows = [(i, None, f"{execution.describe(exc)} (task of points {ch[0]}..{ch[-1]} lost)", 0.0) for i in ch]
            good = [(i, d) for i, d, err, _ in rows if err is None]
            for i, d, err, _ in rows:
                if err is not None:
                    failures.append({"index": int(i), "point": point(i), "error": err})
            if store is not None:
                store.write(good)
            results.update(good)
            done_count += len(ch)
            bar.update(len(ch))
            if on_chunk is not None:
                seconds = float(sum(r[3] for r in rows))
                on_chunk({"indices": list(ch), "done": done_count, "total": n_points, "failed": len(failures), "seconds": seconds})

    ds = _assemble(axes, schema, results, attrs)
    if failures:
        failures.sort(key=lambda f: f["index"])
        raise SweepError(failures, ds, n_points)
    return ds


def _in_notebook():
    """True inside a Jupyter kernel (:func:`orbsym.execution.in_notebook`)."""
    return execution.in_notebook()
