"""``orbsym hall MODEL``: bulk orbital / spin / charge Hall conductivity (or Edelstein response) of a crystal.

Examples::

    orbsym hall Cu                                     # a shipped Slater-Koster metal, L, at mu = 0
    orbsym hall wannier90_hr.dat --win wannier90.win --operator S --mu-range=-2:2:21 --out shc.nc
    orbsym hall model.py --operator charge --components xy,yx --N-k 60
    orbsym hall model.py --edelstein --eta 0.02 --T 0.01

MODEL is ``SEED_hr.dat``, ``SEED_tb.dat``, a Python file defining ``model`` (a
:class:`orbsym.materials.TightBinding`; executed as Python: use only files you trust) or a shipped
Slater-Koster material name (:func:`orbsym.materials.load.load_model`).

Computes :func:`orbsym.materials.hall.hall_conductivity` (or :func:`~orbsym.materials.hall.edelstein`
with ``--edelstein``) on the ``N_k^d`` Monkhorst-Pack grid and on the ``N_k/2`` grid (the
difference is the convergence estimate; ``--no-convergence`` skips it).  Prints every computed
component with its units and the estimate; ``--out FILE.nc`` (NetCDF, units and description on
every variable) or ``FILE.csv`` writes the tensor atomically (:mod:`orbsym.io`).  Units: physical
((hbar/e)(Ohm cm)^-1 in 3D, (hbar/e) S in 2D, for electrons q = -e; :mod:`orbsym.conventions`,
"Materials") or natural (``--units natural``).  The cost is estimated first and a run beyond the
limits is refused with the estimate (exit 2); bad options exit 2, failures 1, one line on stderr.
"""

from __future__ import annotations

import math
import sys

NAME = "hall"
HELP = "bulk orbital/spin/charge Hall conductivity (or Edelstein response) of a crystal model (_hr.dat, _tb.dat, .py, material name)"
FORMATS = (".nc", ".csv")


def add_arguments(parser):
    parser.add_argument("model", help="SEED_hr.dat, SEED_tb.dat, a Python file defining `model` (executed: use only files you trust), or a Slater-Koster material name")
    parser.add_argument("--mu", default=None, help="chemical potential(s) / Fermi energies, comma-separated (energy unit of the model); with --electrons: offsets E - E_F (default: E_F of --electrons, of a shipped material's valence electrons, else 0)")
    parser.add_argument("--mu-range", dest="mu_range", default=None, metavar="A:B:N", help="N Fermi energies from A to B (write --mu-range=-2:2:21 for a negative A); with --electrons: offsets E - E_F")
    parser.add_argument("--electrons", type=float, default=None, metavar="N",
                        help="electrons per cell (both spins): sets the Fermi level E_F from the bands (a shipped material uses its valence electrons when neither --mu nor --electrons is given); --mu/--mu-range then count from E_F")
    parser.add_argument("--operator", default="L", help="O of the current {v, O}/2: L, S, J, charge or model (the model's generators) (default L)")
    parser.add_argument("--components", default=None, help="e.g. xy,yx (every gamma) or zxy,xyz (gamma alpha beta); --edelstein: y or xy (gamma beta) (default: all)")
    parser.add_argument("--N-k", dest="N_k", type=int, default=24, help="k points per periodic direction (default %(default)s)")
    parser.add_argument("--T", type=float, default=0.0, help="temperature k_B T, energy unit of the model (default 0)")
    parser.add_argument("--eta", type=float, default=None, help="broadening hbar eta (default 0: intrinsic; --edelstein: 0.01)")
    parser.add_argument("--units", default="physical", help="physical (model in Angstrom/eV) or natural (default physical)")
    parser.add_argument("--edelstein", action="store_true", help="the accumulation <O> per unit field instead of the Hall current")
    parser.add_argument("--no-convergence", dest="convergence", action="store_false", help="skip the second (N_k/2) grid")
    parser.add_argument("--win", default=None, help="Wannier90 .win file (cell, projections) for _hr.dat/_tb.dat")
    parser.add_argument("--orbitals", default=None, help="orbital spec for _hr.dat/_tb.dat, e.g. 'Ti: s,p,d'")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="local processes sharing the k points, one BLAS thread each (default 1)")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar on stderr (auto: when stderr is a terminal)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc or FILE.csv atomically")


