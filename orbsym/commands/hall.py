"""``orbsym hall MODEL``: bulk orbital / spin / charge Hall conductivity (or Edelstein response) of a crystal.

Examples::

    orbsym hall Cu                                     # a shipped Slater-Koster metal, L, at mu = 0
    orbsym hall wannier90_hr.dat --win wannier90.win --operator S --mu-range=-2:2:21 --out shc.nc
    orbsym hall model.py --operator charge --components xy,yx --N-k 60
    orbsym hall model.py --edelstein --eta 0.02 --T 0.01
    orbsym hall Cu --disorder anderson:6 --N-k 32 --out cu_dirty.nc           # SCBA + ladder, 3D, at E_F
    orbsym hall sp.py --units natural --disorder anderson:2.5 --method chebyshev --size 48 --realizations 6 --T 0.02

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

Disorder (``--disorder KIND:W``, :data:`HALL_DISORDER_KINDS`: ``anderson``, ``anderson-gauss``,
``anderson-orbital``; W in the model's energy unit, W = 0 refused: the clean crystal is ``orbsym hall``
without it): the disorder-averaged conductivity, ``--method scba`` (default;
:func:`orbsym.materials.born.disordered_conductivity` per Fermi energy, 2D and 3D, T = 0: SCBA Green's
functions and ladder vertex corrections; the bubble is always computed, printed next to it with the
vertex-correction share, and is the headline with ``--no-ladder``; the ``N_k/2`` grid gives the k-grid
estimate; Gamma = -Im Sigma(E_F) per orbital and the grid's level spacing at E_F are printed) or
``--method chebyshev`` (2D models: :func:`orbsym.numeric.chebyshev.kubo_bastin` on ``--size L`` tori
(:meth:`~orbsym.numeric.chebyshev.SparseSample.from_tight_binding`), averaged over ``--realizations N``
drawn from ``numpy.random.default_rng([S + r, 21])``, random vectors ``seed = S + r``; the standard error is
over realizations; ``--T > 0``).  Options that do not apply to the method (``--eta``, ``--edelstein``,
``--workers``, ``--T`` with scba, ``--N-k``/``--no-ladder`` with chebyshev ...) are refused; the work is
estimated first (:func:`scba_estimate`, :func:`chebyshev_estimate`).  Default component ``zxy`` (charge:
``xy``); ``--out FILE.nc`` only.
"""

from __future__ import annotations

import json
import math
import sys

NAME = "hall"
HELP = "bulk orbital/spin/charge Hall conductivity (or Edelstein response) of a crystal model (_hr.dat, _tb.dat, .py, material name)"
FORMATS = (".nc", ".csv")
DEFAULT_N_K = 24


def add_arguments(parser):
    parser.add_argument("model", help="SEED_hr.dat, SEED_tb.dat, a Python file defining `model` (executed: use only files you trust), or a Slater-Koster material name")
    parser.add_argument("--mu", default=None, help="chemical potential(s) / Fermi energies, comma-separated (energy unit of the model); with --electrons: offsets E - E_F (default: E_F of --electrons, of a shipped material's valence electrons, else 0)")
    parser.add_argument("--mu-range", dest="mu_range", default=None, metavar="A:B:N", help="N Fermi energies from A to B (write --mu-range=-2:2:21 for a negative A); with --electrons: offsets E - E_F")
    parser.add_argument("--electrons", type=float, default=None, metavar="N",
                        help="electrons per cell (both spins): sets the Fermi level E_F from the bands (a shipped material uses its valence electrons when neither --mu nor --electrons is given); --mu/--mu-range then count from E_F")
    parser.add_argument("--operator", default="L", help="O of the current {v, O}/2: L, S, J, charge or model (the model's generators) (default L)")
    parser.add_argument("--components", default=None, help="e.g. xy,yx (every gamma) or zxy,xyz (gamma alpha beta); --edelstein: y or xy (gamma beta) (default: all; --disorder: zxy, charge xy)")
    parser.add_argument("--N-k", dest="N_k", type=int, default=None, help="k points per periodic direction (default 24; also the SCBA grid of --disorder)")
    parser.add_argument("--T", type=float, default=0.0, help="temperature k_B T, energy unit of the model (default 0; --disorder: --method chebyshev only, > 0)")
    parser.add_argument("--eta", type=float, default=None, help="broadening hbar eta (default 0: intrinsic; --edelstein: 0.01; refused with --disorder)")
    parser.add_argument("--units", default="physical", help="physical (model in Angstrom/eV) or natural (default physical)")
    parser.add_argument("--edelstein", action="store_true", help="the accumulation <O> per unit field instead of the Hall current")
    parser.add_argument("--no-convergence", dest="convergence", action="store_false", help="skip the second (N_k/2) grid")
    parser.add_argument("--win", default=None, help="Wannier90 .win file (cell, projections) for _hr.dat/_tb.dat")
    parser.add_argument("--orbitals", default=None, help="orbital spec for _hr.dat/_tb.dat, e.g. 'Ti: s,p,d'")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="local processes sharing the k points, one BLAS thread each (default 1)")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar on stderr (auto: when stderr is a terminal)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc or FILE.csv atomically (--disorder: FILE.nc)")
    add_disorder_arguments(parser)


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
    nk = max(args.N_k or DEFAULT_N_K, 16)
    E_F = model.fermi_level(per_state, N_k=nk, T=args.T)
    return {"E_F": E_F, "electrons": float(electrons), "source": source + f", clean bands on the {nk}^{model.periodic} grid"}


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
    for mu, at, comp, v in _tensor_entries(ds, ds[name], name):
        err = f" +- {float(ds.error_estimate.values[at]):.3g}" if has_err else ""
        lines.append(f"mu = {mu:g}: {comp} = {v:.6g}{err}")
    if "note" in a:
        lines.append(f"note: {a['note']}")
    lines.append(f"cpu {a['cpu_seconds']:.2f} s, wall {a['wall_seconds']:.2f} s (estimate: {a['estimate']})")
    return lines


