"""Benchmark: open strip between leads (``attach_leads(..., width="open")``), one energy, all observables
including the balance -- the banded fast path against the dense correlation matrix (issue 23, item 1).

Run by hand (one BLAS thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_strip.py [--sizes 10x25,10x100,10x400,30x25,30x100,30x400]
        [--dense-max-gb 6]

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
"""

import os
import sys
import time
import tracemalloc

import numpy as np

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


def main():
    sizes = [tuple(int(v) for v in s.split("x")) for s in _arg("--sizes", "10x25,10x100,10x400,30x25,30x100,30x400").split(",")]
    dense_max = _arg("--dense-max-gb", 6.0) * 1e9
    print(f"open strip, NM | FM | NM, linear response T = 0 (one energy), all observables + balance; load: {os.getloadavg()}")
    run(system(3, 5))  # warm-up (kernel compilation, caches)
    for W, Lx in sizes:
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
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
