"""Time-stamped labels: reading CSV, Raven and BirdCLEF tables; labelling windows by overlap."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import SourceError
from builder.sources.events import Event, dominant_label, label_window, overlaps, past_end, read_events
from builder.config.source import EventLabels

FIXTURES = Path(__file__).parents[1] / "fixtures" / "events"


def spec(events, **kw) -> EventLabels:
    return EventLabels(events=events, **kw)


# --------------------------------------------------------------------------- labelling

EVENTS = [Event(1.0, 2.5, "a"), Event(4.0, 6.0, "b"), Event(4.5, 5.5, "b"), Event(6.2, 6.4, "c")]


def test_overlap_counts_each_label_once():
    assert overlaps(EVENTS, 0.0, 5.0) == {"a": 1.5, "b": 1.0}  # b's two events overlap: 4.0-5.0 once
    assert overlaps(EVENTS, 5.0, 10.0) == {"b": 1.0, "c": pytest.approx(0.2)}


@pytest.mark.parametrize("start,end,expected", [
    (0.0, 5.0, ("a", ("a", "b"))),  # a 1.5 s, b 1.0 s
    (2.0, 7.0, ("b", ("b", "c"))),  # a only 0.5 s < 0.6; c is short but wholly inside
    (10.0, 15.0, ("nocall", ("nocall",))),
    (2.25, 4.25, ("nocall", ("nocall",))),  # a 0.25 s, b 0.25 s: both under min_overlap
])
def test_label_window(start, end, expected):
    got = label_window(EVENTS, start, end, min_overlap=0.6, background="nocall")
    assert got == expected


def test_min_overlap_boundary_is_inclusive_and_ties_go_by_name():
    events = [Event(0.0, 1.0, "zeta"), Event(2.0, 3.0, "alpha")]
    assert label_window(events, 0.5, 2.5, 0.5, None) == ("alpha", ("alpha", "zeta"))
    assert label_window(events, 0.5, 2.5, 0.51, None) == (None, ())  # background: null drops it


def test_short_event_wholly_inside_counts():
    assert label_window([Event(3.0, 3.1, "chirp")], 0.0, 5.0, 1.0, "bg") == ("chirp", ("chirp",))
    assert label_window([Event(4.95, 5.05, "chirp")], 0.0, 5.0, 1.0, "bg") == ("bg", ("bg",))


def test_dominant_label_and_past_end():
    assert dominant_label(EVENTS, "bg") == "b"
    assert dominant_label([], "bg") == "bg"
    assert past_end([Event(1, 2, "a"), Event(9.5, 12, "b"), Event(10, 11, "c")], 10.0) == [Event(10, 11, "c")]


# --------------------------------------------------------------------------- reading


def test_csv(tmp_path):
    (tmp_path / "ann.csv").write_text(
        "filename,start,end,label\n"
        "site1/a.wav,1,2.5,owl\n"
        "site1/a.wav,0.5,0.75,wren\n"
        "b,3,4,owl\n"          # without its extension
        "site1/a.wav,5,5,owl\n"  # end <= start
        "gone.wav,1,2,owl\n"
        "b.flac,x,4,owl\n")
    events, problems = read_events(spec(tmp_path / "ann.csv"), ["site1/a.wav", "b.flac", "c.wav"])
    assert events == {"site1/a.wav": (Event(0.5, 0.75, "wren"), Event(1.0, 2.5, "owl")),
                      "b.flac": (Event(3.0, 4.0, "owl"),)}
    assert problems == [("ann.csv:5", "end 5 s is not after start 5 s"),
                        ("ann.csv:6", "no recording 'gone.wav' under source.path"),
                        ("ann.csv:7", "start or end is not a number")]


def test_csv_missing_column_names_the_key(tmp_path):
    (tmp_path / "ann.csv").write_text("file,start,end,label\n")
    with pytest.raises(SourceError, match=r"source.labels.file_column: no column 'filename' in ann.csv \(has file"):
        read_events(spec(tmp_path / "ann.csv"), [])


def test_raven_folder():
    rels = ["rec1.wav", "rec2.wav", "other.wav"]
    events, problems = read_events(spec(FIXTURES / "raven"), rels)
    # Views repeat each selection once; Begin File + File Offset place the multi-file selection.
    assert events == {"rec1.wav": (Event(1.0, 2.5, "bird_a"), Event(6.2, 6.4, "bird_b"), Event(40.0, 41.0, "bird_a")),
                      "rec2.wav": (Event(0.5, 1.5, "bird_b"),)}
    assert problems == [("rec1.Table.1.selections.txt:6", "end 7 s is not after start 7 s"),
                        ("session.Table.1.selections.txt:3", "no recording 'missing.wav' under source.path")]


def test_raven_table_without_a_recording(tmp_path):
    (tmp_path / "nobody.Table.1.selections.txt").write_text(
        "Selection\tBegin Time (s)\tEnd Time (s)\tAnnotation\n1\t1\t2\tx\n")
    events, problems = read_events(spec(tmp_path), ["rec.wav"])
    assert events == {} and problems[0][0] == "nobody.Table.1.selections.txt"


def test_raven_empty_folder(tmp_path):
    with pytest.raises(SourceError, match="no Raven tables"):
        read_events(spec(tmp_path), ["rec.wav"])


@pytest.mark.parametrize("file_column", ["row_id", "audio_id"])
def test_birdclef_soundscape(file_column):
    s = spec(FIXTURES / "soundscape_labels.csv", file_column=file_column, start_column=None,
             end_column="seconds", label_column="birds", label_separator=" ")
    rels = ["7019_COR_20190904.ogg", "2782_SSW_20170701.ogg"]
    events, problems = read_events(s, rels)
    assert events == {
        "7019_COR_20190904.ogg": (Event(5.0, 10.0, "amecro"), Event(5.0, 10.0, "rewbla"), Event(10.0, 15.0, "rewbla")),
        "2782_SSW_20170701.ogg": (Event(5.0, 10.0, "grycat"),)}
    assert [p[0] for p in problems] == ["soundscape_labels.csv:7"]  # 9999: no such recording
    # A 5-s window on the same grid gets exactly the segment's labels; nocall rows are background.
    ev = events["7019_COR_20190904.ogg"]
    assert label_window(ev, 5.0, 10.0, 0.5, "nocall") == ("amecro", ("amecro", "rewbla"))
    assert label_window(ev, 0.0, 5.0, 0.5, "nocall") == ("nocall", ("nocall",))


def test_ambiguous_name_is_a_problem(tmp_path):
    (tmp_path / "a.csv").write_text("filename,start,end,label\nx,1,2,owl\n")
    _, problems = read_events(spec(tmp_path / "a.csv"), ["s1/x.wav", "s2/x.wav"])
    assert "matches 2 recordings" in problems[0][1]


def test_padding_of_a_last_window_is_never_labelled():
    events = [Event(3.2, 3.8, "a"), Event(3.6, 3.9, "late")]  # recording ends at 3.5 s
    assert label_window(events, 3.0, 4.0, 0.25, "bg", duration=3.5) == ("a", ("a",))
    assert label_window(events, 3.0, 4.0, 0.35, "bg", duration=3.5) == ("a", ("a",))  # wholly inside [3, 4)
    assert label_window([Event(3.6, 4.5, "late")], 3.0, 4.0, 0.1, "bg", duration=3.5) == ("bg", ("bg",))
    # a full window: the duration changes nothing
    assert label_window(EVENTS, 0.0, 5.0, 0.6, "bg", duration=5.0) == label_window(EVENTS, 0.0, 5.0, 0.6, "bg")
