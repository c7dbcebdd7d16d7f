"""The dataset card (``OUT/README.md``); its preview grid is drawn by ``grid.py``.

The YAML header is what makes ``load_dataset(OUT)`` (and the Hub) return the right features with
no arguments: ``configs`` names each split's files and declares the features, where ``datasets``
cannot find them on its own (an image folder's metadata.parquet carries them, and its card has no
``configs``: docs/card.md), ``dataset_info`` repeats them with split sizes (``header.py``). The body tells a person what they have and how it was made, and where it
comes from and under what terms (``provenance.py``); ``croissant.json`` says the same for
Croissant readers (``croissant.py``). All of them, and the layouts' ``datasets`` features, take
the columns from one table (``features.py``).
"""

from __future__ import annotations

import yaml

from ..plan.names import plural
from . import datasheet
from .croissant import NAME, croissant_bytes
from .features import columns
from .header import card_data
from .inputs import CardInputs
from .markdown import text
from .provenance import PLACEHOLDER, trust_sections
from .use import use_section


def _table(record: dict) -> str:
    splits = list(record["splits"])
    lines = ["| label | " + " | ".join(splits) + " | total |", "|---" * (len(splits) + 2) + "|"]
    for label, c in record["counts"].items():
        cells = [str(c.get(s, 0)) for s in splits]
        lines.append(f"| {text(label)} | " + " | ".join(cells) + f" | {sum(c.values())} |")
    lines.append("| **all** | " + " | ".join(str(record["splits"][s]) for s in splits) + f" | {record['windows']} |")
    return "\n".join(lines)


def _duration(hours: float) -> str:
    if hours >= 1:
        return f"{hours:.2f} h"
    seconds = hours * 3600
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _columns(build) -> str:
    """The features in prose: what each column holds, shapes and units."""
    plan, cfg = build.plan, build.cfg
    feats = {c.name: c for c in columns(plan, cfg)}
    lines = ["- `image`: the window's spectrogram as a PNG (`Image`)."]
    if build.layout == "webdataset":
        lines = ["In the tar shards `image` is `KEY.png` and every other column a key of `KEY.json` (labels by name); "
                 "`load_dataset` returns them as `png` and the struct `json` (labels as `ClassLabel` ids).\n", *lines]
    if "label" in feats and plan.events is not None:
        spec = plan.events
        lines.append("- `label`: the label whose annotated events cover most of the window (ties by name)"
                     + (f", `{spec.background}` where none covers {spec.min_overlap:g} s" if spec.background else "")
                     + f" (`ClassLabel`, {plural(len(plan.label_names), 'name')}, sorted).")
        lines.append(f"- `labels`: every label whose events cover at least {spec.min_overlap:g} s of the window (or "
                     "lie wholly inside it), `label` first, then by name (`List(ClassLabel)`, same names).")
    elif "label" in feats:
        what = "the recording's primary label" if plan.multilabel else "the recording's label"
        lines.append(f"- `label`: {what} (`ClassLabel`, {plural(len(plan.label_names), 'name')}, sorted).")
    if "labels" in feats and plan.events is None:
        lines.append("- `labels`: every label of the recording, primary first, then the secondary labels from the "
                     "CSV (`List(ClassLabel)`, same names as `label`; names that only ever occur as secondary "
                     "labels are included).")
    lines.append("- `source`: the recording's path under the source folder; all windows of a recording share it."
                 if plan.cfg.source.dataset is None else "- `source`: the row of the source dataset, `<split>/<its "
                 "audio path>` (or `<split>/<row index>`); all windows of a row share it.")
    lines.append("- `start`, `end`: the window's position in the recording, in seconds (`end` is nominal: "
                 "`start + duration`, also for a zero-padded last window).")
    lines.append(f"- `audio_seconds`: the seconds of real (not zero-padded) audio in the window: {cfg.windows.duration:g} "
                 "but in a padded last window (its samples / the rate); filter or down-weight mostly padded windows with it.")
    if "fold" in feats:
        lines.append(f"- `fold`: 0-{plan.n_folds - 1}, a stratified group k-fold of the train split (all windows "
                     "of a recording in one fold, each label's recordings spread evenly); -1 in other splits.")
    if plan.columns:
        kinds = ", ".join(f"`{c}` ({t})" for c, t in plan.columns.items())
        lines.append(f"- {kinds}: kept from the source CSV (`source.labels.keep_columns`), the recording's values on "
                     "every one of its windows, typed as in the CSV (empty cells are null).")
    shape = feats["spectrogram"].shape if "spectrogram" in feats else None
    if "spectrogram" in feats and len(shape) == 3:
        lines.append(f"- `spectrogram`: the values of every channel ({', '.join(cfg.image.channels)}) before "
                     f"normalisation and 8-bit conversion (`Array3D` float16, shape {shape[0]} channels × "
                     f"{shape[1]} bins × {shape[2]} frames, low frequencies first).")
    elif "spectrogram" in feats:
        lines.append(f"- `spectrogram`: the scaled values the image was drawn from, before normalisation and 8-bit "
                     f"conversion (`Array2D` float16, shape {shape[0]} bins × {shape[1]} frames, low frequencies "
                     "first).")
    if "audio" in feats:
        rate = f"{cfg.audio.sample_rate} Hz" if cfg.audio.sample_rate else "the recording's own rate"
        lines.append(f"- `audio`: the window's mono samples as 24-bit FLAC at {rate} (`Audio`; a padded last "
                     "window is zero-padded). "
                     + ("Loading this folder needs `torchcodec` (`datasets` re-encodes each clip)."
                        if build.layout != "parquet" else
                        "Decoding needs `torchcodec`; "
                        '`ds.cast_column("audio", Audio(decode=False))` gives the FLAC bytes without it.'))
    return "\n".join(lines) + "\n"


