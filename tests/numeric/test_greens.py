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
