"""``orbsym evolve``: real-time dynamics of trilayers and bilayers with the continuity balance in time.

Examples::

    orbsym evolve bilayer --basis spin --N-x 8 --N-y 16 --precess 0.1,0.3 --switch-on 5 --tau-r 2 \\
        --t-max 80 --steps 400 --out pump.nc
    orbsym evolve trilayer --N-x 9 --N-y 20 --quench gamma=0.3 --t-max 10 --steps 100 --out quench.csv
    orbsym evolve trilayer --field 0.05 --pulse 3,1 --t-max 10 --steps 200 --method magnus4
    orbsym evolve trilayer --N-x 6 --N-y 8 --N-z 8 --N-FM 1 --precess 0.2,0.3,FM_L --t-max 10 --steps 100 --out film.nc

``--N-z N`` makes a film (periodic in y and z, cubic models; :mod:`orbsym.dynamics` runs its k_z
sectors): every per-site output is per transverse cell, the Dataset has ``current_z`` and
``torque_bond_z`` too, and the estimate is the number of k_z sectors times the 2D one.

Drives (combine freely): ``--precess OMEGA,THETA[,LAYER]`` (FM precession about its initial m,
``LAYER`` = ``FM``, ``FM_L``, ``FM_R``; smooth switch-on ``--switch-on``), ``--quench NAME=VALUE[@TIME]``
(repeatable; any system parameter, e.g. ``gamma=0.3``, ``m_FM=x``, ``mu=-0.5@2``), ``--field E``
(uniform field along y, or along z on a film with ``--field-along z``; ``--pulse T0,SIGMA`` for a
Gaussian pulse), ``--tau-r TAU`` (relaxation).
Stored times ``linspace(0, t_max, steps + 1)`` (units of 1/t); ``--dt`` splits each interval.
Output ``--out FILE.nc`` (NetCDF, every variable) or ``FILE.csv`` (long format: density, bond
current, total torque, relaxation and the residuals), written atomically.  A run whose continuity
balance fails exits with status 1 (``--check warn``: write the file and warn).  Conventions:
:mod:`orbsym.conventions`; definitions of every output in :mod:`orbsym.dynamics`.

Refused in one line (exit status 2) before anything is built: an option that does not apply to the
geometry, basis, metal or drives (``--gamma``/``--tp`` outside the orbital basis, ``--w`` outside
``--metal am``, ``--spin-unit`` outside the spin basis, ``--m-L``/``--m-R`` for a bilayer, ``--m-FM``
for a trilayer, ``--switch-on`` without ``--precess``, ``--dt`` not below the stored interval), a
``--quench`` name the system does not have (with suggestions) or that does not apply, empty list
entries, values that are not finite, an ``--out`` that cannot be written, and a run whose estimated
memory or CPU time (:func:`orbsym.numeric.budget.evolve_estimate`: steps, stored times, N_x, N_y,
the propagation path) exceeds the limits (``ORBSYM_MAX_MEMORY``, ``ORBSYM_MAX_SECONDS``).
"""

from __future__ import annotations

import math
import os

from ..io import check_output_file
from .compute import _choice, add_system_arguments, check_metal_options

#: ``N_k n^2 steps`` from which ``--workers`` defaults to all cores (a run of a few seconds on one).
LARGE_RUN = 5e7

NAME = "evolve"
HELP = "real-time dynamics (precession, quench, field pulse, relaxation) with the continuity balance checked in time"


