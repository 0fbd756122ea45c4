"""``orbsym response``: linear response to an electric field E_y or E_z (orbital Hall effect, orbital torque).

Examples::

    orbsym response bilayer --metal-model nnn.py --m-FM x --eta 0.05 --out profiles.nc
    orbsym response bilayer --metal-model cubic.py --N-z 32 --field z --m-FM x --out film_Ez.nc
    orbsym response bilayer --gamma 0.5 --scan mu=-1,-0.5,0,0.5 --out torque_vs_mu.csv
    orbsym response bulk --metal-model nnn.py --mu-range=-4:4:81 --N-k 400 --out ohc.csv
    orbsym response bilayer --metal-model nnn.py --N-x 10 --N-y 12 --disorder anderson:0.5 --realizations 16 --out dis.nc

Geometries ``trilayer``/``bilayer`` (options as ``orbsym compute``; ``--metal-model FILE.py`` takes a
model from ``orbsym hoppings --neighbours nn+nnn``): per column, the response of the densities
(OAM accumulation), x currents (slice-boundary totals) and y bond currents, and every torque term
(bond decomposition), for the parts total / fermi_surface / fermi_sea, plus the orbital torque
(exchange torque summed over the FM columns) and the driven continuity balance residual.
``--scan NAME=v1,v2,...`` repeats the computation for each value of one parameter (``gamma``,
``mu``, ``t``, ``m``, ``eta``, ``T``, ``N_x``) with a progress bar; columns are padded with NaN when
``N_x`` varies; films: ``--N-z N`` (and ``--scan N_z=...``), see below; ``--workers N`` computes the scan points on ``N`` local processes (the one
execution layer, :mod:`orbsym.execution`: a forked :func:`~orbsym.execution.process_pool`, one BLAS
thread per worker; default 1, in this process; the numbers do not depend on it).  Geometry ``bulk``: the intrinsic Hall conductivity ``sigma^{J_z}_{xy}(mu)`` of the
conventional current ``{v_x, J}/2`` on an ``N_k x N_k`` grid (``eta -> 0`` by default).

Films (trilayer/bilayer only): ``--N-z N`` makes the heterostructure a film of ``N`` cells periodic
along z (``N_y x N_z`` k grid, :func:`orbsym.systems.trilayer`; a ``--metal-model`` must then be a
3D model, e.g. :func:`orbsym.symbolic.models.cubic_t2g_metal`, and without ``--N-z`` a 2D one).
``--field z`` drives with ``E_z`` (velocity ``dh/dk_z``; films only), ``--field y`` (default) with
``E_y``.  Every film quantity is per site = per transverse cell ``a^2`` of one column, and the
output says so (units, ``field`` and ``N_z`` attributes; the NetCDF/JSON outputs also carry
``current_z``, the bond ``(0, 0, 1)`` current).  ``response bulk`` takes neither (its crystal is 2D,
``sigma_xy``).

Checked before any work (one line on stderr, exit status 2): every option must apply to the
chosen geometry (:data:`APPLIES`; e.g. ``--N-k``, ``--mu-range``, ``--polarization`` are bulk-only,
``--m-FM`` bilayer-only), to the basis and metal (``--gamma``/``--tp`` orbital, ``--w`` altermagnet,
``--spin-unit`` spin) and must not be defined by a ``--metal-model`` file; the file's ``params``
must name every parameter of its model (a missing one is never set to zero) and nothing else;
scan and ``--mu-range`` entries must be non-empty finite real numbers; the memory and time of the
whole run (every scan point, every chemical potential) are estimated
(:func:`orbsym.numeric.budget.bulk_hall_estimate`, :func:`orbsym.numeric.budget.kubo_estimate`) and
a run beyond the limits is refused with the estimate, naming ``N_k`` or ``N_x``, ``N_y``; ``--out``
is checked (with its path in the message) before anything is computed.  Films: ``--field z``
without ``--N-z`` (or ``--scan N_z``), ``--N-z``/``--field`` for ``bulk``, a 2D ``--metal-model``
with ``--N-z`` and a 3D one without are refused the same way, and the size estimate counts every
k_z sector (:func:`orbsym.numeric.budget.film_estimate`).

Output (the contract of every driven command): a summary on stdout, always -- the system with the
defaults used (``defaults used: --N-FM 1, --T 0.01, ...``), the field, the engine, ``T`` and ``eta``,
and per scan point the orbital torque on the FM, the largest accumulation and x current of each
component of J and the particle current along the field, with units and the current definition;
without ``--out`` the per-column profiles follow.  Where every k-even response of J (accumulation,
x currents, torques, orbital torque; bulk: ``sigma``) is zero to rounding at every point, one
``note:`` line says so (a symmetry zero, e.g. the paper's Eq. 3 metal: :func:`symmetry_zero_line`),
also recorded as the ``symmetry_zero`` attribute.  ``--out FILE`` with suffix ``.nc`` (NetCDF,
xarray: ``units`` and ``description`` on every variable and coordinate), ``.csv`` (long table; the
units of every column in ``#`` header lines; the ``point`` column, the scan index, only with
``--scan``, next to the scanned value) or ``.json`` (the same with every attribute), written
atomically (:mod:`orbsym.io`); ``--json`` prints that JSON document instead of the summary.  The
attribute ``points`` holds the full record of every scan point (system, T, eta, field, scanned
value); ``system`` holds the parameters common to all points (a scanned one as the list of its
values).  Units (stated in every output): response per unit force ``q E_y`` (``q E_z`` with
``--field z``), ``e = hbar = a = 1``, energies in units of t (:mod:`orbsym.response`).

Disorder (trilayer/bilayer; :mod:`orbsym.commands.disorder_options`): ``--disorder KIND:STRENGTH[,...]``,
``--disorder-file FILE.npz``, ``--realizations N``, ``--seed S`` run an ensemble of the Kubo response
(part ``total``) of the Gamma-only supercell of the ``N_x x N_y`` torus (:func:`orbsym.response.response`
with ``disorder=``), the driven per-site balance checked in every realization; ``--workers`` then
shares the realizations, ``--out`` must be ``FILE.nc``; ``--scan`` and the ``bulk`` geometry are refused
(bulk disorder: ``orbsym hall MODEL --disorder anderson:W``, SCBA + ladder in k space,
:mod:`orbsym.materials.born`, or ``--method chebyshev``, real-space tori).

Progress (``--progress {auto,on,off}``, :func:`orbsym.execution.progress_output`, the policy of every
long-running command): a tqdm bar on a terminal (:func:`orbsym.execution.progress_enabled`), one line at the start, every 30 s
(``ORBSYM_PROGRESS_INTERVAL``) and at the end otherwise -- never a carriage return into a log file;
``auto`` there stays silent for runs estimated under 2 s, ``on`` does not.
"""

from __future__ import annotations

import json
import math

NAME = "response"
HELP = "linear response to an electric field E_y or E_z (films): OAM accumulation, orbital Hall current, orbital torque; bulk orbital Hall conductivity"

GEOMETRIES = ("trilayer", "bilayer", "bulk")
SCAN_NAMES = ("gamma", "mu", "t", "m", "eta", "T", "N_x", "N_z")
#: Scan names whose values are integers >= 1 (sizes).
INT_SCANS = ("N_x", "N_z")
FIELDS = ("y", "z")
FORMATS = (".nc", ".csv", ".json")
PARTS = ("total", "fermi_surface", "fermi_sea")
POLS = ("charge", "x", "y", "z")


