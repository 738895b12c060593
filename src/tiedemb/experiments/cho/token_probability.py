"""Chapter "Understanding token probability encoding in output embeddings" (Cho et al., COLING 2025).

Five experiments; the models are trained once and every analysis reuses them through the results cache:

- ``tpe-models``: small Pre-LN causal Transformer LMs trained from scratch on the offline Wikipedia sample with the
  package's one loop: the main model (untied output embedding, no output bias), two ablations (tied embeddings; an
  output bias), and two narrower widths for the dynamics; parameters kept on a logarithmic checkpoint schedule.
- ``tpe-encoding``: averaged output probabilities α over held-out text, the MLR −log α ≈ A·E_out + B cross-validated
  over tokens, cos(A, −h̄), PCA of E_out, sparsity of A (claims C-E1, C-E2, C-E3).
- ``tpe-steering``: edit rows of E_out along A to multiply α by r ∈ [1/20, 20], on the estimation text, held-out
  text and out-of-distribution text; side effects; A from few sequences (C-E4).
- ``tpe-deletion``: zero output dimensions by increasing |A| against random and decreasing orders (C-E5).
- ``tpe-dynamics``: a frequency probe on E_out at every checkpoint beside each layer's distance to its final value,
  for three widths (C-E6).

``tpe-encoding``, ``tpe-steering`` and ``tpe-deletion`` also read any Hugging Face causal LM from a folder
(``--model DIR``; nothing is downloaded); ``tpe-dynamics`` reads a folder of a training run's checkpoints
(``--model DIR`` with sub-folders ``step<N>``, as Pythia's).

Paper: cho2025 (arXiv 2406.01468; ACL Anthology 2025.coling-main.708). Much of its setup is not public (no code was
released): what is reconstructed is said so in the fields' comments and in the chapter.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...claims import Claim, Precondition, identity, judge
from ...config import ConfigError, ExperimentConfig, positive
from ...data.corpus import SPECIALS, _source_documents, gensim_data_path, load_corpus, split_documents, words
from ...data.mlm import blocks
from ...models.lm import TransformerLanguageModel
from ...models.pretrained import (
    ModelDirError,
    check_checkpoints,
    check_model_dir,
    checkpoint_dirs,
    load_causal_lm,
    load_lm_with_report,
)
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...theory.cho import (
    averaged_probabilities,
    divergence_after_deletion,
    fit_encoding,
    log_spaced_steps,
    other_tokens_js,
    pca2,
    spearman,
    steered_ratios,
    steering_direction,
)
from ...train.lm import StreamTask
from ...train.loop import OptimSpec, fit
from .. import register, run_or_load

CHAPTER = "book/token_probability/output_encoding"
OOD_FILE = "lee_background.cor"  # news text shipped with gensim: out of distribution for a Wikipedia-trained model

# The book's rules for the claims (stated before any run; the paper gives no numbers for C-E1 to C-E3)
R2_GOOD = 0.8  # C-E1: held-out-token R² at least this
RHO_GOOD = 0.8  # C-E1: and Spearman at least this
COS_CLOSE = 0.8  # C-E2: cos(A, −h̄) at least this
SPARSE_FRACTION = 0.125  # C-E3: the top 1/8 of the dimensions by |A| ...
SPARSE_SHARE = 0.8  # ... recover at least this share of the full held-out R²
STEER_FACTOR = 1.5  # C-E4: median achieved ratio within a factor 1.5 of the target, at every r, on every text
JS_NOTICEABLE = 0.01  # C-E5: a mean per-position JS divergence (nats) above this moves the distribution noticeably
DELETE_PAPER = 0.3  # C-E5: the paper: more than 30 % of the dimensions can go
EARLY_SHARE = 0.9  # C-E6: the probe has reached 90 % of its final R² ...
AHEAD_SHARE = 0.5  # ... while the layers still have, on average, at least half of their way to their final values
# ahead: ‖θ_t − θ_T‖ / ‖θ_0 − θ_T‖ ≥ 0.5. (The cosine to the final values is also reported, but averaged over the
# layers it is already high, about 0.9, at step 0 in short trainings, where parameters move little against their
# initial norm and LayerNorm gains start at 1, so it tells little about convergence there.)


def _validate_common(cfg: Any, ints: tuple[str, ...], floats: tuple[str, ...] = ()) -> None:
    for f in ints:
        positive(f, getattr(cfg, f), integer=True)
    for f in floats:
        positive(f, getattr(cfg, f))


# --------------------------------------------------------------------------------------------------------------------
# tpe-models: train once


@dataclass(frozen=True)
class TPEModelsConfig(ExperimentConfig):
    """Small GPT-style causal LMs on the Wikipedia sample: main (untied, no output bias), tied, output bias, widths."""

    name: ClassVar[str] = "tpe-models"

    vocab_size: int = 2000  # word-level, specials included; the paper's models: GPT-2/Pythia BPE (50k)
    d_model: int = 64  # the main, tied and bias models; GPT-2 small 768, Pythia-2.8B 2560
    widths: tuple[int, ...] = (16, 32, 64)  # the dynamics' three sizes (paper: three Pythia sizes, unverified)
    n_layers: int = 2  # paper's models: 12 to 48
    n_heads: int = 2
    ff_mult: int = 4  # d_ff = ff_mult · d_model (GPT-2: 4)
    seq_len: int = 32  # tokens per window (GPT-2: 1024)
    batch_size: int = 16
    steps: int = 600  # updates; each reads a new window (quick: ≈0.8 of a pass over the training split)
    lr: float = 3e-3  # AdamW peak; cosine decay to lr/10 (ours; Pythia: 1.6e-4 to 3.2e-4)
    weight_decay: float = 0.01

    def _validate(self) -> None:
        _validate_common(self, ("vocab_size", "d_model", "n_layers", "n_heads", "ff_mult", "seq_len", "batch_size",
                                "steps"), ("lr",))
        if not self.widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in self.widths):
            raise ConfigError(f"widths must be positive integers, got {self.widths!r}")
        if self.d_model not in self.widths:
            raise ConfigError(f"d_model ({self.d_model}) must be one of widths {self.widths}")
        if any(w % self.n_heads for w in self.widths):
            raise ConfigError(f"every width {self.widths} must be divisible by n_heads ({self.n_heads})")
        if max(self.widths) * 5 >= self.vocab_size:
            raise ConfigError(f"keep d ≪ |V|: widths {self.widths} against vocab_size {self.vocab_size}")

    @classmethod
    def quick(cls) -> TPEModelsConfig:
        return cls(scale="quick", widths=tuple(cls.widths))

    @classmethod
    def paper(cls) -> TPEModelsConfig:
        # A larger model on many passes of the sample (still far from the paper's pretrained GPT-2/Pythia/GPT-J;
        # point --model at a local copy of one of them for the analyses).
        return cls(scale="paper", vocab_size=8000, d_model=256, widths=(64, 128, 256), n_layers=4, n_heads=4,
                   seq_len=128, batch_size=32, steps=30_000, lr=1e-3)

    def variants(self) -> dict[str, tuple[int, bool, bool]]:
        """name → (d_model, tied, output_bias): main, tied, bias, and one untied model per other width."""
        out = {"main": (self.d_model, False, False), "tied": (self.d_model, True, False),
               "bias": (self.d_model, False, True)}
        out |= {f"d{w}": (w, False, False) for w in self.widths if w != self.d_model}
        return out

    def width_variant(self, w: int) -> str:
        return "main" if w == self.d_model else f"d{w}"


def build_model(cfg: TPEModelsConfig, variant: str, vocab_size: int) -> TransformerLanguageModel:
    d, tied, bias = cfg.variants()[variant]
    return TransformerLanguageModel(vocab_size, d, cfg.n_layers, cfg.n_heads, cfg.ff_mult * d, max_len=cfg.seq_len,
                                    tied=tied, output_bias=bias)


class CheckpointTask(StreamTask):
    """:class:`StreamTask` for a fixed number of steps that keeps every model's parameters at the checkpoint steps
    (in memory, for the dynamics)."""

    def __init__(self, names: tuple[str, ...], train: np.ndarray, batch_size: int, bptt: int, steps: int,
                 valid: np.ndarray, keep_at: list[int]) -> None:
        epochs = max(1, math.ceil(steps / max(1, (len(train) // batch_size - 1) // bptt)))
        super().__init__(names, train, batch_size, bptt, epochs, valid=valid)
        self.steps = steps
        self.keep_at = set(keep_at)
        self.snapshots: dict[int, dict[str, dict[str, torch.Tensor]]] = {}

    def observe(self, model: nn.ModuleDict, step: int) -> None:
        super().observe(model, step)
        if step in self.keep_at:
            self.snapshots[step] = {k: {n: p.detach().clone() for n, p in model[k].state_dict().items()}
                                    for k in self.names}


def parameter_group(name: str) -> str:
    """The layer a parameter belongs to: emb_in, pos, layer<i>, norm, emb_out."""
    if name.startswith("encoder.layers."):
        return f"layer{name.split('.')[2]}"
    return name.split(".")[0]


def group_order(group: str) -> tuple:
    """Sort key of the parameter groups: emb_in, pos, then by name with the layers in numeric order."""
    m = re.fullmatch(r"layer(\d+)", group)
    return (group != "emb_in", group != "pos", "layer" if m else group, int(m[1]) if m else 0)


def distances_to_final(now: dict[str, torch.Tensor], final: dict[str, torch.Tensor], group_of: dict[str, str],
                       groups: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per group of parameters (flattened and concatenated in float64, one group at a time), the cosine of θ_t to
    θ_T and the relative distance ‖θ_t − θ_T‖/‖θ_T‖: ((G,), (G,))."""
    cos, rel = np.zeros(len(groups)), np.zeros(len(groups))
    for j, g in enumerate(groups):
        names = [n for n in final if group_of[n] == g]
        end = torch.cat([final[n].double().flatten() for n in names])
        t = torch.cat([now[n].double().flatten() for n in names])
        cos[j] = float(t @ end / (t.norm() * end.norm()))
        rel[j] = float((t - end).norm() / end.norm())
    return cos, rel


