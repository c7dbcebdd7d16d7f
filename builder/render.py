"""Rendering: scaled spectrograms → uint8 pixels → PNG bytes.

Normalisation runs on the whole batch in torch (per-window min/max, the same float32 operations
as seed 002's numpy code, truncated to uint8 like ``astype('uint8')``); resizing, colormaps and
PNG encoding run per image in Pillow on uint8 data, which is where they are cheapest.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from .config import ImageConfig

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def to_uint8(batch: torch.Tensor, cfg: ImageConfig) -> np.ndarray:
    """``(batch, bins, frames)`` float → ``(batch, rows, frames)`` uint8, rows ordered by ``origin``.

    ``minmax`` maps each window's min to 0 and max to 255 (a flat window becomes all 0);
    a fixed ``[low, high]`` clips to that range first, so images are comparable across windows.
    """
    x = batch.float()
    if cfg.normalize == "minmax":
        lo = x.amin(dim=(-2, -1), keepdim=True)
        hi = x.amax(dim=(-2, -1), keepdim=True)
    else:
        low, high = cfg.normalize
        x = x.clamp(low, high)
        lo, hi = (torch.tensor(float(v), device=x.device) for v in (low, high))
    span = hi - lo
    scaled = (x - lo) / torch.where(span > 0, span, torch.ones_like(span)) * 255
    scaled = torch.where(span > 0, scaled, torch.zeros_like(scaled))
    pixels = scaled.clamp(0, 255).to(torch.uint8).cpu().numpy()
    if cfg.origin == "lower":
        pixels = pixels[:, ::-1, :]
    return np.ascontiguousarray(pixels)


@lru_cache(maxsize=8)
def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table for a matplotlib colormap."""
    from matplotlib import colormaps

    return (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def to_image(pixels: np.ndarray, cfg: ImageConfig) -> Image.Image:
    """One ``(rows, frames)`` uint8 array → a grayscale or colormapped PIL image at ``size``."""
    img = Image.fromarray(pixels, mode="L") if pixels.ndim == 2 else Image.fromarray(pixels)
    if cfg.size is not None and img.size != tuple(cfg.size):
        img = img.resize(tuple(cfg.size), resample=_RESAMPLE[cfg.resample])
    if cfg.colormap:
        img = Image.fromarray(colormap_lut(cfg.colormap)[np.asarray(img)], mode="RGB")
    return img


def encode_png(img: Image.Image, compress_level: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def render(pixels: np.ndarray, cfg: ImageConfig) -> bytes:
    """One window's uint8 pixels → PNG bytes."""
    return encode_png(to_image(pixels, cfg), cfg.png_compress_level)
