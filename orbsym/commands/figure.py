"""``orbsym figure N``: regenerate one of the paper's Figs. 2-5 with changed parameters.

Examples::

    orbsym figure 2 --gamma 1,0.5 --current eq7 --out figs
    orbsym figure 3 --grid 37x73 --interface metal
    orbsym figure 4 --mu-range=-4:4:801    (use "=" when MIN is negative)
    orbsym figure 5 --N-x-range 3:40 --quick

Writes ``figN.png``, ``figN.pdf``, ``figN.csv`` (parameters in ``#`` header lines) and ``figN.nc``
(the labeled data, NetCDF) atomically into ``--out``.  One run at a time writes these files: a
second run on the same files is refused (exit status 2) naming the lock ``OUT/.figN.lock`` and the
pid and host holding it; temporary files that a killed run left behind are removed by the next
run, with a one-line notice on stderr.  Every option is checked before anything is computed: an
empty list entry (``--gamma 1,,0.5``), NaN, inf or a complex value, a misspelled name, an
``--out`` that is a file or not writable.  The parameter grids run as sweeps
(:func:`orbsym.workflows.sweeps.sweep`): ``--workers N`` (local processes) or ``--scheduler ADDRESS``
(dask); an interrupted run resumes when repeated with the same options (state in
``OUT/.orbsym-resume/``, removed when the figure is written).  Defaults are the paper's parameters (:data:`orbsym.conventions.PAPER_PARAMETERS`).
An option that does not apply to the chosen figure is an error (exit status 2).  Before anything is
computed, the figure is sized (:func:`check_figure_size`): the grids its ``compute`` would run are
recorded without running them, and every point is estimated with the engine that will run it
(dense or Green's-function); a figure beyond the time or memory limit is refused with the estimate
and the option to change.  Progress: ``--progress {auto,on,off}`` (:func:`orbsym.execution.progress_output`;
a bare ``--progress`` is ``on``, ``--no-progress`` a deprecated spelling of ``off``): the bars of the
figure's grids on a terminal, a line every 30 s (``ORBSYM_PROGRESS_INTERVAL``) in a log file.
"""

from __future__ import annotations

import contextlib
import sys

NAME = "figure"
HELP = "regenerate one figure of the paper (2, 3, 4 or 5) as PNG + PDF + CSV, with changed parameters"


def _floats(option, text):
    """Comma-separated finite reals; an empty entry, NaN, inf or a complex value is refused."""
    from ..workflows.sweeps.inputs import parse_real, split_list

    return tuple(parse_real(option, t, text) for t in split_list(option, text, example="1,0.5"))


#: Magnetization axes accepted in ``--configs`` (an optional sign in front).
AXES = ("x", "y", "z", "-x", "-y", "-z")


def _axis(option, value, text):
    from ..numeric.checks import unknown_name

    if value.lower().lstrip("+-") in ("x", "y", "z") and len(value.lstrip("+-")) == 1 and len(value) - len(value.lstrip("+-")) <= 1:
        return value
    raise unknown_name(f"magnetization axis in {option} {text!r}:", value, AXES)


def _configs(text):
    from ..workflows.sweeps.inputs import split_list

    out = []
    for part in split_list("--configs", text, example="x:y,x:z"):
        pair = [t.strip() for t in part.split(":")]
        if len(pair) != 2 or not all(pair):
            raise ValueError(f"--configs {text!r}: entry {part!r} is not an m_L:m_R axis pair like 'x:y' (expected e.g. --configs x:y,x:z)")
        out.append(tuple(_axis("--configs", v, text) for v in pair))
    if len(set(out)) != len(out):
        raise ValueError(f"--configs {text!r} names a configuration twice")
    return tuple(out)


def _panels(text):
    from ..numeric.checks import check_name
    from ..workflows.figures.fig3 import PANELS
    from ..workflows.sweeps.inputs import split_list

    panels = tuple(check_name(f"panel in --panels {text!r}:", q, PANELS) for q in split_list("--panels", text, example="nm,am"))
    if len(set(panels)) != len(panels):
        raise ValueError(f"--panels {text!r} names a panel twice")
    return panels


def _grid(text):
    from ..workflows.sweeps.inputs import split_list

    parts = split_list("--grid", str(text).lower(), "x", "field", example="19x37")
    try:
        if len(parts) != 2:
            raise ValueError
        return int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"--grid expects N_THETAxN_PHI with two integers (e.g. 19x37), got {text!r}") from None


