"""The film slow path (tests/film_realspace.py) against today's 2D dense path and the k_z folding identity.

(a) 2D models (symbolic kernels of the paper's models, NumPy kernels with diagonal and (2, 0)
    bonds), N_z = 1: H, F, N and every kernel equal orbsym.numeric.realspace, both interface rules;
    the direct rate equals orbsym's ``angular_momentum_rate`` on random states.
(b) 3D films of hand-built KernelSets with 3-tuple offsets (x, y, z and diagonal bonds): the exact
    balance ``film_rate = torque_onsite + sum of eom pieces`` on random states; a film without z
    hopping equals N_z copies of the 2D film; with z hopping, F, N, densities and the currents summed
    over the bonds that cross a column boundary equal the k_z average of the folded 2D model
    ``t_(dx,dy)(k_z) = sum_dz t_(dx,dy,dz) e^{i k_z dz}`` solved by orbsym.numeric.realspace.
"""

import numpy as np
import pytest
from film_realspace import (
    MAX_STATES,
    bond_owner,
    film_correlations,
    film_hamiltonian,
    film_kernel,
    film_kernel_rate,
    film_rate,
    hand_kernelset,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import all_kernel_values
from nnn_kernels import nnn_bilayer, random_nnn_lattice
from numeric_kernels import L_T2G, PAULI

from orbsym.numeric import POLARIZATIONS, Column, Lattice, angular_momentum_rate, dense_hamiltonian, solve_realspace
from orbsym.systems import bilayer, trilayer

REQUIRED = ("density", "current", "source", "torque_onsite", "eom_start", "eom_end")


# ---------------------------------------------------------------------------- 3D models
def _e(i, n=3):
    m = np.zeros((n, n), complex)
    m[i, i] = 1
    return m


_RNG = np.random.default_rng(19)
_C1 = 0.3 * (_RNG.normal(size=(3, 3)) + 1j * _RNG.normal(size=(3, 3)))  # a generic complex diagonal hop
_C2 = 0.3 * (_RNG.normal(size=(2, 2)) + 1j * _RNG.normal(size=(2, 2)))
X3, Y3, Z3, XZ, YmZ = (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, -1)


def metal_3d(basis):
    """Cubic t2g metal (t_x = diag(-g, -t, -t), t_y = diag(-t, -g, -t), t_z = diag(-t, -t, -g)) or a
    3D altermagnet (t_x = -t + w sz, t_y = -t - w sz, t_z = -t), both with diagonal bonds (1, 0, 1)
    (generic complex) and (0, 1, -1)."""
    if basis == "orbital":
        I = np.eye(3)
        hops = {
            X3: {"gamma": -_e(0), "t": -_e(1) - _e(2)},
            Y3: {"gamma": -_e(1), "t": -_e(0) - _e(2)},
            Z3: {"gamma": -_e(2), "t": -_e(0) - _e(1)},
            XZ: {"s": _C1},
            YmZ: {"s": 0.5 * I + 0.2j * L_T2G[2]},
        }
        return hand_kernelset("metal-3d", L_T2G, 1, hops, {"mu": -I})
    I, sz = np.eye(2), PAULI[2]
    hops = {X3: {"t": -I, "w": sz}, Y3: {"t": -I, "w": -sz}, Z3: {"t": -I}, XZ: {"s": _C2}, YmZ: {"s": 0.3 * I}}
    return hand_kernelset("am-3d", PAULI, 2, hops, {"mu": -I})


def fm_3d(basis):
    """Isotropic FM on (1, 0, 0), (0, 1, 0), (0, 0, 1) (no diagonal bonds), on-site -mu - m.J."""
    gens, norm = (L_T2G, 1) if basis == "orbital" else (PAULI, 2)
    n = gens.shape[1]
    onsite = {"mu": -np.eye(n)}
    onsite.update({f"m_{a}": -g for a, g in zip("xyz", gens)})
    return hand_kernelset("fm-3d", gens, norm, {d: {"t": -np.eye(n)} for d in (X3, Y3, Z3)}, onsite)


_MODELS = {}


def models(basis):
    if basis not in _MODELS:
        _MODELS[basis] = (metal_3d(basis), fm_3d(basis))
    return _MODELS[basis]


def film_columns(basis, N_x, seed, pattern=None):
    """FM / metal ... / FM columns of the 3D models (random m per FM, shared mu)."""
    metal, ferro = models(basis)
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-1.0, 0.5)
    pattern = pattern or "F" + "M" * (N_x - 2) + "F"
    cols = []
    for kind in pattern:
        if kind == "F":
            m = rng.normal(size=3)
            cols.append((ferro, dict(t=rng.uniform(0.7, 1.3), mu=mu, m_x=m[0], m_y=m[1], m_z=m[2]), True))
        else:
            p = dict(t=rng.uniform(0.7, 1.3), gamma=rng.uniform(0.0, 1.0), w=rng.uniform(-0.5, 0.5), s=rng.uniform(-0.8, 0.8), mu=mu)
            cols.append((metal, {k: v for k, v in p.items() if k in metal.parameters}, False))
    return cols


