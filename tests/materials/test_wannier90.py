"""Wannier90 readers and writer: _hr.dat (ndegen, wsvec), _tb.dat, .win, _centres.xyz, write_hr, bad input."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.materials.model import Atom, TightBinding
from orbsym.materials.wannier90 import (
    BOHR_ANGSTROM,
    read_centres,
    read_hr,
    read_tb,
    read_win,
    read_wsvec,
    write_hr,
)

DATA = Path(__file__).parent / "data"
HR, TB, WIN, CEN, WS = (DATA / f for f in ("chain_hr.dat", "chain_tb.dat", "chain.win", "chain_centres.xyz", "chain_wsvec.dat"))
RNG = np.random.default_rng(20)

# The fixture chain_*.{dat,win,xyz}, written down independently of the files: true H(R) (eV, already
# divided by ndegen), the weights in the files, the cell (Angstrom) and the atoms A (s), B (pz).
TRUE_H = {
    (0, 0, 0): np.array([[0.5, 0.1 + 0.2j], [0.1 - 0.2j, -0.3]]),
    (1, 0, 0): np.array([[-1.0, 0.25 + 0.05j], [0.15 - 0.1j, -0.8]]),
    (2, 0, 0): np.array([[0.05, 0.02j], [0.01, 0.03]]),
    (0, 1, 0): np.array([[0.2, -0.1], [0.0, 0.4 + 0.1j]]),
}
for _R in list(TRUE_H):
    if _R != (0, 0, 0):
        TRUE_H[tuple(-v for v in _R)] = TRUE_H[_R].conj().T
WEIGHTS = {(0, 0, 0): 1, (1, 0, 0): 1, (-1, 0, 0): 1, (2, 0, 0): 2, (-2, 0, 0): 2, (0, 1, 0): 3, (0, -1, 0): 3}
ORDER = [(-2, 0, 0), (-1, 0, 0), (0, -1, 0), (0, 0, 0), (0, 1, 0), (1, 0, 0), (2, 0, 0)]
CELL = np.array([[2.5, 0, 0], [0, 3.0, 0], [0.3, 0.2, 4.0]])
ATOMS = [Atom("A", (0.1, 0.2, 0.3), ("s",)), Atom("B", (1.2, 1.4, 0.5), ("pz",))]
# the images of chain_wsvec.dat that are not T = 0 (multiples of the 4 x 3 x 1 grid)
SHIFTS = {((1, 0, 0), 1, 2): [(0, 0, 0), (-4, 0, 0)], ((-1, 0, 0), 2, 1): [(0, 0, 0), (4, 0, 0)],
          ((0, 1, 0), 1, 1): [(0, -3, 0)], ((0, -1, 0), 1, 1): [(0, 3, 0)],
          ((2, 0, 0), 2, 2): [(0, 0, 0), (-4, 0, 0)], ((-2, 0, 0), 2, 2): [(0, 0, 0), (4, 0, 0)]}


def kpoints(model, n=6):
    return RNG.standard_normal((n, 3)) * 1.3


def hk_from_file(path, cell, k, ws=None):
    """Slow path: Wannier90's own sum (plot.F90, s-k mode) straight from the file's lines.

    H(k)_mn = sum_R sum_d e^{i k.(R + T_d) a} (Re + i Im) / (ndegen(R) N_d(R, m, n)).
    """
    lines = Path(path).read_text().splitlines()
    nw, nr = int(lines[1]), int(lines[2])
    w, i = [], 3
    while len(w) < nr:
        w += [int(t) for t in lines[i].split()]
        i += 1
    H = np.zeros((nw, nw), complex)
    for r in range(nr):
        for e in range(nw * nw):
            t = lines[i + r * nw * nw + e].split()
            R, m, n, v = tuple(int(x) for x in t[:3]), int(t[3]), int(t[4]), float(t[5]) + 1j * float(t[6])
            Ts = ws[(R, m, n)] if ws is not None else [(0, 0, 0)]
            for T in Ts:
                H[m - 1, n - 1] += np.exp(1j * k @ ((np.array(R) + T) @ cell)) * v / (w[r] * len(Ts))
    return H


def hr_text(blocks, weights, nw, header=" written by the test\n"):
    """An _hr.dat in Wannier90's layout (independent of write_hr), values x weight, 10 decimals."""
    Rs = list(blocks)
    out = [header.rstrip("\n"), f"{nw:12d}", f"{len(Rs):12d}"]
    ws = [weights[R] for R in Rs]
    out += ["".join(f"{v:5d}" for v in ws[s:s + 15]) for s in range(0, len(ws), 15)]
    for R in Rs:
        for n in range(nw):
            for m in range(nw):
                v = blocks[R][m, n] * weights[R]
                out.append("".join(f"{x:5d}" for x in R) + f"{m + 1:5d}{n + 1:5d}{v.real:18.10f}{v.imag:18.10f}")
    return "\n".join(out) + "\n"


