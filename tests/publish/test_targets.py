"""In-process checks of the pieces: names, licences, credentials lookup, redaction, retries, staging."""

from __future__ import annotations

import argparse
import json
import os
import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.errors import CredentialsError, LayoutError, PublishError
from builder.publish import add_secret, describe, redact, retrying
from builder.publish import kaggle as kg
from builder.publish import stage
from builder.cli.push import add_push_arguments, run_push
from tests.helpers.publish import build_fixture_dataset, relist

# --------------------------------------------------------------------------- Kaggle names


@pytest.mark.parametrize("ref", ["alice/ab", "alice/" + "a" * 51, "alice/Bird-Calls", "alice/bird--calls",
                                 "alice/-birds-", "alice/bird_calls", "Al ice/bird-calls", "alice/bird calls"])
def test_bad_kaggle_ids(ref):
    with pytest.raises(PublishError, match="--id"):
        kg.check_id(ref)


def test_good_kaggle_ids():
    assert kg.check_id("alice/bird-calls-2024") == ("alice", "bird-calls-2024")
    assert kg.check_id("team_a/bird-calls") == ("team_a", "bird-calls")
    assert kg.check_id("bird-calls") == (None, "bird-calls")


@pytest.mark.parametrize("title", ["Birds", "  x  ", "x" * 51])
def test_bad_titles(title):
    with pytest.raises(PublishError, match="6-50 characters"):
        kg.check_title(title)


