"""Tests of the neural NER backend: word vectors, inputs, decoding, a tiny trained model.

The tiny model is trained here on 60 ANERcorp training sentences for two
epochs (a few seconds): it checks the plumbing and determinism, not quality.
The shipped model's tests run only when ``data/ner_neural.pt`` exists.
"""

from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.extractor.ner.corpus import spans_of
from marsad.extractor.ner.embeddings import build_vectors, load_vectors, save_vectors
from marsad.extractor.ner.neural_inputs import (
    TAGS,
    build_vocab,
    indicator_strings,
    positional_strings,
)
from marsad.extractor.ner.text import fold

torch = pytest.importorskip("torch")

from marsad.extractor.ner.neural import NEURAL_MODEL_PATH, NeuralRecogniser  # noqa: E402
from marsad.extractor.ner.neural_net import allowed_transitions, viterbi  # noqa: E402

PARIS = "\u0628\u0627\u0631\u064a\u0633"  # BEH ALEF REH YEH SEEN
WA_BI_PARIS = "\u0648\u0628" + PARIS  # WAW BEH + PARIS: "and in Paris"
TEXTS = [
    "وصل الوزير إلى " + PARIS + ".",
    "عقد المؤتمر في " + PARIS + ".",
    "وقال الوزير " + WA_BI_PARIS + ".",
    "وصل الوزير إلى لندن.",
] * 3


