"""Packaging (issue 22, item 7): the LICENSE file, CITATION.cff, the Citing section, the supported
Python versions and ``help(orbsym)``, each checked against ``pyproject.toml`` so that they cannot drift
apart."""

import datetime
import importlib
import re
import sys
from pathlib import Path

import pytest

import orbsym

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(orbsym.__file__).resolve().parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
ARXIV = "2406.18668"


# =============================================================================== LICENSE
#: One phrase of each part of the BSD 3-Clause text (SPDX BSD-3-Clause): the two conditions on
#: redistribution, the no-endorsement clause and the disclaimer.
BSD3_PHRASES = [
    "Redistribution and use in source and binary forms, with or without modification, are permitted",
    "Redistributions of source code must retain the above copyright notice",
    "Redistributions in binary form must reproduce the above copyright notice",
    "Neither the name of the copyright holder nor the names of its contributors may be used to endorse or promote",
    'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"',
    "IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE",
]


def test_license_file_is_bsd3_and_matches_pyproject():
    path = ROOT / "LICENSE"
    assert path.is_file(), "LICENSE is missing"
    text = " ".join(path.read_text(encoding="utf-8").split())  # the phrases span line breaks
    missing = [p for p in BSD3_PHRASES if p not in text]
    assert not missing, f"LICENSE is not the BSD 3-Clause text; missing: {missing}"
    assert "Copyright (c) 2026, the orbsym developers" in text
    # a 2-clause or 4-clause text would differ here: exactly three numbered conditions, no advertising clause
    assert re.findall(r"(?m)^(\d)\. ", path.read_text(encoding="utf-8")) == ["1", "2", "3"]
    assert "advertising" not in text.lower()
    assert PROJECT["license"] == "BSD-3-Clause"
    assert "LICENSE" in PROJECT["license-files"], "pyproject's license-files does not ship LICENSE"
    # license classifiers are superseded by the SPDX expression (PEP 639): none may contradict it
    assert not [c for c in PROJECT.get("classifiers", []) if c.startswith("License ::")]


