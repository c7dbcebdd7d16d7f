"""The dataset plan: where each window goes, decided before any decoding.

A :class:`DatasetPlan` is computed from the discovered recordings: each recording's split, its
(safe, unique) output folder and stem, and the sorted label names. :meth:`DatasetPlan.place`
(``place.py``) answers a window's split and image path, for the layouts and for the workers that
write each recording's files (``layouts/units.py``); the layout then ``finalize``s data files,
metadata, card and build record.

Folder sizes. The Hub refuses more than 10,000 files in one folder, so an imagefolder label whose
recordings in one split could give more windows than :data:`FOLDER_BUDGET` is spread over
numbered sub-folders of that split's label folder (``label/0000``, ``label/0001`` …), recordings
in sorted order, whole recordings per sub-folder; a recording that alone could give more takes
sub-folders of its own, :data:`FOLDER_BUDGET` windows each by window index (``SourcePlan.spread``).
Windows are only counted after decoding, so the plan counts them from the headers' frame counts
(``audio.probe``: no decoding) with a margin; a label that fits keeps its flat ``label/`` folder.
The plan stays a function of the sources and their headers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable

from ..config.sections import Config
from ..sources.discover import SourceFile
from ..sources.event_index import EventIndex
from ..sources.events import dominant_label, label_window
from .names import fold, label_order, safe_component, unique_components, unique_stems
from ..config.source import EventLabels
from .headcount import estimated_windows
from .place import Placement, numbered
from .splits import SPLIT_ORDER, assign_folds, assign_sources, first_split, window_offsets

log = logging.getLogger("spectroset")


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
    columns: tuple[tuple[str, object], ...] = ()  # kept CSV columns, typed
    spread: tuple[str, int, int] | None = None  # (parent, first, per): window i in parent/<first + i // per>
    offset: int | None = None  # by window, stratified: window 0's place in its stratum's sequence (splits.py)
    stratum: str | None = None  # the label its splits are stratified by


@dataclass
class DatasetPlan:
    cfg: Config
    sources: list[SourceFile]
    entries: dict[str, SourcePlan]
    label_names: list[str]
    columns: dict[str, str] = field(default_factory=dict)  # kept CSV column → "int64" | "float64" | "string"
    _indexes: dict[str, EventIndex] = field(default_factory=dict, repr=False, compare=False)  # rel → its events'
    _placements: dict[str, Placement] = field(default_factory=dict, repr=False, compare=False)

    def placement(self, rel: str) -> Placement:
        """Where the windows of recording ``rel`` go: what its worker needs of the plan."""
        found = self._placements.get(rel)
        if found is None:
            e = self.entries[rel]
            found = self._placements[rel] = Placement(rel, e.folder, e.stem, e.split, self.cfg.output.splits,
                                                      not _mirrored(self.cfg), e.spread, e.offset, e.stratum)
        return found

    def place(self, rel: str, index: int, end: float) -> tuple[str, str]:
        """``(split, image path under OUT)`` of window ``index`` (ending at ``end`` s) of ``rel``."""
        return self.placement(rel).place(index, end)

    @property
    def split_names(self) -> list[str]:
        if self.cfg.source.keep_splits:  # a dataset's own: the usual three first, then the rest by name
            found = {s.split for s in self.sources if s.split}
            return sorted(found, key=lambda k: (SPLIT_ORDER.index(k) if k in SPLIT_ORDER else len(SPLIT_ORDER), k))
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
            index = self._indexes.get(rec.rel)
            if index is None:  # built once per recording: labelling its windows is then near-linear
                index = self._indexes[rec.rel] = EventIndex(entry.events)
            return label_window(index, row.start, row.end, spec.min_overlap, spec.background, rec.duration)
        return entry.label, (entry.label, *entry.extra_labels)

    def fold_of(self, rel: str, split: str) -> int:
        """The ``fold`` column: the recording's fold inside train, -1 for rows of other splits."""
        fold = self.entries[rel].fold
        return fold if split == "train" and fold is not None else -1

    @property
    def n_folds(self) -> int:
        """Folds in use: ``output.folds``, or as many as there are train recordings when fewer."""
        return len({e.fold for e in self.entries.values() if e.fold is not None}) or (self.cfg.output.folds or 0)

    @property
    def multilabel(self) -> bool:
        labels = self.cfg.source.labels
        if self.cfg.source.dataset is not None:  # a list-of-ClassLabel column with several labels in a row
            return any(s.extra_labels for s in self.sources)
        return self.events is not None or (not isinstance(labels, str) and labels.extra_labels_column is not None)

    @property
    def labelled(self) -> bool:
        return self.cfg.source.labels != "none"


