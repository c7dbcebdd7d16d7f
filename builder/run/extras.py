"""Optional dependencies: which extra of ``pip install "spectroset[...]"`` brings each.

    extra  module       needed for
    gpu    torch        spectrogram.device: cuda | auto (the CPU path never imports torch)
    ray    ray          --executor ray
    dev    pytest, hypothesis, librosa, mlcroissant: the test suite only

A build that asks for one that is missing stops before any work with one line naming the extra
(a :class:`ConfigError`, exit 2), never an ImportError's traceback from inside a worker.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from ..errors import ConfigError

EXTRA = {"torch": "gpu", "ray": "ray", "mlcroissant": "dev", "librosa": "dev"}


def missing(module: str, key: str, wanted: str) -> ConfigError:
    """The one line for ``key: wanted`` when ``module`` is not installed."""
    return ConfigError(f'{wanted} needs {module}, which is not installed: pip install "spectroset[{EXTRA[module]}]"',
                       key=key)


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (torch's import takes seconds)."""
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a half-removed module
        return False


def require(module: str, key: str, wanted: str):
    """``import module``, or the one line naming its extra."""
    try:
        return import_module(module)
    except ImportError:
        raise missing(module, key, wanted) from None


def check_build(device: str, executor: str) -> None:
    """Before a build does anything: the extras its device and executor need are installed. With
    Ray the workers import torch on the cluster, which may have it where this machine does not."""
    if executor == "ray" and not installed("ray"):
        raise missing("ray", "--executor", "ray")
    if device != "cpu" and executor != "ray" and not installed("torch"):
        raise missing("torch", "spectrogram.device", device)
