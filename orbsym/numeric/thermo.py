"""Fermi occupations and the grand potential (Eqs. 12-13), numerically stable at any T >= 0.

Conventions (:mod:`orbsym.conventions`): ``mu`` is inside ``h``, so levels are measured from the
chemical potential; ``f(E) = 1 / (1 + exp(E / T))``; ``T = 0`` is the step function with a level
exactly at zero counted half occupied; ``F = -T sum_n ln(1 + exp(-E_n / T))``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["check_temperature", "fermi", "grand_potential_terms", "entropy_terms", "grand_potential_from_density_matrix"]


def check_temperature(T):
    """Return ``T`` as a float; raise ValueError unless it is a finite number >= 0."""
    try:
        Tf = float(T)
    except (TypeError, ValueError):
        raise ValueError(f"temperature T must be a number >= 0 (units of t), got {T!r}") from None
    if not np.isfinite(Tf) or Tf < 0:
        raise ValueError(f"temperature T must be a finite number >= 0 (units of t), got {T!r}")
    return Tf


def fermi(E, T):
    """Fermi-Dirac occupation ``f(E) = 1/(1 + exp(E/T))`` (Eq. 12); no overflow for any ``E/T``.

    ``T = 0`` gives ``1`` below zero, ``0`` above and ``1/2`` exactly at zero.
    """
    E = np.asarray(E, dtype=float)
    T = check_temperature(T)
    if T == 0:
        return np.where(E < 0, 1.0, np.where(E > 0, 0.0, 0.5))
    return expit(-E / T)


def grand_potential_terms(E, T):
    """Per-level grand potential ``-T ln(1 + exp(-E/T))`` (Eq. 13), as ``-T logaddexp(0, -E/T)``.

    At ``T = 0`` this is ``min(E, 0)``.
    """
    E = np.asarray(E, dtype=float)
    T = check_temperature(T)
    if T == 0:
        return np.minimum(E, 0.0)
    return -T * np.logaddexp(0.0, -E / T)


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
