"""Fig. 2 of the paper: OAM current <j^L_alpha> vs x in FM/NM/FM trilayers.

One panel per magnetization configuration ``(m_L, m_R)``, one curve per hopping anisotropy
``gamma``; the plotted polarization is the component along ``m_L x m_R`` (the "nonzero" current of
the caption); the CSV holds all three polarizations.

Current definitions (``current``):

* ``"bond"`` (default): the exact bond current of every x-bond ``(x, x+1)``, derived by
  :mod:`orbsym.symbolic.continuity`; it satisfies the lattice continuity equation exactly.  Plotted at the
  bond midpoints ``x + 1/2``.
* ``"eq7"``: the paper's site-centred Eq. (7) current per column (undefined, NaN, at the two
  hard-wall end columns).

Our normalization counts every bond once, so currents are twice the paper's printed Eq. (7)
(:mod:`orbsym.conventions`).  Paper parameters (caption): ``N_x = 25, N_y = 800, N_FM = 1,
|m| = 1, T = 0.01, mu = -0.2``; ``gamma in {1, 0.8, 0.5, 0.3}``.
"""

from __future__ import annotations

import numpy as np

from .common import BASE_PARAMETERS, new_figure, output_stem, parallel_map, resolve_parameters, save_figure, write_csv

__all__ = ["NAME", "DEFAULTS", "QUICK", "CURRENTS", "compute", "plot", "save", "summary", "run"]

NAME = "fig2"
CURRENTS = ("bond", "eq7")
DEFAULTS = {
    **BASE_PARAMETERS,
    "gammas": (1.0, 0.8, 0.5, 0.3),
    "configs": (("x", "y"), ("x", "z"), ("y", "z")),
    "current": "bond",
    "log": False,
}
QUICK = {"N_y": 200}

_AXIS = {"x": 0, "y": 1, "z": 2}


def _vec(label):
    from ...systems import magnetization

    return np.array(magnetization(label), float)


def plotted_polarization(m_L, m_R):
    """Polarization along ``m_L x m_R`` (largest component); ``None`` if they are collinear."""
    c = np.cross(_vec(m_L), _vec(m_R))
    if np.linalg.norm(c) < 1e-12:
        return None
    return "xyz"[int(np.argmax(np.abs(c)))]


def _profile(kw, T, kind):
    from ...systems import solve, trilayer

    res = solve(trilayer(**kw), T)
    cur = res.currents(kind, "x")
    return {p: np.asarray(cur[p], float) for p in "xyz"}


def compute(quick=False, workers=1, show_progress=None, **params):
    """Compute the Fig. 2 current profiles.

    Parameters
    ----------
    quick : bool
        Reduced sizes (``N_y = 200``).
    workers : int
        Processes sharing the trilayer solves.
    **params
        Any key of :data:`DEFAULTS`: ``N_x, N_y, N_FM, m, T, mu, t, tp, interface`` (see
        :func:`orbsym.systems.trilayer`), ``gammas`` (sequence), ``configs`` (sequence of
        ``(m_L, m_R)`` magnetizations), ``current`` (``"bond"`` or ``"eq7"``), ``log`` (plot
        ``|j|`` on a logarithmic axis; shows the orders of magnitude between the panels).

    Returns
    -------
    dict
        ``params``, ``x`` (positions: bond midpoints or columns), ``configs``, ``gammas``,
        ``plotted`` (polarization per configuration) and ``currents[(i_config, gamma)][alpha]``
        (arrays in units of t).
    """
    p = resolve_parameters(DEFAULTS, QUICK, quick, **params)
    if p["current"] not in CURRENTS:
        raise ValueError(f"unknown current definition {p['current']!r}; allowed: {', '.join(CURRENTS)}")
    gammas = tuple(float(g) for g in p["gammas"])
    if not gammas:
        raise ValueError("gammas must contain at least one value")
    configs = tuple((a, b) for a, b in p["configs"])
    for a, b in configs:
        _vec(a), _vec(b)  # validate
    p["gammas"], p["configs"] = gammas, configs
    from ...systems import trilayer

    base = {k: p[k] for k in ("N_x", "N_y", "N_FM", "m", "mu", "t", "tp", "interface")}
    trilayer(**base)  # validate sizes, generate kernels before any fork
    jobs = [({**base, "gamma": g, "m_L": a, "m_R": b}, p["T"], p["current"]) for a, b in configs for g in gammas]
    out = parallel_map(_profile, jobs, workers, desc="Fig. 2", show=show_progress)
    currents = {}
    i = 0
    for ic in range(len(configs)):
        for g in gammas:
            currents[(ic, g)] = out[i]
            i += 1
    N = p["N_x"]
    x = np.arange(N - 1) + 0.5 if p["current"] == "bond" else np.arange(N, dtype=float)
    return {
        "figure": "Fig. 2",
        "params": p,
        "x": x,
        "configs": configs,
        "gammas": gammas,
        "plotted": [plotted_polarization(a, b) for a, b in configs],
        "currents": currents,
    }


