"""Where every window goes: the plan's one answer, used by the layouts and the workers alike.

A :class:`Placement` is the part of the plan one recording needs (small: it travels to the
worker that writes the recording's images). :meth:`Placement.place` gives a window's split and
its image path under OUT: ``<split>/<folder>/<stem>_<end>.png`` (``<folder>/<stem>_<end>.png``
for mirror, whose images sit in the mirrored source folders and whose rows are all ``train``).
Nothing else computes a window's split or image path.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.output import SplitsConfig
from .names import end_tag
from .splits import assign_window


@dataclass(frozen=True)
class Placement:
    """Where the windows of recording ``rel`` go (made by :meth:`DatasetPlan.placement`)."""

    rel: str
    folder: str  # image folder, relative to the split folder (or to OUT when not split_folders)
    stem: str
    split: str | None  # the recording's split; None when splits are drawn per window
    splits: SplitsConfig
    split_folders: bool = True  # False for mirror: no split folder, every row in train
    spread: tuple[str, int, int] | None = None  # a long recording's windows over sub-folders (``SourcePlan``)
    offset: int | None = None  # by window, stratified: window 0's place in its label's sequence (splits.py)
    stratum: str | None = None  # the label it is stratified by

    def place(self, index: int, end: float) -> tuple[str, str]:
        """``(split, image path relative to OUT)`` of window ``index`` ending at ``end`` seconds."""
        folder, name = window_folder(self.folder, self.spread, index), f"{self.stem}_{end_tag(end)}.png"
        if not self.split_folders:
            return "train", "/".join(p for p in (folder, name) if p)
        split = self.split or assign_window(self.rel, index, self.splits, self.offset, self.stratum)
        return split, "/".join(p for p in (split, folder, name) if p)


def numbered(folder: str, chunk: int) -> str:
    return f"{folder}/{chunk:04d}" if folder else f"{chunk:04d}"


def window_folder(folder: str, spread: tuple[str, int, int] | None, index: int) -> str:
    """The image folder of window ``index`` of a recording planned to ``folder`` (and ``spread``)."""
    if spread is None:
        return folder
    parent, first, per = spread
    return numbered(parent, first + index // per)
