"""Chapter "Input and output embeddings, and what tying does to their gradients".

Two experiments:

- ``grad-check``: the tied-gradient theorem and the gradient facts of press2017 Sec. 3 (Eqs. 1-4), measured with
  autograd in float64 on a real LSTM and a real Transformer language model, plus ``gradcheck``. These hold by
  construction of autograd: their claims (PW-T1, PW-T2, PW-T3, PW-E5) are identities, checked to round-off.
- ``grad-update-rule``: the update-rule picture measured on real training runs (plain SGD, through
  :func:`~tiedemb.train.loop.fit`) of an untied and a tied LSTM language model on a synthetic PTB-shaped corpus: how
  often each row of E_in, E_out and the tied matrix is updated, how far it moves, and whether the tied matrix evolves
  like the untied output or input embedding. Its claims (PW-T4's small extra term, PW-T5) are empirical: replications,
  tested only when the models learned more than the word frequencies (a measured precondition).

Each experiment's ``run`` returns metrics and arrays; its judge (``judge_grad_check``, ``judge_update_rule``) computes
the claims from the metrics alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...cache import checkpoint_path
from ...claims import Claim, Precondition, identity, judge
from ...config import ConfigError, ExperimentConfig, one_of, positive
from ...data.synthetic import CorpusSpec, SyntheticCorpus, generate
from ...metrics.embeddings import pair_cosines, random_pairs, spearman
from ...models import LSTMLanguageModel, TransformerLanguageModel, count_parameters
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...theory.press_wolf import gradcheck_tied, gradient_facts, input_word_probability
from ...train.lm import StreamTask, batchify, windows
from ...train.loop import OptimSpec, Stop, fit
from .. import register

CHAPTER = "book/gradients/tied_gradients"
ARCHITECTURES = ("lstm", "transformer")


def build_lm(arch: str, vocab_size: int, d_model: int, n_layers: int, *, tied: bool, n_heads: int = 2,
             d_ff: int = 64, max_len: int = 128) -> torch.nn.Module:
    """An LSTM or Transformer language model of the given shape."""
    one_of("arch", arch, ARCHITECTURES)
    if arch == "lstm":
        return LSTMLanguageModel(vocab_size, d_model, n_layers, tied=tied)
    return TransformerLanguageModel(vocab_size, d_model, n_layers, n_heads, d_ff, max_len=max_len, tied=tied)


# --------------------------------------------------------------------------------------------------------------------
# grad-check


@dataclass(frozen=True)
class GradCheckConfig(ExperimentConfig):
    """The gradient facts on random batches of tied LSTM and Transformer LMs, in float64."""

    name = "grad-check"

    vocab_size: int = 60  # V; paper: PTB's 10,000
    d_model: int = 16  # d = H; paper: 200 (small) or 1,500 (large)
    n_layers: int = 2  # paper: 2 LSTM layers
    n_heads: int = 2  # Transformer only
    d_ff: int = 32  # Transformer only
    batch_size: int = 4  # paper: 20
    seq_len: int = 12  # BPTT window; paper: 20 (small) or 35 (large)
    batches: int = 5  # random batches per model and seed
    zipf: float = 1.2  # tokens are drawn Zipfian so that many rows are absent from a batch, as in real text
    gradcheck_vocab: int = 12  # gradcheck runs on a small model (finite differences of every entry)
    gradcheck_d: int = 4

    def _validate(self) -> None:
        for f in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "batch_size", "seq_len", "batches",
                  "gradcheck_vocab", "gradcheck_d"):
            positive(f, getattr(self, f), integer=True)
        positive("zipf", self.zipf)
        if self.d_model % self.n_heads or self.gradcheck_d % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) and gradcheck_d ({self.gradcheck_d}) must be divisible "
                              f"by n_heads ({self.n_heads})")

    @classmethod
    def quick(cls) -> GradCheckConfig:
        return cls(scale="quick", seeds=(0, 1, 2))

    @classmethod
    def paper(cls) -> GradCheckConfig:
        return cls(scale="paper", seeds=(0, 1, 2), vocab_size=10_000, d_model=200, n_heads=4, d_ff=800,
                   batch_size=20, seq_len=20, batches=3)


def zipf_tokens(vocab_size: int, shape: tuple[int, ...], exponent: float, rng: np.random.Generator) -> torch.Tensor:
    """Token ids drawn from a Zipf law over a random ranking of the vocabulary."""
    p = 1.0 / np.arange(1, vocab_size + 1) ** exponent
    ranking = rng.permutation(vocab_size)
    return torch.as_tensor(ranking[rng.choice(vocab_size, size=shape, p=p / p.sum())], dtype=torch.long)


def judge_grad_check(cfg: GradCheckConfig, m: dict) -> list[Claim]:
    """PW-T1, PW-T2, PW-T3 and PW-E5: facts of the gradient algebra that autograd satisfies by construction, so they
    are identities (checked to round-off), not replications."""
    rel, tol, n = m["max_relative_err"], m["tolerance_relative"], m["batches_checked"]

    def worst(key: str) -> float:
        return max(a[key] for a in m["per_arch"].values())

    gradchecks = {arch: a["gradcheck"] for arch, a in m["per_arch"].items()}
    t1 = m["batches_input_rows_are_input_tokens"] == n
    t2 = rel["output_closed_form_err"] < tol and m["min_output_rows_updated"] == 1.0
    t3 = rel["absent_rows_err"] < tol
    e5 = (t1 and t2 and t3 and rel["tied_identity_err"] < tol and rel["present_rows_err"] < tol
          and all(gradchecks.values()))
    return [
        identity("PW-T1", "The input embedding's gradient is nonzero only in the rows of words present in the input "
                 "(the whole BPTT window for a minibatch).",
                 "Eq. 1: only the input word's row is updated",
                 f"rows with gradient = rows of input tokens in {m['batches_input_rows_are_input_tokens']}/{n} "
                 f"batches; {m['mean_input_rows_updated']:.0%} of rows updated per batch", t1),
        identity("PW-T2", "Every row k of the output embedding gets the gradient (p(k) - 1[k = target]) h at every "
                 "step.",
                 "Eq. 2: every row updated at every step",
                 f"closed form vs autograd: max error {worst('output_closed_form_err'):.1e}; "
                 f"{m['min_output_rows_updated']:.0%} of rows updated", t2),
        identity("PW-T3",
                 "In a tied model, a row whose word is not in the input gets exactly the output-embedding update.",
                 "Eq. 3: tied update = Eq. 2 for k not in the input",
                 f"max |dL/dS - dL/dV| on absent rows: {worst('absent_rows_err'):.1e}", t3),
        identity("PW-E5", "The tied gradient is the sum of the input-path and output-path gradients, and the facts "
                 "of Eqs. 1-4 hold exactly under autograd.",
                 "exact identities",
                 f"max |dL/dS - dL/dU - dL/dV| = {worst('tied_identity_err'):.1e} over {n} batches (LSTM and "
                 f"Transformer, float64; on the input words' rows, Eq. 4: {worst('present_rows_err'):.1e}); "
                 "gradcheck: " + ", ".join(f"{a} {'passed' if ok else 'FAILED'}" for a, ok in gradchecks.items()),
                 e5),
    ]


def _grad_check_rows(cfg: GradCheckConfig) -> tuple[list[dict], dict[str, bool]]:
    """The gradient facts of every random batch of every seed and architecture, and each architecture's gradcheck."""
    rows = []
    gradchecks = {}
    for arch in ARCHITECTURES:
        for seed in cfg.seeds:
            seed_everything(seed)
            rng = numpy_rng(seed, 1)
            model = build_lm(arch, cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=True, n_heads=cfg.n_heads,
                             d_ff=cfg.d_ff, max_len=cfg.seq_len).double()
            for b in range(cfg.batches):
                stream = zipf_tokens(cfg.vocab_size, (cfg.batch_size, cfg.seq_len + 1), cfg.zipf, rng)
                facts = gradient_facts(model, stream[:, :-1], stream[:, 1:])
                rows.append({"arch": arch, "seed": seed, "batch": b, **facts.__dict__})
        seed_everything(cfg.seeds[0])
        small = build_lm(arch, cfg.gradcheck_vocab, cfg.gradcheck_d, 1, tied=True, n_heads=cfg.n_heads,
                         d_ff=2 * cfg.gradcheck_d, max_len=6).double()
        stream = zipf_tokens(cfg.gradcheck_vocab, (2, 6), cfg.zipf, numpy_rng(cfg.seeds[0], 2))
        gradchecks[arch] = gradcheck_tied(small, stream[:, :-1], stream[:, 1:])
    return rows, gradchecks


