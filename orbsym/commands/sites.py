"""``orbsym sites``: equilibrium, linear response, transport or real time of a site-resolved lattice defined in a Python file.

Examples::

    orbsym sites cell.py                                  # one-line summary
    orbsym sites cell.py --T 0.05 --out cell.nc           # every per-site / per-bond profile, NetCDF
    orbsym sites cell.py --response y --eta 0.05 --csv response.csv
    orbsym sites flake.py --quantities densities,balance --engine dense --out flake.nc
    orbsym sites cell.py --transport --out g.nc            # between leads, linear response (conductance)
    orbsym sites cell.py --transport --bias 0.1 --n-energy 100 --out iv.nc
    orbsym sites quench.py --evolve --out t.nc            # real time: the file's `times`, `quench`, `drive`, `eta`
    orbsym sites strip.py --disorder anderson:1.0,vacancies:0.02 --realizations 32 --seed 7 --out ens.nc
    orbsym sites strip.py --transport --disorder anderson:2 --realizations 16 --out g.nc

``FILE.py`` is executed once as Python code (use only files you trust) and must define ``lattice``, an
:class:`orbsym.numeric.sites.SiteLattice` (several sites per cell, bonds of any offset; transverse
dimension 0 = a finite sample of ``width`` cells with optional per-cell on-site matrices and
vacancies, 1 = periodic y (``N_y``), 2 = a film periodic in y and z (``N_y``, ``N_z``)).  It may also
define ``T`` (temperature, units of t) and ``eta`` (relaxation rate of ``--response``/``--evolve``); the options
``--T``/``--eta`` give them instead (giving one in both places is refused: set it in one place).
Defaults: ``T`` of :data:`orbsym.conventions.PAPER_PARAMETERS`, ``eta`` =
:data:`orbsym.response.DEFAULT_ETA` (``--response``; ``--evolve``: no relaxation).  A file's ``eta`` is
used by ``--response`` and ``--evolve``, ignored by the equilibrium solve and refused with
``--transport`` (which has no relaxation rate).  For ``--transport`` the file may define ``left`` /
``right`` (a SiteLattice: its first / last slice continued, or ``(SiteLattice, slice index)``; default:
the region's end slices); for ``--evolve`` it must define ``times`` and may define ``quench`` and ``drive``.

Modes
-----
* Equilibrium (default): :meth:`SiteLattice.solve` with ``--engine`` ``dense`` (Bloch diagonalization of
  the slice chain), ``greens`` (recursive Green's functions; nearest-slice bonds only) or ``auto`` (the
  faster by the cost model of :mod:`orbsym.numeric.engines`; ``dense`` whenever the slice chain has
  bonds beyond ``(1, 0)``, ``(0, 1)``).  The balance checked is the stationarity of the thermal state,
  ``d<O_i>/dt = -div_i j + tau_i = 0`` at every site, for the charge and ``J_x, J_y, J_z``.
* ``--response {y,z}``: :meth:`SiteLattice.respond`, Kubo linear response to a uniform ``E_y`` (periodic
  y) or ``E_z`` (films), per unit force ``q E`` (``e = hbar = a = 1``), parts ``total`` (=
  ``fermi_surface + fermi_sea``), ``fermi_surface``, ``fermi_sea`` and ``drive``; the balance checked is
  the driven one, ``-div_i j + tau_i = eta <O_i> + D_i``.  ``--engine`` does not apply.
* ``--transport``: :func:`orbsym.numeric.sites_transport.site_transport`, the steady state of the lattice
  between two semi-infinite leads (NEGF), in linear response (per unit bias; parts ``response`` and
  ``equilibrium``, the Landauer conductance in ``e^2/h`` per transverse cell) or at ``--bias V`` with the
  symmetric split ``mu_L = mu + V/2``, ``mu_R = mu - V/2`` (parts ``window``, ``equilibrium`` =
  ``rho_eq(mu_R)``, ``total``); ``--T`` is the leads' temperature, ``--n-energy`` the energy nodes (not
  at ``T = 0`` in linear response: one energy).  The balance checked: ``d<O_i>/dt = -div_i j + tau_i = 0``
  at every interior site (outside the two end slices, which exchange particles with the leads) for
  every part, and the charge slice-boundary current equals the Landauer current at every boundary
  outside the end slices (inside an end slice of several x-cells, bonds from the lead cross it).
* ``--evolve``: :func:`orbsym.numeric.sites_evolution.evolve_sites`, real time from the thermal state at
  ``T``: a sudden ``quench`` (a SiteLattice of the same geometry) at ``t = 0``, an on-site ``drive``
  (``t -> {site or (x, y, site): matrix}``, units of t; exponential midpoint rule with
  ``--steps-per-interval`` steps between recorded times, default 16; without a drive the propagation is
  exact and the option is refused) and relaxation at rate ``eta``, recorded at the file's ``times``
  (units of hbar/t).  The balance checked: ``d<J_i>/dt = -div_i j + tau_i`` at every site and time.

The modes exclude each other (two given: exit status 2), and so does every option outside its mode
(``--engine``: equilibrium; ``--eta``: ``--response``, ``--evolve``; ``--bias``, ``--n-energy``:
``--transport``; ``--steps-per-interval``: ``--evolve``; ``--quantities``: not ``--evolve``).

A balance off by more than :data:`BALANCE_TOL` (relative to its largest term, or 1; every mode) fails the run
(exit status 1, the message names the residual); nothing is written then.

Disorder ensembles
------------------
On a finite sample (transverse dimension 0) or a periodic lattice (each realization its Gamma-only supercell,
:func:`orbsym.numeric.disorder.supercell`: the ``N_x x N_y`` torus with disorder, arrays ``(N_x, R, ...)`` with
``R = N_y``, films ``N_y N_z``), ``--disorder KIND:STRENGTH[,...]`` runs an ensemble of
``--realizations N`` (default 1) disordered copies of the file's clean ``lattice`` with seeds ``S, S+1, ...``
(``--seed S``, default 0), through :func:`orbsym.workflows.ensembles.ensemble` (realization ``r`` is
:func:`orbsym.numeric.disorder.realize` of the clean sample with seed ``S + r``).  Kinds (:data:`DISORDER_KINDS`;
several comma-separated terms add up, each drawn from its own random stream)::

    anderson:W          on-site V 1 per site, V uniform in [-W/2, W/2] (units of t)
    anderson-gauss:W    on-site V 1 per site, V Gaussian of standard deviation W (units of t)
    anderson-orbital:W  on-site diag(V_1..V_n) per site, each V_a uniform in [-W/2, W/2] (units of t)
    hopping:W           every bond matrix times 1 + d, d uniform in [-W/2, W/2] (dimensionless)
    hopping-gauss:W     every bond matrix times 1 + d, d Gaussian of standard deviation W
    vacancies:c         each site removed with probability c (0 <= c <= 1)
    texture:m           -m . J added on every site, |m| = m (units of t), directions uniform on the sphere

``--disorder-file FILE.npz`` (``numpy.savez``) brings explicit arrays, one configuration: ``potential_<site>``
of shape ``(N_x, width)`` (a potential times 1), ``(N_x, width, n)`` (diagonal) or ``(N_x, width, n, n)``
(Hermitian matrices), units of t, ADDED to that site's on-site matrices, and ``vacancies``, a bool (or 0/1)
mask ``(N_x, width, n_sites)``; any other key is refused.  It may be combined with ``--disorder``.  Modes: the
equilibrium solve (``--engine`` as above, resolved once on the clean sample) and ``--transport`` (every
realization between two CLEAN leads, the clean sample's end slices continued, or the file's ``left`` /
``right``; ``--bias``, ``--n-energy`` as above; finite samples) and ``--response`` (periodic lattices: the Kubo
response of every realization, its driven balance checked; the summary gives the largest averaged ``J_z``
accumulation); ``--evolve`` is refused, and so are ``--quantities`` and ``--csv`` (the ensemble writes its own
Dataset).  The summary line gives the mean and standard error ``s / sqrt(N)`` of the free energy of the
sample (equilibrium), the conductance in ``e^2/h`` (linear response) or the Landauer current (bias), and the
largest balance residual over the realizations (a residual above :data:`BALANCE_TOL`: exit status 1).
``--out FILE.nc`` holds every realization (dimension ``realization``: the seeds; ``site`` and the others of the
profiles), the means (``<var>_mean``) and standard errors (``<var>_stderr``), the balance per realization, and
the attributes ``disorder`` (JSON record), ``engine`` (which solver ran), ``T``; it is resumable: completed
realizations are kept in ``FILE.nc.parts/`` (fingerprinted) and reused by the same command after an
interruption, ``--restart`` discards them.  ``--workers N`` shares the realizations among N local processes
(one BLAS thread each) and ``--scheduler ADDRESS`` sends them to a dask.distributed scheduler; the numbers do
not depend on either.  Refused before any work (exit status 2): a negative strength, an
unknown kind (the allowed ones listed), ``--realizations`` < 1, ``--seed``/``--realizations`` without
``--disorder``, ``--transport`` with disorder on a periodic lattice, ``--response`` on a finite sample, explicit arrays of the wrong shape or unknown keys, vacancies
that leave a whole slice empty with ``--transport`` (the leads are disconnected), and an ensemble whose
estimated memory or time exceeds the limits (the estimate in the message).

Output
------
One summary line on stdout: the geometry (sites per cell, transverse dimension, sizes, vacancies),
the engine, the free energy (per transverse cell; of the whole sample for a finite one) or the
response, and the largest balance residual.  ``--out FILE.nc`` (NetCDF via xarray) and/or ``--csv
FILE.csv`` (a long table: one row per value, ``# units`` comment lines first) hold the
``--quantities`` (comma-separated subset of :data:`QUANTITIES`; default all that apply):

* ``densities``: ``density`` ``(polarization, x, row, site)``;
* ``currents``: ``bond_current`` ``(polarization, bond, x, row)`` (by start cell, the flow from the
  start site to the end site), ``boundary_current`` ``(polarization, boundary)`` (the slice-boundary
  total: every bond crossing the boundary between x-cells ``b`` and ``b + 1``), ``bond_present``;
* ``torques``: ``hopping_torque`` ``(polarization, bond, x, row)`` (given to each end site),
  ``onsite_torque`` and ``torque`` (``tau_i``, on-site plus the hopping torques at the site)
  ``(polarization, x, row, site)``;
* ``balance``: ``divergence`` and ``balance_residual`` ``(polarization, x, row, site)`` (response: also
  ``relaxation`` ``eta <O_i>`` and ``drive`` ``D_i``);
* ``free_energy`` (equilibrium only): grand potential per transverse cell (whole finite sample).

``--transport`` (:func:`transport_dataset`) writes the same profiles per ``part`` (``balance_residual``
is ``d<O_i>/dt``, zero at the ``interior`` sites), ``boundary_checked``, the scalars
``landauer_current`` and (linear response) ``conductance``, and global attributes naming the current
definitions, the bias split, ``mu_L``, ``mu_R``, the leads and the units.  ``--evolve`` writes the
Dataset of :func:`~orbsym.numeric.sites_evolution.evolve_sites` (dimension ``time``; ``density``,
``rate``, ``divergence``, ``torque``, ``drive_torque``, ``residual``, ``current``, ``source``,
``boundary_current``, ``particle_number``, ...) with the bond names and global attributes of the other
modes; the summary line gives the particle number and the total ``J_x, J_y, J_z`` at the last time.

Response quantities carry a leading ``part`` dimension.  ``row`` runs over the ``width`` of a finite
sample and has one entry (per transverse cell) for periodic lattices.  The ``bond`` coordinate names
each hopping ``"start->end (dx, dy[, dz])"``; ``bond_vector`` holds its real vector.  Every variable
has ``units`` and ``description`` attributes; the global attributes name the engine, the currents,
the units (``t``, ``e = hbar = a = 1``) and the conventions (:mod:`orbsym.conventions`,
:mod:`orbsym.numeric.sites`).

Checked before any work (one line on stderr, exit status 2): the mode and the options that apply to it
(names and numbers), the output files (suffix, writable directory), the file and its ``lattice``, the
field against the lattice's periodic directions, the leads (slice size, transverse group), ``times``,
``quench`` and ``drive`` (their form), and the memory and time of the solve, the transport or the
real-time run (refused with the estimate, :mod:`orbsym.numeric.budget`; the transport and real-time
drivers estimate before they solve anything).
"""

