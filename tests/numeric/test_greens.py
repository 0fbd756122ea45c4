"""Green's-function engine (recursive block LU on the imaginary axis) against the dense Bloch path."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import random_lattice, trilayer

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Observables, solve_bloch
from orbsym.numeric import greens as greens_module
from orbsym.numeric.greens import free_energy_greens, k_grid, solve_greens, spectral_bound
from orbsym.numeric.infinite import solve_infinite
from lattices import all_kernel_values


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**31),
    basis=st.sampled_from(["orbital", "spin", "user"]),
    N_x=st.integers(1, 6),
    N_y=st.integers(1, 9),
    T=st.sampled_from([0.0, 1e-4, 0.05, 0.7]),
    interface=st.sampled_from(["fm", "metal"]),
    subgrids=st.booleans(),
)
def test_greens_matches_dense(seed, basis, N_x, N_y, T, interface, subgrids):
    """Every band, every kernel value (densities, currents, torques, eom), F and N equal the dense path to 1e-10."""
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, N_x, N_y, interface)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    dense = solve_bloch(lat, T, pairs)
    gf = solve_greens(lat, T, pairs, use_subgrids=subgrids)
    assert sorted(gf.bands) == sorted(dense.bands)
    for p in pairs:
        np.testing.assert_allclose(gf.bands[p], dense.bands[p], rtol=0, atol=1e-10, err_msg=str(p))
    fast = all_kernel_values(lat, Observables(lat, gf.bands))
    slow = all_kernel_values(lat, Observables(lat, dense.bands))
    assert fast.keys() == slow.keys() and len(fast) > 10
    for key in fast:
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-10, err_msg=str(key))
    assert gf.free_energy() == pytest.approx(dense.free_energy(), abs=1e-10)
    assert gf.free_energy(per_row=False) == pytest.approx(dense.free_energy(per_row=False), abs=1e-9)
    assert gf.particle_number() == pytest.approx(dense.particle_number(), abs=1e-10)
    assert free_energy_greens(lat, T) == pytest.approx(gf.free_energy(), abs=1e-11)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31), basis=st.sampled_from(["orbital", "spin", "user"]), interface=st.sampled_from(["fm", "metal"]), T=st.sampled_from([0.0, 0.01, 0.3]))
def test_greens_continuity(seed, basis, interface, T):
    """Equilibrium continuity on the Green's-function bands: d<J>/dt = 0 and div j = tau to 1e-12."""
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, int(rng.integers(2, 8)), int(rng.integers(3, 12)), interface)
    obs = Observables(lat, solve_greens(lat, T, lat.offset_pairs(KERNEL_NAMES)).bands)
    for p in POLARIZATIONS:
        np.testing.assert_allclose(obs.time_derivative(p), 0, atol=1e-12)
        for kind in ("bond", "forward"):
            np.testing.assert_allclose(obs.continuity_residual(p, kind), 0, atol=1e-12)


@pytest.mark.parametrize("basis", ["orbital", "spin"])
def test_trilayer_generic_magnetization(basis):
    """Built-in-like trilayer with generic m: all profiles equal to the dense path."""
    lat = trilayer(basis, 9, 16, 0.5, (0.3, -0.5, 0.8), (0.0, 1.0, 0.0), mu=-0.4, interface="metal")
    pairs = lat.offset_pairs(KERNEL_NAMES)
    a = Observables(lat, solve_bloch(lat, 0.02, pairs).bands)
    b = Observables(lat, solve_greens(lat, 0.02, pairs).bands)
    for p in POLARIZATIONS:
        np.testing.assert_allclose(b.bond_current(p), a.bond_current(p), atol=1e-12)
        np.testing.assert_allclose(b.eq7_current(p)[1:-1], a.eq7_current(p)[1:-1], atol=1e-12)
        for kind in ("bond", "forward"):
            for k, v in b.torques(p, kind).items():
                np.testing.assert_allclose(v, a.torques(p, kind)[k], atol=1e-12)


def test_infinite_rows_match_k_integral():
    """N_y = infinity with the Green's-function engine equals the trapezoid k integral of the dense path."""
    lat = trilayer("orbital", 5, 8, 0.5, (1.0, 0, 0), (0, 1.0, 0))
    pairs = lat.offset_pairs(KERNEL_NAMES)
    ref = solve_infinite(lat, 0.1, pairs, tol=1e-12)
    gf = solve_greens(lat, 0.1, pairs, N_y=math.inf, tol=1e-13)
    assert gf.N_y is None
    assert gf.free_energy() == pytest.approx(ref.free_energy, abs=1e-11)
    assert gf.particle_number() == pytest.approx(ref.particle_number, abs=1e-11)
    for p in pairs:
        np.testing.assert_allclose(gf.bands[p], ref.bands[p], atol=1e-11)
    with pytest.raises(ValueError, match="infinite"):
        gf.free_energy(per_row=False)


def test_k_subgrids_are_divisors_and_shrink_with_frequency():
    lat = trilayer("orbital", 4, 800, 0.5, (1.0, 0, 0), (0, 1.0, 0))
    sol = solve_greens(lat, 0.01, vectors=False)
    w = sol.expansion.omega
    assert np.all(800 % sol.k_sizes == 0)
    assert sol.k_sizes[0] == 800 and sol.k_sizes[-1] < 100
    assert np.all(np.diff(sol.k_sizes[np.argsort(w)]) <= 0)
    M = k_grid(w, sol.expansion.weight, 797, 1.0, 5.0, 1e-13, True)  # prime N_y: no sub-grid
    assert np.all(M == 797)


