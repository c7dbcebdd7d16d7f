"""Spectrogram plots for people: ``image.style: figure`` dataset images, and the panels that the
``preview`` figure (:mod:`builder.look.preview`) shares with them.

Both draw the spectrogram exactly as the config computes it (the same :class:`Spectrogrammer`),
with a time axis in seconds, a frequency axis that follows the kind (log Hz for stft, mel-spaced
Hz for mel, coefficient index for mfcc) and a colorbar in the scale's unit. matplotlib is
imported lazily and used without pyplot (Agg canvas only), so there is no global state and it is
safe in worker processes. Dataset images reuse one Figure per process and geometry and are
encoded by Pillow without metadata: a window gives the same bytes whatever the process drew before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..config.sections import Config, ImageConfig, SpectrogramConfig

DEFAULT_SIZE = (640, 320)  # [width, height] px of a figure-style image when image.size is null
DPI = 100
_TICKS_HZ = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)


@dataclass(frozen=True)
class SpecAxes:
    """How a ``(bins, frames)`` array is laid out on a plot: extents in seconds and axis units."""

    extent: tuple[float, float, float, float]
    xlim: tuple[float, float]
    yticks: tuple[float, ...]
    ylabels: tuple[str, ...]
    ylabel: str
    rows: np.ndarray | None  # stft: the bin drawn in each row of a log-frequency axis; else None


def _hz(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def _ticks(warp, lo: float, hi: float) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """1-2-5 Hz ticks inside ``[lo, hi]`` (warped units), thinned from the top so labels never touch."""
    kept: list[tuple[float, str]] = []
    for f in reversed(_TICKS_HZ):
        y = float(warp(f))
        if lo <= y <= hi and (not kept or kept[-1][0] - y > 0.07 * (hi - lo)):
            kept.append((y, _hz(f)))
    kept.reverse()
    return tuple(y for y, _ in kept), tuple(s for _, s in kept)


def spec_axes(spec: SpectrogramConfig, sample_rate: int, n_frames: int, duration: float, rows: int = 256) -> SpecAxes:
    """Axes for the configured kind: log Hz (stft), mel-spaced Hz (mel) or coefficient (mfcc)."""
    from .filterbank import hz_to_mel

    hop = spec.hop_length / sample_rate
    t0 = 0.0 if spec.center else spec.n_fft / 2 / sample_rate  # centre of frame 0
    extent_x = (t0 - hop / 2, t0 + (n_frames - 0.5) * hop)
    xlim = (0.0, duration)
    if spec.kind == "mfcc":
        n = spec.n_mfcc
        ticks = tuple(float(i) for i in range(0, n, max(1, math.ceil(n / 8))))
        return SpecAxes((*extent_x, -0.5, n - 0.5), xlim, ticks, tuple(f"{t:g}" for t in ticks), "MFCC", None)
    if spec.kind == "mel":
        f_max = spec.f_max or sample_rate / 2
        m_lo, m_hi = float(hz_to_mel(spec.f_min, spec.mel_scale)), float(hz_to_mel(f_max, spec.mel_scale))
        d = (m_hi - m_lo) / (spec.n_mels + 1)  # band i is centred on m_lo + (i + 1) d
        lo, hi = m_lo + 0.5 * d, m_hi - 0.5 * d
        yt, yl = _ticks(lambda f: hz_to_mel(f, spec.mel_scale), lo, hi)
        return SpecAxes((*extent_x, lo, hi), xlim, yt, yl, "Hz (mel scale)", None)
    df = sample_rate / spec.n_fft  # bin spacing; bin 0 (DC) has no place on a log axis
    lo, hi = math.log10(df), math.log10(sample_rate / 2)
    centres = lo + (np.arange(rows) + 0.5) * (hi - lo) / rows
    bins = np.clip(np.rint(10.0**centres / df).astype(np.int64), 1, spec.n_freqs - 1)
    yt, yl = _ticks(math.log10, lo, hi)
    return SpecAxes((*extent_x, lo, hi), xlim, yt, yl, "Hz (log scale)", bins)


def unit(spec: SpectrogramConfig) -> str:
    """The unit of the configured output values, for colorbars and histograms."""
    if spec.kind == "mfcc":
        return "MFCC (DCT of " + ("dB)" if spec.scale == "db" else "log)")
    quantity = "power" if spec.power == 2.0 else "magnitude" if spec.power == 1.0 else f"|X|^{spec.power:g}"
    return {"db": "dB", "log": f"ln({quantity} + {spec.log_epsilon:g})", "linear": quantity,
            "pcen": f"PCEN of {quantity}"}[spec.scale]


def describe(spec: SpectrogramConfig, sample_rate: int) -> str:
    what = {"stft": f"STFT spectrogram, {spec.n_freqs} bins", "mel": f"mel spectrogram, {spec.n_mels} bands",
            "mfcc": f"{spec.n_mfcc} MFCCs"}[spec.kind]
    return f"{what}, {sample_rate / 1000:g} kHz"


def limits(values: np.ndarray, image: ImageConfig) -> tuple[float, float]:
    """Colour range: the configured fixed range, else the window's own min..max (as the raw images)."""
    if image.normalize != "minmax":
        return float(image.normalize[0]), float(image.normalize[1])
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def draw_spectrogram(ax, cax, values: np.ndarray, axes: SpecAxes, spec: SpectrogramConfig, cmap: str,
                     clim: tuple[float, float], fontsize: float):
    """Image, axes and colorbar on ``ax``/``cax``; returns the image artist for later ``set_data``."""
    from matplotlib.ticker import FormatStrFormatter

    shown = values if axes.rows is None else values[axes.rows]
    im = ax.imshow(shown, origin="lower", aspect="auto", extent=axes.extent, cmap=cmap,
                   interpolation="nearest", vmin=clim[0], vmax=clim[1])
    ax.set_xlim(*axes.xlim)
    ax.set_ylim(axes.extent[2], axes.extent[3])
    ax.set_yticks(axes.yticks, axes.ylabels)
    ax.set_xlabel("time (s)", fontsize=fontsize)
    ax.set_ylabel(axes.ylabel, fontsize=fontsize)
    ax.tick_params(labelsize=fontsize, length=3 * fontsize / 8)
    cb = ax.figure.colorbar(im, cax=cax)
    if spec.scale == "db" and spec.kind != "mfcc":
        cb.formatter = FormatStrFormatter("%+2.0f dB")  # seed 000's colorbar
    else:
        cb.set_label(unit(spec), fontsize=fontsize)
    cb.ax.tick_params(labelsize=fontsize, length=3 * fontsize / 8)
    return im


