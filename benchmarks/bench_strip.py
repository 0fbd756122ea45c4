"""Benchmark: open strip between leads (``attach_leads(..., width="open")``), one energy, all observables
including the balance -- the banded fast path against the dense correlation matrix (issue 23, item 1).

Run by hand (one BLAS thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_strip.py [--sizes 10x25,10x100,10x400,30x25,30x100,30x400]
        [--dense-max-gb 6] [--no-dense] [--no-kwant] [--rounds 3]

System: NM (gamma = 0.3) | FM (m = x) | NM of ``L`` columns and ``W`` rows, same-material leads, linear
response at ``T = 0`` (one energy, left-injected observables).  "All observables": densities, x- and
y-currents (bond and forward), torques (bond and forward), divergence and ``continuity_residual()``
(``d<J>/dt`` from ``h``, the per-site balance and the charge current against Landauer), for every
polarization -- what ``to_dict()`` computes.

Per size, side by side in one process: ``new`` (the result as returned: correlation band by slice,
:class:`orbsym.numeric.strip.StripBand`, and the band rate) and ``old`` (the pre-issue-23 path: the dense
``(M D)^2`` correlation matrix of :func:`orbsym.numeric.strip.strip_correlations` for the kernels and the
dense commutator site blocks for ``d<J>/dt``), each timed once untraced (wall and CPU) and once under
``tracemalloc`` (peak of the Python/NumPy heap).  ``old`` is skipped when its dense matrix alone would
exceed ``--dense-max-gb``.  The two paths' outputs are compared (max abs difference).

Measured 2026-12-07 05:55 UTC (2-core shared machine, load average 1.6-2.0 during the run, one BLAS thread;
peak = tracemalloc peak of the run; targets of issue 23: 10 x 400 <= 1.5 s and <= 300 MB, 30 x 400 <= 20 s
and <= 2 GB; both paths share the region solve)::

    W x L      new: wall    peak       old (dense): wall    peak      max |new - old|
    10 x 25         0.05 s     7.9 MB       0.06 s       23.9 MB    4e-17
    10 x 100        0.11 s    29.5 MB       0.70 s      310.4 MB    4e-17
    10 x 400        0.53 s   115.9 MB      16.37 s     4696.2 MB    4e-17
    30 x 25         0.30 s    70.9 MB       0.37 s      214.6 MB    4e-17
    30 x 100        0.81 s   265.3 MB       2.73 s     2791.2 MB    4e-17
    30 x 400        2.90 s  1042.9 MB      skipped (dense matrix 20.9 GB)

At 30 x 400 the region solve (negf scattering blocks + RGF) is ~3/4 of the time and most of the peak; the
observables and the balance on the band take ~0.8 s.

Kwant column (issue 23: "faster than Kwant's sparse solver at every (W, L) in {10, 30} x {25, 100, 400}"), when
Kwant is importable (Kwant 1.5 builds from its sdist after ``setup.py build_ext --cython``; without it the
column is skipped): the same strip as a Kwant system (:func:`kwant_strip`: site blocks read from the
super-lattice orbsym solves, so ``h`` is the same bit for bit), Kwant's sparse solver ``smatrix`` (conductance)
+ ``wave_function`` of lead 0 and the operators ``Density`` / ``Current`` (charge, ``L_x, L_y, L_z``) summed over
the scattering states (:class:`KwantStrip`), against orbsym's ``transport(split=1)`` (left-injected: the
whole bias on the left lead) with all observables + the balance -- more than Kwant computes.  Interleaved
rounds, min of each; the conductances must agree to 1e-8 (else AssertionError); densities and x-/y-bond
currents are compared too.  Building/finalizing the Kwant system is not timed (shown as ``Kwant build``).

Measured 2026-12-07 09:52 UTC (2-core shared machine, load average 6.4-7.3, one BLAS thread, min of 3
interleaved rounds; ``python benchmarks/bench_strip.py --no-dense --rounds 3`` with Kwant 1.5.0, no MUMPS)::

    W x L    modes   CPU: orbsym   Kwant   Kwant/orbsym   (wall ratio)   |dG|    |d dens|  |d curr|
    10 x 25    21        0.05 s    0.11 s      2.30          2.66        5e-10    1e-10     2e-11
    10 x 100   21        0.08 s    0.19 s      2.37          2.36        1e-10    9e-11     2e-11
    10 x 400   21        0.28 s    0.57 s      2.02          1.98        3e-11    1e-10     1e-11
    30 x 25    62        0.19 s    0.56 s      2.93          2.82        2e-10    4e-11     1e-11
    30 x 100   62        0.72 s    1.43 s      1.98          2.00        4e-10    5e-11     1e-11
    30 x 400   62        3.54 s    5.02 s      1.42          1.45        8e-11    6e-11     2e-11

At 30 x 400 Kwant's time is smatrix 2.1 s + wave_function 1.35 s + operators 2.3-2.6 s (CPU, separate run).
"""

