"""Chapter "Twin tokens in a masked language model" (Bertolotti & Cazzola, ICML 2024, the MLM experiment).

``mlm-twins``: each of the 100 most frequent words of real English text gets a twin token. Two variants, each trained
untied and tied:

- ✓DH (``swap = 0.5``): every occurrence is written as the twin with probability 0.5, so word and twin are
  semantically and conditionally equivalent (the authors' experiment);
- ✗DH (``swap_ndh = 0.1``, the book's addition): the twin is written 10% of the time, so the pair stays semantically
  equivalent but the twin is nine times less likely as an output in every context: not conditionally equivalent.

Along training we record the Euclidean distance of the 100 twin pairs and of 100 seeded random pairs of distinct common
words, in the untied input, untied output and tied embeddings, and masked-token loss and accuracy. Before training, the
"should I tie?" diagnostic of the theory chapter (:func:`tiedemb.metrics.equivalence.estimate_pair`) scores the same
pairs on the training text, so the chapter can set what the corpus says beside what the trained embeddings show.

:func:`run_mlm_twins` computes the metrics and arrays; :func:`judge_mlm_twins` scores B-E8 and B-E9 from the metrics
alone, under a measured precondition: the models were trained to a plateau (:data:`PLATEAU`).

Paper: bertolotti2024, the MLM experiment on BookCorpus (code `semeqv/problem/mlm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...cache import checkpoint_path, produce_command
from ...claims import Claim, Precondition, judge
from ...config import ConfigError, ExperimentConfig, positive
from ...data.corpus import SPECIALS, ProcessedCorpus, load_corpus
from ...data.mlm import apply_twins, blocks, make_twins, mask_tokens, random_word_pairs
from ...metrics.embeddings import spearman
from ...metrics.equivalence import estimate_pairs
from ...models.mlm import MaskedLanguageModel
from ...models.tying import count_parameters
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...train.loop import OptimSpec, Stop, save_atomic
from ...train.mlm import MOTION, MaskingSpec, MLMTask, PairMotion, TrainLog, optim_spec, train_mlm
from .. import register

if TYPE_CHECKING:  # the sweep imports this module
    from .mlm_sweep import MLMTwinPointConfig

CHAPTER = "book/bertolotti/mlm_twins"
VARIANTS = ("dh", "ndh")  # ✓DH (swap 0.5) and ✗DH (swap 0.1)
MODELS = ("untied", "tied")
CLOSE = 0.5
"""A pair set counts as close when its mean distance is at most this fraction of the random pairs' mean distance."""
APART = 2.0
"""✗DH twins count as apart in an embedding when their mean distance is at least this multiple of the ✓DH twins'."""
LAST_PART = 0.25
"""The end of training over which convergence is judged: the last quarter of the steps."""
PLATEAU = 0.01
"""Precondition of B-E8 and B-E9: a model is trained to a plateau when its masked-token validation loss fell by less
than this fraction of its value over the last :data:`LAST_PART` of training.

Why: the claims (and the theorems behind them) describe models at the optimum of the loss, the state the authors'
figures show after three epochs of BookCorpus. A model whose validation loss still falls in the last quarter of its
training is still being fit, so its distances are not yet the end state the claims are about. The loss is measured on
a fixed masked validation batch, so the drop has no evaluation noise. The window and the tolerance were fixed before
the quick run's convergence was measured, are the same at every scale, and are not tuned to a verdict."""


