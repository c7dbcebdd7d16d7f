"""A dataset row's bytes by its locator (``builder/sources/parquet_rows.py``): rows in shard order
read each row group once, and a row that cannot be read is a DecodeError with a reason."""

from __future__ import annotations

import pytest

from builder.errors import DecodeError
from builder.sources import parquet_rows
from tests.helpers.audio_dataset import audio_table


def test_rows_in_shard_order_read_each_row_group_once(tmp_path):
    import pyarrow.parquet as pq

    rows = [(f"r{i}.wav", bytes([i]) * 10, 0) for i in range(6)]
    shard = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(audio_table(rows, ["a"]), shard, row_group_size=2)
    paths = [parquet_rows.locator(str(shard), i // 2, i % 2, "audio") for i in range(6)]
    assert sorted(reversed(paths), key=parquet_rows.row_order) == paths
    parquet_rows._group.cache_clear()
    assert [parquet_rows.row_bytes(p) for p in paths] == [b for _, b, _ in rows]
    assert parquet_rows._group.cache_info().misses == 3  # one read per row group, not per row
    with pytest.raises(DecodeError, match="cannot read its row"):
        parquet_rows.row_bytes(parquet_rows.locator(str(shard), 7, 0, "audio"))
    with pytest.raises(DecodeError, match="shard is gone"):
        parquet_rows.row_bytes(parquet_rows.locator(str(tmp_path / "gone.parquet"), 0, 0, "audio"))
