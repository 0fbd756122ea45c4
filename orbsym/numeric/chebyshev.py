"""Linear-scaling (Chebyshev / kernel polynomial) engine for large finite samples.

The real-space Hamiltonian of a finite :class:`~orbsym.numeric.sites.SiteLattice` (transverse dimension
0, ``width=...``) is stored as a ``scipy.sparse.csr_matrix`` (:class:`SparseSample`) and every quantity
is a polynomial of it, applied with sparse-matrix times dense-block products only.  NumPy/SciPy only; no
SymPy, no compiled kernel (the sparse product is SciPy's).

Conventions (:mod:`orbsym.conventions`)
---------------------------------------
* Basis: the natural order ``(x, y, site, orbital)`` of the sample, index ``((x W + y) n_cell +
  offset(site) + orbital)`` with the states of the vacancies DROPPED (not decoupled): a vacancy has no
  state, its bonds are absent, exactly as the exact engines observe it (they keep decoupled levels that
  are no part of the sample).
* Energies in the model's unit ``t`` (``mu`` inside the on-site matrices, as everywhere in orbsym;
  an extra ``mu`` argument shifts it), ``hbar = 1``.  One-body density matrix ``rho = f(H)``,
  ``f(E) = 1 / (1 + exp((E - mu) / T))``; ``<c_a^dag c_b> = rho_ba`` (``G = rho^T`` of
  :class:`~orbsym.numeric.sites.SiteObservables`), ``<c^dag A c> = Tr(A rho)``.
* Densities in units of the generators ``J`` (hbar for ``L``; charge: particles), bond currents, bond
  sources, torques and rates in ``J t / hbar`` per bond or site.

Chebyshev expansion and its truncation error
--------------------------------------------
``H`` is mapped into ``[-1, 1]``: ``Ht = (H - b) / a`` with ``[b - a, b + a]`` the spectral bounds
(Gershgorin discs, always safe; optionally tightened by Lanczos, :func:`spectral_bounds`) widened by a
relative ``margin``.  ``f(a x + b) = sum_n c_n T_n(x)``, the coefficients from Chebyshev-Gauss
quadrature (a DCT-II of ``f`` on ``M >= 4 N`` Chebyshev nodes; the aliasing error is of the size of
``c_{2M - n}``, negligible).  The Fermi function is analytic except at the Matsubara poles ``mu + i pi T
(2k + 1)``; in ``x`` it is analytic inside every Bernstein ellipse ``E_r`` (foci +-1, semi-axis sum
``r``) with ``1 < r < r_p``, ``r_p = |z_p + sqrt(z_p^2 - 1)|`` of the nearest pole ``z_p = (mu + i pi T
- b) / a``.  With ``M_r = max_{E_r} |f|`` (evaluated on the ellipse)::

    |c_n| <= 2 M_r r^-n,      sup_{[-1, 1]} |f - p_N| <= sum_{n > N} |c_n| <= 2 M_r r^-N / (r - 1)

(Trefethen, *Approximation Theory and Approximation Practice*, Thm 8.1-8.2), minimized over ``r``.  The
reported ``truncation_error`` is ``sum_{N < n <= L} |c_n| + 2 M_r r^-L / (r - 1)`` with ``L >=`` the order
the ellipse bound alone would need (the computed coefficients where they are known, the bound beyond:
tighter, still an upper bound up to the quadrature's aliasing).  It bounds ``||f(H) - p_N(H)||_2`` (the
spectrum lies in ``[-1, 1]``), hence every matrix element of ``rho``; the order ``N`` is the smallest one
with bound ``<= tol``.  Since
``r_p - 1 ~ pi T / a``, ``N ~ (a / pi T) ln(1/tol)``.  No damping kernel is used for ``f(H)``: the series
of an analytic function converges geometrically and uniformly, with no Gibbs oscillation to suppress; a
kernel would only multiply ``c_n`` by ``g_n = 1 - O(n^2/N^2)`` and add an ``O(1/N^2)`` error.  ``T = 0``
is REFUSED: the step has no analytic extension, the series converges like ``1/N`` with no usable bound.

Local observables (:func:`local_observables`)
--------------------------------------------
Columns ``rho e_a`` for the orbitals of the chosen sites by the three-term recurrence on a block of
vectors.  A term ``T_n(Ht)`` couples only states at most ``n`` hops apart on the graph of ``H``, so the
recurrence runs on the ball ``B`` of states within ``R`` hops of the chosen sites: an entry ``(b, a)``
with ``b`` at most ``d`` hops from the chosen states is exact for every degree ``n <= 2R + 1 - d`` (a path
that leaves ``B`` and returns has length ``>= 2R + 2 - d``); the default ``R`` makes this hold for ``n <=
N`` (no region error: the cost is that of the ball, independent of the sample beyond it).  A smaller
``radius`` adds the rigorous ``region_error = 2 sum_{n0 < n <= N} |c_n|``, ``n0 = 2R + 1 - d`` (both
``T_n(Ht)`` and ``T_n(Ht_B)`` have norm <= 1: principal submatrices keep their Gershgorin discs inside).
Each observable ``Tr(A rho)`` with ``A`` supported on a few states is then off by at most
``error * sum_ab |A_ab|`` (``error = truncation_error + region_error``), reported per value.  The
region is ordered by hop distance, so that ``T_n(Ht) e_a`` (zero beyond ``n`` hops) is computed on a
prefix of the rows only (the light cone: ~2/3 of the operations of the full region for ``N = 2R`` in 2D).

Because ``p_N(H)`` commutes with ``H``, the truncated state is stationary: the per-site rate ``i Tr(rho
[H, O_i])`` vanishes to rounding, and the balance ``rate = -div j + tau`` is an algebraic identity
(checked per site, :attr:`LocalObservables.residual`).

Global traces (:func:`stochastic_traces`)
-----------------------------------------
Random-phase vectors ``v_a = e^{i phi_a}`` (``E[v v^dag] = 1``): ``Tr A ~ mean_v v^dag A v``, standard
error ``std / sqrt(R)`` over the ``R`` vectors.  KPM moments ``mu_n = Tr T_n(Ht) / N_states`` (``v^dag
T_n(Ht) v``, from the same recurrence that builds ``f(Ht) v``), the density of states with
the Jackson kernel (Weisse, Wellein, Alvermann, Fehske, Rev. Mod. Phys. 78, 275 (2006), Eq. 71; a
delta peak becomes a near-Gaussian of width ``sigma ~ pi a / N`` in energy), the particle number ``Tr
f(H)``, total ``Tr(J_alpha f(H))`` and the grand potential ``Tr g(H)``, ``g(E) = -T ln(1 +
exp(-(E - mu)/T))`` (the same Matsubara points are its branch points: same ellipse bound).

Cost (measured: ``benchmarks/bench_chebyshev.py``)
--------------------------------------------------
Sparse products run at 0.1-0.5 G (nonzero x vector)/s on one core (SciPy CSR, memory bound; blocks of
vectors do not help beyond ~16 vectors and hurt at 10^6 states, hence :data:`BLOCK_STATES`).  Local
observables cost ``N x (region states) x (orbitals of the chosen sites)`` with a region of ``~ (N/2)^d``
cells, independent of the sample beyond it; stochastic traces ``N x n_states x vectors``; Kubo-Bastin
``2 N x n_states x vectors`` products plus ``N^2 x n_states x vectors`` for the moments, and ``2 N``
stored vectors per random vector.

Periodic samples
----------------
``from_arrays(..., periodic=True)`` and :meth:`SparseSample.from_tight_binding` wrap every bond around both
directions (a torus: bulk quantities without edges); the velocity keeps the real bond vectors.

Kubo-Bastin conductivity (:func:`kubo_bastin`)
----------------------------------------------
Two-dimensional Chebyshev expansion of Garcia, Covaci, Rappoport, PRL 114, 116602 (2015); see the
function's docstring for the formula as implemented (derived there).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import scipy.sparse as sp

from .budget import ResourceEstimate, check_resources
from .checks import integer_at_least, real_number, unknown_name

__all__ = [
    "SparseSample", "spectral_bounds", "FermiExpansion", "chebyshev_coefficients", "jackson_kernel",
    "local_observables", "LocalObservables", "stochastic_traces", "StochasticTraces", "POLARIZATIONS",
    "DEFAULT_MARGIN", "DEFAULT_TOL", "CHUNK_BYTES", "kubo_bastin", "KuboBastin",
]

#: Polarizations of every local and global result: the charge (``J = 1``) and ``J_x, J_y, J_z``.
POLARIZATIONS = ("charge", "x", "y", "z")
#: Relative widening of the spectral bounds before rescaling to ``[-1, 1]``.
DEFAULT_MARGIN = 0.01
#: Memory for one block of recurrence vectors (three ``(n_states, m)`` arrays and the sum).
CHUNK_BYTES = 512 * 2**20
#: Largest default number of vectors per block.  SciPy's CSR times a dense block is no faster per vector
#: than one vector at a time (measured on this machine: 2.7e5 states, 2-5 ms per vector-step for 1 ... 48
#: vectors, 16 the best; 1.08e6 states, 76 / 88 / 211 ms per vector-step for 1 / 4 / 16 vectors), so the
#: default block is ``clip(BLOCK_STATES / n_states, 1, BLOCK)``.
BLOCK = 16
#: See :data:`BLOCK`.
BLOCK_STATES = 2**21


def _default_block(n_rows, n_cols, per_column_bytes, chunk_bytes):
    return max(1, min(n_cols, BLOCK, BLOCK_STATES // max(n_rows, 1), int(chunk_bytes // max(per_column_bytes, 1))))
#: Seconds per (nonzero x vector) of the sparse product (measured with SciPy on this machine, one core: 0.1-0.3 G/s).
_SECONDS_PER_NNZ_COLUMN = 7e-9
#: Default truncation bound of ``rho`` when neither ``tol`` nor ``order`` is given.
DEFAULT_TOL = 1e-8
#: Largest order accepted (beyond it the request is T far below the bandwidth: use an exact engine).
MAX_ORDER = 200000


# ============================================================================ the sparse sample
class SparseSample:
    """Sparse real-space Hamiltonian of a finite sample, with its sites, generators and bonds.

    Build with :meth:`from_sites` (a :class:`~orbsym.numeric.sites.SiteLattice` of transverse dimension
    0) or :meth:`from_arrays` (the same data without the lattice object: its slice chain is dense,
    ``O(N_x (W n)^2)``, and cannot be built for ``10^6`` orbitals; this path never builds it).

    Attributes
    ----------
    H : scipy.sparse.csr_matrix, shape (n_states, n_states)
        ``H`` in the natural order ``(x, y, site, orbital)`` with the vacancies' states dropped; real
        dtype when every entry is real.
    N_x, width, n_sites : int
    orbitals : ndarray of int, shape (n_sites,)
    start : ndarray of int, shape (N_x, width, n_sites)
        Index of the first orbital of every site (``-1`` at a vacancy); the site's states are
        ``start .. start + orbitals[s] - 1``.
    vacant : ndarray of bool, shape (N_x, width, n_sites)
    generators : list of ndarray
        Per site kind, ``J_x, J_y, J_z`` in every x-cell, ``(N_x, 3, n, n)``.
    onsite : list of ndarray
        Per site kind, the on-site matrices ``(N_x, width, n, n)`` (overrides included).
    hoppings : tuple of (i, j, offset, T)
        As :attr:`SiteLattice.hoppings` (``offset = (dx, dy)``).
    bonds : list of dict
        Per hopping family the present bond instances: ``x, y`` (start cell), ``start, end`` (first
        state of each end), ``T`` ``(n_b, n_i, n_j)``.
    bond_vectors : ndarray, shape (n_hoppings, 3)
        Real bond vectors (units of a).
    """

    def __init__(self):
        raise TypeError("build a SparseSample with SparseSample.from_sites(lattice) or SparseSample.from_arrays(...)")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_sites(cls, lattice, check_memory=True):
        """The sparse sample of a finite :class:`~orbsym.numeric.sites.SiteLattice` (``width=...``)."""
        from .sites import SiteLattice

        if not isinstance(lattice, SiteLattice):
            raise TypeError(f"lattice must be an orbsym.numeric.sites.SiteLattice, got {type(lattice).__name__}")
        if lattice.transverse_dimension != 0:
            raise ValueError(
                f"the Chebyshev engine takes a finite sample (transverse dimension 0, width=...); this lattice is periodic "
                f"(transverse dimension {lattice.transverse_dimension}): build it with width=... instead of N_y"
            )
        onsite = [lattice.site_onsite(s) for s in range(len(lattice.sites))]
        return cls.from_arrays(lattice.cells, lattice.hoppings, lattice.width, onsite=onsite, vacant=lattice.vacant,
                               vectors=lattice.vectors, check_memory=check_memory)

    @classmethod
    def from_arrays(cls, cells, hoppings, width, onsite=None, vacant=None, vectors=None, check_memory=True, periodic=False):
        """The sparse sample from the raw description (no dense slice chain is built).

        Parameters
        ----------
        cells : sequence of sequences of Site
            The sites of every x-cell (same names, orbitals and positions; ``[cell] * N_x`` for a repeated cell).
        hoppings : sequence of (i, j, (dx, dy), T)
            Site indices, cell offset and ``T`` of shape ``(n_i, n_j)``, ``(N_x, n_i, n_j)`` or
            ``(N_x, width, n_i, n_j)`` (:attr:`SiteLattice.hoppings`); each bond listed once.
        width : int
        onsite : list of ndarray, optional
            Per site kind ``(N_x, width, n, n)``; default the cells' on-site matrices.
        vacant : bool ndarray (N_x, width, n_sites), optional
        vectors : array (3, 3), optional
            Cell vectors as rows (units of a), for :attr:`bond_vectors`.
        check_memory : bool
            Refuse up front (:class:`~orbsym.numeric.budget.ResourceError`) when the assembly would not fit.
        periodic : bool
            Torus: every bond wraps around both directions (cell ``(x + dx) mod N_x, (y + dy) mod width``), so the
            sample has no edges.  The velocity keeps the real bond vectors (``i[H, r]`` of the unwrapped bond, the
            current of the torus).  Needs ``N_x > 2 max|dx|`` and ``width > 2 max|dy|`` (no bond may meet its own
            image).
        """
        from .sites import Site

        self = object.__new__(cls)
        cells = [tuple(c) for c in cells]
        if not cells or not all(cells) or not all(isinstance(s, Site) for c in cells for s in c):
            raise TypeError("cells must be a non-empty sequence of non-empty sequences of orbsym.numeric.sites.Site")
        ref = cells[0]
        if any(len(c) != len(ref) or any(a.orbitals != b.orbitals for a, b in zip(c, ref)) for c in cells):
            raise ValueError("every cell must have the same sites (count and orbitals)")
        self.N_x = N_x = len(cells)
        self.width = W = integer_at_least("width", width, 1, " (open cells along y of a finite sample)")
        self.n_sites = ns = len(ref)
        self.names = tuple(s.name for s in ref)
        self.orbitals = np.array([s.orbitals for s in ref])
        self.site_offsets = np.r_[0, np.cumsum(self.orbitals)[:-1]].astype(int)
        self.cell_dim = int(self.orbitals.sum())
        self.positions = np.array([s.position for s in ref])
        self.vectors = np.eye(3) if vectors is None else np.asarray(vectors, dtype=float)
        self.vacant = np.zeros((N_x, W, ns), bool) if vacant is None else np.asarray(vacant, dtype=bool)
        if self.vacant.shape != (N_x, W, ns):
            raise ValueError(f"vacant must have shape (N_x, width, n_sites) = {(N_x, W, ns)}, got {self.vacant.shape}")
        same = all(c is cells[0] for c in cells)
        self.generators = [np.broadcast_to(ref[s].generators, (N_x, 3, n, n)) if same else np.array([c[s].generators for c in cells])
                           for s, n in enumerate(self.orbitals)]
        if onsite is None:
            onsite = [np.broadcast_to(ref[s].onsite, (N_x, W, n, n)) if same else np.broadcast_to(np.array([c[s].onsite for c in cells])[:, None], (N_x, W, n, n))
                      for s, n in enumerate(self.orbitals)]
        self.onsite = []
        for s, n in enumerate(self.orbitals):
            e = np.asarray(onsite[s])
            if e.shape != (N_x, W, n, n):
                raise ValueError(f"onsite[{s}] (site {self.names[s]!r}) must have shape (N_x, width, n, n) = {(N_x, W, n, n)}, got {e.shape}")
            self.onsite.append(e)
        for s, e in enumerate(self.onsite):
            if not np.allclose(e, np.swapaxes(e, -1, -2).conj(), rtol=0, atol=1e-12 * max(1.0, float(np.abs(e).max(initial=0.0)))):
                raise ValueError(f"onsite[{s}] (site {self.names[s]!r}) must hold Hermitian matrices")
        hops, seen = [], set()
        for h in hoppings:
            try:
                i, j, off, T = h
            except (TypeError, ValueError):
                raise TypeError(f"hoppings must be (i, j, (dx, dy), T) tuples, got {h!r}") from None
            off = tuple(int(v) for v in off)
            if len(off) != 2:
                raise ValueError(f"hopping offsets of a finite sample are (dx, dy), got {off}")
            for v in (i, j):
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or not 0 <= v < ns:
                    raise ValueError(f"hopping site indices must be integers in 0 .. {ns - 1}, got {v!r}")
            if i == j and off == (0, 0):
                raise ValueError(f"hopping {i} -> {j} (0, 0) has zero length: put it into the on-site matrix")
            if (i, j, off) in seen or (j, i, (-off[0], -off[1])) in seen:
                raise ValueError(f"hopping {i} -> {j} {off} is listed twice (its Hermitian conjugate is added automatically)")
            seen.add((i, j, off))
            ni, nj = self.orbitals[i], self.orbitals[j]
            T = np.asarray(T)
            if T.shape == (ni, nj):
                T = np.broadcast_to(T, (N_x, ni, nj))
            if T.shape not in ((N_x, ni, nj), (N_x, W, ni, nj)):
                raise ValueError(f"hopping {i} -> {j} {off}: T has shape {T.shape}, expected ({ni}, {nj}), (N_x, {ni}, {nj}) or (N_x, width, {ni}, {nj})")
            hops.append((int(i), int(j), off, T))
        self.hoppings = tuple(hops)
        if not isinstance(periodic, (bool, np.bool_)):
            raise TypeError(f"periodic must be True or False, got {periodic!r}")
        self.periodic = bool(periodic)
        if self.periodic:
            for i, j, (dx, dy), _ in hops:
                if N_x <= 2 * abs(dx) or W <= 2 * abs(dy):
                    raise ValueError(f"a periodic sample needs N_x > 2 |dx| and width > 2 |dy| for every bond; bond {i} -> {j} {(dx, dy)} "
                                     f"does not fit the {N_x} x {W} torus (it would meet its own image): use a larger sample")
        # state index of every site (vacancies dropped from the basis)
        n_full = np.broadcast_to(self.orbitals, (N_x, W, ns)) * ~self.vacant
        first = np.cumsum(n_full.ravel()) - n_full.ravel()
        self.start = np.where(self.vacant, -1, first.reshape(N_x, W, ns)).astype(np.int64)
        self.n_states = int(n_full.sum())
        if check_memory:
            check_resources(self._assembly_estimate(), what="the sparse Hamiltonian of this sample",
                            hint="use a smaller sample")
        self._assemble()
        return self

    def _assembly_estimate(self):
        entries = sum(int((~self.vacant[:, :, s]).sum()) * n * n for s, n in enumerate(self.orbitals))
        for i, j, (dx, dy), _ in self.hoppings:
            cnt = self.N_x * self.width if getattr(self, "periodic", False) else max(self.N_x - abs(dx), 0) * max(self.width - abs(dy), 0)
            entries += 2 * cnt * self.orbitals[i] * self.orbitals[j]
        nbytes = entries * (16 + 8 + 8) * 3  # COO triplets, the sum of duplicates and the CSR copy
        return ResourceEstimate("Chebyshev (sparse)", float(nbytes), entries * 2e-8, f"{entries} stored entries at most, {self.n_states} states")

    def _assemble(self):
        N_x, W = self.N_x, self.width
        rows, cols, vals = [], [], []

        def add(r0, c0, blocks, ni, nj):  # blocks (k, ni, nj) at rows r0 + a, cols c0 + b; zero entries skipped
            if blocks.shape[0] == 0:
                return
            nz = np.any(blocks != 0, axis=0)
            a, b = np.nonzero(nz)
            rows.append((r0[:, None] + a[None]).ravel())
            cols.append((c0[:, None] + b[None]).ravel())
            vals.append(blocks[:, a, b].ravel())

        for s, n in enumerate(self.orbitals):
            keep = ~self.vacant[:, :, s]
            add(self.start[:, :, s][keep], self.start[:, :, s][keep], np.asarray(self.onsite[s])[keep], n, n)
        self.bonds = []
        for i, j, (dx, dy), T in self.hoppings:
            ni, nj = self.orbitals[i], self.orbitals[j]
            if self.periodic:  # torus: every cell, the far end wrapped
                xs, ys = np.arange(N_x), np.arange(W)
            else:
                xs = np.arange(max(0, -dx), min(N_x, N_x - dx))
                ys = np.arange(max(0, -dy), min(W, W - dy))
            X, Y = np.meshgrid(xs, ys, indexing="ij")
            X, Y = X.ravel(), Y.ravel()
            X2, Y2 = (X + dx) % N_x, (Y + dy) % W
            ok = ~self.vacant[X, Y, i] & ~self.vacant[X2, Y2, j]
            X, Y, X2, Y2 = X[ok], Y[ok], X2[ok], Y2[ok]
            t = T[X] if T.ndim == 3 else T[X, Y]
            r0, c0 = self.start[X, Y, i], self.start[X2, Y2, j]
            add(r0, c0, t, ni, nj)
            add(c0, r0, t.conj().transpose(0, 2, 1), nj, ni)
            self.bonds.append({"x": X, "y": Y, "start": r0, "end": c0, "T": t})
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        v = np.concatenate(vals) if vals else np.zeros(0, complex)
        real = not np.iscomplexobj(v) or not np.any(v.imag != 0)
        v = v.real.astype(float) if real else v.astype(complex)
        del rows, cols, vals
        H = sp.coo_matrix((v, (r, c)), shape=(self.n_states, self.n_states)).tocsr()
        H.sum_duplicates()
        self.H = H
        self._graph = None

    @classmethod
    def from_tight_binding(cls, model, L, onsite_disorder=None, generators=None, check_memory=True):
        """A periodic ``L_x x L_y`` supercell (torus, no edges) of a 2D crystal model, optionally with on-site disorder.

        The model is duck-typed (an :class:`orbsym.materials.TightBinding` or anything with the same attributes:
        ``periodic == 2``, ``cell`` (3, 3) rows, ``atoms`` with ``position``, ``basis`` with ``atom``, ``R``
        (n_R, 3) ints and ``H`` (n_R, n, n), ``generators`` or ``angular_momentum("L")``).  Each atom is a
        :class:`~orbsym.numeric.sites.Site`; ``H(R)_{ab}`` (atom blocks) becomes the bond ``a -> b`` with cell
        offset ``(R_1, R_2)`` (each bond once, its Hermitian partner implied), wrapped around the torus
        (:meth:`from_arrays` with ``periodic=True``).  Then ``H`` equals the Bloch Hamiltonian folded onto the
        ``L_x x L_y`` k grid ``k = 2 pi (j_1/L_x, j_2/L_y)`` (checked element by element in the tests), and the
        velocity ``i b T`` on the real bond vectors ``b = tau_b + R - tau_a`` is the model's ``i[H, r]``.

        Parameters
        ----------
        model : TightBinding-like
        L : (int, int)
            Cells along ``a_1`` (``N_x``) and ``a_2`` (``width``).
        onsite_disorder : ndarray, optional
            Added to the on-site blocks: shape ``(L_x, L_y, n_atoms)`` (one energy per atom, on all its orbitals:
            orbital-independent Anderson disorder), ``(L_x, L_y, n)`` (per orbital, in basis order) or
            ``(L_x, L_y, n, n)`` (Hermitian matrices, atom blocks used).  Units of the model's energy.
        generators : ndarray (3, n, n), optional
            The ``J`` of the polarized currents (default: the model's generators, else its atom-centred ``L``);
            atom blocks used.
        """
        if getattr(model, "periodic", None) != 2:
            raise ValueError(f"from_tight_binding builds 2D tori (model.periodic == 2); got periodic={getattr(model, 'periodic', None)!r}")
        try:
            Lx, Ly = (int(v) for v in L)
        except (TypeError, ValueError):
            raise TypeError(f"L must be two integers (L_x, L_y), got {L!r}") from None
        Lx = integer_at_least("L_x", Lx, 1)
        Ly = integer_at_least("L_y", Ly, 1)
        from .sites import Site

        n = int(model.H.shape[1])
        atom_of = np.array([o.atom for o in model.basis])
        idx = [np.flatnonzero(atom_of == a) for a in range(len(model.atoms))]
        if generators is None:
            generators = model.generators if getattr(model, "generators", None) is not None else model.angular_momentum("L")
        Jg = np.asarray(generators, dtype=complex)
        if Jg.shape != (3, n, n):
            raise ValueError(f"generators must have shape (3, {n}, {n}), got {Jg.shape}")
        R = np.asarray(model.R, dtype=int)
        z = int(np.flatnonzero(np.all(R == 0, axis=1))[0])
        H0 = np.asarray(model.H[z])
        sites = [Site(f"{a.name}{k}", a.position, H0[np.ix_(ia, ia)], Jg[:, ia][:, :, ia]) for k, (a, ia) in enumerate(zip(model.atoms, idx))]
        hops, seen = [], set()
        for r, M in zip(R, model.H):
            off = (int(r[0]), int(r[1]))
            for a, ia in enumerate(idx):
                for b, ib in enumerate(idx):
                    if a == b and off == (0, 0):
                        continue
                    blk = np.asarray(M)[np.ix_(ia, ib)]
                    if not np.any(blk != 0) or (b, a, (-off[0], -off[1])) in seen:
                        continue
                    seen.add((a, b, off))
                    hops.append((a, b, off, blk))
        onsite = [np.broadcast_to(s.onsite, (Lx, Ly) + s.onsite.shape).copy() for s in sites]
        if onsite_disorder is not None:
            d = np.asarray(onsite_disorder)
            if d.shape == (Lx, Ly, len(idx)):
                for a, ia in enumerate(idx):
                    onsite[a] = onsite[a] + d[:, :, a, None, None] * np.eye(len(ia))
            elif d.shape == (Lx, Ly, n):
                for a, ia in enumerate(idx):
                    onsite[a] = onsite[a] + d[:, :, ia][..., None] * np.eye(len(ia))
            elif d.shape == (Lx, Ly, n, n):
                for a, ia in enumerate(idx):
                    onsite[a] = onsite[a] + d[:, :, ia][:, :, :, ia]
            else:
                raise ValueError(f"onsite_disorder must have shape (L_x, L_y, n_atoms) = {(Lx, Ly, len(idx))}, (L_x, L_y, n) = {(Lx, Ly, n)} "
                                 f"or (L_x, L_y, n, n), got {d.shape}")
        return cls.from_arrays([tuple(sites)] * Lx, hops, Ly, onsite=onsite, vectors=np.asarray(model.cell, float),
                               check_memory=check_memory, periodic=True)

    # ------------------------------------------------------------------ helpers
    @property
    def bond_vectors(self):
        """Real bond vectors ``p_j + dx a_x + dy a_y - p_i`` of the hoppings, ``(n_hoppings, 3)`` (units of a)."""
        P = self.positions
        return np.array([P[j] + np.array([dx, dy, 0.0]) @ self.vectors - P[i] for i, j, (dx, dy), _ in self.hoppings]).reshape(-1, 3)

    def velocity(self, direction):
        """Velocity ``v = -dH/dA`` along ``direction`` (``"x"``, ``"y"``, ``"z"``) from the Peierls phases on the
        real bond vectors: ``v = sum_bonds i b (c_i^dag T c_j) + h.c.`` = ``i [H, r]`` with ``r`` the site
        positions (units: ``t a / hbar``), as a sparse matrix."""
        if direction not in ("x", "y", "z"):
            raise unknown_name("velocity direction", direction, ("x", "y", "z"))
        b = self.bond_vectors[:, "xyz".index(direction)]
        rows, cols, vals = [], [], []
        for h, bd in enumerate(self.bonds):
            if b[h] == 0 or bd["T"].shape[0] == 0:
                continue
            t = 1j * b[h] * bd["T"]
            ni, nj = t.shape[1:]
            for r0, c0, blk, n1, n2 in ((bd["start"], bd["end"], t, ni, nj), (bd["end"], bd["start"], t.conj().transpose(0, 2, 1), nj, ni)):
                aa, bb = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
                rows.append((r0[:, None] + aa.ravel()[None]).ravel())
                cols.append((c0[:, None] + bb.ravel()[None]).ravel())
                vals.append(blk.reshape(len(r0), -1).ravel())
        if not rows:
            return sp.csr_matrix((self.n_states, self.n_states), dtype=complex)
        return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(self.n_states,) * 2).tocsr()

    def current_operator(self, direction, polarization=None):
        """Conventional current ``{v_direction, J_alpha} / 2`` (charge: ``v``), sparse (units ``J t a / hbar``)."""
        v = self.velocity(direction)
        pol = _check_pol(polarization)
        if pol == "charge":
            return v
        J = self.generator_operator(pol)
        return ((v @ J + J @ v) * 0.5).tocsr()

    def generator_operator(self, polarization):
        """The one-body operator ``O = sum_sites c_i^dag J_alpha c_i`` as a sparse matrix (charge: identity)."""
        pol = _check_pol(polarization)
        if pol == "charge":
            return sp.identity(self.n_states, dtype=float, format="csr")
        a = "xyz".index(pol)
        rows, cols, vals = [], [], []
        for s, n in enumerate(self.orbitals):
            keep = ~self.vacant[:, :, s]
            X, Y = np.nonzero(keep)
            J = self.generators[s][X, a]  # (k, n, n)
            r0 = self.start[X, Y, s]
            aa, bb = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            rows.append((r0[:, None] + aa.ravel()[None]).ravel())
            cols.append((r0[:, None] + bb.ravel()[None]).ravel())
            vals.append(J.reshape(len(r0), -1).ravel())
        return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(self.n_states,) * 2).tocsr()

    def site_states(self, sites):
        """``(K, 3)`` array of ``(x, y, site)`` of the chosen sites, checked (a list of ``(x, y, site)``,
        site by name or index, or a bool mask ``(N_x, width, n_sites)``)."""
        shape = (self.N_x, self.width, self.n_sites)
        if isinstance(sites, np.ndarray) and sites.dtype == bool:
            if sites.shape != shape:
                raise ValueError(f"a site mask must have shape (N_x, width, n_sites) = {shape}, got {sites.shape}")
            out = np.argwhere(sites)
        else:
            try:
                items = list(sites)
            except TypeError:
                raise TypeError(f"sites must be a list of (x, y, site) or a bool mask {shape}, got {type(sites).__name__}") from None
            out = []
            for key in items:
                key = tuple(key) if isinstance(key, (list, tuple, np.ndarray)) else key
                if not isinstance(key, tuple) or len(key) != 3:
                    raise ValueError(f"sites must be (x, y, site) tuples, got {key!r}")
                x, y, s = key
                for name, v, hi in (("x", x, self.N_x), ("y", y, self.width)):
                    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or not 0 <= v < hi:
                        raise ValueError(f"site {key!r}: {name} must be an integer in 0 .. {hi - 1}, got {v!r}")
                if isinstance(s, str):
                    if s not in self.names:
                        raise unknown_name("site", s, self.names)
                    s = self.names.index(s)
                elif isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or not 0 <= s < self.n_sites:
                    raise ValueError(f"site {key!r}: site must be a name in {list(self.names)} or an index 0 .. {self.n_sites - 1}")
                out.append((int(x), int(y), int(s)))
            out = np.array(out, dtype=np.int64).reshape(-1, 3)
        if out.shape[0] == 0:
            raise ValueError("no site chosen: give at least one (x, y, site)")
        if len({tuple(r) for r in out}) != out.shape[0]:
            raise ValueError("a site is chosen twice: give each (x, y, site) once")
        vac = self.vacant[out[:, 0], out[:, 1], out[:, 2]]
        if vac.any():
            raise ValueError(f"site {tuple(int(v) for v in out[np.argmax(vac)])} is a vacancy: it has no states to observe")
        return out

    def graph(self):
        """The sparsity graph of ``H`` (unit weights, no self loops) for hop distances."""
        if self._graph is None:
            g = self.H.copy()
            g.data = np.ones_like(g.data, dtype=float)
            g = g.astype(float)
            g.setdiag(0)
            g.eliminate_zeros()
            self._graph = g.tocsr()
        return self._graph

    def describe(self):
        """Plain-data summary (sizes, nonzeros, vacancies)."""
        return {"N_x": self.N_x, "width": self.width, "sites": list(self.names), "orbitals": self.orbitals.tolist(),
                "n_states": self.n_states, "nnz": int(self.H.nnz), "vacancies": int(self.vacant.sum()),
                "dtype": str(self.H.dtype), "engine": "chebyshev", "periodic": bool(getattr(self, "periodic", False))}


def _check_pol(pol):
    if pol is None:
        return "charge"
    if pol in POLARIZATIONS:
        return pol
    raise unknown_name("polarization", pol, POLARIZATIONS)


# ============================================================================ bounds and coefficients
def spectral_bounds(H, method="gershgorin", margin=DEFAULT_MARGIN, tol=1e-8):
    """Bounds ``(E_min, E_max)`` of the spectrum of the Hermitian sparse ``H`` (units of t), widened by
    ``margin * (E_max - E_min)`` on each side.

    ``method="gershgorin"``: ``[min(H_ii - R_i), max(H_ii + R_i)]``, ``R_i = sum_{j != i} |H_ij|`` --
    rigorous and ``O(nnz)``.  ``"lanczos"``: the extreme Ritz values of ``scipy.sparse.linalg.eigsh``
    (tolerance ``tol``), widened by their residual norms and ``margin``; Ritz values lie inside the
    spectrum, so this is tight but NOT guaranteed (the margin covers an unconverged extreme); the
    result is clipped to the Gershgorin interval.
    """
    if method not in ("gershgorin", "lanczos"):
        raise unknown_name("spectral bound method", method, ("gershgorin", "lanczos"))
    margin = real_number("margin", margin, minimum=0.0)
    if margin >= 0.5:
        raise ValueError(f"margin must be a small relative widening in [0, 0.5), got {margin!r}")
    d = H.diagonal().real
    R = np.asarray(abs(H).sum(axis=1)).ravel() - np.abs(H.diagonal())
    lo, hi = float(np.min(d - R)), float(np.max(d + R))
    if method == "lanczos" and H.shape[0] > 2:
        from scipy.sparse.linalg import eigsh

        out = []
        for which in ("SA", "LA"):
            w, v = eigsh(H, k=1, which=which, tol=tol, maxiter=max(1000, 20 * int(np.sqrt(H.shape[0]))))
            res = float(np.linalg.norm(H @ v[:, 0] - w[0] * v[:, 0]))
            out.append((float(w[0]), res))
        lo = max(lo, out[0][0] - out[0][1])
        hi = min(hi, out[1][0] + out[1][1])
    width = max(hi - lo, 1e-12 * max(1.0, abs(hi), abs(lo)), 1e-300)
    return lo - margin * width, hi + margin * width


def chebyshev_coefficients(f, a, b, order, nodes=None):
    """``c_0 .. c_order`` of ``f(a x + b) = sum_n c_n T_n(x)`` by Chebyshev-Gauss quadrature (DCT-II of
    ``f`` at ``M`` nodes ``x_k = cos(pi (k + 1/2) / M)``; ``M = max(4 (order + 1), 256)`` by default)."""
    M = max(4 * (order + 1), 256) if nodes is None else int(nodes)
    x = np.cos(np.pi * (np.arange(M) + 0.5) / M)
    c = scipy.fft.dct(f(a * x + b), type=2) / M
    c[0] /= 2
    return c[: order + 1]


def jackson_kernel(N):
    """Jackson kernel ``g_n``, ``n = 0 .. N - 1`` (Weisse et al., RMP 78, 275 (2006), Eq. 71)."""
    n = np.arange(N)
    q = np.pi / (N + 1)
    return ((N - n + 1) * np.cos(q * n) + np.sin(q * n) / np.tan(q)) / (N + 1)


def _fermi_complex(w):
    """``1 / (1 + e^w)`` for complex ``w`` without overflow."""
    w = np.asarray(w, dtype=complex)
    pos = w.real > 0
    e = np.exp(np.where(pos, -w, w))
    return np.where(pos, e / (1 + e), 1 / (1 + e))


def _log1pexp_neg(w):
    """``ln(1 + e^{-w})`` for complex ``w`` without overflow (principal branch)."""
    w = np.asarray(w, dtype=complex)
    pos = w.real > 0
    return np.where(pos, np.log1p(np.exp(-np.where(pos, w, 0))), -w + np.log1p(np.exp(np.where(pos, 0, w))))


@dataclass
class FermiExpansion:
    """Chebyshev series of a function of ``H`` with the Matsubara-pole error bound.

    Attributes
    ----------
    T, mu : float
    a, b : float
        ``Ht = (H - b) / a``.
    order : int
        Highest degree ``N``.
    coefficients : ndarray (order + 1,)
    truncation_error : float
        Bound on ``sup |f - p_N|`` over the (rescaled) spectrum interval (module docstring).
    pole_radius : float
        ``r_p`` of the nearest Matsubara pole.
    kind : {"fermi", "grand"}
    """

    T: float
    mu: float
    a: float
    b: float
    order: int
    coefficients: np.ndarray = field(repr=False)
    truncation_error: float
    pole_radius: float
    kind: str = "fermi"

    @staticmethod
    def function(kind, T, mu):
        if kind == "fermi":
            return lambda E: _fermi_complex((np.asarray(E) - mu) / T).real
        if kind == "grand":
            return lambda E: (-T * _log1pexp_neg((np.asarray(E) - mu) / T)).real
        raise unknown_name("expanded function", kind, ("fermi", "grand"))

    @classmethod
    def build(cls, bounds, T, mu=0.0, tol=None, order=None, kind="fermi"):
        """Expansion of ``f`` on ``bounds = (E_min, E_max)`` at ``T > 0`` with bound ``<= tol`` (smallest
        order; ``tol`` default :data:`DEFAULT_TOL`) or at the given ``order`` (refused if its bound exceeds
        a given ``tol``: the message names the order needed; with ``tol=None`` the bound is only reported)."""
        T = real_number("temperature T", T, minimum=0.0)
        if T == 0:
            raise ValueError(
                "temperature T = 0 is refused by the Chebyshev engine: the Fermi step has no analytic extension, its series "
                "converges like 1/N with no error bound; use T > 0 (order ~ (a / pi T) ln(1/tol)) or an exact engine"
            )
        mu = real_number("mu", mu)
        if tol is None and order is None:
            tol = DEFAULT_TOL
        tol = None if tol is None else real_number("tol", tol, minimum=0.0, strict=True)
        lo, hi = float(bounds[0]), float(bounds[1])
        a, b = (hi - lo) / 2, (hi + lo) / 2
        zp = (mu + 1j * np.pi * T - b) / a
        s = np.sqrt(zp - 1) * np.sqrt(zp + 1)
        rp = max(abs(zp + s), abs(zp - s))
        fz = cls.function(kind, T, mu)
        g = (lambda z: _fermi_complex((a * z + b - mu) / T)) if kind == "fermi" else (lambda z: -T * _log1pexp_neg((a * z + b - mu) / T))
        # candidate ellipses r in (1, r_p): M_r sampled on the ellipse
        rs = 1 + (rp - 1) * np.linspace(0.02, 0.98, 49)
        th = np.linspace(0, 2 * np.pi, 4097)[:-1]
        Ms = []
        for r in rs:
            z = (r * np.exp(1j * th) + np.exp(-1j * th) / r) / 2
            Ms.append(float(np.max(np.abs(g(z)))) * 1.05)  # 5 %: the sampled maximum of a smooth function, safely rounded up
        Ms = np.array(Ms)
        lnbound = lambda n: np.min(np.log(2 * Ms) - n * np.log(rs) - np.log(rs - 1))  # noqa: E731

        def bound(n):
            return float(np.exp(lnbound(n)))

        def bound_order(target):  # smallest n with the ellipse bound <= target
            n_lo, n_hi = 1, 1
            while bound(n_hi) > target:
                n_hi *= 2
                if n_hi > MAX_ORDER:
                    raise ValueError(f"the tolerance {target:g} at T = {T:g} needs a Chebyshev order above {MAX_ORDER} (spectral half "
                                     f"width {a:.3g}): raise T or tol, or use an exact engine")
            while n_lo < n_hi:
                mid = (n_lo + n_hi) // 2
                if bound(mid) <= target:
                    n_hi = mid
                else:
                    n_lo = mid + 1
            return n_hi

        # tails[n] = sum_{n < k <= L} |c_k| (computed) + ellipse bound at L >= every order considered
        if order is None:
            L = max(bound_order(tol), 16)
        else:
            N = integer_at_least("order", order, 1, " (highest Chebyshev degree)")
            if N > MAX_ORDER:
                raise ValueError(f"order must be <= {MAX_ORDER}, got {order}")
            L = max(2 * N, 16)
        c = chebyshev_coefficients(fz, a, b, L, nodes=8 * (L + 1))
        tails = np.r_[np.cumsum(np.abs(c[::-1]))[::-1][1:], 0.0] + bound(L)
        if order is None:
            N = int(np.argmax(tails <= tol))
        elif tol is not None and tails[N] > tol:
            need = cls.build(bounds, T, mu, tol, None, kind).order
            raise ValueError(f"order {N} is too small for the tolerance {tol:g} at T = {T:g}: its truncation bound is {tails[N]:.3g}; "
                             f"order {need} is needed")
        return cls(T, mu, a, b, N, c[: N + 1].copy(), float(tails[N]), float(rp), kind)

    def tail(self, n0):
        """``sum_{n0 < n <= N} |c_n|`` (the computed coefficients)."""
        return float(np.abs(self.coefficients[max(int(n0), -1) + 1:]).sum())


# ============================================================================ recurrence on a block
def _row_prefix(A, k):
    """The first ``k`` rows of a CSR matrix as a CSR view (no copy of the entries)."""
    p = A.indptr[k]
    out = sp.csr_matrix((A.data[:p], A.indices[:p], A.indptr[: k + 1]), shape=(k, A.shape[1]), copy=False)
    return out


def _chebyshev_apply(Ht, X, coeff_sets, moments=False, support=None):
    """``sum_n c_n T_n(Ht) X`` for each coefficient set, ``X`` of shape ``(n, m)``; with ``moments`` also
    the column-wise ``<X|T_n(Ht) X>`` for ``n = 0 .. N`` (``(N + 1, m)``).

    Memory-bound loop: ``T_{n+1} = (2 Ht) T_n - T_{n-1}`` with ``2 Ht`` formed once (one pass over the
    vectors besides the sparse product), the sums updated in place by BLAS ``axpy``.  ``support`` (light
    cone): ``support[n]`` rows hold every nonzero of ``T_n(Ht) X`` (states ordered by hop distance from
    those of ``X``); only those rows are computed (three rotating buffers, zero beyond the support)."""
    from scipy.linalg import blas

    N = max(len(c) for c in coeff_sets) - 1
    n_rows = X.shape[0]
    dtype = np.result_type(Ht.dtype, X.dtype)
    X = np.ascontiguousarray(X, dtype=dtype)
    axpy = blas.get_blas_funcs("axpy", (X,))
    acc = [np.ascontiguousarray(c[0] * X) for c in coeff_sets]
    kn = (lambda n: n_rows) if support is None else (lambda n: int(support[min(n, len(support) - 1)]))  # noqa: E731

    def add(k, c, V, rows):
        acc[k][:rows] = axpy(V[:rows].ravel(), acc[k][:rows].ravel(), a=c).reshape(V[:rows].shape)

    Xc = X.conj() if moments else None
    mom = [np.einsum("ij,ij->j", Xc, X)] if moments else None
    if N >= 1:
        Ht2 = (2 * Ht).tocsr()
        B0 = X.copy()
        B1 = np.zeros_like(X)
        k1 = kn(1)
        B1[:k1] = _row_prefix(Ht2, k1) @ B0
        B1[:k1] *= 0.5
        B2 = np.zeros_like(X)
        for k, c in enumerate(coeff_sets):
            if len(c) > 1:
                add(k, c[1], B1, k1)
        if moments:
            mom.append(np.einsum("ij,ij->j", Xc, B1))
        for n in range(2, N + 1):
            k2 = kn(n)
            B2[:k2] = _row_prefix(Ht2, k2) @ B1 if k2 < n_rows else Ht2 @ B1
            B2[:k2] -= B0[:k2]
            for k, c in enumerate(coeff_sets):
                if len(c) > n:
                    add(k, c[n], B2, k2)
            if moments:
                mom.append(np.einsum("ij,ij->j", Xc, B2))
            B0, B1, B2 = B1, B2, B0  # B0 (T_{n-2}) is zero beyond its support <= the next one
    return acc, (np.array(mom) if moments else None)


def _rescaled(H, a, b):
    Ht = (H - b * sp.identity(H.shape[0], dtype=H.dtype, format="csr")) / a
    return Ht.tocsr()


# ============================================================================ local observables
@dataclass
class LocalObservables:
    """Local observables of ``rho = p_N(H)`` on chosen sites (:func:`local_observables`).

    Site arrays are ``(4, K)`` over (:data:`POLARIZATIONS`, chosen site); bond arrays ``(4, B)`` over the
    bonds touching a chosen site.  Every ``*_error`` is the rigorous bound ``error * sum_ab |A_ab|`` of
    the observable's operator ``A``.

    Attributes
    ----------
    sites : ndarray (K, 3)
        ``(x, y, site index)``.
    density, density_error : ndarray (4, K)
        ``Tr(J rho)`` per site (units of J; charge: particles).
    onsite_torque, onsite_torque_error : ndarray (4, K)
        ``i Tr([eps_i, J_i] rho)`` (units J t / hbar).
    rate : ndarray (4, K)
        The exact ``i Tr(rho [H, O_i])`` from ``H rho`` on the site (zero to rounding: ``p_N(H)`` commutes with H).
    divergence, torque : ndarray (4, K)
        ``div_i j`` and ``tau_i`` (on-site + sources of every bond at i, as :class:`SiteObservables`).
    residual : ndarray (4, K)
        ``rate - (-div j + tau)`` (an algebraic identity: rounding only).
    bond_hopping, bond_start, bond_end : ndarray (B,), (B, 3), (B, 3)
        Hopping family, start ``(x, y, site)`` and end ``(x, y, site)`` of each bond.
    eom_start, eom_end, current, source : ndarray (4, B)
        ``<i [H_b, O_i]>``, ``<i [H_b, O_j]>``, ``(end - start)/2``, ``(start + end)/2``.
    eom_start_error, eom_end_error, current_error : ndarray (4, B)
    order, truncation_error, region_error, error, radius, T, mu, bounds, n_region_states, seconds
        The expansion: ``error = truncation_error + region_error`` bounds every entry of ``rho`` used.
    engine : str
        ``"chebyshev"``.
    """

    sites: np.ndarray
    density: np.ndarray
    density_error: np.ndarray
    onsite_torque: np.ndarray
    onsite_torque_error: np.ndarray
    rate: np.ndarray
    divergence: np.ndarray
    torque: np.ndarray
    residual: np.ndarray
    bond_hopping: np.ndarray
    bond_start: np.ndarray
    bond_end: np.ndarray
    eom_start: np.ndarray
    eom_end: np.ndarray
    eom_start_error: np.ndarray
    eom_end_error: np.ndarray
    order: int
    truncation_error: float
    region_error: float
    radius: int
    T: float
    mu: float
    bounds: tuple
    n_region_states: int
    seconds: float
    engine: str = "chebyshev"
    units: dict = field(default_factory=lambda: {"energy": "t", "density": "J (hbar for L; charge: particles)",
                                                   "current, source, torque, rate": "J t / hbar", "positions": "cells"})

    @property
    def error(self):
        return self.truncation_error + self.region_error

    @property
    def current(self):
        return 0.5 * (self.eom_end - self.eom_start)

    @property
    def source(self):
        return 0.5 * (self.eom_end + self.eom_start)

    @property
    def current_error(self):
        return 0.5 * (self.eom_end_error + self.eom_start_error)

    def to_xarray(self):
        """An ``xarray.Dataset`` (dimensions ``polarization``, ``site``, ``bond``) with units and the expansion as attributes."""
        import xarray as xr

        pol = list(POLARIZATIONS)
        S = ("polarization", "site")
        B = ("polarization", "bond")
        ds = xr.Dataset(
            {k: (S, getattr(self, k)) for k in ("density", "density_error", "onsite_torque", "onsite_torque_error", "rate", "divergence", "torque", "residual")}
            | {k: (B, getattr(self, k)) for k in ("eom_start", "eom_end", "eom_start_error", "eom_end_error", "current", "source", "current_error")},
            coords={"polarization": pol, "x": ("site", self.sites[:, 0]), "y": ("site", self.sites[:, 1]), "site_kind": ("site", self.sites[:, 2]),
                    "hopping": ("bond", self.bond_hopping), "start": (("bond", "cell"), self.bond_start), "end": (("bond", "cell"), self.bond_end)},
        )
        ds.attrs.update(engine=self.engine, order=self.order, truncation_error=self.truncation_error, region_error=self.region_error,
                        error=self.error, radius=self.radius, T=self.T, mu=self.mu, bounds=list(self.bounds), **{f"unit_{k}": v for k, v in self.units.items()})
        return ds


def _memory_check(n_rows, nnz, m_block, order, n_cols, dtype_bytes, what):
    nbytes = 4 * n_rows * m_block * dtype_bytes + nnz * (dtype_bytes + 8) * 2
    seconds = nnz * n_cols * order * _SECONDS_PER_NNZ_COLUMN
    est = ResourceEstimate("Chebyshev", float(nbytes), float(seconds),
                           f"{n_cols} vectors of {n_rows} states in blocks of {m_block}, order {order}, {nnz} nonzeros")
    return check_resources(est, what=what, hint="choose fewer sites, a smaller radius, a higher T or a lower accuracy")


def local_observables(sample, T, sites, mu=0.0, tol=None, order=None, radius=None, bounds=None, block=None, chunk_bytes=CHUNK_BYTES):
    """Local densities, bond currents and sources, torques and the per-site balance at chosen sites.

    Parameters
    ----------
    sample : SparseSample
    T : float
        Temperature (units of t), ``T > 0``.
    sites : list of (x, y, site) or bool mask (N_x, width, n_sites)
    mu : float
        Extra chemical potential (units of t; the model's ``mu`` is in the on-site matrices).
    tol : float, optional
        Requested bound on the truncation error of ``rho`` (``sup |f - p_N|``); default
        :data:`DEFAULT_TOL` unless ``order`` is given.
    order : int, optional
        Fixed order (refused if its bound exceeds a given ``tol``, naming the order needed).
    radius : int, optional
        Hops of the region the recurrence runs on; default the exact one (no region error).
    bounds : (E_min, E_max), optional
        Spectral bounds (default :func:`spectral_bounds` Gershgorin).
    block : int, optional
        Vectors per block (default from ``chunk_bytes``).

    Returns
    -------
    LocalObservables
    """
    if not isinstance(sample, SparseSample):
        raise TypeError(f"sample must be a SparseSample, got {type(sample).__name__}")
    t0 = time.perf_counter()
    chosen = sample.site_states(sites)
    bounds = spectral_bounds(sample.H) if bounds is None else (float(bounds[0]), float(bounds[1]))
    exp = FermiExpansion.build(bounds, T, mu, tol, order)
    N = exp.order
    K = chosen.shape[0]
    n_of = sample.orbitals[chosen[:, 2]]
    first = sample.start[chosen[:, 0], chosen[:, 1], chosen[:, 2]]
    col0 = np.r_[0, np.cumsum(n_of)[:-1]]
    m_total = int(n_of.sum())
    src_states = np.concatenate([np.arange(f, f + n) for f, n in zip(first, n_of)])
    # chosen-site id lookup and the bonds touching a chosen site
    sid = np.full((sample.N_x, sample.width, sample.n_sites), -1, np.int64)
    sid[chosen[:, 0], chosen[:, 1], chosen[:, 2]] = np.arange(K)
    touch = []
    for h, ((i, j, (dx, dy), _), bd) in enumerate(zip(sample.hoppings, sample.bonds)):
        ks = sid[bd["x"], bd["y"], i]
        ke = sid[bd["x"] + dx, bd["y"] + dy, j]
        sel = np.nonzero((ks >= 0) | (ke >= 0))[0]
        touch.append((h, sel, ks[sel], ke[sel]))
    obs = [src_states]
    for h, sel, _, _ in touch:
        i, j = sample.hoppings[h][:2]
        bd = sample.bonds[h]
        obs += [(bd["start"][sel, None] + np.arange(sample.orbitals[i])).ravel(), (bd["end"][sel, None] + np.arange(sample.orbitals[j])).ravel()]
    obs = np.unique(np.concatenate(obs))
    # the region: states within R hops of the chosen states
    from scipy.sparse.csgraph import dijkstra

    G = sample.graph()
    n_full = sample.n_states
    if radius is not None:
        radius = integer_at_least("radius", radius, 1, " (hops of the region around the chosen sites)")
    lim = (N + 1) // 2 + 16 if radius is None else radius
    dist = dijkstra(G, directed=False, indices=src_states, unweighted=True, min_only=True, limit=float(lim) + 0.5)
    if not np.all(np.isfinite(dist[obs])):  # an observed state beyond the first search: farther, or disconnected
        dist = dijkstra(G, directed=False, indices=src_states, unweighted=True, min_only=True)
    d_obs = dist[obs]
    d_max = int(np.max(d_obs[np.isfinite(d_obs)], initial=0))  # unreachable states: rho_ba = 0 exactly, in p_N too
    R_exact = int(math.ceil(max(N - 1 + d_max, 0) / 2))
    R = R_exact if radius is None else radius
    ball = np.nonzero(dist <= R)[0]
    ball = ball[np.argsort(dist[ball], kind="stable")]  # by hop distance: T_n(H) e_a lives on a prefix (light cone)
    support = np.searchsorted(dist[ball], np.arange(N + 1), side="right")  # states within n hops
    n0 = 2 * R + 1 - d_max
    region_error = 2 * exp.tail(n0) if n0 < N else 0.0
    loc = np.full(n_full, -1, np.int64)
    loc[ball] = np.arange(ball.size)
    HB = sample.H[ball][:, ball].tocsr()
    Ht = _rescaled(HB, exp.a, exp.b)
    real = not np.iscomplexobj(HB.data)
    itemsize = 8 if real else 16
    if block is None:
        block = _default_block(ball.size, m_total, 4 * ball.size * itemsize, chunk_bytes)
    block = integer_at_least("block", block, 1)
    _memory_check(ball.size, Ht.nnz, min(block, m_total), N, m_total, itemsize, "the local Chebyshev expansion")
    # rho columns at the observation rows, and (H rho) on the chosen sites' own states
    obs_loc = loc[obs]
    rho_obs = np.zeros((obs.size, m_total), complex)  # rows: obs states (global order), cols: chosen orbitals
    Hrho_site = np.zeros((m_total, m_total), complex)
    src_loc = loc[src_states]
    HBrows = HB[src_loc]
    present = obs_loc >= 0
    for c0 in range(0, m_total, block):
        c1 = min(m_total, c0 + block)
        X = np.zeros((ball.size, c1 - c0), float if real else complex)
        X[src_loc[c0:c1], np.arange(c1 - c0)] = 1
        (acc,), _ = _chebyshev_apply(Ht, X, [exp.coefficients], support=support)
        rho_obs[present, c0:c1] = acc[obs_loc[present]]
        Hrho_site[:, c0:c1] = HBrows @ acc

    def rho_rows(states):  # rows of rho_obs for global states (all in obs)
        return np.searchsorted(obs, states)

    pols = POLARIZATIONS
    dens = np.zeros((4, K))
    dens_err = np.zeros((4, K))
    tor = np.zeros((4, K))
    tor_err = np.zeros((4, K))
    rate = np.zeros((4, K))
    err = exp.truncation_error + region_error
    for s in np.unique(chosen[:, 2]):
        ks = np.nonzero(chosen[:, 2] == s)[0]
        n = sample.orbitals[s]
        ar = np.arange(n)
        rows = rho_rows(first[ks, None] + ar)  # (k, n)
        cols = col0[ks, None] + ar  # (k, n)
        rho_ss = rho_obs[rows[:, :, None], cols[:, None, :]]  # rho_ab, a, b on the site
        Hr = Hrho_site[cols[:, :, None], cols[:, None, :]]  # (H rho)_ab
        rH = Hr.conj().transpose(0, 2, 1)  # (rho H)_ab = conj((H rho)_ba)
        eps = np.asarray(sample.onsite[s])[chosen[ks, 0], chosen[ks, 1]]
        for p, pol in enumerate(pols):
            J = np.broadcast_to(np.eye(n), (len(ks), n, n)) if pol == "charge" else sample.generators[s][chosen[ks, 0], "xyz".index(pol)]
            dens[p, ks] = np.einsum("kab,kba->k", J, rho_ss).real
            dens_err[p, ks] = err * np.abs(J).sum(axis=(1, 2))
            C = 1j * (eps @ J - J @ eps)
            tor[p, ks] = np.einsum("kab,kba->k", C, rho_ss).real
            tor_err[p, ks] = err * np.abs(C).sum(axis=(1, 2))
            rate[p, ks] = (1j * np.einsum("kba,kab->k", J, rH - Hr)).real
    # bonds
    b_h, b_start, b_end, e_s, e_e, e_s_err, e_e_err = [], [], [], [], [], [], []
    div = np.zeros((4, K))
    src_sum = np.zeros((4, K))
    for h, sel, ks, ke in touch:
        if sel.size == 0:
            continue
        i, j, (dx, dy), _ = sample.hoppings[h]
        bd = sample.bonds[h]
        ni, nj = sample.orbitals[i], sample.orbitals[j]
        t = bd["T"][sel]
        x, y = bd["x"][sel], bd["y"][sel]
        Gb = np.empty((sel.size, ni, nj), complex)  # G_ij[a, b] = <c_ia^dag c_jb> = rho_{jb, ia}
        use_s = ks >= 0
        if use_s.any():
            r = rho_rows(bd["end"][sel][use_s, None] + np.arange(nj))  # (k, nj)
            c = col0[ks[use_s], None] + np.arange(ni)  # (k, ni)
            Gb[use_s] = rho_obs[r[:, None, :], c[:, :, None]]
        if (~use_s).any():
            r = rho_rows(bd["start"][sel][~use_s, None] + np.arange(ni))
            c = col0[ke[~use_s], None] + np.arange(nj)
            Gb[~use_s] = rho_obs[r[:, :, None], c[:, None, :]].conj()
        es_h, ee_h, es_err, ee_err = (np.zeros((4, sel.size)) for _ in range(4))
        for p, pol in enumerate(pols):
            if pol == "charge":
                Ji, Jj = np.eye(ni)[None], np.eye(nj)[None]
            else:
                a = "xyz".index(pol)
                Ji, Jj = sample.generators[i][x, a], sample.generators[j][x + dx, a]
            JT, TJ = Ji @ t, t @ Jj
            es_h[p] = 2 * np.einsum("kab,kab->k", JT, Gb).imag
            ee_h[p] = -2 * np.einsum("kab,kab->k", TJ, Gb).imag
            es_err[p] = err * 2 * np.abs(JT).sum(axis=(1, 2))
            ee_err[p] = err * 2 * np.abs(TJ).sum(axis=(1, 2))
        cur, srcv = 0.5 * (ee_h - es_h), 0.5 * (ee_h + es_h)
        for mask, k, sign in ((ks >= 0, ks, 1.0), (ke >= 0, ke, -1.0)):
            np.add.at(div, (slice(None), k[mask]), sign * cur[:, mask])
            np.add.at(src_sum, (slice(None), k[mask]), srcv[:, mask])
        b_h.append(np.full(sel.size, h))
        b_start.append(np.stack([x, y, np.full(sel.size, i)], 1))
        b_end.append(np.stack([x + dx, y + dy, np.full(sel.size, j)], 1))
        e_s.append(es_h), e_e.append(ee_h), e_s_err.append(es_err), e_e_err.append(ee_err)
    cat = lambda lst, shape: np.concatenate(lst, axis=-1) if lst else np.zeros(shape)  # noqa: E731
    torque = tor + src_sum
    return LocalObservables(
        sites=chosen, density=dens, density_error=dens_err, onsite_torque=tor, onsite_torque_error=tor_err, rate=rate,
        divergence=div, torque=torque, residual=rate - (torque - div),
        bond_hopping=cat(b_h, (0,)).astype(int), bond_start=np.concatenate(b_start) if b_start else np.zeros((0, 3), int),
        bond_end=np.concatenate(b_end) if b_end else np.zeros((0, 3), int),
        eom_start=cat(e_s, (4, 0)), eom_end=cat(e_e, (4, 0)), eom_start_error=cat(e_s_err, (4, 0)), eom_end_error=cat(e_e_err, (4, 0)),
        order=N, truncation_error=exp.truncation_error, region_error=region_error, radius=R, T=exp.T, mu=exp.mu,
        bounds=tuple(bounds), n_region_states=int(ball.size), seconds=time.perf_counter() - t0,
    )


# ============================================================================ stochastic traces
@dataclass
class StochasticTraces:
    """Global traces by random-phase vectors (:func:`stochastic_traces`); every ``*_se`` is the standard
    error over the vectors, every ``*_truncation`` the rigorous bound of the polynomial truncation.

    Attributes
    ----------
    moments, moments_se : ndarray (n_moments,)
        ``mu_n = Tr T_n(Ht) / n_states``.
    particles, particles_se, particles_truncation : float
        ``Tr f(H)`` (particles).
    generators, generators_se, generators_truncation : ndarray (3,)
        ``Tr(J_alpha f(H))`` (units of J).
    grand_potential, grand_potential_se, grand_potential_truncation : float
        ``Tr g(H)`` (units of t).
    n_vectors, order, T, mu, a, b, n_states, seconds, engine
    """

    moments: np.ndarray
    moments_se: np.ndarray
    particles: float
    particles_se: float
    particles_truncation: float
    generators: np.ndarray
    generators_se: np.ndarray
    generators_truncation: np.ndarray
    grand_potential: float
    grand_potential_se: float
    grand_potential_truncation: float
    n_vectors: int
    order: int
    T: float
    mu: float
    a: float
    b: float
    n_states: int
    seconds: float
    engine: str = "chebyshev (stochastic trace)"

    @property
    def resolution(self):
        """Energy resolution of the Jackson-kernel DOS, ``pi a / n_moments`` (units of t; the width of the
        near-Gaussian a delta peak becomes at the band centre, narrower towards the band edges)."""
        return np.pi * self.a / len(self.moments)

    def dos(self, energies, kernel="jackson"):
        """Density of states per state and unit energy at ``energies`` (units of t) and its standard error
        (per-vector DOS, propagated linearly): ``rho(E) = [g_0 mu_0 + 2 sum_n g_n mu_n T_n(x)] / (pi a
        sqrt(1 - x^2))``, ``x = (E - b)/a``; Jackson kernel ``g_n`` (resolution ``~ pi a / N_mom``)."""
        E = np.asarray(energies, dtype=float)
        x = (E - self.b) / self.a
        if np.any(np.abs(x) >= 1):
            raise ValueError(f"energies must lie inside the rescaled spectrum ({self.b - self.a:.4g}, {self.b + self.a:.4g}) (units of t)")
        Nm = len(self.moments)
        if kernel == "jackson":
            g = jackson_kernel(Nm)
        elif kernel is None:
            g = np.ones(Nm)
        else:
            raise unknown_name("kernel", kernel, ("jackson", "None"))
        w = g * np.where(np.arange(Nm) == 0, 1.0, 2.0)
        Tn = np.cos(np.arange(Nm)[:, None] * np.arccos(x)[None])  # (Nm, nE)
        pref = 1 / (np.pi * self.a * np.sqrt(1 - x**2))
        per = pref * ((self._per_vector * w) @ Tn)  # (R, nE)
        return per.mean(axis=0), per.std(axis=0, ddof=1) / np.sqrt(per.shape[0])

    _per_vector: np.ndarray = field(default=None, repr=False)


def stochastic_traces(sample, T, n_vectors=8, mu=0.0, tol=1e-6, n_moments=256, bounds=None, seed=0, block=None, chunk_bytes=CHUNK_BYTES):
    """Stochastic traces: KPM moments (DOS), particle number, total ``<J_alpha>`` and grand potential.

    Parameters
    ----------
    sample : SparseSample
    T : float
        Temperature (units of t) for ``f`` and ``g``; ``T > 0``.
    n_vectors : int
        Random-phase vectors ``R >= 2`` (standard errors over them).
    tol : float
        Truncation bound for ``f`` and ``g`` per level (the trace's bound is ``n_states tol``-like:
        reported per quantity).
    n_moments : int
        DOS moments (``mu_0 .. mu_{n_moments - 1}``).
    seed : int
        Seed of the random phases (reproducible).
    """
    if not isinstance(sample, SparseSample):
        raise TypeError(f"sample must be a SparseSample, got {type(sample).__name__}")
    t0 = time.perf_counter()
    R = integer_at_least("n_vectors", n_vectors, 2, " (random vectors; standard errors need two)")
    n_moments = integer_at_least("n_moments", n_moments, 1)
    seed = integer_at_least("seed", seed, 0)
    bounds = spectral_bounds(sample.H) if bounds is None else (float(bounds[0]), float(bounds[1]))
    f_exp = FermiExpansion.build(bounds, T, mu, tol, None, "fermi")
    g_exp = FermiExpansion.build(bounds, T, mu, tol, None, "grand")
    N = max(f_exp.order, g_exp.order, n_moments - 1)
    Ht = _rescaled(sample.H, f_exp.a, f_exp.b)
    n = sample.n_states
    if block is None:
        block = _default_block(n, R, 5 * n * 16, chunk_bytes)
    _memory_check(n, Ht.nnz, min(block, R), N, R, 16, "the stochastic trace")
    rng = np.random.default_rng(seed)
    Jops = [sample.generator_operator(p) for p in "xyz"]
    mom = np.zeros((R, N + 1))
    part = np.zeros(R)
    gen = np.zeros((R, 3))
    for c0 in range(0, R, block):
        c1 = min(R, c0 + block)
        V = np.exp(2j * np.pi * rng.random((n, c1 - c0)))
        (rv,), m = _chebyshev_apply(Ht, V, [f_exp.coefficients], moments=True)
        mom[c0:c1] = m.T.real
        part[c0:c1] = np.einsum("ij,ij->j", V.conj(), rv).real
        for a, J in enumerate(Jops):
            gen[c0:c1, a] = np.einsum("ij,ij->j", (J @ V).conj(), rv).real
    grand = mom[:, : g_exp.order + 1] @ g_exp.coefficients
    se = lambda v: np.std(v, axis=0, ddof=1) / np.sqrt(R)  # noqa: E731
    Jnorm = []
    for a in range(3):
        tot = 0.0
        for s in range(sample.n_sites):
            keep = ~sample.vacant[:, :, s]
            per_x = np.abs(sample.generators[s][:, a]).sum(axis=(1, 2))  # entrywise L1 per x-cell
            tot += float((per_x * keep.sum(axis=1)).sum())
        Jnorm.append(tot)
    return StochasticTraces(
        moments=mom[:, :n_moments].mean(0) / n, moments_se=se(mom[:, :n_moments]) / n,
        particles=float(part.mean()), particles_se=float(se(part)), particles_truncation=n * f_exp.truncation_error,
        generators=gen.mean(0), generators_se=se(gen), generators_truncation=np.array(Jnorm) * f_exp.truncation_error,
        grand_potential=float(grand.mean()), grand_potential_se=float(se(grand)), grand_potential_truncation=n * g_exp.truncation_error,
        n_vectors=R, order=N, T=f_exp.T, mu=f_exp.mu, a=f_exp.a, b=f_exp.b, n_states=n, seconds=time.perf_counter() - t0,
        _per_vector=mom[:, :n_moments] / n,
    )


# ============================================================================ Kubo-Bastin
def _kb_kernel(x, g):
    """Per energy ``x`` (rescaled) the vectors ``t_m = (2 - delta_m0) g_m T_m(x)`` and ``e_n = (2 - delta_n0) g_n
    e^{-i n theta} (x + i n sin theta)`` (``theta = arccos x``) and the prefactor ``1 / (pi sin^4 theta)``."""
    th = np.arccos(x)
    n = np.arange(len(g))
    w = g * np.where(n == 0, 1.0, 2.0)
    s = np.sin(th)
    t = w * np.cos(n[None] * th[:, None])
    e = w * np.exp(-1j * n[None] * th[:, None]) * (x[:, None] + 1j * n[None] * s[:, None])
    return t, e, 1 / (np.pi * s**4)


@dataclass
class KuboBastin:
    """Kubo-Bastin conductivity from the 2D Chebyshev moments (:func:`kubo_bastin`).

    Attributes
    ----------
    mu : ndarray
        Chemical potentials (units of t) of ``sigma``.
    sigma, sigma_se : ndarray
        ``sigma_{alpha beta}(mu)`` per unit area and unit force (``e = hbar = a = 1``; charge: ``e^2 / hbar``;
        angular-momentum currents ``{v, J}/2``: ``e / hbar`` times the unit of J per ... see the function);
        standard error over the random vectors (zero for the exact trace).
    moments : ndarray (N, N)
        ``mu_mn = Tr[v_beta T_m(Ht) j_alpha T_n(Ht)] / area`` (Jackson kernel NOT applied).
    n_moments, n_vectors, T, a, b, area, kernel, resolution, theta_range, seconds, engine
        ``resolution = pi a / N`` (units of t): the Jackson broadening of the delta functions;
        ``theta_range``: the integration interval in ``theta = arccos x``.
    """

    mu: np.ndarray
    sigma: np.ndarray
    sigma_se: np.ndarray
    moments: np.ndarray
    n_moments: int
    n_vectors: object
    T: float
    a: float
    b: float
    area: float
    resolution: float
    theta_range: tuple
    seconds: float
    kernel: str = "jackson"
    engine: str = "chebyshev (Kubo-Bastin)"


def _kb_grid(theta_range, n_energy):
    """Midpoint grid in ``theta`` over ``theta_range`` and its weights ``d theta``."""
    t0, t1 = theta_range
    h = (t1 - t0) / n_energy
    return t0 + h * (np.arange(n_energy) + 0.5), h


def _kb_sigma(moments, g, T, a, b, mu, n_energy, theta_range):
    """``sigma(mu)`` from moments ``(N, N)`` (or ``(R, N, N)``): midpoint rule in ``theta`` (``x = cos theta``)."""
    th, h = _kb_grid(theta_range, n_energy)
    x = np.cos(th)
    t, e, pref = _kb_kernel(x, g)
    # sum_mn K_mn(x) mu_mn,  K_mn = pref [t_m e_n + conj(e_m) t_n]
    Mx = np.einsum("xm,...mn,xn->...x", t, moments, e) + np.einsum("xm,...mn,xn->...x", e.conj(), moments, t)
    integrand = (pref * Mx).real * np.sin(th) * h  # dx = sin(theta) d theta
    E = a * x + b
    f = _fermi_complex((E[None, :] - np.asarray(mu)[:, None]) / T).real  # (n_mu, n_energy)
    return np.einsum("mx,...x->...m", f, integrand) / a**2


def kubo_bastin(sample, alpha="x", beta="y", polarization=None, T=0.05, mu=0.0, n_moments=64, n_vectors=8, seed=0,
                bounds=None, margin=0.1, n_energy=None, chunk_bytes=4 * CHUNK_BYTES):
    """Kubo-Bastin conductivity ``sigma_{alpha beta}`` of a finite sample by the 2D Chebyshev expansion.

    The Bastin formula (Bastin et al., J. Phys. Chem. Solids 32, 1811 (1971)) in the operator order of
    Crepieux and Bruno (PRB 64, 014416 (2001), Eq. 3), the order of :mod:`orbsym.materials.hall` and
    :mod:`orbsym.materials.born`, evaluated with the kernel-polynomial series of Garcia, Covaci, Rappoport,
    PRL 114, 116602 (2015)::

        sigma_ab = (i / Omega) int dE f(E) Tr[ j_a dG+/dE v_b delta(E - H) - j_a delta(E - H) v_b dG-/dE ]
                 = (i / Omega) int dE f(E) Tr[ v_b delta(E - H) j_a dG+/dE - v_b dG-/dE j_a delta(E - H) ],

    ``G+- = (E - H +- i0)^-1``, ``Omega`` the area (cells x cell area), ``j_a = v_a`` (charge) or
    ``{v_a, J}/2`` (orbital/spin Hall of the conventional current), ``v = -dH/dA`` from the Peierls
    phases on the real bond vectors (:meth:`SparseSample.velocity`).  With ``H = a Ht + b``, ``E = a x +
    b``, ``x = cos theta``, the kernel-polynomial series (Jackson kernel ``g_m``)::

        delta(x - Ht) = sum_m d_m(x) T_m(Ht),   d_m = (2 - delta_m0) g_m T_m(x) / (pi sin theta)
        G+-(x, Ht)    = sum_n G+-_n(x) T_n(Ht), G+-_n = -+ i (2 - delta_n0) g_n e^{-+ i n theta} / sin theta

    and ``d/dx [e^{-i n theta} / sin theta] = e^{-i n theta} (x + i n sin theta) / sin^3 theta``
    (``d theta / dx = -1 / sin theta``) give, with the moments ``mu_mn = Tr[v_b T_m(Ht) j_a T_n(Ht)] /
    Omega`` with the roles of the two operators in Garcia et al.'s form exchanged (the second line above;
    ``dE delta dG/dE`` brings ``1 / a^2``)::

        sigma_ab(mu, T) = (1 / a^2) int_{-1}^{1} dx f(a x + b) sum_mn K_mn(x) mu_mn,
        K_mn(x) = [t_m e_n + conj(e_m) t_n] / (pi sin^4 theta),
        t_m = (2 - delta_m0) g_m T_m(x),  e_n = (2 - delta_n0) g_n e^{-i n theta} (x + i n sin theta)

    (Garcia et al.'s ``Gamma_nm`` up to the order of indices: ``K`` is Hermitian in ``(m, n)`` like ``mu``,
    so ``sigma`` is real).  Sign: Garcia et al.'s own order ``Tr[j_a delta v_b dG+ - ...]`` is the transpose,
    whose antisymmetric (Hall) part has the opposite sign; with the order above a Chern insulator gives the
    ``-C/(2 pi)`` of :mod:`orbsym.materials.hall` (per unit force ``q E``; tests/numeric/test_chebyshev_periodic.py).  The exact integrand vanishes outside the spectrum (every term holds a
    ``delta(E - H)``), so the ``x`` integral runs over the spectral bounds widened by ``3 pi / N`` (three
    kernel widths) on each side, clipped to ``|x| <= cos(pi / (4 N))``: the kernel series carry ``1 /
    sin^4 theta`` and their tails near ``x = +-1`` would otherwise dominate (a Fermi-sea artefact of the
    truncation).  Hence the larger default ``margin`` (10 %) of the rescaling.  Midpoint rule in
    ``theta`` with ``n_energy`` points (:attr:`KuboBastin.theta_range`).
    The trace is stochastic (random-phase vectors; standard error over them) or, ``n_vectors="exact"``,
    over every basis state (small samples: deterministic, for checks).

    Units: ``e = hbar = a = 1``; ``sigma`` per unit force ``q E_b`` and per unit area: charge in
    ``e^2 / hbar`` (2D), a ``J`` current in ``e / hbar`` times the unit of ``J`` (hbar for ``L``), i.e. the
    current ``{v, J}/2`` per area per unit ``q E``.  Resolution: the Jackson kernel broadens each delta
    function into a near-Gaussian of width ``~ pi a / N`` (units of t): this plays the role of the
    quasiparticle broadening of a k-space Kubo formula.

    Parameters
    ----------
    sample : SparseSample
    alpha, beta : {"x", "y"}
        Current and field directions.
    polarization : None or {"x", "y", "z"}
        None: charge current; else the conventional ``J_polarization`` current.
    T : float
        Temperature (units of t), ``T > 0``.
    mu : float or array
        Chemical potentials (units of t) at which ``sigma`` is evaluated (one moment set serves all).
    n_moments : int
        ``N``: moments ``0 .. N - 1`` in each index.
    n_vectors : int or "exact"
    n_energy : int, optional
        Quadrature points (default ``max(8 N, 2048)``).
    chunk_bytes : int
        Memory for the stored vectors of one random vector: ``j_a T_n r`` for a chunk of ``n`` (all ``N``
        when they fit; else the ``T_n r`` recurrence is rerun per chunk) and 16 ``T_m v_b r`` at a time.
    """
    if not isinstance(sample, SparseSample):
        raise TypeError(f"sample must be a SparseSample, got {type(sample).__name__}")
    t0 = time.perf_counter()
    T = real_number("temperature T", T, minimum=0.0)
    if T == 0:
        raise ValueError("temperature T = 0 is refused by the Kubo-Bastin engine: give T > 0 (units of t)")
    N = integer_at_least("n_moments", n_moments, 2)
    mus = np.atleast_1d(np.asarray(mu, dtype=float))
    if not np.all(np.isfinite(mus)):
        raise ValueError(f"mu must be finite chemical potentials (units of t), got {mu!r}")
    n_energy = max(8 * N, 2048) if n_energy is None else integer_at_least("n_energy", n_energy, 16)
    lo0, hi0 = spectral_bounds(sample.H, margin=0.0) if bounds is None else (float(bounds[0]), float(bounds[1]))
    margin = real_number("margin", margin, minimum=0.0)
    lo, hi = lo0 - margin * (hi0 - lo0), hi0 + margin * (hi0 - lo0)
    a, b = (hi - lo) / 2, (hi + lo) / 2
    xmax = math.cos(math.pi / (4 * N))
    x0, x1 = max((lo0 - b) / a - 3 * math.pi / N, -xmax), min((hi0 - b) / a + 3 * math.pi / N, xmax)
    theta_range = (math.acos(x1), math.acos(x0))
    Ht = _rescaled(sample.H, a, b)
    j = sample.current_operator(alpha, polarization)
    v = sample.velocity(beta)
    n = sample.n_states
    area = sample.N_x * sample.width * abs(float(np.linalg.det(sample.vectors[:2, :2])))
    exact = isinstance(n_vectors, str)
    if exact:
        if n_vectors != "exact":
            raise ValueError(f"n_vectors must be an integer >= 2 or 'exact', got {n_vectors!r}")
        R = n
    else:
        R = integer_at_least("n_vectors", n_vectors, 2, " (random vectors; standard errors need two)")
    seed = integer_at_least("seed", seed, 0)
    # memory per vector: a chunk of cv stored j_a T_n r, a buffer of cl vectors T_m v_b r, the recurrence
    cl = min(N, 16)
    per_col = int(chunk_bytes // (16 * n))
    cv = max(min(N, per_col - cl - 4), min(N, 16))
    m = max(1, min(R, BLOCK, BLOCK_STATES // max(n, 1), per_col // (cv + cl + 4) if per_col >= cv + cl + 4 else 1))
    n_chunks = -(-N // cv)
    products = R * (sum(min(N, (k + 1) * cv) for k in range(n_chunks)) + n_chunks * N + N)
    est = ResourceEstimate("Chebyshev (Kubo-Bastin)", float(m * (cv + cl + 4) * n * 16 + 3 * Ht.nnz * 24),
                           float(products * Ht.nnz * _SECONDS_PER_NNZ_COLUMN + 8 * N * N * n * R * 1e-9),
                           f"{R} vectors of {n} states, {N} x {N} moments in {n_chunks} chunk(s) of {cv}")
    check_resources(est, what="the Kubo-Bastin expansion", hint="use fewer moments or vectors, or a smaller sample")
    Ht2 = (2 * Ht).tocsr()

    def chebyshev_vectors(X0, count):  # T_k(Ht) X0 for k = 0 .. count - 1
        T0 = X0
        yield T0
        if count > 1:
            T1 = Ht2 @ T0
            T1 *= 0.5
            yield T1
            for _ in range(2, count):
                T2 = Ht2 @ T1
                T2 -= T0
                yield T2
                T0, T1 = T1, T2

    rng = np.random.default_rng(seed)
    per_vec = []
    for c0 in range(0, R, m):
        c1 = min(R, c0 + m)
        mb = c1 - c0
        if exact:
            X = np.zeros((n, mb), complex)
            X[np.arange(c0, c1), np.arange(mb)] = 1
        else:
            X = np.exp(2j * np.pi * rng.random((n, mb)))
        vX = v @ X
        mu_c = np.zeros((mb, N, N), complex)  # mu_c[c, m, n] = <r_c| v_b T_m j_a T_n |r_c>
        for v0 in range(0, N, cv):
            v1 = min(N, v0 + cv)
            V = np.empty((mb, v1 - v0, n), complex)  # j_a T_n(Ht) r, n in [v0, v1)
            for k, Tk in enumerate(chebyshev_vectors(X, v1)):
                if k >= v0:
                    V[:, k - v0] = (j @ Tk).T
            Lbuf = np.empty((mb, cl, n), complex)  # T_m(Ht) v_b r (so <r| v_b T_m = its conjugate transpose)
            fill, start = 0, 0
            for k, Lk in enumerate(chebyshev_vectors(vX, N)):
                Lbuf[:, fill] = Lk.T
                fill += 1
                if fill == cl or k == N - 1:
                    for c in range(mb):
                        mu_c[c, start : start + fill, v0:v1] = Lbuf[c, :fill].conj() @ V[c].T
                    start, fill = start + fill, 0
            del V, Lbuf
        per_vec.append(mu_c / area)
    per_vec = np.concatenate(per_vec)  # (R, N, N)
    g = jackson_kernel(N)
    if exact:
        moments = per_vec.sum(axis=0)
        sig = _kb_sigma(moments, g, T, a, b, mus, n_energy, theta_range)
        se = np.zeros_like(sig)
    else:
        moments = per_vec.mean(axis=0)
        sv = _kb_sigma(per_vec, g, T, a, b, mus, n_energy, theta_range)  # (R, n_mu)
        sig = sv.mean(axis=0)
        se = sv.std(axis=0, ddof=1) / np.sqrt(R)
    return KuboBastin(mus, sig, se, moments, N, n_vectors, T, a, b, area, np.pi * a / N, theta_range, time.perf_counter() - t0)
