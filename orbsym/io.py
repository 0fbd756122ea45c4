"""Atomic file output: an interrupted run leaves either the old file or the new one, never half.

All files written by orbsym (figures, data, derivations) go through :func:`atomic_write` or
:func:`atomic_path`: the content is written to a temporary file in the same directory, flushed
and fsync'ed, then moved over the target with :func:`os.replace` (atomic on POSIX and Windows).
The new file gets the permissions of the file it replaces, or the usual ``0666 & ~umask`` for a
new file (not the private ``0600`` of the temporary file).

Sets of files (a figure's PNG, PDF, CSV and NetCDF) are published together with
:func:`atomic_files`: inside the block every :func:`atomic_path`/:func:`atomic_write` writes its
temporary file, and only when the whole block succeeds are all of them renamed into place (with
SIGINT/SIGTERM deferred until the renames are done); on any exception -- including the
:class:`Terminated` that the CLI raises on SIGTERM -- every temporary file is removed and no target
is touched.  Only a SIGKILL or power loss between two renames can still mix old and new files.

Output paths are checked before anything is computed (:func:`check_output_file`,
:func:`check_output_dir`, :func:`check_file_stem`); a write that fails (disk full, file-size
limit) raises :class:`OutputError` naming the target file.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import signal
import tempfile
from pathlib import Path

__all__ = [
    "atomic_write",
    "atomic_path",
    "atomic_files",
    "ensure_writable_dir",
    "check_output_file",
    "check_output_dir",
    "check_file_stem",
    "OutputError",
    "Terminated",
]


class OutputError(OSError):
    """Writing an output file failed (disk full, file-size limit, ...); the message names the file."""


class Terminated(BaseException):
    """Raised in the main process by the CLI's SIGTERM handler, so that cleanups run."""


def check_output_file(path, option="--out", example="result.json"):
    """Validate an output *file* name before computing; returns it as a :class:`~pathlib.Path`.

    Refused with one-line ValueErrors: an empty name, ``-``, a name ending in a path separator, an
    existing directory, and a parent that is not a writable directory (created if missing).
    """
    text = "" if path is None else str(path)
    if not text.strip():
        raise ValueError(f"{option} is empty; give a file name, e.g. {option} {example}")
    if text.strip() == "-":
        raise ValueError(f"{option} '-': standard output is the default, omit {option} to print there; or give a file name, e.g. {option} {example}")
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise ValueError(f"{option} {text!r} is a directory; give a file name, e.g. {option} {example}")
    p = Path(text)
    ensure_writable_dir(p.parent if str(p.parent) else ".")
    return p


def check_output_dir(path, option="--out", example="figures"):
    """Validate an output *directory* before computing (created if missing); returns the Path."""
    text = "" if path is None else str(path)
    if not text.strip():
        raise ValueError(f"{option} is empty; give an output directory, e.g. {option} {example}")
    if text.strip() == "-":
        raise ValueError(f"{option} '-': this command writes several files; give an output directory, e.g. {option} {example}")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{option} {text!r} is a file, not a directory; give an output directory, e.g. {option} {example}")
    return ensure_writable_dir(p)


def check_file_stem(name, option="--name", suffixes=()):
    """Validate a file stem (``fig2``) that is joined to an output directory: a plain file name,
    no path separator, not ``.``/``..``, not hidden, not empty."""
    text = "" if name is None else str(name)
    if not text.strip():
        raise ValueError(f"{option} is empty; give a file name stem such as fig2")
    bad = ("/" in text) or ("\\" in text) or (os.sep in text) or (os.altsep and os.altsep in text) or text in (".", "..") or text.startswith(".") or "\0" in text
    if bad:
        raise ValueError(
            f"{option} {text!r} must be a plain file name stem (no directories, not hidden), e.g. fig2; "
            "choose the directory with --out"
        )
    for suf in suffixes:
        if len((text + suf).encode()) > 255:
            raise ValueError(f"{option} {text!r} is too long for a file name")
    return text


def ensure_writable_dir(path):
    """Create ``path`` (and parents) if needed and check it is a writable directory.

    Raises
    ------
    ValueError
        If ``path`` exists and is not a directory, or cannot be created or written to.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"output path {str(p)!r} exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {str(p)!r}: {exc.strerror}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ValueError(f"output directory {str(p)!r} is not writable")
    try:  # os.access can be optimistic (root, ACLs, network file systems): really try
        fd, probe = tempfile.mkstemp(prefix=".orbsym-write-test.", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"output directory {str(p)!r} is not writable: {exc.strerror}") from None
    return p


def _new_file_mode(target):
    """Mode for the file that replaces ``target``: its current mode, else ``0666 & ~umask``."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_WRITE_ERRNOS = {errno.ENOSPC: "disk full", errno.EFBIG: "file size limit", errno.EDQUOT: "disk quota exceeded"}


