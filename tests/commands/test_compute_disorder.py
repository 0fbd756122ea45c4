"""``orbsym compute --disorder ...``: ensembles of Gamma-only supercells from the command line.

The NetCDF equals the API (:func:`orbsym.solve` with ``disorder=``) value by value, zero strength gives the
clean ``compute`` numbers, explicit arrays load, and every refusal is one line on stderr with exit
status 2 before anything is solved (the solvers are replaced by a tripwire) and nothing is written."""

import json
import re

import numpy as np
import pytest
import xarray as xr

import orbsym
import orbsym.numeric.sites as sites
from orbsym.cli import main
from orbsym.numeric.disorder import Anderson, Potential, Vacancies

SMALL = ["--N-x", "5", "--N-y", "3", "--T", "0.1"]


def run(capsys, *argv):
    code = main(["compute", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def load(path):
    with xr.open_dataset(path) as ds:
        return ds.load()


def test_netcdf_equals_the_api_and_records_the_run(tmp_path, capsys):
    f = tmp_path / "d.nc"
    code, out, err = run(capsys, "trilayer", *SMALL, "--disorder", "anderson:1.0,vacancies:0.05", "--realizations", 2, "--seed", 3, "--out", f)
    assert code == 0, err
    ds = load(f)
    api = orbsym.solve(orbsym.trilayer(N_x=5, N_y=3, N_FM=1), T=0.1, disorder=[Anderson(1.0), Vacancies(0.05)], realizations=2, seed=3)
    for v in ("free_energy", "density", "boundary_current", "balance_residual", "density_mean", "density_stderr"):
        np.testing.assert_array_equal(ds[v].values, api[v].values)
    for v in ds.data_vars:
        assert ds[v].attrs.get("units") and ds[v].attrs.get("description"), v
    assert json.loads(ds.attrs["seeds"]) == [3, 4] and "Gamma-only supercell" in ds.attrs["engine"] and ds.attrs["command_disorder"] == "anderson:1.0,vacancies:0.05"
    assert "seeds 3..4" in out and "engine: dense" in out and "units:" in out and "max balance residual" in out and f"wrote {f}" in out


def test_zero_strength_is_the_clean_compute(capsys):
    code, out, err = run(capsys, "trilayer", *SMALL, "--disorder", "anderson:0", "--json")
    assert code == 0, err
    dis = json.loads(out)
    code, out, err = run(capsys, "trilayer", *SMALL, "--json", "--quantities", "densities,free_energy,currents")
    clean = json.loads(out)
    assert dis["free_energy_per_transverse_cell"]["mean"] == pytest.approx(clean["free_energy_per_row"], abs=1e-11)
    for p in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(dis["densities"][p]["mean"], clean["densities"][p], atol=1e-12)
        np.testing.assert_allclose(dis["x_currents"][p]["mean"], clean["currents"]["bond"][p], atol=1e-12)
    assert dis["realizations"] == 1 and dis["seeds"] == [0] and dis["max_balance_residual"] < 1e-10 and "per transverse cell" in dis["units"]


def test_disorder_file(tmp_path, capsys):
    V = np.random.default_rng(2).standard_normal((5, 3))
    np.savez(tmp_path / "v.npz", potential_site=V)
    code, out, err = run(capsys, "trilayer", *SMALL, "--disorder-file", tmp_path / "v.npz", "--json", "--quantities", "free_energy")
    assert code == 0, err
    api = orbsym.solve(orbsym.trilayer(N_x=5, N_y=3, N_FM=1), T=0.1, disorder=Potential("site", V))
    assert json.loads(out)["free_energy_per_transverse_cell"]["mean"] == pytest.approx(float(api.free_energy[0]), abs=1e-13)


@pytest.fixture
def tripwire(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("solved although the command line should have been refused")

    monkeypatch.setattr(sites.SiteLattice, "solve", boom)
    monkeypatch.setattr(sites.SiteLattice, "respond", boom)


REFUSALS = [
    (["--realizations", "3"], r"--realizations applies only to a disorder ensemble"),
    (["--seed", "1"], r"--seed applies only to a disorder ensemble"),
    (["--disorder", "anderson:1", "--N-y", "inf"], r"--N-y inf does not apply with --disorder"),
    (["--disorder", "anderson:1", "--rkky"], r"--rkky does not apply with --disorder"),
    (["--disorder", "anderson:1", "--realizations", "0"], r"--realizations 0: the number of realizations must be >= 1"),
    (["--disorder", "anderson:1", "--seed", "-2"], r"--seed -2: seeds are integers >= 0"),
    (["--disorder", "anderson:-1"], r"strength W = -1 of anderson must be a finite number >= 0"),
    (["--disorder", "nonsense:1"], r"unknown disorder kind"),
    (["--disorder", "anderson:1", "--quantities", "torques"], r"--quantities torques does not apply to a disorder ensemble"),
    (["--disorder", "anderson:1", "--out", "x.json"], r"written as NetCDF"),
    (["--disorder", "anderson:1", "--N-y", "200", "--N-x", "200"], r"supercell \(200 slices of 600 states\) needs .* of memory"),
    (["--disorder", "anderson:1", "--N-y", "2000"], r"holds 2000 x 3 = 6000 orbitals"),
    (["--disorder", "anderson:1"], r"N_x = 25 x N_y = 800 supercell"),  # the paper's defaults: refused with the estimate
    (["--disorder-file", "x.npz", "--seed", "2"], r"--seed applies to random disorder"),
]


@pytest.mark.parametrize("argv, message", REFUSALS)
def test_refusals(tmp_path, capsys, tripwire, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    extra = [] if any(a in argv for a in ("--N-y", "--N-x")) or argv == ["--disorder", "anderson:1"] else SMALL
    code, out, err = run(capsys, "trilayer", *extra, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not list(tmp_path.iterdir())


def test_disorder_file_of_the_wrong_shape(tmp_path, capsys, tripwire):
    np.savez(tmp_path / "bad.npz", potential_site=np.zeros((5, 4)))
    code, out, err = run(capsys, "trilayer", *SMALL, "--disorder-file", tmp_path / "bad.npz")
    assert code == 2 and "potential_site has shape (5, 4); allowed: (5, 3)" in err and "R = N_y" in err, err




def test_supercell_estimate_follows_the_engine(monkeypatch):
    """A long narrow disordered sample (N_x = 2000, N_y = 2): the dense supercell (12000 states) is refused with its
    estimate, while auto sizes (and would run) the Green's-function engine, as SiteLattice.choose_engine picks."""
    from orbsym.commands.disorder_options import supercell_estimate
    from orbsym.numeric.budget import ResourceError

    monkeypatch.delenv("ORBSYM_MAX_MEMORY", raising=False)
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "600")
    with pytest.raises(ResourceError, match="dense Bloch engine"):
        supercell_estimate(2000, 2, None, 3, 1, 1)
    auto = supercell_estimate(2000, 2, None, 3, 1, 1, T=0.01, engine="auto")
    assert auto.engine.startswith("Green") and auto.seconds < 60
    wide = supercell_estimate(12, 16, None, 3, 1, 1, T=0.01, engine="auto")  # wide: dense is cheaper
    assert wide.engine.startswith("dense") and wide.seconds == supercell_estimate(12, 16, None, 3, 1, 1).seconds