def _tensor_entries(ds, val, name, mu_index=None):
    """``(mu, index, label, value)`` of every computed (non-NaN) component of ``val`` (dims ``mu`` first, then
    ``gamma, alpha, beta`` or ``gamma, alpha``): label ``name^gamma_alphabeta``, or ``name[alphabeta]`` for charge."""
    import numpy as np

    dims = [d for d in val.dims if d != "mu"]
    rows = range(ds.sizes["mu"]) if mu_index is None else (mu_index,)
    for i in rows:
        for idx in np.ndindex(*[val.sizes[d] for d in dims]):
            v = float(val.values[(i,) + idx])
            if np.isnan(v):
                continue
            labels = [str(ds[d].values[j]) for d, j in zip(dims, idx)]
            g, rest = labels[0], "".join(labels[1:])
            yield float(ds.mu.values[i]), (i,) + idx, (f"{name}[{rest}]" if g == "charge" else f"{name}^{g}_{rest}"), v


def run(args):
    from ..materials.hall import edelstein, hall_conductivity
    from ..materials.load import load_model

    if args.disorder is not None:
        return run_disordered(args)
    refuse_disorder_options(args)
    if args.N_k is None:
        args.N_k = DEFAULT_N_K
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
    return _finish(ds, model, fermi, out, summary, "Fermi energy measured from E_F (--electrons)")


def _finish(ds, model, fermi, out, lines, description):
    """Record ``E_F`` (``--electrons``) on ``ds``, write ``--out`` atomically, print the summary ``lines(ds)``."""
    if fermi is not None:
        ds.attrs["fermi_level"] = fermi["E_F"]
        ds.attrs["electrons_per_cell"] = fermi["electrons"]
        ds.attrs["fermi_level_source"] = fermi["source"]
        ds = ds.assign_coords(E_minus_E_F=("mu", ds.mu.values - fermi["E_F"]))
        ds["E_minus_E_F"].attrs.update(units=ds.mu.attrs.get("units", model.energy_unit), description=description)
    if out is not None:
        write(ds, out)
    if fermi is not None:
        print(f"E_F = {fermi['E_F']:.6g} {model.energy_unit} for {fermi['electrons']:g} electrons per cell ({fermi['source']}); mu below = E_F + offset")
    for line in lines(ds):
        print(line)
    if out is not None:
        print(f"wrote {out}", file=sys.stderr)
    return 0


# =============================================================================== disorder
#: ``--disorder`` kinds of ``orbsym hall`` (the on-site kinds of :data:`orbsym.commands.sites.DISORDER_KINDS`):
#: name -> (distribution, correlation of :mod:`orbsym.materials.born`, meaning).
HALL_DISORDER_KINDS = {
    "anderson": ("uniform", "orbital-independent", "one energy per atom on all its orbitals (and spins), uniform in [-W/2, W/2]"),
    "anderson-gauss": ("gaussian", "orbital-independent", "one energy per atom on all its orbitals (and spins), Gaussian of standard deviation W"),
    "anderson-orbital": ("uniform", "per-orbital", "an independent energy on every basis orbital (spin-orbital), uniform in [-W/2, W/2]"),
}
METHODS = ("scba", "chebyshev")
#: What the SCBA + ladder evaluation leaves out (printed and stored with every result).
SCBA_NEGLECTS = ("neglects the crossed (weak-localization) diagrams, O(1/(k_F l)), and the third-cumulant skew scattering; "
                 "T = 0; the k grid must resolve Gamma (the N_k/2 difference is the estimate)")
#: One-core seconds per contour node and k point of born.disordered_conductivity: fixed, per n^3, per entry of
#: the ladder map (min(n^4, d^2), d = entries of the local self-energy), measured on the s-p square model (n = 3)
#: and Cu (n = 9; orbital-independent d = 81 and per-orbital d = 9), load ~2 on the shared 2-core machine;
#: within a factor ~2.  More field directions add ~1/6 each.
_SCBA_COST = (6e-6, 6e-8, 1e-9)
#: Seconds per (nonzero x vector) of a sparse product, per moment^2 x state x vector and per quadrature energy x
#: moment^2 x vector (measured: 24 x 24 and 64 x 64 tori of the s-p model, 96 and 256 moments, load ~2; within a factor 2).
_CHEB_COST = (7e-9, 1.5e-9, 2e-9)
CHEB_DEFAULTS = {"size": 32, "realizations": 4, "seed": 0, "moments": 128, "vectors": 4}
SCBA_DEFAULT_SEA = 40


