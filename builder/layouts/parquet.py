"""parquet layout: every split as ``OUT/data/{split}-{i:05d}-of-{n:05d}.parquet`` shards.

Workers spool each recording's PNG (array, clip) bytes to ``OUT/.spectroset/spool`` and the
journal keeps the rest of its rows (``units.py``). At the end the driver plans the shards from the
journal in canonical order and hands each shard to a worker (``write_shard``), which reads its
rows' bytes back from the spools, so the bytes depend only on the inputs and the config. Shards hold about ``output.max_shard_size`` bytes each: ``n = ceil(split bytes /
max_shard_size)`` and a row goes to the shard its cumulative start offset falls in. Columns:
``image`` (PNG), ``label`` (ClassLabel), ``labels`` (list of ClassLabel, primary first, when
multi-label), ``source``, ``start``/``end`` (s), ``spectrogram`` (Array2D float16 ``(bins,
frames)``, or Array3D ``(channels, bins, frames)`` with several ``image.channels``; with
``include.arrays``) and ``audio`` (FLAC, with ``include.audio``). The schema
carries the ``huggingface`` features metadata, so the shards load with the right types alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
import pyarrow as pa

from ..errors import BuildError
from ..store.atomic import AtomicFile, disk_error
from ..store.stamps import sha256_file
from .base import Layout, inline
from .units import SpoolReader, check_visible, spool_rel

PREVIEW_PER_LABEL = 4
# A row group holds at most 100 rows (``datasets``' writer batch for images and audio) and at most
# ROW_GROUP_BYTES of row data: datasets.config.MAX_ROW_GROUP_SIZE ("100MB", what its push_to_hub aims
# for), pinned here so the bytes do not depend on its version. The Hub's viewer reads a row group
# whole; long clips or large RGB images made 100-row groups of several hundred MB.
ROW_GROUP_BYTES = 100_000_000


def assign_shards(sizes: list[int], max_shard_size: int) -> tuple[list[int], int]:
    """``(shard index of each row, number of shards)`` for rows of ``sizes`` bytes, in order.

    ``n = ceil(total / max_shard_size)``; a row goes to the shard that its cumulative start
    offset falls in, so shards are contiguous, about ``total / n`` bytes, and stable. Shards
    left empty by rows larger than a shard are dropped and the rest renumbered.
    """
    total = sum(sizes)
    n = max(1, math.ceil(total / max_shard_size))
    index, offset = [], 0
    for size in sizes:
        index.append(min(n - 1, offset * n // total) if total else 0)
        offset += size
    used = {shard: i for i, shard in enumerate(sorted(set(index)))}
    return [used[i] for i in index], max(1, len(used))


def shard_name(split: str, i: int, n: int) -> str:
    return f"data/{split}-{i:05d}-of-{n:05d}.parquet"


def row_bytes(value) -> int:
    """Bytes a row (or one of its values) adds to a row group, uncompressed, as parquet counts
    them: each binary or string with its 4-byte length, each array with a length per list in it,
    8 for a number. At or a little above what ``total_byte_size`` shows for a row group of such
    rows (their levels and page headers take less than the lengths counted here; measured with
    images, arrays and clips)."""
    if isinstance(value, (bytes, str)):
        return 4 + len(value)
    if isinstance(value, dict):
        return sum(row_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 4 + sum(row_bytes(v) for v in value)
    nbytes = getattr(value, "nbytes", None)
    if nbytes is not None:  # an array: its values, and a length per list of each (bins, frames) row
        return int(nbytes) + 4 * (int(value.size // value.shape[-1]) if value.ndim else 1)
    return 8


class ParquetFile:
    """One parquet file written through ``datasets``' writer to a hidden temp name, then renamed.

    Row groups end at the writer's 100 rows or before a row that would take them past
    :data:`ROW_GROUP_BYTES` (:func:`row_bytes`): a function of the rows, so the same bytes every
    run, and files whose rows stay under it are exactly as ``datasets`` alone writes them."""

    def __init__(self, out: Path, rel: str, features):
        from datasets.arrow_writer import ParquetWriter

        self.rel, self.file, self.pending = rel, AtomicFile(out / rel, open_file=False, root=out), 0
        try:
            self.stream = pa.OSFile(self.file.tmp, "wb")  # a plain file: no fsspec URL parsing of our path
        except OSError as exc:
            self.file.abort()
            raise disk_error(exc, self.file.path) from None
        self.writer = ParquetWriter(stream=self.stream, features=features)

    def write(self, example: dict) -> None:
        size = row_bytes(example)
        try:
            if self.writer.current_examples and self.pending + size > ROW_GROUP_BYTES:
                self.writer.write_examples_on_file()  # one row group ends here
            if not self.writer.current_examples:
                self.pending = 0
            self.writer.write(example)
            self.pending += size
        except OSError as exc:  # pyarrow's IO errors (a full disk) are OSErrors too
            self.abort()
            raise disk_error(exc, self.file.path) from None

    def commit(self) -> str:
        """Finish; the file's sha256. It stays under its temp name: ``Layout.place`` records the
        hash, then renames it into place."""
        try:
            self.writer.finalize()  # closes the stream
            self.file.finish()
            return sha256_file(self.file.tmp)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.file.path) from None

    def abort(self) -> None:
        self.writer.close()
        if not self.stream.closed:
            self.stream.close()
        self.file.abort()


@dataclass(frozen=True)
class ShardJob:
    """One shard for a worker to write: its rows without their bytes, and where the bytes are."""

    out: str
    token: str
    rel: str
    features: object  # datasets.Features
    rows: list[dict]  # examples with ``None`` where the spool holds the bytes
    spooled: list[tuple[str, int]]  # (spool, offset) of each row's png, array and audio


def write_shard(job: ShardJob) -> tuple[str, str]:
    """Write one shard from the spools (in a worker) under its temp name; ``(rel, sha256)`` back to
    the driver, which records the hash and renames it into place."""
    out = Path(job.out)
    check_visible(job.out, job.token)
    f = ParquetFile(out, job.rel, job.features)
    try:
        with SpoolReader(out) as spools:
            for ex, (spool, offset) in zip(job.rows, job.spooled):
                png, array, audio = spools.read(spool, offset)
                ex["image"]["bytes"] = png
                if "spectrogram" in ex:
                    ex["spectrogram"] = array
                if "audio" in ex:
                    ex["audio"]["bytes"] = audio
                f.write(ex)
    except Exception:
        f.abort()
        raise
    return job.rel, f.commit()


class ParquetLayout(Layout):
    name = "parquet"
    spool = True

    SPLIT_GLOB = "data/{split}-*"  # a split's data_files in the card's configs

    def data_files(self) -> dict[str, str]:
        return {split: self.SPLIT_GLOB.format(split=split) for split in self.plan.split_names}

    def paths(self, record) -> list[str]:
        return [spool_rel(record.rel)] if record.rows else []

    def example(self, rec, row, label_ids: dict[str, int], split: str = "train") -> dict:
        """One row without its bytes, columns in the order of :func:`card.features.columns`."""
        entry = self.plan.entries[rec.rel]
        name = self.plan.place(rec.rel, row.index, row.end)[1].rpartition("/")[2][:-4]  # <stem>_<end>
        label, labels = self.plan.window_labels(rec, row)
        ex: dict = {"image": {"bytes": None, "path": f"{name}.png"}}
        if self.plan.labelled:
            ex["label"] = label_ids[label]
        if self.plan.multilabel:
            ex["labels"] = [label_ids[x] for x in labels]
        ex.update(source=rec.rel, start=row.start, end=row.end, audio_seconds=row.audio_seconds)
        if self.cfg.output.folds:
            ex["fold"] = self.plan.fold_of(rec.rel, split)
        ex.update(entry.columns)  # source.labels.keep_columns, typed as in the CSV
        if self.cfg.output.include.arrays:
            ex["spectrogram"] = None
        if self.cfg.output.include.audio:
            ex["audio"] = {"bytes": None, "path": f"{name}.flac"}
        return ex

    def write_data(self, journal, counts, stats, run=inline) -> dict[str, list[bytes]]:
        # Pass 1: sizes (for the shard plan), counts, stats and preview examples.
        sizes: dict[str, list[int]] = {}
        examples: dict[str, list[bytes]] = {}
        with SpoolReader(self.out) as spools:
            for split, rec, row in self.rows(journal):
                label = self.plan.window_labels(rec, row)[0]
                label = label if label is not None else "(none)"
                counts[split][label] += 1
                if split == "train":
                    stats.add(row)
                shown = examples.setdefault(label, [])
                if len(shown) < PREVIEW_PER_LABEL:
                    shown.append(spools.read(rec.paths[0], row.offset)[0])
                sizes.setdefault(split, []).append(self.row_size(rec, row))
        plan = {split: assign_shards(s, self.cfg.output.max_shard_size) for split, s in sizes.items()}
        shards = sum(n for _, n in plan.values())
        self._refuse_foreign([self.shard_name(split, i, n) for split, (_, n) in plan.items() for i in range(n)])
        for rel, digest in run(self.writer, self._submit(self._shard_jobs(journal, plan)), shards):
            self.place(rel, digest)
        self.written()
        return examples

    writer = staticmethod(write_shard)  # a module-level function: a worker unpickles it by name

    def _refuse_foreign(self, rels: list[str]) -> None:
        """Every shard name that holds a file, link or folder not ours, in one line, before any
        shard is written (a name says ``-of-N``: known only once the recordings are encoded)."""
        found = self.ledger.foreign(rels) if self.ledger is not None else []
        if found:
            shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
            raise BuildError(f"{self.out}: {len(found)} path(s) where this build writes its shards hold files "
                             f"spectroset did not write ({shown}); move them away and rerun: the recordings "
                             "decoded so far are kept (a rerun needs no --force)")

    def row_size(self, rec, row) -> int:
        """What a row adds to its shard, in bytes, for :func:`assign_shards`."""
        return row.size + len(rec.rel.encode()) + 64

    def shard_name(self, split: str, i: int, n: int) -> str:
        return shard_name(split, i, n)

    def shard_features(self):
        """What every :class:`ShardJob` carries for its writer: the shards' ``datasets.Features``."""
        from ..card.features import as_datasets, columns

        return as_datasets(columns(self.plan, self.cfg))

    def shard_row(self, rec, row, label_ids: dict[str, int], split: str) -> dict:
        """One row of a :class:`ShardJob`, without its bytes."""
        return self.example(rec, row, label_ids, split)

    def _submit(self, jobs):
        """The jobs to run, each shard intended in the ledger before its worker writes it (shards of
        an earlier build that this one does not write go at the end); a layout that can tell a shard
        is already on disk (:meth:`reused`) leaves it out."""
        for job in jobs:
            if not self.reused(job):
                self.intend(job.rel)
                yield job

    def reused(self, job: "ShardJob") -> bool:
        """Whether the shard ``job`` would write is on disk already, byte for byte (then it is kept)."""
        return False

    def written(self) -> None:
        """Every shard is in place (a hook for layouts that remember what each shard holds)."""

    def _shard_jobs(self, journal, plan: dict):
        """Pass 2: the rows of each shard in canonical order, one job as soon as a shard is whole."""
        feats = self.shard_features()
        label_ids = {name: i for i, name in enumerate(self.plan.label_names)}
        position = dict.fromkeys(plan, 0)
        open_: dict[str, ShardJob] = {}
        for split, rec, row in self.rows(journal):
            index, n = plan[split]
            rel = self.shard_name(split, index[position[split]], n)
            position[split] += 1
            current = open_.get(split)
            if current is None or current.rel != rel:
                if current is not None:
                    yield current
                current = open_[split] = ShardJob(str(self.out), self.token, rel, feats, [], [])
            current.rows.append(self.shard_row(rec, row, label_ids, split))
            current.spooled.append((rec.paths[0], row.offset))
        yield from open_.values()
