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

With ``out="F.nc"`` each completed chunk is written atomically to ``F.nc.parts/`` (with the sweep's
fingerprint in ``sweep.json``); re-running the same sweep computes only the missing points, then
writes ``F.nc`` atomically (NetCDF3 via xarray's scipy backend) and removes the parts directory.  A
point that raises is reported (:class:`SweepError`, with its parameters) and left out; the others
are kept.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from ... import execution
from ...execution import BLAS_ENV, SerialExecutor, TaskError
from ...numeric.infinite import DEFAULT_TOL
from .points import (
    ANGLE_PARAMETERS,
    AXIS_LABELS,
    POLARIZATION_LABELS,
    TORQUE_TERMS,
    SystemSpec,
    observable_schema,
    parse_observable,
    run_chunk,
    worker_init,
)

__all__ = ["sweep", "save", "load", "SweepError", "SerialExecutor", "process_executor", "GEOMETRIES", "BLAS_ENV"]

#: Built-in geometries (constructors of :mod:`orbsym.systems`).
GEOMETRIES = ("trilayer", "bilayer")
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


# ----------------------------------------------------------------------------- inputs
def _spec(system, fixed):
    if isinstance(system, str):
        if system not in GEOMETRIES:
            close = difflib.get_close_matches(system, GEOMETRIES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown geometry {system!r}{hint}; allowed: {', '.join(GEOMETRIES)} or a factory callable(**params) -> System")
        return SystemSpec(system, None, dict(fixed))
    if callable(system):
        return SystemSpec("custom", system, dict(fixed))
    raise ValueError(f"system must be a geometry name ({', '.join(GEOMETRIES)}) or a factory callable(**params) -> System, got {system!r}")


def _check_names(spec, names, what):
    allowed = spec.parameter_names()
    if spec.accepts_any():
        return
    for n in names:
        if not isinstance(n, str) or n not in allowed:
            close = difflib.get_close_matches(str(n), allowed, n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown {what} {n!r} for geometry {spec.geometry!r}{hint} (allowed: {', '.join(allowed)})")


def _scalar(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _axes(axes):
    if isinstance(axes, dict):
        items = list(axes.items())
    else:
        try:
            items = [tuple(a) for a in axes]
        except TypeError:
            raise ValueError(f"axes must be a dict {{name: values}} or a list of (name, values), got {axes!r}") from None
        if any(len(a) != 2 for a in items):
            raise ValueError("axes given as a list need (name, values) pairs")
    if not items:
        raise ValueError("a sweep needs at least one axis {name: values}")
    out = {}
    for name, values in items:
        if name in out:
            raise ValueError(f"axis {name!r} is given twice")
        if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
            raise ValueError(f"axis {name!r}: values must be a 1-D sequence, got {values!r}")
        vals = [_scalar(v) for v in np.asarray(values, dtype=object).ravel().tolist()] if np.ndim(values) == 1 else None
        if vals is None:
            raise ValueError(f"axis {name!r}: values must be 1-D, got shape {np.shape(values)}")
        if not vals:
            raise ValueError(f"axis {name!r} has no values")
        kinds = {isinstance(v, str) for v in vals}
        if len(kinds) > 1:
            raise ValueError(f"axis {name!r} mixes strings and numbers: {vals!r}")
        if kinds == {False}:
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"axis {name!r}: values must be numbers or strings, got {v!r}")
                if math.isnan(v) or (math.isinf(v) and not (name == "N_y" and v > 0)):
                    raise ValueError(f"axis {name!r}: value {v!r} is not finite" + (" (only N_y may be inf)" if name != "N_y" else ""))
        out[name] = vals
    return out


def _check_values(axes, fixed):
    """Cheap checks in the parent: temperatures and integer sizes (others fail per point)."""
    from ...numeric.thermo import check_temperature
    from .points import _INT_PARAMETERS, _as_int

    items = [(n, v) for n, vals in axes.items() for v in vals] + list(fixed.items())
    for name, v in items:
        if name == "T":
            check_temperature(v)
        elif name in _INT_PARAMETERS:
            _as_int(name, v)


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
    return n_points * nk * (3 * N_x) ** 3 * _SECONDS_PER_UNIT


def _default_chunk(spec, axes, n_missing, n_workers):
    """About ``TASK_SECONDS`` of work per task, at least ``4 n_workers`` tasks (load balance)."""
    if n_missing == 0:
        return 1
    per_point = _estimate_seconds(spec, axes, 1)
    by_time = max(1, int(TASK_SECONDS / max(per_point, 1e-6)))
    by_balance = max(1, math.ceil(n_missing / (4 * n_workers)))
    return max(1, min(by_time, by_balance, 64))


def _fingerprint(spec, axes, observables, tol):
    from ... import __version__

    doc = {
        "orbsym_version": __version__,
        "geometry": spec.geometry,
        "factory": None if spec.factory is None else _qualname(spec.factory),
        "fixed": spec.fixed,
        "axes": axes,
        "observables": [":".join(p for p in o if p) for o in observables],
        "tol": tol,
    }
    text = json.dumps(doc, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest(), text


def _qualname(fn):
    import functools

    if isinstance(fn, functools.partial):
        return f"partial({_qualname(fn.func)}, {fn.args!r}, {sorted(fn.keywords.items())!r})"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


# ----------------------------------------------------------------------------- chunk store
class _Store:
    """``<out>.parts/``: ``sweep.json`` plus one ``points_<first>_<last>.npz`` per completed chunk."""

    def __init__(self, out, fingerprint, doc, restart):
        from ...io import ensure_writable_dir

        self.dir = Path(str(out) + ".parts")
        meta = self.dir / "sweep.json"
        if self.dir.exists() and meta.exists():
            old = json.loads(meta.read_text())
            if old.get("fingerprint") != fingerprint:
                if not restart:
                    raise ValueError(
                        f"{str(self.dir)!r} holds the partial results of a different sweep; remove it, choose another output "
                        f"file, or pass restart=True (CLI: --restart) to discard it"
                    )
                shutil.rmtree(self.dir)
        elif self.dir.exists() and restart:
            shutil.rmtree(self.dir)
        ensure_writable_dir(self.dir)
        if not meta.exists():
            from ...io import atomic_write

            with atomic_write(meta) as fh:
                json.dump({"fingerprint": fingerprint, "sweep": json.loads(doc)}, fh, indent=1, default=repr)

    def load(self):
        results = {}
        for f in sorted(self.dir.glob("points_*.npz")):
            with np.load(f, allow_pickle=False) as z:
                for key in z.files:
                    var, _, idx = key.rpartition("__")
                    results.setdefault(int(idx), {})[var] = z[key]
        return results

    def write(self, rows):
        from ...io import atomic_write

        if not rows:
            return
        idx = sorted(i for i, _ in rows)
        arrays = {f"{var}__{i}": a for i, d in rows for var, a in d.items()}
        with atomic_write(self.dir / f"points_{idx[0]:07d}_{idx[-1]:07d}_{len(idx)}.npz", "wb") as fh:
            np.savez(fh, **arrays)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- assembly
_DIM_LABELS = {"polarization": POLARIZATION_LABELS, "axis": AXIS_LABELS, "torque_term": TORQUE_TERMS}


def _assemble(axes, schema, results, attrs):
    import xarray as xr

    shape = tuple(len(v) for v in axes.values())
    sizes = dict((d, len(labels)) for d, labels in _DIM_LABELS.items())
    for var, dims in schema:
        for d in dims:
            if d not in _DIM_LABELS:  # x, x_bond, k, level: sized by the results
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
        data_vars[var] = (tuple(axes) + tuple(dims), arr, vattrs)
    coords = {name: _coord(vals) for name, vals in axes.items()}
    used = {d for _, dims in schema for d in dims}
    for d in used:
        if d in _DIM_LABELS:
            coords[d] = np.array(_DIM_LABELS[d], dtype=str)
        else:
            coords[d] = np.arange(sizes[d])
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    if "x_bond" in ds.coords:
        ds["x_bond"].attrs["long_name"] = "x-bond (x, x+1), labeled by its left column x"
    if "x" in ds.coords:
        ds["x"].attrs["long_name"] = "column x (open ends; NaN beyond N_x - 1 when N_x is swept)"
    return ds


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
    }
    if spec.factory is not None:
        attrs["factory"] = _qualname(spec.factory)
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
    if not p.is_file():
        raise ValueError(f"sweep file {str(p)!r} does not exist")
    with xr.open_dataset(p, engine="scipy") as ds:
        ds = ds.load()
    for name in list(ds.data_vars):
        if name in ds.data_vars and ds[name].attrs.get("complex_part") == "real":
            base = ds[name].attrs["complex_of"]
            imag = ds[f"{base}_imag"]
            attrs = {k: v for k, v in ds[name].attrs.items() if k not in ("complex_part", "complex_of")}
            ds[base] = (ds[name] + 1j * imag).assign_attrs(attrs)
            ds = ds.drop_vars([name, f"{base}_imag"])
    return ds


# ----------------------------------------------------------------------------- the sweep
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
    observables : str or sequence of str
        From ``free_energy``, ``particle_number``, ``densities``, ``currents[:KIND[:DIR]]``,
        ``torques[:KIND]``, ``rkky`` (trilayer).
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
        Discard partial results of a *different* sweep in ``<out>.parts/`` instead of raising.
    progress : bool, optional
        tqdm progress bar on stderr; default: only when stderr is a terminal (or in Jupyter).
    tol : float
        Absolute tolerance of the k_y integral for ``N_y = inf`` (units of t per row).
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
        Bad axes, parameter names, observables or options (the message names the bad value).
    SweepError
        Some points failed (listed with their parameters); the others are computed and kept.

    Examples
    --------
    >>> from orbsym.workflows.sweeps import sweep
    >>> ds = sweep("bilayer", {"theta": [0, 0.5, 1.0]}, "free_energy", params={"gamma": 0.3, "N_y": 100})
    >>> ds.free_energy.sel(theta=0.5)                                         # doctest: +SKIP
    """
    params = dict(params or {})
    spec = _spec(system, params)
    axes = _axes(axes)
    _check_names(spec, list(axes), "sweep parameter")
    _check_names(spec, list(params), "fixed parameter")
    _check_values(axes, params)
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
    observables = list(observables)
    if not observables:
        raise ValueError("no observables requested; allowed: free_energy, particle_number, densities, currents, torques, rkky")
    parsed = []
    for o in observables:
        p = parse_observable(o)
        if p not in parsed:
            parsed.append(p)
    if any(p[0] == "rkky" for p in parsed) and spec.geometry == "bilayer":
        raise ValueError("observable 'rkky' needs the trilayer geometry (J = F_AP - F_P between two FMs)")
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive number, got {tol!r}") from None
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    infinite = any(v == math.inf for v in axes.get("N_y", []) if not isinstance(v, str)) or params.get("N_y") == math.inf
    schema = [s for o in parsed for s in observable_schema(o, infinite)]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")

    names = list(axes)
    shape = tuple(len(v) for v in axes.values())
    n_points = int(np.prod(shape))
    fingerprint, doc = _fingerprint(spec, axes, parsed, tol)
    attrs = _attrs(spec, axes, parsed, tol, fingerprint)

    store = None
    results = {}
    if out is not None:
        out = Path(out)
        if out.is_file() and not restart:
            with contextlib.suppress(Exception):
                old = load(out)
                if old.attrs.get("fingerprint") == fingerprint:
                    return old
        store = _Store(out, fingerprint, doc, restart)
        results = store.load()
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
    try:
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
    except BaseException:
        if owned is not None:
            owned.terminate()
            owned = None
        raise
    finally:
        bar.close()
        if owned is not None:
            owned.shutdown(wait=True)

    ds = _assemble(axes, schema, results, attrs)
    if failures:
        failures.sort(key=lambda f: f["index"])
        raise SweepError(failures, ds, n_points)
    if out is not None:
        save(ds, out)
        store.remove()
    return ds


def _in_notebook():
    """True inside a Jupyter kernel (:func:`orbsym.execution.in_notebook`)."""
    return execution.in_notebook()
