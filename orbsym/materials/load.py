"""One entry point for every way to name a crystal model: :func:`load_model`.

Accepted specs
--------------
* ``seedname_hr.dat`` -- a Wannier90 Hamiltonian, :func:`orbsym.materials.wannier90.read_hr`
  (options: ``win=`` the ``.win`` file with the cell and projections, ``orbitals=`` a spec such as
  ``"Ti: s,p,d"``, and whatever else the reader takes);
* ``seedname_tb.dat`` -- :func:`orbsym.materials.wannier90.read_tb` (same options);
* ``model.py`` -- a Python file defining ``model``: a :class:`~orbsym.materials.TightBinding` or a
  function returning one.  The file is executed as Python code, once, with the rights of the user
  (:func:`orbsym.commands.derive.run_model_file`): use only files you trust.  Data files
  (``_hr.dat``, ``_tb.dat``) are parsed, never executed;
* a shipped Slater-Koster material name (e.g. ``"Cu"``), :func:`orbsym.materials.slater_koster.material`.

The readers are imported only when needed.  No SymPy.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_model", "ModelSpecError", "ACCEPTED"]

#: The accepted forms, for messages.
ACCEPTED = "a Wannier90 file SEED_hr.dat or SEED_tb.dat, a Python model file ending in .py that defines `model` (a TightBinding), or a shipped Slater-Koster material name"


class ModelSpecError(ValueError):
    """A model spec that names no model, or a model file or reader that fails (one line)."""


def _reader(module, function, what):
    import importlib

    try:
        mod = importlib.import_module(f"orbsym.materials.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"orbsym.materials.{module}":
            raise ModelSpecError(f"{what} needs orbsym.materials.{module}, which this installation does not have") from None
        raise
    return getattr(mod, function)


def _from_file(path, options):
    from ..commands.derive import run_model_file
    from .model import TightBinding

    if options:
        raise ModelSpecError(f"a Python model file takes no options, got {sorted(options)}; set them inside {str(path)!r}")
    ns = run_model_file(path, kind="model", defines="model (an orbsym.materials.TightBinding)")
    obj = ns.get("model")
    if callable(obj) and not isinstance(obj, TightBinding):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - user code: one line
            raise ModelSpecError(f"`model()` in model file {str(path)!r} raised {type(exc).__name__}: {' '.join(str(exc).split())}") from exc
    if not isinstance(obj, TightBinding):
        got = "nothing" if "model" not in ns else type(obj).__name__
        raise ModelSpecError(f"model file {str(path)!r} must define `model` as an orbsym.materials.TightBinding (or a function returning one); it defines {got}")
    return obj


def load_model(spec, **options):
    """The :class:`~orbsym.materials.TightBinding` named by ``spec`` (module docstring).

    Parameters
    ----------
    spec : str or path
        ``*_hr.dat``, ``*_tb.dat``, ``*.py`` or a Slater-Koster material name.
    **options
        Passed to the reader (``win=``, ``orbitals=``, ...) or to the material builder.

    Raises
    ------
    ModelSpecError (ValueError)
        Unknown spec (the message lists the accepted forms), missing file, a model file that
        fails or defines no TightBinding, a reader that is not installed.
    """
    from .model import TightBinding

    if isinstance(spec, TightBinding):
        if options:
            raise ModelSpecError(f"options {sorted(options)} apply to files and names, not to a TightBinding")
        return spec
    if not isinstance(spec, (str, Path)) or not str(spec).strip():
        raise ModelSpecError(f"model spec must be {ACCEPTED}; got {spec!r}")
    text = str(spec)
    name = Path(text).name
    for suffix, function in (("_hr.dat", "read_hr"), ("_tb.dat", "read_tb")):
        if name.endswith(suffix):
            p = Path(text)
            if not p.is_file():
                raise ModelSpecError(f"Wannier90 file {text!r} " + ("does not exist" if not p.exists() else "is not a file"))
            return _reader("wannier90", function, f"reading {text!r}")(p, **options)
    if name.endswith(".py"):
        return _from_file(Path(text), options)
    p = Path(text)
    if p.exists() or "/" in text or "\\" in text or "." in name:
        raise ModelSpecError(f"model {text!r}: not a known kind of file; give {ACCEPTED}")
    try:
        material = _reader("slater_koster", "material", f"material name {text!r}")
    except ModelSpecError:
        raise ModelSpecError(f"model {text!r}: no such file, and no Slater-Koster materials in this installation; give {ACCEPTED}") from None
    return material(text, **options)
