"""The whole sweep's memory and CPU time, estimated before any point runs.

Every point is sized with the estimate of the engine that will actually run it:

* ``engine="dense"`` -- :func:`orbsym.numeric.budget.dense_bloch_estimate` (the dense ``N_y = inf``
  k integral: that many dense blocks per quadrature node, :func:`dense_infinite_estimate`);
* ``engine="greens"`` -- :func:`orbsym.numeric.engines.greens_seconds` with the exact (k, w) point
  count of :func:`orbsym.numeric.engines.greens_point_count` (the calibrated budget of
  :func:`orbsym.numeric.engines.greens_solve_estimate`);
* ``engine="auto"`` -- per point, the engine :func:`orbsym.numeric.engines.choose_engine` picks by
  its cost model (:func:`auto_engine`: the same model evaluated at the point's ``N_x``);
* the observable ``levels`` always runs the dense eigenvalue solve; ``rkky`` two free-energy solves
  (``m_R`` parallel and antiparallel to ``m_L``); every system build costs
  :data:`orbsym.numeric.engines.SYSTEM_SECONDS_PER_COLUMN` per column.

Spectral bound, hopping norm, bandwidth and gauge of a point are read from a short copy of its
system (``2 N_FM + 3`` columns: the same column types and interfaces, built in milliseconds), so a
long point is never built.  User factories are not called in the parent (they may be slow or have
side effects): their points are sized from ``N_x``, ``N_y`` and the basis alone, with the bound
``E_max = 8 t`` of :func:`orbsym.numeric.engines.greens_estimate`.

Films (``N_z`` given): the plan is read from the short copy's ``k_z = 0`` sector (what the engine
choice of :func:`orbsym.systems.solve` sees), every solve counts once per k_z sector
(:func:`orbsym.numeric.budget.film_sector_count`: ``N_z // 2 + 1`` on the half zone of a
``z_symmetric`` film, else ``N_z``) and the memory adds the film's correlation bands, as
:func:`orbsym.numeric.budget.film_estimate` does for one solve.  ``N_z`` is a discrete axis
(every value evaluated).

Grids of millions of points are not estimated point by point: the cost depends on the discrete axes
(strings, ``N_x``, ``N_y``, ``N_FM``) and on ``T`` (the number of poles), which are evaluated value
by value; every other (continuous) axis enters only through the spectral bound, and each point takes
the largest cost over the extremes of those axes.  The sweep's time is the sum over its points not
yet stored (a resumed sweep counts only the missing ones), divided among the workers; its memory is
the largest point times the points running at once, plus the results kept in the parent.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["PointPlan", "sweep_estimate", "check_sweep_resources", "auto_engine", "dense_infinite_estimate"]

#: At most this many combinations of the non-``N_x`` axes are evaluated one by one (each builds a
#: short system); beyond it every axis is evaluated on its own, the others at their first value.
MAX_COMBINATIONS = 512
#: At most this many distinct temperatures of a ``T`` axis are evaluated (more: binned downwards,
#: i.e. each point sized at the next lower evaluated temperature, the more expensive one).
MAX_TEMPERATURES = 64
#: CPU seconds of one point around its solves (Result, engine choice, observables; measured ~3 ms).
POINT_OVERHEAD = 3e-3
#: Quadrature nodes of the adaptive dense ``N_y = inf`` integral (Gauss-Kronrod; typical, not a bound).
ADAPTIVE_NODES = 1500


# ------------------------------------------------------------------------- one point's system
class PointPlan:
    """What sizes one point: dimension, spectral bound, hopping norm, symmetry, bandwidth, gauge.

    Read from a short copy of the point's system (:meth:`from_system`) or assumed from the sizes
    (:meth:`from_sizes`, user factories).
    """

    def __init__(self, dim, E_max, tau=1.0, symmetric=True, nearest=True, bandwidth=None, real=False, v_max=None, exact=True, sectors=1, ndim=2):
        #: k_z sectors solved per point (1: a 2D point) and the lattice dimension (3: film bands).
        self.sectors = int(sectors)
        self.ndim = int(ndim)
        self.dim = int(dim)
        self.E_max = float(E_max)
        self.tau = float(tau)
        self.symmetric = bool(symmetric)
        self.nearest = bool(nearest)
        self.bandwidth = 2 * self.dim - 1 if bandwidth is None else int(bandwidth)
        self.real = bool(real)
        self.v_max = 2.0 * self.tau if v_max is None else float(v_max)
        self.exact = bool(exact)
        self._points = {}

    @classmethod
    def from_system(cls, system):
        from ...numeric.bloch import real_gauge
        from ...numeric.budget import film_sector_count
        from ...numeric.engines import _bandwidth
        from ...numeric.greens import _tau, spectral_bound
        from ...numeric.infinite import _pieces, _velocity_bound

        lat = system.lattice
        film = {}
        if getattr(lat, "is_film", False):  # the k_z = 0 sector: a 2D lattice, what the engine choice sees
            film = dict(sectors=film_sector_count(lat.N_z, bool(lat.z_symmetric)), ndim=3)
            lat = lat.sector(0.0)
            nearest = all(tuple(b) in ((1, 0), (0, 1)) for b in lat.bonds)
        else:
            nearest = not any(tuple(b) not in ((1, 0), (0, 1)) for c in lat.columns for b in c.kernels.bonds)
        _, C, S = _pieces(lat)
        return cls(lat.dim, spectral_bound(lat), _tau(lat), lat.y_hermitian, nearest, _bandwidth(lat), real_gauge(lat) is not None, _velocity_bound(C, S), **film)

    @classmethod
    def from_sizes(cls, dim, N_z=None):
        """From the sizes alone (user factories): a film of ``N_z`` counts all ``N_z`` sectors."""
        if N_z is not None:
            return cls(dim, 8.0, exact=False, symmetric=False, sectors=int(N_z), ndim=3)
        return cls(dim, 8.0, exact=False)

    def film_band_bytes(self, N_x):
        """Bytes of a film's correlation bands (every sector's and the recombined ones), 0 for 2D
        (as :func:`orbsym.numeric.budget.film_estimate`)."""
        if self.ndim != 3:
            return 0.0
        return 16.0 * (2 * self.ndim + 1) * N_x * self.dim**2 * (self.sectors + 1)

    def greens_points(self, T, N_y):
        """``P`` (k, w) points of a Green's-function solve (None: the engine cannot run it)."""
        key = (float(T), N_y)
        if key not in self._points:
            from ...numeric.engines import MAX_RATIO, greens_point_count

            if T > 0 and self.E_max / T > MAX_RATIO:
                self._points[key] = None
            else:
                try:
                    with np.errstate(under="ignore"):
                        self._points[key] = greens_point_count(T, self.E_max, N_y, self.tau, self.symmetric)[0]
                except ValueError:  # N_y = inf beyond the largest k sub-grid (very low T)
                    self._points[key] = None
        return self._points[key]


