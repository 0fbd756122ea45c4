"""Tests of orbsym.symbolic.symmetry: groups, representations, symmetry-allowed hoppings (Eqs. 3-4), CLI."""

import argparse
import itertools

import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from hypothesis import given, settings, strategies as st

from orbsym.symbolic.bases import X, Y, Z, get_basis
from orbsym.symbolic.spinful import orbital_rashba, spin_rashba
from orbsym.commands import hoppings as hop_cmd
from orbsym.symbolic.models import SYMBOLS, altermagnet, multiorbital_metal
from orbsym.symbolic.symmetry import (
    OPERATIONS,
    altermagnet_group,
    check_invariance,
    get_group,
    match_parameters,
    operation,
    orbital_representation,
    point_group,
    representation,
    spin_representation,
    symmetric_hoppings,
    symmetric_onsite,
)

SIGMA = [np.array([[0, 1], [1, 0]], complex), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]], complex)]
D4H = point_group("D4h")


def _np(M):
    return np.array(sp.Matrix(M).evalf().tolist(), dtype=complex)


def _axis_angle(R):
    R = np.array(R.tolist(), dtype=float)
    theta = np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))
    if abs(theta) < 1e-12:
        return np.array([0, 0, 1.0]), 0.0
    if abs(theta - np.pi) < 1e-12:
        w, v = np.linalg.eigh((R + np.eye(3)) / 2)
        return v[:, -1], theta
    n = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * np.sin(theta))
    return n, theta


# ---------------------------------------------------------------------- groups
@pytest.mark.parametrize("name,order", [("C2v", 4), ("C4", 4), ("C4v", 8), ("C4h", 8), ("D2h", 8), ("D4h", 16)])
def test_point_group_orders(name, order):
    assert len(point_group(name)) == order
    assert len(point_group(name, time_reversal=True)) == 2 * order


@pytest.mark.parametrize("group", [point_group("C4v"), point_group("D4h", time_reversal=True), altermagnet_group()],
                         ids=["C4v", "D4h+T", "altermagnet"])
def test_groups_are_closed_under_composition(group):
    keys = {g.key for g in group}
    assert OPERATIONS["E"].key in keys
    for g, h in itertools.product(group, group):
        assert (g * h).key in keys


def test_c4v_plus_mz_is_d4h_and_mirrors_lock_spin_as_c2_about_normal():
    assert {g.key for g in get_group("C4v+Mz")} == {g.key for g in D4H}
    Mz = OPERATIONS["M_z"]
    assert Mz.spin_rotation == sp.diag(-1, -1, 1)  # C2 about z
    assert OPERATIONS["M_x"].spin_rotation == sp.diag(1, -1, -1)


# ---------------------------------------------------------------------- representations
@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_p_orbitals_transform_as_the_vector(op):
    R = OPERATIONS[op].rotation
    assert orbital_representation((X, Y, Z), R) == R


@pytest.mark.parametrize("basis", ["p", "d"])
def test_orbital_representation_is_exp_of_physical_L_for_rotations(basis):
    """D(R) from shapes equals exp(-i theta n.L) with the physical L (p_L, d_L) for proper rotations."""
    b = get_basis(basis)
    L = b.orbital_generators.to_numpy()
    for g in D4H:
        R = g.rotation
        if R.det() != 1:
            continue
        n, theta = _axis_angle(R)
        expected = scipy.linalg.expm(-1j * theta * np.einsum("a,aij->ij", n, L))
        assert np.allclose(_np(orbital_representation(b.shapes, R)), expected), g.name


def test_effective_t2g_L_does_not_generate_real_space_rotations():
    """The trap named in the issue: exp(-i pi/2 L_z) with Eq. 2's L is not the C4z action on t2g."""
    b = get_basis("t2g")
    D = _np(orbital_representation(b.shapes, OPERATIONS["C4z"].rotation))
    assert np.allclose(D, np.diag([0, 0, -1]) + np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]))  # yz->-xz, xz->yz, xy->-xy
    Lz = b.orbital_generators.to_numpy()[2]
    for sign in (1, -1):
        assert not np.allclose(D, scipy.linalg.expm(-1j * sign * np.pi / 2 * Lz))


