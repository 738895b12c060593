"""A synthetic, PTB-shaped corpus with a known similarity structure.

Words are grouped three levels deep: groups ⊃ concepts ⊃ surface words. A Markov chain over concepts generates the
text: the next concept depends on the current concept (concepts of one group share a successor profile, with some
individual noise), and each concept is written as one of its surface words, drawn from a Zipf law. Words of one
concept are therefore exact distributional synonyms (same contexts, same successors, different frequencies), words of
one group are similar, and the overall word frequencies are Zipfian.

Ground-truth similarity: 2 for synonyms, 1 for words of the same group, 0 otherwise.

Paper: press2017 (a stand-in for the Penn Treebank, which the paper trains on and which no offline package ships).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CorpusSpec:
    """Shape of the synthetic language."""

    n_groups: int = 10  # top-level semantic groups
    concepts_per_group: int = 10  # concepts in each group
    words_per_concept: int = 5  # surface words (synonyms) per concept
    zipf_concepts: float = 1.0  # Zipf exponent of concept popularity (global rank)
    zipf_words: float = 1.0  # Zipf exponent of the synonyms within a concept
    successor_groups: int = 3  # groups a concept's successors come from
    concentration: float = 0.5  # Dirichlet concentration of the successor profiles (smaller = more peaked)
    noise: float = 0.2  # weight of each concept's individual successor noise against its group's profile

    def __post_init__(self) -> None:
        for name in ("n_groups", "concepts_per_group", "words_per_concept", "successor_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CorpusSpec.{name} must be a positive integer, got {value!r}")
        if self.successor_groups > self.n_groups:
            raise ValueError(f"CorpusSpec.successor_groups ({self.successor_groups}) exceeds n_groups "
                             f"({self.n_groups})")
        for name in ("zipf_concepts", "zipf_words", "concentration"):
            if not getattr(self, name) > 0:
                raise ValueError(f"CorpusSpec.{name} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.noise <= 1:
            raise ValueError(f"CorpusSpec.noise must lie in [0, 1], got {self.noise!r}")

    @property
    def n_concepts(self) -> int:
        return self.n_groups * self.concepts_per_group

    @property
    def vocab_size(self) -> int:
        return self.n_concepts * self.words_per_concept


@dataclass
class SyntheticCorpus:
    """Generated text with the language that produced it."""

    spec: CorpusSpec
    train: np.ndarray  # token ids, (n_train,)
    valid: np.ndarray  # token ids, (n_valid,)
    transition: np.ndarray  # P(next concept | concept), (n_concepts, n_concepts)
    word_given_concept: np.ndarray  # P(word offset | concept), (words_per_concept,)

    @property
    def vocab_size(self) -> int:
        return self.spec.vocab_size

    def concept_of(self, words: np.ndarray) -> np.ndarray:
        return np.asarray(words) // self.spec.words_per_concept

    def group_of(self, words: np.ndarray) -> np.ndarray:
        return self.concept_of(words) // self.spec.concepts_per_group

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Ground-truth similarity of word pairs: 2 synonyms, 1 same group, 0 unrelated."""
        same_concept = self.concept_of(a) == self.concept_of(b)
        same_group = self.group_of(a) == self.group_of(b)
        return np.where(same_concept, 2, np.where(same_group, 1, 0))

    def counts(self, split: str = "train") -> np.ndarray:
        """Occurrences of every word in a split, (vocab_size,)."""
        tokens = {"train": self.train, "valid": self.valid}[split]
        return np.bincount(tokens, minlength=self.vocab_size)


def _zipf(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def make_language(spec: CorpusSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The concept transition matrix and the within-concept word distribution of ``spec``."""
    G, C = spec.n_groups, spec.concepts_per_group
    popularity = _zipf(spec.n_concepts, spec.zipf_concepts)[rng.permutation(spec.n_concepts)]
    popularity = popularity.reshape(G, C)  # (group, concept in group)
    transition = np.zeros((spec.n_concepts, spec.n_concepts))
    for g in range(G):
        targets = rng.choice(G, size=spec.successor_groups, replace=False)
        profile = np.zeros(G)
        profile[targets] = rng.dirichlet(np.full(spec.successor_groups, spec.concentration))
        for c in range(C):
            own = np.zeros(G)
            own[targets] = rng.dirichlet(np.full(spec.successor_groups, spec.concentration))
            groups = (1 - spec.noise) * profile + spec.noise * own  # (n_groups,)
            within = popularity / popularity.sum(axis=1, keepdims=True)  # (group, concept)
            transition[g * C + c] = (groups[:, None] * within).reshape(-1)
    return transition, _zipf(spec.words_per_concept, spec.zipf_words)


def generate(spec: CorpusSpec, n_train: int, n_valid: int, rng: np.random.Generator) -> SyntheticCorpus:
    """Generate a corpus of ``n_train`` + ``n_valid`` tokens from one Markov chain run."""
    if n_train < 2 or n_valid < 2:
        raise ValueError(f"n_train and n_valid must be at least 2, got {n_train}, {n_valid}")
    transition, words = make_language(spec, rng)
    n = n_train + n_valid
    cum = np.cumsum(transition, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(n)
    concepts = np.empty(n, dtype=np.int64)
    c = int(rng.integers(spec.n_concepts))
    for t in range(n):  # a Markov chain: inherently sequential
        c = int(np.searchsorted(cum[c], u[t], side="right"))
        concepts[t] = c
    wcum = np.cumsum(words)
    wcum[-1] = 1.0
    offsets = np.searchsorted(wcum, rng.random(n), side="right")
    tokens = concepts * spec.words_per_concept + offsets
    return SyntheticCorpus(spec, tokens[:n_train], tokens[n_train:], transition, words)


def similarity_pairs(corpus: SyntheticCorpus, n_per_level: int, rng: np.random.Generator) -> np.ndarray:
    """Word pairs stratified by ground-truth similarity: ``n_per_level`` synonym pairs (2), same-group pairs (1) and
    unrelated pairs (0), each of two distinct words drawn uniformly from the vocabulary, (3 · n_per_level, 2).

    Stratifying keeps the rare synonyms and group mates in the evaluation: uniformly random pairs are almost all
    unrelated.
    """
    spec = corpus.spec
    if spec.words_per_concept < 2:
        raise ValueError("similarity_pairs needs at least 2 words per concept (synonyms)")
    w, cpg = spec.words_per_concept, spec.concepts_per_group
    a = rng.integers(0, spec.vocab_size, size=(3, n_per_level))
    concept, group = a // w, a // (w * cpg)
    # Synonyms: another offset within the same concept.
    syn = concept[0] * w + (a[0] % w + rng.integers(1, w, size=n_per_level)) % w
    # Same group, another concept: shift the concept within its group (needs >= 2 concepts per group).
    other = (concept[1] % cpg + rng.integers(1, max(cpg, 2), size=n_per_level)) % cpg if cpg > 1 else concept[1] % cpg
    same_group = (group[1] * cpg + other) * w + rng.integers(0, w, size=n_per_level)
    # Unrelated: another group.
    shift = rng.integers(1, spec.n_groups, size=n_per_level) if spec.n_groups > 1 else np.zeros(n_per_level, int)
    unrelated = (((group[2] + shift) % spec.n_groups) * cpg + rng.integers(0, cpg, size=n_per_level)) * w \
        + rng.integers(0, w, size=n_per_level)
    return np.concatenate([np.stack([a[0], syn], 1), np.stack([a[1], same_group], 1), np.stack([a[2], unrelated], 1)])
