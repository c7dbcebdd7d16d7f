"""Safe, unique, stable output names from untrusted labels and file names.

Original names stay in the metadata; only path components are sanitised here. A component never
contains a separator, NUL, control or invisible characters or a leading dot, never is ``..``, fits
common file-system limits, and stays unique among its siblings even on case-insensitive or
normalising file systems (names are compared casefolded and NFC-normalised).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from typing import Iterable

from ..store.state_dir import short_hash

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
# Invisible or line-breaking characters (bidi overrides, zero-width, separators) that make a path
# display as something it is not; replaced like the ASCII controls above.
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
MAX_BYTES = 120  # leaves room for "_<end>.png" and temp suffixes under the usual 255-byte limit
HASH = 8  # hex digits of the disambiguating hash


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 window``, ``2 windows``, ``1 class``/``3 classes`` (``many`` where adding ``s`` is wrong):
    a count with its noun in the right number, for the CLI, the card and the report."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def _fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def safe_component(name: str) -> str:
    """A single path component derived from ``name`` that is safe on any common file system.

    At most :data:`MAX_BYTES` UTF-8 bytes, NFC, never empty, ``.``/``..`` or hidden; idempotent.
    """
    text = unicodedata.normalize("NFC", name)
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join("_" if unicodedata.category(c) in _INVISIBLE else c for c in _UNSAFE.sub("_", text))
    text = text.strip().lstrip(".").rstrip(". ")
    if not text:
        text = "_"
    if len(text.encode("utf-8")) > MAX_BYTES:
        text = with_hash(text, name)
    return text


def with_hash(base: str, key: str, n: int = HASH) -> str:
    """``base-<hash of key>``, ``base`` shortened so the result still fits :data:`MAX_BYTES`."""
    return f"{_fit(base, MAX_BYTES - n - 1)}-{short_hash(key, n)}"


def fold(name: str) -> str:
    """The key two names collide on: case- and normalisation-insensitive."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _resolve(names: dict[str, str], bases: dict[str, str]) -> dict[str, str]:
    """Make ``names`` (key → name) unique after folding, whatever the keys look like.

    The first pass of a caller adds hashes only where it expects clashes; a name of that shape may
    still clash with a real name (``a.wav`` + ``a.flac`` → ``a-wav``, beside a file ``a-wav.ogg``).
    Every member of a clashing group then gets a longer hash of its key; membership depends only on
    the set of keys, so the result never depends on order.
    """
    out = dict(names)
    for n in range(HASH + 4, 65, 4):
        groups: dict[str, list[str]] = defaultdict(list)
        for key, name in out.items():
            groups[fold(name)].append(key)
        clashing = [k for members in groups.values() if len(members) > 1 for k in members]
        if not clashing:
            return out
        for k in clashing:
            out[k] = with_hash(bases[k], k, n)
    raise AssertionError("sha256 prefixes of distinct keys collided")  # pragma: no cover


def unique_components(names: Iterable[str]) -> dict[str, str]:
    """Map each distinct original name to a safe component, unique after folding.

    A name keeps its plain safe form when no other name folds to the same one; otherwise every
    colliding name gets a hash of its original text, so the result does not depend on order.
    """
    names = sorted(set(names))
    base = {n: safe_component(n) for n in names}
    groups: dict[str, list[str]] = defaultdict(list)
    for n in names:
        groups[fold(base[n])].append(n)
    out = {}
    for members in groups.values():
        for n in members:
            out[n] = base[n] if len(members) == 1 else with_hash(base[n], n)
    return _resolve(out, base)


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
    bases: dict[str, str] = {}
    for members in by_stem.values():
        if len(members) == 1:
            out[members[0]] = bases[members[0]] = safe_component(stem_ext(members[0])[0])
            continue
        by_ext: dict[str, list[str]] = defaultdict(list)
        for r in members:
            stem, ext = stem_ext(r)
            by_ext[fold(safe_component(f"{stem}-{ext}"))].append(r)
        for group in by_ext.values():
            for r in group:
                stem, ext = stem_ext(r)
                bases[r] = name = safe_component(f"{stem}-{ext}")
                out[r] = name if len(group) == 1 else with_hash(name, r)
    return _resolve(out, bases)


def end_tag(end: float) -> str:
    """Window end in seconds as used in file names, exact to the microsecond (``Window.end``'s
    precision): 5 → '5', 7.5 → '7.5', 5.0005 → '5.0005'. Ends of one recording's windows are at
    least one sample apart, so at rates up to 1 MHz (``audio.sample_rate`` allows 768 kHz) no two
    windows share a name."""
    return f"{round(end, 6):.6f}".rstrip("0").rstrip(".")


def label_order(names: Iterable[str]) -> list[str]:
    """The class names in ``ClassLabel`` order (an id is a place in this list): sorted, and by
    number when every name is an integer (an integer label column: ``0, 10, 20, 100``, never
    ``0, 10, 100, 20``, so ids keep the values' order; ``0 … n-1`` keep their own values)."""
    found = sorted(set(names))
    if found and all(re.fullmatch(r"-?[0-9]+", n) for n in found):
        found.sort(key=int)  # stable: "07" and "7" keep their string order
    return found