#: Where each option applies (dest -> (flag, geometries)); every option not listed applies to all.
#: An option given (not None: the parser's defaults are None sentinels, :func:`add_arguments`)
#: for a geometry outside its set is refused with its name and where it applies.
HETERO = ("trilayer", "bilayer")
APPLIES = {
    "N_x": ("--N-x", HETERO),
    "N_y": ("--N-y", HETERO),
    "N_FM": ("--N-FM", HETERO),
    "m_L": ("--m-L", ("trilayer",)),
    "m_R": ("--m-R", ("trilayer",)),
    "m_FM": ("--m-FM", ("bilayer",)),
    "m": ("--m", HETERO),
    "interface": ("--interface", HETERO),
    "spin_unit": ("--spin-unit", HETERO),
    "N_k": ("--N-k", ("bulk",)),
    "mu_range": ("--mu-range", ("bulk",)),
    "polarization": ("--polarization", ("bulk",)),
}
#: The film options (same rule as :data:`APPLIES`, checked by :func:`check_applicable`; kept apart
#: from the table of the 2D options).
FILM_APPLIES = {"N_z": ("--N-z", HETERO), "field": ("--field", HETERO)}
#: Scan names per geometry and the option each one replaces.
SCAN_APPLIES = {"gamma": ("trilayer", "bilayer", "bulk"), "mu": HETERO, "t": ("trilayer", "bilayer", "bulk"), "m": HETERO, "eta": ("trilayer", "bilayer", "bulk"),
                "T": ("trilayer", "bilayer", "bulk"), "N_x": HETERO, "N_z": HETERO}
#: Sentinel-free defaults of the options (filled in after the applicability check); set by add_arguments.
DEFAULTS = {}
#: Options whose "given or not" is tracked (argparse default None).
_TRACKED = ("basis", "metal", "N_x", "N_y", "N_FM", "m_L", "m_R", "m_FM", "m", "gamma", "tp", "w", "t", "mu", "T", "interface", "spin_unit",
            "N_k", "mu_range", "polarization", "N_z", "field")


def _count(flag, minimum):
    """argparse ``type`` of a count: an integer (``400``, or an integral ``1e8``) ``>= minimum``."""
    import argparse

    def convert(text):
        try:
            v = int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                f = math.nan
            if not (math.isfinite(f) and f == int(f)):
                raise argparse.ArgumentTypeError(f"{flag} must be an integer >= {minimum}, got {text!r}") from None
            v = int(f)
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer >= {minimum}, got {text!r}")
        return v

    convert.__name__ = flag
    return convert


def add_arguments(parser):
    from ..conventions import PAPER_PARAMETERS as P
    from ..response import DEFAULT_ETA
    from .compute import _choice, add_system_arguments

    parser.add_argument("geometry", type=_choice("geometry", GEOMETRIES), metavar="{trilayer,bilayer,bulk}", help="heterostructure (open x) or bulk (periodic x and y)")
    add_system_arguments(parser, N_x=P["N_x"], N_y=P["N_y"], N_FM=P["N_FM"], m_L="x", m_R="y", T=P["T"])
    parser.add_argument("--N-z", dest="N_z", type=_count("--N-z", 1), default=None, metavar="N",
                        help="a film: N cells periodic along z (3D models; quantities per transverse cell) (default: none, the 2D system)")
    parser.add_argument("--field", type=_choice("field direction", FIELDS), metavar="{y,z}", default="y",
                        help="direction of the electric field: y (default) or z (films, --N-z, only)")
    parser.add_argument("--metal-model", dest="metal_model", default=None, metavar="FILE.py", help="metal model defined as `model` (and `params`) in FILE.py (executed as Python: use only files you trust)")
    parser.add_argument("--eta", type=float, default=None, help=f"broadening hbar*eta > 0 (default {DEFAULT_ETA}; bulk: 0, the intrinsic limit)")
    parser.add_argument("--scan", default=None, metavar="NAME=v1,v2,...", help=f"repeat for each value of one of {', '.join(SCAN_NAMES)} (bulk: gamma, t, eta, T)")
    parser.add_argument("--N-k", dest="N_k", type=_count("--N-k", 2), default=400, help="bulk only: k points per direction (default %(default)s)")
    parser.add_argument("--mu-range", dest="mu_range", default=None, metavar="A:B:N", help="bulk only: N chemical potentials from A to B (default: --mu); write --mu-range=-4:4:81 for a negative A")
    parser.add_argument("--polarization", type=_choice("polarization", ("x", "y", "z")), metavar="{x,y,z}", default="z", help="bulk only: component J_a of the Hall current (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="local processes sharing the scan points (with --disorder: the realizations), one BLAS thread each (default: 1)")
    from .disorder_options import add_disorder_arguments

    add_disorder_arguments(parser, "response")
    add_progress_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the whole result (the document of --out FILE.json) on stdout instead of the summary")
    parser.add_argument("--out", default=None, metavar="FILE", help="write FILE.nc, FILE.csv or FILE.json atomically (the summary is still printed)")
    # "given" = not None: keep the real defaults here (and in --help), the parser's are None
    for action in parser._actions:
        if action.dest in _TRACKED:
            DEFAULTS[action.dest] = action.default
            if action.help and "%(default)s" in action.help:
                action.help = action.help.replace("%(default)s", str(action.default))
            action.default = None
        if action.dest in ("N_x", "N_y", "N_FM"):  # counts: also 1e6; >= 1, the size check names them
            action.type = _count(APPLIES[action.dest][0], 1)
        applies = {**APPLIES, **FILM_APPLIES}
        if action.dest in applies and action.help and "only" not in action.help:
            action.help += f" [{', '.join(applies[action.dest][1])} only]"


def _given(args):
    return {k for k in _TRACKED if getattr(args, k, None) is not None}


def check_applicable(args, given, user=None):
    """Refuse every given option that does not apply to the geometry, the metal or the model file.

    ``given``: the options set on the command line (:func:`_given`); ``user``: ``(model, params)``
    of ``--metal-model``.  Raises ValueError naming the option and where it applies.
    """
    geo = args.geometry
    for k, (flag, where) in {**APPLIES, **FILM_APPLIES}.items():
        if k in given and geo not in where:
            raise ValueError(f"option {flag} does not apply to `orbsym response {geo}`; it applies only to the {' and '.join(where)} geometr{'ies' if len(where) > 1 else 'y'}")
    from .compute import check_metal_options

    check_metal_options(given, geo, args.metal, args.basis, metal_model=args.metal_model)
    if geo == "bulk":
        if "mu" in given and "mu_range" in given:
            raise ValueError("options --mu and --mu-range both set the chemical potentials of the bulk; give one of them")
        if user is not None:
            model, params = user
            names = {p.name for p in model.parameters}
            for k, flag in (("t", "--t"), ("mu", "--mu"), ("mu_range", "--mu-range")):
                name = "mu" if k == "mu_range" else k
                if k in given and name not in names:
                    raise ValueError(f"option {flag} does not apply: the model {model.name!r} of {args.metal_model!r} has no parameter {name!r} (its parameters: {', '.join(sorted(names))})")
                if k in given and name in params:
                    raise ValueError(f"option {flag} conflicts with {name!r} set in `params` of {args.metal_model!r}; set it in one place")


def _fill_defaults(args):
    for k, v in DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    if args.basis is None:
        args.basis = "spin" if args.metal == "am" else "orbital"


def _scan(text, geometry="bilayer", given=(), metal_model=None, basis="orbital"):
    """``(name, values)`` of ``--scan NAME=v1,v2,...`` (``(None, [None])`` without a scan).

    Every entry is checked: no empty entries, finite real numbers within the energy bound
    (integers ``>= 1`` for ``N_x`` and ``N_z``), ``eta > 0`` (``>= 0`` for bulk), ``T >= 0``, ``m >= 0``; the
    name must apply to the geometry and must not also be given as an option."""
    from ..numeric.checks import ENERGY_LIMIT, real_number, unknown_name

    if text is None:
        return None, [None]
    if "=" not in text:
        raise ValueError(f"--scan {text!r}: expected NAME=v1,v2,... with NAME one of {', '.join(SCAN_NAMES)}")
    name, vals = text.split("=", 1)
    name = name.strip()
    if name not in SCAN_NAMES:
        raise ValueError(f"{unknown_name('scan parameter', name, SCAN_NAMES)} (in --scan)")
    if geometry not in SCAN_APPLIES[name]:
        raise ValueError(f"--scan {name} is not a bulk parameter; allowed for bulk: gamma, t, eta, T (use --mu-range for mu)")
    if name in given:
        raise ValueError(f"--scan {name}=... and --{name.replace('_', '-')} both set {name}; give one of them")
    if metal_model and name == "gamma":
        raise ValueError("--scan gamma does not apply with --metal-model (the model file defines the metal's parameters)")
    if name == "gamma" and basis != "orbital":
        raise ValueError("--scan gamma applies only to the orbital basis (Eq. 3)")
    entries = vals.split(",")
    if not vals.strip():
        raise ValueError(f"--scan {text!r}: no values given")
    values = []
    for i, e in enumerate(entries, 1):
        if not e.strip():
            raise ValueError(f"--scan {text!r}: entry {i} is empty; give values separated by single commas, e.g. {name}=1,2")
        try:
            v = int(e) if name in INT_SCANS else float(e)
        except ValueError:
            raise ValueError(f"--scan {text!r}: entry {e.strip()!r} is not {'an integer' if name in INT_SCANS else 'a real number'}") from None
        if name in INT_SCANS:
            if v < 1:
                raise ValueError(f"--scan {text!r}: {name} must be an integer >= 1, got {v}")
        else:
            low = {"eta": (0.0, geometry != "bulk"), "T": (0.0, False), "m": (0.0, False)}.get(name, (None, False))
            v = real_number(f"--scan {name} value", v, minimum=low[0], strict=low[1], bound=ENERGY_LIMIT)
        values.append(v)
    return name, values


def _mu_range(text, mu):
    """The chemical potentials of ``--mu-range A:B:N`` (or ``[mu]``)."""
    if text is None:
        return [mu]
    import numpy as np

    a, b, n = _mu_range_parts(text)
    return list(np.linspace(a, b, n))


def _mu_range_parts(text):
    """``(A, B, N)`` of ``--mu-range A:B:N``: finite bounded A, B and an integer N >= 1."""
    from ..numeric.checks import ENERGY_LIMIT, check_energy_scale

    parts = str(text).split(":")
    usage = f"--mu-range {text!r}: expected A:B:N (two real numbers and an integer N >= 1), e.g. --mu-range=-4:4:81"
    if len(parts) != 3:
        raise ValueError(usage)
    for i, p in enumerate(parts):
        if not p.strip():
            raise ValueError(f"{usage}; part {i + 1} is empty")
    try:
        a, b = float(parts[0]), float(parts[1])
        n = int(parts[2])
    except ValueError:
        raise ValueError(usage) from None
    if n < 1 or not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"--mu-range {text!r}: expected A:B:N with finite A, B and N >= 1")
    for v in (a, b):
        check_energy_scale("--mu-range bound", v, ENERGY_LIMIT)
    return a, b, n


