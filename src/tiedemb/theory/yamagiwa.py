"""Norm and variance of contextualised embeddings: the statistics of Yamagiwa & Shimodaira, streamed in one pass.

For a token type t at one layer, X_t = {x_1, ..., x_{n_t}} are its contextual embeddings over every occurrence in a
corpus. Its mean μ_t, mean squared norm Q_t = (1/n_t) Σ‖x_i‖², squared norm of the mean M_t = ‖μ_t‖² and variance
V_t = (1/n_t) Σ‖x_i − μ_t‖² satisfy Q_t = M_t + V_t (Y-T1). Over the whole set X = ∪_t X_t the variance splits into a
within-token and a between-token part, V = V_W + V_B (Y-T4), so M/Q + V_W/Q + V_B/Q = 1 (Y-T5).

:class:`StreamingStats` accumulates, for every layer at once, the sums S_t = Σ x and q_t = Σ‖x‖² and the counts n_t
with one ``index_add_`` per batch over the token ids, in float64, in O(types seen × d) memory per layer: the same
numbers as the authors' sequential update (Y-T2), without a Python loop over tokens. :func:`batch_token_stats` is the
two-pass computation (means first, then squared deviations) it is tested against, and :func:`loop_token_stats` the
per-token sequential update of the authors, kept as the benchmark's baseline.

Paper: yamagiwa2025, Sec. 2 (definitions, Eqs. for Q, M, V), Sec. 3 (the trade-off, Fig. 2), Sec. 4 (V_W, V_B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TokenStats:
    """Per-layer, per-type statistics of contextual embeddings. Types are the rows, in order of first appearance.

    All arrays are float64 except ``types`` and ``n``. ``V`` is computed as ``Q − M``, as the authors do.
    """

    types: np.ndarray  # (T,) the type id of each row
    n: np.ndarray  # (T,) occurrences n_t
    mean: np.ndarray  # (L, T, d) μ_t per layer
    Q: np.ndarray  # (L, T) mean squared norm
    M: np.ndarray  # (L, T) squared norm of the mean
    V: np.ndarray  # (L, T) variance (trace of the 1/n covariance) = Q − M

    @property
    def n_layers(self) -> int:
        return self.Q.shape[0]

    def select(self, rows: np.ndarray) -> TokenStats:
        """The statistics of a subset of rows (a boolean mask or indices)."""
        return TokenStats(self.types[rows], self.n[rows], self.mean[:, rows], self.Q[:, rows], self.M[:, rows],
                          self.V[:, rows])


def _table(*shape: int) -> torch.Tensor:
    """An uninitialised float64 tensor whose memory numpy allocates: numpy advises the kernel to back large arrays
    with huge pages (where transparent huge pages are enabled, as ``madvise`` or ``always``), which makes first
    touching the accumulator's table (it is written row by row, in scattered order) about 1.5× cheaper than with
    torch's allocator, which does not (``benchmarks/norm-variance.md``)."""
    return torch.from_numpy(np.empty(shape, dtype=np.float64))


