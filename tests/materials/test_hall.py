"""Bulk Hall conductivities and Edelstein responses of numeric crystals (orbsym.materials.hall)."""

import numpy as np
import pytest
import scipy.linalg as sla

from orbsym.conventions import E2_OVER_HBAR, physical_response
from orbsym.materials.hall import _fourier_stack, edelstein, hall_conductivity, kubo_sum_reference, monkhorst_pack
from orbsym.materials.model import Atom, TightBinding
from orbsym.numeric.budget import ResourceError

E2_H = 3.874046e-5  # e^2/h in S
SX = np.array([[0, 1], [1, 0]], complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)
LEVI = np.zeros((3, 3, 3))
for _a, _b, _c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    LEVI[_a, _b, _c], LEVI[_a, _c, _b] = 1, -1
#: L of a p shell in the (px, py, pz) basis: (L_a)_bc = -i eps_abc.
LP = -1j * LEVI


# ------------------------------------------------------------------ models
def qwz(m=1.0, a=3.0, c=10.0, periodic=2, mirror_x=False):
    """Qi-Wu-Zhang Chern insulator sin kx sx + sin ky sy + (m + cos kx + cos ky) sz (t = 1 eV, a in Angstrom)."""
    sx = -SX if mirror_x else SX  # k_x -> -k_x
    hop = {(0, 0, 0): m * SZ, (1, 0, 0): sx / 2j + SZ / 2, (0, 1, 0): SY / 2j + SZ / 2}
    hop[(-1, 0, 0)] = hop[(1, 0, 0)].conj().T
    hop[(0, -1, 0)] = hop[(0, 1, 0)].conj().T
    return TightBinding(np.diag([a, a, c]), [Atom("X", (0, 0, 0), ("a", "b"))], hop, periodic=periodic, name="QWZ")


def fhs_chern(model, N=30):
    """Chern number of the lower band, Fukui-Hatsugai-Suzuki links; sign of C = (1/2pi) int curl A, A = i<u|grad u>."""
    g = np.arange(N) / N
    kf = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    k = model.k_cartesian(np.c_[kf, np.zeros(len(kf))])
    u = np.linalg.eigh(model.hamiltonian(k))[1][:, :, 0].reshape(N, N, -1)
    link = lambda a, b: np.sum(a.conj() * b, -1)  # noqa: E731
    u1, u2, u12 = np.roll(u, -1, 0), np.roll(u, -1, 1), np.roll(np.roll(u, -1, 0), -1, 1)
    prod = link(u, u1) * link(u1, u12) * link(u12, u2) * link(u2, u)
    # prod = exp(-i Omega d^2k) for A = i<u|grad u>
    return -np.angle(prod).sum() / (2 * np.pi)


def sp_cubic(a=2.5, V=(-1.2, 1.0, 1.4, -0.5), nnn=0.3, eps_p=1.5):
    """Simple cubic, one atom with s, px, py, pz; Slater-Koster nn (ss sigma, sp sigma, pp sigma, pp pi) and scaled nnn."""
    ss, sp, pps, ppp = V

    def block(l, scale):
        M = np.zeros((4, 4))
        M[0, 0] = ss
        M[0, 1:] = l * sp
        M[1:, 0] = -l * sp
        M[1:, 1:] = np.outer(l, l) * (pps - ppp) + np.eye(3) * ppp
        return scale * M

    hop = {(0, 0, 0): np.diag([0.0, eps_p, eps_p, eps_p]).astype(complex)}
    for R in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1)]:
        d = np.array(R, float)
        l = d / np.linalg.norm(d)
        s = 1.0 if np.abs(d).sum() == 1 else nnn
        hop[R] = block(l, s)
        hop[tuple(-x for x in R)] = block(-l, s)
    L = np.zeros((3, 4, 4), complex)
    L[:, 1:, 1:] = LP
    return TightBinding(a * np.eye(3), [Atom("A", (0, 0, 0), ("s", "px", "py", "pz"))], hop, name="sp cubic", generators=L)


