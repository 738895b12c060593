"""Figures of the MLM twins chapter (Bertolotti & Cazzola, MLM experiment)."""

from __future__ import annotations

import matplotlib
import matplotlib.patches
import numpy as np
from matplotlib.figure import Figure

from ...experiments.bertolotti.mlm import rank_band
from ...experiments.bertolotti.mlm_sweep import point_label
from ...results import Result
from .. import COLORS, axes_or_new, band, figure, new_figure, step_axis

PANELS = (("untied", "in", "✗ weight tying (input embeddings)"),
          ("untied", "out", "✗ weight tying (output embeddings)"),
          ("tied", "in", "✓ weight tying"))
VARIANT_TITLES = {"dh": "✓DH twins (swap 0.5)", "ndh": "✗DH twins (swap 0.1)"}
TWIN_COLOR, RANDOM_COLOR = "#7570b3", "#666666"


def _panels(ax, nrows: int, ncols: int, size: tuple[float, float], **kw) -> tuple[Figure, np.ndarray]:
    """A new figure of ``nrows`` × ``ncols`` panels (:func:`new_figure`), or the given axes (as many), as a grid."""
    if ax is None:
        fig, axes = new_figure(size, nrows, ncols, squeeze=False, **kw)
        return fig, axes
    axes = np.asarray(ax, dtype=object).ravel()
    if len(axes) != nrows * ncols:
        raise ValueError(f"this figure draws {nrows * ncols} panels; got {len(axes)} axes")
    return axes[0].figure, axes.reshape(nrows, ncols)


def _pairs_band(ax, step: np.ndarray, runs: np.ndarray, *, color: str, label: str) -> None:
    """Mean over pairs (and seeds) with a 95% band over the pairs: runs is (seeds, checkpoints, pairs)."""
    per_pair = runs.transpose(0, 2, 1).reshape(-1, runs.shape[1])  # (seeds × pairs, checkpoints)
    band(ax, step, per_pair, color=color, label=label)


def random_pairs_label(result: Result) -> str:
    """What the control pairs are: random pairs among the twinned words (the most frequent, or a band of ranks)."""
    rank, n = result.config.get("twin_rank", 0), result.config["n_twins"]
    return "random pairs of common words" if not rank else f"random pairs of words ranked {rank_band(rank, n)}"


def _distance_grid(result: Result, variants: tuple[str, ...], ax=None) -> Figure:
    fig, axes = _panels(ax, len(variants), 3, (9.6, 2.9 * len(variants)), sharey=True)
    step = result.arrays["step"]
    top = max(float(result.arrays[f"{v}_{m}_{k}_{r}"].mean(axis=(0, 2)).max())
              for v in variants for m, r, _ in PANELS for k in ("twin", "rand"))
    for row, v in enumerate(variants):
        for col, (model, role, title) in enumerate(PANELS):
            ax = axes[row, col]
            _pairs_band(ax, step, result.arrays[f"{v}_{model}_twin_{role}"], color=TWIN_COLOR,
                        label=f"twin pairs ({'✓' if v == 'dh' else '✗'} distributional hyp.)")
            _pairs_band(ax, step, result.arrays[f"{v}_{model}_rand_{role}"], color=RANDOM_COLOR,
                        label=random_pairs_label(result))
            ax.set_title(f"{VARIANT_TITLES[v]}\n{title}", fontsize=9)
            ax.set_ylim(0, 1.15 * top)
            step_axis(ax)
            if row < len(variants) - 1:
                ax.set_xlabel("")
            if col == 0:
                ax.set_ylabel("Euclidean distance")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    return fig


@figure("mlm-twins")
@figure("mlm-twins-mid")
def plot_twin_distances(result: Result, ax=None) -> Figure:
    """Twin pairs vs random pairs of common words along training: untied input, untied output, tied (✓DH twins).

    Args:
        ax: None, or 3 axes to draw into.
    """
    return _distance_grid(result, ("dh",), ax)


@figure("mlm-twins")
@figure("mlm-twins-mid")
def plot_twin_distances_ndh(result: Result, ax=None) -> Figure:
    """The same three panels for ✓DH twins (swap 0.5, top) and ✗DH twins (swap 0.1, bottom).

    Args:
        ax: None, or 6 axes to draw into (row by row).
    """
    return _distance_grid(result, ("dh", "ndh"), ax)


