"""``orbsym reproduce --out DIR``: regenerate all numerical figures of the paper (Figs. 2-5).

Each figure is written as ``figN.png``, ``figN.pdf``, ``figN.csv`` (the plotted data with the
parameters in ``#`` header lines) and ``figN.nc`` (labeled NetCDF), atomically, at the paper's parameters
(:data:`orbsym.conventions.PAPER_PARAMETERS`) or, with ``--quick``, at reduced sizes.  One line of
headline numbers and the wall time per figure are printed.  ``orbsym figure N`` changes parameters.
Every figure, and all of them together, is sized before anything runs (as for ``orbsym figure``).
``--workers`` / ``--scheduler``, resuming, the lock on each figure's files (a second run on them is
refused) and the removal of a killed run's temporary files as for ``orbsym figure``.
"""

from __future__ import annotations

import sys
import time

from .figure import add_common_arguments, check_scheduler, figure_runner

NAME = "reproduce"
HELP = "regenerate the paper's Figs. 2-5 (PNG + PDF + CSV) at the paper's parameters"


def add_arguments(parser):
    add_common_arguments(parser)
    parser.add_argument("--figures", default="2,3,4,5", help="comma-separated subset of 2,3,4,5 (default all)")


def check_common_applicable(common, mods):
    """An option given to ``reproduce`` must apply to at least one of the selected figures."""
    opt = {"interface": "--interface", "current": "--current", "T": "--T", "N_y": "--N-y"}
    for k in common:
        if not any(k in mod.DEFAULTS for mod in mods.values()):
            have = [str(n) for n, mod in mods.items()]
            raise ValueError(f"option {opt.get(k, '--' + k)} does not apply to figure{'s' if len(have) > 1 else ''} {','.join(have)} (--figures)")


def run(args):
    from ..workflows import figures
    from ..workflows.sweeps.inputs import split_list

    numbers = []
    for tok in split_list("--figures", args.figures, example="2,3,4,5"):
        try:
            numbers.append(int(tok))
        except ValueError:
            raise ValueError(f"--figures {args.figures!r}: {tok!r} is not a figure number; allowed: 2, 3, 4, 5") from None
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"--figures {args.figures!r} names a figure twice")
    mods = {n: figures.module(n) for n in numbers}
    if isinstance(args.workers, bool) or args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers!r}")
    check_scheduler(args.scheduler)
    common = {"interface": args.interface, "current": args.current, "T": args.T, "N_y": args.N_y}
    common = {k: v for k, v in common.items() if v is not None}
    check_common_applicable(common, mods)
    from ..io import atomic_files
    from .figure import check_energies, check_figure_size, check_outputs, own_outputs

    names = [mod.NAME for mod in mods.values()]
    check_outputs(args.out, names)
    check_energies(common)
    sizes = {}
    for n, mod in mods.items():
        kw = {k: v for k, v in common.items() if k in mod.DEFAULTS}
        mod.check(quick=args.quick, **kw)
        sizes[n] = check_figure_size(mod, n, kw, args.quick, args.workers)
    if len(mods) > 1:  # the figures one after the other: their times add up
        from ..numeric.budget import ResourceEstimate, check_resources, format_seconds

        engines = sorted({e for est in sizes.values() for e in est.engine.split(" + ")})
        total = ResourceEstimate(
            " + ".join(engines), max(e.bytes for e in sizes.values()), sum(e.seconds for e in sizes.values()),
            "; ".join(f"figure {n} ~{format_seconds(e.seconds / args.workers)}" for n, e in sizes.items()),
        )
        check_resources(total, what=f"reproduce (figures {','.join(str(n) for n in mods)})", workers=args.workers, hint="reduce --N-y, or reproduce fewer --figures at a time")
    total = 0.0
    # one lock per figure's files, one pool / dask client for all figures; resumable
    seconds = sum(e.seconds for e in sizes.values()) / max(1, args.workers)
    with own_outputs(args.out, names), figure_runner(args, seconds) as run_:
        for n, mod in mods.items():
            kw = {k: v for k, v in common.items() if k in mod.DEFAULTS}
            t0 = time.perf_counter()
            data = mod.compute(quick=args.quick, run=run_, **kw)
            with atomic_files():  # this figure's PNG, PDF, CSV and NetCDF together or not at all
                paths = mod.save(data, args.out)
            run_.cleanup()
            dt = time.perf_counter() - t0
            total += dt
            print(f"[{dt:6.1f} s] {figures.headline(n, data)}")
            print("          wrote " + ", ".join(paths))
            sys.stdout.flush()
    print(f"total {total:.1f} s ({'quick' if args.quick else 'paper'} parameters)")
    return 0
