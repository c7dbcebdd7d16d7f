"""A finished build's sizes per split, as ``datasets`` counts them, for the card's header.

``download`` is a split's data files as stored (``download_size``), ``arrow`` its Arrow size
(``num_bytes``). The layout measures them (here, reading its own files) and hands the numbers to
the card in :class:`~builder.card.inputs.CardInputs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

NOT_DATA = ("README.md", "preview.png", "stats.json", "croissant.json", "skipped.csv")


def split_files(files: Mapping[str, str], pattern: str) -> list[str]:
    """The data files of the split whose glob is ``pattern``."""
    prefix = pattern.split("*", 1)[0]
    return [rel for rel in files if rel.startswith(prefix) and rel not in NOT_DATA]


def download(rels: list[str], size_of: Callable[[str], int]) -> int:
    """Bytes of a split's data files as stored (what ``datasets`` calls its download size)."""
    return sum(size_of(rel) for rel in rels)


def arrow(out: Path, rels: list[str], size_of: Callable[[str], int]) -> int:
    """The split's size as an Arrow table with the images embedded, as ``datasets`` counts
    ``num_bytes`` (``push_to_hub``'s ``Dataset._estimate_nbytes``). Parquet files: the Arrow size of
    their row groups, read one at a time; an image folder: the metadata table plus the images' bytes."""
    total = 0
    for rel in rels:
        path = out / rel
        if rel.endswith(".parquet"):
            import pyarrow.parquet as pq

            # Not the row groups' parquet sizes: they leave out Arrow's offsets (one per list, per
            # row of an array, per binary value) and were 4-8% low with arrays and audio clips.
            # Reading back a shard just written costs ~0.2 s per GB (page cache).
            with pq.ParquetFile(path) as shards:
                total += sum(_as_loaded(shards.read_row_group(i)) for i in range(shards.num_row_groups))
        elif rel.endswith(".csv"):
            from pyarrow import csv as pacsv

            # one thread: starting the reader's pool took longer than reading a build's metadata
            total += _as_loaded(pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False)))
        else:
            total += size_of(rel)
    return total


def _as_loaded(table) -> int:
    """A table's Arrow size as ``datasets`` loads it. Shards are as they are; an image folder's
    metadata changes: ``file_name`` becomes the image column (a null ``bytes`` and a path, which
    ``_estimate_nbytes`` swaps for the file's size, counted apart) and label names become
    ``ClassLabel`` ids (int64)."""
    n, total = table.num_rows, table.nbytes
    if "file_name" in table.column_names:
        total += 4 * (n + 1) + (n + 7) // 8 - table["file_name"].nbytes
        for name in ("label", "labels"):  # names → int64 ids; a list's offsets stay as they are
            if name in table.column_names:
                names = table[name] if name == "label" else table[name].combine_chunks().flatten()
                total += 8 * len(names) - names.nbytes
    return total
