"""builder.sources.discover: sorted recordings, labels from folders or a CSV, and every skip reported."""

from __future__ import annotations

import csv
import os
import unicodedata
from pathlib import Path

import pytest

from builder.sources.discover import discover, parse_label_list
from builder.errors import SourceError
from builder.config.source import CsvLabels, SourceConfig


def touch(root: Path, *rels: str) -> None:
    """Placeholder files: discovery looks at names and stat(), never at the audio."""
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")


def rels(files) -> list[str]:
    return [f.rel for f in files]


def reasons(skipped) -> dict[str, str]:
    return {s.path: s.reason for s in skipped}


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "audio"
    touch(
        root,
        "robin/b.wav", "robin/a.WAV", "robin/calls/c.flac", "owl/x.Mp3", "owl/notes.txt",
        "root_level.ogg", ".cache/hidden_folder.wav", "owl/.hidden.wav",
        "wren/x.wav/inside.ogg",  # a folder named like an audio file
    )
    os.symlink(root / "nowhere.wav", root / "owl" / "broken.wav")
    return root


def test_folder_labels_sorted_with_any_extension_case(tree):
    files, _ = discover(SourceConfig(path=tree))
    assert rels(files) == ["owl/x.Mp3", "robin/a.WAV", "robin/b.wav", "robin/calls/c.flac", "wren/x.wav/inside.ogg"]
    assert [f.label for f in files] == ["owl", "robin", "robin", "robin", "wren"]
    assert all(f.path.is_absolute() and f.extra_labels == () for f in files)


def test_folder_labels_report_every_skip(tree):
    _, skipped = discover(SourceConfig(path=tree))
    found = reasons(skipped)
    assert list(found) == sorted(found)
    assert set(found) == {".cache/hidden_folder.wav", "owl/.hidden.wav", "owl/broken.wav", "root_level.ogg"}
    assert "hidden" in found[".cache/hidden_folder.wav"] and "hidden" in found["owl/.hidden.wav"]
    assert "broken symlink" in found["owl/broken.wav"]
    assert "label folder" in found["root_level.ogg"]


def test_files_that_are_not_audio_are_ignored_silently(tree):
    files, skipped = discover(SourceConfig(path=tree))
    assert "owl/notes.txt" not in rels(files) + [s.path for s in skipped]


def test_labels_none_keeps_root_files(tree):
    files, skipped = discover(SourceConfig(path=tree, labels="none"))
    assert "root_level.ogg" in rels(files)
    assert all(f.label is None for f in files)
    assert "root_level.ogg" not in reasons(skipped)


def test_extensions_narrow_the_search(tree):
    files, _ = discover(SourceConfig(path=tree, extensions=(".FLAC", "ogg")))
    assert rels(files) == ["robin/calls/c.flac", "wren/x.wav/inside.ogg"]


def test_discovery_is_deterministic(tree):
    assert discover(SourceConfig(path=tree)) == discover(SourceConfig(path=tree))


def test_fingerprint_follows_size_and_mtime(tree):
    (f,) = [f for f in discover(SourceConfig(path=tree))[0] if f.rel == "robin/b.wav"]
    assert f.fingerprint == f"{f.size}:{f.mtime_ns}" and f.size == 4


def test_decomposed_folder_name_gives_a_composed_label(tmp_path):
    touch(tmp_path, unicodedata.normalize("NFD", "café") + "/a.wav")
    (f,), _ = discover(SourceConfig(path=tmp_path))
    assert f.label == "café" and unicodedata.is_normalized("NFC", f.label)


def test_missing_source_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="not a folder"):
        discover(SourceConfig(path=tmp_path / "missing"))


# --------------------------------------------------------------------------- CSV labels


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(primary: str, secondary: str, filename: str) -> dict:
    return dict(primary_label=primary, secondary_labels=secondary, type="['call']", filename=filename)


