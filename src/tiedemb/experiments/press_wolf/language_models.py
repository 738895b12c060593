"""Chapter "Language models with tied embeddings": press2017 Secs. 4-6, Tables 2, 3, 5 and 6.

Two experiments train the paper's four small LSTM language models side by side on the same BPTT windows (one
:func:`~tiedemb.train.loop.fit`, plain SGD with Zaremba et al.'s schedule and clipping, truncated BPTT with the state
carried from window to window): untied, tied (WT; the output bias stays untied), projection-regularised (PR) and
WT + PR.

- ``pw-lm``: real English text, the Wikipedia sample shipped with gensim (or a user's own text file, ``source``);
  Tables 5 and 6 in shape (parameters, train/validation/test perplexity), the parameter counts of the paper's own
  models (PW-E6, an identity) and the perplexity claim PW-E3; the embeddings on SimLex-999 and WordSim-353 with their
  coverage (Table 2 in shape).
- ``pw-lm-synthetic``: the seeded synthetic corpus with planted synonyms (:mod:`tiedemb.data.synthetic`), whose word
  similarity is known exactly: the embeddings as word embeddings (Table 2, PW-E1) and the correlations between the
  embeddings themselves (Table 3, PW-E2).

Units: the authors' TF code sums the cross-entropy over the BPTT steps and averages it over the batch; we average it
over tokens. Their learning rate 1 and clipping norm 5 (10 for the large model) are therefore ``lr × bptt`` and
``clip / bptt`` here (the same updates), and their PR penalty ½‖P‖²/(6.5 · batch) becomes ‖P‖²/(2 · 6.5 · batch · bptt).

Sizes: ``size="small"`` is the authors' SmallConfig (Table 6: the four variants, no dropout); ``size="large"`` is
their LargeConfig, Zaremba et al.'s large model (Table 5: untied and WT only, as the paper reports them; dropout 0.65
on the embedding output, between the layers and on the top layer's output). ``LMConfig.paper(size="large")``, or
``python -m tiedemb run pw-lm --scale paper --size large``; paper-scale runs checkpoint their training every
``checkpoint_every`` steps and resume from the last checkpoint after a kill (:func:`~tiedemb.train.loop.fit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...cache import checkpoint_path
from ...claims import Claim, Precondition, identity, judge
from ...config import ConfigError, ExperimentConfig, one_of, positive
from ...data.corpus import SPECIALS, load_corpus
from ...data.synthetic import CorpusSpec, generate, similarity_pairs
from ...data.wordsim import BENCHMARKS, load_word_pairs
from ...metrics.embeddings import random_pairs, similarity_correlation, structure_correlations
from ...models import LSTMLanguageModel, count_parameters
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...train.lm import StreamTask, perplexity
from ...train.loop import OptimSpec, fit
from .. import register

CHAPTER = "book/press_wolf/language_models"

VARIANTS = ("untied", "tied", "pr", "tied_pr")
"""The four models of Table 6: untied, weight tying (WT), projection regularisation (PR), WT + PR."""

VARIANT_NAMES = {"untied": "untied", "tied": "WT", "pr": "PR", "tied_pr": "WT + PR"}

SIZES = ("small", "large")
"""The paper's two PTB models: small (Table 6) and large (Table 5)."""

SIZE_VARIANTS = {"small": VARIANTS, "large": ("untied", "tied")}
"""The variants the paper reports for each size (Table 6: all four; Table 5: untied and WT)."""

PAPER_SHAPES = {"small": (10_000, 200, 2), "large": (10_000, 1_500, 2)}
"""(vocabulary, hidden size, layers) of the paper's small (Table 6) and large (Table 5) PTB models."""

PAPER_SIZES = {"small": {"untied": 4.65e6, "tied": 2.65e6, "pr": 4.69e6, "tied_pr": 2.69e6},
               "large": {"untied": 66e6, "tied": 51e6}}
"""The sizes printed in the paper: Table 6 (small models, in M to two decimals) and Table 5 (large, whole M)."""

PAPER_SIZE_DECIMALS = {"small": 2, "large": 0}

PAPER_TABLE6 = {"untied": (38.0, 120.7, 114.5), "tied": (36.4, 117.5, 112.4), "pr": (50.8, 116.0, 111.7),
                "tied_pr": (53.5, 104.9, 100.9)}
