"""push publishes exactly the files build.json lists, and deletes on the Hub only what a spectroset
push put there: a real build (two demo labels), the real clients, the local fake servers."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from builder.config.loading import load_config
from builder.pipeline import build

from tests.helpers.publish import KAGGLE_TOKEN, hub_env, kaggle_env, run_client
from .fake_hub import Blob

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"
STRAYS = {"notes/todo.md": b"buy more tape", "private/key.pem": b"-----BEGIN KEY-----",
          "train/my_extra.txt": b"my own notes", "train/kick_drum/mine.png": b"my own picture"}


@pytest.fixture
def out(tmp_path) -> Path:
    """A real imagefolder build of two demo labels, with the user's own files put inside it."""
    audio = tmp_path / "audio"
    shutil.copytree(DEMO / "kick_drum", audio / "kick_drum")
    cfg = load_config(REPO / "examples" / "demo.yaml", [f"source.path={audio}", f"output.path={tmp_path / 'out'}",
                                                        "output.splits={train: 1.0}"])
    build(cfg, workers=1, progress=False)
    for rel, data in STRAYS.items():
        (cfg.output.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (cfg.output.path / rel).write_bytes(data)
    return cfg.output.path


def test_stray_files_are_neither_uploaded_to_the_hub_nor_zipped_for_kaggle(out, hub, kaggle, client_env):
    pushed = run_client("push", out, "--to", "hf", "--repo", "alice/drums", "--verbose", env=hub_env(client_env, hub))
    assert pushed.returncode == 0, pushed.output
    assert f"left alone {len(STRAYS)} file(s)" in pushed.stdout and "private/key.pem" in pushed.stdout
    listed = set(json.loads((out / "build.json").read_text())["files"])
    assert set(hub.files("alice/drums")) == listed | {"build.json", ".gitattributes"}

    sent = run_client("push", out, "--to", "kaggle", "--id", "alice/drum-hits", env=kaggle_env(
        client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN))
    assert sent.returncode == 0, sent.output
    files = kaggle.files_of(kaggle.datasets["alice/drum-hits"].create)
    assert "notes.zip" not in files and "private.zip" not in files
    with zipfile.ZipFile(io.BytesIO(files["train.zip"])) as zf:
        assert sorted(f"train/{n}" for n in zf.namelist()) == sorted(f for f in listed if f.startswith("train/"))


def test_the_hub_push_keeps_files_it_did_not_upload(out, hub, client_env):
    env = hub_env(client_env, hub)
    assert run_client("push", out, "--to", "hf", "--repo", "alice/drums", env=env).returncode == 0
    foreign = {"data/raw_index.csv": b"id,path\n", "train/labels_by_hand.txt": b"kick\n"}
    repo = hub.repos["alice/drums"]
    tree = dict(repo.commits[repo.branches["main"]])
    tree.update({p: Blob(d, False) for p, d in foreign.items()})
    repo.branches["main"] = hub._commit(repo, tree, "the owner's own files")

    build_json = json.loads((out / "build.json").read_text())
    gone = sorted(p for p in build_json["files"] if p.endswith(".png"))[0]
    (out / gone).unlink()  # a rebuild that no longer has this image
    del build_json["files"][gone]
    (out / "build.json").write_text(json.dumps(build_json))
    again = run_client("push", out, "--to", "hf", "--repo", "alice/drums", env=env)
    assert again.returncode == 0, again.output
    files = hub.files("alice/drums")
    assert all(files.get(p) == d for p, d in foreign.items())  # never uploaded by spectroset: kept
    assert gone not in files  # uploaded by the previous push and no longer built: deleted


def test_a_changed_missing_or_foreign_build_is_refused_with_the_paths(out, tmp_path, client_env):
    stage = tmp_path / "stage"
    (out / "README.md").write_bytes(b"edited by hand")
    image = next(p for p in json.loads((out / "build.json").read_text())["files"] if p.endswith(".png"))
    (out / image).unlink()
    refused = run_client("push", out, "--to", "hf", "--dry-run", stage, env=client_env)
    assert refused.returncode == 4 and "README.md (changed since the build)" in refused.stderr
    assert f"{image} (missing)" in refused.stderr and not stage.exists()

    thesis = tmp_path / "thesis"
    (thesis / "chapters").mkdir(parents=True)
    (thesis / "chapters" / "one.tex").write_text("\\chapter{One}")
    (thesis / "README.md").write_text("# my thesis")
    (thesis / "build.json").write_text("{}")
    refused = run_client("push", thesis, "--to", "hf", "--dry-run", stage, env=client_env)
    assert refused.returncode == 4 and "not a spectroset build record" in refused.stderr and not stage.exists()

    for entry in ("../outside.txt", "/etc/hostname"):
        record = json.loads((out / "build.json").read_text())
        record["files"] = {entry: "0" * 64}
        (out / "build.json").write_text(json.dumps(record))
        refused = run_client("push", out, "--to", "hf", "--dry-run", stage, env=client_env)
        assert refused.returncode == 4 and "spectroset never writes" in refused.stderr, refused.stderr


def test_an_unfinished_build_is_refused(out, tmp_path, client_env):
    (out / "build.json").unlink()  # what a rebuild does before it changes the first file
    refused = run_client("push", out, "--to", "hf", "--dry-run", tmp_path / "stage", env=client_env)
    assert refused.returncode == 4 and "unfinished: rerun the build" in refused.stderr


@pytest.mark.parametrize("path", ["train/a[1]/x_5.png", "train/a*b/x?.png", "data/train-00000-of-00001.parquet"])
def test_a_hub_delete_names_one_file_exactly(path):
    from fnmatch import fnmatchcase

    from builder.publish.hub import exact_pattern

    others = [o for o in (path.replace("/x", "/y"), "train/a1/x_5.png", "train/aXb/x!.png", path + ".bak") if o != path]
    assert fnmatchcase(path, exact_pattern(path)) and not any(fnmatchcase(o, exact_pattern(path)) for o in others)
