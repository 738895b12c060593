"""A small attention encoder–decoder with the three embeddings of press2017 Sec. 6 and their ties.

W = encoder input embedding (``emb_src``), U = decoder input embedding (``emb_in``), V = decoder output embedding
(``emb_out``, with an untied bias). ``tying``: ``"none"``; ``"decoder"`` (U = V, weight tying in the decoder);
``"three-way"`` (W = U = V, TWWT; needs one vocabulary for both languages). GRU encoder and decoder, dot-product
attention (Luong et al.), and a tanh layer combining the decoder state with the attention context before the output
embedding, as in the DL4MT/Nematus family.

Paper: press2017, Sec. 6 (PW-D3, PW-D4), Table 8.
"""

from __future__ import annotations

import torch
from torch import nn

from .tying import share_embedding, tie_embeddings

TYINGS = ("none", "decoder", "three-way")


class Seq2Seq(nn.Module):
    """GRU encoder–decoder with attention; logits = V · tanh(C [s; c]) + b."""

    def __init__(self, vocab_size: int, d_model: int, *, tying: str = "none", pad_id: int = 0,
                 init_std: float = 1.0) -> None:
        super().__init__()
        if tying not in TYINGS:
            raise ValueError(f"tying must be one of {', '.join(TYINGS)}; got {tying!r}")
        self.vocab_size, self.d_model, self.tying, self.pad_id = vocab_size, d_model, tying, pad_id
        self.emb_src = nn.Embedding(vocab_size, d_model)  # W
        self.emb_in = nn.Embedding(vocab_size, d_model)  # U
        self.emb_out = nn.Linear(d_model, vocab_size)  # V and the output bias
        self.encoder = nn.GRU(d_model, d_model, batch_first=True)
        self.decoder = nn.GRU(d_model, d_model, batch_first=True)
        self.combine = nn.Linear(2 * d_model, d_model)
        # The three embeddings start alike, N(0, init_std²) (torch's embedding default), so that a tie changes what is
        # shared, not the scale of the logits (torch's linear layer would start V at U(±1/√d) instead).
        for weight in (self.emb_src.weight, self.emb_in.weight, self.emb_out.weight):
            nn.init.normal_(weight, 0.0, init_std)
        if tying in ("decoder", "three-way"):
            tie_embeddings(self.emb_in, self.emb_out)
        if tying == "three-way":
            share_embedding(self.emb_in, self.emb_src)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states (batch, src_len, d_model) and the final state (1, batch, d_model)."""
        return self.encoder(self.emb_src(src))

    def decode(self, prev: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor, state: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (batch, tgt_len, vocab) of the next words after ``prev`` (batch, tgt_len), and the new state."""
        s, state = self.decoder(self.emb_in(prev), state)  # (batch, tgt_len, d_model)
        scores = s @ memory.transpose(1, 2)  # (batch, tgt_len, src_len)
        scores = scores.masked_fill(~src_mask.unsqueeze(1), float("-inf"))
        context = scores.softmax(-1) @ memory  # (batch, tgt_len, d_model)
        return self.emb_out(torch.tanh(self.combine(torch.cat([s, context], -1)))), state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: src (batch, src_len), tgt_in (batch, tgt_len) -> (batch, tgt_len, vocab)."""
        memory, state = self.encode(src)
        return self.decode(tgt_in, memory, src != self.pad_id, state)[0]

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, bos: int, max_len: int) -> torch.Tensor:
        """Greedy translation, (batch, max_len) ids (continues after [EOS]; the caller cuts)."""
        memory, state = self.encode(src)
        mask = src != self.pad_id
        prev = torch.full((src.shape[0], 1), bos, dtype=torch.long)
        out = []
        for _ in range(max_len):
            logits, state = self.decode(prev, memory, mask, state)
            prev = logits[:, -1].argmax(-1, keepdim=True)  # (batch, 1)
            out.append(prev)
        return torch.cat(out, 1)

    def analytic_parameter_count(self) -> int:
        """Embeddings (3, 2 or 1 V×d matrices) + output bias + two GRUs + the combining layer."""
        d, v = self.d_model, self.vocab_size
        matrices = {"none": 3, "decoder": 2, "three-way": 1}[self.tying]
        gru = 3 * (d * d + d * d + 2 * d)
        return matrices * v * d + v + 2 * gru + (2 * d * d + d)
