"""Bad audio never crashes a build: every file is built, or skipped with a reason in build.json."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from builder.config.loading import load_config
from builder.pipeline import build
from builder.config.source import AUDIO_EXTENSIONS

from tests.helpers.cli import DEMO, run_cli, write_config, write_tone

EXTENSIONS = [*AUDIO_EXTENSIONS, "mp4"]  # the video's AAC track is audio too
WINDOW = 2.0


def _nasty(root: Path, nasty_dir: Path) -> Path:
    """../shared/corpus/nasty (or its generated stand-in) plus what it lacks here: truncated ogg
    files, real symlinks."""
    src = root / "src"
    shutil.copytree(nasty_dir, src / "nasty", symlinks=True)
    for p in [src, *src.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | 0o200)
    ogg = (DEMO / "drum_loop" / "loop_compus.ogg").read_bytes()
    (src / "nasty" / "truncated_half.ogg").write_bytes(ogg[: len(ogg) // 2])  # decodes up to the cut
    (src / "nasty" / "truncated_headers_only.ogg").write_bytes(ogg[:20000])  # no audio page at all
    (src / "nasty" / "garbage.mp3").write_bytes(os.urandom(5000))
    (src / "nasty" / "symlink_to_audio.wav").unlink()
    os.symlink("one_second_clip.wav", src / "nasty" / "symlink_to_audio.wav")
    os.symlink("does_not_exist.wav", src / "nasty" / "dangling_symlink.wav")
    return src


def _audio_named(src: Path) -> set[str]:
    return {p.relative_to(src).as_posix() for p in src.rglob("*")
            if (p.is_file() or p.is_symlink()) and p.suffix.lower().lstrip(".") in EXTENSIONS}


def _rows(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for meta in sorted(out.glob("*/metadata.parquet")) for row in pq.read_table(meta).to_pylist()]


def test_nasty_corpus_builds_or_reports_every_file(tmp_path, nasty_dir):
    src = _nasty(tmp_path, nasty_dir)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "nasty.yaml", src, source={"extensions": EXTENSIONS},
                       windows={"duration": WINDOW, "hop": WINDOW, "min_last": 0.1, "min_duration": 0.1},
                       output={"splits": {"train": 1.0}})
    done = run_cli("build", cfg, "-o", out, "-j", "2")  # not --quiet: it leaves out the skip list
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    record = json.loads((out / "build.json").read_text())
    skipped = {s["path"]: s["reason"] for s in record["skipped"]}
    rows = _rows(out)
    built = {r["source"] for r in rows}
    everything = _audio_named(src)
    assert built | set(skipped) == everything and not built & set(skipped)
    assert all(reason.strip() for reason in skipped.values())
    for path in skipped:  # one line each on stdout
        assert f"  skipped {path}: {skipped[path]}" in done.stdout

    n = "nasty/"
    for bad, why in [("zero_length.wav", "empty"), ("not_audio_text.wav", "not a readable audio file"),
                     ("garbage.mp3", ""), ("truncated_headers_only.ogg", ""), ("truncated.flac", ""),
                     ("dangling_symlink.wav", "broken symlink"), (".hidden_recording.wav", "hidden"),
                     ("._appledouble_junk.wav", "hidden"), ("very_short_20ms.flac", "shorter than")]:
        assert why in skipped[n + bad], (bad, skipped[n + bad])
    for good in ["eight_channel_44k.flac", "six_channel_22k_24bit.wav", "float32_44k.wav", "int32_44k.wav",
                 "pcm24_48k.wav", "mulaw_8k.wav", "telephone_8k.wav", "one_second_clip.wav", "long_18min_8k_mono.wav",
                 "mp3_named_as.wav", "wav_named_as.flac", "flac_named_as.ogg", "opus_in_ogg_container.ogg",
                 "video_with_aac_audio.mp4", "truncated_half.ogg", "truncated.wav", "symlink_to_audio.wav",
                 "directory_named_like_audio.wav/inside.ogg", "Kohlmeise – Gesang Nr. 1 (Großstadt, ñ, 鳥).wav",
                 "café señal 🐦 owl.ogg", "same_stem/laser1.wav", "same_stem/laser1.ogg", "same_stem/laser1.mp3"]:
        assert n + good in built, good
    # the > 10-minute file is streamed whole: one window per 2 s, the last one padded
    info = sf.info(str(src / "nasty" / "long_18min_8k_mono.wav"))
    assert sum(r["source"] == n + "long_18min_8k_mono.wav" for r in rows) == math.ceil(info.duration / WINDOW)
    assert sum(r["source"] == n + "one_second_clip.wav" for r in rows) == 1
    # every row's image exists; the skipped count is in the card too
    for r in rows:
        assert (out / "train" / r["file_name"]).is_file()
    strict = run_cli("build", cfg, "-o", out, "-j", "2", "--quiet", "--strict")
    assert strict.returncode == 1 and "up to date" in strict.stdout
    assert f"{len(skipped)} file(s) skipped" in strict.stdout


def test_native_rates_and_channel_counts(tmp_path):
    """audio.sample_rate: null keeps each file's rate; odd rates, channel counts and sample
    formats all build (generated, so this runs without the shared corpus)."""
    src = tmp_path / "src" / "odd"
    write_tone(src / "rate_8k.wav", 1.2, rate=8000)
    write_tone(src / "six_channels.wav", 1.2, rate=22050, channels=6, subtype="PCM_24")
    write_tone(src / "eight_channels.flac", 1.2, rate=44100, channels=8)
    write_tone(src / "float.wav", 1.2, rate=48000, channels=2, subtype="FLOAT")
    write_tone(src / "double.wav", 1.2, rate=96000, subtype="DOUBLE")
    write_tone(src / "u8.wav", 1.2, rate=11025, subtype="PCM_U8")
    write_tone(src / "one_second.wav", 1.0)
    cfg = load_config(write_config(tmp_path / "cfg.yaml", tmp_path / "src", tmp_path / "out",
                                   audio={"sample_rate": None}, output={"splits": {"train": 1.0}},
                                   spectrogram={"f_max": None}))
    report = build(cfg, workers=2, progress=False)
    assert report.skipped == []
    assert report.record["sources"] == 7
    assert report.record["sample_rates"] == [8000, 11025, 16000, 22050, 44100, 48000, 96000]


@pytest.mark.parametrize("content, why", [(b"", "empty file"), (b"RIFF\x00\x00\x00\x00WAVEfmt ", ""),
                                          (b"\x00" * 4096, ""), (b"ID3" + b"\xff" * 100, "")])
def test_tiny_hostile_files(tmp_path, content, why):
    src = tmp_path / "src" / "l"
    write_tone(src / "good.wav", 0.6)
    (src / "bad.wav").write_bytes(content)
    cfg = load_config(write_config(tmp_path / "cfg.yaml", tmp_path / "src", tmp_path / "out"))
    report = build(cfg, workers=1, progress=False)
    assert [s["path"] for s in report.skipped] == ["l/bad.wav"]
    assert why in report.skipped[0]["reason"]
