"""The ledger decides what is ours from exact records: safe paths, temps derived from their
targets, removals of recorded files only, one checked reader of build.json."""

from __future__ import annotations

import hashlib
import json

import pytest

from builder.errors import BuildError, LayoutError
from builder.store.ledger import foreign_files
from builder.store.paths import inside, safe_rel
from builder.store.state_dir import temp_name
from builder.store.record import parse_record, read_build, remove_earlier_build
from builder.store.atomic import atomic_write
from builder.store.state import Journal


@pytest.mark.parametrize("rel, ok", [("train/a/x.png", True), ("README.md", True), ("../x", False), ("/etc/x", False),
                                     ("a/../b", False), ("a//b", False), ("./a", False), ("a\\b", False), ("", False),
                                     (None, False), ("a\0b", False)])
def test_only_plain_relative_paths_are_safe(rel, ok):
    assert safe_rel(rel) is ok


def test_a_symlinked_folder_that_leaves_the_root_is_outside(tmp_path):
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (root / "in").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    assert inside(root, "in/x.png") == (root / "in" / "x.png").resolve()
    assert inside(root, "link/x.png") is None and inside(root, "../x") is None


def test_the_ledger_removes_recorded_files_and_their_temps_only(tmp_path):
    out = tmp_path / "out"
    journal = Journal(_state(out))
    ledger = journal.ledger
    x = hashlib.sha256(b"x").hexdigest()
    ledger.intend(["train/a.png", "train/b.png"], sha256=x)  # removed after a kill only while it holds these bytes
    for name in ("a.png", "b.png", "mine.png", ".a.png.x.tmp"):
        (out / "train" / name).write_bytes(b"x")
    temp_name(out / "train" / "a.png").write_bytes(b"half")
    ledger.confirm("train/b.png", x, 1)
    assert ledger.unfinished()
    assert ledger.remove_unfinished() == 1
    assert sorted(p.name for p in (out / "train").iterdir()) == [".a.png.x.tmp", "b.png", "mine.png"]
    assert ledger.remove(["train/mine.png", "../x"]) == 0  # not recorded: not ours
    with pytest.raises(BuildError, match="mine.png exists and was not written by spectroset"):
        ledger.intend(["train/mine.png"])
    assert foreign_files(out, ledger.rows()) == ["train/.a.png.x.tmp", "train/mine.png"]
    assert ledger.remove_all() == 1 and (out / "train" / "mine.png").is_file()
    journal.close()


def test_read_build_refuses_unfinished_foreign_and_tampered_records(tmp_path):
    with pytest.raises(LayoutError, match="not a built dataset"):
        read_build(tmp_path)
    (tmp_path / ".spectroset").mkdir()
    with pytest.raises(LayoutError, match="unfinished: rerun the build"):
        read_build(tmp_path)
    atomic_write(tmp_path / "build.json", b"{}")
    with pytest.raises(LayoutError, match="not a spectroset build record"):
        read_build(tmp_path)
    good = {"spectroset": {"record": 1}, "name": "x", "layout": "imagefolder", "config_hash": "abc", "config": {},
            "sources": 1, "windows": 1, "splits": {}, "counts": {}, "skipped": [], "files": {"README.md": "0" * 64}}
    atomic_write(tmp_path / "build.json", json.dumps(good).encode())
    assert read_build(tmp_path) == good
    for bad in ("../x", "/abs/x", "build.json"):
        atomic_write(tmp_path / "build.json", json.dumps({**good, "files": {bad: "0" * 64}}).encode())
        with pytest.raises(LayoutError, match="spectroset never writes"):
            read_build(tmp_path)


def _state(out):
    (out / ".spectroset").mkdir(parents=True)
    (out / "train").mkdir()
    return out


def test_a_record_is_ours_only_with_the_marker_or_exactly_the_unmarked_shape():
    """One reader for every build.json (local, URL, Hub): the marker, or the previous version's
    exact keys; another tool's build.json, however close, is not ours."""
    unmarked = {"name": "x", "layout": "parquet", "config_hash": "0123456789abcdef", "config": {}, "sources": 1,
                "windows": 1, "splits": {}, "counts": {}, "skipped": [], "files": {"README.md": "0" * 64},
                "fingerprint": "f", "versions": {}, "audio_hours": 0.1}
    assert parse_record(json.dumps(unmarked).encode()) == (unmarked, None)
    marked = {"spectroset": {"record": 1}, **unmarked, "config_hash": "abc", "added_later": 1}
    assert parse_record(json.dumps(marked).encode()) == (marked, None)
    for foreign, why in [({"files": {"thesis.pdf": "0" * 64}}, "no valid name"),
                         ({**unmarked, "author": "me"}, "unknown key 'author'"),
                         ({**unmarked, "config_hash": "abc"}, "no valid config_hash"),
                         ({**marked, "spectroset": {"record": 2}}, "marker"),
                         ({**marked, "spectroset": True}, "marker"),
                         ({**marked, "files": {"thesis.pdf": "not a hash"}}, "1 entry that spectroset never writes")]:
        record, problem = parse_record(json.dumps(foreign).encode())
        assert record is None and why in problem, (foreign, problem)
    assert parse_record(b"\xff{")[0] is None and "unreadable" in parse_record(b"{")[1]


def test_an_earlier_builds_cleanup_keeps_a_build_json_that_is_not_ours(tmp_path):
    """A folder with an earlier spectroset's journal: its build.json goes only if spectroset wrote it."""
    (tmp_path / "thesis.txt").write_text("mine")
    theirs = json.dumps({"files": {"thesis.txt": "0" * 64}})
    (tmp_path / "build.json").write_text(theirs)
    remove_earlier_build(tmp_path, [])
    assert (tmp_path / "build.json").read_text() == theirs and (tmp_path / "thesis.txt").read_text() == "mine"
