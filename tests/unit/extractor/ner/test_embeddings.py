"""Tests of the word-vector inputs: the shared base-word stream and the fastText path.

gensim is not a marsad dependency: the fastText training test runs only
where it is importable; the error without it is tested everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from marsad.extractor.ner.embeddings import (
    base_corpus,
    build_vectors,
    fasttext_vectors,
    order_by_variance,
    write_stream,
)
from marsad.extractor.ner.text import fold

PARIS = "\u0628\u0627\u0631\u064a\u0633"  # BEH ALEF REH YEH SEEN
WA_BI_PARIS = "\u0648\u0628" + PARIS  # WAW BEH + PARIS: "and in Paris"
LONDON = "\u0644\u0646\u062f\u0646"  # LAM NOON DAL NOON
TEXTS = [
    "وصل الوزير إلى " + PARIS + ".",
    "عقد المؤتمر في " + PARIS + ".",
    "وقال الوزير " + WA_BI_PARIS + ".",
    "وصل الوزير إلى " + LONDON + ".",
] * 3


def test_base_corpus_gives_the_ppmi_vocabulary_and_base_map() -> None:
    words, _, base_of, _ = build_vectors(TEXTS, dims=4, context_size=20)
    corpus = base_corpus(TEXTS)
    assert corpus.words == words
    assert corpus.base_of() == base_of


def test_stream_writes_each_token_as_its_base(tmp_path: Path) -> None:
    corpus = base_corpus(TEXTS, [["\u0641\u064a", WA_BI_PARIS]])  # FEH YEH ("in")
    path = tmp_path / "s.txt"
    assert write_stream(corpus, path) == len(TEXTS) + 1
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(TEXTS) + 1
    assert lines[2].split()[-2:] == [fold(PARIS), "."]  # the clitic form, split
    assert lines[-1].split() == ["\u0641\u064a", fold(PARIS)]
    assert fold(WA_BI_PARIS) not in path.read_text(encoding="utf-8")


def test_rotation_keeps_lengths_and_cosines_and_orders_energy() -> None:
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(50, 6)) * np.array([0.1, 3.0, 1.0, 0.5, 2.0, 0.2])
    rot = order_by_variance(vec)
    np.testing.assert_allclose(np.linalg.norm(rot, axis=1), np.linalg.norm(vec, axis=1))
    np.testing.assert_allclose(rot @ rot.T, vec @ vec.T, atol=1e-9)
    energy = (rot**2).sum(axis=0)
    assert np.all(np.diff(energy) <= 1e-9)
    np.testing.assert_array_equal(order_by_variance(vec), rot)


def test_fasttext_fails_clearly_without_gensim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gensim", None)
    monkeypatch.setitem(sys.modules, "gensim.models", None)
    with pytest.raises(RuntimeError, match="gensim"):
        fasttext_vectors(tmp_path / "s.txt", ["x"])


def test_fasttext_vectors_are_reproducible_unit_rows_even_for_rare_words(tmp_path: Path) -> None:
    pytest.importorskip("gensim")
    rare_toks = [["\u0641\u064a", LONDON + "\u064a"]] * 2  # FEH YEH; LONDON + YEH: twice
    corpus = base_corpus(TEXTS * 5, rare_toks)
    write_stream(corpus, tmp_path / "s.txt")
    words = corpus.words
    rare = fold(LONDON + "\u064a")
    assert rare in words  # kept by base frequency 2 (with the base), below min_count 3
    vec = fasttext_vectors(tmp_path / "s.txt", words, dims=8, epochs=2, min_count=3)
    again = fasttext_vectors(tmp_path / "s.txt", words, dims=8, epochs=2, min_count=3)
    assert vec.shape == (len(words), 8)
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vec, again)
    # The rare word's vector comes from its n-grams, shared with its base.
    sims = vec @ vec[words.index(rare)]
    assert words[int(np.argsort(-sims)[1])] == fold(LONDON)
