"""The one training loop of the package: :func:`fit`, with the optimiser and schedule built in one place.

Every model family trains through :func:`fit`: the XOR ensembles (many seeds at once), the masked language models, the
gradient chapter's language models, the theory chapter's context models, and the chapters to come. What differs
between families lives in a :class:`Task`: how a step's loss is computed (the task draws its own batch from its own
generator), and what is observed along training (evaluations, records). The loop owns the rest: the optimiser and
its schedule (:class:`OptimSpec`, :func:`build_optimizer`), gradient clipping, progress, throughput, and periodic
checkpoints with exact resume (a run restarted after a kill ends with exactly the numbers of an uninterrupted run).

Step numbering: ``task.observe(model, s)`` is called for ``s = 0, 1, ..., steps`` with the model after ``s`` updates;
``task.loss(model, s)`` computes the loss of update ``s + 1``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import ConfigError, one_of
from .progress import progress

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "cosine", "epoch-decay")


@dataclass(frozen=True)
class OptimSpec:
    """Optimiser and learning-rate schedule of one training.

    ``cosine`` is ``CosineAnnealingLR(T_max=t_max, eta_min)`` stepped every step (periodic: period 2 ``t_max``, as the
    Bertolotti & Cazzola code uses it). ``epoch-decay`` is Zaremba et al.'s schedule (Press & Wolf's language models):
    constant up to epoch ``decay_start`` (1-based), then multiplied by ``decay`` every epoch of ``steps_per_epoch``.
    """

    optimizer: str = "adamw"  # adamw | sgd (plain SGD: no momentum, no weight decay)
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # AdamW decoupled weight decay, on every parameter
    eps: float = 1e-8  # AdamW eps
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    schedule: str = "constant"  # constant | cosine | epoch-decay
    t_max: int = 1  # cosine: half-period in steps
    eta_min: float = 0.0  # cosine: lowest learning rate
    steps_per_epoch: int = 1  # epoch-decay: steps of one epoch
    decay_start: int = 1  # epoch-decay: first decayed epoch (1-based)
    decay: float = 1.0  # epoch-decay: factor per epoch
    clip: float = 0.0  # global-norm gradient clipping per clip group (0: none)
    fused: bool = False  # AdamW's fused kernel (faster for many small tensors; same numbers up to round-off)

    def __post_init__(self) -> None:
        one_of("optimizer", self.optimizer, OPTIMIZERS)
        one_of("schedule", self.schedule, SCHEDULES)
        if not (isinstance(self.lr, int | float) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        for name in ("weight_decay", "eta_min", "clip"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0):
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
        if self.optimizer == "sgd" and self.weight_decay:
            raise ConfigError("weight_decay: plain SGD here has none; use optimizer='adamw'")
        for name in ("t_max", "steps_per_epoch", "decay_start"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    def lr_at(self, step: int) -> float:
        """The learning rate used by update ``step + 1`` (what the scheduler gives after ``step`` steps)."""
        if self.schedule == "cosine":
            return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * step / self.t_max)) / 2
        if self.schedule == "epoch-decay":
            return self.lr * self._epoch_factor(step)
        return self.lr

    def _epoch_factor(self, step: int) -> float:
        epoch = step // self.steps_per_epoch + 1
        return self.decay ** max(0, epoch - self.decay_start + 1)


def build_optimizer(params: Iterable[torch.Tensor], spec: OptimSpec
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The optimiser and its per-step scheduler for ``spec``: the only place the package builds either."""
    params = list(params)
    if spec.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=spec.lr, betas=spec.betas, eps=spec.eps, weight_decay=spec.weight_decay,
                                fused=spec.fused or None)
    else:
        opt = torch.optim.SGD(params, lr=spec.lr, momentum=0.0)
    if spec.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec.t_max, eta_min=spec.eta_min)
    elif spec.schedule == "epoch-decay":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, spec._epoch_factor)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return opt, sched


