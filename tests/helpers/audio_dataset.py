"""An audio dataset written as the Hub stores one: parquet shards with an ``Audio`` column of
``{bytes, path}`` structs, a ``ClassLabel`` label and the ``huggingface`` schema metadata that
``datasets`` embeds, and a card with a licence and ``configs``. Written with pyarrow directly:
``datasets`` needs torchcodec to write an ``Audio`` cell here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.helpers.cli import DEMO, run_cli, write_config

AUDIO_TYPE = ("struct", [("bytes", "binary"), ("path", "string")])


def audio_table(rows: list[tuple[str, bytes | None, int]], names: list[str], *, label: str = "label",
                sampling_rate: int | None = None):
    """A pyarrow table of ``(path, bytes, label index)`` rows with the ``datasets`` features metadata."""
    import pyarrow as pa

    audio = {"_type": "Audio"} | ({"sampling_rate": sampling_rate} if sampling_rate else {})
    features = {"audio": audio, label: {"names": names, "_type": "ClassLabel"}}
    table = pa.table({
        "audio": pa.array([{"bytes": b, "path": p} for p, b, _ in rows],
                          pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        label: pa.array([i for _, _, i in rows], pa.int64()),
    })
    return table.replace_schema_metadata({b"huggingface": json.dumps({"info": {"features": features}}).encode()})


def card(licence: str | None, splits: list[str]) -> str:
    data_files = "".join(f"  - split: {s}\n    path: data/{s}-*\n" for s in splits)
    head = f"license: {licence}\n" if licence else ""
    return f"---\n{head}configs:\n- config_name: default\n  data_files:\n{data_files}---\n\n# Sounds\n"


def dataset_files(audio_root: Path, splits: dict[str, list[str]], licence: str | None = "cc-by-4.0",
                  group_rows: int = 2) -> dict[str, bytes]:
    """``{repo path: bytes}``: ``splits`` maps a split to files under ``audio_root`` (``label/name``,
    the label from the folder), each split one shard of ``group_rows`` rows per row group."""
    import io

    import pyarrow.parquet as pq

    names = sorted({rel.split("/")[0] for rels in splits.values() for rel in rels})
    out = {"README.md": card(licence, list(splits)).encode()}
    for split, rels in splits.items():
        rows = [(rel.split("/")[-1], (audio_root / rel).read_bytes(), names.index(rel.split("/")[0]))
                for rel in rels]
        buf = io.BytesIO()
        pq.write_table(audio_table(rows, names), buf, row_group_size=group_rows)
        out[f"data/{split}-00000-of-00001.parquet"] = buf.getvalue()
    return out


def write_dataset(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def pngs_by_label(out: Path) -> dict[str, list[str]]:
    """sha256 of every image of an imagefolder build, by its label folder (``split/label/…png``), sorted."""
    import hashlib

    found: dict[str, list[str]] = {}
    for p in sorted(out.rglob("*.png")):
        rel = p.relative_to(out).parts
        if ".spectroset" not in rel and len(rel) >= 3 and rel[0] in ("train", "validation", "test"):
            found.setdefault(rel[1], []).append(hashlib.sha256(p.read_bytes()).hexdigest())
    return {label: sorted(shas) for label, shas in found.items()}


SPLITS = {"train": ["kick_drum/bd_808.aiff", "tabla/tabla_na.flac", "kick_drum/bd_boom.aiff"],
          "test": ["tabla/tabla_ghe8.flac"]}


def dataset_config(tmp_path: Path, dataset, **source) -> Path:
    """A config file reading ``dataset`` (a folder or a Hub id), one train split unless told."""
    path = write_config(tmp_path / "dataset.yaml", tmp_path / "unused", output={"splits": {"train": 1.0}})
    data = yaml.safe_load(path.read_text())
    data["source"] = {"dataset": str(dataset), **source}
    path.write_text(yaml.safe_dump(data))
    return path


def folder_build(tmp_path: Path, splits: dict[str, list[str]] = SPLITS) -> Path:
    """The same recordings as a folder build: the reference the dataset builds must equal."""
    src = tmp_path / "audio"
    for rel in (r for rels in splits.values() for r in rels):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO / rel, src / rel)
    cfg = write_config(tmp_path / "folder.yaml", src, output={"splits": {"train": 1.0}})
    done = run_cli("build", cfg, "-o", tmp_path / "folder-out", "-j", "1")
    assert done.returncode == 0, done.stderr
    return tmp_path / "folder-out"


def one_error(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]
