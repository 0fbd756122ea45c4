"""Running many independent tasks: the one execution layer of orbsym.

Sweeps (:mod:`orbsym.workflows.sweeps`), the figure reproductions (:mod:`orbsym.workflows.figures`,
which are sweeps) and the k-point splitting of a single solve (:func:`orbsym.numeric.solve_bloch`
with ``workers > 1``) all run their tasks through this module:

* **where**: in this process (:class:`SerialExecutor`), on a local process pool with one BLAS
  thread per worker (:func:`process_pool`), or on any :class:`concurrent.futures.Executor` -- e.g.
  ``dask.distributed.Client(...).get_executor()`` (:func:`connect_scheduler`);
* **how**: :func:`run_tasks` submits tasks in a bounded window, yields results as they complete,
  and resubmits *lost* tasks (a worker process died, the pool broke) on a fresh pool -- each lost
  task is re-run alone, so a task that kills its worker every time is found and reported after
  ``retries`` isolated attempts, and the other in-flight tasks are not charged for it;
* **progress**: :func:`progress_bar` -- a tqdm bar on stderr, shown only when stderr is a terminal
  or inside Jupyter, unless asked for explicitly; the command line's one policy
  ``--progress {auto,on,off}`` (:func:`add_progress_argument`, :func:`progress_policy`,
  :func:`progress_output`): the bar on a terminal, one-line updates (:class:`LineStream`, every
  ``ORBSYM_PROGRESS_INTERVAL`` seconds, never a carriage return) in a log file or pipe;
* **errors**: a task that raises is reported with its parameters (:class:`TaskError`); the others
  complete.

Robustness: pool workers poll their parent's pid and exit when it is gone, so a SIGTERM/SIGKILL
of the main process leaves no idle workers (nor, therefore, multiprocessing's resource tracker)
holding the caller's pipes.

BLAS threads: orbsym's solves diagonalize many small blocks, for which one BLAS thread is fastest
(a multithreaded OpenBLAS spends its time synchronizing).  :func:`limit_blas` (used around every
solve by :func:`orbsym.numeric.solve_bloch`) limits BLAS to :func:`blas_threads` threads (default
1) with threadpoolctl.  Opt out with ``ORBSYM_BLAS_THREADS=0`` (leave BLAS alone) or choose a
number (``ORBSYM_BLAS_THREADS=4``), or call :func:`set_blas_threads`.

This module imports neither SymPy nor xarray (nor NumPy): the numeric layer may use it.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import contextlib
import json
import os
import sys
import threading
import time
from collections import deque

__all__ = [
    "BLAS_ENV",
    "BLAS_THREADS_ENV",
    "RETRIES",
    "SerialExecutor",
    "ProcessPool",
    "process_pool",
    "shared_pool",
    "shutdown_shared_pools",
    "resolve_executor",
    "connect_scheduler",
    "run_tasks",
    "map_tasks",
    "TaskError",
    "describe",
    "progress_bar",
    "progress_enabled",
    "progress_policy",
    "progress_output",
    "progress_interval",
    "check_progress_mode",
    "add_progress_argument",
    "LineStream",
    "ElapsedBar",
    "PROGRESS_MODES",
    "in_notebook",
    "blas_threads",
    "set_blas_threads",
    "limit_blas",
    "blas_limited",
]

#: Environment that keeps BLAS/OpenMP single-threaded in worker processes.
BLAS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
#: Environment variable choosing the BLAS threads of orbsym's solves (unset: 1; ``0``: no limit).
BLAS_THREADS_ENV = "ORBSYM_BLAS_THREADS"
#: Isolated re-runs of a lost task (its worker died) before it is reported as failed.
RETRIES = 2
#: Seconds between two checks of a pool worker for its parent process.
PARENT_POLL_SECONDS = 0.2
#: Seconds :func:`connect_scheduler` waits for a dask scheduler.
SCHEDULER_TIMEOUT = 5.0


# ============================================================================ BLAS threads
_BLAS_OVERRIDE = []  # [n] after set_blas_threads(n)
_CONTROLLER = {}


def blas_threads():
    """BLAS threads used inside orbsym's solves: an int >= 1, or None (no limit).

    :func:`set_blas_threads` wins; else ``ORBSYM_BLAS_THREADS`` (``0``, ``none`` or ``off``: no
    limit; an integer: that many threads); else 1.
    """
    if _BLAS_OVERRIDE:
        return _BLAS_OVERRIDE[-1]
    text = os.environ.get(BLAS_THREADS_ENV)
    if text is None or not text.strip():
        return 1
    t = text.strip().lower()
    if t in ("0", "none", "off", "no"):
        return None
    try:
        n = int(t)
    except ValueError:
        raise ValueError(f"{BLAS_THREADS_ENV}={text!r}: expected a positive integer, or 0/none/off for no limit") from None
    if n < 0:
        raise ValueError(f"{BLAS_THREADS_ENV}={text!r}: expected a positive integer, or 0/none/off for no limit")
    return n or None


def set_blas_threads(n):
    """Set the BLAS threads of orbsym's solves for this process (overrides ``ORBSYM_BLAS_THREADS``).

    ``n``: an integer >= 1, or ``None`` / ``0`` for no limit (BLAS keeps its own setting).
    Returns the previous value of :func:`blas_threads`.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"BLAS threads must be an integer >= 1, or None/0 for no limit, got {n!r}")
    old = blas_threads()
    _BLAS_OVERRIDE[:] = [n or None]
    return old