"""Press & Wolf (2017), Table 6: (train, validation, test) perplexity of the small PTB models without dropout."""

PAPER_TABLE5 = {"untied": (37.8, 82.2, 78.4), "tied": (48.5, 77.7, 74.3)}
"""Press & Wolf (2017), Table 5: (train, validation, test) perplexity of the large PTB models (dropout)."""


def paper_formula_count(vocab_size: int, d_model: int, n_layers: int, *, tied: bool, projection: bool) -> int:
    """The parameter count of the authors' TF model by arithmetic: embeddings (once if tied) + output bias + a basic
    LSTM cell per layer (4 gate blocks, ONE bias each) + P and its bias for PR.

    Paper: press2017, Tables 5 and 6 (sizes).
    """
    emb = vocab_size * d_model * (1 if tied else 2) + vocab_size
    lstm = n_layers * (4 * d_model * (2 * d_model) + 4 * d_model)
    return emb + lstm + (d_model * d_model + d_model if projection else 0)


def build_variant(variant: str, vocab_size: int, d_model: int, n_layers: int, *, init_range: float = 0.1,
                  dropout: float = 0.0, pr_coef: float = 0.0) -> LSTMLanguageModel:
    """One of the four :data:`VARIANTS` as an LSTM language model (PR variants get P and the penalty ``pr_coef``)."""
    if variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    pr = variant in ("pr", "tied_pr")
    return LSTMLanguageModel(vocab_size, d_model, n_layers, tied=variant in ("tied", "tied_pr"), dropout=dropout,
                             init_range=init_range, projection=pr, pr_coef=pr_coef if pr else 0.0)


def paper_model_counts() -> dict[str, dict[str, dict[str, int]]]:
    """Parameter counts of the paper's PTB models, instantiated (on torch's meta device: shapes without memory) and
    by the paper's arithmetic: ``{size: {variant: {"instantiated", "redundant_bias", "paper_formula"}}}``."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for size, (v, d, n) in PAPER_SHAPES.items():
        out[size] = {}
        for variant in PAPER_SIZES[size]:
            with torch.device("meta"):
                model = build_variant(variant, v, d, n)
            out[size][variant] = {
                "instantiated": count_parameters(model),
                "analytic": model.analytic_parameter_count(),
                "redundant_bias": model.redundant_bias_parameters(),
                "paper_formula": paper_formula_count(v, d, n, tied=model.tied, projection=model.proj is not None),
            }
    return out


# --------------------------------------------------------------------------------------------------------------------
# configs


@dataclass(frozen=True)
class _LMConfig(ExperimentConfig):
    """Model and training of the four LSTM language models (fields shared by both corpora)."""

    size: str = "small"  # which of the paper's models: "small" (Table 6, four variants) or "large" (Table 5, untied
    # and WT); it chooses the variants trained and the claim, the numbers below are the recipe
    d_model: int = 64  # H = embedding size; paper: 200 (small), 1,500 (large)
    n_layers: int = 2  # paper: 2
    batch_size: int = 20  # paper: 20
    bptt: int = 20  # truncated-BPTT window; paper: 20 (small), 35 (large)
    epochs: int = 4  # paper: 13 (small), 55 (large)
    lr: float = 1.0  # the TF code's learning rate (on its step-summed loss; lr × bptt on our per-token mean); paper 1
    lr_decay: float = 0.5  # paper: × 0.5 (small), ÷ 1.15 (large) per epoch ...
    decay_start: int = 4  # ... from this epoch on (1-based); paper: 5 (after epoch 4, small), 15 (after 14, large)
    clip: float = 5.0  # global-norm clip of the TF code's step-summed gradient (clip / bptt here); paper: 5 / 10
    init_range: float = 0.1  # every parameter U(-r, r), P included; paper: 0.1 (small), 0.04 (large)
    dropout: float = 0.0  # paper: none (small), 0.65 (large; keep_prob 0.35 on the non-recurrent connections)
    pr_scale: float = 6.5  # the authors' code: PR penalty ½‖P‖_F² / (pr_scale · batch) on the step-summed loss
    n_pairs: int = 20_000  # random word pairs for the correlations between embeddings (Table 3)
    checkpoint_every: int = 0  # steps between training checkpoints (0: none); paper scale: see .paper()

    def _validate(self) -> None:
        one_of("size", self.size, SIZES)
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int) \
                or self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be an integer >= 0 (0: no checkpoints), got "
                              f"{self.checkpoint_every!r}")
        for f in ("d_model", "n_layers", "batch_size", "bptt", "epochs", "decay_start", "n_pairs"):
            positive(f, getattr(self, f), integer=True)
        for f in ("lr", "lr_decay", "clip", "init_range", "pr_scale"):
            positive(f, getattr(self, f))
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be a number in [0, 1), got {self.dropout!r}")

    @property
    def variants(self) -> tuple[str, ...]:
        """The models trained: the four of Table 6 (small), or untied and WT (large, Table 5)."""
        return SIZE_VARIANTS[self.size]

    @property
    def pr_coef(self) -> float:
        """The PR penalty's coefficient on ‖P‖_F² with our per-token mean loss."""
        return 1.0 / (2 * self.pr_scale * self.batch_size * self.bptt)

    def optim(self, steps_per_epoch: int) -> OptimSpec:
        """Plain SGD, Zaremba's epoch decay and global-norm clipping of each model, in our loss units."""
        return OptimSpec("sgd", lr=self.lr * self.bptt, schedule="epoch-decay", steps_per_epoch=steps_per_epoch,
                         decay_start=self.decay_start, decay=self.lr_decay, clip=self.clip / self.bptt)


