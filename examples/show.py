"""Load a built dataset back with `datasets.load_dataset` and print what a user gets.

It loads through a cache of its own, deleted at the end: where a card has `configs` (a parquet
build, custom split names), `datasets` keys its cache for a folder on the card, not on where the
folder is, so another folder of the same name could get this one's cached rows. docs/card.md.
"""

import sys
import tempfile
from collections import Counter
from pathlib import Path

from datasets import load_dataset
from datasets.utils.logging import disable_progress_bar

disable_progress_bar()
out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo").resolve()
cache = tempfile.TemporaryDirectory(prefix="spectroset-show-", ignore_cleanup_errors=True)
ds = load_dataset(str(out), cache_dir=cache.name)
print(f"\nload_dataset({str(out)!r}) →")
for split, part in ds.items():
    names = part.features["label"].names if "label" in part.features else None
    counts = Counter(part["label"]) if names else {}
    per_class = ", ".join(f"{names[i]} {n}" for i, n in sorted(counts.items())) if names else "-"
    print(f"  {split:<10} {part.num_rows:>5} rows   {per_class}")
first = next(iter(ds.values()))
print("  features: " + ", ".join(f"{k}: {type(v).__name__}" for k, v in first.features.items()))
row = first[0]
print(f"  first image: {row['image'].size[0]}x{row['image'].size[1]} {row['image'].mode}, "
      f"from {row['source']} [{row['start']:g}-{row['end']:g} s]")
print(f"  images: {out}/<split>/<label>/*.png   card: {out}/README.md   record: {out}/build.json")
del ds, first, row  # the memory-mapped tables, before the cache goes
cache.cleanup()
