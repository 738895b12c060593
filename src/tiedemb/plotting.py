"""One function per figure, one shared style.

Each figure function takes a :class:`~tiedemb.results.Result` (and optionally an ``ax``) and returns a matplotlib
``Figure``. :data:`FIGURES` maps each experiment name to its figure functions; the CLI uses it to write PNG and PDF
files. Nothing in the package imports this module except the CLI; notebooks call it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .results import Result

FigureFn = Callable[..., Figure]
FIGURES: dict[str, list[FigureFn]] = {}
"""Experiment name → its figure functions, in the order the chapter shows them."""

COLORS = {"in": "#1b9e77", "out": "#d95f02", "tied": "#7570b3", "tied_input_role": "#e7298a", "control": "#666666"}
LABELS = {"in": "untied input $E_{in}$", "out": "untied output $E_{out}$", "tied": "tied $S$",
          "tied_input_role": "tied $S$, input role"}

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
    "legend.frameon": False,
})


def figure(name: str) -> Callable[[FigureFn], FigureFn]:
    """Register a figure function for experiment ``name``."""

    def wrap(fn: FigureFn) -> FigureFn:
        FIGURES.setdefault(name, []).append(fn)
        return fn

    return wrap


def _axes(ax=None, size=(6.0, 3.6)):
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


def band(ax, x: np.ndarray, runs: np.ndarray, *, color: str, label: str, **kw) -> None:
    """Mean over runs (rows) with a 95% normal band when there is more than one run."""
    runs = np.atleast_2d(runs)
    mean = runs.mean(axis=0)
    ax.plot(x, mean, color=color, label=label, **kw)
    if runs.shape[0] > 1:
        half = 1.96 * runs.std(axis=0, ddof=1) / np.sqrt(runs.shape[0])
        ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.2, linewidth=0)


def save_figures(result: Result, folder: Path) -> list[Path]:
    """Write every figure of ``result``'s experiment as PNG and PDF into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fn in FIGURES.get(result.name, []):
        fig = fn(result)
        stem = fn.__name__.removeprefix("plot_")
        for ext in ("png", "pdf"):
            path = folder / f"{stem}.{ext}"
            fig.savefig(path, bbox_inches="tight")
            paths.append(path)
        plt.close(fig)
    return paths


# --------------------------------------------------------------------------------------------------------------------
# Gradient chapter


@figure("grad-check")
def plot_gradient_errors(result: Result, ax=None) -> Figure:
    """Largest absolute error of each gradient identity, per architecture (float64; log scale)."""
    fig, ax = _axes(ax, (6.4, 3.2))
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
    fig, ax = _axes(ax)
    freq = result.arrays["frequency"]
    order = np.argsort(freq)
    for key in ("out", "tied", "in", "tied_input_role"):
        y = result.arrays[f"update_fraction_{key}"].mean(axis=0)
        ax.plot(freq[order], y[order], ".", ms=3, color=COLORS[key], label=LABELS[key], alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("word frequency in the training text")
    ax.set_ylabel("fraction of steps the row is updated")
    ax.set_title("Rows updated per minibatch: output role every step, input role only when present")
    ax.legend(fontsize=8, loc="center right", markerscale=3)
    return fig


@figure("grad-update-rule")
def plot_displacement(result: Result, ax=None) -> Figure:
    """How far each row moved from its initial value by the end of training, against word frequency."""
    fig, ax = _axes(ax)
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
    fig, ax = _axes(ax)
    step = result.arrays["snap_step"][0]
    band(ax, step, result.arrays["snap_rho_tied_out"], color=COLORS["out"], label="ρ(tied, untied output)")
    band(ax, step, result.arrays["snap_rho_tied_in"], color=COLORS["in"], label="ρ(tied, untied input)")
    band(ax, step, result.arrays["snap_rho_in_out"], color=COLORS["control"], label="ρ(untied input, untied output)",
         ls="--")
    ax.set_xlabel("training step")
    ax.set_ylabel("Spearman ρ of pairwise cosines")
    ax.set_ylim(-0.1, 1.0)
    n = result.arrays["snap_rho_tied_out"].shape[0]
    ax.set_title(f"The tied matrix evolves like the output embedding ({n} seeds, 95% band)")
    ax.legend(fontsize=8, loc="center right")
    return fig
