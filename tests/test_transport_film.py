"""Transport through films (issue 19): leads along x carrying the transverse group (periodic y and z).

The reference here is an independent per-(k_y, k_z) chain computation written in this file: the
blocks ``h_{x,x'}(k_y, k_z)`` of the leaded film are assembled by hand from the columns' Hamiltonian
kernels (bond owners by :func:`tests.film_realspace.bond_owner`), the leads' surface Green's functions
come from a Lopez-Sancho decimation written here, and the transmission and the nonequilibrium
densities from a dense inverse of the chain -- no orbsym lattice, sector, lead or NEGF code.
"""

import numpy as np
import pytest
import sympy as sp

from orbsym.numeric.budget import ResourceError, film_sector_count
from orbsym.symbolic.generators import t2g_L
from orbsym.symbolic.models import SYMBOLS, Model, ferromagnet
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


def test_z_symmetric_film_against_per_k_chain():
    """A cubic film (sector(-k_z) = sector(k_z): only 0 <= k_z <= pi solved, cos(k_z dz) phases) against the
    chain on the full (k_y, k_z) grid: linear response at T = 0, conductance and densities to 1e-8."""
    s = heterostructure([layer("nm", 1, gamma=0.3), layer("fm", 1, m=(0.6, 0.0, 0.8)), layer("nm", 1, gamma=0.5)], N_y=3, N_z=4)
    res = transport(attach_leads(s), T=0.0, eta=ETA)
    assert res.info["k_z_symmetric"] and res.info["k_z_sectors"] == 3
    states, n, d = chain_state(s, s.lattice.columns[0], s.lattice.columns[-1], 0.0)
    cells = s.lattice.N_y * s.lattice.N_z
    assert abs(res.conductance()["total"] - sum(T for T, _, _ in states) / cells) < 1e-8
    gens = _gens(s)
    for name, p in POLS.items():
        J = np.eye(d) if p is None else gens[p]
        ref = sum(column_density((AL - AR) / (4 * np.pi), n, d, J) for _, AL, AR in states) / cells
        np.testing.assert_allclose(res.densities()[name], ref[1:-1], rtol=0, atol=1e-8, err_msg=name)


