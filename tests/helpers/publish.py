"""Fixtures for the publish tests: a small built dataset, fake Hub and Kaggle servers, and a runner
that drives ``spectroset push`` in a child process with a clean, loopback-only environment.

The clients read their endpoints from the environment when they are imported (``HF_ENDPOINT`` lands
in ``huggingface_hub.constants``; ``kaggle`` authenticates on import), so every push and every
``load_dataset`` from the fake Hub runs in a subprocess started by :func:`run_client`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.publish.fake_hub import FakeHub
from tests.publish.fake_kaggle import FakeKaggle

HERE = Path(__file__).resolve().parents[1] / "publish"  # push_client.py
REPO_ROOT = HERE.parents[1]

HF_TOKEN = "hf_SECRETtokenVALUE0123456789abcdef"
KAGGLE_TOKEN = "KGAT_secretKaggleToken0123456789abcdef"
KAGGLE_KEY = "0123456789abcdef0123456789abcdef"
SECRETS = (HF_TOKEN, KAGGLE_TOKEN, KAGGLE_KEY)
LABELS = ("cat", "dog")


# --------------------------------------------------------------------------- the built dataset


FEATURES = {  # what datasets' Features.to_dict() gives for the engine's columns
    "image": {"_type": "Image"},
    "label": {"names": list(LABELS), "_type": "ClassLabel"},
    "source": {"dtype": "string", "_type": "Value"},
    "start": {"dtype": "float64", "_type": "Value"},
    "end": {"dtype": "float64", "_type": "Value"},
}
CARD_FEATURES = [  # the same, as the card's configs[].features (Features._to_yaml_list())
    {"name": "image", "dtype": "image"},
    {"name": "label", "dtype": {"class_label": {"names": {str(i): n for i, n in enumerate(LABELS)}}}},
    {"name": "source", "dtype": "string"},
    {"name": "start", "dtype": "float64"},
    {"name": "end", "dtype": "float64"},
]


def build_fixture_dataset(out: Path, layout: str = "imagefolder", name: str = "tiny-birds",
                          splits: tuple[str, ...] = ("train", "test"), per_label: int = 3) -> Path:
    """Write a small dataset shaped like the engine's output into ``out``; return ``out``.

    This is the single place to swap for a real ``builder.pipeline.build(cfg)`` once it lands. It
    avoids importing ``datasets`` (2 s) and writes the parquet shards with pyarrow, with the same
    ``huggingface`` schema metadata that ``Dataset.to_parquet`` embeds.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml
    from PIL import Image as PILImage

    from builder.config.sections import Config

    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {}
    rng = np.random.default_rng(0)
    for split in splits:
        rows[split] = []
        for li, label in enumerate(LABELS):
            for i in range(per_label):
                pixels = rng.integers(0, 255, size=(8, 12), dtype=np.uint8)
                buf = io.BytesIO()
                PILImage.fromarray(pixels, mode="L").save(buf, format="PNG")
                rows[split].append({"name": f"{label}/{split}-{label}-{i}.png", "png": buf.getvalue(), "label": li,
                                    "source": f"{label}/rec{i}.wav", "start": i * 5.0, "end": i * 5.0 + 5.0})

    if layout == "imagefolder":
        data_files = [{"split": s, "path": f"{s}/**"} for s in splits]
        for split, items in rows.items():
            (out / split).mkdir(parents=True, exist_ok=True)
            with open(out / split / "metadata.csv", "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["file_name", "label", "source", "start", "end"])
                for r in items:
                    path = out / split / r["name"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(r["png"])
                    writer.writerow([r["name"], LABELS[r["label"]], r["source"], r["start"], r["end"]])
    else:
        data_files = [{"split": s, "path": f"data/{s}-*"} for s in splits]
        (out / "data").mkdir(exist_ok=True)
        meta = {b"huggingface": json.dumps({"info": {"features": FEATURES}}).encode()}
        for split, items in rows.items():
            table = pa.table({
                "image": pa.array([{"bytes": r["png"], "path": r["name"].split("/")[-1]} for r in items],
                                  pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                "label": pa.array([r["label"] for r in items], pa.int64()),
                "source": [r["source"] for r in items],
                "start": pa.array([r["start"] for r in items], pa.float64()),
                "end": pa.array([r["end"] for r in items], pa.float64()),
            }).replace_schema_metadata(meta)
            pq.write_table(table, out / "data" / f"{split}-00000-of-00001.parquet")
        (out / "stats.json").write_text(json.dumps({"mean": 0.5, "std": 0.25}))

    card = {"license": "cc0-1.0", "tags": ["audio", "spectrogram"],
            "configs": [{"config_name": "default", "data_files": data_files, "features": CARD_FEATURES}]}
    (out / "README.md").write_text(
        "---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n\n"
        f"# {name}\n\nMel spectrograms of tiny bird calls, labelled by species. Built by spectroset.\n")

    cfg = Config.model_validate({"name": name, "source": {"path": "/data/recordings"},
                                 "output": {"layout": layout, "path": str(out)}})
    (out / ".spectroset").mkdir(exist_ok=True)
    (out / ".spectroset" / "journal.sqlite").write_bytes(b"SQLite format 3\0 private build state")
    (out / ".spectroset" / "lock").write_text("4242")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".spectroset" not in p.parts)
    import hashlib

    build = {"name": name, "layout": layout, "config": cfg.model_dump(mode="json"), "config_hash": cfg.hash(),
             "sources": 3, "windows": sum(map(len, rows.values())), "splits": {s: len(r) for s, r in rows.items()},
             "counts": {s: len(r) for s, r in rows.items()}, "skipped": [],
             "files": {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in files}}
    (out / "build.json").write_text(json.dumps(build, indent=2))
    return out


def relist(out: Path) -> None:
    """Rewrite build.json's ``files`` after a test changed the dataset, as a rebuild would."""
    import hashlib

    build = json.loads((out / "build.json").read_text())
    build["files"] = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(out.rglob("*")) if p.is_file() and ".spectroset" not in p.parts
                      and p.name != "build.json"}
    (out / "build.json").write_text(json.dumps(build, indent=2))


@pytest.fixture
def imagefolder_out(tmp_path) -> Path:
    return build_fixture_dataset(tmp_path / "out-img", "imagefolder")


@pytest.fixture
def parquet_out(tmp_path) -> Path:
    return build_fixture_dataset(tmp_path / "out-pq", "parquet")


# --------------------------------------------------------------------------- servers


@pytest.fixture
def hub():
    with FakeHub({HF_TOKEN: "alice"}) as server:
        yield server


@pytest.fixture
def kaggle():
    with FakeKaggle(tokens={KAGGLE_TOKEN: "alice"}, keys={("alice", KAGGLE_KEY)}) as server:
        yield server


# --------------------------------------------------------------------------- the client process


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def make_client_env(base: Path) -> dict[str, str]:
    """A clean environment: no real credentials or proxies; home, caches and temp files under ``base``."""
    home = base / "home"
    (base / "tmp").mkdir(parents=True, exist_ok=True)
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGING", "KAGGLE_", "VERBOSE")) and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({
        "HOME": str(home), "TMPDIR": str(base / "tmp"), "XDG_CONFIG_HOME": str(home / ".config"),
        "HF_HOME": str(base / "hf"), "HF_DATASETS_CACHE": str(base / "hf-datasets"),
        "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5",
        "PYTHONPATH": str(REPO_ROOT),
        "SPECTROSET_RETRY_BASE_S": "0.05",  # our backoff; the clients' own (1 s) cannot be shortened
    })
    return env