@figure("mlm-twins")
@figure("mlm-twins-mid")
def plot_twin_ratio(result: Result, ax=None) -> Figure:
    """Mean twin distance divided by mean random-pair distance along training, for each embedding and variant."""
    fig, ax = axes_or_new(ax, (6.4, 3.4))
    step = result.arrays["step"]
    colors = {"untied_in": COLORS["in"], "untied_out": COLORS["out"], "tied_in": COLORS["tied"]}
    names = {"untied_in": "untied input", "untied_out": "untied output", "tied_in": "tied"}
    for v, ls in (("dh", "-"), ("ndh", "--")):
        for model, role, _ in PANELS:
            twin = result.arrays[f"{v}_{model}_twin_{role}"].mean(axis=2)  # (seeds, checkpoints)
            rand = result.arrays[f"{v}_{model}_rand_{role}"].mean(axis=2)
            band(ax, step, twin / rand, color=colors[f"{model}_{role}"], ls=ls,
                 label=f"{names[f'{model}_{role}']}, {'✓DH' if v == 'dh' else '✗DH'}")
    ax.axhline(1.0, color="k", lw=0.8)
    step_axis(ax)
    ax.set_ylabel("twin distance / random-pair distance")
    ax.set_title("Twins relative to random pairs (1 = no closer than random)")
    ax.legend(fontsize=8, ncol=2)
    return fig


@figure("mlm-twins")
@figure("mlm-twins-mid")
def plot_accuracy_loss(result: Result, ax=None) -> Figure:
    """Masked-token validation accuracy and loss along training, tied vs untied, for both variants.

    Args:
        ax: None, or 2 axes to draw into (accuracy, loss).
    """
    fig, grid = _panels(ax, 1, 2, (9.6, 3.2))
    axes = grid[0]
    step = result.arrays["step"]
    for v, ls in (("dh", "-"), ("ndh", "--")):
        for model, color in (("untied", COLORS["in"]), ("tied", COLORS["tied"])):
            lab = f"{'✓' if model == 'tied' else '✗'} weight tying, {'✓DH' if v == 'dh' else '✗DH'} twins"
            band(axes[0], step, result.arrays[f"{v}_{model}_valid_acc"], color=color, ls=ls, label=lab)
            band(axes[1], step, result.arrays[f"{v}_{model}_valid_loss"], color=color, ls=ls, label=lab)
    axes[0].set_ylabel("masked-token accuracy")
    axes[1].set_ylabel("masked-token cross-entropy")
    for a, title in zip(axes, ("Accuracy (validation)", "Loss (validation)"), strict=True):
        step_axis(a)
        a.set_title(title)
    axes[0].legend(fontsize=8)
    return fig


@figure("mlm-twins")
def plot_diagnosis(result: Result, ax=None) -> Figure:
    """The diagnostic before training beside the trained untied embeddings: for every pair, how far its divergence
    lies above the permutation null (x) and how far apart its rows end (y); D∼ with the output embedding, D≡ with the
    input embedding.

    Args:
        ax: None, or 2 axes to draw into (D∼, D≡).
    """
    fig, grid = _panels(ax, 1, 2, (9.6, 3.6))
    axes = grid[0]
    sets = (("dh", "twin", TWIN_COLOR, "o", "✓DH twins (swap 0.5)"),
            ("ndh", "twin", "#d95f02", "s", "✗DH twins (swap 0.1)"),
            ("dh", "rand", RANDOM_COLOR, "^", "random pairs of common words"))
    for a, (div, role, name) in zip(axes, (("cond", "out", "D∼"), ("sem", "in", "D≡")), strict=True):
        for v, kind, color, marker, label in sets:
            excess = (result.arrays[f"{v}_diag_{kind}_d_{div}"] - result.arrays[f"{v}_diag_{kind}_d_{div}_null"])
            dist = result.arrays[f"{v}_untied_{kind}_{role}"][:, -1]  # (seeds, pairs) at the end of training
            a.scatter(excess.ravel(), dist.ravel(), s=12, color=color, marker=marker, alpha=0.7, label=label)
        a.axvline(0.0, color="k", lw=0.8)
        a.set_xlabel(f"{name} − its permutation null (from the text, before training)")
        a.set_ylabel(f"final distance, untied {'output' if role == 'out' else 'input'} embedding")
        a.set_title(f"{name} against the {'output' if role == 'out' else 'input'} embedding", fontsize=10)
    axes[0].legend(fontsize=8)
    return fig


