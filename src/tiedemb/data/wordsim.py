"""Word-similarity benchmarks shipped in gensim's test data: SimLex-999 and WordSim-353 (no download).

Paper: press2017, Sec. 4 (Tables 1 and 2 evaluate embeddings on word-similarity sets, SimLex-999 among them).
"""

from __future__ import annotations

from dataclasses import dataclass

from .corpus import CorpusError, gensim_data_path

BENCHMARKS = {"simlex999": "simlex999.txt", "wordsim353": "wordsim353.tsv"}
"""Benchmark name → file name in gensim's test data (``gensim.test.utils.datapath``)."""


@dataclass(frozen=True)
class WordPairs:
    """Human similarity judgements of word pairs (lower-cased)."""

    name: str
    pairs: tuple[tuple[str, str], ...]
    scores: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.pairs)


def load_word_pairs(name: str) -> WordPairs:
    """A benchmark of :data:`BENCHMARKS`: tab-separated ``word1 word2 score`` lines; comment and header lines are
    skipped."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown word-similarity benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    pairs, scores = [], []
    for line in gensim_data_path(BENCHMARKS[name]).read_text(encoding="utf8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        try:
            score = float(parts[2])
        except ValueError:
            continue  # a header line
        pairs.append((parts[0].strip().lower(), parts[1].strip().lower()))
        scores.append(score)
    if not pairs:
        raise CorpusError(f"{BENCHMARKS[name]} holds no word pairs")
    return WordPairs(name, tuple(pairs), tuple(scores))
