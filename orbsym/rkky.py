"""RKKY coupling of FM/metal/FM trilayers by Lloyd's formula (Green's-function engine).

:func:`rkky_vs_length` gives ``J(N_x) = F_AP - F_P`` (per row, units of t; Fig. 5 of the paper) for
many trilayer lengths in one column sweep (:func:`orbsym.numeric.lloyd.lloyd_sweep`), at finite
``N_y`` or ``N_y = infinity`` (the k integral; no finite-size floor, so ``|J|`` down to ~1e-14 t is
resolved).  ``F_P`` has ``m_R`` parallel to ``m_L``, ``F_AP`` antiparallel, as in
:func:`orbsym.systems.rkky` (which uses the same code for ``engine="greens"``).

Imports: this module uses :mod:`orbsym.numeric` only; :mod:`orbsym.systems` imports it (for
:func:`~orbsym.systems.rkky`), never the other way round, so there is no import circle.  A system is
recognised by what :func:`orbsym.systems.trilayer` puts on it (``info["geometry"] == "trilayer"``
and a ``rebuild`` callable), not by its class.
"""

from __future__ import annotations

import math

import numpy as np

from .numeric.checks import integer_at_least, real_number
from .numeric.thermo import check_temperature

__all__ = ["rkky_vs_length", "rkky_directions"]


def rkky_directions(system):
    """Unit vector of ``m_L`` and the magnitude of ``m_R`` of a trilayer; ValueError otherwise.

    ``system`` must be a :func:`orbsym.systems.trilayer`: its ``info["geometry"]`` is
    ``"trilayer"`` and its ``rebuild`` is callable (checked without importing
    :mod:`orbsym.systems`, which imports this module).
    """
    info = getattr(system, "info", None)
    if not isinstance(info, dict) or info.get("geometry") != "trilayer" or not callable(getattr(system, "rebuild", None)):
        raise ValueError("rkky() needs a trilayer system from orbsym.systems.trilayer()")
    mL = np.array(system.info["m_L"], float)
    nL = np.linalg.norm(mL)
    if nL == 0:
        raise ValueError(f"rkky() needs a nonzero m_L to define parallel/antiparallel, got m_L = {tuple(mL.tolist())}")
    return mL / nL, float(np.linalg.norm(system.info["m_R"]))


def _rows(N_y, default):
    if N_y is None:
        return default
    if isinstance(N_y, float) and math.isinf(N_y):
        return None
    return integer_at_least("N_y", N_y, 1, " (rows), or float('inf') for N_y = infinity")


def rkky_vs_length(system, T, lengths=None, N_y=None, tol=1e-13):
    """``J(N_x)`` per row for the trilayers like ``system`` with the given total lengths.

    Parameters
    ----------
    system : System
        A :func:`orbsym.systems.trilayer` (its ``N_x`` is replaced by each length).
    T : float
        Temperature (units of t), ``>= 0``.
    lengths : sequence of int, optional
        Total lengths ``N_x >= 2 N_FM + 1``; default ``2 N_FM + 1 .. system N_x``.
    N_y : int or float('inf'), optional
        Rows; default the system's (``System.N_y``, possibly infinite).  ``float('inf')``: the k integral.
    tol : float
        Accuracy of the occupations in the pole expansion (:func:`orbsym.numeric.poles.pole_expansion`).

    Films (``N_z``): Lloyd's sweep per k_z sector, ``J`` per transverse cell (finite ``N_z``).

    Returns
    -------
    dict
        ``N_x`` (array), ``J`` (array, per row, units of t), ``N_y`` (None for infinity),
        ``T``, ``direction``, ``interface``, ``engine`` ("greens"), ``method`` ("lloyd").
    """
    from .numeric.lloyd import lloyd_sweep

    u, mag = rkky_directions(system)
    T = check_temperature(T)
    real_number("tol", tol, minimum=0.0, strict=True)
    N_FM = int(system.info["N_FM"])
    if lengths is None:
        lengths = np.arange(2 * N_FM + 1, int(system.info["N_x"]) + 1)
    lengths = np.array([integer_at_least("trilayer length N_x", int(L) if float(L).is_integer() else L, 2 * N_FM + 1) for L in lengths], dtype=int)
    rows = _rows(N_y, None if system.infinite else system.lattice.N_y)
    big = int(lengths.max())
    sP = system.rebuild(N_x=big, m_R=tuple(mag * u))
    sAP = system.rebuild(N_x=big, m_R=tuple(-mag * u))
    if getattr(system, "is_film", False):  # F is a sum over k_z sectors: J = N_z^-1 sum_kz w J_kz
        from .numeric.bloch import k_points

        if system.infinite_z:
            raise ValueError("rkky_vs_length() of a film needs a finite N_z (Lloyd's sweep runs per k_z sector); use rkky() for N_z = infinity")
        a, b = sP.lattice, sAP.lattice
        kz, wz = k_points(a.N_z, bool(a.z_symmetric and b.z_symmetric))
        J = sum(w * lloyd_sweep(a.sector(k), b.sector(k), N_FM, lengths, T, tol=tol, N_y=rows) for k, w in zip(kz, wz)) / a.N_z
    else:
        J = lloyd_sweep(sP.lattice, sAP.lattice, N_FM, lengths, T, tol=tol, N_y=rows)
    return {
        "N_x": lengths,
        "J": J,
        "N_y": rows,
        "T": T,
        "direction": [float(v) for v in u],
        "interface": system.interface,
        "engine": "greens",
        "method": "lloyd",
        "units": "t per row",
    }


# `orbsym.rkky` is also the public function orbsym.systems.rkky: calling this module calls it (orbsym/_entry.py)
from ._entry import make_callable  # noqa: E402

make_callable(__name__, "orbsym.systems", "rkky")
