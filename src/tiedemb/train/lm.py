"""Plain-SGD training of next-token language models on a token stream.

Plain SGD (no momentum) keeps the gradient-sparsity facts of press2017 visible: a row that gets no gradient does not
move (Adam's momentum would keep moving it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


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


def lr_at_epoch(lr: float, epoch: int, decay_start: int, decay: float) -> float:
    """Zaremba's schedule: constant ``lr`` up to ``decay_start``, then multiplied by ``decay`` every epoch."""
    return lr * decay ** max(0, epoch - decay_start + 1)


def sgd_step(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor, lr: float, clip: float,
             after_backward: Callable[[nn.Module], None] | None = None) -> float:
    """One plain-SGD step on the mean cross-entropy with global-norm clipping; returns the loss."""
    model.zero_grad(set_to_none=True)
    logits = model(tokens)  # (batch, seq, vocab)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    if after_backward is not None:
        after_backward(model)
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.add_(p.grad, alpha=-lr)
    return loss.item()


@torch.no_grad()
def perplexity(model: nn.Module, tokens: np.ndarray, batch_size: int, bptt: int) -> float:
    """Perplexity of ``model`` on a token stream, evaluated in windows like training."""
    model.eval()
    total, count = 0.0, 0
    for x, y in windows(batchify(tokens, batch_size), bptt):
        logits = model(x)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
        count += y.numel()
    model.train()
    return float(np.exp(total / count))