def random_model(n_atoms=2, n_orb=2, spinful=False, seed=0, n_R=4):
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * 2.7 + 0.4 * rng.standard_normal((3, 3))
    atoms = [Atom(f"X{a}", rng.standard_normal(3), ("s", "pz", "px", "py")[:n_orb]) for a in range(n_atoms)]
    n = n_atoms * n_orb * (2 if spinful else 1)
    onsite = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    bonds = {}
    for _ in range(n_R):
        R = tuple(int(v) for v in rng.integers(-2, 3, 3))
        bonds[R] = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    return TightBinding.from_bonds(cell, atoms, onsite + onsite.conj().T, bonds, spinful=spinful)


# ------------------------------------------------------------------ round trip, fixtures
@pytest.mark.parametrize("spinful", [False, True])
def test_write_read_round_trip_same_hk(tmp_path, spinful):
    m = random_model(spinful=spinful, seed=3 + spinful)
    ndegen = RNG.integers(1, 5, len(m.R))
    ndegen = {tuple(R): int(ndegen[i]) for i, R in enumerate(m.R)}
    ndegen.update({tuple(-R): ndegen[tuple(R)] for R in m.R})  # Wannier90's weights are even in R
    path = tmp_path / "rt_hr.dat"
    write_hr(m, path, ndegen=ndegen)
    back = read_hr(path, cell=m.cell, atoms=list(m.atoms))
    assert back.spinful == spinful and back.basis == m.basis
    k = kpoints(m)
    for conv in ("II", "I"):
        assert np.abs(back.hamiltonian(k, conv) - m.hamiltonian(k, conv)).max() < 1e-12
    assert np.allclose(back.hamiltonian(k[0]), hk_from_file(path, m.cell, k[0]), atol=1e-12, rtol=0)
    # the weights are in the file: the lines hold ndegen x H(R)
    text = path.read_text().splitlines()
    assert [int(v) for v in text[3].split()][: len(m.R)] == [ndegen[tuple(R)] for R in m.R][:15]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3), n_R=st.integers(0, 4), seed=st.integers(0, 2**16), wmax=st.integers(1, 7))
def test_round_trip_property(tmp_path, n, n_R, seed, wmax):
    rng = np.random.default_rng(seed)
    atoms = [Atom("X", (0, 0, 0), tuple(f"o{i}" for i in range(n)))]
    bonds = {tuple(int(v) for v in rng.integers(-3, 4, 3)): rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)) for _ in range(n_R)}
    m = TightBinding.from_bonds(np.diag([2.0, 2.5, 3.0]), atoms, np.diag(rng.standard_normal(n)), bonds)
    w = {}
    for R in m.R:
        w.setdefault(tuple(-R), w.setdefault(tuple(R), int(rng.integers(1, wmax + 1))))
    path = tmp_path / f"p{seed}_hr.dat"
    write_hr(m, path, ndegen=w)
    back = read_hr(path, cell=m.cell)
    assert np.array_equal(back.R, m.R) and np.abs(back.H - m.H).max() <= 1e-15 * max(1.0, np.abs(m.H).max()) * 8


