"""Sources behind fsspec URLs: ``file://``, ``memory://``, ``s3://``, ``gs://``, ``hf://`` …

A plain local path never comes here (discovery and decoding keep their direct ``os`` path);
only a ``source.path`` spelled ``scheme://...`` does (:func:`builder.config.geometry.is_url`). Listing follows the local rules (sorted,
POSIX paths relative to the root) and a file's fingerprint comes from what the store reports:
its size, a modification time and an ETag/checksum where it has them. Outputs at URLs are
built locally and mirrored (``layouts/remote.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import DecodeError, SourceError

# Keys that different fsspec implementations use for a modification time and a content tag.
_MTIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "modified", "created")
_TAG_KEYS = ("ETag", "etag", "md5Hash", "crc32c", "blob_id", "sha256", "checksum")


def join(url: str, rel: str) -> str:
    return url.rstrip("/") + "/" + rel


def filesystem(url: str, key: str = "source.path"):
    """``(fs, root)`` for a URL; a missing filesystem package or unknown protocol is a
    :class:`SourceError` that names the config ``key`` the URL came from."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # fsspec says which package: "Install s3fs to access S3"
        raise SourceError(f"{key}: {url}: {exc} (pip install it beside spectroset)") from None
    except ValueError as exc:  # "Protocol not known: xyz"
        raise SourceError(f"{key}: {url}: {exc}") from None


def list_files(url: str) -> list[tuple[str, dict]]:
    """Every file under ``url`` as sorted ``(rel, info)``; ``rel`` is POSIX and relative to ``url``."""
    fs, root = filesystem(url)
    try:
        if not fs.isdir(root):
            raise SourceError(f"source.path: not a folder: {url}")
        found = fs.find(root, withdirs=False, detail=True)
    except SourceError:
        raise
    except Exception as exc:  # network, permissions: the store's own message says most
        raise SourceError(f"source.path: cannot list {url}: {exc}") from None
    prefix = root.rstrip("/") + "/"
    files = []
    for name, info in found.items():
        if not name.startswith(prefix):  # a few stores answer with the protocol attached
            name = fs._strip_protocol(name)
        if name.startswith(prefix) and info.get("type", "file") == "file":
            files.append((name[len(prefix):], info))
    return sorted(files, key=lambda item: item[0])


def _time_ns(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(round(value * 1e9))
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return int(round(value.timestamp() * 1e9))
    return None


def stamp(info: dict) -> tuple[int, int, str]:
    """``(size, mtime_ns, tag)`` from an fsspec ``info()`` dict; 0 and "" where the store is silent."""
    size = int(info.get("size") or 0)
    mtime = next((t for t in (_time_ns(info.get(k)) for k in _MTIME_KEYS if k in info) if t is not None), 0)
    tag = next((str(info[k]).strip('"') for k in _TAG_KEYS if info.get(k)), "")
    return size, mtime, tag


def open_url(url: str):
    """A binary, seekable file object; a missing or empty file is a :class:`DecodeError`."""
    fs, path = filesystem(url)
    try:
        if fs.size(path) == 0:
            raise DecodeError(url, "empty file (0 bytes)")
        return fs.open(path, "rb")
    except DecodeError:
        raise
    except FileNotFoundError:
        if "memory" in fs.protocol:  # another process's memory: nothing there
            raise DecodeError(url, "not found: memory:// files live in the process that wrote them; build with -j 1") from None
        raise DecodeError(url, "not found (removed since discovery?)") from None
    except Exception as exc:
        raise DecodeError(url, f"cannot open: {getattr(exc, 'strerror', None) or exc}") from None
