"""One row's audio bytes from a parquet shard, by its place: what a worker decodes for a dataset row.

Discovery (``dataset.py``) names each row by a *locator*, ``parquet-row:<group>:<row>:<column>:<shard>``
(the row group, the row inside it, the audio column and the shard's absolute path); it is the
row's ``SourceFile.path``, so the plan, the journal and the executors carry it as they carry a
file's path, and ``audio.stream`` decodes it like a file.

Memory is bounded by a few rows, not by a row group: a shard is opened with a read buffer and
without pre-buffering, so pyarrow reads a column chunk page by page (a whole column chunk
otherwise: 1 GB for a row group of a hundred 10 MB clips), and rows are read in batches of about
:data:`BATCH_BYTES`. A worker keeps one forward cursor per process: rows are handed out in shard
order, so each worker reads a row group about once. The floor is one page, read whole: pyarrow's
``write_table`` defaults put up to 1,024 rows' audio in one dictionary page (:func:`page_floor`
measures it), while ``datasets`` writes audio as plain pages of at most 1 MB.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import DecodeError

PREFIX = "parquet-row:"
BATCH_BYTES = 2 << 20  # audio bytes one batch holds, about (a row is never split; pyarrow peaks at 2-3 times it)
BATCH_ROWS = 64  # and at most this many rows (small clips: fewer, larger reads)
READ_BUFFER = 1 << 20  # pyarrow's read buffer: a column chunk is read in pieces of this size


def locator(shard: str, group: int, row: int, column: str) -> str:
    return f"{PREFIX}{group}:{row}:{column}:{shard}"


def is_row(path) -> bool:
    return isinstance(path, str) and path.startswith(PREFIX)


def parse(path: str) -> tuple[str, int, int, str]:
    """``(shard, group, row, column)`` of a locator (the column name may not hold ``:``; checked at discovery)."""
    group, row, column, shard = path[len(PREFIX):].split(":", 3)
    return shard, int(group), int(row), column


def row_order(path: str) -> tuple[str, int, int]:
    """A sort key putting rows in shard, row group and row order (any other path first)."""
    if not is_row(path):
        return "", -1, -1
    shard, group, row, _ = parse(path)
    return shard, group, row


def open_shard(path: str):
    """A shard opened to read a few rows at a time (its footer only is read here)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False)


_open = lru_cache(maxsize=4)(open_shard)  # a worker's last shards, kept open


def batch_rows(pf, group: int, column: str) -> int:
    """Rows per batch for ``column`` of a row group: about :data:`BATCH_BYTES` of it, 1 to
    :data:`BATCH_ROWS` rows, from the column chunks' sizes in the footer."""
    meta = pf.metadata.row_group(group)
    size = sum(meta.column(i).total_uncompressed_size for i in range(meta.num_columns)
               if meta.column(i).path_in_schema.split(".")[0] == column)
    return max(1, min(BATCH_ROWS, BATCH_BYTES * meta.num_rows // max(size, 1)))


def page_floor(pf, column: str) -> int:
    """The largest dictionary page of ``column`` in the shard, in bytes (0 without one): a reader
    holds such a page whole, and pyarrow's ``write_table`` defaults put up to 1,024 rows' audio in it."""
    meta = pf.metadata
    chunks = (meta.row_group(g).column(i) for g in range(meta.num_row_groups) for i in range(meta.num_columns))
    return max((c.data_page_offset - c.dictionary_page_offset for c in chunks if c.has_dictionary_page
                and c.dictionary_page_offset is not None and c.path_in_schema.split(".")[0] == column), default=0)


def batches(pf, group: int, columns: list[str]):
    """The ``columns`` of one row group, as record batches of :func:`batch_rows` rows of the first."""
    return pf.iter_batches(batch_rows(pf, group, columns[0]), row_groups=[group], columns=columns)


class _Cursor:
    """A forward reader over one row group's audio column, holding the batch of the last row read."""

    def __init__(self, shard: str, group: int, column: str):
        self.key = (shard, group, column)
        self.batches = batches(_open(shard), group, [column])
        self.start, self.cells = 0, []  # the first row of the batch held, its cells

    def cell(self, row: int):
        while row >= self.start + len(self.cells):
            self.start += len(self.cells)
            batch = next(self.batches, None)
            if batch is None:
                raise IndexError(f"row {row} is past the row group's end ({self.start} rows)")
            self.cells = batch.column(0).to_pylist()
        return self.cells[row - self.start]


_CURSOR: dict[str, _Cursor] = {}  # this process's reading place: a cache, taken out while in use (never shared)


def _cell(shard: str, group: int, row: int, column: str):
    """The cell of a row; the cursor moves forward, or starts the row group again for an earlier row."""
    cursor = _CURSOR.pop("at", None)
    if cursor is None or cursor.key != (shard, group, column) or row < cursor.start:
        cursor = _Cursor(shard, group, column)
    cell = cursor.cell(row)  # an error leaves no cursor behind: the next row starts afresh
    _CURSOR["at"] = cursor
    return cell


def row_bytes(path: str) -> bytes:
    """The audio bytes of the row a locator names; a row that cannot be read is a :class:`DecodeError`."""
    shard, group, row, column = parse(path)
    try:
        cell = _cell(shard, group, row, column)
    except FileNotFoundError:
        raise DecodeError(path, "its parquet shard is gone from the cache (rerun to download it again)") from None
    except (OSError, ValueError, IndexError) as exc:  # pyarrow's ArrowInvalid/ArrowIOError are among these
        raise DecodeError(path, f"cannot read its row from the parquet shard: {' '.join(str(exc).split())[:160]}") from None
    data = cell.get("bytes") if isinstance(cell, dict) else cell if isinstance(cell, bytes) else None
    if not data:
        raise DecodeError(path, "no audio bytes in the row")
    return data
