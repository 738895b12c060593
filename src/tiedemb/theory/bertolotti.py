"""Numerical checks of the theorems of bertolotti2024: what the optimum does to input and output embeddings.

Every function here builds a small instance of a theorem's setting, solves it to the optimum in float64 (the settings
with a fixed body are convex in the embeddings: L-BFGS certifies the optimum to round-off), and returns the quantities
the theorem speaks about. The experiments in :mod:`tiedemb.experiments.bertolotti.theorems` turn them into claims;
the unit tests call them directly. The context models trained on whole toy languages (B-T5, B-L3) are
:class:`tiedemb.models.context.ContextModel`, trained by :func:`tiedemb.train.context.train_context`.

Paper: bertolotti2024 (B-L1, B-T1 to B-T5; B-L2, B-L3 are this book's derivations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.languages import Language, encode
from ..models.context import DTYPE, ContextModel
from ..train.context import expected_ce
from ..train.loop import minimize

# --------------------------------------------------------------------------------------------------------------------
# B-L1


def ce_minimiser(p: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """Minimise Σ_x CE(p(·|x), softmax(z_x)) over free logits z from a random start; return softmax(z). (B-L1)"""
    target = torch.as_tensor(p, dtype=DTYPE)
    z = torch.randn(target.shape, generator=gen, dtype=DTYPE).requires_grad_(True)
    w = torch.ones(target.shape[0], dtype=DTYPE) / target.shape[0]
    minimize([z], lambda: expected_ce(z, target, w))
    return torch.softmax(z.detach(), -1).numpy()


# --------------------------------------------------------------------------------------------------------------------
# B-T1, B-T2: the output theorem


def fit_output_embeddings(hidden: torch.Tensor, p: torch.Tensor, emb_out: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The optimal output embedding for fixed representations ``hidden`` (n, d), from the start ``emb_out``."""
    e = emb_out.clone().requires_grad_(True)
    w = torch.ones(hidden.shape[0], dtype=DTYPE) / hidden.shape[0]
    loss = minimize([e], lambda: expected_ce(hidden @ e.T, p, w))
    return e.detach(), loss


@dataclass(frozen=True)
class OutputTheoremCheck:
    rank: int  # rank of the representations {h(x)}
    d_model: int
    dist_init: float  # ‖e_a − e_b‖ at the start
    dist_opt: float  # ‖e_a − e_b‖ at the optimum
    dist_in_span: float  # ‖projection of e_a − e_b on span{h(x)}‖ at the optimum
    excess_loss: float  # optimum loss − Bayes loss (0 when the optimum reaches p)
    log_ratio_err: float  # max_x |(e_a − e_b)·h(x) − log(p(a|x)/p(b|x))|


def output_theorem(n_contexts: int, d_model: int, vocab: int, rank: int, ratio: float,
                   gen: torch.Generator) -> OutputTheoremCheck:
    """Fit E_out to the optimum for fixed representations of rank ``rank`` on a realisable language where
    p(a|x)/p(b|x) = ``ratio`` in every context (ratio 1: a ∼ b). Symbols a, b are rows 0 and 1."""
    # Representations of the given rank whose last coordinate is a constant 1 (a bias unit), so that the language
    # below is realisable: logit_a − logit_b = log(ratio) in every context.
    basis = torch.randn(rank - 1, d_model - 1, generator=gen, dtype=DTYPE) / (rank - 1) ** 0.5
    hidden = torch.cat([torch.randn(n_contexts, rank - 1, generator=gen, dtype=DTYPE) @ basis,
                        torch.ones(n_contexts, 1, dtype=DTYPE)], 1)  # (n, d) of rank `rank`
    true = torch.randn(vocab, d_model, generator=gen, dtype=DTYPE) / d_model**0.5  # logits of order 1: well posed
    true[0] = true[1]
    true[0, -1] += np.log(ratio)
    logits = hidden @ true.T
    p = torch.softmax(logits, -1)
    start = torch.randn(vocab, d_model, generator=gen, dtype=DTYPE)
    e, loss = fit_output_embeddings(hidden, p, start)
    bayes = float(-(p * p.log()).sum(-1).mean())
    diff = e[0] - e[1]
    q, _ = torch.linalg.qr(hidden.T)  # orthonormal basis of span{h}, (d, n)
    q = q[:, :rank]
    return OutputTheoremCheck(
        rank=int(torch.linalg.matrix_rank(hidden)), d_model=d_model,
        dist_init=float((start[0] - start[1]).norm()), dist_opt=float(diff.norm()),
        dist_in_span=float((q.T @ diff).norm()), excess_loss=loss - bayes,
        log_ratio_err=float((hidden @ diff - np.log(ratio)).abs().max()))


