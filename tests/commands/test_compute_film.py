"""``orbsym compute --N-z``: film values equal the API, per-transverse-cell output, one-line refusals (issue 19)."""

import json

import numpy as np
import pytest

from orbsym.cli import main

CUBIC = '''
from orbsym.symbolic.models import cubic_t2g_metal
model = cubic_t2g_metal()
params = {"gamma": 0.5, "v_sigma": 0.3, "v_pi": -0.2, "v_delta": 0.05}
'''
FLAT = '''
from orbsym.symbolic.models import multiorbital_metal
model = multiorbital_metal()
params = {"gamma": 0.5, "tp": 1.0}
'''
ARGS = ["compute", "trilayer", "--N-x", "5", "--N-FM", "1", "--N-y", "4", "--N-z", "3", "--gamma", "0.5", "--m-L", "x", "--m-R", "y", "--T", "0.1"]


@pytest.fixture(scope="module")
def api():
    from orbsym.systems import solve, trilayer

    return solve(trilayer(N_x=5, N_FM=1, N_y=4, N_z=3, gamma=0.5, m_L="x", m_R="y"), 0.1)


@pytest.mark.parametrize("engine", ["dense", "greens"])
def test_film_values_equal_the_api(capsys, api, engine):
    assert main([*ARGS, "--engine", engine, "--json", "--quantities", "free_energy,particle_number,densities,currents,torques"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["system"]["N_z"] == 3 and d["engine"] == engine
    assert d["free_energy_per_row"] == pytest.approx(api.free_energy(), abs=1e-11)
    assert d["particle_number_per_row"] == pytest.approx(api.particle_number(), abs=1e-11)
    assert d["free_energy_total"] == pytest.approx(api.free_energy() * 4 * 3, abs=1e-9)  # N_y N_z transverse cells
    for p in ("x", "y", "z"):
        np.testing.assert_allclose(d["densities"][p], api.densities()[p], atol=1e-11)
        np.testing.assert_allclose(d["currents"]["bond"][p], api.currents("bond", "x")[p], atol=1e-11)
        np.testing.assert_allclose(d["torques"][p]["bond_z"], api.torques()[p]["bond_z"], atol=1e-11)
    assert np.abs(api.currents("bond", "x")["z"]).max() > 1e-4  # the interlayer OAM current is nonzero


def test_text_output_is_per_transverse_cell(capsys, api):
    assert main([*ARGS, "--quantities", "free_energy,particle_number", "--engine", "dense"]) == 0
    text = capsys.readouterr().out
    assert "N_z=3" in text
    assert f"free energy per transverse cell: {api.free_energy():.12g}" in text
    assert f"particles per transverse cell: {api.particle_number():.12g}" in text
    assert "per row" not in text


def test_rkky_of_a_film_equals_the_api(capsys):
    from orbsym.systems import rkky, trilayer

    assert main(["compute", "trilayer", "--N-x", "5", "--N-FM", "1", "--N-y", "4", "--N-z", "2", "--m-L", "x", "--m-R", "x", "--T", "0.1",
                 "--rkky", "--quantities", "free_energy", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    J = rkky(trilayer(N_x=5, N_FM=1, N_y=4, N_z=2, m_L="x", m_R="x"), 0.1)
    assert d["rkky"]["J"] == pytest.approx(J["J"], abs=1e-11) and abs(J["J"]) > 1e-6


def _refused(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for w in words:
        assert w in err, err


def test_refusals_are_one_line_and_before_any_solve(capsys, tmp_path, monkeypatch):
    import orbsym.systems

    monkeypatch.setattr(orbsym.systems, "solve", lambda *a, **k: pytest.fail("solve ran"))
    (tmp_path / "cubic.py").write_text(CUBIC)
    (tmp_path / "flat.py").write_text(FLAT)
    base = ["compute", "bilayer", "--N-x", "5", "--N-y", "4"]
    _refused(capsys, [*base, "--N-z", "4", "--N-y", "inf"], "--N-y inf", "films", "--N-z 4")
    _refused(capsys, [*base, "--N-z", "0"], "--N-z", ">= 1", "'0'")
    _refused(capsys, [*base, "--N-z", "two"], "--N-z", "'two'")
    _refused(capsys, [*base, "--N-z", "4", "--metal-model", str(tmp_path / "flat.py")], "--N-z 4 needs a 3D metal model", "flat.py")
    _refused(capsys, [*base, "--metal-model", str(tmp_path / "cubic.py")], "is 3D", "--N-z")


def test_greens_engine_refuses_second_neighbours_of_a_film(capsys, tmp_path):
    """The Green's-function engine takes nearest-neighbour bonds only: a second-neighbour cubic film
    with --engine greens is refused by name (auto picks dense)."""
    (tmp_path / "cubic.py").write_text(CUBIC)
    _refused(capsys, ["compute", "bilayer", "--N-x", "4", "--N-FM", "1", "--N-y", "3", "--N-z", "2", "--metal-model", str(tmp_path / "cubic.py"),
                      "--engine", "greens", "--quantities", "free_energy"], "nearest-neighbour", "engine='dense'")


def test_film_size_is_checked_per_k_z_sector(capsys, monkeypatch):
    """A size that fits as a 2D strip is refused as a film of 64 cells (33 k_z sectors), naming them."""
    from orbsym.numeric.budget import dense_bloch_estimate

    one = dense_bloch_estimate(60, 400, 3, vectors=True).seconds
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(5 * one))
    import orbsym.systems

    monkeypatch.setattr(orbsym.systems, "solve", lambda *a, **k: pytest.fail("solve ran"))
    _refused(capsys, ["compute", "bilayer", "--N-x", "60", "--N-y", "400", "--N-z", "64", "--engine", "dense"], "k_z sectors", "N_x = 60")
