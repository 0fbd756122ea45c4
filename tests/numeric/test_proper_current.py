"""Lattice torque dipole and proper current (Observables.torque_dipole / proper_current)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import random_lattice
from nnn_kernels import nnn_orbital, random_nnn_lattice
from realspace_helpers import random_correlation

from orbsym.numeric import KERNEL_NAMES, Column, Lattice, Observables, solve_bloch
from orbsym.numeric.kubo import solve_kubo
from orbsym.numeric.realspace import RealSpaceObservables, dense_hamiltonian


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["orbital", "user", "nnn", "user-nnn"]), N_x=st.integers(2, 7), T=st.sampled_from([0.0, 0.05, 0.5]))
def test_equilibrium_proper_current_vanishes(seed, kind, N_x, T):
    """Stationary state: net torque 0, so P exists and -div(I + P) = 0 with hard walls: I + P = 0 at every
    boundary, although the conventional current I and the torques are not zero."""
    rng = np.random.default_rng(seed)
    lat = random_nnn_lattice(rng, "nnn" if kind == "nnn" else "user", N_x, 5, "fm") if "nnn" in kind else random_lattice(rng, kind, N_x, 5, "fm")
    obs = Observables(lat, solve_bloch(lat, T, lat.offset_pairs(KERNEL_NAMES)).bands)
    for p in "xyz":
        for kind_ in ("bond", "forward"):
            td = obs.torque_dipole(p, kind_)
            assert td["exists"] and abs(td["net_torque"]) < 1e-12
            np.testing.assert_allclose(obs.proper_current(p, kind_), 0, atol=1e-12)
            np.testing.assert_allclose(obs.boundary_current(p, kind_), -td["P"], atol=1e-12)


def test_boundary_current_and_dipole_on_a_random_state():
    """Random non-stationary state (real space, NNN bonds incl. (2, 0)): -div I + tau = dJ/dt per column,
    -div P = tau, and the proper current is refused when the net torque does not vanish."""
    lat = random_nnn_lattice(np.random.default_rng(1), "user", 5, 3, "metal")
    G = random_correlation(dense_hamiltonian(lat).shape[0], np.random.default_rng(2))
    obs = RealSpaceObservables(lat, G)
    for p in "xyz":
        I = np.concatenate([[0.0], obs.boundary_current(p), [0.0]])
        np.testing.assert_allclose(I[:-1] - I[1:], -obs.divergence(p), atol=1e-13)
        td = obs.torque_dipole(p)
        P = np.concatenate([[0.0], td["P"], [-td["net_torque"]]])
        np.testing.assert_allclose(P[:-1] - P[1:], obs.torques(p)["total"], atol=1e-13)
        assert not td["exists"]
        with pytest.raises(ValueError, match="net torque sum_x tau = .* does not vanish"):
            obs.proper_current(p)


def test_driven_strip_proper_current_feeds_the_accumulation():
    """NNN strip in E_y (no FM): the driven accumulation has no net rate (antisymmetric edges), P exists and
    -div(I + P) = eta <J> + D; the proper current is the cumulative accumulation rate."""
    ks = nnn_orbital()
    lat = Lattice([Column(ks, dict(t=1.0, gamma=0.5, tp=1.0, mu=-0.2, s_1=0.1, s_2=0.1, s_3=0.2))] * 8, 40)
    eta = 0.05
    sol = solve_kubo(lat, 0.1, eta, lat.offset_pairs(KERNEL_NAMES))
    tot, drv = Observables(lat, sol.bands["total"]), Observables(lat, sol.bands["drive"])
    J = tot.proper_current("z")
    rate = eta * tot.density("z") + drv.density("z")
    assert np.abs(tot.density("z")).max() > 0.1
    np.testing.assert_allclose(np.concatenate([[0], J]) - np.concatenate([J, [0]]), rate, atol=1e-13)
    np.testing.assert_allclose(J, -np.cumsum(rate)[:-1], atol=1e-13)
    assert np.abs(J).max() < 0.5 * np.abs(tot.boundary_current("z")).max()
