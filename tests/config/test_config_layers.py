"""The config and dsp layers (issue 27): what they import, and config errors that carry their key as data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from builder.config.geometry import check_geometry
from builder.config.loading import parse_config
from builder.config.sections import Config, SpectrogramConfig, WindowsConfig
from builder.errors import ConfigError

BUILDER = Path(__file__).resolve().parents[2] / "builder"
# What each package may import from builder (anywhere in a module, functions included; annotations
# under ``if TYPE_CHECKING:`` do not count): its own package and the layers below it.
BELOW = {"config": ("builder.config", "builder.dsp", "builder.errors"), "dsp": ("builder.dsp", "builder.errors")}


def _imports(path: Path, package: str) -> list[str]:
    """Every builder module ``path`` imports at run time, relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = ["builder", package][: 3 - node.level]  # builder/<package>/<module>.py: . is the package
            found.append(".".join(base + [node.module or ""]) if node.level else node.module or "")
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name.rstrip(".") for name in found if name.startswith("builder")]


@pytest.mark.parametrize("package", sorted(BELOW))
def test_bottom_layers_import_only_below(package):
    wrong = [f"{path.name} imports {name}" for path in sorted((BUILDER / package).glob("*.py"))
             for name in _imports(path, package) if not name.startswith(BELOW[package])]
    assert not wrong


def test_geometry_error_carries_its_key():
    """Checked per recording (a worker, ``spectroset preview``), a geometry error is a ConfigError
    whose ``.key`` and ``.message`` are attributes: nothing is parsed out of its text."""
    cfg = Config(name="x", source={"path": "/audio"}, windows={"duration": 0.01})
    with pytest.raises(ConfigError) as info:
        check_geometry(cfg, 22050)
    assert info.value.key == "windows.duration"
    assert info.value.message == "0.01 s is shorter than n_fft/2 at 22050 Hz"
    assert "@" not in str(info.value)


def test_validation_error_keeps_the_keyed_error(tmp_path):
    """Pydantic keeps a validator's ConfigError in ``ctx``; the loader adds the section and the file."""
    with pytest.raises(ValidationError) as info:
        WindowsConfig(select="first")
    keyed = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(keyed, ConfigError) and keyed.key == "per_recording"
    with pytest.raises(ConfigError) as loaded:
        parse_config({"source": "/audio", "windows": {"select": "first"}}, "x.yaml", tmp_path)
    assert (loaded.value.file, loaded.value.key) == ("x.yaml", "windows.per_recording")
    assert str(loaded.value) == "x.yaml: windows.per_recording: select: first needs per_recording (how many windows to keep)"


def test_derived_defaults_are_computed_while_validating():
    """``windows.hop``, ``spectrogram.win_length`` and ``spectrogram.f_max`` (with a fixed rate) left
    out or null are their computed defaults; no frozen model is written to after it is built."""
    assert WindowsConfig(duration=3).hop == 3 and WindowsConfig(duration=3, hop=None).hop == 3
    assert SpectrogramConfig(n_fft=1024, win_length=None).win_length == 1024
    cfg = Config(name="x", source={"path": "/audio"}, audio={"sample_rate": 32000}, spectrogram={"f_max": None})
    assert cfg.spectrogram.f_max == 16000.0 and cfg.spectrogram.win_length == 2048
    assert WindowsConfig.model_fields["hop"].default_factory is not None
    for path in (BUILDER / "config").glob("*.py"):
        assert "object.__setattr__" not in path.read_text(encoding="utf-8"), path.name
