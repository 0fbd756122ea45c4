"""``orbsym response``: linear response to an electric field E_y (orbital Hall effect, orbital torque).

Examples::

    orbsym response bilayer --metal-model nnn.py --m-FM x --eta 0.05 --out profiles.nc
    orbsym response bilayer --gamma 0.5 --scan mu=-1,-0.5,0,0.5 --out torque_vs_mu.csv
    orbsym response bulk --metal-model nnn.py --mu-range=-4:4:81 --N-k 400 --out ohc.csv

Geometries ``trilayer``/``bilayer`` (options as ``orbsym compute``; ``--metal-model FILE.py`` takes a
model from ``orbsym hoppings --neighbours nn+nnn``): per column, the response of the densities
(OAM accumulation), bond currents along x (conventional current) and y, and every torque term
(bond decomposition), for the parts total / fermi_surface / fermi_sea, plus the orbital torque
(exchange torque summed over the FM columns) and the driven continuity balance residual.
``--scan NAME=v1,v2,...`` repeats the computation for each value of one parameter (``gamma``,
``mu``, ``t``, ``m``, ``eta``, ``T``, ``N_x``) with a progress bar; columns are padded with NaN when
``N_x`` varies.  Geometry ``bulk``: the intrinsic Hall conductivity ``sigma^{J_z}_{xy}(mu)`` of the
conventional current ``{v_x, J}/2`` on an ``N_k x N_k`` grid (``eta -> 0`` by default).

Output: ``--out FILE`` with suffix ``.nc`` (NetCDF, xarray), ``.csv`` or ``.json``, written
atomically (:mod:`orbsym.io`); without ``--out`` a text summary is printed.  Units (stated in every
output): response per unit force ``q E_y``, ``e = hbar = a = 1``, energies in units of t
(:mod:`orbsym.response`).
"""

from __future__ import annotations

import json
import math
import sys

NAME = "response"
HELP = "linear response to an electric field E_y: OAM accumulation, orbital Hall current, orbital torque; bulk orbital Hall conductivity"

GEOMETRIES = ("trilayer", "bilayer", "bulk")
SCAN_NAMES = ("gamma", "mu", "t", "m", "eta", "T", "N_x")
FORMATS = (".nc", ".csv", ".json")
PARTS = ("total", "fermi_surface", "fermi_sea")
POLS = ("charge", "x", "y", "z")


def add_arguments(parser):
    from ..conventions import PAPER_PARAMETERS as P
    from ..response import DEFAULT_ETA
    from .compute import _choice, add_system_arguments

    parser.add_argument("geometry", type=_choice("geometry", GEOMETRIES), metavar="{trilayer,bilayer,bulk}", help="heterostructure (open x) or bulk (periodic x and y)")
    add_system_arguments(parser, N_x=P["N_x"], N_y=P["N_y"], N_FM=P["N_FM"], m_L="x", m_R="y", T=P["T"])
    parser.add_argument("--metal-model", dest="metal_model", default=None, metavar="FILE.py", help="metal model defined as `model` (and `params`) in FILE.py (executed as Python: use only files you trust)")
    parser.add_argument("--eta", type=float, default=None, help=f"broadening hbar*eta > 0 (default {DEFAULT_ETA}; bulk: 0, the intrinsic limit)")
    parser.add_argument("--scan", default=None, metavar="NAME=v1,v2,...", help=f"repeat for each value of one of {', '.join(SCAN_NAMES)}")
    parser.add_argument("--N-k", dest="N_k", type=int, default=400, help="bulk: k points per direction")
    parser.add_argument("--mu-range", dest="mu_range", default=None, metavar="A:B:N", help="bulk: N chemical potentials from A to B (default: --mu); write --mu-range=-4:4:81 for a negative A")
    parser.add_argument("--polarization", type=_choice("polarization", ("x", "y", "z")), metavar="{x,y,z}", default="z", help="bulk: component J_a of the Hall current")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar on stderr (auto: when stderr is a terminal)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc, FILE.csv or FILE.json atomically")