def test_orbital_representation_rejects_non_invariant_shapes():
    c, s = sp.sqrt(2) / 2, sp.sqrt(2) / 2
    R45 = sp.Matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="not closed"):
        orbital_representation((Y * Z, X * Z, X * Y), R45)
    with pytest.raises(ValueError, match="non-orthogonal"):  # x*y and x**2 - y**2 have different norms
        orbital_representation((X * Y, X**2 - Y**2), R45)
    assert orbital_representation((X * Y, (X**2 - Y**2) / 2), R45).T * orbital_representation((X * Y, (X**2 - Y**2) / 2), R45) == sp.eye(2)


@settings(max_examples=30)
@given(st.integers(0, 31), st.integers(0, 31))
def test_representation_is_a_homomorphism_up_to_sign(i, j):
    group = point_group("D4h", time_reversal=True)
    g, h = group.elements[i], group.elements[j]
    basis = get_basis("p-spin")
    Ug, ag = (_np(m) if k == 0 else m for k, m in enumerate(representation(basis, g)))
    Uh, ah = (_np(m) if k == 0 else m for k, m in enumerate(representation(basis, h)))
    Ugh, agh = representation(basis, g * h)
    product = Ug @ (Uh.conj() if ag else Uh)  # (Ug K^a)(Uh K^b) = Ug Uh^(*) K^(a+b)
    Ugh = _np(Ugh)
    assert agh == (ag != ah)
    assert np.allclose(product, Ugh) or np.allclose(product, -Ugh)


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_spin_representation_rotates_the_spin_vector(op):
    S = OPERATIONS[op].spin_rotation
    u = _np(spin_representation(S))
    assert np.allclose(u.conj().T @ u, np.eye(2))
    Sn = np.array(S.tolist(), dtype=float)
    for a in range(3):
        assert np.allclose(u.conj().T @ SIGMA[a] @ u, sum(Sn[a, b] * SIGMA[b] for b in range(3)))


def test_time_reversal_flips_spin():
    U, anti = representation("spin", OPERATIONS["T"])
    U = _np(U)
    assert anti
    for s in SIGMA:
        assert np.allclose(U @ s.conj() @ U.conj().T, -s)


# ---------------------------------------------------------------------- Eq. (3)
def test_t2g_under_c4v_and_mz_is_eq3_with_exactly_three_parameters():
    res = symmetric_hoppings("t2g", "D4h")
    assert len(res.parameters) == 3
    sol = match_parameters(res, multiorbital_metal())
    t, g, tp = SYMBOLS["t"], SYMBOLS["gamma"], SYMBOLS["tp"]
    assert set(sol.values()) == {-t, -g, -tp}
    back = res.subs(sol)
    assert back.hoppings[(1, 0)] == sp.diag(-g, -t, -tp)
    assert back.hoppings[(0, 1)] == sp.diag(-t, -g, -tp)
    # the inverse map: Eq. 3 in terms of the generated parameters is one-to-one
    p1, p2, p3 = res.parameters
    assert res.hoppings[(1, 0)] == sp.diag(p1, p2, p3) and res.hoppings[(0, 1)] == sp.diag(p2, p1, p3)
    # with time reversal nothing changes; without M_z, orbital mixing (d_yz-d_xy along x) appears
    assert len(symmetric_hoppings("t2g", "D4h", time_reversal=True).parameters) == 3
    assert len(symmetric_hoppings("t2g", "C4v", time_reversal=True).parameters) == 4


def test_model_from_symmetric_hoppings_is_the_paper_metal():
    res = symmetric_hoppings("t2g", "C4v+Mz")
    model = res.subs(match_parameters(res, multiorbital_metal())).to_model("eq3")
    ref = multiorbital_metal()
    assert model.hoppings == ref.hoppings and model.onsite == ref.onsite and model.generators == ref.generators


