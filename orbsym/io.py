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

One writer at a time: :class:`FileLock` is the exclusive, non-blocking ownership lock of an output
(the sweep store's ``<out>.parts/lock``, a figure's ``OUT/.<name>.lock``); a second run fails at
once with :class:`OutputLockedError` naming the lock file and its holder.  The kernel releases the
lock when the owner dies (even by SIGKILL), so a lock is never stale; whoever holds it may remove
the temporary files that a killed writer left behind (:func:`remove_leftover_temps`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import errno
import os
import signal
import socket
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
    "temp_pattern",
    "remove_leftover_temps",
    "FileLock",
    "OutputLockedError",
    "OutputError",
    "Terminated",
]


class OutputError(OSError):
    """Writing an output file failed (disk full, file-size limit, ...); the message names the file."""


class Terminated(BaseException):
    """Raised in the main process by the CLI's SIGTERM handler, so that cleanups run."""


def check_output_file(path, option="--out", example="result.json"):
    """Validate an output *file* name before computing; returns it as a :class:`~pathlib.Path`.

    Refused with one-line ValueErrors that start with ``option`` and the user's ``path``: an empty
    name, ``-``, a name ending in a path separator, an existing directory, and a parent that is not
    a writable directory (created if missing; a parent that is a file is refused).

    Parameters
    ----------
    path : path-like
        The output file as the user gave it.
    option : str
        How the user gave it (``"--out"``, ``"--output"``; an API argument name such as ``"path"``).
    example : str
        A good file name for the message.
    """
    text = "" if path is None else str(path)
    eg = f"{option} {example}" if option.startswith("-") else repr(example)
    if not text.strip():
        raise ValueError(f"{option} is empty; give a file name, e.g. {eg}")
    if text.strip() == "-":
        raise ValueError(f"{option} '-': standard output is the default, omit {option} to print there; or give a file name, e.g. {eg}")
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise ValueError(f"{option} {text!r} is a directory; give a file name, e.g. {eg}")
    p = Path(text)
    try:
        ensure_writable_dir(p.parent if str(p.parent) else ".")
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc}") from None
    return p


def check_output_dir(path, option="--out", example="figures"):
    """Validate an output *directory* before computing (created if missing); returns the Path."""
    text = "" if path is None else str(path)
    eg = f"{option} {example}" if option.startswith("-") else repr(example)
    if not text.strip():
        raise ValueError(f"{option} is empty; give an output directory, e.g. {eg}")
    if text.strip() == "-":
        raise ValueError(f"{option} '-': this command writes several files; give an output directory, e.g. {eg}")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{option} {text!r} is a file, not a directory; give an output directory, e.g. {eg}")
    try:
        return ensure_writable_dir(p)
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc}") from None


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


def temp_pattern(target):
    """Glob pattern (in ``target``'s directory) of the temporary files written for ``target``.

    :func:`atomic_path` writes ``DIR/.<name>.<random>.tmp<suffix>`` (``.fig2.png.k3j9.tmp.png``).
    """
    target = Path(target)
    return f".{_glob_escape(target.name)}.*.tmp{_glob_escape(target.suffix)}"


def _glob_escape(text):
    import glob

    return glob.escape(text)


def remove_leftover_temps(targets):
    """Remove the temporary files that an interrupted writer of ``targets`` left behind.

    Only safe while holding the targets' :class:`FileLock` (no live writer can own them then):
    a SIGKILL between creating a temporary file and renaming it leaves it behind.

    Parameters
    ----------
    targets : iterable of path-like
        Output files (e.g. ``OUT/fig2.png``, ``OUT/fig2.csv``).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    removed = []
    for target in targets:
        target = Path(target)
        parent = target.parent if str(target.parent) else Path(".")
        for tmp in sorted(parent.glob(temp_pattern(target))):
            try:
                if tmp.is_file() or tmp.is_symlink():
                    tmp.unlink()
                    removed.append(tmp)
            except OSError:
                pass
    return removed


class OutputLockedError(ValueError):
    """Another run holds the lock of an output; the message names the lock file and its holder."""


#: Descriptors of the locks held by this process (closed in forked children, see :class:`FileLock`).
_HELD_LOCKS = set()


def _close_inherited_locks():
    # A forked child shares the parent's open lock file description: a child that outlives its
    # parent (a pool worker that is still finishing a task) would keep the lock held.  Closing the
    # child's copy does not release the parent's lock (flock locks go with the last descriptor).
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class FileLock:
    """Exclusive, non-blocking ownership lock on the file ``path`` (one writer of an output).

    :func:`fcntl.flock` (``msvcrt.locking`` on Windows): the kernel releases the lock when the
    owning process exits, even by SIGKILL, so a lock is never stale and needs no clean-up rule;
    the file's text (pid, host, start time) is written only for the message of a refused run.
    Forked children do not keep it (their copy is closed at fork).

    Parameters
    ----------
    path : path-like
        The lock file (created, with its directory, if missing).
    error : type
        Exception class raised when another process holds the lock (default
        :class:`OutputLockedError`, a ValueError: exit status 2 at the CLI).

    Example
    -------
    >>> lock = FileLock("figures/.fig2.lock").acquire("'figures/fig2.*'")   # doctest: +SKIP
    >>> ...; lock.release(unlink=True)                                       # doctest: +SKIP
    """

    def __init__(self, path, error=OutputLockedError):
        self.path = Path(path)
        self.error = error
        self.fd = None

    def acquire(self, what, hint="wait for it to finish or choose another output file"):
        """Take the lock or raise ``error`` naming ``what``, the holder and the lock file."""
        for _ in range(20):  # retry when the file was unlinked under us (the owner just finished)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError:  # the directory was removed between mkdir and open
                continue
            if not _try_lock(fd, self.error):
                holder = _read_holder(fd)
                os.close(fd)
                raise self.error(
                    f"{what} is being written by another orbsym run ({holder}; lock {str(self.path)!r}); "
                    f"{hint} (the lock is released when that process exits)"
                )
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            info = f"pid {os.getpid()} on {socket.gethostname()}, started {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
            os.ftruncate(fd, 0)
            os.write(fd, info.encode())
            self.fd = fd
            _HELD_LOCKS.add(fd)
            return self
        raise self.error(f"could not take the lock {str(self.path)!r} (its directory keeps disappearing)")

    def release(self, unlink=False):
        """Give the lock up; ``unlink``: remove the lock file first (while still holding it)."""
        if self.fd is None:
            return
        if unlink:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        _HELD_LOCKS.discard(self.fd)
        os.close(self.fd)  # closing the descriptor releases the lock
        self.fd = None

    def __enter__(self):
        if self.fd is None:
            raise RuntimeError("FileLock used as a context manager must be acquired first: with FileLock(p).acquire(what): ...")
        return self

    def __exit__(self, *exc):
        self.release(unlink=True)
        return False


def _try_lock(fd, error=OutputLockedError):
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except (BlockingIOError, PermissionError):
        return False
    except OSError as exc:  # e.g. ENOLCK / EOPNOTSUPP on some network file systems
        raise error(
            f"cannot lock {_fd_path(fd)!r}: {exc.strerror}; this file system does not support file locks -- "
            f"write the output to a local disk and copy it afterwards"
        ) from None


def _fd_path(fd):
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/self/fd/{fd}")
    return f"file descriptor {fd}"


def _read_holder(fd):
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except (OSError, AttributeError):
        text = ""
    return text or "holder unknown"


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
