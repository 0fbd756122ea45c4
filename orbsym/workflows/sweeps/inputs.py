"""Checks of a sweep's inputs in the parent process, before any point runs.

Everything a user can get wrong is refused here with a :class:`ValueError` naming the bad value
(the CLI turns it into one line and exit status 2), never as a :class:`~orbsym.workflows.sweeps.
SweepError` after the points ran:

* axes: 1-D, non-empty, numbers or strings, finite (``N_y`` may be ``inf``);
* parameter names against the geometry (with suggestions), fixed values finite;
* for the built-in geometries, the system of every combination of the discrete axis values
  (strings and ``N_x``, ``N_y``, ``N_FM``) with the extremes of the continuous ones is built here
  (milliseconds each): a misspelled interface, ``gamma='abc'``, ``N_x`` too small for ``N_FM``...
  fail with the point's values.  User factories are not called in the parent (they may be slow
  or have side effects); their points fail one by one as before;
* the size: points times stored values against the memory of this machine, with the estimate
  (each point's own memory and the total time: :mod:`orbsym.workflows.sweeps.estimate`).

Numbers are canonicalized for the built-in geometries (:func:`canonical_values`): integer sizes
become ``int``, every other number ``float``, so ``gamma=1`` and ``gamma=1.0`` are the same sweep
with the same file.
"""

from __future__ import annotations

import difflib
import itertools
import math

import numpy as np

from .points import _INT_PARAMETERS, SystemSpec, _as_int

__all__ = [
    "system_spec",
    "check_names",
    "parse_axes",
    "check_values",
    "canonical_values",
    "check_points",
    "check_size",
    "split_list",
    "parse_real",
    "is_film_sweep",
    "check_film_observables",
    "MAX_POINTS",
]

#: Geometries of :mod:`orbsym.systems` a sweep can name.
GEOMETRIES = ("trilayer", "bilayer")
#: No sweep has more points than this (the parent keeps per-point bookkeeping).
MAX_POINTS = 10_000_000
#: Bytes of parent-side bookkeeping per point (dicts, index lists, chunk keys), measured ~600.
_OVERHEAD_BYTES = 1000
#: At most this many parameter combinations are built in the parent by :func:`check_points`.
_MAX_CHECKS = 256
#: Longer points are checked on a copy of this many columns (at least ``2 N_FM + 3``): the
#: constructors only bound ``N_x`` from below, and building 10^5 columns takes seconds.
_BUILD_COLUMNS = 64


def split_list(option, text, sep=",", what="entry", example=None):
    """Split the ``sep``-separated list ``text`` given to ``option`` (command-line lists and ranges).

    Entries are stripped; an empty entry (``1,,0.5``, a trailing ``,``, ``-3::601``) or an empty
    value is a ValueError naming the option, the value and the position, never silently dropped.

    Parameters
    ----------
    option : str
        The option as the user typed it (``"--gamma"``), for the message.
    text : str
        The value.
    sep : str
        ``","`` for lists, ``":"`` for ``MIN:MAX:N`` ranges.
    what : str
        ``"entry"`` or ``"field"`` (in the message).
    example : str, optional
        A good value for the message of an empty value.

    Examples
    --------
    >>> split_list("--gamma", "1, 0.5")
    ['1', '0.5']
    >>> split_list("--gamma", "1,,0.5")
    Traceback (most recent call last):
    ...
    ValueError: --gamma '1,,0.5': empty entry at position 2
    """
    raw = "" if text is None else str(text)
    if not raw.strip():
        hint = f"; e.g. {option} {example}" if example else ""
        raise ValueError(f"{option} is empty{hint}")
    parts = [t.strip() for t in raw.split(sep)]
    for i, t in enumerate(parts, 1):
        if not t:
            raise ValueError(f"{option} {raw!r}: empty {what} at position {i}")
    return parts