def test_eq3_is_invariant_and_a_mixed_hopping_is_not():
    ref = multiorbital_metal()
    assert check_invariance(ref.hoppings, "t2g", D4H) == []
    broken = dict(ref.hoppings)
    broken[(1, 0)] = broken[(1, 0)] + sp.Matrix([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert check_invariance(broken, "t2g", D4H)


# ---------------------------------------------------------------------- p orbitals, nnn
def test_p_orbitals_sigma_and_pi_bonds():
    res = symmetric_hoppings("p", "D4h")
    a, b, c = res.parameters
    assert res.hoppings[(1, 0)] == sp.diag(a, b, c)  # p_x along x: sigma; p_y, p_z: pi
    assert res.hoppings[(0, 1)] == sp.diag(b, a, c)


def test_t2g_next_nearest_neighbours():
    res = symmetric_hoppings("t2g", "D4h", neighbours="nnn")
    s1, s2, s3 = res.parameters
    assert res.hoppings[(1, 1)] == sp.Matrix([[s1, s3, 0], [s3, s1, 0], [0, 0, s2]])
    assert res.hoppings[(1, -1)] == sp.Matrix([[s1, -s3, 0], [-s3, s1, 0], [0, 0, s2]])


# ---------------------------------------------------------------------- spin 1/2
def test_spin_with_full_symmetry_is_isotropic():
    for kw in ({}, {"time_reversal": True}):
        res = symmetric_hoppings("spin", "D4h", **kw)
        (p,) = res.parameters
        assert res.hoppings[(1, 0)] == p * sp.eye(2) and res.hoppings[(0, 1)] == p * sp.eye(2)


def test_spin_under_c4v_gives_rashba_and_rashba_needs_broken_mz():
    res = symmetric_hoppings("spin", "C4v")
    assert len(res.parameters) == 2
    t = SYMBOLS["t"]
    rashba = spin_rashba("spin")
    ref = {d: -t * sp.eye(2) + m for d, m in rashba.items()}
    sol = match_parameters(res, ref)
    assert sol  # -t 1 + alpha (sigma x k)_z is in the C4v family
    assert check_invariance(ref, "spin", "C4v") == []
    assert check_invariance(ref, "spin", "D4h")  # M_z forbids it


def test_altermagnet_eq4_from_the_spin_group():
    res = symmetric_hoppings("spin", "altermagnet")
    assert len(res.parameters) == 2
    sol = match_parameters(res, altermagnet())
    t, w = SYMBOLS["t"], SYMBOLS["w"]
    assert set(sol.values()) == {-t + w, -t - w}
    assert check_invariance(altermagnet().hoppings, "spin", altermagnet_group()) == []
    # plain time reversal kills the d-wave splitting w
    with_t = symmetric_hoppings("spin", "altermagnet", time_reversal=True)
    assert len(with_t.parameters) == 1
    with pytest.raises(ValueError, match="not allowed"):
        match_parameters(with_t, altermagnet())
    assert check_invariance(altermagnet().subs({w: sp.Rational(2, 5)}).hoppings, "spin", get_group("altermagnet", time_reversal=True))


def test_altermagnet_magnetic_point_group_also_gives_eq4_for_spin_half():
    res = symmetric_hoppings("spin", "altermagnet-soc")
    assert len(res.parameters) == 2
    assert set(match_parameters(res, altermagnet()).values()) == {-SYMBOLS["t"] + SYMBOLS["w"], -SYMBOLS["t"] - SYMBOLS["w"]}
    assert len(symmetric_hoppings("spin", "altermagnet-soc", time_reversal=True).parameters) == 1


def test_orbital_rashba_is_allowed_by_c4v_but_not_by_mz():
    ref = multiorbital_metal()
    hops = {d: ref.hoppings[d] + m for d, m in orbital_rashba("t2g").items()}
    assert check_invariance(hops, "t2g", get_group("C4v", time_reversal=True)) == []
    assert check_invariance(hops, "t2g", D4H)
    assert match_parameters(symmetric_hoppings("t2g", "C4v", time_reversal=True), hops)


# ---------------------------------------------------------------------- t2g x spin
def test_t2g_spin_without_soc_is_eq3_times_identity():
    res = symmetric_hoppings("t2g-spin", "D4h", spin_rotation_invariant=True)
    assert len(res.parameters) == 3
    ref = {d: sp.kronecker_product(m, sp.eye(2)) for d, m in multiorbital_metal().hoppings.items()}
    assert set(match_parameters(res, ref).values()) == {-SYMBOLS["t"], -SYMBOLS["gamma"], -SYMBOLS["tp"]}


def test_soc_is_allowed_on_site_only_when_spin_is_locked_to_the_lattice():
    from orbsym.symbolic.spinful import spin_orbit_coupling

    soc = spin_orbit_coupling("t2g-spin", sp.Rational(1, 3))
    locked = get_group("D4h", time_reversal=True)
    assert check_invariance({(1, 0): sp.zeros(6)}, "t2g-spin", locked, onsite=soc) == []
    assert check_invariance({(1, 0): sp.zeros(6)}, "t2g-spin", get_group("D4h", spin_rotation_invariant=True), onsite=soc)
    ons = symmetric_onsite("t2g-spin", "D4h", time_reversal=True)
    assert len(ons.free_symbols) == 4  # two crystal-field levels + tetragonal lambda_z, lambda_perp


# ---------------------------------------------------------------------- invariance and completeness
CASES = [
    ("t2g", "D4h", {}),
    ("t2g", "C4v", {}),
    ("p", "C4", {"neighbours": "nn+nnn"}),
    ("d", "D4h", {"time_reversal": True}),
    ("spin", "C2v", {}),
    ("spin", "altermagnet", {"neighbours": "nn+nnn"}),
    ("t2g-spin", "D4h", {"time_reversal": True}),
    ("p-spin", "C4v", {}),
]


def _split_labels(text, labels):
    for a in labels:
        if text.startswith(a + ", ") and text[len(a) + 2:] in labels:
            return a, text[len(a) + 2:]
    raise AssertionError(f"cannot parse {text!r}")


def _reynolds(basis, group, hops):
    """Group average of a bond function {offset: matrix} (independent numeric path)."""
    offsets = list(hops)

    def T(d):
        if d in hops:
            return hops[d]
        return hops[(-d[0], -d[1])].conj().T

    out = {d: np.zeros_like(hops[d]) for d in offsets}
    for g in group:
        U, anti = representation(basis, g)
        U = _np(U)
        Rinv = g.rotation.T
        for d in offsets:
            v = Rinv * sp.Matrix([d[0], d[1], 0])
            src = T((int(v[0]), int(v[1])))
            out[d] += U @ (src.conj() if anti else src) @ U.conj().T
    return {d: m / len(group) for d, m in out.items()}


@pytest.mark.parametrize("basis,group,kw", CASES, ids=[f"{b}-{g}-{'-'.join(k)}" for b, g, k in CASES])
def test_generated_hoppings_are_invariant_and_most_general(basis, group, kw):
    res = symmetric_hoppings(basis, group, onsite=basis in ("t2g", "spin"), **kw)
    # 1. invariant under every group element (exact)
    assert check_invariance(res.hoppings, res.basis, res.group, res.onsite) == []
    rng = np.random.default_rng(7)
    n = res.basis.dim
    hop_params = [p for p in res.parameters if not p.name.startswith("e_")]
    # 2. most general: the group average of a random bond function lies in the family ...
    rand = {d: rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)) for d in res.hoppings}
    avg = _reynolds(res.basis, res.group, rand)
    cols = []
    for p in hop_params:
        cols.append(np.concatenate([np.concatenate([_np(m.diff(p)).real.ravel(), _np(m.diff(p)).imag.ravel()]) for m in res.hoppings.values()]))
    A = np.array(cols).T
    b = np.concatenate([np.concatenate([m.real.ravel(), m.imag.ravel()]) for m in avg.values()])
    coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    assert np.allclose(A @ coef, b, atol=1e-10)
    # ... and the parameters are independent (no redundant parameter)
    assert np.linalg.matrix_rank(A) == len(hop_params)
    # each parameter is the real number its `meaning` names (entry of the orbit representative)
    for p, text in res.meaning.items():
        part, rest = text.split(" ", 1)
        where, entry = rest.split("[", 1)
        i, j = (res.basis.labels.index(x) for x in _split_labels(entry.rstrip("]"), res.basis.labels))
        mat = res.onsite if where == "onsite" else res.hoppings[tuple(int(v) for v in where[3:-1].split(","))]
        value = sp.re(mat[i, j]) if part == "Re" else sp.im(mat[i, j])
        assert sp.expand(value - p) == 0, (p, text)
    # 3. a random member is a fixed point of the group average
    vals = {p: float(v) for p, v in zip(hop_params, rng.normal(size=len(hop_params)))}
    member = {d: _np(m.subs(vals)) for d, m in res.hoppings.items()}
    avg2 = _reynolds(res.basis, res.group, member)
    assert all(np.allclose(avg2[d], member[d]) for d in member)


