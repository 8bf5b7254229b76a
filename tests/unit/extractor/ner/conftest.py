"""Shared fixtures of the NER tests: the loaded recogniser and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from marsad.extractor.ner import Recogniser, load_recogniser

SHARED = Path(__file__).resolve().parents[4] / ".." / "shared"


@pytest.fixture(scope="session")
def rec() -> Recogniser:
    return load_recogniser()


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "data").exists():
        pytest.skip("../shared data folder not present")
    return SHARED