ERRORS = ("tied_identity_err", "output_closed_form_err", "absent_rows_err", "present_rows_err")
"""The identities measured by :func:`~tiedemb.theory.press_wolf.gradient_facts`, as max absolute errors."""

TOLERANCE = 1e-12
"""Largest error relative to the largest gradient entry that counts as round-off (float64 round-off is ~1e-16)."""


@register("grad-check", reproduces="Press & Wolf (2017) Eqs. 1-4; the tied-gradient theorem", chapter=CHAPTER,
          config_cls=GradCheckConfig, judge=judge_grad_check)
def run_grad_check(cfg: GradCheckConfig) -> Result:
    rows, gradchecks = _grad_check_rows(cfg)

    def of(arch: str) -> list[dict]:
        return [r for r in rows if r["arch"] == arch]

    per_arch = {
        arch: {
            **{key: max(r[key] for r in of(arch)) for key in ERRORS},
            "input_rows_are_input_tokens": all(r["input_rows_are_input_tokens"] for r in of(arch)),
            "min_output_rows_updated": min(r["output_rows_updated"] for r in of(arch)),
            "mean_input_rows_updated": float(np.mean([r["input_rows_updated"] for r in of(arch)])),
            "gradcheck": gradchecks[arch],
        }
        for arch in ARCHITECTURES
    }
    metrics = {
        "per_arch": per_arch,
        "batches_checked": len(rows),
        "batches_input_rows_are_input_tokens": sum(r["input_rows_are_input_tokens"] for r in rows),
        "min_output_rows_updated": min(r["output_rows_updated"] for r in rows),
        "mean_input_rows_updated": float(np.mean([r["input_rows_updated"] for r in rows])),
        "max_relative_err": {key: max(r[key] / r["grad_scale"] for r in rows) for key in ERRORS},
        "tolerance_relative": TOLERANCE,
    }
    arrays = {
        key: np.array([[r[key] for r in of(a)] for a in ARCHITECTURES])
        for key in (*ERRORS, "input_rows_updated")
    }
    return Result("grad-check", cfg.to_dict(), metrics, [], arrays)