def _controller():
    """A cached threadpoolctl controller (libraries found once; refreshed if new ones were loaded)."""
    from threadpoolctl import ThreadpoolController

    key = len(sys.modules)
    c = _CONTROLLER.get("c")
    if c is None or _CONTROLLER.get("key") != key:
        c = ThreadpoolController()
        _CONTROLLER.update(c=c, key=key)
    return c


@contextlib.contextmanager
def limit_blas(n="default"):
    """Limit the BLAS libraries loaded in this process to ``n`` threads inside the block.

    ``n="default"`` uses :func:`blas_threads`; ``None`` does nothing.  Nested use is cheap: an
    inner block with the same limit as the outer one does not touch the libraries again.
    """
    if n == "default":
        n = blas_threads()
    if n is None or getattr(_LIMIT_STATE, "current", None) == n:
        yield
        return
    with _controller().limit(limits=int(n), user_api="blas"):
        prev = getattr(_LIMIT_STATE, "current", None)
        _LIMIT_STATE.current = n
        try:
            yield
        finally:
            _LIMIT_STATE.current = prev


_LIMIT_STATE = threading.local()


def blas_limited(fn):
    """Decorator: run ``fn`` inside :func:`limit_blas` (every engine entry point uses it, so the
    API and the CLI get one BLAS thread per process for their many small blocks by default)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with limit_blas():
            return fn(*args, **kwargs)

    return wrapper


# ============================================================================ progress
def in_notebook():
    """True inside a Jupyter kernel (not merely when ipykernel happens to be imported)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - any IPython oddity means "no notebook"
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_enabled(progress=None):
    """The progress-bar policy: ``progress`` if given, else shown iff stderr is a terminal or in Jupyter."""
    if progress is not None:
        return bool(progress)
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty or in_notebook()


def progress_bar(total, desc="orbsym", progress=None, initial=0, unit="task"):
    """A tqdm progress bar on stderr following :func:`progress_enabled` (a no-op bar when hidden).

    In Jupyter the widget bar (``tqdm.notebook``) is used when ipywidgets is importable; otherwise,
    and outside Jupyter, the text bar (``tqdm.std``).  ``tqdm.auto`` is not used: without ipywidgets
    it warns ``TqdmWarning: IProgress not found`` on every run.
    """
    from tqdm.std import tqdm

    if in_notebook():
        try:
            from tqdm import notebook
        except ImportError:
            notebook = None
        if notebook is not None and getattr(notebook, "IProgress", None) is not None:
            tqdm = notebook.tqdm

    return tqdm(total=total, initial=initial, desc=desc, file=sys.stderr, disable=not progress_enabled(progress), unit=unit, leave=True)


