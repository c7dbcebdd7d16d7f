"""build.json, the record of a finished build: its shape, its marker, the one reader and the one writer.

Only a record spectroset wrote may decide what a rebuild, a mirror to a URL or a Hub push replaces
or deletes, so every build.json read — ``OUT/build.json`` (:func:`read_build`), the one at a URL
output (``publish/url.py``) and the one in a Hub repo (``publish/hub.py``) — goes through
:func:`parse_record`: the marker ``"spectroset": {"record": 1}`` (or exactly the keys of a record
written before the marker), the shape, and ``files`` naming safe paths with SHA-256 digests.
Anything else is "not ours" (docs/guarantees.md, "Records: what is ours").
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..errors import LayoutError
from .atomic import atomic_write
from .ledger import remove
from .paths import inside, safe_rel
from .stamps import sha256_file
from .state_dir import RECORD, STATE_DIR, earlier_spool

LAYOUTS = ("imagefolder", "parquet", "mirror", "webdataset")
# What every finished build.json holds, with its type: a file missing one is not ours, or not finished.
_SHAPE = {"name": str, "layout": str, "config_hash": str, "config": dict, "sources": int, "windows": int,
          "splits": dict, "counts": dict, "skipped": list, "files": dict}
MARK = {"record": 1}  # build.json's "spectroset" key: spectroset wrote this record (format 1)
# Every key a build.json of a spectroset before the marker holds; one with any other key is not ours.
_UNMARKED = {*_SHAPE, "fingerprint", "versions", "sample_rates", "silent_windows_skipped", "audio_hours",
             "left_alone", "status"}
log = logging.getLogger("spectroset")


def remove_earlier_build(out: Path, rels) -> None:
    """Remove what a build of an earlier spectroset (no ledger) wrote: the files its build.json
    lists whose bytes still match the recorded hash, the record itself, and its spools, named
    from the recordings ``rels`` of its journal as that version named them."""
    try:
        old, why = parse_record((out / RECORD).read_bytes())
    except OSError:
        old, why = None, None
    if why:  # a build.json that is not ours stays, and so does every file it names
        log.warning("note: not removing %s: not a spectroset build record (%s)", out / RECORD, why)

    def same(rel: str) -> bool:
        path = inside(out, rel)
        try:
            return path is not None and path.is_file() and not path.is_symlink() and \
                sha256_file(path) == old["files"][rel]
        except OSError:
            return False

    listed = [RECORD, *(rel for rel in recorded_files(old) if same(rel))] if old is not None else []
    spools = [earlier_spool(rel) for rel in rels if isinstance(rel, str)]
    remove(out, [*listed, *spools])


def to_json(obj) -> bytes:
    """JSON as spectroset writes its records (build.json, stats.json): indented, UTF-8, a final newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


def write_build(out: Path, ledger, record: dict) -> dict:
    """Write ``OUT/build.json`` through the ``ledger`` (the last file of a build), marked as ours;
    the record as written."""
    record = {"spectroset": MARK, **record}  # the marker first (:func:`record_problem`)
    data = to_json(record)
    sha256 = hashlib.sha256(data).hexdigest()
    ledger.intend([RECORD], sha256=sha256)
    atomic_write(out / RECORD, data, root=out)
    ledger.confirm(RECORD, sha256, len(data))
    return record


def read_build(out: Path) -> dict:
    """``OUT/build.json``, checked to be a finished spectroset build record (:func:`record_problem`).

    A :class:`LayoutError` one-liner when ``out`` is not a build, an unfinished one (a state
    folder but no build.json: a build was interrupted), or holds a build.json spectroset did not write.
    """
    path = out / RECORD
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        if (out / STATE_DIR).is_dir():
            raise LayoutError(f"{out}: unfinished: rerun the build (no build.json; a build was interrupted)") from None
        raise LayoutError(f"{out}: not a built dataset (no build.json); run `spectroset build` first") from None
    except OSError as exc:
        raise LayoutError(f"{path}: unreadable ({exc.strerror or exc.__class__.__name__})") from None
    except ValueError as exc:
        raise LayoutError(f"{path}: unreadable: not JSON ({exc.__class__.__name__}); {_then(out)}") from None
    why = record_problem(record)
    if why:
        raise LayoutError(f"{path}: not a spectroset build record ({why}); {_then(out)}")
    if record.get("status", "finished") != "finished":
        raise LayoutError(f"{out}: unfinished: rerun the build (build.json says {record['status']!r})")
    return record


def _then(out: Path) -> str:
    """What to do about a build.json that is not ours: without its state a build refuses the
    folder, so say what is true."""
    if (out / STATE_DIR).is_dir():
        return "rerun the build to replace it (move it away first if spectroset did not write it)"
    return f"no {STATE_DIR} state beside it: not a folder `spectroset build` wrote or can rebuild; build into a new folder"


def parse_record(data: bytes) -> tuple[dict | None, str | None]:
    """The one reader of a build.json's bytes, local, at a URL or on the Hub: ``(record, None)``
    when spectroset wrote it, else ``(None, why not)`` (:func:`record_problem`)."""
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError is one
        return None, f"unreadable JSON: {exc.__class__.__name__}"
    why = record_problem(record)
    return (None, why) if why else (record, None)


def record_problem(record) -> str | None:
    """Why a parsed build.json is not one spectroset wrote, or None when it is. Ours is an object
    with the marker ``"spectroset": {"record": 1}`` (or, written before the marker, exactly the keys
    of :data:`_UNMARKED` and a 16-digit ``config_hash``), every key of :data:`_SHAPE` with its type,
    a known layout, and ``files`` mapping safe relative paths (never build.json) to SHA-256 digests."""
    if not isinstance(record, dict):
        return "expected a JSON object"
    if "spectroset" in record and record["spectroset"] != MARK:
        return f"marker {record['spectroset']!r}, not {MARK!r}"
    extra = sorted(set(record) - _UNMARKED) if "spectroset" not in record else []
    wrong = [key for key, kind in _SHAPE.items() if not isinstance(record.get(key), kind)
             or (kind is int and isinstance(record.get(key), bool))]
    if extra or wrong:
        return f"unknown key {extra[0]!r}" if extra else f"no valid {', '.join(wrong[:3])}"
    if record["layout"] not in LAYOUTS:
        return f"unknown layout {record['layout']!r}"
    if "spectroset" not in record and not _is_hex(record["config_hash"], 16):
        return "no valid config_hash"
    bad = [rel for rel, sha in record["files"].items() if not safe_rel(rel) or rel == RECORD or not _is_hex(sha)]
    if bad:
        return f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} that spectroset never writes, e.g. {bad[0]!r}"
    return None


def _is_hex(value, digits: int = 64) -> bool:
    return isinstance(value, str) and len(value) == digits and all(c in "0123456789abcdef" for c in value)


def recorded_files(record: dict | None) -> list[str]:
    """The safe paths a (possibly tampered, possibly remote) build record lists."""
    files = (record or {}).get("files") if isinstance(record, dict) else None
    return sorted(rel for rel in files if safe_rel(rel)) if isinstance(files, dict) else []
