"""The shipped model: fast decoder equals crfsuite, dev-split quality, speed, CLI."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from marsad.extractor.ner import CrfRecogniser, Recogniser, bench
from marsad.extractor.ner.commands import main
from marsad.extractor.ner.training import MODEL_PATH, evaluate, load_splits


def test_model_file_is_small() -> None:
    assert MODEL_PATH.stat().st_size < 8_000_000


def test_shipped_word_vectors_are_small_and_used_by_the_model(rec: Recogniser) -> None:
    from marsad.extractor.ner.wordvecs import vecs_path

    assert vecs_path(MODEL_PATH).stat().st_size < 3_000_000
    assert isinstance(rec, CrfRecogniser)
    # The model weighs the real-valued features of the token and of both next neighbours.
    assert rec._fast._vec_weights is not None
    # Slots: own, then CONTEXT_OFFSETS (-2, -1, 1, 2).
    assert rec._fast._vec_weights[[0, 2, 3]].any(axis=(1, 2)).all()
    assert not rec._fast._vec_weights[[1, 4]].any()


def test_fast_decoder_equals_crfsuite(rec: Recogniser, shared: Path) -> None:
    from marsad.extractor.ner.decoding import NO_BIAS
    from marsad.extractor.ner.fastcrf import FastCrf

    assert isinstance(rec, CrfRecogniser)
    _, dev = load_splits(shared)
    sample = dev[:150]
    # The shipped recogniser adds the shipped decoding bias; without it the
    # fast decoder must give exactly crfsuite's tags.
    unbiased = FastCrf(rec._tagger, rec._features, NO_BIAS)
    fast = [unbiased.tag(toks, rec.topic_of(toks)) for toks, _ in sample]
    ref = [rec.tag_sentence_crfsuite(toks) for toks, _ in sample]
    assert fast == ref


def test_fast_decoder_batches_and_cache_reset_keep_tags(
    rec: Recogniser, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import marsad.extractor.ner.fastcrf as fastcrf

    assert isinstance(rec, CrfRecogniser)
    _, dev = load_splits(shared)
    sample = [toks for toks, _ in dev[150:230]]
    # crfsuite's tags without the topic features (the decoder's topic is None here).
    ref = [list(rec._tagger.tag(rec._features.items(toks))) for toks in sample]
    # A cache this small is reset several times, and words are added in
    # batches of 16: the per-word table rows must stay right throughout.
    fast = fastcrf.FastCrf(rec._tagger, rec._features)
    monkeypatch.setattr(fastcrf, "_MAX_CACHE", 300)
    monkeypatch.setattr(fastcrf, "_ADD_BATCH", 16)
    assert fast.tag_many(sample[:40]) + fast.tag_many(sample[40:]) == ref
    # The second batch alone overflowed the cache: it holds just that batch's words.
    assert len(fast._ids) == len({t for toks in sample[40:] for t in toks})


def test_tagging_a_whole_text_equals_tagging_its_sentences(rec: Recogniser, shared: Path) -> None:
    from marsad.extractor.ner.text import fold

    assert isinstance(rec, CrfRecogniser)
    _, dev = load_splits(shared)
    sentences = [toks for toks, _ in dev[230:290]]
    words = [t for toks in sentences for t in toks]
    tags, folded = rec._fast.tag_tokens(words, [len(s) for s in sentences])
    assert tags == [t for sent in rec._fast.tag_many(sentences) for t in sent]
    assert folded == [fold(w) for w in words]
    assert rec._fast.tag_tokens([], []) == ([], [])


@pytest.mark.slow
def test_dev_split_f1(shared: Path) -> None:
    _, dev = load_splits(shared)
    scores = evaluate(MODEL_PATH, dev)
    # Measured 0.755 micro (sentence by sentence) when the model was trained (500 iterations,
    # with the word-embedding features; 0.742 without).
    assert scores["micro"]["f1"] >= 0.72
    assert scores["per_type"]["LOC"]["f1"] >= 0.80


@pytest.mark.slow
def test_bench_runs_on_ant_articles(rec: Recogniser, shared: Path) -> None:
    texts = []
    with gzip.open(shared / "data" / "ant" / "articles.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"])
            if len(texts) >= 300:
                break
    result = bench(texts, rec)
    assert result["articles"] == 300
    assert result["entities"] > 1000
    # Speed is a figure `marsad bench` reports, never a pass/fail bar here.
    assert result["articles_per_cpu_second"] > 0


def test_cli_ner_conll_keeps_blank_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conll = "قال O\nالرئيس O\nالفرنسي O\nفرنسوا O\nهولاند O\nفي O\nباريس O\n.\n\nدمشق\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(conll))
    # Tokens are tagged as given: the tag column of the input is ignored.
    assert main(["ner", "--conll", "-"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[0] == "قال\tO"
    assert lines[6] == "باريس\tB-LOC"
    assert lines[8] == ""
    assert lines[9].startswith("دمشق\t")
    assert lines[3].split("\t")[1] == "B-PERS"
    assert lines[4].split("\t")[1] == "I-PERS"


def test_main_cli_runs_ner_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from marsad.cli import main as marsad_main

    conll = tmp_path / "in.conll"
    conll.write_text("وصل\nالرئيس\nإلى\nدمشق\n.\n", encoding="utf-8")
    assert marsad_main(["ner", "--conll", str(conll)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3] == "دمشق\tB-LOC"
