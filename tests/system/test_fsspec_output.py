"""fsspec outputs: a build at a URL is made in a staging folder and mirrored, resumably, to the URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pytest

from builder.errors import BuildError
from builder.publish import url as remote
from builder.config.loading import load_config
from builder.pipeline import build
from tests.helpers.demo import DEMO, REPO, load, snapshot


def url_config(tmp_path: Path, url: str, *overrides: str, source: Path = DEMO):
    return load_config(REPO / "examples" / "demo.yaml", [
        f"output.path={url}", f"output.staging={tmp_path / 'staging'}", f"source.path={source}", *overrides])


@pytest.fixture(autouse=True)
def quick_lease(monkeypatch):
    monkeypatch.setattr(remote, "LEASE_SETTLE", 0.01)


@pytest.fixture
def memory_url():
    fs = fsspec.filesystem("memory")
    root = f"/out-{uuid.uuid4().hex[:8]}/ds"
    yield fs, root, f"memory://{root.lstrip('/')}"
    if fs.exists(root.rsplit("/", 1)[0]):
        fs.rm(root.rsplit("/", 1)[0], recursive=True)


def remote_snapshot(fs, root: str) -> dict[str, str]:
    import hashlib

    return {name[len(root) + 1:]: hashlib.sha256(fs.cat_file(name)).hexdigest()
            for name in sorted(fs.find(root)) if ".spectroset" not in name}


def test_config_keeps_an_output_url_and_the_hash_ignores_where_it_goes(tmp_path):
    cfg = url_config(tmp_path, "s3://bucket/birds")
    assert cfg.output.path == "s3://bucket/birds" and cfg.output.staging == tmp_path / "staging"
    assert cfg.hash() == load_config(REPO / "examples" / "demo.yaml", [f"source.path={DEMO}"]).hash()


def test_default_staging_is_a_cache_folder_per_url(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a, b = remote.staging_dir("s3://b/one", None), remote.staging_dir("s3://b/two", None)
    assert a.parent == tmp_path / "spectroset" / "staging" and a != b


def test_memory_output_mirrors_the_staging_folder(tmp_path, memory_url):
    fs, root, url = memory_url
    cfg = url_config(tmp_path, url)
    report = build(cfg, workers=1, progress=False)
    assert report.url == url and report.out == tmp_path / "staging"
    assert remote_snapshot(fs, root) == snapshot(tmp_path / "staging")
    assert report.uploaded == len(report.record["files"]) + 1  # every data file, then build.json
    again = build(cfg, workers=1, progress=False)
    assert again.up_to_date and again.uploaded == 0


def test_a_changed_source_uploads_only_what_changed(tmp_path, memory_url):
    fs, root, url = memory_url
    src = tmp_path / "audio"
    shutil.copytree(DEMO, src)
    cfg = url_config(tmp_path, url, source=src)
    first = build(cfg, workers=1, progress=False)
    gone = sorted((src / "tabla").glob("*.flac"))[0]
    gone.unlink()
    second = build(cfg, workers=1, progress=False)
    assert second.deleted > 0 and second.uploaded < len(first.record["files"]) // 2
    assert remote_snapshot(fs, root) == snapshot(tmp_path / "staging")
    assert not any(gone.stem in name for name in fs.find(root))


def test_an_upload_cut_off_resumes_without_sending_files_twice(tmp_path, memory_url, monkeypatch):
    fs, root, url = memory_url
    cfg = url_config(tmp_path, url)
    sent: list[str] = []
    real_put = fs.put_file

    def flaky_put(lpath, rpath, *args, **kwargs):
        if len(sent) == 10:
            raise ConnectionError("connection reset by peer")
        sent.append(rpath)
        return real_put(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(type(fs), "put_file", lambda self, *a, **k: flaky_put(*a, **k))
    monkeypatch.setattr(remote, "NOTE_EVERY", 0.0)
    with pytest.raises(BuildError, match="cannot upload to .*connection reset by peer.*rerun to resume"):
        build(cfg, workers=1, progress=False)
    assert not fs.exists(f"{root}/build.json")  # an unfinished upload never looks finished
    first = list(sent)
    sent.clear()
    monkeypatch.setattr(type(fs), "put_file", lambda self, *a, **k: (sent.append(a[1]), real_put(*a, **k))[1])
    report = build(cfg, workers=1, progress=False)
    assert report.decoded == 0 and not set(sent) & set(first)
    assert remote_snapshot(fs, root) == snapshot(tmp_path / "staging")


def test_a_foreign_remote_folder_is_refused(tmp_path, memory_url):
    fs, root, url = memory_url
    fs.pipe(f"{root}/someone-elses.txt", b"keep me")
    with pytest.raises(BuildError, match="not empty and was not built by spectroset"):
        build(url_config(tmp_path, url), workers=1, progress=False)
    assert fs.cat_file(f"{root}/someone-elses.txt") == b"keep me"


def test_cli_builds_to_a_file_url_that_load_dataset_reads(tmp_path, monkeypatch):
    import os

    target = tmp_path / "remote" / "ds"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the default staging folder goes here
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "builder", "build", str(REPO / "examples" / "demo.yaml"), "--quiet", "-j", "2",
           "-o", target.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert target.as_uri() in out.stdout and "uploaded" in out.stdout
    staging = remote.staging_dir(target.as_uri(), None)
    assert staging.is_relative_to(tmp_path / "cache")
    assert snapshot(target) == snapshot(staging)
    ds = load(target)
    record = json.loads((target / "build.json").read_text())
    assert sum(len(split) for split in ds.values()) == record["windows"]
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert again.returncode == 0 and "up to date" in again.stdout
    seen = subprocess.run([sys.executable, "-m", "builder", "inspect", target.as_uri(), "--verify"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert seen.returncode == 0 and f"{record['windows']} windows" in seen.stdout, seen.stderr
    assert "reading its staging folder" in seen.stderr


def _lease(fs, root: str, until: float, id: str = "other") -> None:
    fs.pipe(f"{root}/{remote.LEASE}", json.dumps({"id": id, "host": "other-host", "pid": 4242,
                                                   "staging": "/elsewhere", "until": until}).encode())


def test_a_live_lease_of_another_build_stops_the_mirror_and_an_expired_one_does_not(tmp_path, memory_url):
    import time

    fs, root, url = memory_url
    _lease(fs, root, time.time() + 60)
    with pytest.raises(BuildError, match=r"being mirrored by another build \(host other-host, pid 4242"):
        build(url_config(tmp_path, url), workers=1, progress=False)
    assert [f.rsplit("/", 1)[-1] for f in fs.find(root)] == [remote.LEASE]  # nothing uploaded
    _lease(fs, root, time.time() - 1)  # its holder died
    report = build(url_config(tmp_path, url), workers=1, progress=False)
    assert report.uploaded > 0 and not fs.exists(f"{root}/{remote.LEASE}")
    assert remote_snapshot(fs, root) == snapshot(tmp_path / "staging")


def test_of_two_builds_racing_for_the_lease_the_overwritten_one_stops(tmp_path, memory_url, monkeypatch):
    import time

    fs, root, url = memory_url
    real_renew = remote._Lease.renew

    def renew_then_lose_the_race(self):
        real_renew(self)
        _lease(fs, root, time.time() + 60, id="rival")  # the rival's write lands after ours

    monkeypatch.setattr(remote._Lease, "renew", renew_then_lose_the_race)
    with pytest.raises(BuildError, match="being mirrored by another build"):
        build(url_config(tmp_path, url), workers=1, progress=False)
    assert not fs.exists(f"{root}/build.json")
    assert json.loads(fs.cat_file(f"{root}/{remote.LEASE}"))["id"] == "rival"  # the winner's lease stays