@dataclass(frozen=True)
class LMConfig(_LMConfig):
    """The four models on real English text: Tables 5 and 6 in shape, PW-E3 and PW-E6."""

    name = "pw-lm"
    sizes: ClassVar[tuple[str, ...]] = SIZES  # the paper's models offered at paper scale (CLI --size)

    source: str = "wikipedia"  # "wikipedia" (the sample shipped with gensim) or the path of a UTF-8 text file
    vocab_size: int = 2_000  # words, specials included; paper: PTB's 10,000
    split_seed: int = 0  # the document shuffle that makes the train/validation/test split
    train_tokens: int = 100_000  # training tokens used (0: the whole training split); paper: PTB's 929k
    eval_tokens: int = 20_000  # validation and test tokens used, each (0: the whole splits); paper: 73k / 82k

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError(f"source must be 'wikipedia' or the path of a text file, got {self.source!r}")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) \
                or self.vocab_size <= len(SPECIALS):
            raise ConfigError(f"vocab_size must be an integer > {len(SPECIALS)}, got {self.vocab_size!r}")
        for f in ("split_seed", "train_tokens", "eval_tokens"):
            value = getattr(self, f)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{f} must be an integer >= 0, got {value!r}")

    @classmethod
    def quick(cls) -> LMConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls, size: str = "small") -> LMConfig:
        """The authors' SmallConfig (PTB, no dropout) or, with ``size="large"``, their LargeConfig (Zaremba et al.'s
        large model with dropout); the text is still the offline sample unless ``source`` is set."""
        if size == "large":
            return cls(scale="paper", seeds=(0,), size="large", vocab_size=10_000, d_model=1_500, n_layers=2,
                       batch_size=20, bptt=35, epochs=55, lr=1.0, lr_decay=1 / 1.15, decay_start=15, clip=10.0,
                       init_range=0.04, dropout=0.65, train_tokens=0, eval_tokens=0, checkpoint_every=100)
        return cls(scale="paper", seeds=(0,), size=size, vocab_size=10_000, d_model=200, epochs=13, decay_start=5,
                   train_tokens=0, eval_tokens=0, checkpoint_every=1_000)


