"""Every notebook in notebooks/ runs top to bottom from a fresh kernel without an error.

The figure notebooks are run at reduced sizes (``ORBSYM_QUICK=1``); each cell has a timeout.
After the last cell a check cell (not stored in the notebook) inspects every pyplot figure still
open: every axes has a y label (unless its y tick labels are hidden by a shared axis) and every
title and axis label lies inside the figure.  No cell may print a ``TqdmWarning``.
"""

import json
import os
import pathlib

import pytest

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: Every notebook shipped in notebooks/.
OWN = ["derivation", "fig2", "fig3", "fig4", "fig5", "beyond_paper_soc", "orbital_hall", "transport", "orbital_pumping", "orbital_splitter", "films", "materials", "disorder"]
CELL_TIMEOUT = 120

#: Numbers the figure notebooks' text quotes, as the quick run must print them (the text is true
#: for what is shown: quick mode keeps the paper's N_y = 800 there).
QUOTED = {
    "fig2": ["N_y = 800", "x|y  gamma=1    j_z: left +4.01e-06  right +4.01e-06", "x|y  gamma=0.5  j_z: left -2.21e-10  right -5.45e-04   max |j| 5.5e-04 at bond 23"],
    "fig3": ["'minima': ['+y', '-y']", "'minima': ['-z']", "['+z']"],
    "fig4": ["lowest axis at mu = -0.2: y", "x -> y at mu = -1.197", "y -> x at mu = -0.222", "x -> z at mu = -2.374"],
    "fig5": ["finite-N_y floor: max |J(N_y = 800) - J(N_y = inf)|", "gamma = 1: sign changes near N_x = [3.87, 7.58, 11.09, 14.64]"],
    # the disorder notebook's text quotes its quick run (the seeds and sizes of tests/numeric/test_disorder_transport.py)
    "disorder": ["G(W = 0) = 5.000000 (L = 3), 5.000000 (L = 17)", "(steps 0.174, 0.295): mean free path l = 10.2 sites",
                 "localization length xi = 24.3 sites; std ln G = 0.66 -> 1.50", "lambda_m = 15.80 +- 0.00 a", "lambda_m = 11.22 +- 1.06 a",
                 "lambda_m = 6.12 +- 1.89 a", "every density inside its bound: True", "within 3 standard errors: True",
                 "sigma^Lz_xy = +0.154 +- 0.004", "sigma^Lz_xy = +0.145 +- 0.002", "sigma^Lz_xy = +0.144 +- 0.001"],
}

#: Run after the notebook's last cell: the labels and titles of every open pyplot figure.
FIGURE_CHECK = r"""
import json as _json
import matplotlib.pyplot as _plt
_report = []
for _n in _plt.get_fignums():
    _f = _plt.figure(_n)
    _f.canvas.draw()
    _r = _f.canvas.get_renderer()
    _fb = _f.bbox
    for _i, _ax in enumerate(_f.axes):
        if _ax.get_label() == "<colorbar>" or not _ax.get_visible():
            continue
        _ticks = any(_t.get_visible() and _t.get_text() for _t in _ax.get_yticklabels())
        _texts = [_ax.title, _ax._left_title, _ax._right_title, _ax.xaxis.label, _ax.yaxis.label]
        _out = [_t.get_text() for _t in _texts if _t.get_text() and not (
            _fb.x0 - 1 <= _t.get_window_extent(_r).x0 and _t.get_window_extent(_r).x1 <= _fb.x1 + 1
            and _fb.y0 - 1 <= _t.get_window_extent(_r).y0 and _t.get_window_extent(_r).y1 <= _fb.y1 + 1)]
        _report.append({"figure": _n, "axes": _i, "title": _ax.get_title(), "ylabel": _ax.get_ylabel(), "yticklabels": _ticks, "outside": _out})
print("ORBSYM_FIGURE_CHECK " + _json.dumps(_report))
"""


@pytest.fixture(scope="module", autouse=True)
def quick_env():
    old = {k: os.environ.get(k) for k in ("ORBSYM_QUICK", "MPLBACKEND", "OMP_NUM_THREADS", "PYTHONPATH")}
    os.environ["ORBSYM_QUICK"] = "1"
    # the kernel imports the orbsym under test (also when running from an uninstalled checkout)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([old["PYTHONPATH"]] if old["PYTHONPATH"] else []))
    os.environ["MPLBACKEND"] = "Agg"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _execute(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(FIGURE_CHECK))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


@pytest.mark.parametrize("name", OWN)
def test_notebook_runs_without_error(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    assert path.exists(), f"missing notebook {path}"
    nb = _execute(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    streams = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    assert not [t for t in streams if "TqdmWarning" in t or "IProgress not found" in t]
    report = [json.loads(t.split("ORBSYM_FIGURE_CHECK ", 1)[1]) for t in streams if "ORBSYM_FIGURE_CHECK " in t]
    assert len(report) == 1, "the figure check cell did not run"
    for ax in report[0]:
        assert ax["ylabel"] or not ax["yticklabels"], f"{name}: figure {ax['figure']} axes {ax['axes']} ({ax['title']!r}) has no y label"
        assert not ax["outside"], f"{name}: figure {ax['figure']} axes {ax['axes']}: clipped text {ax['outside']}"
    if name in QUOTED:
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert "quick (reduced sizes): True" in text
        for quoted in QUOTED[name]:
            assert quoted in text, f"{name}.ipynb no longer prints {quoted!r}"
    if name.startswith("fig"):
        images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert images, f"{name}.ipynb shows no figure"


def test_notebooks_are_stored_without_outputs():
    """Committed notebooks carry no outputs (they are regenerated by running them)."""
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(OWN)
    for name in OWN:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), name