MOTION_PARTS = (("decay", "weight decay", "#1b9e77", ":"), ("pull", "update along the gap", "#d95f02", "--"),
                ("spread", "update across the gap", "#e7298a", "-."))


@figure("mlm-twins")
@figure("mlm-twins-mid")
def plot_twin_motion(result: Result, ax=None) -> Figure:
    """Where the ✓DH twins' distance change comes from: its three parts (weight decay, the gradient's pull along the
    gap, the update across the gap), summed from the start, for each embedding; random pairs' net change for reference.

    Args:
        ax: None, or 3 axes to draw into.
    """
    fig, axes = _panels(ax, 1, 3, (9.6, 3.6), sharey=True)
    step = result.arrays["step"]
    for col, (model, role, title) in enumerate(PANELS):
        ax = axes[0, col]
        for q, label, color, style in MOTION_PARTS:
            run = result.arrays[f"dh_{model}_motion_twin_{role}_{q}"].cumsum(axis=1)  # (seeds, evaluations, pairs)
            ax.plot(step, run.mean(axis=(0, 2)), color=color, ls=style, label=label)
        for kind, color, label in (("twin", TWIN_COLOR, "twin pairs: net change"),
                                   ("rand", RANDOM_COLOR, "random pairs: net change")):
            _pairs_band(ax, step, result.arrays[f"dh_{model}_motion_{kind}_{role}_change"].cumsum(axis=1),
                        color=color, label=label)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(f"{VARIANT_TITLES['dh']}\n{title}", fontsize=9)
        step_axis(ax)
        if col == 0:
            ax.set_ylabel("distance change since step 0")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=3, frameon=False)
    return fig


SWEEP_PANELS = (("in", "✗ weight tying (input embeddings)"), ("out", "✗ weight tying (output embeddings)"),
                ("tied", "✓ weight tying"))


@figure("mlm-twins-sweep")
def plot_twin_sweep(result: Result, ax=None) -> Figure:
    """The twin/random distance ratio at every point of the sweep, one panel per embedding, one above the other (the
    point labels are long): each seed (dots) and their mean (bar); the dashed line is the "close" criterion, the solid
    line 1 (no closer than random pairs).

    Args:
        ax: None, or 3 axes to draw into.
    """
    rows = result.metrics["points"]
    fig, axes = _panels(ax, 3, 1, (8.5, 3 * (0.75 + 0.3 * len(rows))), sharex=True, sharey=True)
    y = np.arange(len(rows))[::-1]
    cheapest = result.metrics["cheapest_close"]
    for col, (e, title) in enumerate(SWEEP_PANELS):
        a = axes[col, 0]
        for yi, (i, row) in zip(y, enumerate(rows), strict=True):
            seeds = np.array([np.nan if r is None else r for r in row["ratio"][e]])  # None: the seed diverged
            color = TWIN_COLOR if row["swap"] == 0.5 else "#d95f02"
            if row["ratio_mean"][e] is not None:
                a.barh(yi, row["ratio_mean"][e], color=color, alpha=0.25 if i != cheapest else 0.6, height=0.7)
            a.scatter(seeds, np.full(len(seeds), yi), s=12, color=color, zorder=3)
            if np.isnan(seeds).any():
                a.annotate(f"{int(np.isnan(seeds).sum())} of {len(seeds)} seeds diverged", (0, yi), xytext=(2, 0),
                           textcoords="offset points", va="center", fontsize=7)
        a.axvline(1.0, color="k", lw=0.8)
        a.axvline(result.metrics["close"], color="k", lw=0.8, ls="--")
        a.set_title(title, fontsize=9)
        a.set_xlim(left=0)
        a.set_yticks(y, [point_label(r) for r in rows], fontsize=8)
        a.tick_params(axis="x", labelbottom=True)
    axes[-1, 0].set_xlabel("twin / random-pair distance")
    return fig


CLOSE_FRAME = "#e41a1c"
"""The frame of a cell whose ratio meets the "close" criterion (:func:`plot_twin_sweep_surface`)."""


