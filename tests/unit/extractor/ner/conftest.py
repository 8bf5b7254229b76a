"""Shared fixtures of the NER tests: the recogniser, the shared data folder, small CRFs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

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


SmallCrf = Callable[[Iterable[tuple[Any, Sequence[str]]], str], Any]


@pytest.fixture
def train_small_crf(tmp_path: Path) -> SmallCrf:
    """Train a small crfsuite model on ``(items, tags)`` pairs and return its opened tagger.

    40 L-BFGS iterations: enough for the fast decoder's equality tests, which
    need a model that weighs the features under test, not a good one.
    """

    def train(data: Iterable[tuple[Any, Sequence[str]]], name: str) -> Any:
        import pycrfsuite

        trainer = pycrfsuite.Trainer(verbose=False)
        for items, tags in data:
            trainer.append(items, tags)
        trainer.set_params({"c1": 0.05, "c2": 0.05, "max_iterations": 40})
        model = tmp_path / name
        trainer.train(str(model))
        tagger = pycrfsuite.Tagger()
        tagger.open(str(model))
        return tagger

    return train
