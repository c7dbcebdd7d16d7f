"""Child process for the publish tests: refuses any non-loopback connection, then either runs the
push command as the main CLI does, or loads datasets to compare them.

    push_client.py push OUT --to hf ...      like `spectroset push`: one line and exit code on errors
    push_client.py compare LOCAL REPO_ID     load_dataset(LOCAL) == load_dataset(REPO_ID), row for row
    push_client.py load FOLDER               load_dataset(FOLDER); prints split sizes and features
"""

from __future__ import annotations

import ipaddress
import json
import logging
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
    import argparse

    from builder.errors import SpectrosetError
    from builder.publish.cli import add_push_arguments, run_push

    parser = argparse.ArgumentParser(prog="spectroset push")
    add_push_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_push(args)
    except SpectrosetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def rows(ds) -> list[dict]:
    """Rows in order, images as decoded pixels (file paths differ between a folder and a cache)."""
    out = []
    for row in ds:
        image = row["image"]
        row["image"] = (image.mode, image.size, image.tobytes())
        out.append(row)
    return out


def compare(local: str, repo_id: str) -> int:
    from datasets import load_dataset

    a, b = load_dataset(local), load_dataset(repo_id)
    report = {"local": {s: len(d) for s, d in a.items()}, "remote": {s: len(d) for s, d in b.items()}}
    assert list(a) == list(b), report
    for split in a:
        assert a[split].features == b[split].features, (split, a[split].features, b[split].features)
        assert rows(a[split]) == rows(b[split]), f"{split}: rows differ"
    report["features"] = {s: str(d.features) for s, d in a.items()}
    print(json.dumps(report))
    return 0


def load(folder: str) -> int:
    from datasets import load_dataset

    ds = load_dataset(folder)
    print(json.dumps({"splits": {s: len(d) for s, d in ds.items()},
                      "features": {s: str(d.features) for s, d in ds.items()}}))
    return 0


if __name__ == "__main__":
    _guard_network()
    level = os.environ.get("PUSH_CLIENT_LOG")
    if level:
        logging.basicConfig(level=level, stream=sys.stderr)
    command, rest = sys.argv[1], sys.argv[2:]
    sys.exit({"push": push, "compare": lambda a: compare(*a), "load": lambda a: load(*a)}[command](rest))
