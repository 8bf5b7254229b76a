"""Article-topic features: the naive Bayes classifier, its file, the features, the fast decoder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from marsad.extractor.ner.features import FeatureExtractor
from marsad.extractor.ner.lexicon import Gazetteer
from marsad.extractor.ner.text import fold
from marsad.extractor.ner.topics import (
    NO_TOPICS,
    build_topic_model,
    load_topic_model,
    topic_features,
    topics_path,
    window_topics,
    write_topic_model,
)
from marsad.extractor.ner.training import load_splits
from marsad.extractor.ner.wordbits import NO_BITS
from marsad.extractor.ner.wordvecs import NO_VECS

if TYPE_CHECKING:
    from tests.unit.extractor.ner.conftest import SmallCrf

SPORT = [
    "فاز فريق ليون على بوردو بهدفين في مباراة الدوري الفرنسي",
    "سجل اللاعب هدف الفوز في الدقيقة الأخيرة من المباراة",
    "يلتقي المنتخب مع نظيره في نهائي البطولة على ملعب النادي",
]
ECONOMY = [
    "ارتفعت أسعار النفط في الأسواق العالمية مع تراجع المخزون",
    "سجلت البورصة خسائر بعد إعلان البنك المركزي رفع الفائدة",
    "قالت الشركة إن أرباحها ارتفعت في الربع الثالث من العام",
]
CORPUS = [("sport", t) for t in SPORT] + [("economy", t) for t in ECONOMY]


def _words(text: str) -> list[str]:
    return [fold(w) for w in text.split()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("سجل ليون هدفين في مباراة الدوري", "sport"),
        ("ارتفعت أسعار النفط وسجلت البورصة خسائر", "economy"),
        ("كلمات لم ترد في أي نص", None),  # nothing known: no topic
        ("", None),
    ],
)
def test_the_classifier_names_the_topic_a_text_is_about(text: str, expected: str | None) -> None:
    model = build_topic_model(CORPUS, min_count=1, margin=2.0)
    assert model.names == ("economy", "sport")
    assert model.topic(_words(text)) == expected


def test_a_text_with_no_clear_lead_gets_no_topic() -> None:
    model = build_topic_model(CORPUS, min_count=1, margin=2.0)
    mixed = _words("مباراة النفط")  # one word of each: the lead is under the margin
    assert model.topic(mixed) is None
    assert build_topic_model(CORPUS, min_count=1, margin=0.0).topic(mixed) is not None


def test_only_the_kept_topics_are_given() -> None:
    model = build_topic_model(CORPUS, min_count=1, margin=2.0, kept=("sport",))
    assert model.topic(_words(SPORT[0])) == "sport"
    assert model.topic(_words(ECONOMY[0])) is None  # economy leads, but is not kept


def test_rare_words_are_left_out() -> None:
    model = build_topic_model(CORPUS, min_count=2)
    assert fold("الدوري") not in model.index  # once in the corpus
    assert fold("في") in model.index  # in five texts


def test_the_file_round_trips(tmp_path: Path) -> None:
    model = build_topic_model(CORPUS, min_count=1, margin=2.0)
    path = topics_path(tmp_path / "m.crfsuite")
    assert path.name == "m.topics.npz"
    write_topic_model(path, model)
    back = load_topic_model(path)
    assert back.names == model.names and back.margin == model.margin and back.kept == ()
    write_topic_model(path, build_topic_model(CORPUS, min_count=1, kept=("sport",)))
    assert load_topic_model(path).kept == ("sport",)
    write_topic_model(path, model)
    assert back.index == model.index
    # float16 on disk: within its precision of the float32 values
    np.testing.assert_allclose(back.logp, model.logp, atol=1e-2)
    for text in [*SPORT, *ECONOMY]:
        assert back.topic(_words(text)) == model.topic(_words(text))
    assert load_topic_model(tmp_path / "absent.topics.npz") is NO_TOPICS
    assert NO_TOPICS.topic(_words(SPORT[0])) is None


def test_window_topics_gives_each_window_one_topic() -> None:
    model = build_topic_model(CORPUS, min_count=1, margin=2.0)
    sentences = [t.split() for t in [*SPORT, *ECONOMY, SPORT[0]]]
    assert window_topics(sentences, model, window=3) == [
        "sport", "sport", "sport", "economy", "economy", "economy", "sport"]


def test_topic_features_join_names_triggers_and_nisba_only() -> None:
    own = ["bias", "w=ليون", "g1=LOC", "gt=ORG", "tr=per", "nisba", "sh=ar"]
    assert topic_features("sport", own) == [
        "top=sport", "top=sport|g1=LOC", "top=sport|gt=ORG", "top=sport|tr=per",
        "top=sport|nisba"]


def test_items_carry_the_topic_features() -> None:
    fx = FeatureExtractor(Gazetteer(), {}, word_bits=NO_BITS, word_vecs=NO_VECS)
    plain = fx.items(["فاز", "ليون"])
    with_topic = fx.items(["فاز", "ليون"], "sport")
    assert all("top=sport" in feats for feats in with_topic)
    assert [[f for f in feats if not f.startswith("top=")] for feats in with_topic] == plain


def test_fast_decoder_equals_crfsuite_with_topic_features(
    shared: Path, train_small_crf: SmallCrf
) -> None:

    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.fastcrf import FastCrf
    from marsad.extractor.ner.lexicon import load_gazetteer

    train_sents, dev = load_splits(shared)
    sents = train_sents[:400]
    # Two made-up topics that alternate by window, so both get weights.
    topics = ["a" if (k // 10) % 2 else "b" for k in range(len(sents))]
    gaz, clusters = load_gazetteer(), load_clusters()
    fx = FeatureExtractor(gaz, clusters, word_bits=NO_BITS, word_vecs=NO_VECS)
    tagger = train_small_crf(
        ((fx.items(toks, topic), tags) for (toks, tags), topic in zip(sents, topics, strict=True)),
        "topics.crfsuite",
    )
    attrs = {a for a, _ in tagger.info().state_features}
    assert any(a.startswith("top=a|") for a in attrs) and any(a.startswith("top=b|") for a in attrs)
    sample = [toks for toks, _ in dev[:120]]
    fast = FastCrf(tagger, FeatureExtractor(gaz, clusters, cache_size=0, word_bits=NO_BITS,
                                            word_vecs=NO_VECS))
    assert fast.has_topics
    for topic in ("a", "b", None):
        assert fast.tag_many(sample, topic) == [
            list(tagger.tag(fx.items(toks, topic))) for toks in sample]
    # The topic matters: the same sentences are tagged differently under the two.
    assert fast.tag_many(sample, "a") != fast.tag_many(sample, "b")
