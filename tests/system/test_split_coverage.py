"""Splits as a new user met them (findings 1, 2, 5, 6, 10e of the new-user pass): labels with too
few recordings stay in train, recordings the headers say give no window take no split's place,
labels with no window at all and a source dataset's own splits are named, and each missing-label
line gives the reason that holds for how the windows were placed.

All through the CLI; recordings are generated tones and the bundled demo audio.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from tests.helpers.audio_dataset import SPLITS, dataset_config, dataset_files, write_dataset
from tests.helpers.cli import DEMO, run_cli, write_config, write_tone

SHORT = ["--set", "windows.duration=1", "--set", "windows.hop=1"]  # the default preset, 1-s windows


def _splits_of(out: Path) -> dict[str, Counter]:
    """``{label: Counter(split: windows)}`` of an image folder build."""
    found: dict[str, Counter] = defaultdict(Counter)
    for p in sorted(out.glob("*/metadata.parquet")):
        for row in pq.read_table(p).to_pylist():
            found[row["source"].split("/")[0]][p.parent.name] += 1  # the label folder
    return found


def _warnings(done) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("warning:")]


def test_the_default_preset_keeps_labels_with_one_recording_in_train(tmp_path):
    src = tmp_path / "src"
    for i in range(7):
        write_tone(src / "sp1" / f"a{i}.wav", 1.0, freq=300 + 30 * i)
    for k in range(2, 14):  # 12 labels of one recording each: two of them went to validation
        write_tone(src / f"sp{k}" / "only.wav", 1.0, freq=600 + 40 * k)
    out = tmp_path / "out"
    done = run_cli("build", "birdclef-mel", "-j", "1", "-q", "-o", out, "--set", f"source.path={src}", *SHORT)
    assert done.returncode == 0, done.stderr
    found = _splits_of(out)
    assert {label: dict(c) for label, c in found.items() if label != "sp1"} == {
        f"sp{k}": {"train": 1} for k in range(2, 14)}
    assert found["sp1"]["train"] >= 1 and found["sp1"]["validation"] >= 1
    assert not [w for w in _warnings(done) if w.startswith("warning: output.splits: train")], done.stderr


def test_recordings_the_headers_say_give_no_window_take_no_split(tmp_path):
    src = tmp_path / "src"
    for i in range(5):
        write_tone(src / "wren" / f"w{i}.wav", 3.0, freq=300 + 30 * i)
    write_tone(src / "insect" / "keep.wav", 3.0, freq=2000)  # went to validation, planned among 4
    for name in ("a", "b", "c"):  # shorter than min_duration: skipped, so insect has one recording
        write_tone(src / "insect" / f"{name}.wav", 1.0, freq=2200)
    out = tmp_path / "out"
    done = run_cli("build", "birdclef-mel", "-j", "1", "-q", "-o", out, "--set", f"source.path={src}", *SHORT,
                   "--set", "windows.min_duration=2")
    assert done.returncode == 0, done.stderr
    assert _splits_of(out)["insect"] == {"train": 3}  # its only usable recording, in train
    assert not [w for w in _warnings(done) if w.startswith("warning: output.splits: train")], done.stderr
    folds = {row["source"]: row["fold"] for row in pq.read_table(out / "train" / "metadata.parquet").to_pylist()}
    assert len(set(folds.values())) == 5  # the skipped recordings took no fold's place either


def test_a_label_with_no_window_at_all_is_named_and_in_the_card(tmp_path):
    src = tmp_path / "src"
    for i in range(5):
        write_tone(src / "wren" / f"w{i}.wav", 2.0, freq=300 + 30 * i)
    write_tone(src / "tabla" / "t0.wav", 1.0, freq=900)
    for i in range(2):  # under min_last (0.5 s) and no full window: no window at all
        write_tone(src / "game_sfx" / f"g{i}.wav", 0.3, freq=1500 + 50 * i)
    out = tmp_path / "out"
    done = run_cli("build", "birdclef-mel", "-j", "1", "-q", "-o", out, "--set", f"source.path={src}", *SHORT)
    assert done.returncode == 0, done.stderr
    assert "warning: 1 of 3 labels (game_sfx) got no window in any split: every recording of them was skipped or " \
           "gave none (see skipped in build.json); their ClassLabel ids have no row" in _warnings(done), done.stderr
    assert not [w for w in _warnings(done) if "game_sfx" in w and "output.splits" in w], done.stderr
    record = json.loads((out / "build.json").read_text())
    assert record["counts"]["game_sfx"] == {}
    card = (out / "README.md").read_text()
    assert "| game_sfx | 0 | 0 | 0 |" in card  # the Contents table names every ClassLabel name
    assert "the rarest, `tabla`" in card and "- Labels with no window: `game_sfx`" in card


def test_a_source_dataset_own_splits_are_checked_for_missing_labels(tmp_path):
    ds = write_dataset(tmp_path / "ds", dataset_files(DEMO, SPLITS))  # test: one tabla row, no kick_drum
    out = tmp_path / "out"
    done = run_cli("build", dataset_config(tmp_path, ds, keep_splits=True), "-o", out, "-j", "1", "-q")
    assert done.returncode == 0, done.stderr
    assert _warnings(done) == ["warning: source.keep_splits: test has no window of 1 of 2 labels (kick_drum); the "
                               "source dataset's own splits do not have them"], done.stderr
    card = (out / "README.md").read_text()
    assert "none in both" not in card and "the source dataset's own (`source.keep_splits`)" in card
    one = run_cli("build", dataset_config(tmp_path, ds, split="test", keep_splits=True), "-o", tmp_path / "one",
                  "-j", "1", "-q")
    assert one.returncode == 0, one.stderr
    assert not [w for w in _warnings(one) if "got no window" in w or "larger fractions" in w], one.stderr


def test_splits_by_a_window_hash_blame_the_hash_not_too_few_windows(tmp_path):
    src = tmp_path / "src"
    for i in range(4):
        write_tone(src / "wren" / f"w{i}.wav", 2.0, freq=300 + 30 * i)
    write_tone(src / "robin" / "r0.wav", 0.5, freq=900)  # one window: one split lacks robin
    splits = {"train": 0.5, "validation": 0.5, "by": "window", "stratify": False}
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out", output={"splits": splits})
    done = run_cli("build", cfg, "-j", "1", "-q")
    assert done.returncode == 0, done.stderr
    lacking = [w for w in _warnings(done) if "has no window of" in w]
    assert len(lacking) == 1 and lacking[0].endswith(
        "(robin); by: window with stratify: false draws each window's split by a seeded hash; stratify: true "
        "spreads them"), done.stderr
