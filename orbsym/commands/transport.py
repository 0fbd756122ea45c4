"""``orbsym transport``: NEGF steady state of a metal strip between leads (optionally an FM column).

Examples
--------
``orbsym transport --n-metal 10 --gamma 0.3 --N-y 200`` (linear response, per unit bias);
``orbsym transport --fm y --bias 0.05 --T 0.01 --output out.json`` (finite bias, JSON file);
``orbsym transport --width open --N-y 12 --fm z`` (finite-width strip, per-site maps);
``orbsym transport --angle 45 --fm z`` (current at 45 degrees to the crystal axes,
:func:`orbsym.transport.rotated_model`; ``L`` stays along the crystal axes).
"""

from __future__ import annotations

import json
import sys

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "transport"
HELP = "driven steady state between semi-infinite leads (NEGF): conductance, OAM density, currents, torques, balance"


def add_arguments(parser):
    """Register the options of ``orbsym transport``."""
    parser.add_argument("--n-metal", type=int, default=10, help="metal columns on each side of the FM (or in total without --fm; default 10)")
    parser.add_argument("--gamma", type=float, default=0.3, help="NM hopping anisotropy gamma (default 0.3)")
    parser.add_argument("--mu", type=float, default=-0.2, help="model chemical potential (band filling; default -0.2)")
    parser.add_argument("--fm", default=None, help="magnetization of one FM column in the middle: axis (x, -y, ...) (default: none)")
    parser.add_argument("--N-y", dest="N_y", type=int, default=200, help="rows, periodic (default 200)")
    parser.add_argument("--T", type=float, default=0.01, help="temperature (units of t; default 0.01)")
    parser.add_argument("--bias", type=float, default=None, help="bias V = mu_L - mu_R (default: linear response per unit bias)")
    parser.add_argument("--split", type=float, default=0.5, help="fraction of the bias on the left lead (default 0.5)")
    parser.add_argument("--n-energy", type=int, default=None, help="energy nodes (default 16 linear, 200 bias window)")
    parser.add_argument("--width", default="periodic", help="periodic (rows periodic, k_y conserved) or open (finite-width strip, per-site output)")
    parser.add_argument("--energy-tol", dest="energy_tol", type=float, default=None, help="linear response at T > 0: double the energy nodes until the conductance's error estimate is below this (relative)")
    parser.add_argument("--angle", default="0", help="current direction to the crystal axes: 0 (along X) or 45 (along (1, 1); default 0)")
    parser.add_argument("--solver", default="auto", choices=("auto", "rgf", "dense"), help="scattering-region solver: rgf (recursive Green's function, linear in N_x), dense (reference) or auto (default; recorded as region_solver)")
    parser.add_argument("--output", default=None, help="write JSON here (atomically) instead of stdout")


def run(args):
    """Solve and print/write the JSON result; returns 0 (1 if the balance check fails)."""
    from ..io import atomic_write
    from ..numeric.checks import check_name
    from ..systems import _builtin_model, _jsonable, heterostructure, layer
    from ..transport import ANGLES, attach_leads, rotated_model, transport

    if args.n_metal < 1:
        raise ValueError(f"--n-metal must be an integer >= 1, got {args.n_metal}")
    check_name("--angle", args.angle, ANGLES)
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
    system = heterostructure(layers, N_y=args.N_y, mu=args.mu)
    # strips at 45 degrees: leads repeat the last two columns (rectangular leads) when N_x is even
    period = 2 if (args.angle == "45" and args.width == "open" and len(kinds) % 2 == 0) else None
    res = transport(attach_leads(system, width=args.width, period=period), T=args.T, bias=args.bias, split=args.split, n_energy=args.n_energy, energy_tol=args.energy_tol, solver=args.solver)
    out = res.to_dict()
    if "conductance" in out:
        out["conductance"].pop("per_k", None)
        out["conductance"].pop("k", None)
        out["conductance"].pop("weight", None)
    text = json.dumps(_jsonable(out), indent=1)
    if args.output:
        with atomic_write(args.output) as fh:
            fh.write(text + "\n")
    else:
        print(text)
    bal = out["continuity"]["max_abs_balance"]
    if not bal < 1e-8:
        print(f"orbsym: error: steady-state balance violated: max |-div j + tau| = {bal:.3g}", file=sys.stderr)
        return 1
    return 0