@dataclass(frozen=True)
class SyntheticLMConfig(_LMConfig):
    """The four models on the synthetic corpus with planted synonyms: Tables 2 and 3 in shape, PW-E1 and PW-E2."""

    name = "pw-lm-synthetic"

    n_groups: int = 10  # synthetic language: groups ⊃ concepts ⊃ synonyms (V = product)
    concepts_per_group: int = 10
    words_per_concept: int = 5
    train_tokens: int = 100_000  # paper: PTB's 929k
    eval_tokens: int = 20_000  # validation and test tokens, each
    n_per_level: int = 1_000  # evaluation pairs per ground-truth level (synonyms, same group, unrelated)

    def _validate(self) -> None:
        super()._validate()
        for f in ("n_groups", "concepts_per_group", "words_per_concept", "train_tokens", "eval_tokens",
                  "n_per_level"):
            positive(f, getattr(self, f), integer=True)
        if self.n_groups < CorpusSpec.successor_groups:
            raise ConfigError(f"n_groups must be at least {CorpusSpec.successor_groups}, got {self.n_groups}")
        if self.words_per_concept < 2 or self.concepts_per_group < 2:
            raise ConfigError("words_per_concept and concepts_per_group must be at least 2 (synonyms and group "
                              "mates are evaluated)")
        if self.train_tokens < 4 * self.batch_size * self.bptt:
            raise ConfigError(f"train_tokens ({self.train_tokens}) must be at least 4 × batch_size × bptt")

    @property
    def vocab_size(self) -> int:
        return self.n_groups * self.concepts_per_group * self.words_per_concept

    @classmethod
    def quick(cls) -> SyntheticLMConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> SyntheticLMConfig:
        return cls(scale="paper", seeds=(0,), n_groups=20, concepts_per_group=100, words_per_concept=5,
                   train_tokens=929_000, eval_tokens=73_000, d_model=200, epochs=13, decay_start=5)


# --------------------------------------------------------------------------------------------------------------------
# training


class LMTask(StreamTask):
    """The config's models stepped on the same windows (truncated BPTT, state carried), with the validation
    perplexity after every epoch.

    Its state (for checkpoints) includes torch's random-number generator, which draws the dropout masks: a run resumed
    from a checkpoint draws the masks of the uninterrupted run.
    """

    def __init__(self, train: np.ndarray, valid: np.ndarray, cfg: _LMConfig) -> None:
        super().__init__(cfg.variants, train, cfg.batch_size, cfg.bptt, cfg.epochs, valid=valid, carry_state=True)
        self.curve: dict[str, list[float]] = {k: [] for k in self.names}

    def observe(self, model: nn.ModuleDict, step: int) -> None:
        super().observe(model, step)
        if step % self.steps_per_epoch == 0:
            for k in self.names:
                self.curve[k].append(self.valid_ppl[k] if step == self.steps else
                                     perplexity(model[k], self.valid, self.batch_size, self.bptt, carry_state=True))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "curve": self.curve, "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.curve = {k: list(v) for k, v in state["curve"].items()}
        torch.set_rng_state(state["torch_rng"])


def build_models(cfg: _LMConfig, seed: int, vocab_size: int) -> nn.ModuleDict:
    """The config's variants, each from the same seed: every variant starts from the same input embedding and LSTM."""
    models = {}
    for variant in cfg.variants:
        seed_everything(seed)
        models[variant] = build_variant(variant, vocab_size, cfg.d_model, cfg.n_layers, init_range=cfg.init_range,
                                        dropout=cfg.dropout, pr_coef=cfg.pr_coef)
    return nn.ModuleDict(models)


