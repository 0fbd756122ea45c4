"""Kubo linear response (orbsym.response) = small-field, long-time limit of the real-time evolution
(orbsym.dynamics) with the same relaxation (tau_r = 1/eta); the same for orbital pumping by a slowly
precessing FM (the other side of Response.reciprocity()); a field pulse's OAM current is O(E^2).

Both codes propagate ``d rho/dt = -i[h(t), rho] - (rho - f(h(t)))/tau_r``.  Sign convention checked
here: ``evolve``'s ``ElectricField(E)`` enters as ``h_0(k + A)``, ``A = -E t``, so the kinetic momentum
drifts as ``d kappa/dt = -E``; the Kubo code's ``h(k - q A)`` drifts as ``q E_y``.  So the force of
the Kubo response is ``q E_y = -E`` and ``chi = (<O>(t) - <O>_eq(t)) / (-E)`` for ``t >> tau_r``,
where ``<O>_eq(t)`` is the instantaneous equilibrium ``f(h(t))`` at the same (shifted) kinetic momenta.

The stationary response is reached up to ``exp(-eta t)``; the propagator (exponential midpoint) has
an ``O(dt^2)`` error, removed by Richardson extrapolation over ``dt, dt/2``; the rest is the
nonlinearity, ``O(E)`` relative.
"""

import functools
import warnings

import numpy as np
import pytest

from orbsym.dynamics import ElectricField, Precession, Relaxation, evolve
from orbsym.numeric import Observables
from orbsym.numeric import evolution as ev
from orbsym.numeric.kubo import solve_kubo
from orbsym.numeric.observables import KERNEL_NAMES, POLARIZATIONS, polarization_label
from orbsym.response import response
from orbsym.systems import bilayer, heterostructure, layer, trilayer

T, ETA = 0.2, 0.5
T_FINAL, N_TIMES = 42.0, 15  # exp(-eta T_FINAL) = 8e-10
#: time steps of the dt^2 Richardson pair, per model: the paper model's checks hold with margin at
#: (0.1, 0.05); the nnn model's 1e-6 needs the finer pair (its dt^4 residual is 8e-7 at (0.1, 0.05))
DTS = {"paper": (0.1, 0.05), "nnn": (0.05, 0.025)}
NNN = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)


@functools.lru_cache(maxsize=None)
def nnn_bilayer():
    """NM with next-nearest-neighbour s_3 mixing (finite OAM accumulation, x-current, torques) / FM."""
    from orbsym.symbolic.symmetry import symmetric_hoppings

    model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    return heterostructure([layer(model, 3, **NNN), layer("fm", 1, m="x")], N_y=30, mu=-0.2)


@functools.lru_cache(maxsize=None)
def paper_bilayer():
    return bilayer(N_x=4, N_y=30, gamma=0.5, m_FM="x")


def quantities(obs):
    """Every compared kernel from an Observables: name -> array (polarization, column or bond)."""
    out = {"current_y": [], "density": [], "current_x": [], "torque_exchange": [], "torque_total": []}
    for p in POLARIZATIONS:
        out["current_y"].append(obs.bond_current(p, "y"))
        out["density"].append(obs.density(p))
        out["current_x"].append(obs.bond_current(p, "x"))
        tq = obs.torques(p, "bond") if p is not None else None
        n = obs.lattice.N_x
        out["torque_exchange"].append(tq["exchange"] if tq else np.zeros(n))
        out["torque_total"].append(tq["total"] if tq else np.zeros(n))
    return {k: np.array(v) for k, v in out.items()}


def equilibrium_quantities(lattice, A):
    """Quantities of f(h_0(k + A)) (the relaxation target at vector potential A), kinetic gauge."""
    k, w = ev.momentum_grid(lattice.N_y, False)
    rho = ev.thermal_state(lattice, T, k, A)
    bands = ev.correlation_bands(rho, k, w, lattice.N_y, lattice.N_x, lattice.dim, lattice.offset_pairs(KERNEL_NAMES), A)
    return quantities(Observables(lattice, bands))


@functools.lru_cache(maxsize=None)
def kubo(name):
    return quantities(response({"nnn": nnn_bilayer, "paper": paper_bilayer}[name](), T, ETA).observables)


@functools.lru_cache(maxsize=None)
def real_time(name, E, dt):
    """chi(t) = (<O>(t) - <O>_eq(t)) / (-E) at every stored time, per unit Kubo force q E_y = -E."""
    system = {"nnn": nnn_bilayer, "paper": paper_bilayer}[name]()
    times = np.linspace(0, T_FINAL, N_TIMES)
    with warnings.catch_warnings():
        # stored every 3/t (only the end state matters): the finite-difference check of d<J>/dt is
        # unresolved there by design; the exact rate identity is still enforced (a failure of it
        # comes first in the message and is not filtered)
        warnings.filterwarnings("ignore", "continuity balance failed: finite-difference", RuntimeWarning)
        ds = evolve(system, ElectricField(E), times, T=T, dt=dt, relaxation=Relaxation(1.0 / ETA), error_estimate=False, check="warn")
    assert ds.attrs["tau_r"] == 1.0 / ETA
    assert float(np.nanmax(np.abs(ds["residual_exact"].values))) < 1e-10
    out = {}
    for i in range(N_TIMES):
        eq = equilibrium_quantities(system.lattice, float(ds["A_y"][i]))
        for name_, v in eq.items():
            val = ds[name_].values[i]
            if name_.startswith("torque"):
                val = np.where(np.isnan(val), 0.0, val)  # charge channel has no torque
            out.setdefault(name_, []).append((val - v) / (-E))
    return {k: np.array(v) for k, v in out.items()}


