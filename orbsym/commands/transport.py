"""``orbsym transport``: NEGF steady state of a metal strip between leads (optionally an FM column).

Examples
--------
``orbsym transport --n-metal 10 --gamma 0.3 --N-y 200`` (linear response, per unit bias);
``orbsym transport --fm y --bias 0.05 --T 0.01 --out out.nc`` (finite bias, NetCDF file);
``orbsym transport --fm y --bias 0.05 --width open`` (finite-width strip of 16 rows, per-site maps;
about 12 s on one core);
``orbsym transport --angle 45 --fm z`` (current at 45 degrees to the crystal axes,
:func:`orbsym.transport.rotated_model`; ``L`` stays along the crystal axes);
``orbsym transport --N-z 16 --N-y 16 --fm y`` (a film: periodic in y and z, cubic t2g models, leads of
film columns; every quantity per transverse cell, solved as ``N_z // 2 + 1`` k_z sectors);
``orbsym transport --metal-model nnn.py --fm z --T 0.02`` (the metal from a model file, as
``orbsym compute --metal-model``).

Output
------
A summary on stdout (always): the system (with the defaults used), the regime, the lead model, the
conductance in ``e^2/h`` per row (linear response) or the Landauer current (finite bias), the
particle and angular-momentum currents at the contacts, the exchange torque on the FM column, the
continuity balance and which current definition is meant.  ``--json`` prints the whole result as one
JSON document instead; ``--out FILE`` writes ``FILE.nc`` (NetCDF: ``units`` and ``description`` on
every variable), ``FILE.csv`` (one row per column and polarization; scalars in ``#`` header lines)
or ``FILE.json``, atomically (:mod:`orbsym.io`).  The JSON keys follow the API:
``conductance.total`` (:meth:`orbsym.transport.TransportResult.conductance`), ``landauer_current``;
the top-level ``mu`` is the chemical potential of the model (the metal's ``mu``, in ``h``), and
``mu_L``/``mu_R`` are the leads' chemical potentials on the same scale.  ``--output`` is refused
with a pointer to ``--out`` (every orbsym command writes with ``--out``).

Progress (``--progress {auto,on,off}``, the policy of ``orbsym response``,
:func:`orbsym.execution.progress_policy`): a bar with the elapsed time on a terminal, one
line at the start (with the estimate), every 30 s and at the end otherwise (``auto``: only for runs
estimated above 2 s); off: none.

Disorder (open strips)
----------------------
``orbsym transport --width open --disorder anderson:1.0 --realizations 16 --seed 0 --out ens.nc`` averages
the steady state over realizations of a disordered strip (:func:`orbsym.transport.transport` with
``disorder=``: the region's columns x ``--N-y`` open rows as a finite site sample between one clean lead
cell on each side and the clean leads; realization ``r`` has seed ``S + r``).  ``--disorder
KIND:STRENGTH[,...]`` and ``--disorder-file FILE.npz`` (keys ``potential_site`` of shape ``(N_x, N_y[, 3[,
3]])`` and ``vacancies`` ``(N_x, N_y, 1)``; ``N_x`` the region's columns) are those of ``orbsym sites``
(:func:`orbsym.commands.sites.parse_disorder`, :func:`~orbsym.commands.sites.load_disorder_file`);
``--workers N`` shares the realizations among N local processes; ``--restart`` discards the partial results
of an earlier run (``FILE.nc.parts/``) instead of resuming.  The summary gives the mean and standard
error of the conductance (whole strip and per row, linear response) or of the Landauer current, the J
currents at the contacts, the summed layer torques, the worst per-site / per-layer balance residual over
the realizations and the engine; ``--out FILE.nc`` writes the ensemble Dataset (every realization, means,
standard errors, ``units`` and ``description`` on every variable, the disorder record and seeds;
resumable: ``FILE.nc.parts/``).  Refused: disorder with ``--width periodic`` (a periodic transverse
direction with disorder needs a supercell), with ``--N-z``, with ``--angle 45`` (leads of two columns),
with ``--split``, ``--energy-tol`` or ``--json``, ``--out`` other than ``.nc``; ``--realizations``,
``--seed``, ``--workers``, ``--restart`` without disorder (``--seed``/``--realizations`` with ``--disorder-file`` alone,
``--restart`` without ``--out``);
an ensemble estimated out of reach (realizations x the estimate of one solve, in the message).

Every option is checked before anything is built or solved: values (finite reals, energies within
``+-1e100``), names ("did you mean"), options that do not apply to the chosen regime (``--split`` at
``--bias 0``, ``--n-energy`` where the energy rule has no nodes to choose, ``--energy-tol`` outside the
linear response at ``T > 0``, ``--gamma`` with ``--metal-model``), the output file, and the estimated
memory and CPU time of the solve (:func:`orbsym.transport.transport_resources`; refused above the
limits of :mod:`orbsym.numeric.budget`, with the estimate in the message).  The default ``--N-y`` is
200 rows for ``--width periodic`` (k-points, cheap) and :data:`OPEN_N_Y` for ``--width open`` (the
strip is solved with blocks of ``N_y x 3`` states and a correlation band of the whole strip).
"""

from __future__ import annotations

import json
import math
import sys

__all__ = ["NAME", "HELP", "add_arguments", "run", "check_options", "OPEN_N_Y", "PERIODIC_N_Y", "DEFAULTS", "FORMATS"]

NAME = "transport"
HELP = "driven steady state between semi-infinite leads (NEGF): conductance, OAM density, currents, torques, balance"

