"""Benchmarks of the linear response (plain script; prints numbers).

    python benchmarks/bench_response.py           # Kubo at the Fig. 2 size vs one solve; bulk OHC 400 x 400
    python benchmarks/bench_response.py --side-by-side --rounds 5   # issue 23: response / auto solve, interleaved
    python benchmarks/bench_response.py --scaling 25,50,100,200     # response CPU time against N_x (N_y = 800)

One BLAS thread.  Reports wall and CPU (process) time, best of ``--repeat`` warm runs; the
machine may be shared, so CPU time is the number to compare.

``--side-by-side`` (issue 23, "Response at the Fig. 2 size: <= 2.5x the auto solve in the same run"):
in one process, interleaved rounds (every round runs each contender once, in turn), the best CPU time
of each over the rounds, for the trilayer N_x = 25, N_y = 800 with the paper's defaults and
``m_L = x, m_R = y`` and a generic ``m``:

* ``auto``: ``orbsym.solve(system)`` (engine "auto": the Green's-function engine) and every profile;
* ``dense``: the same with ``engine="dense"``;
* ``response``: ``orbsym.response(system)``, every part as ``orbsym response`` records it (densities,
  x and y bond currents, bond torques, orbital torque of total, Fermi surface and Fermi sea), the
  balance and the proper currents;
* ``eigh``: ``numpy.linalg.eigh`` of the same Bloch blocks (the floor of the dense engines).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

try:
    import orbsym  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without installing
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from orbsym.response import orbital_hall, response  # noqa: E402
from orbsym.systems import heterostructure, layer, solve, trilayer  # noqa: E402

FIG2 = dict(N_x=25, N_y=800, N_FM=1, m=1.0, mu=-0.2, t=1.0, gamma=0.5)
NNN = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)


def best(fn, repeat):
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def all_profiles(res):
    res.densities()
    for kind in ("bond", "eq7", "forward", "backward"):
        res.currents(kind)
    res.currents("bond", "y")
    res.torques("bond")
    res.torques("forward")


def cli_response(sys_, T=0.01):
    """``orbsym.response`` of every part as the ``orbsym response`` command records it."""
    r = response(sys_, T)
    for part in ("total", "fermi_surface", "fermi_sea"):
        rp = r.select(part)
        rp.densities()
        rp.currents("bond", "x")
        rp.currents("bond", "y")
        rp.torques("bond")
        rp.orbital_torque()
    r.balance()
    r.proper_currents()
    return r


def eigh_floor(sys_):
    """The batched ``eigh`` of the Bloch blocks the dense engines diagonalize (half zone, real gauge if any)."""
    from orbsym.numeric.bloch import bloch_hamiltonians, k_points, real_gauge

    lat = sys_.lattice
    k, _ = k_points(lat.N_y, bool(lat.y_hermitian))
    h = bloch_hamiltonians(lat, k, real_gauge(lat))
    c = time.process_time()
    np.linalg.eigh(h)
    return time.process_time() - c


def side_by_side(rounds):
    """Interleaved rounds: auto solve, dense solve, response, eigh floor at the Fig. 2 size."""
    print(f"load average before start: {os.getloadavg()}")
    for label, m in (("m_L=x, m_R=y", ("x", "y")), ("generic m", ((0.7, 0.3), (1.9, 2.2)))):
        sys_ = trilayer(**FIG2, m_L=m[0], m_R=m[1])
        runs = {
            "auto": lambda: all_profiles(solve(sys_, 0.01)),
            "dense": lambda: all_profiles(solve(sys_, 0.01, engine="dense")),
            "response": lambda: cli_response(sys_),
        }
        for fn in runs.values():  # warm up (imports, kernels)
            fn()
        best_ = {name: np.inf for name in runs}
        floor = np.inf
        for _ in range(rounds):
            for name, fn in runs.items():
                c = time.process_time()
                fn()
                best_[name] = min(best_[name], time.process_time() - c)
            floor = min(floor, eigh_floor(sys_))
        a, d, r = best_["auto"], best_["dense"], best_["response"]
        print(f"Fig. 2 size, {label:13s}: CPU s (best of {rounds} interleaved rounds) auto {a:.3f} | dense {d:.3f} | response {r:.3f} | "
              f"eigh alone {floor:.3f}  ->  response/auto {r / a:.2f} (target <= 2.5), response/dense {r / d:.2f}, eigh/auto {floor / a:.2f}")
    print(f"load average at the end: {os.getloadavg()}")


def scaling(sizes, rounds, N_y=800):
    """Response CPU time (every part, balance, proper currents) against N_x; with ``N_y < 800`` also
    scaled to N_y = 800 by the number of k points (the work is per k point)."""
    from orbsym.numeric.bloch import k_points

    print(f"load average before start: {os.getloadavg()}")
    nk, nk800 = k_points(N_y, True)[0].size, k_points(800, True)[0].size
    prev = None
    for N_x in sizes:
        sys_ = trilayer(**dict(FIG2, N_x=N_x, N_y=N_y), m_L="x", m_R="y")
        if prev is None:
            cli_response(sys_)
        cpu = np.inf
        for _ in range(rounds):
            c = time.process_time()
            cli_response(sys_)
            cpu = min(cpu, time.process_time() - c)
        slope = "" if prev is None else f"  exponent from N_x = {prev[0]}: {np.log(cpu / prev[1]) / np.log(N_x / prev[0]):.2f}"
        at800 = "" if N_y == 800 else f" -> {cpu * nk800 / nk:8.2f} s at N_y = 800 ({nk800} / {nk} k points)"
        print(f"response N_x = {N_x:5d}, N_y = {N_y} (m_L=x, m_R=y): {cpu:8.2f} s CPU{at800}{slope}", flush=True)
        prev = (N_x, cpu)
    print(f"load average at the end: {os.getloadavg()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--side-by-side", action="store_true", help="only the interleaved auto / dense / response comparison at the Fig. 2 size")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of --side-by-side / --scaling")
    ap.add_argument("--scaling", default=None, help="comma-separated N_x values: response CPU time against N_x")
    ap.add_argument("--N-y", type=int, default=800, help="N_y of --scaling (the time is scaled to N_y = 800 by the k points)")
    args = ap.parse_args()
    if args.side_by_side or args.scaling:
        if args.side_by_side:
            side_by_side(args.rounds)
        if args.scaling:
            scaling([int(v) for v in args.scaling.split(",")], args.rounds, args.N_y)
        return
    print(f"load average before start: {os.getloadavg()}")
    for label, m in (("m_L=x, m_R=y", ("x", "y")), ("generic m", ((0.7, 0.3), (1.9, 2.2)))):
        sys_ = trilayer(**FIG2, m_L=m[0], m_R=m[1])
        eq = best(lambda: all_profiles(solve(sys_, 0.01)), args.repeat)

        def kubo():
            r = response(sys_, 0.01, 0.05)
            for part in ("total", "fermi_surface", "fermi_sea"):
                all_profiles(r.select(part))
            r.balance()

        def kubo_balance():
            response(sys_, 0.01, 0.05).balance()

        kb = best(kubo, args.repeat)
        kbb = best(kubo_balance, args.repeat)
        print(f"Fig. 2 size {label:14s}: equilibrium solve + all profiles {eq[0]:.3f} s wall / {eq[1]:.3f} s CPU | "
              f"Kubo (surface, sea, total, drive; all profiles + balance) {kb[0]:.3f} s wall / {kb[1]:.3f} s CPU | ratio (CPU) {kb[1] / eq[1]:.2f} | "
              f"balance alone {kbb[1]:.3f} s CPU")
    from orbsym.symbolic.symmetry import symmetric_hoppings

    model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    orbital_hall(model, mu=-0.2, N_k=20, **NNN)  # kernels once
    mus = np.linspace(-4, 4, 41)
    one = best(lambda: orbital_hall(model, mu=-0.2, N_k=400, **NNN), args.repeat)
    many = best(lambda: orbital_hall(model, mu=mus, N_k=400, **NNN), 1)
    sig = orbital_hall(model, mu=-0.2, N_k=400, **NNN)["sigma"]
    print(f"bulk OHC 400 x 400 (nn+nnn t2g, one mu): {one[0]:.3f} s wall / {one[1]:.3f} s CPU (sigma = {sig:.6f}); "
          f"41 mu values: {many[0]:.3f} s wall / {many[1]:.3f} s CPU")
    lay = heterostructure([layer(model, 23, **NNN), layer("fm", 2, m="x")], N_y=800, mu=-0.2)
    eq = best(lambda: all_profiles(solve(lay, 0.01)), args.repeat)
    kb = best(lambda: all_profiles(response(lay, 0.01, 0.05)), args.repeat)
    print(f"NNN NM/FM 25 x 800: equilibrium {eq[1]:.3f} s CPU, Kubo total {kb[1]:.3f} s CPU, ratio {kb[1] / eq[1]:.2f}")


if __name__ == "__main__":
    main()
