"""``audio_seconds`` on every row of every layout: the seconds of real (not zero-padded) audio in
the window, the file's remaining length for a padded last window and the full window otherwise;
``load_dataset`` types it as float64, and the card counts the windows that are mostly padding."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from datasets import Image

from tests.helpers.cli import REPO, load, run_cli, write_config, write_tone

LENGTHS = {"a/long.wav": 1.3, "a/whole.wav": 1.0, "b/sliver.wav": 1.1, "b/short.wav": 0.8}  # 0.5-s windows, hop 0.5


@pytest.mark.parametrize("layout", ["imagefolder", "parquet", "mirror"])
def test_audio_seconds_is_the_real_audio_of_each_window(tmp_path, layout):
    src, out = tmp_path / "src", tmp_path / "out"
    for rel, seconds in LENGTHS.items():
        write_tone(src / rel, seconds)
    splits = {"train": 1.0} if layout == "mirror" else {"train": 0.5, "test": 0.5}
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"layout": layout, "splits": splits})
    result = run_cli("build", cfg, "-j", "2", "-q")
    assert result.returncode == 0, result.stderr
    ds = load(out)
    rows = [row for split in ds.values() for row in split.remove_columns("image")]
    assert len(rows) == json.loads((out / "build.json").read_text())["windows"] == 3 + 2 + 3 + 2
    for split in ds.values():
        assert split.features["audio_seconds"].dtype == "float64"
    for row in rows:
        info = sf.info(str(src / row["source"]))
        remaining = info.frames / info.samplerate - row["start"]
        want = min(0.5, remaining)  # padded last windows: what is left of the file
        assert row["audio_seconds"] == pytest.approx(want, abs=1e-6), row
    padded = sorted(round(r["audio_seconds"], 6) for r in rows if r["audio_seconds"] < 0.5)
    assert padded == [0.1, 0.3, 0.3]
    # 0.1 s of 0.5 is more than half padding; 0.3 s is not
    assert "3 of 10 windows (30%) are the last window" in (out / "README.md").read_text()
    assert "1 of them is more than half padding" in (out / "README.md").read_text()


@pytest.mark.parametrize("layout", ["parquet", "webdataset"])
def test_the_stats_doc_filter_runs_on_each_layout_without_decoding_an_image(tmp_path, layout, monkeypatch):
    """docs/stats.md's ``audio_seconds`` filter as printed (threshold scaled to these 0.5-s windows): the
    column in parquet, a field of ``json`` in webdataset; ``input_columns`` keeps every PNG undecoded."""
    src, out = tmp_path / "src", tmp_path / "out"
    for rel, seconds in LENGTHS.items():
        write_tone(src / rel, seconds)
    cfg = write_config(tmp_path / "c.yaml", src, out, output={"layout": layout, "splits": {"train": 1.0}})
    result = run_cli("build", cfg, "-j", "1", "-q")
    assert result.returncode == 0, result.stderr
    doc = (REPO / "docs" / "stats.md").read_text().split("## Padded windows", 1)[1]
    [line] = [x for x in doc.splitlines() if x.startswith("ds = ds.filter(") and
              x.endswith("# webdataset") == (layout == "webdataset")]
    ds = load(out)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the filter decoded an image")
    monkeypatch.setattr(Image, "decode_example", no_decoding)
    scope = {"ds": ds}
    exec(line.replace(">= 2.5", ">= 0.25"), scope)  # 0.1 s of real audio: the one window below
    assert scope["ds"]["train"].num_rows == 10 - 1
