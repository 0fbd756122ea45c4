"""``orbsym evolve``: real-time dynamics of trilayers and bilayers with the continuity balance in time.

Examples::

    orbsym evolve bilayer --basis spin --N-x 8 --N-y 16 --precess 0.1,0.3 --switch-on 5 --tau-r 2 \\
        --t-max 80 --steps 400 --out pump.nc
    orbsym evolve trilayer --N-x 9 --N-y 20 --quench gamma=0.3 --t-max 10 --steps 100 --out quench.csv
    orbsym evolve trilayer --field 0.05 --pulse 3,1 --t-max 10 --steps 200 --method magnus4

Drives (combine freely): ``--precess OMEGA,THETA[,LAYER]`` (FM precession about its initial m,
``LAYER`` = ``FM``, ``FM_L``, ``FM_R``; smooth switch-on ``--switch-on``), ``--quench NAME=VALUE[@TIME]``
(repeatable; any system parameter, e.g. ``gamma=0.3``, ``m_FM=x``, ``mu=-0.5@2``), ``--field E``
(uniform field along y; ``--pulse T0,SIGMA`` for a Gaussian pulse), ``--tau-r TAU`` (relaxation).
Stored times ``linspace(0, t_max, steps + 1)`` (units of 1/t); ``--dt`` splits each interval.
Output ``--out FILE.nc`` (NetCDF, every variable) or ``FILE.csv`` (long format: density, bond
current, total torque, relaxation and the residuals), written atomically.  A run whose continuity
balance fails exits with status 1 (``--check warn``: write the file and warn).  Conventions:
:mod:`orbsym.conventions`; definitions of every output in :mod:`orbsym.dynamics`.
"""

from __future__ import annotations

import math
import os

from .compute import _check_out, _choice, add_system_arguments

#: ``N_k n^2 steps`` from which ``--workers`` defaults to all cores (a run of a few seconds on one).
LARGE_RUN = 5e7

NAME = "evolve"
HELP = "real-time dynamics (precession, quench, field pulse, relaxation) with the continuity balance checked in time"


def add_arguments(parser):
    parser.add_argument("geometry", type=_choice("geometry", ("trilayer", "bilayer")), metavar="{trilayer,bilayer}", help="trilayer (FM/metal/FM) or bilayer (metal/FM)")
    add_system_arguments(parser, N_x=9, N_y=40, N_FM=2, m_L="z", m_R="z", T=0.05, T_help="temperature of the initial state and the bath (>= 0)")
    g = parser.add_argument_group("drives")
    g.add_argument("--precess", action="append", default=[], metavar="OMEGA,THETA[,LAYER]", help="FM precession: angular frequency, cone angle (rad), optional FM layer label")
    g.add_argument("--switch-on", dest="switch_on", type=float, default=0.0, help="smooth switch-on time of the precession cone (default 0)")
    g.add_argument("--quench", action="append", default=[], metavar="NAME=VALUE[@TIME]", help="change a system parameter at TIME (a stored time; default 0)")
    g.add_argument("--field", type=float, default=None, metavar="E", help="uniform electric field along y (Peierls phase, A_y = -E t)")
    g.add_argument("--pulse", default=None, metavar="T0,SIGMA", help="make --field a Gaussian pulse centred at T0 with width SIGMA")
    g.add_argument("--tau-r", dest="tau_r", type=float, default=None, help="relaxation time toward the instantaneous equilibrium")
    tg = parser.add_argument_group("time grid and propagator")
    tg.add_argument("--t-max", dest="t_max", type=float, required=True, help="last stored time (units of 1/t)")
    tg.add_argument("--steps", type=int, default=200, help="stored intervals: times = linspace(0, t_max, steps + 1) (default 200)")
    tg.add_argument("--dt", type=float, default=None, help="largest propagation step (default: one step per stored interval)")
    tg.add_argument("--method", type=_choice("propagator method", ("exact", "magnus4")), metavar="{exact,magnus4}", default="exact", help="exponential midpoint (order 2) or 4th-order Magnus")
    tg.add_argument("--check", type=_choice("check mode", ("raise", "warn")), metavar="{raise,warn}", default="raise", help="failed continuity balance: error (default) or warning")
    tg.add_argument(
        "--error-estimate",
        dest="error_estimate",
        type=_choice("error estimate", ("auto", "on", "off")),
        metavar="{auto,on,off}",
        default="auto",
        help="step-doubling defect estimate: auto (default: on for magnus4 and relaxation, where the trajectory is not piecewise exact), on, off",
    )
    tg.add_argument("--no-error-estimate", dest="error_estimate", action="store_const", const="off", help="same as --error-estimate off")
    tg.add_argument("--workers", type=int, default=None, help="processes sharing the momenta (default: all cores for large runs, N_k n^2 steps >= 5e7; one for small ones)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc (NetCDF) or FILE.csv atomically")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _floats(option, text, n):
    parts = [p.strip() for p in str(text).split(",")]
    try:
        vals = [float(p) for p in parts[:n]]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected {n} comma-separated numbers") from None
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{option} {text!r}: expected {n} finite comma-separated numbers")
    return vals, parts[n:]


