"""kill -9 at random moments, resume, and get exactly the bytes of a clean build.

The build runs as a real CLI subprocess in its own session, so ``os.killpg`` takes down the main
process and its spawned workers at once — what a crash or OOM-kill of a build does. Each run
resumes whatever the previous killed run left. Kill moments are seeded: some on the clock from
the start (startup, locking, discovery), most once the run has stored a seeded number of new
images (while images are being written and journalled).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import yaml

import pytest

from builder.store import state
from builder.config.loading import load_config
from builder.pipeline import build

from tests.helpers.cli import DEMO, PYTHON, REPO, cli_env, load, run_cli, snapshot, temp_files, write_config, write_tone

KILLS = 20
SEED = 20260421


def _corpus(root: Path) -> Path:
    """The demo audio plus many longer stereo recordings, so that a -j 2 build stores images for
    many seconds and most kills land while images are being written and journalled."""
    src = root / "src"
    shutil.copytree(DEMO, src, ignore=shutil.ignore_patterns("MANIFEST.tsv"))
    for i in range(30):
        write_tone(src / f"tone_{i % 3}" / f"tone{i:02d}.flac", 8.0, rate=44100, freq=200 + 37 * i, channels=2)
    return src


def _config(root: Path, src: Path, layout: str = "imagefolder") -> Path:
    data = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text())
    data["source"]["path"] = str(src)
    data["output"]["layout"] = layout
    path = root / "crash.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _images(out: Path) -> int:
    n = 0
    for _, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if d != ".spectroset"]
        n += sum(1 for f in files if f.endswith(".png") and not f.startswith("."))
    return n


def _written(out: Path) -> int:
    """A spooling layout's progress: recordings spooled, then shards (tar or parquet) in place."""
    spools = out / ".spectroset" / "spool"
    return (len(list(spools.glob("*.bin"))) if spools.is_dir() else 0) + len(list(out.glob("data/*-of-*")))


def _run_and_kill(cfg: Path, out: Path, rng: random.Random, log: Path, progress=_images) -> tuple[int | None, str]:
    """Start a build; kill its whole process group at a seeded moment. Returns (rc, mode)."""
    before = progress(out) if out.exists() else 0
    with open(log, "ab") as fh:
        proc = subprocess.Popen([PYTHON, "-m", "builder", "build", str(cfg), "-o", str(out), "-j", "2", "--quiet"],
                                stdout=fh, stderr=fh, env=cli_env(), cwd=REPO, start_new_session=True)
    # Progress-based, so that the kills land in the same phases on a fast or a loaded machine:
    # "clock" kills during startup, locking, journal and discovery; "work" kills after this run
    # stored a seeded number of new images, which is often in the middle of a recording's images.
    mode = "clock" if rng.random() < 0.25 else "work"
    delay = rng.uniform(0.05, 1.5) if mode == "clock" else rng.uniform(0.0, 0.05)
    target = before + rng.randint(1, 40)
    t0 = time.monotonic()
    if mode == "work":
        while proc.poll() is None and progress(out) < target and time.monotonic() - t0 < 60:
            time.sleep(0.02)
        t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < delay:
        time.sleep(0.005)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return proc.wait(timeout=60), mode


def _assert_only_complete_files(out: Path, clean: dict[str, str]) -> None:
    """Every visible file a killed run left is already exactly the clean build's file."""
    for rel, digest in snapshot(out).items():
        if rel.rsplit("/", 1)[-1].startswith("."):
            continue  # hidden temp files: ignored by load_dataset, removed by the next finished run
        assert rel in clean, f"{rel}: not in a clean build"
        assert digest == clean[rel], f"{rel}: differs from the clean build (half-written?)"


