"""``orbsym response``: NetCDF/CSV/JSON output equal to the Python API, scans, bulk, one-line errors."""

import json

import numpy as np
import pytest
import xarray as xr

from orbsym.cli import main

MODEL = '''
from orbsym.symbolic.symmetry import symmetric_hoppings
model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
params = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
'''


@pytest.fixture()
def model_file(tmp_path):
    p = tmp_path / "nnn.py"
    p.write_text(MODEL)
    return p


def test_netcdf_profiles_equal_the_api(tmp_path, model_file):
    from orbsym.commands.compute import _user_metal
    from orbsym.response import response
    from orbsym.systems import heterostructure, layer

    out = tmp_path / "r.nc"
    argv = ["response", "bilayer", "--metal-model", str(model_file), "--N-y", "40", "--m-FM", "x", "--T", "0.05", "--eta", "0.1"]
    assert main([*argv, "--scan", "N_x=4,6", "--out", str(out), "--progress", "off"]) == 0
    ds = xr.open_dataset(out)
    assert list(ds["N_x"].values) == [4, 6] and "q E_y" in ds.attrs["units"] and "conventional" in ds.attrs["current_definition"]
    model, params = _user_metal(model_file)
    from orbsym.symbolic.models import ferromagnet

    sys_ = heterostructure([layer(model, 5, **params), layer(ferromagnet(model.generators), 1, m="x", t=1.0)], N_y=40, mu=-0.2)
    r = response(sys_, 0.05, 0.1)
    np.testing.assert_allclose(ds.density.sel(part="total", polarization="z").values[1], r.densities()["z"], atol=1e-14)
    np.testing.assert_allclose(ds.current_x.sel(part="fermi_sea", polarization="z").values[1], r.select("fermi_sea").currents()["z"], atol=1e-14)
    np.testing.assert_allclose(ds.torque_exchange.sel(part="total", polarization="y").values[1], r.torques()["y"]["exchange"], atol=1e-14)
    assert ds.orbital_torque.sel(part="total", polarization="z").values[1] == pytest.approx(r.orbital_torque()["z"], abs=1e-14)
    assert np.isnan(ds.density.values[0, 0, 0, 4:]).all()  # N_x = 4 padded
    assert float(ds.balance_residual.max()) < 1e-12
    pc = r.proper_currents()["z"]
    assert not pc["exists"] and np.isnan(ds.proper_current.sel(polarization="z").values[1]).all()
    np.testing.assert_allclose(ds.torque_dipole.sel(polarization="z").values[1], pc["torque_dipole"], atol=1e-14)
    ds.close()


def test_csv_json_and_bulk(tmp_path, model_file, capsys):
    csv = tmp_path / "r.csv"
    assert main(["response", "bilayer", "--N-x", "4", "--N-y", "20", "--scan", "mu=-0.4,0.1", "--out", str(csv), "--progress", "off"]) == 0
    text = csv.read_text().splitlines()
    assert text[0].startswith("# linear response per unit force q E_y")
    header = next(line for line in text if not line.startswith("#"))
    assert header.split(",")[:6] == ["point", "mu", "part", "polarization", "column", "density"]
    assert any(line.startswith("# density: particles [charge] or hbar [x, y, z] per site") for line in text)  # units of every column
    rows = [line.split(",") for line in text[text.index(header) + 1:]]
    assert {r[0] for r in rows} == {"0", "1"} and {r[1] for r in rows if r[0] == "1"} == {"0.1"}  # point = scan index, next to mu
    js = tmp_path / "r.json"
    assert main(["response", "bilayer", "--N-x", "4", "--N-y", "20", "--out", str(js)]) == 0
    d = json.loads(js.read_text())
    assert d["data"]["density"]["dims"] == ["point", "part", "polarization", "column"]
    bulk = tmp_path / "b.nc"
    assert main(["response", "bulk", "--metal-model", str(model_file), "--mu-range=-1:1:3", "--N-k", "30", "--out", str(bulk)]) == 0
    from orbsym.response import orbital_hall

    ds = xr.open_dataset(bulk)
    ref = orbital_hall(__import__("orbsym.commands.compute", fromlist=["_user_metal"])._user_metal(model_file)[0], mu=[-1, 0, 1], N_k=30, T=0.01,
                       t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
    np.testing.assert_allclose(ds.sigma.values[0], ref["sigma"], atol=1e-14)
    assert np.abs(ds.sigma.values).min() > 1e-2
    ds.close()
    capsys.readouterr()
    assert main(["response", "bulk", "--N-k", "20", "--gamma", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "q E_y" in out and "sigma" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["response", "bilayer", "--eta", "0"], ["--eta must be", "> 0"]),
        (["response", "bilayer", "--scan", "gama=1"], ["unknown scan parameter 'gama'", "gamma"]),
        (["response", "bilayer", "--scan", "mu"], ["NAME=v1,v2"]),
        (["response", "bilayer", "--out", "x.txt"], ["unknown format '.txt'", ".nc"]),
        (["response", "bulk", "--mu-range", "1:2"], ["--mu-range '1:2'", "A:B:N"]),
        (["response", "bulk", "--scan", "N_x=3"], ["not a bulk parameter"]),
        (["response", "bilayer", "--N-x", "4000", "--N-y", "4000"], ["GiB"]),
        (["response", "slab"], ["unknown geometry 'slab'"]),
    ],
)
def test_usage_errors_are_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("orbsym: error:")
    for w in words:
        assert w in err, err
