"""The ``orbsym`` console command.

Sub-commands live in :mod:`orbsym.commands` (one module each, exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``).  Usage errors print one line to stderr and exit
with status 2; other failures exit with status 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "UsageError", "COMMANDS"]

#: Sub-command modules, in the order shown by ``orbsym --help``.
COMMANDS = ["derive", "compute", "figure", "reproduce", "sweep", "hoppings", "evolve"]


class UsageError(ValueError):
    """A bad command line (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        import difflib
        import re

        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = [c.strip().strip("'") for c in m.group(2).split(",")]
            close = difflib.get_close_matches(m.group(1), choices, n=3)
            if close:
                message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        raise UsageError(message)


def _load(name):
    try:
        return importlib.import_module(f"orbsym.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"orbsym.commands.{name}":
            return None
        raise


def build_parser():
    from . import __version__

    parser = _Parser(prog="orbsym", description="Orbital/spin currents, torques and RKKY in lattice models.")
    parser.add_argument("--version", action="version", version=f"orbsym {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            raise UsageError("no command given; run 'orbsym --help' for the list of commands")
        return int(args._run(args) or 0)
    except UsageError as exc:
        if debug:
            raise
        print(f"orbsym: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        if debug:
            raise
        print(f"orbsym: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orbsym: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - CLI boundary
        if debug:
            raise
        print(f"orbsym: error: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
