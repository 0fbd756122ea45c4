"""Fig. 4 of the paper: NM/FM free energy vs chemical potential for m along x, y, z.

System as in Fig. 3(a) (multiorbital NM/FM bilayer, ``gamma = 0.3``).  ``mu`` enters only as
``-mu`` on every site, so each curve ``F_alpha(mu)`` comes from ONE eigenvalue-only
diagonalization of the ``mu = 0`` system (:func:`orbsym.workflows.figures.common.free_energy_vs_mu`).

Plotted: (a) ``F_alpha(mu)`` per row (Eq. 13, units of t); (b) the anisotropy
``F_alpha - min_beta F_beta`` with the lowest axis marked (the paper's inset shows the lowest
values).  The switch points are the ``mu`` where the lowest axis changes, located by root-finding
on the closed-form F(mu) (:func:`exact_switch_points`, ~1e-9 in mu, independent of the grid).
"""

from __future__ import annotations

import numpy as np

from .common import (
    BASE_PARAMETERS,
    convergence_note,
    free_energy_from_levels,
    new_figure,
    output_stem,
    parameter_key,
    resolve_parameters,
    runner,
    save_figure,
    save_netcdf,
    sign_changes,
    wrap_title,
    write_csv,
)

__all__ = ["NAME", "DEFAULTS", "QUICK", "check", "compute", "plot", "save", "summary", "run", "switch_points", "exact_switch_points", "grid_switch_points"]

NAME = "fig4"
DEFAULTS = {**BASE_PARAMETERS, "gamma": 0.3, "mu_min": -3.0, "mu_max": 3.0, "n_mu": 601}
DEFAULTS.pop("mu")
QUICK = {"N_y": 200, "n_mu": 121}
AXES = ("x", "y", "z")
_COLORS = {"x": "C0", "y": "C1", "z": "C2"}


def check(quick=False, **params):
    """The resolved, checked parameters of :func:`compute` (no solve): ValueError naming a bad one."""
    from ...numeric.checks import ENERGY_LIMIT, real_number

    p = resolve_parameters(DEFAULTS, QUICK, quick, **params)
    if isinstance(p["n_mu"], bool) or not isinstance(p["n_mu"], (int, np.integer)) or p["n_mu"] < 2:
        raise ValueError(f"n_mu must be an integer >= 2, got {p['n_mu']!r}")
    for k in ("mu_min", "mu_max", "gamma"):
        real_number(k, p[k], bound=ENERGY_LIMIT)
    if not float(p["mu_min"]) < float(p["mu_max"]):
        raise ValueError(f"need mu_min < mu_max, got mu_min = {p['mu_min']!r}, mu_max = {p['mu_max']!r}")
    return p


def compute(quick=False, workers=1, show_progress=None, run=None, **params):
    """F(mu) per row for the FM magnetization along x, y and z (Fig. 4).

    One sweep over the axis (:func:`orbsym.workflows.sweeps.sweep`, observable ``levels``): each
    point is ONE eigenvalue-only diagonalization of the ``mu = 0`` bilayer; the curves
    ``F_alpha(mu)`` on the plotting grid and the exact switch points follow in closed form.

    Parameters
    ----------
    quick : bool
        Reduced sizes (``N_y = 200``, 121 values of mu).
    workers : int
        Processes (one diagonalization per axis).
    run : orbsym.workflows.figures.common.Runner, optional
        Executor, workers, resumable state and progress of the sweeps (overrides ``workers``).
    **params
        ``N_x, N_y, N_FM, m, T, t, tp, interface, gamma`` (:func:`orbsym.systems.bilayer`) and the
        grid ``mu_min, mu_max, n_mu``.

    Returns
    -------
    dict
        ``mu``, ``F[axis]`` (per row, units of t), ``levels[axis]`` / ``weights[axis]`` (the
        spectra at mu = 0) and ``switch_points`` (exact, :func:`switch_points`).
    """
    p = check(quick, **params)
    mus = np.linspace(float(p["mu_min"]), float(p["mu_max"]), int(p["n_mu"]))
    from ...systems import bilayer

    base = {k: p[k] for k in ("N_x", "N_y", "N_FM", "m", "t", "tp", "interface", "gamma")}
    base.update(metal="nm", mu=0.0)
    bilayer(**base)  # validate before any worker starts
    own = run is None
    run = runner(workers, show_progress, run)
    try:
        ds = run.sweep("bilayer", {"m_FM": list(AXES)}, ["levels"], {**base, "T": p["T"]}, parameter_key(NAME, p), "axes")
    except BaseException:
        if own:
            run.close(abort=True)  # interrupted: stop the workers now
        raise
    if own:
        run.close()
    levels = {a: ds.levels.sel(m_FM=a).values for a in AXES}
    weights = {a: ds.k_weight.sel(m_FM=a).values for a in AXES}
    F = {a: free_energy_from_levels(levels[a], weights[a], p["T"], mus) for a in AXES}
    data = {"figure": "Fig. 4", "params": p, "quick": bool(quick), "mu": mus, "F": F, "levels": levels, "weights": weights}
    data["switch_points"] = exact_switch_points(data)
    return data


