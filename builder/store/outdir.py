"""What an output folder that already exists is to a build, decided before anything in it changes.

A folder of another config is refused (or, with ``--force``, replaced); one whose images came from
another PNG encoder is rebuilt whole; a source and an output folder inside each other are refused;
a finished build whose :func:`fingerprint` (config, recordings, labels, skips, version) matches is
up to date. Pure reads of OUT's record and journal: the pipeline acts on the answers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config.sections import Config, public_dict
from ..errors import BuildError, SpectrosetError
from .record import read_build
from ..dsp.render import ENCODER
from .state import Journal
from .state_dir import STATE_DIR


def fingerprint(cfg: Config, sources, skipped) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("spectroset")
    except PackageNotFoundError:
        ours = "dev"
    h = hashlib.sha256(f"{ours}\n{cfg.hash()}\n".encode())
    for s in sources:
        h.update(f"{s.rel}\t{s.fingerprint}\t{s.label}\t{'|'.join(s.extra_labels)}\n".encode("utf-8", "surrogatepass"))
        if s.columns:  # kept CSV columns: an edited author or licence cell rewrites the metadata
            h.update(json.dumps(s.columns).encode("utf-8", "surrogatepass"))
    for s in skipped:
        h.update(f"skip\t{s.path}\t{s.reason}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def read_record(out: Path) -> dict | None:
    """The finished build record of ``out``, or None (see :func:`record.read_build`)."""
    try:
        return read_build(out)
    except SpectrosetError:
        return None


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _changed_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            keys.append(prefix + k)
    return keys


def config_changed(out: Path, cfg: Config, journal: Journal, force: bool) -> bool:
    """Whether OUT holds a build of another config; refused (before anything changes) unless ``force``."""
    old_hash = journal.get_meta("config_hash")
    changed = bool(old_hash) and old_hash != cfg.hash()
    if changed and not force:
        keys = [k for k in _changed_keys(journal.get_meta("config") or {}, public_dict(cfg))
                if not k.startswith(("output.path", "output.staging", "publish."))]
        raise BuildError(
            f"{out} holds a build made with a different config (changed: {', '.join(keys[:6]) or 'unknown'}); "
            "rerun with --force to replace it, or build elsewhere with -o"
        )
    return changed


def encoder_changed(journal: Journal) -> bool:
    """Whether OUT's images came from another PNG encoder (an older spectroset): same pixels,
    other bytes, so they are all rebuilt rather than mixed with new ones."""
    return journal.get_meta("config_hash") is not None and journal.get_meta("encoder") != ENCODER


def check_nesting(source, out: Path, shown: str | None = None, key: str = "source.path") -> None:
    """Refuse an output folder inside the source folder or the other way round: a build would
    read what it writes, and replacing it (``--force``) could only ever be unsafe. ``source``
    is a local folder (a URL source cannot nest: the caller skips the check); ``shown`` names
    ``out`` in the message (the ``file://`` URL a local path came from); ``key``, the config key
    that named ``source`` (``source.dataset`` for a local dataset folder)."""
    src, dst, shown = Path(source).resolve(), out.resolve(), shown or out
    if src == dst or dst in src.parents:
        raise BuildError(f"{key} {source} is inside the output folder {shown}; choose another -o")
    if src in dst.parents:
        raise BuildError(f"output folder {shown} is inside {key} {source}; choose a folder outside it with -o")


# Files a version-control checkout or a desktop puts in any folder: an OUT holding only these is
# empty to a first build, and they are left where they are, as every file spectroset did not write.
PLACEHOLDERS = frozenset({".gitkeep", ".keep", ".DS_Store", "Thumbs.db", "desktop.ini"})


def check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BuildError(f"output.path: {out} exists and is not a folder")
    try:
        foreign = (out.is_dir() and any(not (p.name in PLACEHOLDERS and p.is_file() and not p.is_symlink())
                                        for p in out.iterdir())
                   and not (out / STATE_DIR).is_dir())
    except OSError as exc:
        raise BuildError(f"output.path: cannot read {out}: {exc.strerror or exc}") from None
    if foreign:
        raise BuildError(f"output.path: {out} is not empty and was not built by spectroset; choose a new folder with -o")
