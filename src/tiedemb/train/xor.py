"""Training on the XOR language: every seed and both tied and untied variants in one batched computation.

Each seed draws its own data stream (as the authors' code does), shared by that seed's untied and tied runs: at each
step every training string with fresh symbols and one fresh masked bit (one full-batch step). Each variant (untied,
tied) is an :class:`~tiedemb.models.xor.XorEnsemble` of all seeds, every run reading its seed's batch; the loss is the
sum of every run's mean cross-entropy, so each run receives its own gradient, and one AdamW (element-wise) updates every
run exactly as it would be updated alone.

Long runs checkpoint periodically (model, optimiser, scheduler, both data generators and the records so far); a run
restarted after a kill resumes from the last checkpoint and ends with exactly the numbers of an uninterrupted run.

Paper: bertolotti2024, the XOR experiments (code: trainer, AdamW, CosineAnnealingLR, distance callback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.xor import XorLanguage
from ..models.xor import BodySpec, XorEnsemble, build_model
from .loop import OptimSpec, Stop, Task, fit


@dataclass(frozen=True)
class TrainSpec:
    """Optimiser, schedule and bookkeeping of one XOR training (see the experiment configs for sources)."""

    steps: int  # optimiser steps (= epochs: one full-batch step per epoch)
    lr: float  # AdamW peak learning rate
    weight_decay: float  # AdamW decoupled weight decay, on every parameter
    t_max: int  # CosineAnnealingLR period parameter (the lr is periodic with period 2 t_max)
    eta_min: float  # lowest learning rate of the cosine schedule
    eps: float = 1e-12  # AdamW eps
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    eval_every: int = 100  # steps between accuracy evaluations
    record_every: int = 100  # steps between records of the embedding distance matrices and losses
    checkpoint_every: int = 0  # steps between checkpoints (0: none)
    data_seed: int = 14  # base of the training streams: seed s draws symbols and masks from stream (data_seed, s)
    # (:func:`stream_seed`), shared by its untied and tied runs; the evaluation set uses data_seed + 1


def stream_seed(data_seed: int, seed: int) -> int:
    """The seed of model seed ``seed``'s training stream: distinct for every (data_seed, seed), fixed across runs."""
    return int(np.random.SeedSequence([data_seed, seed]).generate_state(1)[0])


def symbol_probabilities(lang: XorLanguage) -> torch.Tensor:
    """P(symbol | bit value): (2, vocab_size)."""
    p = torch.zeros(2, lang.vocab_size, dtype=torch.float64)
    p[0, :lang.n_zero] = torch.tensor(lang.zero_dst, dtype=torch.float64) / sum(lang.zero_dst)
    p[1, lang.n_zero:lang.even] = torch.tensor(lang.one_dst, dtype=torch.float64) / sum(lang.one_dst)
    return p


