"""Time-stamped labels: annotation tables → events per recording → labels per window.

Three table shapes are read (``source.labels.events``):

- a CSV, one event per row: recording, start, end (seconds), label;
- a folder of Raven selection tables ``*.selections.txt`` (tab-separated ``Begin Time (s)``,
  ``End Time (s)``, optional ``Begin File`` / ``File Offset (s)``, an annotation column);
- the BirdCLEF soundscape CSV: ``start_column: null``, ``end_column: seconds`` (the end of a
  ``segment``-s span), ``label_separator: " "`` (several labels in one cell).

Reading returns the events of each recording plus the rows that could not be used, as
``(where, reason)`` pairs; labelling (:func:`label_window`) is a pure function of the events.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from .event_index import ORDER, EventIndex
from .errors import SourceError

EPS = 1e-9  # seconds: window bounds come from sample counts, event bounds from decimal text
RAVEN_SUFFIX = ".selections.txt"
RAVEN_LABELS = ("Species", "Annotation", "Label", "label", "Class")  # tried in order when unset


@dataclass(frozen=True, order=True)
class Event:
    """One annotated span of a recording, in seconds from its start."""

    start: float
    end: float
    label: str


def events_digest(events: Iterable[Event]) -> str:
    """A short stable hash of a recording's events, folded into its fingerprint."""
    h = hashlib.sha256()
    for e in events:
        h.update(f"{e.start!r}\t{e.end!r}\t{e.label}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- labelling


def overlaps(events: Iterable[Event], start: float, end: float) -> dict[str, float]:
    """Seconds of ``[start, end)`` covered by each label's events (overlapping events of one
    label count once, so a doubly annotated call is not worth twice its length)."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        a, b = max(start, e.start), min(end, e.end)
        if b > a:
            spans[e.label].append((a, b))
    out = {}
    for label, parts in spans.items():
        total, reach = 0.0, -math.inf
        for a, b in sorted(parts):
            a = max(a, reach)
            if b > a:
                total += b - a
                reach = b
        out[label] = total
    return out


def label_window(events: Iterable[Event] | EventIndex, start: float, end: float, min_overlap: float,
                 background: str | None, duration: float = math.inf) -> tuple[str | None, tuple[str, ...]]:
    """``(label, labels)`` of the window ``[start, end)`` s of a recording of ``duration`` s.

    A label applies when its events cover at least ``min_overlap`` s of the window, or when one
    of its events lies wholly inside it (a 0.2-s chirp is in the window, whatever min_overlap
    says). ``label`` is the one with the largest overlap, ties by name; ``labels`` is it, then the
    others by name. No label: ``(background, (background,))``, or ``(None, ())`` to drop it.
    Only real audio counts: events from ``duration`` on are ignored and the zero padding of a
    last window is never covered (for a full window, any ``duration >= end`` gives the same).
    Labelling many windows of one recording, pass its :class:`EventIndex`, built once.
    """
    index = events if isinstance(events, EventIndex) else EventIndex(events)
    near = (start - EPS, end + EPS)  # what an event must reach into to count (inside is EPS-tolerant)
    if index.starting_in(duration - EPS, near[1]):  # events past the end are ignored: near it, scan
        events = [e for e in index.touching(*near) if e.start < duration - EPS]
        cover = overlaps(events, start, min(end, duration))
        wholly_in = {e.label for e in events if e.start >= near[0] and e.end <= near[1] and e.end > e.start}
        inside = wholly_in.__contains__
    else:
        cover = index.cover(start, min(end, duration), near)
        inside = lambda lab: index.inside(lab, *near)  # noqa: E731 - asked only below the overlap
    hits = {lab: s for lab, s in cover.items() if s >= min_overlap - EPS or inside(lab)}
    if not hits:
        return (background, (background,)) if background is not None else (None, ())
    best = min(hits, key=lambda lab: (-round(hits[lab], 9), lab))
    return best, (best, *sorted(lab for lab in hits if lab != best))


def dominant_label(events: Iterable[Event], background: str | None) -> str | None:
    """The label with the most annotated seconds (ties by name): a recording's stratum."""
    totals: dict[str, float] = defaultdict(float)
    for e in events:
        totals[e.label] += e.end - e.start
    if not totals:
        return background
    return min(totals, key=lambda lab: (-round(totals[lab], 9), lab))


def past_end(events: Iterable[Event], duration: float) -> list[Event]:
    """Events that start at or after the recording's end (they can label nothing)."""
    return [e for e in events if e.start >= duration - EPS]


def late_events(sources, journal) -> list[dict]:
    """build.json's ``skipped`` entries for events past the end of their decoded recording."""
    out = []
    with_events = {s.rel: s.events for s in sources if s.events}
    for rec in journal.records(list(with_events), rows=False):
        if rec.reason is None:
            for e in past_end(with_events[rec.rel], rec.duration):
                out.append({"path": rec.rel, "reason": f"event {e.label!r} at {e.start:g}-{e.end:g} s starts past "
                                                       f"the recording's end ({rec.duration:.3f} s)"})
    return out


# --------------------------------------------------------------------------- reading


class _Recordings:
    """Finds the recording an annotation names: its path under source.path, with or without its
    extension, its file name or stem, or a unique stem starting with ``name_`` (BirdCLEF's
    ``audio_id``); a BirdCLEF ``row_id`` (``<audio_id>_<site>_<seconds>``) also works."""

    def __init__(self, rels: Iterable[str]):
        self.exact: dict[str, str] = {}
        self.by_stem: dict[str, list[str]] = defaultdict(list)
        for rel in sorted(rels):
            p = PurePosixPath(unicodedata.normalize("NFC", rel))
            self.exact.setdefault(str(p), rel)
            self.exact.setdefault(str(p.with_suffix("")), rel)
            self.by_stem[p.stem].append(rel)
            self.by_stem[p.name].append(rel)

    def find(self, name: str) -> tuple[str | None, str | None]:
        """``(rel, None)``, or ``(None, why)``."""
        name = unicodedata.normalize("NFC", name.strip().replace("\\", "/").removeprefix("./"))
        for candidate in (name, re.sub(r"_\d+$", "", name)):
            if candidate in self.exact:
                return self.exact[candidate], None
            found = self.by_stem.get(PurePosixPath(candidate).name) or [
                rel for stem, rels in self.by_stem.items() if stem.startswith(candidate + "_") for rel in rels]
            found = sorted(set(found))
            if len(found) == 1:
                return found[0], None
            if len(found) > 1:
                return None, f"{name!r} matches {len(found)} recordings ({', '.join(found[:3])}); give its path"
        return None, f"no recording {name!r} under source.path"

    def for_table(self, table: str) -> str | None:
        """The recording a Raven table belongs to by name: the longest stem that starts it
        (``XC1234.Table.1.selections.txt`` → ``XC1234.wav``), in the table's folder if several."""
        folder, _, name = table.rpartition("/")
        stems = sorted((s for s in self.by_stem if name.startswith(s + ".")), key=len, reverse=True)
        for stem in stems:
            rels = self.by_stem[stem]
            near = [r for r in rels if r.rpartition("/")[0] == folder]
            if len(set(rels)) == 1 or len(near) == 1:
                return near[0] if len(near) == 1 else rels[0]
        return None


def _number(row: dict, column: str) -> float | None:
    try:
        value = float((row.get(column) or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _labels(cell: str, separator: str | None, background: str | None) -> list[str]:
    cell = (cell or "").strip()
    parts = cell.split(separator if separator != " " else None) if separator else [cell]
    labels = [unicodedata.normalize("NFC", p.strip()) for p in parts if p.strip()]
    return [p for p in labels if p != background]


def _rows(spec, rows: list[dict], where: str, recordings: _Recordings, default_rel: str | None,
          raven: bool, events: dict, problems: list) -> None:
    """Turn one table's rows into events (appended per recording) and problems."""
    start_col = spec.start_column or None
    seen_selections = set()
    for n, row in enumerate(rows, start=2):
        at = f"{where}:{n}"
        if raven and row.get("Selection"):  # Raven repeats a selection once per view
            if row["Selection"] in seen_selections:
                continue
            seen_selections.add(row["Selection"])
        file_cell = (row.get(spec.file_column) or "").strip() if spec.file_column else ""
        if file_cell:
            rel, why = recordings.find(file_cell)
            if rel is None:
                problems.append((at, why))
                continue
        elif default_rel is not None:
            rel = default_rel
        else:
            problems.append((at, f"no recording named in column {spec.file_column!r}"))
            continue
        end = _number(row, spec.end_column)
        start = _number(row, start_col) if start_col else (None if end is None else end - spec.segment)
        if start is None or end is None:
            problems.append((at, "start or end is not a number"))
            continue
        if raven and file_cell and _number(row, "File Offset (s)") is not None:
            # Multi-file tables count Begin Time from the first file; the offset is within this one.
            start, end = _number(row, "File Offset (s)"), _number(row, "File Offset (s)") + (end - start)
        if end <= start:
            problems.append((at, f"end {end:g} s is not after start {start:g} s"))
            continue
        if start < 0:
            problems.append((at, f"starts before the recording ({start:g} s)"))
            continue
        for label in _labels(row.get(spec.label_column, ""), spec.label_separator, spec.background):
            events[rel].add(Event(round(start, 6), round(end, 6), label))


def read_events(spec, rels: list[str]) -> tuple[dict[str, tuple[Event, ...]], list[tuple[str, str]]]:
    """``({rel: sorted events}, [(where, problem)])`` for recordings ``rels`` (paths under
    source.path). Raises :class:`SourceError` for a table that cannot be read at all."""
    path = Path(spec.events)
    recordings = _Recordings(rels)
    events: dict[str, set] = defaultdict(set)
    problems: list[tuple[str, str]] = []
    if path.is_dir():
        tables = sorted(p for p in path.rglob(f"*{RAVEN_SUFFIX}") if p.is_file())
        if not tables:
            raise SourceError(f"source.labels.events: no Raven tables (*{RAVEN_SUFFIX}) in {path}")
        for table in tables:
            name = table.relative_to(path).as_posix()
            rows, columns, spec_t = _read(table, spec, raven=True)
            owner = recordings.for_table(name)
            if owner is None and spec_t.file_column not in columns:
                if rows:
                    problems.append((name, "no audio file whose name starts this table's name, and no "
                                           f"{spec_t.file_column!r} column"))
                continue
            _rows(spec_t, rows, name, recordings, owner, True, events, problems)
    else:
        rows, _, spec_t = _read(path, spec, raven=False)
        _rows(spec_t, rows, path.name, recordings, None, False, events, problems)
    return {rel: tuple(sorted(found, key=ORDER)) for rel, found in sorted(events.items())}, problems


def _read(path: Path, spec, raven: bool):
    """A table's rows, its columns, and the spec with the column names that table uses."""
    for encoding in ("utf-8-sig", "cp1252"):  # Raven on Windows may save tables in the ANSI code page
        try:
            with open(path, newline="", encoding=encoding) as fh:
                reader = csv.DictReader(fh, delimiter="\t" if raven else ",")
                columns = [c.strip() for c in (reader.fieldnames or [])]
                reader.fieldnames = columns
                rows = list(reader)
            break
        except UnicodeDecodeError as exc:
            if encoding != "utf-8-sig":
                raise SourceError(f"source.labels.events: cannot read {path}: not UTF-8 text ({exc.reason})") from None
        except (OSError, csv.Error) as exc:
            raise SourceError(f"source.labels.events: cannot read {path}: {exc}") from None
    spec = spec.for_raven(columns) if raven else spec
    needed = [("end_column", spec.end_column), ("start_column", spec.start_column), ("label_column", spec.label_column)]
    if not raven:
        needed.append(("file_column", spec.file_column))
    for key, col in needed:
        if col is not None and col not in columns:
            raise SourceError(f"source.labels.{key}: no column {col!r} in {path.name} (has {', '.join(columns)})")
    return rows, columns, spec
