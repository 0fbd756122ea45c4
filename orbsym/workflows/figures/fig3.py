"""Fig. 3 of the paper: free energy vs the FM magnetization direction ``(theta, phi)`` in bilayers.

(a) multiorbital NM/FM (``gamma = 0.3``), (b) AM/FM (``w = 0.4``); other parameters as in Fig. 2.
Plotted: ``F(theta, phi) - min F`` per row (grand potential, Eq. 13, units of t), with
``m = |m| (sin th cos ph, sin th sin ph, cos th)`` (:mod:`orbsym.conventions`).  The CSV holds the
absolute ``F`` per row.

Exact symmetries used to avoid redundant diagonalizations (``symmetry=True``, the default; every
run re-checks them at two generic directions and records the largest deviation):

* NM/FM: the hoppings are real and diagonal in ``(d_yz, d_xz, d_xy)`` and the ``L`` matrices are
  imaginary, so complex conjugation maps ``m -> -m``; the mirrors ``y -> -y`` and ``z -> -z`` of the
  (x-open, y-periodic) lattice flip the sign of two components of ``L`` each.  Together ``F`` is
  even in each of ``m_x, m_y, m_z``: only ``(|m_x|, |m_y|, |m_z|)`` is diagonalized.
* AM/FM: ``t_x, t_y`` contain only ``1`` and ``sigma_z``, so spin rotations about z are exact
  symmetries: ``F`` depends on ``theta`` only.

``symmetry=False`` diagonalizes every grid point.
"""

from __future__ import annotations

import math

import numpy as np

import functools

from .common import BASE_PARAMETERS, convergence_note, new_figure, output_stem, parameter_key, resolve_parameters, runner, save_figure, save_netcdf, wrap_title, write_csv

__all__ = ["NAME", "DEFAULTS", "QUICK", "check", "PANELS", "compute", "plot", "save", "summary", "run", "minima", "minimum_sets", "direction_bilayer", "dataset"]

NAME = "fig3"
PANELS = ("nm", "am")
DEFAULTS = {
    **BASE_PARAMETERS,
    "gamma": 0.3,
    "w": 0.4,
    "n_theta": 19,
    "n_phi": 37,
    "panels": PANELS,
    "symmetry": True,
}
QUICK = {"N_y": 200, "n_theta": 7, "n_phi": 13}

#: Tolerance (units of t, per row) for grid points counted as degenerate minima.
MIN_TOL = 1e-9
_TITLES = {"nm": "(a) NM/FM, $\\gamma={gamma:g}$", "am": "(b) AM/FM, $w={w:g}$"}


def _representative(panel, v):
    """Symmetry-reduced magnetization (see module docstring), rounded for deduplication."""
    if panel == "nm":
        r = np.abs(v)
    else:
        r = np.array([math.hypot(v[0], v[1]), 0.0, v[2]])
    r = np.round(r, 12) + 0.0
    return tuple(float(c) for c in r)


def direction_bilayer(direction, directions, m, **kw):
    """Sweep factory: the bilayer with ``m_FM = m * directions[direction]`` (a picklable partial
    over ``directions`` makes the symmetry-reduced set of directions one sweep axis)."""
    from ...systems import bilayer

    return bilayer(m=m, m_FM=tuple(m * c for c in directions[int(direction)]), **kw)


def _base(p, panel):
    kw = {k: p[k] for k in ("N_x", "N_y", "N_FM", "m", "mu", "t", "interface")}
    if panel == "nm":
        kw.update(metal="nm", gamma=p["gamma"], tp=p["tp"])
    else:
        kw.update(metal="am", w=p["w"])
    return kw


def check(quick=False, **params):
    """The resolved, checked parameters of :func:`compute` (no solve): ValueError naming a bad one."""
    from ...numeric.checks import ENERGY_LIMIT, check_name, real_number

    p = resolve_parameters(DEFAULTS, QUICK, quick, **params)
    for k in ("n_theta", "n_phi"):
        if isinstance(p[k], bool) or not isinstance(p[k], (int, np.integer)) or p[k] < 2:
            raise ValueError(f"{k} must be an integer >= 2, got {p[k]!r}")
    if isinstance(p["panels"], str) or not hasattr(p["panels"], "__iter__"):
        raise ValueError(f"panels must be a non-empty sequence from {', '.join(PANELS)}, got {p['panels']!r}")
    panels = tuple(p["panels"])
    if not panels:
        raise ValueError(f"panels must be a non-empty subset of {', '.join(PANELS)}, got {panels!r}")
    for q in panels:
        check_name("panel", q, PANELS)
    if len(set(panels)) != len(panels):
        raise ValueError(f"panels {panels!r} names a panel twice")
    for k in ("gamma", "w"):
        real_number(k, p[k], bound=ENERGY_LIMIT)
    p["panels"] = panels
    return p


