"""Evaluation of the deduplicator on the ANT corpus: exact, synthetic and natural duplicates.

The evaluation stream is the ANT corpus in time order (or its first
``limit`` articles) with synthetic copies of sampled articles mixed in a
few hours after their originals, so every decision is taken against a
realistic store full of unrelated and same-topic articles.  Three kinds of
ground truth, all stored as ids and recipes (never as copies of the corpus)
under ``tests/data/dedup/``:

* **exact**: articles whose raw body is identical to an earlier one (ANT
  files some stories under two categories), plus synthetic copies whose
  edits the normaliser folds away (diacritics, alef/yaa/teh marbuta
  spellings, tatweel).  These must be ``exact`` duplicates of their group.
* **synthetic near copies** (``edits.json``): a headline added or
  replaced, a paragraph dropped or added, boilerplate appended, outlet
  style (hashtags, spelling variants) and combinations.  Made at run time
  with a fixed seed.
* **natural pairs** (``natural_pairs.tsv``): cross-outlet pairs labelled by
  hand as ``duplicate`` (same copy), ``same_event`` (separately written
  reports of one happening) or ``different`` (different stories sharing
  background): the last two are the hard negatives.  A second, blind reading
  of the same pairs (``natural_pairs_second.tsv``) gives the labels'
  agreement and the figures against the other reader.

A pair is predicted duplicate when both articles end up in the same story
cluster, which is what a subscriber sees.
"""

from __future__ import annotations

import bisect
import csv
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from marsad.deduplicator import minhash as mh
from marsad.deduplicator.core import (
    Decision,
    DedupConfig,
    Deduplicator,
    band_keys,
    parse_time,
    signature,
)
from marsad.deduplicator.corpus import DEFAULT_ANT, load_fold, read_articles
from marsad.deduplicator.resemblance import ordered_cover, resemblance
from marsad.scores import PrecisionRecall

logger = logging.getLogger(__name__)

_LETTERS = re.compile(r"[^\W_]+")
DEFAULT_EVAL_DIR = Path("tests/data/dedup")
# Decision methods of a near (not exact) duplicate.
_NEAR_METHODS = ("minhash", "ordered")

# Harakat added by the "diacritics" edit: fatha, damma, kasra, sukun, shadda,
# fathatan (U+064E, U+064F, U+0650, U+0652, U+0651, U+064B).
_HARAKAT = ("\u064e", "\u064f", "\u0650", "\u0652", "\u0651", "\u064b")
_TATWEEL = "\u0640"  # ARABIC TATWEEL
_ALEF = "\u0627"  # ARABIC LETTER ALEF
_ALEF_HAMZA_ABOVE = "\u0623"
_ALEF_HAMZA_BELOW = "\u0625"
_YEH = "\u064a"  # ARABIC LETTER YEH
_ALEF_MAKSURA = "\u0649"
_TEH_MARBUTA = "\u0629"
_HEH = "\u0647"


def _is_arabic_letter(ch: str) -> bool:
    # The Arabic letters proper (hamza .. yeh), not digits or harakat.
    return "\u0621" <= ch <= "\u064a"


@dataclass(frozen=True, slots=True)
class EvalArticle:
    """One article of the evaluation stream (natural or synthetic)."""

    id: str
    source: str
    published_at: str
    text: str
    title: str
    category: str
    base_id: str | None = None
    recipe: str | None = None
    expect: str | None = None


