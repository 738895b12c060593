"""Token probability encoding in output embeddings: the analyses of Cho et al., vectorised over the vocabulary.

A causal language model's next-token distribution at position n is p_n = softmax(h_n E_outᵀ + b). The averaged output
probability of token w over a text D is α_w = (1/N) Σ_n p_{n,w}. Cho et al. fit −log α_w ≈ A·E_out,w + B across the
vocabulary (a multiple linear regression, MLR) and use A to steer (edit E_out,w to multiply α_w by r) and to delete
output dimensions (zero those with small |A_i|).

Every function here takes the final hidden states H (N, d) of the positions of a text, the output embedding W (V, d)
and its bias b (V,) or None, and works in chunks of positions: no Python loop runs over the vocabulary.

Paper: cho2025 (arXiv 2406.01468), Secs. 3–6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

CHUNK = 2048  # positions per chunk: the (chunk, V) probability matrix is the largest array held at once


def _logits(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    out = h @ w.T  # (n, V)
    return out if b is None else out + b


@torch.no_grad()
def averaged_probabilities(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """α = (1/N) Σ_n softmax(h_n Wᵀ + b), in float64: (V,). Paper: cho2025, Sec. 3 (the average over D)."""
    total = torch.zeros(w.shape[0], dtype=torch.float64)
    for i in range(0, len(h), CHUNK):
        total += torch.softmax(_logits(h[i : i + CHUNK], w, b).double(), dim=-1).sum(0)
    return total / len(h)


@torch.no_grad()
def log_normalisers(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """log Z_n = logsumexp_v (h_n·W_v + b_v) for every position, float64: (N,)."""
    return torch.cat([torch.logsumexp(_logits(h[i : i + CHUNK], w, b).double(), dim=-1)
                      for i in range(0, len(h), CHUNK)])


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (0-based; ties share the mean of their ranks), vectorised."""
    x = np.asarray(x, dtype=np.float64)
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mean_rank = ends - (counts + 1) / 2.0  # mean of ranks (ends - counts) .. (ends - 1)
    return mean_rank[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float(np.sqrt((rx @ rx) * (ry @ ry)))
    return float(rx @ ry / den) if den > 0 else 0.0


def r_squared(y: np.ndarray, pred: np.ndarray) -> float:
    """1 − SSE/SST (can be negative for predictions worse than the mean)."""
    sst = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - pred) ** 2).sum()) / sst if sst > 0 else 0.0


@dataclass
class Encoding:
    """The MLR y ≈ X·A + B across tokens, fitted on all tokens, with k-fold cross-validated predictions."""

    A: np.ndarray  # (d,) the coefficients (the paper's A_D)
    B: float  # the intercept
    r2_fit: float  # R² of the fit on the tokens it was fitted on
    r2_cv: float  # R² of the held-out predictions (each token predicted by a fit without its fold)
    spearman_cv: float  # Spearman between held-out predictions and y
    pred_cv: np.ndarray  # (n,) held-out predictions


def lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares with an intercept: (coefficients, intercept)."""
    xa = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(xa, y, rcond=None)
    return coef[:-1], float(coef[-1])


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """A random assignment of n tokens to ``folds`` folds of (nearly) equal size."""
    return np.random.default_rng([seed, 0xC0]).permutation(np.arange(n) % folds)


def fit_encoding(x: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> Encoding:
    """Fit y ≈ x·A + B over tokens (rows), and cross-validate it over tokens (tokens of a fold are never used to fit
    the coefficients that predict them). Paper: cho2025, Sec. 3 (MLR of −log α on the output embeddings)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape[1] >= len(y) // folds:
        raise ValueError(f"{x.shape[1]} dimensions against {len(y)} tokens: the regression could interpolate; keep "
                         f"d ≪ |V|")
    a, b = lstsq(x, y)
    fid = fold_ids(len(y), folds, seed)
    pred = np.empty_like(y)
    for f in range(folds):  # a loop over folds, not tokens
        test = fid == f
        af, bf = lstsq(x[~test], y[~test])
        pred[test] = x[test] @ af + bf
    return Encoding(a, b, r_squared(y, x @ a + b), r_squared(y, pred), spearman(pred, y), pred)


def cv_r2(x: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated R² of the MLR of y on x (over tokens)."""
    return fit_encoding(x, y, folds=folds, seed=seed).r2_cv


def pca2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of x projected on their first two principal components (n, 2), and the two explained shares."""
    xc = np.asarray(x, dtype=np.float64) - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:2].T, (s[:2] ** 2) / (s**2).sum()


def steering_direction(a: np.ndarray, k: int) -> np.ndarray:
    """The row edit per unit of log r: δ = −Ω A⁻¹ with Ω = 1/k on the k dimensions of largest |A| (element-wise
    inverse, zero elsewhere), so that A·δ = −1 and E_w + log(r)·δ lowers the predicted −log α_w by log r.
    Paper: cho2025, Sec. 5 (steering; the restriction to the top-k dimensions is ours, see the chapter)."""
    top = np.argsort(-np.abs(a), kind="stable")[:k]
    delta = np.zeros_like(a, dtype=np.float64)
    delta[top] = -1.0 / (k * a[top])
    return delta


