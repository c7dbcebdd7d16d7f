"""A full disk or a read-only output: one ``error:`` line, exit 3, and a state that resumes.

Two ways in: ENOSPC/EROFS injected at the writer seam (``atomic_write``'s file write, ``atomic.write_fd``), which runs
everywhere, and a real size-limited tmpfs in a private mount namespace (``unshare -m``), where the
kernel itself fails every writer, SQLite's journal included; that one skips where it cannot mount.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from builder.store import atomic
from builder.cli.main import main
from builder.config.loading import load_config
from builder.pipeline import build

from tests.helpers.cli import PYTHON, REPO, cli_env, skip_without_private_tmpfs, snapshot, temp_files, write_config, write_tone


def _corpus(root: Path) -> Path:
    src = root / "src"
    for i in range(6):
        write_tone(src / f"label{i % 2}" / f"rec{i}.wav", 1.6, freq=250 + 90 * i)
    return src


def _clean(tmp_path: Path, src: Path) -> dict[str, str]:
    cfg = load_config(write_config(tmp_path / "clean.yaml", src, tmp_path / "clean" / "out"))
    build(cfg, workers=1, progress=False)
    return snapshot(cfg.output.path)


def _failing_disk(monkeypatch, budget: int, err: int) -> None:
    """Every file written through ``atomic_write`` draws on ``budget`` bytes; past it, ``err``."""
    real_write = atomic.write_fd
    left = {"bytes": budget}

    def write(fd: int, data: bytes) -> None:
        if len(data) > left["bytes"]:
            real_write(fd, data[: left["bytes"]])  # the partial write a full disk allows
            left["bytes"] = 0
            raise OSError(err, os.strerror(err))
        left["bytes"] -= len(data)
        real_write(fd, data)

    monkeypatch.setattr(atomic, "write_fd", write)


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.9, 0.995])
def test_disk_full_fails_in_one_line_and_resumes(tmp_path, monkeypatch, capsys, fraction):
    src = _corpus(tmp_path)
    clean = _clean(tmp_path, src)
    total = sum((tmp_path / "clean" / "out" / rel).stat().st_size for rel in clean)
    cfg = write_config(tmp_path / "cfg.yaml", src)
    out = tmp_path / "full" / "out"
    capsys.readouterr()
    _failing_disk(monkeypatch, int(total * fraction), errno.ENOSPC)
    assert main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"]) == 3
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"error: no space left on the device writing {out}/")
    assert lines[0].endswith("; free space and rerun to resume")
    assert temp_files(out) == []  # the failed temp file is removed, never renamed into place
    for rel, digest in snapshot(out).items():
        assert clean.get(rel) == digest, rel  # whatever is there is complete
    monkeypatch.undo()  # space freed
    assert main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"]) == 0
    assert snapshot(out) == clean and temp_files(out) == []


def test_read_only_output_fails_in_one_line_and_resumes(tmp_path, monkeypatch, capsys):
    """EROFS/EACCES at the writer seam (as root, chmod does not stop writes; see the next tests)."""
    src = _corpus(tmp_path)
    clean = _clean(tmp_path, src)
    cfg = write_config(tmp_path / "cfg.yaml", src)
    out = tmp_path / "ro" / "out"
    capsys.readouterr()
    _failing_disk(monkeypatch, 20_000, errno.EROFS)
    assert main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"]) == 3
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "Read-only file system; fix permissions or choose another -o" in lines[0]
    monkeypatch.undo()
    assert main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"]) == 0
    assert snapshot(out) == clean


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not stop root from writing (covered by the EROFS "
                           "injection above and the read-only tmpfs below)")
def test_chmod_read_only_output(tmp_path, capsys):
    src = _corpus(tmp_path)
    cfg = write_config(tmp_path / "cfg.yaml", src)
    out = tmp_path / "ro" / "out"
    out.mkdir(parents=True)
    out.chmod(0o555)
    try:
        assert main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"]) == 3
    finally:
        out.chmod(0o755)
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "Permission denied" in lines[0]
    assert main(["build", str(cfg), "-o", str(out), "-j", "1", "--quiet"]) == 0


SCRIPT = r"""
set -u
mount -t tmpfs -o size={size} tmpfs "$MNT" || exit 77
build() {{ "$PY" -m builder build "$CFG" -o "$MNT/out" -j 1 --quiet > "$RES/$1.out" 2> "$RES/$1.err"; echo $? > "$RES/$1.rc"; }}
build full
mount -o remount,ro "$MNT" && build readonly
mount -o remount,rw,size=64m "$MNT" && build resumed
cp -a "$MNT/out" "$RES/final"
"""


def test_real_full_and_read_only_tmpfs(tmp_path):
    skip_without_private_tmpfs()
    src = _corpus(tmp_path)
    clean = _clean(tmp_path, src)
    on_disk = sum(p.stat().st_blocks * 512 for p in (tmp_path / "clean" / "out").rglob("*"))
    mnt, res = tmp_path / "mnt", tmp_path / "res"
    mnt.mkdir()
    res.mkdir()
    cfg = write_config(tmp_path / "cfg.yaml", src)
    env = cli_env(MNT=str(mnt), RES=str(res), PY=PYTHON, CFG=str(cfg))
    script = SCRIPT.format(size=int(on_disk * 0.8) // 4096 * 4096)  # runs full while writing images
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    if done.returncode == 77:
        pytest.skip(f"cannot mount a private tmpfs here: {done.stderr.strip()}")
    rc = {name: int((res / f"{name}.rc").read_text()) for name in ("full", "readonly", "resumed")}
    err = {name: (res / f"{name}.err").read_text() for name in ("full", "readonly", "resumed")}
    assert rc["full"] == 3, err["full"]
    full = _error_lines(err["full"])
    assert len(full) == 1 and ("no space left on the device" in full[0] or "disk is full" in full[0]), full
    assert full[0].endswith("free space and rerun to resume")
    assert rc["readonly"] == 3, err["readonly"]
    ro = _error_lines(err["readonly"])
    assert len(ro) == 1 and "Read-only file system" in ro[0], ro
    assert rc["resumed"] == 0, err["resumed"]
    assert snapshot(res / "final") == clean
    assert temp_files(res / "final") == []
