"""Build orchestration: discover → plan → run work units → store → finalize, resumably.

Everything with side effects is here or in the layouts and state modules; the stages it calls
are pure. A build is an idempotent function of (config, source files): a rerun with nothing
changed touches nothing; a rerun after a crash decodes only what the journal does not hold;
a changed source decodes only that recording; a changed config refuses unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config, public_dict
from .discover import Skipped, discover
from .events import late_events
from .errors import BuildError
from .executors import LazyPool, prestart
from .fsutil import is_url
from .layouts import get_layout, make_plan
from .layouts.base import KNOWN_FILES
from .layouts.units import Unit, expand, new_token, remove_files, remove_temp_files, run_unit
from .state import STATE_DIR, Journal, OutputLock
from .worker import FileJob

log = logging.getLogger("spectroset")


@dataclass
class BuildReport:
    out: Path
    record: dict
    decoded: int = 0  # recordings decoded in this run
    reused: int = 0  # recordings taken from the journal
    up_to_date: bool = False
    seconds: float = 0.0
    skipped: list[dict] = field(default_factory=list)
    url: str | None = None  # where the build was mirrored, for an output.path URL
    uploaded: int = 0  # files uploaded to the URL in this run
    deleted: int = 0  # files the URL no longer needed


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
    try:
        return json.loads((out / "build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
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


def _prepare(out: Path, cfg: Config, journal: Journal, force: bool) -> None:
    new = public_dict(cfg)
    old_hash = journal.get_meta("config_hash")
    if old_hash and old_hash != cfg.hash():
        if not force:
            changed = [k for k in _changed_keys(journal.get_meta("config") or {}, new) if not k.startswith(("output.path", "output.staging", "publish."))]
            raise BuildError(
                f"{out} holds a build made with a different config (changed: {', '.join(changed[:6]) or 'unknown'}); "
                "rerun with --force to replace it, or build elsewhere with -o"
            )
    if force or (old_hash and old_hash != cfg.hash()):
        _wipe(out, journal)
    journal.set_meta("config_hash", cfg.hash())
    journal.set_meta("config", new)


def _wipe(out: Path, journal: Journal) -> None:
    """Remove everything a previous build wrote (and only that)."""
    previous = read_record(out) or {}
    remove_files(out, list(previous.get("files", {})) + ["build.json"])
    for rel in journal.fingerprints():
        rec = journal.get(rel)
        remove_files(out, getattr(rec, "paths", []) or [])
    for name in ("data",):
        shutil.rmtree(out / name, ignore_errors=True)
    journal.clear()


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BuildError(f"output.path: {out} exists and is not a folder")
    try:
        foreign = out.is_dir() and any(out.iterdir()) and not (out / STATE_DIR).is_dir()
    except OSError as exc:
        raise BuildError(f"output.path: cannot read {out}: {exc.strerror or exc}") from None
    if foreign:
        raise BuildError(f"output.path: {out} is not empty and was not built by spectroset; choose a new folder with -o")


class _Progress:
    """tqdm on a terminal; a sparse log line otherwise; nothing with ``enabled=False`` (--quiet)."""

    def __init__(self, total: int, enabled: bool | None):
        self.total, self.done, self.windows = total, 0, 0
        self.silent = enabled is False
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar, self.last = None, time.monotonic()
        if self.tty and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="file", desc="building", dynamic_ncols=True)

    def update(self, windows: int) -> None:
        self.done += 1
        self.windows += windows
        if self.bar:
            self.bar.update(1)
            self.bar.set_postfix(windows=self.windows)
        elif not self.silent and (time.monotonic() - self.last > 10 or self.done == self.total):
            self.last = time.monotonic()
            log.info("decoded %d/%d files, %d windows", self.done, self.total, self.windows)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def build(
    cfg: Config, *, workers: int | None = None, force: bool = False, executor: str = "local",
    address: str | None = None, progress: bool | None = None,
) -> BuildReport:
    """Build (or finish, or refresh) the dataset described by ``cfg`` in ``cfg.output.path``.

    An ``output.path`` URL is built in a local staging folder, then mirrored to the URL under the
    same lock (see ``layouts/remote.py``).
    """
    t0 = time.monotonic()
    if executor == "local":
        prestart(workers)
    remote = None
    if is_url(cfg.output.path):
        from .layouts.remote import Remote, staging_dir

        remote = Remote(cfg.output.path, staging_dir(cfg.output.path, cfg.output.staging))
        remote.check()
        cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"path": remote.staging})})
    out = cfg.output.path
    _check_output(out)
    # Discovery reads only the sources; done first, a missing folder or bad label CSV stops the
    # build before OUT exists or its journal records a config that never built anything.
    sources, skipped = _usable_names(*discover(cfg.source))
    with OutputLock(out):
        journal = Journal(out)
        try:
            report = _build_in(out, cfg, sources, skipped, journal, force, workers, executor, address, progress)
        finally:
            journal.close()
        if remote is not None:
            report.url = remote.url
            report.uploaded, report.deleted = remote.sync(report.record, full=force)
            report.up_to_date = report.up_to_date and not (report.uploaded or report.deleted)
    report.seconds = time.monotonic() - t0
    return report


def _build_in(out: Path, cfg: Config, sources, skipped, journal: Journal, force: bool,
              workers, executor, address, progress) -> BuildReport:
    _remove_uncommitted(out, journal)
    _prepare(out, cfg, journal, force)
    fp = fingerprint(cfg, sources, skipped)
    previous = read_record(out)
    if previous and previous.get("fingerprint") == fp and all((out / f).is_file() for f in previous.get("files", {})):
        return BuildReport(out, previous, reused=len(sources), up_to_date=True, skipped=previous.get("skipped", []))
    plan = make_plan(cfg, sources)
    layout = get_layout(cfg, out, plan, new_token(out))
    todo, reused = _todo(out, cfg, sources, journal, layout)
    pool = LazyPool(executor, workers, address)
    try:
        decoded = _run(todo, journal, layout, pool, progress)
        skips = [{"path": s.path, "reason": s.reason} for s in skipped]
        skips += [{"path": r.rel, "reason": r.reason} for r in journal.records([s.rel for s in sources]) if r.reason]
        skips += late_events(sources, journal)
        skips.sort(key=lambda s: s["path"])
        record = layout.finalize(journal, skips, fp, pool.map)
    except BrokenProcessPool:
        raise BuildError(
            "a worker process died (a crashing decoder, or killed for memory); finished recordings are kept: "
            "rerun to resume, with -j 1 and --debug to find the file"
        ) from None
    finally:
        pool.close()
    if previous:
        remove_files(out, sorted(set(previous.get("files", {})) - set(record["files"]) - set(KNOWN_FILES)))
    remove_temp_files(out)
    return BuildReport(out, record, decoded, reused, skipped=skips)


def _remove_uncommitted(out: Path, journal: Journal) -> None:
    """Delete the images of recordings a killed run began but never committed. Redone unchanged,
    they would only be rewritten; but the recording may since have changed or gone, and its old
    images must not stay behind as files no metadata row names."""
    pending = journal.pending()
    for rel in sorted(pending):
        remove_files(out, [f for planned in pending[rel] for f in expand(out, planned)])
    if pending:
        journal.forget_pending()


def _printable(text: str) -> str:
    """A file name as valid UTF-8 (undecodable bytes shown as U+FFFD) for reports and metadata."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _usable_names(sources, skipped) -> tuple[list, list[Skipped]]:
    """Report files whose names are not valid UTF-8 (Linux allows any bytes) instead of crashing:
    such a name cannot go into the journal, metadata.csv or build.json, so it cannot be a source."""
    keep, bad = [], []
    for s in sources:
        try:
            s.rel.encode("utf-8")
            keep.append(s)
        except UnicodeEncodeError:
            bad.append(Skipped(_printable(s.rel), "file name is not valid UTF-8; rename the file"))
    skipped = [Skipped(_printable(s.path), s.reason) for s in skipped] + bad
    return keep, sorted(skipped, key=lambda s: s.path)