def summary(data):
    """Headline numbers: per configuration and gamma, the plotted current next to the left and right FM,
    their ratio, and the largest |j| of every polarization."""
    rows = []
    for ic, (a, b) in enumerate(data["configs"]):
        pol = data["plotted"][ic]
        for g in data["gammas"]:
            j = data["currents"][(ic, g)]
            jp = j[pol] if pol else None
            finite = jp[np.isfinite(jp)] if jp is not None else None
            rows.append(
                {
                    "m_L": a,
                    "m_R": b,
                    "gamma": g,
                    "polarization": pol,
                    "j_left": float(finite[0]) if finite is not None else None,
                    "j_right": float(finite[-1]) if finite is not None else None,
                    "max_abs": {q: float(np.nanmax(np.abs(j[q]))) for q in "xyz"},
                }
            )
    return rows


def plot(data):
    """Matplotlib Figure: one panel per configuration, one curve per gamma."""
    p = data["params"]
    n = len(data["configs"])
    fig = new_figure(3.3 * n, 3.4)
    axes = fig.subplots(1, n, squeeze=False)[0]
    x = data["x"]
    for ic, ((a, b), ax) in enumerate(zip(data["configs"], axes)):
        pol = data["plotted"][ic]
        for g in data["gammas"]:
            j = data["currents"][(ic, g)]
            if pol is None:
                q = max("xyz", key=lambda s: np.nanmax(np.abs(j[s])))
            else:
                q = pol
            y = np.abs(j[q]) if p["log"] else j[q]
            ax.plot(x, y, marker=".", ms=3, lw=1.0, label=f"$\\gamma={g:g}$")
        label = pol if pol else "max"
        ax.set_title(f"$m_L={_tex(a)}$, $m_R={_tex(b)}$", fontsize=10)
        ax.set_xlabel("x")
        if p["log"]:
            ax.set_yscale("log")
            ax.set_ylabel(f"$|\\langle j^L_{{{label}}}\\rangle|$ ($t$)")
        else:
            ax.set_ylabel(f"$\\langle j^L_{{{label}}}\\rangle$ ($t$)")
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
            ax.axhline(0, color="0.7", lw=0.5)
    axes[0].legend(fontsize=8)
    cur = "bond current (exact, conserved form)" if p["current"] == "bond" else "site-centred Eq. (7) current"
    fig.suptitle(
        f"Fig. 2: FM/NM/FM, {cur}; $N_x={p['N_x']}$, $N_y={p['N_y']}$, $T={p['T']:g}$, $\\mu={p['mu']:g}$, interface={p['interface']}",
        fontsize=9,
    )
    return fig


def _tex(label):
    return str(label) if isinstance(label, str) else "(" + ",".join(f"{float(v):.2g}" for v in label) + ")"


def meta(data):
    """Parameters and descriptions written into the CSV header."""
    p = dict(data["params"])
    p["configs"] = [[_tex(a), _tex(b)] for a, b in p["configs"]]
    return {
        "figure": "Fig. 2",
        "quantity": "x-current of L_alpha per site (units of t); bond: exact bond current on bond (x-1/2, x+1/2); eq7: paper Eq. (7) site-centred",
        "current_definition": p["current"],
        "interface": p["interface"],
        "normalization": "every bond counted once: currents are twice the paper's printed Eq. (7)",
        "parameters": p,
    }


def save(data, out_dir, name=NAME):
    """Write ``<name>.png``, ``<name>.pdf`` and ``<name>.csv`` (long format) atomically."""
    stem = output_stem(out_dir, name)
    rows = []
    for ic, (a, b) in enumerate(data["configs"]):
        for g in data["gammas"]:
            j = data["currents"][(ic, g)]
            for i, xv in enumerate(data["x"]):
                rows.append((_tex(a), _tex(b), g, xv, j["x"][i], j["y"][i], j["z"][i]))
    fig = plot(data)
    paths = save_figure(fig, stem)
    return paths + [write_csv(stem + ".csv", meta(data), ["m_L", "m_R", "gamma", "x", "j_x", "j_y", "j_z"], rows)]


def run(out_dir, quick=False, workers=1, show_progress=None, **params):
    """Compute, plot and save Fig. 2; returns ``(data, paths)``."""
    data = compute(quick=quick, workers=workers, show_progress=show_progress, **params)
    return data, save(data, out_dir)