def lowest(data):
    """Index array of the lowest axis at every mu (0, 1, 2 for x, y, z)."""
    return np.argmin(np.vstack([data["F"][a] for a in AXES]), axis=0)


def grid_switch_points(data):
    """``[(mu, from_axis, to_axis)]`` by linear interpolation on the plotting grid (the old reading;
    error ~ (grid step)^2; kept for comparison)."""
    mu = data["mu"]
    low = lowest(data)
    out = []
    for i in range(len(mu) - 1):
        a, b = AXES[low[i]], AXES[low[i + 1]]
        if a != b:
            d = data["F"][a][i : i + 2] - data["F"][b][i : i + 2]
            z = sign_changes(mu[i : i + 2], d)
            out.append((z[0] if z else float(0.5 * (mu[i] + mu[i + 1])), a, b))
    return out


def scan_step(T):
    """Spacing of the internal scan that brackets the switch points: ``T / 2`` (F varies on the scale
    T of the Fermi function), between ``1e-4`` and ``5e-3`` t."""
    return min(5e-3, max(1e-4, 0.5 * float(T)))


def exact_switch_points(data, xtol=1e-12):
    """``[(mu, from_axis, to_axis)]`` where the lowest-energy axis changes, to ~1e-9 in mu.

    Independent of the plotting grid: the lowest axis is scanned on a grid of spacing
    :func:`scan_step` over ``[mu_min, mu_max]`` with the closed-form ``F_alpha(mu)`` from the levels,
    and every change is refined by Brent's method (:func:`scipy.optimize.brentq`) on
    ``F_a(mu) - F_b(mu)``.  The accuracy is limited by the rounding of F (~1e-12 t) over the slope
    ``N_b - N_a`` of the difference.
    """
    from scipy.optimize import brentq

    p = data["params"]
    T = p["T"]
    lo, hi = float(p["mu_min"]), float(p["mu_max"])
    n = int(np.ceil((hi - lo) / scan_step(T))) + 1
    grid = np.linspace(lo, hi, n)
    lev, wts = data["levels"], data["weights"]
    Fs = np.vstack([_scan_free_energy(lev[a], wts[a], T, grid) for a in AXES])
    low = np.argmin(Fs, axis=0)
    out = []
    for i in np.nonzero(low[1:] != low[:-1])[0]:
        a, b = AXES[low[i]], AXES[low[i + 1]]

        def diff(m, a=a, b=b):
            return float(free_energy_from_levels(lev[a], wts[a], T, [m])[0] - free_energy_from_levels(lev[b], wts[b], T, [m])[0])

        lo_, hi_ = grid[i], grid[i + 1]
        if diff(lo_) * diff(hi_) > 0:  # the fast scan and the exact F disagree on this bracket: widen it
            lo_, hi_ = grid[max(i - 1, 0)], grid[min(i + 2, n - 1)]
        out.append((float(brentq(diff, lo_, hi_, xtol=xtol, rtol=4 * np.finfo(float).eps)), a, b))
    return out