def parse_real(option, token, text=None):
    """``token`` (one entry of ``option``'s value ``text``) as a finite real float.

    NaN, infinities, complex numbers and words are ValueErrors naming the option and the value.
    """
    where = f"{option} {text!r}: " if text is not None and str(text) != str(token) else f"{option}: "
    try:
        v = float(token)
    except (TypeError, ValueError):
        try:
            complex(str(token).strip())
        except ValueError:
            raise ValueError(f"{where}{str(token)!r} is not a number") from None
        raise ValueError(f"{where}{str(token)!r} is complex; a real number is needed") from None
    if not math.isfinite(v):
        raise ValueError(f"{where}{str(token)!r} is not a finite number")
    return v


def system_spec(system, fixed):
    if isinstance(system, str):
        if system not in GEOMETRIES:
            close = difflib.get_close_matches(system, GEOMETRIES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown geometry {system!r}{hint}; allowed: {', '.join(GEOMETRIES)} or a factory callable(**params) -> System")
        return SystemSpec(system, None, dict(fixed))
    if callable(system):
        return SystemSpec("custom", system, dict(fixed))
    raise ValueError(f"system must be a geometry name ({', '.join(GEOMETRIES)}) or a factory callable(**params) -> System, got {system!r}")


def check_names(spec, names, what):
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


def parse_axes(axes, seconds_per_point=None):
    """``{name: list of values}`` from a dict or a list of ``(name, values)``; shape and type checks.

    ``seconds_per_point`` (a callable) estimates the cost of one point for the message refusing an
    axis longer than :data:`MAX_POINTS` (checked before the values are copied).
    """
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
        n = len(values) if hasattr(values, "__len__") else None
        if n is not None and n > MAX_POINTS:
            hours = f", and about {n * seconds_per_point() / 3600:.3g} core-hours" if seconds_per_point else ""
            raise ValueError(
                f"axis {name!r} has {n} values; a sweep has at most {MAX_POINTS} points (it would need at least "
                f"{_gib(n * _OVERHEAD_BYTES)} of memory for bookkeeping alone{hours}) -- coarsen or split it"
            )
        vals = [_scalar(v) for v in np.asarray(values, dtype=object).ravel().tolist()] if np.ndim(values) == 1 else None
        if vals is None:
            raise ValueError(f"axis {name!r}: values must be 1-D, got shape {np.shape(values)}")
        if not vals:
            raise ValueError(f"axis {name!r} has no values")
        kinds = {isinstance(v, str) for v in vals}
        if len(kinds) > 1:
            raise ValueError(f"axis {name!r} mixes strings and numbers: {vals!r}")
        if kinds == {True}:
            empty = [v for v in vals if not v.strip()]
            if empty:
                raise ValueError(f"axis {name!r}: empty value {empty[0]!r} in {vals!r}")
        if kinds == {False}:
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"axis {name!r}: values must be numbers or strings, got {v!r}")
                if math.isnan(v) or (math.isinf(v) and not (name == "N_y" and v > 0)):
                    raise ValueError(f"axis {name!r}: value {v!r} is not finite" + (" (only N_y may be inf)" if name != "N_y" else ""))
        out[name] = vals
    return out


def _finite_fixed(name, v):
    """Fixed values: numbers (or tuples of them) finite, ``N_y`` may be ``inf``; strings non-empty."""
    v = _scalar(v)
    if isinstance(v, str):
        if not v.strip():
            raise ValueError(f"fixed parameter {name!r}: empty value")
        return
    if isinstance(v, (tuple, list, np.ndarray)):
        for c in np.asarray(v, dtype=object).ravel().tolist():
            c = _scalar(c)
            if isinstance(c, (int, float)) and not isinstance(c, bool) and not math.isfinite(c):
                raise ValueError(f"fixed parameter {name!r}: component {c!r} of {v!r} is not finite")
        return
    if isinstance(v, float) and (math.isnan(v) or (math.isinf(v) and not (name == "N_y" and v > 0))):
        raise ValueError(f"fixed parameter {name!r} = {v!r} is not finite" + (" (only N_y may be inf)" if name != "N_y" else ""))


def check_values(axes, fixed):
    """Cheap per-value checks: temperatures, integer sizes, finite fixed values."""
    from ...numeric.thermo import check_temperature

    for name, v in fixed.items():
        _finite_fixed(name, v)
    items = [(n, v) for n, vals in axes.items() for v in vals] + list(fixed.items())
    for name, v in items:
        if name == "T":
            check_temperature(v)
        elif name == "N_z" and v is None:
            continue  # the 2D system
        elif name in _INT_PARAMETERS:
            _as_int(name, v)


