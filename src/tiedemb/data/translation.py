"""A seeded synthetic translation task between two toy languages that share part of one vocabulary.

The vocabulary is one list of ids: the specials ([PAD] 0, [BOS] 1, [EOS] 2), then words used by both languages
(like names and numbers, or the subwords that a joint BPE shares between English and French), then source-only and
target-only words. A source sentence is a Zipfian draw of source words (shared and source-only); its translation
maps each word (a shared word to itself, a source-only word to its target-only partner) and swaps every two adjacent
words (a local reordering, like adjective–noun order). One shared vocabulary makes three-way tying possible.

Paper: press2017, Sec. 6 (NMT with a BPE vocabulary shared by source and target, Table 8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD, BOS, EOS = 0, 1, 2
N_SPECIALS = 3


@dataclass(frozen=True)
class TranslationSpec:
    """Shape of the toy language pair."""

    n_shared: int = 60  # words both languages use (map to themselves)
    n_private: int = 120  # source-only words, and as many target-only words
    min_len: int = 3  # sentence length range (words, before [EOS])
    max_len: int = 9
    zipf: float = 1.0  # Zipf exponent of word frequencies

    def __post_init__(self) -> None:
        if self.n_shared < 0 or self.n_private < 1 or not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"bad translation spec: n_shared {self.n_shared} >= 0, n_private {self.n_private} >= 1, "
                             f"1 <= min_len {self.min_len} <= max_len {self.max_len} needed")

    @property
    def vocab_size(self) -> int:
        return N_SPECIALS + self.n_shared + 2 * self.n_private

    @property
    def source_words(self) -> np.ndarray:
        return np.arange(N_SPECIALS, N_SPECIALS + self.n_shared + self.n_private)

    def translate_word(self, ids: np.ndarray) -> np.ndarray:
        """The target word of each source word: shared words unchanged, source-only words to their partner."""
        private = ids >= N_SPECIALS + self.n_shared
        return np.where(private, ids + self.n_private, ids)


def translate(spec: TranslationSpec, sentence: np.ndarray) -> np.ndarray:
    """The reference translation of one source sentence (words only): map every word, swap adjacent pairs."""
    out = spec.translate_word(np.asarray(sentence)).copy()
    n = len(out) - len(out) % 2
    out[0:n:2], out[1:n:2] = out[1:n:2].copy(), out[0:n:2].copy()
    return out


def sample_batch(spec: TranslationSpec, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sentence pairs, padded: source (n, max_len + 1) ending in [EOS]; target (n, max_len + 2) as
    [BOS] words [EOS]."""
    words = spec.source_words
    p = 1.0 / np.arange(1, len(words) + 1) ** spec.zipf  # frequency rank = id order among the source words
    p /= p.sum()
    src = np.full((n, spec.max_len + 1), PAD, dtype=np.int64)
    tgt = np.full((n, spec.max_len + 2), PAD, dtype=np.int64)
    lengths = rng.integers(spec.min_len, spec.max_len + 1, size=n)
    for i, length in enumerate(lengths):
        s = rng.choice(words, size=length, p=p)
        src[i, :length], src[i, length] = s, EOS
        tgt[i, 0], tgt[i, 1:length + 1], tgt[i, length + 1] = BOS, translate(spec, s), EOS
    return src, tgt
