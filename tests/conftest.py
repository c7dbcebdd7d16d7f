"""Shared fixtures. The audio corpus lives beside the repository, in ``../shared/corpus``.

Where it is absent (a fresh clone), the real-audio tests run on stand-ins instead of skipping:
``nasty_dir`` generates the odd files of ``corpus/nasty`` (``tests/helpers/nasty.py``) and
``classes_dir`` is the bundled CC0 demo audio (``examples/demo-audio/<class>/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DEMO_AUDIO = REPO / "examples" / "demo-audio"
TORCH_MISSING = 'torch is not installed (pip install "spectroset[gpu]")'


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared audio corpus; tests that need it skip, with the reason, where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"audio corpus not found at {CORPUS} (expected ../shared/corpus beside the repository)")
    return CORPUS


@pytest.fixture(scope="session")
def nasty_dir(tmp_path_factory) -> Path:
    """``corpus/nasty``, or a generated folder with the same names, formats, rates and lengths."""
    if (CORPUS / "nasty").is_dir():
        return CORPUS / "nasty"
    from tests.helpers.nasty import make_nasty

    return make_nasty(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def classes_dir() -> Path:
    """Recordings in one folder per class: ``corpus/classes``, else the bundled demo audio."""
    return CORPUS / "classes" if (CORPUS / "classes").is_dir() else DEMO_AUDIO


@pytest.fixture(scope="session")
def torch():
    """torch, for the tests of the GPU path's code (run on the CPU too); they skip, with the reason,
    where it is missing: the lean install (``pip install spectroset``) has none."""
    return pytest.importorskip("torch", reason=TORCH_MISSING)


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_in_the_repository():
    """Fail the run if a test left a file in the repository root, where pytest runs: a process a
    test starts there writes relative paths there (``build.773.json`` and ``build.779.json`` were
    an early thread probe's ``build.<pid>.json``, written into the CLI's working directory, and
    committed by accident). Hidden caches (``.pytest_cache``, ``.hypothesis``) are not counted."""
    before = set(os.listdir(REPO))
    yield
    left = sorted(n for n in set(os.listdir(REPO)) - before if not n.startswith("."))
    if left:
        pytest.fail(f"tests left {', '.join(left)} in {REPO}: give the process a tmp_path to work in")
