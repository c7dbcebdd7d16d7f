"""One row's audio bytes from a parquet shard, by its place: what a worker decodes for a dataset row.

Discovery (``dataset.py``) names each row by a *locator*, ``parquet-row:<group>:<row>:<column>:<shard>``
(the row group, the row inside it, the audio column and the shard's absolute path); it is the
row's ``SourceFile.path``, so the plan, the journal and the executors carry it as they carry a
file's path, and ``audio.stream`` decodes it like a file. A worker keeps its last shards open and
its last row group's audio column in memory (:data:`GROUPS_HELD`): rows are handed out in shard
order, so each worker reads a row group about once, not once per row, and holds at most a couple
of row groups (the Hub's writers keep an audio row group to about 100 rows).
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import DecodeError

PREFIX = "parquet-row:"
GROUPS_HELD = 2  # row groups' audio columns one process keeps


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


@lru_cache(maxsize=4)
def _shard(path: str):
    import pyarrow.parquet as pq

    return pq.ParquetFile(path)


@lru_cache(maxsize=GROUPS_HELD)
def _group(path: str, group: int, column: str) -> list:
    """The audio cells of one row group: ``[{"bytes": …, "path": …} | None, …]``."""
    return _shard(path).read_row_group(group, columns=[column]).column(0).to_pylist()


def row_bytes(path: str) -> bytes:
    """The audio bytes of the row a locator names; a row that cannot be read is a :class:`DecodeError`."""
    shard, group, row, column = parse(path)
    try:
        cell = _group(shard, group, column)[row]
    except FileNotFoundError:
        raise DecodeError(path, "its parquet shard is gone from the cache (rerun to download it again)") from None
    except (OSError, ValueError, IndexError) as exc:  # pyarrow's ArrowInvalid/ArrowIOError are among these
        raise DecodeError(path, f"cannot read its row from the parquet shard: {' '.join(str(exc).split())[:160]}") from None
    data = cell.get("bytes") if isinstance(cell, dict) else cell if isinstance(cell, bytes) else None
    if not data:
        raise DecodeError(path, "no audio bytes in the row")
    return data
