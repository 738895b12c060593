"""Twin tokens and BERT-style masking for the masked-language-model experiment.

Twins: each of the ``n`` most frequent words gets a new id (its twin), appended after the vocabulary, and every
occurrence of the word is replaced by its twin with probability ``swap``. With ``swap = 0.5`` a word and its twin are
semantically and conditionally equivalent: the distributional hypothesis (DH) holds for the pair by construction.
With ``swap = 0.1`` they remain semantically equivalent (as inputs they mean the same), but the twin is nine times less
likely than the word in every context, so they are not conditionally equivalent: the DH fails for the pair.

Masking: BERT's rule. 15% of the positions are selected; of those 80% become [MASK], 10% a random token, 10% stay.

Paper: bertolotti2024 (MLM experiment, code `semeqv/problem/mlm`); devlin2019 (masking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

IGNORE = -100
"""Label of positions that are not predicted (``torch.nn.functional.cross_entropy``'s ignore index)."""


@dataclass(frozen=True)
class Twins:
    """The twin map: ``words[i]`` (id ``word_ids[i]``) has twin id ``twin_ids[i]``."""

    words: tuple[str, ...]  # the twinned words, most frequent first
    word_ids: np.ndarray  # their ids in the base vocabulary, (n,)
    twin_ids: np.ndarray  # their twins' ids, base_vocab_size + i, (n,)
    swap: float  # probability that an occurrence is written as the twin

    @property
    def pairs(self) -> np.ndarray:
        """(word id, twin id) pairs, (n, 2)."""
        return np.stack([self.word_ids, self.twin_ids], axis=1)


def make_twins(words: list[str], word_ids: np.ndarray, base_vocab_size: int, swap: float) -> Twins:
    """Twin ids ``base_vocab_size + i`` for the given words."""
    word_ids = np.asarray(word_ids, dtype=np.int64)
    if len(words) != len(word_ids) or len(set(word_ids.tolist())) != len(word_ids):
        raise ValueError("twins need distinct word ids, one per word")
    if not 0 < swap < 1:
        raise ValueError(f"swap must lie strictly between 0 and 1, got {swap!r}")
    if len(word_ids) and (word_ids.min() < 0 or word_ids.max() >= base_vocab_size):
        raise ValueError(f"word ids must lie in [0, {base_vocab_size})")
    twin_ids = base_vocab_size + np.arange(len(word_ids), dtype=np.int64)
    return Twins(tuple(words), word_ids, twin_ids, float(swap))


def apply_twins(ids: np.ndarray, twins: Twins, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``ids`` where every occurrence of a twinned word becomes its twin with probability ``twins.swap``."""
    ids = np.asarray(ids, dtype=np.int64)
    lookup = np.full(int(max(ids.max(initial=0), twins.word_ids.max(initial=0))) + 1, -1, dtype=np.int64)
    lookup[twins.word_ids] = twins.twin_ids
    twin_of = lookup[ids]  # (n,), -1 where the word has no twin
    swap = (twin_of >= 0) & (rng.random(len(ids)) < twins.swap)
    return np.where(swap, twin_of, ids)


def random_word_pairs(word_ids: np.ndarray, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` distinct unordered pairs of distinct words drawn from ``word_ids`` (the control pairs), (n, 2).

    The authors drew theirs unseeded; here they come from ``rng``.
    """
    word_ids = np.asarray(word_ids, dtype=np.int64)
    n = len(word_ids)
    if n_pairs > n * (n - 1) // 2:
        raise ValueError(f"{n} words have only {n * (n - 1) // 2} distinct pairs, asked for {n_pairs}")
    iu = np.triu_indices(n, k=1)
    pick = rng.choice(len(iu[0]), size=n_pairs, replace=False)
    return np.stack([word_ids[iu[0][pick]], word_ids[iu[1][pick]]], axis=1)


def blocks(ids: np.ndarray, seq_len: int) -> torch.Tensor:
    """Cut a token stream into consecutive sequences of ``seq_len`` tokens (the tail is dropped), (n, seq_len)."""
    n = len(ids) // seq_len
    if n < 1:
        raise ValueError(f"{len(ids)} tokens are too few for sequences of {seq_len}")
    return torch.as_tensor(np.asarray(ids[: n * seq_len]), dtype=torch.long).reshape(n, seq_len)


def mask_tokens(tokens: torch.Tensor, *, mask_id: int, vocab_size: int, n_special: int, generator: torch.Generator,
                mlm_probability: float = 0.15, pad_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: select ``mlm_probability`` of the positions; 80% → [MASK], 10% → random token, 10% unchanged.

    Random replacement tokens are drawn uniformly from the non-special ids ``[n_special, vocab_size)`` (twins
    included). Padding positions are never selected.

    Args:
        tokens: (batch, seq) token ids.
    Returns:
        inputs (batch, seq) and labels (batch, seq): the original id at selected positions, :data:`IGNORE` elsewhere.

    Paper: devlin2019, Sec. 3.1; the authors use HF's ``DataCollatorForLanguageModeling`` with the same rule.
    """
    if not 0 < mlm_probability < 1:
        raise ValueError(f"mlm_probability must lie strictly between 0 and 1, got {mlm_probability!r}")
    shape = tokens.shape
    selected = torch.rand(shape, generator=generator) < mlm_probability  # (batch, seq)
    if pad_id is not None:
        selected &= tokens != pad_id
    labels = torch.where(selected, tokens, torch.full_like(tokens, IGNORE))
    u = torch.rand(shape, generator=generator)
    to_mask = selected & (u < 0.8)
    to_random = selected & (u >= 0.8) & (u < 0.9)
    random_ids = torch.randint(n_special, vocab_size, shape, generator=generator)
    inputs = torch.where(to_mask, torch.full_like(tokens, mask_id), tokens)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels
