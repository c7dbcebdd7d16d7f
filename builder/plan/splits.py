"""Split assignment: seeded, deterministic, and keyed on the recording so windows never leak.

With ``by: source`` every window of a recording lands in the split of its recording. Within each
label (``stratify: true``) or over all recordings, recordings are ordered by a seeded hash of
their path and cut by exact largest-remainder counts, so per-label proportions hold as far as
whole recordings allow, and the result depends on nothing but the paths, labels and seed.
``by: window`` (leaky: the CLI warns) draws each window on its own, per label with ``stratify``
(:func:`assign_window`). ``output.folds`` adds a stratified group k-fold over the recordings
(:func:`assign_folds`).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Iterable

from ..config.output import SplitsConfig

SPLIT_ORDER = ("train", "validation", "test")


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}\x00{key}".encode("utf-8", "surrogatepass")).hexdigest()


def split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Largest-remainder allocation of ``n`` items to splits in canonical order."""
    exact = {k: n * f for k, f in fractions.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    left = n - sum(counts.values())
    order = sorted(fractions, key=lambda k: (-(exact[k] - counts[k]), SPLIT_ORDER.index(k)))
    for k in order[:left]:
        counts[k] += 1
    return counts


def assign_sources(items: Iterable[tuple[str, str | None]], cfg: SplitsConfig) -> dict[str, str]:
    """``{rel: split}`` for ``(rel, label)`` pairs.

    Split sizes over all recordings are the largest-remainder counts of the whole (a 0.1 test
    split of 18 recordings gets 2, even when every label alone would round its share to 0);
    with ``stratify`` each label gets the floor of its exact share in every split, and the
    recordings left over go where the label's remainder is largest while that split still has
    room, so every label is within one recording of its exact share. A label (or, without
    ``stratify``, a whole) with fewer recordings than splits cannot be in all of them: all its
    recordings stay in train (:func:`first_split`), outside the split sizes of the rest; a label
    with more keeps at least one recording in train.
    """
    fractions = cfg.fractions
    first = first_split(fractions)
    if len(fractions) == 1:
        return {rel: first for rel, _ in items}
    groups: dict[str | None, list[str]] = defaultdict(list)
    for rel, label in items:
        groups[label if cfg.stratify else None].append(rel)
    few = {g for g, rels in groups.items() if len(rels) < len(fractions)}
    counts = _stratified_counts({g: len(rels) for g, rels in groups.items() if g not in few}, fractions, cfg.seed)
    counts.update({g: {first: len(groups[g])} for g in few})
    out = {}
    for group, rels in groups.items():
        ordered, i = sorted(rels, key=lambda r: _rank(cfg.seed, r)), 0
        for split in SPLIT_ORDER:
            for rel in ordered[i : i + counts[group].get(split, 0)]:
                out[rel] = split
            i += counts[group].get(split, 0)
    return out


def _stratified_counts(sizes: dict, fractions: dict[str, float], seed: int) -> dict:
    """``{group: {split: n}}``: each group's floors, topped up to the whole's largest-remainder counts."""
    total = split_counts(sum(sizes.values()), fractions)
    exact = {g: {k: n * f for k, f in fractions.items()} for g, n in sizes.items()}
    counts = {g: {k: math.floor(v) for k, v in e.items()} for g, e in exact.items()}
    first = first_split(fractions)
    for g, n in sizes.items():  # every label in train: a model never trained on it cannot score it
        counts[g][first] = max(counts[g][first], min(n, 1))
    room = {k: total[k] - sum(c[k] for c in counts.values()) for k in fractions}
    left = {g: n - sum(counts[g].values()) for g, n in sizes.items()}
    key = lambda g: _rank(seed, f"group\x00{g}")  # noqa: E731 - a seeded, order-free tie-break
    wishes = sorted(((g, k) for g in sizes for k in fractions),
                    key=lambda gk: (-(exact[gk[0]][gk[1]] - counts[gk[0]][gk[1]]), key(gk[0]), SPLIT_ORDER.index(gk[1])))
    for strict in (True, False):  # first where the group lost a share to rounding, then anywhere with room
        for g, k in wishes:
            if left[g] and room[k] and (not strict or exact[g][k] > counts[g][k]):
                counts[g][k] += 1
                left[g] -= 1
                room[k] -= 1
    return counts


def first_split(fractions: dict[str, float]) -> str:
    """Where recordings too few to spread go: train, or the first split asked for."""
    return "train" if "train" in fractions else next(iter(fractions))


def window_offsets(items: Iterable[tuple[str, str | None, int]], seed: int) -> dict[str, int]:
    """``{rel: offset}`` for ``(rel, stratum, windows)`` recordings: the position of each
    recording's window 0 in its stratum's sequence, the stratum's recordings in a seeded order,
    each taking ``windows`` positions (``by: window`` with ``stratify``; see :func:`assign_window`)."""
    groups: dict[str | None, list[tuple[str, int]]] = defaultdict(list)
    for rel, stratum, n in items:
        groups[stratum].append((rel, n))
    out = {}
    for members in groups.values():
        at = 0
        for rel, n in sorted(members, key=lambda m: _rank(seed, m[0])):
            out[rel], at = at, at + max(n, 1)
        # a recording that gives more windows than its header said overlaps the next one's
        # positions: still seeded and deterministic, only a little less even
    return out


def assign_window(rel: str, index: int, cfg: SplitsConfig, offset: int | None = None,
                  stratum: str | None = None) -> str:
    """Split of one window under ``by: window`` (windows of one recording may differ: leaky).

    With ``stratify`` and the recording's ``offset`` (:func:`window_offsets`), window ``index`` is
    position ``offset + index`` of its stratum's (label's) sequence, dealt out as a line is drawn
    on a pixel grid (Bresenham, with a seeded phase per label and split): test takes every
    position where ``floor(k * share + phase)`` steps, validation the same over the positions
    left, train the rest. So every run of a label's positions holds each split's share
    within two windows, and the answer needs only ``k``: workers place windows as they are decoded,
    before all of them are known, so a split over the finished list (scikit-learn's
    ``StratifiedShuffleSplit``) cannot decide it. Without, a seeded hash per window.
    """
    fractions = cfg.fractions
    if cfg.stratify and offset is not None:
        k, left = offset + index, 1.0
        for split in reversed(list(fractions)[1:] if "train" in fractions else list(fractions)[:-1]):
            share = min(fractions[split] / left, 1.0)
            phase = int(_rank(cfg.seed, f"phase\x00{split}\x00{stratum}")[:13], 16) / float(1 << 52)
            before = math.floor(k * share + phase)  # positions < k this split took
            if math.floor((k + 1) * share + phase) > before:
                return split
            k, left = k - before, left - fractions[split]
        return "train" if "train" in fractions else list(fractions)[-1]
    u = int(_rank(cfg.seed, f"{rel}\x00{index}")[:12], 16) / float(1 << 48)
    acc = 0.0
    for split in SPLIT_ORDER:
        acc += fractions.get(split, 0.0)
        if u < acc:
            return split
    return next(reversed(fractions))


def assign_folds(items: Iterable[tuple[str, Iterable[str]]], k: int, seed: int = 0) -> dict[str, int]:
    """``{rel: fold}`` (0 … k-1) for ``(rel, labels)`` recordings: stratified group k-fold.

    Every recording (group) is in one fold. Recordings are placed rarest label first, each in
    the fold that holds the fewest recordings of its labels so far, then the fewest recordings,
    then a seeded order of folds; so with one label per recording every label's recordings are
    spread over the folds within one of each other, and fold sizes within one too. Depends only
    on the paths, labels, ``k`` and ``seed``, never on input order.
    """
    groups = {rel: tuple(sorted(set(labels))) for rel, labels in items}
    freq: dict[str, int] = defaultdict(int)
    for labels in groups.values():
        for label in labels:
            freq[label] += 1

    def order(rel: str) -> tuple:
        labels = groups[rel]
        rarest = min(labels, key=lambda lab: (freq[lab], lab)) if labels else ""
        return (freq.get(rarest, 0), rarest, _rank(seed, rel))

    per_label: dict[str, list[int]] = defaultdict(lambda: [0] * k)
    sizes = [0] * k
    out = {}
    for rel in sorted(groups, key=order):
        labels = groups[rel]
        fold = min(range(k), key=lambda f: (sum(per_label[lab][f] for lab in labels), sizes[f],
                                            _rank(seed, f"{rel}\x00fold{f}")))
        out[rel] = fold
        sizes[fold] += 1
        for lab in labels:
            per_label[lab][fold] += 1
    return out
