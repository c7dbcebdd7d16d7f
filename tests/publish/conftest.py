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

HERE = Path(__file__).parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from fake_hub import FakeHub  # noqa: E402
from fake_kaggle import FakeKaggle  # noqa: E402

HF_TOKEN = "hf_SECRETtokenVALUE0123456789abcdef"
KAGGLE_TOKEN = "KGAT_secretKaggleToken0123456789abcdef"
KAGGLE_KEY = "0123456789abcdef0123456789abcdef"
SECRETS = (HF_TOKEN, KAGGLE_TOKEN, KAGGLE_KEY)
LABELS = ("cat", "dog")


# --------------------------------------------------------------------------- the built dataset


def build_fixture_dataset(out: Path, layout: str = "imagefolder", name: str = "tiny-birds",
                          splits: tuple[str, ...] = ("train", "test"), per_label: int = 3) -> Path:
    """Write a small dataset shaped like the engine's output into ``out``; return ``out``.

    This is the single place to swap for a real ``builder.pipeline.build(cfg)`` once it lands.
    """
    import numpy as np
    from datasets import ClassLabel, Dataset, Features, Image, Value
    from PIL import Image as PILImage

    from builder.config import Config

    out.mkdir(parents=True, exist_ok=True)
    features = Features({"image": Image(), "label": ClassLabel(names=list(LABELS)), "source": Value("string"),
                         "start": Value("float64"), "end": Value("float64")})
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
        for split, items in rows.items():
            ds = Dataset.from_dict({
                "image": [{"bytes": r["png"], "path": r["name"].split("/")[-1]} for r in items],
                "label": [r["label"] for r in items], "source": [r["source"] for r in items],
                "start": [r["start"] for r in items], "end": [r["end"] for r in items],
            }, features=features)
            ds.to_parquet(str(out / "data" / f"{split}-00000-of-00001.parquet"))
        (out / "stats.json").write_text(json.dumps({"mean": 0.5, "std": 0.25}))

    import yaml
    card = {"license": "cc0-1.0", "tags": ["audio", "spectrogram"],
            "configs": [{"config_name": "default", "data_files": data_files, "features": features._to_yaml_list()}]}
    (out / "README.md").write_text(
        "---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n\n"
        f"# {name}\n\nMel spectrograms of tiny bird calls, labelled by species. Built by spectroset.\n")

    cfg = Config.model_validate({"name": name, "source": {"path": "/data/recordings"},
                                 "output": {"layout": layout, "path": str(out)}})
    (out / ".spectroset").mkdir(exist_ok=True)
    (out / ".spectroset" / "journal.sqlite").write_bytes(b"SQLite format 3\0 private build state")
    (out / ".spectroset" / "lock").write_text("4242")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".spectroset" not in p.parts)
    build = {"config": cfg.model_dump(mode="json"), "config_hash": cfg.hash(), "counts": {s: len(r) for s, r in rows.items()},
             "skipped": [], "files": {f: "0" * 64 for f in files}}
    (out / "build.json").write_text(json.dumps(build, indent=2))
    return out


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


@pytest.fixture
def client_env(tmp_path) -> dict[str, str]:
    """A clean environment: no real credentials, caches and temp files inside tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGING", "KAGGLE_", "VERBOSE")) and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({
        "HOME": str(home), "TMPDIR": str(tmp_path / "tmp"), "XDG_CONFIG_HOME": str(home / ".config"),
        "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
        "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(HERE)]),
        "SPECTROSET_RETRY_BASE_S": "0.05",
    })
    (tmp_path / "tmp").mkdir()
    return env


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


def run_client(*args: str, env: dict[str, str], timeout: float = 60, files: list[Path] = ()) -> Result:
    """Run ``push_client.py ARGS`` (the push CLI or a load_dataset helper) in a child process."""
    proc = subprocess.run([sys.executable, str(HERE / "push_client.py"), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO_ROOT))
    return Result(proc.returncode, proc.stdout, proc.stderr)