def _scan(text):
    if text is None:
        return None, [None]
    if "=" not in text:
        raise ValueError(f"--scan {text!r}: expected NAME=v1,v2,... with NAME one of {', '.join(SCAN_NAMES)}")
    name, vals = text.split("=", 1)
    name = name.strip()
    if name not in SCAN_NAMES:
        from ..numeric.checks import unknown_name

        raise ValueError(f"{unknown_name('scan parameter', name, SCAN_NAMES)} (in --scan)")
    try:
        values = [int(v) if name == "N_x" else float(v) for v in vals.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--scan {text!r}: values must be {'integers' if name == 'N_x' else 'numbers'} separated by commas") from None
    if not values:
        raise ValueError(f"--scan {text!r}: no values given")
    return name, values


def _mu_range(text, mu):
    if text is None:
        return [mu]
    parts = text.split(":")
    try:
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        raise ValueError(f"--mu-range {text!r}: expected A:B:N (two numbers and an integer >= 1), e.g. -4:4:81") from None
    if len(parts) != 3 or n < 1 or not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"--mu-range {text!r}: expected A:B:N with finite A, B and N >= 1")
    import numpy as np

    return list(np.linspace(a, b, n))


def _check_out(path):
    from .compute import _check_out as check

    p = check(path)
    if p is not None and p.suffix not in FORMATS:
        raise ValueError(f"--out {str(path)!r}: unknown format {p.suffix or '(no suffix)'!r}; allowed: {', '.join(FORMATS)}")
    return p


def _bar(total, mode, desc):
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if mode == "auto" else mode == "on"
    return tqdm(total=total, disable=not show, desc=desc, unit="pt", file=sys.stderr)


def _validate(args):
    for name in ("N_x", "N_y", "N_FM", "N_k"):
        v = getattr(args, name)
        if v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v}")
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    if args.eta is not None and not (math.isfinite(args.eta) and (args.eta > 0 or (args.geometry == "bulk" and args.eta == 0))):
        raise ValueError(f"--eta must be a finite broadening > 0 (units of t; 0 allowed for bulk), got {args.eta!r}")
    if args.geometry != "bulk" and args.N_y * (args.N_x * 6) ** 2 * 16 * 8 > 8 * 2**30:
        raise ValueError(f"N_x = {args.N_x}, N_y = {args.N_y} would need ~{args.N_y * (args.N_x * 6) ** 2 * 16 * 8 / 2**30:.1f} GiB; reduce N_x")


# =============================================================================== heterostructures
def _profiles(args, value_name, values, bar_mode):
    from ..response import DEFAULT_ETA, response
    from .compute import _system, _user_metal

    user = _user_metal(args.metal_model) if args.metal_model else None  # the model file runs once
    rows = []
    with _bar(len(values), bar_mode, "orbsym response") as bar:
        for v in values:
            a = _with(args, value_name, v)
            eta = DEFAULT_ETA if a.eta is None else a.eta
            r = response(_system(a, user), a.T, eta)
            rec = {"value": v, "N_x": r.lattice.N_x, "eta": eta, "T": a.T, "system": r.system.describe()}
            for part in PARTS:
                rp = r.select(part)
                rec[part] = {
                    "density": rp.densities(),
                    "current_x": rp.currents("bond", "x"),
                    "current_y": rp.currents("bond", "y"),
                    "torque": {p: d for p, d in rp.torques("bond").items()},
                    "orbital_torque": rp.orbital_torque(),
                }
            rec["balance_residual"] = r.balance()["max_abs_residual"]
            rec["proper"] = r.proper_currents()
            rows.append(rec)
            bar.update(1)
    n = max(r["N_x"] for r in rows)
    return rows, n


def _with(args, name, value):
    import copy

    a = copy.copy(args)
    if name is not None:
        setattr(a, name, value)
    return a


def _pad(v, n):
    import numpy as np

    out = np.full(n, np.nan)
    v = np.asarray(v, float)
    out[: v.size] = v
    return out