def random_model(rng, n_atoms=1, periodic=3, real=False, Rs=((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 1)), norb=3, positions=None, scale=1.0):
    """Random Hermitian p-orbital model (``real``: time-reversal symmetric, real H(R)); entries ~ ``scale`` eV."""
    n = n_atoms * norb
    Rs = [R for R in Rs if periodic == 3 or R[2] == 0]

    def mat():
        M = scale * rng.normal(size=(n, n))
        return M if real else M + 1j * scale * rng.normal(size=(n, n))

    H0 = mat()
    hop = {(0, 0, 0): H0 + H0.conj().T}
    for R in Rs:
        T = mat()
        hop[R] = T
        hop[tuple(-x for x in R)] = T.conj().T
    pos = positions if positions is not None else [tuple(rng.uniform(0, 1, 3) * (i > 0)) for i in range(n_atoms)]
    atoms = [Atom(f"A{i}", pos[i], ("px", "py", "pz")[:norb]) for i in range(n_atoms)]
    cell = np.array([[2.0, 0.1, 0.0], [0.3, 2.2, 0.0], [0.1, 0.2, 2.5]])
    L = np.zeros((3, n, n), complex)
    for i in range(n_atoms):
        L[:, i * norb : (i + 1) * norb, i * norb : (i + 1) * norb] = LP[:, :norb, :norb]
    return TightBinding(cell, atoms, hop, periodic=periodic, generators=L if norb == 3 else None)


def rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.nanmax(np.abs(a - b)) / max(1e-300, np.nanmax(np.abs(b))))


# ------------------------------------------------------------------ what is added: Fourier-summed operators
def test_fourier_stack_gives_h_velocity_and_current():
    rng = np.random.default_rng(1)
    m = random_model(rng, n_atoms=2)
    O = m.angular_momentum("model")
    comps = [(g, a, b) for g in range(3) for a in range(3) for b in range(3)]
    for positions in (True, False):
        stack, pairs, _ = _fourier_stack(m, O, comps, False, positions)
        k = rng.normal(size=3)
        X = np.tensordot(np.exp(1j * m.bond_vectors() @ k), stack, axes=(0, 0))
        v = m.velocity(k, positions=positions)
        assert np.abs(X[0] - m.hamiltonian(k)).max() < 1e-12
        for (cur, fld), (g, a, b) in zip(pairs, comps):
            assert np.abs(X[fld] - v[b]).max() < 1e-12
            assert np.abs(X[cur] - 0.5 * (v[a] @ O[g] + O[g] @ v[a])).max() < 1e-12


def test_k_grid_is_gamma_centred_for_every_size():
    k = monkhorst_pack(3, 2)
    assert k.shape == (9, 3) and np.allclose(k[:, 2], 0)
    assert np.allclose(sorted(set(np.round(k[:, 0], 12))), [0, 1 / 3, 2 / 3])
    assert np.allclose(sorted(set(np.round(monkhorst_pack(4, 3)[:, 2], 12))), [0, 1 / 4, 1 / 2, 3 / 4])
    assert np.allclose(monkhorst_pack(4, 3, 5, 9), monkhorst_pack(4, 3)[5:9])
    # the coarse grid of the convergence estimate is a subset of the fine one
    fine = {tuple(np.round(p, 12)) for p in monkhorst_pack(8, 3)}
    assert all(tuple(np.round(p, 12)) in fine for p in monkhorst_pack(4, 3))


# ------------------------------------------------------------------ fast path against slow paths
@pytest.mark.parametrize("T,eta", [(0.0, 0.0), (0.07, 0.05), (0.0, 0.05)])
def test_band_weights_equal_response_factors_for_every_mu_and_component(T, eta):
    rng = np.random.default_rng(2)
    m = random_model(rng, n_atoms=2)
    O = m.angular_momentum("model")
    mus = [-1.0, 0.3, 2.0]
    ds = hall_conductivity(m, mus, operator=O, N_k=3, T=T, eta=eta, units="natural", convergence=False)
    for comp in [(2, 0, 1), (0, 1, 2), (1, 1, 1), (2, 2, 0)]:
        for i, mu in enumerate(mus):
            ref = kubo_sum_reference(m, O, comp, mu, 3, T, eta)
            got = ds.fermi_sea.values[(i,) + comp]
            assert abs(got - ref["fermi_sea"]) < 1e-12 * max(1.0, abs(ref["fermi_sea"]))
            if eta > 0:
                assert abs(ds.fermi_surface.values[(i,) + comp] - ref["fermi_surface"]) < 1e-12 * max(1.0, abs(ref["fermi_surface"]))
    assert np.abs(ds.fermi_sea.values).max() > 1e-3  # not a trivially zero model


