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
    assert sample_key("train/__x/__na_1.5.png") == "%5F_x/%5F_na_1p5"  # datasets skips __* as hidden
    assert sample_key("train/x/__1.png") == "x/%5F_1" and sample_key("train/_x/_a_1.png") == "_x/_a_1"


def test_file_names_starting_with_underscores_load(tmp_path):
    """A recording named ``__na.wav`` (or a folder ``__x``): load_dataset reads every sample, where its
    tar reader used to skip the members as hidden files (one row short: NonMatchingSplitsSizesError)."""
    src = tmp_path / "src"
    for rel, freq in (("x/__na.wav", 500), ("x/ok.wav", 700), ("__y/boom.wav", 900), ("__y/_.wav", 1100)):
        tone(src / rel, 1.2, freq)
    out = tmp_path / "out"
    done = run_cli("build", "examples/demo.yaml", "-o", out, "--set", f"source.path={src}", "--set", WDS,
                   "--set", "output.splits=null", "-j", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "build.json").read_text())
    ds = load(out)
    assert {split: len(part) for split, part in ds.items()} == record["splits"]
    assert {json.loads(m["json"])["source"] for _, _, m, _ in _samples(out)} == \
        {"x/__na.wav", "x/ok.wav", "__y/boom.wav", "__y/_.wav"}


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


def test_foreign_files_at_shard_names_are_all_named_at_once_and_leave_no_temp(tmp_path):
    """A file, a link and a folder the user put where a --force rebuild writes its shards: one line
    names all three before any shard is written (no temp left in data/); moved away, a rerun without
    --force resumes from the recordings already decoded."""
    wds = ("--set", WDS, "--set", "output.splits=null", "--set", "output.include.arrays=true",
           "--set", "output.include.audio=true")
    small = ("--set", "output.max_shard_size=1MB", "--set", "image.colormap=magma")
    probe = tmp_path / "probe" / "out"  # the same folder name as out: the card shows it
    assert run_cli("build", "examples/demo.yaml", "-o", probe, "--set", f"source.path={DEMO}", *wds, *small,
                   "-j", "1", "-q").returncode == 0
    names = sorted(p.name for p in (probe / "data").glob("*.tar"))
    assert len(names) >= 4
    out = tmp_path / "user" / "out"
    done = run_cli("build", "examples/demo.yaml", "-o", out, "--set", f"source.path={DEMO}", *wds,
                   "--set", "output.max_shard_size=2MB", "-j", "1", "-q")
    assert done.returncode == 0 and not set(names) & {p.name for p in (out / "data").iterdir()}, done.stderr
    (out / "data" / names[1]).write_bytes(b"mine")
    (out / "data" / names[2]).symlink_to(probe / "data" / names[2])
    (out / "data" / names[3]).mkdir()
    again = ("build", "examples/demo.yaml", "-o", out, "--set", f"source.path={DEMO}", *wds, *small, "-j", "1")
    done = run_cli(*again, "--force")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 3 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert all(f"data/{name}" in errors[0] for name in names[1:4]) and "3 path(s)" in errors[0], errors[0]
    assert sorted(p.name for p in (out / "data").iterdir()) == names[1:4]  # no temp, and the user's three stay
    assert (out / "data" / names[1]).read_bytes() == b"mine"
    for name in names[1:3]:
        (out / "data" / name).unlink()
    (out / "data" / names[3]).rmdir()
    done = run_cli(*again)
    assert done.returncode == 0 and "(0 decoded, 18 reused)" in done.stdout, done.stdout + done.stderr
    assert snapshot(out) == snapshot(probe)


@pytest.mark.parametrize("layout,ext", [("webdataset", "tar"), ("parquet", "parquet")])
def test_left_alone_files_that_load_dataset_reads_are_named_in_a_warning(tmp_path, layout, ext):
    """A user's file in data/ that matches a split's data_files glob of the card is left alone, and
    load_dataset would read it as rows: a warning names it (with -q too); one beside it that no glob
    matches (another name, a split this build lacks, a sub-folder) is only counted."""
    out = tmp_path / "out"
    args = ("build", "examples/demo.yaml", "-o", out, "--set", f"source.path={DEMO}", "--set", f"output.layout={layout}",
            "--set", "output.splits=null", "-j", "1", "-q")
    assert run_cli(*args).returncode == 0
    for rel in (f"data/train-extra.{ext}", "data/notes.txt", f"data/test-mine.{ext}", f"data/train-x/a.{ext}"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(b"mine")
    for extra in ((), ("--set", "windows.hop=0.25", "--force")):  # up to date, and a rebuild
        done = run_cli(*args, *extra)
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
        assert done.returncode == 0 and len(warnings) == 1, done.stderr
        assert f"data/train-extra.{ext} (data/train-*" in warnings[0] and "1 file(s)" in warnings[0]
        assert "notes.txt" not in warnings[0] and "test-mine" not in warnings[0] and "train-x" not in warnings[0]


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


def test_a_folder_at_a_recorded_shard_is_one_line_and_leaves_no_temp(tmp_path):
    """--repair where the user put a folder at a shard's recorded path: one line naming it (exit 3),
    no temp left in data/, the folder untouched; moved away, --repair restores the shard."""
    out = tmp_path / "out"
    base = ("build", "examples/demo.yaml", "-o", out, "--set", f"source.path={DEMO}", "--set", WDS, "-j", "1", "-q")
    assert run_cli(*base).returncode == 0
    shard = sorted((out / "data").glob("*.tar"))[-1]
    kept = shard.read_bytes()
    shard.unlink()
    shard.mkdir()
    (shard / "mine.txt").write_text("mine")
    done = run_cli(*base, "--repair")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 3 and len(errors) == 1 and shard.name in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "folder" in errors[0], errors[0]
    assert not [p for p in (out / "data").iterdir() if p.name.startswith(".")]  # no temp
    assert (shard / "mine.txt").read_text() == "mine"
    shutil.rmtree(shard)
    assert run_cli(*base, "--repair").returncode == 0
    assert shard.read_bytes() == kept
