"""Numerical checks of bertolotti2024's theorems, one test per label (tiedemb.theory.bertolotti)."""

from __future__ import annotations

import numpy as np
import torch

from tiedemb.data.languages import twin_language, xor_language
from tiedemb.theory.bertolotti import (
    ce_minimiser,
    equal_inputs_equal_outputs,
    equal_rows_equal_outputs,
    input_theorem,
    output_gradient,
    output_theorem,
    population_loss,
    random_contractions,
    train_context_model,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_b_l1_cross_entropy_minimiser():
    p = np.random.default_rng(0).dirichlet(np.ones(5), size=6)
    assert np.abs(ce_minimiser(p, gen()) - p).max() < 1e-6


def test_b_t1_output_theorem():
    full = output_theorem(16, 4, 6, 4, 1.0, gen())
    assert full.dist_init > 0.5 and full.dist_opt < 1e-5 and full.excess_loss < 1e-8
    deficient = output_theorem(16, 4, 6, 2, 1.0, gen(1))  # the counterexample: representations do not span
    assert deficient.dist_opt > 0.1 and deficient.dist_in_span < 1e-5 and deficient.excess_loss < 1e-8


def test_b_t2_converse_and_corollary():
    assert equal_rows_equal_outputs(10, 4, 6, gen()) == 0.0
    ratio = output_theorem(16, 4, 6, 4, 1 / 9, gen(2))
    assert ratio.dist_opt > 0.1 and ratio.log_ratio_err < 1e-4


def test_b_t3_equal_inputs_equal_outputs():
    assert equal_inputs_equal_outputs(xor_language(3, (0.1, 0.9), (0.5, 0.5)), "0", "2", gen()) == 0.0


def test_b_t4_input_theorem_and_counterexample():
    ok = input_theorem(12, 4, 8, 4, 4, gen())
    assert ok.dist_opt < 1e-5 and ok.excess_loss < 1e-8
    for body_rank, out_rank in ((2, 4), (4, 2)):  # an assumption broken: equal predictions, different rows
        broken = input_theorem(12, 4, 8, body_rank, out_rank, gen(3))
        assert broken.dist_opt > 0.1 and broken.excess_loss < 1e-8 and broken.max_pred_diff < 1e-6


def test_b_t5_tying_conflict():
    conflict = twin_language("conflict")
    untied = train_context_model(conflict, tied=False, restarts=2, d_model=3, hidden=16, steps=400, lr=0.05,
                                 gen=gen(), weight_decay=0.01)
    tied = train_context_model(conflict, tied=True, restarts=2, d_model=3, hidden=16, steps=400, lr=0.05,
                               gen=gen(), weight_decay=0.01)
    bayes = conflict.bayes_loss()
    assert population_loss(untied, conflict).min() - bayes < 1e-5
    assert population_loss(tied, conflict).min() - bayes > 1e-4


def test_b_l2_output_gradient_contracts():
    c, err = random_contractions(100, 8, 4, 6, 1.0, gen())
    assert err < 1e-12 and c.min() >= 0
    c_ne, _ = random_contractions(200, 8, 4, 6, 1 / 9, gen(1))
    assert (c_ne < 0).any()


def test_output_gradient_closed_form_matches_autograd():
    g = gen()
    h = torch.randn(5, 3, generator=g, dtype=torch.float64)
    e = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    p = torch.softmax(torch.randn(5, 4, generator=g, dtype=torch.float64), -1)
    w = torch.full((5,), 0.2, dtype=torch.float64)
    loss = -(w * (p * torch.log_softmax(h @ e.T, -1)).sum(-1)).sum()
    (auto,) = torch.autograd.grad(loss, e)
    assert torch.allclose(auto, output_gradient(h, e.detach(), p, w), atol=1e-14)
    assert torch.autograd.gradcheck(lambda m: -(w * (p * torch.log_softmax(h @ m.T, -1)).sum(-1)).sum(), (e,))
