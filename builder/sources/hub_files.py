"""Where a ``source.dataset`` lives: its parquet shards and card as local files.

A local folder is read where it is. A Hub dataset (``user/name`` or
``hf://datasets/user/name[@revision][/folder]``) is fetched with ``huggingface_hub``'s
``snapshot_download``: only ``*.parquet`` and ``README.md``, into the user's Hugging Face cache
(``HF_HOME``), resumable, shared with ``datasets`` and reused by every later build; a file
already there for the same commit is not downloaded again. The revision is resolved to one commit
first, so every shard comes from the same commit; with the Hub unreachable (or ``HF_HUB_OFFLINE=1``) a
revision already in the cache is read from it. Audio datasets on the Hub are stored as parquet
(``data/<split>-NNNNN-of-NNNNN.parquet``, or ``<config>/<split>/…``); one kept in another format
is read from its parquet conversion with ``revision: refs/convert/parquet``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_HF_URL = re.compile(r"hf://datasets/([^/@]+/[^/@]+)(?:@([^/]+))?(?:/(.*))?")


@dataclass(frozen=True)
class DatasetFiles:
    root: Path  # the folder the shards' names are relative to
    shards: tuple[str, ...]  # POSIX paths of the parquet files under root, sorted
    card: str  # README.md's text, "" without one
    shown: str  # the dataset as messages name it
    commit: str | None = None  # the Hub commit read, for a Hub dataset
    repo_id: str | None = None  # a Hub dataset's id


def where(dataset: str, revision: str | None) -> tuple[str, str | None, str, str | None]:
    """``(kind, repo id or folder, sub-folder, revision)``; kind is ``"local"`` or ``"hub"``."""
    m = _HF_URL.fullmatch(dataset.rstrip("/"))
    if m:
        if m.group(2) and revision and m.group(2) != revision:
            raise SourceError(f"source.revision: {revision} but source.dataset names @{m.group(2)}; give one")
        return "hub", m.group(1), (m.group(3) or "").strip("/"), revision or m.group(2)
    if dataset.startswith("hf://"):
        raise SourceError(f"source.dataset: {dataset}: a Hub dataset URL is hf://datasets/USER/NAME[@REVISION]")
    if Path(dataset).expanduser().is_dir():
        if revision:
            raise SourceError("source.revision: applies to a Hub dataset, and source.dataset is a local folder")
        return "local", str(Path(dataset).expanduser()), "", None
    if REPO_ID.fullmatch(dataset) and not Path(dataset).expanduser().is_absolute():
        return "hub", dataset, "", revision
    raise SourceError(f"source.dataset: {dataset} is neither a folder nor a Hub dataset id (USER/NAME)")


def fetch(dataset: str, revision: str | None) -> DatasetFiles:
    """The dataset's parquet files, downloaded into the Hub cache when it is a Hub dataset."""
    kind, name, sub, revision = where(dataset, revision)
    root = Path(name) if kind == "local" else _download(name, revision, sub)
    base = root / sub if sub else root
    if not base.is_dir():
        raise SourceError(f"source.dataset: no folder {sub} in {name}")
    shards = sorted(p.relative_to(root).as_posix() for p in base.rglob("*.parquet")
                    if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    shown = name if kind == "local" else f"{name}@{revision or 'main'}"
    if not shards:
        raise SourceError(f"source.dataset: {shown} has no parquet file{f' under {sub}' if sub else ''}: not an "
                          "audio dataset stored as parquet (try revision: refs/convert/parquet for the Hub's conversion)")
    readme = root / "README.md"
    card = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else ""
    commit = root.name if kind == "hub" else None  # snapshot folders are named by their commit
    return DatasetFiles(root, tuple(shards), card, shown, commit, None if kind == "local" else name)


def _download(repo_id: str, revision: str | None, sub: str) -> Path:
    """``snapshot_download`` of the parquet files and the card at one commit; one line on failure."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    shown = f"{repo_id}@{revision or 'main'}"
    patterns = [f"{sub}/*.parquet" if sub else "*.parquet", "README.md"]  # fnmatch: * crosses folders
    try:  # it resolves the revision to one commit first, and serves the cache when the Hub is unreachable
        return Path(snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=patterns))
    except GatedRepoError:
        raise SourceError(f"source.dataset: {shown} is gated: accept its terms on the Hub and log in "
                          "(hf auth login or HF_TOKEN)") from None
    except RepositoryNotFoundError:
        raise SourceError(f"source.dataset: no dataset {repo_id} on the Hub (or it is private: log in with "
                          "hf auth login or HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise SourceError(f"source.revision: {repo_id} has no revision {revision}") from None
    except LocalEntryNotFoundError:
        raise SourceError(f"source.dataset: cannot reach the Hub for {shown}, and it is not in the local cache "
                          "(check the network, or HF_HUB_OFFLINE)") from None
    except OSError as exc:
        raise SourceError(f"source.dataset: cannot download {shown}: {_reason(exc)}") from None
    except Exception as exc:  # httpx's connection errors and the like: the Hub cannot be reached
        raise SourceError(f"source.dataset: cannot reach the Hub for {shown}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