#: Default rows: periodic (k-points) and open strip (width).
PERIODIC_N_Y = 200
OPEN_N_Y = 16
#: Axis names accepted by ``--fm``.
FM_AXES = tuple(sign + a for sign in ("", "+", "-") for a in "xyz")
#: Notice on stderr when the estimated CPU time of a run exceeds this (seconds).
NOTICE_SECONDS = 60.0
#: Output formats of ``--out``.
FORMATS = (".nc", ".csv", ".json")
#: Values of the options not given.
DEFAULTS = {"n_metal": 10, "gamma": 0.3, "mu": -0.2, "T": 0.01, "width": "periodic", "angle": "0", "solver": "auto", "progress": "auto"}
#: Flags of the options whose default is reported in the summary.
_FLAGS = {"n_metal": "--n-metal", "gamma": "--gamma", "mu": "--mu", "T": "--T", "N_y": "--N-y", "width": "--width", "angle": "--angle", "solver": "--solver"}
#: The balance ``max |-div j + tau|`` above which the run fails (exit status 1).
BALANCE_TOL = 1e-8


def add_arguments(parser):
    """Register the options of ``orbsym transport`` (None defaults: "not given", see :func:`check_options`)."""
    import argparse

    from ..execution import PROGRESS_HELP

    D = DEFAULTS
    parser.add_argument("--n-metal", type=int, default=None, help=f"metal columns on each side of the FM (or in total without --fm; default {D['n_metal']})")
    parser.add_argument("--gamma", type=float, default=None, help=f"NM hopping anisotropy gamma of the built-in Eq. 3 metal (default {D['gamma']}; not with --metal-model)")
    parser.add_argument("--mu", type=float, default=None, help=f"model chemical potential (band filling; default {D['mu']}); the leads' Fermi level in equilibrium")
    parser.add_argument("--fm", default=None, help="magnetization of one FM column in the middle: axis (x, -y, ...) (default: none)")
    parser.add_argument("--N-y", dest="N_y", type=int, default=None, help=f"rows: periodic (k-points; default {PERIODIC_N_Y}) or the width of an open strip (default {OPEN_N_Y})")
    parser.add_argument("--N-z", dest="N_z", type=int, default=None, metavar="N", help="a film: N cells periodic along z, cubic models, leads of film columns (default: none, the 2D system; not with --width open or --angle 45)")
    parser.add_argument("--T", type=float, default=None, help=f"temperature (units of t; default {D['T']})")
    parser.add_argument("--bias", type=float, default=None, help="bias V = mu_L - mu_R (default: linear response per unit bias)")
    parser.add_argument("--split", type=float, default=None, help="fraction of the bias on the left lead (default 0.5; not at --bias 0)")
    parser.add_argument("--n-energy", type=int, default=None, help="energy nodes (default 16 linear at T > 0, 200 bias window; not in linear response at T = 0 nor at --bias 0)")
    parser.add_argument("--width", default=None, help="periodic (rows periodic, k_y conserved; default) or open (finite-width strip, per-site output)")
    parser.add_argument("--energy-tol", dest="energy_tol", type=float, default=None, help="linear response at T > 0 only: double the energy nodes until the conductance's error estimate is below this (relative)")
    parser.add_argument("--angle", default=None, help="current direction to the crystal axes: 0 (along X) or 45 (along (1, 1); default 0)")
    parser.add_argument("--solver", default=None, help="scattering-region solver: rgf (recursive Green's function, linear in N_x), dense (reference) or auto (default; recorded as region_solver)")
    parser.add_argument("--metal-model", dest="metal_model", default=None, metavar="FILE.py",
                        help="the metal defined as `model` (and its `params`) in FILE.py, e.g. from `orbsym hoppings`, as in `orbsym compute`; "
                        "the FM column is isotropic with the model's generators. FILE.py is executed as Python (once): use only files you trust")
    parser.add_argument("--json", action="store_true", help="print the whole result as one JSON document instead of the summary")
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc (NetCDF), FILE.csv or FILE.json atomically (checked before computing); the summary is still printed")
    parser.add_argument("--output", dest="_old_output", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--progress", default=None, metavar="{auto,on,off}", help=PROGRESS_HELP)
    parser.add_argument("--disorder", default=None, metavar="KIND:STRENGTH[,...]",
                        help="disorder ensemble of an open strip (--width open): comma-separated kinds of `orbsym sites --disorder`, e.g. anderson:1.0,vacancies:0.02")
    parser.add_argument("--disorder-file", dest="disorder_file", default=None, metavar="FILE.npz",
                        help="explicit disorder arrays (--width open): potential_site (N_x, N_y[, n[, n]]) added to the on-site matrices, vacancies (N_x, N_y, 1) bool")
    parser.add_argument("--realizations", type=int, default=None, metavar="N", help="--disorder: number of realizations N >= 1 (default 1)")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="--disorder: first seed S >= 0; realizations use S, S+1, ... (default 0)")
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="disorder ensemble: local processes sharing the realizations (default 1)")
    parser.add_argument("--restart", action="store_true", help="disorder ensemble with --out: discard the partial results of an earlier run (FILE.nc.parts/) instead of resuming")


