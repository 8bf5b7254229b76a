"""A fast Viterbi decoder for the built-in CRF, exact to python-crfsuite's.

python-crfsuite spends most of its time converting feature strings; here
the model's weights are read once, and each distinct word's feature weights
are summed once into a small vector per label (its own features and its
features as seen from each neighbour), kept as one row of a table.  A text's
new words are summed together in one numpy pass and its tokens' rows are
gathered at once, so there is no per-token numpy work.  The features that
depend on neighbours (bigrams, multi-word gazetteer matches) are looked up
only at the tokens flagged, per word, as able to take part in one.  The
decoded tags equal crfsuite's (a unit test checks this on real sentences).

The article-topic features (:mod:`marsad.extractor.ner.topics`) depend on the
text, not the word: the topic's own weights are added to every token, and the
weights of the topic joined with a word's own name-list, trigger and
nationality features are summed once per (topic, word) and cached.

An optional per-label bias (:mod:`marsad.extractor.ner.decoding`) is added to
the state scores before Viterbi, so the decoder returns the exact best path of
the biased scores; with no bias the tags are crfsuite's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from marsad.extractor.ner.decoding import NO_BIAS, DecodingBias
from marsad.extractor.ner.features import CONTEXT_OFFSETS, FeatureExtractor
from marsad.extractor.ner.text import proclitic_splits
from marsad.extractor.ner.topics import joined

_MAX_CACHE = 300_000
_ADD_BATCH = 2048
# Names by length: (length, {other words: types}), longest first.
NameGroups = Sequence[tuple[int, dict[tuple[str, ...], frozenset[str]]]]
# The groups of the nine words in ten that start no name: one shared empty tuple, not a
# list per word (every list is one more object for each run of the garbage collector).
_NO_NAMES: NameGroups = ()


def _by_length(
    cands: Sequence[tuple[tuple[str, ...], frozenset[str]]],
) -> list[tuple[int, dict[tuple[str, ...], frozenset[str]]]]:
    """Group a word's gazetteer names by length, longest first, keyed by their other words.

    Matching a position is then one dict lookup per distinct name length; the
    first name of a length wins, as in :meth:`Gazetteer.match`.
    """
    by_len: dict[int, dict[tuple[str, ...], frozenset[str]]] = {}
    for toks, types in cands:
        by_len.setdefault(len(toks), {}).setdefault(toks[1:], types)
    return sorted(by_len.items(), reverse=True)


class FastCrf:
    """Linear-chain CRF decoder over a crfsuite model's weights.

    Args:
        tagger: An opened ``pycrfsuite.Tagger`` (its weights are copied).
        features: The feature extractor the model was trained with.
        bias: Per-label constants added to the state scores before Viterbi
            (none by default: crfsuite's own tags).
    """

    def __init__(
        self, tagger: Any, features: FeatureExtractor, bias: DecodingBias = NO_BIAS
    ) -> None:
        info = tagger.info()
        self.labels: list[str] = list(tagger.labels())
        self.set_bias(bias)
        index = {label: i for i, label in enumerate(self.labels)}
        n = len(self.labels)
        self.transitions = np.zeros((n, n))
        for (a, b), w in info.transitions.items():
            self.transitions[index[a], index[b]] = w
        self._transitions_t = np.ascontiguousarray(self.transitions.T)
        rows: dict[str, int] = {}
        entries = list(info.state_features.items())
        for (attr, _), _w in entries:
            rows.setdefault(attr, len(rows))
        # Row 0 of the matrix is all zeros: unknown attributes point there.
        matrix = np.zeros((len(rows) + 1, n))
        for (attr, label), w in entries:
            matrix[rows[attr] + 1, index[label]] = w
        self._rows = {attr: i + 1 for attr, i in rows.items()}
        self._matrix = matrix
        weights = {attr: matrix[i] for attr, i in self._rows.items()}
        self._weights = weights
        self._zero = np.zeros(n)
        self._features = features
        self._label_array = np.array(self.labels, dtype=object)
        self._edge_prev = weights.get("-1:edge", self._zero)
        self._edge_next = weights.get("1:edge", self._zero)
        self._bg_prev = self._bigram("bg-=")
        self._bg_next = self._bigram("bg+=")
        pairs = [*self._bg_prev, *self._bg_next]
        self._bg_left = frozenset(a for a, _ in pairs)
        self._bg_right = frozenset(b for _, b in pairs)
        # Weight vectors of the gazetteer tags seen so far, three rows per tag.
        self._gz_rows: dict[str, tuple[int, int, int]] = {}
        # A neighbour feature -> its rows as seen from each offset (``-2:sh=ar`` …), for
        # every feature the model weighs at some offset: one lookup per feature of a new
        # word instead of building and looking up four prefixed strings.
        offsets = {str(off): k for k, off in enumerate(CONTEXT_OFFSETS)}
        context_rows: dict[str, list[int]] = {}
        for attr, row in self._rows.items():
            prefix, sep, feature = attr.partition(":")
            if sep and prefix in offsets:
                context_rows.setdefault(feature, [0] * len(offsets))[offsets[prefix]] = row
        self._context_rows = {f: tuple(rows) for f, rows in context_rows.items()}
        self._no_context = (0,) * len(CONTEXT_OFFSETS)
        self._picks = [itemgetter(k) for k in range(len(CONTEXT_OFFSETS))]
        self._body_groups: dict[str, NameGroups] = {}
        self._gz_matrix = np.zeros((0, n))
        self._vec_weights = self._vector_weights()
        # Models trained without topic features skip the per-word bookkeeping.
        self.has_topics = any(attr.startswith("top=") for attr in self._rows)
        self._reset()

    def _vector_weights(self) -> np.ndarray | None:
        """The real-valued embedding features' weights: (own + offsets, dims, labels), or None.

        A word's contribution as seen from each slot of its table row is then
        its feature values times one matrix (:mod:`.wordvecs`).
        """
        names = self._features.word_vecs.names
        prefixes = ["", *(f"{off}:" for off in CONTEXT_OFFSETS)]
        weights = np.zeros((len(prefixes), len(names), len(self.labels)))
        get = self._weights.get
        found = False
        for k, prefix in enumerate(prefixes):
            for d, name in enumerate(names):
                vec = get(prefix + name)
                if vec is not None:
                    weights[k, d] = vec
                    found = True
        return weights if found else None

    def set_bias(self, bias: DecodingBias) -> None:
        """Decode with ``bias`` added to the state scores from now on (the word cache stays)."""
        self.bias = bias
        # None skips the addition, so an unbiased decode is bit for bit crfsuite's.
        self._state_bias: np.ndarray | None = None if bias.is_zero else bias.vector(self.labels)

    def _reset(self) -> None:
        """Forget every cached word (the cache is bounded by ``_MAX_CACHE`` words)."""
        # Word -> row of ``_table``: the word's own score vector, then its
        # score vector as a neighbour at each context offset.
        self._ids: dict[str, int] = {}
        self._table = np.zeros((4096, 1 + len(CONTEXT_OFFSETS), len(self.labels)))
        self._bases: list[str] = []
        self._folds: list[str] = []
        # Per word: names that can start at it, and whether its base can be
        # the left or right word of a bigram the model weighs; the per-text
        # scans then only visit the few tokens that can match anything.
        self._gaz_cands: list[NameGroups] = []
        self._flags = np.zeros((len(self._table), 3), dtype=bool)
        # Per word: its own features that join the topic; (topic, word row) -> their weights.
        self._joined: list[tuple[str, ...]] = []
        self._topic_rows: dict[tuple[str, int], np.ndarray] = {}

    def _add(self, words: Sequence[str]) -> None:
        """Compute and cache the score matrices of new distinct words in one numpy pass."""
        get = self._rows.get
        flat: list[int] = []
        starts: list[int] = []
        vec_rows: list[int] = []
        feats = self._features.word
        zero = itertools.repeat(0)  # unknown attributes -> the all-zero row
        context_rows = self._context_rows.get
        unknown = itertools.repeat(self._no_context)
        picks = self._picks
        for word in words:
            wf = feats(word)
            # Each segment starts with the all-zero row 0, so none is empty
            # (reduceat would return a lone row for an empty segment).
            starts.append(len(flat))
            flat.append(0)
            flat.extend(map(get, wf.local, zero))
            rows = list(map(context_rows, wf.common, unknown))
            if wf.near:
                # Embedding bits: weights at -1 and +1 only (row 0 at the other offsets).
                rows.extend(map(context_rows, wf.near, unknown))
            for pick in picks:  # the word as seen from each offset, in CONTEXT_OFFSETS order
                starts.append(len(flat))
                flat.append(0)
                flat.extend(map(pick, rows))
            vec_rows.append(wf.vec_row)
            self._bases.append(wf.base)
            self._folds.append(wf.folded)
            self._gaz_cands.append(self._gaz_groups(wf.folded))
            self._joined.append(joined(wf.local) if self.has_topics else ())
        sums = np.add.reduceat(self._matrix[flat], starts, axis=0)
        if self._vec_weights is not None:
            # value x weight of every dimension, per slot: one product per batch of words.
            values = self._features.word_vecs.values[vec_rows]
            per_slot = np.einsum("nd,kdl->nkl", values, self._vec_weights)
            sums += per_slot.reshape(-1, len(self.labels))
        first = len(self._ids)
        last = first + len(words)
        if last > len(self._table):
            grown = np.zeros((max(last, 2 * len(self._table)), *self._table.shape[1:]))
            grown[:first] = self._table[:first]
            self._table = grown
            flags = np.zeros((len(grown), 3), dtype=bool)
            flags[:first] = self._flags[:first]
            self._flags = flags
        self._table[first:last] = sums.reshape(len(words), *self._table.shape[1:])
        self._ids.update(zip(words, range(first, last), strict=True))
        new_bases = self._bases[first:last]
        self._flags[first:last, 0] = [bool(c) for c in self._gaz_cands[first:last]]
        self._flags[first:last, 1] = [b in self._bg_left for b in new_bases]
        self._flags[first:last, 2] = [b in self._bg_right for b in new_bases]

    def _gaz_groups(self, folded: str) -> NameGroups:
        """:func:`_by_length` of the gazetteer names that can start at a folded word.

        Those are the names starting with one of the word's proclitic readings
        (:meth:`Gazetteer.candidates`).  Almost always a single reading starts
        any, and a common first word starts hundreds of names, so the grouping
        is kept per reading (the gazetteer's first words bound it) and shared.
        """
        phrases = self._features.gazetteer.phrases
        bodies = [body for _, body in proclitic_splits(folded) if body in phrases]
        if not bodies:
            return _NO_NAMES
        if len(bodies) > 1:
            return _by_length([c for body in bodies for c in phrases[body]])
        groups = self._body_groups.get(bodies[0])
        if groups is None:
            groups = self._body_groups[bodies[0]] = _by_length(phrases[bodies[0]])
        return groups

    def word_ids(self, tokens: Sequence[str]) -> list[int]:
        """Return each token's row in the per-word cache, adding the new words in one batch."""
        get = self._ids.get
        ids = list(map(get, tokens))
        if None in ids:
            new = list(dict.fromkeys(t for t, i in zip(tokens, ids, strict=True) if i is None))
            if len(self._ids) + len(new) > _MAX_CACHE:
                self._reset()
                get = self._ids.get
                new = list(dict.fromkeys(tokens))
            # Batches bound the temporary (attributes x labels) gather.
            for k in range(0, len(new), _ADD_BATCH):
                self._add(new[k : k + _ADD_BATCH])
            ids = list(map(get, tokens))
        return ids  # type: ignore[return-value]  # every token is cached now

    def folded(self, tokens: Sequence[str]) -> list[str]:
        """Return the folded form of each token (from the per-word cache)."""
        return list(map(self._folds.__getitem__, self.word_ids(tokens)))

    def _bigram(self, prefix: str) -> dict[tuple[str, str], np.ndarray]:
        table: dict[tuple[str, str], np.ndarray] = {}
        for attr, vec in self._weights.items():
            if attr.startswith(prefix):
                left, sep, right = attr[len(prefix) :].partition("|")
                if sep:
                    table[(left, right)] = vec
        return table

    def scores(
        self, sentences: Sequence[Sequence[str]], topic: str | None = None
    ) -> np.ndarray:
        """Return the (tokens x labels) state scores of consecutive sentences.

        Mirrors :meth:`FeatureExtractor.items` feature for feature: own
        features, neighbours' context features within the sentence, edges,
        bigrams, multi-word gazetteer matches, and the ``topic`` features.
        """
        tokens = [t for s in sentences for t in s]
        return self._scores(self.word_ids(tokens), [len(s) for s in sentences], topic=topic)

    def _scores(
        self,
        ids: list[int],
        sentence_lengths: list[int],
        folded: list[str] | None = None,
        topic: str | None = None,
    ) -> np.ndarray:
        """:meth:`scores` of tokens given by their rows in the per-word cache (and folded forms)."""
        n = len(ids)
        lengths = np.array(sentence_lengths, dtype=np.int64)
        sent_id = np.repeat(np.arange(len(lengths)), lengths)
        idx = np.array(ids, dtype=np.int64)
        # One gather for every token's own and neighbour score vectors.
        mats = self._table[idx]
        state = mats[:, 0, :].copy()
        for k, off in enumerate(CONTEXT_OFFSETS, start=1):
            lo, hi = max(0, -off), n - max(0, off)
            if lo < hi:
                same = (sent_id[lo:hi] == sent_id[lo + off : hi + off])[:, None]
                state[lo:hi] += mats[lo + off : hi + off, k, :] * same
        ends = np.cumsum(lengths)
        nonempty = lengths > 0
        state[(ends - lengths)[nonempty]] += self._edge_prev
        state[ends[nonempty] - 1] += self._edge_next
        flags = self._flags[idx]
        same_sent = sent_id[:-1] == sent_id[1:]
        # Bigrams: only pairs whose two bases each occur in some weighted bigram.
        bases = self._bases
        for i in np.flatnonzero(flags[:-1, 1] & flags[1:, 2] & same_sent).tolist():
            pair = (bases[ids[i]], bases[ids[i + 1]])
            v = self._bg_prev.get(pair)
            if v is not None:
                state[i + 1] += v
            v = self._bg_next.get(pair)
            if v is not None:
                state[i] += v
        starts = np.flatnonzero(flags[:, 0]).tolist()
        if starts:
            if folded is None:
                folded = list(map(self._folds.__getitem__, ids))
            self._gazetteer_scores(state, ids, starts, ends[sent_id].tolist(), folded)
        if topic is not None and self.has_topics:
            self._topic_scores(state, ids, topic)
        return state

    def _topic_scores(self, state: np.ndarray, ids: list[int], topic: str) -> None:
        """Add the features of the text's topic (``top=T``, ``top=T|g1=LOC`` …) to ``state``."""
        state += self._weights.get("top=" + topic, self._zero)
        joined_feats = self._joined
        rows = [i for i, w in enumerate(ids) if joined_feats[w]]
        if not rows:
            return
        cache = self._topic_rows
        vecs = []
        for i in rows:
            vec = cache.get((topic, ids[i]))
            if vec is None:
                get = self._weights.get
                head = "top=" + topic + "|"
                vec = self._zero.copy()
                for f in joined_feats[ids[i]]:
                    w = get(head + f)
                    if w is not None:
                        vec += w
                cache[(topic, ids[i])] = vec
            vecs.append(vec)
        state[rows] += np.array(vecs)

    def _gazetteer_scores(
        self,
        state: np.ndarray,
        ids: list[int],
        starts: list[int],
        sent_end: list[int],
        text: list[str],
    ) -> None:
        """Add the multi-word gazetteer features (``gz=``, ``-1:gz=``, ``1:gz=``) to ``state``.

        The same longest, left-to-right, non-overlapping matches as
        :meth:`Gazetteer.match` per sentence, visiting only the tokens some
        name can start at.  The additions are collected and applied by one
        ``np.add.at``, which adds them in the order given, so every row sums
        exactly as the one-by-one additions did.
        """
        cands = self._gaz_cands
        gz_rows = self._gz_rows
        rows: list[int] = []
        vecs: list[int] = []
        free = 0
        for i in starts:
            if i < free:
                continue
            end = sent_end[i]
            best_len = 0
            best_types: frozenset[str] = frozenset()
            for length, rests in cands[ids[i]]:
                if i + length > end:
                    continue
                found = rests.get(tuple(text[i + 1 : i + length]))
                if found is not None:
                    best_len, best_types = length, found
                    break
            if not best_len:
                continue
            free = i + best_len
            # Neighbour features stay inside the sentence.
            has_prev = i > 0 and sent_end[i - 1] == end
            for etype in best_types:
                for k in range(best_len):
                    tag = ("B-" if k == 0 else "I-") + etype
                    own, prev_word, next_word = gz_rows.get(tag) or self._gz_vector(tag)
                    j = i + k
                    rows.append(j)
                    vecs.append(own)
                    if j + 1 < end:
                        rows.append(j + 1)
                        vecs.append(prev_word)
                    if j > i or has_prev:
                        rows.append(j - 1)
                        vecs.append(next_word)
        if rows:
            np.add.at(state, rows, self._gz_matrix[vecs])

    def _gz_vector(self, tag: str) -> tuple[int, int, int]:
        """Rows of ``_gz_matrix``: a gazetteer tag's weights on its token, the next, the last."""
        get = self._weights.get
        vectors = [get(prefix + tag, self._zero) for prefix in ("gz=", "-1:gz=", "1:gz=")]
        first = len(self._gz_matrix)
        self._gz_matrix = np.vstack([self._gz_matrix, *vectors])
        rows = (first, first + 1, first + 2)
        self._gz_rows[tag] = rows
        return rows

    def tag(self, tokens: Sequence[str], topic: str | None = None) -> list[str]:
        """Return the Viterbi IOB2 tags of one sentence (of a text on ``topic``)."""
        return self.tag_many([tokens], topic)[0]

    def tag_many(
        self, sentences: Sequence[Sequence[str]], topic: str | None = None
    ) -> list[list[str]]:
        """Return the Viterbi IOB2 tags of each sentence (decoded together, independently)."""
        lengths = [len(s) for s in sentences]
        tokens = [t for s in sentences for t in s]
        flat_tags = self._decode(self.word_ids(tokens), lengths, topic=topic) if tokens else []
        out: list[list[str]] = []
        pos = 0
        for k in lengths:
            out.append(flat_tags[pos : pos + k])
            pos += k
        return out

    def tag_tokens(
        self, tokens: Sequence[str], sentence_lengths: list[int], topic: str | None = None
    ) -> tuple[list[str], list[str]]:
        """Return the tags and the folded forms of a text cut into sentences.

        The same tags as :meth:`tag_many` on the sentences, one after the
        other, with each word looked up in the cache once for both results.

        Args:
            tokens: The text's tokens.
            sentence_lengths: Tokens per sentence, in order, summing to ``len(tokens)``.
            topic: The text's topic (:mod:`.topics`), if the model has topic features.
        """
        ids = self.word_ids(tokens)
        folded = list(map(self._folds.__getitem__, ids))
        return (self._decode(ids, sentence_lengths, folded, topic) if ids else []), folded

    def tag_tokens_bases(
        self, tokens: Sequence[str], sentence_lengths: list[int], topic: str | None = None
    ) -> tuple[list[str], list[str], list[str]]:
        """:meth:`tag_tokens` and each token's base (folded, clitic-stripped)."""
        ids = self.word_ids(tokens)
        folded = list(map(self._folds.__getitem__, ids))
        bases = list(map(self._bases.__getitem__, ids))
        return (self._decode(ids, sentence_lengths, folded, topic) if ids else []), folded, bases

    def tag_tokens_extra(
        self,
        tokens: Sequence[str],
        sentence_lengths: list[int],
        extra: np.ndarray,
        topic: str | None = None,
    ) -> list[str]:
        """Return the Viterbi tags of a text with ``extra`` (tokens x labels) added to its scores.

        For features the per-word cache cannot hold (a stacked second pass's
        features of the first pass's output): the model's weights of them,
        summed per token by the caller, in :attr:`labels` order.
        """
        ids = self.word_ids(tokens)
        if not ids:
            return []
        return self._decode(ids, sentence_lengths, None, topic, extra)

    def tag_tokens_marginals(
        self, tokens: Sequence[str], sentence_lengths: list[int], topic: str | None = None
    ) -> tuple[list[str], list[str], list[str], np.ndarray]:
        """:meth:`tag_tokens_bases` and each token's label marginals (tokens x labels).

        The marginals are those of the unbiased model (forward-backward).
        """
        ids = self.word_ids(tokens)
        folded = list(map(self._folds.__getitem__, ids))
        bases = list(map(self._bases.__getitem__, ids))
        if not ids:
            return [], folded, bases, np.zeros((0, len(self.labels)))
        state = self._scores(ids, sentence_lengths, folded, topic)
        tags = self._decode(ids, sentence_lengths, folded, topic)
        return tags, folded, bases, self._marginals(state, sentence_lengths)

    def _marginals(self, flat: np.ndarray, sentence_lengths: list[int]) -> np.ndarray:
        """Return the label marginals of consecutive sentences' state scores.

        Forward-backward in probability space, normalised at every step (so
        nothing overflows), all sentences at once as in :meth:`_decode`: one
        small matrix product per step and direction.
        """
        lengths = np.array(sentence_lengths, dtype=np.int64)
        n_sent, width, n_lab = len(lengths), int(lengths.max()), len(self.labels)
        sent_id = np.repeat(np.arange(n_sent), lengths)
        starts = np.cumsum(lengths) - lengths
        pos_in = np.arange(len(sent_id)) - starts[sent_id]
        # Each token's scores shifted by their maximum: the marginals do not change.
        potentials = np.exp(flat - flat.max(axis=1, keepdims=True))
        pot = np.ones((width, n_sent, n_lab))
        pot[pos_in, sent_id] = potentials
        trans = np.exp(self.transitions - self.transitions.max())
        alpha = np.empty((width, n_sent, n_lab))
        beta = np.empty((width, n_sent, n_lab))
        a = pot[0]
        alpha[0] = a / a.sum(axis=1, keepdims=True)
        for t in range(1, width):
            a = (alpha[t - 1] @ trans) * pot[t]
            alpha[t] = a / a.sum(axis=1, keepdims=True)
        last = lengths - 1
        beta[width - 1] = 1.0
        for t in range(width - 2, -1, -1):
            b = (pot[t + 1] * beta[t + 1]) @ trans.T
            b /= b.sum(axis=1, keepdims=True)
            # A sentence's last position has no successor.
            b[last == t] = 1.0
            beta[t] = b
        m = alpha[pos_in, sent_id] * beta[pos_in, sent_id]
        result: np.ndarray = m / m.sum(axis=1, keepdims=True)
        return result

    def attribute_rows(self) -> dict[str, int]:
        """Return each weighted attribute's row of :meth:`weight_matrix` (row 0 is all zeros)."""
        return self._rows

    def weight_matrix(self) -> np.ndarray:
        """Return the (attributes + 1) x labels state-feature weights."""
        return self._matrix

    def _decode(
        self,
        ids: list[int],
        sentence_lengths: list[int],
        folded: list[str] | None = None,
        topic: str | None = None,
        extra: np.ndarray | None = None,
    ) -> list[str]:
        """Return the Viterbi tags of consecutive sentences of cached words, as one list."""
        flat = self._scores(ids, sentence_lengths, folded, topic)
        if extra is not None:
            flat += extra
        if self._state_bias is not None:
            flat += self._state_bias  # a fresh array: the cached rows are untouched
        lengths = np.array(sentence_lengths, dtype=np.int64)
        n_sent, width, n_lab = len(lengths), int(lengths.max()), len(self.labels)
        sent_id = np.repeat(np.arange(n_sent), lengths)
        starts = np.cumsum(lengths) - lengths
        pos_in = np.arange(len(sent_id)) - starts[sent_id]
        # Longest sentences first: at step t only the first active[t] rows are
        # still inside their sentence, so each step works on a shrinking prefix.
        order = np.argsort(-lengths, kind="stable")
        rank = np.empty(n_sent, dtype=np.int64)
        rank[order] = np.arange(n_sent)
        active = np.searchsorted(-lengths[order], -np.arange(width), side="left").tolist()
        # Time-major, so that one step's rows are contiguous; numpy's per-call
        # cost, not arithmetic, is what a step costs, so every step is four
        # calls writing into buffers allocated once.
        row = rank[sent_id]
        state = np.zeros((width, n_sent, n_lab))
        state[pos_in, row] = flat
        # back[t, s, b]: the flat index (s * n_lab + label) of the best label before
        # label b at step t.  Steps past a sentence's end point at the same label,
        # so the backtrack follows every row at every step with one gather.
        cells = np.arange(n_sent * n_lab).reshape(n_sent, n_lab)
        back = np.empty((width, n_sent, n_lab), dtype=np.intp)
        back[:] = np.arange(n_lab)
        delta = state[0].copy()
        # cand[s, b, a] = delta[s, a] + transitions[a, b]: the reductions run
        # over the last, contiguous axis.
        cand = np.empty((n_sent, n_lab, n_lab))
        trans = self._transitions_t
        prefixes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for t in range(1, width):
            k = active[t]
            views = prefixes.get(k)
            if views is None:
                views = prefixes[k] = (delta[:k, None, :], cand[:k], delta[:k])
            prev, c, d = views
            np.add(prev, trans, out=c)
            c.argmax(axis=2, out=back[t, :k])
            c.max(axis=2, out=d)
            d += state[t, :k]
        back[1:, :, :] += cells[:, :1]
        best = delta.argmax(axis=1) + cells[:, 0]
        path = np.empty((width, n_sent), dtype=np.intp)
        flat_back = back.reshape(width, -1)
        for t in range(width - 1, 0, -1):
            path[t] = best
            best = flat_back[t].take(best)
        path[0] = best
        labels = path[pos_in, row] % n_lab
        flat_tags: list[str] = self._label_array[labels].tolist()
        return flat_tags
