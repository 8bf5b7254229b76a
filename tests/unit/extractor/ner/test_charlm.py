"""Tests of the contextual character-LM inputs of the neural tagger (``charlm.py``).

A tiny pair of language models is trained here on a few ANT articles (a few
seconds): the tests check the offsets, the independence of the batch, the
determinism and the plumbing into the tagger, not the quality.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from marsad.extractor.ner.charlm import (  # noqa: E402
    MARK,
    UNK_CHAR,
    ContextualEmbedder,
    LMConfig,
    bits_per_char,
    char_vocab,
    encode_stream,
    half_rounded,
    lm_bundle,
    sample_sentences,
    sentence_texts,
    train_lm,
)
from marsad.extractor.ner.embeddings import iter_texts  # noqa: E402
from marsad.extractor.ner.text import fold  # noqa: E402

PARIS = "\u0628\u0627\u0631\u064a\u0633"  # BEH ALEF REH YEH SEEN
LONDON = "\u0644\u0646\u062f\u0646"  # LAM NOON DAL NOON
MINISTER = "\u0627\u0644\u0648\u0632\u064a\u0631"  # "the minister": ALEF LAM WAW ZAIN YEH REH
ARRIVED = "\u0648\u0635\u0644"  # "arrived": WAW SAD LAM
TO = "\u0627\u0644\u064a"  # "to" (folded): ALEF LAM YEH


def _tiny(shared: Path, seed: int = 0) -> tuple[dict[str, Any], np.ndarray, LMConfig]:
    texts = iter_texts(shared / "data" / "ant" / "articles.jsonl.gz", limit=200)
    train, held = sample_sentences(texts, 60_000, 10_000, seed=0)
    chars = char_vocab(train, 3)
    ids = {c: i for i, c in enumerate(chars, start=1)}
    stream = encode_stream(train, ids)
    cfg = LMConfig(n_chars=len(chars) + 1, char_dim=8, hidden=24, bptt=50, batch=8, seed=seed)
    fwd, _ = train_lm(stream, cfg)
    bwd, _ = train_lm(np.ascontiguousarray(stream[::-1]), cfg)
    held_stream = encode_stream(held, ids)
    return lm_bundle(chars, half_rounded(fwd), half_rounded(bwd)), held_stream, cfg


@pytest.fixture(scope="module")
def tiny_lm(shared: Path) -> tuple[dict[str, Any], np.ndarray, LMConfig]:
    return _tiny(shared)


def test_sentences_are_folded_tokens_joined_by_spaces() -> None:
    text = "\u0648\u0635\u0644 \u0627\u0644\u0648\u0632\u064a\u0631 \u0625\u0644\u0649 " + PARIS
    text += ".  " + LONDON + "!"
    assert list(sentence_texts(text)) == [
        " ".join([ARRIVED, MINISTER, TO, PARIS, "."]),
        LONDON + " !",
    ]
    assert fold("\u0625\u0644\u0649") == TO


def test_stream_marks_sentences_and_maps_rare_characters_to_one_id() -> None:
    chars = char_vocab(["ab", "ab", "ac"], 2)
    assert chars == sorted([MARK, "a", "b"])
    ids = {c: i for i, c in enumerate(chars, start=1)}
    stream = encode_stream(["ab", "ac"], ids)
    mark, a, b = ids[MARK], ids["a"], ids["b"]
    assert stream.tolist() == [mark, a, b, mark, a, UNK_CHAR, mark]


def test_held_out_articles_are_not_trained_on() -> None:
    # Synthetic articles of one sentence each, every one distinct.
    texts = [f"{MINISTER} {i:03d} {PARIS} ." for i in range(200)]
    train, held = sample_sentences(texts, 1_000, 500, seed=3)
    size = len(texts[0]) + 1
    assert len(held) == -(-500 // size) and len(train) == -(-1_000 // size)
    assert not set(train) & set(held)
    # Seeded: not the corpus order, and the same sample every time.
    assert held != texts[: len(held)]
    assert sample_sentences(texts, 1_000, 500, seed=3) == (train, held)


def test_training_learns_and_is_reproducible(
    tiny_lm: tuple[dict[str, Any], np.ndarray, LMConfig], shared: Path
) -> None:
    bundle, held, cfg = tiny_lm
    emb = ContextualEmbedder(bundle)
    uniform = float(np.log2(cfg.n_chars))
    assert bits_per_char(emb.fwd, held) < uniform - 1.0
    assert bits_per_char(emb.bwd, np.ascontiguousarray(held[::-1])) < uniform - 1.0
    again, _, _ = _tiny(shared)
    for key in ("forward", "backward"):
        for name, value in bundle[key].items():
            assert torch.equal(value, again[key][name]), (key, name)


def test_each_direction_sees_only_its_side(
    tiny_lm: tuple[dict[str, Any], np.ndarray, LMConfig],
) -> None:
    emb = ContextualEmbedder(tiny_lm[0])
    h = emb.cfg.hidden
    a, b = emb.embed([[ARRIVED, MINISTER, TO, PARIS], [ARRIVED, MINISTER, TO, LONDON]])
    assert a.shape == (4, 2 * h)
    # The forward half of a token reads its left context and itself only.
    np.testing.assert_allclose(a[:3, :h], b[:3, :h], atol=1e-6)
    assert not np.allclose(a[3, :h], b[3, :h])
    # The backward half reads its right context: it changes before the last word.
    assert not np.allclose(a[2, h:], b[2, h:])
    c, d = emb.embed([[MINISTER, TO, PARIS], [ARRIVED, MINISTER, TO, PARIS]])
    np.testing.assert_allclose(c[:, h:], d[1:, h:], atol=1e-6)
    assert not np.allclose(c[0, :h], d[1, :h])


def test_vectors_do_not_depend_on_the_batch(
    tiny_lm: tuple[dict[str, Any], np.ndarray, LMConfig],
) -> None:
    emb = ContextualEmbedder(tiny_lm[0])
    sents = [[ARRIVED, MINISTER, TO, PARIS, "."], [LONDON], [MINISTER, "!"]]
    together = emb.embed(sents)
    for sent, vec in zip(sents, together, strict=True):
        np.testing.assert_allclose(emb.embed([sent])[0], vec, atol=1e-5)


def test_tagger_with_lm_inputs_tags_as_trained(
    tiny_lm: tuple[dict[str, Any], np.ndarray, LMConfig],
    shared: Path,
    tmp_path: Path,
) -> None:
    from marsad.extractor.ner.embeddings import build_vectors, save_vectors
    from marsad.extractor.ner.lexicon import load_gazetteer
    from marsad.extractor.ner.neural import NeuralRecogniser
    from marsad.extractor.ner.neural_inputs import TAGS, InputEncoder
    from marsad.extractor.ner.neural_net import NetConfig, Tagger, pad_batch, to_padded
    from marsad.extractor.ner.neural_training import (
        NeuralTrainConfig,
        decode,
        lm_vectors,
        train_neural,
    )
    from marsad.extractor.ner.training import build_gazetteer, load_splits

    train, dev = load_splits(shared)
    texts = iter_texts(shared / "data" / "ant" / "articles.jsonl.gz", limit=100)
    words, vec, base_of, _ = build_vectors(texts, [t for t, _ in train[:40]], dims=16)
    save_vectors(tmp_path / "v.npz", words, vec, base_of)
    config = NeuralTrainConfig(epochs=1, hidden=16, keep_words=300, lm_proj=8)
    bundle, _ = train_neural(
        train[:40],
        dev[:20],
        build_gazetteer(shared),
        load_gazetteer(),
        tmp_path / "v.npz",
        config,
        charlm=tiny_lm[0],
    )
    assert bundle["config"]["lm_dim"] == 2 * tiny_lm[2].hidden
    torch.save(bundle, tmp_path / "lm.pt")
    rec = NeuralRecogniser(tmp_path / "lm.pt", crf_weight=0.0)
    sents = [toks for toks, _ in dev[:20]]
    # The run-time path (cached word rows, LM over each article batch) gives
    # the training path's scores and tags.
    enc = InputEncoder(rec._fx, rec._word_ids, rec._base_of, rec._char_ids, rec._feat_ids)
    inputs = [enc.encode(s) for s in sents]
    lm = lm_vectors(bundle["charlm"], rec._fx, sents)
    assert lm is not None
    net = rec._nets[0]
    w_ids, c_ids, f_ids, lengths, lens = pad_batch(inputs)
    with torch.no_grad():
        flat = net.word_inputs(w_ids, c_ids, f_ids, torch.from_numpy(np.concatenate(lm)))
        expected = net.emissions(to_padded(flat, lens), lengths).numpy()
    got = rec.emissions(sents)
    for b, n in enumerate(lens):
        np.testing.assert_allclose(got[b, :n], expected[b, :n], atol=1e-4)
    tags = rec.tag_many(sents)
    assert tags == [[TAGS[i] for i in p] for p in decode(net, inputs, lm=lm)]
    # Without the LM vectors the network cannot run.
    bare = Tagger(NetConfig(**bundle["config"]))
    with pytest.raises(ValueError, match="contextual LM"):
        bare.word_inputs(w_ids[:1], c_ids[:1], f_ids[:1])
