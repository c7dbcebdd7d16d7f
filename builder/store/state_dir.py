"""Every name spectroset gives a file of its own bookkeeping: the one owner of ``.spectroset/``.

An output folder (or a URL output's staging folder) holds::

    OUT/
    ├── build.json                  RECORD: the record of a finished build (``record.py`` reads it)
    ├── <data files>                the layout's images, metadata, shards, card …
    ├── .<name>.spectroset.tmp      temp_name(): a file being written, renamed over <name> when whole
    └── .spectroset/                STATE_DIR: private state, never published
        ├── lock                    LOCK: the build's ``flock`` (``state.OutputLock``)
        ├── journal.sqlite          JOURNAL: finished recordings and the ledger (``state.Journal``)
        ├── token                   TOKEN: this build's token, read by every worker
        ├── intent/<hash>.txt       intent_log(rel): the images a worker is about to write
        ├── spool/<hash>.bin        spool_rel(rel): a parquet build's window bytes of one recording
        ├── spool/<hash>.pkl        earlier_spool(rel): the same, of a spectroset before the ledger
        ├── remote.json             REMOTE_NOTE: what a URL output is about to upload or delete
        └── publish/<name>/         publish_dir(name): a push's staging folder (Kaggle zips …)

``<hash>`` is :func:`short_hash` of the recording's path under ``source.path``. A URL output
holds the build's files and ``build.json`` as OUT does, and ``.spectroset-lease.json`` (LEASE:
who mirrors to it, until when; ``publish/url.py``). Nothing else in spectroset spells one of these
names: modules import them from here.
"""

from __future__ import annotations

import hashlib

RECORD = "build.json"
STATE_DIR = ".spectroset"
LOCK = f"{STATE_DIR}/lock"
JOURNAL = f"{STATE_DIR}/journal.sqlite"
TOKEN = f"{STATE_DIR}/token"
INTENT_DIR = f"{STATE_DIR}/intent"
SPOOL_DIR = f"{STATE_DIR}/spool"
REMOTE_NOTE = f"{STATE_DIR}/remote.json"
PUBLISH_DIR = f"{STATE_DIR}/publish"
TEMP_SUFFIX = ".spectroset.tmp"
LEASE = ".spectroset-lease.json"  # at a URL output's root


def short_hash(text: str, n: int) -> str:
    """The first ``n`` hex digits of the SHA-256 of ``text`` (any ``str``, lone surrogates too)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def private(rel: str) -> bool:
    """Whether ``rel`` (relative to OUT) is in the private state."""
    return rel == STATE_DIR or rel.startswith(STATE_DIR + "/")


def temp_name(path):
    """The one temp name :func:`atomic.atomic_write` uses for ``path``: hidden, in the same folder.
    A ``str`` path (the image writer's, which skips pathlib per image) gives a ``str``."""
    if isinstance(path, str):
        head, sep, name = path.rpartition("/")
        return f"{head}{sep}.{name}{TEMP_SUFFIX}"
    return path.with_name(f".{path.name}{TEMP_SUFFIX}")


def is_temp(name: str) -> bool:
    """Whether a file name is one :func:`temp_name` gives."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def intent_log(rel: str) -> str:
    return f"{INTENT_DIR}/{short_hash(rel, 24)}.txt"


def spool_rel(rel: str) -> str:
    return f"{SPOOL_DIR}/{short_hash(rel, 24)}.bin"


def earlier_spool(rel: str) -> str:
    return f"{SPOOL_DIR}/{short_hash(rel, 24)}.pkl"


def publish_dir(name: str) -> str:
    return f"{PUBLISH_DIR}/{name}"
