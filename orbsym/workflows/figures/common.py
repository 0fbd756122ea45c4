"""Shared machinery of the figure reproductions: parameters, F(mu) from one diagonalization,
parallel maps with a progress bar, and atomic PNG + PDF + CSV output.

Conventions (units of t, every bond counted once, F per row): :mod:`orbsym.conventions`.
Every output file records the figure's parameters, the current definition (Fig. 2) and the
FM-metal ``interface`` rule.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

from ...conventions import PAPER, PAPER_PARAMETERS
from ...io import atomic_files, atomic_path, atomic_write, ensure_writable_dir

__all__ = [
    "BASE_PARAMETERS",
    "QUICK_ENV",
    "quick_from_env",
    "resolve_parameters",
    "free_energy_vs_mu",
    "parallel_map",
    "progress",
    "write_csv",
    "read_csv",
    "save_figure",
    "sign_changes",
    "png_bytes",
    "new_figure",
    "output_stem",
    "Timer",
]

#: Environment variable that switches notebooks (and ``quick_from_env``) to reduced sizes.
QUICK_ENV = "ORBSYM_QUICK"

#: Parameters shared by all figures (paper: Fig. 2 caption; shared by Figs. 3-5).
BASE_PARAMETERS = {
    "N_x": PAPER_PARAMETERS["N_x"],
    "N_y": PAPER_PARAMETERS["N_y"],
    "N_FM": PAPER_PARAMETERS["N_FM"],
    "m": PAPER_PARAMETERS["m"],
    "T": PAPER_PARAMETERS["T"],
    "mu": PAPER_PARAMETERS["mu"],
    "t": PAPER_PARAMETERS["t"],
    "tp": PAPER_PARAMETERS["tp"],
    "interface": "fm",
}


def quick_from_env(default=False):
    """``True`` if ``ORBSYM_QUICK`` is set to a true value (``1``, ``true``, ``yes``)."""
    v = os.environ.get(QUICK_ENV)
    if v is None:
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


def resolve_parameters(defaults, quick_overrides, quick=False, **params):
    """Merge ``defaults``, the ``--quick`` reductions and user values (``None`` = not given).

    Raises ValueError for a parameter the figure does not have, naming the allowed ones.
    """
    out = dict(defaults)
    if quick:
        out.update(quick_overrides)
    for k, v in params.items():
        if v is None:
            continue
        if k not in defaults:
            raise ValueError(f"unknown parameter {k!r} for this figure; allowed: {', '.join(sorted(defaults))}")
        out[k] = v
    _check_common(out)
    return out


def _check_common(p):
    for k in ("N_x", "N_y", "N_FM"):
        if k in p and (isinstance(p[k], bool) or not isinstance(p[k], (int, np.integer)) or p[k] < 1):
            raise ValueError(f"{k} must be an integer >= 1, got {p[k]!r}")
    if "T" in p and (not math.isfinite(float(p["T"])) or float(p["T"]) < 0):
        raise ValueError(f"temperature T must be a finite number >= 0, got {p['T']!r}")
    if "interface" in p and p["interface"] not in ("fm", "metal"):
        raise ValueError(f"unknown interface rule {p['interface']!r}; allowed: fm, metal")
    for k in ("mu", "t", "tp", "m", "w"):
        if k in p and p[k] is not None and not math.isfinite(float(p[k])):
            raise ValueError(f"{k} must be finite, got {p[k]!r}")


# ------------------------------------------------------------------------------ F(mu)
def free_energy_vs_mu(system_at_mu0, T, mus, workers=1):
    """Grand potential per row (Eq. 13) for many chemical potentials from ONE diagonalization.

    ``mu`` enters the Hamiltonian only as ``-mu`` on every site (:mod:`orbsym.conventions`), so the
    levels at ``mu`` are ``E_n(0) - mu``: the spectrum of the ``mu = 0`` system is computed once
    (eigenvalues only, :func:`orbsym.numeric.solve_bloch`) and ``F(mu) = -T sum_n w_k
    ln(1 + exp(-(E_n - mu)/T)) / N_y`` is evaluated for every ``mu``.

    Parameters
    ----------
    system_at_mu0 : orbsym.systems.System
        The system built with ``mu = 0`` in every column (checked).
    T : float
    mus : array_like
    workers : int
        Processes sharing the k-points of the diagonalization.

    Returns
    -------
    ndarray
        ``F(mu) / N_y`` for every ``mu`` (units of t).
    """
    from ...numeric import grand_potential_terms, solve_bloch

    lat = system_at_mu0.lattice
    for c in lat.columns:
        if float(c.params.get("mu", 0.0)) != 0.0:
            raise ValueError(f"free_energy_vs_mu needs the system built with mu = 0, got mu = {c.params.get('mu')!r}")
    sol = solve_bloch(lat, T, vectors=False, workers=workers)
    E = sol.energies  # (nk, n), measured from mu = 0
    w = sol.weights
    mus = np.atleast_1d(np.asarray(mus, dtype=float))
    out = np.empty(mus.size)
    for i, mu in enumerate(mus):
        out[i] = float(np.sum(w[:, None] * grand_potential_terms(E - mu, T))) / sol.N_y
    return out


# ------------------------------------------------------------------------------ running
def progress(total, desc, enabled=None):
    """A tqdm progress bar on stderr, shown only when stderr is a terminal (or ``enabled``)."""
    from tqdm import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False, unit="solve")


def _call(job):
    fn, args = job
    return fn(*args)


def parallel_map(fn, arglist, workers=1, desc="orbsym", show=None):
    """``[fn(*args) for args in arglist]`` with a progress bar; ``workers > 1`` uses forked processes.

    ``fn`` must be a module-level function.  Kernels (SymPy, once per model) are generated in the
    parent before forking, so the workers inherit the cache.
    """
    arglist = list(arglist)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    results = [None] * len(arglist)
    with progress(len(arglist), desc, show) as bar:
        if workers == 1 or len(arglist) < 2:
            for i, a in enumerate(arglist):
                results[i] = fn(*a)
                bar.update(1)
            return results
        import concurrent.futures
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=int(workers), mp_context=ctx) as pool:
            futs = {pool.submit(_call, (fn, a)): i for i, a in enumerate(arglist)}
            for f in concurrent.futures.as_completed(futs):
                results[futs[f]] = f.result()
                bar.update(1)
    return results


def sign_changes(x, y):
    """Positions where ``y(x)`` changes sign, by linear interpolation between neighbouring samples."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    out = []
    for i in range(len(y) - 1):
        a, b = y[i], y[i + 1]
        if a == 0.0:
            out.append(float(x[i]))
        elif a * b < 0:
            out.append(float(x[i] - a * (x[i + 1] - x[i]) / (b - a)))
    return out