def train_tiny(shared: Path, vectors: Path, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tiny network (60 training and 40 dev sentences, 2 epochs) over ``vectors``."""
    from marsad.extractor.ner.lexicon import load_gazetteer
    from marsad.extractor.ner.neural_training import NeuralTrainConfig, train_neural
    from marsad.extractor.ner.training import build_gazetteer, load_splits

    train, dev = load_splits(shared)
    config = NeuralTrainConfig(epochs=2, hidden=16, keep_words=500, seed=seed)
    return train_neural(
        train[:60], dev[:40], build_gazetteer(shared), load_gazetteer(), vectors, config
    )


@pytest.fixture(scope="module")
def tiny_model(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from marsad.extractor.ner.embeddings import iter_texts
    from marsad.extractor.ner.training import load_splits

    train, _ = load_splits(shared)
    out = tmp_path_factory.mktemp("neural")
    texts = iter_texts(shared / "data" / "ant" / "articles.jsonl.gz", limit=300)
    words, vec, base_of, _ = build_vectors(texts, [t for t, _ in train[:60]], dims=16)
    save_vectors(out / "v.npz", words, vec, base_of)
    bundle, report = train_tiny(shared, out / "v.npz")
    assert report["best_epoch"] in (1, 2)
    torch.save(bundle, out / "tiny.pt")
    return out / "tiny.pt"


@pytest.fixture(scope="module")
def tiny_model_seed1(tiny_model: Path, shared: Path) -> Path:
    """A second tiny network: same inputs as ``tiny_model``, another seed."""
    bundle, _ = train_tiny(shared, tiny_model.parent / "v.npz", seed=1)
    torch.save(bundle, tiny_model.parent / "tiny-s1.pt")
    return tiny_model.parent / "tiny-s1.pt"


@pytest.fixture(scope="module")
def rec_neural(tiny_model: Path) -> NeuralRecogniser:
    return NeuralRecogniser(tiny_model, crf_weight=0.0)


@pytest.fixture(scope="module")
def shipped_neural() -> NeuralRecogniser:
    return NeuralRecogniser()


def test_vectors_are_deterministic_unit_rows_keyed_by_base(tmp_path: Path) -> None:
    words, vec, base_of, stats = build_vectors(TEXTS, dims=4, context_size=20)
    words2, vec2, _, _ = build_vectors(TEXTS, dims=4, context_size=20)
    assert words == words2
    np.testing.assert_array_equal(vec, vec2)
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    # The clitic form shares the vector of the bare word.
    assert base_of[fold(WA_BI_PARIS)] == fold(PARIS)
    assert fold(WA_BI_PARIS) not in words
    save_vectors(tmp_path / "v.npz", words, vec, base_of)
    ids, loaded, base2 = load_vectors(tmp_path / "v.npz")
    assert list(ids) == words and base2 == base_of
    np.testing.assert_allclose(loaded, vec, atol=1e-3)  # stored as float16
    assert stats["vocab"] == len(words)


def test_vocab_ids_start_after_padding_and_unknown() -> None:
    assert build_vocab(["b", "a", "b", "c"], min_count=1) == {"a": 2, "b": 3, "c": 4}
    assert build_vocab(["b", "a", "b", "c"], min_count=2) == {"b": 2}


def test_indicators_leave_word_identity_to_the_vectors(rec_neural: NeuralRecogniser) -> None:
    fx = rec_neural._fx
    feats = indicator_strings(fx, ["\u0641\u064a", PARIS])  # FEH YEH ("in") + Paris
    assert not any(f.startswith(("w=", "b=", "st=", "bias")) for tok in feats for f in tok)
    # Paris is a gazetteer location, seen from its own token.
    assert "g1=LOC" in feats[1]


@pytest.mark.parametrize(
    "sentence",
    [
        "وقال وزير الخارجية الفرنسي لوران فابيوس في باريس إن الأمم المتحدة يجب أن تتحرك .",
        "أعلن البنك المركزي المصري في القاهرة عن خفض أسعار الفائدة .",
        "والتقى الأمين العام لجامعة الدول العربية في بيروت رئيس الوزراء اللبناني .",
    ],
)
def test_positional_indicators_are_the_crf_ones(
    rec_neural: NeuralRecogniser, sentence: str
) -> None:
    fx = rec_neural._fx
    tokens = sentence.split()
    _, extras = fx.parts(tokens)
    expected = [[f for f in ext if not f.startswith(("bg-=", "bg+="))] for ext in extras]
    assert positional_strings(fx.gazetteer.match([fx.word(t).folded for t in tokens])) == expected
    assert any(f.startswith("gz=") for tok in expected for f in tok)  # a multi-word name matched


@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1))
@settings(max_examples=15, deadline=None)
def test_viterbi_finds_the_best_path(batch: int, length: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = len(TAGS)
    trans, start, end = rng.normal(size=(k, k)), rng.normal(size=k), rng.normal(size=k)
    lens = rng.integers(1, length + 1, size=batch).tolist()
    em = rng.normal(size=(batch, length, k))
    paths = viterbi(em, lens, trans, start, end)
    for b, n in enumerate(lens):
        best = max(
            itertools.product(range(k), repeat=n),
            key=lambda p, b=b: (
                start[p[0]]
                + sum(em[b, t, p[t]] for t in range(len(p)))
                + sum(trans[p[t - 1], p[t]] for t in range(1, len(p)))
                + end[p[-1]]
            ),
        )
        assert tuple(paths[b]) == best


@given(st.integers(1, 6), st.integers(1, 12), st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_viterbi_paths_are_valid_iob2(batch: int, length: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    trans_ok, start_ok = allowed_transitions()
    trans = np.where(trans_ok, rng.normal(size=trans_ok.shape), -1e4)
    start = np.where(start_ok, 0.0, -1e4)
    lens = rng.integers(1, length + 1, size=batch).tolist()
    em = rng.normal(scale=5.0, size=(batch, length, len(TAGS)))
    paths = viterbi(em, lens, trans, start, np.zeros(len(TAGS)))
    assert [len(p) for p in paths] == lens
    for path in paths:
        tags = [TAGS[i] for i in path]
        for prev, tag in zip(["O", *tags], tags, strict=False):
            if tag.startswith("I-"):
                assert prev[2:] == tag[2:]


def test_tiny_model_tags_deterministically(tiny_model: Path, shared: Path) -> None:
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:30]]
    a = NeuralRecogniser(tiny_model, crf_weight=0.0)
    first = a.tag_many(sentences)
    a._cache.clear()
    assert a.tag_many(sentences) == first  # the per-word cache changes nothing
    b = NeuralRecogniser(tiny_model, crf_weight=0.0)
    assert b.tag_many(list(reversed(sentences))) == list(reversed(first))
    for toks, tags in zip(sentences, first, strict=True):
        assert len(tags) == len(toks)
        assert all(t in TAGS for t in tags)


def test_tiny_model_with_the_crf_weight_changes_the_tags(tiny_model: Path, shared: Path) -> None:
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:60]]
    alone = NeuralRecogniser(tiny_model, crf_weight=0.0).tag_many(sentences)
    both = NeuralRecogniser(tiny_model, crf_weight=1.0).tag_many(sentences)
    assert alone != both


def test_tiny_model_decodes_the_biased_scores_exactly(tiny_model: Path, shared: Path) -> None:
    from marsad.extractor.ner.decoding import NO_BIAS, DecodingBias
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:40]]
    bias = DecodingBias(-0.5, {"ORG": 1.0, "LOC": -0.5})
    rec = NeuralRecogniser(tiny_model, crf_weight=0.0, bias=bias)
    lens = [len(s) for s in sentences]
    biased = rec.emissions(sentences) + bias.vector(TAGS)
    paths = viterbi(biased, lens, rec._trans, rec._start, rec._end)
    assert rec.tag_many(sentences) == [[TAGS[i] for i in p] for p in paths]
    # The shipped bias belongs to the shipped files only: none for this model.
    assert NeuralRecogniser(tiny_model, crf_weight=0.0).bias == NO_BIAS


def test_memoised_scores_decode_every_bias_as_without(tiny_model: Path, shared: Path) -> None:
    from marsad.extractor.ner.decoding import DecodingBias
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:40]]
    plain = NeuralRecogniser(tiny_model, crf_weight=1.0)
    memo = NeuralRecogniser(tiny_model, crf_weight=1.0)
    memo.memoise_scores()
    for bias in (DecodingBias(-1.0), DecodingBias(0.0, {"ORG": 1.5}), DecodingBias(2.0)):
        plain.set_bias(bias)
        memo.set_bias(bias)
        # Twice: the second decode reads the memoised scores, which the bias must not change.
        assert memo.tag_many(sentences) == plain.tag_many(sentences)
        assert memo.tag_many(sentences) == plain.tag_many(sentences)
    assert memo._memo


def test_tiny_model_lower_o_bias_never_adds_o_tags(tiny_model: Path, shared: Path) -> None:
    from marsad.extractor.ner.decoding import DecodingBias
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:60]]
    rec = NeuralRecogniser(tiny_model, crf_weight=1.0)
    counts = []
    for o in (1.0, 0.0, -1.0, -3.0, -100.0):
        rec.set_bias(DecodingBias(o))
        counts.append([sum(t == "O" for t in tags) for tags in rec.tag_many(sentences)])
    for before, after in itertools.pairwise(counts):
        assert all(a <= b for a, b in zip(after, before, strict=True))
    assert sum(counts[-1]) == 0


shipped = pytest.mark.skipif(not NEURAL_MODEL_PATH.exists(), reason="no shipped neural model")


@shipped
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            # "French foreign minister Laurent Fabius said in Paris ..."
            "وقال وزير الخارجية الفرنسي لوران فابيوس في باريس .",
            {
                ("لوران فابيوس", "PERS"),
                ("باريس", "LOC"),
            },
        ),
        (
            # "US President Donald Trump met his Russian counterpart Vladimir Putin in Helsinki."
            "التقى الرئيس الأمريكي دونالد ترامب نظيره الروسي فلاديمير بوتين في هلسنكي .",
            {
                ("دونالد ترامب", "PERS"),
                ("فلاديمير بوتين", "PERS"),
                ("هلسنكي", "LOC"),
            },
        ),
    ],
)
def test_shipped_model_finds_real_names(
    shipped_neural: NeuralRecogniser, text: str, expected: set[tuple[str, str]]
) -> None:
    tokens = text.split()
    tags = shipped_neural.tag(tokens)
    found = {(" ".join(tokens[s:e]), t) for s, e, t in spans_of(tags)}
    assert expected <= found


@shipped
def test_conll_command_with_the_neural_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from marsad.extractor.ner.commands import main

    tokens = ["\u0641\u064a", PARIS, "."]  # "in Paris ."
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(tokens) + "\n\n"))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["ner", "--conll", "-", "--backend", "neural"]) == 0
    lines = out.getvalue().split("\n")
    assert lines[:3] == ["\u0641\u064a\tO", PARIS + "\tB-LOC", ".\tO"]


def test_training_is_reproducible(tiny_model: Path, shared: Path) -> None:
    bundle, _ = train_tiny(shared, tiny_model.parent / "v.npz")
    first = torch.load(tiny_model, weights_only=True)
    assert bundle["words"] == first["words"] and bundle["feats"] == first["feats"]
    for name, value in first["state"].items():
        assert torch.equal(value, bundle["state"][name]), name


def test_run_time_inputs_equal_the_training_inputs(
    rec_neural: NeuralRecogniser, shared: Path
) -> None:
    from marsad.extractor.ner.neural_inputs import InputEncoder
    from marsad.extractor.ner.neural_net import pad_batch, to_padded
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:25]]
    r = rec_neural
    enc = InputEncoder(r._fx, r._word_ids, r._base_of, r._char_ids, r._feat_ids)
    w_ids, c_ids, f_ids, _, lens = pad_batch([enc.encode(s) for s in sentences])
    with torch.no_grad():
        expected = to_padded(r._nets[0].word_inputs(w_ids, c_ids, f_ids), lens).numpy()
    np.testing.assert_allclose(r.inputs(sentences), expected, atol=1e-5)


# ---------------------------------------------------------------- ensembles

# Short real sentences: every label path of each can be scored by brute force.
SHORT = [
    "وصل فابيوس إلى " + PARIS,
    "التقى ماكرون بوتين .",
    "في " + PARIS + " .",
    "قال البنك المركزي .",
]
# "Fabius arrived in Paris", "Macron met Putin .", "in Paris .", "the central bank said ."


def _ensemble(paths: list[Path], out: Path) -> Path:
    from marsad.extractor.ner.neural_training import ensemble_bundle

    torch.save(ensemble_bundle([torch.load(p, weights_only=True) for p in paths]), out)
    return out


def test_one_network_ensemble_tags_like_the_network(tiny_model: Path, shared: Path) -> None:
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:40]]
    one = _ensemble([tiny_model], tiny_model.parent / "one.pt")
    single = NeuralRecogniser(tiny_model, crf_weight=1.0)
    ens = NeuralRecogniser(one, crf_weight=1.0)
    assert ens.members == 1
    np.testing.assert_array_equal(ens.emissions(sentences), single.emissions(sentences))
    assert ens.tag_many(sentences) == single.tag_many(sentences)


def test_ensemble_averages_the_members_scores(
    tiny_model: Path, tiny_model_seed1: Path, shared: Path
) -> None:
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[:40]]
    a = NeuralRecogniser(tiny_model, crf_weight=0.0)
    b = NeuralRecogniser(tiny_model_seed1, crf_weight=0.0)
    ens = NeuralRecogniser(
        _ensemble([tiny_model, tiny_model_seed1], tiny_model.parent / "two.pt"), crf_weight=0.0
    )
    assert ens.members == 2
    em_a, em_b, em = a.emissions(sentences), b.emissions(sentences), ens.emissions(sentences)
    assert not np.allclose(em_a, em_b)  # two seeds, two networks
    # Each member reads its own character CNN and indicator columns.
    for k, n in enumerate(len(s) for s in sentences):
        np.testing.assert_allclose(em[k, :n], (em_a[k, :n] + em_b[k, :n]) / 2, atol=1e-5)
    np.testing.assert_allclose(ens._trans, (a._trans + b._trans) / 2, atol=1e-6)
    np.testing.assert_allclose(ens._start, (a._start + b._start) / 2, atol=1e-6)
    np.testing.assert_allclose(ens._end, (a._end + b._end) / 2, atol=1e-6)


@pytest.mark.parametrize("crf_weight", [0.0, 1.5])
def test_ensemble_is_exact_viterbi_on_the_averaged_scores(
    tiny_model: Path, tiny_model_seed1: Path, crf_weight: float
) -> None:
    from marsad.extractor.ner.decoding import DecodingBias

    bias = DecodingBias(0.0, {"ORG": 1.0, "LOC": -0.5})
    recs = [
        NeuralRecogniser(p, crf_weight=crf_weight, bias=bias)
        for p in (tiny_model, tiny_model_seed1)
    ]
    ens = NeuralRecogniser(
        _ensemble([tiny_model, tiny_model_seed1], tiny_model.parent / "two.pt"),
        crf_weight=crf_weight,
        bias=bias,
    )
    sentences = [s.split() for s in SHORT]
    got = ens.tag_many(sentences)
    k = len(TAGS)
    for b, toks in enumerate(sentences):
        n = len(toks)
        em = np.mean([r.emissions([toks])[0, :n] for r in recs], axis=0) + bias.vector(TAGS)
        trans = np.mean([r._trans for r in recs], axis=0)
        start = np.mean([r._start for r in recs], axis=0)
        end = np.mean([r._end for r in recs], axis=0)
        if crf_weight:
            # Each single recogniser already holds w x the CRF's transitions.
            em = em + crf_weight * recs[0]._crf.scores([toks])[:, recs[0]._crf_perm]
        best = max(
            itertools.product(range(k), repeat=n),
            key=lambda p: (
                start[p[0]]
                + sum(em[t, p[t]] for t in range(n))
                + sum(trans[p[t - 1], p[t]] for t in range(1, n))
                + end[p[-1]]
            ),
        )
        assert got[b] == [TAGS[i] for i in best], toks


def test_ensemble_members_share_the_inputs(tiny_model: Path, tiny_model_seed1: Path) -> None:
    from marsad.extractor.ner.neural_training import ensemble_bundle

    a = torch.load(tiny_model, weights_only=True)
    b = torch.load(tiny_model_seed1, weights_only=True)
    two = ensemble_bundle([a, b])
    assert len(two["members"]) == 2
    assert "words.weight" not in two["members"][0]  # the vector table is stored once
    with pytest.raises(ValueError, match="feats"):
        ensemble_bundle([a, {**b, "feats": b["feats"][:-1]}])