def minimize(params: list[torch.Tensor], loss_fn: Callable[[], torch.Tensor], iters: int = 400) -> float:
    """Minimise a smooth (here: convex) loss of ``params`` with L-BFGS and a strong-Wolfe line search, restarting its
    memory until the gradient vanishes; return the final loss.

    A solver for the convex instances of the theorems (a fixed body, free embeddings), not a training: models that
    are trained go through :func:`fit`. Kept here so that every optimiser of the package is built in this module.
    """
    opt = torch.optim.LBFGS(params, lr=1, max_iter=iters, tolerance_grad=1e-13, tolerance_change=1e-16,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    for _ in range(20):  # restart L-BFGS's memory until the gradient vanishes (ill-conditioned problems need it)
        opt.step(closure)
        if max(float(p.grad.abs().max()) for p in params) < 1e-11:
            break
    with torch.no_grad():
        return float(loss_fn())


class Task:
    """What a model family adds to the loop. Subclass and override :meth:`loss`; the rest is optional.

    A task draws its batches from its own generator(s) and keeps its own records; :meth:`state_dict` and
    :meth:`load_state_dict` must cover both, so that a resumed run continues exactly.
    """

    tokens_per_step: int = 0  # training tokens (or run-examples) per step, for the throughput figure

    def loss(self, model: nn.Module, step: int) -> torch.Tensor:
        """The scalar loss of update ``step + 1`` (for an ensemble: the sum of every run's mean loss)."""
        raise NotImplementedError

    def observe(self, model: nn.Module, step: int) -> None:
        """Called with the model after ``step`` updates, for ``step = 0 .. steps``: evaluate and record here."""

    def after_backward(self, model: nn.Module, step: int) -> None:
        """Called after the backward pass of update ``step + 1``, before clipping (e.g. to count rows with a
        gradient)."""

    def clip_groups(self, model: nn.Module) -> list[list[torch.Tensor]]:
        """Parameter groups clipped separately (several independent models trained in one loop)."""
        return [list(model.parameters())]

    def flops_per_step(self, model: nn.Module) -> float:
        """Model FLOPs of one update (forward and backward: 3 × the forward's matrix products), for the
        utilisation figure of the benchmarks; 0 when the task or the model does not say (a model without
        ``forward_flops_per_token``)."""
        return 0.0

    def state_dict(self) -> dict[str, Any]:
        """Generator states and records, for checkpoints."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


@dataclass
class FitStats:
    """What the loop measured about one training."""

    steps: int  # updates done in total
    resumed_from: int  # the step a checkpoint resumed from (0: started fresh)
    train_seconds: float  # seconds spent in training steps (observations excluded), this process only
    tokens_per_s: float  # Task.tokens_per_step × steps / train_seconds, this process only
    steps_per_s: float  # updates per second, this process only
    model_flops_per_s: float = 0.0  # Task.flops_per_step × steps_per_s (0: the task does not count its FLOPs)


class CheckpointMismatch(ValueError):
    """A checkpoint file belongs to another configuration."""


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` into a temporary sibling, then rename: a kill never leaves a half-written checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_EARLIER: list[float | None] = []  # per fit resumed in this process: wall seconds of the processes before it


def resumed_seconds() -> tuple[int, float | None]:
    """How many trainings of this process resumed from a checkpoint since :func:`reset_resumed`, and the wall seconds
    the processes before spent on them (None when a checkpoint does not say: written by older code).

    A run stopped and resumed is timed over all its processes: :func:`~tiedemb.experiments.compute` adds these
    seconds to the finishing process's wall time in the result's provenance.
    """
    if not _EARLIER:
        return 0, 0.0
    return len(_EARLIER), None if None in _EARLIER else float(sum(_EARLIER))


def reset_resumed() -> None:
    """Forget the resumed trainings counted so far (:func:`resumed_seconds`)."""
    _EARLIER.clear()


class Stop(Exception):
    """Raised by :func:`fit` when ``stop_after`` is reached: the run ends as if the process had been killed."""


def fit(model: nn.Module, task: Task, *, steps: int, optim: OptimSpec, checkpoint: Path | None = None,
        checkpoint_every: int = 0, fingerprint: Mapping[str, Any] | None = None, stop_after: int | None = None,
        desc: str = "") -> FitStats:
    """Train ``model`` for ``steps`` updates of ``task``'s loss with the optimiser and schedule of ``optim``.

    Args:
        checkpoint: a file written every ``checkpoint_every`` steps (model, optimiser, scheduler, the task's state,
            the wall seconds spent so far by every process of the run) and resumed from when it exists; it is deleted
            when the run ends.
        fingerprint: what identifies the run (config as plain data); a checkpoint with another fingerprint is
            refused with :class:`CheckpointMismatch`.
        stop_after: raise :class:`Stop` after this many updates, as if the process had been killed (tests).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be an integer >= 0, got {steps!r}")
    opt, sched = build_optimizer(model.parameters(), optim)
    groups = task.clip_groups(model)
    print_fp = {"optim": asdict(optim), "steps": steps, **dict(fingerprint or {})}
    start, earlier, began = 0, 0.0, time.perf_counter()
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, weights_only=True)
        if state["fingerprint"] != print_fp:
            raise CheckpointMismatch(f"checkpoint {checkpoint} belongs to another configuration; delete it or change "
                                     f"the path")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        task.load_state_dict(state["task"])
        start = state["step"]
        earlier = state.get("elapsed_s")
        _EARLIER.append(None if earlier is None else float(earlier))

    def save(step: int) -> None:
        elapsed = None if earlier is None else earlier + time.perf_counter() - began
        save_atomic({"fingerprint": print_fp, "step": step, "model": model.state_dict(), "opt": opt.state_dict(),
                     "sched": sched.state_dict(), "task": task.state_dict(), "elapsed_s": elapsed}, Path(checkpoint))

    model.train()
    train_seconds = 0.0
    for s in progress(range(start, steps + 1), total=steps + 1 - start, desc=desc):
        task.observe(model, s)
        if s == steps:
            break
        if stop_after is not None and s >= stop_after:
            raise Stop(f"stopped after {s} steps")
        tic = time.perf_counter()
        loss = task.loss(model, s)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        task.after_backward(model, s)
        if optim.clip:
            for group in groups:
                nn.utils.clip_grad_norm_(group, optim.clip)
        opt.step()
        sched.step()
        train_seconds += time.perf_counter() - tic
        if checkpoint is not None and checkpoint_every and (s + 1) % checkpoint_every == 0 and s + 1 < steps:
            save(s + 1)
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    done = steps - start
    steps_per_s = done / train_seconds if train_seconds > 0 else 0.0
    return FitStats(steps=steps, resumed_from=start, train_seconds=train_seconds,
                    tokens_per_s=task.tokens_per_step * steps_per_s, steps_per_s=steps_per_s,
                    model_flops_per_s=task.flops_per_step(model) * steps_per_s)