def test_chemical_potentials_vectorized_equal_single_runs():
    rng = np.random.default_rng(3)
    m = random_model(rng, periodic=2)
    mus = np.linspace(-2, 2, 5)
    ds = hall_conductivity(m, mus, operator="charge", N_k=6, T=0.1, eta=0.1, units="natural", convergence=False)
    for i in (0, 3):
        one = hall_conductivity(m, mus[i], operator="charge", N_k=6, T=0.1, eta=0.1, units="natural", convergence=False)
        assert np.allclose(one.sigma.values[0], ds.sigma.values[i], rtol=1e-13, atol=1e-14)


def d5(fn, k, e):
    """Five-point central difference of fn along the step vector e."""
    return (-fn(k + 2 * e) + 8 * fn(k + e) - 8 * fn(k - e) + fn(k - 2 * e)) / (12 * np.linalg.norm(e))


def sylvester_sum(model, O, comp, mu, N, T, eta, h=1e-3):
    """Independent slow path: per k, solve -i[h, delta] - eta delta = d f(h)/dk_beta (Sylvester) with
    f(h) = (1 + expm(h/T))^-1 and every k derivative by five-point finite differences of H^I(k)."""
    n = model.n
    I = np.eye(n)
    g, a, b = comp
    HI = lambda k: model.hamiltonian(k, convention="I") - mu * I  # noqa: E731
    f = lambda k: np.linalg.inv(I + sla.expm(HI(k) / T))  # noqa: E731
    total = 0.0
    kf = monkhorst_pack(N, model.periodic)
    for k in model.k_cartesian(kf):
        eb, ea = np.eye(3)[b] * h, np.eye(3)[a] * h
        dfdk = d5(f, k, eb)
        hk = HI(k)
        delta = sla.solve_sylvester(-1j * hk - 0.5 * eta * I, 1j * hk - 0.5 * eta * I, dfdk)
        va = d5(HI, k, ea)
        j = va if O is None else 0.5 * (va @ O[g] + O[g] @ va)
        total += np.trace(j @ delta)
    return total.real / len(kf) / model.volume


