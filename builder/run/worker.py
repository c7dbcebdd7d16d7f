"""The per-recording work unit: decode → cut windows → spectrogram → pixels → PNG.

``process_file`` is a module-level function of a picklable job, so any executor (inline, process
pool, Ray) can run it. It reads one file and writes nothing: finished batches of rows go to an
optional ``sink`` (``layouts/units.py`` writes their bytes there). Problems with the file become
``FileResult.reason``. The file is streamed, so memory stays flat for hours-long audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..config.sections import Config, SpectrogramConfig
from ..errors import BuildError, ConfigError, DecodeError, SpectrosetError
from . import process
from .rows import Row, render_batch  # noqa: F401  (Row: the layouts' and the journal's row type)
from ..plan.windows import WindowCutter, too_short, window_samples

CPU_BATCH_BYTES = 4 << 20  # complex STFT output per call on a CPU: stays in cache, reuses heap pages
TRIM_EVERY = 64  # windows between heap trims on long recordings (see process.release_memory)
HOLD_BYTES = 256 << 20  # loudest/random keep their best windows' samples up to this; past it, decode twice
GPU_BATCH = 128  # on a GPU a launch costs more than the math; bigger batches amortise it


def batch_size(spectrogrammer, n_samples: int) -> int:
    """Windows per spectrogram call. On a CPU, one 5-s 2048-point STFT is already 2.5 MB: batching
    such windows only adds cache misses and page faults (16 at a time was 2x slower per window),
    so big windows go one by one and tiny ones are grouped to amortise the per-call overhead."""
    if spectrogrammer.device != "cpu":
        return GPU_BATCH
    size = spectrogrammer.cfg.n_freqs * spectrogrammer.n_frames(n_samples) * 8
    return max(1, min(16, CPU_BATCH_BYTES // size))


@dataclass(frozen=True)
class FileJob:
    path: str
    rel: str
    fingerprint: str
    cfg: Config
    events: tuple = ()  # events.Event of the recording, with source.labels.events


@dataclass
class FileResult:
    rel: str
    fingerprint: str
    sample_rate: int | None = None
    duration: float = 0.0
    silent: int = 0
    reason: str | None = None
    rows: list[Row] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # where a layout put each row's image, if on disk


@lru_cache(maxsize=8)
def _spectrogrammer(cfg: SpectrogramConfig, sample_rate: int, device: str):
    from ..dsp.spectrogram import Spectrogrammer

    if device != "cpu":
        process.limit_torch_threads()  # parallelism comes from workers; threads inside them only contend
    return Spectrogrammer(cfg, sample_rate, device)


def _settle_process() -> None:
    """Once per process (:data:`process.done`), before its first recording: import everything a
    recording needs (not torch: the CPU path does without it), cap the math libraries at one
    thread, move the imported objects out of the garbage collector's sight, whose full passes over
    them cost ~3% of a build, and keep big temporaries on the heap."""
    if process.done.settled:
        return
    import gc

    import soundfile, soxr  # noqa: F401, E401

    from ..dsp import render, spectrogram  # noqa: F401

    spectrogram.rfft_last_axis()  # imports the FFT library
    process.limit_threads()
    gc.freeze()
    process.tune_allocator()
    process.done.settled = True


def _device(name: str) -> str:
    """The device for ``spectrogram.device``: ``cpu`` without importing torch; ``auto`` falls back
    to the CPU, and ``cuda`` without a usable GPU stops the build with one line instead of a
    crash inside torch."""
    if name == "cpu":
        return "cpu"
    import torch

    from ..dsp.spectrogram import resolve_device

    device = resolve_device(name)
    if device == "cuda" and not torch.cuda.is_available():
        built = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise BuildError(f"spectrogram.device: cuda, but torch {torch.__version__} ({built}) sees no CUDA GPU "
                         "on this machine; use device: auto (falls back to cpu) or cpu")
    return device


def _is_silent(samples: np.ndarray, valid: int, threshold_db: float | None) -> bool:
    if threshold_db is None:
        return False
    x = samples[:valid].astype(np.float64)
    rms_db = 10.0 * np.log10(np.mean(x * x) + 1e-20) if valid else -np.inf
    return rms_db < threshold_db


def process_file(job: FileJob, sink=None) -> FileResult:
    """All windows of one recording, or the reason it gives none. ``sink(rows)`` takes each
    finished batch (it may write and drop the rows' bytes) before the next is computed."""
    from ..sources import audio

    cfg = job.cfg
    result = FileResult(job.rel, job.fingerprint)
    _settle_process()
    device = _device(cfg.spectrogram.device)  # before decoding: a missing GPU is the build's problem, not the file's
    try:
        _, rate, blocks = audio.stream(job.path, cfg.audio.sample_rate)
        if cfg.audio.sample_rate is None:
            from ..config.geometry import check_geometry

            try:
                check_geometry(cfg, rate)
            except ConfigError as exc:
                result.reason = f"settings do not fit its {rate} Hz rate: {exc.message}"
                return result
        spec = _spectrogrammer(cfg.spectrogram, rate, device)
        batch = batch_size(spec, window_samples(cfg.windows, rate)[0])
        cutter, selector, wanted = _chooser(job, rate)
        pending: list = []

        def flush() -> None:
            if pending:
                before = len(result.rows)
                rows = render_batch(cfg, spec, [w for w, _ in pending], [x for _, x in pending])
                pending.clear()
                if sink is not None:
                    sink(rows)
                result.rows.extend(rows)
                if len(result.rows) // TRIM_EVERY > before // TRIM_EVERY:  # long recordings only
                    process.release_memory()

        def take(items) -> None:
            for w, x in items:
                if _is_silent(x, w.valid_samples, cfg.windows.skip_silent_below_db):
                    result.silent += 1
                    continue
                if wanted(w):
                    render_later(selector.offer(w, x))

        def render_later(items) -> None:
            for item in items:
                pending.append(item)
                if len(pending) >= batch:
                    flush()

        for block in blocks:
            take(cutter.feed(block))
        take(cutter.finish())
        render_later(selector.finish())
        if selector.chosen:  # too many windows to hold: cut the chosen ones from a second decode
            render_later(_recut(job, rate, selector.chosen))
        flush()
    except DecodeError as exc:
        return FileResult(job.rel, job.fingerprint, reason=exc.reason)
    except MemoryError:
        return FileResult(job.rel, job.fingerprint, reason="out of memory while decoding")
    except SpectrosetError:
        raise  # build-wide problems (e.g. no CUDA device) stop the build
    except Exception as exc:  # a library bug on one odd file must not stop a build of thousands
        detail = " ".join(str(exc).split())[:160]
        return FileResult(job.rel, job.fingerprint, reason=f"unexpected error: {type(exc).__name__}: {detail}")
    result.sample_rate, result.duration = rate, cutter.total / rate
    short = too_short(cutter.total, cfg.windows, rate)
    if short:
        return FileResult(job.rel, job.fingerprint, rate, result.duration, reason=short)
    if not result.rows and not result.silent:
        result.reason = _why_none(job)
    return result


def _why_none(job: FileJob) -> str:
    # Past too_short, a window was cut (a padded one at least): only its labels dropped it.
    if job.cfg.windows.select == "events" and not job.events:
        return "no annotated event (windows.select: events)"
    if _drops_background(job.cfg):
        return "no window overlaps an event (source.labels.background: null)"
    return "no window kept (shorter than windows.min_last, or last: drop)"


def _drops_background(cfg: Config) -> bool:
    from ..config.source import EventLabels

    return isinstance(cfg.source.labels, EventLabels) and cfg.source.labels.background is None


def _recut(job: FileJob, rate: int, chosen: set[int]):
    """The grid windows ``chosen`` of a recording, decoded again (decoding is deterministic)."""
    from ..sources import audio

    _, _, blocks = audio.stream(job.path, job.cfg.audio.sample_rate)
    cutter = WindowCutter(job.cfg.windows, rate)
    for block in blocks:
        yield from ((w, x) for w, x in cutter.feed(block) if w.index in chosen)
    yield from ((w, x) for w, x in cutter.finish() if w.index in chosen)


def _chooser(job: FileJob, rate: int):
    """``(cutter, selector, wanted)``: the cutter of the hop grid, or of event-centred windows;
    the :class:`Selector` of ``windows.select``; and ``wanted(window)``, false for a window with
    no event when ``background: null`` drops those (chosen among the rest)."""
    from ..sources.events import EventIndex, label_window
    from ..plan.windows import EventCutter, Selector

    cfg = job.cfg
    if cfg.windows.select == "events":
        cutter = EventCutter(job.events, cfg.windows, rate)
    else:
        cutter = WindowCutter(cfg.windows, rate)
    hold = (cfg.windows.per_recording or 0) * cutter.n * 4 <= HOLD_BYTES
    selector = Selector(cfg.windows, job.rel, hold)
    if not _drops_background(cfg):
        return cutter, selector, lambda w: True
    spec, index = cfg.source.labels, EventIndex(job.events)
    # The length read so far: past a full window's end, and final for a padded last one, so this
    # labels every window exactly as the layouts do with the recording's duration.
    return cutter, selector, lambda w: label_window(
        index, w.start, w.end, spec.min_overlap, None, cutter.total / rate)[0] is not None