# =============================================================================== CITATION.cff
def cff_scalars(text):
    """Top-level ``key: value`` pairs of a CFF (YAML) file, without a YAML library."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z][\w-]*):\s*(.*?)\s*$", line)
        if m:
            out[m.group(1)] = m.group(2).strip("'\"")
    return out


def test_citation_cff_cites_orbsym_and_the_paper():
    path = ROOT / "CITATION.cff"
    assert path.is_file(), "CITATION.cff is missing"
    text = path.read_text(encoding="utf-8")
    top = cff_scalars(text)
    assert top["cff-version"] == "1.2.0"
    assert top["type"] == "software" and top["title"].startswith("orbsym")
    assert top["version"] == PROJECT["version"] == orbsym.__version__, "CITATION.cff version differs from pyproject"
    assert top["license"] == PROJECT["license"], "CITATION.cff license differs from pyproject"
    assert datetime.date.fromisoformat(top["date-released"]) == datetime.date(2026, 12, 7)
    for key in ("message", "authors", "references"):
        assert key in top, f"CITATION.cff lacks {key!r}"
    assert f"arXiv:{ARXIV}" in text and f"https://arxiv.org/abs/{ARXIV}" in text
    for family in ("Aase", "Hodt", "Linder", "Sudbø"):
        assert f"family-names: {family}" in text


def test_citation_cff_structure():
    """The full structure where a YAML parser is installed (PyYAML is not a dependency)."""
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    (paper,) = [r for r in cff["references"] if ARXIV in str(r)]
    assert paper["type"] == "article" and paper["year"] == 2024
    assert paper["title"].startswith("Orbital currents in lattice multiorbital systems")
    assert [a["family-names"] for a in paper["authors"]] == ["Aase", "Hodt", "Linder", "Sudbø"]
    assert {"type": "other", "value": f"arXiv:{ARXIV}", "description": "arXiv preprint identifier"} in paper["identifiers"]


# =============================================================================== README
def readme_section(title):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text)
    assert m, f"README has no '## {title}' section"
    return m.group(1)


def test_readme_citing_section_has_both_entries():
    citing = readme_section("Citing")
    entries = re.findall(r"@(\w+)\{([\w-]+),(.*?)\n\}", citing, flags=re.S)
    kinds = {kind: body for kind, _key, body in entries}
    assert set(kinds) == {"misc", "software"}, kinds.keys()
    paper = kinds["misc"]
    assert re.search(rf"eprint\s*=\s*\{{{re.escape(ARXIV)}\}}", paper) and re.search(r"archivePrefix\s*=\s*\{arXiv\}", paper)
    assert re.search(r"year\s*=\s*\{2024\}", paper) and "Sudb{\\o}" in paper
    software = kinds["software"]
    assert re.search(rf"version\s*=\s*\{{{re.escape(PROJECT['version'])}\}}", software), "README software entry: stale version"
    assert "CITATION.cff" in citing


# =============================================================================== supported Python
def test_requires_python_is_stated_and_true():
    spec = PROJECT.get("requires-python")
    assert spec, "pyproject.toml has no requires-python"
    m = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert m, f"requires-python {spec!r}: expected '>=3.N'"
    minimum = int(m.group(1))
    assert sys.version_info[:2] >= (3, minimum), "the running interpreter is outside requires-python"
    listed = sorted(int(c.rsplit(".", 1)[1]) for c in PROJECT["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert listed and listed[0] == minimum, f"classifiers {listed} do not start at requires-python {spec}"
    assert listed == list(range(minimum, listed[-1] + 1)), listed
    # the README states the same minimum and says what it was tested on
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"Python >= 3\.{minimum}\b", readme), "README does not state requires-python"
    assert re.search(r"tested on CPython 3\.\d+", readme)


def test_notebooks_extra():
    extra = PROJECT["optional-dependencies"]["notebooks"]
    names = {re.split(r"[<>=!\[ ]", r, maxsplit=1)[0].lower() for r in extra}
    assert {"jupyterlab", "ipywidgets"} <= names


# =============================================================================== help(orbsym)
#: top-level entries of the source repository that the wheel does not ship (only orbsym/ is a package)
REPO_ONLY = sorted(p.name for p in ROOT.iterdir() if p.name != PACKAGE.name and not p.name.startswith((".", "__")))


def entry_points(doc):
    """Names called in the literal block of the docstring, e.g. ``solve(system, T)``."""
    block = doc.split("::", 1)[1].split("\n\n")[1]
    return sorted(set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\(", block)))


def test_module_docstring_names_no_repository_only_path():
    doc = orbsym.__doc__
    assert "docs/" not in doc and "ARCHITECTURE" not in doc
    for entry in REPO_ONLY:  # a directory as "docs/...", a file by its name ("README.md", "CITATION.cff")
        pattern = rf"(?<![\w.]){re.escape(entry)}/" if (ROOT / entry).is_dir() else rf"(?<![\w.]){re.escape(entry)}(?![\w.])"
        assert not re.search(pattern, doc), f"help(orbsym) names {entry!r}, which is not in the wheel"
    for path in re.findall(r"[\w./-]+\.(?:md|py|ipynb|cff|toml|txt|rst|json|nc|csv)\b", doc):
        assert (PACKAGE.parent / path).is_file() and (PACKAGE.parent / path).resolve().is_relative_to(PACKAGE), (
            f"help(orbsym) names {path!r}, which is not a file of the orbsym package"
        )


def test_module_docstring_entry_points_are_importable():
    names = entry_points(orbsym.__doc__)
    assert 5 <= len(names) <= 16, names
    assert {"derive", "solve", "orbital_hall", "response", "evolve", "sweep"} <= set(names)
    for name in names:
        assert name in orbsym.__all__, f"help(orbsym) lists {name}(), which `from orbsym import` does not export"
        # resolved as the lazy export does (independent of which submodules are already imported)
        obj = getattr(importlib.import_module(f"orbsym.{orbsym._EXPORTS[name]}"), name)
        assert callable(obj) and not isinstance(obj, type(orbsym)), (name, obj)
    # dotted names (orbsym.transport.transport, orbsym.conventions, help(orbsym.solve)) resolve too
    for dotted in set(re.findall(r"\borbsym(?:\.\w+)+", orbsym.__doc__)):
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ModuleNotFoundError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            break
    for drive in ("Quench", "Precession", "ElectricField"):
        assert drive in orbsym.__doc__ and drive in orbsym.__all__
    assert orbsym.__doc__.splitlines()[0].startswith("orbsym: ")


def test_entry_points_work_after_any_import_order():
    """``from orbsym import rkky`` must call the function even after ``import orbsym.rkky`` (which binds
    the submodule to the package attribute): such submodules are callable (orbsym/_entry.py)."""
    import importlib.util
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import importlib, inspect, orbsym
        import orbsym.rkky, orbsym.response, orbsym.kernels     # the submodules first
        from orbsym import rkky, response, kernels, multiorbital_metal, trilayer
        assert callable(rkky) and callable(response) and callable(kernels)
        ks = kernels(multiorbital_metal())                      # the function's result, not an error
        assert type(ks).__name__ == "KernelSet"
        sys_ = trilayer(N_x=4, N_y=6)
        J = rkky(sys_, T=0.1)
        assert set(J) >= {"J", "F_P", "F_AP"}, J
        r = response(sys_, T=0.1, eta=0.1)
        assert type(r).__name__ == "Response"
        assert orbsym.rkky.rkky_vs_length and orbsym.response.orbital_hall     # the modules keep their names
        print("ok")
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
    names = entry_points(orbsym.__doc__)
    for name in names:
        if importlib.util.find_spec(f"orbsym.{name}") is not None:
            importlib.import_module(f"orbsym.{name}")
        assert callable(getattr(orbsym, name)), name
