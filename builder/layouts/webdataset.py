"""webdataset layout: every split as ``OUT/data/{split}-{i:05d}-of-{n:05d}.tar`` shards.

Each window is a *sample*: ``KEY.png`` (the same bytes as the imagefolder layout's image), ``KEY.json``
(the row's columns: the label's name, ``labels``' names, ``source``, ``start``/``end``, ``fold``, the
kept CSV columns: the parquet layout's row without its bytes, :meth:`ParquetLayout.example`), and with
``include.arrays`` / ``include.audio`` ``KEY.npy`` (float16, ``numpy.save`` format) / ``KEY.flac``.
``KEY`` is the image's path below its split folder without ``.png``, with the end's dot as ``p`` and
any other dot as ``%2E`` (``%`` as ``%25``): the ``webdataset`` library and ``datasets`` cut a member's
name at the first dot of its file name, so a key must have none (``dog/rec01_7p5``). A part of the key
that starts with ``__`` gets its first ``_`` as ``%5F``: ``datasets`` skips a member whose file name
starts with ``__`` or ``.`` as hidden, and ``webdataset`` reads ``__…__`` names as its own metadata.

Like parquet, workers spool each recording's bytes and the shards are written at the end from the
spools, in canonical order, by workers (:func:`write_tar`); the shard plan is the parquet layout's
(:func:`~builder.layouts.parquet.assign_shards`, each sample counted with its tar headers). Members
have fixed headers (PAX format, mtime 0, uid/gid 0, no user or group name, mode 0644), so a shard's
bytes depend only on its samples. A rebuild writes only the shards whose samples changed: the
journal remembers a digest of what each shard holds (its samples' JSON and their recordings' spool
hashes) and the SHA-256 it was written with, and a shard whose digest and file are unchanged stays.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import tarfile
from pathlib import Path

from ..store.atomic import AtomicFile, disk_error
from ..store.stamps import sha256_file
from .parquet import ParquetLayout, ShardJob
from .units import SpoolReader, check_visible

BLOCK = 512  # a tar header, and the unit a member's data is padded to
JSON_ESTIMATE = 1024  # a sample's KEY.json with its header, for the shard plan (its exact size comes later)
log = logging.getLogger("spectroset")
SHARDS_META = "webdataset_shards"  # journal meta: shard → [digest of its samples, sha256 written]


def sample_key(image_rel: str) -> str:
    """A window's key from its image path ``<split>/<folders>/<stem>_<end>.png``: no dot anywhere."""
    parts = image_rel[: -len(".png")].split("/")[1:]
    stem, _, end = parts[-1].rpartition("_")
    parts[-1] = f"{_escape(stem)}_{end.replace('.', 'p')}"
    return "/".join(_unhide(part) for part in [*map(_escape, parts[:-1]), parts[-1]])


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(".", "%2E")


