"""Rendering of the derivations and the committed derivations/ files."""

from pathlib import Path

import pytest

from orbsym.symbolic.render import FORMATS, PAPER_MODELS, render, render_generic, write_derivations

ROOT = Path(__file__).resolve().parents[2]


def test_committed_derivations_are_up_to_date(tmp_path):
    """Regenerate derivations/ and compare byte for byte: fails if the committed files are stale."""
    paths = write_derivations(tmp_path)
    assert {p.name for p in paths} == {f"{m}.md" for m in PAPER_MODELS} | {"generic.md"}
    for p in paths:
        committed = ROOT / "derivations" / p.name
        assert committed.exists(), f"missing {committed}; run `orbsym derive --write-all derivations`"
        assert committed.read_text(encoding="utf-8") == p.read_text(encoding="utf-8"), (
            f"{committed} is stale; run `orbsym derive --write-all derivations`"
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_formats_render_the_derived_torques(fmt):
    text = render("multiorbital", fmt)
    assert "|" in text and ("L_z" in text or "L}_z" in text)
    if fmt == "markdown":
        assert "$$" in text
    if fmt == "latex":
        assert "\\section*" in text and "\\[" in text
    if fmt == "text":
        assert "$" not in text and "\\dagger" not in text and "†" in text


def test_comparison_table_reports_eq11c_sign_and_eq7_continuum():
    text = render("multiorbital", "markdown")
    row_11c = next(line for line in text.splitlines() if line.startswith("| (11c)"))
    assert "disagrees" in row_11c and "sign" in row_11c
    row_11a = next(line for line in text.splitlines() if line.startswith("| (11a)"))
    assert "agrees" in row_11a
    assert "continuum limit only" in text
    assert "verified by the algebra" in text  # the central-difference remainder is a third difference


def test_altermagnet_comparison_finds_tau_z_zero():
    text = render("altermagnet", "markdown")
    assert "| AM text | agrees |" in text
    assert "\\tau_{z,n} = 0" in text


def test_ferromagnet_exchange_torque_is_cross_product():
    text = render("ferromagnet", "markdown")
    assert "\\times \\boldsymbol m" in text


def test_generic_document_has_eq7_table():
    text = render_generic("markdown")
    assert text.count("exact, torque = commutators") == 2


def test_bad_format_and_model():
    with pytest.raises(ValueError, match="unknown format 'pdf'; allowed: markdown, latex, text"):
        render("multiorbital", "pdf")
    with pytest.raises(ValueError, match="did you mean 'altermagnet'"):
        render("altermagnt")


@pytest.mark.parametrize("model", ["multiorbital", "altermagnet"])
def test_text_output_has_no_unconverted_latex_and_names_the_bond_direction_d(model):
    """Issue 14: `orbsym derive` text showed `fraci {t_x,J_a}2` and `tfrac14`, and the generic section
    wrote t_x / d_x for the bond direction d."""
    text = render(model, "text")
    leftovers = [w for w in ("frac", "\\left", "\\right", "mathrm", "\\tilde", "\\{", "\\}") if w in text]
    assert not leftovers, leftovers
    assert text.replace("current \\ divergence", "").count("\\") == 0
    # issue 22: the scalar i/2 stands in front of the operator product, not between c^† and c
    bond = next(line for line in text.splitlines() if line.strip().startswith("j_α,n,d = (i/2) c_n^†") and "s_α,n,d" in line)
    assert "(i/2) c_n^† {t_d,J_α} c_n+d" in bond and "t_x" not in bond
    tau = next(line for line in text.splitlines() if line.strip().startswith("τ^bond_α,n,d"))
    assert "∂^+_d" in tau and "t_x" not in tau and "_x" not in tau
    assert "1/4 Σ_d (j_n+d - 3 j_n + 3 j_n-d - j_n-2d)" in text