def _range(text, name, n):
    from ..workflows.sweeps.inputs import split_list

    parts = split_list(name, text, ":", "field", example=":".join(["X"] * n))
    if len(parts) != n:
        raise ValueError(f"{name} expects {':'.join(['X'] * n)} ({n} fields), got {text!r}")
    return parts


def _int(option, token, text, what):
    try:
        return int(token)
    except ValueError:
        raise ValueError(f"{option} {text!r}: {what} {token!r} is not an integer") from None


def check_scheduler(address):
    """``--scheduler ''`` is refused (an empty address would silently run locally)."""
    if address is not None and not str(address).strip():
        raise ValueError("--scheduler is empty; give the address of a dask scheduler (e.g. --scheduler tcp://host:8786), or omit it to run locally")


def add_common_arguments(parser):
    """Options shared by ``figure`` and ``reproduce``."""
    parser.add_argument("--out", default="figures", metavar="DIR", help="output directory (created if needed; default: figures)")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (N_y = 200, coarser grids) for a fast look")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="local processes sharing the solves, one BLAS thread each (default: 1); with --scheduler: the number of dask workers to plan for")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run the solves on a dask.distributed scheduler (e.g. tcp://host:8786; fails within 5 s if unreachable)")
    parser.add_argument("--interface", choices=("fm", "metal"), default=None, help="hopping on FM-metal bonds (default: fm)")
    parser.add_argument("--current", choices=("bond", "eq7"), default=None, help="Fig. 2 only: exact bond current or the paper's Eq. (7) (default: bond)")
    parser.add_argument("--T", type=float, default=None, metavar="TEMP", help="temperature, units of t (default: 0.01)")
    parser.add_argument("--N-y", dest="N_y", type=int, default=None, metavar="N", help="periodic rows (default: 800; 200 with --quick)")
    from ..execution import add_progress_argument

    add_progress_argument(parser, deprecated=("--no-progress",), bare=True)  # --no-progress: deprecated alias of --progress off


def add_arguments(parser):
    parser.add_argument("number", metavar="N", help="figure number: 2, 3, 4 or 5")
    add_common_arguments(parser)
    parser.add_argument("--gamma", default=None, metavar="G", help="NM anisotropy; Figs. 2 and 5: comma-separated list (default: 1,0.8,0.5,0.3); Figs. 3-4: one value (default: 0.3)")
    parser.add_argument("--w", type=float, default=None, metavar="W", help="Fig. 3 (AM panel): altermagnet anisotropy (default: 0.4)")
    parser.add_argument("--mu", type=float, default=None, metavar="MU", help="chemical potential, Figs. 2, 3, 5 (default: -0.2)")
    parser.add_argument("--N-x", dest="N_x", type=int, default=None, metavar="N", help="columns, Figs. 2-4 (default: 25)")
    parser.add_argument("--N-FM", dest="N_FM", type=int, default=None, metavar="N", help="FM columns (default: 1)")
    parser.add_argument("--m", type=float, default=None, metavar="M", help="exchange strength |m| (default: 1)")
    parser.add_argument("--t", type=float, default=None, metavar="HOP", help="hopping t, the energy unit (default: 1)")
    parser.add_argument("--tp", type=float, default=None, metavar="TP", help="t' of the d_xy orbital, orbital basis (default: t)")
    parser.add_argument("--configs", default=None, metavar="PAIRS", help="Fig. 2: m_L:m_R pairs (default: x:y,x:z,y:z)")
    parser.add_argument("--log", action="store_true", default=None, help="Fig. 2: plot |j| on a logarithmic axis")
    parser.add_argument("--grid", default=None, metavar="NxM", help="Fig. 3: N_THETAxN_PHI grid on [0,pi]x[0,2pi] (default: 19x37; 7x13 with --quick)")
    parser.add_argument("--panels", default=None, metavar="LIST", help="Fig. 3: nm,am (default: both)")
    parser.add_argument("--no-symmetry", dest="symmetry", action="store_false", default=None, help="Fig. 3: diagonalize every grid point (no symmetry reduction)")
    parser.add_argument("--mu-range", dest="mu_range", default=None, metavar="MIN:MAX:N", help="Fig. 4: mu grid (default: -3:3:601; write --mu-range=-3:3:601 when MIN < 0)")
    parser.add_argument("--N-x-range", dest="N_x_range", default=None, metavar="MIN:MAX", help="Fig. 5: N_x range (default: 3:25; 3:15 with --quick)")
    parser.add_argument("--axis", default=None, choices=("x", "y", "z"), help="Fig. 5: common FM axis (default: y)")
    parser.add_argument("--name", default=None, metavar="STEM", help="output file stem, a plain file name (default: figN)")


