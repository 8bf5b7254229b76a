"""The neural NER backend (``MARSAD_NER_BACKEND=neural``): a BiLSTM-CRF tagger.

Loads ``data/ner_neural.pt`` (written by ``marsad ner-train-neural``) and
tags like the CRF backend: sentences of an article decoded in one batch,
then the same known-name and consistency passes.  torch is imported when
the recogniser is built, never at module import.

Speed: everything about a word that does not depend on its neighbours (its
vector, its character CNN output, the sum of its indicator embeddings) is
computed once per distinct word and cached, so an article costs its new
words, one batched BiLSTM pass and one batched Viterbi.
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

logger = logging.getLogger(__name__)

NEURAL_MODEL_PATH = DATA_DIR / "ner_neural.pt"
_CACHE_LIMIT = 300_000  # distinct words whose input vectors are kept


class NeuralRecogniser(Recogniser):
    """The BiLSTM-CRF tagger, optionally combined with the CRF model.

    With ``crf_weight`` > 0 the CRF's state and transition scores, times the
    weight, are added to the network's before one Viterbi decode (a product
    of experts: the two models err on different words).

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
        self._cfg = NetConfig(**bundle["config"])
        net = Tagger(self._cfg)
        state = {k: v.float() for k, v in bundle["state"].items()}
        state["words.weight"] = bundle["word_vectors_int8"].float() / 127.0
        net.load_state_dict(state)
        net.eval()
        self._net = net
        self._torch = torch
        self._np = np
        gazetteer = gazetteer or load_gazetteer()
        self._fx = FeatureExtractor(gazetteer, load_clusters())
        self._word_ids = {w: i for i, w in enumerate(bundle["words"], start=2)}
        self._base_of: dict[str, str] = dict(bundle["base_of"])
        self._char_ids = {c: i for i, c in enumerate(bundle["chars"], start=2)}
        self._feat_ids = {f: i for i, f in enumerate(bundle["feats"], start=2)}
        self._feat_table = net.feats.weight.detach().numpy().copy()
        self._feat_table[PAD] = 0.0
        # Indicator string -> its embedding row, for the positional ones.
        self._feat_row = {
            f: self._feat_table[i]
            for f, i in self._feat_ids.items()
            if ":" in f or f.startswith("gz=")
        }
        trans, start = net.masked_crf()
        self._trans = trans.detach().numpy().copy()
        self._start = start.detach().numpy().copy()
        self._end = net.end.detach().numpy().copy()
        self._cache: dict[str, Any] = {}
        self._crf: Any = None
        self._crf_weight = crf_weight
        if crf_path is not None and crf_weight > 0:
            self._load_crf(crf_path, gazetteer)
        self._dim = self._cfg.word_dim + self._cfg.char_filters + self._cfg.feat_dim
        self.model_files = [model_path] + ([crf_path] if self._crf is not None else [])
        self.set_bias(load_bias(self.backend, self.model_files) if bias is None else bias)

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

        np = self._np
        tagger = pycrfsuite.Tagger()
        tagger.open(str(crf_path))
        self._crf = FastCrf(tagger, FeatureExtractor(gazetteer, load_clusters(), cache_size=0))
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
        if new and len(cache) + len(new) > _CACHE_LIMIT:
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
            with torch.no_grad():
                net = self._net
                c = torch.from_numpy(chars)
                ch = torch.relu(net.char_cnn(net.chars(c).transpose(1, 2)))
                ch = ch.masked_fill((c == PAD).unsqueeze(1), 0.0).amax(dim=2).numpy()
                wv = net.words.weight.detach().numpy()[wids]
            table = self._feat_table
            for k, t in enumerate(new):
                row = np.empty(self._dim, dtype=np.float32)
                row[: len(wv[k])] = wv[k]
                row[len(wv[k]) : len(wv[k]) + ch.shape[1]] = ch[k]
                row[len(wv[k]) + ch.shape[1] :] = table[feats[k]].sum(axis=0)
                cache[t] = row
        return np.stack([cache[t] for t in tokens])

    def _add_positional(self, out: Any, folded: Sequence[str]) -> None:
        """Add the indicators that depend on neighbours to ``out`` (``(n, feat_dim)``).

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
        """Return the network's ``(B, T, in_dim)`` inputs for non-empty sentences.

        One pass over the article's new words (one character-CNN call), then
        the per-sentence indicators (edges and multi-word names stop at a
        sentence's end).
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
                x[b, : len(toks), -self._cfg.feat_dim :], folded[pos : pos + len(toks)]
            )
            pos += len(toks)
        return x

    def tag_many(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Return IOB2 tags for several sentences, decoded in one batch."""
        from marsad.extractor.ner.neural_net import viterbi

        torch = self._torch
        sents = [s for s in sentences if s]
        if not sents:
            return [[] for _ in sentences]
        lens = [len(s) for s in sents]
        x = self.inputs(sents)
        with torch.no_grad():
            em = self._net.emissions(torch.from_numpy(x), torch.tensor(lens)).numpy()
        if self._crf is not None:
            # A product of experts: the CRF's state scores added to the network's.
            flat = self._crf.scores(sents)[:, self._crf_perm] * self._crf_weight
            pos = 0
            for b, n in enumerate(lens):
                em[b, :n] += flat[pos : pos + n]
                pos += n
        if self._state_bias is not None:
            em += self._state_bias  # padding rows too: the decoder never reads them
        paths = iter(viterbi(em, lens, self._trans, self._start, self._end))
        return [[TAGS[i] for i in next(paths)] if s else [] for s in sentences]

    def tag_sentence(self, tokens: Sequence[str]) -> list[str]:
        """Return IOB2 tags for one sentence."""
        return self.tag_many([tokens])[0]

    def tag(self, tokens: Sequence[str], *, consistent: bool = True) -> list[str]:
        """Return IOB2 tags for ``tokens``: all sentences decoded in one batch."""
        chunks = [tokens[a:b] for a, b in sentence_chunks(tokens)]
        tags = [t for sent in self.tag_many(chunks) for t in sent]
        tags = tag_known_names(self.folded(tokens), tags)
        return propagate(tokens, tags) if consistent else tags

    def folded(self, words: Sequence[str]) -> list[str]:
        """Return the folded form of each word (from the feature cache)."""
        return [self._fx.word(w).folded for w in words]


def load_neural(model_path: Path | None = None) -> NeuralRecogniser:
    """Return the shipped neural recogniser (network + CRF, weight from the bundle)."""
    return NeuralRecogniser(model_path or NEURAL_MODEL_PATH)