import os
import sys
import time
import tracemalloc

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one BLAS thread for both codes
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

os.environ.setdefault("ORBSYM_MAX_MEMORY", "64G")  # the up-front estimate still counts the old dense matrix

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import orbsym.transport as tr  # noqa: E402
from orbsym.numeric import POLARIZATIONS  # noqa: E402
from orbsym.numeric.strip import OpenStripObservables, strip_correlations  # noqa: E402
from orbsym.systems import heterostructure, layer  # noqa: E402


def _arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def system(W, L):
    n = (L - 1) // 2
    s = heterostructure([layer("nm", n, gamma=0.3), layer("fm", 1, m=(1.0, 0.0, 0.0)), layer("nm", L - 1 - n, gamma=0.3)], N_y=W)
    return tr.attach_leads(s, width="open")


def _old_time_derivative(self, polarization):
    """The pre-issue-23 code: dense h, dense commutator site blocks from the dense G."""
    if getattr(self, "_rate_blocks", None) is None:
        h = tr.strip_hamiltonian(self.open.lattice)
        if self.leaded.period == 2:
            lat = self.leaded.lattice
            P, rows, d = lat.N_x // 2, lat.N_y, lat.dim
            perm = np.arange(h.shape[0]).reshape(P, rows, 2, d).transpose(0, 2, 1, 3).reshape(-1)
            h = h[np.ix_(perm, perm)]
        n = h.shape[0]
        self._rate_blocks = tr._commutator_site_blocks(self.leaded.lattice, h, self._obs.G.reshape(n, n).T)
    return tr._site_rate(self.leaded.lattice, None, None, polarization, self._rate_blocks)[self._pad : -self._pad]


class _Old:
    """Context: StripTransportResult on the dense correlation matrix (the old fast path)."""

    def __enter__(self):
        cls = tr.StripTransportResult
        self.saved = (cls._store, cls.time_derivative)

        def _store(res, blocks, pairs):
            lat = res.leaded.lattice
            res.G = None
            res._obs = OpenStripObservables(lat, strip_correlations(blocks, lat.N_x, lat.N_y * lat.dim))
            res.bands = None

        cls._store, cls.time_derivative = _store, _old_time_derivative

    def __exit__(self, *exc):
        tr.StripTransportResult._store, tr.StripTransportResult.time_derivative = self.saved


def observe(res):
    out = {"densities": res.densities(), "currents": res.currents(), "currents_forward": res.currents("forward"),
           "currents_y": res.currents(direction="y"), "torques": res.torques(), "torques_forward": res.torques("forward"),
           "divergence": res.divergence(), "rate": {p: res.time_derivative(p) for p in POLARIZATIONS}}
    out["continuity"] = res.continuity_residual()
    return out


def run(L):
    res = tr.transport(L, T=0.0)
    return res, observe(res)


