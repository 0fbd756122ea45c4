"""The user API of the linear response (orbsym.response) on systems with derived (SymPy) kernels."""

import functools

import numpy as np
import pytest

from orbsym.response import DEFAULT_ETA, UNITS, orbital_hall, response
from orbsym.systems import bilayer, heterostructure, layer, solve

NNN = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)


@functools.lru_cache(maxsize=None)
def nnn_model():
    from orbsym.symbolic.symmetry import symmetric_hoppings

    return symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()


def nnn_bilayer(N_x=8, N_y=60, interface="fm", m="x", **kw):
    params = {**NNN, **kw}
    return heterostructure([layer(nnn_model(), N_x - 1, **params), layer("fm", 1, m=m)], N_y=N_y, mu=-0.2, interface=interface)


def test_symmetry_generated_nnn_model_runs_in_the_engine():
    """`orbsym hoppings --neighbours nn+nnn` model: derived kernels, diagonal bonds, exact continuity."""
    sys_ = nnn_bilayer()
    lat = sys_.lattice
    assert lat.has_diagonal_bonds and set(lat.bonds) == {(1, 0), (0, 1), (1, 1), (1, -1)}
    res = solve(sys_, 0.05)
    assert res.continuity_residual()["max_abs_continuity_residual"] < 1e-12
    assert "bond_diagonal" in res.torques()["z"]


def test_response_parts_balance_and_torque():
    r = response(nnn_bilayer(), T=0.05, eta=0.1)
    surf, sea = r.select("fermi_surface"), r.select("fermi_sea")
    for p in ("x", "y", "z", "charge"):
        np.testing.assert_allclose(r.densities()[p], surf.densities()[p] + sea.densities()[p], atol=1e-14)
        np.testing.assert_allclose(r.currents()[p], surf.currents()[p] + sea.currents()[p], atol=1e-14)
    b = r.balance()
    assert b["max_abs_residual"] < 1e-12
    np.testing.assert_allclose(b["z"]["relaxation"], 0.1 * r.densities()["z"], atol=1e-15)
    # the driven L_z accumulation (Fermi surface, ~1/eta) and the OHE current (Fermi sea) are nonzero
    assert np.abs(surf.densities()["z"]).max() > 1e-2 and np.abs(sea.currents()["z"]).max() > 1e-2
    tq = r.orbital_torque()
    fm = r.magnetic_columns()
    assert fm == [7]
    assert tq["z"] == pytest.approx(float(r.torques()["z"]["exchange"][7]))
    assert abs(tq["y"]) + abs(tq["z"]) > 1e-3 and tq["x"] == pytest.approx(0, abs=1e-14)  # m = x: torque ⟂ m
    d = r.to_dict(("densities", "orbital_torque", "balance"))
    assert d["units"] == UNITS and d["eta"] == 0.1 and "q E_y" in d["units"] and "intra-atomic" in d["units"]
    assert d["system"]["interface"] == "fm"


def test_surface_part_scales_as_one_over_eta_and_sea_converges():
    """Fermi-surface accumulation ~ 1/eta for small eta; the Fermi-sea OHE current has a finite eta -> 0 limit."""
    sys_ = nnn_bilayer(N_y=200)
    a, b = response(sys_, 0.1, 0.01), response(sys_, 0.1, 0.005)
    ratio = b.select("fermi_surface").densities()["z"][0] / a.select("fermi_surface").densities()["z"][0]
    assert ratio == pytest.approx(2.0, rel=0.05)
    ja, jb = a.select("fermi_sea").currents()["z"], b.select("fermi_sea").currents()["z"]
    np.testing.assert_allclose(ja, jb, rtol=0.05, atol=1e-3)


