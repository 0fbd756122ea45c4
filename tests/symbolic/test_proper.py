"""Operator-level torque dipole (orbsym.symbolic.proper): exists only when J is conserved bond by bond."""

import sympy as sp

from orbsym.symbolic.models import SYMBOLS, altermagnet, multiorbital_metal
from orbsym.symbolic.proper import KX, KY, bloch_hamiltonian, net_torque, torque_dipole


def test_eq3_net_torque_is_the_hopping_anisotropy():
    """Eq. (3), L_z: i[h(k), L_z] = 2 (t - gamma)(cos k_x - cos k_y) on the d_yz-d_xz block: no operator P
    unless gamma = t."""
    m = multiorbital_metal()
    t, g = SYMBOLS["t"], SYMBOLS["gamma"]
    tau = net_torque(m, "z")
    expect = 2 * (t - g) * (sp.cos(KX) - sp.cos(KY))
    assert sp.simplify(tau[0, 1] - expect) == 0 and sp.simplify(tau[1, 0] - expect) == 0
    assert all(tau[i, j] == 0 for i in range(3) for j in range(3) if {i, j} != {0, 1})
    res = torque_dipole(m)
    assert not any(r.exists_as_operator for r in res.values())
    assert "stationary state" in res["z"].statement
    iso = m.subs({g: t, SYMBOLS["tp"]: t})
    assert all(r.exists_as_operator for r in torque_dipole(iso).values())


def test_altermagnet_conserves_s_z_only():
    res = torque_dipole(altermagnet())
    assert res["z"].exists_as_operator and "P = 0" in res["z"].statement
    assert not res["x"].exists_as_operator and not res["y"].exists_as_operator


def test_bloch_hamiltonian_is_hermitian():
    h = bloch_hamiltonian(multiorbital_metal())
    assert sp.simplify(h - h.H) == sp.zeros(3, 3)
