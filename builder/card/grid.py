"""The preview grid (``OUT/preview.png``): a few windows per label, shown by the card and used as
Kaggle's cover image. Drawn on a thread while the card is written (``base.Layout.finalize``)."""

from __future__ import annotations

import io

import numpy as np


def preview_grid(examples: dict[str, list[bytes]], cfg, tile=(160, 96), max_labels=16) -> bytes | None:
    """A PNG grid: one row per label (first labels in sorted order), a few windows each."""
    from PIL import Image, ImageDraw

    labels = sorted(examples)[:max_labels]
    if not labels:
        return None
    per_row = max(len(examples[l]) for l in labels)
    margin = 120
    grid = Image.new("RGB", (margin + per_row * (tile[0] + 4), len(labels) * (tile[1] + 4)), "white")
    draw = ImageDraw.Draw(grid)
    for r, label in enumerate(labels):
        y = r * (tile[1] + 4)
        draw.text((4, y + tile[1] // 2 - 6), label[:18], fill="black")
        for c, png in enumerate(examples[label]):
            img = Image.open(io.BytesIO(png)).convert("RGB").resize(tile, Image.Resampling.BILINEAR)
            grid.paste(img, (margin + c * (tile[0] + 4), y))
    from ..dsp.render import png_bytes

    return png_bytes(np.asarray(grid), 3)  # libdeflate level 3: a tenth of Pillow's level-6 time
