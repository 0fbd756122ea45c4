"""``orbsym sites FILE.py --disorder ...``: disorder ensembles from the command line (orbsym.workflows.ensembles).

The NetCDF written by the command equals the API's :func:`ensemble` value by value (equilibrium, transport,
explicit arrays), the summary line carries the mean, the standard error and the largest balance residual,
and every refusal is one line with exit status 2 before anything is solved (the solvers are replaced by a
tripwire) and nothing written.
"""

import functools
import re

import numpy as np
import pytest
import xarray as xr

import orbsym.numeric.sites as sites
import orbsym.numeric.sites_transport as sites_transport
from orbsym.cli import main
from orbsym.commands.sites import DISORDER_KINDS, _identity, parse_disorder
from orbsym.numeric.disorder import Anderson, MagneticTexture, Potential, RandomHopping, VacancyMask, Vacancies
from orbsym.workflows.ensembles import ensemble

SAMPLE = '''
import numpy as np
from orbsym.numeric.sites import Hopping, Site, SiteLattice
L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]], [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])
cell = (Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]), L), Site("s", (0.5, 0, 0), 0.2 * np.eye(3), L))
hops = [Hopping("m", "s", (0, 0), -0.8 * np.eye(3)), Hopping("s", "m", (1, 0), -np.diag([0.4, 1.0, 1.0])),
        Hopping("m", "m", (0, 1), -np.diag([1.0, 0.4, 1.0])), Hopping("s", "s", (0, 1), -np.eye(3))]
lattice = SiteLattice(cell, hops, N_x=4, width=2)
T = 0.1
'''
PERIODIC = SAMPLE.replace("width=2", "N_y=4")


def write(tmp_path, text=SAMPLE, name="sample.py"):
    p = tmp_path / name
    p.write_text(text)
    return p


def lattice(path):
    import runpy

    return runpy.run_path(str(path))["lattice"]


