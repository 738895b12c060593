"""Figures: one function per figure, one shared style, one module per chapter group.

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

from ..results import Result

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




# Each chapter group's figures register themselves on import.
from . import gradients  # noqa: E402, F401, I001
from . import mlm  # noqa: E402, F401