def test_strip_interior_current_approaches_bulk_orbital_hall():
    """Interior bond current of L_z in a wide NNN strip (Fermi sea part; it oscillates across the strip,
    standing waves of the open x direction) averaged away from the edges ~ bulk sigma^{L_z}_xy (1.4 %
    at N_x = 24; 1.7 % at 96 with the same k grid)."""
    strip = heterostructure([layer(nnn_model(), 24, **NNN)], N_y=150, mu=-0.2)
    j = response(strip, 0.05, 0.05).select("fermi_sea").currents()["z"]
    bulk = orbital_hall(nnn_model(), mu=-0.2, N_k=150, T=0.05, **NNN)["sigma"]
    assert bulk > 0.1
    assert np.mean(j[4:-4]) == pytest.approx(bulk, rel=0.03)


def test_eq3_bilayer_has_no_k_even_response():
    """Paper's Eq. (3) NM/FM: h(-k) = h(k), so the OAM accumulation, x currents and torques vanish."""
    r = response(bilayer(N_x=6, N_y=40, gamma=0.5, m_FM="x"), 0.05, 0.05)
    for p in "xyz":
        assert np.abs(r.densities()[p]).max() < 1e-13 and np.abs(r.torques()[p]["total"]).max() < 1e-13
    assert np.abs(r.currents("bond", "y")["charge"]).min() > 1.0


def test_spin_unit_halves_polarized_response():
    a = response(bilayer("am", N_x=5, N_y=30, m_FM="x"), 0.1, 0.1)
    b = response(bilayer("am", N_x=5, N_y=30, m_FM="x", spin_unit="S"), 0.1, 0.1)
    np.testing.assert_allclose(b.currents("bond", "y")["z"], 0.5 * a.currents("bond", "y")["z"], atol=1e-15)
    np.testing.assert_allclose(b.currents("bond", "y")["charge"], a.currents("bond", "y")["charge"], atol=1e-15)


def test_orbital_hall_api():
    mus = np.array([-1.0, -0.2, 0.5])
    eq3 = orbital_hall("nm", mu=mus, N_k=40, gamma=0.5)
    assert np.abs(eq3["sigma"]).max() < 1e-14
    res = orbital_hall(nnn_model(), mu=mus, N_k=40, **NNN)
    assert np.abs(res["sigma"]).min() > 1e-2 and res["fermi_surface"] is None
    one = orbital_hall(nnn_model(), mu=-0.2, N_k=40, **NNN)
    # one mu given as a number: Python floats (issue 22); the same value as in the sequence result
    for key in ("mu", "sigma", "total", "charge_hall"):
        assert type(one[key]) is float, (key, type(one[key]))
    assert one["fermi_surface"] is None and one["mu"] == -0.2
    assert one["sigma"] == pytest.approx(res["sigma"][1], abs=1e-14) and one["total"] == one["sigma"]
    # a sequence (also of length 1, also a NumPy array) gives 1D arrays in its order
    assert isinstance(res["sigma"], np.ndarray) and res["sigma"].shape == (3,) and res["total"].shape == (3,)
    np.testing.assert_array_equal(res["mu"], mus)
    single = orbital_hall(nnn_model(), mu=[-0.2], N_k=40, **NNN)
    assert isinstance(single["sigma"], np.ndarray) and single["sigma"].shape == (1,)
    assert single["sigma"][0] == one["sigma"]
    zero_d = orbital_hall(nnn_model(), mu=np.float64(-0.2), N_k=40, eta=0.05, T=0.1, **NNN)
    for key in ("mu", "sigma", "fermi_surface", "total", "charge_hall"):
        assert type(zero_d[key]) is float, (key, type(zero_d[key]))
    assert zero_d["total"] == pytest.approx(zero_d["sigma"] + zero_d["fermi_surface"], abs=1e-15)
    assert "{v_x, J}/2" in res["current"] and "q E_y" in res["units"]
    with_eta = orbital_hall(nnn_model(), mu=mus, N_k=40, eta=0.05, T=0.1, **NNN)
    np.testing.assert_allclose(with_eta["total"], with_eta["sigma"] + with_eta["fermi_surface"])


