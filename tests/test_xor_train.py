"""The batched trainer: exact per run, deterministic, resumable, and the configs validate."""

import numpy as np
import pytest

from tiedemb.config import ConfigError
from tiedemb.data.xor import XorLanguage
from tiedemb.experiments.bertolotti.xor import CONFIGS, OtherBodiesConfig
from tiedemb.metrics.embeddings import row_distances
from tiedemb.models.xor import BodySpec
from tiedemb.train.xor import TrainSpec, train_reference, train_xor

LANG = XorLanguage.setting("main", 5)
SPEC = TrainSpec(steps=8, lr=1e-2, weight_decay=0.1, t_max=6, eta_min=1e-5, eval_every=4, record_every=1)
BODIES = [BodySpec("transformer", 8, 1, 1, 32), BodySpec("lstm", 8, 2, hidden=16),
          BodySpec("mixer", 8, 2, d_ff=32, token_ff=16)]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: b.arch)
def test_batched_training_equals_separate_training(body):
    """Each run of the ensemble follows, to float tolerance, the same run trained alone with a plain nn.Module."""
    out = train_xor(LANG, body, (5, 6, 7), SPEC, distances=row_distances)
    for tied in (False, True):
        v = "tied" if tied else "untied"
        ref = train_reference(LANG, body, 6, SPEC, tied=tied)
        np.testing.assert_allclose(out[f"loss_{v}"][1], ref["loss"], atol=1e-5, rtol=1e-5)
        final_in = np.linalg.norm(ref["emb_in"][:, None] - ref["emb_in"][None], axis=-1)
        np.testing.assert_allclose(out[f"dist_in_{v}"][1, -1], final_in, atol=1e-5, rtol=1e-5)
    alone = train_xor(LANG, body, (6,), SPEC, distances=row_distances)
    for k in ("loss_untied", "loss_tied", "dist_out_untied"):
        np.testing.assert_allclose(out[k][1], alone[k][0], atol=1e-5, rtol=1e-5)


def test_same_seed_same_numbers():
    a = train_xor(LANG, BODIES[0], (1, 2), SPEC, distances=row_distances)
    b = train_xor(LANG, BODIES[0], (1, 2), SPEC, distances=row_distances)
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("body", BODIES, ids=lambda b: b.arch)
def test_killed_run_resumes_to_identical_numbers(body, tmp_path):
    spec = TrainSpec(steps=16, lr=1e-2, weight_decay=0.1, t_max=10, eta_min=1e-5, eval_every=5, record_every=3,
                     checkpoint_every=5)
    full = train_xor(LANG, body, (1, 2), spec, distances=row_distances)
    ck = tmp_path / "run.pt"
    # "killed" at step 12: the checkpoint of step 10 is on disk
    assert train_xor(LANG, body, (1, 2), spec, distances=row_distances, checkpoint=ck, stop_after=12) is None
    assert ck.is_file()
    with pytest.raises(ValueError, match="another configuration"):
        train_xor(LANG, body, (1, 3), spec, distances=row_distances, checkpoint=ck)
    resumed = train_xor(LANG, body, (1, 2), spec, distances=row_distances, checkpoint=ck)  # resumes from step 10
    assert not ck.exists(), "a finished run removes its checkpoint"
    assert sorted(full) == sorted(resumed)
    for k in full:
        assert np.array_equal(full[k], resumed[k]), k


def test_quick_and_paper_configs():
    assert len(CONFIGS) == 9
    small = CONFIGS["xor-transformer-small"].paper()
    assert (small.n_bits, small.d_model, small.d_ff, small.lr, small.weight_decay, small.eps) == \
        (7, 4, 4, 5e-4, 0.1, 1e-12)
    assert (small.steps, small.t_max, small.eta_min, small.seeds) == (150_000, 10_000, 1e-5, (42, 43, 44, 45, 46))
    assert small.checkpoint_every > 0
    assert CONFIGS["xor-transformer-medium"].paper().lr == 1e-4
    assert CONFIGS["xor-transformer-ndh"].quick().setting == "ndh"
    for cls in CONFIGS.values():  # quick scale is a cut-down run of the same kind, never longer than the paper's
        quick, paper = cls.quick(), cls.paper()
        assert quick.setting == paper.setting and quick.arch == paper.arch
        assert quick.steps < paper.steps and quick.checkpoint_every == 0


def test_bad_configs_raise_clear_errors():
    cls = CONFIGS["xor-transformer-small"]
    with pytest.raises(ConfigError, match="setting must be one of 'main', 'ndh', 'ydh'"):
        cls.quick().replace(setting="xdh")
    with pytest.raises(ConfigError, match="arch must be one of 'transformer', 'lstm', 'mixer'"):
        cls.quick().replace(arch="gru")
    with pytest.raises(ConfigError, match="steps must be a positive integer, got 0"):
        cls.quick().replace(steps=0)
    with pytest.raises(ConfigError, match="weight_decay must be a number >= 0"):
        cls.quick().replace(weight_decay=-0.1)
    with pytest.raises(ConfigError, match="eta_min"):
        cls.quick().replace(eta_min=1.0)
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        cls.quick().replace(seeds=(1,))
    with pytest.raises(ConfigError, match="checkpoint_every"):
        cls.quick().replace(checkpoint_every=-5)
    with pytest.raises(ConfigError, match="configs must be one of"):
        OtherBodiesConfig.quick().replace(configs=("xor-transformer-small",))
    with pytest.raises(ConfigError, match="configs must name at least one configuration of xor-lstm-small"):
        OtherBodiesConfig.quick().replace(configs=())


def test_each_seed_has_its_own_stream_shared_by_its_tied_and_untied_runs():
    """Every seed's runs read one batch of their own per step; the untied and tied runs of a seed read the same."""
    import torch

    from tiedemb.train.xor import XorTask, stream_seed

    seen = []

    class Capture(torch.nn.Module):
        def forward(self, tokens, pos):
            seen.append((tokens.clone(), pos.clone()))
            return torch.zeros(tokens.shape[0], tokens.shape[1], LANG.vocab_size, requires_grad=True)

    task = XorTask(LANG, SPEC, (5, 6), (False, True), {False: slice(0, 2), True: slice(2, 4)}, row_distances)
    task.loss(Capture(), 0)
    tokens, pos = seen[0]
    assert tokens.shape[0] == 4 and pos.shape[0] == 4
    assert torch.equal(tokens[0], tokens[2]) and torch.equal(tokens[1], tokens[3])  # seed 5 untied/tied, seed 6
    assert not torch.equal(tokens[0], tokens[1]), "two seeds share a stream"
    inputs, _, p = LANG.sample("train", torch.Generator().manual_seed(stream_seed(SPEC.data_seed, 6)))
    assert torch.equal(tokens[1], inputs) and torch.equal(pos[1], p)
    assert len({stream_seed(14, s) for s in range(100)} | {stream_seed(15, 0)}) == 101
