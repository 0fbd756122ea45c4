"""Interlayer (RKKY) coupling by Lloyd's formula, for every spacer length in one column sweep.

Flipping the right ferromagnet changes only its on-site matrices: ``h_AP = h_P + dV`` with ``dV``
confined to the last ``N_FM`` columns.  With the imaginary-axis expansion of
:mod:`orbsym.numeric.poles` (``Tr Omega(h) = Tr h/2 + n Omega_0 - 2 sum_p c_p [ln|det(i w_p - h)| - n ln w_p]``)
the coupling is, per k and exactly for the expansion,::

    J = Omega_AP - Omega_P = Tr dV / 2 - 2 sum_p c_p ln|det(1 - G_P(i w_p) dV)|  (- tail_omega Tr(h_AP^2 - h_P^2))

and ``det(1 - G_P dV) = det(z - K_R - dV) / det(z - K_R)`` with ``K_R = H_RR + Sigma_L`` the right
ferromagnet's block plus the self-energy of everything to its left, ``Sigma_L = B^dag g_L B``
(``g_L`` the left-connected Green's function of FM_L + spacer, :mod:`orbsym.numeric.greens`).  So J
is the ratio of two ``N_FM dim``-sized determinants -- intensive, never a difference of two extensive
free energies -- and its expansion error is bounded by ``rank(dV)`` times the variation of the
per-level error (spectral shift), not by ``N_x``.

Sweep: ``g_L`` grows one spacer column at a time; after each column the right ferromagnet is attached
(one small determinant), which gives ``J(N_x)`` for every ``N_x`` up to the longest in one pass, cost
``O(N_x,max P_eff dim^3)``.  Conventions: :mod:`orbsym.conventions` (F per row, units of t).
"""

from __future__ import annotations

import math

import numpy as np

from .greens import _inv_det, _k_average, _lmul, _local_h_average, _log_abs_det_unit, _points, _rmul, spectral_bound
from .poles import DEFAULT_RESOLUTION, DEFAULT_TOL, pole_expansion
from .thermo import check_temperature

__all__ = ["lloyd_sweep"]

#: Memory budget (bytes) per batch of (k, w) points.
CHUNK_BYTES = 128 * 2**20


def _block_matrix(lat, cols, eik):
    """``h(k)`` restricted to the columns ``cols`` (consecutive), shape ``(m d, m d, batch)``."""
    d = lat.dim
    m = len(cols)
    out = np.zeros((m * d, m * d, eik.size), complex)
    for a, x in enumerate(cols):
        out[a * d : (a + 1) * d, a * d : (a + 1) * d] = lat.onsite[x][:, :, None] + lat.hop_y[x][:, :, None] * eik + lat.hop_y[x].conj().T[:, :, None] * eik.conj()
        if a + 1 < m:
            B = lat.hop_x[x]
            out[a * d : (a + 1) * d, (a + 1) * d : (a + 2) * d] = B[:, :, None]
            out[(a + 1) * d : (a + 2) * d, a * d : (a + 1) * d] = B.conj().T[:, :, None]
    return out


def lloyd_sweep(lat_P, lat_AP, N_FM, lengths, T, tol=DEFAULT_TOL, resolution=DEFAULT_RESOLUTION, N_y="lattice", chunk_bytes=CHUNK_BYTES):
    """``J(N_x) = F_AP - F_P`` per row for trilayers ``FM_L (N_FM) | spacer | FM_R (N_FM)``.

    Parameters
    ----------
    lat_P, lat_AP : Lattice
        The longest trilayer, parallel and antiparallel; they must differ only in the on-site
        matrices of the last ``N_FM`` columns, and the spacer columns must be identical.
    N_FM : int
        Width of each ferromagnet.
    lengths : sequence of int
        Total lengths ``N_x`` (``2 N_FM + 1 <= N_x <= lat_P.N_x``).
    T, tol, resolution :
        As in :func:`orbsym.numeric.greens.solve_greens`.
    N_y : int, None or "lattice"
        Rows (None: the k integral, ``N_y = infinity``).

    Returns
    -------
    ndarray
        ``J`` per row for each entry of ``lengths`` (units of t).
    """
    with np.errstate(under="ignore"):
        return _sweep(lat_P, lat_AP, N_FM, lengths, T, tol, resolution, N_y, chunk_bytes)


