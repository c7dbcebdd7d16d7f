"""A URL output is spectroset's only as far as its records say (``layouts/remote.py``): a build.json
there that spectroset did not write is refused, never adopted, never a list of files to delete; on a
``file://`` root every path written or deleted resolves inside the root, links followed."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import fsspec
import pytest

from builder.errors import BuildError
from builder.publish import url as remote
from builder.config.loading import load_config
from builder.pipeline import build
from tests.helpers.cli import DEMO, run_cli, snapshot, write_config

THESIS = b"chapter 1: the four years before"


def _one_error(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 3 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def _setup(tmp_path: Path) -> tuple[Path, Path, str]:
    """Real recordings, a config file mirroring to a ``file://`` URL, and that URL's folder."""
    src = tmp_path / "src"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    target = tmp_path / "bucket" / "ds"
    cfg = write_config(tmp_path / "c.yaml", src, output={"path": target.as_uri(), "staging": str(tmp_path / "st"),
                                                         "splits": {"train": 1.0}})
    return cfg, target, target.as_uri()


def _foreign_build(folder: Path) -> dict[str, str]:
    """Another tool's build.json listing the user's thesis.txt, beside it: what a user had there."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.txt").write_bytes(THESIS)
    (folder / "build.json").write_text(json.dumps({"files": {"thesis.txt": hashlib.sha256(THESIS).hexdigest()}}))
    return snapshot(folder)


def test_a_file_url_holding_a_foreign_build_json_is_refused_like_the_local_folder(tmp_path):
    cfg, target, url = _setup(tmp_path)
    before = _foreign_build(target)
    line = _one_error(run_cli("build", cfg, "-j", "1", "-o", url))
    assert f"{url}/build.json was not written by spectroset (no valid name" in line
    assert "not empty and was not built by spectroset" in _one_error(run_cli("build", cfg, "-j", "1", "-o", target))
    assert snapshot(target) == before  # their build.json and thesis.txt as they were


def test_a_foreign_build_json_put_where_we_mirrored_is_not_adopted(tmp_path):
    """The staging folder's note says we mirrored there; the build.json there now is not ours."""
    cfg, target, url = _setup(tmp_path)
    assert run_cli("build", cfg, "-j", "1").returncode == 0
    ours = snapshot(target)
    _foreign_build(target)
    (tmp_path / "src" / "kick_drum" / "bd_boom.aiff").unlink()  # a change: the next build would mirror
    for extra in ((), ("--force",)):
        assert "was not written by spectroset" in _one_error(run_cli("build", cfg, "-j", "1", *extra))
        now = snapshot(target)
        assert now.pop("thesis.txt") == hashlib.sha256(THESIS).hexdigest() and json.loads(
            (target / "build.json").read_text())["files"] == {"thesis.txt": hashlib.sha256(THESIS).hexdigest()}
        assert set(now) == set(ours)  # nothing deleted, nothing added


def test_a_memory_url_holding_a_foreign_build_json_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "LEASE_SETTLE", 0.01)
    fs, root = fsspec.filesystem("memory"), f"/own-{uuid.uuid4().hex[:8]}/ds"
    fs.pipe(f"{root}/thesis.txt", THESIS)
    fs.pipe(f"{root}/build.json", json.dumps({"name": "thesis", "files": {"thesis.txt": "0" * 64}}).encode())
    src = tmp_path / "src"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    cfg = load_config(write_config(tmp_path / "c.yaml", src, output={
        "path": f"memory://{root.lstrip('/')}", "staging": str(tmp_path / "st")}))
    try:
        with pytest.raises(BuildError, match="build.json was not written by spectroset"):
            build(cfg, workers=1, progress=False)
        assert sorted(fs.find(root)) == [f"{root}/build.json", f"{root}/thesis.txt"]
        assert fs.cat_file(f"{root}/thesis.txt") == THESIS
    finally:
        fs.rm(root.rsplit("/", 1)[0], recursive=True)


