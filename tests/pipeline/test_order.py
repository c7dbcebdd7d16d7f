"""Recordings run longest first, so that the workers end together; the order changes no byte."""

from __future__ import annotations

from builder.pipeline import longest_first
from builder.run.worker import FileJob


def _job(rel: str) -> FileJob:
    return FileJob(f"/src/{rel}", rel, "fp", None, None)


def test_longest_first_by_header_seconds_ties_and_unread_keep_their_order():
    todo = [_job(n) for n in ("a.wav", "b.ogg", "c.flac", "d.wav", "e.wav")]
    seen = {"a.wav": ("fp", 16000 * 5, 16000),  # 5 s
            "b.ogg": ("fp", 32000 * 240, 32000),  # 4 min
            "c.flac": ("fp", 44100 * 5, 44100),  # 5 s, after a.wav as before
            "d.wav": ("fp", 0, 0)}  # header without a length; e.wav's never read
    assert [j.rel for j in longest_first(todo, seen)] == ["b.ogg", "a.wav", "c.flac", "d.wav", "e.wav"]
