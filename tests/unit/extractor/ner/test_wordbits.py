"""Embedding features of the CRF (binarised and real-valued): files, features, the fast decoder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from marsad.extractor.ner.corpus import Sentence
from marsad.extractor.ner.features import FeatureExtractor
from marsad.extractor.ner.lexicon import Gazetteer
from marsad.extractor.ner.training import load_splits, write_model_bits, write_model_embeddings
from marsad.extractor.ner.wordbits import (
    NO_BITS,
    WordBits,
    binarise,
    bits_path,
    build_word_bits,
    load_word_bits,
)
from marsad.extractor.ner.wordvecs import NO_VECS, build_word_vecs, load_word_vecs, vecs_path

if TYPE_CHECKING:
    from tests.unit.extractor.ner.conftest import SmallCrf

WORDS = ["باريس", "لندن", "دمشق", "بشار", "قال"]
# Per dimension (column), the mean of the positive and of the negative values:
# 0.4 and -0.3; 0.25 and -0.2; 0.3 and -0.3.
VECTORS = np.array(
    [
        [0.6, -0.2, -0.2],
        [0.2, -0.2, 0.3],
        [-0.5, 0.4, 0.0],
        [-0.1, 0.1, -0.4],
        [0.0, -0.2, 0.3],
    ]
)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("باريس", ["v+0"]),  # 0.6 > 0.4; -0.2 is not below -0.2
        ("لندن", []),  # 0.2 is above 0 but below the positive mean
        ("دمشق", ["v+1", "v-0"]),
        ("بشار", ["v-2"]),
        ("قال", []),  # 0.3 equals dimension 2's positive mean: not above it
    ],
)
def test_bits_mark_values_beyond_the_signed_means(word: str, expected: list[str]) -> None:
    bits = build_word_bits(WORDS, VECTORS)
    assert bits.features(word, word) == expected


@given(arrays(np.float32, (12, 5), elements=st.floats(-1, 1, width=32)))
@settings(max_examples=50, deadline=None)
def test_a_value_is_never_both_above_and_below(vectors: np.ndarray) -> None:
    pos, neg = binarise(vectors)
    assert not (pos & neg).any()
    assert (vectors[pos] > 0).all() and (vectors[neg] < 0).all()


def test_lookup_by_base_then_folded_form_and_unknown_words() -> None:
    bits = build_word_bits(WORDS, VECTORS)
    # وباريس: the base باريس has the vector.
    assert bits.features("باريس", "وباريس") == ["v+0"]
    # A base the vectors never saw, but a folded form they did.
    assert bits.features("اريس", "دمشق") == ["v+1", "v-0"]
    assert bits.features("كيغالي", "كيغالي") == []
    assert NO_BITS.features("باريس", "باريس") == []


def test_only_the_most_frequent_words_are_kept() -> None:
    bits = build_word_bits(WORDS, VECTORS, keep=2)
    assert len(bits) == 2
    assert bits.features("دمشق", "دمشق") == []
    # The means are still those of the whole vocabulary.
    assert bits.features("باريس", "باريس") == ["v+0"]


def test_file_round_trip_and_the_sidecar_of_a_model(tmp_path: Path) -> None:
    model = tmp_path / "ner.crfsuite"
    path = bits_path(model)
    assert path == tmp_path / "ner.bits.npz"
    assert load_word_bits(path) is NO_BITS
    bits = build_word_bits(WORDS, VECTORS, dims=2)
    write_model_bits(model, bits)
    loaded = load_word_bits(path)
    assert loaded.index == bits.index
    assert [loaded.features(w, w) for w in WORDS] == [bits.features(w, w) for w in WORDS]
    # A model retrained without embedding features leaves no stale file behind.
    write_model_bits(model, NO_BITS)
    assert not path.exists()
    assert load_word_bits(path) is NO_BITS


def test_features_of_the_word_and_its_next_neighbours_only() -> None:
    bits = build_word_bits(WORDS, VECTORS)
    fx = FeatureExtractor(Gazetteer(), {}, word_bits=bits)
    feats = fx.sentence(["وصل", "بشار", "إلى", "باريس", "أمس"])
    assert "v-2" in feats[1] and "v+0" in feats[3]
    assert "1:v-2" in feats[0] and "-1:v-2" in feats[2]
    assert "1:v+0" in feats[2] and "-1:v+0" in feats[4]
    # Two tokens away the bits are not seen (they would double the features).
    assert not any(f.startswith(("-2:v", "2:v")) for fs in feats for f in fs)
    plain = FeatureExtractor(Gazetteer(), {}, word_bits=NO_BITS).sentence(["بشار", "باريس"])
    assert not any(":v" in f or f.startswith("v") for fs in plain for f in fs)


def _hashed_bits(sentences: list[Sentence], fx: FeatureExtractor) -> WordBits:
    """Bits of pseudo-random (hash-seeded, so reproducible) vectors for the sentences' bases."""
    bases = sorted({fx.word(t).base for toks, _ in sentences for t in toks})
    rows = [
        np.random.default_rng(int.from_bytes(hashlib.blake2b(b.encode()).digest()[:8])).normal(
            size=16
        )
        for b in bases
    ]
    return build_word_bits(bases, np.array(rows))


