"""Finite languages as tables: contexts with a hole, their probabilities, and a distribution for the hole.

A *language* here is a finite table: each context ρ (a tuple of symbols with exactly one hole ``HOLE``) has a
probability p(ρ) and a distribution p(·|ρ) over the alphabet for the symbol in the hole. Masked and causal languages
are both tables of this kind (a causal context is a prefix with the hole at its end). Also: the named languages of
the theory chapters (the XOR language as an exact table, the two-step twin languages), sampling a corpus from a
language, and planting twin words in a corpus.

Paper: bertolotti2024 (languages, contexts and the XOR problem).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .xor import SETTINGS

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


def xor_setting(name: str, n_bits: int = 4) -> Language:
    """One of the paper's three XOR settings (``main``, ``ndh``, ``ydh``; :data:`tiedemb.data.xor.SETTINGS`) as an
    exact table of ``n_bits`` bits."""
    if name not in SETTINGS:
        raise LanguageError(f"unknown XOR setting {name!r}; allowed: {', '.join(SETTINGS)}")
    return xor_language(n_bits, *SETTINGS[name])


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


def sim_not_equiv_language() -> Language:
    """The smallest language where ∼ holds and ≡ fails: after the start ``s``, ``a`` or ``b`` with equal probability
    (so a ∼ b); then ``a`` is followed by ``x`` and ``b`` by ``y`` (so swapping them in the input changes what comes
    next: not a ≡ b). A causal language: its contexts are prefixes with the hole at the end."""
    return Language(("s", "a", "b", "x", "y"), {
        ("s", HOLE): (0.5, {"a": 0.5, "b": 0.5}),
        ("s", "a", HOLE): (0.25, {"x": 1.0}),
        ("s", "b", HOLE): (0.25, {"y": 1.0}),
    }, name="sim-not-equiv")


def encode(lang: Language) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A language as float64 tensors for a context model: context tokens (n, L), with the hole as id |Σ|; p(ρ) (n,);
    p(·|ρ) (n, |Σ|). Every context must have the same length."""
    ctxs, weights, table = lang.matrix()
    if len({len(c) for c in ctxs}) != 1:
        raise LanguageError("the context model needs contexts of one length")
    ids = {s: i for i, s in enumerate(lang.alphabet)} | {HOLE: len(lang.alphabet)}
    tokens = torch.tensor([[ids[s] for s in c] for c in ctxs])
    return tokens, torch.as_tensor(weights, dtype=torch.float64), torch.as_tensor(table, dtype=torch.float64)


# --------------------------------------------------------------------------------------------------------------------
# Corpora drawn from a language, or with planted twins


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
