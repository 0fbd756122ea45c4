"""``orbsym hall``, ``orbsym model info`` and :func:`orbsym.materials.load.load_model` (model files in tmp_path)."""

import json
import re

import numpy as np
import pytest

from orbsym.cli import main

E2_H = 3.874046e-5

QWZ = """
import numpy as np
from orbsym.materials.model import Atom, TightBinding
SX = np.array([[0, 1], [1, 0]], complex); SY = np.array([[0, -1j], [1j, 0]]); SZ = np.diag([1.0, -1.0]).astype(complex)
def build(m={m}):
    hop = {{(0, 0, 0): m * SZ, (1, 0, 0): SX / 2j + SZ / 2, (0, 1, 0): SY / 2j + SZ / 2}}
    hop[(-1, 0, 0)] = hop[(1, 0, 0)].conj().T
    hop[(0, -1, 0)] = hop[(0, 1, 0)].conj().T
    return TightBinding(np.diag([3.0, 3.0, 10.0]), [Atom("X", (0, 0, 0), ("s", "pz"))], hop, periodic=2, name="QWZ")
model = {call}
"""

PSHELL = """
import numpy as np
from orbsym.materials.model import Atom, TightBinding
L = np.zeros((3, 3, 3), complex)
for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    L[a, b, c], L[a, c, b] = -1j, 1j
hop = {(0, 0, 0): np.diag([0.0, 0.0, 0.8]).astype(complex)}
for i, R in enumerate([(1, 0, 0), (0, 1, 0)]):
    T = np.diag([-0.3, -0.3, -0.3]).astype(complex); T[i, i] = 1.0
    hop[R] = T; hop[tuple(-x for x in R)] = T.conj().T
for R, s in (((1, 1, 0), 1.0), ((1, -1, 0), -1.0)):  # px-py mixing on the diagonals: an orbital Hall effect
    T = np.diag([0.1, 0.1, -0.1]).astype(complex); T[0, 1] = T[1, 0] = 0.25 * s
    hop[R] = T; hop[tuple(-x for x in R)] = T.conj().T
model = TightBinding(np.eye(3), [Atom("A", (0, 0, 0), ("px", "py", "pz"))], hop, periodic=2, length_unit="a", energy_unit="t", generators=L, name="p-square")
"""


@pytest.fixture
def qwz(tmp_path):
    f = tmp_path / "qwz.py"
    f.write_text(QWZ.format(m=1.0, call="build()"))
    return f


@pytest.fixture
def pshell(tmp_path):
    f = tmp_path / "pshell.py"
    f.write_text(PSHELL)
    return f


def one_line_error(capsys, argv, code, *words):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("orbsym: error:"), err
    for w in words:
        assert w in err, (w, err)
    return err


# ------------------------------------------------------------------ orbsym hall
def test_hall_prints_the_quantized_chern_conductance_with_units_and_convergence(qwz, capsys):
    assert main(["hall", str(qwz), "--operator", "charge", "--components", "xy", "--N-k", "24", "--progress", "off"]) == 0
    out = capsys.readouterr().out
    assert "units: S (per square)" in out and "q = -e" in out and "N_k = 24" in out
    m = re.search(r"mu = 0: sigma\[xy\] = (\S+) \+- (\S+)", out)
    assert m, out
    value, err = float(m.group(1)), float(m.group(2))
    assert abs(abs(value) - E2_H) < 1e-3 * E2_H and 0 <= err < 1e-3 * E2_H
    assert "sigma[yx]" not in out  # only the requested component


