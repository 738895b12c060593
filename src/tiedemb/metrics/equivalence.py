"""Semantic and conditional equivalence, decided exactly on a language table and estimated from samples.

A *language* is a finite table of contexts with a hole, their probabilities and a distribution for the hole
(:mod:`tiedemb.data.languages`).

- σ1 ∼ σ2 (conditional equivalence) iff p(σ1|ρ) = p(σ2|ρ) for every context ρ.
- σ1 ≡ σ2 (semantic equivalence) iff p(·|ρ[σ1]) = p(·|ρ[σ2]) wherever both inputs are in the language: swapping
  one occurrence of σ1 for σ2 in the *input* never changes what must be predicted.
- The distributional hypothesis (DH) holds for a pair when ≡ and ∼ agree on it.

Both are measured by divergence scores in [0, 1] that are 0 exactly when the equivalence holds:

- ``D∼ = Σ_ρ p(ρ) |p(σ1|ρ) − p(σ2|ρ)| / Σ_ρ p(ρ) (p(σ1|ρ) + p(σ2|ρ))``;
- ``D≡`` = the mean total-variation distance between p(·|ρ[σ1]) and p(·|ρ[σ2]), over the inputs ρ[σ] in which one
  of the two occurs, weighted by their probability.

From a corpus the same scores are computed on the empirical language (counts instead of probabilities); a permutation
null (occurrences of the two symbols relabelled at random under the equivalence's own null hypothesis) says whether
an estimated score is more than sampling noise.

Paper: bertolotti2024 (definitions of ≡, ∼ and the distributional hypothesis).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.languages import HOLE, PAD, SLOT, Language, LanguageError

# --------------------------------------------------------------------------------------------------------------------
# Exact scores and deciders


def _tv(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def conditional_divergence(lang: Language, a: str, b: str) -> float:
    """D∼(a, b) ∈ [0, 1]: 0 iff a ∼ b. NaN if neither symbol is ever predicted."""
    lang.check_symbol(a, b)
    num = den = 0.0
    for w, dist in lang.contexts.values():
        pa, pb = dist.get(a, 0.0), dist.get(b, 0.0)
        num += w * abs(pa - pb)
        den += w * (pa + pb)
    return num / den if den > 0 else float("nan")


def _swaps(lang: Language, a: str, b: str) -> Iterable[tuple[float, float, float]]:
    """(weight, tv, matched) for every input in the support where a or b occurs outside the hole."""
    support = lang.support()
    for ctx, (w, dist) in support.items():
        for i, s in enumerate(ctx):
            if s not in (a, b):
                continue
            other = ctx[:i] + (b if s == a else a,) + ctx[i + 1:]
            if other in support:
                yield w, _tv(dist, support[other][1]), 1.0
            else:
                yield w, 0.0, 0.0


def semantic_divergence(lang: Language, a: str, b: str) -> float:
    """D≡(a, b) ∈ [0, 1]: 0 iff a ≡ b. NaN if no input holds a (or b) with its swap also in the language."""
    lang.check_symbol(a, b)
    num = den = 0.0
    for w, tv, matched in _swaps(lang, a, b):
        num += w * tv * matched
        den += w * matched
    return num / den if den > 0 else float("nan")


def semantic_coverage(lang: Language, a: str, b: str) -> float:
    """Share (by probability) of the inputs holding a or b whose swapped input is also in the language."""
    lang.check_symbol(a, b)
    rows = list(_swaps(lang, a, b))
    total = sum(w for w, _, _ in rows)
    return sum(w * m for w, _, m in rows) / total if total > 0 else 0.0


def conditionally_equivalent(lang: Language, a: str, b: str, tol: float = 1e-12) -> bool:
    """a ∼ b: p(a|ρ) = p(b|ρ) in every context (up to ``tol``). Paper: bertolotti2024 (B-D2)."""
    lang.check_symbol(a, b)
    return all(abs(d.get(a, 0.0) - d.get(b, 0.0)) <= tol for w, d in lang.contexts.values() if w > 0)


def semantically_equivalent(lang: Language, a: str, b: str, tol: float = 1e-12) -> bool:
    """a ≡ b: swapping a for b in an input never changes p(·|input) (up to ``tol``). Paper: bertolotti2024 (B-D1).

    Inputs whose swap is not in the language are not compared (the swap is not a sentence of the language).
    """
    lang.check_symbol(a, b)
    return all(tv <= tol for _, tv, m in _swaps(lang, a, b) if m)


def dh_status(semantic: bool, conditional: bool) -> str:
    """The distributional hypothesis for a pair: 'holds (both)', 'holds (neither)', or which side fails."""
    if semantic and conditional:
        return "holds (≡ and ∼)"
    if not semantic and not conditional:
        return "holds (neither ≡ nor ∼)"
    return "fails: ≡ but not ∼" if semantic else "fails: ∼ but not ≡"


def distributional_hypothesis_holds(lang: Language, pairs: Iterable[tuple[str, str]] | None = None,
                                    tol: float = 1e-12) -> bool:
    """The DH (B-D3): ≡ and ∼ coincide on the given pairs (default: every pair of the alphabet)."""
    return not dh_violations(lang, pairs, tol)


def dh_violations(lang: Language, pairs: Iterable[tuple[str, str]] | None = None,
                  tol: float = 1e-12) -> list[tuple[str, str, str]]:
    """The pairs on which ≡ and ∼ disagree, as (a, b, status)."""
    if pairs is None:
        pairs = [(a, b) for i, a in enumerate(lang.alphabet) for b in lang.alphabet[i + 1:]]
    out = []
    for a, b in pairs:
        sem, cond = semantically_equivalent(lang, a, b, tol), conditionally_equivalent(lang, a, b, tol)
        if sem != cond:
            out.append((a, b, dh_status(sem, cond)))
    return out


@dataclass(frozen=True, repr=False)
class PairReport:
    """How equivalent two symbols are: exact (from a language) or estimated (from a corpus)."""

    a: str
    b: str
    semantic: float  # D≡, 0 iff a ≡ b
    conditional: float  # D∼, 0 iff a ∼ b
    semantic_equivalent: bool  # exact: D≡ = 0; estimated: D≡ not above its permutation null
    conditional_equivalent: bool
    count_a: float = float("nan")  # occurrences (corpus) or probability as an output (language)
    count_b: float = float("nan")
    semantic_null: float = float("nan")  # mean score under the permutation null (corpus only)
    conditional_null: float = float("nan")
    evidence: str = "exact"  # "exact", "estimated", or "too few samples"

    @property
    def dh(self) -> str:
        if self.evidence == "too few samples":
            return "undecided (too few samples)"
        return dh_status(self.semantic_equivalent, self.conditional_equivalent)

    @property
    def tie_advice(self) -> str:
        if self.evidence == "too few samples":
            return "collect more text"
        if self.semantic_equivalent == self.conditional_equivalent:
            return "tying is consistent here"
        if self.conditional_equivalent:
            return "tying conflicts (hard: a tied model cannot be optimal)"
        return "tying strains (soft: the body must make the two different rows act alike as inputs)"

    def __repr__(self) -> str:
        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        null = "" if self.evidence == "exact" else " (estimated; permutation null "
        sem_null = f"{null}{self.semantic_null:.3f})" if null else ""
        cond_null = f"{null}{self.conditional_null:.3f})" if null else ""
        return (f"pair {self.a} / {self.b}\n"
                f"  D≡ = {self.semantic:.3f}{sem_null}: {self.a} ≡ {self.b}? {yes(self.semantic_equivalent)}\n"
                f"  D∼ = {self.conditional:.3f}{cond_null}: {self.a} ∼ {self.b}? {yes(self.conditional_equivalent)}\n"
                f"  distributional hypothesis: {self.dh}; {self.tie_advice}")

    def row(self) -> dict:
        """The report as a flat JSON-able dict (NaN, i.e. undefined, as None)."""

        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {"pair": f"{self.a} / {self.b}", "count_a": num(self.count_a), "count_b": num(self.count_b),
                "D_sem": num(self.semantic), "D_sem_null": num(self.semantic_null), "D_cond": num(self.conditional),
                "D_cond_null": num(self.conditional_null), "sem_equiv": self.semantic_equivalent,
                "cond_equiv": self.conditional_equivalent, "dh": self.dh, "advice": self.tie_advice,
                "evidence": self.evidence}


def exact_report(lang: Language, a: str, b: str, tol: float = 1e-12) -> PairReport:
    """The exact equivalence report of a pair in a language."""
    out_a = sum(w * d.get(a, 0.0) for w, d in lang.contexts.values())
    out_b = sum(w * d.get(b, 0.0) for w, d in lang.contexts.values())
    return PairReport(a, b, semantic_divergence(lang, a, b), conditional_divergence(lang, a, b),
                      semantically_equivalent(lang, a, b, tol), conditionally_equivalent(lang, a, b, tol),
                      out_a, out_b)


# --------------------------------------------------------------------------------------------------------------------
# Estimation from a corpus


def _context(seq: Sequence[str], j: int, window: int | None, causal: bool) -> list[str]:
    """The context of position j: the whole sequence (window None) or ``window`` tokens on each side (padded)."""
    if window is None:
        left, right = list(seq[:j]), ([] if causal else list(seq[j + 1:]))
    else:
        left = [PAD] * max(0, window - j) + list(seq[max(0, j - window):j])
        right = [] if causal else list(seq[j + 1:j + 1 + window]) + [PAD] * max(0, j + 1 + window - len(seq))
    return [*left, HOLE, *right]


@dataclass
class _Records:
    """Occurrences of a pair in a corpus, encoded for fast permutation tests."""

    cond_group: np.ndarray  # context id of each occurrence of a or b as the predicted symbol
    cond_label: np.ndarray  # 1 if that occurrence is b
    sem_group: np.ndarray  # (input-with-slot) id of each occurrence of a or b as an input
    sem_label: np.ndarray
    sem_target: np.ndarray  # id of the symbol to be predicted in that input
    sem_token: np.ndarray  # which occurrence (token position) of a or b the record comes from
    n_targets: int = 0
    counts: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)


def _encode(keys: list) -> np.ndarray:
    ids: dict = {}
    return np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)


def _records(corpus: Sequence[Sequence[str]], a: str, b: str, window: int | None, causal: bool) -> _Records:
    cond_keys, cond_label, sem_keys, sem_label, sem_targets, sem_token = [], [], [], [], [], []
    token = 0
    n_a = n_b = 0
    for seq in corpus:
        n = len(seq)
        for i, s in enumerate(seq):
            if s != a and s != b:
                continue
            is_b = int(s == b)
            n_a, n_b = n_a + (1 - is_b), n_b + is_b
            cond_keys.append(tuple(_context(seq, i, window, causal)))
            cond_label.append(is_b)
            # every hole j whose context sees position i
            if window is None:
                holes = range(i + 1, n) if causal else (j for j in range(n) if j != i)
            else:
                holes = range(i + 1, min(n, i + window + 1)) if causal else \
                    (j for j in range(max(0, i - window), min(n, i + window + 1)) if j != i)
            for j in holes:
                ctx = _context(seq, j, window, causal)
                ctx[i if window is None else window + i - j] = SLOT  # the swapped symbol's place in the context
                sem_keys.append(tuple(ctx))
                sem_label.append(is_b)
                sem_targets.append(seq[j])
                sem_token.append(token)
            token += 1
    targets = _encode(sem_targets)
    return _Records(_encode(cond_keys), np.array(cond_label, dtype=np.int64), _encode(sem_keys),
                    np.array(sem_label, dtype=np.int64), targets, np.array(sem_token, dtype=np.int64),
                    int(targets.max()) + 1 if len(targets) else 0, (n_a, n_b))


class _Encoded:
    """A corpus with its symbols as integer ids, built once and shared by every pair estimated from it.

    Ids 0, 1, 2 are :data:`PAD`, :data:`HOLE` and :data:`SLOT` (a corpus symbol spelt like one of them gets its id, as
    the string contexts of :func:`_context` would treat it).
    """

    def __init__(self, corpus: Sequence[Sequence[str]]) -> None:
        ids = {PAD: 0, HOLE: 1, SLOT: 2}
        self.ids = ids
        self.flat = np.array([ids.setdefault(s, len(ids)) for seq in corpus for s in seq], dtype=np.int64)  # (N,)
        lengths = np.array([len(seq) for seq in corpus], dtype=np.int64)
        self.length = np.repeat(lengths, lengths)  # (N,): the length of each token's sequence
        starts = np.cumsum(lengths) - lengths
        self.pos = np.arange(len(self.flat), dtype=np.int64) - np.repeat(starts, lengths)  # (N,): place in sequence
        self.present = set(np.flatnonzero(np.bincount(self.flat, minlength=len(ids))).tolist())

    def occurs(self, s: str) -> bool:
        return s in self.ids and self.ids[s] in self.present

    def around(self, at: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """The ids at ``at + offset`` within each token's sequence, PAD (0) outside it: (n,), (k,) -> (n, k)."""
        where = self.pos[at, None] + offsets[None, :]
        inside = (where >= 0) & (where < self.length[at, None])
        return np.where(inside, self.flat[np.where(inside, at[:, None] + offsets[None, :], 0)], 0)