def _check_out(path):
    """``--out`` checked before any work (:func:`orbsym.io.check_output_file`); every message names the path."""
    from .compute import _check_out as check

    try:
        p = check(path)
    except ValueError as exc:
        if path is not None and str(path) not in str(exc):
            raise ValueError(f"--out {str(path)!r}: {exc}") from None
        raise
    if p is not None and p.suffix not in FORMATS:
        raise ValueError(f"--out {str(path)!r}: unknown format {p.suffix or '(no suffix)'!r}; allowed: {', '.join(FORMATS)}")
    return p


#: ``(fn, item)`` of every scan point of the running command, for the forked workers of
#: :func:`_run_points` (set before the pool starts, so the workers inherit it: a point's system,
#: with its ``rebuild`` closure, is never pickled).
_POINTS = []


def _point(j):
    """A pool task: scan point ``j`` of :data:`_POINTS`."""
    fn, item = _POINTS[j]
    return fn(item)


def _run_points(fn, items, workers, bar_mode, desc, seconds=None):
    """``[fn(item) for item in items]`` on the execution layer, in order, with a progress bar.

    ``workers = 1`` (or one point): in this process (:func:`orbsym.execution.map_tasks`, serial).
    Else a local :func:`orbsym.execution.process_pool` with the ``fork`` start method and
    ``min(workers, len(items))`` processes (one BLAS thread each; a task whose worker died is
    re-run), started after the points are built so that the workers inherit them and the
    kernels derived for them; only the point index and the plain result (arrays, dicts) cross
    the process boundary.  The first failure is re-raised as its own exception.
    ``bar_mode``: ``--progress`` (:func:`progress_output`: a bar on a terminal, one-line updates otherwise).
    """
    from .. import execution

    tasks = [(j,) for j in range(len(items))]
    n = max(1, min(int(workers), len(items)))
    _POINTS[:] = [(fn, item) for item in items]
    try:
        with progress_output(bar_mode, seconds) as progress:
            if n == 1:
                return execution.map_tasks(_point, tasks, executor="serial", progress=progress, desc=desc, errors="raise")
            pool = execution.process_pool(n, context="fork")
            try:
                return execution.map_tasks(_point, tasks, executor=pool, workers=n, progress=progress, desc=desc, errors="raise")
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.shutdown(wait=True)
    finally:
        _POINTS.clear()


def _validate(args):
    """Numbers of the options (after the defaults are filled in): finite, bounded, in range."""
    from ..numeric.checks import ENERGY_LIMIT, real_number

    for name in ("N_x", "N_y", "N_FM"):
        v = getattr(args, name)
        if v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v}")
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    if args.eta is not None and not (math.isfinite(args.eta) and (args.eta > 0 or (args.geometry == "bulk" and args.eta == 0))):
        raise ValueError(f"--eta must be a finite broadening > 0 (units of t; 0 allowed for bulk), got {args.eta!r}")
    for flag, v in (("--T", args.T), ("--eta", args.eta), ("--mu", args.mu), ("--t", args.t), ("--gamma", args.gamma), ("--tp", args.tp), ("--w", args.w)):
        if v is not None:
            real_number(flag, v, bound=ENERGY_LIMIT)
    if args.geometry != "bulk":
        real_number("--m (exchange |m|)", args.m, minimum=0.0, bound=ENERGY_LIMIT)
    if isinstance(args.workers, bool) or not isinstance(args.workers, int) or args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers!r}")


def check_size(args, scan_name, values, user=None):
    """Refuse, before any work, a run whose estimate exceeds the limits (every scan point counted).

    With ``--workers`` the points run ``w = min(workers, points)`` at a time: the wall time is the
    estimate over ``w`` and the peak memory ``w`` times one point's (both checked).
    """
    import dataclasses

    from ..numeric.budget import check_resources, kubo_estimate
    from ..response import bulk_hall_resources

    dim = user[0].dim if user else (2 if args.basis == "spin" else 3)
    points = len(values)
    w = max(1, min(int(getattr(args, "workers", 1)), points))
    if args.geometry == "bulk":
        n_mu = 1 if args.mu_range is None else _mu_range_parts(args.mu_range)[2]
        est = bulk_hall_resources(args.N_k, dim, n_mu, grids=points, mu_option="N of --mu-range")
        if w > 1:
            check_resources(dataclasses.replace(est, bytes=w * est.bytes, seconds=0.0), what=f"the bulk Hall conductivity with N_k = {args.N_k} on {w} processes at once",
                            hint="reduce N_k or --workers")
        return est
    N_x = max(values) if scan_name == "N_x" else args.N_x
    N_z = max(values) if scan_name == "N_z" else args.N_z
    if N_z is None:
        est = kubo_estimate(N_x, args.N_y, dim, symmetric=True, solves=points, path=kubo_path(_short_copy(args, N_x, user)))
        what = f"the linear response of N_x = {N_x}, N_y = {args.N_y}"
        sizes = "N_x or N_y"
    else:  # a film: one 2D response per k_z sector (as orbsym.response.response_resources)
        est = _film_estimate(args, N_x, N_z, dim, points, user)
        what = f"the linear response of the film N_x = {N_x}, N_y = {args.N_y}, N_z = {N_z}"
        sizes = "N_x, N_y or N_z"
    if w > 1:
        est = dataclasses.replace(est, bytes=w * est.bytes, detail=f"{est.detail}; {w} points at once")
    what += f" at {points} scan points" if points > 1 else ""
    hint = f"reduce {sizes}" + (" or the number of scan points" if points > 1 else "") + (" or --workers" if w > 1 else "")
    return check_resources(est, what=what, workers=w, hint=hint)


