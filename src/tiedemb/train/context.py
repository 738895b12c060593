"""Training the theory chapter's context models on a language's exact population loss, with :func:`~.loop.fit`.

A language table (:func:`tiedemb.data.languages.encode`) gives every context, its probability p(ρ) and its
distribution p(·|ρ): the loss is the population cross-entropy Σ_ρ p(ρ) CE(p(·|ρ), f(·|ρ)), computed exactly (full
batch, no sampling), summed over the model's restarts. AdamW with a cosine schedule that falls from ``lr`` to
``lr / 1000`` over the run.

An optional ``measure(model) -> {name: (R,) tensor}`` is recorded before every update, i.e. at steps 0 .. steps − 1
with the model after that many updates (the state the step's gradient is taken at).

Paper: bertolotti2024 (the theory chapter's toys; B-T5, B-L3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.context import ContextModel
from .loop import OptimSpec, Stop, Task, fit

Measure = Callable[[ContextModel], Mapping[str, torch.Tensor]]


def expected_ce(logits: torch.Tensor, p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Σ_ρ p(ρ) CE(p(·|ρ), softmax(logits_ρ)): the population cross-entropy, logits (..., n, V) → (...)."""
    return -(w * (p * F.log_softmax(logits, -1)).sum(-1)).sum(-1)


class ContextTask(Task):
    """The exact population loss of one language for a :class:`~tiedemb.models.context.ContextModel`."""

    def __init__(self, tokens: torch.Tensor, w: torch.Tensor, p: torch.Tensor, steps: int,
                 measure: Measure | None = None) -> None:
        self.tokens, self.w, self.p, self.steps, self.measure = tokens, w, p, steps, measure
        self.tokens_per_step = tokens.numel()
        self.rec: dict[str, list[torch.Tensor]] = {}

    def loss(self, model: ContextModel, step: int) -> torch.Tensor:
        return expected_ce(model(self.tokens), self.p, self.w).sum()  # restarts are independent: sum their losses

    def observe(self, model: ContextModel, step: int) -> None:
        if self.measure is None or step == self.steps:  # records before each update only
            return
        for key, value in self.measure(model).items():
            self.rec.setdefault(key, []).append(torch.as_tensor(value).detach())

    def state_dict(self) -> dict[str, Any]:
        return {"records": self.rec}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rec = {k: list(v) for k, v in state["records"].items()}

    def records(self) -> dict[str, np.ndarray]:
        """Each measurement along training, (R, steps)."""
        return {k: torch.stack(v, 1).numpy() for k, v in self.rec.items()}


def optim_spec(steps: int, lr: float, weight_decay: float) -> OptimSpec:
    """AdamW with a cosine schedule from ``lr`` to ``lr / 1000`` over ``steps`` (one half-period)."""
    return OptimSpec("adamw", lr=lr, weight_decay=weight_decay, schedule="cosine", t_max=steps, eta_min=lr * 1e-3)


def train_context(model: ContextModel, tokens: torch.Tensor, w: torch.Tensor, p: torch.Tensor, *, steps: int,
                  lr: float, weight_decay: float = 0.0, measure: Measure | None = None,
                  checkpoint: Path | None = None, checkpoint_every: int = 0,
                  fingerprint: Mapping[str, Any] | None = None, stop_after: int | None = None,
                  desc: str = "") -> dict[str, np.ndarray] | None:
    """Train every restart of ``model`` in place on the population loss of (``tokens``, ``w``, ``p``).

    Args:
        measure: recorded before every update (see the module's docstring).
        checkpoint, checkpoint_every, fingerprint: periodic checkpoints and exact resume (:func:`~.loop.fit`).
        stop_after: stop after this many updates and return None, as if the process had been killed (tests).

    Returns:
        The records of ``measure``, each (R, steps) (empty without ``measure``); None if stopped.
    """
    task = ContextTask(tokens, w, p, steps, measure)
    try:
        fit(model, task, steps=steps, optim=optim_spec(steps, lr, weight_decay), checkpoint=checkpoint,
            checkpoint_every=checkpoint_every, fingerprint=fingerprint, stop_after=stop_after, desc=desc)
    except Stop:
        return None
    return task.records()