@torch.no_grad()
def steered_ratios(h: torch.Tensor, log_p: torch.Tensor, delta: np.ndarray, log_r: np.ndarray, *,
                   with_js: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Achieved α′_w/α_w for each chosen token and each ratio, when E_w moves by log(r)·δ, and the mean per-position
    Jensen–Shannon divergence (nats) of the whole next-token distribution.

    Only token w's logit changes, by Δ_n = log(r)·(h_n·δ): p′_{n,w} = p e^Δ / (1 − p + p e^Δ); every other token is
    scaled by s_n = 1 / (1 − p + p e^Δ) (so the distribution over the other tokens, renormalised, is unchanged at each
    position: an identity). Args: h (N, d); log_p (N, T) log-probabilities of the T chosen tokens; log_r (R,).
    Returns (T, R) ratios and (T, R) JS (None without ``with_js``).
    """
    c = (h.double() @ torch.as_tensor(delta, dtype=torch.float64))  # (N,)
    dl = c[:, None, None] * torch.as_tensor(log_r, dtype=torch.float64)[None, None, :]  # (N, 1, R)
    p = log_p.double().exp()[:, :, None]  # (N, T, 1)
    denom = 1 - p + p * dl.exp()  # (N, T, R)
    p_new = p * dl.exp() / denom
    ratio = p_new.mean(0) / p.mean(0)  # (T, R)
    if not with_js:
        return ratio.numpy(), None
    return ratio.numpy(), _js_one_token(p, p_new, 1 / denom).mean(0).numpy()


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, x * torch.log(torch.where(x > 0, y, torch.ones_like(y))), torch.zeros_like(x))


def _js_one_token(p: torch.Tensor, q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """JS(P, Q) when Q equals P except for one token (p → q) and every other token scaled by s: closed form."""
    m = (p + q) / 2
    rest = 1 - p
    kl_p = _xlogy(p, p / m) + rest * torch.log(2 / (1 + s))
    kl_q = _xlogy(q, q / m) + rest * s * torch.log(2 * s / (1 + s))
    return (kl_p + kl_q) / 2


@torch.no_grad()
def other_tokens_js(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, tokens: np.ndarray,
                    delta: np.ndarray, log_r: np.ndarray) -> np.ndarray:
    """Side effect of each edit on the other tokens: the JS divergence (nats) between the averaged distribution of the
    tokens other than w, renormalised, before and after the edit of w (T, R). Each position scales the others by its
    own s_n, so the average moves although each position's renormalised distribution does not."""
    tok = torch.as_tensor(tokens)
    c = h.double() @ torch.as_tensor(delta, dtype=torch.float64)  # (N,)
    lr = torch.as_tensor(log_r, dtype=torch.float64)
    t, r = len(tokens), len(log_r)
    before = torch.zeros(w.shape[0], dtype=torch.float64)
    after = torch.zeros(w.shape[0], t * r, dtype=torch.float64)
    for i in range(0, len(h), CHUNK):
        p = torch.softmax(_logits(h[i : i + CHUNK], w, b).double(), dim=-1)  # (n, V)
        pw = p[:, tok][:, :, None]  # (n, T, 1)
        s = 1 / (1 - pw + pw * (c[i : i + CHUNK, None, None] * lr).exp())  # (n, T, R)
        before += p.sum(0)
        after += p.T @ s.reshape(len(p), -1)
    after = after.reshape(-1, t, r)  # (V, T, R)
    keep = torch.ones(w.shape[0], t, dtype=torch.bool)
    keep[tok, torch.arange(t)] = False  # token w itself is left out of its own comparison
    pb = (before[:, None] * keep)[:, :, None]  # (V, T, 1)
    pa = after * keep[:, :, None]
    pb, pa = pb / pb.sum(0), pa / pa.sum(0)
    m = (pb + pa) / 2
    js = (_xlogy(pb, pb / m).sum(0) + _xlogy(pa, pa / m).sum(0)) / 2
    return js.numpy()


@torch.no_grad()
def divergence_after_deletion(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, keep: torch.Tensor
                              ) -> tuple[float, float]:
    """Mean per-position KL(p‖p′) and JS(p, p′) (nats) when the output dimensions with keep = 0 are zeroed.
    Paper: cho2025, Sec. 6 (dimension deletion)."""
    kl = js = 0.0
    wk = w * keep  # (V, d): zeroing a dimension of every output embedding
    for i in range(0, len(h), CHUNK):
        lp = torch.log_softmax(_logits(h[i : i + CHUNK], w, b), -1)  # float32: averaged over many positions
        lq = torch.log_softmax(_logits(h[i : i + CHUNK], wk, b), -1)
        p, q = lp.exp(), lq.exp()
        lm = torch.log((p + q) / 2)
        kl += float((p * (lp - lq)).sum())
        js += float(((p * (lp - lm)).sum() + (q * (lq - lm)).sum()) / 2)
    return kl / len(h), js / len(h)


def log_spaced_steps(total: int) -> list[int]:
    """Checkpoint steps 0, 1, 2, 4, …, 2^k < total, then total (Pythia's schedule starts the same way)."""
    steps = [0] + [2**i for i in range(int(math.log2(max(total, 1))) + 1) if 2**i < total]
    return sorted(set(steps + [total]))
