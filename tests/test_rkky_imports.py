"""orbsym.rkky and orbsym.systems: one import direction (systems -> rkky), no circle."""

import ast
import pathlib
import subprocess
import sys

import pytest

import orbsym

ROOT = pathlib.Path(orbsym.__file__).resolve().parent


def _imported_modules(path):
    """Every module named by an import statement anywhere in ``path`` (module level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(base.rstrip(".") + "." + a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_rkky_never_imports_systems():
    """Not even inside a function or under TYPE_CHECKING: systems imports rkky, not the reverse."""
    bad = {n for n in _imported_modules(ROOT / "rkky.py") if "systems" in n.split(".")}
    assert not bad, f"orbsym/rkky.py imports {sorted(bad)}"


def test_importing_rkky_leaves_systems_unimported():
    code = "import sys, orbsym.rkky as r; r.rkky_vs_length; assert 'orbsym.systems' not in sys.modules, 'systems imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT.parent)


def test_public_names_stay_where_they_were():
    import orbsym.rkky as rkky_mod
    import orbsym.systems as systems

    assert systems.rkky.__module__ == "orbsym.systems"
    assert systems.rkky_vs_length is rkky_mod.rkky_vs_length
    assert set(rkky_mod.__all__) == {"rkky_vs_length", "rkky_directions"}


@pytest.mark.parametrize("thing", [None, 3.0, "trilayer", object()])
def test_a_non_system_is_refused_by_name(thing):
    from orbsym.rkky import rkky_directions

    with pytest.raises(ValueError, match="needs a trilayer system"):
        rkky_directions(thing)


def test_a_bilayer_is_refused_and_a_trilayer_accepted():
    from orbsym.rkky import rkky_directions
    from orbsym.systems import bilayer, trilayer

    with pytest.raises(ValueError, match="needs a trilayer system"):
        rkky_directions(bilayer(N_x=4, N_FM=1, N_y=2))
    u, mag = rkky_directions(trilayer(N_x=5, N_FM=1, N_y=2, m_L=(0.0, 2.0, 0.0), m_R=(0.0, 0.0, 0.5)))
    assert u.tolist() == [0.0, 1.0, 0.0] and mag == 0.5
