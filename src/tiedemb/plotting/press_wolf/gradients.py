"""Figures of the gradient chapter (Press & Wolf 2017, Sec. 3). Titles describe what is drawn, never an outcome."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...results import Result
from .. import COLORS, LABELS, axes_or_new, band, figure


@figure("grad-check")
def plot_gradient_errors(result: Result, ax=None) -> Figure:
    """Largest absolute error of each gradient identity, per architecture (float64; log scale)."""
    fig, ax = axes_or_new(ax, (6.4, 3.2))
    keys = [("tied_identity_err", "tied = input + output\n(theorem)"),
            ("output_closed_form_err", "output = mean (q−y)hᵀ\n(PW-T2)"),
            ("absent_rows_err", "absent rows:\ntied = output (PW-T3)"),
            ("present_rows_err", "input rows: tied =\ninput + output (PW-T4)")]
    archs = list(result.metrics["per_arch"])
    width = 0.38
    floor = 1e-20  # exact zeros are drawn at this floor on the log axis
    for i, arch in enumerate(archs):
        values = [max(result.metrics["per_arch"][arch][k], floor) for k, _ in keys]
        ax.bar(np.arange(len(keys)) + (i - 0.5) * width, values, width, label=arch,
               color=["#4c72b0", "#dd8452"][i % 2])
    ax.axhline(2.2e-16, color="k", ls="--", lw=1, label="float64 machine epsilon")
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, 1e-6)
    ax.set_xticks(np.arange(len(keys)), [lab for _, lab in keys], fontsize=8)
    ax.set_ylabel("max |error| over all entries")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Gradient identities checked against autograd (0 drawn at 1e-20)")
    return fig


@figure("grad-update-rule")
def plot_update_frequency(result: Result, ax=None) -> Figure:
    """How often each row is updated, against its word's frequency (per training step, mean over seeds)."""
    fig, ax = axes_or_new(ax)
    freq = result.arrays["frequency"]
    order = np.argsort(freq)
    for key in ("out", "in", "tied", "tied_input_role"):
        y = result.arrays[f"update_fraction_{key}"].mean(axis=0)
        untied = key in ("out", "in")  # hollow and larger, so the tied points drawn on top leave them visible
        ax.plot(freq[order], y[order], "o" if untied else ".", ms=6 if untied else 3, color=COLORS[key],
                mfc="none" if untied else COLORS[key], mew=0.8, label=LABELS[key], alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("word frequency in the training text")
    ax.set_ylabel("fraction of steps the row is updated")
    ax.set_title("How often each row gets a gradient")
    ax.legend(fontsize=8, loc="center right", markerscale=3)
    return fig


@figure("grad-update-rule")
def plot_displacement(result: Result, ax=None) -> Figure:
    """How far each row moved from its initial value by the end of training, against word frequency."""
    fig, ax = axes_or_new(ax)
    freq = result.arrays["frequency"]
    for key in ("out", "tied", "in"):
        y = result.arrays[f"displacement_{key}"].mean(axis=0)
        ax.plot(freq, y, ".", ms=3, color=COLORS[key], label=LABELS[key], alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("word frequency in the training text")
    ax.set_ylabel(r"$\|e_T - e_0\|$")
    ax.set_title("Distance each row travelled during training")
    ax.legend(fontsize=8, markerscale=3)
    return fig


@figure("grad-update-rule")
def plot_trajectory_similarity(result: Result, ax=None) -> Figure:
    """Spearman correlation of the tied matrix's similarity structure with each untied embedding along training."""
    fig, ax = axes_or_new(ax)
    step = result.arrays["snap_step"][0]
    band(ax, step, result.arrays["snap_rho_tied_out"], color=COLORS["out"], label="ρ(tied, untied output)")
    band(ax, step, result.arrays["snap_rho_tied_in"], color=COLORS["in"], label="ρ(tied, untied input)")
    band(ax, step, result.arrays["snap_rho_in_out"], color=COLORS["control"], label="ρ(untied input, untied output)",
         ls="--")
    ax.set_xlabel("training step")
    ax.set_ylabel("Spearman ρ of pairwise cosines")
    ax.set_ylim(-0.1, 1.0)
    n = result.arrays["snap_rho_tied_out"].shape[0]
    ax.set_title(f"Similarity structure of the tied matrix along training ({n} seeds, 95% band)")
    ax.legend(fontsize=8, loc="center right")
    return fig
