"""The card's sections from the Hub's dataset card template that a build can fill from what it
knows: Dataset Structure, Dataset Creation (source data, annotations) and "Bias, Risks, and
Limitations" (label balance, zero-padded windows, how much a few recordings weigh).

Pure: the build record, the plan and ``build.kept`` (each recording's windows and padded
windows, counted while the layout wrote its rows) in, markdown out.
"""

from __future__ import annotations

from collections import Counter

from ..config.source import CsvLabels, EventLabels
from ..plan.names import plural
from .markdown import code


def _share(n: int, total: int) -> str:
    return f"{n} of {plural(total, 'window')} ({100 * n / total:.0f}%)" if total else plural(n, "window")


def structure(build, record: dict) -> str:
    """``## Dataset Structure``: what a row is, the splits and their sizes."""
    cfg = build.cfg
    splits = ", ".join(f"{name} {n}" for name, n in record["splits"].items())
    what = "its label, " if build.plan.labelled else ""
    return (f"One row per window: the {cfg.windows.duration:g}-s window of one recording as an image, with "
            f"{what}the recording it comes from and where in it (`source`, `start`, `end`). {plural(record['windows'], 'row')} "
            f"in {plural(len(record['splits']), 'split')}: {splits}. Columns, per-label counts and files are described "
            "below.\n")


def _labels_from(build) -> tuple[str, str]:
    """(where the labels come from, who made them) in words."""
    labels, source = build.cfg.source.labels, build.cfg.source
    if source.dataset is not None and labels != "none":
        column = f"`{source.label_column}` column" if source.label_column else "first `ClassLabel` column"
        return (f"the {column} of {source.origin}, one label per row; every window of a row carries it.",
                "whoever labelled the source dataset; spectroset adds no labels of its own.")
    if isinstance(labels, EventLabels):
        return (f"annotated events (`{labels.events.name}`: a label with start and end times per sound); each "
                f"window takes the label whose events cover most of it"
                + (f", `{labels.background}` where none covers {labels.min_overlap:g} s" if labels.background else
                   ", and windows no event covers are left out") + ".",
                "whoever annotated the events in the source's tables; spectroset adds no labels of its own.")
    if isinstance(labels, CsvLabels):
        extra = f", more labels per recording from `{labels.extra_labels_column}`" if labels.extra_labels_column else ""
        return (f"the `{labels.label_column}` column of `{labels.name}`, one label per recording{extra}; every window "
                "of a recording carries its recording's labels.",
                f"whoever filled in `{labels.name}` (for a public corpus, its recordists or curators); spectroset adds "
                "no labels of its own.")
    if labels == "folder":
        return ("the name of the folder each recording sits in, one label per recording; every window of a "
                "recording carries it.", "whoever sorted the recordings into folders; spectroset adds no labels of "
                                         "its own.")
    return ("none: the dataset is unlabelled (`source.labels: none`).", "no one.")


