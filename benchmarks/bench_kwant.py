"""Benchmark: equilibrium profiles, orbsym's full solve against a Kwant wraparound k-loop (issue 23, "Why").

Run by hand (one BLAS thread; Kwant 1.5 built from its sdist, see ``tests/test_transport_kwant.py``)::

    python benchmarks/bench_kwant.py [--sizes 25,100,200] [--N-y 800] [--rounds 3] [--kwant-rounds 1]

System: the paper's Fig. 2 trilayer (``orbsym.systems.trilayer``: NM | FM | NM | FM | NM, ``N_FM = 1``,
``m_L = x``, ``m_R = y``, ``gamma = 0.5``, ``mu = -0.2``), ``T = 0.01``, ``N_y = 800`` rows periodic in y,
``N_x`` columns open in x (Fig. 2: ``N_x = 25``).

* orbsym: ``solve(system, T)`` (engine ``auto``) and every profile of the result -- densities, bond currents
  in x and y, Eq. (7) currents, torques (bond and forward decompositions) for charge, ``L_x``, ``L_y``,
  ``L_z`` -- and the free energy.
* Kwant: the same ``h`` (site blocks read from orbsym's lattice) as a builder with
  ``TranslationalSymmetry((0, 1))``, ``kwant.wraparound.wraparound(..., coordinate_names="y")`` (parameter
  ``k_y``), and the k-loop a Kwant user writes: per ``k_y`` (the same k-points and weights as orbsym,
  ``orbsym.numeric.bloch.k_points``: ``h(-k) = h(k)`` here, so ``0 <= k <= pi`` with weights; the y-bond
  operator is averaged over ``+-k``), ``hamiltonian_submatrix``, ``numpy.linalg.eigh``,
  and Kwant operators on every state with ``f(E_n) > 1e-14`` (weight ``w_k f(E_n) / N_y``): ``Density`` (charge,
  ``L_x, L_y, L_z``), ``Current`` on the x-bonds (both orientations, orbsym's symmetrized bond current is
  ``(K(m, n) - K(n, m)) / 2``), the y-bond current as a ``Density`` with the k-dependent site matrix
  ``(i/2) {t_y, J} e^{ik} + h.c.``, and ``Source`` (the onsite torque of the wrapped onsite, y-bonds folded in)
  for ``L_x, L_y, L_z`` -- fewer quantities than orbsym's (no Eq. (7) currents, no torque decomposition).
  Building and finalizing the Kwant system is not timed.
* The two codes' densities, x- and y-bond currents are compared (max abs difference printed).

``Kwant h+eigh``: the CPU time of ``hamiltonian_submatrix`` + ``eigh`` alone within the k-loop, the floor of any
Kwant k-loop that diagonalizes (its ratio to orbsym's CPU time is a lower bound).

Rounds are interleaved (orbsym, Kwant, orbsym, ...); each side's best wall and CPU time is kept; the ratio is
Kwant / orbsym (CPU time: robust on a loaded machine).

Measured 2026-12-07 09:29-09:50 UTC (2-core shared machine, load average 7.7-10.2, one BLAS thread;
``python benchmarks/bench_kwant.py --sizes 25,100,200 --rounds 3 --kwant-rounds 2``; best of the rounds, CPU s)::

    N_x   orbsym engine   orbsym   Kwant k-loop   Kwant/orbsym   Kwant h+eigh alone   /orbsym   max |d dens|  |d j_x|
     25   greens           0.08        4.54           60             0.56               7.4       3e-14        1e-15
    100   greens           0.28       37.2           131            10.1               36         5e-14        4e-16
    200   greens           0.60      146             245            61.3              103         7e-14        4e-16

(wall ratios 55, 145, 309).  The y-bond currents vanish in this system (``t_y`` real, ``h(-k) = h(k)``) in
both codes.  Operator calls (one per state, polarization and quantity) are 88 %, 73 % and 58 % of the Kwant
loop at N_x = 25, 100, 200; the diagonalizations alone already make it 7-100x slower than orbsym's full solve.
"""

