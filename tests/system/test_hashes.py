"""Hashes are checked before acting: a built file whose bytes differ from its ledger row is the
user's now. A rerun leaves it and says so in one line; ``--repair`` restores it, and then
``inspect --verify`` and ``push`` pass; no rebuild, ``--force`` or tampered ledger row removes or
replaces it (``builder/store/stamps.py``). Each test failed before the check."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from builder.store.record import read_build

from tests.helpers.cli import DEMO, run_cli, write_config, write_tone

TRAIN = {"splits": {"train": 1.0}}


def _built(tmp_path: Path, **output) -> tuple[Path, Path, Path]:
    """(source, OUT, config) of a finished build of the demo's kick drums (real flac, ogg, aiff)."""
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    cfg = write_config(tmp_path / "c.yaml", src, out, output={**TRAIN, **output})
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    return src, out, cfg


def _edit(path: Path) -> bytes:
    """Flip one byte in the middle: same size, other bytes. Its mtime moves on a second, as an edit
    a moment later does on any file system (some count mtimes in whole seconds)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mtime = path.stat().st_mtime_ns
    path.write_bytes(bytes(data))
    os.utime(path, ns=(mtime, mtime + 10**9))
    return bytes(data)


def _a_png(out: Path) -> str:
    return sorted(rel for rel in read_build(out)["files"] if rel.endswith(".png") and "/" in rel)[0]


def test_an_edited_image_is_left_with_one_line_and_repair_restores_it(tmp_path):
    _, out, cfg = _built(tmp_path)
    png = _a_png(out)
    built = (out / png).read_bytes()
    edited = _edit(out / png)

    rerun = run_cli("build", cfg, "-j", "1", "--quiet")
    assert rerun.returncode == 0 and "up to date" in rerun.stdout, rerun.stderr
    assert rerun.stderr.count("\n") == 1 and f"changed since spectroset wrote them as they are ({png})" in rerun.stderr
    assert "rerun with --repair" in rerun.stderr and (out / png).read_bytes() == edited

    verify = run_cli("inspect", out, "--verify")
    assert verify.returncode == 4 and "rerun the build with --repair to restore them" in verify.stderr
    push = run_cli("push", out, "--to", "hf", "--dry-run", tmp_path / "stage")
    assert push.returncode == 4 and f"{png} (changed since the build)" in push.stderr
    assert "rerun the build with --repair to restore them" in push.stderr

    repaired = run_cli("build", cfg, "-j", "1", "--quiet", "--repair")
    assert repaired.returncode == 0 and "restored 1 file(s)" in repaired.stdout, repaired.stderr
    assert (out / png).read_bytes() == built
    assert run_cli("inspect", out, "--verify").returncode == 0
    assert run_cli("push", out, "--to", "hf", "--dry-run", tmp_path / "stage").returncode == 0
    again = run_cli("build", cfg, "-j", "1", "--quiet")
    assert "up to date" in again.stdout and "changed" not in again.stderr


def test_a_rebuild_after_touching_the_recording_does_not_overwrite_an_edit(tmp_path):
    src, out, cfg = _built(tmp_path)
    png = _a_png(out)
    built, edited = (out / png).read_bytes(), _edit(out / png)
    card = (out / "README.md").read_bytes() + b"\nMy own notes on this dataset.\n"
    for recording in (src / "kick_drum").iterdir():
        os.utime(recording, ns=(1, 1))  # the same audio, touched: each recording is decoded again
    refused = run_cli("build", cfg, "-j", "1", "--quiet")
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"1 built file(s) changed since spectroset wrote them ({png})" in refused.stderr
    assert "--repair" in refused.stderr and (out / png).read_bytes() == edited
    assert read_build(out)  # refused before anything changed: still a finished build

    (out / "README.md").write_bytes(card)  # a dataset-level file: every rebuild writes it
    write_tone(src / "kick_drum" / "new.wav", 1.2)
    refused = run_cli("build", cfg, "-j", "1", "--quiet")
    assert refused.returncode == 3 and "2 built file(s)" in refused.stderr and "README.md" in refused.stderr
    assert (out / "README.md").read_bytes() == card and (out / png).read_bytes() == edited

    repaired = run_cli("build", cfg, "-j", "1", "--quiet", "--repair")
    assert repaired.returncode == 0 and "restored 2 file(s)" in repaired.stdout, repaired.stderr
    assert (out / png).read_bytes() == built and run_cli("inspect", out, "--verify").returncode == 0


def test_moving_an_edit_away_as_the_refusal_says_lets_the_build_go_on(tmp_path):
    src, out, cfg = _built(tmp_path)
    png = _a_png(out)
    built, edited = (out / png).read_bytes(), _edit(out / png) + b"and longer"
    (out / png).write_bytes(edited)
    write_tone(src / "kick_drum" / "new.wav", 1.2)  # work to do: the preview is drawn from the images on disk
    refused = run_cli("build", cfg, "-j", "1", "--quiet")
    assert refused.returncode == 3 and f"({png})" in refused.stderr and "move them out" in refused.stderr
    (out / png).rename(tmp_path / "mine.png")
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode == 0 and "built" in done.stdout, done.stderr
    assert (out / png).read_bytes() == built and (tmp_path / "mine.png").read_bytes() == edited


def test_force_never_deletes_an_edited_file(tmp_path):
    _, out, cfg = _built(tmp_path)
    png = _a_png(out)
    built, edited = (out / png).read_bytes(), _edit(out / png)
    for other in (("--set", "spectrogram.n_mels=16"), ("--set", "output.layout=parquet"), ()):
        refused = run_cli("build", cfg, "-j", "1", "--quiet", "--force", *other)
        assert refused.returncode == 3 and refused.stderr.count("\n") == 1, (other, refused.stderr)
        assert f"({png})" in refused.stderr and "rerun the same command with --repair" in refused.stderr
        assert (out / png).read_bytes() == edited
    repaired = run_cli("build", cfg, "-j", "1", "--quiet", "--force", "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert (out / png).read_bytes() == built and run_cli("inspect", out, "--verify").returncode == 0


def test_a_tampered_ledger_row_deletes_no_user_file(tmp_path):
    src, out, cfg = _built(tmp_path)
    mine = {"notes/todo.md": b"listen again", "train/kick_drum/my_drawing.png": b"a drawing"}
    for rel, data in mine.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    recording = sorted(p.name for p in (src / "kick_drum").iterdir())[0]
    db = sqlite3.connect(out / ".spectroset" / "journal.sqlite")  # rows naming the user's files
    db.executemany("INSERT INTO files (path, unit, sha256, size) VALUES (?, ?, ?, ?)",
                   [("notes/todo.md", None, "0" * 64, 12), ("train/kick_drum/my_drawing.png",
                                                            f"kick_drum/{recording}", "1" * 64, 9)])
    db.commit()
    db.close()
    os.utime(src / "kick_drum" / recording, ns=(1, 1))  # that recording's files are removed and rebuilt
    write_tone(src / "kick_drum" / "new.wav", 1.2)  # and build.json's stale entries are removed
    for extra in ((), ("--force", "--set", "spectrogram.n_mels=16")):
        done = run_cli("build", cfg, "-j", "1", "--quiet", "--verbose", *extra)  # -q hides the left-alone line
        assert done.returncode == 0, done.stderr
        assert all((out / rel).read_bytes() == data for rel, data in mine.items()), extra
    assert "left alone 2 file(s)" in done.stdout


def _rows(out: Path, files=(), stamps=()) -> None:
    """Forged rows in OUT's journal (created with the ledger's tables where there is none)."""
    (out / ".spectroset").mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(out / ".spectroset" / "journal.sqlite")
    db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, unit TEXT, sha256 TEXT, size INTEGER)")
    db.execute("CREATE TABLE IF NOT EXISTS stamps (path TEXT PRIMARY KEY, sha256 TEXT, mtime INTEGER)")
    db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", files)
    db.executemany("INSERT OR REPLACE INTO stamps VALUES (?, ?, ?)", stamps)
    db.commit()
    db.close()


def test_a_journal_row_without_a_hash_deletes_no_user_file(tmp_path):
    """An unfinished row (no hash) names a file: only bytes recorded before the rename are removed."""
    _, out, cfg = _built(tmp_path)
    src, fresh = tmp_path / "src", tmp_path / "f"
    (fresh / "thesis.txt").parent.mkdir()
    (fresh / "thesis.txt").write_text("precious")
    _rows(fresh, [("thesis.txt", None, None, None)])
    done = run_cli("build", write_config(tmp_path / "f.yaml", src, fresh, output=TRAIN), "-j", "1", "--quiet")
    assert (fresh / "thesis.txt").read_text() == "precious", done.stderr

    (out / "notes").mkdir()
    mine = out / "notes" / "mine.txt"
    mine.write_text("mine")
    (out / ".spectroset" / "intent").mkdir(exist_ok=True)
    (out / ".spectroset" / "intent" / "evil.txt").write_text("notes/mine.txt\nnotes/mine.txt\t" + "0" * 64 + "\n")
    for extra in ((), ("--force",)):
        _rows(out, [("notes/mine.txt", None, None, None), (".spectroset/intent/evil.txt", None, None, None)])
        done = run_cli("build", cfg, "-j", "1", "--quiet", *extra)
        assert done.returncode == 0, done.stderr
        assert mine.read_text() == "mine", extra


def test_a_forged_stamp_does_not_pass_for_the_hash(tmp_path):
    """A row with a wrong hash and a stamp of the file's real mtime: ``--force`` hashes, and keeps it."""
    _, out, cfg = _built(tmp_path)
    (out / "notes").mkdir()
    mine = out / "notes" / "mine.txt"
    mine.write_text("mine\n")
    _rows(out, [("notes/mine.txt", None, "00", 5)], [("notes/mine.txt", "00", mine.stat().st_mtime_ns)])
    done = run_cli("build", cfg, "-j", "1", "--quiet", "--force")
    assert done.returncode == 0, done.stderr
    assert mine.read_text() == "mine\n"


