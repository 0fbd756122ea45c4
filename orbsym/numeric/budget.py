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
            value = f"{s / size:.3g}"
            return f"{value} {unit[:-1] if value == '1' and unit.endswith('s') else unit}"
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


# =============================================================================== linear response (Kubo)
__all__ += ["bulk_hall_estimate", "kubo_estimate", "kubo_path"]

#: Seconds per k-point of :func:`orbsym.numeric.kubo.bulk_hall` (one core): a fixed part, a part
#: ``~ dim^2`` (batched ``eigh`` and products of small blocks) and ``~ dim^2`` per chemical
#: potential; and per chemical potential and batch (measured with OpenBLAS, dim = 2 ... 24,
#: 1 ... 20000 chemical potentials; within a factor 2).
_BULK_PER_K = (1.0e-6, 3.5e-7, 6e-8)
_BULK_PER_MU_BATCH = 7e-5
#: Bytes per k-point of a batch and per ``dim^2`` entry: ~24 complex work arrays.
_BULK_BYTES_PER_K = 24 * 16.0
#: Seconds ``(a, b, c)`` of one Bloch block of :func:`orbsym.numeric.kubo.solve_kubo` (eigh, the
#: velocity and response in the eigenbasis, the bands of three parts), per ``n^3``, ``n^2`` and k point,
#: per eigensolver path (:func:`kubo_path`): ``"tridiagonal"`` (real ``h(k)`` tridiagonal in some order of
#: the states: LAPACK ``dstevd``, real products; the paper's trilayer with ``m_L = x, m_R = y``),
#: ``"real"`` (real gauge, ``eigh`` of a real matrix) and ``"complex"``.  Relative least squares of
#: ``benchmarks/bench_response_estimate.py --fit`` (2026-12-07 10:45 UTC, load 2.4-3.6 on 2 shared cores,
#: one BLAS thread; trilayer n = 75 ... 3000; actual / estimate 0.91-1.14 on every path; results.txt).
#: The complex path costs ~9.5x the tridiagonal one at large n.
_KUBO_PATH = {
    "tridiagonal": (1.75e-10, 9e-8, 1.7e-4),
    "real": (3.3e-10, 8e-8, 2e-4),
    "complex": (1.67e-9, 3.4e-9, 5.6e-4),
}
#: Path unknown (``path=None``: an estimate from the sizes alone, before a lattice exists): the geometric
#: mean of the tridiagonal and complex paths, ~3x of either at large n (pass ``path`` when a lattice exists).
_KUBO_COEFF = tuple(math.sqrt(a * b) for a, b in zip(_KUBO_PATH["tridiagonal"], _KUBO_PATH["complex"]))
#: Seconds per solve outside the k loop (setup; fitted with the above) and per ``n^2`` (the dense pieces).
_KUBO_SOLVE = (3e-3, 3e-8)
#: Eigensolver paths of :func:`kubo_estimate` (None: unknown).
KUBO_PATHS = (None, "tridiagonal", "real", "complex")


def bulk_hall_estimate(N_k, dim, n_mu=1, batch=20000):
    """Estimate of :func:`orbsym.numeric.kubo.bulk_hall` (bulk Hall conductivity, ``N_k x N_k`` grid).

    Parameters
    ----------
    N_k : int
        k points per direction (``N_k^2`` Bloch blocks).
    dim : int
        States per site (the blocks are ``dim x dim``).
    n_mu : int
        Chemical potentials served by each diagonalization.
    batch : int
        k points per batch of work arrays.

    Returns
    -------
    ResourceEstimate
        Peak memory: one batch of ``dim x dim`` work arrays and the per-``mu`` results; time:
        ``N_k^2 (a + b dim^2 + c n_mu dim^2) + n_batches n_mu d`` (:data:`_BULK_PER_K`,
        :data:`_BULK_PER_MU_BATCH`).
    """
    N_k, dim, n_mu = _positive_int("N_k", N_k), _positive_int("dim", dim), _positive_int("n_mu", n_mu)
    nk = float(N_k) * N_k
    a, b, c = _BULK_PER_K
    per_k = a + b * dim * dim + c * n_mu * dim * dim
    batches = math.ceil(nk / max(1, int(batch)))
    nbytes = min(nk, float(batch)) * (_BULK_BYTES_PER_K * dim * dim + 64.0) + 64.0 * n_mu
    mus = f", {n_mu} chemical potentials" if n_mu > 1 else ""
    return ResourceEstimate(
        "bulk Kubo", nbytes, nk * per_k + batches * n_mu * _BULK_PER_MU_BATCH, f"N_k^2 = {nk:.3g} k points (N_k = {N_k}) of {dim} x {dim} blocks{mus}",
    )