# --------------------------------------------------------------------------- dataset images

class _WindowCanvas:
    """A reusable figure for one geometry. The frame, labels and title are drawn once; each window
    restores that background and draws only the image, the spines over it and the colorbar, every
    time the same way, so the bytes do not depend on what was drawn before."""

    def __init__(self, cfg: Config, sample_rate: int, shape: tuple[int, int]):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        w, h = self.size = tuple(cfg.image.size or DEFAULT_SIZE)
        # Fonts and margins follow the size, with a readable floor while the plot keeps >= 40 %.
        s = min(max(min(w / DEFAULT_SIZE[0], h / DEFAULT_SIZE[1]), 0.75), 0.6 * w / 136, 0.6 * h / 66, 3.0)
        left, right, bottom, top = 56 * s, 80 * s, 42 * s, 24 * s  # px; right holds the colorbar
        self.fig = fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(fig)
        self.ax = fig.add_axes((left / w, bottom / h, (w - left - right) / w, (h - bottom - top) / h))
        self.cax = fig.add_axes(((w - right + 8 * s) / w, bottom / h, 10 * s / w, (h - bottom - top) / h))
        spec = cfg.spectrogram
        self.axes = spec_axes(spec, sample_rate, shape[1], cfg.windows.duration, rows=max(8, int(h - bottom - top)))
        cmap = cfg.image.colormap or ("coolwarm" if spec.kind == "mfcc" else "magma")
        self.im = draw_spectrogram(self.ax, self.cax, np.zeros(shape, np.float32), self.axes, spec, cmap,
                                   (0.0, 1.0), 8 * s)
        self.ax.set_title(describe(spec, sample_rate), fontsize=9 * s, loc="left")
        self.im.set_visible(False)
        self.cax.set_visible(False)
        fig.canvas.draw()
        self.background = fig.canvas.copy_from_bbox(fig.bbox)
        self.im.set_visible(True)
        self.cax.set_visible(True)

    def draw(self, values: np.ndarray, clim: tuple[float, float]) -> np.ndarray:
        """``(height, width, 3)`` uint8 pixels of one window's figure."""
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        self.im.set_data(values if self.axes.rows is None else values[self.axes.rows])
        self.im.set_clim(*clim)
        self.ax.draw_artist(self.im)
        for spine in self.ax.spines.values():
            self.ax.draw_artist(spine)
        self.fig.draw_artist(self.cax)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


_FIGURES: dict = {}  # one canvas per geometry in this process


def window_figure(values: np.ndarray, cfg: Config, sample_rate: int) -> bytes:
    """One window's scaled ``(bins, frames)`` values → a PNG figure of ``image.size`` (RGB)."""
    from .render import png_bytes

    return png_bytes(figure_pixels(values, cfg, sample_rate), cfg.image.png_compress_level)


def figure_pixels(values: np.ndarray, cfg: Config, sample_rate: int) -> np.ndarray:
    """The pixels of :func:`window_figure`'s PNG: ``(rows, cols, 3)`` uint8."""
    from PIL import Image

    values = np.asarray(values, dtype=np.float32)
    key = (cfg.image, cfg.spectrogram, cfg.windows.duration, sample_rate, values.shape)
    if key not in _FIGURES:
        if len(_FIGURES) >= 4:
            _FIGURES.clear()
        _FIGURES[key] = _WindowCanvas(cfg, sample_rate, values.shape)
    canvas = _FIGURES[key]
    img = Image.fromarray(canvas.draw(values, limits(values, cfg.image)), mode="RGB")
    if img.size != canvas.size:  # figsize × dpi can round a pixel off for odd sizes
        img = img.resize(canvas.size, Image.Resampling.BICUBIC)
    return np.asarray(img)