@pytest.mark.parametrize("link", ["train/kick_drum", "train"])
def test_a_linked_folder_in_a_file_url_is_never_written_or_deleted_through(tmp_path, link):
    cfg, target, url = _setup(tmp_path)
    assert run_cli("build", cfg, "-j", "1").returncode == 0
    mine = tmp_path / "my-folder"  # the user's folder, holding files with the names the mirror wrote
    shutil.move(target / link, mine)
    (mine / "notes.txt").write_text("mine")
    for png in mine.rglob("*.png"):
        png.write_bytes(b"my own picture")
    (target / link).symlink_to(mine, target_is_directory=True)
    before = snapshot(mine)
    (tmp_path / "src" / "kick_drum" / "bd_boom.aiff").unlink()  # its images go from the mirror
    for extra in ((), ("--force",)):
        line = _one_error(run_cli("build", cfg, "-j", "1", *extra))
        assert f"refusing to write or delete {url}/train/" in line and "through a link" in line
        assert snapshot(mine) == before  # no PNG written there, nothing deleted there


def test_a_linked_lease_or_build_json_in_a_file_url_is_never_written_through(tmp_path):
    cfg, target, url = _setup(tmp_path)
    assert run_cli("build", cfg, "-j", "1").returncode == 0
    theirs = tmp_path / "their-file.json"
    theirs.write_text("{}")
    (target / remote.LEASE).symlink_to(theirs)
    (tmp_path / "src" / "kick_drum" / "bd_boom.aiff").unlink()
    line = _one_error(run_cli("build", cfg, "-j", "1"))
    assert f"refusing to write or delete {url}/{remote.LEASE}" in line and theirs.read_text() == "{}"


class _Killed(BaseException):
    """The process dies here (not an Exception: nothing catches it)."""


def test_a_build_json_cut_short_by_a_kill_is_ours_and_the_next_build_finishes(tmp_path, monkeypatch):
    """Guard: the refusal above must not catch the record this staging folder was uploading."""
    from fsspec.implementations.local import LocalFileSystem

    monkeypatch.setattr(remote, "LEASE_SETTLE", 0.01)
    cfg_path, target, url = _setup(tmp_path)
    cfg = load_config(cfg_path)
    real_pipe = LocalFileSystem.pipe_file

    def killed_while_writing_the_record(self, path, value, *args, **kwargs):
        if path.endswith("/build.json"):
            real_pipe(self, path, value[:20], *args, **kwargs)
            raise _Killed()
        return real_pipe(self, path, value, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "pipe_file", killed_while_writing_the_record)
    with pytest.raises(_Killed):
        build(cfg, workers=1, progress=False)
    monkeypatch.undo()
    monkeypatch.setattr(remote, "LEASE_SETTLE", 0.01)
    assert len((target / "build.json").read_bytes()) == 20
    report = build(cfg, workers=1, progress=False)
    assert report.url == url and snapshot(target) == snapshot(tmp_path / "st")


def _edit_the_mirror(target: Path) -> tuple[Path, bytes]:
    """What a user does to a mirror: draws over one image of bd_boom; returns it and its bytes."""
    png = sorted((target / "train" / "kick_drum").glob("bd_boom*.png"))[0]
    png.write_bytes(b"my own picture")
    return png, png.read_bytes()