def _film_estimate(args, N_x, N_z, dim, points, user=None):
    """Estimate of ``points`` film responses of ``N_x`` columns and ``N_z`` cells along z.

    :func:`orbsym.numeric.budget.film_estimate` of one 2D Kubo solve per k_z sector
    (:func:`orbsym.numeric.budget.kubo_estimate` without the k_y half zone, as
    :func:`orbsym.response.response_resources`); whether the half k_z zone suffices
    (``Lattice.z_symmetric``) is read from a short copy of the film (``2 N_FM + 3`` columns,
    ``N_y = N_z = 2``: the same column types, built in milliseconds).  Every point is sized as
    the largest (``N_x``, ``N_z``) of the scan.
    """
    import types

    from ..numeric.budget import film_estimate, kubo_estimate

    lat = _short_copy(args, N_x, user, N_z=2)
    film = types.SimpleNamespace(N_z=N_z, z_symmetric=bool(lat.z_symmetric), ndim=3, N_x=N_x, dim=lat.dim)
    return film_estimate(kubo_estimate(N_x, args.N_y, dim, symmetric=False, solves=points, path=kubo_path(lat)), film)


def _short_copy(args, N_x, user=None, N_z=None):
    """The lattice of a short copy of the system (``2 N_FM + 3`` columns, ``N_y = 2``, films ``N_z = 2``): the
    same column types, built in milliseconds, for what the estimate needs before the real system is built
    (the film's k_z symmetry, the Kubo eigensolver path :func:`orbsym.numeric.budget.kubo_path`)."""
    import argparse

    from .compute import _system

    a = argparse.Namespace(**vars(args))
    a.N_x, a.N_y, a.N_z = min(N_x, 2 * args.N_FM + 3), 2, N_z
    return _system(a, None if user is None else (user[0], dict(user[1]))).lattice


def kubo_path(lattice):
    """:func:`orbsym.numeric.budget.kubo_path` (the eigensolver the Kubo solve of ``lattice`` takes)."""
    from ..numeric.budget import kubo_path as path

    return path(lattice)


# =============================================================================== progress
# The one progress policy of the command line lives in the execution layer (``--progress
# {auto,on,off}``); these names stay importable from here.
from ..execution import (  # noqa: E402,F401
    PROGRESS_HELP,
    PROGRESS_INTERVAL,
    PROGRESS_INTERVAL_ENV,
    PROGRESS_MODES,
    QUIET_SECONDS,
    LineStream,
    add_progress_argument,
    progress_interval,
    progress_output,
    progress_policy,
)


# =============================================================================== heterostructures
def _profiles(args, value_name, values, bar_mode, user=None, seconds=None):
    from ..response import DEFAULT_ETA, response
    from .compute import _system

    # build every point's system first (cheap): a bad point is refused before any solve
    points = []
    for v in values:
        a = _with(args, value_name, v)
        eta = DEFAULT_ETA if a.eta is None else a.eta
        points.append((v, a, eta, response(_system(a, None if user is None else (user[0], dict(user[1]))), a.T, eta, field=a.field)))
    rows = _run_points(_profile_record, points, args.workers, bar_mode, "orbsym response", seconds)
    n = max(r["N_x"] for r in rows)
    return rows, n


def _profile_record(point):
    """The record of one scan point ``(value, args, eta, Response)``: plain arrays and dicts."""
    v, a, eta, r = point
    d = r.describe()
    rec = {"value": v, "N_x": r.lattice.N_x, "eta": eta, "T": a.T, "system": d["system"], "field": d["field"], "units": d["units"],
           "N_z": r.system.N_z if r.system.is_film else None}
    for part in PARTS:
        rp = r.select(part)
        rec[part] = {
            "density": rp.densities(),
            "current_x": rp.currents("bond", "x"),
            "current_y": rp.currents("bond", "y"),
            "torque": {p: d for p, d in rp.torques("bond").items()},
            "orbital_torque": rp.orbital_torque(),
        }
        if rec["N_z"] is not None:
            rec[part]["current_z"] = rp.currents("bond", "z")
    rec["balance_residual"] = r.balance()["max_abs_residual"]
    rec["proper"] = r.proper_currents()
    return rec


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


#: An angular-momentum response below this (times ``max(1, |particle response|)``) at every point, in
#: every part, is reported as a symmetry zero (:func:`symmetry_zero_line`).
SYMMETRY_ZERO_TOL = 1e-12
#: Units of the scan parameters (energies in t; sizes are counts).
SCAN_UNITS = {"gamma": "t", "mu": "t", "t": "t", "m": "t", "eta": "t (hbar*eta)", "T": "t (k_B = 1)", "N_x": "1", "N_z": "1"}


def _J_unit(system_record):
    """Unit of the angular momentum J of a system record: ``sigma`` (spin basis in Pauli units) or ``hbar``."""
    if system_record.get("basis") == "spin" and system_record.get("spin_unit", "sigma") == "sigma":
        return "sigma"
    return "hbar"


def _variable_attrs(field, J, film):
    """``{name: (units, description)}`` of every variable of the heterostructure Dataset."""
    F = f"q E_{field[-1]}"
    R = f"per unit force {F} (chi of delta<O> = chi {F} a/t)"
    site = "per site (per transverse cell a^2 of one column)" if film else "per site"
    row = "per transverse cell" if film else "per row"
    cur = f"particles t/hbar [charge] or {J} t/hbar [x, y, z]"
    tq = f"{J} t/hbar [x, y, z; charge: NaN]"
    return {
        "density": (f"particles [charge] or {J} [x, y, z] {site}, {R}", "driven density per column: particle number (charge) and the OAM/spin accumulation <J_alpha>"),
        "current_x": (f"{cur} per slice boundary, {R}", "x current through the boundary between columns b and b+1: slice-boundary total, the bond current summed over every bond crossing it "
                      "(-> the conventional {v_x, J}/2 per site in a uniform bulk; = the (1,0) bond current for nearest-neighbour models)"),
        "current_y": (f"{cur} per bond, {R}", "bond current of the bond (0, 1) alone, per column (particle current: the Drude response ~ 1/eta)"),
        "current_z": (f"{cur} per bond, {R}", "bond current of the bond (0, 0, 1) alone, per column (films)"),
        "torque": (f"{tq} {site}, {R}", "torque term {term!r} of the driven continuity equation -div j + tau = eta <J> + D (bond decomposition; exchange: the FM exchange torque on the electrons)"),
        "orbital_torque": (f"{tq} {row}, summed over the FM columns, {R}", "orbital torque: the exchange torque on the electrons summed over the FM columns"),
        "proper_current": (f"{J} t/hbar [x, y, z; charge: NaN] per slice boundary, {R}", "proper current: boundary current + torque dipole P = -cumsum(tau) of the total response (NaN where the net torque does not vanish)"),
        "torque_dipole": (f"{J} t/hbar [x, y, z; charge: NaN] per slice boundary, {R}", "lattice torque dipole P(b) = -sum_{x <= b} tau(x) of the total response"),
        "net_torque": (f"{J} t/hbar [x, y, z; charge: NaN] {row}, summed over every column, {R}", "net driven torque; the proper current exists only where it vanishes"),
        "balance_residual": (f"{J} t/hbar {site}, {R}", "largest |-div j + tau - eta <J> - D| over columns and polarizations (the driven balance; exact: ~1e-15)"),
        "columns": ("1", "number of columns N_x of the point (the profiles are NaN-padded beyond it)"),
    }


