"""The preview grid: one row per label, a few tiles each, the same bytes every time."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from builder.card.grid import preview_grid
from builder.dsp.render import png_bytes


def _png(value: int) -> bytes:
    return png_bytes(np.full((20, 30), value, dtype=np.uint8), 1)


def test_grid_has_a_row_per_label_and_is_deterministic():
    examples = {"wren": [_png(0), _png(255)], "owl": [_png(128)]}
    a, b = preview_grid(examples, None), preview_grid(dict(reversed(examples.items())), None)
    assert a == b
    grid = Image.open(io.BytesIO(a))
    assert grid.mode == "RGB" and grid.size == (120 + 2 * (160 + 4), 2 * (96 + 4))
    # labels in sorted order: "owl" first, its single tile dark grey, the second cell left white
    assert grid.getpixel((120 + 80, 48)) == (128, 128, 128) and grid.getpixel((120 + 164 + 80, 48)) == (255, 255, 255)
    assert grid.getpixel((120 + 80, 100 + 48)) == (0, 0, 0)


def test_no_labels_no_grid():
    assert preview_grid({}, None) is None
