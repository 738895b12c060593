"""The XOR experiments' masked-language models: Transformer, bidirectional LSTM and MLP-Mixer bodies.

Two implementations of each body:

- a plain ``nn.Module`` (:class:`XorTransformer`, :class:`XorLSTM`, :class:`XorMixer`), written as the authors wrote
  them (``semeqv/problem/xor/models/``), tied through :func:`~tiedemb.models.tying.tie_embeddings`;
- :class:`XorEnsemble`, which holds R runs of one body as stacked tensors (leading dimension R) with hand-written
  layers, so that all seeds of a configuration train in one computation. Its run r is initialised as the plain module
  built from seed r, and computes the same function (checked in the tests). A tied ensemble shares its one stacked
  embedding tensor through :func:`~tiedemb.models.tying.tie_stacked_embeddings`.

Every model reads ``[MASK]``-ed sequences and returns logits h · E_outᵀ (no bias) at the masked position. Embeddings
are N(0, 1) (``nn.Embedding``'s default); no positional encoding.

Paper: bertolotti2024, the XOR experiments (B-S1, B-S2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .tying import tie_embeddings, tie_stacked_embeddings

ARCHS = ("transformer", "lstm", "mixer")


@dataclass(frozen=True)
class BodySpec:
    """The shape of a body. Fields not used by ``arch`` are ignored.

    Authors' sizes: Transformer small d 4, ff 4, 1 layer, 1 head; medium d 32, ff 32, 2 layers. LSTM small d 4,
    hidden 8, 2 layers; medium d 32, hidden 32, 4 layers. Mixer small d 4, token_ff 4, channel ff (d_ff) 8, 1 layer;
    medium d 32, token_ff 32, d_ff 32, 2 layers.
    """

    arch: str = "transformer"  # transformer | lstm | mixer
    d_model: int = 4  # embedding and body width
    n_layers: int = 1
    n_heads: int = 1  # Transformer
    d_ff: int = 4  # Transformer feed-forward width; Mixer channel-MLP width
    hidden: int = 8  # LSTM hidden size per direction
    token_ff: int = 4  # Mixer token-MLP width

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {self.arch!r}")
        for f in ("d_model", "n_layers", "n_heads", "d_ff", "hidden", "token_ff"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{f} must be a positive integer, got {v!r}")
        if self.arch == "transformer" and self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")


# ------------------------------------------------------------------------------------------------------------------
# Plain nn.Modules


class _XorModel(nn.Module):
    """Shared parts: embeddings, tying, logits at the masked position, parameter counts."""

    def __init__(self, vocab_size: int, seq_len: int, spec: BodySpec, tied: bool) -> None:
        super().__init__()
        self.vocab_size, self.seq_len, self.spec, self.tied = vocab_size, seq_len, spec, tied
        self.emb_in = nn.Embedding(vocab_size, spec.d_model)  # N(0, 1) as in the authors' code
        self.emb_out = nn.Linear(spec.d_model, vocab_size, bias=False)  # logits = h · E_outᵀ, no bias
        # The authors' output embedding is an nn.Embedding too: N(0, 1), not nn.Linear's uniform init. Drawn for tied
        # models as well, so that a tied and an untied model of one seed start from the same input rows and body.
        nn.init.normal_(self.emb_out.weight)
        if tied:
            tie_embeddings(self.emb_in, self.emb_out)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Logits at the masked positions: tokens (batch, seq), pos (batch,) -> (batch, vocab_size)."""
        assert tokens.dim() == 2 and tokens.shape[1] == self.seq_len, f"tokens must be (batch, {self.seq_len})"
        h = self.body(self.emb_in(tokens))  # (batch, seq, d_model)
        return self.emb_out(h[torch.arange(len(tokens)), pos])  # (batch, vocab_size)

    def analytic_parameter_count(self) -> int:
        return self.vocab_size * self.spec.d_model * (1 if self.tied else 2) + body_parameter_count(
            self.spec, self.seq_len)


class XorTransformer(_XorModel):
    """``nn.TransformerEncoder`` of post-LN layers (batch first, GELU, dropout 0, no final norm, no positions)."""

    def __init__(self, vocab_size: int, seq_len: int, spec: BodySpec, *, tied: bool = False) -> None:
        super().__init__(vocab_size, seq_len, spec, tied)
        layer = nn.TransformerEncoderLayer(spec.d_model, spec.n_heads, spec.d_ff, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, spec.n_layers, enable_nested_tensor=False)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (batch, seq, d_model)


