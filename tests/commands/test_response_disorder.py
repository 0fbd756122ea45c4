"""``orbsym response --disorder ...``: ensembles of Kubo responses of Gamma-only supercells.

The NetCDF equals the API (:func:`orbsym.response` with ``disorder=``), the summary records the field,
eta, engine and units, and every refusal is one line with exit status 2 before anything is solved."""

import json
import re

import numpy as np
import pytest
import xarray as xr

import orbsym
import orbsym.numeric.sites as sites
from orbsym.cli import main
from orbsym.numeric.disorder import Anderson

SMALL = ["--N-x", "4", "--N-y", "3", "--T", "0.1"]


def run(capsys, *argv):
    code = main(["response", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_netcdf_equals_the_api(tmp_path, capsys):
    f = tmp_path / "r.nc"
    code, out, err = run(capsys, "bilayer", *SMALL, "--eta", "0.2", "--disorder", "anderson:0.8", "--realizations", 2, "--out", f)
    assert code == 0, err
    with xr.open_dataset(f) as ds:
        ds = ds.load()
    api = orbsym.response(orbsym.bilayer(N_x=4, N_y=3, N_FM=1), T=0.1, eta=0.2, disorder=Anderson(0.8), realizations=2)
    for v in ("density", "boundary_current", "balance_residual", "density_mean"):
        np.testing.assert_array_equal(ds[v].values, api[v].values)
    assert np.abs(ds.density.values).max() > 1e-3 and ds.attrs["field"] == "y" and ds.attrs["eta"] == 0.2
    assert "kubo" in ds.attrs["engine"] and "per unit force" in ds.density.attrs["units"]
    assert "linear response to E_y" in out and "engine: kubo" in out and "seeds 0..1" in out


def test_json_summary(capsys):
    code, out, err = run(capsys, "bilayer", *SMALL, "--disorder", "anderson:0.8", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["field"] == "y" and rec["part"] == "total" and rec["max_balance_residual"] < 1e-9 and len(rec["densities"]["z"]["mean"]) == 4


@pytest.fixture
def tripwire(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("solved although the command line should have been refused")

    monkeypatch.setattr(sites.SiteLattice, "solve", boom)
    monkeypatch.setattr(sites.SiteLattice, "respond", boom)


REFUSALS = [
    (["bulk", "--disorder", "anderson:1"], r"`orbsym response bulk` does not apply with --disorder: .*orbsym hall MODEL --disorder"),
    (["bilayer", "--scan", "mu=0,0.5", "--disorder", "anderson:1"], r"--scan does not apply with --disorder"),
    (["bilayer", "--realizations", "2"], r"--realizations applies only to a disorder ensemble"),
    (["bilayer", *SMALL, "--disorder", "anderson:1", "--out", "x.csv"], r"written as NetCDF"),
    (["bilayer", *SMALL, "--disorder", "anderson:1", "--field", "z"], r"--field z \(E_z\) needs a film"),
    (["bilayer", "--N-x", "30", "--N-y", "300", "--disorder", "anderson:1"], r"Kubo response engine.*reduce --N-y"),
]


@pytest.mark.parametrize("argv, message", REFUSALS)
def test_refusals(tmp_path, capsys, tripwire, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- orbsym sites on a periodic file
PERIODIC = '''
import numpy as np
from orbsym.numeric.sites import Hopping, Site, SiteLattice
L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]], [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])
cell = (Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]), L),)
hops = [Hopping("m", "m", (1, 0), -np.diag([0.4, 1.0, 1.0])), Hopping("m", "m", (0, 1), -np.diag([1.0, 0.4, 1.0]) + 0.1j * L[2]),
        Hopping("m", "m", (1, 1), 0.2 * np.ones((3, 3)))]
lattice = SiteLattice(cell, hops, N_x=3, N_y=3)
T = 0.1
'''


def test_sites_command_on_a_periodic_lattice(tmp_path, capsys):
    """``orbsym sites FILE.py --disorder`` on a periodic lattice: equilibrium and --response ensembles equal the API."""
    import functools
    import runpy

    from orbsym.commands.sites import _identity
    from orbsym.workflows.ensembles import ensemble

    f = tmp_path / "p.py"
    f.write_text(PERIODIC)
    lat = runpy.run_path(str(f))["lattice"]
    for extra, kw in (([], {}), (["--response", "y", "--eta", "0.2"], dict(response="y", eta=0.2))):
        out_nc = tmp_path / f"e{len(extra)}.nc"
        code = main(["sites", str(f), "--disorder", "anderson:0.8", "--realizations", "2", "--out", str(out_nc), *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        with xr.open_dataset(out_nc) as ds:
            ds = ds.load()
        api = ensemble(functools.partial(_identity, lat), Anderson(0.8), [0, 1], 0.1, engine=None if kw else "dense", **kw)
        np.testing.assert_allclose(ds.density.values, api.density.values, atol=1e-13)
        assert "Gamma-only supercell" in ds.attrs["engine"] and ("largest |<J_z accumulation>|" in out if kw else "free energy" in out)
