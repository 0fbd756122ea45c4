"""The continuity balance of an :func:`orbsym.dynamics.evolve` run, checked in time.

``d<J_n>/dt = -div j + tau + relaxation`` at every stored time, column and polarization, in two
independent ways (:func:`_balance`; the tolerances are derived in the Notes of
:func:`orbsym.dynamics.evolve`): the exact rate ``Tr(rho i[h, J_n])`` against the kernel
decomposition (:data:`EXACT_RTOL`), and the :func:`finite_difference` derivative of the stored
trajectory against it.  A run that is off raises :class:`ContinuityError` (or warns).
"""

from __future__ import annotations

import warnings

import numpy as np

from .records import POL_LABELS

__all__ = ["ContinuityError", "finite_difference", "EXACT_RTOL"]


#: Tolerance of the exact rate identity, relative to the largest rate of the run.
EXACT_RTOL = 1e-10


class ContinuityError(ArithmeticError):
    """The continuity balance of a run exceeded its tolerance (see :func:`evolve`)."""


def _fd_weights(order):
    """Finite-difference stencils (offsets, weights) for d/dt at the first points, interior, mirrored."""
    if order == 4:
        interior = (np.arange(-2, 3), np.array([1, -8, 0, 8, -1]) / 12)
        edge = [(np.arange(0, 5), np.array([-25, 48, -36, 16, -3]) / 12), (np.arange(-1, 4), np.array([-3, -10, 18, -6, 1]) / 12)]
    else:
        interior = (np.arange(-1, 2), np.array([-1, 0, 1]) / 2)
        edge = [(np.arange(0, 3), np.array([-3, 4, -1]) / 2)]
    return interior, edge


def finite_difference(y, dt, order=4, axis=0):
    """``dy/dt`` on a uniform grid: central differences of the given order (2 or 4), one-sided
    stencils of the same order at the ends.  Also returns, per point, the index range it used."""
    y = np.moveaxis(np.asarray(y), axis, 0)
    n = y.shape[0]
    (off, w), edges = _fd_weights(order)
    half = off[-1]
    if n < 2 * half + 1:
        raise ValueError(f"finite differences of order {order} need at least {2 * half + 1} stored times, got {n}")
    out = np.empty_like(y, dtype=float)
    ranges = np.zeros((n, 2), int)
    for i in range(half, n - half):
        out[i] = np.tensordot(w, y[i + off], axes=(0, 0))
        ranges[i] = (i - half, i + half)
    for j, (eo, ew) in enumerate(edges):
        out[j] = np.tensordot(ew, y[j + eo], axes=(0, 0))
        ranges[j] = (j + eo[0], j + eo[-1])
        out[n - 1 - j] = -np.tensordot(ew, y[n - 1 - j - eo], axes=(0, 0))
        ranges[n - 1 - j] = (n - 1 - j - eo[-1], n - 1 - j - eo[0])
    return np.moveaxis(out / dt, 0, axis), ranges


def _window_max(a, half=2):
    """Running maximum over ``+-half`` entries along axis 0."""
    out = a.copy()
    for sh in range(1, half + 1):
        out[sh:] = np.maximum(out[sh:], a[:-sh])
        out[:-sh] = np.maximum(out[:-sh], a[sh:])
    return out


def _balance(ds, times, uniform, proto, check, fd_order):
    """Add the continuity residuals and tolerances to ``ds`` and enforce them."""
    decomposition = -ds["divergence"] + ds["torque_total"] + ds["relaxation"]
    rate = ds["rate_exact"]
    scale = float(np.nanmax(np.abs(rate.values))) if rate.size else 0.0
    res_exact = rate - decomposition
    res_kernel = ds["dJdt_kernel"] - rate
    ds["residual_exact"] = res_exact.assign_attrs(description="rate_exact - (-divergence + torque_total + relaxation): exact identity")
    ds["residual_eom"] = res_kernel.assign_attrs(description="dJdt_kernel - rate_exact: equation-of-motion kernels vs matrices")
    tol_exact = EXACT_RTOL * max(1.0, scale)
    max_exact = float(max(np.nanmax(np.abs(res_exact.values)), np.nanmax(np.abs(res_kernel.values))))
    ds.attrs["tolerance_exact"] = tol_exact
    ds.attrs["max_residual_exact"] = max_exact
    failures = []
    if not max_exact <= tol_exact:
        failures.append(f"exact rate identity violated: max |Tr(rho i[h,J]) - (-div j + tau + relax)| = {max_exact:.3g} > {tol_exact:.3g}")
    nt = times.size
    if uniform and nt >= 5:
        Delta = float(times[1] - times[0])
        y = ds["density"].values
        d_hi, ranges = finite_difference(y, Delta, fd_order)
        d_lo, _ = finite_difference(y, Delta, 2)
        # running max over +-2 stored times: |D_2 - D_4| vanishes where d^3 J/dt^3 changes sign, the error of D_4 need not
        # the propagator's defect is a property of the whole state (errors spread across columns within a step, and
        # every J_alpha has operator norm <= 1): max over columns and polarizations
        prop = _window_max(ds["rate_kink"].values + 10 * ds["defect_estimate"].values).max(axis=(1, 2), keepdims=True)
        tol = 10 * _window_max(np.abs(d_hi - d_lo)) + prop + 1e-9 * (1.0 + scale)
        mask = np.zeros(nt, bool)
        for q in proto.quenches:
            if q.time > times[0]:
                mask |= (times[ranges[:, 0]] < q.time - 1e-12) & (times[ranges[:, 1]] > q.time + 1e-12)
        d_hi[mask] = np.nan
        res_fd = d_hi - decomposition.values
        ds["dJdt_fd"] = (("time", "polarization", "column"), d_hi, {"description": f"d<J>/dt of the stored trajectory, finite differences of order {fd_order} (NaN: stencil across a quench)"})
        ds["residual_fd"] = (("time", "polarization", "column"), res_fd, {"description": "dJdt_fd - (-divergence + torque_total + relaxation)"})
        ds["tolerance_fd"] = (("time", "polarization", "column"), tol, {"description": "10 max_{+-2 Delta} |D_2 - D_4| + max_{+-2 Delta, columns, polarizations} (rate_kink + 10 defect_estimate) + 1e-9 (1 + max|rate|): FD truncation + propagator defect bound"})
        ratio = np.abs(res_fd) / tol
        worst = float(np.nanmax(ratio)) if np.any(np.isfinite(ratio)) else 0.0
        ds.attrs["fd_order"] = fd_order
        ds.attrs["max_residual_fd"] = float(np.nanmax(np.abs(res_fd))) if np.any(np.isfinite(res_fd)) else 0.0
        ds.attrs["max_residual_fd_over_tolerance"] = worst
        if worst > 1.0:
            it, ip, ix = np.unravel_index(int(np.nanargmax(ratio)), ratio.shape)
            failures.append(
                f"finite-difference balance violated: |dJ/dt_fd - (-div j + tau + relax)| = {abs(res_fd[it, ip, ix]):.3g} > tolerance "
                f"{tol[it, ip, ix]:.3g} at t = {times[it]:g}, polarization {POL_LABELS[ip]}, column {ix} (reduce dt or the stored spacing)"
            )
    else:
        ds.attrs["fd_order"] = 0
        ds.attrs["fd_check"] = "skipped: needs a uniform time grid with at least 5 stored times"
    ds.attrs["continuity_check"] = "passed" if not failures else "FAILED: " + "; ".join(failures)
    if failures:
        msg = "continuity balance failed: " + "; ".join(failures)
        if check == "raise":
            raise ContinuityError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
