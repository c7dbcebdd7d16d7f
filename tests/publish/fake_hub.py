"""An in-memory Hugging Face Hub: just the endpoints ``huggingface_hub`` (plain LFS path, no Xet)
and ``datasets.load_dataset`` call.

    POST /api/repos/create                               create_repo (409 + url when it exists)
    GET  /api/whoami-v2                                  whoami
    POST /api/validate-yaml                              README front matter check
    POST /api/datasets/{repo}/preupload/{rev}            upload mode + remote oid per file
    POST /datasets/{repo}.git/info/lfs/objects/batch     LFS batch: upload actions for missing objects
    PUT  /lfs/{oid}                                      LFS object upload (checked against its sha256)
    POST /api/datasets/{repo}/commit/{rev}               ndjson commit
    POST /api/datasets/{repo}/branch/{branch}            create_branch
    GET  /api/datasets/{repo}[/revision/{rev}]           repo info
    GET  /api/datasets/{repo}/tree/{rev}[/{path}]        list_repo_tree
    POST /api/datasets/{repo}/paths-info/{rev}           get_paths_info
    HEAD|GET /datasets/{repo}/resolve/{rev}/{path}       file metadata and bytes (Range supported)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from .fakeserver import FakeServer, Reply, Request

LFS_SUFFIXES = (".png", ".jpg", ".parquet", ".zip", ".arrow", ".npy", ".wav", ".flac")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def entry(self, path: str) -> dict:
        out = {"type": "file", "path": path, "size": len(self.data), "oid": git_sha1(self.data)}
        if self.lfs:
            out["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": 134}
        return out


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Blob]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


class FakeHub(FakeServer):
    def __init__(self, tokens: dict[str, str]):
        """``tokens`` maps a valid token to its user name."""
        super().__init__()
        self.tokens = tokens
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.lfs_puts: dict[str, int] = {}  # oid -> completed PUTs
        self.yaml_checked: list[str] = []
        self.stall_after_objects: int | None = None  # hold LFS PUTs once this many objects arrived
        self._n = 0

    # ------------------------------------------------------------------ helpers

    def user(self, req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        return self.tokens.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None

    def files(self, repo_id: str, rev: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return {p: b.data for p, b in repo.commits[repo.branches.get(rev, rev)].items()}

    def seed(self, repo_id: str, files: dict[str, bytes], branch: str = "main", private: bool = False) -> str:
        """Commit ``files`` as the whole tree of ``branch`` of a dataset repo (created if new): a dataset
        someone else published, for the tests that read one; returns the commit."""
        repo = self.repos.setdefault(repo_id, Repo(repo_id, private))
        tree = {p: Blob(d, p.endswith(LFS_SUFFIXES)) for p, d in files.items()}
        repo.branches[branch] = self._commit(repo, tree, f"seed {branch}")
        return repo.branches[branch]

    def _commit(self, repo: Repo, tree: dict[str, Blob], message: str) -> str:
        self._n += 1
        sha = hashlib.sha1(f"{repo.repo_id}:{self._n}".encode()).hexdigest()
        repo.commits[sha] = tree
        repo.messages.append(message)
        return sha

    def _resolve_rev(self, repo: Repo, rev: str) -> str | None:
        rev = unquote(rev)
        if rev in repo.branches:
            return repo.branches[rev]
        return rev if rev in repo.commits else None

    # ------------------------------------------------------------------ routing

    def route(self, req: Request) -> Reply:
        p = req.raw_path
        if p == "/api/whoami-v2":
            user = self.user(req)
            if user is None:
                return Reply(401, {"error": "Invalid credentials in Authorization header"})
            return Reply(200, {"type": "user", "name": user, "auth": {"accessToken": {"role": "write"}}})
        if p == "/api/validate-yaml":
            self.yaml_checked.append(req.json()["content"])
            return Reply(200, {"errors": [], "warnings": []})
        if p == "/api/repos/create":
            return self.create_repo(req)
        m = re.fullmatch(r"/datasets/([^/]+/[^/]+)\.git/info/lfs/objects/batch", p)
        if m:
            return self.lfs_batch(req, m.group(1))
        m = re.fullmatch(r"/lfs/([0-9a-f]{64})", p)
        if m and req.method == "PUT":
            return self.lfs_put(req, m.group(1))
        m = re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", p)
        if m:
            return self.resolve(req, m.group(1), m.group(2), unquote(m.group(3)))
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/(\w[\w-]*)(?:/([^/]+))?(?:/(.*))?)?", p)
        if not m:
            return Reply(404, {"error": f"no route for {req.method} {p}"})
        repo_id, action, rev, rest = m.group(1), m.group(2), m.group(3), unquote(m.group(4) or "")
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and self.user(req) is None):
            return Reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        writing = action in ("preupload", "commit", "branch")
        if writing and self.user(req) != repo_id.split("/")[0]:
            return Reply(401 if self.user(req) is None else 403, {"error": "Unauthorized"})
        if action == "branch":
            return self.create_branch(repo, unquote(rev))
        sha = self._resolve_rev(repo, rev or "main")
        if sha is None:
            return Reply(404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
        if action in (None, "revision"):
            return self.info(repo, sha)
        if action == "preupload":
            return self.preupload(req, repo, sha)
        if action == "commit":
            return self.commit(req, repo, unquote(rev), sha)
        if action == "tree":
            return self.tree(req, repo, sha, rest.strip("/"))
        if action == "paths-info":
            return self.paths_info(req, repo, sha)
        return Reply(404, {"error": f"no route for {req.method} {p}"})

    # ------------------------------------------------------------------ write side

    def create_repo(self, req: Request) -> Reply:
        user = self.user(req)
        if user is None:
            return Reply(401, {"error": "Invalid credentials in Authorization header"})
        body = req.json()
        if body.get("type") != "dataset":
            return Reply(400, {"error": "only dataset repos in this fake"})
        repo_id = f"{body.get('organization') or user}/{body['name']}"
        url = f"{self.url}/datasets/{repo_id}"
        if repo_id in self.repos:
            return Reply(409, {"error": "You already created this dataset repo", "url": url})
        repo = Repo(repo_id, body.get("visibility") == "private" or bool(body.get("private")))
        attrs = Blob(b"*.png filter=lfs diff=lfs merge=lfs -text\n*.parquet filter=lfs diff=lfs merge=lfs -text\n", False)
        repo.branches["main"] = self._commit(repo, {".gitattributes": attrs}, "initial commit")
        self.repos[repo_id] = repo
        return Reply(200, {"url": url, "name": repo_id, "id": repo_id})

    def create_branch(self, repo: Repo, branch: str) -> Reply:
        if branch in repo.branches:
            return Reply(409, {"error": "Reference already exists"})
        repo.branches[branch] = repo.branches["main"]
        return Reply(200, {})

    def preupload(self, req: Request, repo: Repo, sha: str) -> Reply:
        tree = repo.commits[sha]
        out = []
        for f in req.json()["files"]:
            sample = base64.b64decode(f["sample"])
            lfs = f["path"].endswith(LFS_SUFFIXES) or b"\0" in sample or f["size"] > 10_000_000
            existing = tree.get(f["path"])
            oid = None if existing is None else (existing.sha256 if existing.lfs else git_sha1(existing.data))
            out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return Reply(200, {"files": out, "commitOid": sha})

    def lfs_batch(self, req: Request, repo_id: str) -> Reply:
        repo = self.repos.get(repo_id)
        if repo is None:
            return Reply(404, {"message": "Repository not found"})
        if self.user(req) != repo_id.split("/")[0]:
            return Reply(401, {"message": "Unauthorized"})
        objects = []
        for obj in req.json()["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs:
                entry["actions"] = {"upload": {"href": f"{self.url}/lfs/{obj['oid']}", "header": {}}}
            objects.append(entry)
        return Reply(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_put(self, req: Request, oid: str) -> Reply:
        if self.stall_after_objects is not None and len(self.lfs) >= self.stall_after_objects:
            self.stalled.set()  # the test kills the client now: this object never arrives
            self.released.wait(30)
            return Reply(503, {"error": "stalled"})
        if hashlib.sha256(req.body).hexdigest() != oid:
            return Reply(400, {"error": "sha256 mismatch"})
        self.lfs[oid] = req.body
        self.lfs_puts[oid] = self.lfs_puts.get(oid, 0) + 1
        return Reply(200, b"")

    def commit(self, req: Request, repo: Repo, branch: str, sha: str) -> Reply:
        if self.user(req) is None:
            return Reply(401, {"error": "Unauthorized"})
        lines = [json.loads(line) for line in req.body.splitlines() if line.strip()]
        header = lines[0]["value"]
        if header.get("parentCommit") and header["parentCommit"] != sha:
            return Reply(412, {"error": "parent commit mismatch"})
        tree = dict(repo.commits[sha])
        for item in lines[1:]:
            key, value = item["key"], item["value"]
            if key == "file":
                tree[value["path"]] = Blob(base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                if value["oid"] not in self.lfs:
                    return Reply(422, {"error": f"LFS object {value['oid']} was never uploaded"})
                tree[value["path"]] = Blob(self.lfs[value["oid"]], True)
            elif key == "deletedFile":
                tree.pop(value["path"], None)
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                tree = {k: v for k, v in tree.items() if not k.startswith(prefix)}
        new = self._commit(repo, tree, header["summary"])
        repo.branches[branch] = new
        url = f"{self.url}/datasets/{repo.repo_id}/commit/{new}"
        return Reply(200, {"commitOid": new, "commitUrl": url, "success": True})

    # ------------------------------------------------------------------ read side

    def info(self, repo: Repo, sha: str) -> Reply:
        tree = repo.commits[sha]
        siblings = [{"rfilename": p} for p in sorted(tree)]
        now = "2024-01-01T00:00:00.000Z"
        return Reply(200, {
            "_id": repo.repo_id, "id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": sha,
            "lastModified": now, "createdAt": now, "private": repo.private, "gated": False, "disabled": False,
            "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        })

    def _entries(self, tree: dict[str, Blob], paths: list[str] | None, prefix: str, recursive: bool) -> list[dict]:
        dirs: set[str] = set()
        files = []
        base = f"{prefix}/" if prefix else ""
        for path, blob in sorted(tree.items()):
            if not path.startswith(base):
                continue
            rest = path[len(base):]
            parts = rest.split("/")
            for i in range(1, len(parts)):
                if recursive or i == 1:
                    dirs.add(base + "/".join(parts[:i]))
            if recursive or len(parts) == 1:
                files.append(blob.entry(path))
        folders = [{"type": "directory", "path": d, "oid": git_sha1(d.encode()), "size": 0} for d in sorted(dirs)]
        return folders + files

    def tree(self, req: Request, repo: Repo, sha: str, path: str) -> Reply:
        tree = repo.commits[sha]
        if path and not any(p.startswith(path + "/") for p in tree):
            return Reply(404, {"error": f"{path} does not exist"}, {"X-Error-Code": "EntryNotFound"})
        recursive = req.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        return Reply(200, self._entries(tree, None, path, recursive))

    def paths_info(self, req: Request, repo: Repo, sha: str) -> Reply:
        form = parse_qs(req.body.decode()) if req.body else {}
        tree = repo.commits[sha]
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in tree:
                out.append(tree[path].entry(path))
            elif any(p.startswith(path + "/") for p in tree):
                out.append({"type": "directory", "path": path, "oid": git_sha1(path.encode()), "size": 0})
        return Reply(200, out)

    def resolve(self, req: Request, repo_id: str, rev: str, path: str) -> Reply:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and self.user(req) is None):
            return Reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        sha = self._resolve_rev(repo, rev)
        if sha is None:
            return Reply(404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
        blob = repo.commits[sha].get(path)
        if blob is None:
            return Reply(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
        etag = blob.sha256 if blob.lfs else git_sha1(blob.data)
        headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if blob.lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(blob.data))})
        data = blob.data
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", req.headers.get("range", ""))
        if m and req.method == "GET":
            start = int(m.group(1)) if m.group(1) else max(0, len(data) - int(m.group(2)))
            end = int(m.group(2)) if m.group(1) and m.group(2) else len(data) - 1
            end = min(end, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return Reply(206, data[start:end + 1], headers)
        return Reply(200, data, headers)  # for HEAD, only the headers (with the GET's length) are sent
