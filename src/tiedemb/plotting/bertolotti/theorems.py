"""Figures of the theory chapter (bertolotti2024: equivalences, theorems, tying conflict, diagnostic)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...results import Result
from .. import COLORS, axes_or_new, band, figure

FLOOR = 1e-12  # exact zeros and round-off are drawn at this floor on log axes


@figure("eqv-theorems")
def plot_theorem_distances(result: Result, ax=None) -> Figure:
    """‖e_a − e_b‖ at the start and at the optimum, when the theorems' assumptions hold and when one fails."""
    fig, ax = axes_or_new(ax, (6.8, 3.4))
    m = result.metrics
    r, d = m["deficient_rank"], m["d_model"]
    cases = [("t1_dist", f"output, ∼ pair\nspan = R^{d} (B-T1)"),
             ("t1_def_dist", f"output, ∼ pair\nrank {r} (fails)"),
             ("t4_dist", "input, ≡ pair\nfull rank (B-T4)"),
             ("t4_body_dist", f"input, ≡ pair\nrank-{r} body (fails)"),
             ("t4_out_dist", f"input, ≡ pair\nrank-{r} $E_{{out}}$ (fails)")]
    x = np.arange(len(cases))
    start = [result.arrays[k][:, 0].mean() for k, _ in cases]
    opt = [max(result.arrays[k][:, 1].mean(), FLOOR) for k, _ in cases]
    ax.bar(x - 0.2, start, 0.4, label="start", color=COLORS["control"])
    ax.bar(x + 0.2, opt, 0.4, label="optimum", color=COLORS["tied"])
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, 10)
    ax.set_xticks(x, [lab for _, lab in cases], fontsize=7)
    ax.set_ylabel(r"$\|e_a - e_b\|$")
    ax.legend(fontsize=8)
    ax.set_title("Equal embeddings at the optimum only under the theorems' assumptions", fontsize=9)
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
    ax.set_title("Best of several restarts, trained to convergence", fontsize=9)
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
    ax.set_title("Tying merges a ✓DH pair and keeps a ✗DH pair apart (mean over restarts)", fontsize=9)
    return fig


@figure("eqv-diagnose")
def plot_diagnostic(result: Result, ax=None) -> Figure:
    """Each pair's D≡ against D∼ (observed minus its permutation null), coloured by source."""
    fig, ax = axes_or_new(ax, (6.4, 4.0))
    colors = {"XOR": "#1b9e77", "synthetic": "#d95f02", "Wikipedia": "#7570b3"}
    for row in result.metrics["rows"]:
        if row["D_sem"] is None:
            continue
        src = row["source"].split()[0]
        sem = row["D_sem"] - (row["D_sem_null"] or 0.0)
        cond = row["D_cond"] - (row["D_cond_null"] or 0.0)
        marker = "s" if "exact" in row["source"] else "o"
        ax.scatter(cond, sem, color=colors.get(src, "k"), marker=marker, s=30)
        ax.annotate(row["pair"], (cond, sem), fontsize=6, xytext=(3, 2), textcoords="offset points")
    for src, color in colors.items():
        ax.scatter([], [], color=color, label=src)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("D∼ − null  (0: conditionally equivalent)")
    ax.set_ylabel("D≡ − null  (0: semantically equivalent)")
    ax.legend(fontsize=8, title="squares: exact", title_fontsize=7)
    ax.set_title("Where the distributional hypothesis fails: off the diagonal", fontsize=9)
    return fig


class DiagnosticTable:
    """The diagnostic's rows as a table: HTML in a notebook, rounded plain text elsewhere (stable under nbval).

    n_a, n_b are occurrences in a corpus, or probabilities as outputs for an exact language.
    """

    COLUMNS = (("pair", "pair"), ("count_a", "n_a"), ("count_b", "n_b"), ("D_sem", "D≡"),
               ("D_sem_null", "D≡ null"), ("D_cond", "D∼"), ("D_cond_null", "D∼ null"), ("dh", "DH"),
               ("expected", "expected"), ("advice", "should I tie?"))

    def __init__(self, rows: list[dict], source: str = "") -> None:
        self.rows = [r for r in rows if r["source"].startswith(source)]

    @staticmethod
    def _cell(key: str, value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}" if key.startswith("D_") or value < 1 else f"{value:.0f}"
        return str(value)

    def __repr__(self) -> str:
        return "\n".join(" | ".join(self._cell(k, r[k]) for k, _ in self.COLUMNS) for r in self.rows)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(t)}</th>" for _, t in self.COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(self._cell(k, r[k]))}</td>" for k, _ in self.COLUMNS)
                       + "</tr>" for r in self.rows)
        return f'<table class="diagnostic-table"><tr>{head}</tr>{body}</table>'


def diagnostic_table(result: Result, source: str = "") -> DiagnosticTable:
    """The rows of an ``eqv-diagnose`` result whose source starts with ``source`` (e.g. "XOR", "Wikipedia")."""
    return DiagnosticTable(result.metrics["rows"], source)
