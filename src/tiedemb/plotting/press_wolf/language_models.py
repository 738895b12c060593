"""Figures of the language-model chapter (Press & Wolf 2017, Tables 2, 3 and 6). Titles describe what is drawn, never
an outcome."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...results import Result
from .. import COLORS, LABELS, axes_or_new, band, figure

VARIANT_STYLE = {"untied": ("#444444", "untied"), "tied": ("#7570b3", "WT (tied)"), "pr": ("#d95f02", "PR"),
                 "tied_pr": ("#1b9e77", "WT + PR")}


@figure("pw-lm")
@figure("pw-lm-synthetic")
def plot_lm_curves(result: Result, ax=None) -> Figure:
    """Validation perplexity after every epoch, for the models trained (log scale; band over seeds when several)."""
    fig, ax = axes_or_new(ax, (6.0, 3.4))
    for key, (color, label) in VARIANT_STYLE.items():
        if f"curve_{key}" not in result.arrays:  # the large models: untied and WT only
            continue
        runs = result.arrays[f"curve_{key}"]
        band(ax, np.arange(runs.shape[1]), runs, color=color, label=label, marker="o", ms=3)
    ax.axhline(result.metrics["unigram_ppl"], color="k", ls=":", lw=1, label="word frequencies alone (unigram)")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(runs.shape[1]))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation perplexity")
    ax.legend(fontsize=8)
    ax.set_title("Validation perplexity along training")
    return fig


@figure("pw-lm-synthetic")
def plot_similarity_quality(result: Result, ax=None) -> Figure:
    """Spearman's ρ between each embedding's cosine similarities and the exact similarity, all pairs and rare pairs."""
    fig, ax = axes_or_new(ax, (5.6, 3.2))
    sim = result.metrics["similarity"]
    roles = ("in", "out", "tied")
    width = 0.38
    for i, (key, label) in enumerate((("rho", "all pairs"), ("rho_rare", "rare pairs"))):
        alpha = 1.0 if i == 0 else 0.45
        ax.bar(np.arange(len(roles)) + (i - 0.5) * width, [sim[r][key] for r in roles], width,
               color=[COLORS[r] for r in roles], alpha=alpha, edgecolor="k", linewidth=0.5)
        ax.bar([0], [0], 0, color="#888888", alpha=alpha, edgecolor="k", linewidth=0.5, label=label)  # legend key
    ax.set_xticks(np.arange(len(roles)), [LABELS[r] for r in roles])
    ax.set_ylabel("Spearman ρ with the exact similarity")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=8)
    ax.set_title("Embeddings as word embeddings")
    return fig
