"""The Hub's 10,000-files-per-folder limit: big labels go to numbered sub-folders, small ones stay flat."""

from __future__ import annotations

import logging
import os

from builder.sources.discover import SourceFile
from builder.plan.dataset import FOLDER_BUDGET, FOLDER_LIMIT, make_plan
from builder.pipeline import build

from tests.helpers.layouts import REPO, demo_config, load, tone


def _sources(label: str, n: int) -> list[SourceFile]:
    return [SourceFile(f"/x/{label}/r{i:03d}.wav", f"{label}/r{i:03d}.wav", label, (), 1, 1) for i in range(n)]


def test_sub_folders_only_where_a_label_could_overflow(tmp_path):
    cfg = demo_config(tmp_path / "out", tmp_path, "output.splits={train: 1.0}")
    sources = _sources("big", 30) + _sources("small", 3)
    plan = make_plan(cfg, sources, windows=lambda s: 1000)  # 30,000 windows in "big", 3,000 in "small"
    folders = [plan.entries[s.rel].folder for s in sources]
    assert set(folders[30:]) == {"small"}  # fits: the path is exactly as before
    per_folder = {f: folders.count(f) * 1000 for f in set(folders[:30])}
    assert sorted(per_folder) == ["big/0000", "big/0001", "big/0002", "big/0003"]
    assert max(per_folder.values()) <= FOLDER_BUDGET
    assert folders[:30] == sorted(folders[:30])  # recordings in sorted order: contiguous sub-folders
    again = make_plan(cfg, sources, windows=lambda s: 1000)
    assert [again.entries[s.rel].folder for s in sources] == folders


def test_an_11000_window_label_loads_in_full_with_no_folder_over_the_limit(tmp_path):
    audio = tmp_path / "audio"
    for i in range(2):  # 2 × 55 s of 10-ms windows: 11,000 windows of one label
        tone(audio / "tone" / f"r{i}.wav", 55.0, 440.0 + i, rate=8000)
    cfg = demo_config(tmp_path / "out", audio, "audio.sample_rate=8000", "windows={duration: 0.01, hop: 0.01, last: drop}",
                      "spectrogram={kind: stft, n_fft: 64, hop_length: 16}", "output.splits={train: 1.0}",
                      "output.stats=false")
    record = build(cfg, workers=1, progress=False).record
    assert record["windows"] == 11_000
    biggest = max(len(dirs) + len(files) for _, dirs, files in os.walk(cfg.output.path))
    assert biggest <= FOLDER_LIMIT
    assert sorted(os.listdir(cfg.output.path / "train" / "tone")) == ["0000", "0001"]
    ds = load(cfg.output.path)
    assert ds["train"].num_rows == 11_000
    assert ds["train"].features["label"].names == ["tone"]


def test_mirror_folders_that_could_overflow_get_numbered_sub_folders(tmp_path):
    cfg = demo_config(tmp_path / "out", tmp_path, "output.layout=mirror", "output.splits={train: 1.0}")
    sources = _sources("big", 12) + _sources("small", 2)
    plan = make_plan(cfg, sources, windows=lambda s: 1000)  # 12,000 windows in "big"
    folders = [plan.entries[s.rel].folder for s in sources]
    assert folders[12:] == ["small", "small"]
    assert sorted(set(folders[:12])) == ["big/0000", "big/0001"] and folders[:12] == sorted(folders[:12])


def test_one_recording_of_11000_windows_is_split_by_window_index_and_parquet_suggested(tmp_path, caplog):
    from builder.cli.main import main

    tone(tmp_path / "audio" / "tone" / "soundscape.wav", 110.0, 440.0, rate=8000)  # 11,000 10-ms windows
    out, stage = tmp_path / "out", tmp_path / "stage"
    sets = ["audio.sample_rate=8000", "windows={duration: 0.01, hop: 0.01, last: drop}", "output.stats=false",
            "spectrogram={kind: stft, n_fft: 64, hop_length: 16}", "output.splits={train: 1.0}"]
    caplog.set_level(logging.INFO, logger="spectroset")
    argv = ["build", str(REPO / "examples" / "demo.yaml"), "-o", str(out), "-j", "1", "--quiet",
            "--set", f"source.path={tmp_path / 'audio'}", *(x for s in sets for x in ("--set", s))]
    assert main(argv) == 0
    biggest = max(len(dirs) + len(files) for _, dirs, files in os.walk(out))
    assert biggest <= FOLDER_LIMIT
    chunks = sorted(os.listdir(out / "train" / "tone"))
    assert chunks == ["0000", "0001"]
    assert [len(os.listdir(out / "train" / "tone" / c)) for c in chunks] == [FOLDER_BUDGET, 11_000 - FOLDER_BUDGET]
    assert (out / "train" / "tone" / "0000" / "soundscape_90.png").is_file()  # window 8,999 ends at 90 s
    assert (out / "train" / "tone" / "0001" / "soundscape_90.01.png").is_file()  # window 9,000: the next folder
    assert "the Hub's dataset viewer shows only part of an imagefolder" in caplog.text
    ds = load(out)
    assert ds["train"].num_rows == 11_000
    caplog.clear()
    assert main(["push", str(out), "--to", "hf", "--dry-run", str(stage)]) == 0
    assert "output.layout: parquet shows them all" in caplog.text


def test_sub_folders_only_in_a_split_that_needs_them_so_label_folders_stay_flat(tmp_path):
    """10,000 windows of one label, 5,000 per split: no folder of a split could overflow, so the
    images sit right in ``<split>/<label>/`` where fastai (parent folder = label, grandparent =
    split) and torchvision's ImageFolder (class = folder below the split) look, and no ``0000/``
    folder passes for a label. The preview stays outside the split folders."""
    from builder.cli.main import main

    for i in range(2):
        tone(tmp_path / "audio" / "tone" / f"r{i}.wav", 50.0, 440.0 + i, rate=8000)
    out = tmp_path / "out"
    sets = ["audio.sample_rate=8000", "windows={duration: 0.01, hop: 0.01, last: drop}", "output.stats=false",
            "spectrogram={kind: stft, n_fft: 64, hop_length: 16}", "output.splits={train: 0.5, validation: 0.5}",
            f"source.path={tmp_path / 'audio'}"]
    assert main(["build", str(REPO / "examples" / "demo.yaml"), "-o", str(out), "-j", "1", "--quiet",
                 *(x for s in sets for x in ("--set", s))]) == 0
    for split in ("train", "validation"):
        assert sorted(p.name for p in (out / split).iterdir() if p.is_dir()) == ["tone"]  # torchvision's classes
        images = list((out / split).rglob("*.png"))
        assert len(images) == 5_000
        assert {(p.parent.parent.name, p.parent.name) for p in images} == {(split, "tone")}  # fastai's split, label
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.png") if p.parts[len(out.parts)] not in
            ("train", "validation")] == ["preview.png"]