def _selection(cfg) -> str:
    """What ``windows.select`` kept, in a sentence (nothing for ``all``)."""
    w = cfg.windows
    what = {"all": "", "first": f"the first {w.per_recording}", "loudest": f"the {w.per_recording} loudest (RMS)",
            "random": f"{w.per_recording} chosen at random (seed {w.seed})",
            "events": f"one window centred on each annotated event{' (at most ' + str(w.per_recording) + ')' if w.per_recording else ''}"}[w.select]
    return f"Windows kept per recording: {what}.\n" if what else ""


def _secondary_only(build) -> str:
    plan = build.plan
    if not plan.multilabel or plan.events is not None:
        return ""
    primary = {s.label for s in plan.sources}
    only = [name for name in plan.label_names if name not in primary]
    if not only:
        return ""
    return (f"{plural(len(only), 'label occurs', 'labels occur')} only among the secondary labels (in `labels`, never in `label`): "
            + ", ".join(map(text, only[:50])) + (", …" if len(only) > 50 else "") + ".\n")


def _files(build) -> str:
    if build.layout == "webdataset":
        extra = "".join(f", `KEY.{ext}` ({what})" for ext, what, on in (
            ("npy", "the `spectrogram` array", build.cfg.output.include.arrays),
            ("flac", "the `audio` clip", build.cfg.output.include.audio)) if on)
        return ("WebDataset tar shards `data/{split}-NNNNN-of-NNNNN.tar` of about "
                f"{build.cfg.output.max_shard_size / 1e6:g} MB, samples in a stable order (recordings sorted by path, "
                f"windows by time): per window `KEY.png` (the `image`), `KEY.json` (every other column, labels by "
                f"name){extra}. `load_dataset` gives them as the columns `png`, `json`"
                + (", `npy`" if build.cfg.output.include.arrays else "")
                + (", `flac`" if build.cfg.output.include.audio else "")
                + " (with `__key__`, `__url__`); `build.json` holds the resolved config, counts, skipped files and a "
                "sha256 per file (`spectroset inspect --verify` checks them).\n")
    if build.layout == "parquet":
        return ("Parquet shards `data/{split}-NNNNN-of-NNNNN.parquet` of about "
                f"{build.cfg.output.max_shard_size / 1e6:g} MB, rows in a stable order (recordings sorted by path, "
                "windows by time); `build.json` holds the resolved config, counts, skipped files and a sha256 per "
                "file (`spectroset inspect --verify` checks them).\n")
    meta = build.metadata_name
    where = "beside the images" if build.layout == "mirror" else "in each split folder"
    sub = any("/" in e.folder for e in build.plan.entries.values()) and build.layout != "mirror"
    where_png = "<folders>" if build.layout == "mirror" else "<split>/<label>/<NNNN>" if sub else "<split>/<label>"
    return (f"PNG files `{where_png}/<stem>_<end>.png` with "
            f"`{meta}` {where}; `build.json` holds the resolved config, counts, skipped files and a sha256 per file "
            "(`spectroset inspect --verify` checks them).\n")