def compute(quick=False, workers=1, show_progress=None, run=None, **params):
    """Free-energy maps of Fig. 3: per panel one sweep over the distinct (symmetry-reduced)
    magnetization directions of the ``(theta, phi)`` grid (:func:`direction_bilayer`).

    Parameters
    ----------
    quick : bool
        Reduced sizes (``N_y = 200``, 7 x 13 grid).
    workers : int
        Processes sharing the bilayer solves.
    run : orbsym.workflows.figures.common.Runner, optional
        Executor, workers, resumable state and progress of the sweeps (overrides ``workers``).
    **params
        ``N_x, N_y, N_FM, m, T, mu, t, tp, interface`` (:func:`orbsym.systems.bilayer`), ``gamma``
        (NM), ``w`` (AM), ``n_theta`` / ``n_phi`` (grid points on ``[0, pi]`` / ``[0, 2 pi]``),
        ``panels`` (subset of ``("nm", "am")``), ``symmetry`` (bool).

    Returns
    -------
    dict
        ``theta``, ``phi`` (radians), ``F[panel]`` (``(n_theta, n_phi)``, per row, units of t),
        ``axes[panel]`` (F per row for m along x, y, z), ``symmetry_check[panel]`` (largest
        ``|F(m) - F(representative)|`` at two generic directions, or None).
    """
    p = check(quick, **params)
    panels = p["panels"]
    from ...systems import bilayer

    theta = np.linspace(0.0, np.pi, p["n_theta"])
    phi = np.linspace(0.0, 2 * np.pi, p["n_phi"])
    sym = bool(p["symmetry"])
    rng = np.random.default_rng(3)
    checks_dirs = [np.array([math.sin(a) * math.cos(b), math.sin(a) * math.sin(b), math.cos(a)]) for a, b in rng.uniform([0.3, 0.3], [2.8, 5.9], (2, 2))]
    own = run is None
    run = runner(workers, show_progress, run)
    key = parameter_key(NAME, p)
    F, axes, checks = {}, {}, {}
    n_solves = 0
    try:
        for panel in panels:
            base = _base(p, panel)
            bilayer(**base)  # validate before any worker starts
            keys = np.empty((theta.size, phi.size), dtype=object)
            for i, th in enumerate(theta):
                for j, ph in enumerate(phi):
                    v = np.array([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])
                    keys[i, j] = _representative(panel, v) if sym else tuple(np.round(v, 12) + 0.0)
            axis_keys = {a: _representative(panel, np.eye(3)[n]) if sym else tuple(np.eye(3)[n]) for n, a in enumerate("xyz")}
            check_keys = []
            if sym:
                for v in checks_dirs:
                    check_keys.append((tuple(float(c) for c in v), _representative(panel, v)))
            wanted = list(dict.fromkeys(list(keys.ravel()) + list(axis_keys.values()) + [c for c, _ in check_keys] + [r for _, r in check_keys]))
            index = {kk: n for n, kk in enumerate(wanted)}
            factory = functools.partial(direction_bilayer, directions=tuple(wanted))
            params_ = {k: v for k, v in base.items()}
            params_["T"] = p["T"]
            ds = run.sweep(factory, {"direction": list(range(len(wanted)))}, ["free_energy"], params_, key, panel)
            values = ds.free_energy.values
            n_solves += len(wanted)
            F[panel] = np.array([[values[index[keys[i, j]]] for j in range(phi.size)] for i in range(theta.size)])
            axes[panel] = {a: float(values[index[kk]]) for a, kk in axis_keys.items()}
            checks[panel] = max((abs(float(values[index[c]] - values[index[r]])) for c, r in check_keys), default=None)
    except BaseException:
        if own:
            run.close(abort=True)  # interrupted: stop the workers now
        raise
    if own:
        run.close()
    return {"figure": "Fig. 3", "params": p, "quick": bool(quick), "theta": theta, "phi": phi, "F": F, "axes": axes, "symmetry_check": checks, "n_solves": n_solves}


