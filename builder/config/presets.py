"""Bundled presets: the YAML files in ``configs/`` (shipped in the package as ``builder/presets``)."""

from __future__ import annotations

from pathlib import Path


def preset_dirs() -> list[Path]:
    here = Path(__file__).resolve().parents[1]  # builder/: the presets ship in builder/presets
    return [p for p in (here / "presets", here.parent / "configs") if p.is_dir()]


def is_bundled(path: Path) -> bool:
    """Whether ``path`` is one of the bundled presets (by its path: ``configs/x.yaml``)."""
    folder = Path(path).resolve().parent
    return any(folder == d.resolve() for d in preset_dirs())


def list_presets() -> list[tuple[str, str, Path]]:
    """``(name, one-line description, path)`` for each preset, sorted by name."""
    seen: dict[str, tuple[str, str, Path]] = {}
    for folder in preset_dirs():
        for path in sorted(folder.glob("*.yaml")):
            if path.stem not in seen:
                seen[path.stem] = (path.stem, _describe(path), path)
    return sorted(seen.values())


def _describe(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def find_preset(name: str) -> Path | None:
    stem = Path(name).stem if name.endswith((".yaml", ".yml")) else name
    if "/" in name.rstrip("/") and not name.endswith((".yaml", ".yml")):
        return None
    for preset, _, path in list_presets():
        if preset == stem:
            return path
    return None


def close_presets(name: str) -> list[str]:
    """Presets a mistyped ``name`` may mean: close in spelling (case aside), or containing it
    (``raven`` → ``events-raven``); at most two, best first."""
    import difflib

    typed = Path(name).stem.lower()
    names = [n for n, _, _ in list_presets()]
    close = difflib.get_close_matches(typed, names, n=2, cutoff=0.7)
    return (close or [n for n in names if len(typed) >= 3 and typed in n])[:2]