@pytest.mark.parametrize("periodic,N", [(2, 4), (3, 2)])
def test_kubo_sum_against_finite_field_sylvester_solve(periodic, N):
    rng = np.random.default_rng(4)
    m = random_model(rng, n_atoms=2, periodic=periodic, norb=2 if periodic == 3 else 3, scale=0.15)  # two atoms: the position term matters
    O = np.zeros((3, m.n, m.n), complex)
    for i in range(2):
        blk = slice(i * (m.n // 2), (i + 1) * (m.n // 2))
        A = rng.normal(size=(3, m.n // 2, m.n // 2)) + 1j * rng.normal(size=(3, m.n // 2, m.n // 2))
        O[:, blk, blk] = A + A.conj().transpose(0, 2, 1)  # atom-centred (commutes with the phases of convention I)
    T, eta, mu = 0.5, 0.2, 0.1  # |h/T| <~ 5: expm keeps f accurate to ~1e-14
    ds = hall_conductivity(m, mu, operator=O, N_k=N, T=T, eta=eta, units="natural", convergence=False)
    for comp in [(2, 0, 1), (0, 1, 0)] if periodic == 2 else [(2, 0, 1), (1, 2, 2)]:
        ref = sylvester_sum(m, O, comp, mu, N, T, eta)
        got = ds.sigma.values[(0,) + comp]
        assert abs(got - ref) < 1e-8 * max(1.0, abs(ref)), (comp, got, ref)
    chg = hall_conductivity(m, mu, operator="charge", components="xy", N_k=N, T=T, eta=eta, units="natural", convergence=False)
    ref = sylvester_sum(m, None, (0, 0, 1), mu, N, T, eta)
    assert abs(chg.sigma.values[0, 0, 0, 1] - ref) < 1e-8 * max(1.0, abs(ref))


def test_eta_to_zero_approaches_the_intrinsic_formula_as_eta_squared():
    m = sp_cubic()
    O = m.angular_momentum("model")
    mu, N = 0.8, 6
    # intrinsic formula written out: sum_n f_n sum_{m != n} 2 Im[<n|j|m><m|v_y|n>] / (E_n - E_m)^2
    k = m.k_cartesian(monkhorst_pack(N, 3))
    E, U = np.linalg.eigh(m.hamiltonian(k))
    v = m.velocity(k)
    j = 0.5 * (v[0] @ O[2] + O[2] @ v[0])
    J = U.conj().swapaxes(1, 2) @ j @ U
    Vy = U.conj().swapaxes(1, 2) @ v[1] @ U
    intrinsic = 0.0
    for kk in range(len(k)):
        for n_ in range(m.n):
            if E[kk, n_] >= mu:
                continue
            for m_ in range(m.n):
                dE = E[kk, n_] - E[kk, m_]
                if abs(dE) > 1e-9:
                    intrinsic += 2 * np.imag(J[kk, n_, m_] * Vy[kk, m_, n_]) / dE**2
    intrinsic /= len(k) * m.volume
    sea = [hall_conductivity(m, mu, operator="model", components="zxy", N_k=N, eta=eta, units="natural", convergence=False).fermi_sea.values[0, 2, 0, 1] for eta in (0.0, 0.02, 0.01)]
    assert abs(intrinsic) > 1e-3
    assert abs(sea[0] - intrinsic) < 1e-12 * abs(intrinsic)
    d1, d2 = sea[1] - intrinsic, sea[2] - intrinsic
    assert abs(d2) < 1e-3 * abs(intrinsic) and 3.5 < d1 / d2 < 4.5  # O(eta^2)


# ------------------------------------------------------------------ symmetry
def test_cubic_crystal_orbital_hall_is_sigma_times_levi_civita():
    m = sp_cubic()
    ds = hall_conductivity(m, [-2.0, 2.0], operator="model", N_k=6, units="natural", convergence=False)
    s = ds.sigma.values
    for i in range(2):
        oh = s[i, 2, 0, 1]
        assert abs(oh) > 1e-3
        assert np.abs(s[i] - oh * LEVI).max() < 1e-10 * abs(oh)  # sigma^z_xx = 0, sigma^z_xy = -sigma^z_yx = sigma^x_yz ...


def test_charge_hall_vanishes_with_time_reversal_and_not_without():
    rng = np.random.default_rng(5)
    for real in (True, False):
        m = random_model(rng, periodic=2, real=real)
        s = hall_conductivity(m, [-0.5, 0.7], operator="charge", N_k=8, units="natural", convergence=False).sigma.values[:, 0, 0, 1]
        if real:
            assert np.abs(s).max() < 1e-13
        else:
            assert np.abs(s).max() > 1e-3


def mirror_z(model):
    """The mirror image z -> -z of a p-orbital model: R -> M R, pz -> -pz."""
    P = np.diag([1.0, 1.0, -1.0] * (model.n // 3))
    cell = model.cell @ np.diag([1, 1, -1])
    inv = np.linalg.inv(cell)
    hop = {}
    for R, H in zip(model.R, model.H):
        Rc = (R @ model.cell) * np.array([1, 1, -1])
        R2 = tuple(int(round(x)) for x in Rc @ inv)
        hop[R2] = P @ H @ P
    atoms = [Atom(a.name, tuple(np.array(a.position) * [1, 1, -1]), a.orbitals) for a in model.atoms]
    return TightBinding(cell, atoms, hop, generators=model.generators)


def test_mirror_image_transforms_as_an_axial_tensor():
    rng = np.random.default_rng(6)
    m = random_model(rng)
    mm = mirror_z(m)
    M = np.array([1.0, 1.0, -1.0])
    kw = dict(N_k=4, T=0.1, eta=0.1, units="natural", convergence=False)
    s = hall_conductivity(m, 0.3, operator="model", **kw).sigma.values[0]
    s2 = hall_conductivity(mm, 0.3, operator="model", **kw).sigma.values[0]
    expect = -np.einsum("g,a,b,gab->gab", M, M, M, s)  # det(M) = -1: L is axial
    assert np.abs(s2 - expect).max() < 1e-10 * np.abs(s).max()
    assert abs(s[2, 0, 2]) > 1e-3 and s2[2, 0, 2] * s[2, 0, 2] < 0  # a component that must flip does
    c = hall_conductivity(m, 0.3, operator="charge", **kw).sigma.values[0, 0]
    c2 = hall_conductivity(mm, 0.3, operator="charge", **kw).sigma.values[0, 0]
    assert np.abs(c2 - np.einsum("a,b,ab->ab", M, M, c)).max() < 1e-10 * np.abs(c).max()  # polar


# ------------------------------------------------------------------ units
def test_chern_insulator_gives_minus_C_e2_over_h_in_siemens():
    m = qwz(m=1.0)
    C = fhs_chern(m)
    assert abs(abs(C) - 1) < 1e-9
    ds = hall_conductivity(m, 0.0, operator="charge", N_k=30)
    assert ds.attrs["units"] == "S (per square)" and "q = -e" in ds.attrs["sign_convention"]
    s = ds.sigma.sel(gamma="charge").values[0]
    assert abs(s[0, 1] - (-C * E2_H)) < 1e-3 * E2_H
    assert abs(s[1, 0] + s[0, 1]) < 1e-9 * E2_H and abs(s[0, 0]) < 1e-9 * E2_H
    assert ds.error_estimate.values[0, 0, 0, 1] < 1e-3 * E2_H
    mirrored = hall_conductivity(qwz(m=1.0, mirror_x=True), 0.0, operator="charge", components="xy", N_k=30, convergence=False)
    assert abs(mirrored.sigma.values[0, 0, 0, 1] + s[0, 1]) < 1e-6 * E2_H  # k_x -> -k_x flips C
    assert abs(hall_conductivity(qwz(m=3.0), 0.0, operator="charge", components="xy", N_k=30, convergence=False).sigma.values[0, 0, 0, 1]) < 1e-3 * E2_H  # trivial


def test_stacked_chern_layers_give_C_e2_over_h_c_per_ohm_cm():
    c = 5.0  # Angstrom
    m = qwz(m=-1.0, c=c, periodic=3)
    C = fhs_chern(qwz(m=-1.0))
    ds = hall_conductivity(m, 0.0, operator="charge", components="xy,yx", N_k=24, convergence=False)
    assert ds.attrs["units"] == "(Ohm cm)^-1"
    expect = -C * E2_H / (c * 1e-8)  # S/cm
    assert abs(ds.sigma.values[0, 0, 0, 1] - expect) < 1e-3 * abs(expect)
    assert np.isnan(ds.sigma.values[0, 0, 0, 2])  # not requested


def test_2d_special_case_equals_orbital_hall_in_natural_units():
    from orbsym.response import orbital_hall
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.symmetry import symmetric_hoppings

    mdl = symmetric_hoppings("t2g", neighbours="nn+nnn").to_model()  # inter-orbital nnn hopping: an orbital Hall effect
    ks = kernels(mdl)
    vals = {p: 0.3 + 0.1 * i for i, p in enumerate(ks.parameters) if p != "mu"}
    m = TightBinding.from_kernels(ks, {**vals, "mu": 0.0})
    mus = [-0.2, 0.6]
    ref = orbital_hall(mdl, mu=mus, N_k=15, T=0.05, eta=0.05, **vals)
    ds = hall_conductivity(m, mus, operator="model", components="zxy", N_k=15, T=0.05, eta=0.05, units="natural", convergence=False)
    # factor 1: natural = per unit force q E_y, per site = per cell (a = 1); odd N_k: the same Gamma-centred grid
    assert np.abs(ref["sigma"]).max() > 1e-2
    assert np.allclose(ds.fermi_sea.values[:, 2, 0, 1], ref["sigma"], rtol=1e-12, atol=1e-14)
    assert np.allclose(ds.fermi_surface.values[:, 2, 0, 1], ref["fermi_surface"], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="Angstrom and eV"):
        hall_conductivity(m, 0.0, operator="model", N_k=4)


def test_physical_factors():
    assert np.isclose(E2_OVER_HBAR / (2 * np.pi), E2_H, rtol=1e-6)
    assert np.isclose(physical_response(1.0, "hall", 3)[0], E2_OVER_HBAR * 1e8)
    assert physical_response(1.0, "hall", 2) == (E2_OVER_HBAR, "(hbar/e) S (per square)")
    assert physical_response(2.0, "edelstein", 3)[0] == -2e-8


# ------------------------------------------------------------------ Edelstein
def rashba_p(gamma, a=3.0):
    """2D square lattice of (px, py, pz) with an orbital-Rashba hopping gamma (pz <-> p_d along bond d: broken inversion)."""
    hop = {(0, 0, 0): np.diag([0.0, 0.0, 0.8]).astype(complex)}
    for i, R in enumerate([(1, 0, 0), (0, 1, 0)]):
        T = np.diag([-0.3, -0.3, -0.3]).astype(complex)
        T[i, i] = 1.0  # sigma along the bond
        T[2, i], T[i, 2] = gamma, -gamma  # odd in d
        hop[R] = T
        hop[tuple(-x for x in R)] = T.conj().T
    return TightBinding(np.diag([a, a, 10.0]), [Atom("A", (0, 0, 0), ("px", "py", "pz"))], hop, periodic=2, generators=LP)


def test_orbital_edelstein_needs_broken_inversion_and_goes_as_one_over_eta():
    kw = dict(operator="model", N_k=24, T=0.05, units="natural", convergence=False)
    res = {eta: edelstein(rashba_p(0.4), 0.3, eta=eta, **kw) for eta in (0.05, 0.1)}
    x = res[0.05].fermi_surface.values[0]  # (gamma, beta)
    assert abs(x[0, 1]) > 1e-2 and abs(x[0, 1] + x[1, 0]) < 1e-10 * abs(x[0, 1])  # <L_x> ~ E_y = -<L_y> ~ E_x (C4v)
    assert abs(x[2, 0]) < 1e-10 * abs(x[0, 1])
    ratio = x[0, 1] / res[0.1].fermi_surface.values[0, 0, 1]
    assert 1.7 < ratio < 2.2  # ~ 1/eta
    ref = kubo_sum_reference(rashba_p(0.4), "model", (0, 1), 0.3, 24, 0.05, 0.05, edelstein=True)
    assert abs(x[0, 1] - ref["fermi_surface"]) < 1e-12 * abs(x[0, 1])
    zero = edelstein(rashba_p(0.0), 0.3, eta=0.05, **kw)
    assert np.abs(zero.edelstein.values).max() < 1e-12
    phys = edelstein(rashba_p(0.4), 0.3, eta=0.05, operator="model", N_k=24, T=0.05, convergence=False)
    assert np.allclose(phys.edelstein.values, -1e-8 * res[0.05].edelstein.values, rtol=1e-12, atol=0)
    assert "V/cm" in phys.attrs["units"]


# ------------------------------------------------------------------ results and refusals
def test_dataset_labels_and_convergence_estimate():
    m = sp_cubic()
    ds = hall_conductivity(m, [0.5], operator="model", components="zxy", N_k=6, T=0.02, eta=0.05)
    assert set(ds.sigma.dims) == {"mu", "gamma", "alpha", "beta"}
    for k in ("current", "operator", "units", "sign_convention", "N_k", "T", "eta", "engine"):
        assert k in ds.attrs
    assert ds.attrs["N_k"] == 6 and ds.attrs["N_k_coarse"] == 3
    for v in ds.data_vars.values():
        assert v.attrs["units"] and v.attrs["description"]
    coarse = hall_conductivity(m, [0.5], operator="model", components="zxy", N_k=3, T=0.02, eta=0.05, convergence=False)
    assert np.isclose(ds.sigma_coarse.values[0, 2, 0, 1], coarse.sigma.values[0, 2, 0, 1], rtol=1e-12)
    assert np.isclose(ds.error_estimate.values[0, 2, 0, 1], abs(ds.sigma.values[0, 2, 0, 1] - coarse.sigma.values[0, 2, 0, 1]), rtol=1e-12)
    assert np.isnan(ds.sigma.values[0, 0, 0, 1])
    assert "note" not in ds.attrs
    assert "Drude" in hall_conductivity(m, 0.5, operator="model", components="zxy", N_k=3, eta=0.05, convergence=False).attrs["note"]


def test_refusals_name_the_bad_value():
    m = sp_cubic()
    with pytest.raises(ResourceError, match="N_k"):
        hall_conductivity(m, 0.0, operator="model", N_k=30000)
    with pytest.raises(ResourceError, match="N_k"):
        hall_conductivity(m, 0.0, operator="model", N_k=40, max_seconds=1e-3)
    with pytest.raises(ResourceError, match="memory"):
        hall_conductivity(m, 0.0, operator="model", N_k=4, max_bytes=1000)
    with pytest.raises(ValueError, match="operator"):
        hall_conductivity(m, 0.0, operator="X")
    with pytest.raises(ValueError, match=r"shape \(3, 4, 4\)"):
        hall_conductivity(m, 0.0, operator=np.eye(3))
    with pytest.raises(ValueError, match="Hermitian"):
        hall_conductivity(m, 0.0, operator=np.triu(np.ones((4, 4))))
    with pytest.raises(ValueError, match="'qq'"):
        hall_conductivity(m, 0.0, operator="model", components="qq")
    with pytest.raises(ValueError, match="units"):
        hall_conductivity(m, 0.0, operator="model", units="SI")
    with pytest.raises(ValueError, match="N_k"):
        hall_conductivity(m, 0.0, operator="model", N_k=1)
    with pytest.raises(ValueError, match="mu"):
        hall_conductivity(m, "fermi", operator="model")
    with pytest.raises(TypeError, match="TightBinding"):
        hall_conductivity("cu", 0.0)
    with pytest.raises(ValueError, match="Edelstein"):
        edelstein(m, 0.0, operator="charge")


def test_workers_share_the_k_points_with_the_same_result():
    m = sp_cubic()
    kw = dict(operator="model", components="zxy,xyz", N_k=8, T=0.05, eta=0.05, units="natural", convergence=False)
    one = hall_conductivity(m, [0.5, 1.0], **kw)
    two = hall_conductivity(m, [0.5, 1.0], workers=2, **kw)
    assert two.attrs["workers"] == 2
    assert np.allclose(two.sigma.values, one.sigma.values, rtol=1e-12, atol=1e-15, equal_nan=True)
    kw["convergence"] = True  # two grids, each with its own forked workers
    conv = hall_conductivity(m, [0.5, 1.0], workers=2, **kw)
    assert np.allclose(conv.sigma.values, one.sigma.values, rtol=1e-12, atol=1e-15, equal_nan=True)
    assert conv.attrs["N_k_coarse"] == 4 and np.nanmax(conv.error_estimate.values) > 0


def test_quantum_spin_hall_uses_S_equal_sigma_over_2():
    """BHZ-like: spin up the QWZ model, spin down its time reverse; S = sigma/2 from the spinful basis."""
    up = qwz(m=1.0)
    C = fhs_chern(up)
    hop = {}
    for R, H in zip(map(tuple, up.R), up.H):
        M = np.zeros((4, 4), complex)  # interleaved basis: (a up, a dn, b up, b dn)
        M[0::2, 0::2] = H
        M[1::2, 1::2] = H.conj()
        hop[R] = M
    m = TightBinding(up.cell, up.atoms, hop, spinful=True, periodic=2, name="QSH")
    s = hall_conductivity(m, 0.0, operator="S", components="zxy", N_k=30, convergence=False)
    assert s.attrs["units"] == "(hbar/e) S (per square)"
    assert abs(s.sigma.values[0, 2, 0, 1] - (-C * E2_H)) < 1e-3 * E2_H  # 2 x (1/2) x (-C e^2/h)
    c = hall_conductivity(m, 0.0, operator="charge", components="xy", N_k=30, convergence=False)
    assert abs(c.sigma.values[0, 0, 0, 1]) < 1e-9 * E2_H  # time reversal


from hypothesis import given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@hsettings(max_examples=6)
@given(seed=st.integers(0, 10**6), T=st.sampled_from([0.0, 0.1]), eta=st.sampled_from([0.0, 0.05]), mu=st.floats(-2, 2))
def test_degenerate_bands_fast_path_equals_response_factors(seed, T, eta, mu):
    """Spin-degenerate bands at every k (H(R) = A(R) x 1): the degenerate-subspace weights of the fast path."""
    rng = np.random.default_rng(seed)
    base = random_model(rng, n_atoms=2, periodic=2, norb=2, scale=0.5)
    hop = {R: np.kron(H, np.eye(2)) for R, H in zip(map(tuple, base.R), base.H)}
    m = TightBinding(base.cell, base.atoms, hop, spinful=True, periodic=2)
    A = rng.normal(size=(m.n, m.n)) + 1j * rng.normal(size=(m.n, m.n))
    for op, comp in (("S", (2, 0, 1)), ("charge", (0, 1, 0)), (A + A.conj().T, (0, 0, 1))):
        ds = hall_conductivity(m, mu, operator=op, N_k=3, T=T, eta=eta, units="natural", convergence=False)
        ref = kubo_sum_reference(m, op, comp, mu, 3, T, eta)
        for part in ("fermi_sea", "fermi_surface"):
            if ref[part] is None:
                assert part not in ds
                continue
            got = float(ds[part].values[(0,) + comp])
            assert abs(got - ref[part]) < 1e-11 * max(1.0, abs(ref[part])), (op, part, got, ref[part])


def test_one_diagonalization_per_k_point_serves_every_chemical_potential(monkeypatch):
    calls = []
    real = np.linalg.eigh

    def counting(a, *args, **kw):
        calls.append(a.shape[0] if a.ndim == 3 else 1)
        return real(a, *args, **kw)

    monkeypatch.setattr(np.linalg, "eigh", counting)
    m = sp_cubic()
    for n_mu in (1, 21):
        calls.clear()
        hall_conductivity(m, np.linspace(-2, 2, n_mu), operator="model", N_k=6, units="natural", convergence=False)
        assert sum(calls) == 6**3  # k points diagonalized, whatever the number of mu


def test_cubic_symmetry_of_a_shipped_fcc_metal():
    """Pt (fcc, Slater-Koster, atom-centred L of the s, p, d shells): the OHC tensor is sigma eps_gab.
    Fails if the k grid is not invariant under the cubic group (a shifted Monkhorst-Pack grid of even
    N_k is not, for fcc) or if L and H are built in inconsistent orbital conventions."""
    from orbsym.materials.hall import hall_conductivity
    from orbsym.materials.slater_koster import material

    m = material("Pt")
    mu = m.fermi_level(5.0, N_k=8)
    ds = hall_conductivity(m, mu, operator="L", N_k=8, eta=0.1, convergence=False)
    s = ds.sigma.values[0]  # (gamma, alpha, beta)
    eps = np.zeros((3, 3, 3))
    for (a, b, c), sign in {(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1, (0, 2, 1): -1, (2, 1, 0): -1, (1, 0, 2): -1}.items():
        eps[a, b, c] = sign
    oh = s[2, 0, 1]
    assert abs(oh) > 1.0
    np.testing.assert_allclose(s, oh * eps, atol=1e-9 * abs(oh))


def test_orbital_hall_takes_a_numeric_model_and_agrees_with_the_symbolic_path():
    """orbsym.orbital_hall(TightBinding) equals orbital_hall of the same model given symbolically."""
    from orbsym.response import orbital_hall
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.symmetry import symmetric_hoppings

    model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    P = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
    ref = orbital_hall(model, mu=[-0.2, 0.4], N_k=12, eta=0.05, T=0.05, **P)
    ks = kernels(model)
    tb = TightBinding.from_kernels(ks, {**P, **({"mu": 0.0} if "mu" in ks.parameters else {})})
    got = orbital_hall(tb, mu=[-0.2, 0.4], N_k=12, eta=0.05, T=0.05)
    for key in ("sigma", "fermi_surface", "total", "charge_hall"):
        np.testing.assert_allclose(got[key], ref[key], atol=1e-12, err_msg=key)
    assert abs(ref["sigma"][0]) > 1e-3
    with pytest.raises(ValueError, match="symbolic models"):
        orbital_hall(tb, mu=0.0, t_1=1.0)
