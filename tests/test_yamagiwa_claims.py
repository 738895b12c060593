"""The norm/variance chapter's judges, prose, figures and exercise, on synthetic statistics (no model needed): the
verdicts follow the numbers, the words follow the verdicts, and a broken number flips a verdict."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tiedemb.book import glue_values
from tiedemb.claims import FAILS, HOLDS, IDENTITY, UNTESTABLE
from tiedemb.exercises import check_sequential_update, solution_sequential_update
from tiedemb.experiments.yamagiwa.norm_variance import (
    PretrainedNVConfig,
    ScratchNVConfig,
    analyse,
    identity_checks,
    judge_pretrained,
    judge_scratch,
    pca_2d,
)
from tiedemb.plotting.yamagiwa.norm_variance import (
    plot_against_frequency,
    plot_depth_compared,
    plot_embedding_matrices,
    plot_ratios,
    plot_regression_by_layer,
    plot_scratch_by_layer,
    plot_scratch_ratios,
    plot_scratch_v_against_m,
    plot_scratch_within_share,
    plot_token_clouds,
    plot_v_against_m,
    plot_within_share,
)
from tiedemb.results import Result
from tiedemb.theory.yamagiwa import streaming_token_stats


def layernormed(seed: int, n: int = 3000, types: int = 60, layers: int = 4, d: int = 16):
    """Clouds of unit-norm-ish vectors (every layer normalised to norm √d): Q is constant, so V = d − M."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.multinomial(1.0 / torch.arange(1, types + 1), n, replacement=True, generator=g)
    centres = torch.randn(layers, types, d, generator=g, dtype=torch.float64)
    spread = torch.linspace(0.3, 3.0, layers)[:, None, None]
    x = centres[:, ids] + spread * torch.randn(layers, n, d, generator=g, dtype=torch.float64)
    x = x / x.norm(dim=2, keepdim=True) * d**0.5
    return ids, x


def minilm_like() -> Result:
    ids, x = layernormed(0)
    stats = streaming_token_stats(ids, x)
    keep = stats.n >= 5
    metrics, arrays = analyse(stats, keep)
    metrics.update(model="synthetic", model_kind="encoder", n_hidden=4, d_model=16, n_sentences=10,
                   n_candidate_sentences=20, n_too_long=0, n_tokens=int(stats.n.sum()), n_types_seen=len(stats.n),
                   identity=identity_checks(ids[:500], x[:, :500], stats), special_tokens=["[CLS]"],
                   special_counts=[10])
    chosen = np.flatnonzero(keep)[:5]
    m2, p2, o2 = pca_2d(stats.mean[2, chosen], x[2, :50].numpy())
    arrays.update(fig1_mean=m2, fig1_cloud=p2, fig1_owner=np.arange(50) % 5, fig1_origin=o2,
                  fig1_logn=np.log10(stats.n[chosen]))
    metrics["fig1_tokens"] = [{"token": f"t{i}", "n": int(stats.n[i]), "Q": float(stats.Q[2, i]),
                               "M": float(stats.M[2, i]), "V": float(stats.V[2, i])} for i in chosen]
    return Result("nv-minilm", PretrainedNVConfig.quick().to_dict(), metrics, judge_pretrained(
        PretrainedNVConfig.quick(), metrics), arrays)


def test_layernormed_clouds_give_slope_minus_one_and_zero_cv():
    r = minilm_like()
    mid = r.metrics["middle"]
    assert mid["slope"] == pytest.approx(-1, abs=1e-9) and mid["r2"] == pytest.approx(1, abs=1e-9)
    assert max(r.metrics["per_layer"]["cv_q"]) < 1e-12
    verdicts = {c.label: c.verdict for c in r.claims}
    assert verdicts == {"Y-E1": IDENTITY, "Y-E2": HOLDS, "Y-E3": HOLDS, "Y-E4": verdicts["Y-E4"]}
    total = np.array(r.metrics["per_layer"]["M_over_Q"]) + r.metrics["per_layer"]["VW_over_Q"] \
        + np.array(r.metrics["per_layer"]["VB_over_Q"])
    np.testing.assert_allclose(total, 1, atol=1e-12)


def test_judges_flip_on_broken_numbers():
    m = copy.deepcopy(minilm_like().metrics)
    cfg = PretrainedNVConfig.quick()
    m["middle"]["slope"] = -0.5
    m["per_layer"]["cv_q"][2] = 0.3
    m["depth"]["rho_M_over_Q"] = -0.2
    m["identity"]["q_minus_m_minus_v"] = 1e-3
    v = {c.label: c.verdict for c in judge_pretrained(cfg, m)}
    assert v == {"Y-E1": FAILS, "Y-E2": FAILS, "Y-E3": FAILS, "Y-E4": FAILS}
    m["model_kind"] = "decoder"  # Y-E2/Y-E3 are about Post-LN encoders
    v = {c.label: c.verdict for c in judge_pretrained(cfg, m)}
    assert v["Y-E2"] == v["Y-E3"] == UNTESTABLE