def add_arguments(parser):
    parser.add_argument("geometry", type=_choice("geometry", ("trilayer", "bilayer")), metavar="{trilayer,bilayer}", help="trilayer (FM/metal/FM) or bilayer (metal/FM)")
    add_system_arguments(parser, N_x=9, N_y=40, N_FM=2, m_L="z", m_R="z", T=0.05, T_help="temperature of the initial state and the bath (>= 0)")
    parser.add_argument("--N-z", dest="N_z", type=int, default=None, metavar="N", help="a film: N cells periodic along z, cubic models (default: none, the 2D system)")
    _not_given_sentinels(parser)
    g = parser.add_argument_group("drives")
    g.add_argument("--precess", action="append", default=[], metavar="OMEGA,THETA[,LAYER]", help="FM precession: angular frequency, cone angle (rad), optional FM layer label (FM_L, FM_R of a trilayer; FM of a bilayer)")
    g.add_argument("--switch-on", dest="switch_on", type=float, default=None, help="smooth switch-on time of the precession cone, with --precess only (default 0)")
    g.add_argument("--quench", action="append", default=[], metavar="NAME=VALUE[@TIME]", help="change a system parameter at TIME (a stored time; default 0)")
    g.add_argument("--field", type=float, default=None, metavar="E", help="uniform electric field along y (Peierls phase, A_y = -E t)")
    g.add_argument("--pulse", default=None, metavar="T0,SIGMA", help="make --field a Gaussian pulse centred at T0 with width SIGMA")
    g.add_argument("--field-along", dest="field_along", type=_choice("field direction", ("y", "z")), metavar="{y,z}", default=None, help="direction of --field: y (default) or z (films, --N-z, only)")
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


#: Defaults of the options whose applicability is checked: argparse keeps None ("not given") and
#: :func:`check_applicable` fills these in after the check.
OPTION_DEFAULTS = {"metal": "nm", "m_L": "z", "m_R": "z", "m_FM": "z", "gamma": 1.0, "spin_unit": "sigma", "switch_on": 0.0}
#: Option name of each checked destination.
_OPTION = {"m_L": "--m-L", "m_R": "--m-R", "m_FM": "--m-FM", "spin_unit": "--spin-unit", "switch_on": "--switch-on", "tp": "--tp", "w": "--w", "gamma": "--gamma", "metal": "--metal", "basis": "--basis"}
#: FM layer labels of ``--precess OMEGA,THETA,LAYER`` per geometry.
FM_LABELS = {"trilayer": ("FM_L", "FM_R"), "bilayer": ("FM",)}


def _not_given_sentinels(parser):
    """Make the checked system options default to None (= not given), keeping their documented default
    in ``--help``; :func:`check_applicable` refuses the given ones that do not apply, then fills in."""
    for action in parser._actions:
        if action.dest in OPTION_DEFAULTS and action.default is not None:
            OPTION_DEFAULTS[action.dest] = action.default
            if action.help:
                action.help = action.help.replace("%(default)s", str(action.default))
            action.default = None


def check_applicable(args):
    """Raise ValueError for a given option that does not apply to the geometry, basis, metal or drives
    (naming it and where it applies); then fill in the defaults of :data:`OPTION_DEFAULTS`."""
    given = {k for k in _OPTION if getattr(args, k, None) is not None}
    basis = check_metal_options(given, args.geometry, args.metal, args.basis)
    if "switch_on" in given and not args.precess:
        raise ValueError("option --switch-on applies only with --precess (the switch-on of the precession cone)")
    for k, v in OPTION_DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    args.basis = basis
    return given


def _floats(option, text, n):
    parts = [p.strip() for p in str(text).split(",")]
    empty = [i + 1 for i, p in enumerate(parts) if not p]
    if empty:
        raise ValueError(f"{option} {text!r}: entry {empty[0]} is empty; expected {n} comma-separated numbers")
    try:
        vals = [float(p) for p in parts[:n]]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected {n} comma-separated numbers") from None
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{option} {text!r}: expected {n} finite comma-separated numbers")
    return vals, parts[n:]


def _quench_value(item, name, text):
    """The value of ``--quench NAME=VALUE``: a magnetization, the interface rule, or a finite number."""
    from .compute import _magnetization_arg

    if not text:
        raise ValueError(f"--quench {item!r}: the value after '=' is empty; expected NAME=VALUE[@TIME], e.g. --quench gamma=0.3")
    if name.startswith("m_"):
        return _magnetization_arg(f"--quench {name}", text)
    if name == "interface":
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--quench {item!r}: the value of {name} must be a number, got {text!r}") from None


