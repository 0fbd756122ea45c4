"""N_y = infinity through trilayer()/bilayer()/solve(): the k integral for every observable.

The Green's-function engine (k sub-grids per imaginary frequency) is checked against the dense
slow path (:func:`orbsym.numeric.infinite.solve_infinite`, trapezoid / adaptive rule), and the
limit against large finite N_y.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.numeric.infinite import solve_infinite
from orbsym.numeric.observables import KERNEL_NAMES
from orbsym.rkky import rkky_vs_length
from orbsym.systems import QUANTITIES, bilayer, rkky, solve, trilayer

PROFILES = ("densities", "currents", "torques", "torques_forward", "free_energy_per_row", "particle_number_per_row")


def _flat(x):
    if isinstance(x, dict):
        return np.concatenate([_flat(v) for _, v in sorted(x.items())]) if x else np.zeros(0)
    if isinstance(x, list):
        return np.array([np.nan if v is None else v for v in x], float)
    return np.atleast_1d(np.asarray(x, float))


def _system(kind, basis, N_x, m_L, gamma, mu, interface, N_y=math.inf):
    metal = "am" if basis == "spin" else "nm"
    if kind == "trilayer":
        return trilayer(basis, metal=metal, N_x=N_x, N_y=N_y, m_L=m_L, m_R="y", gamma=gamma, mu=mu, interface=interface)
    return bilayer(metal, basis, N_x=N_x, N_y=N_y, m_FM=m_L, gamma=gamma, mu=mu, interface=interface)


@settings(max_examples=6)
@given(
    kind=st.sampled_from(["trilayer", "bilayer"]),
    basis=st.sampled_from(["orbital", "spin"]),
    N_x=st.integers(3, 5),
    m_L=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)),
    gamma=st.floats(0.0, 1.5),
    mu=st.floats(-1.5, 1.0),
    T=st.sampled_from([0.05, 0.2]),
    interface=st.sampled_from(["fm", "metal"]),
)
def test_greens_infinite_equals_dense_integral(kind, basis, N_x, m_L, gamma, mu, T, interface):
    """F, N, every band and every profile of to_dict: greens N_y = inf == solve_infinite to 1e-10."""
    s = _system(kind, basis, N_x, m_L, gamma, mu, interface)
    g = solve(s, T, engine="greens")
    d = solve(s, T, engine="dense")
    a, b = g.to_dict(QUANTITIES), d.to_dict(QUANTITIES)
    assert a["engine"] == "greens" and b["engine"] == "dense"
    assert a["system"]["N_y"] == b["system"]["N_y"] == "inf"
    for q in PROFILES:
        np.testing.assert_allclose(_flat(a[q]), _flat(b[q]), rtol=0, atol=1e-10, err_msg=q, equal_nan=True)
    # the bands themselves, against an independent call of the slow path
    ref = solve_infinite(s.lattice, T, s.lattice.offset_pairs(KERNEL_NAMES), tol=1e-12)
    assert set(g.solution.bands) == set(ref.bands)
    for p, B in ref.bands.items():
        np.testing.assert_allclose(g.solution.bands[p], B, rtol=0, atol=1e-10, err_msg=str(p))
    assert a["free_energy_per_row"] == pytest.approx(ref.free_energy, abs=1e-10)
    assert a["continuity"]["max_abs_continuity_residual"] < 1e-12


def test_infinite_is_the_large_N_y_limit():
    """At T = 0.1 the finite sum converges exponentially to the N_y = inf integral."""
    kw = dict(N_x=5, gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R="y")
    qs = ("densities", "currents", "torques", "free_energy", "particle_number")
    inf = solve(trilayer(N_y=math.inf, **kw), 0.1, engine="greens").to_dict(qs)
    dist = []
    for N_y in (6, 300):
        fin = solve(trilayer(N_y=N_y, **kw), 0.1, engine="greens").to_dict(qs)
        dist.append(max(float(np.nanmax(np.abs(_flat(fin[q]) - _flat(inf[q])))) for q in PROFILES))
    assert dist[0] > 1e-6  # a short ring is visibly not the limit
    assert dist[1] < 1e-10


def test_infinite_outputs_and_refusals():
    s = trilayer(N_x=4, N_y="inf", gamma=0.5)
    assert s.infinite and s.N_y == math.inf and s.describe()["N_y"] == math.inf
    r = solve(s, 0.1)
    out = r.to_dict(("free_energy", "particle_number"))
    json.dumps(out, allow_nan=False)
    assert out["engine"] == "greens" and out["system"]["N_y"] == "inf" and out["free_energy_total"] is None
    k = out["k_integral"]
    assert k["engine"] == "greens" and k["method"] == "poles+k-subgrids" and 0 < k["error_estimate"] < 1e-10
    dense = solve(s, 0.1, engine="dense").to_dict("free_energy")["k_integral"]
    assert dense["method"] in ("trapezoid", "adaptive") and dense["error_estimate"] <= dense["tol"]
    for fn in (r.free_energy, r.particle_number):
        with pytest.raises(ValueError, match="infinite; use per_row=True"):
            fn(per_row=False)
    with pytest.raises(ValueError, match="N_y"):
        trilayer(N_x=4, N_y=-math.inf)
    with pytest.raises(ValueError, match="N_y"):
        trilayer(N_x=4, N_y=float("nan"))


def test_infinite_at_T0_auto_uses_dense_integral():
    """T = 0: the lowest imaginary frequencies need unbounded k sub-grids; auto takes the adaptive integral."""
    s = bilayer(N_x=3, N_y=math.inf, m_FM="x")
    r = solve(s, 0.0)
    F = r.free_energy()
    assert r.engine == "dense" and r.k_integral()["method"] == "adaptive"
    assert F == pytest.approx(solve_infinite(s.lattice, 0.0, tol=1e-11, method="adaptive").free_energy, abs=1e-10)
    with pytest.raises(ValueError, match="N_y = infinity"):
        solve(s, 0.0, engine="greens").free_energy()


def test_rkky_of_infinite_system():
    s = trilayer(N_x=5, N_y=math.inf, m_L="x", m_R="x", gamma=0.8)
    g = rkky(s, 0.05, engine="greens")
    d = rkky(s, 0.05, engine="dense")
    assert g["J"] == pytest.approx(d["J"], abs=1e-10)
    assert g["J"] == pytest.approx(float(rkky_vs_length(s, 0.05, [5], N_y=math.inf)["J"][0]), abs=1e-14)
    assert abs(g["J"]) > 1e-6


def test_finite_grid_solvers_refuse_infinite_rows():
    """Transport, real-time evolution and Kubo response run on the finite k grid: no silent N_y = 1."""
    from orbsym.dynamics import evolve
    from orbsym.response import response
    from orbsym.transport import attach_leads

    s = bilayer(N_x=3, N_y=math.inf)
    for fn, name in ((attach_leads, "attach_leads()"), (evolve, "evolve()"), (response, "response()")):
        with pytest.raises(ValueError, match=rf"{name[:-2]}\(\) needs a finite N_y"):
            fn(s)
