"""Benchmarks of the linear response (plain script; prints numbers).

    python benchmarks/bench_response.py           # Kubo at the Fig. 2 size vs one solve; bulk OHC 400 x 400

One BLAS thread.  Reports wall and CPU (process) time, best of ``--repeat`` warm runs; the
machine may be shared, so CPU time is the number to compare.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
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
