"""Chapter "Should I tie? A diagnostic" (this book's construction on bertolotti2024's definitions).

One experiment, ``eqv-diagnose``: the exact deciders of ≡ and ∼ on the XOR languages, their estimates from samples
of the main XOR language, from a synthetic language with planted pairs, and from the Wikipedia sample shipped with
gensim. It scores no claim of the paper (the diagnostic is ours); its counts are what the chapter reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...config import ExperimentConfig, positive
from ...data.languages import plant_false_twins, plant_twins, sample_language, xor_setting
from ...data.xor import SETTINGS
from ...metrics.equivalence import estimate_pair, exact_report
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from .. import no_claims, register

CHAPTER = "book/theory/should_i_tie"
XOR_PAIRS = (("0", "1"), ("2", "3"), ("0", "2"))
WIKI_PAIRS = (("he", "she"), ("one", "two"), ("is", "was"), ("the", "a"), ("city", "town"), ("first", "second"))
PLANTED = {"twin50": "holds (≡ and ∼)", "twin10": "fails: ≡ but not ∼", "false_twin": "fails: ∼ but not ≡"}
"""The planted pairs of the synthetic language and their DH status by construction."""
NATURAL = "fails: ≡ but not ∼"
"""The DH status of the synthetic language's natural synonyms (same concept, Zipfian frequencies)."""


@dataclass(frozen=True)
class DiagnoseConfig(ExperimentConfig):
    """The "should I tie?" diagnostic on languages where the answer is known, and on real text."""

    name = "eqv-diagnose"

    xor_bits: int = 4  # bits of the XOR language (paper: 7; the table has n 2^(n-1) (2^n - 1) contexts)
    xor_samples: int = 20_000  # sequences sampled from the XOR language for the estimates
    synthetic_tokens: int = 60_000  # tokens of the synthetic Markov language
    wiki_articles: int = 40  # articles of the gensim Wikipedia sample (it has about 106)
    permutations: int = 19  # permutation-null draws: 19 gives a 5% test
    min_count: int = 20  # fewer occurrences of a symbol: "too few samples"

    def _validate(self) -> None:
        for f in ("xor_bits", "xor_samples", "synthetic_tokens", "wiki_articles", "permutations", "min_count"):
            positive(f, getattr(self, f), integer=True)

    @classmethod
    def quick(cls) -> DiagnoseConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> DiagnoseConfig:
        return cls(scale="paper", seeds=(0,), xor_bits=7, xor_samples=200_000, synthetic_tokens=500_000,
                   wiki_articles=106, permutations=99)


