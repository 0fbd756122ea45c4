"""``orbsym sites FILE.py``: the CLI of site-resolved lattices (orbsym.numeric.sites).

The NetCDF written by the command is compared value by value with the API it wraps
(:meth:`SiteLattice.solve`, :meth:`SiteLattice.respond`) for a two-site cell periodic in y (bonds
(0, 0) inside the cell, (1, 0), (0, 1) and a (2, 0) bond that merges slices), a finite sample with a
vacancy and an on-site override, and a small film driven by E_z.  Refusals run with the solvers
replaced by a tripwire (nothing may be solved and no file written); a broken solve must fail the run.
"""

import re

import numpy as np
import pytest
import xarray as xr

from orbsym.cli import main
from orbsym.commands import sites as cmd
from orbsym.numeric.sites import SiteLattice, SiteObservables

POLS = {"charge": None, "x": "x", "y": "y", "z": "z"}

HEADER = '''
import numpy as np
from orbsym.numeric.sites import Hopping, Site, SiteLattice
L = np.array([[[0, 0, 0], [0, 0, -1j], [0, 1j, 0]], [[0, 0, 1j], [0, 0, 0], [-1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])
A = Site("A", (0, 0), -0.3 * np.eye(3) - 0.6 * (0.6 * L[0] + 0.8 * L[2]), L)
B = Site("B", (0.5, 0.5), 0.2 * np.eye(3) - 0.5 * L[1], L)
hops = [Hopping("A", "B", (0, 0), -0.8 * np.eye(3) + 0.1j * L[1]), Hopping("B", "A", (1, 0), -0.7 * np.eye(3)),
        Hopping("A", "A", (0, 1), -np.diag([1.0, 0.5, 1.0])), Hopping("A", "A", (2, 0), -0.15 * np.eye(3) + 0.05 * L[2])]
'''
FILES = {
    "periodic": HEADER + "hops.append(Hopping('B', 'B', (0, 1), -np.eye(3)))\nlattice = SiteLattice([A, B], hops, N_x=4, N_y=6)\nT = 0.1\n",
    "finite": HEADER + "lattice = SiteLattice([A, B], hops, N_x=4, width=3, vacancies=[(1, 1, 'B')], onsite={(2, 0, 'A'): 0.4 * np.eye(3)})\n",
    "film": '''
import numpy as np
from orbsym.numeric.sites import Hopping, Site, SiteLattice
L = np.array([[[0, 0, 0], [0, 0, -1j], [0, 1j, 0]], [[0, 0, 1j], [0, 0, 0], [-1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])
A = Site("A", (0, 0, 0), -0.2 * np.eye(3) - 0.5 * L[0], L)
hops = [Hopping("A", "A", (1, 0, 0), -np.diag([0.5, 1.0, 1.0])), Hopping("A", "A", (0, 1, 0), -np.diag([1.0, 0.5, 1.0])),
        Hopping("A", "A", (0, 0, 1), -np.diag([1.0, 1.0, 0.5]))]
lattice = SiteLattice([A], hops, N_x=3, N_y=3, N_z=4)
''',
    "diagonal": HEADER + "hops.append(Hopping('A', 'A', (1, 1), -0.1 * np.eye(3)))\nlattice = SiteLattice([A, B], hops, N_x=4, N_y=6)\n",
    "no_lattice": "import numpy as np\nx = np.eye(2)\n",
    "model_only": "from orbsym.symbolic.models import multiorbital_metal\nmodel = multiorbital_metal()\n",
    "not_sites": "lattice = 3\n",
    "raises": "raise RuntimeError('broken on purpose')\n",
}


def write(tmp_path, kind, extra=""):
    p = tmp_path / f"{kind}.py"
    p.write_text(FILES[kind] + extra)
    return p


def load(path):
    import runpy

    return runpy.run_path(str(path))["lattice"]