# --------------------------------------------------------------------------------------------------------------------
# grad-update-rule


@dataclass(frozen=True)
class UpdateRuleConfig(ExperimentConfig):
    """Untied and tied LSTM LMs trained with plain SGD; row-update bookkeeping along training."""

    name = "grad-update-rule"

    n_groups: int = 10  # synthetic language: groups ⊃ concepts ⊃ synonyms (V = product)
    concepts_per_group: int = 10
    words_per_concept: int = 5
    train_tokens: int = 100_000  # paper: PTB's 929k
    valid_tokens: int = 10_000  # paper: PTB's 73k
    d_model: int = 64  # H = embedding size; paper: 200 (small)
    n_layers: int = 2  # paper: 2
    batch_size: int = 20  # paper: 20
    bptt: int = 20  # paper: 20 (small)
    epochs: int = 4  # paper: 13 (small)
    lr: float = 20.0  # on the mean per-token loss; = the TF code's lr 1.0 on a loss summed over 20 steps
    lr_decay: float = 0.5  # paper: ×0.5 per epoch after epoch 4
    decay_start: int = 5  # first decayed epoch (1-based); paper: 5
    clip: float = 5.0  # global-norm clipping; paper: 5
    snapshots: int = 16  # similarity snapshots along training
    n_pairs: int = 4000  # random word pairs for comparing similarity structures
    checkpoint_every: int = 0  # steps between checkpoints of each seed's training (0: none); paper scale: 1000

    def _validate(self) -> None:
        for f in ("n_groups", "concepts_per_group", "words_per_concept", "train_tokens", "valid_tokens", "d_model",
                  "n_layers", "batch_size", "bptt", "epochs", "decay_start", "snapshots", "n_pairs"):
            positive(f, getattr(self, f), integer=True)
        for f in ("lr", "lr_decay", "clip"):
            positive(f, getattr(self, f))
        successors = CorpusSpec.successor_groups
        if self.n_groups < successors:
            raise ConfigError(f"n_groups must be at least {successors} (a concept's successors come from "
                              f"{successors} groups), got {self.n_groups}")
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int) \
                or self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be an integer >= 0 (0: no checkpoints), got "
                              f"{self.checkpoint_every!r}")
        if self.train_tokens < 4 * self.batch_size * self.bptt:
            raise ConfigError(f"train_tokens ({self.train_tokens}) must be at least 4 × batch_size × bptt")

    @property
    def vocab_size(self) -> int:
        return self.n_groups * self.concepts_per_group * self.words_per_concept

    @classmethod
    def quick(cls) -> UpdateRuleConfig:
        return cls(scale="quick", seeds=(0, 1, 2))

    @classmethod
    def paper(cls) -> UpdateRuleConfig:
        return cls(scale="paper", seeds=(0, 1, 2), n_groups=20, concepts_per_group=50, words_per_concept=10,
                   train_tokens=929_000, valid_tokens=73_000, d_model=200, epochs=13, snapshots=26,
                   checkpoint_every=1000)


