"""T = 0 levels exactly at the chemical potential on the Green's-function engine.

The imaginary-axis quadrature has no node below ~1e-11 t, so a level at rounding distance from zero
(1e-16) is neither resolved nor exactly half occupied; the engine detects such levels with the
Sylvester inertia of the block LDL^dag and averages the solves at mu -+ s.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import models, random_lattice

from orbsym.numeric import KERNEL_NAMES, Column, Lattice, Observables, bloch_hamiltonians, solve_bloch
from orbsym.numeric import greens as G
from orbsym.numeric.bloch import k_points


def chain(N_x, N_y, mu=0.0):
    """Orbital NM columns with gamma = 0 at mu = 0: exact zero modes (N = 7.5 for N_x = 3, N_y = 1)."""
    metal, _ = models("orbital")
    return Lattice([Column(metal, dict(t=1.0, gamma=0.0, tp=1.0, w=0.0, mu=mu), label="M") for _ in range(N_x)], N_y)


@pytest.mark.parametrize("N_x, N_y, mu, N_total, plain_fails", [(3, 1, 0.0, 7.5, False), (2, 2, 1.0, 7.5, False), (3, 4, 0.0, 18.0, True), (7, 8, 0.0, 84.0, True)])
def test_zero_modes_half_occupied_like_dense(N_x, N_y, mu, N_total, plain_fails):
    lat = chain(N_x, N_y, mu)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    d = solve_bloch(lat, 0.0, pairs)
    g = G.solve_greens(lat, 0.0, pairs)
    assert d.particle_number(per_row=False) == N_total  # exactly, on the dense path
    assert g.zero_levels > 0
    assert g.particle_number(per_row=False) == pytest.approx(N_total, abs=1e-11)
    assert g.free_energy() == pytest.approx(d.free_energy(), abs=1e-12)
    assert G.solve_greens(lat, 0.0, vectors=False).free_energy() == pytest.approx(d.free_energy(), abs=1e-12)
    for p, B in d.bands.items():
        np.testing.assert_allclose(g.bands[p], B, rtol=0, atol=1e-12, err_msg=str(p))
    o = Observables(lat, g.bands)
    assert max(float(np.abs(o.continuity_residual(a, "bond")).max()) for a in "xyz") < 1e-12
    # at k_y = pi/2 the zero modes sit at cos(pi/2) = 6e-17, not 0: the plain quadrature (no
    # detection) puts them off half filling by >1e-8 (what the average over mu -+ s repairs)
    plain = G._solve(lat, 0.0, pairs, True, G.DEFAULT_TOL, G.DEFAULT_RESOLUTION, "lattice", G.CHUNK_BYTES, True)
    assert (abs(plain.particle_number(per_row=False) - N_total) > 1e-8) == plain_fails


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31), basis=st.sampled_from(["orbital", "spin", "user"]), N_x=st.integers(1, 6), sigma=st.floats(-2.5, 2.5))
def test_inertia_count_equals_eigenvalue_count(seed, basis, N_x, sigma):
    lat = random_lattice(np.random.default_rng(seed), basis, N_x, 5, "fm")
    k, _ = k_points(5, False)
    E = np.linalg.eigvalsh(bloch_hamiltonians(lat, k))
    gap = np.abs(E - sigma).min()
    if gap < 1e-9:  # a level at sigma itself is ambiguous for both counts
        return
    np.testing.assert_array_equal(G.count_below(lat, k, sigma), (E < sigma).sum(axis=1))


def test_no_zero_modes_no_extra_work_and_refusal():
    lat = chain(3, 4, mu=-0.3)
    assert G.zero_levels(lat, 4) == (0.0, None)
    g = G.solve_greens(lat, 0.0, vectors=False)
    plain = G._solve(lat, 0.0, (), False, G.DEFAULT_TOL, G.DEFAULT_RESOLUTION, "lattice", G.CHUNK_BYTES, True)
    assert g.zero_levels == 0 and g.points == plain.points and g.free_energy() == plain.free_energy()
    # resolution 0.1: the zero mode cannot be separated from the levels at +-1.41 by any shift
    with pytest.raises(ValueError, match="cannot separate.*engine='dense'"):
        G.solve_greens(chain(3, 1), 0.0, resolution=0.1)
