"""imagefolder and mirror layouts: one PNG per window on disk, plus metadata the HF loader reads.

imagefolder: ``OUT/<split>/<label>/<stem>_<end>.png`` and ``OUT/<split>/metadata.csv``.
mirror (:class:`MirrorLayout`): ``OUT/<source folders>/<stem>_<end>.png`` beside ``OUT/metadata.csv``;
no split folders, every row in ``train``. Where each image goes is the plan's (``DatasetPlan.place``).
Workers write a recording's images as its windows come out; metadata, card and build record
are written at the end.

A CSV cannot carry lists, arrays or audio, so a multi-label build, or one with
``output.include.arrays``/``audio``, writes ``metadata.parquet`` instead (same columns plus
``labels``, ``spectrogram``, ``audio``); the HF folder loader reads either.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging

from ..run.worker import FileResult
from .base import Layout

PREVIEW_PER_LABEL = 4
VIEWER_MAX_FILES = 10_000  # the Hub's viewer converts an imagefolder of more image files only in part
log = logging.getLogger("spectroset")


class ImageFolderLayout(Layout):
    name = "imagefolder"

    def __init__(self, cfg, out, plan, token: str = ""):
        super().__init__(cfg, out, plan, token)
        if cfg.output.include.audio and importlib.util.find_spec("torchcodec") is None:
            log.warning("note: datasets needs torchcodec to load an imagefolder with audio clips "
                        "(output.include.audio); the parquet layout loads without it")

    def image_rel(self, rel: str, index: int, end: float) -> str:
        return self.plan.place(rel, index, end)[1]

    def paths(self, record: FileResult) -> list[str]:
        return [self.image_rel(record.rel, r.index, r.end) for r in record.rows]

    def data_files(self) -> dict[str, str]:
        return {split: f"{split}/**" for split in self.plan.split_names}

    @property
    def rich(self) -> bool:
        """Whether a column needs more than CSV: label lists, arrays or audio."""
        include = self.cfg.output.include
        return self.plan.multilabel or include.arrays or include.audio

    def metadata_name(self) -> str:
        return "metadata.parquet" if self.rich else "metadata.csv"

    def write_data(self, journal, counts, stats, run=None) -> dict[str, list[bytes]]:
        tables: dict[str, list[dict]] = {}
        streams: dict[str, ParquetFile] = {}  # rich metadata is streamed: arrays and clips add up
        examples: dict[str, list[bytes]] = {}
        try:
            for split, rec, row in self.rows(journal):
                path = self.image_rel(rec.rel, row.index, row.end)
                self.files[path] = row.sha256
                label = self.plan.window_labels(rec, row)[0]
                label = label if label is not None else "(none)"
                counts[split][label] += 1
                if split == "train":
                    stats.add(row)
                shown = examples.setdefault(label, [])
                if len(shown) < PREVIEW_PER_LABEL:
                    shown.append((self.out / path).read_bytes())
                meta = self.metadata_row(path, rec, row, split)
                if self.rich:
                    if split not in streams:
                        from .parquet import ParquetFile  # pyarrow: only for rich metadata

                        self.intend(self.metadata_rel(split))
                        streams[split] = ParquetFile(self.out, self.metadata_rel(split), self.metadata_features())
                    streams[split].write(meta)
                else:
                    tables.setdefault(split, []).append(meta)
            for split in list(streams):
                f = streams.pop(split)
                self.confirm(f.rel, f.commit())
        finally:
            for f in streams.values():
                f.abort()
        for split, rows in tables.items():
            self.write_atomic(self.metadata_rel(split), self.encode_metadata(rows))
        images = sum(sum(c.values()) for c in counts.values())
        if images > VIEWER_MAX_FILES:
            log.warning(viewer_note(images))
        return examples

    def metadata_rel(self, split: str) -> str:
        return f"{split}/{self.metadata_name()}"

    def file_name(self, path: str) -> str:
        """An image's ``file_name``: its path relative to the metadata file's folder."""
        return path.split("/", 1)[1]

    def metadata_row(self, path: str, rec: FileResult, row, split: str = "train") -> dict:
        """One metadata row; ``file_name`` is relative to the metadata file's folder."""
        label, labels = self.plan.window_labels(rec, row)
        meta = {"file_name": self.file_name(path)}
        if self.plan.labelled:
            meta["label"] = label
        if self.plan.multilabel:
            meta["labels"] = list(labels)
        meta.update(source=rec.rel, start=row.start, end=row.end)
        if self.cfg.output.folds:
            meta["fold"] = self.plan.fold_of(rec.rel, split)
        meta.update(self.plan.entries[rec.rel].columns)  # source.labels.keep_columns, typed as in the CSV
        if self.cfg.output.include.arrays:
            meta["spectrogram"] = row.array
        if self.cfg.output.include.audio:
            meta["audio"] = {"bytes": row.audio, "path": path.rsplit("/", 1)[-1][:-4] + ".flac"}
        return meta

    def metadata_features(self):
        """Features of ``metadata.parquet``: the dataset's, with ``file_name`` for the image and
        label names as strings (readable on their own; the card's features map them to ids)."""
        from datasets import Features, List, Value

        from ..card.card import features

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


class MirrorLayout(ImageFolderLayout):
    """The images in the source's own folders (``OUT/<source folders>``), one ``OUT/metadata.csv``
    (or ``.parquet``) beside them; every row is ``train`` (the plan places them so)."""

    name = "mirror"

    def data_files(self) -> dict[str, str]:
        return {"train": "**"}

    def metadata_rel(self, split: str) -> str:
        return self.metadata_name()

    def file_name(self, path: str) -> str:
        return path


def viewer_note(images: int) -> str:
    return (f"note: {images:,} image files: the Hub's dataset viewer shows only part of an imagefolder of more than "
            f"{VIEWER_MAX_FILES:,} (load_dataset still reads every row); output.layout: parquet shows them all")
