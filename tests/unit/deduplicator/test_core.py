"""Deduplicator core: exact and near duplicates, clusters, restarts, eviction, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from marsad.deduplicator.core import (
    DedupConfig,
    Deduplicator,
    band_keys,
    bucket_lookup_insert,
    choose,
    confirm,
    signature,
)
from marsad.deduplicator.corpus import load_fold

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / ".." / "shared" / "seeds" / "000_8bb0b02f1c03471e.txt"
SCHEMA = json.loads((REPO / "schemas" / "defs" / "dedup.v1.json").read_text(encoding="utf-8"))
DECISION = Draft202012Validator({"$ref": "#/$defs/decision", **SCHEMA})

fold = load_fold()

# Al Arabiya and Sky News Arabia (ANT corpus, 2018-03-13): the same agency
# copy, lightly edited by each outlet.
PAIR = json.loads((REPO / "tests" / "data" / "dedup" / "iniesta_pair.json").read_text("utf-8"))
INIESTA_AL = PAIR["AL-sport-589-20180313"]
INIESTA_SK = PAIR["SK-sport-246-20180313"]


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def seed_paragraphs() -> list[str]:
    """The seed article cut into sentence groups (it has few line breaks)."""
    sentences = [s.strip() for s in seed_text().replace("\n", " ").split(".") if s.strip()]
    return [". ".join(sentences[i : i + 2]) + "." for i in range(0, len(sentences), 2)]


def stamp(day: int, hour: int = 8) -> str:
    return f"2018-03-{day:02d}T{hour:02d}:00:00+00:00"


def test_seed_resent_is_an_exact_duplicate_with_both_sources() -> None:
    d = Deduplicator(DedupConfig())
    first = d.decide("a1", fold(seed_text()), source="seed", published_at=stamp(1))
    again = d.decide("a2", fold(seed_text()), source="another-outlet", published_at=stamp(1, 9))
    assert first.kind == "unique" and first.cluster_size == 1 and first.sources == ("seed",)
    assert again.kind == "duplicate" and again.method == "exact" and again.similarity == 1.0
    assert again.duplicate_of == "a1" and again.cluster_id == first.cluster_id
    assert again.cluster_size == 2 and again.sources == ("seed", "another-outlet")
    assert again.new_source and again.representative == "a1"


@pytest.mark.parametrize(
    ("variant", "method"),
    [
        # harakat added: folding removes them, the words are the same
        ("دَعَا مُؤتَمَرُ أَصدِقَاءِ الشَّعبِ السُّورِيِّ", "exact"),
        # hamza on alef dropped, alef maksura written as yaa: folded alike
        ("دعا مؤتمر اصدقاء الشعب السوري", "exact"),
        # tatweel inside words
        ("دعـــا مؤتمـر أصدقاء الشعـب السوري", "exact"),
    ],
)
def test_spelling_variants_of_the_opening_are_exact(variant: str, method: str) -> None:
    text = seed_text()
    head = "دعا مؤتمر أصدقاء الشعب السوري"
    assert text.startswith(head)
    d = Deduplicator(DedupConfig())
    d.decide("orig", fold(text), source="seed", published_at=stamp(1))
    dec = d.decide("var", fold(variant + text[len(head):]), source="x", published_at=stamp(1))
    assert dec.kind == "duplicate" and dec.method == method


def test_cross_outlet_agency_copy_is_a_near_duplicate() -> None:
    d = Deduplicator(DedupConfig(threshold=0.7))
    d.decide("AL-sport-589-20180313", fold(INIESTA_AL), source="alarabia", published_at=stamp(13))
    dec = d.decide("SK-sport-246-20180313", fold(INIESTA_SK), source="skynews",
                   published_at=stamp(13, 14))
    assert dec.kind == "duplicate" and dec.method == "minhash"
    assert dec.duplicate_of == "AL-sport-589-20180313"
    assert dec.similarity is not None and 0.7 <= dec.similarity < 1.0
    assert dec.sources == ("alarabia", "skynews")


def test_repost_with_paragraph_added_is_a_near_duplicate() -> None:
    paras = seed_paragraphs()
    d = Deduplicator(DedupConfig())
    d.decide("orig", fold("\n".join(paras)), source="seed", published_at=stamp(1))
    longer = "\n".join([*paras, "وتابعونا على صفحتنا لمزيد من الأخبار العاجلة."])
    dec = d.decide("repost", fold(longer), source="seed", published_at=stamp(1))
    assert dec.kind == "duplicate" and dec.method == "minhash"
    assert not dec.new_source and dec.sources == ("seed",)


def test_different_story_same_topic_is_unique() -> None:
    d = Deduplicator(DedupConfig())
    d.decide("seed", fold(seed_text()), source="seed", published_at=stamp(1))
    dec = d.decide("iniesta", fold(INIESTA_AL), source="alarabia", published_at=stamp(1))
    assert dec.kind == "unique" and dec.duplicate_of is None and dec.cluster_size == 1


def test_empty_text_is_never_a_duplicate() -> None:
    d = Deduplicator(DedupConfig())
    assert d.decide("e1", "", source="a", published_at=stamp(1)).kind == "unique"
    assert d.decide("e2", "  ", source="a", published_at=stamp(1)).kind == "unique"


def test_redelivered_article_gets_its_first_decision_and_counts_once() -> None:
    d = Deduplicator(DedupConfig())
    d.decide("a1", fold(seed_text()), source="s1", published_at=stamp(1))
    first = d.decide("a2", fold(seed_text()), source="s2", published_at=stamp(1))
    again = d.decide("a2", fold(seed_text()), source="s2", published_at=stamp(1))
    assert again.redelivered and not first.redelivered
    assert (again.kind, again.duplicate_of, again.cluster_id) == (
        first.kind, first.duplicate_of, first.cluster_id)
    assert again.cluster_size == 2


def test_eviction_forgets_articles_outside_the_window_and_bounds_the_store() -> None:
    cfg = DedupConfig(window_days=2.0)
    store: dict[str, object] = {}
    d = Deduplicator(cfg, store)
    d.decide("old", fold(seed_text()), source="s", published_at=stamp(1))
    paras = seed_paragraphs()
    sizes = []
    for day in range(2, 20):
        # a fresh story every day pushes the window forward
        d.decide(f"d{day}", fold(paras[day % len(paras)] + f" اليوم {day}"), source="s",
                 published_at=stamp(day))
        sizes.append(len(store))
    assert "a:old" not in store
    late = d.decide("late", fold(seed_text()), source="s", published_at=stamp(20))
    assert late.kind == "unique"
    assert max(sizes[5:]) <= max(sizes[:5]) + 40  # no growth once the window is full
    assert d.stats.evicted > 0


def test_missing_published_at_uses_the_stream_time_not_the_clock() -> None:
    # The clock says 2026 while the stream replays 2018: the article must not
    # wipe the window.
    d = Deduplicator(DedupConfig(), clock=lambda: 1.8e9)
    d.decide("a1", fold(seed_text()), source="s", published_at=stamp(1))
    d.decide("nodate", fold(INIESTA_AL), source="s", published_at=None)
    dec = d.decide("a2", fold(seed_text()), source="t", published_at=stamp(1, 9))
    assert dec.kind == "duplicate"


def test_decision_json_matches_schema() -> None:
    d = Deduplicator(DedupConfig())
    outs = [
        d.decide("a1", fold(seed_text()), source="seed", published_at=stamp(1)),
        d.decide("a2", fold(seed_text()), source=None, published_at=None),
        d.decide("a3", fold(INIESTA_AL), source="alarabia", published_at=stamp(1)),
        d.decide("a4", fold(INIESTA_SK), source="skynews", published_at=stamp(1)),
        d.decide("a2", fold(seed_text()), source=None, published_at=None),
    ]
    for dec in outs:
        doc = json.loads(json.dumps(dec.to_json()))
        errors = list(DECISION.iter_errors(doc))
        assert not errors, errors


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0.0}, {"threshold": 1.5}, {"shingle": 0}, {"bands": -1},
        {"bands": 200}, {"window_days": 0}, {"time_basis": "wall"}, {"max_bucket": 0},
    ],
)
def test_bad_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DedupConfig(**kwargs)  # type: ignore[arg-type]


def test_store_holds_only_json_values_with_str_keys() -> None:
    store: dict[str, object] = {}
    d = Deduplicator(DedupConfig(), store)
    for i, p in enumerate(seed_paragraphs()):
        d.decide(f"p{i}", fold(p), source="s", published_at=stamp(1))
    d.decide("all", fold(seed_text()), source="s", published_at=stamp(1))
    assert all(isinstance(k, str) for k in store)
    assert json.loads(json.dumps(store)) == store


def test_signature_is_stable_across_processes() -> None:
    # A changed hash family silently invalidates every stored signature after
    # an upgrade: this pins it.
    sig = signature(fold("دعا مؤتمر أصدقاء الشعب السوري أمس في باريس"), DedupConfig())
    assert sig.exact == "cd0f8791cc1f70a2275b6abe540b2ddb"
    assert sig.shingles == 6  # 8 words, 3-word shingles
    assert sig.encode()[:16] == "Imm7LR79rQWlNcsE"


words_st = st.lists(
    st.sampled_from(["مؤتمر", "أصدقاء", "الشعب", "السوري", "باريس", "مجلس", "الأمن", "الدولي",
                     "قرار", "عقوبات", "نظام", "دمشق"]),
    min_size=0, max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=4, max_size=24), st.integers(1, 23))
def test_restart_from_the_same_store_keeps_recognising_duplicates(
    picks: list[int], cut: int
) -> None:
    paras = seed_paragraphs()
    texts = [fold(" ".join(paras[(p + j) % len(paras)] for j in range(3))) for p in picks]
    cut = min(cut, len(texts))
    store: dict[str, object] = {}
    cfg = DedupConfig()
    first = Deduplicator(cfg, store)
    seen: dict[str, str] = {}
    for i, t in enumerate(texts[:cut]):
        dec = first.decide(f"a{i}", t, source=f"s{i % 3}", published_at=stamp(1))
        seen.setdefault(t, dec.cluster_id)
    # a restarted worker rebuilds its table from the changelog: a JSON copy
    restored = json.loads(json.dumps(store))
    second = Deduplicator(cfg, restored)
    for i, t in enumerate(texts[cut:], start=cut):
        dec = second.decide(f"a{i}", t, source=f"s{i % 3}", published_at=stamp(1))
        if t in seen:
            assert dec.kind == "duplicate" and dec.cluster_id == seen[t]
        seen.setdefault(t, dec.cluster_id)


@settings(max_examples=60, deadline=None)
@given(words_st, words_st)
def test_estimated_similarity_is_close_to_true_jaccard(a: list[str], b: list[str]) -> None:
    cfg = DedupConfig(shingle=1, permutations=256, bands=32)
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return
    true = len(sa & sb) / len(sa | sb)
    est = confirm(signature(" ".join(a), cfg).values, signature(" ".join(b), cfg).encode())
    assert abs(est - true) < 0.2


def test_split_steps_agree_with_the_single_process_deduplicator() -> None:
    """The partitioned design: bands in one store, signatures in another, choose by order."""
    cfg = DedupConfig(threshold=0.7)
    stream = [
        ("x1", fold(seed_text())), ("x2", fold(INIESTA_AL)), ("x3", fold(INIESTA_SK)),
        ("x4", fold(seed_text() + " وتابعونا على صفحتنا.")),
    ]
    single = Deduplicator(cfg)
    expected = {aid: single.decide(aid, t, source="s", published_at=stamp(1)).duplicate_of
                for aid, t in stream}
    band_store: dict[str, object] = {}
    sigs: dict[str, str] = {}
    order = {aid: i for i, (aid, _) in enumerate(stream)}
    got = {}
    for aid, t in stream:
        sig = signature(t, cfg)
        cands = {c for bk in band_keys(sig, cfg)
                 for c in bucket_lookup_insert(band_store, bk, aid, cfg.max_bucket)}
        scored = [(c, confirm(sig.values, sigs[c])) for c in sorted(cands)]
        best = choose(scored, cfg.threshold, before=lambda c, a=aid: order[c] < order[a])
        got[aid] = None if best is None else best[0]
        sigs[aid] = sig.encode()
    assert got == expected
    assert got["x3"] == "x2" and got["x4"] == "x1"


@pytest.mark.parametrize(
    ("source", "hours_later", "expected"),
    [
        # the outlet re-files its story with a new opening the same morning: an update
        ("seed", 3, "duplicate"),
        # the next day, a new opening over the same background: a follow-up story
        ("seed", 26, "unique"),
        # another outlet's copy of the story the next day is still a copy
        ("another-outlet", 26, "duplicate"),
    ],
)
def test_a_follow_up_reusing_background_is_not_a_duplicate(
    source: str, hours_later: int, expected: str
) -> None:
    paras = seed_paragraphs()
    d = Deduplicator(DedupConfig())
    d.decide("day1", fold("\n".join(paras)), source="seed", published_at=stamp(1, 8))
    lede = ("أعلنت وزارة الخارجية الفرنسية اليوم أن باريس ستستضيف اجتماعا جديدا "
            "لمجموعة أصدقاء الشعب السوري الشهر المقبل لمتابعة تنفيذ ما اتفق عليه.")
    follow = "\n".join([lede, *paras[2:]])
    when = f"2018-03-{1 + (8 + hours_later) // 24:02d}T{(8 + hours_later) % 24:02d}:00:00+00:00"
    dec = d.decide("later", fold(follow), source=source, published_at=when)
    assert dec.kind == expected
