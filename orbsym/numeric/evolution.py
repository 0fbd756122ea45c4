"""Real-time evolution of the one-body density matrix per k_y block (NumPy only; no SymPy).

State
-----
Translation invariance in y is kept by every drive orbsym offers (a uniform field along y enters as
``k -> k + A_y(t)``), so the momentum blocks never mix.  The state is the stack of one-body
density matrices ``rho_k`` (shape ``(N_k, n, n)``, ``n = N_x dim``, rows ``x * dim + i`` as in
:mod:`orbsym.numeric.bloch`) with ``rho_k[b, a] = <c^dag_{a,k} c_{b,k}>`` (``rho = G^T``,
:mod:`orbsym.conventions`); the thermal state is ``rho_k = f(h_k)``.  Real-space correlations::

    G(x, x'; dy)_ij = <c^dag_{x,y,i} c_{x',y+dy,j}> = N_y^-1 sum_k w_k e^{i (k + A) dy} rho_k[x' dim + j, x dim + i]

(:func:`correlation_bands`; the factor ``e^{i A dy}`` turns the canonical into the kinetic
momentum -- see "Vector potential" -- and ``A = 0`` reproduces :func:`~orbsym.numeric.bloch.solve_bloch`).

Equation of motion (hbar = 1, time in units of 1/t)
---------------------------------------------------
::

    d rho_k / dt = -i [h_k(t), rho_k] - (rho_k - f(h_k(t))) / tau_r                       (1)

The second term (optional, ``tau_r = inf`` switches it off) is a relaxation-time model: every
k-block relaxes toward the instantaneous grand-canonical equilibrium ``f(h_k(t))`` at the bath's
``T`` and ``mu`` (``mu`` is inside ``h``).  It adds to the continuity equation of any on-site
operator ``J_n`` its own source::

    relaxation_n = -(<J_n> - <J_n>_eq) / tau_r,         <J_n>_eq  evaluated on f(h(t)).

It does NOT conserve the particle number (neither locally nor in total): the bath exchanges
particles, so the charge channel also has this source.  Equation (1) is what the continuity check
of :mod:`orbsym.dynamics` uses: ``d<J_n>/dt = -div j + tau + relaxation``.

Vector potential
----------------
A uniform field along y, ``E = -dA/dt``, enters through the Peierls phase ``t_y -> t_y e^{i A}``,
i.e. ``h_k(t) = h_0(k + A(t))``.  The derived kernels are written for the bare hopping ``t_y``;
they are evaluated on the gauge-transformed correlations ``G~(dy) = e^{i A dy} G(dy)``
(``c_y = e^{-i A y} c~_y`` removes the phase from the Hamiltonian at that instant), which makes
currents and torques the gauge-invariant (kinetic) ones.  On-site operators are unchanged.

Propagators
-----------
``"exact"``  exponential midpoint rule: ``rho -> U rho U^dag``, ``U = exp(-i h(t + dt/2) dt)``
             by eigen-decomposition; with relaxation the step solves (1) exactly for ``h`` frozen
             at the midpoint (``rho -> rho_eq + e^{-dt/tau_r} U (rho - rho_eq) U^dag``).  Exact for
             piecewise-constant ``h`` (quenches on the grid), global error ``O(dt^2)`` for smooth drives.
``"magnus4"`` fourth-order commutator-free Magnus integrator (two exponentials per step at the
             Gauss-Legendre nodes ``c_{1,2} = 1/2 -+ sqrt(3)/6``, weights
             ``a_{1,2} = (3 -+ 2 sqrt 3)/12``)::

                 U = exp(-i dt (a1 h1 + a2 h2)) exp(-i dt (a2 h1 + a1 h2))

             Global error ``O(dt^4)``; unitary.  Without relaxation only.

For a precession alone ``"exact"`` runs on :mod:`orbsym.numeric.local_update` (the same midpoint
step to rounding, without an ``eigh`` per step; :mod:`orbsym.dynamics` chooses it and falls back here).

Both are exponential integrators: their error is controlled by the drive's rate of change
(commutators of ``h`` at different times), not by the bandwidth, so ``dt`` may be comparable to
``1/t``.  Cost per step ``O(N_k n^3)`` (batched ``eigh`` and matrix products).

Symmetric grid
--------------
If every ``t_y`` is Hermitian and there is no vector potential, ``h_k(t) = h_{-k}(t)`` at all times
(``h = H0 + cos k C``); the thermal state has ``rho_k = rho_{-k}`` and (1) preserves it (same
equation, same initial value), so only ``0 <= k <= pi`` is propagated, with the weights of
:func:`orbsym.numeric.bloch.k_points`.  Any field along y, or complex ``t_y``, uses the full grid.
"""

from __future__ import annotations

import numpy as np

from .bloch import _gauged_pieces, k_points
from .thermo import check_temperature, fermi, zero_level_tolerance

__all__ = [
    "METHODS",
    "ORDERS",
    "momentum_grid",
    "hamiltonians",
    "thermal_state",
    "equilibrium_state",
    "correlation_bands",
    "onsite_expectations",
    "onsite_rates",
    "energy",
    "step",
    "propagate",
    "hermitize",
]

