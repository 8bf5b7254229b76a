"""Corpus-wide helpers: read ANT, rebuild the glue lexicon, compare with camel-tools.

Used by the CLI commands and the slow tests; not by the streaming stage.
"""

from __future__ import annotations

import collections
import gzip
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from marsad.normaliser import core, display, glue

logger = logging.getLogger(__name__)

DEFAULT_ANT = Path("..") / "shared" / "data" / "ant" / "articles.jsonl.gz"


def iter_articles(path: Path) -> Iterator[dict[str, str]]:
    """Yield the JSON objects of a (gzipped) JSONL corpus."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def build_lexicon(corpus: Path, out: Path) -> int:
    """Learn the glued-word table from the display texts of ``corpus`` and write it."""

    class _Texts:
        # Re-iterable: the table is learned in two passes.
        def __iter__(self) -> Iterator[str]:
            for art in iter_articles(corpus):
                yield display.build_display(art.get("text") or "")[0]

    rows = glue.learn_pairs(_Texts())
    return glue.write_lexicon(rows, out, corpus.name)


_WS_RE = re.compile(r"\s+")


@dataclass
class Comparison:
    """Counts of the corpus-wide comparison of our matching text with camel's.

    Attributes:
        equal: Identical after collapsing whitespace (our display tidies whitespace).
        documented: Identical once our documented display rules are undone.
        other: Anything else (should be 0); examples kept in ``examples``.
        by_rule: How many articles each documented rule explained.
    """

    total: int = 0
    equal: int = 0
    documented: int = 0
    other: int = 0
    by_rule: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: list[tuple[str, str, str]] = field(default_factory=list)


def _squash(s: str) -> str:
    return _WS_RE.sub(" ", s).strip()


def compare_article(text: str, result: core.Normalised | None = None) -> tuple[str, list[str]]:
    """Compare our matching text of ``text`` with the camel chain.

    Returns:
        ``("equal" | "documented" | "other", rules that explain the difference)``.
        Whitespace runs are compared as one space on both sides (a documented
        display rule that needs no undoing).  The other documented rules are
        undone one at a time on our side or applied to camel's input:
        glued-word spaces (removed again), invisible characters (which camel
        turns into spaces, we delete), space before a comma (we delete),
        boilerplate lines and HTML (camel keeps them).
    """
    res = result or core.normalise(text)
    ours = _squash(res.matching)
    ref = _squash(core.camel_chain(text))
    if ours == ref:
        return "equal", []
    rules: list[str] = []
    if res.glue_splits:
        rules.append("glue")
        ours = _squash(core.fold(core.normalise(text, core.Profile.parse("default,-glue")).display))
        if ours == ref:
            return "documented", rules
    # Camel's view of the text after our removals (invisibles, boilerplate,
    # markup, space before commas): compare with whitespace ignored entirely,
    # since every one of those rules only adds or removes separators or drops
    # whole non-content stretches.
    rules_ = display.load_rules()
    master = rules_.master
    kinds: set[str] = set()
    if rules_.boilerplate.search(text) is not None:
        kinds.add("boilerplate")
        text = rules_.boilerplate.sub("\n", text)
    kinds.update(
        _RULE_NAMES[str(m.lastgroup)]
        for m in master.finditer(text)
        if m.lastgroup != "space" or not m.group().isspace()
    )
    undone = master.sub(_undo, text)
    ref2 = _squash(core.camel_chain(undone))
    if ours == ref2:
        rules.extend(sorted(kinds))
        return "documented", rules
    if ours.replace(" ", "") == ref2.replace(" ", ""):
        # Only word separators differ (e.g. an invisible character camel
        # turns into a space between two letters, which we delete).
        rules.extend(sorted(kinds | {"separators"}))
        return "documented", rules
    return "other", rules


_RULE_NAMES = {
    "script": "html",
    "comment": "html",
    "tag": "html",
    "entity": "html",
    "prepunct": "space_before_comma",
    "space": "invisible",
    "invisible": "invisible",
}


def _undo(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind in ("script", "comment", "tag"):
        return "\n"
    if kind == "invisible":
        return ""
    if kind == "prepunct":
        # Removed only after a word character, as the display rule does.
        start = m.start()
        return "" if start and m.string[start - 1].isalnum() else m.group()
    if kind == "space":
        # Whitespace with invisible characters inside: keep only the whitespace.
        return "".join(c for c in m.group() if c.isspace())
    return m.group()


def compare_corpus(corpus: Path, limit: int | None = None, keep: int = 10) -> Comparison:
    """Run :func:`compare_article` over a corpus."""
    cmp = Comparison()
    for i, art in enumerate(iter_articles(corpus)):
        if limit is not None and i >= limit:
            break
        text = art.get("text") or ""
        cmp.total += 1
        verdict, rules = compare_article(text)
        if verdict == "equal":
            cmp.equal += 1
        elif verdict == "documented":
            cmp.documented += 1
            cmp.by_rule.update(rules)
        else:
            cmp.other += 1
            if len(cmp.examples) < keep:
                cmp.examples.append((art.get("id", str(i)), "", ""))
                logger.info("matching text differs from camel beyond the documented rules: %s",
                            art.get("id", i))
    return cmp
