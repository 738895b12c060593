"""Training of masked language models on :func:`~tiedemb.train.loop.fit`: BERT masking, AdamW with a cosine schedule,
evaluations along training.

Each step draws a batch of sequences (the sequences are reshuffled every epoch with the task's generator) and masks it
afresh with BERT's rule; the loss is the mean cross-entropy over the masked positions. At every step of a given list
the model is evaluated on a fixed masked validation batch (:func:`masked_eval`), the mean training loss since the
previous evaluation is recorded, and an optional ``record`` function adds its own measurements (e.g. embedding
distances). Runs checkpoint periodically and resume exactly (:mod:`tiedemb.train.loop`).

Paper: bertolotti2024 (code `semeqv`: AdamW eps 1e-12, ``CosineAnnealingLR`` stepped every step, mean cross-entropy over
the masked positions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.mlm import IGNORE, mask_tokens
from .loop import OptimSpec, Stop, Task, fit


@dataclass(frozen=True)
class MaskingSpec:
    """What :func:`tiedemb.data.mlm.mask_tokens` needs besides the tokens."""

    mask_id: int
    vocab_size: int  # random replacements are drawn from [n_special, vocab_size)
    n_special: int
    mlm_probability: float = 0.15
    pad_id: int | None = 0


@dataclass
class TrainLog:
    """What one training run recorded."""

    steps: list[int] = field(default_factory=list)  # evaluation steps (0 = before training)
    valid_loss: list[float] = field(default_factory=list)  # masked-token cross-entropy on the validation batch
    valid_acc: list[float] = field(default_factory=list)  # masked-token accuracy (argmax = label)
    train_loss: list[float] = field(default_factory=list)  # mean training loss since the previous evaluation
    records: dict[str, np.ndarray] = field(default_factory=dict)  # the record function's values, (evaluations, ...)
    tokens_per_s: float = 0.0  # training tokens (batch × seq) per second of training steps, this process only
    model_flops_per_s: float = 0.0  # model FLOPs per second of training steps (MLMTask.flops_per_step)
    train_seconds: float = 0.0  # seconds of training steps, this process only


@torch.no_grad()
def masked_eval(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 64
                ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over the labelled positions of fixed masked inputs."""
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    for i in range(0, len(inputs), batch_size):
        x, y = inputs[i : i + batch_size], labels[i : i + batch_size]
        pos = y != IGNORE  # (batch, seq)
        logits = model(x, pos)  # (n, vocab)
        target = y[pos]
        total += float(F.cross_entropy(logits, target, reduction="sum"))
        correct += int((logits.argmax(dim=1) == target).sum())
        count += int(target.numel())
    model.train(was_training)
    return total / max(count, 1), correct / max(count, 1)


RecordFn = Callable[[nn.Module], Mapping[str, torch.Tensor]]


