"""``spectroset preview``: how a config sees one window, as one 1200×1000 px figure of six panels.

Waveform | power spectrum; the spectrogram as the config computes it | its MFCCs; histograms of the
values before | after scaling. The command is interactive, so its cost is start-up plus one figure
(under a second). That shapes the drawing: matplotlib without pyplot, every panel in a fixed
rectangle (constrained layout measured 0.37 s of the 1.65-s command: it measures every tick label
of every panel, twice), titles and x labels at fixed offsets (placing them automatically measures
the tick labels again), no mathtext (its parser costs ~80 ms to build), and the PNG encoded by
:func:`builder.dsp.render.png_bytes` (deterministic, 15 ms where Pillow took 50).
The margins fit the longest labels a panel can carry: six-character ticks, a colorbar unit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..config.sections import Config
from ..errors import ConfigError, DecodeError
from ..dsp.figures import DPI, SpecAxes, describe, draw_spectrogram, limits, spec_axes, unit

W, H = 1200, 1000  # px
# Panels as (left, top, width, height) in px from the figure's top-left corner, keyed (row, column).
# Left margins hold a 6-character tick label ("−0.075", "100000") and the axis label; row gaps
# hold the x labels and the next row's titles. Row 1's spectrograms leave room for a colorbar each.
PLOTS = {(0, 0): (84, 56, 490, 266), (0, 1): (682, 56, 490, 266),
         (2, 0): (84, 682, 490, 270), (2, 1): (682, 682, 490, 270)}
SPECTROGRAMS = {0: (62, 396, 432, 205), 1: (662, 396, 430, 205)}
CBAR_GAP, CBAR_WIDTH = 18, 15
SCILIMITS = (-2, 5)  # plain y tick labels from 0.01 to 99999, else an offset ("1e5"): they fit the margin
PNG_LEVEL = 6  # a one-off figure: smaller file over the last millisecond


def _contains(w, start: float) -> bool:
    """Whether window ``w`` holds real audio at ``start`` s (half a sample of slack at its start)."""
    return w.start - 0.5 / w.sample_rate <= start < (w.start_sample + w.valid_samples) / w.sample_rate


def pick_window(windows: list, start: float, name: str):
    """The planned window that starts at ``start`` s, else the last one that contains it (windows
    start in order, so the last one that contains it is the one starting there, if any)."""
    inside = [w for w in windows if _contains(w, start)]
    if not inside:
        starts = ", ".join(f"{w.start:g}" for w in windows[:4]) + (", …" if len(windows) > 5 else "")
        if len(windows) > 4:
            starts += f", {windows[-1].start:g}"
        raise ConfigError(f"{name} has no window at {start:g} s (windows start at {starts} s)", file="--start")
    return inside[-1]


def _window(audio_path: Path, cfg: Config, start: float):
    """``(window, samples, rate, n_windows)``: the window at ``start`` s, cut as a build cuts it
    (the same stream and :class:`WindowCutter`), holding one window and one block, not the file."""
    from ..sources import audio
    from ..config.geometry import check_geometry
    from ..plan.windows import WindowCutter, plan_windows, too_short

    _, rate, blocks = audio.stream(audio_path, cfg.audio.sample_rate)
    if cfg.audio.sample_rate is None:
        try:
            check_geometry(cfg, rate)
        except ConfigError as exc:
            raise ConfigError(exc.message, file=str(audio_path), key=f"at its {rate} Hz") from None
    cutter, kept = WindowCutter(cfg.windows, rate), {}

    def keep(items) -> None:
        for w, x in items:
            if _contains(w, start):  # a later window that holds `start` is the one pick_window takes
                kept.clear()
                kept[w.index] = x

    for block in blocks:
        keep(cutter.feed(block))
    keep(cutter.finish())
    windows = plan_windows(cutter.total, cfg.windows, rate)
    if not windows:
        reason = too_short(cutter.total, cfg.windows, rate) or "no window kept (windows.min_last / last: drop)"
        raise DecodeError(str(audio_path), reason)
    w = pick_window(windows, start, audio_path.name)
    return w, np.asarray(kept[w.index], dtype=np.float32), rate, len(windows)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(value: float, _pos=None) -> str:
    """``10³`` in plain text (DejaVu has the superscripts): matplotlib's own log labels are
    mathtext, whose parser costs ~80 ms to build. Below one decade of range, matplotlib puts the
    major ticks between decades: those read as plain numbers."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    return "10" + str(exponent).translate(_SUPERSCRIPT) if math.isclose(value, 10.0**exponent) else f"{value:g}"


def _axes(fig, left: float, top: float, width: float, height: float):
    return fig.add_axes((left / W, 1 - (top + height) / H, width / W, height / H))


def _plot(fig, row: int, col: int):
    ax = _axes(fig, *PLOTS[row, col])
    ax.ticklabel_format(axis="y", scilimits=SCILIMITS)
    return ax


def _label(ax, height: float, title: str, fontsize: float = 12) -> None:
    """The title and x label at fixed offsets: ``y=1`` and label coordinates switch off matplotlib's
    placement, which lays out the tick labels (again) to find free space; x tick labels are one line
    high, so the offset fits all. The y label keeps its placement: tick labels vary in width."""
    ax.set_title(title, y=1.0, fontsize=fontsize)
    ax.xaxis.set_label_coords(0.5, -30 / height)


