"""spectrogram.device: the batched path (spectrogram → dB → 8-bit on the device, PNG on the CPU).

The same code runs on every backend: numpy on the CPU (the build's CPU path, no torch), torch on
a GPU. Here it is checked with numpy and with torch on the CPU everywhere (so the GPU path's code
runs in every test run), and on CUDA where a GPU is present (those tests skip, with the reason,
on a machine without one).
"""

from __future__ import annotations

import numpy as np
import pytest
from builder.run import worker
from builder.config.sections import ImageConfig, SpectrogramConfig
from builder.errors import BuildError
from builder.config.loading import load_config
from builder.pipeline import build
from builder.dsp.render import to_uint8
from builder.dsp.spectrogram import Spectrogrammer, to_numpy
from builder.plan.windows import Window
from tests.helpers.demo import REPO, demo_config, snapshot

torch = pytest.importorskip("torch", reason='torch is not installed (pip install "spectroset[gpu]")')

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU on this machine")
# (device, backend): the CPU path, the GPU path's torch code on the CPU, and a real GPU.
DEVICES = [("cpu", None), ("cpu", "torch"), pytest.param(("cuda", None), marks=needs_cuda)]
DEVICE_IDS = ["cpu", "torch-cpu", "cuda"]
SR = 32000
CONFIGS = {
    "mel-db": dict(n_fft=1024, hop_length=320, n_mels=64, f_min=50.0, f_max=14000.0),
    "stft-db-refmax": dict(kind="stft", n_fft=512, hop_length=256, power=1.0, ref="max", amin=1e-5),
    "mfcc": dict(kind="mfcc", n_fft=1024, hop_length=320, n_mels=64, n_mfcc=13),
    "log-stft": dict(kind="stft", n_fft=512, hop_length=256, power=1.0, scale="log", pad_mode="constant"),
}
IMAGES = {"minmax": ImageConfig(), "fixed": ImageConfig(normalize=(-80.0, 0.0), origin="upper")}


def windows(n: int = 5, seconds: float = 1.0) -> np.ndarray:
    """Windows at very different levels (and one silent), so batch-wide scaling would show."""
    t = np.arange(int(SR * seconds)) / SR
    rng = np.random.default_rng(0)
    out = [amp * np.sin(2 * np.pi * f * t) + 1e-3 * amp * rng.standard_normal(t.size)
           for f, amp in zip((440, 1000, 3000, 7000), (1.0, 1e-2, 1e-4, 0.5))]
    return np.stack(out[: n - 1] + [np.zeros_like(t)]).astype(np.float32)


