"""Audio reading: decode in blocks, mix to mono, resample — never the whole file in memory.

soundfile (libsndfile: wav, aiff, flac, ogg/vorbis, opus, mp3) is tried first because it is the
fastest here; PyAV (ffmpeg: m4a/aac and anything else) is the fallback. Resampling is soxr HQ,
streamed, so a block-wise decode gives the same samples as a whole-file one. A path that is an
fsspec URL (``memory://``, ``s3://`` …) is decoded from the file object fsspec opens, and a row
of a parquet audio dataset (``parquet_rows.py``) from its bytes in memory.
"""

from __future__ import annotations

import io
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DecodeError

BLOCK_SECONDS = 60.0  # decode this much at once: fewer switches between decoder and FFT keep
# both in cache (20-s blocks were ~10% slower per window); a few MB, whatever the file's length


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int | None  # None when the container does not say
    backend: str

    @property
    def duration(self) -> float | None:
        return None if self.frames is None else self.frames / self.sample_rate


def _reason(exc: BaseException) -> str:
    """A short reason without the errno noise or the absolute path some decoders add."""
    text = getattr(exc, "strerror", None) or str(exc)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", " ".join(text.split()))
    text = re.sub(r":?\s*'?/[^']*'?$", "", text).strip(" :") or exc.__class__.__name__
    return text[:200]


_DEVNULL: list[int] = []  # one descriptor of os.devnull per process, opened on first use