_WINDOW = 40.0  # levels beyond 40 T of mu are full (g = E - mu) or empty (g = 0) to ~e^-40


def _scan_free_energy(E, w, T, mus):
    """F(mu) per row for a scan (brackets only): sorted levels and prefix sums, so only the levels
    within ``40 T`` of mu are evaluated with the logarithm (full ones: ``E - mu`` exactly)."""
    from ...numeric import grand_potential_terms

    E = np.asarray(E, float)
    ww = np.broadcast_to(np.asarray(w, float)[:, None], E.shape).ravel()
    order = np.argsort(E, axis=None)
    e, ww = E.ravel()[order], ww[order]
    cw = np.concatenate([[0.0], np.cumsum(ww)])
    cwe = np.concatenate([[0.0], np.cumsum(ww * e)])
    Ny = float(np.sum(w))
    width = _WINDOW * T
    i0 = np.searchsorted(e, mus - width)
    i1 = np.searchsorted(e, mus + width)
    out = np.empty(len(mus))
    for j, mu in enumerate(mus):
        a, b = i0[j], i1[j]
        out[j] = (cwe[a] - mu * cw[a] + float(np.dot(ww[a:b], grand_potential_terms(e[a:b] - mu, T)))) / Ny
    return out


def switch_points(data):
    """``[(mu, from_axis, to_axis)]`` where the lowest-energy axis changes (exact, see
    :func:`exact_switch_points`)."""
    if "switch_points" in data:
        return list(data["switch_points"])
    if "levels" not in data:  # curves without their spectra (e.g. read back from a CSV): grid reading
        return grid_switch_points(data)
    return exact_switch_points(data)


def summary(data, mu_ref=-0.2):
    """Switch points, and the lowest axis and anisotropies at ``mu_ref`` (paper: -0.2)."""
    mu = data["mu"]
    Fref = {a: float(np.interp(mu_ref, mu, data["F"][a])) for a in AXES} if mu[0] <= mu_ref <= mu[-1] else None
    out = {"switch_points": [(round(m, 9), a, b) for m, a, b in switch_points(data)]}
    if Fref:
        lo = min(Fref, key=Fref.get)
        out["mu_ref"] = mu_ref
        out["lowest_at_mu_ref"] = lo
        out["F_minus_min_at_mu_ref"] = {a: v - Fref[lo] for a, v in Fref.items()}
    return out


def plot(data):
    p = data["params"]
    mu = data["mu"]
    fig = new_figure(6.0, 5.4)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1.3, 1])
    Fall = np.vstack([data["F"][a] for a in AXES])
    Fbar = Fall.mean(axis=0)
    for a in AXES:  # the anisotropy (1e-2 t) is invisible next to F itself (~ -300 t): plot F - mean
        ax1.plot(mu, data["F"][a] - Fbar, color=_COLORS[a], lw=1.2, label=f"$m \\parallel {a}$")
    ax1.axhline(0, color="0.7", lw=0.5)
    ax1.set_ylabel("$F_\\alpha - \\bar F$ per row (units of $t$)")
    ax1.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax1.legend(fontsize=8)
    ax1.text(0.01, 0.03, f"$\\bar F$ = mean over $\\alpha$, from {Fbar.min():.4g} to {Fbar.max():.4g} $t$", transform=ax1.transAxes, fontsize=7)
    parts = ["Fig. 4: NM/FM,", f"$\\gamma={p['gamma']:g}$;", f"$N_x={p['N_x']}$,", f"$N_y={p['N_y']}$,", f"$T={p['T']:g}$,", f"interface={p['interface']}"]
    note = convergence_note(data)
    ax1.set_title(wrap_title(parts, fig.get_figwidth(), 9, note=note), fontsize=9, color="C3" if note else "k")
    Fmin = np.min(np.vstack([data["F"][a] for a in AXES]), axis=0)
    for a in AXES:
        ax2.plot(mu, data["F"][a] - Fmin, color=_COLORS[a], lw=1.0, label=a)
    low = lowest(data)
    top = float(np.max([np.max(data["F"][a] - Fmin) for a in AXES])) or 1.0
    for i, a in enumerate(AXES):
        sel = low == i
        ax2.fill_between(mu, -0.06 * top, -0.02 * top, where=sel, color=_COLORS[a], step="mid", lw=0)
    for m, _, _ in switch_points(data):
        for ax in (ax1, ax2):
            ax.axvline(m, color="0.6", lw=0.6, ls=":")
    ax2.set_ylim(-0.08 * top, 1.05 * top)
    ax2.set_ylabel("$F_\\alpha - \\min_\\beta F_\\beta$ (units of $t$)")
    ax2.set_xlabel("$\\mu$ (units of $t$)")
    ax2.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax2.text(0.01, 0.97, "bar: lowest axis; dotted: exact switch points", transform=ax2.transAxes, va="top", fontsize=8)
    return fig


