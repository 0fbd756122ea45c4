"""Sphinx configuration of the orbsym documentation site.

Build (from the repository root, after ``pip install ".[docs]"``)::

    sphinx-build -b html docs/site docs/_build/html

The tutorials are the notebooks in ``notebooks/`` (committed without outputs).  Before the build this
file copies them into ``docs/site/tutorials/notebooks/`` (not committed), executed or not according to
``ORBSYM_DOCS_NOTEBOOKS``:

``off``
    never execute; a copy executed earlier from the same notebook is kept (with its outputs), any
    other is copied as committed (no outputs).  The test build (``tests/test_docs.py``) uses this.
``quick`` (default)
    execute every notebook whose copy is missing or stale at reduced sizes (``ORBSYM_QUICK=1``;
    the figures say "quick mode"); the kernel runs in ``notebooks/``, as in ``tests/test_notebooks.py``.
``full``
    the same at the paper's parameters (minutes per figure notebook).

Sphinx itself never executes a notebook (``nb_execution_mode = "off"``): it renders the stored
outputs of the copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import sys
import warnings

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

import orbsym  # noqa: E402  (the orbsym of this checkout, installed or not)

# numpydoc's signature hook parses the raw docstring and warns about sections it does not know; the
# docstring hook below keeps their content (see tidy_docstring), so the warning is noise.
warnings.filterwarnings("ignore", message="Unknown section", category=UserWarning)

project = "orbsym"
author = "the orbsym authors"
copyright = "the orbsym authors, BSD-3-Clause"
release = orbsym.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",  # Markdown (MyST) pages and notebooks; loads myst_parser
]

root_doc = "index"
smartquotes = False  # keep the text as written (primes, "--" in command lines)
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "**/.jupyter_cache", "jupyter_execute"]
templates_path: list[str] = []

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"orbsym {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "getting-started": []}

# --- autodoc / numpydoc ---------------------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc Parameters sections state the types
numpydoc_show_class_members = False  # members are documented by autodoc, not listed twice
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- MyST / myst-nb -------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
nb_execution_mode = "off"  # executed (or not) before the build, see the module docstring
nb_merge_streams = True

# Module docstrings written as plain text with section underlines (orbsym.conventions) are parsed
# as reStructuredText by the `orbsym-docstring` directive below, not by numpydoc.
RST_MODULES = ("orbsym.conventions",)

NOTEBOOK_MODES = ("off", "quick", "full")
NOTEBOOK_SRC = ROOT / "notebooks"
NOTEBOOK_DST = HERE / "tutorials" / "notebooks"
CELL_TIMEOUT = 1800


def _sha(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(path: pathlib.Path) -> dict:
    """The ``orbsym_docs`` metadata of a copied notebook (``{}`` if absent or unreadable)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("orbsym_docs", {})
    except (OSError, ValueError):
        return {}


def _write(path: pathlib.Path, nb: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _execute(src: pathlib.Path, quick: bool) -> dict:
    import nbclient
    import nbformat

    env_old = {k: os.environ.get(k) for k in ("ORBSYM_QUICK", "PYTHONPATH", "MPLBACKEND")}
    os.environ["ORBSYM_QUICK"] = "1" if quick else "0"
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env_old["PYTHONPATH"]] if env_old["PYTHONPATH"] else []))
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures become outputs
    try:
        nb = nbformat.read(src, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(src.parent)}})
        client.execute()
    finally:
        for k, v in env_old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return json.loads(nbformat.writes(nb))


