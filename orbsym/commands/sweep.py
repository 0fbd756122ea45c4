"""``orbsym sweep``: parameter sweeps of trilayers and bilayers into a labeled NetCDF file.

Examples::

    orbsym sweep bilayer --param theta=0:3.14:21 --param phi=0:6.28:41 --set gamma=0.3 \\
        --observable free_energy --out F.nc --workers 2
    orbsym sweep trilayer --param N_x=5,7,9,11 --set m_L=y --set m_R=y --observable rkky --out J.nc
    orbsym sweep bilayer --param N_y=200,800,inf --observable free_energy --out conv.nc
    orbsym sweep bilayer --param mu=-1:0:11 --scheduler tcp://host:8786 --out F_mu.nc   # dask cluster
    orbsym sweep bilayer --set N_z=16 --param theta=0:3.14:11 --observable torques --out film.nc  # a film
    orbsym sweep trilayer --param N_z=4,8,16,32 --set N_y=32 --observable free_energy --out F_Nz.nc

``--param NAME=START:STOP:NUM`` is ``numpy.linspace(START, STOP, NUM)`` (both ends included);
``--param NAME=V1,V2,...`` lists values (numbers, ``inf`` for ``N_y``, or words such as
``interface=fm,metal``).  ``--set NAME=VALUE`` fixes a parameter (once per name).  Films: ``--set
N_z=N`` or ``--param N_z=...`` (integers >= 1, a finite ``N_y``) make every point a film periodic in y
and z (the cubic models); its values are per transverse cell (``a^2`` of one column), the file's
``N_z`` attribute or coordinate labels it, torques add ``bond_z`` and ``bond_diagonal``, and
``currents:bond:z`` is the bond ``(0, 0, 1)`` current.  Every value is
checked before any point runs (exit status 2, one line), and so is the whole sweep's size: every
point is estimated with the engine that will run it (``--engine auto`` picks per point), the CPU
time summed over the points still to compute (divided among ``--workers``) and the memory of the
largest point; beyond the limits (``ORBSYM_MAX_SECONDS``, ``ORBSYM_MAX_MEMORY``) the sweep is
refused with the estimate (:mod:`orbsym.workflows.sweeps.estimate`).  Re-running an interrupted sweep with
the same arguments computes only the missing points (partial results in ``OUT.parts/``, owned by
one run at a time; ``--restart`` discards them).
Conventions (units of t, free energies per row): :mod:`orbsym.conventions`.  Progress:
``--progress {auto,on,off}`` (:func:`orbsym.execution.progress_output`; ``--quiet`` is a deprecated
spelling of ``off``): a bar on a terminal, a line every 30 s in a log file (``auto``: for sweeps
estimated above 2 s, :func:`orbsym.workflows.sweeps.estimate_sweep`).
"""

from __future__ import annotations

import math
import sys

from ..conventions import PAPER_PARAMETERS

NAME = "sweep"
HELP = "parameter sweeps (free energy, currents, densities, torques, RKKY) in parallel, saved as labeled NetCDF"

_INTS = ("N_x", "N_y", "N_FM", "N_z")


def add_arguments(parser):
    parser.add_argument("geometry", help="trilayer (FM/metal/FM) or bilayer (metal/FM)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=SPEC", help="swept parameter: START:STOP:NUM (linspace) or V1,V2,...; repeat for more axes (dimension order)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="fixed parameter value (e.g. gamma=0.3, T=0.01, m_L=y, m_FM=1.57,0)")
    parser.add_argument("--observable", action="append", default=[], metavar="NAME", help="free_energy (default), particle_number, densities, currents[:KIND[:DIR]] (DIR x, y; z for films), torques[:KIND], rkky, levels; repeat or comma-separate")
    parser.add_argument("--out", default=None, help="NetCDF output file (resumable); without it a summary is printed")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores for large sweeps, serial for tiny ones)")
    parser.add_argument("--executor", choices=("auto", "serial", "process"), default="auto", help="execution backend (default auto)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run on a dask.distributed scheduler (e.g. tcp://host:8786) via client.get_executor(); fails within 5 s if unreachable")
    parser.add_argument("--chunk-size", dest="chunk_size", type=int, default=None, help="points per task")
    parser.add_argument("--tol", type=float, default=None, help="absolute tolerance of the k_y integral for N_y=inf (default 1e-10)")
    parser.add_argument(
        "--ny-inf-method",
        dest="ny_inf_method",
        choices=("auto", "trapezoid", "adaptive"),
        default=None,
        help="rule of the N_y=inf k_y integral: auto (default; trapezoid at ordinary T, adaptive split at the Fermi points for T <~ 1e-3 and T = 0), trapezoid, adaptive",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "dense", "greens"),
        default="auto",
        help="solver of every point: auto (default), dense or greens (orbsym.systems.solve; at N_y=inf greens uses its k sub-grids, "
        "auto/dense the k_y integral of --ny-inf-method); part of the sweep fingerprint",
    )
    parser.add_argument("--restart", action="store_true", help="start over: discard OUT.parts/ (partial, stale or corrupt results, also of a different sweep) and recompute")
    from ..execution import add_progress_argument

    add_progress_argument(parser, deprecated=("--quiet",))  # --quiet: deprecated alias of --progress off


