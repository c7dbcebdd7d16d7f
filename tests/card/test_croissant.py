"""croissant.json of an image folder read back by mlcroissant: quietly, and dated the same on a rerun."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest

from builder.card import croissant
from builder.pipeline import build

from tests.helpers.layouts import DEMO, demo_config


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
    assert "datePublished" not in doc  # a build is not published: a push dates its copy (below)
    pushed = json.loads(croissant.retarget(first.decode(), "https://huggingface.co/datasets/me/x", None))
    assert pushed["datePublished"] == datetime.now(timezone.utc).strftime("%Y-%m-%d")
    caplog.set_level(logging.WARNING)
    dataset = mlc.Dataset(str(path))
    for split, n in record["splits"].items():
        rows = list(dataset.records(split))
        assert len(rows) == n and all(r[f"{split}/image"].size == (101, 64) for r in rows)
        assert all(r[f"{split}/source"] for r in rows)  # joined: every image found its metadata row
    assert not [r.getMessage() for r in caplog.records if "Could not match" in r.getMessage()]
    build(cfg, workers=1, progress=False)  # a rerun: the same date, the same bytes
    assert path.read_bytes() == first


def _cli_build(*argv) -> None:
    import contextlib
    import io

    from builder.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["build", *map(str, argv), "--quiet", "-j", "1"]) == 0, err.getvalue()


@pytest.mark.parametrize("case", ["events", "folders", "mirror-flat"])
def test_every_record_set_reads_with_images_at_any_depth(tmp_path, case):
    """An imagefolder events build (multi-label: images directly in ``train/``) had ``includes:
    train/**/*.png``, which mlcroissant's glob matches only below a sub-folder: reading ``train``
    raised "No objects to concatenate". A mirror of a flat folder (images at OUT's top) read none
    either; its glob must not take ``preview.png`` beside them."""
    mlc = pytest.importorskip("mlcroissant")
    from tests.helpers.layouts import REPO

    out = tmp_path / "out"
    if case == "events":
        _cli_build(REPO / "configs" / "events-raven.yaml", "-o", out, "--set", "output.layout=imagefolder")
    elif case == "folders":
        _cli_build(REPO / "examples" / "demo.yaml", "-o", out)
    else:
        _cli_build(REPO / "examples" / "demo.yaml", "-o", out, "--set", f"source.path={DEMO / 'tabla'}",
                   "--set", "source.labels=none", "--set", "output.layout=mirror", "--set", "output.splits=null")
    record = json.loads((out / "build.json").read_text())
    dataset = mlc.Dataset(str(out / "croissant.json"))
    for split, n in record["splits"].items():
        rows = list(dataset.records(split))
        assert len(rows) == n and all(r[f"{split}/source"] for r in rows)  # every image joined to its row
    if case != "mirror-flat":
        assert list(dataset.records("label_names"))