@dataclass(frozen=True)
class MLMTwinsConfig(ExperimentConfig):
    """MLM with twin tokens on real text, ✓DH and ✗DH, untied and tied."""

    name = "mlm-twins"

    # Data
    source: str = "wikipedia"  # "wikipedia" = the sample shipped with gensim; or a UTF-8 text file (e.g. BookCorpus)
    vocab_size: int = 2000  # word-level vocabulary incl. [PAD]/[UNK]/[MASK]; paper: BERT WordPiece, 30,522
    split_seed: int = 0  # document shuffle of the 80/10/10 split; paper: BookCorpus train[0:70%] / [70:80%]
    n_twins: int = 100  # the most frequent words get twins; paper: 100 (a hard-coded list)
    twin_rank: int = 0  # twinned words: frequency ranks twin_rank+1 … twin_rank+n_twins (0: the most frequent, the
    # paper); random pairs are drawn among the same words
    swap: float = 0.5  # ✓DH: probability that an occurrence is written as its twin; paper: 0.5
    swap_ndh: float = 0.1  # ✗DH variant (the book's addition): twin written 10% of the time
    twin_seed: int = 42  # RNG seed of the swaps; paper: Python RNG seed 42
    n_random_pairs: int = 100  # control pairs of distinct common words; paper: 100 (drawn unseeded)
    seq_len: int = 64  # tokens per sequence (consecutive text); paper: sentences truncated at 128 WordPieces
    mlm_probability: float = 0.15  # BERT masking, 80/10/10; paper: 0.15
    # Model (Transformer encoder, post-LN, GELU, dropout 0, no positional encoding, no output bias)
    d_model: int = 64  # paper: 128
    n_layers: int = 1  # paper: 3
    n_heads: int = 2  # paper: 4
    d_ff: int = 128  # paper: 512
    init_std: float = 0.05  # N(0, init_std²) embeddings; paper: 0.3 (at 0.3 nothing moves in a few minutes)
    # Training
    steps: int = 1000  # paper: 3 epochs of BookCorpus (≈1.2M steps at batch 128)
    batch_size: int = 24  # paper: 128 (quick: 24 sequences of 64 words, about 4 epochs of the sample in 1,000 steps)
    lr: float = 1e-2  # AdamW; paper: 1e-4
    weight_decay: float = 0.1  # paper: 0.01
    eps: float = 1e-12  # AdamW epsilon; paper: 1e-12
    t_max: int = 0  # cosine period in steps; 0 = steps (one decay, no restarts); paper: 10,000
    eta_min: float = 1e-5  # paper: 1e-5
    checkpoints: int = 12  # distance/accuracy measurements along training (plus step 0); paper: every 10k steps
    valid_sequences: int = 128  # validation sequences masked once (fixed) for loss and accuracy
    checkpoint_every: int = 0  # steps between checkpoints of each model's training (0: none); paper scale: 1000
    # The diagnostic on the same pairs, from the training text before training (not in the paper)
    diagnose_window: int = 1  # context: this many tokens on each side of a position (the model sees both sides)
    diagnose_permutations: int = 19  # permutation-null draws; 19 gives a 5% test
    diagnose_min_count: int = 20  # fewer occurrences of either symbol: "too few samples"

    def _validate(self) -> None:
        for f in ("vocab_size", "n_twins", "n_random_pairs", "seq_len", "d_model", "n_layers", "n_heads", "d_ff",
                  "steps", "batch_size", "checkpoints", "valid_sequences", "diagnose_window", "diagnose_permutations",
                  "diagnose_min_count"):
            positive(f, getattr(self, f), integer=True)
        for f in ("init_std", "lr", "eps", "eta_min"):
            positive(f, getattr(self, f))
        for f in ("swap", "swap_ndh", "mlm_probability"):
            v = getattr(self, f)
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v < 1:
                raise ConfigError(f"{f} must lie strictly between 0 and 1, got {v!r}")
        if not isinstance(self.weight_decay, int | float) or self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        for f in ("split_seed", "twin_seed", "t_max", "checkpoint_every", "twin_rank"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{f} must be a non-negative integer, got {v!r}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.vocab_size < len(SPECIALS) + self.twin_rank + self.n_twins:
            raise ConfigError(f"vocab_size ({self.vocab_size}) must hold the {len(SPECIALS)} specials and the words "
                              f"up to frequency rank twin_rank + n_twins ({self.twin_rank + self.n_twins})")
        if self.n_random_pairs > self.n_twins * (self.n_twins - 1) // 2:
            raise ConfigError(f"n_random_pairs ({self.n_random_pairs}) exceeds the number of distinct pairs of "
                              f"{self.n_twins} words")
        if self.checkpoints > self.steps:
            raise ConfigError(f"checkpoints ({self.checkpoints}) must not exceed steps ({self.steps})")
        if not isinstance(self.source, str) or not self.source:
            raise ConfigError(f"source must be 'wikipedia' or the path of a text file, got {self.source!r}")

    @classmethod
    def quick(cls) -> MLMTwinsConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> MLMTwinsConfig:
        # The authors' model, optimiser and schedule; the text is still the offline sample unless `source` is changed.
        return cls(scale="paper", seeds=(42,), seq_len=128, d_model=128, n_layers=3, n_heads=4, d_ff=512,
                   init_std=0.3, steps=30_000, batch_size=128, lr=1e-4, weight_decay=0.01, t_max=10_000,
                   checkpoints=30, vocab_size=30_000, checkpoint_every=1000)


def pair_distances(weight: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Euclidean distance between the rows of each pair: (V, d), (n_pairs, 2) ids -> (n_pairs,) float64."""
    w = weight.detach()
    return (w[pairs[:, 0]] - w[pairs[:, 1]]).norm(dim=1).double()


DIAGNOSIS = ("d_sem", "d_sem_null", "d_cond", "d_cond_null", "sem_equiv", "cond_equiv", "few")
"""Per-pair arrays of :func:`diagnose_pairs`."""


def diagnose_pairs(sequences: list[list[str]], pairs: np.ndarray, *, window: int, permutations: int, min_count: int,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The "should I tie?" diagnostic on id pairs of a tokenised corpus, one :class:`PairReport` per pair (the pairs in
    turn, with the one ``rng``: :func:`~tiedemb.metrics.equivalence.estimate_pairs`).

    Args:
        sequences: the corpus as sequences of token ids written as strings.
        pairs: (n_pairs, 2) token ids.
    Returns:
        arrays (n_pairs,) named by :data:`DIAGNOSIS`: D≡ and D∼ with the means of their permutation nulls, whether
        each equivalence is accepted, and whether a symbol had too few occurrences to decide (NaN where undefined).
    """
    reports = estimate_pairs(sequences, [(str(a), str(b)) for a, b in np.asarray(pairs).tolist()], window=window,
                             permutations=permutations, min_count=min_count, rng=rng)
    return {
        "d_sem": np.array([r.semantic for r in reports]), "d_sem_null": np.array([r.semantic_null for r in reports]),
        "d_cond": np.array([r.conditional for r in reports]),
        "d_cond_null": np.array([r.conditional_null for r in reports]),
        "sem_equiv": np.array([r.semantic_equivalent for r in reports]),
        "cond_equiv": np.array([r.conditional_equivalent for r in reports]),
        "few": np.array([r.evidence == "too few samples" for r in reports]),
    }


def diagnosis_counts(diag: dict[str, np.ndarray]) -> dict[str, int]:
    """How many pairs the diagnostic puts in each case: DH holds (both / neither), fails (which side), undecided."""
    sem, cond, few = diag["sem_equiv"].astype(bool), diag["cond_equiv"].astype(bool), diag["few"].astype(bool)
    return {"both": int((sem & cond & ~few).sum()), "neither": int((~sem & ~cond & ~few).sum()),
            "sem_only": int((sem & ~cond & ~few).sum()), "cond_only": int((~sem & cond & ~few).sum()),
            "undecided": int(few.sum())}


def diagnosis_agreement(arrays: dict[str, np.ndarray], div: str, role: str) -> float:
    """Spearman correlation, over ✓DH twins, ✗DH twins and random pairs together, between a divergence's excess over
    its permutation null (before training) and the pair's final distance in the untied embedding ``role``."""
    sets = (("dh", "twin"), ("ndh", "twin"), ("dh", "rand"))
    excess = np.concatenate([(arrays[f"{v}_diag_{k}_d_{div}"] - arrays[f"{v}_diag_{k}_d_{div}_null"]).ravel()
                             for v, k in sets])
    dist = np.concatenate([arrays[f"{v}_untied_{k}_{role}"][:, -1].ravel() for v, k in sets])
    keep = np.isfinite(excess)
    return spearman(excess[keep], dist[keep])


def evaluation_steps(cfg: MLMTwinsConfig) -> list[int]:
    """The steps at which distances, loss and accuracy are measured (0 = before training)."""
    return sorted({0, *np.linspace(0, cfg.steps, cfg.checkpoints + 1).round().astype(int).tolist()})


def checkpoint_stem(cfg: MLMTwinsConfig, seed: int, variant: str, kind: str) -> Path:
    """Where one model's training checkpoint (``.pt``) and, once it has finished, its records (``.done.pt``) are kept
    while the run goes on; both are removed when the run ends."""
    return checkpoint_path(cfg, f"s{seed}", variant, kind, suffix="")


def mlm_optim(cfg: MLMTwinsConfig) -> OptimSpec:
    """AdamW with the cosine schedule of ``cfg`` (``t_max = 0``: one decay over the whole run)."""
    return optim_spec(lr=cfg.lr, weight_decay=cfg.weight_decay, eps=cfg.eps, t_max=cfg.t_max or cfg.steps,
                      eta_min=cfg.eta_min)


_LOG_LISTS = ("steps", "valid_loss", "valid_acc", "train_loss")


def _train_model(cfg: MLMTwinsConfig, model: MaskedLanguageModel, task: MLMTask, *, seed: int, variant: str,
                 kind: str) -> TrainLog:
    """Train one model; with ``cfg.checkpoint_every``, resume from its checkpoint, or take its finished records."""
    optim = mlm_optim(cfg)
    desc = f"seed {seed} {variant} {kind}"
    if not cfg.checkpoint_every:
        return train_mlm(model, task, steps=cfg.steps, optim=optim, desc=desc)
    stem = checkpoint_stem(cfg, seed, variant, kind)
    done = stem.with_name(stem.name + ".done.pt")
    if done.is_file():  # finished before the run was interrupted
        state = torch.load(done, weights_only=True)
        return TrainLog(**{k: list(state[k]) for k in _LOG_LISTS},
                        records={k: v.numpy() for k, v in state["records"].items()},
                        tokens_per_s=state["tokens_per_s"], model_flops_per_s=state["model_flops_per_s"],
                        train_seconds=state["train_seconds"])
    fingerprint = {"config": cfg.to_dict(), "seed": seed, "variant": variant, "kind": kind}
    log = train_mlm(model, task, steps=cfg.steps, optim=optim, checkpoint=stem.with_name(stem.name + ".pt"),
                    checkpoint_every=cfg.checkpoint_every, fingerprint=fingerprint, desc=desc)
    if log is None:
        raise Stop(f"training of {desc} stopped before its end")
    save_atomic({**{k: getattr(log, k) for k in _LOG_LISTS}, "tokens_per_s": log.tokens_per_s,
                 "model_flops_per_s": log.model_flops_per_s,
                 "train_seconds": log.train_seconds,
                 "records": {k: torch.from_numpy(v) for k, v in log.records.items()}}, done)
    return log


def twinned_words(cfg: MLMTwinsConfig | MLMTwinPointConfig, corpus: ProcessedCorpus) -> list[str]:
    """The words that get twins: frequency ranks ``twin_rank`` + 1 … ``twin_rank + n_twins`` of the training text."""
    return corpus.most_frequent(cfg.twin_rank + cfg.n_twins)[cfg.twin_rank:]


def rank_band(twin_rank: int, n_twins: int) -> str:
    """The frequency ranks of the twinned words in words, e.g. ``"201–250"`` (ranks start at 1)."""
    return f"{twin_rank + 1}–{twin_rank + n_twins}"


def _run_variant(cfg: MLMTwinsConfig, corpus, seed: int, variant: str, swap: float, pairs_random: np.ndarray) -> dict:
    """Train an untied and a tied model on the corpus with twins swapped at rate ``swap``; record distances."""
    base_v = corpus.vocab_size
    top = twinned_words(cfg, corpus)
    twins = make_twins(top, corpus.encode(top), base_v, swap)
    rng = numpy_rng(cfg.twin_seed)  # the swaps are fixed by twin_seed, like the authors' seed 42
    train_ids = apply_twins(corpus.train, twins, rng)
    valid_ids = apply_twins(corpus.valid, twins, rng)
    swapped = np.isin(train_ids, twins.twin_ids).sum() / max(np.isin(corpus.train, twins.word_ids).sum(), 1)
    V = base_v + cfg.n_twins
    masking = MaskingSpec(mask_id=corpus.mask_id, vocab_size=V, n_special=len(SPECIALS),
                          mlm_probability=cfg.mlm_probability, pad_id=corpus.pad_id)
    train = blocks(train_ids, cfg.seq_len)
    valid = blocks(valid_ids, cfg.seq_len)[: cfg.valid_sequences]
    valid_gen = torch.Generator().manual_seed(cfg.twin_seed)  # one fixed masking of the validation batch
    valid_masked = mask_tokens(valid, mask_id=masking.mask_id, vocab_size=V, n_special=masking.n_special,
                               generator=valid_gen, mlm_probability=cfg.mlm_probability, pad_id=corpus.pad_id)
    steps = evaluation_steps(cfg)
    out: dict = {"swap_rate": float(swapped)}
    text = [[str(t) for t in row] for row in train.tolist()]  # the training sequences, as the model sees them
    for kind, pairs in (("twin", twins.pairs), ("rand", pairs_random)):
        out[f"diag_{kind}"] = diagnose_pairs(text, pairs, window=cfg.diagnose_window,
                                             permutations=cfg.diagnose_permutations,
                                             min_count=cfg.diagnose_min_count, rng=numpy_rng(seed, 8))
    pair_sets = {"twin": torch.as_tensor(twins.pairs, dtype=torch.long),
                 "rand": torch.as_tensor(pairs_random, dtype=torch.long)}

    def record(model: MaskedLanguageModel) -> dict[str, torch.Tensor]:
        return {f"{k}_{role}": pair_distances(w, pairs) for role, w in (("in", model.emb_in.weight),
                                                                        ("out", model.emb_out.weight))
                for k, pairs in pair_sets.items()}

    for kind in MODELS:
        seed_everything(seed)  # same seed: tied and untied start from the same input embedding
        model = MaskedLanguageModel(V, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff, tied=kind == "tied",
                                    init_std=cfg.init_std, pad_id=corpus.pad_id)
        matrices = {"in": lambda m: m.emb_in.weight}
        if kind == "untied":
            matrices["out"] = lambda m: m.emb_out.weight
        optim = mlm_optim(cfg)
        motion = PairMotion(pair_sets, matrices, lambda step, o=optim: o.lr_at(step) * o.weight_decay)
        task = MLMTask(train, valid_masked, masking, batch_size=cfg.batch_size, evaluate_at=steps,
                       generator=torch.Generator().manual_seed(seed), record=record, motion=motion)
        log = _train_model(cfg, model, task, seed=seed, variant=variant, kind=kind)
        out[kind] = {
            **{k: log.records[k] for k in ("twin_in", "twin_out", "rand_in", "rand_out")},  # (evaluations, pairs)
            **{k: v for k, v in log.records.items() if k.startswith("motion_")},  # (evaluations, pairs)
            "valid_loss": np.array(log.valid_loss), "valid_acc": np.array(log.valid_acc),
            "train_loss": np.array(log.train_loss), "tokens_per_s": log.tokens_per_s,
            "model_flops_per_s": log.model_flops_per_s,
            "train_seconds": log.train_seconds, "parameters": count_parameters(model),
        }
    out["steps"] = np.array(steps)
    out["n_train_sequences"] = len(train)
    return out


EMBEDDINGS = {"in": ("untied", "in"), "out": ("untied", "out"), "tied": ("tied", "in")}
"""The three embeddings the chapter compares: (model, matrix role) of each."""


def motion_totals(arrays: dict[str, np.ndarray]) -> dict:
    """How the pairs moved over the whole run (:class:`~tiedemb.train.mlm.PairMotion`), per variant, embedding and
    pair kind: the mean over seeds and pairs of each part of the distance change summed over every step, the mean
    initial distance, and the ratio of the differing to the shared update (each summed over the run)."""
    out: dict = {}
    for v in VARIANTS:
        out[v] = {}
        for e, (m, role) in EMBEDDINGS.items():
            out[v][e] = {}
            for kind in ("twin", "rand"):
                tot = {q: float(arrays[f"{v}_{m}_motion_{kind}_{role}_{q}"].sum(axis=1).mean()) for q in MOTION}
                tot["start"] = float(arrays[f"{v}_{m}_{kind}_{role}"][:, 0].mean())
                tot["differ_over_shared"] = tot["differ"] / tot["shared"]
                out[v][e][kind] = tot
    return out


def _final(arrays: dict, key: str) -> float:
    """Mean over seeds and pairs of the last evaluation of an array (seeds, evaluations, pairs)."""
    return float(arrays[key][:, -1].mean())


def loss_drop(metrics: dict) -> tuple[int, int, dict[str, dict[str, float]]]:
    """The window of the convergence check and each model's relative drop of validation loss over it.

    Returns:
        the first evaluation step at or after the start of the last :data:`LAST_PART` of training (at least one
        evaluation before the end), the last step, and per variant and model ``(L(start) - L(end)) / L(start)`` of the
        validation loss (mean over seeds).
    """
    steps = metrics["training"]["eval_steps"]
    first = next(i for i, s in enumerate(steps) if s >= (1 - LAST_PART) * steps[-1])
    first = min(first, len(steps) - 2)
    curves = metrics["training"]["valid_loss"]
    drops = {v: {m: (curves[v][m][first] - curves[v][m][-1]) / curves[v][m][first] for m in MODELS}
             for v in VARIANTS}
    return steps[first], steps[-1], drops


_VARIANT_NAMES = {"dh": "✓DH", "ndh": "✗DH"}


def _plateau(cfg: MLMTwinsConfig, metrics: dict, variants: tuple[str, ...]) -> Precondition:
    start, end, drops = loss_drop(metrics)
    measured = {f"{_VARIANT_NAMES[v]} {m}": drops[v][m] for v in variants for m in MODELS}
    which = " and ".join(_VARIANT_NAMES[v] for v in variants)
    remedy = (f"train longer, e.g. {produce_command(type(cfg).paper())}" if cfg.scale == "quick"
              else "train longer (more steps), or on more text (source)")
    return Precondition(
        text=f"trained to a plateau: over the last quarter of training (steps {start:,}–{end:,}) the masked-token "
             f"validation loss of each {which} model fell by less than {PLATEAU:.0%}",
        measured="loss drop " + ", ".join(f"{k} {d:.2%}" for k, d in measured.items()),
        met=all(d < PLATEAU for d in measured.values()), remedy=remedy)


def judge_mlm_twins(cfg: MLMTwinsConfig, metrics: dict) -> list[Claim]:
    """B-E8 and B-E9 from the metrics, each under the precondition that the models it uses were trained to a
    plateau."""
    dist, ratio, apart = metrics["distances"], metrics["ratio_to_random"], metrics["ndh_over_dh"]
    e8 = all(ratio["dh"][e] <= CLOSE for e in ("in", "out", "tied"))
    names = {"in": "untied input", "out": "untied output", "tied": "tied"}
    words = "" if not cfg.twin_rank else \
        f"twins of the words ranked {rank_band(cfg.twin_rank, cfg.n_twins)} (not the most frequent): "
    e8_ours = words + "; ".join(f"{names[e]}: twins {dist['dh'][e]:.2f} vs random {dist['dh'][f'rand_{e}']:.2f} "
                        f"(ratio {ratio['dh'][e]:.2f})" for e in ("in", "out", "tied"))
    e9 = apart["out"] >= APART and apart["tied"] >= APART and ratio["ndh"]["in"] <= CLOSE
    return [
        judge("B-E8", "In a masked language model where each of the 100 most frequent words has a twin token "
              "(swap probability 0.5, so the DH holds for the pair), twin pairs end up close in the untied input, "
              "untied output and tied embeddings, while random pairs of common words stay apart.",
              "twin distances shrink toward 0 in all three embeddings; random pairs stay far apart (BookCorpus, "
              "BERT tokenizer, 3 epochs)",
              f"{e8_ours}; close = ratio ≤ {CLOSE}", e8, precondition=_plateau(cfg, metrics, ("dh",))),
        judge("B-E9", "The book's own addition: with twins written only 10% of the time (semantically but not "
              "conditionally equivalent, the DH fails for the pair), the twins' input embeddings still come close, "
              "but their untied output and tied embeddings stay apart.",
              "not in the paper; predicted by its theory (B-T2, B-T5) and its XOR experiment",
              f"✗DH twins: untied input ratio to random {ratio['ndh']['in']:.2f}; ✗DH/✓DH twin distance: untied "
              f"output {apart['out']:.1f}×, tied {apart['tied']:.1f}× (apart = ≥ {APART:.0f}×)", e9,
              precondition=_plateau(cfg, metrics, VARIANTS)),
    ]


@register("mlm-twins", reproduces="Bertolotti & Cazzola (2024), MLM panels (input, output, tied embeddings)",
          chapter=CHAPTER, config_cls=MLMTwinsConfig, judge=judge_mlm_twins, cost=130)
def run_mlm_twins(cfg: MLMTwinsConfig) -> Result:
    """Train every seed × variant × {untied, tied}; return the metrics and arrays (claims: :func:`judge_mlm_twins`)."""
    corpus = load_corpus(cfg.source, vocab_size=cfg.vocab_size, seed=cfg.split_seed)
    top_ids = corpus.encode(twinned_words(cfg, corpus))
    runs = {v: [] for v in VARIANTS}
    for seed in cfg.seeds:
        pairs_random = random_word_pairs(top_ids, cfg.n_random_pairs, numpy_rng(seed, 7))
        for variant, swap in zip(VARIANTS, (cfg.swap, cfg.swap_ndh), strict=True):
            runs[variant].append(_run_variant(cfg, corpus, seed, variant, swap, pairs_random))
    if cfg.checkpoint_every:
        for seed in cfg.seeds:
            for v in VARIANTS:
                for kind in MODELS:
                    stem = checkpoint_stem(cfg, seed, v, kind)
                    stem.with_name(stem.name + ".done.pt").unlink(missing_ok=True)

    arrays: dict[str, np.ndarray] = {"step": runs["dh"][0]["steps"]}
    for v in VARIANTS:
        for m in MODELS:
            motion = [k for k in runs[v][0][m] if k.startswith("motion_")]
            for k in ("twin_in", "twin_out", "rand_in", "rand_out", "valid_loss", "valid_acc", "train_loss", *motion):
                arrays[f"{v}_{m}_{k}"] = np.stack([r[m][k] for r in runs[v]])  # (seeds, evaluations[, pairs])
        for kind in ("twin", "rand"):
            for k in DIAGNOSIS:
                arrays[f"{v}_diag_{kind}_{k}"] = np.stack([r[f"diag_{kind}"][k] for r in runs[v]])  # (seeds, pairs)

    # Final mean distances; tied models have one matrix (input = output), reported as "tied".
    dist = {v: {"in": _final(arrays, f"{v}_untied_twin_in"), "out": _final(arrays, f"{v}_untied_twin_out"),
                "tied": _final(arrays, f"{v}_tied_twin_in"),
                "rand_in": _final(arrays, f"{v}_untied_rand_in"), "rand_out": _final(arrays, f"{v}_untied_rand_out"),
                "rand_tied": _final(arrays, f"{v}_tied_rand_in"),
                "init_in": float(arrays[f"{v}_untied_twin_in"][:, 0].mean()),
                "init_out": float(arrays[f"{v}_untied_twin_out"][:, 0].mean()),
                "init_tied": float(arrays[f"{v}_tied_twin_in"][:, 0].mean())}
            for v in VARIANTS}
    ratio = {v: {e: dist[v][e] / dist[v][f"rand_{e}"] for e in ("in", "out", "tied")} for v in VARIANTS}
    metrics = {
        "distances": dist, "ratio_to_random": ratio,
        "ndh_over_dh": {e: dist["ndh"][e] / dist["dh"][e] for e in ("in", "out", "tied")},
        "valid_accuracy": {v: {m: float(arrays[f"{v}_{m}_valid_acc"][:, -1].mean()) for m in MODELS}
                           for v in VARIANTS},
        "valid_loss": {v: {m: float(arrays[f"{v}_{m}_valid_loss"][:, -1].mean()) for m in MODELS} for v in VARIANTS},
        # the validation-loss curves (mean over seeds), for the convergence precondition
        "training": {"eval_steps": arrays["step"].tolist(),
                     "valid_loss": {v: {m: arrays[f"{v}_{m}_valid_loss"].mean(axis=0).tolist() for m in MODELS}
                                    for v in VARIANTS}},
        "motion": motion_totals(arrays),
        "swap_rate": {v: float(np.mean([r["swap_rate"] for r in runs[v]])) for v in VARIANTS},
        "parameters": {m: runs["dh"][0][m]["parameters"] for m in MODELS},
        "corpus": {"source": corpus.source, "train_tokens": len(corpus.train), "valid_tokens": len(corpus.valid),
                   "test_tokens": len(corpus.test), "vocab_size": corpus.vocab_size,
                   "unk_rate": corpus.unk_rate("train"), "n_train_sequences": runs["dh"][0]["n_train_sequences"],
                   "twinned_words": twinned_words(cfg, corpus)},
        "epochs": cfg.steps * cfg.batch_size / runs["dh"][0]["n_train_sequences"],
        # the diagnostic's cases over the seeds' pairs (random pairs are drawn per seed)
        "diagnosis": {v: {kind: diagnosis_counts({k: arrays[f"{v}_diag_{kind}_{k}"].ravel() for k in DIAGNOSIS})
                          for kind in ("twin", "rand")} for v in VARIANTS},
        "diagnosis_spearman": {"cond_out": diagnosis_agreement(arrays, "cond", "out"),
                               "sem_in": diagnosis_agreement(arrays, "sem", "in")},
        # speeds and wall times vary between runs: never glued, never compared
        "timing": {**{k: float(np.mean([r[m][k] for v in VARIANTS for r in runs[v] for m in MODELS]))
                      for k in ("tokens_per_s", "model_flops_per_s")},
                   "train_seconds": float(sum(r[m]["train_seconds"] for v in VARIANTS for r in runs[v]
                                              for m in MODELS))},
    }
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


@dataclass(frozen=True)
class MLMTwinsMidConfig(MLMTwinsConfig):
    """``mlm-twins`` on mid-frequency words, with a smaller model trained longer: a departure from the paper, where the
    twinned words are the 100 most frequent.

    The hypothesis it tests: the model has no positional encoding, so it sees each sequence as a bag of words, and in
    a bag of words the most frequent (function) words may have nearly the same contexts, so that random pairs of them
    are almost equivalent too and the twin/random ratio cannot fall far (``mlm-twins-sweep`` measures it). Words of
    frequency ranks 201–250 are content words, whose contexts (the topic) differ more. Quick: one seed, 3,000 steps.
    Paper: three seeds, 100,000 steps, checkpointed (``python -m tiedemb run mlm-twins-mid --scale paper``; committed
    under ``results/paper/``).
    """

    name = "mlm-twins-mid"

    @classmethod
    def quick(cls) -> MLMTwinsMidConfig:
        return cls(scale="quick", seeds=(0,), **MID_SIZES, steps=3000)

    @classmethod
    def paper(cls) -> MLMTwinsMidConfig:
        return cls(scale="paper", seeds=(0, 1, 2), **MID_SIZES, steps=100_000, checkpoints=20, checkpoint_every=1000)


MID_SIZES = dict(vocab_size=1000, n_twins=50, twin_rank=200, n_random_pairs=50, seq_len=32, d_model=32, d_ff=64,
                 valid_sequences=64)
"""mlm-twins-mid's data and model (the small model of ``mlm-twins-point``); its optimiser is mlm-twins' quick one."""


register("mlm-twins-mid", reproduces="Not in the paper: the MLM twin experiment on mid-frequency words (ranks "
         "201–250), a small model trained longer", chapter=CHAPTER, config_cls=MLMTwinsMidConfig,
         judge=judge_mlm_twins, cost=60, departure=True)(run_mlm_twins)
