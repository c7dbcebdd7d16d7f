"""Discovery: the sorted list of recordings under ``source.path`` and their labels.

Labels come from the first folder below the source root (``labels: folder``), from a CSV
(``labels: {csv: ...}``, read in :mod:`builder.sources.label_csv`), from time-stamped events
(``labels: {events: ...}``, :mod:`builder.sources.events`), or not at all (``labels: none``). Anything that cannot be used is
returned as a :class:`Skipped` with a reason, never silently dropped; a source that yields no
usable recording at all is a :class:`SourceError` saying why and what to try, before any work.
A ``source.path`` that is an fsspec URL (``memory://``, ``s3://`` …) is listed through fsspec
with the same rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ..errors import NothingToBuild, SourceError
from .events import events_digest, read_events
from ..config.geometry import is_url
from .urls import join, list_files, stamp
from .label_csv import label_from_csv, nfc
from .label_csv import parse_label_list as parse_label_list  # re-exported: it was defined here
from ..config.source import CsvLabels, EventLabels, SourceConfig


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
    header: tuple[int, int] | None = None  # (frames, sample_rate) read at discovery (a dataset row's)
    split: str | None = None  # a dataset row's split in its source dataset

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
        raise SourceError(f"source.path: not a folder: {root} (give your audio folder with "
                          "--set source.path=FOLDER)")
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
        files, problems = label_from_csv(files, cfg.labels)
        return files, _sorted(skipped, problems)
    if isinstance(cfg.labels, EventLabels):
        return _events(files, skipped, cfg.labels)
    if cfg.labels == "folder":
        labelled = []
        for f in files:
            if "/" not in f.rel:
                skipped.append(Skipped(f.rel, "not inside a label folder (labels: folder)"))
            else:
                labelled.append(replace(f, label=nfc(f.rel.split("/", 1)[0]), extra_labels=()))
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


def _events(files: list[SourceFile], skipped: list[Skipped], spec: EventLabels):
    """Every recording, with its events; a recording nobody annotated is all background.
    Annotation rows that name no recording or no valid span are reported like skipped files."""
    found, problems = read_events(spec, [f.rel for f in files])
    files = [replace(f, events=found.get(f.rel, ())) for f in files]
    return files, _sorted(skipped, problems)


def _sorted(skipped: list[Skipped], problems: list[tuple[str, str]]) -> list[Skipped]:
    """The skipped files and the label CSV's or annotations' ``(where, reason)`` problems, sorted as one list."""
    return sorted(skipped + [Skipped(where, reason) for where, reason in problems], key=lambda s: s.path)


def annotated_only(files: list[SourceFile], labels, select: str) -> tuple[list[SourceFile], int]:
    """``(files that can give a window, how many cannot)``. With time-stamped labels, a recording
    nobody annotated gives windows only as background: with ``background: null`` or
    ``windows.select: events`` it gives none, so it is left out, never decoded and not a skip."""
    if not isinstance(labels, EventLabels) or (labels.background is not None and select != "events"):
        return files, 0
    kept = [f for f in files if f.events]
    return kept, len(files) - len(kept)


def _printable(text: str) -> str:
    """A file name as valid UTF-8 (undecodable bytes shown as U+FFFD) for reports and metadata."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def usable_names(sources, skipped) -> tuple[list, list[Skipped]]:
    """Report files whose names are not valid UTF-8 (Linux allows any bytes) instead of crashing:
    such a name cannot go into the journal, metadata.csv or build.json, so it cannot be a source."""
    keep, bad = [], []
    for s in sources:
        try:
            s.rel.encode("utf-8")
            keep.append(s)
        except UnicodeEncodeError:
            bad.append(Skipped(_printable(s.rel), "file name is not valid UTF-8; rename the file"))
    skipped = [Skipped(_printable(s.path), s.reason) for s in skipped] + bad
    return keep, sorted(skipped, key=lambda s: s.path)