def add_disorder_arguments(parser):
    kinds = ", ".join(f"{k}:W" for k in HALL_DISORDER_KINDS)
    g = parser.add_argument_group("disorder (disorder-averaged conductivity)")
    g.add_argument("--disorder", default=None, metavar="KIND:W",
                   help=f"on-site Anderson disorder of strength W (energy unit of the model): {kinds}; the disorder-averaged conductivity "
                        "(orbsym.materials.born.disordered_conductivity or the Chebyshev Kubo-Bastin engine)")
    g.add_argument("--method", default=None, choices=METHODS,
                   help="--disorder: scba (default: self-consistent Born + ladder vertex corrections, k space, T = 0; the bubble is reported too) "
                        "or chebyshev (2D models: real-space Kubo-Bastin averaged over disordered tori)")
    g.add_argument("--no-ladder", dest="ladder", action="store_false", default=None,
                   help="--method scba: headline value sigma = the SCBA bubble (without vertex corrections; both are always computed and printed)")
    g.add_argument("--sea-points", dest="sea_points", type=int, default=None, metavar="N",
                   help=f"--method scba: Gauss-Legendre nodes of the Fermi-sea contour (default {SCBA_DEFAULT_SEA})")
    g.add_argument("--size", type=int, default=None, metavar="L", help=f"--method chebyshev: L x L torus (default {CHEB_DEFAULTS['size']})")
    g.add_argument("--realizations", type=int, default=None, metavar="N",
                   help=f"--method chebyshev: disorder realizations (default {CHEB_DEFAULTS['realizations']}; the standard error needs >= 2)")
    g.add_argument("--seed", type=int, default=None, metavar="S",
                   help="--method chebyshev: realization r uses the disorder stream numpy.random.default_rng([S + r, 21]) and the random vectors "
                        f"of kubo_bastin(seed=S + r) (default {CHEB_DEFAULTS['seed']})")
    g.add_argument("--moments", type=int, default=None, metavar="N", help=f"--method chebyshev: Chebyshev moments N (resolution pi a / N; default {CHEB_DEFAULTS['moments']})")
    g.add_argument("--vectors", type=int, default=None, metavar="R", help=f"--method chebyshev: random vectors per realization (default {CHEB_DEFAULTS['vectors']})")


_DISORDER_ONLY = (("--method", "method"), ("--no-ladder", "ladder"), ("--sea-points", "sea_points"), ("--size", "size"),
                  ("--realizations", "realizations"), ("--seed", "seed"), ("--moments", "moments"), ("--vectors", "vectors"))


def refuse_disorder_options(args):
    """The options of ``--disorder`` without it: refused."""
    for flag, attr in _DISORDER_ONLY:
        if getattr(args, attr, None) is not None:
            raise ValueError(f"{flag} applies only with --disorder KIND:W (a disorder-averaged conductivity); add --disorder or drop {flag}")


def parse_hall_disorder(text):
    """``KIND:W`` -> ``(kind, W, distribution, correlation)``; one on-site kind of :data:`HALL_DISORDER_KINDS`."""
    allowed = ", ".join(f"{k}:W" for k in HALL_DISORDER_KINDS)
    text = str(text).strip()
    if "," in text:
        raise ValueError(f"--disorder {text!r}: orbsym hall takes one disorder kind (KIND:W); allowed: {allowed}")
    kind, sep, value = text.partition(":")
    kind = kind.strip().lower()
    if kind not in HALL_DISORDER_KINDS:
        from .sites import DISORDER_KINDS

        other = " (a real-space kind of orbsym sites/compute/response, not of the bulk average)" if kind in DISORDER_KINDS else ""
        raise ValueError(f"--disorder {text!r}: unknown disorder kind {kind!r}{other}; allowed: {allowed}")
    if not sep or not value.strip():
        raise ValueError(f"--disorder {text!r}: {kind} needs its strength W (energy unit of the model), e.g. --disorder {kind}:0.5")
    try:
        W = float(value)
    except ValueError:
        raise ValueError(f"--disorder {text!r}: strength {value.strip()!r} is not a number") from None
    if not math.isfinite(W) or W < 0:
        raise ValueError(f"--disorder {text!r}: the strength W must be a finite number > 0, got {value.strip()}")
    if W == 0:
        raise ValueError(f"--disorder {text!r}: W = 0 is the clean crystal; drop --disorder (orbsym hall without it: --eta for a constant broadening)")
    dist, corr, _ = HALL_DISORDER_KINDS[kind]
    return kind, W, dist, corr


def check_disorder_args(args, model):
    """Refuse, before any work, the options that do not apply to the chosen method; fill the defaults."""
    method = args.method or "scba"
    common = [("--eta", args.eta is not None, "the broadening is the disorder's own (SCBA self-energy; chebyshev: the disorder plus the kernel resolution)"),
              ("--edelstein", args.edelstein, "the disorder-averaged Edelstein response is not implemented (Hall currents only)"),
              ("--workers", args.workers != 1, "the disorder engines run in one process"),
              ]
    if method == "scba":
        common += [(flag, getattr(args, attr) is not None, "it belongs to --method chebyshev")
                   for flag, attr in (("--size", "size"), ("--realizations", "realizations"), ("--seed", "seed"), ("--moments", "moments"), ("--vectors", "vectors"))]
        common.append(("--T", args.T != 0, "the SCBA + ladder engine is T = 0 (Fermi-surface and Fermi-sea terms at the Fermi energy); --method chebyshev takes --T > 0"))
    else:
        common += [("--no-ladder", args.ladder is not None, "the real-space average contains every diagram (no ladder to switch off)"),
                   ("--sea-points", args.sea_points is not None, "it belongs to --method scba"),
                   ("--N-k", args.N_k is not None, "the real-space engine works on an L x L torus: use --size L"),
                   ("--no-convergence", not args.convergence, "the uncertainty of --method chebyshev is the standard error over realizations")]
    for flag, on, why in common:
        if on:
            raise ValueError(f"{flag} does not apply with --disorder (--method {method}): {why}")
    if method == "chebyshev":
        if model.periodic != 2:
            raise ValueError(f"--method chebyshev builds 2D tori; {model.name!r} is a {model.periodic}D crystal: use --method scba (k space, 2D and 3D)")
        if args.T <= 0:
            raise ValueError("--method chebyshev needs a temperature --T > 0 (the Fermi function of the Kubo-Bastin expansion), e.g. --T 0.02 (energy unit of the model)")
        opts = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in CHEB_DEFAULTS.items()}
        for k, lo in (("size", 2), ("realizations", 1), ("moments", 2), ("vectors", 2)):
            if opts[k] < lo:
                raise ValueError(f"--{k} must be an integer >= {lo}, got {opts[k]}")
        if opts["seed"] < 0:
            raise ValueError(f"--seed must be an integer >= 0, got {opts['seed']}")
        return method, opts
    N_k = DEFAULT_N_K if args.N_k is None else args.N_k
    if N_k < 2:
        raise ValueError(f"--N-k must be an integer >= 2 (k points per direction), got {N_k}")
    n_sea = SCBA_DEFAULT_SEA if args.sea_points is None else args.sea_points
    if n_sea < 2:
        raise ValueError(f"--sea-points must be an integer >= 2, got {n_sea}")
    return method, {"N_k": N_k, "n_sea": n_sea, "ladder": args.ladder is None, "convergence": args.convergence}


