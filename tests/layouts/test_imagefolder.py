"""imagefolder with CSV multi-labels, arrays and clips: metadata.parquet; silent windows skipped."""

from __future__ import annotations

import importlib.util
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from builder.pipeline import build

from tests.helpers.layouts import RATE, birdclef_source, demo_config, load, tone

CSV_LABELS = "source.labels={{csv: {csv}, file_column: filename, label_column: primary_label, extra_labels_column: secondary_labels}}"
WANT_LABELS = {  # file → (primary, all labels in order)
    "amecro/a1.wav": ("amecro", ["amecro", "barswa", "zzonly"]),
    "amecro/a2.wav": ("amecro", ["amecro"]),
    "amecro/a3.wav": ("amecro", ["amecro", "barswa"]),
    "barswa/b1.wav": ("barswa", ["barswa"]),
    "barswa/b2.wav": ("barswa", ["barswa", "amecro"]),
    "barswa/b3.wav": ("barswa", ["barswa"]),
}


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_csv_multilabel_loads_as_list_of_classlabel(tmp_path, layout):
    from datasets import Array2D, ClassLabel, List

    audio, table = birdclef_source(tmp_path)
    cfg = demo_config(tmp_path / "out", audio, CSV_LABELS.format(csv=table), f"output.layout={layout}",
                      "output.include.arrays=true", "output.splits={train: 0.5, test: 0.5}")
    report = build(cfg, workers=1, progress=False)
    assert report.skipped == []
    if layout == "imagefolder":
        assert {f.rsplit("/", 1)[-1] for f in report.record["files"] if "metadata" in f} == {"metadata.parquet"}
    ds = load(cfg.output.path)
    assert set(ds) == {"train", "test"}
    names = ["amecro", "barswa", "zzonly"]  # zzonly occurs only as a secondary label
    f = ds["train"].features
    assert f["label"] == ClassLabel(names=names)
    assert f["labels"] == List(ClassLabel(names=names))
    assert f["spectrogram"] == Array2D((64, 101), "float16")
    seen = set()
    for part in ds.values():
        assert part.features == f
        for row in part.select_columns(["source", "label", "labels", "spectrogram"]):
            primary, labels = WANT_LABELS[row["source"]]
            assert names[row["label"]] == primary
            assert [names[i] for i in row["labels"]] == labels
            assert np.asarray(row["spectrogram"]).shape == (64, 101)
            seen.add(row["source"])
    assert seen == set(WANT_LABELS)
    assert sum(len(p) for p in ds.values()) == report.record["windows"]


def test_plain_build_writes_metadata_parquet_with_its_features(tmp_path):
    """The metadata's schema carries the ClassLabel (ids in the file), so the card needs no configs."""
    from datasets import ClassLabel, Features

    for i, label in enumerate(("a", "b")):
        tone(tmp_path / "src" / label / "x.wav", 1.2, 400 + 300 * i)
    cfg = demo_config(tmp_path / "out", tmp_path / "src", "output.splits={train: 1.0}")
    record = build(cfg, workers=1, progress=False).record
    assert "train/metadata.parquet" in record["files"]
    assert not any(f.endswith("metadata.csv") for f in record["files"])
    table = pq.read_table(cfg.output.path / "train" / "metadata.parquet")
    assert Features.from_arrow_schema(table.schema)["label"] == ClassLabel(names=["a", "b"])
    assert sorted(set(table.column("label").to_pylist())) == [0, 1]


