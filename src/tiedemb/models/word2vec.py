"""Skip-gram with negative sampling (word2vec), with a ``tied`` flag.

The score of a (centre, context) pair is ``E_in[c] · E_out[o]``; the loss is word2vec's negative-sampling loss,
−log σ(E_in[c]·E_out[o]) − Σ_k log σ(−E_in[c]·E_out[n_k]) over ``k`` sampled negatives. Untied, the input vectors
start uniform in ±0.5/d and the output vectors at zero (word2vec's and gensim's ``syn1neg`` initialisation); tied,
the one matrix starts like the input vectors (a zero start would never move: each role's gradient is the other).

Paper: press2017, Sec. 4 (Table 1: the input, output and tied embeddings of word2vec); mikolov2013.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .tying import tie_embeddings


class SkipGram(nn.Module):
    """word2vec's skip-gram with negative sampling; ``emb_in`` (``nn.Embedding``) and ``emb_out`` (``nn.Linear``
    without bias, weight (vocab_size, d_model)) as in every model of the package."""

    def __init__(self, vocab_size: int, d_model: int, *, tied: bool = False) -> None:
        super().__init__()
        if vocab_size < 2 or d_model < 1:
            raise ValueError(f"vocab_size must be >= 2 and d_model >= 1, got {vocab_size}, {d_model}")
        self.vocab_size, self.d_model, self.tied = vocab_size, d_model, tied
        self.emb_in = nn.Embedding(vocab_size, d_model)
        self.emb_out = nn.Linear(d_model, vocab_size, bias=False)
        nn.init.uniform_(self.emb_in.weight, -0.5 / d_model, 0.5 / d_model)
        nn.init.zeros_(self.emb_out.weight)
        if tied:
            tie_embeddings(self.emb_in, self.emb_out)

    def forward(self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Mean negative-sampling loss. centre, context: (batch,) ids; negatives: (batch, k) ids."""
        # Sparse row gradients (as word2vec updates only the rows it reads); plain SGD applies them.
        u = F.embedding(centre, self.emb_in.weight, sparse=True)  # (batch, d_model)
        pos = (u * F.embedding(context, self.emb_out.weight, sparse=True)).sum(-1)  # (batch,)
        out_neg = F.embedding(negatives, self.emb_out.weight, sparse=True)  # (batch, k, d_model)
        neg = torch.bmm(out_neg, u.unsqueeze(-1)).squeeze(-1)  # (batch, k)
        return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()

    def analytic_parameter_count(self) -> int:
        """V·d once if tied, twice if not."""
        return self.vocab_size * self.d_model * (1 if self.tied else 2)