def card_files(build: CardInputs, record: dict, stats: dict | None, preview: bool = False) -> dict[str, bytes]:
    """``README.md`` and ``croissant.json``, name → bytes, for the layout to write in that order;
    ``preview``: a preview grid is written beside them."""
    cfg, spec = build.cfg, build.cfg.spectrogram
    data = card_data(build, record)  # the YAML header (header.py)
    repo = cfg.publish.hf.repo_id or PLACEHOLDER
    geometry = {"stft": f"{spec.n_freqs} STFT bins", "mel": f"{spec.n_mels} mel bands ({spec.mel_scale})",
                "mfcc": f"{spec.n_mfcc} MFCCs"}[spec.kind]
    size = f"{cfg.image.size[0]}×{cfg.image.size[1]}" if cfg.image.size else "native size (frames × bins)"
    splits = cfg.output.splits
    if len(splits.fractions) > 1:
        how = ("by recording: all windows of a recording are in one split" if splits.by == "source"
               else "by window: windows of one recording can be in different splits")
        split_note = (f"Splits ({', '.join(f'{k} {v:g}' for k, v in splits.fractions.items())}) are drawn {how}"
                      f"{', per label' if splits.stratify else ''}, seed {splits.seed}.\n")
    else:
        split_note = ""
    parts = [
        f"# {cfg.name}\n",
        f"Spectrogram images of {plural(record['sources'], 'recording')} ({_duration(record['audio_hours'])} of "
        f"audio), cut into {cfg.windows.duration:g}-s windows every {cfg.windows.hop:g} s: "
        f"{plural(record['windows'], 'image')} in {plural(len(record['splits']), 'split')}, built by [spectroset](https://pypi.org/project/spectroset/).\n",
        _selection(cfg),
        "## Load it\n",
        "```python\nfrom datasets import load_dataset\n\n"
        f'ds = load_dataset("{repo}")        # from the Hub\n'
        'ds = load_dataset("path/to/this/folder")  # from disk: the folder this card is in\n```\n',
        "Every split comes with the features declared in this card's header; no other arguments are needed.\n",
        use_section(build, record, repo),
        *(["## Load it without datasets\n", tools] if (tools := datasheet.other_tools(build)) else []),
        "## Dataset Structure\n", datasheet.structure(build, record),
        "## Columns\n", _columns(build),
        "## Contents\n",
        ("Windows per label (primary label) and split:\n\n" if build.plan.multilabel else "Windows per label and split:\n\n")
        + _table(record) + "\n",
        _secondary_only(build),
        split_note,
        (f"{record['silent_windows_skipped']} silent windows (RMS below {cfg.windows.skip_silent_below_db:g} dB) "
         "were left out.\n" if record.get("silent_windows_skipped") else ""),
        "![A few windows per label](preview.png)\n" if preview else "",
        "## Files\n", _files(build),
        "## Dataset Creation\n", datasheet.creation(build, record),
        "## How the images were made\n",
        f"- Audio: {('resampled to ' + str(cfg.audio.sample_rate) + ' Hz') if cfg.audio.sample_rate else 'native sample rate'}, "
        "mixed to mono (mean of channels).\n"
        f"- Spectrogram: {spec.kind}, n_fft {spec.n_fft}, hop_length {spec.hop_length}, {spec.window} window, "
        f"{geometry}, power {spec.power:g}, scale {spec.scale}"
        + (f" (ref {spec.ref}, top_db {spec.top_db})" if spec.scale == "db" else "")
        + (f" ({_pcen(spec)})" if spec.scale == "pcen" else "") + ".\n"
        + _channels(cfg)
        + (f"- Image: normalisation {cfg.image.normalize}, {size}, low frequencies at the "
         f"{'bottom' if cfg.image.origin == 'lower' else 'top'}, "
         f"{cfg.image.colormap or ('RGB' if len(cfg.image.channels) > 1 else 'grayscale')}, PNG.\n"
         if cfg.image.style == "raw" else
         f"- Image: a labelled figure per window (time and frequency axes, colorbar, title), "
         f"{'x'.join(map(str, cfg.image.size or (640, 320)))} px RGB PNG.\n"),
    ]
    if stats and "channels" in stats:
        parts.append(
            f"\nNormalisation statistics over the train split (values before 8-bit conversion, {stats['frames']} "
            "frames), per channel: " + "; ".join(f"{name} mean {m['mean']:.4f}, std {m['std']:.4f}"
                                                 for name, m in stats["channels"].items())
            + ". Per channel and bin: `channels.<name>.per_bin_mean` and `per_bin_std` in `stats.json` (its "
            "top-level keys repeat the first channel).\n"
        )
    elif stats:
        parts.append(
            f"\nNormalisation statistics over the train split (scaled values, before 8-bit conversion, "
            f"{stats['frames']} frames): mean {stats['mean']:.4f}, std {stats['std']:.4f}; per-bin `per_bin_mean` "
            "and `per_bin_std` in `stats.json`"
            + (", to standardise the `spectrogram` column: `(x - mean) / std`" if cfg.output.include.arrays else "")
            + ".\n"
        )
    if stats:
        parts.append(_image_stats(cfg, stats))
    if record["skipped"]:
        what = "source file(s) or annotation(s)" if build.plan.events is not None else "source file(s)"
        listed = f"`{record['skipped_file']}`" if record.get("skipped_file") else "`build.json`"
        parts.append(f"\n{record.get('skipped_total', len(record['skipped']))} {what} were skipped; {listed} lists "
                     "each with its reason.\n")
    parts += ["\n## Bias, Risks, and Limitations\n", datasheet.risks(build, record)]
    spelled = data["license"]  # the Hub id; for `other`, as the config spells it: the text names it
    spelled = (cfg.publish.hf.license or cfg.publish.license) if spelled == "other" else spelled
    parts += ["", *trust_sections(build, spelled, cfg.publish.citation)]
    parts += ["## Config\n", "```yaml\n" + yaml.safe_dump(record["config"], sort_keys=False, allow_unicode=True) + "```\n"]
    # What str(DatasetCard(text)) gives (tests/card/test_card.py checks), without importing
    # huggingface_hub.repocard, whose Hub client took 0.13 s of every build
    card = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(parts)
    return {"README.md": card.encode("utf-8"),
            NAME: croissant_bytes(build, record, spelled, cfg.publish.citation)}


