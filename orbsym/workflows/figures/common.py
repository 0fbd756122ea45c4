"""Shared machinery of the figure reproductions: parameters, F(mu) from one diagonalization,
parameter grids as sweeps (:class:`Runner`), and atomic PNG + PDF + CSV + NetCDF output.

Conventions (units of t, every bond counted once, F per row): :mod:`orbsym.conventions`.
Every output file records the figure's parameters, the current definition (Fig. 2) and the
FM-metal ``interface`` rule.
"""

from __future__ import annotations

import contextlib
import json
import os
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
    "progress",
    "Runner",
    "PlanRunner",
    "PlanComplete",
    "plan_grids",
    "runner",
    "parameter_key",
    "save_netcdf",
    "write_csv",
    "read_csv",
    "save_figure",
    "sign_changes",
    "png_bytes",
    "new_figure",
    "convergence_note",
    "wrap_title",
    "text_width_points",
    "output_stem",
    "SUFFIXES",
    "locked_outputs",
    "leftover_notice",
    "run_figure",
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
    from ...numeric.checks import ENERGY_LIMIT, check_name, real_number

    if "T" in p:
        real_number("temperature T", p["T"], minimum=0.0, bound=ENERGY_LIMIT)
    if "interface" in p:
        check_name("interface rule", p["interface"], ("fm", "metal"))
    for k in ("mu", "t", "tp", "m", "w"):
        if k in p and p[k] is not None:
            real_number(k, p[k], bound=ENERGY_LIMIT)


# ------------------------------------------------------------------------------ F(mu)
def free_energy_from_levels(E, w, T, mus):
    """``F(mu) / N_y = sum_k w_k sum_n g(E_n(k) - mu) / sum_k w_k`` (Eq. 13) for every ``mu``.

    ``E``: levels of the ``mu = 0`` system, ``(nk, n)``; ``w``: k weights (summing to ``N_y``).
    """
    from ...numeric import grand_potential_terms

    E = np.asarray(E, float)
    w = np.asarray(w, float)
    Ny = float(np.sum(w))
    mus = np.atleast_1d(np.asarray(mus, dtype=float))
    out = np.empty(mus.size)
    for i, mu in enumerate(mus):
        out[i] = float(np.sum(w[:, None] * grand_potential_terms(E - mu, T))) / Ny
    return out


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
    """A progress bar following the one policy of :func:`orbsym.execution.progress_bar`."""
    from ...execution import progress_bar

    return progress_bar(total, desc, enabled, unit="solve")


class Runner:
    """How a figure runs its parameter grids: every grid is one :func:`orbsym.workflows.sweeps.sweep`.

    Parameters
    ----------
    workers : int
        Local processes (1: in this process).  Ignored when ``executor`` is given.
    executor : concurrent.futures.Executor, optional
        E.g. one :func:`orbsym.workflows.sweeps.process_executor` shared by all grids of a
        ``reproduce`` run, or a dask executor (:func:`orbsym.execution.connect_scheduler`).
    resume : path, optional
        Directory for the resumable sweep state (``<resume>/<figure>-<hash>-<grid>.nc.parts/``):
        an interrupted run continues where it stopped when it is repeated with the same parameters.
        :meth:`cleanup` removes the state once the figure is written.
    progress : bool, optional
        Progress bars (default: :func:`orbsym.execution.progress_enabled`).
    """

    def __init__(self, workers=1, executor=None, resume=None, progress=None):
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = int(workers)
        self.executor = executor
        self.resume = None if resume is None else str(resume)
        self.progress = progress
        self.files = []
        self._owned = None

    def close(self, abort=False):
        """Shut down the local pool this runner started (if any); ``abort``: kill its workers now."""
        if self._owned is not None:
            if abort:
                self._owned.terminate()
            else:
                self._owned.shutdown(wait=True)
            self.executor = self._owned = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(abort=exc_type is not None)
        return False

    def sweep(self, system, axes, observables, params, key, tag):
        """The grid ``axes`` x ``observables`` (a :func:`~orbsym.workflows.sweeps.sweep` Dataset)."""
        from ..sweeps import sweep

        out = None
        if self.resume is not None:
            ensure_writable_dir(self.resume)
            out = os.path.join(self.resume, f"{key}-{tag}.nc")
            self.files.append(out)
        if self.executor is not None:
            ex, n = self.executor, self.workers
        elif self.workers == 1:
            ex, n = "serial", 1
        else:
            ex = self.executor = self._owned = local_pool(self.workers)
            n = self.workers
        return sweep(system, axes, observables, params=params, executor=ex, workers=n, out=out, progress=self.progress)

    def cleanup(self):
        """Remove the resumable state of the grids run so far (after the figure is written)."""
        import shutil

        import glob

        for f in self.files:  # the sweep file and whatever the sweep store keeps beside it (parts, locks)
            for g in glob.glob(glob.escape(f) + "*"):
                if os.path.isdir(g):
                    shutil.rmtree(g, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(g)
        self.files = []
        if self.resume is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.resume)  # only if empty


