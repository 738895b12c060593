"""The gradient chapter's claims on the quick-scale results (computed once, shared via the cache): the measured numbers
against what the paper's equations and the training imply, and judges that change their verdict when the numbers do."""

import copy

import numpy as np
import pytest

from tiedemb.book.press_wolf.gradients import update_rule_prose
from tiedemb.claims import FAILS, IDENTITY, UNTESTABLE
from tiedemb.data.synthetic import CorpusSpec, generate
from tiedemb.experiments import run_or_load
from tiedemb.experiments.press_wolf.gradients import (
    GradCheckConfig,
    UpdateRuleConfig,
    judge_grad_check,
    judge_update_rule,
)
from tiedemb.seeding import numpy_rng
from tiedemb.train.lm import batchify, windows


@pytest.fixture(scope="module")
def check():
    return run_or_load(GradCheckConfig.quick())


@pytest.fixture(scope="module")
def update():
    return run_or_load(UpdateRuleConfig.quick())


# ------------------------------------------------------------------------------------------------------ grad-check


def test_gradient_facts_hold_to_round_off_on_both_architectures(check):
    m = check.metrics
    cfg = GradCheckConfig.quick()
    assert set(m["per_arch"]) == {"lstm", "transformer"}
    assert m["batches_checked"] == len(cfg.seeds) * cfg.batches * 2
    assert m["batches_input_rows_are_input_tokens"] == m["batches_checked"]
    assert m["min_output_rows_updated"] == 1.0
    assert 0 < m["mean_input_rows_updated"] < 1  # Zipfian batches: some words absent, so PW-T1 is not vacuous
    assert max(m["max_relative_err"].values()) < 1e-14  # float64 round-off
    assert all(a["gradcheck"] for a in m["per_arch"].values())


def test_gradient_facts_are_shown_as_identities(check):
    assert {c.label: c.verdict for c in check.claims} == dict.fromkeys(["PW-T1", "PW-T2", "PW-T3", "PW-E5"], IDENTITY)


def _break_t1(m):
    m["batches_input_rows_are_input_tokens"] -= 1


def _break_t2(m):
    m["max_relative_err"]["output_closed_form_err"] = 1e-6


def _break_t3(m):
    m["max_relative_err"]["absent_rows_err"] = 1e-6


def _break_gradcheck(m):
    m["per_arch"]["transformer"]["gradcheck"] = False


@pytest.mark.parametrize(("label", "corrupt"), [("PW-T1", _break_t1), ("PW-T2", _break_t2), ("PW-T3", _break_t3),
                                                ("PW-E5", _break_gradcheck)])
def test_an_identity_that_breaks_does_not_hold(check, label, corrupt):
    metrics = copy.deepcopy(check.metrics)
    corrupt(metrics)
    claims = {c.label: c for c in judge_grad_check(GradCheckConfig.quick(), metrics)}
    assert claims[label].verdict == FAILS


# ------------------------------------------------------------------------------------------------ grad-update-rule


def test_row_updates_are_the_words_of_each_window(update):
    """Counted from the gradients during training, the rows of E_in updated at each step are the words present in
    the step's window (PW-T1), counted here from the text alone; every row of E_out and S is updated at every step."""
    cfg = UpdateRuleConfig.quick()
    spec = CorpusSpec(cfg.n_groups, cfg.concepts_per_group, cfg.words_per_concept)
    corpus = generate(spec, cfg.train_tokens, cfg.valid_tokens, numpy_rng(cfg.seeds[0], 0))
    present = np.zeros(cfg.vocab_size)
    ws = list(windows(batchify(corpus.train, cfg.batch_size), cfg.bptt))
    for x, _ in ws:
        present[np.unique(x.numpy())] += 1
    expected = present / len(ws)
    assert update.metrics["steps"] == len(ws) * cfg.epochs
    for key in ("in", "tied_input_role"):
        np.testing.assert_allclose(update.arrays[f"update_fraction_{key}"], np.tile(expected, (len(cfg.seeds), 1)),
                                   rtol=0, atol=1e-6)
    assert (update.arrays["update_fraction_out"] == 1).all()
    assert (update.arrays["update_fraction_tied"] == 1).all()


def test_plain_sgd_leaves_rows_without_gradient_in_place(update):
    never = update.arrays["update_fraction_in"] == 0  # words absent from every training window
    assert never.any(), "the quick corpus should have words that never occur, or this test is vacuous"
    assert (update.arrays["displacement_in"][never] == 0).all()
    assert (update.arrays["displacement_in"][~never] > 0).all()


def test_tied_matrix_follows_the_output_embedding_in_every_seed(update):
    final_out = update.arrays["snap_rho_tied_out"][:, -1]
    final_in = update.arrays["snap_rho_tied_in"][:, -1]
    assert (final_out > final_in + 0.3).all(), (final_out, final_in)
    assert (update.arrays["snap_rho_tied_in"][:, 0] == 1.0).all()  # same seed: S starts as the untied E_in


def test_training_learned_more_than_word_frequencies(update):
    losses = update.arrays["loss_tied"]
    assert losses[:, -50:].mean() < losses[:, :10].mean() - 1.0
    for variant in ("untied", "tied"):
        assert max(update.metrics["valid_ppl_per_seed"][variant]) < update.metrics["unigram_ppl"]


def test_eq4_holds_on_the_trained_model(update):
    assert update.metrics["present_rows_err_relative"] < 1e-14


def test_parameter_saving_is_exactly_v_times_d(update):
    cfg = UpdateRuleConfig.quick()
    assert update.metrics["param_saving"] == cfg.vocab_size * cfg.d_model
    assert update.metrics["params"] == update.metrics["analytic_params"]


def test_claims_are_untestable_when_the_models_did_not_learn(update):
    metrics = copy.deepcopy(update.metrics)
    metrics["valid_ppl"]["tied"] = metrics["unigram_ppl"] + 1.0
    claims = judge_update_rule(UpdateRuleConfig.quick(), metrics)
    assert [c.verdict for c in claims] == [UNTESTABLE, UNTESTABLE]
    assert "not met" in claims[0].precondition and "--scale paper" in claims[0].precondition


def test_pw_t4_fails_when_words_often_follow_themselves(update):
    metrics = copy.deepcopy(update.metrics)
    metrics["p_input_word"] = 0.3
    assert judge_update_rule(UpdateRuleConfig.quick(), metrics)[0].verdict == FAILS


def test_pw_t5_fails_when_one_seed_disagrees(update):
    metrics = copy.deepcopy(update.metrics)
    metrics["final_per_seed"]["rho_tied_in"][1] = 0.99
    assert judge_update_rule(UpdateRuleConfig.quick(), metrics)[1].verdict == FAILS


def test_prose_words_follow_the_numbers(update):
    assert update_rule_prose(update)["tying_ppl_words"].startswith("tying did not cost perplexity")
    flipped = copy.deepcopy(update)
    ppl = flipped.metrics["valid_ppl_per_seed"]
    ppl["untied"], ppl["tied"] = ppl["tied"], ppl["untied"]
    flipped.metrics["final_per_seed"]["rho_tied_in"] = [1.0] * len(ppl["tied"])
    flipped.metrics["final"]["rho_tied_in"] = 1.0
    words = update_rule_prose(flipped)
    assert words["tying_ppl_words"].startswith("tying cost")
    assert words["tied_closer_words"].startswith("closer to the untied input")
