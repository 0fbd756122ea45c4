"""Benchmark: NEGF transport with diagonal bonds and at 45 degrees to the crystal axes.

Run by hand: ``OMP_NUM_THREADS=1 python benchmarks/bench_transport_diagonal.py``.  A 25 x 800
(k_y-periodic) region of the D4h t2g metal with nn + nnn bonds (NNN 12 | FM | NNN 12), linear response
at T = 0.01 (16 nodes), all observables + balance; then the same metal at 45 degrees (alternating
columns, 24 columns solved in pairs) and a 16 x 16 strip open in y at 45 degrees.  Reports wall and
CPU time (the machine may be shared).
"""

import time

from orbsym.symbolic.symmetry import symmetric_hoppings
from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, rotated_layers, transport

NNN = dict(t_1=-0.3, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.3)


def run(name, L, **kw):
    w0, c0 = time.perf_counter(), time.process_time()
    res = transport(L, **kw)
    res.densities(), res.currents(), res.torques(), res.torques("forward")
    r = res.continuity_residual()
    w1, c1 = time.perf_counter(), time.process_time()
    print(f"{name}: wall {w1 - w0:.2f} s, cpu {c1 - c0:.2f} s; I/V = {res.landauer_current():.6g}; balance {r['max_abs_balance']:.1e}; "
          f"j - Landauer {r['max_abs_charge_current_minus_landauer']:.1e}")


def main():
    m = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    s = heterostructure([layer(m, 12, **NNN), layer("fm", 1, m=(1.0, 0.0, 0.0)), layer(m, 12, **NNN)], N_y=800, mu=-0.2)
    run("25 x 800, nn + nnn bonds, linear response T = 0.01", attach_leads(s), T=0.01)
    s45 = heterostructure(rotated_layers(m, 24, "45", **NNN), N_y=800, mu=-0.2)
    run("24 x 800 at 45 degrees (pairs of columns), linear response T = 0.01", attach_leads(s45), T=0.01)
    strip = heterostructure(rotated_layers(m, 16, "45", **NNN), N_y=16, mu=-0.2)
    run("16 x 16 strip open in y at 45 degrees, linear response T = 0.02", attach_leads(strip, width="open"), T=0.02)


if __name__ == "__main__":
    main()