def test_hard_linked_state_files_are_refused_before_any_write(tmp_path):
    """The lock and the journal are written in place: with another hard link they would change
    the other copy (a user's file, a ``cp -al`` snapshot), so the build stops in one line."""
    src, out, cfg = _built(tmp_path)
    victim = tmp_path / "victim" / "thesis.txt"
    victim.parent.mkdir()
    victim.write_text("precious")
    lock = out / ".spectroset" / "lock"
    lock.unlink()
    os.link(victim, lock)
    os.utime(next((src / "kick_drum").iterdir()), ns=(1, 1))
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode != 0 and "hard links" in done.stderr and "Traceback" not in done.stderr
    assert victim.read_text() == "precious"
    lock.unlink()  # as the line says

    snap = tmp_path / "snap"
    subprocess.run(["cp", "-al", str(out), str(snap)], check=True)
    before = {p.name: p.read_bytes() for p in (snap / ".spectroset").iterdir() if p.is_file()}
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert done.returncode != 0 and "hard links" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in (snap / ".spectroset").iterdir() if p.is_file()} == before


def test_repair_never_deletes_a_file_a_forged_pair_of_records_names(tmp_path):
    """A journal row and a build.json entry forged to the same wrong hash for a user's file: ``--repair``
    restores what this build writes again (an edited image, the card) and leaves that file."""
    _, out, cfg = _built(tmp_path)
    (out / "notes").mkdir()
    mine = out / "notes" / "mine.txt"
    mine.write_text("mine\n")
    forged = "f" * 64
    _rows(out, [("notes/mine.txt", None, forged, 5)])
    record = json.loads((out / "build.json").read_text())
    record["files"]["notes/mine.txt"] = forged
    (out / "build.json").write_text(json.dumps(record, indent=2) + "\n")
    png, card = out / _a_png(out), out / "README.md"
    originals = {png: png.read_bytes(), card: card.read_bytes()}
    _edit(png)
    _edit(card)
    done = run_cli("build", cfg, "-j", "1", "--repair")
    assert done.returncode == 0, done.stderr
    assert mine.read_text() == "mine\n"
    assert all(path.read_bytes() == data for path, data in originals.items())
    assert "restored 2 file(s)" in done.stdout + done.stderr