def parse_mus(mu, mu_range):
    """The Fermi energies of ``--mu`` (comma-separated) or ``--mu-range A:B:N``."""
    import numpy as np

    if mu is not None and mu_range is not None:
        raise ValueError("give --mu or --mu-range, not both")
    if mu_range is not None:
        from .response import _mu_range_parts

        a, b, n = _mu_range_parts(mu_range)
        return np.linspace(a, b, n)
    if mu is None:
        return np.zeros(1)
    out = []
    for part in str(mu).split(","):
        try:
            v = float(part)
        except ValueError:
            raise ValueError(f"--mu {mu!r}: expected real numbers separated by commas, e.g. --mu=-0.5,0,0.5") from None
        if not math.isfinite(v):
            raise ValueError(f"--mu {mu!r}: {part.strip()!r} is not a finite number")
        out.append(v)
    return np.array(out)


def fermi_level(model, args, mus):
    """``{"E_F", "electrons", "source"}`` from ``--electrons`` (or a shipped material's valence electrons
    when neither ``--mu`` nor ``--electrons`` is given), else None: the Fermi energies are absolute."""
    electrons, source = args.electrons, "--electrons"
    if electrons is None and args.mu is None and args.mu_range is None:
        from ..materials.slater_koster import MATERIALS, material_data

        if args.model in MATERIALS:
            electrons, source = material_data(args.model).get("valence_electrons"), f"valence electrons of the shipped {args.model} set"
    if electrons is None:
        return None
    if not (math.isfinite(electrons) and 0 < electrons < 2 * model.n / (2 if model.spinful else 1)):
        raise ValueError(f"--electrons must be in (0, {2 * model.n // (2 if model.spinful else 1)}) for the {model.n} {'spinful ' if model.spinful else ''}states of {model.name!r}, got {electrons}")
    per_state = electrons if model.spinful else electrons / 2  # a spinless orbital holds two electrons
    E_F = model.fermi_level(per_state, N_k=max(args.N_k, 16), T=args.T)
    return {"E_F": E_F, "electrons": float(electrons), "source": source + f", {max(args.N_k, 16)}^{model.periodic} grid"}


def check_out(path):
    """``--out`` checked before any work: a writable file ending in .nc or .csv."""
    if path is None:
        return None
    from ..io import check_output_file

    p = check_output_file(path, "--out", "ohc.nc")
    if p.suffix not in FORMATS:
        raise ValueError(f"--out {str(path)!r}: unknown format {p.suffix or '(no suffix)'!r}; allowed: {', '.join(FORMATS)}")
    return p


def loader_options(args):
    return {k: v for k, v in (("win", args.win), ("orbitals", args.orbitals)) if v is not None}


def write(ds, path):
    """NetCDF (scipy engine) or CSV (``#`` lines: attributes and every variable's units), atomically."""
    from ..io import atomic_files, atomic_path, atomic_write

    with atomic_files():
        if path.suffix == ".nc":
            with atomic_path(path) as tmp:
                ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
        else:
            with atomic_write(path) as fh:
                fh.write(csv_text(ds))


def csv_text(ds):
    head = [f"# {k}: {v}" for k, v in ds.attrs.items()]
    head += [f"# {name} [{ds[name].attrs['units']}]: {ds[name].attrs['description']}" for name in ds.data_vars]
    table = ds.to_dataframe().reset_index()
    return "\n".join(head) + "\n" + table.to_csv(index=False)


