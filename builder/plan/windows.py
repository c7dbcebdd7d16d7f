"""Window planning: which fixed-length spans of a recording become images. Pure functions.

All positions are in samples at the working rate, so planning is exact and identical whether the
file is decoded whole or streamed in blocks (:class:`WindowCutter`). ``windows.select`` then keeps
all, the first, the loudest or a seeded random few of them (:class:`Selector`), or cuts one window
centred on each annotated event instead of the hop grid (:class:`EventCutter`).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import deque
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..config.sections import WindowsConfig


@dataclass(frozen=True)
class Window:
    index: int
    start_sample: int
    n_samples: int  # nominal length: every window is this long (zero-padded at the end)
    valid_samples: int  # how many of them are real audio
    sample_rate: int

    @property
    def start(self) -> float:
        """Seconds from the start of the recording."""
        return round(self.start_sample / self.sample_rate, 6)

    @property
    def end(self) -> float:
        """Nominal end in seconds (start + duration), also for a padded last window."""
        return round((self.start_sample + self.n_samples) / self.sample_rate, 6)


def window_samples(cfg: WindowsConfig, sample_rate: int) -> tuple[int, int]:
    """(length, hop) in samples."""
    return max(1, round(cfg.duration * sample_rate)), max(1, round(cfg.hop * sample_rate))


def too_short(total: int, cfg: WindowsConfig, sample_rate: int) -> str | None:
    """Why a recording of ``total`` samples gives no windows at all, or None."""
    if total <= 0:
        return "empty: no audio samples"
    if total < cfg.min_duration * sample_rate:
        return f"shorter than windows.min_duration ({total / sample_rate:.2f} s < {cfg.min_duration:g} s)"
    return None


def plan_windows(total: int, cfg: WindowsConfig, sample_rate: int) -> list[Window]:
    """Windows of a recording that has ``total`` samples at ``sample_rate``.

    Full windows start every hop; the first window that runs past the end is kept (zero-padded)
    when ``last == 'pad'`` and it holds at least ``min_last`` seconds; later partial ones are
    covered by it and never kept.
    """
    if too_short(total, cfg, sample_rate):
        return []
    n, hop = window_samples(cfg, sample_rate)
    full = 0 if total < n else (total - n) // hop + 1
    out = [Window(i, i * hop, n, n, sample_rate) for i in range(full)]
    tail_start = full * hop
    covered = (full - 1) * hop + n if full else 0
    if covered < total and tail_start < total and cfg.last == "pad":
        valid = total - tail_start
        if valid >= max(1, round(cfg.min_last * sample_rate)):
            out.append(Window(full, tail_start, n, valid, sample_rate))
    return out


def cut(samples: np.ndarray, window: Window, offset: int = 0) -> np.ndarray:
    """The window's samples from a buffer that starts at sample ``offset``, zero-padded to length."""
    a = window.start_sample - offset
    chunk = samples[a : a + window.valid_samples]
    if window.valid_samples == window.n_samples:
        return chunk
    out = np.zeros(window.n_samples, dtype=samples.dtype)
    out[: len(chunk)] = chunk
    return out


class WindowCutter:
    """Cuts windows from a stream of sample blocks, exactly as :func:`plan_windows` on the whole.

    Memory stays at about one window plus one block, whatever the recording's length.
    """

    def __init__(self, cfg: WindowsConfig, sample_rate: int):
        self.cfg, self.sample_rate = cfg, sample_rate
        self.n, self.hop = window_samples(cfg, sample_rate)
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0  # sample index of buffer[0]
        self.total = 0
        self.next_index = 0

    def feed(self, block: np.ndarray) -> Iterator[tuple[Window, np.ndarray]]:
        """Add samples; yield every full window that is now complete."""
        self.buffer = np.concatenate([self.buffer, block]) if len(self.buffer) else block
        self.total += len(block)
        if too_short(self.total, self.cfg, self.sample_rate):
            return  # plan_windows may still skip the whole recording (min_duration): keep everything
        while True:
            start = self.next_index * self.hop
            if start + self.n > self.total:
                break
            w = Window(self.next_index, start, self.n, self.n, self.sample_rate)
            yield w, cut(self.buffer, w, self.offset)
            self.next_index += 1
        drop = self.next_index * self.hop - self.offset  # nothing before the next start is needed
        if drop > 0:
            drop = min(drop, len(self.buffer))
            self.buffer, self.offset = self.buffer[drop:], self.offset + drop

    def finish(self) -> Iterator[tuple[Window, np.ndarray]]:
        """Yield the padded last window if the plan keeps one."""
        for w in plan_windows(self.total, self.cfg, self.sample_rate)[self.next_index :]:
            yield w, cut(self.buffer, w, self.offset)


# --------------------------------------------------------------------------- selection (windows.select)