def test_hall_writes_netcdf_and_csv_equal_to_the_api(qwz, tmp_path, capsys):
    xr = pytest.importorskip("xarray")
    from orbsym.materials.hall import hall_conductivity
    from orbsym.materials.load import load_model

    nc, csv = tmp_path / "o.nc", tmp_path / "o.csv"
    argv = ["hall", str(qwz), "--operator", "charge", "--N-k", "12", "--mu-range=-0.5:0.5:3", "--progress", "off"]
    assert main(argv + ["--out", str(nc)]) == 0
    assert main(argv + ["--out", str(csv)]) == 0
    capsys.readouterr()
    ref = hall_conductivity(load_model(str(qwz)), np.linspace(-0.5, 0.5, 3), operator="charge", N_k=12)
    with xr.open_dataset(nc) as ds:
        assert np.allclose(ds.sigma.values, ref.sigma.values, rtol=1e-14, atol=0)
        assert np.allclose(ds.mu.values, [-0.5, 0, 0.5])
        for v in ds.data_vars.values():
            assert v.attrs["units"] == "S (per square)" and v.attrs["description"]
        assert ds.attrs["N_k"] == 12 and "q = -e" in ds.attrs["sign_convention"]
    text = csv.read_text()
    assert "# units: S (per square)" in text and "# sigma [S (per square)]" in text
    rows = [ln.split(",") for ln in text.splitlines() if not ln.startswith("#")]
    head = rows[0]
    assert head[:4] == ["mu", "gamma", "alpha", "beta"] and "error_estimate" in head
    xy = [r for r in rows[1:] if r[2:4] == ["x", "y"] and float(r[0]) == 0.0]
    assert np.isclose(float(xy[0][head.index("sigma")]), ref.sigma.values[1, 0, 0, 1], rtol=1e-14)
    assert not list(tmp_path.glob("*.tmp*"))


def test_hall_natural_units_with_the_model_generators(pshell, capsys):
    from orbsym.materials.hall import hall_conductivity
    from orbsym.materials.load import load_model

    assert main(["hall", str(pshell), "--operator", "model", "--units", "natural", "--components", "zxy", "--N-k", "10", "--mu", "0.1,0.5", "--progress", "off"]) == 0
    out = capsys.readouterr().out
    ref = hall_conductivity(load_model(str(pshell)), [0.1, 0.5], operator="model", components="zxy", N_k=10, units="natural")
    got = [float(x) for x in re.findall(r"sigma\^z_xy = (\S+)", out)]
    assert np.allclose(got, ref.sigma.values[:, 2, 0, 1], rtol=1e-5) and abs(got[0]) > 1e-4
    assert "per unit force qE" in out


def test_hall_edelstein_option(pshell, capsys):
    assert main(["hall", str(pshell), "--operator", "model", "--units", "natural", "--edelstein", "--T", "0.05", "--eta", "0.05", "--N-k", "8", "--progress", "off"]) == 0
    out = capsys.readouterr().out
    assert "edelstein^x_y" in out and "per cell" in out


@pytest.mark.parametrize("argv,code,words", [
    (["hall", "nosuch.py"], 2, ["nosuch.py", "does not exist"]),
    (["hall", "weird.xyz"], 2, ["_hr.dat", ".py", "Slater-Koster"]),
    (["hall", "QWZFILE", "--mu", "a,b"], 2, ["--mu"]),
    (["hall", "QWZFILE", "--mu", "0", "--mu-range", "0:1:3"], 2, ["--mu-range"]),
    (["hall", "QWZFILE", "--operator", "charge", "--N-k", "10000000"], 2, ["N_k", "needs"]),
    (["hall", "QWZFILE", "--operator", "Q"], 2, ["operator", "'Q'"]),
    (["hall", "QWZFILE", "--units", "SI"], 2, ["--units"]),
    (["hall", "QWZFILE", "--eta", "-1"], 2, ["--eta"]),
    (["hall", "QWZFILE", "--operator", "charge", "--components", "xq"], 2, ["'xq'"]),
    (["hall", "QWZFILE", "--out", "OUTDIR/x.json"], 2, ["x.json", ".nc"]),
    (["hall", "PSHELL", "--operator", "model"], 2, ["Angstrom and eV", "natural"]),
])
def test_hall_refusals_are_one_line(argv, code, words, qwz, pshell, tmp_path, capsys):
    argv = [a.replace("QWZFILE", str(qwz)).replace("PSHELL", str(pshell)).replace("OUTDIR", str(tmp_path)) for a in argv]
    one_line_error(capsys, argv, code, *words)