import os
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one BLAS thread for both codes
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from orbsym.numeric.bloch import k_points  # noqa: E402
from orbsym.numeric.thermo import fermi  # noqa: E402
from orbsym.systems import solve, trilayer  # noqa: E402

try:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import kwant
except ImportError:
    kwant = None

FIG2 = dict(N_x=25, N_y=800, N_FM=1, m=1.0, mu=-0.2, t=1.0, gamma=0.5)
T = 0.01


def _arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def orbsym_profiles(system):
    """orbsym's side: one solve and every profile of the result."""
    r = solve(system, T)
    out = {"densities": r.densities(), "currents": r.currents(), "currents_y": r.currents(direction="y"), "eq7": r.currents("eq7"),
           "torques": r.torques(), "torques_forward": r.torques("forward"), "F": r.free_energy()}
    out["engine"] = r.engine
    return out


class KwantLoop:
    """Kwant's side: the wrapped system and its operators (built once, not timed); :meth:`run` is the k-loop."""

    def __init__(self, system):
        lat = system.lattice
        if lat.bonds != ((1, 0), (0, 1)):
            raise ValueError(f"nearest-neighbour bonds only, got {lat.bonds}")
        self.lat = lat
        d = lat.dim
        sq = kwant.lattice.square(norbs=d)
        b = kwant.Builder(kwant.TranslationalSymmetry((0, 1)))
        for x in range(lat.N_x):
            b[sq(x, 0)] = lat.onsite[x]
        for x in range(lat.N_x):
            b[sq(x, 0), sq(x, 1)] = lat.hop_y[x]  # h_{n, n + e_y} = t_y: onsite t_y e^{ik} + h.c. after wrapping
            if x < lat.N_x - 1:
                b[sq(x, 0), sq(x + 1, 0)] = lat.hop_x[x]
        self.fsyst = kwant.wraparound.wraparound(b, coordinate_names="y").finalized()
        fs = self.fsyst
        self.col = np.array([s.tag[0] for s in fs.sites])
        idx = {int(s.tag[0]): i for i, s in enumerate(fs.sites)}
        self.onsites = [np.eye(d)] + [np.asarray(g) for g in lat.generators]
        fwd = [(idx[x + 1], idx[x]) for x in range(lat.N_x - 1)]
        bwd = [(idx[x], idx[x + 1]) for x in range(lat.N_x - 1)]
        self.where = fwd + bwd
        ty = {int(s.tag[0]): lat.hop_y[int(s.tag[0])] for s in fs.sites}

        def jy_matrix(J):
            # bond current y -> y + 1 of a Bloch state (psi_{y+1} = e^{ik} psi_y): psi^dag M(k) psi with
            # M(k) = (i/2) {t_y, J} e^{ik} + h.c.; averaged over +-k because only 0 <= k <= pi is looped
            # (h(-k) = h(k): the two share their states, and M(-k) belongs to the state at -k)
            def m(site, k_y):
                A = 0.5j * (ty[site.tag[0]] @ J + J @ ty[site.tag[0]])
                M = A * np.exp(1j * k_y) + A * np.exp(-1j * k_y)
                return 0.5 * (M + M.conj().T)

            return m

        self.ops = [(kwant.operator.Density(fs, J), kwant.operator.Current(fs, J, where=self.where),
                     kwant.operator.Density(fs, jy_matrix(J), check_hermiticity=False), kwant.operator.Source(fs, J) if a else None)
                    for a, J in enumerate(self.onsites)]
        if not lat.y_hermitian:
            raise ValueError("the k-loop uses h(-k) = h(k) (t_y Hermitian)")
        self.k, self.wk = k_points(lat.N_y, True)

    def run(self):
        lat, fs = self.lat, self.fsyst
        N, npol = lat.N_x, len(self.onsites)
        dens, jx, jy = np.zeros((npol, N)), np.zeros((npol, N - 1)), np.zeros((npol, N))
        src = np.zeros((npol, N))
        t_eigh = 0.0  # CPU time in hamiltonian_submatrix + eigh (the rest: the operators)
        for k, wk in zip(self.k, self.wk):
            p = dict(k_y=k)
            c0 = time.process_time()
            E, V = np.linalg.eigh(fs.hamiltonian_submatrix(params=p))
            t_eigh += time.process_time() - c0
            f = fermi(E, T) * wk / lat.N_y
            keep = f > 1e-14
            states = (V[:, keep] * np.sqrt(f[keep])).T
            for a, (od, oj, oy, os_) in enumerate(self.ops):
                oj, oy = oj.bind(params=p), oy.bind(params=p)  # the operators that read h(k) or M(k)
                os_ = os_.bind(params=p) if os_ is not None else None
                for v in states:
                    dens[a] += od(v)
                    c = oj(v)
                    jx[a] += 0.5 * (c[: N - 1] - c[N - 1 :])
                    jy[a] += oy(v).real
                    if os_ is not None:
                        src[a] += os_(v)
        order = np.argsort(self.col)
        return {"densities": dens[:, order], "currents": jx, "currents_y": jy[:, order], "source": src[:, order], "cpu_eigh": t_eigh}