def convergence(snapshots: dict[int, dict[str, torch.Tensor]], steps: list[int]) -> tuple[list[str], np.ndarray,
                                                                                          np.ndarray]:
    """Per layer, the cosine of its parameters (flattened) to their final values and their relative distance
    ‖θ_t − θ_T‖/‖θ_T‖, at every checkpoint: (groups, (K, G), (K, G))."""
    final = snapshots[steps[-1]]
    group_of = {n: parameter_group(n) for n in final}
    groups = sorted(set(group_of.values()), key=group_order)
    cos, rel = (np.stack(a) for a in zip(*(distances_to_final(snapshots[s], final, group_of, groups)
                                           for s in steps), strict=True))
    return groups, cos, rel


def train_models(cfg: TPEModelsConfig, stop_after: int | None = None):
    """Train every variant side by side on the same windows with :func:`fit`; returns (models, task, corpus)."""
    corpus = load_corpus("wikipedia", vocab_size=cfg.vocab_size)
    seed_everything(cfg.seeds[0])
    names = tuple(cfg.variants())
    models = nn.ModuleDict({k: build_model(cfg, k, corpus.vocab_size) for k in names})
    task = CheckpointTask(names, corpus.train, cfg.batch_size, cfg.seq_len, cfg.steps, corpus.valid,
                          log_spaced_steps(cfg.steps))
    optim = OptimSpec("adamw", lr=cfg.lr, weight_decay=cfg.weight_decay, schedule="cosine", t_max=cfg.steps,
                      eta_min=cfg.lr / 10, clip=1.0)
    fit(models, task, steps=cfg.steps, optim=optim, stop_after=stop_after, desc="tpe-models")
    return models, task, corpus


def run_models(cfg: TPEModelsConfig) -> Result:
    start = time.perf_counter()
    models, task, corpus = train_models(cfg)
    train_s = time.perf_counter() - start
    steps = sorted(task.snapshots)
    V = corpus.vocab_size
    counts = np.bincount(corpus.train, minlength=V)
    p_uni = (counts + 1.0) / (counts.sum() + V)
    arrays: dict[str, np.ndarray] = {"steps": np.array(steps), "train_counts": counts}
    metrics: dict[str, Any] = {"variants": {}, "checkpoint_steps": steps, "vocab_size": V,
                               "unigram_ppl": float(np.exp(-np.log(p_uni[corpus.valid]).mean())),
                               "train_tokens": int(cfg.steps * cfg.batch_size * cfg.seq_len),
                               "train_split_tokens": len(corpus.train)}
    for k in task.names:
        snaps = {s: task.snapshots[s][k] for s in steps}
        groups, cos, rel = convergence(snaps, steps)
        arrays[f"cos.{k}"], arrays[f"rel.{k}"] = cos, rel
        if k in {cfg.width_variant(w) for w in cfg.widths}:  # the dynamics' probes read these (float16: half the
            # size; the probe's R² does not notice)
            arrays[f"emb_out.{k}"] = np.stack([snaps[s]["emb_out.weight"].numpy() for s in steps]).astype(np.float16)
        arrays[f"loss.{k}"] = np.array(task.losses[k], dtype=np.float32)
        if k in ("main", "tied", "bias"):
            for n, p in models[k].state_dict().items():
                arrays[f"state.{k}.{n}"] = p.detach().numpy()
        d, tied, bias = cfg.variants()[k]
        metrics["variants"][k] = {"d_model": d, "tied": tied, "output_bias": bias, "groups": groups,
                                  "valid_ppl": task.valid_ppl[k],
                                  "parameters": sum(p.numel() for p in models[k].parameters())}
    metrics["timing"] = {"train_s": train_s, "total_s": time.perf_counter() - start}
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def _no_claims(cfg: ExperimentConfig, m: dict) -> list[Claim]:
    return []


register("tpe-models", reproduces="Cho et al. (2025): the small causal LMs every analysis reuses (main untied "
         "without bias; tied; output bias; three widths with log-spaced checkpoints)", chapter=CHAPTER,
         config_cls=TPEModelsConfig, judge=_no_claims, cost=110)(run_models)


# --------------------------------------------------------------------------------------------------------------------
# The analysed model: one of ours, or a Hugging Face folder


@dataclass
class Subject:
    """What every analysis reads: final hidden states, the output embedding and bias, the texts as id sequences."""

    name: str
    hidden: Callable[[torch.Tensor], torch.Tensor]  # (b, s) ids -> (b, s, d) final hidden states
    logits: Callable[[torch.Tensor], torch.Tensor]  # the model's own logits (identity check)
    emb_out: torch.Tensor  # (V, d)
    bias: torch.Tensor | None  # (V,)
    texts: dict[str, torch.Tensor]  # "estimation", "held_out", "ood" -> (n, seq) ids
    exclude: np.ndarray  # token ids left out of every regression (specials, [UNK])
    vocab: list[str]


