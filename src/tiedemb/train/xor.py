"""Training on the XOR language: every seed and both tied and untied variants in one batched computation.

All runs see the same data stream (the authors' dataset RNG is fixed at 14 for every model seed): at each step every
training string with fresh symbols and one fresh masked bit (one full-batch step). Each variant (untied, tied) is an
:class:`~tiedemb.models.xor.XorEnsemble` of all seeds; the loss is the sum of every run's mean cross-entropy, so each
run receives its own gradient, and one AdamW (element-wise) updates every run exactly as it would be updated alone.

Long runs checkpoint periodically (model, optimiser, scheduler, both data generators and the records so far); a run
restarted after a kill resumes from the last checkpoint and ends with exactly the numbers of an uninterrupted run.

Paper: bertolotti2024, the XOR experiments (code: trainer, AdamW, CosineAnnealingLR, distance callback).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR

from ..data.xor import XorLanguage
from ..metrics.embeddings import row_distances
from ..models.xor import BodySpec, XorEnsemble, build_model
from .progress import progress


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
    data_seed: int = 14  # seed of the training stream (symbols and masks); the evaluation set uses data_seed + 1


class _Stop(Exception):
    """Raised internally to simulate a killed run (tests)."""


def symbol_probabilities(lang: XorLanguage) -> torch.Tensor:
    """P(symbol | bit value): (2, vocab_size)."""
    p = torch.zeros(2, lang.vocab_size, dtype=torch.float64)
    p[0, :lang.n_zero] = torch.tensor(lang.zero_dst, dtype=torch.float64) / sum(lang.zero_dst)
    p[1, lang.n_zero:lang.even] = torch.tensor(lang.one_dst, dtype=torch.float64) / sum(lang.one_dst)
    return p


class EvalSet:
    """Every training string masked at every bit position, symbols drawn once (the authors' validation set was a
    fixed draw over the training strings too; see the dossier's pitfalls).

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
    """Mean cross-entropy of each run: logits (R, B, V), target (B,) -> (R,)."""
    R, B, V = logits.shape
    ce = F.cross_entropy(logits.reshape(R * B, V), target.repeat(R), reduction="none")
    return ce.view(R, B).mean(dim=1)


def _atomic_save(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def train_xor(lang: XorLanguage, body: BodySpec, seeds: tuple[int, ...], spec: TrainSpec, *,
              variants: tuple[bool, ...] = (False, True), checkpoint: Path | None = None,
              stop_after: int | None = None, desc: str = "") -> dict[str, np.ndarray] | None:
    """Train every seed of every variant (False = untied, True = tied) at once; return the records.

    Args:
        checkpoint: a file to save to every ``spec.checkpoint_every`` steps and to resume from if it exists.
        stop_after: stop after this many steps and return None, as if the process had been killed (for tests).

    Returns:
        ``record_step`` (T,), ``eval_step`` (E,), ``loss_step`` (T',) and per variant ``untied``/``tied``:
        ``dist_in_<v>`` and ``dist_out_<v>`` (runs, T, V, V) (equal for tied), ``acc_<v>`` (runs, E),
        ``loss_<v>`` (runs, T').
    """
    names = {False: "untied", True: "tied"}
    variants = tuple(sorted(set(variants)))
    n = len(seeds)
    ens = XorEnsemble(lang.vocab_size, lang.seq_len, body, tuple(seeds) * len(variants),
                      tied=tuple(t for t in variants for _ in seeds))
    part = {t: slice(i * n, (i + 1) * n) for i, t in enumerate(variants)}  # runs of each variant
    opt = torch.optim.AdamW(ens.parameters(), lr=spec.lr, betas=spec.betas, eps=spec.eps,
                            weight_decay=spec.weight_decay, fused=True)
    sched = CosineAnnealingLR(opt, T_max=spec.t_max, eta_min=spec.eta_min)
    data_gen = torch.Generator().manual_seed(spec.data_seed)
    evalset = EvalSet(lang, spec.data_seed + 1)
    rec: dict[str, list] = {"record_step": [], "eval_step": [], "loss_step": []}
    for t in variants:
        for k in ("dist_in", "dist_out", "acc", "loss"):
            rec[f"{k}_{names[t]}"] = []
    fingerprint = {"lang": asdict(lang), "body": asdict(body), "seeds": list(seeds), "spec": asdict(spec),
                   "variants": list(variants)}
    start = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, weights_only=True)
        if state["fingerprint"] != fingerprint:
            raise ValueError(f"checkpoint {checkpoint} belongs to another configuration; delete it or change the path")
        ens.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        data_gen.set_state(state["data_gen"])
        rec = {k: [torch.as_tensor(x) for x in v] for k, v in state["records"].items()}
        start = state["step"]

    def save(step: int) -> None:
        _atomic_save({"fingerprint": fingerprint, "step": step, "model": ens.state_dict(),
                      "opt": opt.state_dict(), "sched": sched.state_dict(), "data_gen": data_gen.get_state(),
                      "records": rec}, Path(checkpoint))

    steps = spec.steps
    for s in progress(range(start, steps + 1), total=steps + 1 - start, desc=desc):
        if s % spec.record_every == 0 or s == steps:
            rec["record_step"].append(torch.tensor(s))
            d_in, d_out = row_distances(ens.emb_in).float(), row_distances(ens.emb_out).float()
            for t in variants:
                rec[f"dist_in_{names[t]}"].append(d_in[part[t]])
                rec[f"dist_out_{names[t]}"].append(d_out[part[t]])
        if s % spec.eval_every == 0 or s == steps:
            rec["eval_step"].append(torch.tensor(s))
            with torch.no_grad():
                acc = evalset.accuracy(ens(evalset.inputs, evalset.pos)).float()
            for t in variants:
                rec[f"acc_{names[t]}"].append(acc[part[t]])
        if s == steps:
            break
        if stop_after is not None and s >= stop_after:
            return None
        inputs, targets, pos = lang.sample("train", data_gen)
        losses = run_losses(ens(inputs, pos), masked_targets(targets, pos))  # (R,)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        sched.step()
        if s % spec.record_every == 0:
            rec["loss_step"].append(torch.tensor(s))
            for t in variants:
                rec[f"loss_{names[t]}"].append(losses[part[t]].detach().float())
        if checkpoint is not None and spec.checkpoint_every and (s + 1) % spec.checkpoint_every == 0:
            save(s + 1)
    out = {}
    for k, v in rec.items():
        arr = torch.stack(v).numpy()
        out[k] = arr if arr.ndim == 1 else np.moveaxis(arr, 0, 1)  # runs first
    return out


def train_reference(lang: XorLanguage, body: BodySpec, seed: int, spec: TrainSpec, *, tied: bool,
                    steps: int | None = None) -> dict[str, np.ndarray]:
    """One run with a plain ``nn.Module`` and its own AdamW: the baseline of the benchmark and of the exactness test.

    Returns the loss at every step and the final embedding matrices.
    """
    model = build_model(lang.vocab_size, lang.seq_len, body, tied=tied, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, betas=spec.betas, eps=spec.eps,
                            weight_decay=spec.weight_decay)
    sched = CosineAnnealingLR(opt, T_max=spec.t_max, eta_min=spec.eta_min)
    data_gen = torch.Generator().manual_seed(spec.data_seed)
    losses = []
    for _ in range(spec.steps if steps is None else steps):
        inputs, targets, pos = lang.sample("train", data_gen)
        loss = F.cross_entropy(model(inputs, pos), masked_targets(targets, pos))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return {"loss": np.asarray(losses), "emb_in": model.emb_in.weight.detach().numpy().copy(),
            "emb_out": model.emb_out.weight.detach().numpy().copy()}
