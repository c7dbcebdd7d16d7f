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
