"""orbsym.systems with the symbolic layer's kernels: fast vs slow path, continuity, physics, CLI."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.cli import main
from orbsym.numeric import POLARIZATIONS, RealSpaceObservables, angular_momentum_rate, dense_hamiltonian, solve_realspace
from orbsym.systems import bilayer, heterostructure, layer, magnetization, rkky, solve, trilayer


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


angles = st.tuples(st.floats(0, np.pi), st.floats(0, 2 * np.pi))


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    geometry=st.sampled_from(["trilayer", "bilayer-nm", "bilayer-am", "trilayer-spin"]),
    mL=angles,
    mR=angles,
    gamma=st.floats(0.0, 1.5),
    mu=st.floats(-1.5, 1.0),
    T=st.sampled_from([0.0, 0.01, 0.2]),
    interface=st.sampled_from(["fm", "metal"]),
    N_x=st.integers(3, 5),
    N_y=st.integers(2, 5),
)
def test_solve_matches_brute_force(geometry, mL, mR, gamma, mu, T, interface, N_x, N_y):
    """Densities, all current kinds, torques and F of solve() equal the dense real-space solver."""
    kw = dict(N_x=N_x, N_y=N_y, mu=mu, interface=interface)
    if geometry == "trilayer":
        system = trilayer(m_L=mL, m_R=mR, gamma=gamma, **kw)
    elif geometry == "trilayer-spin":
        system = trilayer("spin", metal="am", m_L=mL, m_R=mR, w=gamma - 0.75, **kw)
    elif geometry == "bilayer-nm":
        system = bilayer("nm", m_FM=mL, gamma=gamma, **kw)
    else:
        system = bilayer("am", m_FM=mL, w=gamma - 0.75, **kw)
    res = solve(system, T)
    slow = solve_realspace(system.lattice, T)
    o = slow.observables
    assert res.free_energy() == pytest.approx(slow.free_energy(), abs=1e-10)
    for p in POLARIZATIONS:
        label = "charge" if p is None else p
        np.testing.assert_allclose(res.densities()[label], o.density(p), atol=1e-10)
        np.testing.assert_allclose(res.currents("bond")[label], o.bond_current(p), atol=1e-10)
        np.testing.assert_allclose(res.currents("bond", "y")[label], o.bond_current(p, "y"), atol=1e-10)
        if p is not None:
            np.testing.assert_allclose(res.currents("eq7")[p], o.eq7_current(p), atol=1e-10)
            np.testing.assert_allclose(res.currents("forward")[p], o.forward_current(p), atol=1e-10)
            for kind in ("bond", "forward"):
                for term, v in res.torques(kind)[p].items():
                    np.testing.assert_allclose(v, o.torques(p, kind)[term], atol=1e-10, err_msg=f"{p} {kind} {term}")


@pytest.mark.parametrize(
    "system",
    [
        lambda: trilayer(gamma=0.3, m_L=(0.4, 1.0), m_R=(2.0, 0.3), N_x=6, N_y=10, mu=-0.4),
        lambda: trilayer("spin", metal="am", w=0.4, m_L="x", m_R=(1.0, 2.0), N_x=5, N_y=7, interface="metal"),
        lambda: bilayer("am", m_FM=(0.3, 0.7), N_x=5, N_y=8),
    ],
    ids=["orbital-trilayer", "spin-AM-trilayer", "AM/FM"],
)
def test_continuity_with_derived_kernels(system):
    """(i) equilibrium: d<J>/dt = 0 and div j = tau at every column; (ii) random non-equilibrium
    density matrix: -div j + tau = i Tr(rho [h, J_n]) at every site (orbital and spin kernels)."""
    s = system()
    cont = solve(s, 0.02).continuity_residual()
    assert cont["max_abs_dJ_dt"] < 1e-12 and cont["max_abs_continuity_residual"] < 1e-12
    lat = s.lattice
    h = dense_hamiltonian(lat)
    rng = np.random.default_rng(5)
    A = rng.normal(size=h.shape) + 1j * rng.normal(size=h.shape)
    rho = (A + A.conj().T) / (2 * h.shape[0])
    obs = RealSpaceObservables(lat, rho.T)
    for p in POLARIZATIONS:
        direct = angular_momentum_rate(lat, h, rho, p)
        assert np.abs(direct).max() > 1e-3  # non-equilibrium: the check is not trivially 0 = 0
        for kind in ("bond", "forward") if p else ("bond",):
            np.testing.assert_allclose(obs.site_continuity(p, kind), direct, atol=1e-12, err_msg=f"{p} {kind}")


@pytest.mark.parametrize("basis", ["orbital", "spin"])
def test_isotropic_nm_current_conserved_and_along_mL_cross_mR(basis):
    rng = np.random.default_rng(2)
    mL, mR = rng.normal(size=3), rng.normal(size=3)
    N_FM = 2
    res = solve(trilayer(basis, gamma=1.0, m_L=mL, m_R=mR, N_x=9, N_FM=N_FM, N_y=24), 0.02)
    j = np.array([res.currents()[a] for a in "xyz"]).T  # (bonds, 3)
    nm_bonds = j[N_FM : 9 - N_FM - 1]  # bonds with both ends in the NM
    assert np.linalg.norm(nm_bonds[0]) > 1e-5
    np.testing.assert_allclose(nm_bonds, np.broadcast_to(nm_bonds[0], nm_bonds.shape), atol=1e-12)
    n = np.cross(mL, mR)
    np.testing.assert_allclose(np.cross(nm_bonds, n), 0, atol=1e-12)
    # anisotropic NM: the orbital current is not conserved
    if basis == "orbital":
        ja = solve(trilayer(basis, gamma=0.5, m_L=mL, m_R=mR, N_x=9, N_FM=N_FM, N_y=24), 0.02).currents()["z"][N_FM : 9 - N_FM - 1]
        assert np.ptp(ja) > 1e-6


def test_free_energy_rotation_invariance_only_for_isotropic_hopping():
    rng = np.random.default_rng(4)
    mL, mR = rng.normal(size=3), rng.normal(size=3)
    R = _random_rotation(rng)

    def F(gamma, a, b):
        return solve(trilayer(gamma=gamma, m_L=a, m_R=b, N_x=6, N_y=16, mu=-0.3), 0.02).free_energy()

    assert F(1.0, mL, mR) == pytest.approx(F(1.0, R @ mL, R @ mR), abs=1e-10)
    assert abs(F(0.4, mL, mR) - F(0.4, R @ mL, R @ mR)) > 1e-6


def test_altermagnet_z_spin_current_conserved():
    """tau_z = 0 in the altermagnet (Eq. 4 hopping commutes with sigma_z); tau_x does not vanish."""
    res = solve(trilayer("spin", metal="am", w=0.4, m_L="x", m_R="y", N_x=8, N_y=16), 0.02)
    tz = res.torques()["z"]
    np.testing.assert_allclose(tz["bond_x"] + tz["bond_y"], 0, atol=1e-13)
    jz = res.currents()["z"][1:-1]
    np.testing.assert_allclose(jz, jz[0], atol=1e-12)
    res2 = solve(trilayer("spin", metal="am", w=0.4, m_L="z", m_R="y", N_x=8, N_y=16), 0.02)
    assert np.abs(res2.torques()["x"]["bond_x"]).max() > 1e-6


def test_interface_option_visible_and_effective():
    kw = dict(gamma=0.3, N_x=6, N_y=12, m_L="y", m_R="z")
    r_fm, r_metal = solve(trilayer(interface="fm", **kw)), solve(trilayer(interface="metal", **kw))
    assert r_fm.to_dict(("free_energy",))["system"]["interface"] == "fm"
    assert r_metal.to_dict(("free_energy",))["system"]["interface"] == "metal"
    assert abs(r_fm.free_energy() - r_metal.free_energy()) > 1e-6
    assert rkky(trilayer(interface="metal", **kw), 0.02)["interface"] == "metal"


def test_rkky_is_F_AP_minus_F_P():
    s = trilayer(gamma=0.6, m_L="y", m_R=(0.2, 0.1, 0.3), N_x=6, N_y=20)
    r = rkky(s, 0.01)
    FP = solve(trilayer(gamma=0.6, m_L="y", m_R="y", N_x=6, N_y=20), 0.01).free_energy()
    FAP = solve(trilayer(gamma=0.6, m_L="y", m_R="-y", N_x=6, N_y=20), 0.01).free_energy()
    mag = np.linalg.norm([0.2, 0.1, 0.3])
    FP2 = solve(trilayer(gamma=0.6, m_L="y", m_R=(0, mag, 0), N_x=6, N_y=20), 0.01).free_energy()
    assert r["F_P"] == pytest.approx(FP2, abs=1e-12) and r["J"] == pytest.approx(r["F_AP"] - r["F_P"], abs=1e-14)
    r1 = rkky(trilayer(gamma=0.6, m_L="y", m_R="y", N_x=6, N_y=20), 0.01)
    assert r1["J"] == pytest.approx(FAP - FP, abs=1e-12)
    assert rkky(trilayer(gamma=0.6, m_L="y", m_R="y", N_x=6, N_y=20), 0.01, per_row=False)["J"] == pytest.approx(20 * (FAP - FP), abs=1e-9)


def test_spin_unit_S_halves_polarized_quantities():
    kw = dict(N_x=5, N_y=8, m_L="x", m_R="y", w=0.3, metal="am")
    a, b = solve(trilayer("spin", **kw)), solve(trilayer("spin", spin_unit="S", **kw))
    np.testing.assert_allclose(b.currents()["z"], 0.5 * a.currents()["z"], atol=1e-15)
    np.testing.assert_allclose(b.densities()["charge"], a.densities()["charge"], atol=1e-15)
    assert b.free_energy() == a.free_energy()
    assert b.system.describe()["spin_unit"] == "S"


def test_heterostructure_with_user_model_and_per_column_magnetizations():
    from orbsym.symbolic.models import multiorbital_metal

    layers = [layer("fm", m="x"), layer(multiorbital_metal(tp=0.5), 2, gamma=0.7, label="NM'"), layer("nm", gamma=0.2), layer("fm", m=(1.0, 0.5)), layer("fm", m="-z")]
    s = heterostructure(layers, N_y=5, mu=-0.1)
    assert s.describe()["columns"] == ["FM", "NM'", "NM'", "NM", "FM", "FM"]
    res = solve(s, 0.05)
    slow = solve_realspace(s.lattice, 0.05).observables
    np.testing.assert_allclose(res.currents()["y"], slow.bond_current("y"), atol=1e-10)
    assert res.continuity_residual()["max_abs_continuity_residual"] < 1e-12


def test_magnetization_inputs():
    assert magnetization("-y", 2.0) == (0.0, -2.0, 0.0)
    np.testing.assert_allclose(magnetization((np.pi / 2, np.pi / 2)), (0, 1, 0), atol=1e-15)
    assert magnetization((0.1, 0.2, 0.3)) == (0.1, 0.2, 0.3)


@pytest.mark.parametrize(
    "call, msg",
    [
        (lambda: trilayer(m_L="w"), "unknown magnetization direction 'w'"),
        (lambda: trilayer(m_L=(1, 2, 3, 4)), "3 components"),
        (lambda: trilayer(interface="both"), "interface rule 'both'"),
        (lambda: trilayer(N_x=2), "N_x"),
        (lambda: trilayer(N_x=4, N_FM=2), "2 N_FM"),
        (lambda: bilayer("am", "orbital"), "basis='spin'"),
        (lambda: bilayer("xm"), "unknown metal 'xm'"),
        (lambda: bilayer("nm", "spin", w=0.3), "w = 0"),
        (lambda: solve(trilayer(N_y=4), -1.0), "temperature"),
        (lambda: solve(trilayer(N_x=4, N_y=4)).currents("central"), "unknown current kind 'central'"),
        (lambda: heterostructure([layer("xx")], N_y=3), "unknown layer kind 'xx'"),
    ],
)
def test_bad_input_messages(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_cli_compute_json(capsys):
    assert main(["compute", "trilayer", "--N-x", "5", "--N-y", "8", "--gamma", "0.5", "--rkky", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["system"]["interface"] == "fm" and d["system"]["N_FM"] == 1
    assert len(d["currents"]["bond"]["z"]) == 4 and d["currents"]["eq7"]["z"][0] is None
    assert set(d["torques"]["z"]) == {"exchange", "bond_x", "bond_y", "total"}
    assert d["rkky"]["J"] == pytest.approx(d["rkky"]["F_AP"] - d["rkky"]["F_P"])
    ref = solve(trilayer(N_x=5, N_y=8, gamma=0.5), 0.01)
    assert d["free_energy_per_row"] == pytest.approx(ref.free_energy(), abs=1e-12)
    assert main(["compute", "bilayer", "--metal", "am", "--N-x", "4", "--N-y", "6", "--quantities", "free_energy"]) == 0
    assert "interface=fm" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--m-L", "1,2,x"], "--m-L '1,2,x'"),
        (["--quantities", "currents,spin"], "unknown quantity 'spin'"),
        (["--T", "-0.5"], "--T must be"),
        (["--N-FM", "0"], "N_FM must be"),
    ],
)
def test_cli_bad_input(capsys, argv, msg):
    assert main(["compute", "trilayer", "--N-x", "5", "--N-y", "4"] + argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_explicit_exchange_parameters_are_kept():
    s = heterostructure([layer("nm"), layer("fm", m_x=0.1, m_y=0.2, m_z=-0.3)], N_y=3)
    assert s.lattice.columns[1].params["m_y"] == 0.2 and s.lattice.columns[1].params["m_z"] == -0.3
    assert trilayer(metal="am", N_x=4, N_y=2).describe()["basis"] == "spin"


def test_a_layers_columns_are_evaluated_once(monkeypatch):
    """The columns of one layer are one Column object: the lattice evaluates its on-site and hopping
    matrices once per layer and bond, not per column (a 10^5-column bilayer builds in < 1 s), and the
    result equals the per-column evaluation."""
    from orbsym.numeric import Lattice

    calls = []
    original = Lattice._evaluate.__func__
    monkeypatch.setattr(Lattice, "_evaluate", classmethod(lambda cls, *a: calls.append(a[1]) or original(cls, *a)))
    s = trilayer(N_x=2000, N_y=4, gamma=0.5)
    assert len(calls) <= 3 * 2 * (1 + len(s.lattice.bonds))  # FM, NM, FM layers (+ interface owners)
    cols = s.lattice.columns
    fresh = Lattice([dataclasses.replace(c) for c in cols[:4]] + [dataclasses.replace(c) for c in cols[-4:]], 4)
    np.testing.assert_array_equal(fresh.onsite, np.concatenate([s.lattice.onsite[:4], s.lattice.onsite[-4:]]))
