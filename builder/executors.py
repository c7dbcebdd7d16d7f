"""Executors run work units; results come back as they finish (the layouts sort them).

``InlineExecutor`` runs in this process (``-j 1``, debugging); ``ProcessExecutor`` runs a pool of
processes forked from a preloaded forkserver, each with one torch thread, and keeps only a bounded number of units in
flight so memory does not grow with the size of the corpus.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``); no-op elsewhere.

    A long recording keeps its PNG bytes until the unit ends; they sit between the freed STFT
    temporaries of later batches, so the heap could never shrink: a 3-hour file peaked at
    2.2 GB. Trimming every few batches bounds that at the cost of a few page faults, where a
    low fixed mmap threshold (tried first) made every large temporary fault in and halved speed.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


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
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


class InlineExecutor:
    workers = 1

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        pass


PRELOAD = ["torch", "soundfile", "soxr", "PIL.Image", "builder.worker", "builder.spectrogram", "builder.render"]


def _context():
    """A forkserver that imported torch once: workers fork from it in milliseconds, and it never
    ran a torch op, so forking it is safe. Spawn where there is no forkserver (Windows)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def prestart(workers: int | None) -> None:
    """Start the forkserver now, so its torch import overlaps discovery and planning."""
    if (workers or default_workers()) > 1 and "forkserver" in mp.get_all_start_methods():
        from multiprocessing import forkserver

        _context()
        forkserver.ensure_running()


class ProcessExecutor:
    def __init__(self, workers: int):
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