def _common_record(records):
    """One record for several: the keys equal at every point keep their value, the others hold the
    list of the points' values (so nothing scanned is reported as the first point's)."""
    keys = list(dict.fromkeys(k for r in records for k in r))
    out = {}
    for k in keys:
        vals = [r.get(k) for r in records]
        out[k] = vals[0] if all(json.dumps(v, default=str, sort_keys=True) == json.dumps(vals[0], default=str, sort_keys=True) for v in vals) else vals
    return out


def _point_records(rows, scan_name):
    """The full parameter record of every scan point: the system, T, eta, field and the scanned value."""
    out = []
    for j, r in enumerate(rows):
        rec = {"point": j, "system": r["system"], "T": r["T"], "eta": r["eta"], "field": r["field"]}
        if scan_name is not None:
            rec[scan_name] = r["value"]
        out.append(rec)
    return out


def _dataset(rows, n, scan_name):
    """The heterostructure Dataset: every variable with ``units`` and ``description``; the attributes
    hold the parameters common to every point (``system``; scanned keys as lists) and the full record of
    every point (``points``, JSON)."""
    import numpy as np
    import xarray as xr

    values = [r["value"] for r in rows]
    film = rows[0]["N_z"] is not None  # every point of a run is a film or none is
    J = _J_unit(rows[0]["system"])
    meta = _variable_attrs(rows[0]["field"], J, film)
    torque_terms = sorted({k for r in rows for p in ("x", "y", "z") for k in r["total"]["torque"][p]})
    data = {}

    def arr(fn, length):
        return np.array([[[_pad(fn(r, part, p), length) for p in POLS] for part in PARTS] for r in rows])

    def put(name, dims, values, key=None, **fmt):
        units, text = meta[key or name]
        data[name] = xr.Variable(dims, values, attrs={"units": units, "description": text.format(**fmt) if fmt else text})

    put("density", ("point", "part", "polarization", "column"), arr(lambda r, part, p: r[part]["density"][p], n))
    put("current_x", ("point", "part", "polarization", "bond"), arr(lambda r, part, p: r[part]["current_x"][p], max(n - 1, 0)))
    put("current_y", ("point", "part", "polarization", "column"), arr(lambda r, part, p: r[part]["current_y"][p], n))
    if film:
        put("current_z", ("point", "part", "polarization", "column"), arr(lambda r, part, p: r[part]["current_z"][p], n))
    for term in torque_terms:
        put(f"torque_{term}", ("point", "part", "polarization", "column"),
            arr(lambda r, part, p, term=term: np.full(n, np.nan) if p == "charge" else r[part]["torque"][p].get(term, np.zeros(r["N_x"])), n), key="torque", term=term)
    put("orbital_torque", ("point", "part", "polarization"), np.array([[[np.nan if p == "charge" else r[part]["orbital_torque"][p] for p in POLS] for part in PARTS] for r in rows]))
    nb = max(n - 1, 0)
    put("proper_current", ("point", "polarization", "bond"),
        np.array([[np.full(nb, np.nan) if p == "charge" or r["proper"][p]["current"] is None else _pad(r["proper"][p]["current"], nb) for p in POLS] for r in rows]))
    put("torque_dipole", ("point", "polarization", "bond"), np.array([[np.full(nb, np.nan) if p == "charge" else _pad(r["proper"][p]["torque_dipole"], nb) for p in POLS] for r in rows]))
    put("net_torque", ("point", "polarization"), np.array([[np.nan if p == "charge" else r["proper"][p]["net_torque"] for p in POLS] for r in rows]))
    put("balance_residual", ("point",), np.array([r["balance_residual"] for r in rows]))
    put("columns", ("point",), np.array([r["N_x"] for r in rows]))
    coords = {
        "point": xr.Variable("point", np.arange(len(rows)), attrs={"units": "1", "description": "index of the scan point" + (f" (values of {scan_name}: coordinate {scan_name})" if scan_name else " (no scan: one point)")}),
        "part": xr.Variable("part", list(PARTS), attrs={"units": "1", "description": "total = fermi_surface + fermi_sea (orbsym.numeric.kubo)"}),
        "polarization": xr.Variable("polarization", list(POLS), attrs={"units": "1", "description": f"charge: particle number; x, y, z: the component of J (units of {J})"}),
        "column": xr.Variable("column", np.arange(n), attrs={"units": "1", "description": "column index x (0 at the left end; open in x)"}),
        "bond": xr.Variable("bond", np.arange(n - 1) if n > 1 else np.arange(0), attrs={"units": "1", "description": "slice boundary b between columns b and b+1"}),
    }
    if scan_name is not None:
        coords[scan_name] = xr.Variable("point", np.array(values), attrs={"units": SCAN_UNITS[scan_name], "description": f"the scanned parameter {scan_name} of each point"})
    ds = xr.Dataset(data, coords=coords)
    points = _point_records(rows, scan_name)
    common = _common_record([p["system"] for p in points])
    eta = [float(r["eta"]) for r in rows]
    T = [float(r["T"]) for r in rows]
    ds.attrs.update(
        {
            "title": "orbsym response: DC linear response of a heterostructure to a static uniform field",
            "units": rows[0]["units"],
            "current_definition": "current_x: slice-boundary total, the bond current summed over every bond crossing the boundary between columns b and b+1 "
            "(-> the conventional {v_x, J}/2 per site in a uniform bulk; = the (1,0) bond for nearest-neighbour models); current_y: bond (0,1) alone; "
            + ("current_z: bond (0,0,1) alone; " if film else "")
            + "torques: bond decomposition, exchange = FM exchange torque on the electrons; "
            "proper_current = boundary current + torque dipole P = -cumsum(tau) of the total response (NaN where the net torque does not vanish)",
            "engine": ENGINE,
            "eta": eta[0] if len(set(eta)) == 1 else "scanned: see the coordinate eta and the attribute points",
            "T": T[0] if len(set(T)) == 1 else "scanned: see the coordinate T and the attribute points",
            "system": json.dumps(common),
            "points": json.dumps(points),
            "scan": scan_name or "",
            "field": rows[0]["field"],
        }
    )
    if film:
        ds.attrs["N_z"] = "scanned" if scan_name == "N_z" else int(rows[0]["N_z"])
        ds.attrs["film"] = "periodic in y and z; every quantity per site = per transverse cell a^2 of one column"
    return ds


#: The solver of the heterostructure responses (stated in the outputs).
ENGINE = "Kubo linear response (density-matrix form, orbsym.numeric.kubo) on a dense Bloch diagonalization of every k_y (films: and k_z) block"


def _write(ds, target, table):
    from ..io import atomic_path, atomic_write

    if target.suffix == ".nc":
        with atomic_path(target) as tmp:
            ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
    elif target.suffix == ".csv":
        with atomic_write(target) as fh:
            fh.write("# " + ds.attrs["units"] + "\n")
            if "N_z" in ds.attrs:
                fh.write(f"# field {ds.attrs['field']}; film N_z = {ds.attrs['N_z']}: values per transverse cell (a^2 of one column)\n")
            for c in table.columns:
                if c in ds.variables:
                    fh.write(f"# {c}: {ds[c].attrs.get('units', '')}; {ds[c].attrs.get('description', '')}\n")
            fh.write(table.to_csv(index=False))
    else:
        with atomic_write(target) as fh:
            fh.write(json.dumps(_json(ds), allow_nan=False) + "\n")


def _json(ds):
    import numpy as np

    def clean(a):
        a = np.asarray(a, float)
        return [clean(x) for x in a] if a.ndim else (None if not np.isfinite(a) else float(a))

    return {"attrs": dict(ds.attrs),
            "coords": {k: clean(ds[k].values) if ds[k].dtype.kind in "fiu" else [str(x) for x in ds[k].values] for k in ds.coords},
            "data": {k: {"dims": list(ds[k].dims), "values": clean(ds[k].values), "attrs": dict(ds[k].attrs)} for k in ds.data_vars},
            "coord_attrs": {k: dict(ds[k].attrs) for k in ds.coords}}


