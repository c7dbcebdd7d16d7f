"""The card's YAML header: what the Hub and ``load_dataset`` read before any data.

Built with ``huggingface_hub``'s ``DatasetCardData``; ``datasets``' own ``DatasetInfosDict`` and
``MetadataConfigs`` write ``dataset_info`` and ``configs`` into it, so no YAML is written by hand.
Sizes follow ``datasets``: ``num_bytes`` is a split's Arrow size, ``download_size`` the bytes of
its files, ``dataset_size`` the sum of ``num_bytes``; the layout measures them (``layouts/sizes.py``).
"""

from __future__ import annotations

from ..config.licenses import hub_fields
from .features import as_tar_yaml, as_yaml, columns
from .inputs import CardInputs


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                        (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return name
    return "100M<n<1B"


def card_data(build: CardInputs, record: dict):
    """The card's YAML header as ``huggingface_hub.DatasetCardData``, with ``configs`` and
    ``dataset_info`` in the form ``datasets``' own ``MetadataConfigs``/``DatasetInfosDict`` write
    (written here: importing ``datasets`` cost every build 0.4–0.8 s; tests/card/test_card.py
    compares the two)."""
    import copy

    from huggingface_hub.repocard_data import DatasetCardData  # not the package root: see card.card_files

    cfg, plan = build.cfg, build.plan
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
    splits = [{"name": name, "num_bytes": int(build.arrow_bytes[name]), "num_examples": n}
              for name, n in record["splits"].items()]
    download = sum(build.download_bytes[name] for name in record["splits"])
    feats = (as_tar_yaml if build.layout == "webdataset" else as_yaml)(columns(plan, cfg))
    data["dataset_info"] = {"features": feats, "splits": splits, "download_size": download,
                            "dataset_size": sum(s["num_bytes"] for s in splits)}
    if build.inferred:
        # No ``configs``: ``datasets`` then keys its cache on OUT's own files (paths and times), not
        # on the folder's name and this header, and takes the features from the metadata's schema.
        return data
    files = [{"split": s, "path": p} for s, p in build.data_files.items() if s in record["splits"]]
    # The folder loaders take features from ``configs`` or the data files' schemas, never from
    # ``dataset_info``, so the config repeats what dataset_info declares.
    data["configs"] = [{"config_name": "default", "data_files": files, "features": copy.deepcopy(feats)}]
    if build.layout == "webdataset":  # its builder takes no features argument (datasets warns): dataset_info has them
        del data["configs"][0]["features"]
    return data
