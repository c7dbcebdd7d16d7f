"""Helpers for the layout tests: tiny generated recordings, configs on top of the demo's, loading."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from builder.config.loading import load_config

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"
RATE = 32000  # the demo config's rate: generated files need no resampling


def tone(path: Path, seconds: float, freq: float = 1000.0, rate: int = RATE, silent_from: float | None = None) -> Path:
    """A mono 16-bit WAV: a sine at ``freq`` Hz (amplitude 0.5) plus a little seeded noise,
    silent (exact zeros) from ``silent_from`` seconds on."""
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(int(freq))
    x = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    if silent_from is not None:
        x[int(silent_from * rate):] = 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), rate, subtype="PCM_16")
    return path


def birdclef_source(root: Path) -> tuple[Path, Path]:
    """A BirdCLEF-shaped source: flat ``<label>/<file>.wav`` plus ``train_metadata.csv`` with
    ``filename,primary_label,secondary_labels`` (Python-list strings, one secondary-only label)."""
    rows = [
        ("amecro/a1.wav", "amecro", "['barswa', 'zzonly']", 500),
        ("amecro/a2.wav", "amecro", "[]", 700),
        ("amecro/a3.wav", "amecro", "['barswa']", 900),
        ("barswa/b1.wav", "barswa", "[]", 1100),
        ("barswa/b2.wav", "barswa", "['amecro']", 1300),
        ("barswa/b3.wav", "barswa", "[]", 1500),
    ]
    for rel, _, _, freq in rows:
        tone(root / "audio" / rel, 1.6, freq)
    table = root / "train_metadata.csv"
    with open(table, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "primary_label", "secondary_labels"])
        w.writerows(r[:3] for r in rows)
    return root / "audio", table


def demo_config(out: Path, source: Path = DEMO, *overrides: str):
    return load_config(REPO / "examples" / "demo.yaml", [f"output.path={out}", f"source.path={source}", *overrides])


def load(out: Path):
    from datasets import load_dataset

    return load_dataset(str(out), cache_dir=str(out.parent / f"hf-cache-{out.name}"))


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every file a user sees (the private journal excluded)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".spectroset" not in p.parts
    }


ATTRIBUTION = ("author", "license", "url", "latitude", "longitude", "rating")


def attributed_source(root: Path) -> tuple[Path, Path]:
    """:func:`birdclef_source` with BirdCLEF's attribution columns (``train_metadata.csv``): mixed
    licences (CC BY-NC-SA, CC BY, one unknown), an empty latitude, integer and fractional ratings."""
    audio, table = birdclef_source(root)
    with open(table, newline="") as fh:
        rows = list(csv.reader(fh))
    extra = [
        ("Ann Author", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "https://xeno-canto.org/1", "52.1",
         "-1.25", "4.5"),
        ("Bob", "Creative Commons Attribution 4.0", "https://xeno-canto.org/2", "", "13.4", "3"),
        ("Cy", "", "https://xeno-canto.org/3", "48.2", "2.35", "5"),
        ("Di", "Creative Commons Attribution 4.0", "https://xeno-canto.org/4", "-33.9", "151.2", "2.5"),
        ("Ed", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "https://xeno-canto.org/5", "1", "2", "1"),
        ("Fa", "Creative Commons Attribution 4.0", "https://xeno-canto.org/6", "3", "4", "0"),
    ]
    rows[0] += list(ATTRIBUTION)
    for row, more in zip(rows[1:], extra):
        row += list(more)
    with open(table, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return audio, table


RICH = ("output.layout=parquet", "output.include={arrays: true, audio: true}", "output.max_shard_size=1MB")