ROLES = ("in", "out", "tied")
"""The matrices followed along training: untied E_in, untied E_out, tied S."""


def _role_weights(pair: nn.ModuleDict) -> dict[str, torch.Tensor]:
    return {"in": pair["untied"].emb_in.weight, "out": pair["untied"].emb_out.weight,
            "tied": pair["tied"].emb_in.weight}


class UpdateRuleTask(StreamTask):
    """An untied and a tied LSTM LM stepped on the same windows, with the row-update bookkeeping of PW-T5.

    After each backward pass it counts the rows of E_in, E_out and S that received a gradient; with each window it
    counts the rows of S in their input role (the words present in the window, PW-T1); at ``cfg.snapshots + 1``
    evenly spaced steps it records how close the similarity structure (pairwise cosines of ``pairs``) and the
    displacements of the tied matrix are to those of each untied embedding.
    """

    def __init__(self, cfg: UpdateRuleConfig, corpus: SyntheticCorpus, pairs: np.ndarray,
                 pair: nn.ModuleDict) -> None:
        super().__init__(("untied", "tied"), corpus.train, cfg.batch_size, cfg.bptt, cfg.epochs, valid=corpus.valid)
        self.pairs = pairs
        self.snap_at = set(np.linspace(0, self.steps, cfg.snapshots + 1).round().astype(int).tolist())
        self.start = {k: w.detach().clone() for k, w in _role_weights(pair).items()}
        self.counts = {k: torch.zeros(cfg.vocab_size) for k in (*ROLES, "tied_input_role")}
        self.snaps: dict[str, list] = {k: [] for k in ("step", "rho_tied_out", "rho_tied_in", "rho_in_out",
                                                       "disp_tied_out", "disp_tied_in")}

    def displacement(self, pair: nn.ModuleDict) -> dict[str, np.ndarray]:
        """How far each row of each matrix is from its initial value: {role: (vocab,)}."""
        return {k: (w.detach() - self.start[k]).norm(dim=1).numpy() for k, w in _role_weights(pair).items()}

    def loss(self, model: nn.ModuleDict, step: int) -> torch.Tensor:
        x, _ = self.window(step)
        present = torch.zeros(len(self.counts["tied_input_role"]))
        present[x.reshape(-1).unique()] = 1.0  # PW-T1: exactly the rows with an input-path gradient
        self.counts["tied_input_role"] += present
        return super().loss(model, step)

    def after_backward(self, model: nn.ModuleDict, step: int) -> None:
        for k, w in _role_weights(model).items():
            self.counts[k] += (w.grad.abs().sum(1) > 0).float()

    def observe(self, model: nn.ModuleDict, step: int) -> None:
        super().observe(model, step)
        if step not in self.snap_at:
            return
        cos = {k: pair_cosines(w, self.pairs) for k, w in _role_weights(model).items()}
        disp = self.displacement(model)
        self.snaps["step"].append(step)
        self.snaps["rho_tied_out"].append(spearman(cos["tied"], cos["out"]))
        self.snaps["rho_tied_in"].append(spearman(cos["tied"], cos["in"]))
        self.snaps["rho_in_out"].append(spearman(cos["in"], cos["out"]))
        moved = step > 0
        self.snaps["disp_tied_out"].append(spearman(disp["tied"], disp["out"]) if moved else 0.0)
        self.snaps["disp_tied_in"].append(spearman(disp["tied"], disp["in"]) if moved else 0.0)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "start": self.start, "counts": self.counts, "snaps": self.snaps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.start = dict(state["start"])
        self.counts = dict(state["counts"])
        self.snaps = {k: list(v) for k, v in state["snaps"].items()}


