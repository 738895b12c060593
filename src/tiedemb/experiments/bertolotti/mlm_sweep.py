"""Twin tokens at many training settings: where do twins end close together?

``mlm-twins-point`` trains the twin masked language model of ``mlm-twins`` (same data, model, masking, training task
and loop) at one setting, a small model by default, untied and tied, for every seed, and reports per seed the mean
distance of the twin pairs over that of random pairs of words of the same frequency band, in the untied input, untied
output and tied embedding. Besides the settings of ``mlm-twins`` it has the optimiser (AdamW or plain SGD) and the
frequency rank of the twinned words (``twin_rank``: 0 = the most frequent words; 200 = the words ranked 201, 202, …).

``mlm-twins-sweep`` runs (or loads) a list of points, each cached as a configuration of ``mlm-twins-point`` of its
own, so that a stopped sweep resumes at the point where it stopped; it finds the cheapest point (fewest steps) where
the ✓DH twins end at most :data:`~tiedemb.experiments.bertolotti.mlm.CLOSE` times as far apart as random pairs in the
untied input and in the tied matrix in every seed.

Not in the paper: the authors train one configuration (3 layers, d 128, init σ 0.3, AdamW lr 1e-4, weight decay 0.01,
about 1.2M steps). This sweep asks which ingredient makes twins collapse at a scale that runs in minutes.

Paper: bertolotti2024, the MLM experiment (code `semeqv/problem/mlm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...config import ConfigError, ExperimentConfig, one_of, positive
from ...data.corpus import SPECIALS, load_corpus
from ...data.mlm import apply_twins, blocks, make_twins, mask_tokens, random_word_pairs
from ...models.mlm import MaskedLanguageModel
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...train.loop import OPTIMIZERS, OptimSpec
from ...train.mlm import MaskingSpec, MLMTask, optim_spec, train_mlm
from .. import no_claims, register
from .mlm import CHAPTER, CLOSE, LAST_PART, MODELS, PLATEAU, pair_distances, twinned_words

EMBEDDINGS = {"in": ("untied", "in"), "out": ("untied", "out"), "tied": ("tied", "in")}
"""The three embeddings compared: (model, matrix role) of each."""


@dataclass(frozen=True)
class MLMTwinPointConfig(ExperimentConfig):
    """The twin MLM of ``mlm-twins`` at one training setting, one swap rate, untied and tied, every seed.

    Quick: a smaller model than ``mlm-twins`` (d 32, 1 layer, vocabulary 1,000, 50 twins, sequences of 32), so that a
    point with three seeds and 600 steps trains in about half a minute of one core. Paper: the sizes of mlm-twins'
    quick run.
    """

    name: ClassVar[str] = "mlm-twins-point"

    # Data (as mlm-twins unless stated)
    source: str = "wikipedia"  # "wikipedia" = the sample shipped with gensim; or a UTF-8 text file
    vocab_size: int = 1000  # mlm-twins: 2,000; paper: 30,522 WordPieces
    split_seed: int = 0
    n_twins: int = 50  # mlm-twins: 100; paper: 100
    twin_rank: int = 0  # twinned words are those of frequency rank twin_rank+1 … twin_rank+n_twins (0: the most
    # frequent, as in the paper); random pairs are drawn among the same words
    swap: float = 0.5  # 0.5 = ✓DH twins; 0.1 = ✗DH twins
    twin_seed: int = 42
    n_random_pairs: int = 50  # mlm-twins: 100
    seq_len: int = 32  # mlm-twins: 64; paper: 128
    mlm_probability: float = 0.15
    # Model
    d_model: int = 32  # mlm-twins: 64; paper: 128
    n_layers: int = 1  # paper: 3
    n_heads: int = 2  # paper: 4
    d_ff: int = 64  # mlm-twins: 128; paper: 512
    init_std: float = 0.05  # paper: 0.3
    # Training
    optimizer: str = "adamw"  # "adamw" (paper) or "sgd" (plain SGD: no momentum, no weight decay)
    steps: int = 1000
    batch_size: int = 24
    lr: float = 1e-2  # peak learning rate; paper: 1e-4 (AdamW)
    weight_decay: float = 0.1  # AdamW decoupled weight decay (SGD: must be 0); paper: 0.01
    eps: float = 1e-12  # AdamW epsilon; paper: 1e-12
    t_max: int = 0  # cosine half-period in steps; 0 = steps (one decay)
    eta_min: float = 1e-5  # lowest learning rate of the cosine; paper: 1e-5
    checkpoints: int = 8  # evaluations along training (plus step 0)
    valid_sequences: int = 64  # fixed masked validation sequences

    def _validate(self) -> None:
        for f in ("vocab_size", "n_twins", "n_random_pairs", "seq_len", "d_model", "n_layers", "n_heads", "d_ff",
                  "steps", "batch_size", "checkpoints", "valid_sequences"):
            positive(f, getattr(self, f), integer=True)
        for f in ("init_std", "lr", "eps"):
            positive(f, getattr(self, f))
        for f in ("swap", "mlm_probability"):
            v = getattr(self, f)
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v < 1:
                raise ConfigError(f"{f} must lie strictly between 0 and 1, got {v!r}")
        one_of("optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.weight_decay, int | float) or isinstance(self.weight_decay, bool) \
                or self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.optimizer == "sgd" and self.weight_decay:
            raise ConfigError(f"weight_decay must be 0 with optimizer 'sgd' (plain SGD has none), got "
                              f"{self.weight_decay!r}")
        if not isinstance(self.eta_min, int | float) or isinstance(self.eta_min, bool) \
                or not 0 <= self.eta_min < self.lr:
            raise ConfigError(f"eta_min must be >= 0 and below lr ({self.lr!r}), got {self.eta_min!r}")
        for f in ("split_seed", "twin_seed", "t_max", "twin_rank"):
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

    @classmethod
    def quick(cls) -> MLMTwinPointConfig:
        # The quick sweep's first point (mlm-twins' optimiser on the small model, 600 steps), so that `run --all`
        # trains it once for both experiments.
        return cls(scale="quick", seeds=(0, 1, 2), steps=600)

    @classmethod
    def paper(cls) -> MLMTwinPointConfig:
        # The model and data sizes of mlm-twins' quick run (still far from the authors': d 128, 3 layers); the
        # paper-scale sweep changes the training settings, point by point.
        return cls(scale="paper", seeds=(0, 1, 2), vocab_size=2000, n_twins=100, n_random_pairs=100, seq_len=64,
                   d_model=64, d_ff=128, checkpoints=12, valid_sequences=128)

    def optim(self) -> OptimSpec:
        """The optimiser and its cosine schedule (``t_max = 0``: one decay over the whole run)."""
        t_max = self.t_max or self.steps
        if self.optimizer == "sgd":
            return OptimSpec("sgd", lr=self.lr, schedule="cosine", t_max=t_max, eta_min=self.eta_min)
        return optim_spec(lr=self.lr, weight_decay=self.weight_decay, eps=self.eps, t_max=t_max,
                          eta_min=self.eta_min)


def evaluation_steps(steps: int, checkpoints: int) -> list[int]:
    """The steps at which distances, loss and accuracy are measured (0 = before training)."""
    return sorted({0, *np.linspace(0, steps, checkpoints + 1).round().astype(int).tolist()})


def run_point(cfg: MLMTwinPointConfig) -> Result:
    """Train every seed untied and tied at the point's settings; per seed the final twin and random-pair distances
    and their ratio in each embedding, validation loss and accuracy, and the loss drop over the last quarter."""
    corpus = load_corpus(cfg.source, vocab_size=cfg.vocab_size, seed=cfg.split_seed)
    band = twinned_words(cfg, corpus)
    band_ids = corpus.encode(band)
    twins = make_twins(band, band_ids, corpus.vocab_size, cfg.swap)
    rng = numpy_rng(cfg.twin_seed)  # the swaps are fixed by twin_seed, as in mlm-twins
    train_ids, valid_ids = apply_twins(corpus.train, twins, rng), apply_twins(corpus.valid, twins, rng)
    V = corpus.vocab_size + cfg.n_twins
    masking = MaskingSpec(mask_id=corpus.mask_id, vocab_size=V, n_special=len(SPECIALS),
                          mlm_probability=cfg.mlm_probability, pad_id=corpus.pad_id)
    train = blocks(train_ids, cfg.seq_len)
    valid = blocks(valid_ids, cfg.seq_len)[: cfg.valid_sequences]
    valid_masked = mask_tokens(valid, mask_id=masking.mask_id, vocab_size=V, n_special=masking.n_special,
                               generator=torch.Generator().manual_seed(cfg.twin_seed),
                               mlm_probability=cfg.mlm_probability, pad_id=corpus.pad_id)
    steps = evaluation_steps(cfg.steps, cfg.checkpoints)
    arrays: dict[str, list] = {}
    seconds = 0.0
    for seed in cfg.seeds:
        pair_sets = {"twin": torch.as_tensor(twins.pairs, dtype=torch.long),
                     "rand": torch.as_tensor(random_word_pairs(band_ids, cfg.n_random_pairs, numpy_rng(seed, 7)),
                                             dtype=torch.long)}

        def record(model: MaskedLanguageModel, pair_sets=pair_sets) -> dict[str, torch.Tensor]:
            return {f"{k}_{role}": pair_distances(w, pairs) for role, w in (("in", model.emb_in.weight),
                                                                            ("out", model.emb_out.weight))
                    for k, pairs in pair_sets.items()}

        for kind in MODELS:
            seed_everything(seed)  # tied and untied start from the same input embedding
            model = MaskedLanguageModel(V, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff, tied=kind == "tied",
                                        init_std=cfg.init_std, pad_id=corpus.pad_id)
            task = MLMTask(train, valid_masked, masking, batch_size=cfg.batch_size, evaluate_at=steps,
                           generator=torch.Generator().manual_seed(seed), record=record)
            log = train_mlm(model, task, steps=cfg.steps, optim=cfg.optim(), desc=f"seed {seed} {kind}")
            seconds += log.train_seconds
            for k in ("twin_in", "twin_out", "rand_in", "rand_out"):
                arrays.setdefault(f"{kind}_{k}", []).append(log.records[k])  # (evaluations, pairs)
            for k in ("valid_loss", "valid_acc"):
                arrays.setdefault(f"{kind}_{k}", []).append(np.array(getattr(log, k)))
    out = {k: np.stack(v) for k, v in arrays.items()}  # (seeds, evaluations[, pairs])
    out["step"] = np.array(steps)
    return Result(cfg.name, cfg.to_dict(), point_metrics(out, seconds), [], out)


def _finite(values: np.ndarray) -> list[float | None]:
    """A list of floats with ``None`` where a run diverged (NaN or infinite)."""
    return [float(v) if np.isfinite(v) else None for v in values]


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def point_metrics(arrays: dict[str, np.ndarray], train_seconds: float) -> dict:
    """Per embedding and seed: final mean twin distance, random-pair distance and their ratio; per model and seed:
    final validation accuracy and loss, and the relative validation-loss drop over the last :data:`LAST_PART`.

    A seed whose training diverged (non-finite numbers) gets ``None`` and is counted in ``diverged``; means are over
    the other seeds; a point with a diverged seed is never "close"."""
    steps = arrays["step"]
    first = min(int(np.searchsorted(steps, (1 - LAST_PART) * steps[-1])), len(steps) - 2)
    m: dict = {"ratio": {}, "twin": {}, "rand": {}}
    for e, (model, role) in EMBEDDINGS.items():
        twin = arrays[f"{model}_twin_{role}"][:, -1].mean(axis=1)  # (seeds,)
        rand = arrays[f"{model}_rand_{role}"][:, -1].mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = twin / rand
        m["twin"][e], m["rand"][e], m["ratio"][e] = _finite(twin), _finite(rand), _finite(ratio)
    m["ratio_mean"] = {e: _mean(v) for e, v in m["ratio"].items()}
    m["valid_acc"] = {k: _finite(arrays[f"{k}_valid_acc"][:, -1]) for k in MODELS}
    m["valid_loss"] = {k: _finite(arrays[f"{k}_valid_loss"][:, -1]) for k in MODELS}
    loss = {k: arrays[f"{k}_valid_loss"] for k in MODELS}
    with np.errstate(invalid="ignore"):
        m["loss_drop"] = {k: _finite((v[:, first] - v[:, -1]) / v[:, first]) for k, v in loss.items()}
    n_seeds = len(arrays["untied_valid_loss"])
    m["diverged"] = sum(any(m["ratio"][e][i] is None for e in EMBEDDINGS) for i in range(n_seeds))
    m["plateau"] = bool(all(d is not None and d < PLATEAU for k in MODELS for d in m["loss_drop"][k]))
    m["close"] = bool(not m["diverged"] and all(r <= CLOSE for e in ("in", "tied") for r in m["ratio"][e]))
    m["timing"] = {"train_seconds": train_seconds}  # varies between runs: never glued
    return m


register("mlm-twins-point", reproduces="Not in the paper: the twin MLM at one training setting (a point of "
         "mlm-twins-sweep)", chapter=CHAPTER, config_cls=MLMTwinPointConfig, judge=no_claims, cost=30)(run_point)


POINT_FIELDS = ("optimizer", "lr", "weight_decay", "init_std", "steps", "twin_rank", "swap")
"""What a point of the sweep sets; everything else is the point configuration's preset at the sweep's scale."""


@dataclass(frozen=True)
class MLMTwinsSweepConfig(ExperimentConfig):
    """Points of ``mlm-twins-point``, each a tuple of :data:`POINT_FIELDS` values, every seed at every point."""

    name: ClassVar[str] = "mlm-twins-sweep"

    points: tuple[tuple, ...] = ()  # (optimizer, lr, weight_decay, init_std, steps, twin_rank, swap) per point

    def _validate(self) -> None:
        pts = tuple(tuple(p) for p in self.points)
        object.__setattr__(self, "points", pts)
        if not pts:
            raise ConfigError("points must list at least one point")
        for p in pts:
            if len(p) != len(POINT_FIELDS):
                raise ConfigError(f"each point must give {len(POINT_FIELDS)} values ({', '.join(POINT_FIELDS)}); "
                                  f"got {p!r}")
        if len(set(pts)) != len(pts):
            raise ConfigError(f"the points must be distinct; got {pts}")
        for p in pts:  # each point must be a valid point configuration
            self.point_config(p)

    def to_dict(self) -> dict:
        """As :meth:`ExperimentConfig.to_dict`, each point a list (as JSON stores it, so a stored config compares
        equal)."""
        return {**super().to_dict(), "points": [list(p) for p in self.points]}

    def point_config(self, point: tuple) -> MLMTwinPointConfig:
        """The point configuration at this scale with the point's settings and the sweep's seeds."""
        return MLMTwinPointConfig.for_scale(self.scale).replace(**dict(zip(POINT_FIELDS, point, strict=True)),
                                                                seeds=self.seeds)

    @classmethod
    def quick(cls) -> MLMTwinsSweepConfig:
        return cls(scale="quick", seeds=(0, 1, 2), points=QUICK_POINTS)

    @classmethod
    def paper(cls) -> MLMTwinsSweepConfig:
        return cls(scale="paper", seeds=(0, 1, 2), points=PAPER_POINTS)


QUICK_POINTS: tuple[tuple, ...] = (
    ("adamw", 1e-2, 0.1, 0.05, 600, 0, 0.5),  # the optimiser of mlm-twins' quick run, on the small model
    ("adamw", 1e-2, 1.0, 0.05, 600, 0, 0.5),  # ten times the weight decay: every gap shrinks ten times faster
    ("sgd", 1.0, 0.0, 0.05, 600, 0, 0.5),  # plain SGD: steps proportional to the gradient, no weight decay
)
"""The quick sweep: three points, three seeds, 600 steps (about two minutes of one core). Each asks whether one
ingredient, changed alone from mlm-twins' optimiser settings, brings the twins together."""


