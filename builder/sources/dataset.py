"""Discovery of a parquet audio dataset (``source.dataset``): one recording per row.

The shards are those the Hub stores (``hub_files.py``): an ``Audio`` column of ``{bytes, path}``
structs and the ``datasets`` features in the schema's ``huggingface`` metadata (metadata that is
there but does not parse is an error naming the shard). Rows are read a few at a time with
pyarrow (``parquet_rows.batches``), only the audio and label columns, so memory stays flat
whatever the dataset's or a row group's size. For each row discovery keeps its place (a ``parquet_rows``
locator, decoded later by a worker), its label, a SHA-256 of its audio bytes (the row's
fingerprint: a new revision rebuilds only rows whose bytes changed) and its header's length (the
plan's window count, no decoding). ``datasets`` is never imported: its ``Audio`` decoding needs
torchcodec.

- Audio: the first ``Audio`` feature, or ``source.audio_column``.
- Labels: the first ``ClassLabel`` (or list of ``ClassLabel``) feature, or ``source.label_column``
  (a ``ClassLabel``, string or integer column); ``labels: none`` reads none.
- Splits: the card's ``configs`` ``data_files`` (the first config), else the shard's name
  (``train-00000-of-00003.parquet``, ``train/0000.parquet``), else ``train``. ``source.split``
  picks some.
- A row's ``rel`` (its ``source`` column) is ``<split>/<its audio path>``, or ``<split>/<row
  index>`` without one; a path seen twice in a split gets ``~2``, ``~3`` … before its suffix,
  never a name another row has of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from ..config.source import SPLIT_NAME, SourceConfig
from ..errors import NothingToBuild, SourceError
from .discover import Skipped, SourceFile
from .hub_files import DatasetFiles, fetch
from .parquet_rows import batches, locator, open_shard, page_floor
from .parquet_rows import row_order  # noqa: F401 - the order rows are decoded in (the pipeline imports it here)


PAGE_WARNED = 64 << 20  # an audio page this large (bytes) is named in a warning: each worker holds it whole
log = logging.getLogger("spectroset")

@dataclass(frozen=True)
class DatasetRead:
    files: list[SourceFile]
    skipped: list[Skipped]
    license: str | None  # the card's `license:`, where it names one
    shown: str  # the dataset as messages name it
    repo_id: str | None = None  # a Hub dataset's id


def read_dataset(cfg: SourceConfig) -> DatasetRead:
    """Every usable row of the dataset (sorted by ``rel``) and the rows or shards skipped."""
    found = fetch(cfg.dataset, cfg.revision, cfg.split)
    wanted = set(found.split_of.values())
    if cfg.keep_splits:
        bad = [s for s in sorted(wanted) if not re.fullmatch(SPLIT_NAME, s)]
        if bad:
            raise SourceError(f"source.keep_splits: split name {bad[0]!r} cannot name an output split (letters, "
                              "digits and _ only); read it without keep_splits")
    rows, files, skipped, seen = [], [], [], {}
    for shard, split in found.split_of.items():
        _read_shard(cfg, found, shard, split, rows, skipped, seen)
    for item in _named_apart(rows):
        (skipped if isinstance(item, Skipped) else files).append(item)
    if not files:
        why = f", e.g. {skipped[0].path}: {skipped[0].reason}" if skipped else ""
        raise NothingToBuild(f"source.dataset: no usable row in {found.shown}{why}")
    licence = found.card.get("license")
    licence = licence[0] if isinstance(licence, list) and len(licence) == 1 else licence
    return DatasetRead(sorted(files, key=lambda f: f.rel), sorted(skipped, key=lambda s: s.path),
                       licence if isinstance(licence, str) else None, found.shown, found.repo_id)


def _features(schema, where: str) -> dict:
    """The ``datasets`` features of a shard's ``huggingface`` schema metadata ({} without any);
    metadata that is there but unreadable is a :class:`SourceError` naming the shard and the key."""
    meta = (schema.metadata or {}).get(b"huggingface")
    try:
        info = json.loads(meta) if meta else {}
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested deeper than Python's stack
        raise SourceError(f"source.dataset: {where}: its schema's huggingface metadata is not readable JSON "
                          f"({_short(exc)})") from None
    info = (info.get("info") or {}) if isinstance(info, dict) else info
    features = (info.get("features") or {}) if isinstance(info, dict) else info
    if not isinstance(features, dict):
        raise SourceError(f"source.dataset: {where}: its schema's huggingface metadata has no features object "
                          f"at info.features (found {type(features).__name__})")
    return features


def _audio_column(cfg: SourceConfig, schema, features: dict, where: str) -> str:
    names = schema.names
    if cfg.audio_column is not None:
        if cfg.audio_column not in names:
            raise SourceError(f"source.audio_column: no column {cfg.audio_column!r} in {where} (has {', '.join(names)})")
        return cfg.audio_column
    found = [n for n, f in features.items() if isinstance(f, dict) and f.get("_type") == "Audio" and n in names]
    if not found and not features and "audio" in names:  # no datasets metadata: a column called audio
        found = ["audio"]
    if not found:
        raise SourceError(f"source.dataset: {where} is not an audio dataset: no Audio column (has "
                          f"{', '.join(names)}); name one with source.audio_column")
    return found[0]


def _class_names(feature) -> tuple[object, bool]:
    """``(a ClassLabel's names or None, whether a row holds a list)`` of a ``datasets`` feature; the
    names as the metadata holds them (:func:`_checked_names` checks them where a column is read)."""
    listed = False
    while isinstance(feature, dict) and feature.get("_type") in ("Sequence", "List", "LargeList"):
        feature, listed = feature.get("feature"), True  # a loop: the metadata may nest deeply
    if isinstance(feature, dict) and feature.get("_type") == "ClassLabel":
        names = feature.get("names")
        return ([] if names is None else names), listed
    return None, False


def _checked_names(features: dict, label: str, where: str) -> list[str] | None:
    """The label column's ClassLabel names, a list of strings, or None where it is no ClassLabel."""
    names = _class_names(features.get(label))[0]
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        bad = names if not isinstance(names, list) else next(n for n in names if not isinstance(n, str))
        raise SourceError(f"source.dataset: {where}: the huggingface metadata's ClassLabel names of column "
                          f"{label!r} must be a list of strings (found {_short(repr(bad))})")
    twice = sorted(n for n, k in Counter(names or ()).items() if k > 1)
    if twice:  # two ids, one name: which class a row is would depend on who reads it
        raise SourceError(f"source.dataset: {where}: the huggingface metadata's ClassLabel names of column "
                          f"{label!r} repeat {_short(', '.join(map(repr, twice)))}")
    return names


def _label_column(cfg: SourceConfig, schema, features: dict, where: str) -> str | None:
    if cfg.labels == "none":
        return None
    if cfg.label_column is not None:
        if cfg.label_column not in schema.names:
            raise SourceError(f"source.label_column: no column {cfg.label_column!r} in {where} "
                              f"(has {', '.join(schema.names)})")
        return cfg.label_column
    found = [n for n, f in features.items() if _class_names(f)[0] is not None and n in schema.names]
    if not found:
        raise SourceError(f"source.dataset: {where} has no ClassLabel column: name the label column with "
                          "source.label_column, or set source.labels: none")
    return found[0]


def _check_types(cfg: SourceConfig, schema, audio: str, label: str | None, where: str) -> None:
    """Refuse, before any row is read, an audio column that holds no bytes and a label column that
    holds no ClassLabel ids, strings or integers (a float's ``0.5`` is a score, not a class)."""
    import pyarrow as pa

    kind = schema.field(audio).type
    if not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_struct(kind) and any(
            f.name == "bytes" and (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)) for f in kind)):
        key = "source.audio_column" if cfg.audio_column is not None else "source.dataset"
        raise SourceError(f"{key}: column {audio!r} of {where} holds {kind} values, not audio (an Audio column "
                          "of {bytes, path}, or binary)")
    if label is None:
        return
    kind = schema.field(label).type
    inner = kind.value_type if pa.types.is_list(kind) or pa.types.is_large_list(kind) else kind
    inner = inner.value_type if pa.types.is_dictionary(inner) else inner
    if not (pa.types.is_integer(inner) or pa.types.is_string(inner) or pa.types.is_large_string(inner)):
        key = "source.label_column" if cfg.label_column is not None else "source.dataset"
        raise SourceError(f"{key}: column {label!r} of {where} holds {kind} values, not labels (a ClassLabel, "
                          "string or integer column, or a list of them)")


