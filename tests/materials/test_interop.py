"""Importers from sisl, PythTB, TBmodels and qsymm: each against the package's own H(k) and against _hr.dat.

Each package's tests skip when it is absent; the tests at the top run without any of them.
"""

import importlib
import sys

import numpy as np
import pytest

from orbsym.materials.model import Atom
from orbsym.materials.wannier90 import read_hr, write_hr

PACKAGES = {"from_sisl": "sisl", "from_pythtb": "pythtb", "from_tbmodels": "tbmodels", "from_qsymm": "qsymm", "to_sisl": "sisl", "to_pythtb": "pythtb"}
# a non-orthogonal cell (Angstrom when used as such) and reduced positions of two atoms
LAT = np.array([[2.0, 0.0, 0.0], [0.6, 2.3, 0.0], [0.3, -0.4, 2.7]])
RED_B = np.array([0.31, 0.42, 0.13])
HOPS = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, -1, 1), (0, 2, -1)]


def _k_red(rng, n=5, dim=3):
    out = np.zeros((n, 3))
    out[:, :dim] = rng.uniform(-1, 1, size=(n, dim))
    return out


def _round_trip(tb, tmp_path, rng, Hk_package=None, convention="II", dim=3):
    """write_hr -> read_hr (with the model's cell and atoms) gives the same H(k) (and the package's)."""
    path = tmp_path / "model_hr.dat"
    write_hr(tb, path)
    back = read_hr(path, cell=tb.cell, atoms=list(tb.atoms), spin_order=tb.spin_order if tb.spinful else None)
    assert back.n == tb.n and back.spinful == tb.spinful
    assert [o for o in back.basis] == [o for o in tb.basis]
    for kr in _k_red(rng, dim=dim):
        k = tb.k_cartesian(kr)
        Hb = back.hamiltonian(k, convention=convention)
        np.testing.assert_allclose(Hb, tb.hamiltonian(k, convention=convention), rtol=0, atol=1e-12)
        if Hk_package is not None:
            np.testing.assert_allclose(Hb, Hk_package(kr), rtol=0, atol=1e-12)
    return back


# ---------------------------------------------------------------------------------------------- without the packages
@pytest.fixture
def no_packages(monkeypatch):
    """Every optional package unimportable, and interop imported afresh."""
    for name in PACKAGES.values():
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "orbsym.materials.interop", raising=False)
    return importlib.import_module("orbsym.materials.interop")


@pytest.mark.parametrize("func", sorted(PACKAGES))
def test_missing_package_names_the_extra(no_packages, func):
    with pytest.raises(ModuleNotFoundError) as info:
        if func == "from_qsymm":
            getattr(no_packages, func)(object(), np.eye(3))
        else:
            getattr(no_packages, func)(object())
    msg = str(info.value)
    assert 'pip install "orbsym[interop]"' in msg and repr(PACKAGES[func]) in msg and func in msg
    assert info.value.name == PACKAGES[func]


def test_module_imports_none_of_the_packages(no_packages):
    # the fixture made them unimportable: the import above succeeded, and nothing was loaded
    assert all(sys.modules.get(name) is None for name in PACKAGES.values())
    assert set(no_packages.__all__) >= set(PACKAGES)


def test_sisl_harmonic_table_is_the_condon_shortley_phase():
    from orbsym.materials.interop import SISL_HARMONICS
    from orbsym.materials.shells import SHELL_LABELS

    for (l, m), (label, sign) in SISL_HARMONICS.items():
        assert label in SHELL_LABELS[l]
        assert sign == (-1) ** abs(m)
    assert len({lab for lab, _ in SISL_HARMONICS.values()}) == 16


# ---------------------------------------------------------------------------------------------- PythTB
def _pythtb_model(pythtb, rng, nspin=1, dim=3):
    lat = LAT[:dim, :dim]
    orb = [[0.0] * dim] * 3 + [list(RED_B[:dim])] * 2  # A: s, px, py ; B: pz, dxy
    m = pythtb.tb_model(dim, dim, lat.tolist(), orb, nspin=nspin)

    def amp():
        if nspin == 1:
            return complex(rng.normal(), rng.normal())
        return rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))

    if nspin == 1:
        m.set_onsite(list(rng.normal(size=5)))
    else:
        m.set_onsite([np.diag(rng.normal(size=2)) + 0.2 * rng.normal() * np.array([[0, 1], [1, 0]]) for _ in range(5)])
    for R in HOPS:
        R = list(R[:dim])
        for i in range(5):
            for j in range(5):
                if not any(R) and j <= i:
                    continue
                m.set_hop(amp(), i, j, R)
    return m


