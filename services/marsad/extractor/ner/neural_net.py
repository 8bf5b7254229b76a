"""The neural tagger's network: [word vector; char CNN; indicators] -> BiLSTM -> CRF.

Optionally a fourth input: the contextual vectors of fixed character
language models (:mod:`marsad.extractor.ner.charlm`), through a trained
linear projection.  For multi-task training, :class:`AuxHead` is a second
output layer and CRF over another corpus's tag set on the same BiLSTM
states; it is a separate module, so it is never part of the tagger's weights.

Imports torch at module level, so only the neural backend and its training
command import this module (lazily).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from marsad.extractor.ner.neural_inputs import PAD, TAGS, TokenInputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NetConfig:
    """Sizes of the network (stored with the weights)."""

    n_words: int
    word_dim: int
    n_chars: int
    n_feats: int
    char_dim: int = 24
    char_filters: int = 48
    feat_dim: int = 48
    hidden: int = 96
    dropout: float = 0.5
    n_tags: int = len(TAGS)
    # Contextual character-LM vectors (0: none, as in bundles written before them).
    lm_dim: int = 0
    lm_proj: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict (for the model file)."""
        return asdict(self)


def allowed_transitions(tags: Sequence[str] = TAGS) -> tuple[np.ndarray, np.ndarray]:
    """Return IOB2 masks: ``trans[i, j]`` (tag i then j) and ``start[j]`` allowed."""
    n = len(tags)
    trans = np.ones((n, n), dtype=bool)
    start = np.ones(n, dtype=bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            start[j] = False
            for i, prev in enumerate(tags):
                trans[i, j] = prev[2:] == tag[2:]
    return trans, start


def crf_nll(
    em: torch.Tensor,
    tags: torch.Tensor,
    mask: torch.Tensor,
    trans: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """Return the summed CRF negative log-likelihood of gold ``tags`` ``(B, T)``.

    Args:
        em: ``(B, T, K)`` emission scores.
        tags: ``(B, T)`` gold tag ids (anything past a sentence's end).
        mask: ``(B, T)`` True on real tokens.
        trans: ``(K, K)`` transition scores (forbidden moves very negative).
        start: ``(K,)`` start scores.
        end: ``(K,)`` end scores.
    """
    b, t_len, _ = em.shape
    ar = torch.arange(b)
    maskf = mask.float()
    score = start[tags[:, 0]] + em[ar, 0, tags[:, 0]]
    alpha = start.unsqueeze(0) + em[:, 0]
    for t in range(1, t_len):
        step = trans[tags[:, t - 1], tags[:, t]] + em[ar, t, tags[:, t]]
        score = score + step * maskf[:, t]
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + em[:, t]
        alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
    last = tags[ar, mask.sum(1) - 1]
    score = score + end[last]
    log_z = torch.logsumexp(alpha + end.unsqueeze(0), dim=1)
    return (log_z - score).sum()


class Tagger(nn.Module):
    """BiLSTM-CRF over word vectors, a character CNN and sparse indicators."""

    def __init__(self, cfg: NetConfig, vectors: np.ndarray | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.words = nn.Embedding(cfg.n_words, cfg.word_dim, padding_idx=PAD)
        if vectors is not None:
            with torch.no_grad():
                self.words.weight.copy_(torch.from_numpy(vectors))
        self.words.weight.requires_grad_(False)  # pretrained, kept fixed
        self.chars = nn.Embedding(cfg.n_chars, cfg.char_dim, padding_idx=PAD)
        self.char_cnn = nn.Conv1d(cfg.char_dim, cfg.char_filters, kernel_size=3, padding=1)
        self.feats = nn.EmbeddingBag(cfg.n_feats, cfg.feat_dim, mode="sum", padding_idx=PAD)
        in_dim = cfg.word_dim + cfg.char_filters + cfg.feat_dim
        if cfg.lm_dim:
            # Created only with LM inputs, so earlier bundles' weights load unchanged.
            self.lm_proj = nn.Linear(cfg.lm_dim, cfg.lm_proj)
            in_dim += cfg.lm_proj
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(in_dim, cfg.hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * cfg.hidden, cfg.n_tags)
        self.trans = nn.Parameter(torch.zeros(cfg.n_tags, cfg.n_tags))
        self.start = nn.Parameter(torch.zeros(cfg.n_tags))
        self.end = nn.Parameter(torch.zeros(cfg.n_tags))
        trans_ok, start_ok = allowed_transitions()
        # Plain attributes, not buffers: fixed by the tag set, not part of the weights.
        self.trans_mask = torch.from_numpy(~trans_ok)
        self.start_mask = torch.from_numpy(~start_ok)

    def word_inputs(
        self,
        word_ids: torch.Tensor,
        char_ids: torch.Tensor,
        feat_ids: torch.Tensor,
        lm: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return per-word input vectors.

        Args:
            word_ids: ``(N,)`` vector rows.
            char_ids: ``(N, C)`` padded character ids.
            feat_ids: ``(N, F)`` padded indicator ids.
            lm: ``(N, lm_dim)`` contextual LM vectors (networks with ``lm_dim`` only).
        """
        c = self.chars(char_ids).transpose(1, 2)  # N, char_dim, C
        c = torch.relu(self.char_cnn(c))
        c = c.masked_fill((char_ids == PAD).unsqueeze(1), 0.0).amax(dim=2)
        parts = [self.words(word_ids), c, self.feats(feat_ids)]
        if self.cfg.lm_dim:
            if lm is None:
                raise ValueError("this network needs the contextual LM vectors")
            parts.append(self.lm_proj(lm))
        return torch.cat(parts, dim=1)

    def hidden(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Return the BiLSTM states ``(B, T, 2 * hidden)`` (after dropout) of padded inputs."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.drop(x), lengths, batch_first=True, enforce_sorted=False
        )
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        return self.drop(h)

    def emissions(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Return ``(B, T, n_tags)`` scores from padded inputs ``(B, T, in_dim)``."""
        return self.out(self.hidden(x, lengths))

    def masked_crf(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Transition and start scores with IOB2-invalid moves forbidden."""
        return forbid_invalid(self.trans, self.trans_mask, self.start, self.start_mask)

    def nll(self, em: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the summed CRF negative log-likelihood of gold ``tags`` ``(B, T)``."""
        trans, start = self.masked_crf()
        return crf_nll(em, tags, mask, trans, start, self.end)


def forbid_invalid(
    trans: torch.Tensor, trans_mask: torch.Tensor, start: torch.Tensor, start_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``trans`` and ``start`` with the masked (IOB2-invalid) moves scored -10,000."""
    neg = torch.tensor(-1e4)
    return torch.where(trans_mask, neg, trans), torch.where(start_mask, neg, start)


class AuxHead(nn.Module):
    """An auxiliary output layer and CRF over another tag set, on the tagger's BiLSTM states.

    Multi-task training: the auxiliary corpus's conventions stay in this
    head while its examples still train the shared encoder.  Not part of
    :class:`Tagger`, so its weights never reach the saved bundle.

    Args:
        in_dim: Width of the BiLSTM states (``2 * hidden``).
        tags: The IOB2 tag set, ``"O"`` first.
    """

    def __init__(self, in_dim: int, tags: Sequence[str]) -> None:
        super().__init__()
        self.tags = tuple(tags)
        n = len(self.tags)
        self.out = nn.Linear(in_dim, n)
        self.trans = nn.Parameter(torch.zeros(n, n))
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        trans_ok, start_ok = allowed_transitions(self.tags)
        self.trans_mask = torch.from_numpy(~trans_ok)
        self.start_mask = torch.from_numpy(~start_ok)

    def masked_crf(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Transition and start scores with IOB2-invalid moves forbidden."""
        return forbid_invalid(self.trans, self.trans_mask, self.start, self.start_mask)

    def nll(self, h: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the summed CRF negative log-likelihood of ``tags`` given BiLSTM states ``h``."""
        trans, start = self.masked_crf()
        return crf_nll(self.out(h), tags, mask, trans, start, self.end)


def pad_batch(
    batch: Sequence[TokenInputs],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """Flatten a batch of sentences into word-level tensors.

    Returns:
        ``(word_ids, char_ids, feat_ids, lengths, offsets)``: all tokens of
        all sentences in order, and each sentence's length.
    """
    words = [w for s in batch for w in s.words]
    chars = [c for s in batch for c in s.chars]
    feats = [f for s in batch for f in s.feats]
    n_c = max(len(c) for c in chars)
    n_f = max(1, max(len(f) for f in feats))
    char_arr = np.zeros((len(chars), n_c), dtype=np.int64)
    for i, c in enumerate(chars):
        char_arr[i, : len(c)] = c
    feat_arr = np.zeros((len(feats), n_f), dtype=np.int64)
    for i, f in enumerate(feats):
        feat_arr[i, : len(f)] = f
    lengths = [len(s.words) for s in batch]
    return (
        torch.tensor(words, dtype=torch.long),
        torch.from_numpy(char_arr),
        torch.from_numpy(feat_arr),
        torch.tensor(lengths, dtype=torch.long),
        lengths,
    )


def to_padded(flat: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
    """Turn ``(N, D)`` word rows into ``(B, T, D)`` sentences, zero-padded."""
    return nn.utils.rnn.pad_sequence(list(torch.split(flat, list(lengths))), batch_first=True)


def viterbi(
    em: np.ndarray, lengths: Sequence[int], trans: np.ndarray, start: np.ndarray, end: np.ndarray
) -> list[list[int]]:
    """Best tag ids of each sentence, all sentences of a batch decoded together.

    Args:
        em: ``(B, T, K)`` emission scores.
        lengths: Real length of each sentence.
        trans: ``(K, K)`` transition scores (forbidden moves very negative).
        start: ``(K,)`` start scores.
        end: ``(K,)`` end scores.
    """
    b, t_len, k = em.shape
    lens = np.asarray(lengths)
    score = start[None, :] + em[:, 0]
    back = np.zeros((b, t_len, k), dtype=np.int64)
    for t in range(1, t_len):
        cand = score[:, :, None] + trans[None, :, :]
        best = cand.argmax(axis=1)
        nxt = np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0] + em[:, t]
        live = (t < lens)[:, None]
        score = np.where(live, nxt, score)
        back[:, t] = best
    final = (score + end[None, :]).argmax(axis=1)
    # Backtrack all sentences at once: a sentence starts from its best final
    # tag at its own last position and follows the back pointers from there.
    ar = np.arange(b)
    path = np.zeros((b, t_len), dtype=np.int64)
    cur = final.copy()
    path[:, t_len - 1] = cur
    for t in range(t_len - 2, -1, -1):
        cur = np.where(t == lens - 1, final, back[ar, t + 1, cur])
        path[:, t] = cur
    return [path[i, : int(lens[i])].tolist() for i in range(b)]
