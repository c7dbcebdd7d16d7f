"""Window counts from audio headers, before any decoding: how many windows a recording will give
(the plan's folder sizes and ``by: window`` offsets) and whether it gives none (it then takes no
split's or fold's place: ``dataset.make_plan``).
"""

from __future__ import annotations

from typing import Callable

from ..config.sections import Config
from ..config.source import EventLabels
from ..sources.discover import SourceFile


def estimated_windows(cfg: Config, header: Callable[[SourceFile], tuple[int, int] | None] | None = None,
                      margin: bool = True) -> Callable[[SourceFile], int]:
    """Windows a recording will give, from its header's ``(frames, sample_rate)`` (``header``,
    default :func:`headers.read_header`: no decoding), rounded up with a ``margin``: +2% and +2 for
    resampling, header frame counts that are off, and a padded last window. A recording whose
    header does not give its length counts 0: decoding it will most likely fail too."""
    from .windows import plan_windows

    if header is None:
        from ..sources.headers import read_header as header

    def count(source: SourceFile) -> int:
        length = _length(cfg, header(source))
        if length is None:
            return 0
        n = len(plan_windows(length[0], cfg.windows, length[1]))
        return int(n * 1.02) + 2 if margin else n

    return count


def _length(cfg: Config, header: tuple[int, int] | None) -> tuple[int, int] | None:
    """``(samples, rate)`` of a recording after ``audio.sample_rate``, from its header; None where it does not say."""
    frames, sample_rate = header or (0, 0)
    if not frames or not sample_rate:
        return None
    rate = cfg.audio.sample_rate or sample_rate
    return -(-frames * rate // sample_rate), rate


def no_window(cfg: Config, header: Callable[[SourceFile], tuple[int, int] | None]) -> Callable[[SourceFile], bool]:
    """Whether a recording's header says it gives no window (shorter than ``windows.min_duration``, or
    too short for one window with ``min_last``): it takes no split's or fold's place in the plan.
    False where the header does not tell its length (decoding decides then)."""
    from .windows import plan_windows, too_short

    def empty(source: SourceFile) -> bool:
        length = _length(cfg, header(source))
        if length is None:
            return False
        total, rate = length
        if isinstance(cfg.source.labels, EventLabels):  # windows follow the events: only the length rule
            return too_short(total, cfg.windows, rate) is not None
        return not plan_windows(total, cfg.windows, rate)

    return empty
