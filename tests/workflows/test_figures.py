"""orbsym.workflows.figures and the ``orbsym figure`` / ``orbsym reproduce`` commands: files, parameters in
the CSV, atomic output, one-line usage errors, and fast paths against slow paths."""

import os

import numpy as np
import pytest

from orbsym import cli
from orbsym.workflows.figures import fig2, fig3, fig4, fig5, module
from orbsym.workflows.figures.common import free_energy_vs_mu, read_csv, sign_changes
from orbsym.systems import bilayer, solve

SMALL = ["--N-y", "24", "--quick", "--no-progress"]


def _run(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    "n, extra",
    [
        ("2", ["--N-x", "7", "--gamma", "1,0.5", "--current", "eq7", "--interface", "metal", "--log"]),
        ("3", ["--N-x", "5", "--grid", "4x5"]),
        ("4", ["--N-x", "5", "--mu-range=-1:1:11"]),
        ("5", ["--N-x-range", "3:6", "--gamma", "1,0.3"]),
    ],
)
def test_figure_command_writes_png_pdf_csv_with_parameters(tmp_path, capsys, n, extra):
    rc, out, err = _run(["figure", n, "--out", str(tmp_path)] + SMALL + extra, capsys)
    assert rc == 0, err
    names = sorted(os.listdir(tmp_path))
    assert names == [f"fig{n}.csv", f"fig{n}.nc", f"fig{n}.pdf", f"fig{n}.png"]  # the resume state is gone
    assert (tmp_path / f"fig{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / f"fig{n}.pdf").read_bytes()[:5] == b"%PDF-"
    meta, columns, rows = read_csv(tmp_path / f"fig{n}.csv")
    assert meta["figure"] == f"Fig. {n}"
    assert meta["parameters"]["N_y"] == 24
    assert meta["parameters"]["T"] == 0.01
    assert meta["interface"] in ("fm", "metal")
    assert rows and all(len(r) == len(columns) for r in rows)
    assert f"Fig. {n}" in out
    if n == "2":
        assert meta["current_definition"] == "eq7" and meta["interface"] == "metal"
        assert meta["parameters"]["gammas"] == [1.0, 0.5]
        assert columns == ["m_L", "m_R", "gamma", "x", "j_x", "j_y", "j_z"]
        assert meta["parameters"]["log"] is True


def test_reproduce_quick_writes_all_figures(tmp_path, capsys):
    rc, out, err = _run(["reproduce", "--out", str(tmp_path / "figs"), "--quick", "--N-y", "16", "--figures", "2,4"], capsys)
    assert rc == 0, err
    assert sorted(os.listdir(tmp_path / "figs")) == ["fig2.csv", "fig2.nc", "fig2.pdf", "fig2.png", "fig4.csv", "fig4.nc", "fig4.pdf", "fig4.png"]
    meta, _, _ = read_csv(tmp_path / "figs" / "fig2.csv")
    assert meta["current_definition"] == "bond"
    assert "total" in out


def test_interrupted_save_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    """A failure in the middle of writing the PDF leaves the old files untouched and no temporary;
    the figure's files are one set (orbsym.io.atomic_files), so the complete PNG is not published
    beside the old PDF either, and the message names the file."""
    from matplotlib.figure import Figure

    (tmp_path / "fig4.pdf").write_bytes(b"old pdf")
    real = Figure.savefig

    def failing(self, fname, *a, **kw):
        if kw.get("format") == "pdf":
            with open(fname, "wb") as fh:
                fh.write(b"%PDF-1.4 half")
            raise OSError("disk full (simulated)")
        return real(self, fname, *a, **kw)

    monkeypatch.setattr(Figure, "savefig", failing)
    rc, out, err = _run(["figure", "4", "--out", str(tmp_path), "--N-x", "4", "--mu-range=-1:1:5"] + SMALL, capsys)
    assert rc == 1
    assert "disk full" in err and "fig4.pdf" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "fig4.pdf").read_bytes() == b"old pdf"
    assert not (tmp_path / "fig4.csv").exists()
    # no new PNG beside the old PDF (the set is published together), no temporary; the finished
    # sweep stays in the resume state, so a re-run only re-plots
    assert sorted(os.listdir(tmp_path)) == [".orbsym-resume", "fig4.pdf"]


