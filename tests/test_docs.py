"""The documentation site (``docs/site``) builds with warnings as errors, and has what it promises.

One Sphinx build (HTML, ``-W``, notebooks not executed: ``ORBSYM_DOCS_NOTEBOOKS=off``) in a
subprocess, shared by the tests below; skipped when the ``docs`` extra is not installed.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "site"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    for name in ("sphinx", "numpydoc", "myst_nb", "pydata_sphinx_theme"):
        pytest.importorskip(name)
    out = tmp_path_factory.mktemp("docs") / "html"
    env = dict(os.environ, ORBSYM_DOCS_NOTEBOOKS="off", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", str(SITE), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stderr[-6000:]}"
    return out


def _text(path):
    return path.read_text(encoding="utf-8")


def _ids(path):
    return set(re.findall(r'id="([^"]+)"', _text(path)))


def test_every_public_name_has_an_api_entry(html):
    """Each lazy top-level export (orbsym._EXPORTS) is documented where the exports table links it."""
    import orbsym

    ids = set()
    for page in (html / "api").glob("*.html"):
        ids |= _ids(page)
    missing = [f"orbsym.{module}.{name}" for name, module in orbsym._EXPORTS.items() if f"orbsym.{module}.{name}" not in ids]
    assert not missing, f"exports without an API entry: {missing}"
    index = _text(html / "api" / "index.html")
    unlinked = [name for name, module in orbsym._EXPORTS.items() if f'#orbsym.{module}.{name}"' not in index]
    assert not unlinked, f"exports table does not link: {unlinked}"


@pytest.mark.parametrize("target", [
    "orbsym.systems.solve", "orbsym.systems.Result", "orbsym.response.response", "orbsym.transport.transport",
    "orbsym.dynamics.evolve", "orbsym.workflows.sweeps.sweep", "orbsym.symbolic.models.Model",
    "orbsym.symbolic.continuity.derive", "orbsym.numeric.sites.SiteLattice", "orbsym.numeric.sites.SiteObservables",
    "orbsym.materials.model.TightBinding", "orbsym.materials.films.film", "orbsym.materials.slater_koster.slater_koster",
    "orbsym.materials.shells.orbital_L", "orbsym.numeric.disorder.realize", "orbsym.workflows.ensembles.ensemble",
])
def test_api_reference_names(html, target):
    ids = set()
    for page in (html / "api").glob("*.html"):
        ids |= _ids(page)
    assert target in ids


def test_every_materials_module_is_documented(html):
    """New modules of orbsym.materials appear in the reference without editing the site."""
    import pkgutil

    import orbsym.materials

    ids = _ids(html / "api" / "materials.html")
    names = [m.name for m in pkgutil.iter_modules(orbsym.materials.__path__) if not m.name.startswith("_")]
    assert names and all(f"module-orbsym.materials.{n}" in ids for n in names)


def test_conventions_page_is_the_module_docstring(html):
    """Every section title of orbsym.conventions' docstring is a section of the page, stated once."""
    import inspect

    import orbsym.conventions

    doc = inspect.getdoc(orbsym.conventions).splitlines()
    titles = [doc[i] for i in range(len(doc) - 1) if doc[i].strip() and re.fullmatch(r"-{3,}", doc[i + 1])]
    page = _text(html / "conventions.html")
    assert len(titles) >= 5
    for title in titles:
        assert page.count(f">{title.split(' (')[0]}") >= 1, title
    assert page.count("Every nearest-neighbour bond is counted ONCE") == 1


def test_derivations_and_findings_are_included(html):
    """Every derivations/*.md has its page; the README findings table is on the findings page."""
    for md in (ROOT / "derivations").glob("*.md"):
        page = html / "derivations" / f"{md.stem}.html"
        assert page.exists(), f"derivations/{md.name} has no page (add docs/site/derivations/{md.name})"
        first = next(line for line in md.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
        assert first[2:].split("`")[0].strip()[:30] in _text(page).replace("&#8217;", "'").replace("’", "'")
    findings = _text(html / "findings.html")
    assert "0.477" in findings and "arccosh" in findings  # the RKKY-decay row of the README table
    assert 'href="derivations/rkky-decay.html"' in findings and 'href="derivations/paper-text.html"' in findings


def test_every_notebook_is_a_tutorial(html):
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert (html / "tutorials" / "notebooks" / f"{nb.stem}.html").exists(), nb.name


def test_every_command_has_its_help_on_the_cli_page(html):
    from orbsym.cli import build_parser

    page = _text(html / "cli.html")
    commands = build_parser().get_default("_commands")
    assert len(commands) >= 10
    for name, sub in commands.items():
        assert f'id="orbsym-{name}"' in page, name
        assert f"usage: orbsym {name}" in page, name


def test_readme_links_every_guide_page():
    """The README's "What orbsym does" list links each guide page (relative, so GitHub resolves it)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/site/guide/[\w-]+\.md)\)", readme))
    missing = [path for path in linked if not (ROOT / path).is_file()]
    assert not missing, f"README links guide pages that do not exist: {missing}"
    pages = {f"docs/site/guide/{p.name}" for p in (SITE / "guide").glob("*.md") if p.stem != "index"}
    assert pages and pages == linked, f"guide pages not linked from the README: {sorted(pages - linked)}"


def test_every_guide_page_is_built(html):
    index = _text(html / "guide" / "index.html")
    for md in (SITE / "guide").glob("*.md"):
        assert (html / "guide" / f"{md.stem}.html").exists(), md.name
        if md.stem != "index":
            assert f'href="{md.stem}.html"' in index, f"guide/index.md does not list {md.stem}"