def check_options(args):
    """Check every option before any work; fill in the defaults.  Raises ValueError naming the option.

    Returns the checked output path (or None).  ``args._defaulted`` holds the options not given
    (their defaults are named in the summary).
    """
    from ..io import check_output_file
    from ..numeric.checks import ENERGY_LIMIT, check_name, integer_at_least, real_number
    from ..transport import ANGLES, WIDTHS
    from ..execution import PROGRESS_MODES

    if getattr(args, "_old_output", None) is not None:
        raise ValueError(f"option --output was renamed --out (as in every orbsym command): use --out {args._old_output} (.nc, .csv or .json)")
    given = {k for k in vars(args) if not k.startswith("_") and getattr(args, k) is not None and getattr(args, k) is not False}
    if args.width is not None:
        check_name("--width", args.width, WIDTHS)
    if args.angle is not None:
        check_name("--angle", args.angle, ANGLES)
    if args.solver is not None:
        check_name("--solver", args.solver, ("auto", "rgf", "dense"))
    if args.fm is not None:
        check_name("--fm axis", args.fm, FM_AXES)
    if getattr(args, "progress", None) is not None:
        check_name("--progress", args.progress, PROGRESS_MODES)
    _check_disorder_options(args, given)
    if getattr(args, "metal_model", None) and "gamma" in given:
        raise ValueError("option --gamma does not apply with --metal-model (the model file defines the metal and its parameters: set them in its `params` dict)")
    for k, v in DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    if args.N_y is None:
        args.N_y = OPEN_N_Y if args.width == "open" else PERIODIC_N_Y
    args._defaulted = [k for k in _FLAGS if k not in given and not (k == "gamma" and getattr(args, "metal_model", None))]
    args.n_metal = integer_at_least("--n-metal", args.n_metal, 1, " (metal columns)")
    args.N_y = integer_at_least("--N-y", args.N_y, 1, " (rows)")
    if getattr(args, "N_z", None) is not None:
        args.N_z = integer_at_least("--N-z", args.N_z, 1, " (cells of a film, periodic in z)")
        if args.width == "open":
            raise ValueError("option --width open (a strip of finite width) is not defined for films yet; with --N-z use --width periodic (k_y and k_z conserved)")
        if args.angle != "0":
            raise ValueError(f"option --angle {args.angle} (crystal rotated in the x-y plane) is for 2D systems only so far; drop --N-z or use --angle 0")
    if args.n_energy is not None:
        args.n_energy = integer_at_least("--n-energy", args.n_energy, 1, " (energy nodes)")
    args.gamma = real_number("--gamma", args.gamma, bound=ENERGY_LIMIT)
    args.mu = real_number("--mu", args.mu, bound=ENERGY_LIMIT)
    args.T = real_number("--T", args.T, minimum=0.0, bound=ENERGY_LIMIT)
    if args.bias is not None:
        args.bias = real_number("--bias", args.bias, bound=ENERGY_LIMIT)
    if args.split is not None:
        args.split = real_number("--split", args.split, minimum=0.0)
        if args.split > 1:
            raise ValueError(f"--split (fraction of the bias on the left lead) must be in [0, 1], got {args.split!r}")
    if args.energy_tol is not None:
        args.energy_tol = real_number("--energy-tol", args.energy_tol, minimum=0.0, strict=True)
    # options that do not apply to the chosen regime
    linear = args.bias is None
    if "split" in given and not linear and args.bias == 0:
        raise ValueError("option --split does not apply at --bias 0 (equilibrium: no bias to divide); it applies in linear response (no --bias) and at a finite --bias")
    if "n_energy" in given:
        if linear and args.T == 0:
            raise ValueError("option --n-energy does not apply to the linear response at --T 0 (one energy, E = mu); it applies at --T > 0 or with a finite --bias")
        if not linear and args.bias == 0:
            raise ValueError("option --n-energy does not apply at --bias 0 (the bias window is empty); it applies at a finite --bias or in linear response at --T > 0")
    if "energy_tol" in given and not (linear and args.T > 0):
        where = "with --bias" if not linear else "at --T 0 (one energy node)"
        raise ValueError(f"option --energy-tol does not apply {where}; it applies only to the linear response (no --bias) at --T > 0")
    if args.out is None:
        return None
    try:
        p = check_output_file(args.out, "--out", "transport.nc")
    except ValueError as exc:  # name the user's path, not only the directory found wrong
        if repr(str(args.out)) in str(exc):
            raise
        raise ValueError(f"--out {str(args.out)!r}: {exc}") from None
    if p.suffix not in FORMATS:
        raise ValueError(f"--out {str(args.out)!r}: unknown format {p.suffix or '(no suffix)'!r}; allowed: {', '.join(FORMATS)}")
    if _disordered(args) and p.suffix != ".nc":
        raise ValueError(f"--out {str(args.out)!r}: a disorder ensemble is written as NetCDF (every realization, means and standard errors): use FILE.nc")
    return p


def _disordered(args):
    return getattr(args, "disorder", None) is not None or getattr(args, "disorder_file", None) is not None


def _check_disorder_options(args, given):
    """Disorder options against each other and the geometry (before anything is built)."""
    if not _disordered(args):
        for flag, key in (("--realizations", "realizations"), ("--seed", "seed"), ("--workers", "workers"), ("--restart", "restart")):
            if key in given:
                raise ValueError(f"{flag} applies only to a disorder ensemble: add --disorder KIND:STRENGTH (with --width open), or drop {flag}")
        return
    flag = "--disorder" if args.disorder is not None else "--disorder-file"
    if args.width != "open":
        raise ValueError(
            f"{flag} needs --width open: with periodic rows (k_y points) a random configuration breaks the translation symmetry in y, "
            "which would need a periodic supercell of the whole width (not supported here); add --width open (a finite strip, disordered site by site)")
    if getattr(args, "N_z", None) is not None:
        raise ValueError(f"{flag} does not apply to films (--N-z): their k_z grid needs translation symmetry; drop --N-z and use --width open")
    if args.angle is not None and args.angle != "0":
        raise ValueError(f"{flag} does not apply with --angle {args.angle} (leads of two columns); use --angle 0")
    for other, key in (("--split", "split"), ("--energy-tol", "energy_tol"), ("--json", "json")):
        if key in given:
            why = {"split": "the ensemble divides the bias symmetrically, mu_L,R = mu +- V/2",
                   "energy_tol": "the ensemble uses fixed energy nodes: give --n-energy",
                   "json": "the ensemble writes every realization, the means and standard errors with --out FILE.nc"}[key]
            raise ValueError(f"{other} does not apply to a disorder ensemble ({why}): drop {other}")
    if args.disorder is None:
        for other, key in (("--seed", "seed"), ("--realizations", "realizations")):
            if key in given:
                raise ValueError(f"{other} applies to random disorder: add --disorder KIND:STRENGTH (--disorder-file alone is one explicit configuration)")
    if "restart" in given and args.out is None:
        raise ValueError("--restart applies to a disorder ensemble written with --out (it discards FILE.nc.parts/): add --out FILE.nc or drop --restart")
    if args.realizations is not None and args.realizations < 1:
        raise ValueError(f"--realizations {args.realizations}: the number of realizations must be >= 1")
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed {args.seed}: seeds are integers >= 0")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers {args.workers}: the number of worker processes must be >= 1")
    if args.disorder is not None:
        from .sites import parse_disorder

        args._terms = parse_disorder(args.disorder)
    else:
        args._terms = []