def test_spectral_bound_holds():
    rng = np.random.default_rng(3)
    for basis in ("orbital", "spin", "user"):
        lat = random_lattice(rng, basis, 6, 7, "fm")
        E = solve_bloch(lat, 0.1, vectors=False).energies
        assert np.abs(E).max() <= spectral_bound(lat)


def test_bad_input_rejected(monkeypatch):
    lat = trilayer("orbital", 4, 6, 0.5, (1.0, 0, 0), (0, 1.0, 0))
    with pytest.raises(ValueError, match=r"\|dx\| <= 1"):
        solve_greens(lat, 0.1, [(2, 0)])
    with pytest.raises(ValueError, match="tol must be in"):
        solve_greens(lat, 0.1, tol=1.0)
    with pytest.raises(ValueError, match="N_y must be an integer"):
        solve_greens(lat, 0.1, N_y=2.5)
    with pytest.raises(ValueError, match="temperature"):
        solve_greens(lat, -0.1)
    sol = solve_greens(lat, 0.1, vectors=False, chunk_bytes=1)
    with pytest.raises(ValueError, match="free energy only"):
        sol.particle_number()
    assert sol.free_energy() == pytest.approx(solve_bloch(lat, 0.1, vectors=False).free_energy(), abs=1e-12)
    monkeypatch.setattr(greens_module, "MEMORY_LIMIT", 1000)
    with pytest.raises(ValueError, match=r"MiB per \(k, w\) point for N_x = 4"):
        solve_greens(lat, 0.1)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    basis=st.sampled_from(["orbital", "spin", "user"]),
    N_x=st.integers(1, 14),
    T=st.sampled_from([0.0, 0.05, 0.7]),
    batch=st.sampled_from([29, 10**6]),
)
def test_checkpointed_backward_sweep_equals_stored_blocks(seed, basis, N_x, T, batch):
    """Segments of ceil(sqrt(N_x)) columns recomputed from checkpoints give the bands, F and N of the
    sweep that stores every g_x (same arithmetic: equal to rounding in the batch sums), for any batch."""
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, N_x, int(rng.integers(2, 5)), "fm")
    pairs = lat.offset_pairs(KERNEL_NAMES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(greens_module, "CHECKPOINT_MIN_COLUMNS", 10**9)
        assert greens_module.checkpoint_stride(N_x) == N_x
        full = solve_greens(lat, T, pairs, chunk_bytes=batch * greens_module.point_bytes(N_x, lat.dim))
        mp.setattr(greens_module, "CHECKPOINT_MIN_COLUMNS", 1)
        assert greens_module.checkpoint_stride(N_x) == math.ceil(math.sqrt(N_x))
        seg = solve_greens(lat, T, pairs, chunk_bytes=batch * greens_module.point_bytes(N_x, lat.dim))
    for p in pairs:
        np.testing.assert_allclose(seg.bands[p], full.bands[p], rtol=0, atol=1e-13, err_msg=str(p))
    assert seg._F == pytest.approx(full._F, rel=1e-13, abs=1e-13)
    assert seg._N == pytest.approx(full._N, rel=1e-13, abs=1e-13)


def test_point_memory_is_segments_and_batches_stay_large():
    """Bytes per (k, w) point: ceil(N_x / s) - 1 checkpoints + s blocks of one segment + 24 work blocks;
    the paper's all-profile solve (P ~ 5000 points) is one batch up to N_x = 10^4."""
    from orbsym.numeric.engines import greens_point_count

    cs, pb = greens_module.checkpoint_stride, greens_module.point_bytes
    assert cs(255) == 255 and cs(256) == 16 and cs(1000) == 32 and cs(10**4) == 100 and cs(10**4 + 1) == 101
    assert pb(100, 3) == (100 + 24) * 144 and pb(1000, 3) == (31 + 32 + 24) * 144 and pb(10**4, 2) == (99 + 100 + 24) * 64
    assert pb(10**4, 3, vectors=False) == 24 * 144
    for bad in (0, 2.5, "10"):
        with pytest.raises((ValueError, TypeError), match="N_x"):
            cs(bad)
    P, _ = greens_point_count(0.01, 8.0, 800)
    assert 2000 < P < 20000
    assert greens_module.batch_size(P, 10**4, 3) == P
    # without segments a point would hold all N_x blocks: ~40x fewer points per batch at N_x = 10^4
    assert greens_module.CHUNK_BYTES // ((10**4 + 24) * 144) < P / 8


def test_solve_memory_within_the_counted_batch():
    """Peak traced memory of a segmented solve stays within batch * point_bytes plus the bands."""
    import tracemalloc

    lat = trilayer("orbital", 300, 6, 0.5, (0.3, 0.5, 0.8), (0.6, -0.2, 0.4))
    pairs = lat.offset_pairs(KERNEL_NAMES)
    assert greens_module.checkpoint_stride(300) == 18
    chunk = 40 * greens_module.point_bytes(300, 3)
    solve_greens(lat, 0.3, vectors=False)  # warm up (pole expansion, imports): not the solve's memory
    tracemalloc.start()
    try:
        sol = solve_greens(lat, 0.3, pairs, chunk_bytes=chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    bands = len(pairs) * 300 * 9 * 16
    assert sol.points > 40  # several batches of 40 points
    assert peak < chunk + 2 * bands + 2**19
    assert peak < 40 * 300 * 144  # less than the blocks of 40 points without segments
