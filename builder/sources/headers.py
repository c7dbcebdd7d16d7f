"""Audio headers for the plan: each recording's frame count and rate, read without decoding
(``audio.probe``) and kept in the journal by the file's fingerprint.

The plan counts windows from headers to keep image folders under the Hub's file limit
(``layouts.sub_folders``). A header costs 0.1–1 ms (an ogg's length is its last page, found by
seeking), so a 28,000-file corpus spent up to half a minute in the main process before the first
window — on every resume and every incremental build too. With the cache only new and changed
files are read. Threads do not help: soundfile's Python side holds the GIL (0.26 ms a file read
one after the other, 0.38 ms with 4 threads, on ../shared/corpus); many missing headers are read
in the build's worker processes instead (:meth:`Headers.prefetch`).
"""

from __future__ import annotations

import struct

from .discover import SourceFile
from ..errors import DecodeError
from ..config.geometry import is_url


def read_header(source: SourceFile) -> tuple[int, int] | None:
    """``(frames, sample_rate)`` from the file's header; ``(0, 0)`` where it does not say or cannot
    be read (decoding it will most likely fail too); None for a URL (a request each: see README)."""
    if getattr(source, "header", None) is not None:  # a dataset row's, read from its bytes at discovery
        return source.header
    if is_url(source.path):
        return None
    from .audio import probe

    try:
        return ogg_vorbis_header(source.path) or _probed(probe(source.path))
    except (DecodeError, OSError, ValueError):
        return 0, 0


def _probed(info) -> tuple[int, int]:
    return info.frames or 0, info.sample_rate


OGG_TAIL = 65_536  # more than the largest Ogg page (65,307 bytes): the last page starts in it


def ogg_vorbis_header(path) -> tuple[int, int] | None:
    """``(frames, sample_rate)`` of an Ogg Vorbis file from two reads: the rate in its first page's
    identification header, the length in the granule position of its stream's last page; None for
    any other file (or one this cannot tell: another codec, a chained stream), which soundfile reads.

    libsndfile answers the same (all 76 Ogg Vorbis files of ../shared/corpus and the demo:
    tests/sources/test_headers.py) but first sets up the decoder, codebooks included: 0.30 ms a
    file against 0.03 ms here: ~4% of a -j 1 build of 600 five-second clips (bench/profile.py).
    """
    with open(path, "rb") as f:
        head = f.read(4096)
        if len(head) < 58 or head[:5] != b"OggS\0":
            return None
        packet = 27 + head[26]  # the page header, its segment table, then the first packet
        if head[packet : packet + 7] != b"\x01vorbis":
            return None
        rate, serial = struct.unpack_from("<I", head, packet + 12)[0], head[14:18]
        size = f.seek(0, 2)
        f.seek(max(0, size - OGG_TAIL))
        tail = f.read(OGG_TAIL)
    end = len(tail)
    while (end := tail.rfind(b"OggS\0", 0, end)) >= 0:  # the last page of this stream that ends a packet
        if end + 27 <= len(tail) and tail[end + 14 : end + 18] == serial:
            granule = struct.unpack_from("<q", tail, end + 6)[0]
            if granule >= 0:
                return (granule, rate) if rate else None
    return None


PREFETCH_MIN = 64  # fewer missing headers are read in this process: starting the pool early costs more


def read_headers(sources: list[SourceFile]) -> list[tuple[str, str, tuple[int, int] | None]]:
    """``(rel, fingerprint, header)`` of each source: one chunk of :meth:`Headers.prefetch`, in a worker."""
    return [(s.rel, s.fingerprint, read_header(s)) for s in sources]


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
            self.cached[source.rel] = hit  # a plan that counts twice (with and without margin) reads once
        self.seen[source.rel] = hit
        return hit[1], hit[2]

    def prefetch(self, sources: list[SourceFile], run, workers: int) -> None:
        """Read the headers the journal lacks in the build's ``workers`` (``run(fn, items, n)``: the
        pool's map) when there are many: a first build of a large corpus reads them on every core
        instead of one (the pool is the one its recordings then use)."""
        missing = [s for s in sources if not is_url(s.path) and getattr(s, "header", None) is None and (self.cached.get(s.rel) or ("",))[0] != s.fingerprint]
        if workers <= 1 or len(missing) < PREFETCH_MIN:
            return
        chunks = [missing[i::workers * 4] for i in range(workers * 4)]  # strided: long files spread out
        for found in run(read_headers, chunks, len(chunks)):
            for rel, fingerprint, header in found:
                self.cached[rel] = (fingerprint, *header)
                self.read += 1

    def save(self) -> None:
        """Keep what this plan read (and still used); only when a header was read."""
        if self.read:
            self.journal.set_headers(self.seen)