def symmetry_zero_line(ds):
    """One line if every angular-momentum response of ``ds`` vanishes (None otherwise).

    Heterostructures: densities, currents, torques, orbital torque and proper-current pieces of the
    x, y, z polarizations, every part, every point, below ``SYMMETRY_ZERO_TOL * max(1, max |particle
    response|)``.  Bulk: ``sigma`` (and ``fermi_surface``) at every mu and point.  Such a zero is exact
    (rounding), a symmetry statement, not a small number: e.g. the paper's Eq. 3 metal, whose hoppings
    never mix orbitals (more generally ``h(-k) = h(k)`` kills every k-even response).
    """
    import numpy as np

    if "sigma" in ds:
        names = [v for v in ("sigma", "fermi_surface") if v in ds]
        big = max(float(np.nanmax(np.abs(ds[v].values), initial=0.0)) for v in names)
        scale = max(1.0, float(np.nanmax(np.abs(ds["charge_hall"].values), initial=0.0)))
        if big > SYMMETRY_ZERO_TOL * scale:
            return None
        return (f"note: sigma^{{J_{ds.attrs.get('polarization', 'z')}}}_xy vanishes at every mu and point (max |sigma| = {big:.1e} < {SYMMETRY_ZERO_TOL:g}): "
                "a symmetry zero, not a small number -- e.g. the paper's Eq. 3 metal, whose hoppings never mix orbitals, has no intrinsic "
                "orbital Hall effect; a metal with orbital mixing (orbsym hoppings --basis t2g --neighbours nn+nnn) has one")
    # the responses that are even in k (density, x currents, torques): h(-k) = h(k) kills them all; the
    # currents along the periodic directions (odd in k) are not part of the statement
    L = [v for v in ds.data_vars if "polarization" in ds[v].dims and v not in ("current_y", "current_z")]
    big = max(float(np.nanmax(np.abs(ds[v].sel(polarization=["x", "y", "z"]).values), initial=0.0)) for v in L)
    charge = [v for v in ("density", "current_x", "current_y") if v in ds]
    scale = max(1.0, max(float(np.nanmax(np.abs(ds[v].sel(polarization="charge").values), initial=0.0)) for v in charge))
    if big > SYMMETRY_ZERO_TOL * scale:
        return None
    what = "spin" if ds["polarization"].attrs.get("description", "").endswith("(units of sigma)") or "spin" in json.loads(ds.attrs.get("system", "{}")).get("basis", "") else "orbital"
    return (f"note: no {what} Hall response: the accumulation of J, its x currents, every torque and the torque on the FM vanish "
            f"(every part and point; max |chi| = {big:.1e} < {SYMMETRY_ZERO_TOL:g}) -- a symmetry zero, not a small number: h(k_y) = h(-k_y) "
            "kills every response even in k, as in the paper's Eq. 3 metal (its hoppings never mix orbitals) and Eq. 4 altermagnet; only the "
            "currents along the field (Drude, ~1/eta) are driven. A metal with orbital mixing (--metal-model from orbsym hoppings --basis t2g "
            "--neighbours nn+nnn) has one")


# =============================================================================== bulk
def _bulk(args, scan_name, values, bar_mode, user=None, seconds=None):
    import numpy as np
    import xarray as xr

    mus = _mu_range(args.mu_range, args.mu)
    points = []
    for v in values:  # every point's model and parameters first: a bad point is refused before any grid
        a = _with(args, scan_name, v)
        model, params = _bulk_model(a, user)
        points.append((model, dict(mu=mus, N_k=a.N_k, T=a.T, eta=0.0 if a.eta is None else a.eta, polarization=a.polarization,
                                   basis=None if user is not None else a.basis, **params)))
    out = _run_points(_bulk_point, points, args.workers, bar_mode, "orbsym response bulk", seconds)
    J = "sigma" if (user is None and args.basis == "spin") else "hbar"
    R = "per unit force q E_y (chi of delta<O> = chi q E_y a/t)"
    coords = {
        "point": xr.Variable("point", np.arange(len(values)), attrs={"units": "1", "description": "index of the scan point" + (f" (values of {scan_name}: coordinate {scan_name})" if scan_name else " (no scan: one point)")}),
        "mu": xr.Variable("mu", np.array(mus), attrs={"units": "t", "description": "chemical potential (Fermi level)"}),
    }
    if scan_name is not None:
        coords[scan_name] = xr.Variable("point", np.array(values), attrs={"units": SCAN_UNITS[scan_name], "description": f"the scanned parameter {scan_name} of each point"})
    pol = args.polarization
    data = {
        "sigma": xr.Variable(("point", "mu"), np.array([r["sigma"] for r in out]), attrs={
            "units": f"{J} t/hbar per site, {R}",
            "description": f"intrinsic (Fermi-sea) Hall conductivity sigma^{{J_{pol}}}_xy of the conventional current {{v_x, J_{pol}}}/2 (orbsym.response.orbital_hall 'sigma')"}),
        "charge_hall": xr.Variable(("point", "mu"), np.array([r["charge_hall"] for r in out]), attrs={
            "units": f"particles t/hbar per site, {R}", "description": "particle Hall response of v_x (zero with time reversal)"}),
    }
    if out[0]["fermi_surface"] is not None:
        data["fermi_surface"] = xr.Variable(("point", "mu"), np.array([r["fermi_surface"] for r in out]), attrs={
            "units": f"{J} t/hbar per site, {R}", "description": f"Fermi-surface part of sigma^{{J_{pol}}}_xy at eta > 0 (total = sigma + fermi_surface)"})
    ds = xr.Dataset(data, coords=coords)
    recs = []
    for j, (v, (model, kw)) in enumerate(zip(values, points)):
        rec = {"point": j, "model": out[j]["model"], "N_k": kw["N_k"], "T": kw["T"], "eta": kw["eta"], "polarization": pol,
               "parameters": {k: v2 for k, v2 in kw.items() if k not in ("mu", "N_k", "T", "eta", "polarization", "basis")}}
        if kw.get("basis") is not None:
            rec["basis"] = kw["basis"]
        if user is not None:
            rec["metal_model"] = str(args.metal_model)
        if scan_name is not None:
            rec[scan_name] = v
        recs.append(rec)
    common = _common_record(recs)
    common.pop("point", None)
    ds.attrs.update({"title": "orbsym response bulk: intrinsic angular-momentum Hall conductivity of a bulk crystal",
                     "units": out[0]["units"], "current_definition": out[0]["current"], "polarization": pol, "N_k": args.N_k, "model": out[0]["model"],
                     "engine": f"Kubo linear response (density-matrix form, orbsym.numeric.kubo.bulk_hall) on an N_k x N_k k grid, N_k = {args.N_k}",
                     "T": common["T"] if not isinstance(common["T"], list) else "scanned: see the attribute points",
                     "eta": common["eta"] if not isinstance(common["eta"], list) else "scanned: see the attribute points",
                     "system": json.dumps(common), "points": json.dumps(recs), "scan": scan_name or ""})
    return ds


def _bulk_point(point):
    """:func:`orbsym.response.orbital_hall` of one scan point ``(model, keyword arguments)``."""
    from ..response import orbital_hall

    model, kwargs = point
    return orbital_hall(model, **kwargs)


def _check_file_names(args, user):
    """Every name of the model file's `params` must be a parameter of its model ("did you mean")."""
    from ..numeric.checks import unknown_name

    from ..numeric.checks import ENERGY_LIMIT, real_number

    model, params = user
    names = sorted(p.name for p in model.parameters)
    for k, v in params.items():
        if k not in names:
            raise ValueError(f"{unknown_name(f'parameter of the model {model.name!r}', k, names)} (in `params` of {args.metal_model!r})")
        real_number(f"parameter {k} in `params` of {args.metal_model!r}", v, bound=ENERGY_LIMIT)