def compare(o, k):
    """Max abs differences of the densities, x- and y-bond currents (every polarization)."""
    keys = ("charge", "x", "y", "z")
    out = {}
    for name in ("densities", "currents", "currents_y"):
        out[name] = max(float(np.abs(np.asarray(o[name][key]) - k[name][a]).max()) for a, key in enumerate(keys))
    return out


def main():
    if kwant is None:
        print("Kwant not installed: nothing to compare (Kwant 1.5 builds from its sdist: tests/test_transport_kwant.py)")
        return
    sizes = [int(v) for v in _arg("--sizes", "25,100,200").split(",")]
    N_y = _arg("--N-y", 800)
    rounds, kwant_rounds = _arg("--rounds", 3), _arg("--kwant-rounds", 1)
    print(f"equilibrium, Fig. 2 trilayer (m_L = x, m_R = y, gamma = 0.5), N_y = {N_y}, T = {T}; Kwant {kwant.__version__}; "
          f"one BLAS thread; load {os.getloadavg()}")
    orbsym_profiles(trilayer(**{**FIG2, "N_x": 9, "N_y": 8}))  # warm-up (kernels)
    print(f"{'N_x':>5}  {'engine':>6}  {'wall: orbsym':>12}  {'Kwant':>7}  {'ratio':>6}  {'CPU: orbsym':>11}  {'Kwant':>7}  {'ratio':>6}"
          f"  {'Kwant h+eigh':>12}  {'ratio':>5}  {'|d dens|':>8}  {'|d j_x|':>8}  {'|d j_y|':>8}  load")
    for nx in sizes:
        s = trilayer(**{**FIG2, "N_x": nx, "N_y": N_y})
        kl = KwantLoop(s)
        to, tk = [], []
        for r in range(max(rounds, kwant_rounds)):
            if r < rounds:
                w0, c0 = time.perf_counter(), time.process_time()
                o = orbsym_profiles(s)
                to.append((time.perf_counter() - w0, time.process_time() - c0))
            if r < kwant_rounds:
                w0, c0 = time.perf_counter(), time.process_time()
                k = kl.run()
                tk.append((time.perf_counter() - w0, time.process_time() - c0, k["cpu_eigh"]))
        to, tk = np.min(to, axis=0), np.min(tk, axis=0)
        diff = compare(o, k)
        print(f"{nx:5d}  {o['engine']:>6}  {to[0]:11.2f}s  {tk[0]:6.2f}s  {tk[0] / to[0]:6.1f}  {to[1]:10.2f}s  {tk[1]:6.2f}s  {tk[1] / to[1]:6.1f}"
              f"  {tk[2]:11.2f}s  {tk[2] / to[1]:5.1f}  {diff['densities']:8.0e}  {diff['currents']:8.0e}  {diff['currents_y']:8.0e}  {os.getloadavg()[0]:.1f}", flush=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