def random_state(n, seed):
    """Random Hermitian <c^dag c> with eigenvalues in [0, 1] (a non-equilibrium state)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    _, U = np.linalg.eigh(A + A.conj().T)
    return (U * rng.uniform(0, 1, n)) @ U.conj().T


# ---------------------------------------------------------------------------- (a) 2D vs today's dense path
def _systems():
    rng = np.random.default_rng(7)
    out = []
    for interface in ("fm", "metal"):
        out += [
            (f"orbital-trilayer-{interface}", lambda i=interface: trilayer(gamma=0.4, m_L=(0.3, 1.1), m_R=(1.9, 0.4), N_x=4, N_y=3, mu=-0.3, interface=i).lattice),
            (f"spin-AM-trilayer-{interface}", lambda i=interface: trilayer("spin", metal="am", w=0.35, m_L="x", m_R=(1.0, 2.0), N_x=4, N_y=3, interface=i).lattice),
            (f"NM/FM-Ny2-{interface}", lambda i=interface: bilayer("nm", m_FM=(0.4, 0.2), gamma=0.6, N_x=3, N_y=2, interface=i).lattice),
            (f"NM/FM-Ny1-{interface}", lambda i=interface: bilayer("nm", m_FM=(1.2, 0.5), gamma=0.2, N_x=3, N_y=1, interface=i).lattice),
            (f"nnn-random-{interface}", lambda i=interface, s=int(rng.integers(1 << 30)): random_nnn_lattice(np.random.default_rng(s), "user", 5, 3, i)),
            (f"nnn-bilayer-{interface}", lambda i=interface: Lattice(nnn_bilayer(i).columns, 3, i)),
        ]
    return out


SYSTEMS = _systems()


@pytest.mark.parametrize("make", [s[1] for s in SYSTEMS], ids=[s[0] for s in SYSTEMS])
def test_2d_film_equals_dense_realspace(make):
    """N_z = 1: H, F, N and every kernel (all polarizations, all bonds incl. (1, +-1), (2, 0)) equal
    orbsym.numeric.realspace to 1e-10, with the film helper's own Fermi state and ownership rule
    (T = 0 with interface 'fm', T = 0.05 with 'metal')."""
    lat = make()
    T = 0.0 if lat.interface == "fm" else 0.05
    cols, Ny, iface = lat.columns, lat.N_y, lat.interface
    H = film_hamiltonian(cols, Ny, 1, iface)
    np.testing.assert_allclose(H, dense_hamiltonian(lat), rtol=0, atol=1e-14)
    rho, F, N = film_correlations(H, T, N_y=Ny, N_z=1)
    slow = solve_realspace(lat, T)
    assert F == pytest.approx(slow.free_energy(), abs=1e-10)
    assert N == pytest.approx(slow.particle_number(), abs=1e-10)
    ref = all_kernel_values(lat, slow.observables)
    assert set(REQUIRED) <= {k[0] for k in ref}
    assert {k[2] for k in ref} >= set(lat.bonds) | {None}
    for (name, pol, bond), want in ref.items():
        got = film_kernel(cols, rho, Ny, 1, name, pol, bond, iface)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10, err_msg=f"{name} {pol} {bond}")


@pytest.mark.parametrize("make", [s[1] for s in SYSTEMS], ids=[s[0] for s in SYSTEMS])
def test_2d_rate_equals_orbsym_rate_and_kernel_balance(make):
    """Random state: the direct rate equals orbsym's i Tr(rho_1 [h, J_n]) (rho_1 = rho^T) and the
    kernels' balance in all three splits (eom pieces, bond current + torque, forward current +
    torques); the Fermi state has rate 0."""
    lat = make()
    cols, Ny, iface = lat.columns, lat.N_y, lat.interface
    H = film_hamiltonian(cols, Ny, 1, iface)
    G = random_state(H.shape[0], 3)
    fermi = film_correlations(H, 0.02, N_y=Ny, N_z=1).rho
    for p in POLARIZATIONS:
        rate = film_rate(cols, G, H, Ny, 1, p)
        assert np.abs(rate).max() > 1e-3
        np.testing.assert_allclose(rate, angular_momentum_rate(lat, H, G.T, p).mean(axis=1), rtol=0, atol=1e-12)
        for kind in ("eom", "bond", "forward"):
            np.testing.assert_allclose(film_kernel_rate(cols, G, Ny, 1, p, iface, kind), rate, rtol=0, atol=1e-12, err_msg=f"{p} {kind}")
        np.testing.assert_allclose(film_rate(cols, fermi, H, Ny, 1, p), 0, atol=1e-12)


def test_rate_convention_rho_not_transposed():
    """film_rate takes <c_a^dag c_b>: passing the one-body density matrix (its transpose) instead
    gives a different number for a complex state, so the convention is pinned."""
    cols = film_columns("orbital", 3, 1)
    H = film_hamiltonian(cols, 3, 2)
    G = random_state(H.shape[0], 4)
    a, b = film_rate(cols, G, H, 3, 2, "z"), film_rate(cols, G.T, H, 3, 2, "z")
    assert np.abs(a - b).max() > 1e-3
    np.testing.assert_allclose(a, film_kernel_rate(cols, G, 3, 2, "z"), atol=1e-12)


def test_hand_kernelset_equals_symbolic_kernels():
    """hand_kernelset (used for every 3D test) gives the same value of all ten kernels as the
    symbolic layer's derivation, on a random state: a metal with complex, non-Hermitian hoppings
    (t_d and t_d^dag enter differently in the forward/backward currents) between paper FMs."""
    import sympy as sp

    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.generators import t2g_L
    from orbsym.symbolic.models import Model

    s, t, mu = sp.symbols("s t mu", real=True)
    C = sp.Matrix([[sp.I, sp.Rational(1, 2), 0], [sp.I / 3, 0, 0], [0, 0, 0]])
    sym_metal = kernels(Model("cplx", t2g_L(), {"x": -t * sp.eye(3) + s * C, "y": -t * sp.eye(3) + s * C.T}, -mu * sp.eye(3)))
    sym_fm = trilayer(N_x=3, N_y=1).lattice.columns[0].kernels
    Cn = np.array(C.evalf(), dtype=complex)
    I = np.eye(3)
    metal = hand_kernelset("cplx", L_T2G, 1, {(1, 0): {"t": -I, "s": Cn}, (0, 1): {"t": -I, "s": Cn.T}}, {"mu": -I})
    onsite = {"mu": -I}
    onsite.update({f"m_{a}": -g for a, g in zip("xyz", L_T2G)})
    ferro = hand_kernelset("fm", L_T2G, 1, {(1, 0): {"t": -I}, (0, 1): {"t": -I}}, onsite)
    pm, pf = dict(t=0.9, s=0.4, mu=-0.3), dict(t=1.1, mu=-0.3, m_x=0.3, m_y=-0.8, m_z=0.5)
    for iface in ("fm", "metal"):
        sym = [(sym_fm, pf, True), (sym_metal, pm, False), (sym_metal, pm, False), (sym_fm, pf, True)]
        hand = [(ferro, pf, True), (metal, pm, False), (metal, pm, False), (ferro, pf, True)]
        H = film_hamiltonian(hand, 3, 1, iface)
        np.testing.assert_allclose(H, film_hamiltonian(sym, 3, 1, iface), rtol=0, atol=1e-14)
        G = random_state(H.shape[0], 9)
        assert len({k[0] for k in metal.operators}) == 10
        for ks in (metal, ferro):
            for name, pol, bond in ks.operators:
                want = film_kernel(sym, G, 3, 1, name, pol, bond, iface)
                assert np.abs(want).max() > 1e-3 or name == "torque_onsite" or (pol, name) == (None, "source")
                got = film_kernel(hand, G, 3, 1, name, pol, bond, iface)
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"{iface} {name} {pol} {bond}")


# ---------------------------------------------------------------------------- (b) 3D films
@settings(max_examples=8)
@given(
    basis=st.sampled_from(["orbital", "spin"]),
    interface=st.sampled_from(["fm", "metal"]),
    N_y=st.integers(1, 3),
    N_z=st.integers(1, 3),
    pattern=st.sampled_from(["FMMF", "MFM", "MMF", "FMM"]),
    seed=st.integers(0, 1000),
)
def test_3d_balance_on_random_states(basis, interface, N_y, N_z, pattern, seed):
    """Exact continuity in a 3D film (z and diagonal bonds, periodic wrap in y and z, ownership):
    i Tr(rho_1 [H, J_n]) = torque_onsite + sum_d [eom_start(x, d) + eom_end(x - dx, d)] (and the
    bond and forward current/torque splits) at every column, for a random state; 0 = 0 for the
    Fermi state."""
    cols = film_columns(basis, len(pattern), seed, pattern)
    H = film_hamiltonian(cols, N_y, N_z, interface)
    G = random_state(H.shape[0], seed)
    fermi = film_correlations(H, 0.0, N_y=N_y, N_z=N_z).rho
    for p in POLARIZATIONS:
        rate = film_rate(cols, G, H, N_y, N_z, p)
        assert np.abs(rate).max() > 1e-3
        for kind in ("eom", "bond", "forward"):
            np.testing.assert_allclose(film_kernel_rate(cols, G, N_y, N_z, p, interface, kind), rate, rtol=0, atol=1e-12, err_msg=f"{p} {kind}")
        np.testing.assert_allclose(film_rate(cols, fermi, H, N_y, N_z, p), 0, atol=1e-11)
        np.testing.assert_allclose(film_kernel_rate(cols, fermi, N_y, N_z, p, interface), 0, atol=1e-11)


def test_3d_per_position_rate_on_random_state():
    """Site by site (no transverse average) the direct rate is nonzero and its column mean is film_rate."""
    cols = film_columns("orbital", 3, 2)
    H = film_hamiltonian(cols, 3, 3, "metal")
    G = random_state(H.shape[0], 5)
    r = film_rate(cols, G, H, 3, 3, "x", per_position=True)
    assert r.shape == (3, 3, 3) and np.ptp(r[1]) > 1e-3
    np.testing.assert_allclose(r.mean(axis=(1, 2)), film_rate(cols, G, H, 3, 3, "x"), atol=1e-14)


def _drop_z(ks3, basis):
    """The same model with only its in-plane bonds: 3D offsets (dx, dy, 0) and the 2D copy (dx, dy)."""
    out = []
    for D in (3, 2):
        hops = {}
        for d in ks3.bonds:
            if d[2] == 0:
                hops[d[:D]] = {t.coefficient: t.matrix for t in ks3.hamiltonian[d].terms}
        onsite = {t.coefficient: t.matrix for t in ks3.hamiltonian["onsite"].terms}
        gens, norm = (L_T2G, 1) if basis == "orbital" else (PAULI, 2)
        out.append(hand_kernelset(f"{ks3.model}-{D}d", gens, norm, hops, onsite))
    return out


@pytest.mark.parametrize("interface", ["fm", "metal"])
@pytest.mark.parametrize("basis", ["orbital", "spin"])
def test_3d_without_z_hopping_is_Nz_copies_of_2d(basis, interface):
    """No bond with dz != 0: the film is N_z decoupled copies of the 2D strip, so F, N per cell and
    every kernel per site equal the 2D helper's (N_z = 2, 3)."""
    metal, ferro = models(basis)
    (m3, m2), (f3, f2) = _drop_z(metal, basis), _drop_z(ferro, basis)
    cols = film_columns(basis, 4, 11)
    to3 = [(m3 if ks is metal else f3, p, mag) for ks, p, mag in cols]
    to2 = [(m2 if ks is metal else f2, p, mag) for ks, p, mag in cols]
    rho2, F2, N2 = film_correlations(film_hamiltonian(to2, 3, 1, interface), 0.03, N_y=3, N_z=1)
    for N_z in (2, 3):
        rho3, F3, N3 = film_correlations(film_hamiltonian(to3, 3, N_z, interface), 0.03, N_y=3, N_z=N_z)
        assert F3 == pytest.approx(F2, abs=1e-10) and N3 == pytest.approx(N2, abs=1e-10)
        for p in POLARIZATIONS:
            for name in ("density", "torque_onsite"):
                np.testing.assert_allclose(film_kernel(to3, rho3, 3, N_z, name, p, None, interface), film_kernel(to2, rho2, 3, 1, name, p, None, interface), atol=1e-10)
            for b in m2.bonds:
                for name in ("current", "source", "eom_start", "eom_end"):
                    want = film_kernel(to2, rho2, 3, 1, name, p, b, interface)
                    np.testing.assert_allclose(film_kernel(to3, rho3, 3, N_z, name, p, b + (0,), interface), want, atol=1e-10, err_msg=f"{name} {p} {b}")


