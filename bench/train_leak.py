"""``python -m bench.train_leak [--seeds N] [--epochs N] [OUT]``: the leak of a row-level random split.

Builds ``../shared/corpus/classes`` (else the bundled demo audio) with the ``birdclef-mel`` preset
and ``output.folds=5`` into OUT (default ``bench/work/train-leak``, kept and reused), then runs
``examples/train.py`` per seed twice: on the build's fold column (folds of recordings) and with
``--random-split`` (the same 5-fold loop, folds drawn per window, so windows of one recording
train and test). Prints the markdown table of docs/training.md: mean over folds, then over seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from .corpus import REPO, SHARED, WORK

DEMO = REPO / "examples" / "demo-audio"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def build(out: Path) -> None:
    if (out / "build.json").is_file():
        return  # a rerun reuses it (delete OUT to rebuild)
    source = SHARED if SHARED.is_dir() else DEMO
    subprocess.run([sys.executable, "-m", "builder", "build", "birdclef-mel", "--set", f"source.path={source}",
                    "--set", f"output.path={out}", "--set", "output.folds=5", "--set", "output.splits=null"],
                   check=True, env=ENV, cwd=WORK)


def mean_row(out: Path, seed: int, epochs: int, *flags: str) -> tuple[float, float, float]:
    """``(accuracy, balanced accuracy, majority baseline)``: the ``mean`` line of examples/train.py."""
    ran = subprocess.run([sys.executable, str(REPO / "examples" / "train.py"), str(out), "--seed", str(seed),
                          "--epochs", str(epochs), *flags], check=True, env=ENV, cwd=WORK,
                         capture_output=True, text=True)
    print(ran.stdout, file=sys.stderr)
    line = next(line for line in ran.stdout.splitlines() if line.startswith("mean "))
    acc, bal, base = map(float, line.split()[1:])
    return acc, bal, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=WORK / "train-leak")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    build(args.out.resolve())
    rows = {"5 folds of recordings (the `fold` column)": [], "5 folds of windows (`--random-split`)": []}
    for seed in range(args.seeds):
        for (name, results), flags in zip(rows.items(), ((), ("--random-split",))):
            results.append(mean_row(args.out.resolve(), seed, args.epochs, *flags))

    def cell(values):
        return f"{statistics.mean(values):.2f} ± {statistics.pstdev(values):.2f}"

    print(f"| split ({args.seeds} seeds, {args.epochs} epochs) | accuracy | balanced accuracy | majority baseline |")
    print("|---|---:|---:|---:|")
    for name, results in rows.items():
        print(f"| {name} | " + " | ".join(cell([r[i] for r in results]) for i in range(3)) + " |")
    group, rows_ = rows.values()  # the leak, seed by seed (the same model seed on both sides)
    print("| difference: windows − recordings | " + " | ".join(
        cell([r[i] - g[i] for g, r in zip(group, rows_)]) for i in range(3)) + " |")


if __name__ == "__main__":
    main()
