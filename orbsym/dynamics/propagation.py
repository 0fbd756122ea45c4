"""The propagation job of :func:`orbsym.dynamics.evolve`: the density matrix per k, over time.

:class:`_Job` propagates a set of momenta (:mod:`orbsym.numeric.evolution`: exact midpoint,
4th-order Magnus, relaxation; step doubling for the error estimate) and returns, at every stored
time, the k-sums the records need (:meth:`_Job.sums`).  With precessions and quenches only it
runs :class:`_LocalPath` (:mod:`orbsym.numeric.local_update`: the orbitals per k, one
eigen-decomposition per quench segment), falling back to the per-step eigen-decomposition.

Every record is a sum over k with the weights ``w``, so jobs over disjoint shares of the momenta
add up (:func:`_add`): :func:`_run_parallel` shares them among the workers of the one execution
layer (:func:`orbsym.execution.map_tasks` on :func:`orbsym.execution.shared_pool`).

Films
-----
Every drive is uniform in y and z, so ``(k_y, k_z)`` stay good quantum numbers and a film is the
set of its k_z sectors, each a 2D column lattice (:meth:`orbsym.numeric.Lattice.sector`).  A film
job (``_Job.film`` set) runs, inside one task, the 2D job of every sector in turn on the same k_y
share (:class:`_SectorProtocol`: the film's time-dependent Hamiltonian seen at fixed ``k_z``), with
the same fast path / eigen-decomposition choice as in 2D, and recombines each sector's k-sums into
the film's (:func:`_fold_sector`)::

    G(x, x+dx; dy, dz) = N_z^-1 sum_kz w_kz e^{i k_z dz} G_kz(x, x+dx; dy)

(``cos(k_z dz)`` on the half grid ``0 <= k_z <= pi`` when the sector at ``-k_z`` equals that at
``k_z`` at every time; with a field along z, ``k_z -> k_z + A_z(t)`` in the sector's Hamiltonian
and in the phase, which makes the z currents the kinetic ones), and every on-site sum (densities, exact rates, energy, particle number, the
step-doubling and kink terms) is the weighted sector average ``N_z^-1 sum_kz w_kz (.)``: per
transverse cell.  The sectors are a loop, not one batch over ``(k_z, k_y)``: the fast path's
records are formed from each sector's 2D bands and its own real-space pieces ``(H0, C, S)(k_z)``
(:func:`orbsym.numeric.evolution.density_hamiltonian_blocks`), which have no common batch form.
The workers share the sectors (or, with fewer sectors than workers, k_y: each share then runs every
sector), so the workers' sums add as in 2D.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..numeric import evolution as ev

__all__ = []


class _SectorProtocol:
    """The time-dependent Hamiltonian of a film (:class:`orbsym.dynamics.drives._Protocol`) at fixed ``k_z``.

    Every lattice the film protocol returns is replaced by its 2D sector
    (:meth:`orbsym.numeric.Lattice.sector`, ``h(k_y, k_z) = h_sector(k_y)``); the drives
    (precessions, quenches, the field along y) are the film's.  The sectors of the fixed lattices
    (before and after each quench) stay cached on them; those of the lattices of a precession (one
    per time) are kept in a small cache here and not on the film lattice, so that a long run does not
    hold ``n_times x n_sectors`` of them.
    """

    _CACHE = 64

    def __init__(self, proto, k_z):
        self.film_protocol = proto
        self.k_z = float(k_z)
        self.precessions, self.quenches, self.field = proto.precessions, proto.quenches, proto.field
        self.lattice0 = proto.lattice0.sector(self.k_z)
        self._bases = [(t, L.sector(self.k_z)) for t, L in proto._bases]
        self._fixed = [proto.lattice0] + [L for _, L in proto._bases]
        self._cache = {}

    def A(self, t):
        return self.film_protocol.A(t)

    def _sector(self, L, t):
        """The sector of the film lattice ``L`` at ``k_z + A_z(t)`` (a field along z shifts ``k_z``)."""
        q = self.k_z + self.film_protocol.A_z(t)
        if q == self.k_z and any(L is F for F in self._fixed):
            return L.sector(q)
        hit = self._cache.get((id(L), q))
        if hit is not None and hit[0] is L:
            return hit[1]
        key = (float(q), False)
        cached = key in L._sectors
        sec = L.sector(q)
        if not cached:
            L._sectors.pop(key, None)
        if len(self._cache) >= self._CACHE:
            self._cache.clear()
        self._cache[(id(L), q)] = (L, sec)
        return sec

    def initial_lattice(self):
        return self._sector(self.film_protocol.initial_lattice(), 0.0)

    def lattice(self, t, base=None):
        return self._sector(self.film_protocol.lattice(t), t)


def _fold_sector(sums, k_z, w_z, N_z, z_symmetric, split):
    """One sector's k-sums as its share of the film's: bands ``(dx, dy) -> (dx, dy, dz)`` with the
    phase ``w_z e^{i k_z dz} / N_z`` (``w_z cos(k_z dz) / N_z`` on the half grid), every other sum
    times ``w_z / N_z``."""
    c = float(w_z) / N_z
    out = {key: c * v for key, v in sums.items() if key != "bands"}
    bands = {}
    for (dx, dy), dzs in split.items():
        g = sums["bands"][(dx, dy)]
        for dz in dzs:
            ph = c * (math.cos(k_z * dz) if z_symmetric else complex(np.exp(1j * k_z * dz)))
            bands[(dx, dy, dz)] = ph * g
    out["bands"] = bands
    return out


class _NotLocal(Exception):
    pass


class _Job:
    """Propagation of one chunk of momenta and its k-sums at every stored time (additive over chunks).

    Plain data once built (pickled to the pool workers, :func:`_run_parallel`): the switches
    ``local_update`` (:data:`orbsym.dynamics.LOCAL_UPDATE`) and ``k_groups``
    (:data:`orbsym.dynamics.K_GROUPS`) are read by :func:`orbsym.dynamics.evolve` and travel with
    the job, so a worker started earlier uses the caller's values.
    """

    def __init__(self, proto, times, dt, method, T, tau, Ny, N, d, pairs, ops, symmetric, error_estimate, local_update, k_groups, film=None):
        self.__dict__.update(locals())
        del self.__dict__["self"]
        self.substeps = []
        self.local_path = self._local_applies()

    def _run_film(self, k, w, bar):
        """A film: the 2D job of every k_z sector on the momenta ``k`` (k_y), folded into the film's k-sums.

        ``self.film = (k_z, w_z, N_z, z_symmetric)``; ``self.pairs`` are the film's offsets
        ``(dx, dy, dz)`` (each sector forms the 2D bands ``(dx, dy)`` they need)."""
        from ..numeric.film import sector_pairs

        kz, wz, Nz, zsym = self.film
        split = sector_pairs(self.pairs)
        total = None
        for q, wq in zip(kz, wz):
            sub = copy.copy(self)
            sub.film = None
            sub.proto = _SectorProtocol(self.proto, q)
            sub.pairs = sorted(split)
            sub.local_path = sub._local_applies()
            sums = sub.run(k, w, bar)
            self.substeps = list(sub.substeps)
            # the kinetic momentum k_z + A_z(t) in the phase (as e^{i (k_y + A_y) dy} in the sectors' bands)
            part = [_fold_sector(s, float(q) + self.proto.A_z(t), wq, Nz, zsym, split) for s, t in zip(sums, self.times)]
            total = part if total is None else [_add(a, b) for a, b in zip(total, part)]
        return total

    def _nsub(self, t0, t):
        return 1 if self.dt is None else max(1, int(math.ceil((t - t0) / self.dt * (1 - 1e-12))))

    def run(self, k, w, bar=None):
        if self.film is not None:
            return self._run_film(k, w, bar)
        proto, times, method, T, tau = self.proto, self.times, self.method, self.T, self.tau
        shape = (k.size, self.N * self.d, self.N * self.d)
        slot = [0]

        def hfun(s):  # two alternating work buffers: magnus4 holds two Hamiltonians at once
            slot[0] ^= 1
            return ev.hamiltonians(proto.lattice(s), k, proto.A(s), out=ev.work_buffer(f"hfun{slot[0]}", shape))

        self.substeps = []
        if self.local_path:
            out, rho, start = _LocalPath(self, k, w).run(bar)
            if rho is None:
                return out
        else:
            rho = ev.thermal_state(proto.initial_lattice(), T, k)
            out = [self.sums(rho, times[0], k, w, None, None)]
            start = 1
            if bar is not None:
                bar.update(1)
        for i in range(start, times.size):
            t0, t = times[i - 1], times[i]
            nsub = self._nsub(t0, t)
            h_sub = (t - t0) / nsub
            if nsub > 1:
                rho = ev.propagate(rho, hfun, t0, t - h_sub, nsub - 1, method, T, tau)
            t_last = t - h_sub
            full = ev.step(rho, hfun, t_last, h_sub, method, T, tau)
            err = None
            if self.error_estimate:
                # step doubling on the last step: local error of the full step ~ (y_1 - y_2) 2^(p+1) / (2^(p+1) - 1)
                half = ev.step(ev.step(rho, hfun, t_last, 0.5 * h_sub, method, T, tau), hfun, t_last + 0.5 * h_sub, 0.5 * h_sub, method, T, tau)
                gain = 2 ** (ev.ORDERS[method] + 1)
                err = ev.onsite_expectations(full - half, self.ops, w, self.Ny, self.N) * gain / (gain - 1) / h_sub
            rho = ev.hermitize(full)
            self.substeps.append(nsub)
            out.append(self.sums(rho, t, k, w, h_sub, err))
            if bar is not None:
                bar.update(1)
        return out

    def _local_applies(self):
        """The fast path of the "exact" propagator (:class:`_LocalPath`): precessions and quenches, no field, no relaxation."""
        proto = self.proto
        return bool(self.local_update and self.method == "exact" and self.tau is None and (proto.precessions or proto.quenches) and not proto.field)

    def sums(self, rho, t, k, w, h_sub, err):
        """Every k-sum the record needs (all linear in the weights, so chunks add up)."""
        proto, Ny, N, ops = self.proto, self.Ny, self.N, self.ops
        A = proto.A(t)
        shape = rho.shape
        h = ev.hamiltonians(proto.lattice(t), k, A, out=ev.work_buffer("h_rec", shape))
        out = {
            "bands": ev.correlation_bands(rho, k, w, Ny, N, self.d, self.pairs, A, self.symmetric),
            "dens": ev.onsite_expectations(rho, ops, w, Ny, N),
            "rate": ev.onsite_rates(rho, h, ops, w, Ny, N),
            "energy": ev.energy(rho, h, w, Ny),
            "particles": float(np.sum(w * np.trace(rho, axis1=1, axis2=2).real)) / Ny,
            "err": np.zeros((len(ops), N)) if err is None else err,
        }
        if h_sub is not None:
            # one-sided rates of the propagated trajectory at this step boundary (h frozen at the
            # neighbouring midpoints): d<J>/dt jumps by their difference
            hs = [ev.hamiltonians(proto.lattice(t + sgn * 0.5 * h_sub), k, proto.A(t + sgn * 0.5 * h_sub), out=ev.work_buffer(f"h_kink{sgn}", shape)) for sgn in (-1, 1)]
            hs[1] -= hs[0]
            out["kink"] = ev.onsite_rates(rho, hs[1], ops, w, Ny, N)
        else:
            out["kink"] = np.zeros((len(ops), N))
        if self.tau is not None:
            out["dens_eq"] = ev.onsite_expectations(ev.equilibrium_state(h, self.T), ops, w, Ny, N)
        return out


class _LocalPath:
    """The fast path of the "exact" propagator for one chunk of momenta: precessions and quenches.

    Between quenches every midpoint Hamiltonian differs from a reference ``h_ref`` (the Hamiltonian at
    the start of the segment: t = 0 or the last quench) only in the on-site blocks ``P v P^T`` of the
    precessing columns, so :class:`~orbsym.numeric.local_update.LocalPropagator` applies the
    exponential midpoint step to rounding with one eigen-decomposition per segment, in the site basis:
    the free step ``e^{-i h_ref dt}`` as a banded matrix, the collocated correction on the columns
    within its reach of the magnet (without a precession ``v = 0`` and only the free step is left).
    Per k the state is kept as its orbitals: ``rho_k = sum_j f_j psi_j psi_j^dag`` over the ``m``
    lowest states of the initial thermal state (particles) or ``1 - sum_j (1 - f_j) psi_j psi_j^dag``
    over the ``m`` highest (holes), whichever needs fewer (weights below 1e-18, the rounding level of
    ``rho``, are dropped).  The momenta are split into ``job.k_groups`` groups
    (:data:`orbsym.dynamics.K_GROUPS`) by the number of states they need (each group propagates
    as many as its largest member needs); the orbitals of all groups
    stand side by side in one array, from which every record is formed at once
    (:func:`~orbsym.numeric.evolution.factored_bands`: the correlation bands, then densities, exact
    rates, energy and particle number from the bands and the real-space Hamiltonian), never from the
    full ``rho_k``.  If a step is too long for the collocation, or ``h`` changes outside the
    precessing blocks within a segment, the full ``rho_k`` is formed and the run continues on the
    eigen-decomposition path.
    """

    def __init__(self, job, k, w):
        self.job, self.k, self.w = job, k, w
        proto, d, N = job.proto, job.d, job.N
        cols = sorted({x for p in proto.precessions for x in p._frames})
        self.rows = np.concatenate([np.arange(x * d, (x + 1) * d) for x in cols]) if cols else np.zeros(0, int)
        L0 = proto.initial_lattice()
        E, Q = np.linalg.eigh(ev.hamiltonians(L0, k))
        f = ev._occupations(E, job.T)
        n = E.shape[1]
        m_p = np.sum(f > 1e-18, axis=1)
        m_h = np.sum(1.0 - f > 1e-18, axis=1)
        need = np.minimum(m_p, m_h)
        hole = m_h < m_p
        self.groups = []
        off = 0
        for part in np.array_split(np.argsort(need, kind="stable"), job.k_groups if k.size >= 4 * job.k_groups else 1):
            if part.size == 0:
                continue
            m = int(max(1, need[part].max()))
            hp = hole[part]
            st = np.where(hp[:, None], np.arange(n - m, n)[None, :], np.arange(m)[None, :])
            fp = np.take_along_axis(f[part], st, 1)
            g = {"idx": part, "m": m, "f": np.where(hp[:, None], fp - 1.0, fp), "hole": hp, "states": st, "cols": slice(off, off + part.size * m)}
            self.groups.append(g)
            off += part.size * m
        lattices = [L0] + [Lq for _, Lq in proto._bases]
        max_dx = max(L.max_dx for L in lattices)
        self.D = min(N - 1, max([abs(int(a)) for a, _ in job.pairs] + [max_dx, 1]))
        self.pairs = sorted(set(map(tuple, job.pairs)) | {(a, b) for a in range(-max_dx, max_dx + 1) for b in (-1, 0, 1)})
        # the orbitals psi (site basis) of every group side by side; X_next receives the next step
        self.X = np.zeros(((N + self.D) * d, off), complex)
        self.X_next = np.zeros_like(self.X)
        self.X_half = np.zeros_like(self.X) if job.error_estimate else None
        for g in self.groups:  # the thermal state: eigenvectors of h(0)
            self.psi(self.X, g)[:] = np.take_along_axis(Q[g["idx"]], g["states"][:, None, :], 2)
        self._coef = {}
        self.rebase(job.times[0], (L0, E, Q))

    def rebase(self, t, initial=None):
        """Make ``h_ref`` the Hamiltonian at time ``t`` (the start of a segment: t = 0 or a quench);
        ``initial = (lattice, E, Q)``: the eigen-decomposition of the initial state's Hamiltonian
        (reused when it is the reference).  The orbitals stay in the site basis."""
        from ..numeric.local_update import LocalPropagator

        job = self.job
        L = job.proto.lattice(t)
        self.ref = ev.hamiltonian_pieces(L)
        self._v = {}
        if initial is not None and all(np.array_equal(a, b) for a, b in zip(self.ref, ev.hamiltonian_pieces(initial[0]))):
            E, Q = initial[1:]
        else:
            E, Q = np.linalg.eigh(ev.hamiltonians(L, self.k))
        for g in self.groups:
            idx = g["idx"]
            g["prop"] = LocalPropagator(None, self.rows, eig=(E[idx], Q[idx]), site=(job.N, job.d, L.max_dx))
        # the largest perturbation of the segment, sampled (sizes the collocation once; a larger one later re-sizes it)
        ends = [q.time for q in job.proto.quenches if q.time > t] + [job.times[-1]]
        vs = [self.v(s) for s in np.linspace(t, min(ends), 17)]
        # 25% above the sampled maximum: the table is not rebuilt for a slightly larger v between samples
        self.vmax = 1.25 * max((float(np.linalg.norm(v, 2)) for v in vs if v is not None and v.size), default=0.0)

    # ------------------------------------------------------------------ drive
    def v(self, s):
        """``v = (h(s) - h_ref)`` on the precessing rows (cached per time); None if ``h(s)`` differs elsewhere."""
        key = float(s)
        if key not in self._v:
            H0, C, S = ev.hamiltonian_pieces(self.job.proto.lattice(s))
            H0r, Cr, Sr = self.ref
            r = self.rows
            D = H0 - H0r
            v = D[np.ix_(r, r)].copy()
            D[np.ix_(r, r)] = 0.0
            scale = 1e-14 * max(1.0, float(np.abs(H0r).max()))
            local = np.abs(D).max() <= scale and np.abs(C - Cr).max() <= scale and np.abs(S - Sr).max() <= scale
            if len(self._v) > 64:
                self._v.clear()
            self._v[key] = v if local else None
        return self._v[key]

    def _step(self, g, psi, t0, h, out=None):
        v = self.v(t0 + 0.5 * h)
        new = None if v is None else g["prop"].step(psi, v, h, self.vmax, out=out, v_eig=self._v_eig(t0 + 0.5 * h, v))
        if new is None:
            raise _NotLocal
        return new

    def _v_eig(self, s, v):
        """``eigh(v)`` at time ``s``, once for all momentum groups."""
        key = ("eig", float(s))
        hit = self._v.get(key)
        if hit is None:
            hit = self._v[key] = np.linalg.eigh(v) if v.size else (np.zeros(0), np.zeros((0, 0)))
        return hit

    # ------------------------------------------------------------------ state
    def psi(self, X, g):
        """The orbitals of group ``g`` in ``X`` as a ``(N_k, n, m)`` view (rows ``x dim + i``)."""
        n = self.job.N * self.job.d
        return X[:n, g["cols"]].reshape(n, g["idx"].size, g["m"]).transpose(1, 0, 2)

    def coef(self, dy):
        c = self._coef.get(dy)
        if c is None:
            job = self.job
            c = np.concatenate([(ev.band_phases(self.k[g["idx"]], self.w[g["idx"]], job.Ny, dy, 0.0, job.symmetric)[:, None] * g["f"]).reshape(-1) for g in self.groups])
            self._coef[dy] = c
        return c

    def identity(self, dy):
        job = self.job
        return sum(complex(np.sum(ev.band_phases(self.k[g["idx"]], self.w[g["idx"]], job.Ny, dy, 0.0, job.symmetric)[g["hole"]])) for g in self.groups)

    def bands(self, X, pairs=None, band=None):
        job = self.job
        return ev.factored_bands(X, self.coef, self.identity, job.N, job.d, self.pairs if pairs is None else pairs, job.symmetric, band=self.D if band is None else band)

    def rho_full(self):
        """The full ``rho_k`` (chunk order) of the current orbitals, to continue on the eigen-decomposition path."""
        n = self.job.N * self.job.d
        rho = np.zeros((self.k.size, n, n), complex)
        for g in self.groups:
            psi = self.psi(self.X, g)
            r = np.matmul(psi * g["f"][:, None, :], psi.conj().transpose(0, 2, 1))
            idx = np.arange(n)
            r[:, idx, idx] += g["hole"][:, None]
            rho[g["idx"]] = r
        return ev.hermitize(rho)

    # ------------------------------------------------------------------ run
    def run(self, bar):
        job = self.job
        times = job.times
        out = [self.sums(times[0], None, None)]
        if bar is not None:
            bar.update(1)
        gain = 2 ** (ev.ORDERS["exact"] + 1)
        quench_times = sorted({q.time for q in job.proto.quenches if q.time > times[0]})
        for i in range(1, times.size):
            t0, t = times[i - 1], times[i]
            if quench_times and abs(t0 - quench_times[0]) <= 1e-12 * max(1.0, times[-1]):
                self.rebase(t0)  # quench times are stored times (checked by evolve)
                quench_times.pop(0)
            nsub = job._nsub(t0, t)
            h = (t - t0) / nsub
            try:  # X holds the state at t0 until every group has made the step into X_next
                for g in self.groups:
                    psi = self.psi(self.X, g)
                    for j in range(nsub - 1):
                        psi = self._step(g, psi, t0 + j * h, h)
                    self._step(g, psi, t - h, h, out=self.psi(self.X_next, g))
                    if job.error_estimate:  # step doubling, as on the generic path
                        self._step(g, self._step(g, psi, t - h, 0.5 * h), t - 0.5 * h, 0.5 * h, out=self.psi(self.X_half, g))
            except _NotLocal:  # R dt too large for the collocation (or h changed elsewhere): eigen-decomposition path from here
                return out, self.rho_full(), i
            self.X, self.X_next = self.X_next, self.X
            err = None
            if job.error_estimate:
                dens_half = ev.onsite_from_bands(self.bands(self.X_half, [(0, 0)], 0), job.ops)
                err = dens_half  # completed in sums
            job.substeps.append(nsub)
            out.append(self.sums(t, h, err, gain))
            if bar is not None:
                bar.update(1)
        return out, None, times.size

    def sums(self, t, h_sub, dens_half, gain=None):
        """The k-sums of :meth:`_Job.sums` from the orbitals (no ``rho_k`` formed)."""
        job = self.job
        N, d, ops = job.N, job.d, job.ops
        bands = self.bands(self.X)
        lat = job.proto.lattice(t)
        A = ev.density_hamiltonian_blocks(bands, ev.hamiltonian_pieces(lat), N, d, lat.max_dx)
        dens = ev.onsite_from_bands(bands, ops)
        out = {
            "bands": {p: bands[p] for p in map(tuple, job.pairs)},
            "dens": dens,
            "rate": -2.0 * np.einsum("oca,xac->ox", ops, A).imag,
            "energy": float(np.trace(A, axis1=1, axis2=2).sum().real),
            "particles": float(np.trace(bands[0, 0], axis1=1, axis2=2).sum().real),
            "err": np.zeros((len(ops), N)) if dens_half is None else (dens - dens_half) * gain / (gain - 1) / h_sub,
        }
        if h_sub is None:
            out["kink"] = np.zeros((len(ops), N))
        else:
            # one-sided rates at this step boundary (h frozen at the neighbouring midpoints): d<J>/dt jumps by their difference
            lo, hi = (ev.hamiltonian_pieces(job.proto.lattice(t + sgn * 0.5 * h_sub)) for sgn in (-1, 1))
            dh = tuple(b - a for a, b in zip(lo, hi))
            out["kink"] = ev.rates_from_bands(bands, dh, ops, N, d, max(lat.max_dx, 1))
        return out


def _add(a, b):
    if isinstance(a, dict):
        return {key: _add(a[key], b[key]) for key in a}
    return a + b


def _run_chunk(job, k, w):
    """A pool task: propagate the momenta ``k`` (weights ``w``) of ``job``; its k-sums and substeps."""
    return job.run(k, w), job.substeps


def _run_parallel(job, k, w, workers, bar):
    """Share the momenta among ``workers`` processes of the execution layer; the k-sums add.

    The tasks go through :func:`orbsym.execution.map_tasks` on the persistent forked
    :func:`orbsym.execution.shared_pool` (one BLAS thread per worker; a task whose worker died is
    re-run, an exception in a task is re-raised here).  Each task carries the pickled ``job`` (plain
    data: lattices, drives, times; ``_Protocol.__getstate__``) and an interleaved share of the
    momenta, ``k[i::workers]``: every share spans the whole zone, so the shares need about as many
    states (equal work).  A film with at least ``workers`` k_z sectors is shared by sectors instead
    (``k_z[i::workers]`` with every k_y).  The records are sums over k with the weights ``w``, so the shares' sums
    add up to the serial ones (to rounding: the order of the additions differs).
    """
    from ..execution import map_tasks, shared_pool

    if job.film is not None and job.film[0].size >= workers:
        # a film with at least one k_z sector per worker: each task runs every k_y of an interleaved
        # share of the sectors (larger batches than a share of k_y; the film's sums add up the same)
        kz, wz, Nz, zsym = job.film
        tasks = []
        for i in range(workers):
            part = copy.copy(job)
            part.film = (kz[i::workers], wz[i::workers], Nz, zsym)
            tasks.append((part, k, w))
    else:
        parts = [np.arange(i, k.size, workers) for i in range(workers)]
        tasks = [(job, k[p], w[p]) for p in parts]
    results = map_tasks(_run_chunk, tasks, executor=shared_pool(workers), workers=workers, progress=False, errors="raise")
    job.substeps = results[0][1]
    sums = results[0][0]
    for r, _ in results[1:]:
        sums = [_add(a, b) for a, b in zip(sums, r)]
    if bar is not None:
        bar.update(max(0, bar.total - bar.n))  # every stored time (of every k_z sector of a film)
    return sums
