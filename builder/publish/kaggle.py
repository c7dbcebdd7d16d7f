"""Publish to Kaggle with the official ``kaggle`` client: a new dataset, or a new version of it.

    credentials → authenticate → status(owner/slug) → dataset_create_new | dataset_create_version
                → dataset_metadata_update (the cover image, when the stage has one)

The client is imported lazily and quietly: ``kaggle`` 2.x authenticates (and prints help) when it
is imported and imports ``six`` without declaring it. Credentials are looked up in the client's
own order (``KAGGLE_API_TOKEN`` or ``~/.kaggle/access_token``, then ``KAGGLE_USERNAME`` +
``KAGGLE_KEY`` or ``kaggle.json``, then ``kaggle auth login``) so that a missing one is reported
before anything is imported or sent.

The create and version calls are the client's own (``kaggle>=2.2.5`` raises when a file fails to
upload, so nothing is silently left out). Retrying has one layer: the client sends every API
request through ``KaggleApi.with_retry``, which this module points at :func:`~builder.publish.retrying`
on our API object (5xx, 429 and connection failures, short and bounded), instead of nesting our
retries around the client's own ten.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CredentialsError, PublishError
from ..plan.names import plural
from . import TRANSIENT_STATUS, add_secret, causes, describe, is_offline, log, network_error, retrying
from .stage import METADATA

OWNER_PLACEHOLDER = "OWNER"  # a dry run without credentials: the signed-in user, filled in on push
DEFAULT_KEYWORDS = ("audio", "image classification")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
OWNER = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
MISSING = ("no Kaggle credentials: set KAGGLE_API_TOKEN (or KAGGLE_USERNAME and KAGGLE_KEY, "
           "or put kaggle.json in ~/.kaggle/)")


@dataclass(frozen=True)
class KaggleTarget:
    owner: str | None  # None: the authenticated user
    slug: str
    title: str
    license: str
    subtitle: str | None = None
    keywords: tuple[str, ...] = ()
    public: bool = False
    message: str = "Update from spectroset"


def check_license(name: str | None) -> str:
    """Kaggle's name for a licence given as a Hub id or a Kaggle name; ``unknown`` for None."""
    from ..config.licenses import kaggle_name

    try:
        return kaggle_name(name)
    except ValueError as exc:
        raise PublishError(f"--license: {exc}") from None


def check_id(ref: str) -> tuple[str | None, str]:
    """``OWNER/SLUG`` or ``SLUG`` → (owner, slug), in the form Kaggle accepts."""
    owner, _, slug = ref.rpartition("/")
    if owner and not OWNER.match(owner):
        raise PublishError(f"--id {ref!r}: owner must be a Kaggle user name (lowercase letters, digits, - or _)")
    if not SLUG.match(slug) or not 6 <= len(slug) <= 50:
        raise PublishError(f"--id {ref!r}: the slug must be 6-50 lowercase letters, digits and single hyphens, "
                           "e.g. bird-call-spectrograms")
    return owner or None, slug


def check_title(title: str) -> str:
    if not 6 <= len(title.strip()) <= 50:
        raise PublishError(f"--title {title!r}: a Kaggle title must be 6-50 characters (got {len(title.strip())})")
    return title.strip()


def check_subtitle(subtitle: str) -> str:
    if not 20 <= len(subtitle) <= 80:
        raise PublishError(f"publish.kaggle.subtitle: a Kaggle subtitle must be 20-80 characters (got {len(subtitle)})")
    return subtitle