def test_write_hr_is_atomic(tmp_path):
    m = random_model()
    path = tmp_path / "a_hr.dat"
    write_hr(m, path)
    before = path.read_text()

    class Broken(np.ndarray):
        def __iter__(self):
            yield self[0]
            raise RuntimeError("disk gone")

    m.H = m.H.view(Broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        write_hr(m, path, ndegen=[2] * len(m.R))
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a_hr.dat"]


def test_write_hr_refuses_bad_weights(tmp_path):
    m = random_model()
    with pytest.raises(ValueError, match="ndegen must be"):
        write_hr(m, tmp_path / "x_hr.dat", ndegen=[0] * len(m.R))
    with pytest.raises(ValueError, match=r"no weight for R"):
        write_hr(m, tmp_path / "x_hr.dat", ndegen={(0, 0, 0): 1})
    assert not (tmp_path / "x_hr.dat").exists()


def test_hr_fixture_with_weights_equals_direct_model():
    direct = TightBinding(CELL, ATOMS, TRUE_H)
    m = read_hr(HR, win=WIN)
    assert m.name == "chain" and [a.orbitals for a in m.atoms] == [("s",), ("pz",)]
    assert np.allclose(m.cell, CELL) and np.allclose(m.positions, direct.positions)
    assert sorted(map(tuple, m.R)) == sorted(TRUE_H)
    for R, M in zip(m.R, m.H):
        assert np.allclose(M, TRUE_H[tuple(R)], atol=1e-12, rtol=0)  # divided by ndegen (2 and 3 here)
    k = kpoints(m)
    for conv in ("II", "I"):
        assert np.allclose(m.hamiltonian(k, conv), direct.hamiltonian(k, conv), atol=1e-12, rtol=0)
    for kk in k[:3]:
        assert np.allclose(m.hamiltonian(kk), hk_from_file(HR, CELL, kk), atol=1e-12, rtol=0)


def test_partners_rounded_apart_by_the_file_format_are_averaged(tmp_path):
    # F12.6 rounding can leave H(-R) and H(R)^dagger 1e-6 eV apart: accepted (FILE_TOLERANCE), averaged
    p = corrupt(tmp_path, _set(25, "    1    0    0    2    1    0.150001   -0.100000"))
    m = read_hr(p, cell=CELL)
    Hp, Hm = (m.H[[tuple(R) for R in m.R].index(R)] for R in ((1, 0, 0), (-1, 0, 0)))
    assert Hp[1, 0] == pytest.approx(0.1500005 - 0.1j, abs=1e-12) and np.array_equal(Hm, Hp.conj().T)
    p = corrupt(tmp_path, _set(25, "    1    0    0    2    1    0.150003   -0.100000"))
    with pytest.raises(ValueError, match=r"largest mismatch 3e-06 eV .*tolerance 2e-06 eV"):
        read_hr(p, cell=CELL)


def test_hr_fixture_orbital_sources_agree():
    by_win = read_hr(HR, win=WIN)
    by_spec = read_hr(HR, cell=CELL, centres=CEN, orbitals="A: s; B: pz")
    by_atoms = read_hr(HR, cell=CELL, atoms=ATOMS)
    generic = read_hr(HR, cell=CELL, centres=CEN)
    for m in (by_spec, by_atoms):
        assert [(a.name, a.position, a.orbitals) for a in m.atoms] == [(a.name, a.position, a.orbitals) for a in by_win.atoms]
    assert [a.orbitals for a in generic.atoms] == [("wf1",), ("wf2",)]
    assert np.allclose(generic.positions, [[0.1, 0.2, 0.3], [1.2, 1.4, 0.5]])
    at_origin = read_hr(HR, cell=CELL)
    assert np.allclose(at_origin.positions, 0) and [a.name for a in at_origin.atoms] == ["wf1", "wf2"]
    k = kpoints(by_win)
    assert np.allclose(generic.hamiltonian(k, "I"), by_win.hamiltonian(k, "I"), atol=1e-12, rtol=0)


def test_auto_discovers_the_seed_files(tmp_path):
    for f in (HR, WIN, CEN, WS):
        (tmp_path / f.name).write_text(f.read_text())
    auto = read_hr(tmp_path / HR.name, win="auto", centres="auto", wsvec="auto")
    explicit = read_hr(HR, win=WIN, wsvec=WS)
    assert sorted(map(tuple, auto.R)) == sorted(map(tuple, explicit.R)) and auto.atoms == explicit.atoms
    (tmp_path / WS.name).unlink()
    assert len(read_hr(tmp_path / HR.name, win="auto", wsvec="auto").R) == len(TRUE_H)


# ------------------------------------------------------------------ wsvec
def test_wsvec_splits_each_element_over_its_images():
    m = read_hr(HR, win=WIN, wsvec=WS)
    expected = {}
    for R, M in TRUE_H.items():
        for a in range(2):
            for b in range(2):
                Ts = SHIFTS.get((R, a + 1, b + 1), [(0, 0, 0)])
                for T in Ts:
                    key = tuple(np.add(R, T).tolist())
                    expected.setdefault(key, np.zeros((2, 2), complex))[a, b] += M[a, b] / len(Ts)
    direct = TightBinding(CELL, ATOMS, expected)
    assert sorted(map(tuple, m.R)) == sorted(expected)
    for R, M in zip(m.R, m.H):
        assert np.allclose(M, expected[tuple(R)], atol=1e-12, rtol=0)
    k = kpoints(m)
    assert np.allclose(m.hamiltonian(k), direct.hamiltonian(k), atol=1e-12, rtol=0)
    table, _ = read_wsvec(WS)
    for kk in k[:3]:  # Wannier90's own interpolation formula, from the two files
        assert np.allclose(m.hamiltonian(kk), hk_from_file(HR, CELL, kk, table), atol=1e-12, rtol=0)


def test_wsvec_keeps_hk_on_the_wannier_grid_only():
    plain, ws = read_hr(HR, win=WIN), read_hr(HR, win=WIN, wsvec=WS)
    grid = np.array([[i / 4, j / 3, z] for i in range(4) for j in range(3) for z in (0.0, 0.37)])
    kg = plain.k_cartesian(grid)
    assert np.allclose(ws.hamiltonian(kg), plain.hamiltonian(kg), atol=1e-12, rtol=0)
    kr = plain.k_cartesian([[0.13, 0.21, 0.4], [0.3, 0.05, 0.0]])
    assert np.abs(ws.hamiltonian(kr) - plain.hamiltonian(kr)).max() > 1e-3


# ------------------------------------------------------------------ _tb.dat, centres
def test_tb_fixture_equals_hr_fixture():
    tb = read_tb(TB)
    hr = read_hr(HR, cell=CELL, centres=CEN)
    assert np.allclose(tb.cell, CELL)
    assert np.allclose(tb.positions, [[0.1, 0.2, 0.3], [1.2, 1.4, 0.5]])  # <0m|r|0m>, the Wannier centres
    assert sorted(map(tuple, tb.R)) == sorted(map(tuple, hr.R))
    k = kpoints(tb)
    for conv in ("II", "I"):
        assert np.allclose(tb.hamiltonian(k, conv), hr.hamiltonian(k, conv), atol=1e-12, rtol=0)
    with_win = read_tb(TB, win=WIN, wsvec=WS)
    assert [a.orbitals for a in with_win.atoms] == [("s",), ("pz",)]
    assert np.allclose(with_win.hamiltonian(k), read_hr(HR, win=WIN, wsvec=WS).hamiltonian(k), atol=1e-12, rtol=0)


def test_read_centres():
    c = read_centres(CEN)
    assert np.allclose(c.centres, [[0.1, 0.2, 0.3], [1.2, 1.4, 0.5]])
    assert [n for n, _ in c.atoms] == ["A", "B"] and np.allclose(c.atoms[1][1], [1.2, 1.4, 0.5])


# ------------------------------------------------------------------ .win
def test_win_bohr_spinors_and_l_order():
    w = read_win(DATA / "cu_bohr.win")
    a = 3.41 * 0.52917721092  # Wannier90 3.x's bohr (src/constants.F90)
    assert BOHR_ANGSTROM == 0.52917721092
    assert np.allclose(w.cell, [[-a, 0, a], [0, a, a], [-a, a, 0]], atol=1e-12)
    assert w.num_wann == 12 and w.spinors and w.settings["mp_grid"] == "4 4 4" and w.settings["num_bands"] == "20"
    labels = ["s", "dz2", "dxz", "dyz", "dx2-y2", "dxy"]  # 'd;s' written: Wannier90 orders by l
    assert [(p.label, p.spin) for p in w.projections] == [(lab, s) for lab in labels for s in (1, -1)]
    assert [n for n, _ in w.atoms] == ["Cu"] and np.allclose(w.atoms[0][1], 0)


def test_win_spinor_model_interleaved_and_override(tmp_path):
    H0 = np.diag(np.arange(12.0)) + 0.1 * (np.eye(12, k=1) + np.eye(12, k=-1))
    path = tmp_path / "cu_hr.dat"
    path.write_text(hr_text({(0, 0, 0): H0}, {(0, 0, 0): 1}, 12))
    m = read_hr(path, win=DATA / "cu_bohr.win")
    assert m.spinful and m.spin_order == "interleaved"
    assert [(o.label, o.spin) for o in m.basis[:4]] == [("s", 1), ("s", -1), ("dz2", 1), ("dz2", -1)]
    assert np.allclose(m.H[0], H0)
    blk = read_hr(path, win=DATA / "cu_bohr.win", spin_order="block")  # e.g. a VASP 5 file
    assert blk.spin_order == "block" and [(o.label, o.spin) for o in blk.basis[5:8]] == [("dxy", 1), ("s", -1), ("dz2", -1)]


def test_win_angstrom_fractional_and_mr(tmp_path):
    w = read_win(DATA / "tio_ang.win")
    assert np.allclose(w.cell, np.diag([3.0, 3.0, 4.0])) and not w.spinors and w.num_wann == 10
    assert [n for n, _ in w.atoms] == ["Ti", "O", "O"] and np.allclose(w.atoms[2][1], [0, 1.5, 0])
    got = [(p.site, p.label) for p in w.projections]
    assert got == [("Ti", "dxz"), ("Ti", "dyz"), ("Ti", "dxy")] + [("O", l) for _ in range(2) for l in ("pz", "px", "py")] + [("f=0.5,0.5,0.5", "s")]
    assert np.allclose(w.projections[-1].position, [1.5, 1.5, 2.0])
    path = tmp_path / "tio_hr.dat"
    path.write_text(hr_text({(0, 0, 0): np.diag(np.arange(10.0))}, {(0, 0, 0): 1}, 10))
    m = read_hr(path, win=DATA / "tio_ang.win")
    assert [(a.name, a.orbitals) for a in m.atoms] == [("Ti", ("dxz", "dyz", "dxy")), ("O", ("pz", "px", "py")), ("O", ("pz", "px", "py")), ("f=0.5,0.5,0.5", ("s",))]
    assert np.allclose(m.atoms[2].position, [0, 1.5, 0])


def test_win_rotated_axes_are_read_but_a_model_refuses_them(tmp_path):
    win = tmp_path / "rot.win"
    win.write_text(WIN.read_text().replace("A : s", "A : s : z=1,0,0").replace("B : pz", "B : pz : z=1,0,0 : x=0,1,0"))
    w = read_win(win)
    assert w.projections[0].axes is None  # s: the same in any frame
    assert w.projections[1].axes == ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match=r"rot\.win, line 16: projection with local axes z=\(1\.0, 0\.0, 0\.0\), x=\(0\.0, 1\.0, 0\.0\).*pass orbitals="):
        read_hr(HR, win=win)
    m = read_hr(HR, cell=w.cell, atoms=[(n, p) for n, p in w.atoms], orbitals="A: s; B: pz")  # the way out the message names
    assert [a.orbitals for a in m.atoms] == [("s",), ("pz",)]
    win.write_text("spinors = T\nbegin unit_cell_cart\n2 0 0\n0 2 0\n0 0 2\nend unit_cell_cart\n"
                   "begin atoms_cart\nFe 0 0 0\nend atoms_cart\nbegin projections\nFe: s [1,0,0]\nend projections\n")
    assert read_win(win).projections[0].spin_axis == (1.0, 0.0, 0.0)
    hr = tmp_path / "rot_hr.dat"
    hr.write_text(hr_text({(0, 0, 0): np.eye(2)}, {(0, 0, 0): 1}, 2))
    with pytest.raises(ValueError, match=r"rot\.win, line 11: projection with spin axis \(1\.0, 0\.0, 0\.0\)"):
        read_hr(hr, win=win)


