"""Resumable chunk store of a sweep: ``<out>.parts/``, fingerprinted chunks, one owner at a time.

Layout of ``<out>.parts/``:

* ``lock`` -- ownership lock (:class:`orbsym.io.FileLock`: :func:`fcntl.flock`, exclusive,
  non-blocking; ``msvcrt.locking`` on Windows).  The kernel releases it when the owning process
  dies, even by SIGKILL, so a lock is never stale; the file's text (pid, host, start time) is only
  there for the error message.  A second run on the same output fails at once with
  :class:`SweepStateError`.
* ``sweep.json`` -- the sweep's fingerprint and its full description (informative: the
  authority is the fingerprint inside every chunk).
* ``points_<first>_<last>_<count>.npz`` -- one per completed chunk, written atomically, holding
  ``<variable>__<point index>`` arrays and ``__fingerprint__``.  A chunk is reused only when its
  own fingerprint equals the sweep's; a chunk without one, with a foreign one, or unreadable
  (truncated) stops the sweep with one line naming the file and the recovery (``restart=True``,
  CLI ``--restart``, which clears the directory).

The fingerprint is the SHA-256 of the canonical JSON of the sweep (geometry or factory, fixed
parameters, axes, observables, tolerance and method of the ``N_y = inf`` integral, orbsym
version).  Numbers are canonicalized first (:func:`canonical`), so ``gamma=1`` and ``gamma=1.0``
are the same sweep.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np


__all__ = ["SweepStateError", "Store", "fingerprint", "canonical", "FINGERPRINT_KEY"]

#: Array name of the sweep fingerprint inside every chunk file.
FINGERPRINT_KEY = "__fingerprint__"
#: Version of the chunk layout (part of the fingerprint).
STORE_FORMAT = 2
_RECOVER = "re-run with --restart (API: restart=True) to discard the partial results, or delete {dir!r}"


class SweepStateError(ValueError):
    """The resumable state of a sweep (``<out>.parts/`` or ``<out>``) is in use, corrupt or foreign.

    The message names the file and how to recover.
    """


def canonical(value):
    """``value`` with numbers in one canonical form (for fingerprints and JSON).

    Integral and non-integral reals become ``float`` (``1`` and ``1.0`` are equal), NumPy scalars
    become Python numbers, ``inf`` the string ``"inf"``; sequences become lists, dicts are
    canonicalized value by value.  Strings, None and bools are kept.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        v = float(value)
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return 0.0 if v == 0 else v  # -0.0 == 0.0
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [canonical(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    return repr(value)


def fingerprint(doc):
    """``(sha256 hex, canonical JSON text)`` of a sweep description ``doc`` (a dict)."""
    text = json.dumps(canonical(dict(doc, store_format=STORE_FORMAT)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest(), text


class Store:
    """``<out>.parts/`` of one sweep, owned by this process while open (a context manager).

    Parameters
    ----------
    out : path
        The sweep's NetCDF output; the store is ``<out>.parts/``.
    fingerprint : str
        :func:`fingerprint` of the sweep.
    doc : str
        Canonical JSON description of the sweep (written to ``sweep.json``).
    restart : bool
        Discard whatever the directory holds (stale, corrupt or another sweep's).
    """

    def __init__(self, out, fingerprint, doc, restart=False):
        self.out = Path(out)
        self.dir = Path(str(out) + ".parts")
        self.meta = self.dir / "sweep.json"
        self.fingerprint = fingerprint
        self.doc = doc
        self.restart = bool(restart)
        from ...io import FileLock

        self._lock = FileLock(self.dir / "lock", error=SweepStateError)
        #: Temporary files of an earlier, killed save of ``out`` removed when this store was opened.
        self.removed = []

    # ------------------------------------------------------------------ ownership
    def __enter__(self):
        from ...io import ensure_writable_dir, remove_leftover_temps

        if self.dir.exists() and not self.dir.is_dir():
            raise SweepStateError(f"{str(self.dir)!r} (partial results of {str(self.out)!r}) exists and is not a directory; remove it")
        ensure_writable_dir(self.dir.parent if str(self.dir.parent) else ".")
        self._lock.acquire(repr(str(self.out)))
        try:
            # we own the output now: temporary files of an earlier, killed save are stale
            self.removed = remove_leftover_temps([self.out])
            if self.restart:
                self._clear()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc):
        if self._lock.fd is not None and not self.chunk_files() and self.same_sweep() is not False:
            self.finish()  # nothing stored yet (e.g. stopped before the first chunk): leave nothing
        self._lock.release()
        return False

    def same_sweep(self):
        """True if ``sweep.json`` names this sweep, False if another (or unreadable), None if absent."""
        if not self.meta.exists():
            return None
        try:
            return json.loads(self.meta.read_text())["fingerprint"] == self.fingerprint
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError):
            return False

    def _recover(self):
        return _RECOVER.format(dir=str(self.dir))

    def _clear(self):
        for p in list(self.dir.iterdir()):
            if p.name == "lock":
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()

    def prepare(self):
        """Check ``sweep.json`` (same sweep, readable) or write it for a new store."""
        from ...io import atomic_write

        if self.meta.exists():
            try:
                old = json.loads(self.meta.read_text())
                fp = old["fingerprint"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                raise SweepStateError(f"{str(self.meta)!r} is corrupt or truncated ({type(exc).__name__}: {exc}); {self._recover()}") from None
            if fp != self.fingerprint:
                raise SweepStateError(
                    f"{str(self.dir)!r} holds the partial results of a different sweep; {self._recover()}, or choose another output file"
                )
            return
        with atomic_write(self.meta) as fh:
            json.dump({"fingerprint": self.fingerprint, "sweep": json.loads(self.doc)}, fh, indent=1)

    # ------------------------------------------------------------------ chunks
    def chunk_files(self):
        return sorted(self.dir.glob("points_*.npz"))

    def load(self, n_points):
        """``{point index: {variable: array}}`` of every stored chunk (each proven to be this sweep's)."""
        results = {}
        for f in self.chunk_files():
            try:
                with open(f, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                    files = list(z.files)
                    if FINGERPRINT_KEY not in files:
                        raise SweepStateError(f"chunk {str(f)!r} carries no sweep fingerprint (written by another orbsym version or not by orbsym); {self._recover()}")
                    if str(z[FINGERPRINT_KEY]) != self.fingerprint:
                        raise SweepStateError(f"chunk {str(f)!r} belongs to a different sweep (its fingerprint differs); {self._recover()}")
                    rows = {}
                    for key in files:
                        if key == FINGERPRINT_KEY:
                            continue
                        var, _, idx = key.rpartition("__")
                        i = int(idx)
                        if not var or not 0 <= i < n_points:
                            raise ValueError(f"bad entry {key!r}")
                        rows.setdefault(i, {})[var] = z[key]
            except SweepStateError:
                raise
            except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                raise SweepStateError(f"chunk {str(f)!r} is corrupt or truncated ({type(exc).__name__}: {exc}); {self._recover()}") from None
            results.update(rows)
        return results

    def write(self, rows):
        """Store ``[(index, {variable: array})]`` as one chunk file, atomically, with the fingerprint."""
        from ...io import atomic_write

        if not rows:
            return
        idx = sorted(i for i, _ in rows)
        arrays = {f"{var}__{i}": a for i, d in rows for var, a in d.items()}
        arrays[FINGERPRINT_KEY] = np.array(self.fingerprint)
        with atomic_write(self.dir / f"points_{idx[0]:07d}_{idx[-1]:07d}_{len(idx)}.npz", "wb") as fh:
            np.savez(fh, **arrays)

    def finish(self, clear=True):
        """Remove the directory (the output is written) and give up ownership.

        Everything but the lock goes first (with ``clear``); then the lock file is unlinked while
        still held, and the directory removed if empty -- a run that starts meanwhile either fails
        on the held lock or finds the lock file gone and takes a fresh one (it never adopts this
        sweep's chunks, which are gone).  ``clear=False`` (the output was already complete) keeps
        whatever else the directory holds.
        """
        if clear:
            with contextlib.suppress(OSError):
                self._clear()
        self._lock.release(unlink=True)
        with contextlib.suppress(OSError):
            self.dir.rmdir()
