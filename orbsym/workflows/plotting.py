"""Quick views of any NetCDF file orbsym writes (``orbsym plot FILE.nc``).

:func:`plot_dataset` turns a variable of an ``xarray.Dataset`` into a matplotlib Figure with a view
chosen from the variable's dimensions; :func:`plot_file` reads the file, plots and writes PNG or PDF
atomically.  Nothing here knows which command wrote the file: figures (``figN.nc``), sweeps,
``evolve``, ``response``, ``sites``, ``transport`` and any other labeled dataset are read the same way.

Default view
------------
The dimensions of the plotted variable are sorted into kinds (by name):

* spatial: :data:`SPATIAL_DIMS` (``x``, ``column``, ``x_bond``, ``bond``, ``boundary``, ``row``, ...)
  when their coordinate is numeric (or absent: positions ``0..n-1``); ``bond`` labeled by names
  (``orbsym sites``) is a category, not an axis;
* time: :data:`TIME_DIMS`;
* spectral: :data:`SPECTRAL_DIMS` (``E``, ``energy``, ``mu``, ``omega``, ``bias``, ...).

The horizontal axis is, in this order of preference: two spatial dimensions -> a 2D map (first
spatial dimension horizontal); one spatial and a time dimension -> a space-time map (space
horizontal, time vertical); one spatial dimension -> a profile; time -> a time series; a spectral
dimension -> a spectrum; otherwise two labeled numeric dimensions of more than :data:`MAX_LINES`
values each (a parameter grid such as ``theta x phi``) -> a map of the two longest, else the
longest dimension with a numeric coordinate.  ``x=DIM`` (``--x``) forces the horizontal axis (a
line plot).  Of the remaining dimensions with more than one value, the first with a numeric
coordinate and 2..:data:`MAX_LINES` values (else the first with 2..6 values of any kind) gives one
line per value (``level``/``band``: every value); every other one is reduced to its first value
with a finite datum, and the title says so (``polarization=charge (first of 4)``).  ``sel``
(``--sel DIM=VALUE``) picks values first: a value of the dimension's coordinate
(numbers compared to ~1e-6 relative), an index ``0..n-1`` for a dimension without coordinate, a value
of a one-dimensional auxiliary coordinate (``--sel mu=-0.4`` on the ``point`` dimension of a
``response --scan`` file), or several values separated by commas (one line each).

Labels: the y axis (colour bar of a map) carries the variable's ``description`` (else ``long_name``,
else its name) and ``[units]``; the x axis the coordinate's; the title names the file, the variable
and the file's key attributes (figure, geometry, engine, current definition, T, ...).  ``log``:
``|value|`` on a logarithmic axis (zeros are not drawn).  Complex values (stored as ``NAME_real`` and
``NAME_imag`` by sweeps) are recombined and their real part is drawn (the title says so).

Finite-size floor
-----------------
A value whose size is below the resolution of the finite system (e.g. the finite-N_y floor
``max_x |j(N_y) - j(2 N_y)|`` of Fig. 2 with ``--log``) is noise.  A file states the floor of a
variable ``V`` (same units as ``V``) by, in this order:

1. ``V.attrs["finite_size_floor"]``: a number, or the name of a data variable holding it;
2. a data variable ``V_finite_size_floor``;
3. one data variable named ``finite_size_floor`` or ``finite_<...>_floor`` (Fig. 2's
   ``finite_N_y_floor``) whose dimensions are among ``V``'s;
4. the global attribute ``finite_size_floor`` (a number).

A floor with dimensions is selected like ``V``.  Drawn: a grey band ``|value| < floor`` (``[-floor,
floor]`` on a linear axis, below ``floor`` on a log axis; hatched on a map) with a dotted line at the
largest floor shown, its value stated in the legend.  A data variable ``V_error`` (e.g. the
k-integral error ``free_energy_error`` of an ``N_y = inf`` sweep) is drawn as a band ``V +- error``.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "FLOOR_ATTR",
    "SPATIAL_DIMS",
    "TIME_DIMS",
    "SPECTRAL_DIMS",
    "MAX_LINES",
    "FORMATS",
    "open_dataset",
    "parse_sel",
    "choose_variable",
    "plan_view",
    "plot_dataset",
    "default_output",
    "check_plot_output",
    "plot_file",
]

#: Attribute naming the finite-size floor of a variable (or of every variable: a global attribute).
FLOOR_ATTR = "finite_size_floor"
#: Dimensions drawn as space (profiles, maps) when their coordinate is numeric or absent.
SPATIAL_DIMS = ("x", "column", "x_bond", "bond", "boundary", "row", "layer", "z_layer", "site_x", "site_y")
#: Dimensions drawn as time (time series).
TIME_DIMS = ("time", "t")
#: Dimensions drawn as energy / chemical potential / frequency (spectra).
SPECTRAL_DIMS = ("E", "energy", "mu", "omega", "frequency", "bias", "V")
#: Dimensions drawn as one line per value whatever their length (bands).
ALWAYS_LINES = ("level", "band")
#: Largest number of values drawn as one line each.
MAX_LINES = 6
#: Output formats (file suffixes).
FORMATS = (".png", ".pdf")

_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Global attributes shown in the title, in this order.
_TITLE_ATTRS = ("figure", "calculation", "geometry", "engine", "current_definition", "current_definitions", "current", "field", "interface")
_PARAM_KEYS = ("N_x", "N_y", "N_z", "N_FM", "T", "mu", "gamma", "eta")


# =============================================================================== reading
def open_dataset(path):
    """Read a NetCDF file into memory (complex ``NAME_real``/``NAME_imag`` pairs recombined).

    Raises
    ------
    ValueError
        If the file is missing, not a file, or not a readable NetCDF file (the message names it).
    """
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise ValueError(f"{str(p)!r} does not exist; give a NetCDF file written by orbsym, e.g. orbsym plot figs/fig2.nc")
    if not p.is_file():
        raise ValueError(f"{str(p)!r} is not a file; give a NetCDF file written by orbsym, e.g. orbsym plot figs/fig2.nc")
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ValueError(f"cannot read {str(p)!r}: {exc.strerror}") from None
    if head[:4] not in _NETCDF_MAGIC and head != _HDF5_MAGIC:
        what = "an empty file" if not head else ("a PNG image" if head.startswith(b"\x89PNG") else "a PDF" if head.startswith(b"%PDF") else "not NetCDF")
        raise ValueError(f"{str(p)!r} is {what}, not a NetCDF file; orbsym plot reads the .nc files orbsym writes (--out FILE.nc)")
    engine = "scipy" if head[:4] in _NETCDF_MAGIC else None
    try:
        with xr.open_dataset(p, engine=engine) as ds:
            ds = ds.load()
    except Exception as exc:  # noqa: BLE001 - the readers fail with many exception types on a bad file
        hint = " (NetCDF4/HDF5 needs the netCDF4 or h5netcdf package)" if engine is None else ""
        raise ValueError(f"{str(p)!r} is not a readable NetCDF file{hint}: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}") from None
    for name in list(ds.data_vars):
        v = ds.data_vars.get(name)
        if v is not None and v.attrs.get("complex_part") == "real" and f"{v.attrs.get('complex_of')}_imag" in ds:
            base = v.attrs["complex_of"]
            attrs = {k: a for k, a in v.attrs.items() if k not in ("complex_part", "complex_of")}
            combined = v + 1j * ds[f"{base}_imag"]
            combined.attrs = attrs
            ds[base] = combined
            ds = ds.drop_vars([name, f"{base}_imag"])
    return ds


# =============================================================================== selections
def parse_sel(items):
    """``["dim=value", ...]`` -> ``[(dim, text), ...]``; a malformed item is a ValueError naming it."""
    out = []
    for item in items or ():
        text = str(item)
        dim, eq, value = text.partition("=")
        if not eq or not dim.strip() or not value.strip():
            raise ValueError(f"--sel {text!r}: expected DIM=VALUE, e.g. --sel polarization=z or --sel time=2.5")
        if any(d == dim.strip() for d, _ in out):
            raise ValueError(f"--sel {dim.strip()} is given twice; give one --sel per dimension (several values: --sel {dim.strip()}=a,b)")
        out.append((dim.strip(), value.strip()))
    return out


def _fmt(v):
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode()
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _allowed(values, limit=20):
    vals = [_fmt(v) for v in np.asarray(values).ravel()]
    text = ", ".join(vals[:limit])
    return text + (f", ... ({len(vals)} values)" if len(vals) > limit else "")


def _match(coord_values, token):
    """Positions where ``coord_values`` equals ``token`` (numbers to ~1e-6 relative); [] if none."""
    vals = np.asarray(coord_values)
    if vals.dtype.kind in "iufb":
        try:
            x = float(token)
        except ValueError:
            return []
        return list(np.flatnonzero(np.isclose(vals.astype(float), x, rtol=1e-6, atol=1e-12)))
    if vals.dtype.kind == "M":
        return []
    return [i for i, v in enumerate(vals.ravel()) if _fmt(v) == token]


def _resolve_sel(ds, da_dims, dim, text):
    """``(dim, [indices], label)`` of one ``--sel`` for a variable with dimensions ``da_dims``."""
    if dim in ds.dims:
        target = dim
        coord = ds[dim].values if dim in ds.coords else None
        shown = dim
    elif dim in ds.coords and ds[dim].ndim == 1:  # auxiliary coordinate, e.g. mu(point)
        target = ds[dim].dims[0]
        coord = ds[dim].values
        shown = dim
    else:
        raise ValueError(f"--sel {dim}={text}: the file has no dimension {dim!r}; dimensions: {', '.join(map(str, ds.dims))}")
    if target not in da_dims:
        return None
    n = ds.sizes[target]

    def one(token):
        if coord is None:
            try:
                i = int(token)
            except ValueError:
                i = -1
            if not 0 <= i < n:
                raise ValueError(f"--sel {dim}={text}: {dim!r} has no coordinate; give an index 0..{n - 1}")
            return [i]
        hits = _match(coord, token)
        if not hits:
            raise ValueError(f"--sel {dim}={text}: {token!r} is not a value of {shown!r}; allowed: {_allowed(coord)}")
        return hits[:1]

    try:
        idx = one(text)
    except ValueError:
        if "," not in text:
            raise
        idx = [i for token in text.split(",") for i in one(token.strip())]
        if len(set(idx)) != len(idx):
            raise ValueError(f"--sel {dim}={text} names a value twice") from None
    return target, idx, shown


# =============================================================================== the view
@dataclass
class View:
    """How one variable is drawn (:func:`plan_view`)."""

    name: str
    kind: str  # "profile", "time series", "spectrum", "lines", "map", "space-time map"
    x: str
    y: str | None = None  # vertical dimension of a map
    lines: str | None = None  # one line per value of this dimension
    isel: dict = field(default_factory=dict)  # dim -> index or list of indices
    notes: list = field(default_factory=list)  # what was selected, for the title


def _is_numeric_dim(ds, dim):
    return dim not in ds.coords or ds[dim].dtype.kind in "iuf"


def _dim_kind(ds, dim):
    if dim in SPATIAL_DIMS and _is_numeric_dim(ds, dim):
        return "space"
    if dim in TIME_DIMS and _is_numeric_dim(ds, dim):
        return "time"
    if dim in SPECTRAL_DIMS and _is_numeric_dim(ds, dim):
        return "spectrum"
    return None


def _plottable(da):
    return da.dtype.kind in "fciub"


def _helper_var(name):
    return name.endswith("_error") or name == FLOOR_ATTR or name.endswith("_floor")


def choose_variable(ds):
    """Default variable: the first floating-point variable (with a finite value) that has a spatial,
    time or spectral dimension of more than one value, else the first with a labeled (coordinate)
    dimension of more than one value, else the first with any dimension of more than one value."""
    best, score_best = None, 0
    for name, da in ds.data_vars.items():
        if _helper_var(str(name)) or da.dtype.kind not in "fc" or not np.isfinite(np.asarray(da.values)).any():
            continue
        long = [d for d in da.dims if da.sizes[d] > 1]
        if not long:
            continue
        score = 3 if any(_dim_kind(ds, d) for d in long) else (2 if any(d in ds.coords for d in long) else 1)
        if score > score_best:
            best, score_best = str(name), score
    if best is None:
        raise ValueError(f"nothing to plot: no variable has a finite value and a dimension of more than one value (variables: {', '.join(map(str, ds.data_vars)) or 'none'})")
    return best


def plan_view(ds, name, sel=(), x=None):
    """The :class:`View` of variable ``name``: horizontal axis, lines, map, selections.

    Parameters
    ----------
    ds : xarray.Dataset
    name : str
        A data variable of ``ds``.
    sel : sequence of (dim, text)
        From :func:`parse_sel`; a dimension the variable does not have is ignored here (the caller
        checks that every ``sel`` applies to some plotted variable).
    x : str, optional
        Force the horizontal axis (a line plot).
    """
    da = ds[name]
    if not _plottable(da):
        raise ValueError(f"variable {name!r} ({da.dtype}) is not numeric; plottable variables: {', '.join(n for n in map(str, ds.data_vars) if _plottable(ds[n]))}")
    view = View(name=name, kind="lines", x="")
    user_lines = None
    for dim, text in sel:
        r = _resolve_sel(ds, da.dims, dim, text)
        if r is None:
            continue
        target, idx, shown = r
        if target in view.isel:
            raise ValueError(f"--sel {dim}={text}: dimension {target!r} is already selected by another --sel")
        if len(idx) == 1:
            view.isel[target] = idx[0]
            view.notes.append(f"{shown}={_label_of(ds, target, idx[0], shown)}")
        else:
            view.isel[target] = idx
            user_lines = target
    free = [d for d in da.dims if d not in view.isel or isinstance(view.isel[d], list)]
    long = [d for d in free if (len(view.isel[d]) if d in view.isel else da.sizes[d]) > 1]
    if x is not None:
        if x not in da.dims:
            raise ValueError(f"--x {x}: variable {name!r} has no dimension {x!r}; its dimensions: {', '.join(map(str, da.dims))}")
        if x in view.isel and not isinstance(view.isel[x], list):
            raise ValueError(f"--x {x}: {x!r} is fixed by --sel; choose another axis or drop that --sel")
        view.x, view.kind = x, {"space": "profile", "time": "time series", "spectrum": "spectrum"}.get(_dim_kind(ds, x), "lines")
    else:
        space = [d for d in long if _dim_kind(ds, d) == "space" and d != user_lines]
        time = [d for d in long if _dim_kind(ds, d) == "time" and d != user_lines]
        spec = [d for d in long if _dim_kind(ds, d) == "spectrum" and d != user_lines]
        if len(space) >= 2:
            view.kind, view.x, view.y = "map", space[0], space[1]
        elif space and time:
            view.kind, view.x, view.y = "space-time map", space[0], time[0]
        elif space:
            view.kind, view.x = "profile", space[0]
        elif time:
            view.kind, view.x = "time series", time[0]
        elif spec:
            view.kind, view.x = "spectrum", spec[0]
        else:
            cands = [d for d in long if d != user_lines and _is_numeric_dim(ds, d) and d not in ALWAYS_LINES] or [d for d in long if d != user_lines]
            grid = sorted((d for d in cands if d in ds.coords and da.sizes[d] > MAX_LINES), key=lambda d: -da.sizes[d])
            if len(grid) >= 2 and user_lines is None:  # a parameter grid (theta x phi): a map
                view.kind, view.x, view.y = "map", grid[0], grid[1]
            elif not cands:
                if user_lines is None:
                    value = ""
                    if da.size == 1:
                        u = da.attrs.get("units")
                        value = f"; its value: {_fmt(np.asarray(da.values).ravel()[0])}" + (f" [{_short(u, 60)}]" if u else "")
                    raise ValueError(f"variable {name!r} has no dimension of more than one value left to plot (dimensions: "
                                     f"{', '.join(f'{d}={da.sizes[d]}' for d in da.dims) or 'none, a scalar'}){value}")
                cands = [user_lines]
                user_lines = None
            if view.y is None:
                view.x = max(cands, key=lambda d: da.sizes[d])
    if view.y is not None and user_lines is not None:
        view.kind, view.y = {"map": "profile", "space-time map": "profile"}[view.kind], None
    rest = [d for d in da.dims if d not in (view.x, view.y)]
    if view.y is None:
        if user_lines is not None and user_lines != view.x:
            view.lines = user_lines
        else:
            cand = [d for d in rest if d not in view.isel and (d in ALWAYS_LINES or 2 <= da.sizes[d] <= MAX_LINES)]
            numeric = [d for d in cand if _is_numeric_dim(ds, d) or d in ALWAYS_LINES]
            view.lines = (numeric or cand or [None])[0]
    for d in rest:
        if d == view.lines:
            continue
        if d in view.isel:
            if isinstance(view.isel[d], list):  # several values but not drawn as lines: keep the first
                i = view.isel[d][0]
                view.isel[d] = i
                view.notes.append(f"{d}={_label_of(ds, d, i, d)} (first --sel value)")
            continue
        view.isel[d] = _first_with_data(da, view.isel, d)
        if da.sizes[d] > 1:
            i = view.isel[d]
            view.notes.append(f"{_label_of(ds, d, i, d, with_dim=True)} ({'first' if i == 0 else 'first with data'} of {da.sizes[d]})")
    return view


def _first_with_data(da, isel, dim):
    """First index along ``dim`` whose slice (under the selections made so far) has a finite value; 0 if none."""
    fixed = {d: i for d, i in isel.items() if not isinstance(i, list)}
    sub = da.isel(fixed) if fixed else da
    if sub.dtype.kind not in "fc":
        return 0
    other = [d for d in sub.dims if d != dim]
    ok = np.isfinite(np.asarray(sub.values)) if not other else np.isfinite(sub).any(other).values
    hits = np.flatnonzero(ok)
    return int(hits[0]) if hits.size else 0


def _label_of(ds, dim, i, shown, with_dim=False):
    """Text of value ``i`` along ``dim`` (its coordinate, or the auxiliary coordinates on it)."""
    aux = [str(c) for c in ds.coords if c != dim and ds[c].dims == (dim,)]
    if dim in ds.coords:
        base = _fmt(ds[dim].values[i])
    else:
        base = str(i)
    if shown != dim and shown in aux:
        return _fmt(ds[shown].values[i])
    extra = ", ".join(f"{c}={_fmt(ds[c].values[i])}" for c in aux)
    text = f"{dim}={base}" if with_dim else base
    return f"{text} ({extra})" if extra else text


# =============================================================================== labels
def _short(text, width=90):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def _label(da, name, log=False):
    """``name: description [units]`` of a variable or coordinate (wrapped; ``|name|`` for ``log``)."""
    desc = da.attrs.get("description") or da.attrs.get("long_name") or ""
    units = da.attrs.get("units")
    name = f"|{name}|" if log else str(name)
    text = f"{name}: {_short(desc, 80)}" if desc else name
    if units:
        text += f" [{_short(units, 60)}]"
    return "\n".join(textwrap.wrap(text, 48)) or str(name)


def _title(ds, source, name, view, complex_note):
    first = f"{Path(source).name}: {name}" if source else str(name)
    first += f" ({view.kind}" + (f", one line per {view.lines}" if view.lines else "") + ")"
    keys = []
    for k in _TITLE_ATTRS:
        if k in ds.attrs and str(ds.attrs[k]).strip():
            v = str(ds.attrs[k]).split(";")[0]
            keys.append(f"{k}: {_short(v, 60)}")
    params = {}
    for k in ("parameters", "system", "lattice"):
        try:
            params.update(json.loads(ds.attrs[k]) if isinstance(ds.attrs.get(k), str) else {})
        except (ValueError, TypeError):
            pass
        if not isinstance(params, dict):
            params = {}
    for k in ("T", "mu", "eta"):
        if k in ds.attrs and k not in params:
            params[k] = ds.attrs[k]
    shown = [f"{k}={_fmt(params[k])}" for k in _PARAM_KEYS if k in params and k not in ds.dims and isinstance(params[k], (int, float, np.number)) and not isinstance(params[k], bool)]
    lines = [first]
    if keys:
        lines += textwrap.wrap("; ".join(keys), 110)
    if shown:
        lines.append(", ".join(shown))
    notes = list(view.notes) + ([complex_note] if complex_note else [])
    if notes:
        lines += textwrap.wrap("selected (--sel DIM=VALUE to change): " + "; ".join(notes), 110)
    return "\n".join(lines)


# =============================================================================== floor
def _floor_of(ds, name):
    """``(DataArray or None, source text)`` of the finite-size floor of ``name`` (module docstring)."""
    import xarray as xr

    da = ds[name]
    spec = da.attrs.get(FLOOR_ATTR)
    if spec is not None:
        if isinstance(spec, str) and spec in ds.data_vars:
            return ds[spec], f"{spec}"
        try:
            return xr.DataArray(float(np.asarray(spec).ravel()[0])), f"{name}.{FLOOR_ATTR}"
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"{name}: attribute {FLOOR_ATTR}={spec!r} is neither a number nor a variable of the file") from None
    own = f"{name}_{FLOOR_ATTR}"
    if own in ds.data_vars:
        return ds[own], own
    cands = [str(n) for n in ds.data_vars if n != name and (n == FLOOR_ATTR or (str(n).startswith("finite_") and str(n).endswith("_floor"))) and set(ds[n].dims) <= set(da.dims)]
    if len(cands) == 1:
        return ds[cands[0]], cands[0]
    if FLOOR_ATTR in ds.attrs:
        try:
            return xr.DataArray(float(ds.attrs[FLOOR_ATTR])), f"global {FLOOR_ATTR}"
        except (TypeError, ValueError):
            raise ValueError(f"global attribute {FLOOR_ATTR}={ds.attrs[FLOOR_ATTR]!r} is not a number") from None
    return None, ""


def _restrict(da, isel):
    return da.isel({d: i for d, i in isel.items() if d in da.dims})


# =============================================================================== drawing
def plot_dataset(ds, variables=None, sel=(), log=False, x=None, source=None):
    """A matplotlib Figure (pyplot-free) of ``variables`` of ``ds``, one panel each.

    Parameters
    ----------
    ds : xarray.Dataset
        E.g. from :func:`open_dataset`.
    variables : sequence of str, optional
        Data variables to draw (default: :func:`choose_variable`).
    sel : sequence of (dim, text) or of "dim=value" strings
        Selections (:func:`parse_sel`); each must apply to at least one drawn variable.
    log : bool
        Draw ``|value|`` on a logarithmic axis (a map: logarithmic colour scale).
    x : str, optional
        Horizontal axis (dimension name) instead of the default view.
    source : path-like, optional
        File name shown in the title.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.orbsym_views`` holds the :class:`View` of every panel.  Data lines carry
        ``gid="data"``, the floor line ``gid="floor"``, its band ``gid="floor_band"``, error bands
        ``gid="error_band"``.
    """
    from .figures.common import new_figure

    sel = [s if isinstance(s, tuple) else parse_sel([s])[0] for s in sel]
    names = list(variables) if variables else [choose_variable(ds)]
    for n in names:
        if n not in ds.data_vars:
            raise ValueError(f"--var {n!r} is not a variable of the file; variables: {', '.join(map(str, ds.data_vars))}")
    if len(set(names)) != len(names):
        raise ValueError(f"--var names a variable twice ({', '.join(names)})")
    views = [plan_view(ds, n, sel, x) for n in names]
    for dim, text in sel:
        target = dim if dim in ds.dims else ds[dim].dims[0]
        if not any(target in ds[n].dims for n in names):
            raise ValueError(f"--sel {dim}={text}: no plotted variable has dimension {target!r} ({'; '.join(f'{n}: {tuple(map(str, ds[n].dims))}' for n in names)})")
    fig = new_figure(7.0, 1.4 + 3.6 * len(views))
    axes = fig.subplots(len(views), 1, squeeze=False)[:, 0]
    for ax, view in zip(axes, views):
        _draw(fig, ax, ds, view, log, source)
    fig.orbsym_views = views
    return fig


def _values(da, log):
    v = np.asarray(da.values)
    note = ""
    if np.iscomplexobj(v):
        v, note = v.real, "complex values: real part shown"
    v = v.astype(float)
    if log:
        v = np.abs(v)
        v = np.where(v > 0, v, np.nan)
    return v, note


def _coord(ds, dim, monotonic=False):
    """``(positions, tick labels or None)`` along ``dim``: the numeric coordinate, else (text, a
    non-finite value such as ``N_y = inf``, or not monotonic when ``monotonic``) the positions
    ``0..n-1`` labeled by the coordinate values."""
    if dim in ds.coords:
        c = np.asarray(ds[dim].values)
        if c.dtype.kind in "iuf":
            f = c.astype(float)
            steps = np.diff(f)
            if np.isfinite(f).all() and (not monotonic or f.size < 2 or (steps > 0).all() or (steps < 0).all()):
                return f, None
        return np.arange(c.size, dtype=float), [_fmt(v) for v in c]
    return np.arange(ds.sizes[dim], dtype=float), None


def _axis_label(ds, dim):
    if dim in ds.coords:
        return _label(ds[dim], dim)
    return f"{dim} (index)"


def _draw(fig, ax, ds, view, log, source):
    da = ds[view.name]
    sub = _restrict(da, view.isel)
    floor, floor_src = _floor_of(ds, view.name)
    if floor is not None:
        floor = _restrict(floor, view.isel)
    if view.y is not None:
        complex_note = _draw_map(fig, ax, ds, sub, view, log, floor, floor_src)
    else:
        complex_note = _draw_lines(ax, ds, sub, view, log, floor, floor_src)
    ax.set_title(_title(ds, source, view.name, view, complex_note), fontsize=7, loc="left")


def _draw_lines(ax, ds, sub, view, log, floor, floor_src):
    xs, ticks = _coord(ds, view.x)
    if view.lines is not None:
        sub = sub.transpose(view.lines, view.x)
        idx = view.isel.get(view.lines)
        positions = idx if isinstance(idx, list) else list(range(ds.sizes[view.lines]))
        labels = [_label_of(ds, view.lines, i, view.lines, with_dim=True) for i in positions]
    else:
        sub = sub.transpose(view.x)
        labels = [None]
    if isinstance(view.isel.get(view.x), list):
        xs = xs[view.isel[view.x]]
        ticks = [ticks[i] for i in view.isel[view.x]] if ticks else None
    vals, complex_note = _values(sub, log)
    vals = vals.reshape(len(labels), -1)
    err_name = f"{view.name}_error"
    err = None
    if err_name in ds.data_vars and set(ds[err_name].dims) <= set(ds[view.name].dims):
        e = _restrict(ds[err_name], view.isel).broadcast_like(sub).transpose(*sub.dims)
        err = np.abs(np.asarray(e.values, float)).reshape(vals.shape)
    raw = np.asarray(sub.values).real.astype(float).reshape(len(labels), -1)
    many = len(xs) <= 40
    for k, lab in enumerate(labels):
        (line,) = ax.plot(xs, vals[k], marker="." if many else None, ms=4, lw=1.2, label=lab, gid="data")
        if err is not None:
            lo, hi = raw[k] - err[k], raw[k] + err[k]
            if log:
                lo, hi = np.abs(raw[k]) - err[k], np.abs(raw[k]) + err[k]
                lo = np.where(lo > 0, lo, np.nan)
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.25, lw=0, gid="error_band",
                            label=f"\u00b1 {err_name}" if k == 0 else None)
    if floor is not None:
        fl = np.abs(np.asarray(floor.values, float))
        fl = fl[np.isfinite(fl)]
        if fl.size and fl.max() > 0:
            top = float(fl.max())
            text = f"finite-size floor {top:.2g} ({floor_src}): |values| below are not resolved"
            if log:
                ax.axhspan(min(np.nanmin(vals), top) / 10 if np.isfinite(np.nanmin(vals)) else top / 10, top, color="0.5", alpha=0.2, lw=0, gid="floor_band")
            else:
                ax.axhspan(-top, top, color="0.5", alpha=0.2, lw=0, gid="floor_band")
            ax.axhline(top, color="k", lw=0.8, ls=":", label=text, gid="floor")
    if not np.isfinite(raw).any():
        complex_note = "; ".join(filter(None, [complex_note, "no finite value (all NaN): nothing to show"]))
    elif log and not np.isfinite(vals).any():
        complex_note = "; ".join(filter(None, [complex_note, "every value is zero: nothing to show on a log axis"]))
    if log:
        ax.set_yscale("log")
    elif np.nanmin(raw, initial=np.inf) < 0 < np.nanmax(raw, initial=-np.inf):
        ax.axhline(0, color="0.7", lw=0.5, zorder=0)
    if ticks:
        ax.set_xticks(xs, ticks, rotation=30 if max(map(len, ticks)) > 4 else 0, fontsize=7)
    ax.set_xlabel(_axis_label(ds, view.x), fontsize=8)
    ax.set_ylabel(_label(ds[view.name], view.name, log), fontsize=8)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7)
    return complex_note


def _draw_map(fig, ax, ds, sub, view, log, floor, floor_src):
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch

    sub = sub.transpose(view.y, view.x)
    xs, xt = _coord(ds, view.x, monotonic=True)
    ys, yt = _coord(ds, view.y, monotonic=True)
    vals, complex_note = _values(sub, log)
    norm = None
    if log and np.isfinite(vals).any():
        norm = LogNorm(vmin=np.nanmin(vals), vmax=np.nanmax(vals))
    finite = vals[np.isfinite(vals)]
    signed = finite.size and finite.min() < 0 < finite.max()
    cmap = "RdBu_r" if signed and not log else "viridis"
    vmax = float(np.abs(finite).max()) if finite.size else 1.0
    kw = {"norm": norm} if norm is not None else ({"vmin": -vmax, "vmax": vmax} if signed else {})
    mesh = ax.pcolormesh(xs, ys, vals, shading="nearest", cmap=cmap, **kw)
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label(_label(ds[view.name], view.name, log), fontsize=8)
    if floor is not None:
        fl = np.abs(np.asarray(floor.values, float))
        fl = fl[np.isfinite(fl)]
        if fl.size and fl.max() > 0 and len(xs) > 1 and len(ys) > 1:
            top = float(fl.max())
            mag = np.abs(np.asarray(sub.values).real.astype(float))
            ax.contourf(xs, ys, np.where(np.isfinite(mag), mag, 0.0), levels=[0.0, top], colors="none", hatches=["////"])
            ax.contour(xs, ys, mag, levels=[top], colors="k", linewidths=0.8, linestyles=":")
            ax.legend(handles=[Patch(facecolor="none", hatch="////", label=f"finite-size floor {top:.2g} ({floor_src}): |values| below are not resolved", gid="floor_band")], fontsize=7)
    if xt:
        ax.set_xticks(xs, xt, fontsize=7)
    if yt:
        ax.set_yticks(ys, yt, fontsize=7)
    ax.set_xlabel(_axis_label(ds, view.x), fontsize=8)
    ax.set_ylabel(_axis_label(ds, view.y), fontsize=8)
    return complex_note


# =============================================================================== output
def default_output(path):
    """``FILE.png`` next to ``FILE.nc`` (the input's stem)."""
    p = Path(path)
    return p.with_name(p.stem + ".png") if p.suffix else p.with_name(p.name + ".png")


def check_plot_output(out, source, force=False):
    """The output path, checked before anything is drawn.

    ``out=None``: :func:`default_output`, refused if it exists unless ``force`` (it may be a figure
    ``orbsym figure`` wrote next to its ``figN.nc``).  A named ``--out`` is replaced atomically, as
    every orbsym command does.  The suffix must be one of :data:`FORMATS`.
    """
    from ..io import check_output_file

    implicit = out is None
    example = Path(str(source)).stem + ".png"
    target = check_output_file(default_output(source) if implicit else out, "--out", example)
    if target.suffix.lower() not in FORMATS:
        raise ValueError(f"--out {str(out)!r}: the file name must end in .png or .pdf, e.g. --out {example}")
    try:
        same = target.resolve() == Path(source).resolve()
    except OSError:
        same = False
    if same:
        raise ValueError(f"--out {str(out)!r} is the input file; give another name")
    if implicit and target.exists() and not force:
        raise ValueError(f"{str(target)!r} exists (the default output next to {Path(str(source)).name}); "
                         f"give --force to replace it or --out FIG.png to write elsewhere")
    return target


def plot_file(path, out=None, variables=None, sel=(), log=False, x=None, force=False, dpi=150):
    """Read ``path``, draw (:func:`plot_dataset`) and write PNG/PDF atomically.

    Returns
    -------
    (pathlib.Path, list of View, list of str)
        The file written, the views drawn and the other plottable variables of the file.
    """
    from ..io import atomic_path
    from .figures.common import _metadata

    sel = parse_sel(sel) if sel and not isinstance(sel[0], tuple) else list(sel)
    ds = open_dataset(path)
    target = check_plot_output(out, path, force)
    fig = plot_dataset(ds, variables, sel, log, x, source=path)
    fmt = target.suffix.lower().lstrip(".")
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt))
    drawn = {v.name for v in fig.orbsym_views}
    others = [str(n) for n in ds.data_vars if str(n) not in drawn and _plottable(ds[n]) and ds[n].ndim and not _helper_var(str(n))]
    return target, fig.orbsym_views, others
