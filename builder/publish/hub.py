"""Publish to the Hugging Face Hub with the official ``huggingface_hub`` client.

    token → whoami → create_repo(exist_ok) → [create_branch] → upload_folder(staged folder)

``upload_folder`` hashes every file and skips what the repo already holds (unchanged files by oid,
LFS objects by sha256); with ``hf_xet`` installed it uploads through Xet in several resumable
commits, otherwise it makes one LFS commit. Either way a retry or a rerun after an interruption
only sends what is missing. Files that the previous spectroset push uploaded (listed in the
``build.json`` it left in the repo) and this build no longer has (a shard count that shrank, a
removed label) are deleted in the same commit, each by its exact name; any other file in the repo
is someone else's and stays. A file the previous push uploaded whose bytes in the repo changed
since (the owner edited it on the Hub) is never deleted (left, with a warning) nor replaced (the
push stops before uploading anything; ``hub_hashes.py``). A build.json spectroset did not write
(:func:`record.parse_record`) means the repo is someone else's: the push stops with one line
before anything in it changes.

The dataset card is uploaded as the engine wrote it: its ``configs`` tell ``load_dataset`` which
files make which split and declare the features (``label`` as a ``ClassLabel``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import CredentialsError, PublishError
from . import TRANSIENT_STATUS, add_secret, causes, describe, is_offline, network_error, retrying
from ..store.state_dir import RECORD
from ..store.record import parse_record, recorded_files
from .hub_hashes import HubRepo, changed_on_hub, left_line, refuse_replacing
from .stage import replace_texts, stage_hub

_NAME = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_GLOB = re.compile(r"([*?\[])")
log = logging.getLogger("spectroset")


@dataclass(frozen=True)
class HubTarget:
    repo_id: str  # "OWNER/NAME", or "NAME" for the token's own namespace
    private: bool = False
    revision: str | None = None
    message: str = "Upload dataset with spectroset"


def check_repo_id(repo_id: str) -> str:
    """``OWNER/NAME`` or ``NAME``, each part as the Hub allows (letters, digits, ``-_.``, ≤ 96)."""
    parts = repo_id.split("/")
    if len(parts) > 2 or not all(_NAME.match(p) for p in parts):
        raise PublishError(f"--repo {repo_id!r}: expected OWNER/NAME with letters, digits, '-', '_' or '.' "
                           "(at most 96 characters each, no '--' or '..')")
    return repo_id


def find_token() -> tuple[str, str]:
    """(token, where it came from): ``HF_TOKEN``, else the token saved by ``hf auth login``."""
    from huggingface_hub import get_token

    source = "HF_TOKEN" if os.environ.get("HF_TOKEN") else "the token saved by `hf auth login`"
    token = get_token()
    if not token:
        raise CredentialsError("no Hugging Face token: set HF_TOKEN to a write token (or run `hf auth login`)")
    add_secret(token)
    return token, source


def is_transient(exc: BaseException) -> bool:
    """5xx, 408 and 429 replies, and connections refused, dropped or timed out."""
    transport: tuple[type, ...] = (ConnectionError, TimeoutError)
    for module in ("httpx2", "httpx"):  # huggingface_hub 2.x sends through httpx2
        with contextlib.suppress(ImportError):
            transport += (importlib.import_module(module).TransportError,)
    for e in causes(exc):
        response = getattr(e, "response", None)
        if response is not None and getattr(response, "status_code", None) in TRANSIENT_STATUS:
            return True
        if isinstance(e, transport):
            return True
    return False


def _status(exc: BaseException) -> int | None:
    for e in causes(exc):
        response = getattr(e, "response", None)
        if response is not None and getattr(response, "status_code", None):
            return response.status_code
    return None


def _failure(exc: BaseException, source: str, what: str) -> PublishError:
    if is_offline(exc):
        return network_error(exc, "the Hugging Face Hub")
    status = _status(exc)
    if status == 401:
        return CredentialsError(f"the Hub rejected the token from {source}: set HF_TOKEN to a valid write token")
    if status == 403:
        return CredentialsError(f"the token from {source} may not {what}: set HF_TOKEN to a token with write access")
    return PublishError(f"Hugging Face: could not {what}: {describe(exc)}")


def exact_pattern(path: str) -> str:
    """An fnmatch pattern (what ``delete_patterns`` takes) that matches ``path`` and nothing else."""
    return _GLOB.sub(r"[\1]", path)


def _remote_record(api, repo_id: str, revision: str | None) -> bytes | None:
    """The bytes of the repo's build.json, or None when there is none. A ``revision`` not there
    yet is read from the default branch, where :func:`publish` creates it from."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        path = api.hf_hub_download(repo_id, RECORD, repo_type="dataset", revision=revision)
    except EntryNotFoundError:
        return None
    except RevisionNotFoundError:
        if revision is None:
            raise
        return _remote_record(api, repo_id, None)
    return Path(path).read_bytes()