def _canon(name, v):
    v = _scalar(v)
    if isinstance(v, bool) or isinstance(v, str) or v is None:
        return v
    if isinstance(v, (int, float)):
        if name in _INT_PARAMETERS:
            return _as_int(name, v)
        return float(v)
    if isinstance(v, (tuple, list, np.ndarray)):
        return tuple(float(c) if isinstance(_scalar(c), (int, float)) and not isinstance(_scalar(c), bool) else c for c in np.asarray(v, dtype=object).ravel().tolist())
    return v


def canonical_values(spec, axes, fixed):
    """Built-in geometries: integer sizes as ``int`` (``inf`` kept), other numbers as ``float``."""
    if spec.factory is not None:
        return axes, fixed
    axes = {n: [_canon(n, v) for v in vals] for n, vals in axes.items()}
    fixed = {n: _canon(n, v) for n, v in fixed.items() if not (n == "N_z" and v is None)}  # N_z=None: the 2D default
    return axes, fixed


def is_film_sweep(axes, fixed):
    """Whether the points of a sweep are films: ``N_z`` swept, or fixed to a value other than None."""
    return "N_z" in axes or fixed.get("N_z") is not None


def check_film_observables(parsed, film):
    """Refuse the observables that do not exist for the sweep's kind of system (before any point runs).

    Films have no ``levels`` (one band set per k_z sector); 2D systems have no current along z.
    """
    for base, kind, direction in parsed:
        if base == "levels" and film:
            raise ValueError("observable 'levels' needs 2D points; this sweep's points are films (N_z given), with one band set per k_z sector")
        if base == "currents" and direction == "z" and not film:
            raise ValueError(f"observable 'currents:{kind}:z' needs films, periodic in z: give N_z (--set N_z=N or --param N_z=...); a 2D system has directions x and y")


def _candidates(name, vals):
    """Values of one axis to try in the parent: all distinct discrete ones, extremes of the others."""
    if isinstance(vals[0], str) or name in _INT_PARAMETERS:
        return list(dict.fromkeys(vals))
    lo, hi = min(vals), max(vals)
    return [lo] if lo == hi else [lo, hi]


#: Parameters that only one basis uses (the other silently ignores them).
_BASIS_ONLY = {"w": "spin", "spin_unit": "spin", "gamma": "orbital", "tp": "orbital"}


def check_points(spec, axes):
    """Build the system of representative points in the parent (built-in geometries only).

    All combinations of the discrete values (strings and integer sizes) with the extremes of the
    continuous axes when there are at most ``_MAX_CHECKS`` of them, else each axis's candidates
    separately (the other axes at their first value).  A constructor error is raised as a
    ValueError naming the point's values (or the fixed parameters, when they alone fail).  A
    given parameter that no point's basis uses (``w`` in the orbital basis, ``gamma`` or ``tp``
    in the spin basis, ``spin_unit`` in the orbital basis) is refused too: it would be ignored.
    """
    if spec.factory is not None:
        return
    from .points import system_kwargs

    cands = {n: _candidates(n, v) for n, v in axes.items()}
    if math.prod(len(c) for c in cands.values()) <= _MAX_CHECKS:
        points = [dict(zip(cands, combo)) for combo in itertools.product(*cands.values())]
    else:
        first = {n: v[0] for n, v in axes.items()}
        points = [dict(first, **{n: c}) for n, cs in cands.items() for c in cs[:_MAX_CHECKS]]
    make = spec.constructor()
    bases = set()
    built = {}
    for p in points:
        try:
            kw, _, _ = system_kwargs(spec, p)
            N_FM = kw.get("N_FM", 1) if isinstance(kw.get("N_FM", 1), int) else 1
            if isinstance(kw.get("N_x"), int) and kw["N_x"] > max(_BUILD_COLUMNS, 2 * N_FM + 3):
                kw["N_x"] = max(_BUILD_COLUMNS, 2 * N_FM + 3)  # a longer system fails only where this one does
            key = repr(sorted(kw.items()))
            if key not in built:
                built[key] = make(**kw).info.get("basis")
            bases.add(built[key])
        except (ValueError, TypeError) as exc:
            why = " ".join(str(exc).split())
            fixed = ", ".join(f"{n}={v!r}" for n, v in spec.fixed.items())
            if fixed:
                try:
                    kw, _, _ = system_kwargs(spec, {})
                    make(**kw)
                except (ValueError, TypeError) as alone:
                    if " ".join(str(alone).split()) == why:
                        raise ValueError(f"fixed parameters {fixed} are invalid: {why}") from None
            swept = ", ".join(f"{n}={v!r}" for n, v in p.items())
            values = "; ".join(f"{n} = {axes[n]!r}" if len(axes[n]) <= 12 else f"{n} = [{len(axes[n])} values]" for n in p)
            raise ValueError(f"sweep point {swept} is invalid: {why} (axis values: {values})") from None
    given = [n for n in list(axes) + list(spec.fixed) if n in _BASIS_ONLY]
    for n in given:
        if _BASIS_ONLY[n] not in bases:
            only = _BASIS_ONLY[n]
            raise ValueError(
                f"parameter {n!r} applies only to the {only} basis, but every point of this sweep is in the "
                f"{' / '.join(sorted(b for b in bases if b))} basis (it would be silently ignored); remove it"
                + (" or set basis=spin (metal=am for the altermagnet)" if only == "spin" else " or set basis=orbital")
            )