from __future__ import annotations

import json
import math

__all__ = ["NAME", "HELP", "add_arguments", "run", "QUANTITIES", "BALANCE_TOL", "load_lattice_file", "site_dataset", "transport_dataset",
           "DISORDER_KINDS", "parse_disorder", "load_disorder_file"]

NAME = "sites"
HELP = "equilibrium, linear response, transport between leads or real time of a multi-site-cell lattice or finite sample (SiteLattice) defined in FILE.py"

QUANTITIES = ("densities", "currents", "torques", "balance", "free_energy")
ENGINES = ("auto", "dense", "greens")
FIELDS = ("y", "z")
POLS = ("charge", "x", "y", "z")
PARTS = ("total", "fermi_surface", "fermi_sea", "drive")
#: Largest balance residual accepted, relative to the largest term of the balance (or 1).
BALANCE_TOL = 1e-8

_API_POL = {"charge": None, "x": "x", "y": "y", "z": "z"}

#: ``--disorder`` kinds: name -> (what STRENGTH is, meaning).
DISORDER_KINDS = {
    "anderson": ("W", "on-site potential V 1 per site, V uniform in [-W/2, W/2] (units of t)"),
    "anderson-gauss": ("W", "on-site potential V 1 per site, V Gaussian of standard deviation W (units of t)"),
    "anderson-orbital": ("W", "on-site diag(V_1..V_n) per site, each V_a uniform in [-W/2, W/2] (units of t)"),
    "hopping": ("W", "every bond's matrix times 1 + d, d uniform in [-W/2, W/2] (dimensionless)"),
    "hopping-gauss": ("W", "every bond's matrix times 1 + d, d Gaussian of standard deviation W (dimensionless)"),
    "vacancies": ("c", "each site removed with probability c (0 <= c <= 1)"),
    "texture": ("m", "a random magnetization of magnitude m (units of t), directions uniform on the sphere, adding -m . J on every site"),
}
#: Keys of a ``--disorder-file`` (``<site>``: a site name of the lattice).
DISORDER_FILE_KEYS = ("potential_<site>", "vacancies")


