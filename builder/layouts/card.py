"""The dataset card (``OUT/README.md``) and its preview grid.

The YAML header is what makes ``load_dataset(OUT)`` (and the Hub) return the right features with
no arguments: ``configs`` names each split's files and declares the features (imagefolder stops
inferring ``ClassLabel`` once a metadata file exists), ``dataset_info`` repeats them with split
sizes. The body tells a person what they have and how it was made.
"""

from __future__ import annotations

import io

import yaml

from ..names import end_tag  # noqa: F401  (re-exported for layouts)


def features(layout):
    """The ``datasets.Features`` every split of this build has."""
    from datasets import Array2D, Audio, ClassLabel, Features, Image, List, Value

    plan, cfg = layout.plan, layout.cfg
    f = {"image": Image()}
    if plan.labelled:
        f["label"] = ClassLabel(names=plan.label_names)
    if plan.multilabel:
        f["labels"] = List(ClassLabel(names=plan.label_names))
    f.update(source=Value("string"), start=Value("float64"), end=Value("float64"))
    include, rate = cfg.output.include, cfg.audio.sample_rate
    if include.arrays and rate:
        from ..spectrogram import Spectrogrammer
        from ..windows import window_samples

        spec = Spectrogrammer(cfg.spectrogram, rate)
        f["spectrogram"] = Array2D((spec.n_bins, spec.n_frames(window_samples(cfg.windows, rate)[0])), "float16")
    if include.audio:
        f["audio"] = Audio(sampling_rate=rate) if rate else Audio()
    return Features(f)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:  # the Hub's YAML reader wants plain repeated blocks
        return True


def split_bytes(layout, split: str) -> int:
    """Bytes of the data files of one split (what the Hub shows as its size)."""
    prefix = layout.data_files()[split].split("*", 1)[0]
    return sum((layout.out / rel).stat().st_size for rel in layout.files if rel.startswith(prefix)
               and rel not in ("README.md", "preview.png", "stats.json"))


def card_header(layout, record: dict) -> dict:
    feats = features(layout)._to_yaml_list()
    hub = layout.cfg.publish.hf
    header = {
        "pretty_name": layout.cfg.name,
        "tags": sorted({"audio", "spectrogram", "spectroset", *hub.tags}),
        "task_categories": ["image-classification"] if layout.plan.labelled else [],
        "configs": [{
            "config_name": "default",
            "data_files": [{"split": s, "path": p} for s, p in layout.data_files().items() if s in record["splits"]],
            "features": feats,
        }],
        "dataset_info": {
            "features": feats,
            "splits": [{"name": s, "num_bytes": split_bytes(layout, s), "num_examples": n}
                       for s, n in record["splits"].items()],
        },
    }
    if hub.license:
        header["license"] = hub.license
    if not header["task_categories"]:
        del header["task_categories"]
    return header


def _table(record: dict) -> str:
    splits = list(record["splits"])
    lines = ["| label | " + " | ".join(splits) + " | total |", "|---" * (len(splits) + 2) + "|"]
    for label, c in record["counts"].items():
        cells = [str(c.get(s, 0)) for s in splits]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {sum(c.values())} |")
    lines.append("| **all** | " + " | ".join(str(record["splits"][s]) for s in splits) + f" | {record['windows']} |")
    return "\n".join(lines)


def write_card(layout, record: dict, stats: dict | None) -> None:
    cfg, spec = layout.cfg, layout.cfg.spectrogram
    header = yaml.dump(card_header(layout, record), Dumper=_NoAliases, sort_keys=False, allow_unicode=True)
    repo = cfg.publish.hf.repo_id or "OWNER/NAME"
    geometry = {"stft": f"{spec.n_freqs} STFT bins", "mel": f"{spec.n_mels} mel bands ({spec.mel_scale})",
                "mfcc": f"{spec.n_mfcc} MFCCs"}[spec.kind]
    size = f"{cfg.image.size[0]}×{cfg.image.size[1]}" if cfg.image.size else "native size (frames × bins)"
    parts = [
        f"---\n{header}---\n",
        f"# {cfg.name}\n",
        f"Spectrogram images of {record['sources']} recordings ({record['audio_hours']:.2f} h of audio), "
        f"cut into {cfg.windows.duration:g}-s windows every {cfg.windows.hop:g} s: {record['windows']} images in "
        f"{len(record['splits'])} split(s), built by [spectroset](https://pypi.org/project/spectroset/).\n",
        "## Load it\n",
        "```python\nfrom datasets import load_dataset\n\n"
        f'ds = load_dataset("{repo}")        # from the Hub\n'
        'ds = load_dataset("path/to/this/folder")  # from disk\n```\n',
        "## Contents\n", _table(record) + "\n",
        "![A few windows per label](preview.png)\n" if "preview.png" in layout.files else "",
        "## How the images were made\n",
        f"- Audio: {('resampled to ' + str(cfg.audio.sample_rate) + ' Hz') if cfg.audio.sample_rate else 'native sample rate'}, "
        "mixed to mono (mean of channels).\n"
        f"- Spectrogram: {spec.kind}, n_fft {spec.n_fft}, hop_length {spec.hop_length}, {spec.window} window, "
        f"{geometry}, power {spec.power:g}, scale {spec.scale}"
        + (f" (ref {spec.ref}, top_db {spec.top_db})" if spec.scale == "db" else "") + ".\n"
        f"- Image: normalisation {cfg.image.normalize}, {size}, low frequencies at the "
        f"{'bottom' if cfg.image.origin == 'lower' else 'top'}, {cfg.image.colormap or 'grayscale'}, PNG.\n",
    ]
    if stats:
        parts.append(
            f"\nNormalisation statistics over the train split (scaled values, before 8-bit conversion): "
            f"mean {stats['mean']:.4f}, std {stats['std']:.4f}; per-bin values in `stats.json`.\n"
        )
    if record["skipped"]:
        parts.append(f"\n{len(record['skipped'])} source file(s) were skipped; `build.json` lists each with its reason.\n")
    parts += ["\n## Config\n", "```yaml\n" + yaml.safe_dump(record["config"], sort_keys=False, allow_unicode=True) + "```\n"]
    layout.write_atomic("README.md", "\n".join(parts).encode("utf-8"))


def preview_grid(examples: dict[str, list[bytes]], cfg, tile=(160, 96), max_labels=16) -> bytes | None:
    """A PNG grid: one row per label (first labels in sorted order), a few windows each."""
    from PIL import Image, ImageDraw

    labels = sorted(examples)[:max_labels]
    if not labels:
        return None
    per_row = max(len(examples[l]) for l in labels)
    margin = 120
    grid = Image.new("RGB", (margin + per_row * (tile[0] + 4), len(labels) * (tile[1] + 4)), "white")
    draw = ImageDraw.Draw(grid)
    for r, label in enumerate(labels):
        y = r * (tile[1] + 4)
        draw.text((4, y + tile[1] // 2 - 6), label[:18], fill="black")
        for c, png in enumerate(examples[label]):
            img = Image.open(io.BytesIO(png)).convert("RGB").resize(tile, Image.Resampling.BILINEAR)
            grid.paste(img, (margin + c * (tile[0] + 4), y))
    buf = io.BytesIO()
    grid.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
