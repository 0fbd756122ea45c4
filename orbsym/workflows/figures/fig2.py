"""Fig. 2 of the paper: OAM current <j^L_alpha> vs x in FM/NM/FM trilayers.

One panel per magnetization configuration ``(m_L, m_R)``, one curve per hopping anisotropy
``gamma``; the plotted polarization is the component along ``m_L x m_R`` (the "nonzero" current of
the caption); the CSV holds all three polarizations.

Current definitions (``current``):

* ``"bond"`` (default): the exact bond current of every x-bond ``(x, x+1)``, derived by
  :mod:`orbsym.symbolic.continuity`; it satisfies the lattice continuity equation exactly.  Plotted at the
  bond midpoints ``x + 1/2``.
* ``"eq7"``: the paper's site-centred Eq. (7) current per column, read as the average of the
  forward and backward one-sided forms (undefined, NaN, at the two hard-wall end columns).  At the
  two metal columns next to an FM with interface rule ``"fm"`` the two one-sided forms use
  different hoppings (isotropic FM bond on one side), so this average is one reading of Eq. (7)
  there; the CSV header says so.

Our normalization counts every bond once, so currents are twice the paper's printed Eq. (7)
(:mod:`orbsym.conventions`).  Paper parameters (caption): ``N_x = 25, N_y = 800, N_FM = 1,
|m| = 1, T = 0.01, mu = -0.2``; ``gamma in {1, 0.8, 0.5, 0.3}``.
"""

from __future__ import annotations

import numpy as np

import functools

from .common import BASE_PARAMETERS, convergence_note, new_figure, output_stem, parameter_key, resolve_parameters, runner, save_figure, save_netcdf, wrap_title, write_csv

__all__ = ["NAME", "DEFAULTS", "QUICK", "check", "CURRENTS", "compute", "plot", "save", "summary", "run"]

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


def config_trilayer(config, configs, **kw):
    """Sweep factory: the trilayer with ``(m_L, m_R) = configs[config]`` (a picklable partial over
    ``configs`` makes the magnetization configurations one sweep axis)."""
    from ...systems import trilayer

    m_L, m_R = configs[int(config)]
    return trilayer(m_L=m_L, m_R=m_R, **kw)


def check(quick=False, **params):
    """The resolved, checked parameters of :func:`compute` (no solve): ValueError naming a bad one."""
    from ...numeric.checks import check_name

    p = resolve_parameters(DEFAULTS, QUICK, quick, **params)
    check_name("current definition", p["current"], CURRENTS)
    p["gammas"] = check_gammas(p["gammas"])
    try:
        configs = tuple((a, b) for a, b in p["configs"])
    except (TypeError, ValueError):
        raise ValueError(f"configs must be a sequence of (m_L, m_R) pairs such as (('x', 'y'), ('x', 'z')), got {p['configs']!r}") from None
    if not configs:
        raise ValueError("configs must contain at least one (m_L, m_R) pair")
    for a, b in configs:
        _vec(a), _vec(b)  # validate
    p["configs"] = configs
    return p


def check_gammas(gammas, name="gammas"):
    """``gammas`` as a non-empty tuple of finite real floats (Figs. 2 and 5)."""
    from ...numeric.checks import ENERGY_LIMIT, real_number

    if isinstance(gammas, (str, bytes)) or not hasattr(gammas, "__iter__"):
        raise ValueError(f"{name} must be a sequence of numbers, got {gammas!r}")
    out = tuple(real_number(name, g, bound=ENERGY_LIMIT) for g in gammas)
    if not out:
        raise ValueError(f"{name} must contain at least one value")
    return out


