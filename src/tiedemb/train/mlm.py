"""Training of masked language models: AdamW, cosine schedule, BERT masking, checkpoints along training.

Paper: bertolotti2024 (code `semeqv`: AdamW eps 1e-12, ``CosineAnnealingLR`` stepped every step, mean cross-entropy over
the masked positions).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..data.mlm import IGNORE, mask_tokens
from .progress import progress


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

    steps: list[int] = field(default_factory=list)  # checkpoint steps (0 = before training)
    valid_loss: list[float] = field(default_factory=list)  # masked-token cross-entropy on the validation batch
    valid_acc: list[float] = field(default_factory=list)  # masked-token accuracy (argmax = label)
    train_loss: list[float] = field(default_factory=list)  # mean training loss since the previous checkpoint
    tokens_per_s: float = 0.0  # training tokens (batch × seq) per second of training steps
    train_seconds: float = 0.0


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


def train_mlm(model: nn.Module, train: torch.Tensor, valid: tuple[torch.Tensor, torch.Tensor], masking: MaskingSpec,
              *, steps: int, batch_size: int, lr: float, weight_decay: float, eps: float, t_max: int, eta_min: float,
              checkpoints: list[int], generator: torch.Generator,
              on_checkpoint: Callable[[int], None] | None = None, desc: str = "") -> TrainLog:
    """Train ``model`` on ``train`` sequences (n, seq) for ``steps`` AdamW steps with fresh masks every step.

    Batches are drawn by reshuffling the sequences every epoch with ``generator``. At each step in ``checkpoints``
    (0 = before the first step) the validation loss and accuracy are measured on the fixed masked ``valid`` inputs
    and labels, and ``on_checkpoint(step)`` is called.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=eps, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    log = TrainLog()
    marks = set(checkpoints)
    running, n_running = 0.0, 0
    order = torch.randperm(len(train), generator=generator)
    cursor = 0
    train_time = 0.0

    def checkpoint(step: int) -> None:
        loss, acc = masked_eval(model, *valid)
        log.steps.append(step)
        log.valid_loss.append(loss)
        log.valid_acc.append(acc)
        log.train_loss.append(running / n_running if n_running else loss)
        if on_checkpoint is not None:
            on_checkpoint(step)

    model.train()
    if 0 in marks:
        checkpoint(0)
    for step in progress(range(1, steps + 1), total=steps, desc=desc):
        start = time.perf_counter()
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(len(train), generator=generator), 0
        batch = train[order[cursor : cursor + batch_size]]  # (batch, seq)
        cursor += batch_size
        inputs, labels = mask_tokens(batch, mask_id=masking.mask_id, vocab_size=masking.vocab_size,
                                     n_special=masking.n_special, generator=generator,
                                     mlm_probability=masking.mlm_probability, pad_id=masking.pad_id)
        pos = labels != IGNORE  # (batch, seq)
        logits = model(inputs, pos)  # (n_masked, vocab): the softmax only where a token is predicted
        loss = F.cross_entropy(logits, labels[pos])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        train_time += time.perf_counter() - start
        running, n_running = running + loss.item(), n_running + 1
        if step in marks:
            checkpoint(step)
            running, n_running = 0.0, 0
    log.train_seconds = train_time
    log.tokens_per_s = steps * batch_size * train.shape[1] / train_time if train_time > 0 else 0.0
    return log
