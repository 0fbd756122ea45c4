"""N_y = infinity at low temperature (orbsym.numeric.infinite): automatic method choice.

The periodic trapezoidal rule needs ~ v ln(1/tol) / (pi T) nodes, hopeless for T <~ 1e-4; the
adaptive rule split at the Fermi points handles 0 <= T << 1.  Checked against the T = 0 result and
against the Sommerfeld expansion F(T) - F(0) = -(pi^2 / 6) g(0) T^2 with the density of states
g(0) computed independently from the band velocities at the Fermi points (Hellmann-Feynman).
"""

import math

import numpy as np
import pytest

from orbsym.numeric import bloch_hamiltonians
from orbsym.numeric.infinite import fermi_points, solve_infinite, trapezoid_nodes_estimate, _pieces
from orbsym.systems import bilayer


@pytest.fixture(scope="module")
def lattice():
    return bilayer(gamma=0.3, N_x=4, m_FM="x").lattice


@pytest.fixture(scope="module")
def zero(lattice):
    return solve_infinite(lattice, 0.0, pairs=[(0, 0), (1, 0)], tol=1e-11)


@pytest.mark.parametrize("T", [1e-7, 1e-9])
def test_low_T_agrees_with_T0(lattice, zero, T):
    r = solve_infinite(lattice, T, pairs=[(0, 0), (1, 0)], tol=1e-11)
    assert r.method == "adaptive"
    assert r.error <= 1e-11
    # F(T) - F(0) ~ -(pi^2/6) g T^2 <= 1e-13 here: equal to the tolerance
    assert abs(r.free_energy - zero.free_energy) < 3e-11
    assert abs(r.particle_number - zero.particle_number) < 3e-11
    for p in zero.bands:
        np.testing.assert_allclose(r.bands[p], zero.bands[p], atol=3e-11)


def test_trapezoid_alone_fails_at_low_T_with_a_clear_message(lattice):
    with pytest.raises(ValueError, match=r"did not reach tol = 1e-10 with \d+ trapezoid nodes.*method='adaptive' or 'auto'"):
        solve_infinite(lattice, 1e-6, method="trapezoid", tol=1e-10)


def test_auto_keeps_trapezoid_at_ordinary_T(lattice):
    auto = solve_infinite(lattice, 0.01, tol=1e-11)
    trap = solve_infinite(lattice, 0.01, tol=1e-11, method="trapezoid")
    assert auto.method == "trapezoid" and auto.free_energy == trap.free_energy  # same rule, same numbers
    ada = solve_infinite(lattice, 0.01, tol=1e-11, method="adaptive")
    assert ada.method == "adaptive" and abs(ada.free_energy - trap.free_energy) < 2e-11


def _sommerfeld_dos(lat):
    """g(0) per row: (1/pi) sum over Fermi points in (0, pi) of 1 / |dE/dk| (Hellmann-Feynman)."""
    H0, C, S = _pieces(lat)
    g = 0.0
    for k in fermi_points(lat, 0.0, math.pi):
        E, U = np.linalg.eigh(bloch_hamiltonians(lat, np.array([k]))[0])
        s = int(np.argmin(np.abs(E)))
        v = (U[:, s].conj() @ (-math.sin(k) * C + math.cos(k) * S) @ U[:, s]).real
        g += 1.0 / abs(v)
    return g / math.pi


def test_T_squared_law_matches_band_velocities(lattice, zero):
    assert lattice.y_hermitian
    g = _sommerfeld_dos(lattice)
    assert g > 0.1  # a metal: some Fermi points
    for T in (1e-4, 3e-4):
        r = solve_infinite(lattice, T, tol=1e-12)
        assert r.method == "adaptive"
        coef = (zero.free_energy - r.free_energy) / T**2
        assert coef == pytest.approx(math.pi**2 / 6 * g, rel=1e-3)  # next order is O(T^2)


def test_fermi_points_are_zeros_of_a_band(lattice):
    kf = fermi_points(lattice, 0.0, math.pi)
    assert len(kf) >= 2
    E = np.linalg.eigvalsh(bloch_hamiltonians(lattice, np.array(kf)))
    assert np.abs(E).min(axis=1).max() < 1e-12


def test_node_estimate():
    assert trapezoid_nodes_estimate(2.0, 0.0, 1e-10) == math.inf
    assert trapezoid_nodes_estimate(0.0, 0.0, 1e-10) == 1.0  # flat bands: constant integrand
    n = trapezoid_nodes_estimate(2.0, 1e-3, 1e-10)
    assert 5e3 < n < 2e4  # the measured doubling rule stops at 8193..16385 nodes here


def test_infinite_sweep_at_low_T_and_cli_method(tmp_path):
    from orbsym.workflows.sweeps import sweep

    ds = sweep("bilayer", {"T": [0.0, 1e-7]}, "free_energy", params={"N_x": 4, "N_y": math.inf, "m_FM": "x", "gamma": 0.3}, executor="serial")
    F = ds.free_energy.values
    assert abs(F[0] - F[1]) < 3e-10 and (ds.free_energy_error.values <= 1e-10).all()
    with pytest.raises(ValueError, match="unknown N_y = inf method 'simpson'.*auto, trapezoid, adaptive"):
        sweep("bilayer", {"T": [0.0]}, params={"N_y": math.inf}, ny_inf_method="simpson")
    ada = sweep("bilayer", {"T": [1e-7]}, "free_energy", params={"N_x": 4, "N_y": math.inf, "m_FM": "x", "gamma": 0.3}, executor="serial", ny_inf_method="adaptive")
    assert ada.attrs["k_integral_method"] == "adaptive" and ada.free_energy.item() == F[1]  # auto chose adaptive


def test_fermi_velocities_match_finite_differences(lattice):
    from orbsym.numeric.infinite import fermi_velocities

    H0, C, S = _pieces(lattice)
    kf = fermi_points(lattice, 0.0, math.pi)
    v = fermi_velocities(lattice, kf, C, S)
    h = 1e-6
    for k, vk in zip(kf, v):
        Ep, Em = (np.linalg.eigvalsh(bloch_hamiltonians(lattice, np.array([k + s * h])))[0] for s in (1, -1))
        E0 = np.linalg.eigvalsh(bloch_hamiltonians(lattice, np.array([k])))[0]
        s = int(np.argmin(np.abs(E0)))
        assert abs(abs(Ep[s] - Em[s]) / (2 * h) - vk) < 1e-6 * max(1.0, vk)


def test_auto_falls_back_to_adaptive_when_trapezoid_does_not_converge(lattice, zero, monkeypatch):
    import orbsym.numeric.infinite as inf

    monkeypatch.setattr(inf, "_AUTO_TRAPEZOID_NODES", math.inf)  # auto picks the trapezoid rule ...
    monkeypatch.setattr(inf, "_M_MAX", 256)  # ... which then gives up early
    r = inf.solve_infinite(lattice, 1e-7, pairs=[(0, 0), (1, 0)], tol=1e-11)
    assert r.method == "adaptive" and r.evaluations > 256
    assert abs(r.free_energy - zero.free_energy) < 3e-11
    with pytest.raises(ValueError, match="with 256 trapezoid nodes"):
        inf.solve_infinite(lattice, 1e-7, tol=1e-11, method="trapezoid")
