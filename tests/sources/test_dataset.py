"""``source.dataset`` from a local folder of parquet shards, as the Hub stores an audio dataset
(``builder/sources/dataset.py``): the same images as a folder build of the same files, the
dataset's own splits, a rerun that decodes only changed rows, the card's licence, and one line for
each error. The same dataset served by a Hub is in tests/publish/test_hub_source.py."""

from __future__ import annotations

import json

from tests.helpers.audio_dataset import (SPLITS, audio_table, dataset_config, dataset_files, folder_build, one_error,
                                         pngs_by_label, write_dataset)
from tests.helpers.cli import DEMO, run_cli, snapshot, write_tone

def test_a_local_parquet_dataset_gives_per_label_the_pngs_of_a_folder_build(tmp_path):
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS))
    out = tmp_path / "j2" / "out"
    done = run_cli("build", dataset_config(tmp_path, ds), "-o", out, "-j", "2")
    assert done.returncode == 0, done.stderr
    assert pngs_by_label(out) == pngs_by_label(folder_build(tmp_path))
    meta = __import__("pyarrow.parquet", fromlist=["x"]).read_table(out / "train" / "metadata.parquet").to_pylist()
    assert {r["source"] for r in meta} == {"train/bd_808.aiff", "train/tabla_na.flac", "train/bd_boom.aiff",
                                          "test/tabla_ghe8.flac"}
    again = tmp_path / "j1" / "out"
    assert run_cli("build", dataset_config(tmp_path, ds), "-o", again, "-j", "1").returncode == 0
    assert snapshot(again) == snapshot(out)  # -j 1 = -j 2, every byte


def test_a_plain_string_column_can_be_the_label(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rels = SPLITS["train"] + SPLITS["train"][:1]  # one path twice: told apart by ~2
    table = pa.table({"clip": [{"bytes": (DEMO / r).read_bytes(), "path": r} for r in rels],
                      "species": [r.split("/")[0].upper() for r in rels]})  # no datasets metadata at all
    (tmp_path / "ds").mkdir()
    pq.write_table(table, tmp_path / "ds" / "train.parquet")
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, tmp_path / "ds", audio_column="clip", label_column="species"),
                   "-o", out, "-j", "1")
    assert done.returncode == 0, done.stderr
    assert sorted(pngs_by_label(out)) == ["KICK_DRUM", "TABLA"]
    sources = {r["source"] for r in pq.read_table(out / "train" / "metadata.parquet").to_pylist()}
    assert sources == {"train/kick_drum/bd_808.aiff", "train/kick_drum/bd_808~2.aiff", "train/tabla/tabla_na.flac",
                       "train/kick_drum/bd_boom.aiff"}
    assert "source.dataset: " in one_error(run_cli("build", dataset_config(tmp_path, tmp_path / "ds", audio_column="clip"),
                                                   "-o", tmp_path / "o2"))  # no ClassLabel to take


def test_an_integer_label_column_numbers_its_classes_by_value_and_a_float_one_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rels = SPLITS["train"]
    table = pa.table({"audio": [{"bytes": (DEMO / r).read_bytes(), "path": r} for r in rels],
                      "target": [10, 2, 10], "score": [0.5, 1.0, 0.5], "category": ["a", "b", "a"]})
    (tmp_path / "ds").mkdir()
    pq.write_table(table, tmp_path / "ds" / "train.parquet")
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, tmp_path / "ds", label_column="target"), "-o", out, "-j", "1")
    assert done.returncode == 0, done.stderr
    assert "'0': '2'\n          '1': '10'\n" in (out / "README.md").read_text()  # not '10', '2'
    rows = pq.read_table(out / "train" / "metadata.parquet").to_pylist()
    assert {r["source"].split("/")[1]: r["label"] for r in rows} == {"kick_drum": 1, "tabla": 0}
    for key, column, why in [("label_column", "score", "holds double values, not labels"),
                             ("label_column", "audio", "holds struct<bytes: binary, path: string> values, not labels"),
                             ("audio_column", "category", "holds string values, not audio")]:
        source = {"label_column": "target", key: column}
        error = one_error(run_cli("build", dataset_config(tmp_path, tmp_path / "ds", **source), "-o",
                                  tmp_path / f"o-{column}"))
        assert error.startswith(f"error: source.{key}: column '{column}' of ") and why in error, error


def test_keep_splits_keeps_the_dataset_own_splits(tmp_path):
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS))
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, ds, keep_splits=True), "-o", out, "-j", "1")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "build.json").read_text())
    assert set(record["splits"]) == {"train", "test"}
    assert sorted(p.name for p in (out / "test").rglob("*.png")) == ["tabla_ghe8_0.5.png"]
    one = tmp_path / "one"  # source.split: only the test split
    done = run_cli("build", dataset_config(tmp_path, ds, split="test", keep_splits=True), "-o", one, "-j", "1")
    assert done.returncode == 0, done.stderr
    assert set(json.loads((one / "build.json").read_text())["splits"]) == {"test"}
    clash = run_cli("build", dataset_config(tmp_path, ds, keep_splits=True), "-o", tmp_path / "x",
                    "--set", "output.splits.train=0.5", "--set", "output.splits.test=0.5")
    assert ("source.keep_splits: keeps the dataset's own splits: leave output.splits out (--set output.splits=null "
            "drops a preset's)") in one_error(clash)
    advised = run_cli("build", dataset_config(tmp_path, ds, keep_splits=True), "-o", tmp_path / "y", "--set",
                      "output.splits.train=0.5", "--set", "output.splits.test=0.5", "--set", "output.splits=null")
    assert advised.returncode == 0, advised.stderr  # the advice works