def surface_grids(rows: list[dict]) -> list[tuple[str, str, str, list[int]]]:
    """The sweep's grids for :func:`plot_twin_sweep_surface`: among the ✓DH points that twin the most frequent words
    and train for their most common number of steps (the fewest on a tie), the AdamW points for each initial σ (peak
    learning rate × weight decay) and the SGD points (learning rate × σ). Each grid is ``(title, row field, column
    field, point indices)``; the values come from the points, nothing is assumed about the grid."""
    top = [i for i, r in enumerate(rows) if r["twin_rank"] == 0 and r["swap"] == 0.5]
    if not top:
        return []
    steps = [rows[i]["steps"] for i in top]
    base = max(set(steps), key=lambda s: (steps.count(s), -s))
    keep = [i for i in top if rows[i]["steps"] == base]
    grids = []
    for sigma in sorted({rows[i]["init_std"] for i in keep if rows[i]["optimizer"] == "adamw"}):
        idx = [i for i in keep if rows[i]["optimizer"] == "adamw" and rows[i]["init_std"] == sigma]
        grids.append((f"AdamW, σ {sigma:g}, {base:,} steps", "lr", "weight_decay", idx))
    sgd = [i for i in keep if rows[i]["optimizer"] == "sgd"]
    if sgd:
        grids.append((f"SGD, {base:,} steps", "lr", "init_std", sgd))
    return grids


@figure("mlm-twins-sweep")
def plot_twin_sweep_surface(result: Result, ax=None) -> Figure:
    """The sweep as surfaces: for each grid of :func:`surface_grids` (one row of panels) and each embedding (one
    column), the twin/random distance ratio (mean over seeds) in a cell per setting, with its value written in; a
    ratio at or below the "close" criterion is framed, a point at which a seed diverged is marked.

    Args:
        ax: None, or 3 × (number of grids) axes to draw into.
    """
    rows, close = result.metrics["points"], result.metrics["close"]
    grids = surface_grids(rows)
    if not grids:  # e.g. a sweep of mid-frequency twins only: nothing to draw as a surface
        fig, a = axes_or_new(None if ax is None else np.asarray(ax, dtype=object).ravel()[0], (6.0, 1.2))
        a.text(0.5, 0.5, "no ✓DH points of the most frequent words: no surface to draw", ha="center", va="center")
        a.set_axis_off()
        return fig
    fig, axes = _panels(ax, len(grids), 3, (10.5, 2.6 * len(grids)))
    means = [r["ratio_mean"][e] for r in rows for e, _ in SWEEP_PANELS if r["ratio_mean"][e] is not None]
    vmax = max([1.2, *means])
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    image = None
    for g, (title, yfield, xfield, idx) in enumerate(grids):
        ys = sorted({rows[i][yfield] for i in idx})
        xs = sorted({rows[i][xfield] for i in idx})
        for col, (e, panel) in enumerate(SWEEP_PANELS):
            a = axes[g, col]
            grid = np.full((len(ys), len(xs)), np.nan)
            for i in idx:
                value = rows[i]["ratio_mean"][e]
                y, x = ys.index(rows[i][yfield]), xs.index(rows[i][xfield])
                grid[y, x] = np.nan if value is None else value
                diverged = any(v is None for v in rows[i]["ratio"][e])
                text = "diverged" if value is None else f"{value:.2f}" + ("*" if diverged else "")
                a.text(x, y, text, ha="center", va="center", fontsize=8,
                       color="white" if value is not None and value < 0.6 * vmax else "black")
                if value is not None and value <= close:
                    a.add_patch(matplotlib.patches.Rectangle((x - 0.45, y - 0.45), 0.9, 0.9, fill=False, lw=2,
                                                             edgecolor=CLOSE_FRAME))  # inside the cell
            image = a.imshow(grid, cmap=cmap, vmin=0, vmax=vmax, origin="lower", aspect="auto")
            a.grid(False)
            a.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], fontsize=8)
            a.set_yticks(range(len(ys)), [f"{v:g}" for v in ys], fontsize=8)
            a.set_xlabel({"weight_decay": "weight decay", "init_std": "initial σ"}[xfield], fontsize=8)
            a.set_ylabel("learning rate" if col == 0 else "", fontsize=8)
            a.set_title(f"{title}\n{panel}", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label=f"twin / random-pair distance (framed: ≤ {close:g})")
    return fig
