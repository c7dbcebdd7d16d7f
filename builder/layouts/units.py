"""What workers write: each recording's files as its windows come out.

A work unit runs in a worker: a process of the local pool, or a Ray task on any node of a
cluster. It decodes and renders one recording (:func:`worker.process_file`) and writes that
recording's bytes straight into the output folder, batch by batch, so PNG bytes never travel
back to the driver and a worker holds at most one batch of them:

- imagefolder and mirror: the images, each with :func:`atomic.atomic_write`, each noted with the
  SHA-256 of its bytes in the recording's intent log (``state_dir.intent_log``) before it is created;
- parquet: a *spool*, ``OUT/.spectroset/spool/<hash>.bin``: per window a length-prefixed JSON
  header and the raw PNG, array and FLAC bytes (data, never pickles: spools outlive the run).
  The shards are assembled from the spools at the end by ``parquet.write_shard`` units, in the
  workers too.

The driver records the unit's spool or intent log in the ledger *before* submitting it, and
commits the returned metadata with each file's SHA-256 and size when it is back. A build killed
at any moment therefore finds every file of a half-written recording by name when it restarts,
and the bytes never depend on which worker wrote what. An image name is the window's end in
seconds to the microsecond (``names.end_tag``): windows of one recording start at least one
sample apart, so at any rate up to 1 MHz every window has its own file.

Every worker must see the output folder at the same path. Before its first unit, a worker
compares ``OUT/.spectroset/token`` with the token the driver wrote for this build; a node that
reads another token, or none, stops the build with one line instead of writing elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError, DecodeError
from ..store.ledger import intent_line, remove
from ..store.paths import owned, safe_rel
from ..store.state_dir import TOKEN, intent_log, spool_rel
from ..store.atomic import AtomicFile, atomic_write, disk_error, refuse_linked
from ..run.worker import FileJob, FileResult, Row, process_file
from ..plan.place import Placement

_HEADER = struct.Struct("<I")


@dataclass(frozen=True)
class Target:
    """Where one recording's files go: made by the layout on the driver, used in the worker."""

    out: str
    token: str
    spool: bool  # parquet: one spool file instead of images
    placement: Placement  # the plan's answer for this recording's windows

    def image_rel(self, index: int, end: float) -> str:
        return self.placement.place(index, end)[1]

    def planned(self, rel: str) -> str:
        """What the ledger records before the unit runs: the spool, or the intent log of its images."""
        return spool_rel(rel) if self.spool else intent_log(rel)


@dataclass(frozen=True)
class Unit:
    job: FileJob
    target: Target

    @property
    def cfg(self):  # what executors read a unit's resources from (a GPU share on Ray)
        return self.job.cfg


def pack(png: bytes, array, audio: bytes | None) -> bytes:
    """One spooled window: ``<u32 header length><JSON header><png><array bytes><audio>``."""
    head = {"png": len(png), "audio": None if audio is None else len(audio)}
    raw = b""
    if array is not None:
        raw = array.tobytes()
        head["array"] = [array.dtype.str, list(array.shape)]
    text = json.dumps(head, separators=(",", ":")).encode()
    return _HEADER.pack(len(text)) + text + png + raw + (audio or b"")


def unpack(fh) -> tuple:
    """``(png, array, audio)`` of the window at ``fh``'s position (see :func:`pack`)."""
    import numpy as np

    (n,) = _HEADER.unpack(_read(fh, _HEADER.size))
    head = json.loads(_read(fh, n))
    png, array, audio = _read(fh, int(head["png"])), None, None
    if head.get("array"):
        dtype, shape = np.dtype(head["array"][0]), tuple(int(d) for d in head["array"][1])
        array = np.frombuffer(_read(fh, dtype.itemsize * int(np.prod(shape))), dtype).reshape(shape)
    if head.get("audio") is not None:
        audio = _read(fh, int(head["audio"]))
    return png, array, audio


def _read(fh, n: int) -> bytes:
    if n < 0 or n > os.fstat(fh.fileno()).st_size - fh.tell():  # a damaged header must not allocate at will
        raise EOFError("truncated spool")
    data = fh.read(n)
    if len(data) != n:
        raise EOFError("truncated spool")
    return data


