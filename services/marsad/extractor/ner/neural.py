"""The neural NER backend (``MARSAD_NER_BACKEND=neural``): a BiLSTM-CRF tagger.

Loads ``data/ner_neural.pt`` (written by ``marsad ner-train-neural``, or by
``marsad ner-ensemble`` for several networks) and tags like the CRF backend:
sentences of an article decoded in one batch, then the same known-name and
consistency passes.  torch is imported when the recogniser is built, never
at module import.

A bundle holds one network (``state``) or an ensemble of K networks
(``members``) trained with different seeds on the same inputs: they share
the fixed word-vector table and the vocabularies, and their emission,
transition, start and end scores are averaged before the one Viterbi
decode (with the CRF's scores added, as for a single network).

A bundle may also hold fixed character language models (``charlm``, see
:mod:`marsad.extractor.ner.charlm`; tried, not shipped): their contextual
vectors of each token, computed over its sentence, are one more input of
the network.

Speed: everything about a word that does not depend on its neighbours (its
vector, each member's character CNN output and sum of its indicator
embeddings) is computed once per distinct word and cached, so an article
costs its new words, one batched BiLSTM pass per member and one batched
Viterbi.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from marsad.extractor.ner.consistency import propagate, tag_known_names
from marsad.extractor.ner.decoding import DecodingBias, load_bias
from marsad.extractor.ner.lexicon import DATA_DIR, Gazetteer, load_gazetteer
from marsad.extractor.ner.neural_inputs import MAX_CHARS, PAD, TAGS, UNK
from marsad.extractor.ner.recogniser import DEFAULT_MODEL, Recogniser
from marsad.extractor.ner.text import sentence_chunks
from marsad.extractor.ner.topics import TopicModel

logger = logging.getLogger(__name__)

NEURAL_MODEL_PATH = DATA_DIR / "ner_neural.pt"
# Floats of cached input rows (300,000 words of one network's 196): an
# ensemble's longer rows keep fewer words, so a worker's memory is the same.
_CACHE_FLOATS = 300_000 * 196


class NeuralRecogniser(Recogniser):
    """The BiLSTM-CRF tagger (one network or an ensemble), optionally combined with the CRF.

    An ensemble's members' scores are averaged.  With ``crf_weight`` > 0 the
    CRF's state and transition scores, times the weight, are added to the
    network's before one Viterbi decode (a product of experts: the two
    models err on different words).

    Args:
        model_path: The model bundle (``.pt``).
        gazetteer: Name lists for the indicators (defaults to the shipped one).
        crf_path: The CRF model combined with the network.
        crf_weight: Weight of the CRF's scores; ``None`` takes the value
            stored in the bundle (tuned on the dev split), 0 the network alone.
        bias: Decoding bias added to the combined state scores; ``None`` takes
            the one shipped for these model files in ``data/decoding.json``.
    """

    backend = "neural"

    def __init__(
        self,
        model_path: Path = NEURAL_MODEL_PATH,
        gazetteer: Gazetteer | None = None,
        crf_path: Path | None = DEFAULT_MODEL,
        crf_weight: float | None = None,
        bias: DecodingBias | None = None,
    ):
        import numpy as np
        import torch

        from marsad.extractor.ner.clusters import load_clusters
        from marsad.extractor.ner.features import FeatureExtractor
        from marsad.extractor.ner.neural_net import NetConfig, Tagger

        torch.set_num_threads(1)  # one core per worker; the machine is shared
        bundle = torch.load(model_path, weights_only=True)
        if crf_weight is None:
            crf_weight = float(bundle.get("crf_weight", 0.0))
        self._cfg = cfg = NetConfig(**bundle["config"])
        vectors = bundle["word_vectors_int8"].float() / 127.0
        self._nets: list[Any] = []
        for member in bundle.get("members") or [bundle["state"]]:
            net = Tagger(cfg)
            state = {k: v.float() for k, v in member.items()}
            state["words.weight"] = vectors
            net.load_state_dict(state)
            net.eval()
            self._nets.append(net)
        self._torch = torch
        self._np = np
        self._lm: Any = None
        if "charlm" in bundle:
            from marsad.extractor.ner.charlm import ContextualEmbedder

            self._lm = ContextualEmbedder(bundle["charlm"])
        gazetteer = gazetteer or load_gazetteer()
        self._fx = FeatureExtractor(gazetteer, load_clusters())
        self._word_ids = {w: i for i, w in enumerate(bundle["words"], start=2)}
        self._base_of: dict[str, str] = dict(bundle["base_of"])
        self._char_ids = {c: i for i, c in enumerate(bundle["chars"], start=2)}
        self._feat_ids = {f: i for i, f in enumerate(bundle["feats"], start=2)}
        self._vectors = vectors.numpy()
        k = len(self._nets)
        wd, cf, fd = cfg.word_dim, cfg.char_filters, cfg.feat_dim
        # A cached row is [word vector ; every member's char CNN ; every
        # member's indicator sum]: the vector is stored once, and the
        # positional indicators are one addition to the last k * fd columns.
        self._dim = wd + k * (cf + fd)
        self._member_cols = [
            np.r_[
                0:wd,
                wd + m * cf : wd + (m + 1) * cf,
                wd + k * cf + m * fd : wd + k * cf + (m + 1) * fd,
            ]
            for m in range(k)
        ]
        self._feat_table = np.concatenate(
            [net.feats.weight.detach().numpy() for net in self._nets], axis=1
        )
        self._feat_table[PAD] = 0.0
        # Indicator string -> its embedding row, for the positional ones.
        self._feat_row = {
            f: self._feat_table[i]
            for f, i in self._feat_ids.items()
            if ":" in f or f.startswith("gz=")
        }
        crfs = [net.masked_crf() for net in self._nets]
        # Forbidden moves are -1e4 in every member, so stay -1e4 on average.
        self._trans = np.mean([t.detach().numpy() for t, _ in crfs], axis=0).astype(np.float32)
        self._start = np.mean([s.detach().numpy() for _, s in crfs], axis=0).astype(np.float32)
        self._end = np.mean(
            [net.end.detach().numpy() for net in self._nets], axis=0
        ).astype(np.float32)
        self._cache: dict[str, Any] = {}
        # Keyed by the text's topic and its sentences.
        self._memo: dict[tuple[Any, ...], Any] | None = None
        self._cache_limit = max(1, _CACHE_FLOATS // self._dim)
        self._crf: Any = None
        self._crf_topics: TopicModel | None = None
        self._crf_weight = crf_weight
        if crf_path is not None and crf_weight > 0:
            self._load_crf(crf_path, gazetteer)
        self.model_files = [model_path] + ([crf_path] if self._crf is not None else [])
        self.set_bias(load_bias(self.backend, self.model_files) if bias is None else bias)

    @property
    def members(self) -> int:
        """Number of networks whose scores are averaged."""
        return len(self._nets)

    def memoise_scores(self, on: bool = True) -> None:
        """Keep the unbiased scores of every batch decoded from now on (``on``) or stop.

        For choosing a decoding bias (``marsad ner-bias``), which decodes the
        same sentences with many biases: the networks and the CRF then run
        once per batch.  Never for a stream, whose batches do not repeat.
        """
        self._memo = {} if on else None

    def set_bias(self, bias: DecodingBias) -> None:
        """Add ``bias`` to the combined state scores before every decode from now on."""
        self.bias = bias
        self._state_bias = None if bias.is_zero else bias.vector(TAGS).astype(self._np.float32)

    def _load_crf(self, crf_path: Path, gazetteer: Gazetteer) -> None:
        """Load the CRF whose state and transition scores are added to the network's."""
        import pycrfsuite

        from marsad.extractor.ner.clusters import load_clusters
        from marsad.extractor.ner.fastcrf import FastCrf
        from marsad.extractor.ner.features import FeatureExtractor
        from marsad.extractor.ner.topics import load_topic_model, topics_path

        np = self._np
        tagger = pycrfsuite.Tagger()
        tagger.open(str(crf_path))
        self._crf = FastCrf(tagger, FeatureExtractor(gazetteer, load_clusters(), cache_size=0))
        if self._crf.has_topics:
            self._crf_topics = load_topic_model(topics_path(crf_path))
        # The CRF's label order -> the network's (TAGS).
        perm = np.array([self._crf.labels.index(t) for t in TAGS])
        self._crf_perm = perm
        w = self._crf_weight
        self._trans = self._trans + w * self._crf.transitions[np.ix_(perm, perm)]

    def _word_rows(self, tokens: Sequence[str]) -> Any:
        """Return ``(n, in_dim)`` input vectors of ``tokens`` without the positional indicators."""
        np = self._np
        cache = self._cache
        new = [t for t in dict.fromkeys(tokens) if t not in cache]
        if new and len(cache) + len(new) > self._cache_limit:
            cache.clear()  # a bounded cache: a long-running worker meets endless new words
            new = list(dict.fromkeys(tokens))
        if new:
            torch = self._torch
            infos = [self._fx.word(t) for t in new]
            wids = []
            chars = np.zeros((len(new), MAX_CHARS), dtype=np.int64)
            feats: list[list[int]] = []
            for k, w in enumerate(infos):
                wid = self._word_ids.get(w.folded)
                if wid is None:
                    wid = self._word_ids.get(self._base_of.get(w.folded, w.base), UNK)
                wids.append(wid)
                cs = [self._char_ids.get(c, UNK) for c in w.folded[:MAX_CHARS]] or [UNK]
                chars[k, : len(cs)] = cs
                feats.append(
                    sorted(i for i in (self._feat_ids.get(s) for s in w.local) if i is not None)
                )
            c = torch.from_numpy(chars)
            pad = (c == PAD).unsqueeze(1)
            chs = []
            with torch.no_grad():
                for net in self._nets:
                    ch = torch.relu(net.char_cnn(net.chars(c).transpose(1, 2)))
                    chs.append(ch.masked_fill(pad, 0.0).amax(dim=2).numpy())
            rows = np.empty((len(new), self._dim), dtype=np.float32)
            wd = self._cfg.word_dim
            nc = sum(ch.shape[1] for ch in chs)
            rows[:, :wd] = self._vectors[wids]
            rows[:, wd : wd + nc] = np.concatenate(chs, axis=1)
            table = self._feat_table
            for k, t in enumerate(new):
                rows[k, wd + nc :] = table[feats[k]].sum(axis=0)
                cache[t] = rows[k]
        return np.stack([cache[t] for t in tokens])

    def _add_positional(self, out: Any, folded: Sequence[str]) -> None:
        """Add the indicators that depend on neighbours to ``out`` (``(n, members * feat_dim)``).

        The strings of :func:`~marsad.extractor.ner.neural_inputs.positional_strings`,
        summed without building them: most tokens see only the sentence edges
        or nothing.
        """
        n = len(folded)
        row = self._feat_row
        for key, i in (("-1:edge", 0), ("1:edge", n - 1)):
            vec = row.get(key)
            if vec is not None:
                out[i] += vec
        for i, tags in enumerate(self._fx.gazetteer.match(list(folded))):
            for tag in tags:
                for key, j in (("gz=", i), ("1:gz=", i - 1), ("-1:gz=", i + 1)):
                    vec = row.get(key + tag)
                    if vec is not None and 0 <= j < n:
                        out[j] += vec

    def inputs(self, sents: Sequence[Sequence[str]]) -> Any:
        """Return the ``(B, T, dim)`` inputs of all members for non-empty sentences.

        One pass over the article's new words (one character-CNN call per
        member), then the per-sentence indicators (edges and multi-word names
        stop at a sentence's end).  For a single network the row is its input
        vector; member ``m``'s input is the columns ``_member_cols[m]``.
        """
        lens = [len(s) for s in sents]
        x = self._np.zeros((len(sents), max(lens), self._dim), dtype=self._np.float32)
        flat_tokens = [t for toks in sents for t in toks]
        rows = self._word_rows(flat_tokens)
        folded = self.folded(flat_tokens)
        pos = 0
        for b, toks in enumerate(sents):
            x[b, : len(toks)] = rows[pos : pos + len(toks)]
            self._add_positional(
                x[b, : len(toks), -self.members * self._cfg.feat_dim :],
                folded[pos : pos + len(toks)],
            )
            pos += len(toks)
        return x

    def emissions(self, sents: Sequence[Sequence[str]]) -> Any:
        """Return the networks' ``(B, T, n_tags)`` scores of non-empty sentences, averaged.

        Without the CRF's scores and the bias (padding rows are garbage).
        """
        torch = self._torch
        x = self.inputs(sents)
        lengths = torch.tensor([len(s) for s in sents])
        lm = self._lm_vectors(sents)
        if len(self._nets) == 1 and lm is None:
            with torch.no_grad():
                return self._nets[0].emissions(torch.from_numpy(x), lengths).numpy()
        ems = []
        with torch.no_grad():
            for net, cols in zip(self._nets, self._member_cols, strict=True):
                xm = torch.from_numpy(x if len(self._nets) == 1 else x[:, :, cols])
                if lm is not None:
                    xm = torch.cat([xm, net.lm_proj(lm)], dim=2)
                ems.append(net.emissions(xm, lengths).numpy())
        if len(ems) == 1:
            return ems[0]
        return self._np.mean(ems, axis=0, dtype=self._np.float32)

    def _lm_vectors(self, sents: Sequence[Sequence[str]]) -> Any:
        """Return the ``(B, T, lm_dim)`` contextual LM vectors (a tensor), or ``None``."""
        if self._lm is None:
            return None
        torch = self._torch
        vecs = self._lm.embed([self.folded(s) for s in sents])
        return torch.nn.utils.rnn.pad_sequence(
            [torch.from_numpy(v) for v in vecs], batch_first=True
        )

    def topic_of(self, words: Sequence[str]) -> str | None:
        """The topic of a text for the CRF's topic features (None when it has none)."""
        if self._crf_topics is None:
            return None
        return self._crf_topics.topic(self._crf.folded(words))

    def tag_many(
        self, sentences: Sequence[Sequence[str]], topic: str | None = None
    ) -> list[list[str]]:
        """Return IOB2 tags for several sentences (of a text on ``topic``), decoded in one batch."""
        from marsad.extractor.ner.neural_net import viterbi

        sents = [s for s in sentences if s]
        if not sents:
            return [[] for _ in sentences]
        lens = [len(s) for s in sents]
        memo = self._memo
        key = (topic, *(tuple(s) for s in sents))
        em = None if memo is None else memo.get(key)
        if em is None:
            em = self.emissions(sents)
            if self._crf is not None:
                # A product of experts: the CRF's state scores added to the network's.
                flat = self._crf.scores(sents, topic)[:, self._crf_perm] * self._crf_weight
                pos = 0
                for b, n in enumerate(lens):
                    em[b, :n] += flat[pos : pos + n]
                    pos += n
            if memo is not None:
                memo[key] = em
        if self._state_bias is not None:
            # Not in place: a memoised array is decoded again with other biases.
            em = em + self._state_bias  # padding rows too: the decoder never reads them
        paths = iter(viterbi(em, lens, self._trans, self._start, self._end))
        return [[TAGS[i] for i in next(paths)] if s else [] for s in sentences]

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence."""
        return self.tag_many([tokens], self.topic_of(tokens))[0]

    def tag(self, tokens: Sequence[str], *, consistent: bool = True) -> list[str]:
        """Return IOB2 tags for ``tokens``: all sentences decoded in one batch."""
        chunks = [tokens[a:b] for a, b in sentence_chunks(tokens)]
        tags = [t for sent in self.tag_many(chunks, self.topic_of(tokens)) for t in sent]
        tags = tag_known_names(self.folded(tokens), tags)
        return propagate(tokens, tags) if consistent else tags

    def folded(self, words: Sequence[str]) -> list[str]:
        """Return the folded form of each word (from the feature cache)."""
        return [self._fx.word(w).folded for w in words]


def load_neural(model_path: Path | None = None) -> NeuralRecogniser:
    """Return the shipped neural recogniser (network + CRF, weight from the bundle)."""
    return NeuralRecogniser(model_path or NEURAL_MODEL_PATH)
