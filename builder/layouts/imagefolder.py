"""imagefolder and mirror layouts: one PNG per window on disk, plus metadata the HF loader reads.

imagefolder: ``OUT/<split>/<label>/<stem>_<end>.png`` and ``OUT/<split>/metadata.csv``.
mirror (seed 000): ``OUT/<source folders>/<stem>_<end>.png`` beside ``OUT/metadata.csv``; no splits.
Images are written as each recording finishes; metadata, card and build record at the end.

A CSV cannot carry lists, arrays or audio, so a multi-label build, or one with
``output.include.arrays``/``audio``, writes ``metadata.parquet`` instead (same columns plus
``labels``, ``spectrogram``, ``audio``); the HF folder loader reads either.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import os
from pathlib import Path

from ..names import end_tag
from ..worker import FileResult
from .base import Layout

PREVIEW_PER_LABEL = 4
log = logging.getLogger("spectroset")


class ImageFolderLayout(Layout):
    def __init__(self, cfg, out, plan):
        super().__init__(cfg, out, plan)
        self.name = cfg.output.layout
        self.mirror = self.name == "mirror"
        if cfg.output.include.audio and importlib.util.find_spec("torchcodec") is None:
            log.warning("note: datasets needs torchcodec to load an imagefolder with audio clips "
                        "(output.include.audio); the parquet layout loads without it")

    def image_rel(self, rel: str, index: int, end: float) -> str:
        entry = self.plan.entries[rel]
        name = f"{entry.stem}_{end_tag(end)}.png"
        split = None if self.mirror else self.plan.split_of(rel, index)
        return "/".join(p for p in (split, entry.folder, name) if p)

    def store(self, result: FileResult) -> FileResult:
        result.paths = []
        for row in result.rows:
            path = self.image_rel(result.rel, row.index, row.end)
            self.write_atomic(path, row.png)
            result.paths.append(path)
            row.png = None  # on disk now; the journal keeps only the metadata
        return result

    def is_current(self, record: FileResult) -> bool:
        want = [self.image_rel(record.rel, r.index, r.end) for r in record.rows]
        return record.paths == want and all((self.out / p).is_file() for p in want)

    def data_files(self) -> dict[str, str]:
        if self.mirror:
            return {"train": "**"}
        return {split: f"{split}/**" for split in self.plan.split_names}

    @property
    def rich(self) -> bool:
        """Whether a column needs more than CSV: label lists, arrays or audio."""
        include = self.cfg.output.include
        return self.plan.multilabel or include.arrays or include.audio

    def metadata_name(self) -> str:
        return "metadata.parquet" if self.rich else "metadata.csv"

    def write_data(self, journal, counts, stats) -> dict[str, list[bytes]]:
        from .parquet import ParquetFile

        tables: dict[str, list[dict]] = {}
        streams: dict[str, ParquetFile] = {}  # rich metadata is streamed: arrays and clips add up
        examples: dict[str, list[bytes]] = {}
        try:
            for split, rec, row in self.rows(journal):
                path = self.image_rel(rec.rel, row.index, row.end)
                self.files[path] = row.sha256
                split = "train" if self.mirror else split
                entry = self.plan.entries[rec.rel]
                label = entry.label if entry.label is not None else "(none)"
                counts[split][label] += 1
                if split == "train":
                    stats.add(row)
                shown = examples.setdefault(label, [])
                if len(shown) < PREVIEW_PER_LABEL:
                    shown.append((self.out / path).read_bytes())
                meta = self.metadata_row(path, rec, row)
                if self.rich:
                    if split not in streams:
                        streams[split] = ParquetFile(self.out, self.metadata_rel(split), self.metadata_features())
                    streams[split].write(meta)
                else:
                    tables.setdefault(split, []).append(meta)
            for split in list(streams):
                f = streams.pop(split)
                self.files[f.rel] = f.commit()
        finally:
            for f in streams.values():
                f.abort()
        for split, rows in tables.items():
            self.write_atomic(self.metadata_rel(split), self.encode_metadata(rows))
        return examples

    def metadata_rel(self, split: str) -> str:
        return self.metadata_name() if self.mirror else f"{split}/{self.metadata_name()}"

    def metadata_row(self, path: str, rec: FileResult, row) -> dict:
        """One metadata row; ``file_name`` is relative to the metadata file's folder."""
        entry = self.plan.entries[rec.rel]
        meta = {"file_name": path if self.mirror else path.split("/", 1)[1]}
        if self.plan.labelled:
            meta["label"] = entry.label
        if self.plan.multilabel:
            meta["labels"] = [entry.label, *entry.extra_labels]
        meta.update(source=rec.rel, start=row.start, end=row.end)
        if self.cfg.output.include.arrays:
            meta["spectrogram"] = row.array
        if self.cfg.output.include.audio:
            meta["audio"] = {"bytes": row.audio, "path": path.rsplit("/", 1)[-1][:-4] + ".flac"}
        return meta

    def metadata_features(self):
        """Features of ``metadata.parquet``: the dataset's, with ``file_name`` for the image and
        label names as strings (readable on their own; the card's features map them to ids)."""
        from datasets import Features, List, Value

        from .card import features

        out = {"file_name": Value("string")}
        for key, feature in features(self).items():
            if key == "label":
                feature = Value("string")
            elif key == "labels":
                feature = List(Value("string"))
            if key != "image":
                out[key] = feature
        return Features(out)

    def encode_metadata(self, rows: list[dict]) -> bytes:
        """``metadata.csv``: scalar columns only (lists, arrays and clips go to metadata.parquet)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue().encode("utf-8")


def remove_files(out: Path, rels) -> None:
    """Delete files this tool wrote earlier, and folders left empty by that."""
    from ..state import disk_error

    for rel in rels:
        path = out / rel
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:  # read-only output: one line, not a traceback
            raise disk_error(exc, path) from None
        parent = path.parent
        while parent != out:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def remove_temp_files(out: Path) -> None:
    """Temp files a killed build left behind (hidden ``.*.tmp`` beside their targets)."""
    for folder, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if d != ".spectroset"]
        for name in files:
            if name.startswith(".") and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError:
                    pass
