"""parquet layout: every split as ``OUT/data/{split}-{i:05d}-of-{n:05d}.parquet`` shards.

Recordings are journalled with their PNG bytes (``store`` writes nothing), and the shards are
assembled at the end from the journal in canonical order, so the bytes depend only on the inputs
and the config. Shards hold about ``output.max_shard_size`` bytes each: ``n = ceil(split bytes /
max_shard_size)`` and a row goes to the shard its cumulative start offset falls in. Columns:
``image`` (PNG), ``label`` (ClassLabel), ``labels`` (list of ClassLabel, primary first, when
multi-label), ``source``, ``start``/``end`` (s), ``spectrogram`` (Array2D float16 ``(bins,
frames)``, with ``include.arrays``) and ``audio`` (FLAC, with ``include.audio``). The schema
carries the ``huggingface`` features metadata, so the shards load with the right types alone.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
import pyarrow as pa

from ..names import end_tag
from ..state import disk_error
from .base import Layout, sha256_file

PREVIEW_PER_LABEL = 4


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


class ParquetFile:
    """One parquet file written through ``datasets``' writer to a hidden temp name, then renamed."""

    def __init__(self, out: Path, rel: str, features):
        from datasets.arrow_writer import ParquetWriter

        self.path = out / rel
        self.rel = rel
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name[:40]}.", suffix=".tmp", dir=self.path.parent)
            os.close(fd)
            self.stream = pa.OSFile(self.tmp, "wb")  # a plain file: no fsspec URL parsing of our path
        except OSError as exc:
            raise disk_error(exc, self.path) from None
        self.writer = ParquetWriter(stream=self.stream, features=features)

    def write(self, example: dict) -> None:
        try:
            self.writer.write(example)
        except OSError as exc:  # pyarrow's IO errors (a full disk) are OSErrors too
            self.abort()
            raise disk_error(exc, self.path) from None

    def commit(self) -> str:
        """Finish, rename into place; the file's sha256."""
        try:
            self.writer.finalize()  # closes the stream
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None
        return sha256_file(self.path)

    def abort(self) -> None:
        self.writer.close()
        if not self.stream.closed:
            self.stream.close()
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


class ParquetLayout(Layout):
    name = "parquet"

    def data_files(self) -> dict[str, str]:
        return {split: f"data/{split}-*" for split in self.plan.split_names}

    def _row_bytes(self, rec, row) -> int:
        """Size estimate of one row in a shard: PNG, array and FLAC bytes plus a little metadata."""
        size = len(row.png or b"") + len(rec.rel.encode()) + 64
        if row.array is not None:
            size += row.array.nbytes
        if row.audio is not None:
            size += len(row.audio)
        return size

    def example(self, rec, row, label_ids: dict[str, int]) -> dict:
        """One row, columns in the order of :func:`card.features`."""
        entry = self.plan.entries[rec.rel]
        name = f"{entry.stem}_{end_tag(row.end)}"
        ex: dict = {"image": {"bytes": row.png, "path": f"{name}.png"}}
        if self.plan.labelled:
            ex["label"] = label_ids[entry.label]
        if self.plan.multilabel:
            ex["labels"] = [label_ids[x] for x in (entry.label, *entry.extra_labels)]
        ex.update(source=rec.rel, start=row.start, end=row.end)
        if self.cfg.output.include.arrays:
            ex["spectrogram"] = row.array
        if self.cfg.output.include.audio:
            ex["audio"] = {"bytes": row.audio, "path": f"{name}.flac"}
        return ex

    def write_data(self, journal, counts, stats) -> dict[str, list[bytes]]:
        from .card import features

        # Pass 1: sizes (for the shard plan), counts, stats and preview examples.
        sizes: dict[str, list[int]] = {}
        examples: dict[str, list[bytes]] = {}
        for split, rec, row in self.rows(journal):
            label = self.plan.entries[rec.rel].label
            label = label if label is not None else "(none)"
            counts[split][label] += 1
            if split == "train":
                stats.add(row)
            shown = examples.setdefault(label, [])
            if len(shown) < PREVIEW_PER_LABEL:
                shown.append(row.png)
            sizes.setdefault(split, []).append(self._row_bytes(rec, row))
        plan = {split: assign_shards(s, self.cfg.output.max_shard_size) for split, s in sizes.items()}

        # Pass 2: stream rows into their shards; at most one open shard per split.
        feats = features(self)
        label_ids = {name: i for i, name in enumerate(self.plan.label_names)}
        position = dict.fromkeys(plan, 0)
        open_: dict[str, tuple[int, ParquetFile]] = {}
        try:
            for split, rec, row in self.rows(journal):
                index, n = plan[split]
                shard = index[position[split]]
                position[split] += 1
                current = open_.get(split)
                if current is None or current[0] != shard:
                    if current is not None:
                        self.files[current[1].rel] = current[1].commit()
                    current = open_[split] = (shard, ParquetFile(self.out, shard_name(split, shard, n), feats))
                current[1].write(self.example(rec, row, label_ids))
            for split in list(open_):
                _, f = open_.pop(split)
                self.files[f.rel] = f.commit()
        finally:
            for _, f in open_.values():
                f.abort()
        self._remove_stale_shards()
        return examples

    def _remove_stale_shards(self) -> None:
        """Shards of an earlier (possibly crashed) build that this one did not write."""
        data = self.out / "data"
        if data.is_dir():
            for path in sorted(data.glob("*.parquet")):
                if f"data/{path.name}" not in self.files:
                    path.unlink()
