"""The card's "Use it for training" section: the leak-free evaluation loop first.

Windows of one recording are near-duplicates, so the evaluation a user reaches for first — a
random split of the rows — scores windows whose neighbours it trained on (+0.36 accuracy on a
BirdCLEF-style test corpus). The section shows, in about ten lines of Python, the split or fold
loop this build holds: its held-out split(s) by recording, its ``fold`` column, or (a build with
neither) a hold-out by the ``source`` column; then the one sentence on why not a row split.
"""

from __future__ import annotations

from .inputs import CardInputs

WHY = ("Do not split the rows at random (`train_test_split`, `random_split`): the windows of one recording are "
       "near-duplicates (the same animal, microphone and background a few seconds apart), so a random split puts "
       "neighbours of every evaluation window into training and inflates the scores; keep recordings whole, as "
       "above.\n")
TAR = ("(In this WebDataset build a row is `__key__`, `__url__`, `png` and `json`: `fold`, `source` and the other "
       "columns are the fields of `json`, the sample's `KEY.json`; `input_columns=\"json\"` reads them without "
       "decoding the images.)\n\n")


def use_section(build: CardInputs, record: dict, repo: str) -> str:
    """The section's Markdown, heading included."""
    plan, splits = build.plan, build.cfg.output.splits
    first = "train" if "train" in record["splits"] else next(iter(record["splits"]), "train")  # keep_splits may lack one
    held = [s for s in record["splits"] if s != first]
    folds = plan.n_folds if build.cfg.output.folds and plan.n_folds > 1 else 0  # one fold: nothing to cross
    leaky = splits.by == "window" and bool(held)
    tar = build.layout == "webdataset"  # its rows are __key__, __url__, png and json: the columns are KEY.json's
    cut = ('lambda j: j["{c}"] {op}, input_columns="json"' if tar else 'lambda {v}: {v} {op}, input_columns="{c}"')
    own = build.cfg.source.keep_splits  # the source's splits, as its authors cut them: spectroset checks nothing
    lines = ["from datasets import load_dataset", "", f'ds = load_dataset("{repo}")  # or the path of this folder']
    if held and not leaky:
        lines.append(f'train, held_out = ds["{first}"], ds["{held[0]}"]  # '
                     + ("the source dataset's own splits" if own else "whole recordings: none in both"))
    else:
        lines.append(f'train = ds["{first}"]')
    if folds:
        lines += [f"for k in range({folds}):  # {'or ' if held and not leaky else ''}cross-validate: the `fold` "
                  f"{'field' if tar else 'column'} keeps recordings whole",
                  f"    fit = train.filter({cut.format(c='fold', v='f', op='!= k')})",
                  f"    val = train.filter({cut.format(c='fold', v='f', op='== k')})",
                  f"    ...  # train on fit, score on val; report the mean of the {folds} scores"]
    elif not held or leaky:
        lines += ['recordings = sorted({j["source"] for j in train["json"]})' if tar else
                  'recordings = sorted(set(train["source"]))',
                  "held = set(recordings[::5])  # every 5th recording: whole recordings held out",
                  f"fit = train.filter({cut.format(c='source', v='s', op='not in held')})",
                  f"val = train.filter({cut.format(c='source', v='s', op='in held')})"]
    intro = _intro(held, folds, leaky)
    if own and held and not leaky:
        intro = (f"The `{'`, `'.join(held)}` split{'s are' if len(held) > 1 else ' is'} the source dataset's own "
                 "(`source.keep_splits`), as its authors cut them: spectroset did not check that no recording is "
                 "in `train` too" + (f"; the `fold` column cuts `train` into {folds} stratified groups of whole "
                                     "recordings (-1 outside `train`)" if folds else "") + ":\n\n")
    intro += TAR if tar else ""
    return "## Use it for training\n\n" + intro + "```python\n" + "\n".join(lines) + "\n```\n\n" + WHY


def _intro(held: list[str], folds: int, leaky: bool) -> str:
    if leaky:
        return (f"This build's splits were drawn by window (`output.splits.by: window`): windows of one recording "
                f"are in `train` and in `{'`, `'.join(held)}`, so scores on those come out too high. Evaluate on "
                + ("the folds of `train` instead (all windows of a recording are in one fold):\n\n" if folds else
                   "recordings held out whole instead, by the `source` column (or rebuild with `by: source`):\n\n"))
    if held and folds:
        return (f"The `{'`, `'.join(held)}` split{'s hold' if len(held) > 1 else ' holds'} whole recordings that "
                f"`train` does not have; the `fold` column cuts `train` into {folds} stratified groups of whole "
                "recordings for cross-validation (-1 outside `train`):\n\n")
    if held:
        return (f"The `{'`, `'.join(held)}` split{'s hold' if len(held) > 1 else ' holds'} whole recordings that "
                "`train` does not have:\n\n")
    if folds:
        return (f"The `fold` column cuts the rows into {folds} stratified groups of whole recordings for "
                "cross-validation:\n\n")
    return ("This build has one split and no folds (`output.folds: 5` adds them): hold out whole recordings by the "
            "`source` column:\n\n")
