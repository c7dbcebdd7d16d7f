"""A dataset row's bytes by its locator (``builder/sources/parquet_rows.py``): rows in shard order
read each row group once, memory holds a few rows (not a row group), and a row that cannot be
read is a DecodeError with a reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from builder.errors import DecodeError
from builder.sources import parquet_rows
from tests.helpers.audio_dataset import audio_table
from tests.helpers.cli import cli_env


def test_rows_in_shard_order_read_each_row_group_once(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    rows = [(f"r{i}.wav", bytes([i]) * 10, 0) for i in range(6)]
    shard = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(audio_table(rows, ["a"]), shard, row_group_size=3)
    paths = [parquet_rows.locator(str(shard), i // 3, i % 3, "audio") for i in range(6)]
    assert sorted(reversed(paths), key=parquet_rows.row_order) == paths
    opened = []
    original = parquet_rows.batches
    monkeypatch.setattr(parquet_rows, "batches", lambda pf, g, c: opened.append((g, c)) or original(pf, g, c))
    parquet_rows._CURSOR.clear()
    assert [parquet_rows.row_bytes(p) for p in paths] == [b for _, b, _ in rows]
    assert opened == [(0, ["audio"]), (1, ["audio"])]  # one read per row group, not per row
    assert parquet_rows.row_bytes(paths[1]) == rows[1][1]  # an earlier row: its row group read again
    with pytest.raises(DecodeError, match="cannot read its row"):
        parquet_rows.row_bytes(parquet_rows.locator(str(shard), 7, 0, "audio"))
    with pytest.raises(DecodeError, match="cannot read its row"):
        parquet_rows.row_bytes(parquet_rows.locator(str(shard), 0, 3, "audio"))  # past the row group's end
    with pytest.raises(DecodeError, match="shard is gone"):
        parquet_rows.row_bytes(parquet_rows.locator(str(tmp_path / "gone.parquet"), 0, 0, "audio"))


# Discovery hashes every row and a worker reads every row of one row group of 48 clips of 512 KB
# (24 MB, written as `datasets` writes audio: plain pages, uncompressed); pyarrow's allocator peak
# is printed. Both held the whole row group's column (and more) before.
_MEASURE = """
import sys, pyarrow as pa
from builder.config.source import SourceConfig
from builder.sources import dataset, parquet_rows
folder = sys.argv[1]
if sys.argv[2] == "discovery":
    read = dataset.read_dataset(SourceConfig(dataset=folder))
    assert len(read.files) == 48, read.skipped
else:
    shard = folder + "/data/train-00000-of-00001.parquet"
    for row in range(48):
        assert len(parquet_rows.row_bytes(parquet_rows.locator(shard, 0, row, "audio"))) == 512 * 1024
print(pa.default_memory_pool().max_memory())
"""


@pytest.mark.parametrize("who", ["discovery", "worker"])
def test_memory_holds_a_few_rows_not_a_row_group(tmp_path, who):
    import pyarrow.parquet as pq

    rows = [(f"c{i}.wav", bytes([i]) * (512 * 1024), i % 2) for i in range(48)]
    (tmp_path / "data").mkdir()
    pq.write_table(audio_table(rows, ["a", "b"]), tmp_path / "data" / "train-00000-of-00001.parquet",
                   use_dictionary=["label"], compression="none", write_batch_size=1)  # one row group, a page per row
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(tmp_path), who], capture_output=True, text=True,
                          env=cli_env())
    assert done.returncode == 0, done.stderr
    peak = int(done.stdout.split()[-1])
    assert peak < 24 * 2**20 // 2, f"{who}: {peak / 2**20:.1f} MB held for a 24 MB row group"
