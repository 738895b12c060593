"""Similarity structure of embedding matrices."""

from __future__ import annotations

import numpy as np
import torch


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), like scipy.stats.rankdata."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return (sums / counts)[inv]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally long vectors."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"spearman needs two 1-D vectors of equal length >= 2, got {a.shape}, {b.shape}")
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def pair_cosines(weight: torch.Tensor, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of the rows of ``weight`` for each pair (n_pairs, 2)."""
    w = weight.detach().double()
    w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    p = torch.as_tensor(pairs, dtype=torch.long)
    return (w[p[:, 0]] * w[p[:, 1]]).sum(dim=1).numpy()


def random_pairs(vocab_size: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` random pairs of distinct rows, (n_pairs, 2)."""
    a = rng.integers(0, vocab_size, size=n_pairs)
    b = (a + rng.integers(1, vocab_size, size=n_pairs)) % vocab_size
    return np.stack([a, b], axis=1)


def row_distances(weight: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between all rows: (..., vocab, d) -> (..., vocab, vocab).

    Paper: bertolotti2024, the XOR distance panels (the authors record the full matrix after every step).
    """
    w = weight.detach()
    diff = w.unsqueeze(-2) - w.unsqueeze(-3)  # (..., vocab, vocab, d)
    return diff.pow(2).sum(-1).sqrt()


def similarity_correlation(weight: torch.Tensor, pairs: np.ndarray, gold: np.ndarray,
                           rare: np.ndarray | None = None) -> dict[str, float]:
    """Spearman's ρ between the cosine similarity of ``weight``'s rows and gold similarities of word pairs.

    Args:
        pairs: (n, 2) row ids; gold: (n,) human or ground-truth similarities.
        rare: (n,) bool, the pairs counted as rare (their ρ is reported apart; None: not reported).

    Returns:
        ``rho`` and ``pairs`` (how many were scored), and ``rho_rare``/``pairs_rare`` when ``rare`` is given
        (``rho_rare`` is NaN with fewer than 3 rare pairs).

    Paper: press2017, Sec. 4 (Tables 1 and 2: Spearman's ρ on word-similarity sets).
    """
    pairs, gold = np.asarray(pairs), np.asarray(gold, dtype=float)
    cos = pair_cosines(weight, pairs)
    out = {"rho": spearman(cos, gold) if len(gold) >= 2 else float("nan"), "pairs": int(len(gold))}
    if rare is not None:
        rare = np.asarray(rare, dtype=bool)
        out["rho_rare"] = spearman(cos[rare], gold[rare]) if rare.sum() >= 3 else float("nan")
        out["pairs_rare"] = int(rare.sum())
    return out


def structure_correlations(weights: dict[str, torch.Tensor], pairs: np.ndarray) -> dict[str, float]:
    """Spearman's ρ between the pairwise cosine similarities of every two embeddings (keys ``"a-b"``).

    Paper: press2017, Table 3 (how alike the input, output and tied embeddings are).
    """
    cos = {k: pair_cosines(w, pairs) for k, w in weights.items()}
    names = list(cos)
    return {f"{a}-{b}": spearman(cos[a], cos[b]) for i, a in enumerate(names) for b in names[i + 1:]}