def previous_push(raw: bytes | None, repo_id: str) -> dict | None:
    """The build.json an earlier spectroset push left (:func:`record.parse_record`), or None.
    Any other build.json is someone else's: the push stops before the repo changes."""
    previous, why = parse_record(raw) if raw is not None else (None, None)
    if why:
        raise PublishError(f"Hugging Face: {repo_id} holds a build.json that spectroset did not write ({why}); "
                           "nothing was uploaded and none of its files changed: push to another --repo, "
                           "or remove that build.json from the repo first")
    return previous


@dataclass(frozen=True)
class Pushed:
    url: str  # the repo (its branch), with the commit it is at: "URL (commit 1a2b3c4d)"
    changed: bool  # False: the repo already held every file as staged, so no commit was made


def publish(out: Path, files: list[str], target: HubTarget, stage: Path, texts=None) -> Pushed:
    """Upload ``files`` of ``out`` (staged into ``stage``) to the target repo.
    ``texts(repo_id)`` gives files to stage in place of the built ones (the card with the repo id)."""
    from huggingface_hub import HfApi

    token, source = find_token()
    api = HfApi(token=token)

    def step(what: str, call):
        try:
            return retrying(call, transient=is_transient, what=what)
        except Exception as exc:  # noqa: BLE001 - every client failure becomes one line
            raise _failure(exc, source, what) from None

    user = step("check the token", lambda: api.whoami())["name"]
    repo_id = target.repo_id if "/" in target.repo_id else f"{user}/{target.repo_id}"
    stage_hub(out, stage, files)
    rewritten = texts(repo_id) if texts is not None else {}
    replace_texts(stage, rewritten)
    step(f"create {repo_id}", lambda: api.create_repo(
        repo_id, repo_type="dataset", private=target.private, exist_ok=True))
    raw = step(f"read build.json of {repo_id}", lambda: _remote_record(api, repo_id, target.revision))
    previous = previous_push(raw, repo_id)
    recorded = {rel: previous["files"][rel] for rel in recorded_files(previous) if rel not in rewritten}
    changed = changed_on_hub(HubRepo(api, repo_id, target.revision, step), recorded, stage)
    refuse_replacing(repo_id, [rel for rel in changed if rel in files])
    left = [rel for rel in changed if rel not in files]
    if left:
        log.warning(left_line(repo_id, left))
    if target.revision:
        step(f"create branch {target.revision}", lambda: api.create_branch(
            repo_id, branch=target.revision, repo_type="dataset", exist_ok=True))
    gone = sorted(set(recorded_files(previous)) - set(files) - {RECORD} - set(left))
    # upload_folder makes no commit when nothing changed and returns the head it found: the
    # head read here tells that case apart (huggingface_hub only logs it)
    head = step(f"read {repo_id}", lambda: api.repo_info(repo_id, repo_type="dataset", revision=target.revision).sha)
    commit = step(f"upload to {repo_id}", lambda: api.upload_folder(
        repo_id=repo_id, repo_type="dataset", folder_path=stage, revision=target.revision,
        commit_message=target.message, delete_patterns=[exact_pattern(p) for p in gone] or None))
    url = f"{api.endpoint}/datasets/{repo_id}"
    if target.revision:
        url += f"/tree/{quote(target.revision, safe='')}"
    oid = getattr(commit, "oid", None)
    return Pushed(f"{url} (commit {oid[:8]})" if oid else url, oid is None or oid != head)