def timed(L, traced):
    if traced:
        tracemalloc.start()
    w0, c0 = time.perf_counter(), time.process_time()
    res, out = run(L)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = None
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return res, out, wall, cpu, peak


def _maxdiff(a, b):
    if isinstance(a, dict):
        return max((_maxdiff(a[k], b[k]) for k in a), default=0.0)
    if a is None:
        return 0.0
    return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float)))) if np.size(a) else 0.0


# ---------------------------------------------------------------- Kwant (optional)
try:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import kwant
        from kwant.solvers import sparse as kwant_sparse
except ImportError:  # the Kwant column is skipped
    kwant = kwant_sparse = None


def kwant_strip(leaded):
    """The same open strip as a finalized Kwant system: every solved column of ``leaded`` (the region and
    one lead cell on each side) as sites ``(x, y)`` of ``d`` orbitals, the strip leads' cells as Kwant leads.

    The Hamiltonian blocks are read from the super-lattice that orbsym solves (``leaded.solve_parts()``:
    column blocks ``h_col`` and ``h_{x,x+1}`` split into ``d x d`` site blocks), so both codes see the same
    ``h`` bit for bit.  Kwant: ``syst[a, b] = H_ab``.  ``period = 1`` only.
    """
    if leaded.period != 1:
        raise ValueError("kwant_strip: period = 1 only")
    sup, left, right = leaded.solve_parts()
    rows, d = leaded.lattice.N_y, leaded.lattice.dim
    sq = kwant.lattice.square(norbs=d)

    def blk(A, y, yp):
        return A[y * d : (y + 1) * d, yp * d : (yp + 1) * d]

    def fill(b, xs, onsite, hop):  # sites first, then the hoppings (y-bonds in a column, x-bonds to the next)
        for x in xs:
            for y in range(rows):
                b[sq(x, y)] = blk(onsite(x), y, y)
        for x in xs:
            for y in range(rows):
                for yp in range(y + 1, rows):
                    if np.any(blk(onsite(x), y, yp)):
                        b[sq(x, y), sq(x, yp)] = blk(onsite(x), y, yp)
                if hop(x) is not None:
                    for yp in range(rows):
                        if np.any(blk(hop(x), y, yp)):
                            b[sq(x, y), sq(x + 1, yp)] = blk(hop(x), y, yp)

    syst = kwant.Builder()
    M = sup.N_x
    fill(syst, range(M), lambda x: sup.onsite[x], lambda x: sup.hop_x[x] if x < M - 1 else None)
    for lead, direction in ((left, -1), (right, 1)):
        lb = kwant.Builder(kwant.TranslationalSymmetry((direction, 0)))
        fill(lb, (0,), lambda x: lead.onsite, lambda x: lead.hop_x)
        syst.attach_lead(lb)
    return syst.finalized()