@pytest.mark.parametrize("nspin,dim", [(1, 3), (2, 3), (1, 2)])
def test_pythtb_against_its_own_hk_and_hr(tmp_path, nspin, dim):
    pythtb = pytest.importorskip("pythtb")
    from orbsym.materials.interop import from_pythtb

    rng = np.random.default_rng(11 + nspin + dim)
    m = _pythtb_model(pythtb, rng, nspin, dim)
    tb = from_pythtb(m, cell=1.5, orbitals="A: s,px,py; B: pz,dxy")
    assert (tb.length_unit, tb.energy_unit, tb.periodic) == ("Angstrom", "eV", dim)
    assert tb.spinful == (nspin == 2) and tb.n == 5 * nspin
    assert [a.orbitals for a in tb.atoms] == [("s", "px", "py"), ("pz", "dxy")]
    np.testing.assert_allclose(tb.atoms[1].position[:dim], RED_B[:dim] @ (1.5 * LAT[:dim, :dim]), atol=1e-14)
    n = tb.n

    def Hk(kr):
        return np.asarray(m._gen_ham(kr[:dim])).reshape(n, n)

    for kr in _k_red(rng, dim=dim):
        k = tb.k_cartesian(kr)
        np.testing.assert_allclose(tb.hamiltonian(k, convention="I"), Hk(kr), rtol=0, atol=1e-12)
        np.testing.assert_allclose(tb.bands(k), np.sort(m.solve_one(kr[:dim])), rtol=0, atol=1e-11)
    back = _round_trip(tb, tmp_path, rng, Hk, convention="I", dim=dim)
    if nspin == 2:  # the spin of PythTB's index 0 is up: S_z of the imported basis is +1/2 there
        assert back.angular_momentum("S")[2][0, 0] == 0.5


def test_pythtb_units_and_bad_input():
    pythtb = pytest.importorskip("pythtb")
    from orbsym.materials.interop import from_pythtb

    m = _pythtb_model(pythtb, np.random.default_rng(3))
    natural = from_pythtb(m)
    assert (natural.length_unit, natural.energy_unit) == ("a", "t")
    np.testing.assert_array_equal(natural.cell, LAT)
    assert [a.name for a in natural.atoms] == ["site1", "site2"] and natural.atoms[0].orbitals == ("orb1", "orb2", "orb3")
    assert np.abs(natural.angular_momentum("L")).max() == 0  # generic labels carry L = 0
    phys = from_pythtb(m, cell=2.0 * LAT)
    np.testing.assert_allclose(phys.cell, 2.0 * LAT)
    with pytest.raises(ValueError, match="not a positive multiple"):
        from_pythtb(m, cell=LAT @ np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1.0]]))
    with pytest.raises(ValueError, match="positive"):
        from_pythtb(m, cell=-1.0)
    with pytest.raises(ValueError, match="different positions"):
        from_pythtb(m, orbitals="A: s,px,py,pz; B: dxy")
    with pytest.raises(ValueError, match="describe 4"):
        from_pythtb(m, orbitals="A: s,px,py; B: pz")
    with pytest.raises(TypeError, match="tb_model"):
        from_pythtb(object())
    chain = pythtb.tb_model(1, 1, [[1.0]], [[0.0]])
    with pytest.raises(ValueError, match="dim_k = 1"):
        from_pythtb(chain)


# ---------------------------------------------------------------------------------------------- TBmodels
def _tbmodels_model(tbmodels, rng, dim=3, spin=False):
    nsp = 5
    pos = [[0.0] * dim] * 3 + [list(RED_B[:dim])] * 2
    if spin:  # interleaved spinors of the 5 orbitals
        pos = [p for p in pos for _ in range(2)]
    n = len(pos)
    on = rng.normal(size=n)
    m = tbmodels.Model(on_site=on, pos=pos, uc=LAT[:dim, :dim], occ=1, dim=dim)
    for R in HOPS:
        R = tuple(R[:dim])
        for i in range(n):
            for j in range(n):
                if not any(R) and j <= i:
                    continue
                m.add_hop(complex(rng.normal(), rng.normal()), i, j, R)
    assert n == nsp * (2 if spin else 1)
    return m