def prepare_notebooks(mode: str) -> None:
    """Copy (``off``) or execute (``quick``, ``full``) ``notebooks/*.ipynb`` into the source tree."""
    if mode not in NOTEBOOK_MODES:
        raise ValueError(f"ORBSYM_DOCS_NOTEBOOKS={mode!r}: allowed are {', '.join(NOTEBOOK_MODES)}")
    NOTEBOOK_DST.mkdir(parents=True, exist_ok=True)
    sources = sorted(NOTEBOOK_SRC.glob("*.ipynb"))
    for stale in NOTEBOOK_DST.glob("*.ipynb"):
        if not (NOTEBOOK_SRC / stale.name).exists():
            stale.unlink()
    for src in sources:
        dst = NOTEBOOK_DST / src.name
        sha = _sha(src)
        have = _stamp(dst)
        if have.get("source_sha256") == sha and (mode == "off" or have.get("mode") == mode):
            continue  # up to date (in "off" mode an executed copy of the same notebook is kept)
        if mode == "off":
            nb = json.loads(src.read_text(encoding="utf-8"))
        else:
            print(f"orbsym docs: executing {src.name} ({mode} mode)", flush=True)
            nb = _execute(src, quick=(mode == "quick"))
        nb.setdefault("metadata", {})["orbsym_docs"] = {"source_sha256": sha, "mode": mode}
        _write(dst, nb)


prepare_notebooks(os.environ.get("ORBSYM_DOCS_NOTEBOOKS", "quick").strip().lower() or "quick")


# --- docstring tidying ------------------------------------------------------------------------------
# orbsym's docstrings are written to be read as plain text (help(), an editor) as well as rendered.
# A few plain-text habits are not valid reStructuredText; they are repaired here, before numpydoc
# parses the docstring, rather than in every module:
#   * ``|m|``, ``<a| H |b>``: a bare "|" starts a substitution reference -> escaped;
#   * ``*args``, ``**kwargs`` in prose start emphasis -> escaped;
#   * a section underline shorter than its title -> lengthened;
#   * a section numpydoc does not know (``Films``, ``Example``) would be dropped by numpydoc ->
#     ``Example`` becomes ``Examples``, any other is moved into ``Notes`` under a rubric.
# Literal blocks (after ``::``), directives, doctests, line blocks and `...` / ``...`` spans are left
# as they are.
def _kernelset_names_table(lines):
    """The ``Names:`` table of ``KernelSet.operators`` is at the paragraph's indentation with a wrapped
    row, which is invalid reStructuredText; make it a literal block."""
    start = next((i for i, line in enumerate(lines) if line.rstrip().endswith("Names:")), None)
    if start is None:
        return
    end = next((i for i in range(start + 2, len(lines)) if not lines[i].strip()), len(lines))
    lines[start] += ":"
    lines[start + 2:end] = ["    " + line for line in lines[start + 2:end]]


DOCSTRING_FIXES = {
    # object name -> function editing the docstring's lines: the docstrings that need more than the
    # generic repairs (reported to the lead; remove an entry once the source is fixed).
    "orbsym.kernels.KernelSet": _kernelset_names_table,
}
NUMPYDOC_SECTIONS = {"Parameters", "Attributes", "Methods", "Returns", "Yields", "Receives", "Other Parameters",
                     "Raises", "Warns", "Warnings", "See Also", "Notes", "References", "Examples"}
SECTION_ALIASES = {"Example": "Examples", "Note": "Notes", "Return": "Returns", "Raise": "Raises"}
_UNDERLINE = re.compile(r"^(\s*)([-=~^\"'`#*+:.])\2{2,}\s*$")
_SPANS = re.compile(r"(``.+?``|`[^`]+`)")
_STARRED = re.compile(r"(?<![\\*\w])(\*\*?)(args|kwargs|kw|params|changes|options|defaults|kwds)\b")


def _fix_underlines(lines):
    for i in range(1, len(lines)):
        m = _UNDERLINE.match(lines[i])
        title = lines[i - 1]
        if m and title.strip() and not _UNDERLINE.match(title):
            indent = len(title) - len(title.lstrip())
            width = len(title.rstrip()) - indent
            if indent == len(m.group(1)) and len(lines[i].strip()) < width:
                lines[i] = m.group(1) + m.group(2) * width


def _escape_prose(lines):
    literal_indent = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if re.match(r"\.\. [\w:-]+::", stripped) or stripped.rstrip().endswith("::"):
            literal_indent = indent
            if stripped.startswith(".. "):
                continue
        if stripped.startswith((">>>", "...", "|", "+-", "+=")):
            continue
        parts = _SPANS.split(line)
        for j in range(0, len(parts), 2):  # even parts are outside `...` spans
            parts[j] = _STARRED.sub(lambda m: "\\*" * len(m.group(1)) + m.group(2), parts[j].replace("|", "\\|"))
        lines[i] = "".join(parts)


