"""Window planning: which fixed-length spans of a recording become images. Pure functions.

All positions are in samples at the working rate, so planning is exact and identical whether the
file is decoded whole or streamed in blocks (:class:`WindowCutter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .config import WindowsConfig


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
