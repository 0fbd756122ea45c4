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
Output ``--out FILE.nc`` (NetCDF, every variable, each with ``units`` and a ``description``:
:func:`orbsym.dynamics.records.annotate_units`) or ``FILE.csv`` (long format: density, bond
current, total torque, relaxation and the residuals; the units of each in ``#`` lines), written
atomically.  The summary on stdout names the system and the defaults it used (evolve's own: 9 x 40,
``N_FM = 2``, ``T = 0.05``, smaller than the paper's 25 x 800, ``N_FM = 1``, ``T = 0.01`` of
``compute`` and ``response``), the continuity check, the pumped current through every layer boundary
(``current_x`` of that bond averaged by :func:`orbsym.dynamics.pumped_current` over the last whole
precession periods after the switch-on, :func:`cycle_window`; also the ``pumped_current`` attribute of
the file) with its bond, boundary and units, and, with ``--tau-r``, one line on the particle number
(:func:`drift_line`: the bath at fixed ``mu`` and ``T`` exchanges particles, ``dN/dt = -(N -
N_eq(t))/tau_r``).  Progress ``--progress {auto,on,off}`` (:func:`orbsym.execution.progress_output`;
``--quiet`` is a deprecated spelling of ``off``): a bar over the stored times on a terminal, a line
every 30 s in a log file.  A run whose continuity
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

import json
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
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc (NetCDF, units and a description on every variable) or FILE.csv atomically")
    from ..execution import add_progress_argument

    add_progress_argument(parser, deprecated=("--quiet",))  # --quiet: deprecated alias of --progress off
    for action in parser._actions:  # system defaults: None = not given (named in the summary), the value in --help
        if action.dest in SYSTEM_DEFAULTS:
            SYSTEM_DEFAULTS[action.dest] = action.default
            if action.help:
                action.help = action.help.replace("%(default)s", str(action.default))
            action.default = None
    parser.epilog = DEFAULTS_NOTE


#: The system options whose default is named in the summary when not given (dest -> flag); the
#: values are read from the parser by :func:`add_arguments`.
SYSTEM_DEFAULTS = {"N_x": None, "N_y": None, "N_FM": None, "T": None, "mu": None, "m": None, "t": None}
_SYSTEM_FLAGS = {"N_x": "--N-x", "N_y": "--N-y", "N_FM": "--N-FM", "T": "--T", "mu": "--mu", "m": "--m", "t": "--t"}
#: ``--help`` epilog: the defaults of evolve differ from those of compute and response.
DEFAULTS_NOTE = (
    "System defaults of evolve: N_x = 9 columns, N_y = 40 rows, N_FM = 2, T = 0.05 (mu = -0.2, |m| = 1, t = 1). They are smaller "
    "than those of compute and response (25 x 800, N_FM = 1, T = 0.01; the paper's) because every time step costs a full "
    "N_k (N_x dim)^3 propagation; the summary names the defaults a run used."
)


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
    defaulted = {}
    for k, v in SYSTEM_DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
            defaulted[_SYSTEM_FLAGS[k]] = v
    for k, v in OPTION_DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
            if k in ("m_L", "m_R") and args.geometry == "trilayer" or k == "m_FM" and args.geometry == "bilayer" or k == "gamma" and basis == "orbital":
                defaulted[_OPTION[k]] = v
    args.basis = basis
    args._defaulted = defaulted
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
    est = None
    if min(args.N_x, args.N_y, args.N_FM) >= 1:  # else the geometry reports the bad size
        on = error_estimate if error_estimate != "auto" else (args.method != "exact" or args.tau_r is not None)
        est = dyn.check_size(
            args.N_x, args.N_y, dim, drv, args.steps + 1, float(args.steps) * per, method=args.method, error_estimate=on,
            workers=args.workers, h_max=interval / per, **({} if args.N_z is None else {"N_z": args.N_z, "z_symmetric": True}),
        )
    from ..execution import progress_output

    system = _system(args)
    times = np.linspace(0.0, args.t_max, args.steps + 1)
    seconds = None if est is None else est.seconds / max(1, min(args.workers, os.cpu_count() or 1))
    with progress_output(args.progress, seconds) as show:  # a bar on a terminal, one-line updates in a log file
        ds = dyn.evolve(system, drv, times, T=args.T, dt=args.dt, method=args.method, check=args.check, progress=bool(show), error_estimate=error_estimate, workers=args.workers)
    head = summary_numbers(ds, drv)
    ds.attrs["pumped_current"] = json.dumps(head["pumped"])
    if target is not None:
        if target.suffix == ".nc":
            dyn.save(ds, target)
        else:
            film_vars = ("current_z",) if args.N_z is not None else ()
            dyn.write_csv(ds, target, ("density", "current_x", *film_vars, "torque_total", "relaxation", "residual_exact", "residual_fd"))
    print(_summary(ds, target, head, args._defaulted))
    return 0


def _interfaces(ds):
    """``[(bond, label)]`` of the column boundaries between layers (``"NM|FM"``: bond ``x`` joins the
    columns ``x`` and ``x + 1`` of different layers), from the Dataset's system record."""
    cols = json.loads(ds.attrs["system"]).get("columns") or []
    return [(x, f"{a}|{b}") for x, (a, b) in enumerate(zip(cols, cols[1:])) if a != b]


def cycle_window(ds, drives):
    """``(t_start, t_stop, what)``: the stored-time window of the summary's averaged current.

    With precessions of a common period ``P = 2 pi/|omega|``: the last whole periods after the
    switch-on, ``t_stop = t_max`` and ``t_start`` the stored time nearest ``t_max - n P`` (``n`` the
    number of whole periods after the switch-on; the window is exact when ``P`` is a multiple of the
    stored interval).  Otherwise (no precession, several periods, or less than one period after the
    switch-on): the whole run after the switch-on, said so in ``what``.
    """
    import numpy as np

    from ..dynamics import Precession

    t = ds["time"].values
    prec = [d for d in drives if isinstance(d, Precession) and d.omega != 0]
    start = max([d.switch_on for d in prec], default=0.0)
    i0 = int(np.argmin(np.abs(t - start)))
    periods = {round(2 * math.pi / abs(d.omega), 12) for d in prec}
    if len(periods) == 1:
        P = periods.pop()
        n = int(math.floor((t[-1] - t[i0]) / P * (1 + 1e-12)))
        if n >= 1:
            j = int(np.argmin(np.abs(t - (t[-1] - n * P))))
            return float(t[j]), float(t[-1]), f"cycle average over the last {n} period(s) 2 pi/omega = {P:.4g}"
        return float(t[i0]), float(t[-1]), f"time average (the run holds less than one period 2 pi/omega = {P:.4g} after the switch-on: not a cycle average)"
    if len(periods) > 1:
        return float(t[i0]), float(t[-1]), "time average (precessions of different periods: no common cycle)"
    return float(t[0]), float(t[-1]), "time average over the run (no periodic drive)"


def summary_numbers(ds, drives):
    """The headline numbers of an evolve run (what the summary prints).

    ``pumped``: per interface bond (the boundaries between layers), the current ``current_x``
    averaged over :func:`cycle_window` by :func:`orbsym.dynamics.pumped_current` (trapezoid rule on
    the stored times), with its bond, boundary label, window and units.  ``drift``: with relaxation,
    the particle number at the start and the end, the time integral of the charge relaxation source
    (the whole change of N: the unitary part conserves it) and the instantaneous equilibrium's N.
    """
    import numpy as np

    from ..dynamics import pumped_current

    a, b, what = cycle_window(ds, drives)
    J = "sigma" if json.loads(ds.attrs["system"]).get("basis") == "spin" and float(ds.attrs.get("spin_unit_scale", 1.0)) == 1.0 else "hbar"
    per = "per transverse cell" if "N_z" in ds.attrs else "per row"
    bonds = _interfaces(ds) or [(int(ds["bond"].values[len(ds["bond"]) // 2]), "middle")]
    pumped = {
        "window": [a, b], "average": what, "units": f"{J} t/hbar {per}, positive toward larger x", "kind": "current_x (slice-boundary total)",
        "bonds": [{"bond": x, "boundary": label, "columns": [x, x + 1], "current": pumped_current(ds, x, window=(a, b))} for x, label in bonds],
    }
    from ..dynamics import Precession

    pumped["pumping"] = any(isinstance(d, Precession) and d.omega != 0 for d in drives)  # a precessing magnet pumps
    out = {"pumped": pumped, "drift": None}
    if math.isfinite(float(ds.attrs.get("tau_r", math.inf))):
        t = ds["time"].values
        N = ds["particle_number"].values
        src = ds["relaxation"].sel(polarization="charge").sum("column").values  # dN/dt = -(N - N_eq)/tau_r
        n_eq = ds["density_eq"].sel(polarization="charge").sum("column").values
        out["drift"] = {"N_start": float(N[0]), "N_end": float(N[-1]), "change": float(N[-1] - N[0]),
                        "relaxation_integral": float(np.trapezoid(src, t)), "N_eq_start": float(n_eq[0]), "N_eq_end": float(n_eq[-1]),
                        "N_eq_min": float(np.min(n_eq)), "N_eq_max": float(np.max(n_eq)), "tau_r": float(ds.attrs["tau_r"]), "per": per}
    return out


def drift_line(d):
    """The one line explaining the particle number under relaxation (``d``: ``summary_numbers()["drift"]``).

    Relaxation toward the instantaneous grand-canonical equilibrium ``f(h(t))`` (fixed ``mu`` and
    ``T``) exchanges particles with the bath: ``dN/dt = -(N - N_eq(t))/tau_r`` with
    ``N_eq(t) = Tr f(h(t))``, while the unitary part conserves ``N``.  ``N`` therefore follows
    ``N_eq(t)`` with the lag ``tau_r``: it drifts wherever ``h(t)``'s spectrum (hence ``N_eq``)
    changes with the drive, and stays put where it does not.
    """
    head = (f"note: particles {d['per']} {d['N_start']:.10g} -> {d['N_end']:.10g} ({d['change']:+.3g}) with relaxation: the bath relaxes rho toward "
            f"f(h(t)) at fixed mu and T and exchanges particles, dN/dt = -(N - N_eq(t))/tau_r (the unitary part conserves N; the integrated "
            f"charge relaxation source is {d['relaxation_integral']:+.3g}); ")
    if d["N_eq_max"] - d["N_eq_min"] <= 1e-9 * max(1.0, abs(d["N_eq_max"])):
        return head + f"here N_eq = Tr f(h(t)) stays {d['N_eq_start']:.10g} (the drive leaves the spectrum unchanged), so N is conserved"
    return head + (f"here N_eq = Tr f(h(t)) moves over {d['N_eq_min']:.10g}..{d['N_eq_max']:.10g} with the drive (ending at {d['N_eq_end']:.10g}) "
                   f"and N follows it with the lag tau_r = {d['tau_r']:g}")


def _summary(ds, target, head, defaulted):
    film = "N_z" in ds.attrs
    cell = "per transverse cell" if film else "per row"
    grid = f"N_k = {ds.attrs['N_k']}" + (f" x {ds.attrs['N_k_z']} k_z sectors (film, N_z = {ds.attrs['N_z']})" if film else "")
    s = json.loads(ds.attrs["system"])
    sizes = ", ".join(f"{k} = {s[k]}" for k in ("N_x", "N_y", "N_FM") if s.get(k) is not None)
    lines = [
        f"evolve: {s.get('geometry')} ({s.get('basis')} basis), {sizes}, T = {ds.attrs['T']}, mu = {s.get('mu')}; "
        f"{len(ds.time)} stored times to t = {float(ds.time[-1]):g} (1/t), propagator {ds.attrs['propagator']} (order {ds.attrs['propagator_order']}), "
        f"{grid}, interface = {ds.attrs['interface']}, {ds.attrs['workers']} process(es)",
        "  defaults used: " + (", ".join(f"{k} {v}" for k, v in defaulted.items()) or "none")
        + " (evolve's defaults: 9 x 40, N_FM 2, T 0.05; compute/response: 25 x 800, N_FM 1, T 0.01)",
        f"continuity: {ds.attrs['continuity_check']}; max |exact residual| = {ds.attrs['max_residual_exact']:.2e}, "
        f"max |FD residual|/tolerance = {ds.attrs.get('max_residual_fd_over_tolerance', float('nan')):.3f}",
    ]
    p = head["pumped"]
    a, b = p["window"]
    for r in p["bonds"]:
        vals = ", ".join(f"J_{k} {v: .4e}" for k, v in r["current"].items())
        lines.append(f"{'pumped current' if p['pumping'] else 'time-averaged current'} through the {r['boundary']} boundary (bond {r['bond']}, columns {r['columns'][0]}|{r['columns'][1]}), "
                     f"{p['average']}, t = {a:g}..{b:g}: {vals} ({p['units']})")
    lines.append(f"energy {cell}: {float(ds.energy[0]):.10g} -> {float(ds.energy[-1]):.10g}; particles {cell} {float(ds.particle_number[0]):.10g} -> {float(ds.particle_number[-1]):.10g}")
    if head["drift"] is not None:
        lines.append(drift_line(head["drift"]))
    if target is not None:
        lines.append(f"wrote {target}")
    return "\n".join(lines)
