"""An in-memory Kaggle API: the calls ``kaggle`` 2.x makes to create a dataset or a version.

    POST /api/v1/security.OAuthService/IntrospectToken          access token → user
    POST /api/v1/datasets.DatasetApiService/GetDatasetStatus    404 until the dataset exists
    POST /api/v1/blobs.BlobApiService/StartBlobUpload           → blob token + resumable upload URL
    PUT  /upload/{blob}                                         resumable upload (GCS semantics:
                                                                ``Content-Range: bytes */N`` asks for
                                                                progress, 308 + ``Range`` answers)
    POST /api/v1/datasets.DatasetApiService/CreateDataset
    POST /api/v1/datasets.DatasetApiService/CreateDatasetVersion
    POST /api/v1/datasets.DatasetApiService/UpdateDatasetMetadata  (the cover image: an uploaded blob)

The create calls are checked the way Kaggle checks them (owner, slug, title length, exactly one
known licence, every file token fully uploaded), and recorded for the tests to inspect.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from .fakeserver import FakeServer, Reply, Request

API = "/api/v1/"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LICENSES = {"CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "ODbL-1.0", "apache-2.0", "other", "unknown",
            "CC-BY-SA-3.0", "CC-BY-NC-SA-4.0", "GPL-2.0", "DbCL-1.0", "copyright-authors", "PDDL"}


@dataclass
class Blob:
    name: str
    size: int
    data: bytearray = field(default_factory=bytearray)
    puts: int = 0
    resumed_at: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.data) == self.size


@dataclass
class Dataset:
    ref: str
    create: dict
    versions: list[dict] = field(default_factory=list)  # the create request, then each version request
    settings: list[dict] = field(default_factory=list)  # each metadata update (cover image, …)


class FakeKaggle(FakeServer):
    def __init__(self, tokens: dict[str, str], keys: set[tuple[str, str]]):
        super().__init__()
        self.tokens, self.keys = tokens, keys
        self.blobs: dict[str, Blob] = {}
        self.datasets: dict[str, Dataset] = {}

    # ------------------------------------------------------------------ helpers

    def user(self, req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:].strip())
        if auth.startswith("Basic "):
            user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            return user if (user, key) in self.keys else None
        return None

    def files_of(self, request: dict) -> dict[str, bytes]:
        """The uploaded files of a create or version request, by name."""
        return {self.blobs[f["token"]].name: bytes(self.blobs[f["token"]].data) for f in request.get("files", [])}

    @staticmethod
    def error(status: int, message: str) -> Reply:
        return Reply(status, {"code": status, "message": message})

    # ------------------------------------------------------------------ routing

    def route(self, req: Request) -> Reply:
        if req.path.startswith("/upload/") and req.method == "PUT":
            return self.upload(req, req.path.removeprefix("/upload/"))
        if not req.path.startswith(API) or req.method != "POST":
            return self.error(404, f"no route for {req.method} {req.path}")
        method = req.path.removeprefix(API)
        body = req.json() or {}
        if method == "security.OAuthService/IntrospectToken":
            user = self.tokens.get(body.get("token", ""))
            return Reply(200, {"active": True, "username": user} if user else {"active": False})
        user = self.user(req)
        if user is None:
            return self.error(401, "Unauthenticated")
        if method == "datasets.DatasetApiService/GetDatasetStatus":
            ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
            return Reply(200, {"status": "READY"}) if ref in self.datasets else self.error(404, "Not found")
        if method == "blobs.BlobApiService/StartBlobUpload":
            token = f"blob-{len(self.blobs) + 1}"
            self.blobs[token] = Blob(body["name"], int(body["contentLength"]))
            return Reply(200, {"token": token, "createUrl": f"{self.url}/upload/{token}"})
        if method == "datasets.DatasetApiService/CreateDataset":
            return self.create(user, body)
        if method == "datasets.DatasetApiService/CreateDatasetVersion":
            return self.version(user, body)
        if method == "datasets.DatasetApiService/UpdateDatasetMetadata":
            ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
            if ref not in self.datasets:
                return self.error(404, f"Dataset {ref} not found")
            self.datasets[ref].settings.append(body.get("settings", {}))
            return Reply(200, {"errors": []})
        return self.error(404, f"no such method {method}")

    # ------------------------------------------------------------------ uploads

    def on_partial(self, req: Request, data: bytes) -> None:
        blob = self.blobs.get(req.path.removeprefix("/upload/"))
        if blob is not None and req.method == "PUT":
            start = self._start(req, blob)
            del blob.data[start:]
            blob.data += data

    @staticmethod
    def _start(req: Request, blob: Blob) -> int:
        m = re.fullmatch(r"bytes (\d+)-\d+/\d+", req.headers.get("content-range", ""))
        return int(m.group(1)) if m else 0

    def upload(self, req: Request, token: str) -> Reply:
        blob = self.blobs.get(token)
        if blob is None:
            return self.error(404, "upload expired")
        if req.headers.get("content-range", "").startswith("bytes */"):  # progress query
            if blob.complete:
                return Reply(200, {})
            return Reply(308, b"", {"Range": f"bytes=0-{len(blob.data) - 1}"} if blob.data else {})
        start = self._start(req, blob)
        if start > len(blob.data):
            return self.error(400, "gap in resumable upload")
        if start:
            blob.resumed_at.append(start)
        del blob.data[start:]
        blob.data += req.body
        blob.puts += 1
        if len(blob.data) > blob.size:
            return self.error(400, "more bytes than announced")
        return Reply(200, {}) if blob.complete else Reply(308, b"", {"Range": f"bytes=0-{len(blob.data) - 1}"})

    # ------------------------------------------------------------------ datasets

    def _check_files(self, files: list[dict]) -> str | None:
        if not files:
            return "no files"
        for f in files:
            blob = self.blobs.get(f.get("token", ""))
            if blob is None or not blob.complete:
                return f"file token {f.get('token')} is not a completed upload"
        return None

    def create(self, user: str, body: dict) -> Reply:
        owner, slug, title = body.get("ownerSlug"), body.get("slug", ""), body.get("title", "")
        ref = f"{owner}/{slug}"
        problem = (
            f"{user} may not create datasets for {owner}" if owner != user else
            "The dataset slug must be between 6 and 50 characters" if not (6 <= len(slug) <= 50 and SLUG.match(slug))
            else "The dataset title must be between 6 and 50 characters" if not 6 <= len(title) <= 50
            else f"Unknown license {body.get('licenseName')}" if body.get("licenseName") not in LICENSES
            else f'The requested title "{title}" is already in use by a dataset' if ref in self.datasets
            else self._check_files(body.get("files", []))
        )
        if problem:
            return Reply(200, {"status": "error", "error": problem})
        self.datasets[ref] = Dataset(ref, body, [body])
        return Reply(200, {"ref": ref, "url": f"https://www.kaggle.com/datasets/{ref}", "status": "ok"})

    def version(self, user: str, body: dict) -> Reply:
        ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
        if ref not in self.datasets:
            return self.error(404, f"Dataset {ref} not found")
        if body.get("ownerSlug") != user:
            return self.error(403, "Permission denied")
        version = body.get("body", {})
        problem = self._check_files(version.get("files", []))
        if problem:
            return Reply(200, {"status": "error", "error": problem})
        self.datasets[ref].versions.append(version)
        return Reply(200, {"ref": ref, "url": f"https://www.kaggle.com/datasets/{ref}", "status": "ok"})
