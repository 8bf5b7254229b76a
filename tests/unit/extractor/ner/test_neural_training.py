"""Multi-task training of the neural tagger: the Wojood auxiliary corpus and head.

The tiny networks here (60 ANERcorp and 30 Wojood sentences, two epochs)
check the plumbing, not quality.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marsad.extractor.ner.corpus import VALID_TYPES, repair_iob, spans_of
from marsad.extractor.ner.neural_inputs import indicator_strings
from marsad.extractor.ner.neural_training import (
    WOJOOD_AUX_TYPES,
    AuxCorpus,
    iob_tag_set,
    read_wojood_pair,
    wojood_aux,
)

torch = pytest.importorskip("torch")


def _wojood_files(shared: Path) -> list[Path]:
    return [shared / "data" / "wojood" / f for f in ("train.txt", "val.txt")]


def test_iob_tag_set_puts_o_first_then_b_i_per_type() -> None:
    assert iob_tag_set(["PERS", "GPE"]) == ("O", "B-PERS", "I-PERS", "B-GPE", "I-GPE")


def test_wojood_pair_reads_the_same_sentences_twice(shared: Path) -> None:
    native, mapped = read_wojood_pair(_wojood_files(shared))
    assert [t for t, _ in native] == [t for t, _ in mapped]
    tag_set = set(iob_tag_set(WOJOOD_AUX_TYPES))
    for _, tags in native:
        assert set(tags) <= tag_set
        assert repair_iob(tags) == tags  # valid IOB2
    native_types = {t for _, tags in native for (_, _, t) in spans_of(tags)}
    assert {"GPE", "NORP", "OCC", "ORG", "PERS"} <= native_types
    assert {t for _, tags in mapped for (_, _, t) in spans_of(tags)} <= VALID_TYPES


def test_wojood_indicators_hide_each_folds_own_names(shared: Path) -> None:
    from marsad.extractor.ner.clusters import load_clusters
    from marsad.extractor.ner.features import FeatureExtractor
    from marsad.extractor.ner.text import fold
    from marsad.extractor.ner.training import add_labelled_names, build_gazetteer, load_splits

    train, _ = load_splits(shared)
    aux = wojood_aux(shared, train, folds=5)
    native, mapped = read_wojood_pair(_wojood_files(shared))
    assert [t for t, _ in aux.sentences] == [t for t, _ in native]
    base = add_labelled_names(build_gazetteer(shared, wojood=False), train)
    full_fx = FeatureExtractor(add_labelled_names(build_gazetteer(shared), train), load_clusters())
    n = len(mapped)
    fold_of = [k for k in range(5) for _ in range(n * k // 5, n * (k + 1) // 5)]
    names_in: list[set[tuple[str, ...]]] = [set() for _ in range(5)]
    for i, (toks, tags) in enumerate(mapped):
        for s, e, _ in spans_of(tags):
            names_in[fold_of[i]].add(tuple(toks[s:e]))
    # Names only their own fold knows (and no other list): a full-gazetteer
    # featurisation sees them, the jackknifed one must not.
    seen_full = seen_aux = 0
    for i, (toks, tags) in enumerate(mapped):
        for s, e, etype in spans_of(tags):
            name = tuple(toks[s:e])
            if etype == "MISC" or e - s > 6:
                continue
            if any(name in names_in[k] for k in range(5) if k != fold_of[i]):
                continue
            if f"B-{etype}" in base.match([fold(t) for t in name])[0]:
                continue
            seen_full += f"gz=B-{etype}" in indicator_strings(full_fx, toks)[s]
            seen_aux += f"gz=B-{etype}" in aux.indicators[i][s]
    assert seen_full >= 50
    assert seen_aux < seen_full / 4


def _train(shared: Path, vectors: Path, aux: AuxCorpus | None) -> tuple[dict[str, Any], Any]:
    from marsad.extractor.ner.lexicon import load_gazetteer
    from marsad.extractor.ner.neural_training import NeuralTrainConfig, train_neural
    from marsad.extractor.ner.training import build_gazetteer, load_splits

    train, dev = load_splits(shared)
    config = NeuralTrainConfig(epochs=2, hidden=16, keep_words=500)
    return train_neural(
        train[:60], dev[:40], build_gazetteer(shared), load_gazetteer(), vectors, config, aux=aux
    )


@pytest.fixture(scope="module")
def tiny(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny networks without and with the Wojood head (weights 1 and 0.5), and their inputs."""
    from marsad.extractor.ner.embeddings import build_vectors, iter_texts, save_vectors
    from marsad.extractor.ner.training import load_splits

    train, _ = load_splits(shared)
    out = tmp_path_factory.mktemp("mt")
    texts = iter_texts(shared / "data" / "ant" / "articles.jsonl.gz", limit=300)
    words, vec, base_of, _ = build_vectors(texts, [t for t, _ in train[:60]], dims=16)
    save_vectors(out / "v.npz", words, vec, base_of)
    full = wojood_aux(shared, train)
    aux = AuxCorpus(full.sentences[:30], full.indicators[:30], full.tags, 1.0)
    half = AuxCorpus(aux.sentences, aux.indicators, aux.tags, 0.5)
    single, single_report = _train(shared, out / "v.npz", None)
    multi, report = _train(shared, out / "v.npz", aux)
    multi_half, half_report = _train(shared, out / "v.npz", half)
    torch.save(multi, out / "mt.pt")
    return {
        "single": single,
        "multi": multi,
        "multi_half": multi_half,
        "report": report,
        "reports": [single_report, report, half_report],
        "path": out / "mt.pt",
        "aux": aux,
    }