def run(capsys, *argv):
    code = main(["sites", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_site_values(ds, so, part=None):
    """Every per-site / per-bond variable of the dataset equals the API's :class:`SiteObservables`."""
    sel = {} if part is None else {"part": part}
    for p, pol in POLS.items():
        d = ds.sel(polarization=p, **sel)
        np.testing.assert_allclose(d["density"].values, so.density(pol), rtol=0, atol=1e-13, err_msg=f"density {p}")
        np.testing.assert_allclose(d["bond_current"].values, so.current(pol), rtol=0, atol=1e-13, err_msg=f"current {p}")
        np.testing.assert_allclose(d["boundary_current"].values, so.boundary_current(pol), rtol=0, atol=1e-13, err_msg=f"boundary {p}")
        np.testing.assert_allclose(d["hopping_torque"].values, so.source(pol), rtol=0, atol=1e-13, err_msg=f"hopping torque {p}")
        np.testing.assert_allclose(d["onsite_torque"].values, so.onsite_torque(pol), rtol=0, atol=1e-13, err_msg=f"onsite torque {p}")
        np.testing.assert_allclose(d["torque"].values, so.torque(pol), rtol=0, atol=1e-13, err_msg=f"torque {p}")
        np.testing.assert_allclose(d["divergence"].values, so.divergence(pol), rtol=0, atol=1e-13, err_msg=f"divergence {p}")


# ---------------------------------------------------------------- values: CLI == API
@pytest.mark.parametrize("engine", ["dense", "auto"])
def test_periodic_two_site_cell_netcdf_equals_api(tmp_path, capsys, engine):
    f = write(tmp_path, "periodic")
    out = tmp_path / "p.nc"
    code, text, err = run(capsys, f, "--engine", engine, "--out", out)
    assert code == 0, err
    lat = load(f)
    assert (lat.merge_x, lat.transverse_dimension) == (2, 1)  # the (2, 0) bond merges cells into slices
    so = lat.solve(0.1, engine="dense")  # the file's T
    ds = xr.load_dataset(out)
    # auto: the cost model (orbsym.numeric.engines) picks dense for this small slice chain (predicted 0.7 ms vs 1.8 ms)
    assert ds.attrs["engine"] == "dense" and ds.attrs["engine_requested"] == engine
    assert list(ds["bond"].values) == ["A->B (0, 0)", "B->A (1, 0)", "A->A (0, 1)", "A->A (2, 0)", "B->B (0, 1)"]
    assert list(ds["site"].values) == ["A", "B"] and ds["density"].dims == ("polarization", "x", "row", "site")
    assert ds["bond_current"].dims == ("polarization", "bond", "x", "row") and ds.sizes["row"] == 1
    assert_site_values(ds, so)
    assert float(ds["free_energy"]) == pytest.approx(so.free_energy(), rel=1e-13)
    np.testing.assert_allclose(ds["bond_vector"].values, lat.bond_vectors, rtol=0, atol=0)
    np.testing.assert_array_equal(ds["bond_present"].values, so.present().astype(np.int8))
    # the state carries an equilibrium L current (broken time reversal): the comparison is not of zeros
    assert np.abs(ds["bond_current"].sel(polarization="z").values).max() > 1e-4
    for p, pol in POLS.items():
        np.testing.assert_allclose(ds["balance_residual"].sel(polarization=p).values, so.torque(pol) - so.divergence(pol), rtol=0, atol=1e-13)
    assert np.abs(ds["balance_residual"].values).max() < 1e-10


def test_finite_sample_with_vacancy_equals_api(tmp_path, capsys):
    f = write(tmp_path, "finite")
    out, csv = tmp_path / "f.nc", tmp_path / "f.csv"
    code, text, err = run(capsys, f, "--T", "0.2", "--engine", "greens", "--out", out, "--csv", csv)
    assert code == 0, err
    lat = load(f)
    so = lat.solve(0.2, engine="greens")
    ds = xr.load_dataset(out)
    assert ds.attrs["engine"] == "greens" and ds.attrs["transverse_dimension"] == 0 and ds.sizes["row"] == 3
    assert_site_values(ds, so)
    assert float(ds["free_energy"]) == pytest.approx(so.free_energy(), rel=1e-12)
    # the vacancy: no density, no bonds
    assert np.all(ds["density"].sel(x=1, row=1, site="B").values == 0)
    np.testing.assert_array_equal(ds["bond_present"].values, so.present().astype(np.int8))
    assert ds["bond_present"].sel(bond="A->B (0, 0)", x=1, row=1).item() == 0
    assert ds["bond_present"].sel(bond="A->B (0, 0)", x=1, row=0).item() == 1
    # the CSV holds the same numbers (long table)
    import pandas as pd

    table = pd.read_csv(csv, comment="#")
    rows = table[(table.quantity == "density") & (table.polarization == "charge")].sort_values(["x", "row", "site"])
    np.testing.assert_allclose(rows["value"].values, so.density(None).reshape(-1), rtol=0, atol=1e-12)
    fe = table[table.quantity == "free_energy"]["value"].values
    assert fe.size == 1 and fe[0] == pytest.approx(so.free_energy(), rel=1e-12)


def test_response_netcdf_equals_api(tmp_path, capsys):
    f = write(tmp_path, "periodic")
    out = tmp_path / "r.nc"
    code, text, err = run(capsys, f, "--response", "y", "--eta", "0.2", "--out", out)
    assert code == 0, err
    lat = load(f)
    resp = lat.respond(0.1, 0.2, field="y")
    ds = xr.load_dataset(out)
    assert list(ds["part"].values) == ["total", "fermi_surface", "fermi_sea", "drive"]
    assert ds.attrs["field"] == "y" and ds.attrs["eta"] == 0.2 and "free_energy" not in ds
    for part in ("total", "fermi_surface", "fermi_sea", "drive"):
        assert_site_values(ds, resp[part], part)
    for p, pol in POLS.items():
        b = resp.balance(pol)
        for name in ("relaxation", "drive"):
            np.testing.assert_allclose(ds[name].sel(polarization=p).values, b[name], rtol=0, atol=1e-13)
        np.testing.assert_allclose(ds["balance_residual"].sel(polarization=p).values, b["residual"], rtol=0, atol=1e-13)
    assert np.abs(ds["density"].sel(part="total", polarization="z").values).max() > 1e-4  # a nonzero response is compared


def test_film_response_to_E_z_equals_api(tmp_path, capsys):
    f = write(tmp_path, "film")
    out = tmp_path / "z.nc"
    code, text, err = run(capsys, f, "--response", "z", "--eta", "0.3", "--T", "0.2", "--out", out, "--quantities", "densities,currents,torques,balance")
    assert code == 0, err
    assert "transverse dimension 2 (film), N_x=3, N_y=3, N_z=4" in text and "response to E_z" in text
    resp = load(f).respond(0.2, 0.3, field="z")
    ds = xr.load_dataset(out)
    assert_site_values(ds, resp["total"], "total")
    assert np.abs(ds["bond_current"].sel(part="total", polarization="charge", bond="A->A (0, 0, 1)").values).max() > 1e-3


# ---------------------------------------------------------------- summary line
def test_summary_line(tmp_path, capsys):
    f = write(tmp_path, "periodic")
    code, text, err = run(capsys, f)
    assert code == 0, err
    lines = text.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    F = load(f).solve(0.1, engine="dense").free_energy()
    assert line.startswith("sites: 2 sites/cell (A, B; 6 orbitals), transverse dimension 1 (periodic y), N_x=4, N_y=6; engine dense (auto), T=0.1; ")
    m = re.search(r"free energy per transverse cell (\S+); max balance residual (\S+)$", line)
    assert m, line
    assert float(m.group(1)) == pytest.approx(F, rel=1e-11)
    assert 0 <= float(m.group(2)) < 1e-10
    g = write(tmp_path, "finite")
    code, text, err = run(capsys, g, "--T", "0.2", "--engine", "dense")
    assert code == 0, err
    assert "transverse dimension 0 (finite sample), N_x=4, width=3, 1 vacancy; engine dense, T=0.2; free energy of the sample " in text
    F = load(g).solve(0.2).free_energy()
    assert float(re.search(r"free energy of the sample (\S+);", text).group(1)) == pytest.approx(F, rel=1e-11)
    code, text, err = run(capsys, f, "--response", "y")
    assert code == 0, err
    assert "engine kubo, response to E_y (parts total = fermi_surface + fermi_sea, drive; per unit force q E), T=0.1, eta=0.05; max balance residual" in text


def test_auto_engine_is_dense_for_diagonal_slice_bonds(tmp_path, capsys, monkeypatch):
    """A (1, 1) bond gives the slice chain a diagonal bond the Green's-function engine cannot take: auto must
    run dense, whatever the cost model says (here it is told that greens is free)."""
    import orbsym.numeric.engines as engines

    monkeypatch.setattr(engines, "engine_costs", lambda *a, **k: {"dense": 1.0, "greens": 0.0, "greens_points": 1})
    code, text, err = run(capsys, write(tmp_path, "diagonal"))
    assert code == 0 and "engine dense (auto)" in text, err
    code, text, err = run(capsys, write(tmp_path, "finite"), "--T", "0.2")  # nearest-slice bonds only: the cost model decides
    assert code == 0 and "engine greens (auto)" in text, err


# ---------------------------------------------------------------- attributes
def test_every_variable_has_units_and_description(tmp_path, capsys):
    f = write(tmp_path, "periodic")
    for extra, name in (((), "e.nc"), (("--response", "y"), "r.nc")):
        out = tmp_path / name
        code, _, err = run(capsys, f, *extra, "--out", out)
        assert code == 0, err
        ds = xr.load_dataset(out)
        names = list(ds.data_vars) + list(ds.coords)
        assert {"density", "bond_current", "boundary_current", "hopping_torque", "onsite_torque", "torque", "divergence", "balance_residual"} <= set(names)
        for v in names:
            assert ds[v].attrs.get("units"), v
            assert ds[v].attrs.get("description"), v
        for key in ("current", "engine", "units", "conventions", "calculation", "lattice", "T"):
            assert key in ds.attrs, key
        assert "slice-boundary total" in ds.attrs["current"] and "e = hbar = a = 1" in ds.attrs["units"]
        assert "orbsym.conventions" in ds.attrs["conventions"]


def test_quantities_subset(tmp_path, capsys):
    f = write(tmp_path, "periodic")
    out = tmp_path / "q.nc"
    code, _, err = run(capsys, f, "--quantities", "densities,balance", "--out", out)
    assert code == 0, err
    ds = xr.load_dataset(out)
    assert {"density", "divergence", "balance_residual"} <= set(ds.data_vars)
    assert not {"bond_current", "hopping_torque", "free_energy"} & set(ds.data_vars)


# ---------------------------------------------------------------- a broken solve fails loudly
def test_balance_off_fails_with_the_residual(tmp_path, capsys, monkeypatch):
    f = write(tmp_path, "periodic")
    solve = SiteLattice.solve

    def broken(self, T, engine="dense", **kw):  # a non-stationary state: bands with a random Hermitian perturbation
        so = solve(self, T, engine=engine, **kw)
        rng = np.random.default_rng(0)
        bands = dict(so.bands)
        k = (0,) * self.ndim
        noise = rng.normal(size=bands[k].shape) + 1j * rng.normal(size=bands[k].shape)
        bands[k] = bands[k] + 1e-3 * (noise + noise.conj().transpose(0, 2, 1))
        return SiteObservables(self, bands, solution=so.solution)

    monkeypatch.setattr(SiteLattice, "solve", broken)
    out = tmp_path / "b.nc"
    code, text, err = run(capsys, f, "--out", out)
    assert code == 1
    m = re.search(r"largest residual (\S+)", err)
    assert m and "balance" in err and float(m.group(1)) > 1e-6, err
    assert not out.exists() and text == ""


def test_response_balance_checked(tmp_path, capsys, monkeypatch):
    f = write(tmp_path, "periodic")
    monkeypatch.setattr(cmd, "BALANCE_TOL", 0.0)  # any rounding residual is now "off": the check must see it
    code, text, err = run(capsys, f, "--response", "y")
    assert code == 1 and "driven per-site balance" in err and "largest residual" in err, err


# ---------------------------------------------------------------- refusals before any work
class Tripwire(RuntimeError):
    pass


@pytest.fixture()
def tripwire(monkeypatch):
    def trip(*a, **k):
        raise Tripwire("tripwire: a solver was called")

    monkeypatch.setattr(SiteLattice, "solve", trip)
    monkeypatch.setattr(SiteLattice, "respond", trip)


REFUSALS = [
    ("no_lattice", (), "defines no `lattice`"),
    ("model_only", (), "defines no `lattice`"),
    ("not_sites", (), "`lattice` in"),
    ("raises", (), "raised RuntimeError (line 1): broken on purpose"),
    ("periodic", ("--eta", "0.1"), "--eta applies only to --response"),
    ("periodic", ("--response", "z"), "--response z (E_z) needs a film"),
    ("finite", ("--response", "y"), "needs a periodic direction"),
    ("periodic", ("--response", "y", "--engine", "dense"), "--engine applies only to the equilibrium solve"),
    ("periodic", ("--quantities", "densities,curents"), "entry 2: unknown quantity 'curents' (did you mean 'currents'?)"),
    ("periodic", ("--quantities", "densities,,torques"), "empty entry at position 2"),
    ("periodic", ("--quantities", "densities,densities"), "names 'densities' twice"),
    ("periodic", ("--response", "y", "--quantities", "free_energy"), "free_energy (entry 1) does not apply to --response"),
    ("periodic", ("--T", "0.3"), "option --T conflicts with `T` set in"),
    ("periodic", ("--T", "-1"), "--T must be >= 0"),
    ("periodic", ("--response", "y", "--eta", "0"), "--eta must be > 0"),
    ("periodic", ("--engine", "green"), "did you mean 'greens'"),
    ("diagonal", ("--engine", "greens"), "--engine greens handles nearest-slice bonds only; the slice chain of this lattice has bonds [(1, 1)]"),
    ("finite", ("--engine", "greens", "--T", "0.1", "--quantities", "densities"), None),  # accepted: reaches the tripwire
]


@pytest.mark.parametrize("kind,argv,message", REFUSALS)
def test_refusals_before_any_work(tmp_path, capsys, tripwire, kind, argv, message):
    f = write(tmp_path, kind)
    out = tmp_path / "never.nc"
    code, text, err = run(capsys, f, *argv, "--out", out)
    if message is None:  # the control row: valid input reaches the (replaced) solver
        assert code == 1 and "tripwire" in err
        return
    assert code == 2, err
    assert message in err and err.startswith("orbsym: error: ") and err.count("\n") == 1, err
    assert not out.exists() and text == ""


def test_output_files_checked_first(tmp_path, capsys, tripwire):
    f = write(tmp_path, "periodic")
    blocker = tmp_path / "plain_file"
    blocker.write_text("")
    cases = [
        (("--out", tmp_path / "x.csv"), "--out"),
        (("--out", tmp_path / "x.json"), "expected a .nc file"),
        (("--csv", tmp_path / "x.nc"), "expected a .csv file"),
        (("--out", tmp_path), "is a directory"),
        (("--out", blocker / "x.nc"), str(blocker / "x.nc")),
        (("--out", tmp_path / "same.nc", "--csv", tmp_path / "same.nc"), "--csv"),
    ]
    for argv, message in cases:
        code, text, err = run(capsys, f, *argv)
        assert code == 2 and message in err, (argv, err)
    # checked before the file is even executed: a file that raises is not reached
    g = write(tmp_path, "raises")
    code, _, err = run(capsys, g, "--out", tmp_path)
    assert code == 2 and "is a directory" in err and "broken on purpose" not in err
    code, _, err = run(capsys, tmp_path / "missing.py")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, blocker)
    assert code == 2 and "must be a Python file ending in .py" in err


def test_size_refused_with_estimate(tmp_path, capsys, tripwire, monkeypatch):
    f = write(tmp_path, "periodic")
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "1M")
    code, _, err = run(capsys, f, "--engine", "dense")
    assert code == 2 and "dense solve of this SiteLattice" in err and "tripwire" not in err, err
    code, _, err = run(capsys, f, "--response", "y")
    assert code == 2 and "linear response of this SiteLattice" in err and "tripwire" not in err, err