def _folded_lattice(cols, k, N_y, interface, basis):
    """2D Lattice of the film at k_z = k: each column's model with ``t_(dx,dy) = sum_dz t_(dx,dy,dz) e^{i k dz}``
    (``dx = dy = 0`` goes on site with its h.c.), evaluated numerically (coefficient 1)."""
    gens, norm = (L_T2G, 1) if basis == "orbital" else (PAULI, 2)
    out = []
    for ks, params, mag in cols:
        onsite = ks.hamiltonian["onsite"].blocks(params)[(0, 0, 0), (0, 0, 0)].copy()
        hops = {}
        for d in ks.bonds:
            t = ks.hamiltonian[d].blocks(params)[(0, 0, 0), d] * np.exp(1j * k * d[2])
            if d[:2] == (0, 0):
                onsite += t + t.conj().T
            else:
                hops[d[:2]] = hops.get(d[:2], 0) + t
        ks2 = hand_kernelset(f"{ks.model}-k", gens, norm, {d: {"1": t} for d, t in hops.items()}, {"1": onsite})
        out.append(Column(ks2, {}, magnetic=mag))
    return Lattice(out, N_y, interface)


@pytest.mark.parametrize("N_z", [1, 2, 3])
@pytest.mark.parametrize("interface", ["fm", "metal"])
@pytest.mark.parametrize("basis", ["orbital", "spin"])
def test_3d_equals_kz_average_of_folded_2d(basis, interface, N_z):
    """F, N per cell, densities and the currents summed over every bond crossing a column boundary
    (x: (1, 0, 0) + (1, 0, 1); y: (0, 1, 0) + (0, 1, -1)) equal the average over k_z = 2 pi j / N_z of
    the folded 2D model solved by orbsym.numeric.realspace (N_z = 1, 2: the z ring closing on itself
    / doubling is exactly the k_z = 0 / 0, pi sampling).  T = 0 with interface 'fm', 0.07 with 'metal'."""
    N_x, N_y = 4, 3
    T = 0.0 if interface == "fm" else 0.07
    cols = film_columns(basis, N_x, 5 + N_z)
    rho, F, N = film_correlations(film_hamiltonian(cols, N_y, N_z, interface), T, N_y=N_y, N_z=N_z)
    F2 = N2 = 0.0
    dens, jx, jy = {}, {}, {}
    for j in range(N_z):
        sol = solve_realspace(_folded_lattice(cols, 2 * np.pi * j / N_z, N_y, interface, basis), T)
        o = sol.observables
        F2 += sol.free_energy() / N_z
        N2 += sol.particle_number() / N_z
        for p in POLARIZATIONS:
            dens[p] = dens.get(p, 0) + o.evaluate("density", p) / N_z
            jx[p] = jx.get(p, 0) + o.evaluate("current", p, (1, 0)) / N_z
            jy[p] = jy.get(p, 0) + o.evaluate("current", p, (0, 1)) / N_z
    assert F == pytest.approx(F2, abs=1e-10)
    assert N == pytest.approx(N2, abs=1e-10)
    for p in POLARIZATIONS:
        np.testing.assert_allclose(film_kernel(cols, rho, N_y, N_z, "density", p), dens[p], atol=1e-10)
        x_total = sum(film_kernel(cols, rho, N_y, N_z, "current", p, b, interface) for b in (X3, XZ))
        y_total = sum(film_kernel(cols, rho, N_y, N_z, "current", p, b, interface) for b in (Y3, YmZ))
        np.testing.assert_allclose(x_total, jx[p], atol=1e-10, err_msg=f"x current {p}")
        np.testing.assert_allclose(y_total, jy[p], atol=1e-10, err_msg=f"y current {p}")
    # not a 0 = 0 check: the diagonal x bond carries current wherever its owner has it
    assert np.abs(film_kernel(cols, rho, N_y, N_z, "current", "z", XZ, interface)).max() > 1e-6


