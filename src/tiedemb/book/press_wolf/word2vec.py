"""Prose values and tables of the word2vec section (Table 1 in shape) of ``book/press_wolf/language_models``."""

from __future__ import annotations

import math

from ...experiments.press_wolf.word2vec import ROLES
from ...results import Result
from .. import DataTable, prose

ROLE_NAMES = {"in": "ours, untied input", "out": "ours, untied output", "tied": "ours, tied",
              "gensim_in": "gensim, input (wv)", "gensim_out": "gensim, output (syn1neg)"}


def _num(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.2f}"


def word2vec_table(result: Result) -> DataTable:
    """Table 1 in shape: Spearman's ρ of each skip-gram embedding, with the pairs scored (coverage) beside it."""
    m = result.metrics
    rows = []
    syn = m["synthetic"]
    for role in ROLES:
        s = syn["similarity"][role]
        rows.append(["synthetic, exact similarity", ROLE_NAMES[role], _num(s["rho"]), f"{s['pairs']} (all)",
                     _num(s["rho_rare"]), f"{s['pairs_rare']}"])
    for bench, s in m["english"]["similarity"].items():
        for role in ROLES:
            r = s.get(role)
            cover = f"{r['pairs'] if r else 0} of {s['total_pairs']} ({s['coverage']:.0%})"
            rows.append([f"English, {bench}", ROLE_NAMES[role], _num(r["rho"]) if r else "–", cover,
                         _num(r["rho_rare"]) if r else "–", f"{r['pairs_rare']}" if r else "0"])
    return DataTable(["text, benchmark", "embedding", "Spearman ρ", "pairs scored (coverage)",
                      "ρ, rare pairs", "rare pairs"], rows,
                     caption="word2vec (skip-gram, negative sampling): the embeddings as word embeddings")


def word2vec_structure_table(result: Result) -> DataTable:
    """Table 3's word2vec rows in shape: ρ between the pairwise similarities of two embeddings."""
    rows = []
    for text in ("synthetic", "english"):
        st = result.metrics[text]["structure"]
        rows.append([text, f"{st['in-out']:.2f}", f"{st['in-tied']:.2f}", f"{st['out-tied']:.2f}"])
    return DataTable(["text", "input vs output", "input vs tied", "output vs tied"], rows,
                     caption="word2vec: how alike the embeddings are (Spearman ρ of their pairwise similarities)")


@prose("pw-word2vec")
def word2vec_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    s = m["synthetic"]["similarity"]
    st = m["synthetic"]["structure"]
    closest = max(("in-out", "in-tied", "out-tied"), key=lambda k: st[k])
    return {
        "tied_vs_untied_words": ("below both untied embeddings" if s["tied"]["rho"] < min(s["in"]["rho"],
                                                                                        s["out"]["rho"])
                                 else "not below both untied embeddings"),
        "out_vs_in_words": "below" if s["out"]["rho"] < s["in"]["rho"] else "not below",
        "closest_words": {"in-out": "the input and the output vectors", "in-tied": "the input and the tied vectors",
                          "out-tied": "the output and the tied vectors"}[closest],
        "english_tokens_words": f"{m['english']['tokens']:,}",
        "simlex_coverage": f"{m['english']['similarity']['simlex999']['coverage']:.0%}",
        "wordsim_coverage": f"{m['english']['similarity']['wordsim353']['coverage']:.0%}",
        "tied_saving": f"{1 - m['params']['tied'] / m['params']['untied']:.0%}",
    }