class PlanComplete(Exception):
    """Raised by :class:`PlanRunner` to stop a figure's ``compute`` at a grid whose result it cannot stand in for."""


class PlanRunner(Runner):
    """A :class:`Runner` that records the grids a figure's ``compute`` would run, and runs none.

    ``compute(run=PlanRunner())`` goes through the figure's own code up to each grid: a grid of
    scalar observables (``free_energy``, ``rkky``...) is answered with zeros of the right shape, so
    that ``compute`` goes on to its next grid (Fig. 3: one per panel); any other grid stops it with
    :class:`PlanComplete`.  :attr:`grids` then holds ``(system, axes, observables, params)`` of every
    grid reached, to be sized by :func:`orbsym.workflows.sweeps.estimate_sweep` before anything runs.
    """

    def __init__(self, workers=1):
        super().__init__(workers)
        self.grids = []

    def sweep(self, system, axes, observables, params, key, tag):
        import xarray as xr

        from ..sweeps.points import observable_schema, parse_observable

        self.grids.append((system, dict(axes), list(observables), dict(params)))
        schema = [s for o in observables for s in observable_schema(parse_observable(o))]
        if any(dims for _, dims in schema):
            raise PlanComplete(tag)
        shape = tuple(len(v) for v in axes.values())
        return xr.Dataset({var: (tuple(axes), np.zeros(shape)) for var, _ in schema}, coords={n: list(v) for n, v in axes.items()})


def plan_grids(mod, quick=False, **params):
    """``[(system, axes, observables, params)]``: the sweeps ``mod.compute`` would run (none is run)."""
    plan = PlanRunner()
    with contextlib.suppress(PlanComplete), np.errstate(all="ignore"):
        mod.compute(quick=quick, run=plan, **params)
    return plan.grids


def runner(workers=1, show_progress=None, run=None):
    """The :class:`Runner` of a ``compute()`` call (``run`` if given)."""
    return run if run is not None else Runner(workers, progress=show_progress)


def local_pool(workers):
    """The local pool of the figures: :func:`orbsym.execution.process_pool` with the ``fork`` start
    method (no ``__main__`` guard needed; the workers inherit the kernels already derived in this
    process -- see :func:`warm_kernels`), one BLAS thread per worker."""
    from ...execution import BLAS_ENV, process_pool
    from ..sweeps.points import worker_init

    return process_pool(int(workers), context="fork", initializer=worker_init, initargs=(dict(BLAS_ENV),))


def warm_kernels():
    """Derive the kernels of the figures' systems (trilayer, NM and AM bilayers) in this process, so
    that forked workers inherit them instead of each running SymPy."""
    from ...systems import bilayer, trilayer

    trilayer(N_x=3, N_y=2)
    bilayer(metal="nm", N_x=2, N_y=2)
    bilayer(metal="am", N_x=2, N_y=2)


def parameter_key(name, params):
    """``<name>-<12 hex>``: a short hash of a figure's resolved parameters (names its resume state)."""
    import hashlib

    from ... import __version__

    text = json.dumps({"orbsym": __version__, "figure": name, "params": params}, sort_keys=True, default=_json_default_repr)
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _json_default_repr(o):
    try:
        return _json_default(o)
    except TypeError:
        return repr(o)


def save_netcdf(ds, path):
    """Write a figure's labeled data as NetCDF (:func:`orbsym.workflows.sweeps.save`, atomic)."""
    from ..sweeps import save

    save(ds, path)
    return path


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


def convergence_note(data):
    """The warning a figure carries when it was computed below the paper's ``N_y``, else ``""``.

    ``N_y`` is the number of rows (periodic, i.e. ``k_y`` points) of the figure's systems; the
    paper's value (:data:`orbsym.conventions.PAPER_PARAMETERS`, ``N_y = 800``) resolves the
    Fermi surface at ``T = 0.01``; fewer rows leave finite-size errors that can exceed the plotted
    values (Fig. 2 at ``gamma = t``: ``j = 4.0e-6 t`` at ``N_y = 800`` but ``4.3e-4 t`` at
    ``N_y = 64``).  The note reads ``"quick mode: not converged (N_y = 64; paper: N_y = 800)"``
    for a ``quick`` run (``data["quick"]``) and ``"reduced size: not converged (...)"`` otherwise.
    """
    p = data.get("params", {})
    ny, paper = p.get("N_y"), PAPER_PARAMETERS["N_y"]
    if ny is None or ny >= paper:
        return ""
    head = "quick mode" if data.get("quick") else "reduced size"
    return f"{head}: not converged ($N_y = {int(ny)}$; paper: $N_y = {paper}$)"


