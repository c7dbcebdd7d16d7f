"""``python -m bench.loading [--rounds N]``: what each format costs to store and to load for training.

Builds ``../shared/corpus/classes`` (else the bundled demo audio) with the ``birdclef-mel`` preset
four ways under ``bench/work/loading/`` (kept and reused): imagefolder PNGs, parquet PNGs (also
streamed with ``IterableDataset.reshard()``: a shard per row group), parquet PNGs in 1-MB shards,
and parquet with ``include.arrays`` (float16 spectrograms beside the PNGs).
Then, per build and column, times one pass of a torch ``DataLoader`` (batch 32) over the train
split: map-style (``load_dataset``, then ``with_format("torch")``) and streaming
(``streaming=True``), with 0 and 2 workers; best of ``--rounds`` (a shared machine's neighbours
otherwise decide a ratio). Prints the markdown tables of docs/training.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .corpus import REPO, SHARED, WORK

PARQUET = ["output.layout=parquet"]
BUILDS = {  # name: (--set overrides, the column a model reads, whether the stream is resharded)
    "imagefolder, PNG": (["output.layout=imagefolder"], "image", False),
    "parquet, PNG": (PARQUET, "image", False),
    "parquet, PNG, stream `.reshard()`": (PARQUET, "image", True),
    "parquet, PNG, 1-MB shards": ([*PARQUET, "output.max_shard_size=1MB"], "image", False),
    "parquet + arrays: float16": ([*PARQUET, "output.include.arrays=true"], "spectrogram", False),
}


def build(out: Path, sets: list[str]) -> None:
    if (out / "build.json").is_file():
        return
    source = SHARED if SHARED.is_dir() else REPO / "examples" / "demo-audio"
    args = [f"source.path={source}", f"output.path={out}", "output.splits=null", *sets]
    subprocess.run([sys.executable, "-m", "builder", "build", "birdclef-mel", *(a for s in args for a in ("--set", s))],
                   check=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=out.parent)


def data_bytes(out: Path) -> int:
    """Bytes of what load_dataset reads: the images and metadata, or the parquet shards."""
    files = [p for p in out.rglob("*") if p.is_file() and ".spectroset" not in p.parts
             and (p.suffix in (".png", ".parquet"))]
    return sum(p.stat().st_size for p in files)


def one_pass(ds, workers: int) -> float:
    """Seconds for one pass of a DataLoader over ``ds`` (workers started inside, as an epoch does)."""
    from torch.utils.data import DataLoader

    start = time.perf_counter()
    for _ in DataLoader(ds, batch_size=32, num_workers=workers):
        pass
    return time.perf_counter() - start


def measure(out: Path, column: str, reshard: bool, rounds: int, cache: str) -> dict[str, str]:
    from datasets import load_dataset

    start = time.perf_counter()
    mapped = load_dataset(str(out), split="train", cache_dir=cache)
    first = time.perf_counter() - start
    rows = mapped.num_rows
    mapped = mapped.with_format("torch", columns=[column, "label"])
    streamed = load_dataset(str(out), split="train", streaming=True).select_columns([column, "label"])
    streamed = (streamed.reshard() if reshard else streamed).with_format("torch")  # parquet: a shard per row group
    cells = {"rows": str(rows), "MB": f"{data_bytes(out) / 1e6:.1f}", "first load_dataset s": f"{first:.1f}",
             "shards": str(streamed.num_shards)}
    for name, ds in (("map", mapped), ("stream", streamed)):
        for workers in (0, 2):
            best = min(one_pass(ds, workers) for _ in range(rounds))
            cells[f"{name} {workers}w /s"] = f"{rows / best:,.0f}"
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from datasets import IterableDataset
    from datasets.utils.logging import disable_progress_bar, set_verbosity_error

    disable_progress_bar()
    set_verbosity_error()  # "Too many dataloader workers" for one shard is a result here, not news
    root = WORK / "loading"
    root.mkdir(parents=True, exist_ok=True)
    table = {}
    with tempfile.TemporaryDirectory(prefix="spectroset-loading-") as cache:
        for i, (name, (sets, column, reshard)) in enumerate(BUILDS.items()):
            if reshard and not hasattr(IterableDataset, "reshard"):
                continue  # datasets before 4.x has no reshard()
            out = root / "-".join(s.replace("output.", "").replace("=", "_") for s in sets)
            build(out, sets)
            table[f"{name} (`{column}`)"] = measure(out, column, reshard, args.rounds, f"{cache}/{i}")
            print(name, table[f"{name} (`{column}`)"], file=sys.stderr)
    heads = list(next(iter(table.values())))
    print(f"| build (column) | {' | '.join(heads)} |\n|---|" + "---:|" * len(heads))
    for name, cells in table.items():
        print(f"| {name} | {' | '.join(cells[h] for h in heads)} |")


if __name__ == "__main__":
    main()