def _quench_value(name, text):
    from .compute import _magnetization_arg

    if name.startswith("m_"):
        return _magnetization_arg(f"--quench {name}", text)
    try:
        return float(text)
    except ValueError:
        return text


def drives(args):
    """The drive objects of the command line."""
    from ..dynamics import ElectricField, Precession, Quench, Relaxation

    out = []
    for item in args.precess:
        (omega, theta), rest = _floats("--precess", item, 2)
        if len(rest) > 1:
            raise ValueError(f"--precess {item!r}: expected OMEGA,THETA[,LAYER]")
        out.append(Precession(omega, theta, columns=rest[0] if rest else None, switch_on=args.switch_on))
    for item in args.quench:
        if "=" not in item:
            raise ValueError(f"--quench {item!r}: expected NAME=VALUE[@TIME], e.g. --quench gamma=0.3")
        name, _, value = item.partition("=")
        value, _, when = value.partition("@")
        try:
            time = float(when) if when else 0.0
        except ValueError:
            raise ValueError(f"--quench {item!r}: the time after '@' must be a number, got {when!r}") from None
        out.append(Quench(time=time, **{name.strip(): _quench_value(name.strip(), value.strip())}))
    if args.pulse is not None and args.field is None:
        raise ValueError("--pulse needs --field E (the peak field)")
    if args.field is not None:
        pulse = None
        if args.pulse is not None:
            pulse, _ = _floats("--pulse", args.pulse, 2)
        out.append(ElectricField(args.field, pulse=pulse))
    if args.tau_r is not None:
        out.append(Relaxation(args.tau_r))
    if not out:
        raise ValueError("no drive given: use --precess, --quench, --field and/or --tau-r")
    return out


def _system(args):
    from .compute import _system as build

    args.metal_model = None
    return build(args)


def run(args):
    import numpy as np

    from .. import dynamics as dyn

    if not math.isfinite(args.t_max) or args.t_max <= 0:
        raise ValueError(f"--t-max must be a finite time > 0 (units of 1/t), got {args.t_max!r}")
    if args.steps < 4:
        raise ValueError(f"--steps must be an integer >= 4 (the 4th-order finite-difference check needs 5 stored times), got {args.steps}")
    if args.dt is not None and (not math.isfinite(args.dt) or args.dt <= 0):
        raise ValueError(f"--dt must be a finite time step > 0, got {args.dt!r}")
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    target = _check_out(args.out)
    if target is not None and target.suffix not in (".nc", ".csv"):
        raise ValueError(f"--out {str(target)!r}: the file name must end in .nc (NetCDF) or .csv")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    drv = drives(args)
    system = _system(args)
    times = np.linspace(0.0, args.t_max, args.steps + 1)
    if args.workers is None:
        lat = system.lattice
        work = (lat.N_y // 2 + 1) * (lat.N_x * lat.dim) ** 2 * args.steps
        args.workers = max(1, os.cpu_count() or 1) if work >= LARGE_RUN else 1
    ds = dyn.evolve(system, drv, times, T=args.T, dt=args.dt, method=args.method, check=args.check, progress=not args.quiet, error_estimate={"auto": "auto", "on": True, "off": False}[args.error_estimate], workers=args.workers)
    if target is not None:
        if target.suffix == ".nc":
            dyn.save(ds, target)
        else:
            dyn.write_csv(ds, target, ("density", "current_x", "torque_total", "relaxation", "residual_exact", "residual_fd"))
    print(_summary(ds, target))
    return 0


def _summary(ds, target):
    lines = [
        f"evolve: {len(ds.time)} stored times to t = {float(ds.time[-1]):g} (1/t), propagator {ds.attrs['propagator']} (order {ds.attrs['propagator_order']}), "
        f"N_k = {ds.attrs['N_k']}, interface = {ds.attrs['interface']}, {ds.attrs['workers']} process(es)",
        f"continuity: {ds.attrs['continuity_check']}; max |exact residual| = {ds.attrs['max_residual_exact']:.2e}, "
        f"max |FD residual|/tolerance = {ds.attrs.get('max_residual_fd_over_tolerance', float('nan')):.3f}",
    ]
    last = ds.isel(time=-1)
    for p in ("x", "y", "z"):
        j = " ".join(f"{v: .3e}" for v in last["current_x"].sel(polarization=p).values)
        lines.append(f"bond current x [{p}] at t_max: {j}")
    lines.append(f"energy per row: {float(ds.energy[0]):.10g} -> {float(ds.energy[-1]):.10g}; particles per row {float(ds.particle_number[0]):.10g} -> {float(ds.particle_number[-1]):.10g}")
    if target is not None:
        lines.append(f"wrote {target}")
    return "\n".join(lines)