def richardson(name, E, i=-1):
    """dt^2 extrapolation (4 chi(dt/2) - chi(dt)) / 3 at stored time index i."""
    a, b = real_time(name, E, DTS[name][0]), real_time(name, E, DTS[name][1])
    return {k: (4 * b[k][i] - a[k][i]) / 3 for k in a}


def responding(name):
    """(quantity, polarization) pairs with a finite Kubo response, and their scale."""
    out = {}
    for q, v in kubo(name).items():
        for j, p in enumerate(POLARIZATIONS):
            s = float(np.abs(v[j]).max())
            if s > 1e-3:
                out[q, polarization_label(p)] = (j, s)
    return out


def relative_errors(name, chi):
    K = kubo(name)
    return {key: float(np.abs(chi[key[0]][j] - K[key[0]][j]).max()) / s for key, (j, s) in responding(name).items()}


def test_paper_model_only_y_currents_respond_and_match_real_time():
    """h(-k) = h(k): k-even quantities have zero linear response in both codes; the y-currents agree."""
    K = kubo("paper")
    resp = responding("paper")
    assert set(resp) == {("current_y", "charge"), ("current_y", "x")}
    for q in ("density", "current_x", "torque_exchange", "torque_total"):
        assert np.abs(K[q]).max() < 1e-12
    errs = {E: relative_errors("paper", richardson("paper", E)) for E in (1e-4, 1e-5)}
    assert max(errs[1e-5].values()) < 5e-7  # measured 9.4e-8
    # the nonlinearity: the y-currents are odd in E here (k -> -k), so the relative difference ~ E^2
    assert max(errs[1e-4].values()) > 30 * max(errs[1e-5].values())  # measured 9.5e-6 / 9.4e-8
    # the even quantities respond only at second order: chi ~ E, far below the y-current scale
    chi = richardson("paper", 1e-5)
    for q in ("density", "current_x", "torque_total"):
        assert np.abs(chi[q]).max() < 1e-3
    # wrong sign or factor would show: the drive per unit Kubo force is -E
    jy = real_time("paper", 1e-5, DTS["paper"][1])["current_y"][-1]
    np.testing.assert_allclose(jy, K["current_y"], rtol=1e-4, atol=1e-6)  # raw dt = 0.05: 5.3e-5
    assert np.abs(K["current_y"][0]).max() > 1.0  # Drude particle current ~ 1/eta


def test_propagator_error_is_second_order_in_dt_and_settles_with_relaxation():
    E = 1e-5
    e_coarse, e_fine = (max(relative_errors("paper", {k: v[-1] for k, v in real_time("paper", E, dt).items()}).values()) for dt in DTS["paper"])
    assert 3.0 < e_coarse / e_fine < 5.0  # measured 2.4e-4 / 6.0e-5 (dt = 0.1, 0.05): exponential midpoint, O(dt^2)
    # stationary means t >> tau_r: the transient decays as exp(-eta t) (factor exp(-1.5) per stored
    # interval of 3/t) down to the nonlinear floor
    settling = [max(relative_errors("paper", richardson("paper", E, i)).values()) for i in range(N_TIMES)]
    t = np.linspace(0, T_FINAL, N_TIMES)
    assert t[2] == pytest.approx(3.0 / ETA) and settling[2] > 1e-2  # t = 3 tau_r: 5.5e-2
    ratios = np.array(settling[2:10]) / np.array(settling[1:9])
    assert np.all((0.15 < ratios) & (ratios < 0.35)), ratios  # exp(-eta * 3) = 0.22
    assert settling[-1] < 1e-5 * settling[2]

def test_nnn_model_accumulation_ohe_current_torques_match_real_time():
    """s_3 mixing: OAM accumulation, x-current of L_z (orbital Hall) and the torques all respond;
    the real-time stationary state reproduces every one, converging ~ E."""
    resp = responding("nnn")
    for key in (("density", "z"), ("current_x", "z"), ("torque_exchange", "z"), ("torque_total", "z"), ("current_y", "charge")):
        assert key in resp
    fields = (1e-4, 1e-5)
    worst = [max(relative_errors("nnn", richardson("nnn", E)).values()) for E in fields]
    assert worst[1] < 1e-6  # measured 4.5e-7 (x-current of L_y; 2.8e-8 for the L_z orbital Hall current)
    # decreasing ~ E^2 (measured 4.6e-5, 4.5e-7; ~ E would give a ratio of 10): the responding quantities are odd in E
    assert worst[0] > 20 * worst[1]

