"""The check of recorded files is cheap: one lstat per file against the size and mtime stamped at
write time; a file is read only where those moved, and a matching hash renews its stamp."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import builder.store.stamps as stamps
from builder.store.atomic import atomic_write
from builder.errors import BuildError
from builder.store.record import read_build
from builder.config.loading import load_config
from builder.pipeline import build
from builder.store.state import Journal

REPO = Path(__file__).resolve().parents[2]


def test_a_no_op_rerun_reads_no_file_and_a_touched_folder_is_hashed_once(tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(REPO / "examples" / "demo-audio" / "kick_drum", src / "kick_drum")
    cfg = load_config(REPO / "examples" / "demo.yaml", [f"source.path={src}", f"output.path={tmp_path / 'out'}"])
    build(cfg, workers=1, progress=False)
    hashed = []
    real = stamps.sha256_file
    monkeypatch.setattr(stamps, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))

    assert build(cfg, workers=1, progress=False).up_to_date and hashed == []
    listed = read_build(cfg.output.path)["files"]
    for rel in listed:  # as a copy without -p does: same bytes, new mtimes
        os.utime(cfg.output.path / rel, ns=(1, 10**18 + len(rel)))
    assert build(cfg, workers=1, progress=False).up_to_date and len(hashed) == len(listed)
    hashed.clear()
    report = build(cfg, workers=1, progress=False)
    assert report.up_to_date and hashed == [] and report.changed == []


def test_the_ledger_never_removes_or_replaces_a_file_whose_bytes_changed_unless_repairing(tmp_path):
    out = tmp_path / "out"
    (out / ".spectroset").mkdir(parents=True)
    journal = Journal(out)
    ledger = journal.ledger
    for rel in ("a.png", "b.png"):
        ledger.intend([rel])
        atomic_write(out / rel, b"built")
        ledger.confirm(rel, hashlib.sha256(b"built").hexdigest(), 5)
    (out / "a.png").write_bytes(b"mine!")  # same size, a moment later
    os.utime(out / "a.png", ns=(1, os.stat(out / "b.png").st_mtime_ns + 10**9))
    assert ledger.changed("a.png") and not ledger.changed("b.png")
    with pytest.raises(BuildError, match="a.png was changed since spectroset wrote it; rerun with --repair"):
        ledger.intend(["a.png"])
    assert ledger.remove(["a.png", "b.png"]) == 1 and (out / "a.png").read_bytes() == b"mine!"
    assert not ledger.owns("a.png")  # the user's now
    ledger.intend(["b.png"])
    atomic_write(out / "b.png", b"built")
    ledger.confirm("b.png", hashlib.sha256(b"built").hexdigest(), 5)
    (out / "b.png").write_bytes(b"edited")  # another size: found whatever its mtime
    ledger.repair = True  # --repair: a changed file goes now only if restorable (rebuilt with its recording)
    assert ledger.remove(["b.png"]) == 0 and ledger.owns("b.png")  # else kept, its row too: replaced if built again
    ledger.restorable = {"b.png"}
    assert ledger.remove(["b.png"]) == 1 and not (out / "b.png").exists()
    journal.close()