def _encode_rows(rows: np.ndarray, base: int) -> np.ndarray:
    """:func:`_encode` of the rows of an integer matrix (n, k) with entries in [0, base): ids by first appearance."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    if base ** rows.shape[1] < 2 ** 62:
        key = rows @ (base ** np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64))
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def _records_windowed(enc: _Encoded, a: str, b: str, window: int, causal: bool) -> _Records:
    """:func:`_records` for a context window, vectorised over the occurrences of the pair: the same records, in the
    same order, with the same ids."""
    ia, ib = enc.ids[a], enc.ids[b]
    occ = np.flatnonzero((enc.flat == ia) | (enc.flat == ib))  # (n_occ,): occurrences in corpus order
    label = (enc.flat[occ] == ib).astype(np.int64)
    n_b = int(label.sum())
    left = np.arange(-window, 0, dtype=np.int64)
    slots = left if causal else np.concatenate([left, np.arange(1, window + 1, dtype=np.int64)])  # context offsets
    base = len(enc.ids)
    # ∼: the context of each occurrence, [left..., HOLE, right...]; HOLE is a constant column, left out of the key
    cond_group = _encode_rows(enc.around(occ, slots), base)
    # ≡: every hole j = i + d whose context sees the occurrence i, holes in increasing order per occurrence
    holes = np.arange(1, window + 1, dtype=np.int64) if causal else slots
    j = enc.pos[occ, None] + holes[None, :]  # (n_occ, n_holes)
    valid = (j >= 0) & (j < enc.length[occ, None])
    rec_occ, rec_hole = np.nonzero(valid)  # row-major: by occurrence, then hole
    at = occ[rec_occ] + holes[rec_hole]  # the holes' token indices
    ctx = enc.around(at, slots)  # (n_records, n_slots)
    ctx[slots[None, :] == -holes[rec_hole, None]] = enc.ids[SLOT]  # the swapped symbol's place in the context
    targets = _encode_rows(enc.flat[at, None], base)
    return _Records(cond_group, label, _encode_rows(ctx, base), label[rec_occ], targets, rec_occ.astype(np.int64),
                    int(targets.max()) + 1 if len(targets) else 0, (len(occ) - n_b, n_b))


def _cond_score(group: np.ndarray, label: np.ndarray) -> float:
    if len(group) == 0:
        return float("nan")
    n = int(group.max()) + 1
    cb = np.bincount(group, weights=label, minlength=n)
    ca = np.bincount(group, minlength=n) - cb
    return float(np.abs(ca - cb).sum() / len(group))


def _sem_cells(group: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each record's (group, target) cell id and each cell's group: a sparse table, computed once per pair."""
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    key = group * (int(target.max()) + 1) + target
    cells, cell = np.unique(key, return_inverse=True)
    return cell.reshape(-1), cells // (int(target.max()) + 1)


