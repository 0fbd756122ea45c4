"""Current at 45 degrees to the crystal axes (orbsym.transport.rotated_model / rotated_layers)."""

import functools

import numpy as np
import pytest
import sympy as sp

from orbsym.numeric.leads import lead_bands
from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, rotated_layers, rotated_model, transport


@functools.lru_cache(maxsize=None)
def _models():
    from orbsym.symbolic.models import Model, multiorbital_metal
    from orbsym.symbolic.spinful import orbital_rashba

    m0 = multiorbital_metal()
    R = orbital_rashba("t2g")
    mr = Model("nm_rashba", m0.generators, {d: sp.ImmutableMatrix(m0.hoppings[d] + R[d]) for d in m0.hoppings}, m0.onsite, "Eq. 3 + orbital Rashba")
    return m0, mr


RASHBA = dict(gamma=0.3, alpha_R=0.4)
NNN = dict(t_1=-0.3, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.3)


@functools.lru_cache(maxsize=None)
def _nnn_model():
    from orbsym.symbolic.symmetry import symmetric_hoppings

    return symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()


def test_rotated_nnn_supercell_bands_are_the_folded_crystal_bands():
    """Alternating even/odd columns with crystal diagonals: the period-2 lead at (q, k) has the crystal
    bands at K = ((q + k)/2, (q - k)/2) and K + (pi, pi) (two crystal sites per cell)."""
    from orbsym.numeric.supercell import pair_lead

    m = _nnn_model()
    s = heterostructure(rotated_layers(m, 2, **NNN), N_y=3, mu=-0.2)
    lead = pair_lead(*s.lattice.columns)
    crystal = heterostructure([layer(m, 1, **NNN)], N_y=3, mu=-0.2).lattice
    c = crystal.columns[0]
    from orbsym.numeric import Lattice

    lat = Lattice([c] * 3, 1)
    t = {b: lat.hoppings[b][0] for b in lat.bonds}
    eps = lat.onsite[0]

    def h(KX, KY):
        out = eps.copy()
        for (dx, dy), tb in t.items():
            ph = np.exp(1j * (dx * KX + dy * KY))
            out = out + ph * tb + np.conj(ph) * tb.conj().T
        return out

    rng = np.random.default_rng(1)
    for q, k in rng.uniform(-np.pi, np.pi, size=(4, 2)):
        KX, KY = (q + k) / 2, (q - k) / 2
        ref = np.sort(np.concatenate([np.linalg.eigvalsh(h(KX, KY)), np.linalg.eigvalsh(h(KX + np.pi, KY + np.pi))]))
        np.testing.assert_allclose(lead_bands(lead, [k], [q])[0, 0], ref, atol=1e-12)


@pytest.mark.parametrize("column", ["even", "odd"])
def test_rotated_bands_are_the_crystal_bands(column):
    """Lead bands of the rotated model at strip momenta (k_u, k) = crystal bands at (K_X, K_Y):
    even rows w = -Y: K = (k_u, k_u - k); odd rows r = X: K = (k_u + k, k_u)."""
    _, mr = _models()
    crystal = attach_leads(heterostructure([layer(mr, 1, **RASHBA)], N_y=3)).left
    rot = attach_leads(heterostructure([layer(rotated_model(mr, column=column), 1, **RASHBA)], N_y=3)).left
    assert rot.has_diagonal_bonds
    rng = np.random.default_rng(0)
    for ku, k in rng.uniform(-np.pi, np.pi, size=(5, 2)):
        KX, KY = (ku, ku - k) if column == "even" else (ku + k, ku)
        tX, tY = crystal.hop_x, crystal.hop_y
        h = crystal.onsite + np.exp(1j * KX) * tX + np.exp(1j * KY) * tY
        h = h + np.exp(-1j * KX) * tX.conj().T + np.exp(-1j * KY) * tY.conj().T
        np.testing.assert_allclose(lead_bands(rot, [k], [ku])[0, 0], np.linalg.eigvalsh(h), atol=1e-12)


def test_rotated_model_input():
    m0, _ = _models()
    assert rotated_model(m0, "0") is m0
    r = rotated_model(m0)
    assert set(r.hoppings) == {(1, 0), (1, -1)} and r.name.endswith("@45") and r.generators is m0.generators
    assert set(rotated_model(m0, column="odd").hoppings) == {(1, 1), (1, 0)}
    with pytest.raises(ValueError, match="angle"):
        rotated_model(m0, "30")
    with pytest.raises(ValueError, match=r"\(2, 0\)"):
        rotated_model(rotated_model(_nnn_model()))
    with pytest.raises(TypeError, match="Model"):
        rotated_model("nm")