def meta(data):
    return {
        "figure": "Fig. 4",
        "quantity": "grand potential F per row (Eq. 13, units of t) of the NM/FM bilayer vs mu, FM magnetization along x, y, z",
        "interface": data["params"]["interface"],
        "method": "one eigenvalue-only diagonalization per axis at mu = 0; F(mu) from the shifted levels E_n - mu",
        "switch_points": [list(s) for s in switch_points(data)],
        "switch_points_method": "Brent root of F_a(mu) - F_b(mu) (closed form from the levels), bracketed by a scan of spacing T/2; ~1e-9 in mu, independent of the mu grid",
        "parameters": data["params"],
    }


def dataset(data):
    """The labeled data (xarray): ``F(axis, mu)`` per row and the mu = 0 levels ``E(axis, k, level)``."""
    import xarray as xr

    F = np.vstack([data["F"][a] for a in AXES])
    ds = xr.Dataset(
        {
            "F": (("axis", "mu"), F, {"units": "t per row (grand potential, Eq. 13)", "description": "grand potential per row against mu, for m along each axis, Fig. 4"}),
            "levels": (("axis", "k", "level"), np.stack([data["levels"][a] for a in AXES]), {"units": "t, single-particle energies at mu = 0", "description": "single-particle energies E_n(k) per magnetization axis (mu = 0)"}),
            "k_weight": (("axis", "k"), np.stack([data["weights"][a] for a in AXES]), {"units": "k-point weight (sums to N_y)", "description": "weight of each k point in the sums"}),
        },
        coords={"axis": np.array(AXES), "mu": ("mu", data["mu"], {"units": "t"})},
        attrs=_nc_attrs(meta(data)),
    )
    return ds


def _nc_attrs(m):
    import json

    from ... import __version__

    return {"title": f"orbsym {__version__} reproduction of {m['figure']}", **{k: v if isinstance(v, str) else json.dumps(v, default=repr) for k, v in m.items()}}


def save(data, out_dir, name=NAME):
    """Write ``<name>.png``, ``<name>.pdf``, ``<name>.csv`` and ``<name>.nc`` atomically."""
    stem = output_stem(out_dir, name)
    fig = plot(data)
    paths = save_figure(fig, stem)
    low = lowest(data)
    rows = [(m, data["F"]["x"][i], data["F"]["y"][i], data["F"]["z"][i], AXES[low[i]]) for i, m in enumerate(data["mu"])]
    paths.append(write_csv(stem + ".csv", meta(data), ["mu", "F_x", "F_y", "F_z", "lowest"], rows))
    return paths + [save_netcdf(dataset(data), stem + ".nc")]


def run(out_dir, quick=False, workers=1, show_progress=None, run=None, **params):
    """Compute, plot and save Fig. 4 into ``out_dir`` (checked first; the files are locked against a
    second run, :func:`~orbsym.workflows.figures.common.locked_outputs`); returns ``(data, paths)``."""
    import sys

    from .common import run_figure

    return run_figure(sys.modules[__name__], out_dir, quick=quick, workers=workers, show_progress=show_progress, run=run, **params)