BIRDCLEF = CsvLabels(csv=Path("train_metadata.csv"), extra_labels_column="secondary_labels")


@pytest.fixture
def birdclef(tmp_path) -> tuple[Path, CsvLabels]:
    """A BirdCLEF-shaped train_audio/ folder and train_metadata.csv."""
    root = tmp_path / "train_audio"
    touch(root, "asbfly/XC1.ogg", "asbfly/XC2.ogg", "ashdro1/XC3.ogg", "ashdro1/XC4.ogg", "barfly1/XC5.ogg")
    rows = [
        row("asbfly", "['grewar1', 'comkin1']", "asbfly/XC1.ogg"),  # Python list literal, as Kaggle ships it
        row("asbfly", "[]", "asbfly/XC2.ogg"),
        row("ashdro1", '["grewar1", "ashdro1", "grewar1"]', "./ashdro1/XC3.ogg"),  # JSON list
        row("ashdro1", "comkin1; grewar1", "ashdro1\\XC4.ogg"),  # ';'-separated, Windows separator
        row("asbfly", "[]", "asbfly/XC9.ogg"),  # no such file
        row("", "[]", "asbfly/XC10.ogg"),  # no label
    ]
    csv_path = write_csv(tmp_path / "train_metadata.csv", rows)
    return root, BIRDCLEF.model_copy(update={"csv": csv_path})


def test_csv_labels_birdclef_shape(birdclef):
    root, labels = birdclef
    files, _ = discover(SourceConfig(path=root, labels=labels))
    got = {f.rel: (f.label, f.extra_labels) for f in files}
    assert got == {
        "asbfly/XC1.ogg": ("asbfly", ("grewar1", "comkin1")),
        "asbfly/XC2.ogg": ("asbfly", ()),
        # the primary label and repeats are dropped from the extras
        "ashdro1/XC3.ogg": ("ashdro1", ("grewar1",)),
        "ashdro1/XC4.ogg": ("ashdro1", ("comkin1", "grewar1")),
    }
    assert rels(files) == sorted(got)


def test_csv_labels_report_rows_without_files_and_files_without_rows(birdclef):
    root, labels = birdclef
    _, skipped = discover(SourceConfig(path=root, labels=labels))
    found = reasons(skipped)
    assert "not listed in train_metadata.csv" in found["barfly1/XC5.ogg"]
    assert "not found under source.path" in found["asbfly/XC9.ogg"]
    assert "without a file name or label" in found["train_metadata.csv:7"]
    assert len(found) == 3


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_csv_labels_at_a_url(birdclef, scheme):
    import fsspec

    root, labels = birdclef
    if scheme == "file":
        url = labels.csv.as_uri()
    else:
        url = f"memory://labels-{root.parent.name}/train_metadata.csv"
        with fsspec.open(url, "wb") as fh:
            fh.write(labels.csv.read_bytes())
    remote = labels.model_copy(update={"csv": url})
    assert discover(SourceConfig(path=root, labels=remote)) == discover(SourceConfig(path=root, labels=labels))
    with pytest.raises(SourceError, match=r"source.labels.csv: cannot read .*missing.csv"):
        discover(SourceConfig(path=root, labels=remote.model_copy(update={"csv": url.replace("train_metadata", "missing")})))


def test_csv_missing_column_is_a_source_error_naming_the_key(birdclef):
    root, labels = birdclef
    with pytest.raises(SourceError, match="source.labels.label_column: no column 'species'"):
        discover(SourceConfig(path=root, labels=labels.model_copy(update={"label_column": "species"})))


