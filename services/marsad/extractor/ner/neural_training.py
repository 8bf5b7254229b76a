"""Training of the neural tagger (``marsad ner-train-neural``).

Same data and split as the CRF (:mod:`marsad.extractor.ner.training`): the
first 88 % of ANERcorp's training part, with the gazetteer indicators
jackknifed in five folds (a sentence's own names are never in the gazetteer
it is featurised with), and the dev split for choosing the epoch.  Seeded
and single-threaded, so a run is reproducible.

Optionally multi-task (``ner-train-neural --aux-wojood``): Wojood's
sentences, with their own labels, train a second output layer and CRF
(:class:`~marsad.extractor.ner.neural_net.AuxHead`) on the same encoder, so
their annotation conventions never reach the ANERcorp head; the epoch is
still chosen by the ANERcorp head alone, and the bundle holds only it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marsad.extractor.ner.corpus import Sentence, read_wojood
from marsad.extractor.ner.lexicon import DATA_DIR, Gazetteer
from marsad.extractor.ner.neural_inputs import (
    TAG_ID,
    TAGS,
    InputEncoder,
    TokenInputs,
    build_vocab,
    indicator_strings,
    iob_tag_set,
)

logger = logging.getLogger(__name__)

NEURAL_MODEL_PATH = DATA_DIR / "ner_neural.pt"
# Wojood's name-like types for the auxiliary head (its dates, numbers,
# websites, laws ... are left out: they are not names in ANERcorp either).
WOJOOD_AUX_TYPES = ("PERS", "NORP", "OCC", "ORG", "GPE", "LOC", "FAC", "EVENT")


@dataclass(frozen=True)
class NeuralTrainConfig:
    """Hyper-parameters of :func:`train_neural`."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 2e-3
    seed: int = 0
    feat_min_count: int = 2
    hidden: int = 96
    dropout: float = 0.5
    folds: int = 5
    keep_words: int = 20_000
    lm_proj: int = 128  # width of the projected contextual LM vectors (with ``charlm`` only)


@dataclass(frozen=True)
class AuxCorpus:
    """A second labelled corpus for the auxiliary head of multi-task training.

    Attributes:
        sentences: Tokens and IOB2 tags in the corpus's own tag set.
        indicators: Each sentence's per-token indicator strings (as
            :func:`~marsad.extractor.ner.neural_inputs.indicator_strings`).
        tags: The tag set, ``"O"`` first.
        weight: Factor of the auxiliary batches' gradients, applied after the
            gradient clipping (a factor on the loss would be undone by it).
    """

    sentences: Sequence[Sentence]
    indicators: Sequence[list[list[str]]]
    tags: tuple[str, ...]
    weight: float = 1.0


def read_wojood_pair(paths: Sequence[Path]) -> tuple[list[Sentence], list[Sentence]]:
    """Read Wojood files twice: with its own name types, and mapped onto ANERcorp's.

    Returns:
        ``(native, mapped)``: the same sentences, tags of
        :data:`WOJOOD_AUX_TYPES` (outermost mention of those types per token)
        and tags of ANERcorp's four types (for the gazetteer).
    """
    own = {t: t for t in WOJOOD_AUX_TYPES}
    native: list[Sentence] = []
    mapped: list[Sentence] = []
    for path in paths:
        native.extend(read_wojood(path, own))
        mapped.extend(read_wojood(path))
    if [t for t, _ in native] != [t for t, _ in mapped]:
        raise ValueError("the two readings of Wojood disagree on the tokens")
    return native, mapped


def wojood_aux(
    shared: Path, train_sents: Sequence[Sentence], folds: int = 5, weight: float = 1.0
) -> AuxCorpus:
    """Return Wojood (train and val) as the auxiliary corpus, its indicators jackknifed.

    The shipped gazetteer holds Wojood's names, so Wojood's sentences are
    featurised like ANERcorp's: from a gazetteer without them (but with
    ANERcorp's training names, as at run time), plus the names of the
    *other* Wojood folds.

    Args:
        shared: The project's shared data folder.
        train_sents: ANERcorp's training sentences (their names are known at run time).
        folds: Jackknife folds.
        weight: Factor of the auxiliary batches' (clipped) gradients.
    """
    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.training import add_labelled_names, build_gazetteer

    wdir = shared / "data" / "wojood"
    native, mapped = read_wojood_pair([wdir / "train.txt", wdir / "val.txt"])
    base = add_labelled_names(build_gazetteer(shared, wojood=False), train_sents)
    strings = jackknife_indicators(mapped, base, load_clusters(), folds)
    return AuxCorpus(native, strings, iob_tag_set(WOJOOD_AUX_TYPES), weight)


