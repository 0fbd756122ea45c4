"""Tests of orbsym.materials.shells: Wannier90 orbitals, rotations, L, S, SOC and the t2g map to Eq. 2.

Every matrix built by the module is checked against an independent slow path written here:
polynomials written out by hand, scipy's complex spherical harmonics, finite rotations of the
polynomials (L recovered as the exact Fourier generator of D(alpha)), explicit Kronecker loops, the
block formula of L.S, and SymPy's generators of the paper.
"""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.materials import shells as sh

EPS = np.zeros((3, 3, 3))
for _a, _b, _c in itertools.permutations(range(3)):
    EPS[_a, _b, _c] = np.linalg.det(np.eye(3)[[_a, _b, _c]])

ALL_LABELS = [lab for l in range(4) for lab in sh.SHELL_LABELS[l]]


def cubic_group():
    """The 48 operations of O_h: signed permutation matrices."""
    ops = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            R = np.zeros((3, 3))
            for row, col in enumerate(perm):
                R[row, col] = signs[row]
            ops.append(R)
    return ops


CUBIC = cubic_group()


def rot(axis, angle):
    """Active rotation by ``angle`` about ``axis`` (Rodrigues)."""
    n = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])
    return np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def random_orthogonal(rng, improper=False):
    Q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    Q = Q * np.sign(np.diag(r))
    if np.linalg.det(Q) < 0:
        Q[:, 0] *= -1
    return -Q if improper else Q


def comm(A, B):
    return A @ B - B @ A


# ------------------------------------------------------------------------------------------------
# orbitals: names, order, normalisation, phases
# ------------------------------------------------------------------------------------------------

# Hand-written monomials (unnormalised) of Wannier90's table, each with the positive sign.
MONOMIALS = {
    "s": lambda x, y, z: 1 + 0 * x,
    "pz": lambda x, y, z: z,
    "px": lambda x, y, z: x,
    "py": lambda x, y, z: y,
    "dz2": lambda x, y, z: 2 * z**2 - x**2 - y**2,
    "dxz": lambda x, y, z: x * z,
    "dyz": lambda x, y, z: y * z,
    "dx2-y2": lambda x, y, z: x**2 - y**2,
    "dxy": lambda x, y, z: x * y,
    "fz3": lambda x, y, z: z * (2 * z**2 - 3 * x**2 - 3 * y**2),
    "fxz2": lambda x, y, z: x * (4 * z**2 - x**2 - y**2),
    "fyz2": lambda x, y, z: y * (4 * z**2 - x**2 - y**2),
    "fz(x2-y2)": lambda x, y, z: z * (x**2 - y**2),
    "fxyz": lambda x, y, z: x * y * z,
    "fx(x2-3y2)": lambda x, y, z: x * (x**2 - 3 * y**2),
    "fy(3x2-y2)": lambda x, y, z: y * (3 * x**2 - y**2),
}


def sphere_quadrature():
    """Product rule exact for polynomials of degree <= 15 on the unit sphere."""
    mu, w = np.polynomial.legendre.leggauss(8)
    phi = 2 * np.pi * np.arange(16) / 16
    ct, ph = np.meshgrid(mu, phi, indexing="ij")
    st_ = np.sqrt(1 - ct**2)
    pts = np.stack([st_ * np.cos(ph), st_ * np.sin(ph), ct], axis=-1).reshape(-1, 3)
    wts = (w[:, None] * np.full(16, 2 * np.pi / 16)[None, :]).ravel()
    return pts, wts


def test_w90_order_and_names():
    assert sh.SHELL_LABELS[1] == ("pz", "px", "py")
    assert sh.SHELL_LABELS[2] == ("dz2", "dxz", "dyz", "dx2-y2", "dxy")
    assert sh.SHELL_LABELS[3] == ("fz3", "fxz2", "fyz2", "fz(x2-y2)", "fxyz", "fx(x2-3y2)", "fy(3x2-y2)")
    assert sh.ORBITAL_GROUPS == {"t2g": ("dxz", "dyz", "dxy"), "eg": ("dz2", "dx2-y2")}
    assert sh.SHELL_LETTERS == {"s": 0, "p": 1, "d": 2, "f": 3}


