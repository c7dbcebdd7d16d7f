"""The work unit: one recording in, rows or a reason out — never an exception for one bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from builder.run import worker
from builder.config.loading import load_config
from builder.run.worker import FileJob, process_file

REPO = Path(__file__).resolve().parents[2]


def _job(path: Path, *sets: str) -> FileJob:
    cfg = load_config(REPO / "examples" / "demo.yaml", [f"source.path={path.parent}", *sets])
    return FileJob(str(path), path.name, "1:1", cfg)


def test_rows_for_a_generated_tone(tmp_path):
    wav = tmp_path / "tone.wav"
    t = np.arange(32000 * 3) / 32000
    sf.write(wav, 0.5 * np.sin(2 * np.pi * 1000 * t), 32000)
    result = process_file(_job(wav))
    assert result.reason is None and result.sample_rate == 32000
    assert [r.start for r in result.rows] == [0.0, 0.5, 1.0, 1.5, 2.0]  # 1-s windows every 0.5 s; the last ends at 3 s
    assert all(r.png.startswith(b"\x89PNG") for r in result.rows)


def test_unexpected_library_error_becomes_a_reason(tmp_path, monkeypatch):
    wav = tmp_path / "tone.wav"
    sf.write(wav, np.zeros(32000, np.float32), 32000)

    def boom(*args, **kwargs):
        raise IndexError("decoder bug")

    monkeypatch.setattr(worker, "render_batch", boom)
    result = process_file(_job(wav))
    assert result.rows == [] and result.reason == "unexpected error: IndexError: decoder bug"


def test_batch_size_keeps_big_stfts_single_and_groups_tiny_ones():
    from builder.dsp.spectrogram import Spectrogrammer

    big = load_config("birdclef-mel")  # 5 s at 32 kHz, n_fft 2048: one window's STFT is 2.5 MB
    assert worker.batch_size(Spectrogrammer(big.spectrogram, 32000), 160000) == 1
    tiny = load_config("birdclef-mel", ["audio.sample_rate=8000", "spectrogram.n_fft=256", "spectrogram.hop_length=128",
                                        "spectrogram.n_mels=32", "spectrogram.f_max=4000"])
    assert worker.batch_size(Spectrogrammer(tiny.spectrogram, 8000), 8000) == 16


def test_batched_and_single_windows_give_the_same_bytes(tmp_path, monkeypatch):
    wav = tmp_path / "noise.wav"
    sf.write(wav, np.random.default_rng(3).normal(0, 0.1, 32000 * 4).astype(np.float32), 32000)
    monkeypatch.setattr(worker, "batch_size", lambda spec, n: 1)
    one = [r.png for r in process_file(_job(wav)).rows]
    monkeypatch.setattr(worker, "batch_size", lambda spec, n: 5)
    assert [r.png for r in process_file(_job(wav)).rows] == one