def _dataset(rows, n, scan_name):
    import numpy as np
    import xarray as xr

    from ..response import UNITS

    values = [r["value"] for r in rows]
    coords = {"point": np.arange(len(rows)), "part": list(PARTS), "polarization": list(POLS), "column": np.arange(n), "bond": np.arange(n - 1) if n > 1 else np.arange(0)}
    torque_terms = sorted({k for r in rows for p in ("x", "y", "z") for k in r["total"]["torque"][p]})
    data = {}

    def arr(fn, length):
        return np.array([[[_pad(fn(r, part, p), length) for p in POLS] for part in PARTS] for r in rows])

    data["density"] = (("point", "part", "polarization", "column"), arr(lambda r, part, p: r[part]["density"][p], n))
    data["current_x"] = (("point", "part", "polarization", "bond"), arr(lambda r, part, p: r[part]["current_x"][p], max(n - 1, 0)))
    data["current_y"] = (("point", "part", "polarization", "column"), arr(lambda r, part, p: r[part]["current_y"][p], n))
    for term in torque_terms:
        data[f"torque_{term}"] = (
            ("point", "part", "polarization", "column"),
            arr(lambda r, part, p, term=term: np.full(n, np.nan) if p == "charge" else r[part]["torque"][p].get(term, np.zeros(r["N_x"])), n),
        )
    data["orbital_torque"] = (("point", "part", "polarization"), np.array([[[np.nan if p == "charge" else r[part]["orbital_torque"][p] for p in POLS] for part in PARTS] for r in rows]))
    nb = max(n - 1, 0)
    data["proper_current"] = (
        ("point", "polarization", "bond"),
        np.array([[np.full(nb, np.nan) if p == "charge" or r["proper"][p]["current"] is None else _pad(r["proper"][p]["current"], nb) for p in POLS] for r in rows]),
    )
    data["torque_dipole"] = (("point", "polarization", "bond"), np.array([[np.full(nb, np.nan) if p == "charge" else _pad(r["proper"][p]["torque_dipole"], nb) for p in POLS] for r in rows]))
    data["net_torque"] = (("point", "polarization"), np.array([[np.nan if p == "charge" else r["proper"][p]["net_torque"] for p in POLS] for r in rows]))
    data["balance_residual"] = (("point",), np.array([r["balance_residual"] for r in rows]))
    data["columns"] = (("point",), np.array([r["N_x"] for r in rows]))
    if scan_name is not None:
        coords[scan_name] = ("point", np.array(values))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        {
            "units": UNITS,
            "current_definition": "bond current (conventional {v_x, J}/2 along x); torques: bond decomposition, exchange = FM exchange torque on the electrons; "
            "proper_current = boundary current + torque dipole P = -cumsum(tau) of the total response (NaN where the net torque does not vanish)",
            "eta": float(rows[0]["eta"]),
            "T": float(rows[0]["T"]),
            "system": json.dumps(rows[0]["system"]),
            "scan": scan_name or "",
        }
    )
    return ds


def _write(ds, target, table):
    from ..io import atomic_path, atomic_write

    if target.suffix == ".nc":
        with atomic_path(target) as tmp:
            ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
    elif target.suffix == ".csv":
        with atomic_write(target) as fh:
            fh.write("# " + ds.attrs["units"] + "\n")
            fh.write(table.to_csv(index=False))
    else:
        with atomic_write(target) as fh:
            fh.write(json.dumps(_json(ds), allow_nan=False) + "\n")


def _json(ds):
    import numpy as np

    def clean(a):
        a = np.asarray(a, float)
        return [clean(x) for x in a] if a.ndim else (None if not np.isfinite(a) else float(a))

    return {"attrs": dict(ds.attrs), "coords": {k: clean(ds[k].values) if ds[k].dtype.kind in "fiu" else [str(x) for x in ds[k].values] for k in ds.coords},
            "data": {k: {"dims": list(ds[k].dims), "values": clean(ds[k].values)} for k in ds.data_vars}}