def test_real_harmonics_are_the_named_monomials_with_positive_sign():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(50, 3)) * rng.uniform(0.5, 3, size=(50, 1))  # any length: only the direction
    u = r / np.linalg.norm(r, axis=1)[:, None]
    for lab in ALL_LABELS:
        ratio = sh.real_harmonic(lab, r) / MONOMIALS[lab](*u.T)
        assert np.ptp(ratio) < 1e-12 * abs(ratio[0]), lab
        assert ratio[0] > 0, lab
    # the documented prefactors, e.g. dxy = sqrt(15/4pi) xy/r^2 and fxyz = sqrt(105)/(2 sqrt(pi)) xyz/r^3
    e = np.array([1.0, 1.0, 1.0]) / math.sqrt(3)
    assert sh.real_harmonic("dxy", e) == pytest.approx(math.sqrt(15 / (4 * math.pi)) / 3, rel=1e-14)
    assert sh.real_harmonic("fxyz", e) == pytest.approx(math.sqrt(105) / (2 * math.sqrt(math.pi)) / 3**1.5, rel=1e-14)


def test_real_harmonics_orthonormal_on_the_sphere():
    pts, wts = sphere_quadrature()
    Y = np.stack([sh.real_harmonic(lab, pts) for lab in ALL_LABELS], axis=1)
    gram = Y.T @ (wts[:, None] * Y)
    assert np.max(np.abs(gram - np.eye(len(ALL_LABELS)))) < 1e-13
    for l in range(4):
        assert np.array_equal(sh.real_harmonics(l, pts), Y[:, [ALL_LABELS.index(x) for x in sh.SHELL_LABELS[l]]])


def _sph_harm(l, m, pts):
    theta = np.arccos(np.clip(pts[:, 2], -1, 1))
    phi = np.arctan2(pts[:, 1], pts[:, 0])
    if hasattr(scipy.special, "sph_harm_y"):
        return scipy.special.sph_harm_y(l, m, theta, phi)
    return scipy.special.sph_harm(m, l, phi, theta)  # pragma: no cover - older SciPy


@pytest.mark.parametrize("l", [0, 1, 2, 3])
def test_complex_to_real_against_scipy_condon_shortley(l):
    """Theta_i = sum_m U_im Y_l^m with SciPy's Y_l^m (Condon-Shortley phase included)."""
    rng = np.random.default_rng(2 + l)
    pts = rng.normal(size=(40, 3))
    pts /= np.linalg.norm(pts, axis=1)[:, None]
    Y = np.stack([_sph_harm(l, m, pts) for m in range(l, -l - 1, -1)], axis=1)
    U = sh.complex_to_real(l)
    assert np.max(np.abs(U @ U.conj().T - np.eye(2 * l + 1))) < 1e-15
    assert np.max(np.abs(Y @ U.T - sh.real_harmonics(l, pts))) < 1e-13


# ------------------------------------------------------------------------------------------------
# rotations
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("l", [0, 1, 2, 3])
def test_shell_rotation_rotates_the_polynomials(l):
    """Theta_i(R^-1 r) = sum_j Theta_j(r) D_ji at random points (not the fit points)."""
    rng = np.random.default_rng(10 + l)
    r = rng.normal(size=(30, 3))
    for improper in (False, True):
        R = random_orthogonal(rng, improper)
        D = sh.shell_rotation(l, R)
        lhs = sh.real_harmonics(l, r @ R)  # row p: Theta(R^T p)
        assert np.max(np.abs(lhs - sh.real_harmonics(l, r) @ D)) < 1e-13
        assert np.max(np.abs(D.T @ D - np.eye(2 * l + 1))) < 1e-13
        assert D.dtype == float


