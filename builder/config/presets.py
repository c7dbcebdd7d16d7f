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


def preset_folder(path: Path) -> Path | None:
    """The folder of a bundled preset ``path``, else None (a config of the user's)."""
    return Path(path).resolve().parent if is_bundled(path) else None


_PATH_KEYS = (("source", "path"), ("source", "labels", "csv"), ("source", "labels", "events"))
_YOURS = {"source.path": "AUDIO_FOLDER", "source.labels.csv": "LABELS.csv", "source.labels.events": "TABLES"}


def in_this_install(cfg, path: Path):
    """``cfg``, or a ConfigError when the bundled preset ``path`` names a folder of a spectroset
    checkout (``../examples/…``, events-raven's demo audio and tables) that this install lacks (a
    wheel ships the presets, not ``examples/``) and that no ``--set`` replaced: the error names
    the preset and the keys to set, not the nonsense path it would resolve to."""
    import os

    import yaml

    from ..errors import ConfigError

    if preset_folder(path) is None:
        return cfg
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}  # the bundled file, small and ours
    missing = []
    for keys in _PATH_KEYS:
        written, value = raw, cfg
        for key in keys:
            written = written.get(key) if isinstance(written, dict) else None
            value = getattr(value, key, None)
        if isinstance(written, str) and written.startswith("..") and isinstance(value, Path) and not value.exists() \
                and os.path.normpath(value) == os.path.normpath(Path.cwd() / written):
            missing.append((".".join(keys), written))
    if not missing:
        return cfg
    key, written = missing[0]
    sets = " ".join(f"--set {k}={_YOURS[k]}" for k, _ in missing)
    raise ConfigError(f"{written} is the checkout's examples/ folder, which this install lacks: the preset runs as is "
                      f"only from a spectroset checkout; give your own with {sets}", file=Path(path).name, key=key)
