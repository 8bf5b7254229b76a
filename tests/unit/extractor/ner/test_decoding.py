"""Recall-oriented decoding: bias vectors, exact biased Viterbi, shipped values, the choice."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.extractor.ner import CrfRecogniser, Recogniser
from marsad.extractor.ner.corpus import Sentence
from marsad.extractor.ner.decoding import (
    DECODING_PATH,
    NO_BIAS,
    DecodingBias,
    cross_validate,
    describe,
    entity_counts,
    file_digest,
    load_bias,
    micro_f1,
    o_grid,
    type_search,
    write_bias,
)
from marsad.extractor.ner.fastcrf import FastCrf
from marsad.extractor.ner.training import MODEL_PATH, load_splits

LABELS = ["O", "B-LOC", "I-LOC", "B-PERS", "I-PERS", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


@pytest.mark.parametrize(
    ("bias", "expected"),
    [
        (NO_BIAS, [0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (DecodingBias(-0.5), [-0.5, 0, 0, 0, 0, 0, 0, 0, 0]),
        (DecodingBias(0.0, {"ORG": 1.5}), [0, 0, 0, 0, 0, 1.5, 1.5, 0, 0]),
        (DecodingBias(0.25, {"LOC": -1, "MISC": 2}), [0.25, -1, -1, 0, 0, 0, 0, 2, 2]),
    ],
)
def test_bias_vector_follows_the_label_order(bias: DecodingBias, expected: list[float]) -> None:
    assert bias.vector(LABELS).tolist() == expected


@pytest.mark.parametrize(
    ("bias", "zero", "text"),
    [
        (NO_BIAS, True, "none"),
        (DecodingBias(0.0, {"ORG": 0.0}), True, "none"),
        (DecodingBias(-0.75), False, "O -0.75"),
        (DecodingBias(0.0, {"ORG": 0.5, "LOC": -1.0}), False, "ORG +0.50 LOC -1.00"),
    ],
)
def test_zero_bias_and_description(bias: DecodingBias, zero: bool, text: str) -> None:
    assert bias.is_zero is zero
    assert describe(bias) == text
    assert (
        DecodingBias.from_json(json.loads(json.dumps(bias.to_json()))).vector(LABELS).tolist()
        == bias.vector(LABELS).tolist()
    )


# ---------------------------------------------------------------- the CRF decoder


@pytest.fixture(scope="module")
def crf(rec: Recogniser) -> CrfRecogniser:
    assert isinstance(rec, CrfRecogniser)
    return rec


@pytest.fixture(scope="module")
def dev(shared: Path) -> list[Sentence]:
    return load_splits(shared)[1]


def test_unbiased_fast_decoder_equals_crfsuite(crf: CrfRecogniser, dev: list[Sentence]) -> None:
    # The shipped recogniser decodes with the shipped bias; a decoder built
    # with no bias must still give python-crfsuite's own tags.
    fast = FastCrf(crf._tagger, crf._features, NO_BIAS)
    sample = [toks for toks, _ in dev[290:400]]
    assert [fast.tag(toks, crf.topic_of(toks)) for toks in sample] == [
        crf.tag_sentence_crfsuite(toks) for toks in sample]


def _best_path(state: np.ndarray, trans: np.ndarray) -> tuple[int, ...]:
    """The highest-scoring label path by enumeration (state scores + transitions)."""
    n, k = state.shape
    return max(
        itertools.product(range(k), repeat=n),
        key=lambda p: (
            sum(state[t, p[t]] for t in range(n)) + sum(trans[p[t - 1], p[t]] for t in range(1, n))
        ),
    )


@given(
    st.integers(0, 440),
    st.integers(1, 4),
    st.floats(-3, 3),
    st.dictionaries(st.sampled_from(["PERS", "LOC", "ORG", "MISC"]), st.floats(-3, 3)),
)
@settings(max_examples=12, deadline=None)
def test_biased_fast_decoder_is_exactly_optimal(
    crf: CrfRecogniser, dev: list[Sentence], start: int, length: int, o: float, types: dict
) -> None:
    # A few real tokens taken as one sentence; every label path is scored.
    toks = [t for sent, _ in dev[start : start + 3] for t in sent][:length]
    bias = DecodingBias(o, types)
    fast = FastCrf(crf._tagger, crf._features, bias)
    state = fast.scores([toks]) + bias.vector(fast.labels)
    best = _best_path(state, fast.transitions)
    assert fast.tag(toks) == [fast.labels[i] for i in best]


def test_o_bias_equals_the_opposite_bias_on_every_type(
    crf: CrfRecogniser, dev: list[Sentence]
) -> None:
    sample = [toks for toks, _ in dev[:120]]
    on_o = FastCrf(crf._tagger, crf._features, DecodingBias(-0.75))
    on_types = FastCrf(
        crf._tagger,
        crf._features,
        DecodingBias(0.0, {"PERS": 0.75, "LOC": 0.75, "ORG": 0.75, "MISC": 0.75}),
    )
    assert on_o.tag_many(sample) == on_types.tag_many(sample)


def _o_counts(tagged: Sequence[Sequence[str]]) -> list[int]:
    return [sum(t == "O" for t in tags) for tags in tagged]


def test_lowering_the_o_bias_never_adds_o_tags(crf: CrfRecogniser, dev: list[Sentence]) -> None:
    # Minkov et al.: with a lower O score, a path with more O tokens loses more
    # than the old best path did, so the best path's O count cannot grow.
    sample = [toks for toks, _ in dev[:150]]
    fast = FastCrf(crf._tagger, crf._features)
    counts = []
    for o in (2.0, 0.0, -0.5, -1.0, -2.0, -4.0, -100.0):
        fast.set_bias(DecodingBias(o))
        counts.append(_o_counts(fast.tag_many(sample)))
    for before, after in itertools.pairwise(counts):
        assert all(a <= b for a, b in zip(after, before, strict=True))
    assert sum(counts[1]) > sum(counts[3])  # a real change at moderate values
    assert sum(counts[-1]) == 0  # a huge bias leaves no token outside an entity


def test_set_bias_keeps_the_word_cache_and_tags_the_same_as_a_fresh_decoder(
    crf: CrfRecogniser, dev: list[Sentence]
) -> None:
    sample = [toks for toks, _ in dev[50:110]]
    bias = DecodingBias(0.0, {"ORG": 1.0, "LOC": -0.5})
    fast = FastCrf(crf._tagger, crf._features)
    plain = fast.tag_many(sample)
    fast.set_bias(bias)
    biased = fast.tag_many(sample)
    assert biased == FastCrf(crf._tagger, crf._features, bias).tag_many(sample)
    assert biased != plain
    fast.set_bias(NO_BIAS)
    assert fast.tag_many(sample) == plain


# ---------------------------------------------------------------- shipped values


def test_load_bias_needs_the_same_model_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model, other = tmp_path / "a.crfsuite", tmp_path / "b.crfsuite"
    model.write_bytes(b"model a")
    other.write_bytes(b"model b")
    path = tmp_path / "decoding.json"
    assert load_bias("builtin", [model], path) == NO_BIAS  # no file yet
    bias = DecodingBias(-0.5, {"ORG": 1.0})
    write_bias("builtin", bias, [model], {"chosen_on": "test"}, path)
    write_bias("neural", DecodingBias(-1.0), [other, model], {}, path)
    loaded = load_bias("builtin", [model], path)
    assert loaded.vector(LABELS).tolist() == bias.vector(LABELS).tolist()
    assert load_bias("neural", [other, model], path).o == -1.0  # the other entry is kept
    assert json.loads(path.read_text(encoding="utf-8"))["builtin"]["chosen_on"] == "test"
    with caplog.at_level(logging.WARNING):
        assert load_bias("builtin", [other], path) == NO_BIAS  # a retrained model
    assert "ner-bias" in caplog.text
    assert load_bias("camel", [model], path) == NO_BIAS


@pytest.mark.parametrize(
    ("backend", "models"),
    [("builtin", ["ner.crfsuite"]), ("neural", ["ner_neural.pt", "ner.crfsuite"])],
)
def test_shipped_biases_belong_to_the_shipped_models(backend: str, models: list[str]) -> None:
    # Fails after a retrain until `marsad ner-bias --write` has chosen the bias again.
    entry = json.loads(DECODING_PATH.read_text(encoding="utf-8"))[backend]
    paths = [MODEL_PATH.parent / name for name in models]
    assert entry["models"] == models
    assert entry["model_sha256"] == [file_digest(p) for p in paths]
    assert load_bias(backend, paths).to_json() == DecodingBias.from_json(entry).to_json()


def test_the_crf_recogniser_loads_the_shipped_bias(crf: CrfRecogniser) -> None:
    assert crf.model_files == [MODEL_PATH]
    assert crf.bias.to_json() == load_bias("builtin", [MODEL_PATH]).to_json()
    assert crf._fast.bias is crf.bias


# ---------------------------------------------------------------- choosing the bias

PARIS = "\u0628\u0627\u0631\u064a\u0633"  # BEH ALEF REH YEH SEEN
# "Paris" in four sentences: a fake tagger finds it only at the bias each sentence
# "prefers"; the first two prefer O -1, the last two O -0.5.
SENTS: list[Sentence] = [([PARIS, "."], ["B-LOC", "O"]) for _ in range(4)]
PREFERS = [-1.0, -1.0, -0.5, -0.5]


def _fake_tag(bias: DecodingBias, sentences: Sequence[Sentence]) -> list[list[str]]:
    first = next(k for k, s in enumerate(SENTS) if s is sentences[0])
    return [
        ["B-LOC", "O"] if bias.o == PREFERS[first + k] else ["O", "O"]
        for k in range(len(sentences))
    ]


def test_cross_validation_scores_each_half_with_the_other_halfs_choice() -> None:
    cv = cross_validate(_fake_tag, SENTS, o_grid([-0.5, -1.0]))
    # Chosen on the second half (-0.5) for the first, on the first (-1) for the second.
    assert [b.o for b in cv["chosen"]] == [-0.5, -1.0]
    assert micro_f1(cv["biased"]) == 0.0  # each half's choice is wrong for the other
    assert cv["unbiased"]["LOC"] == [0, 0, 4]
    # In sample, each half alone is perfect with its own value.
    assert o_grid([-0.5, -1.0])(_fake_tag, SENTS[:2])[1] == 1.0


def test_choice_prefers_no_bias_on_ties() -> None:
    bias, f1 = o_grid([-0.25])(lambda b, s: [["O", "O"] for _ in s], SENTS)
    assert bias == NO_BIAS and f1 == 0.0
    bias, _ = type_search([0.5, 1.0])(lambda b, s: [["O", "O"] for _ in s], SENTS)
    assert bias.is_zero


def test_type_search_finds_the_per_type_values() -> None:
    # ORG found only with a bias of +1 on ORG, LOC only without a negative LOC bias.
    sents: list[Sentence] = [(["a", "b"], ["B-ORG", "B-LOC"])]

    def tag(bias: DecodingBias, sentences: Sequence[Sentence]) -> list[list[str]]:
        org = "B-ORG" if bias.types.get("ORG") == 1.0 else "O"
        loc = "B-LOC" if bias.types.get("LOC", 0.0) >= 0 else "O"
        return [[org, loc]]

    bias, f1 = type_search([-0.5, 0.5, 1.0])(tag, sents)
    assert f1 == 1.0
    assert bias.to_json()["type_bias"] == {"ORG": 1.0}


def test_entity_counts_are_exact_spans_by_type() -> None:
    gold = [["B-PERS", "I-PERS", "O", "B-LOC"], ["B-ORG", "I-ORG"]]
    pred = [["B-PERS", "O", "O", "B-LOC"], ["B-ORG", "I-ORG"]]
    counts = entity_counts(gold, pred)
    assert counts == {"PERS": [0, 1, 1], "LOC": [1, 1, 1], "ORG": [1, 1, 1], "MISC": [0, 0, 0]}
    assert micro_f1(counts) == pytest.approx(2 / 3)


# ---------------------------------------------------------------- commands


def test_ner_eval_override_of_the_bias(capsys: pytest.CaptureFixture[str], shared: Path) -> None:
    from marsad.extractor.ner.commands import main

    assert main(["ner-eval", "--shared", str(shared), "--o-bias", "0", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["bias"] == {"o_bias": 0.0, "type_bias": {}}
    assert main(["ner-eval", "--shared", str(shared), "--type-bias", "ORG=1.5", "--json"]) == 0
    org = json.loads(capsys.readouterr().out)
    assert org["bias"]["type_bias"] == {"ORG": 1.5}
    # More ORG predictions: ORG recall rises, never falls.
    assert org["per_type"]["ORG"]["recall"] > plain["per_type"]["ORG"]["recall"]