def _estimate(args, user=None):
    """Resources of this run from the options alone (before the system is built).

    With ``--metal-model`` the state count and the spectral bound come from a three-column copy of
    the system (``N_y = 2``; built in milliseconds), :func:`orbsym.numeric.greens.spectral_bound`.
    """
    from ..transport import transport_resources

    n_cols = args.n_metal * (2 if args.fm is not None else 1) + (1 if args.fm is not None else 0)
    period = 2 if (args.angle == "45" and args.width == "open" and n_cols % 2 == 0) else 1
    film = getattr(args, "N_z", None)
    if user is None:
        dim = 3
        # spectral radius bound of the metal (|t| = 1, |gamma|, mu) and the FM column (|m| = 1)
        radius = 4.0 * max(1.0, abs(args.gamma)) + 2.0 + abs(args.mu)
        radius += 2.0 * max(1.0, abs(args.gamma)) if film else 0.0
    else:
        from ..numeric.greens import spectral_bound

        short = _system(args, user, n_metal=1, N_y=2, N_z=None if film is None else 2)
        dim = short.lattice.dim
        radius = spectral_bound(short.lattice) + abs(args.mu) + (4.0 * radius_z(short) if film else 0.0)
    return transport_resources(
        n_cols, args.N_y, dim, args.width, period, args.T, args.bias, 0.0, 0.5 if args.split is None else args.split, args.n_energy,
        args.energy_tol, True, args.solver, radius=radius,
        symmetric=args.angle == "0", mirror_leads=args.angle == "0",
        hint="reduce --n-energy, --N-y (k-points, or the width of --width open) or --n-metal" + (" or --N-z" if film else ""),
        N_z=film, z_symmetric=True,  # the cubic built-in films: sector(-k_z) = sector(k_z)
    )


def radius_z(system):
    """Largest spectral norm of the z hoppings of a film (0 for a 2D system): the k_z shift of the bound."""
    import numpy as np

    hz = [np.asarray(v) for b, v in system.lattice.hoppings.items() if len(b) == 3 and b[2] != 0]
    return max((float(np.linalg.norm(h, ord=2, axis=(-2, -1)).max()) for h in hz if h.size), default=0.0)


def _user_metal_checked(args):
    """``(model, params)`` of ``--metal-model`` (every name of `params` a parameter of the model, real
    values; ``t`` and ``mu`` filled from 1 and ``--mu`` if the file leaves them open; a missing one refused)."""
    from ..numeric.checks import ENERGY_LIMIT, real_number, unknown_name
    from .compute import _user_metal, check_model_dimension

    model, params = _user_metal(args.metal_model)
    check_model_dimension(args.metal_model, model, getattr(args, "N_z", None))
    names = sorted(p.name for p in model.parameters)
    for k, v in params.items():
        if k not in names:
            raise ValueError(f"{unknown_name(f'parameter of the model {model.name!r}', k, names)} (in `params` of {args.metal_model!r})")
        real_number(f"parameter {k} in `params` of {args.metal_model!r}", v, bound=ENERGY_LIMIT)
    if "mu" in params and "mu" not in args._defaulted:
        raise ValueError(f"option --mu conflicts with 'mu' set in `params` of {args.metal_model!r}; set it in one place")
    if "mu" in params:
        args.mu = float(params["mu"])  # the model's chemical potential: the file's (the FM column's too)
        args._defaulted = [k for k in args._defaulted if k != "mu"]
    if "mu" in names:
        params.setdefault("mu", args.mu)
    if "t" in names:
        params.setdefault("t", 1.0)  # the energy unit
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"the metal model {model.name!r} needs values for {missing}: set them in a `params` dict in {args.metal_model!r} (a missing parameter is never set to zero)")
    return model, params


def _system(args, user=None, n_metal=None, N_y=None, N_z="args"):
    """The heterostructure NM(n) [| FM(1) | NM(n)] of the options (``user``: ``(model, params)``)."""
    from ..systems import _builtin_model, heterostructure, layer
    from ..transport import rotated_model

    n = args.n_metal if n_metal is None else n_metal
    N_z = getattr(args, "N_z", None) if N_z == "args" else N_z
    kinds = ["nm"] * n + (["fm"] + ["nm"] * n if args.fm is not None else [])
    if user is None:
        metal, fm, metal_params = "nm", "fm", {"gamma": args.gamma}
    else:
        from ..symbolic.models import ferromagnet

        metal, metal_params = user[0], dict(user[1])
        fm = ferromagnet(user[0].generators, dimension=3 if N_z is not None else 2)
    label = "NM" if user is None else user[0].name
    if args.angle == "0":
        layers = [layer(metal, n, label=label, **metal_params)]
        if args.fm is not None:
            layers += [layer(fm, 1, m=args.fm, label="FM", t=1.0), layer(metal, n, label=label, **metal_params)]
    else:  # one column per u = X + Y, even and odd columns alternating
        layers = []
        for u, kind in enumerate(kinds):
            base = (_builtin_model(kind, "orbital") if user is None else (fm if kind == "fm" else metal))
            model = rotated_model(base, "45", "even" if u % 2 == 0 else "odd")
            layers.append(layer(model, 1, m=args.fm, label="FM", t=1.0) if kind == "fm" else layer(model, 1, label=label, **metal_params))
    return heterostructure(layers, N_y=args.N_y if N_y is None else N_y, mu=args.mu, N_z=N_z)


