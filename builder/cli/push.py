"""``spectroset push OUT --to hf|kaggle``: flags, defaults from the build's config, and dispatch.

Defaults come from ``OUT/build.json`` (key ``config``: the build config as JSON, with ``name`` and
``publish.hf`` / ``publish.kaggle``); flags win. Known failures raise
:class:`~builder.errors.PublishError` (or :class:`~builder.errors.CredentialsError`), which the
main CLI prints as one line; results are printed here.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

from ..store.atomic import disk_errors
from ..errors import ConfigError, PublishError
from ..publish import hub, kaggle, kaggle_card, stage
from ..publish import redacted_output

log = logging.getLogger("spectroset.publish")

HF_ONLY = {"repo": "--repo", "private": "--private", "revision": "--revision"}
KAGGLE_ONLY = {"kaggle_id": "--id", "title": "--title", "public": "--public"}
HUB_MAX_FILES = 100_000  # the Hub's advice for one repo; beyond it, commits and listings fail


def _out_folder(text: str) -> Path:
    from ..publish.url import local_folder  # at parse time: `--help` stays light

    return local_folder(text)


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", type=_out_folder, help="a built dataset folder, or the URL it was built to")
    parser.add_argument("--to", required=True, choices=("hf", "kaggle"), help="where to publish")
    parser.add_argument("-m", "--message", help="commit message (hf) or version notes (kaggle)")
    parser.add_argument("--verbose", action="store_true", help="name the files in OUT that are not published")
    parser.add_argument("--dry-run", metavar="STAGE", type=Path,
                        help="write what would be uploaded into STAGE (absent or empty) and contact nothing")
    parser.add_argument("--license", metavar="ID",
                        help="the dataset's licence, a Hub id (cc-by-4.0) or Kaggle name (CC-BY-4.0); default: "
                             "publish.license, else unknown")
    hf = parser.add_argument_group("Hugging Face (--to hf)")
    hf.add_argument("--repo", metavar="OWNER/NAME", help="dataset repo (default: publish.hf.repo_id)")
    hf.add_argument("--private", action="store_true", default=None, help="create the repo private")
    hf.add_argument("--revision", metavar="BRANCH", help="push to this branch (created if missing)")
    kg = parser.add_argument_group("Kaggle (--to kaggle)")
    kg.add_argument("--id", dest="kaggle_id", metavar="OWNER/SLUG", help="dataset id (default: from the name)")
    kg.add_argument("--title", help="6-50 characters (default: from the name)")
    kg.add_argument("--public", action="store_true", default=None, help="make a new dataset public")


def run_push(args: argparse.Namespace) -> int:
    from ..look.inspect import finished_build

    out: Path = args.out
    build = finished_build(out)
    config = build.get("config") or {}
    files = stage.published_files(out, build)
    stage.stage_dir(out, args.to)  # a linked work folder is refused by a dry run too, before anything
    alone = stage.left_alone(out, build)
    if alone:
        print(f"left alone {len(alone)} file(s) in {out} that spectroset did not write (not published)"
              + (": " + ", ".join(alone) if getattr(args, "verbose", False) else "; --verbose names them"))
    wrong = HF_ONLY if args.to == "kaggle" else KAGGLE_ONLY
    for dest, flag in wrong.items():
        if getattr(args, dest, None) is not None:
            raise PublishError(f"{flag} does not apply to --to {args.to}")
    name = str(config.get("name") or out.resolve().name)
    build_hash = str(build.get("config_hash") or "")[:8]
    message = args.message or (f"Upload {name} (spectroset build {build_hash})" if build_hash
                               else f"Upload {name} with spectroset")
    publish = config.get("publish") or {}
    own = publish.get(args.to) or {}
    chosen = own.get("license")
    if "license" not in publish and args.to == "kaggle" and chosen == "CC0-1.0":
        chosen = None  # a build from before publish.license: CC0-1.0 was the default, not a choice
    value = args.license or chosen or publish.get("license")
    licence, warnings = _licence(value, out)
    source = build.get("source_license")  # the source dataset's card licence (source.dataset)
    if isinstance(source, str) and value and licence != _hub_or_none(source):
        warnings.append(f"warning: licence {licence} differs from the source dataset's licence {source}: make sure "
                        "the recordings allow it")
    with redacted_output(), stage.build_lock(out):
        if args.to == "hf":
            named = value if licence == "other" and value else licence  # `other`: as spelt, the card names it
            return _push_hf(args, out, files, own, message, named, warnings)
        return _push_kaggle(args, out, files, own, name, message, value or licence, warnings, build)


def _hub_or_none(value: str) -> str | None:
    from ..config.licenses import hub_id

    try:
        return hub_id(value)
    except ValueError:
        return None


def _licence(value: str | None, out: Path) -> tuple[str, list[str]]:
    """The licence as a Hub id, and the warnings a push owes its user (printed once the push is
    sure to go ahead): none set, or one that grants more than the recordings' own licences (as the
    built card lists them)."""
    from ..card.provenance import card_conflicts
    from ..config.licenses import hub_id

    card = out / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    if value is None:  # the built card's own (what the build's config said, or an edit by hand)
        value = stage.split_card(text)[0].get("license") if text else None
        value = value if isinstance(value, str) and value != "unknown" else None
    try:
        licence = hub_id(value)
    except ValueError as exc:
        raise PublishError(f"--license: {exc}") from None
    warnings = []
    if value is None:
        warnings.append("warning: no licence set (--license or publish.license): the dataset is published as "
                        "`license: unknown`; set the one the recordings allow")
    bad = card_conflicts(text, licence)
    if bad:
        warnings.append(f"warning: licence {licence} grants more than some recordings' licences: "
                        f"{'; '.join(bad[:3])}{'; …' if len(bad) > 3 else ''} (see the card's Licence section)")
    return licence, warnings


def _hub_texts(out: Path, files: list[str], licence: str):
    """``repo_id → {rel: text}``: the card and croissant.json with the real repo id and licence."""
    from ..card import croissant, provenance

    def texts(repo_id: str | None) -> dict[str, str]:
        found = {}
        if "README.md" in files:
            found["README.md"] = provenance.retarget((out / "README.md").read_text(encoding="utf-8"), repo_id, licence)
        if croissant.NAME in files:
            url = f"https://huggingface.co/datasets/{repo_id}" if repo_id else None
            found[croissant.NAME] = croissant.retarget((out / croissant.NAME).read_text(encoding="utf-8"), url, licence)
        return found

    return texts


def _push_hf(args, out: Path, files: list[str], cfg: dict, message: str, licence: str, warnings: list[str]) -> int:
    repo_id = args.repo or cfg.get("repo_id")
    if repo_id:
        hub.check_repo_id(repo_id)
    if len(files) > HUB_MAX_FILES:
        raise PublishError(f"{out}: {len(files)} files is more than the Hub takes in one repo ({HUB_MAX_FILES:,}); "
                           "rebuild with output.layout: parquet (a few shards per split)")
    from ..layouts.imagefolder import VIEWER_MAX_FILES, viewer_note

    images = sum(f.endswith(".png") and f != "preview.png" for f in files)
    if images > VIEWER_MAX_FILES:
        warnings = [*warnings, viewer_note(images)]
    texts = _hub_texts(out, files, licence)
    if args.dry_run is not None:
        def write(dest: Path) -> None:
            stage.stage_hub(out, dest, files, link=False)
            stage.replace_texts(dest, texts(repo_id if repo_id and "/" in repo_id else None))

        _dry_run(args.dry_run, write)
        _warn(warnings)
        size = sum((out / f).stat().st_size for f in files)
        print(f"dry run: staged {len(files)} files ({size / 1e6:.1f} MB) for the Hub in {args.dry_run}; "
              "nothing was uploaded")
        return 0
    if not repo_id:
        raise PublishError("no Hub repo: pass --repo OWNER/NAME or set publish.hf.repo_id in the config")
    hub.find_token()  # a missing token is the one line, before any warning
    _warn(warnings)
    private = args.private if args.private is not None else bool(cfg.get("private", False))
    target = hub.HubTarget(repo_id, private, args.revision, message)
    pushed = hub.publish(out, files, target, stage.work_dir(out, "hf"), texts)
    if pushed.changed:
        print(f"pushed {len(files)} files to {pushed.url}")
    else:
        print(f"nothing to push: {pushed.url} already holds these {len(files)} files")
    return 0


def _push_kaggle(args, out: Path, files: list[str], cfg: dict, name: str, message: str, licence: str,
                 warnings: list[str], build: dict) -> int:
    """``licence``: as the user spelt it (a Hub id or a Kaggle name), or the card's Hub id."""
    from ..config.licenses import hub_id, kaggle_name

    hub_licence, licence = hub_id(licence), kaggle_name(licence)  # a Kaggle name the Hub lacks stays itself
    ref = args.kaggle_id or cfg.get("id")
    owner, slug = kaggle.check_id(ref) if ref else (None, kaggle.derive_slug(name))
    title, subtitle = args.title or cfg.get("title"), cfg.get("subtitle")
    if licence == "other" and hub_licence not in ("other", "unknown"):
        warnings = [*warnings, f"warning: Kaggle has no licence {hub_licence}: the dataset goes up as `other`, and "
                               f"its description names {hub_licence}"]
    target = kaggle.KaggleTarget(
        owner=owner, slug=slug,
        title=kaggle.check_title(title) if title else kaggle.derive_title(name),
        license=kaggle.check_license(licence),
        subtitle=kaggle.check_subtitle(subtitle) if subtitle else kaggle.derive_subtitle(build),
        keywords=tuple(cfg.get("keywords") or kaggle.DEFAULT_KEYWORDS),
        public=args.public if args.public is not None else bool(cfg.get("public", False)), message=message)
    planned = stage.plan_kaggle(out, files)

    def staged(owner_name: str):
        shown = hub_licence if licence == "other" and hub_licence != "other" else licence
        items, description = kaggle_card.for_kaggle(planned, f"{owner_name}/{slug}", shown)
        return items, kaggle.metadata(target, owner_name, description)

    if args.dry_run is not None:
        owner_name = target.owner or _known_username()
        items, meta = staged(owner_name)
        _dry_run(args.dry_run, lambda dest: stage.stage_kaggle(items, meta, dest))
        _warn(warnings)
        print(f"dry run: staged {len(items)} files and {stage.METADATA} for Kaggle dataset {meta['id']} "
              f"in {args.dry_run}; nothing was uploaded"
              + ("" if owner_name != kaggle.OWNER_PLACEHOLDER else
                 f" ({kaggle.OWNER_PLACEHOLDER} stands for the signed-in user; pass --id OWNER/SLUG to name it)"))
        return 0

    creds = kaggle.find_credentials()
    _warn(warnings)
    api = kaggle.authenticate(creds)
    items, meta = staged(target.owner or creds.username or api.config_values["username"])
    work = stage.work_dir(out, "kaggle")
    with disk_errors(work.parent):
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


def _warn(warnings: list[str]) -> None:
    for line in warnings:
        log.warning("%s", line)


def _known_username() -> str:
    """The owner for a dry run, from KAGGLE_USERNAME or kaggle.json (without contacting Kaggle)."""
    try:
        username = kaggle.find_credentials().username
    except PublishError:
        username = None
    return username or kaggle.OWNER_PLACEHOLDER  # a dry run needs no credentials


def _dry_run(dest: Path, write) -> None:
    """Write a stage into ``dest`` atomically: into a sibling ``*.incomplete`` folder, then renamed.
    ``dest`` is a root the user named: a link there is followed to the (empty) folder it names,
    which the stage replaces; below it, :func:`stage.stage_hub` and :func:`stage.stage_kaggle`
    check every path."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        # a usage error (exit 2), not a failed publish: nothing was contacted
        raise ConfigError("the dry-run folder must not exist or be empty", file=str(dest), key="--dry-run")
    real = dest.resolve()
    with disk_errors(real):
        real.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".incomplete", dir=real.parent))
    try:
        write(tmp)
        with disk_errors(real):
            if real.exists():
                real.rmdir()
            tmp.rename(real)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