@pytest.mark.parametrize("l", [0, 1, 2, 3])
def test_shell_rotation_is_a_homomorphism_with_parity(l):
    rng = np.random.default_rng(20 + l)
    n = 2 * l + 1
    for _ in range(4):
        R1, R2 = random_orthogonal(rng, rng.random() < 0.5), random_orthogonal(rng, rng.random() < 0.5)
        D12 = sh.shell_rotation(l, R1 @ R2)
        assert np.max(np.abs(D12 - sh.shell_rotation(l, R1) @ sh.shell_rotation(l, R2))) < 1e-13
    assert np.max(np.abs(sh.shell_rotation(l, -np.eye(3)) - (-1) ** l * np.eye(n))) < 1e-13
    assert np.max(np.abs(sh.shell_rotation(l, np.eye(3)) - np.eye(n))) < 1e-13
    # C4 about z on p: (pz, px, py) -> pz fixed, px -> py, py -> -px  (columns = rotated orbitals)
    if l == 1:
        D = sh.shell_rotation(1, rot([0, 0, 1], np.pi / 2))
        assert np.max(np.abs(D - np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]))) < 1e-14


def fourier_generator(l, axis):
    """n.L from finite rotations only: D(alpha) = sum_m P_m e^{-i alpha m}  =>  n.L = sum_m m P_m."""
    N = 2 * l + 1
    alphas = 2 * np.pi * np.arange(N) / N
    Ds = np.array([sh.shell_rotation(l, rot(axis, a)) for a in alphas])
    out = np.zeros((N, N), dtype=complex)
    for m in range(-l, l + 1):
        P_m = np.einsum("k,kij->ij", np.exp(1j * alphas * m), Ds) / N
        out += m * P_m
    return out


@pytest.mark.parametrize("l", [1, 2, 3])
def test_L_is_the_generator_of_rotations_of_the_polynomials(l):
    """shell_L (Condon-Shortley + real transformation) against L from rotating the W90 polynomials."""
    L = sh.shell_L(l)
    rng = np.random.default_rng(30 + l)
    for axis in (np.eye(3)[0], np.eye(3)[1], np.eye(3)[2], rng.normal(size=3)):
        n = axis / np.linalg.norm(axis)
        assert np.max(np.abs(fourier_generator(l, axis) - np.einsum("a,aij->ij", n, L))) < 1e-12
    # and the finite version: D(R_n(alpha)) = exp(-i alpha n.L)
    n, alpha = rng.normal(size=3), 0.7
    n /= np.linalg.norm(n)
    expL = scipy.linalg.expm(-1j * alpha * np.einsum("a,aij->ij", n, L))
    assert np.max(np.abs(expL - sh.shell_rotation(l, rot(n, alpha)))) < 1e-12


@pytest.mark.parametrize("l", [1, 2, 3])
def test_Lz_is_minus_i_d_dphi_by_finite_differences(l):
    """(L_z Theta_j)(r) = -i dTheta_j/dphi = sum_i Theta_i(r) (L_z)_ij, five-point stencil in phi."""
    rng = np.random.default_rng(40 + l)
    r = rng.normal(size=(25, 3))
    h = 1e-3

    def at(angle):  # Theta_j(R_z(angle) r): the functions at the points turned by +angle about z
        return sh.real_harmonics(l, r @ rot([0, 0, 1], angle).T)

    dphi = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
    Lz = sh.shell_L(l)[2]
    assert np.max(np.abs(-1j * dphi - sh.real_harmonics(l, r) @ Lz)) < 1e-10


@pytest.mark.parametrize("l", [1, 2, 3])
def test_L_covariance_over_the_48_cubic_operations(l):
    """D(R) L_a D(R)^T = det(R) sum_b R_ba L_b  (L a pseudovector; the transpose rule is wrong)."""
    L = sh.shell_L(l)
    wrong = 0.0
    for R in CUBIC:
        D = sh.shell_rotation(l, R)
        lhs = np.einsum("ij,ajk,lk->ail", D, L, D)
        rhs = np.linalg.det(R) * np.einsum("ba,bij->aij", R, L)
        assert np.max(np.abs(lhs - rhs)) < 1e-12
        wrong = max(wrong, np.max(np.abs(lhs - np.linalg.det(R) * np.einsum("ab,bij->aij", R, L))))
    assert wrong > 0.5  # the transposed rule fails (C3 rotations are not symmetric matrices)