_T2G_SPIN_SOC = symmetric_hoppings("t2g-spin", "D4h", time_reversal=True)
_T2G_SPIN_SOC_NUM = {d: sp.lambdify(_T2G_SPIN_SOC.parameters, m, "numpy") for d, m in _T2G_SPIN_SOC.hoppings.items()}
_T2G_SPIN_SOC_REPS = [(g, _np(representation(_T2G_SPIN_SOC.basis, g)[0])) for g in _T2G_SPIN_SOC.group]


@settings(max_examples=25)
@given(st.lists(st.floats(-2, 2, allow_nan=False), min_size=6, max_size=6))
def test_invariance_holds_numerically_for_random_parameter_values(values):
    """t2g x spin with SOC-locked D4h + T: every element maps t_d to t_{Rd} at random parameter values."""
    assert len(_T2G_SPIN_SOC.parameters) == 6
    mats = {d: np.array(f(*values), dtype=complex) for d, f in _T2G_SPIN_SOC_NUM.items()}

    def T(d):
        return mats[d] if d in mats else mats[(-d[0], -d[1])].conj().T

    for g, U in _T2G_SPIN_SOC_REPS:
        for d, M in mats.items():
            src = M.conj() if g.antiunitary else M
            assert np.allclose(U @ src @ U.conj().T, T(g.act(d))), g.name


