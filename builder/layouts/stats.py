"""``stats.json``: what a training loop needs of the train split, summed from the rows in one pass.

- dB statistics (``mean``, ``std``, ``per_bin_mean``, ``per_bin_std``): of the scaled spectrogram
  before 8-bit conversion, for the ``spectrogram`` array column; ``bin_order`` says bin 0 is the
  lowest frequency (or MFCC 0), while the image's row 0 is the highest with ``origin: lower``.
- ``image``: per image channel, the PNGs' pixel ``mean`` and ``std`` on the 0-1 scale (pixel / 255
  as written, resize and colormap included), ready for ``torchvision.transforms.Normalize``. Summed
  from each row's integer count of the 256 levels: exact, and the same in any order.
- ``class_counts``: windows per label of the train split, every ``ClassLabel`` name in id order
  (zeros included), for class weights.

docs/stats.md describes every key.
"""

from __future__ import annotations

import math

import numpy as np

LEVELS = np.arange(256, dtype=np.float64)


class Stats:
    """Per-bin mean/std of the scaled spectrogram over the train split (before uint8); with several
    ``image.channels``, of each channel (rows then carry ``(channels, bins)`` sums); and the
    pixel levels of the train images, per image channel."""

    def __init__(self, channels: tuple[str, ...] = ("spectrogram",), kind: str = "mel"):
        self.channels, self.kind = channels, kind
        self.sums = self.sumsq = self.levels = None
        self.n = 0

    def add(self, row) -> None:
        if self.levels is None:
            self.levels = np.zeros(row.levels.shape, dtype=np.int64)
        if row.levels.shape == self.levels.shape:
            self.levels += row.levels
        if self.sums is None:
            self.sums, self.sumsq = np.zeros_like(row.sums), np.zeros_like(row.sumsq)
        if row.sums.shape != self.sums.shape:
            return
        self.sums += row.sums
        self.sumsq += row.sumsq
        self.n += row.frames

    def result(self, labels: list[str] | None = None, counts: dict | None = None) -> dict:
        """The ``stats.json`` object; ``labels``: the ``ClassLabel`` names in id order, ``counts``:
        the train split's windows per label (no ``class_counts`` for an unlabelled build)."""
        order = "low_to_high_coefficient" if self.kind == "mfcc" else "low_to_high_frequency"
        out = {"split": "train", "frames": self.n, "bin_order": order}
        if self.sums.ndim == 1:
            out.update(_moments(self.sums, self.sumsq, self.n))
        else:
            each = [_moments(s, q, self.n) for s, q in zip(self.sums, self.sumsq)]
            # The top level describes channel 1 (the image's grey/red channel), as in a one-channel build.
            out.update(each[0], channels={name: m for name, m in zip(self.channels, each)})
        out["image"] = image_moments(self.levels)
        if labels:
            out["class_counts"] = {label: int((counts or {}).get(label, 0)) for label in labels}
        return out


def image_moments(levels: np.ndarray) -> dict:
    """Pixel mean and std per image channel on the 0-1 scale from ``(channels, 256)`` level counts."""
    pixels = levels.sum(axis=1).astype(np.float64)
    mean = levels @ LEVELS / pixels
    var = np.maximum(levels @ (LEVELS * LEVELS) / pixels - mean * mean, 0.0)
    return {"mean": [round(float(m) / 255, 6) for m in mean], "std": [round(math.sqrt(v) / 255, 6) for v in var]}


def _moments(sums: np.ndarray, sumsq: np.ndarray, n: int) -> dict:
    """Overall and per-bin mean/std from per-bin sums and sums of squares over ``n`` frames."""
    mean = sums / n
    std = np.sqrt(np.maximum(sumsq / n - mean * mean, 0.0))
    r = lambda a: [round(float(v), 6) for v in a]  # noqa: E731
    return {"mean": round(float(mean.mean()), 6),
            "std": round(float(math.sqrt(max(float((sumsq.sum() / (n * len(mean))) - mean.mean() ** 2), 0.0))), 6),
            "per_bin_mean": r(mean), "per_bin_std": r(std)}