def test_t2g_closed_under_cubic_group_and_projected_L_covariant():
    PLP = sh.orbital_L("t2g")
    for R in CUBIC:
        D = sh.orbital_rotation("t2g", R)
        lhs = np.einsum("ij,ajk,lk->ail", D, PLP, D)
        assert np.max(np.abs(lhs - np.linalg.det(R) * np.einsum("ba,bij->aij", R, PLP))) < 1e-12
    with pytest.raises(ValueError, match="not closed"):
        sh.orbital_rotation("t2g", rot([1, 0, 0], 0.3))


# ------------------------------------------------------------------------------------------------
# angular momentum
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("l", [1, 2, 3])
def test_L_algebra_casimir_hermitian(l):
    L = sh.shell_L(l)
    n = 2 * l + 1
    for a, b in itertools.product(range(3), repeat=2):
        assert np.max(np.abs(comm(L[a], L[b]) - 1j * np.einsum("c,cij->ij", EPS[a, b], L))) < 1e-13
    assert np.max(np.abs(np.einsum("aij,ajk->ik", L, L) - l * (l + 1) * np.eye(n))) < 1e-13
    assert np.max(np.abs(L - L.conj().transpose(0, 2, 1))) < 1e-15
    assert np.max(np.abs(L.real)) == 0.0  # real orbitals: purely imaginary
    assert np.allclose(np.linalg.eigvalsh(L[2]), np.arange(-l, l + 1), atol=1e-13)


def test_L_of_p_is_minus_i_epsilon_in_xyz():
    """(L_a)_bc = -i eps_abc on (px, py, pz): the textbook p-shell L, here reordered from (pz, px, py)."""
    L = sh.orbital_L(("px", "py", "pz"))
    assert np.max(np.abs(L - (-1j) * EPS)) < 1e-15


def test_orbital_L_mixed_shells_and_subsets():
    L = sh.orbital_L("s,p,d")
    assert L.shape == (3, 9, 9)
    assert np.max(np.abs(L[:, 0, :])) == 0 and np.max(np.abs(L[:, :, 0])) == 0  # s: no L
    assert np.array_equal(L[:, 1:4, 1:4], sh.shell_L(1))
    assert np.array_equal(L[:, 4:, 4:], sh.shell_L(2))
    assert np.max(np.abs(L[:, 1:4, 4:])) == 0  # no p-d mixing
    # a sequence keeps the caller's order: rows/cols picked from the full shell
    sub = sh.orbital_L(("dxy", "dxz"))
    full = sh.shell_L(2)
    assert np.array_equal(sub, full[:, [4, 1]][:, :, [4, 1]])
    assert np.max(np.abs(sh.orbital_L("eg"))) == 0  # eg: quenched
    with pytest.raises(ValueError, match="'dxy' appears twice"):
        sh.orbital_L(("dxy", "dxy"))
    with pytest.raises(ValueError, match="unknown orbital label 'dxx'"):
        sh.orbital_L(("dxx",))


def test_projected_t2g_L_reversed_algebra():
    L = sh.orbital_L("t2g")
    for a, b in itertools.product(range(3), repeat=2):
        assert np.max(np.abs(comm(L[a], L[b]) + 1j * np.einsum("c,cij->ij", EPS[a, b], L))) < 1e-13
    assert np.max(np.abs(np.einsum("aij,ajk->ik", L, L) - 2 * np.eye(3))) < 1e-13


# ------------------------------------------------------------------------------------------------
# t2g and the paper's Eq. 2; the SymPy generators
# ------------------------------------------------------------------------------------------------

def _numeric(gen_set):
    return np.array([np.array(m.evalf(), dtype=complex) for m in gen_set.matrices])