def test_csv_file_names_may_not_escape_the_source_folder(tmp_path):
    # HF folder-based builders refuse a file_name that leaves its folder; here "../x.wav" must not
    # quietly become the unrelated "x.wav" at the root.
    root = tmp_path / "audio"
    touch(root, "x.wav", "y.wav")
    csv_path = write_csv(tmp_path / "labels.csv", [dict(filename="../x.wav", primary_label="wren"),
                                                   dict(filename="y.wav", primary_label="wren")])
    files, skipped = discover(SourceConfig(path=root, labels=CsvLabels(csv=csv_path)))
    assert rels(files) == ["y.wav"]
    assert "x.wav" in reasons(skipped)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("['grewar1', 'comkin1']", ("grewar1", "comkin1")),
        ('["grewar1", "comkin1"]', ("grewar1", "comkin1")),
        ("['a', \"b\"]", ("a", "b")),
        ("grewar1;comkin1", ("grewar1", "comkin1")),
        (" a ; ;b ", ("a", "b")),
        ("single", ("single",)),
        ("[]", ()),
        ("", ()),
        ("nan", ()),
        ("None", ()),
        (None, ()),
        ("[' a ', '']", ("a",)),
        ("[1, 2]", ("1", "2")),
    ],
)
def test_parse_label_list(raw, expected):
    assert parse_label_list(raw) == expected


def test_events_attach_to_recordings_and_fold_into_the_fingerprint(tmp_path):
    from builder.sources.events import Event
    from builder.config.source import EventLabels

    touch(tmp_path / "audio", "a.wav", "sub/b.wav")
    ann = tmp_path / "ann.csv"
    ann.write_text("filename,start,end,label\na.wav,1,2,owl\nnope.wav,1,2,owl\n")
    cfg = SourceConfig(path=tmp_path / "audio", labels=EventLabels(events=ann))
    files, skipped = discover(cfg)
    assert {f.rel: f.events for f in files} == {"a.wav": (Event(1.0, 2.0, "owl"),), "sub/b.wav": ()}
    assert all(f.label is None for f in files)  # labels come per window
    assert reasons(skipped) == {"ann.csv:3": "no recording 'nope.wav' under source.path"}
    before = {f.rel: f.fingerprint for f in files}
    ann.write_text("filename,start,end,label\na.wav,1,2.5,owl\n")
    after = {f.rel: f.fingerprint for f in discover(cfg)[0]}
    assert after["a.wav"] != before["a.wav"] and after["sub/b.wav"] == before["sub/b.wav"]


# --------------------------------------------------------------------------- nothing usable (#14)


def test_an_empty_source_folder_is_a_source_error(tmp_path):
    touch(tmp_path, "readme.txt")
    with pytest.raises(SourceError, match=r"no audio files under .*looked for .*\.wav"):
        discover(SourceConfig(path=tmp_path))


def test_only_unreadable_audio_is_a_source_error_with_an_example(tmp_path):
    touch(tmp_path, "a/.hidden.wav")
    with pytest.raises(SourceError, match=r"none of the 1 audio file\(s\) .* a/.hidden.wav: hidden"):
        discover(SourceConfig(path=tmp_path))


def test_files_without_class_folders_say_what_to_do(tmp_path):
    touch(tmp_path, "a.wav", "b.wav")
    with pytest.raises(SourceError, match=r"no class sub-folders under .*: put files in .*/<label>/ or set "
                                          r"source.labels: none"):
        discover(SourceConfig(path=tmp_path))
    assert rels(discover(SourceConfig(path=tmp_path, labels="none"))[0]) == ["a.wav", "b.wav"]


def test_birdclef_2021_csv_without_folder_part_matches_the_label_folder(tmp_path):
    # BirdCLEF 2021's train_metadata.csv says filename=XC1.ogg; the file is train_short_audio/acafly/XC1.ogg.
    root = tmp_path / "train_short_audio"
    touch(root, "acafly/XC1.ogg", "acafly/XC2.ogg", "amecro/XC3.ogg", "amecro/XC1.ogg")
    csv_path = write_csv(tmp_path / "t.csv", [row("acafly", "['amecro']", "XC1.ogg"), row("acafly", "[]", "XC2.ogg"),
                                              row("amecro", "[]", "XC3.ogg")])
    files, skipped = discover(SourceConfig(path=root, labels=BIRDCLEF.model_copy(update={"csv": csv_path})))
    assert {f.rel: (f.label, f.extra_labels) for f in files} == {
        "acafly/XC1.ogg": ("acafly", ("amecro",)), "acafly/XC2.ogg": ("acafly", ()), "amecro/XC3.ogg": ("amecro", ())}
    assert reasons(skipped) == {"amecro/XC1.ogg": "not listed in t.csv"}  # XC1.ogg's row says acafly