def run(args):
    """Solve; print the summary (or the JSON with ``--json``) and write ``--out``; returns 0 (1 if the balance check fails)."""
    import time

    from ..transport import attach_leads, transport
    from ..execution import progress_output

    out_path = check_options(args)
    user = _user_metal_checked(args) if getattr(args, "metal_model", None) else None
    est = _estimate(args, user)
    if _disordered(args):
        return _run_disorder(args, user, est, out_path)
    if est.seconds > NOTICE_SECONDS:
        print(f"orbsym: transport: this run needs {est.describe()}", file=sys.stderr)
    system = _system(args, user)
    # strips at 45 degrees: leads repeat the last two columns (rectangular leads) when N_x is even
    n_cols = system.lattice.N_x
    period = 2 if (args.angle == "45" and args.width == "open" and n_cols % 2 == 0) else None
    leaded = attach_leads(system, width=args.width, period=period)
    t0 = time.perf_counter()
    with progress_output(args.progress, est.seconds) as show:
        with _Ticker(show, f"orbsym transport (estimate {_seconds(est.seconds)})"):
            res = transport(leaded, T=args.T, bias=args.bias, split=args.split, n_energy=args.n_energy, energy_tol=args.energy_tol, solver=args.solver)
    seconds = time.perf_counter() - t0
    record = result_record(res, args, user)
    record["wall_seconds"] = seconds
    if out_path is not None:
        _write(record, res, out_path)
    if args.json:
        print(json.dumps(record, allow_nan=False))
    else:
        print(summary(record, out_path))
    bal = record["continuity"]["max_abs_balance"]
    if not bal < BALANCE_TOL:
        print(f"orbsym: error: steady-state balance violated: max |-div j + tau| = {bal:.3g}", file=sys.stderr)
        return 1
    return 0


def _run_disorder(args, user, est, out_path):
    """``--disorder`` / ``--disorder-file``: the ensemble of :func:`orbsym.transport.transport` (``disorder=``) and its summary."""
    import time

    import numpy as np

    from ..numeric.budget import check_resources
    from ..transport import _disordered_transport, attach_leads, strip_site_sample
    from .sites import load_disorder_file

    n = 1 if args.realizations is None else args.realizations
    workers = args.workers or 1
    # the whole ensemble, before anything is built: realizations x one solve (ResourceError with the estimate)
    check_resources(est.times(n, "realizations"), what=f"this disorder ensemble of {n} realization(s)", workers=workers,
                    hint="use fewer --realizations, more --workers, a smaller --N-y or --n-metal")
    system = _system(args, user)
    leaded = attach_leads(system, width="open")
    terms = list(args._terms)
    if args.disorder_file is not None:
        terms += load_disorder_file(args.disorder_file, strip_site_sample(leaded)[0])
    seed = 0 if args.seed is None else args.seed
    seeds = list(range(seed, seed + n))
    progress = {"on": True, "off": False}.get(args.progress)
    t0 = time.perf_counter()
    options = {k: getattr(args, k) for k in ("n_metal", "gamma", "mu", "fm", "N_y", "T", "bias", "n_energy", "width", "solver", "metal_model")}
    attrs = {"command": "orbsym transport", "command_disorder": args.disorder or "", "disorder_file": str(args.disorder_file or ""),
             "options": json.dumps(options, default=repr), "model_mu": float(args.mu),
             "energy_axis": "mu (attribute) is the Fermi level on the axis of h, whose zero is the model's chemical potential model_mu"}
    res = _disordered_transport(leaded, args.T, args.bias, 0.0, args.n_energy, args.solver, terms, seeds, workers, None if out_path is None else str(out_path),
                                progress, attrs=attrs, restart=bool(getattr(args, "restart", False)))
    seconds = time.perf_counter() - t0
    ds = res.dataset
    J = _basis_unit(system)
    lin = "per unit bias" if args.bias is None else f"at V = {args.bias:g}"
    layout = f"NM({args.n_metal})" + (f" | FM({args.fm}) | NM({args.n_metal})" if args.fm is not None else "")
    metal = f"metal {user[0].name!r} from {args.metal_model}" if user is not None else f"Eq. 3 metal, gamma = {args.gamma:g}"
    kinds = args.disorder or ""
    if args.disorder_file is not None:
        kinds = (kinds + " + " if kinds else "") + f"explicit arrays of {str(args.disorder_file)!r}"
    seeds_text = f", seeds {seeds[0]}..{seeds[-1]}" if args.disorder is not None else ""

    def pm(var, scale=1.0):
        m = res.mean(var) * scale
        e = res.stderr(var) * scale
        return f"{m:.6g} +- {e:.2g}" if n > 1 else f"{m:.6g}"

    lines = [
        f"transport with disorder: {layout} ({metal}, mu = {args.mu:g}), N_y = {args.N_y} rows, open strip (hard walls), T = {args.T:g}; "
        + ("linear response (per unit bias)" if args.bias is None else f"finite bias V = {args.bias:g} (mu_L,R = mu +- V/2)"),
        f"  disorder {kinds}, {n} realization{'s' if n != 1 else ''}{seeds_text}; leads clean (the end columns continued); engine {res.engine}",
    ]
    if args.bias is None:
        c = res.conductance()
        lines.append(f"  conductance <G> = {pm('conductance')} e^2/h (whole strip; {c['per_row_mean']:.6g} e^2/h per row)"
                     + (" (+- standard error)" if n > 1 else " (1 realization: no standard error)"))
    else:
        lines.append(f"  Landauer particle current <I> = {pm('landauer_current')} t/hbar (whole strip) at V = {args.bias:g}")
    bc = res.mean("boundary_current")  # (4, N_x + 1): contacts included
    tau = res.mean("layer_torque")
    pols = ("x", "y", "z")
    lines.append(f"  <J currents> {lin} ({J} t/hbar, summed over the width): from the left lead "
                 + ", ".join(f"{p} {bc[i + 1, 0]: .4g}" for i, p in enumerate(pols)) + "; into the right lead "
                 + ", ".join(f"{p} {bc[i + 1, -1]: .4g}" for i, p in enumerate(pols)))
    lines.append(f"  <torque> summed over the layers {lin} ({J} t/hbar): " + ", ".join(f"{p} {float(np.sum(tau[i + 1])): .4g}" for i, p in enumerate(pols))
                 + " (= current in - current out: the layer balance j(x-1|x) - j(x|x+1) + tau(x) = 0 in every realization)")
    lines.append(f"  balance: worst per-site / per-layer residual over the realizations {res.max_balance_residual:.2e}; solved in {seconds:.3g} s")
    if out_path is not None:
        lines.append(f"  wrote {out_path}")
    print("\n".join(lines))
    return 0


