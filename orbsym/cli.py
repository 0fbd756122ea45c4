"""The ``orbsym`` console command.

Sub-commands live in :mod:`orbsym.commands` (one module each, exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``).  Usage errors print one line to stderr and exit
with status 2; other failures exit with status 1; ``--debug`` shows the traceback.  Ctrl-C exits
with 130 and SIGTERM with 143, after the usual cleanups (no temporary files, no half-published
figure set: :func:`orbsym.io.atomic_files`).  If the matplotlib configuration directory is not
writable (read-only or missing ``HOME``), a private one in the temporary directory is used, so
that matplotlib prints no warnings.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "UsageError", "COMMANDS"]

#: Sub-command modules, in the order shown by ``orbsym --help``.
COMMANDS = ["derive", "compute", "figure", "reproduce", "sweep", "hoppings", "response", "transport", "evolve", "sites", "hall", "model", "plot"]


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
    parser.set_defaults(_commands=sub.choices)
    return parser


def _unrecognized(extra, parser):
    """UsageError for unrecognized arguments, matching each misspelled option against the allowed ones."""
    import difflib

    options = sorted({o for a in parser._actions for o in a.option_strings if o.startswith("--")})
    hints = []
    for item in extra:
        name = item.split("=", 1)[0]
        if name.startswith("-") and name not in options:
            close = difflib.get_close_matches(name, options, n=2, cutoff=0.8)
            if close:
                hints.append(f"{name}: did you mean {' or '.join(close)}?")
    message = f"unrecognized arguments: {' '.join(extra)}"
    if hints:
        message += f" ({'; '.join(hints)})"
    return UsageError(message)


def _private_mplconfig():
    """Point ``MPLCONFIGDIR`` at a private directory if matplotlib's default one is not writable."""
    import os
    import tempfile
    from pathlib import Path

    if os.environ.get("MPLCONFIGDIR") or "matplotlib" in sys.modules:
        return None
    home = os.environ.get("HOME") or ""
    base = os.environ.get("XDG_CONFIG_HOME") or (os.path.join(home, ".config") if home else "")
    cache = os.environ.get("XDG_CACHE_HOME") or (os.path.join(home, ".cache") if home else "")

    def writable(path):
        if not path:
            return False
        p = Path(path)
        while not p.exists():
            if p.parent == p:
                return False
            p = p.parent
        return p.is_dir() and os.access(p, os.W_OK | os.X_OK)

    if writable(os.path.join(base, "matplotlib")) and writable(os.path.join(cache, "matplotlib")):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    d = Path(tempfile.gettempdir()) / f"orbsym-matplotlib-{uid}"
    try:
        d.mkdir(mode=0o700, exist_ok=True)
        st = d.stat()
        if not d.is_dir() or (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o077:
            d = Path(tempfile.mkdtemp(prefix="orbsym-matplotlib-"))
    except OSError:
        d = Path(tempfile.mkdtemp(prefix="orbsym-matplotlib-"))
    os.environ["MPLCONFIGDIR"] = str(d)
    return d


#: Set by the SIGTERM handler: an exception seen after it (e.g. the ``ImportError: initialization
#: failed`` of a C extension whose import the signal interrupted) is reported as the termination.
_SIGTERM_SEEN = {"main": False}


def _on_sigterm(main_pid):
    import os
    import signal

    from .io import Terminated

    def handler(signum, frame):
        if os.getpid() != main_pid:  # a forked worker: die as SIGTERM would have done
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        _SIGTERM_SEEN["main"] = True
        raise Terminated()

    return handler


def main(argv=None):
    import os
    import signal

    from .io import Terminated

    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    _private_mplconfig()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm(os.getpid()))
    except ValueError:  # not in the main thread (e.g. called from a test thread)
        previous = None
    _SIGTERM_SEEN["main"] = False
    try:
        code = _main(argv, debug)
        if _SIGTERM_SEEN["main"] and code != 0:
            raise Terminated()
        return code
    except Terminated:
        print("orbsym: terminated (SIGTERM)", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv, debug):
    from .io import OutputError, Terminated

    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if not getattr(args, "command", None):
            raise UsageError("no command given; run 'orbsym --help' for the list of commands")
        if extra:
            raise _unrecognized(extra, args._commands.get(args.command, parser))
        return int(args._run(args) or 0)
    except Terminated:
        raise
    except BaseException as exc:
        if _SIGTERM_SEEN["main"] and not isinstance(exc, SystemExit):
            raise Terminated() from exc  # the failure is the interrupted work, not a bug to report
        return _report(exc, debug)


def _report(exc, debug):
    """The one-line message and exit status of an exception at the CLI boundary."""
    from .io import OutputError

    try:
        raise exc
    except OutputError as exc:
        if debug:
            raise
        print(f"orbsym: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
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