class KwantStrip:
    """Kwant's side of the comparison: conductance, left-injected densities and bond currents at one energy.

    ``run()`` times Kwant's sparse solver (``smatrix`` + ``wave_function`` of lead 0) and the operators
    ``Density`` / ``Current`` (onsite ``1, L_x, L_y, L_z``) summed over the scattering states, ``/ 2 pi``
    (Kwant's states carry unit current; ``rho_L = sum_n psi_n psi_n^dag / 2 pi``), arranged as orbsym's
    arrays: densities ``(N_x, N_y)``, x-bonds ``(N_x + 1, N_y)`` (contact bonds included), y-bonds
    ``(N_x, N_y - 1)``.  orbsym's bond current ``(i/2) c_n^dag {t, J} c_m + h.c.`` (``m = n + e``) is
    ``(K(m, n) - K(n, m)) / 2`` with Kwant's ``K(a, b) = 2 Im psi_a^dag J H_ab psi_b`` (flow b -> a, J at a).
    """

    def __init__(self, leaded, energy=0.0):
        self.leaded, self.energy = leaded, energy
        lat = leaded.lattice
        t0 = time.perf_counter()
        self.fsyst = kwant_strip(leaded)
        onsites = [np.eye(lat.dim)] + [np.asarray(g) for g in lat.generators]
        self.ops_d = [kwant.operator.Density(self.fsyst, onsite=J).bind() for J in onsites]
        self.ops_j = [kwant.operator.Current(self.fsyst, onsite=J).bind() for J in onsites]
        self.build = time.perf_counter() - t0
        pos = np.array([s_.tag for s_ in self.fsyst.sites])
        self.pos = pos
        hops = np.array(list(self.fsyst.graph))
        a, b = pos[hops[:, 0]], pos[hops[:, 1]]
        step = b - a
        # (mask, anchor site, sign): K(m, n) with n = b the bond's start, K(n, m) with n = a
        self.x_parts = [(np.all(step == (-1, 0), axis=1), b, 0.5), (np.all(step == (1, 0), axis=1), a, -0.5)]
        self.y_parts = [(np.all(step == (0, -1), axis=1), b, 0.5), (np.all(step == (0, 1), axis=1), a, -0.5)]

    def run(self):
        E = self.energy
        G = kwant_sparse.smatrix(self.fsyst, E).transmission(1, 0)
        psi = kwant_sparse.wave_function(self.fsyst, E)(0)
        lat = self.leaded.lattice
        keys = ["charge", "x", "y", "z"]
        dens, jx, jy = {}, {}, {}
        for key, od, oj in zip(keys, self.ops_d, self.ops_j):
            dk = sum(od(v) for v in psi) / (2 * np.pi)
            ck = sum(oj(v) for v in psi) / (2 * np.pi)
            d_ = np.zeros((lat.N_x, lat.N_y))
            d_[self.pos[:, 0], self.pos[:, 1]] = dk
            x_, y_ = np.zeros((lat.N_x - 1, lat.N_y)), np.zeros((lat.N_x, lat.N_y - 1))
            for arr, parts in ((x_, self.x_parts), (y_, self.y_parts)):
                for m, anchor, sign in parts:
                    np.add.at(arr, (anchor[m, 0], anchor[m, 1]), sign * ck[m])
            dens[key], jx[key], jy[key] = d_[1:-1], x_, y_[1:-1]
        return {"conductance": G, "densities": dens, "currents": jx, "currents_y": jy, "modes": psi.shape[0]}


def orbsym_left(L):
    """orbsym's side: left-injected linear response at T = 0 (``split = 1``: ``d<O>/dV`` with the whole bias on
    the left lead is the left-injected scattering states' ``rho_L``), all observables + the balance."""
    res = tr.transport(L, T=0.0, split=1.0)
    out = observe(res)
    out["conductance"] = res.conductance(per_row=False)["total"]
    return out


def compare_kwant(W, Lx, rounds):
    """Interleaved rounds of orbsym and Kwant on the same strip; min wall time of each, the ratio and the
    differences (conductance must agree to 1e-8)."""
    L = system(W, Lx)
    ks = KwantStrip(L)
    to, tk = [], []  # (wall, cpu) per round
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        o = orbsym_left(L)
        to.append((time.perf_counter() - w0, time.process_time() - c0))
        w0, c0 = time.perf_counter(), time.process_time()
        k = ks.run()
        tk.append((time.perf_counter() - w0, time.process_time() - c0))
    dG = abs(o["conductance"] - k["conductance"])
    if dG > 1e-8:
        raise AssertionError(f"W = {W}, L = {Lx}: conductance orbsym {o['conductance']!r} vs Kwant {k['conductance']!r} (|diff| = {dG:.1e} > 1e-8)")
    dd = _maxdiff(k["densities"], o["densities"])
    dj = max(_maxdiff(k["currents"], o["currents"]), _maxdiff(k["currents_y"], o["currents_y"]))
    to, tk = np.min(to, axis=0), np.min(tk, axis=0)
    return {"orbsym": to[0], "kwant": tk[0], "orbsym_cpu": to[1], "kwant_cpu": tk[1], "build": ks.build, "dG": dG, "dd": dd, "dj": dj, "G": k["conductance"], "modes": k["modes"]}


