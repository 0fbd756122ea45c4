"""Fermi occupations and the grand potential (Eqs. 12-13), numerically stable at any T >= 0.

Conventions (:mod:`orbsym.conventions`): ``mu`` is inside ``h``, so levels are measured from the
chemical potential; ``f(E) = 1 / (1 + exp(E / T))``; ``T = 0`` is the step function with a level
exactly at zero counted half occupied; ``F = -T sum_n ln(1 + exp(-E_n / T))``.

Numerical edges
---------------
* Every formula is written in terms of ``exp(-|E| / T) <= 1``, so no ``T > 0`` -- however small,
  down to subnormal numbers -- and no ``|E|`` -- however large (``|mu| -> inf``: empty or full
  bands) -- overflows; underflow to exactly 0 is the correct limit and is silenced.
* At ``T = 0`` "exactly at zero" means within rounding of the eigensolver: a level with
  ``|E| <= zero_tol`` (callers pass a tolerance relative to the spectrum's scale,
  :func:`zero_level_tolerance`) counts as half occupied, so that the result does not depend on the
  sign of a ``1e-16`` rounding error (e.g. on the BLAS thread count).
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_temperature", "zero_level_tolerance", "fermi", "grand_potential_terms", "entropy_terms", "grand_potential_from_density_matrix"]


def check_temperature(T):
    """Return ``T`` as a float; raise ValueError unless it is a finite real number >= 0.

    Strings (``"0.01"`` as well as ``"hot"``), bools and complex numbers are rejected alike.
    """
    import numbers

    scalar_array = isinstance(T, np.ndarray) and T.ndim == 0 and T.dtype.kind in "iuf"
    if isinstance(T, (str, bytes, bool, np.bool_)) or not (isinstance(T, numbers.Real) or scalar_array):
        raise ValueError(f"temperature T must be a real number >= 0 (units of t), got {T!r}")
    try:
        Tf = float(T)
    except (TypeError, ValueError):
        raise ValueError(f"temperature T must be a number >= 0 (units of t), got {T!r}") from None
    if not np.isfinite(Tf) or Tf < 0:
        raise ValueError(f"temperature T must be a finite number >= 0 (units of t), got {T!r}")
    return Tf


def zero_level_tolerance(E):
    """Levels with ``|E|`` below this count as "exactly at zero" at ``T = 0``.

    ``ZERO_LEVEL_RTOL * max(1, max |E|)``: a few hundred times the rounding error of a Hermitian
    eigensolver on a matrix of that norm, far below any physical energy scale.
    """
    E = np.asarray(E, dtype=float)
    scale = float(np.max(np.abs(E), initial=0.0)) if E.size else 0.0
    return ZERO_LEVEL_RTOL * max(1.0, scale)


#: Relative tolerance of :func:`zero_level_tolerance`.
ZERO_LEVEL_RTOL = 1e-13


def fermi(E, T, zero_tol=0.0):
    """Fermi-Dirac occupation ``f(E) = 1/(1 + exp(E/T))`` (Eq. 12); no overflow for any ``E/T``.

    ``T = 0`` gives ``1`` below zero, ``0`` above and ``1/2`` for ``|E| <= zero_tol`` (default:
    exactly zero; see :func:`zero_level_tolerance`).
    """
    E = np.asarray(E, dtype=float)
    T = check_temperature(T)
    if T == 0:
        return np.where(np.abs(E) <= zero_tol, 0.5, np.where(E < 0, 1.0, 0.0))
    with np.errstate(over="ignore", under="ignore"):
        x = np.exp(-np.abs(E) / T)  # in [0, 1]
        low = 1.0 / (1.0 + x)  # occupation of a level below zero
        return np.where(E <= 0, low, x / (1.0 + x))


def grand_potential_terms(E, T):
    """Per-level grand potential ``-T ln(1 + exp(-E/T))`` (Eq. 13).

    Evaluated as ``min(E, 0) - T ln(1 + exp(-|E|/T))``: no overflow for any ``E/T``; empty levels
    (``E >> T``) give 0 and full ones (``-E >> T``) exactly ``E``.  At ``T = 0`` this is ``min(E, 0)``.
    """
    E = np.asarray(E, dtype=float)
    T = check_temperature(T)
    if T == 0:
        return np.minimum(E, 0.0)
    with np.errstate(over="ignore", under="ignore"):
        return np.minimum(E, 0.0) - T * np.log1p(np.exp(-np.abs(E) / T))


def entropy_terms(p):
    """Fermion entropy ``-p ln p - (1-p) ln(1-p)`` of occupations ``p`` (clipped to [0, 1])."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        s = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0) - np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)
    return s


def grand_potential_from_density_matrix(h, rho, T):
    """Grand potential ``Tr(h rho) - T S(rho)`` of a one-body density matrix.

    For the Gibbs state ``rho = f(h)`` this equals Eq. (13); it depends on ``rho`` only (not on a
    choice of eigenvectors), which is what makes it invariant under unitary mixing inside degenerate
    eigenspaces.  ``rho = G^T`` with ``G_ij = <c_i^dag c_j>`` (:mod:`orbsym.conventions`).
    """
    T = check_temperature(T)
    h = np.asarray(h)
    rho = np.asarray(rho)
    energy = float(np.real(np.einsum("ij,ji->", h, rho)))
    if T == 0:
        return energy
    p = np.linalg.eigvalsh(0.5 * (rho + rho.conj().T))
    return energy - T * float(entropy_terms(p).sum())
