"""Build state in ``OUT/.spectroset/``: the journal of finished recordings and the lock.

The journal is one SQLite database (WAL): a recording's result is committed in one transaction
only after its images are on disk, so a build killed at any moment resumes from the last commit
and never counts a window twice. Rows are JSON (arrays and bytes as base64 with their dtype and
shape), never pickles: a copied or shared folder's journal is data, and a row that does not
decode is a recording to rebuild. The same database holds the ledger of written files
(``ledger.py``). The lock is an ``flock`` on a file, which the kernel releases
when its holder dies, so a crashed build never leaves the folder locked.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import logging
import os
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from .atomic import disk_error, refuse_linked
from ..errors import BuildError, LockedError
from .paths import owned
from .state_dir import JOURNAL, LOCK

JOURNAL_FORMAT = 2  # PRAGMA user_version; 0 is the pickled journal of spectroset <= 0.x
KEEP_BYTES = 64 << 20  # results a build committed, kept as objects for its end (by their JSON size)
log = logging.getLogger("spectroset")


def _hint(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "fix permissions or choose another -o"
    return "free space and rerun to resume"


class OutputLock:
    """Exclusive lock on an output folder for the life of one build."""

    def __init__(self, out: Path):
        self.out, self.path = out, out / LOCK
        self.fh = None

    def __enter__(self) -> "OutputLock":
        path = owned(self.out, LOCK, whole=True)  # a linked state folder: refused before the first write
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(path, "a+")
        except OSError as exc:
            raise disk_error(exc, self.path.parent) from None
        try:
            refuse_linked(self.path, os.fstat(self.fh.fileno()))  # before the pid is written into it
        except BuildError:
            self.fh.close()
            raise
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "unknown"
            self.fh.close()
            raise LockedError(
                f"{self.path.parent.parent} is being built by another process (pid {holder}); "
                "wait for it or choose another -o"
            ) from None
        try:  # the pid is only for the message above; a full disk must still fail in one line
            self.fh.seek(0)
            self.fh.truncate()
            self.fh.write(str(os.getpid()))
            self.fh.flush()
        except OSError as exc:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            try:
                self.fh.close()
            except OSError:
                pass
            self.fh = None
            raise disk_error(exc, self.path) from None
        return self

    def __exit__(self, *exc) -> None:
        if self.fh:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()


@lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names, looked up once per class (rows are encoded by the thousand)."""
    return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None


