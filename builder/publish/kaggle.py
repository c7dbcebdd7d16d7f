"""Publish to Kaggle with the official ``kaggle`` client: a new dataset, or a new version of it.

    credentials → authenticate → status(owner/slug) → upload_files(staged folder) → create | version

The client is imported lazily and quietly: ``kaggle`` 2.x authenticates (and prints help) when it
is imported and imports ``six`` without declaring it. Credentials are looked up in the client's
own order (``KAGGLE_API_TOKEN`` or ``~/.kaggle/access_token``, then ``KAGGLE_USERNAME`` +
``KAGGLE_KEY`` or ``kaggle.json``, then ``kaggle auth login``) so that a missing one is reported
before anything is imported or sent.

Uploads go through ``KaggleApi.upload_files`` (resumable blob uploads, ``dir_mode="zip"``); the
create/version request is only sent once every staged file has a blob token, because the client
silently leaves out files whose upload failed.
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
from . import TRANSIENT_STATUS, add_secret, causes, describe, log, retrying
from .stage import METADATA

LICENSES = (
    "CC0-1.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-BY-NC-SA-4.0", "GPL-2.0", "ODbL-1.0", "DbCL-1.0",
    "copyright-authors", "other", "unknown", "CC-BY-4.0", "CC-BY-NC-4.0", "PDDL", "CC-BY-3.0", "CC-BY-3.0-IGO",
    "US-Government-Works", "CC-BY-NC-SA-3.0-IGO", "CDLA-Permissive-1.0", "CDLA-Sharing-1.0", "CC-BY-ND-4.0",
    "CC-BY-NC-ND-4.0", "ODC-BY-1.0", "LGPL-3.0", "AGPL-3.0", "FDL-1.3", "EU-ODP-Legal-Notice", "apache-2.0",
    "GPL-3.0",
)
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


def check_license(name: str) -> str:
    """Kaggle's spelling of a licence name (matched case-insensitively)."""
    for known in LICENSES:
        if known.lower() == name.strip().lower():
            return known
    raise PublishError(f"--license {name!r}: not a Kaggle licence; use one of CC0-1.0, CC-BY-4.0, CC-BY-SA-4.0, "
                       "CC-BY-NC-4.0, ODbL-1.0, apache-2.0, other (see the Kaggle dataset metadata docs)")


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
        if isinstance(e, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, _Incomplete)):
            return True
    return False


class _Incomplete(Exception):
    """Some staged files got no blob token; the next attempt resumes their uploads."""


def _failure(exc: BaseException, creds: Credentials, what: str) -> PublishError:
    status = next((e.response.status_code for e in causes(exc) if getattr(e, "response", None) is not None), None)
    if status == 401:
        return CredentialsError(f"Kaggle rejected the credentials in {creds.source}: set KAGGLE_API_TOKEN to a "
                                "valid API token (or KAGGLE_USERNAME and KAGGLE_KEY)")
    if status == 403:
        return CredentialsError(f"the credentials in {creds.source} may not {what}: use the owner's API token")
    return PublishError(f"Kaggle: could not {what}: {describe(exc)}")


def authenticate(creds: Credentials):
    """A ``KaggleApi`` that has authenticated, or a :class:`CredentialsError` naming the source."""
    def login():
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        try:
            api.authenticate()
        except SystemExit:  # the client gives up with exit(1) after printing help
            return None
        return api

    try:
        api = retrying(lambda: _quietly(login), transient=is_transient, what="Kaggle sign-in")
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, creds, "sign in") from None
    if api is None or not api.config_values.get("username"):
        raise CredentialsError(f"Kaggle rejected the credentials in {creds.source}: set KAGGLE_API_TOKEN to a "
                               "valid API token (or KAGGLE_USERNAME and KAGGLE_KEY)")
    return api


def publish(target: KaggleTarget, stage: Path, creds: Credentials, api) -> tuple[str, bool]:
    """Upload the staged folder as a new dataset or a new version; return (URL, created)."""
    from kaggle.api.kaggle_api_extended import ResumableUploadContext
    from kagglesdk.blobs.types.blob_api_service import ApiBlobType
    from kagglesdk.datasets.types import dataset_api_service as svc
    from requests import HTTPError

    meta = json.loads((stage / METADATA).read_text(encoding="utf-8"))
    owner, slug = meta["id"].split("/")
    expected = sorted(p.name for p in stage.iterdir() if p.name != METADATA)

    def exists() -> bool:
        try:
            _quietly(lambda: api.dataset_status(f"{owner}/{slug}"))
            return True
        except HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return False
            raise

    def attempt():
        created = not exists()
        if created:
            request = holder = svc.ApiCreateDatasetRequest()
            request.owner_slug, request.slug, request.title = owner, slug, meta["title"]
            request.license_name, request.is_private = meta["licenses"][0]["name"], not target.public
        else:
            request, holder = svc.ApiCreateDatasetVersionRequest(), svc.ApiCreateDatasetVersionRequestBody()
            request.owner_slug, request.dataset_slug, request.body = owner, slug, holder
            holder.version_notes, holder.delete_old_versions = target.message, False
        holder.subtitle, holder.description = meta.get("subtitle"), meta.get("description")
        holder.category_ids, holder.files = meta.get("keywords", []), []
        with ResumableUploadContext() as context:
            _quietly(lambda: api.upload_files(holder, meta["resources"], str(stage), ApiBlobType.DATASET,
                                              context, quiet=True, dir_mode="zip"))
            if len(holder.files) != len(expected):
                raise _Incomplete(f"{len(expected) - len(holder.files)} of {len(expected)} files did not upload")
            with api.build_kaggle_client() as client:
                send = client.datasets.dataset_api_client
                call = send.create_dataset if created else send.create_dataset_version
                response = api.with_retry(call)(request)
        return response, created

    what = f"publish {owner}/{slug}"
    try:
        response, created = retrying(attempt, transient=is_transient, what=f"Kaggle upload of {owner}/{slug}")
    except PublishError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, creds, what) from None
    if response.error or (response.status or "ok").lower() != "ok":
        raise PublishError(f"Kaggle refused {owner}/{slug}: {describe(Exception(response.error or response.status))}")
    return response.url or f"https://www.kaggle.com/datasets/{owner}/{slug}", created