def _sem_score(group: np.ndarray, label: np.ndarray, cell: np.ndarray, cell_group: np.ndarray) -> tuple[float, float]:
    """(D≡ estimate, coverage): mean TV between the target distributions after a and after b, per group."""
    if len(group) == 0:
        return float("nan"), 0.0
    n_groups, n_cells = int(group.max()) + 1, len(cell_group)
    nb = np.bincount(group, weights=label, minlength=n_groups)
    na = np.bincount(group, minlength=n_groups) - nb
    cb = np.bincount(cell, weights=label, minlength=n_cells)
    ca = np.bincount(cell, minlength=n_cells) - cb
    both = (na > 0) & (nb > 0)
    if not both.any():
        return float("nan"), 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.abs(ca / na[cell_group] - cb / nb[cell_group])
    tv = 0.5 * np.bincount(cell_group, weights=np.where(both[cell_group], diff, 0.0), minlength=n_groups)
    w = np.where(both, na + nb, 0.0)
    return float((w * tv).sum() / w.sum()), float(w.sum() / len(group))


def estimate_pair(corpus: Sequence[Sequence[str]], a: str, b: str, *, window: int | None = None,
                  causal: bool = False, permutations: int = 19, min_count: int = 20,
                  rng: np.random.Generator) -> PairReport:
    """Estimate D≡ and D∼ of a pair from a corpus of token sequences, with permutation nulls.

    Contexts are whole sequences (``window=None``, exact for short sequences such as the XOR language) or ``window``
    tokens on each side (or on the left only if ``causal``). An equivalence is rejected when the observed score is
    larger than every one of ``permutations`` scores under its null: for ∼, each occurrence of a or b is relabelled
    a or b by a fair coin (a ∼ b means they are equally likely in every context); for ≡, the occurrences are
    shuffled keeping the counts (a ≡ b allows different frequencies). With 19 permutations the test's level is 5%.
    The nulls treat occurrences as independent; occurrences sharing a sequence also sit in each other's contexts, so
    the level is only approximate, and very large samples can reject an equivalence by a hair (seen on 200,000 XOR
    sequences: divergences within a few percent of their nulls). Compare the scores with their nulls, not only the
    verdicts.

    Args:
        corpus: sequences of symbols (strings).
        a, b: the pair.
        min_count: fewer occurrences of either symbol than this gives evidence "too few samples".
        rng: the generator of the permutations.
    """
    if a == b:
        raise LanguageError(f"a pair needs two different symbols, got {a!r} twice")
    return estimate_pairs(corpus, [(a, b)], window=window, causal=causal, permutations=permutations,
                          min_count=min_count, rng=rng)[0]


