"""Slater-Koster builder: the two-centre table against rotated real harmonics, point-group covariance,
Hermiticity, the reduction to the paper's Eq. 3, the shipped sets' published values, refusals."""

import functools
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.materials.model import Atom, TightBinding
from orbsym.materials.slater_koster import (
    BOHR_ANGSTROM,
    MATERIALS,
    PARAMETERS,
    RYDBERG_EV,
    lattice,
    material,
    material_data,
    sk_block,
    slater_koster,
)

RNG = np.random.default_rng(20)
W90 = ("s", "pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy")
L_OF = {"s": 0, "pz": 1, "px": 1, "py": 1, "dz2": 2, "dxz": 2, "dyz": 2, "dx2-y2": 2, "dxy": 2}


# ------------------------------------------------------------------ slow path: real harmonics by hand
def harmonic(label, r):
    """Real harmonic ``label`` (common normalization within a shell) at points r (..., 3)."""
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    return {
        "s": np.ones_like(x),
        "pz": z, "px": x, "py": y,
        "dz2": (3 * z * z - (x * x + y * y + z * z)) / (2 * math.sqrt(3)),
        "dxz": x * z, "dyz": y * z, "dx2-y2": (x * x - y * y) / 2, "dxy": x * y,
    }[label]


def harmonic_rotation(Q, labels=W90):
    """D(Q) with f_a(Q^-1 r) = sum_c f_c(r) D_ca, fitted on random points, block diagonal per l."""
    pts = RNG.normal(size=(40, 3))
    F = np.stack([harmonic(a, pts) for a in labels], -1)
    Frot = np.stack([harmonic(a, pts @ Q) for a in labels], -1)  # Q^-1 r = Q^T r: rows r @ Q
    D = np.zeros((len(labels),) * 2)
    for l in (0, 1, 2):
        idx = [i for i, a in enumerate(labels) if L_OF[a] == l]
        if idx:
            D[np.ix_(idx, idx)] = np.linalg.lstsq(F[:, idx], Frot[:, idx], rcond=None)[0]
    return D


# bond frame (bond along +z): real-harmonic index m, |m| = 0, 1, 2 -> sigma, pi, delta
M_INDEX = {"s": 0, "pz": 0, "px": 1, "py": -1, "dz2": 0, "dxz": 1, "dyz": -1, "dx2-y2": 2, "dxy": -2}
BOND = {0: "sigma", 1: "pi", 2: "delta"}


def bond_frame(labels, V):
    L = "spd"
    B = np.zeros((len(labels),) * 2)
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            if M_INDEX[a] != M_INDEX[b]:
                continue
            la, lb = L_OF[a], L_OF[b]
            lo, hi = sorted((la, lb))
            v = V[f"{L[lo]}{L[hi]}_{BOND[abs(M_INDEX[a])]}"]
            B[i, j] = v if la <= lb else (-1) ** (la + lb) * v
    return B


