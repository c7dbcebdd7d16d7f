"""The card's YAML header: what the Hub and ``load_dataset`` read before any data.

Built with ``huggingface_hub``'s ``DatasetCardData``; ``datasets``' own ``DatasetInfosDict`` and
``MetadataConfigs`` write ``dataset_info`` and ``configs`` into it, so no YAML is written by hand.
Sizes follow ``datasets``: ``num_bytes`` is a split's Arrow size, ``download_size`` the bytes of
its files, ``dataset_size`` the sum of ``num_bytes``.
"""

from __future__ import annotations


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
    ``num_bytes`` (and as the Hub's parquet conversion holds it). Parquet shards: the row groups'
    uncompressed sizes; an image folder: the metadata table plus the images' bytes."""
    total = 0
    for rel in _split_files(layout, split):
        path = layout.out / rel
        if rel.endswith(".parquet"):
            import pyarrow.parquet as pq

            meta = pq.read_metadata(path)
            total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        elif rel.endswith(".csv"):
            from pyarrow import csv as pacsv

            # one thread: starting the reader's pool took longer than reading a build's metadata
            total += pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False)).nbytes
        else:
            total += layout.size_of(rel)
    return total


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                        (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return name
    return "100M<n<1B"


def licence_of(cfg) -> str:
    """The dataset's licence as a Hub id; ``unknown`` when none is set (never a silent default)."""
    from ..licenses import hub_id

    return hub_id(cfg.publish.hf.license or cfg.publish.license)


def card_data(layout, record: dict):
    """The card's YAML header as ``huggingface_hub.DatasetCardData``, with ``configs`` and
    ``dataset_info`` in the form ``datasets``' own ``MetadataConfigs``/``DatasetInfosDict`` write
    (written here: importing ``datasets`` cost every build 0.4–0.8 s; tests/layouts/test_card.py
    compares the two)."""
    import copy

    from huggingface_hub.repocard_data import DatasetCardData  # not the package root: see card.write_card

    from .card import features_yaml

    cfg, plan = layout.cfg, layout.plan
    hub = cfg.publish.hf
    labelled = plan.labelled
    data = DatasetCardData(
        license=licence_of(cfg), pretty_name=cfg.name,
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
    feats = features_yaml(layout)
    data["dataset_info"] = {"features": feats, "splits": splits, "download_size": download,
                            "dataset_size": sum(s["num_bytes"] for s in splits)}
    files = [{"split": s, "path": p} for s, p in layout.data_files().items() if s in record["splits"]]
    # The folder loaders take features from ``configs`` only (imagefolder stops inferring ClassLabel
    # once a metadata file exists), so the config repeats what dataset_info declares.
    data["configs"] = [{"config_name": "default", "data_files": files, "features": copy.deepcopy(feats)}]
    return data