def test_win_select_projections_and_end_underscore(tmp_path):
    win = tmp_path / "sel.win"
    text = WIN.read_text().replace("end unit_cell_cart", "end_unit_cell_cart").replace("B : pz", "B : pz\nA : py ; px")
    win.write_text(text.replace("num_wann  = 2", "num_wann = 3\nselect_projections = 1, 3-4"))
    w = read_win(win)  # projections: A s, B pz, A px, A py (l, mr order); selected 1, 3, 4
    assert [(p.site, p.label) for p in w.projections] == [("A", "s"), ("A", "px"), ("A", "py")]
    assert np.allclose(w.cell, CELL) and "select_projections" not in w.settings
    win.write_text(text.replace("num_wann  = 2", "select_projections 1 9"))
    with pytest.raises(ValueError, match=r"sel\.win, line 2: select_projections asks for projection 9, the projections block gives 4"):
        read_win(win)
    win.write_text(text.replace("num_wann  = 2", "select_projections 3-1"))
    with pytest.raises(ValueError, match=r"sel\.win, line 2: select_projections takes indices and ranges such as '1-4 7', got '3-1'"):
        read_win(win)


def test_win_up_down_lines_give_block_order(tmp_path):
    win = tmp_path / "fe.win"
    win.write_text("num_wann 4\nspinors = .TRUE.\nbegin unit_cell_cart\n2 0 0\n0 2 0\n0 0 2\nend unit_cell_cart\n"
                   "begin atoms_frac\nFe 0 0 0\nend atoms_frac\nbegin projections\nFe: s;pz(u) [0,0,1]\nFe: s;pz(d)\nend projections\n")
    hr = tmp_path / "fe_hr.dat"
    hr.write_text(hr_text({(0, 0, 0): np.diag([1.0, 2, 3, 4])}, {(0, 0, 0): 1}, 4))
    m = read_hr(hr, win=win)
    assert m.spin_order == "block" and [(o.label, o.spin) for o in m.basis] == [("s", 1), ("pz", 1), ("s", -1), ("pz", -1)]


