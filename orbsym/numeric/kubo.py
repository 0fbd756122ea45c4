"""Linear response to a static, uniform electric field along y (Kubo, density-matrix form).

Model of the driven, damped state
---------------------------------
The field enters through the vector potential, ``h(k) -> h(k - q A(t))`` with ``E_y = -dA/dt``
(Peierls phase ``e^{-i q A dy}`` on every bond with a y component; ``q`` is the particles'
charge, ``q = -e`` for electrons).  The one-body density matrix of every Bloch block relaxes with
the constant rate ``eta`` toward the instantaneous equilibrium state::

    d rho / dt = -i [h(t), rho] - eta (rho - f(h(t)))                    (hbar = 1).

In a static field the kinetic momentum ``kappa = k - q A = k + q E t`` drifts uniformly, and the
steady state to first order in ``E`` is ``rho = f(h) + q E_y delta(kappa)`` with::

    -i [h, delta] - eta delta = d f(h(k)) / dk.

In the eigenbasis of ``h(k)`` (energies ``E_n``, velocity ``v = dh/dk``)::

    delta_nm = - F_nm v_nm / (eta + i (E_n - E_m)),
    F_nm = (f(E_n) - f(E_m)) / (E_n - E_m)      (``f'(E_n)`` inside a degenerate subspace).

``delta`` depends only on the energies and on ``v`` between eigenspaces, so it is independent of
the choice of eigenvectors in degenerate subspaces (it is the matrix function ``F`` applied to
``v``, not a sum over single eigenvectors).  It is Hermitian.

Parts
-----
``1/(eta + i D) = eta/(eta^2 + D^2) - i D/(eta^2 + D^2)`` with ``D = E_n - E_m``:

* ``fermi_surface``: ``-F eta/(eta^2 + D^2) v`` -- the intraband (Drude, ``-f' v / eta``) term plus
  interband terms that vanish as ``eta -> 0`` for non-degenerate bands; only states within ``~T``
  and ``~eta`` of the Fermi level contribute.
* ``fermi_sea``: ``i (f_n - f_m)/(eta^2 + D^2) v`` (zero inside degenerate subspaces) -- for
  ``eta -> 0`` the intrinsic, Berry-curvature-like (TKNN) term, a sum over occupied states.

The response of any kernel operator ``O`` (density, bond and Eq. 7 currents, every torque) per
unit force ``q E_y`` is ``<O>_delta``: it is evaluated by :class:`orbsym.numeric.Observables`
on the response bands ``dG(x, x + dx; dy) = N_y^{-1} sum_k e^{i k dy} delta(k)^T`` (the same
layout as the equilibrium bands; ``G = rho^T``).  The equilibrium state's own response to a
static ``A`` (persistent currents of a finite ring) is not part of the response to ``E``.

Continuity balance
------------------
Taking ``Tr(J_n .)`` of the steady-state equation gives, exactly and for every column::

    d<J_n>/dt|_delta = -div j + tau = eta <J_n>_delta + D_n,      D_n = N_y^{-1} sum_k Tr(J_n df/dk),

the driven divergence and torques are balanced by the relaxation of the driven accumulation
(``eta <J_n>_delta``; the accumulation rate that the relaxation removes) and by ``D_n``, a sum of
the k-derivative of a smooth periodic function over the ``N_y`` momenta: zero for ``N_y -> inf``
(exponentially small in ``N_y T``) and computed exactly for finite ``N_y`` (part ``drive``).

Other drives
------------
``perturbation=W`` replaces the field by the rate ``d lambda/dt`` of an on-site parameter with
``dh/d lambda = W`` (a precessing magnetization: orbital pumping; a ramped orbital Zeeman field):
``delta_nm = -F_nm W_nm / (eta + i (E_n - E_m))``, the same formula with ``v -> W``.  Because
``K_mn = conj(K_nm)``, the response of ``A`` to drive ``B`` equals the response of ``B`` to drive ``A``
for the Fermi-surface part and its negative for the Fermi-sea part (Onsager reciprocity,
:meth:`orbsym.response.Response.reciprocity`).  For such drives ``D_n`` is the adiabatic rate
``Tr(J_n df/d lambda)``, which does not vanish for ``N_y -> inf``.

Units
-----
``e = hbar = a = 1``, energies (``eta`` as ``hbar eta``, ``T``) in units of ``t``.  A response
``chi`` means ``delta<O> = chi * q E_y a / t`` in the units of ``O`` (densities per site,
currents and torques in ``t / hbar`` per bond / site); for electrons ``q E_y = -e E_y``.

Evaluation
----------
Per k point (half the zone when ``h(-k) = h(k)``): one ``eigh`` of ``h(k)`` (the tridiagonal
eigensolver when the real ``h(k)`` is tridiagonal in some order of the states, e.g. the paper's
trilayer with ``m_L = x, m_R = y``), ``V = U^dag v U`` with the sparse ``v``, the factors of every part
fused in place, and two products: the Fermi-surface part (Hermitian) and the Fermi-sea part without
its ``i`` (anti-Hermitian) share one transform ``U X U^dag`` and are told apart on the band, the
drive has the other; only the band ``(x + dx, x)`` of ``(U X) U^dag`` is formed.  The ``eigh`` is
the floor (``~n^3``; 55-65 % of the time at ``N_x = 25``); see ``derivations/kubo-greens.md`` for
why there is no pole-sum (linear in ``N_x``) form of this relaxation-time response.

Conventions: :mod:`orbsym.conventions`.  No SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..execution import blas_limited
from .bloch import _assemble, _gauged_pieces, _zero_tol, k_points, real_gauge
from .checks import real_number
from .thermo import check_temperature, fermi

__all__ = ["PARTS", "KuboSolution", "solve_kubo", "velocity", "divided_difference", "response_factors", "bulk_hamiltonian", "bulk_hall"]

#: Parts of the response (:func:`solve_kubo`); ``total = fermi_surface + fermi_sea``.
PARTS = ("total", "fermi_surface", "fermi_sea", "drive")
#: Memory budget (bytes) per chunk of k-points.
CHUNK_BYTES = 128 * 2**20
#: Target size (bytes) of one real ``n x n`` stack of a chunk (cache-sized elementwise passes).
CACHE_BYTES = 2**20
#: Energies closer than this (relative to the spectrum scale) are one degenerate subspace.
DEGENERACY_RTOL = 1e-9


def fermi_derivative(E, T):
    """``f'(E) = -f(E)(1 - f(E))/T`` (zero at ``T = 0``: the step has no weight on a discrete grid)."""
    E = np.asarray(E, dtype=float)
    if T == 0:
        return np.zeros_like(E)
    x = -np.abs(E) / T
    with np.errstate(under="ignore"):
        ex = np.exp(x)
    return -ex / (T * (1.0 + ex) ** 2)


