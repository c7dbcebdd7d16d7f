"""Whether the files the previous push put in a Hub repo still hold the bytes it put there.

Before a push deletes or replaces a file that the repo's ``build.json`` (the previous push's
record) names, it compares the file's current hash there with the record: an LFS file's SHA-256
is the Hub's own (``list_repo_tree``), a regular (small, text) file is compared by its git blob
id with the bytes about to be pushed, and otherwise downloaded and hashed. Other bytes mean the
repo's owner changed it: a file this push would delete is left, with one warning line; one it
would replace stops the push before anything is uploaded (docs/guarantees.md, "Hashes").

The card (README.md) and croissant.json are rewritten with the repo id as they are staged, so
their hashes in build.json are not of the pushed bytes: they are not checked, and a push
replaces them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import PublishError
from ..store.ledger import RECORD
from ..store.stamps import _shown


@dataclass(frozen=True)
class HubRepo:
    api: object  # huggingface_hub.HfApi
    repo_id: str
    revision: str | None
    step: Callable  # (what, call) -> result, retried; a failure is one PublishError line


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's bytes: what the Hub gives for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _tree(repo: HubRepo) -> dict:
    """path → RepoFile of every file at the revision (the default branch for a branch not there yet)."""
    from huggingface_hub.errors import RevisionNotFoundError
    from huggingface_hub.hf_api import RepoFile

    def listing(revision):
        return [e for e in repo.api.list_repo_tree(repo.repo_id, recursive=True, repo_type="dataset",
                                                   revision=revision) if isinstance(e, RepoFile)]

    def files():
        try:
            return listing(repo.revision)
        except RevisionNotFoundError:
            if repo.revision is None:
                raise
            return listing(None)

    return {e.path: e for e in repo.step(f"list the files of {repo.repo_id}", files)}


def _downloaded_sha256(repo: HubRepo, rel: str) -> str:
    path = repo.step(f"read {rel} of {repo.repo_id}", lambda: repo.api.hf_hub_download(
        repo.repo_id, rel, repo_type="dataset", revision=repo.revision))
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def changed_on_hub(repo: HubRepo, recorded: dict[str, str], stage: Path) -> list[str]:
    """Of ``recorded`` (rel → SHA-256 the previous push's record gives), the files in the repo
    whose bytes are neither the record's nor the staged ones this push uploads."""
    if not recorded:
        return []
    now = json.loads((stage / RECORD).read_bytes())["files"]
    changed = []
    for rel, entry in sorted(_tree(repo).items()):
        if rel not in recorded:
            continue
        ours = {recorded[rel], now.get(rel)}
        if entry.lfs is not None:
            sha = entry.lfs.sha256
        elif rel in now and git_blob_id((stage / rel).read_bytes()) == entry.blob_id:
            continue  # the very bytes this push uploads
        elif now.get(rel) == recorded[rel]:
            sha = None  # the record's bytes are the staged ones, and the repo's differ from them
        else:
            sha = _downloaded_sha256(repo, rel)
        if sha not in ours:
            changed.append(rel)
    return changed


def refuse_replacing(repo_id: str, changed: list[str]) -> None:
    if changed:
        raise PublishError(f"Hugging Face: {len(changed)} file(s) in {repo_id} changed since spectroset pushed them "
                           f"({_shown(changed)}) and this push would replace them; nothing was uploaded: keep a copy "
                           "of your version, delete those files from the repo, and push again (or push to another "
                           "--repo)")


def left_line(repo_id: str, left: list[str]) -> str:
    return (f"warning: left {len(left)} file(s) in {repo_id} as they are ({_shown(left)}): changed since spectroset "
            "pushed them, so they are yours now; this build no longer lists them and no push will touch them again")