def _output_error(exc, target):
    """An :class:`OutputError` naming ``target`` for an OSError raised while writing it."""
    why = _WRITE_ERRNOS.get(exc.errno)
    reason = exc.strerror or str(exc)
    msg = f"cannot write {str(target)!r}: {reason}" + (f" ({why})" if why and why.lower() not in reason.lower() else "")
    return OutputError(exc.errno, msg)


def _temp_for(target):
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    return Path(tmp)


def _finish(tmp, target):
    """fsync and set the mode of a complete temporary file (before the rename)."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, _new_file_mode(target))


class _FileSet:
    """Temporary files of an :func:`atomic_files` block, renamed together on success."""

    def __init__(self):
        self.pending = {}  # target -> temporary path

    def add(self, target):
        target = Path(target)
        ensure_writable_dir(target.parent if str(target.parent) else ".")
        old = self.pending.pop(target, None)
        if old is not None:
            _unlink(old)
        with _signals_held():  # a SIGTERM between creating and registering would leak the file
            tmp = _temp_for(target)
            self.pending[target] = tmp
        return tmp

    def drop(self, target):
        tmp = self.pending.pop(Path(target), None)
        if tmp is not None:
            _unlink(tmp)

    def commit(self):
        for target, tmp in self.pending.items():
            try:
                _finish(tmp, target)
            except OSError as exc:
                raise _output_error(exc, target) from exc
        with _signals_held():
            for target, tmp in self.pending.items():
                os.replace(tmp, target)
        self.pending.clear()

    def discard(self):
        for tmp in self.pending.values():
            _unlink(tmp)
        self.pending.clear()


def _unlink(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def _signals_held():
    """Defer SIGINT and SIGTERM to the end of the block (set renames, temporary-file bookkeeping).

    Python runs signal handlers only in the main thread, so the handlers are swapped there for a
    recorder and the original handler is called once the block is done (a default action is
    re-raised with :func:`os.kill`).  In other threads nothing can interrupt the block.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []

    def record(signum, frame):
        got.append(signum)

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, record)
        except (ValueError, OSError):  # pragma: no cover - embedded interpreters
            pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(got):
            handler = old.get(sig)
            if callable(handler):
                handler(sig, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), sig)


_CURRENT_SET = contextvars.ContextVar("orbsym_atomic_files", default=None)


@contextlib.contextmanager
def atomic_files(paths=None):
    """Publish several files as one set: all are renamed into place only if the block succeeds.

    Parameters
    ----------
    paths : iterable of path-like, optional
        Targets to reserve temporary files for; the block receives their temporary paths (a list in
        the same order).  Without ``paths`` the block receives nothing useful and every
        :func:`atomic_path`/:func:`atomic_write` inside it (e.g. ``save_figure`` and
        ``write_csv`` of :mod:`orbsym.workflows.figures.common`) joins the set.

    On any exception (also ``KeyboardInterrupt`` and the CLI's :class:`Terminated` on SIGTERM) all
    temporary files are removed and no target changes.  A nested block joins the outer set.

    Example
    -------
    >>> with atomic_files(["fig.png", "fig.csv"]) as (png, csv):   # doctest: +SKIP
    ...     fig.savefig(png); write(csv)
    """
    outer = _CURRENT_SET.get()
    group = outer if outer is not None else _FileSet()
    token = _CURRENT_SET.set(group)
    try:
        temps = [group.add(p) for p in paths] if paths is not None else None
        yield temps
        if outer is None:
            group.commit()
    except BaseException:
        group.discard()
        raise
    finally:
        _CURRENT_SET.reset(token)


@contextlib.contextmanager
def atomic_path(target):
    """Yield a temporary path next to ``target``; on success move it over ``target`` atomically.

    For writers that want a file name (``matplotlib.savefig``, ``numpy.savez``, netCDF writers).
    On any exception the temporary file is removed and ``target`` is untouched.  Inside an
    :func:`atomic_files` block the rename is deferred until the whole set is complete.  An OSError
    while writing (disk full, file-size limit) becomes :class:`OutputError` naming ``target``.
    """
    target = Path(target)
    group = _CURRENT_SET.get()
    if group is not None:
        tmp = group.add(target)
        try:
            yield tmp
        except BaseException as exc:
            group.drop(target)
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise _output_error(exc, target) from exc
            raise
        return
    ensure_writable_dir(target.parent if str(target.parent) else ".")
    tmp = None
    try:
        with _signals_held():  # a signal between creating and remembering would leak the file
            tmp = _temp_for(target)
        try:
            yield tmp
            _finish(tmp, target)
        except OSError as exc:
            if isinstance(exc, OutputError):
                raise
            raise _output_error(exc, target) from exc
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            _unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(target, mode="w", encoding="utf-8"):
    """Open a temporary file for writing; atomically replace ``target`` when the block succeeds."""
    with atomic_path(target) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