@pytest.mark.parametrize("angle", ["0", "45"])
@pytest.mark.parametrize("width", ["periodic", "open"])
def test_eq3_metal_has_no_driven_oam_at_any_angle(angle, width):
    """Eq. 3 hoppings are diagonal in (d_yz, d_xz, d_xy) along both crystal axes and the rotation keeps
    the basis on the crystal: h and the leads never mix orbitals, so rho is orbital-diagonal and every
    L component (purely inter-orbital) vanishes exactly -- at 0 and at 45 degrees, periodic or open."""
    m0, _ = _models()
    s = heterostructure(rotated_layers(m0, 4, angle, gamma=0.3), N_y=5, mu=-0.2)
    r = transport(attach_leads(s, width=width), T=0.02)
    assert r.landauer_current() > 0.05
    d = r.densities()
    for q in "xyz":
        assert np.abs(d[q]).max() == pytest.approx(0, abs=1e-14)
    assert r.continuity_residual()["max_abs_charge_current_minus_landauer"] < 1e-10


def test_orbital_rashba_edelstein_rotates_with_the_current():
    """Periodic in y, Eq. 3 + orbital Rashba: the driven OAM is perpendicular to the current in plane
    (L_y for a current along X; L_x = -L_y for a current along (1, 1)); L_z = 0 (no edges); balance."""
    _, mr = _models()
    out = {}
    for angle in ("0", "45"):
        s = heterostructure(rotated_layers(mr, 4, angle, **RASHBA), N_y=9, mu=-0.2)
        r = transport(attach_leads(s), T=0.02)
        assert r.continuity_residual()["max_abs_balance"] < 1e-10
        out[angle] = {q: r.densities()[q] for q in "xyz"}
    a, b = out["0"], out["45"]
    assert np.abs(a["y"]).min() > 1e-3 and np.abs(a["x"]).max() < 1e-13
    assert np.abs(b["x"]).min() > 1e-3
    np.testing.assert_allclose(b["x"], -b["y"], atol=1e-12)
    assert np.abs(a["z"]).max() < 1e-13 and np.abs(b["z"]).max() < 1e-12


def test_rotated_open_strip_balance_per_site_with_torque_terms():
    """45 degrees, strip open in y: -div j + tau = 0 per site, tau = exchange + bond_x + bond_y + bond_diagonal,
    and the in-plane and L_z accumulations are finite."""
    _, mr = _models()
    s = heterostructure(rotated_layers(mr, 4, "45", **RASHBA), N_y=4, mu=-0.2)
    r = transport(attach_leads(s, width="open"), T=0.02)
    c = r.continuity_residual()
    assert c["max_abs_balance"] < 1e-10 and c["max_abs_dJ_dt"] < 1e-10 and c["max_abs_charge_current_minus_landauer"] < 1e-10
    tq, div = r.torques(), r.divergence()
    for q in "xyz":
        parts = tq[q]["exchange"] + tq[q]["bond_x"] + tq[q]["bond_y"] + tq[q]["bond_diagonal"]
        np.testing.assert_allclose(parts, tq[q]["total"], atol=1e-14)
        np.testing.assert_allclose(div[q], tq[q]["total"], atol=1e-10)
        np.testing.assert_allclose(tq[q]["exchange"], 0, atol=1e-14)
    assert np.abs(r.densities()["z"]).max() > 1e-3 and np.abs(tq["z"]["bond_diagonal"]).max() > 1e-4