def optim_spec(cfg: UpdateRuleConfig, steps_per_epoch: int) -> OptimSpec:
    """Plain SGD with Zaremba's schedule and global-norm clipping of each model (press2017's small model)."""
    return OptimSpec("sgd", lr=cfg.lr, schedule="epoch-decay", steps_per_epoch=steps_per_epoch,
                     decay_start=cfg.decay_start, decay=cfg.lr_decay, clip=cfg.clip)


def train_pair(cfg: UpdateRuleConfig, seed: int, corpus: SyntheticCorpus, pairs: np.ndarray, *,
               checkpoint: Path | None = None, stop_after: int | None = None) -> dict[str, Any] | None:
    """Train an untied and a tied model from one seed (:func:`~tiedemb.train.loop.fit`), recording per-row updates
    and similarity snapshots.

    Args:
        checkpoint: a file to save to every ``cfg.checkpoint_every`` steps and to resume from if it exists.
        stop_after: stop after this many steps and return None, as if the process had been killed (tests).
    """
    models = {}
    for tied in (False, True):
        seed_everything(seed)  # same seed: the tied matrix starts equal to the untied input embedding
        models["tied" if tied else "untied"] = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers,
                                                                 tied=tied)
    pair = nn.ModuleDict(models)
    task = UpdateRuleTask(cfg, corpus, pairs, pair)
    try:
        stats = fit(pair, task, steps=task.steps, optim=optim_spec(cfg, task.steps_per_epoch), checkpoint=checkpoint,
                    checkpoint_every=cfg.checkpoint_every, fingerprint={"config": cfg.to_dict(), "seed": seed},
                    stop_after=stop_after, desc=f"{cfg.name} seed {seed}")
    except Stop:
        return None
    tied = pair["tied"]
    # Eq. 4's identity on the trained model, in float64 so that round-off does not hide an error.
    valid = list(windows(batchify(corpus.valid, cfg.batch_size), cfg.bptt))
    facts = gradient_facts(copy.deepcopy(tied).double(), *valid[0])
    p_input = torch.cat([input_word_probability(tied, x).reshape(-1) for x, _ in valid])
    return {
        "steps": task.steps,
        "update_fraction": {k: (v / task.steps).numpy() for k, v in task.counts.items()},
        "displacement": task.displacement(pair),
        "snapshots": {k: np.asarray(v) for k, v in task.snaps.items()},
        "loss": {k: np.asarray(v) for k, v in task.losses.items()},
        "valid_ppl": task.valid_ppl,
        "params": {k: count_parameters(m) for k, m in models.items()},
        "analytic_params": {k: m.analytic_parameter_count() for k, m in models.items()},
        "p_input_word": float(p_input.mean()),
        "present_rows_err": facts.present_rows_err,
        "grad_scale": facts.grad_scale,
        "tokens_per_s": stats.tokens_per_s,
        "model_flops_per_s": stats.model_flops_per_s,
        "train_seconds": stats.train_seconds,
        "resumed_from": stats.resumed_from,
    }