def test_t2g_to_paper_is_the_permutation():
    T = sh.t2g_to_paper()
    assert np.array_equal(T, np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1.0]]))
    # it maps the W90 functions onto the named paper functions (no signs)
    rng = np.random.default_rng(5)
    r = rng.normal(size=(10, 3))
    w90 = np.stack([sh.real_harmonic(x, r) for x in sh.T2G_W90], axis=1)
    paper = np.stack([sh.real_harmonic(x, r) for x in ("dyz", "dxz", "dxy")], axis=1)
    assert np.array_equal(w90 @ T.T, paper)


def test_t2g_sign_relation_to_eq2():
    """P L P (paper basis) = (+Ltilde_x, +Ltilde_y, -Ltilde_z); neither +Ltilde nor -Ltilde."""
    from orbsym.symbolic.generators import t2g_L

    Lt = _numeric(t2g_L())
    assert np.array_equal(sh.paper_t2g_L(), Lt)
    P = sh.t2g_physical_L()
    assert sh.T2G_L_SIGNS == (1, 1, -1)
    for a in range(3):
        assert np.max(np.abs(P[a] - sh.T2G_L_SIGNS[a] * Lt[a])) < 1e-14
    assert np.max(np.abs(P + Lt)) > 0.5 and np.max(np.abs(P - Lt)) > 0.5
    # the documented alternative gauge: with d_xy -> -d_xy the relation is P L P = -Ltilde
    G = np.diag([1.0, 1.0, -1.0])
    assert np.max(np.abs(np.einsum("ij,ajk,kl->ail", G, P, G) + Lt)) < 1e-14


def test_d_shell_L_equals_symbolic_d_L():
    from orbsym.symbolic.generators import d_L

    sym = _numeric(d_L())
    order = [sh.SHELL_LABELS[2].index(x) for x in ("dyz", "dxz", "dxy", "dx2-y2", "dz2")]
    L = sh.shell_L(2)[:, order][:, :, order]
    assert np.max(np.abs(L - sym)) < 1e-14


# ------------------------------------------------------------------------------------------------
# spin and spinful orders
# ------------------------------------------------------------------------------------------------

def test_spin_half_algebra():
    S = sh.spin_matrices_half()
    for a, b in itertools.product(range(3), repeat=2):
        assert np.max(np.abs(comm(S[a], S[b]) - 1j * np.einsum("c,cij->ij", EPS[a, b], S))) < 1e-15
    assert np.max(np.abs(np.einsum("aij,ajk->ik", S, S) - 0.75 * np.eye(2))) < 1e-15
    assert np.array_equal(S[2], np.diag([0.5, -0.5]).astype(complex))  # (up, down)


def test_spinful_and_spin_operator_orders_by_explicit_loops():
    rng = np.random.default_rng(7)
    m = 4
    M = rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m))
    S = sh.spin_matrices_half()
    idx = {"interleaved": lambda i, s: 2 * i + s, "block": lambda i, s: s * m + i}
    for order, pos in idx.items():
        slowM = np.zeros((2 * m, 2 * m), dtype=complex)
        slowS = np.zeros((3, 2 * m, 2 * m), dtype=complex)
        for i, j, s, t in itertools.product(range(m), range(m), range(2), range(2)):
            slowM[pos(i, s), pos(j, t)] = M[i, j] * (s == t)
            slowS[:, pos(i, s), pos(j, t)] = (i == j) * S[:, s, t]
        assert np.array_equal(sh.spinful(M, order), slowM)
        assert np.array_equal(sh.spin_operator(m, order), slowS)
    # a stack lifts component-wise
    stack = rng.normal(size=(3, m, m))
    assert np.array_equal(sh.spinful(stack, "block")[1], sh.spinful(stack[1], "block"))


