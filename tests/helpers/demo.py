"""The demo build of the end-to-end tests: the bundled config and audio, read back with `datasets`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from builder.config.loading import load_config


REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every file a user sees (the private journal excluded)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".spectroset" not in p.parts
    }


def demo_config(tmp_path: Path, *overrides: str, source: Path = DEMO):
    return load_config(REPO / "examples" / "demo.yaml",
                       [f"output.path={tmp_path / 'out'}", f"source.path={source}", *overrides])


def load(out: Path):
    from datasets import load_dataset

    return load_dataset(str(out), cache_dir=str(out.parent / "hf-cache"))