# ---------------------------------------------------------------------------- --progress {auto,on,off}
#: Values of the ``--progress`` option of every long-running command.
PROGRESS_MODES = ("auto", "on", "off")
#: Seconds between two progress lines when stderr is not a terminal (override: :data:`PROGRESS_INTERVAL_ENV`).
PROGRESS_INTERVAL = 30.0
#: Environment variable setting :data:`PROGRESS_INTERVAL` (seconds ``>= 0``; ``0``: a line at every update).
PROGRESS_INTERVAL_ENV = "ORBSYM_PROGRESS_INTERVAL"
#: ``--progress auto`` off a terminal stays silent for runs estimated below this (seconds).
QUIET_SECONDS = 2.0
#: The ``--help`` text of ``--progress``.
PROGRESS_HELP = ("progress on stderr: auto (default): a bar on a terminal (or in Jupyter), else one line at the start, every 30 s "
                 "(ORBSYM_PROGRESS_INTERVAL) and at the end (never carriage returns into a file; none for runs estimated under 2 s); "
                 "on: the same, also for short runs; off: none")


def progress_interval():
    """Seconds between two progress lines in a non-terminal: ``ORBSYM_PROGRESS_INTERVAL`` (a number
    ``>= 0``; ``0`` writes a line at every update), default :data:`PROGRESS_INTERVAL` (30 s).

    Raises
    ------
    ValueError
        The variable is set to something else (naming it and its value).
    """
    import math

    text = os.environ.get(PROGRESS_INTERVAL_ENV, "").strip()
    if not text:
        return PROGRESS_INTERVAL
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{PROGRESS_INTERVAL_ENV}={text!r}: expected a number of seconds >= 0")
    return v


def check_progress_mode(mode):
    """``mode`` if it is one of :data:`PROGRESS_MODES`, else ValueError naming it and the allowed values."""
    if isinstance(mode, str) and mode in PROGRESS_MODES:
        return mode
    raise ValueError(f"unknown --progress {mode!r}; allowed: {', '.join(PROGRESS_MODES)}")


def progress_policy(mode, seconds=None):
    """``(show, lines)`` of ``--progress MODE`` for a run estimated at ``seconds`` (None: unknown).

    The one progress policy of the command line.  What a terminal is, is decided by
    :func:`progress_enabled` (stderr a tty, or a Jupyter kernel): there ``auto`` and ``on`` show
    the tqdm bar (``show`` True, ``lines`` False).  Elsewhere (a log file, a pipe) they show
    one-line updates (``lines`` True: :class:`LineStream`, never a carriage return), except that
    ``auto`` stays silent for a run estimated below :data:`QUIET_SECONDS`.  ``off`` shows nothing.
    """
    check_progress_mode(mode)
    if mode == "off":
        return False, False
    if progress_enabled(None):
        return True, False
    if mode == "auto" and seconds is not None and seconds < QUIET_SECONDS:
        return False, False
    return True, True


