"""Pushing to the Hub: round trip through the fake Hub, reruns, branches, dry runs."""

from __future__ import annotations

import json

import pytest

from conftest import HF_TOKEN, hub_env, run_client


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_round_trip_equals_local(layout, request, hub, client_env):
    out = request.getfixturevalue(f"{layout}_out")
    env = hub_env(client_env, hub)
    result = run_client("push", out, "--to", "hf", "--repo", "alice/tiny-birds", "-m", "first push", env=env)
    assert result.returncode == 0, result.output
    assert f"{hub.url}/datasets/alice/tiny-birds" in result.stdout

    files = hub.files("alice/tiny-birds")
    assert "README.md" in files and files["README.md"] == (out / "README.md").read_bytes()
    assert not [p for p in files if p.startswith(".spectroset") or p == "build.json"]
    assert hub.repos["alice/tiny-birds"].messages[-1] == "first push"

    compared = run_client("compare", out, "alice/tiny-birds", env=env)
    assert compared.returncode == 0, compared.output
    report = json.loads(compared.stdout.strip().splitlines()[-1])
    assert report["local"] == report["remote"] == {"train": 6, "test": 6}
    assert "ClassLabel(names=['cat', 'dog'])" in report["features"]["train"]


def test_rerun_uploads_nothing_new(imagefolder_out, hub, client_env):
    env = hub_env(client_env, hub)
    assert run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env).returncode == 0
    puts = len(hub.requests("PUT", "/lfs/"))
    again = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env)
    assert again.returncode == 0, again.output
    assert len(hub.requests("PUT", "/lfs/")) == puts


def test_private_repo_on_a_branch_with_name_only(parquet_out, hub, client_env):
    env = hub_env(client_env, hub)
    result = run_client("push", parquet_out, "--to", "hf", "--repo", "tiny-birds", "--private",
                        "--revision", "v1", env=env)
    assert result.returncode == 0, result.output
    repo = hub.repos["alice/tiny-birds"]
    assert repo.private and "v1" in repo.branches
    assert f"{hub.url}/datasets/alice/tiny-birds/tree/v1" in result.stdout
    assert "data/train-00000-of-00001.parquet" in hub.files("alice/tiny-birds", "v1")
    assert "data/train-00000-of-00001.parquet" not in hub.files("alice/tiny-birds", "main")


def test_stale_shards_are_deleted(parquet_out, hub, client_env):
    env = hub_env(client_env, hub)
    assert run_client("push", parquet_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env).returncode == 0
    old = parquet_out / "data" / "test-00000-of-00001.parquet"
    old.rename(parquet_out / "data" / "test-00000-of-00002.parquet")
    build = json.loads((parquet_out / "build.json").read_text())
    build["files"] = {k.replace("test-00000-of-00001", "test-00000-of-00002"): v for k, v in build["files"].items()}
    (parquet_out / "build.json").write_text(json.dumps(build))
    assert run_client("push", parquet_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env).returncode == 0
    data = sorted(p for p in hub.files("alice/tiny-birds") if p.startswith("data/"))
    assert data == ["data/test-00000-of-00002.parquet", "data/train-00000-of-00001.parquet"]


def test_repo_from_config(imagefolder_out, hub, client_env):
    build = json.loads((imagefolder_out / "build.json").read_text())
    build["config"]["publish"]["hf"]["repo_id"] = "alice/from-config"
    (imagefolder_out / "build.json").write_text(json.dumps(build))
    result = run_client("push", imagefolder_out, "--to", "hf", env=hub_env(client_env, hub))
    assert result.returncode == 0, result.output
    assert "alice/from-config" in hub.repos


def test_dry_run_stages_a_loadable_folder_and_contacts_nothing(imagefolder_out, hub, client_env, tmp_path):
    stage = tmp_path / "stage"
    env = hub_env(client_env, hub, token=None)  # no credentials needed
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/x-y", "--dry-run", stage, env=env)
    assert result.returncode == 0, result.output
    assert hub.log == []
    staged = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    assert "README.md" in staged and "train/metadata.csv" in staged and "build.json" not in staged
    assert not [p for p in staged if ".spectroset" in p]
    loaded = run_client("load", stage, env=env)
    assert loaded.returncode == 0, loaded.output
    assert json.loads(loaded.stdout.strip().splitlines()[-1])["splits"] == {"train": 6, "test": 6}


def test_dry_run_refuses_a_non_empty_folder(imagefolder_out, client_env, tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "keep.txt").write_text("mine")
    result = run_client("push", imagefolder_out, "--to", "hf", "--dry-run", stage, env=client_env)
    assert result.returncode == 5 and "must not exist or be empty" in result.stderr
    assert (stage / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("repo", ["alice/bad--name", "a/b/c", "alice/-x", "alice/" + "x" * 97])
def test_bad_repo_id(repo, imagefolder_out, hub, client_env):
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", repo, env=hub_env(client_env, hub))
    assert result.returncode == 5 and "--repo" in result.stderr
    assert hub.log == []
    assert HF_TOKEN not in result.output
