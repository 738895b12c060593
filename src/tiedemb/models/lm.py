"""Language models of the form softmax(E_out · g(E_in[x])) with a ``tied`` flag.

Both models expose ``emb_in`` (an ``nn.Embedding``), ``emb_out`` (an ``nn.Linear`` from d_model to vocab_size),
``body(x) -> h`` and ``forward(tokens) -> logits``. Logits are ``h · E_outᵀ (+ b)``.

Paper: press2017, Sec. 2 (PW-D1); bertolotti2024 (B-S1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .tying import tie_embeddings


def check_token_ids(tokens: torch.Tensor, vocab_size: int) -> None:
    """Raise a clear error unless ``tokens`` is a (batch, seq) tensor of ids in [0, vocab_size)."""
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (batch, seq), got {tuple(tokens.shape)}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size}), got [{int(tokens.min())}, {int(tokens.max())}]")


def encoder_flops_per_token(d_model: int, d_ff: int, n_layers: int, seq_len: int) -> int:
    """Forward FLOPs of one token through Transformer layers (2 per multiply-add): the four d×d projections, the
    feed-forward pair, and attention's scores and weighted sum over ``seq_len`` positions."""
    return n_layers * 2 * (4 * d_model * d_model + 2 * d_model * d_ff + 2 * seq_len * d_model)


class _LanguageModel(nn.Module):
    """Shared parts: the two embeddings, tying, the logits, and analytic parameter counts."""

    def __init__(self, vocab_size: int, d_model: int, tied: bool, output_bias: bool) -> None:
        super().__init__()
        if vocab_size < 2 or d_model < 1:
            raise ValueError(f"vocab_size must be >= 2 and d_model >= 1, got {vocab_size}, {d_model}")
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.tied = tied
        self.emb_in = nn.Embedding(vocab_size, d_model)
        self.emb_out = nn.Linear(d_model, vocab_size, bias=output_bias)
        if tied:
            tie_embeddings(self.emb_in, self.emb_out)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The contextual representation g: (batch, seq, d_model) embeddings -> (batch, seq, d_model)."""
        raise NotImplementedError

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """h for every position: (batch, seq) token ids -> (batch, seq, d_model)."""
        check_token_ids(tokens, self.vocab_size)
        return self.body(self.emb_in(tokens))  # (batch, seq, d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits for the next token at every position: (batch, seq) -> (batch, seq, vocab_size)."""
        return self.emb_out(self.hidden(tokens))

    def output_flops(self) -> int:
        """Forward FLOPs of the logits of one position: h · E_outᵀ (2 per multiply-add)."""
        return 2 * self.d_model * self.vocab_size

    def penalty(self) -> torch.Tensor | None:
        """A regularisation term added to the training loss (None: none). Perplexities never include it."""
        return None

    def embedding_parameters(self) -> int:
        """Analytic count of the embedding matrices: V·d once if tied, twice if not (plus the output bias)."""
        n = self.vocab_size * self.d_model * (1 if self.tied else 2)
        return n + (self.vocab_size if self.emb_out.bias is not None else 0)


