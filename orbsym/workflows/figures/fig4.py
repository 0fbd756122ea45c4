"""Fig. 4 of the paper: NM/FM free energy vs chemical potential for m along x, y, z.

System as in Fig. 3(a) (multiorbital NM/FM bilayer, ``gamma = 0.3``).  ``mu`` enters only as
``-mu`` on every site, so each curve ``F_alpha(mu)`` comes from ONE eigenvalue-only
diagonalization of the ``mu = 0`` system (:func:`orbsym.workflows.figures.common.free_energy_vs_mu`).

Plotted: (a) ``F_alpha(mu)`` per row (Eq. 13, units of t); (b) the anisotropy
``F_alpha - min_beta F_beta`` with the lowest axis marked (the paper's inset shows the lowest
values).  The switch points are the ``mu`` where the lowest axis changes.
"""

from __future__ import annotations

import numpy as np

from .common import BASE_PARAMETERS, free_energy_vs_mu, new_figure, output_stem, parallel_map, resolve_parameters, save_figure, sign_changes, write_csv

__all__ = ["NAME", "DEFAULTS", "QUICK", "compute", "plot", "save", "summary", "run", "switch_points"]

NAME = "fig4"
DEFAULTS = {**BASE_PARAMETERS, "gamma": 0.3, "mu_min": -3.0, "mu_max": 3.0, "n_mu": 601}
DEFAULTS.pop("mu")
QUICK = {"N_y": 200, "n_mu": 121}
AXES = ("x", "y", "z")
_COLORS = {"x": "C0", "y": "C1", "z": "C2"}


def _curve(kw, T, mus):
    from ...systems import bilayer

    return free_energy_vs_mu(bilayer(**kw), T, mus)


def compute(quick=False, workers=1, show_progress=None, **params):
    """F(mu) per row for the FM magnetization along x, y and z (Fig. 4).

    Parameters
    ----------
    quick : bool
        Reduced sizes (``N_y = 200``, 121 values of mu).
    workers : int
        Processes (one diagonalization per axis).
    **params
        ``N_x, N_y, N_FM, m, T, t, tp, interface, gamma`` (:func:`orbsym.systems.bilayer`) and the
        grid ``mu_min, mu_max, n_mu``.

    Returns
    -------
    dict
        ``mu`` and ``F[axis]`` (per row, units of t).
    """
    p = resolve_parameters(DEFAULTS, QUICK, quick, **params)
    if isinstance(p["n_mu"], bool) or not isinstance(p["n_mu"], (int, np.integer)) or p["n_mu"] < 2:
        raise ValueError(f"n_mu must be an integer >= 2, got {p['n_mu']!r}")
    if not float(p["mu_min"]) < float(p["mu_max"]):
        raise ValueError(f"need mu_min < mu_max, got mu_min = {p['mu_min']!r}, mu_max = {p['mu_max']!r}")
    mus = np.linspace(float(p["mu_min"]), float(p["mu_max"]), int(p["n_mu"]))
    from ...systems import bilayer

    base = {k: p[k] for k in ("N_x", "N_y", "N_FM", "m", "t", "tp", "interface", "gamma")}
    base.update(metal="nm", mu=0.0)
    bilayer(**base)
    jobs = [({**base, "m_FM": a}, p["T"], mus) for a in AXES]
    out = parallel_map(_curve, jobs, workers, desc="Fig. 4", show=show_progress)
    return {"figure": "Fig. 4", "params": p, "mu": mus, "F": dict(zip(AXES, out))}


def lowest(data):
    """Index array of the lowest axis at every mu (0, 1, 2 for x, y, z)."""
    return np.argmin(np.vstack([data["F"][a] for a in AXES]), axis=0)


def switch_points(data):
    """``[(mu, from_axis, to_axis)]`` where the lowest-energy axis changes (linear interpolation)."""
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


def summary(data, mu_ref=-0.2):
    """Switch points, and the lowest axis and anisotropies at ``mu_ref`` (paper: -0.2)."""
    mu = data["mu"]
    Fref = {a: float(np.interp(mu_ref, mu, data["F"][a])) for a in AXES} if mu[0] <= mu_ref <= mu[-1] else None
    out = {"switch_points": [(round(m, 4), a, b) for m, a, b in switch_points(data)]}
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
    for a in AXES:
        ax1.plot(mu, data["F"][a], color=_COLORS[a], lw=1.2, label=f"$m \\parallel {a}$")
    ax1.set_ylabel("$F$ per row ($t$)")
    ax1.legend(fontsize=8)
    ax1.set_title(
        f"Fig. 4: NM/FM, $\\gamma={p['gamma']:g}$; $N_x={p['N_x']}$, $N_y={p['N_y']}$, $T={p['T']:g}$, interface={p['interface']}",
        fontsize=9,
    )
    Fmin = np.min(np.vstack([data["F"][a] for a in AXES]), axis=0)
    for a in AXES:
        ax2.plot(mu, data["F"][a] - Fmin, color=_COLORS[a], lw=1.0, label=a)
    low = lowest(data)
    top = float(np.max([np.max(data["F"][a] - Fmin) for a in AXES])) or 1.0
    for i, a in enumerate(AXES):
        sel = low == i
        ax2.fill_between(mu, -0.06 * top, -0.02 * top, where=sel, color=_COLORS[a], step="mid", lw=0)
    for m, _, _ in switch_points(data):
        ax2.axvline(m, color="0.6", lw=0.6, ls=":")
    ax2.set_ylim(-0.08 * top, 1.05 * top)
    ax2.set_ylabel("$F_\\alpha - \\min_\\beta F_\\beta$ ($t$)")
    ax2.set_xlabel("$\\mu$ ($t$)")
    ax2.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax2.text(0.01, 0.97, "bar: lowest axis", transform=ax2.transAxes, va="top", fontsize=8)
    return fig


def meta(data):
    return {
        "figure": "Fig. 4",
        "quantity": "grand potential F per row (Eq. 13, units of t) of the NM/FM bilayer vs mu, FM magnetization along x, y, z",
        "interface": data["params"]["interface"],
        "method": "one eigenvalue-only diagonalization per axis at mu = 0; F(mu) from the shifted levels E_n - mu",
        "switch_points": [list(s) for s in switch_points(data)],
        "parameters": data["params"],
    }


def save(data, out_dir, name=NAME):
    """Write ``<name>.png``, ``<name>.pdf`` and ``<name>.csv`` atomically."""
    stem = output_stem(out_dir, name)
    fig = plot(data)
    paths = save_figure(fig, stem)
    low = lowest(data)
    rows = [(m, data["F"]["x"][i], data["F"]["y"][i], data["F"]["z"][i], AXES[low[i]]) for i, m in enumerate(data["mu"])]
    return paths + [write_csv(stem + ".csv", meta(data), ["mu", "F_x", "F_y", "F_z", "lowest"], rows)]


def run(out_dir, quick=False, workers=1, show_progress=None, **params):
    """Compute, plot and save Fig. 4; returns ``(data, paths)``."""
    data = compute(quick=quick, workers=workers, show_progress=show_progress, **params)
    return data, save(data, out_dir)
