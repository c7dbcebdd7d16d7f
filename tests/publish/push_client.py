"""Child process for the publish tests: refuses any non-loopback connection, then either runs the
push command as the main CLI does, or loads datasets to compare them.

    push_client.py push OUT --to hf ...      `spectroset push ...` through the real CLI entry point
                                             (`spectroset --debug push ...` when PUSH_CLIENT_DEBUG=1)
    push_client.py verify CHECK...           each CHECK is LOCAL=REPO_ID (load_dataset both, compare row
                                             for row) or a FOLDER (load_dataset it); prints one JSON
                                             object per check, {"error": ...} for a failed one
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys


def _guard_network() -> None:
    original = socket.socket.connect

    def check(address) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is None or host == "localhost":
            return
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise OSError(f"publish tests: refused a connection to non-loopback address {host!r}")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address)
        return original(self, address)

    original_ex = socket.socket.connect_ex

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address)
        return original_ex(self, address)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


def push(argv: list[str]) -> int:
    from builder.cli.main import main

    debug = ["--debug"] if os.environ.get("PUSH_CLIENT_DEBUG") else []
    return main([*debug, "push", *argv])


def rows(ds) -> list[dict]:
    """Rows in order, images as decoded pixels (file paths differ between a folder and a cache; so do a
    tar shard's ``__url__``s: the webdataset layout's image column is ``png``)."""
    out = []
    column = "png" if "png" in ds.features else "image"
    for row in ds:
        image = row[column]
        row[column] = (image.mode, image.size, image.tobytes())
        row.pop("__url__", None)
        out.append(row)
    return out


def compare(local: str, repo_id: str) -> dict:
    from datasets import load_dataset

    a, b = load_dataset(local), load_dataset(repo_id)
    report = {"local": {s: len(d) for s, d in a.items()}, "remote": {s: len(d) for s, d in b.items()}}
    assert list(a) == list(b), report
    for split in a:
        assert a[split].features == b[split].features, (split, a[split].features, b[split].features)
        assert rows(a[split]) == rows(b[split]), f"{split}: rows differ"
    report["features"] = {s: str(d.features) for s, d in a.items()}
    return report


def load(folder: str) -> dict:
    from datasets import load_dataset

    ds = load_dataset(folder)
    return {"splits": {s: len(d) for s, d in ds.items()}, "features": {s: str(d.features) for s, d in ds.items()}}


def verify(checks: list[str]) -> int:
    for check in checks:
        try:
            report = compare(*check.split("=", 1)) if "=" in check else load(check)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            report = {"error": f"{exc.__class__.__name__}: {exc}"}
        print(json.dumps({"check": check, **report}))
    return 0


if __name__ == "__main__":
    _guard_network()
    command, rest = sys.argv[1], sys.argv[2:]
    sys.exit({"push": push, "verify": verify}[command](rest))