def test_film_adaptive_energy_rule():
    """energy_tol refines the film's conductance (all sectors on one rule): the result equals a run with the
    final nodes, its half-rule value a run with half of them."""
    s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m="y")], N_y=3, N_z=2)
    leaded = attach_leads(s)
    r = transport(leaded, T=0.05, energy_tol=1e-4)
    e = r.info["energy_error_estimate"]
    n = r.energies[0].size
    assert e["converged"] and n > 16 and all(E.size == n for E in r.energies)
    assert abs(transport(leaded, T=0.05, n_energy=n).conductance()["total"] - r.conductance()["total"]) < 1e-12
    assert abs(transport(leaded, T=0.05, n_energy=n // 2).conductance()["total"] - e["half_rule_value"]) < 1e-12


def test_film_bias_balance_and_period_two_leads():
    """A film under a finite bias at T > 0 keeps the steady-state balance at every column and polarization;
    leads regrouped in cells of two columns (``period=2``) give the same state."""
    s = skew_film(N_y=3, N_z=2)
    c0, cN = s.lattice.columns[0], s.lattice.columns[-1]
    one = transport(attach_leads(s), T=0.05, bias=0.12, n_energy=20)
    bal = one.continuity_residual()
    assert max(bal.values()) < 1e-10, bal
    assert abs(one.landauer_current()) > 1e-3
    # the charge current is the same through every slice boundary and equals the Landauer current
    np.testing.assert_allclose(one.currents("bond")["charge"], one.landauer_current(), rtol=0, atol=1e-10)
    # hopping torques of a film include the z bonds
    tq = one.torques()["z"]
    assert set(tq) >= {"exchange", "bond_x", "bond_y", "bond_z", "bond_diagonal", "total"}
    np.testing.assert_allclose(-one.divergence()["z"] + tq["total"], 0.0, atol=1e-10)
    two = transport(attach_leads(s, left=(c0, c0), right=(cN, cN), period=2), T=0.05, bias=0.12, n_energy=20)
    assert two.leaded.period == 2 and max(two.continuity_residual().values()) < 1e-10
    for name in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(two.densities()[name], one.densities()[name], rtol=0, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(two.currents("bond")[name], one.currents("bond")[name], rtol=0, atol=1e-9, err_msg=name)
    assert abs(two.landauer_current() - one.landauer_current()) < 1e-10


def fold(model):
    """The 2D model of a 3D model at k_z = 0 with N_z = 1: ``t_(dx,dy) = sum_dz t_(dx,dy,dz)``, on-site
    ``eps + sum_dz (t_(0,0,dz) + h.c.)`` (written out here, symbolically)."""
    onsite = sp.Matrix(model.onsite)
    hops = {}
    for (dx, dy, dz), m in model.hoppings.items():
        if dx == 0 and dy == 0:
            onsite += m + m.H
        else:
            hops[(dx, dy)] = hops.get((dx, dy), sp.zeros(model.dim)) + m
    return Model(model.name + "-folded", model.generators, hops, onsite, model.description, model.magnetization)


@pytest.mark.parametrize("bias", [None, 0.1])
def test_film_with_one_z_cell_equals_the_folded_2d_system(bias):
    """N_z = 1: the film is the 2D system of the folded models (on-site + t_z + t_z^dag, z-diagonal bonds
    added to their in-plane offset), to 1e-12: conductance, densities, currents, torques."""
    metal = dict(a=0.35, b=0.2, c=0.15)
    fm3 = ferromagnet(t2g_L(), dimension=3)
    film = heterostructure([layer(skew_metal(), 2, **metal), layer(fm3, 1, m=(0.3, -0.8, 0.5)), layer(skew_metal(), 1, **metal)], N_y=4, N_z=1, mu=-0.4)
    flat = heterostructure([layer(fold(skew_metal()), 2, **metal), layer(fold(fm3), 1, m=(0.3, -0.8, 0.5)), layer(fold(skew_metal()), 1, **metal)], N_y=4, mu=-0.4)
    kw = dict(T=0.05) if bias is None else dict(T=0.05, bias=bias, n_energy=10)
    rf, r2 = transport(attach_leads(film), **kw), transport(attach_leads(flat), **kw)
    assert rf.leaded.is_film and not r2.leaded.is_film
    if bias is None:
        assert abs(rf.conductance()["total"] - r2.conductance()["total"]) < 1e-12
    assert abs(rf.landauer_current() - r2.landauer_current()) < 1e-12
    for name in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(rf.densities()[name], r2.densities()[name], rtol=0, atol=1e-12, err_msg=name)
        for kind in ("bond", "forward", "eq7") if name != "charge" else ("bond",):
            np.testing.assert_allclose(rf.currents(kind)[name], r2.currents(kind)[name], rtol=0, atol=1e-12, err_msg=f"{kind} {name}")
        if name != "charge":  # totals agree; the folded on-site t_z + t_z^dag moves the z-bond torque into the 2D "exchange"
            tf, t2 = rf.torques()[name], r2.torques()[name]
            np.testing.assert_allclose(tf["total"], t2["total"], rtol=0, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(tf["exchange"] + tf["bond_z"], t2["exchange"], rtol=0, atol=1e-12, err_msg=name)
    assert max(rf.continuity_residual().values()) < 1e-10


def test_film_transport_refusals_and_estimate(monkeypatch):
    """Refusals (open width, 2D leads, misplaced k_z, 45-degree regrouping of a film) and the film
    resource estimate: n_sectors times the 2D one, refused before any work with the estimate."""
    s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m="x")], N_y=3, N_z=4)
    with pytest.raises(ValueError, match="not defined for films"):
        attach_leads(s, width="open")
    flat = heterostructure([layer("nm", 2, gamma=0.3)], N_y=3)
    with pytest.raises(ValueError, match="2D bond offsets"):
        attach_leads(s, left=flat.lattice.columns[0])
    # a lead layer is built as a film column (same N_z); its state is balanced
    other = transport(attach_leads(s, left=layer("nm", 1, gamma=0.6)), T=0.0)
    assert other.leaded.left.N_z == 4 and other.leaded.left.column.params["gamma"] == 0.6
    assert max(other.continuity_residual().values()) < 1e-10
    leaded = attach_leads(s)
    with pytest.raises(ValueError, match="give k_z"):
        leaded.solve_parts()
    with pytest.raises(ValueError, match="2D system"):
        attach_leads(flat).solve_parts(0.0)
    res = transport(leaded, T=0.0)
    with pytest.raises(ValueError, match="film"):
        crystal_bond_torques(res, "z")
    assert res.currents("bond", "z")["z"].shape == (s.lattice.N_x,)
    with pytest.raises(ValueError, match="current direction"):
        transport(attach_leads(flat), T=0.0).currents("bond", "z")
    # the estimate: one 2D estimate per k_z sector (N_z // 2 + 1 when sector(-k_z) = sector(k_z))
    flat_est = transport_resources(5, 64, 3, T=0.01)
    for sym in (True, False):
        est = transport_resources(5, 64, 3, T=0.01, N_z=32, z_symmetric=sym)
        n = film_sector_count(32, sym)
        assert n == (17 if sym else 32)
        assert est.seconds == pytest.approx(n * flat_est.seconds, rel=1e-12) and est.bytes >= flat_est.bytes
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(0.5 * transport_resources(2, 3, 3, period=1, T=0.0, N_z=4).seconds))
    import orbsym.transport as tr

    monkeypatch.setattr(tr, "OpenSystem", lambda *a, **k: pytest.fail("work started before the resource check"))
    with pytest.raises(ResourceError, match="k_z sectors"):
        transport(leaded, T=0.0)
