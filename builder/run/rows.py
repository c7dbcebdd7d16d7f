"""A window's outputs (:class:`Row`) and how a batch of windows becomes them (:func:`render_batch`).

A row carries what the layouts and the statistics need of its window: the PNG (or the spooled
bytes' place), per-bin sums of the scaled spectrogram, the count of each 8-bit level per image
channel (``levels``: the image's pixel mean and std, summed exactly in any order) and the
seconds of real audio in it (``audio_seconds``: less than the window's length for a padded one).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np

from ..config.sections import Config


@dataclass
class Row:
    """One window's outputs. Times in seconds; ``sums``/``sumsq`` are per-bin over frames.

    ``levels`` and ``audio_seconds`` have no default: a journalled row of an earlier spectroset,
    which lacks them, does not decode, so its recording is rebuilt instead of counted without them."""

    index: int
    start: float
    end: float
    png: bytes | None
    sha256: str
    sums: np.ndarray
    sumsq: np.ndarray
    frames: int
    levels: np.ndarray  # (image channels, 256) uint32: pixels of the PNG at each level, per channel
    audio_seconds: float  # real (not zero-padded) audio in the window, seconds (samples / rate, to 1 µs)
    array: np.ndarray | None = None  # float16 (bins, frames), (channels, bins, frames) with several channels
    audio: bytes | None = None  # FLAC when output.include.audio
    size: int = 0  # bytes of png + array + audio, noted by the writer that took them
    offset: int = -1  # where the writer put them in the recording's spool (parquet)


def _flac(samples: np.ndarray, sample_rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_24")
    return buf.getvalue()


def render_batch(cfg: Config, spectrogrammer, windows: list, samples: list[np.ndarray]) -> list[Row]:
    """Rows for a batch of ``(Window, samples)``, all of the same length.

    The spectrogram, its per-bin sums and the 8-bit normalisation run on the spectrogrammer's
    device (the GPU with ``device: cuda``); only uint8 pixels and per-bin sums come back, plus
    the float values where a figure or the ``spectrogram`` column needs them. PNG encoding and
    figures stay on the CPU.
    """
    from ..dsp.channels import channel_pixels, spectrogram_channels
    from ..dsp.render import image_pixels, level_counts, png_bytes
    from ..dsp.spectrogram import to_numpy

    batch = samples[0][None] if len(samples) == 1 else np.stack(samples)
    # (batch, bins, frames) and its image.channels (batch, channels, bins, frames), on the device
    scaled, stack = spectrogram_channels(spectrogrammer, batch, cfg.image.channels, cfg.image.delta_width)
    pixels = channel_pixels(stack, cfg.image)
    data = scaled if stack.shape[1] == 1 else stack  # per row: (bins, frames) or (channels, bins, frames)
    if isinstance(data, np.ndarray):  # einsum: no (values * values) temporary, 0.14 ms a 5-s window
        values = data.astype(np.float64)
        sums, sumsq = values.sum(-1), np.einsum("...i,...i->...", values, values)
    else:
        values = data.double()
        sums, sumsq = to_numpy(values.sum(-1)), to_numpy((values * values).sum(-1))
    figure = None
    if cfg.image.style == "figure":
        from ..dsp.figures import figure_pixels as figure
    host = to_numpy(data) if figure or cfg.output.include.arrays else None  # one copy, not one per row
    rows = []
    for i, (w, x) in enumerate(zip(windows, samples)):
        image = figure(host[i], cfg, spectrogrammer.sample_rate) if figure else image_pixels(pixels[i], cfg.image)
        png = png_bytes(image, cfg.image.png_compress_level)
        rows.append(Row(
            index=w.index, start=w.start, end=w.end, png=png, sha256=hashlib.sha256(png).hexdigest(),
            sums=sums[i], sumsq=sumsq[i], frames=int(scaled.shape[-1]), levels=level_counts(image),
            audio_seconds=round(w.valid_samples / w.sample_rate, 6),
            array=host[i].astype(np.float16) if cfg.output.include.arrays else None,
            audio=_flac(x, w.sample_rate) if cfg.output.include.audio else None,
        ))
    return rows
