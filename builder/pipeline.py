"""Build orchestration: discover → plan → run work units → store → finalize, resumably.

Everything with side effects is here or in the layouts and state modules; the stages it calls
are pure. A build is an idempotent function of (config, source files): a rerun with nothing
changed touches nothing; a rerun after a crash decodes only what the journal does not hold;
a changed source decodes only that recording; a changed config refuses unless ``force``.

What is ours is decided in one place: the ledger (``ledger.py``). :func:`_build_in` withdraws
build.json before the first recorded file changes, removes what a killed run left unfinished,
removes the files of recordings that changed or went, and — once the new files are in place —
every recorded file the new build does not list; build.json is written last. Files no row names
are the user's, counted in ``left_alone``. Before any of that, :func:`stamps.settle` checks each
recorded file against its row: one the user changed is left as it is (``changed``), and a build
with anything to do stops first, unless ``repair`` (then it is built again).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from concurrent.futures import BrokenExecutor  # not .process: multiprocessing only loads for a pool
from dataclasses import dataclass, field
from pathlib import Path

from .config.sections import Config, public_dict
from .sources.dataset import DatasetRead, read_dataset, row_order
from .sources.dataset_card import with_source_card
from .sources.discover import annotated_only, discover, usable_names
from .errors import BuildError, NothingToBuild
from .sources.events import late_events
from .run.executors import LazyPool, prestart
from .run.extras import check_build
from .run.progress import Progress
from .config.geometry import is_url
from .sources.headers import Headers
from .plan.coverage import coverage_warnings
from .plan.dataset import make_plan
from .plan.headcount import estimated_windows, no_window
from .layouts.select import get_layout, loaded_by_datasets
from .layouts.units import Unit, new_token, run_unit
from .store.ledger import foreign_files
from .store.outdir import check_nesting, check_output, config_changed, encoder_changed, fingerprint, read_record
from .store.record import write_build
from .store.state_dir import RECORD
from .dsp.render import ENCODER
from .store.stamps import refuse_changed, settle
from .store.state import Journal, OutputLock
from .run.worker import FileJob, FileResult, Row

log = logging.getLogger("spectroset")


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to run a build (what to build is the config): made once, by :func:`build` or the CLI.

    ``workers``: processes (None: one per core). ``force``: rebuild from scratch, replacing an
    earlier build. ``executor``: ``local`` or ``ray`` (``address``: the Ray cluster). ``progress``:
    None a bar on a terminal, False nothing (--quiet). ``stop``: on Ctrl-C, stop the workers at
    once (the CLI, which exits right after) instead of letting their running recordings finish.
    ``repair``: built files whose bytes changed since the build are built again, not left alone.
    """

    workers: int | None = None
    force: bool = False
    executor: str = "local"
    address: str | None = None
    progress: bool | None = None
    stop: bool = False
    repair: bool = False


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
    left_alone: list[str] = field(default_factory=list)  # files in OUT that spectroset did not write
    left_loaded: dict[str, str] = field(default_factory=dict)  # of those, load_dataset's rows: path → glob
    changed: list[str] = field(default_factory=list)  # built files the user changed, left as they are
    repaired: list[str] = field(default_factory=list)  # built files the user changed, built again (--repair)
    unannotated: int = 0  # recordings left out undecoded: no event, and only events give windows