# ------------------------------------------------------------------ bad input
def corrupt(tmp_path, lines_edit, name="bad_hr.dat", src=HR):
    lines = src.read_text().splitlines()
    lines = lines_edit(lines)
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def _set(i, text):
    def edit(lines):
        lines[i] = text
        return lines
    return edit


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (lambda L: L[:-3], r"bad_hr\.dat: the file ends at line 29 after 25 of the 28 matrix-element"),
        (_set(6, "   -2    0    0    1    2    0.02000a    0.000000"), r"bad_hr\.dat, line 7: non-numeric token '0\.02000a'"),
        (_set(2, "           8"), r"bad_hr\.dat, line 5: non-integer token '0\.100000' where degeneracy weights \(nrpts = 8, 7 read so far\)"),
        (_set(2, "           6"), r"bad_hr\.dat, line 4: 7 degeneracy weights where nrpts = 6"),
        (_set(3, "    2    1    3    0    3    1    2"), r"bad_hr\.dat, line 4: degeneracy weight ndegen = 0 \(lattice vector number 4\)"),
        (lambda L: L[:10] + L[11:] + [L[10]], r"bad_hr\.dat, line 12: R = \(0, -1, 0\) inside the block of R = \(-1, 0, 0\) \(from line 9\): each R has num_wann\^2 = 4 lines"),
        (_set(7, "   -1    0    0    2    2    0.060000    0.000000"), r"bad_hr\.dat, line 8: R = \(-1, 0, 0\) inside the block of R = \(-2, 0, 0\) \(from line 5\)"),
        (_set(7, "   -2    0    0    2    1    0.060000    0.000000"), r"bad_hr\.dat, line 8: element \(m, n\) = \(2, 1\) of R = \(-2, 0, 0\) given twice"),
        (_set(7, "   -2    0    0    3    2    0.060000    0.000000"), r"bad_hr\.dat, line 8: orbital indices \(3, 2\) outside 1\.\.num_wann = 2"),
        (_set(7, "   -2    0    0    2    2    0.060000"), r"bad_hr\.dat, line 8: expected 7 numbers"),
        (_set(7, "   -2    0    0    2    2.5  0.060000    0.000000"), r"bad_hr\.dat, line 8: the first 5 numbers .* must be integers"),
        (_set(1, "           x"), r"bad_hr\.dat, line 2: non-integer token 'x' where num_wann is expected"),
        (lambda L: L + ["    3    0    0    1    1    0.1    0.0"], r"bad_hr\.dat, line 33: unexpected data after the 7 x 4 matrix elements"),
        (_set(25, "    1    0    0    2    1    0.650000   -0.100000"), r"bad_hr\.dat, lines 9 and 25: H\(-R\) != H\(R\)\^dagger for R = \(-1, 0, 0\): largest mismatch 0\.5 eV between H\(\(1, 0, 0\)\)_2,1 and conj H\(\(-1, 0, 0\)\)_1,2"),
        (lambda L: [l.replace("   -2    0    0", "   -3    0    0") for l in L], r"bad_hr\.dat, line 5: H\(R\) is given for R = \(-3, 0, 0\) but not for -R = \(3, 0, 0\)"),
    ],
)
def test_bad_hr_names_file_and_line(tmp_path, edit, pattern):
    p = corrupt(tmp_path, edit)
    with pytest.raises(ValueError, match=pattern):
        read_hr(p, cell=CELL)


