"""The label CSV of ``source.labels: {csv: ...}``: one row per recording, file name → label.

Reads the CSV (a local file or an fsspec URL), checks its columns, and gives each recording found by
:func:`builder.discover.discover` its label, extra labels (a list-valued cell, see
:func:`parse_label_list`) and kept columns (``keep_columns``, typed per column by
:func:`column_type`). Rows and recordings that cannot be paired come back as ``(where, reason)``
problems, which discovery reports as skipped; a CSV that cannot be read, names a missing column,
lists one file twice with different values, or matches no recording is a :class:`SourceError`
naming the file, the column or the lines.
"""

from __future__ import annotations

import ast
import csv
import json
import logging
import unicodedata
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from .errors import NothingToBuild, SourceError
from .fsutil import filesystem, is_url
from .source_config import CsvLabels

if TYPE_CHECKING:
    from .discover import SourceFile

# Discovery's logger, as before this module was split from builder.discover: what users filter on.
log = logging.getLogger("builder.discover")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def parse_label_list(raw: str) -> tuple[str, ...]:
    """A list-valued cell: JSON, a Python list literal ("['a', 'b']") or 'a;b'."""
    raw = (raw or "").strip()
    if not raw or raw in ("[]", "nan", "None"):
        return ()
    if raw.startswith("["):
        for parse in (json.loads, ast.literal_eval):
            try:
                value = parse(raw)
                return tuple(str(v).strip() for v in value if str(v).strip())
            except (ValueError, SyntaxError, TypeError):
                continue
        if raw.endswith("]"):  # unquoted: [a, b]
            return tuple(p.strip(" '\"") for p in raw[1:-1].split(",") if p.strip(" '\""))
    return tuple(p.strip() for p in raw.split(";") if p.strip())


def _open_csv(where):
    """The label CSV as text: a local file, or an fsspec URL (read through the store's client)."""
    if not is_url(where):
        return open(where, newline="", encoding="utf-8-sig")
    import io

    fs, path = filesystem(where, key="source.labels.csv")
    try:
        raw = fs.open(path, "rb")
    except OSError:
        raise
    except Exception as exc:  # network, permissions: the store's message says most
        raise OSError(" ".join(str(exc).split())[:200] or type(exc).__name__) from None
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def label_from_csv(files: list[SourceFile], spec: CsvLabels) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """The recordings the CSV lists, labelled, and ``(where, reason)`` for every row or recording
    left unpaired (a row's ``where`` is ``name.csv:line``)."""
    try:
        with _open_csv(spec.csv) as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            for key, col in (("file_column", spec.file_column), ("label_column", spec.label_column),
                             ("extra_labels_column", spec.extra_labels_column)):
                if col is not None and col not in columns:
                    raise SourceError(f"source.labels.{key}: no column {col!r} in {spec.name} (has {', '.join(columns)})")
            for col in spec.keep_columns:
                if col not in columns:
                    raise SourceError(f"source.labels.keep_columns: no column {col!r} in {spec.name} "
                                      f"(has {', '.join(columns)})")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"source.labels.csv: cannot read {spec.csv}: {exc}") from None
    problems: list[tuple[str, str]] = []
    table = _table(rows, spec, problems)
    kept, seen = [], set()
    for f in files:
        rel = nfc(f.rel)
        folder, _, name = rel.rpartition("/")
        if rel not in table and table.get(name, ("",))[0] == folder:
            rel = name  # BirdCLEF 2021: the row says XC1.ogg, the file is its label's folder, acafly/XC1.ogg
        entry = table.get(rel)
        if entry is None:
            problems.append((f.rel, f"not listed in {spec.name}"))
            continue
        seen.add(rel)
        kept.append(replace(f, label=entry[0], extra_labels=entry[1], columns=entry[2]))
    if not kept:
        raise NothingToBuild(_no_match(files, table, spec))
    missing = f"listed in {spec.name} but not found under source.path"  # one string for a million rows
    problems.extend((rel, missing) for rel in sorted(set(table) - seen))
    return kept, problems


