"""The theory chapter's context model: embeddings, a one-hidden-layer MLP body, logits; many restarts at once.

A context is a fixed-length sequence of symbols with one hole; the hole is read as one more input symbol (the mask).
Every parameter carries a leading restart axis, so R independent models train together: the loss is the sum of the
restarts' losses, each restart receives its own gradient, and AdamW (element-wise) updates each as it would alone.

Paper: bertolotti2024, the model form f(x) = softmax(E_out g(E_in[x_1], ..., E_in[x_n])) without output bias.
"""

from __future__ import annotations

import torch
from torch import nn

DTYPE = torch.float64
"""The theory chapter computes in float64: its checks compare quantities with 0 to 1e-5 or better."""


class ContextModel(nn.Module):
    """R independent models f(·|ρ) = softmax(E_out g(E_in[ρ_1], …, E_in[ρ_L])), g a one-hidden-layer tanh MLP.

    Tied: E_out is the first ``vocab_size`` rows of E_in (the last row is the mask, never an output), the same
    storage, so a tied row receives the gradients of both roles.

    Args:
        restarts: R, independent models (a leading axis of every parameter).
        vocab_size: |Σ|, the output symbols; E_in has one more row, the hole.
        ctx_len: L, symbols per context (the hole included).
        d_model: d, embedding size; hidden: width of the body's hidden layer.
        gen: the generator of the initial values, drawn in the order emb_in, w1, b1, w2, b2, emb_out.
    """

    def __init__(self, restarts: int, vocab_size: int, ctx_len: int, d_model: int, hidden: int, *, tied: bool,
                 gen: torch.Generator) -> None:
        super().__init__()

        def rnd(*shape: int, scale: float = 1.0) -> nn.Parameter:
            return nn.Parameter(torch.randn(restarts, *shape, generator=gen, dtype=DTYPE) * scale)

        # Registration order = draw order = the optimiser's parameter order.
        self.emb_in = rnd(vocab_size + 1, d_model)  # (R, V + 1, d): the symbols, then the hole
        self.w1 = rnd(ctx_len * d_model, hidden, scale=(ctx_len * d_model) ** -0.5)  # (R, L d, hidden)
        self.b1 = rnd(hidden, scale=0.1)  # (R, hidden)
        self.w2 = rnd(hidden, d_model, scale=hidden**-0.5)  # (R, hidden, d)
        self.b2 = rnd(d_model, scale=0.1)  # (R, d)
        self.emb_out = None if tied else rnd(vocab_size, d_model)  # (R, V, d)
        self.vocab_size = vocab_size
        self.ctx_len = ctx_len

    @property
    def tied(self) -> bool:
        return self.emb_out is None

    @property
    def restarts(self) -> int:
        return self.emb_in.shape[0]

    def out_matrix(self) -> torch.Tensor:
        """E_out, (R, V, d): for a tied model, a view of E_in's symbol rows (the tie)."""
        return self.emb_in[:, : self.vocab_size] if self.tied else self.emb_out

    def hidden(self, tokens: torch.Tensor, emb_in: torch.Tensor | None = None) -> torch.Tensor:
        """Representations g(ρ): tokens (n, L) → (R, n, d); ``emb_in`` replaces E_in (to split gradient paths)."""
        if tokens.dim() != 2 or tokens.shape[1] != self.ctx_len:
            raise ValueError(f"tokens must be (n, {self.ctx_len}), got {tuple(tokens.shape)}")
        emb = self.emb_in if emb_in is None else emb_in
        x = emb[:, tokens]  # (R, n, L, d)
        x = x.reshape(x.shape[0], x.shape[1], -1)  # (R, n, L d)
        return torch.tanh(x @ self.w1 + self.b1[:, None]) @ self.w2 + self.b2[:, None]  # (R, n, d)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits, tokens (n, L) → (R, n, V)."""
        return self.hidden(tokens) @ self.out_matrix().transpose(1, 2)
