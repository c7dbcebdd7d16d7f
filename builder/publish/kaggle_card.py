"""What Kaggle users read and load: the card and ``croissant.json`` rewritten for the Kaggle upload,
and the dataset description.

Kaggle unpacks ``<split>.zip`` to ``<split>/`` and takes parquet and tar shards as top-level files, so the
card's ``configs`` and croissant's paths follow; the description is the card's body with the
loading code and the file list written for Kaggle (only names that are in the upload).
"""

from __future__ import annotations

from ..card.datasheet import FOLDER
from ..card.provenance import replace_section
from .stage import COVER, KaggleItem


def for_kaggle(items: list[KaggleItem], ref: str, licence: str | None) -> tuple[list[KaggleItem], str]:
    """The items with the card and ``croissant.json`` rewritten for Kaggle, and the description.

    Once Kaggle unpacks ``<split>.zip`` to ``<split>/``, ``load_dataset("/kaggle/input/<slug>")``
    reads the card's ``configs``: the image folders are where the card says; flattened parquet
    shards get their new top-level names. The description is the card's body with the loading
    code and the file list written for Kaggle (only names that are in the upload).
    """
    from huggingface_hub import DatasetCard

    from ..card import croissant, provenance

    slug = ref.split("/", 1)[1]
    by_kind = {item.kind: item for item in items}
    card = by_kind.get("card")
    if card is None:
        return items, ""
    text = provenance.retarget(card.source.read_text(encoding="utf-8"), None, licence)
    dc = DatasetCard(text)
    flat = {item.name for item in items if item.name.endswith((".parquet", ".tar")) and item.kind == "file"}
    for config in dc.data.get("configs") or []:
        for entry in config.get("data_files") or []:
            path = entry.get("path", "")
            if path.startswith("data/") and any(n.startswith(path[5:].split("*")[0]) for n in flat):
                entry["path"] = path[5:]  # data/train-* → train-*: the shards sit at the top on Kaggle
    load = ("```python\nfrom datasets import load_dataset\n\n"
            f'ds = load_dataset("/kaggle/input/{slug}")  # in a notebook with this dataset attached\n```\n\n'
            "The card (`README.md`) declares the splits and features, so `label` comes back as a `ClassLabel`; "
            f"the same dataset is on the Hugging Face Hub when it was pushed there too.\n")
    files = "\n".join(f"- `{item.name}`: {item.description}" for item in items
                      if item.name != COVER) + "\n"
    body = replace_section(replace_section(dc.text, "Load it", load), "Files", files)
    body = body.replace("![A few windows per label](preview.png)\n", "")
    body = body.replace(f'"{provenance.PLACEHOLDER}"', f'"/kaggle/input/{slug}"')
    # the card's snippets for torchvision and pandas (layouts/datasheet.py): Kaggle's paths
    body = body.replace(f"{FOLDER}/data/", f"{FOLDER}/" if flat else f"{FOLDER}/data/")
    body = body.replace(FOLDER, f"/kaggle/input/{slug}")
    dc.text = body
    url = f"https://www.kaggle.com/datasets/{ref}"
    out = []
    for item in items:
        if item.kind == "card":
            item = KaggleItem(item.name, item.kind, item.source, item.description, str(dc))
        elif item.kind == "croissant":
            item = KaggleItem(item.name, item.kind, item.source, item.description,
                              croissant.retarget(item.source.read_text(encoding="utf-8"), url, licence,
                                                 "data/" if flat else ""))
        out.append(item)
    return out, body.strip() + "\n"
