"""SCBA self-energy, ladder vertex and the disorder-averaged Kubo-Bastin conductivity (orbsym.materials.born)."""

import numpy as np
import pytest

from orbsym.materials.born import (
    SCBAConvergenceError, _Grid, _mask, disorder_variance, disordered_conductivity, ladder_series, ladder_vertex, scba_self_energy,
)
from orbsym.materials.hall import hall_conductivity, monkhorst_pack
from orbsym.materials.model import Atom, TightBinding

SX = np.array([[0, 1], [1, 0]], complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)


def sp_model(Es=1.0, Ep=-1.0, tss=-0.5, tsp=0.6, tpps=0.8, tppp=-0.2):
    """s, px, py on the square lattice, Slater-Koster nearest neighbours (bands in [-3, 3])."""
    on = np.diag([Es, Ep, Ep]).astype(complex)
    Tx = np.array([[tss, tsp, 0], [-tsp, tpps, 0], [0, 0, tppp]], complex)
    Ty = np.array([[tss, 0, tsp], [0, tppp, 0], [-tsp, 0, tpps]], complex)
    return TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("s", "px", "py"))], on, {(1, 0, 0): Tx, (0, 1, 0): Ty},
                                   periodic=2, length_unit="a", energy_unit="t", name="sp square")


def qwz(m=-1.0):
    return TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("a", "b"))], m * SZ, {(1, 0, 0): (SZ - 1j * SX) / 2, (0, 1, 0): (SZ - 1j * SY) / 2},
                                   periodic=2, length_unit="a", energy_unit="t")


def random_model(seed):
    """Two atoms (1 + 2 orbitals) at distinct positions, complex hoppings: no symmetry at all."""
    rng = np.random.default_rng(seed)

    def herm(n):
        a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
        return (a + a.conj().T) / 2

    atoms = [Atom("A", (0, 0, 0), ("a",)), Atom("B", (0.4, 0.3, 0), ("b1", "b2"))]
    bonds = {(1, 0, 0): 0.4 * (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))), (0, 1, 0): 0.4 * (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))),
             (1, 1, 0): 0.2 * rng.normal(size=(3, 3))}
    return TightBinding.from_bonds(np.eye(3), atoms, herm(3), bonds, periodic=2, length_unit="a", energy_unit="t", name="random")


# ------------------------------------------------------------------ SCBA
@pytest.mark.parametrize("correlation", ["orbital-independent", "per-orbital"])
def test_scba_newton_equals_plain_iteration_and_is_self_consistent(correlation):
    m = random_model(3)
    W, z, N_k = 1.5, 0.2 + 0.0j, 16
    fast = scba_self_energy(m, z, W, correlation=correlation, N_k=N_k, tol=1e-13)
    slow = scba_self_energy(m, z, W, correlation=correlation, N_k=N_k, newton=False, mixing=0.7, tol=1e-13, max_iter=5000)
    np.testing.assert_allclose(fast.sigma, slow.sigma, rtol=0, atol=1e-11)
    assert fast.iterations < slow.iterations
    # independent check of the fixed point: Sigma = gamma2 P <(z - H(k) - Sigma)^-1> on a grid built here
    frac = np.stack(np.meshgrid(np.arange(N_k) / N_k, np.arange(N_k) / N_k, [0.0], indexing="ij"), -1).reshape(-1, 3)
    G = np.linalg.inv(z * np.eye(3) - fast.sigma - m.hamiltonian(m.k_cartesian(frac)))
    gl = G.mean(axis=0)
    keep = np.eye(3, dtype=bool) if correlation == "per-orbital" else np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]], bool)
    np.testing.assert_allclose(fast.sigma, (W**2 / 12) * np.where(keep, gl, 0), rtol=0, atol=1e-11)
    assert np.all(fast.sigma[~keep] == 0)
    assert np.linalg.eigvalsh((fast.sigma - fast.sigma.conj().T) / 2j).max() < 0  # retarded: -Im Sigma > 0
    gauss = scba_self_energy(m, z, W / np.sqrt(12), distribution="gaussian", correlation=correlation, N_k=N_k, tol=1e-13)
    np.testing.assert_allclose(gauss.sigma, fast.sigma, rtol=0, atol=1e-11)  # same variance, same SCBA


