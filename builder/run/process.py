"""Process-wide settings of a build, in one place, behind one get/set API (as lhotse's
``audio_backend()``): where workers come from, math thread caps, allocator tuning.

    from builder.run import process
    process.settings()                 # the current Settings (frozen)
    process.configure(fork=True)       # set some of them; returns the previous Settings

- **Fork policy** (:attr:`Settings.fork`): whether a pool's workers may fork straight from this
  process (still only where :func:`builder.run.executors.forks_here` finds it safe); otherwise they
  come from a preloaded forkserver. Off by default: a notebook calling ``build`` gets a forkserver.
  The CLI turns it on once it capped the math threads before any library loaded.
- **Thread caps**: one math thread per process. Parallelism comes from the workers; threads inside
  them only contend (on two cores OpenBLAS's own threads made the small mel products 5x slower).
  BLAS, MKL and OpenMP read :data:`THREAD_VARS` when they load, so the CLI sets them in its own
  environment before it imports anything (:func:`cap_threads_at_start`, :attr:`Settings.threads_capped`)
  and its workers inherit them; any other process is capped by threadpoolctl (:func:`limit_threads`).
  A forkserver's workers are told by the pool's initializer, never through the environment.
- **Allocator** (:attr:`Settings.tune_allocator`): glibc thresholds that keep a worker's big
  temporaries on the heap (:func:`tune_allocator`), handed back by :func:`release_memory`.

Importing this module changes nothing; a build changes no variable of its caller's ``os.environ``
(:func:`forkserver_environ` puts back what it set). Imported by the CLI before anything else: it
must stay this small (no numpy).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, replace

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MATH_MODULES = ("numpy", "scipy", "mkl_fft", "torch")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


@dataclass(frozen=True, kw_only=True)
class Settings:
    fork: bool = False  # workers may fork from this process where that is safe (the CLI sets it)
    threads_capped: bool = False  # this process's math libraries loaded with one thread each
    tune_allocator: bool = True  # glibc's mmap/trim thresholds raised in a process that renders


@dataclass
class _Done:
    """What this process already did once (a forked child inherits it, as it inherits the effects)."""

    allocator_tuned: bool = False
    settled: bool = False  # ready to render (builder.run.worker._settle_process)
    forkserver_capped: bool | None = None  # whether the forkserver this process started loaded capped


_settings = Settings()
done = _Done()


def settings() -> Settings:
    """This process's settings."""
    return _settings


def configure(**changes) -> Settings:
    """Change some settings (by :class:`Settings` field name) for this process; returns the
    previous ones, so a caller can put them back with ``configure(**vars(previous))``."""
    global _settings
    previous, _settings = _settings, replace(_settings, **changes)
    return previous


def cap_threads_at_start() -> bool:
    """One math thread from the start, for a process that has loaded no math library yet (the CLI
    calls this first, for its own process): BLAS, MKL and OpenMP read THREAD_VARS when they load,
    and workers inherit them. :func:`limit_threads` then has nothing left to do in this process or
    its children (threadpoolctl's import and library scan cost 17 ms per process), and OpenBLAS
    starts no thread of its own to spin. A user's own thread settings are kept. Returns (and
    records in :attr:`Settings.threads_capped`) whether every variable is 1."""
    if any(m in sys.modules for m in MATH_MODULES):
        return False
    for name in THREAD_VARS:
        os.environ.setdefault(name, "1")
    capped = all(os.environ[name] == "1" for name in THREAD_VARS)
    configure(threads_capped=capped)
    return capped


def limit_threads(worker: bool = False) -> None:
    """One thread for BLAS, MKL and OpenMP in this process, before its first recording: nothing to
    do where they loaded capped (:attr:`Settings.threads_capped`), else threadpoolctl caps those
    loaded (call it again after loading another). ``worker``: a process the build started, whose
    environment is its own: THREAD_VARS at 1 there (a user's own kept) cover libraries loaded later.
    A caller's own process (a notebook's inline build) keeps its environment as it was."""
    if worker:
        for name in THREAD_VARS:
            os.environ.setdefault(name, "1")
    if _settings.threads_capped:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def limit_torch_threads() -> None:
    """torch's own intra-op threads at one, where torch is in use (the GPU path imports it)."""
    import torch

    torch.set_num_threads(1)


@contextlib.contextmanager
def forkserver_environ():
    """The environment a forkserver starts with, for the moment of its start, then the caller's
    again: THREAD_VARS at 1 where the caller has none, so it loads BLAS single-threaded. Yields
    whether its math libraries load capped, which its workers are then told by the pool's
    initializer (:func:`builder.run.executors._init_worker`)."""
    added = [name for name in THREAD_VARS if name not in os.environ]
    os.environ.update(dict.fromkeys(added, "1"))
    try:
        yield all(os.environ[name] == "1" for name in THREAD_VARS)
    finally:
        for name in added:
            os.environ.pop(name, None)


def _libc():
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
        return libc
    except (OSError, AttributeError):
        return None


LIBC = _libc()  # glibc, or None: loading it changes nothing in the process


def tune_allocator() -> None:
    """Keep a worker's multi-megabyte temporaries (decoded blocks, STFT frames) on the heap.

    By default glibc serves them with fresh ``mmap``s or trims them off the heap top as soon as
    they are freed, so every window faults its pages in again: on virtual machines that was a
    third of the spectrogram time. With high fixed thresholds freed blocks are reused; memory is
    still handed back, explicitly, by :func:`release_memory`. Once per process
    (:attr:`Settings.tune_allocator`); glibc only.
    """
    if done.allocator_tuned or not _settings.tune_allocator:
        return
    done.allocator_tuned = True
    if LIBC is not None and hasattr(LIBC, "mallopt"):
        LIBC.mallopt(M_MMAP_THRESHOLD, 64 << 20)
        LIBC.mallopt(M_TRIM_THRESHOLD, 256 << 20)


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``); no-op elsewhere.

    A long recording keeps its PNG bytes until the unit ends; they sit between the freed
    temporaries of later windows, so the heap could never shrink by itself: a 3-hour file peaked
    at 2.2 GB. Trimming every few dozen windows bounds that (see :func:`tune_allocator`).
    """
    if LIBC is not None:
        LIBC.malloc_trim(0)