def text_width_points(text, fontsize):
    """Rendered width (points) of ``text`` (mathtext allowed) at ``fontsize``, measured with Agg."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    w, _, _ = RendererAgg(10, 10, 72).get_text_width_height_descent(text, FontProperties(size=fontsize), ismath="$" in text)
    return float(w)


def wrap_title(parts, width_in, fontsize=9, note=""):
    """A title of the segments ``parts`` (joined by spaces) packed into lines that fit ``width_in`` inches.

    Segments are never split, so a mathtext ``$...$`` stays whole; each segment carries its own
    punctuation.  Line widths are measured (:func:`text_width_points`) against the figure width
    less a 6 % margin.  A non-empty ``note`` (:func:`convergence_note`) comes first, on its own
    line(s).
    """
    avail = 0.94 * float(width_in) * 72.0

    def pack(segments):
        lines, cur = [], ""
        for seg in segments:
            cand = seg if not cur else cur + " " + seg
            if cur and text_width_points(cand, fontsize) > avail:
                lines.append(cur)
                cur = seg
            else:
                cur = cand
        return lines + ([cur] if cur else [])

    head = note.replace(" (", "\0(").split("\0") if note else []
    return "\n".join(pack(head) + pack(parts))


#: File suffixes a figure writes (PNG, PDF, CSV and NetCDF).
SUFFIXES = (".png", ".pdf", ".csv", ".nc")

#: Lock files held by this process -> nesting depth (``reproduce`` holds them around ``run``).
_HELD = {}


@contextlib.contextmanager
def locked_outputs(out_dir, names):
    """Own the figure files ``out_dir/<name>.{png,pdf,csv,nc}`` for the block, like a sweep's output.

    Takes one :class:`orbsym.io.FileLock` per name (``out_dir/.<name>.lock``) and then removes the
    temporary files that a killed writer of these files left behind
    (:func:`orbsym.io.remove_leftover_temps`; no live writer can own them while we hold the lock).
    A second run on the same files fails at once with :class:`orbsym.io.OutputLockedError` (a
    ValueError) naming the lock file and the pid and host holding it; the kernel releases the lock
    of a dead process (even after SIGKILL), so no lock is ever stale.  The lock files are removed at
    the end.  Nested use in one process (``reproduce`` around ``figN.run``) is allowed.

    Parameters
    ----------
    out_dir : path-like
        The output directory (checked and created beforehand, e.g. by
        :func:`orbsym.io.check_output_dir`).
    names : iterable of str
        File stems (``fig2`` ...).

    Yields
    ------
    list of pathlib.Path
        The leftover temporary files removed (for a notice).
    """
    from pathlib import Path

    from ...io import FileLock, remove_leftover_temps

    d = Path(out_dir)
    names = list(dict.fromkeys(names))
    taken = []
    try:
        for name in names:
            path = d / f".{name}.lock"
            key = os.path.realpath(path)
            if key in _HELD:
                _HELD[key][1] += 1
            else:
                what = f"figure output {str(d / name)!r} (.png, .pdf, .csv, .nc)"
                lock = FileLock(path).acquire(what, hint="wait for it to finish, or write to another --out (or --name)")
                _HELD[key] = [lock, 1]
            taken.append(key)
        removed = remove_leftover_temps(d / (name + suf) for name in names for suf in SUFFIXES)
        yield removed
    finally:
        for key in reversed(taken):
            entry = _HELD[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                entry[0].release(unlink=True)


def run_figure(mod, out_dir, quick=False, workers=1, show_progress=None, run=None, **params):
    """``figN.run``: check ``out_dir`` and the parameters, then compute and save under the figure's
    lock (:func:`locked_outputs`); returns ``(data, paths)``."""
    from ...io import check_output_dir

    check_output_dir(out_dir, "out_dir", "figures")
    mod.check(quick=quick, **params)
    with locked_outputs(out_dir, [mod.NAME]):
        data = mod.compute(quick=quick, workers=workers, show_progress=show_progress, run=run, **params)
        return data, mod.save(data, out_dir)


def leftover_notice(removed, out_dir):
    """The one-line notice (without the ``orbsym: `` prefix) about removed leftover temporary files."""
    n = len(removed)
    return f"removed {n} leftover temporary file{'s' if n != 1 else ''} of an interrupted run in {str(out_dir)!r}"


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
