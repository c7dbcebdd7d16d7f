"""Whether the files a URL output's previous record names still hold the bytes spectroset put there.

Before :class:`url.Remote` replaces or deletes a remote file that the previous record (the remote
``build.json``, or the staging folder's note of an upload) names, it reads the file and compares
its SHA-256 with the record, as a local build compares with its ledger (``store/stamps.py``).
Other bytes, or a folder in its place, mean the file is the user's now: a build that would
overwrite it stops before uploading anything, one that would delete it leaves it and says so;
``build --repair`` replaces and deletes them anyway (docs/guarantees.md, "Hashes").

Object stores' own checksums (S3 ETags, GCS crc32c) are not SHA-256 and not the same for every
upload path, so every store is read: the price is one read of each file about to be replaced or
deleted, never of the files a build leaves as they are.
"""

from __future__ import annotations

import hashlib

from ..errors import BuildError
from ..store.stamps import _shown

CHUNK = 1 << 20


def current_sha256(remote, rel: str) -> str | None:
    """SHA-256 of the bytes at ``rel`` on the remote now; None when there is no file there, ``""``
    when something that is not a readable file is (a folder): not the record's, whatever it is."""
    def read() -> str:
        digest = hashlib.sha256()
        try:
            with remote.fs.open(remote._remote(rel), "rb") as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    digest.update(chunk)
        except (IsADirectoryError, NotADirectoryError):
            return ""
        return digest.hexdigest()

    try:
        return remote._call("read", read)
    except FileNotFoundError:
        return None


def changed_on_remote(remote, there: dict[str, str], rels, new: dict[str, str]) -> list[str]:
    """Of ``rels`` (files about to be replaced or deleted), those whose bytes on the remote are
    neither what ``there`` (the previous record) says nor ``new`` (this build's record) holds."""
    changed = []
    for rel in sorted(rels):
        if rel not in there:
            continue  # intended only: an upload of ours cut short, its bytes unknown
        sha = current_sha256(remote, rel)
        if sha is not None and sha != there[rel] and sha != new.get(rel):
            changed.append(rel)
    return changed


def refuse_overwrite(url: str, changed: list[str]) -> None:
    raise BuildError(f"output.path: {len(changed)} file(s) at {url} changed since spectroset uploaded them "
                     f"({_shown(changed)}) and this build would overwrite them; nothing was uploaded: rerun the "
                     f"same command with --repair to restore them (your changes are lost), or move them out of {url}")


def left_line(url: str, left: list[str]) -> str:
    return (f"warning: left {len(left)} file(s) at {url} as they are ({_shown(left)}): changed since spectroset "
            "uploaded them, so they are yours now; this build no longer lists them and will not touch them again")