def _number(text):
    t = text.strip()
    low = t.lower()
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return None


def _is_complex(text):
    try:
        complex(text)
        return True
    except ValueError:
        return False


def _split(option, item):
    if "=" not in item:
        raise ValueError(f"{option} {item!r}: expected NAME=VALUES (e.g. {option} theta=0:3.14:21)")
    name, _, spec = item.partition("=")
    name = name.strip()
    if not name:
        raise ValueError(f"{option} {item!r}: missing parameter name before '='")
    return name, spec.strip()


def parse_axis(item):
    """``NAME=START:STOP:NUM`` or ``NAME=V1,V2,...`` -> ``(name, list of values)``."""
    import numpy as np

    name, spec = _split("--param", item)
    if not spec:
        raise ValueError(f"--param {name}: no values given (expected START:STOP:NUM or V1,V2,...)")
    if ":" in spec:
        parts = [p.strip() for p in spec.split(":")]
        if len(parts) != 3:
            raise ValueError(f"--param {name}={spec}: expected START:STOP:NUM with three fields, got {len(parts)}")
        if not all(parts):
            raise ValueError(f"--param {name}={spec}: empty field at position {parts.index('') + 1} (expected START:STOP:NUM)")
        start, stop, num = (_number(p) for p in parts)
        if start is None or stop is None or not (math.isfinite(start) and math.isfinite(stop)):
            raise ValueError(f"--param {name}={spec}: START and STOP must be finite numbers")
        if not isinstance(num, int) or num < 1:
            raise ValueError(f"--param {name}={spec}: NUM must be an integer >= 1, got {parts[2]!r}")
        from ..workflows.sweeps.inputs import MAX_POINTS

        if num > MAX_POINTS:
            raise ValueError(f"--param {name}={spec}: {num} values (about {num * 1e3 / 2**30:.3g} GiB of bookkeeping alone); a sweep has at most {MAX_POINTS} points")
        values = [float(v) for v in np.linspace(start, stop, num)]
    else:
        tokens = [p.strip() for p in spec.split(",")]
        if any(not t for t in tokens):
            raise ValueError(f"--param {name}={spec}: empty value in the list (position {tokens.index('') + 1})")
        nums = [_number(t) for t in tokens]
        values = tokens if any(v is None for v in nums) else nums
        if any(v is None for v in nums) and any(v is not None for v in nums):
            word = tokens[[v is None for v in nums].index(True)]
            if _is_complex(word):
                raise ValueError(f"--param {name}={spec}: {word!r} is complex; a real number is needed")
            raise ValueError(f"--param {name}={spec}: mixes numbers and words ({word!r} is not a number)")
    if name in _INTS and not any(isinstance(v, str) for v in values):
        if all(math.isinf(v) or float(v).is_integer() for v in values):
            values = [v if math.isinf(v) else int(v) for v in values]
    return name, values


def parse_fixed(item):
    """``NAME=VALUE`` -> ``(name, value)``; ``a,b`` / ``a,b,c`` become angle pairs / vectors."""
    name, spec = _split("--set", item)
    if not spec:
        raise ValueError(f"--set {name}: no value given")
    if "," in spec:
        tokens = [t.strip() for t in spec.split(",")]
        if any(not t for t in tokens):
            raise ValueError(f"--set {name}={spec}: empty value in the list (position {tokens.index('') + 1})")
        nums = [_number(t) for t in tokens]
        if any(v is None for v in nums):
            raise ValueError(f"--set {name}={spec}: expected comma-separated numbers (angles theta,phi or a vector)")
        return name, tuple(float(v) for v in nums)
    v = _number(spec)
    if v is None:
        return name, spec
    if name in _INTS and not math.isinf(v) and float(v).is_integer():
        return name, int(v)
    return name, v