def test_input_errors():
    sys_ = bilayer(N_x=4, N_y=8)
    with pytest.raises(ValueError, match="eta must be > 0"):
        response(sys_, 0.1, 0.0)
    with pytest.raises(ValueError, match="unknown response part 'sea'.*fermi_sea"):
        response(sys_, 0.1, part="sea")
    with pytest.raises(TypeError, match="needs an orbsym.systems.System"):
        response("bilayer")
    with pytest.raises(ValueError, match="free energy is an equilibrium quantity"):
        response(sys_).free_energy()
    with pytest.raises(ValueError, match="unknown parameter of model .* 'gama'"):
        orbital_hall("nm", gama=0.5)
    with pytest.raises(ValueError, match="unknown polarization 'w'"):
        orbital_hall("nm", polarization="w")
    with pytest.raises(ValueError, match="N_k must be an integer >= 2"):
        orbital_hall("nm", N_k=1)
    assert DEFAULT_ETA > 0


def test_proper_currents_api():
    """Equilibrium (Fig. 2 type trilayer): conventional L_z current nonzero, proper current zero; driven
    NNN/FM bilayer: the FM makes the net driven rate nonzero -> flagged (no torque dipole)."""
    from orbsym.systems import trilayer

    eq = solve(trilayer(N_x=8, N_y=60, gamma=0.5), 0.05).proper_currents()["z"]
    assert eq["exists"] and np.abs(eq["conventional"]).max() > 1e-4
    np.testing.assert_allclose(eq["current"], 0, atol=1e-14)
    drv = response(nnn_bilayer(), 0.05, 0.1).proper_currents()
    assert not drv["z"]["exists"] and drv["z"]["current"] is None and abs(drv["z"]["net_torque"]) > 1e-5
    d = response(nnn_bilayer(), 0.05, 0.1).to_dict("proper_currents")
    assert d["proper_currents"]["z"]["current"] is None


def test_reciprocity_api():
    r = response(nnn_bilayer(N_y=30), 0.1, 0.1)
    rec = r.reciprocity()
    for a in "xyz":
        s, e = rec[a]["fermi_surface"], rec[a]["fermi_sea"]
        assert s["pumping_side"] == pytest.approx(s["torque_side"], abs=1e-12)
        assert e["pumping_side"] == pytest.approx(-e["torque_side"], abs=1e-12)
    assert max(abs(rec[a][p]["torque_side"]) for a in "yz" for p in ("fermi_surface", "fermi_sea")) > 1e-3
    with pytest.raises(ValueError, match="needs a system with an FM column"):
        response(heterostructure([layer(nnn_model(), 3, **NNN)], N_y=8), 0.1, 0.1).reciprocity()


def test_local_reciprocity_selects_the_proper_current():
    """NNN strip (no FM): the particle current pumped by a ramped step orbital Zeeman field at boundary b
    equals minus the E-driven OAM right of b (Fermi surface; the sea part of the accumulation vanishes
    here), which the balance turns into the proper current -(I + P - D)/eta, not the conventional I/eta."""
    strip = heterostructure([layer(nnn_model(), 6, **NNN)], N_y=40, mu=-0.2)
    eta = 0.1
    loc = response(strip, 0.1, eta).local_reciprocity("z")
    np.testing.assert_allclose(loc["pumping_surface"], -loc["accumulation_surface"], atol=1e-12)
    np.testing.assert_allclose(loc["pumping_sea"], loc["accumulation_sea"], atol=1e-12)
    assert abs(loc["net_torque"]) < 1e-12 and np.abs(loc["accumulation_sea"]).max() < 1e-12
    pumped = loc["pumping_surface"] + loc["pumping_sea"]
    proper = (loc["conventional"] + loc["torque_dipole"] - loc["drive"]) / eta
    np.testing.assert_allclose(pumped, -proper, atol=1e-11)
    mismatch = np.abs(pumped + (loc["conventional"] - loc["drive"]) / eta).max()
    assert mismatch > 0.1 * np.abs(pumped).max()  # the conventional current is locally non-reciprocal
