"""Prose values and tables of the translation section (Table 8 in shape) of ``book/press_wolf/language_models``."""

from __future__ import annotations

from ...experiments.press_wolf.translation import PAPER_REDUCTION, PAPER_TABLE8, TYING_NAMES, TYINGS
from ...results import Result
from .. import DataTable, prose


def translation_table(result: Result) -> DataTable:
    """Table 8 in shape: size, reduction, accuracy and BLEU of the three models, the paper's beside them."""
    m = result.metrics
    rows = []
    for k in TYINGS:
        paper = PAPER_TABLE8.get(k)
        rows.append([TYING_NAMES[k], f"{m['params'][k]:,}", f"{m['analytic_params'][k]:,}",
                     f"{m['param_reduction'][k]:.0%}", f"{m['word_accuracy'][k]:.3f}", f"{m['exact'][k]:.3f}",
                     f"{m['bleu'][k]:.1f}", f"{PAPER_REDUCTION.get(k, 0):.0%}",
                     f"{paper[0] / 1e6:.0f}M, {paper[1]:.2f}" if paper else "–"])
    return DataTable(["model", "parameters", "arithmetic", "fewer than untied", "word accuracy", "exact match",
                      "BLEU", "paper: fewer", "paper: size, BLEU (EN→FR)"], rows,
                     caption="Toy translation with a shared vocabulary: three ways of tying (held-out sentences, "
                             "greedy decoding)")


@prose("pw-translation")
def translation_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    return {
        "decoder_reduction": f"{m['param_reduction']['decoder']:.0%}",
        "twwt_reduction": f"{m['param_reduction']['three-way']:.0%}",
        "embedding_share_words": f"{m['embedding_share']:.0%}",
    }
