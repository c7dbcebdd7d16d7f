"""Executors run work units; results come back as they finish (the layouts sort them).

``InlineExecutor`` runs in this process (``-j 1``, debugging); ``ProcessExecutor`` runs a pool of
processes, each with one math thread, and keeps only a bounded number of units in flight so memory
does not grow with the size of the corpus. The CLI's workers fork from the CLI itself once it has
imported what a recording needs; any other process (a notebook calling ``build``) gets them from a
preloaded forkserver (see :func:`_context`).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Callable, Iterable, Iterator, TypeVar

from . import process
from .lifeline import die_with_parent, start_forkserver

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(parent: int | None, capped: bool) -> None:
    """Each worker: one math thread, and deaf to Ctrl-C. The terminal sends SIGINT to the whole
    process group; the CLI alone answers it, and stops the workers (:meth:`ProcessExecutor.close`)
    instead of each printing a traceback of wherever it was. SIGTERM (the CLI's own handler, when
    forked from it) is the default again: that is how the CLI stops a worker.

    A worker forked from the CLI (``parent``, its pid) also dies with it. It holds copies of the
    CLI's descriptors, the pool's own pipe and the output lock among them, so nothing would ever
    tell it the CLI was killed: it would wait on that pipe forever, holding the lock. (One forked
    from a forkserver is tied to that forkserver at birth, see :mod:`builder.run.lifeline`.)
    ``capped``: whether its math libraries loaded with one thread (:func:`process.limit_threads`).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # held by the CLI while it forked us
    if parent is not None:
        die_with_parent(parent)
    process.configure(threads_capped=capped)
    process.limit_threads(worker=True)


class InlineExecutor:
    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self, abort: bool = False) -> None:
        pass


PRELOAD = ["builder.run.lifeline", "numpy", "soundfile", "soxr", "builder.run.worker", "builder.sources.audio",
           "builder.dsp.spectrogram", "builder.dsp.render", "builder.dsp.channels", "builder.layouts.units"]


def forks_here() -> bool:
    """Whether workers can fork straight from this process: its fork policy allows it
    (:attr:`process.Settings.fork`, the CLI's), on Linux, a process of one thread (every thread,
    native ones too, as the kernel counts them: a lock another thread held stays locked in a
    child), whose math libraries were capped before they loaded (they started no thread pool),
    without torch (no CUDA state is ever forked)."""
    settings = process.settings()
    if (not (settings.fork and settings.threads_capped) or sys.platform != "linux" or process.LIBC is None
            or "torch" in sys.modules):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _context() -> tuple:
    """Where workers come from, the pid they fork from when it is this process, and whether their
    math libraries loaded capped. Forked from this process where :func:`forks_here`, once it
    imported what a recording needs: a worker is ready the moment it exists, and shares those
    pages. Measured on 2 h of audio at ``-j 2``, the first recordings start ~40 ms sooner than from
    a forkserver, and the CLI's own imports no longer share the cores with the forkserver's and its
    resource tracker's. Otherwise a forkserver that imported what a recording needs once (not
    torch: the CPU path does without it, and a worker that needs it for a GPU imports it after the
    fork): workers fork from it in milliseconds. Spawn where there is no forkserver.
    multiprocessing is imported here, not with the module: a ``-j 1`` build never needs it."""
    import multiprocessing as mp

    if forks_here():
        import gc
        import importlib

        for name in PRELOAD:
            importlib.import_module(name)
        gc.freeze()  # the objects a worker inherits stay out of its collections: shared, never copied
        return mp.get_context("fork"), os.getpid(), process.settings().threads_capped
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn"), None, False
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # builder.run.lifeline first: it ties the forkserver to us
    with process.forkserver_environ() as capped:  # single-threaded BLAS there; our environ back after
        start_forkserver()
    if process.done.forkserver_capped is None:  # it starts once: what its workers are told from now on
        process.done.forkserver_capped = capped
    return ctx, None, bool(process.done.forkserver_capped)


def prestart(workers: int | None) -> None:
    """Start the forkserver now, so its imports overlap discovery and planning (unless workers
    will fork from this process)."""
    if (workers or default_workers()) <= 1 or forks_here():
        return
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        _context()


class ProcessExecutor:
    def __init__(self, workers: int):
        import signal
        from concurrent.futures import ProcessPoolExecutor

        self.workers, self.pool = workers, None
        # A Ctrl-C (or the CLI's SIGTERM) halfway through a fork leaves locks taken (logging's
        # among them) and a worker nobody knows of: it is held until the workers exist, then raised here.
        hold = getattr(signal, "pthread_sigmask", None)  # not on Windows, where nothing forks
        held = hold(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if hold else None
        try:
            ctx, parent, capped = _context()
            self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                            initargs=(parent, capped))
            if parent is not None:
                self.pool.submit(int)  # forks every worker now, while Ctrl-C is held
        finally:
            try:
                if hold:
                    hold(signal.SIG_SETMASK, held)
            except KeyboardInterrupt:
                self.close(abort=True)
                raise

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        it, running = iter(items), set()
        limit = self.workers * 3
        for item in it:
            running.add(self.pool.submit(fn, item))
            if len(running) >= limit:
                break
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    running.add(self.pool.submit(fn, nxt))

    def close(self, abort: bool = False) -> None:
        """Wait for the units running. With ``abort`` (the CLI on Ctrl-C) they are stopped now
        instead, as a kill would stop them (what they half wrote is in the ledger; the next run
        removes it), and the pool is left without waiting for its thread: one stopped while sending
        a result leaves that thread reading forever, so the CLI then exits without joining it
        (``cli.run``). A notebook calling ``build`` lets them finish: it goes on afterwards."""
        if self.pool is None:
            return
        if not abort:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        workers = list((getattr(self.pool, "_processes", None) or {}).values())  # no public API before 3.14
        for process in workers:
            process.terminate()
        for process in workers:  # gone before the output lock is released
            process.join(5)
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_executor(kind: str, workers: int | None, address: str | None = None):
    workers = workers or default_workers()
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(workers, address)
    return InlineExecutor() if workers <= 1 else ProcessExecutor(workers)


class LazyPool:
    """A build's executor, started on first use and shared by its kinds of units (recordings,
    then parquet shards); a single local unit runs in this process, with no pool to start."""

    def __init__(self, kind: str, workers: int | None, address: str | None):
        self.kind, self.workers, self.address, self.pool = kind, workers, address, None

    @property
    def size(self) -> int:
        """How many workers the pool will have."""
        return self.workers or default_workers()

    def map(self, fn: Callable[[T], R], items: Iterable[T], size: int) -> Iterator[R]:
        """``fn`` over ``items`` (``size`` of them) in the workers, results as they finish."""
        if self.pool is None:
            if size <= 1 and self.kind == "local":
                return map(fn, items)
            self.pool = make_executor(self.kind, min(self.workers or default_workers(), max(size, 1)), self.address)
        return self.pool.map_unordered(fn, items)

    def close(self, abort: bool = False) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.close(abort)
