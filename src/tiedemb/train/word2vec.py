"""Skip-gram training pairs and the task that trains several skip-gram models on the same pairs, through
:func:`~tiedemb.train.loop.fit`.

The pairs follow word2vec: frequent words are subsampled (each occurrence of a word of frequency f kept with
probability (√(f/t) + 1)·t/f, t = ``sample``), every kept word is a centre, and its context is a window of a size
drawn uniformly in 1..``window`` on each side; negatives are drawn from the unigram distribution raised to 0.75.

Paper: press2017, Sec. 4 (Table 1); mikolov2013.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from .loop import Task


def subsample(tokens: np.ndarray, counts: np.ndarray, sample: float, rng: np.random.Generator) -> np.ndarray:
    """word2vec's subsampling of frequent words: the kept tokens, in order."""
    if sample <= 0:
        return tokens
    f = counts[tokens] / counts.sum()
    keep = (np.sqrt(f / sample) + 1) * sample / f
    return tokens[rng.random(len(tokens)) < keep]


def skipgram_pairs(tokens: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """(centre, context) pairs with a reduced window drawn per centre in 1..``window``, shuffled: (n_pairs, 2)."""
    n = len(tokens)
    reach = rng.integers(1, window + 1, size=n)
    out = []
    for offset in range(1, window + 1):
        for sign in (-1, 1):
            centre = np.arange(max(0, -sign * offset), min(n, n - sign * offset))
            centre = centre[reach[centre] >= offset]
            out.append(np.stack([tokens[centre], tokens[centre + sign * offset]], axis=1))
    pairs = np.concatenate(out)
    return pairs[rng.permutation(len(pairs))]


class SkipGramTask(Task):
    """Skip-gram models (an ``nn.ModuleDict``) trained on the same batches of pairs and negatives; every epoch draws
    new subsampling, windows and order. ``losses[name]`` records each model's loss."""

    def __init__(self, names: tuple[str, ...], tokens: np.ndarray, vocab_size: int, *, window: int, negative: int,
                 sample: float, batch_size: int, epochs: int, seed: int) -> None:
        self.names, self.tokens, self.window, self.negative = names, tokens, window, negative
        self.sample, self.batch_size, self.seed = sample, batch_size, seed
        self.counts = np.bincount(tokens, minlength=vocab_size).astype(float)
        noise = self.counts**0.75
        self.noise = torch.as_tensor(noise / noise.sum())
        first = self._epoch_pairs(0)
        self.steps_per_epoch = max(1, len(first) // batch_size)
        self.steps = self.steps_per_epoch * epochs
        self.tokens_per_step = batch_size * len(names)
        self._pairs, self._epoch = first, 0
        self.losses: dict[str, list[float]] = {k: [] for k in names}

    def _epoch_pairs(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        return skipgram_pairs(subsample(self.tokens, self.counts, self.sample, rng), self.window, rng)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Centres, contexts (batch,) and negatives (batch, negative) of update ``step + 1``."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._pairs, self._epoch = self._epoch_pairs(epoch), epoch
        # An epoch's pair count varies with the subsampling: read it cyclically, steps_per_epoch batches per epoch.
        pairs = torch.as_tensor(np.take(self._pairs, np.arange(i * self.batch_size, (i + 1) * self.batch_size),
                                        axis=0, mode="wrap"))
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        negatives = torch.multinomial(self.noise, len(pairs) * self.negative, replacement=True, generator=gen)
        return pairs[:, 0], pairs[:, 1], negatives.reshape(len(pairs), self.negative)

    def loss(self, model: nn.ModuleDict, step: int) -> torch.Tensor:
        centre, context, negatives = self.batch(step)
        total = None
        for name in self.names:
            loss = model[name](centre, context, negatives)
            self.losses[name].append(loss.item())
            total = loss if total is None else total + loss
        return total

    def clip_groups(self, model: nn.ModuleDict) -> list[list[torch.Tensor]]:
        return [list(model[k].parameters()) for k in self.names]

    def state_dict(self) -> dict[str, Any]:
        return {"losses": self.losses}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.losses = {k: list(v) for k, v in state["losses"].items()}
