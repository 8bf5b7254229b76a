"""The evaluation set and its command: synthetic edits, natural labels, P/R targets."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from marsad.deduplicator.commands import register
from marsad.deduplicator.core import DedupConfig, bench, parse_time
from marsad.deduplicator.corpus import load_fold, read_articles
from marsad.deduplicator.evaluation import (
    LABELS,
    Editor,
    EvalArticle,
    PairEvidence,
    agreement,
    cross_validate,
    evaluate,
    fit_rule,
    format_result,
    load_natural_pairs,
    make_synthetic,
    stratum_of,
    weighted_natural,
)

REPO = Path(__file__).resolve().parents[3]
ANT = REPO / ".." / "shared" / "data" / "ant" / "articles.jsonl.gz"
EVAL_DIR = REPO / "tests" / "data" / "dedup"
RECIPES = json.loads((EVAL_DIR / "edits.json").read_text(encoding="utf-8"))
SEED = (REPO / ".." / "shared" / "seeds" / "000_8bb0b02f1c03471e.txt").read_text(encoding="utf-8")

fold = load_fold()


def seed_article() -> EvalArticle:
    paras = [p for p in SEED.split("\n") if p.strip()]
    if len(paras) < 3:  # the seed has few line breaks: cut it into sentence groups
        sents = [s.strip() for s in SEED.replace("\n", " ").split(".") if s.strip()]
        paras = [". ".join(sents[i : i + 3]) + "." for i in range(0, len(sents), 3)]
    return EvalArticle(
        id="seed", source="seed", published_at="2012-07-07T10:00:00+00:00",
        text="\n".join(paras), title="مؤتمر أصدقاء سوريا في باريس", category="middleEast",
    )


POOL = [
    seed_article(),
    EvalArticle(
        id="other", source="x", published_at="2018-03-13T10:00:00+00:00",
        title="ناد صيني يهدد باللجوء الى القضاء بسبب إنييستا", category="sport",
        text="هدد نادي تيانجين كوانجيان الصيني باتخاذ إجراءات قانونية لوقف تكهنات إعلامية "
             "مستمرة حول انتقال قائد برشلونة الإسباني أندريس إنييستا إلى صفوفه.\n"
             "وارتبط اسم اللاعب البالغ 33 عاما بالانتقال الصيف المقبل إلى الدوري الصيني "
             "الذي جذب عددا كبيرا من نجوم اللعبة العالميين بعقود مغرية ماليا.",
    ),
]


@pytest.mark.parametrize(
    ("steps", "exact"),
    [
        (["diacritics"], True),
        (["alef_spellings"], True),
        (["tatweel"], True),
        (["diacritics", "alef_spellings", "tatweel"], True),
        (["headline_added"], False),
        (["headline_changed"], False),
        (["paragraph_dropped"], False),
        (["paragraph_added"], False),
        (["boilerplate_added"], False),
    ],
)
def test_edits_change_the_text_and_exact_ones_fold_away(steps: list[str], exact: bool) -> None:
    editor = Editor(RECIPES, POOL)
    base = POOL[0]
    edited = editor.apply(steps, base, random.Random(3))
    assert edited != base.text
    assert (fold(edited).split() == fold(base.text).split()) is exact


def test_synthetic_copies_are_deterministic() -> None:
    one = make_synthetic(POOL, RECIPES, bases=1)
    two = make_synthetic(POOL, RECIPES, bases=1)
    assert [(s.id, s.text, s.published_at) for s in one] == [
        (s.id, s.text, s.published_at) for s in two]
    assert len(one) == len(RECIPES["recipes"])
    base = {a.id: a for a in POOL}
    assert all(parse_time(s.published_at) > parse_time(base[s.base_id].published_at)
               for s in one if s.base_id is not None)


def test_natural_pairs_are_labelled_and_unique() -> None:
    pairs = load_natural_pairs(EVAL_DIR / "natural_pairs.tsv")
    assert len(pairs) == 150
    assert {label for _, _, label in pairs} == {"duplicate", "same_event", "different"}
    assert len({(a, b) for a, b, _ in pairs}) == len(pairs)
    assert all(a != b for a, b, _ in pairs)


def test_second_reading_covers_the_same_pairs() -> None:
    first = load_natural_pairs(EVAL_DIR / "natural_pairs.tsv")
    second = load_natural_pairs(EVAL_DIR / "natural_pairs_second.tsv")
    assert [(a, b) for a, b, _ in second] == [(a, b) for a, b, _ in first]
    assert {label for _, _, label in second} <= set(LABELS)


@pytest.mark.parametrize(
    ("first", "second", "observed", "kappa", "duplicate_kappa"),
    [
        # identical readings agree fully
        (["duplicate", "same_event", "different"], ["duplicate", "same_event", "different"],
         1.0, 1.0, 1.0),
        # 3 of 4 agree; chance 5/16 over three labels, 8/16 over duplicate or not
        (["duplicate", "duplicate", "same_event", "different"],
         ["duplicate", "same_event", "same_event", "different"], 0.75, 0.636, 0.5),
        # the second reader calls every pair a duplicate: no agreement beyond chance
        (["duplicate", "different"], ["duplicate", "duplicate"], 0.5, 0.0, 0.0),
    ],
)
def test_agreement_counts_and_kappa(first: list[str], second: list[str], observed: float,
                                    kappa: float, duplicate_kappa: float) -> None:
    ids = [(f"a{i}", f"b{i}") for i in range(len(first))]
    one = [(a, b, label) for (a, b), label in zip(ids, first, strict=True)]
    two = [(a, b, label) for (a, b), label in zip(ids, second, strict=True)]
    got = agreement(one, [*two, ("x", "y", "duplicate")])  # a pair only one reader has
    assert got["pairs"] == len(first)
    assert got["observed"] == pytest.approx(observed, abs=1e-3)
    assert got["kappa"] == pytest.approx(kappa, abs=1e-3)
    assert got["duplicate_kappa"] == pytest.approx(duplicate_kappa, abs=1e-3)
    assert sum(sum(row.values()) for row in got["confusion"].values()) == len(first)
    assert all(got["confusion"][x][y] == sum(1 for f, s in zip(first, second, strict=True)
                                             if (f, s) == (x, y))
               for x in LABELS for y in LABELS)


def test_evaluation_on_a_slice_meets_the_targets() -> None:
    result = evaluate(DedupConfig(), ant=ANT, eval_dir=EVAL_DIR, limit=3000, bases=40)
    assert result.exact.precision == 1.0 and result.exact.recall == 1.0
    assert result.near_synthetic.precision >= 0.98
    assert result.near_synthetic.recall >= 0.95
    # the hand-labelled hard negatives are never merged
    assert result.near_natural.fp == 0
    assert "exact duplicates" in format_result(result)
    # both readings of the natural pairs are scored on the same decisions
    assert result.near_natural_second is not None
    assert result.second_reader["pairs"] == 150
    assert "read twice, blind" in format_result(result)


@pytest.mark.slow
def test_full_evaluation_meets_the_targets() -> None:
    result = evaluate(DedupConfig(), ant=ANT, eval_dir=EVAL_DIR)
    assert result.exact.precision == 1.0
    assert result.exact.recall >= 0.999
    assert result.near_synthetic.precision >= 0.98
    assert result.near_synthetic.recall >= 0.95
    assert result.near_natural.precision >= 0.98
    assert result.near_natural.recall >= 0.75  # the hard natural middle: see README
    assert not result.fold_failures


@pytest.mark.slow
def test_bench_reports_speed_and_memory_on_ant_articles() -> None:
    texts = [fold(a.get("text") or "") for a in read_articles(ANT, limit=3000)]
    result = bench(texts)
    # Speed is a figure `marsad bench` reports, never a pass/fail bar here
    # (shared machines are noisy); memory per article is deterministic enough.
    assert result["articles_per_s"] > 0
    assert result["bytes_per_article"] < 20_000
    assert result["remembered"] > 0


def test_commands_register_and_run_on_a_slice(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["dedup-eval", "--data", str(ANT), "--eval-dir", str(EVAL_DIR),
                              "--limit", "1500", "--bases", "10", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"exact", "near_synthetic", "near_natural_labelled", "config"} <= set(out)
    weighted = out["near_natural_population_weighted"]
    assert weighted["population_pairs"] > 0 and 0.0 <= weighted["recall"] <= 1.0
    assert {"leave_one_out", "10_fold"} <= set(out["near_natural_pairwise_cross_validation"])
    args = parser.parse_args(["dedup-bench", "--data", str(ANT), "--limit", "300"])
    assert args.func(args, None) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 300


@pytest.mark.parametrize(
    ("containment", "stratum"),
    [(0.1, 0), (0.15, 0), (0.29, 0), (0.3, 1), (0.55, 3), (0.9, 7), (1.0, 7)],
)
def test_strata_of_the_candidate_population(containment: float, stratum: int) -> None:
    assert stratum_of(containment) == stratum


def _ev(label: str, *, jaccard: float = 0.4, cross: bool = True, stratum: int = 5,
        name: str = "", cover: float = 0.0) -> PairEvidence:
    # 100 and 200 shingles: containment of the smaller = 3 * J / (1 + J).
    return PairEvidence(
        id_a="a" + name, id_b="b" + name, label=label, jaccard=jaccard, shingles_a=100,
        shingles_b=200, cross_outlet=cross, followup=False, candidate=True, stratum=stratum,
        cover=cover,
    )


def test_weighting_counts_each_pair_for_its_cell_of_the_population() -> None:
    # One cross-outlet duplicate found, one same-outlet duplicate missed; the
    # population holds 9 same-outlet pairs for each cross-outlet one.
    evidence = [_ev("duplicate", name="1"), _ev("duplicate", cross=False, name="2")]
    merged = {("a1", "b1"): True, ("a2", "b2"): False}
    out = weighted_natural(evidence, merged, {(False, 5): 10, (True, 5): 90})
    assert out["recall"] == pytest.approx(0.1)
    assert out["precision"] == 1.0
    # A merged negative in a big cell weighs as much as its cell.
    evidence.append(_ev("different", cross=False, name="3"))
    merged[("a3", "b3")] = True
    out = weighted_natural(evidence, merged, {(False, 5): 10, (True, 5): 90})
    assert out["precision"] == pytest.approx(10 / (10 + 45), abs=1e-3)


def test_the_fitted_rule_keeps_precision_on_its_training_pairs() -> None:
    cfg = DedupConfig()
    # Duplicates contain more of the smaller text than the same-event pairs.
    evidence = [_ev("duplicate", jaccard=0.4 + 0.01 * i, name=f"d{i}") for i in range(10)]
    evidence += [_ev("same_event", jaccard=0.3 + 0.005 * i, name=f"s{i}") for i in range(10)]
    bar, floor, _, _ = fit_rule(evidence, cfg)
    said = [e for e in evidence if e.label != "duplicate"
            and 3 * e.jaccard / (1 + e.jaccard) >= bar and e.jaccard >= floor]
    assert not said
    cv = cross_validate(evidence, cfg, folds=5)
    assert cv["leave_one_out"]["tp"] + cv["leave_one_out"]["fn"] == 10
    assert cv["fitted_on_all"]["fp"] == 0 and cv["fitted_on_all"]["tp"] == 10


def test_the_fitted_rule_takes_the_ordered_cover_where_containment_cannot_separate() -> None:
    cfg = DedupConfig()
    # Same Jaccard (so the same containment) on both sides; only the duplicates
    # keep the order of what they share.
    evidence = [_ev("duplicate", jaccard=0.3, cover=0.7 + 0.02 * i, name=f"d{i}")
                for i in range(10)]
    evidence += [_ev("same_event", jaccard=0.3, cover=0.3 + 0.02 * i, name=f"s{i}")
                 for i in range(10)]
    _, _, cover, cover_floor = fit_rule(evidence, cfg)
    assert 0.48 < cover <= 0.7 and cover_floor <= 0.3
    assert fit_rule(evidence, cfg, ordered=False)[2] > 1.0  # the path stays off
    cv = cross_validate(evidence, cfg, folds=5)
    assert cv["fitted_on_all"]["tp"] == 10 and cv["fitted_on_all"]["fp"] == 0
    assert cv["leave_one_out"]["fp"] == 0 and cv["leave_one_out"]["tp"] == 10
    # Without the ordered path no rule separates them: nothing is found.
    assert cv["without_ordered"]["leave_one_out"]["tp"] == 0
    assert cv["without_ordered"]["5_fold"]["tp"] == 0


def test_dedup_bench_measures_event_merging_with_the_extractors_reports(
        capsys: pytest.CaptureFixture[str]) -> None:
    from marsad.cli import main

    # The bench dates the articles and their reports ten minutes apart: 600 span
    # more than the merger's three days, so events close and wait in the outbox.
    assert main(["dedup-bench", "--data", str(ANT), "--limit", "600", "--partitions", "2",
                 "--events"]) == 0
    out = json.loads(capsys.readouterr().out)
    plain, events = out["banded"], out["banded_with_events"]
    assert plain["event_messages_per_article"] == 0
    assert events["reports_per_article"] > 1
    assert events["event_messages_per_article"] > 0
    assert events["merged_records_per_article"] > 0
    assert events["event_outbox_bytes"] > 0
    # The state with events is larger, by more than the outbox alone.
    assert events["event_bytes_per_article"] > 0
    assert events["agreement_with_single"] == 1.0


def test_dedup_bench_events_needs_partitions(capsys: pytest.CaptureFixture[str]) -> None:
    from marsad.cli import main

    assert main(["dedup-bench", "--data", str(ANT), "--limit", "10", "--events"]) == 2
    assert "--events needs --partitions" in capsys.readouterr().err
