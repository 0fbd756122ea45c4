"""The figures' text and markers, checked on the matplotlib objects.

* every title, suptitle and axis label lies inside the figure after one draw (as ``savefig`` does);
* a figure computed below the paper's ``N_y`` carries the red note "not converged" naming N_y,
  "quick mode" when it is a quick run, and none at the paper's ``N_y``;
* Fig. 3: each panel's legend names exactly the minimum markers drawn in that panel, and the
  suptitle describes no marker;
* Fig. 5: no value below the finite-N_y floor is drawn, the band below it is shaded and named in
  the legend, and the floor agrees with an independent estimate (dense solves at a large N_y).
"""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from orbsym.conventions import PAPER_PARAMETERS
from orbsym.workflows.figures import common, fig2, fig3, fig4, fig5


def _clipped_texts(fig):
    """Texts (suptitle, titles, axis labels) whose rendered box leaves the figure (1 px slack)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    fb = fig.bbox
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
    out = []
    for t in texts:
        if not t.get_text():
            continue
        b = t.get_window_extent(r)
        if b.x0 < fb.x0 - 1 or b.y0 < fb.y0 - 1 or b.x1 > fb.x1 + 1 or b.y1 > fb.y1 + 1:
            out.append(t.get_text())
    return out


def _heading(fig):
    """The figure's heading: the suptitle, else the first axes' title."""
    return fig._suptitle.get_text() if fig._suptitle is not None else fig.axes[0].get_title()


def _ylabels_present(fig):
    return all(ax.get_ylabel() for ax in fig.axes if ax.get_label() != "<colorbar>")


# ------------------------------------------------------------------------------ Fig. 2
@pytest.fixture(scope="module")
def fig2_one_panel():
    """The notebook's second Fig. 2 figure (one configuration, Eq. 7 current, interface 'metal'), small."""
    return fig2.compute(quick=True, N_x=7, N_y=16, gammas=(1.0, 0.5), configs=(("x", "y"),), current="eq7", interface="metal", show_progress=False)


def test_fig2_one_panel_title_fits_the_figure(fig2_one_panel):
    fig = fig2.plot(fig2_one_panel)
    assert fig._suptitle.get_text().count("\n") >= 2  # wrapped, not one long line
    assert _clipped_texts(fig) == []
    assert _ylabels_present(fig)


def test_fig2_quick_below_paper_N_y_is_marked_not_converged(fig2_one_panel):
    head = _heading(fig2.plot(fig2_one_panel))
    assert head.startswith("quick mode: not converged")
    assert "$N_y = 16$" in head and f"$N_y = {PAPER_PARAMETERS['N_y']}$" in head
    assert fig2.plot(fig2_one_panel)._suptitle.get_color() == "C3"


def test_convergence_note_rules():
    paper = PAPER_PARAMETERS["N_y"]
    assert common.convergence_note({"params": {"N_y": paper}, "quick": True}) == ""
    assert common.convergence_note({"params": {"N_y": 2 * paper}}) == ""
    assert common.convergence_note({"params": {"N_y": 50}, "quick": False}).startswith("reduced size: not converged ($N_y = 50$")
    assert common.convergence_note({"params": {"N_y": 50}, "quick": True}).startswith("quick mode: not converged ($N_y = 50$")


def test_wrap_title_lines_fit_and_keep_mathtext_whole():
    parts = ["Fig. 9: a long heading,", "$N_x=25$,", "$N_y=800$,", "$T=0.01$,", "$\\mu=-0.2$,", "interface=fm"] * 3
    text = common.wrap_title(parts, 2.0, 9, note="quick mode: not converged ($N_y = 8$; paper: $N_y = 800$)")
    lines = text.split("\n")
    assert lines[0] == "quick mode: not converged"
    assert " ".join(lines[1:]).split(" ") == " ".join(["($N_y", "=", "8$;", "paper:", "$N_y", "=", "800$)"] + parts).split(" ")
    for line in lines:
        assert line.count("$") % 2 == 0, line  # no mathtext split across lines
        if " " in line:  # a line of several segments fits 94 % of the width
            assert common.text_width_points(line, 9) <= 0.94 * 2.0 * 72


