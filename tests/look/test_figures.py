"""`spectroset preview` figures and `image.style: figure` dataset images, from real demo audio."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.transforms import Bbox
from PIL import Image

from builder.sources import audio
from builder.dsp import figures
from builder.look import preview
from builder.cli.main import main
from builder.errors import ConfigError
from builder.dsp.spectrogram import Spectrogrammer

from tests.helpers.look import DEMO, DEMO_YAML, demo_build, demo_config

LOOP = DEMO / "drum_loop" / "loop_amen.ogg"


def assert_not_blank(png: bytes, size: tuple[int, int]) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.size == size
    pixels = np.asarray(img.convert("RGB"))
    # a plot: a white page, dark text and a colourful spectrogram, not one flat colour
    assert pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
    return pixels


@pytest.mark.parametrize("overrides", [["spectrogram.kind=stft", "spectrogram.scale=log"], ["spectrogram.kind=mfcc"]],
                         ids=["stft-log", "mfcc"])  # mel-db: through the CLI below
def test_preview_figure_from_real_audio(tmp_path, overrides):
    out = tmp_path / "preview.png"
    preview.preview_figure(LOOP, demo_config(tmp_path, *overrides), 0.5, out)
    assert_not_blank(out.read_bytes(), (1200, 1000))


def test_preview_cli_and_missing_window(tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["preview", str(LOOP), "--config", str(DEMO_YAML), "--start", "1", "-o", str(out)]) == 0
    assert_not_blank(out.read_bytes(), (1200, 1000))
    with pytest.raises(ConfigError, match="no window at 60 s"):
        preview.preview_figure(LOOP, demo_config(tmp_path), 60.0, tmp_path / "x.png")
    assert main(["preview", str(LOOP), "--config", str(DEMO_YAML), "--start", "60",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "--start: loop_amen.ogg has no window at 60 s" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_pick_window_prefers_the_one_starting_there(tmp_path):
    from builder.plan.windows import plan_windows

    cfg = demo_config(tmp_path)  # 1-s windows every 0.5 s
    windows = plan_windows(32000 * 3, cfg.windows, 32000)
    assert preview.pick_window(windows, 1.0, "x").start == 1.0
    assert preview.pick_window(windows, 1.2, "x").start == 1.0  # also in the window from 0.5 s
    with pytest.raises(ConfigError):
        preview.pick_window(windows, -1.0, "x")


@pytest.mark.parametrize("start", [0.5, 1.0])  # a full window; the zero-padded last one
def test_preview_window_is_the_builds_window(tmp_path, start):
    from builder.plan.windows import cut, plan_windows

    cfg = demo_config(tmp_path)
    w, x, rate, n = preview._window(LOOP, cfg, start)
    samples, _ = audio.read(LOOP, 32000)  # the whole recording, cut as plan_windows cuts it
    windows = plan_windows(len(samples), cfg.windows, rate)
    assert (w, n) == (preview.pick_window(windows, start, "x"), len(windows))
    assert x.dtype == np.float32 and np.array_equal(x, cut(samples, w))
    assert (w.valid_samples < w.n_samples) == (start == 1.0)


def test_preview_bytes_depend_on_the_input_alone(tmp_path):
    cfg = demo_config(tmp_path)
    preview.preview_figure(LOOP, cfg, 0.5, tmp_path / "a.png")
    preview.preview_figure(LOOP, demo_config(tmp_path, "spectrogram.kind=stft"), 1.0, tmp_path / "other.png")
    preview.preview_figure(LOOP, cfg, 0.5, tmp_path / "b.png")
    png = (tmp_path / "a.png").read_bytes()
    assert png == (tmp_path / "b.png").read_bytes()
    assert b"tEXt" not in png and b"iTXt" not in png  # no Software/date metadata


def assert_panels_fit(fig) -> None:
    """The panels sit in fixed rectangles: their titles, labels and tick labels must still fit the
    page, clear each other and clear their own tick labels."""
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    assert len(boxes) == 8  # six panels; the two spectrograms with their colorbars
    panels = [boxes[0], boxes[1], Bbox.union(boxes[2:4]), Bbox.union(boxes[4:6]), boxes[6], boxes[7],
              fig._suptitle.get_window_extent(renderer)]
    for i, box in enumerate(panels):
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= 1200 and box.y1 <= 1000, (i, box)
        for j, other in enumerate(panels[:i]):
            assert not box.overlaps(other), (i, j, box, other)
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        shown = [t.get_window_extent(renderer) for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
        ticks = [t for t in shown if t.x1 > frame.x0 - 100 and t.y1 > frame.y0 - 100]  # not those off the view
        for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
            if label.get_text():
                box = label.get_window_extent(renderer)
                assert not [t for t in ticks if box.overlaps(t)], (label.get_text(), box)


def test_log_count_labels_are_plain_text():
    """Decades as 10ⁿ without mathtext; the in-between ticks of a short range as plain numbers."""
    assert [preview._decade(v) for v in (1, 10, 1000, 1e5, 0.1)] == ["10⁰", "10¹", "10³", "10⁵", "10⁻¹"]
    assert [preview._decade(v) for v in (2, 5, 30, 0)] == ["2", "5", "30", ""]


@pytest.mark.parametrize("overrides", [[], ["spectrogram.kind=stft", "spectrogram.scale=log"],
                                       ["spectrogram.kind=stft", "spectrogram.scale=linear"],
                                       ["spectrogram.kind=mfcc", "spectrogram.n_mfcc=40"]],
                         ids=["mel-db", "stft-log", "stft-linear", "mfcc-40"])
def test_preview_panels_fit_the_page_and_do_not_overlap(tmp_path, overrides):
    assert_panels_fit(preview.draw_preview(LOOP, demo_config(tmp_path, *overrides), 1.0))


def test_preview_panels_fit_quiet_audio_and_big_counts(tmp_path):
    """Tiny amplitudes and 500k-cell histograms: the longest tick labels the margins must hold."""
    import soundfile as sf

    t = np.arange(6 * 32000) / 32000
    sf.write(tmp_path / "quiet.wav", 0.004 * np.sin(2 * np.pi * 440 * t) * np.linspace(0.2, 1, len(t)), 32000)
    cfg = demo_config(tmp_path, "windows.duration=5", "windows.hop=5", "spectrogram.kind=stft",
                      "spectrogram.hop_length=160", "spectrogram.scale=linear")
    assert_panels_fit(preview.draw_preview(tmp_path / "quiet.wav", cfg, 0.0))


@pytest.mark.parametrize("kind", ["mel", "stft", "mfcc"])
def test_window_figure_size_and_determinism(tmp_path, kind):
    x, rate = audio.read(LOOP, 32000)
    cfg = demo_config(tmp_path, "image.style=figure", f"spectrogram.kind={kind}", "image.size=[333,211]")
    first, second = Spectrogrammer(cfg.spectrogram, rate)(np.stack([x[:32000], x[16000:48000]]))
    png = figures.window_figure(first, cfg, rate)
    assert_not_blank(png, (333, 211))
    figures.window_figure(second, cfg, rate)  # the reused figure must not remember it
    assert figures.window_figure(first, cfg, rate) == png
    figures._FIGURES.clear()  # a fresh process
    assert figures.window_figure(first, cfg, rate) == png
    default = figures.window_figure(first, demo_config(tmp_path, "image.style=figure", f"spectrogram.kind={kind}"), rate)
    assert Image.open(io.BytesIO(default)).size == figures.DEFAULT_SIZE


def test_figure_style_builds_load_at_the_configured_size_in_both_layouts(tmp_path_factory):
    from datasets import Image as Image_, load_dataset

    folder, rec = demo_build(tmp_path_factory, "image.style=figure", "image.size=[320,160]")
    shards, rec_pq = demo_build(tmp_path_factory, "image.style=figure", "image.size=[320,160]",
                                "output.layout=parquet", "output.include.audio=true", workers=1)
    cache = tmp_path_factory.mktemp("hf-cache")
    a, b = load_dataset(str(folder), cache_dir=str(cache)), load_dataset(str(shards), cache_dir=str(cache))
    assert rec["splits"] == rec_pq["splits"] and sum(rec["splits"].values()) == rec["windows"] > 0
    for split, n in rec["splits"].items():
        assert len(a[split]) == len(b[split]) == n
        assert {im.size for im in a[split]["image"]} == {(320, 160)} == {im.size for im in b[split]["image"]}
        assert a[split][0]["image"].mode == "RGB"
    # same window, same bytes: one figure per process, any worker count, either layout
    png_a = (folder / "train" / "drum_loop" / "loop_amen_1.png").read_bytes()
    rows = b["train"].select_columns(["image", "source", "end"]).cast_column("image", Image_(decode=False))
    row = next(r for r in rows if r["source"] == "drum_loop/loop_amen.ogg" and r["end"] == 1.0)
    assert row["image"]["bytes"] == png_a