#: Propagators and their global error order in the time step.
METHODS = ("exact", "magnus4")
ORDERS = {"exact": 2, "magnus4": 4}

_SQ3 = np.sqrt(3.0)
_C1, _C2 = 0.5 - _SQ3 / 6, 0.5 + _SQ3 / 6
_A1, _A2 = (3 - 2 * _SQ3) / 12, (3 + 2 * _SQ3) / 12


def momentum_grid(N_y, symmetric):
    """Momenta and weights (``sum w = N_y``): ``0..pi`` if ``symmetric`` (see module docstring)."""
    return k_points(N_y, symmetric)


def hamiltonians(lattice, k, A=0.0, out=None):
    """``h_0(k + A) = H0 + cos(k + A) C + sin(k + A) S`` for every k, shape ``(N_k, n, n)`` (complex),
    written into ``out`` if given (the same assembly as :func:`orbsym.numeric.bloch.bloch_hamiltonians`)."""
    H0, C, S = _gauged_pieces(lattice, None)
    kk = np.asarray(k, float) + float(A)
    h = np.empty((kk.size,) + H0.shape, complex) if out is None else out
    h[:] = H0
    for M, fn in ((C, np.cos), (S, np.sin)):
        r, c = np.nonzero(M)
        if r.size:
            h[:, r, c] += fn(kk)[:, None] * M[r, c][None, :]
    return h


#: Reusable work buffers (large fresh arrays cost page faults comparable to a matrix product).
_WORK = {}


def work_buffer(name, shape, dtype=complex):
    """A cached scratch array (contents undefined); never returned to callers of this module."""
    key = (name, tuple(shape), np.dtype(dtype))
    buf = _WORK.get(key)
    if buf is None:
        if len(_WORK) > 24:
            _WORK.clear()
        buf = _WORK[key] = np.empty(shape, dtype)
    return buf


def _conj_t(M, name):
    """``M^dag`` per k as a transposed view of a conjugated work buffer."""
    return np.conjugate(M, out=work_buffer(name, M.shape, M.dtype)).transpose(0, 2, 1)


def hermitize(rho):
    """``(rho + rho^dag) / 2`` in place (returns ``rho``)."""
    rho += _conj_t(rho, "herm")
    rho *= 0.5
    return rho


def _eigh(h):
    E, Q = np.linalg.eigh(h)
    return E, Q


def _occupations(E, T):
    return fermi(E, T, zero_level_tolerance(E))


def _from_eigen(Q, d):
    """``Q diag(d) Q^dag`` for stacked eigenvectors."""
    return (Q * d[:, None, :]) @ Q.conj().transpose(0, 2, 1)


def equilibrium_state(h, T):
    """``f(h_k)`` for every k (the instantaneous equilibrium of the relaxation model)."""
    T = check_temperature(T)
    E, Q = _eigh(h)
    return _from_eigen(Q, _occupations(E, T).astype(complex))


def thermal_state(lattice, T, k, A=0.0):
    """Thermal density matrices ``rho_k = f(h_k)`` (Eq. 12), shape ``(N_k, n, n)``."""
    return equilibrium_state(hamiltonians(lattice, k, A), T)


def correlation_bands(rho, k, weights, N_y, N_x, dim, pairs, A=0.0, symmetric=False):
    """Correlation bands ``{(dx, dy): G(x, x+dx; dy)}`` from ``rho_k`` (format of ``solve_bloch``).

    ``bands[dx, dy][x]_ij = N_y^-1 sum_k w_k e^{i (k + A) dy} rho_k[(x+dx) dim + j, x dim + i]``,
    zero where ``x + dx`` is outside the lattice.  ``symmetric``: ``k`` covers ``0..pi`` only and
    ``rho_{-k} = rho_k`` (no vector potential), so the phase is ``cos(k dy)``.
    """
    N, d = N_x, dim
    r = rho.reshape(rho.shape[0], N, d, N, d)
    k = np.asarray(k, float)
    w = np.asarray(weights, float) / N_y
    if symmetric and A != 0.0:
        raise ValueError("the symmetric k grid (0..pi) cannot carry a vector potential A != 0")
    out = {}
    groups = {}
    for dx, dy in pairs:
        groups.setdefault(int(dx), []).append(int(dy))
    for dx, dys in groups.items():
        for dy in dys:
            out[dx, dy] = np.zeros((N, d, d), complex)
        if abs(dx) >= N:
            continue
        lo, hi = max(0, -dx), min(N, N - dx)
        xs = np.arange(lo, hi)
        blk = r[:, xs + dx, :, xs, :]  # (len xs, N_k, d_j, d_i): advanced indices first
        for dy in dys:
            ph = w * (np.cos(k * dy) if symmetric else np.exp(1j * (k + A) * dy))
            g = np.tensordot(ph, blk, axes=(0, 1))  # (len xs, j, i)
            out[dx, dy][lo:hi] = g.transpose(0, 2, 1)
    return out


