"""Safe evaluation by default (issue 29): presets hold out whole recordings and add folds, splits by
window warn and stratify, splits and folds that lack labels or are empty are named in one line.

All through the CLI, as a user meets them. Recordings are generated tones (a clean clone needs
nothing outside the checkout) and the bundled demo audio.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from builder.config.loading import load_config
from tests.helpers.cli import DEMO, run_cli, snapshot, write_config, write_tone

BIRDCLEF_STYLE = ["birdclef-mel", "birdclef-pcen-rgb", "birdclef-soundscapes", "seed002-birdclef-2023"]


def _rows(out: Path) -> dict[str, list[dict]]:
    """``{split: rows}`` of an image folder build (its metadata.parquet files)."""
    return {p.parent.name: pq.read_table(p).to_pylist() for p in sorted(out.glob("*/metadata.parquet"))}


def _assert_leak_free(rows: dict[str, list[dict]], folds: int) -> None:
    """No recording in two splits, nor in two folds; every fold 0..folds-1 holds a recording."""
    split_of, fold_of = {}, {}
    for split, part in rows.items():
        for row in part:
            assert split_of.setdefault(row["source"], split) == split, f"{row['source']} in {split} and another split"
            if split == "train":
                assert fold_of.setdefault(row["source"], row["fold"]) == row["fold"], f"{row['source']} in two folds"
            else:
                assert row["fold"] == -1
    assert sorted(set(fold_of.values())) == list(range(folds))


@pytest.mark.parametrize("preset", BIRDCLEF_STYLE)
def test_birdclef_style_presets_hold_out_whole_recordings_and_fold_train(preset):
    splits = load_config(preset).output.splits
    assert splits.by == "source" and splits.stratify and splits.fractions.get("validation", 0) >= 0.1
    assert load_config(preset).output.folds == 5


def test_the_default_preset_on_the_demo_has_a_held_out_split_and_folds_that_never_share_a_recording(tmp_path):
    out = tmp_path / "out"
    done = run_cli("build", "birdclef-mel", "-j", "1", "-q", "-o", out, "--set", f"source.path={DEMO}")
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    assert set(rows) == {"train", "validation"}
    _assert_leak_free(rows, 5)
    assert {r["label"] for r in rows["validation"]} == {r["label"] for r in rows["train"]}  # stratified


def test_the_default_preset_on_a_tiny_corpus_builds_and_names_what_its_splits_and_folds_lack(tmp_path):
    src = tmp_path / "src"
    for label, n in (("wren", 6), ("robin", 2), ("owl", 1)):  # few recordings per label: no crash, warnings
        for i in range(n):
            write_tone(src / label / f"{label}{i}.wav", 6.0, freq=300 + 200 * len(label) + 40 * i)
    out = tmp_path / "out"
    done = run_cli("build", "birdclef-mel", "-j", "1", "-q", "-o", out, "--set", f"source.path={src}")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    rows = _rows(out)
    assert set(rows) == {"train", "validation"}
    _assert_leak_free(rows, 5)
    lines = done.stderr.splitlines()
    assert [line for line in lines if line.startswith("warning: output.splits: validation has no window of")] == [
        "warning: output.splits: validation has no window of 1 of 3 labels (owl); too few recordings of them "
        "to spread over the splits"], done.stderr
    assert len([line for line in lines if line.startswith("warning: output.folds: ")]) == 1, done.stderr


def test_splits_by_window_warn_once_and_are_stratified_by_label_for_any_worker_count(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "wren" / "long.wav", 10.0)  # 20 windows of 0.5 s
    for i in range(5):  # one window each: a per-window hash gave such a label 1 train / 4 validation
        write_tone(src / "robin" / f"r{i}.wav", 0.5, freq=900 + 50 * i)
    splits = {"train": 0.6, "validation": 0.4, "by": "window", "stratify": True}
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}" / "out"  # the same name: the card and build.json show it
        out.parent.mkdir()
        cfg = write_config(out.parent / "c.yaml", src, out, output={"splits": splits})
        done = run_cli("build", cfg, "-j", jobs, "-q")
        assert done.returncode == 0, done.stderr
        warned = [line for line in done.stderr.splitlines() if "by: window" in line]
        assert warned == ["warning: output.splits.by: window puts windows of one recording in different splits: they "
                          "are near-duplicates, so scores on a held-out split come out too high; use by: source for "
                          "a leak-free evaluation"], done.stderr
        outs.append(out)
    counts: dict[str, Counter] = defaultdict(Counter)
    for split, part in _rows(outs[0]).items():
        for row in part:
            counts[row["source"].split("/")[0]][split] += 1
    assert counts == {"wren": Counter(train=12, validation=8), "robin": Counter(train=3, validation=2)}
    assert snapshot(outs[0]) == snapshot(outs[1])
    assert "are drawn by window: windows of one recording can be in different splits, per label" in (
        outs[0] / "README.md").read_text()


def _corpus_with_a_broken_recording(src: Path) -> None:
    for i in range(4):
        write_tone(src / "wren" / f"w{i}.wav", 0.6, freq=300 + 40 * i)
    write_tone(src / "robin" / "r0.wav", 0.6, freq=900)
    (src / "owl").mkdir(parents=True)
    (src / "owl" / "broken.wav").write_bytes(b"RIFF, but not audio" * 10)  # skipped when decoded


OWL = ("warning: 1 of 3 labels (owl) got no window in any split: every recording of them was skipped or gave none "
       "(see skipped in build.json); their ClassLabel ids have no row")  # its only recording is broken


def test_a_split_that_lacks_labels_gets_one_warning_line_naming_them_also_with_quiet(tmp_path):
    src = tmp_path / "src"
    _corpus_with_a_broken_recording(src)
    cfg = write_config(tmp_path / "c.yaml", src, tmp_path / "out",
                       output={"splits": {"train": 0.75, "validation": 0.25}})
    done = run_cli("build", cfg, "-j", "1", "-q")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("warning:")] == [
        OWL, "warning: output.splits: validation has no window of 1 of 3 labels (robin); too few recordings of them "
        "to spread over the splits"], done.stderr


def test_an_empty_fold_and_folds_that_lack_labels_get_one_warning_line_each(tmp_path):
    src = tmp_path / "src"
    _corpus_with_a_broken_recording(src)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"splits": {"train": 1.0}, "folds": 6})
    done = run_cli("build", cfg, "-j", "1", "-q")
    assert done.returncode == 0, done.stderr
    folds = {row["source"]: row["fold"] for row in _rows(out)["train"]}
    empty = sorted(set(range(6)) - set(folds.values()))
    lacking = "; ".join(f"fold {f} lacks {'wren' if src == 'robin/r0.wav' else 'robin'}"
                        for src, f in sorted(folds.items(), key=lambda kv: kv[1]))
    assert [line for line in done.stderr.splitlines() if line.startswith("warning:")] == [
        OWL, f"warning: output.folds: fold {empty[0]} (of 0-5) got no window (its recordings were skipped or gave none); "
        "lower output.folds or add recordings",
        f"warning: output.folds: 5 of 6 folds lack labels of the 2 in train ({lacking}); a label needs as many "
        "train recordings as folds to be in every fold"], done.stderr
