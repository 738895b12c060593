"""One test per claim of the gradient chapter, on the quick-scale result (computed once, shared via the cache)."""

import pytest

from tiedemb.experiments import run_or_load
from tiedemb.experiments.press_wolf.gradients import GradCheckConfig, UpdateRuleConfig


@pytest.fixture(scope="module")
def check():
    return run_or_load(GradCheckConfig.quick())


@pytest.fixture(scope="module")
def update():
    return run_or_load(UpdateRuleConfig.quick())


@pytest.mark.parametrize("label", ["PW-T1", "PW-T2", "PW-T3", "PW-E5"])
def test_grad_check_claims_hold(check, label):
    assert check.claim(label).verdict == "holds", check.claim(label).ours


def test_grad_check_covers_both_architectures(check):
    assert set(check.metrics["per_arch"]) == {"lstm", "transformer"}
    assert all(m["gradcheck"] for m in check.metrics["per_arch"].values())


def test_pw_t4_extra_term_is_small(update):
    assert update.claim("PW-T4").verdict == "holds", update.claim("PW-T4").ours
    assert update.metrics["p_input_word"] < 0.05


def test_pw_t5_tied_evolves_like_output(update):
    assert update.claim("PW-T5").verdict == "holds", update.claim("PW-T5").ours
    final = update.metrics["final"]
    assert final["rho_tied_out"] > final["rho_tied_in"]


def test_training_learned_something(update):
    losses = update.arrays["loss_tied"]
    assert losses[:, -50:].mean() < losses[:, :10].mean() - 1.0
    assert update.metrics["valid_ppl"]["tied"] < update.metrics["vocab_size"] / 2


def test_parameter_saving_is_exactly_v_times_d(update):
    cfg = UpdateRuleConfig.quick()
    assert update.metrics["param_saving"] == cfg.vocab_size * cfg.d_model
    assert update.metrics["params"] == update.metrics["analytic_params"]
    assert update.metrics["ptb_small_params"]["saving"] == 2_000_000