def test_3d_ownership_of_diagonal_bond_at_interface():
    """The (1, 0, 1) bond between the FM (no diagonal hopping) and the metal is absent for
    interface='fm' (its kernels are 0 there) and the metal's for 'metal'."""
    cols = film_columns("orbital", 3, 8, "FMM")
    assert bond_owner(cols, 0, 1, "fm") == 0 and bond_owner(cols, 0, 1, "metal") == 1
    assert bond_owner(cols, 1, 1, "fm") == 1 and bond_owner(cols, 0, 2, "fm") == 0 and bond_owner(cols, 0, 2, "metal") == 2
    for iface, zero in (("fm", True), ("metal", False)):
        H = film_hamiltonian(cols, 3, 2, iface)
        rho = film_correlations(H, 0.05, N_y=3, N_z=2).rho
        v = film_kernel(cols, rho, 3, 2, "eom_start", "x", XZ, iface)
        assert (abs(v[0]) < 1e-15) == zero and abs(v[1]) > 1e-6
        blk = H.reshape(3, 3, 2, 3, 3, 3, 2, 3)[0, 0, 0, :, 1, 0, 1, :]  # site (0,0,0) -> (1,0,1)
        np.testing.assert_array_equal(blk, 0 if zero else cols[1][0].hamiltonian[XZ].blocks(cols[1][1])[(0, 0, 0), XZ])


