"""Thermodynamic limit in y (``N_y = infinity``): the k_y sum replaced by an adaptive integral.

For a finite lattice every per-row quantity is an average over the ``N_y`` momenta
``k = 2 pi j / N_y`` (:mod:`orbsym.numeric.bloch`)::

    F / N_y = (1 / N_y) sum_k sum_s g(E_s(k)),       g(E) = -T ln(1 + exp(-E / T))   (Eq. 13)
    G(x, x'; dy) = (1 / N_y) sum_k e^{i k dy} sum_s U*_{x,s}(k) f(E_s(k)) U_{x',s}(k)  (Eq. 12)

For ``N_y -> infinity`` the average becomes ``(1 / 2 pi) int_{-pi}^{pi} dk``; when ``h(-k) = h(k)``
(every ``t_y`` Hermitian) it is ``(1 / pi) int_0^pi dk`` with ``cos(k dy)``.  All requested
quantities are integrated together as one vector, to an absolute tolerance ``tol`` in the max norm.

Two methods, and an automatic choice:

* ``"trapezoid"``: the integrand is periodic and analytic in k, so the periodic trapezoidal rule
  converges exponentially; the number of nodes is doubled (reusing the old ones) until two
  successive estimates differ by less than ``tol``, and that difference is the error estimate
  (conservative once convergence is exponential).  Level ``M`` on ``[0, pi]`` is exactly the
  finite sum at ``N_y = 2 M`` -- the finite lattice *is* this rule -- so the estimates show
  directly how far ``N_y = 800`` is from the limit.  Diagonalizations are batched and use the real
  gauge of :func:`orbsym.numeric.real_gauge` when it exists.  The Fermi function puts poles of the
  integrand at a distance ``~ pi T / v`` from the real k axis (``v = |dE/dk|`` at a Fermi point),
  so the rule needs ``M ~ v ln(1 / tol) / (2 pi T)`` nodes: cheap at ``T = 0.01``, hopeless
  (more than ``2^17`` nodes) for ``T <~ 1e-4``.
* ``"adaptive"``: :func:`scipy.integrate.quad_vec`, adaptive Gauss-Kronrod 21-point rule, error
  estimate from it, with breakpoints at the Fermi points ``E_s(k_F) = 0`` (found by bisection on
  the number of occupied levels) and, for ``T > 0``, a geometric grid of breakpoints
  ``k_F +- (T / v_max) 8^j`` up to ``40 T / v_F`` that resolves the thermal layer of width
  ``~T / v_F`` around each of them (``v_max = ||C|| + ||S||`` bounds every band velocity, ``v_F``
  is the band's velocity at ``k_F``).  At ``T = 0`` the integrand is
  then analytic on every piece (kinks only at breakpoints); for ``0 < T << 1`` each piece is at
  least as long as its distance to the layer, so the first Gauss-Kronrod estimates are already
  reliable.  It is also the independent slow path the tests compare the trapezoidal rule with.
* ``"auto"`` (default): ``"trapezoid"`` when the node estimate above is at most
  ``2^14`` (``T >~ 1e-3`` at ``tol = 1e-10`` for unit hoppings), else ``"adaptive"``; a trapezoid
  rule that still does not converge falls back to ``"adaptive"``.

Only public numeric functions are used: ``h(k)`` comes from
:func:`orbsym.numeric.bloch_hamiltonians`, so the integrand is exactly the Bloch engine's matrix.
Conventions (units of t, F per row, ``G_ij = <c_i^dag c_j>``): :mod:`orbsym.conventions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["InfiniteSolution", "solve_infinite", "fermi_points", "trapezoid_nodes_estimate", "DEFAULT_TOL", "METHODS"]

#: Integration methods of :func:`solve_infinite` (``"auto"`` picks one of the other two).
METHODS = ("auto", "trapezoid", "adaptive")
#: ``"auto"`` uses the trapezoidal rule when its estimated node count is at most this.
_AUTO_TRAPEZOID_NODES = 2**14
#: Sign changes of the occupied-level count are searched on this many cells of the k interval.
_FERMI_GRID = 256
#: Ratio of successive breakpoints of the graded grid around a Fermi point (adaptive, T > 0).
_GRADING = 8.0
#: The graded grid reaches ``_LAYER T / v_F`` from the Fermi point (thermal tail ``exp(-_LAYER)``).
_LAYER = 40.0
#: Coarsest trapezoid level (nodes on [0, pi] or points on [-pi, pi]) and the finest allowed.
_M_START = 32
_M_MAX = 2**17
#: k-points diagonalized per batch.
_BATCH = 128

#: Default absolute tolerance (units of t, per row) of the k_y integral.
DEFAULT_TOL = 1e-10


@dataclass
class InfiniteSolution:
    """Per-row results of :func:`solve_infinite` (``N_y = infinity``).

    Attributes
    ----------
    free_energy : float
        Grand potential per row, Eq. (13), units of t.
    particle_number : float
        Electrons per row.
    bands : dict
        ``{(dx, dy): ndarray (N_x, dim, dim)}``, ``bands[dx, dy][x] = G(x, x + dx; dy)`` (empty
        unless requested), the input of :class:`orbsym.numeric.Observables`.
    error : float
        Error estimate of the rule used (trapezoid: last change between doublings; adaptive:
        quad_vec's Gauss-Kronrod estimate), max norm over all integrated components, units of the
        components (t per row for ``free_energy``).
    evaluations : int
        Number of ``h(k)`` diagonalizations (including a trapezoid attempt that fell back).
    method : str
        The rule that produced the result, ``"trapezoid"`` or ``"adaptive"``.
    """

    free_energy: float
    particle_number: float
    bands: dict
    error: float
    evaluations: int
    method: str = "trapezoid"


def _pieces(lattice):
    """``H0, C, S`` with ``h(k) = H0 + cos k C + sin k S`` from the public Bloch builder."""
    from . import bloch_hamiltonians

    h0, hpi, hhalf = bloch_hamiltonians(lattice, np.array([0.0, math.pi, 0.5 * math.pi]))
    H0 = 0.5 * (h0 + hpi)
    C = 0.5 * (h0 - hpi)
    S = hhalf - H0
    return H0, C, S


def _sampler(lattice, T, pairs, symmetric):
    """Batched integrand: ``g(k)`` for many k, rows ``[F terms, N terms, Re bands, Im bands]``."""
    from . import bloch_hamiltonians, fermi, grand_potential_terms, real_gauge

    N, d = lattice.N_x, lattice.dim
    n = N * d
    phases = real_gauge(lattice)
    D = None if phases is None else np.tile(np.exp(1j * np.asarray(phases)), N)
    nb = len(pairs) * N * d * d

    def g(k):
        out = np.empty((k.size, 2 + 2 * nb))
        for a in range(0, k.size, _BATCH):
            kk = k[a : a + _BATCH]
            h = bloch_hamiltonians(lattice, kk, phases)
            if not pairs:
                E = np.linalg.eigvalsh(h)
            else:
                E, U = np.linalg.eigh(h)
                f = fermi(E, T)
                G = (U.conj() * f[:, None, :]) @ U.transpose(0, 2, 1)
                if D is not None:  # h = D h_real D^dag, U = D U_real
                    G = G * (D.conj()[:, None] * D[None, :])[None]
                G = G.reshape(kk.size, N, d, N, d)
                vals = np.zeros((kk.size, len(pairs), N, d, d), complex)
                for i, (dx, dy) in enumerate(pairs):
                    lo, hi = max(0, -dx), min(N, N - dx)
                    if lo >= hi:
                        continue
                    x = np.arange(lo, hi)
                    phase = np.cos(kk * dy) if symmetric else np.exp(1j * kk * dy)
                    vals[:, i, lo:hi] = phase[:, None, None, None] * G[:, x, :, x + dx, :].transpose(1, 0, 2, 3)
                flat = vals.reshape(kk.size, nb)
                out[a : a + kk.size, 2 : 2 + nb] = flat.real
                out[a : a + kk.size, 2 + nb :] = flat.imag
            out[a : a + kk.size, 0] = grand_potential_terms(E, T).sum(axis=1)
            out[a : a + kk.size, 1] = fermi(E, T).sum(axis=1)
        return out

    return g, nb, n


class _NotConverged(Exception):
    def __init__(self, message, evaluations):
        super().__init__(message)
        self.evaluations = evaluations


def _trapezoid(g, symmetric, tol):
    """Doubling periodic trapezoidal rule; returns ``(integral, error estimate, evaluations)``."""
    M = _M_START
    if symmetric:  # (1/pi) int_0^pi, nodes pi j / M, endpoints weighted 1/2
        vals = g(np.pi * np.arange(M + 1) / M)
        I = (vals[1:-1].sum(axis=0) + 0.5 * (vals[0] + vals[-1])) / M
    else:  # (1/2pi) int_{-pi}^{pi}, M points -pi + 2 pi j / M
        vals = g(-np.pi + 2 * np.pi * np.arange(M) / M)
        I = vals.mean(axis=0)
    evals = vals.shape[0]
    while True:
        if symmetric:
            mid = g(np.pi * (2 * np.arange(M) + 1) / (2 * M))
        else:
            mid = g(-np.pi + 2 * np.pi * (2 * np.arange(M) + 1) / (2 * M))
        evals += M
        new = 0.5 * I + 0.5 * mid.mean(axis=0)
        err = float(np.abs(new - I).max())
        I, M = new, 2 * M
        if err <= tol:
            return I, err, evals
        if M >= _M_MAX:
            raise _NotConverged(
                f"the k_y integral for N_y = infinity did not reach tol = {tol:g} with {M} trapezoid nodes "
                f"(last change {err:.3g}); raise tol, or use method='adaptive' or 'auto'",
                evals,
            )


def _velocity_bound(C, S):
    """``||C||_2 + ||S||_2 >= |dE_s/dk|`` for every band (``dh/dk = -sin k C + cos k S``)."""
    return float(np.linalg.norm(C, 2) + np.linalg.norm(S, 2))


def trapezoid_nodes_estimate(v_max, T, tol):
    """Nodes the doubling trapezoidal rule needs on ``[0, pi]``: ``v ln(1/tol) / (pi T)``.

    The Fermi function has poles at ``E = i pi T (2n + 1)``, a distance ``pi T / v`` from the real
    k axis, so the error of ``M`` nodes decays like ``exp(-2 pi T M / v)``; the doubling
    test needs the previous level converged too (factor 2).  ``inf`` at ``T = 0``.
    """
    if v_max == 0:
        return 1.0
    if T == 0:
        return math.inf
    return v_max * max(1.0, math.log(1.0 / tol)) / (math.pi * T)


def fermi_points(lattice, a, b, phases=None, cells=_FERMI_GRID):
    """Momenta in ``(a, b)`` where the number of occupied levels (``E_s(k) < 0``) changes.

    Sign changes of the count on ``cells`` equal cells are each bisected to machine precision
    (vectorized over the cells).  Two crossings inside one cell that cancel, or a band touching
    zero, are not found -- the adaptive rule then still converges, only more slowly.
    """
    from . import bloch_hamiltonians

    def count(k):
        return (np.linalg.eigvalsh(bloch_hamiltonians(lattice, k, phases)) < 0).sum(axis=1)

    k = np.linspace(a, b, cells + 1)
    n = count(k)
    where = np.nonzero(np.diff(n))[0]
    lo, hi, nlo = k[where], k[where + 1], n[where]
    for _ in range(64):
        if not lo.size or np.all(hi - lo <= 4 * np.finfo(float).eps * max(abs(a), abs(b), 1.0)):
            break
        mid = 0.5 * (lo + hi)
        left = count(mid) != nlo
        hi = np.where(left, mid, hi)
        lo = np.where(left, lo, mid)
    return sorted({float(x) for x in 0.5 * (lo + hi)})


def fermi_velocities(lattice, kf, C, S):
    """``|dE/dk|`` at each Fermi point (Hellmann-Feynman ``u^dag dh/dk u``; smallest if degenerate)."""
    from . import bloch_hamiltonians

    if not kf:
        return []
    k = np.asarray(kf, float)
    E, U = np.linalg.eigh(bloch_hamiltonians(lattice, k))
    out = []
    for i, kk in enumerate(k):
        dh = -math.sin(kk) * C + math.cos(kk) * S
        near = np.abs(E[i]) <= max(1e-9, 1e3 * np.finfo(float).eps * np.abs(E[i]).max())
        cols = U[i][:, near] if near.any() else U[i][:, [int(np.argmin(np.abs(E[i])))]]
        v = np.abs(np.einsum("is,ij,js->s", cols.conj(), dh, cols).real)
        out.append(float(v.min()))
    return out


def _breakpoints(kf, vf, a, b, T, v_max):
    """Fermi points plus, for ``T > 0``, the graded grid ``k_F +- (T / v_max) 8^j`` inside ``(a, b)``.

    The grid stops once it passes ``_LAYER T / v_F`` (there ``f(E) - theta(-E) ~ exp(-_LAYER)``):
    beyond, the integrand is the ``T = 0`` one up to an exponentially small correction.
    """
    pts = set(kf)
    if T > 0 and v_max > 0:
        top = (b - a) / 64
        for p, v in zip(kf, vf):
            reach = _LAYER * T / max(v, 1e-6 * v_max)
            d = T / v_max
            while d < top:
                pts.update(q for q in (p - d, p + d) if a < q < b)
                if d >= reach:
                    break
                d *= _GRADING
    return sorted(pts)


def solve_infinite(lattice, T, pairs=(), tol=DEFAULT_TOL, method=None, limit=4000):
    """Free energy, particle number and correlation bands per row for ``N_y = infinity``.

    Parameters
    ----------
    lattice : orbsym.numeric.Lattice
        The heterostructure (its own ``N_y`` is ignored).
    T : float
        Temperature (units of t), ``T >= 0``.  At ``T = 0`` the integrand has kinks at the Fermi
        points, for small ``T > 0`` thermal layers of width ``~T``: ``method="auto"`` then uses the
        adaptive rule split at the Fermi points.
    pairs : iterable of (dx, dy)
        Correlation bands to form (see :meth:`orbsym.numeric.Lattice.offset_pairs`); empty for the
        free energy and particle number only.
    tol : float
        Absolute tolerance (max norm over all components), ``> 0``.  Rounding limits what is
        reachable to about ``1e-14 |F|``.
    method : {"auto", "trapezoid", "adaptive"}, optional
        See the module docstring; default (None) is ``"auto"``.
    limit : int
        Maximum number of subintervals of the adaptive method (raised to four per breakpoint).

    Returns
    -------
    InfiniteSolution

    Raises
    ------
    ValueError
        For a bad ``tol``, or when the integral did not reach ``tol`` within ``limit`` intervals.
    """
    from ..execution import limit_blas

    with limit_blas():  # one BLAS thread (orbsym.execution.blas_threads) for the many small blocks
        return _solve_infinite(lattice, T, pairs, tol, method, limit)


def _solve_infinite(lattice, T, pairs, tol, method, limit):
    from scipy.integrate import quad_vec

    from . import fermi, grand_potential_terms
    from .thermo import check_temperature

    T = check_temperature(T)
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tolerance tol must be a positive number, got {tol!r}") from None
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tolerance tol must be a positive finite number, got {tol!r}")
    if method is None:
        method = "auto"
    if method not in METHODS:
        raise ValueError(f"unknown integration method {method!r}; allowed: {', '.join(METHODS)}")
    pairs = sorted({(int(p[0]), int(p[1])) for p in pairs})
    N, d = lattice.N_x, lattice.dim
    symmetric = bool(lattice.y_hermitian)
    H0, C, S = _pieces(lattice)
    v_max = _velocity_bound(C, S)
    if method == "auto":
        method = "trapezoid" if trapezoid_nodes_estimate(v_max, T, tol) <= _AUTO_TRAPEZOID_NODES else "adaptive"
        fallback = True
    else:
        fallback = False
    evals_before = 0
    if method == "trapezoid":
        g, nb, _ = _sampler(lattice, T, pairs, symmetric)
        try:
            res, err, evals = _trapezoid(g, symmetric, tol)
            return _solution(res, err, evals, pairs, N, d, "trapezoid")
        except _NotConverged as exc:
            if not fallback:
                raise ValueError(str(exc)) from None
            evals_before = exc.evaluations
    a, b, norm = (0.0, math.pi, 1.0 / math.pi) if symmetric else (-math.pi, math.pi, 0.5 / math.pi)
    kf = fermi_points(lattice, a, b)
    points = _breakpoints(kf, fermi_velocities(lattice, kf, C, S) if T > 0 else [0.0] * len(kf), a, b, T, v_max)
    limit = max(int(limit), 4 * (len(points) + 1))
    nb = len(pairs) * N * d * d
    count = [0]

    def integrand(k):
        count[0] += 1
        h = H0 + math.cos(k) * C + math.sin(k) * S
        out = np.empty(2 + 2 * nb)
        if not pairs:
            E = np.linalg.eigvalsh(h)
        else:
            E, U = np.linalg.eigh(h)
            f = fermi(E, T)
            G = ((U.conj() * f[None, :]) @ U.T).reshape(N, d, N, d)
            vals = np.zeros((len(pairs), N, d, d), complex)
            for i, (dx, dy) in enumerate(pairs):
                lo, hi = max(0, -dx), min(N, N - dx)
                if lo >= hi:
                    continue
                x = np.arange(lo, hi)
                phase = math.cos(k * dy) if symmetric else complex(math.cos(k * dy), math.sin(k * dy))
                vals[i, lo:hi] = phase * G[x, :, x + dx, :]
            flat = vals.ravel()
            out[2 : 2 + nb] = flat.real
            out[2 + nb :] = flat.imag
        out[0] = grand_potential_terms(E, T).sum()
        out[1] = fermi(E, T).sum()
        return out

    res, err, info = quad_vec(integrand, a, b, epsabs=tol / norm, epsrel=0.0, norm="max", limit=limit, points=points or None, full_output=True)
    res = norm * np.asarray(res)
    err = norm * float(err)
    if not info.success and not (info.status == 2 and err <= tol):  # 2: rounding-limited, yet within tol
        why = "rounding error (about 1e-14 |F| is reachable)" if info.status == 2 else f"{limit} intervals"
        raise ValueError(
            f"the k_y integral for N_y = infinity did not reach tol = {tol:g} ({why}; error estimate {err:.3g}); "
            f"raise tol{' or limit' if info.status != 2 else ''}"
        )
    return _solution(res, err, count[0] + evals_before, pairs, N, d, "adaptive")


def _solution(res, err, evals, pairs, N, d, method):
    nb = len(pairs) * N * d * d
    bands = {}
    if pairs:
        z = (res[2 : 2 + nb] + 1j * res[2 + nb :]).reshape(len(pairs), N, d, d)
        bands = {p: z[i] for i, p in enumerate(pairs)}
    return InfiniteSolution(float(res[0]), float(res[1]), bands, float(err), int(evals), method)
