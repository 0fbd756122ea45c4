"""``orbsym compute``: densities, currents, torques and free energies of trilayers and bilayers.

Examples::

    orbsym compute trilayer --gamma 0.5 --m-L x --m-R y --json
    orbsym compute bilayer --metal am --w 0.4 --m-FM 1.2,0.3 --quantities free_energy
    orbsym compute trilayer --m-L y --m-R y --rkky --json --out rkky.json

``--out FILE`` writes the output to ``FILE`` atomically (temporary file + rename,
:mod:`orbsym.io`): a failed or interrupted run leaves the previous ``FILE`` (or none), never half
of one.  Bad values are reported in one line (exit status 2) before anything is computed.

Magnetizations: an axis (``x``, ``-y``), a vector ``mx,my,mz`` or angles ``theta,phi`` (radians,
with ``--m`` as magnitude).  Conventions (units of t, bond counted once, F per row):
:mod:`orbsym.conventions`; every output names the FM-metal ``interface`` rule.
"""

from __future__ import annotations

import json
import math

NAME = "compute"
HELP = "equilibrium densities, currents, torques and free energy of FM/NM/FM, NM/FM and AM/FM systems"

GEOMETRIES = ("trilayer", "bilayer")
QUANTITIES = ("densities", "currents", "torques", "free_energy", "particle_number", "continuity")


def add_arguments(parser):
    from ..conventions import PAPER_PARAMETERS as P

    parser.add_argument("geometry", type=_choice("geometry", GEOMETRIES), metavar="{trilayer,bilayer}", help="trilayer (FM/metal/FM) or bilayer (metal/FM)")
    parser.add_argument("--basis", type=_choice("basis", ("orbital", "spin")), metavar="{orbital,spin}", default=None, help="orbital (Eq. 3, default) or spin (Eq. 4)")
    parser.add_argument("--metal", type=_choice("metal", ("nm", "am")), metavar="{nm,am}", default="nm", help="normal metal or altermagnet (spin basis)")
    parser.add_argument("--N-x", dest="N_x", type=int, default=P["N_x"], help="columns (open x)")
    parser.add_argument("--N-y", dest="N_y", type=int, default=P["N_y"], help="rows (periodic y)")
    parser.add_argument("--N-FM", dest="N_FM", type=int, default=P["N_FM"], help="FM columns per ferromagnet")
    parser.add_argument("--m-L", dest="m_L", default="x", help="left FM magnetization (trilayer)")
    parser.add_argument("--m-R", dest="m_R", default="y", help="right FM magnetization (trilayer)")
    parser.add_argument("--m-FM", dest="m_FM", default="z", help="FM magnetization (bilayer)")
    parser.add_argument("--m", type=float, default=P["m"], help="|m| for axis names and angles")
    parser.add_argument("--gamma", type=float, default=1.0, help="NM anisotropic hopping (orbital basis)")
    parser.add_argument("--tp", type=float, default=None, help="t' (default t)")
    parser.add_argument("--w", type=float, default=None, help="altermagnet anisotropy (default 0.4 for --metal am)")
    parser.add_argument("--t", type=float, default=P["t"], help="hopping")
    parser.add_argument("--mu", type=float, default=P["mu"], help="chemical potential")
    parser.add_argument("--T", type=float, default=P["T"], help="temperature (>= 0)")
    parser.add_argument("--interface", type=_choice("interface rule", ("fm", "metal")), metavar="{fm,metal}", default="fm", help="hopping on FM-metal bonds")
    parser.add_argument("--spin-unit", dest="spin_unit", type=_choice("spin unit", ("sigma", "S")), metavar="{sigma,S}", default="sigma", help="spin basis: report sigma or S = sigma/2")
    parser.add_argument(
        "--quantities",
        default="densities,currents,torques,free_energy",
        help=f"comma-separated subset of {','.join(QUANTITIES)}",
    )
    parser.add_argument(
        "--metal-model",
        dest="metal_model",
        default=None,
        metavar="FILE.py",
        help="use the model defined as `model` in FILE.py (e.g. from `orbsym hoppings`) as the metal; "
        "optional `params` dict there sets its parameters; the FMs are isotropic with the model's generators",
    )
    parser.add_argument("--rkky", action="store_true", help="also compute J = F_AP - F_P (trilayer; m_R along +-m_L)")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the k-points (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the output to FILE (atomically) instead of stdout")


def _choice(what, allowed):
    """argparse ``type`` accepting one of ``allowed``; otherwise a one-line error with suggestions."""
    import argparse

    def convert(text):
        if text in allowed:
            return text
        from ..numeric.checks import unknown_name

        raise argparse.ArgumentTypeError(str(unknown_name(what, text, allowed)))

    convert.__name__ = what
    return convert


def _magnetization_arg(name, text):
    s = str(text).strip()
    if "," in s:
        parts = [p for p in s.split(",")]
        try:
            vals = tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"{name} {text!r}: expected an axis (x, -y, ...), a vector mx,my,mz or angles theta,phi") from None
        if len(vals) not in (2, 3):
            raise ValueError(f"{name} {text!r}: expected 3 components mx,my,mz or 2 angles theta,phi, got {len(vals)} numbers")
        return vals
    return s


def _user_metal(path):
    """``(model, params)`` from a Python file defining ``model`` and optionally ``params``."""
    import runpy
    from pathlib import Path

    from .derive import load_model

    if not str(path).endswith(".py"):
        raise ValueError(f"--metal-model must be a .py file defining `model`, got {path!r}")
    model = load_model(path)
    params = runpy.run_path(str(Path(path))).get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"`params` in {path!r} must be a dict of parameter values, got {type(params).__name__}")
    return model, dict(params)