def build(cfg: Config, options: BuildOptions | None = None, /, **changes) -> BuildReport:
    """Build (or finish, or refresh) the dataset described by ``cfg`` in ``cfg.output.path``.

    ``options``, or :class:`BuildOptions` fields by keyword (``build(cfg, workers=2, force=True)``).
    An ``output.path`` URL is built in a local staging folder, then mirrored to the URL under the
    same lock (see ``publish/url.py``).
    """
    t0 = time.monotonic()
    opts = dataclasses.replace(options or BuildOptions(), **changes)
    check_build(cfg.spectrogram.device, opts.executor)  # a missing torch or ray: one line, before any work
    if opts.executor == "local":
        prestart(opts.workers)
    remote = None
    if is_url(cfg.output.path):
        from .publish.url import Remote, staging_dir

        remote = Remote(cfg.output.path, staging_dir(cfg.output.path, cfg.output.staging))
        if remote.local_root is not None and _local_source(cfg) is not None:  # file://: as a local -o
            check_nesting(_local_source(cfg), remote.local_root, shown=remote.url, key=_source_key(cfg))
        remote.check()
        cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"path": remote.staging})})
    out = cfg.output.path
    if _local_source(cfg) is not None:
        check_nesting(_local_source(cfg), out, key=_source_key(cfg))
    check_output(out)
    # Discovery reads only the sources; done first, a missing folder or bad label CSV stops the
    # build before OUT exists or its journal records a config that never built anything.
    dataset = read_dataset(cfg.source) if cfg.source.dataset is not None else None
    if dataset is not None:
        cfg = with_source_card(cfg, dataset.license, dataset.shown, dataset.repo_id)
    sources, skipped = usable_names(*((dataset.files, dataset.skipped) if dataset else discover(cfg.source)))
    sources, unannotated = annotated_only(sources, cfg.source.labels, cfg.windows.select)
    if not sources:
        why = "windows.select: events" if cfg.windows.select == "events" else "source.labels.background: null"
        raise NothingToBuild(f"no window to build: none of the {unannotated} recording(s) has an annotated event, "
                             f"and with {why} only events give windows")
    with OutputLock(out):
        journal = Journal(out, (FileResult, Row))
        try:
            report = _build_in(out, cfg, sources, skipped, journal, opts, dataset)
        finally:
            journal.close()
        if remote is not None:
            report.url = remote.url
            report.uploaded, report.deleted = remote.sync(report.record, full=opts.force, repair=opts.repair)
            report.up_to_date = report.up_to_date and not (report.uploaded or report.deleted)
    report.seconds, report.unannotated = time.monotonic() - t0, unannotated
    return report


def _local_source(cfg: Config) -> Path | None:
    """The source's local folder (``source.path``, or a ``source.dataset`` folder), None for a URL or a Hub id."""
    if cfg.source.path is not None:
        return None if is_url(cfg.source.path) else cfg.source.path
    found = Path(cfg.source.dataset).expanduser()
    return found if found.is_absolute() and found.is_dir() else None


def _source_key(cfg: Config) -> str:
    return "source.path" if cfg.source.path is not None else "source.dataset"


def _build_in(out: Path, cfg: Config, sources, skipped, journal: Journal, opts: BuildOptions,
              dataset: DatasetRead | None = None) -> BuildReport:
    ledger, force, repair = journal.ledger, opts.force, opts.repair
    ledger.repair = repair
    replace = config_changed(out, cfg, journal, force) or force or encoder_changed(journal)
    fp = fingerprint(cfg, sources, skipped)
    previous = read_record(out)
    edits = settle(ledger, previous)  # one lstat per recorded file; a hash only where size or mtime moved
    if (not replace and previous and previous.get("fingerprint") == fp and not ledger.unfinished()
            and edits.complete(previous["files"]) and not (repair and edits.changed)):
        alone = foreign_files(out, [*previous["files"], RECORD])
        return BuildReport(out, previous, reused=len(sources), up_to_date=True, skipped=previous.get("skipped", []),
                           left_alone=alone, changed=sorted(edits.changed),
                           left_loaded=loaded_by_datasets(alone, previous["layout"], previous["splits"]))
    if not repair:  # before anything changes
        refuse_changed(edits, out)
    if repair:  # a recording's files go now and are rebuilt; any other is replaced only if this build writes it
        units = {r: u for r, (u, _) in ledger.rows().items() if r in edits.changed}
        ledger.restorable = {r for r in edits.changed if _listed(journal, units.get(r), r)}
    ledger.reconcile(ledger.restorable, replace)  # build.json first: unfinished until the end
    if replace:
        journal.clear()
    journal.set_meta("config_hash", cfg.hash())
    journal.set_meta("encoder", ENCODER)
    journal.set_meta("config", public_dict(cfg))
    pool = LazyPool(opts.executor, opts.workers, opts.address)
    try:
        headers = Headers(journal)  # the plan's window counts, from headers read once per file version
        if opts.executor == "local":
            headers.prefetch(sources, pool.map, pool.size)
        plan = make_plan(cfg, sources, estimated_windows(cfg, headers), estimated_windows(cfg, headers, margin=False),
                         no_window(cfg, headers))
        headers.save()
        log.debug("plan: %d audio headers read, %d from the journal", headers.read, len(headers.seen) - headers.read)
        layout = get_layout(cfg, out, plan, new_token(out))
        layout.ledger = ledger
        todo, reused = _todo(cfg, sources, journal, layout)
        # a dataset's rows go in shard order, so that a worker reads each row group about once
        todo = sorted(todo, key=lambda j: row_order(j.path)) if dataset else longest_first(todo, headers.seen)
        decoded = _run(todo, journal, layout, pool, opts.progress)
        skips = [{"path": s.path, "reason": s.reason} for s in skipped]
        skips += [{"path": r.rel, "reason": r.reason} for r in journal.records([s.rel for s in sources], rows=False)
                  if r.reason]
        skips += late_events(sources, journal)
        skips.sort(key=lambda s: s["path"])
        record = layout.finalize(journal, skips, fp, pool.map)
    except BrokenExecutor:  # BrokenProcessPool
        raise BuildError(
            "a worker process died (a crashing decoder, or killed for memory); finished recordings are kept: "
            "rerun to resume, with -j 1 and --debug to find the file"
        ) from None
    except KeyboardInterrupt:
        pool.close(abort=opts.stop)
        raise
    finally:
        pool.close()
    keep = set(record["files"]) | set(ledger.of_units(journal.fingerprints()))
    ledger.repair = False  # a changed file this build did not write again is left as yours, even with --repair
    ledger.remove(set(ledger.rows()) - keep)  # stale shards, metadata, images of the previous build
    left_alone = foreign_files(out, [*record["files"], RECORD])
    record["left_alone"] = {"count": len(left_alone), "files": left_alone[:1000]}
    if dataset is not None:  # what a push compares its --license with
        record["source_license"] = dataset.license
    record = write_build(out, ledger, record)
    for line in coverage_warnings(plan, record):  # empty splits and folds, and those missing labels
        log.warning(line)
    return BuildReport(out, record, decoded, reused, skipped=skips, left_alone=left_alone,
                       left_loaded=loaded_by_datasets(left_alone, record["layout"], record["splits"]),
                       repaired=sorted(r for r in edits.changed if r in ledger.restorable or r in record["files"]))