def test_fast_decoder_equals_crfsuite_with_embedding_bits(
    shared: Path, train_small_crf: SmallCrf
) -> None:
    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.fastcrf import FastCrf
    from marsad.extractor.ner.lexicon import load_gazetteer

    train_sents, dev = load_splits(shared)
    sents = train_sents[:400]
    gaz, clusters = load_gazetteer(), load_clusters()
    bits = _hashed_bits(sents + dev[:120], FeatureExtractor(gaz, clusters, word_bits=NO_BITS))
    fx = FeatureExtractor(gaz, clusters, word_bits=bits)
    tagger = train_small_crf(((fx.sentence(toks), tags) for toks, tags in sents), "bits.crfsuite")
    attrs = {a for a, _ in tagger.info().state_features}
    # The model weighs the bits of the token and of both next neighbours.
    assert any(a.startswith("v") for a in attrs)
    assert any(a.startswith("-1:v") for a in attrs) and any(a.startswith("1:v") for a in attrs)
    sample = [toks for toks, _ in dev[:120]]
    fast = FastCrf(tagger, FeatureExtractor(gaz, clusters, cache_size=0, word_bits=bits))
    assert fast.tag_many(sample) == [list(tagger.tag(fx.sentence(toks))) for toks in sample]


# ---------------------------------------------------------------- real-valued features


def test_vectors_are_quantised_unit_rows_and_survive_the_file(tmp_path: Path) -> None:
    vecs = build_word_vecs(WORDS, VECTORS, dims=2, scale=3.0)
    assert vecs.names == ("d0", "d1")
    # باريس: (0.6, -0.2) / 0.632 -> (0.949, -0.316) -> int8 (120, -40), times 3 / 127.
    assert vecs.values[vecs.row("باريس", "باريس")].tolist() == [120 * 3 / 127, -40 * 3 / 127]
    assert vecs.row("اريس", "دمشق") == 2 and vecs.row("كيغالي", "كيغالي") == -1
    assert not vecs.values[-1].any()  # row -1: no vector, no contribution
    model = tmp_path / "ner.crfsuite"
    write_model_embeddings(model, NO_BITS, vecs, 3.0)
    loaded = load_word_vecs(vecs_path(model))
    assert loaded.index == vecs.index and np.array_equal(loaded.values, vecs.values)
    write_model_embeddings(model, NO_BITS, NO_VECS, 3.0)
    assert not vecs_path(model).exists()


def test_items_carry_the_values_of_the_word_and_its_next_neighbours() -> None:
    vecs = build_word_vecs(WORDS, VECTORS, dims=2, scale=3.0)
    fx = FeatureExtractor(Gazetteer(), {}, word_bits=NO_BITS, word_vecs=vecs)
    items = fx.items(["وصل", "بشار", "إلى", "باريس", "أمس"])
    assert isinstance(items[0], dict)
    paris = vecs.values[vecs.row("باريس", "باريس")].tolist()
    assert [items[3]["d0"], items[3]["d1"]] == paris
    assert [items[2]["1:d0"], items[4]["-1:d1"]] == [paris[0], paris[1]]
    assert "d0" not in items[2] and "2:d0" not in items[1] and "-2:d0" not in items[4]
    # The indicators are still there, with value 1.
    assert all(items[3][f] == 1.0 for f in fx.word("باريس").local)
    plain = FeatureExtractor(Gazetteer(), {}, word_bits=NO_BITS, word_vecs=NO_VECS)
    assert plain.items(["بشار"]) == plain.sentence(["بشار"])


def test_fast_decoder_equals_crfsuite_with_real_valued_features(
    shared: Path, train_small_crf: SmallCrf
) -> None:

    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.fastcrf import FastCrf
    from marsad.extractor.ner.lexicon import load_gazetteer

    train_sents, dev = load_splits(shared)
    sents = train_sents[:400]
    gaz, clusters = load_gazetteer(), load_clusters()
    bits = _hashed_bits(sents + dev[:120], FeatureExtractor(gaz, clusters, word_bits=NO_BITS))
    words = sorted(bits.index, key=bits.index.__getitem__)
    vecs = build_word_vecs(
        words, np.where(bits.pos, 1.0, 0.0) - np.where(bits.neg, 1.0, 0.0) + 0.1, dims=12, scale=2.0
    )
    fx = FeatureExtractor(gaz, clusters, word_bits=NO_BITS, word_vecs=vecs)
    tagger = train_small_crf(((fx.items(toks), tags) for toks, tags in sents), "vecs.crfsuite")
    attrs = {a for a, _ in tagger.info().state_features}
    assert {"d0", "-1:d0", "1:d0"} <= attrs
    sample = [toks for toks, _ in dev[:120]]
    fast = FastCrf(
        tagger, FeatureExtractor(gaz, clusters, cache_size=0, word_bits=NO_BITS, word_vecs=vecs)
    )
    assert fast._vec_weights is not None
    assert fast.tag_many(sample) == [list(tagger.tag(fx.items(toks))) for toks in sample]
    # The features matter: without them the decoder tags differently.
    blind = FastCrf(
        tagger, FeatureExtractor(gaz, clusters, cache_size=0, word_bits=NO_BITS, word_vecs=NO_VECS)
    )
    assert blind.tag_many(sample) != fast.tag_many(sample)
