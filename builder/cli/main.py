"""The ``spectroset`` command line. Thin: parse, call, and map known errors to one line + exit code.

Heavy imports (torch, datasets) happen inside the commands, so ``spectroset --help`` is instant.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import traceback
from pathlib import Path

from ..errors import ConfigError, NothingToBuild, SpectrosetError, one_line

EPILOG = "Docs: README.md. Add --debug to any command to see a traceback."


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spectroset", description="Audio folders → labelled spectrogram-image datasets.",
                                epilog=EPILOG)
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="build a dataset from a config file or preset")
    b.add_argument("config", help="config YAML, or a preset name (see `spectroset presets`)")
    b.add_argument("-o", "--output", help="output folder or fsspec URL such as s3://bucket/ds (overrides output.path)")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set spectrogram.n_mels=64 (repeatable)")
    b.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: number of cores)")
    b.add_argument("--strict", action="store_true", help="exit non-zero if any source file was skipped")
    b.add_argument("--force", action="store_true", help="rebuild from scratch, replacing an earlier build in OUT")
    b.add_argument("--repair", action="store_true",
                   help="build again the files changed since spectroset wrote them (else they are left as they are)")
    b.add_argument("--executor", choices=["local", "ray"], default="local", help="where work units run")
    b.add_argument("--address", help="Ray cluster address (ray://HOST:PORT or auto); with --executor ray")
    b.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar; print the summary line and problems only (skipped files are in build.json)")
    b.add_argument("--verbose", action="store_true", help="name the files in OUT that spectroset left alone")

    i = sub.add_parser("inspect", help="summarise a built dataset; --verify re-hashes every file")
    i.add_argument("dataset", type=_dataset_folder, help="a built dataset folder, or the URL it was built to")
    i.add_argument("--verify", action="store_true", help="check every data file against build-time checksums")

    v = sub.add_parser("preview", help="one figure that shows how a config sees one recording")
    v.add_argument("audio", type=Path)
    v.add_argument("--config", help="config YAML or preset (default: birdclef-mel)", default="birdclef-mel")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    v.add_argument("--start", type=float, default=0.0, help="seconds: the window that starts here is shown")
    v.add_argument("-o", "--output", type=Path, required=True, help="figure PNG to write")

    r = sub.add_parser("report", help="a self-contained HTML report of a built dataset")
    r.add_argument("dataset", type=_dataset_folder, help="a built dataset folder, or the URL it was built to")
    r.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")

    pu = sub.add_parser("push", help="publish a built dataset to the Hugging Face Hub or Kaggle")
    try:
        if "push" not in (sys.argv[1:] if argv is None else argv):  # the publishers' imports: ~0.1 s
            raise ImportError
        from .push import add_push_arguments

        add_push_arguments(pu)
    except ImportError:  # publishing not installed in this build
        pu.add_argument("rest", nargs=argparse.REMAINDER)

    sub.add_parser("presets", help="list the bundled configs")
    return p


def cmd_build(args) -> int:
    if args.executor == "local" and (args.jobs or 2) > 1:
        from ..run.executors import prestart

        prestart(args.jobs)  # the pool's forkserver boots (~0.5 s of imports) while we import and plan
    from ..plan.names import plural as _n
    from ..config.loading import load_config
    from ..pipeline import BuildOptions, build

    overrides = list(args.overrides)
    if args.output is not None:
        from ..config.geometry import is_url

        overrides.append(f"output.path={args.output if is_url(args.output) else Path(args.output).resolve()}")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("must be >= 1", file="-j")
    cfg = load_config(args.config, overrides)
    options = BuildOptions(workers=args.jobs, force=args.force, executor=args.executor, address=args.address,
                           progress=False if args.quiet else None, stop=True, repair=args.repair)
    _interruptible()
    report = build(cfg, options)
    rec, where = report.record, report.url or report.out
    if not rec.get("windows"):
        _print_skipped(report.skipped)
        raise NothingToBuild(_why_no_window(rec, report.skipped))
    if report.up_to_date:
        print(f"{where}: up to date ({_n(rec['windows'], 'window')} from {_n(rec['sources'], 'recording')}); "
              "nothing to do")
    else:
        print(f"built {_n(rec['windows'], 'window')} from {_n(rec['sources'], 'recording')} "
              f"({report.decoded} decoded, {report.reused} reused) in {report.seconds:.1f} s → {where}")
        if not args.quiet:
            print("  splits: " + ", ".join(f"{k} {v}" for k, v in rec["splits"].items()))
        if report.url:  # part of the summary: what reached the URL
            print(f"  uploaded {report.uploaded} file(s), deleted {report.deleted}; staging folder {report.out}")
    if report.repaired:
        print(f"  restored {len(report.repaired)} file(s) changed since spectroset wrote them")
    if report.changed:
        from ..store.stamps import changed_line

        print(f"warning: {changed_line(report.changed)}", file=sys.stderr)
    if report.unannotated and not args.quiet:
        print(f"  left out {_n(report.unannotated, 'recording')} without an annotated event, undecoded "
              f"({'windows.select: events' if cfg.windows.select == 'events' else 'source.labels.background: null'})")
    if report.left_alone and (args.verbose or not args.quiet):
        names = ": " + ", ".join(map(one_line, report.left_alone)) if args.verbose else " (named in build.json and with --verbose)"
        print(f"  left alone {len(report.left_alone)} file(s) in {report.out} that spectroset did not write{names}")
    if report.left_loaded:  # with -q too: they change what load_dataset(OUT) returns
        shown = ", ".join(f"{one_line(rel)} ({glob})" for rel, glob in list(report.left_loaded.items())[:5])
        print(f"warning: {len(report.left_loaded)} file(s) in {report.out} that spectroset did not write match a "
              f"split's data_files in the card, and load_dataset reads them as rows: {shown}"
              f"{', …' if len(report.left_loaded) > 5 else ''}; move them out of the folder", file=sys.stderr)
    total = rec.get("skipped_total", len(report.skipped))
    if not args.quiet:
        _print_skipped(report.skipped, total)
    if report.skipped:
        side = rec.get("skipped_file")
        listed = f"all in {Path(report.out) / side}" if side else "listed in build.json"
        print(f"  {total} file(s) skipped ({listed})")
    return 1 if (args.strict and report.skipped) else 0


SHOWN_SKIPPED = 20  # skipped files named on the terminal; the rest are counted (a 1e6-row CSV printed 1e6 lines)


def _print_skipped(skipped: list[dict], total: int | None = None) -> None:
    for s in skipped[:SHOWN_SKIPPED]:
        print(f"  skipped {one_line(s['path'])}: {one_line(s['reason'])}")
    more = (len(skipped) if total is None else total) - min(len(skipped), SHOWN_SKIPPED)
    if more > 0:
        print(f"  ... and {more} more")


def _why_no_window(rec: dict, skipped: list[dict]) -> str:
    """The one line for a build that wrote no window (discovery found recordings, the build none)."""
    if rec.get("silent_windows_skipped"):
        return (f"no window built: all {rec['silent_windows_skipped']} windows were quieter than "
                "windows.skip_silent_below_db; lower it or set it to null")
    if skipped:
        shown = "listed above" if len(skipped) <= SHOWN_SKIPPED else f"the first {SHOWN_SKIPPED} listed above"
        return (f"no window built: every recording was skipped ({len(skipped)}, {shown}): fix or remove "
                "them, or change the settings their reasons name")
    return "no window built from the recordings found: see windows.min_duration and windows.last"


def _dataset_folder(text: str) -> Path:
    from ..config.geometry import is_url

    if not is_url(text):  # the layouts package imports the config models: 0.3 s inspect does not need
        return Path(text)
    from ..publish.url import local_folder

    return local_folder(text)


def cmd_inspect(args) -> int:
    from ..look.inspect import inspect

    return inspect(args.dataset, verify=args.verify)


def cmd_presets(args) -> int:
    from ..config.presets import list_presets

    presets = list_presets()
    width = max((len(n) for n, _, _ in presets), default=0)
    for name, desc, _ in presets:
        print(f"{name:<{width}}  {desc}")
    return 0


def cmd_preview(args) -> int:
    from ..look.preview import preview_figure
    from ..config.loading import load_config

    cfg = load_config(args.config, args.overrides)
    _interruptible()
    preview_figure(args.audio, cfg, args.start, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_report(args) -> int:
    from ..look.report import write_report

    write_report(args.dataset, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_push(args) -> int:
    from .push import run_push

    return run_push(args)


def _hub_logs(debug: bool) -> None:
    """huggingface_hub logs through a handler of its own, at a level it sets when imported (so the
    setLevel above does not hold): its lines (an empty commit skipped …) would reach the terminal,
    twice. Without --debug none do (spectroset says what matters in its own words); with it, they
    pass once, through that handler alone."""
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.disable_propagation()
    hub_logging.set_verbosity(logging.DEBUG if debug else logging.CRITICAL + 1)


COMMANDS = {"build": cmd_build, "inspect": cmd_inspect, "presets": cmd_presets, "preview": cmd_preview,
            "report": cmd_report, "push": cmd_push}


def main(argv: list[str] | None = None) -> int:
    args = _parser(argv).parse_args(argv)
    quiet = getattr(args, "quiet", False)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING if quiet else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "urllib3", "filelock", "fsspec", "datasets", "huggingface_hub", "PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _hub_logs(args.debug)
    try:
        if args.command not in ("build", "preview"):  # these validate a config first
            _interruptible()
        return COMMANDS[args.command](args)
    except SpectrosetError as exc:
        if args.debug:  # a traceback on top of the usual line; the exit code stays the error's
            traceback.print_exc()
        for line in getattr(exc, "details", None) or [str(exc)]:
            print(f"error: {one_line(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        stopped = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"{stopped}; rerun the same command to resume", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:  # `spectroset inspect OUT | head`: the reader left; not our error

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


_HELD: list = []  # the signal mask :func:`run` replaced, until :func:`_interruptible`


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``, a scheduler stopping a job): answered as Ctrl-C is, the workers
    stopped and one line, so no worker outlives the CLI and a rerun resumes (exit code 143)."""


