"""The synthetic XOR (parity) masked language of Bertolotti & Cazzola, generated as the authors generate it.

Every bit string of ``n_bits`` bits except the all-ones one (the authors' off-by-one) is shuffled with a Python RNG
seeded 14 and split 90/10 (114/12/1 strings for 7 bits). Each bit becomes a concrete symbol drawn from the bit's
symbol distribution (``zero_dst`` for 0-bits, ``one_dst`` for 1-bits); the string's parity becomes one of two parity
symbols at the end; one bit position (never the parity symbol) is replaced by ``[MASK]`` and must be predicted. New
symbols and a new masked position are drawn at every training step.

Vocabulary with Z = len(zero_dst), O = len(one_dst): symbols 0..Z-1 stand for a 0-bit, Z..Z+O-1 for a 1-bit, then
even parity, odd parity, [MASK]. With the main setting (Z = O = 2): {0, 1} = bit 0 (weights 0.1/0.9), {2, 3} = bit 1
(0.5/0.5), 4 = even, 5 = odd, 6 = mask.

Paper: bertolotti2024, the XOR experiments (code: ``semeqv/problem/xor/datasets/Default.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

IGNORE = -100
"""Target of every unmasked position (ignored by the loss, as in the authors' code)."""

SETTINGS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "main": ((0.1, 0.9), (0.5, 0.5)),  # (0,1): semantically eqv, not conditionally; (2,3): both
    "ndh": ((1.0, 0.0), (0.1, 0.9)),  # "no cond. eqv symbols": (2,3) semantically eqv only
    "ydh": ((1.0, 0.0), (0.5, 0.5)),  # "no cond. differing symbols": (2,3) semantically and conditionally eqv
}
"""The three symbol distributions of the authors' makefiles: setting → (zero_dst, one_dst)."""


