"""``orbsym derive MODEL``: print the exact continuity equation, currents and torques of a model.

MODEL is a built-in name (``multiorbital``, ``altermagnet``, ``ferromagnet``, ``ferromagnet-spin``)
or a Python file that defines ``model`` (an :class:`orbsym.Model`, or a function returning one).
``--write-all DIR`` regenerates the committed ``derivations/`` files.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

NAME = "derive"
HELP = "derive the exact lattice continuity equation (current, torques) of a model"


def add_arguments(parser):
    parser.add_argument("model", nargs="?", help="built-in model name or path to a Python file defining `model`")
    parser.add_argument("--format", default="text", help="output format: text (default), markdown or latex")
    parser.add_argument("--out", help="write to this file (atomically) instead of standard output")
    parser.add_argument("--write-all", metavar="DIR", help="regenerate the Markdown files of the paper's models in DIR")


def load_model(spec):
    """A built-in model by name, or the ``model`` defined in a Python file."""
    from ..symbolic.models import BUILTIN_MODELS, Model, builtin_model

    if spec in BUILTIN_MODELS:
        return builtin_model(spec)
    path = Path(spec)
    if path.suffix == ".py":
        if not path.is_file():
            raise ValueError(f"model file {spec!r} does not exist")
        namespace = runpy.run_path(str(path))
        obj = namespace.get("model")
        if callable(obj) and not isinstance(obj, Model):
            obj = obj()
        if not isinstance(obj, Model):
            raise ValueError(f"model file {spec!r} must define `model` as an orbsym Model (or a function returning one)")
        return obj
    return builtin_model(spec)  # raises ValueError with close matches


def run(args):
    from ..io import atomic_write
    from ..symbolic.render import FORMATS, render, write_derivations

    if args.write_all:
        for path in write_derivations(args.write_all):
            print(path)
        return 0
    if not args.model:
        raise ValueError("give a MODEL (built-in name or .py file) or --write-all DIR")
    if args.format not in FORMATS:
        raise ValueError(f"unknown format {args.format!r}; allowed: {', '.join(FORMATS)}")
    text = render(load_model(args.model), args.format)
    if args.out:
        with atomic_write(args.out) as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