def _terminated(signum, frame) -> None:
    raise Terminated


def _interruptible() -> None:
    """Let Ctrl-C and SIGTERM in again; one sent meanwhile is raised here, where :func:`main` answers it."""
    if _HELD:
        import signal

        signal.pthread_sigmask(signal.SIG_SETMASK, _HELD.pop())


def run() -> None:
    """The process entry (``spectroset``, ``python -m builder``): :func:`main`, then exit with its code.

    Ctrl-C and SIGTERM are held while the command imports and validates its config
    (:func:`_interruptible`): inside an import one was lost, and inside pydantic's schema building
    it became a SchemaError's traceback. Held, it stops the command a few tenths of a second later,
    with its one line."""
    import signal

    from ..run import process

    process.configure(fork=process.cap_threads_at_start())  # workers fork from us where it is safe
    if hasattr(signal, "pthread_sigmask"):
        _HELD.append(signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}))
    signal.signal(signal.SIGTERM, _terminated)
    code = main()
    if code in (130, 143):  # stopped: a stopped pool's thread may wait forever on a worker's last message
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    # Only exit follows, so whatever is alive now lives until then. Frozen, it is spared the
    # interpreter's exit-time garbage collections: measured 0.1 s after a preview (matplotlib's
    # figure is tens of thousands of objects), a tenth of the command.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