def main():
    sizes = [tuple(int(v) for v in s.split("x")) for s in _arg("--sizes", "10x25,10x100,10x400,30x25,30x100,30x400").split(",")]
    dense_max = _arg("--dense-max-gb", 6.0) * 1e9
    rounds = _arg("--rounds", 3)
    do_dense, do_kwant = "--no-dense" not in sys.argv, "--no-kwant" not in sys.argv
    print(f"open strip, NM | FM | NM, linear response T = 0 (one energy), all observables + balance; load: {os.getloadavg()}")
    run(system(3, 5))  # warm-up (kernel compilation, caches)
    if do_dense:
        for W, Lx in sizes:
            dense_line(W, Lx, dense_max)
    if not do_kwant:
        return
    if kwant is None:
        print("Kwant: not installed, column skipped")
        return
    print(f"\norbsym vs Kwant {kwant.__version__} (sparse solver: smatrix + wave_function(lead 0) + Density/Current for 1, L_x, L_y, L_z), "
          f"left-injected, E = 0, min of {rounds} interleaved rounds (wall and CPU); orbsym: transport(split=1) + all observables + balance")
    KwantStrip(system(3, 5)).run()  # warm-up
    print(f"{'W x L':>10}  {'modes':>5}  {'wall: orbsym':>12}  {'Kwant':>7}  {'ratio':>5}  {'CPU: orbsym':>11}  {'Kwant':>7}  {'ratio':>5}  {'Kwant build':>11}"
          f"  {'|dG|':>7}  {'|d dens|':>8}  {'|d curr|':>8}  load")
    for W, Lx in sizes:
        r = compare_kwant(W, Lx, rounds)
        print(f"{W:4d} x {Lx:<4d} {r['modes']:5d}  {r['orbsym']:11.2f}s  {r['kwant']:6.2f}s  {r['kwant'] / r['orbsym']:5.2f}"
              f"  {r['orbsym_cpu']:10.2f}s  {r['kwant_cpu']:6.2f}s  {r['kwant_cpu'] / r['orbsym_cpu']:5.2f}  {r['build']:10.2f}s"
              f"  {r['dG']:7.0e}  {r['dd']:8.0e}  {r['dj']:8.0e}  {os.getloadavg()[0]:.1f}", flush=True)
    print(f"load after: {os.getloadavg()}")


def dense_line(W, Lx, dense_max):
    """The banded result against the old dense correlation matrix at one size (one line)."""
    L = system(W, Lx)
    lat = L.lattice
    n = lat.N_x * lat.N_y * lat.dim
    line = f"W = {W:3d}, L = {Lx:4d} (dense n = {n}, {16 * n * n / 1e9:.2f} GB)"
    res, out_new, wall, cpu, _ = timed(L, False)
    _, _, _, _, peak = timed(L, True)
    line += f" | new: wall {wall:6.2f} s, cpu {cpu:6.2f} s, peak {peak / 1e6:7.1f} MB, balance {out_new['continuity']['max_abs_balance']:.0e}"
    if 16 * n * n <= dense_max:
        with _Old():
            _, out_old, wall, cpu, _ = timed(L, False)
            _, _, _, _, peak = timed(L, True)
        line += f" | old: wall {wall:6.2f} s, cpu {cpu:6.2f} s, peak {peak / 1e6:7.1f} MB | max |new - old| = {_maxdiff(out_new, out_old):.1e}"
    else:
        line += " | old: skipped (dense matrix above --dense-max-gb)"
    print(line, flush=True)


if __name__ == "__main__":
    main()
