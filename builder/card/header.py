"""The card's YAML header: what the Hub and ``load_dataset`` read before any data.

Built with ``huggingface_hub``'s ``DatasetCardData``; ``datasets``' own ``DatasetInfosDict`` and
``MetadataConfigs`` write ``dataset_info`` and ``configs`` into it, so no YAML is written by hand.
Sizes follow ``datasets``: ``num_bytes`` is a split's Arrow size, ``download_size`` the bytes of
its files, ``dataset_size`` the sum of ``num_bytes``.
"""

from __future__ import annotations

from ..config.licenses import hub_fields
from .features import as_yaml, columns


def split_bytes(layout, split: str) -> int:
    """Bytes of the data files of one split as stored (what ``datasets`` calls its download size)."""
    return sum(layout.size_of(rel) for rel in _split_files(layout, split))


def _split_files(layout, split: str) -> list[str]:
    prefix = layout.data_files()[split].split("*", 1)[0]
    return [rel for rel in layout.files if rel.startswith(prefix) and rel not in ("README.md", "preview.png",
                                                                                  "stats.json", "croissant.json",
                                                                                  "skipped.csv")]


def arrow_bytes(layout, split: str) -> int:
    """The split's size as an Arrow table with the images embedded, as ``datasets`` counts
    ``num_bytes`` (``push_to_hub``'s ``Dataset._estimate_nbytes``). Parquet files: the Arrow size of
    their row groups, read one at a time; an image folder: the metadata table plus the images' bytes."""
    total = 0
    for rel in _split_files(layout, split):
        path = layout.out / rel
        if rel.endswith(".parquet"):
            import pyarrow.parquet as pq

            # Not the row groups' parquet sizes: they leave out Arrow's offsets (one per list, per
            # row of an array, per binary value) and were 4-8% low with arrays and audio clips.
            # Reading back a shard just written costs ~0.2 s per GB (page cache).
            with pq.ParquetFile(path) as shards:
                total += sum(_as_loaded(shards.read_row_group(i)) for i in range(shards.num_row_groups))
        elif rel.endswith(".csv"):
            from pyarrow import csv as pacsv

            # one thread: starting the reader's pool took longer than reading a build's metadata
            total += _as_loaded(pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False)))
        else:
            total += layout.size_of(rel)
    return total


def _as_loaded(table) -> int:
    """A table's Arrow size as ``datasets`` loads it. Shards are as they are; an image folder's
    metadata changes: ``file_name`` becomes the image column (a null ``bytes`` and a path, which
    ``_estimate_nbytes`` swaps for the file's size, counted apart) and label names become
    ``ClassLabel`` ids (int64)."""
    n, total = table.num_rows, table.nbytes
    if "file_name" in table.column_names:
        total += 4 * (n + 1) + (n + 7) // 8 - table["file_name"].nbytes
        for name in ("label", "labels"):  # names → int64 ids; a list's offsets stay as they are
            if name in table.column_names:
                names = table[name] if name == "label" else table[name].combine_chunks().flatten()
                total += 8 * len(names) - names.nbytes
    return total


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                        (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return name
    return "100M<n<1B"


def card_data(layout, record: dict):
    """The card's YAML header as ``huggingface_hub.DatasetCardData``, with ``configs`` and
    ``dataset_info`` in the form ``datasets``' own ``MetadataConfigs``/``DatasetInfosDict`` write
    (written here: importing ``datasets`` cost every build 0.4–0.8 s; tests/card/test_card.py
    compares the two)."""
    import copy

    from huggingface_hub.repocard_data import DatasetCardData  # not the package root: see card.write_card

    cfg, plan = layout.cfg, layout.plan
    hub = cfg.publish.hf
    labelled = plan.labelled
    # a Hub id; ``unknown`` when none is set (never a silent default); ``other`` with its name and link
    licence = hub_fields(hub.license or cfg.publish.license)
    data = DatasetCardData(
        license=licence.pop("license"), **licence, pretty_name=cfg.name,
        size_categories=[size_category(record["windows"])],
        source_datasets=list(hub.source_datasets) or None,
        task_categories=["image-classification"] if labelled else None,
        task_ids=([("multi-label" if plan.multilabel else "multi-class") + "-image-classification"]
                  if labelled else None),
        tags=sorted({"audio", "spectrogram", "spectroset", *hub.tags}),
    )
    splits = [{"name": name, "num_bytes": int(arrow_bytes(layout, name)), "num_examples": n}
              for name, n in record["splits"].items()]
    download = sum(split_bytes(layout, name) for name in record["splits"])
    feats = as_yaml(columns(plan, cfg))
    data["dataset_info"] = {"features": feats, "splits": splits, "download_size": download,
                            "dataset_size": sum(s["num_bytes"] for s in splits)}
    if layout.inferred():
        # No ``configs``: ``datasets`` then keys its cache on OUT's own files (paths and times), not
        # on the folder's name and this header, and takes the features from the metadata's schema.
        return data
    files = [{"split": s, "path": p} for s, p in layout.data_files().items() if s in record["splits"]]
    # The folder loaders take features from ``configs`` or the data files' schemas, never from
    # ``dataset_info``, so the config repeats what dataset_info declares.
    data["configs"] = [{"config_name": "default", "data_files": files, "features": copy.deepcopy(feats)}]
    return data