def test_model_file_errors_name_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\nraise RuntimeError('broken model')\n")
    one_line_error(capsys, ["hall", str(bad)], 2, "bad.py", "line 2", "broken model")
    wrong = tmp_path / "wrong.py"
    wrong.write_text("model = 3\n")
    one_line_error(capsys, ["hall", str(wrong)], 2, "wrong.py", "TightBinding", "int")


# ------------------------------------------------------------------ load_model
def test_load_model_dispatch(tmp_path, qwz):
    from orbsym.materials.load import ModelSpecError, load_model
    from orbsym.materials.model import TightBinding

    m = load_model(str(qwz))
    assert isinstance(m, TightBinding) and m.name == "QWZ"
    assert load_model(m) is m
    fn = tmp_path / "fn.py"
    fn.write_text(QWZ.format(m=2.5, call="build"))  # a function returning the model
    assert np.allclose(load_model(fn).H[list(map(tuple, load_model(fn).R)).index((0, 0, 0))], np.diag([2.5, -2.5]))
    with pytest.raises(ModelSpecError, match="no options"):
        load_model(str(qwz), win="x.win")
    with pytest.raises(ModelSpecError, match="does not exist"):
        load_model(str(tmp_path / "seed_hr.dat"))
    hr = tmp_path / "seed_hr.dat"
    hr.write_text("header\n")
    try:
        import orbsym.materials.wannier90  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ModelSpecError, match="wannier90"):
            load_model(str(hr))
    with pytest.raises(ModelSpecError, match="Slater-Koster"):
        load_model(str(tmp_path / "data.json"))
    with pytest.raises(ModelSpecError, match="spec must be"):
        load_model(3)
    try:
        import orbsym.materials.slater_koster  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ModelSpecError, match="_hr.dat"):
            load_model("Unobtainium")


# ------------------------------------------------------------------ orbsym model info
def test_model_info_text_and_json(pshell, tmp_path, capsys):
    assert main(["model", "info", str(pshell)]) == 0
    out = capsys.readouterr().out
    assert "2D crystal, 3 orbitals" in out and "a1 = (1, 0, 0)" in out
    assert "A at (0, 0, 0): px, py, pz" in out and "S: none (spinless)" in out
    assert re.search(r"^  1: 4$", out, re.M) and re.search(r"^  1.41421: 4$", out, re.M)  # 4 nn, 4 nnn bonds per cell
    assert "band range: [" in out and "operator 'model'" in out
    assert main(["model", "info", str(pshell), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    lo, hi = info["band_range"]
    assert lo < hi and info["n_orbitals"] == 3 and info["neighbour_shells"][0] == {"distance": 1.0, "bonds": 4}
    spin = tmp_path / "spin.py"
    spin.write_text(
        "import numpy as np\nfrom orbsym.materials.model import Atom, TightBinding\n"
        "model = TightBinding.from_bonds(np.eye(3) * 2, [Atom('Cu', (0, 0, 0), ('s',))], np.zeros((2, 2)), {(1, 0, 0): -np.eye(2)}, spinful=True)\n"
    )
    assert main(["model", "info", str(spin)]) == 0
    assert "S: sigma/2 on every orbital" in capsys.readouterr().out
    one_line_error(capsys, ["model", "info", str(tmp_path / "none.py")], 2, "does not exist")
    one_line_error(capsys, ["model", "show", str(pshell)], 2, "show")


def test_model_info_names_the_shells_that_carry_L(pshell, monkeypatch, capsys):
    from orbsym.materials.model import TightBinding

    real = TightBinding.angular_momentum

    def with_shells(self, kind="L"):  # stands in for orbsym.materials.shells (atom-centred L of the p shell)
        return real(self, "model") if kind == "L" else real(self, kind)

    monkeypatch.setattr(TightBinding, "angular_momentum", with_shells)
    assert main(["model", "info", str(pshell)]) == 0
    out = capsys.readouterr().out
    assert "L on p (l = 1)" in out and "unavailable" not in out
