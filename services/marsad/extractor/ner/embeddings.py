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

Skip-gram fastText (Bojanowski et al. 2017; ``ner-vectors --method
fasttext``, tried, not shipped) reads the same base-word stream and returns
vectors for the same vocabulary and ``base_of``, so the two files are
interchangeable inputs.  It needs gensim, which marsad does not depend on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marsad.extractor.ner.clusters import corpus_bases, window_counts
from marsad.extractor.ner.corpus import iter_ant_texts
from marsad.extractor.ner.text import fold, token_spans

logger = logging.getLogger(__name__)


def iter_texts(ant_path: Path, limit: int | None = None) -> Iterator[str]:
    """Yield the article texts of ``articles.jsonl.gz`` (:func:`.corpus.iter_ant_texts`)."""
    return iter_ant_texts(ant_path, limit)


@dataclass
class BaseCorpus:
    """The token stream both vector methods read, and its vocabulary of base words.

    Attributes:
        forms: Folded word forms, by id.
        docs: One word-id array per document (article or sentence).
        base_idx: Form id -> base id (:func:`.clusters.corpus_bases`).
        vocab: Base ids that get a vector, most frequent first.
        row_of: Base id -> row in ``vocab`` (-1 outside it).
        tokens: Tokens counted.
    """

    forms: list[str]
    docs: list[Any]
    base_idx: Any
    vocab: Any
    row_of: Any
    tokens: int

    @property
    def words(self) -> list[str]:
        """The vocabulary's base words, most frequent first (the vectors' rows)."""
        return [self.forms[int(i)] for i in self.vocab]

    def base_of(self) -> dict[str, str]:
        """Folded form -> base, for the forms whose base is another word with a vector."""
        return {
            self.forms[i]: self.forms[int(self.base_idx[i])]
            for i in range(len(self.forms))
            if self.row_of[self.base_idx[i]] >= 0 and self.base_idx[i] != i
        }


def base_corpus(
    texts: Iterable[str], extra_sentences: Sequence[Sequence[str]] = (), vocab_size: int = 60_000
) -> BaseCorpus:
    """Tokenise and fold the texts, split clitics, and choose the vocabulary.

    Args:
        texts: Raw article texts (tokenised here).
        extra_sentences: Already tokenised text (ANERcorp training part,
            Wojood) added to the stream, so its words get vectors too.
        vocab_size: Most frequent base words that get a vector.
    """
    import numpy as np

    ids: dict[str, int] = {}
    docs: list[Any] = []
    for text in texts:
        doc = [ids.setdefault(fold(text[s:e]), len(ids)) for s, e in token_spans(text)]
        docs.append(np.asarray(doc, dtype=np.int64))
    for toks in extra_sentences:
        docs.append(np.asarray([ids.setdefault(fold(t), len(ids)) for t in toks], dtype=np.int64))
    forms = list(ids)
    freq = np.bincount(np.concatenate(docs), minlength=len(forms))
    base_idx = corpus_bases(forms, ids, freq)
    base_freq = np.bincount(base_idx, weights=freq, minlength=len(forms))
    vocab = np.argsort(-base_freq, kind="stable")[:vocab_size]
    vocab = vocab[base_freq[vocab] >= 2]
    row_of = np.full(len(forms), -1, dtype=np.int64)
    row_of[vocab] = np.arange(len(vocab))
    return BaseCorpus(forms, docs, base_idx, vocab, row_of, int(freq.sum()))


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
    t0 = time.perf_counter()
    corpus = base_corpus(texts, extra_sentences, vocab_size)
    vectors = ppmi_svd(corpus, context_size=context_size, dims=dims, seed=seed)
    words = corpus.words
    stats = {
        "documents": len(corpus.docs),
        "tokens": corpus.tokens,
        "forms": len(corpus.forms),
        "vocab": len(words),
        "dims": dims,
        "seconds": time.perf_counter() - t0,
    }
    return words, vectors, corpus.base_of(), stats


