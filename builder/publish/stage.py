"""What goes up: the files of a built dataset, as folders that a publisher uploads whole.

What is published is exactly what ``build.json`` lists (:func:`published_files`), each file's
hash checked first; a folder that is not a finished build is refused by :func:`read_build`.
A built dataset ``OUT`` holds the card (``README.md``), the data (``<split>/…`` image folders,
``data/*.parquet``, or the mirror layout's source folders), extras (``stats.json``,
``preview.png``), ``build.json`` (the build record the card points to) and the private
``.spectroset/`` state, which is never published. The Hub gets everything else as it is
(:func:`stage_hub`). Kaggle gets a flat folder (:func:`plan_kaggle`, :func:`stage_kaggle`): each
image folder as a zip that Kaggle unpacks, next to a top-level copy of its metadata (CSV, or
parquet when it carries arrays or audio) with paths from the dataset root; parquet and tar shards
as files; and a ``dataset-metadata.json`` whose ``resources`` give every CSV and parquet file its
column schema (``kaggle_schema.py``).

Staging is deterministic (sorted entries, fixed zip timestamps), and :func:`sync_tree` only
rewrites files whose bytes changed, so a rerun presents the same files with the same mtimes and
the Kaggle client can resume uploads it started before.
"""

from __future__ import annotations

import contextlib
import csv
import filecmp
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..store.atomic import atomic_write, disk_errors
from ..errors import BuildError, LayoutError, LockedError, OutsideRootError, PublishError
from ..store.ledger import foreign_files
from ..store.paths import inside, owned
from ..store.stamps import sha256_file
from ..store.state_dir import RECORD, STATE_DIR, publish_dir
from ..plan.names import plural
from ..store.record import read_build  # noqa: F401  (read_build: the one reader)
from .kaggle_schema import NOTES, csv_fields, parquet_fields

STORED = (".png", ".jpg", ".jpeg", ".webp", ".parquet", ".zip", ".npy", ".npz", ".flac", ".ogg", ".mp3")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
METADATA = "dataset-metadata.json"
COVER = "dataset-cover-image.png"  # the name the kaggle client takes as the dataset's cover image
def published_files(out: Path, build: dict | None = None) -> list[str]:
    """Exactly the files ``build`` (``OUT/build.json``, from :func:`read_build`) lists, plus
    build.json itself, after checking each one's SHA-256: sorted POSIX paths.

    A missing, changed or symlinked file, or one outside ``out``, is a :class:`LayoutError` naming
    the paths to fix. Files the build does not list (the user's) are never published.
    """
    build = read_build(out) if build is None else build
    problems = []
    for rel, digest in sorted(build["files"].items()):
        path = inside(out, rel)
        if path is None or path.is_symlink():
            problems.append(f"{rel} (outside the folder)")
        elif not path.is_file():
            problems.append(f"{rel} (missing)")
        elif sha256_file(path) != digest:
            problems.append(f"{rel} (changed since the build)")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; … {len(problems) - 5} more" if len(problems) > 5 else "")
        raise LayoutError(f"{out}: {len(problems)} built file(s) do not match build.json: {shown}; "
                          "rerun the build with --repair to restore them")
    if "README.md" not in build["files"]:
        raise LayoutError(f"{out}: no README.md dataset card in build.json; rerun the build")
    return sorted([*build["files"], RECORD])


def left_alone(out: Path, build: dict) -> list[str]:
    """Files in ``out`` that the build does not list: the user's, never published."""
    return foreign_files(out, [*build["files"], RECORD])


@contextlib.contextmanager
def build_lock(out: Path):
    """Hold the engine's output lock while publishing: no build can change files mid-upload, and
    a folder that is being built is refused (:class:`LockedError`)."""
    from ..store.state import OutputLock

    lock = None
    if (out / STATE_DIR).is_dir():  # a copied dataset has no state folder: nothing builds into it
        try:
            lock = OutputLock(out).__enter__()
        except (LockedError, OutsideRootError):
            raise
        except BuildError:  # a read-only state folder: nothing can build there either
            lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


