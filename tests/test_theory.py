"""Every gradient identity of the gradient chapter, checked against autograd in float64 (test names follow labels)."""

import pytest
import torch

from tiedemb.experiments.press_wolf.gradients import build_lm, zipf_tokens
from tiedemb.seeding import numpy_rng, seed_everything
from tiedemb.theory.press_wolf import (
    gradcheck_tied,
    gradient_facts,
    input_word_probability,
    output_embedding_gradient,
    role_gradients,
)

ARCHS = ["lstm", "transformer"]


def _batch(arch, vocab=40, d=8, seed=0):
    seed_everything(seed)
    model = build_lm(arch, vocab, d, 2, tied=True, n_heads=2, d_ff=16, max_len=9).double()
    stream = zipf_tokens(vocab, (3, 9), 1.2, numpy_rng(seed, 1))
    return model, stream[:, :-1], stream[:, 1:]


@pytest.mark.parametrize("arch", ARCHS)
def test_tied_gradient_theorem(arch):
    model, x, y = _batch(arch)
    g = role_gradients(model, x, y)
    torch.testing.assert_close(g.tied, g.input_path + g.output_path, rtol=0, atol=1e-14)


@pytest.mark.parametrize("arch", ARCHS)
def test_pw_t1_input_rows_are_the_input_words(arch):
    model, x, y = _batch(arch)
    g = role_gradients(model, x, y)
    rows = (g.input_path.abs().sum(1) > 0).nonzero().flatten().tolist()
    assert rows == sorted(x.unique().tolist())
    assert len(rows) < model.vocab_size  # Zipfian batch: some words absent


@pytest.mark.parametrize("arch", ARCHS)
def test_pw_t2_output_gradient_closed_form(arch):
    model, x, y = _batch(arch)
    g = role_gradients(model, x, y)
    torch.testing.assert_close(g.output_path, output_embedding_gradient(g.hidden, g.probs, y), rtol=0, atol=1e-14)
    assert bool((g.output_path.abs().sum(1) > 0).all())


@pytest.mark.parametrize("arch", ARCHS)
def test_pw_t3_and_pw_t4_row_rules(arch):
    model, x, y = _batch(arch)
    facts = gradient_facts(model, x, y)
    assert facts.absent_rows_err <= 1e-14 * facts.grad_scale
    assert facts.present_rows_err <= 1e-14 * facts.grad_scale
    assert facts.input_rows_are_input_tokens


@pytest.mark.parametrize("arch", ARCHS)
def test_pw_e5_gradcheck(arch):
    seed_everything(0)
    model = build_lm(arch, 6, 4, 1, tied=True, n_heads=2, d_ff=8, max_len=4).double()
    stream = zipf_tokens(6, (2, 4), 1.0, numpy_rng(0, 2))
    assert gradcheck_tied(model, stream[:, :-1], stream[:, 1:])


def test_checks_reject_wrong_inputs():
    untied = build_lm("lstm", 10, 4, 1, tied=False)
    x = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="needs a tied model"):
        role_gradients(untied, x, x)
    with pytest.raises(ValueError, match="float64"):
        gradcheck_tied(build_lm("lstm", 10, 4, 1, tied=True), x, x)
    with pytest.raises(ValueError, match="agree in n"):
        output_embedding_gradient(torch.zeros(3, 2), torch.zeros(4, 5), torch.zeros(3, dtype=torch.long))


def test_input_word_probability_is_a_probability():
    model, x, _ = _batch("lstm")
    p = input_word_probability(model, x)
    assert p.shape == x.shape
    assert bool(((p > 0) & (p < 1)).all())
