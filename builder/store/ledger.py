"""The ledger: every file spectroset writes into an output folder, and the only reason it removes one.

A row is written *before* its file is created (intent: ``sha256`` NULL) and completed with the
file's SHA-256 and size once it is in place. Removals (stale images and shards, ``--force``, the
files of a recording a killed run began, temp files), staging for the Hub, Kaggle or a URL, and
deletions there are all computed from these rows or from the ``files`` of a ``build.json``
``record.py`` read and checked, never from a folder listing or a name pattern. Files in OUT that no row
names are the user's: left alone, never overwritten, never published.

A temp file is never recorded on its own: its name is derived exactly from its final name
(:func:`state_dir.temp_name`), so removing a recorded path removes its temp too. Workers that write images
in other processes note each path in an *intent log* (``.spectroset/intent/<hash>.txt``, one
``path<TAB>sha256`` per line) before creating the file; the driver records the log itself as an
intent, so a run killed mid-recording leaves nothing the next run cannot name. An unfinished file
is removed only while its bytes hash to what was recorded before its rename (the log's line, the
``expected`` table: :meth:`Ledger.expect`); a temp goes by its name.

Every path acted on must be relative, free of ``..``, and resolve to its own name inside its root
with symlinks followed (``paths.py``: :func:`inside`, :func:`owned`); anything else is refused before a
write, or skipped by a removal, whatever a tampered journal or build.json says.
A recorded file is removed or replaced only while it holds the bytes its row records
(``stamps.py``): one the user changed is theirs, left as it is unless the build repairs.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from . import stamps
from ..errors import BuildError
from .atomic import disk_error
from .paths import inside, owned, safe_rel
from .state_dir import INTENT_DIR, RECORD, STATE_DIR, is_temp, private, temp_name

log = logging.getLogger("spectroset")


def remove(root: Path, rels, keep=()) -> int:
    """Delete the files ``rels`` under ``root`` (and their temps, and folders left empty by that);
    of those in ``keep``, only the temps.

    Only for paths a record names; unsafe ones are skipped with a note. Returns files removed.
    """
    removed, keep = 0, set(keep)
    for rel in rels:
        path = inside(root, rel)
        if path is None:
            log.warning("note: not removing %r: it does not resolve inside %s", rel, root)
            continue
        for target in (temp_name(path),) if rel in keep else (temp_name(path), path):
            try:
                target.unlink()
                removed += target is path
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                continue  # a folder the user put where we once wrote a file: theirs
            except OSError as exc:
                raise disk_error(exc, target) from None
        parent = path.parent  # emptied folders go too; the private state's stay (workers write there)
        while parent != root and root in parent.parents and parent.relative_to(root).parts[0] != STATE_DIR:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    return removed


def _checked(rel: str) -> bool:
    """Whether a changed file at ``rel`` is the user's: not in the private state, not build.json."""
    return rel != RECORD and not private(rel)


def read_intent_log(out: Path, log_rel: str) -> list[tuple[str, str]]:
    """``(path, sha256)`` of each line of an intent log; ``sha256`` is ``""`` on a line without one."""
    try:
        lines = (out / log_rel).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [intent_entry(line) for line in lines]


def intent_line(rel: str, sha256: str) -> str:
    """An intent log's line: the path a worker is about to create and the SHA-256 of its bytes."""
    return f"{rel}\t{sha256}\n"


def intent_entry(line: str) -> tuple[str, str]:
    rel, tab, sha = line.rpartition("\t")
    return (rel, sha) if tab and len(sha) == 64 else (line, "")


def _holds(path: Path, hashes) -> bool:
    """Whether ``path`` is a regular file whose bytes hash to one of ``hashes``."""
    try:
        return bool(hashes) and stat.S_ISREG(os.lstat(path).st_mode) and stamps.sha256_file(path) in hashes
    except OSError:
        return False