def divided_difference(E, T, tol, zero_tol=0.0):
    """``F_nm = (f_n - f_m)/(E_n - E_m)``, ``f'((E_n + E_m)/2)`` for ``|E_n - E_m| <= tol``.

    ``E`` has shape ``(..., n)``; returns ``(F, D, degenerate)`` with ``D = E_n - E_m``.
    """
    f = fermi(E, T, zero_tol)
    D = E[..., :, None] - E[..., None, :]
    deg = np.abs(D) <= tol
    F = f[..., :, None] - f[..., None, :]
    _divide_off_degenerate(F, D, deg, E, T)
    return F, D, deg


def _divide_off_degenerate(num, D, deg, E, T):
    """In place: ``num / D`` off the degenerate pairs, ``f'`` of the mean energy on them.

    ``f'`` is evaluated on the (few) degenerate pairs only, not on all ``n^2``.
    """
    idx = np.nonzero(deg)
    Dsafe = D.copy()
    Dsafe[idx] = 1.0
    np.divide(num, Dsafe, out=num)
    lead = idx[:-2]
    num[idx] = fermi_derivative(0.5 * (E[lead + (idx[-2],)] + E[lead + (idx[-1],)]), T)


def response_factors(E, T, eta, tol, zero_tol=0.0):
    """Eigenbasis factors ``K`` with ``delta_nm = K_nm v_nm`` for each part.

    Returns ``{"fermi_surface": K_s, "fermi_sea": K_e, "drive": F}``; ``eta = 0`` is allowed for the
    Fermi-sea part only (the Fermi-surface part then diverges and is returned as None).
    """
    F, D, deg = divided_difference(E, T, tol, zero_tol)
    den = eta * eta + D * D
    out = {"drive": F}
    with np.errstate(divide="ignore", invalid="ignore"):
        # i (f_n - f_m)/(eta^2 + D^2) = i F D / den; zero inside degenerate subspaces
        out["fermi_sea"] = np.where(deg, 0.0, 1j * F * D / np.where(deg, 1.0, den))
        out["fermi_surface"] = None if eta == 0 else -F * eta / den
    return out