def test_the_two_orders_are_a_permutation_of_each_other():
    rng = np.random.default_rng(8)
    m = 5
    M = rng.normal(size=(m, m))
    p = sh.spin_reorder_index(m, "interleaved", "block")
    q = sh.spin_reorder_index(m, "block", "interleaved")
    assert sorted(p) == list(range(2 * m)) and np.array_equal(p[q], np.arange(2 * m))
    assert np.array_equal(sh.spinful(M, "interleaved")[np.ix_(p, p)], sh.spinful(M, "block"))
    assert np.array_equal(sh.spin_operator(m, "block")[:, q][:, :, q], sh.spin_operator(m, "interleaved"))
    assert list(q[:4]) == [0, m, 1, m + 1]  # interleaved = (orb1 up, orb1 down, orb2 up, ...)


@pytest.mark.parametrize("bad", ["Interleaved", "orbital", "spin", None, 0])
def test_bad_spin_order_refused(bad):
    for call in (lambda: sh.spinful(np.eye(2), bad), lambda: sh.spin_operator(2, bad),
                 lambda: sh.soc_matrix("p", 1.0, bad), lambda: sh.spin_reorder_index(2, bad, "block")):
        with pytest.raises(ValueError, match="interleaved.*block"):
            call()


def test_spin_rotation_covariance_and_soc_invariance_over_cubic_group():
    S = sh.spin_matrices_half()
    H = sh.soc_matrix("p,d", {"p": 0.3, "d": 0.7}, "interleaved")
    for R in CUBIC:
        U = sh.spin_rotation(R)
        Rp = np.linalg.det(R) * R  # spin: pseudovector
        assert np.max(np.abs(U @ U.conj().T - np.eye(2))) < 1e-14
        lhs = np.einsum("ij,ajk,lk->ail", U, S, U.conj())
        assert np.max(np.abs(lhs - np.einsum("ba,bij->aij", Rp, S))) < 1e-14
        W = np.kron(sh.orbital_rotation("p,d", R), U)  # interleaved: orbital (x) spin
        assert np.max(np.abs(W @ H @ W.conj().T - H)) < 1e-13


# ------------------------------------------------------------------------------------------------
# spin-orbit coupling
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("l", [1, 2, 3])
@pytest.mark.parametrize("order", ["interleaved", "block"])
def test_soc_spectrum_full_shell(l, order):
    lam = 0.37
    H = sh.soc_matrix(sh.SHELL_LABELS[l], lam, order)
    assert np.max(np.abs(H - H.conj().T)) < 1e-15
    ev = np.linalg.eigvalsh(H)
    expected = np.sort([-lam * (l + 1) / 2] * (2 * l) + [lam * l / 2] * (2 * l + 2))
    assert np.max(np.abs(ev - expected)) < 1e-13


@pytest.mark.parametrize("l", [1, 2, 3])
def test_soc_block_formula_and_commutes_with_J(l):
    """Block order: lam L.S = lam/2 [[L_z, L_-], [L_+, -L_z]]; and [L.S, J_a] = 0 with J = L + S."""
    lam = 1.3
    L = sh.shell_L(l)
    Lp, Lm = L[0] + 1j * L[1], L[0] - 1j * L[1]
    slow = lam / 2 * np.block([[L[2], Lm], [Lp, -L[2]]])
    labels = sh.SHELL_LABELS[l]
    assert np.max(np.abs(sh.soc_matrix(labels, lam, "block") - slow)) < 1e-14
    for order in sh.SPIN_ORDERS:
        H = sh.soc_matrix(labels, lam, order)
        J = sh.spinful(L, order) + sh.spin_operator(2 * l + 1, order)
        for a in range(3):
            assert np.max(np.abs(comm(H, J[a]))) < 1e-13