def test_bad_hr_duplicate_R_and_empty(tmp_path):
    p = corrupt(tmp_path, lambda L: [l.replace("   -2    0    0", "    2    0    0") if i < 9 else l for i, l in enumerate(L)])
    with pytest.raises(ValueError, match=r"bad_hr\.dat, line 29: lattice vector R = \(2, 0, 0\) appears twice \(first at line 5\)"):
        read_hr(p, cell=CELL)
    (tmp_path / "e_hr.dat").write_text("")
    with pytest.raises(ValueError, match=r"e_hr\.dat: empty file"):
        read_hr(tmp_path / "e_hr.dat", cell=CELL)
    with pytest.raises(ValueError, match="cannot read"):
        read_hr(tmp_path / "missing_hr.dat", cell=CELL)


def test_no_cell_is_refused_with_what_to_give():
    with pytest.raises(ValueError, match=r"chain_hr\.dat does not hold the lattice vectors.*pass cell=.*or win="):
        read_hr(HR)
    with pytest.raises(ValueError, match=r"cell must be 3 lattice vectors as rows \(3 x 3 numbers, Angstrom\), got 'abc'"):
        read_hr(HR, cell="abc")
    with pytest.raises(ValueError, match=r"cell= .* differs from unit_cell_cart of .*chain\.win"):
        read_hr(HR, cell=np.eye(3), win=WIN)
    with pytest.raises(ValueError, match=r"an atoms= entry must be an orbsym\.materials\.Atom or a \(name, \(x, y, z\)\) pair"):
        read_hr(HR, cell=CELL, atoms=[("A", (0, 0))], orbitals="A: s,pz")


