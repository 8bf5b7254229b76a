"""Word vectors learnt from unlabelled Arabic news (ANT) for the neural tagger.

PPMI-SVD (Levy, Goldberg and Dagan 2015): counts of each clitic-stripped
word with the frequent words at offsets -2, -1, +1 and +2 (one column block
per offset, so the vectors keep word order), positive PMI with the context
distribution smoothed (counts ** 0.75), truncated SVD, and the singular
values raised to 0.5.  It needs no GPU and a few CPU minutes, and is
deterministic for a given seed, which skip-gram training on two shared cores
would not be in that time.

Words are keyed by their *base*: the folded form without the proclitics the
corpus supports (the same split as :mod:`marsad.extractor.ner.clusters`), so
``وبباريس`` and ``باريس`` share one vector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from marsad.extractor.ner.clusters import corpus_bases, window_counts
from marsad.extractor.ner.corpus import iter_ant_texts
from marsad.extractor.ner.text import fold, token_spans

logger = logging.getLogger(__name__)


def iter_texts(ant_path: Path, limit: int | None = None) -> Iterator[str]:
    """Yield the article texts of ``articles.jsonl.gz`` (:func:`.corpus.iter_ant_texts`)."""
    return iter_ant_texts(ant_path, limit)


def build_vectors(
    texts: Iterable[str],
    extra_sentences: Sequence[Sequence[str]] = (),
    *,
    vocab_size: int = 60_000,
    context_size: int = 5_000,
    dims: int = 100,
    seed: int = 0,
) -> tuple[list[str], Any, dict[str, str], dict[str, Any]]:
    """Learn PPMI-SVD vectors of base words.

    Args:
        texts: Raw article texts (tokenised here).
        extra_sentences: Already tokenised text (ANERcorp training part,
            Wojood) added to the counts, so its words get vectors too.
        vocab_size: Most frequent base words that get a vector.
        context_size: Most frequent base words used as contexts.
        dims: Vector dimensions.
        seed: Random seed of the randomised SVD.

    Returns:
        ``(words, vectors, base_of, stats)``: the base words, a float32
        ``(len(words), dims)`` array of unit-length rows, folded form -> base
        for the frequent forms, and counts and timings.
    """
    import numpy as np
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    t0 = time.perf_counter()
    ids: dict[str, int] = {}
    docs: list[Any] = []
    for text in texts:
        doc = [ids.setdefault(fold(text[s:e]), len(ids)) for s, e in token_spans(text)]
        docs.append(np.asarray(doc, dtype=np.int64))
    for toks in extra_sentences:
        docs.append(np.asarray([ids.setdefault(fold(t), len(ids)) for t in toks], dtype=np.int64))
    words = list(ids)
    freq = np.bincount(np.concatenate(docs), minlength=len(words))
    base_idx = corpus_bases(words, ids, freq)
    base_freq = np.bincount(base_idx, weights=freq, minlength=len(words))
    vocab = np.argsort(-base_freq, kind="stable")[:vocab_size]
    vocab = vocab[base_freq[vocab] >= 2]
    row_of = np.full(len(words), -1, dtype=np.int64)
    row_of[vocab] = np.arange(len(vocab))
    n_ctx = min(context_size, len(vocab))
    counts = window_counts(docs, row_of, base_idx, len(vocab), n_ctx)
    coo = counts.tocoo()
    row_sum = np.asarray(counts.sum(axis=1)).ravel()
    col_sum = np.asarray(counts.sum(axis=0)).ravel() ** 0.75  # context smoothing
    pmi = np.log(coo.data * col_sum.sum() / (row_sum[coo.row] * col_sum[coo.col] + 1e-9))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    svd = TruncatedSVD(n_components=dims, random_state=seed, n_iter=7)
    u_sigma = svd.fit_transform(ppmi)  # U * S
    vectors = normalize(u_sigma / np.sqrt(svd.singular_values_)).astype(np.float32)  # U * S^0.5
    base_words = [words[int(i)] for i in vocab]
    base_of = {
        words[i]: words[int(base_idx[i])]
        for i in range(len(words))
        if row_of[base_idx[i]] >= 0 and base_idx[i] != i
    }
    stats = {
        "documents": len(docs),
        "tokens": int(freq.sum()),
        "forms": len(words),
        "vocab": len(base_words),
        "dims": dims,
        "seconds": time.perf_counter() - t0,
    }
    return base_words, vectors, base_of, stats


def save_vectors(path: Path, words: Sequence[str], vectors: Any, base_of: dict[str, str]) -> None:
    """Write vectors (float16) and the form -> base map to one ``.npz`` file."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    forms = sorted(base_of)
    np.savez_compressed(
        path,
        words=np.array(list(words)),
        vectors=np.asarray(vectors, dtype=np.float16),
        forms=np.array(forms),
        bases=np.array([base_of[f] for f in forms]),
    )


def load_vectors(path: Path) -> tuple[dict[str, int], Any, dict[str, str]]:
    """Read a :func:`save_vectors` file: word -> row, float32 vectors, form -> base."""
    import numpy as np

    with np.load(path) as data:
        words = [str(w) for w in data["words"]]
        vectors = data["vectors"].astype(np.float32)
        base_of = dict(
            zip((str(f) for f in data["forms"]), (str(b) for b in data["bases"]), strict=True)
        )
    return {w: i for i, w in enumerate(words)}, vectors, base_of
