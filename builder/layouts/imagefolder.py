"""imagefolder and mirror layouts: one PNG per window on disk, plus metadata the HF loader reads.

imagefolder: ``OUT/<split>/<label>/<stem>_<end>.png`` and ``OUT/<split>/metadata.parquet``.
mirror (:class:`MirrorLayout`): ``OUT/<source folders>/<stem>_<end>.png`` beside ``OUT/metadata.parquet``;
no split folders, every row in ``train``. Where each image goes is the plan's (``DatasetPlan.place``).
Workers write a recording's images as its windows come out; metadata, card and build record
are written at the end.

The metadata is parquet, never CSV: its schema carries the features (``label`` a ``ClassLabel``,
stored as ids), so ``load_dataset(OUT)`` gets them without the card's ``configs``, and a card
without ``configs`` makes ``datasets`` key its cache on OUT's own files, not on the folder's name
(docs/card.md). A CSV cannot carry features, and the folder loader refuses a split with two
metadata files of different kinds.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re

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

    def metadata_name(self) -> str:
        return "metadata.parquet"

    def inferred(self) -> bool:
        """Whether ``datasets`` finds exactly :meth:`data_files` in OUT without the card's ``configs``:
        the split folders are named ``train``/``validation``/``test`` and no folder below them looks
        like a split to its name patterns (``data_files.py``: a folder ``val``, ``test_set`` or
        ``x-train`` anywhere makes a split of its own)."""
        if not set(self.plan.split_names) <= {"train", "validation", "test"}:
            return False
        return not self._split_like_folder(first=1)  # the split folder itself is meant to match

    def _split_like_folder(self, first: int) -> bool:
        return any(SPLIT_LIKE.fullmatch(part) for rel in self.files for part in rel.split("/")[first:-1])

    @property
    def streamed(self) -> bool:
        """Arrays or clips: rows that add up, streamed through ``datasets``' writer as they come."""
        return self.cfg.output.include.arrays or self.cfg.output.include.audio

    def write_data(self, journal, counts, stats, run=None) -> dict[str, list[bytes]]:
        tables: dict[str, list[dict]] = {}
        streams: dict[str, ParquetFile] = {}
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
                if not self.streamed:
                    tables.setdefault(split, []).append(meta)
                    continue
                if split not in streams:
                    from .parquet import ParquetFile

                    self.intend(self.metadata_rel(split))
                    streams[split] = ParquetFile(self.out, self.metadata_rel(split), self.metadata_features())
                streams[split].write(meta)
            for split in list(streams):
                f = streams.pop(split)
                self.place(f.rel, f.commit())
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
        ids = self.label_ids
        if self.plan.labelled:
            meta["label"] = None if label is None else ids[label]
        if self.plan.multilabel:
            meta["labels"] = [ids[name] for name in labels]
        meta.update(source=rec.rel, start=row.start, end=row.end, audio_seconds=row.audio_seconds)
        if self.cfg.output.folds:
            meta["fold"] = self.plan.fold_of(rec.rel, split)
        meta.update(self.plan.entries[rec.rel].columns)  # source.labels.keep_columns, typed as in the CSV
        if self.cfg.output.include.arrays:
            meta["spectrogram"] = row.array
        if self.cfg.output.include.audio:
            meta["audio"] = {"bytes": row.audio, "path": path.rsplit("/", 1)[-1][:-4] + ".flac"}
        return meta

    @property
    def label_ids(self) -> dict[str, int]:
        """Label name -> the card's ``ClassLabel`` id (the index in the sorted label names)."""
        if getattr(self, "_label_ids", None) is None:
            self._label_ids = {name: i for i, name in enumerate(self.plan.label_names)}
        return self._label_ids

    def metadata_features(self):
        """Features of ``metadata.parquet``: the dataset's, with ``file_name`` in place of the image.
        ``datasets``' writer puts them in the file's schema, where the folder loader reads them."""
        from datasets import Features, Value

        from ..card.features import as_datasets, columns

        out = {"file_name": Value("string")}
        out.update((key, feature) for key, feature in as_datasets(columns(self.plan, self.cfg)).items() if key != "image")
        return Features(out)

    def metadata_schema(self):
        """:meth:`metadata_features` as an Arrow schema, for metadata without arrays or clips: written
        here with the ``huggingface`` schema metadata ``datasets`` writes, since importing ``datasets``
        cost every build 0.4–0.8 s and ~60 MB (tests/layouts/test_imagefolder.py compares the two)."""
        import pyarrow as pa

        names = list(self.plan.label_names)
        fields = [("file_name", pa.string(), {"dtype": "string", "_type": "Value"})]
        if self.plan.labelled:
            fields.append(("label", pa.int64(), {"names": names, "_type": "ClassLabel"}))
        if self.plan.multilabel:
            fields.append(("labels", pa.list_(pa.int64()),
                           {"feature": {"names": names, "_type": "ClassLabel"}, "_type": "List"}))
        values = {"source": "string", "start": "float64", "end": "float64", "audio_seconds": "float64"}
        if self.cfg.output.folds:
            values["fold"] = "int32"
        values.update(self.plan.columns)
        fields += [(name, pa.type_for_alias(dtype), {"dtype": dtype, "_type": "Value"}) for name, dtype in values.items()]
        info = {"info": {"features": {name: feature for name, _, feature in fields}}}
        return pa.schema([(name, kind) for name, kind, _ in fields], metadata={"huggingface": json.dumps(info)})

    def encode_metadata(self, rows: list[dict]) -> bytes:
        """``metadata.parquet`` without arrays or clips: small enough to write whole. The rows go in
        through Arrow's JSON reader: building arrays from Python objects imports pandas (0.16 s a
        build); JSON keeps every value exactly (floats are written in their shortest round-trip form)."""
        import pyarrow as pa
        import pyarrow.json as pajson
        import pyarrow.parquet as pq

        schema = self.metadata_schema()
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        table = pajson.read_json(pa.py_buffer(lines), read_options=pajson.ReadOptions(use_threads=False),
                                 parse_options=pajson.ParseOptions(explicit_schema=schema,
                                                                   unexpected_field_behavior="error"))
        sink = pa.BufferOutputStream()
        pq.write_table(table.replace_schema_metadata(schema.metadata), sink)
        return sink.getvalue().to_pybytes()


