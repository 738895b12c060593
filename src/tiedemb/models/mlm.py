"""The authors' masked language model: a Transformer encoder without positional encoding, logits h · E_outᵀ.

Paper: bertolotti2024 (code `semeqv/problem/mlm/models`): post-LN ``nn.TransformerEncoder`` layers, GELU, dropout 0,
key-padding mask, no positional encoding, embeddings initialised N(0, 0.3²), no output bias; the WT variant ties.
"""

from __future__ import annotations

import torch
from torch import nn

from .lm import check_token_ids, encoder_flops_per_token
from .tying import tie_embeddings


class MaskedLanguageModel(nn.Module):
    """Embedding → Transformer encoder (post-LN, no positions) → h · E_outᵀ at the requested positions."""

    def __init__(self, vocab_size: int, d_model: int, n_layers: int = 2, n_heads: int = 2, d_ff: int = 256, *,
                 tied: bool = False, init_std: float = 0.3, pad_id: int | None = 0) -> None:
        super().__init__()
        if vocab_size < 2 or d_model < 1:
            raise ValueError(f"vocab_size must be >= 2 and d_model >= 1, got {vocab_size}, {d_model}")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.vocab_size, self.d_model, self.tied = vocab_size, d_model, tied
        self.n_layers, self.n_heads, self.d_ff = n_layers, n_heads, d_ff
        self.pad_id = pad_id
        self.emb_in = nn.Embedding(vocab_size, d_model)
        self.emb_out = nn.Linear(d_model, vocab_size, bias=False)  # B-S1: no output bias
        nn.init.normal_(self.emb_in.weight, 0.0, init_std)
        nn.init.normal_(self.emb_out.weight, 0.0, init_std)
        if tied:
            tie_embeddings(self.emb_in, self.emb_out)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """h at every position: (batch, seq) ids -> (batch, seq, d_model)."""
        check_token_ids(tokens, self.vocab_size)
        pad = None
        if self.pad_id is not None and bool((tokens == self.pad_id).any()):
            pad = tokens == self.pad_id  # (batch, seq), True = ignored by attention
        x = self.emb_in(tokens)  # (batch, seq, d_model); no positional encoding, as in the authors' code
        return self.encoder(x, src_key_padding_mask=pad)  # (batch, seq, d_model)

    def hidden_layers(self, tokens: torch.Tensor) -> torch.Tensor:
        """Every hidden state: the embedding output, then each layer's output (post-LN, so each is a LayerNorm
        output): (batch, seq) ids -> (n_layers + 1, batch, seq, d_model). The last equals :meth:`hidden`."""
        check_token_ids(tokens, self.vocab_size)
        pad = None
        if self.pad_id is not None and bool((tokens == self.pad_id).any()):
            pad = tokens == self.pad_id  # (batch, seq)
        states = [self.emb_in(tokens)]  # (batch, seq, d_model)
        for layer in self.encoder.layers:
            states.append(layer(states[-1], src_key_padding_mask=pad))
        return torch.stack(states)  # (n_layers + 1, batch, seq, d_model)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Logits h · E_outᵀ: (batch, seq, vocab) for every position, or (n, vocab) at a boolean (batch, seq) mask.

        Restricting the softmax to the masked positions saves the vocab-sized matrix product everywhere else.
        """
        h = self.hidden(tokens)  # (batch, seq, d_model)
        if positions is not None:
            h = h[positions]  # (n, d_model)
        return self.emb_out(h)

    def forward_flops_per_token(self, seq_len: int, predicted: float = 1.0) -> float:
        """Forward FLOPs of one token (matrix products only, 2 per multiply-add): the encoder, and the logits for
        the fraction ``predicted`` of positions where a token is predicted (the masked ones)."""
        return (encoder_flops_per_token(self.d_model, self.d_ff, self.n_layers, seq_len)
                + predicted * 2 * self.d_model * self.vocab_size)

    def analytic_parameter_count(self) -> int:
        """Embeddings (once if tied) + layers (attention, feed-forward, two LayerNorms each)."""
        d, f = self.d_model, self.d_ff
        layer = (3 * d * d + 3 * d + d * d + d) + (d * f + f + f * d + d) + 2 * 2 * d
        return self.vocab_size * d * (1 if self.tied else 2) + self.n_layers * layer
