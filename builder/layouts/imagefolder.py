"""imagefolder and mirror layouts: one PNG per window on disk, plus metadata the HF loader reads.

imagefolder: ``OUT/<split>/<label>/<stem>_<end>.png`` and ``OUT/<split>/metadata.csv``.
mirror (seed 000): ``OUT/<source folders>/<stem>_<end>.png`` beside ``OUT/metadata.csv``; no splits.
Images are written as each recording finishes; metadata, card and build record at the end.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..names import end_tag
from ..worker import FileResult
from .base import Layout

PREVIEW_PER_LABEL = 4


class ImageFolderLayout(Layout):
    def __init__(self, cfg, out, plan):
        super().__init__(cfg, out, plan)
        self.name = cfg.output.layout
        self.mirror = self.name == "mirror"

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

    def metadata_name(self) -> str:
        return "metadata.csv"

    def write_data(self, journal, counts, stats) -> dict[str, list[bytes]]:
        tables: dict[str, list[dict]] = {}
        examples: dict[str, list[bytes]] = {}
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
            meta = {"file_name": path if self.mirror else path.split("/", 1)[1]}
            if self.plan.labelled:
                meta["label"] = entry.label
            if self.plan.multilabel:
                meta["labels"] = [entry.label, *entry.extra_labels]
            meta.update(source=rec.rel, start=row.start, end=row.end)
            tables.setdefault(split, []).append(meta)
        for split, rows in tables.items():
            prefix = "" if self.mirror else f"{split}/"
            self.write_atomic(prefix + self.metadata_name(), self.encode_metadata(rows))
        return examples

    def encode_metadata(self, rows: list[dict]) -> bytes:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (json_list(v) if isinstance(v, list) else v) for k, v in r.items()})
        return buf.getvalue().encode("utf-8")


def json_list(values: list[str]) -> str:
    import json

    return json.dumps(values, ensure_ascii=False)


def remove_files(out: Path, rels) -> None:
    """Delete files this tool wrote earlier, and folders left empty by that."""
    for rel in rels:
        path = out / rel
        try:
            path.unlink()
        except FileNotFoundError:
            continue
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
