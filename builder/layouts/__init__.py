"""Rows to data files: imagefolder (and its mirror variant), parquet and webdataset (tar) shards,
plus the per-recording write sink and the end-of-build finalize."""