@pytest.mark.parametrize(
    "argv",
    [
        ["figure", "7"],
        ["figure", "two"],
        ["figure", "2", "--w", "0.3"],
        ["figure", "3", "--current", "eq7"],
        ["figure", "4", "--gamma", "0.3,0.5"],
        ["figure", "4", "--mu-range", "a:b:c"],
        ["figure", "4", "--mu-range", "1:0:5"],
        ["figure", "3", "--grid", "1x5"],
        ["figure", "3", "--panels", "fm"],
        ["figure", "2", "--configs", "x-y"],
        ["figure", "2", "--configs", "x:q"],
        ["figure", "2", "--N-y", "0"],
        ["figure", "2", "--T", "-1"],
        ["figure", "2", "--interface", "nm"],
        ["figure", "5", "--N-x-range", "2:9"],
        ["figure", "2", "--workers", "0"],
        ["reproduce", "--figures", "2,7"],
    ],
)
def test_bad_options_exit_2_with_one_line(argv, capsys, tmp_path):
    rc, out, err = _run(argv + ["--out", str(tmp_path)], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbsym: error:")
    assert os.listdir(tmp_path) == []


def test_module_lookup():
    assert module("3") is fig3
    with pytest.raises(ValueError, match="allowed: 2, 3, 4, 5"):
        module(1)


def test_free_energy_vs_mu_matches_direct_solves():
    """F(mu) from one diagonalization of the mu = 0 system equals a direct solve at each mu."""
    kw = dict(gamma=0.3, m_FM="x", N_x=6, N_y=30)
    mus = [-1.3, -0.2, 0.7]
    fast = free_energy_vs_mu(bilayer(mu=0.0, **kw), 0.05, mus)
    slow = [solve(bilayer(mu=m, **kw), 0.05).free_energy() for m in mus]
    assert fast == pytest.approx(slow, abs=1e-11)
    with pytest.raises(ValueError, match="mu = 0"):
        free_energy_vs_mu(bilayer(mu=0.1, **kw), 0.05, mus)


def test_fig3_symmetry_reduction_matches_full_grid():
    """The symmetry-reduced Fig. 3 grid equals diagonalizing every point."""
    kw = dict(N_x=5, N_y=20, n_theta=5, n_phi=7, gamma=0.4, w=0.3)
    a = fig3.compute(symmetry=True, **kw)
    b = fig3.compute(symmetry=False, **kw)
    for panel in ("nm", "am"):
        np.testing.assert_allclose(a["F"][panel], b["F"][panel], atol=1e-11, rtol=0)
        assert a["symmetry_check"][panel] < 1e-11
    assert b["symmetry_check"]["nm"] is None
    assert a["n_solves"] < b["n_solves"]


def test_parallel_workers_give_the_same_numbers():
    kw = dict(N_x_min=3, N_x_max=5, N_y=20, gammas=(1.0, 0.5))
    a = fig5.compute(workers=1, **kw)
    b = fig5.compute(workers=2, **kw)
    for g in (1.0, 0.5):
        np.testing.assert_array_equal(a["J"][g], b["J"][g])


def test_fig2_positions_and_plotted_polarization():
    d = fig2.compute(N_x=6, N_y=16, gammas=(1.0,), configs=(("x", "y"), ("y", "y")))
    np.testing.assert_allclose(d["x"], np.arange(5) + 0.5)
    assert d["plotted"] == ["z", None]
    e = fig2.compute(N_x=6, N_y=16, gammas=(1.0,), configs=(("x", "y"),), current="eq7")
    assert np.isnan(e["currents"][(0, 1.0)]["z"][[0, -1]]).all()
    assert len(e["x"]) == 6


def test_fig4_switch_points_and_sign_changes():
    d = {"mu": np.array([0.0, 1.0, 2.0]), "F": {"x": np.array([0.0, 0.0, 0.0]), "y": np.array([1.0, -1.0, -1.0]), "z": np.array([2.0, 2.0, 2.0])}}
    assert fig4.grid_switch_points(d) == [(0.5, "x", "y")]
    assert sign_changes([0, 1, 2], [1.0, -1.0, -3.0]) == [0.5]


def test_quick_from_env(monkeypatch):
    from orbsym.workflows.figures.common import quick_from_env

    monkeypatch.delenv("ORBSYM_QUICK", raising=False)
    assert quick_from_env() is False
    monkeypatch.setenv("ORBSYM_QUICK", "1")
    assert quick_from_env() is True
    monkeypatch.setenv("ORBSYM_QUICK", "0")
    assert quick_from_env() is False


def test_unknown_parameter_named():
    with pytest.raises(ValueError, match="unknown parameter 'wq'"):
        fig2.compute(wq=1)
