"""Math threads: one per process. Parallelism comes from the workers; threads inside them only
contend (on two cores OpenBLAS's own threads made the small mel products 5x slower).

BLAS, MKL and OpenMP read :data:`THREAD_VARS` when they load, so the CLI sets them before it
imports anything (:func:`cap_threads_at_start`) and every worker inherits them; a process whose
libraries loaded earlier (a notebook calling ``build``) is capped by threadpoolctl instead
(:func:`limit_threads`). Imported by the CLI before anything else: it must stay this small.
"""

from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CAPPED_VAR = "SPECTROSET_THREADS_CAPPED"  # set with THREAD_VARS before any math library loaded


def cap_threads_at_start() -> None:
    """One math thread from the start, for a process that has loaded no math library yet (the
    CLI calls this first): BLAS, MKL and OpenMP read THREAD_VARS when they load, and workers
    inherit them. :func:`limit_threads` then has nothing left to do in this process or its
    children (threadpoolctl's import and library scan cost 17 ms per process), and OpenBLAS
    starts no thread of its own to spin. A user's own thread settings are kept."""
    if any(m in sys.modules for m in ("numpy", "scipy", "mkl_fft", "torch")):
        return
    for name in THREAD_VARS:
        os.environ.setdefault(name, "1")
    if all(os.environ[name] == "1" for name in THREAD_VARS):
        os.environ[CAPPED_VAR] = "1"


def limit_threads() -> None:
    """One thread for BLAS, MKL and OpenMP in this process, before its first recording: the
    variables cover libraries loaded later, threadpoolctl those already loaded (unless
    :func:`cap_threads_at_start` had set the variables before any loaded)."""
    for name in THREAD_VARS:
        os.environ.setdefault(name, "1")
    if os.environ.get(CAPPED_VAR) == "1" and all(os.environ[name] == "1" for name in THREAD_VARS):
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)
