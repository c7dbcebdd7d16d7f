"""``spectroset report``: one static, self-contained HTML page about a built dataset.

Everything is inline (CSS, images and audio clips as ``data:`` URIs, SVG histograms), so the page
opens from disk, offline, and can be mailed around. It reads only what a downloaded dataset has:
``build.json`` (counts, config, skipped files), the metadata (``*/metadata.csv``, or the parquet
shards' non-image columns) and the images/clips of the few windows it shows. A small inline script
writes, once the page has loaded, how many images and clips the browser could decode.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

from ..errors import LayoutError
from ..plan.names import plural as _n
from .inspect import reading
from .tar_rows import read_members, webdataset_rows

PER_LABEL = 4  # windows shown per label, from as many different recordings as there are
MAX_LABELS = 60  # beyond this the page would be megabytes of thumbnails; the table still lists all

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
.muted{color:#666}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.all td{font-weight:600}
.charts{display:flex;gap:32px;flex-wrap:wrap}.tiles{display:flex;gap:12px;flex-wrap:wrap}
figure{margin:0;width:300px}figure img{width:300px;height:auto;display:block;border:1px solid #ccc;background:#000}
figcaption{font-size:12px;color:#444;overflow-wrap:anywhere}audio{width:300px;height:32px;margin-top:4px}
pre{background:#f6f6f6;padding:12px;overflow:auto;font-size:12px}svg text{font:11px system-ui,sans-serif}
"""

_CHECK = """
window.addEventListener("load", function () {
  var audios = Array.prototype.slice.call(document.querySelectorAll("audio"));
  var waits = audios.map(function (a) {
    return a.readyState >= 1 ? null : new Promise(function (done) {
      a.addEventListener("loadedmetadata", done); a.addEventListener("error", done);
    });
  });
  Promise.all(waits).then(function () {
    var imgs = Array.prototype.slice.call(document.images);
    var okImg = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
    var okAudio = audios.filter(function (a) { return a.readyState >= 1 && a.duration > 0; }).length;
    var p = document.getElementById("load-check");
    p.setAttribute("data-images", okImg + "/" + imgs.length);
    p.setAttribute("data-audio", okAudio + "/" + audios.length);
    p.textContent = "Loaded in this browser: " + okImg + " of " + imgs.length + " images, " +
      okAudio + " of " + audios.length + " audio clips.";
  });
});
"""