@pytest.fixture
def client_env(tmp_path) -> dict[str, str]:
    return make_client_env(tmp_path)


def hub_env(env: dict[str, str], hub: FakeHub, token: str | None = HF_TOKEN) -> dict[str, str]:
    env = dict(env, HF_ENDPOINT=hub.url)
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def kaggle_env(env: dict[str, str], server: FakeKaggle, **creds: str) -> dict[str, str]:
    """Point the kaggle client at the fake: it only knows http://localhost, so proxy that to us."""
    env = dict(env, KAGGLE_API_ENVIRONMENT="LOCALHOST", HTTP_PROXY=server.url, HTTPS_PROXY=server.url,
               http_proxy=server.url, https_proxy=server.url)
    env.update(creds)
    return env


def run_client(*args: str, env: dict[str, str], timeout: float = 60) -> Result:
    """Run ``push_client.py ARGS`` (the push CLI or a load_dataset helper) in a child process."""
    proc = subprocess.run([sys.executable, str(HERE / "push_client.py"), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO_ROOT))
    return Result(proc.returncode, proc.stdout, proc.stderr)


def verify(*checks: str, env: dict[str, str]) -> dict[str, dict]:
    """``load_dataset`` checks in one child process (importing ``datasets`` once): ``"LOCAL=REPO"``
    compares a folder with a Hub repo row for row, ``"FOLDER"`` just loads it. Reports by check."""
    result = run_client("verify", *checks, env=env)
    assert result.returncode == 0, result.output
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"check"')]
    return {r.pop("check"): r for r in reports}


def interrupt_client(*args: str, env: dict[str, str], server, timeout: float = 180) -> None:
    """Start a push, wait until ``server`` holds a stalled request, then kill the push (SIGKILL):
    an upload interrupted by a crash or a lost machine, with nothing cleaned up."""
    proc = subprocess.Popen([sys.executable, str(HERE / "push_client.py"), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(REPO_ROOT))
    try:
        assert server.stalled.wait(timeout), proc.communicate(timeout=5)
    finally:
        proc.kill()
        proc.communicate()
    with server.lock:
        server.faults.clear()
    server.released.set()
