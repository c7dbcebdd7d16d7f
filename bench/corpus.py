"""The benchmark corpus: real recordings re-encoded as 32 kHz ogg, plus one long generated file.

Made once under ``bench/work/`` (ignored by git) and reused. Real audio comes from
``../shared/corpus/classes`` when present, else the bundled demo recordings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work"
SHARED = REPO.parent / "shared" / "corpus" / "classes"
RATE = 32000


def _sources() -> list[Path]:
    root = SHARED if SHARED.is_dir() else REPO / "examples" / "demo-audio"
    exts = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts)


def _load(path: Path) -> np.ndarray | None:
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:
        return None
    x = x.mean(axis=1)
    return soxr.resample(x, sr, RATE) if sr != RATE else x


def make_corpus(n_files: int = 24, seconds: float = 60.0, classes: int = 4) -> Path:
    """``n_files`` ogg files of ``seconds`` each at 32 kHz in ``classes`` class folders (≈
    n*seconds/5 windows). ``make_corpus(600, 5.0, 50)`` is the ESC-50-like one: 5-s clips, one
    window each, where the cost per file (open, decode set-up, one PNG) outweighs the DSP."""
    root = WORK / (f"ogg32k-{n_files}x{int(seconds)}" + (f"-{classes}c" if classes != 4 else ""))
    if root.is_dir() and len(list(root.rglob("*.ogg"))) == n_files:
        return root
    clips = [c for c in (_load(p) for p in _sources()) if c is not None and len(c) > RATE // 10]
    pool = np.concatenate(clips)
    need = int(seconds * RATE)
    rng = np.random.default_rng(0)
    for i in range(n_files):
        start = int(rng.integers(0, max(1, len(pool) - need)))
        x = np.resize(pool[start:], need).astype(np.float32)  # tiles when the pool is short
        out = root / f"class{i % classes}" / f"rec{i:03d}.ogg"
        out.parent.mkdir(parents=True, exist_ok=True)
        # In 10-s blocks: libsndfile's Vorbis encoder crashes on one multi-minute write.
        with sf.SoundFile(str(out), "w", RATE, 1, format="OGG", subtype="VORBIS") as f:
            for i0 in range(0, len(x), 10 * RATE):
                f.write(x[i0 : i0 + 10 * RATE] * 0.9)
    return root


def make_long(hours: float = 3.0) -> Path:
    """One long 32 kHz FLAC (noise + tones), written in blocks, for the memory bound."""
    path = WORK / f"long-{hours:g}h" / "long" / "long.flac"
    if path.is_file():
        return path.parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    block = RATE * 60
    with sf.SoundFile(str(path), "w", RATE, 1, format="FLAC", subtype="PCM_16") as f:
        for minute in range(int(hours * 60)):
            t = np.arange(block) / RATE
            x = 0.05 * rng.standard_normal(block) + 0.3 * np.sin(2 * np.pi * (500 + 10 * minute) * t)
            f.write(x.astype(np.float32))
    return path.parent.parent


def make_many(n: int = 1000) -> Path:
    """``n`` tiny one-second wav files, for the nothing-to-do rebuild."""
    root = WORK / f"many-{n}"
    if root.is_dir() and len(list(root.rglob("*.wav"))) == n:
        return root
    rng = np.random.default_rng(2)
    for i in range(n):
        out = root / f"c{i % 10}" / f"f{i:05d}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out), (0.1 * rng.standard_normal(8000)).astype(np.float32), 8000, subtype="PCM_16")
    return root