def _sorted_degenerate_pairs(E, tol):
    """Index arrays ``(k, i, j)`` of the pairs ``|E_i - E_j| <= tol`` for ascending ``E`` (``(nk, n)``).

    The diagonal and, for each offset ``o = 1, 2, ...``, the pairs ``(i, i + o)`` and ``(i + o, i)``
    with ``E_{i+o} - E_i <= tol``; ascending order ends the search at the first offset without one
    (no ``n^2`` pass).  The same set as ``np.nonzero(np.abs(D) <= tol)``, in another order.
    """
    nk, n = E.shape
    ks, rows, cols = [np.repeat(np.arange(nk), n)], [np.tile(np.arange(n), nk)], []
    cols.append(rows[0])
    for o in range(1, n):
        hit = (E[:, o:] - E[:, :-o]) <= tol
        if not hit.any():
            break
        kk, ii = np.nonzero(hit)
        ks += [kk, kk]
        rows += [ii, ii + o]
        cols += [ii + o, ii]
    return np.concatenate(ks), np.concatenate(rows), np.concatenate(cols)


def _path_order(*mats):
    """An order of the states in which every matrix is tridiagonal, or None.

    The off-diagonal nonzero pattern of ``mats`` (real symmetric) is a graph on the states; when every
    state has at most two neighbours and there is no cycle, the graph is a union of paths and listing
    each path from one end gives the order.  (The paper's trilayer with ``m_L = x, m_R = y``: the
    three orbital chains joined at the magnets into one path of ``3 N_x`` states.)
    """
    n = mats[0].shape[0]
    adj = np.zeros((n, n), bool)
    for M in mats:
        adj |= M != 0
    np.fill_diagonal(adj, False)
    adj |= adj.T
    degree = adj.sum(axis=1)
    if n < 2 or degree.max(initial=0) > 2:
        return None
    order, seen = [], np.zeros(n, bool)
    for start in np.argsort(degree, kind="stable"):  # path ends (degree <= 1) first
        if seen[start]:
            continue
        if degree[start] == 2:  # every unvisited state has two neighbours: a cycle
            return None
        prev, cur = -1, int(start)
        while cur >= 0:
            order.append(cur)
            seen[cur] = True
            nxt = [int(j) for j in np.flatnonzero(adj[cur]) if j != prev and not seen[j]]
            prev, cur = cur, (nxt[0] if nxt else -1)
    return np.array(order)


def _tridiagonal_eigh(h, order):
    """``eigh`` of real symmetric ``h`` (``(nk, n, n)``) that is tridiagonal in the state order ``order``.

    LAPACK ``dstevd`` on the diagonal and the off-diagonal along ``order`` (no Householder reduction
    and no back-transformation: ~0.65x the time of ``numpy.linalg.eigh`` at ``n = 75``); eigenvalues
    ascending, eigenvectors in the original order of the states.  A matrix ``dstevd`` does not
    finish falls back to ``numpy.linalg.eigh``.
    """
    from scipy.linalg import lapack

    nk, n = h.shape[:2]
    diag = h[:, order, order]
    off = h[:, order[:-1], order[1:]]
    E = np.empty((nk, n))
    U = np.empty((nk, n, n))
    for i in range(nk):
        w, z, info = lapack.dstevd(diag[i], off[i])
        if info != 0:
            w, Z = np.linalg.eigh(h[i])
            E[i], U[i] = w, Z
            continue
        E[i] = w
        U[i, order] = z
    return E, U


#: Factor of each part's bands left out of :func:`_weighted_velocities` (applied once to the bands).
_PART_FACTOR = {"fermi_sea": 1j, "drive": 1.0}


