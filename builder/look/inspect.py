"""``spectroset inspect``: what a built dataset holds, and (``--verify``) whether its bytes are intact."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..errors import LayoutError, one_line
from ..plan.names import plural


def finished_build(out: Path) -> dict:
    """``OUT/build.json`` of a finished spectroset build (:func:`record.read_build` checks its
    shape); else one :class:`LayoutError` line that says what ``out`` is instead. Used by
    inspect, report and push."""
    from ..store.record import read_build

    out = Path(out)
    if not out.is_dir():
        raise LayoutError(f"{out}: not a folder" if out.exists() else f"{out}: no such folder")
    return read_build(out)


@contextlib.contextmanager
def reading(path: Path):
    """A built file that cannot be read (corrupted, edited) as one :class:`LayoutError` line naming
    it, not a reader's traceback (pyarrow's errors are ``ValueError``s and ``OSError``s)."""
    try:
        yield
    except LayoutError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise LayoutError(f"{path}: cannot be read ({detail}); `spectroset inspect --verify` checks every built "
                          "file, and rerunning the build with --repair restores changed ones") from None


def check_files(dataset: Path, record: dict) -> list[str]:
    """Problems found: one line per missing, changed or unexpected data file."""
    from ..store.stamps import sha256_file  # only for --verify

    problems = []
    files = record.get("files", {})
    for rel, digest in files.items():
        path = dataset / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif sha256_file(path) != digest:
            problems.append(f"changed: {rel}")
    problems += [f"unexpected: {rel}" for rel in _loaded_files(dataset, record) if rel not in files]
    return problems


def _loaded_files(dataset: Path, record: dict) -> list[str]:
    """Files that ``load_dataset`` would read as data: a stray one changes what it returns."""
    if record.get("layout") in ("parquet", "webdataset"):
        folders = ["data"]
    elif record.get("layout") == "imagefolder":
        folders = list(record.get("splits", {}))
    else:
        return []
    found = []
    for folder in folders:
        for path in sorted((dataset / folder).rglob("*")):
            rel = path.relative_to(dataset).as_posix()
            if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
                found.append(rel)
    return found


def inspect(dataset: Path, verify: bool = False) -> int:
    rec = finished_build(dataset)
    print(f"{rec['name']}  ({rec['layout']}, {dataset})")
    print(f"  {plural(rec['windows'], 'window')} from {plural(rec['sources'], 'recording')}, "
          f"{rec.get('audio_hours', 0):.2f} h of audio, "
          f"sample rates {', '.join(map(str, rec.get('sample_rates', []))) or '-'}")
    print("  splits: " + ", ".join(f"{k} {v}" for k, v in rec["splits"].items()))
    shown = {label: one_line(label) for label in rec["counts"]}  # a label's line break or ESC stays on its line
    width = max(map(len, shown.values()), default=5)
    for label, per_split in rec["counts"].items():
        print(f"    {shown[label]:<{width}}  " + "  ".join(f"{s} {n}" for s, n in per_split.items()))
    if rec.get("silent_windows_skipped"):
        print(f"  {rec['silent_windows_skipped']} silent windows skipped")
    if rec["skipped"]:
        print(f"  {rec.get('skipped_total', len(rec['skipped']))} source file(s) skipped"
              + (f" (all in {rec['skipped_file']}):" if rec.get("skipped_file") else ":"))
        for s in rec["skipped"][:20]:
            print(f"    {one_line(s['path'])}: {one_line(s['reason'])}")
    print(f"  {len(rec.get('files', {}))} data files, config hash {rec['config_hash']}")
    if not verify:
        return 0
    problems = check_files(dataset, rec)
    for line in problems:
        print(f"  {one_line(line)}")
    if problems:
        kinds = {line.split(":")[0] for line in problems}
        fix = ["rerun the build with --repair to restore them"] if kinds & {"missing", "changed"} else []
        fix += ["move the unexpected files out of the data folders"] if "unexpected" in kinds else []
        raise LayoutError(f"{dataset}: {len(problems)} file(s) fail verification; {' and '.join(fix)}")
    print(f"  verified: all {len(rec.get('files', {}))} files match their build-time checksums")
    return 0
