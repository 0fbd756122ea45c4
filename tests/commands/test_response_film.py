"""``orbsym response --N-z/--field``: film responses (E_y and E_z) from the CLI equal the API, the
E_z/E_y symmetry of a cubic film, labelled outputs, one-line refusals (issue 19)."""

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
#: A cubic film (N_y = N_z) with m_FM along x: symmetric under the rotation by 90 degrees about x.
SIZES = ["--N-x", "6", "--N-FM", "2", "--N-y", "4", "--N-z", "4", "--m-FM", "x", "--T", "0.1", "--eta", "0.1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("film_models")
    (d / "cubic.py").write_text(CUBIC)
    (d / "flat.py").write_text(FLAT)
    return d


@pytest.fixture(scope="module")
def cli_runs(files):
    """JSON outputs of the E_y and E_z responses of the cubic film, by the CLI."""
    out = {}
    for field in ("y", "z"):
        path = files / f"E{field}.json"
        assert main(["response", "bilayer", "--metal-model", str(files / "cubic.py"), *SIZES, "--field", field, "--out", str(path), "--progress", "off"]) == 0
        out[field] = json.loads(path.read_text())
    return out


def _var(doc, name, part="total", pol="z"):
    """``doc["data"][name]`` at the first point, part and polarization (JSON output of the CLI)."""
    parts, pols = doc["coords"]["part"], doc["coords"]["polarization"]
    dims = doc["data"][name]["dims"]
    v = doc["data"][name]["values"][0]
    if "part" in dims:
        v = v[parts.index(part)]
    return np.array(v[pols.index(pol)], dtype=float)


def _api(files, field):
    from orbsym.commands.compute import _user_metal
    from orbsym.response import response
    from orbsym.symbolic.models import ferromagnet
    from orbsym.systems import heterostructure, layer

    model, params = _user_metal(files / "cubic.py")
    fm = ferromagnet(model.generators, dimension=3)
    s = heterostructure([layer(model, 4, **params), layer(fm, 2, m="x", t=1.0)], N_y=4, N_z=4, mu=-0.2)
    return response(s, 0.1, 0.1, field=field)


@pytest.mark.parametrize("field", ["y", "z"])
def test_film_response_equals_the_api(cli_runs, files, field):
    doc = cli_runs[field]
    r = _api(files, field)
    for pol in ("x", "y", "z"):
        np.testing.assert_allclose(_var(doc, "density", pol=pol), r.densities()[pol], atol=1e-13)
        np.testing.assert_allclose(_var(doc, "current_x", "fermi_sea", pol), r.select("fermi_sea").currents("bond", "x")[pol], atol=1e-13)
        np.testing.assert_allclose(_var(doc, "torque_bond_z", pol=pol), r.torques()[pol]["bond_z"], atol=1e-13)
        assert _var(doc, "orbital_torque", pol=pol) == pytest.approx(r.orbital_torque()[pol], abs=1e-13)
    np.testing.assert_allclose(_var(doc, "current_z", pol="charge"), r.currents("bond", "z")["charge"], atol=1e-13)
    assert np.abs(r.densities()["z" if field == "y" else "y"]).max() > 1e-2  # a real orbital accumulation was compared


def test_Ez_response_is_the_rotated_Ey_response(cli_runs):
    """Rotation by 90 degrees about x (y -> z, z -> -y) maps the film, m_FM = x, onto itself and E_y
    onto E_z: L_y(E_z) = L_z(E_y) and L_z(E_z) = -L_y(E_y) column by column; the longitudinal
    particle current along the field is the same, the transverse one along y/z swaps."""
    ey, ez = cli_runs["y"], cli_runs["z"]
    Lz_Ey, Ly_Ez = _var(ey, "density", pol="z"), _var(ez, "density", pol="y")
    assert np.abs(Lz_Ey).max() > 0.1
    np.testing.assert_allclose(Ly_Ez, Lz_Ey, atol=1e-11)
    np.testing.assert_allclose(_var(ez, "density", pol="z"), -_var(ey, "density", pol="y"), atol=1e-11)
    np.testing.assert_allclose(_var(ez, "current_z", pol="charge"), _var(ey, "current_y", pol="charge"), rtol=1e-11)
    np.testing.assert_allclose(_var(ez, "orbital_torque", pol="y"), _var(ey, "orbital_torque", pol="z"), atol=1e-12)


def test_outputs_state_the_field_N_z_and_per_cell_units(cli_runs, files, capsys):
    for field, doc in cli_runs.items():
        a = doc["attrs"]
        assert a["field"] == f"E_{field}" and a["N_z"] == 4 and f"q E_{field}" in a["units"]
        assert "per transverse cell" in a["units"] and "per transverse cell" in a["film"]
        assert json.loads(a["system"])["N_z"] == 4
    csv = files / "Ez.csv"
    assert main(["response", "bilayer", "--metal-model", str(files / "cubic.py"), *SIZES, "--field", "z", "--out", str(csv), "--progress", "off"]) == 0
    lines = csv.read_text().splitlines()
    head = lines[:2] + [next(line for line in lines if not line.startswith("#"))]
    assert "q E_z" in head[0] and "per transverse cell" in head[0]
    assert head[1].startswith("# field E_z; film N_z = 4") and "current_z" in head[2]
    assert main(["response", "bilayer", "--metal-model", str(files / "cubic.py"), *SIZES, "--field", "z"]) == 0
    text = capsys.readouterr().out
    assert "# field E_z; film, N_z = 4: every value per transverse cell" in text and "particle current along z" in text


def test_scan_N_z_equals_the_api_point_by_point(tmp_path):
    import xarray as xr

    from orbsym.response import response
    from orbsym.systems import bilayer

    out = tmp_path / "scan.nc"
    argv = ["response", "bilayer", "--N-x", "4", "--N-FM", "1", "--N-y", "3", "--gamma", "0.5", "--m-FM", "x", "--T", "0.1", "--eta", "0.1"]
    assert main([*argv, "--field", "z", "--scan", "N_z=2,3", "--out", str(out), "--progress", "off"]) == 0
    with xr.open_dataset(out) as ds:
        assert list(ds["N_z"].values) == [2, 3] and ds.attrs["N_z"] == "scanned" and ds.attrs["field"] == "E_z"
        for j, nz in enumerate((2, 3)):
            r = response(bilayer(N_x=4, N_FM=1, N_y=3, gamma=0.5, m_FM="x", N_z=nz), 0.1, 0.1, field="z")
            cz = ds.current_z.sel(part="total", polarization="charge").values[j]
            np.testing.assert_allclose(cz, r.currents("bond", "z")["charge"], rtol=1e-12, atol=1e-25)
            if nz == 2:  # k_z = 0, pi only: the velocity dh/dk_z vanishes, no current along E_z
                assert np.abs(cz).max() < 1e-20
            else:  # the Drude current along E_z, per transverse cell
                assert np.abs(cz).min() > 1.0


def _refused(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    return err


def test_refusals_are_one_line(capsys, files, monkeypatch):
    import orbsym.numeric.film

    monkeypatch.setattr(orbsym.numeric.film, "solve_film_kubo", lambda *a, **k: pytest.fail("a film was solved"))
    _refused(capsys, ["response", "bilayer", "--field", "z"], "--field z", "--N-z")
    _refused(capsys, ["response", "bulk", "--N-z", "4"], "--N-z", "trilayer and bilayer")
    _refused(capsys, ["response", "bulk", "--field", "z"], "--field", "trilayer and bilayer")
    _refused(capsys, ["response", "bilayer", "--field", "x"], "field direction", "'x'")
    _refused(capsys, ["response", "bilayer", "--N-z", "0"], "--N-z", ">= 1")
    _refused(capsys, ["response", "bilayer", "--N-z", "4", "--scan", "N_z=2,4"], "--scan N_z", "--N-z")
    _refused(capsys, ["response", "bilayer", "--scan", "N_z=2,0"], "N_z must be an integer >= 1")
    _refused(capsys, ["response", "bilayer", "--N-z", "4", "--metal-model", str(files / "flat.py")], "--N-z 4 needs a 3D metal model", "flat.py")
    _refused(capsys, ["response", "bilayer", "--metal-model", str(files / "cubic.py")], "is 3D", "--N-z")


def test_film_size_is_checked_per_k_z_sector(capsys, monkeypatch):
    """The same N_x, N_y fit as a 2D strip but not as a film of 64 cells along z (33 k_z sectors):
    refused before any work, naming N_z."""
    import orbsym.response
    from orbsym.numeric.budget import kubo_estimate

    one = kubo_estimate(20, 400, 3, symmetric=False).seconds
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(5 * one))
    monkeypatch.setattr(orbsym.response, "response", lambda *a, **k: pytest.fail("a system was built for a response"))
    err = _refused(capsys, ["response", "bilayer", "--N-x", "20", "--N-y", "400", "--N-z", "64"], "N_z = 64", "k_z sectors", "reduce N_x, N_y or N_z")
    assert "film" in err
    import argparse

    from orbsym.commands.response import check_size

    a = argparse.Namespace(geometry="bilayer", N_x=20, N_y=400, N_z=None, N_FM=1, workers=1, basis="orbital", metal="nm", metal_model=None,
                           m_FM="z", m=1.0, gamma=1.0, tp=None, w=None, t=1.0, mu=-0.2, interface="fm", spin_unit="sigma")
    assert check_size(a, None, [None]).seconds < 5 * one  # the 2D strip of the same size passes


def test_cli_film_estimate_equals_the_api_estimate():
    """The CLI's pre-check of a film (built from a short copy) is the estimate response() itself
    checks (orbsym.response.response_resources), times the scan points."""
    import argparse

    from orbsym.commands.response import check_size
    from orbsym.response import response_resources
    from orbsym.systems import trilayer

    a = argparse.Namespace(geometry="trilayer", N_x=30, N_y=16, N_z=8, N_FM=2, workers=1, basis="orbital", metal="nm", metal_model=None,
                           m_L="x", m_R="y", m=1.0, gamma=0.5, tp=None, w=None, t=1.0, mu=-0.2, interface="fm", spin_unit="sigma")
    api = response_resources(trilayer(N_x=30, N_y=16, N_z=8, N_FM=2, gamma=0.5).lattice)
    one = check_size(a, None, [None])
    assert one.seconds == pytest.approx(api.seconds, rel=1e-12) and one.bytes == pytest.approx(api.bytes, rel=1e-12)
    assert check_size(a, "gamma", [0.5, 1.0, 2.0]).seconds == pytest.approx(3 * api.seconds, rel=1e-12)