@dataclass(frozen=True)
class AnalysisConfig(ExperimentConfig):
    """Shared fields of the analyses (encoding, steering, deletion)."""

    model_dir: str = ""  # "": our models (tpe-models at the same scale); else a HF causal-LM folder (--model DIR)
    text_tokens: int = 16_384  # tokens of each text (estimation, held-out, OOD); paper: unknown
    seq_len: int = 32  # window for a --model folder (ours use their training window); paper: unknown
    folds: int = 5  # cross-validation over tokens

    def _validate(self) -> None:
        _validate_common(self, ("text_tokens", "seq_len", "folds"))
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, got {self.folds}")
        if self.model_dir and not Path(self.model_dir).expanduser().is_dir():
            raise ModelDirError(f"--model {self.model_dir}: no such folder")

    def preflight(self) -> None:
        """Check a --model folder fully before any work (weights, tokenizer, a language-model head)."""
        if self.model_dir:
            check_model_dir(self.model_dir)
            load_causal_lm(self.model_dir)

    def models_config(self) -> TPEModelsConfig:
        return TPEModelsConfig.for_scale(self.scale)


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 32) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


def our_model(mcfg: TPEModelsConfig, models: Result, variant: str) -> TransformerLanguageModel:
    """A trained model of ``tpe-models`` rebuilt from its stored parameters."""
    model = build_model(mcfg, variant, models.metrics["vocab_size"])
    prefix = f"state.{variant}."
    model.load_state_dict({k[len(prefix):]: torch.as_tensor(v) for k, v in models.arrays.items()
                           if k.startswith(prefix)})
    return model.eval()


@functools.cache
def _wiki_splits() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The words of the Wikipedia sample's train, validation and test splits (read once per process)."""
    docs, _, _ = _source_documents("wikipedia")
    train, valid, test = split_documents(docs, (0.8, 0.1, 0.1), 0)  # the split of load_corpus (its defaults)
    return tuple(train), tuple(valid), tuple(test)


def _wiki_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    _, valid, test = _wiki_splits()
    return valid, test


def encode_blocks(tok, text: str, n_tokens: int, seq_len: int) -> torch.Tensor:
    """The first ``n_tokens`` tokens of ``text`` under a Hugging Face tokenizer, cut into windows: (n, seq_len)."""
    ids = np.asarray(tok(text[: n_tokens * 12])["input_ids"], dtype=np.int64)[:n_tokens]
    return blocks(ids, seq_len)


def our_subjects(cfg: AnalysisConfig, variants: tuple[str, ...]) -> dict[str, Subject]:
    mcfg = cfg.models_config()
    models = run_or_load(mcfg)
    corpus = load_corpus("wikipedia", vocab_size=mcfg.vocab_size)
    ood = corpus.encode(words(gensim_data_path(OOD_FILE).read_text(encoding="utf8")))
    texts = {"estimation": corpus.valid, "held_out": corpus.test, "ood": ood}
    texts_t = {k: blocks(v[: cfg.text_tokens], mcfg.seq_len) for k, v in texts.items()}
    out = {}
    for v in variants:
        m = our_model(mcfg, models, v)
        out[v] = Subject(v, m.hidden, m, m.emb_out.weight.detach(),
                         None if m.emb_out.bias is None else m.emb_out.bias.detach(), texts_t,
                         np.arange(len(SPECIALS)), list(corpus.vocab))
    return out


def hf_subject(cfg: AnalysisConfig) -> Subject:
    lm = load_causal_lm(cfg.model_dir)
    tok = lm.tokenizer
    seq = min(cfg.seq_len, lm.max_len)
    valid, test = _wiki_words()
    ood = gensim_data_path(OOD_FILE).read_text(encoding="utf8")
    texts = {k: encode_blocks(tok, t, cfg.text_tokens, seq)
             for k, t in (("estimation", " ".join(valid)), ("held_out", " ".join(test)), ("ood", ood))}
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    vocab += [f"<unused {i}>" for i in range(len(vocab), lm.emb_out.shape[0])]
    exclude = np.array(sorted(set(tok.all_special_ids) | set(range(len(tok), lm.emb_out.shape[0]))), dtype=np.int64)
    return Subject(Path(cfg.model_dir).name, lm.hidden, lm.logits, lm.emb_out.float(),
                   None if lm.bias is None else lm.bias.float(), texts, exclude, vocab)


def subjects(cfg: AnalysisConfig, variants: tuple[str, ...] = ("main",)) -> dict[str, Subject]:
    """The models an analysis reads: ours (``variants``) or the --model folder (one subject, "model")."""
    return {"model": hf_subject(cfg)} if cfg.model_dir else our_subjects(cfg, variants)


@torch.no_grad()
def final_hidden(subject: Subject, text: str) -> torch.Tensor:
    """Final hidden states of every position of a text: (N, d), float32."""
    x = subject.texts[text]
    h = _batched(subject.hidden, x)  # (n, seq, d)
    return h.reshape(-1, h.shape[-1]).float()


@torch.no_grad()
def logit_identity(subject: Subject) -> float:
    """max |h·E_outᵀ + b − the model's logits| relative to the largest logit, on a few sequences: the analyses'
    view of the model reproduces it."""
    x = subject.texts["estimation"][:4]
    ours = subject.hidden(x) @ subject.emb_out.T + (0 if subject.bias is None else subject.bias)
    theirs = subject.logits(x)[..., : subject.emb_out.shape[0]]
    return float((ours - theirs).abs().max() / theirs.abs().max())


def keep_tokens(subject: Subject) -> np.ndarray:
    keep = np.ones(subject.emb_out.shape[0], dtype=bool)
    keep[subject.exclude] = False
    return keep