def _check_infinite_rows_options(args, axes, fixed):
    """``--tol`` and ``--ny-inf-method`` set the ``N_y = inf`` k_y integral: refused (naming the option)
    when no point of the sweep has ``N_y = inf`` (they would be silently ignored)."""
    if args.tol is not None and not (math.isfinite(args.tol) and args.tol > 0):
        raise ValueError(f"--tol must be a positive finite tolerance (units of t), got {args.tol!r}")
    given = [opt for opt, v in (("--tol", args.tol), ("--ny-inf-method", args.ny_inf_method)) if v is not None]
    if not given:
        return
    rows = axes["N_y"] if "N_y" in axes else [fixed.get("N_y", PAPER_PARAMETERS["N_y"])]

    def infinite(v):
        try:
            return math.isinf(float(v))
        except (TypeError, ValueError):
            return False

    if not any(infinite(v) for v in rows):
        shown = ", ".join(str(v) for v in rows[:4]) + (", ..." if len(rows) > 4 else "")
        raise ValueError(
            f"option {given[0]} applies only to points with N_y = inf (the k_y integral); every point of this sweep has "
            f"a finite N_y ({shown}): drop it, or sweep or --set N_y=inf"
        )


def _estimated_wall(args, axes, observables, fixed, executor, kwargs):
    """Estimated wall time of the sweep in seconds (for ``--progress auto``), or None if it cannot be
    estimated here (:func:`orbsym.workflows.sweeps.estimate_sweep`; a bad input is then reported by
    the sweep itself, with its own message)."""
    from ..workflows.sweeps import estimate_sweep

    try:
        est = estimate_sweep(args.geometry, axes, observables, params=fixed, workers=args.workers or 1, ny_inf_method=args.ny_inf_method or "auto",
                             engine=args.engine, executor=executor, **kwargs)
    except Exception:  # noqa: BLE001 - the sweep reports it
        return None
    return est.seconds / max(1, args.workers or 1)


def run(args):
    from ..io import check_output_file
    from ..workflows.sweeps import SweepError, sweep
    from ..workflows.sweeps.inputs import split_list
    from .figure import check_scheduler

    check_scheduler(args.scheduler)
    if args.out is not None:
        check_output_file(args.out, "--out", "F.nc")  # before any point runs

    axes = {}
    for item in args.param:
        name, values = parse_axis(item)
        if name in axes:
            raise ValueError(f"--param {name} is given twice")
        axes[name] = values
    if not axes:
        raise ValueError("no swept parameter; give at least one --param NAME=START:STOP:NUM or NAME=V1,V2,...")
    fixed = {}
    for item in args.set:
        name, value = parse_fixed(item)
        if name in fixed:
            raise ValueError(f"--set {name} is given twice ({fixed[name]!r} and {value!r}); give each fixed parameter once")
        fixed[name] = value
    observables = [o for item in (args.observable or ["free_energy"]) for o in split_list("--observable", item, example="free_energy")]
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be an integer >= 1, got {args.chunk_size}")
    _check_infinite_rows_options(args, axes, fixed)
    kwargs = {}
    if args.tol is not None:
        kwargs["tol"] = args.tol
    client = None
    executor = None if args.executor == "auto" else args.executor
    if args.scheduler is not None:
        from ..execution import connect_scheduler

        client, executor, n = connect_scheduler(args.scheduler)  # fails within a few seconds if unreachable
        if args.workers is None:
            args.workers = max(1, n)
    from ..execution import progress_output

    seconds = _estimated_wall(args, axes, observables, fixed, executor, kwargs)
    try:
        with progress_output(args.progress, seconds) as show:  # a bar on a terminal, one-line updates off it
            ds = sweep(
                args.geometry,
                axes,
                observables,
                params=fixed,
                executor=executor,
                workers=args.workers,
                chunk_size=args.chunk_size,
                out=args.out,
                restart=args.restart,
                progress=show,
                ny_inf_method=args.ny_inf_method or "auto",
                engine=args.engine,
                **kwargs,
            )
    except SweepError as exc:
        print(f"orbsym: {exc}", file=sys.stderr)
        if args.out:
            print(f"orbsym: successful points are kept in {args.out}.parts/; re-run the same command to retry the failed ones", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
    if args.out:
        dims = " x ".join(f"{n}={len(v)}" for n, v in axes.items())
        print(f"wrote {args.out}: {dims}; variables {', '.join(ds.data_vars)}")
    else:
        print(ds)
    return 0
