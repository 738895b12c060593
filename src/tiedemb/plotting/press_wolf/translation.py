"""Figure of the translation section (Press & Wolf 2017, Table 8 in shape). Titles describe what is drawn."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...experiments.press_wolf.translation import TYING_NAMES, TYINGS
from ...results import Result
from .. import axes_or_new, band, figure, step_axis

TYING_COLORS = {"none": "#444444", "decoder": "#7570b3", "three-way": "#1b9e77"}


@figure("pw-translation")
def plot_translation_loss(result: Result, ax=None) -> Figure:
    """Training cross-entropy of the three models (a moving average over 25 steps; band over seeds when several)."""
    fig, ax = axes_or_new(ax, (6.0, 3.2))
    for k in TYINGS:
        runs = np.atleast_2d(result.arrays[f"loss_{k.replace('-', '_')}"])
        width = min(25, runs.shape[1])
        smooth = np.stack([np.convolve(r, np.ones(width) / width, mode="valid") for r in runs])
        band(ax, np.arange(smooth.shape[1]) + width, smooth, color=TYING_COLORS[k], label=TYING_NAMES[k])
    ax.set_yscale("log")
    step_axis(ax)
    ax.set_ylabel("training cross-entropy (nats)")
    ax.legend(fontsize=8)
    ax.set_title("Toy translation: training loss of the three models")
    return fig
