"""The disorder options of ``orbsym compute`` and ``orbsym response``: ensembles of periodic heterostructures.

``--disorder KIND:STRENGTH[,...]`` (kinds of :data:`orbsym.commands.sites.DISORDER_KINDS`),
``--disorder-file FILE.npz`` (explicit arrays, :func:`orbsym.commands.sites.load_disorder_file`),
``--realizations N`` and ``--seed S`` turn the solve into a disorder ensemble
(:func:`orbsym.systems.disorder_ensemble`): every realization is the Gamma-only supercell of the
``N_x x N_y`` (films ``x N_z``) heterostructure -- one cell of ``R = N_y`` (``N_y N_z``) copies of every
column's orbitals, the torus with disorder -- solved (``compute``) or driven (``response``).  The
explicit arrays of a heterostructure are indexed ``(N_x, R[, n[, n]])`` on the one site ``site`` of its
site lattice (:func:`orbsym.numeric.sites.from_column_lattice`): keys ``potential_site`` and ``vacancies``
``(N_x, R, 1)``.

Checked before any work (one line on stderr, exit status 2): ``--realizations``/``--seed`` without
``--disorder``, options that do not apply to an ensemble (named by the command), ``--N-y inf``, the size
of the supercell (its cell holds ``R dim`` orbitals: a slice of ``R dim`` states, dense in ``R``) with the
estimate of all realizations (:func:`supercell_estimate`), and ``--out`` (``FILE.nc`` only: the ensemble
Dataset, written atomically with the resumable store ``FILE.nc.parts/``).
"""

from __future__ import annotations

import json
import math

POLS = ("charge", "x", "y", "z")


def add_disorder_arguments(parser, command):
    """``--disorder``, ``--disorder-file``, ``--realizations``, ``--seed`` (argparse defaults None)."""
    from .sites import DISORDER_KINDS

    kinds = ", ".join(k + ":" + v[0] for k, v in DISORDER_KINDS.items())
    parser.add_argument("--disorder", default=None, metavar="KIND:STRENGTH[,...]",
                        help=f"disorder ensemble on the Gamma-only supercell of the N_x x N_y torus: comma-separated {kinds} "
                             f"(units of t; hopping: dimensionless; vacancies: a concentration)")
    parser.add_argument("--disorder-file", dest="disorder_file", default=None, metavar="FILE.npz",
                        help="explicit disorder arrays: potential_site (N_x, R[, n[, n]]) added to the on-site matrices, vacancies (N_x, R, 1) "
                             "bool; R = N_y (films N_y*N_z, r = y*N_z + z)")
    parser.add_argument("--realizations", type=int, default=None, metavar="N", help="--disorder: number of realizations N >= 1 (default 1)")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="--disorder: first seed S >= 0; realizations use S, S+1, ... (default 0)")


def disorder_given(args):
    return getattr(args, "disorder", None) is not None or getattr(args, "disorder_file", None) is not None


def check_disorder_options(args, refuse=()):
    """Check the disorder options (before any work).

    ``refuse``: ``(flag, given, why)`` of the command's options that do not apply to an ensemble.  Returns
    None (no disorder) or ``(random terms, realizations, first seed)``."""
    if not disorder_given(args):
        for flag, on in (("--realizations", args.realizations is not None), ("--seed", args.seed is not None)):
            if on:
                raise ValueError(f"{flag} applies only to a disorder ensemble: add --disorder KIND:STRENGTH (or --disorder-file FILE.npz), or drop {flag}")
        return None
    flag = "--disorder" if args.disorder is not None else "--disorder-file"
    for other, on, why in refuse:
        if on:
            raise ValueError(f"{other} does not apply with {flag}: {why}")
    if args.disorder is None:
        for other, on in (("--seed", args.seed is not None), ("--realizations", args.realizations is not None)):
            if on:
                raise ValueError(f"{other} applies to random disorder: add --disorder KIND:STRENGTH (--disorder-file alone is one explicit configuration)")
    return ensemble_terms(args)


