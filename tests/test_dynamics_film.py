"""Real-time evolution of films (issue 19): ``evolve`` on a film runs its k_z sectors.

Slow paths: the eigen-decomposition path of the same film (against the precession fast path), and
2D systems built by hand, one per k_z sector, with the z-bonds folded into the on-site matrix
(``eps + 2 cos(k_z) t_z`` for a diagonal Hermitian ``t_z``) -- built from 2D models written here,
without :meth:`orbsym.numeric.Lattice.sector`.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import orbsym.dynamics as dyn
import orbsym.dynamics.propagation as prop
from orbsym.dynamics import ContinuityError, ElectricField, Precession, Quench, Relaxation, evolve
from orbsym.numeric.budget import ResourceError
from orbsym.symbolic.generators import t2g_L
from orbsym.symbolic.models import SYMBOLS, Model, ferromagnet, multiorbital_metal
from orbsym.systems import heterostructure, layer, solve, trilayer

PAR = dict(t=1.0, mu=-0.4, gamma=0.5, tp=0.8)
M_L, M_R = (0.6, 0.0, 0.8), (0.0, 0.9, 0.3)
TIMES = np.linspace(0.0, 2.0, 11)
COMPARED = ("density", "current_x", "current_y", "current_eq7", "torque_exchange", "torque_bond_x", "torque_bond_y", "torque_total", "rate_exact")


def _film(N_z=3, N_y=4):
    """FM/NM/FM cubic t2g film, N_x = 4 (one FM column each side)."""
    fm, nm = ferromagnet(dimension=3), multiorbital_metal(dimension=3)
    layers = [layer(fm, 1, m=M_L, magnetic=True, label="FM_L"), layer(nm, 2, magnetic=False), layer(fm, 1, m=M_R, magnetic=True, label="FM_R")]
    return heterostructure(layers, N_y=N_y, basis="orbital", N_z=N_z, **PAR)


def _sector_system(cz, N_y=4):
    """The 2D system of the film's k_z sector, written by hand: the 3D models' x and y hoppings, and
    on-site ``eps + cz t_z`` with ``cz = 2 cos(k_z)`` (``t_z = -t 1`` for the FM, ``diag(-t, -t, -gamma)``
    for the metal): the z-bond ``c^dag_z t_z c_{z+1} + h.c.`` at fixed k_z."""
    L = t2g_L()
    t, mu, g, tp = SYMBOLS["t"], SYMBOLS["mu"], SYMBOLS["gamma"], SYMBOLS["tp"]
    c = sp.Symbol("cz", real=True)
    m = tuple(SYMBOLS[f"m_{a}"] for a in "xyz")
    one = sp.eye(3)
    fm = Model("fm-sector", L, {"x": -t * one, "y": -t * one}, -mu * one - L.dot(m) + c * (-t) * one, "FM sector", m)
    nm = Model("nm-sector", L, {"x": sp.diag(-g, -t, -tp), "y": sp.diag(-t, -g, -tp)}, -mu * one + c * sp.diag(-t, -t, -g), "NM sector")
    layers = [
        layer(fm, 1, m=M_L, magnetic=True, label="FM_L", cz=cz),
        layer(nm, 2, magnetic=False, cz=cz),
        layer(fm, 1, m=M_R, magnetic=True, label="FM_R", cz=cz),
    ]
    return heterostructure(layers, N_y=N_y, basis="orbital", **PAR)


def _diagonal_metal():
    """Cubic t2g metal with diagonal bonds (1, 0, +-1) that mix d_yz and d_xy with opposite signs
    (as the Slater-Koster second shell does): not k_z <-> -k_z symmetric, hopping torques on them."""
    t, g, mu = SYMBOLS["t"], SYMBOLS["gamma"], SYMBOLS["mu"]
    a = sp.Rational(1, 5)
    up = sp.Matrix([[a, 0, a / 2], [0, 0, 0], [a / 2, 0, a]])
    down = sp.Matrix([[a, 0, -a / 2], [0, 0, 0], [-a / 2, 0, a]])
    hops = {"x": sp.diag(-g, -t, -t), "y": sp.diag(-t, -g, -t), "z": sp.diag(-t, -t, -g), (1, 0, 1): up, (1, 0, -1): down}
    return Model("t2g-diagonal-3d", t2g_L(), hops, -mu * sp.eye(3), "cubic t2g metal with (1, 0, +-1) bonds")


def _max_dev(a, b, names):
    return {v: float(np.nanmax(np.abs(a[v].values - b[v].values))) for v in names}


def test_film_precession_fast_path_equals_eigh_path(monkeypatch):
    """The issue's test: a precessing FM in a film, fast path against the eigen-decomposition path."""
    film = _film()
    drives = lambda: [Precession(0.7, 0.4, columns="FM_L", switch_on=0.5)]  # noqa: E731
    fast = evolve(film, drives(), TIMES, T=0.05, dt=0.1)
    assert "fast path" in fast.attrs["engine"] and fast.attrs["N_z"] == 3 and fast.attrs["N_k_z"] == 2
    monkeypatch.setattr(dyn, "LOCAL_UPDATE", False)
    slow = evolve(film, drives(), TIMES, T=0.05, dt=0.1)
    assert "eigen-decomposition per step" in slow.attrs["engine"]
    dev = _max_dev(fast, slow, COMPARED + ("current_z", "torque_bond_z", "energy", "particle_number"))
    assert max(dev.values()) < 1e-10, dev
    # the drive does something in every channel compared (not a comparison of zeros)
    for name in ("density", "torque_exchange", "torque_bond_z", "current_x"):  # current_z: 0 by k_z <-> -k_z symmetry
        moved = np.abs(slow[name].sel(polarization=["x", "y", "z"]) - slow[name].isel(time=0).sel(polarization=["x", "y", "z"]))
        assert float(moved.max()) > 1e-4, name