def equal_rows_equal_outputs(n_contexts: int, d_model: int, vocab: int, gen: torch.Generator) -> float:
    """max_x |f(a|x) − f(b|x)| for a random model whose output rows a, b are equal (B-T2, converse)."""
    hidden = torch.randn(n_contexts, d_model, generator=gen, dtype=DTYPE)
    e = torch.randn(vocab, d_model, generator=gen, dtype=DTYPE)
    e[1] = e[0]
    q = torch.softmax(hidden @ e.T, -1)
    return float((q[:, 0] - q[:, 1]).abs().max())


# --------------------------------------------------------------------------------------------------------------------
# B-T3, B-T4: the input side


def equal_inputs_equal_outputs(lang: Language, a: str, b: str, gen: torch.Generator) -> float:
    """max over contexts holding a of |f(·|ρ[a]) − f(·|ρ[b])| for random context models whose input rows a, b are
    equal (B-T3, first part). Exactly 0.0 by construction: the model sees a symbol only through its input row, so the
    two inputs are the same tensor. A fact of the code, not a replication."""
    tokens, _, _ = encode(lang)
    ia, ib = lang.alphabet.index(a), lang.alphabet.index(b)
    model = ContextModel(4, len(lang.alphabet), tokens.shape[1], 4, 16, tied=False, gen=gen)
    with torch.no_grad():
        model.emb_in[:, ib] = model.emb_in[:, ia]
        has_a = (tokens == ia).any(1)
        swapped = torch.where(tokens == ia, torch.full_like(tokens, ib), tokens)
        fa = torch.softmax(model(tokens[has_a]), -1)
        fb = torch.softmax(model(swapped[has_a]), -1)
    return float((fa - fb).abs().max())


def _low_rank(m: int, n: int, r: int, scale: float, gen: torch.Generator) -> torch.Tensor:
    """A well-conditioned (m, n) matrix of rank r: r singular values equal to ``scale``."""
    u, _ = torch.linalg.qr(torch.randn(m, r, generator=gen, dtype=DTYPE))
    v, _ = torch.linalg.qr(torch.randn(n, r, generator=gen, dtype=DTYPE))
    return scale * u @ v.T