def minima(theta, phi, F, tol=MIN_TOL):
    """Distinct magnetization directions (unit vectors) of the grid points with ``F <= min F + tol``."""
    out = []
    Fmin = float(np.min(F))
    for i, j in zip(*np.nonzero(F <= Fmin + tol)):
        th, ph = theta[i], phi[j]
        v = np.round([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)], 9) + 0.0
        if not any(np.allclose(v, u, atol=1e-8) for u in out):
            out.append(v)
    return [tuple(float(c) for c in u) for u in out]


def minimum_sets(theta, phi, F, tol=MIN_TOL):
    """The minima grouped as the physicist reads them: ``[{"kind", "theta", "phi", "vector"}]``.

    ``kind`` is ``"pole"`` (theta = 0 or pi: one direction, every phi), ``"ring"`` (every phi of a
    grid row at ``0 < theta < pi`` is minimal: F does not depend on phi there, e.g. AM/FM whose
    exact spin-rotation symmetry about z makes F a function of theta only) or ``"point"``.
    ``phi`` is None for poles and rings.
    """
    Fmin = float(np.min(F))
    at = F <= Fmin + tol
    phis = np.mod(phi, 2 * np.pi)
    distinct_phi = np.unique(np.round(phis, 9)).size
    out = []
    for i in np.nonzero(at.any(axis=1))[0]:
        th = float(theta[i])
        row = at[i]
        if abs(math.sin(th)) < 1e-9:
            out.append({"kind": "pole", "theta": th, "phi": None, "vector": (0.0, 0.0, 1.0 if math.cos(th) > 0 else -1.0)})
        elif row.all() or np.unique(np.round(phis[row], 9)).size == distinct_phi:
            out.append({"kind": "ring", "theta": th, "phi": None, "vector": None})
        else:
            seen = set()
            for j in np.nonzero(row)[0]:
                key = round(float(phis[j]), 9)
                if key in seen:
                    continue
                seen.add(key)
                ph = float(phi[j])
                v = tuple(float(c) for c in np.round([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)], 9) + 0.0)
                out.append({"kind": "point", "theta": th, "phi": ph, "vector": v})
    return out


def _set_name(m):
    if m["kind"] == "ring":
        return f"ring theta={math.degrees(m['theta']):.4g} deg (all phi)"
    return _direction_name(m["vector"])


def _direction_name(v):
    names = {(1, 0, 0): "+x", (-1, 0, 0): "-x", (0, 1, 0): "+y", (0, -1, 0): "-y", (0, 0, 1): "+z", (0, 0, -1): "-z"}
    key = tuple(int(round(c)) for c in v)
    if key in names and np.allclose(v, key, atol=1e-8):
        return names[key]
    return "(" + ", ".join(f"{c:.3f}" for c in v) + ")"


def summary(data):
    """Headline numbers per panel: minimum directions, F range, F along the axes, symmetry check."""
    out = {}
    for panel, F in data["F"].items():
        out[panel] = {
            "minima": [_set_name(m) for m in minimum_sets(data["theta"], data["phi"], F)],
            "F_min": float(F.min()),
            "F_max_minus_min": float(F.max() - F.min()),
            "F_axes_minus_min": {a: float(v - F.min()) for a, v in data["axes"][panel].items()},
            "symmetry_check_max_abs_dev": data["symmetry_check"][panel],
        }
    return out


