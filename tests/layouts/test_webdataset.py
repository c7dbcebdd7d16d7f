"""The webdataset layout: tar shards that load_dataset reads, the imagefolder's PNG bytes, fixed
headers, the shard size bound, -j 1 = -j 2, and rebuilds that rewrite only the shards that changed."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile

import numpy as np
import pytest

from builder.layouts.webdataset import sample_key
from builder.pipeline import build

from tests.helpers.cli import REPO, run_cli
from tests.helpers.layouts import DEMO, demo_config, load, snapshot, tone

WDS = "output.layout=webdataset"
RICH = (WDS, "output.include={arrays: true, audio: true}", "output.max_shard_size=1MB")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The demo built as webdataset (by the CLI) and as imagefolder: ``(wds out, record, imagefolder out)``."""
    base = tmp_path_factory.mktemp("wds")
    done = run_cli("build", "examples/demo.yaml", "-o", base / "wds", "--set", f"source.path={DEMO}", "--set", WDS,
                   "-j", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    build(demo_config(base / "img", DEMO), workers=1, progress=False)
    return base / "wds", json.loads((base / "wds" / "build.json").read_text()), base / "img"


def _samples(out):
    """(split, key, {ext: bytes}, tarinfos) of every sample of every shard, in shard order."""
    found = []
    for tar_path in sorted((out / "data").glob("*.tar")):
        split = tar_path.name.split("-")[0]
        with tarfile.open(tar_path) as tar:
            for info in tar.getmembers():
                key, ext = info.name.rsplit(".", 1)
                if not found or found[-1][1] != key or found[-1][0] != split:
                    found.append((split, key, {}, []))
                found[-1][2][ext] = tar.extractfile(info).read()
                found[-1][3].append(info)
    return found


def test_load_dataset_reads_every_row_with_types(pair):
    from datasets import ClassLabel, Image, Value

    out, record, _ = pair
    ds = load(out)
    assert {split: len(part) for split, part in ds.items()} == record["splits"]
    f = ds["train"].features
    assert list(f) == ["__key__", "__url__", "png", "json"]
    assert isinstance(f["png"], Image)
    names = sorted(p.name for p in DEMO.iterdir() if p.is_dir())
    assert f["json"] == {"label": ClassLabel(names=names), "source": Value("string"), "start": Value("float64"),
                         "end": Value("float64"), "audio_seconds": Value("float64")}
    row = ds["train"][0]
    assert row["png"].size == (101, 64) and isinstance(row["json"]["label"], int)
    assert "." not in row["__key__"]
    card = (out / "README.md").read_text()
    assert "WebDataset tar shards" in card  # shardshuffle given: the webdataset library warns without it
    assert 'pipeline = wds.WebDataset(urls, shardshuffle=False).decode("pil").to_tuple("png", "json")' in card


def test_windows_and_png_bytes_equal_the_imagefolder_build(pair):
    import pyarrow.parquet as pq

    out, record, img = pair
    expected = {}
    for split in record["splits"]:
        table = pq.read_table(img / split / "metadata.parquet").to_pylist()
        for r in table:
            expected[(split, r["source"], r["start"], r["end"])] = (img / split / r["file_name"]).read_bytes()
    got = {}
    names = sorted(p.name for p in DEMO.iterdir() if p.is_dir())
    for split, key, members, _ in _samples(out):
        meta = json.loads(members["json"])
        assert meta["label"] in names and set(members) == {"png", "json"}
        got[(split, meta["source"], meta["start"], meta["end"])] = members["png"]
    assert got == expected  # every window, once, with the same PNG bytes


def test_members_have_fixed_headers_and_keys_no_dots(pair):
    out, _, _ = pair
    samples = _samples(out)
    keys = [(split, key) for split, key, _, _ in samples]
    assert len(keys) == len(set(keys))  # a key's members are adjacent, and each key appears once
    for _, key, _, infos in samples:
        assert "." not in key
        for info in infos:
            assert (info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode) == (0, 0, 0, "", "", 0o644)
    assert sample_key("train/dog.x/re%c.d_7.5.png") == "dog%2Ex/re%25c%2Ed_7p5"
    assert sample_key("train/rec_12.png") == "rec_12"


def test_shards_bounded_and_j1_equals_j2_with_arrays_and_clips(tmp_path):
    """1 MB shards with arrays and clips: several per split, each within the bound (plus one sample
    and the tar's end), named as datasets detects splits; -j 2 writes the same bytes as -j 1."""
    outs = {}
    for jobs in (1, 2):
        done = run_cli("build", "examples/demo.yaml", "-o", tmp_path / f"j{jobs}" / "out", "--set", f"source.path={DEMO}",
                       *[a for s in RICH for a in ("--set", s)], "-j", str(jobs), "--quiet")
        assert done.returncode == 0, done.stderr
        outs[jobs] = tmp_path / f"j{jobs}" / "out"  # the same name: the card shows it
    assert snapshot(outs[1]) == snapshot(outs[2])
    data = outs[1] / "data"
    largest = max(sum(len(v) + 1024 for v in m.values()) for _, _, m, _ in _samples(outs[1]))
    for split in ("train", "validation", "test"):
        names = sorted(p.name for p in data.glob(f"{split}-*.tar"))
        n = len(names)
        assert names == [f"{split}-{i:05d}-of-{n:05d}.tar" for i in range(n)]
        assert all((data / name).stat().st_size <= 1_000_000 + largest + 10240 for name in names)
    assert len(list(data.glob("train-*.tar"))) >= 2
    sample = next(m for split, _, m, _ in _samples(outs[1]) if split == "train")
    assert set(sample) == {"png", "json", "npy", "flac"}
    array = np.load(io.BytesIO(sample["npy"]), allow_pickle=False)
    assert array.dtype == np.float16 and array.shape == (64, 101)
    import soundfile as sf

    clip, rate = sf.read(io.BytesIO(sample["flac"]))
    assert rate == 32000 and len(clip) == 32000  # load_dataset would need torchcodec for the clips (as imagefolder)


def test_rerun_after_one_file_changes_rewrites_only_its_shards(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(DEMO, src)
    cfg = demo_config(tmp_path / "a" / "out", src, *RICH, "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    data = cfg.output.path / "data"
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data.glob("*.tar")}
    assert len(before) >= 3
    changed = sorted(src.rglob("*.wav"))[-1]
    rel = changed.relative_to(src).as_posix()
    import soundfile as sf

    seconds = sf.info(changed).duration
    tone(changed, seconds, 1234.0, rate=sf.info(changed).samplerate)  # same length: the same windows
    report = build(cfg, workers=1, progress=False)
    assert report.decoded == 1
    holding = {s for s in before if any(json.loads(m["json"])["source"] == rel for _, _, m, _ in
                                        _samples_of(data / s))}
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data.glob("*.tar")}
    assert set(after) == set(before)
    rewritten = {name for name in before if after[name] != before[name]}
    assert holding <= rewritten and len(rewritten) < len(before)  # the changed file's shards, not every shard
    clean = demo_config(tmp_path / "b" / "out", src, *RICH, "output.splits={train: 1.0}")
    build(clean, workers=1, progress=False)
    assert snapshot(cfg.output.path) == snapshot(clean.output.path)  # and the rebuild is a clean build's bytes


def test_arrays_load_as_array2d(tmp_path):
    cfg = demo_config(tmp_path / "out", DEMO, WDS, "output.include={arrays: true}")
    report = build(cfg, workers=1, progress=False)
    ds = load(cfg.output.path)
    assert ds["train"].features["npy"].shape == (64, 101) and len(ds["train"]) == report.record["splits"]["train"]
    assert np.asarray(ds["train"][0]["npy"]).shape == (64, 101)


def _samples_of(tar_path):
    with tarfile.open(tar_path) as tar:
        by_key = {}
        for info in tar.getmembers():
            key, ext = info.name.rsplit(".", 1)
            by_key.setdefault(key, {})[ext] = tar.extractfile(info).read()
    return [("", key, m, []) for key, m in by_key.items()]


def test_croissant_lists_the_tars_and_reads_every_sample(pair, tmp_path, monkeypatch):
    import mlcroissant as mlc
    from mlcroissant._src.operation_graph.operations import extract

    # mlcroissant keeps a tar's extraction in ~/.cache/croissant keyed by its contentUrl alone
    # (data/train-00000-of-00001.tar): any earlier build's would be read. Its own, here.
    monkeypatch.setattr(extract, "EXTRACT_PATH", extract.epath.Path(tmp_path / "extract"))
    out, record, _ = pair
    doc = json.loads((out / "croissant.json").read_text())
    tars = sorted(d["@id"] for d in doc["distribution"] if d.get("encodingFormat") == "application/x-tar")
    assert tars == sorted(rel for rel in record["files"] if rel.endswith(".tar"))
    ds = mlc.Dataset(str(out / "croissant.json"))
    keys = [r["train/key"].decode() for r in ds.records("train")]
    assert keys == [key for split, key, _, _ in _samples(out) if split == "train"]


def test_rerun_is_a_noop_and_repair_restores_a_changed_shard(tmp_path):
    from builder.errors import BuildError

    cfg = demo_config(tmp_path / "out", DEMO, WDS, "output.splits={train: 1.0}")
    build(cfg, workers=1, progress=False)
    built = snapshot(cfg.output.path)
    assert build(cfg, workers=1, progress=False).up_to_date
    shard = next((cfg.output.path / "data").glob("*.tar"))
    with open(shard, "ab") as fh:
        fh.write(b"\0" * 512)
    touched = demo_config(tmp_path / "out", DEMO, WDS, "output.splits={train: 1.0}", "windows.hop=0.25")
    with pytest.raises(BuildError, match="changed"):  # another config must rewrite it: the user's edit stops it
        build(touched, workers=1, progress=False)
    build(cfg, workers=1, progress=False, repair=True)
    assert snapshot(cfg.output.path) == built


def test_inspect_and_report_read_a_webdataset_build(pair, tmp_path):
    out, record, _ = pair
    checked = run_cli("inspect", out, "--verify")
    assert checked.returncode == 0 and "(webdataset," in checked.stdout and "verified" in checked.stdout, checked.stderr
    page = tmp_path / "report.html"
    done = run_cli("report", out, "-o", page)
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert html.count("data:image/png") > len(record["counts"])  # the preview and a few windows per label
    stray = out / "data" / "stray.tar"
    stray.write_bytes(b"")
    try:
        assert run_cli("inspect", out, "--verify").returncode != 0  # a file load_dataset would read, not ours
    finally:
        stray.unlink()


def test_multilabel_folds_and_kept_columns_go_into_key_json_and_load_typed(tmp_path):
    from datasets import ClassLabel, List, Value

    from tests.helpers.layouts import ATTRIBUTION, attributed_source

    audio, table = attributed_source(tmp_path)
    labels = (f"source.labels={{csv: {table}, keep_columns: [{', '.join(ATTRIBUTION)}], "
              "extra_labels_column: secondary_labels}")
    cfg = demo_config(tmp_path / "out", audio, labels, WDS, "output.folds=2")
    report = build(cfg, workers=1, progress=False)
    ds = load(cfg.output.path)
    names = ["amecro", "barswa", "zzonly"]
    f = ds["train"].features["json"]
    assert f["label"] == ClassLabel(names=names) and f["labels"] == List(ClassLabel(names=names))
    assert f["fold"] == Value("int32") and f["latitude"] == Value("float64") and f["author"] == Value("string")
    assert {split: len(part) for split, part in ds.items()} == report.record["splits"]
    members = next(m for split, _, m, _ in _samples(cfg.output.path) if split == "train")
    meta = json.loads(members["json"])
    assert list(meta)[:7] == ["label", "labels", "source", "start", "end", "audio_seconds", "fold"]
    assert meta["labels"][0] == meta["label"] and all(name in names for name in meta["labels"])
    assert [n for n in _doc_key_json() if n in meta] == list(meta)[:7]  # layouts.md names them in order
    row = ds["train"][0]["json"]
    assert names[row["label"]] == meta["label"] and row["author"] == meta["author"]


def _key_json_row() -> str:
    """docs/layouts.md's member table row for ``KEY.json``."""
    return next(x for x in (REPO / "docs" / "layouts.md").read_text().splitlines() if x.startswith("| `KEY.json` |"))


def _doc_key_json() -> list[str]:
    """The names that row gives, in order."""
    return re.findall(r"`([a-z_]+)`", _key_json_row())


def test_layouts_doc_names_every_key_json_field_and_labels_as_multi_label_only(pair):
    out, _, _ = pair
    meta = json.loads(next(m for _, _, m, _ in _samples(out))["json"])
    assert list(meta) == ["label", "source", "start", "end", "audio_seconds"]
    assert [n for n in _doc_key_json() if n in meta] == list(meta)
    assert "`labels` (the names; multi-label builds only" in _key_json_row()
