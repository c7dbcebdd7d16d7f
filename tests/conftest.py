"""Shared fixtures. The audio corpus lives beside the repository, in ``../shared/corpus``."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared audio corpus; tests that need it skip, with the reason, where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"audio corpus not found at {CORPUS} (expected ../shared/corpus beside the repository)")
    return CORPUS