def rotation_to_z(u):
    """A proper rotation Q with Q u = z."""
    u = u / np.linalg.norm(u)
    a = np.array([1.0, 0, 0]) if abs(u[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(a, u)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    return np.array([e1, e2, u])


def slow_block(d, V, labels=W90):
    Q = rotation_to_z(d)
    D = harmonic_rotation(Q, labels)
    return D.T @ bond_frame(labels, V) @ D


def random_params():
    return {k: float(v) for k, v in zip(PARAMETERS, RNG.normal(size=len(PARAMETERS)))}


def cubic_group():
    """The 48 operations of O_h as signed permutation matrices."""
    ops = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            g = np.zeros((3, 3))
            g[range(3), perm] = signs
            ops.append(g)
    return ops


# ------------------------------------------------------------------ the table
def test_harmonic_rotation_is_orthogonal_and_a_representation():
    Q1, Q2 = (np.linalg.qr(RNG.normal(size=(3, 3)))[0] for _ in range(2))
    D1, D2 = harmonic_rotation(Q1), harmonic_rotation(Q2)
    assert np.allclose(D1 @ D1.T, np.eye(9), atol=1e-12)
    assert np.allclose(harmonic_rotation(Q1 @ Q2), D1 @ D2, atol=1e-12)


def test_table_against_rotated_bond_frame():
    for _ in range(12):
        d, V = RNG.normal(size=3), random_params()
        assert np.allclose(sk_block(W90, W90, d, V), slow_block(d, V), atol=1e-12)
    # the axis directions and the cubic high-symmetry bonds (zeros of the cosines)
    for d in ([1, 0, 0], [0, 0, -1], [1, 1, 0], [1, -1, 1], [0, 1, -1]):
        V = random_params()
        assert np.allclose(sk_block(W90, W90, d, V), slow_block(np.array(d, float), V), atol=1e-12)


_cos = st.sampled_from([0.0, 1.0, -1.0, 0.5]) | st.floats(-1, 1, allow_nan=False)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(d=st.tuples(_cos, _cos, _cos).filter(lambda v: np.linalg.norm(v) > 1e-3), V=st.lists(st.floats(-2, 2, allow_nan=False), min_size=10, max_size=10))
def test_table_against_rotated_bond_frame_property(d, V):
    params = dict(zip(PARAMETERS, V))
    d = np.array(d)
    E = sk_block(W90, W90, d, params)
    assert np.allclose(E, slow_block(d, params), atol=1e-11)
    assert np.allclose(E, sk_block(W90, W90, -d, params).T, atol=1e-14)


def test_table_is_vectorized_and_any_subset_in_any_order():
    V = random_params()
    d = RNG.normal(size=(4, 5, 3))
    full = sk_block(W90, W90, d, V)
    assert full.shape == (4, 5, 9, 9)
    assert np.allclose(full[2, 3], sk_block(W90, W90, d[2, 3], V), atol=0)
    sub_i, sub_j = ("dxy", "s", "px"), ("dz2", "py", "dxz", "s")
    ii, jj = [W90.index(a) for a in sub_i], [W90.index(b) for b in sub_j]
    assert np.allclose(sk_block(sub_i, sub_j, d, V), full[..., ii, :][..., :, jj], atol=0)


def test_reversed_order_is_the_bond_seen_backwards():
    # E_ab(d) = <a,0|H|b,d> = <b,d|H|a,0> = <b,0|H|a,-d> = E_ba(-d): reality and translation only
    d, V = RNG.normal(size=3), random_params()
    assert np.allclose(sk_block(W90, W90, d, V), sk_block(W90, W90, -d, V).T, atol=1e-14)
    # with explicit reversed integrals (two species): ps_sigma enters only the (p on i, s on j) entries
    V2 = {**V, "ps_sigma": 0.3, "ds_sigma": -0.2, "dp_sigma": 0.7, "dp_pi": 0.1}
    E = sk_block(W90, W90, d, V2, same_species=False)
    Vswap = {**V, "sp_sigma": 0.3, "sd_sigma": -0.2, "pd_sigma": 0.7, "pd_pi": 0.1}
    Eb = sk_block(W90, W90, -d, Vswap)
    lo = np.array([[L_OF[a] > L_OF[b] for b in W90] for a in W90])
    assert np.allclose(E[lo], Eb.T[lo], atol=1e-14) and np.allclose(E[~lo], sk_block(W90, W90, d, V)[~lo], atol=1e-14)


def test_known_entries_along_the_axes():
    V = random_params()
    E = sk_block(W90, W90, [0, 0, 2.5], V)
    i = W90.index
    assert np.isclose(E[i("s"), i("pz")], V["sp_sigma"]) and np.isclose(E[i("pz"), i("s")], -V["sp_sigma"])
    assert np.isclose(E[i("pz"), i("dz2")], V["pd_sigma"]) and np.isclose(E[i("dz2"), i("pz")], -V["pd_sigma"])
    assert np.isclose(E[i("px"), i("dxz")], V["pd_pi"]) and np.isclose(E[i("dxy"), i("dxy")], V["dd_delta"])
    assert np.isclose(E[i("s"), i("dz2")], V["sd_sigma"]) and np.isclose(E[i("dz2"), i("s")], V["sd_sigma"])


# ------------------------------------------------------------------ point-group covariance
def _check_covariance(model, ops, D_of, atol=1e-12):
    """H(R') = D(g) H(R) D(g)^T, per atom pair, for bond vectors g (R + tau_b - tau_a) (ops fixing each atom's sublattice)."""
    index = {tuple(r): i for i, r in enumerate(model.R)}
    inv = np.linalg.inv(model.cell)
    tau = [np.array(a.position) for a in model.atoms]
    checked = 0
    for g in ops:
        D = D_of(g)
        for r, H in zip(model.R, model.H):
            for a in range(len(model.atoms)):
                ia = model.atom_indices(a)
                for b in range(len(model.atoms)):
                    ib = model.atom_indices(b)
                    v = r @ model.cell + tau[b] - tau[a]
                    Rp = (g @ v - tau[b] + tau[a]) @ inv
                    assert np.allclose(Rp, np.round(Rp), atol=1e-9)
                    key = tuple(int(x) for x in np.round(Rp))
                    blk = H[np.ix_(ia, ib)]
                    Da, Db = D[np.ix_(range(len(ia)), range(len(ia)))], D[np.ix_(range(len(ib)), range(len(ib)))]
                    want = Da @ blk @ Db.T
                    got = model.H[index[key]][np.ix_(ia, ib)] if key in index else np.zeros_like(blk)
                    assert np.allclose(got, want, atol=atol), (g.tolist(), r.tolist(), a, b)
                    checked += 1
    return checked


def test_fcc_copper_transforms_under_all_48_cubic_operations():
    m = material("Cu")
    D_of = {g.tobytes(): harmonic_rotation(g) for g in cubic_group()}
    n = _check_covariance(m, cubic_group(), lambda g: D_of[g.tobytes()], atol=1e-12)
    assert n == 48 * len(m.R)
    # and a wrong D (no sign for odd l under inversion) fails: the check is not vacuous
    with pytest.raises(AssertionError):
        _check_covariance(m, [-np.eye(3)], lambda g: np.eye(9))


def test_two_species_bcc_cscl_random_integrals_transform_under_oh():
    a = 2.0
    atoms = [Atom("A", (0, 0, 0), W90), Atom("B", (1.0, 1.0, 1.0), ("s", "px", "py", "pz", "dx2-y2", "dz2"))]  # eg: closed under O_h
    rev = {"ps_sigma": 0.21, "ds_sigma": -0.13, "dp_sigma": 0.4, "dp_pi": -0.17}
    shells = {
        ("A", "B"): [{"distance": math.sqrt(3), **random_params(), **rev}],
        ("A", "A"): [{"distance": 2.0, **random_params()}, {"distance": 2 * math.sqrt(2), **random_params()}],
        ("B", "B"): [{"distance": 2.0, **random_params()}],
    }
    onsite = {"A": {"s": 0.1, "p": 2.0, "t2g": -1.0, "eg": -0.7}, "B": {"s": 0.5, "p": 1.5, "d": -0.2}}
    m = slater_koster(a * np.eye(3), atoms, onsite, shells)
    labelsB = atoms[1].orbitals
    index = {tuple(r): i for i, r in enumerate(m.R)}
    for g in cubic_group():
        DA, DB = harmonic_rotation(g), harmonic_rotation(g, labelsB)
        Ds = [DA, DB]
        for r, H in zip(m.R, m.H):
            for x in range(2):
                for y in range(2):
                    ix, iy = m.atom_indices(x), m.atom_indices(y)
                    v = r @ m.cell + np.subtract(atoms[y].position, atoms[x].position)
                    Rp = np.round((g @ v - np.subtract(atoms[y].position, atoms[x].position)) / a).astype(int)
                    got = m.H[index[tuple(Rp)]][np.ix_(ix, iy)] if tuple(Rp) in index else 0
                    assert np.allclose(got, Ds[x] @ H[np.ix_(ix, iy)] @ Ds[y].T, atol=1e-12)


def test_hermiticity_and_both_species_orders_give_one_model():
    atoms = [Atom("A", (0, 0, 0), ("s", "px", "py", "pz")), Atom("B", (0.5, 0.5, 0.5), ("s", "dz2", "dxy"))]
    V = {"ss_sigma": -0.4, "sp_sigma": 0.3, "ps_sigma": 0.8, "sd_sigma": -0.2, "ds_sigma": 0.25, "pd_sigma": -0.6, "pd_pi": 0.2, "dd_sigma": 1.0, "dd_pi": 1.0, "dd_delta": 1.0, "pp_sigma": 1.0, "pp_pi": 1.0}
    swap = {"sp_sigma": "ps_sigma", "ps_sigma": "sp_sigma", "sd_sigma": "ds_sigma", "ds_sigma": "sd_sigma", "pd_sigma": "dp_sigma", "pd_pi": "dp_pi"}
    onsite = {"s": 0.0, "p": 1.0, "d": -1.0}
    m1 = slater_koster(np.eye(3), atoms, onsite, {("A", "B"): [{"distance": math.sqrt(0.75), **V}]})
    m2 = slater_koster(np.eye(3), atoms, onsite, {("B", "A"): [{"distance": math.sqrt(0.75), **{swap.get(k, k): v for k, v in V.items()}}]})
    k = RNG.normal(size=(5, 3))
    H1, H2 = m1.hamiltonian(k), m2.hamiltonian(k)
    assert np.allclose(H1, H2, atol=1e-14)
    assert np.allclose(H1, H1.conj().transpose(0, 2, 1), atol=1e-14)
    for r, H in zip(m1.R, m1.H):
        j = np.flatnonzero((m1.R == -r).all(1))[0]
        assert np.allclose(m1.H[j], H.conj().T, atol=1e-15)


# ------------------------------------------------------------------ Eq. 3
@functools.lru_cache(maxsize=None)
def _kernels(model_fn):
    from orbsym.symbolic.continuity import kernels

    return kernels(model_fn())


def _compare_with_kernels(model_fn, values, sk_shells):
    ks = _kernels(model_fn)
    ref = TightBinding.from_kernels(ks, values)
    t2g = ("dxz", "dyz", "dxy")  # W90 order; orbsym's basis is (d_yz, d_xz, d_xy)
    P = np.zeros((3, 3))
    P[[0, 1, 2], [1, 0, 2]] = 1  # (dxz, dyz, dxy) <- (d_yz, d_xz, d_xy)
    m = slater_koster(np.eye(3), [Atom("M", (0, 0, 0), t2g)], {"t2g": -values["mu"]}, sk_shells, length_unit="a", energy_unit="t")
    k = RNG.uniform(-np.pi, np.pi, (7, 3))
    assert np.allclose(m.hamiltonian(k), P @ ref.hamiltonian(k) @ P.T, atol=1e-12)
    return m


def test_nearest_neighbour_t2g_is_the_papers_eq3_with_dd_pi_minus_t_dd_delta_minus_gamma():
    from orbsym.symbolic.models import multiorbital_metal

    t, gamma, mu = 1.0, 0.37, -0.21
    shell = {"distance": 1.0, "dd_sigma": RNG.normal(), "dd_pi": -t, "dd_delta": -gamma}  # sigma does not enter
    cubic = functools.partial(multiorbital_metal, dimension=3)
    values = {"t": t, "gamma": gamma, "tp": t, "mu": mu}
    _compare_with_kernels(cubic, values, [shell])
    # and the wrong identification (dd_delta = -t, dd_pi = -gamma) does not give Eq. 3
    with pytest.raises(AssertionError):
        _compare_with_kernels(cubic, values, [{**shell, "dd_pi": -gamma, "dd_delta": -t}])


def test_second_shell_t2g_is_orbsyms_cubic_t2g_metal():
    from orbsym.symbolic.models import cubic_t2g_metal

    t, gamma, mu, vs, vp, vd = 1.0, 0.3, 0.1, -0.25, 0.12, -0.04
    shells = [{"dd_sigma": 0.9, "dd_pi": -t, "dd_delta": -gamma}, {"dd_sigma": vs, "dd_pi": vp, "dd_delta": vd}]  # first two shells, by count
    _compare_with_kernels(cubic_t2g_metal, {"t": t, "gamma": gamma, "mu": mu, "v_sigma": vs, "v_pi": vp, "v_delta": vd}, shells)


# ------------------------------------------------------------------ shells, spin, exchange
def test_shells_by_count_equal_shells_by_distance():
    cell, pos = lattice("bcc", 3.0)
    atoms = [Atom("V", tuple(pos[0]), W90)]
    p1, p2 = random_params(), random_params()
    on = {"s": 1.0, "p": 2.0, "t2g": 0.1, "eg": 0.2}
    m1 = slater_koster(cell, atoms, on, [p1, p2])
    m2 = slater_koster(cell, atoms, on, [{"distance": 1.5 * math.sqrt(3), **p1}, {"distance": 3.0, **p2}])
    assert [c for _, c in m1.neighbour_shells()] == [8, 6]
    assert np.array_equal(m1.R, m2.R) and np.allclose(m1.H, m2.H, atol=0)


def test_exchange_splits_every_orbital_by_delta_along_any_axis():
    m0 = material("Cu")
    k = RNG.normal(size=(4, 3))
    E0 = m0.bands(k)
    delta = 0.6
    for direction in ([0, 0, 1], [1, 0, 0], [1, -2, 0.5]):
        u = np.array(direction, float) / np.linalg.norm(direction)
        for order in ("interleaved", "block"):
            m = material("Cu", exchange=delta * u, spin_order=order)
            assert m.spinful and m.n == 18
            E = m.bands(k)
            assert np.allclose(E, np.sort(np.concatenate([E0 - delta / 2, E0 + delta / 2], -1), -1), atol=1e-12)
            # the majority (spin along m) is lowered: <S.m> = +1/2 on the lowest state at Gamma
            w, v = np.linalg.eigh(m.hamiltonian(np.zeros(3)))
            Sm = np.einsum("a,aij->ij", u, _spin_half(m))
            assert np.isclose(np.real(v[:, 0].conj() @ Sm @ v[:, 0]), 0.5, atol=1e-12)
            assert np.allclose(m.angular_momentum("S"), _spin_half(m), atol=0)  # the model's spin order is the builder's


def _spin_half(m):
    """S = sigma/2 on the basis of m (built here, not from the model)."""
    S = np.zeros((3, m.n, m.n), complex)
    half = 0.5 * np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
    n_orb = m.n // 2
    for o in range(n_orb):
        i, j = (2 * o, 2 * o + 1) if m.spin_order == "interleaved" else (o, o + n_orb)
        S[:, [[i], [j]], [[i, j]]] += half
    return S


def test_onsite_specific_label_wins_and_crystal_field_split():
    cell, pos = lattice("fcc", 3.6)
    atoms = [Atom("Cu", tuple(pos[0]), W90)]
    m = slater_koster(cell, atoms, {"s": 1.0, "p": 2.0, "d": -3.0, "t2g": -4.0, "dxy": -5.0}, [{"distance": 3.6 / math.sqrt(2), **random_params()}])
    assert np.allclose(np.diag(m.H[np.flatnonzero((m.R == 0).all(1))[0]]).real, [1, 2, 2, 2, -3, -4, -4, -3, -5])


# ------------------------------------------------------------------ shipped sets
#: Published values (D. A. Papaconstantopoulos, Handbook of the Band Structure of Elemental Solids,
#: 2nd ed., Springer 2015): APW Fermi levels (Ry) and the valence (s + d electrons) of each metal.
PUBLISHED = {
    "Au": {"fermi_Ry": 0.5380, "electrons": 11, "dd_sigma_1": -0.04971},
    "Cu": {"fermi_Ry": 0.5805, "electrons": 11, "dd_sigma_1": -0.02566},
    "Pd": {"fermi_Ry": 0.5190, "electrons": 10, "dd_sigma_1": -0.05216},
    "Pt": {"fermi_Ry": 0.6380, "electrons": 10, "dd_sigma_1": -0.06856},
}


def test_shipped_materials_are_listed_and_carry_citations():
    assert set(MATERIALS) == set(PUBLISHED)
    for name in MATERIALS:
        d = material_data(name)
        assert "Papaconstantopoulos" in d["citation"]["authors"] and d["citation"]["year"] and d["citation"]["where"]
        assert d["units"] == {"energy": "Ry", "length": "bohr"}
        assert np.isclose(d["shells"][0]["integrals"]["dd_sigma"], PUBLISHED[name]["dd_sigma_1"])


def _fermi_level_Ry(m, electrons, N=20):
    """Fermi level (Ry) of ``electrons`` per atom (spin-degenerate bands) on an N^3 midpoint grid."""
    g = (np.arange(N) + 0.5) / N
    frac = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    E = np.sort(m.bands(m.k_cartesian(frac)).ravel())
    n_occ = electrons * len(frac) // 2
    return 0.5 * (E[n_occ - 1] + E[n_occ]) / RYDBERG_EV


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_set_fermi_level_from_the_filling_matches_the_published_one(name):
    m, pub = material(name), PUBLISHED[name]
    assert abs(_fermi_level_Ry(m, pub["electrons"]) - pub["fermi_Ry"]) < 0.01  # a two-shell fit: within 0.14 eV
    # and the model carries the published numbers in eV / Angstrom
    d = material_data(name)
    assert np.isclose(np.linalg.norm(m.cell[0]), d["lattice"]["a"] * BOHR_ANGSTROM / math.sqrt(2))
    assert [c for _, c in m.neighbour_shells()] == [12, 6]
    H0 = m.H[np.flatnonzero((m.R == 0).all(1))[0]].real
    assert np.isclose(H0[0, 0], d["onsite"]["s"] * RYDBERG_EV) and np.isclose(H0[8, 8], d["onsite"]["t2g"] * RYDBERG_EV)
    # the s-s hopping to (a/2)(1, 1, 0) is ss_sigma of the first shell
    r = np.linalg.solve(m.cell.T, np.array([1, 1, 0]) * d["lattice"]["a"] * BOHR_ANGSTROM / 2)
    j = np.flatnonzero((m.R == np.round(r).astype(int)).all(1))[0]
    assert np.isclose(m.H[j][0, 0].real, d["shells"][0]["integrals"]["ss_sigma"] * RYDBERG_EV)


# ------------------------------------------------------------------ refusals
def test_refusals_name_the_bad_value():
    with pytest.raises(ValueError, match=r"unknown material 'Nb'.*allowed: Au, Cu, Pd, Pt"):
        material("Nb")
    cell, pos = lattice("fcc", 3.6)
    atoms = [Atom("Cu", tuple(pos[0]), W90)]
    on = {"s": 0, "p": 1, "d": 2}
    with pytest.raises(ValueError, match=r"distance 3\.0 .*no bond.*2\.545584"):
        slater_koster(cell, atoms, on, [{"distance": 3.0, **random_params()}])
    with pytest.raises(ValueError, match=r"unknown Slater-Koster parameter .*'dd_delt'.*did you mean 'dd_delta'.*allowed: ss_sigma"):
        sk_block(W90, W90, [1, 0, 0], {**random_params(), "dd_delt": 1.0})
    V = random_params()
    del V["pd_pi"]
    with pytest.raises(ValueError, match=r"missing Slater-Koster parameter 'pd_pi' for the orbital pair \(px, dxz\)"):
        sk_block(("px",), ("dxz",), [1, 0, 0], V)
    with pytest.raises(ValueError, match=r"missing Slater-Koster parameter 'pd_pi'"):
        slater_koster(cell, atoms, on, [V])
    # a parameter that no present pair needs is not required (t2g only: no s, p)
    slater_koster(cell, [Atom("Cu", (0, 0, 0), ("dxy",))], on, [{"dd_sigma": 1, "dd_pi": 1, "dd_delta": 1}])
    with pytest.raises(ValueError, match=r"missing Slater-Koster parameter 'ps_sigma' .*two species"):
        sk_block(("px",), ("s",), [1, 0, 0], {"sp_sigma": 1.0}, same_species=False)
    with pytest.raises(ValueError, match=r"no on-site energy for orbital 'dz2'.*\['dz2', 'eg', 'd'\]"):
        slater_koster(cell, atoms, {"s": 0, "p": 1, "t2g": 2}, [random_params()])
    with pytest.raises(ValueError, match=r"unknown on-site key .*'t2', 't2g'|unknown on-site key .*'t2'"):
        slater_koster(cell, atoms, {"s": 0, "p": 1, "d": 2, "t2": 1}, [random_params()])
    with pytest.raises(ValueError, match=r"unknown orbital label .*'dyx'"):
        sk_block(("dyx",), ("s",), [1, 0, 0], random_params())
    with pytest.raises(ValueError, match="spinful=True"):
        slater_koster(cell, atoms, on, [random_params()], exchange=[0, 0, 1])
    with pytest.raises(ValueError, match="every shell or for none"):
        slater_koster(cell, atoms, on, [{"distance": 2.5455844, **random_params()}, random_params()])
    with pytest.raises(ValueError, match=r"direction must be nonzero"):
        sk_block(W90, W90, [0, 0, 0], random_params())
    with pytest.raises(ValueError, match=r"must be a finite real number .*'x'"):
        sk_block(W90, W90, [1, 0, 0], {**random_params(), "pp_pi": "x"})


def test_bcc_two_shells_random_integrals_transform_under_oh():
    cell, pos = lattice("bcc", 2.9)
    m = slater_koster(cell, [Atom("Cr", tuple(pos[0]), W90)], {"s": 0.3, "p": 1.1, "t2g": -0.2, "eg": 0.1}, [random_params(), random_params()])
    assert [c for _, c in m.neighbour_shells()] == [8, 6]
    D_of = {g.tobytes(): harmonic_rotation(g) for g in cubic_group()}
    assert _check_covariance(m, cubic_group(), lambda g: D_of[g.tobytes()]) == 48 * len(m.R)


def test_hcp_shells_split_off_the_ideal_axial_ratio():
    a = 2.95
    p1, p2 = random_params(), random_params()
    on = {"s": 0.0, "p": 1.0, "d": -1.0}
    for c, counts in ((a * math.sqrt(8 / 3), [12]), (1.587 * a, [6, 6])):
        cell, pos = lattice("hcp", a, c)
        atoms = [Atom("Ti", tuple(p), W90) for p in pos]
        m = slater_koster(cell, atoms, on, [p1, p2][: len(counts)])
        got = m.neighbour_shells()
        # per cell both atoms: 2 x (bonds per atom)
        assert [n for _, n in got] == [2 * n for n in counts]
        assert np.isclose(got[0][0], min(a, math.sqrt(a * a / 3 + c * c / 4)))
        k = RNG.normal(size=(3, 3))
        H = m.hamiltonian(k)
        assert np.allclose(H, H.conj().transpose(0, 2, 1), atol=1e-13)
        # the bond inside the cell (atom 0 -> atom 1, out of plane) is in the first shell for c/a <= ideal
        H0 = m.H[np.flatnonzero((m.R == 0).all(1))[0]]
        v = np.subtract(atoms[1].position, atoms[0].position)
        assert np.allclose(H0[:9, 9:], sk_block(W90, W90, v, p1), atol=1e-14)


def test_builder_never_imports_sympy():
    import subprocess
    import sys

    code = "import sys; from orbsym.materials.slater_koster import material; material('Pt'); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fermi_level_check_detects_a_wrong_sign_convention():
    # the relative sign of the s-p and p-d integrals is physical (flipping all p couplings is a gauge):
    # reading sp_sigma with the opposite convention moves Cu's Fermi level by ~0.06 Ry, out of tolerance
    d = material_data("Cu")
    cell, pos = lattice("fcc", d["lattice"]["a"] * BOHR_ANGSTROM)
    atoms = [Atom("Cu", tuple(pos[0]), W90)]
    onsite = {k: v * RYDBERG_EV for k, v in d["onsite"].items()}

    def fermi(flip):
        shells = [{k: (-v if k in flip else v) * RYDBERG_EV for k, v in s["integrals"].items()} for s in d["shells"]]
        return _fermi_level_Ry(slater_koster(cell, atoms, onsite, shells), 11, N=12)

    assert abs(fermi(("sp_sigma",)) - PUBLISHED["Cu"]["fermi_Ry"]) > 0.05
    assert np.isclose(fermi(("sp_sigma", "pd_sigma", "pd_pi")), fermi(()), atol=1e-12)


def test_soc_hook_equals_model_with_soc_and_splits_the_d_shell():
    """slater_koster(..., soc=) adds lam L.S per atom exactly as TightBinding.with_soc, and at Gamma of a
    one-atom d-only crystal the d levels split by the atomic j = 5/2, 3/2 rule on top of the cubic field."""
    from orbsym.materials.slater_koster import material

    with_hook = material("Pt", soc={"Pt": {"d": 0.6}})
    by_model = material("Pt", spinful=True).with_soc({"Pt": {"d": 0.6}})
    k = np.array([[0.1, 0.2, -0.3], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(with_hook.hamiltonian(k), by_model.hamiltonian(k), atol=1e-12)
    plain = material("Pt", spinful=True)
    # the SOC term itself: eigenvalues lam l / 2 (x6) and -lam (l + 1) / 2 (x4) on the d shell
    d = [i for i, o in enumerate(plain.basis) if o.label.startswith("d")]
    z = int(np.flatnonzero(np.all(plain.R == 0, axis=1))[0])
    dH = (with_hook.H[z] - plain.H[z])[np.ix_(d, d)]
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(dH)), [-0.9] * 4 + [0.6] * 6, atol=1e-12)
