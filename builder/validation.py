"""What the config's schema modules share: the frozen base model, path-or-URL fields, errors that
name a key, sizes such as ``500MB``, and the bounds on one window with the checks that need a
sample rate.

:func:`check_geometry` runs at load time when ``audio.sample_rate`` is fixed, else per recording in
the worker. Errors are ``ValueError("@dotted.key@ message")`` (see :func:`_bad`), which
:mod:`builder.loading` turns into ``file: dotted.key: message`` lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .config import Config


class Frozen(BaseModel):
    """Base of every config section: immutable, unknown keys refused, defaults validated, no inf/nan."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False, defer_build=True)


def _path_or_url(v: Any, example: str, kind: str = "folder") -> Any:
    from .fsutil import is_url

    if v is None or isinstance(v, Path) or is_url(v):
        return v
    if not isinstance(v, str) or not v:
        raise ValueError(f"must be a {kind}, or a URL such as {example}")
    return Path(v)


# Pillow's default ``Image.MAX_IMAGE_PIXELS``: a larger PNG warns (2x: raises DecompressionBombError)
# in every reader of the dataset, so no image may be larger. Not read from PIL: a user who raised it
# in their session must not make a config valid that their dataset's users cannot open.
MAX_IMAGE_PIXELS = 89_478_485
# What one window may hold in a worker: its samples (float32) plus its complex STFT (complex64).
# A fixed bound, not the machine's memory, so a config is valid or not everywhere.
MAX_WINDOW_BYTES = 2 << 30


def _bad(key: str, message: str) -> ValueError:
    """A validation error that names a key below the model it is raised in."""
    return ValueError(f"@{key}@ {message}")


def check_geometry(cfg: Config, sample_rate: int) -> None:
    """Checks that need a sample rate: window long enough, a hop of at least one spectrogram frame,
    every mel filter non-empty, and one window's image and memory bounded (:data:`MAX_IMAGE_PIXELS`,
    :data:`MAX_WINDOW_BYTES`)."""
    spec = cfg.spectrogram
    n = int(round(cfg.windows.duration * sample_rate))
    if spec.center and spec.pad_mode == "reflect" and n <= spec.n_fft // 2:
        raise _bad("windows.duration", f"{cfg.windows.duration:g} s is shorter than n_fft/2 at {sample_rate} Hz")
    hop = max(1, round(cfg.windows.hop * sample_rate))
    # Windows that overlap by all but a fraction of a frame repeat the same frames (events place their own).
    if hop < min(spec.hop_length, n) and cfg.windows.select != "events":
        raise _bad("windows.hop", f"{cfg.windows.hop:g} s is {hop} sample(s) at {sample_rate} Hz, less than one "
                   f"spectrogram frame (hop_length {spec.hop_length}): windows would repeat the same frames; "
                   f"use at least {spec.hop_length / sample_rate:g} s")
    frames = n // spec.hop_length + 1 if spec.center else max(1, (n - spec.n_fft) // spec.hop_length + 1)
    if {"delta", "delta2"} & set(cfg.image.channels) and cfg.image.delta_width > frames:
        raise _bad("image.delta_width", f"a {cfg.image.delta_width}-frame delta filter is longer than the {frames} "
                                        f"frames of a window at {sample_rate} Hz")
    rows = {"stft": spec.n_freqs, "mel": spec.n_mels, "mfcc": spec.n_mfcc}[spec.kind]
    if cfg.image.size is None and cfg.image.style == "raw" and rows * frames > MAX_IMAGE_PIXELS:
        raise _bad("spectrogram.hop_length", f"a {cfg.windows.duration:g}-s window at {sample_rate} Hz makes a "
                   f"{frames}x{rows} image ({rows * frames:,} pixels), more than Pillow opens without a "
                   f"decompression-bomb warning ({MAX_IMAGE_PIXELS:,}): raise hop_length, shorten "
                   "windows.duration or set image.size")
    need = n * 4 + spec.n_freqs * frames * 8 + rows * frames * 4 * len(cfg.image.channels)
    if need > MAX_WINDOW_BYTES:
        raise _bad("windows.duration", f"one {cfg.windows.duration:g}-s window at {sample_rate} Hz needs "
                   f"{need / 2**30:.1f} GiB in a worker (samples, STFT, channels; at most "
                   f"{MAX_WINDOW_BYTES >> 30} GiB): shorten it or raise spectrogram.hop_length")
    if spec.kind != "stft":
        from .filterbank import empty_mel_filters

        f_max = spec.f_max if spec.f_max is not None else sample_rate / 2
        if spec.f_min >= f_max:
            raise _bad("spectrogram.f_min", f"must be < f_max ({f_max:g}) at {sample_rate} Hz")
        empty = empty_mel_filters(spec, sample_rate, f_max)
        if empty:
            raise _bad(
                "spectrogram.n_mels",
                f"{spec.n_mels} mel bands are more than n_fft={spec.n_fft} can fill between "
                f"{spec.f_min:g} and {f_max:g} Hz at {sample_rate} Hz ({empty} would be empty)",
            )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.I)


def parse_size(text: str) -> int:
    """'500MB' → 500_000_000; '1GiB' → 1_073_741_824."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 500MB)")
    unit = m.group(2).lower().rstrip("b")
    base = 1024 if unit.endswith("i") else 1000
    power = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[unit.rstrip("i")]
    return int(float(m.group(1)) * base**power)