@contextmanager
def quiet_decoder():
    """Send what C decoders print to file descriptor 2 themselves (libmpg123 inside libsndfile:
    ``Note: Illegal Audio-MPEG-Header 0x00000000 at offset 153.``, ffmpeg's notes) to os.devnull
    while one call runs; the file's fate is its reason in build.json. Put around each call, never
    across a ``yield``: the terminal is the process's again before anyone else writes (a -j 1 build
    decodes in the CLI's own process)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no stderr at all: nothing to keep quiet
        yield
        return
    try:
        if not _DEVNULL:
            _DEVNULL.append(os.open(os.devnull, os.O_WRONLY))
        os.dup2(_DEVNULL[0], 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _soundfile_blocks(path: Path, info_only: bool = False, fh=None):
    import soundfile as sf

    with quiet_decoder():
        f = sf.SoundFile(fh if fh is not None else str(path))
    if f.samplerate <= 0 or f.channels <= 0:
        f.close()
        raise DecodeError(str(path), "invalid header: no sample rate or channels")
    info = AudioInfo(f.samplerate, f.channels, f.frames if f.frames > 0 else None, "soundfile")
    if info_only:
        f.close()
        return info, None

    def blocks() -> Iterator[np.ndarray]:
        block = max(1 << 16, int(BLOCK_SECONDS * f.samplerate))
        with f:
            while True:
                try:
                    with quiet_decoder():
                        data = f.read(block, dtype="float32", always_2d=True)
                except Exception as exc:  # libsndfile raises several types for corrupt data
                    raise DecodeError(str(path), f"corrupt or truncated audio: {_reason(exc)}") from None
                if not len(data):
                    return
                yield data

    return info, blocks()


def _pyav_blocks(path: Path, info_only: bool = False, fh=None):
    import av

    try:
        with quiet_decoder():
            container = av.open(fh if fh is not None else str(path))
    except Exception as exc:
        raise DecodeError(str(path), f"not a readable audio file: {_reason(exc)}") from None
    streams = [s for s in container.streams if s.type == "audio"]
    if not streams:
        container.close()
        raise DecodeError(str(path), "no audio stream in the file")
    stream = streams[0]
    rate, channels = stream.codec_context.sample_rate or stream.rate, stream.codec_context.channels
    if not rate or not channels:
        container.close()
        raise DecodeError(str(path), "audio stream without a sample rate or channels")
    frames = None
    if stream.duration and stream.time_base:
        frames = int(stream.duration * stream.time_base * rate)
    info = AudioInfo(int(rate), int(channels), frames, "pyav")
    if info_only:
        container.close()
        return info, None

    def blocks() -> Iterator[np.ndarray]:
        to_float = av.AudioResampler(format="flt")  # packed: PyAV's planar path segfaults on 7.1 audio
        pending, size, target = [], 0, max(1 << 16, int(BLOCK_SECONDS * rate))
        try:
            with container:
                frames, more = container.decode(stream), True
                while more:
                    with quiet_decoder():  # a block's frames at a time: never quiet across the yield
                        for frame in frames:
                            for out in to_float.resample(frame):
                                packed = out.to_ndarray().reshape(-1, len(out.layout.channels))  # (samples, channels)
                                pending.append(packed)
                                size += len(packed)
                            if size >= target:
                                break
                        else:
                            more = False
                    if size >= target:
                        yield np.concatenate(pending)
                        pending, size = [], 0
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(str(path), f"corrupt or truncated audio: {_reason(exc)}") from None
        if pending:
            yield np.concatenate(pending)

    return info, blocks()


def _decode(path: Path | str, info_only: bool, fh=None):
    try:
        return _soundfile_blocks(path, info_only, fh)
    except DecodeError:
        raise
    except Exception:
        if fh is not None:
            fh.seek(0)
        return _pyav_blocks(path, info_only, fh)


def _open_url(url: str, info_only: bool = False):
    from .urls import open_url

    fh = open_url(url)
    try:
        info, blocks = _decode(url, info_only, fh)
    except BaseException:
        fh.close()
        raise
    if blocks is None:
        fh.close()
        return info, None

    def closing() -> Iterator[np.ndarray]:
        try:
            yield from blocks
        finally:
            fh.close()

    return info, closing()


def _open(path: Path | str, info_only: bool = False):
    from ..config.geometry import is_url
    from .parquet_rows import is_row, row_bytes

    if is_row(path):  # a dataset row: its bytes are small (one clip) and already read
        return _decode(path, info_only, io.BytesIO(row_bytes(path)))
    if is_url(path):
        return _open_url(path, info_only)
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DecodeError(str(path), "empty file (0 bytes)")
    except OSError as exc:
        raise DecodeError(str(path), f"cannot open: {exc.strerror}") from None
    return _decode(path, info_only)


def probe(path: Path) -> AudioInfo:
    """Rate, channels and (where the header says) length, without decoding."""
    return _open(path, info_only=True)[0]


def probe_bytes(data: bytes, name: str) -> AudioInfo:
    """:func:`probe` of an encoded recording held in memory (a dataset row's bytes); ``name`` is for messages."""
    return _decode(name, True, io.BytesIO(data))[0]


def _mono(block: np.ndarray) -> np.ndarray:
    mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    # float WAVs can carry NaN/inf; they would poison every FFT. A finite dot product (half the
    # cost of isfinite().all()) rules them out; an overflowing one only costs the full pass.
    if not np.isfinite(np.dot(mono, mono)) and not np.isfinite(mono).all():
        np.nan_to_num(mono, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    return mono


def stream(path: Path, sample_rate: int | None) -> tuple[AudioInfo, int, Iterator[np.ndarray]]:
    """``(info, rate, blocks)``: mono float32 blocks at ``sample_rate`` (None keeps the file's)."""
    import soxr

    info, raw = _open(path)
    rate = sample_rate or info.sample_rate

    def blocks() -> Iterator[np.ndarray]:
        if rate == info.sample_rate:
            for block in raw:
                yield _mono(block)
            return
        resampler = soxr.ResampleStream(info.sample_rate, rate, 1, dtype="float32", quality="HQ")
        for block in raw:
            out = resampler.resample_chunk(_mono(block), last=False)
            if len(out):
                yield out
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield tail

    return info, rate, blocks()


def read(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """The whole recording, mono float32 — for previews and tests, not for builds."""
    _, rate, blocks = stream(path, sample_rate)
    parts = list(blocks)
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), rate
