"""Engine choice: dense Bloch diagonalization or recursive Green's functions, by a measured cost model.

Both engines give the same correlation bands, free energy and particle number (to ~1e-12; tested).
``engine="auto"`` picks the one this model predicts to be faster:

* dense (:func:`orbsym.numeric.solve_bloch`): ``N_k * t_dense(n)``, ``n = dim N_x``, ``N_k = N_y/2 + 1``
  (``h(-k) = h(k)``) or ``N_y``; ``t_dense`` is interpolated (log-log) in a table measured with one
  BLAS thread (eigh with vectors, or the band solver for eigenvalues only), ``~ n^3`` asymptotically
  and extrapolated so; times ``REAL_GAUGE_FACTOR`` when the real gauge applies.
* greens (:func:`orbsym.numeric.greens.solve_greens`): ``P_eff * (a + b N_x) (dim / 3)^2.5`` with
  ``P_eff`` the exact number of (k, w) points the solve will use (poles times their k sub-grids) and
  ``a, b`` measured per point and column.

Constants measured on the development machine (2 shared cores, one BLAS thread, NumPy/OpenBLAS);
the model only has to rank the engines, and near the crossover both cost about the same.
"""

from __future__ import annotations

import numpy as np

from .bloch import real_gauge
from .checks import check_name

__all__ = ["ENGINES", "engine_costs", "choose_engine"]

#: Allowed engine names.
ENGINES = ("auto", "dense", "greens")

#: Dense seconds per k-point vs matrix size n (generic complex h(k)), with eigenvectors / eigenvalues only.
_DENSE_N = np.array([9.0, 15.0, 30.0, 75.0, 150.0, 300.0])
_DENSE_VEC = np.array([1.5e-5, 4.0e-5, 1.1e-4, 5.9e-4, 2.9e-3, 1.66e-2])
_DENSE_VAL = np.array([7.0e-6, 1.5e-5, 3.5e-5, 1.53e-4, 5.1e-4, 2.0e-3])
#: Real-gauge speed-up of the dense path (vectors / eigenvalues only).
REAL_GAUGE_FACTOR = (0.6, 0.7)
#: Green's function seconds per (k, w) point: a + b N_x (bands) and the forward sweep only.
_GREENS_VEC = (1.4e-6, 3.6e-7)
_GREENS_VAL = (0.5e-6, 1.3e-7)
#: ``E_max / T`` above which auto does not consider the Green's-function engine (about 2500 poles).
MAX_RATIO = 1e6


def _interp(n, table):
    ln = np.log(_DENSE_N)
    lt = np.log(table)
    x = np.log(max(float(n), 1.0))
    if x <= ln[-1]:
        return float(np.exp(np.interp(x, ln, lt)))
    return float(table[-1] * (n / _DENSE_N[-1]) ** 3)


def engine_costs(lattice, T, vectors=True, tol=None, N_y="lattice"):
    """Predicted seconds of both engines: ``{"dense": s, "greens": s, "greens_points": P_eff}``.

    ``N_y = None`` (infinity) has no dense cost (``inf``).
    """
    from .greens import _points, spectral_bound
    from .poles import DEFAULT_TOL, pole_expansion

    tol = DEFAULT_TOL if tol is None else tol
    N_y = lattice.N_y if isinstance(N_y, str) else N_y
    N, d = lattice.N_x, lattice.dim
    E_max = spectral_bound(lattice)
    a, b = _GREENS_VEC if vectors else _GREENS_VAL
    if T > 0 and E_max / T > MAX_RATIO:  # thousands of poles: never the faster engine, do not even build them
        pts, greens = 0, float("inf")
    else:
        exp = pole_expansion(T, E_max, tol)
        try:
            pts = _points(lattice, exp, N_y, tol, True)[0].size
            greens = pts * (a + b * N) * (d / 3.0) ** 2.5
        except ValueError:  # N_y = infinity beyond the largest k sub-grid (low T): greens cannot run
            pts, greens = 0, float("inf")
    if N_y is None:
        return {"dense": float("inf"), "greens": greens, "greens_points": int(pts)}
    nk = N_y // 2 + 1 if lattice.y_hermitian else N_y
    per_k = _interp(N * d, _DENSE_VEC if vectors else _DENSE_VAL)
    if real_gauge(lattice) is not None:
        per_k *= REAL_GAUGE_FACTOR[0 if vectors else 1]
    return {"dense": nk * per_k, "greens": greens, "greens_points": int(pts)}


def choose_engine(engine, lattice, T, vectors=True, N_y="lattice"):
    """Resolve ``engine`` (``"auto"``, ``"dense"``, ``"greens"``) to ``"dense"`` or ``"greens"``."""
    check_name("engine", engine, ENGINES)
    if engine != "auto":
        return engine
    if any(tuple(b) not in ((1, 0), (0, 1)) for c in lattice.columns for b in c.kernels.bonds):
        return "dense"
    with np.errstate(under="ignore"):
        cost = engine_costs(lattice, T, vectors, N_y=N_y)
    return "greens" if cost["greens"] < cost["dense"] else "dense"
