"""The plan's audio headers: read once per file version, kept in the journal (``builder/sources/headers.py``)."""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

from builder.cli.main import main
from builder.sources.discover import discover
from builder.sources.headers import Headers, read_header
from builder.config.loading import load_config
from builder.store.state import Journal

REPO = Path(__file__).resolve().parents[2]
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


def _many(root: Path, n: int) -> Path:
    """``n`` short recordings in two class folders (copies of the demo's, under new names)."""
    demo = sorted(DEMO.rglob("*.wav"))
    for i in range(n):
        folder = root / f"c{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(demo[i % len(demo)], folder / f"r{i:03d}.wav")
    return root


def test_many_missing_headers_are_read_in_the_workers_once(tmp_path):
    from builder.run.executors import LazyPool
    from builder.sources.headers import PREFETCH_MIN

    sources = _sources(_many(tmp_path / "audio", PREFETCH_MIN + 6))
    for out in ("out", "out2"):
        (tmp_path / out / ".spectroset").mkdir(parents=True)
    pool = LazyPool("local", 2, None)
    try:
        headers = Headers(Journal(tmp_path / "out"))
        headers.prefetch(sources, pool.map, 2)
        assert pool.pool is not None and headers.read == len(sources)  # read by the pool's workers
        assert {s.rel: headers(s) for s in sources} == {s.rel: read_header(s) for s in sources}
        assert headers.read == len(sources)  # nothing read again in this process
    finally:
        pool.close()
    few, unused = Headers(Journal(tmp_path / "out2")), LazyPool("local", 2, None)
    few.prefetch(sources[: PREFETCH_MIN - 1], unused.map, 2)  # too few: read here, as the plan asks
    assert few.read == 0 and unused.pool is None


def test_cli_first_build_of_many_files_reads_headers_in_its_workers_and_is_the_same_at_any_j(
        tmp_path, caplog, monkeypatch):
    from builder.sources import headers
    from builder.sources.headers import PREFETCH_MIN

    audio = _many(tmp_path / "audio", PREFETCH_MIN + 6)
    caplog.set_level(logging.DEBUG, logger="spectroset")
    here = []  # headers read in this process (the pool's workers start from a forkserver here)
    monkeypatch.setattr(headers, "read_header", lambda source, _read=headers.read_header: here.append(1) or _read(source))
    built = {}
    for jobs, read_here in (("1", PREFETCH_MIN + 6), ("2", 0)):
        here.clear()
        out = tmp_path / jobs / "out"
        assert main(["--debug", "build", str(REPO / "examples" / "demo.yaml"), "--set", f"source.path={audio}",
                     "-o", str(out), "--quiet", "-j", jobs]) == 0
        assert _plan_line(caplog) == (PREFETCH_MIN + 6, 0) and len(here) == read_here
        caplog.clear()
        built[jobs] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                       if p.is_file() and ".spectroset" not in p.parts}
    assert built["1"] == built["2"]


def test_ogg_vorbis_lengths_read_from_the_pages_equal_libsndfiles(tmp_path):
    """The Ogg Vorbis fast path (two reads, no decoder set-up) gives soundfile's (frames, rate) for
    every Ogg Vorbis file there is here, and stands aside (None) for anything else."""
    import numpy as np
    import soundfile as sf

    from builder.sources.headers import ogg_vorbis_header

    shared = REPO.parent / "shared" / "corpus"
    files = sorted(p for root in (DEMO, shared) if root.is_dir() for p in root.rglob("*") if p.suffix == ".ogg")
    tone = (0.1 * np.sin(np.arange(48_000 * 3) / 7)).astype(np.float32)
    for i, rate in enumerate((8_000, 22_050, 48_000)):  # made here too: a clean clone has few oggs
        sf.write(tmp_path / f"made{i}.ogg", tone[: rate * 3 - 17 * i], rate, format="OGG", subtype="VORBIS")
        files.append(tmp_path / f"made{i}.ogg")
    sf.write(tmp_path / "flac_named_as.ogg", tone[:8000], 8000, format="FLAC")
    (tmp_path / "text.ogg").write_bytes(b"OggS\0" + b"x" * 100)
    read = 0
    for path in files:
        try:
            info = sf.info(str(path))
        except RuntimeError:  # a broken file of the corpus: decoding decides
            continue
        ours = ogg_vorbis_header(path)
        if info.format == "OGG" and info.subtype == "VORBIS":
            assert ours == (info.frames, info.samplerate), path
            read += 1
        else:
            assert ours is None, path
    assert read >= 3
    assert ogg_vorbis_header(tmp_path / "flac_named_as.ogg") is None
    assert ogg_vorbis_header(tmp_path / "text.ogg") is None
    assert read_header(SimpleNamespace(path=tmp_path / "flac_named_as.ogg", header=None)) == (8000, 8000)