def test_soc_orders_agree_and_per_shell_lambda():
    p = sh.spin_reorder_index(8, "block", "interleaved")
    Hb = sh.soc_matrix("p,d", {1: 0.2, "d": 0.5}, "block")
    Hi = sh.soc_matrix("p,d", {1: 0.2, "d": 0.5}, "interleaved")
    assert np.max(np.abs(Hb[np.ix_(p, p)] - Hi)) < 1e-15
    ev = np.linalg.eigvalsh(Hi)
    expected = np.sort([0.2 * 0.5] * 4 + [-0.2] * 2 + [0.5 * 1.0] * 6 + [-0.5 * 1.5] * 4)
    assert np.max(np.abs(ev - expected)) < 1e-13
    # s has no SOC; shells absent from the mapping get 0
    assert np.max(np.abs(sh.soc_matrix("s", 5.0))) == 0
    assert np.max(np.abs(sh.soc_matrix("p,d", {"d": 0.5})[:6, :6])) == 0
    with pytest.raises(ValueError, match="SOC shell key 'g'"):
        sh.soc_matrix("d", {"g": 1.0})
    with pytest.raises(TypeError, match="lam must be"):
        sh.soc_matrix("d", "big")


def test_soc_projected_t2g():
    """t2g: lam P L P . S = -lam L_eff . S  ->  -lam/2 (x4, j_eff = 3/2) and +lam (x2, j_eff = 1/2)."""
    lam = 0.8
    ev = np.linalg.eigvalsh(sh.soc_matrix("t2g", lam))
    assert np.max(np.abs(ev - np.sort([-lam / 2] * 4 + [lam] * 2))) < 1e-14


# ------------------------------------------------------------------------------------------------
# parsing
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "spec, expected",
    [
        ("s,p,d", ("s", "pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy")),
        ("d", ("dz2", "dxz", "dyz", "dx2-y2", "dxy")),
        ("t2g", ("dxz", "dyz", "dxy")),
        ("eg", ("dz2", "dx2-y2")),
        ("p;d", ("pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy")),
        ("d;p", ("dz2", "dxz", "dyz", "dx2-y2", "dxy", "pz", "px", "py")),
        ("dxy,dxz", ("dxz", "dxy")),
        ("l=2", ("dz2", "dxz", "dyz", "dx2-y2", "dxy")),
        ("l=2,mr=1,4", ("dz2", "dx2-y2")),
        ("l=0;l=1", ("s", "pz", "px", "py")),
        ("s,px", ("s", "px")),
        (" S , Px ", ("s", "px")),
        ("f", sh.SHELL_LABELS[3]),
        ("fxyz,fz(x2-y2)", ("fz(x2-y2)", "fxyz")),
        ("dxy,s,dz2", ("dz2", "dxy", "s")),
        ("eg;t2g", ("dz2", "dxz", "dyz", "dx2-y2", "dxy")),
    ],
)
def test_parse_shells_good(spec, expected):
    assert sh.parse_shells(spec) == expected


def test_parse_shells_wannier90_line():
    """One .win projection line as wannier90.x reads it: shells by l, and its swapped f names."""
    assert sh.parse_shells("d;s", wannier90_line=True) == ("s",) + sh.SHELL_LABELS[2]
    assert sh.parse_shells("f,p,s", wannier90_line=True) == ("s",) + sh.SHELL_LABELS[1] + sh.SHELL_LABELS[3]
    assert sh.parse_shells("fxyz", wannier90_line=True) == ("fz(x2-y2)",)
    assert sh.parse_shells("fz(x2-y2)", wannier90_line=True) == ("fxyz",)
    assert sh.parse_shells("fxyz") == ("fxyz",)
    assert sh.parse_shells("l=3,mr=4", wannier90_line=True) == ("fz(x2-y2)",)  # m_r keeps its table meaning
    with pytest.raises(TypeError, match="wannier90_line"):
        sh.parse_shells("d", wannier90_line="yes")


@pytest.mark.parametrize(
    "spec, token",
    [
        ("s,x", "'x'"),
        ("g", "'g'"),
        ("dx2y2", "'dx2y2'"),
        ("sp3", "'sp3'"),
        ("l=4", "'l=4'"),
        ("l=-3", "hybrid"),
        ("l=2,mr=6", "'6'"),
        ("l=2,m=1", "'m=1'"),
        ("l=x", "'l=x'"),
    ],
)
def test_parse_shells_bad_token_named(spec, token):
    with pytest.raises(ValueError) as exc:
        sh.parse_shells(spec)
    assert token in str(exc.value)