@dataclass(frozen=True)
class XorLanguage:
    """The XOR language: its strings, splits, vocabulary, sampler and exact Bayes accuracy.

    Args:
        n_bits: bits per string (paper: 7; sequence length n_bits + 1 with the parity symbol).
        zero_dst: weights of the symbols that stand for a 0-bit (paper main: 0.1, 0.9).
        one_dst: weights of the symbols that stand for a 1-bit (paper main: 0.5, 0.5).
        shuffle_seed: seed of the Python RNG that shuffles the strings (paper: 14).
    """

    n_bits: int = 7
    zero_dst: tuple[float, ...] = (0.1, 0.9)
    one_dst: tuple[float, ...] = (0.5, 0.5)
    shuffle_seed: int = 14

    def __post_init__(self) -> None:
        if not isinstance(self.n_bits, int) or self.n_bits < 2:
            raise ValueError(f"n_bits must be an integer >= 2, got {self.n_bits!r}")
        for name in ("zero_dst", "one_dst"):
            dst = tuple(float(w) for w in getattr(self, name))
            object.__setattr__(self, name, dst)
            if not dst or min(dst) < 0 or sum(dst) <= 0:
                raise ValueError(f"{name} must be a non-empty list of non-negative weights with a positive sum, "
                                 f"got {dst}")

    @classmethod
    def setting(cls, name: str, n_bits: int = 7) -> XorLanguage:
        """One of the authors' three settings: ``main``, ``ndh`` or ``ydh``."""
        if name not in SETTINGS:
            raise ValueError(f"unknown XOR setting {name!r}; allowed: {', '.join(SETTINGS)}")
        zero, one = SETTINGS[name]
        return cls(n_bits, zero, one)

    # ---------------------------------------------------------------------------------------------------------- shape
    @property
    def n_zero(self) -> int:
        return len(self.zero_dst)

    @property
    def n_one(self) -> int:
        return len(self.one_dst)

    @property
    def even(self) -> int:
        """The symbol of even parity."""
        return self.n_zero + self.n_one

    @property
    def odd(self) -> int:
        return self.even + 1

    @property
    def mask(self) -> int:
        return self.even + 2

    @property
    def vocab_size(self) -> int:
        return self.even + 3

    @property
    def seq_len(self) -> int:
        return self.n_bits + 1

    # ---------------------------------------------------------------------------------------------------------- data
    @cached_property
    def strings(self) -> np.ndarray:
        """All strings in the authors' shuffled order, (2**n_bits - 1, n_bits) of 0/1, MSB first."""
        ints = list(range(2**self.n_bits - 1))  # the authors' range stops one short: no all-ones string
        random.Random(self.shuffle_seed).shuffle(ints)
        shifts = np.arange(self.n_bits - 1, -1, -1)
        return (np.asarray(ints)[:, None] >> shifts) & 1

    @cached_property
    def splits(self) -> dict[str, np.ndarray]:
        """``train`` = first int(0.9 N) strings, ``valid`` = next int(0.1 N), ``test`` = the rest."""
        n = len(self.strings)
        n_train, n_valid = int(0.9 * n), int(0.1 * n)
        s = self.strings
        return {"train": s[:n_train], "valid": s[n_train:n_train + n_valid], "test": s[n_train + n_valid:]}

    def bits(self, split: str = "train") -> torch.Tensor:
        """The bit strings of a split, (n_strings, n_bits) int64."""
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; allowed: train, valid, test")
        return torch.as_tensor(self.splits[split], dtype=torch.long)

    def symbols(self, bits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Concrete sequences (n, n_bits + 1): a symbol drawn for every bit, then the parity symbol."""
        return self._symbols_from(bits, torch.rand(bits.shape, generator=gen, dtype=torch.float64))

    def _symbols_from(self, bits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The sequences (..., n_bits + 1) of ``bits`` (..., n_bits) given one uniform draw per bit (same shape)."""
        cum0 = torch.cumsum(torch.tensor(self.zero_dst, dtype=torch.float64), 0)
        cum1 = torch.cumsum(torch.tensor(self.one_dst, dtype=torch.float64), 0)
        sym0 = torch.searchsorted(cum0, (u * cum0[-1]).contiguous(), right=True).clamp(max=self.n_zero - 1)
        sym1 = self.n_zero + torch.searchsorted(cum1, (u * cum1[-1]).contiguous(), right=True).clamp(max=self.n_one - 1)
        parity = self.even + bits.sum(dim=-1, keepdim=True) % 2
        return torch.cat([torch.where(bits == 1, sym1, sym0), parity], dim=-1)

    def sample(self, split: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One training batch: every string of ``split`` with fresh symbols and one fresh masked bit each.

        Returns:
            inputs (n, seq_len) with [MASK] at the masked position, targets (n, seq_len) holding the concrete
            symbol there and -100 elsewhere, and the masked positions (n,).
        """
        bits = self.bits(split)
        seq = self.symbols(bits, gen)
        pos = torch.randint(0, self.n_bits, (len(bits),), generator=gen)  # never the parity symbol
        return self._masked(seq, pos)

    def sample_many(self, split: str, gens: list[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`sample` for each generator at once, stacked: (G, n, seq_len), (G, n, seq_len), (G, n).

        Each generator draws exactly what :meth:`sample` draws from it (its symbols' uniforms, then its masked
        positions), so every stream is the same as when sampled alone; the rest is computed for all at once.
        """
        bits = self.bits(split)
        u = torch.stack([torch.rand(bits.shape, generator=g, dtype=torch.float64) for g in gens])  # (G, n, bits)
        pos = torch.stack([torch.randint(0, self.n_bits, (len(bits),), generator=g) for g in gens])  # (G, n)
        seq = self._symbols_from(bits.expand(len(gens), *bits.shape), u)  # (G, n, L)
        inputs, targets, pos = self._masked(seq.reshape(-1, self.seq_len), pos.reshape(-1))
        shape = (len(gens), len(bits))
        return inputs.view(*shape, -1), targets.view(*shape, -1), pos.view(shape)

    def every_position(self, split: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every string of ``split`` masked at every bit position in turn, with fresh symbols (for evaluation)."""
        bits = self.bits(split).repeat_interleave(self.n_bits, dim=0)
        seq = self.symbols(bits, gen)
        pos = torch.arange(self.n_bits).repeat(len(bits) // self.n_bits)
        return self._masked(seq, pos)

    def _masked(self, seq: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = torch.arange(len(seq))
        targets = torch.full_like(seq, IGNORE)
        targets[rows, pos] = seq[rows, pos]
        inputs = seq.clone()
        inputs[rows, pos] = self.mask
        return inputs, targets, pos

    # ---------------------------------------------------------------------------------------------------------- Bayes
    def bayes_accuracy(self, split: str = "train") -> float:
        """The best achievable accuracy on the masked position, computed from the distribution.

        The masked bit's value is determined by the other bits and the parity; which of its symbols appears is
        irreducible noise, so the best guess is the bit's most probable symbol. Averaged over the strings of the split
        and the (uniform) masked position.
        """
        bits = self.splits[split]
        p_one = float(bits.mean())
        best0 = max(self.zero_dst) / sum(self.zero_dst)
        best1 = max(self.one_dst) / sum(self.one_dst)
        return (1 - p_one) * best0 + p_one * best1

    def marginal_accuracy(self, split: str = "train") -> float:
        """Accuracy of always predicting the most frequent symbol (a model that ignores the context)."""
        bits = self.splits[split]
        p_one = float(bits.mean())
        probs = [(1 - p_one) * w / sum(self.zero_dst) for w in self.zero_dst]
        probs += [p_one * w / sum(self.one_dst) for w in self.one_dst]
        return max(probs)
