"""Contextual string embeddings (Akbik, Blythe and Vollgraf 2018) for the neural tagger.

A forward and a backward character-level LSTM language model, trained on ANT
article text only (never ANERcorp's, so the dev split stays unseen) and then
kept fixed.  A token's contextual vector is the forward model's hidden state
after reading the token's last character, concatenated with the backward
model's state after reading (right to left) its first character, both run
over the whole sentence.

The models read the same text the tagger's other inputs see: tokens as
:func:`~marsad.extractor.ner.text.token_spans` cuts them, folded
(:func:`~marsad.extractor.ner.text.fold`), joined by single spaces, one
sentence (as :func:`~marsad.extractor.ner.text.sentence_chunks` cuts an
article) between newline markers.

Imports torch at module level, so only the neural backend and its training
commands import this module (lazily).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from marsad.extractor.ner.text import fold, sentence_chunks, token_spans

logger = logging.getLogger(__name__)

MARK = "\n"  # sentence boundary: the models start and end every sentence on it
UNK_CHAR = 0  # id of every character outside the vocabulary


@dataclass(frozen=True)
class LMConfig:
    """Sizes and training settings of one character language model."""

    n_chars: int
    char_dim: int = 32
    hidden: int = 256
    bptt: int = 250
    batch: int = 32
    lr: float = 8e-3  # 2e-3 was 0.5 bits/char worse after 2.6 M characters
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict (for the model file)."""
        return asdict(self)


class CharLM(nn.Module):
    """One-layer character LSTM language model (one direction)."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.n_chars, cfg.char_dim)
        self.lstm = nn.LSTM(cfg.char_dim, cfg.hidden, batch_first=True)
        self.out = nn.Linear(cfg.hidden, cfg.n_chars)

    def forward(
        self, ids: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Return the hidden states ``(B, T, hidden)`` of ``ids`` ``(B, T)`` and the last state."""
        h, state = self.lstm(self.emb(ids), state)
        return h, state


def sentence_texts(text: str) -> Iterator[str]:
    """Yield the folded, space-joined sentences of an article, as the tagger cuts them."""
    tokens = [text[a:b] for a, b in token_spans(text)]
    for a, b in sentence_chunks(tokens):
        yield " ".join(fold(t) for t in tokens[a:b])


def char_vocab(texts: Iterable[str], min_count: int) -> list[str]:
    """Return the characters seen ``min_count`` times or more (sorted; ids from 1).

    The boundary marker is always kept; rarer characters share id 0.
    """
    counts = Counter(c for t in texts for c in t)
    return sorted({c for c, n in counts.items() if n >= min_count} | {MARK})


def encode_stream(texts: Iterable[str], char_ids: dict[str, int]) -> np.ndarray:
    """Return one id stream: a marker, then each sentence followed by a marker."""
    parts = [MARK]
    for t in texts:
        parts.append(t)
        parts.append(MARK)
    stream = "".join(parts)
    get = char_ids.get
    return np.fromiter((get(c, UNK_CHAR) for c in stream), dtype=np.int64, count=len(stream))


