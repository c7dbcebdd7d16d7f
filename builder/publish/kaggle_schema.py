"""The column schema Kaggle shows for each CSV and parquet file of an upload (the ``resources`` of
``dataset-metadata.json``), with a description of every column and top-level file we know."""

from __future__ import annotations

import csv
import json
from pathlib import Path

ARROW_KINDS = (("integer", "is_integer"), ("numeric", "is_floating"), ("boolean", "is_boolean"),
               ("string", "is_string"), ("datetime", "is_timestamp"))  # Kaggle column types

NOTES = {  # descriptions of known columns and top-level files, for Kaggle's resources
    "file_name": "Path of the spectrogram image",
    "image": "Spectrogram image (PNG bytes and file name)",
    "label": "Class label",
    "source": "Source recording, relative to the source folder",
    "start": "Window start in the source recording, seconds",
    "end": "Window end in the source recording, seconds",
    "audio_seconds": "Seconds of real (not zero-padded) audio in the window",
    "stats.json": "Statistics of the train split: image pixel mean/std per channel, class counts, dB mean, std, per-bin mean and std",
    "preview.png": "A few spectrograms per label",
    "build.json": "Build record: resolved config, counts, skipped files, sha256 of each built file",
    "metadata.csv": "One row per image; file_name is relative to the dataset root",
    "README.md": "Dataset card: its header gives load_dataset the splits and features (label as ClassLabel)",
    "croissant.json": "Croissant 1.0 metadata (ML Commons): record sets per split, for mlcroissant",
}


def csv_fields(path: Path) -> list[dict]:
    """Column schema of a CSV: ``numeric`` where every value parses as a number, else ``string``."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = {name: True for name in reader.fieldnames or []}
        for row in reader:
            for name, value in row.items():
                if columns.get(name) and value not in ("", None):
                    try:
                        float(value)
                    except ValueError:
                        columns[name] = False
    return [{"name": n, "type": "numeric" if num and n != "label" else "string",
             "description": NOTES.get(n, n)} for n, num in columns.items()]


def parquet_fields(path: Path) -> list[dict]:
    """Column schema of a parquet shard, with class names from the embedded HF features."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    meta = json.loads((schema.metadata or {}).get(b"huggingface", b"{}") or b"{}")
    features = meta.get("info", {}).get("features", {})
    fields = []
    for f in schema:
        note = NOTES.get(f.name, f.name)
        names = (features.get(f.name) or {}).get("names")
        if names:
            note = f"{note}: class index into {', '.join(names)}"
        kind = next((k for k, test in ARROW_KINDS if getattr(pa.types, test)(f.type)), None)
        fields.append({"name": f.name, **({"type": kind, "description": note} if kind else
                                          {"description": f"{note} ({f.type})"})})
    return fields