def creation(build, record: dict) -> str:
    """``## Dataset Creation``: the source data and the annotations."""
    plan = build.plan
    kinds = Counter(s.rel.rsplit(".", 1)[-1].lower() for s in plan.sources if "." in s.rel)
    formats = ", ".join(f"{n} .{ext}" for ext, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    used = record.get("skipped_total", len(record["skipped"]))
    listed = f"`{record['skipped_file']}`" if record.get("skipped_file") else "`build.json`"
    origin, who = _labels_from(build)
    text = [
        "### Source data\n",
        f"{plural(record['sources'], 'recording')} read from {build.cfg.source.origin} ({formats or 'no files'})"
        + (f"; {used} more could not be used ({listed} lists each with its reason)" if used else "")
        + ". The spectrograms were computed as described under *How the images were made*; the recordings "
          "themselves are not included.\n",
        "### Annotations\n",
        f"Labels come from {origin}\n",
        f"Who made them: {who}\n",
    ]
    return "\n".join(text)


def risks(build, record: dict) -> str:
    """``## Bias, Risks, and Limitations``, with its Recommendations."""
    cfg, plan = build.cfg, build.plan
    total = record["windows"]
    lines = []
    totals = {label: sum(c.values()) for label, c in record["counts"].items() if sum(c.values())}
    if plan.labelled and totals:  # labels with no window are named under "Labels missing from a split"
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        (top, n_top), (low, n_low) = ranked[0], ranked[-1]
        balance = f"- Label balance: {code(top)} is {_share(n_top, total)}"
        if len(ranked) > 1:
            balance += f"; the rarest, {code(low)}, {_share(n_low, total)}"
            balance += (f" ({n_top / n_low:.0f} to 1)." if n_low and n_top >= 2 * n_low else ".")
        else:
            balance += "."
        lines.append(balance + " A classifier that always answers the commonest label scores "
                     f"{100 * n_top / total:.0f}% accuracy: report per-label scores.")
        splits = list(record["splits"])
        none = [code(label) for label, c in record["counts"].items() if label not in totals]
        if none:
            lines.append(f"- Labels with no window: {', '.join(none[:10])}{', …' if len(none) > 10 else ''} (every "
                         "recording of them was skipped or gave none): their `ClassLabel` ids have no row.")
        missing = [f"{code(label)} has no window in {', '.join(s for s in splits if not c.get(s))}"
                   for label, c in record["counts"].items()
                   if label in totals and len(splits) > 1 and any(not c.get(s) for s in splits)]
        if missing:
            lines.append("- Labels missing from a split: " + "; ".join(missing[:10]) + ("; …" if len(missing) > 10 else "")
                         + ". Class indices stay those of the header's `ClassLabel` in every split.")
    padded = sum(p for _, p, _ in build.kept.values())
    mostly = sum(m for _, _, m in build.kept.values())
    if cfg.windows.last == "pad":
        lines.append(f"- Zero-padded windows: {_share(padded, total)} {'is' if padded == 1 else 'are'} the last "
                     "window of a recording, padded with silence to the full length (`windows.last: pad`); the "
                     f"padded part is not sound; {mostly} of them {'is' if mostly == 1 else 'are'} more than half padding "
                     "(`audio_seconds` below half the window)."
                     if padded else "- Zero-padded windows: none (no kept window runs past its recording's end).")
    per = sorted((n for n, _, _ in build.kept.values()), reverse=True)
    if per and total:
        k = max(1, len(per) // 10)  # the top tenth
        who = "the recording with the most windows gives" if k == 1 else f"the {k} recordings with the most windows give"
        lines.append(f"- Recordings weigh unevenly: {who} {_share(sum(per[:k]), total)} (per recording: {per[-1]} to "
                     f"{plural(per[0], 'window')}). Windows of one recording share its microphone, place and background, so "
                     "they are not independent samples.")
    if len(record["splits"]) > 1 and cfg.output.splits.by == "window":
        lines.append("- Splits are drawn by window: one recording's windows are in several splits, so scores on the "
                     "held-out splits overestimate how a model does on new recordings.")
    if plan.labelled and plan.events is None:
        lines.append("- Labels name the recording, not each window: a window where the labelled sound is silent "
                     "still carries the label (weak labels).")
    if record.get("silent_windows_skipped"):
        lines.append(f"- {record['silent_windows_skipped']} silent windows were left out: the dataset holds no "
                     "examples of silence for those recordings.")
    lines += ["", "### Recommendations", "",
              "Weight or resample labels by the counts under *Contents*; keep all windows of a recording in one fold "
              "when you split further (`source` names it); check a sample of windows by ear or eye before trusting "
              "the labels for a new use."]
    return "\n".join(lines) + "\n"


FOLDER = "path/to/this/folder"  # the card's stand-in for where the dataset is (kaggle_card puts Kaggle's)


def other_tools(build) -> str:
    """``## Load it without datasets``: the class list and a torchvision snippet whose class indices
    are the header's ``ClassLabel`` ids in every split (``ImageFolder`` on one split numbers only the
    labels that split has), or for parquet shards, pandas and PIL, or for tar shards, the ``webdataset`` library."""
    plan = build.plan
    if not plan.labelled or build.layout == "mirror":
        return ""
    names = plan.label_names
    if build.layout == "webdataset":
        return ("The shards are WebDataset tars; `KEY.json` holds the label by name. With the `webdataset` "
                "library:\n\n```python\nimport glob\n\nimport webdataset as wds\n\n"
                f"CLASSES = {names!r}  # the header's ClassLabel ids\n"
                f'urls = sorted(glob.glob("{FOLDER}/data/train-*.tar"))\n'
                # shardshuffle: the library warns unless it is given; False reads the shards in order
                'pipeline = wds.WebDataset(urls, shardshuffle=False).decode("pil").to_tuple("png", "json")\n'
                "for image, meta in pipeline:\n"
                '    index = CLASSES.index(meta["label"])\n```\n')
    if build.layout == "parquet":
        return ("The shards are plain parquet; `label` is an index into this list (the header's `ClassLabel`):\n\n"
                "```python\nimport glob, io\n\nimport pandas as pd\nfrom PIL import Image\n\n"
                f"CLASSES = {names!r}\n"
                f'df = pd.concat(pd.read_parquet(f) for f in sorted(glob.glob("{FOLDER}/data/train-*.parquet")))\n'
                'image = Image.open(io.BytesIO(df["image"].iloc[0]["bytes"]))\n'
                'name = CLASSES[df["label"].iloc[0]]\n```\n')
    folder = {}  # label → its folder under each split (a safe spelling of the name)
    for e in plan.entries.values():
        if e.label is not None:
            folder.setdefault(e.label, e.folder.split("/")[0])
    mapping = ", ".join(f"{folder.get(n, n)!r}: {i}" for i, n in enumerate(names))
    return (f"{plural(len(names), 'class', 'classes')}; a class's index is its position in the header's `ClassLabel` names. Each split "
            "folder holds `<label>/…/*.png`, but torchvision's `ImageFolder` numbers only the folders of the split "
            "it reads, so a split without some label would get other indices. Name the classes yourself:\n\n"
            "```python\nimport os\n\nfrom torchvision.datasets import ImageFolder\n\n"
            f"CLASSES = {{{mapping}}}  # folder → class index, the same in every split\n\n\n"
            "class Split(ImageFolder):\n"
            "    def find_classes(self, directory):\n"
            "        here = {f: i for f, i in CLASSES.items() if os.path.isdir(os.path.join(directory, f))}\n"
            "        return list(CLASSES), here\n\n\n"
            f'train = Split("{FOLDER}/train")  # images in sub-folders (label/0000/) are found too\n```\n')