def make_plan(cfg: Config, sources: list[SourceFile], windows: Callable[[SourceFile], int] | None = None,
              exact: Callable[[SourceFile], int] | None = None,
              empty: Callable[[SourceFile], bool] | None = None) -> DatasetPlan:
    """The plan; ``windows(source)`` estimates a recording's windows with a margin, ``exact(source)``
    without (default: ``windows``, else from its header). Recordings ``empty`` says give no window
    (:func:`headcount.no_window`) go to train and take no place in the split sizes or the folds."""
    by_rel = {s.rel: s for s in sources}
    skipped = {s.rel for s in sources if empty(s)} if empty else set()
    splits = cfg.output.splits
    by_window = splits.by == "window" and len(splits.fractions) > 1
    spec = cfg.source.labels if isinstance(cfg.source.labels, EventLabels) else None
    stratum = {s.rel: dominant_label(s.events, spec.background) if spec else s.label for s in sources}
    if cfg.source.keep_splits:  # the source dataset's own splits, as they are
        split_of = {s.rel: s.split for s in sources}
    else:
        split_of = {} if by_window else assign_sources([(s.rel, stratum[s.rel]) for s in sources
                                                        if s.rel not in skipped], splits)
        split_of.update((rel, first_split(splits.fractions)) for rel in skipped if not by_window)
    names = label_order({s.label for s in sources if s.label is not None} | {x for s in sources for x in s.extra_labels}
                        | ({e.label for s in sources for e in s.events} | {spec.background} - {None} if spec else set()))
    folds = _folds(cfg, [s for s in sources if s.rel not in skipped], split_of, spec)
    offsets = {}
    if by_window:
        log.warning("warning: output.splits.by: window puts windows of one recording in different splits: they are "
                    "near-duplicates, so scores on a held-out split come out too high; use by: source for a "
                    "leak-free evaluation")
        if splits.stratify:
            count = exact or windows or estimated_windows(cfg, margin=False)
            offsets = window_offsets([(s.rel, stratum[s.rel], count(s)) for s in sources], splits.seed)
    entries: dict[str, SourcePlan] = {}
    if _mirrored(cfg):
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
        mirrored = {s.rel: canonical[fold(safe_folder[s.rel])] for s in sources}
        folder_of, spread = sub_folders(sources, mirrored, windows or estimated_windows(cfg))
        for s in sources:
            entries[s.rel] = SourcePlan(s.rel, s.label, s.extra_labels, None, folder_of[s.rel], stems[s.rel],
                                        folds.get(s.rel), s.events, spread=spread.get(s.rel))
    else:
        label_dirs = unique_components(s.label for s in sources if s.label is not None)
        by_folder: dict[str, list[str]] = {}
        for s in sources:
            by_folder.setdefault(label_dirs.get(s.label, ""), []).append(s.rel)
        stems = {rel: stem for rels in by_folder.values() for rel, stem in unique_stems(rels).items()}
        spread = {}
        if cfg.output.layout == "imagefolder":  # parquet keeps images inside its shards: no folders to fill
            folder_of, spread = sub_folders(sources, {s.rel: label_dirs.get(s.label, "") for s in sources},
                                            windows or estimated_windows(cfg), split_of)
        else:
            folder_of = {s.rel: label_dirs.get(s.label, "") for s in sources}
        for s in sources:
            entries[s.rel] = SourcePlan(s.rel, s.label, s.extra_labels, split_of.get(s.rel), folder_of[s.rel],
                                        stems[s.rel], folds.get(s.rel), s.events, spread=spread.get(s.rel),
                                        offset=offsets.get(s.rel), stratum=stratum[s.rel])
    entries = {rel: replace(e, columns=by_rel[rel].columns) for rel, e in entries.items()}  # kept CSV columns
    return DatasetPlan(cfg, sources, entries, names, column_types(sources))


FOLDER_LIMIT = 10_000  # files per folder the Hub accepts
FOLDER_BUDGET = 9_000  # windows counted from headers per folder: room for the margin and metadata


def sub_folders(sources: list[SourceFile], natural: dict[str, str], windows: Callable[[SourceFile], int],
                split_of: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, tuple[str, int, int]]]:
    """``(rel → image folder, rel → spread)``. A recording's folder is its ``natural`` one (the
    label's, or the mirrored source folder), or a numbered sub-folder of it when that folder's
    recordings in the same split (``split_of``; all of them when splits are drawn per window) could
    give more than :data:`FOLDER_BUDGET` windows. A recording that alone could give more gets
    ``spread = (natural, first, FOLDER_BUDGET)``: window ``i`` goes to sub-folder ``first + i //
    FOLDER_BUDGET`` (its folder names the first), so no folder of it holds more, whatever its length."""
    split_of = split_of or {}
    by_folder: dict[tuple[str | None, str], list[SourceFile]] = {}
    for s in sources:
        by_folder.setdefault((split_of.get(s.rel), natural[s.rel]), []).append(s)
    folder_of, spread = {}, {}
    for (_, folder), group in by_folder.items():
        counts = [windows(s) for s in group]
        if sum(counts) <= FOLDER_BUDGET:
            folder_of.update((s.rel, folder) for s in group)
            continue
        chunk, used = 0, 0
        for s, n in zip(group, counts):  # sources are sorted: the same chunks on every run
            if used and used + n > FOLDER_BUDGET:
                chunk, used = chunk + 1, 0
            folder_of[s.rel] = numbered(folder, chunk)
            if n > FOLDER_BUDGET:  # its own sub-folders, by window index; the next recording starts after them
                spread[s.rel] = (folder, chunk, FOLDER_BUDGET)
                chunk, used = chunk + -(-n // FOLDER_BUDGET), 0
                continue
            used += n
    return folder_of, spread


def column_types(sources: list[SourceFile]) -> dict[str, str]:
    """Each kept CSV column's ``datasets`` dtype (discovery gave each column one Python type)."""
    found: dict[str, set[type]] = {}
    for s in sources:
        for name, value in s.columns:
            found.setdefault(name, set()).update({type(value)} - {type(None)})
    return {name: "string" if str in kinds or not kinds else "float64" if float in kinds else "int64"
            for name, kinds in found.items()}


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
    k = cfg.output.folds
    if 0 < len(items) < k:  # a recording is one group: more folds would stay empty
        log.warning(f"warning: output.folds: {k} folds but {len(items)} train recording(s), and a recording is never "
                    f"split: using {len(items)} folds (0-{len(items) - 1}); lower output.folds or add recordings")
        k = len(items)
    return assign_folds(items, k, cfg.output.splits.seed)


def _mirrored(cfg: Config) -> bool:
    """``output.layout: mirror``: images in the source folders, no split folders (the plan's one test of it)."""
    return cfg.output.layout == "mirror"