def run(capsys, *argv):
    code = main(["sites", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def load(path):
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()


def test_kinds_map_to_the_disorder_terms():
    terms = parse_disorder("anderson:1.5,anderson-gauss:0.2,anderson-orbital:0.7, hopping:0.1,hopping-gauss:0.3,vacancies:0.05,texture:0.4")
    assert terms == [Anderson(1.5), Anderson(0.2, "gaussian"), Anderson(0.7, per_orbital=True), RandomHopping(0.1), RandomHopping(0.3, "gaussian"),
                     Vacancies(0.05), MagneticTexture(0.4)]
    assert set(DISORDER_KINDS) == {"anderson", "anderson-gauss", "anderson-orbital", "hopping", "hopping-gauss", "vacancies", "texture"}


def test_equilibrium_ensemble_equals_the_api_and_the_summary(tmp_path, capsys):
    f = write(tmp_path)
    code, out, err = run(capsys, f, "--disorder", "anderson:1,vacancies:0.1", "--realizations", 3, "--seed", 5, "--engine", "dense", "--out", tmp_path / "e.nc")
    assert code == 0, err
    ds = load(tmp_path / "e.nc")
    ref = ensemble(functools.partial(_identity, lattice(f)), (Anderson(1.0), Vacancies(0.1)), [5, 6, 7], 0.1)
    assert list(ds.realization.values) == [5, 6, 7]
    for var in ("free_energy", "density", "boundary_current", "free_energy_mean", "free_energy_stderr", "density_mean", "balance_residual"):
        np.testing.assert_array_equal(ds[var].values, ref[var].values)
    assert ds.attrs["engine"].startswith("dense") and ds.attrs["engine_requested"] == "dense" and "Vacancies" in ds.attrs["disorder"]
    assert ds.attrs["source_file"] == str(f) and ds.attrs["command_disorder"] == "anderson:1,vacancies:0.1"
    m = re.search(r"free energy of the sample <F> = (\S+) \+- (\S+) \(standard error\) t; max balance residual over realizations (\S+)", out)
    assert m, out
    assert float(m.group(1)) == pytest.approx(float(ref.free_energy_mean), rel=1e-9)
    assert float(m.group(2)) == pytest.approx(float(ref.free_energy_stderr), rel=1e-2)
    assert float(m.group(3)) == pytest.approx(float(ref.balance_residual.max()), rel=1e-2, abs=1e-30) and "seeds 5..7" in out and out.count("\n") == 1


def test_transport_ensemble_equals_the_api(tmp_path, capsys):
    f = write(tmp_path)
    code, out, err = run(capsys, f, "--transport", "--disorder", "anderson-gauss:0.5", "--realizations", 2, "--workers", 2, "--out", tmp_path / "g.nc")
    assert code == 0, err
    ds = load(tmp_path / "g.nc")
    ref = ensemble(functools.partial(_identity, lattice(f)), (Anderson(0.5, "gaussian"),), [0, 1], 0.1, transport={})
    for var in ("conductance", "landauer_current", "density", "boundary_current", "conductance_mean", "conductance_stderr"):
        np.testing.assert_array_equal(ds[var].values, ref[var].values)
    assert "NEGF" in ds.attrs["engine"] and ds.conductance.attrs["units"] == "e^2/h"
    m = re.search(r"conductance <G> = (\S+) \+- (\S+) \(standard error\) e\^2/h", out)
    assert m and float(m.group(1)) == pytest.approx(float(ref.conductance_mean), rel=1e-9), out


def test_explicit_arrays_equal_the_api(tmp_path, capsys):
    f = write(tmp_path)
    rng = np.random.default_rng(3)
    pot = rng.normal(size=(4, 2))
    mat = rng.normal(size=(4, 2, 3, 3)) + 1j * rng.normal(size=(4, 2, 3, 3))
    mat = mat + np.swapaxes(mat, -1, -2).conj()
    vac = np.zeros((4, 2, 2), bool)
    vac[1, 0, 1] = vac[2, 1, 0] = True
    np.savez(tmp_path / "d.npz", potential_m=pot, potential_s=mat, vacancies=vac)
    code, out, err = run(capsys, f, "--disorder-file", tmp_path / "d.npz", "--out", tmp_path / "x.nc")
    assert code == 0, err
    ds = load(tmp_path / "x.nc")
    ref = ensemble(functools.partial(_identity, lattice(f)), (Potential("m", pot), Potential("s", mat), VacancyMask(vac)), [0], 0.1)
    np.testing.assert_array_equal(ds.density.values, ref.density.values)
    assert "(1 realization: no standard error)" in out and "explicit arrays" in out
    code, out, err = run(capsys, f, "--disorder", "anderson:0.5", "--disorder-file", tmp_path / "d.npz", "--realizations", 2)
    assert code == 0 and "2 realizations" in out, err


REFUSALS = [
    (("--disorder", "anderson:-1"), r"strength W = -1 of anderson must be a finite number >= 0"),
    (("--disorder", "anderson:1,tornado:2"), r"entry 2: unknown disorder kind 'tornado'.*allowed: anderson:W, anderson-gauss:W, anderson-orbital:W, hopping:W, hopping-gauss:W, vacancies:c, texture:m"),
    (("--disorder", "anderson"), r"needs its strength W"),
    (("--disorder", "vacancies:1.5"), r"concentration c = 1.5 must be in \[0, 1\]"),
    (("--disorder", "anderson:1", "--realizations", "0"), r"--realizations 0: the number of realizations must be >= 1"),
    (("--seed", "3"), r"--seed applies only to a disorder ensemble"),
    (("--realizations", "3"), r"--realizations applies only to a disorder ensemble"),
    (("--disorder", "anderson:1", "--seed", "-1"), r"--seed -1: seeds are integers >= 0"),
    (("--disorder", "anderson:1", "--response", "y"), r"--response y needs a periodic direction; .* is a finite sample"),
    (("--disorder", "anderson:1", "--evolve"), r"not to --evolve"),
    (("--disorder", "anderson:1", "--csv", "e.csv"), r"--csv does not apply to a disorder ensemble"),
    (("--disorder", "anderson:1", "--restart"), r"--restart applies to a disorder ensemble written with --out"),
    (("--disorder", "vacancies:0.97", "--transport", "--realizations", "2"), r"entirely vacant, which disconnects the leads"),
    (("--workers", "2"), r"--workers applies only to a disorder ensemble"),
    (("--disorder", "anderson:1", "--workers", "0"), r"--workers 0: the number of worker processes must be >= 1"),
    (("--disorder", "anderson:1", "--scheduler", " "), r"--scheduler is empty"),
]


@pytest.fixture
def tripwire(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("solved although the run must be refused")

    monkeypatch.setattr(sites.SiteLattice, "solve", boom)
    monkeypatch.setattr(sites_transport, "SiteTransportResult", boom)


@pytest.mark.parametrize("argv, message", REFUSALS)
def test_refusals(tmp_path, capsys, tripwire, argv, message):
    f = write(tmp_path)
    code, out, err = run(capsys, f, *argv, "--out", tmp_path / "r.nc") if "--restart" not in argv else run(capsys, f, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not list(tmp_path.glob("r.nc*"))


def test_refusals_that_need_the_file(tmp_path, capsys, tripwire, monkeypatch):
    code, out, err = run(capsys, write(tmp_path, PERIODIC, "p.py"), "--disorder", "anderson:1", "--transport")
    assert code == 2 and "--transport with disorder needs a finite sample" in err and "periodic" in err
    f = write(tmp_path)
    np.savez(tmp_path / "bad.npz", potential_m=np.zeros((4, 3)))
    code, out, err = run(capsys, f, "--disorder-file", tmp_path / "bad.npz")
    assert code == 2 and "potential_m has shape (4, 3); allowed: (4, 2) or (4, 2, 3) or (4, 2, 3, 3)" in err, err
    np.savez(tmp_path / "key.npz", potential_q=np.zeros((4, 2)))
    code, out, err = run(capsys, f, "--disorder-file", tmp_path / "key.npz")
    assert code == 2 and "unknown key 'potential_q'; allowed: potential_m, potential_s, vacancies" in err, err
    np.savez(tmp_path / "vac.npz", vacancies=np.zeros((4, 2)))
    code, out, err = run(capsys, f, "--disorder-file", tmp_path / "vac.npz")
    assert code == 2 and "vacancies must be a bool (or 0/1) array of shape (N_x, width, n_sites) = (4, 2, 2)" in err, err
    code, out, err = run(capsys, f, "--disorder-file", tmp_path / "vac.npz", "--seed", "1")
    assert code == 2 and "--seed applies to random disorder" in err
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "0.01")  # one realization fits, 10^5 do not
    code, out, err = run(capsys, f, "--disorder", "anderson:1", "--realizations", "100000", "--out", tmp_path / "big.nc")
    assert code == 2 and re.search(r"the disorder ensemble of 100000 realization\(s\) needs ~.* more than the limit", err), err
    assert not list(tmp_path.glob("big.nc*"))


def test_resume_and_restart_from_the_command_line(tmp_path, capsys):
    f = write(tmp_path)
    out = tmp_path / "e.nc"
    (tmp_path / "e.nc.parts").mkdir()
    (tmp_path / "e.nc.parts" / "sweep.json").write_text('{"fingerprint": "another run"}')
    code, _, err = run(capsys, f, "--disorder", "anderson:1", "--realizations", 2, "--out", out)
    assert code == 2 and "--restart" in err and not out.exists()
    code, _, err = run(capsys, f, "--disorder", "anderson:1", "--realizations", 2, "--out", out, "--restart")
    assert code == 0 and out.exists() and not (tmp_path / "e.nc.parts").exists(), err