def test_projection_count_mismatch_names_both_counts(tmp_path):
    win = tmp_path / "three.win"
    win.write_text(WIN.read_text().replace("B : pz", "B : p").replace("num_wann  = 2", ""))
    with pytest.raises(ValueError, match=r"the projections of .*three\.win \(lines 14-17\) gives? 4 Wannier functions, but .*chain_hr\.dat has num_wann = 2"):
        read_hr(HR, win=win)
    big = tmp_path / "big_hr.dat"
    big.write_text(hr_text({(0, 0, 0): np.eye(12)}, {(0, 0, 0): 1}, 12))
    with pytest.raises(ValueError, match=r"chain\.win has num_wann = 2, but .*big_hr\.dat has num_wann = 12"):
        read_hr(big, win=WIN)
    with pytest.raises(ValueError, match=r"orbitals='A: s; B: p' gives 4 orbitals \(8 with spin\), but .*num_wann = 2"):
        read_hr(HR, cell=CELL, centres=CEN, orbitals="A: s; B: p")


@pytest.mark.parametrize(
    "line, pattern",
    [
        ("A : g", r"bad\.win, line 15: unknown projection 'g'; allowed: s, p, d"),
        ("A : l=4", r"bad\.win, line 15: bad angular state 'l=4'"),
        ("A : l=1,mr=4", r"bad\.win, line 15: mr = 4 is outside 1\.\.3 for l = 1"),
        ("C : s", r"bad\.win, line 15: projection on atom 'C', which is not in atoms_cart/atoms_frac \(atoms: A, B\)"),
        ("A : s(u)", r"bad\.win, line 15: a spin selection \(u\) needs spinors = \.true\."),
        ("A : pz : z=0,0,0", r"bad\.win, line 15: projection axis 'z=0,0,0' is the zero vector"),
        ("A s", r"bad\.win, line 15: a projection is 'site: states'"),
        ("c=0.1,0.2: s", r"bad\.win, line 15: c= \(Cartesian site\) needs 3 comma-separated numbers"),
    ],
)
def test_bad_projection_names_file_and_line(tmp_path, line, pattern):
    win = tmp_path / "bad.win"
    win.write_text(WIN.read_text().replace("A : s", line))
    with pytest.raises(ValueError, match=pattern):
        read_win(win)


@pytest.mark.parametrize(
    "old, new, pattern",
    [
        ("end projections", "", r"bad\.win, line 14: block 'projections' is never closed"),
        ("num_wann  = 2", "num_wann  = two", r"bad\.win, line 2: non-integer token 'two' where num_wann"),
        ("num_iter : 100", "spinors = maybe", r"bad\.win, line 3: spinors must be a logical"),
        ("  0.0 3.0 0.0\n", "", r"bad\.win, line 4: unit_cell_cart must hold 3 lattice vectors"),
        ("B  1.2 1.4 0.5", "B  1.2 1.4", r"bad\.win, line 12: an atom line is 'label x y z'"),
        ("mp_grid 4 3 1", "num_iter 3", r"bad\.win, line 18: key 'num_iter' given twice \(first at line 3\)"),
    ],
)
def test_bad_win_names_file_and_line(tmp_path, old, new, pattern):
    win = tmp_path / "bad.win"
    text = WIN.read_text()
    assert old in text
    win.write_text(text.replace(old, new))
    with pytest.raises(ValueError, match=pattern):
        read_win(win)


def test_bad_tb_names_file_and_line(tmp_path):
    p = corrupt(tmp_path, lambda L: L[:-2], "bad_tb.dat", TB)
    with pytest.raises(ValueError, match=r"bad_tb\.dat: the file ends at line \d+ after 2 of the 4 position"):
        read_tb(p)
    p = corrupt(tmp_path, _set(1, "  2.5 0.0"), "bad_tb.dat", TB)
    with pytest.raises(ValueError, match=r"bad_tb\.dat, line 2: lattice vector a_1 needs 3 Cartesian components"):
        read_tb(p)
    lines = TB.read_text().splitlines()
    j = [i for i, l in enumerate(lines) if l.split() == ["-2", "0", "0"]][1]  # the first position block
    p = corrupt(tmp_path, _set(j, "   -3    0    0"), "bad_tb.dat", TB)
    with pytest.raises(ValueError, match=rf"bad_tb\.dat, line {j + 1}: position block 1 is for R = \(-3, 0, 0\), but H\(R\) block 1 \(line 9\) is for R = \(-2, 0, 0\)"):
        read_tb(p)
    with pytest.raises(ValueError, match=r"cell= .* differs from the lattice of"):
        read_tb(TB, cell=np.eye(3))


