"""``python -m bench.profile AUDIO_DIR [-j N]``: where a ``birdclef-mel`` build's time goes.

Runs one whole build (``-j 1`` by default: the CLI's own process decodes and renders, so one
profile sees all of it) under cProfile and sums the functions' own time (``tottime``) into the
stages a reader can act on: start-up imports, headers read for the plan, decoding, the FFT, the
rest of the spectrogram, PNG encoding, file writes, the journal, and everything else. Prints a
table of milliseconds per window and per recording, and the stages' share. Profiling adds about
10% to Python-heavy stages; compare stages within one run, as the bench compares ratios.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# (stage, test on "file:function" of a profiled function); the first match wins.
STAGES = (
    ("imports (start-up)", lambda f: "<frozen importlib" in f or "_imp." in f or "marshal.loads" in f
     or "builtins.compile" in f or f.endswith(":<module>")),
    ("audio open + header", lambda f: "soundfile.py" in f and "_open" in f),
    ("decode (libsndfile)", lambda f: "soundfile.py" in f),
    ("FFT (scipy pocketfft)", lambda f: "pocketfft" in f),
    ("spectrogram, rest", lambda f: "/dsp/" in f or "c_einsum" in f or "numpy" in f),
    ("PNG encode (libdeflate)", lambda f: "deflate" in f),
    ("journal (sqlite)", lambda f: "sqlite3" in f),
    ("file writes", lambda f: "posix.open" in f or "io.open" in f or ".write" in f or "posix.rename" in f
     or "posix.replace" in f or "posix.unlink" in f or "fsync" in f),
    ("paths (stat, realpath, pathlib)", lambda f: "stat" in f or "posixpath" in f or "pathlib" in f),
)


def stage_of(name: str) -> str:
    return next((stage for stage, test in STAGES if test(name)), "other Python")


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    root, jobs = argv[0], (argv[argv.index("-j") + 1] if "-j" in argv else "1")
    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        args = ["build", "birdclef-mel", "--set", f"source.path={root}", "-o", f"{tmp}/out", "-j", jobs, "-q"]
        wall = time.perf_counter()
        prof.enable()
        from builder.cli.main import main as cli

        code = cli(args)
        prof.disable()
        wall = time.perf_counter() - wall
        record = json.loads(Path(f"{tmp}/out/build.json").read_text()) if not code else {}
    if code:
        raise SystemExit(f"the build failed (exit {code})")
    windows, files = record["windows"], record["sources"]
    stats = pstats.Stats(prof, stream=io.StringIO())
    spent: Counter = Counter()
    for (path, line, func), (_, _, tottime, _, _) in stats.stats.items():
        spent[stage_of(f"{path}:{func}")] += tottime
    total = sum(spent.values())
    print(f"{root}: {windows} windows from {files} recordings, -j {jobs}, {wall:.2f} s under the profiler")
    print("| stage | ms / window | ms / recording | share |\n|---|---:|---:|---:|")
    for stage, seconds in spent.most_common():
        print(f"| {stage} | {1e3 * seconds / windows:.2f} | {1e3 * seconds / files:.2f} | {seconds / total:.0%} |")


if __name__ == "__main__":
    main(sys.argv[1:])
