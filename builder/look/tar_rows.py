"""A webdataset build's rows for ``report``: each tar shard's samples, their ``KEY.json`` read at once,
their PNG and FLAC members only for the windows the page shows (:class:`Member`)."""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .inspect import reading


@dataclass(frozen=True)
class Member:
    """Where a member's bytes are in its tar (read with one seek, only when shown)."""

    path: Path
    offset: int
    size: int

    def read(self) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(self.size)
        if len(data) != self.size:
            raise ValueError(f"truncated tar member at byte {self.offset}")
        return data


def webdataset_rows(out: Path, files, listed) -> list[dict]:
    """Every sample of the tar shards ``files`` (build.json's) lists, in order; ``listed(rel)``: the
    shard's path, or one line saying it is missing."""
    rows = []
    for rel in sorted(f for f in files if f.startswith("data/") and f.endswith(".tar")):
        with reading(out / rel):
            rows += tar_rows(listed(rel), rel[len("data/"):].split("-")[0])
    return rows


def read_members(row: dict) -> None:
    """Fill a shown row's ``png``/``flac`` bytes from its members."""
    for column, key in (("image", "png"), ("audio", "flac")):
        if isinstance(row[column], Member):
            with reading(row[column].path):
                row[key] = row[column].read()


def tar_rows(path: Path, split: str) -> list[dict]:
    """``{split, label, source, start, end, image, audio}`` of each sample of the shard, in order."""
    try:
        samples = _samples(path)
    except tarfile.TarError as exc:  # a damaged shard: ``inspect.reading`` makes it one line
        raise ValueError(f"not a readable tar: {exc}") from None
    rows = []
    for key, sample in samples.items():
        meta = sample.get("json", {})
        if not isinstance(meta, dict):  # ``inspect.reading`` makes it one line naming the shard
            raise ValueError(f"{key}.json holds a JSON {type(meta).__name__}, not an object of columns")
        label = meta.get("label")
        rows.append(dict(split=split, label="(none)" if label is None else str(label), source=meta.get("source", key),
                         start=float(meta.get("start", 0.0)), end=float(meta.get("end", 0.0)),
                         image=sample.get("png"), audio=sample.get("flac")))
    return rows


def _samples(path: Path) -> dict[str, dict]:
    """key → {"json": its parsed KEY.json, extension: :class:`Member`} in the shard's order."""
    samples: dict[str, dict] = {}
    with tarfile.open(path, "r:") as tar:
        for info in tar:
            if not info.isfile():
                continue
            base = info.name.rpartition("/")[2]
            stem, _, ext = base.partition(".")  # a key ends at its file name's first dot
            sample = samples.setdefault(info.name[: len(info.name) - len(base)] + stem, {})
            if ext == "json":
                try:
                    sample["json"] = json.loads(tar.extractfile(info).read())
                except RecursionError:  # the C decoder's answer to "[" * 100000
                    raise ValueError(f"{info.name} nests its JSON too deep") from None
            else:
                sample[ext] = Member(path, info.offset_data, info.size)
    return samples