def encode(value):
    """A journal value as JSON data: dataclasses by field, arrays and bytes as base64."""
    import numpy as np

    if value is None or type(value) in (str, int, float, bool):
        return value
    names = _field_names(type(value))
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, np.ndarray):
        return {"$array": value.dtype.str, "shape": list(value.shape),
                "data": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def _decode(value):
    import numpy as np

    if isinstance(value, dict) and "$array" in value:
        data = base64.b64decode(value["data"], validate=True)
        return np.frombuffer(data, dtype=np.dtype(value["$array"])).reshape(value["shape"]).copy()
    if isinstance(value, dict) and "$bytes" in value:
        return base64.b64decode(value["$bytes"], validate=True)
    return value


def decode_result(text: str, types: tuple[type, type], rows: bool = True):
    """A journalled recording's result, of ``types``: ``(result class, row class)``, the
    worker's ``(FileResult, Row)``; ``ValueError`` (or ``TypeError``) if it is not one.
    ``rows=False`` leaves its rows out (their arrays are most of the decoding)."""
    FileResult, Row = types
    data = json.loads(text)
    raw = data.pop("rows")
    rows = [Row(**{k: _decode(v) for k, v in row.items()}) for row in raw] if rows else []
    result = FileResult(**data, rows=rows)
    if not isinstance(result.rel, str) or not all(isinstance(p, str) for p in result.paths):
        raise ValueError("not a journalled recording")
    return result


class Journal:
    """Finished recordings of one output folder, keyed by their path under ``source.path``, and
    the ledger of the files written there (:class:`ledger.Ledger`, same database). ``types``:
    the classes a recording's result and its rows decode to (:func:`decode_result`); the
    store knows only their fields, so the worker's ``(FileResult, Row)`` are passed in."""

    def __init__(self, out: Path, types: tuple[type, type] | None = None):
        self.out, self.types = out, types
        path = owned(out, JOURNAL, whole=True)
        for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite writes all of them in place
            refuse_linked(out / f"{JOURNAL}{suffix}")
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "units" in tables and version != JOURNAL_FORMAT:
                self._start_over(version)
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS units (rel TEXT PRIMARY KEY, fingerprint TEXT, record TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS headers (rel TEXT PRIMARY KEY, fingerprint TEXT, frames INTEGER, "
                            "sample_rate INTEGER)")
            self.db.execute(f"PRAGMA user_version = {JOURNAL_FORMAT}")
        except sqlite3.Error as exc:
            raise BuildError(f"cannot open the build journal {path}: {exc}; {_hint(exc)}") from None
        from .ledger import Ledger

        self.ledger = Ledger(self)
        # The end of a build reads every record back; those this process committed are handed
        # back as the objects themselves (decoding their JSON and base64 was 0.04 s of the end of
        # a 2-hour build), as long as they fit in KEEP_BYTES; the rest come from the database.
        self._kept: dict[str, tuple[object, int]] = {}
        self._kept_bytes = 0

    def _start_over(self, version: int) -> None:
        """A journal of another format (an earlier spectroset's pickles): its rows are never
        decoded; what that build wrote goes (:func:`record.remove_earlier_build`) and the folder
        is rebuilt from scratch."""
        from .record import remove_earlier_build

        log.warning("note: %s was built by an earlier spectroset (journal format %d, now %d): rebuilding it from "
                    "scratch", self.out, version, JOURNAL_FORMAT)
        remove_earlier_build(self.out, [rel for (rel,) in self.db.execute("SELECT rel FROM units")])
        for table in ("units", "meta", "pending", "files", "headers", "stamps", "expected"):
            self.db.execute(f"DROP TABLE IF EXISTS {table}")

    def get_meta(self, key: str):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        try:
            return None if row is None else json.loads(row[0])
        except (TypeError, ValueError):
            return None

    def set_meta(self, key: str, value) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def fingerprints(self) -> dict[str, str]:
        return {rel: fp for rel, fp in self.db.execute("SELECT rel, fingerprint FROM units")
                if isinstance(rel, str) and isinstance(fp, str)}

    def put(self, rel: str, fingerprint: str, record, files: list[tuple[str, str, int]]) -> None:
        """Commit a recording's result and its files (path, sha256, size) in one transaction."""
        text = json.dumps(encode(record), separators=(",", ":"))
        self._write_all([("INSERT OR REPLACE INTO units VALUES (?, ?, ?)", (rel, fingerprint, text)),
                         *(self.ledger.confirm_sql(p, sha, size, rel) for p, sha, size in files),
                         *self.ledger.stamp_sql(files)])
        self._forget([rel])
        if self._kept_bytes + len(text) <= KEEP_BYTES:
            self._kept[rel] = (record, len(text))
            self._kept_bytes += len(text)

    def _forget(self, rels) -> None:
        for rel in rels:
            _, size = self._kept.pop(rel, (None, 0))
            self._kept_bytes -= size

    def get(self, rel: str, rows: bool = True):
        """The journalled result of ``rel`` (without its rows for ``rows=False``: totals and skip
        reasons); None when there is none or its row does not decode."""
        kept = self._kept.get(rel)
        if kept is not None:  # what decoding its row would give (tests/store/test_state.py)
            return kept[0] if rows else dataclasses.replace(kept[0], rows=[])
        row = self.db.execute("SELECT record FROM units WHERE rel=?", (rel,)).fetchone()
        if row is None:
            return None
        if self.types is None:  # a programming error, not a record to rebuild
            raise RuntimeError("this Journal was opened without the types its records decode to")
        try:
            record = decode_result(row[0], self.types, rows)
        except (TypeError, ValueError, KeyError, AttributeError):  # tampered or foreign: rebuild it
            return None
        return record if record.rel == rel else None

    def records(self, rels: list[str], rows: bool = True) -> Iterator:
        """Records in the order of ``rels`` (missing ones skipped), one at a time."""
        for rel in rels:
            rec = self.get(rel, rows)
            if rec is not None:
                yield rec

    def headers(self) -> dict[str, tuple[str, int, int]]:
        """rel → (fingerprint, frames, sample_rate) of the audio headers read for earlier plans
        (``headers.py``); frames 0 where the header did not say or could not be read."""
        return {rel: (fp, frames, rate) for rel, fp, frames, rate in self.db.execute("SELECT * FROM headers")
                if isinstance(rel, str) and isinstance(fp, str) and isinstance(frames, int) and isinstance(rate, int)}

    def set_headers(self, rows: dict[str, tuple[str, int, int]]) -> None:
        """Replace the header cache with ``rows`` (the current sources' only)."""
        self._write_all([("DELETE FROM headers", ()),
                         *(("INSERT INTO headers VALUES (?, ?, ?, ?)", (rel, *row)) for rel, row in rows.items())])

    def delete(self, rels: list[str]) -> None:
        self._forget(rels)
        self._write_all([("DELETE FROM units WHERE rel=?", (rel,)) for rel in rels])

    def clear(self) -> None:
        self._forget(list(self._kept))
        self._write_all([("DELETE FROM units", ()), ("DELETE FROM meta", ())])

    def _write(self, sql: str, args=()) -> None:
        self._write_all([(sql, args)])

    def _write_all(self, statements: list[tuple[str, tuple]]) -> None:
        """Run ``statements`` in one transaction: all of them land, or none."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.db.execute(sql, args)
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise BuildError(f"cannot update the build journal: {exc}; {_hint(exc)}") from None

    def close(self) -> None:
        self.db.close()

