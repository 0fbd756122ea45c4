"""API side of the figure/sweep input checks: the list parsers, each figure's ``check`` (no solve),
output paths checked before computing (``figN.run``, ``reproduce``, ``sweep(out=...)``), and
:func:`orbsym.io.check_output_file` / :func:`orbsym.io.remove_leftover_temps`."""

import math

import pytest

from orbsym.io import check_output_dir, check_output_file, remove_leftover_temps, temp_pattern
from orbsym.workflows import figures
from orbsym.workflows.figures import common, fig2, fig3, fig4, fig5
from orbsym.workflows.sweeps.inputs import parse_real, split_list

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--g", "1,0.5"), ["1", "0.5"]),
        (("--g", " 1 , 0.5 "), ["1", "0.5"]),
        (("--r", "-3:3:601", ":", "field"), ["-3", "3", "601"]),
        (("--g", "x"), ["x"]),
    ],
)
def test_split_list_keeps_entries(args, expected):
    assert split_list(*args) == expected


@pytest.mark.parametrize(
    "args, words",
    [
        (("--gamma", "1,,0.5"), ["--gamma '1,,0.5'", "empty entry at position 2"]),
        (("--gamma", ",1"), ["empty entry at position 1"]),
        (("--gamma", "1,"), ["empty entry at position 2"]),
        (("--gamma", "1,\t,2"), ["empty entry at position 2"]),
        (("--gamma", ","), ["empty entry at position 1"]),
        (("--gamma", ""), ["--gamma is empty"]),
        (("--gamma", None), ["--gamma is empty"]),
        (("--gamma", "   ", ",", "entry", "1,0.5"), ["--gamma is empty", "e.g. --gamma 1,0.5"]),
        (("--mu-range", "1::3", ":", "field"), ["--mu-range '1::3'", "empty field at position 2"]),
    ],
)
def test_split_list_refuses_empty_entries(args, words):
    with pytest.raises(ValueError) as e:
        split_list(*args)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize(
    "token, words",
    [("nan", ["not a finite number"]), ("-inf", ["not a finite number"]), ("1e999", ["not a finite number"]), ("1j", ["complex"]), ("1+2j", ["complex"]), ("abc", ["not a number"]), ("", ["not a number"])],
)
def test_parse_real_refuses(token, words):
    with pytest.raises(ValueError) as e:
        parse_real("--gamma", token, f"1,{token}")
    assert str(e.value).startswith(f"--gamma '1,{token}': ")
    for w in words:
        assert w in str(e.value)
    assert parse_real("--gamma", " -0.5 ") == -0.5


# ------------------------------------------------------------------------------ figN.check
CHECKS = [
    ("fig2 gammas nan", fig2, dict(gammas=(1.0, NAN)), ["gammas", "finite"]),
    ("fig2 gammas complex", fig2, dict(gammas=(1j,)), ["gammas", "complex"]),
    ("fig2 gammas empty", fig2, dict(gammas=()), ["gammas", "at least one"]),
    ("fig2 gammas a string", fig2, dict(gammas="1,0.5"), ["gammas", "sequence"]),
    ("fig2 config axis typo", fig2, dict(configs=(("x", "q"),)), ["'q'", "x, y, z"]),
    ("fig2 configs not pairs", fig2, dict(configs=(("x", "y", "z"),)), ["configs", "pairs"]),
    ("fig2 configs empty", fig2, dict(configs=()), ["configs", "at least one"]),
    ("fig2 current typo", fig2, dict(current="eq8"), ["current definition", "did you mean 'eq7'"]),
    ("fig2 unknown parameter", fig2, dict(gama=0.3), ["'gama'", "allowed"]),
    ("fig3 panel typo", fig3, dict(panels=("nmm",)), ["panel 'nmm'", "did you mean 'nm'"]),
    ("fig3 panels twice", fig3, dict(panels=("am", "am")), ["twice"]),
    ("fig3 panels a string", fig3, dict(panels="nm"), ["panels", "sequence"]),
    ("fig3 gamma nan", fig3, dict(gamma=NAN), ["gamma", "finite"]),
    ("fig3 w complex", fig3, dict(w=0.4j), ["w", "complex"]),
    ("fig4 mu_min nan", fig4, dict(mu_min=NAN), ["mu_min", "finite"]),
    ("fig4 mu_max inf", fig4, dict(mu_max=INF), ["mu_max", "finite"]),
    ("fig4 gamma complex", fig4, dict(gamma=1j), ["gamma", "complex"]),
    ("fig5 axis typo", fig5, dict(axis="yy"), ["common FM axis 'yy'", "did you mean 'y'"]),
    ("fig5 gammas inf", fig5, dict(gammas=(INF,)), ["gammas", "finite"]),
    ("common T nan", fig5, dict(T=NAN), ["temperature T", "finite"]),
    ("common T negative", fig4, dict(T=-1.0), ["temperature T", ">= 0"]),
    ("common mu complex", fig2, dict(mu=0.1j), ["mu", "complex"]),
    ("common m inf", fig3, dict(m=INF), ["m", "finite"]),
    ("common interface typo", fig4, dict(interface="metl"), ["interface rule 'metl'", "did you mean 'metal'"]),
]


