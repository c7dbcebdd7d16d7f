"""Audio headers for the plan: each recording's frame count and rate, read without decoding
(``audio.probe``) and kept in the journal by the file's fingerprint.

The plan counts windows from headers to keep image folders under the Hub's file limit
(``layouts.sub_folders``). A header costs 0.1–1 ms (an ogg's length is its last page, found by
seeking), so a 28,000-file corpus spent up to half a minute in the main process before the first
window — on every resume and every incremental build too. With the cache only new and changed
files are read. Threads do not help: soundfile's Python side holds the GIL (0.26 ms a file read
one after the other, 0.38 ms with 4 threads, on ../shared/corpus).
"""

from __future__ import annotations

from .discover import SourceFile
from .errors import DecodeError
from .fsutil import is_url


def read_header(source: SourceFile) -> tuple[int, int] | None:
    """``(frames, sample_rate)`` from the file's header; ``(0, 0)`` where it does not say or cannot
    be read (decoding it will most likely fail too); None for a URL (a request each: see README)."""
    if is_url(source.path):
        return None
    from .audio import probe

    try:
        info = probe(source.path)
    except (DecodeError, OSError, ValueError):
        return 0, 0
    return info.frames or 0, info.sample_rate


class Headers:
    """``read_header`` through the journal's cache: a header is read once per file version."""

    def __init__(self, journal):
        self.journal = journal
        self.cached = journal.headers()
        self.seen: dict[str, tuple[str, int, int]] = {}
        self.read = 0

    def __call__(self, source: SourceFile) -> tuple[int, int] | None:
        hit = self.cached.get(source.rel)
        if hit is None or hit[0] != source.fingerprint:
            header = read_header(source)
            if header is None:
                return None
            hit, self.read = (source.fingerprint, *header), self.read + 1
        self.seen[source.rel] = hit
        return hit[1], hit[2]

    def save(self) -> None:
        """Keep what this plan read (and still used); only when a header was read."""
        if self.read:
            self.journal.set_headers(self.seen)