def test_film_equals_average_of_hand_folded_sectors():
    """A film run is the average over its k_z sectors run as 2D systems (on-site eps + 2 cos(k_z) t_z)."""
    N_z = 3
    film = evolve(_film(N_z), [Precession(0.7, 0.4, columns="FM_L")], TIMES, T=0.05, dt=0.2)
    runs = [evolve(_sector_system(2 * np.cos(2 * np.pi * j / N_z)), [Precession(0.7, 0.4, columns="FM_L")], TIMES, T=0.05, dt=0.2) for j in range(N_z)]
    film_values = {name: film[name].values for name in COMPARED + ("energy", "particle_number")}
    # the z-bond torque of the film is, in the folded 2D sector, part of its on-site torque (t_z of the
    # metal does not commute with L)
    film_values["torque_exchange"] = film["torque_exchange"].values + film["torque_bond_z"].values
    for name, value in film_values.items():
        avg = sum(r[name].values for r in runs) / N_z
        assert np.allclose(value, avg, rtol=0, atol=1e-11, equal_nan=True), (name, float(np.nanmax(np.abs(value - avg))))
    assert float(np.abs(film["torque_bond_z"]).max()) > 1e-3
    # the sectors differ (k_z matters), so the average is a real test of the weights
    assert float(np.abs(runs[0]["energy"] - runs[1]["energy"]).max()) > 0.1


def test_film_continuity_balance_and_broken_recombination(monkeypatch):
    """Balance of a film with diagonal bonds, a field pulse along y and relaxation (full k_y and k_z grids);
    dropping the z-bands of the sector recombination breaks the exact rate identity."""
    fm = ferromagnet(dimension=3)
    layers = [layer(fm, 1, m=M_L, magnetic=True), layer(_diagonal_metal(), 2, magnetic=False), layer(fm, 1, m=M_R, magnetic=True)]
    system = heterostructure(layers, N_y=4, basis="orbital", N_z=3, t=1.0, mu=-0.4, gamma=0.5)
    assert not system.lattice.z_symmetric
    times = np.linspace(0.0, 1.5, 11)
    drives = [ElectricField(0.2, pulse=(0.7, 0.3)), Relaxation(5.0)]
    ds = evolve(system, drives, times, T=0.05, dt=0.075)
    assert ds.attrs["continuity_check"] == "passed"
    assert ds.attrs["k_z_grid"] == "full" and ds.attrs["k_grid"] == "full"
    assert ds.attrs["max_residual_exact"] < 1e-12
    assert float(np.nanmax(np.abs(ds["residual_fd"].values))) < 1e-3
    assert float(np.abs(ds["torque_bond_diagonal"]).max()) > 1e-4 and float(np.abs(ds["current_z"]).max()) > 1e-6
    assert "per transverse cell" in ds.attrs["units"]

    real = prop._fold_sector

    def no_z_bands(sums, k_z, w_z, N_z, z_symmetric, split):
        out = real(sums, k_z, w_z, N_z, z_symmetric, split)
        out["bands"] = {p: (g if p[2] == 0 else 0 * g) for p, g in out["bands"].items()}
        return out

    monkeypatch.setattr(prop, "_fold_sector", no_z_bands)
    with pytest.raises(ContinuityError, match="exact rate identity violated"):
        evolve(system, drives, times, T=0.05, dt=0.075)