def _image_stats(cfg, stats: dict) -> str:
    """The card's lines on ``stats.json``'s ``image`` and ``class_counts`` keys and which way bins run."""
    image = stats["image"]
    fmt = lambda values: "[" + ", ".join(f"{v:.4f}" for v in values) + "]"  # noqa: E731
    first = "the lowest frequency" if stats["bin_order"] == "low_to_high_frequency" else "MFCC 0"
    rows = ("" if cfg.image.style != "raw" else
            f"; in the images, row 0 is the {'highest' if cfg.image.origin == 'lower' else 'lowest'} frequency "
            f"(`origin: {cfg.image.origin}`)")
    return (f"Image pixels of the train split on the 0-1 scale, per channel: mean {fmt(image['mean'])}, std "
            f"{fmt(image['std'])} (`stats.json` key `image`, for `torchvision.transforms.Normalize`). "
            + ("Windows per label of the train split, for class weights: `class_counts`. " if "class_counts" in stats else "")
            + f"`per_bin_*` run from {first} at bin 0 up (`bin_order`){rows}.\n")


def _pcen(spec) -> str:
    p = spec.pcen
    return (f"librosa.pcen of the {'power' if spec.power == 2 else 'magnitude' if spec.power == 1 else 'linear'} "
            f"spectrogram × {p.input_scale:g}: gain {p.gain:g}, bias {p.bias:g}, power {p.power:g}, "
            f"time_constant {p.time_constant:g} s, eps {p.eps:g}")


def _channels(cfg) -> str:
    """The card's line on what each image channel holds; empty for a grey image."""
    names = cfg.image.channels
    if len(names) == 1:
        return ""
    what = {"spectrogram": "the scaled spectrogram", "pcen": f"PCEN ({_pcen(cfg.spectrogram)})",
            "delta": "the first derivative of the scaled spectrogram over time (librosa.feature.delta, width "
                     f"{cfg.image.delta_width})",
            "delta2": f"the second derivative over time (librosa.feature.delta order 2, width {cfg.image.delta_width})"}
    shown = list(zip("RGB", names))
    return ("- Channels: " + "; ".join(f"{c} = {what[n]}" for c, n in shown)
            + ("; B = 0" if len(names) == 2 else "")
            + (f"; the `spectrogram` array also holds {', '.join(names[3:])}" if len(names) > 3 else "")
            + ". Each channel of each window is normalised to 8 bits on its own, like a grey image.\n")