class LineStream:
    """A stand-in for stderr that turns tqdm's carriage-return refreshes into whole lines.

    Every write that carries a ``\\r`` is a bar refresh: its text is kept, and written as one
    newline-terminated line when it is the first one or ``interval`` seconds after the last line
    written; the bar's final state (tqdm's closing newline) is always written.  A heartbeat thread
    (started by ``with``) repeats the last state every ``interval`` seconds while nothing new
    arrives, with the time since the start, so a long single step is never silent.  Any other text
    passes through unchanged.  Nothing written to the underlying stream contains a carriage return.
    """

    def __init__(self, stream, interval=PROGRESS_INTERVAL):
        self.stream = stream
        self.interval = float(interval)
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.pending = None
        self.last_line = None
        self.last_emit = None
        self.start = time.monotonic()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None

    def _emit(self, line):
        self.stream.write(line + "\n")
        self.stream.flush()
        self.last_line = line
        self.last_emit = time.monotonic()

    def write(self, s):
        s = str(s)
        if not s:
            return 0
        with self._lock:
            if "\r" in s:
                status = " ".join(s.replace("\r", " ").split())
                if status:
                    self.pending = status
                    if self.last_emit is None or time.monotonic() - self.last_emit >= self.interval:
                        self._emit(status)
                return len(s)
            if not s.strip():  # tqdm's closing newline: the final state, once
                if self.pending is not None and self.pending != self.last_line:
                    self._emit(self.pending)
                self.pending = None
                return len(s)
            return self.stream.write(s)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return False

    def fileno(self):
        return self.stream.fileno()

    def heartbeat(self):
        """Repeat the last state if no line was written for ``interval`` seconds."""
        with self._lock:
            now = time.monotonic()
            if self.pending is not None and (self.last_emit is None or now - self.last_emit >= self.interval):
                self._emit(f"{self.pending} (still running, {now - self.start:.0f} s since the start)")

    def __enter__(self):
        if self.interval > 0:
            def beat():
                while not self._stop.wait(self.interval):
                    self.heartbeat()

            self._thread = threading.Thread(target=beat, name="orbsym-progress-lines", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        return False


@contextlib.contextmanager
def progress_output(mode, seconds=None):
    """Context manager of the progress of a run under ``--progress MODE`` (:func:`progress_policy`;
    ``seconds``: the run's estimate, None if unknown).

    Yields the ``progress`` argument for :func:`progress_bar` / :func:`map_tasks` and the API
    functions that take one (False: hidden).  In line mode ``sys.stderr`` is a :class:`LineStream`
    inside the block (every bar of the execution layer writes to the ``sys.stderr`` of the moment
    it is created), restored on exit.
    """
    show, lines = progress_policy(mode, seconds)
    if not lines:
        yield show
        return
    old = sys.stderr
    with LineStream(old, progress_interval()) as stream:
        sys.stderr = stream
        try:
            yield True
        finally:
            sys.stderr = old


class ElapsedBar:
    """Progress of one long step (a single solve): a tqdm bar of one step whose elapsed time is
    refreshed every second, under the policy of the enclosing :func:`progress_output` (``show``: what
    it yielded).  On a terminal the bar ticks; in line mode the refreshes become a line every
    ``ORBSYM_PROGRESS_INTERVAL`` seconds (:class:`LineStream`), so a long solve is never silent.
    The step counts as done (1/1) only when the block exits without an exception.

    Example::

        with progress_output(args.progress, est.seconds) as show, ElapsedBar(show, "orbsym compute"):
            result = solve(...)
    """

    def __init__(self, show, desc, every=1.0):
        self.show, self.desc, self.every = bool(show), desc, float(every)
        self.bar = None

    def __enter__(self):
        if not self.show:
            return self
        self.bar = progress_bar(1, self.desc, True, unit="solve")
        self._stop = threading.Event()

        def tick():
            while not self._stop.wait(self.every):
                self.bar.refresh()

        self._thread = threading.Thread(target=tick, name="orbsym-elapsed-bar", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, *rest):
        if self.bar is None:
            return False
        self._stop.set()
        self._thread.join(timeout=2.0)
        if exc_type is None:
            self.bar.update(1)
        self.bar.close()
        return False


def add_progress_argument(parser, deprecated=(), bare=False):
    """Add ``--progress {auto,on,off}`` (default ``auto``) to an argparse ``parser``, with the old
    spellings ``deprecated`` (``--quiet``, ``--no-progress``: both mean ``--progress off``) as
    aliases in one mutually exclusive group.  ``bare=True`` (commands whose ``--progress`` used to
    be a switch) also accepts a bare ``--progress``, meaning ``on``.

    A deprecated alias keeps working (scripts and log parsers see the same output as before) and,
    when stderr is a terminal, prints one line naming its replacement.  The value is checked by
    ``type`` (a usage error naming the allowed values).
    """
    import argparse

    def mode(text):
        try:
            return check_progress_mode(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("unknown --progress ", "unknown value ")) from None

    class Alias(argparse.Action):
        def __init__(self, option_strings, dest, **kw):
            kw.pop("nargs", None)
            super().__init__(option_strings, dest, nargs=0, **kw)

        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, "off")
            if progress_enabled(None) and not in_notebook():
                print(f"orbsym: {option_string} is deprecated; use --progress off", file=sys.stderr)

    group = parser.add_mutually_exclusive_group()
    extra = {"nargs": "?", "const": "on"} if bare else {}
    text = PROGRESS_HELP.replace("on: the same", "on (or a bare --progress): the same") if bare else PROGRESS_HELP
    group.add_argument("--progress", type=mode, default="auto", metavar="{auto,on,off}", help=text, **extra)
    for flag in deprecated:
        group.add_argument(flag, dest="progress", action=Alias, help="deprecated: --progress off")
    return group