def sample_sentences(
    texts: Iterable[str], train_chars: int, heldout_chars: int, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split ANT's articles (seeded shuffle) into training and held-out sentences.

    Whole articles go to the held-out part until it has ``heldout_chars``
    characters, then to the training part until ``train_chars``.
    """
    articles = list(texts)
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)  # noqa: S311 - sampling, not secrets
    train: list[str] = []
    held: list[str] = []
    n_train = n_held = 0
    for i in order:
        sents = [s for s in sentence_texts(articles[i]) if s]
        size = sum(len(s) + 1 for s in sents)
        if n_held < heldout_chars:
            held.extend(sents)
            n_held += size
        elif n_train < train_chars:
            train.extend(sents)
            n_train += size
        else:
            break
    return train, held


def train_lm(
    stream: np.ndarray, cfg: LMConfig, log: Any = None, log_every: int = 50
) -> tuple[CharLM, dict[str, Any]]:
    """Train one direction on ``stream`` (one pass, truncated BPTT); return it and a report.

    Reverse the stream before calling for the backward model.  Seeded and
    single-threaded, so a run is reproducible.
    """
    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    lm = CharLM(cfg)
    opt = torch.optim.Adam(lm.parameters(), lr=cfg.lr)
    n = (len(stream) - 1) // cfg.batch
    data = torch.from_numpy(np.ascontiguousarray(stream[: n * cfg.batch + 1]))
    x_all = data[:-1].view(cfg.batch, n)
    y_all = data[1:].view(cfg.batch, n)
    state: tuple[torch.Tensor, torch.Tensor] | None = None
    c0 = c_log = time.process_time()
    total = 0.0
    count = 0
    steps = math.ceil(n / cfg.bptt)
    # One pass over the text: the rate falls linearly to a tenth by its end.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - 0.9 * k / steps)
    lm.train()
    for k, a in enumerate(range(0, n, cfg.bptt)):
        x = x_all[:, a : a + cfg.bptt]
        y = y_all[:, a : a + cfg.bptt]
        h, state = lm(x, state)
        state = (state[0].detach(), state[1].detach())
        loss = nn.functional.cross_entropy(lm.out(h).reshape(-1, cfg.n_chars), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        sched.step()
        total += float(loss.detach()) * y.numel()
        count += y.numel()
        if log is not None and (k + 1) % log_every == 0:
            cpu = time.process_time() - c_log
            log(
                f"step {k + 1}/{steps} bits/char {total / count / math.log(2):.3f} "
                f"({count / cpu:.0f} chars/CPU s)"
            )
            total = 0.0
            count = 0
            c_log = time.process_time()
    lm.eval()
    return lm, {"chars": int(n * cfg.batch), "cpu_seconds": time.process_time() - c0}


def bits_per_char(lm: CharLM, stream: np.ndarray, batch: int = 16, bptt: int = 500) -> float:
    """Return the model's bits per character on ``stream`` (held-out text)."""
    n = (len(stream) - 1) // batch
    data = torch.from_numpy(np.ascontiguousarray(stream[: n * batch + 1]))
    x_all = data[:-1].view(batch, n)
    y_all = data[1:].view(batch, n)
    state = None
    total = 0.0
    with torch.no_grad():
        for a in range(0, n, bptt):
            h, state = lm(x_all[:, a : a + bptt], state)
            y = y_all[:, a : a + bptt]
            logits = lm.out(h).reshape(-1, lm.cfg.n_chars)
            total += float(nn.functional.cross_entropy(logits, y.reshape(-1), reduction="sum"))
    return total / (n * batch) / math.log(2)


def half_rounded(lm: CharLM) -> CharLM:
    """Round the weights to float16 and back, as they are stored, in place; return ``lm``.

    Training-time features are then computed with exactly the weights the
    tagger uses at run time.
    """
    with torch.no_grad():
        for p in lm.parameters():
            p.copy_(p.half().float())
    return lm


class ContextualEmbedder:
    """The fixed forward + backward language models: contextual vectors of tokens.

    Args:
        bundle: ``{"config", "chars", "forward", "backward"}`` as written by
            :func:`lm_bundle` (weights float16).
    """

    def __init__(self, bundle: dict[str, Any]) -> None:
        cfg = LMConfig(**bundle["config"])
        self.cfg = cfg
        self.dim = 2 * cfg.hidden
        self.char_ids = {c: i for i, c in enumerate(bundle["chars"], start=1)}
        self.fwd = CharLM(cfg)
        self.bwd = CharLM(cfg)
        for lm, key in ((self.fwd, "forward"), (self.bwd, "backward")):
            lm.load_state_dict({k: v.float() for k, v in bundle[key].items()})
            lm.eval()

    def _ids(self, text: str) -> list[int]:
        get = self.char_ids.get
        return [get(c, UNK_CHAR) for c in text]

    def embed(self, sents: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Return each sentence's ``(n, 2 * hidden)`` contextual vectors (float32).

        Args:
            sents: Sentences of folded tokens (the tagger's folded forms).
        """
        out: list[np.ndarray] = []
        if not sents:
            return out
        texts = [MARK + " ".join(s) + MARK for s in sents]
        ends: list[list[int]] = []  # position of each token's last character
        starts: list[list[int]] = []  # of its first character, in the reversed text
        for toks, text in zip(sents, texts, strict=True):
            e: list[int] = []
            s: list[int] = []
            pos = 1
            for t in toks:
                e.append(pos + len(t) - 1)
                s.append(len(text) - 1 - pos)
                pos += len(t) + 1
            ends.append(e)
            starts.append(s)
        width = max(len(t) for t in texts)
        fwd = np.zeros((len(texts), width), dtype=np.int64)
        bwd = np.zeros((len(texts), width), dtype=np.int64)
        for b, text in enumerate(texts):
            ids = self._ids(text)
            # Padding after each text: an LSTM's earlier states do not see it.
            fwd[b, : len(ids)] = ids
            bwd[b, : len(ids)] = ids[::-1]
        with torch.no_grad():
            hf, _ = self.fwd(torch.from_numpy(fwd))
            hb, _ = self.bwd(torch.from_numpy(bwd))
        hf_np = hf.numpy()
        hb_np = hb.numpy()
        for b in range(len(texts)):
            out.append(
                np.concatenate([hf_np[b, ends[b]], hb_np[b, starts[b]]], axis=1).astype(
                    np.float32
                )
            )
        return out


def lm_bundle(chars: Sequence[str], fwd: CharLM, bwd: CharLM) -> dict[str, Any]:
    """Return the storable form of the two models (weights float16)."""
    return {
        "config": fwd.cfg.to_dict(),
        "chars": list(chars),
        "forward": {k: v.half() for k, v in fwd.state_dict().items()},
        "backward": {k: v.half() for k, v in bwd.state_dict().items()},
    }


def load_lm(path: Path) -> dict[str, Any]:
    """Load a language-model bundle written by ``marsad ner-train-lm``."""
    bundle: dict[str, Any] = torch.load(path, weights_only=True)
    return bundle