def unigram_perplexity(corpus: SyntheticCorpus) -> float:
    """Perplexity of the validation text under the training text's word frequencies (add-one smoothed): what a
    language model reaches by learning the word frequencies alone."""
    p = (corpus.counts("train") + 1.0) / (len(corpus.train) + corpus.vocab_size)
    return float(np.exp(-np.log(p[corpus.valid]).mean()))


SMALL_TERM = 0.05
"""PW-T4: the extra output term p(i_t) h of the input word's own row counts as small when the mean p(i_t) is below
this (the target word's row gets the coefficient 1 - p(o_t), close to 1)."""

ROLE_RATIO = 10
"""PW-T5: "far more often" as an output embedding: at least this many times as often, for the median row."""


def learned(cfg: UpdateRuleConfig, m: dict) -> Precondition:
    """The precondition of PW-T4 and PW-T5: both models learned more of the text than its word frequencies."""
    ppl, unigram = m["valid_ppl"], m["unigram_ppl"]
    return Precondition(
        text=f"both models learned more than word frequencies: validation perplexity below the unigram perplexity "
             f"of the validation text ({unigram:.1f})",
        measured=f"untied {ppl['untied']:.1f}, tied {ppl['tied']:.1f}",
        met=max(ppl.values()) < unigram,
        remedy=f"train longer (more than {cfg.epochs} epochs), or at paper scale: python -m tiedemb run "
               f"grad-update-rule --scale paper",
    )


def judge_update_rule(cfg: UpdateRuleConfig, m: dict) -> list[Claim]:
    """PW-T4 and PW-T5: what the update rule implies over a whole training run, measured on trained models."""
    precondition = learned(cfg, m)
    final, per_seed = m["final"], m["final_per_seed"]
    in_role, out_role = m["median_input_role_per_position"], m["median_update_fraction"]["tied"]
    closer_out = sum(o > i for o, i in zip(per_seed["rho_tied_out"], per_seed["rho_tied_in"], strict=True))
    n = len(per_seed["rho_tied_out"])
    return [
        judge("PW-T4", "For the input word's own row, the tied update is the input-embedding update plus the "
              "output term p(i_t) h (Eq. 4), and that term is small because a word rarely follows itself.",
              f"Eq. 4; the extra term is small (checked empirically in the paper). Our criterion: mean p(i_t) "
              f"below {SMALL_TERM}",
              f"mean p(input word as next word) on held-out text = {m['p_input_word']:.4f} (corpus repeat rate "
              f"{m['repeat_rate']:.4f}); Eq. 4 itself, an identity (PW-E5), holds on the trained model to a "
              f"relative error of {m['present_rows_err_relative']:.1e}",
              m["p_input_word"] < SMALL_TERM, precondition),
        judge("PW-T5", "The tied matrix is updated as an output embedding far more often than as an input embedding, "
              "so it evolves like the untied output embedding.",
              f"tied ≈ untied output embedding. Our criterion: output-role updates at least {ROLE_RATIO}× as "
              f"frequent as input-role ones for the median row, and at the end of training the tied matrix's "
              f"similarity structure closer to the untied output embedding's than to the input embedding's, in "
              f"every seed",
              f"median row: output-role update at {out_role:.0%} of positions, input-role at {in_role:.2%} (per "
              f"minibatch of {cfg.batch_size}×{cfg.bptt} tokens: {m['median_input_role_per_step']:.0%} of steps); "
              f"final similarity-structure correlation ρ(tied, out) = {final['rho_tied_out']:.2f} vs ρ(tied, in) = "
              f"{final['rho_tied_in']:.2f}, closer to the output embedding in {closer_out} of {n} seeds",
              out_role >= ROLE_RATIO * in_role and closer_out == n, precondition),
    ]


@register("grad-update-rule", reproduces="Press & Wolf (2017) Sec. 3, update-rule analysis (PW-T4, PW-T5)",
          chapter=CHAPTER, config_cls=UpdateRuleConfig, judge=judge_update_rule, cost=100)