def test_scba_single_band_born_limit():
    """One s band: weak disorder gives -Im Sigma = pi gamma2 rho(E) (Fermi golden rule), rho from the clean G."""
    s = TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("s",))], np.zeros((1, 1)), {(1, 0, 0): -np.eye(1), (0, 1, 0): -np.eye(1)},
                                periodic=2, length_unit="a", energy_unit="t")
    W, N_k, E, eta = 0.6, 256, -1.0, 0.02
    sc = scba_self_energy(s, E, W, N_k=N_k, broadening=eta)
    gl = np.mean(1 / (E + 1j * eta - s.hamiltonian(s.k_cartesian(monkhorst_pack(N_k, 2)))[:, 0, 0]))
    born = (W**2 / 12) * gl - 1j * eta
    assert abs(sc.sigma[0, 0] - born) < 0.1 * abs(born + 1j * eta)  # self-consistency is a correction of order gamma2 / bandwidth


# ------------------------------------------------------------------ ladder
def _greens(model, W, z, N_k, correlation):
    sc = scba_self_energy(model, z, W, correlation=correlation, N_k=N_k)
    grid = _Grid(model, N_k)
    GR = grid.green(complex(z), sc.sigma)
    return grid, GR, GR.conj().transpose(0, 2, 1), _mask(model, correlation), disorder_variance(W), sc.sigma - sc.sigma.conj().T


def test_ladder_solve_equals_the_explicit_series():
    for model, corr in ((sp_model(), "orbital-independent"), (random_model(5), "orbital-independent"), (random_model(5), "per-orbital")):
        grid, GR, GA, mask, g2, diff = _greens(model, 2.0, 0.1, 20, corr)
        for b in (0, 1):
            X = ladder_vertex(GR, GA, grid.v[b], mask, g2)
            Xs = ladder_series(GR, GA, grid.v[b], mask, g2, project=diff)
            np.testing.assert_allclose(X, Xs, rtol=0, atol=1e-11 * max(1.0, np.abs(X).max()))
            assert np.abs(X).max() > 1e-3  # a real correction (s-p hybrid vertex, or no symmetry)


def test_ladder_vanishes_for_one_band_and_for_same_parity_orbitals():
    """Known limits: the local current vertex <G v G> is odd under k -> -k when H(-k) = H(k) (one band; one atom
    whose orbitals share a parity, or per-orbital disorder of the s-p model, which keeps only even diagonal entries)."""
    s = TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("s",))], np.zeros((1, 1)), {(1, 0, 0): -np.eye(1), (0, 1, 0): -0.7 * np.eye(1)},
                                periodic=2, length_unit="a", energy_unit="t")
    for model, corr in ((s, "orbital-independent"), (sp_model(), "per-orbital")):
        grid, GR, GA, mask, g2, _ = _greens(model, 2.0, 0.3, 16, corr)
        X = ladder_vertex(GR, GA, grid.v[0], mask, g2)
        assert np.abs(X).max() < 1e-13
        r = disordered_conductivity(model, 0.3, 2.0, operator="charge", components=["xx"], correlation=corr, N_k=16, n_sea=4)
        assert r.fermi_surface["xx"] == pytest.approx(r.fermi_surface_bare["xx"], rel=1e-12)


# ------------------------------------------------------------------ conductivity
def _eigen_bastin(model, O, comp, mu, gamma0, N_k):
    """Constant broadening, independent route: eigenbasis of H(k), Lorentzian poles, the energy integral in closed form."""
    ax = "xyz"
    k = model.k_cartesian(monkhorst_pack(N_k, 2))
    E, U = np.linalg.eigh(model.hamiltonian(k))
    v = model.velocity(k)
    a, b = ax.index(comp[-2]), ax.index(comp[-1])
    j = v[a] if O is None else 0.5 * (v[a] @ O + O @ v[a])
    Ud = U.conj().swapaxes(-1, -2)
    jn, vn = Ud @ j @ U, Ud @ v[b] @ U
    gR = 1 / (mu - E + 1j * gamma0)
    # Fermi surface: Tr[j G^R v G^A] = sum_nm j_nm gR_m v_mn conj(gR_n)
    fs = np.einsum("knm,km,kmn,kn->", jn, gR, vn, gR.conj()).real
    # Fermi sea: int_{-inf}^{mu} Tr[j G' v G] = sum_nm j_nm v_mn I_mn, I_mn = -int g_m^2 g_n, g = 1/(x - p), p = E - i gamma0
    p = E - 1j * gamma0
    pm, pn = p[:, :, None], p[:, None, :]
    d = pn - pm
    same = np.abs(d) < 1e-7
    ds = np.where(same, 1.0, d)
    A = 1 / ds**2
    prim = A * (np.log(mu - pn) - np.log(mu - pm)) - (1 / (-ds)) / (mu - pm)
    I = np.where(same, 1 / (2 * (mu - pm) ** 2), -prim)
    sea = np.einsum("knm,kmn,kmn->", jn, vn, I).real
    nk, V = len(k), model.volume
    return fs / (2 * np.pi * V * nk), -sea / (np.pi * V * nk)