def preview_figure(audio_path: Path, cfg: Config, start: float, out_png: Path) -> None:
    """Waveform, power spectrum, spectrogram, MFCCs and value histograms of the window at ``start`` s,
    as a PNG whose bytes depend on the input and config alone (no metadata, libdeflate)."""
    from ..dsp.render import png_bytes
    from ..store.atomic import atomic_write

    fig = draw_preview(Path(audio_path), cfg, start)
    atomic_write(Path(out_png), png_bytes(np.asarray(fig.canvas.buffer_rgba())[..., :3], PNG_LEVEL))


def draw_preview(audio_path: Path, cfg: Config, start: float):
    """The drawn ``Figure`` (Agg canvas) of :func:`preview_figure`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogFormatter

    from ..dsp.spectrogram import Spectrogrammer

    w, x, rate, n_windows = _window(audio_path, cfg, start)
    spec = cfg.spectrogram
    sg = Spectrogrammer(spec, rate)  # numpy on the CPU: a preview needs no torch
    linear = sg.linear(x[None])  # (1, bins, frames)
    scaled = sg.scale(linear)
    output = sg(x[None])[0]
    power = sg.power(x[None], 2.0)[0]  # (n_freqs, frames)
    shown, shown_spec = output, spec
    if spec.kind == "mfcc":  # the spectrogram panel shows the scaled mel bands the MFCCs come from
        shown, shown_spec = scaled[0], spec.model_copy(update={"kind": "mel"})
        mfcc, mfcc_spec = output, spec
    else:
        mfcc_spec = spec.model_copy(update={"kind": "mfcc", "n_mfcc": min(spec.n_mfcc, spec.n_mels),
                                            "scale": "log" if spec.scale == "log" else "db"})
        mfcc = Spectrogrammer(mfcc_spec, rate)(x[None])[0]

    fig = Figure(figsize=(W / DPI, H / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    t = w.start + np.arange(len(x)) / rate
    ax = _plot(fig, 0, 0)
    ax.plot(t, x, lw=0.4, color="#1f4e79")
    if w.valid_samples < w.n_samples:
        ax.axvspan(w.start + w.valid_samples / rate, w.end, color="0.85", label="zero padding")
        ax.legend(loc="upper right", fontsize=8)
    ax.set(xlim=(w.start, w.end), xlabel="time (s)", ylabel="amplitude")
    _label(ax, PLOTS[0, 0][3], "Waveform")

    ax = _plot(fig, 0, 1)
    freqs = np.arange(power.shape[0]) * rate / spec.n_fft
    ax.plot(freqs, 10 * np.log10(power.mean(-1) + 1e-20), lw=0.7, color="#1f4e79")
    ax.set(xlim=(0, rate / 2), xlabel="frequency (Hz)", ylabel="power (dB)")
    _label(ax, PLOTS[0, 1][3], f"Power spectrum (mean of {power.shape[1]} STFT frames, n_fft {spec.n_fft})")

    for col, (values, s, cmap, title) in enumerate((
        (shown, shown_spec, cfg.image.colormap or "magma", "Spectrogram as the config computes it: "
         + describe(shown_spec, rate)),
        (mfcc, mfcc_spec, "coolwarm", "MFCCs"),
    )):
        left, top, width, height = SPECTROGRAMS[col]
        ax = _axes(fig, left, top, width, height)
        cax = _axes(fig, left + width + CBAR_GAP, top, CBAR_WIDTH, height)
        axes = spec_axes(s, rate, values.shape[1], cfg.windows.duration, rows=512)
        axes = SpecAxes(axes.extent, (0.0, w.end - w.start), axes.yticks, axes.ylabels, axes.ylabel, axes.rows)
        m = float(np.abs(values).max()) or 1.0  # MFCCs are signed: a diverging map centred on 0
        clim = limits(values, cfg.image) if col == 0 else (-m, m)
        draw_spectrogram(ax, cax, values, axes, s, cmap, clim, 9)
        ax.set_xlabel(f"time in window (s; window starts at {w.start:g} s)", fontsize=9)
        _label(ax, height, title, fontsize=10)

    before = linear[0].ravel()
    after = (scaled[0] if spec.kind != "mfcc" else shown).ravel()
    quantity = "power" if spec.power == 2.0 else "magnitude"
    ax = _plot(fig, 2, 0)
    ax.stairs(*np.histogram(before, bins=200), fill=True, color="#7f7f7f")  # one patch, not 200 bars
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_decade))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.set(xlabel=f"{quantity} ({'mel bands' if spec.kind != 'stft' else 'STFT bins'})", ylabel="count (log)")
    _label(ax, PLOTS[2, 0][3], "Values before scaling: most cells near zero, a few huge")
    ax = _plot(fig, 2, 1)
    ax.stairs(*np.histogram(after, bins=200), fill=True, color="#1f4e79")
    ax.set(xlabel=unit(shown_spec), ylabel="count")
    _label(ax, PLOTS[2, 1][3], f"Values after scaling ({spec.scale})")
    fig.suptitle(f"{audio_path.name}: window {w.index + 1} of {n_windows}, {w.start:g}–{w.end:g} s "
                 f"at {rate} Hz · config {cfg.name}", y=1 - 6 / H, va="top", fontsize=12)

    canvas.draw()
    return fig
