"""Split assignment: by recording, seeded, exact per-label proportions, never leaking windows."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from builder.config.output import SplitsConfig
from builder.plan.splits import assign_sources, assign_window, split_counts

# A skewed label distribution: one common label, a few rare ones, one singleton.
SKEWED = [(f"{label}/{label}_{i:03d}.ogg", label) for label, n in
          (("common", 200), ("mid", 17), ("rare", 3), ("pair", 2), ("single", 1)) for i in range(n)]
FRACTIONS = [(0.8, 0.1, 0.1), (0.7, 0.15, 0.15), (0.5, 0.5, 0.0), (0.6, 0.0, 0.4)]


def cfg(train, validation, test, **kw) -> SplitsConfig:
    return SplitsConfig(train=train, validation=validation, test=test, **kw)


@pytest.mark.parametrize("fractions", FRACTIONS)
@pytest.mark.parametrize("stratify", [True, False])
def test_every_recording_in_exactly_one_split_over_many_seeds(fractions, stratify):
    rels = [rel for rel, _ in SKEWED]
    for seed in range(25):
        c = cfg(*fractions, seed=seed, stratify=stratify)
        out = assign_sources(SKEWED, c)
        assert sorted(out) == sorted(rels)  # every recording once, none invented
        assert set(out.values()) <= set(c.fractions)
        # exact largest-remainder counts of the whole, labels with fewer recordings than splits in
        # train outside them; each label within one of its share
        few = sum(n for n in Counter(label for _, label in SKEWED).values() if stratify and n < len(c.fractions))
        want = split_counts(len(SKEWED) - few, c.fractions)
        want["train"] += few
        got = Counter(out.values())
        assert {k: got.get(k, 0) for k in c.fractions} == want
        for label, n in Counter(label for _, label in SKEWED).items():
            mine = Counter(out[rel] for rel, lab in SKEWED if lab == label)
            assert not stratify or all(abs(mine[k] - n * f) < 1 for k, f in c.fractions.items())


def test_depends_only_on_paths_labels_and_seed():
    c = cfg(0.8, 0.1, 0.1, seed=3)
    first = assign_sources(SKEWED, c)
    shuffled = SKEWED[:]
    random.Random(0).shuffle(shuffled)
    assert assign_sources(shuffled, c) == first  # input order (e.g. worker completion) is irrelevant
    assert assign_sources(SKEWED, cfg(0.8, 0.1, 0.1, seed=3)) == first
    assert assign_sources(SKEWED, cfg(0.8, 0.1, 0.1, seed=4)) != first
    # adding a recording moves the recordings of its own label, and at most one other (the
    # whole's counts changed by one, so one label's rounding top-up may go elsewhere)
    more = assign_sources(SKEWED + [("rare/rare_new.ogg", "rare")], c)
    assert sum(more[r] != s for r, s in first.items() if not r.startswith("rare/")) <= 1


def test_single_split_takes_everything():
    assert set(assign_sources(SKEWED, cfg(1.0, 0.0, 0.0)).values()) == {"train"}


def test_split_counts_are_exact():
    assert split_counts(10, {"train": 0.8, "validation": 0.1, "test": 0.1}) == {"train": 8, "validation": 1, "test": 1}
    assert split_counts(1, {"train": 0.8, "test": 0.2}) == {"train": 1, "test": 0}
    for n in range(0, 40):
        assert sum(split_counts(n, {"train": 0.7, "validation": 0.15, "test": 0.15}).values()) == n


def test_by_window_is_seeded_but_leaks():
    c = cfg(0.5, 0.5, 0.0, by="window")
    splits = {assign_window("a.wav", i, c) for i in range(50)}
    assert splits == {"train", "validation"}  # documented: windows of one recording differ
    assert [assign_window("a.wav", i, c) for i in range(50)] == [assign_window("a.wav", i, c) for i in range(50)]


@pytest.mark.parametrize("fractions", FRACTIONS)
def test_by_window_with_stratify_cuts_every_label_within_two_windows_of_its_share(fractions):
    from builder.plan.splits import window_offsets

    rng = random.Random(5)
    recordings = [(rel, label, rng.choice([1, 1, 2, 3, 7, 40])) for rel, label in SKEWED]
    for seed in range(10):
        c = cfg(*fractions, by="window", seed=seed)
        offsets = window_offsets(reversed(recordings), seed)  # input order is irrelevant
        assert offsets == window_offsets(recordings, seed)
        got: dict[str, Counter] = {}
        for rel, label, n in recordings:
            for i in range(n):
                got.setdefault(label, Counter())[assign_window(rel, i, c, offsets[rel], label)] += 1
        for label, counts in got.items():
            n = sum(counts.values())
            assert all(abs(counts[k] - n * f) <= 2 for k, f in c.fractions.items()), (label, counts)


def test_end_to_end_no_leak_and_same_bytes_for_any_worker_count(tmp_path):
    import numpy as np
    import soundfile as sf
    from datasets import load_dataset

    from builder.config.loading import load_config
    from builder.pipeline import build

    repo = Path(__file__).resolve().parents[2]
    # 14 recordings of 2.2 s (4 windows each), skewed over 3 labels
    for label, n, base in (("a", 9, 300), ("b", 4, 1300), ("c", 1, 2600)):
        (tmp_path / "src" / label).mkdir(parents=True)
        for i in range(n):
            t = np.arange(int(2.2 * 32000)) / 32000
            noise = np.random.default_rng(base + i).uniform(-0.3, 0.3, len(t))  # FLAC clips stay big: several shards
            sf.write(tmp_path / "src" / label / f"{label}{i}.wav", 0.5 * np.sin(2 * np.pi * (base + 37 * i) * t) + noise, 32000)
    assigned = []
    for workers in (1, 2):
        out = tmp_path / f"j{workers}" / "out"
        cfg = load_config(repo / "examples" / "demo.yaml", [
            f"output.path={out}", f"source.path={tmp_path / 'src'}", "output.layout=parquet",
            "output.splits={train: 0.6, validation: 0.2, test: 0.2, seed: 7}",
            "output.include={arrays: true, audio: true}", "output.max_shard_size=1MB"])
        build(cfg, workers=workers, progress=False)
        split_of: dict[str, str] = {}
        for split, part in load_dataset(str(out), cache_dir=str(out.parent / "cache")).items():
            for source in part["source"]:
                assert split_of.setdefault(source, split) == split, f"{source} leaks into {split}"
        assert len(split_of) == 14
        assigned.append(split_of)
    assert assigned[0] == assigned[1]
    files = [{p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
              if p.is_file() and ".spectroset" not in p.parts} for out in (tmp_path / "j1" / "out", tmp_path / "j2" / "out")]
    assert any(name.startswith("data/train-00001-of-") for name in files[0])  # several shards
    assert files[0] == files[1]  # byte-identical whatever the worker count
    want = assign_sources([(f"{r.split('/')[0]}/{r.split('/')[1]}", r.split("/")[0]) for r in assigned[0]],
                          cfg.output.splits)
    assert assigned[0] == want


# --------------------------------------------------------------------------- folds

from builder.plan.splits import assign_folds  # noqa: E402


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_folds_are_grouped_stratified_and_balanced(k, seed):
    items = [(rel, [label]) for rel, label in SKEWED]
    folds = assign_folds(items, k, seed)
    assert sorted(folds) == sorted(rel for rel, _ in SKEWED)  # every recording (group) in one fold
    assert set(folds.values()) <= set(range(k))
    for label in {label for _, label in SKEWED}:
        per = Counter(folds[rel] for rel, lab in SKEWED if lab == label)
        counts = [per.get(f, 0) for f in range(k)]
        assert max(counts) - min(counts) <= 1, (label, counts)  # as even as the recording count allows
    sizes = Counter(folds.values())
    assert max(sizes.values()) - min(sizes.get(f, 0) for f in range(k)) <= 1


def test_folds_are_deterministic_and_independent_of_order():
    items = [(rel, [label]) for rel, label in SKEWED]
    first = assign_folds(items, 5, 3)
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    assert assign_folds(shuffled, 5, 3) == first
    assert assign_folds(items, 5, 4) != first


def test_folds_spread_multilabel_recordings():
    rng = random.Random(0)
    items = [(f"r{i:03d}.wav", rng.sample("abcdef", rng.randint(1, 3))) for i in range(120)]
    folds = assign_folds(items, 4)
    for label in "abcdef":
        per = Counter(folds[rel] for rel, labels in items if label in labels)
        counts = [per.get(f, 0) for f in range(4)]
        assert max(counts) - min(counts) <= 3, (label, counts)


def test_small_stratified_splits_get_the_whole_counts():
    """18 recordings in 5 labels at 0.8/0.1/0.1: every label alone rounds its test share to 0,
    but the test split still gets its 2 recordings, and each label stays within one of its share."""
    sizes = {"a": 3, "b": 4, "c": 5, "d": 3, "e": 3}
    items = [(f"{label}/{i}.wav", label) for label, n in sizes.items() for i in range(n)]
    cfg = SplitsConfig(train=0.8, validation=0.1, test=0.1)
    for seed in range(5):
        out = assign_sources(items, cfg.model_copy(update={"seed": seed}))
        assert Counter(out.values()) == {"train": 14, "validation": 2, "test": 2}
        for label, n in sizes.items():
            got = Counter(split for rel, split in out.items() if rel.startswith(label + "/"))
            for split, fraction in cfg.fractions.items():
                assert abs(got[split] - n * fraction) < 1
        assert out == assign_sources(list(reversed(items)), cfg.model_copy(update={"seed": seed}))


@pytest.mark.parametrize("fractions", [{"train": 0.8, "validation": 0.2},
                                       {"train": 0.7, "validation": 0.15, "test": 0.15}])
def test_labels_with_fewer_recordings_than_splits_stay_in_train(fractions):
    """docs/evaluation.md's rule: one label of 7 recordings and 12 of one each (the default preset's
    finding) sent two singletons to validation, and at 0.7/0.15/0.15 singletons to test."""
    items = [(f"sp1/{i}.wav", "sp1") for i in range(7)] + [(f"sp{k}/0.wav", f"sp{k}") for k in range(2, 14)]
    for seed in range(10):
        out = assign_sources(items, SplitsConfig(**fractions, seed=seed))
        assert {out[f"sp{k}/0.wav"] for k in range(2, 14)} == {"train"}, seed
        sp1 = Counter(split for rel, split in out.items() if rel.startswith("sp1/"))
        assert sp1["train"] >= 1 and all(sp1[k] >= 1 for k in fractions if 7 * fractions[k] >= 1), (seed, sp1)