def _move_unknown_sections(lines):
    """Rename aliased numpydoc sections; move unknown ones into Notes (numpydoc would drop them)."""
    heads = [i for i in range(len(lines) - 1)
             if lines[i].strip() and not lines[i].startswith(" ") and re.fullmatch(r"-{3,}", lines[i + 1].strip())
             and len(lines[i + 1].strip()) >= len(lines[i].strip())]
    if not heads:
        return
    for i in heads:
        name = lines[i].strip()
        if name in SECTION_ALIASES:
            lines[i] = SECTION_ALIASES[name]
            lines[i + 1] = "-" * len(lines[i])
    bounds = heads + [len(lines)]
    unknown = [(bounds[k], bounds[k + 1]) for k in range(len(heads)) if lines[heads[k]].strip() not in NUMPYDOC_SECTIONS]
    if not unknown:
        return
    moved = []
    for a, b in unknown:
        moved += ["", f".. rubric:: {lines[a].strip()}", ""] + lines[a + 2:b]
    keep = [line for k, line in enumerate(lines) if not any(a <= k < b for a, b in unknown)]
    if any(line.strip() == "Notes" for line in keep):
        at = keep.index(next(line for line in keep if line.strip() == "Notes"))
        end = next((k for k in range(at + 2, len(keep) - 1)
                    if keep[k].strip() and re.fullmatch(r"-{3,}", keep[k + 1].strip())), len(keep))
        keep[end:end] = moved + [""]
    else:
        keep += ["", "Notes", "-----"] + moved
    lines[:] = keep


def tidy_docstring(app, what, name, obj, options, lines):
    if name in DOCSTRING_FIXES:
        DOCSTRING_FIXES[name](lines)
    _fix_underlines(lines)
    _escape_prose(lines)
    if what in ("function", "method", "class", "exception"):
        _move_unknown_sections(lines)


_ABBREVIATIONS = {"Eq", "Eqs", "Fig", "Figs", "Ref", "Refs", "cf", "vs", "e.g", "i.e", "g", "e", "etc", "No"}


def first_sentence(doc):
    """The first sentence of a docstring (up to ". " outside backquoted spans), tidied as above."""
    stanza = []
    for line in (doc or "").strip().splitlines():
        if not line.strip():
            break
        stanza.append(line.strip())
    text = " ".join(stanza)
    parts = _SPANS.split(text)
    out = []
    for j, part in enumerate(parts):
        ends = [m for m in re.finditer(r"(\w*)\.\s", part) if m.group(1) not in _ABBREVIATIONS] if j % 2 == 0 else []
        if ends:
            out.append(part[: ends[0].start() + len(ends[0].group(1)) + 1])
            break
        out.append(part)
    line = ["".join(out)]
    _escape_prose(line)
    return line[0]


def resolve_orbsym_reference(app, env, node, contnode):
    """Link a Python reference that names an orbsym object by another path.

    Docstrings name objects where they are defined (``orbsym.numeric.bloch.solve_bloch``) or by their
    bare name (``SiteLattice``); the reference documents re-exported names under the package
    (``orbsym.numeric.solve_bloch``).  The target is found by dropping module components, then by a
    unique suffix match among the documented orbsym objects; otherwise the reference stays unlinked.
    """
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    objects = env.get_domain("py").objects
    parts = target.split(".")
    candidates = []
    if parts[0] == "orbsym" and len(parts) > 2:
        candidates = [".".join(parts[:j] + parts[k:]) for j in range(1, len(parts) - 1) for k in range(j + 1, len(parts))]
    found = next((c for c in candidates if c in objects), None)
    if found is None:
        tail = "." + (target[len("orbsym."):] if target.startswith("orbsym.") else target)
        matches = {name for name in objects if name.startswith("orbsym.") and name.endswith(tail)}
        if len(matches) != 1:
            return None
        found = matches.pop()
    entry = objects[found]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, found)