def _listed(journal: Journal, unit: str | None, rel: str) -> bool:
    """Whether ``rel`` is a file the journalled recording ``unit`` wrote (--repair removes it to rebuild it)."""
    result = journal.get(unit, rows=False) if unit else None
    return result is not None and rel in (result.paths or [])


def _todo(cfg: Config, sources, journal: Journal, layout) -> tuple[list[FileJob], int]:
    """Recordings to (re)decode; the files of those, and of recordings gone, are removed first."""
    known = journal.fingerprints()
    stale = sorted(set(known) - {s.rel for s in sources})
    todo, reused = [], 0
    for s in sources:
        if known.get(s.rel) == s.fingerprint:
            rec = journal.get(s.rel)
            if rec is not None and layout.is_current(rec):
                reused += 1
                continue
        if s.rel in known:
            stale.append(s.rel)
        todo.append(FileJob(str(s.path), s.rel, s.fingerprint, cfg, s.events))
    journal.ledger.remove(journal.ledger.of_units(stale))
    journal.delete(stale)
    return todo, reused


def longest_first(todo: list[FileJob], seen: dict[str, tuple[str, int, int]]) -> list[FileJob]:
    """The recordings longest first, by the headers the plan read (``(fingerprint, frames, rate)``
    by name; unread ones count 0, ties keep their order), so the last to finish are short ones and
    the workers end together. The order changes no byte: the layouts sort what comes back."""
    def seconds(job: FileJob) -> float:
        _, frames, rate = seen.get(job.rel, ("", 0, 0))
        return frames / rate if rate else 0.0

    return sorted(todo, key=seconds, reverse=True)


def _run(todo: list[FileJob], journal: Journal, layout, pool: LazyPool, progress) -> int:
    """Run the recordings' units; each unit's spool or intent log is recorded in the ledger before
    it is submitted, and its metadata and files are committed when it is back."""
    if not todo:
        return 0
    planned = {}

    def units():
        for job in todo:
            target = layout.target(job.rel)
            planned[job.rel] = target.planned(job.rel)
            journal.ledger.intend([planned[job.rel]], unit=job.rel)
            yield Unit(job, target)

    bar = Progress(len(todo), progress)
    left, warm = len(todo), True
    try:
        for result, files in pool.map(run_unit, units(), len(todo)):
            left -= 1
            workers = getattr(pool.pool, "workers", 1)
            if warm and workers > 1 and 0 < left <= workers:
                layout.warm()  # every unit left is running: this process has nothing else to do
                warm = False
            journal.put(result.rel, result.fingerprint, result, files)
            if planned[result.rel] not in {f for f, _, _ in files}:  # an intent log, or no spool after all
                journal.ledger.remove([planned.pop(result.rel)])
            bar.update(len(result.rows))
    finally:
        bar.close()
    return len(todo)