def test_licences_are_matched_case_insensitively_and_unknown_ones_refused():
    assert kg.check_license("cc-by-4.0") == "CC-BY-4.0" and kg.check_license("Apache-2.0") == "apache-2.0"
    assert kg.check_license("MIT") == "other" and kg.check_license(None) == "unknown"  # Kaggle has no MIT
    for bad, closest in (("CC-BY", "cc-by-4.0"), ("", "cc-by-4.0"), ("cc0", "cc0-1.0")):
        with pytest.raises(PublishError, match="not a licence id; closest: .*" + re.escape(closest)):
            kg.check_license(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_derived_slug_and_title_are_always_valid(name):
    slug, title = kg.derive_slug(name), kg.derive_title(name)
    assert kg.SLUG.match(slug) and 6 <= len(slug) <= 50
    assert 6 <= len(title) <= 50 and title == title.strip()
    assert kg.check_id(f"alice/{slug}") == ("alice", slug) and kg.check_title(title) == title


def test_derived_names_read_well():
    assert kg.derive_slug("Bird calls (2024)") == "bird-calls-2024"
    assert kg.derive_title("bird_calls") == "Bird Calls"
    assert kg.derive_slug("cats") == "cats-spectrograms" and kg.derive_title("cats") == "Cats Spectrograms"


def test_subtitle_length_is_checked():
    target = kg.KaggleTarget(owner=None, slug="bird-calls", title="Bird calls", license="CC0-1.0", subtitle="short")
    with pytest.raises(PublishError, match="subtitle"):
        kg.metadata(target, "alice", "text")
    with pytest.raises(PublishError, match="20-80 characters"):
        kg.check_subtitle("x" * 81)


# --------------------------------------------------------------------------- credentials lookup


@pytest.fixture
def kaggle_home(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("KAGGLE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    return tmp_path


def test_kaggle_credentials_follow_the_clients_order(kaggle_home, monkeypatch):
    with pytest.raises(CredentialsError, match="KAGGLE_API_TOKEN.*KAGGLE_USERNAME and KAGGLE_KEY.*kaggle.json"):
        kg.find_credentials()
    (kaggle_home / ".kaggle").mkdir()
    (kaggle_home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "bob", "key": "k" * 32}))
    assert kg.find_credentials() == kg.Credentials(str(kaggle_home / ".kaggle" / "kaggle.json"), "bob")
    monkeypatch.setenv("KAGGLE_USERNAME", "carol")
    monkeypatch.setenv("KAGGLE_KEY", "c" * 32)
    assert kg.find_credentials() == kg.Credentials("KAGGLE_USERNAME and KAGGLE_KEY", "carol")
    (kaggle_home / ".kaggle" / "access_token").write_text("KGAT_fromfile0123456789abcdef\n")
    assert kg.find_credentials().source.endswith("access_token")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_fromenv0123456789abcdef")
    assert kg.find_credentials().source == "KAGGLE_API_TOKEN"
    assert "KGAT_fromenv0123456789abcdef" not in redact("token KGAT_fromenv0123456789abcdef here")


def test_kaggle_key_without_user_names_the_missing_variable(kaggle_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "k" * 32)
    with pytest.raises(CredentialsError, match="KAGGLE_USERNAME is not set"):
        kg.find_credentials()


# --------------------------------------------------------------------------- secrets and retries


def test_redact_blanks_registered_secrets_and_token_shapes():
    add_secret("s3cr3t-value-123")
    text = redact("a s3cr3t-value-123 b hf_abcdefghijklmnopqrstuvwxyz c Authorization: Bearer abc.def-ghi")
    assert "s3cr3t" not in text and "hf_abc" not in text and "abc.def" not in text
    assert text.count("***") == 3


def test_describe_is_one_redacted_line():
    add_secret("another-secret-456")
    exc = RuntimeError("first line another-secret-456\nsecond line")
    assert describe(exc) == "first line ***"


def test_retrying_backs_off_on_transient_errors_only(monkeypatch):
    monkeypatch.setenv("SPECTROSET_RETRY_BASE_S", "1")
    sleeps, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "ok"

    assert retrying(flaky, transient=lambda e: isinstance(e, ConnectionError), what="x", sleep=sleeps.append) == "ok"
    assert sleeps == [1.0, 2.0]
    with pytest.raises(ValueError):
        retrying(lambda: (_ for _ in ()).throw(ValueError("bad")), transient=lambda e: False, what="x",
                 sleep=sleeps.append)
    assert sleeps == [1.0, 2.0]
    with pytest.raises(TimeoutError):  # no answer at all: a short bounded retry, whatever `attempts` says
        retrying(lambda: (_ for _ in ()).throw(TimeoutError()), transient=lambda e: True, what="x",
                 attempts=4, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 1.0, 2.0]
    with pytest.raises(KeyError):  # other transient errors get every attempt
        retrying(lambda: (_ for _ in ()).throw(KeyError()), transient=lambda e: True, what="x",
                 attempts=4, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 4.0]


# --------------------------------------------------------------------------- staging


def test_published_files_skip_private_state_and_temp_files(tmp_path):
    out = build_fixture_dataset(tmp_path / "out")
    (out / "train" / ".cat-0.png.tmp").write_bytes(b"x")
    (out / "test.incomplete").mkdir()
    (out / "test.incomplete" / "a.png").write_bytes(b"x")
    files = stage.published_files(out, stage.read_build(out))
    assert "build.json" in files and "README.md" in files and "train/metadata.csv" in files
    assert not [f for f in files if ".spectroset" in f or "incomplete" in f or f.endswith(".tmp")]
    (out / "train" / "cat" / "train-cat-0.png").unlink()
    with pytest.raises(LayoutError, match="missing"):
        stage.published_files(out, stage.read_build(out))
    with pytest.raises(LayoutError, match="not a built dataset"):
        stage.read_build(tmp_path)


def test_kaggle_stage_is_deterministic_and_sync_keeps_unchanged_files(tmp_path):
    out = build_fixture_dataset(tmp_path / "out")
    items = stage.plan_kaggle(out, stage.published_files(out))
    meta = {"id": "alice/tiny-birds", "title": "Tiny Birds", "licenses": [{"name": "CC0-1.0"}]}
    stage.stage_kaggle(items, meta, tmp_path / "a")
    stage.stage_kaggle(items, meta, tmp_path / "b")
    for name in ("train.zip", "test.zip", "dataset-metadata.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with zipfile.ZipFile(tmp_path / "a" / "train.zip") as zf:
        assert {i.date_time for i in zf.infolist()} == {stage.ZIP_TIME}

    stage.sync_tree(tmp_path / "a", tmp_path / "work")
    os.utime(tmp_path / "work" / "train.zip", (1_000_000, 1_000_000))
    (tmp_path / "work" / "stale.zip").write_bytes(b"old")
    stage.sync_tree(tmp_path / "b", tmp_path / "work")
    assert (tmp_path / "work" / "train.zip").stat().st_mtime == 1_000_000  # same bytes: left alone
    assert not (tmp_path / "work" / "stale.zip").exists() and not (tmp_path / "b").exists()


def test_rich_metadata_parquet_goes_to_kaggle_rebased_with_its_schema(tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = build_fixture_dataset(tmp_path / "out")  # as if built with output.include.audio: metadata.parquet
    table = pacsv.read_csv(out / "train" / "metadata.csv")
    pq.write_table(table.replace_schema_metadata({b"huggingface": b"{}"}), out / "train" / "metadata.parquet")
    (out / "train" / "metadata.csv").unlink()
    relist(out)
    items = {i.name: i for i in stage.plan_kaggle(out, stage.published_files(out))}
    assert items["train.parquet"].kind == "metadata" and "test.csv" in items and "train.csv" not in items
    stage.stage_kaggle(list(items.values()), {"id": "alice/x-y-z"}, tmp_path / "k")
    staged = pq.read_table(tmp_path / "k" / "train.parquet")
    assert staged.column("file_name")[0].as_py() == "train/cat/train-cat-0.png"
    assert staged.schema.metadata == {b"huggingface": b"{}"}
    resources = {r["path"]: r for r in json.loads((tmp_path / "k" / "dataset-metadata.json").read_text())["resources"]}
    assert [f["name"] for f in resources["train.parquet"]["schema"]["fields"]][:2] == ["file_name", "label"]


def test_split_card():
    meta, body = stage.split_card("---\nlicense: mit\nconfigs: []\n---\n\n# Title\n\nText.\n")
    assert meta == {"license": "mit", "configs": []} and body == "# Title\n\nText.\n"
    assert stage.split_card("# No header\n") == ({}, "# No header\n")


# --------------------------------------------------------------------------- the command, in process


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_push_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


@pytest.mark.parametrize("argv, message", [
    (["--id", "alice/Bad_Slug"], "--id"),
    (["--title", "Tiny"], "6-50 characters"),
    (["--license", "not a licence"], "is not a licence id; closest:"),
    (["--repo", "alice/x-y"], "--repo does not apply to --to kaggle"),
])
def test_bad_kaggle_flags_fail_before_anything_is_sent(argv, message, tmp_path, kaggle_home):
    out = build_fixture_dataset(tmp_path / "out")
    with pytest.raises(PublishError, match=re.escape(message)) as info:
        run_push(parse(out, "--to", "kaggle", *argv))
    assert info.value.exit_code == 5
    assert not (out / ".spectroset" / "publish").exists()


def test_a_folder_being_built_is_not_pushed(tmp_path, kaggle_home):
    from builder.errors import LockedError
    from builder.store.state import OutputLock

    out = build_fixture_dataset(tmp_path / "out")
    with OutputLock(out), pytest.raises(LockedError, match="being built"):
        run_push(parse(out, "--to", "hf", "--dry-run", tmp_path / "stage"))
    run_push(parse(out, "--to", "hf", "--dry-run", tmp_path / "stage"))  # lock released: fine
    assert (tmp_path / "stage" / "README.md").is_file()


def test_dry_run_needs_no_credentials(tmp_path, kaggle_home, capsys):
    out = build_fixture_dataset(tmp_path / "out")
    run_push(parse(out, "--to", "kaggle", "--dry-run", tmp_path / "stage"))
    meta = json.loads((tmp_path / "stage" / stage.METADATA).read_text())
    assert meta["id"] == "OWNER/tiny-birds" and "pass --id OWNER/SLUG" in capsys.readouterr().out
    assert 20 <= len(meta["subtitle"]) <= 80 and meta["keywords"] == list(kg.DEFAULT_KEYWORDS)


def test_too_many_files_for_the_hub_suggest_parquet(tmp_path, monkeypatch):
    from builder.cli import push as cli

    out = build_fixture_dataset(tmp_path / "out")
    monkeypatch.setattr(cli, "HUB_MAX_FILES", 5)  # the fixture has 16 files; the real limit is 100,000
    with pytest.raises(PublishError, match=r"more than the Hub takes in one repo .*output.layout: parquet"):
        run_push(parse(out, "--to", "hf", "--repo", "alice/x", "--dry-run", tmp_path / "stage"))
    assert not (tmp_path / "stage").exists()


def test_an_older_builds_default_cc0_is_not_taken_as_a_choice(tmp_path, kaggle_home):
    out = build_fixture_dataset(tmp_path / "out")
    build = json.loads((out / "build.json").read_text())
    del build["config"]["publish"]["license"]  # as build.json was written before publish.license
    build["config"]["publish"]["kaggle"]["license"] = "CC0-1.0"
    (out / "build.json").write_text(json.dumps(build))
    card = (out / "README.md").read_text().replace("license: cc0-1.0\n", "")
    (out / "README.md").write_text(card)
    relist(out)  # as that older build recorded its card
    run_push(parse(out, "--to", "kaggle", "--dry-run", tmp_path / "stage"))
    assert json.loads((tmp_path / "stage" / stage.METADATA).read_text())["licenses"] == [{"name": "unknown"}]
