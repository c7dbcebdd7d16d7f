"""image.channels and scale: pcen through the worker and the CLI, on the bundled demo recordings."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builder.config.loading import load_config
from builder.dsp.render import render, to_uint8
from builder.plan.windows import Window
from builder.run.worker import _spectrogrammer, render_batch

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"
RATE = 32000
RGB = "image.channels=[spectrogram,delta,pcen]"


def demo_cfg(*overrides: str):
    return load_config(REPO / "examples" / "demo.yaml", [f"source.path={DEMO}", *overrides])


def windows(n: int = 3) -> tuple[list, list[np.ndarray]]:
    """``n`` one-second windows of real demo recordings at 32 kHz, padded where shorter."""
    import librosa

    files = sorted(DEMO.glob("*/*.*"))[:n]
    samples = [np.pad(y := librosa.load(f, sr=RATE, duration=1.0)[0], (0, RATE - len(y))).astype(np.float32)
               for f in files]
    return [Window(i, 0, RATE, RATE, RATE) for i in range(n)], samples


@pytest.mark.parametrize("overrides", [(), (RGB,), ("spectrogram.scale=pcen", "image.channels=[spectrogram,delta,delta2]"),
                                       (RGB, "image.size=[96,96]")])
def test_batch_equals_single(overrides):
    cfg = demo_cfg("output.include.arrays=true", *overrides)
    spec = _spectrogrammer(cfg.spectrogram, RATE, "cpu")
    ws, xs = windows()
    together = render_batch(cfg, spec, ws, xs)
    for i, (w, x) in enumerate(zip(ws, xs)):
        alone = render_batch(cfg, spec, [w], [x])[0]
        assert alone.png == together[i].png
        assert np.array_equal(alone.sums, together[i].sums) and np.array_equal(alone.array, together[i].array)


def test_one_channel_rows_are_the_grey_pipeline_byte_for_byte():
    """What a grey build wrote before image.channels existed: spectrogram → to_uint8 → render."""
    cfg = demo_cfg("output.include.arrays=true")
    spec = _spectrogrammer(cfg.spectrogram, RATE, "cpu")
    ws, xs = windows()
    rows = render_batch(cfg, spec, ws, xs)
    scaled = spec(np.stack(xs))
    pixels = to_uint8(scaled, cfg.image)
    for i, row in enumerate(rows):
        assert row.png == render(pixels[i], cfg.image)
        assert row.sums.shape == (cfg.spectrogram.n_mels,) and row.array.shape == tuple(scaled.shape[1:])


def test_rgb_rows_hold_each_channel():
    cfg = demo_cfg("output.include.arrays=true", RGB)
    grey_cfg = demo_cfg()
    spec = _spectrogrammer(cfg.spectrogram, RATE, "cpu")
    ws, xs = windows()
    rgb, grey = render_batch(cfg, spec, ws, xs), render_batch(grey_cfg, spec, ws, xs)
    for r, g in zip(rgb, grey):
        img = np.asarray(Image.open(io.BytesIO(r.png)))
        assert img.shape[-1] == 3
        assert np.array_equal(img[..., 0], np.asarray(Image.open(io.BytesIO(g.png))))
        assert r.array.shape == (3, 64, 101) and r.sums.shape == (3, 64)
        assert np.array_equal(r.sums[0], g.sums)


def test_preset_builds_from_the_cli_and_loads_with_datasets(tmp_path):
    """The bundled preset, by name, on real recordings; arrays on to check the Array3D column."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "builder", "build", "birdclef-pcen-rgb", "-j", "1",
           "--set", f"source.path={DEMO}", "--set", f"output.path={out}", "--set", "output.include.arrays=true"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    from datasets import Array3D, load_dataset

    ds = load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))["train"]
    assert ds.features["spectrogram"] == Array3D((3, 128, 313), "float16")
    row = ds[0]
    assert row["image"].mode == "RGB" and row["image"].size == (313, 128)
    pixels = np.asarray(row["image"])
    values = np.asarray(row["spectrogram"], dtype=np.float32)
    for c in range(3):  # each channel min-max normalised on its own (float16 arrays: within a level)
        v = values[c][::-1]
        expect = (v - v.min()) / (v.max() - v.min()) * 255
        assert np.mean(np.abs(pixels[..., c] - expect) <= 1.5) > 0.99
    stats = json.loads((out / "stats.json").read_text())
    assert list(stats["channels"]) == ["spectrogram", "delta", "delta2"]
    assert all(len(m["per_bin_std"]) == 128 for m in stats["channels"].values())
    card = (out / "README.md").read_text()
    assert "scale pcen (librosa.pcen" in card and "G = the first derivative" in card and "Array3D" in card


def test_preview_of_a_pcen_config_labels_its_scale(tmp_path):
    from builder.look.preview import preview_figure

    cfg = load_config("birdclef-pcen-rgb", [f"source.path={DEMO}"])
    preview_figure(DEMO / "tabla" / "tabla_tun1.ogg", cfg, 0.0, tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").size[0] > 600


def test_cuda_rows_match_cpu_rows(torch):
    """device: cuda computes the spectrogram on the GPU, PCEN and deltas on the host: pixels agree
    with the CPU build within the device tests' tolerance (the STFTs round differently)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    cfg = demo_cfg("spectrogram.scale=pcen", "spectrogram.power=1.0", "image.channels=[spectrogram,delta,delta2]",
                   "output.include.arrays=true")
    ws, xs = windows()
    cpu = render_batch(cfg, _spectrogrammer(cfg.spectrogram, RATE, "cpu"), ws, xs)
    gpu = render_batch(cfg, _spectrogrammer(cfg.spectrogram, RATE, "cuda"), ws, xs)
    for a, b in zip(cpu, gpu):
        pa, pb = (np.asarray(Image.open(io.BytesIO(r.png)), dtype=int) for r in (a, b))
        assert np.mean(np.abs(pa - pb) <= 2) >= 0.99
        ref = a.array.astype(np.float32)[0]
        assert np.mean(np.abs(b.array.astype(np.float32)[0] - ref) <= 0.01 * np.abs(ref) + 1e-3) >= 0.999
