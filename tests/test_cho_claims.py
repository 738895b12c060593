"""The token-probability chapter's claims: the verdicts follow the numbers by the stated rules (a broken number flips
a verdict), and the quick-scale results (computed once into the results cache) show the robust facts: the identity,
a fit far above chance, steering that moves probabilities in the asked direction, deletion order that matters, and a
probe that reads nothing at initialisation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from matplotlib.figure import Figure

from tiedemb.book import glue_values
from tiedemb.claims import FAILS, HOLDS, IDENTITY, UNTESTABLE
from tiedemb.experiments import run_or_load
from tiedemb.experiments.cho.token_probability import (
    DeletionConfig,
    DynamicsConfig,
    EncodingConfig,
    SteeringConfig,
    TPEModelsConfig,
    judge_deletion,
    judge_dynamics,
    judge_encoding,
    judge_steering,
)
from tiedemb.plotting import FIGURES


def encoding_metrics(r2=0.9, rho=0.9, cos=0.9, top=0.85):
    main = {"r2_cv": r2, "spearman_cv": rho, "cos_A_neg_hbar": cos, "n_tokens_fit": 1000, "d_model": 64,
            "logit_identity": 0.0, "sparse_k": 8, "r2_cv_top_k": top * r2, "top_k_share_of_A2": 0.5}
    return {"subject": "main", "models": {"main": main}}


def test_encoding_verdicts_follow_the_rules():
    cfg = EncodingConfig.quick()
    v = {c.label: c.verdict for c in judge_encoding(cfg, encoding_metrics())}
    assert v == {"C-D1": IDENTITY, "C-E1": HOLDS, "C-E2": HOLDS, "C-E3": HOLDS}
    v = {c.label: c.verdict for c in judge_encoding(cfg, encoding_metrics(rho=0.5, cos=0.5, top=0.5))}
    assert v["C-E1"] == FAILS and v["C-E2"] == FAILS and v["C-E3"] == FAILS
    # sparsity is not judged where the encoding does not fit
    assert {c.label: c.verdict for c in judge_encoding(cfg, encoding_metrics(r2=0.3))}["C-E3"] == UNTESTABLE
    broken = encoding_metrics()
    broken["models"]["main"]["logit_identity"] = 0.1
    assert {c.label: c.verdict for c in judge_encoding(cfg, broken)}["C-D1"] == FAILS


def test_steering_deletion_dynamics_verdicts_follow_the_rules():
    texts = {k: {"worst_median_factor": 1.2, "median_abs_log_error": 0.1} for k in ("estimation", "held_out", "ood")}
    m = {"texts": texts, "r2_cv": 0.9, "tokens": ["a"] * 4, "subject": "main", "steer_k": 4, "d_model": 16}
    assert judge_steering(SteeringConfig.quick(), m)[0].verdict == HOLDS
    m2 = copy.deepcopy(m)
    m2["texts"]["ood"]["worst_median_factor"] = 2.0
    assert judge_steering(SteeringConfig.quick(), m2)[0].verdict == FAILS
    m2["r2_cv"] = 0.1
    assert judge_steering(SteeringConfig.quick(), m2)[0].verdict == UNTESTABLE

    orders = {k: {"deletable_fraction": f} for k, f in (("increasing", 0.4), ("random", 0.1), ("decreasing", 0.0))}
    d = {"subject": "main", "orders": orders,
         "at_paper_fraction": {"fraction": 0.3, "increasing": 0.001, "random": 0.05, "decreasing": 0.2}}
    assert judge_deletion(DeletionConfig.quick(), d)[0].verdict == HOLDS
    d["orders"]["increasing"]["deletable_fraction"] = 0.2
    assert judge_deletion(DeletionConfig.quick(), d)[0].verdict == FAILS

    widths = {str(w): {"r2_final": 0.8, "r2_step0": 0.0, "early_step": 64, "mean_ahead_at_early": 0.8,
                       "valid_ppl": 80.0} for w in (16, 32, 64)}
    dyn = {"widths": widths, "unigram_ppl": 100.0, "steps": [0, 64, 600]}
    assert judge_dynamics(DynamicsConfig.quick(), dyn)[0].verdict == HOLDS
    user = {"widths": {"512": widths["64"]}, "unigram_ppl": 100.0, "steps": [1, 64, 600], "subject": "pythia-70m"}
    [claim] = judge_dynamics(DynamicsConfig.quick(), user)  # a user's checkpoints: one "width", the same rule
    assert claim.verdict == HOLDS and "for pythia-70m" in claim.paper and "(step 1:" in claim.ours
    dyn["widths"]["32"]["mean_ahead_at_early"] = 0.1
    assert judge_dynamics(DynamicsConfig.quick(), dyn)[0].verdict == FAILS
    dyn["widths"]["16"]["valid_ppl"] = 120.0
    assert judge_dynamics(DynamicsConfig.quick(), dyn)[0].verdict == UNTESTABLE


@pytest.fixture(scope="module")
def results():
    return {c.name: run_or_load(c) for c in (TPEModelsConfig.quick(), EncodingConfig.quick(), SteeringConfig.quick(),
                                                DeletionConfig.quick(), DynamicsConfig.quick())}


def test_quick_encoding(results):
    r = results["tpe-encoding"]
    assert r.claim("C-D1").verdict == IDENTITY
    for key in ("main", "tied", "bias"):  # far above what a held-out regression on noise gives (≈ 0)
        assert r.metrics["models"][key]["r2_cv"] > 0.5
    top, rand = r.arrays["sparsity_top"], r.arrays["sparsity_random"]
    assert top[-1] == pytest.approx(rand[-1]) and np.all(top[:-1] >= rand[:-1] - 0.05)


def test_quick_steering_moves_probabilities_the_asked_way(results):
    r = results["tpe-steering"]
    ratios = r.arrays["ratios"]
    for text in ("estimation", "held_out", "ood"):
        med = np.median(r.arrays[f"achieved.{text}"], axis=0)
        assert np.all(np.diff(med) > 0)  # a larger target gives a larger achieved ratio
        assert med[list(ratios).index(1.0)] == pytest.approx(1.0)
        assert med[0] < 0.5 and med[-1] > 5


def test_quick_deletion_order_matters(results):
    at = results["tpe-deletion"].metrics["at_paper_fraction"]
    assert at["increasing"] < at["decreasing"]


def test_quick_dynamics_probe_reads_what_training_wrote(results):
    for w in results["tpe-dynamics"].metrics["widths"].values():
        assert abs(w["r2_step0"]) < 0.15 and w["r2_final"] > 0.4 and w["r2_shuffled_final"] < 0.1


def test_prose_and_figures(results):
    for r in results.values():
        values = glue_values(r)  # prose keys never shadow metrics
        assert all(f"verdict.{c.label}" in values for c in r.claims)
        for fn in FIGURES.get(r.name, []):
            assert isinstance(fn(r), Figure)
