"""Reproductions of the paper's numerical figures (Figs. 2-5): data, plots, PNG + PDF + CSV.

One module per figure (:mod:`~orbsym.workflows.figures.fig2` ... :mod:`~orbsym.workflows.figures.fig5`), each with
``DEFAULTS`` (the paper's parameters), ``QUICK`` (reduced sizes), ``compute(**params) -> dict``,
``plot(data) -> matplotlib Figure``, ``save(data, out_dir)`` (PNG, PDF, CSV and NetCDF),
``summary(data)`` and ``run``.  Their parameter grids are sweeps
(:func:`orbsym.workflows.sweeps.sweep`, through :class:`~orbsym.workflows.figures.common.Runner`), so
they run on local processes or dask and resume after an interruption.
Shared machinery: :mod:`~orbsym.workflows.figures.common`.

Example
-------
>>> from orbsym.workflows.figures import fig4
>>> data = fig4.compute(quick=True)
>>> fig4.summary(data)["switch_points"]           # doctest: +SKIP
"""

from __future__ import annotations

import importlib

__all__ = ["FIGURES", "module", "reproduce", "headline"]

#: Figure number -> module name.
FIGURES = {2: "fig2", 3: "fig3", 4: "fig4", 5: "fig5"}


def module(n):
    """The module of figure ``n`` (2, 3, 4 or 5)."""
    given = n
    try:
        n = int(n) if not isinstance(n, (bool, float)) else None
    except (TypeError, ValueError):
        n = None
    if n not in FIGURES:
        raise ValueError(f"unknown figure {given!r}; allowed: {', '.join(str(k) for k in FIGURES)}")
    return importlib.import_module(f"{__name__}.{FIGURES[n]}")


def reproduce(out_dir, quick=False, workers=1, figures=tuple(FIGURES), show_progress=None, executor=None, resume=True, **common):
    """Regenerate the given figures into ``out_dir``; returns ``{n: (data, paths, seconds)}``.

    ``common`` parameters (e.g. ``interface``, ``T``) are passed to every figure that has them.
    All grids run as sweeps on one executor: ``executor`` (e.g. a dask ``client.get_executor()``),
    else one local pool of ``workers`` processes (``workers > 1``), else this process.  With
    ``resume`` the sweep state lives in ``out_dir/.orbsym-resume/`` until each figure is written.
    ``out_dir`` and every figure's parameters are checked first; the figures' files are locked
    against a second run (:func:`~orbsym.workflows.figures.common.locked_outputs`).
    """
    import os

    from ...io import check_output_dir
    from .common import Runner, locked_outputs

    mods = {int(n): module(n) for n in figures}
    check_output_dir(out_dir, "out_dir", "figures")
    for n, mod in mods.items():
        mod.check(quick=quick, **{k: v for k, v in common.items() if k in mod.DEFAULTS})
    owned = None
    run = Runner(workers, executor=executor, resume=os.path.join(out_dir, ".orbsym-resume") if resume else None, progress=show_progress)
    results = {}
    with locked_outputs(out_dir, [mod.NAME for mod in mods.values()]):
        if executor is None and workers > 1:
            from .common import local_pool, warm_kernels

            warm_kernels()
            run.executor = owned = local_pool(workers)
        _reproduce(mods, out_dir, quick, run, owned, results, common)
    return results


def _reproduce(mods, out_dir, quick, run, owned, results, common):
    import time

    from ...io import atomic_files

    try:
        for n, mod in mods.items():
            kw = {k: v for k, v in common.items() if k in mod.DEFAULTS}
            t0 = time.perf_counter()
            with atomic_files():  # the figure's files are published together or not at all
                data, paths = mod.run(out_dir, quick=quick, run=run, **kw)
            run.cleanup()
            results[int(n)] = (data, paths, time.perf_counter() - t0)
    finally:
        if owned is not None:
            owned.shutdown(wait=True)
    return results


def headline(n, data):
    """One line with the figure's headline numbers (for the CLI and the benchmark)."""
    mod = module(n)
    s = mod.summary(data)
    p = data["params"]
    if int(n) == 2:
        parts = []
        for r in s:
            if r["polarization"] and r["gamma"] in (p["gammas"][0], p["gammas"][-1]):
                parts.append(f"{r['m_L']}|{r['m_R']} g={r['gamma']:g}: j_{r['polarization']} right={r['j_right']:.2e}")
        return f"Fig. 2 ({p['current']} current, interface={p['interface']}): " + "; ".join(parts)
    if int(n) == 3:
        parts = [f"{k.upper()}/FM minima {', '.join(v['minima'])} (F range {v['F_max_minus_min']:.2e})" for k, v in s.items()]
        return f"Fig. 3 (interface={p['interface']}): " + "; ".join(parts)
    if int(n) == 4:
        sw = ", ".join(f"{a}->{b} at mu={m:+.6f}" for m, a, b in s["switch_points"])
        low = f"; lowest at mu=-0.2: {s['lowest_at_mu_ref']}" if "lowest_at_mu_ref" in s else ""
        return f"Fig. 4 (interface={p['interface']}): switch points {sw or 'none'}{low}"
    parts = []
    for g, v in s.items():
        below = set(v.get("below_floor_N_x", ()))
        js = ", ".join(f"J({k})=" + (f"below the finite-N_y floor {v['finite_N_y_floor']:.0e}" if k in below else f"{val:.2e}")
                       for k, val in v["J"].items() if k in (5, 9, 15))
        parts.append(f"g={g:g}: {js}")
    return f"Fig. 5 (interface={p['interface']}): " + "; ".join(parts)