def estimate_pairs(corpus: Sequence[Sequence[str]], pairs: Iterable[tuple[str, str]], *, window: int | None = None,
                   causal: bool = False, permutations: int = 19, min_count: int = 20,
                   rng: np.random.Generator) -> list[PairReport]:
    """:func:`estimate_pair` for each pair in turn with the one ``rng`` (the same reports as calling it pair by pair),
    reading the corpus once: with a ``window`` the records of a pair are gathered from its occurrences only."""
    if not corpus or not any(len(s) for s in corpus):
        raise LanguageError("the corpus is empty: give at least one non-empty sequence")
    if window is not None and (not isinstance(window, int) or window < 1):
        raise LanguageError(f"window must be a positive integer or None, got {window!r}")
    enc = _Encoded(corpus)
    reports = []
    for a, b in pairs:
        if a == b:
            raise LanguageError(f"a pair needs two different symbols, got {a!r} twice")
        missing = [s for s in (a, b) if not enc.occurs(s)]
        if missing:
            raise LanguageError(f"symbols {missing} never occur in the corpus")
        rec = _records(corpus, a, b, window, causal) if window is None else \
            _records_windowed(enc, a, b, window, causal)
        reports.append(_report(a, b, rec, permutations, min_count, rng))
    return reports


def _report(a: str, b: str, rec: _Records, permutations: int, min_count: int, rng: np.random.Generator
            ) -> PairReport:
    """Scores, permutation nulls and verdicts of a pair from its records."""
    d_cond = _cond_score(rec.cond_group, rec.cond_label)
    cell, cell_group = _sem_cells(rec.sem_group, rec.sem_target)
    d_sem, coverage = _sem_score(rec.sem_group, rec.sem_label, cell, cell_group)
    null_cond, null_sem = [], []
    n_tokens = len(rec.cond_label)
    for _ in range(permutations):
        null_cond.append(_cond_score(rec.cond_group, rng.integers(0, 2, n_tokens)))
        shuffled = rng.permutation(rec.cond_label)  # relabel occurrences (tokens), keeping the counts
        null_sem.append(_sem_score(rec.sem_group, shuffled[rec.sem_token], cell, cell_group)[0])
    few = min(rec.counts) < min_count or not coverage > 0
    sem_ok = not (d_sem > np.nanmax(null_sem)) if null_sem and not math.isnan(d_sem) else True
    cond_ok = not (d_cond > np.nanmax(null_cond)) if null_cond else True
    return PairReport(a, b, d_sem, d_cond, bool(sem_ok), bool(cond_ok), rec.counts[0], rec.counts[1],
                      float(np.nanmean(null_sem)) if null_sem else float("nan"),
                      float(np.nanmean(null_cond)) if null_cond else float("nan"),
                      "too few samples" if few else "estimated")