@dataclass(slots=True)
class Counts(PrecisionRecall):
    """True/false positives and false negatives of one task."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def to_json(self) -> dict[str, Any]:
        """Counts and rates as a JSON object."""
        return {
            "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
        }


@dataclass(slots=True)
class _UnionFind:
    parent: dict[str, str] = field(default_factory=dict)

    def find(self, x: str) -> str:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


# --- synthetic edits ----------------------------------------------------------------


class Editor:
    """Applies the edit steps of ``edits.json`` to article texts, deterministically.

    Args:
        recipes: The parsed ``edits.json``.
        pool: Articles to borrow headlines and paragraphs from.
    """

    def __init__(self, recipes: dict[str, Any], pool: Sequence[EvalArticle]) -> None:
        self.rates: dict[str, float] = recipes.get("rates", {})
        self.boilerplate: list[str] = recipes["boilerplate"]
        self.variants: list[tuple[str, str]] = [tuple(p) for p in recipes["spelling_variants"]]
        self.pool = pool
        self.steps: dict[str, Callable[[str, EvalArticle, random.Random], str]] = {
            "headline_added": self._headline_added,
            "headline_changed": self._headline_changed,
            "paragraph_dropped": self._paragraph_dropped,
            "paragraph_added": self._paragraph_added,
            "boilerplate_added": self._boilerplate_added,
            "hashtags": self._hashtags,
            "spelling_variants": self._spelling_variants,
            "diacritics": self._diacritics,
            "alef_spellings": self._alef_spellings,
            "tatweel": self._tatweel,
        }

    def apply(self, steps: Iterable[str], art: EvalArticle, rng: random.Random) -> str:
        """Apply the named steps in order to ``art.text``."""
        text = art.text
        for step in steps:
            text = self.steps[step](text, art, rng)
        return text

    def _other(self, art: EvalArticle, rng: random.Random) -> EvalArticle:
        while True:
            other = self.pool[rng.randrange(len(self.pool))]
            if other.id != art.id and other.text.strip():
                return other

    def _headline_added(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        return f"{art.title}\n{text}"

    def _headline_changed(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        # An outlet's own headline: one from another story of the pool, so it
        # shares no shingles with the text by construction.
        return f"{self._other(art, rng).title}\n{text}"

    def _paragraph_dropped(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        paras = [p for p in text.split("\n") if p.strip()]
        if len(paras) >= 3:
            del paras[rng.randrange(1, len(paras))]
            return "\n".join(paras)
        sentences = [s for s in text.split(".") if s.strip()]
        if len(sentences) >= 3:
            del sentences[rng.randrange(1, len(sentences))]
        return ".".join(sentences)

    def _paragraph_added(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        other = self._other(art, rng)
        paras = [p for p in other.text.split("\n") if len(p.split()) >= 8] or [other.text]
        added = paras[rng.randrange(len(paras))]
        own = text.split("\n")
        own.insert(rng.randrange(1, len(own) + 1), added)
        return "\n".join(own)

    def _boilerplate_added(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        return f"{text}\n{self.boilerplate[rng.randrange(len(self.boilerplate))]}"

    def _hashtags(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        rate = self.rates.get("hashtags", 0.05)
        out = []
        for w in text.split(" "):
            out.append("#" + w if len(w) >= 4 and _is_arabic_letter(w[0]) and rng.random() < rate
                       else w)
        return " ".join(out)

    def _spelling_variants(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        words = text.split(" ")
        swap = dict(self.variants) | {b: a for a, b in self.variants}
        return " ".join(swap.get(w, w) if rng.random() < 0.8 else w for w in words)

    def _diacritics(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        rate = self.rates.get("diacritics", 0.4)
        out = []
        for ch in text:
            out.append(ch)
            if _is_arabic_letter(ch) and rng.random() < rate:
                out.append(_HARAKAT[rng.randrange(len(_HARAKAT))])
        return "".join(out)

    def _alef_spellings(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        rate = self.rates.get("alef_spellings", 0.5)
        out = []
        for w in text.split(" "):
            if w.startswith(_ALEF) and rng.random() < rate:
                w = rng.choice((_ALEF_HAMZA_ABOVE, _ALEF_HAMZA_BELOW)) + w[1:]
            elif w.startswith((_ALEF_HAMZA_ABOVE, _ALEF_HAMZA_BELOW)) and rng.random() < rate:
                w = _ALEF + w[1:]
            if w.endswith(_YEH) and rng.random() < rate:
                w = w[:-1] + _ALEF_MAKSURA
            elif w.endswith(_TEH_MARBUTA) and rng.random() < rate:
                w = w[:-1] + _HEH
            out.append(w)
        return " ".join(out)

    def _tatweel(self, text: str, art: EvalArticle, rng: random.Random) -> str:
        rate = self.rates.get("tatweel", 0.08)
        out = []
        for i, ch in enumerate(text):
            out.append(ch)
            nxt = text[i + 1] if i + 1 < len(text) else ""
            # Kashida only joins two letters inside a word.
            if _is_arabic_letter(ch) and _is_arabic_letter(nxt) and rng.random() < rate:
                out.append(_TATWEEL)
        return "".join(out)


def make_synthetic(
    articles: Sequence[EvalArticle], recipes: dict[str, Any], *, bases: int | None = None
) -> list[EvalArticle]:
    """Synthetic copies of sampled articles, one per recipe, dated after their base.

    Args:
        articles: The natural stream (sampling pool and borrowing pool).
        recipes: Parsed ``edits.json``.
        bases: Number of base articles (default from the recipes).

    Returns:
        The copies (ids ``syn-<recipe>-<base id>``), in no particular order.
    """
    rng = random.Random(int(recipes["seed"]))  # noqa: S311 - reproducible sampling, not security
    min_words = int(recipes.get("min_words", 60))
    eligible = [a for a in articles if len(a.text.split()) >= min_words]
    n = min(bases if bases is not None else int(recipes["bases"]), len(eligible))
    chosen = rng.sample(eligible, n)
    editor = Editor(recipes, articles)
    lo, hi = recipes.get("delay_hours", [0.5, 30])
    out: list[EvalArticle] = []
    for base in chosen:
        for recipe in recipes["recipes"]:
            # One generator per (base, recipe): adding a recipe leaves the
            # other copies unchanged.
            r = random.Random(f"{recipes['seed']}:{base.id}:{recipe['name']}")  # noqa: S311
            text = editor.apply(recipe["steps"], base, r)
            ts = parse_time(base.published_at) or 0.0
            when = datetime.fromtimestamp(ts, tz=UTC) + timedelta(hours=r.uniform(lo, hi))
            out.append(EvalArticle(
                id=f"syn-{recipe['name']}-{base.id}", source=f"synthetic-{recipe['name']}",
                published_at=when.isoformat(), text=text, title=base.title,
                category=base.category, base_id=base.id, recipe=recipe["name"],
                expect=recipe["expect"],
            ))
    return out


# --- ground truth ------------------------------------------------------------------


def load_natural_pairs(path: Path) -> list[tuple[str, str, str]]:
    """``(id_a, id_b, label)`` rows of ``natural_pairs.tsv`` (comments skipped)."""
    rows: list[tuple[str, str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if row and not row[0].startswith("#"):
                rows.append((row[0], row[1], row[2]))
    return rows


LABELS = ("duplicate", "same_event", "different")
"""The labels of the natural pairs, in the order the agreement table lists them."""


def agreement(first: Sequence[tuple[str, str, str]],
              second: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """How far two readings of the same pairs agree.

    Args:
        first: ``(id_a, id_b, label)`` rows of one reader.
        second: The same pairs read again (pairs only one reader labelled are skipped).

    Returns:
        ``pairs``, the ``confusion`` table (first reader's label -> second
        reader's label -> count), the ``observed`` agreement and Cohen's
        ``kappa`` over the three labels, and ``duplicate_kappa`` over
        duplicate / not duplicate.
    """
    again = {(a, b): label for a, b, label in second}
    both = [(label, again[(a, b)]) for a, b, label in first if (a, b) in again]
    confusion = {x: {y: sum(1 for f, s in both if (f, s) == (x, y)) for y in LABELS}
                 for x in LABELS}

    def kappa(rows: Sequence[tuple[str, str]]) -> tuple[float, float]:
        n = len(rows)
        if not n:
            return 0.0, 0.0
        observed = sum(1 for f, s in rows if f == s) / n
        cats = {c for row in rows for c in row}
        chance = sum(sum(1 for f, _ in rows if f == c) * sum(1 for _, s in rows if s == c)
                     for c in cats) / (n * n)
        return observed, (observed - chance) / (1.0 - chance) if chance < 1.0 else 1.0

    observed, k3 = kappa(both)
    _, k2 = kappa([(str(f == "duplicate"), str(s == "duplicate")) for f, s in both])
    return {"pairs": len(both), "confusion": confusion, "observed": round(observed, 3),
            "kappa": round(k3, 3), "duplicate_kappa": round(k2, 3)}


def _natural_counts(pairs: Sequence[tuple[str, str, str]], decisions: dict[str, Decision]
                    ) -> tuple[Counts, dict[str, int]]:
    """Pair counts of the labelled pairs (merged = same story cluster), and the negatives merged."""
    counts = Counts()
    negatives = {"same_event": 0, "different": 0}
    for id_a, id_b, label in pairs:
        if id_a not in decisions or id_b not in decisions:
            continue
        same = decisions[id_a].cluster_id == decisions[id_b].cluster_id
        if label == "duplicate":
            if same:
                counts.tp += 1
            else:
                counts.fn += 1
        elif same:
            counts.fp += 1
            negatives[label] = negatives.get(label, 0) + 1
        else:
            counts.tn += 1
    return counts, negatives


def _stream(articles: Sequence[EvalArticle], synthetic: Sequence[EvalArticle]
            ) -> list[EvalArticle]:
    keyed = [((parse_time(a.published_at) or 0.0), i, a) for i, a in enumerate(articles)]
    keyed.sort(key=lambda k: (k[0], k[1]))
    times = [k[0] for k in keyed]
    stream = [k[2] for k in keyed]
    extra = sorted(synthetic, key=lambda a: ((parse_time(a.published_at) or 0.0), a.id))
    # Insert from the back so earlier insertion points stay valid.
    for s in reversed(extra):
        pos = bisect.bisect_right(times, parse_time(s.published_at) or 0.0)
        stream.insert(pos, s)
        times.insert(pos, parse_time(s.published_at) or 0.0)
    return stream


@dataclass(slots=True)
class EvalResult:
    """Everything the evaluation measured."""

    config: DedupConfig
    articles: int
    synthetic: int
    seconds: float
    exact: Counts
    near_synthetic: Counts
    near_natural: Counts
    natural_negatives: dict[str, int]
    by_recipe: dict[str, Counts]
    stream_near_pairs: list[tuple[str, str, float]]
    misses: list[str]
    fold_failures: list[str]
    natural_weighted: dict[str, Any] = field(default_factory=dict)
    natural_cv: dict[str, Any] = field(default_factory=dict)
    near_natural_second: Counts | None = None
    second_reader: dict[str, Any] = field(default_factory=dict)

    @property
    def near(self) -> Counts:
        """Synthetic and natural near-duplicate counts pooled."""
        s, n = self.near_synthetic, self.near_natural
        return Counts(s.tp + n.tp, s.fp + n.fp, s.fn + n.fn, s.tn + n.tn)

    def to_json(self) -> dict[str, Any]:
        """The measured figures as a JSON object."""
        return {
            "config": self.config.to_json(),
            "articles": self.articles,
            "synthetic_copies": self.synthetic,
            "seconds": round(self.seconds, 2),
            "exact": self.exact.to_json(),
            "near_synthetic": self.near_synthetic.to_json(),
            "near_natural_labelled": self.near_natural.to_json(),
            "near_pooled": self.near.to_json(),
            "natural_negatives_merged": self.natural_negatives,
            "near_synthetic_by_recipe": {k: v.to_json() for k, v in self.by_recipe.items()},
            "stream_near_duplicate_decisions": len(self.stream_near_pairs),
            "exact_edits_not_folded": len(self.fold_failures),
            "near_natural_population_weighted": self.natural_weighted,
            "near_natural_pairwise_cross_validation": self.natural_cv,
            "near_natural_second_reader": (
                self.near_natural_second.to_json() if self.near_natural_second else None),
            "second_reader_agreement": self.second_reader,
        }


def evaluate(
    config: DedupConfig,
    *,
    ant: Path = DEFAULT_ANT,
    eval_dir: Path = DEFAULT_EVAL_DIR,
    limit: int | None = None,
    bases: int | None = None,
    fold: Callable[[str], str] | None = None,
    weighted: bool = True,
) -> EvalResult:
    """Run the evaluation stream through a fresh :class:`Deduplicator` and score it.

    Args:
        config: Parameters to evaluate.
        ant: The ANT JSONL(.gz).
        eval_dir: Folder with ``edits.json`` and ``natural_pairs.tsv``.
        limit: Use only the first ``limit`` ANT articles (plus those of the labelled pairs).
        bases: Number of articles to make synthetic copies of.
        fold: Matching-text function (the normaliser's fold by default).
        weighted: Also estimate population-weighted natural P/R (rebuilding the
            candidate population of the labelled pairs) and cross-validate the
            confirmation rule on them.
    """
    fold = fold or load_fold()
    recipes = json.loads((eval_dir / "edits.json").read_text(encoding="utf-8"))
    pairs = load_natural_pairs(eval_dir / "natural_pairs.tsv")
    wanted = {i for a, b, _ in pairs for i in (a, b)}
    articles: list[EvalArticle] = []
    for i, raw in enumerate(read_articles(ant)):
        if limit is not None and i >= limit and raw["id"] not in wanted:
            continue
        articles.append(EvalArticle(
            id=raw["id"], source=raw.get("source") or "", text=raw.get("text") or "",
            published_at=raw.get("published_at") or "", title=raw.get("title") or "",
            category=raw.get("category") or "",
        ))
    pool = articles if limit is None else articles[:limit]
    synthetic = make_synthetic(pool, recipes, bases=bases)
    stream = _stream(articles, synthetic)

    folded = {art.id: fold(art.text) for art in stream}
    dedup = Deduplicator(config, {})
    decisions: dict[str, Decision] = {}
    started = time.perf_counter()
    for art in stream:
        decisions[art.id] = dedup.decide(
            art.id, folded[art.id], source=art.source, published_at=art.published_at
        )
    seconds = time.perf_counter() - started
    # Exact truth, computed apart from the deduplicator's own fingerprint:
    # the same letters and digits once folded (punctuation, spacing and
    # the spellings folding removes do not count).
    letters = {aid: " ".join(_LETTERS.findall(text)) for aid, text in folded.items()}
    result = _score(config, articles, synthetic, stream, decisions, pairs, seconds, letters)
    second_path = eval_dir / "natural_pairs_second.tsv"
    if second_path.exists():
        second = load_natural_pairs(second_path)
        result.near_natural_second = _natural_counts(second, decisions)[0]
        result.second_reader = agreement(pairs, second)
    if weighted:
        by_id = {a.id: a for a in articles}
        evidence = pair_evidence(config, pairs, by_id, folded)
        merged = {
            (ev.id_a, ev.id_b): decisions[ev.id_a].cluster_id == decisions[ev.id_b].cluster_id
            for ev in evidence
        }
        population = candidate_population(articles, folded, config.seed)
        result.natural_weighted = weighted_natural(evidence, merged, population)
        result.natural_cv = cross_validate(evidence, config)
    return result


def _score(
    config: DedupConfig,
    articles: Sequence[EvalArticle],
    synthetic: Sequence[EvalArticle],
    stream: Sequence[EvalArticle],
    decisions: dict[str, Decision],
    pairs: Sequence[tuple[str, str, str]],
    seconds: float,
    letters: dict[str, str],
) -> EvalResult:
    exact_uf = _UnionFind()
    first_by_body: dict[str, str] = {}
    for a in stream:
        body = letters[a.id]
        if body:
            exact_uf.union(first_by_body.setdefault(body, a.id), a.id)
    fold_failures = [
        s.id for s in synthetic
        if s.expect == "exact" and s.base_id is not None and letters[s.id] != letters[s.base_id]
    ]
    near_uf = _UnionFind(dict(exact_uf.parent))
    for s in synthetic:
        if s.base_id is not None:
            near_uf.union(s.base_id, s.id)

    # Exact: every article with a member of its exact group seen within the
    # window before it (older copies are forgotten by design).
    exact = Counts()
    window = config.window_days * 86_400.0
    last_seen: dict[str, float] = {}
    for art in stream:
        d = decisions[art.id]
        group = exact_uf.find(art.id)
        ts = parse_time(art.published_at) or 0.0
        should = bool(letters[art.id]) and ts - last_seen.get(group, -math.inf) <= window
        if letters[art.id]:
            last_seen[group] = max(ts, last_seen.get(group, ts))
        said = d.method == "exact"
        right = said and d.duplicate_of is not None and exact_uf.find(d.duplicate_of) == group
        if said and right:
            exact.tp += 1
        elif said:
            exact.fp += 1
        if should and not right:
            exact.fn += 1

    # Synthetic near copies: same cluster as the base.
    near_syn = Counts()
    by_recipe: dict[str, Counts] = {}
    misses: list[str] = []
    for s in synthetic:
        if s.expect != "near" or s.base_id is None:
            continue
        c = by_recipe.setdefault(s.recipe or "", Counts())
        if decisions[s.id].cluster_id == decisions[s.base_id].cluster_id:
            near_syn.tp += 1
            c.tp += 1
        else:
            near_syn.fn += 1
            c.fn += 1
            misses.append(s.id)
    # False positives: a synthetic copy joined to an article outside its
    # family, or a natural article joined to a synthetic copy.
    syn_ids = {s.id for s in synthetic}
    for aid, d in decisions.items():
        if d.duplicate_of is None or d.method not in _NEAR_METHODS:
            continue
        if (aid in syn_ids or d.duplicate_of in syn_ids) and (
            near_uf.find(aid) != near_uf.find(d.duplicate_of)
        ):
            near_syn.fp += 1
            if aid in syn_ids:
                c = by_recipe.setdefault(aid.split("-")[1], Counts())
                c.fp += 1

    near_nat, negatives = _natural_counts(pairs, decisions)

    stream_pairs = [
        (aid, d.duplicate_of, d.similarity or 0.0)
        for aid, d in decisions.items()
        if d.method in _NEAR_METHODS and d.duplicate_of is not None
        and aid not in syn_ids and d.duplicate_of not in syn_ids
    ]
    return EvalResult(
        config=config, articles=len(articles), synthetic=len(synthetic), seconds=seconds,
        exact=exact, near_synthetic=near_syn, near_natural=near_nat,
        natural_negatives=negatives, by_recipe=by_recipe,
        stream_near_pairs=stream_pairs, misses=misses, fold_failures=fold_failures,
    )


def format_result(result: EvalResult) -> str:
    """A short human-readable report of an :class:`EvalResult`."""
    cfg = result.config
    lines = [
        f"config: threshold={cfg.threshold} shingle={cfg.shingle} "
        f"permutations={cfg.permutations} bands={cfg.bands} window_days={cfg.window_days}",
        f"stream: {result.articles} ANT articles + {result.synthetic} synthetic copies, "
        f"deduplicated in {result.seconds:.1f}s "
        f"({(result.articles + result.synthetic) / max(result.seconds, 1e-9):.0f} articles/s)",
        "",
        f"{'task':<34}{'P':>8}{'R':>8}{'TP':>7}{'FP':>6}{'FN':>6}",
    ]

    def row(name: str, c: Counts) -> str:
        return f"{name:<34}{c.precision:>8.3f}{c.recall:>8.3f}{c.tp:>7}{c.fp:>6}{c.fn:>6}"

    lines.append(row("exact duplicates", result.exact))
    lines.append(row("near: synthetic copies", result.near_synthetic))
    lines.append(row("near: natural labelled pairs", result.near_natural))
    if result.near_natural_second is not None:
        lines.append(row("  ... by a second reader", result.near_natural_second))
    lines.append(row("near: pooled", result.near))
    lines.append("")
    lines.append("synthetic near copies by recipe:")
    for name, c in sorted(result.by_recipe.items()):
        lines.append(row(f"  {name}", c))
    neg = result.natural_negatives
    lines.append("")
    lines.append(
        f"hard negatives wrongly merged: same_event={neg.get('same_event', 0)} "
        f"different={neg.get('different', 0)} "
        f"(of {result.near_natural.tn + result.near_natural.fp})"
    )
    lines.append(
        f"near-duplicate decisions between natural articles in the stream: "
        f"{len(result.stream_near_pairs)}"
    )
    lines.append(
        f"synthetic 'exact' edits the folding did not undo: {len(result.fold_failures)}"
    )
    lines.extend(_format_second_reader(result.second_reader))
    lines.extend(_format_natural(result, row))
    return "\n".join(lines)


def _format_second_reader(agreed: dict[str, Any]) -> list[str]:
    """The agreement of the two readings of the natural pairs, as a small table."""
    if not agreed:
        return []
    lines = [
        "",
        f"natural pairs read twice, blind ({agreed['pairs']} pairs): agreement "
        f"{agreed['observed']:.3f}, Cohen's kappa {agreed['kappa']:.3f} "
        f"(duplicate or not: {agreed['duplicate_kappa']:.3f}); first reader (rows) x second:",
        f"  {'':<12}" + "".join(f"{y:>12}" for y in LABELS),
    ]
    for x in LABELS:
        lines.append(f"  {x:<12}" + "".join(f"{agreed['confusion'][x][y]:>12}" for y in LABELS))
    return lines


def _format_natural(result: EvalResult, row: Callable[[str, Counts], str]) -> list[str]:
    """The population-weighted and cross-validated figures of the natural pairs."""
    lines: list[str] = []
    w = result.natural_weighted
    if w:
        n = result.near_natural
        lines += [
            "",
            "natural labelled pairs, raw (the sample over-represents the ambiguous middle): "
            f"P {n.precision:.3f} R {n.recall:.3f}",
            f"natural pairs, POPULATION-WEIGHTED (each pair weighted by its cell's share of "
            f"the {w['population_pairs']} candidate pairs rebuilt from the corpus, cells = "
            f"same/cross outlet x containment stratum): P {w['precision']:.3f} "
            f"R {w['recall']:.3f} (bootstrap 95%: P {w['precision_95'][0]:.3f}-"
            f"{w['precision_95'][1]:.3f}, R {w['recall_95'][0]:.3f}-{w['recall_95'][1]:.3f})",
            f"  {'cell':<26}{'population':>11}{'labelled':>9}",
        ]
        for cell in w["cells"]:
            name = f"{'same' if cell['same_outlet'] else 'cross'} outlet {cell['stratum']}"
            lines.append(f"  {name:<26}{cell['population']:>11}{cell['labelled']:>9}")
    cv = result.natural_cv
    if cv:
        fitted = cv["fitted_on_all"]
        lines += [
            "",
            "confirmation rule on the labelled pairs, PAIRWISE (each pair alone, no third "
            "article; rule: Jaccard bar, or across outlets containment bar + Jaccard floor, "
            "or ordered-cover bar + Jaccard floor; fitted for the most TP at P >= 0.98):",
            f"{'':<34}{'P':>8}{'R':>8}{'TP':>7}{'FP':>6}{'FN':>6}",
        ]
        plain = cv.get("without_ordered", {})
        for key, name, part in (
            ("jaccard_only_in_sample", "Jaccard only (in-sample)", cv),
            ("shipped_in_sample", "no ordered path (in-sample)", plain),
            ("leave_one_out", "no ordered path, leave-one-out", plain),
            ("10_fold", "no ordered path, 10-fold", plain),
            ("shipped_in_sample", "shipped rule (in-sample)", cv),
            ("leave_one_out", "fitted, leave-one-out", cv),
            ("10_fold", "fitted, 10-fold", cv),
        ):
            if key in part:
                c = part[key]
                lines.append(row(f"  {name}", Counts(c["tp"], c["fp"], c["fn"], c["tn"])))
        lines.append(
            f"  fitted on all: containment {fitted['containment']} floor "
            f"{fitted['containment_floor']}, ordered cover {fitted['ordered_cover']} floor "
            f"{fitted['ordered_floor']} (TP {fitted['tp']} FP {fitted['fp']}); rules "
            f"chosen by the leave-one-out folds (containment/floor+o cover/floor): "
            f"{', '.join(cv['rules_chosen_leave_one_out'])}"
        )
    return lines


# --- natural pairs: pairwise evidence, cross-validation, population weights --------------

# Containment strata of the candidate population the natural pairs were drawn
# from (tests/data/dedup/README.md: 8 strata over 0.15-1.0); the edges are
# reconstructed from the sample, which spreads evenly over them.
STRATA: tuple[float, ...] = (0.15, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_POPULATION_DAYS = 3.0
_POPULATION_BANDS = 64  # of 2 rows: pairs down to a Jaccard of about 0.1
_POPULATION_MIN_JACCARD = 0.1
# The rule family the cross-validation fits: containment bar x Jaccard floor.
_CV_BARS = (*(round(0.5 + 0.025 * i, 3) for i in range(19)), 1.01)
_CV_FLOORS = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
_CV_PRECISION = 0.98
# ... and the ordered-cover path: bar x Jaccard floor (above 1: off).
_CV_COVERS = (*(round(0.45 + 0.025 * i, 3) for i in range(13)), 1.01)
_CV_COVER_FLOORS = (0.2, 0.25, 0.3, 0.35)
_BOOTSTRAP = 1000


@dataclass(frozen=True, slots=True)
class PairEvidence:
    """What the deduplicator can know about one labelled pair, and where it was drawn.

    Attributes:
        id_a: The earlier article.
        id_b: The later article.
        label: ``duplicate``, ``same_event`` or ``different``.
        jaccard: Estimated Jaccard similarity (MinHash).
        shingles_a: Distinct shingles of ``id_a``.
        shingles_b: Distinct shingles of ``id_b``.
        cross_outlet: Both sources known and different.
        followup: Same source more than ``followup_hours`` apart.
        candidate: The two share an LSH bucket of the configuration.
        stratum: Sampling stratum (index into :data:`STRATA`) by exact containment.
        cover: Ordered cover of the two order samples (0 when the
            configuration keeps none).
    """

    id_a: str
    id_b: str
    label: str
    jaccard: float
    shingles_a: int
    shingles_b: int
    cross_outlet: bool
    followup: bool
    candidate: bool
    stratum: int
    cover: float = 0.0

    @property
    def cell(self) -> tuple[bool, int]:
        """``(same outlet, stratum)``: the population cell the pair stands for."""
        return (not self.cross_outlet, self.stratum)


def _shingle_set(folded: str, seed: int = 1) -> mh.U64Array:
    return mh.shingle_hashes(mh.apply_variants(mh.word_hashes(folded, seed), seed), 3, seed)


def _exact_overlap(sa: mh.U64Array, sb: mh.U64Array) -> tuple[float, float]:
    """Exact Jaccard and containment of the smaller set, of two sorted unique hash arrays."""
    if sa.size == 0 or sb.size == 0:
        return 0.0, 0.0
    inter = int(np.intersect1d(sa, sb, assume_unique=True).size)
    return inter / (sa.size + sb.size - inter), inter / min(sa.size, sb.size)


def stratum_of(containment: float) -> int:
    """Index of the sampling stratum of an exact 3-shingle containment (clipped to 0..7)."""
    return max(0, bisect.bisect_right(STRATA, containment) - 1)


def pair_evidence(
    config: DedupConfig,
    pairs: Sequence[tuple[str, str, str]],
    arts: dict[str, EvalArticle],
    folded: dict[str, str],
) -> list[PairEvidence]:
    """The evidence of every labelled pair whose two articles are in ``arts``."""
    out: list[PairEvidence] = []
    for id_a, id_b, label in pairs:
        if id_a not in arts or id_b not in arts:
            continue
        a, b = arts[id_a], arts[id_b]
        sa, sb = signature(folded[id_a], config), signature(folded[id_b], config)
        ta, tb = parse_time(a.published_at) or 0.0, parse_time(b.published_at) or 0.0
        same = bool(a.source) and a.source == b.source
        _, contained = _exact_overlap(_shingle_set(folded[id_a]), _shingle_set(folded[id_b]))
        out.append(PairEvidence(
            id_a=id_a, id_b=id_b, label=label,
            jaccard=mh.estimated_jaccard(sa.values, sb.values),
            shingles_a=sa.shingles, shingles_b=sb.shingles,
            cross_outlet=bool(a.source) and bool(b.source) and not same,
            followup=same and abs(ta - tb) > config.followup_hours * 3600.0,
            candidate=bool(set(band_keys(sa, config)) & set(band_keys(sb, config))),
            stratum=stratum_of(contained),
            cover=ordered_cover(sa.order, sb.order),
        ))
    return out


Rule = tuple[float, float, float, float]
"""``(containment bar, its Jaccard floor, ordered-cover bar, its Jaccard floor)``."""


def shipped_rule(config: DedupConfig) -> Rule:
    """The rule of a configuration, as the cross-validation grid names rules."""
    return (config.containment, config.containment_floor,
            config.ordered_cover, config.ordered_floor)


def pair_predicted(ev: PairEvidence, containment: float, floor: float,
                   config: DedupConfig, cover_bar: float = 1.01,
                   cover_floor: float = 1.0) -> bool:
    """The deduplicator's rule applied to one pair on its own (no third article)."""
    if not ev.candidate:
        return False
    score = resemblance(
        ev.jaccard, ev.shingles_a, ev.shingles_b, cross_outlet=ev.cross_outlet,
        threshold=config.threshold, containment_bar=containment, containment_floor=floor,
        cover=ev.cover, cover_bar=cover_bar, cover_floor=cover_floor,
    )
    bar = max(config.threshold, config.followup_threshold) if ev.followup else config.threshold
    return score >= bar


def _pair_counts(evidence: Iterable[PairEvidence], rule: Rule, config: DedupConfig) -> Counts:
    c = Counts()
    for ev in evidence:
        said = pair_predicted(ev, rule[0], rule[1], config, rule[2], rule[3])
        if ev.label == "duplicate":
            c.tp += said
            c.fn += not said
        elif said:
            c.fp += 1
        else:
            c.tn += 1
    return c


def _rule_grid(ordered: bool) -> list[Rule]:
    """The rules the cross-validation chooses among (the ordered path off unless ``ordered``)."""
    covers = _CV_COVERS if ordered else (1.01,)
    cover_floors = _CV_COVER_FLOORS if ordered else (1.0,)
    return [(bar, floor, cover, cover_floor)
            for bar in _CV_BARS for floor in _CV_FLOORS
            for cover in covers for cover_floor in cover_floors
            if cover <= 1.0 or cover_floor == cover_floors[0]]


def _rule_table(
    evidence: Sequence[PairEvidence], config: DedupConfig, rules: Sequence[Rule]
) -> npt.NDArray[np.bool_]:
    """Every rule's prediction for every pair (rules x pairs), computed once."""
    table = np.zeros((len(rules), len(evidence)), dtype=np.bool_)
    for r, rule in enumerate(rules):
        for i, ev in enumerate(evidence):
            table[r, i] = pair_predicted(ev, rule[0], rule[1], config, rule[2], rule[3])
    return table


def fit_rule(
    evidence: Sequence[PairEvidence],
    config: DedupConfig,
    *,
    only: Iterable[int] | None = None,
    ordered: bool = True,
    table: tuple[Sequence[Rule], npt.NDArray[np.bool_]] | None = None,
) -> Rule:
    """The rule of the grid that fits the pairs best.

    Best: the most true positives at precision >= 0.98 on ``evidence`` (or
    its pairs ``only``); ties go to the stricter rule (higher bars and floors).

    Args:
        evidence: The labelled pairs.
        config: The other parameters (Jaccard bar, follow-up rule).
        only: Indices of the training pairs (all when omitted).
        ordered: Let the grid use the ordered-cover path (else it stays off).
        table: The grid and its :func:`_rule_table`, to share between folds.
    """
    if table is None:
        grid = _rule_grid(ordered)
        table = (grid, _rule_table(evidence, config, grid))
    rules, said = table
    train = np.zeros(len(evidence), dtype=np.bool_)
    train[list(range(len(evidence))) if only is None else list(only)] = True
    dup = np.array([ev.label == "duplicate" for ev in evidence], dtype=np.bool_)
    tp = (said & (train & dup)).sum(axis=1)
    fp = (said & (train & ~dup)).sum(axis=1)
    ok = (tp + fp == 0) | (tp / np.maximum(tp + fp, 1) >= _CV_PRECISION)
    best: tuple[int, Rule] | None = None
    for r in np.flatnonzero(ok).tolist():
        key = (int(tp[r]), rules[r])
        if best is None or key > best:
            best = key
    if best is None:
        return (_CV_BARS[-1], 1.0, 1.01, 1.0)
    return best[1]


def cross_validate(
    evidence: Sequence[PairEvidence], config: DedupConfig, *, folds: int = 10, seed: int = 7,
    ordered: bool = True,
) -> dict[str, Any]:
    """Out-of-sample pairwise P/R of fitting the rule (:func:`fit_rule`) on the labelled pairs.

    Each held-out pair is predicted by the rule fitted on the others: leave
    one out, and ``folds``-fold (shuffled with ``seed``).  The in-sample
    figures of the shipped ``config`` and of the rule fitted on all pairs are
    given beside them: those thresholds were chosen on these very pairs.
    With ``ordered`` the grid covers the ordered-cover bar and floor too,
    and the same folds are also fitted with that path off (the rule before
    it), so the two compare on one run.
    """
    rules = _rule_grid(ordered)
    table = (rules, _rule_table(evidence, config, rules))

    def held_out(grid: tuple[Sequence[Rule], npt.NDArray[np.bool_]],
                 groups: list[list[int]]) -> tuple[Counts, list[Rule]]:
        total = Counts()
        chosen: list[Rule] = []
        for test in groups:
            held = set(test)
            train = [i for i in range(len(evidence)) if i not in held]
            rule = fit_rule(evidence, config, only=train, table=grid)
            chosen.append(rule)
            c = _pair_counts([evidence[i] for i in test], rule, config)
            total = Counts(total.tp + c.tp, total.fp + c.fp, total.fn + c.fn, total.tn + c.tn)
        return total, chosen

    order = list(range(len(evidence)))
    random.Random(seed).shuffle(order)  # noqa: S311 - reproducible folds, not security
    loo_groups = [[i] for i in range(len(evidence))]
    kfold_groups = [order[k::folds] for k in range(folds)]
    loo, loo_rules = held_out(table, loo_groups)
    kfold, _ = held_out(table, kfold_groups)
    rule = fit_rule(evidence, config, table=table)
    out: dict[str, Any] = {
        "leave_one_out": loo.to_json(),
        f"{folds}_fold": kfold.to_json(),
        "rules_chosen_leave_one_out": sorted({_rule_name(r) for r in loo_rules}),
        "fitted_on_all": {"containment": rule[0], "containment_floor": rule[1],
                          "ordered_cover": rule[2], "ordered_floor": rule[3],
                          **_pair_counts(evidence, rule, config).to_json()},
        "shipped_in_sample": _pair_counts(evidence, shipped_rule(config), config).to_json(),
        "jaccard_only_in_sample": _pair_counts(
            evidence, (1.01, 1.0, 1.01, 1.0), config).to_json(),
    }
    if ordered:
        # The containment rule alone on the same folds: the figures before the ordered path.
        mask = [i for i, r in enumerate(rules) if r[2] > 1.0]
        plain = ([rules[i] for i in mask], table[1][mask])
        out["without_ordered"] = {
            "leave_one_out": held_out(plain, loo_groups)[0].to_json(),
            f"{folds}_fold": held_out(plain, kfold_groups)[0].to_json(),
            "shipped_in_sample": _pair_counts(
                evidence, (config.containment, config.containment_floor, 1.01, 1.0),
                config).to_json(),
        }
    return out


def _rule_name(rule: Rule) -> str:
    bar, floor, cover, cover_floor = rule
    name = f"{bar:g}/{floor:g}"
    return name if cover > 1.0 else f"{name}+o{cover:g}/{cover_floor:g}"


def candidate_population(
    articles: Sequence[EvalArticle], folded: dict[str, str], seed: int = 1
) -> dict[tuple[bool, int], int]:
    """Size of every ``(same outlet, stratum)`` cell of the natural pairs' candidate population.

    Rebuilt as the README describes the draw: articles with an exact
    duplicate body removed; pairs within 3 days sharing an LSH bucket of a
    3-word-shingle MinHash in 64 bands of 2 rows; exact Jaccard >= 0.1 and
    containment >= 0.15.  Deterministic (no random draw).
    """
    seen: set[str] = set()
    sets: list[mh.U64Array] = []
    times: list[float] = []
    sources: list[str] = []
    buckets: dict[str, list[int]] = {}
    for art in articles:
        text = folded[art.id]
        body = " ".join(_LETTERS.findall(text))
        if not body or body in seen:
            continue
        seen.add(body)
        shingles = _shingle_set(text, seed)
        idx = len(sets)
        sets.append(shingles)
        times.append(parse_time(art.published_at) or 0.0)
        sources.append(art.source)
        values = mh.minhash(shingles, 2 * _POPULATION_BANDS, seed)
        for key in mh.band_key_strings(values, _POPULATION_BANDS, seed):
            buckets.setdefault(key, []).append(idx)
    pairs: set[tuple[int, int]] = set()
    window = _POPULATION_DAYS * 86_400.0
    for members in buckets.values():
        for x, i in enumerate(members):
            for j in members[x + 1:]:
                if abs(times[i] - times[j]) <= window:
                    pairs.add((min(i, j), max(i, j)))
    cells: dict[tuple[bool, int], int] = {}
    for i, j in pairs:
        jaccard, contained = _exact_overlap(sets[i], sets[j])
        if jaccard < _POPULATION_MIN_JACCARD or contained < STRATA[0]:
            continue
        cell = (bool(sources[i]) and sources[i] == sources[j], stratum_of(contained))
        cells[cell] = cells.get(cell, 0) + 1
    return cells


def weighted_natural(
    evidence: Sequence[PairEvidence],
    merged: dict[tuple[str, str], bool],
    population: dict[tuple[bool, int], int],
) -> dict[str, Any]:
    """Precision and recall of the stream's decisions on the labelled pairs, population-weighted.

    Each pair counts ``N_cell / n_cell``: its cell's population over the
    labelled pairs of that cell.  A cell of the population with no labelled
    pair falls back on the pairs of its stratum (either outlet kind); the
    cells are returned with their sizes.
    """
    sample: dict[tuple[bool, int], int] = {}
    for ev in evidence:
        sample[ev.cell] = sample.get(ev.cell, 0) + 1
    by_stratum: dict[int, int] = {}
    for (_, s), n in sample.items():
        by_stratum[s] = by_stratum.get(s, 0) + n
    weight: dict[tuple[bool, int], float] = {}
    orphan = 0
    for cell, size in population.items():
        if cell in sample:
            weight[cell] = weight.get(cell, 0.0) + size / sample[cell]
        elif by_stratum.get(cell[1]):
            # No labelled pair of this outlet kind: its stratum speaks for it.
            for other in ((True, cell[1]), (False, cell[1])):
                if other in sample:
                    weight[other] = weight.get(other, 0.0) + size / by_stratum[cell[1]]
        else:
            orphan += size
    def rates(pairs: Iterable[PairEvidence]) -> tuple[float, float, float]:
        tp = fp = fn = 0.0
        for ev in pairs:
            w = weight.get(ev.cell, 0.0)
            said = merged.get((ev.id_a, ev.id_b), False)
            if ev.label == "duplicate":
                tp += w * said
                fn += w * (not said)
            elif said:
                fp += w
        return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 0.0,
                tp + fn)

    precision, recall, duplicates = rates(evidence)
    # Bootstrap within cells (the weights stay those of the cells): how much
    # the few labelled pairs per cell leave the figures uncertain.
    rng = random.Random(11)  # noqa: S311 - reproducible resampling, not security
    cells: dict[tuple[bool, int], list[PairEvidence]] = {}
    for ev in evidence:
        cells.setdefault(ev.cell, []).append(ev)
    boot_p: list[float] = []
    boot_r: list[float] = []
    for _ in range(_BOOTSTRAP):
        p, r, _n = rates(x for members in cells.values()
                         for x in rng.choices(members, k=len(members)))
        boot_p.append(p)
        boot_r.append(r)
    boot_p.sort()
    boot_r.sort()
    lo, hi = int(0.025 * _BOOTSTRAP), int(0.975 * _BOOTSTRAP) - 1
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "precision_95": [round(boot_p[lo], 4), round(boot_p[hi], 4)],
        "recall_95": [round(boot_r[lo], 4), round(boot_r[hi], 4)],
        "population_pairs": sum(population.values()),
        "estimated_duplicate_pairs": round(duplicates),
        "population_without_labelled_stratum": orphan,
        "cells": [
            {"same_outlet": same, "stratum": f"{STRATA[s]:.2f}-"
             f"{STRATA[s + 1] if s + 1 < len(STRATA) else 1.0:.2f}",
             "population": population.get((same, s), 0), "labelled": sample.get((same, s), 0)}
            for same, s in sorted(set(population) | set(sample))
        ],
    }
