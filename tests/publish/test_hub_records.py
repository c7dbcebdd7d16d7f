"""A Hub repo is spectroset's to change only if the build.json in it is one spectroset wrote
(``record.parse_record``): another tool's build.json means the repo is someone else's, and a push
stops with one line before anything in it changes. The real client against the fake Hub."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.helpers.publish import hub_env, run_client
from .fake_hub import Blob, Repo

THESIS = {"thesis.pdf": b"%PDF-1.4 four years of work", "labels/all.csv": b"id,label\n1,cat\n2,dog\n"}


def _their_repo(hub, build_json: bytes, repo_id: str = "alice/thesis") -> Repo:
    """A dataset repo another tool made: its own build.json listing its own files."""
    repo = Repo(repo_id, False)
    tree = {p: Blob(d, p.endswith(".pdf")) for p, d in THESIS.items()} | {"build.json": Blob(build_json, False)}
    repo.branches["main"] = hub._commit(repo, tree, "the owner's thesis data")
    hub.repos[repo_id] = repo
    return repo


def _foreign() -> bytes:
    return json.dumps({"files": {p: hashlib.sha256(d).hexdigest() for p, d in THESIS.items()}}).encode()


@pytest.mark.parametrize("build_json", [_foreign(), b"my notes, not JSON", json.dumps(
    {"name": "thesis", "layout": "imagefolder", "config_hash": "0123456789abcdef", "config": {}, "sources": 1,
     "windows": 1, "splits": {}, "counts": {}, "skipped": [], "files": {"thesis.pdf": "0" * 64},
     "author": "someone else"}).encode()], ids=["other-tool", "not-json", "almost-ours"])
def test_a_repo_holding_another_tools_build_json_is_left_alone(imagefolder_out, hub, client_env, build_json):
    repo = _their_repo(hub, build_json)
    before, commits = hub.files("alice/thesis"), len(repo.commits)
    pushed = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/thesis", env=hub_env(client_env, hub))
    assert pushed.returncode == 5, pushed.output
    lines = pushed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in pushed.stderr, pushed.stderr
    assert "alice/thesis holds a build.json that spectroset did not write" in lines[0]
    assert "nothing was uploaded" in lines[0]
    assert hub.files("alice/thesis") == before and len(repo.commits) == commits  # not one file, not one commit


def test_a_new_branch_of_a_repo_with_a_foreign_build_json_is_not_created(imagefolder_out, hub, client_env):
    repo = _their_repo(hub, _foreign())
    pushed = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/thesis", "--revision", "spectro",
                        env=hub_env(client_env, hub))
    assert pushed.returncode == 5 and "did not write" in pushed.stderr, pushed.output
    assert list(repo.branches) == ["main"] and hub.files("alice/thesis") == THESIS | {"build.json": _foreign()}


def test_a_repo_with_our_own_build_json_is_still_updated(imagefolder_out, hub, client_env):
    env = hub_env(client_env, hub)
    assert run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/birds", env=env).returncode == 0
    again = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/birds", "--revision", "v2", env=env)
    assert again.returncode == 0, again.output
    assert hub.files("alice/birds", "v2")["build.json"] == (imagefolder_out / "build.json").read_bytes()


def _warnings(pushed) -> list[str]:
    return [line for line in pushed.stderr.splitlines() if line.startswith("warning: left")]


def test_a_record_naming_the_owners_files_at_other_hashes_deletes_none_of_them(imagefolder_out, hub, client_env):
    """Our own record, tampered to list the owner's files at hashes they do not have."""
    record = json.loads((imagefolder_out / "build.json").read_text())
    record["files"].update({p: "0" * 64 for p in THESIS})
    _their_repo(hub, json.dumps(record).encode())
    pushed = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/thesis", env=hub_env(client_env, hub))
    assert pushed.returncode == 0, pushed.output
    assert _warnings(pushed) == ["warning: left 2 file(s) in alice/thesis as they are (labels/all.csv, thesis.pdf): "
                                 "changed since spectroset pushed them, so they are yours now; this build no longer "
                                 "lists them and no push will touch them again"], pushed.stderr
    files = hub.files("alice/thesis")
    assert {p: files[p] for p in THESIS} == THESIS and "train/metadata.csv" in files


def _owner_replaces(hub, repo_id: str, rel: str, data: bytes) -> None:
    repo = hub.repos[repo_id]
    tree = dict(repo.commits[repo.branches["main"]]) | {rel: Blob(data, rel.endswith(".png"))}
    repo.branches["main"] = hub._commit(repo, tree, f"the owner's own {rel}")


def _rebuilt(out, rel: str, data: bytes | None) -> None:
    """The dataset rebuilt with ``rel`` gone (``data`` None) or holding other bytes."""
    record = json.loads((out / "build.json").read_text())
    if data is None:
        (out / rel).unlink()
        del record["files"][rel]
    else:
        (out / rel).write_bytes(data)
        record["files"][rel] = hashlib.sha256(data).hexdigest()
    (out / "build.json").write_text(json.dumps(record))


def test_a_png_the_owner_replaced_on_the_hub_is_not_deleted_by_the_next_push(imagefolder_out, hub, client_env):
    env = hub_env(client_env, hub)
    assert run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/birds", env=env).returncode == 0
    rel = "train/cat/train-cat-0.png"
    _owner_replaces(hub, "alice/birds", rel, b"the owner's better picture")
    _rebuilt(imagefolder_out, rel, None)
    _rebuilt(imagefolder_out, "train/dog/train-dog-0.png", None)  # ours, unchanged there: deleted
    pushed = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/birds", env=env)
    assert pushed.returncode == 0, pushed.output
    assert len(_warnings(pushed)) == 1 and f"({rel})" in _warnings(pushed)[0], pushed.stderr
    files = hub.files("alice/birds")
    assert files[rel] == b"the owner's better picture" and "train/dog/train-dog-0.png" not in files


@pytest.mark.parametrize("rel", ["train/cat/train-cat-1.png", "train/metadata.csv"])
def test_a_file_the_owner_changed_on_the_hub_is_never_replaced(imagefolder_out, hub, client_env, rel):
    env = hub_env(client_env, hub)
    assert run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/birds", env=env).returncode == 0
    _owner_replaces(hub, "alice/birds", rel, b"the owner's edit")
    if rel.endswith(".png"):
        _rebuilt(imagefolder_out, rel, b"a new build's image")
    before, commits = hub.files("alice/birds"), len(hub.repos["alice/birds"].commits)
    pushed = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/birds", env=env)
    lines = pushed.stderr.strip().splitlines()
    assert pushed.returncode == 5 and len(lines) == 1 and "Traceback" not in pushed.stderr, pushed.output
    assert f"1 file(s) in alice/birds changed since spectroset pushed them ({rel})" in lines[0]
    assert "nothing was uploaded" in lines[0]
    assert hub.files("alice/birds") == before and len(hub.repos["alice/birds"].commits) == commits