def train_variants(cfg: _LMConfig, seed: int, vocab_size: int, train: np.ndarray, valid: np.ndarray,
                   test: np.ndarray, *, stop_after: int | None = None) -> dict[str, Any]:
    """Train the config's variants from one seed on the same windows; perplexities, curves and the embeddings.

    With ``cfg.checkpoint_every`` the training is checkpointed under the cache folder and resumed after a kill;
    ``stop_after`` stops it after that many steps as if killed (:class:`~tiedemb.train.loop.Stop`, for tests).
    """
    group = build_models(cfg, seed, vocab_size)
    models = dict(group.items())
    task = LMTask(train, valid, cfg)
    checkpoint = checkpoint_path(cfg, f"seed{seed}") if cfg.checkpoint_every else None
    stats = fit(group, task, steps=task.steps, optim=cfg.optim(task.steps_per_epoch), checkpoint=checkpoint,
                checkpoint_every=cfg.checkpoint_every, fingerprint={"config": cfg.to_dict(), "seed": seed},
                stop_after=stop_after, desc=f"{cfg.name} seed {seed}")
    variants = cfg.variants
    last = slice(task.steps - task.steps_per_epoch, task.steps)
    return {
        # Train perplexity as the authors' code reports it: the running average over the last training epoch.
        "train_ppl": {k: float(np.exp(np.mean(task.losses[k][last]))) for k in variants},
        "valid_ppl": dict(task.valid_ppl),
        "test_ppl": {k: perplexity(m, test, cfg.batch_size, cfg.bptt, carry_state=True) for k, m in models.items()},
        "curve": {k: np.asarray(v) for k, v in task.curve.items()},
        "loss": {k: np.asarray(v) for k, v in task.losses.items()},
        "params": {k: count_parameters(m) for k, m in models.items()},
        "analytic_params": {k: m.analytic_parameter_count() for k, m in models.items()},
        "embeddings": {"in": models["untied"].emb_in.weight.detach(), "out": models["untied"].emb_out.weight.detach(),
                       "tied": models["tied"].emb_in.weight.detach()},
        "steps": task.steps,
        "train_seconds": stats.train_seconds,
        "tokens_per_s": stats.tokens_per_s,
        "model_flops_per_s": stats.model_flops_per_s,
    }


def unigram_perplexity(train: np.ndarray, tokens: np.ndarray, vocab_size: int) -> float:
    """Perplexity of ``tokens`` under the add-one smoothed word frequencies of ``train``: the level a language model
    reaches by learning the word frequencies alone."""
    p = (np.bincount(train, minlength=vocab_size) + 1.0) / (len(train) + vocab_size)
    return float(np.exp(-np.log(p[tokens]).mean()))


def _mean_scores(scores: list[dict[str, float]]) -> dict[str, float]:
    """Correlations averaged over seeds; pair counts (the same in every seed) kept as integers."""
    return {k: int(scores[0][k]) if k.startswith("pairs") else float(np.mean([x[k] for x in scores]))
            for k in scores[0]}


def _mean_over_seeds(runs: list[dict], key: str) -> dict[str, float]:
    return {k: float(np.mean([r[key][k] for r in runs])) for k in runs[0]["params"]}


def _perplexity_metrics(runs: list[dict]) -> dict[str, Any]:
    params = runs[0]["params"]
    return {
        "train_ppl": _mean_over_seeds(runs, "train_ppl"),
        "valid_ppl": _mean_over_seeds(runs, "valid_ppl"),
        "test_ppl": _mean_over_seeds(runs, "test_ppl"),
        "params": params,
        "analytic_params": runs[0]["analytic_params"],
        "param_saving_fraction": {k: 1 - params[k] / params["untied"] for k in params},
        "steps": runs[0]["steps"],
        "timing": {"train_seconds": float(sum(r["train_seconds"] for r in runs)),
                   "tokens_per_s": float(np.mean([r["tokens_per_s"] for r in runs])),
                   "model_flops_per_s": float(np.mean([r["model_flops_per_s"] for r in runs]))},
    }


def _perplexity_arrays(runs: list[dict]) -> dict[str, np.ndarray]:
    variants = runs[0]["params"]
    return {**{f"curve_{k}": np.stack([r["curve"][k] for r in runs]) for k in variants},
            **{f"loss_{k}": np.stack([r["loss"][k] for r in runs]) for k in variants}}


ROLES = ("in", "out", "tied")
"""The embeddings evaluated as word embeddings: untied input, untied output, tied."""


# --------------------------------------------------------------------------------------------------------------------
# pw-lm


OVERFIT_RATIO = 1.5
"""PW-E3's regime: the paper's small untied model overfits (validation perplexity 3.2 × its train perplexity, Table
6); the claim is about regularisation, so it is tested only when our untied model's validation perplexity is at least
this many times its train perplexity."""


