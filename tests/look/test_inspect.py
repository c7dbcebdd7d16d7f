"""``spectroset inspect --verify`` catches changed, missing and stray data files."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from builder.cli.main import main
from builder.pipeline import build

from tests.helpers.layouts import DEMO, REPO, demo_config


@pytest.fixture
def dataset(tmp_path):
    src = tmp_path / "src"
    for label in ("kick_drum", "game_sfx"):
        shutil.copytree(DEMO / label, src / label)
    cfg = demo_config(tmp_path / "out", src, "output.layout=parquet", "output.include.audio=true",
                      "output.max_shard_size=1MB", "output.splits={train: 0.5, test: 0.5}")
    record = build(cfg, workers=1, progress=False).record
    return cfg.output.path, record


def shards(record) -> list[str]:
    return [f for f in record["files"] if f.startswith("data/")]


def test_intact_dataset_verifies(dataset, capsys):
    out, record = dataset
    assert main(["inspect", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert f"verified: all {len(record['files'])} files" in text
    assert f"{record['windows']} windows" in text


def test_flipped_byte_fails_through_the_cli(dataset):
    out, record = dataset
    target = out / shards(record)[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    run = subprocess.run([sys.executable, "-m", "builder", "inspect", str(out), "--verify"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert f"changed: {shards(record)[0]}" in run.stdout
    assert "fail verification" in run.stderr


def test_deleted_shard_fails(dataset, capsys):
    out, record = dataset
    gone = shards(record)[-1]
    (out / gone).unlink()
    assert main(["inspect", str(out), "--verify"]) != 0
    assert f"missing: {gone}" in capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0  # without --verify: a summary only


def test_stray_shard_fails(dataset, capsys):
    out, record = dataset
    shutil.copy(out / shards(record)[0], out / "data" / "train-00009-of-00010.parquet")
    assert main(["inspect", str(out), "--verify"]) != 0
    assert "unexpected: data/train-00009-of-00010.parquet" in capsys.readouterr().out


def test_imagefolder_changed_png_fails(tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(DEMO / "kick_drum", src / "kick_drum")
    cfg = demo_config(tmp_path / "out", src, "output.splits={train: 1.0}")
    record = build(cfg, workers=1, progress=False).record
    png = next(f for f in record["files"] if f.endswith(".png") and f.startswith("train/"))
    data = bytearray((cfg.output.path / png).read_bytes())
    data[-20] ^= 0xFF
    (cfg.output.path / png).write_bytes(bytes(data))
    assert main(["inspect", str(cfg.output.path), "--verify"]) == 4
    assert f"changed: {png}" in capsys.readouterr().out