def auto_engine(plan, N_x, N_y, T, vectors):
    """The engine :func:`orbsym.numeric.engines.choose_engine` picks for a system like ``plan`` with
    ``N_x`` columns (its cost model, :func:`orbsym.numeric.engines.engine_costs`, evaluated at
    ``N_x`` without building the long system); ``N_y = None``: infinitely many rows."""
    from ...numeric import engines as e

    if not plan.nearest:
        return "dense"
    nk = None if N_y is None else (N_y // 2 + 1 if plan.symmetric else N_y)
    P = plan.greens_points(T, N_y)
    greens = math.inf if P is None else e.greens_seconds(N_x, P, plan.dim, vectors, T, nk, ranking=True)[0]
    if N_y is None:
        return "greens" if greens < math.inf else "dense"
    n = N_x * plan.dim
    if vectors:
        per_k = e._interp(n, e._DENSE_VEC)
    elif 4 * plan.bandwidth < n:
        per_k = e._interp(n, e._BANDED_VAL, e._BANDED_N, 2)
    else:
        per_k = e._interp(n, e._DENSE_VAL)
    if plan.real:
        per_k *= e.REAL_GAUGE_FACTOR[0 if vectors else 1]
    dense = e._DENSE_OVERHEAD + nk * per_k
    return "greens" if greens < dense else "dense"


def dense_infinite_estimate(N_x, dim, T, vectors, v_max, tol, method="auto"):
    """Estimate of the dense ``N_y = inf`` k integral (:func:`orbsym.numeric.infinite.solve_infinite`).

    Nodes: the doubling trapezoidal rule's ``v ln(1/tol) / (pi T)`` (rounded up to a power of 2), or
    :data:`ADAPTIVE_NODES` for the adaptive rule; each node one dense ``n x n`` eigen-decomposition
    (``n = N_x dim``).  A rough model (the adaptive rule's node count depends on the bands).
    """
    from ...numeric.budget import _EIGH_COEFF, ResourceEstimate, dense_bloch_estimate
    from ...numeric.infinite import _AUTO_TRAPEZOID_NODES, trapezoid_nodes_estimate

    nodes = trapezoid_nodes_estimate(v_max, T, tol)
    if method == "trapezoid" or (method == "auto" and nodes <= _AUTO_TRAPEZOID_NODES):
        evals = 2.0 ** math.ceil(math.log2(max(32.0, min(nodes, 2.0**17))))  # the bound is pessimistic: ~1x, not the 2x of all doublings (measured)
        rule = "trapezoidal"
    else:
        evals = float(ADAPTIVE_NODES)
        rule = "adaptive"
    n = float(N_x * dim)
    seconds = evals * (_EIGH_COEFF[(bool(vectors), False)] * n**3 + 2e-5 + (4e-10 * n * n * dim * 9 if vectors else 0.0))
    nbytes = dense_bloch_estimate(N_x, 2, dim, vectors=vectors).bytes
    return ResourceEstimate("dense k-integral", nbytes, seconds, f"~{int(evals)} {rule} k nodes of {int(n)} x {int(n)} blocks")


# ------------------------------------------------------------------------- one point's solves
def _solves(observables, infinite):
    """``[(kind, vectors, number)]``: the solves one point runs (:func:`~orbsym.workflows.sweeps.points.compute_point`;
    ``rkky`` stands for its two free-energy solves, ``number``: the particle number is wanted)."""
    names = [o[0] for o in observables]
    vector_obs = [i for i, n in enumerate(names) if n in ("densities", "currents", "torques")]
    scalar_obs = [i for i, n in enumerate(names) if n in ("free_energy", "particle_number")]
    number = "particle_number" in names
    out = []
    if infinite:
        if vector_obs or scalar_obs:
            out.append(("result", bool(vector_obs), number))
    else:
        if scalar_obs and (not vector_obs or min(scalar_obs) < min(vector_obs)):
            out.append(("result", False, number))  # the free energy before any band solve
        if vector_obs:
            out.append(("result", True, False))
    if "levels" in names:
        out.append(("levels", False, False))
    if "rkky" in names:
        out.append(("rkky", False, False))
    return out


def point_costs(plan, N_xs, N_y, T, observables, engine, tol, ny_inf_method="auto"):
    """Seconds and peak bytes of one point at each ``N_x`` of ``N_xs``, and the engines used.

    Returns
    -------
    (ndarray, ndarray, set)
        ``seconds[i]``, ``bytes[i]`` of a point with ``N_x = N_xs[i]``; the engine names.
    """
    from ...numeric.budget import dense_bloch_estimate
    from ...numeric.engines import SYSTEM_SECONDS_PER_COLUMN, greens_seconds
    from ...numeric.greens import CHUNK_BYTES, batch_size, point_bytes

    infinite = N_y is None
    solves = _solves(observables, infinite)
    builds = 1 + (2 if any(k == "rkky" for k, _, _ in solves) else 0)
    d = plan.dim
    nk = None if infinite else (N_y // 2 + 1 if plan.symmetric else N_y)
    seconds = np.zeros(len(N_xs))
    nbytes = np.zeros(len(N_xs))
    used = set()
    for i, N_x in enumerate(N_xs):
        N_x = int(N_x)
        s = POINT_OVERHEAD + builds * SYSTEM_SECONDS_PER_COLUMN * N_x
        b = 0.0
        for kind, vectors, number in solves:
            if kind == "levels":
                which = "dense"
            elif infinite:
                which = "greens" if engine == "greens" else "dense-inf"
            elif engine == "auto":
                which = auto_engine(plan, N_x, N_y, T, vectors)
            else:
                which = engine
            times = (2 if kind == "rkky" else 1) * plan.sectors  # F_P and F_AP; films: every k_z sector
            if which == "greens":
                vec = vectors or (number and kind == "result")  # the greens free-energy solve has no N
                P = plan.greens_points(T, N_y)
                if P is None:
                    which = "dense-inf" if infinite else "dense"  # the point fails or falls back; size it dense
                else:
                    s += times * greens_seconds(N_x, P, d, vec, T, nk)[0]
                    b = max(b, batch_size(P, N_x, d, vec, CHUNK_BYTES) * point_bytes(N_x, d, vec) + (9 if vec else 0) * N_x * d * d * 16.0)
            if which == "dense":
                est = dense_bloch_estimate(N_x, N_y, d, vectors=vectors, symmetric=plan.symmetric)
                s += times * est.seconds
                b = max(b, est.bytes)
            elif which == "dense-inf":
                est = dense_infinite_estimate(N_x, d, T, vectors, plan.v_max, tol, ny_inf_method)
                s += times * est.seconds
                b = max(b, est.bytes)
            used.add({"dense-inf": "dense k-integral", "greens": "Green's-function", "dense": "dense Bloch"}[which])
        if any(v for _, v, _ in solves):
            b += plan.film_band_bytes(N_x)  # films: the bands of every sector and the recombined ones (0 for 2D)
        seconds[i] = s
        nbytes[i] = b
    return seconds, nbytes, used


# ------------------------------------------------------------------------- the grid
def _site_dim(kw):
    return 2 if kw.get("basis") == "spin" or kw.get("metal") == "am" else 3


def _trusted(factory):
    """orbsym's own factories (the figures') may be called on a short copy; user factories are not."""
    import functools

    f = factory
    while isinstance(f, functools.partial):
        f = f.func
    return str(getattr(f, "__module__", "")).startswith("orbsym.")


def _plan(spec, params):
    """:class:`PointPlan` of the point ``params`` (without ``N_x``) from a short copy of its system."""
    from .points import system_kwargs

    kw, T, infinite = system_kwargs(spec, params)
    N_z = kw.get("N_z") if isinstance(kw.get("N_z"), (int, np.integer)) else None
    if spec.factory is not None and not _trusted(spec.factory):
        return PointPlan.from_sizes(_site_dim(kw), N_z), T, infinite, kw
    N_FM = int(kw.get("N_FM", 1)) if isinstance(kw.get("N_FM", 1), (int, np.integer)) else 1
    short = dict(kw, N_x=2 * max(1, N_FM) + 3, N_y=max(1, min(int(kw["N_y"]), 64)) if isinstance(kw.get("N_y"), (int, np.integer)) else kw.get("N_y", 1))
    try:
        with np.errstate(all="ignore"):
            plan = PointPlan.from_system(spec.constructor()(**short))
    except Exception:  # noqa: BLE001 - a point that cannot be built fails on its own; size it from the sizes
        plan = PointPlan.from_sizes(_site_dim(kw), N_z)
    return plan, T, infinite, kw


def _kind(name, values):
    """``"nx"`` (the N_x axis), ``"discrete"`` (every value evaluated) or ``"extremes"``."""
    from .points import _INT_PARAMETERS

    if name == "N_x":
        return "nx"
    if isinstance(values[0], str) or name in _INT_PARAMETERS or name == "T":
        return "discrete"
    return "extremes"


def _keys(name, values, kind):
    """The values evaluated for one axis and, per value of the axis, the index of its key."""
    if kind == "extremes":
        lo, hi = min(values), max(values)
        return ([lo] if lo == hi else [lo, hi]), np.zeros(len(values), int)
    distinct = list(dict.fromkeys(values))
    if name == "T" and len(distinct) > MAX_TEMPERATURES:
        ordered = sorted(distinct)
        picks = sorted({ordered[int(round(i))] for i in np.linspace(0, len(ordered) - 1, MAX_TEMPERATURES)})
        index = np.array([max(j for j, p in enumerate(picks) if p <= v) for v in values])
        return picks, index
    pos = {v: j for j, v in enumerate(distinct)}
    return distinct, np.array([pos[v] for v in values])


def _grid_costs(spec, axes, observables, tol):
    """``(seconds, bytes, engines, discrete axes, index maps)``: per-point cost arrays over the grid
    of the discrete axes' values x the ``N_x`` values (the "extremes" axes reduced: their largest
    cost), the engine names, and per axis the map from its values to their grid entries.  Beyond
    :data:`MAX_COMBINATIONS` the largest cost over a subset of single-axis variations is used for
    every cell (an estimate, not a bound)."""
    from ...conventions import PAPER_PARAMETERS

    names = list(axes)
    kinds = {n: _kind(n, axes[n]) for n in names}
    keys, index = {}, {}
    for n in names:
        keys[n], index[n] = _keys(n, axes[n], kinds[n])
    nx_values = keys["N_x"] if "N_x" in axes else [spec.fixed.get("N_x", PAPER_PARAMETERS["N_x"])]
    disc = [n for n in names if kinds[n] == "discrete"]
    ext = [n for n in names if kinds[n] == "extremes"]
    shape = tuple(len(keys[n]) for n in disc) + (len(nx_values),)
    seconds = np.zeros(shape)
    nbytes = np.zeros(shape)
    used = set()
    n_disc = math.prod(len(keys[n]) for n in disc)
    ext_combos = [dict(zip(ext, c)) for c in itertools.product(*(keys[n] for n in ext))]
    if n_disc * len(ext_combos) > MAX_COMBINATIONS:  # every extreme on its own (others at their first)
        ext_combos = [{}] + [{n: v} for n in ext for v in keys[n]]
        ext_combos = [dict({m: keys[m][0] for m in ext}, **c) for c in ext_combos]
    if n_disc * len(ext_combos) > MAX_COMBINATIONS:
        disc_combos = None
    else:
        disc_combos = list(itertools.product(*(range(len(keys[n])) for n in disc)))
    plans = {}

    def cost(assign):
        p = dict(assign)
        p.pop("N_x", None)
        key = repr(sorted((k, repr(v)) for k, v in p.items()))
        if key not in plans:
            plans[key] = _plan(spec, p)
        plan, T, infinite, kw = plans[key]
        N_y = None if infinite else int(kw.get("N_y", PAPER_PARAMETERS["N_y"]))
        return point_costs(plan, nx_values, N_y, float(T), observables, spec.engine, tol, spec.ny_inf_method)

    if disc_combos is not None:
        for idx in disc_combos:
            base = {n: keys[n][j] for n, j in zip(disc, idx)}
            for c in ext_combos:
                s, b, u = cost({**base, **c})
                seconds[idx] = np.maximum(seconds[idx], s)
                nbytes[idx] = np.maximum(nbytes[idx], b)
                used |= u
    else:  # too many combinations: each discrete value on its own, the others at their first value
        first = {n: keys[n][0] for n in disc}
        worst_s, worst_b = np.zeros(len(nx_values)), np.zeros(len(nx_values))
        singles = [dict(first)] + [dict(first, **{n: v}) for n in disc for v in keys[n][: MAX_COMBINATIONS // max(1, len(disc))]]
        for a in singles:
            for c in ext_combos[:8]:
                s, b, u = cost({**a, **c})
                worst_s, worst_b = np.maximum(worst_s, s), np.maximum(worst_b, b)
                used |= u
        seconds[...] = worst_s
        nbytes[...] = worst_b
    return seconds, nbytes, used, disc, index


def sweep_estimate(spec, axes, observables, tol=1e-10, skip=(), workers=1, result_bytes=0.0):
    """:class:`orbsym.numeric.budget.ResourceEstimate` of a whole sweep, before any point runs.

    Parameters
    ----------
    spec : orbsym.workflows.sweeps.points.SystemSpec
        The sweep's system recipe (geometry or factory, fixed values, engine).
    axes : dict
        ``{name: values}`` (checked and canonical, :func:`orbsym.workflows.sweeps.sweep`).
    observables : list of tuple
        Parsed observables (:func:`orbsym.workflows.sweeps.points.parse_observable`).
    tol : float
        Tolerance of the ``N_y = inf`` k integral.
    skip : iterable of int
        Flat indices of points already stored (a resumed sweep): not counted.
    workers : int
        Processes running points at once (memory: that many points; the time is CPU time, which
        :func:`orbsym.numeric.budget.check_resources` divides among them).
    result_bytes : float
        Memory of the results kept in the parent (added to the peak).

    Returns
    -------
    ResourceEstimate
        ``seconds``: CPU seconds of the missing points (one core); ``bytes``: the largest point
        times the points running at once, plus ``result_bytes``; ``detail`` names the number of
        points, the engines and the largest point.
    """
    from ...numeric.budget import ResourceEstimate, format_bytes, format_seconds

    names = list(axes)
    shape = tuple(len(axes[n]) for n in names)
    n_points = math.prod(shape)
    seconds, nbytes, used, disc, index = _grid_costs(spec, axes, observables, tol)
    # points per cell of the reduced grid (discrete values x N_x): the other axes multiply
    other = math.prod(len(axes[n]) for n in names if n not in disc and n != "N_x")
    cell = [index[n] for n in disc] + [index["N_x"] if "N_x" in axes else np.zeros(1, int)]
    # histogram of every discrete axis's (and N_x's) values onto its keys, combined as an outer product
    hist = [np.bincount(c, minlength=seconds.shape[j]) for j, c in enumerate(cell)]
    counts = other * _outer(hist)
    skip = np.asarray(sorted(set(int(i) for i in skip)), dtype=np.int64)
    if skip.size:
        coords = np.unravel_index(skip, shape)
        pos = {n: j for j, n in enumerate(names)}
        sub = tuple(index[n][coords[pos[n]]] for n in disc) + ((index["N_x"][coords[pos["N_x"]]],) if "N_x" in axes else (np.zeros(skip.size, int),))
        np.subtract.at(counts, sub, 1)
    missing = int(round(counts.sum()))
    total = float((counts * seconds).sum())
    busy = counts > 0
    peak = float(nbytes[busy].max()) if busy.any() else 0.0
    at_once = max(1, min(int(workers), missing))
    largest = float(seconds[busy].max()) if busy.any() else 0.0
    done = n_points - missing
    resumed = f" ({done} already stored)" if done else ""
    detail = f"{missing} point{'s' if missing != 1 else ''} to compute{resumed}, the largest ~{format_seconds(largest)} and ~{format_bytes(peak)}"
    return ResourceEstimate(engine_names(used), peak * at_once + float(result_bytes), total, detail)


def engine_names(used):
    """``"Green's-function + dense Bloch"``: the engines of an estimate, for its message."""
    return " + ".join(sorted(used)) or "no"


def _outer(vectors):
    out = np.ones(())
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out


def check_sweep_resources(spec, axes, observables, tol=1e-10, skip=(), workers=1, result_bytes=0.0):
    """Raise :class:`orbsym.numeric.budget.ResourceError` (a ValueError) naming the sweep, its points
    and the estimate when it exceeds the memory or time limit; return the estimate otherwise."""
    from ...numeric.budget import check_resources

    est = sweep_estimate(spec, axes, observables, tol, skip, workers, result_bytes)
    shape = " x ".join(f"{n}={len(v)}" for n, v in axes.items())
    n_points = math.prod(len(v) for v in axes.values())
    sizes = [n for n in ("N_x", "N_y") if n in axes or n in spec.fixed]
    hint = (
        "coarsen or split the --param grids (API: axes)"
        + (f", reduce {' / '.join(sizes)} (--param or --set)" if sizes else ", reduce N_x / N_y (--set N_x=..., --set N_y=...)")
        + (", use more --workers" if workers == 1 else "")
        + " or choose another --engine"
    )
    return check_resources(est, what=f"the sweep of {n_points} points ({shape})", workers=workers, hint=hint)