def split_card(text: str) -> tuple[dict, str]:
    """A dataset card → (YAML front matter, markdown body)."""
    if text.startswith("---"):
        head, sep, body = text[3:].partition("\n---")
        if sep:
            meta = yaml.safe_load(head) or {}
            return (meta if isinstance(meta, dict) else {}), body.partition("\n")[2].strip() + "\n"
    return {}, text


# --------------------------------------------------------------------------- folders


def stage_dir(out: Path, name: str) -> Path:
    """``OUT/.spectroset/publish/<name>``, once :func:`paths.owned` finds no link on the way (one
    to a user's folder would have the stage emptied into it and uploaded)."""
    return owned(out, publish_dir(name), whole=True)


def work_dir(out: Path, name: str) -> Path:
    """A persistent staging folder for a real push: :func:`stage_dir`, created."""
    path = stage_dir(out, name)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:  # read-only output: stage elsewhere (resuming across runs is then lost)
        return Path(tempfile.mkdtemp(prefix=f"spectroset-{name}-"))


def sync_tree(src: Path, dest: Path) -> None:
    """Make ``dest`` hold exactly ``src``'s files, keeping those whose bytes are unchanged (and so
    their mtimes). ``src`` is consumed. Every path in ``dest`` is checked (:func:`paths.owned`)
    before the first change: a link in it is refused, never followed or uploaded."""
    with disk_errors(dest):
        dest.mkdir(parents=True, exist_ok=True)
        wanted = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()}
        there = sorted((Path(folder) / name).relative_to(dest).as_posix()
                       for folder, dirs, names in os.walk(dest) for name in dirs + names)
        for rel in there:
            owned(dest, rel, whole=True, label="publish stage")
        for rel in sorted(there, reverse=True):
            old = dest / rel
            if old.is_file() and rel not in wanted:
                old.unlink()
            elif old.is_dir() and not any(old.iterdir()):
                old.rmdir()
        for rel in sorted(wanted):
            new, old = src / rel, owned(dest, rel, label="publish stage")
            if old.is_file() and filecmp.cmp(new, old, shallow=False):
                continue
            old.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, old)
    shutil.rmtree(src, ignore_errors=True)


def stage_hub(out: Path, dest: Path, files: list[str], link: bool = True) -> None:
    """The Hub upload folder: the published files at their own paths, hard-linked when ``link``
    (a push's private work folder) and copied otherwise (a user's dry-run folder)."""
    if dest.exists():
        shutil.rmtree(dest)  # ours (a checked work folder, or a fresh dry-run one): its links go, not their targets
    for rel in files:
        src, dst = out / rel, owned(dest, rel, label="publish stage")
        with disk_errors(dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst) if link else shutil.copy2(src, dst)
            except OSError:  # another file system, or no hard links there
                shutil.copy2(src, dst)


def replace_texts(dest: Path, texts: dict[str, str]) -> None:
    """Write ``texts`` (rel → text: the card and croissant.json with the real repo id) over staged
    files; a hard-linked one is unlinked first so that the built file itself stays as it was."""
    for rel, text in texts.items():
        atomic_write(dest / rel, text.encode("utf-8"), root=dest)  # a rename: a hard link's file stays


# --------------------------------------------------------------------------- Kaggle


@dataclass(frozen=True)
class KaggleItem:
    """One top-level entry of the Kaggle upload folder."""

    name: str
    kind: str  # "file": copied; "zip": a folder archived; "metadata": a split's metadata, paths rebased;
    #            "card"/"croissant": rewritten for Kaggle (``text``, see :func:`for_kaggle`)
    source: Path
    description: str
    text: str | None = None  # the bytes to stage instead of ``source``'s
    members: tuple[str, ...] = ()  # a zip's files, relative to ``source``: only what build.json lists