def plot(data):
    """Two maps of ``F - min F`` over ``(phi, theta)``, minima marked.

    Markers: a star per minimum direction, a red line along ``theta = 0`` or ``180`` deg for a pole,
    a white dashed line for a ring of minima (every ``phi``).  Each panel's legend, below the map,
    names exactly the markers drawn in it.  Below the paper's ``N_y`` the suptitle's first line, in
    red, says the figure is not converged (:func:`~.common.convergence_note`).
    """
    p = data["params"]
    panels = p["panels"]
    fig = new_figure(4.2 * len(panels), 3.6)
    axs = fig.subplots(1, len(panels), squeeze=False)[0]
    th, ph = np.degrees(data["theta"]), np.degrees(data["phi"])
    for panel, ax in zip(panels, axs):
        F = data["F"][panel]
        dF = F - F.min()
        mesh = ax.pcolormesh(ph, th, dF, shading="gouraud", cmap="viridis")
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label("$F - F_{min}$ per row (units of $t$)")
        cb.formatter.set_powerlimits((-2, 2))
        drawn = set()
        for m in minimum_sets(data["theta"], data["phi"], F):
            t_ = math.degrees(m["theta"])
            if m["kind"] == "point":
                pv = math.degrees(m["phi"]) % 360
                for pp in {pv, pv + 360} if pv == 0 else {pv}:
                    ax.plot(pp, t_, "w*", ms=10, mec="k", label="_minimum" if "point" in drawn else "minimum (direction)")
                    drawn.add("point")
            elif m["kind"] == "pole":  # one direction, drawn as the whole row theta = 0 or pi of the map
                ax.axhline(t_, color="r", lw=3, clip_on=False, label=f"minimum: pole {_direction_name(m['vector'])}")
                drawn.add("pole")
            else:  # a ring: every phi at this theta
                ax.axhline(t_, color="w", lw=1.5, ls="--", label="_ring" if "ring" in drawn else "ring of minima (every $\\phi$)")
                ax.text(180, t_ - 3, f"$\\theta={t_:.0f}^\\circ$", color="w", ha="center", va="bottom", fontsize=8)
                drawn.add("ring")
        # the legend names exactly the markers drawn in this panel, below the map
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, ncols=2, facecolor="0.7", framealpha=1.0)
        ax.set_xlabel("$\\phi$ (deg)")
        ax.set_ylabel("$\\theta$ (deg)")
        ax.set_xticks([0, 90, 180, 270, 360])
        ax.set_yticks([0, 45, 90, 135, 180])
        ax.invert_yaxis()
        ax.set_title(_TITLES[panel].format(gamma=p["gamma"], w=p["w"]), fontsize=10)
    parts = ["Fig. 3: bilayer free energy;", f"$N_x={p['N_x']}$,", f"$N_y={p['N_y']}$,", f"$T={p['T']:g}$,", f"$\\mu={p['mu']:g}$,", f"interface={p['interface']}"]
    note = convergence_note(data)
    fig.suptitle(wrap_title(parts, fig.get_figwidth(), 9, note=note), fontsize=9, color="C3" if note else "k")
    fig.draw_without_rendering()  # one layout pass ahead: the legends below the maps need two to settle
    return fig


def meta(data):
    return {
        "figure": "Fig. 3",
        "quantity": "grand potential F per row (Eq. 13, units of t) vs FM magnetization angles theta, phi (radians)",
        "interface": data["params"]["interface"],
        "symmetry_check_max_abs_dev": data["symmetry_check"],
        "parameters": data["params"],
    }


def dataset(data):
    """The labeled data (xarray): ``F(panel, theta, phi)`` per row and ``F - min F`` per panel."""
    import xarray as xr

    from .fig4 import _nc_attrs

    panels = list(data["params"]["panels"])
    F = np.stack([data["F"][q] for q in panels])
    dF = F - F.min(axis=(1, 2), keepdims=True)
    return xr.Dataset(
        {
            "F": (("system", "theta", "phi"), F, {"units": "t per row (grand potential, Eq. 13)", "description": "grand potential per row against the FM magnetization direction (theta, phi), Fig. 3"}),
            "F_minus_min": (("system", "theta", "phi"), dF, {"units": "t per row", "description": "F minus its minimum over the directions"}),
        },
        coords={"system": np.array(panels), "theta": ("theta", data["theta"], {"units": "rad"}), "phi": ("phi", data["phi"], {"units": "rad"})},
        attrs=_nc_attrs(meta(data)),
    )


def save(data, out_dir, name=NAME):
    """Write ``<name>.png``, ``<name>.pdf``, ``<name>.csv`` (long format) and ``<name>.nc`` atomically."""
    stem = output_stem(out_dir, name)
    fig = plot(data)
    paths = save_figure(fig, stem)
    rows = []
    for panel in data["params"]["panels"]:
        F = data["F"][panel]
        for i, th in enumerate(data["theta"]):
            for j, ph in enumerate(data["phi"]):
                rows.append((panel, th, ph, F[i, j], F[i, j] - F.min()))
    paths.append(write_csv(stem + ".csv", meta(data), ["system", "theta", "phi", "F_per_row", "F_minus_min"], rows))
    return paths + [save_netcdf(dataset(data), stem + ".nc")]


def run(out_dir, quick=False, workers=1, show_progress=None, run=None, **params):
    """Compute, plot and save Fig. 3 into ``out_dir`` (checked first; the files are locked against a
    second run, :func:`~orbsym.workflows.figures.common.locked_outputs`); returns ``(data, paths)``."""
    import sys

    from .common import run_figure

    return run_figure(sys.modules[__name__], out_dir, quick=quick, workers=workers, show_progress=show_progress, run=run, **params)