def test_symmetric_model_end_to_end_continuity_and_currents():
    """symmetry -> Model -> continuity.derive -> numeric currents, on p orbitals."""
    from orbsym.symbolic.continuity import derive
    from orbsym.symbolic.generators import p_L
    from orbsym.symbolic.models import ferromagnet
    from orbsym.systems import heterostructure, layer, solve

    res = symmetric_hoppings("p", "D4h")
    model = res.to_model("p-metal")
    t1, t2, t3 = res.parameters
    assert not derive(model).torque[("z", (1, 0))].is_zero()  # sigma != pi: orbital torque
    iso = res.subs({t2: t1, t3: t1}).to_model("p-iso")
    assert all(derive(iso).torque[(a, d)].is_zero() for a in "xyz" for d in iso.offsets)
    fm = ferromagnet(p_L())
    system = heterostructure([layer(fm, 1, m="x"), layer(model, 3, t_1=-1.0, t_2=-0.5, t_3=-0.3), layer(fm, 1, m="y")], N_y=12)
    result = solve(system, T=0.1)
    assert result.continuity_residual()["max_abs_continuity_residual"] < 1e-10
    assert np.abs(result.currents()["z"]).max() > 1e-6


# ---------------------------------------------------------------------- errors
def test_errors_name_the_bad_value_and_the_allowed_values():
    with pytest.raises(ValueError, match=r"unknown basis 'f'.*allowed: t2g, p, d, spin"):
        symmetric_hoppings("f", "D4h")
    with pytest.raises(ValueError, match=r"unknown group 'D6h'.*allowed:.*D4h"):
        symmetric_hoppings("t2g", "D6h")
    with pytest.raises(ValueError, match=r"unknown neighbours 'nnnn'.*allowed: nn, nnn, nn\+nnn"):
        symmetric_hoppings("t2g", "D4h", neighbours="nnnn")
    with pytest.raises(ValueError, match="orthogonal"):
        operation("bad", sp.diag(2, 1, 1))
    with pytest.raises(ValueError, match="proper"):
        operation("bad", sp.eye(3), spin_rotation=sp.diag(-1, 1, 1))


def test_error_for_operation_leaving_the_lattice():
    c = sp.sqrt(2) / 2
    from orbsym.symbolic.symmetry import generate_group

    R45 = operation("C8z", sp.Matrix([[c, -c, 0], [c, c, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="off the square lattice"):
        symmetric_hoppings("spin", generate_group([R45], "C8"))


# ---------------------------------------------------------------------- CLI
def _run_cli(argv, capsys):
    parser = argparse.ArgumentParser()
    hop_cmd.add_arguments(parser)
    code = hop_cmd.run(parser.parse_args(argv))
    return code, capsys.readouterr().out


def test_cli_prints_eq3_in_text_and_latex(capsys):
    code, out = _run_cli(["--basis", "t2g", "--group", "D4h"], capsys)
    assert code == 0
    assert "3 free real parameters: t_1, t_2, t_3" in out and "t_(0, 1) =" in out
    code, out = _run_cli(["--basis", "spin", "--group", "altermagnet", "--format", "latex"], capsys)
    assert code == 0
    assert r"t_{(1,0)} = \left[\begin{matrix}t_{1} & 0\\0 & t_{2}\end{matrix}\right]" in out


def test_cli_bad_values(capsys):
    with pytest.raises(ValueError, match=r"unknown format 'html'; allowed: text, latex"):
        _run_cli(["--format", "html"], capsys)
    with pytest.raises(ValueError, match=r"unknown basis 'f'"):
        _run_cli(["--basis", "f"], capsys)
    assert hop_cmd.NAME == "hoppings" and hop_cmd.HELP
