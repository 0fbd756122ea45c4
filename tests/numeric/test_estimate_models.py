"""The cost models' laws (not their timings: benchmarks/bench_response_estimate.py and
benchmarks/bench_estimates.py compare them with measured CPU time).

* engine="auto" on the Gamma-only supercell of a disordered periodic sample (one k point, a slice of
  D = N_y dim states) picks dense -- measured 35-55x faster there (trilayer 12 x 16: greens 10-13 s,
  dense 0.2-0.3 s CPU) -- and greens still at the Fig. 2 size; the Green's-function ranking grows like
  D^3 per column for D > 3 (the d^3 NumPy calls of its batched d x d kernels).
* Disorder ensembles' auto follows that model (no forced dense).
* kubo_estimate: the eigensolver path (tridiagonal / real / complex) it budgets is the one solve_kubo
  takes, the paths' costs are ordered, and N_x 100 -> 200 scales by the model's law (~n^3).
"""

import numpy as np
import pytest

from orbsym.numeric import budget, kubo
from orbsym.numeric.budget import kubo_estimate, kubo_path
from orbsym.numeric.disorder import Anderson, realize
from orbsym.numeric.engines import choose_engine, engine_costs, greens_seconds
from orbsym.systems import disorder_site_lattice, trilayer

GEN = dict(gamma=0.5, m_L=(0.3, 0.5, 0.8), m_R="y")


def test_auto_picks_dense_on_a_disordered_supercell_and_greens_at_the_fig2_size():
    lat = disorder_site_lattice(trilayer(N_x=12, N_y=16, **GEN), "a test")
    sc = realize(lat, Anderson(1.0), seed=0).lattice  # the Gamma-only supercell, N_y = 1, D = 16 x 3
    base = sc.slices
    assert (base.N_y, base.dim) == (1, 48)
    cost = engine_costs(base, 0.01, True)
    assert cost["greens"] > 10 * cost["dense"], cost  # measured: greens 35-55x dense
    assert sc.choose_engine(0.01) == "dense"
    free = engine_costs(base, 0.01, False)  # free energy only
    assert free["greens"] > 10 * free["dense"], free
    fig2 = trilayer(N_x=25, N_y=800, **GEN).lattice
    assert choose_engine("auto", fig2, 0.01, True) == "greens"
    assert choose_engine("auto", fig2, 0.01, False) == "greens"


@pytest.mark.parametrize("vectors", [True, False])
def test_greens_ranking_grows_like_d_cubed_beyond_three_states(vectors):
    """One batch (a huge chunk): seconds - g_0 scale by 8 from D = 6 to 12 and 24 to 48; D <= 3 keeps its fit."""
    big = 1 << 40

    def work(d):
        s, nb = greens_seconds(12, 55, d, vectors, 0.01, None, big, ranking=True)
        assert nb == 1
        return s - greens_seconds(12, 0, d, vectors, 0.01, None, big, ranking=True)[0]

    assert work(12) / work(6) == pytest.approx(8.0, rel=1e-12)
    assert work(48) / work(24) == pytest.approx(8.0, rel=1e-12)
    # the fitted small-d law: per-point terms ~ d^2, the per-(batch, column) NumPy overhead unscaled
    assert work(2) < work(3) < work(6)


def test_kubo_path_is_the_eigensolver_solve_kubo_runs(monkeypatch):
    """Independent check: solve_kubo calls the tridiagonal solver exactly when kubo_path says so."""
    calls = []
    tri = kubo._tridiagonal_eigh
    monkeypatch.setattr(kubo, "_tridiagonal_eigh", lambda h, order: calls.append(h.dtype) or tri(h, order))
    eigh = np.linalg.eigh
    dtypes = []
    monkeypatch.setattr(kubo.np.linalg, "eigh", lambda h, *a, **k: dtypes.append(h.dtype) or eigh(h, *a, **k))
    for m, want in ((("x", "y"), "tridiagonal"), (("x", "x"), "real"), (((0.3, 0.5, 0.8), "y"), "complex")):
        lat = trilayer(N_x=5, N_y=4, gamma=0.5, m_L=m[0], m_R=m[1]).lattice
        calls.clear()
        dtypes.clear()
        kubo.solve_kubo(lat, 0.1, 0.1)
        ran = "tridiagonal" if calls else ("complex" if any(np.iscomplexobj(np.empty(0, d)) for d in dtypes) else "real")
        assert kubo_path(lat) == want == ran, m