def _seconds(s):
    return f"~{s:.2g} s" if s < 100 else f"~{s / 60:.2g} min"


#: One solve under :func:`orbsym.execution.progress_output`: :class:`orbsym.execution.ElapsedBar`.
from ..execution import ElapsedBar as _Ticker  # noqa: E402


# =============================================================================== the record
def _units(film, linear, basis_unit):
    """The units statement of the output (no conductance at finite bias: it is not computed there)."""
    cell = "per site, i.e. per transverse cell a^2 of one column" if film else "per site"
    per = "per transverse cell" if film else "per row"
    text = (f"e = hbar = a = 1; energies in t; currents are particle currents (electric current = -e x), positive toward +x; "
            f"densities and torques {cell}, currents per bond; J (L, or the model's generators) in units of {basis_unit}")
    if linear:
        text += f"; linear response: every value per unit bias V (in t/e); conductance in e^2/h {per}; Landauer current in t/hbar {per}"
    else:
        text += f"; finite bias: values at the bias V; Landauer current in t/hbar {per}"
    return text


def _basis_unit(system):
    """Unit of the angular momentum J of ``system``: ``hbar`` (orbital L, a model's generators, S = sigma/2) or ``sigma``."""
    s = system.describe()
    if s.get("basis") == "spin" and s.get("spin_unit", "sigma") == "sigma":
        return "sigma"
    return "hbar"


def result_record(res, args, user=None):
    """The JSON-ready record of one run: the API's :meth:`~orbsym.transport.TransportResult.to_dict` with
    the API's names (``conductance.total``, ``landauer_current``), the model's ``mu`` at the top level and
    the leads' ``mu_L``/``mu_R`` on the same scale, the options (``options``, with the defaults used),
    and a units statement that names only what is output."""
    from ..numeric.observables import current_definition
    d = res.to_dict()
    film = res.leaded.is_film
    linear = res.linear
    per = "per transverse cell" if film else "per row"
    out = {"command": "orbsym transport"}
    out["system"] = d.pop("system")
    # energies of the API are on the axis of h, whose zero is the model's mu: back to the model's scale
    offset = d.pop("mu")
    out["mu"] = args.mu + offset
    out["energy_axis"] = "mu, mu_L, mu_R are chemical potentials of the model (its mu in h); the solver's energies E are on the axis of h, E = 0 at mu"
    for key in ("mu_L", "mu_R"):
        if key in d:
            d[key] = args.mu + d[key]
    for key in ("T", "regime", "bias", "split", "eta_leads"):
        out[key] = d.pop(key)
    out["units"] = _units(film, linear, _basis_unit(res.leaded.system))
    d.pop("units", None)
    lc_key = "landauer_current_per_cell" if film else "landauer_current_per_row"
    out["landauer_current"] = {"value": d.pop(lc_key), "units": f"t/hbar {per}" + (" per unit bias V" if linear else ""),
                               "definition": "(1/2pi) sum_k int dE T(k, E) (f_L - f_R): particles per unit time toward +x"}
    if "conductance" in d:
        c = res.conductance()
        out["conductance"] = {"total": c["total"], "units": f"e^2/h {per}", "definition": "Landauer, -df/dE-averaged transmission"}
        d.pop("conductance")
    out["current_definitions"] = {"bond": current_definition("bond", "x"), "bond_y": current_definition("bond", "y"),
                                  "forward": current_definition("forward", "x"), "backward": current_definition("backward", "x"),
                                  "eq7": current_definition("eq7", "x")}
    if film:
        out["current_definitions"]["bond_z"] = current_definition("bond", "z")
    out["leads"] = out["system"].get("leads")
    out["options"] = {k: (getattr(args, k) if not isinstance(getattr(args, k), float) or math.isfinite(getattr(args, k)) else None)
                      for k in ("n_metal", "gamma", "mu", "fm", "N_y", "N_z", "T", "bias", "split", "n_energy", "width", "energy_tol", "angle", "solver", "metal_model")}
    if user is not None:
        out["options"]["gamma"] = None
        out["metal_model"] = {"file": str(args.metal_model), "name": user[0].name, "parameters": {k: float(v) for k, v in sorted(user[1].items())}}
    out["defaults_used"] = {_FLAGS[k]: getattr(args, k) for k in args._defaulted}
    out["J_unit"] = _basis_unit(res.leaded.system)
    out.update(d)
    return _clean(out)


