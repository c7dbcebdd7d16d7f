"""Train a tiny CNN on a spectroset build and print accuracy per held-out split or fold.

    python examples/train.py OUT [--epochs N] [--seed S] [--random-split]

It loads OUT with `datasets.load_dataset` (imagefolder or parquet layout) and evaluates the safe
way the build offers: its held-out splits (validation, test) if it has any, else one round per
value of the `fold` column (recordings never span folds), else 20% of the recordings held out.
Images are normalised with stats.json's `image` mean/std. `--random-split` pools every row and
draws the folds per window instead, which puts windows of one recording on both sides: a leak,
printed for comparison only (docs/training.md). Needs torch: pip install "spectroset[gpu]".
"""

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit('examples/train.py needs torch: pip install "spectroset[gpu]"')
from datasets import ClassLabel, concatenate_datasets, load_dataset
from datasets.utils.logging import disable_progress_bar


def tensors(ds, mean, std):
    """A split as ``(images (n, channels, height, width) float32 normalised, labels (n,))``."""
    ds = ds.with_format("torch", columns=["image", "label"])[:]
    x = ds["image"].float() / 255  # uint8 (n, c, h, w) in recent datasets; (n, h, w[, c]) in older ones
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1), ds["label"]


def tiny_cnn(channels, classes):
    """About 6 M multiply-adds for a 128 x 313 image: a few seconds an epoch on two CPU cores."""
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(nn.AvgPool2d(2), *block(channels, 8), *block(8, 16), *block(16, 32),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes))


def train(x, y, classes, epochs, seed, batch=32):
    torch.manual_seed(seed)
    model = tiny_cnn(x.shape[1], classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(seed)
    # Class weights against imbalance, from these rows' counts (stats.json's class_counts holds
    # the same for the whole train split): a class of n windows weighs len(y) / (classes * n).
    weight = len(y) / (classes * torch.bincount(y, minlength=classes).clamp(min=1).float())
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=order).split(batch):
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx], weight=weight).backward()
            opt.step()
    return model.eval()


def scores(pred, y):
    """``(accuracy, balanced accuracy)``: the mean of per-class recalls over the classes in ``y``."""
    recall = [(pred[y == c] == c).float().mean().item() for c in y.unique()]
    return (pred == y).float().mean().item(), sum(recall) / len(recall)


def split_by(rows, keys, held_out):
    """``(rows whose key is not in held_out, rows whose key is)``, by index: no image is decoded."""
    inside = [i for i, key in enumerate(keys) if key in held_out]
    outside = sorted(set(range(rows.num_rows)) - set(inside))
    return rows.select(outside), rows.select(inside)


def rounds(ds, random_split, seed, k=5):
    """``(name, train rows, held-out rows)`` for each evaluation, and a line saying what was chosen."""
    held_out = [s for s in ds if s != "train"]
    if random_split:  # the leak: windows of one recording land in both train and held-out rows
        rows = concatenate_datasets([ds[s] for s in ds])
        k = len({f for f in rows["fold"] if f >= 0}) if "fold" in rows.features else k
        fold = [i % max(k, 2) for i in range(rows.num_rows)]
        random.Random(seed).shuffle(fold)
        how = f"row-level random {max(k, 2)}-fold over all {rows.num_rows} windows (leaks recordings)"
        return how, [(f"fold {f}", *split_by(rows, fold, {f})) for f in sorted(set(fold))]
    train_rows = ds["train"]
    if held_out:
        return f"held-out split(s): {', '.join(held_out)}", [(s, train_rows, ds[s]) for s in held_out]
    folds = sorted({f for f in train_rows["fold"] if f >= 0}) if "fold" in train_rows.features else []
    if len(folds) > 1:
        return f"{len(folds)} folds of the fold column", [
            (f"fold {f}", *split_by(train_rows, train_rows["fold"], {f})) for f in folds]
    recordings = sorted(set(train_rows["source"]))
    random.Random(seed).shuffle(recordings)
    test = set(recordings[: max(1, len(recordings) // 5)])
    how = (f"no held-out split and no fold column: holding out {len(test)} of {len(recordings)} "
           "recordings (set output.folds or output.splits to choose)")
    return how, [("held-out recordings", *split_by(train_rows, train_rows["source"], test))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the build's folder (spectroset build ... OUT)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-split", action="store_true", help="row-level random folds: the leak, to compare")
    args = parser.parse_args()
    if not (args.out / "build.json").is_file():
        parser.error(f"{args.out} is not a spectroset build (no build.json): spectroset build CONFIG OUT first")
    torch.use_deterministic_algorithms(True)
    disable_progress_bar()
    with tempfile.TemporaryDirectory(prefix="spectroset-train-") as cache:  # docs/card.md: why a cache of its own
        ds = load_dataset(str(args.out.resolve()), cache_dir=cache)
        if not isinstance(ds["train"].features.get("label"), ClassLabel):
            sys.exit(f"{args.out}: no `label` ClassLabel column (imagefolder and parquet builds have one; "
                     "a webdataset build keeps it in `json`, an unlabelled build has none)")
        classes = ds["train"].features["label"].num_classes
        stats = json.loads((args.out / "stats.json").read_text()) if (args.out / "stats.json").is_file() else {}
        if "image" in stats:  # per channel, 0-1 scale, over the train split
            mean, std = torch.tensor(stats["image"]["mean"]), torch.tensor(stats["image"]["std"])
            norm = "stats.json's image mean/std"
        else:  # a build from before stats.json had them: compute them from train
            x, _ = tensors(ds["train"], torch.zeros(1), torch.ones(1))
            mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
            norm = "mean/std computed from train (an older build: stats.json has no image key)"
        how, evaluations = rounds(ds, args.random_split, args.seed)
        print(f"{args.out}: {classes} classes; evaluating on {how}; {args.epochs} epochs, seed {args.seed}; "
              f"normalised with {norm}")
        print(f"{'held out':<20} {'rows':>5} {'accuracy':>9} {'balanced':>9} {'majority':>9}")
        total = []
        for name, train_rows, test_rows in evaluations:
            if test_rows.num_rows == 0 or train_rows.num_rows == 0:
                print(f"{name:<20} skipped: no rows")
                continue
            x, y = tensors(train_rows, mean, std)
            model = train(x, y, classes, args.epochs, args.seed)
            xt, yt = tensors(test_rows, mean, std)
            with torch.no_grad():
                acc, bal = scores(model(xt).argmax(1), yt)
            majority = Counter(y.tolist()).most_common(1)[0][0]  # the baseline: train's most common class
            base, _ = scores(torch.full_like(yt, majority), yt)
            total.append((acc, bal, base))
            print(f"{name:<20} {len(yt):>5} {acc:>9.3f} {bal:>9.3f} {base:>9.3f}")
        if len(total) > 1:
            acc, bal, base = (sum(t[i] for t in total) / len(total) for i in range(3))
            print(f"{'mean':<20} {'':>5} {acc:>9.3f} {bal:>9.3f} {base:>9.3f}")
        del ds  # the memory-mapped tables, before the cache goes


if __name__ == "__main__":
    main()
