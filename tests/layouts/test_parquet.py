"""The parquet layout: shards, features, lossless arrays and clips, determinism, shard renames."""

from __future__ import annotations

import io
import math
import re
import shutil

import numpy as np
import pytest

from builder.errors import ConfigError
from builder.layouts.parquet import assign_shards
from builder.config.loading import load_config
from builder.pipeline import build
from builder.store.state_dir import temp_name

from tests.helpers.layouts import DEMO, REPO, RICH, demo_config, load, snapshot, tone


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """The demo as parquet with arrays and clips, in 1 MB shards: ``(cfg, report, dataset)``."""
    out = tmp_path_factory.mktemp("rich") / "out"
    cfg = demo_config(out, DEMO, *RICH)
    report = build(cfg, workers=1, progress=False)
    return cfg, report, load(out)


def test_loads_every_split_with_features(rich):
    from datasets import Array2D, Audio, ClassLabel, Image, Value

    cfg, report, ds = rich
    assert set(ds) == {"train", "validation", "test"}
    f = ds["train"].features
    assert list(f) == ["image", "label", "source", "start", "end", "audio_seconds", "spectrogram", "audio"]
    assert isinstance(f["image"], Image) and isinstance(f["audio"], Audio)
    assert f["label"] == ClassLabel(names=sorted(p.name for p in DEMO.iterdir() if p.is_dir()))
    assert f["source"] == Value("string") and f["start"] == Value("float64")
    assert f["spectrogram"] == Array2D((64, 101), "float16")
    for split, part in ds.items():
        assert part.features == f
        assert len(part) == report.record["splits"][split]
    row = ds["train"].select_columns(["image"])[0]  # decoding `audio` would need torchcodec
    assert row["image"].size == (101, 64)
    assert re.fullmatch(r".+_[0-9.]+\.png", ds["train"].with_format("arrow")["image"][0]["path"].as_py())


