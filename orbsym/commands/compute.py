"""``orbsym compute``: densities, currents, torques and free energies of trilayers and bilayers.

Examples::

    orbsym compute trilayer --gamma 0.5 --m-L x --m-R y --json
    orbsym compute bilayer --metal am --w 0.4 --m-FM 1.2,0.3 --quantities free_energy
    orbsym compute trilayer --m-L y --m-R y --rkky --json --out rkky.json
    orbsym compute trilayer --N-x 400 --engine greens --N-y inf --quantities free_energy,currents
    orbsym compute bilayer --N-x 25 --N-y 64 --N-z 64 --m-FM x --quantities torques   # a film
    orbsym compute trilayer --N-x 12 --N-y 16 --disorder anderson:1.0,vacancies:0.02 --realizations 20 --out dis.nc

``--engine`` picks the solver (``auto``, ``dense``, ``greens``; both outputs record the engine that
ran); ``--N-y inf`` is the thermodynamic limit in y (the k integral; the output records its rule
and error estimate).

``--N-z N`` makes a film, periodic in y and z (``N_y x N_z`` k grid, the cubic 3D models; a
``--metal-model`` must then be 3D, and 2D without ``--N-z``): F, N and every profile are per
transverse cell (``a^2`` of one column), and the text output says so.  Films need a finite
``--N-y``; their size check counts every k_z sector solved.

Progress (``--progress {auto,on,off}``, the policy of every long-running command,
:func:`orbsym.execution.progress_output`): a bar with the elapsed time of the solve on a terminal, a
line at the start, every 30 s and at the end in a log file (``auto``: only for runs estimated above
2 s).  The output names the system defaults a run used (``defaults used``; they differ between
commands: ``compute`` and ``response`` use the paper's 25 x 800, ``N_FM = 1``, ``T = 0.01``,
``evolve`` 9 x 40, ``N_FM = 2``, ``T = 0.05``, ``transport`` ``N_y = 200``).

``--out FILE`` writes the output to ``FILE`` atomically (temporary file + rename,
:mod:`orbsym.io`): a failed or interrupted run leaves the previous ``FILE`` (or none), never half
of one.  Bad values are reported in one line (exit status 2) before anything is computed.

Disorder (:mod:`orbsym.commands.disorder_options`): ``--disorder KIND:STRENGTH[,...]``,
``--disorder-file FILE.npz``, ``--realizations N``, ``--seed S`` run an ensemble of the Gamma-only
supercell of the ``N_x x N_y`` torus (:func:`orbsym.systems.solve` with ``disorder=``); ``--workers``
then shares the realizations; ``--out`` must be ``FILE.nc`` (the ensemble Dataset, resumable); the
summary (text, or ``--json``) gives the disorder, seeds, engine, units, the worst balance residual and
per-column means with standard errors.  ``--quantities`` takes ``densities``, ``currents``,
``free_energy`` there.  ``--N-y inf`` and ``--rkky`` do not apply.

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


#: Defaults of the options whose applicability is checked (None in argparse = "not given").
OPTION_DEFAULTS = {"metal": "nm", "m_L": "x", "m_R": "y", "m_FM": "z", "gamma": 1.0, "spin_unit": "sigma"}


def add_arguments(parser):
    from ..conventions import PAPER_PARAMETERS as P
    from ..numeric.engines import ENGINES

    parser.add_argument("geometry", type=_choice("geometry", GEOMETRIES), metavar="{trilayer,bilayer}", help="trilayer (FM/metal/FM) or bilayer (metal/FM)")
    parser.add_argument("--basis", type=_choice("basis", ("orbital", "spin")), metavar="{orbital,spin}", default=None, help="orbital (Eq. 3) or spin (Eq. 4) (default: orbital for --metal nm, spin for --metal am)")
    parser.add_argument("--metal", type=_choice("metal", ("nm", "am")), metavar="{nm,am}", default=None, help="normal metal or altermagnet (am: spin basis) (default: nm)")
    parser.add_argument("--N-x", dest="N_x", type=int, default=P["N_x"], metavar="N", help=f"columns, open in x (default: {P['N_x']})")
    parser.add_argument("--N-y", dest="N_y", type=_rows, default=P["N_y"], metavar="N", help=f"rows, periodic in y, or inf for the k integral (N_y = infinity) (default: {P['N_y']})")
    parser.add_argument("--N-FM", dest="N_FM", type=int, default=P["N_FM"], metavar="N", help=f"FM columns per ferromagnet (default: {P['N_FM']})")
    parser.add_argument("--N-z", dest="N_z", type=_cells_z, default=None, metavar="N", help="a film: N cells periodic along z, cubic models (default: none, the 2D system)")
    parser.add_argument("--m-L", dest="m_L", default=None, metavar="M", help="left FM magnetization, trilayer only (default: x)")
    parser.add_argument("--m-R", dest="m_R", default=None, metavar="M", help="right FM magnetization, trilayer only (default: y)")
    parser.add_argument("--m-FM", dest="m_FM", default=None, metavar="M", help="FM magnetization, bilayer only (default: z)")
    parser.add_argument("--m", type=float, default=P["m"], metavar="M", help=f"exchange |m| for axis names and angles (default: {P['m']:g})")
    parser.add_argument("--gamma", type=float, default=None, metavar="G", help="NM anisotropic hopping, orbital basis only (default: 1)")
    parser.add_argument("--tp", type=float, default=None, metavar="TP", help="t' of the d_xy orbital, orbital basis only (default: t)")
    parser.add_argument("--w", type=float, default=None, metavar="W", help="altermagnet anisotropy, --metal am only (default: 0.4)")
    parser.add_argument("--t", type=float, default=P["t"], metavar="HOP", help=f"hopping t, the energy unit (default: {P['t']:g})")
    parser.add_argument("--mu", type=float, default=P["mu"], metavar="MU", help=f"chemical potential (default: {P['mu']:g})")
    parser.add_argument("--T", type=float, default=P["T"], metavar="TEMP", help=f"temperature >= 0, units of t (default: {P['T']:g})")
    parser.add_argument("--interface", type=_choice("interface rule", ("fm", "metal")), metavar="{fm,metal}", default="fm", help="hopping on FM-metal bonds (default: fm)")
    parser.add_argument("--spin-unit", dest="spin_unit", type=_choice("spin unit", ("sigma", "S")), metavar="{sigma,S}", default=None, help="spin basis only: report sigma or S = sigma/2 (default: sigma)")
    parser.add_argument(
        "--quantities",
        default="densities,currents,torques,free_energy",
        metavar="LIST",
        help=f"comma-separated subset of {','.join(QUANTITIES)} (default: densities,currents,torques,free_energy)",
    )
    parser.add_argument(
        "--metal-model",
        dest="metal_model",
        default=None,
        metavar="FILE.py",
        help="use the model defined as `model` in FILE.py (e.g. from `orbsym hoppings`) as the metal; "
        "optional `params` dict there sets its parameters; the FMs are isotropic with the model's generators. "
        "FILE.py is executed as Python code (once): use only files you trust",
    )
    parser.add_argument("--rkky", action="store_true", help="also compute J = F_AP - F_P (trilayer; m_R along +-m_L)")
    parser.add_argument(
        "--engine",
        type=_choice("engine", ENGINES),
        metavar="{" + ",".join(ENGINES) + "}",
        default="auto",
        help="dense (Bloch diagonalization, the reference), greens (recursive Green's functions, linear in N_x) "
        "or auto (the faster by the cost model of orbsym.numeric.engines) (default: auto)",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="processes sharing the k-points, or the realizations with --disorder (default: 1)")
    from .disorder_options import add_disorder_arguments

    add_disorder_arguments(parser, "compute")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the output to FILE (atomically) instead of stdout")
    from ..execution import add_progress_argument

    add_progress_argument(parser)
    for action in parser._actions:  # system sizes and energies: None = not given (the summary names the defaults used)
        if action.dest in SIZE_DEFAULTS:
            SIZE_DEFAULTS[action.dest] = action.default
            action.default = None
    parser.epilog = DEFAULTS_NOTE


#: System options whose default is named in the output when not given (dest -> flag); the values
#: (the paper's, :data:`orbsym.conventions.PAPER_PARAMETERS`) are read from the parser by :func:`add_arguments`.
SIZE_DEFAULTS = {"N_x": None, "N_y": None, "N_FM": None, "T": None, "mu": None, "m": None, "t": None}
SIZE_FLAGS = {"N_x": "--N-x", "N_y": "--N-y", "N_FM": "--N-FM", "T": "--T", "mu": "--mu", "m": "--m", "t": "--t"}
#: ``--help`` epilog: the system defaults differ between the commands.
DEFAULTS_NOTE = (
    "System defaults of compute (the paper's, as response): N_x = 25 columns, N_y = 800 rows, N_FM = 1, T = 0.01, mu = -0.2, |m| = 1, "
    "t = 1. Other commands differ: evolve 9 x 40, N_FM = 2, T = 0.05; transport N_y = 200 (16 for an open strip). "
    "The output names the defaults a run used (\"defaults used\")."
)


def fill_size_defaults(args):
    """Fill in the system defaults not given (:data:`SIZE_DEFAULTS`); return ``{flag: value}`` of those
    that apply (``--mu``/``--t`` also with a model file: they set the FMs and, if it has them, the model)."""
    used = {}
    for k, v in SIZE_DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
            used[SIZE_FLAGS[k]] = v
    return used


def check_applicable(args):
    """Raise ValueError for an option that does not apply to this geometry, basis or metal;
    then fill in the defaults of :data:`OPTION_DEFAULTS` (so nothing given is silently ignored)."""
    given = {k for k in OPTION_DEFAULTS if getattr(args, k) is not None}
    if args.tp is not None:
        given.add("tp")
    if args.w is not None:
        given.add("w")
    if args.basis is not None:
        given.add("basis")
    check_metal_options(given, args.geometry, args.metal, args.basis, metal_model=args.metal_model)
    if args.metal_model and args.rkky:
        raise ValueError(
            "option --rkky does not apply with --metal-model (J = F_AP - F_P rebuilds the built-in trilayer "
            "with m_R along +-m_L; compute F for the two --m-R directions with two runs instead)"
        )
    used = fill_size_defaults(args)
    for k, v in OPTION_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
            applies = {"m_L": args.geometry == "trilayer", "m_R": args.geometry == "trilayer", "m_FM": args.geometry == "bilayer",
                       "gamma": not args.metal_model and (args.basis or ("spin" if args.metal == "am" else "orbital")) == "orbital"}
            if applies.get(k):
                used[SYSTEM_FLAGS[k]] = v
    args._defaulted = used
    return given


#: Command-line flags of the system options checked by :func:`check_metal_options`.
SYSTEM_FLAGS = {"m_L": "--m-L", "m_R": "--m-R", "m_FM": "--m-FM", "spin_unit": "--spin-unit", "tp": "--tp", "w": "--w",
                "gamma": "--gamma", "metal": "--metal", "basis": "--basis"}


def check_metal_options(given, geometry, metal=None, basis=None, metal_model=None):
    """Refuse a given system option that does not apply; the basis in use.

    The one rule set of every command that builds a trilayer/bilayer (``compute``, ``response``,
    ``evolve``): ``given`` holds the option names set on the command line (``dest`` names).

    * ``--m-L``/``--m-R`` only for the trilayer, ``--m-FM`` only for the bilayer;
    * with ``--metal-model``: no ``--basis``, ``--metal``, ``--gamma``, ``--tp``, ``--w``,
      ``--spin-unit`` (the model file defines them);
    * ``--metal am`` (the altermagnet, Eq. 4) only in the spin basis; ``--gamma``/``--tp`` only in
      the orbital basis (Eq. 3); ``--spin-unit`` only in the spin basis; ``--w`` only for ``--metal am``.

    Raises ValueError naming the option and where it applies.  Returns the basis (``basis``, or the
    metal's default: spin for ``am``, orbital otherwise; None with a model file).
    """
    for k, geo in (("m_L", "trilayer"), ("m_R", "trilayer"), ("m_FM", "bilayer")):
        if k in given and geometry in ("trilayer", "bilayer") and geometry != geo:
            other = "--m-FM" if geometry == "bilayer" else "--m-L/--m-R"
            raise ValueError(f"option {SYSTEM_FLAGS[k]} applies only to the {geo} geometry; the {geometry} has {other}")
    if metal_model:
        for k in ("basis", "metal", "gamma", "tp", "w", "spin_unit"):
            if k in given:
                raise ValueError(
                    f"option {SYSTEM_FLAGS[k]} does not apply with --metal-model (the model file defines the metal, its basis "
                    "and its parameters: set them in its `params` dict)"
                )
        return None
    metal = metal or OPTION_DEFAULTS["metal"]
    basis = basis or ("spin" if metal == "am" else "orbital")
    if metal == "am" and basis != "spin":
        raise ValueError("--metal am (the altermagnet, Eq. 4) exists only in the spin basis; omit --basis or give --basis spin")
    if basis == "spin":
        for k in ("gamma", "tp"):
            if k in given:
                raise ValueError(f"option {SYSTEM_FLAGS[k]} applies only to the orbital basis (Eq. 3); the spin basis (Eq. 4) has --w for --metal am")
    elif "spin_unit" in given:
        raise ValueError("option --spin-unit applies only to the spin basis (--basis spin or --metal am)")
    if "w" in given and metal != "am":
        where = "the orbital basis has --gamma and --tp" if basis == "orbital" else "the spin normal metal is the altermagnet with w = 0"
        raise ValueError(f"option --w applies only to the altermagnet (--metal am); {where}")
    return basis


def _rows(text):
    """argparse ``type`` of ``--N-y``: an integer, or ``inf`` for ``N_y = infinity``."""
    import argparse

    if str(text).strip().lower() in ("inf", "infinity"):
        return math.inf
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--N-y must be an integer >= 1 or inf (N_y = infinity), got {text!r}") from None


def _cells_z(text):
    """argparse ``type`` of ``--N-z``: an integer >= 1 (cells of a film along z)."""
    import argparse

    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"--N-z must be an integer >= 1 (cells of the film along z), got {text!r}")
    return v


def check_model_dimension(path, model, N_z):
    """A ``--metal-model`` must be 3D for a film (``--N-z``) and 2D without: ValueError naming the file."""
    ndim = getattr(model, "ndim", 2)
    if N_z is not None and ndim != 3:
        raise ValueError(f"--N-z {N_z} needs a 3D metal model (hoppings along x, y and z); the model {model.name!r} of {path!r} is 2D: drop --N-z, "
                         "or use a 3D model such as orbsym.symbolic.models.cubic_t2g_metal()")
    if N_z is None and ndim == 3:
        raise ValueError(f"the model {model.name!r} of {path!r} is 3D (hoppings along z): give --N-z N (cells of the film along z)")


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



def add_system_arguments(parser, N_x, N_y, N_FM, m_L, m_R, T, T_help="temperature (units of t, >= 0)"):
    """Options that build a trilayer/bilayer, shared by the driver commands (``evolve``, ``response``);
    the defaults differ per command and are shown in ``--help``."""
    from ..conventions import PAPER_PARAMETERS as P

    parser.add_argument("--basis", type=_choice("basis", ("orbital", "spin")), metavar="{orbital,spin}", default=None, help="orbital (Eq. 3, default) or spin (Eq. 4)")
    parser.add_argument("--metal", type=_choice("metal", ("nm", "am")), metavar="{nm,am}", default="nm", help="normal metal or altermagnet (spin basis)")
    parser.add_argument("--N-x", dest="N_x", type=int, default=N_x, help="columns (open x; default %(default)s)")
    parser.add_argument("--N-y", dest="N_y", type=int, default=N_y, help="rows (periodic y) = k points along y (default %(default)s)")
    parser.add_argument("--N-FM", dest="N_FM", type=int, default=N_FM, help="FM columns per ferromagnet (default %(default)s)")
    parser.add_argument("--m-L", dest="m_L", default=m_L, help="left FM magnetization (trilayer; default %(default)s)")
    parser.add_argument("--m-R", dest="m_R", default=m_R, help="right FM magnetization (trilayer; default %(default)s)")
    parser.add_argument("--m-FM", dest="m_FM", default="z", help="FM magnetization (bilayer; default %(default)s)")
    parser.add_argument("--m", type=float, default=P["m"], help="|m| for axis names and angles (default %(default)s)")
    parser.add_argument("--gamma", type=float, default=1.0, help="NM anisotropic hopping (orbital basis; default %(default)s)")
    parser.add_argument("--tp", type=float, default=None, help="t' (default t)")
    parser.add_argument("--w", type=float, default=None, help="altermagnet anisotropy (default 0.4 for --metal am)")
    parser.add_argument("--t", type=float, default=P["t"], metavar="HOP", help="hopping (default %(default)s)")
    parser.add_argument("--mu", type=float, default=P["mu"], help="chemical potential (default %(default)s)")
    parser.add_argument("--T", type=float, default=T, metavar="TEMP", help=T_help + " (default %(default)s)")
    parser.add_argument("--interface", type=_choice("interface rule", ("fm", "metal")), metavar="{fm,metal}", default="fm", help="hopping on FM-metal bonds (default %(default)s)")
    parser.add_argument("--spin-unit", dest="spin_unit", type=_choice("spin unit", ("sigma", "S")), metavar="{sigma,S}", default="sigma", help="spin basis: report sigma or S = sigma/2 (default %(default)s)")

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
    """``(model, params)`` from a Python file defining ``model`` and optionally ``params``.

    The file is executed exactly once (it is Python code: use only files you trust)."""
    from .derive import ModelFileError, load_model_file

    if not str(path).endswith(".py"):
        raise ModelFileError(f"--metal-model must be a .py file defining `model`, got {path!r}")
    model, namespace = load_model_file(path)
    params = namespace.get("params", {})
    if not isinstance(params, dict):
        raise ModelFileError(f"`params` in {path!r} must be a dict of parameter values, got {type(params).__name__}")
    return model, dict(params)


def _user_system(args, model, params):
    """Trilayer/bilayer whose metal is a user model (FMs: isotropic, -m.J with the model's generators).

    The JSON ``system`` records the model file, the model's name and parameter values, the FM
    parameters (``N_FM``, ``t``, ``mu``, ``m`` and the magnetizations) like the built-in geometries."""
    from ..symbolic.models import ferromagnet
    from ..systems import heterostructure, layer, magnetization

    names = {p.name for p in model.parameters}
    for name, value in (("t", args.t), ("mu", args.mu)):
        if name in names:
            params.setdefault(name, value)
    missing = sorted(names - set(params))
    if missing:
        raise ValueError(f"the metal model {model.name!r} needs values for {missing}: set them in a `params` dict in {args.metal_model!r}")
    fm = ferromagnet(model.generators, dimension=3 if getattr(args, "N_z", None) is not None else 2)
    fm_params = {"t": args.t, "mu": args.mu}
    width = args.N_x - (2 if args.geometry == "trilayer" else 1) * args.N_FM
    if width < 1:
        raise ValueError(f"N_x = {args.N_x} leaves no metal column between the FMs (N_FM = {args.N_FM})")
    info = {
        "geometry": args.geometry,
        "metal": "model",
        "basis": f"model file (generators {model.generators.name})",
        "metal_model": {
            "file": str(args.metal_model),
            "name": model.name,
            "parameters": {k: (float(v) if isinstance(v, (int, float)) else str(v)) for k, v in sorted(params.items())},
        },
        "N_x": args.N_x,
        "N_FM": args.N_FM,
        "m": args.m,
        "t": args.t,
        "mu": args.mu,
    }
    if args.geometry == "trilayer":
        mL = magnetization(_magnetization_arg("--m-L", args.m_L), args.m)
        mR = magnetization(_magnetization_arg("--m-R", args.m_R), args.m)
        info.update(m_L=list(mL), m_R=list(mR))
        blocks = [layer(fm, args.N_FM, m=mL, label="FM_L", **fm_params), layer(model, width, label=model.name, **params),
                  layer(fm, args.N_FM, m=mR, label="FM_R", **fm_params)]
    else:
        mv = magnetization(_magnetization_arg("--m-FM", args.m_FM), args.m)
        info.update(m_FM=list(mv))
        blocks = [layer(model, width, label=model.name, **params), layer(fm, args.N_FM, m=mv, label="FM", **fm_params)]
    return heterostructure(blocks, N_y=args.N_y, interface=args.interface, spin_unit=args.spin_unit, info=info, N_z=getattr(args, "N_z", None))


def _system(args, user=None):
    from ..systems import bilayer, magnetization, trilayer

    if args.metal_model:
        return _user_system(args, *user)

    common = dict(
        N_x=args.N_x, N_y=args.N_y, N_FM=args.N_FM, m=args.m, gamma=args.gamma, tp=args.tp, w=args.w,
        t=args.t, mu=args.mu, interface=args.interface, spin_unit=args.spin_unit, N_z=getattr(args, "N_z", None),
    )
    if args.geometry == "trilayer":
        mL = magnetization(_magnetization_arg("--m-L", args.m_L), args.m)
        mR = magnetization(_magnetization_arg("--m-R", args.m_R), args.m)
        return trilayer(args.basis, metal=args.metal, m_L=mL, m_R=mR, **common)
    mv = magnetization(_magnetization_arg("--m-FM", args.m_FM), args.m)
    return bilayer(args.metal, args.basis, m_FM=mv, **common)


def check_size(args, dim, vectors, user=None):
    """Refuse, before building anything, a solve that would not fit (estimate in the message).

    The dense engine by :func:`orbsym.numeric.budget.dense_bloch_estimate`; the Green's-function
    engine (``--engine greens``, ``N_y = inf``, or ``auto`` beyond the dense engine's reach) by
    :func:`greens_check`.
    """
    from ..numeric.budget import check_resources, dense_bloch_estimate

    if min(args.N_x, args.N_y, args.N_FM) < 1:
        return None  # the geometry reports the bad size with its allowed range
    if args.engine == "greens" or (args.N_y == math.inf and args.engine == "auto"):
        return greens_check(args, dim, vectors, user, required=args.engine == "greens")
    if args.N_y == math.inf:
        return None  # the dense k integral (adaptive) checks its own budget
    from ..numeric.budget import ResourceError

    est = dense_bloch_estimate(args.N_x, args.N_y, dim, vectors=vectors, workers=args.workers)
    if getattr(args, "N_z", None) is not None and args.N_z >= 1:  # a film: one 2D solve per k_z sector
        from ..numeric.budget import film_sector_count

        est = est.times(film_sector_count(args.N_z), "k_z sectors")
    if args.rkky:
        est = est.times(3, "solves")
    what = f"N_x = {args.N_x}, N_y = {args.N_y}" + (" with eigenvectors" if vectors else " (eigenvalues only)")
    try:
        return check_resources(est, what=what, workers=args.workers)
    except ResourceError:
        if args.engine != "auto":
            raise
    # auto: a size beyond the dense engine may still be cheap for the linear-scaling engine (the
    # solve re-checks the engine auto actually picks); refuse only if that one is out of reach too
    return greens_check(args, dim, vectors, user, what=what + " (beyond the dense engine; Green's-function engine)")


#: The longest short copy of the system built to size the Green's-function estimate (columns).
SHORT_COPY_MAX = 2000


def greens_estimate_for(args, dim, vectors, user=None):
    """:class:`~orbsym.numeric.budget.ResourceEstimate` of the whole Green's-function run of ``compute``.

    The solve from :func:`orbsym.numeric.engines.greens_solve_estimate` on a short copy of the
    system (``2 N_FM + 3`` columns: the same column types, spectral bound and k sub-grids, built in
    milliseconds) stretched to ``N_x``; plus building the lattice and the observables
    (:data:`orbsym.numeric.engines.SYSTEM_SECONDS_PER_COLUMN`); with ``--rkky`` three free-energy
    sweeps more (F_P, F_AP and Lloyd's formula) on two rebuilt systems.  A very long short copy (huge ``N_FM``) falls back to
    :func:`orbsym.numeric.engines.greens_estimate` from the sizes.
    """
    import argparse

    from ..numeric.budget import ResourceEstimate
    from ..numeric.engines import SYSTEM_SECONDS_PER_COLUMN, greens_estimate, greens_solve_estimate

    infinite = args.N_y == math.inf
    short = min(args.N_x, 2 * args.N_FM + 3)
    if short <= SHORT_COPY_MAX:
        a = argparse.Namespace(**vars(args))
        a.N_x = short
        lat = _system(a, user).lattice
        from ..numeric.greens import _check_nn

        _check_nn(lat)  # next-nearest-neighbour bonds: not this engine (auto: dense)
        ny = None if infinite else "lattice"
        one = lambda v: greens_solve_estimate(lat, args.T, vectors=v, N_x=args.N_x, N_y=ny)  # noqa: E731
    else:
        one = lambda v: greens_estimate(args.N_x, None if infinite else args.N_y, dim, args.T, vectors=v)  # noqa: E731
    est = one(vectors)
    system = ResourceEstimate(est.engine, 0.0, SYSTEM_SECONDS_PER_COLUMN * args.N_x)
    est = est + system
    if args.rkky:  # F_P, F_AP, Lloyd's formula (each ~ one free-energy sweep) on two rebuilt systems
        est = est + one(False).times(3) + ResourceEstimate(est.engine, 0.0, 2 * SYSTEM_SECONDS_PER_COLUMN * args.N_x)
    return est


def greens_check(args, dim, vectors, user=None, what=None, required=True):
    """Refuse a Green's-function run beyond the memory or time limit (:func:`greens_estimate_for`).

    ``required=False`` (``auto`` with ``N_y = inf``): a system the engine cannot run (too low a
    temperature for ``N_y = inf``, next-nearest-neighbour bonds) is left to the dense k integral,
    which checks its own budget.
    """
    from ..numeric.budget import check_resources

    if what is None:
        rows = "inf" if args.N_y == math.inf else args.N_y
        what = f"N_x = {args.N_x}, N_y = {rows}" + (" with correlation bands" if vectors else " (free energy only)") + " on the Green's-function engine"
    try:
        est = greens_estimate_for(args, dim, vectors, user)
    except ValueError:
        if required:
            raise
        return None
    if getattr(args, "N_z", None) is not None and args.N_z >= 1:  # a film: one 2D solve per k_z sector
        from ..numeric.budget import film_sector_count

        est = est.times(film_sector_count(args.N_z), "k_z sectors")
    if args.rkky:
        what += " with --rkky"
    return check_resources(est, what=what, workers=1)


def _format_text(d):
    lines = []
    s = d["system"]
    cell = "per transverse cell" if s.get("N_z") is not None else "per row"  # films: per a^2 of one column
    sizes = ", ".join(f"{k}={s[k]}" for k in ("N_x", "N_y", "N_z", "N_FM") if s.get(k) is not None)
    lines.append(f"system: {s['geometry']} ({s['basis']} basis, interface={s['interface']}), {sizes}, T={d['T']}")
    if "defaults_used" in d:
        used = ", ".join(f"{k} {v}" for k, v in d["defaults_used"].items()) or "none"
        lines.append(f"defaults used: {used} (compute's defaults are the paper's: 25 x 800, N_FM 1, T 0.01; evolve uses 9 x 40, N_FM 2, T 0.05)")
    lines.append(f"engine: {d['engine']} (requested {d['engine_requested']})")
    if d.get("k_integral"):
        k = d["k_integral"]
        lines.append(f"N_y = inf: k integral by {k['method']} ({k['engine']} engine), error estimate {k['error_estimate']:.2g} t per row")
    if "metal_model" in s:
        mm = s["metal_model"]
        pars = ", ".join(f"{k}={v}" for k, v in mm["parameters"].items())
        lines.append(f"metal: model {mm['name']!r} from {mm['file']} ({pars}); FMs: m={s['m']}, t={s['t']}, mu={s['mu']}")
    if "free_energy_per_row" in d:
        total = "infinite" if d["free_energy_total"] is None else f"{d['free_energy_total']:.12g}"
        lines.append(f"free energy {cell}: {d['free_energy_per_row']:.12g}  (total {total})")
    if "particle_number_per_row" in d:
        lines.append(f"particles {cell}: {d['particle_number_per_row']:.12g}")
    if "rkky" in d:
        r = d["rkky"]
        lines.append(f"RKKY J = F_AP - F_P {cell}: {r['J']:.6e}  (F_P {r['F_P']:.12g}, F_AP {r['F_AP']:.12g})")

    def fmt(v):
        return " ".join("nan" if x is None else f"{x: .3e}" for x in v)

    for section, title in (("densities", "density"), ("torques", "total torque (bond decomposition)")):
        if section in d:
            for p, v in d[section].items():
                vals = v["total"] if isinstance(v, dict) else v
                lines.append(f"{title} [{p}]: {fmt(vals)}")
    if "currents" in d:
        lines.append("x current: slice-boundary total, the bond current summed over every bond crossing each column boundary (= the (1,0) bond for nearest-neighbour models)")
        for p, v in d["currents"]["bond"].items():
            lines.append(f"x current [{p}]: {fmt(v)}")
    if "continuity" in d:
        lines.append(f"continuity: {d['continuity']}")
    return "\n".join(lines)


def run(args):
    from ..numeric.checks import ENERGY_LIMIT, real_number, unknown_name
    from ..systems import rkky, solve

    check_applicable(args)
    from .disorder_options import check_disorder_options

    disorder = check_disorder_options(args, refuse=(
        ("--N-y inf", args.N_y == math.inf, "a disordered sample is a finite torus (the Gamma-only supercell of N_y transverse cells): give an integer --N-y"),
        ("--rkky", args.rkky, "J = F_AP - F_P of a disordered trilayer is not implemented (run two ensembles with --m-R along +-m_L and subtract)"),
    ))
    from ..workflows.sweeps.inputs import split_list

    if not str(args.quantities).replace(",", "").strip():
        raise ValueError(f"--quantities is empty; give a comma-separated subset of {','.join(QUANTITIES)}")
    qs = split_list("--quantities", args.quantities, example="densities,currents")
    bad = [q for q in qs if q not in QUANTITIES]
    if bad:
        raise ValueError(f"{unknown_name('quantity', bad[0], QUANTITIES)} (in --quantities)")
    if len(set(qs)) != len(qs):
        raise ValueError(f"--quantities {args.quantities!r} names a quantity twice")
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    for name, v in (("--T", args.T), ("--mu", args.mu), ("--t", args.t), ("--m", args.m), ("--gamma", args.gamma), ("--tp", args.tp), ("--w", args.w)):
        if v is not None:
            real_number(name, v, bound=ENERGY_LIMIT)
    if disorder is not None:
        return _run_disorder(args, qs, disorder)
    target = _check_out(args.out)
    if args.rkky and args.geometry != "trilayer":
        raise ValueError("--rkky needs the trilayer geometry (J = F_AP - F_P between the two FMs)")
    if args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    user = _user_metal(args.metal_model) if args.metal_model else None
    if user is not None:
        check_model_dimension(args.metal_model, user[0], args.N_z)
    if args.N_z is not None and args.N_y == math.inf:
        raise ValueError(f"--N-y inf is not available for films yet (--N-z {args.N_z}): give a finite --N-y")
    dim = user[0].dim if user else (2 if (args.basis == "spin" or args.metal == "am") else 3)
    vectors = any(q not in ("free_energy", "particle_number") for q in qs)
    est = check_size(args, dim, vectors, user)
    system = _system(args, user)
    from ..execution import ElapsedBar, progress_output

    seconds = getattr(est, "seconds", None)
    seconds = None if seconds is None else seconds / max(1, args.workers)
    # one solve (three with --rkky): a bar with the elapsed time on a terminal, a line every 30 s in a log file
    with progress_output(args.progress, seconds) as show, ElapsedBar(show, "orbsym compute" + _estimate_text(seconds)):
        result = solve(system, args.T, workers=args.workers, engine=args.engine)
        rk = rkky(system, args.T, workers=args.workers, engine=args.engine) if args.rkky else None
    out = result.to_dict(tuple(qs))
    out["defaults_used"] = {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in getattr(args, "_defaulted", {}).items()}
    if "currents" in out:
        from ..numeric.observables import current_definition
        from ..systems import CURRENT_KINDS

        out["current_definitions"] = {**{k: current_definition(k, "x") for k in CURRENT_KINDS}, "bond_y": current_definition("bond", "y")}
    if rk is not None:
        out["rkky"] = rk
    text = json.dumps(out, allow_nan=False) if args.json else _format_text(out)
    if target is None:
        print(text)
    else:
        from ..io import atomic_write

        with atomic_write(target) as fh:
            fh.write(text + "\n")
    return 0


#: ``--quantities`` of a disorder ensemble -> the ensemble's observables.
DISORDER_QUANTITIES = {"free_energy": "free_energy", "densities": "density", "currents": "boundary_current"}


def _run_disorder(args, qs, disorder):
    """``--disorder``: the ensemble of Gamma-only supercells (:func:`orbsym.systems.disorder_ensemble`) and its summary."""
    from ..execution import progress_output
    from ..systems import disorder_ensemble
    from .disorder_options import check_out, summary_record, summary_text, supercell_estimate, terms_with_file

    terms, n, seed = disorder
    default = args.quantities == "densities,currents,torques,free_energy"
    if default:
        qs = list(DISORDER_QUANTITIES)
    bad = [q for q in qs if q not in DISORDER_QUANTITIES]
    if bad:
        raise ValueError(f"--quantities {bad[0]} does not apply to a disorder ensemble (it stores {', '.join(DISORDER_QUANTITIES)}: "
                         "densities per site, x currents through the column boundaries, F per transverse cell)")
    if not math.isfinite(args.T) or args.T < 0:
        raise ValueError(f"--T must be a finite temperature >= 0 (units of t), got {args.T!r}")
    from ..numeric.checks import ENERGY_LIMIT, real_number

    for name, v in (("--T", args.T), ("--mu", args.mu), ("--t", args.t), ("--m", args.m), ("--gamma", args.gamma), ("--tp", args.tp), ("--w", args.w)):
        if v is not None:
            real_number(name, v, bound=ENERGY_LIMIT)
    if args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    target = check_out(args.out)
    user = _user_metal(args.metal_model) if args.metal_model else None
    if user is not None:
        check_model_dimension(args.metal_model, user[0], args.N_z)
    if min(args.N_x, args.N_y, args.N_FM) < 1:
        _system(args, user)  # the geometry reports the bad size with its allowed range
    dim = user[0].dim if user else (2 if (args.basis == "spin" or args.metal == "am") else 3)
    est = supercell_estimate(args.N_x, args.N_y, args.N_z, dim, n, args.workers, T=args.T, engine=args.engine)
    system = _system(args, user)
    terms = terms_with_file(args, system, terms)
    attrs = {"command": "orbsym compute", "command_disorder": args.disorder or "", "disorder_file": str(args.disorder_file or "")}
    with progress_output(args.progress, est.seconds / max(1, min(args.workers, n))) as show:
        ds = disorder_ensemble(system, args.T, terms, n if args.disorder is not None else None, seed if args.disorder is not None else None,
                               workers=args.workers, engine=args.engine, out=target, progress=show,
                               attrs=attrs, observables=[DISORDER_QUANTITIES[q] for q in qs])
    rec = summary_record(ds, system, args.T, args, {"engine_requested": args.engine, "defaults_used": {
        k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in getattr(args, "_defaulted", {}).items()}})
    if args.json:
        print(json.dumps(rec, allow_nan=False))
        return 0
    s = rec["system"]
    sizes = ", ".join(f"{k}={s[k]}" for k in ("N_x", "N_y", "N_z", "N_FM") if s.get(k) is not None)
    head = [f"system: {s['geometry']} ({s['basis']} basis, interface={s['interface']}), {sizes}, T={args.T} (clean; disorder below)"]
    if rec["defaults_used"]:
        head.append("defaults used: " + ", ".join(f"{k} {v}" for k, v in rec["defaults_used"].items()))
    print(summary_text(rec, head) + (f"\nwrote {target}" if target is not None else ""))
    return 0


def _estimate_text(seconds):
    """`` (estimate ~12 s)`` for the progress bar's description (nothing when unknown)."""
    if seconds is None:
        return ""
    return " (estimate < 1 s)" if seconds < 1 else f" (estimate ~{seconds:.2g} s)" if seconds < 100 else f" (estimate ~{seconds / 60:.2g} min)"


def _check_out(path):
    """Validate ``--out`` before computing: a file path in a writable directory (created if needed)."""
    if path is None:
        return None
    from ..io import check_output_file

    return check_output_file(path, "--out", "result.json")