# ============================================================================ executors
class SerialExecutor(cf.Executor):
    """A :class:`concurrent.futures.Executor` that runs each task in this process at submission."""

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered through the future
            fut.set_exception(exc)
        return fut


@contextlib.contextmanager
def _blas_env():
    saved = {k: os.environ.get(k) for k in BLAS_ENV}
    os.environ.update(BLAS_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _watch_parent(parent):
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(70)


def _worker_start(parent, env, initializer, initargs):
    """Pool-worker initializer: BLAS single-threaded, exit when the parent process is gone."""
    os.environ.update(env)
    threading.Thread(target=_watch_parent, args=(parent,), name="orbsym-parent-watch", daemon=True).start()
    if "numpy" in sys.modules:  # forked worker: the BLAS libraries are loaded already
        with contextlib.suppress(Exception):
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
    if initializer is not None:
        initializer(*initargs)


class ProcessPool(cf.Executor):
    """A local process pool whose workers run with one BLAS thread and die with their parent.

    A :class:`concurrent.futures.ProcessPoolExecutor` underneath (``spawn`` start method by
    default: scripts need the ``if __name__ == "__main__":`` guard; ``fork``: no guard, workers
    inherit the parent's caches).  When a worker dies the underlying pool breaks; the next
    :meth:`submit` starts a fresh one (:func:`run_tasks` resubmits the lost tasks).
    """

    def __init__(self, workers, context="spawn", initializer=None, initargs=()):
        import multiprocessing

        if isinstance(workers, bool) or not hasattr(workers, "__index__") or int(workers) < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if context not in ("spawn", "fork", "forkserver"):
            raise ValueError(f"unknown start method {context!r}; allowed: spawn, fork, forkserver")
        self.workers = int(workers)
        self.context = context
        self._ctx = multiprocessing.get_context(context)
        self._init = (initializer, tuple(initargs))
        self._lock = threading.Lock()
        self._pool = None
        self._closed = False
        self.restarts = 0

    def _new(self):
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx, initializer=_worker_start, initargs=(os.getpid(), dict(BLAS_ENV), *self._init))

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a shut-down orbsym ProcessPool")
            if self._pool is None:
                self._pool = self._new()
            with _blas_env():
                try:
                    return self._pool.submit(fn, *args, **kwargs)
                except cf.BrokenExecutor:
                    old, self._pool = self._pool, self._new()
                    self.restarts += 1
                    old.shutdown(wait=False, cancel_futures=True)
                    return self._pool.submit(fn, *args, **kwargs)

    def processes(self):
        """The live worker processes (``multiprocessing.Process`` objects) of the current pool."""
        pool = self._pool
        return list(getattr(pool, "_processes", {}).values()) if pool is not None else []

    def terminate(self):
        """Kill the worker processes now (used on interruption) and shut the pool down."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._closed = True
        if pool is not None:
            for p in list(getattr(pool, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    p.terminate()
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            pool, self._pool = self._pool, None
            self._closed = True
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def process_pool(workers, context="spawn", initializer=None, initargs=()):
    """A :class:`ProcessPool` with ``workers`` processes (one BLAS thread each).

    Usable on its own to keep warm workers across several sweeps::

        with process_pool(2) as ex:
            a = sweep("bilayer", {...}, executor=ex, workers=2)
            b = sweep("bilayer", {...}, executor=ex, workers=2)

    With the ``spawn`` default, scripts need the ``if __name__ == "__main__":`` guard.
    """
    return ProcessPool(workers, context, initializer, initargs)


_SHARED = {}


def shared_pool(workers, context="fork"):
    """A persistent :class:`ProcessPool` per ``(workers, context)``, stopped at exit.

    Used for splitting one solve's k-points (:func:`orbsym.numeric.solve_bloch`): ``fork`` needs no
    ``__main__`` guard and the workers are started once per process.
    """
    key = (int(workers), context)
    pool = _SHARED.get(key)
    if pool is None:
        if not _SHARED:
            atexit.register(shutdown_shared_pools)
        pool = _SHARED[key] = ProcessPool(workers, context)
    return pool


def shutdown_shared_pools():
    """Stop the worker processes of every :func:`shared_pool`."""
    while _SHARED:
        _, pool = _SHARED.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


def resolve_executor(executor, workers=None):
    """``(executor, n_workers, owned)`` for ``executor`` in ``"serial"``, ``"process"`` or an Executor.

    ``owned`` is the pool this call created (to be shut down by the caller) or None.
    """
    if workers is not None:
        if isinstance(workers, bool) or not hasattr(workers, "__index__") or int(workers) < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        workers = int(workers)
    if isinstance(executor, str):
        if executor == "serial":
            return SerialExecutor(), 1, None
        if executor == "process":
            n = int(workers or os.cpu_count() or 1)
            pool = process_pool(n)
            return pool, n, pool
        raise ValueError(f"unknown executor {executor!r}; allowed: 'serial', 'process', or a concurrent.futures.Executor (e.g. dask client.get_executor())")
    if hasattr(executor, "submit"):
        return executor, int(workers or getattr(executor, "workers", None) or os.cpu_count() or 1), None
    raise ValueError(f"executor must be 'serial', 'process' or a concurrent.futures.Executor, got {executor!r}")


def connect_scheduler(address, timeout=None):
    """``(client, executor, n_workers)`` for a dask.distributed scheduler at ``address``.

    Raises
    ------
    ValueError
        dask.distributed is not installed, or no address.
    ConnectionError
        The scheduler does not answer within ``timeout`` seconds (default
        :data:`SCHEDULER_TIMEOUT`; one line naming the address).
    """
    timeout = SCHEDULER_TIMEOUT if timeout is None else float(timeout)
    try:
        from dask.distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed (pip install 'orbsym[dask]')") from None
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"--scheduler needs an address such as tcp://host:8786, got {address!r}")
    import logging

    quiet = [logging.getLogger(n) for n in ("distributed", "distributed.client", "distributed.comm", "tornado")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        client = Client(address.strip(), timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError (bad address) ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConnectionError(f"cannot reach the dask scheduler {address!r} within {timeout:g} s ({first[:200]})") from None
    finally:
        for lg, lv in zip(quiet, levels):
            lg.setLevel(lv)
    n = max(1, len(client.scheduler_info().get("workers", {})))
    return client, client.get_executor(), n


# ============================================================================ running
_LOST_NAMES = {"KilledWorker", "CommClosedError", "FutureCancelledError"}


def _is_lost(exc):
    """True if the task did not fail by itself but its worker or pool went away."""
    return isinstance(exc, cf.BrokenExecutor) or type(exc).__name__ in _LOST_NAMES


def describe(exc):
    """``"Type: message"`` of an exception (how failed tasks are reported)."""
    return f"{type(exc).__name__}: {exc}"


def run_tasks(fn, tasks, executor, window=2, retries=RETRIES):
    """Run ``fn(*args)`` for every ``args`` of ``tasks``; yield ``(j, result, error)`` as they complete.

    Parameters
    ----------
    fn : callable
        A picklable (module-level) function for process pools and dask.
    tasks : iterable of tuple
        Argument tuples, consumed lazily (task ``j`` is the ``j``-th).
    executor : concurrent.futures.Executor
    window : int
        Tasks in flight at once (submission is bounded, so millions of tasks need no memory).
    retries : int
        Isolated re-runs of a lost task (worker died: ``BrokenProcessPool``, dask ``KilledWorker``).
        Lost tasks are re-run one at a time on the (self-healing) pool; a task lost ``retries``
        times on its own is reported with the error.

    Yields
    ------
    (j, result, error)
        ``error`` is None on success, else the exception (the result is None; see
        :func:`describe`).  A task that raises is not retried (it would raise again).
    """
    it = iter(enumerate(tasks))
    exhausted = False
    pending = {}  # future -> (j, args, isolated)
    suspects = deque()  # (j, args) lost in the window: re-run alone
    losses = {}
    window = max(1, int(window))

    def submit(j, args, isolated):
        try:
            fut = executor.submit(fn, *args)
        except Exception as exc:  # noqa: BLE001 - e.g. a pool that cannot be (re)started
            fut = cf.Future()
            fut.set_exception(exc)
        pending[fut] = (j, args, isolated)

    try:
        while True:
            if suspects:
                if not pending:
                    j, args = suspects.popleft()
                    submit(j, args, True)
            else:
                while not exhausted and len(pending) < window:
                    try:
                        j, args = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    submit(j, tuple(args), False)
            if not pending:
                if exhausted and not suspects:
                    return
                continue
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: pending[f][0]):
                j, args, isolated = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - reported or retried
                    if _is_lost(exc):
                        n = losses[j] = losses.get(j, 0) + (1 if isolated else 0)
                        if n < max(1, retries) or not isolated:
                            if retries > 0:
                                suspects.append((j, args))
                                continue
                    yield j, None, exc
                    continue
                yield j, result, None
    finally:
        for fut in pending:
            fut.cancel()


class TaskError(RuntimeError):
    """Some tasks failed; the others completed.

    Attributes
    ----------
    failures : list of dict
        ``{"index", "point", "error"}`` per failed task (``point``: its parameters).
    results : list
        The results in task order (None where a task failed).
    """

    what = "tasks"

    def __init__(self, failures, n_tasks, results=None, what=None):
        self.failures = failures
        self.results = results
        what = what or self.what
        lines = [f"{len(failures)} of {n_tasks} {what} failed (the others are kept):"]
        for f in failures[:5]:
            first = f["error"].strip().splitlines()[0] if f["error"].strip() else "?"
            lines.append(f"  point {f['index']} {json.dumps(f['point'], default=str)}: {first}")
        if len(failures) > 5:
            lines.append(f"  ... and {len(failures) - 5} more")
        super().__init__("\n".join(lines))


@contextlib.contextmanager
def closing_pool(owned):
    """Around the use of a pool made by the caller (``owned``; None: nothing to close): terminated if
    the body raises (a Ctrl-C or a failure leaves no worker behind), shut down otherwise."""
    try:
        yield owned
    except BaseException:
        if owned is not None:
            owned.terminate()
            owned = None
        raise
    finally:
        if owned is not None:
            owned.shutdown(wait=True)


@contextlib.contextmanager
def owned_executor(executor, workers=None):
    """:func:`resolve_executor` as a context: yields ``(executor, n_workers)``; a pool made here is
    closed as by :func:`closing_pool`."""
    ex, n_workers, owned = resolve_executor(executor, workers)
    with closing_pool(owned):
        yield ex, n_workers


def map_tasks(fn, tasks, executor=None, workers=1, progress=None, desc="orbsym", labels=None, retries=RETRIES, errors="report", weights=None):
    """``[fn(*args) for args in tasks]`` through :func:`run_tasks`, with a progress bar.

    Parameters
    ----------
    executor : None, "serial", "process" or concurrent.futures.Executor
        None: serial for ``workers == 1``, else a local :func:`process_pool` (shut down after).
    labels : sequence, optional
        The parameters of each task, shown with its error (default: the task index).
    errors : {"report", "raise"}
        ``"report"``: raise :class:`TaskError` listing every failed task with its label after all
        tasks ran; ``"raise"``: re-raise the first failure's own exception (for the parts of one
        computation, e.g. the k-point ranges of a solve).
    weights : sequence of float, optional
        Progress-bar units per task (default 1).
    """
    if errors not in ("report", "raise"):
        raise ValueError(f"errors must be 'report' or 'raise', got {errors!r}")
    tasks = [tuple(a) for a in tasks]
    if executor is None:
        executor = "serial" if (workers or 1) == 1 or len(tasks) < 2 else "process"
    results = [None] * len(tasks)
    failures = []
    with owned_executor(executor, workers if not isinstance(executor, str) or executor == "process" else None) as (ex, n_workers):
        window = 1 if isinstance(ex, SerialExecutor) else 2 * n_workers
        with progress_bar(sum(weights) if weights is not None else len(tasks), desc, progress, unit="solve") as bar:
            for j, res, err in run_tasks(fn, tasks, ex, window=window, retries=retries):
                if err is not None:
                    if errors == "raise":
                        raise err
                    failures.append({"index": j, "point": labels[j] if labels is not None else j, "error": describe(err)})
                else:
                    results[j] = res
                bar.update(weights[j] if weights is not None else 1)
    if failures:
        failures.sort(key=lambda f: f["index"])
        raise TaskError(failures, len(tasks), results)
    return results
