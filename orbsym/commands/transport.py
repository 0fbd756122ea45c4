"""``orbsym transport``: NEGF steady state of a metal strip between leads (optionally an FM column).

Examples
--------
``orbsym transport --n-metal 10 --gamma 0.3 --N-y 200`` (linear response, per unit bias);
``orbsym transport --fm y --bias 0.05 --T 0.01 --output out.json`` (finite bias, JSON file);
``orbsym transport --width open --N-y 12 --fm z`` (finite-width strip, per-site maps);
``orbsym transport --angle 45 --fm z`` (current at 45 degrees to the crystal axes,
:func:`orbsym.transport.rotated_model`; ``L`` stays along the crystal axes);
``orbsym transport --N-z 16 --N-y 16 --fm y`` (a film: periodic in y and z, cubic t2g models, leads of
film columns; every quantity per transverse cell, solved as ``N_z // 2 + 1`` k_z sectors).

Every option is checked before anything is built or solved: values (finite reals, energies within
``+-1e100``), names ("did you mean"), options that do not apply to the chosen regime (``--split`` at
``--bias 0``, ``--n-energy`` where the energy rule has no nodes to choose, ``--energy-tol`` outside the
linear response at ``T > 0``), the output file, and the estimated memory and CPU time of the solve
(:func:`orbsym.transport.transport_resources`; refused above the limits of
:mod:`orbsym.numeric.budget`, with the estimate in the message).  The default ``--N-y`` is 200 rows
for ``--width periodic`` (k-points, cheap) and :data:`OPEN_N_Y` for ``--width open`` (the strip is
solved with blocks of ``N_y x 3`` states and a dense correlation matrix of the whole strip).
"""

from __future__ import annotations

import json
import sys

__all__ = ["NAME", "HELP", "add_arguments", "run", "check_options", "OPEN_N_Y", "PERIODIC_N_Y"]

NAME = "transport"
HELP = "driven steady state between semi-infinite leads (NEGF): conductance, OAM density, currents, torques, balance"

#: Default rows: periodic (k-points) and open strip (width).
PERIODIC_N_Y = 200
OPEN_N_Y = 16
#: Axis names accepted by ``--fm``.
FM_AXES = tuple(sign + a for sign in ("", "+", "-") for a in "xyz")
#: Notice on stderr when the estimated CPU time of a run exceeds this (seconds).
NOTICE_SECONDS = 60.0


def add_arguments(parser):
    """Register the options of ``orbsym transport`` (None defaults: "not given", see :func:`check_options`)."""
    parser.add_argument("--n-metal", type=int, default=None, help="metal columns on each side of the FM (or in total without --fm; default 10)")
    parser.add_argument("--gamma", type=float, default=None, help="NM hopping anisotropy gamma (default 0.3)")
    parser.add_argument("--mu", type=float, default=None, help="model chemical potential (band filling; default -0.2)")
    parser.add_argument("--fm", default=None, help="magnetization of one FM column in the middle: axis (x, -y, ...) (default: none)")
    parser.add_argument("--N-y", dest="N_y", type=int, default=None, help=f"rows: periodic (k-points; default {PERIODIC_N_Y}) or the width of an open strip (default {OPEN_N_Y})")
    parser.add_argument("--N-z", dest="N_z", type=int, default=None, metavar="N", help="a film: N cells periodic along z, cubic models, leads of film columns (default: none, the 2D system; not with --width open or --angle 45)")
    parser.add_argument("--T", type=float, default=None, help="temperature (units of t; default 0.01)")
    parser.add_argument("--bias", type=float, default=None, help="bias V = mu_L - mu_R (default: linear response per unit bias)")
    parser.add_argument("--split", type=float, default=None, help="fraction of the bias on the left lead (default 0.5; not at --bias 0)")
    parser.add_argument("--n-energy", type=int, default=None, help="energy nodes (default 16 linear at T > 0, 200 bias window; not in linear response at T = 0 nor at --bias 0)")
    parser.add_argument("--width", default=None, help="periodic (rows periodic, k_y conserved; default) or open (finite-width strip, per-site output)")
    parser.add_argument("--energy-tol", dest="energy_tol", type=float, default=None, help="linear response at T > 0 only: double the energy nodes until the conductance's error estimate is below this (relative)")
    parser.add_argument("--angle", default=None, help="current direction to the crystal axes: 0 (along X) or 45 (along (1, 1); default 0)")
    parser.add_argument("--solver", default=None, help="scattering-region solver: rgf (recursive Green's function, linear in N_x), dense (reference) or auto (default; recorded as region_solver)")
    parser.add_argument("--output", "--out", dest="output", default=None, help="write JSON here (atomically) instead of stdout (checked before computing)")


#: Values of the options not given.
DEFAULTS = {"n_metal": 10, "gamma": 0.3, "mu": -0.2, "T": 0.01, "width": "periodic", "angle": "0", "solver": "auto"}