def encoding_of(subject: Subject, h: torch.Tensor, folds: int, seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """α over the positions of h, and the MLR of −log α on E_out over the kept tokens: (fit, α, kept ids)."""
    alpha = averaged_probabilities(h, subject.emb_out, subject.bias).numpy()
    keep = np.flatnonzero(keep_tokens(subject))
    e = subject.emb_out.double().numpy()[keep]
    return fit_encoding(e, -np.log(alpha[keep]), folds=folds, seed=seed), alpha, keep


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------------------------------------------------
# tpe-encoding


@dataclass(frozen=True)
class EncodingConfig(AnalysisConfig):
    """The encoding: α, the MLR, cos(A, −h̄), PCA, sparsity; main model and the tied and bias ablations."""

    name: ClassVar[str] = "tpe-encoding"

    random_subsets: int = 5  # random k-subsets of dimensions per k (the sparsity baseline)

    def _validate(self) -> None:
        super()._validate()
        positive("random_subsets", self.random_subsets, integer=True)

    @classmethod
    def quick(cls) -> EncodingConfig:
        return cls(scale="quick")

    @classmethod
    def paper(cls) -> EncodingConfig:
        return cls(scale="paper", text_tokens=65_536, seq_len=128)


def sparsity_curve(e: np.ndarray, y: np.ndarray, a: np.ndarray, folds: int, seed: int, subsets: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out R² of the MLR on the top-k dimensions by |A|, and on random k-subsets (mean), for k = 1, 2, 4, …, d."""
    d = e.shape[1]
    ks = np.unique(np.array([*[2**i for i in range(int(math.log2(d)) + 1)], d]))
    order = np.argsort(-np.abs(a), kind="stable")
    rng = numpy_rng(seed, 7)
    top = np.array([fit_encoding(e[:, order[:k]], y, folds=folds, seed=seed).r2_cv for k in ks])
    rand = np.array([np.mean([fit_encoding(e[:, rng.choice(d, k, replace=False)], y, folds=folds, seed=seed).r2_cv
                              for _ in range(subsets)]) for k in ks])
    return ks, top, rand


def run_encoding(cfg: EncodingConfig) -> Result:
    start = time.perf_counter()
    seed = cfg.seeds[0]
    subs = subjects(cfg, ("main", "tied", "bias"))
    metrics: dict[str, Any] = {"subject": "model" if cfg.model_dir else "main", "models": {}}
    arrays: dict[str, np.ndarray] = {}
    counts = None if cfg.model_dir else run_or_load(cfg.models_config()).arrays["train_counts"]
    for key, s in subs.items():
        h = final_hidden(s, "held_out")  # D: held-out text (the model never trained on it)
        fit_, alpha, keep = encoding_of(s, h, cfg.folds, seed)
        hbar = h.double().mean(0).numpy()
        e = s.emb_out.double().numpy()[keep]
        y = -np.log(alpha[keep])
        m: dict[str, Any] = {
            "d_model": int(e.shape[1]), "vocab_size": int(s.emb_out.shape[0]), "n_tokens_fit": int(len(keep)),
            "n_positions": int(len(h)), "r2_fit": fit_.r2_fit, "r2_cv": fit_.r2_cv, "spearman_cv": fit_.spearman_cv,
            "cos_A_neg_hbar": _cos(fit_.A, -hbar), "logit_identity": logit_identity(s),
            "max_prob_mean": float(torch.softmax(h[:2048] @ s.emb_out.T + (0 if s.bias is None else s.bias),
                                                 -1).max(-1).values.mean()),
            "alpha_top": [s.vocab[int(i)] for i in keep[np.argsort(y)[:5]]],
        }
        if s.bias is not None:  # where does the frequency information go? the bias against log α
            b = s.bias.double().numpy()[keep]
            m["spearman_bias_log_alpha"] = spearman(b, -y)
            m["r2_cv_with_bias_removed"] = fit_encoding(e, y + b, folds=cfg.folds, seed=seed).r2_cv
        if counts is not None:  # a frequency probe on the output embedding (the dynamics' probe, at the end)
            logf = np.log((counts[keep] + 1.0) / (counts.sum() + len(counts)))
            m["freq_probe_r2_cv"] = fit_encoding(e, logf, folds=cfg.folds, seed=seed).r2_cv
            if s.bias is not None:
                m["spearman_bias_log_freq"] = spearman(s.bias.double().numpy()[keep], logf)
        metrics["models"][key] = m
        if key == metrics["subject"]:
            ks, top, rand = sparsity_curve(e, y, fit_.A, cfg.folds, seed, cfg.random_subsets)
            k_sparse = max(1, math.ceil(SPARSE_FRACTION * e.shape[1]))
            m["sparse_k"] = k_sparse
            m["r2_cv_top_k"] = fit_encoding(e[:, np.argsort(-np.abs(fit_.A))[:k_sparse]], y, folds=cfg.folds,
                                            seed=seed).r2_cv
            absa = np.sort(np.abs(fit_.A))[::-1]
            m["top_k_share_of_A2"] = float((absa[:k_sparse] ** 2).sum() / (absa**2).sum())
            xy, share = pca2(e)
            m["pca_share"] = share.tolist()
            m["pca_pc1_spearman_log_alpha"] = spearman(xy[:, 0], -y)
            arrays.update(y=y, pred_cv=fit_.pred_cv, A=fit_.A, hbar=hbar, pca=xy, sparsity_k=ks, sparsity_top=top,
                          sparsity_random=rand)
    metrics["timing"] = {"total_s": time.perf_counter() - start}
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def _subject(m: dict[str, Any]) -> dict[str, Any]:
    return m["models"][m["subject"]]


def judge_encoding(cfg: EncodingConfig, m: dict[str, Any]) -> list[Claim]:
    s = _subject(m)
    name = "main model" if m["subject"] == "main" else m["subject"]
    return [
        identity("C-D1", "The analyses' view of the model, logits = h·E_outᵀ (+ b) from the final hidden states, "
                 "reproduces the model's own logits.", "the decomposition the encoding rests on (Sec. 3)",
                 f"max relative difference {s['logit_identity']:.1e}", s["logit_identity"] < 1e-4),
        judge("C-E1", "The MLR of −log α on the output embeddings fits well on held-out tokens.",
              f"log-linear fit validated on GPT-2 and GPT-J (Fig. 2); here: R² ≥ {R2_GOOD} and Spearman ≥ "
              f"{RHO_GOOD} on tokens not used to fit ({cfg.folds}-fold)",
              f"{name}: held-out R² {s['r2_cv']:.3f}, Spearman {s['spearman_cv']:.3f} ({s['n_tokens_fit']:,} tokens, "
              f"d = {s['d_model']})", s["r2_cv"] >= R2_GOOD and s["spearman_cv"] >= RHO_GOOD),
        judge("C-E2", "The encoding's direction A is close to the negated mean final hidden state −h̄ (the "
              "derivation's first-order prediction).", f"A ≈ −h̄ direction (derivation, Sec. 3); here: cosine ≥ "
              f"{COS_CLOSE}", f"{name}: cos(A, −h̄) = {s['cos_A_neg_hbar']:.3f}", s["cos_A_neg_hbar"] >= COS_CLOSE),
        judge("C-E3", "A is sparse: a few dimensions with the largest |A| recover most of the fit.",
              f"a few large coefficients, the rest near zero (Fig. 4); here: the top {SPARSE_FRACTION:.1%} of the "
              f"dimensions by |A| recover ≥ {SPARSE_SHARE:.0%} of the full held-out R²",
              f"{name}: top {s['sparse_k']} of {s['d_model']} dimensions give held-out R² {s['r2_cv_top_k']:.3f} "
              f"against {s['r2_cv']:.3f} with all ({s['r2_cv_top_k'] / s['r2_cv']:.0%}); they carry "
              f"{s['top_k_share_of_A2']:.0%} of ‖A‖²", s["r2_cv_top_k"] >= SPARSE_SHARE * s["r2_cv"],
              fit_good(m)),
    ]


def fit_good(m: dict[str, Any]) -> Precondition:
    """Sparsity of A and steering along it mean something only where the encoding fits (C-E1's R² rule)."""
    s = _subject(m)
    return Precondition(text=f"the encoding fits on held-out tokens (R² ≥ {R2_GOOD})",
                        measured=f"held-out R² {s['r2_cv']:.3f}", met=s["r2_cv"] >= R2_GOOD,
                        remedy="python -m tiedemb run tpe-encoding --scale paper, or --model DIR")


register("tpe-encoding", reproduces="Cho et al. (2025) Figs. 1–4: α, the MLR of −log α on E_out, cos(A, −h̄), PCA, "
         "sparsity; tied and output-bias ablations (or --model DIR)", chapter=CHAPTER, config_cls=EncodingConfig,
         judge=judge_encoding, after=("tpe-models",), cost=15)(run_encoding)


# --------------------------------------------------------------------------------------------------------------------
# tpe-steering


@dataclass(frozen=True)
class SteeringConfig(AnalysisConfig):
    """Edit output-embedding rows along A to multiply chosen tokens' α by r."""

    name: ClassVar[str] = "tpe-steering"

    ratios: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)  # paper: up to about 20×
    n_tokens: int = 24  # steered tokens, spread evenly over the α ranks
    steer_fraction: float = 0.25  # Ω = 1/k on the top k = fraction·d dimensions by |A| (ours; pitfall: A⁻¹)
    few_shot: tuple[int, ...] = (1, 2, 4, 8, 32, 128, 0)  # sequences used to estimate A (0: the whole text)

    def _validate(self) -> None:
        super()._validate()
        if not self.ratios or any(isinstance(r, bool) or not isinstance(r, int | float) or not 0 < r < math.inf
                                  for r in self.ratios):
            raise ConfigError(f"ratios must be positive numbers (a ratio ≤ 0 cannot multiply a probability), got "
                              f"{self.ratios!r}")
        positive("n_tokens", self.n_tokens, integer=True)
        if not 0 < self.steer_fraction <= 1:
            raise ConfigError(f"steer_fraction must lie in (0, 1], got {self.steer_fraction!r}")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in self.few_shot):
            raise ConfigError(f"few_shot must be non-negative integers (0: the whole text), got {self.few_shot!r}")

    @classmethod
    def quick(cls) -> SteeringConfig:
        return cls(scale="quick", ratios=tuple(cls.ratios), few_shot=tuple(cls.few_shot))

    @classmethod
    def paper(cls) -> SteeringConfig:
        return cls(scale="paper", ratios=tuple(cls.ratios), few_shot=tuple(cls.few_shot), text_tokens=65_536,
                   seq_len=128, n_tokens=64)


def chosen_tokens(alpha: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """n kept tokens spread evenly over the ranks of α (most to least probable)."""
    order = keep[np.argsort(-alpha[keep], kind="stable")]
    return order[np.unique(np.linspace(0, len(order) - 1, n).round().astype(int))]


@torch.no_grad()
def chosen_log_probs(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, tokens: np.ndarray) -> torch.Tensor:
    """log p_{n,w} of the chosen tokens at every position: (N, T)."""
    idx = torch.as_tensor(tokens)
    return torch.cat([torch.log_softmax((h[i : i + 2048] @ w.T + (0 if b is None else b)).double(), -1)[:, idx]
                      for i in range(0, len(h), 2048)])


def run_steering(cfg: SteeringConfig) -> Result:
    start = time.perf_counter()
    s = next(iter(subjects(cfg).values()))
    seed = cfg.seeds[0]
    hs = {k: final_hidden(s, k) for k in ("estimation", "held_out", "ood")}
    fit_, alpha, keep = encoding_of(s, hs["estimation"], cfg.folds, seed)
    d = s.emb_out.shape[1]
    k = max(1, round(cfg.steer_fraction * d))
    delta = steering_direction(fit_.A, k)
    tokens = chosen_tokens(alpha, keep, cfg.n_tokens)
    log_r = np.log(np.asarray(cfg.ratios, dtype=np.float64))
    metrics: dict[str, Any] = {"subject": s.name, "d_model": d, "steer_k": k, "r2_cv": fit_.r2_cv,
                               "tokens": [s.vocab[int(t)] for t in tokens], "texts": {}}
    arrays: dict[str, np.ndarray] = {"ratios": np.asarray(cfg.ratios), "tokens": tokens,
                                     "token_alpha": alpha[tokens]}
    for name, h in hs.items():
        ratio, js = steered_ratios(h, chosen_log_probs(h, s.emb_out, s.bias, tokens), delta, log_r)
        others = other_tokens_js(h, s.emb_out, s.bias, tokens, delta, log_r)
        med = np.median(ratio, axis=0)
        err = np.abs(np.log(ratio) - log_r[None, :])
        arrays[f"achieved.{name}"], arrays[f"js.{name}"], arrays[f"others_js.{name}"] = ratio, js, others
        metrics["texts"][name] = {
            "n_positions": int(len(h)), "median_ratio": med.tolist(),
            "worst_median_factor": float(np.exp(np.abs(np.log(med) - log_r).max())),
            "median_abs_log_error": float(np.median(err)), "max_js": float(js.max()),
            "max_others_js": float(others.max()), "median_others_js_at_20": float(np.median(others[:, -1])),
        }
    # A from a few sequences of the estimation text; steering then measured on the held-out text
    few = []
    seq = s.texts["estimation"].shape[1]
    n_seq = len(s.texts["estimation"])
    lp_held = chosen_log_probs(hs["held_out"], s.emb_out, s.bias, tokens)
    for n in cfg.few_shot:
        n_use = n_seq if n == 0 or n > n_seq else n
        a_n = fit_encoding(s.emb_out.double().numpy()[keep],
                           -np.log(averaged_probabilities(hs["estimation"][: n_use * seq], s.emb_out,
                                                          s.bias).numpy()[keep]), folds=cfg.folds, seed=seed)
        ratio, _ = steered_ratios(hs["held_out"], lp_held, steering_direction(a_n.A, k), log_r, with_js=False)
        few.append({"sequences": n_use, "tokens": n_use * seq, "cos_to_full_A": _cos(a_n.A, fit_.A),
                    "median_abs_log_error": float(np.median(np.abs(np.log(ratio) - log_r[None, :]))),
                    "worst_median_factor": float(np.exp(np.abs(np.log(np.median(ratio, 0)) - log_r).max()))})
    metrics["few_shot"] = few
    metrics["timing"] = {"total_s": time.perf_counter() - start}
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def judge_steering(cfg: SteeringConfig, m: dict[str, Any]) -> list[Claim]:
    t = m["texts"]
    worst = max(t[k]["worst_median_factor"] for k in t)
    words_ = "; ".join(f"{k.replace('_', '-')}: worst median factor {t[k]['worst_median_factor']:.2f}, median "
                       f"|log error| {t[k]['median_abs_log_error']:.2f}" for k in t)
    pre = Precondition(text=f"the encoding used for steering fits on held-out tokens (R² ≥ {R2_GOOD})",
                       measured=f"held-out R² {m['r2_cv']:.3f}", met=m["r2_cv"] >= R2_GOOD,
                       remedy="python -m tiedemb run tpe-steering --scale paper, or --model DIR")
    return [judge("C-E4", "Editing a token's output embedding along A multiplies its probability by the target "
                  "ratio r, for r from 1/20 to 20, on the estimation text, held-out text and out-of-distribution "
                  "text.", f"accurate up to about 20× (Fig. 5); here: the median over {len(m['tokens'])} tokens of "
                  f"the achieved ratio within a factor {STEER_FACTOR} of r at every r, on every text",
                  f"{m['subject']}, k = {m['steer_k']} of {m['d_model']} dimensions: {words_}",
                  worst <= STEER_FACTOR, pre)]


register("tpe-steering", reproduces="Cho et al. (2025) Figs. 5, 6 and the appendix grids: achieved against target "
         "ratio on estimation, held-out and OOD text; side effects; few-shot A (or --model DIR)", chapter=CHAPTER,
         config_cls=SteeringConfig, judge=judge_steering, after=("tpe-models",), cost=10)(run_steering)


# --------------------------------------------------------------------------------------------------------------------
# tpe-deletion


@dataclass(frozen=True)
class DeletionConfig(AnalysisConfig):
    """Zero output dimensions by increasing |A|, against random and decreasing orders."""

    name: ClassVar[str] = "tpe-deletion"

    fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    random_orders: int = 2  # random orders averaged
    prompts: int = 8  # held-out prompts continued by the edited model
    prompt_len: int = 8
    gen_len: int = 12  # sampled continuation length (shared Gumbel noise across edits)
    positions: int = 2048  # held-out positions over which KL/JS are averaged

    def _validate(self) -> None:
        super()._validate()
        if not self.fractions or any(not 0 <= f < 1 for f in self.fractions):
            raise ConfigError(f"fractions must lie in [0, 1), got {self.fractions!r}")
        for f in ("random_orders", "prompts", "prompt_len", "gen_len", "positions"):
            positive(f, getattr(self, f), integer=True)

    @classmethod
    def quick(cls) -> DeletionConfig:
        return cls(scale="quick", fractions=tuple(cls.fractions))

    @classmethod
    def paper(cls) -> DeletionConfig:
        return cls(scale="paper", fractions=tuple(cls.fractions), text_tokens=65_536, seq_len=128, prompts=64,
                   prompt_len=32, gen_len=64, positions=32_768)


@torch.no_grad()
def continuation_nll(s: Subject, prompts: torch.Tensor, keep: torch.Tensor, gumbel: torch.Tensor) -> float:
    """Sample continuations with the edited output layer (Gumbel-max with the given noise), and return their mean
    negative log-likelihood (nats per token) under the unedited model: the generation-quality measure."""
    x = prompts
    w = s.emb_out * keep
    for t in range(gumbel.shape[1]):
        h = s.hidden(x)[:, -1]  # (b, d)
        logits = h @ w.T + (0 if s.bias is None else s.bias)
        x = torch.cat([x, (torch.log_softmax(logits, -1) + gumbel[:, t]).argmax(-1, keepdim=True)], dim=1)
    h = s.hidden(x[:, :-1])[:, prompts.shape[1] - 1 :]  # positions predicting the continuation
    lp = torch.log_softmax(h @ s.emb_out.T + (0 if s.bias is None else s.bias), -1)
    return float(-lp.gather(-1, x[:, prompts.shape[1] :, None]).mean())


def run_deletion(cfg: DeletionConfig) -> Result:
    start = time.perf_counter()
    s = next(iter(subjects(cfg).values()))
    seed = cfg.seeds[0]
    h_est = final_hidden(s, "estimation")
    h = final_hidden(s, "held_out")[: cfg.positions]
    fit_, _, _ = encoding_of(s, h_est, cfg.folds, seed)
    d = s.emb_out.shape[1]
    by_a = np.argsort(np.abs(fit_.A), kind="stable")
    rng = numpy_rng(seed, 11)
    orders = {"increasing": [by_a], "decreasing": [by_a[::-1]],
              "random": [rng.permutation(d) for _ in range(cfg.random_orders)]}
    held = s.texts["held_out"]
    n_p = min(cfg.prompts, len(held))
    prompt_len = min(cfg.prompt_len, held.shape[1] - 1)
    gen_len = min(cfg.gen_len, held.shape[1] - prompt_len)
    prompts = held[:n_p, :prompt_len]
    g = torch.Generator().manual_seed(seed)
    gumbel = -torch.log(-torch.log(torch.rand(n_p, gen_len, s.emb_out.shape[0], generator=g).clamp_min(1e-12)))
    arrays: dict[str, np.ndarray] = {"fractions": np.asarray(cfg.fractions)}
    metrics: dict[str, Any] = {"subject": s.name, "d_model": d, "orders": {}}
    base = None
    for name, perms in orders.items():
        kl = np.zeros((len(perms), len(cfg.fractions)))
        js, nll = np.zeros_like(kl), np.zeros_like(kl)
        for i, perm in enumerate(perms):
            for j, f in enumerate(cfg.fractions):
                n_del = int(round(f * d))
                if n_del == 0 and base is not None:  # nothing deleted: the same for every order
                    kl[i, j], js[i, j], nll[i, j] = base
                    continue
                keep = torch.ones(d)
                keep[torch.as_tensor(perm[:n_del].copy())] = 0
                kl[i, j], js[i, j] = divergence_after_deletion(h, s.emb_out, s.bias, keep)
                nll[i, j] = continuation_nll(s, prompts, keep, gumbel)
                if n_del == 0:
                    base = (kl[i, j], js[i, j], nll[i, j])
        arrays[f"kl.{name}"], arrays[f"js.{name}"], arrays[f"nll.{name}"] = kl, js, nll
        mean_js = js.mean(0)
        ok = [f for f, v in zip(cfg.fractions, mean_js, strict=True) if v <= JS_NOTICEABLE]
        below = 0.0
        for f, v in zip(cfg.fractions, mean_js, strict=True):  # the largest fraction before the first crossing
            if v > JS_NOTICEABLE:
                break
            below = f
        metrics["orders"][name] = {"js": mean_js.tolist(), "kl": kl.mean(0).tolist(), "nll": nll.mean(0).tolist(),
                                   "deletable_fraction": below, "n_below": len(ok)}
    j30 = int(np.argmin(np.abs(np.asarray(cfg.fractions) - DELETE_PAPER)))
    metrics["at_paper_fraction"] = {"fraction": cfg.fractions[j30], **{k: metrics["orders"][k]["js"][j30]
                                                                       for k in orders}}
    metrics["nll_undeleted"] = metrics["orders"]["increasing"]["nll"][0]
    metrics["timing"] = {"total_s": time.perf_counter() - start}
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def judge_deletion(cfg: DeletionConfig, m: dict[str, Any]) -> list[Claim]:
    o, at = m["orders"], m["at_paper_fraction"]
    frac = o["increasing"]["deletable_fraction"]
    holds = frac >= DELETE_PAPER and at["increasing"] < min(at["random"], at["decreasing"])
    return [judge("C-E5", "Output dimensions with small |A| can be deleted: at least 30 % of them, in increasing-|A| "
                  "order, before the output distribution moves noticeably, and that order moves it less than random "
                  "or decreasing order.", f"more than 30 % (30–40 %) deletable (Fig. 7; the 30–40 % is second-hand); "
                  f"here: mean per-position JS ≤ {JS_NOTICEABLE} nats up to ≥ {DELETE_PAPER:.0%}, and at "
                  f"{at['fraction']:.0%} increasing < random and decreasing",
                  f"{m['subject']}: deletable before JS > {JS_NOTICEABLE}: increasing {frac:.0%}, random "
                  f"{o['random']['deletable_fraction']:.0%}, decreasing {o['decreasing']['deletable_fraction']:.0%};"
                  f" JS at {at['fraction']:.0%}: increasing {at['increasing']:.4f}, random {at['random']:.4f}, "
                  f"decreasing {at['decreasing']:.4f}", holds)]


register("tpe-deletion", reproduces="Cho et al. (2025) Fig. 7: KL/JS and continuation quality against the fraction "
         "of output dimensions deleted, by |A| order (or --model DIR)", chapter=CHAPTER, config_cls=DeletionConfig,
         judge=judge_deletion, after=("tpe-models",), cost=20)(run_deletion)


# --------------------------------------------------------------------------------------------------------------------
# tpe-dynamics


@dataclass(frozen=True)
class DynamicsConfig(ExperimentConfig):
    """The frequency probe at every checkpoint of the three widths, beside the layers' convergence; or at every
    checkpoint of a user's training run (``--model DIR`` with sub-folders ``step<N>``)."""

    name: ClassVar[str] = "tpe-dynamics"

    folds: int = 5
    model_dir: str = ""  # "": our models (tpe-models at the same scale); else a folder of checkpoints step<N>/
    count_tokens: int = 400_000  # --model: training-text tokens counted for the frequencies (ours count their whole
    # training split, 389k words)
    text_tokens: int = 16_384  # --model: held-out tokens for the final checkpoint's perplexity (the precondition)
    seq_len: int = 32  # --model: window of that perplexity (ours use their training window)

    def _validate(self) -> None:
        _validate_common(self, ("folds", "count_tokens", "text_tokens", "seq_len"))
        if self.model_dir and not Path(self.model_dir).expanduser().is_dir():
            raise ModelDirError(f"--model {self.model_dir}: no such folder; expected a folder of checkpoints "
                                f"step<N>/ (N an integer, e.g. step0, step1000)")

    def preflight(self) -> None:
        """Check a --model folder of checkpoints before any work (configs only: steps, weights, vocabulary,
        parameter names and shapes, the final checkpoint's tokenizer and head)."""
        if self.model_dir:
            check_checkpoints(self.model_dir)

    @classmethod
    def quick(cls) -> DynamicsConfig:
        return cls(scale="quick")

    @classmethod
    def paper(cls) -> DynamicsConfig:
        # The paper-scale models (8,000 tokens); more folds, so each probe is fitted on 90 % of the tokens.
        return cls(scale="paper", folds=10, count_tokens=2_000_000, text_tokens=65_536, seq_len=128)


def probe_summary(steps: np.ndarray, r2: np.ndarray, cos: np.ndarray, rel: np.ndarray) -> tuple[dict[str, Any],
                                                                                               np.ndarray]:
    """What C-E6 reads from one model's checkpoints: when the probe's R² (K,) reaches half and 90 % of its final
    value, and how much of their way the parameter groups (cos, rel: (K, G)) still have ahead then; and ahead
    = ‖θ_t − θ_T‖/‖θ_0 − θ_T‖ (K, G) (0 for a group that never moved)."""
    ahead = np.divide(rel, rel[0], out=np.zeros_like(rel), where=rel[0] > 0)  # (K, G): share of the way ahead
    layer_ahead = ahead.mean(1)
    final = r2[-1]
    reached = int(np.argmax(r2 >= EARLY_SHARE * final)) if final > 0 else len(steps) - 1
    half = int(np.argmax(r2 >= 0.5 * final)) if final > 0 else len(steps) - 1
    converged = np.flatnonzero(layer_ahead < AHEAD_SHARE)
    return {
        "early_step": int(steps[reached]), "early_fraction_of_training": float(steps[reached] / steps[-1]),
        "mean_ahead_at_early": float(layer_ahead[reached]), "mean_cos_at_early": float(cos.mean(1)[reached]),
        "half_step": int(steps[half]), "mean_ahead_at_half": float(layer_ahead[half]),
        "min_cos_step0": float(cos[0].min()),
        "converged_step": int(steps[converged[0]]) if len(converged) else int(steps[-1]),
    }, ahead


def run_dynamics(cfg: DynamicsConfig) -> Result:
    if cfg.model_dir:
        return run_dynamics_checkpoints(cfg)
    start = time.perf_counter()
    mcfg = TPEModelsConfig.for_scale(cfg.scale)
    models = run_or_load(mcfg)
    counts = models.arrays["train_counts"]
    keep = np.flatnonzero(counts > 0)
    keep = keep[keep >= len(SPECIALS)]
    logf = np.log((counts[keep] + 1.0) / (counts.sum() + len(counts)))
    steps = models.arrays["steps"]
    seed = cfg.seeds[0]
    rng = numpy_rng(seed, 13)
    shuffled = rng.permutation(logf)
    arrays: dict[str, np.ndarray] = {"steps": steps}
    metrics: dict[str, Any] = {"steps": steps.tolist(), "widths": {}, "n_tokens": int(len(keep))}
    for w in mcfg.widths:
        v = mcfg.width_variant(w)
        emb = models.arrays[f"emb_out.{v}"].astype(np.float64)[:, keep]  # (K, T, d)
        fits = [fit_encoding(e, logf, folds=cfg.folds, seed=seed) for e in emb]
        r2 = np.array([f.r2_cv for f in fits])
        rho = np.array([f.spearman_cv for f in fits])
        cos = models.arrays[f"cos.{v}"]
        summary, ahead = probe_summary(steps, r2, cos, models.arrays[f"rel.{v}"])
        arrays[f"r2.{w}"], arrays[f"rho.{w}"], arrays[f"cos.{w}"], arrays[f"ahead.{w}"] = r2, rho, cos, ahead
        metrics["widths"][str(w)] = {
            "variant": v, "groups": models.metrics["variants"][v]["groups"], "r2_final": float(r2[-1]),
            "r2_step0": float(r2[0]), "spearman_final": float(rho[-1]),
            "r2_shuffled_final": fit_encoding(emb[-1], shuffled, folds=cfg.folds, seed=seed).r2_cv,
            **summary, "valid_ppl": models.metrics["variants"][v]["valid_ppl"],
        }
    metrics["unigram_ppl"] = models.metrics["unigram_ppl"]
    metrics["timing"] = {"total_s": time.perf_counter() - start}
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


# A user's checkpoints


def checkpoint_groups(model: nn.Module) -> dict[str, str]:
    """A Hugging Face model's parameter names → groups named like ours (:func:`parameter_group`): emb_in (the input
    embedding; a tied output embedding with it), pos (other embedding tables, e.g. GPT-2's positions), layer<i> (the
    i-th block: the first number in the name), emb_out (an untied output layer), norm (the rest: normalisation layers
    such as the final LayerNorm) or other (anything else)."""
    emb_in = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    head_name = next((n for n, m in model.named_modules() if m is head), None)
    modules = dict(model.named_modules())
    out = {}
    for name, p in model.named_parameters():  # tied parameters once
        module = name.rpartition(".")[0]
        layer = re.search(r"\.(\d+)\.", name)
        if p is emb_in:
            out[name] = "emb_in"
        elif module == head_name:
            out[name] = "emb_out"
        elif layer is not None:
            out[name] = f"layer{layer[1]}"
        elif isinstance(modules.get(module), nn.Embedding):
            out[name] = "pos"
        else:
            out[name] = "norm" if "norm" in type(modules.get(module)).__name__.lower() else "other"
    return out


def unigram_counts(tok, words_: Sequence[str], n_tokens: int, vocab_size: int, chunk: int = 10_000
                   ) -> tuple[np.ndarray, int]:
    """Token counts (vocab_size,) of the first ``n_tokens`` tokens of the words joined by spaces, under a Hugging
    Face tokenizer, tokenised ``chunk`` words at a time (no special tokens added); and the tokens counted."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    got = 0
    for i in range(0, len(words_), chunk):
        if got >= n_tokens:
            break
        text = (" " if i else "") + " ".join(words_[i : i + chunk])
        ids = np.asarray(tok(text, add_special_tokens=False)["input_ids"], dtype=np.int64)[: n_tokens - got]
        counts += np.bincount(ids, minlength=vocab_size)[:vocab_size]
        got += len(ids)
    return counts, got


@torch.no_grad()
def mean_nll(logits: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, vocab_size: int, batch: int = 16
             ) -> float:
    """Mean next-token negative log-likelihood (nats) of windows x (n, seq), a batch of windows at a time."""
    total, n = 0.0, 0
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        lp = torch.log_softmax(logits(xb)[:, :-1, :vocab_size].double(), -1)  # (b, seq − 1, V)
        total -= float(lp.gather(-1, xb[:, 1:, None]).sum())
        n += xb[:, 1:].numel()
    return total / n


def run_dynamics_checkpoints(cfg: DynamicsConfig) -> Result:
    """The dynamics on a user's checkpoints DIR/step<N>: the final one is loaded first (θ_T, the tokenizer, the
    frequencies), then the others one at a time in step order; two models are in memory at most."""
    start = time.perf_counter()
    ckpts = checkpoint_dirs(cfg.model_dir)
    steps = np.array([n for n, _ in ckpts])
    seed = cfg.seeds[0]
    lm = load_causal_lm(ckpts[-1][1])
    tok = lm.tokenizer
    V, d = lm.emb_out.shape
    train, valid, _ = _wiki_splits()
    counts, counted = unigram_counts(tok, train, cfg.count_tokens, V)
    keep = np.flatnonzero(counts > 0)
    keep = keep[~np.isin(keep, tok.all_special_ids) & (keep < len(tok))]
    if d >= len(keep) // cfg.folds:
        raise ModelDirError(f"--model {cfg.model_dir}: only {len(keep)} token types of the tokenizer occur in the "
                            f"{counted:,} counted tokens of the training text, too few for a frequency probe on "
                            f"d = {d} dimensions with {cfg.folds} folds (it needs d < types / folds)")
    logf = np.log((counts[keep] + 1.0) / (counts.sum() + V))
    shuffled = numpy_rng(seed, 13).permutation(logf)
    x = encode_blocks(tok, " ".join(valid), cfg.text_tokens, min(cfg.seq_len, lm.max_len))
    targets = x[:, 1:].flatten().numpy()
    p_uni = (counts + 1.0) / (counts.sum() + V)

    final = {n: p.detach() for n, p in lm.model.named_parameters()}
    shapes = {n: tuple(p.shape) for n, p in final.items()}
    group_of = checkpoint_groups(lm.model)
    groups = sorted(set(group_of.values()), key=group_order)
    K = len(ckpts)
    r2, rho = np.zeros(K), np.zeros(K)
    cos, rel = np.zeros((K, len(groups))), np.zeros((K, len(groups)))
    for i in [K - 1, *range(K - 1)]:  # the final checkpoint first: every distance is to it
        if i == K - 1:
            model, emb = lm.model, lm.emb_out
        else:
            model, _ = load_lm_with_report(ckpts[i][1])
            emb = model.get_output_embeddings().weight.detach()
        params = {n: p.detach() for n, p in model.named_parameters()}
        if {n: tuple(p.shape) for n, p in params.items()} != shapes or tuple(emb.shape) != (V, d):
            raise ModelDirError(f"--model {cfg.model_dir}: the weights of {ckpts[i][1].name} do not have the final "
                                f"checkpoint's parameter names and shapes")
        e = emb.double().numpy()[keep]
        fit_ = fit_encoding(e, logf, folds=cfg.folds, seed=seed)
        r2[i], rho[i] = fit_.r2_cv, fit_.spearman_cv
        cos[i], rel[i] = distances_to_final(params, final, group_of, groups)
        if i == K - 1:
            r2_shuffled = fit_encoding(e, shuffled, folds=cfg.folds, seed=seed).r2_cv
            valid_ppl = math.exp(mean_nll(lm.logits, x, V))
        del model, params, emb
    summary, ahead = probe_summary(steps, r2, cos, rel)
    name = Path(cfg.model_dir).name
    arrays: dict[str, np.ndarray] = {"steps": steps, f"r2.{d}": r2, f"rho.{d}": rho, f"cos.{d}": cos,
                                     f"ahead.{d}": ahead, "train_counts": counts}
    metrics: dict[str, Any] = {
        "subject": name, "checkpoints": [p.name for _, p in ckpts], "steps": steps.tolist(),
        "widths": {str(d): {"variant": name, "groups": groups, "r2_final": float(r2[-1]), "r2_step0": float(r2[0]),
                            "spearman_final": float(rho[-1]), "r2_shuffled_final": r2_shuffled, **summary,
                            "valid_ppl": valid_ppl}},
        "n_tokens": int(len(keep)), "counted_tokens": counted,
        "unigram_ppl": float(np.exp(-np.log(p_uni[targets]).mean())),
        "timing": {"total_s": time.perf_counter() - start},
    }
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


def judge_dynamics(cfg: DynamicsConfig, m: dict[str, Any]) -> list[Claim]:
    w = m["widths"]
    early = all(v["mean_ahead_at_early"] >= AHEAD_SHARE for v in w.values())
    ours = "subject" not in m  # else a user's checkpoints (--model DIR): one "width", the model's d
    words_ = "; ".join(f"d = {k}: R² {v['r2_final']:.2f} at the end (step {m['steps'][0]}: {v['r2_step0']:.2f}), ≥ "
                       f"{EARLY_SHARE:.0%} of it at step {v['early_step']}, where the layers have "
                       f"{v['mean_ahead_at_early']:.0%} of their way to their final values ahead" for k, v in w.items())
    learned = all(v["valid_ppl"] < m["unigram_ppl"] for v in w.values())
    pre = Precondition(text="every width learned more than unigram statistics (validation perplexity below the "
                       "add-one unigram model's) and its probe ends with R² > 0",
                       measured="; ".join(f"d = {k}: {v['valid_ppl']:.0f} vs {m['unigram_ppl']:.0f}, probe R² "
                                          f"{v['r2_final']:.2f}" for k, v in w.items()),
                       met=learned and all(v["r2_final"] > 0 for v in w.values()),
                       remedy="python -m tiedemb run tpe-dynamics --scale paper" if ours else
                       "checkpoints of a run that trained further")
    return [judge("C-E6", "Output embeddings capture token frequency early in training, before the parameters "
                  "converge.", f"frequency encoded in early steps, before an obvious convergence of the parameters "
                  f"(Fig. 8, Pythia checkpoints); here: for {'each of three widths' if ours else m['subject']}, the "
                  f"probe reaches {EARLY_SHARE:.0%}"
                  f" of its final held-out R² while the layers still have, on average, at least {AHEAD_SHARE:.0%} of "
                  f"their way from initial to final values ahead (‖θ_t − θ_T‖/‖θ_0 − θ_T‖)", words_, early, pre)]


register("tpe-dynamics", reproduces="Cho et al. (2025) Fig. 8: frequency probe on E_out over log-spaced checkpoints "
         "beside per-layer convergence, three widths (or --model DIR of checkpoints step<N>)", chapter=CHAPTER,
         config_cls=DynamicsConfig, judge=judge_dynamics, after=("tpe-models",), cost=5)(run_dynamics)
