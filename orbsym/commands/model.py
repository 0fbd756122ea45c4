"""``orbsym model info MODEL``: describe a crystal model (lattice, orbitals, assigned L and S, neighbour shells, bands).

MODEL is ``SEED_hr.dat``, ``SEED_tb.dat``, a Python file defining ``model`` (a
:class:`orbsym.materials.TightBinding`; executed as Python: use only files you trust) or a shipped
Slater-Koster material name (:func:`orbsym.materials.load.load_model`).  ``--json`` prints the
description as JSON instead of text.
"""

from __future__ import annotations

import json

NAME = "model"
HELP = "describe a crystal model: lattice, orbitals, assigned L and S, neighbour shells, band range"
ACTIONS = ("info",)
#: Angular momentum l of a Wannier90 real-harmonic label by its first letter.
SHELL_L = {"s": 0, "p": 1, "d": 2, "f": 3}


def add_arguments(parser):
    parser.add_argument("action", choices=ACTIONS, help="info: describe the model")
    parser.add_argument("model", help="SEED_hr.dat, SEED_tb.dat, a Python file defining `model` (executed: use only files you trust), or a material name")
    parser.add_argument("--win", default=None, help="Wannier90 .win file for _hr.dat/_tb.dat")
    parser.add_argument("--orbitals", default=None, help="orbital spec for _hr.dat/_tb.dat, e.g. 'Ti: s,p,d'")
    parser.add_argument("--N-k", dest="N_k", type=int, default=12, help="grid of the band-range estimate (default %(default)s per direction)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def angular_momentum_summary(model):
    """Per atom: the shells that carry the atom-centred L (and whether S is assigned)."""
    import numpy as np

    try:
        L = model.angular_momentum("L")
        note = None
    except ImportError:
        L, note = None, "atom-centred L unavailable (orbsym.materials.shells is not installed)"
    out = []
    for a, atom in enumerate(model.atoms):
        shells = {}
        for lab in atom.orbitals:
            shells.setdefault(lab[0].lower() if lab else "?", []).append(lab)
        idx = model.atom_indices(a)
        carried = []
        if L is not None:
            sub = L[:, idx[:, None], idx[None, :]]
            l2 = np.einsum("aij,aji->i", sub, sub).real  # <i|L^2|i>
            for letter, labs in shells.items():
                pos = [j for j, o in enumerate(model.basis[i] for i in idx) if o.label in labs]
                if pos and np.allclose(l2[pos], SHELL_L.get(letter, -1) * (SHELL_L.get(letter, -1) + 1)) and SHELL_L.get(letter, 0) > 0:
                    carried.append(f"{letter} (l = {SHELL_L[letter]})")
        out.append({"atom": atom.name, "shells": {k: v for k, v in shells.items()}, "L": carried, "S": "sigma/2 on every orbital" if model.spinful else "none (spinless)"})
    return out, note


def describe(model, N_k=12):
    info = model.info()
    lo, hi = model.band_range(N_k)
    info["band_range"] = [lo, hi]
    info["angular_momentum"], note = angular_momentum_summary(model)
    if note:
        info["note"] = note
    info["model_generators"] = model.generators is not None
    return info


def text(info):
    u = info["units"]
    lines = [f"model {info['name']}: {info['periodic']}D crystal, {info['n_orbitals']} orbitals" + (f" with spin ({info['spin_order']})" if info["spinful"] else ""),
             f"units: length {u['length']}, energy {u['energy']}", "lattice vectors (rows):"]
    lines += [f"  a{i + 1} = ({', '.join(f'{x:.6g}' for x in row)})" for i, row in enumerate(info["cell"])]
    lines.append("atoms:")
    for atom, am in zip(info["atoms"], info["angular_momentum"]):
        L = ", ".join(am["L"]) or "none"
        lines.append(f"  {atom['name']} at ({', '.join(f'{x:.6g}' for x in atom['position'])}): {', '.join(atom['orbitals'])}; L on {L}; S: {am['S']}")
    if "note" in info:
        lines.append(f"  note: {info['note']}")
    if info["model_generators"]:
        lines.append("  the model carries its own generators (operator 'model')")
    lines.append(f"hopping matrices: {info['n_R']} lattice vectors R; neighbour shells (distance {u['length']}: bonds per cell):")
    lines += [f"  {s['distance']:.6g}: {s['bonds']}" for s in info["neighbour_shells"]] or ["  none (no inter-site hopping)"]
    lo, hi = info["band_range"]
    lines.append(f"band range: [{lo:.6g}, {hi:.6g}] {u['energy']}")
    return lines


def run(args):
    from ..materials.load import load_model

    if args.N_k < 1:
        raise ValueError(f"--N-k must be an integer >= 1, got {args.N_k}")
    opts = {k: v for k, v in (("win", args.win), ("orbitals", args.orbitals)) if v is not None}
    model = load_model(args.model, **opts)
    info = describe(model, args.N_k)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        print("\n".join(text(info)))
    return 0