@pytest.mark.parametrize("mod, params, words", [pytest.param(m, p, w, id=i) for i, m, p, w in CHECKS])
def test_figure_check_refuses_without_solving(mod, params, words, monkeypatch):
    monkeypatch.setattr(common.Runner, "sweep", lambda *a, **k: pytest.fail("a solve ran"))
    with pytest.raises(ValueError) as e:
        mod.check(quick=True, **params)
    for w in words:
        assert w in str(e.value)
    with pytest.raises(ValueError) as e2:  # compute checks the same way first
        mod.compute(quick=True, **params)
    assert str(e2.value) == str(e.value)


def test_figure_check_keeps_the_parameters():
    p = fig2.check(quick=True, gammas=[1, 0.5], configs=[["x", "y"]])
    assert p["gammas"] == (1.0, 0.5) and p["configs"] == (("x", "y"),) and p["N_y"] == 200
    assert fig3.check(panels=["am"])["panels"] == ("am",)


# ------------------------------------------------------------------------------ outputs before computing
@pytest.fixture
def no_solve(monkeypatch):
    for n in figures.FIGURES:
        monkeypatch.setattr(figures.module(n), "compute", lambda *a, **k: pytest.fail("computed"))
    from orbsym.workflows.sweeps import core

    monkeypatch.setattr(core, "_compute", lambda *a, **k: pytest.fail("computed"))


@pytest.mark.parametrize("call", ["run", "reproduce"])
@pytest.mark.parametrize("kind, words", [("file", ["is a file"]), ("under a file", ["Not a directory"])])
def test_api_figure_output_dir_checked_first(call, kind, words, tmp_path, no_solve):
    f = tmp_path / "afile"
    f.write_text("x")
    out = f if kind == "file" else f / "sub"
    with pytest.raises(ValueError) as e:
        fig4.run(out) if call == "run" else figures.reproduce(out, figures=(4,))
    assert f"out_dir '{out}'" in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_api_reproduce_checks_every_figure_first(tmp_path, no_solve):
    with pytest.raises(ValueError, match="temperature T"):
        figures.reproduce(tmp_path, figures=(2, 4), T=NAN)


@pytest.mark.parametrize("kind", ["under a file", "deeper under a file", "empty", "directory"])
def test_sweep_api_output_checked_first(kind, tmp_path, no_solve):
    from orbsym.workflows.sweeps import sweep

    f = tmp_path / "afile"
    f.write_text("x")
    out = {"under a file": f / "F.nc", "deeper under a file": f / "a" / "F.nc", "empty": "", "directory": tmp_path}[kind]
    with pytest.raises(ValueError) as e:
        sweep("bilayer", {"mu": [0.0, 0.1]}, "free_energy", params={"N_x": 3, "N_y": 4}, out=out)
    assert f"sweep output '{out}'" in str(e.value)


@pytest.mark.parametrize(
    "path, words",
    [
        ("", ["--output is empty"]),
        ("-", ["--output '-'"]),
        ("{D}", ["--output '{D}' is a directory"]),
        ("{D}/new/", ["--output '{D}/new/' is a directory"]),
        ("{F}/x.csv", ["--output '{F}/x.csv'", "not a directory"]),
        ("{F}/a/x.csv", ["--output '{F}/a/x.csv'", "Not a directory"]),
    ],
)
def test_check_output_file(path, words, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    fill = {"D": str(tmp_path), "F": str(f)}
    with pytest.raises(ValueError) as e:
        check_output_file(path.format(**fill), "--output", "out.csv")
    for w in words:
        assert w.format(**fill) in str(e.value)
    assert check_output_file(tmp_path / "made" / "x.csv", "--output") == tmp_path / "made" / "x.csv"
    assert (tmp_path / "made").is_dir()


def test_check_output_file_api_wording(tmp_path):
    with pytest.raises(ValueError, match=r"^path '.*' is a directory; give a file name, e.g. 'F.nc'$"):
        check_output_file(tmp_path, "path", "F.nc")
    with pytest.raises(ValueError, match=r"^out_dir '.*afile' is a file"):
        f = tmp_path / "afile"
        f.write_text("")
        check_output_dir(f, "out_dir")


def test_remove_leftover_temps_only_matching(tmp_path):
    target = tmp_path / "fig[2].png"  # glob characters in the name are literal
    ours = [tmp_path / ".fig[2].png.abc.tmp.png", tmp_path / ".fig[2].png.x_y.tmp.png"]
    other = [tmp_path / ".fig2.png.abc.tmp.png", tmp_path / ".fig[2].png.abc.tmp.pdf", tmp_path / "fig[2].png"]
    for p in ours + other:
        p.write_bytes(b"")
    assert temp_pattern(target).startswith(".fig[[]2].png.")
    assert sorted(remove_leftover_temps([target])) == sorted(ours)
    assert all(p.exists() for p in other) and not any(p.exists() for p in ours)
    assert remove_leftover_temps([target]) == []