@pytest.mark.parametrize("op, comp", [("charge", "xy"), ("charge", "xx"), ("O", "zxy"), ("O", "zyy")])
def test_constant_broadening_against_the_eigenbasis_route(op, comp):
    m = random_model(11)
    rng = np.random.default_rng(2)
    O = rng.normal(size=(3, 3, 3)) + 1j * rng.normal(size=(3, 3, 3))
    O = (O + O.conj().transpose(0, 2, 1)) / 2
    r = disordered_conductivity(m, 0.15, 0.0, operator="charge" if op == "charge" else O, components=[comp], broadening=0.2, N_k=10, n_sea=80)
    fs, sea = _eigen_bastin(m, None if op == "charge" else O[2], comp, 0.15, 0.2, 10)
    assert r.fermi_surface_bare[comp] == pytest.approx(fs, rel=1e-11, abs=1e-13)
    assert r.fermi_sea[comp] == pytest.approx(sea, rel=1e-7, abs=1e-9)  # Gauss-Legendre on the contour
    assert abs(fs) > 1e-3 and abs(sea) > 1e-4


def test_weak_disorder_limit_is_the_clean_kubo_formula():
    """SCBA at W -> 0 in the gap of a Chern insulator: sigma_xy -> hall.py's -C/(2 pi); constant broadening -> 0 likewise."""
    m = qwz(-1.0)
    clean = hall_conductivity(m, 0.0, operator="charge", components="xy", N_k=32, units="natural", convergence=False).sigma.values[0, 0, 0, 1]
    assert clean == pytest.approx(-1 / (2 * np.pi), rel=1e-6)
    for W, g0 in ((0.3, 0.0), (0.0, 0.003)):
        r = disordered_conductivity(m, 0.0, W, operator="charge", components=["xy"], broadening=g0, N_k=32, n_sea=40)
        assert r.total["xy"] == pytest.approx(clean, rel=2e-3)
    # orbital Hall of the s-p metal: intrinsic value of hall.py at eta = 0, approached as the broadening shrinks
    sp = sp_model()
    ref = hall_conductivity(sp, -1.0, operator="L", components="zxy", N_k=96, units="natural", convergence=False).sigma.values[0, 2, 0, 1]
    errs = [abs(disordered_conductivity(sp, -1.0, 0.0, broadening=g, N_k=96, n_sea=16).total["zxy"] - ref) for g in (0.12, 0.06)]
    assert errs[1] < 0.6 * errs[0] < 0.05 * abs(ref)  # O(Gamma) approach (measured 0.0083, 0.0037 of 0.163)


def test_bad_input():
    m = sp_model()
    with pytest.raises(ValueError, match="disorder strength W"):
        scba_self_energy(m, 0.0, -1.0)
    with pytest.raises(ValueError, match="distribution"):
        scba_self_energy(m, 0.0, 1.0, distribution="lorentzian")
    with pytest.raises(ValueError, match="correlation"):
        scba_self_energy(m, 0.0, 1.0, correlation="bond")
    with pytest.raises(SCBAConvergenceError, match="did not converge"):
        scba_self_energy(m, 0.0, 2.0, N_k=8, max_iter=3)
    with pytest.raises(ValueError, match="upper half plane"):
        scba_self_energy(m, -0.1j, 1.0, N_k=8)
    with pytest.raises(ValueError, match="singular"):
        disordered_conductivity(m, 0.0, 0.0, N_k=8)
    with pytest.raises(ValueError, match="components"):
        disordered_conductivity(m, 0.0, 1.0, components=["xy"], N_k=8)
    with pytest.raises(ValueError, match="charge components"):
        disordered_conductivity(m, 0.0, 1.0, operator="charge", components=["zxy"], N_k=8)
    with pytest.raises(ValueError, match="mixing"):
        scba_self_energy(m, 0.0, 1.0, mixing=1.5)
    with pytest.raises(TypeError, match="TightBinding"):
        scba_self_energy("model", 0.0, 1.0)