def _weighted_velocities(E, V, T, eta, tol, zero_tol, slots, out):
    """``sum_p K_p o V / c_p`` over the parts ``p`` with ``slots[p] = i`` into ``out[:, :, i, :]``.

    ``out`` has shape ``(nk, n, n_slots, n)``; ``E`` is ascending per k (from ``eigh``).  The factors
    are those of :func:`response_factors` without the constant ``c_p`` (``i`` for the Fermi sea,
    ``-eta`` for the Fermi surface, 1 for the drive: :data:`_PART_FACTOR`), which the caller applies to
    the bands (the map to the bands is linear).  Fused and in place: a handful of passes over the
    ``n^2`` pairs per k, ``f'`` only on the degenerate pairs.  With ``V`` Hermitian the Fermi-surface
    and drive entries are Hermitian and the Fermi-sea entry (without its ``i``) anti-Hermitian, so the
    Fermi-surface and Fermi-sea parts can share a slot (:func:`_solve_kubo` separates them again).
    """
    f = fermi(E, T, zero_tol)
    deg = _sorted_degenerate_pairs(E, tol)
    D = E[:, :, None] - E[:, None, :]
    num = f[:, :, None] - f[:, None, :]
    den = np.square(D)
    den += eta * eta
    np.reciprocal(den, out=den)  # 1/(eta^2 + D^2)
    filled = set()
    if "fermi_sea" in slots:  # (f_n - f_m)/(eta^2 + D^2), zero inside degenerate subspaces
        o = out[:, :, slots["fermi_sea"]]
        np.multiply(num, den, out=o)
        o[deg] = 0.0
        filled.add(slots["fermi_sea"])
    D[deg] = 1.0
    np.divide(num, D, out=num)  # F off the degenerate pairs
    del D
    k_, i_, j_ = deg
    num[deg] = fermi_derivative(0.5 * (E[k_, i_] + E[k_, j_]), T)
    for part in ("drive", "fermi_surface"):  # F, then F/(eta^2 + D^2) (times -eta on the bands)
        if part not in slots:
            continue
        if part == "fermi_surface":
            np.multiply(num, den, out=num)
        o = out[:, :, slots[part]]
        if slots[part] in filled:
            o += num
        else:
            o[...] = num
            filled.add(slots[part])
    for i in filled:
        out[:, :, i] *= V


@dataclass
class KuboSolution:
    """Result of :func:`solve_kubo`.

    Attributes
    ----------
    k : ndarray
        Momenta diagonalized (``0 <= k <= pi`` when ``h(-k) = h(k)``, where ``delta(-k) = -delta(k)``).
    energies : ndarray (N_y, N_x dim)
    T, eta : float
    bands : dict
        ``{part: {(dx, dy): ndarray (N_x, dim, dim)}}`` response bands per unit ``q E_y`` for the
        parts of :data:`PARTS` (input of :class:`orbsym.numeric.Observables`).
    """

    k: np.ndarray
    energies: np.ndarray
    T: float
    eta: float
    N_y: int
    bands: dict