class LSTMLanguageModel(_LanguageModel):
    """Embedding → n_layers LSTM (→ projection P) → output embedding (Zaremba-style NNLM of Press & Wolf).

    With ``projection=True`` a square matrix P with a bias sits between the top LSTM output and the output embedding
    (logits = E_out (P h + p_b) + b), and :meth:`penalty` is ``pr_coef · ‖P‖_F²``: projection regularisation (PR) as
    the authors' code applies it (a squared Frobenius norm of P, its bias not penalised).

    With ``d_hidden`` different from ``d_model`` (the embedding size), the LSTM has ``d_hidden`` units and P is a
    ``d_model × d_hidden`` projection back to the embedding size: the way to tie when the two sizes differ (the
    output embedding must have the input embedding's shape, :func:`~tiedemb.models.tying.tie_embeddings`).

    Paper: press2017, Sec. 5 (projection regularisation), Tables 5 and 6.
    """

    def __init__(self, vocab_size: int, d_model: int, n_layers: int = 2, *, tied: bool = False,
                 output_bias: bool = True, dropout: float = 0.0, init_range: float | None = 0.1,
                 projection: bool = False, pr_coef: float = 0.0, d_hidden: int | None = None) -> None:
        super().__init__(vocab_size, d_model, tied, output_bias)
        if pr_coef < 0 or (pr_coef and not projection):
            raise ValueError(f"pr_coef must be >= 0 and needs projection=True, got {pr_coef} (projection="
                             f"{projection})")
        d_hidden = d_model if d_hidden is None else d_hidden
        if d_hidden != d_model and not projection:
            raise ValueError(f"d_hidden ({d_hidden}) differs from d_model ({d_model}): the LSTM output must be "
                             f"projected to the embedding size; pass projection=True")
        self.d_hidden = d_hidden
        self.lstm = nn.LSTM(d_model, d_hidden, n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0)
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(d_hidden, d_model) if projection else None  # (d_model, d_hidden): P
        self.pr_coef = pr_coef
        self.n_layers = n_layers
        if init_range is not None:  # the authors' TF code initialises every variable U(-r, r), P included
            for p in self.parameters():
                nn.init.uniform_(p, -init_range, init_range)

    def _top(self, out: torch.Tensor) -> torch.Tensor:
        out = self.drop(out)  # (batch, seq, d_hidden)
        return out if self.proj is None else self.proj(out)  # (batch, seq, d_model)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.drop(x))  # (batch, seq, d_hidden)
        return self._top(out)  # (batch, seq, d_model)

    def step(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits of one BPTT window starting from the LSTM ``state`` of the previous window (None: zeros), and the
        state after it: truncated BPTT as in Zaremba et al. (the caller detaches the state between windows)."""
        check_token_ids(tokens, self.vocab_size)
        out, state = self.lstm(self.drop(self.emb_in(tokens)), state)  # (batch, seq, d_hidden)
        return self.emb_out(self._top(out)), state

    def penalty(self) -> torch.Tensor | None:
        if self.proj is None or not self.pr_coef:
            return None
        return self.pr_coef * self.proj.weight.pow(2).sum()

    def forward_flops_per_token(self, seq_len: int) -> int:
        """Forward FLOPs of one token (matrix products only, 2 per multiply-add): each layer's four gates read the
        input and the previous state (8·d² multiply-adds), the projection P of PR (d² multiply-adds) if any, then the
        logits."""
        d, h = self.d_model, self.d_hidden
        first, rest = 2 * 4 * h * (d + h), (self.n_layers - 1) * 2 * 4 * h * 2 * h
        return first + rest + (2 * d * h if self.proj is not None else 0) + self.output_flops()

    def analytic_parameter_count(self) -> int:
        """Embeddings + LSTM (PyTorch keeps two bias vectors per layer; the first layer reads d_model inputs, the
        others d_hidden) (+ output bias) (+ P, d_model × d_hidden, and its bias)."""
        d, h = self.d_model, self.d_hidden
        lstm = 4 * h * (d + h) + (self.n_layers - 1) * 4 * h * (h + h) + self.n_layers * 2 * 4 * h
        proj = d * h + d if self.proj is not None else 0
        return self.embedding_parameters() + lstm + proj

    def redundant_bias_parameters(self) -> int:
        """PyTorch's second LSTM bias vector per layer (b_hh), which TensorFlow's basic LSTM cell, used by the
        paper's code, does not have: b_ih + b_hh act as one bias, so the paper's count is ours minus these."""
        return self.n_layers * 4 * self.d_hidden


class TransformerLanguageModel(_LanguageModel):
    """Embedding (+ learned positions) → causal pre-LN Transformer encoder → output embedding."""

    def __init__(self, vocab_size: int, d_model: int, n_layers: int = 2, n_heads: int = 2, d_ff: int = 64, *,
                 max_len: int = 128, tied: bool = False, output_bias: bool = False, dropout: float = 0.0) -> None:
        super().__init__(vocab_size, d_model, tied, output_bias)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.max_len = max_len
        self.pos = nn.Parameter(torch.randn(max_len, d_model) / math.sqrt(d_model))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.n_layers, self.n_heads, self.d_ff = n_layers, n_heads, d_ff

    def body(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.shape[1]
        if seq > self.max_len:
            raise ValueError(f"sequence length {seq} exceeds max_len {self.max_len}")
        mask = nn.Transformer.generate_square_subsequent_mask(seq, dtype=x.dtype, device=x.device)
        h = self.encoder(x + self.pos[:seq], mask=mask, is_causal=True)  # (batch, seq, d_model)
        return self.norm(h)

    def forward_flops_per_token(self, seq_len: int) -> int:
        """Forward FLOPs of one token in a window of ``seq_len`` (matrix products only, 2 per multiply-add; the
        causal mask is not credited): :func:`encoder_flops_per_token`, then the logits."""
        return encoder_flops_per_token(self.d_model, self.d_ff, self.n_layers, seq_len) + self.output_flops()

    def hidden_layers(self, tokens: torch.Tensor) -> torch.Tensor:
        """Every hidden state as Hugging Face's GPT-2 returns them: the embedding output (token + position), each
        layer's output (the pre-LN residual stream), the last one after the final LayerNorm:
        (batch, seq) ids -> (n_layers + 1, batch, seq, d_model). The last equals :meth:`hidden`."""
        check_token_ids(tokens, self.vocab_size)
        seq = tokens.shape[1]
        if seq > self.max_len:
            raise ValueError(f"sequence length {seq} exceeds max_len {self.max_len}")
        x = self.emb_in(tokens) + self.pos[:seq]  # (batch, seq, d_model)
        mask = nn.Transformer.generate_square_subsequent_mask(seq, dtype=x.dtype, device=x.device)
        states = [x]
        for layer in self.encoder.layers:
            states.append(layer(states[-1], src_mask=mask, is_causal=True))
        states[-1] = self.norm(states[-1])
        return torch.stack(states)  # (n_layers + 1, batch, seq, d_model)

    def analytic_parameter_count(self) -> int:
        """Embeddings + positions + layers (attention, feed-forward, two LayerNorms each) + final LayerNorm."""
        d, f = self.d_model, self.d_ff
        attn = 3 * d * d + 3 * d + d * d + d
        ff = d * f + f + f * d + d
        layer = attn + ff + 2 * 2 * d
        return self.embedding_parameters() + self.max_len * d + self.n_layers * layer + 2 * d
