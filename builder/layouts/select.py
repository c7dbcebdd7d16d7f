"""The layout writer an ``output.layout`` names: the one place a layout class is chosen."""

from __future__ import annotations

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
