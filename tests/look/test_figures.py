"""`spectroset preview` figures and `image.style: figure` dataset images, from real demo audio."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from builder import audio, figures
from builder.cli import main
from builder.errors import ConfigError
from builder.spectrogram import Spectrogrammer

from . import DEMO, DEMO_YAML, demo_build, demo_config

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
    figures.preview_figure(LOOP, demo_config(tmp_path, *overrides), 0.5, out)
    assert_not_blank(out.read_bytes(), (1200, 1000))


def test_preview_cli_and_missing_window(tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["preview", str(LOOP), "--config", str(DEMO_YAML), "--start", "1", "-o", str(out)]) == 0
    assert_not_blank(out.read_bytes(), (1200, 1000))
    with pytest.raises(ConfigError, match="no window at 60 s"):
        figures.preview_figure(LOOP, demo_config(tmp_path), 60.0, tmp_path / "x.png")
    assert main(["preview", str(LOOP), "--config", str(DEMO_YAML), "--start", "60",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "--start: loop_amen.ogg has no window at 60 s" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_pick_window_prefers_the_one_starting_there(tmp_path):
    from builder.windows import plan_windows

    cfg = demo_config(tmp_path)  # 1-s windows every 0.5 s
    windows = plan_windows(32000 * 3, cfg.windows, 32000)
    assert figures.pick_window(windows, 1.0, "x").start == 1.0
    assert figures.pick_window(windows, 1.2, "x").start == 1.0  # also in the window from 0.5 s
    with pytest.raises(ConfigError):
        figures.pick_window(windows, -1.0, "x")


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