def _bastin_dense(E, jn, vn, mu, gamma0):
    """Kubo-Bastin with constant broadening from eigenvalues E (..., n) and operators in the eigenbasis (..., n, n):
    Fermi surface (1/2pi) Tr[j G^R v G^A] and sea -(1/pi) Re int Tr[j G' v G], the energy integral in closed form."""
    gR = 1 / (mu - E + 1j * gamma0)
    fs = np.einsum("...nm,...m,...mn,...n->", jn, gR, vn, gR.conj()).real
    p = E - 1j * gamma0
    pm, pn = p[..., :, None], p[..., None, :]
    d = pn - pm
    same = np.abs(d) < 1e-7
    ds = np.where(same, 1.0, d)
    prim = (np.log(mu - pn) - np.log(mu - pm)) / ds**2 + 1 / ds / (mu - pm)
    I = np.where(same, 1 / (2 * (mu - pm) ** 2), -prim)
    sea = np.einsum("...nm,...mn,...mn->", jn, vn, I).real
    return fs / (2 * np.pi), -sea / np.pi


def test_ladder_against_the_exact_real_space_average_at_weak_disorder():
    """At order W^2 the disorder average of sigma is exactly Born self-energies + one ladder rung (no crossed diagram
    has a single impurity line).  Real space: a clean L x L torus (SparseSample.from_tight_binding, its own velocity
    and {v, L_z}/2), one impurity eps at site 0 on all three orbitals; by translation invariance
    <sigma> - sigma_0 = (gamma2 / 2) L^2 d^2 sigma / d eps^2 (second difference, exact dense Kubo-Bastin with constant
    broadening).  k space: disordered_conductivity on the same L x L grid, (sigma(W) - sigma(0)) / gamma2 at small W.
    Tolerance 5e-4 relative (measured 1.4e-4 and 7e-5): O(gamma2) of the SCBA beyond Born and O(h^2) of the difference;
    the SCBA bubble alone is off by 65 % (OHC) and 33 % (sigma_xx), the R-A rung alone by 1.8 % and 2.1 %."""
    from orbsym.numeric.chebyshev import SparseSample

    m, L, mu, eta = sp_model(), 8, 0.0, 0.3

    def real_space(eps, comp):
        d = np.zeros((L, L, 1))
        d[0, 0, 0] = eps
        S = SparseSample.from_tight_binding(m, (L, L), onsite_disorder=d)
        E, U = np.linalg.eigh(S.H.toarray())
        j = (S.current_operator(comp[-2], None if comp[0] == "c" else comp[0])).toarray()
        v = S.velocity(comp[-1]).toarray()
        fs, sea = _bastin_dense(E, U.conj().T @ j @ U, U.conj().T @ v @ U, mu, eta)
        return (fs + sea) / L**2

    h, W = 0.02, 0.02
    g2 = W**2 / 12
    for comp, op, key in (("zxy", "L", "zxy"), ("cxx", "charge", "xx")):
        s0, sp, sm = real_space(0.0, comp), real_space(h, comp), real_space(-h, comp)
        exact = 0.5 * L**2 * (sp + sm - 2 * s0) / h**2  # d<sigma>/d gamma2
        clean = disordered_conductivity(m, mu, 0.0, operator=op, components=[key], broadening=eta, N_k=L, n_sea=60)
        assert clean.total[key] == pytest.approx(s0, rel=1e-8)  # the torus is the k grid
        dis = disordered_conductivity(m, mu, W, operator=op, components=[key], broadening=eta, N_k=L, n_sea=60, tol=1e-14)
        ladder = (dis.total[key] - clean.total[key]) / g2
        bare = (dis.total_bare[key] - clean.total[key]) / g2
        ra_only = (dis.fermi_surface[key] + dis.fermi_sea[key] - clean.total[key]) / g2
        assert ladder == pytest.approx(exact, rel=5e-4)
        assert abs(bare - exact) > 0.3 * abs(exact)  # the rungs matter: the bubble alone misses them
        assert abs(ra_only - exact) > 0.01 * abs(exact)  # and the R-R rung of the sea term is needed too
