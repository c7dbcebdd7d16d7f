"""End-to-end builds on real recordings, read back with the real `datasets` library."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from builder.errors import BuildError
from builder.config.loading import load_config
from builder.pipeline import build
from tests.helpers.demo import DEMO, REPO, demo_config, load, snapshot


def test_demo_builds_and_loads_with_features(tmp_path):
    cfg = demo_config(tmp_path)
    report = build(cfg, workers=1, progress=False)
    ds = load(cfg.output.path)
    assert set(ds) == {"train", "validation", "test"}
    labels = ds["train"].features["label"].names
    assert labels == sorted(p.name for p in DEMO.iterdir() if p.is_dir())
    assert sum(len(part) for part in ds.values()) == report.record["windows"] > 0
    for split, part in ds.items():
        assert part.features == ds["train"].features
        assert len(part) == report.record["splits"][split]
        row = part[0]
        # native size: 1 s at 32 kHz with hop 320 → 101 frames; 64 mel bands
        assert row["image"].size == (101, 64) and row["image"].mode == "L"
        assert row["end"] - row["start"] == pytest.approx(1.0)
        assert (DEMO / row["source"]).is_file()
    # every recording's windows in exactly one split
    split_of = {}
    for split, part in ds.items():
        for src in part["source"]:
            assert split_of.setdefault(src, split) == split


def test_formats_all_decode(tmp_path):
    cfg = demo_config(tmp_path)
    report = build(cfg, workers=1, progress=False)
    assert report.skipped == []
    built = {s for part in load(cfg.output.path).values() for s in part["source"]}
    suffixes = {Path(s).suffix.lower() for s in built}
    assert {".wav", ".aiff", ".flac", ".ogg", ".mp3"} <= suffixes


def test_rerun_is_noop_and_identical(tmp_path):
    cfg = demo_config(tmp_path)
    build(cfg, workers=2, progress=False)
    first = snapshot(cfg.output.path)
    again = build(cfg, workers=2, progress=False)
    assert again.up_to_date and again.decoded == 0
    assert snapshot(cfg.output.path) == first


def test_worker_count_does_not_change_bytes(tmp_path):
    one = demo_config(tmp_path / "a")
    two = demo_config(tmp_path / "b")
    build(one, workers=1, progress=False)
    build(two, workers=2, progress=False)
    assert snapshot(one.output.path) == snapshot(two.output.path)


def test_changed_config_refuses_then_force_rebuilds(tmp_path):
    cfg = demo_config(tmp_path)
    build(cfg, workers=1, progress=False)
    changed = demo_config(tmp_path, "spectrogram.n_mels=32")
    with pytest.raises(BuildError, match="spectrogram.n_mels"):
        build(changed, workers=1, progress=False)
    report = build(changed, workers=1, force=True, progress=False)
    assert report.decoded == len(list(DEMO.rglob("*.*"))) - 1  # all audio, not MANIFEST.tsv
    assert load(cfg.output.path)["train"][0]["image"].size[1] == 32


def test_images_of_another_png_encoder_are_all_rebuilt(tmp_path):
    # An older spectroset deflated otherwise: its images must not mix with new ones (same pixels,
    # other bytes), and the rebuild needs no --force.
    from builder.store.state import Journal

    cfg = demo_config(tmp_path)
    build(cfg, workers=1, progress=False)
    first = snapshot(cfg.output.path)
    journal = Journal(cfg.output.path)
    journal.set_meta("encoder", "numpy run-length deflate")
    journal.close()
    report = build(cfg, workers=1, progress=False)
    assert not report.up_to_date and report.decoded == len(list(DEMO.rglob("*.*"))) - 1
    assert snapshot(cfg.output.path) == first


def test_added_and_removed_sources_rebuild_only_those(tmp_path):
    src = tmp_path / "audio"
    shutil.copytree(DEMO, src)
    cfg = demo_config(tmp_path, source=src)
    build(cfg, workers=1, progress=False)
    removed = src / "tabla" / "tabla_na.flac"
    removed.unlink()
    shutil.copy(src / "tabla" / "tabla_tas1.flac", src / "tabla" / "tabla_copy.flac")
    report = build(cfg, workers=1, progress=False)
    assert report.decoded == 1
    sources = {s for part in load(cfg.output.path).values() for s in part["source"]}
    assert "tabla/tabla_copy.flac" in sources and "tabla/tabla_na.flac" not in sources
    assert not any("tabla_na_" in p for p in snapshot(cfg.output.path))
    fresh = demo_config(tmp_path / "fresh", source=src)
    build(fresh, workers=1, progress=False)
    assert snapshot(cfg.output.path) == snapshot(fresh.output.path)


def test_nasty_corpus_reports_every_bad_file(tmp_path, nasty_dir):
    nasty = tmp_path / "nasty"
    shutil.copytree(nasty_dir, nasty / "weird", symlinks=True)
    cfg = demo_config(tmp_path, "windows.min_duration=0.1", "windows.min_last=0.1", source=nasty)
    report = build(cfg, workers=2, progress=False)
    reasons = {s["path"]: s["reason"] for s in report.skipped}
    for bad in ("weird/zero_length.wav", "weird/not_audio_text.wav", "weird/._appledouble_junk.wav",
                "weird/.hidden_recording.wav", "weird/very_short_20ms.flac"):
        assert bad in reasons, bad
    assert "shorter than windows.min_duration" in reasons["weird/very_short_20ms.flac"]
    built = {s for part in load(cfg.output.path).values() for s in part["source"]}
    for good in ("weird/six_channel_22k_24bit.wav", "weird/eight_channel_44k.flac", "weird/float32_44k.wav",
                 "weird/mp3_named_as.wav", "weird/wav_named_as.flac", "weird/same_stem/laser1.ogg",
                 "weird/same_stem/laser1.wav", "weird/same_stem/laser1.mp3"):
        assert good in built, good
    # built + skipped account for every audio-named file discovered
    assert built.isdisjoint(reasons)


def test_corpus_classes_build(tmp_path, classes_dir):
    cfg = load_config(REPO / "configs" / "birdclef-mel.yaml",
                      [f"source.path={classes_dir}", f"output.path={tmp_path / 'out'}",
                       "output.splits={train: 0.8, test: 0.2}"])
    report = build(cfg, workers=2, progress=False)
    ds = load(cfg.output.path)
    assert len(ds["train"].features["label"].names) == len([d for d in classes_dir.iterdir() if d.is_dir()])
    assert sum(len(p) for p in ds.values()) == report.record["windows"]
    img = np.asarray(ds["train"][0]["image"])
    assert img.shape == (128, 313) and img.dtype == np.uint8 and img.max() > img.min()
