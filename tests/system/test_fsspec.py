"""fsspec sources (``memory://``, ``file://``): the same windows and bytes as the local folder."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import fsspec
import pytest

from builder.sources.discover import discover
from builder.errors import DecodeError, SourceError
from builder.config.geometry import is_url
from builder.sources.urls import open_url, stamp
from builder.config.loading import load_config
from builder.pipeline import build
from tests.helpers.demo import DEMO, REPO, demo_config, snapshot


@pytest.fixture
def memory_demo():
    """The demo audio copied into fsspec's (process-wide) memory filesystem, in a fresh bucket."""
    fs = fsspec.filesystem("memory")
    root = f"/spectroset-{uuid.uuid4().hex[:8]}/demo-audio"
    for p in sorted(DEMO.rglob("*")):
        if p.is_file():
            fs.pipe(f"{root}/{p.relative_to(DEMO).as_posix()}", p.read_bytes())
    yield fs, root, f"memory://{root.lstrip('/')}"
    fs.rm(root.rsplit("/", 1)[0], recursive=True)


@pytest.fixture(scope="module")
def local_build(tmp_path_factory):
    cfg = demo_config(tmp_path_factory.mktemp("local"))
    report = build(cfg, workers=1, progress=False)
    return report, snapshot(cfg.output.path)


def assert_same_dataset(out: Path, local_build) -> None:
    """Every file identical to the local build's except build.json, whose config hash and
    fingerprint follow the source path's text; everything else it records must agree."""
    ref_report, ref = local_build
    ours = snapshot(out)
    assert {k: v for k, v in ours.items() if k != "build.json"} == {k: v for k, v in ref.items() if k != "build.json"}
    record = json.loads((out / "build.json").read_text())
    for key in ("sources", "sample_rates", "windows", "audio_hours", "splits", "counts", "skipped", "files"):
        assert record.get(key) == ref_report.record.get(key), key


def test_config_keeps_urls_and_resolves_paths(monkeypatch):
    cfg = load_config(REPO / "examples" / "demo.yaml", ["source.path=memory://bucket/demo-audio"])
    assert cfg.source.path == "memory://bucket/demo-audio"
    monkeypatch.chdir(REPO / "examples")  # a path typed with --set resolves against the working directory
    cfg = load_config(REPO / "examples" / "demo.yaml", ["source.path=demo-audio"])
    assert cfg.source.path == DEMO and isinstance(cfg.source.path, Path)
    assert is_url("s3://b/k") and is_url("simplecache::s3://b/k") and not is_url("C://x") and not is_url(Path("/x"))


def test_memory_source_builds_the_same_bytes(tmp_path, memory_demo, local_build):
    _, _, url = memory_demo
    cfg = demo_config(tmp_path, source=url)
    report = build(cfg, workers=1, progress=False)  # memory:// lives in this process: -j 1
    assert report.decoded == 18
    assert_same_dataset(cfg.output.path, local_build)
    assert build(cfg, workers=1, progress=False).up_to_date


def test_file_url_source_builds_the_same_bytes(tmp_path, local_build):
    cfg = demo_config(tmp_path, source=DEMO.as_uri())
    build(cfg, workers=1, progress=False)
    assert_same_dataset(cfg.output.path, local_build)


def test_discovery_follows_the_local_rules(memory_demo):
    fs, root, url = memory_demo
    fs.pipe(f"{root}/tabla/.hidden.wav", b"x")
    fs.pipe(f"{root}/.cache/tabla/x.wav", b"x")
    fs.pipe(f"{root}/loose.wav", b"x")
    fs.pipe(f"{root}/tabla/notes.txt", b"x")
    cfg = load_config(REPO / "examples" / "demo.yaml", [f"source.path={url}"])
    files, skipped = discover(cfg.source)
    local, _ = discover(load_config(REPO / "examples" / "demo.yaml").source)
    assert [(f.rel, f.label, f.size) for f in files] == [(f.rel, f.label, f.size) for f in local]
    assert all(f.path == f"{url}/{f.rel}" and f.mtime_ns > 0 for f in files)
    assert {s.path: s.reason.split(" ")[0] for s in skipped} == {
        ".cache/tabla/x.wav": "hidden", "tabla/.hidden.wav": "hidden", "loose.wav": "not"}


def test_a_changed_remote_file_is_the_only_one_decoded_again(tmp_path, memory_demo):
    fs, root, url = memory_demo
    cfg = demo_config(tmp_path, source=url)
    build(cfg, workers=1, progress=False)
    fs.pipe(f"{root}/tabla/tabla_na.flac", (DEMO / "tabla" / "tabla_tas1.flac").read_bytes())
    assert build(cfg, workers=1, progress=False).decoded == 1


def test_fingerprint_fields_from_store_metadata():
    s3 = {"size": 10, "LastModified": datetime(2024, 1, 2, tzinfo=timezone.utc), "ETag": '"abc"'}
    gcs = {"size": 10, "updated": "2024-01-02T00:00:00Z", "md5Hash": "q1w2"}
    assert stamp(s3) == (10, 1704153600 * 10**9, "abc")
    assert stamp(gcs) == (10, 1704153600 * 10**9, "q1w2")
    assert stamp({"size": None}) == (0, 0, "")


def test_unusable_urls_are_one_line_errors(memory_demo):
    _, root, url = memory_demo
    with pytest.raises(SourceError, match="Protocol not known"):
        discover(load_config(REPO / "examples" / "demo.yaml", ["source.path=nosuchfs://x/y"]).source)
    with pytest.raises(SourceError, match="not a folder"):
        discover(load_config(REPO / "examples" / "demo.yaml", [f"source.path={url}/missing"]).source)
    with pytest.raises(DecodeError, match="live in the process that wrote them"):
        open_url(f"{url}/missing.wav")