class Ledger:
    """The ``files`` table of the journal database: path → (recording or None, sha256, size)."""

    def __init__(self, journal):
        self.journal, self.out = journal, journal.out
        self.repair = False  # --repair: changed files are ours to replace (their rows say what to restore)
        self.restorable: set[str] = set()  # --repair: changed files to remove now (a recording's, rebuilt)
        journal.db.execute("CREATE TABLE IF NOT EXISTS files "
                           "(path TEXT PRIMARY KEY, unit TEXT, sha256 TEXT, size INTEGER)")
        stamps.create(journal.db)
        journal.db.execute("CREATE TABLE IF NOT EXISTS expected (path TEXT, sha256 TEXT, PRIMARY KEY (path, sha256))")

    def rows(self) -> dict[str, tuple[str | None, str | None]]:
        """path → (unit, sha256); ``sha256`` is None for a file not known to be complete."""
        return {p: (u, s) for p, u, s in self.journal.db.execute("SELECT path, unit, sha256 FROM files")}

    def of_units(self, units) -> list[str]:
        units = set(units)
        return sorted(p for p, (u, _) in self.rows().items() if u in units)

    def unfinished(self) -> bool:
        """Whether a run stopped with writes under way (intents never confirmed)."""
        return self.journal.db.execute("SELECT 1 FROM files WHERE sha256 IS NULL LIMIT 1").fetchone() is not None

    def owns(self, rel: str) -> bool:
        return self.journal.db.execute("SELECT 1 FROM files WHERE path=?", (rel,)).fetchone() is not None

    def complete_rows(self):
        """``(path, unit, sha256, size, stamp)`` of each complete row whose bytes :meth:`changed` checks."""
        return (row for row in stamps.complete_rows(self.journal.db) if safe_rel(row[0]) and _checked(row[0]))

    def changed(self, rel: str) -> bool:
        """Whether recorded ``rel`` holds other bytes than its row says, hashed (a stamp only
        speeds up :func:`stamps.settle`); checked before removing or replacing it."""
        return _checked(rel) and stamps.changed(self.journal.db, str(self.out), rel)

    def forget(self, rels) -> None:
        """Drop these rows, leaving their files alone: they are not (or no longer) ours."""
        self.journal._write_all([(f"DELETE FROM {table} WHERE path=?", (r,)) for r in rels
                                 for table in ("files", "stamps", "expected")])

    def expect(self, rel: str, sha256: str) -> None:
        """Record the SHA-256 of the bytes about to be renamed over intended ``rel``: what lets the
        next run remove that file if this one is killed before :meth:`confirm`."""
        self.journal._write_all([("INSERT OR IGNORE INTO expected VALUES (?, ?)", (rel, sha256))])

    def expected(self) -> dict[str, set[str]]:
        """path → the hashes an unconfirmed file there may hold and still be ours (:meth:`expect`,
        and the hash of the complete row an intent replaced)."""
        found: dict[str, set[str]] = {}
        for rel, sha in self.journal.db.execute("SELECT path, sha256 FROM expected"):
            found.setdefault(rel, set()).add(sha)
        return found

    def intend(self, rels, unit: str | None = None, sha256: str | None = None) -> None:
        """Record ``rels`` before they are created (``sha256``: of the bytes about to be written,
        when known). A path that exists and is not ours stops the build."""
        rels = list(rels)
        for rel in rels:
            path = owned(self.out, rel)
            if os.path.lexists(path) and not self.owns(rel):
                raise BuildError(f"{path} exists and was not written by spectroset; move it away and rerun")
            if not self.repair and self.changed(rel):
                raise BuildError(f"{path} was changed since spectroset wrote it; rerun with --repair to restore it, "
                                 "or move it away")
        now = "INSERT OR IGNORE INTO expected SELECT path, sha256 FROM files WHERE path=? AND sha256 IS NOT NULL"
        new = [("INSERT OR IGNORE INTO expected VALUES (?, ?)", (r, sha256)) for r in rels] if sha256 else []
        self.journal._write_all([*((now, (r,)) for r in rels), *new,  # the bytes there now, or the new ones
                                 *(("INSERT OR REPLACE INTO files VALUES (?, ?, NULL, NULL)", (r, unit)) for r in rels)])

    def foreign(self, rels) -> list[str]:
        """Those of ``rels`` where something exists (a file, a link, a folder) that is not ours."""
        return [rel for rel in rels if os.path.lexists(owned(self.out, rel)) and not self.owns(rel)]

    def sizes(self) -> dict[str, int]:
        """path → size in bytes of every file known to be complete."""
        return {p: n for p, n in self.journal.db.execute("SELECT path, size FROM files WHERE sha256 IS NOT NULL")
                if isinstance(n, int)}

    def confirm_sql(self, rel: str, sha256: str, size: int, unit: str | None = None) -> tuple[str, tuple]:
        return "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (rel, unit, sha256, size)

    def confirm(self, rel: str, sha256: str, size: int, unit: str | None = None) -> None:
        self.journal._write_all([self.confirm_sql(rel, sha256, size, unit), *self.stamp_sql([(rel, sha256, size)]),
                                 ("DELETE FROM expected WHERE path=?", (rel,))])

    def stamp_sql(self, files) -> list[tuple[str, tuple]]:
        """Stamps (mtime) of files just written, ``(path, sha256, size)``, private state excepted."""
        return stamps.stamp_sql(str(self.out), [(p, sha) for p, sha, _ in files if not private(p)])

    def remove(self, rels) -> int:
        """Delete these recorded files (and their temps) and forget them. The one way files go."""
        rels = sorted(r for r in set(rels) if self.owns(r))  # a path no row names is not ours to remove
        if not rels:
            return 0
        left = [r for r in rels if r not in self.restorable and self.changed(r)] if self.repair else \
            [r for r in rels if self.changed(r)]  # the user's now: stays
        n = remove(self.out, sorted(set(rels) - set(left)))
        self.forget(sorted(set(rels) - set(left)) if self.repair else rels)  # --repair: rewritten if built again
        return n

    def reconcile(self, changed=(), replace: bool = False) -> None:
        """Bring OUT in line with the ledger before a build changes anything: build.json withdrawn
        (the folder is unfinished until the build writes it last), the ``changed`` files removed
        (``--repair``: built again, as missing ones are), what a killed run left unfinished
        removed, and with ``replace`` (``--force``, another config) every recorded file."""
        self.remove([RECORD])
        self.remove(changed)
        self.remove_unfinished()
        if replace:
            self.remove_all()

    def remove_unfinished(self) -> int:
        """Files whose write never completed: a killed run's intents, and what its intent logs name.

        Temps go by name; a file in place only while its bytes hash to what was recorded before the
        rename (:meth:`expect`, an intent log's line, the row the intent replaced): a row or line
        without a hash, or with another, deletes nothing. Private state goes by place."""
        rows, pending = self.rows(), self.expected()
        unfinished = [p for p, (_, sha) in rows.items() if sha is None]
        expected = {p: pending.get(p, set()) for p in unfinished}
        for log_rel in unfinished:
            if log_rel.startswith(INTENT_DIR + "/"):
                for p, sha in read_intent_log(self.out, log_rel):
                    if p not in rows and not private(p):
                        expected.setdefault(p, set()).add(sha)
        named = sorted(expected)
        keep = [p for p in named if not private(p) and not _holds(self.out / p, expected[p] - {""})]
        n = remove(self.out, named, keep=keep)
        left = [p for p in keep if os.path.lexists(self.out / p)]
        if left:
            log.info("note: left %d file(s) an unfinished write named as they are, their bytes not the ones recorded "
                     "(%s)", len(left), ", ".join(left[:3]))
        self.forget(unfinished)
        self.journal._write_all([("DELETE FROM expected", ())])
        return n

    def remove_all(self) -> int:
        """Every recorded file (``--force``, a changed config): the user's files stay."""
        return self.remove(self.rows())


def foreign_files(out: Path, ours) -> list[str]:
    """Files under ``out`` (private state excluded) that are not in ``ours``: the user's."""
    ours, found = set(ours), []
    for folder, dirs, names in os.walk(out):
        rel_folder = Path(folder).relative_to(out).as_posix()
        if rel_folder == ".":
            dirs[:] = [d for d in dirs if d != STATE_DIR]
            rel_folder = ""
        dirs.sort()
        for name in sorted(names):
            rel = f"{rel_folder}/{name}" if rel_folder else name
            if rel not in ours and not is_temp(name):
                found.append(rel)
    return sorted(found)
