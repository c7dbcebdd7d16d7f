"""spectroset touches only the files it wrote: user files in OUT, tampered records and journals,
nested folders, interrupted rebuilds and mirrors. Each test is an attack that worked before the
ledger (``builder/store/ledger.py``)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
from pathlib import Path

import pytest

from builder.store import state
from builder.errors import BuildError, LayoutError
from builder.store.record import read_build
from builder.config.loading import load_config
from builder.pipeline import build
from builder.publish.stage import published_files

from tests.helpers.cli import DEMO, run_cli, snapshot, write_config, write_tone

USER = {"data/results.txt": b"my results", "data/mine.parquet": b"PAR1 not ours PAR1", ".keep.tmp": b"",
        "notes/.draft.tmp": b"half a thought", "notes/todo.md": b"- listen again", "train/my_extra.txt": b"x"}


MIRROR = ("--set", "output.layout=mirror", "--set", "output.splits={train: 1.0}")


def _source(root: Path) -> Path:
    src = root / "src"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")  # real recordings (flac, ogg, aiff)
    return src


def _put(out: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)


def _intact(out: Path, files: dict[str, bytes]) -> bool:
    return all((out / rel).is_file() and (out / rel).read_bytes() == data for rel, data in files.items())


def test_user_files_survive_a_rebuild_force_and_a_layout_switch(tmp_path):
    src = _source(tmp_path)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out)
    assert run_cli("build", cfg, "-j", "1", "--quiet").returncode == 0
    recordings = {f"data/{p.name}": p.read_bytes() for p in (src / "kick_drum").iterdir()}  # kept in OUT/data
    _put(out, {**USER, **recordings})
    write_tone(src / "kick_drum" / "new.wav", 1.2)
    runs = [(), ("--set", "spectrogram.n_mels=16", "--force"),
            ("--set", "spectrogram.n_mels=16", "--set", "output.layout=parquet", "--force"),
            ("--set", "spectrogram.n_mels=16", *MIRROR, "--force")]
    for extra in runs:
        done = run_cli("build", cfg, "-j", "1", *extra)  # not --quiet: it leaves out the left-alone line
        assert done.returncode == 0, done.stderr
        assert _intact(out, {**USER, **recordings}), extra
        left = len(USER) + len(recordings)
        assert f"left alone {left} file(s) in {out} that spectroset did not write" in done.stdout, done.stdout
        record = read_build(out)
        assert record["left_alone"]["count"] == left and not set(USER) & set(record["files"])
        assert set(published_files(out, record)).isdisjoint(set(USER) | set(recordings))
    verbose = run_cli("build", cfg, "-j", "1", "--quiet", "--verbose", "--set", "spectrogram.n_mels=16", *MIRROR)
    assert "up to date" in verbose.stdout and "notes/.draft.tmp" in verbose.stdout


def test_a_user_file_where_spectroset_would_write_stops_the_build(tmp_path):
    src = _source(tmp_path)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}})
    assert run_cli("build", cfg, "-j", "1", "--quiet").returncode == 0
    write_tone(src / "kick_drum" / "new.wav", 1.2)
    _put(out, {"train/kick_drum/new_0.5.png": b"the user's drawing"})
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode == 3 and "new_0.5.png exists and was not written by spectroset" in done.stderr
    assert (out / "train/kick_drum/new_0.5.png").read_bytes() == b"the user's drawing"


@pytest.mark.parametrize("where", ["source in out", "out in source", "same"])
def test_nested_source_and_output_are_refused_before_any_work(tmp_path, where):
    folder = tmp_path / "folder"
    src = {"source in out": folder / "audio", "out in source": folder, "same": folder}[where]
    out = {"source in out": folder, "out in source": folder / "spectrograms", "same": folder}[where]
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    config = write_config(tmp_path / "c.yaml", src, out)
    before = sorted(p for p in tmp_path.rglob("*"))
    done = run_cli("build", config, "-j", "1", "--quiet")
    assert done.returncode == 3 and "inside" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written, not even .spectroset


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, not even ``except Exception``."""


