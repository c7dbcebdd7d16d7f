"""Where a ``source.dataset`` lives: its parquet shards and card as local files.

A local folder is read where it is. A Hub dataset (``user/name`` or
``hf://datasets/user/name[@revision][/folder]``) is fetched with ``huggingface_hub``'s
``huggingface_hub``: the revision is resolved to one commit and its files listed
(``dataset_info``), the card read (its ``configs`` tell each shard's split), then only the shards
of the chosen splits are downloaded (``snapshot_download``) into the user's Hugging Face cache
(``HF_HOME``): resumable, shared with ``datasets``, and a file already there for that commit is
not downloaded again. With the Hub unreachable (or ``HF_HUB_OFFLINE=1``) a revision already in the
cache is read from it. Audio datasets on the Hub are stored as parquet
(``data/<split>-NNNNN-of-NNNNN.parquet``, or ``<config>/<split>/…``); one kept in another format
is read from its parquet conversion with ``revision: refs/convert/parquet``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from .dataset_card import card_metadata, choose_splits

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_HF_URL = re.compile(r"hf://datasets/([^/@]+/[^/@]+)(?:@([^/]+))?(?:/(.*))?")


@dataclass(frozen=True)
class DatasetFiles:
    root: Path  # the folder the shards' names are relative to
    split_of: dict[str, str]  # POSIX path of each parquet file read (under root) → its split, sorted by path
    present: tuple[str, ...]  # every split the dataset has
    card: dict  # README.md's YAML metadata, {} without one
    shown: str  # the dataset as messages name it
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


def fetch(dataset: str, revision: str | None, splits: tuple[str, ...] = ()) -> DatasetFiles:
    """The parquet files of the dataset's ``splits`` (default all), downloaded into the Hub cache
    when it is a Hub dataset: only those shards and the card."""
    kind, name, sub, revision = where(dataset, revision)
    shown = name if kind == "local" else f"{name}@{revision or 'main'}"
    if kind == "local":
        root = Path(name)
        if not (root / sub).is_dir():
            raise SourceError(f"source.dataset: no folder {sub} in {name}")
        names = sorted(p.relative_to(root).as_posix() for p in (root / sub).rglob("*") if p.is_file())
        readme = root / "README.md"
        card = card_metadata(readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else "")
    else:
        commit, names, card = _hub_listing(name, revision, shown)
    shards = [n for n in names if n.endswith(".parquet") and (not sub or n.startswith(sub + "/"))
              and not any(part.startswith(".") for part in n.split("/"))]
    if not shards:
        raise SourceError(f"source.dataset: {shown} has no parquet file{f' under {sub}' if sub else ''}: not an "
                          "audio dataset stored as parquet (try revision: refs/convert/parquet for the Hub's conversion)")
    split_of, present = choose_splits(shards, card, splits, shown)
    if kind == "hub":
        root = _download(name, revision, sorted(split_of), shown)
        if root.name != commit:  # snapshot folders are named by their commit
            raise SourceError(f"source.dataset: {shown} changed while it was read (commit {commit[:8]}, now "
                              f"{root.name[:8]}); run again")
        missing = [rel for rel in split_of if not (root / rel).is_file()]
        if missing:
            raise SourceError(f"source.dataset: cannot reach the Hub for {shown}, and the cache lacks {missing[0]}"
                              + (f" and {len(missing) - 1} more shard(s)" if len(missing) > 1 else ""))
    return DatasetFiles(root, split_of, present, card, shown, None if kind == "local" else name)


def _hub_listing(repo_id: str, revision: str | None, shown: str) -> tuple[str, list[str], dict]:
    """``(commit, every file of the commit, card metadata)``: the revision resolved to one
    commit and its card downloaded; from the cache alone when the Hub cannot be reached."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    try:
        info = _hub(lambda: HfApi().dataset_info(repo_id, revision=revision), repo_id, revision, shown)
        names = sorted(s.rfilename for s in info.siblings or [])
        readme = (_hub(lambda: hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=info.sha),
                       repo_id, revision, shown) if "README.md" in names else None)
        commit = info.sha
    except _Unreachable as exc:  # what the cache holds of that revision, as huggingface_hub serves it offline
        try:
            root = Path(snapshot_download(repo_id, repo_type="dataset", revision=revision, local_files_only=True))
        except Exception:
            raise SourceError(f"source.dataset: cannot reach the Hub for {shown}, and it is not in the local cache "
                              f"({exc.reason})") from None
        names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        readme = root / "README.md" if (root / "README.md").is_file() else None
        commit = root.name  # snapshot folders are named by their commit
    text = Path(readme).read_text(encoding="utf-8", errors="replace") if readme else ""
    return commit, names, card_metadata(text)


def _download(repo_id: str, revision: str | None, shards: list[str], shown: str) -> Path:
    """The chosen shards into the cache (resumable; what is there is not fetched again). By the
    revision's name, not its commit: the cache then maps the name to the commit, so that a build
    without the Hub (``HF_HUB_OFFLINE=1``) finds it."""
    from huggingface_hub import snapshot_download

    try:
        return Path(_hub(lambda: snapshot_download(repo_id, repo_type="dataset", revision=revision,
                                                   allow_patterns=[*shards, "README.md"]), repo_id, revision, shown))
    except _Unreachable as exc:
        raise SourceError(f"source.dataset: cannot reach the Hub for {shown} ({exc.reason})") from None


class _Unreachable(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def _hub(call, repo_id: str, revision: str | None, shown: str):
    """``call()``, its Hub errors as one line each; a Hub that cannot be reached is :class:`_Unreachable`."""
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)

    try:
        return call()
    except GatedRepoError:
        raise SourceError(f"source.dataset: {shown} is gated: accept its terms on the Hub and log in "
                          "(hf auth login or HF_TOKEN)") from None
    except RepositoryNotFoundError:
        raise SourceError(f"source.dataset: no dataset {repo_id} on the Hub (or it is private: log in with "
                          "hf auth login or HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise SourceError(f"source.revision: {repo_id} has no revision {revision}") from None
    except HfHubHTTPError as exc:
        raise SourceError(f"source.dataset: the Hub refused {shown}: {_reason(exc)}") from None
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as exc:
        raise _Unreachable(_reason(exc)) from None
    except OSError as exc:  # a full disk or an unwritable cache: not the network's fault
        if exc.errno is not None:
            raise SourceError(f"source.dataset: cannot download {shown}: {_reason(exc)}") from None
        raise _Unreachable(_reason(exc)) from None
    except Exception as exc:  # httpx's connection errors and timeouts: the Hub cannot be reached
        raise _Unreachable(_reason(exc)) from None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
