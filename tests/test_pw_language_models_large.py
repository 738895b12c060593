"""The paper's large language model (Press & Wolf 2017, Table 5; Zaremba et al.'s large configuration): its
hyper-parameters against the paper's, the paper-scale configuration started for a few steps, the CLI's --size, and
exact resume of a checkpointed run with dropout."""

# ruff: noqa: I001
import tiedemb  # noqa: F401 - first: pins the CPU code paths
import math

import numpy as np
import pytest
import torch

from tiedemb.cache import produce_command
from tiedemb.cli import main
from tiedemb.claims import FAILS, HOLDS, IDENTITY, UNTESTABLE
from tiedemb.config import ConfigError
from tiedemb.data.corpus import load_corpus
from tiedemb.experiments import compute
from tiedemb.experiments.press_wolf.language_models import (
    PAPER_SHAPES,
    LMConfig,
    LMTask,
    build_models,
    train_variants,
)
from tiedemb.plotting import save_figures
from tiedemb.train.loop import Stop, fit

# The authors' LargeConfig (ptb_word_lm_WT.py; Zaremba et al.'s large model), in the paper's own units: the TF code
# sums the cross-entropy over the BPTT steps, so its lr and clip norm apply to a step-summed loss.
PAPER_LARGE = {
    "vocab_size": 10_000,
    "d_model": 1_500,  # hidden size = embedding size
    "n_layers": 2,
    "batch_size": 20,
    "bptt": 35,
    "init_range": 0.04,  # U(-0.04, 0.04)
    "dropout": 0.65,  # keep_prob 0.35 on the non-recurrent connections
    "lr": 1.0,
    "clip": 10.0,  # global norm
    "epochs": 55,
    "last_undecayed_epoch": 14,  # lr ÷ 1.15 per epoch after epoch 14
    "decay_per_epoch": 1 / 1.15,
    "variants": ("untied", "tied"),  # Table 5 reports untied and WT
}


def test_large_config_is_the_papers():
    cfg = LMConfig.paper(size="large")
    ours = {
        "vocab_size": cfg.vocab_size, "d_model": cfg.d_model, "n_layers": cfg.n_layers, "batch_size": cfg.batch_size,
        "bptt": cfg.bptt, "init_range": cfg.init_range, "dropout": cfg.dropout, "lr": cfg.lr, "clip": cfg.clip,
        "epochs": cfg.epochs, "last_undecayed_epoch": cfg.decay_start - 1, "decay_per_epoch": cfg.lr_decay,
        "variants": cfg.variants,
    }
    assert ours.keys() == PAPER_LARGE.keys()
    for key, value in PAPER_LARGE.items():
        assert ours[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    assert PAPER_SHAPES["large"] == (cfg.vocab_size, cfg.d_model, cfg.n_layers)
    assert cfg.scale == "paper" and cfg.train_tokens == 0 and cfg.eval_tokens == 0  # the whole text
    assert cfg.checkpoint_every > 0  # a 55-epoch run must survive a kill


def test_large_schedule_in_our_units():
    # Our loss is a per-token mean: the authors' lr 1 and clip 10 on a loss summed over 35 steps are lr 35 and clip
    # 10/35 here (the same updates); the lr is constant through epoch 14, then divided by 1.15 every epoch.
    cfg = LMConfig.paper(size="large")
    spe = 100
    spec = cfg.optim(spe)
    assert spec.optimizer == "sgd" and spec.lr == 35.0 and math.isclose(spec.clip, 10 / 35)
    lr_of_epoch = {e: spec.lr_at((e - 1) * spe) for e in (1, 14, 15, 16, 55)}
    assert lr_of_epoch[1] == lr_of_epoch[14] == 35.0
    assert lr_of_epoch[15] == pytest.approx(35.0 / 1.15)
    assert lr_of_epoch[16] == pytest.approx(35.0 / 1.15**2)
    assert lr_of_epoch[55] == pytest.approx(35.0 / 1.15**41)
    assert spec.lr_at(15 * spe - 1) == lr_of_epoch[15]  # the whole 15th epoch at one rate


def test_size_is_validated():
    with pytest.raises(ConfigError, match=r"size must be one of 'small', 'large'; got 'medium'"):
        LMConfig.quick().replace(size="medium")
    with pytest.raises(ConfigError, match="size"):
        LMConfig.paper(size="huge")
    assert LMConfig.paper().size == "small" and LMConfig.paper().variants == ("untied", "tied", "pr", "tied_pr")


def test_large_paper_configuration_starts():
    # The real LargeConfig: V = 10,000 (the Wikipedia sample's vocabulary at the paper's size), 2 × 1,500, batch
    # 20 × BPTT 35, dropout 0.65, untied and WT side by side. Two updates of the real training, then stopped as if
    # killed.
    cfg = LMConfig.paper(size="large")
    corpus = load_corpus(cfg.source, vocab_size=cfg.vocab_size, seed=cfg.split_seed)
    assert corpus.vocab_size == PAPER_LARGE["vocab_size"]
    models = build_models(cfg, 0, corpus.vocab_size)
    assert tuple(models) == PAPER_LARGE["variants"]
    untied, tied = models["untied"], models["tied"]
    assert tied.emb_out.weight is tied.emb_in.weight and untied.emb_out.weight is not untied.emb_in.weight
    assert untied.lstm.hidden_size == 1_500 and untied.lstm.num_layers == 2 and untied.lstm.dropout == 0.65
    assert untied.drop.p == 0.65
    assert float(untied.emb_in.weight.detach().abs().max()) <= 0.04
    task = LMTask(corpus.train, corpus.valid[: cfg.batch_size * (cfg.bptt + 2)], cfg)
    assert task.steps == 55 * task.steps_per_epoch and task.window(0)[0].shape == (20, 35)
    with pytest.raises(Stop):
        fit(models, task, steps=task.steps, optim=cfg.optim(task.steps_per_epoch), stop_after=2)
    for v in PAPER_LARGE["variants"]:
        losses = task.losses[v]
        assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
        assert losses[0] == pytest.approx(math.log(10_000), rel=0.01)  # U(±0.04): about uniform at the start
    assert all(torch.isfinite(p).all() for p in models.parameters())


def test_cli_size(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "pw-lm", "--size", "large", "--out", str(out)]) == 2
    assert "--scale paper" in capsys.readouterr().err
    assert main(["run", "pw-lm", "--scale", "paper", "--size", "medium", "--out", str(out)]) == 2
    assert "--size must be one of small, large" in capsys.readouterr().err
    assert main(["run", "grad-check", "--size", "large", "--out", str(out)]) == 2
    assert "--size applies to" in capsys.readouterr().err
    assert main(["run", "--all", "--size", "large"]) == 2
    assert not out.exists()
    assert produce_command(LMConfig.paper(size="large")) == "python -m tiedemb run pw-lm --scale paper --size large"
    assert produce_command(LMConfig.paper()) == "python -m tiedemb run pw-lm --scale paper"


