"""Training of masked language models on :func:`~tiedemb.train.loop.fit`: BERT masking, AdamW with a cosine schedule,
evaluations along training.

Each step draws a batch of sequences (the sequences are reshuffled every epoch with the task's generator) and masks it
afresh with BERT's rule; the loss is the mean cross-entropy over the masked positions. At every step of a given list
the model is evaluated on a fixed masked validation batch (:func:`masked_eval`), the mean training loss since the
previous evaluation is recorded, and an optional ``record`` function adds its own measurements (e.g. embedding
distances), and an optional :class:`PairMotion` follows how the rows of chosen word pairs move at every step. Runs
checkpoint periodically and resume exactly (:mod:`tiedemb.train.loop`).

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


MOTION = ("change", "decay", "pull", "spread", "shared", "differ")
"""What :class:`PairMotion` sums over the steps between two evaluations, per pair: the change of the pair's distance,
its three parts (change = decay + pull + spread), and the sizes of the pair's shared and differing updates."""


class PairMotion:
    """How the two rows of each word pair move, step by step, in one or more embedding matrices.

    For a pair (a, b) with gap D = E_a − E_b, an AdamW step with learning rate η and decoupled weight decay λ gives
    D' = (1 − ηλ) D − η (u_a − u_b), where u is Adam's direction. With ``r = ‖D‖`` and ``û = D / r``, the change of
    the distance splits exactly into three parts:

    - **decay** = −ηλ r: weight decay shrinks every gap by the same factor, whatever the data say;
    - **pull** = ⟨D' − D, û⟩ − decay: the gradient's part along the gap (negative when the step brings the rows
      together: both rows receive the same gradient in expectation when the pair is equivalent);
    - **spread** = r' − r − ⟨D' − D, û⟩ ≥ 0 (Cauchy–Schwarz): the part of the step across the gap, which can only push
      the rows apart; sampling noise in the two rows' gradients lands mostly here.

    Also the sizes of the pair's shared update (Δa + Δb)/2 and differing update (Δa − Δb)/2. Each is summed per pair
    over the steps between two calls of :meth:`take`.

    Args:
        pairs: name -> (P, 2) row indices (e.g. twin pairs, random pairs).
        matrices: role -> function giving the (V, d) matrix of that role from the model (e.g. input, output).
        decay: step -> ηλ of the update taken at that step (the learning rate at that step times the weight decay).
    """

    def __init__(self, pairs: Mapping[str, torch.Tensor], matrices: Mapping[str, Callable[[nn.Module], torch.Tensor]],
                 decay: Callable[[int], float]) -> None:
        self.pairs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in pairs.items()}
        for k, v in self.pairs.items():
            if v.dim() != 2 or v.shape[1] != 2:
                raise ValueError(f"pairs[{k!r}] must be (P, 2) row indices, got shape {tuple(v.shape)}")
        self.matrices, self.decay = dict(matrices), decay
        self.prev: dict[str, torch.Tensor] | None = None
        self.sums: dict[str, torch.Tensor] = {}

    def _rows(self, model: nn.Module) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {f"{kind}_{role}": get(model)[idx].to(torch.float64)  # (P, 2, d)
                    for role, get in self.matrices.items() for kind, idx in self.pairs.items()}

    def observe(self, model: nn.Module, step: int) -> None:
        """Called before update ``step`` (after ``step`` updates): adds the motion of the update just taken."""
        rows = self._rows(model)
        if self.prev is not None and step > 0:
            eta_lambda = self.decay(step - 1)
            for key, now in rows.items():
                before = self.prev[key]
                gap0, gap1 = before[:, 0] - before[:, 1], now[:, 0] - now[:, 1]  # (P, d)
                r0, r1 = gap0.norm(dim=1), gap1.norm(dim=1)
                unit = gap0 / r0.clamp_min(torch.finfo(torch.float64).tiny)[:, None]
                radial = ((gap1 - gap0) * unit).sum(dim=1)
                decay = -eta_lambda * r0
                move = now - before  # (P, 2, d)
                parts = {"change": r1 - r0, "decay": decay, "pull": radial - decay, "spread": r1 - r0 - radial,
                         "shared": (move[:, 0] + move[:, 1]).norm(dim=1) / 2,
                         "differ": (move[:, 0] - move[:, 1]).norm(dim=1) / 2}
                for q, v in parts.items():
                    name = f"motion_{key}_{q}"
                    self.sums[name] = self.sums.get(name, torch.zeros_like(v)) + v
        self.prev = rows

    def take(self) -> dict[str, torch.Tensor]:
        """The sums since the previous call (zeros before any step), each (P,); the sums start again from zero."""
        out = {f"motion_{kind}_{role}_{q}": self.sums.get(f"motion_{kind}_{role}_{q}",
                                                           torch.zeros(len(idx), dtype=torch.float64))
               for role in self.matrices for kind, idx in self.pairs.items() for q in MOTION}
        self.sums = {}
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"prev": self.prev, "sums": self.sums}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.prev, self.sums = state["prev"], dict(state["sums"])


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
        motion: follows chosen pairs of rows at every step; its sums since the previous evaluation are recorded with
            the evaluations (keys ``motion_…``).
    """

    def __init__(self, train: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor], masking: MaskingSpec, *,
                 batch_size: int, evaluate_at: list[int], generator: torch.Generator,
                 record: RecordFn | None = None, motion: PairMotion | None = None) -> None:
        if batch_size > len(train):
            raise ValueError(f"batch_size ({batch_size}) exceeds the {len(train)} training sequences")
        self.train, self.valid, self.masking = train, valid, masking
        self.batch_size, self.marks, self.generator, self.record = batch_size, set(evaluate_at), generator, record
        self.motion = motion
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
        if self.motion is not None:
            self.motion.observe(model, step)
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
        if self.motion is not None:
            for k, v in self.motion.take().items():
                self.rec.setdefault(k, []).append(v)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order, "cursor": self.cursor,
                "running": self.running, "n_running": self.n_running, "log": self.log, "records": self.rec,
                "motion": self.motion.state_dict() if self.motion is not None else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.cursor = state["order"], state["cursor"]
        self.running, self.n_running = state["running"], state["n_running"]
        self.log = {k: list(v) for k, v in state["log"].items()}
        self.rec = {k: list(v) for k, v in state["records"].items()}
        if self.motion is not None:
            self.motion.load_state_dict(state["motion"])


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
