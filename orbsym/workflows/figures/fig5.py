"""Fig. 5 of the paper: orbital RKKY coupling ``J_y = F_AP - F_P`` vs trilayer length ``N_x``.

FM/NM/FM trilayers with ``m_L = +y`` and ``m_R = +y`` (P) or ``-y`` (AP), for several ``gamma``;
other parameters as in Fig. 2.  ``J_y`` is per row (units of t), from :func:`orbsym.systems.rkky`.
The inset zooms in near a sign change of ``J_y`` for a ``gamma != t`` curve.
"""

from __future__ import annotations

import numpy as np

from .common import BASE_PARAMETERS, convergence_note, new_figure, output_stem, parameter_key, resolve_parameters, runner, save_figure, save_netcdf, sign_changes, wrap_title, write_csv

__all__ = ["NAME", "DEFAULTS", "QUICK", "check", "compute", "plot", "save", "summary", "run"]

NAME = "fig5"
DEFAULTS = {**BASE_PARAMETERS, "gammas": (1.0, 0.8, 0.5, 0.3), "N_x_min": 3, "N_x_max": 25, "axis": "y"}
DEFAULTS.pop("N_x")
QUICK = {"N_y": 200, "N_x_max": 15}


def check(quick=False, **params):
    """The resolved, checked parameters of :func:`compute` (no solve): ValueError naming a bad one."""
    from ...numeric.checks import check_name
    from .fig2 import check_gammas

    p = resolve_parameters(DEFAULTS, QUICK, quick, **params)
    lo, hi = p["N_x_min"], p["N_x_max"]
    for k in ("N_x_min", "N_x_max"):
        if isinstance(p[k], bool) or not isinstance(p[k], (int, np.integer)):
            raise ValueError(f"{k} must be an integer, got {p[k]!r}")
    if lo < 2 * p["N_FM"] + 1 or hi < lo:
        raise ValueError(f"need {2 * p['N_FM'] + 1} <= N_x_min <= N_x_max (N_x_min >= 2 N_FM + 1), got N_x_min = {lo}, N_x_max = {hi}")
    check_name("common FM axis", p["axis"], ("x", "y", "z"))
    p["gammas"] = check_gammas(p["gammas"])
    return p


def compute(quick=False, workers=1, show_progress=None, run=None, **params):
    """``J_y(N_x)`` per row for every gamma (Fig. 5): one sweep over ``gamma x N_x`` (observable ``rkky``).

    Parameters
    ----------
    quick : bool
        Reduced sizes (``N_y = 200``, ``N_x <= 15``).
    workers : int
        Processes sharing the trilayer solves.
    run : orbsym.workflows.figures.common.Runner, optional
        Executor, workers, resumable state and progress of the sweep (overrides ``workers``).
    **params
        ``N_y, N_FM, m, T, mu, t, tp, interface`` (:func:`orbsym.systems.trilayer`), ``gammas``,
        the range ``N_x_min .. N_x_max`` (inclusive, ``N_x_min >= 2 N_FM + 1``), ``axis`` (the
        common FM axis, default ``"y"`` as in the paper).

    Returns
    -------
    dict
        ``N_x`` (array), ``J[gamma]``, ``F_P[gamma]``, ``F_AP[gamma]`` (per row, units of t),
        ``floor[gamma]``: the finite-N_y floor (:func:`finite_size_floor`; ``{}`` when planning).
    """
    p = check(quick, **params)
    lo, hi = p["N_x_min"], p["N_x_max"]
    gammas = p["gammas"]
    from ...systems import trilayer

    Ns = np.arange(lo, hi + 1)
    base = {k: p[k] for k in ("N_y", "N_FM", "m", "mu", "t", "tp", "interface")}
    base.update(m_L=p["axis"], m_R=p["axis"])
    trilayer(N_x=int(lo), **base)
    own = run is None
    run = runner(workers, show_progress, run)
    try:
        ds = run.sweep("trilayer", {"gamma": list(gammas), "N_x": [int(n) for n in Ns]}, ["rkky"], {**base, "T": p["T"]}, parameter_key(NAME, p), "J")
    except BaseException:
        if own:
            run.close(abort=True)  # interrupted: stop the workers now
        raise
    if own:
        run.close()
    J = {g: ds.rkky_J.values[i] for i, g in enumerate(gammas)}
    FP = {g: ds.F_P.values[i] for i, g in enumerate(gammas)}
    FAP = {g: ds.F_AP.values[i] for i, g in enumerate(gammas)}
    from .common import PlanRunner

    floor = {} if isinstance(run, PlanRunner) else finite_size_floor(J, Ns, base, p["T"])
    return {"figure": "Fig. 5", "params": p, "quick": bool(quick), "N_x": Ns, "J": J, "F_P": FP, "F_AP": FAP, "floor": floor}