def compute(quick=False, workers=1, show_progress=None, run=None, **params):
    """Compute the Fig. 2 current profiles: one sweep over ``configuration x gamma`` (with ``log``
    also ``N_y x {1, 2}``, whose difference is the finite-N_y floor drawn in the plot).

    Parameters
    ----------
    quick : bool
        Reduced sizes (``N_y = 200``).
    workers : int
        Processes sharing the trilayer solves.
    run : orbsym.workflows.figures.common.Runner, optional
        Executor, workers, resumable state and progress of the sweep (overrides ``workers``).
    **params
        Any key of :data:`DEFAULTS`: ``N_x, N_y, N_FM, m, T, mu, t, tp, interface`` (see
        :func:`orbsym.systems.trilayer`), ``gammas`` (sequence), ``configs`` (sequence of
        ``(m_L, m_R)`` magnetizations), ``current`` (``"bond"`` or ``"eq7"``), ``log`` (plot
        ``|j|`` on a logarithmic axis only, with the finite-N_y floor ``max_x |j(N_y) - j(2 N_y)|``
        marked; costs the solves at ``2 N_y``).

    Returns
    -------
    dict
        ``params``, ``x`` (positions: bond midpoints or columns), ``configs``, ``gammas``,
        ``plotted`` (polarization per configuration) and ``currents[(i_config, gamma)][alpha]``
        (arrays in units of t).
    """
    p = check(quick, **params)
    gammas, configs = p["gammas"], p["configs"]
    from ...systems import trilayer

    base = {k: p[k] for k in ("N_x", "N_y", "N_FM", "m", "mu", "t", "tp", "interface")}
    trilayer(**base)  # validate sizes, generate kernels before any fork
    own = run is None
    run = runner(workers, show_progress, run)
    factory = functools.partial(config_trilayer, configs=configs)
    axes = {"config": list(range(len(configs))), "gamma": list(gammas)}
    if p["log"]:
        axes["N_y"] = [int(p["N_y"]), 2 * int(p["N_y"])]
    base.pop("N_y") if p["log"] else None
    try:
        ds = run.sweep(factory, axes, [f"currents:{p['current']}:x"], {**base, "T": p["T"]}, parameter_key(NAME, p), "currents")
    except BaseException:
        if own:
            run.close(abort=True)  # interrupted: stop the workers now
        raise
    if own:
        run.close()
    var = ds[f"current_{p['current']}_x"]
    pol = "polarization" if p["current"] == "bond" else "axis"
    currents, floor = {}, {}
    for ic in range(len(configs)):
        for ig, g in enumerate(gammas):
            sel = var.isel(config=ic, gamma=ig)
            if p["log"]:
                fine = sel.isel(N_y=1)
                sel = sel.isel(N_y=0)
                floor[(ic, g)] = {q: float(np.nanmax(np.abs(sel.sel({pol: q}).values - fine.sel({pol: q}).values))) for q in "xyz"}
            currents[(ic, g)] = {q: np.asarray(sel.sel({pol: q}).values, float) for q in "xyz"}
    N = p["N_x"]
    x = np.arange(N - 1) + 0.5 if p["current"] == "bond" else np.arange(N, dtype=float)
    return {
        "figure": "Fig. 2",
        "params": p,
        "quick": bool(quick),
        "x": x,
        "configs": configs,
        "gammas": gammas,
        "plotted": [plotted_polarization(a, b) for a, b in configs],
        "currents": currents,
        "floor": floor,
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
    """Matplotlib Figure: one column per configuration, one curve per gamma.

    Top row: the current on a linear axis; bottom row: ``|j|`` on a logarithmic axis, where the
    conserved ``gamma = t`` current (orders of magnitude below the others) is visible.  With
    ``log`` only the logarithmic row is drawn, with the finite-N_y floor.  Shaded: FM columns.
    The suptitle is wrapped to the figure width (:func:`~.common.wrap_title`); below the paper's
    ``N_y`` its first line, in red, says the figure is not converged (:func:`~.common.convergence_note`).
    """
    p = data["params"]
    n = len(data["configs"])
    rows = ("log",) if p["log"] else ("linear", "log")
    fig = new_figure(3.3 * n, 2.9 * len(rows) + 0.5)
    grid = fig.subplots(len(rows), n, squeeze=False, sharex=True)
    x = data["x"]
    N, nfm = p["N_x"], p["N_FM"]
    for ic, (a, b) in enumerate(data["configs"]):
        pol = data["plotted"][ic]
        label = pol if pol else "max"
        for r, kind in enumerate(rows):
            ax = grid[r][ic]
            for side in ((-0.5, nfm - 0.5), (N - nfm - 0.5, N - 0.5)):
                ax.axvspan(*side, color="0.88", lw=0, zorder=0)
            for g in data["gammas"]:
                j = data["currents"][(ic, g)]
                q = pol if pol is not None else max("xyz", key=lambda s: np.nanmax(np.abs(j[s])))
                if kind == "log":
                    y = np.abs(j[q])
                    ax.plot(x, np.where(y > 0, y, np.nan), marker=".", ms=3, lw=1.0, label=f"$\\gamma={g:g}$")
                else:
                    ax.plot(x, j[q], marker=".", ms=3, lw=1.0, label=f"$\\gamma={g:g}$")
            if kind == "log":
                ax.set_yscale("log")
                ax.set_ylabel(f"$|\\langle j^L_{{{label}}}\\rangle|$ (units of $t$)")
                if data.get("floor"):
                    fl = max(v.get(pol or "x", 0.0) for (i, _), v in data["floor"].items() if i == ic)
                    if fl > 0:
                        ax.axhline(fl, color="k", lw=0.8, ls=":")
                        ax.text(0.5, fl, f" finite-$N_y$ floor {fl:.1e}", transform=ax.get_yaxis_transform(), fontsize=6, va="bottom", ha="center")
            else:
                ax.set_ylabel(f"$\\langle j^L_{{{label}}}\\rangle$ (units of $t$)")
                ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
                ax.axhline(0, color="0.7", lw=0.5)
            if r == 0:
                ax.set_title(f"$m_L={_tex(a)}$, $m_R={_tex(b)}$", fontsize=10)
            if r == len(rows) - 1:
                ax.set_xlabel("x (shaded: FM columns)")
    grid[0][0].legend(fontsize=7)
    cur = "bond current (exact, conserved form)" if p["current"] == "bond" else "site-centred Eq. (7) current"
    parts = ["Fig. 2: FM/NM/FM,", f"{cur};", f"$N_x={p['N_x']}$,", f"$N_y={p['N_y']}$,", f"$T={p['T']:g}$,", f"$\\mu={p['mu']:g}$,", f"interface={p['interface']}"]
    note = convergence_note(data)
    fig.suptitle(wrap_title(parts, fig.get_figwidth(), 9, note=note), fontsize=9, color="C3" if note else "k")
    return fig


def _tex(label):
    return str(label) if isinstance(label, str) else "(" + ",".join(f"{float(v):.2g}" for v in label) + ")"


def meta(data):
    """Parameters and descriptions written into the CSV header."""
    p = dict(data["params"])
    p["configs"] = [[_tex(a), _tex(b)] for a, b in p["configs"]]
    return {
        "figure": "Fig. 2",
        "quantity": "x-current of L_alpha per site (units of t); bond: exact bond current on bond (x-1/2, x+1/2); eq7: paper Eq. (7) site-centred, the average (forward + backward)/2 of its one-sided forms (next to an FM with interface 'fm' the two sides use different hoppings)",
        "current_definition": p["current"],
        "interface": p["interface"],
        "normalization": "every bond counted once: currents are twice the paper's printed Eq. (7)",
        "parameters": p,
    }


def dataset(data):
    """The labeled data (xarray): ``j(config, gamma, polarization, x)`` in units of t."""
    import xarray as xr

    from .fig4 import _nc_attrs

    cfg = [f"{_tex(a)}|{_tex(b)}" for a, b in data["configs"]]
    J = np.array([[[data["currents"][(ic, g)][q] for q in "xyz"] for g in data["gammas"]] for ic in range(len(cfg))])
    where = "bond midpoint x + 1/2 of bond (x, x+1)" if data["params"]["current"] == "bond" else "column x (Eq. 7, NaN at the end columns)"
    ds = xr.Dataset(
        {"j": (("config", "gamma", "polarization", "x"), J, {"units": "t (x-current of L_alpha per site)", "description": "x-current of L_alpha at every column (the current definition and interface rule in the attributes), Fig. 2"})},
        coords={"config": np.array(cfg), "gamma": np.array(data["gammas"], float), "polarization": np.array(list("xyz")), "x": ("x", data["x"], {"long_name": where})},
        attrs=_nc_attrs(meta(data)),
    )
    if data.get("floor"):
        ds["finite_N_y_floor"] = (("config", "gamma", "polarization"), np.array([[[data["floor"][(ic, g)][q] for q in "xyz"] for g in data["gammas"]] for ic in range(len(cfg))]), {"units": "t", "long_name": "max_x |j(N_y) - j(2 N_y)|", "description": "finite-N_y floor: |j| below it is finite-size noise"})
    return ds


def save(data, out_dir, name=NAME):
    """Write ``<name>.png``, ``<name>.pdf``, ``<name>.csv`` (long format) and ``<name>.nc`` atomically."""
    stem = output_stem(out_dir, name)
    rows = []
    for ic, (a, b) in enumerate(data["configs"]):
        for g in data["gammas"]:
            j = data["currents"][(ic, g)]
            for i, xv in enumerate(data["x"]):
                rows.append((_tex(a), _tex(b), g, xv, j["x"][i], j["y"][i], j["z"][i]))
    fig = plot(data)
    paths = save_figure(fig, stem)
    paths.append(write_csv(stem + ".csv", meta(data), ["m_L", "m_R", "gamma", "x", "j_x", "j_y", "j_z"], rows))
    return paths + [save_netcdf(dataset(data), stem + ".nc")]


def run(out_dir, quick=False, workers=1, show_progress=None, run=None, **params):
    """Compute, plot and save Fig. 2 into ``out_dir`` (checked first; the files are locked against a
    second run, :func:`~orbsym.workflows.figures.common.locked_outputs`); returns ``(data, paths)``."""
    import sys

    from .common import run_figure

    return run_figure(sys.modules[__name__], out_dir, quick=quick, workers=workers, show_progress=show_progress, run=run, **params)