def _unhide(part: str) -> str:
    """``part`` with a leading ``__`` as ``%5F_`` (a leading dot is already ``%2E``): the readers
    skip such names (``datasets``' ``_iter_tar``: a basename starting with ``.`` or ``__``)."""
    return "%5F" + part[1:] if part.startswith("__") else part


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def npy_bytes(array) -> bytes:
    """An array as a ``.npy`` file (format 1.0, no pickle): what ``datasets`` and ``webdataset`` decode."""
    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_tar(job: ShardJob) -> tuple[str, str]:
    """Write one tar shard from the spools (in a worker) under its temp name; ``(rel, sha256)`` back to
    the driver, which records the hash and renames it into place. Python's ``tarfile``: the stdlib
    writes fixed headers from a ``TarInfo``, nothing else is needed."""
    out = Path(job.out)
    check_visible(job.out, job.token)
    f = AtomicFile(out / job.rel, root=out)
    try:
        with SpoolReader(out) as spools, tarfile.open(fileobj=f.fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for sample, (spool, offset) in zip(job.rows, job.spooled):
                png, array, audio = spools.read(spool, offset)
                key = sample["key"]
                _member(tar, f"{key}.png", png)
                _member(tar, f"{key}.json", sample["json"].encode("utf-8"))
                if array is not None:
                    _member(tar, f"{key}.npy", npy_bytes(array))
                if audio is not None:
                    _member(tar, f"{key}.flac", audio)
        f.finish()
        return job.rel, sha256_file(f.tmp)
    except OSError as exc:
        f.abort()
        raise disk_error(exc, f.path) from None
    except Exception:
        f.abort()
        raise


class WebDatasetLayout(ParquetLayout):
    name = "webdataset"
    writer = staticmethod(write_tar)

    def __init__(self, cfg, out, plan, token: str = ""):
        super().__init__(cfg, out, plan, token)
        if cfg.output.include.audio and importlib.util.find_spec("torchcodec") is None:
            log.warning("note: datasets needs torchcodec to load tar shards with audio clips (output.include.audio: "
                        "its Audio feature re-encodes each KEY.flac); the webdataset library reads them as they are")
        self._before: dict[str, list[str]] | None = None  # the journal's shard digests, read once
        self._rows: dict = {}  # the ledger's rows at the start of the shards: path → (unit, sha256)
        self._now: dict[str, list[str]] = {}  # this build's shards → [digest, sha256 once written]

    SPLIT_GLOB = "data/{split}-*.tar"

    def shard_name(self, split: str, i: int, n: int) -> str:
        return f"data/{split}-{i:05d}-of-{n:05d}.tar"

    def shard_features(self):
        return None

    def row_size(self, rec, row) -> int:
        """A sample's bytes in its tar: a header per member, the data padded to blocks, its JSON."""
        include = self.cfg.output.include
        members = 1 + include.arrays + include.audio
        return row.size + (BLOCK + BLOCK // 2) * members + 128 * include.arrays + JSON_ESTIMATE

    def shard_row(self, rec, row, label_ids: dict[str, int], split: str) -> dict:
        """``{"key", "json"}`` of one sample: the parquet row's columns, label ids as names."""
        meta = self.example(rec, row, label_ids, split)
        for column in ("image", "spectrogram", "audio"):
            meta.pop(column, None)
        names = self.plan.label_names
        if "label" in meta:
            meta["label"] = None if meta["label"] is None else names[meta["label"]]
        if "labels" in meta:
            meta["labels"] = [names[i] for i in meta["labels"]]
        key = sample_key(self.plan.place(rec.rel, row.index, row.end)[1])
        return {"key": key, "json": json.dumps(meta, ensure_ascii=False, separators=(",", ":"))}

    # -- shards a rebuild keeps -------------------------------------------------------------------
    def reused(self, job: ShardJob) -> bool:
        """Whether the shard on disk holds exactly ``job``'s samples: the same digest (their JSON, and
        the SHA-256 of each recording's spool their bytes come from) as when it was written, and the
        bytes it was written with (its ledger row, checked against the file)."""
        if self.ledger is None:
            return False
        if self._before is None:
            found = self.ledger.journal.get_meta(SHARDS_META)  # JSON of our own; anything else: none kept
            self._before = {rel: v for rel, v in found.items() if isinstance(v, list) and len(v) == 2} \
                if isinstance(found, dict) else {}
            self._rows = self.ledger.rows()
        spooled = [(spool, self._rows.get(spool, (None, None))[1], offset) for spool, offset in job.spooled]
        digest = hashlib.sha256(json.dumps([job.rel, job.rows, spooled]).encode()).hexdigest()
        self._now[job.rel] = [digest]
        before, row = self._before.get(job.rel), self._rows.get(job.rel)
        if not (before and row and before[0] == digest and row[1] == before[1] and (self.out / job.rel).is_file()
                and not self.ledger.changed(job.rel)):
            return False
        self._now[job.rel].append(before[1])
        self.files[job.rel], self._sizes = before[1], None
        return True

    def place(self, rel: str, sha256: str) -> None:
        super().place(rel, sha256)
        if rel in self._now:
            self._now[rel][1:] = [sha256]

    def written(self) -> None:
        if self.ledger is not None:
            self.ledger.journal.set_meta(SHARDS_META, {rel: v for rel, v in self._now.items() if len(v) == 2})
