"""``python -m bench.digests record|check [FILE]``: prove a refactor changed no output byte.

Builds every bundled preset on the bundled demo audio and, where it is there, on
``../shared/corpus/classes``, each in its own layout and in the other of imagefolder/parquet, and
keeps the SHA-256 of every published file as its ``build.json`` lists them (the build record itself
is left out: it names package versions). ``record`` writes them to FILE (default
``bench/work/digests.json``); ``check`` builds again and lists every file whose bytes differ, exit 1
if any does. Presets whose inputs the demo audio cannot stand in for (BirdCLEF soundscape labels)
are skipped, and so said.
"""

from __future__ import annotations

import json
from collections import Counter
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .corpus import REPO, WORK

PRESETS = REPO / "builder" / "presets"
SOURCES = {"demo": REPO / "examples" / "demo-audio", "corpus": REPO.parent / "shared" / "corpus" / "classes"}
NEEDS_OWN_INPUT = {"birdclef-soundscapes"}  # soundscape label CSV: no stand-in in the demo audio


def _layouts(preset: Path) -> list[str]:
    text = preset.read_text()
    own = next((line.split(":", 1)[1].split("#")[0].strip() for line in text.splitlines()
                if line.strip().startswith("layout:")), "imagefolder")
    other = "parquet" if own == "imagefolder" else "imagefolder"
    return [own, other] if own in ("imagefolder", "parquet") else [own, "imagefolder", "parquet"]


def _build(preset: Path, source: Path, layout: str, out: Path) -> dict[str, str]:
    cmd = [sys.executable, "-m", "builder", "build", str(preset), "-o", str(out), "-j", "2", "--quiet",
           "--set", f"output.layout={layout}"]
    if preset.stem != "events-raven":  # its source is the demo audio with its Raven tables
        cmd += ["--set", f"source.path={source}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:][0] if (done.stderr or done.stdout) else str(done.returncode)}
    record = json.loads((out / "build.json").read_text())
    return dict(sorted(record["files"].items()))


def collect() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="spectroset-digests-") as tmp:
        for preset in sorted(PRESETS.glob("*.yaml")):
            if preset.stem in NEEDS_OWN_INPUT:
                print(f"skip {preset.stem}: needs its own inputs")
                continue
            for src_name, source in SOURCES.items():
                if not source.is_dir() or (preset.stem == "events-raven" and src_name != "demo"):
                    continue
                for layout in _layouts(preset):
                    key = f"{preset.stem}/{src_name}/{layout}"
                    out = Path(tmp) / key.replace("/", "-")
                    found[key] = _build(preset, source, layout, out)
                    shutil.rmtree(out, ignore_errors=True)
                    print(f"{key}: {len(found[key])} files")
    return found


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "record"
    path = Path(argv[1]) if len(argv) > 1 else WORK / "digests.json"
    now = collect()
    if mode == "record":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"recorded {sum(map(len, now.values()))} digests of {len(now)} builds in {path}")
        return 0
    before = json.loads(path.read_text())
    diffs = [f"{key}: {rel}" for key in sorted(set(before) | set(now))
             for rel in sorted(set(before.get(key, {})) | set(now.get(key, {})))
             if before.get(key, {}).get(rel) != now.get(key, {}).get(rel)]
    kinds = Counter(d.rsplit("/", 1)[-1] if d.endswith((".md", ".json")) else Path(d).suffix or d for d in diffs)
    print("\n".join(diffs[:50]) or f"same bytes: {sum(map(len, now.values()))} files in {len(now)} builds")
    if diffs:
        print(f"{len(diffs)} file(s) differ: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