# a folder name that ``datasets``' default split patterns take for a split (its SPLIT_KEYWORDS,
# NON_WORDS_CHARS and KEYWORDS_IN_DIR_NAME_BASE_PATTERNS: the keyword alone, or cut off by one of -._ 0-9)
_KEYWORDS = "train|training|validation|valid|dev|val|test|testing|eval|evaluation"
SPLIT_LIKE = re.compile(rf"(?:.*[-._ 0-9])?(?:{_KEYWORDS})(?:[-._ 0-9].*)?", re.DOTALL | re.IGNORECASE)


class MirrorLayout(ImageFolderLayout):
    """The images in the source's own folders (``OUT/<source folders>``), one ``OUT/metadata.parquet``
    beside them; every row is ``train`` (the plan places them so)."""

    name = "mirror"

    def data_files(self) -> dict[str, str]:
        return {"train": "**"}

    def metadata_rel(self, split: str) -> str:
        return self.metadata_name()

    def file_name(self, path: str) -> str:
        return path

    def inferred(self) -> bool:
        """No split folders: every folder is a source folder, none may look like a split."""
        return not self._split_like_folder(first=0)


def viewer_note(images: int) -> str:
    return (f"note: {images:,} image files: the Hub's dataset viewer shows only part of an imagefolder of more than "
            f"{VIEWER_MAX_FILES:,} (load_dataset still reads every row); output.layout: parquet shows them all")