class XorLSTM(_XorModel):
    """Bidirectional LSTM, then a linear map from 2·hidden back to d_model."""

    def __init__(self, vocab_size: int, seq_len: int, spec: BodySpec, *, tied: bool = False) -> None:
        super().__init__(vocab_size, seq_len, spec, tied)
        self.lstm = nn.LSTM(spec.d_model, spec.hidden, spec.n_layers, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * spec.hidden, spec.d_model)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (batch, seq, 2 hidden)
        return self.proj(out)  # (batch, seq, d_model)


class MixerLayer(nn.Module):
    """x += TokenMLP(LN(x)ᵀ)ᵀ; x += ChannelMLP(LN(x)); ReLU MLPs."""

    def __init__(self, seq_len: int, d_model: int, token_ff: int, channel_ff: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.token1, self.token2 = nn.Linear(seq_len, token_ff), nn.Linear(token_ff, seq_len)
        self.norm2 = nn.LayerNorm(d_model)
        self.channel1, self.channel2 = nn.Linear(d_model, channel_ff), nn.Linear(channel_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x).transpose(1, 2)  # (batch, d_model, seq)
        x = x + self.token2(F.relu(self.token1(y))).transpose(1, 2)  # (batch, seq, d_model)
        return x + self.channel2(F.relu(self.channel1(self.norm2(x))))


class XorMixer(_XorModel):
    """MLP-Mixer body: ``n_layers`` mixer layers, no final norm."""

    def __init__(self, vocab_size: int, seq_len: int, spec: BodySpec, *, tied: bool = False) -> None:
        super().__init__(vocab_size, seq_len, spec, tied)
        self.layers = nn.ModuleList(MixerLayer(seq_len, spec.d_model, spec.token_ff, spec.d_ff)
                                    for _ in range(spec.n_layers))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


_CLASSES = {"transformer": XorTransformer, "lstm": XorLSTM, "mixer": XorMixer}


def build_model(vocab_size: int, seq_len: int, spec: BodySpec, *, tied: bool, seed: int | None = None) -> _XorModel:
    """The plain module of ``spec``; with ``seed``, initialised from that seed without touching the global RNG."""
    if seed is None:
        return _CLASSES[spec.arch](vocab_size, seq_len, spec, tied=tied)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _CLASSES[spec.arch](vocab_size, seq_len, spec, tied=tied)


def body_parameter_count(spec: BodySpec, seq_len: int) -> int:
    """Analytic number of body parameters (embeddings excluded)."""
    d = spec.d_model
    if spec.arch == "transformer":
        f = spec.d_ff
        layer = (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 2 * 2 * d
        return spec.n_layers * layer
    if spec.arch == "lstm":
        h, total = spec.hidden, 0
        for k in range(spec.n_layers):
            d_in = d if k == 0 else 2 * h
            total += 2 * (4 * h * d_in + 4 * h * h + 2 * 4 * h)  # two directions, two bias vectors each
        return total + 2 * h * d + d
    t, c = spec.token_ff, spec.d_ff
    layer = 2 * 2 * d + (seq_len * t + t) + (t * seq_len + seq_len) + (d * c + c) + (c * d + d)
    return spec.n_layers * layer


# ------------------------------------------------------------------------------------------------------------------
# Ensemble: R runs as stacked tensors


def _key(name: str) -> str:
    return name.replace(".", "__")


class XorEnsemble(nn.Module):
    """R runs of one body, parameters stacked along a leading run dimension, layers written by hand.

    Runs are (seed, tied) pairs, untied runs first. ``emb_in`` is (R, vocab_size, d_model); ``emb_out_free`` holds
    the output embeddings of the untied runs only, (R_untied, vocab_size, d_model); a tied run's output embedding is
    its slice of ``emb_in`` itself (see :func:`~tiedemb.models.tying.tie_stacked_embeddings`). Every other parameter
    of the plain module named ``a.b.c`` is held as ``params["a__b__c"]`` with shape (R, *shape). Run r is initialised
    exactly as ``build_model(..., tied=tied[r], seed=seeds[r])``. The loss of the ensemble is the sum of the runs'
    losses, so each run's gradient is its own, and an element-wise optimiser (AdamW) over the stacked tensors updates
    every run exactly as it would alone.
    """

    def __init__(self, vocab_size: int, seq_len: int, spec: BodySpec, seeds: tuple[int, ...],
                 *, tied: bool | tuple[bool, ...]) -> None:
        super().__init__()
        if not seeds:
            raise ValueError("an ensemble needs at least one seed")
        tied = (tied,) * len(seeds) if isinstance(tied, bool) else tuple(tied)
        if len(tied) != len(seeds):
            raise ValueError(f"tied has {len(tied)} flags for {len(seeds)} seeds")
        if list(tied) != sorted(tied):
            raise ValueError("untied runs must come before tied runs")
        self.vocab_size, self.seq_len, self.spec = vocab_size, seq_len, spec
        self.seeds, self.tied = tuple(seeds), tied
        self.n_untied = tied.count(False)
        models = [build_model(vocab_size, seq_len, spec, tied=t, seed=s) for s, t in zip(seeds, tied, strict=True)]
        states = [dict(m.named_parameters()) for m in models]
        self.emb_in = nn.Parameter(torch.stack([s["emb_in.weight"].detach() for s in states]))
        self.emb_out_free = (nn.Parameter(torch.stack([m.emb_out.weight.detach() for m in models[:self.n_untied]]))
                             if self.n_untied else None)
        self.params = nn.ParameterDict({
            _key(name): nn.Parameter(torch.stack([s[name].detach() for s in states]))
            for name in states[0] if not name.startswith(("emb_in.", "emb_out."))
        })

    @property
    def emb_out(self) -> torch.Tensor:
        """The output embedding of every run, (R, vocab_size, d_model); tied runs read ``emb_in`` itself."""
        return tie_stacked_embeddings(self.emb_in, self.emb_out_free, self.n_untied)

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    def p(self, name: str) -> torch.Tensor:
        return self.params[_key(name)]

    def run_model(self, r: int) -> _XorModel:
        """Run r as a plain module holding a copy of its current weights."""
        m = build_model(self.vocab_size, self.seq_len, self.spec, tied=self.tied[r])
        with torch.no_grad():
            m.emb_in.weight.copy_(self.emb_in[r])
            if not self.tied[r]:
                m.emb_out.weight.copy_(self.emb_out_free[r])
            for name, par in m.named_parameters():
                if not name.startswith(("emb_in.", "emb_out.")):
                    par.copy_(self.p(name)[r])
        return m

    def analytic_parameter_count(self) -> int:
        """All runs together, each counted as its plain module counts it (a tied matrix once)."""
        d = self.spec.d_model
        per_body = body_parameter_count(self.spec, self.seq_len)
        return sum(self.vocab_size * d * (1 if t else 2) + per_body for t in self.tied)

    # ------------------------------------------------------------------------------------------------- forward
    def forward(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Logits at the masked positions of every run: tokens (B, L) and pos (B,) shared by every run, or each run's
        own, (R, B, L) and (R, B) -> (R, B, vocab_size)."""
        R = self.emb_in.shape[0]
        if tokens.dim() == 2:
            tokens, pos = tokens.expand(R, *tokens.shape), pos.expand(R, *pos.shape)
        assert tokens.dim() == 3 and tokens.shape[0] == R and tokens.shape[2] == self.seq_len, \
            f"tokens must be (batch, {self.seq_len}) or ({R}, batch, {self.seq_len})"
        V, d = self.vocab_size, self.spec.d_model
        rows = tokens + (torch.arange(R) * V).view(R, 1, 1)  # run r's token t is row r V + t of the stacked table
        x = F.embedding(rows, self.emb_in.reshape(R * V, d))  # (R, B, L, d)
        body = {"transformer": self._transformer, "lstm": self._lstm, "mixer": self._mixer}[self.spec.arch]
        h = body(x)  # (R, B, L, d)
        h = h.gather(2, pos.view(R, -1, 1, 1).expand(-1, -1, 1, d)).squeeze(2)  # (R, B, d)
        return torch.bmm(h, self.emb_out.transpose(1, 2))  # (R, B, V)

    @staticmethod
    def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        """Per-run linear map: x (R, ..., in), w (R, out, in), b (R, out) -> (R, ..., out)."""
        shape = x.shape
        x2 = x.reshape(shape[0], -1, shape[-1])  # (R, N, in)
        y = torch.bmm(x2, w.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), x2, w.transpose(1, 2))
        return y.reshape(*shape[:-1], w.shape[1])

    @staticmethod
    def _layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-run LayerNorm over the last dimension (eps 1e-5, as ``nn.LayerNorm``)."""
        view = (w.shape[0],) + (1,) * (x.dim() - 2) + (w.shape[1],)
        return F.layer_norm(x, x.shape[-1:], eps=1e-5) * w.view(view) + b.view(view)

    def _transformer(self, x: torch.Tensor) -> torch.Tensor:
        R, B, L, d = x.shape
        H = self.spec.n_heads
        dh = d // H
        for i in range(self.spec.n_layers):
            pre = f"encoder.layers.{i}."
            qkv = self._linear(x, self.p(pre + "self_attn.in_proj_weight"), self.p(pre + "self_attn.in_proj_bias"))
            q, k, v = qkv.view(R, B, L, 3, H, dh).permute(3, 0, 1, 4, 2, 5)  # each (R, B, H, L, dh)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # (R, B, H, L, L)
            a = (att @ v).transpose(2, 3).reshape(R, B, L, d)  # (R, B, L, d)
            a = self._linear(a, self.p(pre + "self_attn.out_proj.weight"), self.p(pre + "self_attn.out_proj.bias"))
            x = self._layer_norm(x + a, self.p(pre + "norm1.weight"), self.p(pre + "norm1.bias"))  # post-LN
            f = F.gelu(self._linear(x, self.p(pre + "linear1.weight"), self.p(pre + "linear1.bias")))
            f = self._linear(f, self.p(pre + "linear2.weight"), self.p(pre + "linear2.bias"))
            x = self._layer_norm(x + f, self.p(pre + "norm2.weight"), self.p(pre + "norm2.bias"))
        return x

    def _mixer(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.spec.n_layers):
            pre = f"layers.{i}."
            y = self._layer_norm(x, self.p(pre + "norm1.weight"), self.p(pre + "norm1.bias")).transpose(2, 3)
            y = F.relu(self._linear(y, self.p(pre + "token1.weight"), self.p(pre + "token1.bias")))
            x = x + self._linear(y, self.p(pre + "token2.weight"), self.p(pre + "token2.bias")).transpose(2, 3)
            y = self._layer_norm(x, self.p(pre + "norm2.weight"), self.p(pre + "norm2.bias"))
            y = F.relu(self._linear(y, self.p(pre + "channel1.weight"), self.p(pre + "channel1.bias")))
            x = x + self._linear(y, self.p(pre + "channel2.weight"), self.p(pre + "channel2.bias"))
        return x  # (R, B, L, d)

    def _lstm(self, x: torch.Tensor) -> torch.Tensor:
        R, B, L, _ = x.shape
        hd = self.spec.hidden
        for k in range(self.spec.n_layers):
            outs = []
            for suffix, times in (("", range(L)), ("_reverse", range(L - 1, -1, -1))):
                w_ih, w_hh = self.p(f"lstm.weight_ih_l{k}{suffix}"), self.p(f"lstm.weight_hh_l{k}{suffix}")
                bias = self.p(f"lstm.bias_ih_l{k}{suffix}") + self.p(f"lstm.bias_hh_l{k}{suffix}")
                xi = self._linear(x, w_ih, bias)  # (R, B, L, 4 hd), gates i, f, g, o
                h = x.new_zeros(R, B, hd)
                c = x.new_zeros(R, B, hd)
                hs: list[torch.Tensor] = [h] * L
                for t in times:
                    gates = xi[:, :, t] + torch.bmm(h, w_hh.transpose(1, 2))  # (R, B, 4 hd)
                    i, f, g, o = gates.chunk(4, dim=-1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    hs[t] = h
                outs.append(torch.stack(hs, dim=2))  # (R, B, L, hd)
            x = torch.cat(outs, dim=-1)  # (R, B, L, 2 hd)
        return self._linear(x, self.p("proj.weight"), self.p("proj.bias"))  # (R, B, L, d)
