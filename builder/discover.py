"""Discovery: the sorted list of recordings under ``source.path`` and their labels.

Labels come from the first folder below the source root (``labels: folder``), from a CSV
(``labels: {csv: ...}``), or not at all (``labels: none``). Anything that cannot be used is
returned as a :class:`Skipped` with a reason, never silently dropped; a source that yields no
usable recording at all is a :class:`SourceError` saying why and what to try, before any work.
A ``source.path`` that is an fsspec URL (``memory://``, ``s3://`` …) is listed through fsspec
with the same rules.
"""

from __future__ import annotations

import ast
import csv
import json
import logging
import os
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from .errors import NothingToBuild, SourceError
from .events import events_digest, read_events
from .fsutil import filesystem, is_url, join, list_files, stamp
from .source_config import CsvLabels, EventLabels, SourceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    path: Path | str  # absolute, as found (a symlink stays a symlink); the full URL for a URL source
    rel: str  # POSIX path relative to source.path, as on disk
    label: str | None
    extra_labels: tuple[str, ...]
    size: int
    mtime_ns: int
    etag: str = ""  # a URL source's content tag, where the store has one
    events: tuple = ()  # its annotated events (events.Event), with ``source.labels.events``
    columns: tuple[tuple[str, object], ...] = ()  # source.labels.keep_columns: (name, int|float|str|None)

    @property
    def fingerprint(self) -> str:
        # The events are part of it: a changed annotation rebuilds only the recordings it touches.
        return (f"{self.size}:{self.mtime_ns}" + (f":{self.etag}" if self.etag else "")
                + (f":ev{events_digest(self.events)}" if self.events else ""))


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def _walk(root: Path) -> list[tuple[str, Path]]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            full = Path(folder) / name
            found.append((full.relative_to(root).as_posix(), full))
    return sorted(found)


def _hidden_or_other(rel: str, extensions: tuple[str, ...]) -> Skipped | bool:
    """True for a file that is not audio by name, a Skipped for a hidden one, else False."""
    if PurePosixPath(rel).suffix.lower().lstrip(".") not in extensions:
        return True
    if any(part.startswith(".") for part in rel.split("/")):
        return Skipped(rel, "hidden file or folder (names starting with '.' are ignored)")
    return False


def _stat(rel: str, path: Path, extensions: tuple[str, ...]) -> SourceFile | Skipped | None:
    other = _hidden_or_other(rel, extensions)
    if other is not False:
        return None if other is True else other
    try:
        st = path.stat()
    except OSError:
        return Skipped(rel, "broken symlink or unreadable file")
    if not path.is_file():
        return Skipped(rel, "not a regular file")
    return SourceFile(path, rel, None, (), st.st_size, st.st_mtime_ns)


def _remote(url: str, extensions: tuple[str, ...]):
    for rel, info in list_files(url):
        other = _hidden_or_other(rel, extensions)
        if other is not False:
            yield None if other is True else other
        else:
            size, mtime_ns, etag = stamp(info)
            yield SourceFile(join(url, rel), rel, None, (), size, mtime_ns, etag)


def _local(root: Path, extensions: tuple[str, ...]):
    if not root.is_dir():
        raise SourceError(f"source.path: not a folder: {root}")
    for rel, path in _walk(root):
        yield _stat(rel, path, extensions)


def discover(cfg: SourceConfig) -> tuple[list[SourceFile], list[Skipped]]:
    """Sorted recordings and the files skipped on the way, both deterministic.

    Raises :class:`SourceError` when not one recording is usable (an empty folder, no class
    folders, a CSV that matches no file): a build of nothing is never a success.
    """
    files, skipped = [], []
    found = _remote(cfg.path, cfg.extensions) if is_url(cfg.path) else _local(cfg.path, cfg.extensions)
    for item in found:
        if isinstance(item, Skipped):
            skipped.append(item)
        elif item is not None:
            files.append(item)
    if not files:
        raise NothingToBuild(_no_audio(cfg, skipped))
    if isinstance(cfg.labels, CsvLabels):
        return _label_from_csv(files, skipped, cfg.labels)
    if isinstance(cfg.labels, EventLabels):
        return _events(files, skipped, cfg.labels)
    if cfg.labels == "folder":
        labelled = []
        for f in files:
            if "/" not in f.rel:
                skipped.append(Skipped(f.rel, "not inside a label folder (labels: folder)"))
            else:
                labelled.append(_with(f, nfc(f.rel.split("/", 1)[0]), ()))
        if not labelled:
            raise NothingToBuild(f"source.path: no class sub-folders under {cfg.path}: put files in "
                                 f"{_slash(cfg.path)}<label>/ or set source.labels: none")
        files = labelled
    return files, sorted(skipped, key=lambda s: s.path)


def _slash(path) -> str:
    return str(path).rstrip("/") + "/"


def _no_audio(cfg: SourceConfig, skipped: list[Skipped]) -> str:
    if not skipped:
        return (f"source.path: no audio files under {cfg.path} (looked for "
                f"{', '.join('.' + e for e in cfg.extensions)}; see source.extensions)")
    first = sorted(skipped, key=lambda s: s.path)[0]
    return (f"source.path: none of the {len(skipped)} audio file(s) under {cfg.path} can be read, "
            f"e.g. {first.path}: {first.reason}")


def _with(f: SourceFile, label: str | None, extra: tuple[str, ...]) -> SourceFile:
    return replace(f, label=label, extra_labels=extra)


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


def _label_from_csv(
    files: list[SourceFile], skipped: list[Skipped], spec: CsvLabels
) -> tuple[list[SourceFile], list[Skipped]]:
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
    table = _table(rows, spec, skipped)
    kept, seen = [], set()
    for f in files:
        rel = nfc(f.rel)
        folder, _, name = rel.rpartition("/")
        if rel not in table and table.get(name, ("",))[0] == folder:
            rel = name  # BirdCLEF 2021: the row says XC1.ogg, the file is its label's folder, acafly/XC1.ogg
        entry = table.get(rel)
        if entry is None:
            skipped.append(Skipped(f.rel, f"not listed in {spec.name}"))
            continue
        seen.add(rel)
        kept.append(replace(_with(f, *entry[:2]), columns=entry[2]))
    if not kept:
        raise NothingToBuild(_no_match(files, table, spec))
    for rel in sorted(set(table) - seen):
        skipped.append(Skipped(rel, f"listed in {spec.name} but not found under source.path"))
    return kept, sorted(skipped, key=lambda s: s.path)


def _table(rows: list[dict], spec: CsvLabels, skipped: list[Skipped]) -> dict[str, tuple[str, tuple[str, ...], tuple]]:
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
            skipped.append(Skipped(f"{spec.name}:{n}", "row without a file name or label"))
            continue
        if rel.startswith("/") or ".." in rel.split("/"):
            skipped.append(Skipped(f"{spec.name}:{n}", f"file name {rel!r} points outside source.path"))
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


def _events(files: list[SourceFile], skipped: list[Skipped], spec: EventLabels):
    """Every recording, with its events; a recording nobody annotated is all background.
    Annotation rows that name no recording or no valid span are reported like skipped files."""
    found, problems = read_events(spec, [f.rel for f in files])
    files = [replace(f, events=found.get(f.rel, ())) for f in files]
    skipped = skipped + [Skipped(where, reason) for where, reason in problems]
    return files, sorted(skipped, key=lambda s: s.path)


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