# ------------------------------------------------------------------------------ Fig. 3
def _fig3_data(F_nm=None, F_am=None, n_theta=7, n_phi=13, quick=True):
    th = np.linspace(0, np.pi, n_theta)
    ph = np.linspace(0, 2 * np.pi, n_phi)
    T, P = np.meshgrid(th, ph, indexing="ij")
    F = {}
    if F_nm is not None:
        F["nm"] = F_nm(T, P)
    if F_am is not None:
        F["am"] = F_am(T, P)
    p = fig3.check(quick=quick, panels=tuple(F))
    return {"params": p, "theta": th, "phi": ph, "F": F, "quick": quick}


def _legend(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


def _stars(ax):
    return [ln for ln in ax.get_lines() if ln.get_marker() == "*"]


def _hlines(ax, color):
    return [ln for ln in ax.get_lines() if ln.get_marker() in ("None", None, "") and ln.get_color() == color and np.ptp(ln.get_ydata()) == 0]


def test_fig3_legend_names_only_the_markers_drawn_per_panel():
    data = _fig3_data(F_nm=lambda T, P: -np.sin(T) ** 2 * np.sin(P) ** 2, F_am=lambda T, P: -np.cos(T))  # +-y points; pole +z
    fig = fig3.plot(data)
    nm, am = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert _legend(nm) == ["minimum (direction)"] and len(_stars(nm)) == 2 and not _hlines(nm, "r")
    assert _legend(am) == ["minimum: pole +z"] and not _stars(am) and len(_hlines(am, "r")) == 1
    sup = fig._suptitle.get_text()
    for word in ("star", "\\star", "ring", "pole", "dashed", "red"):
        assert word not in sup, word
    assert _clipped_texts(fig) == []


def test_fig3_ring_panel_legend_and_marker():
    data = _fig3_data(F_am=lambda T, P: (T - np.pi / 3) ** 2)  # every phi at theta = 60 deg
    fig = fig3.plot(data)
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert _legend(ax) == ["ring of minima (every $\\phi$)"]
    rings = [ln for ln in _hlines(ax, "w") if ln.get_linestyle() == "--"]
    assert len(rings) == 1 and rings[0].get_ydata()[0] == pytest.approx(60.0)
    assert not _stars(ax)
    assert _clipped_texts(fig) == []


def test_fig3_note_only_below_paper_N_y():
    f = lambda T, P: -np.cos(T)  # noqa: E731
    assert "not converged" in _heading(fig3.plot(_fig3_data(F_am=f)))
    data = _fig3_data(F_am=f)
    data["params"]["N_y"] = PAPER_PARAMETERS["N_y"]
    assert "not converged" not in _heading(fig3.plot(data))


# ------------------------------------------------------------------------------ Fig. 4
def test_fig4_title_fits_and_is_marked():
    data = fig4.compute(quick=True, N_x=5, N_y=8, n_mu=21, show_progress=False)
    fig = fig4.plot(data)
    assert _heading(fig).startswith("quick mode: not converged ($N_y = 8$")
    assert _clipped_texts(fig) == []
    assert _ylabels_present(fig)


# ------------------------------------------------------------------------------ Fig. 5
@pytest.fixture(scope="module")
def fig5_small():
    return fig5.compute(quick=True, N_y=12, N_x_min=3, N_x_max=9, gammas=(1.0, 0.5), show_progress=False)


def test_fig5_floor_matches_dense_solves_at_large_N_y(fig5_small):
    """Independent estimate: the same sweep at N_y = 1200 stands in for N_y = inf (its own finite-size
    error, ~1e-9 t at N_y = 800, is far below the N_y = 12 floor)."""
    fine = fig5.compute(N_y=1200, N_x_min=3, N_x_max=9, gammas=(1.0, 0.5), show_progress=False)
    for g in (1.0, 0.5):
        est = np.max(np.abs(fig5_small["J"][g] - fine["J"][g]))
        assert fig5_small["floor"][g] == pytest.approx(est, rel=1e-4, abs=1e-8)
        assert fig5_small["floor"][g] > 1e-5  # N_y = 12 is far from converged


def test_fig5_draws_no_value_below_the_floor(fig5_small):
    fl = max(fig5_small["floor"].values())
    below = sum(int(np.sum(np.abs(J) < fl)) for J in fig5_small["J"].values())
    assert below > 0  # the test data has noise to hide
    fig = fig5.plot(fig5_small)
    lin, log = fig.axes[:2]
    for ax in (lin, log):
        for ln in ax.get_lines():
            if ln.get_marker() == "o":
                y = np.asarray(ln.get_ydata(), float)
                y = y[np.isfinite(y)]
                assert np.all(np.abs(y) >= fl), ax
        spans = [p for p in ax.patches if "finite-$N_y$ floor" in p.get_label()]
        assert len(spans) == 1
        ext = spans[0].get_path().transformed(spans[0].get_patch_transform()).get_extents()
        assert ext.y1 == pytest.approx(fl, rel=1e-12)
    assert any("finite-$N_y$ floor" in t and f"({below} values)" in t for t in _legend(log))
    assert _heading(fig).startswith("quick mode: not converged ($N_y = 12$")
    assert _clipped_texts(fig) == []
    assert _ylabels_present(fig)


def test_fig5_floor_in_netcdf(fig5_small):
    ds = fig5.dataset(fig5_small)
    for g in (1.0, 0.5):
        assert ds.finite_N_y_floor.sel(gamma=g).item() == fig5_small["floor"][g]
    assert ds.finite_N_y_floor.attrs["units"] == "t per row"


def test_fig5_plan_runs_no_floor_solve(monkeypatch):
    """Planning a figure (``plan_grids``) runs no solve, so no floor either."""
    import orbsym.rkky

    def boom(*a, **k):
        raise AssertionError("Lloyd's sweep run while planning")

    monkeypatch.setattr(orbsym.rkky, "rkky_vs_length", boom)
    grids = common.plan_grids(fig5, quick=True, N_y=12, N_x_min=3, N_x_max=5, gammas=(1.0,))
    assert len(grids) == 1 and list(grids[0][1]["N_x"]) == [3, 4, 5]


def test_fig5_summary_and_headline_mark_values_below_the_floor():
    """Lengths whose |J| lies below the finite-N_y floor are listed as such, and the headline does not
    quote them as values."""
    import numpy as np

    from orbsym.workflows.figures import fig5, headline

    Ns = np.arange(3, 16)
    J = {0.5: 1e-3 * np.exp(-0.9 * (Ns - 3)) * np.cos(Ns)}
    data = {"N_x": Ns, "J": J, "floor": {0.5: 1e-6}, "params": {"interface": "fm", "t": 1.0}}
    s = fig5.summary(data)[0.5]
    expect = [int(n) for n, j in zip(Ns, J[0.5]) if abs(j) < 1e-6]
    assert s["below_floor_N_x"] == expect and 15 in expect and 5 not in expect
    line = headline(5, data)
    assert "J(15)=below the finite-N_y floor" in line and "J(5)=" in line and "J(5)=below" not in line


def test_every_figure_and_sweep_variable_has_units_and_a_description(tmp_path):
    """The NetCDF contract of issue 22: units and a description on every variable figures and sweeps write."""
    import xarray as xr

    from orbsym.workflows.sweeps import sweep
    from orbsym.workflows.sweeps.core import describe_variable

    ds = sweep("bilayer", {"gamma": [0.3, 0.5]}, ["free_energy", "densities", "currents", "torques"], params={"N_y": 20, "N_x": 4})
    for v in ds.data_vars:
        assert ds[v].attrs.get("units") and ds[v].attrs.get("description"), v
    assert "bond current" in describe_variable("current_bond_x") and "Eq. 7" in describe_variable("current_eq7_x")