def run_update_rule(cfg: UpdateRuleConfig) -> Result:
    spec = CorpusSpec(cfg.n_groups, cfg.concepts_per_group, cfg.words_per_concept)
    # The language and the text are fixed across model seeds (stream 0 of the first seed), as a dataset would be.
    corpus = generate(spec, cfg.train_tokens, cfg.valid_tokens, numpy_rng(cfg.seeds[0], 0))
    pairs = random_pairs(cfg.vocab_size, cfg.n_pairs, numpy_rng(cfg.seeds[0], 3))
    runs = [train_pair(cfg, seed, corpus, pairs, checkpoint=checkpoint_path(cfg, f"seed{seed}") if cfg.checkpoint_every
                       else None) for seed in cfg.seeds]

    freq = corpus.counts("train") / len(corpus.train)
    uf = {k: np.stack([r["update_fraction"][k] for r in runs]) for k in runs[0]["update_fraction"]}
    disp = {k: np.stack([r["displacement"][k] for r in runs]) for k in runs[0]["displacement"]}
    snaps = {k: np.stack([r["snapshots"][k] for r in runs]) for k in runs[0]["snapshots"]}
    params = runs[0]["params"]
    saving = params["untied"] - params["tied"]
    ptb_small = {t: count_parameters(LSTMLanguageModel(10_000, 200, 2, tied=t)) for t in (False, True)}
    metrics = {
        "vocab_size": cfg.vocab_size,
        "steps": runs[0]["steps"],
        "final": {k: float(snaps[k][:, -1].mean()) for k in snaps if k != "step"},
        "final_per_seed": {k: snaps[k][:, -1].tolist() for k in ("rho_tied_out", "rho_tied_in")},
        # Fraction of the snapshots after the first at which the tied matrix is closer to the untied output embedding.
        "closer_to_output_fraction": float((snaps["rho_tied_out"][:, 1:] > snaps["rho_tied_in"][:, 1:]).mean()),
        "median_update_fraction": {k: float(np.median(v)) for k, v in uf.items()},
        "min_update_fraction": {k: float(v.min()) for k, v in uf.items()},
        # The paper's accounting is per time step: at each position one row (the input word's) gets an input-role
        # update and every row an output-role update, so a row's input-role share is its word frequency.
        "median_input_role_per_position": float(np.median(freq)),
        "median_input_role_per_step": float(np.median(uf["tied_input_role"])),
        "p_input_word": float(np.mean([r["p_input_word"] for r in runs])),
        "repeat_rate": float(np.mean(corpus.valid[1:] == corpus.valid[:-1])),
        "present_rows_err_relative": max(r["present_rows_err"] / r["grad_scale"] for r in runs),
        "valid_ppl": {k: float(np.mean([r["valid_ppl"][k] for r in runs])) for k in ("untied", "tied")},
        "valid_ppl_per_seed": {k: [r["valid_ppl"][k] for r in runs] for k in ("untied", "tied")},
        "unigram_ppl": unigram_perplexity(corpus),
        "params": params,
        "analytic_params": runs[0]["analytic_params"],
        "param_saving": saving,
        "param_saving_fraction": saving / params["untied"],
        "ptb_small_params": {"untied": ptb_small[False], "tied": ptb_small[True],
                             "saving": ptb_small[False] - ptb_small[True]},
        "timing": {"tokens_per_s": float(np.mean([r["tokens_per_s"] for r in runs])),
                   "model_flops_per_s": float(np.mean([r["model_flops_per_s"] for r in runs])),
                   "train_seconds": float(sum(r["train_seconds"] for r in runs))},
    }
    arrays = {
        "frequency": freq,
        **{f"update_fraction_{k}": v for k, v in uf.items()},
        **{f"displacement_{k}": v for k, v in disp.items()},
        **{f"snap_{k}": v for k, v in snaps.items()},
        "loss_untied": np.stack([r["loss"]["untied"] for r in runs]),
        "loss_tied": np.stack([r["loss"]["tied"] for r in runs]),
    }
    return Result("grad-update-rule", cfg.to_dict(), metrics, [], arrays)