def test_kubo_path_never_builds_the_dense_matrices(monkeypatch):
    """The up-front check runs before a refusal: N_x = 10^4 (n = 3 10^4) must not build n x n pieces."""
    from orbsym.numeric import bloch

    def boom(*a, **k):
        raise AssertionError("dense pieces built")

    monkeypatch.setattr(bloch, "_pieces", boom)
    monkeypatch.setattr(kubo, "_path_order", boom)
    assert kubo_path(trilayer(N_x=10_000, N_y=800).lattice) == "tridiagonal"


def test_kubo_estimate_paths_and_scaling_law():
    est = {p: kubo_estimate(200, 800, 3, path=p).seconds for p in budget.KUBO_PATHS}
    assert est["tridiagonal"] < est["real"] < est["complex"]
    assert est["tridiagonal"] < est[None] < est["complex"]  # unknown path: between (geometric mean)
    for p in budget.KUBO_PATHS:
        a, b, c = budget._KUBO_COEFF if p is None else budget._KUBO_PATH[p]
        s0, s2 = budget._KUBO_SOLVE
        law = [21 * (a * n ** 3 + b * n ** 2 + c) + s0 + s2 * n ** 2 for n in (300.0, 600.0)]  # N_y = 40: 21 k points
        r = kubo_estimate(200, 40, 3, path=p).seconds / kubo_estimate(100, 40, 3, path=p).seconds
        assert r == pytest.approx(law[1] / law[0], rel=1e-12), p
        assert 2 ** 2.2 < r < 2 ** 3, p  # ~n^3 at n = 300 ... 600 (measured: 2.3 tridiagonal, 2.75 complex)
    # linear in the k points: N_y = 800 has 401 half-zone k points, N_y = 8 five, N_y = 6 four
    per_k = kubo_estimate(100, 8, 3).seconds - kubo_estimate(100, 6, 3).seconds  # 5 - 4 k points
    assert kubo_estimate(100, 800, 3).seconds - kubo_estimate(100, 8, 3).seconds == pytest.approx(396 * per_k, rel=1e-9)
    # benchmarks/results.txt: trilayer m_L = x, m_R = y at N_x = 1000, N_y = 800 ~2990-3000 s CPU
    assert 1500 < kubo_estimate(1000, 800, 3, path="tridiagonal").seconds < 6000
    with pytest.raises(ValueError, match="path"):
        kubo_estimate(10, 10, 3, path="banded")


def test_disorder_ensemble_auto_follows_the_model():
    """orbsym.solve(disorder=...) with engine="auto": dense on the wide 12 x 16 supercell, greens on a long
    narrow one (N_x = 120, N_y = 2: measured greens 0.13 s vs dense 0.20 s at N_x = 100, 0.62 vs 17.5 s at 400)."""
    import orbsym

    wide = orbsym.solve(trilayer(N_x=12, N_y=16, **GEN), 0.01, disorder=Anderson(1.0))
    long = orbsym.solve(trilayer(N_x=120, N_y=2, **GEN), 0.01, disorder=Anderson(1.0))
    assert wide.attrs["engine"].startswith("dense") and long.attrs["engine"].startswith("greens")


def test_response_budgets_the_path_its_solve_takes():
    """orbsym.response's up-front check uses the lattice's eigensolver path: the tridiagonal (x, y) trilayer
    and a generic magnetization (complex) get their own estimates, not the path-unknown one."""
    from orbsym.response import response_resources

    for m_R, path in (("y", "tridiagonal"), ((0.6, -0.2, 0.4), "complex")):
        lat = trilayer(N_x=40, N_y=20, m_L="x", m_R=m_R).lattice
        assert kubo_path(lat) == path
        est = response_resources(lat)
        ref = kubo_estimate(lat.N_x, lat.N_y, lat.dim, symmetric=bool(lat.y_hermitian), path=path)
        assert est.seconds == pytest.approx(ref.seconds) and est.seconds != pytest.approx(
            kubo_estimate(lat.N_x, lat.N_y, lat.dim, symmetric=bool(lat.y_hermitian)).seconds)
