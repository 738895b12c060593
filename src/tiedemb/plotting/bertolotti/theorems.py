"""Figures of the theory chapter (bertolotti2024: equivalences, theorems, tying conflict)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...results import Result
from .. import COLORS, axes_or_new, band, figure

FLOOR = 1e-12  # exact zeros and round-off are drawn at this floor on log axes


@figure("eqv-theorems")
def plot_theorem_distances(result: Result, ax=None) -> Figure:
    """‖e_a − e_b‖ at the start and at the optimum, when the theorems' assumptions hold and when one fails."""
    fig, ax = axes_or_new(ax, (7.8, 3.4))
    m = result.metrics
    r, d = m["deficient_rank"], m["d_model"]
    cases = [("t1_dist", f"output, ∼ pair\nspan = R^{d} (B-T1)"),
             ("t1_def_dist", f"output, ∼ pair\nrank {r} (fails)"),
             ("t3_sep_dist", "input, ≢ pair\nshared start (B-T3)"),
             ("t4_dist", "input, ≡ pair\nfull rank (B-T4)"),
             ("t4_body_dist", f"input, ≡ pair\nrank-{r} body (fails)"),
             ("t4_out_dist", f"input, ≡ pair\nrank-{r} $E_{{out}}$ (fails)")]
    x = np.arange(len(cases))
    start = [max(result.arrays[k][:, 0].mean(), FLOOR) for k, _ in cases]
    opt = [max(result.arrays[k][:, 1].mean(), FLOOR) for k, _ in cases]
    ax.bar(x - 0.2, start, 0.4, label="start", color=COLORS["control"])
    ax.bar(x + 0.2, opt, 0.4, label="optimum", color=COLORS["tied"])
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, 10)
    ax.set_xticks(x, [lab for _, lab in cases], fontsize=7)
    ax.set_ylabel(r"$\|e_a - e_b\|$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Distance between the rows of a pair, at the start and at the optimum", fontsize=9)
    return fig


@figure("eqv-tying")
def plot_tying_excess(result: Result, ax=None) -> Figure:
    """Best population loss minus the Bayes loss, untied vs tied, on the three toy languages (log scale)."""
    fig, ax = axes_or_new(ax, (6.0, 3.2))
    ex = result.metrics["excess"]
    kinds = [("agree", "DH holds\n(≡ and ∼)"), ("freq", "≡ but not ∼\n(0.1 / 0.9)"),
             ("conflict", "∼ but not ≡\n(hard conflict)")]
    x = np.arange(len(kinds))
    for off, key, color in ((-0.2, "untied", COLORS["out"]), (0.2, "tied", COLORS["tied"])):
        ax.bar(x + off, [max(ex[k][key], FLOOR) for k, _ in kinds], 0.4, label=key, color=color)
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, 1e-1)
    ax.set_xticks(x, [lab for _, lab in kinds], fontsize=8)
    ax.set_ylabel("loss − Bayes loss (nats)")
    ax.legend(fontsize=8)
    ax.set_title(f"Best of {result.config['restarts']} restarts", fontsize=9)
    return fig


@figure("eqv-tying")
def plot_pair_distance(result: Result, ax=None) -> Figure:
    """‖e_A − e_B‖ along training: tied rows vs untied output rows, for the ✓DH and the ≡-but-not-∼ languages."""
    fig, ax = axes_or_new(ax, (6.4, 3.4))
    steps = np.arange(result.arrays["agree_tied_dist_out"].shape[1])
    for key, color, ls, label in (("agree_tied", COLORS["tied"], "-", "tied, DH holds"),
                                  ("agree_untied", COLORS["out"], "-", "untied output, DH holds"),
                                  ("freq_tied", COLORS["tied"], "--", "tied, ≡ but not ∼"),
                                  ("freq_untied", COLORS["out"], "--", "untied output, ≡ but not ∼")):
        band(ax, steps, result.arrays[f"{key}_dist_out"], color=color, label=label, ls=ls)
    ax.set_xlabel("training step")
    ax.set_ylabel(r"$\|e_A - e_B\|$")
    ax.legend(fontsize=8)
    ax.set_title("Distance between the rows of A and B along training (mean over restarts)", fontsize=9)
    return fig
