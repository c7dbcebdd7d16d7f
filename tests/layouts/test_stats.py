"""stats.json's numbers for a training loop (``builder/layouts/stats.py``), read as a user would
after ``spectroset build``: the image column's pixel mean/std per channel equal those computed
from the train PNGs, class counts equal the train split's labels, and a rebuild that reuses
recordings gives the same file as a clean build."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.cli import DEMO, REPO, run_cli
from tests.helpers.layouts import load


def _build(out: Path, config: str, *sets: str, jobs: str = "2") -> dict:
    args = [item for s in sets for item in ("--set", s)]
    result = run_cli("build", config, "-o", out, "-j", jobs, "-q", *args)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "stats.json").read_text())


def _train_pixels(out: Path) -> np.ndarray:
    """Every pixel of the train split's PNGs on the 0-1 scale, ``(pixels, channels)``."""
    images = [np.asarray(Image.open(p), dtype=np.float64) / 255 for p in sorted((out / "train").rglob("*.png"))]
    assert images
    return np.concatenate([x.reshape(-1, 1 if x.ndim == 2 else x.shape[2]) for x in images])


@pytest.mark.parametrize("config, sets, channels", [
    ("birdclef-mel", (), 1),  # grey
    ("birdclef-pcen-rgb", (), 3),  # RGB: PCEN, delta, delta-delta
    (str(REPO / "examples" / "demo.yaml"), ("image.colormap=magma", "image.size=[96, 48]"), 3),  # resized, colormapped
], ids=["grey", "rgb", "colormap"])
def test_image_mean_and_std_are_those_of_the_train_pngs(tmp_path, config, sets, channels):
    out = tmp_path / "out"
    stats = _build(out, config, f"source.path={DEMO}", *sets)
    pixels = _train_pixels(out)
    assert len(stats["image"]["mean"]) == len(stats["image"]["std"]) == channels == pixels.shape[1]
    np.testing.assert_allclose(stats["image"]["mean"], pixels.mean(axis=0), atol=1e-3)
    np.testing.assert_allclose(stats["image"]["std"], pixels.std(axis=0), atol=1e-3)
    assert stats["bin_order"] == "low_to_high_frequency"
    card = (out / "README.md").read_text()
    assert "`stats.json` key `image`" in card and f"{stats['image']['mean'][0]:.4f}" in card
    assert "row 0 is the highest frequency" in card


def test_class_counts_are_the_train_windows_per_label(tmp_path):
    out = tmp_path / "out"
    stats = _build(out, str(REPO / "examples" / "demo.yaml"), f"source.path={DEMO}")
    train = load(out)["train"]
    names = train.features["label"].names
    assert list(stats["class_counts"]) == names  # every ClassLabel name, in id order
    assert stats["class_counts"] == {name: Counter(train["label"]).get(i, 0) for i, name in enumerate(names)}


def test_a_rebuild_that_reuses_recordings_gives_the_stats_of_a_clean_build(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(DEMO, src, ignore=shutil.ignore_patterns("MANIFEST.tsv"))
    held = sorted(src.rglob("*.ogg"))[-1]
    aside = tmp_path / held.name
    held.rename(aside)
    demo = str(REPO / "examples" / "demo.yaml")
    _build(tmp_path / "out", demo, f"source.path={src}", jobs="2")
    aside.rename(held)  # one more recording: the others are reused from the journal
    again = run_cli("build", demo, "-o", tmp_path / "out", "-j", "2", "--set", f"source.path={src}")
    assert again.returncode == 0, again.stderr
    assert re.search(r"decoded, [1-9]\d* reused\)", again.stdout), again.stdout
    clean = _build(tmp_path / "clean", demo, f"source.path={src}", jobs="1")
    assert clean["image"]["mean"] and clean["class_counts"]
    assert (tmp_path / "out" / "stats.json").read_text() == json.dumps(clean, indent=2, ensure_ascii=False) + "\n"


def test_the_stats_doc_snippet_runs_and_says_how_to_get_torchvision(tmp_path, monkeypatch):
    """docs/stats.md's snippet on a build's stats.json; torchvision, which no spectroset extra installs,
    is named with its install line (a stand-in module takes its place here: it is not a dependency)."""
    import sys
    import types

    doc = (REPO / "docs" / "stats.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    assert "from torchvision import transforms  # pip install torchvision" in code
    out = tmp_path / "out"
    stats = _build(out, str(REPO / "examples" / "demo.yaml"), f"source.path={DEMO}", jobs="1")
    torchvision = types.ModuleType("torchvision")
    torchvision.transforms = types.SimpleNamespace(Normalize=lambda mean, std: (mean, std))
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    scope: dict = {}
    exec(code.replace("OUT/stats.json", str(out / "stats.json")), scope)
    assert scope["normalize"] == (stats["image"]["mean"], stats["image"]["std"])
    assert len(scope["weights"]) == len(stats["class_counts"])