@pytest.mark.parametrize("labels", [["dev", "noise"], ["noise", "test_tone"]])
def test_a_label_folder_named_like_a_split_keeps_the_cards_configs(tmp_path, labels):
    """``datasets`` would take a folder ``dev`` or ``test_tone`` for a split of its own: such a
    build keeps ``configs`` and loads its own splits."""
    for i, label in enumerate(labels):
        tone(tmp_path / "src" / label / "x.wav", 1.2, 400 + 300 * i)
    cfg = demo_config(tmp_path / "out", tmp_path / "src", "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    assert "\nconfigs:\n" in (cfg.output.path / "README.md").read_text()
    ds = load(cfg.output.path)
    assert list(ds) == ["train"] and ds["train"].features["label"].names == labels


def test_audio_clips_in_metadata_parquet(tmp_path):
    import soundfile as sf

    from builder.sources.audio import read
    from builder.plan.windows import cut, plan_windows

    tone(tmp_path / "src" / "a" / "one.wav", 1.7, 700)
    tone(tmp_path / "src" / "b" / "two.wav", 1.2, 1200)
    cfg = demo_config(tmp_path / "out", tmp_path / "src", "output.include.audio=true", "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    table = pq.read_table(cfg.output.path / "train" / "metadata.parquet")
    meta = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert meta["audio"]["_type"] == "Audio" and meta["audio"]["sampling_rate"] == RATE
    rows = table.to_pylist()
    assert [r["file_name"] for r in rows][:2] == ["a/one_1.png", "a/one_1.5.png"]
    for r in rows:
        assert (cfg.output.path / "train" / r["file_name"]).is_file()
        samples, rate = read(cfg.output.path.parent / "src" / r["source"], RATE)
        (w,) = [w for w in plan_windows(len(samples), cfg.windows, rate) if w.start == r["start"]]
        clip, clip_rate = sf.read(io.BytesIO(r["audio"]["bytes"]), dtype="float64")
        assert clip_rate == RATE and r["audio"]["path"] == r["file_name"].rsplit("/", 1)[-1][:-4] + ".flac"
        np.testing.assert_allclose(clip, cut(samples, w), atol=1e-6)
    if importlib.util.find_spec("torchcodec") is not None:  # datasets encodes Audio with it
        from datasets import Audio

        assert isinstance(load(cfg.output.path)["train"].features["audio"], Audio)


def test_silent_windows_are_skipped_and_counted(tmp_path):
    # 4 s: sound for 2 s, then exact silence. 1-s windows every 0.5 s → 7 windows; the ones that
    # start at 2.0, 2.5, 3.0 are all-zero and dropped; 1.5-2.5 is half sound and kept.
    tone(tmp_path / "src" / "a" / "half.wav", 4.0, 800, silent_from=2.0)
    tone(tmp_path / "src" / "b" / "loud.wav", 1.0, 900)
    cfg = demo_config(tmp_path / "out", tmp_path / "src", "windows.skip_silent_below_db=-60",
                      "output.splits={train: 1.0}", "windows.min_last=1.0")
    report = build(cfg, workers=1, progress=False)
    record = json.loads((cfg.output.path / "build.json").read_text())
    assert record["silent_windows_skipped"] == report.record["silent_windows_skipped"] == 3
    starts = sorted(s for src, s in zip(*(load(cfg.output.path)["train"][c] for c in ("source", "start")))
                    if src == "a/half.wav")
    assert starts == [0.0, 0.5, 1.0, 1.5]
    assert "3 silent windows" in (cfg.output.path / "README.md").read_text()
    loud = demo_config(tmp_path / "all", tmp_path / "src", "output.splits={train: 1.0}", "windows.min_last=1.0")
    assert build(loud, workers=1, progress=False).record["windows"] == 4 + 3 + 1


@pytest.mark.parametrize("overrides", [[], ["output.folds=3"]])
def test_metadata_parquet_schema_holds_the_cards_features(tmp_path, overrides):
    """metadata.parquet is written without importing datasets (0.4-0.8 s a build): its schema must
    hold what datasets' own writer puts there, the card's features with file_name for the image, for
    multi-label builds with folds and kept CSV columns (text and numbers) too."""
    from datasets import Features, Value

    from tests.helpers.layouts import attributed_source

    audio, table = attributed_source(tmp_path)
    labels = (f"source.labels={{csv: {table}, extra_labels_column: secondary_labels, "
              "keep_columns: [author, latitude, rating]}")
    cfg = demo_config(tmp_path / "out", audio, labels, "output.splits={train: 0.5, test: 0.5}", *overrides)
    build(cfg, workers=1, progress=False)
    header = yaml.safe_load((cfg.output.path / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    card = Features._from_yaml_list(header["dataset_info"]["features"])
    want = Features({"file_name": Value("string"), **{k: v for k, v in card.items() if k != "image"}})
    for split in ("train", "test"):
        schema = pq.read_schema(cfg.output.path / split / "metadata.parquet")
        assert Features.from_arrow_schema(schema) == want
        assert schema.metadata == want.arrow_schema.metadata  # byte for byte what datasets writes
    assert load(cfg.output.path)["test"].num_rows == pq.read_metadata(cfg.output.path / "test" / "metadata.parquet").num_rows
