"""No process outlives the CLI: every process a build starts dies with the process that started it.

Linux's parent-death signal (``PR_SET_PDEATHSIG``) has the kernel kill a child the moment its
parent exits, however it went (``kill -9``, the OOM killer, SIGTERM, Ctrl-C). Nothing else would
tell a worker: it holds copies of the pool's pipes, so it never sees them close, and went on
rendering the recordings already queued to it into an output folder the next build then owned.

- Workers forked from the CLI die with the CLI (``executors._init_worker``).
- A forkserver started by :func:`start_forkserver` from the main thread dies with the process
  that started it, and every process it forks (the workers) dies with the forkserver: the CLI's
  death reaches them in two steps. This module, the forkserver's first preload, makes both ties
  there (:func:`_tie_forkserver`), before any other import.
- The resource tracker exits by itself when its pipe closes: once the CLI and the workers are gone.

Each tie is checked right after it is made, since the parent may have died just before: a process
whose parent is gone exits at once, before it writes anything. A forkserver is started deaf to
Ctrl-C (its workers inherit that), so a Ctrl-C during its imports prints no traceback.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl option, from linux/prctl.h
PARENT_VAR = "SPECTROSET_FORKSERVER_PARENT"
QUIET_TRACKER = "ignore:resource_tracker:UserWarning"  # -W for multiprocessing's resource tracker  # the pid a starting forkserver ties itself to


def _prctl():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").prctl
    except (OSError, AttributeError):  # not Linux: the getppid check below still holds
        return None


_PRCTL = _prctl()


def die_with_parent(parent: int) -> None:
    """Be killed (SIGKILL) as soon as ``parent`` (this process's parent's pid) exits; exit now if
    it already has (this process was then handed to another parent)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:
        os._exit(1)


def start_forkserver() -> None:
    """Start multiprocessing's forkserver (and its resource tracker) unless it runs, so that it
    ignores Ctrl-C from its first instruction and, from the main thread, dies with this process.

    An ignored signal stays ignored through ``exec`` (a blocked one does not: the forkserver is
    started with a fresh mask), so SIGINT is ignored here for the moment of the start, with SIGINT
    and SIGTERM held: one pressed meanwhile is delivered here once the handler is back. A parent
    death signal belongs to the thread that started the child, so only the main thread asks for
    one (a notebook's helper thread may end long before its process).
    """
    import threading
    from multiprocessing import forkserver

    # The resource tracker starts with this interpreter's -W options. After a Ctrl-C, SIGTERM or kill
    # it unlinks the pool's semaphores, as it is there to, and warned "leaked semaphore objects" (or
    # "No such file") under the CLI's one line; the cleanup stays, the warning goes.
    if QUIET_TRACKER not in sys.warnoptions:
        sys.warnoptions.append(QUIET_TRACKER)

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        if signal.SIGINT in signal.sigpending():  # ignoring it would discard it: start nothing now
            return
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.environ[PARENT_VAR] = str(os.getpid())
        try:
            forkserver.ensure_running()
        finally:
            os.environ.pop(PARENT_VAR, None)
            signal.signal(signal.SIGINT, signal.SIG_DFL if handler is None else handler)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _tie_forkserver() -> None:
    """In a forkserver :func:`start_forkserver` started (this module is its first preload): die
    with the process that started it, and have every child die with this forkserver."""
    parent = os.environ.pop(PARENT_VAR, "")
    if not parent.isdigit() or int(parent) == os.getpid() or "multiprocessing.forkserver" not in sys.modules:
        return
    die_with_parent(int(parent))
    forkserver = os.getpid()
    os.register_at_fork(after_in_child=lambda: _worker_start(forkserver))


def _worker_start(forkserver: int) -> None:
    die_with_parent(forkserver)
    sys.excepthook = _quiet_when_stopped


def _quiet_when_stopped(kind, value, tb) -> None:
    """A worker the forkserver was still starting when the CLI stopped finds its pipe closed while it
    reads its preparation data (multiprocessing/spawn.py): the CLI has already said "interrupted",
    and the forkserver would print that worker's traceback under it. Anything else is printed."""
    import pickle

    if not issubclass(kind, (EOFError, OSError, pickle.UnpicklingError, KeyboardInterrupt)):
        sys.__excepthook__(kind, value, tb)


_tie_forkserver()
