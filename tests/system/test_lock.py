"""Two builds into one folder: the second refuses; a killed holder never leaves the folder locked."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from builder.errors import LockedError
from builder.config.loading import load_config
from builder.pipeline import build
from builder.store.state import OutputLock
from builder.store.state_dir import STATE_DIR

from tests.helpers.cli import PYTHON, REPO, cli_env, run_cli, write_config, write_tone


def _wait_for_lock_holder(out: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    lock = out / STATE_DIR / "lock"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert proc.poll() is None, "the first build ended before the test could race it"
        if lock.is_file() and lock.read_text().strip() == str(proc.pid):
            return
        time.sleep(0.05)
    raise AssertionError("the first build never took the lock")


def test_in_process_second_build_raises_locked_error(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "a" / "x.wav", 0.6)
    cfg = load_config(write_config(tmp_path / "cfg.yaml", src, tmp_path / "out"))
    with OutputLock(cfg.output.path):
        with pytest.raises(LockedError, match=rf"being built by another process \(pid {os.getpid()}\)"):
            build(cfg, workers=1, progress=False)
    assert build(cfg, workers=1, progress=False).record["sources"] == 1  # released on exit


def test_concurrent_cli_build_refuses_and_killed_holder_does_not_block(tmp_path):
    src = tmp_path / "src"
    for i in range(16):  # long enough (-j 1) that the first build is still at work when it is frozen
        write_tone(src / f"l{i % 2}" / f"t{i:02d}.flac", 8.0, rate=44100, channels=2, freq=200 + 50 * i)
    cfg = write_config(tmp_path / "cfg.yaml", src, audio={"sample_rate": 32000},
                       spectrogram={"n_fft": 1024, "hop_length": 320, "n_mels": 64, "f_max": 16000.0})
    out = tmp_path / "out"
    first = subprocess.Popen([PYTHON, "-m", "builder", "build", str(cfg), "-o", str(out), "-j", "1", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(), cwd=REPO,
                             start_new_session=True)
    try:
        _wait_for_lock_holder(out, first)
        # Freeze the holder (and its workers) so that it holds the lock for as long as the second
        # build takes to start: on a loaded machine an unfrozen first build could finish first.
        os.killpg(first.pid, signal.SIGSTOP)
        second = run_cli("build", cfg, "-o", out, "-j", "1", "--quiet")
        assert first.poll() is None, "the first build ended before the second one tried"
        assert second.returncode == 3
        lines = second.stderr.strip().splitlines()
        assert lines == [f"error: {out} is being built by another process (pid {first.pid}); "
                         "wait for it or choose another -o"], second.stderr
        assert "Traceback" not in second.stderr + second.stdout
    finally:
        try:
            os.killpg(first.pid, signal.SIGKILL)  # the holder dies holding the lock
        except ProcessLookupError:
            pass
        first.wait(timeout=60)
    assert (out / STATE_DIR / "lock").read_text().strip() == str(first.pid)  # stale pid left behind
    third = run_cli("build", cfg, "-o", out, "-j", "2", "--quiet")
    assert third.returncode == 0, third.stderr
    assert "built" in third.stdout and (out / "build.json").is_file()


def test_lock_is_released_when_a_build_fails(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_tone(src / "a" / "x.wav", 0.6)
    cfg = load_config(write_config(tmp_path / "cfg.yaml", src, tmp_path / "out"))
    import builder.pipeline as pipeline

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "discover", boom)
    with pytest.raises(RuntimeError):
        build(cfg, workers=1, progress=False)
    monkeypatch.undo()
    assert build(cfg, workers=1, progress=False).record["sources"] == 1