def test_film_quench_conserves_particles_and_energy_after_it():
    """Without relaxation a quench keeps the particle number per transverse cell (that of the thermal
    state of solve()); the energy jumps at the quench and is constant before and after it."""
    system = trilayer("orbital", N_x=4, N_y=4, N_FM=1, N_z=4, gamma=0.5, m_L="x", m_R="z")
    times = np.linspace(0.0, 2.0, 9)
    ds = evolve(system, Quench(gamma=0.2, mu=-0.5, time=1.0), times, T=0.05)
    N = ds["particle_number"].values
    assert np.allclose(N, solve(system, T=0.05).particle_number(), rtol=0, atol=1e-12)
    E = ds["energy"].values
    before, after = E[times < 1.0], E[times >= 1.0]
    assert np.ptp(before) < 1e-12 and np.ptp(after) < 1e-12 and abs(after[0] - before[0]) > 1e-3
    assert ds.attrs["continuity_check"] == "passed"


def test_film_size_is_refused_with_the_sector_estimate():
    """A film costs n_sectors x one sector's 2D estimate and is refused before any work."""
    est2 = dyn.check_size(4, 8, 3, [Precession(0.5, 0.3)], 11, 20)
    est3 = dyn.check_size(4, 8, 3, [Precession(0.5, 0.3)], 11, 20, N_z=8, z_symmetric=True)
    assert est3.seconds == pytest.approx(5 * est2.seconds)
    assert est3.bytes > est2.bytes
    huge = trilayer("orbital", N_x=4, N_y=4, N_FM=1, N_z=10**7)
    with pytest.raises(ResourceError, match="k_z sectors"):
        evolve(huge, Precession(0.5, 0.3), np.linspace(0, 1, 5), T=0.05)


def test_field_along_z_equals_field_along_y_by_symmetry():
    """Spin film with isotropic hoppings (t_y = t_z), N_y = N_z and m along x: the 90 degree rotation about x
    maps E_y onto E_z, so E_z gives the same densities, x currents and energy, and its z current is the
    E_y run's y current; the field does the work dE/dt = -E_z sum_x j_z (kinetic z current)."""
    system = trilayer("spin", N_x=4, N_y=4, N_FM=1, N_z=4, m_L="x", m_R="x", mu=-0.5)
    times = np.linspace(0.0, 1.5, 13)
    pulse = (0.6, 0.25)
    ey = evolve(system, ElectricField(0.3, pulse=pulse), times, T=0.05, dt=0.0625)
    ez = evolve(system, ElectricField(0.3, pulse=pulse, direction="z"), times, T=0.05, dt=0.0625)
    assert ez.attrs["k_z_grid"] == "full" and ez.attrs["continuity_check"] == "passed"
    for name in ("density", "current_x", "torque_total", "energy"):
        a, b = ey[name].sel(polarization=["charge", "x"]) if "polarization" in ey[name].dims else ey[name], ez[name].sel(polarization=["charge", "x"]) if "polarization" in ez[name].dims else ez[name]
        assert np.allclose(a.values, b.values, rtol=0, atol=1e-12, equal_nan=True), name
    jy, jz = ey["current_y"].sel(polarization="charge").values, ez["current_z"].sel(polarization="charge").values
    assert np.allclose(jy, jz, rtol=0, atol=1e-12) and np.abs(jz).max() > 1e-3
    assert np.allclose(ez["A_z"].values, ey["A_y"].values) and np.all(ez["A_y"].values == 0)
    # work done by the field: trapezoid of -E_z sum_x j_z against the change of energy (O(Delta^2))
    power = -ez["E_z"].values * jz.sum(axis=1)
    work = np.concatenate([[0.0], np.cumsum(0.5 * (power[1:] + power[:-1]) * np.diff(times))])
    dE = ez["energy"].values - ez["energy"].values[0]
    assert np.abs(dE).max() > 1e-3 and np.abs(work - dE).max() < 2e-2 * np.abs(dE).max()


def test_field_direction_refusals():
    with pytest.raises(ValueError, match="direction"):
        ElectricField(0.1, direction="x")
    with pytest.raises(ValueError, match="needs a film"):
        evolve(trilayer("spin", N_x=4, N_y=4, N_FM=1), ElectricField(0.1, direction="z"), TIMES, T=0.05)


@pytest.mark.parametrize("N_z", [1, 3])
def test_film_workers_add_up(N_z):
    """Two workers give the serial film run, with a field pulse (full k_y grid) on top of a precession:
    N_z = 1 (one sector: the workers share k_y) and N_z = 3 (two sectors: they share the sectors)."""
    system = _film(N_z=N_z, N_y=8)
    drives = lambda: [Precession(0.5, 0.3, columns="FM_L"), ElectricField(0.1, pulse=(0.5, 0.2))]  # noqa: E731
    times = np.linspace(0.0, 1.0, 9)
    serial = evolve(system, drives(), times, T=0.05)
    parallel = evolve(system, drives(), times, T=0.05, workers=2)
    assert parallel.attrs["workers"] == 2 and serial.attrs["k_grid"] == "full"
    dev = _max_dev(serial, parallel, COMPARED + ("torque_bond_z", "energy", "particle_number"))
    assert max(dev.values()) < 1e-12, dev