def _sweep(lat_P, lat_AP, N_FM, lengths, T, tol, resolution, N_y, chunk_bytes):
    T = check_temperature(T)
    if isinstance(N_y, str):
        N_y = lat_P.N_y
    elif N_y is not None and isinstance(N_y, float) and math.isinf(N_y):
        N_y = None
    N, d = lat_P.N_x, lat_P.dim
    lengths = np.asarray(lengths, dtype=int)
    if lengths.size == 0 or lengths.min() < 2 * N_FM + 1 or lengths.max() > N:
        raise ValueError(f"lengths must lie in [2 N_FM + 1, N_x] = [{2 * N_FM + 1}, {N}], got {lengths.tolist()}")
    right = list(range(N - N_FM, N))
    dV = lat_AP.onsite[right] - lat_P.onsite[right]
    same = np.allclose(lat_P.hop_x, lat_AP.hop_x, rtol=0, atol=1e-14) and np.allclose(lat_P.hop_y, lat_AP.hop_y, rtol=0, atol=1e-14)
    if not same or not np.allclose(lat_P.onsite[: N - N_FM], lat_AP.onsite[: N - N_FM], rtol=0, atol=1e-14):
        raise ValueError("Lloyd's formula needs h_AP - h_P confined to the on-site matrices of the right ferromagnet")
    spacer = range(N_FM, N - N_FM)
    ref = N_FM
    for x in spacer:
        if not (np.array_equal(lat_P.onsite[x], lat_P.onsite[ref]) and np.array_equal(lat_P.hop_y[x], lat_P.hop_y[ref])):
            raise ValueError("the one-pass sweep needs identical spacer columns")
    for x in range(N_FM + 1, N - N_FM - 1):
        if not np.array_equal(lat_P.hop_x[x], lat_P.hop_x[N_FM]):
            raise ValueError("the one-pass sweep needs identical spacer bonds")
    E_max = max(spectral_bound(lat_P), spectral_bound(lat_AP))
    exp = pole_expansion(T, E_max, tol, resolution)
    k, w, c, _ = _points(lat_P, exp, N_y, tol / (2 * d * N_FM), True)
    link = lat_P.hop_x[N - N_FM - 1]
    linkd = link.conj().T
    want = {int(L) - N_FM - 1: i for i, L in enumerate(lengths)}  # last left column -> output index
    last = max(want)
    out = np.zeros(lengths.size)
    m = N_FM * d
    per_point = 16 * (m * m * 12 + d * d * 24)
    batch = int(max(1, min(k.size, chunk_bytes // per_point)))
    dVb = np.zeros((m, m), complex)
    for a, x in enumerate(right):
        dVb[a * d : (a + 1) * d, a * d : (a + 1) * d] = dV[a]
    for a in range(0, k.size, batch):
        kk, ww, cc = k[a : a + batch], w[a : a + batch], c[a : a + batch]
        eik = np.exp(1j * kk)
        z = 1j * ww
        HRR = _block_matrix(lat_P, right, eik)
        prev = None
        for x in range(last + 1):
            K = lat_P.onsite[x][:, :, None] + lat_P.hop_y[x][:, :, None] * eik + lat_P.hop_y[x].conj().T[:, :, None] * eik.conj()
            if x > 0:
                K = K + _lmul(lat_P.hop_x[x - 1].conj().T, _rmul(prev, lat_P.hop_x[x - 1]))
            Mx = -K
            for i in range(d):
                Mx[i, i] += z
            prev = _inv_det(Mx)
            if x in want:
                KR = HRR.copy()
                KR[:d, :d] += _lmul(linkd, _rmul(prev, link))
                ld_P = _log_abs_det_unit(KR * (1.0 / z))
                ld_AP = _log_abs_det_unit((KR + dVb[:, :, None]) * (1.0 / z))
                out[want[x]] += -2.0 * float(np.dot(cc, ld_AP - ld_P))
    # the k-independent parts: Tr dV / 2 and the T = 0 tail -tail_omega <Tr h_AP^2 - Tr h_P^2>_k
    avgA = _local_h_average(lat_P, N_y, [0])[0][right]
    dtr2 = float(np.real(2 * np.einsum("xij,xji->", avgA, dV) + np.einsum("xij,xji->", dV, dV)))
    out += 0.5 * float(np.trace(dV, axis1=1, axis2=2).real.sum()) * _k_average(N_y, 0) - exp.tail_omega * dtr2
    return out