def _labels(value, names: list[str] | None) -> list[str]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if v is None or (isinstance(v, int) and names is not None and not 0 <= v < len(names)):
            continue  # ClassLabel's -1: no label
        text = names[v] if isinstance(v, int) and names is not None else str(v).strip()
        if text and text not in out:
            out.append(text)
    return out


def _read_shard(cfg: SourceConfig, found: DatasetFiles, shard: str, split: str, rows: list, skipped: list,
                seen: dict) -> None:
    """Append the shard's rows (named by their own path: :func:`_named_apart` tells twins apart) to
    ``rows``, and the shard itself to ``skipped`` where it cannot be read."""
    path = str(found.root / shard)
    where = f"{found.shown}:{shard}"
    try:
        pf = open_shard(path)
    except Exception as exc:
        skipped.append(Skipped(shard, f"unreadable parquet shard: {_short(exc)}"))
        return
    features = _features(pf.schema_arrow, where)
    audio = _audio_column(cfg, pf.schema_arrow, features, where)
    label = _label_column(cfg, pf.schema_arrow, features, where)
    _check_types(cfg, pf.schema_arrow, audio, label, where)
    if ":" in audio:
        raise SourceError(f"source.audio_column: {audio!r}: a column name with ':' cannot be read here; rename it")
    names = _checked_names(features, label, where) if label else None
    floor = page_floor(pf, audio)
    if floor > PAGE_WARNED and not seen.get("#page warned"):
        seen["#page warned"] = True  # one line, not one per shard
        log.warning("warning: %s keeps up to %d MB of its audio column in one parquet page (dictionary encoded, "
                    "pyarrow's write_table default), which each process reading it holds whole; write shards with "
                    "write_batch_size=1 for a few MB", where, floor >> 20)
    index = seen.get((split, "#rows"), 0)  # rows of this split read so far (its earlier shards)
    try:
        for group in range(pf.num_row_groups):
            row = 0
            for batch in batches(pf, group, [audio] + ([label] if label else [])):  # a few rows: bounded memory
                cells = batch.column(0).to_pylist()
                labels = batch.column(1).to_pylist() if label else [None] * len(cells)
                for cell, value in zip(cells, labels):
                    rows.append(_row(path, group, row, audio, cell, _labels(value, names) if label else [],
                                     _rel(split, cell, index), split, label))
                    row, index = row + 1, index + 1
    except SourceError:
        raise
    except Exception as exc:  # a corrupt page: what was read stays, the rest of the shard is skipped
        skipped.append(Skipped(shard, f"corrupt parquet shard after {index} row(s): {_short(exc)}"))
    seen[(split, "#rows")] = index


