"""Fermi function and grand potential as sums over points on the imaginary axis (Eqs. 12-13).

Every expansion here has the form (``E`` measured from ``mu``, units of t)::

    f(E)     ~ 1/2 - sum_p c_p 2 E / (E^2 + w_p^2)
             = 1/2 + sum_p c_p [1/(i w_p - E) + 1/(-i w_p - E)]
    Omega(E) ~ E/2 + Omega_0 - sum_p c_p ln(1 + E^2 / w_p^2)          (dOmega/dE = f)

with frequencies ``w_p > 0`` and weights ``c_p > 0``.  For a Hermitian ``h`` this is, with
``G(z) = (z - h)^{-1}``::

    f(h)        = 1/2 + sum_p c_p [G(i w_p) + G(i w_p)^dag]
    Tr Omega(h) = Tr h / 2 + n Omega_0 - 2 sum_p c_p [ln |det(i w_p - h)| - n ln w_p]

which is what the Green's-function engine (:mod:`orbsym.numeric.greens`) evaluates.

``T > 0``: Ozaki's continued-fraction poles
    ``tanh(x/2)`` has the continued fraction ``x / (2 + x^2 / (6 + x^2 / (10 + ...)))``; truncated
    at depth ``2N`` it is a rational function whose poles ``x = +- i z_p`` are the inverse
    eigenvalues of a real symmetric tridiagonal matrix with off-diagonal ``1 / (2 sqrt((2m-1)(2m+1)))``
    and residues from the first eigenvector components (T. Ozaki, Phys. Rev. B 75, 035123 (2007)).
    Then ``w_p = T z_p``, ``c_p = T R_p`` and ``Omega_0 = -T ln 2``.  The lowest poles coincide with
    the Matsubara frequencies ``(2p - 1) pi T`` (residue 1); the higher ones are sparse and carry the
    tail.  The expansion is accurate on ``|E| <= E_max`` (a bound on the spectrum) and breaks down
    beyond it, so the spectral bound is part of the input.  Error order: the approximation error on
    ``|E/T| <= X`` falls faster than exponentially once ``N`` exceeds about ``2.5 sqrt(X)``;
    measured, ``X = 10^3`` needs ``N ~ 70`` and ``X = 10^4`` ``N ~ 250`` for ``1e-13``, so the pole
    count grows like ``sqrt(beta W)`` (not ``log``; see :func:`pole_expansion`).  ``N`` is chosen as
    the smallest on a ``x1.2`` ladder whose error, measured on a dense grid of ``[0, X]``, is below
    the requested ``tol``.

``T = 0``: the imaginary-axis integral
    ``theta(-E) = 1/2 - (1/pi) int_0^inf E / (E^2 + w^2) dw`` and ``min(E, 0) = E/2 - (1/2 pi)
    int_0^inf ln(1 + E^2/w^2) dw`` (a level exactly at zero is half occupied, as in
    :mod:`orbsym.numeric.thermo`).  The integral is done with Gauss-Legendre panels: one panel on
    ``[0, w_min]`` in ``w`` and panels of width ``PANEL`` in ``ln w`` up to ``w_max = E_max / (pi tol)``
    ``= E_max (3 pi tol)^(-1/3)``; the tail beyond is added in closed form to leading order,
    ``f -= E / (pi w_max)`` and ``Omega -= E^2 / (2 pi w_max)`` (attributes ``tail_f``,
    ``tail_omega``: local in the lattice, ``h`` and ``h^2``), leaving ``<= |E|^3 / (3 pi w_max^3)
    <= tol``.  Keeping ``w_max`` moderate keeps ``ln|det(i w - h)| - n ln w`` well conditioned.  In ``u = ln w`` the
    occupation integrand of a level ``E`` is ``sech(u - ln|E|) / (2 pi)``, analytic in the strip
    ``|Im u| < pi/2``; a Gauss-Legendre panel of half-width ``a`` with ``n`` nodes then errs by
    ``O(rho^{-2n})``, ``rho = pi/(2a) + sqrt(1 + (pi/(2a))^2)`` (Bernstein ellipse), which fixes
    ``n`` from ``tol``: this a-priori bound is the reported ``error``.  Levels with
    ``|E| >= 4 w_min`` are resolved to ``tol``; a level much closer to zero than ``w_min``
    (``resolution``) counts as half occupied, the T = 0 convention for a level at zero.

Conventions: :mod:`orbsym.conventions`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .checks import real_number
from .thermo import check_temperature

__all__ = ["PoleExpansion", "pole_expansion", "ozaki_poles", "DEFAULT_TOL", "DEFAULT_RESOLUTION", "PANEL"]

#: Default accuracy of the occupations (max error of ``f`` on the spectrum).
DEFAULT_TOL = 1e-13
#: Default T = 0 resolution ``w_min`` (units of t): levels with ``|E| >= 4 w_min`` are resolved.
DEFAULT_RESOLUTION = 1e-8
#: Width of the Gauss-Legendre panels in ``ln w`` (T = 0).
PANEL = 2.0
#: Largest number of Ozaki poles tried before giving up.
MAX_POLES = 20000


@dataclass(frozen=True)
class PoleExpansion:
    """Imaginary-axis expansion of ``f`` and ``Omega`` (see the module docstring).

    Attributes
    ----------
    omega : ndarray
        Frequencies ``w_p > 0`` (units of t): the points ``z = +- i w_p``.
    weight : ndarray
        Weights ``c_p > 0`` (units of t).
    offset : float
        ``Omega_0`` per level: ``-T ln 2`` (T > 0); at T = 0 the exact integral of the
        level-independent ``-ln w^2`` on ``[0, w_min]`` minus its quadrature (about ``-1e-7 w_min``).
    T, E_max, tol : float
        Temperature, spectral bound ``|E| <= E_max`` and requested accuracy of ``f``.
    error : float
        Error bound of ``f`` on ``|E| <= E_max`` (measured on a grid for T > 0; a-priori for T = 0
        for ``|E| >= 4 resolution``).  The per-level grand-potential error is ``<= E_max * error``
        (``Omega`` is the integral of ``f`` from 0, where it is exact).
    method : str
        ``"ozaki"`` or ``"imaginary-axis"``.
    resolution : float
        T = 0 only: ``w_min``.
    tail_f, tail_omega : float
        T = 0 only: closed-form tail beyond the last point, ``f -= tail_f E`` and
        ``Omega -= tail_omega E^2`` (matrices: ``tail_f h``, ``tail_omega Tr h^2``).
    """

    omega: np.ndarray
    weight: np.ndarray
    offset: float
    T: float
    E_max: float
    tol: float
    error: float
    method: str
    resolution: float = 0.0
    tail_f: float = 0.0
    tail_omega: float = 0.0

    @property
    def size(self):
        """Number of points ``w_p``."""
        return int(self.omega.size)

    def fermi(self, E):
        """The expansion of ``f(E)`` evaluated at real energies (for checks)."""
        E = np.asarray(E, dtype=float)[..., None]
        return 0.5 - np.sum(self.weight * 2 * E / (E * E + self.omega**2), axis=-1) - self.tail_f * E[..., 0]

    def grand_potential(self, E):
        """The expansion of the per-level grand potential ``Omega(E)`` (for checks)."""
        E = np.asarray(E, dtype=float)
        return E / 2 + self.offset - np.sum(self.weight * np.log1p((E[..., None] / self.omega) ** 2), axis=-1) - self.tail_omega * E * E


@functools.lru_cache(maxsize=64)
def ozaki_poles(N):
    """Ozaki's ``N`` poles ``z_p > 0`` (ascending) and residues ``R_p`` of ``tanh(x/2)/2``:

    ``1/(1 + e^x) ~ 1/2 - sum_p R_p 2 x / (x^2 + z_p^2)``.
    """
    from scipy.linalg import eigh_tridiagonal

    m = np.arange(1, 2 * N)
    off = 1.0 / (2.0 * np.sqrt((2.0 * m - 1.0) * (2.0 * m + 1.0)))
    b, v = eigh_tridiagonal(np.zeros(2 * N), off)
    pos = b > 0
    b, v0 = b[pos], v[0, pos]
    z = 1.0 / b
    R = v0**2 / (4.0 * b**2)
    order = np.argsort(z)
    z, R = z[order], R[order]
    z.setflags(write=False)
    R.setflags(write=False)
    return z, R


def _grid(X):
    """Check points on ``[0, X]``: dense near 0 (unit scale), geometric beyond."""
    lo = np.linspace(0.0, min(X, 60.0), 1201)
    if X <= 60.0:
        return lo
    return np.concatenate([lo, np.geomspace(60.0, X, 3000)])


def _ozaki_error(N, X):
    z, R = ozaki_poles(N)
    x = _grid(X)
    err = 0.0
    for a in range(0, x.size, 512):
        xx = x[a : a + 512, None]
        approx = 0.5 - np.sum(R * 2 * xx / (xx * xx + z * z), axis=1)
        with np.errstate(over="ignore"):
            exact = 0.5 - 0.5 * np.tanh(xx[:, 0] / 2)
        err = max(err, float(np.abs(approx - exact).max()))
    return err


@functools.lru_cache(maxsize=256)
def _ozaki_count(X, tol):
    """Smallest ``N`` on a ``x1.2`` ladder with error ``<= tol`` on ``|x| <= X``, and that error."""
    N = 8
    while True:
        err = _ozaki_error(N, X)
        if err <= tol:
            return N, err
        if N >= MAX_POLES:
            raise ValueError(
                f"the Ozaki pole expansion needs more than {MAX_POLES} poles for E_max / T = {X:.4g} at tol = {tol:g} "
                "(raise T or tol)"
            )
        N = min(MAX_POLES, max(N + 4, int(N * 1.2)))


def _round_up(X):
    """Round ``X`` up to the ladder ``2^(j/8)`` so that nearby requests share a cached expansion."""
    return float(2.0 ** (math.ceil(8 * math.log2(max(X, 1.0))) / 8))


@functools.lru_cache(maxsize=32)
def _gauss_panel(n):
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _panel_nodes(tol, half_width):
    """Gauss-Legendre order for a panel of half-width ``half_width`` (in ``ln w``) and its bound."""
    s = math.pi / (2 * half_width)
    rho = s + math.sqrt(1 + s * s)
    n = max(4, math.ceil(math.log(64.0 / tol) / (2 * math.log(rho))))
    return n, 64.0 * rho ** (-2 * n)


def pole_expansion(T, E_max, tol=DEFAULT_TOL, resolution=DEFAULT_RESOLUTION):
    """Imaginary-axis expansion of ``f`` and ``Omega`` accurate to ``tol`` on ``|E| <= E_max``.

    Parameters
    ----------
    T : float
        Temperature (units of t), ``>= 0``.  ``T > 0``: Ozaki poles; ``T = 0``: Gauss-Legendre
        quadrature of the imaginary-axis integral.
    E_max : float
        Bound on ``|E|`` for every level (units of t, measured from ``mu``), ``> 0``.
    tol : float
        Requested max error of ``f`` on the spectrum, ``1e-15 <= tol < 0.1``.
    resolution : float
        T = 0 only: ``w_min > 0`` (see the module docstring).

    Returns
    -------
    PoleExpansion

    Notes
    -----
    Number of points: ``T > 0`` grows like ``sqrt(E_max / T)`` (about 70 at ``E_max / T = 10^3``);
    ``T = 0`` grows like ``log(E_max / (tol^(1/3) w_min))`` (about 200 with the defaults).
    """
    T = check_temperature(T)
    E_max = real_number("spectral bound E_max", E_max, minimum=0.0, strict=True)
    tol = real_number("pole-expansion tolerance tol", tol, minimum=0.0, strict=True)
    if not (1e-15 <= tol < 0.1):
        raise ValueError(f"pole-expansion tolerance tol must be in [1e-15, 0.1), got {tol!r}")
    if T > 0:
        if 2.0 * math.sqrt(E_max / T) > MAX_POLES:
            raise ValueError(
                f"the Ozaki pole expansion would need more than {MAX_POLES} poles for E_max / T = {E_max / T:.4g} "
                "(use T = 0, which is exact to the T = 0 resolution, or the dense engine)"
            )
        X = _round_up(E_max / T)
        N, err = _ozaki_count(X, tol)
        z, R = ozaki_poles(N)
        return PoleExpansion(T * z, T * R, -T * math.log(2.0), T, E_max, tol, err, "ozaki")
    w_min = real_number("T = 0 resolution", resolution, minimum=0.0, strict=True)
    if w_min >= E_max:
        raise ValueError(f"T = 0 resolution must be below the spectral bound E_max = {E_max:g}, got {resolution!r}")
    w_max = max(E_max * (3 * math.pi * tol) ** (-1.0 / 3.0), 10 * w_min)
    # panel [0, w_min] in w: the integrands are analytic there for |E| >= 4 w_min
    n0, _ = _panel_nodes(tol, 0.5)
    x0, g0 = _gauss_panel(n0)
    omega = [0.5 * w_min * (x0 + 1)]
    weight = [0.5 * w_min * g0]
    # panels in u = ln w
    L = math.log(w_max / w_min)
    npan = max(1, math.ceil(L / PANEL))
    hw = 0.5 * L / npan
    n, err = _panel_nodes(tol, hw)
    x, g = _gauss_panel(n)
    for j in range(npan):
        u = math.log(w_min) + hw * (2 * j + 1 + x)
        w = np.exp(u)
        omega.append(w)
        weight.append(hw * g * w)
    omega = np.concatenate(omega)
    weight = np.concatenate(weight) / (2 * math.pi)
    # ln(1 + E^2/w^2) = ln(w^2 + E^2) - ln w^2: on [0, w_min] the first part is analytic, the
    # second (log-singular, the same for every level) is integrated exactly into the offset
    c0 = weight[:n0]
    offset = w_min * (math.log(w_min) - 1.0) / math.pi - float(np.sum(c0 * np.log(omega[:n0] ** 2)))
    error = err * npan + tol
    return PoleExpansion(omega, weight, offset, 0.0, E_max, tol, error, "imaginary-axis", w_min, 1.0 / (math.pi * w_max), 0.5 / (math.pi * w_max))
