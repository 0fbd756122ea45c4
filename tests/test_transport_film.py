"""Transport through films (issue 19): leads along x carrying the transverse group (periodic y and z).

The reference here is an independent per-(k_y, k_z) chain computation written in this file: the
blocks ``h_{x,x'}(k_y, k_z)`` of the leaded film are assembled by hand from the columns' Hamiltonian
kernels (bond owners by :func:`tests.film_realspace.bond_owner`), the leads' surface Green's functions
come from a Lopez-Sancho decimation written here, and the transmission and the nonequilibrium
densities from a dense inverse of the chain -- no orbsym lattice, sector, lead or NEGF code.
"""

import math

import numpy as np
import pytest
import sympy as sp

from orbsym.numeric.budget import ResourceError, film_sector_count
from orbsym.symbolic.generators import t2g_L
from orbsym.symbolic.models import SYMBOLS, Model, ferromagnet, multiorbital_metal
from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, crystal_bond_torques, transport, transport_resources

from film_realspace import bond_owner

t, mu = SYMBOLS["t"], SYMBOLS["mu"]
a_, b_, c_ = sp.symbols("a b c", real=True)

#: Broadening of the leads' surface Green's functions in both computations (decimation converges in
#: ~25 steps, keeping its rounding below 1e-10; orbsym and the chain then solve the same smeared problem).
ETA = 1e-6


def skew_metal():
    """A 3D t2g metal with complex and diagonal bonds, not mirror symmetric in z (the full k_z grid),
    a k_y-dependent x coupling ``(1, 1, 0)`` and a second z neighbour ``(0, 0, 2)``."""
    L = t2g_L()
    return Model(
        "skew3d",
        L,
        {
            "x": sp.diag(-a_, -t, -t) + sp.I * b_ * L.matrices[2],
            "y": sp.diag(-t, -a_, -t) + c_ * sp.ones(3, 3) / 3,
            "z": sp.diag(-t, -t, -a_) + sp.I * c_ * L.matrices[0],
            (1, 0, 1): b_ * sp.eye(3) + sp.I * c_ * L.matrices[1],
            (0, 1, -1): c_ * L.matrices[2],
            (1, 1, 0): -b_ * sp.eye(3),
            (0, 0, 2): 0.5 * b_ * sp.eye(3),
        },
        -mu * sp.eye(3),
    )


def skew_film(N_y=3, N_z=3, interface="fm"):
    metal = dict(a=0.35, b=0.2, c=0.15)
    return heterostructure(
        [layer(skew_metal(), 2, **metal), layer("fm", 1, m=(0.3, -0.8, 0.5)), layer(skew_metal(), 1, **metal)],
        N_y=N_y, N_z=N_z, interface=interface, mu=-0.4,
    )


# ------------------------------------------------------------------ the independent chain computation
def _block(col, key, expected):
    blocks = col.kernels.hamiltonian[key].blocks(col.params)
    return np.asarray(blocks.get(expected, np.zeros((col.kernels.dim,) * 2)), complex)


def chain_blocks(columns, k_y, k_z, interface):
    """Diagonal blocks ``D_x`` and couplings ``V_x = h_{x,x+1}`` of ``h(k_y, k_z)`` for a column list.

    Every bond ``(dx, dy, dz)`` of the owner's model adds ``t e^{i (k_y dy + k_z dz)}`` at block
    ``(x, x + dx)`` and its conjugate at ``(x + dx, x)`` (each bond once)."""
    n, d = len(columns), columns[0].kernels.dim
    zero = (0, 0, 0)
    D = np.array([_block(c, "onsite", (zero, zero)) for c in columns])
    V = np.zeros((max(n - 1, 0), d, d), complex)
    for x in range(n):
        for dx in (0, 1):
            if x + dx >= n:
                continue
            owner = columns[bond_owner(columns, x, dx, interface)]
            for bond in owner.kernels.bonds:
                bond = tuple(int(v) for v in bond)
                if bond[0] != dx:
                    continue
                assert dx in (0, 1), bond
                tb = _block(owner, bond, (zero, bond)) * np.exp(1j * (k_y * bond[1] + k_z * bond[2]))
                if dx == 0:
                    D[x] += tb + tb.conj().T
                else:
                    V[x] += tb
    return D, V


def surface_green(h00, a, b, z, tol=1e-15, max_iter=300):
    """Lopez-Sancho decimation: surface Green's function of a semi-infinite chain with on-site ``h00``,
    coupling ``a`` from a cell into the next (bulk-ward) cell and ``b`` back."""
    d = h00.shape[0]
    a0, b0 = a, b
    eps_s, eps = h00.copy(), h00.copy()
    for _ in range(max_iter):
        g = np.linalg.inv(z * np.eye(d) - eps)
        agb, bga = a @ g @ b, b @ g @ a
        eps_s = eps_s + agb
        eps = eps + agb + bga
        a, b = a @ g @ a, b @ g @ b
        if max(np.abs(a).max(), np.abs(b).max()) < tol:
            break
    else:  # pragma: no cover - the test's energies are generic
        raise RuntimeError("decimation did not converge")
    gs = np.linalg.inv(z * np.eye(d) - eps_s)
    # the Dyson fixed point of the semi-infinite chain, g = (z - h00 - a g b)^-1, and retardedness
    assert np.abs(gs @ (z * np.eye(d) - h00 - a0 @ gs @ b0) - np.eye(d)).max() < 1e-9
    assert np.linalg.eigvalsh(1j * (gs - gs.conj().T)).min() > -1e-9 * max(1.0, np.abs(gs).max())
    return gs