def _rel(split: str, cell, index: int) -> str:
    """``<split>/<path>``, the path made relative and safe; ``<split>/<index>`` without one."""
    name = cell.get("path") if isinstance(cell, dict) else None
    if isinstance(name, str) and name.strip():
        name = name.replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".", "..")]
        name = "/".join(parts[-1:] if name.startswith("/") else parts)  # an absolute path: the uploader's disk
    return f"{split}/{name}" if name else f"{split}/{index:06d}"


def _named_apart(rows: list) -> list:
    """``rows`` with a name seen again given ``~2``, ``~3`` … before its suffix, skipping every name
    a row has of its own (rows ``a.wav``, ``a.wav``, ``a~2.wav`` are ``a.wav``, ``a~3.wav``, ``a~2.wav``)."""
    name_of = lambda r: r.path if isinstance(r, Skipped) else r.rel  # noqa: E731
    taken, used, out = {name_of(r) for r in rows}, set(), []
    for item in rows:
        name = name_of(item)
        if name in used:
            p, n = PurePosixPath(name), 2
            while str(p.with_name(f"{p.stem}~{n}{p.suffix}")) in taken:
                n += 1
            name = str(p.with_name(f"{p.stem}~{n}{p.suffix}"))
            taken.add(name)
            item = replace(item, **{"path" if isinstance(item, Skipped) else "rel": name})
        used.add(name)
        out.append(item)
    return out


def _row(path, group, row, audio, cell, labels, rel, split, label_column) -> SourceFile | Skipped:
    from .audio import probe_bytes

    data = cell.get("bytes") if isinstance(cell, dict) else cell if isinstance(cell, bytes) else None
    if not data:
        why = ("empty audio (0 bytes)" if data == b"" else "audio not embedded (only a path)"
               if isinstance(cell, dict) and cell.get("path") else "no audio")
        return Skipped(rel, f"{why} in column {audio}")
    if label_column and not labels:
        return Skipped(rel, f"no label in column {label_column}")
    try:
        info = probe_bytes(data, rel)
        header = (info.frames or 0, info.sample_rate)
    except Exception:  # DecodeError or a decoder's own: the worker's decode gives the reason
        header = (0, 0)
    sha = hashlib.sha256(data).hexdigest()
    return SourceFile(locator(path, group, row, audio), rel, labels[0] if labels else None, tuple(labels[1:]),
                      len(data), 0, sha, header=header, split=split)


def _short(exc: object) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__