def _table(
    rows: list[dict], spec: CsvLabels, problems: list[tuple[str, str]]
) -> dict[str, tuple[str, tuple[str, ...], tuple]]:
    """``{rel: (label, extra labels, kept cells)}`` from the CSV rows (header = line 1). Rows that repeat a file
    with the same labels are merged (one log line); with other labels they stop the build, naming
    the file and both lines: which one is right is the user's call, not the last row's."""
    kept_types = {col: column_type(row.get(col) for row in rows) for col in spec.keep_columns}
    table: dict[str, tuple[str, tuple[str, ...], tuple]] = {}
    line_of: dict[str, int] = {}
    repeats, conflicts = [], []
    for n, row in enumerate(rows, start=2):
        rel = nfc((row.get(spec.file_column) or "").strip().replace("\\", "/"))
        while rel.startswith("./"):
            rel = rel[2:]
        label = nfc((row.get(spec.label_column) or "").strip())
        if not rel or not label:
            problems.append((f"{spec.name}:{n}", "row without a file name or label"))
            continue
        if rel.startswith("/") or ".." in rel.split("/"):
            problems.append((f"{spec.name}:{n}", f"file name {rel!r} points outside source.path"))
            continue
        extra = parse_label_list(row.get(spec.extra_labels_column, "")) if spec.extra_labels_column else ()
        extra = tuple(dict.fromkeys(nfc(x) for x in extra if nfc(x) != label))
        cells = tuple((col, typed(row.get(col), kind)) for col, kind in kept_types.items())
        if rel in table:
            old = table[rel]
            same = old[0] == label and set(old[1]) == set(extra) and old[2] == cells
            (repeats if same else conflicts).append((rel, line_of[rel], n, (label, extra, cells)))
            continue
        table[rel], line_of[rel] = (label, extra, cells), n
    if conflicts:
        rel, first, n, entry = conflicts[0]
        more = f" (and {len(conflicts) - 1} more conflicting row(s))" if len(conflicts) > 1 else ""
        raise SourceError(f"source.labels.csv: {spec.name} lists {rel!r} on lines {first} and {n} with different "
                          f"values ({_differs(table[rel], entry, spec)}){more}: keep one row per file")
    if repeats:
        log.info(f"{spec.name}: {len(repeats)} row(s) repeat a file with the same labels (first: {repeats[0][0]!r}, "
                 f"lines {repeats[0][1]} and {repeats[0][2]}); merged")
    return table


def _differs(a: tuple, b: tuple, spec: CsvLabels) -> str:
    """What two rows for one file disagree on, e.g. ``primary_label 'owl' vs 'tabla'``."""
    if a[0] != b[0]:
        return f"{spec.label_column} {a[0]!r} vs {b[0]!r}"
    if set(a[1]) != set(b[1]):
        return f"{spec.extra_labels_column} {list(a[1])} vs {list(b[1])}"
    col, x, y = next((c, x, y) for (c, x), (_, y) in zip(a[2], b[2]) if x != y)
    return f"{col} {x!r} vs {y!r}"


def _no_match(files: list[SourceFile], table: dict, spec: CsvLabels) -> str:
    """Why no recording matches a CSV row, and what to try."""
    if not table:
        return f"source.labels.csv: {spec.name} has no usable row (each needs a file name and a label)"
    names = {PurePosixPath(f.rel).name: f.rel for f in files}
    flat = next((rel for rel in sorted(table) if "/" not in rel and rel in names and names[rel] != rel), None)
    if flat is not None:
        return (f"source.labels.csv: the CSV's {spec.file_column} column has no folder part ({flat!r}) and the "
                f"recordings are in sub-folders not named after their {spec.label_column} ({names[flat]!r}): "
                "give file_column a column of paths relative to source.path, or point source.path at the "
                "folder that holds the files")
    return (f"source.labels.csv: none of the {len(files)} recording(s) under source.path is listed in {spec.name} "
            f"(e.g. {files[0].rel!r} vs. the CSV's {sorted(table)[0]!r}): check source.path and "
            f"source.labels.file_column ({spec.file_column!r})")


def column_type(values) -> type:
    """The type of a kept CSV column, as the CSV has it: ``int`` when every non-empty cell is an
    integer, ``float`` when every one is a number, else ``str`` (one type per column, so that
    every row of every shard has the same schema)."""
    kind: type = int
    seen = False
    for value in values:
        value = (value or "").strip()
        if not value:
            continue
        seen = True
        if kind is int:
            try:
                int(value)
                continue
            except ValueError:
                kind = float
        if kind is float:
            try:
                if float(value) == float(value):  # NaN is no number to keep
                    continue
            except ValueError:
                pass
            return str
    return kind if seen else str


def typed(value: str | None, kind: type):
    """One kept cell in its column's type; an empty cell is None."""
    value = (value or "").strip() if kind is not str else (value or "")
    if value == "":
        return None
    return kind(value)
