"""Figures of the XOR chapter (Bertolotti & Cazzola): the four panels of a configuration, and the summary."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...experiments.bertolotti.xor import CONFIGS, dh_label, final_values, other_bodies_status, pairs_of
from ...experiments.bertolotti.xor_sweep import BAYES_MARGIN, lr_curve, point_words, reaches_bayes
from ...results import Result
from .. import COLORS, axes_or_new, band, figure, new_figure, step_axis

PAIR_COLORS = {"01": "#c0392b", "23": "#2471a3", "control": COLORS["control"]}
VARIANT_COLORS = {"untied": "#1b9e77", "tied": "#7570b3"}
PANEL_TITLES = {"in": "✗ weight tying (input embeddings)", "out": "✗ weight tying (output embeddings)",
                "tied": "✓ weight tying"}


def _pair_color(setting: str, pair: str) -> str:
    if pair == "23" and setting == "ndh":
        return PAIR_COLORS["01"]  # the ✗DH colour
    return PAIR_COLORS[pair]


def plot_accuracy(result: Result, ax=None) -> Figure:
    """Accuracy at the masked position, untied vs tied (mean and 95% band over seeds), with the Bayes line."""
    fig, ax = axes_or_new(ax, (4.2, 3.2))
    step = result.arrays["eval_step"]
    for v, label in (("untied", "✗ weight tying"), ("tied", "✓ weight tying")):
        band(ax, step, result.arrays[f"acc_{v}"], color=VARIANT_COLORS[v], label=label)
    ax.axhline(result.metrics["bayes_accuracy"], color="k", ls="--", lw=1,
               label=f"Bayes {result.metrics['bayes_accuracy']:.3f}")
    ax.axhline(result.metrics["marginal_accuracy"], color="k", ls=":", lw=1,
               label=f"marginal {result.metrics['marginal_accuracy']:.3f}")
    ax.set_ylim(0.3, 1.0)
    step_axis(ax)
    ax.set_ylabel("accuracy (masked bit)")
    ax.set_title("Accuracy")
    ax.legend(fontsize=8, loc="upper right", ncols=2)  # above the Bayes line, where no curve goes
    return fig


def plot_distances(result: Result, matrix: str, ax=None) -> Figure:
    """Distance between the two embeddings of each pair in one matrix (``in``, ``out`` or ``tied``) over training."""
    fig, ax = axes_or_new(ax, (4.2, 3.2))
    setting = result.config["setting"]
    step = result.arrays["record_step"]
    d = result.arrays[f"dist_{matrix}"]  # (seeds, T, V, V)
    for pair, (a, b) in pairs_of(setting).items():
        band(ax, step, d[:, :, a, b], color=_pair_color(setting, pair), label=dh_label(setting, pair),
             ls="--" if pair == "control" else "-")
    ax.set_ylim(bottom=0)
    step_axis(ax)
    ax.set_ylabel("Euclidean distance")
    ax.set_title(PANEL_TITLES[matrix])
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_xor_panels(result: Result, ax=None) -> Figure:
    """The four panels of one configuration, two by two so that they stay legible at the book's text width:
    accuracy and untied input distances above, untied output and tied distances below.

    Args:
        ax: None, or a sequence of 4 axes to draw into.
    """
    if ax is None:
        fig, axes = new_figure((8.4, 6.4), 2, 2)
        axes = axes.ravel()
    else:
        axes = np.asarray(ax).ravel()
        if len(axes) != 4:
            raise ValueError(f"plot_xor_panels draws 4 panels; got {len(axes)} axes")
        fig = axes[0].figure
    plot_accuracy(result, axes[0])
    for axis, matrix in zip(axes[1:], ("in", "out", "tied"), strict=True):
        plot_distances(result, matrix, axis)
    top = max(axis.get_ylim()[1] for axis in axes[1:])
    for axis in axes[1:]:
        axis.set_ylim(0, top)
    n = result.arrays["acc_untied"].shape[0]
    fig.suptitle(f"{result.name} ({n} seeds × untied/tied, mean and 95% band)", fontsize=10)
    return fig


for _name in CONFIGS:
    figure(_name)(plot_xor_panels)


def plot_bodies_panels(results: list[Result]) -> Figure:
    """The four panels (:func:`plot_xor_panels`) of several configurations, one pair of rows per configuration."""
    if not results:
        raise ValueError("plot_bodies_panels needs at least one result")
    fig, axes = new_figure((8.4, 6.4 * len(results)), 2 * len(results), 2)
    for i, r in enumerate(results):
        plot_xor_panels(r, axes[2 * i : 2 * i + 2])
        n = r.arrays["acc_untied"].shape[0]
        axes[2 * i, 0].set_title(f"{r.name}: accuracy ({n} seeds × untied/tied)", fontsize=9)
    fig.suptitle("mean and 95% band over seeds", fontsize=10)
    return fig


@figure("xor-other-bodies")
def plot_other_bodies(result: Result, ax=None) -> Figure:
    """Final distances of the pairs (0,1) and (2,3) in the untied output and tied matrices, per configuration; a
    configuration whose untied models did not learn the task (not scored by B-E7) is marked under its name."""
    fig, ax = axes_or_new(ax, (7, 3.2))
    rows = result.metrics["per_config"]
    status = other_bodies_status(result.metrics)
    keys = [("out01", "output (0,1) ✗DH", "#c0392b", ""), ("out23", "output (2,3) ✓DH", "#2471a3", ""),
            ("tied01", "tied (0,1) ✗DH", "#c0392b", "//"), ("tied23", "tied (2,3) ✓DH", "#2471a3", "//")]
    x = np.arange(len(rows))
    width = 0.2
    for i, (key, label, color, hatch) in enumerate(keys):
        ax.bar(x + (i - 1.5) * width, [r["dist"][key] for r in rows.values()], width, label=label, color=color,
               hatch=hatch, alpha=0.8 if hatch else 1.0, edgecolor="white")
    ticks = [n.removeprefix("xor-") + ("" if status[n]["learned"] else "\n(task not learned)") for n in rows]
    ax.set_xticks(x, ticks)
    ax.set_ylabel("final distance")
    ax.set_title("Other bodies: final pair distances")
    ax.legend(fontsize=7, ncols=2)
    return fig


def plot_runs_with_lr(ax, step: np.ndarray, acc: np.ndarray, lr: np.ndarray, *, bayes: float, marginal: float,
                      title: str) -> None:
    """Every untied run's accuracy over training (a line per seed; those that reach the Bayes accuracy,
    :func:`~tiedemb.experiments.bertolotti.xor_sweep.reaches_bayes`, in colour, the others grey) with the
    learning-rate schedule shaded behind."""
    lr_ax = ax.twinx()
    lr_ax.fill_between(step, 0, lr, color="#f0b27a", alpha=0.35, linewidth=0)
    lr_ax.set_ylim(0, lr.max() * 1.05)
    lr_ax.set_ylabel("learning rate", color="#ca6f1e", fontsize=8)
    lr_ax.tick_params(axis="y", labelsize=7, colors="#ca6f1e")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    lr_ax.grid(False)
    ax.set_zorder(lr_ax.get_zorder() + 1)  # the runs above the shading
    ax.patch.set_visible(False)
    for run, reached in zip(acc, reaches_bayes(final_values(acc), bayes), strict=True):
        ax.plot(step, run, lw=0.9, color=VARIANT_COLORS["untied"] if reached else "#999999",
                alpha=0.9 if reached else 0.7)
    ax.axhline(bayes, color="k", ls="--", lw=1)
    ax.axhline(marginal, color="k", ls=":", lw=1)
    ax.set_ylim(0.3, 1.0)
    step_axis(ax)
    ax.set_ylabel("untied accuracy")
    ax.set_title(title, fontsize=9)


@figure("xor-lr-sweep")
def plot_lr_sweep(result: Result, ax=None) -> Figure:
    """One panel per optimiser setting: each untied run's accuracy (coloured: it ends within the margin of the Bayes
    accuracy, dashed line; grey: it does not; dotted: the marginal level) over the learning-rate schedule."""
    m = result.metrics
    rows = m["points"]
    ncols = min(2, len(rows))  # two panels a row: legible at the book's text width
    nrows = -(-len(rows) // ncols)
    if ax is None:
        fig, axes = new_figure((4.2 * ncols + 0.6, 3.0 * nrows), nrows, ncols, squeeze=False)
        axes = axes.ravel()
    else:
        axes = np.asarray(ax).ravel()
        fig = axes[0].figure
    for i, row in enumerate(rows):
        plot_runs_with_lr(axes[i], result.arrays["eval_step"], result.arrays[f"acc_untied.{i}"],
                          result.arrays[f"lr.{i}"], bayes=m["bayes_accuracy"], marginal=m["marginal_accuracy"],
                          title=f"{point_words(row, short=True)}: {row['n_reach']}/{row['n_runs']} reach")
    for axis in axes[len(rows):]:
        axis.set_visible(False)
    fig.suptitle(f"Untied runs per optimiser setting ({result.config['scale']} scale; dashed: Bayes "
                 f"{m['bayes_accuracy']:.3f}, dotted: marginal {m['marginal_accuracy']:.3f})", fontsize=10)
    return fig


@figure("xor-transformer-small")
def plot_plateau_escapes(result: Result, ax=None) -> Figure:
    """Each untied seed's accuracy over training with the learning-rate schedule behind it: when do runs leave the
    marginal plateau, and at what learning rate?"""
    fig, ax = axes_or_new(ax, (7.5, 3.2))
    step = result.arrays["eval_step"]
    m = result.metrics
    acc = result.arrays["acc_untied"]
    n_reach = int(reaches_bayes(final_values(acc), m["bayes_accuracy"]).sum())
    plot_runs_with_lr(ax, step, acc, lr_curve(result.config, step), bayes=m["bayes_accuracy"],
                      marginal=m["marginal_accuracy"],
                      title=f"{result.name} ({result.config['scale']} scale): each untied seed; {n_reach} of "
                            f"{len(acc)} end within {BAYES_MARGIN} of the Bayes accuracy (dashed)")
    return fig