def _clean(x):
    """JSON-ready copy: arrays to nested lists (shape kept), NumPy scalars to Python, NaN/inf to None."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def _fm_column(record):
    cols = record["system"].get("columns", [])
    return [i for i, c in enumerate(cols) if str(c).startswith("FM")]


def summary(record, target=None):
    """The few lines printed on stdout: what was computed, with units and the defaults used."""
    s = record["system"]
    o = record["options"]
    film = o.get("N_z") is not None
    per = "per transverse cell" if film else "per row"
    layout = f"NM({o['n_metal']})" + (f" | FM({o['fm']}) | NM({o['n_metal']})" if o["fm"] is not None else "")
    metal = (f"metal {record['metal_model']['name']!r} from {record['metal_model']['file']}" if "metal_model" in record
             else f"Eq. 3 metal, gamma = {o['gamma']:g}")
    rows = f"N_y = {o['N_y']} " + ("periodic rows (k_y conserved)" if o["width"] == "periodic" else "rows, open strip (hard walls)")
    if film:
        rows += f", N_z = {o['N_z']} (film, k_z sectors)"
    defaults = ", ".join(f"{k} {v}" for k, v in record["defaults_used"].items())
    lines = [
        f"transport: {layout} ({metal}, mu = {record['mu']:g}), {rows}, T = {record['T']:g}, angle {o['angle']}; "
        f"{record['regime']}" + (f", V = {record['bias']:g} (mu_L = {record['mu_L']:g}, mu_R = {record['mu_R']:g})" if record["bias"] is not None else ""),
        f"  defaults used: {defaults or 'none'}",
        f"  leads: {s['leads']['left']['label']} | {s['leads']['right']['label']}, {s['leads']['geometry']}; region solver {record.get('region_solver')}",
    ]
    lin = "per unit bias" if record["bias"] is None else f"at V = {record['bias']:g}"
    if "conductance" in record:
        lines.append(f"  conductance G = {record['conductance']['total']:.6g} e^2/h {per} (Landauer); particle current {record['landauer_current']['value']:.6g} t/hbar {per} per unit bias (G/2pi)")
    else:
        lines.append(f"  Landauer particle current {record['landauer_current']['value']:.6g} t/hbar {per} at V = {record['bias']:g} (no conductance at finite bias: omit --bias for G)")
    cur = record["currents"]["bond"]
    J = record["J_unit"]

    def first_last(v):
        import numpy as np

        a = np.asarray(v, float)
        return (a[0], a[-1]) if a.ndim == 1 else (a[0].sum(), a[-1].sum())

    pols = [p for p in ("x", "y", "z") if p in cur]
    ins = ", ".join(f"{p} {first_last(cur[p])[0]: .4g}" for p in pols)
    outs = ", ".join(f"{p} {first_last(cur[p])[1]: .4g}" for p in pols)
    strip = " (summed over the strip's rows)" if o["width"] == "open" else ""
    lines.append(f"  J currents {lin} (bond current through the column boundaries{strip}, {J} t/hbar per bond): from the left lead {ins}; into the right lead {outs}")
    fm = _fm_column(record)
    if fm:
        import numpy as np

        tq = ", ".join(f"{p} {float(np.sum(np.asarray(record['torques'][p]['exchange'], float)[fm])): .4g}" for p in pols)
        lines.append(f"  exchange torque on the FM column {lin} ({J} t/hbar " + ("summed over the column's sites" if o["width"] == "open" else per) + f"): {tq}")
    c = record["continuity"]
    lines.append(f"  continuity: max |-div j + tau| = {c['max_abs_balance']:.2e} (bond currents, every polarization); "
                 f"charge current - Landauer: {c['max_abs_charge_current_minus_landauer']:.2e}; solved in {record['wall_seconds']:.3g} s")
    if target is not None:
        lines.append(f"  wrote {target}")
    return "\n".join(lines)


# =============================================================================== files
_POLS = ("charge", "x", "y", "z")


def _dataset(record, res):
    """NetCDF Dataset of the record: per-column (and, for an open strip, per-row) profiles with
    ``units`` and ``description`` on every variable; the scalars as 0-d variables; the whole record
    (options, system, leads) as JSON attributes."""
    import numpy as np
    import xarray as xr

    linear = record["bias"] is None
    strip = record["options"]["width"] == "open"
    film = record["options"]["N_z"] is not None
    lin = " per unit bias V (in t/e)" if linear else f" at the bias V = {record['bias']:g}"
    site = "per transverse cell a^2 of one column" if film else "per site"
    J = record["J_unit"]
    rows = ("row",) if strip else ()

    def pol_stack(d, pols, shape):
        return np.array([np.asarray(d[p], float) if p in d else np.full(shape, np.nan) for p in pols])

    dens = record["densities"]
    shape = np.asarray(dens["charge"], float).shape
    n_col = shape[0]
    data = {}
    data["density"] = (("polarization", "column", *rows), pol_stack(dens, _POLS, shape),
                       {"units": f"particles [charge] or {J} [x, y, z] {site}{lin}", "description": "particle density (charge) and <J_alpha> of each region column (equilibrium + driven part)"})
    for kind in ("bond", "forward", "backward"):
        cur = record["currents"][kind]
        xshape = np.asarray(cur[next(iter(cur))], float).shape
        data[f"current_x_{kind}" if kind != "bond" else "current_x"] = (
            ("polarization", "x_bond", *rows), pol_stack(cur, _POLS, xshape),
            {"units": f"particles t/hbar [charge] or {J} t/hbar [x, y, z] per bond{lin}",
             "description": record["current_definitions"][kind] + "; x_bond b joins columns b-1 and b (0: left lead -> column 0, N_x: column N_x-1 -> right lead)"
             + ("; charge: NaN (the forward/backward split is of the angular momentum)" if kind != "bond" else "")})
    cy = record["currents"]["bond_y"]
    yshape = np.asarray(cy["charge"], float).shape
    ydims = ("polarization", "column", "y_bond") if strip else ("polarization", "column")
    data["current_y"] = (ydims, pol_stack(cy, _POLS, yshape),
                         {"units": f"particles t/hbar [charge] or {J} t/hbar [x, y, z] per bond{lin}", "description": record["current_definitions"]["bond_y"] + (" (bond y -> y + 1 of the strip)" if strip else "")})
    if "bond_z" in record["currents"]:
        cz = record["currents"]["bond_z"]
        data["current_z"] = (("polarization", "column"), pol_stack(cz, _POLS, shape),
                             {"units": f"particles t/hbar [charge] or {J} t/hbar [x, y, z] per bond{lin}", "description": record["current_definitions"]["bond_z"]})
    terms = sorted({k for p in ("x", "y", "z") for k in record["torques"][p]})
    for term in terms:
        for name, src in (("torque", "torques"), ("torque_forward", "torques_forward")):
            arr = np.array([np.full(shape, np.nan)] + [np.asarray(record[src][p].get(term, np.zeros(shape)), float) for p in ("x", "y", "z")])
            data[f"{name}_{term}"] = (("polarization", "column", *rows), arr,
                                      {"units": f"{J} t/hbar {site}{lin}; charge: NaN",
                                       "description": f"torque term {term!r} of d<J>/dt = -div j + tau ({'bond' if name == 'torque' else 'forward'} decomposition)"})
    if "conductance" in record:
        data["conductance"] = ((), float(record["conductance"]["total"]), {"units": record["conductance"]["units"], "description": record["conductance"]["definition"]})
    data["landauer_current"] = ((), float(record["landauer_current"]["value"]), {"units": record["landauer_current"]["units"], "description": record["landauer_current"]["definition"]})
    for key, text in (("max_abs_balance", "largest |-div j + tau| over region columns and polarizations (steady state: 0)"),
                      ("max_abs_dJ_dt", "largest |d<J>/dt| over region columns (steady state: 0)"),
                      ("max_abs_charge_current_minus_landauer", "largest |bond charge current - Landauer current| over the column boundaries")):
        unit = f"particles t/hbar [charge] or {J} t/hbar [x, y, z]{lin}"
        data[key] = ((), float(record["continuity"][key]), {"units": unit, "description": text})
    coords = {
        "polarization": ("polarization", list(_POLS), {"units": "1", "description": "charge: particle number; x, y, z: component of J (L or the model's generators)"}),
        "column": ("column", np.arange(n_col), {"units": "1", "description": "region column index (0 at the left lead)"}),
        "x_bond": ("x_bond", np.arange(n_col + 1), {"units": "1", "description": "x bond b joins columns b-1 and b (contact bonds included)"}),
    }
    if strip:
        coords["row"] = ("row", np.arange(shape[1]), {"units": "1", "description": "strip row (open in y, hard walls)"})
        coords["y_bond"] = ("y_bond", np.arange(yshape[1]), {"units": "1", "description": "y bond r joins rows r and r+1"})
    ds = xr.Dataset({k: xr.Variable(dims, np.asarray(v), attrs=a) for k, (dims, v, a) in data.items()},
                    coords={k: xr.Variable(d, v, attrs=a) for k, (d, v, a) in coords.items()})
    attrs = {"title": "orbsym transport: NEGF steady state between semi-infinite leads", "units": record["units"], "mu": float(record["mu"]),
             "T": float(record["T"]), "regime": record["regime"], "energy_axis": record["energy_axis"]}
    if record["bias"] is not None:
        attrs.update(bias=float(record["bias"]), split=float(record["split"]), mu_L=float(record["mu_L"]), mu_R=float(record["mu_R"]))
    skip = {"densities", "currents", "torques", "torques_forward", "continuity", "units", "mu", "T", "regime", "energy_axis", "bias", "split", "mu_L", "mu_R"}
    for k, v in record.items():
        if k in skip:
            continue
        attrs[k] = v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else json.dumps(v)
    ds.attrs.update(attrs)
    return ds


def _table(ds):
    """CSV table: one row per polarization and column (and row of a strip) with the site quantities and
    the x current entering (bond ``column``) and leaving (bond ``column + 1``) each column."""
    import numpy as np

    site = [v for v in ds.data_vars if ds[v].dims[:2] == ("polarization", "column") and "y_bond" not in ds[v].dims]
    df = ds[site].to_dataframe().reset_index()
    keys = ["polarization", "column"] + (["row"] if "row" in ds.dims else [])
    for name in ("current_x",):
        v = ds[name]
        left = v.isel(x_bond=slice(0, -1)).rename(x_bond="column").assign_coords(column=np.arange(ds.sizes["column"]))
        right = v.isel(x_bond=slice(1, None)).rename(x_bond="column").assign_coords(column=np.arange(ds.sizes["column"]))
        df = df.merge(left.to_dataframe(name=f"{name}_in").reset_index()[keys + [f"{name}_in"]], on=keys)
        df = df.merge(right.to_dataframe(name=f"{name}_out").reset_index()[keys + [f"{name}_out"]], on=keys)
    return df


def _write(record, res, target):
    from ..io import atomic_path, atomic_write

    if target.suffix == ".json":
        with atomic_write(target) as fh:
            fh.write(json.dumps(record, allow_nan=False) + "\n")
        return
    ds = _dataset(record, res)
    if target.suffix == ".nc":
        with atomic_path(target) as tmp:
            ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
        return
    df = _table(ds)
    with atomic_write(target) as fh:
        fh.write(f"# orbsym transport; {record['units']}\n")
        fh.write(f"# mu = {record['mu']:g} (model), T = {record['T']:g}, {record['regime']}\n")
        for k in ("conductance", "landauer_current", "max_abs_balance"):
            if k in ds:
                fh.write(f"# {k} = {float(ds[k]):.12g} ({ds[k].attrs['units']})\n")
        fh.write("# columns: " + "; ".join(f"{v} [{ds[v].attrs['units']}]" for v in df.columns if v in ds) + "; current_x_in/out: current_x through the left/right boundary of the column\n")
        fh.write(df.to_csv(index=False))
