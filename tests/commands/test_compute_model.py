"""``orbsym compute --metal-model FILE.py``: a symmetry-generated model from the CLI (issue 6)."""

import json

import pytest

from orbsym.cli import main

GENERATED = '''
from orbsym.symbolic.symmetry import symmetric_hoppings

# most general nearest-neighbour t2g hoppings allowed by D4h (= C4v + M_z): Eq. (3) with
# t_1 = -gamma, t_2 = -t, t_3 = -t'
model = symmetric_hoppings("t2g", "D4h").to_model(name="t2g-D4h")
params = {"t_1": -0.5, "t_2": -1.0, "t_3": -1.0}
'''


def _run(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_generated_eq3_model_gives_the_builtin_trilayer_numbers(tmp_path, capsys):
    f = tmp_path / "gen.py"
    f.write_text(GENERATED)
    common = ["compute", "trilayer", "--N-x", "8", "--N-y", "24", "--m-L", "x", "--m-R", "y", "--json"]
    user = _run(capsys, common + ["--metal-model", str(f)])
    builtin = _run(capsys, common + ["--gamma", "0.5"])
    assert user["free_energy_per_row"] == pytest.approx(builtin["free_energy_per_row"], abs=1e-12)
    for a in ("x", "y", "z"):
        assert user["currents"]["bond"][a] == pytest.approx(builtin["currents"]["bond"][a], abs=1e-12)
    assert max(abs(v) for v in builtin["currents"]["bond"]["z"]) > 1e-8  # a nonzero current was compared


def test_metal_model_file_errors(tmp_path):
    f = tmp_path / "gen.py"
    f.write_text(GENERATED.replace('params = {"t_1": -0.5, "t_2": -1.0, "t_3": -1.0}', 'params = {"t_1": -0.5}'))
    with pytest.raises(ValueError, match=r"needs values for \['t_2', 't_3'\]"):
        main(["--debug", "compute", "trilayer", "--N-x", "6", "--N-y", "4", "--metal-model", str(f)])
    assert main(["compute", "trilayer", "--metal-model", str(tmp_path / "nothere.py")]) == 2


def test_rkky_with_a_metal_model_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """--rkky rebuilds the built-in trilayer with m_R = +-|m| m_L: with a model file it is refused by
    name before any solve (it used to fail late with "unknown heterostructure parameter 'm_R'")."""
    import orbsym.systems

    monkeypatch.setattr(orbsym.systems, "solve", lambda *a, **k: pytest.fail("solve ran"))
    f = tmp_path / "eq3.py"
    f.write_text(GENERATED)
    assert main(["compute", "trilayer", "--N-x", "5", "--N-y", "4", "--metal-model", str(f), "--rkky"]) == 2
    err = capsys.readouterr().err
    assert "--rkky does not apply with --metal-model" in err and err.count("\n") == 1