def figure_parameters(args, n):
    """Translate the command-line options into the figure's parameters (None = not given)."""
    p = {
        "interface": args.interface,
        "current": args.current,
        "T": args.T,
        "N_y": args.N_y,
    }
    for k in ("w", "mu", "N_x", "N_FM", "m", "t", "tp", "axis", "symmetry", "log"):
        p[k] = getattr(args, k, None)
    if getattr(args, "gamma", None) is not None:
        g = _floats("--gamma", args.gamma)
        if n in (2, 5):
            p["gammas"] = g
        elif len(g) != 1:
            raise ValueError(f"figure {n} takes one --gamma value, got {args.gamma!r}")
        else:
            p["gamma"] = g[0]
    if getattr(args, "configs", None) is not None:
        p["configs"] = _configs(args.configs)
    if getattr(args, "grid", None) is not None:
        p["n_theta"], p["n_phi"] = _grid(args.grid)
    if getattr(args, "panels", None) is not None:
        p["panels"] = _panels(args.panels)
    if getattr(args, "mu_range", None) is not None:
        from ..workflows.sweeps.inputs import parse_real

        a, b, c = _range(args.mu_range, "--mu-range", 3)
        p["mu_min"], p["mu_max"] = parse_real("--mu-range", a, args.mu_range), parse_real("--mu-range", b, args.mu_range)
        p["n_mu"] = _int("--mu-range", c, args.mu_range, "N")
    if getattr(args, "N_x_range", None) is not None:
        a, b = _range(args.N_x_range, "--N-x-range", 2)
        p["N_x_min"], p["N_x_max"] = _int("--N-x-range", a, args.N_x_range, "MIN"), _int("--N-x-range", b, args.N_x_range, "MAX")
    return {k: v for k, v in p.items() if v is not None}


_OPTION = {
    "gammas": "--gamma", "gamma": "--gamma", "configs": "--configs", "n_theta": "--grid", "n_phi": "--grid", "panels": "--panels",
    "symmetry": "--no-symmetry", "mu_min": "--mu-range", "mu_max": "--mu-range", "n_mu": "--mu-range", "N_x_min": "--N-x-range",
    "N_x_max": "--N-x-range", "axis": "--axis", "current": "--current", "interface": "--interface", "N_x": "--N-x", "N_y": "--N-y",
    "N_FM": "--N-FM",
}


def check_applicable(params, mod, n):
    """Raise ValueError naming an option that the figure does not have."""
    for k in params:
        if k not in mod.DEFAULTS:
            opt = _OPTION.get(k, "--" + k)
            raise ValueError(f"option {opt} does not apply to figure {n}")


from ..workflows.figures.common import SUFFIXES  # noqa: E402 - file suffixes a figure writes


def check_outputs(out, names):
    """Before computing: ``--out`` is (or can be made) a writable directory, every ``--name`` a plain
    file stem, and no target file (``DIR/name.png`` ...) is an existing directory."""
    from ..io import check_file_stem, check_output_dir

    d = check_output_dir(out, "--out", "figures")
    for name in names:
        check_file_stem(name, "--name", SUFFIXES)
        for suf in SUFFIXES:
            if (d / (name + suf)).is_dir():
                raise ValueError(f"output file {str(d / (name + suf))!r} is an existing directory; remove it or choose another --name")
    return d


def check_panel_options(params, n):
    """Fig. 3: --w applies only with the AM panel, --gamma/--tp only with the NM panel."""
    if n != 3 or "panels" not in params:
        return
    panels = set(params["panels"])
    for key, panel, opt in (("w", "am", "--w"), ("gamma", "nm", "--gamma"), ("tp", "nm", "--tp")):
        if key in params and panel not in panels:
            raise ValueError(f"option {opt} applies only to the {panel.upper()}/FM panel of figure 3, which --panels {','.join(params['panels'])} leaves out")


