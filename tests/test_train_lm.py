"""Training of the gradient chapter's language models through the one loop: the update is exactly plain SGD with
Zaremba's schedule and per-model clipping, and a killed run resumes from its checkpoint with identical numbers."""

import numpy as np
import pytest
import torch
from torch import nn

from tiedemb.config import ConfigError
from tiedemb.data.synthetic import CorpusSpec, generate
from tiedemb.experiments.press_wolf.gradients import UpdateRuleConfig, train_pair
from tiedemb.metrics.embeddings import random_pairs
from tiedemb.models import LSTMLanguageModel
from tiedemb.seeding import numpy_rng, seed_everything
from tiedemb.train.lm import batchify, lm_cross_entropy, perplexity, windows
from tiedemb.train.loop import CheckpointMismatch

TINY = UpdateRuleConfig(n_groups=3, concepts_per_group=2, words_per_concept=2, train_tokens=2000, valid_tokens=400,
                        d_model=8, n_layers=1, batch_size=4, bptt=5, epochs=2, decay_start=2, snapshots=4, n_pairs=30,
                        checkpoint_every=30)


@pytest.fixture(scope="module")
def data():
    spec = CorpusSpec(TINY.n_groups, TINY.concepts_per_group, TINY.words_per_concept)
    corpus = generate(spec, TINY.train_tokens, TINY.valid_tokens, numpy_rng(0, 0))
    return corpus, random_pairs(TINY.vocab_size, TINY.n_pairs, numpy_rng(0, 3))


def _assert_same_run(a: dict, b: dict) -> None:
    for key in ("loss", "update_fraction", "displacement", "snapshots"):
        for k in a[key]:
            np.testing.assert_array_equal(a[key][k], b[key][k], err_msg=f"{key}.{k}")
    assert a["valid_ppl"] == b["valid_ppl"]
    assert a["p_input_word"] == b["p_input_word"]


def test_killed_run_resumes_with_identical_numbers(data, tmp_path):
    corpus, pairs = data
    full = train_pair(TINY, 0, corpus, pairs)
    ck = tmp_path / "ck.pt"
    assert train_pair(TINY, 0, corpus, pairs, checkpoint=ck, stop_after=75) is None  # killed after 75 of 200 steps
    assert ck.is_file()  # the checkpoint of step 60, with the snapshot of step 50 in its records
    resumed = train_pair(TINY, 0, corpus, pairs, checkpoint=ck)
    assert resumed["resumed_from"] == 60 and full["resumed_from"] == 0
    assert not ck.exists()  # removed once the run is complete
    assert len(full["snapshots"]["step"]) == TINY.snapshots + 1
    _assert_same_run(full, resumed)


def test_a_checkpoint_of_another_seed_is_refused(data, tmp_path):
    corpus, pairs = data
    ck = tmp_path / "ck.pt"
    train_pair(TINY, 0, corpus, pairs, checkpoint=ck, stop_after=40)
    with pytest.raises(CheckpointMismatch):
        train_pair(TINY, 1, corpus, pairs, checkpoint=ck)


def test_update_is_plain_sgd_with_zaremba_schedule_and_per_model_clipping(data):
    """The same training written out by hand (the update of the authors' code): bit-identical losses."""
    corpus, pairs = data
    cfg = TINY.replace(epochs=3, lr=5.0, clip=0.5, checkpoint_every=0)  # lr decayed twice; clipping active
    trained = train_pair(cfg, 3, corpus, pairs)
    models = {}
    for tied in (False, True):
        seed_everything(3)
        models["tied" if tied else "untied"] = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=tied)
    losses = {k: [] for k in models}
    ws = list(windows(batchify(corpus.train, cfg.batch_size), cfg.bptt))
    for epoch in range(1, cfg.epochs + 1):
        lr = cfg.lr * cfg.lr_decay ** max(0, epoch - cfg.decay_start + 1)
        for x, y in ws:
            for name, model in models.items():
                model.zero_grad(set_to_none=True)
                loss = lm_cross_entropy(model, x, y)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                with torch.no_grad():
                    for p in model.parameters():
                        p.add_(p.grad, alpha=-lr)
                losses[name].append(loss.item())
    for name, model in models.items():
        np.testing.assert_array_equal(trained["loss"][name], losses[name], err_msg=name)
        assert trained["valid_ppl"][name] == perplexity(model, corpus.valid, cfg.batch_size, cfg.bptt)


def test_config_rejects_what_the_corpus_cannot_make():
    with pytest.raises(ConfigError, match="n_groups must be at least 3"):
        UpdateRuleConfig(n_groups=2)


def test_checkpoint_every_must_be_a_count():
    with pytest.raises(ConfigError, match="checkpoint_every"):
        UpdateRuleConfig(checkpoint_every=-1)
    with pytest.raises(ConfigError, match="checkpoint_every"):
        UpdateRuleConfig(checkpoint_every=1.5)