def check_options(args):
    """Check every option before any work; fill in the defaults.  Raises ValueError naming the option.

    Returns the checked output path (or None).
    """
    from ..io import check_output_file
    from ..numeric.checks import ENERGY_LIMIT, check_name, integer_at_least, real_number
    from ..transport import ANGLES, WIDTHS

    given = {k for k in vars(args) if not k.startswith("_") and getattr(args, k) is not None}
    if args.width is not None:
        check_name("--width", args.width, WIDTHS)
    if args.angle is not None:
        check_name("--angle", args.angle, ANGLES)
    if args.solver is not None:
        check_name("--solver", args.solver, ("auto", "rgf", "dense"))
    if args.fm is not None:
        check_name("--fm axis", args.fm, FM_AXES)
    for k, v in DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.N_y is None:
        args.N_y = OPEN_N_Y if args.width == "open" else PERIODIC_N_Y
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
    if args.output is None:
        return None
    try:
        return check_output_file(args.output, "--output", "transport.json")
    except ValueError as exc:  # name the user's path, not only the directory found wrong
        if repr(str(args.output)) in str(exc):
            raise
        raise ValueError(f"--output {str(args.output)!r}: {exc}") from None


def _estimate(args):
    """Resources of this run from the options alone (before the system is built)."""
    from ..transport import transport_resources

    n_cols = args.n_metal * (2 if args.fm is not None else 1) + (1 if args.fm is not None else 0)
    period = 2 if (args.angle == "45" and args.width == "open" and n_cols % 2 == 0) else 1
    # spectral radius bound of the metal (|t| = 1, |gamma|, mu) and the FM column (|m| = 1)
    radius = 4.0 * max(1.0, abs(args.gamma)) + 2.0 + abs(args.mu)
    return transport_resources(
        n_cols, args.N_y, 3, args.width, period, args.T, args.bias, 0.0, 0.5 if args.split is None else args.split, args.n_energy,
        args.energy_tol, True, args.solver, radius=radius + (2.0 * max(1.0, abs(args.gamma)) if getattr(args, "N_z", None) else 0.0),
        symmetric=args.angle == "0", mirror_leads=args.angle == "0",
        hint="reduce --n-energy, --N-y (k-points, or the width of --width open) or --n-metal" + (" or --N-z" if getattr(args, "N_z", None) else ""),
        N_z=getattr(args, "N_z", None), z_symmetric=True,  # the cubic built-in films: sector(-k_z) = sector(k_z)
    )


def run(args):
    """Solve and print/write the JSON result; returns 0 (1 if the balance check fails)."""
    from ..io import atomic_write
    from ..systems import _builtin_model, _jsonable, heterostructure, layer
    from ..transport import attach_leads, rotated_model, transport

    out_path = check_options(args)
    est = _estimate(args)
    if est.seconds > NOTICE_SECONDS:
        print(f"orbsym: transport: this run needs {est.describe()}", file=sys.stderr)
    kinds = ["nm"] * args.n_metal + (["fm"] + ["nm"] * args.n_metal if args.fm is not None else [])
    if args.angle == "0":
        layers = [layer("nm", args.n_metal, gamma=args.gamma)]
        if args.fm is not None:
            layers += [layer("fm", 1, m=args.fm), layer("nm", args.n_metal, gamma=args.gamma)]
    else:  # one column per u = X + Y, even and odd columns alternating
        layers = []
        for u, kind in enumerate(kinds):
            model = rotated_model(_builtin_model(kind, "orbital"), "45", "even" if u % 2 == 0 else "odd")
            layers.append(layer(model, 1, m=args.fm, label="FM") if kind == "fm" else layer(model, 1, gamma=args.gamma, label="NM"))
    system = heterostructure(layers, N_y=args.N_y, mu=args.mu, N_z=getattr(args, "N_z", None))
    # strips at 45 degrees: leads repeat the last two columns (rectangular leads) when N_x is even
    period = 2 if (args.angle == "45" and args.width == "open" and len(kinds) % 2 == 0) else None
    res = transport(attach_leads(system, width=args.width, period=period), T=args.T, bias=args.bias, split=args.split, n_energy=args.n_energy, energy_tol=args.energy_tol, solver=args.solver)
    out = res.to_dict()
    if "conductance" in out:
        for key in ("per_k", "k", "weight", "per_k_z", "k_z", "weight_z"):
            out["conductance"].pop(key, None)
    text = json.dumps(_jsonable(out), indent=1)
    if out_path is not None:
        with atomic_write(out_path) as fh:
            fh.write(text + "\n")
    else:
        print(text)
    bal = out["continuity"]["max_abs_balance"]
    if not bal < 1e-8:
        print(f"orbsym: error: steady-state balance violated: max |-div j + tau| = {bal:.3g}", file=sys.stderr)
        return 1
    return 0