TINY_LARGE = dict(size="large", d_model=8, batch_size=4, bptt=5, epochs=2, decay_start=2, dropout=0.5,
                  init_range=0.04, clip=10.0, n_pairs=200)


def test_killed_large_run_resumes_to_identical_numbers(tmp_cache):
    # Dropout draws from torch's generator: the checkpoint keeps its state, so the resumed run draws the masks of the
    # uninterrupted one and ends with exactly its numbers.
    cfg = LMConfig(**TINY_LARGE, checkpoint_every=3)
    rng = np.random.default_rng(0)
    train, valid, test = (rng.integers(0, 40, n) for n in (400, 100, 100))
    full = train_variants(cfg, 0, 40, train, valid, test)
    with pytest.raises(Stop):
        train_variants(cfg, 0, 40, train, valid, test, stop_after=7)
    torch.manual_seed(12345)  # another process: the generator is wherever it is
    resumed = train_variants(cfg, 0, 40, train, valid, test)
    for v in ("untied", "tied"):
        np.testing.assert_array_equal(resumed["loss"][v], full["loss"][v])
        np.testing.assert_array_equal(resumed["curve"][v], full["curve"][v])
        assert resumed["valid_ppl"][v] == full["valid_ppl"][v] and resumed["test_ppl"][v] == full["test_ppl"][v]


def test_tiny_large_run_end_to_end(tmp_cache, tmp_path):
    r = compute(LMConfig(**TINY_LARGE, vocab_size=300, train_tokens=4000, eval_tokens=1000))
    claims = {c.label: c for c in r.claims}
    assert set(claims) == {"PW-E8", "PW-E6"} and claims["PW-E6"].verdict == IDENTITY
    m = r.metrics
    assert set(m["valid_ppl"]) == {"untied", "tied"} and set(r.arrays) == {"curve_untied", "curve_tied", "loss_untied",
                                                                            "loss_tied"}
    rule = m["valid_ppl"]["tied"] < m["valid_ppl"]["untied"] and m["test_ppl"]["tied"] < m["test_ppl"]["untied"]
    learned = m["valid_ppl"]["untied"] < m["unigram_ppl"]
    assert claims["PW-E8"].verdict == (UNTESTABLE if not learned else HOLDS if rule else FAILS)
    assert save_figures(r, tmp_path / "figs")


def test_large_model_speed_reads_the_committed_benchmark(tmp_path):
    import json

    from tiedemb.book import LARGE_SPEED_FILE
    from tiedemb.book.press_wolf.language_models import large_model_speed

    with pytest.raises(FileNotFoundError, match="bench_pw_large.py"):
        large_model_speed(tmp_path / "none.json")
    data = json.loads(LARGE_SPEED_FILE.read_text(encoding="utf8"))
    # the committed table is consistent with itself: tokens/s, utilisation and hours follow from the step times
    tokens_per_step = data["shape"]["batch_size"] * data["shape"]["bptt"]
    for row in data["variants"].values():
        assert row["step_s"] == min(row["step_s_all"])
        assert row["tokens_per_s"] == pytest.approx(tokens_per_step / row["step_s"])
        assert row["mfu"] == pytest.approx(row["model_flops_per_step"] / row["step_s"] / (data["matmul_gflops"] * 1e9))
    flops = 3 * tokens_per_step * (2 * 2 * 4 * 1_500 * 3_000 + 2 * 1_500 * 10_000)  # = 6 × 51.0M × tokens
    assert flops == 6 * (2 * 4 * 1_500 * 3_000 + 1_500 * 10_000) * tokens_per_step
    assert all(row["model_flops_per_step"] == flops for row in data["variants"].values())
    per_token = sum(1 / r["tokens_per_s"] for r in data["variants"].values())
    assert data["estimated_hours"]["ptb"] == pytest.approx(55 * 929_000 * per_token / 3600)
    words = large_model_speed()
    assert words["large_hours"] == f"{data['estimated_hours']['wikipedia']:,.0f}" and words["large_epochs"] == "55"
