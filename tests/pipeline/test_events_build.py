"""Builds with time-stamped labels through the CLI: per-window labels, selection, folds, loadable."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from builder.cli.main import main

from tests.helpers.demo import load, snapshot

SR = 16000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
CFG = """
source:
  path: audio
  labels:
    events: {events}
audio:
  sample_rate: 16000
windows:
  duration: 1.0
spectrogram:
  n_fft: 512
  hop_length: 256
  n_mels: 32
"""


def bursts(total_s: float, at: list[tuple[float, float, float]]) -> np.ndarray:
    """Silence with tone bursts ``(start_s, end_s, Hz)``."""
    x = np.zeros(int(total_s * SR), np.float32)
    for a, b, hz in at:
        t = np.arange(int(a * SR), int(b * SR))
        x[t] = 0.5 * np.sin(2 * np.pi * hz * t / SR)
    return x


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "audio" / "site1").mkdir(parents=True)
    sf.write(tmp_path / "audio" / "site1" / "a.wav", bursts(6, [(1.2, 1.9, 1000), (3.0, 4.6, 3000)]), SR)
    sf.write(tmp_path / "audio" / "b.wav", bursts(4, [(0.5, 1.5, 2000)]), SR)
    sf.write(tmp_path / "audio" / "c.wav", bursts(3, []), SR)
    (tmp_path / "ann.csv").write_text("filename,start,end,label\nsite1/a.wav,1.2,1.9,owl\nsite1/a.wav,3.0,4.6,wren\n"
                                      "b.wav,0.5,1.5,owl\nb.wav,9,10,owl\nzzz.wav,1,2,owl\n")
    (tmp_path / "cfg.yaml").write_text(CFG.format(events="ann.csv"))
    return tmp_path


def cli(*argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["build", *map(str, argv), "--quiet"])
    return rc, err.getvalue()


def rows(out: Path, split: str = "train") -> list[dict]:
    part = load(out)[split]
    names = part.features["label"].names
    return [dict(source=r["source"], start=r["start"], label=names[r["label"]],
                 labels=[names[i] for i in r["labels"]], fold=r.get("fold")) for r in part.remove_columns("image")]


def test_tone_bursts_get_exact_labels_and_problems_are_reported(project):
    rc, _ = cli(project / "cfg.yaml", "-j", "1", "-o", project / "out", "--set", "output.folds=2")
    assert rc == 0
    got = rows(project / "out")
    assert [(r["source"], r["start"], r["label"]) for r in got] == [
        ("b.wav", 0.0, "owl"), ("b.wav", 1.0, "owl"), ("b.wav", 2.0, "nocall"), ("b.wav", 3.0, "nocall"),
        ("c.wav", 0.0, "nocall"), ("c.wav", 1.0, "nocall"), ("c.wav", 2.0, "nocall"),
        ("site1/a.wav", 0.0, "nocall"), ("site1/a.wav", 1.0, "owl"), ("site1/a.wav", 2.0, "nocall"),
        ("site1/a.wav", 3.0, "wren"), ("site1/a.wav", 4.0, "wren"), ("site1/a.wav", 5.0, "nocall")]
    ds = load(project / "out")
    assert ds["train"].features["label"].names == ["nocall", "owl", "wren"]
    assert str(ds["train"].features["fold"].dtype) == "int32"
    folds = {}
    for r in got:  # every recording's windows in one fold
        assert folds.setdefault(r["source"], r["fold"]) == r["fold"]
    assert set(folds.values()) == {0, 1}
    skipped = json.loads((project / "out" / "build.json").read_text())["skipped"]
    assert {s["path"] for s in skipped} == {"ann.csv:6", "b.wav"}  # unknown file; event past b's 4-s end


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_loudest_and_events_same_bytes_for_any_worker_count(project, layout):
    for select in (["windows.select=loudest", "windows.per_recording=1"], ["windows.select=events"]):
        sets = [x for s in [f"output.layout={layout}", "output.folds=2", *select] for x in ("--set", s)]
        for j in (1, 2):
            assert cli(project / "cfg.yaml", "-j", j, "-o", project / f"j{j}" / "out", "--force", *sets)[0] == 0
        assert snapshot(project / "j1" / "out") == snapshot(project / "j2" / "out")
        got = [(r["source"], r["start"], r["label"]) for r in rows(project / "j1" / "out")]
        if "windows.select=loudest" in select:  # the window holding most of each recording's tone
            assert got == [("b.wav", 0.0, "owl"), ("c.wav", 0.0, "nocall"), ("site1/a.wav", 3.0, "wren")]
        else:  # centred on each event; c.wav has none, b's late event gives no window
            assert got == [("b.wav", 0.5, "owl"), ("site1/a.wav", 1.05, "owl"), ("site1/a.wav", 3.3, "wren")]


def test_changed_annotation_rebuilds_only_its_recording(project):
    from builder.config.loading import load_config
    from builder.pipeline import build

    cfg = load_config(project / "cfg.yaml", [f"output.path={project / 'out'}"])
    assert build(cfg, workers=1, progress=False).decoded == 3
    text = (project / "ann.csv").read_text().replace("b.wav,0.5,1.5,owl", "b.wav,2.5,3.5,wren")
    (project / "ann.csv").write_text(text)
    report = build(cfg, workers=1, progress=False)
    assert (report.decoded, report.reused) == (1, 2)
    assert [(r["start"], r["label"]) for r in rows(project / "out") if r["source"] == "b.wav"] == [
        (0.0, "nocall"), (1.0, "nocall"), (2.0, "wren"), (3.0, "wren")]


def test_background_null_drops_windows_without_events(project):
    rc, _ = cli(project / "cfg.yaml", "-j", "1", "-o", project / "out", "--set", "source.labels.background=null")
    assert rc == 0
    got = rows(project / "out")
    assert {r["label"] for r in got} == {"owl", "wren"} and len(got) == 5
    assert load(project / "out")["train"].features["label"].names == ["owl", "wren"]


def test_background_null_leaves_unannotated_recordings_out_undecoded(project, capsys):
    sf.write(project / "audio" / "tiny.wav", bursts(0.04, []), SR)  # shorter than a window, no event
    rc = main(["build", str(project / "cfg.yaml"), "-j", "1", "-o", str(project / "out"),
               "--set", "source.labels.background=null"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "built 5 windows from 2 recordings (2 decoded, 0 reused)" in out
    assert "left out 2 recordings without an annotated event, undecoded (source.labels.background: null)" in out
    assert "no window kept" not in out
    skipped = {s["path"] for s in json.loads((project / "out" / "build.json").read_text())["skipped"]}
    assert not skipped & {"c.wav", "tiny.wav"}


def test_raven_fixture_builds(project):
    os.rename(project / "audio" / "site1" / "a.wav", project / "audio" / "rec1.wav")
    os.rename(project / "audio" / "b.wav", project / "audio" / "rec2.wav")
    (project / "cfg.yaml").write_text(CFG.format(events=FIXTURES / "raven"))
    assert cli(project / "cfg.yaml", "-j", "1", "-o", project / "out")[0] == 0
    got = {(r["source"], r["start"]): r["labels"] for r in rows(project / "out")}
    assert got[("rec1.wav", 1.0)] == ["bird_a"] and got[("rec2.wav", 1.0)] == ["bird_b"]
    assert got[("rec1.wav", 5.0)] == ["nocall"]  # bird_b's 0.2-s call at 6.2 s is in the next window
    skipped = {s["path"] for s in json.loads((project / "out" / "build.json").read_text())["skipped"]}
    assert {"rec1.Table.1.selections.txt:6", "session.Table.1.selections.txt:3", "rec1.wav"} <= skipped


def test_birdclef_soundscape_fixture_builds(project):
    audio = project / "audio"
    for f in list(audio.rglob("*.wav")):
        f.unlink()
    sf.write(audio / "7019_COR_20190904.wav", bursts(15, [(6, 9, 2000), (11, 14, 3000)]), SR)
    sf.write(audio / "2782_SSW_20170701.wav", bursts(10, [(6, 9, 1000)]), SR)
    columns = ("\n    file_column: row_id\n    start_column: null\n    end_column: seconds\n"
               "    label_column: birds\n    label_separator: ' '")
    (project / "cfg.yaml").write_text(CFG.format(events=str(FIXTURES / "soundscape_labels.csv") + columns)
                                      .replace("duration: 1.0", "duration: 5.0"))
    assert cli(project / "cfg.yaml", "-j", "1", "-o", project / "out")[0] == 0
    got = [(r["source"], r["start"], r["labels"]) for r in rows(project / "out")]
    assert got == [("2782_SSW_20170701.wav", 0.0, ["nocall"]), ("2782_SSW_20170701.wav", 5.0, ["grycat"]),
                   ("7019_COR_20190904.wav", 0.0, ["nocall"]), ("7019_COR_20190904.wav", 5.0, ["amecro", "rewbla"]),
                   ("7019_COR_20190904.wav", 10.0, ["rewbla"])]


def test_raven_demo_config_on_real_audio_keeps_the_loudest_window(tmp_path):
    """configs/events-raven.yaml on the bundled demo audio, one loudest window per recording."""
    from builder.sources.audio import read
    from builder.config.loading import load_config
    from builder.plan.windows import cut, plan_windows, rms

    repo = Path(__file__).resolve().parents[2]
    rc, err = cli(repo / "configs" / "events-raven.yaml", "-j", "2", "-o", tmp_path / "out",
                  "--set", "windows.select=loudest", "--set", "windows.per_recording=1")
    assert rc == 0, err
    got = rows(tmp_path / "out")
    cfg = load_config(repo / "configs" / "events-raven.yaml")
    demo = repo / "examples" / "demo-audio"
    assert len(got) == len(list(demo.rglob("*.*"))) - 1  # one per recording (MANIFEST.tsv aside)
    for r in got:
        if r["source"] in ("drum_loop/loop_safari.ogg", "drum_loop/loop_compus.ogg"):
            x, rate = read(demo / r["source"], 32000)
            windows = plan_windows(len(x), cfg.windows, rate)
            loudest = max(windows, key=lambda w: (rms(cut(x, w), w.valid_samples), -w.index))
            assert r["start"] == loudest.start


def test_folds_with_folder_labels_live_inside_train(tmp_path):
    """output.folds on the demo (folder labels, 3 splits): -1 outside train, grouped and spread inside."""
    from collections import Counter

    repo = Path(__file__).resolve().parents[2]
    rc, err = cli(repo / "examples" / "demo.yaml", "-j", "1", "-o", tmp_path / "out", "--set", "output.folds=3",
                  "--set", "output.layout=parquet")
    assert rc == 0, err
    ds = load(tmp_path / "out")
    for split in ("validation", "test"):
        assert set(ds[split]["fold"]) == {-1}
    train = ds["train"].remove_columns("image").to_pandas()
    per_source = train.groupby("source")["fold"].nunique()
    assert (per_source == 1).all()
    first = train.drop_duplicates("source")
    for _, group in first.groupby("label"):
        counts = Counter(group["fold"])
        assert max(counts.values()) - min(counts.get(f, 0) for f in range(3)) <= 1


def test_events_past_the_end_never_label_the_padding(project):
    sf.write(project / "audio" / "d.wav", bursts(3.5, [(0.2, 0.9, 1000)]), SR)
    with open(project / "ann.csv", "a") as fh:
        fh.write("d.wav,0.2,0.9,owl\nd.wav,3.6,3.9,wren\n")
    rc, err = cli(project / "cfg.yaml", "-j", "1", "-o", project / "out", "--set", "source.labels.background=null")
    assert rc == 0, err
    assert [(r["start"], r["label"]) for r in rows(project / "out") if r["source"] == "d.wav"] == [(0.0, "owl")]


def test_loudest_past_the_memory_cap_decodes_twice_to_the_same_bytes(project, monkeypatch):
    import builder.run.worker

    sets = ["--set", "windows.select=loudest", "--set", "windows.per_recording=2", "--set", "output.layout=parquet"]
    assert cli(project / "cfg.yaml", "-j", "1", "-o", project / "a" / "out", *sets)[0] == 0
    monkeypatch.setattr(builder.run.worker, "HOLD_BYTES", 0)  # -j 1 runs in this process
    assert cli(project / "cfg.yaml", "-j", "1", "-o", project / "b" / "out", *sets)[0] == 0
    assert snapshot(project / "a" / "out") == snapshot(project / "b" / "out")
    assert len(rows(project / "a" / "out")) == 6