def test_pulse_leaves_an_x_current_of_lz_that_is_second_order_in_E():
    """FM/NM/FM trilayer (paper's model) after a Gaussian E_y pulse: the change of the L_z current
    along x is even in E (no linear part, as linear response says) and scales as E^2."""
    s = trilayer(N_x=5, N_y=12, N_FM=1, gamma=0.4, m_L="x", m_R="y")
    times = np.linspace(0, 4, 41)

    def change(E):
        ds = evolve(s, ElectricField(E, pulse=(1.0, 0.3)), times, T=0.1, method="magnus4", dt=0.05)
        jx = ds["current_x"].sel(polarization="z").values
        return jx[-5:] - jx[0]  # after the pulse (t >= 3.6 = t0 + 8.7 sigma)

    a, b, c = change(0.02), change(0.04), change(-0.02)
    assert np.abs(a).max() > 1e-6  # the effect exists
    np.testing.assert_allclose(c, a, rtol=1e-8, atol=1e-14)  # even in E: the linear part vanishes
    np.testing.assert_allclose(b / a, 4.0, rtol=0.02)  # E^2 (measured 3.99-4.03; the E^4 term)


def pumped_y_current(system, omega, theta, eta, per_period=32, settle=15.0, dt=0.2):
    """Real-time orbital pumping: FM precessing about its m on a cone theta at +-omega, relaxation
    tau_r = 1/eta; the y-bond particle current per column projected on dm_y/dt and dm_z/dt over one
    period after ``settle`` (``m = x + sin(theta) (cos(omega t) y + sin(omega t) z)``).  The response
    per unit dm_a/dt; the average over +-omega cancels the O(omega) out-of-phase part, leaving O(omega^2)."""
    out = []
    for w in (omega, -omega):
        period = 2 * np.pi / omega
        n0 = int(np.ceil(settle / (period / per_period)))
        times = np.arange(n0 + per_period + 1) * (period / per_period)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "continuity balance failed: finite-difference", RuntimeWarning)
            ds = evolve(system, Precession(w, theta), times, T=T, dt=dt, relaxation=Relaxation(1.0 / eta), error_estimate=False, check="warn")
        assert float(np.nanmax(np.abs(ds["residual_exact"].values))) < 1e-10
        np.testing.assert_allclose(ds["m"].values[:, -1, 0], np.cos(theta), atol=1e-14)  # the cone about x
        jy = ds["current_y"].sel(polarization="charge").values[n0 : n0 + per_period]
        ph = w * times[n0 : n0 + per_period]
        rate = {"y": -w * np.sin(theta) * np.sin(ph), "z": w * np.sin(theta) * np.cos(ph)}
        out.append({a: 2 * np.mean(jy * r[:, None], axis=0) / (omega * np.sin(theta)) ** 2 for a, r in rate.items()})
    return {a: 0.5 * (out[0][a] + out[1][a]) for a in ("y", "z")}


def test_orbital_pumping_matches_real_time_precession():
    """The other side of Response.reciprocity(): the Kubo response to d m_a/dt (perturbation -J_a on
    the FM) equals the y current pumped by a slowly precessing FM in real time (same relaxation),
    after omega^2 Richardson extrapolation; the E-driven FM OAM (torque side) is checked above."""
    system, eta = nnn_bilayer(), 1.0
    lat = system.lattice
    kubo_pump = {}
    for a, J in zip("xyz", lat.generators):
        W = np.zeros((lat.N_x, lat.dim, lat.dim), complex)
        W[-1] = -J  # dh/dm_a = -J_a on the FM column (eps = -m.J)
        sol = solve_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES), perturbation=W)
        kubo_pump[a] = Observables(lat, sol.bands["total"]).bond_current(None, "y")
    assert np.abs(kubo_pump["x"]).max() < 1e-14  # d m_x/dt = 0 on the cone: nothing to compare
    omegas = (0.2, 0.1)
    rt = {w: pumped_y_current(system, w, 0.005, eta) for w in omegas}
    err = {w: max(np.abs(rt[w][a] - kubo_pump[a]).max() / np.abs(kubo_pump[a]).max() for a in "yz") for w in omegas}
    assert 3.0 < err[0.2] / err[0.1] < 5.0  # O(omega^2): measured 1.2e-1, 3.2e-2
    extrapolated = {a: (4 * rt[0.1][a] - rt[0.2][a]) / 3 for a in "yz"}
    for a in "yz":
        assert np.abs(kubo_pump[a]).max() > 1e-2
        np.testing.assert_allclose(extrapolated[a], kubo_pump[a], rtol=0, atol=3e-3 * np.abs(kubo_pump[a]).max())  # measured 1.4e-3, 9.3e-4