def ensemble_terms(args):
    """``(terms, realizations, first seed)`` of ``--disorder``, ``--realizations``, ``--seed`` (defaults 1 and 0),
    each checked (the ``--disorder-file`` arrays are read separately)."""
    from .sites import parse_disorder

    terms = parse_disorder(args.disorder) if args.disorder is not None else []
    n = 1 if args.realizations is None else args.realizations
    if n < 1:
        raise ValueError(f"--realizations {n}: the number of realizations must be >= 1")
    seed = 0 if args.seed is None else args.seed
    if seed < 0:
        raise ValueError(f"--seed {seed}: seeds are integers >= 0")
    return terms, n, seed


def check_out(path):
    """``--out`` of an ensemble: a ``.nc`` file in a writable directory (None: no file)."""
    if path is None:
        return None
    from ..io import check_output_file

    p = check_output_file(path, "--out", "ensemble.nc")
    if p.suffix != ".nc":
        raise ValueError(f"--out {str(path)!r}: a disorder ensemble is written as NetCDF (FILE.nc: every realization, the means and standard "
                         "errors, resumable); the summary goes to stdout (--json for a JSON summary)")
    return p


def supercell_estimate(N_x, N_y, N_z, dim, realizations, workers, response=False, T=None, engine="dense"):
    """Refuse, before building anything, an ensemble whose supercells would not fit (estimate in the message).

    One realization is the Gamma-only supercell: ``N_x`` slices of ``D = R dim`` states (``R = N_y``, films
    ``N_y N_z``), one k point; its dense solve (:func:`orbsym.numeric.budget.dense_bloch_estimate`) or Kubo
    response (:func:`orbsym.numeric.budget.kubo_estimate`), times the realizations, shared by ``workers``
    processes.  An equilibrium ensemble with ``engine="greens"`` is sized by the Green's-function estimate
    (:func:`orbsym.numeric.engines.greens_estimate` at temperature ``T``), with ``"auto"`` by the cheaper of the
    two (what ``auto`` picks).  Also refuses ``D`` above :data:`orbsym.numeric.sites.MAX_SLICE_STATES`."""
    from ..numeric.budget import check_resources, dense_bloch_estimate, kubo_estimate
    from ..numeric.sites import MAX_SLICE_STATES

    R = N_y * (N_z or 1)
    D = R * dim
    cells = f"N_y = {N_y}" + (f" x N_z = {N_z}" if N_z else "")
    if D > MAX_SLICE_STATES:
        raise ValueError(f"a disordered sample of {cells} transverse cells is a supercell whose cell holds {R} x {dim} = {D} orbitals, more "
                         f"than the limit MAX_SLICE_STATES = {MAX_SLICE_STATES} of one slice (dense in the transverse cells: cost ~ N_x D^3); "
                         f"use --N-y <= {MAX_SLICE_STATES // (dim * (N_z or 1))}")
    one = kubo_estimate(N_x, 1, D, symmetric=False) if response else dense_bloch_estimate(N_x, 1, D, vectors=True)
    if not response and engine in ("auto", "greens") and T is not None:
        from ..numeric.engines import greens_estimate

        try:
            g = greens_estimate(N_x, 1, D, T, vectors=True, symmetric=False)
        except ValueError:  # no usable Green's-function estimate (e.g. T = 0 bounds): dense, as auto would run
            g = None
        if g is not None and (engine == "greens" or g.seconds < one.seconds):
            one = g
    est = one.times(realizations, "realizations")
    w = max(1, min(int(workers), realizations))
    return check_resources(est, what=f"the disorder ensemble of {realizations} realization(s) of the N_x = {N_x} x {cells} supercell "
                                     f"({N_x} slices of {D} states)", workers=w,
                           hint="reduce --N-y (the supercell cell holds N_y copies of a column), --N-x or --realizations")


