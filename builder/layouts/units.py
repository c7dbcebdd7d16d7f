"""What workers write: each recording's files as its windows come out.

A work unit runs in a worker: a process of the local pool, or a Ray task on any node of a
cluster. It decodes and renders one recording (:func:`worker.process_file`) and writes that
recording's bytes straight into the output folder, batch by batch, so PNG bytes never travel
back to the driver and a worker holds at most one batch of them:

- imagefolder and mirror: the images, each with :func:`state.atomic_write`;
- parquet: a *spool*, ``OUT/.spectroset/spool/<hash>.pkl``, one pickled ``(png, array, audio)``
  per window; each row keeps its offset. The shards are assembled from the spools at the end by
  ``parquet.write_shard`` units, in the workers too.

The unit returns the rows' metadata only (times, SHA-256, per-bin sums). The driver notes a
unit's files in the journal *before* submitting it, as ``<folder>/<stem>_*.png`` patterns since
the windows are known only after decoding, and commits the returned metadata when it is back.
A build killed at any moment therefore deletes the half-written recording's files when it
restarts, and the bytes never depend on which worker wrote what.

Every worker must see the output folder at the same path. Before its first unit, a worker
compares ``OUT/.spectroset/token`` with the token the driver wrote for this build; a node that
reads another token, or none, stops the build with one line instead of writing elsewhere.
"""

from __future__ import annotations

import os
import pickle
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from ..config import SplitsConfig
from ..errors import BuildError
from ..names import end_tag, short_hash
from ..splits import assign_window
from ..state import STATE_DIR, AtomicFile, atomic_write, disk_error
from ..worker import FileJob, FileResult, Row, process_file

SPOOL_DIR = f"{STATE_DIR}/spool"
TOKEN = f"{STATE_DIR}/token"
_END = r"[0-9.e+-]+"  # the alphabet of end_tag: "{:g}" of a non-negative number
_PATTERN = "_*.png"


@dataclass(frozen=True)
class Target:
    """Where one recording's files go: made by the layout on the driver, used in the worker."""

    out: str
    token: str
    spool: bool  # parquet: one spool file instead of images
    folder: str
    stem: str
    split: str | None  # the recording's split; None when drawn per window, and for mirror
    mirror: bool
    splits: SplitsConfig

    def image_rel(self, rel: str, index: int, end: float) -> str:
        split = None if self.mirror else (self.split or assign_window(rel, index, self.splits))
        return "/".join(p for p in (split, self.folder, f"{self.stem}_{end_tag(end)}.png") if p)

    def planned(self, rel: str) -> list[str]:
        """What the journal notes before the unit runs: the spool, or a pattern per image folder."""
        if self.spool:
            return [spool_rel(rel)]
        splits = [None] if self.mirror else [self.split] if self.split else list(self.splits.fractions)
        return ["/".join(p for p in (s, self.folder, self.stem + _PATTERN) if p) for s in splits]


@dataclass(frozen=True)
class Unit:
    job: FileJob
    target: Target

    @property
    def cfg(self):  # what executors read a unit's resources from (a GPU share on Ray)
        return self.job.cfg


def spool_rel(rel: str) -> str:
    return f"{SPOOL_DIR}/{short_hash(rel, 24)}.pkl"


def expand(out: Path, planned: str) -> list[str]:
    """The existing files a journalled name stands for: itself, or the images its pattern matches."""
    if not planned.endswith(_PATTERN):
        return [planned]
    folder, _, stem = planned[: -len(_PATTERN)].rpartition("/")
    name = re.compile(re.escape(stem) + "_" + _END + r"\.png")
    try:
        names = os.listdir(out / folder)
    except OSError:
        return []
    return sorted(f"{folder}/{n}" if folder else n for n in names if name.fullmatch(n))


def new_token(out: Path) -> str:
    """A fresh token for this build, written where every worker must be able to read it."""
    token = secrets.token_hex(16)
    atomic_write(out / TOKEN, token.encode())
    return token


_VISIBLE: set[tuple[str, str]] = set()