def new_token(out: Path) -> str:
    """A fresh token for this build, written where every worker must be able to read it."""
    token = secrets.token_hex(16)
    atomic_write(out / TOKEN, token.encode(), root=out)
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
        self.files: list[tuple[str, str, int]] = []  # (path, sha256, size) of each file written
        self.spool = AtomicFile(self.out / spool_rel(unit.job.rel), root=self.out) if unit.target.spool else None
        self.spool_hash, self.offset, self.log, self.names = hashlib.sha256(), 0, None, set()
        self.folders: dict[str, str] = {}  # image folder → where it resolves, checked and made once per unit

    def __call__(self, rows: list[Row]) -> None:
        for row in rows:
            row.size = len(row.png) + (row.array.nbytes if row.array is not None else 0) + len(row.audio or b"")
            if self.spool is not None:
                data = pack(row.png, row.array, row.audio)
                self.spool.write(data)
                self.spool_hash.update(data)
                row.offset, self.offset = self.offset, self.offset + len(data)
                row.array = row.audio = None
            else:  # arrays and clips stay in the row: imagefolder's metadata file carries them
                self._image(self.unit.target.image_rel(row.index, row.end), row.png, row.sha256)
            row.png = None

    def _image(self, rel: str, png: bytes, sha256: str) -> None:
        if rel in self.names:
            raise DecodeError(self.unit.job.path, "windows less than 1 µs apart cannot each have their own file; "
                                                  "set audio.sample_rate (at most 768 kHz)")
        folder, _, name = rel.rpartition("/")
        parent = self.folders.get(folder) if safe_rel(rel) else None
        new_folder = parent is None
        if new_folder:
            parent = os.fspath(owned(self.out, rel).parent)  # a folder the user symlinked is not written through
        path = f"{parent}/{name}"  # a str: pathlib per image cost more than the write's system calls
        if os.path.lexists(path):  # the ledger removed ours before this unit was submitted
            raise BuildError(f"{path} exists and was not written by spectroset; move it away and rerun")
        try:
            if self.log is None:
                log_path = owned(self.out, intent_log(self.unit.job.rel), whole=True)  # opened to append: no link
                log_path.parent.mkdir(parents=True, exist_ok=True)
                self.log = open(log_path, "a", encoding="utf-8")
                refuse_linked(log_path, os.fstat(self.log.fileno()))  # appended to in place
            self.log.write(intent_line(rel, sha256))  # the hash: what lets the next run remove it after a kill
            self.log.flush()  # in the page cache before the image exists: a kill -9 cannot lose it
        except OSError as exc:
            raise disk_error(exc, self.out / intent_log(self.unit.job.rel)) from None
        if new_folder:  # made once per recording, after the intent: a kill leaves no folder unnamed
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise disk_error(exc, Path(parent)) from None
            self.folders[folder] = parent
        atomic_write(path, png, make_parent=False)
        self.names.add(rel)
        self.files.append((rel, sha256, len(png)))

    def finish(self, result: FileResult) -> tuple[FileResult, list[tuple[str, str, int]]]:
        self.close()
        if result.reason is not None or not result.rows:  # e.g. a file that broke halfway
            self.abort()
            result.rows, result.paths, self.files = [], [], []
        elif self.spool is not None:
            self.spool.commit()
            self.files = [(spool_rel(result.rel), self.spool_hash.hexdigest(), self.offset)]
            result.paths = [spool_rel(result.rel)]
        else:
            result.paths = [f for f, _, _ in self.files]
        return result, self.files

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def abort(self) -> None:
        try:
            self.close()
        except OSError:  # a full disk cannot flush the intent log: the error that brought us here says so
            self.log = None
        if self.spool is not None:
            self.spool.abort()
        remove(self.out, [f for f, _, _ in self.files])


def run_unit(unit: Unit) -> tuple[FileResult, list[tuple[str, str, int]]]:
    """One recording: decode, render, write its files; its metadata and ``(path, sha256, size)``
    of each file back to the driver."""
    check_visible(unit.target.out, unit.target.token)
    sink = _Sink(unit)
    try:
        result = process_file(unit.job, sink)
    except Exception:  # not on a kill: the ledger's intents clean up after those
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
            return unpack(self.fh)
        except (OSError, EOFError, ValueError, TypeError, struct.error) as exc:
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
