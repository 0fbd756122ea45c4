"""Thermodynamic limit in y (``N_y = infinity``): the k_y sum replaced by an adaptive integral.

For a finite lattice every per-row quantity is an average over the ``N_y`` momenta
``k = 2 pi j / N_y`` (:mod:`orbsym.numeric.bloch`)::

    F / N_y = (1 / N_y) sum_k sum_s g(E_s(k)),       g(E) = -T ln(1 + exp(-E / T))   (Eq. 13)
    G(x, x'; dy) = (1 / N_y) sum_k e^{i k dy} sum_s U*_{x,s}(k) f(E_s(k)) U_{x',s}(k)  (Eq. 12)

For ``N_y -> infinity`` the average becomes ``(1 / 2 pi) int_{-pi}^{pi} dk``; when ``h(-k) = h(k)``
(every ``t_y`` Hermitian) it is ``(1 / pi) int_0^pi dk`` with ``cos(k dy)``.  All requested
quantities are integrated together as one vector, to an absolute tolerance ``tol`` in the max norm.

Two methods:

* ``"trapezoid"`` (default for ``T > 0``): the integrand is periodic and analytic in k, so the
  periodic trapezoidal rule converges exponentially; the number of nodes is doubled (reusing the
  old ones) until two successive estimates differ by less than ``tol``, and that difference is the
  error estimate (conservative once convergence is exponential).  Level ``M`` on ``[0, pi]`` is
  exactly the finite sum at ``N_y = 2 M`` -- the finite lattice *is* this rule -- so the
  estimates show directly how far ``N_y = 800`` is from the limit.  Diagonalizations are batched
  and use the real gauge of :func:`orbsym.numeric.real_gauge` when it exists.
* ``"adaptive"`` (default at ``T = 0``, where the Fermi step makes the integrand kinked):
  :func:`scipy.integrate.quad_vec`, adaptive Gauss-Kronrod 21-point rule, error estimate from it.
  It is also the independent slow path the tests compare the trapezoidal rule with.

Only public numeric functions are used: ``h(k)`` comes from
:func:`orbsym.numeric.bloch_hamiltonians`, so the integrand is exactly the Bloch engine's matrix.
Conventions (units of t, F per row, ``G_ij = <c_i^dag c_j>``): :mod:`orbsym.conventions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["InfiniteSolution", "solve_infinite", "DEFAULT_TOL", "METHODS"]

#: Integration methods of :func:`solve_infinite`.
METHODS = ("trapezoid", "adaptive")
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
        quad_vec error estimate (max norm over all integrated components).
    evaluations : int
        Number of ``h(k)`` diagonalizations.
    """

    free_energy: float
    particle_number: float
    bands: dict
    error: float
    evaluations: int


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
            raise ValueError(
                f"the k_y integral for N_y = infinity did not reach tol = {tol:g} with {M} trapezoid nodes "
                f"(last change {err:.3g}); raise tol, or use method='adaptive'"
            )


def solve_infinite(lattice, T, pairs=(), tol=DEFAULT_TOL, method=None, limit=4000):
    """Free energy, particle number and correlation bands per row for ``N_y = infinity``.

    Parameters
    ----------
    lattice : orbsym.numeric.Lattice
        The heterostructure (its own ``N_y`` is ignored).
    T : float
        Temperature (units of t), ``T >= 0``.  At ``T = 0`` the integrand has kinks at the Fermi
        points; the adaptive rule still converges, more slowly.
    pairs : iterable of (dx, dy)
        Correlation bands to form (see :meth:`orbsym.numeric.Lattice.offset_pairs`); empty for the
        free energy and particle number only.
    tol : float
        Absolute tolerance (max norm over all components), ``> 0``.  Rounding limits what is
        reachable to about ``1e-14 |F|``.
    method : {"trapezoid", "adaptive"}, optional
        See the module docstring; default ``"trapezoid"`` for ``T > 0``, ``"adaptive"`` at ``T = 0``.
    limit : int
        Maximum number of subintervals of the adaptive method.

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
        method = "adaptive" if T == 0 else "trapezoid"
    if method not in METHODS:
        raise ValueError(f"unknown integration method {method!r}; allowed: {', '.join(METHODS)}")
    pairs = sorted({(int(p[0]), int(p[1])) for p in pairs})
    N, d = lattice.N_x, lattice.dim
    symmetric = bool(lattice.y_hermitian)
    if method == "trapezoid":
        g, nb, _ = _sampler(lattice, T, pairs, symmetric)
        res, err, evals = _trapezoid(g, symmetric, tol)
        return _solution(res, err, evals, pairs, N, d)
    H0, C, S = _pieces(lattice)
    a, b, norm = (0.0, math.pi, 1.0 / math.pi) if symmetric else (-math.pi, math.pi, 0.5 / math.pi)
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

    res, err, info = quad_vec(integrand, a, b, epsabs=tol / norm, epsrel=0.0, norm="max", limit=limit, full_output=True)
    res = norm * np.asarray(res)
    err = norm * float(err)
    if not info.success:
        raise ValueError(
            f"the k_y integral for N_y = infinity did not reach tol = {tol:g} within {limit} intervals "
            f"(error estimate {err:.3g}); raise tol or limit"
        )
    return _solution(res, err, count[0], pairs, N, d)


def _solution(res, err, evals, pairs, N, d):
    nb = len(pairs) * N * d * d
    bands = {}
    if pairs:
        z = (res[2 : 2 + nb] + 1j * res[2 + nb :]).reshape(len(pairs), N, d, d)
        bands = {p: z[i] for i, p in enumerate(pairs)}
    return InfiniteSolution(float(res[0]), float(res[1]), bands, float(err), int(evals))
