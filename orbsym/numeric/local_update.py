"""Exponential midpoint steps for a local on-site perturbation, without an eigen-decomposition per step.

A precessing magnet changes only the on-site blocks of its columns: at every time
``h_k(t) = h_k^ref + P v(t) P^T`` with ``P`` the ``r = N_prec dim`` rows of the precessing columns
and ``v(t)`` a k-independent ``r x r`` Hermitian matrix (the exchange term's change).  The
exponential midpoint step of :mod:`orbsym.numeric.evolution` (method ``"exact"``) needs
``exp(-i h dt) psi`` for the occupied states ``psi``.  With ``h^ref = Q E Q^dag`` diagonalized ONCE
and ``phi = Q^dag psi``, ``W = P^T Q`` (``r x n``), the exact solution of ``i d phi/ds = (E + W^dag v W) phi``
on ``0 <= s <= dt`` (``h`` frozen) satisfies, with ``a(s) = W phi(s)`` (``r x m``)::

    a(s)      = W e^{-i E s} phi(0) - i int_0^s G(s - u) v a(u) du,      G(tau) = W e^{-i E tau} W^dag    (V1)
    phi(dt)   = e^{-i E dt} phi(0) - i int_0^dt e^{-i E (dt - u)} W^dag v a(u) du                        (V2)

(variation of constants).  ``a`` is entire in ``s``; it is collocated at ``M`` Gauss-Legendre
nodes of ``[0, dt]`` (Lagrange interpolant ``a(u) = sum_j a_j l_j(u)``), and the integrals of
``e^{-i E tau} l_j`` are done once per step length by Gauss-Legendre quadrature of order
``M + 24`` (exact to rounding for the polynomial times the exponential on the resolved interval).
(V1) becomes one ``(M r) x (M r)`` linear system per k and step; (V2) one matrix product.

Error: the only approximation is the interpolation of ``a(s)``, whose frequencies lie in the spectrum
of ``h`` (shifted to its centre): degree ``M - 1`` interpolation at Legendre nodes of ``e^{-i w s}`` on
an interval of length ``dt`` errs by at most ``2 (|w| dt / 4)^M / M!`` (|w| <= R, the half-width of the
spectrum of ``h``, bounded by that of ``h^ref`` plus ``||v||_2`` (Weyl)).  ``M`` is chosen so that this bound
is below ``1e-17`` (``M <= 48``; larger ``R dt`` is refused and the caller falls back to the
eigen-decomposition).  The result is the exponential midpoint step to rounding (tests compare with
the eigen-decomposition path to 1e-12).

Rank
----
Only ``v a`` enters (V1)-(V2): with ``v = U diag(lam) U^dag`` over its ``q`` nonzero eigenvalues
(``q = 2`` of ``r = 3`` for an exchange change ``-dm.L`` of t2g orbitals, whose ``L`` has the eigenvalue 0),
the unknowns ``alpha_j = U^dag a_j`` satisfy ``alpha_i + i sum_j U^dag K_ij U lam alpha_j = U^dag b_i``:
a ``(M q) x (M q)`` system per k instead of ``(M r) x (M r)``, and ``v a_j = U lam alpha_j``.  This is
the same step; eigenvalues zero to rounding (``|lam| <= 4 eps ||v||``) are left out.

Site basis
----------
With ``site=(N_x, dim, max_dx)`` the states are the site-basis orbitals ``psi = Q phi`` themselves (a
driver reads its records from them, so keeping ``phi`` would cost an ``n x n`` product per step).  The
same step is then ``psi(dt) = U0 psi - i int_0^dt U0(dt - u) P v a(u) du`` with the free propagator
``U0(s) = e^{-i (h_ref - c) s}``.  ``h_ref`` couples columns at most ``max_dx`` apart, so the block of
``(h_ref - c)^j`` between columns ``delta`` apart vanishes for ``j < delta / max_dx``, and with
``||h_ref - c|| <= R`` the block of ``U0(s)``, ``s <= dt``, is bounded by
``sum_{j >= ceil(delta / max_dx)} (R dt)^j / j!``.  Blocks beyond the distance where this bound falls
below ``SITE_TOL = 1e-18`` (the "reach", about 18 columns for ``R dt = 0.8``) are dropped: ``U0`` is
applied as a banded matrix, and ``b_i = P^T U0(s_i) psi`` and the correction read and write only the
rows within reach of the perturbed columns.  Cost per step and k:
``O(n min(n, 2 reach dim) m + reach dim r M m + (q M)^3 + (q M)^2 m)``, linear in ``N_x`` per state
for long strips.

Cost per step and k (eigenbasis): ``O(n r M m + (q M)^3 + (q M)^2 m)`` instead of a batched ``eigh``
(``~ 10 n^3``); one ``eigh`` per run.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LocalPropagator", "nodes_needed"]

#: Target bound on the interpolation error of one step (relative to the state's norm).
TARGET = 1e-17
MAX_NODES = 48
#: Eigenvalues of ``v`` below this fraction of ``||v||_2`` are zero to rounding (h changes by less than
#: its own rounding error): the collocation runs on the range of ``v`` without them.
RANK_RTOL = 4 * np.finfo(float).eps
#: Bound on the dropped blocks of the free propagator in the site basis (relative to the state's norm).
SITE_TOL = 1e-18


def nodes_needed(R, dt, target=TARGET):
    """Smallest ``M`` with ``2 (R dt / 4)^M / M! <= target`` (None if above ``MAX_NODES``)."""
    x = R * dt / 4.0
    for M in range(4, MAX_NODES + 1):
        if 2.0 * math.exp(M * math.log(max(x, 1e-300)) - math.lgamma(M + 1)) <= target:
            return M
    return None


def _lagrange(nodes, u):
    """``l_j(u_q)`` for Lagrange polynomials on ``nodes``: shape ``(len(u), len(nodes))``."""
    M = nodes.size
    out = np.ones((u.size, M))
    for j in range(M):
        for l in range(M):
            if l != j:
                out[:, j] *= (u - nodes[l]) / (nodes[j] - nodes[l])
    return out


class LocalPropagator:
    """``exp(-i (h^ref + P v P^T) dt) psi`` for stacks of states (see the module docstring).

    Parameters
    ----------
    h_ref : ndarray (N_k, n, n) or None
        Reference Hamiltonians (Hermitian).
    rows : sequence of int
        The ``r`` rows/columns ``P`` where ``h`` may differ from ``h_ref``.
    eig : (E, Q), optional
        The eigen-decomposition of ``h_ref`` if already known (then ``h_ref`` may be None).
    site : (N_x, dim, max_dx), optional
        States in the site basis (see "Site basis" in the module docstring): ``h_ref`` is block banded
        (``dim x dim`` blocks, nonzero for column distances ``<= max_dx``); :meth:`step` then takes and
        returns ``psi`` itself, and the free propagator is applied as a banded matrix.
    """

    def __init__(self, h_ref, rows, eig=None, site=None):
        E, Q = np.linalg.eigh(h_ref) if eig is None else eig
        self.E_ref, self.Q = E, Q
        self.rows = np.asarray(rows, int)
        c = 0.5 * (E[:, :1] + E[:, -1:])
        self.E = E - c  # common phase per k cancels in rho = psi f psi^dag
        self.R = float(np.max(0.5 * (E[:, -1] - E[:, 0])))
        self.W = np.ascontiguousarray(Q[:, self.rows, :])  # (N_k, r, n)
        self.site = None if site is None else tuple(int(v) for v in site)
        self._tables = {}
        self._free = {}

    def to_eigenbasis(self, psi):
        return np.matmul(self.Q.conj().transpose(0, 2, 1), psi)

    def from_eigenbasis(self, phi):
        return np.matmul(self.Q, phi)

    def _table(self, dt, vnorm):
        R = self.R + vnorm
        M = nodes_needed(R, dt)
        if M is None:
            return None
        key = float(f"{dt:.13e}")  # stored-time differences of a linspace agree to rounding
        tab = self._tables.get(key)
        if tab is not None and tab["M"] >= M:
            return tab
        if len(self._tables) > 8:
            self._tables.clear()
        E, W = self.E, self.W
        nk, r, n = W.shape
        x, _ = np.polynomial.legendre.leggauss(M)
        s = 0.5 * dt * (1.0 + x)  # collocation nodes on [0, dt]
        xq, wq = np.polynomial.legendre.leggauss(M + 24)
        e_nodes = np.exp(-1j * E[:, None, :] * s[None, :, None])  # (N_k, M, n)
        # right-hand side rows: b_i = W e^{-i E s_i} phi0  -> Wn[k, (i, a), l]
        Wn = (e_nodes[:, :, None, :] * W[:, None, :, :]).reshape(nk, M * r, n)
        WW = (W[:, :, None, :] * W.conj()[:, None, :, :]).reshape(nk, r * r, n)  # W_al conj(W_bl)
        K = np.empty((nk, M, r, M, r), complex)
        for i in range(M):
            u = 0.5 * s[i] * (1.0 + xq)  # quadrature on [0, s_i]
            lw = _lagrange(s, u) * (0.5 * s[i] * wq)[:, None]  # (Q, M)
            ex = np.exp(-1j * E[:, :, None] * (s[i] - u)[None, None, :])  # (N_k, n, Q)
            I = ex @ lw  # (N_k, n, M): int_0^{s_i} e^{-i E (s_i - u)} l_j(u) du
            Kij = np.matmul(WW, I)  # (N_k, r*r, M)
            K[:, i] = Kij.reshape(nk, r, r, M).transpose(0, 3, 1, 2).transpose(0, 2, 1, 3)  # (N_k, r_a, M_j, r_b)
        u = 0.5 * dt * (1.0 + xq)
        lw = _lagrange(s, u) * (0.5 * dt * wq)[:, None]
        J = np.exp(-1j * E[:, :, None] * (dt - u)[None, None, :]) @ lw  # (N_k, n, M)
        Wj = (J[:, :, :, None] * W.conj().transpose(0, 2, 1)[:, :, None, :]).reshape(nk, n, M * r)
        tab = {"M": M, "Wn": Wn, "K": K.reshape(nk, M * r, M, r), "Wj": Wj, "phase": np.exp(-1j * E * dt)[:, :, None]}
        if self.site is not None:  # the rows of W e^{-i E s} Q^dag and Q J W^dag within reach of the perturbed columns
            near = self._near(dt)
            Qh = self.Q.conj().transpose(0, 2, 1)
            tab["Wn"] = np.ascontiguousarray(np.matmul(Wn, Qh)[:, :, near])
            tab["Wj"] = np.ascontiguousarray(np.matmul(self.Q, Wj)[:, near, :])
            tab["near"] = near
        self._tables[key] = tab
        return tab

    # ------------------------------------------------------------------ site basis
    def reach(self, dt):
        """Column distance beyond which the blocks of ``e^{-i (h_ref - c) s}``, ``0 <= s <= dt``, are below
        ``SITE_TOL``: ``(h - c)^j`` has no block beyond ``j max_dx`` columns and ``||h - c|| <= R``, so a
        block ``delta`` columns away is bounded by ``sum_{j >= ceil(delta / max_dx)} (R dt)^j / j!``."""
        N, _, mdx = self.site
        x = self.R * dt
        j, term = 0, 1.0  # term = x^j / j!; sum_{i >= j} x^i / i! <= term / (1 - x / (j + 1)) once j + 1 > x
        while (j + 1 <= x or term / (1.0 - x / (j + 1)) > SITE_TOL) and j <= N * max(mdx, 1):
            j += 1
            term *= x / j
        # blocks delta columns away need j >= ceil(delta / max_dx) powers: kept while that power is below j
        return min(N - 1, max(0, (j - 1) * max(mdx, 1)))

    def _near(self, dt):
        """Rows (slice or index array) of the columns within :meth:`reach` of the perturbed columns."""
        N, d, _ = self.site
        B = self.reach(dt)
        cols = np.unique(self.rows // d)
        mask = np.zeros(N, bool)
        for c in cols:
            mask[max(0, c - B) : min(N, c + B + 1)] = True
        xs = np.nonzero(mask)[0]
        if xs.size and xs[-1] - xs[0] + 1 == xs.size:
            return slice(int(xs[0]) * d, (int(xs[-1]) + 1) * d)
        return (xs[:, None] * d + np.arange(d)[None, :]).reshape(-1)

    def free_slabs(self, dt):
        """``e^{-i (h_ref - c) dt}`` in the site basis as row slabs ``(rows, cols, block)``: the columns
        within :meth:`reach` of each slab's rows (one slab, dense, when the reach spans the strip)."""
        key = float(f"{dt:.13e}")
        slabs = self._free.get(key)
        if slabs is None:
            N, d, _ = self.site
            B = self.reach(dt)
            U0 = np.matmul(self.Q * np.exp(-1j * dt * self.E)[:, None, :], self.Q.conj().transpose(0, 2, 1))
            width = max(1, (B + 1) // 2) if B < N - 1 else N  # each slab reads width + 2 B columns
            slabs = []
            for x0 in range(0, N, width):
                x1 = min(N, x0 + width)
                c0, c1 = max(0, x0 - B), min(N, x1 + B)
                slabs.append((slice(x0 * d, x1 * d), slice(c0 * d, c1 * d), np.ascontiguousarray(U0[:, x0 * d : x1 * d, c0 * d : c1 * d])))
            if len(self._free) > 4:
                self._free.clear()
            self._free[key] = slabs
        return slabs

    def _free_step(self, psi, dt, out):
        if out is None:
            out = np.empty(psi.shape, complex)
        for rows, cols, U in self.free_slabs(dt):
            np.matmul(U, psi[:, cols], out=out[:, rows])
        return out

    def step(self, phi, v, dt, vmax=0.0, out=None, v_eig=None):
        """``phi(dt)`` for ``phi(0) = phi`` (eigenbasis of ``h_ref``, shape ``(N_k, n, m)``; the site-basis
        ``psi`` in ``site`` mode) under ``h = h_ref + P v P^T`` frozen over the step; None if ``R dt`` is
        too large for ``MAX_NODES`` (then ``out`` is untouched).  ``vmax``: expected largest ``||v||_2``
        of the run (sizes the node count once instead of growing it; a larger ``||v||`` rebuilds the
        table with more nodes).  ``out``: where to write the result (site mode; must not overlap ``phi``).
        ``v_eig``: ``numpy.linalg.eigh(v)`` if already known (a driver shares it among momentum groups).

        The collocation runs on the range of ``v`` (see "Rank" in the module docstring)."""
        v = np.asarray(v, complex)
        lam, U = v_eig if v_eig is not None else np.linalg.eigh(v) if v.size else (np.zeros(0), np.zeros((0, 0)))
        vnorm = float(np.abs(lam).max(initial=0.0))
        keep = np.abs(lam) > RANK_RTOL * vnorm
        site = self.site is not None
        if not keep.any():  # v = 0: h = h_ref, the free step (no collocation, any dt)
            if site:
                return self._free_step(phi, dt, out)
            return np.exp(-1j * dt * self.E)[:, :, None] * phi
        tab = self._table(dt, max(float(vmax), vnorm))
        if tab is None:
            return None
        M, K = tab["M"], tab["K"]
        nk, Mr = K.shape[0], K.shape[1]
        r, q = v.shape[0], int(keep.sum())
        b = np.matmul(tab["Wn"], phi[:, tab["near"]] if site else phi)  # (N_k, M r, m)
        if q == r:
            A = np.tensordot(K, 1j * v, axes=(3, 0)).reshape(nk, Mr, Mr)  # i K_ij v (block columns j); one GEMM
            A[:, np.arange(Mr), np.arange(Mr)] += 1.0
            a = np.linalg.solve(A, b)
            va = np.matmul(-1j * v, a.reshape(nk, M, r, -1))  # -i v a_j
        else:  # unknowns alpha_j = U^dag a_j on the range of v = U diag(lam) U^dag
            U, lam = U[:, keep], lam[keep]
            Mq = M * q
            m = phi.shape[2]
            # contractions over r as stacked small products (cheaper here than transposed copies for one GEMM)
            bq = np.matmul(U.conj().T, b.reshape(nk, M, r, m)).reshape(nk, Mq, m)
            KU = np.matmul(K.reshape(-1, r), U * (1j * lam)).reshape(nk, M, r, Mq)  # K (1 x U) i lam
            A = np.matmul(U.conj().T, KU).reshape(nk, Mq, Mq)  # (1 x U^dag) K (1 x U) i lam
            A[:, np.arange(Mq), np.arange(Mq)] += 1.0
            alpha = np.linalg.solve(A, bq).reshape(nk, M, q, m)
            va = np.matmul(U * (-1j * lam), alpha)  # -i v a_j = U (-i lam) alpha_j
        corr = np.matmul(tab["Wj"], va.reshape(nk, Mr, -1))
        if site:
            out = self._free_step(phi, dt, out)
            out[:, tab["near"]] += corr
            return out
        corr += tab["phase"] * phi
        return corr