def terms_with_file(args, system, terms):
    """The random terms plus the explicit arrays of ``--disorder-file`` (checked against the system's site lattice)."""
    if args.disorder_file is None:
        return list(terms)
    from ..systems import disorder_site_lattice
    from .sites import load_disorder_file

    return list(terms) + load_disorder_file(args.disorder_file, disorder_site_lattice(system))


def profiles(ds):
    """Per-column means and standard errors of a heterostructure ensemble: ``density`` averaged over the rows
    (transverse cells) of every realization, then over realizations; ``boundary_current`` per transverse cell."""
    import numpy as np

    out = {}
    n = ds.sizes["realization"]
    if "density" in ds:
        d = ds.density.mean(("row", "site")).values  # (realization, polarization, x)
        out["densities"] = {p: {"mean": d[:, i].mean(0).tolist(), "stderr": (d[:, i].std(0, ddof=1) / math.sqrt(n)).tolist() if n > 1 else None}
                            for i, p in enumerate(POLS)}
    if "boundary_current" in ds:
        c = ds.boundary_current.values
        out["x_currents"] = {p: {"mean": c[:, i].mean(0).tolist(), "stderr": (c[:, i].std(0, ddof=1) / math.sqrt(n)).tolist() if n > 1 else None}
                             for i, p in enumerate(POLS)}
    if "free_energy" in ds:
        f = ds.free_energy.values
        out["free_energy_per_transverse_cell"] = {"mean": float(np.mean(f)), "stderr": float(np.std(f, ddof=1) / math.sqrt(n)) if n > 1 else None}
    return out


def summary_record(ds, system, T, args, extra=None):
    """The JSON summary of an ensemble run (``--json``): system, disorder, seeds, engine, units, profiles."""
    rec = {
        "system": system.describe(),
        "T": T,
        "disorder": json.loads(ds.attrs["disorder"]),
        "disorder_option": args.disorder,
        "disorder_file": None if args.disorder_file is None else str(args.disorder_file),
        "realizations": int(ds.attrs["realizations"]),
        "seeds": json.loads(ds.attrs["seeds"]),
        "engine": ds.attrs["engine"],
        "sample": ds.attrs["sample"],
        "units": ds.attrs["units"],
        "current": ds.attrs["current"],
        "max_balance_residual": float(ds.attrs["max_balance_residual"]),
        "balance_tolerance": float(ds.attrs["balance_tolerance"]),
        **(extra or {}),
        **profiles(ds),
    }
    return rec


def summary_text(rec, head):
    """The text summary: ``head`` lines, the disorder, engine, balance, then per-column means +- standard errors."""
    seeds = rec["seeds"]
    what = rec["disorder_option"] or ""
    if rec["disorder_file"]:
        what = (what + " + " if what else "") + f"explicit arrays of {rec['disorder_file']!r}"
    n = rec["realizations"]
    lines = list(head) + [
        f"disorder: {what}, {n} realization{'s' if n != 1 else ''}, seeds {seeds[0]}..{seeds[-1]}",
        f"sample: {rec['sample']}",
        f"engine: {rec['engine']}",
        f"units: {rec['units']}",
        f"max balance residual over realizations: {rec['max_balance_residual']:.2e} (tolerance {rec['balance_tolerance']:g})",
    ]

    def fmt(v):
        return " ".join(f"{x: .3e}" for x in v)

    if "free_energy_per_transverse_cell" in rec:
        f = rec["free_energy_per_transverse_cell"]
        err = f" +- {f['stderr']:.3g} (standard error)" if f["stderr"] is not None else " (1 realization: no standard error)"
        lines.append(f"free energy per transverse cell <F> = {f['mean']:.12g}{err} t")
    for key, title in (("densities", "density (row average)"), ("x_currents", "x current per transverse cell")):
        for p, v in rec.get(key, {}).items():
            lines.append(f"{title} [{p}]: {fmt(v['mean'])}")
            if v["stderr"] is not None:
                lines.append(f"{' ' * len(title)} +- [{p}]: {fmt(v['stderr'])}")
    return "\n".join(lines)
