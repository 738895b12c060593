"""The token-probability chapter's analyses (Cho et al., COLING 2025) against brute force, on small random models:
averaged probabilities, the cross-validated encoding, the exact steered ratios and side effects, deletion, and the
steering exercise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tiedemb.exercises import check_steering_edit, solution_steering_edit
from tiedemb.theory.cho import (
    averaged_probabilities,
    divergence_after_deletion,
    fit_encoding,
    log_spaced_steps,
    other_tokens_js,
    ranks,
    spearman,
    steered_ratios,
    steering_direction,
)


def random_head(seed: int = 0, n: int = 300, d: int = 6, v: int = 40, bias: bool = False):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.5
    w = torch.randn(v, d, generator=g, dtype=torch.float64)
    b = torch.randn(v, generator=g, dtype=torch.float64) if bias else None
    return h, w, b


def js(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    m = (p + q) / 2
    return ((p * (p / m).log()).sum(-1) + (q * (q / m).log()).sum(-1)) / 2


@pytest.mark.parametrize("bias", [False, True])
def test_averaged_probabilities_equal_the_mean_softmax(bias):
    h, w, b = random_head(bias=bias)
    logits = h @ w.T + (0 if b is None else b)
    assert torch.allclose(averaged_probabilities(h, w, b), torch.softmax(logits, -1).mean(0), atol=1e-14)


def test_encoding_recovers_a_linear_relation_and_not_noise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8))
    a = rng.standard_normal(8)
    exact = fit_encoding(x, x @ a + 3.0)
    assert np.allclose(exact.A, a) and exact.B == pytest.approx(3.0) and exact.r2_cv == pytest.approx(1.0)
    noise = fit_encoding(x, rng.standard_normal(400))
    assert noise.r2_fit > noise.r2_cv and noise.r2_cv < 0.05  # held-out R² does not reward fitting noise
    with pytest.raises(ValueError, match="interpolate"):
        fit_encoding(x[:30], rng.standard_normal(30))


def test_spearman_and_ranks():
    assert ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]
    assert spearman(np.arange(10.0), np.arange(10.0) ** 3) == pytest.approx(1.0)
    assert spearman(np.arange(10.0), -np.arange(10.0)) == pytest.approx(-1.0)


def test_steering_direction_moves_the_prediction_by_log_r():
    a = np.array([0.1, -3.0, 0.5, 2.0, -0.01])
    delta = steering_direction(a, 2)
    assert a @ delta == pytest.approx(-1.0)
    assert np.flatnonzero(delta).tolist() == [1, 3]
    assert check_steering_edit(solution_steering_edit)


def test_steering_exercise_catches_mistakes():
    assert not check_steering_edit(lambda A, log_r, k: -solution_steering_edit(A, log_r, k))  # sign flipped
    assert not check_steering_edit(lambda A, log_r, k: -log_r * A / (A @ A))  # right change, every dimension


@pytest.mark.parametrize("bias", [False, True])
def test_steered_ratios_and_side_effects_equal_brute_force(bias):
    h, w, b = random_head(1, bias=bias)
    tokens = np.array([0, 7, 31])
    delta = np.random.default_rng(1).standard_normal(w.shape[1]) * 0.3
    log_r = np.log(np.array([0.05, 0.5, 1.0, 3.0, 20.0]))
    logp = torch.log_softmax(h @ w.T + (0 if b is None else b), -1)
    ratio, js_pos = steered_ratios(h, logp[:, tokens], delta, log_r)
    others = other_tokens_js(h, w, b, tokens, delta, log_r)
    p = logp.exp()
    for i, t in enumerate(tokens):
        for j, lr in enumerate(log_r):
            w2 = w.clone()
            w2[t] += lr * torch.as_tensor(delta)
            p2 = torch.softmax(h @ w2.T + (0 if b is None else b), -1)
            assert ratio[i, j] == pytest.approx(float(p2[:, t].mean() / p[:, t].mean()), rel=1e-10)
            assert js_pos[i, j] == pytest.approx(float(js(p, p2).mean()), abs=1e-12)
            keep = torch.ones(w.shape[0], dtype=torch.bool)
            keep[t] = False
            a1, a2 = p.mean(0)[keep], p2.mean(0)[keep]
            assert others[i, j] == pytest.approx(float(js(a1 / a1.sum(), a2 / a2.sum())), abs=1e-13)
            # the identity: at each position the other tokens, renormalised, do not move
            q1, q2 = p[:, keep] / p[:, keep].sum(1, keepdim=True), p2[:, keep] / p2[:, keep].sum(1, keepdim=True)
            assert torch.allclose(q1, q2, atol=1e-12)
    assert np.allclose(ratio[:, 2], 1.0) and np.allclose(js_pos[:, 2], 0.0, atol=1e-15)


def test_deletion_divergences():
    h, w, b = random_head(2, bias=True)
    h, w, b = h.float(), w.float(), b.float()
    assert divergence_after_deletion(h, w, b, torch.ones(w.shape[1])) == pytest.approx((0.0, 0.0), abs=1e-6)
    keep = torch.tensor([1.0, 0, 1, 1, 0, 1])
    kl, jsd = divergence_after_deletion(h, w, b, keep)
    p = torch.softmax(h.double() @ w.double().T + b.double(), -1)
    q = torch.softmax(h.double() @ (w.double() * keep.double()).T + b.double(), -1)
    assert kl == pytest.approx(float((p * (p / q).log()).sum(-1).mean()), rel=1e-4)
    assert jsd == pytest.approx(float(js(p, q).mean()), rel=1e-4)


def test_log_spaced_steps():
    assert log_spaced_steps(600) == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600]
    assert log_spaced_steps(1) == [0, 1]