@pytest.mark.parametrize("angle", ["0", "45"])
def test_nnn_t2g_strip_orbital_hall_accumulation_symmetries(angle):
    """Centrosymmetric D4h t2g metal with the diagonal d_yz/d_xz mixing s_3, strip open in y between
    leads of the same material (period-2 leads at 45 degrees): only L_z is driven (M_z forbids
    d_xy mixing, so L_x = L_y = 0 exactly); it is odd across the width -- the mirror y -> -y at 0
    degrees, the point reflection through the strip centre at 45 degrees (whose rows have staircase
    edges); no accumulation without edges (periodic in y)."""
    m = _nnn_model()
    Nx, Ny = 6, 6
    s = heterostructure(rotated_layers(m, Nx, angle, **NNN), N_y=Ny, mu=-0.2)
    r = transport(attach_leads(s, width="open"), T=0.02)
    assert r.leaded.period == (2 if angle == "45" else 1)
    d = r.densities()
    np.testing.assert_allclose(d["x"], 0, atol=1e-14)
    np.testing.assert_allclose(d["y"], 0, atol=1e-14)
    Lz = d["z"]
    assert np.abs(Lz).max() > 1e-2
    mirrored = Lz[:, ::-1] if angle == "0" else Lz[::-1, ::-1]
    np.testing.assert_allclose(Lz, -mirrored, atol=1e-9)
    c = r.continuity_residual()
    assert c["max_abs_balance"] < 1e-10 and c["max_abs_charge_current_minus_landauer"] < 1e-10
    per = transport(attach_leads(s), T=0.02)
    assert np.abs(per.densities()["z"]).max() < 1e-11


def test_crystal_bond_torques_are_labelling_independent():
    """The same rotated crystal (NN metal around an FM column, periodic in y) in the two sheared
    labellings -- all even columns (rows w = -Y) or all odd ones (rows r = X): densities and the
    torques per *crystal* bond agree, while the strip-offset groups swap (bond_x is crystal X in
    one labelling and crystal Y in the other); the crystal terms add up to the total."""
    from orbsym.symbolic.models import ferromagnet, multiorbital_metal
    from orbsym.transport import crystal_bond_torques

    out = {}
    for col in ("even", "odd"):
        nm, fm = rotated_model(multiorbital_metal(), column=col), rotated_model(ferromagnet(), column=col)
        s = heterostructure([layer(nm, 3, gamma=0.3), layer(fm, 1, m=(0.3, 0.5, 0.8), label="FM"), layer(nm, 3, gamma=0.3)], N_y=5, mu=-0.2)
        out[col] = transport(attach_leads(s), T=0.05)
    a, b = out["even"], out["odd"]
    for q in "xyz":
        np.testing.assert_allclose(a.densities()[q], b.densities()[q], atol=1e-12)
        ca, cb = crystal_bond_torques(a, q), crystal_bond_torques(b, q)
        for k in ca:
            np.testing.assert_allclose(ca[k], cb[k], atol=1e-12, err_msg=k)
        np.testing.assert_allclose(ca["bond_X"] + ca["bond_Y"] + ca["bond_(1,1)"] + ca["bond_(1,-1)"] + ca["exchange"], ca["total"], atol=1e-14)
        np.testing.assert_allclose(ca["total"], a.torques()[q]["total"], atol=1e-14)
        np.testing.assert_allclose(ca["bond_(1,1)"], 0, atol=1e-15)
    assert np.abs(ca["bond_X"] - ca["bond_Y"]).max() > 1e-4
    np.testing.assert_allclose(a.torques()["z"]["bond_x"], crystal_bond_torques(a, "z")["bond_X"], atol=1e-14)
    np.testing.assert_allclose(b.torques()["z"]["bond_x"], crystal_bond_torques(b, "z")["bond_Y"], atol=1e-14)
    with pytest.raises(ValueError, match="45-degree"):
        crystal_bond_torques(transport(attach_leads(heterostructure([layer("nm", 2)], N_y=2)), T=0.1), "z")


def test_open_strip_x_current_is_the_slice_boundary_total():
    """Open strip of the NNN t2g metal: the x current is the slice-boundary total (the (1, 0) bond plus
    the diagonal bonds crossing the boundary, at their start row), whose row sums close the balance of
    every region column: sum_y [I(x - 1) - I(x)] = -sum_y div j (the y parts cancel in the row sum)."""
    m = _nnn_model()
    s = heterostructure(rotated_layers(m, 5, "0", **NNN), N_y=4, mu=-0.2)
    r = transport(attach_leads(s, width="open"), T=0.02)
    I, div = r.currents()["charge"], r.divergence()["charge"]
    np.testing.assert_allclose(I[:-1].sum(axis=1) - I[1:].sum(axis=1), -div.sum(axis=1), rtol=0, atol=1e-12)
    alone = r.observables.evaluate_sites("current", None, (1, 0))
    assert np.abs(r._xbond(alone) - I).max() > 1e-4  # the diagonal bonds carry part of it
