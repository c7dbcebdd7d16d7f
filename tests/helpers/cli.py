"""Reliability: crashes, concurrent builds, hostile names and audio, full disks, bad configs, secrets.

Helpers shared by these tests live here: small generated recordings with a known length, a
config written to disk the way a user would, the CLI run as a real subprocess, and a snapshot
of every byte a user sees (the private ``OUT/.spectroset`` state excluded).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"
PYTHON = sys.executable

# Small and fast: 16 kHz, 0.5-s windows, 20 mel bands; every stage still runs for real.
TINY = {
    "name": "reliability",
    "audio": {"sample_rate": 16000},
    "windows": {"duration": 0.5, "hop": 0.5, "last": "pad", "min_last": 0.1},
    "spectrogram": {"kind": "mel", "n_fft": 512, "hop_length": 160, "n_mels": 20, "f_min": 0.0, "f_max": 8000.0},
    "output": {"splits": {"train": 0.7, "validation": 0.15, "test": 0.15}},
}


def write_tone(path: Path, seconds: float, rate: int = 16000, freq: float = 440.0, channels: int = 1,
               subtype: str | None = None) -> Path:
    """A sine with a little seeded noise (so windows differ) as a sound file of any format."""
    import soundfile as sf

    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    rng = np.random.default_rng(int(hashlib.sha256(f"{path.name}:{seconds}".encode()).hexdigest()[:8], 16))
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(n)
    data = np.repeat(x[:, None], channels, axis=1) if channels > 1 else x
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = _format(path)
    subtype = subtype or {"OGG": "VORBIS", "WAV": "PCM_16", "FLAC": "PCM_16", "AIFF": "PCM_16"}[fmt]
    sf.write(str(path), data.astype(np.float32), rate, subtype=subtype, format=fmt)
    return path


def _format(path: Path) -> str:
    return {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF"}.get(path.suffix.lower(), "WAV")


def write_config(path: Path, src: Path, out: Path | None = None, **sections) -> Path:
    """A config file as a user writes it; ``sections`` replace or extend :data:`TINY`."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in TINY.items()}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    data["source"] = {"path": str(src), **data.get("source", {})} if isinstance(data.get("source"), dict) \
        else {"path": str(src)}
    if out is not None:
        data.setdefault("output", {})["path"] = str(out)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None):
    """``python -m builder ARGS`` as a subprocess; returns the CompletedProcess (text)."""
    return subprocess.run([PYTHON, "-m", "builder", *map(str, args)], capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout, cwd=cwd or REPO)


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every file a user sees (the private journal and lock excluded)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".spectroset" not in p.relative_to(out).parts
    }


def temp_files(out: Path) -> list[str]:
    """Leftover temporary files anywhere under OUT (what a killed writer could leave)."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and ".spectroset" not in p.relative_to(out).parts
                  and (p.name.endswith(".tmp") or ".incomplete" in p.name))


def load(out: Path):
    from datasets import load_dataset

    return load_dataset(str(out), cache_dir=str(out.parent / f"hf-cache-{out.name}"))


def skip_without_private_tmpfs() -> None:
    """Skip the calling test where ``unshare -m`` cannot mount a size-limited tmpfs (not root, no
    user namespaces): the tests of a real full disk need one."""
    import shutil

    import pytest

    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to mount a size-limited tmpfs privately")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a private tmpfs here: {probe.stderr.strip() or probe.returncode}")
