"""Hostile labels and file names: outputs stay inside OUT and unique; originals stay in metadata."""

from __future__ import annotations

import csv
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.config.loading import load_config
from builder.plan.names import MAX_BYTES, fold, safe_component, unique_components, unique_stems
from builder.pipeline import build

from tests.helpers.cli import load, snapshot, write_config, write_tone

CAFE_NFC = unicodedata.normalize("NFC", "café")
CAFE_NFD = unicodedata.normalize("NFD", "café")

# Folder labels: anything a Linux file name can hold (no "/" and no NUL there; see the CSV test).
FOLDER_LABELS = [
    "a..", "x..y", "a\\b", "tab\there", "new\nline", "\x01ctrl\x7f", "Birds", "birds", "BIRDS",
    "L" * 250, "é" * 120, " padded ", "trailing dot.", '*?<>|:"', "con", CAFE_NFC,
]
# File names inside one label folder: case, normalisation, separators, length, stems vs. stem-ext.
FILE_NAMES = [
    "Laser.wav", "laser.wav", "laser.flac", "laser-wav.wav", "laser-flac.ogg", f"{CAFE_NFC}.wav", f"{CAFE_NFD}.wav",
    "back\\slash.wav", "dots..wav", "new\nline.wav", "ctrl\x1b[31m.wav", "x" * 240 + ".wav",
    "ü" * 100 + ".flac", "ü" * 100 + "1.flac", "space name .wav", "a_1.wav", "a.wav",
]


def _check_outputs(out: Path, expected_sources: set[str], expected_labels: dict[str, str] | None = None):
    """Every output file is a regular file inside OUT; names are unique after case/Unicode folding;
    every window is present; ``source`` and ``label`` hold the original names."""
    root = out.resolve()
    files = [p for p in out.rglob("*") if ".spectroset" not in p.relative_to(out).parts]
    for p in files:
        assert not p.is_symlink(), p
        assert p.resolve().is_relative_to(root), p
        for part in p.relative_to(out).parts:
            assert part not in ("", ".", "..") and "\\" not in part, part
            assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in part), part
            assert len(part.encode()) <= 255, part
    folded = {}
    for p in files:
        key = fold(p.relative_to(out).as_posix())
        assert key not in folded, f"{p} collides with {folded[key]}"
        folded[key] = p
    ds = load(out)
    pngs = [p for p in files if p.suffix == ".png" and p.name != "preview.png"]
    assert sum(len(part) for part in ds.values()) == len(pngs)
    seen = {}
    for part in ds.values():
        names = part.features["label"].names
        for row in part:
            seen.setdefault(row["source"], names[row["label"]])
    assert set(seen) == expected_sources
    if expected_labels is not None:
        assert seen == expected_labels


def test_hostile_folder_labels_and_file_names(tmp_path):
    src = tmp_path / "src"
    sources = set()
    for i, label in enumerate(FOLDER_LABELS):
        write_tone(src / label / f"rec{i}.wav", 0.6, freq=200 + 40 * i)
        sources.add(f"{label}/rec{i}.wav")
    for i, name in enumerate(FILE_NAMES):
        write_tone(src / "mixed" / name, 0.6, freq=300 + 30 * i)
        sources.add(f"mixed/{name}")
    # the same label spelled in NFD: discovery normalises labels, so it joins CAFE_NFC
    write_tone(src / CAFE_NFD / "nfd.wav", 0.6)
    sources.add(f"{CAFE_NFD}/nfd.wav")
    cfg = load_config(write_config(tmp_path / "cfg.yaml", src, tmp_path / "out"))
    report = build(cfg, workers=1, progress=False)
    assert report.skipped == [] and report.record["sources"] == len(sources)
    labels = {rel: unicodedata.normalize("NFC", rel.split("/", 1)[0]) for rel in sources}
    _check_outputs(cfg.output.path, sources, labels)
    # the same dataset again is byte-identical (names do not depend on order or state)
    again = load_config(write_config(tmp_path / "cfg2.yaml", src, tmp_path / "again" / "out"))
    build(again, workers=2, progress=False)
    assert snapshot(again.output.path) == snapshot(cfg.output.path)


