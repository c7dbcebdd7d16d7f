"""What every layout shares: walking finished recordings in order, counts, stats, build record.

Every file a layout writes goes through the ledger (:meth:`Layout.write_atomic`, or
:meth:`Layout.intend` before a streamed file): recorded before it exists, confirmed with its
hash once in place. Workers write each recording's bytes where :meth:`Layout.target` says
(``units.py``): the plan's :meth:`~builder.plan.dataset.DatasetPlan.place`, the one answer to
where a window goes. Subclasses decide how rows become data files (``write_data``). Rows
are always visited in the same order — recordings sorted by path, windows by index — so the
output is byte-identical whatever the worker count or the order results arrived in.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from ..config.sections import Config, public_dict
from ..store.atomic import atomic_write, place
from ..store.record import to_json
from ..run.worker import FileResult, Row
from ..plan.dataset import DatasetPlan
from .stats import Stats
from .units import Target

SKIPPED_IN_RECORD = 100  # build.json lists the first skipped files; past this, all of them are in:
SKIPPED_FILE = "skipped.csv"  # path,reason per row (a 1e6-row label CSV made a 118 MB build.json)


class Layout:
    name = "base"
    spool = False  # whether workers spool a recording's bytes (parquet) instead of writing images

    def __init__(self, cfg: Config, out: Path, plan: DatasetPlan, token: str = ""):
        self.cfg, self.out, self.plan, self.token = cfg, out, plan, token
        self.files: dict[str, str] = {}  # every data file written → sha256
        self._targets: dict[str, Target] = {}
        self.ledger = None  # the build's ledger (``ledger.Ledger``), set by the pipeline
        self._sizes: dict[str, int] | None = None
        # rel → (windows, zero-padded windows, windows more than half padding), for the card
        self.kept: dict[str, tuple[int, int, int]] = {}

    # -- per recording --------------------------------------------------------------------------
    def target(self, rel: str) -> Target:
        """Where a worker puts the files of recording ``rel``."""
        found = self._targets.get(rel)
        if found is None:
            found = self._targets[rel] = Target(str(self.out), self.token, self.spool, self.plan.placement(rel))
        return found

    def paths(self, record: FileResult) -> list[str]:
        """The files a journalled recording must have under this plan."""
        raise NotImplementedError

    def is_current(self, record: FileResult) -> bool:
        """Whether a journalled recording still matches this plan (else it is rebuilt)."""
        want = self.paths(record)
        return record.paths == want and all((self.out / p).is_file() for p in want)

    # -- whole dataset --------------------------------------------------------------------------
    def rows(self, journal) -> Iterator[tuple[str, FileResult, Row]]:
        """``(split, record, row)`` in canonical order."""
        rels = [s.rel for s in self.plan.sources]
        for rec in journal.records(rels):
            if rec.reason is None:
                # a padded last window ends past the recording (``end`` is nominal); a dict, so a
                # layout that walks the rows twice counts them once
                self.kept[rec.rel] = (len(rec.rows), sum(row.end > rec.duration + 1e-6 for row in rec.rows),
                                      sum(2 * row.audio_seconds < row.end - row.start for row in rec.rows))
                for row in rec.rows:
                    yield self.plan.place(rec.rel, row.index, row.end)[0], rec, row

    def intend(self, rel: str, sha256: str | None = None) -> None:
        """Record ``rel`` in the ledger before it is created (refused if a file not ours is there),
        with the SHA-256 of its bytes when they are known already."""
        if self.ledger is not None:
            self.ledger.intend([rel], sha256=sha256)

    def confirm(self, rel: str, sha256: str) -> None:
        """``rel`` is in place: into the build record, and its hash and size into the ledger."""
        self.files[rel] = sha256
        self._sizes = None  # read again from the ledger, with this file's size
        if self.ledger is not None:
            self.ledger.confirm(rel, sha256, (self.out / rel).stat().st_size)

    def size_of(self, rel: str) -> int:
        """Bytes of a file of this build: the size the ledger recorded when it confirmed the file
        (one query for all: a stat per image cost the card ~15 ms per 1,000), else its stat."""
        if self._sizes is None:
            self._sizes = self.ledger.sizes() if self.ledger is not None else {}
        size = self._sizes.get(rel)
        return size if size is not None else (self.out / rel).stat().st_size

    def write_atomic(self, rel: str, data: bytes) -> None:
        sha256 = hashlib.sha256(data).hexdigest()
        self.intend(rel, sha256)
        atomic_write(self.out / rel, data, root=self.out)
        self.confirm(rel, sha256)

    def place(self, rel: str, sha256: str) -> None:
        """Rename a file written whole under its temp name (a shard, a metadata stream) into place,
        its hash recorded before the rename, and confirm it."""
        if self.ledger is not None:
            self.ledger.expect(rel, sha256)
        place(self.out / rel, root=self.out)
        self.confirm(rel, sha256)

    @staticmethod
    def warm() -> None:
        """Import what :meth:`finalize` needs (the card's header and sizes, the preview grid) and
        read the package versions. A parallel build calls it once every recording left is running,
        when this process would only wait: ~0.1 s off the serial end of the build."""
        import pyarrow.csv  # noqa: F401
        from huggingface_hub import repocard_data  # noqa: F401
        from PIL import Image, ImageDraw  # noqa: F401

        versions()

    def finalize(self, journal, skipped: list[dict], fingerprint: str, run=None) -> dict:
        """Write data files, stats, preview and card; return the build record, which the
        pipeline writes as build.json last. ``run(fn, jobs, n)`` runs data-file jobs (parquet
        shards) in the build's workers."""
        from ..card.card import card_files
        from ..card.grid import preview_grid

        counts: dict[str, Counter] = defaultdict(Counter)
        stats = Stats(self.cfg.image.channels, self.cfg.spectrogram.kind)
        hours, silent, n_sources, rates, durations = 0.0, 0, 0, set(), {}
        for rec in journal.records([s.rel for s in self.plan.sources], rows=False):
            if rec.reason is None:
                hours += rec.duration / 3600
                durations[rec.rel] = round(rec.duration, 3)  # the report's lengths: not its last window's end
                silent += rec.silent
                n_sources += 1
                rates.add(rec.sample_rate)
        examples = self.write_data(journal, counts, stats, run or inline)
        split_sizes = {s: sum(c.values()) for s, c in counts.items()}
        record = {
            "name": self.cfg.name,
            "layout": self.name,
            "config_hash": self.cfg.hash(),
            "fingerprint": fingerprint,
            "config": public_dict(self.cfg),
            "versions": dict(versions()),
            "sources": n_sources,
            "sample_rates": sorted(r for r in rates if r),
            "windows": sum(split_sizes.values()),
            "silent_windows_skipped": silent,
            "audio_hours": round(hours, 4),
            "durations": durations,
            "splits": dict(sorted(split_sizes.items(), key=lambda kv: _split_key(kv[0]))),
            "counts": {label: dict(sorted(c.items(), key=lambda kv: _split_key(kv[0])))
                       for label, c in sorted(_by_label(counts, self.primary_labels()).items())},
            "skipped": skipped[:SKIPPED_IN_RECORD],
        }
        if len(skipped) > SKIPPED_IN_RECORD:
            record.update(skipped_total=len(skipped), skipped_file=SKIPPED_FILE)
            self.write_atomic(SKIPPED_FILE, _skipped_csv(skipped))
        # The grid is drawn on a thread while the card is written (Pillow and libdeflate release
        # the GIL): ~20 ms off the serial end of every build. Files are still recorded here only.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as drawing:
            preview = drawing.submit(preview_grid, examples, self.cfg)
            summary = stats.result(self.plan.label_names if self.plan.labelled else None,
                                   counts.get("train")) if stats.n else None
            if self.cfg.output.stats and summary:
                self.write_atomic("stats.json", to_json(summary))
            card = card_files(self.card_inputs(list(record["splits"])), record, summary, preview=bool(examples))
            for rel, data in card.items():  # README.md, then croissant.json
                self.write_atomic(rel, data)
            if preview.result():
                self.write_atomic("preview.png", preview.result())
        record["files"] = dict(sorted(self.files.items()))
        return record

    def card_inputs(self, splits: list[str]):
        """What the card reads of this build (``card.inputs.CardInputs``): the files written so
        far and each split's sizes, measured here (``sizes.py``)."""
        from ..card.inputs import CardInputs
        from . import sizes

        data_files = self.data_files()
        rels = {s: sizes.split_files(self.files, data_files[s]) for s in splits}
        return CardInputs(
            cfg=self.cfg, plan=self.plan, layout=self.name, files=dict(self.files), kept=dict(self.kept),
            data_files=data_files, inferred=self.inferred(), metadata_name=self.metadata_name(),
            metadata={s: self.metadata_rel(s) for s in splits} if self.metadata_name() else {},
            download_bytes={s: sizes.download(rels[s], self.size_of) for s in splits},
            arrow_bytes={s: sizes.arrow(self.out, rels[s], self.size_of) for s in splits})

    def primary_labels(self) -> set[str]:
        """Labels a row can have as its (primary) ``label``: each is in the record's counts, with no
        window too, so the warnings, the card's table and its Bias section name every ``ClassLabel`` name."""
        plan = self.plan
        if not plan.labelled:
            return set()
        return set(plan.label_names) if plan.events else {s.label for s in plan.sources if s.label is not None}

    def write_data(self, journal, counts: dict, stats: Stats, run=None) -> dict[str, list[bytes]]:
        raise NotImplementedError

    def data_files(self) -> dict[str, str]:
        """Split name → glob (relative to OUT) for the card's ``configs``."""
        raise NotImplementedError

    def inferred(self) -> bool:
        """Whether ``datasets`` finds :meth:`data_files` and the features in OUT on its own, so the
        card needs no ``configs`` (with them, its cache is keyed on the folder's name: docs/card.md)."""
        return False

    def metadata_name(self) -> str:
        """An image folder's metadata file name; "" where there is none (parquet)."""
        return ""

    def metadata_rel(self, split: str) -> str:
        """The metadata file of ``split`` relative to OUT (image folders only)."""
        raise NotImplementedError


def inline(fn, jobs, n: int = 0):
    """Run data-file jobs here, one after the other (a build's default ``run``)."""
    return map(fn, jobs)


def _split_key(split: str) -> int:
    return ("train", "validation", "test").index(split) if split in ("train", "validation", "test") else 9


def _by_label(counts: dict[str, Counter], labels: set[str] = frozenset()) -> dict[str, Counter]:
    """Windows per label and split; every one of ``labels`` too, with none (``{}``)."""
    out: dict[str, Counter] = defaultdict(Counter, {label: Counter() for label in labels})
    for split, c in counts.items():
        for label, n in c.items():
            out[label][split] += n
    return out


def _skipped_csv(skipped: list[dict]) -> bytes:
    import csv
    import io

    text = io.StringIO(newline="")
    rows = csv.writer(text, lineterminator="\n")
    rows.writerow(["path", "reason"])
    rows.writerows((s["path"], s["reason"]) for s in skipped)
    return text.getvalue().encode("utf-8", "replace")


@lru_cache(maxsize=None)
def versions() -> dict[str, str]:
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for dist in ("spectroset", "torch", "numpy", "soundfile", "av", "soxr", "pillow", "deflate", "pyarrow", "datasets"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out