def ppmi_svd(corpus: BaseCorpus, *, context_size: int, dims: int, seed: int) -> Any:
    """Unit-length PPMI-SVD vectors (float32) of the corpus's vocabulary, by row."""
    import numpy as np
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    n_rows = len(corpus.vocab)
    n_ctx = min(context_size, n_rows)
    counts = window_counts(corpus.docs, corpus.row_of, corpus.base_idx, n_rows, n_ctx)
    coo = counts.tocoo()
    row_sum = np.asarray(counts.sum(axis=1)).ravel()
    col_sum = np.asarray(counts.sum(axis=0)).ravel() ** 0.75  # context smoothing
    pmi = np.log(coo.data * col_sum.sum() / (row_sum[coo.row] * col_sum[coo.col] + 1e-9))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    svd = TruncatedSVD(n_components=dims, random_state=seed, n_iter=7)
    u_sigma = svd.fit_transform(ppmi)  # U * S
    return normalize(u_sigma / np.sqrt(svd.singular_values_)).astype(np.float32)  # U * S^0.5


def write_stream(corpus: BaseCorpus, path: Path) -> int:
    """Write the corpus as text for fastText: one document a line, each token as its base.

    Both methods thus see the same clitic-split stream (``وبباريس`` is
    written ``باريس``).  Returns the number of lines.
    """
    bases = [corpus.forms[int(b)] for b in corpus.base_idx]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for doc in corpus.docs:
            out.write(" ".join(bases[i] for i in doc.tolist()) + "\n")
    return len(corpus.docs)


def fasttext_vectors(
    stream: Path,
    words: Sequence[str],
    *,
    dims: int = 100,
    window: int = 5,
    min_count: int = 3,
    min_n: int = 3,
    max_n: int = 5,
    epochs: int = 5,
    seed: int = 0,
) -> Any:
    """Skip-gram fastText vectors (Bojanowski et al. 2017) of ``words``, unit rows.

    gensim is not a dependency of marsad (it pins numpy and scipy); it is
    imported here only.  One worker thread, so a run is reproducible.
    Words rarer than ``min_count`` still get a vector, from their
    character n-grams.

    Args:
        stream: A :func:`write_stream` file.
        words: The words to return vectors for, in row order.
        dims: Vector dimensions.
        window: Skip-gram window.
        min_count: Rarer words have no own vector (n-grams only).
        min_n: Shortest character n-gram.
        max_n: Longest character n-gram.
        epochs: Passes over the stream.
        seed: Random seed.

    Raises:
        RuntimeError: gensim is not installed.
    """
    import numpy as np

    try:
        from gensim.models import FastText
    except ImportError as exc:
        raise RuntimeError(
            "fastText vectors need gensim, which is not a marsad dependency: install it "
            "in a separate virtualenv (pip install gensim) and put it on PYTHONPATH"
        ) from exc
    model = FastText(
        vector_size=dims,
        window=window,
        min_count=min_count,
        min_n=min_n,
        max_n=max_n,
        sg=1,
        epochs=epochs,
        seed=seed,
        workers=1,
    )
    model.build_vocab(corpus_file=str(stream))
    model.train(
        corpus_file=str(stream),
        epochs=epochs,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
    )
    logger.info("fastText: %d words of their own, %d requested", len(model.wv), len(words))
    vectors = np.stack([model.wv[w] for w in words]).astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return order_by_variance(vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def order_by_variance(vectors: Any) -> Any:
    """Rotate the vectors so the first dimensions carry the most energy.

    The CRF's embedding features (:mod:`.wordvecs`) use the first dimensions
    only, as the SVD orders them; skip-gram dimensions have no order.  The
    rotation (the right singular vectors) keeps lengths and cosines.
    """
    import numpy as np

    _, _, vt = np.linalg.svd(vectors, full_matrices=False)
    # Singular vectors are defined up to sign: fix it for reproducible files.
    vt *= np.where(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    return vectors @ vt.T


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