def judge_lm(cfg: LMConfig, m: dict) -> list[Claim]:
    """PW-E6 (parameter counts, an identity) and PW-E3 (WT and PR lower validation and test perplexity of a small
    model without dropout; train perplexity goes up with PR)."""
    counts = m["paper_counts"]
    rows, ok = [], True
    for size, variants in counts.items():
        for variant, c in variants.items():
            ours = c["instantiated"] - c["redundant_bias"]
            printed = PAPER_SIZES[size][variant]
            rounded = round(ours / 1e6, PAPER_SIZE_DECIMALS[size]) == round(printed / 1e6, PAPER_SIZE_DECIMALS[size])
            ok = ok and ours == c["paper_formula"] and c["instantiated"] == c["analytic"] and rounded
            rows.append(f"{size} {VARIANT_NAMES[variant]} {ours:,}")
    e6 = identity("PW-E6", "The sizes of the paper's PTB models follow from their shapes: tying removes one V×H "
                  "matrix (the untied output bias stays), PR adds H×H + H.",
                  "Table 6: 4.65M, 2.65M, 4.69M, 2.69M; Table 5: 66M, 51M",
                  "instantiated models (PyTorch's second LSTM bias, which the paper's TF cell lacks, subtracted): "
                  + "; ".join(rows) + (" — each equal to the arithmetic count and to the paper's size as printed"
                                       if ok else " — NOT all equal to the paper's sizes"), ok)
    v, t, tr = m["valid_ppl"], m["test_ppl"], m["train_ppl"]
    wt_lower = v["tied"] < v["untied"] and t["tied"] < t["untied"]
    if cfg.size == "large":
        return [_judge_large(m, wt_lower), e6]
    best = min(VARIANTS, key=lambda k: v[k])
    pr_train_up = tr["tied_pr"] > tr["untied"]
    overfit = v["untied"] / tr["untied"]
    precondition = Precondition(
        text=f"the untied model learned more than word frequencies (validation perplexity below the unigram "
             f"perplexity, {m['unigram_ppl']:.0f}) and overfits as the paper's does (validation perplexity at least "
             f"{OVERFIT_RATIO} × train perplexity)",
        measured=f"untied validation {v['untied']:.1f}, train {tr['untied']:.1f}, ratio {overfit:.2f}",
        met=v["untied"] < m["unigram_ppl"] and overfit >= OVERFIT_RATIO,
        remedy="train longer on less text (more epochs), or at paper scale: python -m tiedemb run pw-lm --scale paper",
    )
    e3 = judge("PW-E3", "In a small LSTM language model without dropout, weight tying lowers validation and test "
               "perplexity with far fewer parameters, WT + PR is best, and PR raises train perplexity (it "
               "regularises).",
               "Table 6: validation/test 120.7/114.5 untied, 117.5/112.4 WT, 104.9/100.9 WT + PR (best); train "
               "38.0 untied, 53.5 WT + PR",
               f"validation/test {v['untied']:.1f}/{t['untied']:.1f} untied, {v['tied']:.1f}/{t['tied']:.1f} WT "
               f"({m['param_saving_fraction']['tied']:.0%} fewer parameters), {v['pr']:.1f}/{t['pr']:.1f} PR, "
               f"{v['tied_pr']:.1f}/{t['tied_pr']:.1f} WT + PR; best on validation: {VARIANT_NAMES[best]}; train "
               f"{tr['untied']:.1f} untied vs {tr['tied_pr']:.1f} WT + PR",
               wt_lower and best == "tied_pr" and pr_train_up, precondition)
    return [e3, e6]


def _judge_large(m: dict, wt_lower: bool) -> Claim:
    """PW-E8: in the large model with dropout, WT lowers validation and test perplexity (Table 5)."""
    v, t = m["valid_ppl"], m["test_ppl"]
    (_, pv_u, pt_u), (_, pv_t, pt_t) = PAPER_TABLE5["untied"], PAPER_TABLE5["tied"]
    precondition = Precondition(
        text=f"the untied model learned more than word frequencies (validation perplexity below the unigram "
             f"perplexity, {m['unigram_ppl']:.0f})",
        measured=f"untied validation perplexity {v['untied']:.1f}",
        met=v["untied"] < m["unigram_ppl"],
        remedy="train the whole schedule: python -m tiedemb run pw-lm --scale paper --size large",
    )
    return judge("PW-E8", "In the large LSTM language model with dropout, weight tying lowers validation and test "
                 "perplexity with fewer parameters.",
                 f"Table 5: validation/test {pv_u}/{pt_u} untied, {pv_t}/{pt_t} WT (66M and 51M parameters)",
                 f"validation/test {v['untied']:.1f}/{t['untied']:.1f} untied, {v['tied']:.1f}/{t['tied']:.1f} WT "
                 f"({m['param_saving_fraction']['tied']:.0%} fewer parameters)", wt_lower, precondition)


