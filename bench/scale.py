"""Scale-out figures: the same build with the process pool, a local Ray instance and a Ray cluster.

``python -m bench.scale`` builds the bench corpus (``birdclef-mel``, parquet and imagefolder)
from the CLI, as a user would, in a fresh output folder each time:

- ``-j 2``: the local process pool;
- ``--executor ray``: a private local Ray instance with 2 CPUs (its start-up is in the time);
- ``--executor ray --address``: a two-node Ray cluster (Ray's ``cluster_utils``: two raylets on
  this machine, one CPU each), started before the clock.

It prints wall times, the ratio to the process pool, and whether every output byte equals the
process pool's. On a single machine the cluster cannot be faster than the pool; the figures
show what Ray's scheduling costs, which a cluster with more cores than one machine pays back.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .corpus import REPO, WORK, make_corpus


def _snapshot(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and ".spectroset" not in p.parts}


def _build(root: Path, out: Path, layout: str, *args: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "builder", "build", "birdclef-mel", "--quiet", "-o", str(out),
           "--set", f"source.path={root}", "--set", f"output.layout={layout}", *args]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return seconds


def main() -> None:
    import ray
    from ray.cluster_utils import Cluster

    root = make_corpus(96, 60.0)  # the main bench's corpus
    runs = WORK / "scale"
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    ray.init(address=nodes.address, log_to_driver=False, logging_level=logging.ERROR)
    alive = len([n for n in ray.nodes() if n["Alive"]])
    ray.shutdown()
    rows = []
    try:
        for layout in ("imagefolder", "parquet"):
            pool = _build(root, runs / f"{layout}-pool" / "out", layout, "-j", "2")
            ref = _snapshot(runs / f"{layout}-pool" / "out")
            for name, args in (("local Ray instance, 2 CPUs", ("--executor", "ray", "-j", "2")),
                               (f"Ray cluster, {alive} nodes x 1 CPU", ("--executor", "ray", "--address", nodes.address))):
                out = runs / f"{layout}-{len(rows)}" / "out"  # the folder's name is in the card
                seconds = _build(root, out, layout, *args)
                rows.append((layout, name, seconds, pool, _snapshot(out) == ref))
            rows.append((layout, "-j 2 (process pool)", pool, pool, True))
    finally:
        nodes.shutdown()
        shutil.rmtree(runs, ignore_errors=True)
    windows = len(list(root.rglob("*.ogg"))) * 12
    print(f"corpus: {root.name}, {windows} windows of 5 s, birdclef-mel\n")
    print("| layout | executor | wall s | × process pool | bytes equal the pool's |")
    print("|---|---|---:|---:|---|")
    for layout, name, seconds, pool, same in sorted(rows, key=lambda r: (r[0], r[1] != "-j 2 (process pool)")):
        print(f"| {layout} | {name} | {seconds:.1f} | {seconds / pool:.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
