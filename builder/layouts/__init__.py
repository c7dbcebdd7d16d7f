"""Rows to data files: imagefolder (and its mirror variant) and parquet shards, plus the
per-recording write sink and the end-of-build finalize."""
