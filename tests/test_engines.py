"""Engine choice behind solve()/rkky(): the Green's-function engine equals the dense reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.numeric.engines import choose_engine, engine_costs
from orbsym.rkky import rkky_vs_length
from orbsym.numeric.infinite import solve_infinite
from orbsym.systems import QUANTITIES, bilayer, rkky, solve, trilayer


def _flat(x):
    if isinstance(x, dict):
        return np.concatenate([_flat(v) for _, v in sorted(x.items())]) if x else np.zeros(0)
    if isinstance(x, list):
        return np.array([np.nan if v is None else v for v in x], float)
    return np.atleast_1d(np.asarray(x, float))


def _system(kind, basis, N_x, m_L, gamma, mu, interface):
    metal = "am" if basis == "spin" else "nm"
    if kind == "trilayer":
        return trilayer(basis, metal=metal, N_x=N_x, N_y=10, m_L=m_L, m_R="y", gamma=gamma, mu=mu, interface=interface)
    return bilayer(metal, basis, N_x=N_x, N_y=10, m_FM=m_L, gamma=gamma, mu=mu, interface=interface)


@settings(max_examples=16)
@given(
    kind=st.sampled_from(["trilayer", "bilayer"]),
    basis=st.sampled_from(["orbital", "spin"]),
    N_x=st.integers(3, 8),
    m_L=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)),
    gamma=st.floats(0.0, 1.5),
    mu=st.floats(-1.5, 1.0),
    T=st.sampled_from([0.0, 1e-4, 0.02, 0.5]),
    interface=st.sampled_from(["fm", "metal"]),
)
def test_greens_engine_equals_dense(kind, basis, N_x, m_L, gamma, mu, T, interface):
    """Every output of to_dict (densities, all current kinds, torques, F, N, continuity) to 1e-10."""
    s = _system(kind, basis, N_x, m_L, gamma, mu, interface)
    a = solve(s, T, engine="dense").to_dict(QUANTITIES)
    b = solve(s, T, engine="greens").to_dict(QUANTITIES)
    assert a["engine"] == "dense" and b["engine"] == "greens" and b["engine_requested"] == "greens"
    for q in ("densities", "currents", "torques", "torques_forward", "free_energy_per_row", "free_energy_total", "particle_number_per_row"):
        x, y = _flat(a[q]), _flat(b[q])
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-10 * max(1, N_x), err_msg=q, equal_nan=True)
    assert b["continuity"]["max_abs_continuity_residual"] < 1e-12
    assert b["continuity"]["max_abs_dJ_dt"] < 1e-12


def test_free_energy_only_and_particle_number_with_greens():
    s = trilayer(N_x=7, N_y=12, gamma=0.5)
    r = solve(s, 0.02, engine="greens")
    assert r.free_energy() == pytest.approx(solve(s, 0.02, engine="dense").free_energy(), abs=1e-11)
    assert r._full is None  # free energy alone: forward sweep only
    assert r.particle_number() == pytest.approx(solve(s, 0.02, engine="dense").particle_number(), abs=1e-11)
    assert r.engine == "greens"


def test_auto_uses_cost_model():
    small = trilayer(N_x=4, N_y=4)
    long = trilayer(N_x=120, N_y=200, gamma=0.5, m_L=(0.3, 0.5, 0.8))
    assert choose_engine("auto", small.lattice, 0.01) == "dense"
    assert choose_engine("auto", long.lattice, 0.01) == "greens"
    c = engine_costs(long.lattice, 0.01)
    assert c["greens"] < c["dense"] and c["greens_points"] > 0
    assert choose_engine("auto", long.lattice, 1e-9) == "dense"  # E_max / T too large for poles
    r = solve(small, 0.01)
    assert r.engine == "dense" and r.to_dict("free_energy")["engine"] == "dense"


@pytest.mark.parametrize("bad", ["gren", "Dense", None, 3])
def test_bad_engine_rejected(bad):
    s = trilayer(N_x=4, N_y=4)
    with pytest.raises(ValueError, match="unknown engine"):
        solve(s, 0.1, engine=bad)
    with pytest.raises(ValueError, match="allowed: auto, dense, greens"):
        rkky(s, 0.1, engine=bad)


@pytest.mark.parametrize(
    "basis, N_FM, T, interface",
    [("orbital", 1, 0.02, "fm"), ("orbital", 2, 0.0, "metal"), ("spin", 1, 1e-4, "metal"), ("spin", 2, 0.3, "fm")],
)
def test_lloyd_rkky_equals_free_energy_difference(basis, N_FM, T, interface):
    """Lloyd's J for every length of the one-pass sweep equals F_AP - F_P of the dense path."""
    s = trilayer(basis, metal="am" if basis == "spin" else "nm", N_x=2 * N_FM + 6, N_y=8, N_FM=N_FM, m_L=(0.2, 0.9, 0.1), m_R="z", gamma=0.6, interface=interface)
    sweep = rkky_vs_length(s, T)
    assert list(sweep["N_x"]) == list(range(2 * N_FM + 1, 2 * N_FM + 7))
    for L, J in zip(sweep["N_x"], sweep["J"]):
        ref = rkky(s.rebuild(N_x=int(L)), T, engine="dense")
        assert J == pytest.approx(ref["J"], abs=1e-11), L
    g = rkky(s, T, engine="greens")
    assert g["engine"] == "greens" and g["J"] == pytest.approx(sweep["J"][-1], abs=1e-13)
    assert g["J"] == pytest.approx(g["F_AP"] - g["F_P"], abs=1e-10)
    assert rkky(s, T, per_row=False, engine="greens")["J"] == pytest.approx(8 * g["J"], abs=1e-11)


