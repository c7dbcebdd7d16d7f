"""Outputs at fsspec URLs (``s3://``, ``gs://``, ``hf://``, ``file://``, ``memory://`` …).

A build needs a lock, a journal and renames, which object stores do not have, so a URL output is
built in a local *staging* folder exactly like a local one, then mirrored to the URL:

1. the remote ``build.json`` is deleted first, so a reader never takes a half-updated dataset
   for a finished one;
2. the files about to be uploaded are noted in ``STAGING/.spectroset/remote.json`` *before* the
   first one goes (intent), then every data file the remote does not already hold with the same
   SHA-256 is uploaded, and what arrived is noted as it goes: an upload that dies — even the
   first one, seconds in — resumes where it stopped;
3. files the previous build had put there (its remote ``build.json``, or this staging folder's
   note) and this one no longer has are deleted, each by its exact name;
   a recorded file whose bytes there changed is the user's: never replaced (the sync stops before
   step 1) nor deleted (left, with a warning) unless ``--repair`` (``url_hashes.py``);
4. ``build.json`` is uploaded last.

A remote ``build.json`` counts only if spectroset wrote it (:func:`record.parse_record`): a
foreign one is refused, never adopted, never a source of deletions. On a ``file://`` root every
path written or deleted must resolve inside the root (:func:`paths.inside`) and not be a link.

Only files a spectroset build wrote are ever deleted, and only at relative paths inside the URL:
an entry with ``..`` or an absolute path is never acted on. A remote folder holding anything
else without a ``build.json`` (or this staging folder's note of an upload to it) is refused, as
a local one is.

Object stores cannot be locked, so two builds mirroring to one URL are kept apart by a lease,
``URL/.spectroset-lease.json`` (who, and until when), held for the whole mirror and renewed as it
goes: a build that finds another's live lease stops with one line naming its holder. Taking a
lease is write, wait :data:`LEASE_SETTLE` seconds, read back: of two builds that race for it,
the one whose write was overwritten sees the other's and stops. A lease whose holder died
expires after :data:`LEASE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import time
from pathlib import Path

from ..errors import BuildError
from ..config.geometry import is_url
from ..sources.urls import filesystem, join
from ..store.paths import inside, owned, safe_rel
from ..store.state_dir import LEASE, RECORD, REMOTE_NOTE
from ..store.record import parse_record, recorded_files
from ..store.atomic import atomic_write
from .url_hashes import changed_on_remote, left_line, refuse_overwrite

NOTE_EVERY = 5.0  # seconds between saves of remote.json during an upload
LEASE_SECONDS = 300.0  # a lease not renewed for this long belongs to a build that died
LEASE_SETTLE = 1.0  # seconds between writing a lease and reading it back
log = logging.getLogger("spectroset")


def staging_dir(url: str, staging: Path | None) -> Path:
    """Where a build for ``url`` lives locally: ``output.staging`` (a root the user named, like
    ``-o``), else a folder per URL under ``$XDG_CACHE_HOME/spectroset/staging`` (``~/.cache`` by
    default; that folder may be a link a user made), which must be a folder of its own there,
    not a link (``paths.owned``)."""
    if staging is not None:
        return staging
    cache, rel = _default_staging(url)
    owned(cache, rel, whole=True, label="staging cache folder")
    return cache / rel


def _default_staging(url: str) -> tuple[Path, str]:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "spectroset" / "staging", hashlib.sha256(url.encode()).hexdigest()[:16]


class Remote:
    """The URL side of a build: what is there, and how to bring it in line with the staging folder."""

    def __init__(self, url: str, staging: Path):
        assert is_url(url)
        self.url, self.staging = url.rstrip("/"), staging
        self.fs, self.root = filesystem(url, key="output.path")
        self.note_path = staging / REMOTE_NOTE

    @property
    def local_root(self) -> Path | None:
        """The folder of a ``file://`` output; None for other stores."""
        from fsspec.implementations.local import LocalFileSystem

        return Path(self.root) if isinstance(self.fs, LocalFileSystem) else None

    def _remote(self, rel: str) -> str:
        return join(self.root, rel)

    def _call(self, what: str, fn, *args):
        try:
            return fn(*args)
        except FileNotFoundError:
            raise
        except Exception as exc:  # network, permissions, quota: the store's message says most
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise BuildError(f"output.path: cannot {what} {self.url}: {detail}; rerun to resume the upload") from None

    def record(self) -> dict | None:
        """The remote ``build.json`` when spectroset wrote it (:func:`record.parse_record`); None
        when there is none; a refusal when it is not ours (unless it is this staging folder's
        upload, cut short)."""
        try:
            record, why = parse_record(self._call("read", self.fs.cat_file, self._remote(RECORD)))
        except FileNotFoundError:
            return None
        if why and RECORD not in self._noted()[1]:
            raise BuildError(f"output.path: {self.url}/{RECORD} was not written by spectroset ({why}); "
                             "choose a new URL, or move that file away")
        return record

    def check(self) -> None:
        """Refuse a remote folder that holds files no spectroset build put there, or a build.json
        spectroset did not write (never adopted: its ``files`` are never a source of deletions),
        and a local (``file://``) one whose paths lead out of it through links."""
        record, (noted, intended) = self.record(), self._noted()
        self._inside(sorted({*recorded_files(record), *noted, *intended, RECORD, LEASE}))  # before any work
        if record is not None or noted or intended:
            return
        try:
            found = self._call("list", self.fs.find, self.root)
        except FileNotFoundError:
            return
        if [f for f in found if f.rstrip("/").rsplit("/", 1)[-1] != LEASE]:  # a first mirror may be under way
            raise BuildError(f"output.path: {self.url} is not empty and was not built by spectroset; "
                             "choose a new URL")

    def _inside(self, rels) -> None:
        """On a local (``file://``) root, refuse before any write a path that leads out of the root
        through a linked folder (:func:`paths.inside`) or is a link itself (fsspec follows it)."""
        if self.local_root is None:
            return  # object stores and memory:// have no links; unsafe paths never get here
        root, folders = self.local_root, {}
        for rel in rels:
            folder = rel.rpartition("/")[0]
            if folder not in folders:
                folders[folder] = inside(root, rel) is not None
            if not (folders[folder] and safe_rel(rel)) or (root / rel).is_symlink():
                raise BuildError(f"output.path: refusing to write or delete {self.url}/{rel}: it leads out of "
                                 f"{self.url} through a link; remove the link (or choose a new URL) and rerun")

    def _noted(self) -> tuple[dict[str, str], list[str]]:
        """What this staging folder knows it put on the remote (rel → sha256), and what it was
        about to upload when it last stopped (maybe there, maybe partly)."""
        try:
            note = json.loads(self.note_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, []
        if not isinstance(note, dict) or note.get("url") != self.url:
            return {}, []
        files = note.get("files") if isinstance(note.get("files"), dict) else {}
        intended = note.get("intended") if isinstance(note.get("intended"), list) else []
        return {k: v for k, v in files.items() if safe_rel(k)}, [k for k in intended if safe_rel(k)]

    def _note(self, files: dict[str, str], intended: list[str]) -> None:
        data = json.dumps({"url": self.url, "files": files, "intended": intended}, sort_keys=True).encode()
        atomic_write(self.note_path, data, root=self.staging)

    def sync(self, record: dict, full: bool = False, repair: bool = False) -> tuple[int, int]:
        """Mirror the staging folder's finished build to the URL; ``(uploaded, deleted)`` files.
        ``full`` (``--force``) uploads every file again, whatever the remote says it holds. A
        recorded file whose remote bytes changed is never replaced (the sync stops first) nor
        deleted (it is left, with a warning) unless ``repair`` (``url_hashes.py``)."""
        previous = self.record()
        local_json = (self.staging / RECORD).read_bytes()
        if previous is not None and json.loads(local_json) == previous and not full:
            return 0, 0
        there = {rel: previous["files"][rel] for rel in recorded_files(previous)}
        noted, intended = self._noted()
        there.update(noted)
        self._inside(sorted(set(record["files"]) | set(there) | set(intended) | {RECORD, LEASE}))
        skip = {} if full else dict(there)
        todo = [(rel, sha) for rel, sha in sorted(record["files"].items()) if skip.get(rel) != sha and safe_rel(rel)]
        gone = (set(there) | set(intended)) - set(record["files"]) - {RECORD, LEASE}
        changed = [] if repair else changed_on_remote(self, there, {r for r, _ in todo} | gone, record["files"])
        if set(changed) - gone:
            refuse_overwrite(self.url, sorted(set(changed) - gone))  # before the first change
        if changed:
            log.warning(left_line(self.url, changed))
        with _Lease(self) as lease:
            return self._mirror(record, local_json, previous, there, intended, todo, sorted(gone - set(changed)), lease)

    def _mirror(self, record: dict, local_json: bytes, previous, there: dict, intended: list[str], todo: list,
                gone: list[str], lease) -> tuple[int, int]:
        if previous is not None:
            self._call("delete", self.fs.rm_file, self._remote(RECORD))
        intended = sorted(set(intended) | {rel for rel, _ in todo})
        self._note(there, intended)  # before the first upload: whatever arrives from here on is ours
        uploaded, last_note, folders = 0, time.monotonic(), set()
        try:
            for rel, sha in todo:
                folder = self._remote(rel).rsplit("/", 1)[0]
                if folder not in folders:  # object stores ignore this; file:// needs the folders
                    self._call("create a folder in", self.fs.makedirs, folder, True)
                    folders.add(folder)
                there.pop(rel, None)  # replaced: not there until the upload returns
                self._call("upload to", self.fs.put_file, str(self.staging / rel), self._remote(rel))
                there[rel] = sha
                uploaded += 1
                if time.monotonic() - last_note > NOTE_EVERY:
                    self._note(there, intended)
                    lease.renew()
                    last_note = time.monotonic()
        finally:  # an error (or Ctrl-C) keeps what did arrive; only a kill loses the last seconds
            self._note(there, intended)
        for rel in gone:
            try:
                self._call("delete", self.fs.rm_file, self._remote(rel))
            except FileNotFoundError:
                pass
        there = {rel: sha for rel, sha in there.items() if rel in record["files"]}
        self._note(there, [RECORD])  # a build.json cut short by a kill is this one: not foreign
        self._call("upload to", self.fs.pipe_file, self._remote(RECORD), local_json)
        self._note(there, [])
        return uploaded + 1, len(gone)


class _Lease:
    """This build's claim on the URL while it mirrors (see the module's docstring)."""

    def __init__(self, remote: Remote):
        self.remote, self.path = remote, remote._remote(LEASE)
        self.id = secrets.token_hex(8)

    def _read(self) -> dict | None:
        try:
            return json.loads(self.remote._call("read", self.remote.fs.cat_file, self.path))
        except (FileNotFoundError, ValueError):
            return None

    def _refuse(self, held: dict) -> None:
        raise BuildError(
            f"output.path: {self.remote.url} is being mirrored by another build (host {held.get('host', '?')}, "
            f"pid {held.get('pid', '?')}, staging folder {held.get('staging', '?')}); wait for it to finish "
            f"(a lease of a build that died expires {LEASE_SECONDS:.0f} s after its last renewal)")

    def _left_by_us(self, held: dict) -> bool:
        """A lease of this staging folder on this host: a build of it that died (we hold its lock)."""
        return held.get("host") == socket.gethostname() and held.get("staging") == str(self.remote.staging)

    def renew(self) -> None:
        data = {"id": self.id, "host": socket.gethostname(), "pid": os.getpid(),
                "staging": str(self.remote.staging), "until": time.time() + LEASE_SECONDS}
        self.remote._call("upload to", self.remote.fs.pipe_file, self.path, json.dumps(data).encode())

    def __enter__(self) -> "_Lease":
        held = self._read()
        if held and held.get("id") != self.id and held.get("until", 0) > time.time() and not self._left_by_us(held):
            self._refuse(held)
        self.remote._call("create a folder in", self.remote.fs.makedirs, self.remote.root, True)  # file:// needs it
        self.renew()
        time.sleep(LEASE_SETTLE)
        held = self._read()
        if not held or held.get("id") != self.id:
            self._refuse(held or {})
        return self

    def __exit__(self, *exc) -> None:
        held = self._read()
        if held and held.get("id") == self.id:
            try:
                self.remote.fs.rm_file(self.path)
            except Exception:  # expires by itself; the build's own result matters more
                pass


def local_folder(text: str) -> Path:
    """A dataset argument of ``inspect``/``report``/``push``: a folder, or the URL a build was
    mirrored to, which means its default staging folder (the local copy of the same files)."""
    if not is_url(text):
        return Path(text)
    cache, rel = _default_staging(text.rstrip("/"))  # only read here; a build checks it
    folder = cache / rel
    import sys

    print(f"{text} is a URL: reading its staging folder {folder}", file=sys.stderr)
    return folder
