"""Corpus readers, the fixed dev split and entity-level scoring."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from marsad.extractor.ner.corpus import read_anercorp, read_wojood, repair_iob, spans_of, split_dev
from marsad.extractor.ner.training import score

TAGS = ["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def test_spans_of_reads_iob2() -> None:
    tags = ["O", "B-PERS", "I-PERS", "O", "B-LOC", "B-LOC", "I-ORG"]
    assert spans_of(tags) == {(1, 3, "PERS"), (4, 5, "LOC"), (5, 6, "LOC"), (6, 7, "ORG")}


def test_repair_iob_starts_orphan_inside_tags() -> None:
    assert repair_iob(["O", "I-LOC", "I-LOC", "I-ORG"]) == ["O", "B-LOC", "I-LOC", "B-ORG"]


@given(st.lists(st.sampled_from(TAGS), max_size=30))
def test_spans_do_not_overlap(tags: list[str]) -> None:
    spans = sorted(spans_of(tags))
    for (_, e1, _), (s2, _, _) in itertools.pairwise(spans):
        assert e1 <= s2


@given(st.lists(st.sampled_from(TAGS), min_size=1, max_size=30))
def test_perfect_prediction_scores_one(tags: list[str]) -> None:
    result = score([tags], [tags])
    if spans_of(tags):
        assert result["micro"]["f1"] == 1.0


def test_score_counts_exact_span_and_type() -> None:
    gold = [["B-PERS", "I-PERS", "O", "B-LOC"]]
    pred = [["B-PERS", "O", "O", "B-LOC"]]
    result = score(gold, pred)
    assert result["per_type"]["LOC"]["f1"] == 1.0
    assert result["per_type"]["PERS"]["f1"] == 0.0
    assert result["micro"]["precision"] == 0.5


def test_anercorp_dev_split_is_fixed_and_contiguous(shared: Path) -> None:
    sents = read_anercorp(shared / "data" / "anercorp" / "train.txt")
    train, dev = split_dev(sents)
    assert train + dev == sents
    assert 0.11 < sum(len(t) for t, _ in dev) / sum(len(t) for t, _ in sents) < 0.13
    assert sents[0][0][0] == "فرانكفورت" and sents[0][1][0] == "B-LOC"
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for _, tags in sents for tag in tags)


def test_wojood_maps_types(shared: Path) -> None:
    sents = read_wojood(shared / "data" / "wojood" / "train.txt")
    types = {t for _, tags in sents for (_, _, t) in spans_of(tags)}
    assert types <= {"PERS", "LOC", "ORG", "MISC"}
    assert {"PERS", "LOC", "ORG"} <= types


def test_wojood_with_its_own_types_keeps_the_outermost_mention(tmp_path: Path) -> None:
    # An OCC span holding a nested ORG and GPE, a DATE (not kept), then an ORG
    # whose inner PERS must not cut it.
    path = tmp_path / "w.txt"
    path.write_text(
        "a O\nb B-OCC\nc I-OCC B-ORG\nd I-OCC I-ORG\ne I-OCC B-GPE\nf B-DATE\n\n"
        "g B-ORG\nh I-ORG B-PERS\ni I-ORG I-PERS\nj O\n",
        encoding="utf-8",
    )
    own = read_wojood(path, {t: t for t in ("OCC", "ORG", "GPE", "PERS")})
    assert [tags for _, tags in own] == [
        ["O", "B-OCC", "I-OCC", "I-OCC", "I-OCC", "O"],
        ["B-ORG", "I-ORG", "I-ORG", "O"],
    ]
    # Without OCC the nested names come out; the default map folds GPE onto LOC.
    assert read_wojood(path)[0][1] == ["O", "O", "B-ORG", "I-ORG", "B-LOC", "O"]
    assert [toks for toks, _ in own] == [list("abcdef"), list("ghij")]