@pytest.mark.parametrize("device", DEVICES, ids=DEVICE_IDS)
@pytest.mark.parametrize("image", IMAGES, ids=list(IMAGES))
@pytest.mark.parametrize("name", CONFIGS, ids=list(CONFIGS))
def test_batch_through_spectrogrammer_and_to_uint8_equals_one_by_one(name, image, device):
    spec = Spectrogrammer(SpectrogramConfig(**CONFIGS[name]), SR, *device)
    x = windows()
    scaled = spec(x)
    # computed on the device; to_uint8 brings back only pixels
    assert isinstance(scaled, np.ndarray) if spec.backend == "numpy" else scaled.device.type == device[0]
    batch = to_uint8(scaled, IMAGES[image])
    assert batch.dtype == np.uint8 and batch.shape == (len(x), spec.n_bins, spec.n_frames(x.shape[1]))
    for i, w in enumerate(x):
        single = spec(w)
        np.testing.assert_allclose(to_numpy(scaled[i]), to_numpy(single[0]), rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(batch[i], to_uint8(single, IMAGES[image])[0])


@pytest.mark.parametrize("device", DEVICES, ids=DEVICE_IDS)
def test_render_batch_equals_rows_rendered_one_by_one(device):
    cfg = load_config(REPO / "examples" / "demo.yaml", ["output.include.arrays=true"])
    spec = Spectrogrammer(cfg.spectrogram, SR, *device)
    x = list(windows())
    ws = [Window(index=i, start_sample=i * SR // 2, n_samples=SR, valid_samples=SR, sample_rate=SR) for i in range(len(x))]
    rows = worker.render_batch(cfg, spec, ws, x)
    for w, sample, row in zip(ws, x, rows):
        (one,) = worker.render_batch(cfg, spec, [w], [sample])
        assert (row.png, row.index, row.frames) == (one.png, one.index, one.frames)
        np.testing.assert_allclose(row.sums, one.sums, rtol=1e-9)
        np.testing.assert_array_equal(row.array, one.array)


def test_auto_on_a_machine_without_gpu_builds_the_cpu_bytes(tmp_path):
    if HAS_CUDA:
        pytest.skip("this machine has a GPU: auto picks it (see the cuda tests)")
    cpu, auto = demo_config(tmp_path / "cpu"), demo_config(tmp_path / "auto", "spectrogram.device=auto")
    build(cpu, workers=1, progress=False)
    build(auto, workers=1, progress=False)
    # build.json and the card quote the config, which says `device: auto`; every other byte is equal.
    differ = {k for k in snapshot(cpu.output.path) if snapshot(cpu.output.path)[k] != snapshot(auto.output.path).get(k)}
    assert differ == {"build.json", "README.md"}


def test_cuda_without_a_gpu_is_a_one_line_build_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert worker._device("auto") == "cpu"
    cfg = demo_config(tmp_path, "spectrogram.device=cuda")
    with pytest.raises(BuildError, match=r"spectrogram.device: cuda, but torch .* sees no CUDA GPU"):
        build(cfg, workers=1, progress=False)
    assert not list(cfg.output.path.rglob("*.png"))


@pytest.mark.parametrize("other", [("cpu", "torch"), pytest.param(("cuda", None), marks=needs_cuda)],
                         ids=["torch-cpu", "cuda"])
@pytest.mark.parametrize("name", CONFIGS, ids=list(CONFIGS))
def test_torch_and_cuda_match_the_cpu_path_within_the_parity_tolerance(name, other):
    x = windows()
    cpu = Spectrogrammer(SpectrogramConfig(**CONFIGS[name]), SR, "cpu")(x)
    assert isinstance(cpu, np.ndarray)  # the CPU path is numpy's
    gpu = to_numpy(Spectrogrammer(SpectrogramConfig(**CONFIGS[name]), SR, *other)(x))
    # Two float32 FFTs differ by ~eps32 x the peak magnitude: 1e-3 dB near each window's peak,
    # more far below it (see tests/dsp/test_spectrogram.py); compare within 60 dB of the peak tightly.
    if CONFIGS[name].get("scale", "db") == "db" and CONFIGS[name].get("kind") != "mfcc":
        near = cpu >= cpu.max(axis=(1, 2), keepdims=True) - 60
        assert np.abs(gpu - cpu)[near].max() <= 1e-3
        assert np.abs(gpu - cpu).max() <= 0.1
    else:
        np.testing.assert_allclose(gpu, cpu, atol=2e-2)


@needs_cuda
def test_cuda_build_matches_cpu_build_within_one_level(tmp_path):
    from PIL import Image

    cpu, gpu = demo_config(tmp_path / "cpu"), demo_config(tmp_path / "gpu", "spectrogram.device=cuda")
    build(cpu, workers=1, progress=False)
    build(gpu, workers=1, progress=False)
    a, b = snapshot(cpu.output.path), snapshot(gpu.output.path)
    assert a.keys() == b.keys()
    off = total = 0
    for rel in (k for k in a if k.endswith(".png") and k != "preview.png"):
        pa = np.asarray(Image.open(cpu.output.path / rel), dtype=int)
        pb = np.asarray(Image.open(gpu.output.path / rel), dtype=int)
        assert np.abs(pa - pb).max() <= 1, rel  # truncation to uint8 can flip a level at a boundary
        off, total = off + int((pa != pb).sum()), total + pa.size
    assert off / total < 1e-3
