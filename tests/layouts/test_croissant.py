"""croissant.json of an image folder read back by mlcroissant: quietly, and dated the same on a rerun."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest

from builder.pipeline import build

from . import DEMO, demo_config


def test_imagefolder_croissant_reads_without_warnings_and_dates_itself_stably(tmp_path, caplog):
    """Each split's file_name regex was applied by mlcroissant to paths already cut to the split
    folder too, and logged ``Could not match ...`` once per row; there was no datePublished."""
    mlc = pytest.importorskip("mlcroissant")
    # OUT below a folder named like a split: the regex must cut at the split folder, not at this one
    cfg = demo_config(tmp_path / "test" / "out", DEMO)
    record = build(cfg, workers=1, progress=False).record
    path = cfg.output.path / "croissant.json"
    first = path.read_bytes()
    doc = json.loads(first)
    newest = max(p.stat().st_mtime_ns for p in DEMO.rglob("*") if p.is_file() and p.suffix != ".tsv")
    assert doc["datePublished"] == datetime.fromtimestamp(newest / 1e9, timezone.utc).strftime("%Y-%m-%d")
    caplog.set_level(logging.WARNING)
    dataset = mlc.Dataset(str(path))
    for split, n in record["splits"].items():
        rows = list(dataset.records(split))
        assert len(rows) == n and all(r[f"{split}/image"].size == (101, 64) for r in rows)
        assert all(r[f"{split}/source"] for r in rows)  # joined: every image found its metadata row
    assert not [r.getMessage() for r in caplog.records if "Could not match" in r.getMessage()]
    build(cfg, workers=1, progress=False)  # a rerun: the same date, the same bytes
    assert path.read_bytes() == first
