"""Build state in ``OUT/.spectroset/``: the journal of finished recordings, the lock, atomic writes.

The journal is one SQLite database (WAL): a recording's result is committed in one transaction
only after its images are on disk, so a build killed at any moment resumes from the last commit
and never counts a window twice. The lock is an ``flock`` on a file, which the kernel releases
when its holder dies, so a crashed build never leaves the folder locked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pickle
import sqlite3
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import BuildError, LockedError

STATE_DIR = ".spectroset"


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a hidden temp file in the same folder and a rename.

    A reader (or a later run) sees the old file or the new one, never a part: a process killed
    mid-write leaves only a hidden ``.*.tmp`` beside the target, which the next finished build
    removes. Any ``OSError`` (full disk, read-only folder) becomes a one-line :class:`BuildError`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise disk_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; datasets are meant to be shared
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise disk_error(exc, path) from None
        raise


class AtomicFile:
    """A file streamed under a hidden temp name beside ``path`` and renamed into place by
    :meth:`commit`, for data too big to hold whole (spools, parquet shards); like
    :func:`atomic_write`, a reader never sees a part, and errors are one-line :class:`BuildError`s."""

    def __init__(self, path: Path, open_file: bool = True):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
            self.fh = os.fdopen(fd, "wb") if open_file else None
            if not open_file:
                os.close(fd)
        except OSError as exc:
            raise disk_error(exc, path) from None

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def commit(self) -> None:
        try:
            if self.fh is not None:
                self.fh.close()
            os.chmod(self.tmp, FILE_MODE)
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def abort(self) -> None:
        if self.fh is not None and not self.fh.closed:
            try:
                self.fh.close()
            except OSError:
                pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def disk_error(exc: OSError, path: Path) -> BuildError:
    if exc.errno == errno.ENOSPC:
        return BuildError(f"no space left on the device writing {path}; free space and rerun to resume")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return BuildError(f"cannot write {path}: {exc.strerror}; fix permissions or choose another -o")
    return BuildError(f"cannot write {path}: {exc.strerror or exc}")


def _hint(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "fix permissions or choose another -o"
    return "free space and rerun to resume"


class OutputLock:
    """Exclusive lock on an output folder for the life of one build."""

    def __init__(self, out: Path):
        self.path = out / STATE_DIR / "lock"
        self.fh = None

    def __enter__(self) -> "OutputLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path, "a+")
        except OSError as exc:
            raise disk_error(exc, self.path.parent) from None
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


class Journal:
    """Finished recordings of one output folder, keyed by their path under ``source.path``."""

    def __init__(self, out: Path):
        path = out / STATE_DIR / "journal.sqlite"
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS units (rel TEXT PRIMARY KEY, fingerprint TEXT, record BLOB)"
            )
            # Files a run is about to write for a recording it has not committed yet: a run killed
            # mid-recording leaves them behind, and the next run deletes them (the recording may
            # since have changed or gone, and would otherwise leave stray images).
            self.db.execute("CREATE TABLE IF NOT EXISTS pending (rel TEXT PRIMARY KEY, paths TEXT)")
        except sqlite3.Error as exc:
            raise BuildError(f"cannot open the build journal {path}: {exc}; {_hint(exc)}") from None

    def get_meta(self, key: str):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def fingerprints(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT rel, fingerprint FROM units"))

    def begin(self, rel: str, paths: list[str]) -> None:
        """Note the files about to be written for ``rel``; :meth:`put` commits them."""
        self._write("INSERT OR REPLACE INTO pending VALUES (?, ?)", (rel, json.dumps(paths)))

    def pending(self) -> dict[str, list[str]]:
        """Files of recordings begun but never committed (their run was killed)."""
        return {rel: json.loads(paths) for rel, paths in self.db.execute("SELECT rel, paths FROM pending")}

    def forget_pending(self) -> None:
        self._write("DELETE FROM pending")

    def put(self, rel: str, fingerprint: str, record) -> None:
        blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self._write_all([("INSERT OR REPLACE INTO units VALUES (?, ?, ?)", (rel, fingerprint, blob)),
                         ("DELETE FROM pending WHERE rel=?", (rel,))])

    def get(self, rel: str):
        row = self.db.execute("SELECT record FROM units WHERE rel=?", (rel,)).fetchone()
        return None if row is None else pickle.loads(row[0])

    def records(self, rels: list[str]) -> Iterator:
        """Records in the order of ``rels`` (missing ones skipped), one at a time."""
        for rel in rels:
            rec = self.get(rel)
            if rec is not None:
                yield rec

    def delete(self, rels: list[str]) -> None:
        for rel in rels:
            self._write("DELETE FROM units WHERE rel=?", (rel,))

    def clear(self) -> None:
        self._write_all([("DELETE FROM units", ()), ("DELETE FROM meta", ()), ("DELETE FROM pending", ())])

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