def test_bad_wsvec_and_centres(tmp_path):
    p = corrupt(tmp_path, lambda L: L[:-1], "bad_wsvec.dat", WS)
    with pytest.raises(ValueError, match=r"bad_wsvec\.dat: the file ends at line \d+ before a shift"):
        read_hr(HR, win=WIN, wsvec=p)
    p = corrupt(tmp_path, lambda L: L[:1] + L[4:], "bad_wsvec.dat", WS)
    with pytest.raises(ValueError, match=r"bad_wsvec\.dat: no images for \(R, m, n\) = \(\(-2, 0, 0\), 1, 1\)"):
        read_hr(HR, win=WIN, wsvec=p)
    p = corrupt(tmp_path, lambda L: L + ["    5    0    0    1    1", "    1", "    0    0    0"], "bad_wsvec.dat", WS)
    with pytest.raises(ValueError, match=r"bad_wsvec\.dat, line \d+: \(R, m, n\) = \(\(5, 0, 0\), 1, 1\) is not an element"):
        read_hr(HR, win=WIN, wsvec=p)
    p = corrupt(tmp_path, _set(3, "    0    0"), "bad_wsvec.dat", WS)
    with pytest.raises(ValueError, match=r"bad_wsvec\.dat, line 4: expected a shift"):
        read_hr(HR, win=WIN, wsvec=p)
    p = corrupt(tmp_path, lambda L: L[:-1], "bad_centres.xyz", CEN)
    with pytest.raises(ValueError, match=r"bad_centres\.xyz: the file ends at line 5 before 4 centre/atom lines"):
        read_centres(p)
    p = corrupt(tmp_path, _set(3, "X 1.2 1.4"), "bad_centres.xyz", CEN)
    with pytest.raises(ValueError, match=r"bad_centres\.xyz, line 4: expected 'X x y z'"):
        read_centres(p)


def test_wsvec_that_breaks_hermiticity_names_both_files(tmp_path):
    p = corrupt(tmp_path, lambda L: [("    0    0    0" if l.split() == ["4", "0", "0"] else l) for l in L], "odd_wsvec.dat", WS)
    with pytest.raises(ValueError, match=r"chain_hr\.dat with the images of .*odd_wsvec\.dat: H\(-R\) != H\(R\)\^dagger|chain_hr\.dat with the images of .*odd_wsvec\.dat: H\(R\) is given"):
        read_hr(HR, win=WIN, wsvec=p)


def test_spin_orders_that_cannot_be_built(tmp_path):
    win = tmp_path / "half.win"
    win.write_text("num_wann 3\nspinors = T\nbegin unit_cell_cart\n2 0 0\n0 2 0\n0 0 2\nend unit_cell_cart\n"
                   "begin atoms_cart\nFe 0 0 0\nend atoms_cart\nbegin projections\nFe: s;pz(u)\nFe: s(d)\nend projections\n")
    hr = tmp_path / "half_hr.dat"
    hr.write_text(hr_text({(0, 0, 0): np.eye(3)}, {(0, 0, 0): 1}, 3))
    with pytest.raises(ValueError, match="neither interleaved .* nor in blocks"):
        read_hr(hr, win=win)
    with pytest.raises(ValueError, match=r"unknown spin_order 'zigzag'"):
        read_hr(HR, cell=CELL, centres=CEN, orbitals="A: s", spin_order="zigzag")
    with pytest.raises(ValueError, match=r"spin_order='block' given, but .*chain\.win has no spin"):
        read_hr(HR, win=WIN, spin_order="block")


def test_spec_with_half_the_functions_is_spinful():
    m = read_hr(HR, cell=CELL, atoms=[("Cu", (0, 0, 0))], orbitals="Cu: s")
    assert m.spinful and [(o.label, o.spin) for o in m.basis] == [("s", 1), ("s", -1)]
    with pytest.raises(ValueError, match=r"orbitals='Cu: x': unknown projection 'x'"):
        read_hr(HR, cell=CELL, atoms=[("Cu", (0, 0, 0))], orbitals="Cu: x")
    with pytest.raises(ValueError, match=r"names atoms, but no atom positions are given"):
        read_hr(HR, cell=CELL, orbitals="Cu: s")


# ------------------------------------------------------------------ optional cross-check
def test_sisl_reads_the_same_bands():
    sisl = pytest.importorskip("sisl")
    # sisl reads seedname.win + chain_hr.dat (+ chain_centres.xyz for the orbital positions); complex H(R)
    H = sisl.get_sile(str(WIN)).read_hamiltonian(dtype=np.complex128, order=["hr"])
    m = read_hr(HR, win=WIN)
    kf = RNG.random((4, 3))
    for k in kf:
        assert np.allclose(np.sort(H.eigh(k=k)), np.sort(m.bands(m.k_cartesian(k))), atol=1e-6)
