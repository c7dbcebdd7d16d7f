"""``spectroset push OUT --to hf|kaggle``: flags, defaults from the build's config, and dispatch.

Defaults come from ``OUT/build.json`` (key ``config``: the build config as JSON, with ``name`` and
``publish.hf`` / ``publish.kaggle``); flags win. Known failures raise
:class:`~builder.errors.PublishError` (or :class:`~builder.errors.CredentialsError`), which the
main CLI prints as one line; results are printed here.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from ..errors import PublishError
from . import hub, kaggle, redacted_output, stage

HF_ONLY = {"repo": "--repo", "private": "--private", "revision": "--revision"}
KAGGLE_ONLY = {"kaggle_id": "--id", "title": "--title", "license": "--license", "public": "--public"}


def _out_folder(text: str) -> Path:
    from ..layouts.remote import local_folder  # at parse time: `--help` stays light

    return local_folder(text)


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", type=_out_folder, help="a built dataset folder, or the URL it was built to")
    parser.add_argument("--to", required=True, choices=("hf", "kaggle"), help="where to publish")
    parser.add_argument("-m", "--message", help="commit message (hf) or version notes (kaggle)")
    parser.add_argument("--dry-run", metavar="STAGE", type=Path,
                        help="write what would be uploaded into STAGE (absent or empty) and contact nothing")
    hf = parser.add_argument_group("Hugging Face (--to hf)")
    hf.add_argument("--repo", metavar="OWNER/NAME", help="dataset repo (default: publish.hf.repo_id)")
    hf.add_argument("--private", action="store_true", default=None, help="create the repo private")
    hf.add_argument("--revision", metavar="BRANCH", help="push to this branch (created if missing)")
    kg = parser.add_argument_group("Kaggle (--to kaggle)")
    kg.add_argument("--id", dest="kaggle_id", metavar="OWNER/SLUG", help="dataset id (default: from the name)")
    kg.add_argument("--title", help="6-50 characters (default: from the name)")
    kg.add_argument("--license", metavar="NAME", help="a Kaggle licence name, e.g. CC0-1.0 (the default)")
    kg.add_argument("--public", action="store_true", default=None, help="make a new dataset public")


def run_push(args: argparse.Namespace) -> int:
    from ..inspect import finished_build

    out: Path = args.out
    build = finished_build(out)
    config = build.get("config") or {}
    files = stage.published_files(out, build)
    wrong = HF_ONLY if args.to == "kaggle" else KAGGLE_ONLY
    for dest, flag in wrong.items():
        if getattr(args, dest, None) is not None:
            raise PublishError(f"{flag} does not apply to --to {args.to}")
    name = str(config.get("name") or out.resolve().name)
    build_hash = str(build.get("config_hash") or "")[:8]
    message = args.message or (f"Upload {name} (spectroset build {build_hash})" if build_hash
                               else f"Upload {name} with spectroset")
    publish = config.get("publish") or {}
    with redacted_output(), stage.build_lock(out):
        if args.to == "hf":
            return _push_hf(args, out, files, publish.get("hf") or {}, message)
        return _push_kaggle(args, out, files, publish.get("kaggle") or {}, name, message)


def _push_hf(args, out: Path, files: list[str], cfg: dict, message: str) -> int:
    repo_id = args.repo or cfg.get("repo_id")
    if repo_id:
        hub.check_repo_id(repo_id)
    if args.dry_run is not None:
        _dry_run(args.dry_run, lambda dest: stage.stage_hub(out, dest, files, link=False))
        size = sum((out / f).stat().st_size for f in files)
        print(f"dry run: staged {len(files)} files ({size / 1e6:.1f} MB) for the Hub in {args.dry_run}; "
              "nothing was uploaded")
        return 0
    if not repo_id:
        raise PublishError("no Hub repo: pass --repo OWNER/NAME or set publish.hf.repo_id in the config")
    private = args.private if args.private is not None else bool(cfg.get("private", False))
    target = hub.HubTarget(repo_id, private, args.revision, message)
    url = hub.publish(out, files, target, stage.work_dir(out, "hf"))
    print(f"pushed {len(files)} files to {url}")
    return 0


def _push_kaggle(args, out: Path, files: list[str], cfg: dict, name: str, message: str) -> int:
    ref = args.kaggle_id or cfg.get("id")
    owner, slug = kaggle.check_id(ref) if ref else (None, kaggle.derive_slug(name))
    title, subtitle = args.title or cfg.get("title"), cfg.get("subtitle")
    target = kaggle.KaggleTarget(
        owner=owner, slug=slug,
        title=kaggle.check_title(title) if title else kaggle.derive_title(name),
        license=kaggle.check_license(args.license or cfg.get("license") or "CC0-1.0"),
        subtitle=kaggle.check_subtitle(subtitle) if subtitle else None, keywords=tuple(cfg.get("keywords") or ()),
        public=args.public if args.public is not None else bool(cfg.get("public", False)), message=message)
    items = stage.plan_kaggle(out, files)
    _, description = stage.split_card((out / "README.md").read_text(encoding="utf-8"))

    if args.dry_run is not None:
        meta = kaggle.metadata(target, target.owner or _known_username(), description)
        _dry_run(args.dry_run, lambda dest: stage.stage_kaggle(items, meta, dest))
        print(f"dry run: staged {len(items)} files and {stage.METADATA} for Kaggle dataset {meta['id']} "
              f"in {args.dry_run}; nothing was uploaded")
        return 0

    creds = kaggle.find_credentials()
    api = kaggle.authenticate(creds)
    meta = kaggle.metadata(target, target.owner or creds.username or api.config_values["username"], description)
    work = stage.work_dir(out, "kaggle")
    scratch = Path(tempfile.mkdtemp(prefix=".kaggle-", dir=work.parent))
    try:
        stage.stage_kaggle(items, meta, scratch)
        stage.sync_tree(scratch, work)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    size = sum(p.stat().st_size for p in work.iterdir())
    print(f"uploading {len(items)} files ({size / 1e6:.1f} MB) to Kaggle as {meta['id']}", flush=True)
    url, created = kaggle.publish(target, work, creds, api)
    print(f"{'created' if created else 'new version of'} {url}")
    return 0


def _known_username() -> str:
    """The owner for a dry run, from KAGGLE_USERNAME or kaggle.json (without contacting Kaggle)."""
    try:
        username = kaggle.find_credentials().username
    except PublishError:
        username = None
    if not username:
        raise PublishError("cannot tell the Kaggle owner without signing in: pass --id OWNER/SLUG")
    return username


def _dry_run(dest: Path, write) -> None:
    """Write a stage into ``dest`` atomically: into a sibling ``*.incomplete`` folder, then renamed."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PublishError(f"{dest}: dry-run folder must not exist or be empty")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".incomplete", dir=dest.parent))
    try:
        write(tmp)
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
