"""Atomic file output: an interrupted run leaves either the old file or the new one, never half.

All files written by orbsym (figures, data, derivations) go through :func:`atomic_write` or
:func:`atomic_path`: the content is written to a temporary file in the same directory, flushed
and fsync'ed, then moved over the target with :func:`os.replace` (atomic on POSIX and Windows).
The new file gets the permissions of the file it replaces, or the usual ``0666 & ~umask`` for a
new file (not the private ``0600`` of the temporary file).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "atomic_path", "ensure_writable_dir"]


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


@contextlib.contextmanager
def atomic_path(target):
    """Yield a temporary path next to ``target``; on success move it over ``target`` atomically.

    For writers that want a file name (``matplotlib.savefig``, ``numpy.savez``, netCDF writers).
    On any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    ensure_writable_dir(target.parent if str(target.parent) else ".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(target, mode="w", encoding="utf-8"):
    """Open a temporary file for writing; atomically replace ``target`` when the block succeeds."""
    with atomic_path(target) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
