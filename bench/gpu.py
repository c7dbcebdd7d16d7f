"""GPU figures: the same CLI build with ``spectrogram.device: cpu`` and ``cuda``.

``python -m bench.gpu [JOBS]`` builds ``birdclef-mel`` over the bench corpus twice into fresh
folders, with ``-j JOBS`` (default: all cores) and the device as the only difference, and prints
the wall times, windows per second, and how far the images are apart: the largest grey-level
difference and the share of pixels that differ (GPU and CPU FFTs round differently, so a value on
a level boundary may land one level off; see docs/scaling.md "A GPU"). Without a CUDA GPU it says so and
exits 0, so it is safe to run anywhere.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .corpus import REPO, WORK, make_corpus


def _build(root: Path, out: Path, device: str, jobs: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "builder", "build", "birdclef-mel", "--quiet", "-o", str(out), "-j", jobs,
           "--set", f"source.path={root}", "--set", f"spectrogram.device={device}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return time.perf_counter() - t0


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(path.read_bytes())), dtype=np.int16)


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        print(f"no CUDA GPU visible to torch {torch.__version__}: nothing to measure")
        return
    from builder.executors import default_workers

    jobs = sys.argv[1] if len(sys.argv) > 1 else str(default_workers())
    root = make_corpus(96, 60.0)
    runs = WORK / "gpu"
    times = {device: _build(root, runs / device / "out", device, jobs) for device in ("cpu", "cuda")}
    images = sorted(p.relative_to(runs / "cpu" / "out") for p in (runs / "cpu" / "out").rglob("*.png")
                    if p.name != "preview.png")
    worst, differing, total = 0, 0, 0
    for rel in images:
        a, b = _pixels(runs / "cpu" / "out" / rel), _pixels(runs / "cuda" / "out" / rel)
        worst = max(worst, int(np.abs(a - b).max()))
        differing += int((a != b).sum())
        total += a.size
    shutil.rmtree(runs, ignore_errors=True)
    print(f"{torch.cuda.get_device_name(0)}; corpus {root.name}: {len(images)} windows of 5 s, birdclef-mel, -j {jobs}\n")
    print("| device | wall s | windows / s |")
    print("|---|---:|---:|")
    for device, seconds in times.items():
        print(f"| {device} | {seconds:.1f} | {len(images) / seconds:.0f} |")
    print(f"\nimages: largest difference {worst} grey level(s); {differing / max(total, 1):.4%} of pixels differ")


if __name__ == "__main__":
    main()