def _quench_items(args):
    """``{time: {name: value}}`` of the ``--quench`` options (names checked against the system)."""
    from ..dynamics import check_builtin_quench

    by_time = {}
    for item in args.quench:
        if "=" not in item:
            raise ValueError(f"--quench {item!r}: expected NAME=VALUE[@TIME], e.g. --quench gamma=0.3")
        name, _, value = item.partition("=")
        value, at, when = value.partition("@")
        name, value, when = name.strip(), value.strip(), when.strip()
        if not name:
            raise ValueError(f"--quench {item!r}: the name before '=' is empty; expected NAME=VALUE[@TIME], e.g. --quench gamma=0.3")
        check_builtin_quench({name: None}, args.geometry, args.basis, args.metal, prefix="--quench", check_m=False)
        if at and not when:
            raise ValueError(f"--quench {item!r}: the time after '@' is empty; give a stored time, e.g. --quench {name}={value}@2")
        try:
            time = float(when) if when else 0.0
        except ValueError:
            raise ValueError(f"--quench {item!r}: the time after '@' must be a number, got {when!r}") from None
        params = by_time.setdefault(time, {})
        if name in params:
            raise ValueError(f"--quench {item!r}: {name} is quenched twice at t = {time:g}")
        params[name] = _quench_value(item, name, value)
    for time, params in by_time.items():
        check_builtin_quench(params, args.geometry, args.basis, args.metal, prefix="--quench")
    return by_time