class StreamingStats:
    """One streaming pass over the hidden states of every layer: sums, squared norms and counts per token type.

    Call :meth:`update` with each batch's type ids and the hidden states of all its layers; :meth:`result` gives the
    :class:`TokenStats`. Per layer, one float64 table of (types seen) × (d + 1) holds Σ x in its first d columns and
    Σ‖x‖² in the last, so one ``index_add_`` per layer adds a whole batch; the table grows (doubling) with the number
    of types seen, never with the vocabulary or with the number of occurrences.
    """

    CHUNK = 1024
    """Occurrences added per ``index_add_``: a batch is taken in chunks so that its float64 copy (chunk × (d + 1))
    stays in the CPU cache between the copy, the norms and the add (``benchmarks/bench_norm_variance.py --chunk``)."""

    def __init__(self, n_layers: int, d_model: int, *, capacity: int = 1024) -> None:
        if n_layers < 1 or d_model < 1:
            raise ValueError(f"n_layers and d_model must be positive, got {n_layers}, {d_model}")
        self.n_layers, self.d_model = n_layers, d_model
        self.row_of = torch.full((0,), -1, dtype=torch.long)  # type id -> row, grown to the largest id seen
        # [Σ x, Σ‖x‖²] per type; a row is zeroed when its type first appears (no separate pass over the whole table)
        self.table = _table(n_layers, capacity, d_model + 1)
        self.count = torch.zeros(capacity, dtype=torch.long)
        self.types: list[int] = []
        self._buf = torch.empty(0, d_model + 1, dtype=torch.float64)  # one layer of a batch, in float64
        self._result: TokenStats | None = None  # set by :meth:`result`, which ends the pass

    @property
    def n_types(self) -> int:
        return len(self.types)

    def nbytes(self) -> int:
        """Bytes held by the accumulator's tensors."""
        return sum(t.numel() * t.element_size() for t in (self.table, self.count, self.row_of, self._buf))

    def _rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows of ``ids``, adding new types (in order of first appearance) and growing storage as needed."""
        top = int(ids.max()) + 1
        if top > len(self.row_of):
            self.row_of = torch.cat([self.row_of, torch.full((top - len(self.row_of),), -1, dtype=torch.long)])
        rows = self.row_of[ids]
        if bool((rows < 0).any()):
            new = ids[rows < 0].numpy()
            uniq, first = np.unique(new, return_index=True)
            fresh = uniq[np.argsort(first)]  # first-appearance order: deterministic, independent of batching
            old = self.n_types
            self.row_of[torch.as_tensor(fresh)] = torch.arange(old, old + len(fresh))
            self.types.extend(int(t) for t in fresh)
            cap = self.count.shape[0]
            if self.n_types > cap:
                cap = max(self.n_types, 2 * cap)
                table = _table(self.n_layers, cap, self.d_model + 1)
                table[:, :old] = self.table[:, :old]
                count = self.count.new_zeros(cap)
                count[: len(self.count)] = self.count
                self.table, self.count = table, count
            self.table[:, old : self.n_types].zero_()  # the new types' rows
            rows = self.row_of[ids]
        return rows

    def update(self, ids: torch.Tensor, hidden: torch.Tensor) -> None:
        """Add one batch of occurrences.

        Args:
            ids: (N,) type ids of the occurrences (non-negative integers).
            hidden: (L, N, d) their hidden states at every layer (any float dtype; accumulated in float64).
        """
        ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
        if self._result is not None:
            raise RuntimeError("this pass has ended (result() was called: the sums are now means); start a new "
                               "StreamingStats for more occurrences")
        if hidden.dim() != 3 or hidden.shape[0] != self.n_layers or hidden.shape[2] != self.d_model:
            raise ValueError(f"hidden must be (n_layers={self.n_layers}, N, d={self.d_model}), got "
                             f"{tuple(hidden.shape)}")
        if hidden.shape[1] != ids.numel():
            raise ValueError(f"{ids.numel()} ids for {hidden.shape[1]} hidden states")
        if ids.numel() == 0:
            return
        if int(ids.min()) < 0:
            raise ValueError("type ids must be non-negative")
        rows = self._rows(ids)  # (N,)
        d, chunk = self.d_model, self.CHUNK
        if self._buf.shape[0] < min(ids.numel(), chunk):
            self._buf = torch.empty(min(ids.numel(), chunk), d + 1, dtype=torch.float64)
        for start in range(0, ids.numel(), chunk):  # a float64 buffer that stays in cache
            r = rows[start : start + chunk]
            buf = self._buf[: r.numel()]  # (n, d + 1)
            for layer in range(self.n_layers):
                buf[:, :d].copy_(hidden[layer, start : start + chunk].detach())  # float64 from here on
                buf[:, d] = torch.linalg.vector_norm(buf[:, :d], dim=1).square()
                self.table[layer].index_add_(0, r, buf)
        self.count.index_add_(0, rows, torch.ones_like(rows))

    def result(self) -> TokenStats:
        """The statistics of every type seen: the end of the pass.

        The sums are divided into the means in place (the result's ``mean`` is a view of the accumulator's table, so
        that the largest array is never allocated twice); a later :meth:`update` is an error, and a second call
        returns the same statistics.
        """
        if self._result is not None:
            return self._result
        k, d = self.n_types, self.d_model
        count = self.count[:k].to(torch.float64)
        table = self.table[:, :k]  # (L, T, d + 1): [Σ x, Σ‖x‖²] per type
        table.div_(count[:, None])  # [μ_t, Q_t]
        mean = table[..., :d]
        Q = table[..., d].numpy().copy()
        M = torch.linalg.vector_norm(mean, dim=2).square().numpy()  # no (L, T, d) temporary
        self._result = TokenStats(np.asarray(self.types, dtype=np.int64), self.count[:k].numpy().copy(),
                                  mean.numpy(), Q, M, Q - M)
        return self._result


def streaming_token_stats(ids: torch.Tensor, hidden: torch.Tensor, batch: int = 4096) -> TokenStats:
    """:class:`StreamingStats` over (N,) ids and (L, N, d) hidden states, fed in batches of ``batch`` occurrences."""
    acc = StreamingStats(hidden.shape[0], hidden.shape[2])
    for i in range(0, hidden.shape[1], batch):
        acc.update(ids[i : i + batch], hidden[:, i : i + batch])
    return acc.result()


def batch_token_stats(ids: torch.Tensor, hidden: torch.Tensor) -> TokenStats:
    """The two-pass batch computation: every type's embeddings gathered, the mean first, then the squared deviations.

    V is computed directly as the mean squared deviation from the mean, not as Q − M; rows in order of first
    appearance, as :class:`StreamingStats` orders them.
    """
    ids = np.asarray(torch.as_tensor(ids).reshape(-1))
    x = hidden.detach().to(torch.float64).numpy()  # (L, N, d)
    uniq, first = np.unique(ids, return_index=True)
    types = uniq[np.argsort(first)]
    L, T = x.shape[0], len(types)
    mean, Q, V = np.zeros((L, T, x.shape[2])), np.zeros((L, T)), np.zeros((L, T))
    n = np.zeros(T, dtype=np.int64)
    for j, t in enumerate(types):
        xs = x[:, ids == t]  # (L, n_t, d)
        n[j] = xs.shape[1]
        mean[:, j] = xs.mean(axis=1)
        Q[:, j] = (xs * xs).sum(axis=2).mean(axis=1)
        dev = xs - mean[:, j, None]
        V[:, j] = (dev * dev).sum(axis=2).mean(axis=1)
    return TokenStats(types.astype(np.int64), n, mean, Q, (mean * mean).sum(axis=2), V)


def loop_token_stats(ids: torch.Tensor, hidden: torch.Tensor) -> TokenStats:
    """The authors' sequential update (Y-T2), one occurrence at a time in Python: μ ← (kμ + x)/(k + 1),
    q ← (kq + ‖x‖²)/(k + 1). The straightforward baseline of the benchmark; O(types × d) memory as well."""
    ids_list = [int(t) for t in torch.as_tensor(ids).reshape(-1)]
    x = hidden.detach().to(torch.float64).numpy()  # (L, N, d)
    state: dict[tuple[int, int], list] = {}
    order: list[int] = []
    for i, t in enumerate(ids_list):
        if (0, t) not in state:
            order.append(t)
        for layer in range(x.shape[0]):
            v = x[layer, i]
            s = state.get((layer, t))
            if s is None:
                state[(layer, t)] = [1, v.copy(), float(v @ v)]
            else:
                k = s[0]
                s[1] = (k * s[1] + v) / (k + 1)
                s[2] = (k * s[2] + float(v @ v)) / (k + 1)
                s[0] = k + 1
    L = x.shape[0]
    mean = np.stack([np.stack([state[(layer, t)][1] for t in order]) for layer in range(L)])
    Q = np.array([[state[(layer, t)][2] for t in order] for layer in range(L)])
    n = np.array([state[(0, t)][0] for t in order], dtype=np.int64)
    M = (mean * mean).sum(axis=2)
    return TokenStats(np.asarray(order, dtype=np.int64), n, mean, Q, M, Q - M)


# --------------------------------------------------------------------------------------------------------------------
# The whole set, and the regression across tokens


@dataclass(frozen=True)
class SetStats:
    """Statistics of the whole set X = ∪ X_t per layer (Y-T3, Y-T4): each (L,) float64."""

    Q: np.ndarray
    M: np.ndarray
    V: np.ndarray
    V_W: np.ndarray  # within-token: Σ (n_t/n) V_t
    V_B: np.ndarray  # between-token: Σ (n_t/n) ‖μ_t − μ‖², computed directly (not as V − V_W)


def set_stats(s: TokenStats) -> SetStats:
    """Whole-set statistics from the per-type ones, weighted by n_t/n (Y-T3), with V_W and V_B (Y-T4)."""
    w = s.n / s.n.sum()  # (T,)
    mu = np.einsum("t,ltd->ld", w, s.mean)  # (L, d)
    Q = s.Q @ w
    M = (mu * mu).sum(axis=1)
    dev = s.mean - mu[:, None, :]
    V_B = (dev * dev).sum(axis=2) @ w
    return SetStats(Q=Q, M=M, V=Q - M, V_W=s.V @ w, V_B=V_B)


@dataclass(frozen=True)
class Fit:
    """Ordinary least squares of y on x: slope, intercept and R²."""

    slope: float
    intercept: float
    r2: float


def ols(x: np.ndarray, y: np.ndarray) -> Fit:
    """OLS line of ``y`` on ``x`` with its R² (the square of Pearson's correlation)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"ols needs two arrays of the same shape with at least 3 points, got {x.shape}, {y.shape}")
    xc, yc = x - x.mean(), y - y.mean()
    sxx, syy = float(xc @ xc), float(yc @ yc)
    if sxx == 0:
        raise ValueError("ols: x is constant")
    slope = float(xc @ yc) / sxx
    r2 = float((xc @ yc) ** 2 / (sxx * syy)) if syy > 0 else 1.0
    return Fit(slope, float(y.mean() - slope * x.mean()), r2)


def coefficient_of_variation(values: np.ndarray) -> float:
    """std / mean across tokens (population std), as in the paper's Fig. 4."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.std() / values.mean())


def frequency_filter(n: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Tokens with lo ≤ n_t ≤ hi (the paper: 10 ≤ n_t ≤ 10^5)."""
    return (n >= lo) & (n <= hi)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=np.float64)
        for value in np.unique(v):  # average the ranks of ties
            tie = v == value
            r[tie] = r[tie].mean()
        return r

    rx, ry = ranks(np.asarray(x, dtype=np.float64)), ranks(np.asarray(y, dtype=np.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float(np.sqrt((rx @ rx) * (ry @ ry)))
    return float(rx @ ry / den) if den > 0 else 0.0


def layer_profile(s: TokenStats) -> dict[str, list[float]]:
    """Per layer, across the given tokens: the coefficient of variation of Q, the OLS of V on M (slope, intercept,
    R²), and the whole-set Q, M, V, V_W, V_B with the ratios M/Q, V_W/Q, V_B/Q and V_W/V (the paper's Figs. 4–6)."""
    fits = [ols(s.M[layer], s.V[layer]) for layer in range(s.n_layers)]
    whole = set_stats(s)
    return {
        "cv_q": [coefficient_of_variation(s.Q[layer]) for layer in range(s.n_layers)],
        "slope": [f.slope for f in fits], "intercept": [f.intercept for f in fits], "r2": [f.r2 for f in fits],
        "Q": whole.Q.tolist(), "M": whole.M.tolist(), "V": whole.V.tolist(), "V_W": whole.V_W.tolist(),
        "V_B": whole.V_B.tolist(), "M_over_Q": (whole.M / whole.Q).tolist(),
        "VW_over_Q": (whole.V_W / whole.Q).tolist(), "VB_over_Q": (whole.V_B / whole.Q).tolist(),
        "VW_over_V": (whole.V_W / whole.V).tolist(),
    }
