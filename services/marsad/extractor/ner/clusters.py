"""Word clusters from the unlabelled ANT news corpus (an optional CRF feature).

The clusters file maps a folded, proclitic-stripped word to three cluster
ids, coarse to fine (``c32|c128|c512``), a hierarchy like Brown clusters'
bit-string prefixes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from marsad.extractor.ner.corpus import iter_ant_texts
from marsad.extractor.ner.lexicon import DATA_DIR
from marsad.extractor.ner.text import fold, proclitic_splits, token_spans

logger = logging.getLogger(__name__)

CLUSTERS_PATH = DATA_DIR / "clusters.tsv"


@dataclass(frozen=True, slots=True)
class WordInfo:
    """What the corpus says about one folded word form.

    Attributes:
        base: The form without the proclitics the corpus supports (the
            split whose remainder is the most frequent word on its own, so
            ``لبشار`` -> ``بشار`` but ``بشار`` stays).
        cluster: ``c32|c128|c512`` ids of ``base``, or ``""``.
        contexts: One digit per trigger class (PERS_PRE, ORG_HEAD, LOC_HEAD,
            SAY): how often ``base`` follows a word of that class in the
            corpus, bucketed 0 (never) to 4 (a fifth of the time or more).
            Unlabelled evidence that a word is a person's or a place's name.
    """

    base: str
    cluster: str
    contexts: str = ""


@lru_cache(maxsize=2)
def load_clusters(path: Path = CLUSTERS_PATH) -> dict[str, WordInfo]:
    """Return folded word -> :class:`WordInfo`, or an empty map when the file is absent."""
    if not path.exists():
        return {}
    out: dict[str, WordInfo] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                out[parts[0]] = WordInfo(parts[1], parts[2], parts[3] if len(parts) > 3 else "")
    return out


def corpus_bases(words: Sequence[str], ids: dict[str, int], freq: Any) -> Any:
    """Each word form's base: the proclitic split whose remainder is the most frequent word.

    Args:
        words: The corpus's word forms, by id.
        ids: Form -> id.
        freq: Corpus frequency by id.

    Returns:
        The base's id for every id (itself when no split is more frequent).
    """
    import numpy as np

    base_of = np.arange(len(words))
    for i, w in enumerate(words):
        best, best_freq = i, freq[i]
        for _, body in proclitic_splits(w)[1:]:
            j = ids.get(body)
            if j is not None and freq[j] > best_freq:
                best, best_freq = j, freq[j]
        base_of[i] = best
    return base_of


def window_counts(
    docs: Sequence[Any], row_of: Any, base_of: Any, n_rows: int, n_ctx: int,
    offsets: Sequence[int] = (-2, -1, 1, 2),
) -> Any:
    """Co-occurrence counts of each vocabulary base with the ``n_ctx`` commonest, per offset.

    Args:
        docs: Word-id arrays.
        row_of: Base id -> vocabulary row (-1 outside the vocabulary; rows
            are by frequency, so the first ``n_ctx`` are the context words).
        base_of: Word id -> base id (:func:`corpus_bases`).
        n_rows: Vocabulary size.
        n_ctx: Context words.
        offsets: Window offsets; each has its own block of columns.

    Returns:
        A CSR matrix ``n_rows`` x ``len(offsets) * n_ctx``.
    """
    import numpy as np
    from scipy import sparse

    rows: list[Any] = []
    cols: list[Any] = []
    for doc in docs:
        r_ids = row_of[base_of[doc]]
        for slot, off in enumerate(offsets):
            if len(r_ids) <= abs(off):
                continue
            a = r_ids[max(0, -off) : len(r_ids) - max(0, off)]
            b = r_ids[max(0, off) : len(r_ids) - max(0, -off)]
            keep = (a >= 0) & (b >= 0) & (b < n_ctx)
            rows.append(a[keep])
            cols.append(b[keep] + slot * n_ctx)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    counts = sparse.coo_matrix(
        (np.ones(len(r), dtype=np.float64), (r, c)), shape=(n_rows, len(offsets) * n_ctx)
    ).tocsr()
    counts.sum_duplicates()
    return counts


def build_clusters(
    ant_path: Path,
    out_path: Path = CLUSTERS_PATH,
    *,
    forms: int = 50_000,
    vocab_size: int = 30_000,
    context_size: int = 2_000,
    dims: int = 100,
    sizes: tuple[int, ...] = (32, 128, 512),
    limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Learn corpus-supported clitic splits and word clusters from the ANT corpus.

    A cheap stand-in for Brown clusters: positive PMI of each base word with
    the frequent words one and two positions to its left and right, reduced
    by truncated SVD, then k-means into ``sizes[-1]`` clusters whose centroids
    are clustered again into the coarser sizes, so the ids form a hierarchy.
    Deterministic for a given ``seed``.

    Args:
        ant_path: ``articles.jsonl.gz``.
        out_path: Output TSV (``form<TAB>base<TAB>c32|c128|c512``).
        forms: Most frequent surface forms written to the file.
        vocab_size: Base words clustered (the most frequent).
        context_size: Context words (the most frequent).
        dims: SVD dimensions.
        sizes: Cluster counts, coarse to fine.
        limit: Read only this many articles (tests).
        seed: Random seed of SVD and k-means.

    Returns:
        Counts and timings.
    """
    import numpy as np
    from scipy import sparse
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    t0 = time.perf_counter()
    ids: dict[str, int] = {}
    docs: list[Any] = []
    for text in iter_ant_texts(ant_path, limit):
        doc = [ids.setdefault(fold(text[s:e]), len(ids)) for s, e in token_spans(text)]
        docs.append(np.asarray(doc, dtype=np.int64))
    words = list(ids)
    freq = np.bincount(np.concatenate(docs), minlength=len(words)) if docs else np.zeros(0)
    base_of = corpus_bases(words, ids, freq)
    base_freq = np.bincount(base_of, weights=freq, minlength=len(words))
    contexts = _context_buckets(words, docs, base_of, base_freq)
    vocab = np.argsort(-base_freq, kind="stable")[:vocab_size]
    vocab = vocab[base_freq[vocab] > 0]
    row_of = np.full(len(words), -1, dtype=np.int64)
    row_of[vocab] = np.arange(len(vocab))
    n_ctx = min(context_size, len(vocab))
    counts = window_counts(docs, row_of, base_of, len(vocab), n_ctx)
    total = counts.sum()
    row_sum = np.asarray(counts.sum(axis=1)).ravel()
    col_sum = np.asarray(counts.sum(axis=0)).ravel()
    coo = counts.tocoo()
    pmi = np.log(coo.data * total / (row_sum[coo.row] * col_sum[coo.col] + 1e-9))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    vectors = normalize(TruncatedSVD(n_components=dims, random_state=seed).fit_transform(ppmi))
    fine = MiniBatchKMeans(n_clusters=sizes[-1], random_state=seed, n_init=3, batch_size=4096)
    fine.fit(vectors)
    labels: list[Any] = [fine.labels_]
    for k in reversed(sizes[:-1]):
        coarse = KMeans(n_clusters=k, random_state=seed, n_init=4).fit(fine.cluster_centers_)
        labels.insert(0, coarse.labels_[fine.labels_])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    top_forms = np.argsort(-freq, kind="stable")[:forms]
    with out_path.open("w", encoding="utf-8") as fh:
        fh.write("# Built by `marsad ner-clusters` from the ANT corpus: form<TAB>base<TAB>")
        fh.write("|".join(f"c{k}" for k in sizes) + "<TAB>context buckets\n")
        for i in sorted(int(x) for x in top_forms):
            base = int(base_of[i])
            row = int(row_of[base])
            cluster = "|".join(str(int(lab[row])) for lab in labels) if row >= 0 else ""
            fh.write(f"{words[i]}\t{words[base]}\t{cluster}\t{contexts[base]}\n")
    load_clusters.cache_clear()
    return {
        "articles": len(docs),
        "tokens": int(freq.sum()),
        "forms": len(top_forms),
        "vocab": len(vocab),
        "seconds": time.perf_counter() - t0,
    }