def drives(args):
    """The drive objects of the command line."""
    from ..dynamics import ElectricField, Precession, Quench, Relaxation

    out = []
    for item in args.precess:
        (omega, theta), rest = _floats("--precess", item, 2)
        if len(rest) > 1:
            raise ValueError(f"--precess {item!r}: expected OMEGA,THETA[,LAYER]")
        if rest and rest[0] not in FM_LABELS[args.geometry]:
            from ..numeric.checks import unknown_name

            raise ValueError(f"{unknown_name('FM layer label', rest[0], FM_LABELS[args.geometry])} (the FM layers of the {args.geometry}; in --precess {item!r})")
        out.append(Precession(omega, theta, columns=rest[0] if rest else None, switch_on=args.switch_on))
    for time, params in sorted(_quench_items(args).items()):
        out.append(Quench(time=time, **params))
    if args.pulse is not None and args.field is None:
        raise ValueError("--pulse needs --field E (the peak field)")
    if args.field_along is not None and args.field is None:
        raise ValueError("--field-along needs --field E (the field whose direction it sets)")
    if args.field_along == "z" and args.N_z is None:
        raise ValueError("--field-along z needs a film (--N-z N): a 2D system has no z direction")
    if args.field is not None:
        pulse = None
        if args.pulse is not None:
            pulse, _ = _floats("--pulse", args.pulse, 2)
        out.append(ElectricField(args.field, pulse=pulse, direction=args.field_along or "y"))
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
    from ..numeric.checks import ENERGY_LIMIT, real_number

    check_applicable(args)
    if not math.isfinite(args.t_max) or args.t_max <= 0:
        raise ValueError(f"--t-max must be a finite time > 0 (units of 1/t), got {args.t_max!r}")
    if args.steps < 4:
        raise ValueError(f"--steps must be an integer >= 4 (the 4th-order finite-difference check needs 5 stored times), got {args.steps}")
    if args.dt is not None and (not math.isfinite(args.dt) or args.dt <= 0):
        raise ValueError(f"--dt must be a finite time step > 0, got {args.dt!r}")
    if args.dt is not None and math.ceil(args.t_max / args.steps / args.dt * (1 - 1e-12)) <= 1:
        raise ValueError(
            f"--dt {args.dt:g} is not smaller than the stored interval --t-max / --steps = {args.t_max / args.steps:g}: it would change "
            "nothing (one step per stored interval is the default); omit --dt or give a smaller step"
        )
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    for name, v in (("--T", args.T), ("--mu", args.mu), ("--t", args.t), ("--m", args.m), ("--gamma", args.gamma), ("--tp", args.tp), ("--w", args.w), ("--field", args.field)):
        if v is not None:
            real_number(name, v, bound=ENERGY_LIMIT)
    real_number("--m", args.m, minimum=0.0, bound=ENERGY_LIMIT)
    from ..systems import magnetization
    from .compute import _magnetization_arg

    for k in ("m_L", "m_R") if args.geometry == "trilayer" else ("m_FM",):
        magnetization(_magnetization_arg(_OPTION[k], getattr(args, k)), args.m)
    target = None if args.out is None else check_output_file(args.out, "--out", "run.nc")
    if target is not None and target.suffix not in (".nc", ".csv"):
        raise ValueError(f"--out {str(target)!r}: the file name must end in .nc (NetCDF) or .csv")
    if args.N_z is not None and args.N_z < 1:
        raise ValueError(f"--N-z must be an integer >= 1 (cells of the film, periodic in z), got {args.N_z}; omit it for the 2D system")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    if args.method == "magnus4" and args.tau_r is not None:
        raise ValueError(f"--tau-r {args.tau_r:g} (relaxation) needs method 'exact' (--method exact: the relaxation step is exact for h frozen over a step); got --method magnus4")
    drv = drives(args)
    # the work, estimated before anything is built (the lattice of a huge N_x alone takes long)
    dim = 2 if args.basis == "spin" else 3
    interval = args.t_max / args.steps
    per = 1 if args.dt is None else max(1, math.ceil(interval / args.dt * (1 - 1e-12)))
    n_sectors = 1 if args.N_z is None else args.N_z // 2 + 1  # the built-in films are k_z <-> -k_z symmetric
    if args.workers is None:
        work = (args.N_y // 2 + 1) * (args.N_x * dim) ** 2 * args.steps * n_sectors
        args.workers = max(1, os.cpu_count() or 1) if work >= LARGE_RUN else 1
    error_estimate = {"auto": "auto", "on": True, "off": False}[args.error_estimate]
    if min(args.N_x, args.N_y, args.N_FM) >= 1:  # else the geometry reports the bad size
        est = error_estimate if error_estimate != "auto" else (args.method != "exact" or args.tau_r is not None)
        dyn.check_size(
            args.N_x, args.N_y, dim, drv, args.steps + 1, float(args.steps) * per, method=args.method, error_estimate=est,
            workers=args.workers, h_max=interval / per, **({} if args.N_z is None else {"N_z": args.N_z, "z_symmetric": True}),
        )
    system = _system(args)
    times = np.linspace(0.0, args.t_max, args.steps + 1)
    ds = dyn.evolve(system, drv, times, T=args.T, dt=args.dt, method=args.method, check=args.check, progress=not args.quiet, error_estimate=error_estimate, workers=args.workers)
    if target is not None:
        if target.suffix == ".nc":
            dyn.save(ds, target)
        else:
            film_vars = ("current_z",) if args.N_z is not None else ()
            dyn.write_csv(ds, target, ("density", "current_x", *film_vars, "torque_total", "relaxation", "residual_exact", "residual_fd"))
    print(_summary(ds, target))
    return 0


def _summary(ds, target):
    film = "N_z" in ds.attrs
    cell = "per transverse cell" if film else "per row"
    grid = f"N_k = {ds.attrs['N_k']}" + (f" x {ds.attrs['N_k_z']} k_z sectors (film, N_z = {ds.attrs['N_z']})" if film else "")
    lines = [
        f"evolve: {len(ds.time)} stored times to t = {float(ds.time[-1]):g} (1/t), propagator {ds.attrs['propagator']} (order {ds.attrs['propagator_order']}), "
        f"{grid}, interface = {ds.attrs['interface']}, {ds.attrs['workers']} process(es)",
        f"continuity: {ds.attrs['continuity_check']}; max |exact residual| = {ds.attrs['max_residual_exact']:.2e}, "
        f"max |FD residual|/tolerance = {ds.attrs.get('max_residual_fd_over_tolerance', float('nan')):.3f}",
    ]
    last = ds.isel(time=-1)
    for p in ("x", "y", "z"):
        j = " ".join(f"{v: .3e}" for v in last["current_x"].sel(polarization=p).values)
        lines.append(f"bond current x [{p}] at t_max: {j}")
    lines.append(f"energy {cell}: {float(ds.energy[0]):.10g} -> {float(ds.energy[-1]):.10g}; particles {cell} {float(ds.particle_number[0]):.10g} -> {float(ds.particle_number[-1]):.10g}")
    if target is not None:
        lines.append(f"wrote {target}")
    return "\n".join(lines)