def synthetic_corpus(n_tokens: int, rng: np.random.Generator) -> tuple[list[list[str]], dict[str, str]]:
    """The synthetic Markov language (concepts with Zipfian synonyms), split into 20-token sentences, with three
    planted pairs: a 50/50 twin (DH holds), a 10/90 twin (≡ but not ∼) and a false twin (∼ but not ≡, causal)."""
    from ...data.synthetic import CorpusSpec, generate

    spec = CorpusSpec(n_groups=4, concepts_per_group=5, words_per_concept=3)
    corpus = generate(spec, n_tokens, 2, rng)
    words = [f"w{t}" for t in corpus.train]
    seqs = [words[i:i + 20] for i in range(0, len(words), 20)]
    counts = np.bincount(corpus.train, minlength=spec.vocab_size)
    top = [f"w{i}" for i in np.argsort(-counts, kind="stable")[:3]]
    seqs = plant_twins(seqs, top[0], "twin50", 0.5, rng)
    seqs = plant_twins(seqs, top[1], "twin10", 0.1, rng)
    seqs = plant_false_twins(seqs, top[2], "false_twin", "marker", rng)
    # natural synonyms (same concept, Zipfian frequencies): the most frequent concept with no planted word
    planted = {int(w[1:]) // spec.words_per_concept for w in top}
    concept_counts = counts.reshape(-1, spec.words_per_concept).sum(1)
    free = [c for c in np.argsort(-concept_counts, kind="stable") if int(c) not in planted][0]
    base = int(free) * spec.words_per_concept
    pairs = {"twin50": top[0], "twin10": top[1], "false_twin": top[2], f"w{base}": f"w{base + 1}"}
    return seqs, pairs


@register("eqv-diagnose", reproduces="Bertolotti & Cazzola (2024): a 'should I tie?' diagnostic (this book)",
          chapter=CHAPTER, config_cls=DiagnoseConfig, judge=no_claims)
def run_diagnose(cfg: DiagnoseConfig) -> Result:
    from ...data.corpus import sentences, wikipedia_articles

    seed = cfg.seeds[0]
    seed_everything(seed)
    rows = []

    def add(source: str, report, expected: str = "") -> None:
        rows.append({"source": source, **report.row(), "expected": expected})

    exact = {}
    for key in SETTINGS:
        lang = xor_setting(key, cfg.xor_bits)
        for a, b in XOR_PAIRS:
            if key != "main" and "1" in (a, b):
                continue  # symbol 1 never occurs in the NDH and YDH languages
            rep = exact_report(lang, a, b)
            exact[(key, a, b)] = rep
            add(f"XOR {key} (exact)", rep)
    main = xor_setting("main", cfg.xor_bits)
    sample = sample_language(main, cfg.xor_samples, numpy_rng(seed, 1))
    match = []
    for a, b in XOR_PAIRS:
        est = estimate_pair(sample, a, b, permutations=cfg.permutations, min_count=cfg.min_count,
                            rng=numpy_rng(seed, 2))
        ex = exact[("main", a, b)]
        match.append(est.semantic_equivalent == ex.semantic_equivalent
                     and est.conditional_equivalent == ex.conditional_equivalent)
        add("XOR main (samples)", est, ex.dh)
    synth, planted = synthetic_corpus(cfg.synthetic_tokens, numpy_rng(seed, 3))
    synth_ok = []
    for a, b in planted.items():
        est = estimate_pair(synth, a, b, window=1, causal=True, permutations=cfg.permutations,
                            min_count=cfg.min_count, rng=numpy_rng(seed, 4))
        exp = PLANTED.get(a, NATURAL)
        synth_ok.append(est.dh == exp)
        add("synthetic (causal, window 1)", est, exp)
    docs = wikipedia_articles()[: cfg.wiki_articles]
    wiki = [s for d in docs for s in sentences(d.text)]
    for a, b in WIKI_PAIRS:
        est = estimate_pair(wiki, a, b, window=1, permutations=cfg.permutations, min_count=cfg.min_count,
                            rng=numpy_rng(seed, 5))
        add("Wikipedia (window 1)", est)
    wiki_rows = [r for r in rows if r["source"].startswith("Wikipedia")]
    decided = [r for r in wiki_rows if r["evidence"] != "too few samples"]
    m = {"rows": rows, "xor_estimates_match_exact": bool(all(match)), "xor_matches": int(sum(match)),
         "xor_pairs": len(match), "synthetic_planted_found": int(sum(synth_ok)), "synthetic_planted": len(synth_ok),
         "wiki_words": sum(len(s) for s in wiki), "wiki_sentences": len(wiki), "wiki_articles": len(docs),
         "wiki_pairs": len(WIKI_PAIRS), "wiki_decided": len(decided),
         "wiki_dh_fails": sum(r["dh"].startswith("fails") for r in wiki_rows),
         "wiki_cond_rejected": sum(not r["cond_equiv"] for r in decided),
         "wiki_sem_rejected": sum(not r["sem_equiv"] for r in decided)}
    arrays = {key: np.array([np.nan if r[col] is None else r[col] for r in rows])
              for key, col in (("d_sem", "D_sem"), ("d_cond", "D_cond"))}
    return Result(cfg.name, cfg.to_dict(), m, [], arrays)
