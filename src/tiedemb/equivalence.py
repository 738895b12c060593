"""Semantic and conditional equivalence, decided exactly on a language table and estimated from samples.

A *language* here is a finite table: each context ρ (a tuple of symbols with exactly one hole ``HOLE``) has a
probability p(ρ) and a distribution p(·|ρ) over the alphabet for the symbol in the hole. Masked and causal languages
are both tables of this kind (a causal context is a prefix with the hole at its end).

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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

HOLE = "_"
"""The open slot of a context."""

SLOT = "<σ>"
"""Marks the position of the swapped symbol in a semantic-equivalence group key."""

PAD = "<pad>"
"""Padding outside a sequence, for windowed contexts."""

SUM_TOL = 1e-9


class LanguageError(ValueError):
    """A language table or a corpus is malformed; the message says what and where."""


@dataclass(frozen=True)
class Language:
    """A finite language: contexts with a hole, their probabilities, and a distribution for the hole.

    Args:
        alphabet: the symbols, in order.
        contexts: context (tuple of symbols with one ``HOLE``) → (p(ρ), {symbol: p(symbol | ρ)}). Symbols missing from
            a distribution have probability 0. The p(ρ) must sum to one, and so must each distribution.
    """

    alphabet: tuple[str, ...]
    contexts: Mapping[tuple[str, ...], tuple[float, Mapping[str, float]]]
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "alphabet", tuple(self.alphabet))
        if not self.alphabet:
            raise LanguageError("the alphabet is empty")
        if len(set(self.alphabet)) != len(self.alphabet):
            raise LanguageError(f"the alphabet has repeated symbols: {self.alphabet}")
        for s in (HOLE, SLOT, PAD):
            if s in self.alphabet:
                raise LanguageError(f"{s!r} is reserved and cannot be a symbol of the alphabet")
        if not self.contexts:
            raise LanguageError("the language has no contexts")
        known = set(self.alphabet)
        total = 0.0
        clean: dict[tuple[str, ...], tuple[float, dict[str, float]]] = {}
        for ctx, entry in self.contexts.items():
            ctx = tuple(ctx)
            if ctx.count(HOLE) != 1:
                raise LanguageError(f"context {ctx} must contain exactly one hole {HOLE!r}")
            unknown = sorted(set(ctx) - known - {HOLE})
            if unknown:
                raise LanguageError(f"context {ctx} uses unknown symbols {unknown}; the alphabet is {self.alphabet}")
            try:
                weight, dist = entry
            except (TypeError, ValueError):
                raise LanguageError(f"context {ctx}: expected (p(context), {{symbol: probability}})") from None
            weight = float(weight)
            if not weight >= 0 or not math.isfinite(weight):
                raise LanguageError(f"context {ctx}: p(context) = {weight} is not a probability")
            unknown = sorted(set(dist) - known)
            if unknown:
                raise LanguageError(f"context {ctx} predicts unknown symbols {unknown}; the alphabet is "
                                    f"{self.alphabet}")
            probs = {s: float(p) for s, p in dist.items()}
            if any(not (p >= 0 and math.isfinite(p)) for p in probs.values()):
                raise LanguageError(f"context {ctx}: negative or non-finite probability in {probs}")
            s = sum(probs.values())
            if abs(s - 1) > SUM_TOL:
                raise LanguageError(f"context {ctx}: p(·|context) sums to {s:.12g}, not 1")
            total += weight
            clean[ctx] = (weight, probs)
        if abs(total - 1) > SUM_TOL:
            raise LanguageError(f"the context probabilities p(context) sum to {total:.12g}, not 1")
        object.__setattr__(self, "contexts", clean)

    def check_symbol(self, *symbols: str) -> None:
        """Raise :class:`LanguageError` for a symbol not in the alphabet."""
        for s in symbols:
            if s not in self.alphabet:
                raise LanguageError(f"unknown symbol {s!r}; the alphabet is {self.alphabet}")

    def support(self) -> dict[tuple[str, ...], tuple[float, dict[str, float]]]:
        """The contexts with positive probability."""
        return {c: e for c, e in self.contexts.items() if e[0] > 0}

    def bayes_loss(self) -> float:
        """The smallest expected cross-entropy any model can reach: Σ_ρ p(ρ) H(p(·|ρ)) in nats (B-L1)."""
        return float(sum(w * -sum(p * math.log(p) for p in d.values() if p > 0)
                         for w, d in self.contexts.values()))

    def matrix(self) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
        """Contexts in table order, their probabilities (n,), and the conditional table (n, |alphabet|)."""
        ctxs = list(self.contexts)
        weights = np.array([self.contexts[c][0] for c in ctxs])
        table = np.array([[self.contexts[c][1].get(s, 0.0) for s in self.alphabet] for c in ctxs])
        return ctxs, weights, table


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
# Languages


def xor_language(n_bits: int, zero_dst: Sequence[float], one_dst: Sequence[float]) -> Language:
    """The paper's XOR/parity MLM language as an exact table.

    Every bit string of ``n_bits`` bits except all ones (as the official generator) is equally likely; each 0-bit
    is written as symbol ``0``/``1`` with weights ``zero_dst`` and each 1-bit as ``2``/``3`` with ``one_dst``, then
    the parity symbol (``E`` even, ``O`` odd). One bit position, uniform, is the hole.

    Paper: bertolotti2024 (XOR experiments); official code ``semeqv/problem/xor/datasets/Default.py``.
    """
    if not isinstance(n_bits, int) or not 2 <= n_bits <= 8:
        raise LanguageError(f"n_bits must be an integer in [2, 8], got {n_bits!r}")
    for name, dst in (("zero_dst", zero_dst), ("one_dst", one_dst)):
        if len(dst) != 2 or any(p < 0 for p in dst) or abs(sum(dst) - 1) > SUM_TOL:
            raise LanguageError(f"{name} must be two non-negative weights summing to 1, got {list(dst)}")
    sym = {0: (("0", zero_dst[0]), ("1", zero_dst[1])), 1: (("2", one_dst[0]), ("3", one_dst[1]))}
    strings = [[(v >> (n_bits - 1 - k)) & 1 for k in range(n_bits)] for v in range(2**n_bits - 1)]
    table: dict[tuple[str, ...], list] = {}
    for bits in strings:
        parity = "O" if sum(bits) % 2 else "E"
        for hole in range(n_bits):
            others = [k for k in range(n_bits) if k != hole]
            # every assignment of concrete symbols to the other bits
            for choice in range(2 ** len(others)):
                ctx, w = [HOLE] * n_bits, 1.0 / (len(strings) * n_bits)
                for j, k in enumerate(others):
                    s, p = sym[bits[k]][(choice >> j) & 1]
                    ctx[k], w = s, w * p
                if w == 0:
                    continue
                key = (*ctx, parity)
                dist = {s: p for s, p in sym[bits[hole]] if p > 0}
                if key in table:  # the same context from another string: impossible (the bit is determined)
                    raise AssertionError("XOR contexts determine the hole's bit")
                table[key] = [w, dist]
    return Language(("0", "1", "2", "3", "E", "O"), {k: (w, d) for k, (w, d) in table.items()},
                    name=f"xor{n_bits} zero={list(zero_dst)} one={list(one_dst)}")


def twin_language(kind: str, eps: float = 0.1) -> Language:
    """A two-step causal toy: a first symbol A or B, then a second symbol. Three variants:

    - ``"agree"``: A, B equally likely, and both are followed by X: A ≡ B and A ∼ B (the DH holds);
    - ``"freq"``: A with 0.1, B with 0.9, both followed by X: A ≡ B but not A ∼ B (the DH fails, softly);
    - ``"conflict"``: A, B equally likely, A followed by X, B by Y: A ∼ B but not A ≡ B (the DH fails, hard).

    Each distribution puts mass ``eps`` uniformly on the other symbols so that the optimum has finite logits.
    Contexts are prefixes of length 2 (``S`` is the start symbol) with the hole at the end.
    """
    alphabet = ("S", "A", "B", "X", "Y")
    if kind not in ("agree", "freq", "conflict"):
        raise LanguageError(f"kind must be one of 'agree', 'freq', 'conflict'; got {kind!r}")
    if not 0 < eps < 0.5:
        raise LanguageError(f"eps must lie in (0, 0.5), got {eps!r}")

    def smooth(main: dict[str, float]) -> dict[str, float]:
        rest = [s for s in alphabet if s not in main]
        return {**{s: p * (1 - eps) for s, p in main.items()}, **{s: eps / len(rest) for s in rest}}

    pa = 0.1 if kind == "freq" else 0.5
    first = smooth({"A": pa, "B": 1 - pa})
    after_b = {"Y": 1.0} if kind == "conflict" else {"X": 1.0}
    contexts = {("S", "S", HOLE): (0.5, first), ("S", "A", HOLE): (0.25, smooth({"X": 1.0})),
                ("S", "B", HOLE): (0.25, smooth(after_b))}
    return Language(alphabet, contexts, name=f"twins-{kind}")


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
    if not corpus or not any(len(s) for s in corpus):
        raise LanguageError("the corpus is empty: give at least one non-empty sequence")
    if a == b:
        raise LanguageError(f"a pair needs two different symbols, got {a!r} twice")
    if window is not None and (not isinstance(window, int) or window < 1):
        raise LanguageError(f"window must be a positive integer or None, got {window!r}")
    vocab = {s for seq in corpus for s in seq}
    missing = [s for s in (a, b) if s not in vocab]
    if missing:
        raise LanguageError(f"symbols {missing} never occur in the corpus")
    rec = _records(corpus, a, b, window, causal)
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


def sample_language(lang: Language, n: int, rng: np.random.Generator) -> list[list[str]]:
    """``n`` full sequences drawn from a language: a context by p(ρ), its hole filled by p(·|ρ)."""
    ctxs, weights, table = lang.matrix()
    picks = rng.choice(len(ctxs), size=n, p=weights / weights.sum())
    out = []
    for k in picks:
        fill = lang.alphabet[rng.choice(len(lang.alphabet), p=table[k])]
        out.append([fill if s == HOLE else s for s in ctxs[k]])
    return out


def plant_twins(corpus: Sequence[Sequence[str]], word: str, twin: str, share: float,
                rng: np.random.Generator) -> list[list[str]]:
    """Replace each occurrence of ``word`` by ``twin`` with probability ``share`` (a planted ≡ pair; ∼ iff 0.5)."""
    if any(twin in seq for seq in corpus):
        raise LanguageError(f"twin symbol {twin!r} already occurs in the corpus")
    if not 0 < share < 1:
        raise LanguageError(f"share must lie in (0, 1), got {share!r}")
    out = []
    for seq in corpus:
        out.append([twin if s == word and rng.random() < share else s for s in seq])
    return out


def plant_false_twins(corpus: Sequence[Sequence[str]], word: str, twin: str, marker: str,
                      rng: np.random.Generator) -> list[list[str]]:
    """A planted ∼-but-not-≡ pair for causal contexts: half of ``word``'s occurrences become ``twin``, and every
    ``twin`` is followed by an inserted ``marker`` (so the twin changes what comes next, not what comes before)."""
    if any(twin in seq or marker in seq for seq in corpus):
        raise LanguageError(f"{twin!r} or {marker!r} already occurs in the corpus")
    out = []
    for seq in corpus:
        new = []
        for s in seq:
            if s == word and rng.random() < 0.5:
                new.extend([twin, marker])
            else:
                new.append(s)
        out.append(new)
    return out


def top_words(corpus: Sequence[Sequence[str]], k: int) -> list[str]:
    """The ``k`` most frequent symbols (ties broken alphabetically)."""
    counts = Counter(s for seq in corpus for s in seq)
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def as_corpus(sentences: Iterable[Sequence[str]]) -> list[list[str]]:
    """A corpus (list of lists of str) from any iterable of token sequences, empty sequences dropped."""
    out = [list(map(str, s)) for s in sentences if len(s)]
    if not out:
        raise LanguageError("the corpus is empty: no non-empty sequence")
    return out
