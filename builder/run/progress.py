"""A build's progress: tqdm on a terminal, a sparse log line otherwise, nothing with --quiet."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("spectroset")


class Progress:
    """tqdm on a terminal; a sparse log line otherwise; nothing with ``enabled=False`` (--quiet)."""

    def __init__(self, total: int, enabled: bool | None):
        self.total, self.done, self.windows = total, 0, 0
        self.silent = enabled is False
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar, self.last = None, time.monotonic()
        if self.tty and total:
            from tqdm import tqdm

            class Bar(tqdm):
                monitor_interval = 0  # no monitor thread: workers fork from a process of one thread

            self.bar = Bar(total=total, unit="file", desc="building", dynamic_ncols=True)

    def update(self, windows: int) -> None:
        self.done += 1
        self.windows += windows
        if self.bar:
            self.bar.update(1)
            self.bar.set_postfix(windows=self.windows)
        elif not self.silent and (time.monotonic() - self.last > 10 or self.done == self.total):
            self.last = time.monotonic()
            log.info("decoded %d/%d files, %d windows", self.done, self.total, self.windows)

    def close(self) -> None:
        if self.bar:
            self.bar.close()