# =============================================================================== bulk
def _bulk(args, scan_name, values, bar_mode):
    import numpy as np
    import xarray as xr

    from ..response import orbital_hall

    if scan_name not in (None, "gamma", "t", "eta", "T"):
        raise ValueError(f"--scan {scan_name} is not a bulk parameter; allowed for bulk: gamma, t, eta, T (use --mu-range for mu)")
    mus = _mu_range(args.mu_range, args.mu)
    out = []
    with _bar(len(values), bar_mode, "orbsym response bulk") as bar:
        for v in values:
            a = _with(args, scan_name, v)
            model, params = _bulk_model(a)
            res = orbital_hall(model, mu=mus, N_k=a.N_k, T=a.T, eta=0.0 if a.eta is None else a.eta, polarization=a.polarization, basis=a.basis or "orbital", **params)
            out.append(res)
            bar.update(1)
    coords = {"point": np.arange(len(values)), "mu": np.array(mus)}
    if scan_name is not None:
        coords[scan_name] = ("point", np.array(values))
    data = {"sigma": (("point", "mu"), np.array([r["sigma"] for r in out])), "charge_hall": (("point", "mu"), np.array([r["charge_hall"] for r in out]))}
    if out[0]["fermi_surface"] is not None:
        data["fermi_surface"] = (("point", "mu"), np.array([r["fermi_surface"] for r in out]))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({"units": out[0]["units"], "current_definition": out[0]["current"], "polarization": args.polarization, "N_k": args.N_k, "model": out[0]["model"], "scan": scan_name or ""})
    return ds


def _bulk_model(a):
    if a.metal_model:
        from .compute import _user_metal

        model, params = _user_metal(a.metal_model)
        names = {p.name for p in model.parameters}
        params = {k: v for k, v in params.items() if k in names and k != "mu"}
        if "t" in names and a.scan and a.scan.startswith("t="):
            params["t"] = a.t
        return model, params
    kind = a.metal
    params = {"t": a.t}
    if (a.basis or "orbital") == "orbital":
        params["gamma"] = a.gamma
        params["tp"] = a.t if a.tp is None else a.tp
    elif kind == "am":
        params["w"] = 0.4 if a.w is None else a.w
    return kind, params


def run(args):
    _validate(args)
    target = _check_out(args.out)
    scan_name, values = _scan(args.scan)
    if args.geometry == "bulk":
        ds = _bulk(args, scan_name, values, args.progress)
        table = ds.to_dataframe().reset_index()
        text = f"# {ds.attrs['units']}\n# current: {ds.attrs['current_definition']}\n" + table.to_string(index=False)
    else:
        rows, n = _profiles(args, scan_name, values, args.progress)
        ds = _dataset(rows, n, scan_name)
        table = _table(ds)
        text = _summary(rows, ds)
    if target is None:
        print(text)
    else:
        _write(ds, target, table)
    return 0


def _table(ds):
    """Long CSV table: one row per point, part, polarization and column."""

    cols = [v for v in ds.data_vars if ds[v].dims == ("point", "part", "polarization", "column")]
    df = ds[cols].to_dataframe().reset_index()
    extra = [c for c in ("orbital_torque",) if c in ds]
    if extra:
        ot = ds[extra].to_dataframe().reset_index()
        df = df.merge(ot, on=[c for c in ot.columns if c in df.columns and c not in extra], how="left")
    return df


def _summary(rows, ds):
    lines = [f"# {ds.attrs['units']}", f"# {ds.attrs['current_definition']}", f"# eta = {ds.attrs['eta']}, T = {ds.attrs['T']}"]

    def fmt(v):
        return " ".join("nan" if not math.isfinite(x) else f"{x: .3e}" for x in v)

    for r in rows:
        if len(rows) > 1:
            lines.append(f"{ds.attrs['scan']} = {r['value']}")
        for part in PARTS:
            lines.append(f"[{part}] orbital torque on the FM (exchange, summed over FM columns): " + ", ".join(f"{p}: {v: .4e}" for p, v in r[part]["orbital_torque"].items()))
        t = r["total"]
        lines.append(f"  L_z accumulation per column: {fmt(t['density']['z'])}")
        lines.append(f"  L_z bond current along x:    {fmt(t['current_x']['z'])}")
        lines.append(f"  particle current along y:    {fmt(t['current_y']['charge'])}")
        pz = r["proper"]["z"]
        lines.append("  proper L_z current:          " + (fmt(pz["current"]) if pz["exists"] else f"none (net driven torque {pz['net_torque']:.3e} != 0)"))
        lines.append(f"  continuity balance residual: {r['balance_residual']:.2e}")
    return "\n".join(lines)