def window_rank(seed: int, rel: str, index: int) -> int:
    """A window's place in a seeded random order of its recording: a pure function of the seed,
    the recording and the index, so the choice is the same for any worker count or rerun."""
    digest = hashlib.sha256(f"{seed}\x00{rel}\x00{index}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def rms(samples: np.ndarray, valid: int) -> float:
    """Root mean square of the real (unpadded) samples; float64 sums, so it never depends on blocking."""
    if valid <= 0:
        return 0.0
    x = samples[:valid].astype(np.float64)
    return float(np.sqrt(np.dot(x, x) / valid))


class Selector:
    """Keeps the windows ``windows.select`` asks for from a stream of ``(Window, samples)``.

    ``offer`` yields what can be rendered at once (``all``, ``first``, ``events``); ``loudest``
    and ``random`` hold the best ``per_recording`` windows so far (a copy of their samples, so
    memory is ``per_recording`` windows) and ``finish`` yields them in time order. Where that
    would be too much (``hold=False``), only their scores are kept and ``chosen`` lists them after
    ``finish``, for the caller to cut from a second decode.
    """

    def __init__(self, cfg: WindowsConfig, rel: str, hold: bool = True):
        self.cfg, self.rel = cfg, rel
        self.cap = cfg.per_recording
        self.given = 0
        self.hold = hold  # False: keep only scores; ``chosen`` then names the windows to cut again
        self.held: list[tuple] = []  # min-heap of (score, -index, window, samples): the worst on top
        self.chosen: set[int] = set()

    def _score(self, w: Window, x: np.ndarray) -> tuple:
        if self.cfg.select == "loudest":
            return (rms(x, w.valid_samples),)  # ties: the earlier window (larger -index) wins
        return (-window_rank(self.cfg.seed, self.rel, w.index),)

    def offer(self, w: Window, x: np.ndarray) -> Iterator[tuple[Window, np.ndarray]]:
        if self.cfg.select in ("loudest", "random"):
            item = (self._score(w, x), -w.index, w, x.copy() if self.hold else None)
            if len(self.held) < self.cap:
                heapq.heappush(self.held, item)
            elif item[:2] > self.held[0][:2]:
                heapq.heapreplace(self.held, item)
            return
        if self.cap is not None and self.given >= self.cap:
            return
        self.given += 1
        yield w, x

    def finish(self) -> Iterator[tuple[Window, np.ndarray]]:
        """The held windows in time order; without ``hold``, nothing (see ``chosen``)."""
        if not self.hold:
            self.chosen = {w.index for _, _, w, _ in self.held}
        else:
            for _, _, w, x in sorted(self.held, key=lambda item: item[2].index):
                yield w, x
        self.held = []


def event_starts(events, cfg: WindowsConfig, sample_rate: int) -> list[tuple[int, int, int]]:
    """``(index, start_sample, event_start_sample)`` of a window of ``duration`` centred on each
    event, in time order, clamped at the recording's start (the end is clamped by
    :class:`EventCutter`, which learns the length). The index is the event's position among the
    recording's events ordered by centre."""
    n, _ = window_samples(cfg, sample_rate)
    centres = sorted((round((e.start + e.end) / 2 * sample_rate), round(e.start * sample_rate)) for e in events)
    return [(i, max(0, c - n // 2), a) for i, (c, a) in enumerate(centres)]


class EventCutter:
    """Cuts the event-centred windows from a stream of blocks; same interface as
    :class:`WindowCutter`. A window that would run past the end is moved back to end there (or,
    in a recording shorter than one window, follows ``windows.last``); windows that land on the
    same start are cut once. Memory: about one window plus one block."""

    def __init__(self, events, cfg: WindowsConfig, sample_rate: int):
        self.cfg, self.sample_rate = cfg, sample_rate
        self.n, _ = window_samples(cfg, sample_rate)
        self.todo = deque(event_starts(events, cfg, sample_rate))
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = self.total = 0
        self.last_start = -1

    def _emit(self, index: int, start: int, valid: int):
        if start == self.last_start:
            return None
        self.last_start = start
        w = Window(index, start, self.n, valid, self.sample_rate)
        return w, cut(self.buffer, w, self.offset)

    def feed(self, block: np.ndarray) -> Iterator[tuple[Window, np.ndarray]]:
        self.buffer = np.concatenate([self.buffer, block]) if len(self.buffer) else block
        self.total += len(block)
        if too_short(self.total, self.cfg, self.sample_rate):
            return
        while self.todo and self.todo[0][1] + self.n <= self.total:
            index, start, _ = self.todo.popleft()
            item = self._emit(index, start, self.n)
            if item:
                yield item
        # Keep the next window's samples, and the last n for windows clamped to the end.
        keep_from = min(self.todo[0][1], self.total - self.n) if self.todo else self.total
        drop = min(max(0, keep_from - self.offset), len(self.buffer))
        if drop:
            self.buffer, self.offset = self.buffer[drop:], self.offset + drop

    def finish(self) -> Iterator[tuple[Window, np.ndarray]]:
        self.todo = deque(t for t in self.todo if t[2] < self.total)  # events past the end give no window
        if too_short(self.total, self.cfg, self.sample_rate) or not self.todo:
            return
        if self.total >= self.n:
            for index, _, _ in self.todo:
                item = self._emit(index, self.total - self.n, self.n)
                if item:
                    yield item
        elif self.cfg.last == "pad" and self.total >= max(1, round(self.cfg.min_last * self.sample_rate)):
            item = self._emit(self.todo[0][0], 0, self.total)
            if item:
                yield item
        self.todo.clear()