def _vocab_ids(vocab: tuple[str, ...]) -> dict[str, int]:
    return {w: i for i, w in enumerate(vocab) if i >= len(SPECIALS)}


def benchmark_pairs(name: str, vocab: tuple[str, ...], counts: np.ndarray, rare_below: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The pairs of a word-similarity benchmark whose two words are in the vocabulary: ids (n, 2), human scores,
    whether the pair is rare (its rarer word seen fewer than ``rare_below`` times in training), and the size of the
    whole benchmark."""
    bench = load_word_pairs(name)
    index = _vocab_ids(vocab)
    keep = [(index[a], index[b], s) for (a, b), s in zip(bench.pairs, bench.scores, strict=True)
            if a in index and b in index]
    ids = np.array([(a, b) for a, b, _ in keep], dtype=np.int64).reshape(-1, 2)
    gold = np.array([s for _, _, s in keep], dtype=float)
    rare = np.minimum(counts[ids[:, 0]], counts[ids[:, 1]]) < rare_below if len(ids) else np.zeros(0, bool)
    return ids, gold, rare, len(bench)


@register("pw-lm", reproduces="Press & Wolf (2017) Tables 5 and 6 (perplexity, sizes), Table 2 on SimLex/WS353",
          chapter=CHAPTER, config_cls=LMConfig, judge=judge_lm, cost=105)
def run_lm(cfg: LMConfig) -> Result:
    corpus = load_corpus(cfg.source, vocab_size=cfg.vocab_size, seed=cfg.split_seed)
    train = corpus.train[: cfg.train_tokens] if cfg.train_tokens else corpus.train
    valid = corpus.valid[: cfg.eval_tokens] if cfg.eval_tokens else corpus.valid
    test = corpus.test[: cfg.eval_tokens] if cfg.eval_tokens else corpus.test
    if min(len(valid), len(test)) < 2 * cfg.batch_size:
        raise ConfigError(f"{corpus.source}: validation/test splits of {len(valid)}/{len(test)} words are too short "
                          f"for batch size {cfg.batch_size}; use a longer text")
    runs = [train_variants(cfg, seed, corpus.vocab_size, train, valid, test) for seed in cfg.seeds]
    counts = np.bincount(train, minlength=corpus.vocab_size)
    rare_below = float(np.median(counts[len(SPECIALS):]))
    similarity: dict[str, Any] = {}
    for name in BENCHMARKS:
        ids, gold, rare, total = benchmark_pairs(name, corpus.vocab, counts, rare_below)
        similarity[name] = {"total_pairs": total, "coverage": len(ids) / total}
        if len(ids) >= 3:
            for role in ROLES:
                rs = [similarity_correlation(r["embeddings"][role], ids, gold, rare) for r in runs]
                similarity[name][role] = _mean_scores(rs)
    words = corpus.vocab_size - len(SPECIALS)
    pairs = random_pairs(words, cfg.n_pairs, numpy_rng(cfg.seeds[0], 3)) + len(SPECIALS)
    structure = [structure_correlations(r["embeddings"], pairs) for r in runs]
    metrics = {
        **_perplexity_metrics(runs),
        "corpus": {"source": corpus.source, "vocab_size": corpus.vocab_size, "train_tokens": len(train),
                   "valid_tokens": len(valid), "test_tokens": len(test),
                   "unk_rate": float(np.mean(train == corpus.unk_id))},
        "unigram_ppl": unigram_perplexity(train, valid, corpus.vocab_size),
        "paper_counts": paper_model_counts(),
        "rare_below": rare_below,
        "similarity": similarity,
        "structure": {k: float(np.mean([s[k] for s in structure])) for k in structure[0]},
    }
    return Result("pw-lm", cfg.to_dict(), metrics, [], _perplexity_arrays(runs))


# --------------------------------------------------------------------------------------------------------------------
# pw-lm-synthetic


def judge_synthetic(cfg: SyntheticLMConfig, m: dict) -> list[Claim]:
    """PW-E1 (untied output embedding better than input as a word embedding, most of all for rare words) and PW-E2
    (the tied embedding is like the untied output embedding)."""
    s, st = m["similarity"], m["structure"]
    gap, gap_rare = s["out"]["rho"] - s["in"]["rho"], s["out"]["rho_rare"] - s["in"]["rho_rare"]
    precondition = Precondition(
        text=f"the untied model learned more than word frequencies: validation perplexity below the unigram "
             f"perplexity ({m['unigram_ppl']:.0f})",
        measured=f"untied validation perplexity {m['valid_ppl']['untied']:.1f}",
        met=m["valid_ppl"]["untied"] < m["unigram_ppl"],
        remedy="train longer, or at paper scale: python -m tiedemb run pw-lm-synthetic --scale paper",
    )
    e1 = judge("PW-E1", "In an untied language model, the output embedding is a better word embedding than the input "
               "embedding, most of all for rare words.",
               "Table 2: output far better than input; the gap largest on rare words",
               f"Spearman ρ with the exact similarity: output {s['out']['rho']:.2f} vs input {s['in']['rho']:.2f} "
               f"over {s['in']['pairs']} pairs; on the {s['in']['pairs_rare']} rare pairs (a word seen fewer than "
               f"{m['rare_below']:.0f} times) {s['out']['rho_rare']:.2f} vs {s['in']['rho_rare']:.2f}",
               gap > 0 and gap_rare > gap, precondition)
    e2 = judge("PW-E2", "The tied embedding resembles the untied output embedding far more than the input embedding.",
               "Table 3: output ≈ tied; input considerably different from output",
               f"correlation of pairwise similarities: ρ(out, tied) = {st['out-tied']:.2f}, ρ(in, tied) = "
               f"{st['in-tied']:.2f}, ρ(in, out) = {st['in-out']:.2f}",
               st["out-tied"] > max(st["in-out"], st["in-tied"]), precondition)
    return [e1, e2]


@register("pw-lm-synthetic", reproduces="Press & Wolf (2017) Tables 2 and 3 on a corpus with known similarity",
          chapter=CHAPTER, config_cls=SyntheticLMConfig, judge=judge_synthetic, cost=65)
def run_synthetic(cfg: SyntheticLMConfig) -> Result:
    spec = CorpusSpec(cfg.n_groups, cfg.concepts_per_group, cfg.words_per_concept)
    # The language and the text are fixed across model seeds (stream 0 of the first seed), as a dataset would be.
    corpus = generate(spec, cfg.train_tokens, 2 * cfg.eval_tokens, numpy_rng(cfg.seeds[0], 0))
    valid, test = corpus.valid[: cfg.eval_tokens], corpus.valid[cfg.eval_tokens:]
    runs = [train_variants(cfg, seed, cfg.vocab_size, corpus.train, valid, test) for seed in cfg.seeds]
    counts = corpus.counts("train")
    rare_below = float(np.median(counts))
    pairs = similarity_pairs(corpus, cfg.n_per_level, numpy_rng(cfg.seeds[0], 4))
    gold = corpus.similarity(pairs[:, 0], pairs[:, 1])
    rare = np.minimum(counts[pairs[:, 0]], counts[pairs[:, 1]]) < rare_below
    similarity = {}
    for role in ROLES:
        rs = [similarity_correlation(r["embeddings"][role], pairs, gold, rare) for r in runs]
        similarity[role] = _mean_scores(rs)
    random = random_pairs(cfg.vocab_size, cfg.n_pairs, numpy_rng(cfg.seeds[0], 3))
    structure = [structure_correlations(r["embeddings"], random) for r in runs]
    metrics = {
        **_perplexity_metrics(runs),
        "corpus": {"vocab_size": cfg.vocab_size, "train_tokens": len(corpus.train), "valid_tokens": len(valid),
                   "test_tokens": len(test)},
        "unigram_ppl": unigram_perplexity(corpus.train, valid, cfg.vocab_size),
        "rare_below": rare_below,
        "similarity": similarity,
        "structure": {k: float(np.mean([s[k] for s in structure])) for k in structure[0]},
    }
    return Result("pw-lm-synthetic", cfg.to_dict(), metrics, [], _perplexity_arrays(runs))
