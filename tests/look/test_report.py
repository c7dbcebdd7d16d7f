"""`spectroset report`: a self-contained page, checked in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builder.cli.main import main
from builder.errors import LayoutError
from builder.look.report import PER_LABEL, render_report

from tests.helpers.look import REPO, demo_build

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser found (tried {', '.join(BROWSERS)}; `apt-get install chromium`)")


def browse(page: Path, tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    proc = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    return proc.stdout


@pytest.fixture(scope="module", params=["imagefolder", "parquet-audio-figure", "imagefolder-metadata-parquet"])
def dataset(request, tmp_path_factory):
    if request.param == "imagefolder":
        return demo_build(tmp_path_factory)
    if request.param == "imagefolder-metadata-parquet":  # clips go to metadata.parquet, not metadata.csv
        return demo_build(tmp_path_factory, "output.include.audio=true", workers=1)
    return demo_build(tmp_path_factory, "image.style=figure", "image.size=[320,160]",
                      "output.layout=parquet", "output.include.audio=true", workers=1)


def test_report_is_self_contained(dataset, tmp_path):
    out, record = dataset
    page = tmp_path / "report.html"
    assert main(["report", str(out), "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', text)
    assert sources and all(s.startswith("data:") for s in sources)
    assert "http://" not in text and "https://" not in text
    for label, counts in record["counts"].items():
        assert f"{label} <span class=muted>({sum(counts.values())} windows)" in text
    n_tiles = sum(min(PER_LABEL, sum(c.values())) for c in record["counts"].values())
    assert text.count("data:image/png;base64,") == n_tiles + 1  # the gallery and the overview grid
    assert text.count("data:audio/flac;base64,") == (n_tiles if record["config"]["output"]["include"]["audio"] else 0)
    assert "<pre>name: spectroset-demo" in text and "<h2>Skipped files</h2><p>None.</p>" in text


def test_report_loads_in_chromium(dataset, tmp_path):
    out, record = dataset
    page = tmp_path / "report.html"
    page.write_text(render_report(out), encoding="utf-8")
    n_tiles = sum(min(PER_LABEL, sum(c.values())) for c in record["counts"].values())
    with_audio = record["config"]["output"]["include"]["audio"]
    # the page's own inline script writes what the browser decoded into the DOM
    dom = browse(page, tmp_path, "--virtual-time-budget=15000", "--dump-dom")
    check = re.search(r'id="load-check"[^>]*data-images="(\d+)/(\d+)" data-audio="(\d+)/(\d+)"', dom)
    assert check, dom[-2000:]
    ok_img, n_img, ok_audio, n_audio = map(int, check.groups())
    assert ok_img == n_img == n_tiles + 1  # the gallery and the overview grid
    assert ok_audio == n_audio == (n_tiles if with_audio else 0)
    shot = tmp_path / "shot.png"
    browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (2000, 1280, 3) and pixels.std() > 20


def test_report_counts_and_gallery_from_metadata(dataset):
    from builder.look.report import pick_gallery, read_rows

    out, record = dataset
    if record["layout"] == "imagefolder" and record["config"]["output"]["include"]["audio"]:
        assert any(f.endswith("/metadata.parquet") for f in record["files"])
        assert not any(f.endswith("/metadata.csv") for f in record["files"])
    rows = read_rows(out, record)
    assert len(rows) == record["windows"]
    picked = pick_gallery(rows)
    assert sorted(picked) == sorted(record["counts"])
    for label, items in picked.items():
        sources = [r["source"] for r in items]
        assert len(set(sources)) == min(len(sources), len({r["source"] for r in rows if r["label"] == label}))


def test_report_of_a_folder_that_is_not_a_dataset(tmp_path):
    with pytest.raises(LayoutError, match="build.json"):
        render_report(tmp_path)
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 4


def test_report_lists_skipped_files_escaped(tmp_path_factory, tmp_path):
    import json

    out, _ = demo_build(tmp_path_factory)
    copy = tmp_path / "ds"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".spectroset"))
    record = json.loads((copy / "build.json").read_text())
    record["skipped"] = [{"path": "birds/<odd>.wav", "reason": "empty file (0 bytes)"}]
    (copy / "build.json").write_text(json.dumps(record))
    text = render_report(copy)
    assert "<td>birds/&lt;odd&gt;.wav</td><td style='text-align:left'>empty file (0 bytes)</td>" in text
    assert "1 file(s) skipped." in text


def test_report_shows_decoded_lengths_and_counts_in_the_right_number(tmp_path, capsys):
    import soundfile as sf

    src = tmp_path / "src" / "wren"
    src.mkdir(parents=True)
    t = np.arange(16000) / 16000
    sf.write(src / "tiny.wav", (0.3 * np.sin(2 * np.pi * 440 * t[:3200])).astype(np.float32), 16000)  # 0.2 s
    sets = ["--set", f"source.path={src.parent}", "--set", "windows.duration=0.5", "--set", "windows.min_last=0",
            "--set", "audio.sample_rate=16000",
            "--set", "spectrogram.f_max=8000", "--set", "output.splits={train: 1.0}", "-j", "1", "-o",
            str(tmp_path / "out")]
    assert main(["build", "birdclef-mel", *sets]) == 0
    assert capsys.readouterr().out.startswith("built 1 window from 1 recording (")
    assert "<p class=muted>1 window from 1 recording (" in render_report(tmp_path / "out")
    sf.write(src / "one.wav", (0.3 * np.sin(2 * np.pi * 880 * t)).astype(np.float32), 16000)  # 1.0 s
    assert main(["build", "birdclef-mel", *sets]) == 0
    text = render_report(tmp_path / "out")
    lengths = text[text.index("Recording length"):text.index("Windows per recording")]
    # 0.2 and 1.0 s in bins from 0: not 0.5 and 1.0, the padded window's end, which share the top bin
    assert "<title>0–0.5: 1</title>" in lengths and ">seconds</text>" in lengths



def _one_short_recording(tmp_path) -> Path:
    """OUT of the demo config on one 0.04-s recording, one window, one split."""
    import soundfile as sf

    src = tmp_path / "src" / "owl"
    src.mkdir(parents=True)
    sf.write(src / "a.wav", (0.5 * np.sin(np.arange(1280) / 5)).astype(np.float32), 32000)  # 0.04 s
    out = tmp_path / "out"
    assert main(["build", str(REPO / "examples" / "demo.yaml"), "-o", str(out), "-j", "1", "--quiet",
                 "--set", f"source.path={src.parent}", "--set", "output.splits=null",
                 "--set", "windows.min_last=0.01"]) == 0
    return out


def test_counts_of_one_read_in_the_singular(tmp_path, capsys):
    """One recording: the card, Croissant, the Kaggle description and the report said "1 recordings",
    "1 images in 1 split(s)", "1 rows", "1 classes", "1 names", "(1 windows)"."""
    import json

    out, page, stage = _one_short_recording(tmp_path), tmp_path / "r.html", tmp_path / "stage"
    assert main(["report", str(out), "-o", str(page)]) == 0
    assert main(["push", str(out), "--to", "kaggle", "--dry-run", str(stage), "--id", "me/one-owl"]) == 0
    capsys.readouterr()
    kaggle = json.loads((stage / "dataset-metadata.json").read_text())
    texts = {"card": (out / "README.md").read_text(), "report": page.read_text(),
             "croissant": (out / "croissant.json").read_text(), "kaggle": json.dumps(kaggle, ensure_ascii=False)}
    for name, text in texts.items():
        wrong = re.findall(r"\b1 (?:[a-z]+ )?(?:recordings|images|rows|classes|names|windows|splits|files)\b|split\(s\)",
                           text)
        assert not wrong, (name, wrong)
    assert "1 recording" in texts["card"] and "1 image in 1 split" in texts["card"] and "(1 window)" in texts["report"]


def test_recording_length_histogram_starts_at_0_s(tmp_path):
    """A single 0.04-s recording: the report's length histogram put its one bar at "-0.46–0.54" s."""
    page = tmp_path / "r.html"
    assert main(["report", str(_one_short_recording(tmp_path)), "-o", str(page)]) == 0
    text = page.read_text()
    lengths = text[text.index("Recording length"):text.index("Windows per recording")]
    assert "<title>0–0.04: 1</title>" in lengths and "-" not in re.sub(r"<[^>]*>", " ", lengths).replace("–", "")