def _paper_points() -> tuple[tuple, ...]:
    grid = [("adamw", lr, wd, sigma, 1000, 0, 0.5) for lr in (1e-3, 3e-3, 1e-2) for wd in (0.01, 0.1, 1.0)
            for sigma in (0.05, 0.3)]
    grid += [("sgd", lr, 0.0, sigma, 1000, 0, 0.5) for lr in (0.3, 1.0) for sigma in (0.001, 0.05, 0.3)]
    grid += [("adamw", 1e-2, 0.1, 0.05, steps, 0, 0.5) for steps in (3000, 10_000)]  # longer training
    grid += [("adamw", 1e-3, 0.1, 0.05, 10_000, 0, 0.5)]  # a lower peak, trained ten times longer
    grid += [("adamw", 1e-2, 0.1, 0.05, 1000, 200, 0.5), ("sgd", 1.0, 0.0, 0.05, 1000, 200, 0.5)]  # mid-frequency
    grid += [("adamw", 1e-2, 0.1, 0.05, 1000, 0, 0.1)]  # ✗DH twins beside the ✓DH ones
    return (*QUICK_POINTS, *grid)


PAPER_POINTS: tuple[tuple, ...] = _paper_points()
"""The full sweep (``--scale paper``): AdamW over peak lr × weight decay × initial σ at 1,000 steps; SGD over lr ×
σ; longer training; mid-frequency twins (ranks 201–300); ✗DH twins; each point three seeds, on the model of
mlm-twins' quick run (:meth:`MLMTwinPointConfig.paper`; hours on one core)."""