def test_an_output_folder_inside_the_dataset_folder_names_source_dataset(tmp_path):
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS))
    assert f"output folder {ds / 'out'} is inside source.dataset {ds}" in one_error(
        run_cli("build", dataset_config(tmp_path, ds), "-o", ds / "out"))


def test_a_new_revision_decodes_only_the_rows_whose_bytes_changed(tmp_path):
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS))
    cfg, out = dataset_config(tmp_path, ds), tmp_path / "out"
    assert run_cli("build", cfg, "-o", out, "-j", "1").returncode == 0
    before = {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*.png")}
    changed = write_tone(tmp_path / "new" / "kick_drum" / "bd_boom.aiff", 1.2, freq=880.0)  # same row path, new bytes
    rows = [("bd_808.aiff", (DEMO / SPLITS["train"][0]).read_bytes(), 0),
            ("tabla_na.flac", (DEMO / SPLITS["train"][1]).read_bytes(), 1),
            ("bd_boom.aiff", changed.read_bytes(), 0)]
    import pyarrow.parquet as pq

    pq.write_table(audio_table(rows, ["kick_drum", "tabla"]), ds / "data" / "train-00000-of-00001.parquet",
                   row_group_size=1)  # the shard rewritten: other row groups, same rows but one
    done = run_cli("build", cfg, "-o", out, "-j", "1")
    assert done.returncode == 0, done.stderr
    assert "(1 decoded, 3 reused)" in done.stdout, done.stdout
    after = {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*.png")}
    kept = {rel for rel in before if "bd_boom" not in rel and "preview" not in rel}
    assert kept and all(after[rel] == before[rel] for rel in kept)  # not written again


def test_the_source_licence_is_the_default_and_another_warns(tmp_path):
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS, licence="cc-by-4.0"))
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, ds), "-o", out, "-j", "1")
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    assert "\nlicense: cc-by-4.0\n" in (out / "README.md").read_text()
    push = run_cli("push", out, "--to", "hf", "--repo", "alice/x", "--license", "mit", "--dry-run", tmp_path / "st")
    assert push.returncode == 0, push.stderr
    assert "licence mit differs from the source dataset's licence cc-by-4.0" in push.stderr
    other = tmp_path / "other"
    done = run_cli("build", dataset_config(tmp_path, ds), "-o", other, "-j", "1", "--set", "publish.license=cc0-1.0")
    assert done.returncode == 0, done.stderr
    assert "publish.license cc0-1.0 differs from the source dataset" in done.stderr
    assert "\nlicense: cc0-1.0\n" in (other / "README.md").read_text()


def test_bad_rows_and_a_corrupt_shard_are_skipped_and_listed(tmp_path):
    files = dataset_files(DEMO, SPLITS)
    files["data/test-00000-of-00001.parquet"] = b"PAR1 not a parquet file"
    ds = write_dataset(tmp_path / "ds", files)
    import pyarrow.parquet as pq

    rows = [("bad.wav", b"RIFF\x00\x00 not audio", 0), ("tabla_na.flac", (DEMO / SPLITS["train"][1]).read_bytes(), 1),
            ("linked.wav", None, 0)]
    pq.write_table(audio_table(rows, ["kick_drum", "tabla"]), ds / "data" / "train-00000-of-00001.parquet")
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, ds), "-o", out, "-j", "1")
    assert done.returncode == 0, done.stderr
    skipped = {s["path"]: s["reason"] for s in json.loads((out / "build.json").read_text())["skipped"]}
    assert set(skipped) == {"data/test-00000-of-00001.parquet", "train/bad.wav", "train/linked.wav"}, skipped
    assert skipped["data/test-00000-of-00001.parquet"].startswith("unreadable parquet shard")
    assert skipped["train/linked.wav"] == "audio not embedded (only a path) in column audio"


def test_a_dataset_that_cannot_be_read_is_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = tmp_path / "text" / "data"
    text.mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a", "b"]}), text / "train-00000-of-00001.parquet")
    assert "is not an audio dataset: no Audio column (has text)" in one_error(
        run_cli("build", dataset_config(tmp_path, text.parent), "-o", tmp_path / "o1"))
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS))
    assert "source.label_column: no column 'species'" in one_error(
        run_cli("build", dataset_config(tmp_path, ds, label_column="species"), "-o", tmp_path / "o2"))
    assert "source.audio_column: no column 'clip'" in one_error(
        run_cli("build", dataset_config(tmp_path, ds, audio_column="clip"), "-o", tmp_path / "o3"))
    assert "source.split: " in one_error(run_cli("build", dataset_config(tmp_path, ds, split="dev"), "-o", tmp_path / "o4"))
    (tmp_path / "empty").mkdir()
    assert "has no parquet file" in one_error(run_cli("build", dataset_config(tmp_path, tmp_path / "empty"), "-o",
                                                      tmp_path / "o5"))


