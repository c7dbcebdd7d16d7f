"""A source dataset's card (README.md): its metadata, the split each shard belongs to, its licence.

The YAML header is read with ``huggingface_hub``'s own card parser. A shard's split is the first
config's ``data_files`` pattern it matches (what ``datasets`` reads), else a split word in its
name (``train-00000-of-00003.parquet``, ``default/test/0000.parquet``), else ``train``. The
card's ``license:`` becomes the built dataset's default ``publish.license`` (a config that names
another keeps its own, with a warning), and a Hub dataset's id joins ``publish.hf.source_datasets``.
"""

from __future__ import annotations

import logging
from fnmatch import fnmatch
from pathlib import PurePosixPath

from ..config.licenses import hub_id
from ..config.sections import Config
from ..errors import SourceError

_SPLIT_WORDS = {"train", "training", "validation", "valid", "val", "dev", "test", "testing", "eval"}
log = logging.getLogger("spectroset")


def card_metadata(text: str) -> dict:
    """The card's YAML metadata, through huggingface_hub's own parser ({} without any)."""
    if not text.startswith("---"):
        return {}
    from huggingface_hub import RepoCard

    try:
        return RepoCard(text, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # a card whose YAML does not parse is only a card without metadata to us
        return {}


def shard_split(shard: str, configs) -> str:
    """The split of a shard: the card's first config's ``data_files`` pattern it matches, else its name."""
    if isinstance(configs, list) and configs and isinstance(configs[0], dict):
        files = configs[0].get("data_files")
        for entry in files if isinstance(files, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("split"), str):
                patterns = entry.get("path")
                for pattern in [patterns] if isinstance(patterns, str) else patterns or []:
                    if fnmatch(shard, pattern) or fnmatch(shard, pattern.replace("**/", "")):
                        return entry["split"]
    parts = PurePosixPath(shard).parts
    named = [parts[-1].split("-")[0].split(".")[0], *reversed(parts[:-1])]  # "train-0000….parquet", "train/"
    return next((p for p in named if p.lower() in _SPLIT_WORDS), "train")


def choose_splits(shards: list[str], card: dict, wanted: tuple[str, ...], shown: str
                  ) -> tuple[dict[str, str], tuple[str, ...]]:
    """``({shard: split} of the ``wanted`` splits (default all), every split there is)``; a wanted
    split that is not there is a :class:`SourceError` naming those that are."""
    split_of = {shard: shard_split(shard, card.get("configs")) for shard in sorted(shards)}
    present = tuple(sorted(set(split_of.values())))
    missing = sorted(set(wanted) - set(present))
    if missing:
        raise SourceError(f"source.split: {shown} has no split {', '.join(missing)} (has {', '.join(present)})")
    keep = set(wanted) or set(present)
    return {shard: split for shard, split in split_of.items() if split in keep}, present


def with_source_card(cfg: Config, licence: str | None, shown: str, repo_id: str | None) -> Config:
    """``cfg`` with what the source dataset's card gives the built one: its Hub id among
    ``publish.hf.source_datasets`` (the card's lineage), and its licence as the default
    ``publish.license``; a warning when the config names another licence."""
    hf = cfg.publish.hf
    if repo_id is not None and repo_id not in hf.source_datasets:
        hf = hf.model_copy(update={"source_datasets": (*hf.source_datasets, repo_id)})
    cfg = cfg.model_copy(update={"publish": cfg.publish.model_copy(update={"hf": hf})})
    if licence is None:
        return cfg
    try:
        theirs = hub_id(licence)
    except ValueError:
        log.warning("warning: %s's card names the licence %r, which is not a Hub licence id: not carried to "
                    "this dataset; set publish.license", shown, licence)
        return cfg
    ours = cfg.publish.hf.license or cfg.publish.license
    if ours is None:
        return cfg.model_copy(update={"publish": cfg.publish.model_copy(update={"license": theirs})})
    if hub_id(ours) != theirs:
        log.warning("warning: publish.license %s differs from the source dataset %s's licence %s: make sure the "
                    "recordings allow it", ours, shown, theirs)
    return cfg