class EvalSet:
    """Every training string masked at every bit position, symbols drawn once (the authors' validation set was a
    fixed draw over the training strings too).

    Accuracy is the probability that the predicted symbol is the one drawn at the masked position, i.e. the accuracy
    in expectation over that draw: it removes the irreducible noise, and its best value is exactly the Bayes
    accuracy of :meth:`XorLanguage.bayes_accuracy`.
    """

    def __init__(self, lang: XorLanguage, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.inputs, targets, self.pos = lang.every_position("train", gen)
        rows = torch.arange(len(targets))
        self.bit = (targets[rows, self.pos] >= lang.n_zero).long()  # (N,) value of the masked bit
        self.prob = symbol_probabilities(lang)  # (2, V)

    @torch.no_grad()
    def accuracy(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (R, N, V) -> expected accuracy per run (R,)."""
        pred = logits.argmax(dim=-1)  # (R, N)
        return self.prob[self.bit.expand_as(pred), pred].mean(dim=1)


def masked_targets(targets: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """The target symbol at each masked position: (B, L), (B,) -> (B,)."""
    return targets[torch.arange(len(targets)), pos]


def run_losses(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each run: logits (R, B, V), target (R, B) (each run's own) or (B,) (shared) -> (R,)."""
    R, B, V = logits.shape
    target = target.expand(R, B) if target.dim() == 1 else target
    ce = F.cross_entropy(logits.reshape(R * B, V), target.reshape(R * B), reduction="none")
    return ce.view(R, B).mean(dim=1)


class XorTask(Task):
    """The XOR language as a :class:`~tiedemb.train.loop.Task` for an ensemble of runs of several variants.

    Each step: every training string with fresh symbols and one fresh masked bit (one full-batch step). Records the
    embedding distance matrices every ``record_every`` steps, the expected accuracy every ``eval_every`` steps, and
    every run's loss every ``record_every`` steps.
    """

    def __init__(self, lang: XorLanguage, spec: TrainSpec, seeds: tuple[int, ...], variants: tuple[bool, ...],
                 part: dict[bool, slice], distances: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.lang, self.spec, self.variants, self.part, self.distances = lang, spec, variants, part, distances
        self.data_gens = [torch.Generator().manual_seed(stream_seed(spec.data_seed, s)) for s in seeds]
        self.run_seed = torch.arange(len(seeds)).repeat(len(variants))  # run r reads the batch of seed run_seed[r]
        self.evalset = EvalSet(lang, spec.data_seed + 1)
        self.tokens_per_step = len(lang.splits["train"]) * lang.seq_len
        self.rec: dict[str, list] = {"record_step": [], "eval_step": [], "loss_step": []}
        for t in variants:
            for k in ("dist_in", "dist_out", "acc", "loss"):
                self.rec[f"{k}_{_NAMES[t]}"] = []

    def observe(self, model: XorEnsemble, step: int) -> None:
        final = step == self.spec.steps
        if step % self.spec.record_every == 0 or final:
            self.rec["record_step"].append(torch.tensor(step))
            d_in, d_out = self.distances(model.emb_in).float(), self.distances(model.emb_out).float()
            for t in self.variants:
                self.rec[f"dist_in_{_NAMES[t]}"].append(d_in[self.part[t]])
                self.rec[f"dist_out_{_NAMES[t]}"].append(d_out[self.part[t]])
        if step % self.spec.eval_every == 0 or final:
            self.rec["eval_step"].append(torch.tensor(step))
            with torch.no_grad():
                acc = self.evalset.accuracy(model(self.evalset.inputs, self.evalset.pos)).float()
            for t in self.variants:
                self.rec[f"acc_{_NAMES[t]}"].append(acc[self.part[t]])

    def loss(self, model: XorEnsemble, step: int) -> torch.Tensor:
        inputs, targets, pos = self.lang.sample_many("train", self.data_gens)  # one batch per seed, (S, B, ...)
        target = targets.gather(2, pos[:, :, None]).squeeze(2)  # (S, B) the symbol at each masked position
        inputs, pos, target = inputs[self.run_seed], pos[self.run_seed], target[self.run_seed]  # each run its seed's
        losses = run_losses(model(inputs, pos), target)  # (R,)
        if step % self.spec.record_every == 0:
            self.rec["loss_step"].append(torch.tensor(step))
            for t in self.variants:
                self.rec[f"loss_{_NAMES[t]}"].append(losses[self.part[t]].detach().float())
        return losses.sum()

    def state_dict(self) -> dict:
        return {"data_gens": [g.get_state() for g in self.data_gens], "records": self.rec}

    def load_state_dict(self, state) -> None:
        for g, st in zip(self.data_gens, state["data_gens"], strict=True):
            g.set_state(st)
        self.rec = {k: [torch.as_tensor(x) for x in v] for k, v in state["records"].items()}

    def records(self) -> dict[str, np.ndarray]:
        out = {}
        for k, v in self.rec.items():
            arr = torch.stack(v).numpy()
            out[k] = arr if arr.ndim == 1 else np.moveaxis(arr, 0, 1)  # runs first
        return out


_NAMES = {False: "untied", True: "tied"}


def optim_spec(spec: TrainSpec, *, fused: bool) -> OptimSpec:
    """The optimiser of an XOR training: AdamW with the periodic cosine schedule of the authors' code."""
    return OptimSpec("adamw", lr=spec.lr, weight_decay=spec.weight_decay, eps=spec.eps, betas=spec.betas,
                     schedule="cosine", t_max=spec.t_max, eta_min=spec.eta_min, fused=fused)


def train_xor(lang: XorLanguage, body: BodySpec, seeds: tuple[int, ...], spec: TrainSpec, *,
              distances: Callable[[torch.Tensor], torch.Tensor],
              variants: tuple[bool, ...] = (False, True), checkpoint: Path | None = None,
              stop_after: int | None = None, desc: str = "") -> dict[str, np.ndarray] | None:
    """Train every seed of every variant (False = untied, True = tied) at once (:func:`~tiedemb.train.loop.fit`);
    return the records.

    Args:
        distances: the distance matrices recorded along training: (R, V, d) embeddings -> (R, V, V)
            (:func:`tiedemb.metrics.embeddings.row_distances`; passed in, so that training does not import metrics).
        checkpoint: a file to save to every ``spec.checkpoint_every`` steps and to resume from if it exists.
        stop_after: stop after this many steps and return None, as if the process had been killed (for tests).

    Returns:
        ``record_step`` (T,), ``eval_step`` (E,), ``loss_step`` (T') and per variant ``untied``/``tied``:
        ``dist_in_<v>`` and ``dist_out_<v>`` (runs, T, V, V) (equal for tied), ``acc_<v>`` (runs, E),
        ``loss_<v>`` (runs, T').
    """
    variants = tuple(sorted(set(variants)))
    n = len(seeds)
    ens = XorEnsemble(lang.vocab_size, lang.seq_len, body, tuple(seeds) * len(variants),
                      tied=tuple(t for t in variants for _ in seeds))
    part = {t: slice(i * n, (i + 1) * n) for i, t in enumerate(variants)}  # runs of each variant
    task = XorTask(lang, spec, tuple(seeds), variants, part, distances)
    fingerprint = {"lang": asdict(lang), "body": asdict(body), "seeds": list(seeds), "spec": asdict(spec),
                   "variants": list(variants)}
    try:
        fit(ens, task, steps=spec.steps, optim=optim_spec(spec, fused=True), checkpoint=checkpoint,
            checkpoint_every=spec.checkpoint_every, fingerprint=fingerprint, stop_after=stop_after, desc=desc)
    except Stop:
        return None
    return task.records()


class _ReferenceTask(Task):
    def __init__(self, lang: XorLanguage, spec: TrainSpec, seed: int) -> None:
        self.lang = lang
        self.data_gen = torch.Generator().manual_seed(stream_seed(spec.data_seed, seed))
        self.losses: list[float] = []

    def loss(self, model: nn.Module, step: int) -> torch.Tensor:
        inputs, targets, pos = self.lang.sample("train", self.data_gen)
        loss = F.cross_entropy(model(inputs, pos), masked_targets(targets, pos))
        self.losses.append(loss.item())
        return loss


def train_reference(lang: XorLanguage, body: BodySpec, seed: int, spec: TrainSpec, *, tied: bool,
                    steps: int | None = None) -> dict[str, np.ndarray]:
    """One run with a plain ``nn.Module`` and its own AdamW (same loop, no records): the baseline of the benchmark
    and of the exactness test.

    Returns the loss at every step and the final embedding matrices.
    """
    model = build_model(lang.vocab_size, lang.seq_len, body, tied=tied, seed=seed)
    task = _ReferenceTask(lang, spec, seed)
    fit(model, task, steps=spec.steps if steps is None else steps, optim=optim_spec(spec, fused=False))
    return {"loss": np.asarray(task.losses), "emb_in": model.emb_in.weight.detach().numpy().copy(),
            "emb_out": model.emb_out.weight.detach().numpy().copy()}
