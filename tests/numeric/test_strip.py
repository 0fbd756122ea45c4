"""Finite-width strips (open in y): super-site mapping, per-site balance, closed-strip equilibrium."""

import numpy as np
from lattices import random_lattice
from numeric_kernels import fm, nm_orbital

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Column, Lattice, angular_momentum_rate, dense_hamiltonian, fermi
from orbsym.numeric.leads import Lead, open_channels
from orbsym.numeric.negf import OpenSystem, window_rule
from orbsym.numeric.strip import OpenStripObservables, strip_correlations, strip_hamiltonian, strip_lattice, strip_lead


def _strip_system(lat):
    sup = strip_lattice(lat)
    rows = lat.N_y
    return sup, OpenSystem(sup, strip_lead(Lead.from_column(lat.columns[0]), rows), strip_lead(Lead.from_column(lat.columns[-1]), rows))


def test_strip_hamiltonian_is_the_ring_without_its_closing_bond():
    rng = np.random.default_rng(1)
    lat = random_lattice(rng, "user", 4, 5, "fm")
    h_ring = dense_hamiltonian(lat).reshape(4, 5, 3, 4, 5, 3)
    h = strip_hamiltonian(strip_lattice(lat)).reshape(4, 5, 3, 4, 5, 3)
    for x in range(4):  # remove the y-bond between rows 4 and 0 from the ring
        h_ring[x, 4, :, x, 0, :] -= lat.hop_y[x]
        h_ring[x, 0, :, x, 4, :] -= lat.hop_y[x].conj().T
    np.testing.assert_allclose(h, h_ring, atol=1e-15)


def test_strip_steady_state_balance_per_site():
    rng = np.random.default_rng(7)
    lat = random_lattice(rng, "orbital", 5, 4, "fm")
    sup, osys = _strip_system(lat)
    dxs = sorted({p[0] for p in lat.offset_pairs(KERNEL_NAMES)})
    E, w = window_rule(0.2, -0.1, 0.03, 20)
    blocks, trans = osys.scattering_blocks(E, w, 0 * w, dxs)
    eq, _ = osys.equilibrium_blocks(-0.1, 0.03, dxs)
    for dx in dxs:
        blocks[dx] += eq[dx]
    G = strip_correlations(blocks, sup.N_x, sup.dim)
    obs = OpenStripObservables(lat, G)
    h = strip_hamiltonian(sup)
    for p in POLARIZATIONS:
        np.testing.assert_allclose(angular_momentum_rate(lat, h, G.T, p)[1:-1], 0, atol=1e-12)
        for kind in ("bond", "forward"):
            np.testing.assert_allclose(obs.site_continuity(p, kind)[1:-1], 0, atol=1e-12)
    jx = obs.evaluate_sites("current", None, (1, 0)).sum(axis=1)
    np.testing.assert_allclose(jx, trans[0] @ w / (2 * np.pi), atol=1e-12)
    assert np.abs(obs.evaluate_sites("current", None, (0, 1))[:, -1]).max() == 0  # no ring-closing bond


def test_clean_strip_conductance_counts_channels():
    col = Column(nm_orbital(), dict(t=1.0, gamma=0.4, tp=0.8, mu=-0.2))
    lat = Lattice([col] * 3, 4)
    sup, osys = _strip_system(lat)
    E = np.array([-0.8123, 0.3371])
    T = osys.transmission(E)[0]
    n = [open_channels(osys.left, [0.0], e)[0] for e in E]
    np.testing.assert_allclose(T, n, atol=1e-7)


def test_zero_bias_strip_equals_closed_strip_far_from_walls():
    """Equilibrium NEGF of a strip (open y) vs exact diagonalization of a long closed strip (open x, y):
    FM column in the middle, T = 0.4, walls in x far away."""
    nm = Column(nm_orbital(), dict(t=1.0, gamma=0.4, tp=0.8, mu=-0.2))
    f = Column(fm(), dict(t=1.0, mu=-0.2, m_x=0.3, m_y=0.5, m_z=0.8))
    n = 20
    lat = Lattice([nm] * n + [f] + [nm] * n, 3)
    sup, osys = _strip_system(lat)
    dxs = sorted({p[0] for p in lat.offset_pairs(KERNEL_NAMES)})
    eq, _ = osys.equilibrium_blocks(0.0, 0.4, dxs)
    neq = OpenStripObservables(lat, strip_correlations(eq, sup.N_x, sup.dim))
    E, U = np.linalg.eigh(strip_hamiltonian(sup))
    closed = OpenStripObservables(lat, (U.conj() * fermi(E, 0.4)) @ U.T)
    mid = slice(n - 2, n + 3)
    for p in POLARIZATIONS:
        for name, bond in (("density", None), ("torque_onsite", None), ("current", (1, 0)), ("current", (0, 1)), ("source", (0, 1))):
            a = neq.evaluate_sites(name, p, bond)[mid]
            b = closed.evaluate_sites(name, p, bond)[mid]
            np.testing.assert_allclose(a, b, atol=1e-7, err_msg=f"{name} {p} {bond}")
