"""``orbsym derive MODEL``: print the exact continuity equation, currents and torques of a model.

MODEL is a built-in name (``multiorbital``, ``altermagnet``, ``ferromagnet``, ``ferromagnet-spin``)
or a Python file that defines ``model`` (an :class:`orbsym.Model`, or a function returning one).
A model file is executed as Python code, exactly once: use only files you trust.
``--write-all DIR`` regenerates the committed ``derivations/`` files.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

NAME = "derive"
HELP = "derive the exact lattice continuity equation (current, torques) of a model"


def add_arguments(parser):
    parser.add_argument(
        "model", nargs="?",
        help="built-in model name (multiorbital, altermagnet, ferromagnet, ferromagnet-spin) or a Python file "
        "defining `model`; the file is executed as Python code: use only files you trust",
    )
    parser.add_argument("--format", default="text", help="output format: text, markdown or latex (default: text)")
    parser.add_argument("--out", metavar="FILE", help="write to this file (atomically) instead of standard output")
    parser.add_argument("--write-all", metavar="DIR", help="regenerate the Markdown files of the paper's models in DIR")


class ModelFileError(ValueError):
    """A model file that does not exist, raises, exits or defines no `model` (one line, names the file)."""


def run_model_file(path, kind="model", defines="model"):
    """Execute a trusted Python file ONCE and return its namespace (``kind``: how messages name the file,
    ``defines``: what it is expected to define, e.g. ``"lattice"`` for ``orbsym sites``).

    The file is executed as Python code with the rights of the user running orbsym: use only files
    you trust.  An exception or ``sys.exit`` in the file becomes one :class:`ModelFileError` naming
    the file (and the line); Ctrl-C and SIGTERM still interrupt.
    """
    import traceback

    path = Path(path)
    what = f"{kind} file {str(path)!r}"
    if path.suffix != ".py":
        raise ModelFileError(f"{what} must be a Python file ending in .py that defines `{defines}`")
    if not path.is_file():
        raise ModelFileError(f"{what} does not exist" if not path.exists() else f"{what} is not a file")
    try:
        return runpy.run_path(str(path), run_name=f"__orbsym_{kind}__")
    except SystemExit as exc:
        raise ModelFileError(f"{what} called sys.exit({exc.code!r}) instead of defining `{defines}`") from None
    except Exception as exc:  # noqa: BLE001 - user code: report it in one line
        line = ""
        for fr in reversed(traceback.extract_tb(exc.__traceback__)):
            if Path(fr.filename).resolve() == path.resolve():
                line = f" (line {fr.lineno})"
                break
        if isinstance(exc, SyntaxError) and exc.lineno:
            line = f" (line {exc.lineno})"
        msg = " ".join(str(exc).split())
        raise ModelFileError(f"{what} raised {type(exc).__name__}{line}: {msg}") from exc


def model_from_namespace(namespace, spec):
    """The ``model`` of an executed model file (an orbsym Model, or a function returning one)."""
    from ..symbolic.models import Model

    obj = namespace.get("model")
    if callable(obj) and not isinstance(obj, Model):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - user code
            raise ModelFileError(f"`model()` in model file {str(spec)!r} raised {type(exc).__name__}: {' '.join(str(exc).split())}") from exc
    if not isinstance(obj, Model):
        raise ModelFileError(f"model file {str(spec)!r} must define `model` as an orbsym Model (or a function returning one)")
    return obj


def load_model_file(path):
    """``(model, namespace)`` of a model file, executing it exactly once."""
    namespace = run_model_file(path)
    return model_from_namespace(namespace, path), namespace


def load_model(spec):
    """A built-in model by name, or the ``model`` defined in a Python file (executed once)."""
    from ..symbolic.models import BUILTIN_MODELS, builtin_model

    if spec in BUILTIN_MODELS:
        return builtin_model(spec)
    if Path(spec).suffix == ".py":
        return load_model_file(spec)[0]
    return builtin_model(spec)  # raises ValueError with close matches


def run(args):
    from ..io import atomic_write
    from ..symbolic.render import FORMATS, render, write_derivations

    from ..io import check_output_dir, check_output_file

    if args.write_all is not None:
        if args.model or args.out is not None:
            raise ValueError("--write-all DIR regenerates the paper's models; it takes no MODEL and no --out")
        check_output_dir(args.write_all, "--write-all", "derivations")
        for path in write_derivations(args.write_all):
            print(path)
        return 0
    if not args.model:
        raise ValueError("give a MODEL (built-in name or .py file) or --write-all DIR")
    if args.format not in FORMATS:
        raise ValueError(f"unknown format {args.format!r}; allowed: {', '.join(FORMATS)}")
    if args.out is not None:
        check_output_file(args.out, "--out", "model.md")
    text = render(load_model(args.model), args.format)
    if args.out:
        with atomic_write(args.out) as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