def test_csv_without_folder_part_and_other_folders_says_so(tmp_path):
    root = tmp_path / "audio"
    touch(root, "batch1/XC1.ogg", "batch1/XC2.ogg")
    csv_path = write_csv(tmp_path / "t.csv", [row("acafly", "[]", "XC1.ogg"), row("acafly", "[]", "XC2.ogg")])
    with pytest.raises(SourceError, match=r"filename column has no folder part \('XC1.ogg'\) .*'batch1/XC1.ogg'"):
        discover(SourceConfig(path=root, labels=BIRDCLEF.model_copy(update={"csv": csv_path})))


def test_csv_that_matches_no_file_is_a_source_error(tmp_path):
    root = tmp_path / "audio"
    touch(root, "a/x.ogg")
    csv_path = write_csv(tmp_path / "t.csv", [row("a", "[]", "b/y.ogg")])
    with pytest.raises(SourceError, match=r"none of the 1 recording\(s\) .* listed in t.csv"):
        discover(SourceConfig(path=root, labels=BIRDCLEF.model_copy(update={"csv": csv_path})))


def test_conflicting_duplicate_csv_rows_stop_naming_the_file_and_lines(birdclef):
    root, labels = birdclef
    rows = list(csv.DictReader(open(labels.csv, encoding="utf-8")))
    rows.insert(3, row("barfly1", "[]", "asbfly/XC2.ogg"))  # line 5; the first XC2 row is line 3
    write_csv(labels.csv, rows)
    with pytest.raises(SourceError, match=r"lists 'asbfly/XC2.ogg' on lines 3 and 5 with different values "
                                          r"\(primary_label 'asbfly' vs 'barfly1'\)"):
        discover(SourceConfig(path=root, labels=labels))


def test_duplicate_rows_differing_in_secondary_labels_or_kept_columns_stop(birdclef):
    root, labels = birdclef
    rows = list(csv.DictReader(open(labels.csv, encoding="utf-8")))
    first = next(r for r in rows if r["filename"] == "asbfly/XC2.ogg")
    write_csv(labels.csv, rows + [{**first, "secondary_labels": "['zzz']"}])
    with pytest.raises(SourceError, match=r"different values \(secondary_labels \[.*\] vs \['zzz'\]\)"):
        discover(SourceConfig(path=root, labels=labels))
    extra = [{**r, "author": "Carol"} for r in rows] + [{**first, "author": "Dave"}]
    write_csv(labels.csv, extra)
    keep = labels.model_copy(update={"keep_columns": ("author",)})
    with pytest.raises(SourceError, match=r"different values \(author 'Carol' vs 'Dave'\)"):
        discover(SourceConfig(path=root, labels=keep))


def test_identical_duplicate_csv_rows_are_merged_with_a_note(birdclef, caplog):
    root, labels = birdclef
    before = discover(SourceConfig(path=root, labels=labels))
    rows = list(csv.DictReader(open(labels.csv, encoding="utf-8")))
    write_csv(labels.csv, rows + [row("asbfly", "['comkin1', 'grewar1']", "asbfly/XC1.ogg")])  # extras reordered
    with caplog.at_level("INFO", logger="builder.sources.discover"):
        assert discover(SourceConfig(path=root, labels=labels)) == before
    assert "1 row(s) repeat a file with the same labels" in caplog.text and "merged" in caplog.text
