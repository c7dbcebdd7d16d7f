"""Work units as Ray tasks: ``spectroset build CONFIG --executor ray [--address ray://HOST:PORT | auto]``.

Planning, the journal, metadata and the card stay on the driver, exactly as with the process
pool; each task runs one unit on 1 CPU with one math thread: a recording (decode, spectrogram,
PNG, written into the output folder by the task, ``layouts/units.py``) or a parquet shard.
Tasks return metadata, which the driver journals as it arrives, so a killed build resumes the
same way, and the bytes are the same as a local build's. Every node must see the output folder
at the same path (a shared file system); a task on a node that does not stops the build. Without an address a private local Ray
instance is started with ``workers`` CPUs and shut down at :meth:`RayExecutor.close`; a session
that is already running (a cluster address, or ``ray.init`` done by the caller) is used and left
running. Only a bounded number of tasks is in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Iterator, TypeVar

from ..errors import BuildError, SpectrosetError
from .extras import require

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_CPU = 3  # enough queued work to keep every CPU busy while results travel back
GPU_SHARE = 0.25  # with device cuda/auto on a cluster with GPUs: four tasks share one GPU


def _import_ray():
    return require("ray", "--executor", "ray")


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes: Ray keeps retrying an address where nothing listens."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if address in ("auto", "local") or not sep or not port.isdigit():
        return  # Ray resolves these itself (and says what is wrong with them)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise BuildError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _run_unit(fn, item):
    """The task body: one math thread per task, like the process pool's workers."""
    from .process import limit_threads

    limit_threads(worker=True)
    return fn(item)


class RayExecutor:
    def __init__(self, workers: int, address: str | None = None):
        ray = self.ray = _import_ray()
        self.workers, self.address, self.started = workers, address, False
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            try:
                if address:
                    _check_reachable(address)
                    ray.init(address=address, **kwargs)
                else:
                    # "local": always a new private instance, even where `ray start` or RAY_ADDRESS
                    # points at a cluster (Ray would join that one and refuse num_cpus).
                    ray.init(address="local", num_cpus=workers, **kwargs)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise BuildError(f"cannot start or reach {where}: {' '.join(str(exc).split())[:300]}") from None
            self.started = True
        self.task = ray.remote(num_cpus=1)(_run_unit)
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", workers)))

    def _options(self, item) -> dict:
        """Resources of one task: a share of a GPU where the spectrogram asks for one and the cluster has it."""
        cfg = getattr(item, "cfg", None)
        device = cfg.spectrogram.device if cfg is not None else "cpu"
        gpus = self.ray.cluster_resources().get("GPU", 0)
        if device == "cuda" and not gpus:
            raise BuildError("spectrogram.device: cuda, but the Ray cluster has no GPU; use device: auto or cpu")
        # Ray hides GPUs from tasks that do not ask for one, so device auto has to ask to use them.
        return {"num_gpus": GPU_SHARE} if device in ("cuda", "auto") and gpus else {}

    def _get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SpectrosetError):  # e.g. no GPU on a worker: the same one line as locally
                raise cause from None
            raise

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ray, it = self.ray, iter(items)
        first = next(it, None)
        if first is None:
            return
        task = self.task.options(**self._options(first))
        limit = max(self.workers, self.cpus) * IN_FLIGHT_PER_CPU
        running = [task.remote(fn, first)]
        for item in it:
            running.append(task.remote(fn, item))
            if len(running) >= limit:
                break
        try:
            while running:
                done, running = ray.wait(running, num_returns=1)
                for ref in done:
                    yield self._get(ref)
                    nxt = next(it, None)
                    if nxt is not None:
                        running.append(task.remote(fn, nxt))
        finally:
            for ref in running:  # an error or an early stop: do not leave work behind on the cluster
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished, or a client that cannot force: nothing to free
                    pass

    def close(self, abort: bool = False) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False