@pytest.mark.parametrize("layout", ["parquet", "webdataset"])
def test_a_kill_at_every_write_of_an_incremental_parquet_rebuild_never_passes_for_finished(tmp_path, monkeypatch,
                                                                                          layout):
    src = tmp_path / "src"
    for i in range(3):
        write_tone(src / f"label{i % 2}" / f"rec{i}.wav", 1.3, freq=300 + 100 * i)
    output = {"layout": layout}
    first = load_config(write_config(tmp_path / "first.yaml", src, tmp_path / "first" / "out", output=output))
    build(first, workers=1, progress=False)
    write_tone(src / "label1" / "rec3.wav", 2.1, freq=900)  # the change the rebuild picks up
    clean = load_config(write_config(tmp_path / "clean.yaml", src, tmp_path / "clean" / "out", output=output))
    build(clean, workers=1, progress=False)

    real_replace, calls = state.os.replace, {"n": 0, "at": 0}

    def dying_replace(tmp, target):
        calls["n"] += 1
        if calls["n"] == calls["at"]:
            raise Crash(target)
        return real_replace(tmp, target)

    monkeypatch.setattr(state.os, "replace", dying_replace)
    writes = None
    for at in range(1, 100):
        shutil.copytree(first.output.path, tmp_path / f"run{at}" / "out")
        cfg = load_config(write_config(tmp_path / f"run{at}.yaml", src, tmp_path / f"run{at}" / "out", output=output))
        calls.update(n=0, at=at)
        try:
            build(cfg, workers=1, progress=False)
            writes = at - 1
            break
        except Crash:
            pass
        with pytest.raises(LayoutError, match="unfinished: rerun the build"):
            read_build(cfg.output.path)  # what push, inspect and report read first
        calls.update(n=0, at=0)
        build(cfg, workers=1, progress=False)
        assert snapshot(cfg.output.path) == snapshot(clean.output.path), at
    assert writes and writes > 5  # shards, card, stats, preview, build.json and the spools were all hit


def test_an_interrupted_first_mirror_to_a_file_url_resumes(tmp_path, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    from builder.publish import url as remote

    src = _source(tmp_path)
    url = (tmp_path / "bucket" / "ds").as_uri()
    cfg = load_config(write_config(tmp_path / "c.yaml", src, output={"path": url, "staging": str(tmp_path / "st")}))
    real_put, real_note, dead = LocalFileSystem.put_file, remote.Remote._note, {"calls": 0}

    def dies_on_the_third_upload(self, *args, **kwargs):
        dead["calls"] += 1
        if dead["calls"] == 3:
            dead["dead"] = True
            raise Crash()
        return real_put(self, *args, **kwargs)

    def note_unless_dead(self, *args):  # a killed process writes nothing more
        if not dead.get("dead"):
            real_note(self, *args)

    monkeypatch.setattr(LocalFileSystem, "put_file", dies_on_the_third_upload)
    monkeypatch.setattr(remote.Remote, "_note", note_unless_dead)
    with pytest.raises(Crash):
        build(cfg, workers=1, progress=False)
    monkeypatch.undo()
    assert not (tmp_path / "bucket" / "ds" / "build.json").exists()
    report = build(cfg, workers=1, progress=False)
    assert report.url == url and (tmp_path / "bucket" / "ds" / "build.json").is_file()
    assert snapshot(tmp_path / "bucket" / "ds") == snapshot(tmp_path / "st")


def test_dot_dot_and_absolute_entries_are_never_acted_on(tmp_path):
    victims = [tmp_path / "victim.txt", tmp_path / "bucket" / "victim.txt", tmp_path / "abs-victim.txt"]
    for v in victims:
        v.parent.mkdir(parents=True, exist_ok=True)
        v.write_text("not yours")
    src = _source(tmp_path)

    out = tmp_path / "out"  # local: a tampered build.json and ledger
    cfg = load_config(write_config(tmp_path / "c.yaml", src, out))
    build(cfg, workers=1, progress=False)
    record = json.loads((out / "build.json").read_text())
    record["files"].update({"../victim.txt": "0" * 64, str(victims[2]): "0" * 64})
    (out / "build.json").write_text(json.dumps(record))
    db = sqlite3.connect(out / ".spectroset" / "journal.sqlite")
    db.executemany("INSERT INTO files VALUES (?, NULL, NULL, NULL)", [("../victim.txt",), (str(victims[2]),)])
    db.commit()
    db.close()
    with pytest.raises(LayoutError, match="spectroset never writes"):
        read_build(out)
    write_tone(src / "kick_drum" / "new.wav", 1.2)
    build(cfg, workers=1, progress=False, force=True)

    url = (tmp_path / "bucket" / "ds").as_uri()  # remote: a tampered build.json at the URL
    cfg = load_config(write_config(tmp_path / "u.yaml", src, output={"path": url, "staging": str(tmp_path / "st")}))
    build(cfg, workers=1, progress=False)
    remote_json = tmp_path / "bucket" / "ds" / "build.json"
    record = json.loads(remote_json.read_text())
    record["files"].update({"../victim.txt": "0" * 64, str(victims[2]): "0" * 64})
    remote_json.write_text(json.dumps(record))
    (src / "kick_drum" / "new.wav").unlink()
    with pytest.raises(BuildError, match="was not written by spectroset .2 entries that spectroset never writes"):
        build(cfg, workers=1, progress=False)  # a tampered record is not ours: refused, never acted on
    assert all(v.read_text() == "not yours" for v in victims)


def test_a_pickle_in_the_journal_runs_nothing_and_that_recording_is_rebuilt(tmp_path):
    src = _source(tmp_path)
    out, marker = tmp_path / "out", tmp_path / "pwned"
    cfg = load_config(write_config(tmp_path / "c.yaml", src, out))
    build(cfg, workers=1, progress=False)

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    db = sqlite3.connect(out / ".spectroset" / "journal.sqlite")
    db.execute("UPDATE units SET record=?", (pickle.dumps(Payload()),))
    db.commit()
    db.close()
    write_tone(src / "kick_drum" / "new.wav", 1.2)  # a change, so the journal is read
    build(cfg, workers=1, progress=False)
    assert not marker.exists()
    clean = load_config(write_config(tmp_path / "clean.yaml", src, tmp_path / "clean" / "out"))
    build(clean, workers=1, progress=False)
    assert snapshot(out) == snapshot(tmp_path / "clean" / "out")


def test_an_old_pickled_journal_is_rebuilt_from_scratch_with_one_line(tmp_path):
    src = _source(tmp_path)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out)
    assert run_cli("build", cfg, "-j", "1", "--quiet").returncode == 0
    _put(out, USER)
    db = sqlite3.connect(out / ".spectroset" / "journal.sqlite")  # the previous version's journal
    db.execute("DROP TABLE files")
    db.execute("CREATE TABLE pending (rel TEXT PRIMARY KEY, paths TEXT)")
    db.execute("UPDATE units SET record=?", (pickle.dumps({"a": "class that no longer exists"}),))
    db.execute("PRAGMA user_version = 0")
    db.commit()
    db.close()
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("built by an earlier spectroset") == 1 and "Traceback" not in done.stderr
    clean = tmp_path / "clean" / "out"
    assert run_cli("build", write_config(tmp_path / "clean.yaml", src, clean), "-j", "1", "--quiet").returncode == 0
    mine = snapshot(out)
    assert _intact(out, USER) and {k: v for k, v in mine.items() if k not in USER} == {
        k: v for k, v in snapshot(clean).items()} | {"build.json": mine["build.json"]}
    assert run_cli("build", cfg, "-j", "1", "--quiet").stdout.count("up to date") == 1