def summary(ds):
    """Lines: header, then one line per computed component and Fermi energy (value, +- estimate, units)."""
    import numpy as np

    name = "edelstein" if "edelstein" in ds.data_vars else "sigma"
    a = ds.attrs
    lines = [
        f"model {a['model']}; operator: {a['operator']}; N_k = {a['N_k']} ({a['periodic']}D Monkhorst-Pack), T = {a['T']:g}, eta = {a['eta']:g} {a['energy_unit']}",
        f"current: {a['current']}",
        f"units: {a['units']}; sign: {a['sign_convention']}",
    ]
    has_err = "error_estimate" in ds.data_vars
    if has_err:
        lines.append(f"convergence: +- |value(N_k = {a['N_k']}) - value(N_k = {a['N_k_coarse']})|")
    val = ds[name]
    dims = [d for d in val.dims if d != "mu"]
    for i, mu in enumerate(ds.mu.values):
        for idx in np.ndindex(*[val.sizes[d] for d in dims]):
            v = float(val.values[(i,) + idx])
            if np.isnan(v):
                continue
            labels = [str(ds[d].values[j]) for d, j in zip(dims, idx)]
            g, rest = labels[0], "".join(labels[1:])
            comp = f"{name}[{rest}]" if g == "charge" else f"{name}^{g}_{rest}"
            err = f" +- {float(ds.error_estimate.values[(i,) + idx]):.3g}" if has_err else ""
            lines.append(f"mu = {mu:g}: {comp} = {v:.6g}{err}")
    if "note" in a:
        lines.append(f"note: {a['note']}")
    lines.append(f"cpu {a['cpu_seconds']:.2f} s, wall {a['wall_seconds']:.2f} s (estimate: {a['estimate']})")
    return lines


def run(args):
    from ..materials.hall import edelstein, hall_conductivity
    from ..materials.load import load_model

    out = check_out(args.out)
    mus = parse_mus(args.mu, args.mu_range)
    if args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    if args.N_k < 2:
        raise ValueError(f"--N-k must be an integer >= 2 (k points per direction), got {args.N_k}")
    if args.units not in ("physical", "natural"):
        raise ValueError(f"--units must be physical or natural, got {args.units!r}")
    for flag, v in (("--T", args.T), ("--eta", args.eta)):
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{flag} must be a finite number >= 0, got {v}")
    model = load_model(args.model, **loader_options(args))
    fermi = fermi_level(model, args, mus)
    if fermi is not None:
        mus = fermi["E_F"] + (0.0 * mus[:1] if args.mu is None and args.mu_range is None else mus)
    progress = {"auto": None, "on": True, "off": False}[args.progress]
    kw = dict(operator=args.operator, components=args.components, N_k=args.N_k, T=args.T, units=args.units, convergence=args.convergence, progress=progress, workers=args.workers)
    if args.edelstein:
        ds = edelstein(model, mus, eta=0.01 if args.eta is None else args.eta, **kw)
    else:
        ds = hall_conductivity(model, mus, eta=0.0 if args.eta is None else args.eta, **kw)
    if fermi is not None:
        ds.attrs["fermi_level"] = fermi["E_F"]
        ds.attrs["electrons_per_cell"] = fermi["electrons"]
        ds.attrs["fermi_level_source"] = fermi["source"]
        ds = ds.assign_coords(E_minus_E_F=("mu", ds.mu.values - fermi["E_F"]))
        ds["E_minus_E_F"].attrs.update(units=ds.mu.attrs.get("units", model.energy_unit), description="Fermi energy measured from E_F (--electrons)")
    if out is not None:
        write(ds, out)
    if fermi is not None:
        print(f"E_F = {fermi['E_F']:.6g} {model.energy_unit} for {fermi['electrons']:g} electrons per cell ({fermi['source']}); mu below = E_F + offset")
    for line in summary(ds):
        print(line)
    if out is not None:
        print(f"wrote {out}", file=sys.stderr)
    return 0
