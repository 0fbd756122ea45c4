"""``orbsym plot FILE.nc`` (orbsym.workflows.plotting): the default view per kind of file, ``--var``,
``--sel``, ``--x``, ``--log``, the finite-size floor, the written PNG/PDF and every refusal.

The example files are written by the real commands at tiny sizes (``sweep``, ``evolve``,
``response --scan``, ``sites``) or by the writer the command uses (Fig. 2's ``dataset`` +
``save_netcdf``, the same NetCDF as ``orbsym figure 2 --log``); generic and transport-like files are
built here.  The drawn lines are compared value by value with an independent ``xarray`` selection.
"""

import errno
import re

import numpy as np
import pytest
import xarray as xr

from orbsym.cli import main
from orbsym.workflows import plotting as P

PNG = b"\x89PNG\r\n\x1a\n"

SITES = '''
import numpy as np
from orbsym.numeric.sites import Hopping, Site, SiteLattice
A = Site("A", (0, 0), -0.3 * np.eye(1))
lattice = SiteLattice([A], [Hopping("A", "A", (1, 0), -np.eye(1)), Hopping("A", "A", (0, 1), -np.eye(1))], N_x=4, width=3)
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Example files: real command output at tiny sizes, Fig. 2's writer, synthetic datasets."""
    d = tmp_path_factory.mktemp("plot")
    out = {k: d / f"{k}.nc" for k in ("sweep", "evolve", "response", "sites", "fig2", "generic", "transport")}
    assert main(["sweep", "bilayer", "--set", "N_y=8", "--set", "N_x=4", "--quiet", "--param", "mu=-1:0:3", "--out", str(out["sweep"])]) == 0
    assert main(["evolve", "bilayer", "--basis", "spin", "--N-x", "4", "--N-y", "4", "--N-FM", "1", "--quiet",
                 "--precess", "0.3,0.4", "--t-max", "1", "--steps", "4", "--out", str(out["evolve"])]) == 0
    assert main(["response", "bilayer", "--N-x", "4", "--N-y", "8", "--scan", "mu=-0.4,0.1", "--out", str(out["response"]), "--progress", "off"]) == 0
    (d / "fin.py").write_text(SITES)
    assert main(["sites", str(d / "fin.py"), "--out", str(out["sites"])]) == 0

    from orbsym.workflows.figures import fig2
    from orbsym.workflows.figures.common import save_netcdf

    rng = np.random.default_rng(7)
    p = fig2.check(False, N_x=6, N_y=8, gammas=(1.0, 0.5), configs=(("x", "y"), ("x", "z")), log=True)
    data = {"params": p, "x": np.arange(5) + 0.5, "configs": p["configs"], "gammas": p["gammas"],
            "currents": {(ic, g): {q: rng.normal(size=5) * 10.0 ** -(3 + ic) for q in "xyz"} for ic in range(2) for g in p["gammas"]},
            "floor": {(ic, g): {q: float(rng.uniform(1, 2)) * 10.0 ** -(4 + ic) for q in "xyz"} for ic in range(2) for g in p["gammas"]}}
    save_netcdf(fig2.dataset(data), str(out["fig2"]))

    gen = xr.Dataset(coords={"gamma": [1.0, 0.3], "N_x": np.arange(3, 10)}, attrs={"engine": "dense", "current_definition": "bond"})
    gen["flag"] = (("N_x",), np.arange(7, dtype=np.int8))  # an integer flag is never the default
    gen["J"] = (("gamma", "N_x"), rng.normal(size=(2, 7)), {"units": "t per row", "description": "RKKY coupling"})
    gen["levels"] = (("k", "level"), np.sort(rng.normal(size=(9, 10)), axis=1), {"units": "t"})
    gen.to_netcdf(out["generic"], engine="scipy")
    tr = xr.Dataset(
        {"transmission": (("energy",), rng.uniform(0, 2, 11), {"units": "1", "description": "T(E) per transverse cell"}),
         "bond_current": (("part", "polarization", "x"), rng.normal(size=(2, 4, 5)), {"units": "t per unit bias"})},
        coords={"energy": np.linspace(-1, 1, 11), "part": ["response", "equilibrium"], "polarization": ["charge", "x", "y", "z"], "x": np.arange(5)},
        attrs={"engine": "NEGF", "current": "bond current of each hopping"})
    tr.to_netcdf(out["transport"], engine="scipy")
    return out


def load(path):
    return P.open_dataset(path)


def data_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_gid() == "data"]


def _cli(argv, capsys):
    code = main(["plot", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


# =============================================================================== default views
def test_sweep_is_a_spectrum_against_mu_with_units(files):
    ds = load(files["sweep"])
    fig = P.plot_dataset(ds, source=files["sweep"])
    (view,), (ax,) = fig.orbsym_views, fig.axes
    assert (view.name, view.kind, view.x, view.lines) == ("free_energy", "spectrum", "mu", None)
    (line,) = data_lines(ax)
    np.testing.assert_array_equal(line.get_xdata(), ds["mu"].values)
    np.testing.assert_array_equal(line.get_ydata(), ds["free_energy"].values)
    assert "t per row" in ax.get_ylabel() and ax.get_xlabel().startswith("mu")
    assert ax.get_yscale() == "linear" and "sweep.nc" in ax.get_title(loc="left") and "geometry: bilayer" in ax.get_title(loc="left")


def test_evolve_default_is_a_space_time_map_and_a_scalar_a_time_series(files):
    ds = load(files["evolve"])
    fig = P.plot_dataset(ds)
    (view,) = fig.orbsym_views
    assert (view.name, view.kind, view.x, view.y) == ("density", "space-time map", "column", "time")
    ax = fig.axes[0]
    (mesh,) = ax.collections
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(ds.sizes["time"], -1), ds["density"].sel(polarization="charge").values, rtol=0, atol=0)
    assert "1/t" in ax.get_ylabel() and "polarization=charge (first of 4)" in ax.get_title(loc="left")
    assert "engine: real-time Bloch" in ax.get_title(loc="left")
    fig = P.plot_dataset(ds, ["particle_number"])
    assert fig.orbsym_views[0].kind == "time series"
    (line,) = data_lines(fig.axes[0])
    np.testing.assert_array_equal(line.get_ydata(), ds["particle_number"].values)
    assert "1/t" in fig.axes[0].get_xlabel()


def test_response_scan_is_a_profile_with_one_line_per_scan_point(files):
    ds = load(files["response"])
    fig = P.plot_dataset(ds, ["density"])
    (view,), ax = fig.orbsym_views, fig.axes[0]
    assert (view.kind, view.x, view.lines) == ("profile", "column", "point")
    lines = data_lines(ax)
    assert [ln.get_label() for ln in lines] == ["point=0 (mu=-0.4)", "point=1 (mu=0.1)"]
    for k, ln in enumerate(lines):
        np.testing.assert_array_equal(ln.get_ydata(), ds["density"].isel(point=k).sel(part="total", polarization="charge").values)
    assert "part=total (first of 3)" in ax.get_title(loc="left") and "field: E_y" in ax.get_title(loc="left")


def test_first_value_with_data_is_chosen(files):
    ds = load(files["response"])
    assert np.isnan(ds["proper_current"].sel(polarization="charge")).all()  # the charge has no proper current
    fig = P.plot_dataset(ds, ["proper_current"])
    assert fig.orbsym_views[0].isel["polarization"] == 1
    assert "polarization=x (first with data of 4)" in fig.axes[0].get_title(loc="left")
    for k, ln in enumerate(data_lines(fig.axes[0])):
        np.testing.assert_array_equal(ln.get_ydata(), ds["proper_current"].isel(point=k).sel(polarization="x").values)


def test_finite_sample_is_a_map_over_x_and_row(files):
    ds = load(files["sites"])
    fig = P.plot_dataset(ds)
    (view,) = fig.orbsym_views
    assert (view.name, view.kind, view.x, view.y) == ("density", "map", "x", "row")
    ax = fig.axes[0]
    assert "cells" in ax.get_xlabel() and "cells" in ax.get_ylabel()
    cbar = fig.axes[1]
    assert "particles" in cbar.get_ylabel()  # the colour bar carries description and units
    np.testing.assert_array_equal(np.asarray(ax.collections[0].get_array()).reshape(3, 4), ds["density"].sel(polarization="charge", site="A").values.T)


def test_generic_lines_bands_and_transport_like_files(files):
    ds = load(files["generic"])
    fig = P.plot_dataset(ds)  # J(gamma, N_x): no known axis -> the longest numeric dimension
    v = fig.orbsym_views[0]
    assert (v.name, v.kind, v.x, v.lines) == ("J", "lines", "N_x", "gamma")
    assert [ln.get_label() for ln in data_lines(fig.axes[0])] == ["gamma=1", "gamma=0.3"]
    assert "RKKY coupling [t per row]" in fig.axes[0].get_ylabel()
    fig = P.plot_dataset(ds, ["levels"])  # bands: every level is a line, even beyond MAX_LINES
    assert len(data_lines(fig.axes[0])) == 10 > P.MAX_LINES and fig.orbsym_views[0].x == "k"
    tr = load(files["transport"])
    fig = P.plot_dataset(tr, ["transmission", "bond_current"])
    # no numeric dimension left: the first short labeled one (part) gives the lines
    assert [(v.kind, v.x, v.lines) for v in fig.orbsym_views] == [("spectrum", "energy", None), ("profile", "x", "part")]
    assert len(fig.axes) == 2 and "polarization=charge (first of 4)" in fig.axes[1].get_title(loc="left")
    assert [ln.get_label() for ln in data_lines(fig.axes[1])] == ["part=response", "part=equilibrium"]
    assert "T(E) per transverse cell [1]" in fig.axes[0].get_ylabel()


# =============================================================================== --sel, --x, --log
def test_sel_by_value_aux_coordinate_list_and_index(files):
    ds = load(files["response"])
    fig = P.plot_dataset(ds, ["density"], [("mu", "0.1"), ("part", "fermi_sea"), ("polarization", "z")])
    v = fig.orbsym_views[0]
    assert v.lines is None and v.isel == {"point": 1, "part": 2, "polarization": 3}
    (ln,) = data_lines(fig.axes[0])
    np.testing.assert_array_equal(ln.get_ydata(), ds["density"].isel(point=1).sel(part="fermi_sea", polarization="z").values)
    assert "mu=0.1" in fig.axes[0].get_title(loc="left")
    fig = P.plot_dataset(ds, ["density"], ["polarization=x,z", "point=0"])  # a list: one line per value
    assert [ln.get_label() for ln in data_lines(fig.axes[0])] == ["polarization=x", "polarization=z"]
    gen = load(files["generic"])
    fig = P.plot_dataset(gen, ["levels"], ["level=3"])  # no coordinate: an index
    (ln,) = data_lines(fig.axes[0])
    np.testing.assert_array_equal(ln.get_ydata(), gen["levels"].isel(level=3).values)


def test_x_forces_the_axis_and_sel_turns_a_map_into_a_profile(files):
    ds = load(files["evolve"])
    fig = P.plot_dataset(ds, ["density"], ["column=0,2"], x="time")
    v = fig.orbsym_views[0]
    assert (v.kind, v.x, v.lines) == ("time series", "time", "column")
    lines = data_lines(fig.axes[0])
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[1].get_ydata(), ds["density"].sel(polarization="charge").isel(column=2).values)
    fig = P.plot_dataset(ds, ["density"], ["time=1", "polarization=z"])
    v = fig.orbsym_views[0]
    assert (v.kind, v.x) == ("profile", "column")
    np.testing.assert_array_equal(data_lines(fig.axes[0])[0].get_ydata(), ds["density"].sel(time=1.0, polarization="z").values)


def test_log_plots_absolute_values_and_drops_zeros():
    ds = xr.Dataset({"j": (("x",), np.array([-1e-3, 0.0, 2e-6, -4e-9]), {"units": "t"})}, coords={"x": np.arange(4)})
    fig = P.plot_dataset(ds, log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel().startswith("|j|") and "[t]" in ax.get_ylabel()
    y = data_lines(ax)[0].get_ydata()
    np.testing.assert_array_equal(y[[0, 2, 3]], [1e-3, 2e-6, 4e-9])
    assert np.isnan(y[1])
    fig = P.plot_dataset(ds)
    assert fig.axes[0].get_yscale() == "linear"
    np.testing.assert_array_equal(data_lines(fig.axes[0])[0].get_ydata(), ds["j"].values)


# =============================================================================== floor
def _floor_artists(ax):
    band = [p for p in ax.patches if p.get_gid() == "floor_band"]
    line = [ln for ln in ax.get_lines() if ln.get_gid() == "floor"]
    return band, line


def test_fig2_floor_is_drawn_for_the_shown_selection(files):
    ds = load(files["fig2"])
    for sel, log in (((), True), (("config=x|z", "polarization=y"), False)):
        fig = P.plot_dataset(ds, sel=sel, log=log)
        ax, v = fig.axes[0], fig.orbsym_views[0]
        assert (v.x, v.lines) == ("x", "gamma")
        expected = float(ds["finite_N_y_floor"].isel(config=v.isel["config"], polarization=v.isel["polarization"]).max())
        band, (line,) = _floor_artists(ax)
        assert len(band) == 1 and line.get_ydata()[0] == pytest.approx(expected, rel=1e-12)
        assert f"finite-size floor {expected:.2g}" in line.get_label() and "finite_N_y_floor" in line.get_label()
        assert line.get_label() in [t.get_text() for t in ax.get_legend().get_texts()]
        b = band[0]
        y = np.array([b.get_y(), b.get_y() + b.get_height()]) if hasattr(b, "get_height") else b.get_xy()[:, 1]
        assert y.max() == pytest.approx(expected) and (y.min() == pytest.approx(-expected) if not log else y.min() > 0)
    assert v.isel["config"] == 1 and v.isel["polarization"] == 1


@pytest.mark.parametrize("how", ["attr_number", "attr_variable", "companion", "global"])
def test_floor_conventions(how):
    x = np.arange(6)
    ds = xr.Dataset({"J": (("gamma", "N_x"), np.outer([1, 2], 10.0 ** -x), {"units": "t"}), "other": (("N_x",), x * 1.0)},
                    coords={"gamma": [1.0, 0.5], "N_x": x})
    if how == "attr_number":
        ds["J"].attrs[P.FLOOR_ATTR] = 3e-4
        expected = 3e-4
    elif how == "attr_variable":
        ds["my_floor_values"] = (("gamma",), [1e-5, 2e-4])
        ds["J"].attrs[P.FLOOR_ATTR] = "my_floor_values"
        expected = 2e-4
    elif how == "companion":
        ds["J_finite_size_floor"] = (("gamma",), [1e-5, 2e-4])
        expected = 2e-4
    else:
        ds.attrs[P.FLOOR_ATTR] = 5e-3
        expected = 5e-3
    fig = P.plot_dataset(ds, ["J"], log=True)
    band, (line,) = _floor_artists(fig.axes[0])
    assert line.get_ydata()[0] == pytest.approx(expected)
    fig = P.plot_dataset(ds, ["J"], ["gamma=1"], log=True)  # selected like the variable
    assert _floor_artists(fig.axes[0])[1][0].get_ydata()[0] == pytest.approx(1e-5 if how in ("attr_variable", "companion") else expected)
    bare = ds.drop_vars([n for n in ds.data_vars if n not in ("J", "other")])
    bare.attrs = {}
    if how == "attr_variable":  # the attribute names a variable the file lacks: refused, naming it
        with pytest.raises(ValueError, match="finite_size_floor='my_floor_values' is neither a number nor a variable"):
            P.plot_dataset(bare, ["J"])
        return
    fig = P.plot_dataset(bare, ["J"])
    assert bool(_floor_artists(fig.axes[0])[1]) == (how == "attr_number")


def test_no_floor_without_one_and_error_band_and_map_floor():
    ds = xr.Dataset({"F": (("mu",), np.linspace(-1, 1, 5), {"units": "t"}), "F_error": (("mu",), np.full(5, 0.1))}, coords={"mu": np.linspace(-1, 0, 5)})
    ax = P.plot_dataset(ds).axes[0]
    assert _floor_artists(ax) == ([], [])
    (band,) = [c for c in ax.collections if c.get_gid() == "error_band"]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(-1.1) and ys.max() == pytest.approx(1.1)
    m = xr.Dataset({"d": (("x", "row"), np.outer(np.arange(4.0), np.ones(3)) * 1e-3, {"units": "1", P.FLOOR_ATTR: 1.5e-3})}, coords={"x": np.arange(4), "row": np.arange(3)})
    fig = P.plot_dataset(m)
    assert fig.orbsym_views[0].kind == "map"
    (text,) = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "finite-size floor 0.0015" in text


# =============================================================================== the command
def test_cli_writes_png_next_to_the_file_then_refuses_to_overwrite(files, tmp_path, capsys):
    src = tmp_path / "F.nc"
    src.write_bytes(files["sweep"].read_bytes())
    code, out, err = _cli([src], capsys)
    assert code == 0 and err == ""
    assert (tmp_path / "F.png").read_bytes()[:8] == PNG
    assert out.strip() == f"wrote {tmp_path / 'F.png'}: free_energy: spectrum against mu"
    before = (tmp_path / "F.png").stat().st_mtime_ns
    code, out, err = _cli([src, "--log"], capsys)
    assert code == 2 and out == "" and "exists" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "F.png").stat().st_mtime_ns == before
    code, out, err = _cli([src, "--log", "--force"], capsys)
    assert code == 0 and "|value| on a log axis" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["F.nc", "F.png"]  # no temporary file left


def test_cli_pdf_and_named_out_is_replaced(files, tmp_path, capsys):
    out_pdf = tmp_path / "fig.pdf"
    out_pdf.write_text("old")
    code, out, err = _cli([files["fig2"], "--var", "j", "--sel", "config=x|z", "--out", out_pdf], capsys)
    assert code == 0, err
    assert out_pdf.read_bytes()[:5] == b"%PDF-"
    assert "config=x|z" in out and "one line per gamma" in out and "other variables" not in out  # the floor is not a variable to list
    code, out, err = _cli([files["response"], "--out", tmp_path / "r.png"], capsys)
    assert code == 0 and "other variables (--var NAME): torque_dipole, net_torque, density" in out


def test_non_finite_or_unordered_coordinates_become_labeled_positions():
    ds = xr.Dataset({"F": (("N_y",), [1.0, 2.0, 3.0], {"units": "t per row"})}, coords={"N_y": [200.0, 800.0, np.inf]})
    ax = P.plot_dataset(ds).axes[0]
    np.testing.assert_array_equal(data_lines(ax)[0].get_xdata(), [0, 1, 2])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["200", "800", "inf"]
    m = xr.Dataset({"d": (("x", "row"), np.arange(6.0).reshape(3, 2))}, coords={"x": [0, 2, 1], "row": [0, 1]})
    ax = P.plot_dataset(m).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "2", "1"]


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["{d}/missing.nc"], 2, ["missing.nc", "does not exist"]),
        (["{d}"], 2, ["is not a file"]),
        (["{d}/text.nc"], 2, ["text.nc", "not a NetCDF file"]),
        (["{d}/img.png"], 2, ["a PNG image, not a NetCDF file"]),
        (["{d}/trunc.nc"], 2, ["not a readable NetCDF file"]),
        (["{sweep}", "--var", "nope"], 2, ["--var 'nope' is not a variable", "variables: free_energy"]),
        (["{sweep}", "--sel", "mu"], 2, ["--sel 'mu': expected DIM=VALUE"]),
        (["{sweep}", "--sel", "=1"], 2, ["expected DIM=VALUE"]),
        (["{sweep}", "--sel", "mu=7"], 2, ["'7' is not a value of 'mu'", "allowed: -1, -0.5, 0"]),
        (["{sweep}", "--sel", "gamma=1"], 2, ["no dimension 'gamma'", "dimensions: mu"]),
        (["{response}", "--var", "density", "--sel", "polarization=w"], 2, ["allowed: charge, x, y, z"]),
        (["{response}", "--var", "net_torque", "--sel", "column=1"], 2, ["no plotted variable has dimension 'column'"]),
        (["{response}", "--sel", "mu=0.1", "--sel", "mu=-0.4"], 2, ["--sel mu is given twice"]),
        (["{generic}", "--var", "levels", "--sel", "level=10"], 2, ["has no coordinate", "index 0..9"]),
        (["{generic}", "--var", "J", "--x", "time"], 2, ["--x time", "no dimension 'time'", "gamma, N_x"]),
        (["{sweep}", "--out", "{d}/fig.jpg"], 2, ["must end in .png or .pdf"]),
        (["{sweep}", "--out", "{d}/text.nc/fig.png"], 2, ["--out", "not a directory"]),
        (["{sweep}", "--out", "{d}/"], 2, ["is a directory"]),
    ],
)
def test_cli_refusals_one_line(files, tmp_path, capsys, argv, code, words):
    (tmp_path / "text.nc").write_text("time,value\n0,1\n")
    (tmp_path / "img.png").write_bytes(PNG + b"\0" * 20)
    (tmp_path / "trunc.nc").write_bytes(files["sweep"].read_bytes()[:40])
    subs = {"d": tmp_path, **{k: v for k, v in files.items()}}
    got, out, err = _cli([a.format(**subs) for a in argv], capsys)
    assert got == code and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("orbsym: error: ") and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not list(tmp_path.glob("*.png.*")) and not (tmp_path / "fig.jpg").exists()


def test_cli_failed_write_exits_1_and_leaves_nothing(files, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    def full(self, fname, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    code, out, err = _cli([files["sweep"], "--out", tmp_path / "x.png"], capsys)
    assert code == 1 and err.startswith("orbsym: error: ") and "cannot write" in err and "x.png" in err and "disk full" in err
    assert len(err.strip().splitlines()) == 1 and out == ""
    assert list(tmp_path.iterdir()) == []


def test_scalar_and_text_variables_are_refused(files):
    ds = load(files["sites"])
    value = f"{float(ds['free_energy']):.6g}"
    with pytest.raises(ValueError, match=re.escape("variable 'free_energy' has no dimension of more than one value left to plot (dimensions: none, a scalar); its value: " + value)):
        P.plot_dataset(ds, ["free_energy"])
    fig = P.plot_dataset(ds, ["bond_present"], ["bond=A->A (0, 1)"])  # an integer flag on request; a bond name with a comma
    assert fig.orbsym_views[0].isel["bond"] == 1
    ds = xr.Dataset({"name": (("x",), np.array(["a", "b"]))})
    with pytest.raises(ValueError, match="'name'.*not numeric"):
        P.plot_dataset(ds, ["name"])


def test_parameter_grid_is_a_map_small_grid_lines():
    rng = np.random.default_rng(3)
    big = xr.Dataset({"F": (("theta", "phi"), rng.normal(size=(7, 9)), {"units": "t per row"})},
                     coords={"theta": np.linspace(0, np.pi, 7), "phi": np.linspace(0, 2 * np.pi, 9)})
    fig = P.plot_dataset(big)
    v = fig.orbsym_views[0]
    assert (v.kind, v.x, v.y) == ("map", "phi", "theta")
    np.testing.assert_array_equal(np.asarray(fig.axes[0].collections[0].get_array()).reshape(7, 9), big["F"].values)
    assert "t per row" in fig.axes[1].get_ylabel()
    small = big.isel(theta=slice(0, 4), phi=slice(0, 5))  # Fig. 3 at a tiny grid: one line per theta
    v = P.plot_dataset(small).orbsym_views[0]
    assert (v.kind, v.x, v.lines) == ("lines", "phi", "theta")


def test_all_nan_and_all_zero_are_stated_in_the_title():
    ds = xr.Dataset({"a": (("x",), [np.nan] * 3), "b": (("x",), [0.0] * 3)}, coords={"x": [0, 1, 2]})
    assert "no finite value (all NaN)" in P.plot_dataset(ds, ["a"]).axes[0].get_title(loc="left")
    assert "every value is zero" in P.plot_dataset(ds, ["b"], log=True).axes[0].get_title(loc="left")
    assert "every value is zero" not in P.plot_dataset(ds, ["b"]).axes[0].get_title(loc="left")
    with pytest.raises(ValueError, match="no variable has a finite value and a dimension of more than one value"):
        P.choose_variable(ds[["a"]])  # an all-NaN variable is never the default


def test_complex_sweep_variables_are_recombined_and_the_real_part_drawn(tmp_path):
    from orbsym.workflows.sweeps import save

    z = np.array([1 + 2j, -3 + 0.5j, 0.25 - 1j])
    save(xr.Dataset({"chi": (("mu",), z, {"units": "t"})}, coords={"mu": [-0.2, 0.0, 0.2]}), tmp_path / "c.nc")
    ds = P.open_dataset(tmp_path / "c.nc")
    assert list(ds.data_vars) == ["chi"] and ds["chi"].attrs == {"units": "t"}
    np.testing.assert_array_equal(ds["chi"].values, z)
    ax = P.plot_dataset(ds).axes[0]
    np.testing.assert_array_equal(data_lines(ax)[0].get_ydata(), z.real)
    assert "complex values: real part shown" in ax.get_title(loc="left")
