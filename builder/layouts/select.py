"""The layout writer an ``output.layout`` names: the one place a layout class is chosen."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from ..config.sections import Config
from ..plan.dataset import DatasetPlan
from .base import Layout


def get_layout(cfg: Config, out: Path, plan: DatasetPlan, token: str = "") -> Layout:
    """The layout writer; ``token`` is this build's (see ``units.check_visible``)."""
    if cfg.output.layout == "parquet":
        from .parquet import ParquetLayout  # pyarrow: only for a parquet build

        return ParquetLayout(cfg, out, plan, token)
    if cfg.output.layout == "webdataset":
        from .webdataset import WebDatasetLayout  # pyarrow, like parquet: only for a tar build

        return WebDatasetLayout(cfg, out, plan, token)
    from .imagefolder import ImageFolderLayout, MirrorLayout

    return (MirrorLayout if cfg.output.layout == "mirror" else ImageFolderLayout)(cfg, out, plan, token)


def loaded_by_datasets(rels, layout: str, splits) -> dict[str, str]:
    """Those of ``rels`` (files in OUT) that ``load_dataset(OUT)`` reads as rows: rel → the card's
    ``data_files`` glob it matches, for the layouts whose card names its files by a glob (parquet,
    webdataset); an image folder's loader picks files by their extension (``inspect --verify``)."""
    if layout == "parquet":
        from .parquet import ParquetLayout as chosen
    elif layout == "webdataset":
        from .webdataset import WebDatasetLayout as chosen
    else:
        return {}
    globs = [chosen.SPLIT_GLOB.format(split=split).split("/") for split in splits]
    found = {}
    for rel in rels:
        parts = rel.split("/")
        hit = next((g for g in globs if len(g) == len(parts) and all(map(fnmatchcase, parts, g))), None)
        if hit is not None:  # a glob's * stops at a "/", as in the Hub's and fsspec's globs
            found[rel] = "/".join(hit)
    return found