def test_hostile_csv_labels(tmp_path):
    """Labels a file name cannot hold (``/``, NUL, ``..`` paths) come from a CSV."""
    src = tmp_path / "src"
    labels = ["../../etc", "/abs/path", "a/b", "a_b", "..", ".", "nul\x00byte", "back\\", "\r\nx", "x" * 300,
              "Case", "case", CAFE_NFD, "ok"]
    rows = []
    for i, label in enumerate(labels):
        write_tone(src / f"f{i:02d}.wav", 0.6, freq=250 + 25 * i)
        rows.append({"filename": f"f{i:02d}.wav", "primary_label": label})
    with open(tmp_path / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["filename", "primary_label"])
        writer.writeheader()
        writer.writerows(rows)
    cfg = load_config(write_config(tmp_path / "cfg.yaml", src, tmp_path / "out",
                                   source={"labels": {"csv": str(tmp_path / "labels.csv")}}))
    report = build(cfg, workers=1, progress=False)
    assert report.skipped == []
    # a label is kept as written, except for the Unicode NFC normalisation discovery applies
    expected = {r["filename"]: unicodedata.normalize("NFC", r["primary_label"].strip()) or None for r in rows}
    expected = {k: v for k, v in expected.items() if v}
    _check_outputs(cfg.output.path, set(expected), expected)
    assert not (tmp_path / "etc").exists() and not Path("/abs/path").exists()


@pytest.mark.skipif(os.name != "posix", reason="needs a file system that stores raw bytes in names")
def test_non_utf8_file_name_is_reported_not_fatal(tmp_path):
    src = tmp_path / "src"
    write_tone(src / "label" / "good.wav", 0.6)
    try:
        os.rename(write_tone(src / "tmp.wav", 0.6), os.fsencode(str(src / "label")) + b"/bad\xff\xfe.wav")
    except OSError as exc:
        pytest.skip(f"file system refuses non-UTF-8 names: {exc}")
    cfg = load_config(write_config(tmp_path / "cfg.yaml", src, tmp_path / "out"))
    report = build(cfg, workers=1, progress=False)
    assert [s["path"] for s in report.skipped] == ["label/bad\ufffd\ufffd.wav"]
    assert "UTF-8" in report.skipped[0]["reason"]
    _check_outputs(cfg.output.path, {"label/good.wav"})


# -- names, unit level ---------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=80) | st.sampled_from(
    ["", ".", "..", "...", "/", "\\", "\x00", "a/../b", "CON", "Ab", "aB", CAFE_NFC, CAFE_NFD, "x" * 400, "é" * 200])
ext = st.sampled_from(["wav", "WAV", "flac", "ogg", "mp3", ""])


@settings(max_examples=300, deadline=None)
@given(names)
def test_safe_component_is_one_safe_component(name):
    c = safe_component(name)
    assert c and c not in (".", "..") and not c.startswith(".")
    assert "/" not in c and "\\" not in c and "\x00" not in c
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in c)
    assert len(c.encode("utf-8")) <= MAX_BYTES
    assert c == unicodedata.normalize("NFC", c)
    assert safe_component(name) == c  # stable


@settings(max_examples=200, deadline=None)
@given(st.lists(names, max_size=12))
def test_unique_components_are_unique_and_order_free(items):
    mapping = unique_components(items)
    assert set(mapping) == set(items)
    assert len({fold(v) for v in mapping.values()}) == len(mapping)
    assert unique_components(list(reversed(items))) == mapping
    for v in mapping.values():
        assert safe_component(v) == v and len(v.encode()) <= MAX_BYTES + 9


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, ext), max_size=12))
def test_unique_stems_are_unique_and_order_free(items):
    rels = [f"d/{stem}.{e}" if e else f"d/{stem}" for stem, e in items if "/" not in stem]
    mapping = unique_stems(rels)
    assert set(mapping) == set(rels)
    assert len({fold(v) for v in mapping.values()}) == len(mapping)
    assert unique_stems(list(reversed(rels))) == mapping
    for v in mapping.values():
        assert safe_component(v) == v


def test_stem_ext_form_cannot_collide_with_a_real_stem():
    """``laser.wav`` + ``laser.flac`` become ``laser-wav``/``laser-flac``; a file really named
    ``laser-wav.ogg`` must not take the same name."""
    mapping = unique_stems(["d/laser.wav", "d/laser.flac", "d/laser-wav.ogg"])
    assert len({fold(v) for v in mapping.values()}) == 3


def test_mirror_layout_hostile_folders(tmp_path):
    src = tmp_path / "src"
    sources = set()
    for i, folder in enumerate(["a\\b", "a_b", "A_B", "new\nline", "new_line", f"{CAFE_NFC}/deep", f"{CAFE_NFD}/deep"]):
        write_tone(src / folder / "x.wav", 0.6, freq=200 + 50 * i)
        sources.add(f"{folder}/x.wav")
    cfg = load_config(write_config(tmp_path / "cfg.yaml", src, tmp_path / "out",
                                   output={"layout": "mirror", "splits": {"train": 1.0}}))
    report = build(cfg, workers=1, progress=False)
    assert report.record["sources"] == len(sources)
    pngs = [p for p in cfg.output.path.rglob("*.png") if p.name != "preview.png"]
    assert len({fold(p.relative_to(cfg.output.path).as_posix()) for p in pngs}) == report.record["windows"]
