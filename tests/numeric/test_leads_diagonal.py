"""Leads and NEGF with diagonal bonds (1, +-1): k-dependent inter-cell coupling
``h_01(k) = t_(1,0) + t_(1,1) e^{ik} + t_(1,-1) e^{-ik}`` (phases of bloch._pieces).

Independent checks: the surface Green's function against a long finite lead assembled from the
Bloch Hamiltonian of orbsym.numeric.bloch (not from Lead.h01); clean-lead transmission = open
channels; exact balance and Landauer current on random heterostructures with (non-Hermitian,
k-odd) diagonal bonds; strip Hamiltonian = dense real-space Hamiltonian without the wrapping bonds;
(2, 0) bonds refused.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nnn_kernels import _models, metal_params, nnn_orbital, random_nnn_model

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Column, Lattice, Observables, bloch_hamiltonians
from orbsym.numeric.leads import Lead, open_channels
from orbsym.numeric.negf import OpenSystem, bands_from_blocks, dense_region_solver, window_rule
from orbsym.numeric.realspace import dense_hamiltonian
from orbsym.numeric.strip import strip_hamiltonian, strip_lattice

USER = dict(t=0.6, gamma=0.3, mu=0.2)
NNN = dict(t=1.0, gamma=0.4, tp=0.8, mu=-0.2, s_1=0.2, s_2=-0.15, s_3=0.3)


_USER_NN1 = {}


def _random_lattice(rng, kind, N_x, N_y, interface):
    """Random FM / diagonal-bond metal columns (as nnn_kernels.random_nnn_lattice, without (2, 0) bonds)."""
    if not _USER_NN1:
        _USER_NN1["user"] = random_nnn_model(3, extra=())
    ks = _USER_NN1["user"] if kind == "user" else _models()["nnn"]
    mu = rng.uniform(-1.5, 1.5)
    cols = []
    for _ in range(N_x):
        if rng.random() < 0.35:
            m = rng.normal(size=3)
            cols.append(Column(_models()["fm"], dict(t=rng.uniform(0.5, 1.5), mu=mu, m_x=m[0], m_y=m[1], m_z=m[2]), label="FM"))
        else:
            p = metal_params(rng, mu)
            cols.append(Column(ks, {k: v for k, v in p.items() if k in ks.parameters}, label="M"))
    return Lattice(cols, N_y, interface)


def _user_column(seed=3):
    return Column(random_nnn_model(seed, extra=()), dict(USER))


def _finite_lead_surface_from_bloch(column, k, z, side, L):
    """Surface block of (z - h(k))^-1 of an L-column lattice of ``column`` (h(k) from bloch_hamiltonians)."""
    lat = Lattice([column] * L, 1)
    h = bloch_hamiltonians(lat, [k])[0]
    d = lat.dim
    G = np.linalg.inv(z * np.eye(L * d) - h)
    return G[(L - 1) * d :, (L - 1) * d :] if side == "left" else G[:d, :d]


def test_h01_phase_convention_matches_bloch():
    col = _user_column()
    lead = Lead.from_column(col)
    assert lead.has_diagonal_bonds and not lead.coupling_hermitian and not lead.k_even
    k = np.array([0.0, 0.4, 2.2, -1.3])
    h = bloch_hamiltonians(Lattice([col] * 2, 1), k).reshape(k.size, 2, 3, 2, 3)
    np.testing.assert_allclose(lead.h01(k), h[:, 0, :, 1, :], atol=1e-14)
    np.testing.assert_allclose(lead.h00(k), h[:, 0, :, 0, :], atol=1e-14)
    with pytest.raises(ValueError, match="depends on k"):
        lead.coupling_into_bulk("left")


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("which", ["user", "nnn"])
def test_surface_green_with_k_dependent_coupling_matches_long_finite_lead(side, which):
    col = _user_column() if which == "user" else Column(nnn_orbital(), dict(NNN))
    lead = Lead.from_column(col)
    k = np.array([0.3, 1.9, -2.6])
    z = np.array([-0.7 + 0.35j, 0.4 + 0.35j])
    g = lead.surface_green(k, z, side)
    for i, kk in enumerate(k):
        for j, zz in enumerate(z):
            np.testing.assert_allclose(g[i, j], _finite_lead_surface_from_bloch(col, kk, zz, side, 150), atol=1e-11)


@pytest.mark.parametrize("mu", [-1.0, 0.3])
def test_clean_lead_transmission_is_open_channels_with_diagonal_bonds(mu):
    for col in (_user_column(), Column(nnn_orbital(), {**NNN, "mu": mu})):
        lat = Lattice([col] * 3, 7)
        lead = Lead.from_column(col)
        osys = OpenSystem(lat, lead, lead)
        E = np.array([0.0, 0.37]) if col.kernels.model.startswith("random") else np.array([0.0])
        T = osys.transmission(E)
        for j, e in enumerate(E):
            np.testing.assert_allclose(T[:, j], open_channels(lead, osys.k, e), atol=1e-7)
        assert T.max() >= 1


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["nnn", "user"]), interface=st.sampled_from(["fm", "metal"]), T=st.sampled_from([0.0, 0.05]))
def test_steady_state_balance_with_diagonal_bonds(seed, kind, interface, T):
    """Driven state with diagonal bonds: d<J>/dt = -div j + tau = 0 at every interior column (all
    bonds summed), the diagonal hopping torque is present, and the current through every column
    boundary ((1, 0) + (1, +-1) bonds) equals the Landauer current."""
    rng = np.random.default_rng(seed)
    lat = _random_lattice(rng, kind, int(rng.integers(3, 6)), int(rng.integers(2, 5)), interface)
    osys = OpenSystem(lat, Lead.from_column(lat.columns[0]), Lead.from_column(lat.columns[-1]))
    pairs = lat.offset_pairs(KERNEL_NAMES)
    dxs = sorted({p[0] for p in pairs})
    E, w = window_rule(0.3, -0.2, T, 20)
    blocks, trans = osys.scattering_blocks(E, w, 0 * w, dxs)
    eq, _ = osys.equilibrium_blocks(-0.2, 0.05, dxs)
    for dx in dxs:
        blocks[dx] += eq[dx]
    obs = Observables(lat, bands_from_blocks(blocks, osys.k, osys.weights, lat.N_y, pairs, osys.symmetric))
    scale = max(1.0, float(np.abs(obs.boundary_current(None)).max()))
    for p in POLARIZATIONS:
        np.testing.assert_allclose(obs.time_derivative(p)[1:-1], 0, atol=1e-10 * scale)
        if p is not None:
            for k_ in ("bond", "forward"):
                tq = obs.torques(p, k_)
                lhs = -obs.divergence(p, k_) + tq["total"]
                np.testing.assert_allclose(lhs[1:-1], 0, atol=1e-10 * scale)
    landauer = osys.weights @ (trans @ w) / (2 * np.pi * lat.N_y)
    np.testing.assert_allclose(obs.boundary_current(None), landauer, atol=1e-10)
    if lat.has_diagonal_bonds and lat.N_x > 1:
        # without the diagonal bonds the x-bond current alone would not carry the Landauer current
        assert any(np.abs(obs.bond_current(None, b)).max() > 1e-6 for b in ((1, 1), (1, -1))) or abs(landauer) < 1e-6


def test_region_solver_accepts_both_hop_shapes():
    rng = np.random.default_rng(1)
    nb, M, d = 3, 4, 2
    diag = rng.normal(size=(nb, M, d, d)) + 0j
    diag = diag + np.conj(np.swapaxes(diag, -1, -2))
    hop = rng.normal(size=(M - 1, d, d)) + 1j * rng.normal(size=(M - 1, d, d))
    s = -0.3j * np.eye(d)[None].repeat(nb, 0)
    z = np.array([0.1, 0.2, 0.3]) + 0j
    a = dense_region_solver(z, diag, hop, s, s, (0, 1))
    b = dense_region_solver(z, diag, np.broadcast_to(hop, (nb, M - 1, d, d)), s, s, (0, 1))
    for x, y in ((a.first, b.first), (a.last, b.last), (a.bands[1], b.bands[1])):
        np.testing.assert_allclose(x, y, atol=1e-14)
    # per-batch hops differ: the result must follow each batch point's own hop
    hops = np.stack([hop, 2 * hop, hop.conj()])
    c = dense_region_solver(z, diag, hops, s, s, (0,))
    one = dense_region_solver(z[1:2], diag[1:2], 2 * hop, s[1:2], s[1:2], (0,))
    np.testing.assert_allclose(c.bands[0][1], one.bands[0][0], atol=1e-14)


def test_strip_hamiltonian_with_diagonal_bonds_is_real_space_without_wrapping_bonds():
    rows = 4
    lat = Lattice([_user_column(), _user_column(5), _user_column()], rows)
    h = dense_hamiltonian(lat).reshape(3, rows, 3, 3, rows, 3)
    y = np.arange(rows)
    wrap = np.abs(y[:, None] - y[None, :]) == rows - 1  # bonds between rows 0 and N_y - 1 close the ring

    mask = np.broadcast_to(wrap[None, :, None, None, :, None], h.shape)
    ref = np.where(mask, 0, h).reshape(36, 36)
    np.testing.assert_allclose(strip_hamiltonian(strip_lattice(lat)), ref, atol=1e-14)


def test_bonds_skipping_a_column_are_refused():
    ks = random_nnn_model(2, extra=((2, 0),))
    col = Column(ks, dict(USER))
    with pytest.raises(ValueError, match=r"\(2, 0\).*dx >= 2"):
        Lead.from_column(col)
    lat = Lattice([col] * 3, 3)
    plain = _user_column()
    with pytest.raises(ValueError, match=r"\(2, 0\).*pentadiagonal"):
        OpenSystem(lat, Lead.from_column(plain), Lead.from_column(plain))
    with pytest.raises(ValueError, match=r"\(2, 0\)"):
        strip_lattice(lat)


@pytest.mark.parametrize("kind", ["nnn", "user", "nn"])
def test_k_even_flag_matches_bloch_hamiltonians(kind):
    """Lattice.y_hermitian (block-wise, no dense (N_x dim)^2 matrix) == [h(-k) == h(k)] from bloch."""
    from lattices import random_lattice

    for seed in range(6):
        rng = np.random.default_rng(seed)
        if kind == "nn":
            lat = random_lattice(rng, "orbital", 3, 3, "fm")
        else:
            lat = _random_lattice(rng, kind, 3, 3, "fm" if seed % 2 else "metal")
            if kind == "nnn" and seed % 3 == 0:  # s_3 = 0: t_(1,1) = t_(1,-1), h(-k) = h(k)
                cols = [Column(c.kernels, {**c.params, "s_3": 0.0} if "s_3" in c.params else c.params, label=c.label) for c in lat.columns]
                lat = Lattice(cols, 3, lat.interface)
        k = np.array([0.4, 1.3, 2.8])
        even = np.allclose(bloch_hamiltonians(lat, k), bloch_hamiltonians(lat, -k), rtol=0, atol=1e-13)
        assert lat.y_hermitian == even, (kind, seed)


def test_rgf_region_solver_with_k_dependent_coupling():
    """The RGF region solver (orbsym.numeric.rgf) on a lattice with diagonal bonds (per-k, non-Hermitian
    h_{x,x+1}(k)) returns the dense solver's blocks at real energies and at poles."""
    from orbsym.numeric.rgf import rgf_region_solver

    rng = np.random.default_rng(11)
    lat = _random_lattice(rng, "nnn", 5, 4, "fm")
    lead = Lead.from_column(lat.columns[0]), Lead.from_column(lat.columns[-1])
    dense, rgf = (OpenSystem(lat, *lead, solver=s) for s in (dense_region_solver, rgf_region_solver))
    assert rgf.k_dependent_hop
    z = np.array([0.35, -0.8, 0.1 + 0.3j])
    for dxs in ((), (-1, 0, 1)):
        for (ka, za, _, _, a), (kb, zb, _, _, b) in zip(dense.greens(z, dxs), rgf.greens(z, dxs)):
            assert np.array_equal(ka, kb) and np.array_equal(za, zb)
            scale = np.abs(a.first).max()
            for x, y in [(a.first, b.first), (a.last, b.last)] + [(a.bands[dx], b.bands[dx]) for dx in dxs]:
                np.testing.assert_allclose(y, x, atol=1e-11 * scale)
