"""``orbsym sites FILE.py --transport`` and ``--evolve``: the CLI of the site-lattice transport
(orbsym.numeric.sites_transport) and real-time (orbsym.numeric.sites_evolution) drivers.

The NetCDF written by the command is compared value by value with the API it wraps, for a two-site cell
periodic in y (bonds (0, 0), (1, 0), (0, 1) and a (2, 0) bond that merges x-cells into slices): transport in
linear response and at a bias with a lead from another lattice of the file, and a quench (plus a driven,
relaxing run).  Refusals run with every solver replaced by a tripwire (nothing may be solved, no file
written); a broken solve must fail the run (exit 1) with the residual.
"""

import re

import numpy as np
import pytest
import xarray as xr

import orbsym.numeric.evolution as evolution
import orbsym.numeric.sites_evolution as sites_evolution
import orbsym.numeric.sites_transport as sites_transport
from orbsym.cli import main
from orbsym.commands import sites as cmd
from orbsym.numeric.sites import SiteLattice
from orbsym.numeric.sites_evolution import evolve_sites
from orbsym.numeric.sites_transport import site_transport

POLS = {"charge": None, "x": "x", "y": "y", "z": "z"}

HEADER = '''
import numpy as np
from orbsym.numeric.sites import Hopping, Site, SiteLattice
L = np.array([[[0, 0, 0], [0, 0, -1j], [0, 1j, 0]], [[0, 0, 1j], [0, 0, 0], [-1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])
def cell(shift=0.0, mB=(0, 1, 0)):
    A = Site("A", (0, 0), (-0.3 + shift) * np.eye(3) - 0.6 * (0.6 * L[0] + 0.8 * L[2]), L)
    B = Site("B", (0.5, 0.5), 0.2 * np.eye(3) - 0.5 * np.tensordot(mB, L, 1), L)
    return [A, B]
hops = [Hopping("A", "B", (0, 0), -0.8 * np.eye(3) + 0.1j * L[1]), Hopping("B", "A", (1, 0), -0.7 * np.eye(3)),
        Hopping("A", "A", (0, 1), -np.diag([1.0, 0.5, 1.0])), Hopping("B", "B", (0, 1), -np.eye(3)),
        Hopping("A", "A", (2, 0), -0.15 * np.eye(3) + 0.05 * L[2])]
lattice = SiteLattice(cell(), hops, N_x=6, N_y=4)
'''
FILES = {
    "plain": HEADER,
    "T": HEADER + "T = 0.1\n",
    "leads": HEADER + "T = 0.1\nright = (SiteLattice(cell(0.2), hops, N_x=6, N_y=4), -1)\n",
    "quench": HEADER + "T = 0.1\ntimes = [0.0, 0.7, 2.0]\nquench = SiteLattice(cell(mB=(1, 0, 0)), hops, N_x=6, N_y=4)\n",
    "driven": HEADER + "T = 0.1\ntimes = [0.5, 1.0]\neta = 0.4\ndrive = lambda t: {'A': 0.3 * np.sin(2 * t) * L[1]}\n",
    "eta": HEADER + "eta = 0.2\n",
    "bad_lead": HEADER + "left = SiteLattice(cell(), hops, N_x=4, N_y=6)\n",
    "lead_type": HEADER + "right = 3\n",
    "big": HEADER + "times = [1.0]\nlattice = SiteLattice(cell(), hops, N_x=200, N_y=400)\n",
}


def write(tmp_path, kind):
    p = tmp_path / f"{kind}.py"
    p.write_text(FILES[kind])
    return p


def namespace(path):
    import runpy

    return runpy.run_path(str(path))


