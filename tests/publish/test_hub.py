"""Pushing to the Hub: round trip through the fake Hub, reruns, branches, dry runs."""

from __future__ import annotations

import json

import pytest

from tests.helpers.publish import (FakeHub, HF_TOKEN, build_fixture_dataset, hub_env, make_client_env, run_client,
                      verify)
from builder.publish.hub import check_repo_id
from builder.errors import PublishError


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """Both layouts pushed to one fake Hub, a dry run staged, then all loaded in one child process."""
    base = tmp_path_factory.mktemp("round-trip")
    env = make_client_env(base)
    with FakeHub({HF_TOKEN: "alice"}) as hub:
        outs, pushes = {}, {}
        for layout in ("imagefolder", "parquet"):
            outs[layout] = build_fixture_dataset(base / layout, layout)
            pushes[layout] = run_client("push", outs[layout], "--to", "hf", "--repo", f"alice/birds-{layout}",
                                        "-m", f"first {layout}", env=hub_env(env, hub))
        log_before_dry_run = list(hub.log)
        stage = base / "stage"
        pushes["dry-run"] = run_client("push", outs["imagefolder"], "--to", "hf", "--dry-run", stage,
                                       env=hub_env(env, hub, token=None))
        contacted = hub.log[len(log_before_dry_run):]
        reports = verify(f"{outs['imagefolder']}=alice/birds-imagefolder", f"{outs['parquet']}=alice/birds-parquet",
                         str(stage), env=hub_env(env, hub))
        yield {"hub": hub, "outs": outs, "pushes": pushes, "reports": reports, "stage": stage,
               "contacted": contacted}


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_round_trip_equals_local(layout, round_trip):
    hub, out, push = round_trip["hub"], round_trip["outs"][layout], round_trip["pushes"][layout]
    assert push.returncode == 0, push.output
    assert f"{hub.url}/datasets/alice/birds-{layout}" in push.stdout
    files = hub.files(f"alice/birds-{layout}")
    assert files["README.md"] == (out / "README.md").read_bytes()  # the card goes up as the engine wrote it
    assert "build.json" in files and not [p for p in files if ".spectroset" in p]  # the card points to build.json
    assert hub.repos[f"alice/birds-{layout}"].messages[-1] == f"first {layout}"

    report = round_trip["reports"][f"{out}=alice/birds-{layout}"]
    assert "error" not in report, report["error"]
    assert report["local"] == report["remote"] == {"train": 6, "test": 6}
    assert "ClassLabel(names=['cat', 'dog'])" in report["features"]["train"]


def test_dry_run_stages_a_loadable_folder_and_contacts_nothing(round_trip):
    push, stage = round_trip["pushes"]["dry-run"], round_trip["stage"]
    assert push.returncode == 0, push.output
    assert round_trip["contacted"] == []
    staged = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    out = round_trip["outs"]["imagefolder"]
    assert staged == sorted(p for p in round_trip["hub"].files("alice/birds-imagefolder") if p != ".gitattributes")
    assert all((stage / p).read_bytes() == (out / p).read_bytes() for p in staged)
    report = round_trip["reports"][str(stage)]
    assert report.get("splits") == {"train": 6, "test": 6}, report


def test_rerun_sends_nothing_again_and_drops_stale_shards(parquet_out, hub, client_env):
    env = hub_env(client_env, hub)
    assert run_client("push", parquet_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env).returncode == 0
    puts, commits = len(hub.requests("PUT", "/lfs/")), len(hub.repos["alice/tiny-birds"].commits)
    again = run_client("push", parquet_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env)
    assert again.returncode == 0, again.output
    assert len(hub.requests("PUT", "/lfs/")) == puts and len(hub.repos["alice/tiny-birds"].commits) == commits

    # A rebuild with another shard count: the old shard must not linger next to the new one.
    old = parquet_out / "data" / "test-00000-of-00001.parquet"
    old.rename(parquet_out / "data" / "test-00000-of-00002.parquet")
    build = json.loads((parquet_out / "build.json").read_text())
    build["files"] = {k.replace("-of-00001", "-of-00002") if "test" in k else k: v for k, v in build["files"].items()}
    (parquet_out / "build.json").write_text(json.dumps(build))
    assert run_client("push", parquet_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env).returncode == 0
    data = sorted(p for p in hub.files("alice/tiny-birds") if p.startswith("data/"))
    assert data == ["data/test-00000-of-00002.parquet", "data/train-00000-of-00001.parquet"]
    assert len(hub.requests("PUT", "/lfs/")) == puts  # a renamed file with the same bytes is not re-sent


def test_a_push_with_nothing_new_says_so_in_one_line(imagefolder_out, hub, client_env):
    env = hub_env(client_env, hub)
    first = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/same", env=env)
    assert first.returncode == 0 and first.stdout.startswith("pushed "), first.output
    commits = len(hub.repos["alice/same"].commits)
    again = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/same", "--revision", "main", env=env)
    assert again.returncode == 0, again.output
    assert again.stdout.startswith(f"nothing to push: {hub.url}/datasets/alice/same/tree/main (commit "), again.output
    assert again.stdout.count("\n") == 1 and again.stderr == "", again.output  # huggingface_hub logs nothing
    assert len(hub.repos["alice/same"].commits) == commits  # no empty commit either


def test_config_defaults_private_branch_and_own_namespace(imagefolder_out, hub, client_env):
    build = json.loads((imagefolder_out / "build.json").read_text())
    build["config"]["publish"]["hf"].update({"repo_id": "tiny-birds", "private": True})
    (imagefolder_out / "build.json").write_text(json.dumps(build))
    result = run_client("push", imagefolder_out, "--to", "hf", "--revision", "v1", env=hub_env(client_env, hub))
    assert result.returncode == 0, result.output
    repo = hub.repos["alice/tiny-birds"]
    assert repo.private and "v1" in repo.branches
    assert f"{hub.url}/datasets/alice/tiny-birds/tree/v1" in result.stdout
    assert "train/metadata.csv" in hub.files("alice/tiny-birds", "v1")
    assert "train/metadata.csv" not in hub.files("alice/tiny-birds", "main")


def test_flags_for_the_other_target_and_bad_repo_are_refused(imagefolder_out, hub, client_env):
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/bad--name", env=hub_env(client_env, hub))
    assert result.returncode == 5 and "--repo 'alice/bad--name'" in result.stderr
    result = run_client("push", imagefolder_out, "--to", "hf", "--id", "alice/foo-bar", env=hub_env(client_env, hub))
    assert result.returncode == 5 and "--id does not apply to --to hf" in result.stderr
    assert hub.log == []


@pytest.mark.parametrize("repo", ["alice/bad--name", "a/b/c", "alice/-x", "alice/x.", "alice/" + "x" * 97, ""])
def test_bad_repo_ids(repo):
    with pytest.raises(PublishError, match="--repo"):
        check_repo_id(repo)


@pytest.mark.parametrize("repo", ["alice/tiny-birds", "tiny_birds.v2", "Org-1/A.b_c"])
def test_good_repo_ids(repo):
    assert check_repo_id(repo) == repo


def test_dry_run_refuses_a_non_empty_folder(imagefolder_out, client_env, tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "keep.txt").write_text("mine")
    result = run_client("push", imagefolder_out, "--to", "hf", "--dry-run", stage, env=client_env)
    assert result.returncode == 2 and "--dry-run: the dry-run folder must not exist or be empty" in result.stderr
    assert (stage / "keep.txt").read_text() == "mine"