# ------------------------------------------------------------------------------ output
def _header_lines(meta):
    from ... import __version__

    lines = [f"# orbsym {__version__} reproduction of {meta.get('figure', '?')} of: {PAPER}"]
    lines.append("# units: energies, currents and free energies in units of t (a = hbar = k_B = 1); conventions: orbsym.conventions")
    for k, v in meta.items():
        lines.append(f"# {k}: {json.dumps(v, sort_keys=True, default=_json_default)}")
    return lines


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot encode {type(o).__name__}")


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return "nan" if not np.isfinite(v) else repr(float(v))
    return str(v)


def write_csv(path, meta, columns, rows):
    """Write a CSV atomically: ``# key: <json>`` comment lines with ``meta``, a header, the rows.

    Read back with :func:`read_csv` (or ``pandas.read_csv(path, comment="#")``).
    """
    with atomic_write(path) as fh:
        for line in _header_lines(meta):
            fh.write(line + "\n")
        fh.write(",".join(columns) + "\n")
        for r in rows:
            fh.write(",".join(_fmt(v) for v in r) + "\n")
    return path


def read_csv(path):
    """Read a CSV written by :func:`write_csv`: returns ``(meta, columns, rows)`` (rows as strings)."""
    meta, columns, rows = {}, None, []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("# "):
                key, sep, val = line[2:].partition(": ")
                if sep and not key.startswith("orbsym ") and key != "units":
                    meta[key] = json.loads(val)
            elif columns is None:
                columns = line.split(",")
            elif line:
                rows.append(line.split(","))
    return meta, columns, rows


def save_figure(fig, path_stem, formats=("png", "pdf"), dpi=150):
    """Save a matplotlib Figure as ``<stem>.png`` and ``<stem>.pdf``, each atomically.

    Inside :func:`orbsym.io.atomic_files` (as ``orbsym figure``/``reproduce`` and
    :func:`orbsym.workflows.figures.reproduce` call ``save``) these files, the CSV of
    :func:`write_csv` and any other :func:`orbsym.io.atomic_path` output are renamed into place
    together, only after all of them were written; outside it, both formats still form one set."""
    paths = []
    with atomic_files():
        for fmt in formats:
            target = f"{path_stem}.{fmt}"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt))
            paths.append(target)
    return paths


def _metadata(fmt):
    from ... import __version__

    if fmt == "png":
        return {"Software": f"orbsym {__version__}"}
    if fmt == "pdf":
        return {"Creator": f"orbsym {__version__}", "CreationDate": None}
    return None


def new_figure(width=7.0, height=4.0):
    """A pyplot-free matplotlib Figure (no global state, no GUI backend needed)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def output_stem(out_dir, name):
    """``out_dir/name`` after making sure ``out_dir`` is a writable directory."""
    d = ensure_writable_dir(out_dir)
    return str(d / name)


class Timer:
    """Context manager measuring wall time in ``.seconds``."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        return False


def png_bytes(fig, dpi=110):
    """PNG bytes of a Figure (for ``IPython.display.Image`` in notebooks, no pyplot needed)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