def test_parse_shells_unknown_lists_allowed_and_refuses_duplicates_and_empty():
    with pytest.raises(ValueError) as exc:
        sh.parse_shells("q")
    msg = str(exc.value)
    assert "t2g" in msg and "dx2-y2" in msg and "s, p, d, f" in msg
    with pytest.raises(ValueError, match="'dxy' is named twice"):
        sh.parse_shells("d,dxy")
    with pytest.raises(ValueError, match="'dxz' is named twice"):
        sh.parse_shells("t2g;dxz")
    with pytest.raises(ValueError, match="empty"):
        sh.parse_shells(" ,; ")
    with pytest.raises(TypeError, match="string"):
        sh.parse_shells(["s", "p"])


@settings(max_examples=40)
@given(st.lists(st.sampled_from(ALL_LABELS), min_size=1, max_size=10, unique=True), st.sampled_from([",", ";"]))
def test_parse_shells_property(labels, sep):
    """Shells in first-appearance order, each in W90 order, nothing lost or added."""
    out = sh.parse_shells(sep.join(labels))
    assert sorted(out) == sorted(labels)
    shells = list(dict.fromkeys(sh.label_shell(x)[0] for x in labels))
    assert [sh.label_shell(x)[0] for x in out] == sorted((sh.label_shell(x)[0] for x in labels), key=shells.index)
    assert [sh.label_shell(x) for x in out] == sorted((sh.label_shell(x) for x in out), key=lambda t: (shells.index(t[0]), t[1]))


# ------------------------------------------------------------------------------------------------
# bad input elsewhere
# ------------------------------------------------------------------------------------------------

def test_bad_inputs():
    with pytest.raises(ValueError, match="r = 0"):
        sh.real_harmonic("px", [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        sh.real_harmonic("px", [1.0, 0.0])
    with pytest.raises(ValueError, match="orthogonal"):
        sh.shell_rotation(2, np.diag([1.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="shell l must be one of"):
        sh.shell_rotation(4, np.eye(3))
    with pytest.raises(ValueError, match="shell l must be one of"):
        sh.shell_L(True)
    with pytest.raises(ValueError, match="positive integer"):
        sh.spin_operator(0)
    with pytest.raises(ValueError, match="square"):
        sh.spinful(np.zeros((2, 3)))


def test_w90_label_and_site_operators():
    assert [sh.w90_label(2, mr) for mr in range(1, 6)] == list(sh.SHELL_LABELS[2])
    assert sh.w90_label(3, 4) == "fz(x2-y2)"  # the table's m_r = 4, whatever the parser calls it
    with pytest.raises(ValueError, match="m_r must be an integer 1..3"):
        sh.w90_label(1, 4)
    ops = sh.site_operators("s,t2g")
    assert list(ops) == ["L"] and np.array_equal(ops["L"], sh.orbital_L("s,t2g"))
    for order in sh.SPIN_ORDERS:
        ops = sh.site_operators("p", spin_order=order)
        assert np.array_equal(ops["L"], sh.spinful(sh.shell_L(1), order))
        assert np.array_equal(ops["S"], sh.spin_operator(3, order))
        J = ops["J"]
        for a, b in itertools.product(range(3), repeat=2):
            assert np.max(np.abs(comm(J[a], J[b]) - 1j * np.einsum("c,cij->ij", EPS[a, b], J))) < 1e-13
        # J^2 on p (x) 1/2: j = 3/2 (x4) and 1/2 (x2)
        ev = np.linalg.eigvalsh(np.einsum("aij,ajk->ik", J, J))
        assert np.max(np.abs(ev - np.sort([0.75] * 2 + [3.75] * 4))) < 1e-13
    with pytest.raises(ValueError, match="interleaved"):
        sh.site_operators("p", spin_order="up-down")


def test_module_does_not_import_sympy():
    import subprocess
    import sys

    code = "import sys, orbsym.materials.shells; print('sympy' in sys.modules)"
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"