def _chunk_size(nk, n, budget, parts=3):
    """k points per chunk: about ``6 + 3 parts`` complex ``n x n`` arrays per k point in flight
    (the memory ``budget``), and at most :data:`CACHE_BYTES` per real ``n x n`` stack, so that the
    elementwise passes of :func:`_weighted_velocities` run in cache (2x faster at ``n = 75``)."""
    memory = int(budget // ((6 + 3 * parts) * n * n * 16))
    cache = int(CACHE_BYTES // (8 * n * n))
    return max(1, min(nk, memory, max(4, cache)))


class _SparseLeft:
    """``M @ U`` for a fixed sparse ``(n, n)`` matrix ``M`` and a stack ``U`` of ``(n, n)`` matrices.

    Diagonal ``M``: a row scaling; otherwise ``scipy.sparse`` on the stack laid side by side
    (``O(nnz(M) n)`` per matrix instead of the ``O(n^3)`` dense product).
    """

    def __init__(self, M):
        M = np.asarray(M)
        self.n = M.shape[0]
        if not np.any(M - np.diag(np.diag(M))):
            self.diag, self.sparse = np.diag(M).copy(), None
        else:
            import scipy.sparse as sp

            self.diag, self.sparse = None, sp.csr_matrix(M)

    def apply(self, U):
        if self.diag is not None:
            return self.diag[:, None] * U
        nk, n, m = U.shape
        side = np.ascontiguousarray(U.transpose(1, 0, 2)).reshape(n, nk * m)
        return np.ascontiguousarray((self.sparse @ side).reshape(n, nk, m).transpose(1, 0, 2))


@blas_limited
def solve_kubo(lattice, T, eta, pairs=((0, 0),), parts=("fermi_surface", "fermi_sea", "drive"), chunk_bytes=CHUNK_BYTES, perturbation=None, velocity=None):
    """Response bands ``dG`` of the steady state in a static field ``E_y`` (module docstring).

    Parameters
    ----------
    lattice : Lattice
    T : float
        Temperature (units of t), ``T >= 0``.  The Fermi-surface part needs ``T > 0`` on a finite
        k grid (``T`` larger than the level spacing ``~ bandwidth / N_y``).
    eta : float
        Relaxation rate / broadening ``hbar eta > 0`` (units of t).
    pairs : iterable of (dx, dy)
        Offsets of the bands to form (:meth:`Lattice.offset_pairs`).
    parts : iterable of str
        Among ``fermi_surface``, ``fermi_sea``, ``drive``; ``total`` (the sum of the first two)
        is added whenever both are formed.
    perturbation : ndarray (N_x, dim, dim), optional
        Instead of the field: the response to the rate ``d lambda/dt`` of a slowly varying parameter
        with ``dh/d lambda = W`` on-site (``W[x]`` on column x; e.g. ``-J_a`` on the FM columns for a
        precessing magnetization ``d m_a/dt``: orbital pumping).  Same formula with ``v -> W``.
    velocity : Lattice, optional
        Instead of ``v = dh/dk_y``: the velocity ``v(k) = V0 + cos k Vc + sin k Vs`` given as a
        lattice of the same shape whose matrices are the derivatives (a film's
        :meth:`~orbsym.numeric.Lattice.sector` with ``derivative=True``: the field ``E_z``).  Same
        formula; no ``k -> -k`` half-zone shortcut (``v`` need not be odd in ``k``).

    Returns
    -------
    KuboSolution
    """
    T = check_temperature(T)
    eta = real_number("broadening eta", eta, minimum=0.0, strict=True)
    parts = tuple(parts)
    for p in parts:
        if p not in PARTS[1:]:
            raise ValueError(f"unknown response part {p!r}; allowed: fermi_surface, fermi_sea, drive")
    W = None
    if perturbation is not None:
        W = np.asarray(perturbation, dtype=complex)
        if W.shape != (lattice.N_x, lattice.dim, lattice.dim):
            raise ValueError(f"perturbation must have shape (N_x, dim, dim) = {(lattice.N_x, lattice.dim, lattice.dim)}, got {W.shape}")
        if not np.allclose(W, W.conj().transpose(0, 2, 1), atol=1e-13):
            raise ValueError("perturbation dh/dlambda must be Hermitian on every column")
    if W is not None and velocity is not None:
        raise ValueError("give either perturbation= (an on-site drive) or velocity= (a field), not both")
    with np.errstate(under="ignore"):
        return _solve_kubo(lattice, T, eta, pairs, parts, chunk_bytes, W, velocity)


#: Refuse problems whose single-k work arrays alone exceed this (bytes).
MAX_BYTES = 4 * 2**30


def _solve_kubo(lattice, T, eta, pairs, parts, chunk_bytes, W=None, vlat=None):
    N, d, Ny = lattice.N_x, lattice.dim, lattice.N_y
    n = N * d
    need = 8 * n * n * 16
    if need > MAX_BYTES:
        raise ValueError(
            f"the response of N_x = {N} columns (h(k) of size {n}) needs ~{need / 2**30:.1f} GiB per k-point "
            f"(limit {MAX_BYTES / 2**30:.0f} GiB); reduce N_x"
        )
    phases = real_gauge(lattice) if W is None else None
    if vlat is not None:
        V0, Vc, Vs = _gauged_pieces(vlat, None)
        if phases is not None:  # the real gauge of h must make v real too, else stay complex
            D_ = np.tile(np.exp(1j * np.asarray(phases)), N)
            gauged = [D_.conj()[:, None] * M * D_[None, :] for M in (V0, Vc, Vs)]
            scale = max(1.0, max(float(np.abs(M).max(initial=0.0)) for M in gauged))
            if max(float(np.abs(M.imag).max(initial=0.0)) for M in gauged) > 1e-13 * scale:
                phases = None
            else:
                V0, Vc, Vs = (M.real for M in gauged)
    H0, C, S = _gauged_pieces(lattice, phases)
    real = phases is not None
    if W is not None:
        Wfull = np.zeros((N, d, N, d), complex)
        Wfull[np.arange(N), :, np.arange(N), :] = W
        Wfull = Wfull.reshape(n, n)
    zero_tol = _zero_tol(H0, C, S)
    tol = DEGENERACY_RTOL * max(1.0, zero_tol / 1e-13)
    # h(-k) = h(k) => delta(-k) = -delta(k): half the zone, sum_k e^{ik dy} delta = sum 2i sin(k dy) delta
    symmetric = bool(lattice.y_hermitian) and W is None and vlat is None
    k, w = k_points(Ny, symmetric)
    pairs = sorted({tuple(int(v) for v in p) for p in pairs})
    groups = {}
    for dx, dy in pairs:
        groups.setdefault(dx, []).append(dy)
    acc = {p: {q: np.zeros((N, d, d), complex) for q in pairs} for p in parts}
    energies = np.empty((k.size, n))
    step = _chunk_size(k.size, n, chunk_bytes, len(parts))  # (slots <= parts)
    dys = sorted({q[1] for q in pairs})
    # slots of the transforms U X U^dag: the Fermi-surface (Hermitian) and Fermi-sea (anti-Hermitian,
    # without its i) parts share one, told apart by their (anti-)Hermitian parts on the band
    shared = "fermi_surface" in parts and "fermi_sea" in parts
    slots = {}
    for part in parts:
        pair = [slots[q] for q in ("fermi_surface", "fermi_sea") if q in slots]
        slots[part] = pair[0] if shared and part in ("fermi_surface", "fermi_sea") and pair else len(set(slots.values()))
    P = len(set(slots.values()))
    dm = min(max(abs(dx) for dx in groups), N - 1)  # the window: blocks (x + dx, x), |dx| <= dm
    R = (2 * dm + 1) * d  # rows of the window of Y per column x
    # k-independent left factors of v(k) = sum_j c_j(k) M_j (sparse: applied entrywise to U)
    if vlat is not None:
        vterms = [(M, fn) for M, fn in ((V0, None), (Vc, np.cos), (Vs, np.sin))]
    elif W is not None:
        vterms = [(Wfull, None)]
    else:  # v = dh/dk = -sin k C + cos k S
        vterms = [(C, lambda x: -np.sin(x)), (S, np.cos)]
    vterms = [(_SparseLeft(M), fn) for M, fn in vterms if np.any(M)]
    # real h(k) tridiagonal in some order of the states: the tridiagonal eigensolver, no reduction
    order = _path_order(H0, C, S) if real else None
    for a in range(0, k.size, step):
        kk, ww = k[a : a + step], w[a : a + step]
        nk = kk.size
        h = _assemble(H0, C, S, kk)
        E, U = np.linalg.eigh(h) if order is None else _tridiagonal_eigh(h, order)
        del h
        energies[a : a + nk] = E
        Ud = U.transpose(0, 2, 1) if real else U.conj().transpose(0, 2, 1)
        # velocity in the eigenbasis (real in the real gauge): V = U^dag v U = sum_j c_j U^dag (M_j U)
        V = None
        for M, fn in vterms:
            MU = M.apply(U)
            if fn is not None:
                MU *= fn(kk)[:, None, None]
            V = MU if V is None else V + MU
        V = Ud @ V if V is not None else np.zeros_like(U)
        # X[:, :, i, :] = sum of K_p o V over the parts of slot i, then U X_i U^dag on the band
        X = np.empty((nk, n, P, n), dtype=V.dtype)
        _weighted_velocities(E, V, T, eta, tol, zero_tol, slots, X)
        del V
        # Y_i = U X_i (sites x eigenstates), with zero rows around it; U X_i U^dag = Y_i U^dag is needed
        # only on the band: block (x + dx, x) = Y_i[rows of x + dx] U[rows of x]^dag for |dx| <= dm,
        # one small product per (k, i, x) on a strided window of the rows of Y (no n^3 product)
        Y = np.zeros((nk, n + 2 * dm * d, P * n), dtype=X.dtype)
        np.matmul(U, X.reshape(nk, n, P * n), out=Y[:, dm * d : dm * d + n])
        del X
        it = Y.itemsize
        rows = as_strided(Y, shape=(nk, P, N, R, n), strides=(Y.strides[0], n * it, d * P * n * it, P * n * it, it), writeable=False)
        Z = (rows @ Ud.reshape(nk, n, N, d).transpose(0, 2, 1, 3)[:, None]).reshape(nk, P, N, 2 * dm + 1, d, d)
        del Y, rows  # Z[k, i, x, dx + dm] = (U X_i U^dag)[x + dx, x]
        if symmetric:
            phase = {dy: 1j * ww * np.sin(kk * dy) / Ny for dy in dys}
        else:
            phase = {dy: ww * np.exp(1j * kk * dy) / Ny for dy in dys}
        for dx, dys_ in groups.items():
            if abs(dx) >= N:
                continue
            lo, hi = max(0, -dx), min(N, N - dx)
            blocks = {}
            for part, i in slots.items():
                A = Z[:, i, lo:hi, dx + dm]  # (U X_i U^dag)[x + dx, x]: (nk, L, d, d)
                if shared and part in ("fermi_surface", "fermi_sea"):
                    # Hermitian and anti-Hermitian parts: with B = (U X_i U^dag)[x, x + dx]^dag,
                    # delta_surface[x + dx, x] = (A + B)/2, delta_sea[x + dx, x] = (A - B)/2
                    B = Z[:, i, lo + dx : hi + dx, dm - dx].conj().swapaxes(-1, -2)
                    A = 0.5 * (A + B) if part == "fermi_surface" else 0.5 * (A - B)
                blocks[part] = A
            for dy in dys_:
                if symmetric and dy == 0:
                    continue
                for part in parts:
                    # dG(x, x+dx) = delta[x+dx, x]^T
                    acc[part][(dx, dy)][lo:hi] += np.tensordot(phase[dy], blocks[part], axes=(0, 0)).transpose(0, 2, 1)
        del Z
    for part in parts:  # the constant factor of each kernel (left out of _weighted_velocities)
        c = -eta if part == "fermi_surface" else _PART_FACTOR[part]
        if c != 1.0:
            acc[part] = {q: c * b for q, b in acc[part].items()}
    if real:
        D = np.exp(1j * np.asarray(phases))
        ph = (D.conj()[:, None] * D[None, :])[None]
        acc = {p: {q: a * ph for q, a in bands.items()} for p, bands in acc.items()}
    if "fermi_surface" in parts and "fermi_sea" in parts:
        acc["total"] = {q: acc["fermi_surface"][q] + acc["fermi_sea"][q] for q in pairs}
    return KuboSolution(k, energies, T, eta, Ny, acc)


def velocity(C, S, k):
    """``v(k) = dh/dk = -sin k C + cos k S`` for ``h(k) = H0 + cos k C + sin k S``, all k at once
    (C, S sparse: added entrywise; real if C, S are real)."""
    dtype = np.result_type(C.dtype, S.dtype, float)
    v = np.zeros((k.size,) + C.shape, dtype=dtype)
    for M, fn in ((C, lambda x: -np.sin(x)), (S, np.cos)):
        r, c = np.nonzero(M)
        if r.size:
            v[:, r, c] += fn(k)[:, None] * M[r, c][None, :]
    return v


# =============================================================================== bulk (2D k grid)
def bulk_hamiltonian(onsite, hoppings, kx, ky):
    """``h(k) = eps + sum_d (t_d e^{i k.d} + h.c.)`` and ``v_x, v_y = dh/dk_x, dh/dk_y``.

    ``hoppings = {(dx, dy): t_d}`` (each bond once); ``kx, ky`` 1D arrays of equal length.
    Returns ``h, vx, vy`` of shape ``(len(kx), dim, dim)``.
    """
    kx = np.asarray(kx, float)
    ky = np.asarray(ky, float)
    dim = onsite.shape[0]
    h = np.zeros((kx.size, dim, dim), complex)
    vx = np.zeros_like(h)
    vy = np.zeros_like(h)
    h += onsite
    for (dx, dy), t in hoppings.items():
        ph = np.exp(1j * (kx * dx + ky * dy))[:, None, None]
        a = ph * t
        b = a.conj().transpose(0, 2, 1)
        h += a + b
        vx += 1j * dx * (a - b)
        vy += 1j * dy * (a - b)
    return h, vx, vy


@blas_limited
def bulk_hall(onsite, hoppings, generators, mus, N_k=400, T=0.0, eta=0.0, polarization=2, mu_shift=True, batch=20000):
    """Intrinsic (``eta -> 0``) angular-momentum Hall conductivity of a bulk 2D crystal.

    ``sigma^{J_a}_{xy}(mu)``: response of the conventional current ``j^a_x = {v_x, J_a}/2``
    (= the sum of the bond currents ``sum_d d_x j_d`` of orbsym's kernels) per site, to the force
    ``q E_y``, on an ``N_k x N_k`` grid of the Brillouin zone, with the density-matrix formula of
    the module docstring (Fermi-sea part; with ``eta > 0`` also the Fermi-surface part)::

        sigma = N_k^{-2} sum_k sum_{n != m} i (f_n - f_m) O_mn (v_y)_nm / (eta^2 + (E_n - E_m)^2)  (+ surface).

    Cost: :func:`orbsym.numeric.budget.bulk_hall_estimate` (``N_k^2`` blocks; memory of one
    batch of ``batch`` k points).

    Parameters
    ----------
    onsite : ndarray (dim, dim)
        On-site matrix at ``mu = 0`` when ``mu_shift`` (then ``mu`` enters as ``-mu 1``).
    hoppings : dict ``{(dx, dy): t_d}``
    generators : ndarray (3, dim, dim)
    mus : array_like
        Chemical potentials (vectorized: one diagonalization serves all).
    N_k : int
    T, eta : float
    polarization : int
        0, 1, 2 for ``J_x, J_y, J_z``.

    Returns
    -------
    dict
        ``{"fermi_sea": array (len(mus),), "fermi_surface": array or None, "charge_hall": array}``;
        ``charge_hall`` is the (Fermi-sea) Hall conductivity of the particle current ``v_x``
        (a check: zero with time reversal).  Units: ``j = sigma q E_y`` per site, ``e = hbar = a = 1``
        (multiply by ``q/(2 pi) e/hbar``-free factor ``q`` for a charge current: ``sigma_xy = q^2 sigma``).
    """
    mus = np.atleast_1d(np.asarray(mus, float))
    g = np.arange(N_k) * 2 * np.pi / N_k
    nk = N_k * N_k  # k = (g[i], g[j]) in the order i * N_k + j, formed one batch at a time (memory O(batch))
    J = np.asarray(generators)[polarization]
    sea = np.zeros(mus.size)
    surf = np.zeros(mus.size) if eta > 0 else None
    charge = np.zeros(mus.size)
    for a in range(0, nk, batch):
        idx = np.arange(a, min(a + batch, nk))
        h, vx, vy = bulk_hamiltonian(onsite, hoppings, g[idx // N_k], g[idx % N_k])
        E0, U = np.linalg.eigh(h)
        Ud = U.conj().transpose(0, 2, 1)
        Vy = Ud @ vy @ U
        Vx = Ud @ vx @ U
        Je = Ud @ J @ U
        O = 0.5 * (Vx @ Je + Je @ Vx)  # {v_x, J}/2 in the eigenbasis
        # Tr(O delta) = sum_nm O_mn delta_nm, delta_nm = K_nm V_nm: contract with O^T
        OV = np.swapaxes(O, -1, -2) * Vy
        CV = np.swapaxes(Vx, -1, -2) * Vy
        scale = max(1.0, float(np.abs(E0).max()))
        for i, mu in enumerate(mus):
            E = E0 - mu if mu_shift else E0
            fac = response_factors(E, T, eta, DEGENERACY_RTOL * scale)
            sea[i] += float(np.sum(fac["fermi_sea"] * OV).real)
            charge[i] += float(np.sum(fac["fermi_sea"] * CV).real)
            if surf is not None:
                surf[i] += float(np.sum(fac["fermi_surface"] * OV).real)
    return {"fermi_sea": sea / nk, "fermi_surface": None if surf is None else surf / nk, "charge_hall": charge / nk}
