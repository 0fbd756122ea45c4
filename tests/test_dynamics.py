"""orbsym.dynamics: drives, evolve(), the continuity balance in time, orbital/spin pumping, I/O.

Sizes are tiny (N_x <= 6, N_y <= 8); every physics check is a statement that fails if the
mechanism it names is broken (see the docstrings).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orbsym import dynamics as dyn
from orbsym.dynamics import ContinuityError, ElectricField, Precession, Quench, Relaxation, evolve
from orbsym.numeric import evolution as ev
from orbsym.systems import bilayer, trilayer


def _passed(ds):
    assert ds.attrs["continuity_check"] == "passed", ds.attrs["continuity_check"]
    assert float(np.nanmax(np.abs(ds["residual_exact"].values))) < 1e-12
    assert float(np.nanmax(np.abs(ds["residual_eom"].values))) < 1e-12
    assert ds.attrs["max_residual_fd_over_tolerance"] < 1.0
    # the FD check really compared something: finite derivatives at (almost) all times
    assert np.isfinite(ds["dJdt_fd"].values).mean() > 0.8


@pytest.fixture(scope="module")
def spin_bilayer():
    return bilayer(basis="spin", N_x=5, N_y=6, N_FM=2, m_FM="z")


@pytest.fixture(scope="module")
def orbital_trilayer():
    return trilayer(N_x=5, N_y=6, N_FM=1, gamma=0.4, m_L="x", m_R="y")


def test_precession_balance_spin(spin_bilayer):
    ds = evolve(spin_bilayer, Precession(0.4, 0.5, switch_on=2.0), np.linspace(0, 6, 61), T=0.05)
    _passed(ds)
    # the drive acts: exchange torque and a spin current on the interface bond develop
    assert np.abs(ds["torque_exchange"].sel(polarization="z").values).max() > 1e-3
    m = ds["m"].sel(column=4).values
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-14)
    assert ds.attrs["k_grid"].startswith("0..pi")


def test_quench_balance_orbital_energy_conserved(orbital_trilayer):
    times = np.linspace(0, 4, 41)
    ds = evolve(orbital_trilayer, Quench(time=1.0, gamma=1.3, mu=-0.6), times, T=0.05, method="magnus4")
    _passed(ds)
    # before the quench: the thermal state (dJ/dt = 0); after: time independent h conserves E and N
    before = ds.sel(time=slice(0, 0.95))
    assert np.abs(before["rate_exact"].values).max() < 1e-12
    after = ds.sel(time=slice(1.0, None))
    assert np.ptp(after["energy"].values) < 1e-12
    assert np.ptp(ds["particle_number"].values) < 1e-12
    assert np.abs(after["rate_exact"].values).max() > 1e-3
    # stencils across the quench are skipped, not silently compared
    assert np.isnan(ds["dJdt_fd"].sel(time=1.0).values).all()


def test_quench_at_zero_matches_new_thermal_state(orbital_trilayer):
    """A quench to the same parameters changes nothing: the state stays thermal (dJ/dt = 0)."""
    ds = evolve(orbital_trilayer, Quench(gamma=0.4), np.linspace(0, 1, 6), T=0.05)
    assert np.abs(ds["rate_exact"].values).max() < 1e-12
    assert np.ptp(ds["density"].values, axis=0).max() < 1e-12


@pytest.mark.parametrize("pulse", [None, (1.5, 0.4)])
def test_electric_field_balance_and_joule_heating(orbital_trilayer, pulse):
    """Field along y: full k grid, kinetic currents; dE/dt = -E_y sum_x j_y (charge), the work of the field."""
    times = np.linspace(0, 3, 61)
    ds = evolve(orbital_trilayer, ElectricField(0.05, pulse=pulse), times, T=0.05, method="magnus4", dt=0.025)
    _passed(ds)
    assert ds.attrs["k_grid"] == "full"
    jy = ds["current_y"].sel(polarization="charge").sum("column").values
    dE, _ = dyn.finite_difference(ds["energy"].values, times[1] - times[0])
    np.testing.assert_allclose(dE[2:-2], (-ds["E_y"].values * jy)[2:-2], atol=2e-6)
    assert np.abs(jy).max() > 1e-3  # a charge current flows
    assert np.ptp(ds["particle_number"].values) < 1e-12


def test_relaxation_balance_and_approach_to_equilibrium(spin_bilayer):
    tau = 1.0
    ds = evolve(spin_bilayer, [Quench(m_FM="x"), Relaxation(tau)], np.linspace(0, 12, 121), T=0.05)
    _passed(ds)
    rel = ds["relaxation"].values
    assert np.abs(rel[:5]).max() > 1e-3
    # relaxes to the new equilibrium: densities -> f(h) values, rates -> 0, ~ exp(-t/tau)
    dev = np.abs(ds["density"] - ds["density_eq"]).max(["polarization", "column"]).values
    assert dev[-1] < 1e-4 * dev[0]  # exp(-12) ~ 6e-6: delta(t) = exp(-t/tau) U delta(0) U^dag for constant h
    assert ds.attrs["tau_r"] == tau


def test_gamma_equals_t_has_no_hopping_torques():
    """Orbital model with gamma = t = t' and isotropic FMs: hopping torques vanish at every time,
    so OAM changes only through the exchange torque in the FM (conserved current in the metal)."""
    s = trilayer(N_x=5, N_y=6, N_FM=1, gamma=1.0, m_L="x", m_R="z")
    ds = evolve(s, [Precession(0.5, 0.4, columns="FM_L"), Quench(m_R="y")], np.linspace(0, 3, 31), T=0.05)
    _passed(ds)
    for name in ("torque_bond_x", "torque_bond_y"):
        assert np.abs(ds[name].sel(polarization=["x", "y", "z"]).values).max() < 1e-13
    metal = ds.sel(column=[1, 2, 3], polarization=["x", "y", "z"])
    np.testing.assert_allclose(metal["rate_exact"], -metal["divergence"], atol=1e-13)
    assert np.abs(metal["rate_exact"].values).max() > 1e-4
    # the anisotropic metal (gamma != t) has hopping torques under the same drive
    s2 = trilayer(N_x=5, N_y=6, N_FM=1, gamma=0.5, m_L="x", m_R="z")
    ds2 = evolve(s2, Precession(0.5, 0.4, columns="FM_L"), np.linspace(0, 1, 6), T=0.05, check="warn")
    assert np.abs(ds2["torque_bond_x"].sel(polarization=["x", "y", "z"]).values).max() > 1e-3


def _pumped(system, omega, theta, tau=1.0, bond=2, per_period=24):
    """j on ``bond`` averaged over the last of an integer number of periods, after ~6 tau of transient
    (grid commensurate with the period; substeps dt = 0.2)."""
    P = 2 * np.pi / abs(omega)
    per_period = max(per_period, int(math.ceil(P / 1.0)))  # stored spacing <= 1/t: the FD check resolves the transient
    Delta = P / per_period
    n_transient = int(math.ceil(6 * tau / Delta))
    times = Delta * np.arange(n_transient + per_period + 1)
    ds = evolve(system, Precession(omega, theta, switch_on=3.0), times, T=0.05, dt=0.2, relaxation=tau, error_estimate=False)
    _passed(ds)
    return dyn.pumped_current(ds, bond=bond, window=(times[-per_period - 1], times[-1]))


@pytest.mark.parametrize("basis", ["spin", "orbital"])
def test_pumping_polarized_along_axis_and_scales_as_omega_sin2(basis):
    """Precessing FM (axis z, FM on the right) pumps angular momentum into the metal.  Measured with
    relaxation (tau_r = 1, everywhere) in the periodic steady state, on the FM-metal
    interface bond, averaged over one period:

    * polarized along the precession axis (|j_x|, |j_y| < 2 % of |j_z|: residual transient);
    * the part odd in omega (sense of precession), j_odd = (j(omega) - j(-omega))/2, flows into the
      metal (j_odd < 0 for omega > 0) and is proportional to sin^2(theta) (0.5 %) and to omega
      (omega = 0.1 vs 0.2, 3 %; spin model);
    * the even part is O(omega^2) (ratio 4 within 3 %; spin model).
    """
    kw = {"gamma": 1.0} if basis == "orbital" else {}
    s = bilayer(basis=basis, N_x=5, N_y=4, N_FM=2, m_FM="z", **kw)
    omegas = (0.1, 0.2) if basis == "spin" else (0.2,)
    odd, even = {}, {}
    for omega in omegas:
        jp, jm = _pumped(s, omega, 0.15), _pumped(s, -omega, 0.15)
        for j in (jp, jm):
            assert abs(j["x"]) < 0.02 * abs(j["z"]) and abs(j["y"]) < 0.02 * abs(j["z"]), j
        odd[omega] = (jp["z"] - jm["z"]) / 2
        even[omega] = (jp["z"] + jm["z"]) / 2
        assert odd[omega] < 0
    wide = _pumped(s, 0.2, 0.3)
    wide_m = _pumped(s, -0.2, 0.3) if basis == "orbital" else None
    if wide_m is not None:
        ratio = ((wide["z"] - wide_m["z"]) / 2) / odd[0.2]
    else:
        ratio = (wide["z"] - even[0.2] * (math.sin(0.3) / math.sin(0.15)) ** 2) / odd[0.2]
    assert abs(ratio / (math.sin(0.3) / math.sin(0.15)) ** 2 - 1) < 0.005, ratio
    if basis == "spin":
        assert abs(odd[0.2] / odd[0.1] / 2 - 1) < 0.03, odd
        assert abs(even[0.2] / even[0.1] / 4 - 1) < 0.03, even


def test_pumping_in_a_trilayer_from_the_left_fm():
    """FM_L precesses about z, FM_R static along z (spin trilayer): the pumped current on the FM_L-metal
    bond is z-polarized (2 %) and its part odd in omega flows into the metal (+x)."""
    s = trilayer(basis="spin", N_x=6, N_y=4, N_FM=1, m_L="z", m_R="z")
    jp = _pumped_trilayer(s, 0.2)
    jm = _pumped_trilayer(s, -0.2)
    for j in (jp, jm):
        assert abs(j["x"]) < 0.02 * abs(j["z"]) and abs(j["y"]) < 0.02 * abs(j["z"]), j
    assert (jp["z"] - jm["z"]) / 2 > 0


def _pumped_trilayer(system, omega, tau=1.0, per_period=32):
    P = 2 * np.pi / abs(omega)
    Delta = P / per_period
    times = Delta * np.arange(int(math.ceil(6 * tau / Delta)) + per_period + 1)
    ds = evolve(system, Precession(omega, 0.3, columns="FM_L", switch_on=3.0), times, T=0.05, dt=0.2, relaxation=tau, error_estimate=False)
    _passed(ds)
    return dyn.pumped_current(ds, bond=0, window=(times[-per_period - 1], times[-1]))


def test_broken_propagator_is_caught(spin_bilayer, monkeypatch):
    """A trajectory that does not solve Eq. (1) (time step sign flipped) fails the FD balance loudly."""
    real = ev.step

    def backwards(rho, hfun, t, dt, method="exact", T=None, tau_r=None):
        return real(rho, lambda s: -hfun(s), t, dt, method, T, tau_r)

    monkeypatch.setattr(ev, "step", backwards)
    monkeypatch.setattr(dyn, "LOCAL_UPDATE", False)  # the eigen-decomposition path (the local one: test_local_update_broken_is_caught)
    with pytest.raises(ContinuityError, match="finite-difference balance violated"):
        evolve(spin_bilayer, Precession(0.4, 0.5), np.linspace(0, 2, 21), T=0.05)
    with pytest.warns(RuntimeWarning, match="continuity balance failed"):
        ds = evolve(spin_bilayer, Precession(0.4, 0.5), np.linspace(0, 2, 21), T=0.05, check="warn")
    assert ds.attrs["continuity_check"].startswith("FAILED")


def test_broken_kernel_is_caught(spin_bilayer, monkeypatch):
    """Dropping the exchange torque from the decomposition breaks the exact rate identity."""
    from orbsym.numeric.observables import Observables

    real = Observables.torques

    def no_exchange(self, polarization, kind="bond"):
        out = dict(real(self, polarization, kind))
        out["total"] = out["total"] - out["exchange"]
        return out

    monkeypatch.setattr(Observables, "torques", no_exchange)
    with pytest.raises(ContinuityError, match="exact rate identity violated"):
        evolve(spin_bilayer, Precession(0.4, 0.5), np.linspace(0, 1, 11), T=0.05)


def test_spin_unit_S_halves_polarized_quantities():
    a = bilayer(basis="spin", N_x=4, N_y=4, N_FM=1, m_FM="z")
    b = bilayer(basis="spin", N_x=4, N_y=4, N_FM=1, m_FM="z", spin_unit="S")
    times = np.linspace(0, 1, 6)
    da = evolve(a, Precession(0.5, 0.3), times, T=0.1)
    db = evolve(b, Precession(0.5, 0.3), times, T=0.1)
    np.testing.assert_allclose(db["current_x"].sel(polarization="z"), 0.5 * da["current_x"].sel(polarization="z"), atol=1e-15)
    np.testing.assert_allclose(db["density"].sel(polarization="charge"), da["density"].sel(polarization="charge"), atol=1e-15)


def test_netcdf_and_csv_round_trip(spin_bilayer, tmp_path):
    ds = evolve(spin_bilayer, [Precession(0.4, 0.5), ElectricField(0.02, pulse=(0.5, 0.2))], np.linspace(0, 1, 11), T=0.05)
    path = tmp_path / "run.nc"
    dyn.save(ds, path)
    back = dyn.load(path)
    for name in ("density", "current_x", "torque_exchange", "residual_exact", "energy", "m"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back.attrs["propagator"] == "exact" and back.attrs["propagator_order"] == 2
    drives = __import__("json").loads(back.attrs["drives"])
    assert [d["drive"] for d in drives] == ["Precession", "ElectricField"]
    dyn.write_csv(ds, tmp_path / "run.csv")
    lines = (tmp_path / "run.csv").read_text().splitlines()
    assert lines[0].startswith("# system:")
    header = next(i for i, l in enumerate(lines) if l.startswith("time,"))
    assert len(lines) - header - 1 == 11 * 4 * (5 + 4 + 5 + 5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(times=[0.0]), "at least 2 stored times"),
        (dict(times=[0.5, 1.0]), "must start at 0"),
        (dict(times=[0.0, 1.0, 0.5]), "strictly increasing"),
        (dict(times=[0.0, math.nan]), "finite"),
        (dict(times=[0, 1], method="rk4"), "unknown propagator method 'rk4'"),
        (dict(times=[0, 1], relaxation=-1.0), "tau_r must be > 0"),
        (dict(times=[0, 1], relaxation=1.0, method="magnus4"), "needs method 'exact'"),
        (dict(times=[0, 1], dt=0.0), "time step dt must be > 0"),
        (dict(times=[0, 1], T=-1), "temperature"),
        (dict(times=[0, 1], drives=[Quench(time=0.3, mu=0.1)]), "not one of the stored times"),
        (dict(times=[0, 1], drives=[Precession(0.1, 0.2, columns="NM")]), "unknown FM layer label 'NM'"),
        (dict(times=[0, 1], drives=[Precession(0.1, 0.2, columns=[0])]), "not FM columns"),
        (dict(times=None), "needs the stored times"),
        (dict(times=[0, 1], check="maybe"), "unknown check mode"),
        (dict(times=[0, 1], error_estimate="yes"), "error_estimate must be True, False or 'auto'"),
    ],
)
def test_bad_inputs(spin_bilayer, kwargs, match):
    drives = kwargs.pop("drives", [])
    with pytest.raises(ValueError, match=match):
        evolve(spin_bilayer, drives, **kwargs)


def test_bad_drive_objects(spin_bilayer):
    with pytest.raises(TypeError, match="drives must be Quench, Precession"):
        evolve(spin_bilayer, ["precess"], [0, 1])
    with pytest.raises(ValueError, match="Quench needs at least one parameter"):
        Quench()
    with pytest.raises(ValueError, match="pulse width sigma must be > 0"):
        ElectricField(0.1, pulse=(1.0, 0.0))
    with pytest.raises(ValueError, match="axis must be a nonzero 3-vector"):
        Precession(0.1, 0.2, axis=(0, 0, 0))
    with pytest.raises(ValueError, match="at most one Relaxation"):
        evolve(spin_bilayer, [Relaxation(1.0)], [0, 1], relaxation=2.0)


def test_memory_refusal():
    s = bilayer(basis="orbital", N_x=60, N_y=20000, N_FM=5)
    with pytest.raises(ValueError, match="reduce N_y or N_x|smaller system \\(N_x, N_y\\)"):
        evolve(s, [], [0, 1])


def test_workers_share_momenta_exactly(orbital_trilayer):
    """Two forked processes propagating halves of the k grid give the serial result (k-sums add)."""
    drives = [Precession(0.3, 0.4, columns="FM_L"), ElectricField(0.02, pulse=(1.0, 0.5)), Relaxation(2.0)]
    times = np.linspace(0, 2, 11)
    a = evolve(orbital_trilayer, drives, times, T=0.05)
    b = evolve(orbital_trilayer, drives, times, T=0.05, workers=2)
    for name in ("density", "current_x", "torque_total", "rate_exact", "energy", "defect_estimate", "rate_kink"):
        np.testing.assert_allclose(b[name].values, a[name].values, atol=1e-13, err_msg=name)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        evolve(orbital_trilayer, drives, times, workers=0)
    # the fast path (precession + quench, orbitals per k) shares interleaved momenta the same way
    system = trilayer(N_x=4, N_y=60, N_FM=1, gamma=0.4, m_L="x", m_R="y")
    drives = [Precession(0.3, 0.4, columns="FM_L"), Quench(gamma=0.6, time=1.0)]
    a = evolve(system, drives, times, T=0.05)
    b = evolve(system, drives, times, T=0.05, workers=2)
    assert "fast path" in b.attrs["engine"]
    for name in ("density", "current_x", "torque_total", "rate_exact", "energy", "rate_kink"):
        np.testing.assert_allclose(b[name].values, a[name].values, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("method,dt,order,bound", [("magnus4", 0.1, 4, 3e-7), ("exact", 0.05, 2, 1e-4)])
def test_precession_matches_exact_rotating_frame_solution(method, dt, order, bound):
    """Spin model with spin-independent hopping: h(t) = W(t) h(0) W(t)^dag with W = exp(-i omega t S_z),
    so rho(t) = W exp(-i K t) rho(0) exp(i K t) W^dag, K = h(0) - omega S_z, exactly (an independent
    path).  evolve() converges to it at the propagator's order (error ratio 2^p when dt halves),
    starting from the equilibrium at the tilted m(0)."""
    s = bilayer(basis="spin", N_x=4, N_y=4, N_FM=1, m_FM="z")
    omega, theta = 0.7, 0.5
    times = np.linspace(0, 3, 7)
    lat = s.lattice
    tilted = dyn._Protocol(s, [Precession(omega, theta)]).initial_lattice()
    k, w = ev.momentum_grid(lat.N_y, True)
    rho0 = ev.thermal_state(tilted, 0.1, k)
    Sz = np.kron(np.eye(lat.N_x), np.diag([0.5, -0.5]))
    E, Q = np.linalg.eigh(ev.hamiltonians(tilted, k) - omega * Sz)
    ops = np.concatenate([np.eye(2)[None], lat.generators])
    exact = []
    for t in times:
        U = np.diag(np.exp(-1j * omega * t * np.diag(Sz)))[None] @ (Q * np.exp(-1j * E * t)[:, None, :]) @ Q.conj().transpose(0, 2, 1)
        exact.append(ev.onsite_expectations(U @ rho0 @ U.conj().transpose(0, 2, 1), ops, w, lat.N_y, lat.N_x))
    errs = []
    for step in (dt, dt / 2):
        ds = evolve(s, Precession(omega, theta), times, T=0.1, dt=step, method=method, error_estimate=False)
        errs.append(np.abs(ds["density"].values - np.array(exact)).max())
    assert np.abs(ds["density"].values[0] - exact[0]).max() < 1e-13  # the initial state is the tilted equilibrium
    assert errs[0] < bound, errs
    assert abs(np.log2(errs[0] / errs[1]) - order) < 0.25, errs
    np.testing.assert_allclose(ds["m"].sel(column=3, component="x").values, math.sin(theta) * np.cos(omega * times), atol=1e-14)


@pytest.mark.parametrize("estimate", [False, True])
def test_local_update_path_equals_eigh_path(orbital_trilayer, spin_bilayer, monkeypatch, estimate):
    """Precession's fast path (local on-site update, numeric.local_update) reproduces the eigen-
    decomposition path: every recorded variable to 1e-11, with substeps and the error estimate."""
    times = np.linspace(0, 3, 16)
    for system in (orbital_trilayer, spin_bilayer, bilayer(basis="orbital", N_x=2, N_y=5, N_FM=1, m_FM="x")):
        kw = dict(T=0.05, dt=0.1, error_estimate=estimate)
        fast = evolve(system, Precession(0.7, 0.4), times, **kw)
        monkeypatch.setattr(dyn, "LOCAL_UPDATE", False)
        slow = evolve(system, Precession(0.7, 0.4), times, **kw)
        monkeypatch.setattr(dyn, "LOCAL_UPDATE", True)
        _passed(fast)
        for name in ("density", "current_x", "current_x_forward", "current_y", "torque_total", "torque_exchange", "rate_exact", "energy", "particle_number", "rate_kink"):
            np.testing.assert_allclose(fast[name].values, slow[name].values, atol=1e-11, rtol=0, err_msg=name)
        # step-doubling differences are O(dt^3) small numbers: compared absolutely at the rounding level / dt
        np.testing.assert_allclose(fast["defect_estimate"].values, slow["defect_estimate"].values, atol=1e-10, rtol=1e-6)


def test_local_update_broken_is_caught(spin_bilayer, monkeypatch):
    """A wrong local step (perturbation with the opposite sign) fails the FD balance loudly."""
    from orbsym.numeric import local_update as lu

    real = lu.LocalPropagator.step
    monkeypatch.setattr(lu.LocalPropagator, "step", lambda self, phi, v, dt, vmax=0.0, out=None, v_eig=None: real(self, phi, -v, dt, vmax, out=out))
    with pytest.raises(ContinuityError, match="finite-difference balance violated"):
        evolve(spin_bilayer, Precession(0.4, 0.5), np.linspace(0, 2, 21), T=0.05)


def test_local_update_falls_back_when_step_too_long(orbital_trilayer, monkeypatch):
    """A step too long for the collocation (R dt beyond MAX_NODES) continues on the eigh path: same result."""
    times = np.array([0.0, 0.5, 60.0])
    ds = evolve(orbital_trilayer, Precession(0.05, 0.2), times, T=0.05, check="warn")
    monkeypatch.setattr(dyn, "LOCAL_UPDATE", False)
    ref = evolve(orbital_trilayer, Precession(0.05, 0.2), times, T=0.05, check="warn")
    np.testing.assert_allclose(ds["density"].values, ref["density"].values, atol=1e-11)
    np.testing.assert_allclose(ds["current_x"].values, ref["current_x"].values, atol=1e-11)


def test_local_update_momentum_groups(monkeypatch):
    """The local path's momentum groups (k sorted by the states they need) add up to the ungrouped
    run and to the eigen-decomposition path."""
    system = trilayer(N_x=4, N_y=40, N_FM=1, gamma=0.4, m_L="x", m_R="y")
    times = np.linspace(0, 2, 11)
    runs = {}
    for name, groups, local in (("grouped", 4, True), ("one", 1, True), ("eigh", 4, False)):
        monkeypatch.setattr(dyn, "K_GROUPS", groups)
        monkeypatch.setattr(dyn, "LOCAL_UPDATE", local)
        runs[name] = evolve(system, Precession(0.7, 0.4), times, T=0.05)
    for name in ("density", "current_x", "torque_total", "rate_exact", "energy", "defect_estimate"):
        for other in ("one", "eigh"):
            np.testing.assert_allclose(runs["grouped"][name].values, runs[other][name].values, atol=1e-11, err_msg=(name, other))


def test_error_estimate_auto_runs_step_doubling_only_where_the_trajectory_is_not_piecewise_exact(orbital_trilayer):
    """'auto': the exact midpoint without relaxation records no defect estimate (its trajectory is exact
    for the frozen midpoint h: rate_kink is its defect) and still passes a balance that fails when the
    propagator is wrong (test_local_update_broken_is_caught); magnus4 and relaxation runs get the
    step-doubling estimate, as does error_estimate=True; the choice is recorded."""
    times = np.linspace(0, 2, 21)
    drive = Precession(0.6, 0.4)
    runs = {
        "exact": evolve(orbital_trilayer, drive, times, T=0.05),
        "exact+estimate": evolve(orbital_trilayer, drive, times, T=0.05, error_estimate=True),
        "magnus4": evolve(orbital_trilayer, drive, times, T=0.05, method="magnus4"),
        "relaxation": evolve(orbital_trilayer, drive, times, T=0.05, relaxation=2.0),
    }
    for name, ds in runs.items():
        _passed(ds)
        estimated = name != "exact"
        assert (np.abs(ds["defect_estimate"].values).max() > 1e-8) == estimated, name
        assert ds.attrs["error_estimate"].startswith("step doubling" if estimated else "off"), name
        assert ("fast path" in ds.attrs["engine"]) == (name in ("exact", "exact+estimate")), name
    for name in ("density", "current_x", "torque_total", "rate_kink"):
        np.testing.assert_array_equal(runs["exact"][name].values, runs["exact+estimate"][name].values)


@pytest.mark.parametrize(
    "drives",
    [
        [Quench(gamma=0.3)],
        [Quench(gamma=0.3, time=1.0), Precession(0.7, 0.4)],
        [Quench(mu=-0.5), Quench(m_R="x", time=2.0), Precession(0.5, 0.3, columns="FM_L")],
    ],
    ids=["quench at 0", "quench at 1 + precession", "two quenches + precession"],
)
def test_local_path_with_quenches_equals_eigh_path(orbital_trilayer, monkeypatch, drives):
    """Quenches on the fast path (one eigen-decomposition per segment, the orbitals re-based at each
    quench) reproduce the per-step eigen-decomposition path on every recorded variable to 1e-11."""
    times = np.linspace(0, 3, 16)
    fast = evolve(orbital_trilayer, drives, times, T=0.05, dt=0.1)
    monkeypatch.setattr(dyn, "LOCAL_UPDATE", False)
    slow = evolve(orbital_trilayer, drives, times, T=0.05, dt=0.1)
    assert "fast path" in fast.attrs["engine"] and "fast path" not in slow.attrs["engine"]
    _passed(fast)
    for name in ("density", "current_x", "current_y", "torque_total", "torque_exchange", "rate_exact", "energy", "particle_number", "rate_kink"):
        np.testing.assert_allclose(fast[name].values, slow[name].values, atol=1e-11, rtol=0, err_msg=name)
    assert np.abs(np.diff(fast["energy"].values)).max() > 1e-6 or len(drives) == 1  # the drive acts


@given(st.floats(1e-320, 10.0), st.floats(-5.0, 5.0), st.floats(-5.0, 5.0))
def test_pulse_field_is_the_derivative_of_its_vector_potential_and_never_nan(sigma, t0, t):
    """E(t) = -dA/dt of the Gaussian pulse for any width (a width below 1e-162 used to give 0/0 = NaN
    at t = t0), bounded by the peak field."""
    from orbsym.dynamics import ElectricField

    f = ElectricField(0.3, pulse=(t0, sigma))
    e = f.field(t)
    assert math.isfinite(e) and 0.0 <= e <= 0.3
    if sigma > 1e-2:
        h = 1e-5 * sigma
        np.testing.assert_allclose(-(f.A(t + h) - f.A(t - h)) / (2 * h), e, rtol=1e-6, atol=1e-9)
    assert f.field(t0) == 0.3
