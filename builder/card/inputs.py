"""What the card reads of a finished build: plain data, given by the layout that wrote it.

The card (``card.py``), its header (``header.py``), datasheet and ``croissant.json`` take one
:class:`CardInputs` and return text; they call nothing on a layout and touch no file. The layout
(``layouts/base.py``: ``Layout.card_inputs``) fills it just before the card is written, when every
data file, stats.json and skipped.csv is in place and the card's own files are not yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from ..config.sections import Config
    from ..plan.dataset import DatasetPlan


@dataclass(frozen=True)
class CardInputs:
    cfg: Config
    plan: DatasetPlan
    layout: str  # the layout's name: imagefolder, mirror or parquet
    files: Mapping[str, str]  # every file written so far (relative to OUT) → sha256
    kept: Mapping[str, tuple[int, int, int]]  # recording → (windows, zero-padded, more than half padding)
    data_files: Mapping[str, str]  # split → glob relative to OUT (the card's ``configs``)
    inferred: bool  # ``datasets`` finds data_files and the features on its own: no ``configs``
    metadata_name: str  # an image folder's metadata file name; "" for parquet
    metadata: Mapping[str, str]  # split → its metadata file (image folders), relative to OUT
    download_bytes: Mapping[str, int]  # split → bytes of its data files as stored
    arrow_bytes: Mapping[str, int]  # split → its Arrow size as ``datasets`` counts ``num_bytes``
