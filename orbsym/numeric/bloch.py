"""Exact Bloch decomposition in y: H(k_y) for all k at once, batched diagonalization, G blocks.

With ``c_{x,y} = N_y^{-1/2} sum_k e^{i k y} c_{x,k}`` and ``k = 2 pi j / N_y`` the lattice
Hamiltonian of :class:`~orbsym.numeric.lattice.Lattice` splits into ``N_y`` blocks of size
``N_x * dim`` (rows ordered ``x * dim + i``)::

    h(k) = H0 + cos(k) (t_y + t_y^dag) + sin(k) i (t_y - t_y^dag)      (t_y block diagonal in x),

where ``H0`` holds the on-site matrices and the x-bonds (``h_{x,x+1} = t_x``).  Diagonal bonds
``(dx, +-1)`` (next-nearest neighbours) add ``t_d e^{+-ik}`` to the off-diagonal blocks
``(x, x + dx)`` of the same cos/sin pieces (see :func:`_pieces`).  The thermal
correlations of Eq. (12) in real space follow as::

    G(x, x'; dy) = <c^dag_{x,y} c_{x',y+dy}> = N_y^{-1} sum_k e^{i k dy} sum_s U*_{x,s}(k) f(E_s(k)) U_{x',s}(k).

Only the bands ``|x' - x| <= max offset`` the kernels touch are formed, so nothing of size
``(N_x N_y)^2`` -- or even ``N_y (N_x dim)^2`` -- is ever stored: k-points are processed in chunks.

Speed-ups, all exact:

* If every ``t_y`` is Hermitian, ``h(-k) = h(k)``: only ``0 <= k <= pi`` is diagonalized, with
  weight 2 for the interior points.
* If a site-uniform diagonal phase gauge ``D = diag(e^{i phi_a})`` makes every matrix in ``h(k)``
  real (orbital model: all magnetizations in one coordinate plane, e.g. m_L = x, m_R = y; spin
  model likewise), the blocks are diagonalized as real symmetric matrices (about twice as fast)
  and the phases are restored in ``G``.
* ``G`` is Hermitian, ``G(x, x+dx; dy) = G(x+dx, x; -dy)^dag``: only half of the offsets are formed.
* States with negligible occupation (``w f / N_y < 1e-20`` at every k of a chunk) are left out of
  the contraction that forms ``G``.
* Eigenvalues only (free energy, particle number): ``h(k)`` is block tridiagonal in x, i.e. a band
  matrix of bandwidth ``<= 2 dim - 1``; the Hermitian band solver (LAPACK ``?hbevd``) reduces it to
  tridiagonal form in ``O(n^2 u)`` instead of ``O(n^3)`` (about 2x faster at the paper's sizes).
* Optionally the k-points are shared among worker processes (``workers``), through the one
  execution layer :mod:`orbsym.execution` (a persistent forked pool, one BLAS thread per worker,
  lost parts re-run).
* BLAS runs with :func:`orbsym.execution.blas_threads` threads (default 1, the fastest for many
  small blocks; opt out with ``ORBSYM_BLAS_THREADS=0``).

Conventions: :mod:`orbsym.conventions`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .thermo import ZERO_LEVEL_RTOL, check_temperature, fermi, grand_potential_terms

__all__ = ["k_points", "real_gauge", "bloch_hamiltonians", "BlochSolution", "solve_bloch", "free_energy_bloch", "shutdown_workers"]

#: Memory budget (bytes) for one chunk of eigenvectors and its work copies.
CHUNK_BYTES = 192 * 2**20
#: States whose weighted occupation ``w_k f(E) / N_y`` is below this at every k of a chunk are
#: left out of ``G`` (their contribution is below double-precision rounding of the bands).
OCCUPATION_CUTOFF = 1e-20


def k_points(N_y, symmetric):
    """Momenta ``k = 2 pi j / N_y`` and integer weights summing to ``N_y``.

    With ``symmetric`` (``h(-k) = h(k)``) only ``j = 0 .. N_y // 2`` are returned, weighted 2 except
    ``k = 0`` and (even ``N_y``) ``k = pi``.
    """
    N_y = int(N_y)
    if not symmetric:
        j = np.arange(N_y)
        return 2 * np.pi * j / N_y, np.ones(N_y)
    j = np.arange(N_y // 2 + 1)
    w = np.full(j.size, 2.0)
    w[0] = 1.0
    if N_y % 2 == 0:
        w[-1] = 1.0
    return 2 * np.pi * j / N_y, w


def _pieces(lattice):
    """``H0``, ``C``, ``S`` with ``h(k) = H0 + cos k C + sin k S`` (complex, ``(n, n)``).

    Every bond ``d = (dx, dy)`` (``|dy| <= 1``) puts ``t_d e^{i k dy}`` at block ``(x, x + dx)``
    and its Hermitian conjugate at ``(x + dx, x)``; with ``M`` the ``e^{+ik}`` part,
    ``C = M + M^dag`` and ``S = i (M - M^dag)``.
    """
    N, d = lattice.N_x, lattice.dim
    n = N * d
    H0 = np.zeros((N, d, N, d), complex)
    M = np.zeros_like(H0)
    x = np.arange(N)
    H0[x, :, x, :] = lattice.onsite
    for (dx, dy), t in lattice.hoppings.items():
        if t.shape[0] == 0:
            continue
        xb = np.arange(t.shape[0])
        td = t.conj().transpose(0, 2, 1)
        if dy == 0:
            H0[xb, :, xb + dx, :] += t
            H0[xb + dx, :, xb, :] += td
        elif dy == 1:
            M[xb, :, xb + dx, :] += t
        elif dy == -1:  # e^{-ik} t at (x, x+dx): its conjugate e^{+ik} t^dag sits at (x+dx, x)
            M[xb + dx, :, xb, :] += td
        else:  # pragma: no cover - refused by Lattice
            raise ValueError(f"bond offset {(dx, dy)} with |dy| > 1 is not supported")
    M = M.reshape(n, n)
    C = M + M.conj().T
    S = 1j * (M - M.conj().T)
    return H0.reshape(n, n), C, S


def _block_pieces(lattice):
    """The nonzero ``d x d`` blocks of ``H0``, ``C`` and ``S`` (see :func:`_pieces`) as one
    ``(n_blocks, d, d)`` array, built in O(N_x) memory (no ``n x n`` matrix)."""
    N, d = lattice.N_x, lattice.dim
    out = [lattice.onsite]
    A = {}  # A[o][x] = block (x, x + o) of the e^{+ik} part M
    for (dx, dy), t in lattice.hoppings.items():
        if t.shape[0] == 0:
            continue
        xb = np.arange(t.shape[0])
        if dy == 0:
            out.append(t)
        elif dy == 1:
            A.setdefault(dx, np.zeros((N, d, d), complex))[xb] += t
        elif dy == -1:
            A.setdefault(-dx, np.zeros((N, d, d), complex))[xb + dx] += t.conj().transpose(0, 2, 1)
    zero = np.zeros((N, d, d), complex)
    for o, a in A.items():
        lo, hi = max(0, -o), min(N, N - o)
        mt = A.get(-o, zero)[lo + o : hi + o].conj().transpose(0, 2, 1)  # (M^dag) block (x, x + o)
        out.append(a[lo:hi] + mt)  # C
        out.append(1j * (a[lo:hi] - mt))  # S
    return np.concatenate([m.reshape(-1, d, d) for m in out])


def real_gauge(lattice, tol=1e-13):
    """Phases ``phi`` (per on-site state) making ``D^dag h(k) D`` real for all k, or None.

    Each nonzero entry ``M_ab`` of an on-site, hopping or ``t_y +- t_y^dag`` matrix requires
    ``phi_b - phi_a = -arg(M_ab) (mod pi)``; the constraints are propagated over the graph of
    on-site states and then verified on every matrix.
    """
    d = lattice.dim
    mats = _block_pieces(lattice)
    mats = mats[np.abs(mats).reshape(mats.shape[0], -1).max(axis=1) > 0] if mats.size else mats
    if mats.shape[0] == 0:
        return np.zeros(d)
    scale = max(1.0, float(np.abs(mats).max()))
    big = np.abs(mats) > tol * scale
    phi = np.full(d, np.nan)
    for start in range(d):
        if not np.isnan(phi[start]):
            continue
        phi[start] = 0.0
        queue = deque([start])
        while queue:
            a = queue.popleft()
            for b in range(d):
                if not np.isnan(phi[b]):
                    continue
                hit = np.nonzero(big[:, a, b])[0]
                if hit.size:
                    phi[b] = phi[a] - np.angle(mats[hit[0], a, b])
                    queue.append(b)
                else:
                    hit = np.nonzero(big[:, b, a])[0]
                    if hit.size:
                        phi[b] = phi[a] + np.angle(mats[hit[0], b, a])
                        queue.append(b)
    D = np.exp(1j * phi)
    rotated = D.conj()[None, :, None] * mats * D[None, None, :]
    if np.abs(rotated.imag).max(initial=0.0) > tol * scale:
        return None
    return phi


def _gauged_pieces(lattice, phases):
    H0, C, S = _pieces(lattice)
    if phases is not None:
        n = H0.shape[0]
        D = np.tile(np.exp(1j * np.asarray(phases)), n // lattice.dim)
        H0, C, S = ((D.conj()[:, None] * M * D[None, :]).real for M in (H0, C, S))
    return H0, C, S


def _assemble(H0, C, S, k):
    """``H0 + cos k C + sin k S`` for all k; C and S are sparse (block diagonal), added entrywise."""
    h = np.empty((k.size,) + H0.shape, dtype=H0.dtype)
    h[:] = H0
    for M, fn in ((C, np.cos), (S, np.sin)):
        r, c = np.nonzero(M)
        if r.size:
            h[:, r, c] += fn(k)[:, None] * M[r, c][None, :]
    return h


def bloch_hamiltonians(lattice, k, phases=None):
    """``h(k)`` for every ``k`` at once, shape ``(len(k), N_x dim, N_x dim)``.

    With ``phases`` (from :func:`real_gauge`) the real matrices ``D^dag h(k) D`` are returned.
    """
    H0, C, S = _gauged_pieces(lattice, phases)
    return _assemble(H0, C, S, np.asarray(k, dtype=float))


@dataclass
class BlochSolution:
    """Result of :func:`solve_bloch`.

    Attributes
    ----------
    k, weights : ndarray
        Momenta diagonalized and their multiplicities (``weights.sum() == N_y``).
    energies : ndarray, shape (len(k), N_x dim)
        Eigenvalues of ``h(k)`` (measured from ``mu``).
    T : float
    bands : dict
        ``{(dx, dy): ndarray (N_x, dim, dim)}`` with ``bands[dx, dy][x] = G(x, x + dx; dy)``
        (zero where ``x + dx`` is outside the lattice).  Empty for eigenvalue-only solves.
    real_gauge : bool
        Whether the real-gauge fast path was used.
    """

    k: np.ndarray
    weights: np.ndarray
    energies: np.ndarray
    T: float
    N_y: int
    bands: dict
    real_gauge: bool
    zero_tol: float = 0.0

    def free_energy(self, per_row=True):
        """Grand potential of Eq. (13), per row (``F / N_y``, default) or total."""
        total = float(np.sum(self.weights[:, None] * grand_potential_terms(self.energies, self.T)))
        return total / self.N_y if per_row else total

    def particle_number(self, per_row=True):
        """``sum_n f(E_n)``, per row (default) or total."""
        total = float(np.sum(self.weights[:, None] * fermi(self.energies, self.T, self.zero_tol)))
        return total / self.N_y if per_row else total


def _zero_tol(H0, C, S):
    """T = 0 tolerance for "a level exactly at zero" (:func:`orbsym.numeric.thermo.zero_level_tolerance`),
    from a bound on ``max |E|`` (row-sum norms), the same for every k-point, chunk and worker."""
    scale = sum(float(np.abs(M).sum(axis=1).max(initial=0.0)) for M in (H0, C, S))
    return ZERO_LEVEL_RTOL * max(1.0, scale)


def _lower_bandwidth(*mats):
    """Largest ``i - j`` with a nonzero entry in any of the (Hermitian) matrices."""
    u = 0
    for M in mats:
        r, c = np.nonzero(M)
        if r.size:
            u = max(u, int(np.max(np.abs(r - c))))
    return u


def _band(M, u):
    """Lower band storage ``ab[i, j] = M[j + i, j]`` (LAPACK ``?hbevd`` layout) of the last two axes."""
    n = M.shape[-1]
    ab = np.zeros(M.shape[:-2] + (u + 1, n), dtype=M.dtype)
    for i in range(u + 1):
        ab[..., i, : n - i] = np.diagonal(M, offset=-i, axis1=-2, axis2=-1)
    return ab


def _banded_eigenvalues(H0, C, S, k, u):
    """Eigenvalues of ``H0 + cos k C + sin k S`` with the Hermitian band solver (``?hbevd``/``?sbevd``).

    ``h(k)`` is block tridiagonal in the column index, so its bandwidth is at most ``2 dim - 1``;
    reducing a band matrix to tridiagonal form costs ``O(n^2 u)`` instead of ``O(n^3)``: about 2x
    faster than dense ``eigvalsh`` at the paper's sizes (eigenvalues only; vectors are faster dense).
    """
    from scipy.linalg import eig_banded

    ab = _band(H0, u)[None] + np.cos(k)[:, None, None] * _band(C, u)[None] + np.sin(k)[:, None, None] * _band(S, u)[None]
    out = np.empty((k.size, H0.shape[0]))
    for i in range(k.size):
        out[i] = eig_banded(ab[i], lower=True, eigvals_only=True, check_finite=False)
    return out


def _chunks(nk, n, itemsize, budget):
    size = max(1, int(budget // (4 * n * n * itemsize)))
    return [(i, min(nk, i + size)) for i in range(0, nk, size)]


def _solve_range(H0, C, S, k, w, T, Ny, N, d, pairs, vectors, symmetric, chunk_bytes, zero_tol=0.0):
    """Diagonalize ``h(k)`` for the given momenta; return energies and the partial bands."""
    n = H0.shape[0]
    real = H0.dtype != complex
    acc = {p: np.zeros((N, d, d), dtype=float if (symmetric and real) else complex) for p in pairs}
    groups = {}
    for dx, dy in pairs:
        groups.setdefault(dx, []).append(dy)
    energies = np.empty((k.size, n))
    u = _lower_bandwidth(H0, C, S)
    if not vectors and 4 * u < n:
        return _banded_eigenvalues(H0, C, S, k, u), acc
    for a, b in _chunks(k.size, n, H0.dtype.itemsize, chunk_bytes):
        h = _assemble(H0, C, S, k[a:b])
        if not vectors:
            energies[a:b] = np.linalg.eigvalsh(h)
            continue
        E, U = np.linalg.eigh(h)
        del h
        energies[a:b] = E
        nkc = b - a
        occ = fermi(E, T, zero_tol) * (w[a:b, None] / Ny)
        # levels are sorted, so the states with a non-negligible occupation at some k of the chunk
        # are the first `keep`; the empty ones contribute nothing to G
        keep = int((occ > OCCUPATION_CUTOFF).sum(axis=1).max())
        if keep == 0:
            continue
        U4 = U[:, :, :keep].reshape(nkc, N, d, keep)
        A = (U4 if real else U4.conj()) * occ[:, None, None, :keep]
        Ut = U4.transpose(0, 1, 3, 2)
        for dx, dys in groups.items():
            if abs(dx) >= N:
                continue
            lo, hi = max(0, -dx), min(N, N - dx)
            g = A[:, lo:hi] @ Ut[:, lo + dx : hi + dx]  # per-k blocks, (nkc, hi - lo, d, d)
            for dy in dys:
                if dy == 0:
                    acc[dx, dy][lo:hi] += g.sum(axis=0)
                else:
                    phase = np.cos(k[a:b] * dy) if symmetric else np.exp(1j * k[a:b] * dy)
                    acc[dx, dy][lo:hi] += np.tensordot(phase, g, axes=(0, 0))
    return energies, acc


def shutdown_workers():
    """Stop the worker processes started by ``solve_bloch(..., workers > 1)``
    (:func:`orbsym.execution.shutdown_shared_pools`; also done at exit)."""
    from ..execution import shutdown_shared_pools

    shutdown_shared_pools()


def solve_bloch(lattice, T, pairs=((0, 0),), vectors=True, use_symmetry=True, use_real_gauge=True, chunk_bytes=CHUNK_BYTES, workers=1):
    """Diagonalize all ``h(k)`` and form the correlation bands ``G(x, x+dx; dy)``.

    Parameters
    ----------
    lattice : Lattice
    T : float
        Temperature (units of t), ``T >= 0``.
    pairs : iterable of (dx, dy)
        Relative offsets of the bands to form (see :meth:`Lattice.offset_pairs`).
    vectors : bool
        False: eigenvalues only (free energy, particle number), no bands.
    use_symmetry, use_real_gauge : bool
        Enable the exact speed-ups described in the module docstring (for testing them).
    chunk_bytes : int
        Memory budget per chunk of k-points.
    workers : int
        Number of processes sharing the k-points (1: in-process); the worker processes (one BLAS
        thread each) are forked once and kept (:func:`orbsym.execution.shared_pool`).

    Returns
    -------
    BlochSolution

    Notes
    -----
    BLAS is limited to :func:`orbsym.execution.blas_threads` threads during the solve (default 1;
    ``ORBSYM_BLAS_THREADS=0`` leaves it alone).

    Floating-point underflow (tiny matrix elements, occupations ``exp(-E/T)`` of empty levels) is
    harmless here and is ignored even if the caller made NumPy raise on it (``np.seterr``).
    """
    from ..execution import limit_blas

    with np.errstate(under="ignore"), limit_blas():
        return _solve_bloch(lattice, T, pairs, vectors, use_symmetry, use_real_gauge, chunk_bytes, workers)


def _solve_bloch(lattice, T, pairs, vectors, use_symmetry, use_real_gauge, chunk_bytes, workers):
    from .checks import check_energy_scale

    T = check_energy_scale("temperature T", check_temperature(T))
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    symmetric = use_symmetry and lattice.y_hermitian
    k, w = k_points(lattice.N_y, symmetric)
    phases = real_gauge(lattice) if use_real_gauge else None
    N, d, Ny = lattice.N_x, lattice.dim, lattice.N_y
    pairs = sorted({tuple(int(v) for v in p) for p in pairs}) if vectors else []
    # G is Hermitian: G(x, x - dx; -dy) = G(x - dx, x; dy)^dag, so only "canonical" offsets are formed
    canonical = sorted({p if p >= (0, 0) else (-p[0], -p[1]) for p in pairs})
    H0, C, S = _gauged_pieces(lattice, phases)
    zero_tol = _zero_tol(H0, C, S)
    common = (T, Ny, N, d, canonical, vectors, symmetric, chunk_bytes, zero_tol)
    if workers == 1 or k.size < 2 * workers:
        energies, acc = _solve_range(H0, C, S, k, w, *common)
    else:
        from ..execution import map_tasks, shared_pool

        parts = np.array_split(np.arange(k.size), workers)
        tasks = [(H0, C, S, k[p], w[p], *common) for p in parts]
        results = map_tasks(_solve_range, tasks, executor=shared_pool(workers), workers=workers, progress=False, errors="raise")
        energies = np.concatenate([r[0] for r in results])
        acc = {p: sum(r[1][p] for r in results) for p in canonical}
    bands = {}
    if vectors:
        if phases is not None:
            D = np.exp(1j * np.asarray(phases))
            ph = D.conj()[:, None] * D[None, :]
            bands = {p: a * ph[None] for p, a in acc.items()}
        else:
            bands = {p: a.astype(complex) for p, a in acc.items()}
        for dx, dy in pairs:
            if (dx, dy) not in bands:
                src = bands[-dx, -dy]
                out = np.zeros_like(src)
                lo, hi = max(0, -dx), min(N, N - dx)  # G(x, x+dx; dy) = G(x+dx, x; -dy)^dag
                out[lo:hi] = src[lo + dx : hi + dx].conj().transpose(0, 2, 1)
                bands[dx, dy] = out
    return BlochSolution(k, w, energies, T, Ny, bands, phases is not None, zero_tol)


def free_energy_bloch(lattice, T, per_row=True, **kwargs):
    """Grand potential (Eq. 13) from eigenvalues only; per row by default."""
    return solve_bloch(lattice, T, vectors=False, **kwargs).free_energy(per_row=per_row)
