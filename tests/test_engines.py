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


# ----------------------------------------------------------------- the Green's-function cost estimate
# (structure only, no timing: benchmarks/bench_estimates.py compares it with measured CPU time)
from orbsym.numeric.engines import greens_estimate, greens_point_count, greens_seconds, greens_solve_estimate  # noqa: E402
from orbsym.numeric import KERNEL_NAMES  # noqa: E402
from orbsym.numeric.greens import CHUNK_BYTES, batch_size, point_bytes  # noqa: E402


def test_greens_estimate_linear_once_segments_keep_batches_large():
    """Bands: from N_x = 256 a point stores ~2 sqrt(N_x) blocks (greens.checkpoint_stride), so the issue-23
    case (P = 396 points) stays one batch to N_x = 10^6 and the estimate is linear in N_x, like the free
    energy's; only when P sqrt(N_x) outgrows the budget do batches multiply again."""
    t = {N: greens_estimate(N, 10, 3, 0.01).seconds for N in (1000, 10000, 100000)}
    assert 8 < t[10000] / t[1000] < 11 and 9 < t[100000] / t[10000] < 11
    assert [greens_seconds(N, 396, 3)[1] for N in (1000, 10000, 100000, 10**6)] == [1, 1, 1, 1]
    f = {N: greens_estimate(N, 10, 3, 0.01, vectors=False).seconds for N in (1000, 10000, 100000)}
    assert 8 < f[100000] / f[10000] < 11  # one batch: linear
    P, _ = greens_point_count(0.01, 8.0, 10)
    assert batch_size(P, 100000, 3) == P
    # many points (N_y = 800) at N_x = 10^6: several batches of ~2 sqrt(N_x) blocks per point
    P8, _ = greens_point_count(0.01, 8.0, 800)
    assert greens_seconds(10**6, P8, 3)[1] == math.ceil(P8 / (CHUNK_BYTES // ((999 + 1000 + 24) * 144)))


@pytest.mark.parametrize("N_x, dim, vectors, P", [(25, 3, True, 5003), (1000, 3, True, 5003), (100000, 3, True, 276), (10000, 2, True, 2000), (10000, 3, False, 56420), (3 * 10**6, 3, True, 9)])
def test_greens_seconds_counts_the_batches(N_x, dim, vectors, P):
    """seconds = g_0 + a P + b P N_x + h n_batch N_x with the solve's own batch (greens.batch_size)."""
    from orbsym.numeric.engines import _greens_constants

    s, n_batch = greens_seconds(N_x, P, dim, vectors)
    per = CHUNK_BYTES // point_bytes(N_x, dim, vectors)
    assert n_batch == math.ceil(P / max(1, min(P, per)))
    g0, a, b, h = _greens_constants(dim, vectors)
    assert s == pytest.approx(g0 + a * P + b * P * N_x + h * n_batch * N_x, rel=1e-12)
    # twice the memory budget: half the batches (the per-call term halves)
    s2, n2 = greens_seconds(N_x, P, dim, vectors, chunk_bytes=2 * CHUNK_BYTES)
    assert n2 == math.ceil(P / max(1, min(P, 2 * CHUNK_BYTES // point_bytes(N_x, dim, vectors))))
    assert s2 <= s


@pytest.mark.parametrize("basis, N_x, N_y, T", [("orbital", 25, 800, 0.01), ("orbital", 6, 800, 0.0), ("spin", 5, 37, 0.1), ("orbital", 7, math.inf, 0.05), ("spin", 4, 10, 0.0)])
def test_estimate_point_count_is_the_solves(basis, N_x, N_y, T):
    """The pole count and k sub-grids enter the estimate exactly as the solve uses them."""
    from orbsym.numeric.greens import solve_greens

    metal = "am" if basis == "spin" else "nm"
    lat = trilayer(basis, metal=metal, N_x=N_x, N_y=N_y, m_L=(0.3, 0.5, 0.8), m_R="y", gamma=0.5).lattice
    ny = None if math.isinf(N_y) else N_y
    est = greens_solve_estimate(lat, T, N_y=ny)
    sol = solve_greens(lat, T, vectors=False, N_y=ny)
    assert est.detail.startswith(f"{sol.points} (k, w) points ({sol.expansion.size} poles)")
    # a long copy: the same points, N_x = 50000 columns, far more time
    long = greens_solve_estimate(lat, T, N_x=50000, N_y=ny)
    assert long.detail.startswith(f"{sol.points} (k, w) points") and "x 50000 columns" in long.detail
    assert long.seconds > 100 * est.seconds


def test_greens_solve_makes_the_predicted_batches(monkeypatch):
    """The solve's small-inverse calls (one per column per batch, forward sweep) are the model's n_batch N_x."""
    from orbsym.numeric import greens as gm

    lat = trilayer(N_x=12, N_y=10, gamma=0.5, m_L=(0.3, 0.5, 0.8)).lattice
    calls = []
    real = gm._inv_det
    monkeypatch.setattr(gm, "_inv_det", lambda M: calls.append(M.shape[-1]) or real(M))
    for vectors, batch in ((True, 4), (True, 50), (False, 7)):
        chunk = batch * point_bytes(lat.N_x, lat.dim, vectors)
        est = greens_solve_estimate(lat, 0.01, vectors=vectors, chunk_bytes=chunk)
        calls.clear()
        gm.solve_greens(lat, 0.01, lat.offset_pairs(KERNEL_NAMES) if vectors else (), vectors=vectors, chunk_bytes=chunk)
        P = int(est.detail.split()[0])
        n_batch = math.ceil(P / batch)
        assert f"in {n_batch} batches x 12 columns" in est.detail
        assert len(calls) == n_batch * lat.N_x and max(calls) == batch


def _tripwire(*args, **kwargs):
    raise AssertionError("the solver ran although the run should have been refused up front")


@pytest.mark.parametrize(
    "case, argv, limit, words",
    [
        ("N_x 1e6 N_y 10 auto", ["--N-x", "1000000", "--N-y", "10"], 600, ["N_x = 1000000, N_y = 10", "Green's-function engine", "batches x 1000000 columns", "ORBSYM_MAX_SECONDS"]),
        ("explicit greens", ["--N-x", "1000000", "--N-y", "10", "--engine", "greens"], 600, ["N_x = 1000000, N_y = 10 with correlation bands on the Green's-function engine", "batches", "min of CPU time"]),
        ("free energy only", ["--N-x", "200000", "--N-y", "800", "--quantities", "free_energy", "--engine", "greens"], 60, ["(free energy only)", "1 batches x 200000 columns"]),
        ("T = 0", ["--N-x", "30000", "--N-y", "100", "--T", "0", "--engine", "greens"], 120, ["220 poles", "x 30000 columns"]),
        ("spin basis", ["--N-x", "500000", "--N-y", "10", "--basis", "spin", "--engine", "greens"], 60, ["of 2 states", "Green's-function engine"]),
        ("N_y inf auto", ["--N-x", "1000000", "--N-y", "inf"], 600, ["N_y = inf", "Green's-function engine", "1000000 columns"]),
        ("rkky", ["--N-x", "20000", "--N-y", "100", "--rkky", "--engine", "greens"], 60, ["with --rkky", "Green's-function engine"]),
    ],
)
def test_compute_refuses_greens_work_beyond_the_time_limit_before_any_work(case, argv, limit, words, monkeypatch, capsys):
    """compute: the Green's-function estimate (with its batches) against ORBSYM_MAX_SECONDS, before the solve."""
    import orbsym.numeric.greens as gm
    import orbsym.commands.compute as compute
    import orbsym.systems as systems
    from orbsym.cli import main

    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(limit))
    monkeypatch.setattr(gm, "solve_greens", _tripwire)
    monkeypatch.setattr(systems, "solve", _tripwire)
    short = compute._system  # the estimate builds a short copy only

    def system(a, user=None):
        assert a.N_x <= compute.SHORT_COPY_MAX, f"built the full system of N_x = {a.N_x} before refusing"
        return short(a, user)

    monkeypatch.setattr(compute, "_system", system)
    assert main(["compute", "trilayer", *argv]) == 2, case
    err = capsys.readouterr().err.strip()
    assert err.startswith("orbsym: ") and "\n" not in err
    for w in words:
        assert w in err, (case, w, err)


def test_compute_greens_estimate_for_the_issue_case_is_one_batch():
    """`compute --N-x 100000 --N-y 10` (bands, T = 0.01, orbital): before the segmented backward sweep the
    batch held 4 points (69 batches, over an hour of CPU); now all 276 points fit in one batch (~2 sqrt(N_x)
    stored blocks per point) and the estimate is about a minute and a half."""
    from orbsym.cli import build_parser
    from orbsym.commands.compute import check_applicable, greens_estimate_for

    args = build_parser().parse_args(["compute", "trilayer", "--N-x", "100000", "--N-y", "10", "--engine", "greens"])
    check_applicable(args)
    est = greens_estimate_for(args, 3, True)
    assert "276 (k, w) points (46 poles) in 1 batches x 100000 columns" in est.detail
    assert 30 < est.seconds < 300


@pytest.mark.parametrize("vectors, limit", [(True, 1.5), (False, 0.3)])
def test_api_solve_refuses_greens_beyond_the_time_limit_before_solving(vectors, limit, monkeypatch):
    """solve(..., engine="greens"): the calibrated estimate against ORBSYM_MAX_SECONDS before the solve runs
    (N_x = 1000, N_y = 100: free energy ~0.6 s, bands ~2.6 s in 5 batches)."""
    import orbsym.numeric.greens as gm
    from orbsym.numeric.budget import ResourceError

    s = trilayer(N_x=1000, N_y=100, gamma=0.5, m_L=(0.3, 0.5, 0.8))
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(limit))
    monkeypatch.setattr(gm, "solve_greens", _tripwire)
    what = "with correlation bands" if vectors else "of the free energy"
    r = None
    with pytest.raises(ResourceError, match=f"Green's-function solve {what} .*x 1000 columns.*ORBSYM_MAX_SECONDS"):
        r = solve(s, 0.01, engine="greens")  # checks the free energy's estimate
        r.densities()  # checks the bands' estimate
    assert (r is not None) == vectors