def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def read_rows(out: Path, record: dict) -> list[dict]:
    """Every window as ``{split, label, source, start, end, image, audio}`` in canonical order.

    Reads only the files ``record["files"]`` lists (``data/*.parquet`` or ``*.tar`` shards, or each
    split's ``metadata.csv`` / ``.parquet``), never a folder glob. ``image`` is a file path, ``(parquet,
    row)`` or a tar ``Member``; ``audio`` None or the same: read only for the windows the page shows."""
    files = record.get("files") or {}
    if record.get("layout") == "webdataset":
        return webdataset_rows(out, files, lambda rel: _listed(out, rel))
    if record.get("layout") == "parquet":
        rows = []
        for rel in sorted(f for f in files if f.startswith("data/") and f.endswith(".parquet")):
            split = rel[len("data/"):].split("-")[0]
            with reading(out / rel):
                rows += _parquet_rows(out, _listed(out, rel), split, None)
        return rows
    rows = []
    mirror = record.get("layout") == "mirror"
    for split in ["train"] if mirror else list(record.get("splits", {})):
        base = "" if mirror else f"{split}/"
        rel = next((base + m for m in ("metadata.csv", "metadata.parquet") if base + m in files), None)
        if rel is None:
            raise LayoutError(f"{out}: build.json lists no metadata file for split {split!r}; rerun the build")
        meta = _listed(out, rel)
        if rel.endswith(".parquet"):
            with reading(meta):
                rows += _parquet_rows(out, meta, split, meta.parent)
            continue
        with reading(meta), open(meta, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                rows.append(dict(split=split, label=r.get("label") or "(none)", source=r["source"],
                                 start=float(r["start"]), end=float(r["end"]),
                                 image=_inside(out, meta.parent / r["file_name"]), audio=None))
    return rows


def _listed(out: Path, rel: str) -> Path:
    path = out / rel
    if not path.is_file():
        raise LayoutError(f"{path}: missing, though build.json lists it; rerun the build")
    return path


def _inside(out: Path, path: Path) -> Path:
    """``path`` if it stays inside ``out`` (symlinks resolved): a tampered file_name must not put
    another file of this machine into a page that gets mailed around."""
    if not path.resolve().is_relative_to(out.resolve()):
        raise LayoutError(f"{path}: a metadata file_name points outside {out}; rerun the build")
    return path


def _parquet_rows(out: Path, path: Path, split: str, image_dir: Path | None) -> list[dict]:
    """Rows of a parquet shard (images inside) or of an image folder's ``metadata.parquet``
    (``image_dir``: where its ``file_name`` points)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    meta = json.loads((pf.schema_arrow.metadata or {}).get(b"huggingface", b"{}"))
    names = meta.get("info", {}).get("features", {}).get("label", {}).get("names")
    cols = [c for c in ("file_name", "label", "source", "start", "end") if c in pf.schema_arrow.names]
    has_audio = "audio" in pf.schema_arrow.names
    rows = []
    for i, r in enumerate(pf.read(columns=cols).to_pylist()):
        label = r.get("label")
        label = "(none)" if label is None else names[label] if names and isinstance(label, int) else str(label)
        image = (path, i) if image_dir is None else _inside(out, image_dir / r["file_name"])
        rows.append(dict(split=split, label=label, source=r["source"], start=r["start"], end=r["end"],
                         image=image, audio=(path, i) if has_audio else None))
    return rows


def pick_gallery(rows: list[dict], per_label: int = PER_LABEL) -> dict[str, list[dict]]:
    """Per label, the first window of each recording in order, then more windows if still short."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_label[r["label"]].append(r)
    picked = {}
    for label in sorted(by_label):
        items, seen = by_label[label], set()
        first = [r for r in items if not (r["source"] in seen or seen.add(r["source"]))]
        rest = [r for r in items if r not in first[:per_label]]
        picked[label] = sorted((first[:per_label] + rest)[:per_label], key=lambda r: (r["source"], r["start"]))
    return picked


def _load_media(picked: dict[str, list[dict]]) -> None:
    """Fill ``png``/``flac`` bytes of the picked windows (one read per parquet file)."""
    wanted: dict[tuple[Path, str], list[dict]] = defaultdict(list)
    for items in picked.values():
        for r in items:
            r["png"] = r["flac"] = None
            for column in ("image", "audio"):
                if isinstance(r[column], tuple):
                    wanted[(r[column][0], column)].append(r)
            read_members(r)  # a webdataset sample's PNG and FLAC
            if isinstance(r["image"], Path):
                with reading(r["image"]):
                    r["png"] = r["image"].read_bytes()
    if wanted:
        import pyarrow.parquet as pq

        for (path, column), items in wanted.items():
            with reading(path):
                cells = pq.ParquetFile(path).read(columns=[column]).column(column).take([r[column][1] for r in items])
            for r, cell in zip(items, cells.to_pylist()):
                r["png" if column == "image" else "flac"] = (cell or {}).get("bytes")


def svg_histogram(values: list[float], title: str, xlabel: str, integer: bool = False, w=420, h=220) -> str:
    """A bar chart of ``values`` as inline SVG (no plotting library in the page)."""
    if not values:
        return f"<p class=muted>{_esc(title)}: no data</p>"
    v = np.asarray(values, dtype=np.float64)
    if integer:
        lo, hi = int(v.min()), int(v.max())
        step = max(1, int(np.ceil((hi - lo + 1) / 20)))
        edges = np.arange(lo, hi + step + 1, step) - 0.5
    else:
        # from 0 (lengths): numpy centres a single value's bin on it, which put -0.46 s on the axis
        edges = np.histogram_bin_edges(v, bins=min(20, max(1, len(np.unique(v)))), range=(0, float(v.max()) or 1))
    counts, edges = np.histogram(v, bins=edges)
    left, bottom, top = 40, 36, 24
    pw, ph = w - left - 10, h - bottom - top
    bw, peak = pw / len(counts), max(1, int(counts.max()))
    parts = [f'<svg width="{w}" height="{h}" role="img">',
             f'<text x="{left}" y="14" font-weight="600">{_esc(title)}</text>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{h - bottom}" text-anchor="end">0</text>']
    for i, c in enumerate(counts):
        bh = ph * c / peak
        a, b = edges[i], edges[i + 1]
        span = f"{a + 0.5:g}" if integer and step == 1 else f"{a:.3g}–{b:.3g}"
        parts.append(f'<rect x="{left + i * bw + 1:.1f}" y="{h - bottom - bh:.1f}" width="{max(bw - 2, 1):.1f}" '
                     f'height="{bh:.1f}" fill="#3b6ea5"><title>{span}: {c}</title></rect>')
    for x, text in ((left, f"{edges[0] + (0.5 if integer else 0):.3g}"), (w - 10, f"{edges[-1] - (0.5 if integer else 0):.3g}")):
        parts.append(f'<text x="{x}" y="{h - bottom + 14}" text-anchor="middle">{text}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 6}" text-anchor="middle">{_esc(xlabel)}</text></svg>')
    return "".join(parts)


def _counts_table(record: dict) -> str:
    splits = list(record.get("splits", {}))
    head = "".join(f"<th>{_esc(s)}</th>" for s in splits)
    body = []
    for label, c in record.get("counts", {}).items():
        cells = "".join(f"<td>{c.get(s, 0)}</td>" for s in splits)
        body.append(f"<tr><td>{_esc(label)}</td>{cells}<td>{sum(c.values())}</td></tr>")
    total = "".join(f"<td>{record['splits'][s]}</td>" for s in splits)
    body.append(f'<tr class="all"><td>all</td>{total}<td>{record.get("windows", 0)}</td></tr>')
    return f"<table><tr><th>label</th>{head}<th>total</th></tr>{''.join(body)}</table>"


def _gallery(picked: dict[str, list[dict]], totals: Counter) -> str:
    out = []
    for label, items in list(picked.items())[:MAX_LABELS]:
        tiles = []
        for r in items:
            audio = ""
            if r.get("flac"):
                audio = f'<audio controls preload="metadata" src="{_uri(r["flac"], "audio/flac")}"></audio>'
            caption = f'{_esc(r["source"])}<br>{r["start"]:g}–{r["end"]:g} s · {_esc(r["split"])}'
            img = _uri(r["png"], "image/png") if r.get("png") else ""
            tiles.append(f'<figure><img src="{img}" alt="{_esc(r["source"])} {r["start"]:g} s">'
                         f"<figcaption>{caption}</figcaption>{audio}</figure>")
        out.append(f"<h3>{_esc(label)} <span class=muted>({_n(totals[label], 'window')})</span></h3>"
                   f'<div class="tiles">{"".join(tiles)}</div>')
    if len(picked) > MAX_LABELS:
        out.append(f"<p class=muted>The first {MAX_LABELS} of {len(picked)} labels are shown.</p>")
    return "".join(out)


def render_report(out: Path, per_label: int = PER_LABEL) -> str:
    """The report of the dataset in ``out`` as one HTML string."""
    from .inspect import finished_build

    out = Path(out)
    record = finished_build(out)
    rows = read_rows(out, record)
    picked = pick_gallery(rows, per_label)
    _load_media(dict(list(picked.items())[:MAX_LABELS]))
    lengths: dict[str, float] = {}
    windows: Counter = Counter()
    for r in rows:
        lengths[r["source"]] = max(lengths.get(r["source"], 0.0), r["end"])
        windows[r["source"]] += 1
    durations = record.get("durations")
    if isinstance(durations, dict):  # the decoded lengths (a 0.04-s file's padded window ends at 5 s)
        lengths = {rel: float(s) for rel, s in durations.items() if isinstance(s, (int, float)) and rel in lengths}
    name = record.get("name", out.name)
    overview = ""
    if (out / "preview.png").is_file():
        overview = (f'<h2>Overview</h2><img alt="a few windows per label" style="max-width:100%" '
                    f'src="{_uri((out / "preview.png").read_bytes(), "image/png")}">')
    skipped = record.get("skipped", [])
    skipped_html = ("<p>None.</p>" if not skipped else "<table><tr><th>file</th><th>reason</th></tr>" + "".join(
        f"<tr><td>{_esc(s['path'])}</td><td style='text-align:left'>{_esc(s['reason'])}</td></tr>" for s in skipped)
        + "</table>")
    side = record.get("skipped_file")
    listed = f" (the first {len(skipped)} below; all in {_esc(side)})" if side else ""
    config = yaml.safe_dump(record.get("config", {}), sort_keys=False, allow_unicode=True)
    rates = ", ".join(f"{r} Hz" for r in record.get("sample_rates", []))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(name)}: spectroset report</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(name)}</h1>",
        f'<p class=muted>{_n(record.get("windows", 0), "window")} from {_n(record.get("sources", 0), "recording")} '
        f'({record.get("audio_hours", 0):.2f} h of audio{", " + rates if rates else ""}), layout '
        f'{_esc(record.get("layout", "?"))}, config hash {_esc(record.get("config_hash", "?"))}. '
        f"{record.get('skipped_total', len(skipped))} file(s) skipped{listed}.</p>",
        overview, "<h2>Windows per label and split</h2>", _counts_table(record),
        "<h2>Recordings</h2><div class=charts>",
        svg_histogram(list(lengths.values()), "Recording length",
                      "seconds" if isinstance(durations, dict) else "seconds (end of its last window)"),
        svg_histogram(list(windows.values()), "Windows per recording", "windows", integer=True), "</div>",
        f"<h2>Gallery</h2><p class=muted>Up to {_n(per_label, 'window')} per label, from different recordings "
        "where possible" + (", with their audio." if any(r.get("flac") for v in picked.values() for r in v) else ".")
        + "</p>", _gallery(picked, Counter(r["label"] for r in rows)),
        f"<h2>Skipped files</h2>{skipped_html}",
        f"<h2>Config</h2><pre>{_esc(config)}</pre>",
        '<p id="load-check" class=muted>Loading…</p>', f"<script>{_CHECK}</script>", "</body></html>",
    ])


def write_report(dataset_dir: Path, out_html: Path) -> None:
    """Write the report of ``dataset_dir`` to ``out_html`` (atomically)."""
    from ..store.atomic import atomic_write

    atomic_write(Path(out_html), render_report(Path(dataset_dir)).encode("utf-8"))
