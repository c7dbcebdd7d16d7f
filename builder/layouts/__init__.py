"""Dataset layouts: where each window's image goes and what metadata makes it loadable.

A :class:`DatasetPlan` is computed from the discovered recordings before any decoding: each
recording's split, its (safe, unique) output folder and stem, and the sorted label names. Workers
write each recording's files where its layout's ``target`` says (``units.py``); the layout then
``finalize``s data files, metadata, card and build record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Config, EventLabels
from ..discover import SourceFile
from ..events import dominant_label, label_window
from ..names import fold, safe_component, unique_components, unique_stems
from ..splits import assign_folds, assign_sources, assign_window


@dataclass(frozen=True)
class SourcePlan:
    rel: str
    label: str | None
    extra_labels: tuple[str, ...]
    split: str | None  # None when splits are drawn per window
    folder: str  # output folder of its images, relative to the split folder (or OUT for mirror)
    stem: str
    fold: int | None = None  # with output.folds: its fold (train recordings), else -1
    events: tuple = ()  # with source.labels.events: what labels each of its windows


@dataclass
class DatasetPlan:
    cfg: Config
    sources: list[SourceFile]
    entries: dict[str, SourcePlan]
    label_names: list[str]

    def split_of(self, rel: str, index: int) -> str:
        entry = self.entries[rel]
        return entry.split or assign_window(rel, index, self.cfg.output.splits)

    @property
    def split_names(self) -> list[str]:
        return list(self.cfg.output.splits.fractions)

    @property
    def events(self):
        """The ``source.labels.events`` spec, or None: labels then come per window from events."""
        labels = self.cfg.source.labels
        return labels if isinstance(labels, EventLabels) else None

    def window_labels(self, rec, row) -> tuple[str | None, tuple[str, ...]]:
        """``(label, labels)`` of one window of a decoded recording: its events'
        (``events.label_window``), or its recording's."""
        entry, spec = self.entries[rec.rel], self.events
        if spec is not None:
            return label_window(entry.events, row.start, row.end, spec.min_overlap, spec.background, rec.duration)
        return entry.label, (entry.label, *entry.extra_labels)

    def fold_of(self, rel: str, split: str) -> int:
        """The ``fold`` column: the recording's fold inside train, -1 for rows of other splits."""
        fold = self.entries[rel].fold
        return fold if split == "train" and fold is not None else -1

    @property
    def multilabel(self) -> bool:
        labels = self.cfg.source.labels
        return self.events is not None or (not isinstance(labels, str) and labels.extra_labels_column is not None)

    @property
    def labelled(self) -> bool:
        return self.cfg.source.labels != "none"


def make_plan(cfg: Config, sources: list[SourceFile]) -> DatasetPlan:
    splits = cfg.output.splits
    by_window = splits.by == "window" and len(splits.fractions) > 1
    spec = cfg.source.labels if isinstance(cfg.source.labels, EventLabels) else None
    stratum = {s.rel: dominant_label(s.events, spec.background) if spec else s.label for s in sources}
    split_of = {} if by_window else assign_sources([(s.rel, stratum[s.rel]) for s in sources], splits)
    names = sorted({s.label for s in sources if s.label is not None} | {x for s in sources for x in s.extra_labels}
                   | ({e.label for s in sources for e in s.events} | {spec.background} - {None} if spec else set()))
    folds = _folds(cfg, sources, split_of, spec)
    entries: dict[str, SourcePlan] = {}
    if cfg.output.layout == "mirror":
        safe_folder = {}
        for s in sources:
            folder = s.rel.rpartition("/")[0]
            safe_folder[s.rel] = "/".join(safe_component(p) for p in folder.split("/")) if folder else ""
        folders: dict[str, list[str]] = {}
        for s in sources:  # group by the folder as written on disk, compared folded
            folders.setdefault(fold(safe_folder[s.rel]), []).append(s.rel)
        stems = {rel: stem for rels in folders.values() for rel, stem in unique_stems(rels).items()}
        canonical = {}  # one spelling per folded folder, so twins share one output folder
        for s in sources:
            canonical.setdefault(fold(safe_folder[s.rel]), safe_folder[s.rel])
        for s in sources:
            folder = canonical[fold(safe_folder[s.rel])]
            entries[s.rel] = SourcePlan(s.rel, s.label, s.extra_labels, None, folder, stems[s.rel], folds.get(s.rel), s.events)
    else:
        label_dirs = unique_components(s.label for s in sources if s.label is not None)
        by_folder: dict[str, list[str]] = {}
        for s in sources:
            by_folder.setdefault(label_dirs.get(s.label, ""), []).append(s.rel)
        stems = {rel: stem for rels in by_folder.values() for rel, stem in unique_stems(rels).items()}
        for s in sources:
            folder = label_dirs.get(s.label, "")
            entries[s.rel] = SourcePlan(s.rel, s.label, s.extra_labels, split_of.get(s.rel), folder, stems[s.rel],
                                        folds.get(s.rel), s.events)
    return DatasetPlan(cfg, sources, entries, names)


def _folds(cfg: Config, sources: list[SourceFile], split_of: dict[str, str], spec) -> dict[str, int]:
    """``output.folds`` over the train recordings (all of them when splits are drawn per window),
    stratified by each recording's labels: its events' (or background), or its own."""
    if not cfg.output.folds:
        return {}
    items = []
    for s in sources:
        if split_of.get(s.rel, "train") == "train":
            labels = ({e.label for e in s.events} or {spec.background} - {None}) if spec else {s.label, *s.extra_labels} - {None}
            items.append((s.rel, labels))
    return assign_folds(items, cfg.output.folds, cfg.output.splits.seed)


def get_layout(cfg: Config, out: Path, plan: DatasetPlan, token: str = ""):
    """The layout writer; ``token`` is this build's (see ``units.check_visible``)."""
    if cfg.output.layout == "parquet":
        from .parquet import ParquetLayout

        return ParquetLayout(cfg, out, plan, token)
    from .imagefolder import ImageFolderLayout

    return ImageFolderLayout(cfg, out, plan, token)
