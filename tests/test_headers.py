"""The plan's audio headers: read once per file version, kept in the journal (``builder/headers.py``)."""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

from builder.cli import main
from builder.discover import discover
from builder.headers import Headers, read_header
from builder.loading import load_config
from builder.state import Journal

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo-audio"


def _sources(root: Path):
    cfg = load_config(REPO / "examples" / "demo.yaml", [f"source.path={root}", "output.path=unused"])
    return discover(cfg.source)[0]


def test_a_header_is_read_once_per_file_version(tmp_path):
    audio = tmp_path / "audio"
    shutil.copytree(DEMO, audio)
    (tmp_path / "out" / ".spectroset").mkdir(parents=True)
    sources = _sources(audio)
    first = Headers(Journal(tmp_path / "out"))
    got = {s.rel: first(s) for s in sources}
    assert first.read == len(sources) and all(frames > 0 and rate > 0 for frames, rate in got.values())
    first.save()

    again = Headers(Journal(tmp_path / "out"))
    assert {s.rel: again(s) for s in sources} == got and again.read == 0

    touched = audio / sources[0].rel
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    changed = Headers(Journal(tmp_path / "out"))
    assert {s.rel: changed(s) for s in _sources(audio)} == got and changed.read == 1


def test_unreadable_headers_count_nothing_and_urls_are_not_read(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    assert read_header(SimpleNamespace(path=bad)) == (0, 0)
    assert read_header(SimpleNamespace(path="s3://bucket/a.wav")) is None


def _plan_line(caplog) -> tuple[int, int]:
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("plan:"))
    read, cached = map(int, re.findall(r"\d+", line))
    return read, cached


def test_cli_rebuild_reads_only_new_headers(tmp_path, caplog):
    audio, out = tmp_path / "audio", tmp_path / "out"
    shutil.copytree(DEMO, audio)
    args = ["--debug", "build", str(REPO / "examples" / "demo.yaml"), "--set", f"source.path={audio}", "-o", str(out),
            "--quiet", "-j", "1"]
    caplog.set_level(logging.DEBUG, logger="spectroset")
    assert main(args) == 0
    total = sum(_plan_line(caplog))
    assert _plan_line(caplog) == (total, 0) and total > 1
    caplog.clear()
    folder = next(p for p in sorted(audio.iterdir()) if p.is_dir() and len(list(p.iterdir())) > 1)
    first = sorted(folder.iterdir())[0]
    shutil.copy(first, folder / f"zz_copy{first.suffix}")
    assert main(args) == 0
    assert _plan_line(caplog) == (1, total)