def _bulk_model(a, user=None):
    """``(model, params)`` of the bulk crystal: the model file's model with its `params` (every
    name checked, ``t`` from ``--t``/``--scan t`` if the file leaves it open), or a built-in kind."""
    if user is not None:
        from ..numeric.checks import unknown_name

        model, file_params = user
        names = sorted(p.name for p in model.parameters)
        params = {}
        for k, v in file_params.items():
            if k not in names:
                raise ValueError(f"{unknown_name(f'parameter of the model {model.name!r}', k, names)} (in `params` of {a.metal_model!r})")
            if k != "mu":
                params[k] = v
        if "t" in names and "t" not in params:
            params["t"] = a.t  # --t (default 1), like the heterostructures
        missing = [k for k in names if k != "mu" and k not in params]
        if missing:
            raise ValueError(f"the metal model {model.name!r} needs values for {missing}: set them in a `params` dict in {a.metal_model!r} (a missing parameter is never set to zero)")
        return model, params
    kind = a.metal
    params = {"t": a.t}
    if a.basis == "orbital":
        params["gamma"] = a.gamma
        params["tp"] = a.t if a.tp is None else a.tp
    elif kind == "am":
        params["w"] = 0.4 if a.w is None else a.w
    return kind, params


def run(args):
    from .compute import _user_metal

    given = _given(args)
    check_applicable(args, given)
    from .disorder_options import check_disorder_options

    disorder = check_disorder_options(args, refuse=(
        ("`orbsym response bulk`", args.geometry == "bulk",
         "a disordered bulk crystal has no k grid; its orbital Hall conductivity: `orbsym hall MODEL --disorder anderson:W` "
         "(SCBA + ladder, or --method chebyshev); --disorder here takes trilayer and bilayer"),
        ("--scan", args.scan is not None, "an ensemble is one parameter point; run one ensemble per value (with the same --seed)"),
    ))
    _fill_defaults(args)
    _validate(args)
    if disorder is not None:
        return _run_disorder(args, given, disorder)
    target = _check_out(args.out)
    scan_name, values = _scan(args.scan, args.geometry, given, args.metal_model, args.basis)
    if args.field == "z" and args.N_z is None and scan_name != "N_z":
        raise ValueError("--field z (E_z) needs a film, periodic in z: give --N-z N (cells along z); a 2D system has E_y only")
    if args.geometry == "bulk" and args.mu_range is not None:
        _mu_range_parts(args.mu_range)
    user = _user_metal(args.metal_model) if args.metal_model else None  # the model file runs once
    if user is not None:
        check_applicable(args, given, user)
        if args.geometry != "bulk":
            from .compute import check_model_dimension

            check_model_dimension(args.metal_model, user[0], args.N_z if scan_name != "N_z" else values[0])
        names = {p.name for p in user[0].parameters}
        _check_file_names(args, user)
        if scan_name in ("t", "mu") and scan_name in user[1]:
            raise ValueError(f"--scan {scan_name} conflicts with {scan_name!r} set in `params` of {args.metal_model!r}; set it in one place")
        if args.geometry == "bulk":
            if scan_name == "t" and "t" not in names:
                raise ValueError(f"--scan t does not apply: the model {user[0].name!r} of {args.metal_model!r} has no parameter 't'")
            if "mu" in user[1] and "mu" not in given and args.mu_range is None:
                args.mu = user[1]["mu"]  # the file's chemical potential
            _bulk_model(args, user)  # every parameter named and given, before any work
    est = check_size(args, scan_name, values, user)
    seconds = getattr(est, "seconds", None)
    defaults = _defaults_used(args, given, scan_name)
    if args.geometry == "bulk":
        ds = _bulk(args, scan_name, values, args.progress, user, seconds)
        table = _bulk_table(ds, scan_name)
        head = _bulk_summary(ds, args, scan_name, defaults)
        detail = table.to_string(index=False)
    else:
        rows, n = _profiles(args, scan_name, values, args.progress, user, seconds)
        ds = _dataset(rows, n, scan_name)
        table = _table(ds, scan_name)
        head = _head(rows, ds, args, scan_name, defaults)
        detail = _summary(rows, ds)
    zero = symmetry_zero_line(ds)
    if zero is not None:
        ds.attrs["symmetry_zero"] = zero
    if target is not None:
        _write(ds, target, table)
    if args.json:
        print(json.dumps(_json(ds), allow_nan=False))
        return 0
    lines = [head] + ([zero] if zero else []) + ([f"wrote {target}"] if target is not None else ["", detail])
    print("\n".join(lines))
    return 0


def _run_disorder(args, given, disorder):
    """``--disorder``: the ensemble of Kubo responses of Gamma-only supercells and its summary."""
    from ..execution import progress_output
    from ..response import DEFAULT_ETA
    from ..systems import disorder_ensemble
    from .compute import _system, _user_metal, check_model_dimension
    from .disorder_options import check_out, summary_record, summary_text, supercell_estimate, terms_with_file

    terms, n, seed = disorder
    target = check_out(args.out)
    if args.field == "z" and args.N_z is None:
        raise ValueError("--field z (E_z) needs a film, periodic in z: give --N-z N (cells along z); a 2D system has E_y only")
    user = _user_metal(args.metal_model) if args.metal_model else None
    if user is not None:
        check_applicable(args, given, user)
        check_model_dimension(args.metal_model, user[0], args.N_z)
        _check_file_names(args, user)
    dim = user[0].dim if user else (2 if args.basis == "spin" else 3)
    est = supercell_estimate(args.N_x, args.N_y, args.N_z, dim, n, args.workers, response=True)
    system = _system(args, None if user is None else (user[0], dict(user[1])))
    terms = terms_with_file(args, system, terms)
    eta = DEFAULT_ETA if args.eta is None else args.eta
    attrs = {"command": "orbsym response", "command_disorder": args.disorder or "", "disorder_file": str(args.disorder_file or "")}
    with progress_output(args.progress, est.seconds / max(1, min(args.workers, n))) as show:
        ds = disorder_ensemble(system, args.T, terms, n if args.disorder is not None else None, seed if args.disorder is not None else None,
                               workers=args.workers, response=args.field, eta=eta, part="total", out=target, progress=show, attrs=attrs)
    defaults = _defaults_used(args, given, None)
    rec = summary_record(ds, system, args.T, args, {"eta": eta, "field": args.field, "part": "total", "defaults_used": defaults})
    if args.json:
        print(json.dumps(rec, allow_nan=False))
        return 0
    s = rec["system"]
    sizes = ", ".join(f"{k}={s[k]}" for k in ("N_x", "N_y", "N_z", "N_FM") if s.get(k) is not None)
    head = [f"system: {s['geometry']} ({s.get('basis')} basis, interface={s['interface']}), {sizes} (clean; disorder below)",
            f"linear response to E_{args.field} (part total, per unit force q E_{args.field}), T={args.T:g}, eta={eta:g}"]
    if defaults:
        head.append("defaults used: " + ", ".join(f"{k} {v}" for k, v in defaults.items()))
    print(summary_text(rec, head) + (f"\nwrote {target}" if target is not None else ""))
    return 0


#: Options whose default is named in the summary when not given (dest -> flag).
_DEFAULT_FLAGS = {"N_x": "--N-x", "N_y": "--N-y", "N_FM": "--N-FM", "T": "--T", "eta": "--eta", "mu": "--mu", "gamma": "--gamma", "m": "--m",
                  "m_L": "--m-L", "m_R": "--m-R", "m_FM": "--m-FM", "N_k": "--N-k"}