@pytest.mark.parametrize("dim,spin", [(3, False), (3, True), (2, False)])
def test_tbmodels_against_its_own_hk_and_hr(tmp_path, dim, spin):
    tbmodels = pytest.importorskip("tbmodels")
    from orbsym.materials.interop import from_tbmodels

    rng = np.random.default_rng(21 + dim + spin)
    m = _tbmodels_model(tbmodels, rng, dim, spin)
    tb = from_tbmodels(m, cell=1.5, orbitals="A: s,px,py; B: pz,dxy")
    assert tb.spinful == spin and tb.periodic == dim and tb.n == m.size
    if spin:
        assert tb.spin_order == "interleaved" and tb.basis[1].spin == -1
    for kr in _k_red(rng, dim=dim):
        k = tb.k_cartesian(kr)
        np.testing.assert_allclose(tb.hamiltonian(k, convention="I"), m.hamilton(kr[:dim], convention=1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(tb.hamiltonian(k, convention="II"), m.hamilton(kr[:dim], convention=2), rtol=0, atol=1e-12)
        np.testing.assert_allclose(tb.bands(k), m.eigenval(kr[:dim]), rtol=0, atol=1e-11)
    _round_trip(tb, tmp_path, rng, lambda kr: m.hamilton(kr[:dim], convention=2), dim=dim)


def test_tbmodels_units_spin_order_and_bad_input():
    tbmodels = pytest.importorskip("tbmodels")
    from orbsym.materials.interop import from_tbmodels

    rng = np.random.default_rng(5)
    m = _tbmodels_model(tbmodels, rng, 3, spin=False)
    nat = from_tbmodels(m)
    assert (nat.length_unit, nat.energy_unit) == ("a", "t") and len(nat.atoms) == 2
    # the same 10 states as block spinors of 5 orbitals: positions must pair i with i + 5
    pos = [[0.0] * 3] * 3 + [list(RED_B)] * 2
    blk = tbmodels.Model(on_site=rng.normal(size=10), pos=pos + pos, uc=LAT, occ=1)
    blk.add_hop(0.3j, 0, 7, (1, 0, 0))
    tb = from_tbmodels(blk, orbitals="A: s,px,py; B: pz,dxy", spin_order="block")
    assert tb.spin_order == "block" and tb.basis[5].spin == -1 and tb.basis[5].label == "s"
    with pytest.raises(ValueError, match="spin partners"):
        from_tbmodels(blk, orbitals="A: s,px,py; B: pz,dxy")
    no_uc = tbmodels.Model(on_site=[0.0, 1.0], pos=[[0, 0, 0], [0.5, 0.5, 0.5]], occ=1)
    with pytest.raises(ValueError, match="no unit cell"):
        from_tbmodels(no_uc)
    assert from_tbmodels(no_uc, cell=3 * np.eye(3)).length_unit == "Angstrom"
    with pytest.raises(ValueError, match="spin_order"):
        from_tbmodels(m, spin_order="block")


# ---------------------------------------------------------------------------------------------- sisl
def _sisl_model(sisl, rng, spin):
    lat = sisl.Lattice(LAT, nsc=[3, 5, 3])
    A = sisl.Atom("Ti", orbitals=[sisl.AtomicOrbital(x) for x in ("s", "py", "pz", "px", "dxz")])
    B = sisl.Atom("O", orbitals=[sisl.AtomicOrbital("pz"), sisl.AtomicOrbital("dyz"), sisl.Orbital(1.0)])
    g = sisl.Geometry([[0, 0, 0], RED_B @ LAT], atoms=[A, B], lattice=lat)
    H = sisl.Hamiltonian(g, dtype=complex, spin=spin)
    no = g.no
    for R in HOPS:
        isc = lat.sc_index(R)
        for i in range(no):
            for j in range(no):
                H[i, j + isc * no] = rng.normal(size=H.dim) + 1j * rng.normal(size=H.dim)
    return (H + H.transpose(conjugate=True, spin=True)) / 2


def _sisl_hk(H, kr):
    if H.spin.is_polarized:  # interleaved (up, down) per orbital
        no = H.geometry.no
        M = np.zeros((2 * no, 2 * no), complex)
        M[0::2, 0::2] = H.Hk(kr, spin=0, format="array")
        M[1::2, 1::2] = H.Hk(kr, spin=1, format="array")
        return M
    return np.asarray(H.Hk(kr, format="array"))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("spin", ["unpolarized", "polarized", "noncolinear", "spinorbit"])
def test_sisl_against_its_own_hk_and_hr(tmp_path, spin):
    sisl = pytest.importorskip("sisl")
    from orbsym.materials.interop import from_sisl

    rng = np.random.default_rng(31 + len(spin))
    H = _sisl_model(sisl, rng, spin)
    tb = from_sisl(H)
    assert (tb.length_unit, tb.energy_unit) == ("Angstrom", "eV") and tb.spinful == (spin != "unpolarized")
    assert [a.name for a in tb.atoms] == ["Ti", "O"]
    assert tb.atoms[0].orbitals == ("s", "py", "pz", "px", "dxz") and tb.atoms[1].orbitals == ("pz", "dyz", "orb8")
    sign = np.array([1, -1, 1, -1, -1, 1, -1, 1.0])  # (-1)^m of s, py, pz, px, dxz ; pz, dyz, generic
    D = np.repeat(sign, 2) if tb.spinful else sign
    np.testing.assert_allclose(tb.cell, LAT)
    Rs = {tuple(r) for r in tb.R}
    assert Rs == set(HOPS) | {tuple(-v for v in R) for R in HOPS}

    def Hk(kr):
        return D[:, None] * _sisl_hk(H, kr) * D[None, :]

    for kr in _k_red(rng):
        k = tb.k_cartesian(kr)
        np.testing.assert_allclose(tb.hamiltonian(k), Hk(kr), rtol=0, atol=1e-12)
        np.testing.assert_allclose(tb.bands(k), np.linalg.eigvalsh(_sisl_hk(H, kr)), rtol=0, atol=1e-11)
    _round_trip(tb, tmp_path, rng, Hk)


def test_sisl_signs_against_sisl_harmonics():
    sisl = pytest.importorskip("sisl")
    from orbsym.materials.interop import SISL_HARMONICS
    from orbsym.materials.shells import real_harmonic

    rng = np.random.default_rng(7)
    r = rng.normal(size=(6, 3))
    theta, phi = np.arctan2(r[:, 1], r[:, 0]), np.arccos(r[:, 2] / np.linalg.norm(r, axis=1))
    grid = np.linspace(0, 5, 50)
    for (l, m), (label, sign) in SISL_HARMONICS.items():
        orb = sisl.AtomicOrbital(n=l + 1, l=l, m=m, spherical=sisl.SphericalOrbital(l, (grid, np.exp(-grid))))
        ours = np.array([real_harmonic(label, x) for x in r])
        np.testing.assert_allclose(orb.spher(theta, phi), sign * ours, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore")
def test_sisl_spec_zetas_and_bad_input():
    sisl = pytest.importorskip("sisl")
    from orbsym.materials.interop import from_sisl

    rng = np.random.default_rng(8)
    H = _sisl_model(sisl, rng, "unpolarized")
    tb = from_sisl(H, orbitals="O: pz,dyz,s")  # the spec overrides O (no sign flip); Ti keeps sisl's labels
    assert tb.atoms[1].orbitals == ("s", "pz", "dyz") and tb.atoms[0].orbitals[1] == "py"
    ref = from_sisl(H)
    kr = _k_red(rng, 1)[0]
    Hs, Hr = tb.hamiltonian(tb.k_cartesian(kr)), ref.hamiltonian(ref.k_cartesian(kr))
    np.testing.assert_allclose(Hs[:5, :5], Hr[:5, :5], atol=1e-14)  # Ti flipped in both
    np.testing.assert_allclose(Hs[5:, 5:], _sisl_hk(H, kr)[5:, 5:], atol=1e-12)  # O as sisl has it
    with pytest.raises(ValueError, match="no atom of the sisl geometry is named 'Cu'"):
        from_sisl(H, orbitals="Cu: s")
    with pytest.raises(ValueError, match="has 3 orbitals in sisl"):
        from_sisl(H, orbitals="O: p,d")
    # two zetas of s and p on one atom: every label once per Atom, at the same position
    dz = sisl.Atom("C", orbitals=[sisl.AtomicOrbital(x) for x in ("sZ1", "sZ2", "pyZ1", "pzZ1", "pxZ1", "pyZ2", "pzZ2", "pxZ2")])
    g = sisl.Geometry([[0, 0, 0]], atoms=dz, lattice=sisl.Lattice(LAT, nsc=[3, 1, 1]))
    Hz = sisl.Hamiltonian(g)
    for i in range(8):
        Hz[i, i] = i
    tz = from_sisl(Hz)
    assert [a.orbitals for a in tz.atoms] == [("s",), ("s", "py", "pz", "px"), ("py", "pz", "px")]
    assert len({a.position for a in tz.atoms}) == 1
    S = sisl.Hamiltonian(g, orthogonal=False)
    with pytest.raises(ValueError, match="overlap"):
        from_sisl(S)
    with pytest.raises(TypeError, match="sisl.Hamiltonian"):
        from_sisl(np.eye(2))
    with pytest.raises(ValueError, match="nsc"):
        from_sisl(H, periodic=2)


# ---------------------------------------------------------------------------------------------- qsymm
def _qsymm_model(rng, spin=False):
    import sympy
    from qsymm.model import BlochCoeff, BlochModel

    tau_b = RED_B @ LAT
    sizes = (3, 2)
    n0 = sum(sizes) * (2 if spin else 1)
    first = {0: 0, 1: sizes[0] * (2 if spin else 1)}
    width = {a: s * (2 if spin else 1) for a, s in enumerate(sizes)}
    tau = {0: np.zeros(3), 1: tau_b}
    t, u = sympy.symbols("t u", real=True)
    terms = {}

    def add(d, V, c):
        key = BlochCoeff(np.asarray(d, float), c)
        terms[key] = terms.get(key, 0) + V

    for R in HOPS:
        for a in (0, 1):
            for b in (0, 1):
                if not any(R) and b < a:
                    continue
                V = np.zeros((n0, n0), complex)
                blk = rng.normal(size=(width[a], width[b])) + 1j * rng.normal(size=(width[a], width[b]))
                V[first[a]:first[a] + width[a], first[b]:first[b] + width[b]] = blk
                d = np.array(R) @ LAT + tau[b] - tau[a]
                c = (t, u, sympy.Integer(1))[(a + b + sum(R)) % 3]
                add(d, V, c)
                add(-d, V.conj().T, c)
    return BlochModel(terms), tau_b


def test_qsymm_against_its_own_hk_and_hr(tmp_path):
    pytest.importorskip("qsymm")
    from orbsym.materials.interop import from_qsymm

    rng = np.random.default_rng(41)
    m, tau_b = _qsymm_model(rng)
    params = {"t": 0.7, "u": -1.3}
    atoms = [Atom("A", (0, 0, 0), ("s", "px", "py")), Atom("B", tau_b, ("pz", "dxy"))]
    tb = from_qsymm(m, LAT, orbitals=atoms, params=params, length_unit="Angstrom")
    assert (tb.length_unit, tb.energy_unit, tb.n) == ("Angstrom", "eV", 5)
    assert {tuple(r) for r in tb.R} == set(HOPS) | {tuple(-v for v in R) for R in HOPS}
    f = m.lambdify()

    def Hk(k):
        return np.array(f(k_x=k[0], k_y=k[1], k_z=k[2], **params), dtype=complex)

    for kr in _k_red(rng):
        k = tb.k_cartesian(kr)
        np.testing.assert_allclose(tb.hamiltonian(k, convention="I"), Hk(k), rtol=0, atol=1e-12)
    _round_trip(tb, tmp_path, rng, lambda kr: Hk(tb.k_cartesian(kr)), convention="I")
    spec = from_qsymm(m, LAT, orbitals="A: s,px,py; B: pz,dxy", positions=[(0, 0, 0), tau_b], params=params)
    assert spec.length_unit == "a" and [a.orbitals for a in spec.atoms] == [a.orbitals for a in atoms]
    np.testing.assert_allclose(spec.H, tb.H, atol=0)


def test_qsymm_spin_and_bad_input():
    pytest.importorskip("qsymm")
    from orbsym.materials.interop import from_qsymm

    rng = np.random.default_rng(42)
    m, tau_b = _qsymm_model(rng, spin=True)
    params = {"t": 0.7, "u": -1.3}
    atoms = [Atom("A", (0, 0, 0), ("s", "px", "py")), Atom("B", tau_b, ("pz", "dxy"))]
    tb = from_qsymm(m, LAT, orbitals=atoms, params=params)
    assert tb.spinful and tb.spin_order == "interleaved" and tb.n == 10
    assert tb.angular_momentum("L").shape == (3, 10, 10)
    with pytest.raises(ValueError, match="needs values for u"):
        from_qsymm(m, LAT, orbitals=atoms, params={"t": 1.0})
    with pytest.raises(ValueError, match="not a lattice vector"):  # orbitals all at the origin: wrong
        from_qsymm(m, LAT, params=params)
    with pytest.raises(ValueError, match="not a lattice vector"):
        from_qsymm(m, 1.1 * LAT, orbitals=atoms, params=params)
    with pytest.raises(ValueError, match="positions="):
        from_qsymm(m, LAT, orbitals="A: s,px,py; B: pz,dxy", params=params)
    with pytest.raises(ValueError, match="length_unit"):
        from_qsymm(m, LAT, orbitals=atoms, params=params, length_unit="nm")
    with pytest.raises(TypeError, match="BlochModel"):
        from_qsymm({}, LAT)


# ---------------------------------------------------------------------------------------------- reverse
@pytest.mark.parametrize("nspin,dim", [(1, 3), (2, 3), (1, 2)])
def test_to_pythtb_round_trip(nspin, dim):
    pythtb = pytest.importorskip("pythtb")
    from orbsym.materials.interop import from_pythtb, to_pythtb

    rng = np.random.default_rng(51 + nspin + dim)
    tb = from_pythtb(_pythtb_model(pythtb, rng, nspin, dim), cell=1.5, orbitals="A: s,px,py; B: pz,dxy")
    p = to_pythtb(tb)
    back = from_pythtb(p, cell=1.5, orbitals="A: s,px,py; B: pz,dxy")
    np.testing.assert_array_equal(back.R, tb.R)
    np.testing.assert_allclose(back.H, tb.H, rtol=0, atol=1e-14)
    for kr in _k_red(rng, 2, dim=dim):
        np.testing.assert_allclose(np.asarray(p._gen_ham(kr[:dim])).reshape(tb.n, tb.n), tb.hamiltonian(tb.k_cartesian(kr), "I"), rtol=0, atol=1e-12)


def test_to_pythtb_permutes_block_spinors():
    pytest.importorskip("pythtb")
    tbmodels = pytest.importorskip("tbmodels")
    from orbsym.materials.interop import from_tbmodels, to_pythtb

    rng = np.random.default_rng(55)
    pos = [[0.0] * 3] * 3 + [list(RED_B)] * 2
    blk = tbmodels.Model(on_site=rng.normal(size=10), pos=pos + pos, uc=LAT, occ=1)
    for i, j, R in [(0, 7, (1, 0, 0)), (2, 9, (0, 1, -1)), (5, 3, (0, 0, 0)), (8, 1, (1, 1, 0))]:
        blk.add_hop(complex(rng.normal(), rng.normal()), i, j, R)
    tb = from_tbmodels(blk, orbitals="A: s,px,py; B: pz,dxy", spin_order="block")
    p = to_pythtb(tb)
    perm = np.ravel(np.column_stack([np.arange(5), np.arange(5) + 5]))
    for kr in _k_red(rng, 3):
        Hb = tb.hamiltonian(tb.k_cartesian(kr), "I")[np.ix_(perm, perm)]
        np.testing.assert_allclose(np.asarray(p._gen_ham(kr)).reshape(10, 10), Hb, rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("spin", ["unpolarized", "spinorbit"])
def test_to_sisl_round_trip(spin):
    sisl = pytest.importorskip("sisl")
    from orbsym.materials.interop import from_sisl, to_sisl

    rng = np.random.default_rng(61)
    tb = from_sisl(_sisl_model(sisl, rng, spin))
    H = to_sisl(tb)
    assert H.spin.is_spinorbit == tb.spinful and [a.tag for a in H.geometry.atoms] == ["Ti", "O"]
    back = from_sisl(H)
    np.testing.assert_array_equal(back.R, tb.R)
    np.testing.assert_allclose(back.H, tb.H, rtol=0, atol=1e-13)
    assert [a.orbitals for a in back.atoms][0] == tb.atoms[0].orbitals
    kr = _k_red(rng, 1)[0]
    np.testing.assert_allclose(np.linalg.eigvalsh(H.Hk(kr, format="array")), tb.bands(tb.k_cartesian(kr)), rtol=0, atol=1e-11)


def test_to_sisl_refuses_natural_units():
    pytest.importorskip("sisl")
    pythtb = pytest.importorskip("pythtb")
    from orbsym.materials.interop import from_pythtb, to_sisl

    with pytest.raises(ValueError, match="natural units"):
        to_sisl(from_pythtb(_pythtb_model(pythtb, np.random.default_rng(1))))


@pytest.mark.filterwarnings("ignore")
def test_sisl_atom_list_is_checked_against_the_geometry():
    sisl = pytest.importorskip("sisl")
    from orbsym.materials.interop import from_sisl

    H = _sisl_model(sisl, np.random.default_rng(9), "unpolarized")
    good = [Atom("X", (0, 0, 0), ("s", "py", "pz", "px", "dxz")), Atom("Y", RED_B @ LAT, ("pz", "dyz", "e"))]
    tb = from_sisl(H, orbitals=good)
    kr = _k_red(np.random.default_rng(1), 1)[0]
    np.testing.assert_allclose(tb.hamiltonian(tb.k_cartesian(kr)), _sisl_hk(H, kr), rtol=0, atol=1e-12)  # as given: no flips
    with pytest.raises(ValueError, match="orbital 6 of the Atom list"):
        from_sisl(H, orbitals=[good[0], Atom("Y", (0, 0, 1), ("pz", "dyz", "e"))])


def test_qsymm_two_dimensional(tmp_path):
    pytest.importorskip("qsymm")
    import sympy
    from qsymm.model import BlochCoeff, BlochModel

    from orbsym.materials.interop import from_qsymm

    cell = LAT[:2, :2]
    tau_b = RED_B[:2] @ cell
    t = sympy.Symbol("t")
    d = np.array([1.0, -1.0]) @ cell + tau_b  # A -> B in cell (1, -1)
    V1 = np.array([[0, 0.3 + 0.1j], [0, 0]])
    d2 = np.array([0.0, 1.0]) @ cell  # A -> A and B -> B in cell (0, 1)
    V2 = np.diag([0.4j, -0.25])
    terms = {BlochCoeff(d, t): V1, BlochCoeff(-d, t): V1.conj().T, BlochCoeff(d2, sympy.Integer(1)): V2,
             BlochCoeff(-d2, sympy.Integer(1)): V2.conj().T, BlochCoeff(np.zeros(2), sympy.Integer(1)): np.diag([0.2, -0.1])}
    m = BlochModel(terms, momenta=("k_x", "k_y"))
    tb = from_qsymm(m, cell, orbitals=[Atom("A", (0, 0, 0), ("s",)), Atom("B", (*tau_b, 0), ("pz",))], params={"t": 2.0})
    assert tb.periodic == 2 and {tuple(r) for r in tb.R} == {(0, 0, 0), (1, -1, 0), (-1, 1, 0), (0, 1, 0), (0, -1, 0)}
    f = m.lambdify()
    rng = np.random.default_rng(71)
    for kr in _k_red(rng, dim=2):
        k = tb.k_cartesian(kr)
        np.testing.assert_allclose(tb.hamiltonian(k, "I"), np.array(f(k_x=k[0], k_y=k[1], t=2.0), complex), rtol=0, atol=1e-12)
    _round_trip(tb, tmp_path, rng, lambda kr: np.array(f(k_x=tb.k_cartesian(kr)[0], k_y=tb.k_cartesian(kr)[1], t=2.0), complex), convention="I", dim=2)
