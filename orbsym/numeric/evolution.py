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
That path keeps each ``rho_k`` as its orbitals, ``rho_k = c_k 1 + sum_j f_kj psi_kj psi_kj^dag``, and
forms every record from them: :func:`factored_bands` (one contraction over all momenta and orbitals
per band), then :func:`rates_from_bands` / :func:`density_hamiltonian_blocks` (the exact rates
``Tr(rho i[h, J_n])`` and the energy from ``sum_k w_k rho_k h_k``, whose diagonal blocks need only the
bands within the Hamiltonian's reach) and :func:`onsite_from_bands`; the tests compare each with the
full-matrix functions above.

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
    "hamiltonian_pieces",
    "hamiltonians",
    "thermal_state",
    "equilibrium_state",
    "correlation_bands",
    "band_phases",
    "factored_bands",
    "density_hamiltonian_blocks",
    "rates_from_bands",
    "onsite_from_bands",
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


def hamiltonian_pieces(lattice):
    """Real-space pieces ``(H0, C, S)`` of ``h_0(k) = H0 + cos k C + sin k S``, each ``(n, n)`` complex."""
    return _gauged_pieces(lattice, None)


def hamiltonians(lattice, k, A=0.0, out=None):
    """``h_0(k + A) = H0 + cos(k + A) C + sin(k + A) S`` for every k, shape ``(N_k, n, n)`` (complex),
    written into ``out`` if given (the same assembly as :func:`orbsym.numeric.bloch.bloch_hamiltonians`)."""
    H0, C, S = hamiltonian_pieces(lattice)
    kk = np.asarray(k, float) + float(A)
    h = np.empty((kk.size,) + H0.shape, complex) if out is None else out
    h[:] = H0
    for M, fn in ((C, np.cos), (S, np.sin)):
        r, c = np.nonzero(M)
        if r.size:
            h[:, r, c] += fn(kk)[:, None] * M[r, c][None, :]
    return h


#: Size of the scaled conjugate orbitals that :func:`factored_bands` forms at once (cache-sized chunks).
BAND_CHUNK_BYTES = 4e6

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


def band_phases(k, weights, N_y, dy, A=0.0, symmetric=False):
    """``w_k e^{i (k + A) dy} / N_y`` per momentum (``w_k cos(k dy) / N_y`` on the symmetric grid): the
    factor with which ``rho_k`` enters the correlation band ``(., dy)`` (see :func:`correlation_bands`)."""
    k = np.asarray(k, float)
    w = np.asarray(weights, float) / N_y
    if symmetric:
        if A != 0.0:
            raise ValueError("the symmetric k grid (0..pi) cannot carry a vector potential A != 0")
        return w * np.cos(k * dy)
    return w * np.exp(1j * (k + A) * dy)


def factored_bands(X, coef, identity, N_x, dim, pairs, symmetric=False, band=None):
    """Correlation bands (format of :func:`correlation_bands`) of states given by their orbitals.

    The state of momentum ``k`` is ``rho_k = c_k 1 + sum_j f_kj psi_kj psi_kj^dag``; the orbitals of
    all momenta stand side by side as the columns of ``X``, so that every band is one contraction
    over the combined index ``(k, j)``::

        bands[dx, dy][x]_ij = sum_(k,j) coef(dy)_kj X[(x+dx) dim + j', kj] conj(X[x dim + i, kj]) + delta_dx0 delta_ij identity(dy)

    (indices ``i, j`` of the band are the orbital indices at ``x`` and ``x + dx``).  This costs
    ``O(n K dim (D + 1))`` for ``K`` orbitals instead of ``O(N_k n^2 m)`` for forming every ``rho_k``.

    Parameters
    ----------
    X : ndarray (n_pad, K), complex
        Orbitals as columns; rows ``x dim + i`` for ``x < N_x``, and at least ``D dim`` rows of zeros
        after them (``D`` the largest ``|dx|`` of ``pairs``), so that the blocks ``(x, x + dx)`` with
        ``x + dx >= N_x`` read zeros (the hard wall).
    coef : callable
        ``coef(dy) -> (K,)``: the band phase of the orbital's momentum (:func:`band_phases`) times its
        occupation ``f_kj``.
    identity : callable
        ``identity(dy) -> complex``: ``sum_k c_k w_k e^{i (k + A) dy} / N_y`` (the ``c_k 1`` parts).
    symmetric : bool
        Real, even-in-``dy`` coefficients (the ``0..pi`` grid): ``bands[dx, -dy] = bands[dx, dy]``.
    band : int, optional
        ``D`` (default: the largest ``|dx|`` of ``pairs``).

    Notes
    -----
    ``coef(-dy) = conj(coef(dy))`` (real occupations and weights) gives
    ``bands[-dx, -dy][x + dx] = bands[dx, dy][x]^dag``: only ``dx >= 0`` is contracted.
    """
    N, d = int(N_x), int(dim)
    pairs = [(int(a), int(b)) for a, b in pairs]
    D = min(N - 1, max([abs(a) for a, _ in pairs] + [0])) if band is None else int(band)
    wide = [(a, b) for a, b in pairs if abs(a) > D]
    if any(abs(a) < N for a, _ in wide):
        raise ValueError(f"pairs {wide} reach beyond band = {D} inside the lattice (N_x = {N})")
    n, K = N * d, X.shape[1]
    if X.shape[0] < n + D * d:
        raise ValueError(f"X needs {n + D * d} rows (N_x dim plus D dim zero rows), got {X.shape[0]}")
    # the dy contracted directly: dx >= 0 as asked, dx < 0 from (-dx, -dy) by Hermiticity
    dys = sorted({(abs(b) if symmetric else (b if a >= 0 else -b)) for a, b in pairs})
    Xr = X[: n].reshape(N, d, K)
    s = X.strides
    windows = np.lib.stride_tricks.as_strided(X, shape=(N, (D + 1) * d, K), strides=(d * s[0], s[0], s[1]), writeable=False)
    coefs = [coef(dy) for dy in dys]
    Z = np.empty((N, len(dys) * d, (D + 1) * d), complex)
    # a few columns at a time: the scaled conjugates (n_dy d x K per column) stay in cache for their product
    cx = max(1, int(BAND_CHUNK_BYTES // (len(dys) * d * K * 16)))
    Y = np.empty((min(cx, N), len(dys), d, K), complex)
    for x0 in range(0, N, cx):
        x1 = min(N, x0 + cx)
        y = Y[: x1 - x0]
        np.conjugate(Xr[x0:x1], out=y[:, 0])
        for i in range(len(dys) - 1, -1, -1):  # y[:, 0] holds conj(X) until it is scaled last
            np.multiply(y[:, 0], coefs[i], out=y[:, i])
        np.matmul(y.reshape(x1 - x0, len(dys) * d, K), windows[x0:x1].transpose(0, 2, 1), out=Z[x0:x1])
    Z = Z.reshape(N, len(dys), d, D + 1, d)
    eye = np.eye(d)
    out = {}
    for a, b in pairs:
        if abs(a) >= N:  # no column pair that far apart: zero (as in correlation_bands)
            out[a, b] = np.zeros((N, d, d), complex)
        elif a >= 0:
            blk = Z[:, dys.index(abs(b) if symmetric else b), :, a, :].copy()
            if a == 0:
                blk += identity(b) * eye
            out[a, b] = blk
        else:
            src = Z[:, dys.index(abs(b) if symmetric else -b), :, -a, :]
            blk = np.zeros((N, d, d), complex)
            blk[-a:] = src[: N + a].conj().transpose(0, 2, 1)
            out[a, b] = blk
    return out


def _h_blocks(M, N, d, D):
    """Blocks ``M[(x + delta), x]`` of an ``(n, n)`` matrix for ``|delta| <= D``: ``{delta: (N, d, d)}``
    (zero where ``x + delta`` is outside the lattice)."""
    M4 = np.asarray(M).reshape(N, d, N, d)
    out = {}
    for delta in range(-D, D + 1):
        blk = np.zeros((N, d, d), complex)
        xs = np.arange(max(0, -delta), min(N, N - delta))
        blk[xs] = M4[xs + delta, :, xs, :]
        out[delta] = blk
    return out


def density_hamiltonian_blocks(bands, pieces, N_x, dim, band):
    """Diagonal blocks ``[sum_k w_k rho_k h_k / N_y]_(x, x)`` from the correlation bands and the real-space
    pieces ``(H0, C, S)`` of ``h_k = H0 + cos(k + A) C + sin(k + A) S``, shape ``(N_x, dim, dim)``.

    ``sum_k w_k e^{i (k + A) dy} rho_k / N_y`` is the band matrix ``G_dy[(x + dx) dim + j, x dim + i] =
    bands[dx, dy][x]_ij``, so ``sum_k w_k rho_k h_k / N_y = G_0 H0 + (G_1 + G_-1)/2 C + (G_1 - G_-1)/(2i) S``,
    of which only the blocks within ``band`` (the Hamiltonian's largest ``dx``) of the diagonal enter.
    ``C`` or ``S`` may be None (zero).
    """
    N, d, D = int(N_x), int(dim), int(band)
    out = np.zeros((N, d, d), complex)

    def G(delta, dy):  # block (x, x + delta) of G_dy, i.e. bands[-delta, dy][x + delta]^T
        blk = np.zeros((N, d, d), complex)
        b = bands.get((-delta, dy))
        if b is None:
            raise ValueError(f"correlation band (dx, dy) = {(-delta, dy)} is needed for the Hamiltonian's blocks")
        xs = np.arange(max(0, -delta), min(N, N - delta))
        blk[xs] = b[xs + delta].transpose(0, 2, 1)
        return blk

    terms = [(pieces[0], {0: 1.0})]
    if pieces[1] is not None and np.any(pieces[1]):
        terms.append((pieces[1], {1: 0.5, -1: 0.5}))
    if pieces[2] is not None and np.any(pieces[2]):
        terms.append((pieces[2], {1: -0.5j, -1: 0.5j}))
    for M, mix in terms:
        hb = _h_blocks(M, N, d, D)
        for delta in range(-D, D + 1):
            if not np.any(hb[delta]):
                continue
            g = sum(c * G(delta, dy) for dy, c in mix.items())
            out += np.matmul(g, hb[delta])  # block (x, x + delta) of G times block (x + delta, x) of h
    return out


def rates_from_bands(bands, pieces, ops, N_x, dim, band):
    """Exact rates ``sum_k w_k Tr(rho_k i[h_k, O_x]) / N_y`` per column from the correlation bands (the
    same numbers as :func:`onsite_rates`, without forming ``rho_k``), shape ``(len(ops), N_x)``."""
    A = density_hamiltonian_blocks(bands, pieces, N_x, dim, band)
    return -2.0 * np.einsum("oca,xac->ox", np.asarray(ops), A).imag


def onsite_from_bands(bands, ops):
    """``<c_x^dag O c_x>`` per column from the band ``(0, 0)`` (the same numbers as :func:`onsite_expectations`)."""
    return np.einsum("oij,xij->ox", np.asarray(ops), bands[0, 0]).real


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
