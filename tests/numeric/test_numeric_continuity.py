"""Exact lattice continuity, checked numerically with the kernels (NumPy-only kernel fixtures).

(i) equilibrium (Bloch path): d<J_n>/dt = 0 and -div j + tau = d<J_n>/dt at every column;
(ii) random NON-equilibrium one-body density matrices (real space): the kernels' -div j + tau equals
the direct i Tr(rho [h, J_n]) at every site to 1e-12.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import random_lattice, trilayer

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Observables, RealSpaceObservables, angular_momentum_rate, dense_hamiltonian, solve_bloch


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), basis=st.sampled_from(["orbital", "spin", "user"]), interface=st.sampled_from(["fm", "metal"]))
def test_equilibrium_continuity(seed, basis, interface):
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, int(rng.integers(2, 7)), int(rng.integers(3, 12)), interface)
    sol = solve_bloch(lat, float(rng.choice([0.0, 0.01, 0.3])), lat.offset_pairs(KERNEL_NAMES))
    obs = Observables(lat, sol.bands)
    for p in POLARIZATIONS:
        rate = obs.time_derivative(p)
        np.testing.assert_allclose(rate, 0, atol=1e-12, err_msg=f"d<J_{p}>/dt != 0 in equilibrium")
        for kind in ("bond", "forward"):
            lhs = obs.divergence(p, kind)
            rhs = obs.torques(p, kind)["total"]
            np.testing.assert_allclose(lhs, rhs, atol=1e-12, err_msg=f"div j != tau ({p}, {kind})")


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), basis=st.sampled_from(["orbital", "spin", "user"]), interface=st.sampled_from(["fm", "metal"]))
def test_nonequilibrium_continuity(seed, basis, interface):
    rng = np.random.default_rng(seed)
    lat = random_lattice(rng, basis, int(rng.integers(1, 5)), int(rng.integers(1, 5)), interface)
    h = dense_hamiltonian(lat)
    n = h.shape[0]
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    rho = (A + A.conj().T) / (2 * n)
    obs = RealSpaceObservables(lat, rho.T)
    for p in POLARIZATIONS:
        direct = angular_momentum_rate(lat, h, rho, p)
        for kind in ("bond", "forward"):
            np.testing.assert_allclose(obs.site_continuity(p, kind), direct, atol=1e-12, err_msg=f"{p}, {kind}")


def test_nonequilibrium_check_detects_a_wrong_torque():
    """Negative control: dropping the on-site (exchange) torque breaks the identity."""
    rng = np.random.default_rng(0)
    lat = trilayer("orbital", 3, 3, 0.5, (1.0, 0.2, 0.0), (0.0, 0.3, 1.0))
    h = dense_hamiltonian(lat)
    n = h.shape[0]
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    rho = (A + A.conj().T) / (2 * n)
    obs = RealSpaceObservables(lat, rho.T)
    broken = obs.site_continuity("x") - obs.evaluate_sites("torque_onsite", "x")
    assert np.abs(broken - angular_momentum_rate(lat, h, rho, "x")).max() > 1e-3


def test_gamma_equal_t_has_no_bond_torque():
    """Isotropic hopping (gamma = t = t'): hopping torques vanish, the current is conserved in the NM."""
    lat = trilayer("orbital", 7, 16, 1.0, (1.0, 0, 0), (0, 1.0, 0))
    obs = Observables(lat, solve_bloch(lat, 0.02, lat.offset_pairs(KERNEL_NAMES)).bands)
    for p in "xyz":
        tq = obs.torques(p)
        np.testing.assert_allclose(tq["bond_x"] + tq["bond_y"], 0, atol=1e-13)
    j = obs.bond_current("z")
    assert np.abs(j).max() > 1e-5
    np.testing.assert_allclose(j, j[0], atol=1e-12)
    aniso = trilayer("orbital", 7, 16, 0.3, (1.0, 0, 0), (0, 1.0, 0))
    obs = Observables(aniso, solve_bloch(aniso, 0.02, aniso.offset_pairs(KERNEL_NAMES)).bands)
    assert np.abs(obs.torques("z")["bond_x"]).max() > 1e-6