def test_a_file_url_never_overwrites_an_edited_file_and_repair_restores_it(tmp_path):
    """The repro: an edited PNG of a recording that went and an edited README; a rebuild, then
    --force, stop before uploading anything; --repair restores as a local build does."""
    cfg, target, url = _setup(tmp_path)
    assert run_cli("build", cfg, "-j", "1").returncode == 0
    png, mine = _edit_the_mirror(target)
    with (target / "README.md").open("a") as f:
        f.write("notes\n")
    before = snapshot(target)
    (tmp_path / "src" / "kick_drum" / "bd_boom.aiff").unlink()
    for extra in ((), ("--force",)):  # the staging folder is built first (a progress line), then the sync stops
        done = run_cli("build", cfg, "-j", "1", *extra)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 3 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
        line = errors[0]
        assert f"1 file(s) at {url} changed since spectroset uploaded them (README.md)" in line, line
        assert "nothing was uploaded: rerun the same command with --repair" in line
        assert snapshot(target) == before  # the edits kept, nothing uploaded or deleted
    repaired = run_cli("build", cfg, "-j", "1", "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert not png.exists() and snapshot(target) == snapshot(tmp_path / "st")


def test_a_file_url_leaves_an_edited_file_it_would_delete_with_one_line(tmp_path):
    cfg, target, url = _setup(tmp_path)
    assert run_cli("build", cfg, "-j", "1").returncode == 0
    png, mine = _edit_the_mirror(target)
    (tmp_path / "src" / "kick_drum" / "bd_boom.aiff").unlink()
    done = run_cli("build", cfg, "-j", "1")
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if png.name in line]
    assert len(warned) == 1 and warned[0].startswith(f"warning: left 1 file(s) at {url} as they are"), done.stderr
    assert png.read_bytes() == mine
    assert "deleted 0" not in done.stdout  # bd_boom's other images went
    assert run_cli("build", cfg, "-j", "1").stdout.count("up to date") == 1 and png.read_bytes() == mine


def test_a_marked_build_json_naming_a_file_at_another_hash_deletes_nothing(tmp_path):
    cfg, target, url = _setup(tmp_path)
    assert run_cli("build", cfg, "-j", "1").returncode == 0
    record = json.loads((target / "build.json").read_text())
    record["files"]["thesis.txt"] = "0" * 64
    (target / "build.json").write_text(json.dumps(record))
    (target / "thesis.txt").write_bytes(THESIS)
    done = run_cli("build", cfg, "-j", "1")
    assert done.returncode == 0 and f"left 1 file(s) at {url} as they are (thesis.txt)" in done.stderr, done.stderr
    assert (target / "thesis.txt").read_bytes() == THESIS


@pytest.mark.parametrize("how", ["inside", "through-a-link", "holding-it"])
def test_a_file_url_inside_the_source_is_refused_like_a_local_output(tmp_path, how):
    cfg, target, url = _setup(tmp_path)
    src = tmp_path / "src"
    inner = src / "newsub"
    if how == "through-a-link":
        (tmp_path / "elsewhere").symlink_to(src, target_is_directory=True)
        inner = tmp_path / "elsewhere" / "newsub"
    before = snapshot(tmp_path)
    if how == "holding-it":
        line = _one_error(run_cli("build", cfg, "-j", "1", "-o", tmp_path.as_uri()))
        assert line == f"error: source.path {src} is inside the output folder {tmp_path.as_uri()}; choose another -o"
    else:
        line = _one_error(run_cli("build", cfg, "-j", "1", "-o", inner.as_uri()))
        assert line == f"error: output folder {inner.as_uri()} is inside source.path {src}; choose a folder " \
                       "outside it with -o", line
        assert "is inside source.path" in _one_error(run_cli("build", cfg, "-j", "1", "-o", src / "newsub"))
    assert snapshot(tmp_path) == before and not (src / "newsub").exists()


def test_a_memory_url_never_overwrites_an_edited_file(tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "LEASE_SETTLE", 0.01)
    fs, root = fsspec.filesystem("memory"), f"/own-{uuid.uuid4().hex[:8]}/ds"
    src = tmp_path / "src"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    cfg = load_config(write_config(tmp_path / "c.yaml", src, output={
        "path": f"memory://{root.lstrip('/')}", "staging": str(tmp_path / "st"), "splits": {"train": 1.0}}))
    try:
        build(cfg, workers=1, progress=False)
        fs.pipe(f"{root}/README.md", b"my own card")
        (src / "kick_drum" / "bd_boom.aiff").unlink()
        with pytest.raises(BuildError, match=r"1 file\(s\) at memory://.* changed since spectroset uploaded them "
                                             r"\(README.md\)"):
            build(cfg, workers=1, progress=False)
        assert fs.cat_file(f"{root}/README.md") == b"my own card"
        build(cfg, workers=1, progress=False, repair=True)
        assert fs.cat_file(f"{root}/README.md") == (tmp_path / "st" / "README.md").read_bytes()
    finally:
        fs.rm(root.rsplit("/", 1)[0], recursive=True)