def test_a_symlinked_folder_in_out_is_never_written_through(tmp_path):
    src = _source(tmp_path)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    cfg = load_config(write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}}))
    build(cfg, workers=1, progress=False)
    shutil.rmtree(out / "train")
    elsewhere.mkdir()
    (out / "train").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(BuildError, match="resolves outside the output folder"):
        build(cfg, workers=1, progress=False)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("held", ["the same shards", "another file of the same name"])
def test_a_linked_data_folder_gets_the_link_line_on_every_kind_of_run(tmp_path, held):
    """``OUT/data`` replaced by a link to a folder outside OUT: a plain run, --force and --repair
    all stop with the one line naming the link (exit 3), never "up to date" read through it or
    "1 built file changed … --repair" (which --repair then answers with the link line)."""
    src = _source(tmp_path)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"layout": "webdataset", "splits": None})
    assert run_cli("build", cfg, "-j", "1", "--quiet").returncode == 0
    shutil.move(out / "data", elsewhere)
    if held != "the same shards":
        for shard in elsewhere.iterdir():
            shard.write_bytes(b"my own tar")
    (out / "data").symlink_to(elsewhere, target_is_directory=True)
    mine = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    for extra in ((), ("--force",), ("--repair",)):
        done = run_cli("build", cfg, "-j", "1", "--quiet", *extra)
        lines = [line for line in done.stderr.splitlines() if line.startswith(("error:", "warning:"))]
        assert done.returncode == 3 and "up to date" not in done.stdout, (extra, done.stdout + done.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"error: {out / 'data'} is a link (to "), (extra, lines)
        assert "remove the link" in lines[0] and "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == mine
