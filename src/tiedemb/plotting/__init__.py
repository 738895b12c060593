"""Figures: one function per figure, one shared style, one module per chapter group.

Each figure function takes a :class:`~tiedemb.results.Result` (and optionally an ``ax``) and returns a matplotlib
``Figure``. :data:`FIGURES` maps each experiment name to its figure functions; the CLI uses it to write PNG and PDF
files. Nothing in the package imports this module except the CLI; notebooks call it directly.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt  # rcParams; in a notebook, importing pyplot also enables inline display
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

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


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _register_notebook_display() -> None:
    """In IPython, show a returned Figure as a PNG (figures here are not pyplot-managed, so none shows twice)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, _png)


_register_notebook_display()


def figure(name: str) -> Callable[[FigureFn], FigureFn]:
    """Register a figure function for experiment ``name``."""

    def wrap(fn: FigureFn) -> FigureFn:
        FIGURES.setdefault(name, []).append(fn)
        return fn

    return wrap


def new_figure(size=(6.0, 3.6), nrows: int = 1, ncols: int = 1, **kw):
    """A new figure and its axes: THE way every figure of the package is made.

    Made with pyplot (so that notebooks render it with the inline backend's settings) and released from pyplot at
    once, so a notebook shows it exactly once, as the cell's value, under jupyter-execute and nbval alike.
    """
    fig, axes = plt.subplots(nrows, ncols, figsize=size, layout="constrained", **kw)
    plt.close(fig)
    return fig, axes


def axes_or_new(ax=None, size=(6.0, 3.6)):
    """The given axes and its figure, or a new single-axes figure of ``size`` (:func:`new_figure`)."""
    if ax is None:
        return new_figure(size)
    return ax.figure, ax


def band(ax, x: np.ndarray, runs: np.ndarray, *, color: str, label: str, **kw) -> None:
    """Mean over runs (rows) with a 95% normal band when there is more than one run."""
    runs = np.atleast_2d(runs)
    mean = runs.mean(axis=0)
    ax.plot(x, mean, color=color, label=label, **kw)
    if runs.shape[0] > 1:
        half = 1.96 * runs.std(axis=0, ddof=1) / np.sqrt(runs.shape[0])
        ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.2, linewidth=0)


def _steps_label(x: float, _pos=None) -> str:
    return f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"


def step_axis(ax) -> None:
    """Label a training-step x-axis "step" with compact ticks (25k rather than 25000), so that panels stay legible
    side by side."""
    ax.xaxis.set_major_formatter(FuncFormatter(_steps_label))
    ax.set_xlabel("step")


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
    return paths




# Each chapter group's figures register themselves on import.
from .bertolotti import diagnose, mlm, theorems, xor  # noqa: E402, F401
from .cho import token_probability  # noqa: E402, F401
from .press_wolf import gradients, language_models, translation  # noqa: E402, F401
from .yamagiwa import norm_variance  # noqa: E402, F401