@pytest.mark.parametrize("overrides,rel", [((), "train/metadata.parquet"), (("output.layout=parquet",), None)])
def test_report_of_a_corrupted_metadata_file_is_one_line_naming_it(tmp_path_factory, tmp_path, overrides, rel):
    import json
    import sys

    out, _ = demo_build(tmp_path_factory, *overrides)
    copy = tmp_path / "ds"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".spectroset"))
    rel = rel or sorted(f for f in json.loads((copy / "build.json").read_text())["files"] if f.startswith("data/"))[0]
    (copy / rel).write_bytes(b"PAR1 not a parquet file\n\x00\x01")
    done = subprocess.run([sys.executable, "-m", "builder", "report", str(copy), "-o", str(tmp_path / "r.html")],
                          capture_output=True, text=True, cwd=REPO)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 4 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"error: {copy / rel}: cannot be read (") and "--repair" in lines[0], lines[0]
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("text,why", [(b"[1, 2]", "holds a JSON list, not an object"),
                                      (b"[" * 100000 + b"]" * 100000, "nests its JSON too deep"),
                                      (b'{"label": "x", "start": [1]}', "cannot be read")])
def test_report_of_a_webdataset_sample_whose_json_is_not_columns_is_one_line(tmp_path_factory, tmp_path, text, why):
    """A ``KEY.json`` that parses but is no object of columns (a list, nesting past the decoder's
    recursion limit, a start that is no number): one line naming the shard (exit 4), no traceback."""
    import io
    import json
    import sys
    import tarfile

    out, _ = demo_build(tmp_path_factory, "output.layout=webdataset")
    copy = tmp_path / "ds"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".spectroset"))
    rel = sorted(f for f in json.loads((copy / "build.json").read_text())["files"] if f.endswith(".tar"))[0]
    with tarfile.open(copy / rel) as tar:
        members = [(info, tar.extractfile(info).read()) for info in tar.getmembers()]
    with tarfile.open(copy / rel, "w", format=tarfile.PAX_FORMAT) as tar:
        for i, (info, data) in enumerate(members):
            data = text if i == 1 and info.name.endswith(".json") else data
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    done = subprocess.run([sys.executable, "-m", "builder", "report", str(copy), "-o", str(tmp_path / "r.html")],
                          capture_output=True, text=True, cwd=REPO)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 4 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"error: {copy / rel}: cannot be read (") and why in lines[0], lines[0]