def _user_system(args):
    """Trilayer/bilayer whose metal is a user model (FMs: isotropic, -m.J with the model's generators)."""
    from ..symbolic.models import ferromagnet
    from ..systems import heterostructure, layer, magnetization

    model, params = _user_metal(args.metal_model)
    names = {p.name for p in model.parameters}
    for name, value in (("t", args.t), ("mu", args.mu)):
        if name in names:
            params.setdefault(name, value)
    missing = sorted(names - set(params))
    if missing:
        raise ValueError(f"the metal model {model.name!r} needs values for {missing}: set them in a `params` dict in {args.metal_model!r}")
    fm = ferromagnet(model.generators)
    fm_params = {"t": args.t, "mu": args.mu}
    if args.geometry == "trilayer":
        width = args.N_x - 2 * args.N_FM
        mL = magnetization(_magnetization_arg("--m-L", args.m_L), args.m)
        mR = magnetization(_magnetization_arg("--m-R", args.m_R), args.m)
        blocks = [layer(fm, args.N_FM, m=mL, label="FM_L", **fm_params), layer(model, max(width, 1), label=model.name, **params),
                  layer(fm, args.N_FM, m=mR, label="FM_R", **fm_params)]
    else:
        width = args.N_x - args.N_FM
        mv = magnetization(_magnetization_arg("--m-FM", args.m_FM), args.m)
        blocks = [layer(model, max(width, 1), label=model.name, **params), layer(fm, args.N_FM, m=mv, label="FM", **fm_params)]
    if width < 1:
        raise ValueError(f"N_x = {args.N_x} leaves no metal column between the FMs (N_FM = {args.N_FM})")
    return heterostructure(blocks, N_y=args.N_y, interface=args.interface, spin_unit=args.spin_unit)


def _system(args):
    from ..systems import bilayer, magnetization, trilayer

    if args.metal_model:
        return _user_system(args)

    common = dict(
        N_x=args.N_x, N_y=args.N_y, N_FM=args.N_FM, m=args.m, gamma=args.gamma, tp=args.tp, w=args.w,
        t=args.t, mu=args.mu, interface=args.interface, spin_unit=args.spin_unit,
    )
    if args.geometry == "trilayer":
        mL = magnetization(_magnetization_arg("--m-L", args.m_L), args.m)
        mR = magnetization(_magnetization_arg("--m-R", args.m_R), args.m)
        return trilayer(args.basis, metal=args.metal, m_L=mL, m_R=mR, **common)
    mv = magnetization(_magnetization_arg("--m-FM", args.m_FM), args.m)
    return bilayer(args.metal, args.basis, m_FM=mv, **common)


def _format_text(d):
    lines = []
    s = d["system"]
    lines.append(f"system: {s['geometry']} ({s['basis']} basis, interface={s['interface']}), N_x={s['N_x']}, N_y={s['N_y']}, N_FM={s.get('N_FM')}, T={d['T']}")
    if "free_energy_per_row" in d:
        lines.append(f"free energy per row: {d['free_energy_per_row']:.12g}  (total {d['free_energy_total']:.12g})")
    if "particle_number_per_row" in d:
        lines.append(f"particles per row: {d['particle_number_per_row']:.12g}")
    if "rkky" in d:
        r = d["rkky"]
        lines.append(f"RKKY J = F_AP - F_P per row: {r['J']:.6e}  (F_P {r['F_P']:.12g}, F_AP {r['F_AP']:.12g})")

    def fmt(v):
        return " ".join("nan" if x is None else f"{x: .3e}" for x in v)

    for section, title in (("densities", "density"), ("torques", "total torque (bond decomposition)")):
        if section in d:
            for p, v in d[section].items():
                vals = v["total"] if isinstance(v, dict) else v
                lines.append(f"{title} [{p}]: {fmt(vals)}")
    if "currents" in d:
        for p, v in d["currents"]["bond"].items():
            lines.append(f"bond current x [{p}]: {fmt(v)}")
    if "continuity" in d:
        lines.append(f"continuity: {d['continuity']}")
    return "\n".join(lines)


def run(args):
    from ..systems import rkky, solve

    from ..numeric.checks import unknown_name

    qs = [q.strip() for q in str(args.quantities).split(",") if q.strip()]
    if not qs:
        raise ValueError(f"--quantities is empty; give a comma-separated subset of {','.join(QUANTITIES)}")
    bad = [q for q in qs if q not in QUANTITIES]
    if bad:
        raise ValueError(f"{unknown_name('quantity', bad[0], QUANTITIES)} (in --quantities)")
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    target = _check_out(args.out)
    if args.rkky and args.geometry != "trilayer":
        raise ValueError("--rkky needs the trilayer geometry (J = F_AP - F_P between the two FMs)")
    if args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    system = _system(args)
    result = solve(system, args.T, workers=args.workers)
    out = result.to_dict(tuple(qs))
    if args.rkky:
        out["rkky"] = rkky(system, args.T, workers=args.workers)
    text = json.dumps(out, allow_nan=False) if args.json else _format_text(out)
    if target is None:
        print(text)
    else:
        from ..io import atomic_write

        with atomic_write(target) as fh:
            fh.write(text + "\n")
    return 0


def _check_out(path):
    """Validate ``--out`` before computing: a file path in a writable directory (created if needed)."""
    if path is None:
        return None
    from pathlib import Path

    from ..io import ensure_writable_dir

    p = Path(path)
    if not str(path).strip() or p.is_dir():
        raise ValueError(f"--out {str(path)!r} is a directory or empty; give a file name, e.g. --out result.json")
    ensure_writable_dir(p.parent if str(p.parent) else ".")
    return p