def scratch_like() -> Result:
    ids, x = layernormed(1)
    post, _ = analyse(streaming_token_stats(ids, x), np.ones(60, bool))
    g = torch.Generator().manual_seed(2)
    raw = x * torch.exp(torch.randn(1, x.shape[1], 1, generator=g, dtype=torch.float64))  # norms vary: no LN
    pre, pre_arrays = analyse(streaming_token_stats(ids, raw), np.ones(60, bool))
    _, post_arrays = analyse(streaming_token_stats(ids, x), np.ones(60, bool))
    emb = {k: {"Q": 1.0, "M": 0.1 * i, "V": 1 - 0.1 * i, "M_over_Q": 0.1 * i, "norm2_slope": 0.1 - 0.05 * i,
               "norm2_r2": 0.5} for i, k in enumerate(("mlm_in", "mlm_out", "lm_untied_in", "lm_untied_out",
                                                        "lm_tied"))}
    metrics = {"models": {"mlm": post, "lm_untied": pre, "lm_tied": pre}, "embeddings": emb,
               "embeddings_n_types": 60, "n_stats_tokens": 3000,
               "training": {"unigram_nats": 5.0, "unigram_ppl": 148.4, "mlm_valid_loss": 4.0, "mlm_valid_acc": 0.3,
                            "lm_valid_ppl": {"untied": 90.0, "tied": 100.0}, "lm_steps": 10, "mlm_steps": 10}}
    arrays = {f"{k}_{a}": v for k, arr in (("mlm", post_arrays), ("lm_untied", pre_arrays), ("lm_tied", pre_arrays))
              for a, v in arr.items()}
    cfg = ScratchNVConfig.quick()
    return Result("nv-scratch", cfg.to_dict(), metrics, judge_scratch(cfg, metrics), arrays)


def test_y_e5_contrast_and_its_precondition():
    r = scratch_like()
    assert r.claim("Y-E5").verdict == HOLDS
    m = copy.deepcopy(r.metrics)
    m["models"]["mlm"], m["models"]["lm_untied"] = m["models"]["lm_untied"], m["models"]["mlm"]
    assert judge_scratch(ScratchNVConfig.quick(), m)[0].verdict == FAILS
    m["training"]["mlm_valid_loss"] = 6.0  # worse than the unigram model: not trained
    assert judge_scratch(ScratchNVConfig.quick(), m)[0].verdict == UNTESTABLE


@pytest.mark.parametrize("make", [minilm_like, scratch_like])
def test_prose_glues_without_shadowing_and_words_follow_numbers(make):
    r = make()
    values = glue_values(r)
    assert all(isinstance(k, str) for k in values)
    if r.name == "nv-minilm":
        assert values["relation"].startswith("a falling line")
        assert values["slope_vs_paper"].startswith("within")
    else:
        assert values["contrast_cv"] == "smaller" and values["contrast_r2"] == "higher"


def test_every_figure_draws():
    a, b = minilm_like(), scratch_like()
    for fn in (plot_token_clouds, plot_v_against_m, plot_regression_by_layer, plot_ratios, plot_within_share,
               plot_against_frequency):
        assert fn(a).axes
    for fn in (plot_scratch_v_against_m, plot_scratch_by_layer, plot_scratch_ratios, plot_scratch_within_share,
               plot_embedding_matrices):
        assert fn(b).axes
    assert plot_depth_compared(a, b).axes


def test_bad_configs_are_clear_errors():
    from tiedemb.config import ConfigError

    with pytest.raises(ConfigError, match="max_count"):
        PretrainedNVConfig(min_count=10, max_count=5)
    with pytest.raises(ConfigError, match="no such folder"):
        PretrainedNVConfig(model_dir="/no/such/folder")
    with pytest.raises(ConfigError, match="n_layers must be at least 2"):
        ScratchNVConfig(n_layers=1)
    with pytest.raises(ConfigError, match="divisible"):
        ScratchNVConfig(d_model=30, n_heads=4)


def test_sequential_update_checker():
    assert check_sequential_update(solution_sequential_update)
    sums = check_sequential_update(lambda k, mu, q, x: (k + 1, mu + x, (k * q + float(x @ x)) / (k + 1)))
    assert not sums and "divide by the count" in repr(sums)
    norms = check_sequential_update(lambda k, mu, q, x: (k + 1, (k * mu + x) / (k + 1),
                                                         (k * q + float(np.sqrt(x @ x))) / (k + 1)))
    assert not norms and "not of ‖x‖" in repr(norms)
    assert not check_sequential_update(lambda k, mu, q, x: 1 / 0)


# ---------------------------------------------------------------------------------------------- the quick results
# (computed once per test run into the shared cache, as `bash dev.sh test` does before the tests)


@pytest.fixture(scope="module")
def quick_results():
    from tiedemb.experiments import run_or_load

    return run_or_load(PretrainedNVConfig.quick()), run_or_load(ScratchNVConfig.quick())


def test_quick_results_identities_and_robust_facts(quick_results):
    minilm, scratch = quick_results
    assert minilm.claim("Y-E1").verdict == IDENTITY
    assert minilm.metrics["n_hidden"] == 7 and minilm.metrics["middle"]["layer"] == 3  # MiniLM: 6 layers, d 384
    assert minilm.metrics["d_model"] == 384 and minilm.metrics["model_kind"] == "encoder"
    assert minilm.metrics["middle"]["slope"] < 0  # far means, tight clouds: the sign is not in doubt
    for m in (minilm.metrics, *scratch.metrics["models"].values()):
        p = m["per_layer"]
        np.testing.assert_allclose(np.array(p["M_over_Q"]) + p["VB_over_Q"] + np.array(p["VW_over_Q"]), 1,
                                   atol=1e-9)
    # Post-LN outputs have a nearly constant Q; the Pre-LN residual stream does not (an order of magnitude apart)
    assert scratch.metrics["models"]["mlm"]["middle"]["cv_q"] * 5 < scratch.metrics["models"]["lm_untied"][
        "middle"]["cv_q"]


def test_quick_verdicts_follow_from_the_stored_metrics(quick_results):
    for r in quick_results:
        assert not r.changed_verdicts
        for c in r.claims:
            assert c.ours.strip() and c.verdict
