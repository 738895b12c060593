"""Numerical checks of bertolotti2024's theorems, one test per label (tiedemb.theory.bertolotti), and the context
models they train (tiedemb.models.context, tiedemb.train.context)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tiedemb.data.languages import encode, twin_language, xor_setting
from tiedemb.models.context import ContextModel
from tiedemb.theory.bertolotti import (
    ce_minimiser,
    equal_inputs_equal_outputs,
    input_separation,
    input_theorem,
    output_gradient,
    output_theorem,
    path_contractions,
    population_loss,
    random_contractions,
)
from tiedemb.train.context import expected_ce, train_context


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


def test_b_t2_rows_of_a_pair_that_is_not_conditionally_equivalent_differ_at_the_optimum():
    ratio = output_theorem(16, 4, 6, 4, 1 / 9, gen(2))
    assert ratio.excess_loss < 1e-8
    assert ratio.dist_opt > 0.1 and ratio.log_ratio_err < 1e-4  # (e_a − e_b)·h = log(1/9) in every context


def test_b_t3_context_model_sees_a_symbol_only_through_its_input_row():
    # A fact of the model's code (no per-symbol term outside E_in): it would fail if the model read token ids
    # through anything but the embedding.
    assert equal_inputs_equal_outputs(xor_setting("main", 3), "0", "2", gen()) == 0.0


@pytest.mark.parametrize("body_rank", [4, 2])
def test_b_t3_a_pair_that_is_not_semantically_equivalent_separates_at_the_optimum(body_rank):
    check = input_separation(12, 4, 8, body_rank, gen(4))
    assert check.body_rank == body_rank
    assert check.excess_loss < 1e-8 and check.language_tv > 0.1
    assert check.dist_opt > 0.1  # fitted from one shared row: the optimum pulls them apart, whatever the body
    assert abs(check.model_tv - check.language_tv) < 1e-6


def test_b_t4_input_theorem_and_counterexample():
    ok = input_theorem(12, 4, 8, 4, 4, gen())
    assert ok.dist_opt < 1e-5 and ok.excess_loss < 1e-8
    for body_rank, out_rank in ((2, 4), (4, 2)):  # an assumption broken: equal predictions, different rows
        broken = input_theorem(12, 4, 8, body_rank, out_rank, gen(3))
        assert broken.dist_opt > 0.1 and broken.excess_loss < 1e-8 and broken.max_pred_diff < 1e-6


def _trained(lang, *, tied: bool, restarts: int = 2, steps: int = 400, seed: int = 0) -> ContextModel:
    tokens, w, p = encode(lang)
    model = ContextModel(restarts, len(lang.alphabet), tokens.shape[1], 3, 16, tied=tied, gen=gen(seed))
    train_context(model, tokens, w, p, steps=steps, lr=0.05, weight_decay=0.01)
    return model


def test_b_t5_tying_conflict():
    conflict = twin_language("conflict")
    bayes = conflict.bayes_loss()
    assert population_loss(_trained(conflict, tied=False), conflict).min() - bayes < 1e-5
    assert population_loss(_trained(conflict, tied=True), conflict).min() - bayes > 1e-4


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


# ------------------------------------------------------------------------------------------------ the context model


def test_tied_context_model_shares_the_rows_and_sums_both_paths():
    lang = twin_language("agree")
    tokens, w, p = encode(lang)
    tied = ContextModel(2, 5, 3, 3, 8, tied=True, gen=gen())
    assert tied.emb_out is None and tied.out_matrix().data_ptr() == tied.emb_in.data_ptr()
    untied = ContextModel(2, 5, 3, 3, 8, tied=False, gen=gen())
    assert sum(x.numel() for x in untied.parameters()) - sum(x.numel() for x in tied.parameters()) == 2 * 5 * 3
    expected_ce(tied(tokens), p, w).sum().backward()
    # the shared rows' gradient = input-path + output-path gradient (each taken on a separate copy)
    emb_in = tied.emb_in.detach().clone().requires_grad_(True)
    emb_out = tied.emb_in[:, :5].detach().clone().requires_grad_(True)
    loss = expected_ce(tied.hidden(tokens, emb_in) @ emb_out.transpose(1, 2), p, w).sum()
    g_in, g_out = torch.autograd.grad(loss, [emb_in, emb_out])
    g_in[:, :5] += g_out
    assert torch.allclose(tied.emb_in.grad, g_in, atol=1e-14)


def test_restarts_train_independently():
    # The loss is the sum over restarts: restart 0 of a 3-restart run ends exactly where it ends when its 2-restart
    # twin (same initial values) trains it alongside another.
    lang = twin_language("freq")
    tokens, w, p = encode(lang)
    three = ContextModel(3, 5, 3, 3, 8, tied=False, gen=gen(5))
    two = ContextModel(2, 5, 3, 3, 8, tied=False, gen=gen(6))
    with torch.no_grad():
        for a, b in zip(two.parameters(), three.parameters(), strict=True):
            a[0] = b[0]
    for model in (three, two):
        train_context(model, tokens, w, p, steps=30, lr=0.05, weight_decay=0.01)
    for a, b in zip(two.parameters(), three.parameters(), strict=True):
        assert torch.allclose(a[0], b[0], rtol=0, atol=1e-12)


def _reference_training(lang, *, tied: bool, steps: int, lr: float, weight_decay: float, seed: int):
    """The context models' training loop before it moved to train.loop.fit, kept verbatim as a reference: AdamW and
    a cosine schedule built by hand, the record taken after the backward pass and before the update."""
    tokens, w, p = encode(lang)
    model = ContextModel(2, len(lang.alphabet), tokens.shape[1], 3, 8, tied=tied, gen=gen(seed))
    params = [x for x in (model.emb_in, model.w1, model.b1, model.w2, model.b2, model.emb_out) if x is not None]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 1e-3)
    pair = [(lang.alphabet.index("A"), lang.alphabet.index("B"))]
    log: dict[str, list] = {}
    for _ in range(steps):
        opt.zero_grad()
        loss = expected_ce(model(tokens), p, w).sum()
        loss.backward()
        for key, value in path_contractions(model, tokens, w, p, pair).items():
            log.setdefault(key, []).append(value[:, 0])
        opt.step()
        sched.step()
    return model, {k: np.stack(v, 1) for k, v in log.items()}


def _measure(lang):
    tokens, w, p = encode(lang)
    pair = [(lang.alphabet.index("A"), lang.alphabet.index("B"))]
    return lambda model: {k: v[:, 0] for k, v in path_contractions(model, tokens, w, p, pair).items()}


@pytest.mark.parametrize("tied", [False, True])
def test_training_on_fit_gives_the_reference_numbers_bit_for_bit(tied):
    lang = twin_language("conflict")
    ref_model, ref_log = _reference_training(lang, tied=tied, steps=25, lr=0.05, weight_decay=0.01, seed=7)
    tokens, w, p = encode(lang)
    model = ContextModel(2, len(lang.alphabet), tokens.shape[1], 3, 8, tied=tied, gen=gen(7))
    records = train_context(model, tokens, w, p, steps=25, lr=0.05, weight_decay=0.01, measure=_measure(lang))
    assert records.keys() == ref_log.keys()
    for key in records:
        assert records[key].shape == (2, 25) and np.array_equal(records[key], ref_log[key]), key
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_killed_and_resumed_training_ends_with_the_same_numbers(tmp_path):
    lang = twin_language("agree")
    tokens, w, p = encode(lang)

    def run(**kw):
        model = ContextModel(2, len(lang.alphabet), tokens.shape[1], 3, 8, tied=True, gen=gen(3))
        records = train_context(model, tokens, w, p, steps=40, lr=0.05, weight_decay=0.01, measure=_measure(lang),
                                fingerprint={"lang": lang.name}, **kw)
        return model, records

    whole_model, whole = run()
    ck = tmp_path / "context.pt"
    _, stopped = run(checkpoint=ck, checkpoint_every=10, stop_after=25)  # killed after 25 updates
    assert stopped is None and ck.is_file()
    resumed_model, resumed = run(checkpoint=ck, checkpoint_every=10)  # resumes from step 20
    assert not ck.exists()
    for key in whole:
        assert np.array_equal(whole[key], resumed[key]), key
    for a, b in zip(whole_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_context_model_rejects_contexts_of_another_length():
    model = ContextModel(1, 5, 3, 3, 8, tied=False, gen=gen())
    with pytest.raises(ValueError, match=r"tokens must be \(n, 3\)"):
        model(torch.zeros(4, 2, dtype=torch.long))