def test_kill_9_at_random_moments_then_resume_equals_clean_build(tmp_path):
    src = _corpus(tmp_path)
    cfg = _config(tmp_path, src)
    clean_out = tmp_path / "clean" / "out"
    done = run_cli("build", cfg, "-o", clean_out, "-j", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    clean = snapshot(clean_out)
    total = sum(1 for rel in clean if rel.endswith(".png") and rel != "preview.png")

    out = tmp_path / "crashed" / "out"
    rng = random.Random(SEED)
    log = tmp_path / "runs.log"
    killed = partial = runs = 0
    while killed < KILLS and runs < 3 * KILLS:
        runs += 1
        rc, mode = _run_and_kill(cfg, out, rng, log)
        assert rc in (0, -signal.SIGKILL), f"build failed with exit code {rc}:\n{log.read_text()[-3000:]}"
        killed += rc == -signal.SIGKILL
        if out.exists():
            partial += 0 < _images(out) < total
            _assert_only_complete_files(out, clean)
        if rc == 0:  # a resume finished before its kill: it must equal the clean build; then start over,
            assert snapshot(out) == clean  # so that the next kills land in work however fast the machine
            shutil.rmtree(out)
    # the kills must have hit real work, not only startup or a finished build
    assert killed == KILLS and partial >= 3, (killed, partial, runs)
    if not out.exists():  # the last run finished: one more killed chain for the resume below
        _run_and_kill(cfg, out, rng, log)

    done = run_cli("build", cfg, "-o", out, "-j", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == clean
    assert temp_files(out) == []
    ds = load(out)  # every window exactly once: rows == images == the clean build's
    assert sum(len(part) for part in ds.values()) == total
    sources = {s for part in ds.values() for s in part["source"]}
    assert sources == {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()}
    again = run_cli("build", cfg, "-o", out, "-j", "2", "--quiet")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_kill_9_during_a_webdataset_build_then_resume_equals_clean_build(tmp_path):
    """The kill test for the tar layout, shorter: kills land while recordings are spooled and shards
    written (progress counted in spools and shards), each run resumes the last, the end equals a clean build."""
    src = _corpus(tmp_path)
    cfg = _config(tmp_path, src, "webdataset")
    clean_out = tmp_path / "clean" / "out"
    done = run_cli("build", cfg, "-o", clean_out, "-j", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    clean = snapshot(clean_out)
    out, rng, log = tmp_path / "crashed" / "out", random.Random(SEED + 1), tmp_path / "runs.log"
    killed = runs = 0
    while killed < KILLS // 4 and runs < KILLS:
        runs += 1
        rc, _ = _run_and_kill(cfg, out, rng, log, progress=_written)
        assert rc in (0, -signal.SIGKILL), f"build failed with exit code {rc}:\n{log.read_text()[-3000:]}"
        killed += rc == -signal.SIGKILL
        if out.exists():
            _assert_only_complete_files(out, clean)
        if rc == 0:
            assert snapshot(out) == clean
            shutil.rmtree(out)
    assert killed == KILLS // 4, (killed, runs)
    done = run_cli("build", cfg, "-o", out, "-j", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == clean and temp_files(out) == []
    assert sum(len(part) for part in load(out).values()) == json.loads((out / "build.json").read_text())["windows"]


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, not even ``except Exception``."""


@pytest.mark.parametrize("layout", ["imagefolder", "parquet", "mirror", "webdataset"])
def test_crash_at_every_write_then_resume_gives_the_clean_bytes(tmp_path, monkeypatch, layout):
    """Deterministic complement of the kill test: for every file write of a small build (images,
    metadata, stats, preview, card, build.json) die right there, with the temp file of the
    interrupted write left behind as a kill -9 leaves it; then rerun and compare. A folder left
    by any of these crashes is never a finished build (no build.json until the very end)."""
    src = tmp_path / "src"
    for i in range(4):
        write_tone(src / f"label{i % 2}" / f"rec{i}.wav", 1.3, freq=300 + 100 * i)
    real_replace = state.os.replace
    calls = {"n": 0, "at": 0, "targets": []}

    def dying_replace(tmp, target):
        calls["n"] += 1
        calls["targets"].append(Path(target).name)
        if calls["n"] == calls["at"]:
            raise Crash(target)  # the temp stays, as a kill leaves it; its name is derived from the target
        return real_replace(tmp, target)

    monkeypatch.setattr(state.os, "replace", dying_replace)

    output = {"layout": layout, **({"splits": {"train": 1.0}} if layout == "mirror" else {})}

    def config(name: str):
        return load_config(write_config(tmp_path / f"{name}.yaml", src, tmp_path / name / "out", output=output))

    clean_cfg = config("clean")
    build(clean_cfg, workers=1, progress=False)
    clean, writes = snapshot(clean_cfg.output.path), list(calls["targets"])
    assert {"build.json", "README.md", "stats.json", "preview.png"} <= set(writes)
    shard = {"parquet": ".parquet", "webdataset": ".tar"}.get(layout, ".png")
    assert any(w.endswith(shard) for w in writes[:-4])
    for at in range(1, len(writes) + 1):
        cfg = config(f"crash{at}")
        calls.update(n=0, at=at)
        with pytest.raises(Crash):
            build(cfg, workers=1, progress=False)
        _assert_only_complete_files(cfg.output.path, clean)
        assert not (cfg.output.path / "build.json").exists(), writes[at - 1]
        calls.update(n=0, at=0)
        report = build(cfg, workers=1, progress=False)
        assert not report.up_to_date, writes[at - 1]
        assert snapshot(cfg.output.path) == clean, writes[at - 1]
        assert temp_files(cfg.output.path) == [], writes[at - 1]


@pytest.mark.parametrize("change", ["shorten", "delete"])
def test_recording_changed_after_a_crash_leaves_no_stray_images(tmp_path, monkeypatch, change):
    """Killed while a recording's images were being written; the recording then changes or goes.
    Its uncommitted images must not stay behind (they are in no metadata row)."""
    src = tmp_path / "src"
    write_tone(src / "a" / "long.wav", 3.0)
    write_tone(src / "b" / "short.wav", 1.3, freq=700)
    cfg = load_config(write_config(tmp_path / "crash.yaml", src, tmp_path / "crash" / "out"))
    real_replace, calls = state.os.replace, {"n": 0}

    def dying_replace(tmp, target):
        calls["n"] += str(target).endswith(".png")
        if calls["n"] == 3:  # the third image of a/long.wav (sources are processed in order)
            raise Crash(target)
        return real_replace(tmp, target)

    monkeypatch.setattr(state.os, "replace", dying_replace)
    with pytest.raises(Crash):
        build(cfg, workers=1, progress=False)
    monkeypatch.undo()
    assert len(list(cfg.output.path.glob("*/a/*.png"))) == 2
    if change == "shorten":
        write_tone(src / "a" / "long.wav", 0.3)  # one window now, where two images were written
    else:
        (src / "a" / "long.wav").unlink()
    build(cfg, workers=1, progress=False)
    clean = load_config(write_config(tmp_path / "clean.yaml", src, tmp_path / "clean" / "out"))
    build(clean, workers=1, progress=False)
    assert snapshot(cfg.output.path) == snapshot(clean.output.path)