def finite_size_floor(J, Ns, base, T):
    """The finite-N_y floor of every curve: ``max_{N_x} |J(N_x; N_y) - J(N_x; N_y = inf)|`` (per row, t).

    ``J(N_y = inf)`` is the k integral of Lloyd's formula (:func:`orbsym.rkky.rkky_vs_length`, an
    independent engine, ~1e-14 t); the difference is the finite-size error of the plotted values,
    nearly uniform in ``N_x`` (within ~10x), so one level per curve.  Values of ``|J|`` below it are
    finite-size noise, not the coupling.  ``{}`` when Lloyd's sweep does not apply (ValueError).
    """
    from ...rkky import rkky_vs_length
    from ...systems import trilayer

    out = {}
    try:
        for g, Jg in J.items():
            ref = rkky_vs_length(trilayer(N_x=int(max(Ns)), gamma=g, **base), T, Ns, N_y=float("inf"))["J"]
            out[g] = float(np.max(np.abs(np.asarray(Jg, float) - ref)))
    except ValueError:
        return {}
    return out


def summary(data):
    """Per gamma: J at a few N_x, sign changes, the envelope max |J| over the far half of the range,
    and the finite-N_y floor with the lengths whose |J| lies below it (noise, not values: the plot does
    not draw them, and :func:`orbsym.workflows.figures.headline` marks them)."""
    Ns = data["N_x"]
    floors = data.get("floor", {}) or {}
    out = {}
    for g, J in data["J"].items():
        half = Ns >= Ns[0] + (Ns[-1] - Ns[0]) // 2
        fl = float(floors.get(g, 0.0) or 0.0)
        out[g] = {
            "J": {int(n): float(j) for n, j in zip(Ns, J) if n in (3, 5, 7, 9, 11, 15, 20, 25)},
            "sign_changes_N_x": [round(s, 2) for s in sign_changes(Ns, J)],
            "max_abs_J_far_half": float(np.max(np.abs(J[half]))),
            "finite_N_y_floor": fl,
            "below_floor_N_x": [int(n) for n, j in zip(Ns, J) if fl > 0 and abs(j) < fl],
        }
    return out


def _floor_level(data):
    """The one finite-N_y floor level of the plot: the largest over the curves (0 if unknown)."""
    return max(data.get("floor", {}).values(), default=0.0)


def _above_floor(data):
    """``J[gamma]`` with the values below the floor level (finite-size noise) replaced by NaN."""
    fl = _floor_level(data)
    return {g: np.where(np.abs(J) >= fl, J, np.nan) if fl > 0 else np.asarray(J, float) for g, J in data["J"].items()}


def _inset_target(data, J=None):
    """(gamma, N_x of the sign change) near the first sign change beyond the first few sites, for
    gamma != t, among the values above the floor (``J``: :func:`_above_floor`)."""
    t = data["params"]["t"]
    Ns = data["N_x"]
    J = data["J"] if J is None else J
    for g in sorted(J, reverse=True):
        if abs(g - t) < 1e-12:
            continue
        zs = [z for z in sign_changes(Ns, J[g]) if z > Ns[0] + 2]
        if zs:
            return g, zs[0]
    return None


