"""Input checks shared by the public numeric API (NumPy only; no SymPy).

Every check raises :class:`ValueError` with a message that names the argument, the bad value and
what is allowed, so that a wrong parameter fails at the call that received it -- not as a NumPy
error deep inside a solve, and never as a silently wrong number.
"""

from __future__ import annotations

import difflib
import math
import numbers

import numpy as np

__all__ = ["unknown_name", "check_name", "real_number", "integer_at_least", "ENERGY_LIMIT", "check_energy_scale"]

#: Largest ``|value|`` (units of t) accepted for an energy-like parameter (t, mu, m, gamma, w, T,
#: any model parameter).  The grand potential sums ``~ N_x N_y dim`` levels of size ``|E| + T ln 2``;
#: with ``|E|, T <= 1e100`` every sum, eigensolver scaling and current stays far from the float
#: overflow at ``1.8e308`` (``--mu 1e308`` used to give ``F = -inf`` silently).
ENERGY_LIMIT = 1e100


def unknown_name(what, value, allowed):
    """A ValueError for an unknown name, suggesting the close allowed ones (:mod:`difflib`)."""
    allowed = [str(a) for a in allowed]
    close = difflib.get_close_matches(str(value), allowed, n=3, cutoff=0.5)
    if not close and isinstance(value, str):
        close = [a for a in allowed if a.lower() == value.lower()]
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return ValueError(f"unknown {what} {value!r}{hint}; allowed: {', '.join(allowed)}")


def check_name(what, value, allowed):
    """Return ``value`` if it is one of ``allowed``, else raise :func:`unknown_name`."""
    if isinstance(value, str) and value in allowed:
        return value
    raise unknown_name(what, value, allowed)


def real_number(name, value, *, minimum=None, strict=False, allow_none=False, bound=None):
    """``value`` as a finite float; ValueError naming ``name`` otherwise.

    Parameters
    ----------
    minimum : float, optional
        Lower bound (inclusive, or exclusive with ``strict``).
    bound : float, optional
        Largest allowed ``|value|`` (e.g. :data:`ENERGY_LIMIT`).
    allow_none : bool
        Pass None through (for "default" parameters such as ``tp``).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str) or not isinstance(value, numbers.Number):
        raise ValueError(f"{name} must be a real number (units of t), got {value!r}")
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        if complex(value).imag != 0:
            raise ValueError(f"{name} must be a real number (units of t), got the complex value {value!r}")
        value = complex(value).real
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number (units of t), got {value!r}")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
    if bound is not None:
        check_energy_scale(name, v, bound)
    return v


def check_energy_scale(name, value, bound=ENERGY_LIMIT):
    """``value`` if ``|value| <= bound``; else ValueError giving the allowed range and the reason."""
    if abs(value) > bound:
        raise ValueError(
            f"{name} = {value!r} is outside the allowed range [-{bound:g}, {bound:g}] (units of t): "
            "larger energies overflow the free energy and the eigensolver"
        )
    return value


def integer_at_least(name, value, minimum, hint=""):
    """``value`` as an int ``>= minimum`` (bools and floats are rejected); ValueError otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r}")
    return int(value)
