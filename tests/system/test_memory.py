"""Memory stays flat on long recordings: decoded in blocks, never whole (measured in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
RATE = 48000  # resampled to the preset's 32 kHz on the way

PROBE = r"""
import json, resource, sys
import soundfile, soxr  # the imports' own peak is not the build's
from builder.dsp import render, spectrogram
from builder.run import worker
spectrogram.rfft_last_axis()
from builder.config.loading import load_config
from builder.pipeline import build

rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cfg = load_config("birdclef-mel", [f"source.path={sys.argv[1]}", f"output.path={sys.argv[2]}"])
before = rss()
report = build(cfg, workers=1, progress=False)
print(json.dumps({"before": before, "after": rss(), "windows": report.record["windows"]}))
"""


def long_flac(path: Path, minutes: int) -> Path:
    path.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(60 * RATE) / RATE
    with sf.SoundFile(path, "w", RATE, 1, format="FLAC", subtype="PCM_16") as f:
        for minute in range(minutes):
            f.write((0.05 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * (400 + 50 * minute) * t)).astype(np.float32))
    return path


def peak_mb(root: Path, minutes: int) -> float:
    """Peak RSS of a build of one ``minutes``-long recording, over the process's peak after imports."""
    long_flac(root / "audio" / "long" / "long.flac", minutes)
    out = subprocess.run([sys.executable, "-c", PROBE, str(root / "audio"), str(root / "out")],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["windows"] == minutes * 12
    return m["after"] - m["before"]


def test_peak_memory_of_a_long_recording_does_not_follow_its_length(tmp_path):
    short, long = peak_mb(tmp_path / "short", 1), peak_mb(tmp_path / "long", 20)
    # Streaming holds a 60-s block, one window's STFT and the recording's PNGs (~30 KB a window):
    # measured +60 MB from 1 to 20 minutes. Decoding the 20 minutes whole would add 230 MB of
    # float32 samples, and 150 MB more once resampled.
    assert long - short < 150, (short, long)