def test_multi_task_bundle_is_a_single_head_bundle(tiny: dict[str, Any]) -> None:
    single, multi = tiny["single"], tiny["multi"]
    assert set(multi) == set(single)
    assert multi["config"] == single["config"]
    assert multi["words"] == single["words"] and multi["feats"] == single["feats"]
    assert set(multi["state"]) == set(single["state"])
    for name, value in single["state"].items():
        assert multi["state"][name].shape == value.shape, name
    assert tiny["report"]["aux_sentences"] == 30
    assert all("aux_loss" in row for row in tiny["report"]["history"])


def test_the_auxiliary_loss_trains_the_shared_encoder(tiny: dict[str, Any]) -> None:
    single, multi = tiny["single"], tiny["multi"]
    name = "lstm.weight_ih_l0"
    assert not torch.equal(single["state"][name], multi["state"][name])
    # Its weight matters: the ANERcorp losses during training differ (float32;
    # the stored float16 weights of two epochs of Adam may round alike).
    losses = [[row["loss"] for row in r["history"]] for r in tiny["reports"]]
    assert losses[0] != losses[1] and losses[1] != losses[2] and losses[0] != losses[2]
    aux_losses = [[row["aux_loss"] for row in r["history"]] for r in tiny["reports"][1:]]
    assert aux_losses[0] != aux_losses[1]


def test_the_auxiliary_head_reaches_the_encoder_but_not_the_anercorp_head(
    tiny: dict[str, Any],
) -> None:
    from marsad.extractor.ner.neural import NeuralRecogniser
    from marsad.extractor.ner.neural_inputs import InputEncoder
    from marsad.extractor.ner.neural_net import AuxHead
    from marsad.extractor.ner.neural_training import batch_loss

    rec = NeuralRecogniser(tiny["path"], crf_weight=0.0)
    net = rec._nets[0]
    aux = tiny["aux"]
    tag_id = {t: i for i, t in enumerate(aux.tags)}
    encoder = InputEncoder(rec._fx, rec._word_ids, rec._base_of, rec._char_ids, rec._feat_ids)
    xs = [encoder.encode(toks) for toks, _ in aux.sentences[:8]]
    ys = [[tag_id[t] for t in tags] for _, tags in aux.sentences[:8]]
    head = AuxHead(2 * net.cfg.hidden, aux.tags)
    net.train()
    for p in net.parameters():
        p.grad = None
    loss = batch_loss(net, xs, ys, range(8), head=head)
    assert float(loss.detach()) > 0
    loss.backward()
    assert net.lstm.weight_ih_l0.grad is not None
    assert float(net.lstm.weight_ih_l0.grad.abs().sum()) > 0
    assert head.out.weight.grad is not None and float(head.out.weight.grad.abs().sum()) > 0
    for name in ("out.weight", "trans", "start", "end"):
        assert dict(net.named_parameters())[name].grad is None, name
    net.eval()


def test_multi_task_bundle_tags_like_the_training_path(
    tiny: dict[str, Any], shared: Path
) -> None:
    from marsad.extractor.ner.neural import NeuralRecogniser
    from marsad.extractor.ner.neural_inputs import TAGS, InputEncoder
    from marsad.extractor.ner.neural_training import decode
    from marsad.extractor.ner.training import load_splits

    _, dev = load_splits(shared)
    sents = [toks for toks, _ in dev[:30]]
    rec = NeuralRecogniser(tiny["path"], crf_weight=0.0)
    enc = InputEncoder(rec._fx, rec._word_ids, rec._base_of, rec._char_ids, rec._feat_ids)
    expected = decode(rec._nets[0], [enc.encode(s) for s in sents])
    assert rec.tag_many(sents) == [[TAGS[i] for i in p] for p in expected]
