"""``orbsym evolve ... --N-z N``: a film from the command line, equal to the API run; refusals stay one line."""

import numpy as np
import pytest

from orbsym import dynamics as dyn
from orbsym.cli import main
from orbsym.systems import trilayer

FILM = ["evolve", "trilayer", "--N-x", "4", "--N-y", "4", "--N-FM", "1", "--N-z", "3", "--gamma", "0.5", "--m-L", "x", "--quiet"]


def test_film_netcdf_matches_api(tmp_path, capsys):
    out = tmp_path / "film.nc"
    rc = main([*FILM, "--precess", "0.5,0.3,FM_L", "--t-max", "1", "--steps", "8", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "continuity: passed" in text and "k_z sectors (film, N_z = 3)" in text and "per transverse cell" in text
    ds = dyn.load(out)
    ref = dyn.evolve(trilayer("orbital", N_x=4, N_y=4, N_FM=1, N_z=3, gamma=0.5, m_L="x", m_R="z"), dyn.Precession(0.5, 0.3, columns="FM_L"), np.linspace(0, 1, 9), T=0.05)
    assert ds.attrs["N_z"] == 3
    for name in ("density", "current_x", "torque_bond_z", "current_z"):
        np.testing.assert_allclose(ds[name].values, ref[name].values, rtol=0, atol=1e-14, err_msg=name)
    assert float(np.abs(ds["torque_bond_z"].sel(polarization=["x", "y", "z"])).max()) > 1e-5


def test_film_csv_has_the_z_current(tmp_path, capsys):
    out = tmp_path / "film.csv"
    rc = main([*FILM, "--quench", "gamma=0.2@0.5", "--t-max", "1", "--steps", "4", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    lines = out.read_text().splitlines()
    header = lines.index("time,polarization,site,variable,value")
    assert "current_z" in {line.split(",")[3] for line in lines[header + 1 :]}


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--N-z", "0", "--precess", "0.1,0.2"], ["--N-z", ">= 1"]),
        (["--m-FM", "x", "--precess", "0.1,0.2"], ["--m-FM"]),  # refused for a trilayer, film or not
        (["--N-z", "100000000", "--precess", "0.1,0.2"], ["k_z sectors", "N_z"]),  # estimate before any work
        (["--field-along", "z", "--precess", "0.1,0.2"], ["--field-along needs --field"]),
        (["--field", "0.1", "--field-along", "x"], ["field direction", "'x'"]),
    ],
)
def test_film_refusals_are_one_line(argv, words, capsys):
    rc = main([*FILM, "--t-max", "1", "--steps", "4", *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("orbsym: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_field_along_z_needs_a_film(capsys):
    rc = main(["evolve", "trilayer", "--N-x", "4", "--N-y", "4", "--N-FM", "1", "--quiet", "--field", "0.1", "--field-along", "z", "--t-max", "1", "--steps", "4"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--field-along z needs a film" in err


def test_film_field_along_z_runs(tmp_path, capsys):
    out = tmp_path / "ez.nc"
    rc = main([*FILM, "--field", "0.2", "--pulse", "0.5,0.2", "--field-along", "z", "--t-max", "1", "--steps", "8", "--dt", "0.0625", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    ds = dyn.load(out)
    assert "continuity: passed" in capsys.readouterr().out
    assert float(np.abs(ds["E_z"]).max()) == pytest.approx(0.2, rel=1e-3) and float(np.abs(ds["E_y"]).max()) == 0.0
    assert float(np.abs(ds["current_z"].sel(polarization="charge")).max()) > 1e-3