def derive_slug(name: str) -> str:
    """A valid slug from a dataset name: ``"Bird calls (2024)"`` → ``"bird-calls-2024"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "spectrograms"
    if len(slug) < 6:
        slug = f"{slug}-spectrograms"
    return slug[:50].rstrip("-")


def derive_subtitle(build: dict) -> str:
    """A 20-80 character subtitle from the build record: what the images are, and how many."""
    config = build.get("config") or {}
    kind = {"mel": "Mel", "stft": "STFT", "mfcc": "MFCC"}.get((config.get("spectrogram") or {}).get("kind"), "Audio")
    labels = len(build.get("counts") or {})
    text = f"{kind} spectrograms of {plural(build.get('sources', 0), 'recording')}"
    text += f" in {labels} classes" if labels > 1 else ""
    text += f", {plural(build.get('windows', 0), 'image')}"
    if len(text) < 20:
        text += ", built with spectroset"
    return text[:80]


def derive_title(name: str) -> str:
    """A valid title from a dataset name: ``"bird_calls"`` → ``"Bird Calls"``, padded or cut to 6-50."""
    words = re.sub(r"[-_\s]+", " ", name).strip()
    title = " ".join(w[:1].upper() + w[1:] for w in words.split(" ")) or "Spectrograms"
    if len(title) < 6:
        title = f"{title} Spectrograms"
    if len(title) > 50:
        cut = title[:50]
        if title[50] != " " and " " in cut:  # end at a word boundary when that leaves enough
            shorter = cut.rsplit(" ", 1)[0]
            cut = shorter if len(shorter.strip()) >= 6 else cut
        title = cut
    return title.strip()


def metadata(target: KaggleTarget, owner: str, description: str) -> dict:
    """``dataset-metadata.json`` without ``resources`` (the stage adds those)."""
    meta = {"id": f"{owner}/{target.slug}", "title": target.title, "licenses": [{"name": target.license}]}
    if target.subtitle:
        meta["subtitle"] = check_subtitle(target.subtitle)
    meta["description"] = description
    meta["keywords"] = list(target.keywords)
    # read by the client's metadata update (the cover image), which otherwise makes a dataset public
    meta["isPrivate"] = not target.public
    return meta


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    source: str  # the variable or file, as told to the user
    username: str | None  # known without asking Kaggle (for a token it is not)


def _config_dir() -> Path:
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return Path(os.environ["KAGGLE_CONFIG_DIR"])
    home = Path("~/.kaggle").expanduser()
    if home.exists():
        return home
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()) / "kaggle"


def find_credentials() -> Credentials:
    """The credentials the kaggle client will use, in its order; secrets are registered for redaction."""
    token = os.environ.get("KAGGLE_API_TOKEN")
    if token:
        add_secret(Path(token).read_text().strip() if Path(token).is_file() else token)
        return Credentials("KAGGLE_API_TOKEN", os.environ.get("KAGGLE_USERNAME"))
    for path in (Path("~/.kaggle/access_token").expanduser(), Path("~/.kaggle/access_token.txt").expanduser()):
        if path.is_file() and path.read_text().strip():
            add_secret(path.read_text().strip())
            return Credentials(str(path), os.environ.get("KAGGLE_USERNAME"))
    values, json_path = {}, _config_dir() / "kaggle.json"
    with contextlib.suppress(OSError, ValueError):
        values = {k: v for k, v in json.loads(json_path.read_text()).items() if k in ("username", "key")}
    env = {k: os.environ[f"KAGGLE_{k.upper()}"] for k in ("username", "key") if os.environ.get(f"KAGGLE_{k.upper()}")}
    values.update(env)
    if values.get("username") and values.get("key"):
        add_secret(values["key"])
        source = "KAGGLE_USERNAME and KAGGLE_KEY" if len(env) == 2 else str(json_path)
        return Credentials(source, values["username"])
    if env:
        missing = "KAGGLE_KEY" if "username" in env else "KAGGLE_USERNAME"
        raise CredentialsError(f"{missing} is not set (KAGGLE_USERNAME and KAGGLE_KEY go together)")
    if Path("~/.kaggle/credentials.json").expanduser().is_file():
        return Credentials("~/.kaggle/credentials.json (kaggle auth login)", None)
    raise CredentialsError(MISSING)


def _quietly(call):
    """Run ``call()`` with the client's prints (help texts, upload errors it recovers from) turned
    into a debug log: our own output stays a few plain lines."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            return call()
    finally:
        if buffer.getvalue().strip():
            log.debug("kaggle client: %s", buffer.getvalue().strip())