def _todo(out: Path, cfg: Config, sources, journal: Journal, layout) -> tuple[list[FileJob], int]:
    known = journal.fingerprints()
    wanted = {s.rel for s in sources}
    gone = [rel for rel in known if rel not in wanted]
    for rel in gone:
        remove_files(out, getattr(journal.get(rel), "paths", []) or [])
    journal.delete(gone)
    todo, reused = [], 0
    for s in sources:
        if known.get(s.rel) == s.fingerprint:
            rec = journal.get(s.rel)
            if layout.is_current(rec):
                reused += 1
                continue
            remove_files(out, rec.paths)
        todo.append(FileJob(str(s.path), s.rel, s.fingerprint, cfg, s.events))
    return todo, reused


def _run(todo: list[FileJob], journal: Journal, layout, pool: LazyPool, progress) -> int:
    """Run the recordings' units; each is journalled as begun before it is submitted, and
    committed with its metadata when it is back (its files are down by then)."""
    if not todo:
        return 0

    def units():
        for job in todo:
            target = layout.target(job.rel)
            journal.begin(job.rel, target.planned(job.rel))
            yield Unit(job, target)

    bar = _Progress(len(todo), progress)
    try:
        for result in pool.map(run_unit, units(), len(todo)):
            journal.put(result.rel, result.fingerprint, result)
            bar.update(len(result.rows))
    finally:
        bar.close()
    return len(todo)