# --- directives ------------------------------------------------------------------------------------
def setup(app):
    import importlib
    import pkgutil

    from docutils import nodes
    from docutils.parsers.rst import directives
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    class OrbsymExports(SphinxDirective):
        """A table of the lazily exported top-level names (``orbsym._EXPORTS``), linked to their pages.

        (Not ``autosummary``: its sentence splitter cuts inside literals such as ``m . J``.)
        """

        def run(self):
            import inspect

            lines = [".. list-table::", "   :widths: 30 70", ""]
            for name, module in orbsym._EXPORTS.items():
                # the defining module, not getattr(orbsym, name): orbsym.rkky, orbsym.response and
                # orbsym.kernels are also submodules, which shadow the function once imported
                doc = inspect.getdoc(getattr(importlib.import_module("orbsym." + module), name))
                lines += [f"   * - :obj:`orbsym.{name} <orbsym.{module}.{name}>`", f"     - {first_sentence(doc)}"]
            node = nodes.container()
            self.state.nested_parse(StringList(lines, source="orbsym._EXPORTS"), self.content_offset, node)
            return node.children

    class OrbsymModules(SphinxDirective):
        """``automodule`` of every public submodule of a package (new modules appear by themselves).

        Options: ``:skip:`` submodules documented elsewhere; ``:exclude-exported:`` leaves out the
        members the package itself exports (documented with the package, under its name).
        """

        required_arguments = 1
        option_spec = {"skip": directives.unchanged, "exclude-exported": directives.flag}

        def run(self):
            package = importlib.import_module(self.arguments[0])
            skip = {name.strip() for name in self.options.get("skip", "").split(",") if name.strip()}
            exported = set(getattr(package, "__all__", ())) if "exclude-exported" in self.options else set()
            names = sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                           if not m.name.startswith("_") and m.name not in skip)
            lines = []
            for name in names:
                full = f"{package.__name__}.{name}"
                own = set(getattr(importlib.import_module(full), "__all__", ())) & exported
                lines += [full, "-" * len(full), "", f".. automodule:: {full}"]
                if own:
                    lines.append(f"   :exclude-members: {', '.join(sorted(own))}")
                lines.append("")
            node = nodes.container()
            nested_parse_with_titles(self.state, StringList(lines, source=package.__name__), node)
            return node.children

    class OrbsymDocstring(SphinxDirective):
        """A module docstring parsed as reStructuredText, its section titles becoming page sections."""

        required_arguments = 1

        def run(self):
            import inspect

            lines = (inspect.getdoc(importlib.import_module(self.arguments[0])) or "").splitlines()
            _fix_underlines(lines)
            _escape_prose(lines)
            node = nodes.container()
            nested_parse_with_titles(self.state, StringList(lines, source=self.arguments[0]), node)
            return node.children

    class OrbsymCli(SphinxDirective):
        """``orbsym --help`` and every ``orbsym COMMAND --help``, from the parser itself."""

        def run(self):
            from orbsym.cli import build_parser

            old = os.environ.get("COLUMNS")
            os.environ["COLUMNS"] = "100"
            try:
                parser = build_parser()
                texts = [("orbsym", parser.format_help())]
                texts += [(f"orbsym {name}", sub.format_help()) for name, sub in parser.get_default("_commands").items()]
            finally:
                if old is None:
                    os.environ.pop("COLUMNS", None)
                else:
                    os.environ["COLUMNS"] = old
            lines = []
            for title, text in texts:
                lines += [title, "-" * len(title), "", ".. code-block:: text", ""]
                lines += ["   " + line if line.strip() else "" for line in text.splitlines()] + [""]
            node = nodes.container()
            nested_parse_with_titles(self.state, StringList(lines, source="orbsym.cli"), node)
            return node.children

    def drop_module_docstring(app, what, name, obj, options, lines):
        if what == "module" and name in RST_MODULES:
            lines[:] = []

    app.add_directive("orbsym-exports", OrbsymExports)
    app.add_directive("orbsym-modules", OrbsymModules)
    app.add_directive("orbsym-docstring", OrbsymDocstring)
    app.add_directive("orbsym-cli", OrbsymCli)
    app.connect("autodoc-process-docstring", drop_module_docstring, priority=100)
    app.connect("autodoc-process-docstring", tidy_docstring, priority=110)
    app.connect("missing-reference", resolve_orbsym_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