def run(capsys, *argv):
    code = main(["sites", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_parts_equal(ds, res):
    """Every per-part variable of the transport dataset equals the API's SiteObservables of that part."""
    assert list(ds["part"].values) == list(res.parts)
    for part, so in res.parts.items():
        for p, pol in POLS.items():
            d = ds.sel(part=part, polarization=p)
            for name, value in (("density", so.density(pol)), ("bond_current", so.current(pol)), ("boundary_current", so.boundary_current(pol)),
                                ("hopping_torque", so.source(pol)), ("onsite_torque", so.onsite_torque(pol)), ("torque", so.torque(pol)),
                                ("divergence", so.divergence(pol)), ("balance_residual", so.time_derivative(pol))):
                np.testing.assert_allclose(d[name].values, value, rtol=0, atol=1e-13, err_msg=f"{name} {part} {p}")


# ---------------------------------------------------------------- transport: CLI == API
def test_transport_linear_response_equals_api(tmp_path, capsys):
    f = write(tmp_path, "T")
    out = tmp_path / "t.nc"
    code, text, err = run(capsys, f, "--transport", "--n-energy", "6", "--out", out)
    assert code == 0, err
    lat = namespace(f)["lattice"]
    assert lat.merge_x == 2 and lat.n_slices == 3
    res = site_transport(lat, T=0.1, n_energy=6, check=False)  # the driver also checks the boundaries inside the end slices (merge_x = 2)
    assert res.interior().sum() == 4  # one interior slice (2 x-cells, 2 sites): the balance is checked somewhere
    ds = xr.load_dataset(out)
    assert_parts_equal(ds, res)
    assert list(ds["part"].values) == ["response", "equilibrium"]
    G = res.conductance()["total"]
    assert float(ds["conductance"]) == pytest.approx(G, rel=1e-13) and G > 0.1
    assert float(ds["landauer_current"]) == pytest.approx(res.landauer_current(), rel=1e-13)
    assert float(ds["landauer_current"]) == pytest.approx(G / (2 * np.pi), rel=1e-12)
    # the charge boundary current of the response equals the Landauer current outside the end slices (merge_x = 2)
    bc = ds["boundary_current"].sel(part="response", polarization="charge").values
    np.testing.assert_array_equal(ds["boundary_checked"].values, [0, 1, 1, 1, 0])
    np.testing.assert_allclose(bc[1:4], res.landauer_current(), rtol=1e-10, atol=0)
    assert abs(bc[0] - bc[1]) > 1e-4  # inside the end slice, bonds from the lead cross the boundary (not in the site lattice)
    np.testing.assert_array_equal(ds["interior"].values, res.interior().astype(np.int8))
    assert np.abs(ds["bond_current"].sel(part="response", polarization="z").values).max() > 1e-4  # not a comparison of zeros
    assert ds.attrs["bias_split"].startswith("symmetric, s = 1/2") and "landauer_current" in ds.attrs["current"]
    assert "e = hbar = a = 1" in ds.attrs["units"] and "conductance in e^2/h" in ds.attrs["units"]
    for v in list(ds.data_vars) + list(ds.coords):
        assert ds[v].attrs.get("units") and ds[v].attrs.get("description"), v
    # summary line: one line, conductance per transverse cell and the balance residual
    assert text.count("\n") == 1
    m = re.search(r"transport \(NEGF, \w+\), linear response, T=0\.1; conductance (\S+) e\^2/h per transverse cell; max balance residual (\S+) "
                  r"\(boundary vs Landauer (\S+)\)$", text.strip())
    assert m, text
    assert float(m.group(1)) == pytest.approx(G, rel=1e-9)
    assert float(m.group(2)) < 1e-10 and float(m.group(3)) < 1e-10


def test_transport_bias_with_a_lead_from_the_file_equals_api(tmp_path, capsys):
    f = write(tmp_path, "leads")
    out, csv = tmp_path / "b.nc", tmp_path / "b.csv"
    code, text, err = run(capsys, f, "--transport", "--bias", "0.3", "--n-energy", "20", "--out", out, "--csv", csv)
    assert code == 0, err
    ns = namespace(f)
    res = site_transport(ns["lattice"], T=0.1, bias=0.3, n_energy=20, right=ns["right"], check=False)
    # the file's lead matters: the region's own last slice gives another current
    own = site_transport(ns["lattice"], T=0.1, bias=0.3, n_energy=20, check=False)
    assert abs(own.landauer_current() - res.landauer_current()) > 1e-4
    ds = xr.load_dataset(out)
    assert_parts_equal(ds, res)
    assert list(ds["part"].values) == ["window", "equilibrium", "total"] and "conductance" not in ds
    assert float(ds["landauer_current"]) == pytest.approx(res.landauer_current(), rel=1e-13)
    assert (ds.attrs["mu_L"], ds.attrs["mu_R"], ds.attrs["bias"]) == (0.15, -0.15, 0.3)
    assert "a lattice of the file" in ds.attrs["right_lead"] and "of the region" in ds.attrs["left_lead"]
    m = re.search(r"bias V=0\.3 \(mu_L = mu \+ V/2, mu_R = mu - V/2\), T=0\.1; Landauer current (\S+) per transverse cell", text)
    assert m and float(m.group(1)) == pytest.approx(res.landauer_current(), rel=1e-9), text
    import pandas as pd

    table = pd.read_csv(csv, comment="#")
    rows = table[(table.quantity == "density") & (table.part == "total") & (table.polarization == "z")].sort_values(["x", "row", "site"])
    np.testing.assert_allclose(rows["value"].values, res["total"].density("z").reshape(-1), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- evolve: CLI == API
def test_evolve_quench_equals_api(tmp_path, capsys):
    f = write(tmp_path, "quench")
    out = tmp_path / "e.nc"
    code, text, err = run(capsys, f, "--evolve", "--out", out)
    assert code == 0, err
    ns = namespace(f)
    ref = evolve_sites(ns["lattice"], 0.1, ns["times"], quench=ns["quench"])
    ds = xr.load_dataset(out)
    np.testing.assert_array_equal(ds["time"].values, [0.0, 0.7, 2.0])
    for name in ref.data_vars:
        np.testing.assert_allclose(ds[name].values, ref[name].values, rtol=0, atol=1e-13, err_msg=name)
        assert ds[name].attrs["units"] == ref[name].attrs["units"]
    assert np.abs(ds["density"].sel(polarization="x").diff("time").values).max() > 1e-4  # the quench moves the state
    assert list(ds["bond"].values)[-1] == "A->A (2, 0)"  # the bond names of the other modes
    for key in ("calculation", "engine", "units", "current", "conventions", "lattice", "T", "quench", "max_balance_residual"):
        assert key in ds.attrs, key
    assert ds.attrs["propagator"] == "exact eigen-decomposition" and "file's `quench`" in ds.attrs["quench"]
    for v in list(ds.data_vars) + list(ds.coords):
        assert ds[v].attrs.get("units") and ds[v].attrs.get("description"), v
    fin = ref["density"].isel(time=-1)
    m = re.search(r"quench, no drive, no relaxation, T=0\.1, 3 times 0\.\.2; at t=2: N=(\S+), sum J_x=(\S+), .*max balance residual (\S+)$", text.strip())
    assert m, text
    assert float(m.group(1)) == pytest.approx(float(fin.sel(polarization="charge").sum()), rel=1e-9)
    assert float(m.group(2).rstrip(",")) == pytest.approx(float(fin.sel(polarization="x").sum()), rel=1e-5)
    assert float(m.group(3)) < 1e-10


def test_evolve_drive_and_relaxation_equals_api(tmp_path, capsys):
    f = write(tmp_path, "driven")
    out = tmp_path / "d.nc"
    code, text, err = run(capsys, f, "--evolve", "--steps-per-interval", "3", "--out", out)
    assert code == 0, err
    ns = namespace(f)
    ref = evolve_sites(ns["lattice"], 0.1, ns["times"], onsite_drive=ns["drive"], relaxation=0.4, steps_per_interval=3)
    ds = xr.load_dataset(out)
    assert ds.attrs["steps_per_interval"] == 3 and ds.attrs["relaxation"] == 0.4 and "drive" in text and "eta=0.4" in text
    for name in ("density", "relaxation", "drive_torque", "current", "residual"):
        np.testing.assert_allclose(ds[name].values, ref[name].values, rtol=0, atol=1e-13, err_msg=name)
    assert np.abs(ds["drive_torque"].values).max() > 1e-4 and np.abs(ds["relaxation"].values).max() > 1e-6


# ---------------------------------------------------------------- a broken solve fails loudly
def test_transport_balance_off_fails_with_the_residual(tmp_path, capsys, monkeypatch):
    f = write(tmp_path, "T")
    orig = sites_transport.bands_from_blocks

    def broken(*a, **k):  # a state that is not stationary: the on-site correlations perturbed
        bands = dict(orig(*a, **k))
        rng = np.random.default_rng(1)
        noise = rng.normal(size=bands[0, 0].shape) + 1j * rng.normal(size=bands[0, 0].shape)
        bands[0, 0] = bands[0, 0] + 1e-3 * (noise + noise.conj().transpose(0, 2, 1))
        return bands

    monkeypatch.setattr(sites_transport, "bands_from_blocks", broken)
    out = tmp_path / "b.nc"
    code, text, err = run(capsys, f, "--transport", "--n-energy", "4", "--out", out)
    assert code == 1, err
    m = re.search(r"largest residual (\S+) of d<O_i>/dt", err)
    assert m and float(m.group(1)) > 1e-6 and "BalanceError" in err, err
    assert not out.exists() and text == ""


def test_evolve_balance_off_fails_with_the_residual(tmp_path, capsys, monkeypatch):
    f = write(tmp_path, "quench")
    orig = sites_evolution._exact_rates
    monkeypatch.setattr(sites_evolution, "_exact_rates", lambda B, rho, h: orig(B, rho, h) * 1.01)  # a wrong rate
    out = tmp_path / "b.nc"
    code, text, err = run(capsys, f, "--evolve", "--out", out)
    assert code == 1, err
    m = re.search(r"largest residual (\S+) at t = (\S+)", err)
    assert m and float(m.group(1)) > 1e-6 and "SiteContinuityError" in err, err
    assert not out.exists() and text == ""


def test_tolerance_is_the_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cmd, "BALANCE_TOL", 0.0)  # any rounding residual is now "off": both checks must see it
    code, _, err = run(capsys, write(tmp_path, "T"), "--transport", "--n-energy", "4")
    assert code == 1 and "steady-state balance of the transport is off" in err, err
    code, _, err = run(capsys, write(tmp_path, "quench"), "--evolve")
    assert code == 1 and "real-time run is off" in err, err


# ---------------------------------------------------------------- refusals before any work
class Tripwire(RuntimeError):
    pass


@pytest.fixture()
def tripwire(monkeypatch):
    def trip(*a, **k):
        raise Tripwire("tripwire: a solver was called")

    monkeypatch.setattr(SiteLattice, "solve", trip)
    monkeypatch.setattr(SiteLattice, "respond", trip)
    monkeypatch.setattr(sites_transport, "OpenSystem", trip)
    monkeypatch.setattr(evolution, "equilibrium_state", trip)


REFUSALS = [
    ("T", ("--transport", "--response", "y"), "--response and --transport are different calculations"),
    ("quench", ("--transport", "--evolve"), "--transport and --evolve are different calculations"),
    ("quench", ("--response", "y", "--evolve"), "exclude each other"),
    ("T", ("--bias", "0.1"), "--bias applies only to --transport"),
    ("T", ("--n-energy", "8", "--response", "y"), "--n-energy applies only to --transport"),
    ("T", ("--transport", "--eta", "0.1"), "--eta applies only to --response or --evolve"),
    ("T", ("--eta", "0.1"), "--eta applies only to --response or --evolve"),
    ("T", ("--transport", "--engine", "dense"), "--engine applies only to the equilibrium solve"),
    ("quench", ("--steps-per-interval", "4"), "--steps-per-interval applies only to --evolve"),
    ("quench", ("--evolve", "--steps-per-interval", "4"), "defines no `drive`, so the propagation is exact"),
    ("quench", ("--evolve", "--quantities", "densities"), "--quantities applies only to"),
    ("T", ("--transport", "--quantities", "free_energy"), "free_energy (entry 1) does not apply to --transport"),
    ("T", ("--evolve",), "defines no `times`"),
    ("plain", ("--transport", "--T", "0", "--n-energy", "8"), "--n-energy does not apply to the linear response at T = 0"),
    ("T", ("--transport", "--n-energy", "0"), "--n-energy must be an integer >= 1"),
    ("eta", ("--transport",), "`eta` in"),
    ("eta", ("--evolve", "--eta", "0.3"), "option --eta conflicts with `eta` set in"),
    ("bad_lead", ("--transport",), "leads must carry the region's transverse group"),
    ("lead_type", ("--transport",), "`right` in"),
    ("quench", ("--evolve", "--T", "0.2"), "option --T conflicts with `T` set in"),
    ("T", ("--transport",), None),  # accepted: reaches the tripwire
    ("quench", ("--evolve",), None),
    ("plain", ("--transport", "--T", "0", "--bias", "0.2"), None),  # a bias at T = 0 is allowed by the driver
]


@pytest.mark.parametrize("kind,argv,message", REFUSALS)
def test_refusals_before_any_work(tmp_path, capsys, tripwire, kind, argv, message):
    f = write(tmp_path, kind)
    out = tmp_path / "never.nc"
    code, text, err = run(capsys, f, *argv, "--out", out)
    if message is None:  # the control rows: valid input reaches the (replaced) solver
        assert code == 1 and "tripwire" in err, err
        return
    assert code == 2, err
    assert message in err and err.startswith("orbsym: error: ") and err.count("\n") == 1, err
    assert not out.exists() and text == ""


def test_size_refused_with_estimate(tmp_path, capsys, tripwire, monkeypatch):
    f = write(tmp_path, "big")
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "10M")
    code, _, err = run(capsys, f, "--transport")
    assert code == 2 and "this site-lattice transport solve" in err and "needs" in err and "tripwire" not in err, err
    code, _, err = run(capsys, f, "--evolve")
    assert code == 2 and "the real-time run of this SiteLattice" in err and "needs" in err and "tripwire" not in err, err
