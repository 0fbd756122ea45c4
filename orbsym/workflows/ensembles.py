"""Disorder ensembles: many realizations of one disordered sample, with averages and standard errors.

:func:`ensemble` draws one realization per seed (:func:`orbsym.numeric.disorder.realize` on the clean
sample of ``factory()``), solves or drives each one through :func:`orbsym.workflows.sweeps.sites.sweep_sites`
(the execution layer: serial, a local process pool or any executor such as dask; checked and estimated
before any realization runs), and returns one labeled Dataset::

    <var>              [realization, ...]   every realization (the per-site profiles included)
    <var>_mean         [...]                the ensemble average  <X> = n^-1 sum_r X_r
    <var>_stderr       [...]                its standard error    s / sqrt(n), s^2 = sum_r (X_r - <X>)^2 / (n - 1)
    balance_residual   [realization]        the per-site balance of every realization (checked)

Every realization's per-site balance (``-div j + tau (+ source) = d<J>/dt``, equilibrium; the driven
balance of :meth:`SiteLattice.respond` with a field) is checked: a residual above ``tol`` raises
:class:`orbsym.numeric.sites.BalanceError` naming the seed.  Units: those of the site lattice (t, or eV
for materials); conventions as :func:`sweep_sites`.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np

__all__ = ["ensemble", "BALANCE_TOL"]

#: Largest per-site balance residual accepted in a realization (units of J t / hbar).
BALANCE_TOL = 1e-9


def realization_lattice(factory, disorder, seed):
    """The disordered lattice of one seed (module level: runs in the workers)."""
    from ..numeric.disorder import realize

    return realize(factory(), disorder, seed=seed).lattice


def ensemble(factory, disorder, seeds, T, observables=("free_energy", "density", "boundary_current"), response=None, eta=None,
             executor=None, workers=1, progress=False, *, engine="dense", part="total", tol=BALANCE_TOL):
    """Average observables over disorder realizations, one per seed.

    Parameters
    ----------
    factory : callable
        ``factory() -> SiteLattice``, the clean finite sample (picklable for process pools: a module-level
        function or a :func:`functools.partial` of one).
    disorder : disorder term or sequence of terms
        :mod:`orbsym.numeric.disorder` kinds (``Anderson``, ``RandomHopping``, ``Vacancies``...).
    seeds : int or sequence of int
        The realizations: ``n`` gives seeds ``0 .. n-1``; a sequence gives them explicitly.
    T, observables, response, eta, executor, workers, progress, engine, part
        As :func:`orbsym.workflows.sweeps.sites.sweep_sites`.
    tol : float
        Largest per-site balance residual accepted in any realization.

    Returns
    -------
    xarray.Dataset
        The per-realization variables on dimension ``realization`` (coordinate: the seed), their
        ``_mean`` and ``_stderr`` (NaN for one realization), ``balance_residual``; attrs: the disorder
        record (JSON), the number of realizations and those of :func:`sweep_sites`.
    """
    from ..numeric.disorder import KINDS, describe
    from ..numeric.sites import BalanceError
    from .sweeps.sites import sweep_sites

    if not callable(factory):
        raise TypeError(f"factory must be a callable factory() -> SiteLattice (the clean sample), got {factory!r}")
    terms = (disorder,) if isinstance(disorder, KINDS) else tuple(disorder)
    if not terms or not all(isinstance(t, KINDS) for t in terms):
        raise TypeError(f"disorder must be one or more of {[k.__name__ for k in KINDS]}, got {disorder!r}")
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a number of realizations >= 1 or a sequence of seeds, got {seeds}")
        seeds = list(range(int(seeds)))
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be distinct integers >= 0 (one per realization), got {seeds!r}")
    build = functools.partial(realization_lattice, factory, terms)
    ds = sweep_sites(build, {"seed": [int(s) for s in seeds]}, T, observables, response, eta, executor, workers, progress, engine=engine, part=part)
    ds = ds.rename({"seed": "realization"})
    ds["realization"].attrs["long_name"] = "disorder realization (its seed)"
    bad = np.flatnonzero(~(ds["balance_residual"].values <= tol))
    if bad.size:
        r = int(bad[0])
        raise BalanceError(f"the per-site balance of realization seed={seeds[r]} is off by {ds['balance_residual'].values[r]:.3g} (tolerance {tol:g})")
    n = len(seeds)
    for var in [v for v in list(ds.data_vars) if v != "balance_residual"]:
        x = ds[var]
        mean = x.mean("realization")
        err = x.std("realization", ddof=1) / math.sqrt(n) if n > 1 else mean * np.nan
        units = x.attrs.get("units", "")
        ds[f"{var}_mean"] = mean.assign_attrs(units=units, description=f"ensemble average over {n} realizations of: {x.attrs.get('description', var)}")
        ds[f"{var}_stderr"] = err.assign_attrs(units=units, description=f"standard error s / sqrt(n) of {var}_mean (s: sample standard deviation, n = {n})")
    ds.attrs.update({
        "title": "orbsym disorder ensemble",
        "disorder": json.dumps([describe(t) for t in terms]),
        "realizations": n,
        "balance_tolerance": tol,
    })
    return ds