def is_transient(exc: BaseException) -> bool:
    import requests

    for e in causes(exc):
        response = getattr(e, "response", None)
        if isinstance(e, requests.HTTPError) and response is not None and response.status_code in TRANSIENT_STATUS:
            return True
    return is_offline(exc)


def _failure(exc: BaseException, creds: Credentials, what: str) -> PublishError:
    if is_offline(exc):
        return network_error(exc, "Kaggle")
    status = next((e.response.status_code for e in causes(exc) if getattr(e, "response", None) is not None), None)
    if status == 401:
        return CredentialsError(f"Kaggle rejected the credentials in {creds.source}: set KAGGLE_API_TOKEN to a "
                                "valid API token (or KAGGLE_USERNAME and KAGGLE_KEY)")
    if status == 403:
        return CredentialsError(f"the credentials in {creds.source} may not {what}: use the owner's API token")
    return PublishError(f"Kaggle: could not {what}: {describe(exc)}")


def _one_retry_layer(api) -> None:
    """Point the client's ``with_retry`` (around every API request it sends) at ours."""
    def with_retry(func, *args, **kwargs):
        name = getattr(func, "__name__", "request")
        return lambda *a, **kw: retrying(lambda: func(*a, **kw), transient=is_transient, what=f"Kaggle {name}")

    api.with_retry = with_retry


def authenticate(creds: Credentials):
    """A ``KaggleApi`` that has authenticated, or a :class:`CredentialsError` naming the source."""
    def login():
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        _one_retry_layer(api)
        try:
            api.authenticate()
        except SystemExit:  # the client gives up with exit(1) after printing help
            return None
        return api

    try:
        api = _quietly(login)
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, creds, "sign in") from None
    if api is None or not api.config_values.get("username"):
        raise CredentialsError(f"Kaggle rejected the credentials in {creds.source}: set KAGGLE_API_TOKEN to a "
                               "valid API token (or KAGGLE_USERNAME and KAGGLE_KEY)")
    return api


def publish(target: KaggleTarget, stage: Path, creds: Credentials, api) -> tuple[str, bool]:
    """Upload the staged folder as a new dataset or a new version; return (URL, created)."""
    from requests import HTTPError

    from .stage import COVER

    meta = json.loads((stage / METADATA).read_text(encoding="utf-8"))
    ref = meta["id"]

    def exists() -> bool:
        try:
            _quietly(lambda: api.dataset_status(ref))
            return True
        except HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return False
            raise

    what = f"publish {ref}"
    try:
        created = not retrying(exists, transient=is_transient, what=f"Kaggle status of {ref}")
        if created:
            response = _quietly(lambda: api.dataset_create_new(str(stage), public=target.public, quiet=True,
                                                               convert_to_csv=False, dir_mode="zip"))
        else:
            response = _quietly(lambda: api.dataset_create_version(
                str(stage), target.message, quiet=True, convert_to_csv=False, delete_old_versions=False,
                dir_mode="zip"))
    except SystemExit:
        raise PublishError(f"Kaggle: could not {what} (the client gave up; rerun with --debug for its output)") from None
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, creds, what) from None
    if response.error or (response.status or "ok").lower() != "ok":
        raise PublishError(f"Kaggle refused {ref}: {describe(Exception(response.error or response.status))}")
    url = response.url or f"https://www.kaggle.com/datasets/{ref}"
    # The cover is not part of create/version: the client sets it through the metadata update,
    # which also resets visibility, collaborators and the rest from the stage. So only on creation,
    # when the stage says all there is; a new version keeps the cover it has.
    if created and (stage / COVER).is_file():
        try:
            _quietly(lambda: api.dataset_metadata_update(ref, str(stage)))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the data is up; a missing cover is not fatal
            log.warning("warning: Kaggle did not take the cover image (%s); the dataset is published",
                        describe(exc) if isinstance(exc, Exception) else "the client gave up")
    return url, created