class MLMTask(Task):
    """Masked language modelling as a :class:`~tiedemb.train.loop.Task`.

    Args:
        train: training sequences (n, seq).
        valid: fixed masked validation inputs and labels, each (m, seq).
        evaluate_at: steps at which to evaluate (0 = before the first update).
        generator: draws the batch order and the masks (its state is part of the checkpoint).
        record: called with the model at every evaluation step; its tensors are stacked along the evaluations.
    """

    def __init__(self, train: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor], masking: MaskingSpec, *,
                 batch_size: int, evaluate_at: list[int], generator: torch.Generator,
                 record: RecordFn | None = None) -> None:
        if batch_size > len(train):
            raise ValueError(f"batch_size ({batch_size}) exceeds the {len(train)} training sequences")
        self.train, self.valid, self.masking = train, valid, masking
        self.batch_size, self.marks, self.generator, self.record = batch_size, set(evaluate_at), generator, record
        self.tokens_per_step = batch_size * train.shape[1]
        self.order = torch.randperm(len(train), generator=generator)
        self.cursor = 0
        self.running, self.n_running = 0.0, 0  # training loss summed since the previous evaluation
        self.log: dict[str, list] = {"steps": [], "valid_loss": [], "valid_acc": [], "train_loss": []}
        self.rec: dict[str, list[torch.Tensor]] = {}

    def loss(self, model: nn.Module, step: int) -> torch.Tensor:
        if self.cursor + self.batch_size > len(self.order):  # a new epoch: reshuffle
            self.order, self.cursor = torch.randperm(len(self.train), generator=self.generator), 0
        batch = self.train[self.order[self.cursor : self.cursor + self.batch_size]]  # (batch, seq)
        self.cursor += self.batch_size
        m = self.masking
        inputs, labels = mask_tokens(batch, mask_id=m.mask_id, vocab_size=m.vocab_size, n_special=m.n_special,
                                     generator=self.generator, mlm_probability=m.mlm_probability, pad_id=m.pad_id)
        pos = labels != IGNORE  # (batch, seq)
        logits = model(inputs, pos)  # (n_masked, vocab): the softmax only where a token is predicted
        loss = F.cross_entropy(logits, labels[pos])
        self.running, self.n_running = self.running + loss.item(), self.n_running + 1
        return loss

    def flops_per_step(self, model: nn.Module) -> float:
        count = getattr(model, "forward_flops_per_token", None)
        if count is None:  # a model of the user's own: its FLOPs are not known
            return 0.0
        return 3 * self.tokens_per_step * count(self.train.shape[1], self.masking.mlm_probability)

    def observe(self, model: nn.Module, step: int) -> None:
        if step not in self.marks:
            return
        loss, acc = masked_eval(model, *self.valid)
        self.log["steps"].append(step)
        self.log["valid_loss"].append(loss)
        self.log["valid_acc"].append(acc)
        self.log["train_loss"].append(self.running / self.n_running if self.n_running else loss)
        self.running, self.n_running = 0.0, 0
        if self.record is not None:
            for k, v in self.record(model).items():
                self.rec.setdefault(k, []).append(v.detach().clone())

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order, "cursor": self.cursor,
                "running": self.running, "n_running": self.n_running, "log": self.log, "records": self.rec}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.cursor = state["order"], state["cursor"]
        self.running, self.n_running = state["running"], state["n_running"]
        self.log = {k: list(v) for k, v in state["log"].items()}
        self.rec = {k: list(v) for k, v in state["records"].items()}


def optim_spec(*, lr: float, weight_decay: float, eps: float, t_max: int, eta_min: float) -> OptimSpec:
    """AdamW with ``CosineAnnealingLR(t_max, eta_min)`` stepped every step, as in the authors' code."""
    return OptimSpec("adamw", lr=lr, weight_decay=weight_decay, eps=eps, betas=(0.9, 0.999), schedule="cosine",
                     t_max=t_max, eta_min=eta_min)


def train_mlm(model: nn.Module, task: MLMTask, *, steps: int, optim: OptimSpec, checkpoint: Path | None = None,
              checkpoint_every: int = 0, fingerprint: Mapping[str, Any] | None = None, stop_after: int | None = None,
              desc: str = "") -> TrainLog | None:
    """Train ``model`` for ``steps`` updates of ``task`` (:func:`~tiedemb.train.loop.fit`); return what it recorded.

    Args:
        checkpoint: a file to save to every ``checkpoint_every`` steps and to resume from if it exists.
        stop_after: stop after this many steps and return None, as if the process had been killed (tests).
    """
    try:
        stats = fit(model, task, steps=steps, optim=optim, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                    fingerprint=fingerprint, stop_after=stop_after, desc=desc)
    except Stop:
        return None
    return TrainLog(steps=list(task.log["steps"]), valid_loss=list(task.log["valid_loss"]),
                    valid_acc=list(task.log["valid_acc"]), train_loss=list(task.log["train_loss"]),
                    records={k: torch.stack(v).numpy() for k, v in task.rec.items()},
                    tokens_per_s=stats.tokens_per_s, model_flops_per_s=stats.model_flops_per_s,
                    train_seconds=stats.train_seconds)