def test_3d_ring_of_one_and_two():
    """N_y = N_z = 1: every in-plane bond closes on the site (t + t^dag adds on site); N_y = 1,
    N_z = 2: the bonds z -> z + 1 and z + 1 -> z (wrap) both join layers 0 and 1 and add up."""
    cols = film_columns("orbital", 1, 3, "M")
    ks, p, _ = cols[0]
    eps = ks.hamiltonian["onsite"].blocks(p)[(0, 0, 0), (0, 0, 0)]
    t = {d: ks.hamiltonian[d].blocks(p)[(0, 0, 0), d] for d in (Y3, Z3, YmZ)}
    herm = {d: m + m.conj().T for d, m in t.items()}
    np.testing.assert_allclose(film_hamiltonian(cols, 1, 1), eps + herm[Y3] + herm[Z3] + herm[YmZ], rtol=0, atol=1e-15)
    H = film_hamiltonian(cols, 1, 2).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(H[0, :, 0, :], eps + herm[Y3], rtol=0, atol=1e-15)
    np.testing.assert_allclose(H[0, :, 1, :], herm[Z3] + herm[YmZ], rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_by_name():
    cols3 = film_columns("orbital", 3, 1)
    metal2 = hand_kernelset("m2", L_T2G, 1, {(1, 0): {"t": -np.eye(3)}, (0, 1): {"t": -np.eye(3)}}, {"mu": -np.eye(3)})
    cols2 = [(metal2, {"t": 1.0, "mu": 0.0}, False)] * 3
    with pytest.raises(ValueError, match="N_z must be 1"):
        film_hamiltonian(cols2, 3, 2)
    with pytest.raises(ValueError, match="2-component offsets|3-component"):
        film_hamiltonian(cols3[:2] + cols2[:1], 3, 1)
    back = hand_kernelset("bad", L_T2G, 1, {(0, 0, -1): {"t": -np.eye(3)}}, {"mu": -np.eye(3)})
    with pytest.raises(ValueError, match="non-canonical"):
        film_hamiltonian([(back, {"t": 1.0, "mu": 0.0}, False)], 3, 3)
    with pytest.raises(ValueError, match="interface"):
        film_hamiltonian(cols3, 3, 2, "left")
    with pytest.raises(ValueError, match="N_y"):
        film_hamiltonian(cols3, 0, 2)
    with pytest.raises(ValueError, match="missing parameter"):
        film_hamiltonian([(cols3[0][0], {"t": 1.0}, True)], 3, 2)
    with pytest.raises(ValueError, match="above"):
        film_hamiltonian(cols3, MAX_STATES, 1)
    H = film_hamiltonian(cols3, 3, 2)
    rho = film_correlations(H, 0.1, N_y=3, N_z=2).rho
    with pytest.raises(ValueError, match="shape"):
        film_kernel(cols3, rho[:-3, :-3], 3, 2, "density", "x")
    with pytest.raises(ValueError, match="not Hermitian"):
        film_rate(cols3, rho + 1e-3j * np.eye(len(rho)), H, 3, 2, "x")
    with pytest.raises(ValueError, match="not a bond offset"):
        film_kernel(cols3, rho, 3, 2, "current", "x", (1, 1, 1))
    with pytest.raises(ValueError, match="kind"):
        film_kernel_rate(cols3, rho, 3, 2, "x", "fm", "central")
    with pytest.raises(ValueError, match="temperature"):
        film_correlations(H, -1.0, N_y=3, N_z=2)
    with pytest.raises(TypeError):
        film_correlations(H, 0.1)  # N_y, N_z are required: F and N are per transverse cell
