"""Executors run work units; results come back as they finish (the layouts sort them).

``InlineExecutor`` runs in this process (``-j 1``, debugging); ``ProcessExecutor`` runs a pool of
processes forked from a preloaded forkserver, each with one math thread, and keeps only a bounded number of units in
flight so memory does not grow with the size of the corpus.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, wait
from functools import lru_cache
from typing import Callable, Iterable, Iterator, TypeVar

from .threads import THREAD_VARS, limit_threads

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``); no-op elsewhere.

    A long recording keeps its PNG bytes until the unit ends; they sit between the freed
    temporaries of later windows, so the heap could never shrink by itself: a 3-hour file peaked
    at 2.2 GB. Trimming every few dozen windows bounds that (see :func:`tune_allocator`).
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@lru_cache(maxsize=None)
def tune_allocator() -> None:
    """Keep a worker's multi-megabyte temporaries (decoded blocks, STFT frames) on the heap.

    By default glibc serves them with fresh ``mmap``s or trims them off the heap top as soon as
    they are freed, so every window faults its pages in again: on virtual machines that was a
    third of the spectrogram time. With high fixed thresholds freed blocks are reused; memory is
    still handed back, explicitly, by :func:`release_memory`. Once per process; glibc only.
    """
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(M_MMAP_THRESHOLD, 64 << 20)
        _LIBC.mallopt(M_TRIM_THRESHOLD, 256 << 20)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


def _libc():
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def _init_worker() -> None:
    limit_threads()


class InlineExecutor:
    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        pass


PRELOAD = ["numpy", "soundfile", "soxr", "mkl_fft", "builder.worker", "builder.audio", "builder.spectrogram",
           "builder.render", "builder.channels", "builder.layouts.units"]


def _context():
    """A forkserver that imported what a recording needs once (not torch: the CPU path does
    without it, and a worker that needs it for a GPU imports it after the fork, so no CUDA state
    is ever forked): workers fork from it in milliseconds. Spawn where there is no forkserver.
    multiprocessing is imported here, not with the module: a ``-j 1`` build never needs it."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    for name in THREAD_VARS:  # before the forkserver loads BLAS, so it starts single-threaded
        os.environ.setdefault(name, "1")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def prestart(workers: int | None) -> None:
    """Start the forkserver now, so its imports overlap discovery and planning."""
    if (workers or default_workers()) <= 1:
        return
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        from multiprocessing import forkserver

        _context()
        forkserver.ensure_running()


class ProcessExecutor:
    def __init__(self, workers: int):
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker)

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

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


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

    def map(self, fn: Callable[[T], R], items: Iterable[T], size: int) -> Iterator[R]:
        """``fn`` over ``items`` (``size`` of them) in the workers, results as they finish."""
        if self.pool is None:
            if size <= 1 and self.kind == "local":
                return map(fn, items)
            self.pool = make_executor(self.kind, min(self.workers or default_workers(), max(size, 1)), self.address)
        return self.pool.map_unordered(fn, items)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