def _physical_memory():
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 16 * 2**30


def _gib(n):
    return f"{n / 2**40:.3g} TiB" if n >= 2**40 else f"{n / 2**30:.3g} GiB"


def check_size(axes, schema, max_columns, seconds, site_dim=3, max_rows=None, with_bytes=False, film=False):
    """Refuse a sweep whose results would not fit in memory, or with more than :data:`MAX_POINTS` points.

    Runs before anything is allocated.  The memory and time of the points themselves are checked
    afterwards, engine by engine (:func:`orbsym.workflows.sweeps.estimate.check_sweep_resources`).

    Parameters
    ----------
    schema : list of (variable, dims)
        Stored variables (:func:`orbsym.workflows.sweeps.points.observable_schema`).
    max_columns : int
        Largest ``N_x`` of the sweep (length of the ``x`` dimensions).
    seconds : float
        Estimated compute time on one core (for the message).
    site_dim : int
        Orbitals per site (3 in the orbital basis, 2 in the spin basis).
    max_rows : int, optional
        Largest finite ``N_y`` (length of the ``k`` dimension of the ``levels`` observable).
    with_bytes : bool
        Return ``(n_points, bytes of the results)`` instead of ``n_points``.
    film : bool
        The points are films (:data:`~orbsym.workflows.sweeps.points.FILM_TORQUE_TERMS`).
    """
    from .points import AXIS_LABELS, FILM_TORQUE_TERMS, POLARIZATION_LABELS, TORQUE_TERMS

    n_points = math.prod(len(v) for v in axes.values())
    sizes = {"polarization": len(POLARIZATION_LABELS), "axis": len(AXIS_LABELS), "torque_term": len(FILM_TORQUE_TERMS if film else TORQUE_TERMS), "x": max_columns, "x_bond": max(1, max_columns - 1)}
    sizes["k"] = int(max_rows or 1)  # levels: at most N_y momenta ...
    sizes["level"] = max_columns * site_dim  # ... of N_x dim levels each
    per_point = sum(8 * math.prod(sizes[d] for d in dims) for _, dims in schema)
    need = n_points * (2 * per_point + _OVERHEAD_BYTES)  # results dict + assembled arrays
    limit = _physical_memory() // 2
    shape = " x ".join(f"{n}={len(v)}" for n, v in axes.items())
    if n_points > MAX_POINTS or need > limit:
        raise ValueError(
            f"sweep of {n_points} points ({shape}) refused: it needs about {_gib(need)} of memory here "
            f"(limit {_gib(limit)}, half of this machine) and about {seconds / 3600:.3g} core-hours; at most {MAX_POINTS} points -- "
            f"coarsen the axes or split the sweep"
        )
    return (n_points, need) if with_bytes else n_points