def kubo_path(lattice):
    """The eigensolver path of :func:`orbsym.numeric.kubo.solve_kubo` on ``lattice`` (field ``E_y``), cheaply.

    ``"complex"`` without a real gauge (:func:`orbsym.numeric.bloch.real_gauge`); else ``"tridiagonal"``
    when the graph of the states (an edge for every nonzero off-diagonal entry of the on-site and hopping
    blocks) is a union of paths -- every state has at most two neighbours and there is no cycle: edges =
    states - components -- and ``"real"`` otherwise.  Works on the blocks (``O(N_x dim^2)``), never on the
    ``n x n`` matrices, so it is safe before a refusal.  A film: its ``k_z = 0`` sector's path.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from .bloch import real_gauge

    lat = lattice.sector(0.0) if getattr(lattice, "is_film", False) else lattice
    if real_gauge(lat) is None:
        return "complex"
    N, d = lat.N_x, lat.dim
    n = N * d
    a, b = [], []
    x, i, j = np.nonzero(np.asarray(lat.onsite) != 0)
    a.append(x * d + i)
    b.append(x * d + j)
    for (dx, dy), t in lat.hoppings.items():
        x, i, j = np.nonzero(np.asarray(t) != 0)
        a.append(x * d + i)
        b.append((x + dx) * d + j)
    a, b = np.concatenate(a), np.concatenate(b)
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    edges = np.unique(lo * n + hi)
    lo, hi = edges // n, edges % n
    degree = np.bincount(np.concatenate([lo, hi]), minlength=n)
    if n < 2 or degree.max(initial=0) > 2:
        return "real"
    graph = coo_matrix((np.ones(lo.size), (lo, hi)), shape=(n, n))
    n_comp = connected_components(graph, directed=False)[0]
    return "tridiagonal" if lo.size == n - n_comp else "real"


def kubo_estimate(N_x, N_y, dim, symmetric=True, solves=1, path=None):
    """Estimate of :func:`orbsym.numeric.kubo.solve_kubo` (heterostructure linear response).

    Parameters
    ----------
    N_x, N_y, dim : int
        Columns, rows (k points) and states per site; the Bloch blocks are ``n = N_x dim`` square.
    symmetric : bool
        ``h(-k) = h(k)``: only ``N_y // 2 + 1`` k points are diagonalized.
    solves : int
        Independent solves one after the other (scan points, drives of a reciprocity check).
    path : {None, "tridiagonal", "real", "complex"}
        The eigensolver path (:func:`kubo_path` of the lattice); None: not known (sizes only), the
        geometric mean of the tridiagonal and complex paths' costs.

    Returns
    -------
    ResourceEstimate
        Peak memory: the dense pieces and gauge copies (8 complex ``n x n``), one chunk of k points
        (``max(CHUNK_BYTES, 12 n^2)`` complex entries), the energies; time ``n_k (a n^3 + b n^2 + c)``
        per solve (:data:`_KUBO_PATH`, CPU seconds of one core with one BLAS thread; measured by
        ``benchmarks/bench_response_estimate.py``: within 0.5-2x of the solve for n = 75 ... 1200).
    """
    from .kubo import CHUNK_BYTES

    N_x, N_y, dim = _positive_int("N_x", N_x), _positive_int("N_y", N_y), _positive_int("dim", dim)
    n = float(N_x * dim)
    nk = N_y // 2 + 1 if symmetric else N_y
    if path not in KUBO_PATHS:
        raise ValueError(f"Kubo eigensolver path must be one of None, 'tridiagonal', 'real', 'complex', got {path!r}")
    a, b, c = _KUBO_COEFF if path is None else _KUBO_PATH[path]
    nbytes = 8 * 16.0 * n * n + max(float(CHUNK_BYTES), 12 * 16.0 * n * n) + 8.0 * nk * n
    seconds = nk * (a * n ** 3 + b * n * n + c) + _KUBO_SOLVE[0] + _KUBO_SOLVE[1] * n * n
    est = ResourceEstimate("Kubo response", nbytes, seconds, f"{nk} k points (N_y = {N_y}) of {int(n)} x {int(n)} blocks (N_x = {N_x} x {dim} states)")
    return est.times(solves, "solves")


# ----------------------------------------------------------------------------- real-time evolution
#: Seconds of the real-time engine (orbsym.dynamics.evolve), one core, fitted to
#: benchmarks/bench_evolve.py and the per-step costs in benchmarks/results.txt (OpenBLAS, one thread):
#: per propagation step on the eigen-decomposition path ``N_k (a n^3 + b n^2)`` (batched ``eigh`` and
#: three products), on the local-update fast path ``N_k c n^1.5`` (banded free step, collocation on the
#: magnet's rows); per stored time ``r0 + N_k r n^2`` (eigh path) or ``r0 + N_k r' n^1.5`` (records
#: from the orbitals); one-off ``N_k s n^3`` (the eigen-decomposition of h(0)).
_EVOLVE_COEFF = {
    "eigh_step_n3": 8.9e-10,
    "eigh_step_n2": 1.55e-7,
    "local_step": 1.4e-7,
    "local_step_group": 6e-4,
    "free_step": 0.3,
    "free_record": 0.6,
    "record_fixed": 1e-2,
    "record_eigh": 4e-8,
    "record_local": 2.2e-7,
    "setup_n3": 2e-9,
    "setup_fixed": 0.3,
}
#: Bytes kept per stored time and column: every record ((time, polarization, column) arrays of the
#: Dataset and of the continuity balance, ~40 float64 x 4 polarizations) besides the correlation bands.
_EVOLVE_BYTES_PER_TIME_COLUMN = 40 * 4 * 8.0


def evolve_estimate(N_x, N_y, dim, n_times, n_steps, path="eigh", symmetric=True, method="exact", relaxation=False, error_estimate=False, n_pairs=5, workers=1):
    """Estimate of :func:`orbsym.dynamics.evolve` (real-time Bloch engine), before anything is built.

    Parameters
    ----------
    N_x, N_y, dim : int
        Columns, rows (k-points), states per site; the propagated blocks are ``n = N_x dim`` square.
    n_times : int
        Stored times (records kept in memory: every variable of the Dataset and the balance).
    n_steps : int
        Propagation steps in total (``sum`` over the stored intervals of ``ceil(interval / dt)``).
    path : {"eigh", "local", "free"}
        Eigen-decomposition per step, or the local-update fast path: with a precession ("local"),
        or quenches only ("free": the free step alone, no collocation).
    symmetric : bool
        ``k <-> -k`` symmetric grid (no field along y): ``N_y // 2 + 1`` momenta, else ``N_y``.
    method : {"exact", "magnus4"}
        magnus4: two exponentials per step (about twice the exact step).
    relaxation : bool
        Relaxation toward ``f(h(t))``: one more ``eigh`` per stored time (the target).
    error_estimate : bool
        Step doubling: two more (half) steps per stored time.
    n_pairs : int
        Correlation bands ``G(x, x+dx; dy)`` kept per stored time.
    workers : int
        Processes sharing the momenta (each holds its chunk of the state).

    Returns
    -------
    ResourceEstimate
        Peak memory: the per-k state and its work copies (about 12 complex ``(N_k, n, n)`` arrays on the
        eigen-decomposition path, 6 on the fast path) plus the records of every stored time; CPU time on
        one core (``describe(workers)`` divides it among the processes).  Within a factor of about two of
        the measured cost for ordinary runs (``benchmarks/bench_evolve.py``).
    """
    N_x, N_y, dim = _positive_int("N_x", N_x), _positive_int("N_y", N_y), _positive_int("dim", dim)
    n_times, n_steps = max(1.0, float(n_times)), max(1.0, float(n_steps))
    c = _EVOLVE_COEFF
    n = float(N_x * dim)
    nk = float(N_y // 2 + 1 if symmetric else N_y)
    if path not in ("eigh", "local", "free"):
        from .checks import unknown_name

        raise unknown_name("real-time path", path, ("eigh", "local", "free"))
    local = path != "eigh"
    if local:
        groups = 12 if nk >= 48 else 1  # momentum groups of the fast path (orbsym.dynamics.K_GROUPS)
        step = nk * c["local_step"] * n**1.5 + groups * c["local_step_group"]
        record = c["record_fixed"] + nk * c["record_local"] * n**1.5
        if path == "free":  # quenches only: the free step, one lattice per segment
            step *= c["free_step"]
            record *= c["free_record"]
        state = 6 * 16.0 * nk * n * n
    else:
        step = nk * (c["eigh_step_n3"] * n**3 + c["eigh_step_n2"] * n * n)
        record = c["record_fixed"] + nk * c["record_eigh"] * n * n
        if relaxation:  # the target f(h(t)) of every stored time: one more eigen-decomposition
            record += step
        if method == "magnus4":
            step *= 2.2
        state = 12 * 16.0 * nk * n * n
    extra = 2 * step if error_estimate else 0.0
    setup = c["setup_fixed"] + nk * c["setup_n3"] * n**3
    seconds = setup + n_steps * step + n_times * (record + extra)
    per_time = N_x * _EVOLVE_BYTES_PER_TIME_COLUMN + n_pairs * 16.0 * N_x * dim * dim + 64.0
    nbytes = state + max(1, int(workers)) * 16.0 * n * n + n_times * per_time
    what = (
        f"{n_steps:.3g} propagation steps and {n_times:.3g} stored times of {int(nk)} momenta x {int(n)} x {int(n)} blocks "
        f"(N_x = {N_x} x {dim} states, N_y = {N_y}), {'local-update fast path' if local else 'eigen-decomposition per step'}"
    )
    return ResourceEstimate("real-time", nbytes, seconds, what)


ESTIMATORS["evolve"] = evolve_estimate
__all__.append("evolve_estimate")


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
                       solver="rgf", n_leads=1, n_dx=3, poles=0, kernels="columns"):
    """Estimate of :func:`orbsym.transport.transport` (the NEGF steady state between two leads).

    Parameters
    ----------
    N_x, N_y, dim : int
        Region columns, rows (periodic: k-points; open strip: width), states per site.
    open_width : bool
        Strip open in y: every column is one block of ``D = N_y dim`` states, one "k-point", and the
        observables use the correlation band of the solved columns (:class:`orbsym.numeric.strip.StripBand`:
        ``n_dx`` blocks of ``D^2`` per column, kept twice: the solver's blocks and the band) and the
        per-site rate from the band and h's blocks (``~n_dx D^3`` per column).
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
    kernels : {"columns", "sites"}
        Observables of the solved blocks: ``"columns"`` (:mod:`orbsym.transport`, ``2e-5 s`` per ``M D^2``,
        calibrated on small column blocks) or ``"sites"`` (:class:`orbsym.numeric.sites.SiteObservables`,
        vectorized over slices: ``3e-7 s`` per ``M D^2``, measured 1.1 s at ``M = 202, D = 150``,
        benchmarks/bench_disorder.py).

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
    from .negf import batch_points as _batch_points

    if kernels not in ("columns", "sites"):
        raise ValueError(f"kernels must be 'columns' or 'sites', got {kernels!r}")

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
    batch_points = max(1.0, min(npts, float(_batch_points(per_point_bytes, DENSE_BYTES, grow=solver != "dense", d=D))))
    batch = 2.0 * batch_points * (per_point_bytes + 16.0 * D * D * 16)
    table = 3.0 * 8 * nk * (max(1, int(points)) + max(0, int(transmission_points)))
    lattice = 4.0 * M * D * D * 16 + M_cols * 2000.0
    nbytes = blocks + batch + table + lattice
    where = f"{int(npts):,} (k, E) points ({nk} k x {int(points)} + {int(transmission_points)} energies) of {M} x {D}-state blocks, {solver} region solver"
    if open_width:
        W = float(N_y * dim)  # states of one column of the strip
        nbytes += 2.0 * n_dx * M_cols * W * W * 16  # the correlation band by column and the solver's blocks
        seconds += 1e-9 * n_dx * M_cols * W**3 + 2e-6 * M_cols * W * W  # band rate [rho, h] site blocks, kernels
        where += f"; correlation band of the open strip ({M_cols} columns of {int(W)} states, {n_dx} offsets)"
    else:
        seconds += 0.05 + (3e-7 if kernels == "sites" else 2e-5) * M * D * D
    return ResourceEstimate("NEGF transport", nbytes, seconds, where)


ESTIMATORS["transport"] = transport_estimate
__all__.append("transport_estimate")


def film_sector_count(N_z, symmetric=True):
    """k_z sectors a film solve runs: ``N_z // 2 + 1`` when the sector at ``-k_z`` equals that at
    ``k_z`` (:attr:`orbsym.numeric.Lattice.z_symmetric`), else ``N_z``."""
    N_z = _positive_int("N_z", N_z)
    return N_z // 2 + 1 if symmetric else N_z


def film_estimate(sector, lattice, vectors=True, n_sectors=None):
    """Estimate of a film solve (:func:`orbsym.numeric.film.solve_film`) from the estimate of one k_z sector.

    The sectors run one after the other (time ``n_sectors x`` one sector's, same peak memory), plus
    the film's correlation bands: ``n_pairs`` arrays of ``N_x dim^2`` complex numbers, kept for
    every sector's 2D bands and the recombined film bands.  Transport (a sector estimate of engine
    ``"NEGF transport"``): the sectors' open-system solves run in common point batches
    (:func:`orbsym.numeric.film.sector_sum`), which hold the outputs of a group of sectors at once, at most
    :data:`orbsym.numeric.film.SECTOR_GROUP_BYTES` (counted as ``min((n_sectors - 1) x one sector's
    memory, that bound)``); the time stays ``n_sectors x`` one sector's (an upper bound: the batches save
    the per-call overhead of small blocks, measured 2-3x on 200 x 4 x 16 films, benchmarks/bench_film.py).
    The Green's-function engine stacks sectors of few points into common sweeps
    (:func:`orbsym.numeric.greens.solve_greens_sectors`, batches within the same memory budget): again at
    most ``n_sectors x`` one sector's time.

    Parameters
    ----------
    sector : ResourceEstimate
        One 2D solve of the ``k_z = 0`` sector (dense or Green's function).
    lattice : orbsym.numeric.Lattice
        The film (``N_z``, ``N_x``, ``dim``, symmetry in k_z).
    vectors : bool
        Whether bands are formed.
    n_sectors : int, optional
        Sectors to count instead of the lattice's grid (``N_z = infinity``: the trapezoid's points).
    """
    n = film_sector_count(lattice.N_z, bool(lattice.z_symmetric)) if n_sectors is None else int(n_sectors)
    est = sector.times(n, "k_z sectors")
    if sector.engine == "NEGF transport" and n > 1:
        from .film import SECTOR_GROUP_BYTES

        est = ResourceEstimate(est.engine, est.bytes + min((n - 1) * float(sector.bytes), float(SECTOR_GROUP_BYTES)), est.seconds, est.detail)
    if vectors:
        n_pairs = 2 * lattice.ndim + 1
        band_bytes = 16.0 * n_pairs * lattice.N_x * lattice.dim**2 * (n + 1)
        est = ResourceEstimate(est.engine, est.bytes + band_bytes, est.seconds, est.detail)
    return est
