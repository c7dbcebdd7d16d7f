"""The inside-the-root rule: the one check on every path spectroset creates, writes, renames or deletes.

A *root* is a folder the user named: the output folder OUT (``-o``), the staging folder of a URL
output (``output.staging``, or spectroset's folder under the cache), a ``--dry-run`` folder. The
root itself may be a link: the user chose it. Below it spectroset names every path itself
(``train/cat/x.png``, ``.spectroset/lock``, ``.spectroset/publish/kaggle/train.zip``), and such a
path must resolve, links followed, to exactly that name under the resolved root. A symlinked
folder on the way, whether it leads out of the root or to another folder inside it (a user's
folder in OUT), would put bytes, or take them away, where the name does not say: it is refused
before anything is written, with one line naming the link (:class:`~builder.errors.OutsideRootError`).

:func:`owned` raises; :func:`inside` answers None (a removal skips the path with a note). The last
part of a file's path is not followed: writers create it with ``O_NOFOLLOW`` and rename over it,
and a removal unlinks a link itself, never what it points to. ``whole=True`` checks that part
too, for a folder spectroset works in (a publish stage) or a file it opens in place (the lock,
the journal).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..errors import OutsideRootError


def safe_rel(rel) -> bool:
    """Whether ``rel`` is a plain relative POSIX path (no ``..``, no absolute, no empty part)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel or rel.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def _resolved(root, rel: str, whole: bool) -> tuple[Path, Path, bool]:
    """(resolved root, resolved root / rel, whether the part checked resolves to its own name)."""
    base = Path(root).resolve()
    want = base / PurePosixPath(rel)
    check = want if whole else want.parent
    return base, want, check.resolve() == check


def inside(root, rel, *, whole: bool = False) -> Path | None:
    """``root / rel`` (``root`` resolved) if ``rel`` is a plain relative path that resolves to its
    own name there (see the module's docstring); else None."""
    if not safe_rel(rel):
        return None
    try:
        _, want, ok = _resolved(root, rel, whole)
    except (OSError, RuntimeError):  # a link loop, an unreadable folder
        return None
    return want if ok else None


def owned(root, rel, *, whole: bool = False, label: str = "output folder") -> Path:
    """:func:`inside`, or an :class:`OutsideRootError` naming the link that leads elsewhere.
    ``label`` says what ``root`` is to the user ("output folder", "staging folder" …)."""
    if not safe_rel(rel):
        raise OutsideRootError(f"{root}: refusing to write {rel!r}: not a plain path inside the {label}",
                               root=str(root), rel=str(rel))
    try:
        base, want, ok = _resolved(root, rel, whole)
    except (OSError, RuntimeError) as exc:
        detail = getattr(exc, "strerror", None) or exc
        raise OutsideRootError(f"{Path(root) / rel}: cannot resolve it inside the {label} ({detail}); remove the link",
                               root=str(root), rel=rel) from None
    if ok:
        return want
    link = _first_link(base, rel if whole else str(PurePosixPath(rel).parent))
    shown = Path(root) / PurePosixPath(link.relative_to(base)) if link is not None else Path(root) / rel
    try:
        target = link.resolve() if link is not None else None
    except (OSError, RuntimeError):
        target = None
    if target is not None and target != base and base not in target.parents:
        why = f"it resolves outside the {label} {root}"
    else:
        why = f"{rel} would not be where its name says"
    to = target if target is not None else (os.readlink(link) if link is not None else "?")
    raise OutsideRootError(f"{shown} is a link (to {to}): {why}; spectroset writes nothing through it: "
                           "remove the link and rerun", root=str(root), rel=rel, link=str(shown),
                           target=None if target is None else str(target))


def _first_link(base: Path, rel: str) -> Path | None:
    """The first part of ``base / rel`` that is a symlink, or None."""
    path = base
    for part in PurePosixPath(rel).parts:
        path = path / part
        if path.is_symlink():
            return path
        if not path.exists():
            return None
    return None