def _fit_slot(start: torch.Tensor, offsets: torch.Tensor, body: torch.Tensor, out: torch.Tensor, p: torch.Tensor,
              w: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The optimal slot embedding e of the linear-slot model softmax(E_out (A e + c_ρ)) for p, from ``start``."""
    e = start.clone().requires_grad_(True)
    loss = minimize([e], lambda: expected_ce((offsets + body @ e) @ out.T, p, w))
    return e.detach(), loss


@dataclass(frozen=True)
class InputSeparationCheck:
    body_rank: int  # rank of the body's linear map of the slot's embedding
    language_tv: float  # the language's D≡ of the pair: mean over contexts of TV(p(·|ρ[a]), p(·|ρ[b])), > 0
    model_tv: float  # the same for the optimal model's predictions
    dist_opt: float  # ‖e_a − e_b‖ at the optimum (both fitted from one shared start: 0 at the start)
    excess_loss: float  # optimal loss − Bayes loss, for a and for b (max)


def input_separation(n_contexts: int, d_model: int, vocab: int, body_rank: int,
                     gen: torch.Generator) -> InputSeparationCheck:
    """B-T3 at the optimum: a pair that is *not* semantically equivalent cannot keep equal input rows.

    Equal input rows give equal predictions (B-T3), so at the optimum (f = p, B-L1) a pair whose inputs predict
    differently must have different rows. On the linear-slot model of :func:`input_theorem` (g(ρ[e]) = A e + c_ρ, any
    rank of A: the direction needs no assumption), the language makes a and b predict
    softmax(E_out (A e*_a + c_ρ)) and softmax(E_out (A e*_b + c_ρ)); e_a and e_b are fitted to the optimum from one
    shared start, where their predictions coincide.
    """
    body = _low_rank(d_model, d_model, body_rank, 1.0, gen)  # A, (d, d)
    out = _low_rank(vocab, d_model, d_model, 2.0, gen)  # E_out, (V, d), full rank
    offsets = torch.randn(n_contexts, d_model, generator=gen, dtype=DTYPE)  # c_ρ
    star_a, star_b = (torch.randn(d_model, generator=gen, dtype=DTYPE) for _ in range(2))
    p_a = torch.softmax((offsets + body @ star_a) @ out.T, -1)
    p_b = torch.softmax((offsets + body @ star_b) @ out.T, -1)
    w = torch.ones(n_contexts, dtype=DTYPE) / n_contexts
    start = torch.randn(d_model, generator=gen, dtype=DTYPE)
    (ea, la), (eb, lb) = _fit_slot(start, offsets, body, out, p_a, w), _fit_slot(start, offsets, body, out, p_b, w)
    fa = torch.softmax((offsets + body @ ea) @ out.T, -1)
    fb = torch.softmax((offsets + body @ eb) @ out.T, -1)

    def bayes(p: torch.Tensor) -> float:
        return float(-(w * (p * p.log()).sum(-1)).sum())

    def tv(x: torch.Tensor, y: torch.Tensor) -> float:
        return float(0.5 * (w * (x - y).abs().sum(-1)).sum())

    return InputSeparationCheck(int(torch.linalg.matrix_rank(body)), tv(p_a, p_b), tv(fa, fb),
                                float((ea - eb).norm()), max(la - bayes(p_a), lb - bayes(p_b)))


@dataclass(frozen=True)
class InputTheoremCheck:
    body_rank: int  # rank of the body's linear map of the slot's embedding
    out_rank: int  # rank of E_out
    dist_init: float  # ‖e_a − e_b‖ at the start (independent starts)
    dist_opt: float  # ‖e_a − e_b‖ at the optimum
    excess_loss: float  # optimal loss − Bayes loss, for a and for b (max)
    max_pred_diff: float  # max |f(·|ρ[a]) − f(·|ρ[b])| at the optimum


def input_theorem(n_contexts: int, d_model: int, vocab: int, body_rank: int, out_rank: int,
                  gen: torch.Generator) -> InputTheoremCheck:
    """The hard direction (B-T4) on a model whose body is linear in the slot: g(ρ[e]) = A e + c_ρ.

    The language makes a ≡ b by construction (both predict softmax(E_out (A e* + c_ρ)) in context ρ). Fitting e_a
    and e_b to the optimum from independent starts gives e_a = e_b when A and E_out have full rank (the theorem's
    assumptions: an injective body and an injective softmax∘E_out); with a rank-deficient A or E_out the optimum is
    not unique and e_a − e_b keeps its start's component in the null space, at the same (optimal) loss.
    """
    body = _low_rank(d_model, d_model, body_rank, 1.0, gen)  # A, (d, d)
    out = _low_rank(vocab, d_model, out_rank, 2.0, gen)  # E_out, (V, d)
    offsets = torch.randn(n_contexts, d_model, generator=gen, dtype=DTYPE)  # c_ρ
    e_star = torch.randn(d_model, generator=gen, dtype=DTYPE)
    p = torch.softmax((offsets + body @ e_star) @ out.T, -1)
    w = torch.ones(n_contexts, dtype=DTYPE) / n_contexts
    bayes = float(-(w * (p * p.log()).sum(-1)).sum())

    sa, sb = (torch.randn(d_model, generator=gen, dtype=DTYPE) for _ in range(2))
    (ea, la), (eb, lb) = _fit_slot(sa, offsets, body, out, p, w), _fit_slot(sb, offsets, body, out, p, w)
    fa = torch.softmax((offsets + body @ ea) @ out.T, -1)
    fb = torch.softmax((offsets + body @ eb) @ out.T, -1)
    return InputTheoremCheck(int(torch.linalg.matrix_rank(body)), int(torch.linalg.matrix_rank(out)),
                             float((sa - sb).norm()), float((ea - eb).norm()), max(la, lb) - bayes,
                             float((fa - fb).abs().max()))


# --------------------------------------------------------------------------------------------------------------------
# B-L2: the output-path gradient contracts conditionally equivalent rows


def output_gradient(hidden: torch.Tensor, emb_out: torch.Tensor, p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """∂/∂E_out of Σ_x w_x CE(p_x, softmax(E_out h_x)) = Σ_x w_x (q_x − p_x) h_xᵀ, (V, d). Paper: B-L2."""
    q = torch.softmax(hidden @ emb_out.T, -1)
    return (w[:, None] * (q - p)).T @ hidden


def contraction(hidden: torch.Tensor, emb_out: torch.Tensor, p: torch.Tensor, w: torch.Tensor,
                a: int, b: int) -> float:
    """(e_a − e_b)·(g_a − g_b) with g the output-path gradient: −½ d‖e_a − e_b‖²/dt under gradient flow."""
    g = output_gradient(hidden, emb_out, p, w)
    return float((emb_out[a] - emb_out[b]) @ (g[a] - g[b]))


def random_contractions(trials: int, n_contexts: int, d_model: int, vocab: int, ratio: float,
                        gen: torch.Generator) -> tuple[np.ndarray, float]:
    """Contraction of a pair with p(a|x) = ratio·p(b|x) in every context, on random models and languages;
    and the largest gap between the closed-form gradient and autograd."""
    out, err = [], 0.0
    for _ in range(trials):
        hidden = torch.randn(n_contexts, d_model, generator=gen, dtype=DTYPE) * 2
        e = torch.randn(vocab, d_model, generator=gen, dtype=DTYPE)
        p = torch.rand(n_contexts, vocab, generator=gen, dtype=DTYPE)
        p[:, 0] = ratio * p[:, 1]
        p = p / p.sum(-1, keepdim=True)
        w = torch.rand(n_contexts, generator=gen, dtype=DTYPE)
        w = w / w.sum()
        ee = e.clone().requires_grad_(True)
        expected_ce(hidden @ ee.T, p, w).backward()
        err = max(err, float((ee.grad - output_gradient(hidden, e, p, w)).abs().max()))
        out.append(contraction(hidden, e, p, w, 0, 1))
    return np.array(out), err


def path_contractions(model: ContextModel, tokens: torch.Tensor, w: torch.Tensor, p: torch.Tensor,
                      pairs: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    """Per restart and pair: ‖e_a − e_b‖ and the contraction by the output path and by the input path.

    Untied: the output rows' and the input rows' own distances; tied: the shared rows', split by path (B-L3).
    """
    emb_in = model.emb_in.detach().clone().requires_grad_(True)
    emb_out = model.out_matrix().detach().clone().requires_grad_(True)
    h = model.hidden(tokens, emb_in)
    loss = expected_ce(h @ emb_out.transpose(1, 2), p, w).sum()
    g_in, g_out = torch.autograd.grad(loss, [emb_in, emb_out])
    rows = {}
    for key, mat_in, mat_out in (("out", emb_out, emb_out), ("in", emb_in, emb_in)):
        if model.tied:
            mat_in = mat_out = emb_in  # one matrix, two paths
        d = torch.stack([mat_out[:, a] - mat_out[:, b] if key == "out" else mat_in[:, a] - mat_in[:, b]
                         for a, b in pairs], 1).detach()  # (R, pairs, d)
        g = g_out if key == "out" else g_in
        gd = torch.stack([g[:, a] - g[:, b] for a, b in pairs], 1)
        rows[f"dist_{key}"] = d.norm(dim=-1).numpy()
        rows[f"contract_{key}"] = (d * gd).sum(-1).numpy()
    return rows


def population_loss(model: ContextModel, lang: Language) -> np.ndarray:
    """The population cross-entropy of each restart of a context model on ``lang``, (R,)."""
    tokens, w, p = encode(lang)
    with torch.no_grad():
        return expected_ce(model(tokens), p, w).numpy()
