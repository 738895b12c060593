"""Figure of the "should I tie?" chapter: each pair's estimated divergences against their nulls."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...results import Result
from .. import axes_or_new, figure

SOURCE_COLORS = {"XOR": "#1b9e77", "synthetic": "#d95f02", "Wikipedia": "#7570b3"}


@figure("eqv-diagnose")
def plot_diagnostic(result: Result, ax=None) -> Figure:
    """Each pair's D≡ against D∼ (observed minus its permutation null), coloured by source."""
    fig, ax = axes_or_new(ax, (6.4, 4.0))
    for row in result.metrics["rows"]:
        if row["D_sem"] is None:
            continue
        src = row["source"].split()[0]
        sem = row["D_sem"] - (row["D_sem_null"] or 0.0)
        cond = row["D_cond"] - (row["D_cond_null"] or 0.0)
        marker = "s" if "exact" in row["source"] else "o"
        ax.scatter(cond, sem, color=SOURCE_COLORS.get(src, "k"), marker=marker, s=30)
        ax.annotate(row["pair"], (cond, sem), fontsize=6, xytext=(3, 2), textcoords="offset points")
    for src, color in SOURCE_COLORS.items():
        ax.scatter([], [], color=color, label=src)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("D∼ − null  (0: conditionally equivalent)")
    ax.set_ylabel("D≡ − null  (0: semantically equivalent)")
    ax.legend(fontsize=8, title="squares: exact", title_fontsize=7)
    ax.set_title("Where the distributional hypothesis fails: off the diagonal", fontsize=9)
    return fig
