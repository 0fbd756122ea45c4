"""Memory and time estimates of a solve, checked before anything large is allocated.

A solve that cannot fit in memory should fail at once with the estimate in the message -- not
after minutes of looping, and not as ``MemoryError: 1.31 TiB`` from deep inside NumPy.  Each engine
supplies an estimator ``f(N_x, N_y, dim, **options) -> ResourceEstimate``, registered in
:data:`ESTIMATORS` (:func:`register_estimator`); :func:`check_resources` compares an estimate with
the limits and raises :class:`ResourceError` (a ValueError: a usage error on the command line).

Limits
------
* memory: the machine's physical memory, or the process limit (``RLIMIT_AS``/``RLIMIT_DATA``) if it
  is lower; ``ORBSYM_MAX_MEMORY`` (bytes, or with a suffix ``K``, ``M``, ``G``, ``T``) overrides.
* time: :data:`DEFAULT_MAX_SECONDS` (one day) of CPU time (one core, divided among ``workers``);
  ``ORBSYM_MAX_SECONDS`` overrides.  The time model is a rough fit (LAPACK ``?heevd``: about
  ``7e-10 n^3`` s per complex ``n x n`` block on one core of a 2020s CPU); it is meant to catch runs
  of days, not to predict seconds.

The estimates are for the dense Bloch engine (:func:`orbsym.numeric.bloch.solve_bloch`); NumPy
only.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = [
    "ResourceEstimate",
    "ResourceError",
    "ESTIMATORS",
    "register_estimator",
    "estimate",
    "dense_bloch_estimate",
    "dense_realspace_estimate",
    "lattice_estimate",
    "check_resources",
    "memory_limit",
    "time_limit",
    "format_bytes",
    "format_seconds",
    "DEFAULT_MAX_SECONDS",
]

#: Default refusal threshold for the estimated CPU time (one day on one core, shared by the workers).
DEFAULT_MAX_SECONDS = 86400.0
#: Seconds per ``n^3`` of one dense Hermitian eigendecomposition (one core): complex / real gauge,
#: with and without eigenvectors (measured with OpenBLAS, n = 75 ... 1200).
_EIGH_COEFF = {(True, False): 7e-10, (True, True): 2.5e-10, (False, False): 3.5e-10, (False, True): 1.2e-10}
#: Seconds per ``n^2 u`` of one banded eigenvalue solve (``?hbevd``: reduction to tridiagonal
#: form), and per-k overhead.
_BAND_COEFF = 8e-9
_PER_K_OVERHEAD = 2e-5


class ResourceError(ValueError):
    """A solve whose estimated memory or time exceeds the limits (raised before it starts)."""


@dataclass(frozen=True)
class ResourceEstimate:
    """Peak memory (bytes) and CPU time (seconds on one core) of one solve.

    Attributes
    ----------
    engine : str
        Name of the engine the estimate is for (e.g. ``"dense Bloch"``).
    bytes, seconds : float
    detail : str
        What dominates (sizes), for the message.
    """

    engine: str
    bytes: float
    seconds: float
    detail: str = ""

    def describe(self, workers=1):
        """``~1.3 TiB of memory and ~2.0 h of CPU time (dense Bloch engine: ...)``."""
        t = self.seconds / max(1, int(workers))
        extra = f": {self.detail}" if self.detail else ""
        return f"~{format_bytes(self.bytes)} of memory and ~{format_seconds(t)}{' wall' if workers > 1 else ''} of CPU time ({self.engine} engine{extra})"

    def __add__(self, other):
        return ResourceEstimate(self.engine, max(self.bytes, other.bytes), self.seconds + other.seconds, self.detail)

    def times(self, count, what="solves"):
        """``count`` such solves one after the other: same peak memory, ``count`` times the time."""
        count = max(1, int(count))
        detail = f"{count} {what} of {self.detail}" if count > 1 else self.detail
        return ResourceEstimate(self.engine, self.bytes, self.seconds * count, detail)


def format_bytes(b):
    """``1.31 TiB``-style binary units."""
    b = float(b)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(b) < 1024 or unit == "EiB":
            return f"{b:.3g} {unit}"
        b /= 1024
    return f"{b:.3g} EiB"  # pragma: no cover


def format_seconds(s):
    """``3.2 s``, ``4.1 min``, ``2.0 h``, ``3.5 days``, ``1e+06 years``."""
    s = float(s)
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.2g} s"


def _positive_int(name, v):
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise ValueError(f"{name} must be an integer, got {v!r}")
    return max(1, int(v))


def lattice_estimate(N_x, dim, n_matrices=4):
    """Memory of a :class:`~orbsym.numeric.lattice.Lattice` itself (per-column matrices and objects)."""
    N_x, dim = _positive_int("N_x", N_x), _positive_int("dim", dim)
    nbytes = N_x * (n_matrices * 16 * dim * dim + 2000)  # matrices + one Column object with its dict
    return ResourceEstimate("lattice", nbytes, N_x * 2e-5, f"{N_x} columns of {dim} states")


def dense_bloch_estimate(N_x, N_y, dim, vectors=True, symmetric=True, real=False, n_pairs=9, workers=1):
    """Estimate of :func:`orbsym.numeric.bloch.solve_bloch` on ``N_x`` columns of ``dim`` states.

    Parameters
    ----------
    N_x, N_y, dim : int
        Columns, rows (k-points), states per site; the Bloch blocks are ``n = N_x dim`` square.
    vectors : bool
        Eigenvectors and correlation bands (densities, currents, torques) or eigenvalues only (F, N).
    symmetric : bool
        ``h(-k) = h(k)``: only ``N_y // 2 + 1`` k-points are diagonalized.
    real : bool
        Real-gauge fast path (real symmetric blocks).
    n_pairs : int
        Number of correlation bands ``G(x, x+dx; dy)`` formed (vectors only).
    workers : int
        Processes sharing the k-points (each holds its own chunk).

    Returns
    -------
    ResourceEstimate
        Peak memory: the three ``n x n`` pieces ``H0, C, S`` (complex, with their gauge-rotated
        copies and a temporary: 8 complex ``n x n`` arrays), one chunk of eigenvectors and work copies per worker (at least one block,
        ``4 n^2`` entries), all eigenvalues ``(n_k, n)``; eigenvalues-only solves of a narrow band
        matrix hold the band storage ``(n_k, u + 1, n)`` of all k-points.
    """
    from .bloch import CHUNK_BYTES

    N_x, N_y, dim = _positive_int("N_x", N_x), _positive_int("N_y", N_y), _positive_int("dim", dim)
    workers = _positive_int("workers", workers)
    n = N_x * dim
    nk = N_y // 2 + 1 if symmetric else N_y
    item = 8 if real else 16
    pieces = 8 * 16.0 * n * n  # H0, C, S, their gauge-rotated copies and one temporary
    energies = 8.0 * nk * n + 32.0 * nk
    u = 2 * dim - 1
    banded = (not vectors) and 4 * u < n
    if banded:
        work = 4 * 16.0 * nk * (u + 1) * n
        seconds = nk * (_BAND_COEFF * float(n) * n * u + _PER_K_OVERHEAD)
        what = f"{nk} banded eigenvalue solves of size {n} (N_x = {N_x} x {dim} states)"
    else:
        chunk = max(float(CHUNK_BYTES), 4.0 * item * n * n)
        work = workers * chunk
        seconds = nk * (_EIGH_COEFF[(bool(vectors), bool(real))] * float(n) ** 3 + _PER_K_OVERHEAD)
        what = f"{nk} k-points (N_y = {N_y}) of {n} x {n} blocks (N_x = {N_x} x {dim} states)"
        if vectors:
            work += workers * n_pairs * 16.0 * N_x * dim * dim
            seconds += nk * 4e-10 * n * n * dim * n_pairs  # contraction forming G
    seconds += 3e-8 * float(n) * n  # building the dense pieces H0, C, S
    return ResourceEstimate("dense Bloch", pieces + energies + work, seconds, what)


def dense_realspace_estimate(N_x, N_y, dim):
    """Estimate of :func:`orbsym.numeric.realspace.solve_realspace` (the dense slow path): one
    complex ``n x n`` matrix with ``n = N_x N_y dim``, its eigenvectors, ``G`` and work copies."""
    N_x, N_y, dim = _positive_int("N_x", N_x), _positive_int("N_y", N_y), _positive_int("dim", dim)
    n = N_x * N_y * dim
    return ResourceEstimate(
        "dense real-space", 5 * 16.0 * n * n, _EIGH_COEFF[(True, False)] * float(n) ** 3 + 3e-9 * float(n) ** 3,
        f"one {n} x {n} matrix (N_x = {N_x}, N_y = {N_y}, {dim} states)",
    )


#: Engine name -> estimator ``f(N_x, N_y, dim, **options) -> ResourceEstimate``.
ESTIMATORS = {"bloch": dense_bloch_estimate, "realspace": dense_realspace_estimate}


def register_estimator(engine, fn):
    """Register the resource estimator of an engine (e.g. a Green's-function engine)."""
    if not callable(fn):
        raise TypeError(f"estimator of engine {engine!r} must be callable, got {fn!r}")
    ESTIMATORS[str(engine)] = fn
    return fn


def estimate(engine, *args, **kwargs):
    """The registered engine's :class:`ResourceEstimate` for these sizes."""
    from .checks import unknown_name

    if engine not in ESTIMATORS:
        raise unknown_name("engine", engine, sorted(ESTIMATORS))
    return ESTIMATORS[engine](*args, **kwargs)


def _parse_bytes(text):
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    if s and s[-1] in "KMGTP":
        mult = 1024 ** ("KMGTP".index(s[-1]) + 1)
        s = s[:-1]
    try:
        v = float(s) * mult
    except ValueError:
        raise ValueError(f"ORBSYM_MAX_MEMORY must be a size in bytes such as 8G or 500M, got {text!r}") from None
    if not v > 0:
        raise ValueError(f"ORBSYM_MAX_MEMORY must be positive, got {text!r}")
    return v


def memory_limit():
    """Bytes a solve may use: ``ORBSYM_MAX_MEMORY``, else min(physical memory, process limits)."""
    env = os.environ.get("ORBSYM_MAX_MEMORY")
    if env:
        return _parse_bytes(env)
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        pass
    try:
        import resource

        for r in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft = resource.getrlimit(r)[0]
            if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
                limits.append(soft)
    except (ImportError, ValueError, OSError, AttributeError):  # pragma: no cover
        pass
    return float(min(limits)) if limits else math.inf


def time_limit():
    """CPU seconds a solve may take: ``ORBSYM_MAX_SECONDS``, else :data:`DEFAULT_MAX_SECONDS`."""
    env = os.environ.get("ORBSYM_MAX_SECONDS")
    if env:
        try:
            v = float(env)
        except ValueError:
            raise ValueError(f"ORBSYM_MAX_SECONDS must be a number of seconds, got {env!r}") from None
        if not v > 0:
            raise ValueError(f"ORBSYM_MAX_SECONDS must be positive, got {env!r}")
        return v
    return DEFAULT_MAX_SECONDS


def check_resources(est, what="this solve", workers=1, max_bytes=None, max_seconds=None, hint="reduce N_x or N_y"):
    """Return ``est`` if it fits the limits; else raise :class:`ResourceError` with the estimate.

    ``max_bytes``/``max_seconds`` default to :func:`memory_limit` and :func:`time_limit`.
    """
    mem = memory_limit() if max_bytes is None else float(max_bytes)
    sec = time_limit() if max_seconds is None else float(max_seconds)
    workers = max(1, int(workers))
    if est.bytes > mem:
        raise ResourceError(
            f"{what} needs {est.describe(workers)}, more than the {format_bytes(mem)} available "
            f"(limit: physical memory or ORBSYM_MAX_MEMORY); {hint}"
        )
    if est.seconds / workers > sec:
        raise ResourceError(
            f"{what} needs {est.describe(workers)}, more than the limit of {format_seconds(sec)} "
            f"(set ORBSYM_MAX_SECONDS to allow longer runs); {hint}"
        )
    return est


# ---------------------------------------------------------------- transport (NEGF) estimate
#: Seconds per (k, E) point of the NEGF transport solve (one core, measured with
#: ``benchmarks/bench_transport.py --estimate``; OpenBLAS, 2026-12): one lead's surface Green's
#: function (decimation: ``a + max(b D^2.5, c D^3)`` for cells of ``D`` states -- small blocks run below
#: the BLAS peak), the RGF region solver per column (same form), the dense region solver (``a + c n^3``,
#: ``n = M D``).
_LEAD_POINT = (7e-5, 1.2e-6, 7e-8)
_RGF_COLUMN = (3.3e-6, 5.5e-8, 4e-9)
_DENSE_POINT = (5e-6, 1.5e-10)
#: Seconds of the Fermi-pole search (:func:`orbsym.numeric.negf.fermi_poles`) for ``N`` poles: ``c N^2.6``.
_POLE_SEARCH = 9e-6


def transport_estimate(N_x, N_y, dim, open_width=False, period=1, points=1, transmission_points=0, k_points=None,
                       solver="rgf", n_leads=1, n_dx=3, poles=0):
    """Estimate of :func:`orbsym.transport.transport` (the NEGF steady state between two leads).

    Parameters
    ----------
    N_x, N_y, dim : int
        Region columns, rows (periodic: k-points; open strip: width), states per site.
    open_width : bool
        Strip open in y: every column is one block of ``D = N_y dim`` states, one "k-point", and the
        observables use the dense real-space correlation matrix of the solved columns,
        ``n = (N_x + 2 period) N_y dim`` square (:mod:`orbsym.numeric.strip`): its ``~5 n^2`` complex
        entries are the memory of wide strips.
    period : {1, 2}
        Lead cell in columns (2: columns solved in pairs, blocks of ``2 D``).
    points, transmission_points : int
        Energies per k-point with the full state (density-matrix blocks: bias window, linear-response
        nodes, Fermi poles) and with the transmission alone (error estimates, adaptive rule).
    k_points : int, optional
        Transverse momenta solved (default ``N_y // 2 + 1``; 1 for an open strip).
    solver : {"rgf", "dense"}
        Region solver (after ``"auto"`` is resolved).
    n_leads : {1, 2}
        Surface Green's functions computed per point (1 when both leads are the same).
    n_dx : int
        Band offsets of the density-matrix blocks kept.
    poles : int
        Fermi poles of the equilibrium part (their search is timed too).

    Returns
    -------
    ResourceEstimate
        Time: ``(points + transmission_points) n_k`` points of leads + region solver, the pole search,
        the observables (``~n^2`` per polarization for a strip).  Memory: the density-matrix blocks
        (``n_dx n_k M D^2`` complex, twice at finite bias), one batch of the region solver
        (:data:`orbsym.numeric.negf.DENSE_BYTES`, or one point if larger), the transmission table
        ``n_k x points`` and, for a strip, the dense matrices.  The leads' fallbacks (supercells where the
        decimation does not converge) are not included.
    """
    from .negf import DENSE_BYTES

    N_x, N_y, dim = _positive_int("N_x", N_x), _positive_int("N_y", N_y), _positive_int("dim", dim)
    period = 2 if period == 2 else 1
    M_cols = N_x + 2 * period
    M = M_cols // period
    D = period * dim * (N_y if open_width else 1)
    nk = 1 if open_width else (N_y // 2 + 1 if k_points is None else max(1, int(k_points)))
    npts = float(nk) * (max(0, int(points)) + max(0, int(transmission_points)))
    D_ = float(D)
    lead = _LEAD_POINT[0] + max(_LEAD_POINT[1] * D_**2.5, _LEAD_POINT[2] * D_**3) if D > 3 else _LEAD_POINT[0]
    if solver == "dense":
        region = _DENSE_POINT[0] + _DENSE_POINT[1] * float(M * D) ** 3
        per_point_bytes = 3.0 * (M * D) ** 2 * 16
    else:
        region = M * (_RGF_COLUMN[0] + (max(_RGF_COLUMN[1] * D_**2.5, _RGF_COLUMN[2] * D_**3) if D > 3 else 0.0))
        per_point_bytes = (9.0 + n_dx) * M * D * D * 16
    seconds = npts * (max(1, int(n_leads)) * lead + region) + _POLE_SEARCH * float(poles) ** 2.6
    blocks = 2.0 * n_dx * nk * M * D * D * 16
    # one batch of the region solver (DENSE_BYTES, or one point if larger) with its inputs and the leads' work
    # arrays: about twice the solver's own working memory (measured)
    batch_points = max(1.0, min(npts, DENSE_BYTES / per_point_bytes))
    batch = 2.0 * batch_points * (per_point_bytes + 16.0 * D * D * 16)
    table = 3.0 * 8 * nk * (max(1, int(points)) + max(0, int(transmission_points)))
    lattice = 4.0 * M * D * D * 16 + M_cols * 2000.0
    nbytes = blocks + batch + table + lattice
    where = f"{int(npts):,} (k, E) points ({nk} k x {int(points)} + {int(transmission_points)} energies) of {M} x {D}-state blocks, {solver} region solver"
    if open_width:
        n = float(M_cols) * N_y * dim
        # G, h and one temporary of n^2 complex entries (+ the reordered h of period 2); measured ~2.3 n^2 at period 1
        nbytes = max(nbytes, blocks + (3.0 + (period == 2)) * n * n * 16)
        seconds += 6e-8 * n * n  # dense h, correlation matrix, d<J>/dt site blocks, kernels (measured)
        where += f"; dense {int(n)} x {int(n)} correlation matrix of the open strip"
    else:
        seconds += 0.05 + 2e-5 * M * D * D
    return ResourceEstimate("NEGF transport", nbytes, seconds, where)


ESTIMATORS["transport"] = transport_estimate
