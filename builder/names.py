"""Safe, unique, stable output names from untrusted labels and file names.

Original names stay in the metadata; only path components are sanitised here. A component never
contains a separator, NUL, control characters or a leading dot, never is ``..``, fits common
file-system limits, and stays unique among its siblings even on case-insensitive or
normalising file systems (names are compared casefolded and NFC-normalised).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from typing import Iterable

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
MAX_BYTES = 120  # leaves room for "_<end>.png" and temp suffixes under the usual 255-byte limit


def short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def safe_component(name: str) -> str:
    """A single path component derived from ``name`` that is safe on any common file system."""
    text = unicodedata.normalize("NFC", name)
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _UNSAFE.sub("_", text).strip().lstrip(".").rstrip(". ")
    if not text:
        text = "_"
    if len(text.encode("utf-8")) > MAX_BYTES:
        cut = text.encode("utf-8")[: MAX_BYTES - 9].decode("utf-8", "ignore")
        text = f"{cut}-{short_hash(name)}"
    return text


def fold(name: str) -> str:
    """The key two names collide on: case- and normalisation-insensitive."""
    return unicodedata.normalize("NFC", name).casefold()


def unique_components(names: Iterable[str]) -> dict[str, str]:
    """Map each distinct original name to a safe component, unique after folding.

    A name keeps its plain safe form when no other name folds to the same one; otherwise every
    colliding name gets a hash of its original text, so the result does not depend on order.
    """
    names = sorted(set(names))
    groups: dict[str, list[str]] = defaultdict(list)
    for n in names:
        groups[fold(safe_component(n))].append(n)
    out = {}
    for members in groups.values():
        for n in members:
            base = safe_component(n)
            out[n] = base if len(members) == 1 else f"{base}-{short_hash(n)}"
    return out


def unique_stems(rels: Iterable[str]) -> dict[str, str]:
    """Map source paths (relative, POSIX) that share an output folder to distinct safe stems.

    ``a/laser1.wav`` and ``b/laser1.ogg`` → ``laser1-wav`` and ``laser1-ogg``; a stem alone is
    used when it is unique; a hash is added when even stem + extension collide.
    """
    rels = sorted(set(rels))

    def stem_ext(rel: str) -> tuple[str, str]:
        name = rel.rsplit("/", 1)[-1]
        stem, dot, ext = name.rpartition(".")
        return (stem, ext) if dot and stem else (name, "")

    by_stem: dict[str, list[str]] = defaultdict(list)
    for r in rels:
        by_stem[fold(safe_component(stem_ext(r)[0]))].append(r)
    out: dict[str, str] = {}
    for members in by_stem.values():
        if len(members) == 1:
            out[members[0]] = safe_component(stem_ext(members[0])[0])
            continue
        by_ext: dict[str, list[str]] = defaultdict(list)
        for r in members:
            stem, ext = stem_ext(r)
            by_ext[fold(safe_component(f"{stem}-{ext}"))].append(r)
        for group in by_ext.values():
            for r in group:
                stem, ext = stem_ext(r)
                name = safe_component(f"{stem}-{ext}")
                out[r] = name if len(group) == 1 else f"{name}-{short_hash(r)}"
    return out


def end_tag(end: float) -> str:
    """Window end in seconds as used in file names: 5 → '5', 7.5 → '7.5'."""
    return f"{round(end, 3):g}"