def plot(data):
    """``J`` against ``N_x`` on a linear (top) and a logarithmic (bottom) axis, one curve per gamma.

    Values with ``|J|`` below the finite-N_y floor (:func:`finite_size_floor`, the largest over the
    curves) are finite-size noise: they are not drawn, and the band below the floor is shaded.  A
    figure computed below the paper's ``N_y`` says so in its title (:func:`~.common.convergence_note`).
    """
    p = data["params"]
    Ns = data["N_x"]
    fl = _floor_level(data)
    shown = _above_floor(data)
    fig = new_figure(6.0, 6.6)
    ax, axl = fig.subplots(2, 1, sharex=True, height_ratios=[1.2, 1])
    for g, J in shown.items():
        ax.plot(Ns, J, marker="o", ms=3, lw=1.0, label=f"$\\gamma={g:g}$")
        # log panel: the small gamma curves (~1e-5 t) are flat on the linear axis
        axl.semilogy(Ns, np.where(np.abs(J) > 0, np.abs(J), np.nan), marker="o", ms=3, lw=1.0, label=f"$\\gamma={g:g}$")
    ax.axhline(0, color="0.7", lw=0.5)
    if fl > 0:
        cut = sum(int(np.sum(np.isnan(v) & np.isfinite(data["J"][g]))) for g, v in shown.items())
        label = f"$|J|$ < finite-$N_y$ floor {fl:.1e}: noise, not drawn ({cut} values)"
        ax.axhspan(-fl, fl, color="0.8", lw=0, zorder=0, label=label)
        axl.axhspan(fl / 10, fl, color="0.8", lw=0, zorder=0, label=label)
        axl.axhline(fl, color="k", lw=0.8, ls=":")
        axl.legend(fontsize=7, loc="upper right", handles=[h for h in axl.get_legend_handles_labels()[0] if h.get_label() == label])
    ax.set_ylabel(f"$J_{p['axis']} = F_{{AP}} - F_P$ per row (units of $t$)")
    ax.legend(fontsize=8, loc="lower right")
    axl.set_xlabel("$N_x$")
    axl.set_xlim(Ns[0] - 0.5, Ns[-1] + 0.5)  # the whole computed range, also where values are cut
    axl.set_ylabel(f"$|J_{p['axis']}|$ per row (units of $t$)")
    axl.text(0.01, 0.03, "log scale: dips are sign changes of $J$", transform=axl.transAxes, fontsize=7)
    parts = ["Fig. 5: FM/NM/FM RKKY,", f"$m_L = {p['axis']}$;", f"$N_y={p['N_y']}$,", f"$T={p['T']:g}$,", f"$\\mu={p['mu']:g}$,", f"interface={p['interface']}"]
    note = convergence_note(data)
    ax.set_title(wrap_title(parts, fig.get_figwidth(), 9, note=note), fontsize=9, color="C3" if note else "k")
    tgt = _inset_target(data, shown)
    if tgt:
        g, z = tgt
        ins = ax.inset_axes([0.5, 0.5, 0.45, 0.35])
        i = list(data["J"]).index(g)
        J = shown[g]
        sel = (Ns >= np.floor(z) - 1) & (Ns <= np.floor(z) + 4)
        after = (Ns >= np.floor(z)) & sel & np.isfinite(J)
        ins.plot(Ns[sel], J[sel], marker="o", ms=3, lw=1.0, color=f"C{i}")
        lim = 1.3 * float(np.max(np.abs(J[after]))) if after.any() else None
        if lim:
            ins.set_ylim(-lim, lim)
        if fl > 0:
            ins.axhspan(-fl, fl, color="0.8", lw=0, zorder=0)
        ins.axhline(0, color="0.7", lw=0.5)
        ins.set_title(f"zoom near sign change, $\\gamma={g:g}$", fontsize=7)
        ins.set_ylabel("$J$", fontsize=6)
        ins.tick_params(labelsize=6)
        ins.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ins.yaxis.get_offset_text().set_fontsize(6)
    return fig


def meta(data):
    return {
        "figure": "Fig. 5",
        "quantity": "RKKY coupling J = F_AP - F_P per row (units of t) vs N_x; m_L = +axis, m_R = +-axis",
        "interface": data["params"]["interface"],
        "parameters": data["params"],
    }


def dataset(data):
    """The labeled data (xarray): ``J``, ``F_P``, ``F_AP`` per row on ``(gamma, N_x)``."""
    import xarray as xr

    from .fig4 import _nc_attrs

    gs = list(data["J"])
    units = "t per row"
    ds = xr.Dataset(
        {k: (("gamma", "N_x"), np.vstack([data[k][g] for g in gs]), {"units": units, "description": desc}) for k, desc in (("J", "RKKY coupling J = F_AP - F_P per row against the spacer length N_x, Fig. 5"), ("F_P", "grand potential per row, m_R parallel to m_L"), ("F_AP", "grand potential per row, m_R antiparallel to m_L"))},
        coords={"gamma": np.array(gs, float), "N_x": np.asarray(data["N_x"], np.int64)},
        attrs=_nc_attrs(meta(data)),
    )
    if data.get("floor"):
        ds["finite_N_y_floor"] = ("gamma", np.array([data["floor"][g] for g in gs]), {"units": units, "long_name": "max over N_x of |J(N_y) - J(N_y = inf)|; |J| below it is finite-size noise", "description": "finite-N_y floor of J"})
    return ds


def save(data, out_dir, name=NAME):
    """Write ``<name>.png``, ``<name>.pdf``, ``<name>.csv`` and ``<name>.nc`` atomically."""
    stem = output_stem(out_dir, name)
    fig = plot(data)
    paths = save_figure(fig, stem)
    rows = [(g, int(n), data["J"][g][i], data["F_P"][g][i], data["F_AP"][g][i]) for g in data["J"] for i, n in enumerate(data["N_x"])]
    paths.append(write_csv(stem + ".csv", meta(data), ["gamma", "N_x", "J", "F_P", "F_AP"], rows))
    return paths + [save_netcdf(dataset(data), stem + ".nc")]


def run(out_dir, quick=False, workers=1, show_progress=None, run=None, **params):
    """Compute, plot and save Fig. 5 into ``out_dir`` (checked first; the files are locked against a
    second run, :func:`~orbsym.workflows.figures.common.locked_outputs`); returns ``(data, paths)``."""
    import sys

    from .common import run_figure

    return run_figure(sys.modules[__name__], out_dir, quick=quick, workers=workers, show_progress=show_progress, run=run, **params)