def test_lloyd_rkky_infinite_rows():
    """N_y = infinity: Lloyd's J equals the difference of the k-integrated free energies."""
    s = trilayer(N_x=6, N_y=8, m_L="y", m_R="y", gamma=0.5)
    J = rkky_vs_length(s, 0.1, [5, 6], N_y=math.inf)
    assert J["N_y"] is None
    for L, j in zip(J["N_x"], J["J"]):
        P = solve_infinite(s.rebuild(N_x=int(L)).lattice, 0.1, tol=1e-13).free_energy
        AP = solve_infinite(s.rebuild(N_x=int(L), m_R="-y").lattice, 0.1, tol=1e-13).free_energy
        assert j == pytest.approx(AP - P, abs=2e-12)


def test_rkky_vs_length_rejects_bad_input():
    s = trilayer(N_x=6, N_y=8)
    with pytest.raises(ValueError, match="trilayer length N_x must be an integer >= 3"):
        rkky_vs_length(s, 0.1, [2, 5])
    with pytest.raises(ValueError, match="N_y must be an integer"):
        rkky_vs_length(s, 0.1, N_y=2.5)
    with pytest.raises(ValueError, match="trilayer"):
        rkky_vs_length(bilayer(N_x=4, N_y=4), 0.1)


def test_greens_refuses_next_nearest_neighbour_bonds_and_auto_falls_back_to_dense():
    """The recursive engine reads only the (1, 0) and (0, 1) hoppings: a lattice with diagonal bonds
    must be refused by name, never solved with the diagonal bonds silently dropped."""
    from orbsym import symmetric_hoppings
    from orbsym.systems import heterostructure, layer, solve

    model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    params = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2, mu=-0.2)
    system = heterostructure([layer(model, 4, **params)], N_y=6)
    with pytest.raises(ValueError, match="nearest-neighbour bonds.*engine='dense'"):
        solve(system, 0.05, engine="greens").free_energy()
    auto = solve(system, 0.05, engine="auto")
    assert auto.free_energy() == solve(system, 0.05, engine="dense").free_energy()
    assert auto.engine == "dense"


@pytest.mark.parametrize("kind, basis, N_x, m_L", [("trilayer", "orbital", 6, (0.3, 0.5, 0.8)), ("bilayer", "spin", 5, (0.2, 0.4, 0.9)), ("trilayer", "orbital", 4, "x")])
def test_cost_model_bandwidth_is_the_bloch_one(kind, basis, N_x, m_L):
    """The band-solver branch of the dense cost uses the bandwidth solve_bloch will see."""
    from orbsym.numeric.bloch import _lower_bandwidth
    from orbsym.numeric.engines import _bandwidth
    from orbsym.numeric.infinite import _pieces

    s = _system(kind, basis, N_x, m_L, 0.5, -0.2, "fm")
    assert _bandwidth(s.lattice) == _lower_bandwidth(*_pieces(s.lattice))


def test_auto_takes_greens_from_the_measured_crossover():
    """benchmarks/bench_engine_choice.py: at N_y = 800, T = 0.01 greens is faster from N_x = 5 (all
    profiles and F), dense at N_x = 3; at N_y = 100 dense up to N_x = 15."""
    gen = dict(gamma=0.5, m_L=(0.3, 0.5, 0.8))
    for N_x, N_y, want in ((3, 800, "dense"), (5, 800, "greens"), (25, 800, "greens"), (15, 100, "dense"), (35, 100, "greens")):
        lat = trilayer(N_x=N_x, N_y=N_y, **gen).lattice
        assert choose_engine("auto", lat, 0.01, True) == want, (N_x, N_y)
        assert choose_engine("auto", lat, 0.01, False) == want, (N_x, N_y)
    assert choose_engine("auto", trilayer(N_x=25, N_y=800, **gen).lattice, 0.0) == "dense"  # T = 0: ~220 points x sub-grids