def onsite_expectations(rho, ops, weights, N_y, N_x):
    """``<c_x^dag O c_x>`` per column for each ``(dim, dim)`` matrix in ``ops``: shape ``(len(ops), N_x)``."""
    ops = np.asarray(ops)
    d = ops.shape[-1]
    r = rho.reshape(rho.shape[0], N_x, d, N_x, d)
    diag = np.einsum("kxixj->kxij", r)  # rho[x j? ] -> diag[k, x, i, j] = rho_k[x i, x j]
    w = np.asarray(weights, float) / N_y
    # <c^dag O c> = Tr(O rho_xx) = sum_ij O_ij rho[x j, x i]
    val = np.einsum("k,oij,kxji->ox", w, ops, diag)
    return val.real


def onsite_rates(rho, h, ops, weights, N_y, N_x):
    """Exact rates ``Tr(rho_k i[h_k, O_x])`` per column (weighted k-average), shape ``(len(ops), N_x)``.

    Computed directly from the matrices: ``Tr(rho i[h, O_x]) = -2 Im Tr(O (rho h)_{xx})`` with the
    diagonal blocks of ``rho h`` formed by batched ``(dim x n) @ (n x dim)`` products (no kernel).
    """
    ops = np.asarray(ops)
    d = ops.shape[-1]
    nk, n = rho.shape[0], rho.shape[1]
    rows = rho.reshape(nk, N_x, d, n)  # rho[k, x a, :]
    cols = h.reshape(nk, n, N_x, d).transpose(0, 2, 1, 3)  # h[k, :, x c] -> (k, x, n, d)
    A = rows @ cols  # (k, x, d, d): (rho h)_{xa, xc}
    w = np.asarray(weights, float) / N_y
    z = np.einsum("k,oca,kxac->ox", w, ops, A)  # Tr(O A_xx) = sum O_ca A_ac
    return -2.0 * z.imag


def energy(rho, h, weights, N_y):
    """``sum_k w_k Tr(h_k rho_k) / N_y``: energy per row (measured with ``mu`` inside ``h``)."""
    w = np.asarray(weights, float) / N_y
    return float(np.einsum("k,kab,kba->", w, h, rho).real)


def _unitary(h, dt):
    E, Q = _eigh(h)
    return _from_eigen(Q, np.exp(-1j * dt * E))


def _conjugate(U, rho):
    return U @ rho @ U.conj().transpose(0, 2, 1)


def step(rho, hfun, t, dt, method="exact", T=None, tau_r=None):
    """One step ``t -> t + dt`` of Eq. (1).

    Parameters
    ----------
    rho : ndarray (N_k, n, n)
    hfun : callable
        ``hfun(s) -> (N_k, n, n)`` Hamiltonians at time ``s``.
    method : {"exact", "magnus4"}
    T, tau_r : float, optional
        Bath temperature and relaxation time (``tau_r=None``: no relaxation); ``"exact"`` only.
    """
    if method == "exact":
        h = hfun(t + 0.5 * dt)
        E, Q = _eigh(h)
        QH = _conj_t(Q, "qh")
        ph = np.exp(-1j * dt * E)
        if tau_r is None:
            np.multiply(Q, ph[:, None, :], out=Q)
            U = np.matmul(Q, QH, out=work_buffer("u", Q.shape))
            X = np.matmul(U, rho, out=work_buffer("x", Q.shape))
            return np.matmul(X, _conj_t(U, "qh"))
        r = np.matmul(np.matmul(QH, rho, out=work_buffer("x", Q.shape)), Q, out=work_buffer("u", Q.shape))
        f = _occupations(E, T)
        idx = np.arange(E.shape[1])
        r[:, idx, idx] -= f
        r *= ph[:, :, None]
        r *= ph.conj()[:, None, :]
        r *= np.exp(-dt / tau_r)
        r[:, idx, idx] += f
        return np.matmul(np.matmul(Q, r, out=work_buffer("x", Q.shape)), QH)
    if method == "magnus4":
        if tau_r is not None:
            raise ValueError("method 'magnus4' does not support relaxation; use method 'exact' with a relaxation time tau_r")
        h1, h2 = hfun(t + _C1 * dt), hfun(t + _C2 * dt)
        U = _unitary(_A1 * h1 + _A2 * h2, dt) @ _unitary(_A2 * h1 + _A1 * h2, dt)
        return _conjugate(U, rho)
    raise ValueError(f"unknown propagator {method!r}; allowed: {', '.join(METHODS)}")


def propagate(rho, hfun, t0, t1, nsteps, method="exact", T=None, tau_r=None):
    """``nsteps`` equal steps from ``t0`` to ``t1``; returns the new ``rho`` (Hermitized)."""
    if nsteps < 1:
        return rho.copy()
    dt = (t1 - t0) / nsteps
    for i in range(nsteps):
        rho = step(rho, hfun, t0 + i * dt, dt, method, T, tau_r)
    return hermitize(rho)