def chain_state(system, lead_left, lead_right, E, eta=ETA):
    """Per (k_y, k_z) on the full grids: transmission and the spectral functions A_L, A_R of the region.

    The chain is ``lead_left`` cells | system columns | ``lead_right`` cells; the solved part is one
    lead cell on each side plus the region (every bond of a region column inside it).
    """
    lat = system.lattice
    cols = [lead_left] + list(lat.columns) + [lead_right]
    Ny, Nz = lat.N_y, lat.N_z
    out = []
    for jy in range(Ny):
        for jz in range(Nz):
            ky, kz = 2 * np.pi * jy / Ny, 2 * np.pi * jz / Nz
            D, V = chain_blocks(cols, ky, kz, lat.interface)
            n, d = D.shape[0], D.shape[1]
            # leads: cells of one column each (h00 = its diagonal block, h01 = its own x coupling)
            Dl, Vl = chain_blocks([lead_left] * 2, ky, kz, lat.interface)
            Dr, Vr = chain_blocks([lead_right] * 2, ky, kz, lat.interface)
            z = E + 1j * eta
            gL = surface_green(Dl[0], Vl[0].conj().T, Vl[0], z)  # left lead: bulk lies toward -x
            gR = surface_green(Dr[0], Vr[0], Vr[0].conj().T, z)
            SL = Vl[0].conj().T @ gL @ Vl[0]
            SR = Vr[0] @ gR @ Vr[0].conj().T
            H = np.zeros((n * d, n * d), complex)
            for x in range(n):
                H[x * d : (x + 1) * d, x * d : (x + 1) * d] = D[x]
                if x + 1 < n:
                    H[x * d : (x + 1) * d, (x + 1) * d : (x + 2) * d] = V[x]
                    H[(x + 1) * d : (x + 2) * d, x * d : (x + 1) * d] = V[x].conj().T
            Sig = np.zeros_like(H)
            Sig[:d, :d] += SL
            Sig[-d:, -d:] += SR
            G = np.linalg.inv(E * np.eye(n * d) - H - Sig)
            GamL, GamR = 1j * (SL - SL.conj().T), 1j * (SR - SR.conj().T)
            G0N = G[:d, -d:]
            T = float(np.trace(GamL @ G0N @ GamR @ G0N.conj().T).real)
            AL = G[:, :d] @ GamL @ G[:, :d].conj().T
            AR = G[:, -d:] @ GamR @ G[:, -d:].conj().T
            out.append((T, AL, AR))
    return out, len(cols), d


def column_density(A, n, d, J):
    """``Tr(J A_xx)`` per column of a chain matrix (``<c^dag J c> = Tr(J rho)``, ``rho_ab = <c_b^dag c_a>``)."""
    return np.array([np.trace(J @ A[x * d : (x + 1) * d, x * d : (x + 1) * d]).real for x in range(n)])


POLS = {"charge": None, "x": 0, "y": 1, "z": 2}


def _gens(system):
    return np.asarray(system.lattice.columns[0].kernels.generators)


def test_film_transport_against_per_k_chain():
    """Transport through a film against a per-(k_y, k_z) chain computation: the T = 0 linear response
    (conductance and the densities of every polarization, split 0.3) and the bias-window part of the
    finite-bias state (densities and Landauer current), to 1e-8."""
    s = skew_film()
    leaded = attach_leads(s)
    assert not leaded.lattice.z_symmetric  # the full k_z grid and the e^{i k_z dz} phases are exercised
    E0, split = 0.0, 0.3
    res = transport(leaded, T=0.0, split=split, eta=ETA)
    states, n, d = chain_state(s, s.lattice.columns[0], s.lattice.columns[-1], E0)
    cells = s.lattice.N_y * s.lattice.N_z
    G = sum(T for T, _, _ in states) / cells
    assert G > 0.5
    assert abs(res.conductance()["total"] - G) < 1e-8
    assert abs(res.landauer_current() - G / (2 * np.pi)) < 1e-8
    gens = _gens(s)
    dens = res.densities()
    for name, p in POLS.items():
        J = np.eye(d) if p is None else gens[p]
        ref = sum(column_density((split * AL - (1 - split) * AR) / (2 * np.pi), n, d, J) for _, AL, AR in states) / cells
        np.testing.assert_allclose(dens[name], ref[1:-1], rtol=0, atol=1e-8, err_msg=name)
        assert np.abs(ref[1:-1]).max() > 1e-3 or name != "charge"

    # finite bias at T = 0, split = 1: the state is rho_eq(mu) + int_mu^{mu+V} dE/2pi A_L(E); the difference
    # to the bias = 0 state is the window part, 10 Gauss-Legendre nodes on [mu, mu + V]
    V = 0.08
    full = transport(leaded, T=0.0, bias=V, split=1.0, n_energy=10, eta=ETA)
    eq = transport(leaded, T=0.0, bias=0.0, eta=ETA)
    xg, wg = np.polynomial.legendre.leggauss(10)
    Es, ws = 0.5 * V * (xg + 1), 0.5 * V * wg
    ref = {name: np.zeros(n) for name in POLS}
    cur = 0.0
    for E, w in zip(Es, ws):
        st, _, _ = chain_state(s, s.lattice.columns[0], s.lattice.columns[-1], E)
        for T, AL, _ in st:
            cur += w * T / (2 * np.pi) / cells
            for name, p in POLS.items():
                J = np.eye(d) if p is None else gens[p]
                ref[name] += w * column_density(AL / (2 * np.pi), n, d, J) / cells
    assert abs(full.landauer_current() - cur) < 1e-8
    df, de = full.densities(), eq.densities()
    for name in POLS:
        np.testing.assert_allclose(df[name] - de[name], ref[name][1:-1], rtol=0, atol=1e-8, err_msg=name)
    # the steady state carries the Landauer current through every slice boundary
    np.testing.assert_allclose(full.currents("bond")["charge"], full.landauer_current(), rtol=0, atol=1e-10)