def add_arguments(parser):
    from .compute import _choice

    parser.add_argument("file", metavar="FILE.py", help="Python file defining `lattice` (an orbsym.numeric.sites.SiteLattice), optionally `T`, `eta`, `left`, `right`, `times`, `quench`, `drive`; executed once: use only files you trust")
    parser.add_argument("--T", type=float, default=None, metavar="TEMP", help="temperature >= 0, units of t (default: the file's T, else 0.01)")
    parser.add_argument("--engine", type=_choice("engine", ENGINES), metavar="{auto,dense,greens}", default=None,
                        help="equilibrium solver: dense, greens (nearest-slice bonds only) or auto (default: auto; not with --response)")
    parser.add_argument("--response", type=_choice("field direction", FIELDS), metavar="{y,z}", default=None,
                        help="Kubo linear response to E_y (periodic y) or E_z (films) instead of the equilibrium state")
    parser.add_argument("--eta", type=float, default=None, metavar="ETA", help="relaxation rate hbar*eta > 0 of --response (default: the file's eta, else 0.05) or --evolve (default: the file's eta, else none), units of t")
    parser.add_argument("--transport", action="store_true",
                        help="steady state between semi-infinite leads (NEGF; the file's `left`/`right`, default: the end slices continued): linear response or --bias")
    parser.add_argument("--bias", type=float, default=None, metavar="V", help="--transport at finite bias V = mu_L - mu_R (units of t/e; mu_L,R = mu +- V/2); default: linear response")
    parser.add_argument("--n-energy", dest="n_energy", type=int, default=None, metavar="N",
                        help="--transport energy nodes: of the linear response at T > 0 (default 16) or of the bias window (default 200)")
    parser.add_argument("--evolve", action="store_true",
                        help="real time from the thermal state: the file defines `times`, optionally `quench` (a SiteLattice), `drive` (t -> {site: matrix}), `eta` (relaxation)")
    parser.add_argument("--steps-per-interval", dest="steps_per_interval", type=int, default=None, metavar="N",
                        help="--evolve with a `drive`: midpoint steps between recorded times (default 16)")
    parser.add_argument("--quantities", default=None, metavar="LIST", help=f"comma-separated subset of {','.join(QUANTITIES)} (default: all; free_energy not with --response/--transport; not with --evolve)")
    parser.add_argument("--disorder", default=None, metavar="KIND:STRENGTH[,...]",
                        help=f"disorder ensemble on a finite sample: comma-separated {', '.join(k + ':' + v[0] for k, v in DISORDER_KINDS.items())} (equilibrium and --transport)")
    parser.add_argument("--disorder-file", dest="disorder_file", default=None, metavar="FILE.npz",
                        help="explicit disorder arrays: potential_<site> (N_x, width[, n[, n]]) added to the site's on-site matrices, vacancies (N_x, width, n_sites) bool")
    parser.add_argument("--realizations", type=int, default=None, metavar="N", help="--disorder: number of realizations N >= 1 (default 1)")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="--disorder: first seed S >= 0; realizations use S, S+1, ... (default 0)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="disorder ensemble: local processes sharing the realizations, one BLAS thread each (default 1); with --scheduler: the dask workers to plan for")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="disorder ensemble: run the realizations on a dask.distributed scheduler (e.g. tcp://host:8786; fails within 5 s if unreachable)")
    parser.add_argument("--restart", action="store_true", help="disorder ensemble with --out: discard the partial results of an earlier run (FILE.nc.parts/) instead of resuming")
    parser.add_argument("--out", default=None, metavar="FILE.nc", help="write the profiles to a NetCDF file (atomically)")
    parser.add_argument("--csv", default=None, metavar="FILE.csv", help="write the profiles as a long CSV table (atomically)")


# =============================================================================== checks
def _quantities(text, mode=None):
    """The ``--quantities`` list, every entry checked by position; default: all that apply.

    ``mode``: None (equilibrium), ``"--response"`` or ``"--transport"`` (no free energy)."""
    from ..numeric.checks import unknown_name
    from ..workflows.sweeps.inputs import split_list

    allowed = tuple(q for q in QUANTITIES if not (mode and q == "free_energy"))
    if text is None:
        return allowed
    qs = split_list("--quantities", text, example="densities,currents")
    why = {"--response": "a linear response has no free energy", "--transport": "an open steady state has no free energy"}
    for pos, q in enumerate(qs, 1):
        if q == "free_energy" and mode:
            raise ValueError(f"--quantities {text!r}: free_energy (entry {pos}) does not apply to {mode} ({why[mode]}); allowed: {', '.join(allowed)}")
        if q not in QUANTITIES:
            raise ValueError(f"--quantities {text!r}: entry {pos}: {unknown_name('quantity', q, allowed)}")
    if len(set(qs)) != len(qs):
        dup = next(q for q in qs if qs.count(q) > 1)
        raise ValueError(f"--quantities {text!r} names {dup!r} twice")
    return tuple(qs)


def _outputs(args):
    """``(netcdf path or None, csv path or None)``, checked before any work."""
    from ..io import check_output_file

    out = []
    for flag, value, suffix, example in (("--out", args.out, ".nc", "sites.nc"), ("--csv", args.csv, ".csv", "sites.csv")):
        if value is None:
            out.append(None)
            continue
        p = check_output_file(value, flag, example)
        if p.suffix != suffix:
            raise ValueError(f"{flag} {str(value)!r}: expected a {suffix} file, e.g. {flag} {example}" + (" (use --csv for a CSV table)" if flag == "--out" and p.suffix == ".csv" else ""))
        out.append(p)
    if out[0] is not None and out[1] is not None and out[0].resolve() == out[1].resolve():
        raise ValueError(f"--out and --csv name the same file {str(args.out)!r}")
    return tuple(out)


def load_lattice_file(path):
    """``(lattice, T or None, eta or None)`` of a trusted Python file defining ``lattice``.

    The file is executed exactly once.  Raises :class:`orbsym.commands.derive.ModelFileError` (a
    ValueError, one line naming the file) if it is missing, is not ``.py``, raises or exits, and
    TypeError/ValueError if it defines no SiteLattice ``lattice`` or a ``T``/``eta`` that is not a
    finite real number.
    """
    lat, T, eta, _ = _load_file(path)
    return lat, T, eta


def _load_file(path):
    """``(lattice, T, eta, namespace)`` of the file (:func:`load_lattice_file`; the namespace holds the
    other names, e.g. ``left``, ``right``, ``times``, ``quench``, ``drive``)."""
    from ..numeric.checks import real_number
    from ..numeric.sites import SiteLattice
    from .derive import run_model_file

    ns = run_model_file(path, kind="lattice", defines="lattice (a SiteLattice)")
    if "lattice" not in ns:
        found = sorted(k for k, v in ns.items() if not k.startswith("_") and not callable(v) and type(v).__module__.startswith("orbsym"))
        hint = f" (it defines {', '.join(f'`{k}` ({type(ns[k]).__name__})' for k in found)})" if found else ""
        if "model" in ns:
            hint += "; a `model` file is for `orbsym compute --metal-model`"
        raise ValueError(f"lattice file {str(path)!r} defines no `lattice`{hint}: assign an orbsym.numeric.sites.SiteLattice to `lattice`")
    lat = ns["lattice"]
    if not isinstance(lat, SiteLattice):
        raise TypeError(f"`lattice` in {str(path)!r} is a {type(lat).__module__}.{type(lat).__name__}, expected an orbsym.numeric.sites.SiteLattice")
    vals = []
    for name in ("T", "eta"):
        v = ns.get(name)
        if v is not None:
            v = real_number(f"`{name}` in {str(path)!r}", v, minimum=0.0, strict=name == "eta")
        vals.append(v)
    return lat, vals[0], vals[1], ns


def _one_place(flag, option, name, from_file, path, default):
    if option is not None and from_file is not None:
        raise ValueError(f"option {flag} conflicts with `{name}` set in {str(path)!r}; set it in one place")
    return option if option is not None else (from_file if from_file is not None else default)


def _auto_engine(lat, T):
    """``dense`` or ``greens`` for ``--engine auto`` (:meth:`orbsym.numeric.sites.SiteLattice.choose_engine`)."""
    return lat.choose_engine(T)


def _check_size(lat, engine, T, response):
    """Refuse, before any work, a solve beyond the memory/time limits (the estimate in the message)."""
    from ..numeric.budget import check_resources, film_estimate, kubo_estimate

    film = lat.transverse_dimension == 2
    what = f"this SiteLattice ({lat.n_slices} slices of {lat.slice_states} states" + (f", {lat.slice_N_y} k_y points" if lat.transverse_dimension else "") + (f", N_z = {lat.N_z}" if film else "") + ")"
    hint = "use fewer cells, a narrower sample, shorter bonds or a coarser k grid"
    if response is not None:
        est = kubo_estimate(lat.n_slices, lat.slice_N_y, lat.slice_states, symmetric=False)
        if film:
            est = film_estimate(est, lat.slices)
        return check_resources(est, what=f"the linear response of {what}", hint=hint)
    if engine == "dense":
        return check_resources(lat.estimate("bloch"), what=f"the dense solve of {what}", hint=hint)
    from ..numeric.engines import greens_solve_estimate

    base = lat.slices.sector(0.0) if film else lat.slices
    if base.has_diagonal_bonds:
        extra = sorted({tuple(int(v) for v in b) for b in base.bonds if tuple(b) not in ((1, 0), (0, 1)) and (base.hoppings[b] != 0).any()})
        raise ValueError(f"--engine greens handles nearest-slice bonds only; the slice chain of this lattice has bonds {extra} (slice offsets (dX, dY)): use --engine dense or auto")
    est = greens_solve_estimate(base, T, True)
    if film:
        est = film_estimate(est, lat.slices)
    return check_resources(est, what=f"the Green's-function solve of {what}", hint=hint)


# =============================================================================== the run
def _mode(args):
    """The calculation: ``None`` (equilibrium), ``"response"``, ``"transport"`` or ``"evolve"``; the modes
    exclude each other and every option is checked against the mode (ValueError naming it)."""
    chosen = [flag for flag, on in (("--response", args.response is not None), ("--transport", args.transport), ("--evolve", args.evolve)) if on]
    if len(chosen) > 1:
        raise ValueError(f"{' and '.join(chosen)} are different calculations (equilibrium, --response, --transport and --evolve exclude each other): run them one at a time")
    mode = chosen[0][2:] if chosen else None
    applies = {  # option: (given, modes it applies to, what it is)
        "--engine": (args.engine is not None, (None,), "the equilibrium solver"),
        "--eta": (args.eta is not None, ("response", "evolve"), "the relaxation rate of --response or --evolve"),
        "--bias": (args.bias is not None, ("transport",), "the bias of --transport"),
        "--n-energy": (args.n_energy is not None, ("transport",), "the energy nodes of --transport"),
        "--steps-per-interval": (args.steps_per_interval is not None, ("evolve",), "the midpoint steps of --evolve with a drive"),
        "--quantities": (args.quantities is not None, (None, "response", "transport"), "a selection of the profiles; --evolve writes the whole evolve_sites Dataset"),
    }
    name = "the equilibrium solve" if mode is None else f"--{mode}"
    for flag, (given, modes, what) in applies.items():
        if not given or mode in modes:
            continue
        where = " or ".join("the equilibrium solve" if m is None else f"--{m}" for m in modes)
        hint = "; --response runs the Kubo engine (orbsym.numeric.kubo)" if flag == "--engine" and mode == "response" else ""
        fix = f"drop {flag}" + (f" or add {' or '.join(f'--{m}' for m in modes)}" if None not in modes else "")
        raise ValueError(f"{flag} applies only to {where} ({what}), not to {name}{hint}: {fix}")
    return mode


# =============================================================================== disorder
def parse_disorder(text):
    """The ``--disorder`` list ``KIND:STRENGTH[,...]`` -> terms of :mod:`orbsym.numeric.disorder` (checked entry by entry)."""
    from ..numeric.checks import unknown_name
    from ..numeric.disorder import Anderson, MagneticTexture, RandomHopping, Vacancies
    from ..workflows.sweeps.inputs import split_list

    terms = []
    for pos, entry in enumerate(split_list("--disorder", text, example="anderson:1.0,vacancies:0.05"), 1):
        kind, sep, value = entry.partition(":")
        kind = kind.strip().lower()
        if kind not in DISORDER_KINDS:
            raise ValueError(f"--disorder {text!r}: entry {pos}: {unknown_name('disorder kind', kind, [k + ':' + v[0] for k, v in DISORDER_KINDS.items()])}")
        what = DISORDER_KINDS[kind][0]
        if not sep or not value.strip():
            raise ValueError(f"--disorder {text!r}: entry {pos} ({kind}) needs its strength {what}: {kind}:{what}, e.g. {kind}:{'0.05' if kind == 'vacancies' else '0.5'}")
        try:
            x = float(value)
        except ValueError:
            raise ValueError(f"--disorder {text!r}: entry {pos}: strength {value.strip()!r} of {kind} is not a number") from None
        if not math.isfinite(x) or x < 0:
            raise ValueError(f"--disorder {text!r}: entry {pos}: strength {what} = {value.strip()} of {kind} must be a finite number >= 0")
        if kind == "vacancies" and x > 1:
            raise ValueError(f"--disorder {text!r}: entry {pos}: vacancy concentration c = {x:g} must be in [0, 1]")
        terms.append({"anderson": lambda: Anderson(x), "anderson-gauss": lambda: Anderson(x, "gaussian"), "anderson-orbital": lambda: Anderson(x, per_orbital=True),
                      "hopping": lambda: RandomHopping(x),
                      "hopping-gauss": lambda: RandomHopping(x, "gaussian"), "vacancies": lambda: Vacancies(x), "texture": lambda: MagneticTexture(x)}[kind]())
    return terms


def load_disorder_file(path, lat):
    """``[Potential..., VacancyMask]`` from a ``--disorder-file`` ``.npz`` checked against ``lat`` (keys and shapes).

    Keys: ``potential_<site>`` (``(N_x, width)`` potentials times 1, ``(N_x, width, n)`` diagonals or
    ``(N_x, width, n, n)`` Hermitian matrices, units of t, ADDED to the site's on-site matrices) and
    ``vacancies`` (``(N_x, width, n_sites)``, bool or 0/1).  Any other key is refused.  A periodic ``lat``
    (its Gamma-only supercell, :func:`orbsym.numeric.disorder.supercell`): ``width`` is the number of
    transverse cells ``R = N_y`` (films ``N_y N_z``, ``r = y N_z + z``)."""
    import numpy as np

    from ..numeric.disorder import Potential, VacancyMask

    f = str(path)
    if not f.endswith(".npz"):
        raise ValueError(f"--disorder-file {f!r}: expected a NumPy .npz file (numpy.savez) with keys {', '.join(DISORDER_FILE_KEYS)}")
    try:
        with np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ValueError(f"--disorder-file {f!r} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, BadZipFile ... one line
        raise ValueError(f"--disorder-file {f!r} is not a readable .npz file ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
    if not arrays:
        raise ValueError(f"--disorder-file {f!r} holds no arrays; keys: {', '.join(DISORDER_FILE_KEYS)}")
    periodic = lat.transverse_dimension != 0
    N_x, W, ns = lat.N_x, (lat.N_y * (lat.N_z or 1) if periodic else lat.width), len(lat.names)
    wname = ("R = N_y" + (" N_z" if lat.transverse_dimension == 2 else "")) if periodic else "width"
    terms = []
    for key in sorted(arrays):
        a = arrays[key]
        if key.startswith("potential_") and key[len("potential_"):] in lat.names:
            site = key[len("potential_"):]
            n = int(lat.orbitals[lat.names.index(site)])
            shapes = [(N_x, W), (N_x, W, n), (N_x, W, n, n)]
            if a.shape not in shapes:
                raise ValueError(f"--disorder-file {f!r}: {key} has shape {a.shape}; allowed: {' or '.join(str(t) for t in shapes)} (N_x, {wname}[, n[, n]]) for site {site!r}")
            if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
                raise ValueError(f"--disorder-file {f!r}: {key} must hold finite numbers (units of t), got dtype {a.dtype}")
            terms.append(Potential(site, a))
        elif key == "vacancies":
            if a.shape != (N_x, W, ns) or not (a.dtype == bool or (np.issubdtype(a.dtype, np.integer) and np.isin(a, (0, 1)).all())):
                raise ValueError(f"--disorder-file {f!r}: vacancies must be a bool (or 0/1) array of shape (N_x, {wname}, n_sites) = {(N_x, W, ns)}, got {a.dtype} {a.shape}")
            terms.append(VacancyMask(a.astype(bool)))
        else:
            allowed = [f"potential_{name}" for name in lat.names] + ["vacancies"]
            raise ValueError(f"--disorder-file {f!r}: unknown key {key!r}; allowed: {', '.join(allowed)}")
    return terms


def _disorder_options(args, mode):
    """Check the disorder options against the mode and each other (before the file is read).

    Returns None (no disorder) or ``(random terms, realizations, first seed)``."""
    given = args.disorder is not None or args.disorder_file is not None
    if not given:
        for flag, on in (("--realizations", args.realizations is not None), ("--seed", args.seed is not None), ("--restart", args.restart),
                         ("--workers", args.workers is not None), ("--scheduler", args.scheduler is not None)):
            if on:
                need = "--disorder KIND:STRENGTH" + (" or --disorder-file FILE.npz" if flag == "--restart" else "")
                raise ValueError(f"{flag} applies only to a disorder ensemble: add {need}, or drop {flag}")
        return None
    flag = "--disorder" if args.disorder is not None else "--disorder-file"
    if mode == "evolve":
        raise ValueError(f"{flag} applies to the equilibrium solve, --response (periodic lattices) and --transport (finite samples), not to --evolve "
                         "(real-time disorder ensembles are not supported)")
    for other, on in (("--quantities", args.quantities is not None), ("--csv", args.csv is not None)):
        if on:
            raise ValueError(f"{other} does not apply to a disorder ensemble (it writes its own Dataset with --out: every realization, the means and standard errors): drop {other}")
    if args.disorder is None:
        for other, on in (("--seed", args.seed is not None), ("--realizations", args.realizations is not None)):
            if on:
                raise ValueError(f"{other} applies to random disorder: add --disorder KIND:STRENGTH (--disorder-file alone is one explicit configuration)")
    if args.restart and args.out is None:
        raise ValueError("--restart applies to a disorder ensemble written with --out (it discards FILE.nc.parts/): add --out FILE.nc or drop --restart")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers {args.workers}: the number of worker processes must be >= 1")
    if args.scheduler is not None and not args.scheduler.strip():
        raise ValueError("--scheduler is empty; give the address of a dask scheduler (e.g. --scheduler tcp://host:8786), or omit it to run locally")
    from .disorder_options import ensemble_terms  # (that module imports this one)

    return ensemble_terms(args)


def _identity(lat):
    """``factory()`` of the file's clean sample (module level: picklable)."""
    return lat


def _run_disorder(args, mode, lat, T, eta_file, ns, targets, options):
    """``--disorder`` / ``--disorder-file``: :func:`orbsym.workflows.ensembles.ensemble` on the file's clean sample
    (finite: equilibrium or transport; periodic: equilibrium or response, each realization the Gamma-only supercell)."""
    import functools

    terms, n, seed = options
    f = str(args.file)
    if lat.transverse_dimension != 0 and mode == "transport":
        raise ValueError(f"--transport with disorder needs a finite sample (transverse dimension 0: SiteLattice(..., width=W)); the lattice of {f!r} "
                         f"is periodic (transverse dimension {lat.transverse_dimension}, N_y = {lat.N_y}): its leads would be periodic too")
    if lat.transverse_dimension == 0 and mode == "response":
        raise ValueError(f"--response {args.response} needs a periodic direction; the lattice of {f!r} is a finite sample (transverse dimension 0, "
                         f"width {lat.width}): build it with N_y (E_y) or N_y and N_z (E_y, E_z)")
    if args.disorder_file is not None:
        terms = terms + load_disorder_file(args.disorder_file, lat)
    if mode == "transport":
        if eta_file is not None:
            raise ValueError(f"`eta` in {f!r} is the relaxation rate of --response/--evolve; --transport has no relaxation: remove `eta` from the file")
        if args.n_energy is not None and args.bias is None and T == 0:
            raise ValueError("--n-energy does not apply to the linear response at T = 0 (one energy, E = mu): it applies at T > 0 or with --bias")
    seeds = list(range(seed, seed + n))
    factory = functools.partial(_identity, lat)
    out = targets[0]
    client = None
    try:
        if args.scheduler is not None:
            from .. import execution

            client, executor, planned = execution.connect_scheduler(args.scheduler)
            run_on = dict(executor=executor, workers=args.workers or planned)
        else:
            run_on = dict(workers=args.workers or 1)
        return _run_ensemble(args, mode, lat, T, ns, terms, seeds, factory, out, run_on)
    finally:
        if client is not None:
            client.close()


def _run_ensemble(args, mode, lat, T, ns, terms, seeds, factory, out, run_on):
    """The ensemble of :func:`_run_disorder` on ``run_on`` (``workers``, ``executor``) and its summary line."""
    import numpy as np

    from ..numeric.checks import ENERGY_LIMIT, real_number
    from ..workflows.ensembles import ensemble

    f, n = str(args.file), len(seeds)
    if mode == "transport":
        tr = {"left": ns.get("left"), "right": ns.get("right"), "bias": args.bias, "n_energy": args.n_energy}
        ds = ensemble(factory, terms, seeds, T, transport=tr, out=out, restart=args.restart, tol=BALANCE_TOL, progress=None, **run_on,
                      attrs={"source_file": f, "command_disorder": args.disorder or "", "disorder_file": str(args.disorder_file or "")})
        key = "conductance" if args.bias is None else "landauer_current"
        unit = "e^2/h" if args.bias is None else "(particles per unit time)"
        what = (f"transport, engine {ds.attrs['engine']}, " + ("linear response" if args.bias is None else f"bias V={args.bias:g} (mu_L,R = mu +- V/2)")
                + f", T={T:g}")
        name = "conductance <G>" if args.bias is None else "Landauer current <I>"
    elif mode == "response":
        from ..response import DEFAULT_ETA

        eta = _one_place("--eta", args.eta, "eta", ns.get("eta"), args.file, DEFAULT_ETA)
        real_number("eta", eta, minimum=0.0, strict=True, bound=ENERGY_LIMIT)
        ds = ensemble(factory, terms, seeds, T, response=args.response, eta=eta, out=out, restart=args.restart, tol=BALANCE_TOL, progress=None, **run_on,
                      attrs={"source_file": f, "command_disorder": args.disorder or "", "disorder_file": str(args.disorder_file or "")})
        key, unit, name = None, "", ""
        what = f"engine {ds.attrs['engine']}, T={T:g}, eta={eta:g}"
    else:
        requested = args.engine or "auto"
        # a periodic sample runs as its Gamma-only supercell (one k point): auto is dense there (orbsym.systems.disorder_ensemble)
        engine = ("dense" if lat.transverse_dimension else _auto_engine(lat, T)) if requested == "auto" else requested
        _check_size(lat, engine, T, None)  # the clean sample (greens: nearest-slice bonds only); the ensemble sizes the supercell
        ds = ensemble(factory, terms, seeds, T, engine=engine, out=out, restart=args.restart, tol=BALANCE_TOL, progress=None, **run_on,
                      attrs={"source_file": f, "command_disorder": args.disorder or "", "disorder_file": str(args.disorder_file or ""),
                             "engine_requested": requested})
        key, unit = "free_energy", "t"
        name = "free energy per transverse cell <F>" if lat.transverse_dimension else "free energy of the sample <F>"
        what = f"engine {ds.attrs['engine']}{' (auto)' if requested == 'auto' else ''}, T={T:g}"
    if key is None:  # response: the largest averaged accumulation of J_z and its standard error
        dz = ds["density_mean"].sel(polarization="z").values
        at = np.unravel_index(int(np.abs(dz).argmax()), dz.shape)
        err = float(ds["density_stderr"].sel(polarization="z").values[at])
        mean = float(dz[at])
        name, unit = f"largest |<J_z accumulation>| (x, row, site = {tuple(int(i) for i in at)})", "per unit force q E"
    else:
        err = float(ds[f"{key}_stderr"])
        mean = float(ds[f"{key}_mean"])
    spread = f" +- {err:.3g} (standard error)" if n > 1 else " (1 realization: no standard error)"
    kinds = args.disorder if args.disorder is not None else ""
    if args.disorder_file is not None:
        kinds = (kinds + " + " if kinds else "") + f"explicit arrays of {str(args.disorder_file)!r}"
    seeds_text = f", seeds {seeds[0]}..{seeds[-1]}" if args.disorder is not None else ""
    print("; ".join([_geometry(lat) + " (clean)", f"disorder {kinds}, {n} realization{'s' if n != 1 else ''}{seeds_text}", what,
                     f"{name} = {mean:.10g}{spread} {unit}",
                     f"max balance residual over realizations {ds.attrs['max_balance_residual']:.2e}"]))
    return 0


def run(args):
    from ..conventions import PAPER_PARAMETERS
    from ..numeric.checks import ENERGY_LIMIT, integer_at_least, real_number
    from ..numeric.sites import BalanceError
    from ..response import DEFAULT_ETA

    mode = _mode(args)
    disorder = _disorder_options(args, mode)
    qs = _quantities(args.quantities, {"response": "--response", "transport": "--transport"}.get(mode)) if mode != "evolve" else None
    if args.T is not None:
        real_number("--T", args.T, minimum=0.0, bound=ENERGY_LIMIT)
    if args.eta is not None:
        real_number("--eta", args.eta, minimum=0.0, strict=True, bound=ENERGY_LIMIT)
    if args.bias is not None:
        real_number("--bias", args.bias, bound=ENERGY_LIMIT)
    if args.n_energy is not None:
        integer_at_least("--n-energy", args.n_energy, 1, " (energy nodes)")
    if args.steps_per_interval is not None:
        integer_at_least("--steps-per-interval", args.steps_per_interval, 1, " (midpoint steps between recorded times)")
    targets = _outputs(args)
    lat, T_file, eta_file, ns = _load_file(args.file)
    T = _one_place("--T", args.T, "T", T_file, args.file, PAPER_PARAMETERS["T"])
    real_number("T", T, minimum=0.0, bound=ENERGY_LIMIT)
    if disorder is not None:
        return _run_disorder(args, mode, lat, T, eta_file, ns, targets, disorder)
    if mode == "transport":
        return _run_transport(args, lat, T, eta_file, ns, qs, targets)
    if mode == "evolve":
        return _run_evolve(args, lat, T, eta_file, ns, targets)
    dim = lat.transverse_dimension
    if args.response is not None:
        eta = _one_place("--eta", args.eta, "eta", eta_file, args.file, DEFAULT_ETA)
        real_number("eta", eta, minimum=0.0, strict=True, bound=ENERGY_LIMIT)
        if dim == 0:
            raise ValueError(f"--response {args.response} needs a periodic direction; the lattice of {str(args.file)!r} is a finite sample "
                             f"(transverse dimension 0, width {lat.width}): build it with N_y (E_y) or N_y and N_z (E_y, E_z)")
        if args.response == "z" and dim != 2:
            raise ValueError(f"--response z (E_z) needs a film (transverse dimension 2: N_y and N_z); the lattice of {str(args.file)!r} "
                             "is periodic in y only: use --response y")
        lat._field_axis(args.response)  # the stacking vector must be normal to the field (before any work)
        _check_size(lat, None, T, args.response)
        resp = lat.respond(T, eta, field=args.response, check=False)
        engine, requested = "kubo", "kubo"
        residual, scale = resp.max_abs_residual, resp.balance_scale
        what = f"the driven per-site balance -div j + tau = eta <J> + D of the response to E_{args.response}"
        result, free_energy = resp, None
    else:
        eta = None
        requested = args.engine or "auto"
        engine = _auto_engine(lat, T) if requested == "auto" else requested
        _check_size(lat, engine, T, None)
        obs = lat.solve(T, engine=engine)
        residual, scale = _stationarity(obs)
        free_energy = float(obs.free_energy())
        what = "the per-site balance of the thermal state, d<J_i>/dt = -div_i j + tau_i = 0,"
        result = obs
    if not (residual <= BALANCE_TOL * max(1.0, scale)):
        raise BalanceError(f"{what} is off: largest residual {residual:.3g} (largest term {scale:.3g}, tolerance {BALANCE_TOL:g} relative); "
                           "the solve is inconsistent, nothing was written")
    ds = site_dataset(lat, result, qs, T=T, eta=eta, field=args.response, engine=engine, requested=requested, residual=residual, file=args.file)
    if any(t is not None for t in targets):
        _write(ds, *targets)
    print(_summary(lat, ds, residual, free_energy))
    return 0


def _run_transport(args, lat, T, eta_file, ns, qs, targets):
    """``--transport``: :func:`orbsym.numeric.sites_transport.site_transport` with the file's leads."""
    from ..numeric.sites import BalanceError
    from ..numeric.sites_transport import site_transport

    if eta_file is not None:
        raise ValueError(f"`eta` in {str(args.file)!r} is the relaxation rate of --response/--evolve; --transport has no relaxation "
                         "(the leads' broadening is fixed by orbsym.numeric.leads): remove `eta` from the file or run --response/--evolve")
    if args.n_energy is not None and args.bias is None and T == 0:
        raise ValueError("--n-energy does not apply to the linear response at T = 0 (one energy, E = mu): it applies at T > 0 or with --bias")
    from ..numeric.sites import SiteLattice

    leads = {side: ns.get(side) for side in ("left", "right")}  # None: the region's end slice continued
    for side, spec in leads.items():
        ok = spec is None or isinstance(spec, SiteLattice) or (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], SiteLattice))
        if not ok:
            raise TypeError(f"`{side}` in {str(args.file)!r} is {type(spec).__name__} {spec!r:.60}: a lead is a SiteLattice (its "
                            f"{'first' if side == 'left' else 'last'} slice continued) or a (SiteLattice, slice index) pair")
    # site_transport checks the leads and refuses a run beyond the memory/time limits (with the estimate)
    # before anything is solved (orbsym.numeric.budget.transport_estimate)
    res = site_transport(lat, T=T, bias=args.bias, left=leads["left"], right=leads["right"], n_energy=args.n_energy, check=False)
    residual, mismatch, scale, I = _transport_balance(res)
    if not (residual <= BALANCE_TOL * max(1.0, scale)) or not (mismatch <= BALANCE_TOL * max(1.0, abs(I))):
        raise BalanceError(
            f"the steady-state balance of the transport is off: largest residual {residual:.3g} of d<O_i>/dt = -div_i j + tau_i = 0 at the "
            f"interior sites (largest term {scale:.3g}), boundary current (outside the end slices) vs the Landauer current {I:.6g} off by {mismatch:.3g} "
            f"(tolerance {BALANCE_TOL:g} relative); the solve is inconsistent, nothing was written")
    ds = transport_dataset(lat, res, qs, file=args.file)
    if any(t is not None for t in targets):
        _write(ds, *targets)
    print(_transport_summary(lat, res, ds))
    return 0


def _transport_balance(res):
    """``(largest interior |d<O_i>/dt|, largest |boundary - Landauer| (charge), largest term, Landauer current)``
    of a :class:`SiteTransportResult` over every part and the charge and ``J_x, J_y, J_z``."""
    import numpy as np

    interior = res.interior()
    worst, scale = 0.0, 0.0
    for obs in res.parts.values():
        for p in POLS:
            pol = _API_POL[p]
            worst = max(worst, float(np.abs(obs.time_derivative(pol)[interior]).max(initial=0.0)))
            scale = max(scale, float(np.abs(obs.current(pol)).max(initial=0.0)), float(np.abs(obs.onsite_torque(pol)).max(initial=0.0)))
    I = float(res.landauer_current())
    mismatch = float(np.abs(res.boundary_current()[_outer_boundaries(res.lattice)] - I).max(initial=0.0))
    return worst, mismatch, scale, I


def _outer_boundaries(lat):
    """Mask of the x-cell boundaries not inside an end slice: ``merge_x - 1 <= b <= N_x - 1 - merge_x``.

    When slices merge ``m_x > 1`` x-cells (bonds longer than one cell), bonds of the leads reach into the
    whole end slice and cross the boundaries inside it; those bonds are outside the site lattice, so
    there the slice-boundary current is not the Landauer current."""
    import numpy as np

    b = np.arange(max(lat.N_x - 1, 0))
    return (b >= lat.merge_x - 1) & (b <= lat.N_x - 1 - lat.merge_x)


def _run_evolve(args, lat, T, eta_file, ns, targets):
    """``--evolve``: :func:`orbsym.numeric.sites_evolution.evolve_sites` with the file's ``times``, ``quench``,
    ``drive`` and ``eta``."""
    from ..numeric.checks import ENERGY_LIMIT, real_number
    from ..numeric.sites_evolution import SiteContinuityError, evolve_sites

    f = str(args.file)
    eta = _one_place("--eta", args.eta, "eta", eta_file, args.file, None)
    if eta is not None:
        real_number("eta", eta, minimum=0.0, strict=True, bound=ENERGY_LIMIT)
    if "times" not in ns:
        raise ValueError(f"--evolve needs the recorded times: {f!r} defines no `times` (e.g. times = np.linspace(0.5, 10, 20), units of hbar/t)")
    drive = ns.get("drive")
    if drive is not None and not callable(drive):
        raise TypeError(f"`drive` in {f!r} is a {type(drive).__name__}, expected a callable t -> {{site or (x, y, site): matrix}} (units of t)")
    if args.steps_per_interval is not None and drive is None:
        raise ValueError(f"--steps-per-interval applies only to a driven run (midpoint steps); {f!r} defines no `drive`, so the "
                         "propagation is exact at any time: drop --steps-per-interval")
    steps = args.steps_per_interval if args.steps_per_interval is not None else 16
    # evolve_sites checks times / quench / the step count and refuses a run beyond the memory/time limits
    # (with the estimate, orbsym.numeric.budget.evolve_estimate) before anything is propagated
    ds = evolve_sites(lat, T, ns["times"], quench=ns.get("quench"), onsite_drive=drive, relaxation=eta, steps_per_interval=steps, check=False)
    residual, scale = float(ds.attrs["max_abs_residual"]), float(ds.attrs["balance_scale"])
    if not (residual <= BALANCE_TOL * max(1.0, scale)):
        import numpy as np

        r = np.abs(ds["residual"].values)
        t = float(ds["time"].values[np.unravel_index(int(np.argmax(r)), r.shape)[0]])
        raise SiteContinuityError(
            f"the per-site balance d<J_i>/dt = -div_i j + tau_i of the real-time run is off: largest residual {residual:.3g} at t = {t:g} "
            f"(largest term {scale:.3g}, tolerance {BALANCE_TOL:g} relative); the propagation is inconsistent, nothing was written")
    ds.attrs.update({
        "calculation": "real time (orbsym.numeric.sites_evolution.evolve_sites)",
        "engine": ds.attrs["propagator"],
        "transverse_dimension": int(lat.transverse_dimension),
        "quench": "the file's `quench` from t = 0 on" if ns.get("quench") is not None else "none (the lattice's own Hamiltonian)",
        "drive": "the file's `drive` (on-site, from t = 0 on)" if drive is not None else "none",
        "current": "`current`: the bond current (eom_end - eom_start)/2 of each hopping alone, by start cell; boundary_current: every bond "
                   "crossing the boundary between x-cells b and b+1 summed (positive toward +x); rate = Tr(rho i[h(t), J_i]) = -div j + tau",
        "units": "natural: energies and rates in units of t, times in hbar/t, e = hbar = a = 1",
        "conventions": "orbsym.conventions (shared/CONVENTIONS.md); site-resolved definitions: orbsym.numeric.sites (SiteObservables), "
                       "real time: orbsym.numeric.sites_evolution",
        "max_balance_residual": residual,
        "source_file": f,
    })
    ds = ds.assign_coords(bond=_bond_names(lat))  # the names of the other modes, "start->end (dx, dy[, dz])"
    coord_attrs = {
        **_coord_attrs(lat),
    }
    for c, (u, d) in coord_attrs.items():
        ds[c].attrs.update(units=u, description=d)
    if any(t is not None for t in targets):
        _write(ds, *targets)
    print(_evolve_summary(lat, ds, eta))
    return 0


def _stationarity(obs):
    """``(largest |residual|, largest |term|)`` of the equilibrium balance over the charge and J_x, J_y, J_z:
    the residual is ``-div j + tau`` (zero in a stationary state) and the decomposition identity
    ``d<O_i>/dt - (-div j + tau)``."""
    import numpy as np

    worst, scale = 0.0, 0.0
    for p in POLS:
        pol = _API_POL[p]
        div, tau = obs.divergence(pol), obs.torque(pol)
        worst = max(worst, float(np.abs(tau - div).max(initial=0.0)), float(np.abs(obs.continuity_residual(pol)).max(initial=0.0)))
        scale = max(scale, float(np.abs(div).max(initial=0.0)), float(np.abs(tau).max(initial=0.0)))
    return worst, scale


# =============================================================================== the dataset
def _bond_names(lat):
    return [f"{lat.names[i]}->{lat.names[j]} ({', '.join(str(int(v)) for v in off)})" for i, j, off, _ in lat.hoppings]


def site_dataset(lat, result, quantities, T, eta=None, field=None, engine=None, requested=None, residual=None, file=None):
    """The ``xarray.Dataset`` of a :class:`SiteObservables` (equilibrium) or :class:`SiteResponse` (``field``).

    Dimensions ``polarization`` (charge, x, y, z), ``x`` (x-cells), ``row`` (the width of a finite
    sample; one transverse cell otherwise), ``site``, ``bond`` (hoppings, named
    ``"start->end (dx, dy[, dz])"``), ``boundary`` (between x-cells ``b`` and ``b + 1``) and, for a
    response, ``part``.  Every variable has ``units`` and ``description`` attributes.
    """
    import numpy as np
    import xarray as xr

    response = field is not None
    per = "per site" if lat.transverse_dimension == 0 else "per site of one transverse cell"
    rate = "t (J per unit time, hbar = 1; particles per unit time for the charge)"
    dens_u = "hbar for J = L or S (generators of each site), particles for the charge"
    if response:
        force = f"per unit force q E_{field} (e = hbar = a = 1)"
        dens_u, rate = f"{dens_u}, {force}", f"{rate}, {force}"
    parts = list(PARTS) if response else None
    src = {p: result[p] for p in PARTS} if response else {None: result}

    def stack(fn):
        """``fn(obs, api_pol)`` over polarizations (and parts): ``[part,] polarization, ...``."""
        arr = [np.array([fn(o, _API_POL[p]) for p in POLS]) for o in src.values()]
        return np.array(arr) if response else arr[0]

    lead = ("part", "polarization") if response else ("polarization",)
    sdims, bdims = lead + ("x", "row", "site"), lead + ("bond", "x", "row")
    data = {}

    def put(name, dims, values, units, description):
        data[name] = xr.Variable(dims, values, attrs={"units": units, "description": description})

    base = next(iter(src.values()))
    _observable_variables(put, stack, lat, quantities, lead, per, rate, dens_u, base)
    if "balance" in quantities:
        put("divergence", sdims, stack(lambda o, p: o.divergence(p)), rate, f"div_i j = sum of the bond currents leaving site i - sum of those entering it, {per}")
        if response:
            bal = {p: result.balance(_API_POL[p]) for p in POLS}
            put("relaxation", ("polarization", "x", "row", "site"), np.array([bal[p]["relaxation"] for p in POLS]), rate, f"eta <J_i> of the total response, {per}")
            put("drive", ("polarization", "x", "row", "site"), np.array([bal[p]["drive"] for p in POLS]), rate,
                f"D_i = <J_i> of the drive part (finite-k-grid sum of a k derivative, -> 0 on a fine grid), {per}")
            put("balance_residual", ("polarization", "x", "row", "site"), np.array([bal[p]["residual"] for p in POLS]), rate,
                "driven per-site balance residual -div_i j + tau_i - eta <J_i> - D_i of the total response (zero to rounding)")
        else:
            put("balance_residual", ("polarization", "x", "row", "site"), np.array([base.torque(_API_POL[p]) - base.divergence(_API_POL[p]) for p in POLS]), rate,
                "per-site balance residual -div_i j + tau_i = d<J_i>/dt of the thermal state (zero to rounding: it is stationary)")
    if "free_energy" in quantities and not response:
        which = "of the whole sample" if lat.transverse_dimension == 0 else "per transverse cell"
        put("free_energy", (), float(result.free_energy()), "t", f"grand potential Omega = F - mu N {which} (mu inside the on-site matrices; vacancy levels excluded)")
    coords = {
        "polarization": list(POLS),
        "x": np.arange(lat.N_x),
        "row": np.arange(lat.rows if lat.transverse_dimension == 0 else 1),
        "site": list(lat.names),
        "bond": _bond_names(lat),
        "boundary": np.arange(max(lat.N_x - 1, 0)),
        "component": ["x", "y", "z"],
    }
    if response:
        coords["part"] = parts
    ds = xr.Dataset(data, coords=coords)
    coord_attrs = {
        **_coord_attrs(lat),
        "component": ("1", "Cartesian component"),
        "part": ("1", "Kubo part: total = fermi_surface + fermi_sea; drive = the source term D of the balance"),
    }
    for c, (u, d) in coord_attrs.items():
        if c in ds.coords:
            ds[c].attrs.update(units=u, description=d)
    desc = lat.describe()
    ds.attrs.update({
        "calculation": f"linear response to E_{field}" if response else "equilibrium",  # not "mode": scipy's netcdf_file uses that name
        "engine": engine or "",
        "engine_requested": requested or "",
        "T": float(T),
        "transverse_dimension": int(lat.transverse_dimension),
        "current": "bond_current: the bond current of each hopping alone (per bond offset); boundary_current: the slice-boundary total, "
                   "every bond crossing the boundary between x-cells b and b+1 summed (the x current of any model with bonds longer than nearest neighbour)",
        "units": "natural: energies and rates in units of t, e = hbar = a = 1" + (f"; response per unit force q E_{field}" if response else ""),
        "conventions": "orbsym.conventions (shared/CONVENTIONS.md); site-resolved definitions: orbsym.numeric.sites (SiteObservables)",
        "lattice": json.dumps(desc),
        "max_balance_residual": float(residual) if residual is not None else float("nan"),
        "source_file": str(file) if file is not None else "",
    })
    if response:
        ds.attrs["eta"] = float(eta)
        ds.attrs["field"] = field
    return ds




def _coord_attrs(lat):
    """``{coordinate: (units, description)}`` shared by every mode's dataset."""
    return {
        "polarization": ("1", "the observable J: charge (J = 1) or the generators J_x, J_y, J_z of each site"),
        "x": ("cells", "x-cell (stacking axis, open ends)"),
        "row": ("cells", "y-cell of a finite sample" if lat.transverse_dimension == 0 else "one transverse cell (values per transverse cell)"),
        "site": ("1", "site name inside the cell"),
        "bond": ("1", "hopping 'start->end (dx, dy[, dz])': site start in cell R to site end in cell R + offset (Hermitian conjugate implied)"),
        "boundary": ("cells", "boundary between x-cells b and b+1"),
    }

def _observable_variables(put, stack, lat, quantities, lead, per, rate, dens_u, base, boundary_note=""):
    """The variables every mode writes from :class:`SiteObservables`: bond vectors, densities, bond and
    slice-boundary currents, bond presence, hopping / on-site torques and their sum (``put(name, dims,
    values, units, description)``, ``stack(fn)`` over polarizations and parts)."""
    import numpy as np

    sdims, bdims = lead + ("x", "row", "site"), lead + ("bond", "x", "row")
    put("bond_vector", ("bond", "component"), lat.bond_vectors, "a (lattice constant)",
        "real bond vector p_end + dx a_x + dy a_y + dz a_z - p_start of each hopping (Peierls phase and Kubo velocity use it)")
    if "densities" in quantities:
        put("density", sdims, stack(lambda o, p: o.density(p)), dens_u, f"<c_i^dag J c_i> {per} (J = 1 for the charge); 0 at a vacancy")
    if "currents" in quantities:
        put("bond_current", bdims, stack(lambda o, p: o.current(p)), rate,
            f"bond current (eom_end - eom_start)/2 of each hopping by its start cell: the flow of J from the start site to the end site, {per}; 0 where the bond is absent")
        put("boundary_current", lead + ("boundary",), stack(lambda o, p: o.boundary_current(p)), rate,
            "slice-boundary current: the bond current summed over every bond crossing the boundary between x-cells b and b+1 (positive toward +x); "
            + ("summed over the width of the sample" if lat.transverse_dimension == 0 else "per transverse cell") + boundary_note)
        put("bond_present", ("bond", "x", "row"), base.present().astype(np.int8), "1", "1 where the bond exists (both ends inside the sample, no vacancy), else 0")
    if "torques" in quantities:
        put("hopping_torque", bdims, stack(lambda o, p: o.source(p)), rate,
            f"hopping torque (eom_start + eom_end)/2 of each bond, given to EACH end site, by start cell, {per}")
        put("onsite_torque", sdims, stack(lambda o, p: o.onsite_torque(p)), rate, f"on-site torque i <c_i^dag [eps_i, J] c_i> (e.g. the exchange torque), {per}")
        put("torque", sdims, stack(lambda o, p: o.torque(p)), rate, f"tau_i = on-site torque + the hopping torques of every bond at site i, {per}")

def transport_dataset(lat, res, quantities, file=None):
    """The ``xarray.Dataset`` of a :class:`orbsym.numeric.sites_transport.SiteTransportResult`.

    Dimensions as :func:`site_dataset` with ``part``: ``response`` (per unit bias) and ``equilibrium``
    (linear response) or ``window``, ``equilibrium`` and ``total`` (finite bias, :mod:`orbsym.numeric.sites_transport`).
    Per-part variables: ``density``, ``bond_current``, ``boundary_current``, ``hopping_torque``,
    ``onsite_torque``, ``torque``, ``divergence``, ``balance_residual`` (``d<O_i>/dt``, zero at the interior
    sites); scalars ``landauer_current`` and, in linear response, ``conductance`` (``e^2/h`` per transverse
    cell); ``interior`` marks the sites where the steady-state balance closes.
    """
    import numpy as np
    import xarray as xr

    linear = res.bias is None
    parts = list(res.parts)
    per = "per site" if lat.transverse_dimension == 0 else "per site of one transverse cell"
    dens_u = "hbar for J = L or S (generators of each site), particles for the charge"
    rate = "t (J per unit time, hbar = 1; particles per unit time for the charge)"
    if linear:
        note = "; part 'response': per unit bias V (d/dV, V in t/e, e = 1), part 'equilibrium': rho_eq(mu, T) itself"
    else:
        note = f"; bias V = {res.bias:g} (t/e): total = equilibrium (rho_eq(mu_R, T)) + window"
    dens_u, rate = dens_u + note, rate + note
    lead = ("part", "polarization")
    sdims, bdims = lead + ("x", "row", "site"), lead + ("bond", "x", "row")
    data = {}

    def put(name, dims, values, units, description):
        data[name] = xr.Variable(dims, values, attrs={"units": units, "description": description})

    def stack(fn):
        return np.array([[fn(res[part], _API_POL[p]) for p in POLS] for part in parts])

    base = res[parts[0]]
    _observable_variables(put, stack, lat, quantities, lead, per, rate, dens_u, base,
                          "; for the charge of the driven part it equals landauer_current at every boundary outside the end slices (boundary_checked)")
    if "currents" in quantities:
        put("boundary_checked", ("boundary",), _outer_boundaries(lat).astype(np.int8), "1",
            "1 at the boundaries outside the two end slices, where the charge boundary current equals the Landauer current; 0 inside an "
            "end slice of several x-cells (bonds from the lead cross it there, outside the site lattice)")
    if "balance" in quantities:
        put("divergence", sdims, stack(lambda o, p: o.divergence(p)), rate, f"div_i j = sum of the bond currents leaving site i - sum of those entering it, {per}")
        put("balance_residual", sdims, stack(lambda o, p: o.time_derivative(p)), rate,
            "d<J_i>/dt = -div_i j + tau_i of the steady state: zero at the interior sites (see interior); the end slices also exchange "
            "particles with the leads through bonds outside the site lattice")
        put("interior", ("x", "row", "site"), res.interior().astype(np.int8), "1",
            "1 at the sites outside the two end slices (where the steady-state balance closes), else 0")
    cur_u = "t (particles per unit time, e = hbar = 1) per transverse cell" + (", per unit bias V (= conductance / 2 pi)" if linear else "")
    put("landauer_current", (), float(res.landauer_current()), cur_u,
        "Landauer particle current (1/n_t)(1/2pi) sum_k int dE T(k, E) (f_L - f_R), positive toward +x" + (" (summed over the width)" if lat.transverse_dimension == 0 else ""))
    if linear:
        put("conductance", (), float(res.conductance()["total"]), "e^2/h per transverse cell",
            "Landauer conductance G = (1/n_t) sum_k int dE (-f'(E - mu)) T(k, E), T = Tr(Gamma_L G^r Gamma_R G^a)")
    coords = {
        "part": parts,
        "polarization": list(POLS),
        "x": np.arange(lat.N_x),
        "row": np.arange(lat.rows if lat.transverse_dimension == 0 else 1),
        "site": list(lat.names),
        "bond": _bond_names(lat),
        "boundary": np.arange(max(lat.N_x - 1, 0)),
        "component": ["x", "y", "z"],
    }
    ds = xr.Dataset(data, coords=coords)
    part_desc = ("response = d rho/dV per unit bias (linear response), equilibrium = rho_eq(mu, T)" if linear
                 else "window = int dE (f_L - f_R) A_L / 2pi, equilibrium = rho_eq(mu_R, T), total = equilibrium + window")
    coord_attrs = {
        "part": ("1", f"transport part: {part_desc}"),
        "polarization": ("1", "the observable J: charge (J = 1) or the generators J_x, J_y, J_z of each site"),
        "x": ("cells", "x-cell of the scattering region (leads attached at x-cell 0 and N_x - 1)"),
        "row": ("cells", "y-cell of a finite sample" if lat.transverse_dimension == 0 else "one transverse cell (values per transverse cell)"),
        "site": ("1", "site name inside the cell"),
        "bond": ("1", "hopping 'start->end (dx, dy[, dz])': site start in cell R to site end in cell R + offset (Hermitian conjugate implied)"),
        "boundary": ("cells", "boundary between x-cells b and b+1"),
        "component": ("1", "Cartesian component"),
    }
    for c, (u, d) in coord_attrs.items():
        ds[c].attrs.update(units=u, description=d)

    def lead_text(ld):
        src = "the region" if ld.source is lat else "a lattice of the file"
        return f"slice {ld.slice_index} of {src} continued (cell coupling: slices {ld.pair[0]} -> {ld.pair[1]})"

    residual, mismatch, _, _ = _transport_balance(res)
    ds.attrs.update({
        "calculation": "transport: " + ("linear response to a bias" if linear else f"finite bias V = {res.bias:g}"),
        "engine": f"NEGF (orbsym.numeric.sites_transport, region solver {res.info['region_solver']})",
        "T": float(res.T),
        "mu": float(res.mu),
        "mu_L": float(res.mu_L),
        "mu_R": float(res.mu_R),
        "bias": float(res.bias) if not linear else float("nan"),
        "bias_split": "symmetric, s = 1/2: mu_L = mu + V/2, mu_R = mu - V/2 (orbsym.conventions, Transport)",
        "energy_rule": str(res.info.get("energy_rule", "")),
        "left_lead": lead_text(res.left),
        "right_lead": lead_text(res.right),
        "transverse_dimension": int(lat.transverse_dimension),
        "current": "bond_current: the bond current of each hopping alone (per bond offset); boundary_current: the slice-boundary total, "
                   "every bond crossing the boundary between x-cells b and b+1 summed; landauer_current: (1/2pi) int dE T (f_L - f_R) per "
                   "transverse cell, equal to the charge boundary_current of the driven part at every boundary outside the end slices",
        "units": "natural: energies and rates in units of t, e = hbar = a = 1; conductance in e^2/h"
                 + ("; part response per unit bias V" if linear else ""),
        "conventions": "orbsym.conventions (shared/CONVENTIONS.md); site-resolved definitions: orbsym.numeric.sites (SiteObservables); "
                       "transport: orbsym.numeric.sites_transport",
        "lattice": json.dumps(lat.describe()),
        "max_balance_residual": residual,
        "max_boundary_mismatch": mismatch,
        "source_file": str(file) if file is not None else "",
    })
    return ds


def _write(ds, nc, csv):
    """Write the NetCDF and/or CSV file as one set (:func:`orbsym.io.atomic_files`)."""
    from ..io import atomic_files, atomic_path, atomic_write

    with atomic_files():
        if nc is not None:
            with atomic_path(nc) as tmp:
                ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
        if csv is not None:
            with atomic_write(csv) as fh:
                fh.write(_csv_text(ds))


def _csv_text(ds):
    """Long table ``quantity, [part,] polarization, x, row, site, bond, boundary, value`` with ``#`` lines for the
    attributes and every quantity's units."""
    import pandas as pd

    frames = []
    for name in ds.data_vars:
        v = ds[name]
        df = v.to_dataframe(name="value").reset_index() if v.dims else pd.DataFrame({"value": [float(v.values)]})
        df.insert(0, "quantity", name)
        frames.append(df)
    table = pd.concat(frames, ignore_index=True, sort=False)
    keys = [c for c in ("quantity", "time", "part", "polarization", "x", "row", "site", "bond", "component", "boundary") if c in table.columns]
    table = table[keys + ["value"]]
    head = [f"# {k}: {ds.attrs[k]}" for k in ("calculation", "engine", "T", "eta", "field", "bias", "bias_split", "relaxation", "units", "current", "conventions") if k in ds.attrs]
    head += [f"# {name} [{ds[name].attrs['units']}]: {ds[name].attrs['description']}" for name in ds.data_vars]
    return "\n".join(head) + "\n" + table.to_csv(index=False)


def _summary(lat, ds, residual, free_energy=None):
    """One line: geometry, engine, free energy or response, largest balance residual."""
    parts = [_geometry(lat)]
    if "field" in ds.attrs:
        parts.append(f"engine kubo, response to E_{ds.attrs['field']} (parts total = fermi_surface + fermi_sea, drive; per unit force q E), T={ds.attrs['T']:g}, eta={ds.attrs['eta']:g}")
    else:
        eng = ds.attrs["engine"] + (" (auto)" if ds.attrs["engine_requested"] == "auto" else "")
        parts.append(f"engine {eng}, T={ds.attrs['T']:g}")
        if free_energy is not None:
            which = "of the sample" if lat.transverse_dimension == 0 else "per transverse cell"
            parts.append(f"free energy {which} {free_energy:.12g}")
    parts.append(f"max balance residual {residual:.2e}")
    return "; ".join(parts)


def _transport_summary(lat, res, ds):
    """One line: geometry, the leads and T, the conductance (linear) or current (bias), the balance."""
    parts = [_geometry(lat)]
    solver = res.info["region_solver"]
    if res.bias is None:
        parts.append(f"transport (NEGF, {solver}), linear response, T={res.T:g}")
        parts.append(f"conductance {res.conductance()['total']:.10g} e^2/h per transverse cell")
    else:
        parts.append(f"transport (NEGF, {solver}), bias V={res.bias:g} (mu_L = mu + V/2, mu_R = mu - V/2), T={res.T:g}")
        parts.append(f"Landauer current {res.landauer_current():.10g} per transverse cell")
    if res.interior().any():
        parts.append(f"max balance residual {ds.attrs['max_balance_residual']:.2e} (boundary vs Landauer {ds.attrs['max_boundary_mismatch']:.2e})")
    else:
        parts.append(f"max balance residual n/a ({lat.n_slices} slices: no interior slice; boundary vs Landauer {ds.attrs['max_boundary_mismatch']:.2e})")
    return "; ".join(parts)


def _evolve_summary(lat, ds, eta):
    """One line: geometry, the run (quench, drive, relaxation, times), the final densities, the balance."""
    import numpy as np

    t = ds["time"].values
    head = _geometry(lat)
    what = [f"real time ({ds.attrs['propagator']}" + (f", {ds.attrs['steps_per_interval']} steps per interval" if ds.attrs["steps_per_interval"] else "") + ")",
            "quench" if "file's" in ds.attrs["quench"] else "no quench", "drive" if ds.attrs["drive"] != "none" else "no drive",
            f"eta={eta:g}" if eta is not None else "no relaxation", f"T={ds.attrs['T']:g}", f"{t.size} times {t[0]:g}..{t[-1]:g}"]
    fin = ds["density"].isel(time=-1)
    tot = {p: float(fin.sel(polarization=p).sum()) for p in POLS}
    which = "per transverse cell" if lat.transverse_dimension else "of the sample"
    dens = (f"at t={t[-1]:g}: N={tot['charge']:.10g}, sum J_x={tot['x']:.6g}, J_y={tot['y']:.6g}, J_z={tot['z']:.6g} {which}, "
            f"max |J_i|={float(np.abs(fin.sel(polarization=['x', 'y', 'z']).values).max(initial=0.0)):.6g}")
    return "; ".join([head, ", ".join(what), dens, f"max balance residual {ds.attrs['max_balance_residual']:.2e}"])


def _geometry(lat):
    """``"sites: ..."``: sites per cell, transverse dimension, sizes, vacancies."""
    n_orb = int(lat.cell_dim)
    geo = f"{len(lat.sites)} site{'s' if len(lat.sites) != 1 else ''}/cell ({', '.join(lat.names)}; {n_orb} orbitals)"
    if lat.transverse_dimension == 0:
        sizes = f"transverse dimension 0 (finite sample), N_x={lat.N_x}, width={lat.width}"
        nv = int(lat.vacant.sum())
        if nv:
            sizes += f", {nv} vacanc{'y' if nv == 1 else 'ies'}"
    elif lat.transverse_dimension == 1:
        sizes = f"transverse dimension 1 (periodic y), N_x={lat.N_x}, N_y={lat.N_y}"
    else:
        sizes = f"transverse dimension 2 (film), N_x={lat.N_x}, N_y={lat.N_y}, N_z={lat.N_z}"
    return f"sites: {geo}, {sizes}"