def _local_size(model, correlation):
    """``d``: entries of the local self-energy (``sum_a n_a^2`` or ``n``)."""
    if correlation == "per-orbital":
        return model.n
    import collections

    counts = collections.Counter(o.atom for o in model.basis)
    return sum(c * c for c in counts.values())


def scba_estimate(model, correlation, N_k, n_sea, n_mu, n_fields, convergence):
    """Memory and one-core time of the SCBA + ladder runs (:func:`orbsym.materials.born.disordered_conductivity` per ``mu``).

    Per contour node (``n_sea + 1`` with the Fermi level) and k point: ``c0 + c1 n^3 + c2 min(n^4, d^2)`` seconds
    (:data:`_SCBA_COST`; the SCBA inversions, the ladder map on ``d`` local entries), times ``(5 + fields) / 6``;
    memory ``16 nk n^2 x 24`` bytes (H, velocities, Green's functions on the grid) plus the 64 MiB chunks of the
    ladder map.  The ``N_k/2`` convergence grid adds its time."""
    from ..numeric.budget import ResourceEstimate

    n, d = model.n, _local_size(model, correlation)
    grids = [N_k] + ([max(2, N_k // 2)] if convergence and N_k // 2 >= 2 and N_k // 2 != N_k else [])
    c0, c1, c2 = _SCBA_COST
    secs = sum(float(N) ** model.periodic for N in grids) * (n_sea + 1) * n_mu * (c0 + c1 * n**3 + c2 * min(n**4, d * d)) * (5 + n_fields) / 6
    nk = float(N_k) ** model.periodic
    nbytes = 16.0 * nk * n * n * 24 + 64 * 2**20 + 2**26
    return ResourceEstimate("SCBA + ladder (k space)", nbytes, secs,
                            f"{n_mu} Fermi energ{'y' if n_mu == 1 else 'ies'} x {n_sea + 1} contour nodes x {nk:.3g} k points (N_k = {N_k}, {model.periodic}D"
                            f"{', and the N_k/2 grid' if len(grids) > 1 else ''}) of {n} x {n} blocks, {d} local entries, {n_fields} field direction(s)")


def chebyshev_estimate(model, L, moments, vectors, realizations, n_comp):
    """Memory and one-core time of ``realizations x components`` Kubo-Bastin expansions on the ``L x L`` torus.

    Per expansion (:func:`orbsym.numeric.chebyshev.kubo_bastin`): ``~3 N`` sparse products per vector
    (``nnz`` of the torus Hamiltonian each), ``N^2`` moments per state and vector and the energy quadrature
    (``max(8 N, 2048)`` energies x ``N^2`` per vector); memory the ``N + 20``
    stored vectors of up to 16 random vectors and the sparse matrices."""
    import numpy as np

    from ..numeric.budget import ResourceEstimate

    states = L * L * model.n
    nnz = float(L * L) * sum(int(np.count_nonzero(np.asarray(h))) for h in model.H)
    n_energy = max(8 * moments, 2048)
    one = vectors * (3 * moments * nnz * _CHEB_COST[0] + moments * moments * states * _CHEB_COST[1] + n_energy * moments * moments * _CHEB_COST[2])
    nbytes = min(vectors, 16) * (moments + 20) * states * 16.0 + 6 * nnz * 24 + 2**24
    return ResourceEstimate("Chebyshev Kubo-Bastin (real space)", nbytes, one * realizations * n_comp,
                            f"{realizations} realization(s) x {n_comp} component(s) x {vectors} vectors x {moments}^2 moments on {states} states "
                            f"({L} x {L} torus, ~{nnz:.3g} nonzeros)")


def _disorder_components(model, components, operator):
    """``(index tuples (g, a, b), born component strings, gamma labels)``; default zxy (xy for the charge current)."""
    from ..materials.hall import _axes, _components, _operator

    O, gammas, what = _operator(model, operator)
    axes = _axes(model)
    if components is None:
        components = "xy" if O is None else "zxy"
    comps = _components(components, gammas, axes)
    names = [(axes[a] + axes[b]) if O is None else ("xyz"[g] + axes[a] + axes[b]) for g, a, b in comps]
    return O, gammas, what, comps, names


def _gap_at(model, mu, N_k):
    """True when no band of the clean model crosses ``mu`` on the ``N_k`` grid (mu in a gap)."""
    import numpy as np

    from ..materials.hall import monkhorst_pack

    E = np.linalg.eigvalsh(model.hamiltonian(model.k_cartesian(monkhorst_pack(N_k, model.periodic))))
    return not np.any((E.min(axis=0) <= mu) & (E.max(axis=0) >= mu))


def _scba_point(model, mu, W, dist, corr, op, names, N_k, n_sea, units):
    """One ``disordered_conductivity`` call, with the collapse check of the SCBA on a grid too coarse for Gamma."""
    import numpy as np

    from ..materials.born import disordered_conductivity

    r = disordered_conductivity(model, mu, W, operator=op, components=names, distribution=dist, correlation=corr, N_k=N_k, n_sea=n_sea, units=units)
    collapsed = float(np.max(np.abs(r.gamma))) <= 1e-8 * W
    if collapsed and not _gap_at(model, mu, N_k):
        raise RuntimeError(f"the SCBA at mu = {mu:g} collapsed to Gamma = 0 on the N_k = {N_k} grid although bands cross mu: the grid does not "
                           f"resolve the disorder broadening (its level spacing exceeds Gamma); raise --N-k")
    return r, collapsed


def grid_resolution(model, mu, gamma, N_k):
    """Energy spacing of the k grid at the Fermi level, ``dE = <|v|>_FS |b|_max / N_k`` (energy unit).

    ``<|v|>_FS``: the band velocities ``|d E_n / d k|`` (diagonal of ``v`` in the eigenbasis) averaged with the
    Lorentzian weight of width ``gamma`` around ``mu``; ``|b|_max`` the longest reciprocal lattice vector of the
    periodic directions.  The SCBA sums resolve the broadening when ``dE`` is below ``Gamma``."""
    import numpy as np

    from ..materials.hall import monkhorst_pack

    k = model.k_cartesian(monkhorst_pack(N_k, model.periodic))
    E, U = np.linalg.eigh(model.hamiltonian(k))
    v = model.velocity(k)
    speed = np.sqrt(sum(np.abs(np.einsum("kni,kij,kjn->kn", U.conj().transpose(0, 2, 1), v[a], U)) ** 2 for a in range(model.periodic)))
    w = gamma / ((E - mu) ** 2 + gamma**2)
    vF = float((w * speed).sum() / max(w.sum(), 1e-300))
    bmax = float(np.linalg.norm(np.asarray(model.reciprocal)[: model.periodic], axis=1).max())
    return vF * bmax / N_k


def _gamma_labels(model):
    out = []
    for i, o in enumerate(model.basis):
        spin = "" if o.spin is None else ("up" if o.spin > 0 else "dn")
        out.append(f"{i}:{model.atoms[o.atom].name}:{o.label}{':' + spin if spin else ''}")
    return out


def _unit_for(model, units, charge):
    """The unit string of hall.py for ``units`` (natural or physical; charge channel without hbar/e)."""
    from ..conventions import physical_response

    if units == "physical":
        factor, unit = physical_response(1.0, "hall", model.periodic)
        return factor, (unit.replace("(hbar/e) ", "") if charge else unit)
    if model.periodic == 2:
        return 1.0, "dimensionless (e^2/hbar = 1) per unit force qE"
    return 1.0, f"{model.length_unit}^{2 - model.periodic} per unit force qE (e = hbar = 1)"


def run_disordered(args):
    """``orbsym hall MODEL --disorder KIND:W``: the disorder-averaged conductivity (SCBA + ladder or Chebyshev)."""
    import time

    import numpy as np

    from ..materials.load import load_model
    from ..numeric.budget import check_resources

    kind, W, dist, corr = parse_hall_disorder(args.disorder)
    out = args.out
    if out is not None:
        from ..io import check_output_file

        out = check_output_file(out, "--out", "ohc.nc")
        if out.suffix != ".nc":
            raise ValueError(f"--out {str(args.out)!r}: the disorder-averaged result is written as NetCDF (FILE.nc: every part, Gamma per orbital, "
                             "standard errors, with units); the summary goes to stdout")
    mus = parse_mus(args.mu, args.mu_range)
    if args.units not in ("physical", "natural"):
        raise ValueError(f"--units must be physical or natural, got {args.units!r}")
    if not (math.isfinite(args.T) and args.T >= 0):
        raise ValueError(f"--T must be a finite number >= 0, got {args.T}")
    model = load_model(args.model, **loader_options(args))
    method, opts = check_disorder_args(args, model)
    if args.units == "physical" and model.length_unit != "Angstrom":
        raise ValueError(f"--units physical needs a model in Angstrom and eV; {model.name!r} is in {model.length_unit}, {model.energy_unit}: use --units natural")
    O, gammas, op_text, comps, names = _disorder_components(model, args.components, args.operator)
    fermi = fermi_level(model, args, mus)
    if fermi is not None:
        mus = fermi["E_F"] + (0.0 * mus[:1] if args.mu is None and args.mu_range is None else mus)
    progress = {"auto": None, "on": True, "off": False}[args.progress]
    if method == "scba":
        est = scba_estimate(model, corr, opts["N_k"], opts["n_sea"], mus.size, len({c[-1] for c in comps}), opts["convergence"])
        est = check_resources(est, what=f"the SCBA + ladder conductivity of {model.name!r}",
                              hint=f"reduce --N-k (work ~ N_k^{model.periodic}), --sea-points, the Fermi energies or use --no-convergence")
        t0, c0 = time.perf_counter(), time.process_time()
        ds = _run_scba(model, mus, W, dist, corr, args.operator, comps, names, gammas, opts, args.units, progress)
    else:
        if O is not None:
            atom = np.array([o.atom for o in model.basis])
            if np.abs(np.where(atom[:, None] != atom[None, :], 1, 0)[None] * O).max() > 1e-12:
                raise ValueError(f"operator {args.operator!r} of {model.name!r} couples different atoms; the real-space engine keeps its atom blocks only: use --method scba")
        est = chebyshev_estimate(model, opts["size"], opts["moments"], opts["vectors"], opts["realizations"], len(comps))
        est = check_resources(est, what=f"the Chebyshev Kubo-Bastin average of {model.name!r}",
                              hint="reduce --size, --moments, --vectors, --realizations or the components")
        t0, c0 = time.perf_counter(), time.process_time()
        ds = _run_chebyshev(model, mus, W, kind, dist, corr, O, comps, names, gammas, opts, args.T, args.units, progress)
    ds.attrs.update({
        "model": model.name, "operator": op_text, "current": CURRENT_TEXT, "disorder": f"{kind}:{W:g}", "disorder_kind": kind, "W": W,
        "distribution": dist, "correlation": corr, "disorder_description": HALL_DISORDER_KINDS[kind][2], "method": method,
        "periodic": model.periodic, "energy_unit": model.energy_unit, "length_unit": model.length_unit, "T": float(args.T),
        "cpu_seconds": time.process_time() - c0, "wall_seconds": time.perf_counter() - t0, "estimate": est.describe(),
        "conventions": "orbsym.conventions (Materials); sign of orbsym.materials.hall",
    })
    from ..materials.hall import SIGN_CONVENTION

    ds.attrs["sign_convention"] = SIGN_CONVENTION[args.units]
    return _finish(ds, model, fermi, out, disorder_summary, "Fermi energy measured from the clean E_F (--electrons)")


CURRENT_TEXT = "conventional current j^gamma_alpha = {v_alpha, O_gamma}/2, v = i[H, r]; Kubo-Bastin (Fermi surface + Fermi sea)"


def _tensor_dims(model, gammas, n_mu):
    from ..materials.hall import _axes

    axes = _axes(model)
    return axes, (n_mu, len(gammas), len(axes), len(axes))


def _run_scba(model, mus, W, dist, corr, operator, comps, names, gammas, opts, units, progress):
    """SCBA + ladder at every ``mu`` (one :func:`born.disordered_conductivity` call each) and on the N_k/2 grid."""
    import numpy as np
    import xarray as xr

    from ..execution import progress_bar

    axes, shape = _tensor_dims(model, gammas, mus.size)
    N_k, n_sea = opts["N_k"], opts["n_sea"]
    coarse = max(2, N_k // 2) if opts["convergence"] and N_k // 2 >= 2 and N_k // 2 != N_k else None
    keys = ("total", "total_bare", "fermi_surface", "fermi_surface_bare", "fermi_sea", "fermi_sea_ladder")
    vals = {k: np.full(shape, np.nan) for k in keys}
    coarse_tot = np.full(shape, np.nan)
    gam = np.zeros((mus.size, model.n))
    dE = np.full(mus.size, np.nan)
    sig_re = np.zeros((mus.size, model.n))
    gapped, iters, unit = [], [], None
    bar = progress_bar(mus.size * (2 if coarse else 1), desc="orbsym hall (SCBA)", progress=progress, unit="solve")
    try:
        for i, mu in enumerate(mus):
            r, collapsed = _scba_point(model, float(mu), W, dist, corr, operator, names, N_k, n_sea, units)
            bar.update(1)
            unit = r.units
            gapped.append(int(collapsed))
            iters.append(int(r.info["scba_iterations"]))
            gam[i] = r.gamma
            sig_re[i] = np.diag(r.sigma).real
            g_ref = float(np.min(r.gamma)) if not collapsed else 0.0
            dE[i] = grid_resolution(model, float(mu), max(g_ref, 1e-12), N_k) if not collapsed else np.nan
            for c, name in zip(comps, names):
                for k in keys:
                    vals[k][(i,) + c] = getattr(r, k)[name]
            if coarse:
                try:
                    rc, _ = _scba_point(model, float(mu), W, dist, corr, operator, names, coarse, n_sea, units)
                    for c, name in zip(comps, names):
                        coarse_tot[(i,) + c] = (rc.total if opts["ladder"] else rc.total_bare)[name]
                except RuntimeError:  # the coarse grid does not resolve Gamma: no estimate (NaN)
                    pass
                bar.update(1)
    finally:
        bar.close()
    charge = gammas == ("charge",)
    if charge:
        unit = _unit_for(model, units, True)[1]
    head = "total" if opts["ladder"] else "total_bare"
    which = "SCBA + ladder (vertex corrections in the R-A and R-R terms)" if opts["ladder"] else "SCBA bubble (no vertex corrections; --no-ladder)"
    dims = ("mu", "gamma", "alpha", "beta")
    ladder, bubble = vals["total"], vals["total_bare"]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (ladder - bubble) / ladder
    data = {
        "sigma": (dims, vals[head], {"units": unit, "description": f"disorder-averaged conductivity of j^gamma_alpha to E_beta: {which}"}),
        "sigma_ladder": (dims, ladder, {"units": unit, "description": "SCBA + ladder: fermi_surface + fermi_sea_ladder"}),
        "sigma_bubble": (dims, bubble, {"units": unit, "description": "SCBA bubble (no vertex corrections): fermi_surface_bubble + fermi_sea"}),
        "fermi_surface": (dims, vals["fermi_surface"], {"units": unit, "description": "Fermi-surface (R-A) term with the ladder-dressed vertex"}),
        "fermi_surface_bubble": (dims, vals["fermi_surface_bare"], {"units": unit, "description": "Fermi-surface (R-A) term, bare vertex"}),
        "fermi_sea": (dims, vals["fermi_sea"], {"units": unit, "description": "Fermi-sea (R-R) term with SCBA Green's functions, bare vertex"}),
        "fermi_sea_ladder": (dims, vals["fermi_sea_ladder"], {"units": unit, "description": "Fermi-sea (R-R) term with the R-R ladder"}),
        "vertex_share": (dims, share, {"units": "1", "description": "vertex-correction share (sigma_ladder - sigma_bubble) / sigma_ladder"}),
        "Gamma": (("mu", "orbital"), gam, {"units": model.energy_unit, "description": "SCBA broadening Gamma = -Im Sigma(E_F) per basis orbital (hbar / 2 tau)"}),
        "grid_spacing": ("mu", dE, {"units": model.energy_unit, "description": "energy spacing of the k grid at E_F, <|v|>_FS |b|_max / N_k "
                                                                                 "(converged when well below min Gamma; NaN: Gamma = 0, mu in a gap)"}),
        "Sigma_real": (("mu", "orbital"), sig_re, {"units": model.energy_unit, "description": "Re Sigma(E_F) per basis orbital (SCBA level shift)"}),
    }
    if coarse:
        data["sigma_coarse"] = (dims, coarse_tot, {"units": unit, "description": f"sigma on the coarser grid N_k = {coarse} (NaN: that grid does not resolve Gamma)"})
        data["error_estimate"] = (dims, np.abs(vals[head] - coarse_tot), {"units": unit, "description": f"k-grid error estimate |sigma(N_k = {N_k}) - sigma(N_k = {coarse})|"})
    coords = {"mu": ("mu", mus, {"units": model.energy_unit, "description": "Fermi energy (T = 0)"}), "gamma": list(gammas), "alpha": list(axes),
              "beta": list(axes), "orbital": _gamma_labels(model)}
    attrs = {
        "calculation": "orbsym disorder-averaged Hall conductivity", "units": unit,
        "engine": "k-space Kubo-Bastin with SCBA Green's functions and ladder vertex corrections (orbsym.materials.born.disordered_conductivity)",
        "headline": which, "neglected": SCBA_NEGLECTS, "N_k": N_k, "N_k_coarse": coarse or -1, "n_sea": n_sea, "gamma2": float(r.gamma2),
        "ladder": int(opts["ladder"]), "seeds": "none (the average is analytic)", "mu_in_gap": json.dumps(gapped), "scba_iterations": str(iters),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def realization_disorder(model, L, kind, W, seed):
    """The on-site energies of one realization: ``(L, L, n_atoms)`` (anderson, anderson-gauss) or ``(L, L, n)`` (anderson-orbital),
    drawn from ``numpy.random.default_rng([seed, 21])`` (independent of the random vectors of ``kubo_bastin(seed=seed)``)."""
    import numpy as np

    rng = np.random.default_rng([int(seed), 21])
    if kind == "anderson-orbital":
        return rng.uniform(-W / 2, W / 2, (L, L, model.n))
    if kind == "anderson-gauss":
        return rng.normal(0.0, W, (L, L, len(model.atoms)))
    return rng.uniform(-W / 2, W / 2, (L, L, len(model.atoms)))


def _run_chebyshev(model, mus, W, kind, dist, corr, O, comps, names, gammas, opts, T, units, progress):
    """Average of :func:`orbsym.numeric.chebyshev.kubo_bastin` over disordered ``L x L`` tori; standard error over realizations."""
    import numpy as np
    import xarray as xr

    from ..execution import progress_bar
    from ..numeric.chebyshev import SparseSample, kubo_bastin

    L, Rn, S, N, nv = opts["size"], opts["realizations"], opts["seed"], opts["moments"], opts["vectors"]
    axes, shape = _tensor_dims(model, gammas, mus.size)
    charge = O is None
    factor, unit = _unit_for(model, units, charge)
    per = np.full((Rn,) + shape, np.nan)
    vec_se = np.full((Rn,) + shape, np.nan)
    res = []
    bar = progress_bar(Rn * len(comps), desc="orbsym hall (Chebyshev)", progress=progress, unit="expansion")
    try:
        for r in range(Rn):
            d = realization_disorder(model, L, kind, W, S + r)
            sample = SparseSample.from_tight_binding(model, (L, L), onsite_disorder=d, generators=None if charge else O)
            for c in comps:
                g, a, b = c
                kb = kubo_bastin(sample, axes[a], axes[b], None if charge else "xyz"[g], T=T, mu=mus, n_moments=N, n_vectors=nv, seed=S + r)
                per[(r, slice(None)) + c] = kb.sigma * factor
                vec_se[(r, slice(None)) + c] = kb.sigma_se * factor
                res.append(kb.resolution)
                bar.update(1)
    finally:
        bar.close()
    mean = per.mean(axis=0)
    se = per.std(axis=0, ddof=1) / math.sqrt(Rn) if Rn > 1 else np.full(shape, np.nan)
    vse = np.sqrt((vec_se**2).sum(axis=0)) / Rn
    dims = ("mu", "gamma", "alpha", "beta")
    data = {
        "sigma": (dims, mean, {"units": unit, "description": f"disorder-averaged conductivity of j^gamma_alpha to E_beta: mean of {Rn} realizations of the real-space Kubo-Bastin expansion"}),
        "standard_error": (dims, se, {"units": unit, "description": "standard error of sigma over realizations (std / sqrt(N), ddof 1; includes the random-vector noise); NaN for one realization"}),
        "vector_standard_error": (dims, vse, {"units": unit, "description": "the random-vector (stochastic trace) part of the error of the mean: sqrt(sum_r se_r^2) / N"}),
        "sigma_realizations": (("realization",) + dims, per, {"units": unit, "description": "sigma of every realization"}),
    }
    coords = {"mu": ("mu", mus, {"units": model.energy_unit, "description": "chemical potential"}), "gamma": list(gammas), "alpha": list(axes),
              "beta": list(axes), "realization": ("realization", np.arange(Rn), {"units": "1", "description": "realization index r (seed S + r)"})}
    attrs = {
        "calculation": "orbsym disorder-averaged Hall conductivity", "units": unit,
        "engine": "real-space Kubo-Bastin, 2D Chebyshev expansion with the Jackson kernel (orbsym.numeric.chebyshev.kubo_bastin) on disordered L x L tori",
        "size": L, "sample": f"{L} x {L} torus of {L * L * model.n} states", "realizations": Rn, "seed": S,
        "seeds": str([S + r for r in range(Rn)]), "disorder_rng": "numpy.random.default_rng([S + r, 21]); random vectors kubo_bastin(seed=S + r)",
        "moments": N, "vectors": nv, "resolution": float(np.max(res)),
        "neglected": (f"nothing diagrammatic (every scattering order of the {L} x {L} torus); the Jackson kernel adds a broadening ~ pi a / N = "
                      f"{float(np.max(res)):.3g} {model.energy_unit}, and the finite torus (level spacing) must be finer than the disorder broadening"),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def disorder_summary(ds):
    """Lines: method, disorder, units, Gamma per orbital, then every component (value, error, bubble/ladder share)."""
    import numpy as np

    a = ds.attrs
    scba = a["method"] == "scba"
    lines = [f"model {a['model']}; operator: {a['operator']}; disorder {a['disorder']} ({a['disorder_description']}; {a['energy_unit']})",
             f"method: {a['method']}: {a['engine']}"]
    if scba:
        lines.append(f"N_k = {a['N_k']} ({a['periodic']}D grid), T = 0, {a['n_sea']} Fermi-sea contour nodes; gamma2 = {a['gamma2']:.6g} {a['energy_unit']}^2")
    else:
        lines.append(f"sample {a['sample']}, {a['realizations']} realization(s), seeds {a['seeds']}, {a['moments']} moments "
                     f"(resolution pi a/N = {a['resolution']:.3g} {a['energy_unit']}), {a['vectors']} random vectors, T = {a['T']:g} {a['energy_unit']}")
    lines.append(f"current: {a['current']}")
    lines.append(f"units: {a['units']}; sign: {a['sign_convention']}")
    lines.append(f"neglects: {a['neglected']}" if not scba else f"scba {a['neglected']}")
    for i, mu in enumerate(ds.mu.values):
        if scba:
            g = ds.Gamma.values[i]
            lines.append(f"mu = {mu:g}: Gamma = -Im Sigma(E_F) per orbital [{a['energy_unit']}]: " + ", ".join(f"{lab.split(':', 1)[1]} {x:.4g}" for lab, x in zip(ds.orbital.values, g))
                         + (" (mu in a gap of the clean bands: Gamma = 0)" if json.loads(a["mu_in_gap"])[i] else ""))
            dEi, gmin, gmax = float(ds.grid_spacing.values[i]), float(np.min(g)), float(np.max(g))
            if not np.isnan(dEi):
                verdict = ("below every Gamma: resolved" if dEi < gmin else "above every Gamma: NOT resolved (raise --N-k)" if dEi >= gmax
                           else "between the smallest and largest Gamma: partly resolved, see the N_k/2 difference")
                lines.append(f"mu = {mu:g}: k grid N_k = {a['N_k']}: level spacing <|v|>_FS |b|/N_k = {dEi:.3g} {a['energy_unit']}, "
                             f"Gamma {gmin:.3g} .. {gmax:.3g} {a['energy_unit']}: {verdict}")
        for _, at, comp, v in _tensor_entries(ds, ds.sigma, "sigma", i):
            if scba:
                err = ""
                if "error_estimate" in ds:
                    e = float(ds.error_estimate.values[at])
                    err = f" +- {e:.3g} (k grid: N_k/2 difference)" if not np.isnan(e) else f" (no k-grid estimate: N_k/2 = {a['N_k_coarse']} does not resolve Gamma)"
                lad, bub = float(ds.sigma_ladder.values[at]), float(ds.sigma_bubble.values[at])
                lines.append(f"mu = {mu:g}: {comp} = {v:.6g}{err} {a['units']} [{'SCBA + ladder' if a['ladder'] else 'SCBA bubble'}]; "
                             f"ladder {lad:.6g}, bubble {bub:.6g}, vertex-correction share (ladder - bubble)/ladder = {float(ds.vertex_share.values[at]):.3g}; "
                             f"Fermi surface {float(ds.fermi_surface.values[at]):.6g} (bubble {float(ds.fermi_surface_bubble.values[at]):.6g}), "
                             f"Fermi sea {float(ds.fermi_sea_ladder.values[at]):.6g} (bubble {float(ds.fermi_sea.values[at]):.6g})")
            else:
                se = float(ds.standard_error.values[at])
                err = f" +- {se:.3g} (standard error over {a['realizations']} realizations)" if not np.isnan(se) else \
                    f" +- {float(ds.vector_standard_error.values[at]):.3g} (random vectors only: one realization)"
                lines.append(f"mu = {mu:g}: {comp} = {v:.6g}{err} {a['units']}")
    lines.append(f"cpu {a['cpu_seconds']:.2f} s, wall {a['wall_seconds']:.2f} s (estimate: {a['estimate']})")
    return lines