def test_unreadable_schema_metadata_or_class_names_are_one_line_naming_the_shard_and_key(tmp_path):
    import pyarrow.parquet as pq

    rows = [("bd_808.aiff", (DEMO / SPLITS["train"][0]).read_bytes(), 0)]
    label = lambda names: json.dumps({"info": {"features": {"audio": {"_type": "Audio"}, "label": {  # noqa: E731
        "_type": "ClassLabel", "names": names}}}})
    cases = {b"[" * 100000 + b"]" * 100000: "huggingface metadata is not readable JSON",  # RecursionError
             b"{not json": "huggingface metadata is not readable JSON",
             json.dumps({"info": [1, 2]}): "huggingface metadata has no features object at info.features (found list)",
             label(5): "ClassLabel names of column 'label' must be a list of strings (found 5)",
             label([1, None]): "ClassLabel names of column 'label' must be a list of strings (found 1)",
             label([{"x": 1}, ["y"]]): "ClassLabel names of column 'label' must be a list of strings (found {'x': 1})",
             label(["a", "b", "a"]): "ClassLabel names of column 'label' repeat 'a'"}
    for i, (meta, said) in enumerate(cases.items()):
        shard = tmp_path / f"ds{i}" / "data" / "train-00000-of-00001.parquet"
        shard.parent.mkdir(parents=True)
        pq.write_table(audio_table(rows, ["kick_drum"]).replace_schema_metadata({b"huggingface": meta}), shard)
        line = one_error(run_cli("build", dataset_config(tmp_path, shard.parent.parent), "-o", tmp_path / f"o{i}"))
        assert f"ds{i}:data/train-00000-of-00001.parquet: " in line and said in line, line


def test_a_row_path_of_its_own_keeps_its_name_and_empty_audio_says_so(tmp_path):
    import pyarrow.parquet as pq

    kick, tabla = (DEMO / SPLITS["train"][0]).read_bytes(), (DEMO / SPLITS["train"][1]).read_bytes()
    boom = (DEMO / SPLITS["train"][2]).read_bytes()
    rows = [("dup.wav", kick, 0), ("dup.wav", boom, 0), ("dup~2.wav", tabla, 1), ("empty.wav", b"", 0)]
    (tmp_path / "ds").mkdir()
    pq.write_table(audio_table(rows, ["kick_drum", "tabla"]), tmp_path / "ds" / "train.parquet")
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, tmp_path / "ds"), "-o", out, "-j", "1")
    assert done.returncode == 0, done.stderr
    meta = pq.read_table(out / "train" / "metadata.parquet").to_pylist()
    assert {r["source"]: r["label"] for r in meta} == {"train/dup.wav": 0, "train/dup~3.wav": 0,
                                                       "train/dup~2.wav": 1}  # the real dup~2.wav (tabla) is itself
    skipped = {s["path"]: s["reason"] for s in json.loads((out / "build.json").read_text())["skipped"]}
    assert skipped == {"train/empty.wav": "empty audio (0 bytes) in column audio"}


def test_a_shard_holding_its_audio_in_one_large_page_is_named_once(tmp_path, monkeypatch, caplog):
    import random

    import pyarrow.parquet as pq

    from builder.config.source import SourceConfig
    from builder.sources import dataset

    rows = [(f"c{i}.wav", random.Random(i).randbytes(256 * 1024), 0) for i in range(8)]  # incompressible
    for i in range(2):  # pyarrow's defaults: all 8 rows' audio in one dictionary page of 2 MB
        (tmp_path / "data").mkdir(exist_ok=True)
        pq.write_table(audio_table(rows, ["a"]), tmp_path / "data" / f"train-0000{i}-of-00002.parquet")
    monkeypatch.setattr(dataset, "PAGE_WARNED", 3 << 19)  # 1.5 MB: write_batch_size=1 stops a page at 1 MB
    dataset.read_dataset(SourceConfig(dataset=str(tmp_path)))
    said = [r.getMessage() for r in caplog.records if "one parquet page" in r.getMessage()]
    assert len(said) == 1 and ":data/train-00000-of-00002.parquet keeps up to 2 MB of its audio" in said[0], said
    assert "write_batch_size=1" in said[0]
    for i in range(2):
        pq.write_table(audio_table(rows, ["a"]), tmp_path / "data" / f"train-0000{i}-of-00002.parquet",
                       write_batch_size=1)  # as the docs write them: no warning
    caplog.clear()
    dataset.read_dataset(SourceConfig(dataset=str(tmp_path)))
    assert not [r for r in caplog.records if "one parquet page" in r.getMessage()]
