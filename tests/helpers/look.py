"""Figures, figure-style images and the HTML report: what people look at and listen to.

``demo_build`` builds the bundled demo audio once per set of overrides per test session, so the
figure and report tests share the (slow) builds.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-audio"
DEMO_YAML = REPO / "examples" / "demo.yaml"

_BUILT: dict[tuple, Path] = {}


def demo_config(out: Path, *overrides: str):
    from builder.config.loading import load_config

    return load_config(DEMO_YAML, [f"output.path={out}", f"source.path={DEMO}", *overrides])


def demo_build(tmp_path_factory, *overrides: str, workers: int = 2) -> tuple[Path, dict]:
    """``(OUT, build record)`` of the demo built with ``overrides``; built once per session."""
    from builder.pipeline import build

    key = (overrides, workers)
    if key not in _BUILT:
        out = tmp_path_factory.mktemp("look") / "out"
        report = build(demo_config(out, *overrides), workers=workers, progress=False)
        _BUILT[key] = (out, report.record)
    return _BUILT[key]
