"""Next-token language models trained on a token stream, through :func:`~tiedemb.train.loop.fit`.

The stream is cut into ``batch_size`` parallel streams (:func:`batchify`) and read in consecutive BPTT windows
(:func:`windows`), one window per step, epoch after epoch. :class:`StreamTask` trains one or several independent
language models (an ``nn.ModuleDict``) on the same windows: the loss of a step is the sum of every model's mean
cross-entropy, so each model receives exactly the gradient it would receive alone, and each is clipped on its own
(``clip_groups``). With ``OptimSpec(optimizer="sgd", schedule="epoch-decay", ...)`` this is Zaremba et al.'s plain-SGD
training of Press & Wolf's small models. Plain SGD (no momentum) keeps the gradient-sparsity facts of Press & Wolf
(2017, Sec. 3) visible: a row that gets no gradient does not move (Adam's momentum would keep moving it).

:func:`perplexity` is the one evaluation of a language model on a token stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .loop import Task


def batchify(tokens: np.ndarray, batch_size: int) -> torch.Tensor:
    """Cut a token stream into ``batch_size`` parallel streams: (batch_size, n // batch_size)."""
    n = len(tokens) // batch_size
    if n < 2:
        raise ValueError(f"{len(tokens)} tokens are too few for batch size {batch_size}")
    return torch.as_tensor(np.asarray(tokens[: n * batch_size]), dtype=torch.long).reshape(batch_size, n)


def windows(streams: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive (input, target) windows of length ``bptt``: each (batch, bptt), targets shifted by one."""
    for start in range(0, streams.shape[1] - 1, bptt):
        end = min(start + bptt, streams.shape[1] - 1)
        yield streams[:, start:end], streams[:, start + 1 : end + 1]


def lm_cross_entropy(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor,
                     reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy of ``model`` on one window. tokens, targets: (batch, seq)."""
    logits = model(tokens)  # (batch, seq, vocab)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction)


def _detach(state: Any) -> Any:
    return None if state is None else tuple(s.detach() for s in state)


def carried_cross_entropy(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor, state: Any,
                          reduction: str = "mean") -> tuple[torch.Tensor, Any]:
    """Next-token cross-entropy of one window starting from the recurrent ``state`` of the previous window; returns
    the loss and the new state, detached (truncated BPTT). The model must have ``step(tokens, state)``."""
    logits, state = model.step(tokens, state)  # (batch, seq, vocab)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction)
    return loss, _detach(state)


@torch.no_grad()
def perplexity(model: nn.Module, tokens: np.ndarray, batch_size: int, bptt: int, *, carry_state: bool = False
               ) -> float:
    """Perplexity of ``model`` on a token stream, evaluated in windows like training (with ``carry_state``, the
    recurrent state flows from each window into the next, as in Zaremba et al.'s evaluation)."""
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in windows(batchify(tokens, batch_size), bptt):
        if carry_state:
            loss, state = carried_cross_entropy(model, x, y, state, reduction="sum")
        else:
            loss = lm_cross_entropy(model, x, y, reduction="sum")
        total += float(loss)
        count += y.numel()
    model.train()
    return float(np.exp(total / count))


class StreamTask(Task):
    """Language models (an ``nn.ModuleDict``) trained side by side on the BPTT windows of one token stream.

    Training lasts ``epochs`` passes over the windows (:attr:`steps` updates); step ``s`` reads window
    ``s mod steps_per_epoch``. Every model's mean cross-entropy on it is recorded in ``losses[name]`` and their sum
    is returned. Each model is clipped on its own. After the last step, each model's validation perplexity is
    recorded in ``valid_ppl`` when validation tokens are given. Subclasses add their own observations (call
    ``super()`` and extend :meth:`state_dict`).

    Args:
        names: the models' keys in the ``nn.ModuleDict``.
        train: the training token stream.
        batch_size, bptt: parallel streams and window length.
        epochs: passes over the training stream.
        valid: validation tokens (optional).
        carry_state: truncated BPTT proper: each window starts from the recurrent state at the end of the previous
            one (detached; zeros at the start of every epoch), as in Zaremba et al. and press2017's code. Needs models
            with ``step(tokens, state)``. Off: every window starts from zeros.

    A model's :meth:`penalty` (e.g. projection regularisation) is added to its loss; ``losses`` record the
    cross-entropy alone.
    """

    def __init__(self, names: tuple[str, ...], train: np.ndarray, batch_size: int, bptt: int, epochs: int,
                 valid: np.ndarray | None = None, carry_state: bool = False) -> None:
        self.names, self.batch_size, self.bptt, self.valid = names, batch_size, bptt, valid
        self.carry_state = carry_state
        self.states: dict[str, Any] = dict.fromkeys(names)
        self.windows = list(windows(batchify(train, batch_size), bptt))
        self.steps = len(self.windows) * epochs
        self.tokens_per_step = batch_size * bptt * len(names)
        self.losses: dict[str, list[float]] = {k: [] for k in names}
        self.valid_ppl: dict[str, float] = {}

    def flops_per_step(self, model: nn.ModuleDict) -> float:
        counts = [getattr(model[k], "forward_flops_per_token", None) for k in self.names]
        if any(c is None for c in counts):  # a model of the user's own: its FLOPs are not known
            return 0.0
        return sum(3 * self.batch_size * self.bptt * c(self.bptt) for c in counts)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.windows)

    def window(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (input, target) window of update ``step + 1``."""
        return self.windows[step % len(self.windows)]

    def loss(self, model: nn.ModuleDict, step: int) -> torch.Tensor:
        x, y = self.window(step)
        total = None
        for name in self.names:
            if self.carry_state:
                state = None if step % len(self.windows) == 0 else self.states[name]
                loss, self.states[name] = carried_cross_entropy(model[name], x, y, state)
            else:
                loss = lm_cross_entropy(model[name], x, y)
            self.losses[name].append(loss.item())
            penalty = model[name].penalty() if hasattr(model[name], "penalty") else None
            if penalty is not None:
                loss = loss + penalty
            total = loss if total is None else total + loss
        return total

    def observe(self, model: nn.ModuleDict, step: int) -> None:
        if step == self.steps and self.valid is not None:
            self.valid_ppl = {k: perplexity(model[k], self.valid, self.batch_size, self.bptt,
                                            carry_state=self.carry_state) for k in self.names}

    def clip_groups(self, model: nn.ModuleDict) -> list[list[torch.Tensor]]:
        return [list(model[k].parameters()) for k in self.names]

    def state_dict(self) -> dict[str, Any]:
        return {"losses": self.losses, "valid_ppl": self.valid_ppl, "states": self.states}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.losses = {k: list(v) for k, v in state["losses"].items()}
        self.valid_ppl = dict(state["valid_ppl"])
        self.states = dict(state.get("states", dict.fromkeys(self.names)))