_CONTEXT_CLASSES = ("PERS_PRE", "ORG_HEAD", "LOC_HEAD", "SAY")
_BUCKETS = (0.0, 0.01, 0.05, 0.2)  # lower bounds of buckets 1..4 (0 = never)


def _context_buckets(words: list[str], docs: list[Any], base_of: Any, base_freq: Any) -> list[str]:
    """Return, per word id, the bucketed share of its occurrences after each trigger class."""
    import numpy as np

    from marsad.extractor.ner.lexicon import trigger_class

    cls_of = np.zeros(len(words), dtype=np.int64)
    for i, w in enumerate(words):
        cls = trigger_class(w)
        if cls in _CONTEXT_CLASSES:
            cls_of[i] = _CONTEXT_CLASSES.index(cls) + 1
    hits = np.zeros((len(_CONTEXT_CLASSES) + 1, len(words)))
    for doc in docs:
        if len(doc) < 2:
            continue
        prev_cls = cls_of[doc[:-1]]
        cur = base_of[doc[1:]]
        np.add.at(hits, (prev_cls, cur), 1.0)
    share = hits[1:] / np.maximum(base_freq, 1.0)
    digits = np.zeros(share.shape, dtype=np.int64)
    for b, bound in enumerate(_BUCKETS, start=1):
        digits[(share > bound) if b == 1 else (share >= bound)] = b
    digits[:, base_freq < 3] = 0
    return ["".join(str(int(d)) for d in digits[:, i]) for i in range(len(words))]