def _solve_counts(n, p):
    """``(solves, vectors)``: a lower bound on the solves figure ``n`` runs at its largest size."""
    if n == 2:
        return len(p["configs"]) * len(p["gammas"]) * (2 if p.get("log") else 1), True
    if n == 3:
        count = 0
        for panel in p["panels"]:
            if not p["symmetry"]:
                count += int(p["n_theta"]) * int(p["n_phi"])
            else:  # the symmetry-reduced directions: (|m_x|, |m_y|, |m_z|) for NM, theta alone for AM
                count += max(1, int(p["n_theta"]) * int(p["n_phi"]) // 16) if panel == "nm" else max(1, int(p["n_theta"]) // 2)
        return count, False
    if n == 4:
        return 3, False
    return 2 * len(p["gammas"]), False


def lower_bound(mod, n, params, quick):
    """A cheap lower bound of a figure's CPU time from the sizes alone (nothing built): its solves at
    the largest ``N_x``, each at the cheaper of the two engines' estimates (the Green's-function one
    with a low spectral bound).  Refusing on it avoids building a huge system only to size it."""
    from ..numeric.budget import ResourceEstimate, dense_bloch_estimate
    from ..numeric.engines import greens_estimate

    p = mod.check(quick=quick, **params)
    N_x = int(p.get("N_x_max", p.get("N_x", 1)))
    N_y, T = int(p["N_y"]), float(p["T"])
    count, vectors = _solve_counts(n, p)
    dim = 2 if n == 3 and tuple(p["panels"]) == ("am",) else 3
    per = dense_bloch_estimate(N_x, N_y, dim, vectors=vectors)
    if n != 4:  # Fig. 4's levels are always the dense eigenvalues
        try:
            g = greens_estimate(N_x, N_y, dim, T, vectors=vectors, E_max=3.0)
            per = g if g.seconds < per.seconds else per
        except ValueError:
            pass
    seconds, nbytes = count * per.seconds + _own_seconds(n, p), per.bytes
    if n == 4:  # the mu grid is sized from its count, before compute() would build it
        levels_seconds, levels_bytes = _fig4_levels_cost(p)
        seconds, nbytes = seconds + levels_seconds, nbytes + levels_bytes
    return ResourceEstimate(per.engine, nbytes, seconds, f"at least {count} solves at N_x = {N_x}, N_y = {N_y}")


#: CPU seconds of Fig. 3's own work per grid point and panel (directions, symmetry keys, the map; measured ~21 us).
FIG3_SECONDS_PER_GRID_POINT = 2.5e-5


def _own_seconds(n, p):
    """A figure's own work around its solves (Fig. 3: per grid point)."""
    if n == 3:
        return FIG3_SECONDS_PER_GRID_POINT * int(p["n_theta"]) * int(p["n_phi"]) * len(p["panels"])
    return 0.0


def estimate_figure(mod, n, params, quick, workers=1):
    """Memory and CPU time of one figure, before computing.

    Every grid the figure's ``compute`` would run (:func:`orbsym.workflows.figures.common.plan_grids`:
    its own code, with the solves replaced by a recorder) is sized point by point with the engine
    that will run it (:func:`orbsym.workflows.sweeps.estimate_sweep`: dense or Green's-function, as
    ``engine="auto"`` picks at each size); the time is the sum over the grids, the memory the largest.
    Fig. 4 adds ``F(mu)`` from the levels for every ``mu``.
    """
    from dataclasses import replace

    from ..numeric.budget import ResourceEstimate
    from ..workflows.figures.common import plan_grids
    from ..workflows.sweeps import estimate_sweep

    p = mod.check(quick=quick, **params)
    total, peak, parts, used = 0.0, 0.0, [], []
    for system, axes, observables, fixed in plan_grids(mod, quick, **params):
        e = estimate_sweep(system, axes, observables, params=fixed, workers=workers)
        total += e.seconds
        peak = max(peak, e.bytes)
        parts.append(e.detail)
        used += [u for u in e.engine.split(" + ") if u not in used and u != "no"]
    grids = f"{len(parts)} grids: " if len(parts) > 1 else ""
    est = ResourceEstimate(" + ".join(sorted(used)) or "no", peak, total + _own_seconds(n, p), grids + "; ".join(parts))
    if n == 4:
        seconds, nbytes = _fig4_levels_cost(p)
        est = replace(est, seconds=est.seconds + seconds, bytes=est.bytes + nbytes)
    return est


def _fig4_levels_cost(p):
    """``(seconds, bytes)`` of Fig. 4's ``F(mu)`` from the levels of its three solves: every ``mu`` of
    ``--mu-range`` against every level (``3 n_mu n_k N_x 3`` terms, ~30 ns each), ~300 bytes per ``mu``
    row for the plot and the CSV."""
    N_x, N_y = int(p["N_x"]), int(p["N_y"])
    nk = N_y // 2 + 1
    n_mu = int(p["n_mu"])
    return 3 * n_mu * nk * N_x * 3 * 3e-8, 3 * 8.0 * nk * N_x * 3 + 300.0 * n_mu


def check_energies(params):
    """Energy-like options (units of t) within :data:`orbsym.numeric.checks.ENERGY_LIMIT`."""
    from ..numeric.checks import ENERGY_LIMIT, real_number

    for k in ("T", "mu", "t", "tp", "m", "w", "gamma", "mu_min", "mu_max"):
        if k in params:
            real_number("--" + k.replace("_", "-") if "_" in k else "--" + k, params[k], bound=ENERGY_LIMIT)
    for g in params.get("gammas", ()):
        real_number("--gamma", g, bound=ENERGY_LIMIT)


#: What to change, per figure, in a refusal.
_HINTS = {
    2: "reduce --N-x or --N-y, or give fewer --gamma / --configs",
    3: "reduce --N-x, --N-y or --grid, or give one of --panels",
    4: "reduce --N-x, --N-y or the N of --mu-range",
    5: "reduce --N-x-range or --N-y, or give fewer --gamma",
}


def check_figure_size(mod, n, params, quick, workers=1):
    """Refuse a figure whose solves would not fit in memory or exceed the time limit, before any
    work: first on the cheap :func:`lower_bound` (no system built), then on :func:`estimate_figure`
    (every grid point sized with the engine that runs it)."""
    from ..numeric.budget import check_resources

    hint = _HINTS.get(n, "reduce N_x, N_y or the grid/range") + (" (or use more --workers)" if workers == 1 else "")
    check_resources(lower_bound(mod, n, params, quick), what=f"figure {n}", workers=workers, hint=hint)
    est = estimate_figure(mod, n, params, quick, workers)
    return check_resources(est, what=f"figure {n}", workers=workers, hint=hint)


RESUME_DIR = ".orbsym-resume"


@contextlib.contextmanager
def figure_runner(args, seconds=None):
    """The :class:`orbsym.workflows.figures.common.Runner` of a ``figure`` / ``reproduce`` command:
    one local pool (``--workers``) or dask executor (``--scheduler``) for all its grids, resumable
    state in ``OUT/.orbsym-resume/``; progress by ``--progress {auto,on,off}``
    (:func:`orbsym.execution.progress_output`; ``seconds``: the estimated wall time, for ``auto``)."""
    import os

    from .. import execution
    from ..workflows.figures.common import Runner

    if isinstance(args.workers, bool) or args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers!r}")
    client = executor = None
    workers = args.workers
    try:
        if getattr(args, "scheduler", None):
            client, executor, n = execution.connect_scheduler(args.scheduler)
            workers = max(workers, n)
        elif workers > 1:  # one forked pool for all grids; the workers inherit the kernels
            from ..workflows.figures.common import local_pool, warm_kernels

            warm_kernels()
            executor = local_pool(workers)
        with execution.progress_output(args.progress, seconds) as show:  # the bars of every grid; one-line updates off a terminal
            yield Runner(workers, executor=executor, resume=os.path.join(args.out, RESUME_DIR), progress=show)
    except BaseException:
        if client is None and executor is not None:
            executor.terminate()
            executor = None
        raise
    finally:
        if client is not None:
            client.close()
        elif executor is not None:
            executor.shutdown(wait=True)


