"""Whether a recorded file still holds the bytes spectroset wrote: checked cheaply, before acting.

A complete ledger row (``ledger.py``) holds a file's SHA-256 and size. Beside it, the ``stamps``
table holds the ``st_mtime_ns`` the file had when it was recorded, with the SHA-256 it was
stamped for. :func:`verdict` costs one ``lstat``: a regular file whose size and mtime match its
row and stamp is intact without being read; any other regular file of the right size is hashed,
and a matching hash renews its stamp (a copied folder is hashed once, not on every rerun). A file
that is not there is *missing* (a build writes it again); other bytes, or a link or a folder in
its place, is *changed*: the user's now, never removed or replaced unless the user asks with
``build --repair`` (docs/guarantees.md, "Hashes: checked before acting").

Like git's index, an edit that keeps the size and the mtime (made in the clock tick of the write,
or with the old mtime put back) passes for intact here; ``inspect --verify`` and ``push`` hash
every file.

:func:`settle` is the check a build runs before it changes anything (see ``pipeline.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field

from ..errors import BuildError
from .paths import owned

INTACT, MISSING, CHANGED = "intact", "missing", "changed"
log = logging.getLogger("spectroset")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def create(db) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS stamps (path TEXT PRIMARY KEY, sha256 TEXT, mtime INTEGER)")


def stamp_sql(out: str, files) -> list[tuple[str, tuple]]:
    """Statements recording the mtime of each ``(path, sha256)`` just written: one ``lstat`` each."""
    sql = []
    for rel, sha in files:
        try:
            mtime = os.lstat(os.path.join(out, rel)).st_mtime_ns
        except OSError:
            continue  # no stamp: the next check hashes it
        sql.append(("INSERT OR REPLACE INTO stamps VALUES (?, ?, ?)", (rel, sha, mtime)))
    return sql


def verdict(out: str, rel: str, sha: str, size, stamp: tuple) -> tuple[str, int | None]:
    """``(INTACT | MISSING | CHANGED, mtime to stamp or None)`` of the recorded file ``rel``;
    ``stamp`` is its ``(sha256, mtime)`` from the stamps table (or Nones)."""
    path = os.path.join(out, rel)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING, None
    except OSError:  # unreadable: whatever it is, it is not known to be ours
        return CHANGED, None
    if not stat.S_ISREG(st.st_mode) or (isinstance(size, int) and st.st_size != size):
        return CHANGED, None
    if tuple(stamp) == (sha, st.st_mtime_ns):
        return INTACT, None
    try:
        same = sha256_file(path) == sha
    except OSError:
        return CHANGED, None
    return (INTACT, st.st_mtime_ns) if same else (CHANGED, None)


def complete_rows(db):
    """``(path, unit, sha256, size, (stamped sha256, mtime))`` of every complete ledger row."""
    for rel, unit, sha, size, *stamp in db.execute("SELECT f.path, f.unit, f.sha256, f.size, s.sha256, s.mtime "
                                                   "FROM files f LEFT JOIN stamps s ON s.path = f.path "
                                                   "WHERE f.sha256 IS NOT NULL"):
        yield rel, unit, sha, size, stamp


def changed(db, out: str, rel: str) -> bool:
    """Whether the recorded file ``rel`` is there with other bytes than its complete row says:
    hashed, whatever its stamp says (a removal or an overwrite is never decided by a stamp)."""
    row = db.execute("SELECT sha256, size FROM files WHERE path=?", (rel,)).fetchone()
    return row is not None and row[0] is not None and verdict(out, rel, row[0], row[1], (None, None))[0] == CHANGED


def _shown(rels) -> str:
    rels = sorted(rels)
    return ", ".join(rels[:3]) + (f", … {len(rels) - 3} more" if len(rels) > 3 else "")


@dataclass
class Edits:
    """What :func:`settle` found: ``changed`` and ``missing`` recorded files, and ``checked``,
    every path it looked at."""

    changed: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    checked: set[str] = field(default_factory=set)

    def complete(self, listed) -> bool:
        """Whether every file of ``listed`` (a build.json's) was checked and is there."""
        return all(rel in self.checked and rel not in self.missing for rel in listed)


def settle(ledger, previous: dict | None) -> Edits:
    """Check every recorded file (private state and build.json excepted) against its row. A changed file that
    ``previous`` (build.json) does not list with the row's hash — a tampered row, or one of a
    build that never finished — is not known to be ours: its row is forgotten, the file left.
    A recorded file's folder that is a link (``OUT/data`` to a folder elsewhere) stops the build
    with the link's one line (:func:`~builder.store.paths.owned`), never read through as "changed"
    or "up to date"; checked once per folder."""
    listed = (previous or {}).get("files") or {}
    edits, stamps, unconfirmed, folders = Edits(), [], [], set()
    for rel, _, sha, size, stamp in ledger.complete_rows():
        if (folder := rel.rpartition("/")[0]) not in folders:
            owned(ledger.out, rel)
            folders.add(folder)
        edits.checked.add(rel)
        state, mtime = verdict(str(ledger.out), rel, sha, size, stamp)
        if state == MISSING:
            edits.missing.add(rel)
        elif state == CHANGED and listed.get(rel) == sha:
            edits.changed.add(rel)
        elif state == CHANGED:
            unconfirmed.append(rel)
        elif mtime is not None:
            stamps.append(("INSERT OR REPLACE INTO stamps VALUES (?, ?, ?)", (rel, sha, mtime)))
    if stamps:
        ledger.journal._write_all(stamps)
    if unconfirmed:
        ledger.forget(unconfirmed)
        edits.checked.difference_update(unconfirmed)
        log.warning("note: the build journal named %d file(s) in %s whose bytes differ from its record and that "
                    "build.json does not list (%s): left as yours", len(unconfirmed), ledger.out, _shown(unconfirmed))
    return edits


def refuse_changed(edits: Edits, out) -> None:
    """Stop a build that has work to do, before it changes anything, while built files are
    changed: it would overwrite or remove them, or read them back (the preview grid is drawn from
    the images on disk), and what it builds must not depend on the user's edits."""
    if edits.changed:
        raise BuildError(f"{out}: {len(edits.changed)} built file(s) changed since spectroset wrote them "
                         f"({_shown(edits.changed)}) and this build would overwrite, remove or read them; rerun the "
                         "same command with --repair to restore them (your changes are lost), or move them out of "
                         "the folder")


def changed_line(rels) -> str:
    """The one line for changed files a build left as they are."""
    return (f"left {len(rels)} built file(s) changed since spectroset wrote them as they are ({_shown(rels)}); "
            "rerun with --repair to restore them")
