"""Pushing to Kaggle against the fake API: create, then version; metadata and files as sent."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from tests.helpers.publish import KAGGLE_KEY, KAGGLE_TOKEN, kaggle_env, run_client


def test_create_then_version_imagefolder(imagefolder_out, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    first = run_client("push", imagefolder_out, "--to", "kaggle", "--public", env=env)
    assert first.returncode == 0, first.output
    assert "created https://www.kaggle.com/datasets/alice/tiny-birds" in first.stdout

    dataset = kaggle.datasets["alice/tiny-birds"]
    sent = dataset.create
    # no flag, no config: the card's own licence (cc0-1.0 in this hand-made card), in Kaggle's spelling
    assert sent["title"] == "Tiny Birds" and sent["licenseName"] == "CC0-1.0" and not sent.get("isPrivate", False)
    assert "no licence set" not in first.stderr
    assert sent["description"].startswith("# tiny-birds") and "configs:" not in sent["description"]
    files = kaggle.files_of(sent)
    assert sorted(files) == ["README.md", "build.json", "test.csv", "test.zip", "train.csv", "train.zip"]

    with zipfile.ZipFile(io.BytesIO(files["train.zip"])) as zf:
        assert sorted(zf.namelist())[:2] == ["cat/train-cat-0.png", "cat/train-cat-1.png"]
        assert len(zf.namelist()) == 7 and "metadata.csv" in zf.namelist()
        assert zf.read("cat/train-cat-0.png") == (imagefolder_out / "train/cat/train-cat-0.png").read_bytes()

    rows = list(csv.DictReader(io.StringIO(files["train.csv"].decode())))
    assert rows[0]["file_name"] == "train/cat/train-cat-0.png" and rows[0]["label"] == "cat"
    columns = {f["token"]: f.get("columns") for f in sent["files"]}
    by_name = {kaggle.blobs[t].name: c for t, c in columns.items()}
    assert [c["name"] for c in by_name["train.csv"]] == ["file_name", "label", "source", "start", "end"]
    assert {c["name"]: c["type"] for c in by_name["train.csv"]}["start"] == "numeric"
    assert by_name["train.zip"] is None

    second = run_client("push", imagefolder_out, "--to", "kaggle", "-m", "second build", env=env)
    assert second.returncode == 0, second.output
    assert "new version of https://www.kaggle.com/datasets/alice/tiny-birds" in second.stdout
    assert len(dataset.versions) == 2 and dataset.versions[1]["versionNotes"] == "second build"
    assert sorted(kaggle.files_of(dataset.versions[1])) == sorted(files)


def test_parquet_files_go_up_flat_with_their_schema(parquet_out, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_USERNAME="alice", KAGGLE_KEY=KAGGLE_KEY)
    result = run_client("push", parquet_out, "--to", "kaggle", "--id", "alice/bird-spectra", "--title",
                        "Bird call spectrograms", "--license", "cc-by-4.0", env=env)
    assert result.returncode == 0, result.output
    sent = kaggle.datasets["alice/bird-spectra"].create
    assert sent["licenseName"] == "CC-BY-4.0" and sent["isPrivate"] is True
    files = kaggle.files_of(sent)
    assert sorted(files) == ["README.md", "build.json", "stats.json", "test-00000-of-00001.parquet",
                             "train-00000-of-00001.parquet"]
    assert "no licence set" not in result.stderr
    assert files["train-00000-of-00001.parquet"] == (parquet_out / "data/train-00000-of-00001.parquet").read_bytes()
    columns = next(f["columns"] for f in sent["files"] if kaggle.blobs[f["token"]].name.startswith("train-"))
    label = next(c for c in columns if c["name"] == "label")
    assert label["type"] == "integer" and "cat, dog" in label["description"]


def test_kaggle_json_credentials_and_config_defaults(imagefolder_out, kaggle, client_env, tmp_path):
    kaggle_dir = tmp_path / "home" / ".kaggle"
    kaggle_dir.mkdir()
    (kaggle_dir / "kaggle.json").write_text(json.dumps({"username": "alice", "key": KAGGLE_KEY}))
    build = json.loads((imagefolder_out / "build.json").read_text())
    build["config"]["publish"]["kaggle"].update(
        {"id": "alice/configured-birds", "title": "Configured birds", "keywords": ["audio"],
         "subtitle": "Mel spectrograms of short bird calls"})
    (imagefolder_out / "build.json").write_text(json.dumps(build))
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=kaggle_env(client_env, kaggle))
    assert result.returncode == 0, result.output
    sent = kaggle.datasets["alice/configured-birds"].create
    assert sent["title"] == "Configured birds" and sent["categoryIds"] == ["audio"]
    assert sent["subtitle"] == "Mel spectrograms of short bird calls"


def test_dry_run_writes_metadata_and_archives(imagefolder_out, kaggle, client_env, tmp_path):
    stage = tmp_path / "kstage"
    env = kaggle_env(client_env, kaggle)
    result = run_client("push", imagefolder_out, "--to", "kaggle", "--id", "alice/tiny-birds", "--dry-run", stage,
                        env=env)
    assert result.returncode == 0, result.output
    assert kaggle.log == []
    assert sorted(p.name for p in stage.iterdir()) == [
        "README.md", "build.json", "dataset-metadata.json", "test.csv", "test.zip", "train.csv", "train.zip"]
    meta = json.loads((stage / "dataset-metadata.json").read_text())
    assert meta["id"] == "alice/tiny-birds" and meta["licenses"] == [{"name": "CC0-1.0"}]
    assert 6 <= len(meta["title"]) <= 50 and meta["description"].startswith("# tiny-birds")
    resources = {r["path"]: r for r in meta["resources"]}
    assert sorted(resources) == ["README.md", "build.json", "test.csv", "test.zip", "train.csv", "train.zip"]
    assert [f["name"] for f in resources["train.csv"]["schema"]["fields"]] == [
        "file_name", "label", "source", "start", "end"]
