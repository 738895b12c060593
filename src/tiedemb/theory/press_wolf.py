"""Numerical checks of Press & Wolf's gradient facts (press2017, Sec. 3, Eqs. 1-4; bertolotti2024, gradient view).

- :func:`role_gradients` splits the gradient of a tied matrix into its input-path and output-path parts by
  differentiating an untied twin with the same weights (the tied-gradient theorem: tied = input + output).
- :func:`output_embedding_gradient` is the closed form of the output-path gradient, ``(q - y) h`` averaged over
  positions (PW-T2), which every row receives at every step.
- :func:`gradient_facts` measures all of it on one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.tying import is_tied, untie_embeddings
from ..train.lm import lm_cross_entropy


@dataclass
class RoleGradients:
    """Gradients of one loss with respect to the embedding matrix in each role."""

    tied: torch.Tensor  # dL/dS of the tied model, (vocab, d)
    input_path: torch.Tensor  # dL/dU of the untied twin (U = V = S), (vocab, d)
    output_path: torch.Tensor  # dL/dV of the untied twin, (vocab, d)
    hidden: torch.Tensor  # h at every position, (batch*seq, d)
    probs: torch.Tensor  # softmax q at every position, (batch*seq, vocab)


def role_gradients(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> RoleGradients:
    """Gradient of the tied matrix, and of its input and output roles in an untied twin with equal weights.

    Args:
        model: a tied language model (``emb_in`` and ``emb_out`` share one parameter).
        tokens, targets: (batch, seq) token ids.
    """
    if not is_tied(model):
        raise ValueError("role_gradients needs a tied model (emb_in and emb_out sharing one parameter)")
    model.zero_grad(set_to_none=True)
    lm_cross_entropy(model, tokens, targets).backward()
    tied = model.emb_in.weight.grad.detach().clone()
    model.zero_grad(set_to_none=True)

    twin = untie_embeddings(model)
    twin.zero_grad(set_to_none=True)
    lm_cross_entropy(twin, tokens, targets).backward()
    with torch.no_grad():
        h = twin.hidden(tokens).reshape(-1, twin.d_model)
        q = torch.softmax(twin.emb_out(h), dim=-1)
    return RoleGradients(tied, twin.emb_in.weight.grad.detach().clone(),
                         twin.emb_out.weight.grad.detach().clone(), h, q)


def output_embedding_gradient(hidden: torch.Tensor, probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Closed-form gradient of the mean cross-entropy w.r.t. the output embedding: mean over positions of (q - y) hᵀ.

    Args:
        hidden: h at each position, (n, d).
        probs: the model's softmax q at each position, (n, vocab).
        targets: target ids, (n,).

    Paper: press2017, Eq. 2 (PW-T2).
    """
    if hidden.dim() != 2 or probs.dim() != 2 or hidden.shape[0] != probs.shape[0]:
        raise ValueError(f"hidden (n, d) and probs (n, vocab) must agree in n; got {tuple(hidden.shape)}, "
                         f"{tuple(probs.shape)}")
    y = F.one_hot(targets.reshape(-1), probs.shape[1]).to(probs.dtype)  # (n, vocab)
    return (probs - y).T @ hidden / hidden.shape[0]  # (vocab, d)


def nonzero_rows(grad: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the rows of ``grad`` that are not exactly zero."""
    return grad.abs().sum(dim=1) > 0


@dataclass
class GradientFacts:
    """What :func:`gradient_facts` measured on one batch (all errors are max absolute entry differences)."""

    tied_identity_err: float  # |dL/dS - (dL/dU + dL/dV)|, the tied-gradient theorem
    output_closed_form_err: float  # |dL/dV - mean (q - y) hᵀ|, PW-T2
    output_rows_updated: float  # fraction of rows of V with nonzero gradient, PW-T2 (expected 1)
    input_rows_are_input_tokens: bool  # rows of U with nonzero gradient == tokens present in the input, PW-T1
    input_rows_updated: float  # fraction of rows of U with nonzero gradient
    absent_rows_err: float  # rows not in the input: |dL/dS - dL/dV|, PW-T3
    present_rows_err: float  # rows in the input: |dL/dS - dL/dU - dL/dV|, PW-T4
    grad_scale: float  # max |dL/dS|, for relative errors


def gradient_facts(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> GradientFacts:
    """Measure the gradient facts of press2017 Sec. 3 on one batch of a tied model."""
    g = role_gradients(model, tokens, targets)
    closed = output_embedding_gradient(g.hidden, g.probs, targets)
    present = torch.zeros(model.vocab_size, dtype=torch.bool)
    present[tokens.reshape(-1).unique()] = True
    in_rows = nonzero_rows(g.input_path)
    absent = ~present
    err = (g.tied - g.input_path - g.output_path).abs()
    return GradientFacts(
        tied_identity_err=float(err.max()),
        output_closed_form_err=float((g.output_path - closed).abs().max()),
        output_rows_updated=float(nonzero_rows(g.output_path).double().mean()),
        input_rows_are_input_tokens=bool(torch.equal(in_rows, present)),
        input_rows_updated=float(in_rows.double().mean()),
        absent_rows_err=float((g.tied - g.output_path)[absent].abs().max()) if absent.any() else 0.0,
        present_rows_err=float(err[present].max()),
        grad_scale=float(g.tied.abs().max()),
    )


def gradcheck_tied(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> bool:
    """``torch.autograd.gradcheck`` of the loss as a function of the shared matrix (float64 model)."""
    if model.emb_in.weight.dtype != torch.float64:
        raise ValueError("gradcheck needs a float64 model (call model.double())")
    weight = model.emb_in.weight

    def loss_of(shared: torch.Tensor) -> torch.Tensor:
        params = {"emb_in.weight": shared, "emb_out.weight": shared}
        logits = torch.func.functional_call(model, params, (tokens,), tie_weights=False)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    x = weight.detach().clone().requires_grad_(True)
    return bool(torch.autograd.gradcheck(loss_of, (x,), eps=1e-6, atol=1e-7, rtol=1e-5))


def input_word_probability(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """p_t(i_t | i_1..t): the probability the model gives to the current input word as the next word, per position.

    This scales the output-role term that a tied row receives for the word it embeds (press2017, Eq. 4).
    """
    with torch.no_grad():
        probs = torch.softmax(model(tokens), dim=-1)  # (batch, seq, vocab)
        return probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (batch, seq)
