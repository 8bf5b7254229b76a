"""The stacked second-pass CRF: its features of the first pass's tags, and its decoder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marsad.extractor.ner.stacking import (
    read_sidecar,
    stacked_attributes,
    window_attributes,
)
from marsad.extractor.ner.training import load_splits

# Bases of a toy text of two sentences (the words need not be real).
BASES = ["a", "b", "c", "a", "d", "b", "c"]
TAGS = ["B-ORG", "I-ORG", "O", "B-ORG", "O", "B-LOC", "O"]
LENGTHS = [3, 4]


def test_local_features_are_the_tags_of_the_token_and_its_neighbours_in_the_sentence() -> None:
    attrs = stacked_attributes(BASES, TAGS, LENGTHS, non_local=False)
    assert attrs[0] == ["s1=B-ORG", "s1-1=BOS", "s1+1=I-ORG"]
    # The last token of the first sentence does not see the next sentence's first tag.
    assert attrs[2] == ["s1=O", "s1-1=I-ORG", "s1+1=EOS"]
    assert attrs[3] == ["s1=B-ORG", "s1-1=BOS", "s1+1=O"]
    assert all(not a.startswith(("tm=", "em=")) for token in attrs for a in token)


def test_token_majority_counts_the_other_occurrences_only() -> None:
    attrs = stacked_attributes(BASES, TAGS, LENGTHS)
    # "a" is ORG at both places: each sees the other.
    assert "tm=ORG" in attrs[0] and "tm=ORG" in attrs[3]
    # "b": ORG (token 1) and LOC (token 5): each sees the other's label, not its own.
    assert "tm=LOC" in attrs[1] and "tm=ORG" in attrs[5]
    # "c" is never tagged: no majority feature; "d" occurs once.
    assert not [a for a in attrs[2] + attrs[6] + attrs[4] if a.startswith(("tm=", "em="))]


def test_untagged_repetition_of_a_tagged_base_sees_its_entity() -> None:
    bases = ["x", "y", "z", "x"]
    tags = ["B-PERS", "I-PERS", "O", "O"]
    attrs = stacked_attributes(bases, tags, [4])
    assert "tm=PERS" in attrs[3] and "em=PERS" in attrs[3]
    # The tagged occurrence sees the untagged one, and no *other* entity holds "x".
    assert "tm=O" in attrs[0]
    assert not [a for a in attrs[0] if a.startswith("em=")]


def test_entity_majority_takes_the_most_frequent_type_of_the_other_entities() -> None:
    bases = ["n", "p", "n", "q", "n", "r", "n"]
    tags = ["B-LOC", "O", "B-ORG", "I-ORG", "B-ORG", "O", "B-ORG"]
    attrs = stacked_attributes(bases, tags, [7])
    assert "em=ORG" in attrs[0]  # three ORG entities hold "n"
    # Token 2 sees one LOC and two ORG entities (its own is left out): ORG.
    assert "em=ORG" in attrs[2] and "em=LOC" not in attrs[2]


def test_ties_are_broken_in_a_fixed_order() -> None:
    attrs = stacked_attributes(["n", "n", "n"], ["B-MISC", "B-ORG", "B-LOC"], [3])
    # Token 0 sees one ORG and one LOC: LOC comes first in the order.
    assert "em=LOC" in attrs[0] and "tm=LOC" in attrs[0]
    assert "em=ORG" not in attrs[0]


def test_positional_majorities_keep_the_place_in_the_name() -> None:
    # "b k" is a two-word name; "k" alone is a one-word name further on.
    bases = ["b", "k", "x", "b", "k"]
    tags = ["B-PERS", "I-PERS", "O", "O", "B-PERS"]
    attrs = stacked_attributes(bases, tags, [5], positional=True)
    assert "tm=B-PERS" in attrs[1] and "em=B-PERS" in attrs[1]
    # The untagged "b" begins the other name; the lone "k" is its second word.
    assert "em=B-PERS" in attrs[3]
    assert "tm=I-PERS" in attrs[4] and "em=I-PERS" in attrs[4]
    plain = stacked_attributes(bases, tags, [5])
    assert "em=PERS" in plain[4] and "tm=PERS" in plain[4]


def test_windows_do_not_share_first_pass_tags() -> None:
    bases = [["a"], ["a"], ["a"]]
    tags = [["B-LOC"], ["B-LOC"], ["B-ORG"]]
    attrs = window_attributes(bases, tags, window=2)
    assert "tm=LOC" in attrs[0][0] and "tm=LOC" in attrs[1][0]
    # The third sentence is a window alone: no other occurrence.
    assert not [a for a in attrs[2][0] if a.startswith(("tm=", "em="))]


def test_stacked_recogniser_decodes_as_crfsuite_with_the_stacked_features(
    shared: Path, tmp_path: Path
) -> None:
    import pycrfsuite

    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.lexicon import load_gazetteer
    from marsad.extractor.ner.recogniser import DEFAULT_MODEL, CrfRecogniser, load_recogniser
    from marsad.extractor.ner.stacking import StackConfig, stacked_items, write_sidecar
    from marsad.extractor.ner.text import sentence_chunks
    from marsad.extractor.ner.wordbits import NO_BITS
    from marsad.extractor.ner.wordvecs import load_word_vecs, vecs_path

    train_sents, dev = load_splits(shared)
    vecs = load_word_vecs(vecs_path(DEFAULT_MODEL))
    fx = FeatureExtractor(load_gazetteer(), load_clusters(), word_bits=NO_BITS, word_vecs=vecs)
    first = CrfRecogniser(DEFAULT_MODEL)
    sents = train_sents[:300]
    # The shipped model's own tags (not jackknifed: only the decoder is tested here).
    first_tags = first._fast.tag_many([toks for toks, _ in sents])
    bases = [[fx.word(t).base for t in toks] for toks, _ in sents]
    attrs = window_attributes(bases, first_tags, window=10)
    trainer = pycrfsuite.Trainer(verbose=False)
    items = [fx.items(toks) for toks, _ in sents]
    for (_, tags), xseq in zip(sents, stacked_items(items, attrs), strict=True):  # type: ignore[arg-type]
        trainer.append(xseq, tags)
    trainer.set_params({"c1": 0.05, "c2": 0.05, "max_iterations": 40})
    model = tmp_path / "stack.crfsuite"
    trainer.train(str(model))
    # The shipped vectors go next to the second pass too (as ``ner-train --stacked`` writes them).
    shutil.copyfile(vecs_path(DEFAULT_MODEL), vecs_path(model))
    write_sidecar(model, DEFAULT_MODEL, StackConfig())
    assert read_sidecar(model)["non_local"] is True
    rec = load_recogniser(model_path=model)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model))
    assert any(a.startswith("tm=") for a, _ in tagger.info().state_features)
    changed = 0
    for k in range(0, 100, 10):
        words = [t for toks, _ in dev[k : k + 10] for t in toks]
        lengths = [b - a for a, b in sentence_chunks(words)]
        flat_first = [t for s in first._fast.tag_many(_cut(words, lengths)) for t in s]
        text_attrs = stacked_attributes([fx.word(w).base for w in words], flat_first, lengths)
        expected: list[str] = []
        for sent, sent_attrs in zip(
            _cut(words, lengths), _cut(text_attrs, lengths), strict=True
        ):
            xseq = stacked_items([fx.items(sent)], [sent_attrs])[0]  # type: ignore[list-item]
            expected.extend(tagger.tag(xseq))
        assert rec._two_passes(words)[0] == expected  # type: ignore[attr-defined]
        changed += expected != flat_first
    # The second pass is not a copy of the first on every window.
    assert changed > 0


def _cut(flat: list[str] | list[list[str]], lengths: list[int]) -> list:  # type: ignore[type-arg]
    out = []
    pos = 0
    for n in lengths:
        out.append(flat[pos : pos + n])
        pos += n
    return out


@pytest.mark.parametrize("non_local", [True, False])
def test_no_features_without_tokens(non_local: bool) -> None:
    assert stacked_attributes([], [], [], non_local=non_local) == []


def test_marginal_buckets_are_cumulative() -> None:
    import numpy as np

    from marsad.extractor.ner.stacking import marginal_attributes

    attrs = marginal_attributes(np.array([[0.6, 0.35, 0.05]]), ["B-ORG", "O", "B-LOC"])
    assert attrs == [["m1:B-ORG>0.1", "m1:B-ORG>0.3", "m1:B-ORG>0.5", "m1:O>0.1", "m1:O>0.3"]]


def test_fast_marginals_equal_crfsuite_marginals(shared: Path) -> None:
    import numpy as np
    import pycrfsuite

    from marsad.extractor.ner.recogniser import DEFAULT_MODEL, CrfRecogniser

    _, dev = load_splits(shared)
    rec = CrfRecogniser(DEFAULT_MODEL)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(DEFAULT_MODEL))
    sents = [toks for toks, _ in dev[:12]]
    words = [t for s in sents for t in s]
    tags, _, _, marg = rec._fast.tag_tokens_marginals(words, [len(s) for s in sents])
    expected = []
    for toks in sents:
        tagger.set(rec._features.items(toks))
        expected.extend(
            [tagger.marginal(label, i) for label in rec._fast.labels] for i in range(len(toks))
        )
    assert np.allclose(marg, np.array(expected), atol=1e-6)
    assert np.allclose(marg.sum(axis=1), 1.0)
    # The most probable label is usually the Viterbi tag (not always: max-marginal is not Viterbi).
    best = [rec._fast.labels[j] for j in marg.argmax(axis=1)]
    assert sum(b == t for b, t in zip(best, tags, strict=True)) > 0.95 * len(tags)

