"""``OUT/.spectroset`` linked to a user's folder: a build refuses with one line naming the link before
it writes anything there (no lock rewritten, no journal or token created or overwritten), whether
OUT is a finished build ("up to date" before) or a fresh folder, and wherever the link points."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli, snapshot, write_config, write_tone

MINE = {"lock": b"my lock: do not touch", "token": b"my API token", "journal.txt": b"day one"}


def _source(root: Path) -> Path:
    src = root / "src"
    for i in range(2):
        write_tone(src / f"label{i}" / f"rec{i}.wav", 1.0, freq=300 + 100 * i)
    return src


def _mine(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in MINE.items():
        (folder / name).write_bytes(data)
    return _listing(folder)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(done, link: Path) -> None:
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "up to date" not in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {link} is a link"), done.stderr
    assert "remove the link" in lines[0]


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_rebuild_through_a_linked_state_folder_is_refused(tmp_path, where):
    src, out = _source(tmp_path), tmp_path / "out"
    cfg = write_config(tmp_path / "cfg.yaml", src, out)
    assert run_cli("build", cfg, "-j", "1", "--quiet").returncode == 0
    built = snapshot(out)
    shutil.rmtree(out / ".spectroset")  # e.g. a dataset shared as a tarball that carried a link
    mine = tmp_path / "mine" if where == "outside" else out / "notes"
    before = _mine(mine)
    (out / ".spectroset").symlink_to(mine, target_is_directory=True)
    done = run_cli("build", cfg, "-j", "1", "--quiet")
    assert _listing(mine) == before  # the lock not rewritten, no journal created there
    _refused(done, out / ".spectroset")
    assert {k: v for k, v in snapshot(out).items() if not k.startswith("notes/")} == built


def test_a_fresh_output_with_a_linked_state_folder_is_refused_before_any_write(tmp_path):
    src, out = _source(tmp_path), tmp_path / "fresh"
    before = _mine(tmp_path / "mine")
    out.mkdir()
    (out / ".spectroset").symlink_to(tmp_path / "mine", target_is_directory=True)
    done = run_cli("build", write_config(tmp_path / "cfg.yaml", src, out), "-j", "1", "--quiet")
    assert _listing(tmp_path / "mine") == before  # the user's token is not overwritten
    _refused(done, out / ".spectroset")
    assert [p.name for p in out.iterdir()] == [".spectroset"]