def _defaults_used(args, given, scan_name):
    """``{flag: value}`` of the options that apply and were not given (named in the summary)."""
    from ..response import DEFAULT_ETA

    out = {}
    for k, flag in _DEFAULT_FLAGS.items():
        if k == scan_name or k in given:
            continue
        if k == "eta":
            if args.eta is None:
                out[flag] = 0.0 if args.geometry == "bulk" else DEFAULT_ETA
            continue
        applies = {**APPLIES, **FILM_APPLIES}.get(k)
        if applies is not None and args.geometry not in applies[1]:
            continue
        if k == "gamma" and (args.metal_model or args.basis != "orbital"):
            continue
        if k == "mu" and args.geometry == "bulk" and args.mu_range is not None:
            continue
        out[flag] = getattr(args, k)
    return out


def _fmt3(d):
    return ", ".join(f"{p} {v: .4g}" for p, v in d.items())


def _head(rows, ds, args, scan_name, defaults):
    """The summary lines of a heterostructure run: system, field, engine, T, eta, the defaults used and the
    key responses per point (total part) with their units and the current definition."""
    import numpy as np

    s = _common_record([r["system"] for r in rows])
    film = rows[0]["N_z"] is not None
    J = _J_unit(rows[0]["system"])
    F = f"q E_{rows[0]['field'][-1]}"
    sizes = ", ".join(f"{k} = {s[k]}" for k in ("N_x", "N_y", "N_z", "N_FM") if s.get(k) is not None)
    mm = rows[0]["system"].get("metal_model")
    metal = (f"metal model {mm['name']!r} from {mm['file']}" if isinstance(mm, dict)
             else f"{s.get('metal', 'nm')} metal, {s.get('basis')} basis" + (f", gamma = {s['gamma']}" if "gamma" in s else ""))
    eta = "scanned" if str(ds.attrs["eta"]).startswith("scanned") else ds.attrs["eta"]
    T = "scanned" if str(ds.attrs["T"]).startswith("scanned") else ds.attrs["T"]
    lines = [
        f"response: {s['geometry']} ({metal}), {sizes}, mu = {s.get('mu')}; field {rows[0]['field']}; T = {T}, eta = {eta}"
        + (f"; scan {scan_name} = {', '.join(str(r['value']) for r in rows)}" if scan_name else ""),
        f"  engine: {ENGINE}",
        "  defaults used: " + (", ".join(f"{k} {v}" for k, v in defaults.items()) or "none"),
        f"  units: per unit force {F} (delta<O> = chi {F} a/t); J in {J}; densities per site, torques {J} t/hbar"
        + (" per transverse cell" if film else "") + "; x current = slice-boundary total of the bond currents (-> conventional {v_x, J}/2 in the bulk)",
    ]
    along = rows[0]["field"][-1]
    for r in rows:
        t = r["total"]
        acc = {p: float(np.max(np.abs(t["density"][p]))) for p in ("x", "y", "z")}
        ix = {p: float(np.max(np.abs(t["current_x"][p]), initial=0.0)) for p in ("x", "y", "z")}
        label = f"  [{scan_name} = {r['value']}] " if scan_name else "  "
        lines.append(f"{label}orbital torque on the FM (exchange, summed over the FM columns; {J} t/hbar per {'transverse cell' if film else 'row'}): {_fmt3(t['orbital_torque'])}; "
                     f"max |accumulation| ({J} per site): {_fmt3(acc)}; max |x current| ({J} t/hbar): {_fmt3(ix)}; "
                     f"mean particle current along the field ({along}): {float(np.mean(t[f'current_{along}']['charge'])):.4g} t/hbar per bond; "
                     f"balance residual {r['balance_residual']:.1e}")
    return "\n".join(lines)


def _bulk_table(ds, scan_name):
    """CSV/text table of the bulk run: one row per chemical potential (and scan point); the ``point``
    column (the scan index) only with ``--scan``, next to the scanned value."""
    return _scan_first(ds.to_dataframe().reset_index(), scan_name)


def _scan_first(df, scan_name):
    """Without a scan drop the ``point`` column (one point); with one, put the scanned value right after it."""
    if scan_name is None:
        return df.drop(columns=["point"])
    return df[["point", scan_name] + [c for c in df.columns if c not in ("point", scan_name)]]


def _short(v):
    return "scanned" if str(v).startswith("scanned") else v


def _bulk_summary(ds, args, scan_name, defaults):
    """The summary lines of a bulk run."""
    import numpy as np

    pol = ds.attrs["polarization"]
    sig = ds["sigma"].values
    mus = ds["mu"].values
    model = ds.attrs["model"] if not args.metal_model else f"{ds.attrs['model']} from {args.metal_model}"
    lines = [
        f"response bulk: model {model}, N_k = {args.N_k}, T = {_short(ds.attrs['T'])}, eta = {_short(ds.attrs['eta'])}, {mus.size} chemical potential(s) "
        f"from {mus.min():g} to {mus.max():g}" + (f"; scan {scan_name} = {', '.join(str(v) for v in ds[scan_name].values)}" if scan_name else ""),
        f"  engine: {ds.attrs['engine']}",
        "  defaults used: " + (", ".join(f"{k} {v}" for k, v in defaults.items()) or "none"),
        f"  sigma^{{J_{pol}}}_xy: {ds['sigma'].attrs['units']}; current: {ds.attrs['current_definition']}",
    ]
    for j in range(sig.shape[0]):
        label = f"  [{scan_name} = {ds[scan_name].values[j]}] " if scan_name else "  "
        k = int(np.nanargmax(np.abs(sig[j])))
        lines.append(f"{label}sigma at mu = {mus[0]:g}: {sig[j, 0]:.6g}" + (f"; largest |sigma| {sig[j, k]:.6g} at mu = {mus[k]:g}" if mus.size > 1 else ""))
    return "\n".join(lines)




def _table(ds, scan_name=None):
    """Long CSV table: one row per point, part, polarization and column (``point``, the scan index,
    only with ``--scan``, next to the scanned value)."""

    cols = [v for v in ds.data_vars if ds[v].dims == ("point", "part", "polarization", "column")]
    df = ds[cols].to_dataframe().reset_index()
    extra = [c for c in ("orbital_torque",) if c in ds]
    if extra:
        ot = ds[extra].to_dataframe().reset_index()
        df = df.merge(ot, on=[c for c in ot.columns if c in df.columns and c not in extra], how="left")
    return _scan_first(df, scan_name)


def _summary(rows, ds):
    lines = [f"# {ds.attrs['units']}", f"# {ds.attrs['current_definition']}", f"# eta = {ds.attrs['eta']}, T = {ds.attrs['T']}"]
    if "N_z" in ds.attrs:
        lines.append(f"# field {ds.attrs['field']}; film, N_z = {ds.attrs['N_z']}: every value per transverse cell (a^2 of one column)")

    def fmt(v):
        return " ".join("nan" if not math.isfinite(x) else f"{x: .3e}" for x in v)

    for r in rows:
        if len(rows) > 1:
            lines.append(f"{ds.attrs['scan']} = {r['value']}")
        for part in PARTS:
            lines.append(f"[{part}] orbital torque on the FM (exchange, summed over FM columns): " + ", ".join(f"{p}: {v: .4e}" for p, v in r[part]["orbital_torque"].items()))
        t = r["total"]
        lines.append(f"  L_z accumulation per column: {fmt(t['density']['z'])}")
        lines.append(f"  L_z x current (slice total): {fmt(t['current_x']['z'])}")
        lines.append(f"  particle current along y:    {fmt(t['current_y']['charge'])}")
        if "current_z" in t:
            lines.append(f"  particle current along z:    {fmt(t['current_z']['charge'])}")
        pz = r["proper"]["z"]
        lines.append("  proper L_z current:          " + (fmt(pz["current"]) if pz["exists"] else f"none (net driven torque {pz['net_torque']:.3e} != 0)"))
        lines.append(f"  continuity balance residual: {r['balance_residual']:.2e}")
    return "\n".join(lines)