def point_label(row: dict) -> str:
    """A point of the sweep in words: optimiser, lr, weight decay, initial σ, steps, twins' rank, swap."""
    opt = "AdamW" if row["optimizer"] == "adamw" else "SGD"
    wd = f", wd {row['weight_decay']:g}" if row["optimizer"] == "adamw" else ""
    rank = "top words" if row["twin_rank"] == 0 else f"ranks {row['twin_rank'] + 1}+"
    dh = "✓DH" if row["swap"] == 0.5 else f"swap {row['swap']:g}"
    return f"{opt} lr {row['lr']:g}{wd}, σ {row['init_std']:g}, {row['steps']:,} steps, {rank}, {dh}"


def run_sweep(cfg: MLMTwinsSweepConfig) -> Result:
    """Run (or load) every point; per point its settings, per-seed ratios, accuracies and plateau check, and which
    points bring the ✓DH twins close (:data:`CLOSE`) in the untied input and the tied matrix in every seed."""
    from .. import run_or_load

    rows, arrays = [], {}
    for i, point in enumerate(cfg.points):
        r = run_or_load(cfg.point_config(point), compute_missing=True)
        rows.append({**dict(zip(POINT_FIELDS, point, strict=True)),
                     **{k: r.metrics[k] for k in ("ratio", "ratio_mean", "twin", "rand", "valid_acc", "loss_drop",
                                                  "diverged", "plateau", "close")}})
        for e, (model, role) in EMBEDDINGS.items():  # mean over pairs along training, (seeds, evaluations)
            for kind in ("twin", "rand"):
                arrays[f"{kind}_{e}.{i}"] = r.arrays[f"{model}_{kind}_{role}"].mean(axis=2)
        arrays[f"step.{i}"] = r.arrays["step"]
    close = [i for i, row in enumerate(rows) if row["close"] and row["swap"] == 0.5]
    cheapest = min(close, key=lambda i: (rows[i]["steps"], i)) if close else None
    metrics = {"points": rows, "close": CLOSE, "cheapest_close": cheapest}
    return Result(cfg.name, cfg.to_dict(), metrics, [], arrays)


register("mlm-twins-sweep", reproduces="Not in the paper: the twin/random distance ratio of the twin MLM against "
         "optimiser, learning rate, weight decay, initial scale, steps and the twins' frequency rank",
         chapter=CHAPTER, config_cls=MLMTwinsSweepConfig, judge=no_claims, after=("mlm-twins-point",),
         cost=120)(run_sweep)