def plan_kaggle(out: Path, files: list[str]) -> list[KaggleItem]:
    """Map the published files onto a flat Kaggle folder (Kaggle uploads top-level entries only)."""
    items: dict[str, KaggleItem] = {}

    def add(item: KaggleItem) -> None:
        if item.name in items or item.name == METADATA:
            raise PublishError(f"{out}: two files would both go to Kaggle as {item.name}")
        items[item.name] = item

    top_dirs = sorted({f.split("/")[0] for f in files if "/" in f})
    for rel in (f for f in files if "/" not in f):
        kind = {"README.md": "card", "croissant.json": "croissant"}.get(rel, "file")
        add(KaggleItem(rel, kind, out / rel, NOTES.get(rel, rel)))
    if "preview.png" in files:  # the kaggle client sets a file of this name as the cover, not as data
        add(KaggleItem(COVER, "file", out / "preview.png", "Cover image: a few spectrograms per label"))
    for d in top_dirs:
        inside = [f for f in files if f.startswith(d + "/")]
        if all(f.endswith((".parquet", ".tar")) and f.count("/") == 1 for f in inside):
            for rel in inside:
                name = rel.split("/", 1)[1]
                split = name.split("-", 1)[0]
                add(KaggleItem(name, "file", out / rel, f"{split} split, parquet shard (image bytes and labels)"
                               if name.endswith(".parquet") else f"{split} split, WebDataset tar shard (KEY.png, KEY.json)"))
            continue
        members = tuple(f.split("/", 1)[1] for f in inside)
        count = plural(sum(f.endswith(".png") for f in inside), "spectrogram image")
        meta = next((f"{d}/{m}" for m in ("metadata.csv", "metadata.parquet") if f"{d}/{m}" in inside), None)
        if meta:
            add(KaggleItem(f"{d}.zip", "zip", out / d, f"{d} split: {count} in one folder per "
                           f"label, with its {meta.split('/')[1]} (Kaggle unpacks the archive to {d}/)", members=members))
            add(KaggleItem(f"{d}.{meta.rsplit('.', 1)[1]}", "metadata", out / meta,
                           f"{d} split: one row per image; file_name is relative to the dataset root"))
        else:
            add(KaggleItem(f"{d}.zip", "zip", out / d,
                           f"{count} from {d}/ (Kaggle unpacks the archive to {d}/)", members=members))
    return [items[k] for k in sorted(items)]


def write_zip(folder: Path, dest: Path, members=None) -> None:
    """Zip ``members`` of ``folder`` (paths relative to it; default: all its files) with fixed
    timestamps: same input, same bytes."""
    if members is None:
        members = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    with zipfile.ZipFile(dest, "w") as zf:
        for rel in sorted(members):
            path = folder / rel
            info = zipfile.ZipInfo(rel, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if path.suffix.lower() in STORED else zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _rebased_csv(src: Path, dest: Path, prefix: str) -> None:
    with open(src, newline="", encoding="utf-8") as f, open(dest, "w", newline="", encoding="utf-8") as g:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(g, fieldnames=reader.fieldnames or [], lineterminator="\n")
        writer.writeheader()
        for row in reader:
            row["file_name"] = f"{prefix}/{row['file_name']}"
            writer.writerow(row)


def _rebased_parquet(src: Path, dest: Path, prefix: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    names = [f"{prefix}/{name}" for name in table.column("file_name").to_pylist()]
    table = table.set_column(table.schema.get_field_index("file_name"), "file_name", pa.array(names, pa.string()))
    pq.write_table(table, dest)


def stage_kaggle(items: list[KaggleItem], metadata: dict, dest: Path) -> None:
    """Write the Kaggle upload folder into ``dest`` (created): items plus ``dataset-metadata.json``."""
    with disk_errors(dest):
        dest.mkdir(parents=True, exist_ok=True)
    resources = []
    for item in items:
        target = owned(dest, item.name, label="publish stage")
        with disk_errors(target):  # a full disk while staging: one line, nothing uploaded
            if item.text is not None:
                atomic_write(target, item.text.encode("utf-8"))
            elif item.kind == "zip":
                write_zip(item.source, target, item.members or None)
            elif item.kind == "metadata":
                rebase = _rebased_csv if item.source.suffix == ".csv" else _rebased_parquet
                rebase(item.source, target, item.name.rsplit(".", 1)[0])
            else:
                shutil.copyfile(item.source, target)
        if item.name == COVER:
            continue
        resource = {"path": item.name, "description": item.description}
        if item.name.endswith(".csv"):
            resource["schema"] = {"fields": csv_fields(target)}
        elif item.name.endswith(".parquet"):
            resource["schema"] = {"fields": parquet_fields(target)}
        resources.append(resource)
    data = json.dumps({**metadata, "resources": resources}, indent=2) + "\n"
    atomic_write(dest / METADATA, data.encode("utf-8"), root=dest)