@contextlib.contextmanager
def own_outputs(out, names):
    """Hold the figures' output lock (:func:`orbsym.workflows.figures.common.locked_outputs`) and
    print a one-line notice on stderr if temporary files of an interrupted run were removed."""
    from ..workflows.figures.common import leftover_notice, locked_outputs

    with locked_outputs(out, names) as removed:
        if removed:
            print(f"orbsym: {leftover_notice(removed, out)}", file=sys.stderr)
            sys.stderr.flush()
        yield removed


def run(args):
    from ..io import atomic_files
    from ..workflows import figures

    mod = figures.module(args.number)
    n = int(args.number)
    params = figure_parameters(args, n)
    check_applicable(params, mod, n)
    check_panel_options(params, n)
    if isinstance(args.workers, bool) or args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers!r}")
    check_scheduler(args.scheduler)
    name = mod.NAME if args.name is None else args.name
    check_outputs(args.out, [name])
    check_energies(params)
    mod.check(quick=args.quick, **params)
    est = check_figure_size(mod, n, params, args.quick, args.workers)
    with own_outputs(args.out, [name]), figure_runner(args, est.seconds / max(1, args.workers)) as run_:  # a second run on these files is refused
        data = mod.compute(quick=args.quick, run=run_, **params)
        with atomic_files():  # PNG, PDF, CSV and NetCDF published together or not at all
            paths = mod.save(data, args.out, name=name)
        run_.cleanup()
    print(figures.headline(n, data))
    for p in paths:
        print(f"wrote {p}")
    sys.stdout.flush()
    return 0