def check_visible(out: str, token: str) -> None:
    """Stop the build if this worker does not see the driver's output folder (once per process)."""
    if (out, token) in _VISIBLE:
        return
    try:
        found = (Path(out) / TOKEN).read_text().strip()
    except OSError:
        found = None
    if found != token:
        raise BuildError(
            f"output folder {out} is not the build's folder on worker host {socket.gethostname()}: every node "
            "must mount it at the same path (for a URL output, put output.staging on such a shared folder)"
        )
    _VISIBLE.add((out, token))


class _Sink:
    """Takes a recording's rows batch by batch and writes their bytes; the rows keep metadata."""

    def __init__(self, unit: Unit):
        self.unit, self.out = unit, Path(unit.target.out)
        self.written: list[str] = []
        self.spool = AtomicFile(self.out / spool_rel(unit.job.rel)) if unit.target.spool else None
        self.offset = 0

    def __call__(self, rows: list[Row]) -> None:
        for row in rows:
            row.size = len(row.png) + (row.array.nbytes if row.array is not None else 0) + len(row.audio or b"")
            if self.spool is not None:
                data = pickle.dumps((row.png, row.array, row.audio), protocol=pickle.HIGHEST_PROTOCOL)
                self.spool.write(data)
                row.offset, self.offset = self.offset, self.offset + len(data)
                row.array = row.audio = None
            else:  # arrays and clips stay in the row: imagefolder's metadata file carries them
                rel = self.unit.target.image_rel(self.unit.job.rel, row.index, row.end)
                atomic_write(self.out / rel, row.png)
                self.written.append(rel)
            row.png = None

    def finish(self, result: FileResult) -> FileResult:
        if result.reason is not None or not result.rows:  # e.g. a file that broke halfway
            self.abort()
            result.rows, result.paths = [], []
        elif self.spool is not None:
            self.spool.commit()
            result.paths = [spool_rel(result.rel)]
        else:
            result.paths = self.written
        return result

    def abort(self) -> None:
        if self.spool is not None:
            self.spool.abort()
        remove_files(self.out, self.written)


def run_unit(unit: Unit) -> FileResult:
    """One recording: decode, render, write its files; its metadata back to the driver."""
    check_visible(unit.target.out, unit.target.token)
    sink = _Sink(unit)
    try:
        result = process_file(unit.job, sink)
    except Exception:  # not on a kill: the journal's patterns clean up after those
        sink.abort()
        raise
    return sink.finish(result)


class SpoolReader:
    """Reads rows back from spools, keeping the last spool open (rows come in recording order)."""

    def __init__(self, out: Path):
        self.out, self.rel, self.fh = out, None, None

    def read(self, rel: str, offset: int) -> tuple:
        """``(png, array, audio)`` of the row at ``offset`` of spool ``rel``."""
        try:
            if rel != self.rel:
                self.close()
                self.fh, self.rel = open(self.out / rel, "rb"), rel
            self.fh.seek(offset)
            return pickle.load(self.fh)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self.close()
            raise BuildError(f"cannot read the spool {self.out / rel}: {getattr(exc, 'strerror', None) or exc}; "
                             "rerun with --force to rebuild it") from None

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
        self.fh = self.rel = None

    def __enter__(self) -> "SpoolReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def remove_files(out: Path, rels) -> None:
    """Delete files this tool wrote earlier, and folders left empty by that."""
    for rel in rels:
        path = out / rel
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:  # read-only output: one line, not a traceback
            raise disk_error(exc, path) from None
        parent = path.parent
        while parent != out:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def remove_temp_files(out: Path) -> None:
    """Temp files a killed build left behind (hidden ``.*.tmp`` beside their targets, spools too)."""
    for folder, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if d != STATE_DIR]
        _remove_temp(folder, files)
    spools = out / SPOOL_DIR
    if spools.is_dir():
        _remove_temp(str(spools), os.listdir(spools))


def _remove_temp(folder: str, names) -> None:
    for name in names:
        if name.startswith(".") and name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