def test_shards_are_near_max_size_and_named(rich):
    cfg, report, _ = rich
    out = cfg.output.path
    shards = sorted(p.name for p in (out / "data").iterdir())
    assert all(f"data/{name}" in report.record["files"] for name in shards)
    for split in report.record["splits"]:
        names = [n for n in shards if n.startswith(f"{split}-")]
        n = len(names)
        assert names == [f"{split}-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
        total = sum((out / "data" / name).stat().st_size for name in names)
        assert n == math.ceil(total / cfg.output.max_shard_size) or n == math.ceil(total / cfg.output.max_shard_size) + 1
        assert all((out / "data" / name).stat().st_size < 1.5 * cfg.output.max_shard_size for name in names)
    assert sum(1 for n in shards if n.startswith("train-")) >= 2


def _window(cfg, source: str, start: float):
    """The engine's samples of one window, cut from the whole decoded recording."""
    from builder.sources.audio import read
    from builder.plan.windows import cut, plan_windows

    samples, rate = read(DEMO / source, cfg.audio.sample_rate)
    (w,) = [w for w in plan_windows(len(samples), cfg.windows, rate) if w.start == start]
    return cut(samples, w), rate


def _picks(part, k: int = 3):
    """A few rows spread over the split, including a zero-padded last window if there is one."""
    idx = sorted({0, len(part) // 2, len(part) - 1})[:k]
    return [part[i] for i in idx]


def test_arrays_match_engine_float_output(rich):
    from builder.dsp.spectrogram import Spectrogrammer

    cfg, _, ds = rich
    stored = ds["train"].data.schema.field("spectrogram").type
    assert stored.value_type == "float16" and stored.shape == (64, 101)  # on disk as float16
    part = ds["train"].with_format("numpy", columns=["source", "start", "spectrogram"])
    for row in _picks(part):
        x, rate = _window(cfg, str(row["source"]), float(row["start"]))
        want = Spectrogrammer(cfg.spectrogram, rate)(x)[0]
        got = row["spectrogram"]
        assert got.shape == want.shape == (64, 101)
        assert np.array_equal(got, got.astype(np.float16).astype(got.dtype))  # exactly float16 values
        # float16 keeps ~3 significant digits: the stored value is the engine's, rounded once
        np.testing.assert_allclose(got.astype(np.float32), want, rtol=2e-3, atol=2e-2)


def test_audio_clip_decodes_to_window_samples(rich):
    import soundfile as sf
    from datasets import Audio

    cfg, _, ds = rich
    part = ds["validation"].cast_column("audio", Audio(decode=False))
    for row in _picks(part):
        clip, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="float64")
        x, want_rate = _window(cfg, row["source"], row["start"])
        assert rate == want_rate == 32000 and row["audio"]["path"].endswith(".flac")
        np.testing.assert_allclose(clip, x, atol=1e-6)  # 24-bit FLAC: one step is 1.2e-7


def test_rerun_is_a_noop(rich):
    # worker-count independence of these bytes: tests/plan/test_splits.py builds with -j 1 and -j 2
    cfg, _, _ = rich
    first = snapshot(cfg.output.path)
    again = build(cfg, workers=1, progress=False)
    assert again.up_to_date and again.decoded == 0
    assert snapshot(cfg.output.path) == first


def test_fewer_shards_after_removing_sources_drop_old_names(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(DEMO, src)
    cfg = demo_config(tmp_path / "out", src, *RICH)
    before = build(cfg, workers=1, progress=False).record
    shutil.rmtree(src / "drum_loop")  # most of the audio: every split shrinks
    after = build(cfg, workers=1, progress=False).record
    old = {f for f in before["files"] if f.startswith("data/")}
    new = {f for f in after["files"] if f.startswith("data/")}
    assert old - new, "the shard plan should have changed"
    out = cfg.output.path
    assert {f"data/{p.name}" for p in (out / "data").iterdir()} == new
    ds = load(out)
    assert {s for part in ds.values() for s in part["source"]}.isdisjoint({"drum_loop"})
    assert sum(len(p) for p in ds.values()) == after["windows"]
    fresh = demo_config(tmp_path / "fresh" / "out", src, *RICH)
    build(fresh, workers=1, progress=False)
    assert snapshot(out) == snapshot(fresh.output.path)  # resume equals clean build


def test_a_user_parquet_survives_and_a_crashed_builds_shard_goes(tmp_path):
    """Only the ledger says which shards are ours: a shard a killed run had begun is removed, a
    user's own parquet beside the shards stays (and is counted, never listed in build.json)."""
    from builder.store.state import Journal

    src = tmp_path / "src"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    cfg = demo_config(tmp_path / "out", src, "output.layout=parquet")
    build(cfg, workers=1, progress=False)
    out = cfg.output.path
    mine = out / "data" / "train-00007-of-00009.parquet"
    mine.write_bytes(b"the user's own table")
    journal = Journal(out)
    journal.ledger.intend(["data/train-00008-of-00009.parquet"])  # what a run killed mid-shard leaves:
    journal.close()
    crashed = out / "data" / "train-00008-of-00009.parquet"
    temp_name(crashed).write_bytes(b"half a shard")  # its temp, beside the previous build's shard
    (src / "kick_drum" / "bd_boom.aiff").unlink()  # a change, so the build runs again
    report = build(cfg, workers=1, progress=False)
    assert not crashed.exists() and not temp_name(crashed).exists() and mine.read_bytes() == b"the user's own table"
    assert report.left_alone == ["data/train-00007-of-00009.parquet"]
    assert "data/train-00007-of-00009.parquet" not in report.record["files"]
    assert report.record["left_alone"] == {"count": 1, "files": ["data/train-00007-of-00009.parquet"]}


@pytest.mark.parametrize("sizes, limit", [([10] * 10, 30), ([1, 1, 1, 50, 1], 20), ([5], 1000), ([], 10), ([7, 0, 0, 7], 7)])
def test_assign_shards_contiguous_balanced_no_empty(sizes, limit):
    index, n = assign_shards(sizes, limit)
    assert len(index) == len(sizes)
    assert index == sorted(index)  # contiguous, in row order
    assert set(index) == set(range(n)) or not sizes  # no empty shard
    assert n <= max(1, math.ceil(sum(sizes) / limit))
    assert assign_shards(sizes, limit) == (index, n)


def test_assign_shards_splits_evenly():
    index, n = assign_shards([10] * 10, 30)
    assert n == 4 and [index.count(i) for i in range(n)] == [3, 2, 3, 2]


def test_arrays_need_a_fixed_sample_rate(tmp_path):
    with pytest.raises(ConfigError) as err:
        demo_config(tmp_path, DEMO, "audio.sample_rate=null", "output.include.arrays=true")
    assert err.value.key == "output.include.arrays" and "sample_rate" in str(err.value)


def test_corpus_parquet_matches_imagefolder(tmp_path, classes_dir):
    common = [f"source.path={classes_dir}", "output.splits={train: 0.8, test: 0.2}"]
    if classes_dir.name == "demo-audio":  # 18 short recordings: bigger images for more than one 1-MB shard
        common.append("image.size=[1024, 512]")
    folder = load_config(REPO / "configs" / "birdclef-mel.yaml", [*common, f"output.path={tmp_path / 'folder'}"])
    shards = load_config(REPO / "configs" / "birdclef-mel.yaml",
                         [*common, f"output.path={tmp_path / 'shards'}", "output.layout=parquet", "output.max_shard_size=1MB"])
    a = build(folder, workers=2, progress=False).record
    b = build(shards, workers=2, progress=False).record
    assert a["splits"] == b["splits"] and a["counts"] == b["counts"]
    assert sum(1 for f in b["files"] if f.startswith("data/train-")) >= 2
    ds_a, ds_b = load(folder.output.path), load(shards.output.path)
    assert {k: len(v) for k, v in ds_a.items()} == {k: len(v) for k, v in ds_b.items()} == b["splits"]
    assert ds_a["train"].features == ds_b["train"].features
    key = lambda part: sorted(zip(part["source"], part["start"]))  # noqa: E731
    assert key(ds_a["test"]) == key(ds_b["test"])


def test_shards_are_written_by_the_workers(tmp_path, monkeypatch):
    """With -j 2 each shard is written in a worker process from the spools: the driver never opens
    a shard, and the bytes equal those of a -j 1 build (where it writes them itself)."""
    from builder.layouts import parquet

    one = demo_config(tmp_path / "one" / "out", DEMO, *RICH)
    build(one, workers=1, progress=False)
    assert len(list((one.output.path / "data").iterdir())) > 2

    def not_in_the_driver(*args, **kwargs):
        raise AssertionError("a shard was written by the driver")

    monkeypatch.setattr(parquet, "ParquetFile", not_in_the_driver)
    two = demo_config(tmp_path / "two" / "out", DEMO, *RICH)
    build(two, workers=2, progress=False)
    assert snapshot(two.output.path) == snapshot(one.output.path)


def test_row_groups_of_large_rgb_images_stay_under_the_viewers_100MB(tmp_path):
    """5 uncompressed 3000×3000 RGB windows (27 MB each): one 100-row group would be 135 MB."""
    import pyarrow.parquet as pq

    from builder.cli.main import main

    tone(tmp_path / "audio" / "tone" / "a.wav", 3.0)
    out = tmp_path / "out"
    sets = ["output.layout=parquet", "output.splits={train: 1.0}", "output.max_shard_size=1GB",
            "image.channels=[spectrogram, delta, delta2]", "image.size=[3000, 3000]", "image.png_compress_level=0",
            f"source.path={tmp_path / 'audio'}"]
    assert main(["build", str(REPO / "examples" / "demo.yaml"), "-o", str(out), "-j", "1", "--quiet",
                 *(x for s in sets for x in ("--set", s))]) == 0
    meta = pq.read_metadata(out / "data" / "train-00000-of-00001.parquet")
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    assert sum(g.num_rows for g in groups) == 5
    assert len(groups) == 2 and all(g.total_byte_size <= 100_000_000 for g in groups), \
        [(g.num_rows, g.total_byte_size) for g in groups]
    assert load(out)["train"].num_rows == 5