def jackknife_indicators(
    sentences: Sequence[Sentence], gazetteer: Gazetteer, clusters: Any, folds: int
) -> list[list[list[str]]]:
    """Indicator strings of training sentences, each fold featurised without its own names."""
    from marsad.extractor.ner.training import jackknife_features

    return jackknife_features(sentences, gazetteer, clusters, folds, featurise=indicator_strings)


def prune_vectors(
    word_ids: dict[str, int], vectors: Any, needed: set[str], keep: int
) -> tuple[dict[str, int], Any]:
    """Keep the vectors of ``needed`` words plus the ``keep`` most frequent ones.

    Rows 0 and 1 of the result are padding and the unknown word (zeros).
    """
    import numpy as np

    rows = sorted({i for w, i in word_ids.items() if i < keep or w in needed})
    inv = {i: w for w, i in word_ids.items()}
    out = np.zeros((len(rows) + 2, vectors.shape[1]), dtype=np.float32)
    out[2:] = vectors[rows]
    return {inv[r]: k + 2 for k, r in enumerate(rows)}, out


def train_neural(
    train_sents: Sequence[Sentence],
    dev_sents: Sequence[Sentence],
    base_gazetteer: Gazetteer,
    shipped_gazetteer: Gazetteer,
    vectors_path: Path,
    config: NeuralTrainConfig,
    log: Any = None,
    charlm: dict[str, Any] | None = None,
    aux: AuxCorpus | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train the tagger; return the model bundle (for ``torch.save``) and a report.

    Args:
        train_sents: Labelled training sentences.
        dev_sents: Dev sentences (epoch choice only).
        base_gazetteer: Name lists without ANERcorp names (for the jackknife).
        shipped_gazetteer: The gazetteer used at run time (dev featurisation).
        vectors_path: Word vectors from :mod:`marsad.extractor.ner.embeddings`.
        config: Hyper-parameters.
        log: Optional callable for progress lines.
        charlm: Fixed character language models (:func:`~marsad.extractor.ner.charlm.load_lm`)
            whose contextual vectors become an extra input; stored in the bundle.
        aux: A second corpus for an auxiliary head (multi-task training; the
            head is not stored).  Its batches are shuffled in among the
            training batches; vocabularies and kept vectors stay those of
            ``train_sents``.
    """
    import torch

    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.embeddings import load_vectors
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.neural_net import AuxHead, NetConfig, Tagger
    from marsad.extractor.ner.training import score

    t0 = time.perf_counter()
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)  # noqa: S311 - shuffling, not secrets
    clusters = load_clusters()
    train_strings = jackknife_indicators(train_sents, base_gazetteer, clusters, config.folds)
    feat_ids = build_vocab(
        (s for sent in train_strings for tok in sent for s in tok), config.feat_min_count
    )
    char_ids = build_vocab(c for toks, _ in train_sents for t in toks for c in t)
    all_ids, all_vectors, base_of = load_vectors(vectors_path)
    fx_train = FeatureExtractor(base_gazetteer, clusters)
    # Vectors kept: the training words' and the most frequent ones (never
    # chosen by the dev split's words, which would flatter its score).
    needed = set()
    for toks, _ in train_sents:
        for t in toks:
            w = fx_train.word(t)
            needed.add(w.folded)
            needed.add(base_of.get(w.folded, w.base))
    word_ids, vectors = prune_vectors(all_ids, all_vectors, needed, config.keep_words)
    enc_train = InputEncoder(fx_train, word_ids, base_of, char_ids, feat_ids)
    train_x: list[TokenInputs] = []
    for (toks, _), strings in zip(train_sents, train_strings, strict=True):
        ids = enc_train.encode(toks)
        feats = [sorted(feat_ids[s] for s in tok if s in feat_ids) for tok in strings]
        train_x.append(TokenInputs(ids.words, ids.chars, feats))
    train_y = [[TAG_ID[t] for t in tags] for _, tags in train_sents]
    aux_x: list[TokenInputs] = []
    aux_y: list[list[int]] = []
    if aux is not None:
        aux_id = {t: i for i, t in enumerate(aux.tags)}
        for (toks, tags), strings in zip(aux.sentences, aux.indicators, strict=True):
            ids = enc_train.encode(toks)
            feats = [sorted(feat_ids[s] for s in tok if s in feat_ids) for tok in strings]
            aux_x.append(TokenInputs(ids.words, ids.chars, feats))
            aux_y.append([aux_id[t] for t in tags])
    enc_dev = InputEncoder(
        FeatureExtractor(shipped_gazetteer, clusters), word_ids, base_of, char_ids, feat_ids
    )
    dev_x = [enc_dev.encode(toks) for toks, _ in dev_sents]
    # The language models are fixed: their vectors are computed once, not per epoch.
    train_lm = lm_vectors(charlm, fx_train, [toks for toks, _ in train_sents])
    dev_lm = lm_vectors(charlm, fx_train, [toks for toks, _ in dev_sents])
    aux_lm = None if aux is None else lm_vectors(charlm, fx_train, [t for t, _ in aux.sentences])
    lm_dim = 0 if train_lm is None else int(train_lm[0].shape[1])
    cfg = NetConfig(
        n_words=len(vectors),
        word_dim=vectors.shape[1],
        n_chars=len(char_ids) + 2,
        n_feats=len(feat_ids) + 2,
        hidden=config.hidden,
        dropout=config.dropout,
        lm_dim=lm_dim,
        lm_proj=config.lm_proj if lm_dim else 0,
    )
    net = Tagger(cfg, vectors)
    params = [p for p in net.parameters() if p.requires_grad]
    # Created after the tagger, so the tagger's initial weights do not depend on it.
    head = None if aux is None else AuxHead(2 * cfg.hidden, aux.tags)
    if head is not None:
        params += list(head.parameters())
    opt = torch.optim.Adam(params, lr=config.lr)
    order = list(range(len(train_x)))
    aux_order = list(range(len(aux_x)))
    best: tuple[float, int, dict[str, Any]] = (-1.0, -1, {})
    history: list[dict[str, Any]] = []
    for epoch in range(1, config.epochs + 1):
        net.train()
        if head is not None:
            head.train()
        rng.shuffle(order)
        batches = [
            (False, order[k : k + config.batch_size])
            for k in range(0, len(order), config.batch_size)
        ]
        if head is not None:
            # Batches of one corpus each, shuffled together (the heads alternate at random).
            rng.shuffle(aux_order)
            batches += [
                (True, aux_order[k : k + config.batch_size])
                for k in range(0, len(aux_order), config.batch_size)
            ]
            rng.shuffle(batches)
        total = 0.0
        aux_total = 0.0
        c0 = time.process_time()
        for is_aux, idx in batches:
            if is_aux:
                loss = batch_loss(net, aux_x, aux_y, idx, aux_lm, head)
                aux_total += float(loss.detach())
            else:
                loss = batch_loss(net, train_x, train_y, idx, train_lm)
                total += float(loss.detach())
            opt.zero_grad()
            (loss / len(idx)).backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            if is_aux and aux is not None and aux.weight != 1.0:
                # The weight scales the *clipped* gradient: scaling the loss
                # instead would be undone by the clipping whenever it bites.
                for p in params:
                    if p.grad is not None:
                        p.grad.mul_(aux.weight)
            opt.step()
        pred = decode(net, dev_x, lm=dev_lm)
        dev_scores = score([tags for _, tags in dev_sents], [[TAGS[i] for i in p] for p in pred])
        f1 = dev_scores["micro"]["f1"]
        row = {
            "epoch": epoch,
            "loss": total / len(train_x),
            "dev_f1": f1,
            "cpu_seconds": time.process_time() - c0,
        }
        if head is not None:
            row["aux_loss"] = aux_total / len(aux_x)
        history.append(row)
        if log is not None:
            log(
                f"epoch {epoch:2d} loss {row['loss']:.3f} dev F1 {f1:.4f} "
                f"({row['cpu_seconds']:.0f} s CPU)"
            )
        if f1 > best[0]:
            state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            best = (f1, epoch, state)
    state = dict(best[2])
    # Word vectors are unit rows: int8 at 1/127 steps loses nothing measurable
    # and keeps the file small; the other weights are stored as float16.
    word_q = torch.round(state.pop("words.weight") * 127.0).to(torch.int8)
    bundle = {
        "config": cfg.to_dict(),
        "word_vectors_int8": word_q,
        "state": {k: v.half() if v.is_floating_point() else v for k, v in state.items()},
        "words": sorted(word_ids, key=word_ids.__getitem__),
        "base_of": {f: b for f, b in base_of.items() if b in word_ids and f in needed},
        "chars": sorted(char_ids, key=char_ids.__getitem__),
        "feats": sorted(feat_ids, key=feat_ids.__getitem__),
        "crf_weight": 0.0,
    }
    if charlm is not None:
        bundle["charlm"] = charlm
    report = {
        "best_epoch": best[1],
        "best_dev_f1_crf_only": best[0],
        "history": history,
        "seconds": time.perf_counter() - t0,
        "words": len(word_ids),
        "feats": len(feat_ids),
        "chars": len(char_ids),
    }
    if aux is not None:
        report["aux_sentences"] = len(aux_x)
        report["aux_tags"] = len(aux.tags)
    return bundle, report


def batch_loss(
    net: Any,
    xs: Sequence[TokenInputs],
    ys: Sequence[Sequence[int]],
    idx: Sequence[int],
    lm: Sequence[Any] | None = None,
    head: Any = None,
) -> Any:
    """Return the summed CRF loss of sentences ``idx`` (a torch scalar, with gradients).

    Args:
        net: The :class:`~marsad.extractor.ner.neural_net.Tagger`.
        xs: Encoded sentences.
        ys: Their gold tag ids (in ``head``'s tag set when given).
        idx: The sentences of the batch.
        lm: Each sentence's contextual LM vectors (networks with LM inputs only).
        head: An :class:`~marsad.extractor.ner.neural_net.AuxHead` scoring the
            tagger's BiLSTM states instead of the tagger's own output layer and CRF.
    """
    import torch

    from marsad.extractor.ner.neural_net import pad_batch, to_padded

    w_ids, c_ids, f_ids, lengths, lens = pad_batch([xs[i] for i in idx])
    lm_b = None if lm is None else _flat_lm(lm, idx)
    x = to_padded(net.word_inputs(w_ids, c_ids, f_ids, lm_b), lens)
    tags = torch.zeros(x.shape[:2], dtype=torch.long)
    mask = torch.zeros(x.shape[:2], dtype=torch.bool)
    for j, i in enumerate(idx):
        tags[j, : len(ys[i])] = torch.tensor(ys[i])
        mask[j, : len(ys[i])] = True
    if head is not None:
        return head.nll(net.hidden(x, lengths), tags, mask)
    return net.nll(net.emissions(x, lengths), tags, mask)


def lm_vectors(
    charlm: dict[str, Any] | None,
    fx: Any,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 64,
) -> list[Any] | None:
    """Return each sentence's contextual LM vectors (``None`` without language models).

    Args:
        charlm: The language-model bundle, or ``None``.
        fx: A feature extractor (for the tokens' folded forms, as at run time).
        sentences: Token lists.
        batch_size: Sentences run through the models together.
    """
    if charlm is None:
        return None
    from marsad.extractor.ner.charlm import ContextualEmbedder

    embedder = ContextualEmbedder(charlm)
    out: list[Any] = []
    for k in range(0, len(sentences), batch_size):
        batch = [[fx.word(t).folded for t in toks] for toks in sentences[k : k + batch_size]]
        out.extend(embedder.embed(batch))
    return out


def _flat_lm(vectors: Sequence[Any], idx: Sequence[int]) -> Any:
    """Return the LM vectors of sentences ``idx``, token rows in order, as one tensor."""
    import numpy as np
    import torch

    return torch.from_numpy(np.concatenate([vectors[i] for i in idx]))


# What the members of an ensemble must share: the same inputs, read the same way.
_SHARED_KEYS = ("config", "words", "base_of", "chars", "feats")


def ensemble_bundle(bundles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return one bundle holding the networks of ``bundles`` as the members of an ensemble.

    The networks must have been trained on the same inputs (same word
    vectors, vocabularies and sizes; only the seed differs): the word-vector
    table and the vocabularies are stored once, each member adds only its
    own weights (float16, as trained).  The CRF weight is left at 0, to be
    chosen for the ensemble.

    Raises:
        ValueError: When there is no bundle or two bundles' inputs differ.
    """
    import torch

    if not bundles:
        raise ValueError("an ensemble needs at least one network")
    if any("charlm" in b for b in bundles):
        raise ValueError("networks with contextual LM inputs cannot be ensembled (not supported)")
    first = bundles[0]
    members: list[dict[str, Any]] = []
    for k, bundle in enumerate(bundles):
        for key in _SHARED_KEYS:
            if bundle[key] != first[key]:
                raise ValueError(f"network {k} differs from network 0 in {key!r}")
        if not torch.equal(bundle["word_vectors_int8"], first["word_vectors_int8"]):
            raise ValueError(f"network {k} has other word vectors than network 0")
        members.extend(bundle.get("members") or [bundle["state"]])
    return {
        **{key: first[key] for key in _SHARED_KEYS},
        "word_vectors_int8": first["word_vectors_int8"],
        "members": members,
        "crf_weight": 0.0,
    }


def decode(
    net: Any, inputs: Sequence[TokenInputs], batch_size: int = 64, lm: Sequence[Any] | None = None
) -> list[list[int]]:
    """Return the best tag ids of each sentence (no dropout; ``lm``: their LM vectors)."""
    import torch

    from marsad.extractor.ner.neural_net import pad_batch, to_padded, viterbi

    net.eval()
    out: list[list[int]] = []
    with torch.no_grad():
        trans, start = net.masked_crf()
        tr, st, en = trans.numpy(), start.numpy(), net.end.detach().numpy()
        for k in range(0, len(inputs), batch_size):
            batch = [x for x in inputs[k : k + batch_size]]
            w, c, f, lengths, lens = pad_batch(batch)
            lm_b = None if lm is None else _flat_lm(lm, range(k, k + len(batch)))
            em = net.emissions(to_padded(net.word_inputs(w, c, f, lm_b), lens), lengths)
            out.extend(viterbi(em.numpy(), lens, tr, st, en))
    return out
