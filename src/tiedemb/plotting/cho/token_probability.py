"""Figures of the token-probability-encoding chapter (Cho et al., COLING 2025): the encoding fit, PCA and sparsity
(Figs. 1–4), steering (Figs. 5, 6), deletion (Fig. 7) and training dynamics (Fig. 8)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...results import Result
from .. import axes_or_new, figure, new_figure, step_axis

TEXT_COLORS = {"estimation": "#1b9e77", "held_out": "#d95f02", "ood": "#7570b3"}
TEXT_LABELS = {"estimation": "estimation text D", "held_out": "held-out text", "ood": "out-of-distribution text"}
ORDER_COLORS = {"increasing": "#1a7f37", "random": "#666666", "decreasing": "#cf222e"}
WIDTH_COLORS = ["#1b9e77", "#d95f02", "#7570b3"]
GROUP_COLORS = {"emb_in": "#1b9e77", "pos": "#a6761d", "emb_out": "#d95f02", "norm": "#666666"}


@figure("tpe-encoding")
def plot_encoding_fit(result: Result, ax=None) -> Figure:
    """Fig. 2: −log α_w against its held-out prediction A·E_out,w + B (each token predicted by a fit without its
    fold)."""
    fig, ax = axes_or_new(ax, (4.6, 4.2))
    y, p = result.arrays["y"], result.arrays["pred_cv"]
    ax.scatter(y, p, s=5, alpha=0.5, linewidths=0, color="#d95f02")
    lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], color="#333333", lw=1, ls="--", label="y = x")
    s = result.metrics["models"][result.metrics["subject"]]
    ax.set_xlabel("−log α_w (measured)")
    ax.set_ylabel("A·E_out,w + B (held-out prediction)")
    ax.set_title(f"held-out R² {s['r2_cv']:.3f}, Spearman {s['spearman_cv']:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


@figure("tpe-encoding")
def plot_pca(result: Result, ax=None) -> Figure:
    """Figs. 1, 3: the output embeddings on their first two principal components, coloured by the rank percentile
    of α_w (1 = most probable)."""
    fig, ax = axes_or_new(ax, (5.2, 4.2))
    xy, y = result.arrays["pca"], result.arrays["y"]
    pct = 1 - np.argsort(np.argsort(y)) / (len(y) - 1)  # y = −log α: small y = probable = high percentile
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=pct, cmap="viridis", s=5, alpha=0.8, linewidths=0)
    fig.colorbar(sc, ax=ax, label="rank percentile of α_w")
    share = result.metrics["models"][result.metrics["subject"]]["pca_share"]
    ax.set_xlabel(f"PC1 ({share[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC2 ({share[1]:.0%})")
    return fig


@figure("tpe-encoding")
def plot_sparsity(result: Result, ax=None) -> Figure:
    """Fig. 4: |A_i| sorted (left), and held-out R² using only the top-k dimensions by |A| against k, beside random
    k-subsets (right)."""
    fig, axes = new_figure((8.4, 3.4), 1, 2) if ax is None else (ax[0].figure, ax)
    a = np.sort(np.abs(result.arrays["A"]))[::-1]
    axes[0].bar(np.arange(1, len(a) + 1), a, color="#d95f02", width=0.9)
    axes[0].set_xlabel("dimension (sorted by |A_i|)")
    axes[0].set_ylabel("|A_i|")
    ks = result.arrays["sparsity_k"]
    axes[1].plot(ks, result.arrays["sparsity_top"], "o-", color="#d95f02", label="top-k by |A|")
    axes[1].plot(ks, result.arrays["sparsity_random"], "s--", color="#666666", label="random k (mean)")
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("k dimensions used")
    axes[1].set_ylabel("held-out R²")
    axes[1].legend(fontsize=8)
    return fig


@figure("tpe-encoding")
def plot_ablations(result: Result, ax=None) -> Figure:
    """The encoding in the three models: held-out R², Spearman and cos(A, −h̄) for untied, tied and output bias."""
    fig, ax = axes_or_new(ax, (6.0, 3.2))
    models = result.metrics["models"]
    keys = list(models)
    stats = [("r2_cv", "held-out R²"), ("spearman_cv", "Spearman"), ("cos_A_neg_hbar", "cos(A, −h̄)")]
    width = 0.8 / len(stats)
    for i, (k, label) in enumerate(stats):
        ax.bar(np.arange(len(keys)) + (i - 1) * width, [models[m][k] for m in keys], width, label=label)
    ax.set_xticks(np.arange(len(keys)), [{"main": "untied, no bias (main)", "tied": "tied",
                                          "bias": "untied + output bias"}.get(k, k) for k in keys], fontsize=8)
    ax.set_ylim(min(0, min(models[m][k] for m in keys for k, _ in stats)), 1.05)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return fig


@figure("tpe-steering")
def plot_steering(result: Result, ax=None) -> Figure:
    """Fig. 5: achieved α′_w/α_w against the target ratio r on the three texts (median over the steered tokens, with
    the inter-quartile range); the diagonal is perfect steering."""
    fig, ax = axes_or_new(ax, (5.0, 4.2))
    r = result.arrays["ratios"]
    for t in ("estimation", "held_out", "ood"):
        a = result.arrays[f"achieved.{t}"]
        q1, med, q3 = np.percentile(a, [25, 50, 75], axis=0)
        ax.plot(r, med, "o-", color=TEXT_COLORS[t], label=TEXT_LABELS[t], ms=3)
        ax.fill_between(r, q1, q3, color=TEXT_COLORS[t], alpha=0.15, linewidth=0)
    ax.plot(r, r, color="#333333", ls="--", lw=1, label="achieved = target")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("target ratio r")
    ax.set_ylabel("achieved α′_w / α_w")
    ax.legend(fontsize=8)
    return fig


@figure("tpe-steering")
def plot_side_effects(result: Result, ax=None) -> Figure:
    """Side effects: the JS divergence between the averaged distributions of the other tokens before and after the
    edit (median over tokens), and the mean per-position JS of the whole distribution, against r (held-out text)."""
    fig, ax = axes_or_new(ax, (5.0, 3.4))
    r = result.arrays["ratios"]
    for key, label, style in (("others_js", "other tokens, averaged distribution", "o-"),
                              ("js", "whole distribution, per position", "s--")):
        v = np.median(result.arrays[f"{key}.held_out"], axis=0)
        moved = r != 1  # r = 1 is no edit: a divergence of exactly 0, off a log axis
        ax.plot(r[moved & (r < 1)], v[moved & (r < 1)], style, label=label, ms=3, color=f"C{int(key == 'js')}")
        ax.plot(r[moved & (r > 1)], v[moved & (r > 1)], style, ms=3, color=f"C{int(key == 'js')}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("target ratio r")
    ax.set_ylabel("JS divergence (nats), median over tokens")
    ax.legend(fontsize=8)
    return fig


@figure("tpe-steering")
def plot_few_shot(result: Result, ax=None) -> Figure:
    """Fig. 6: steering on held-out text with A estimated from few sequences: the median |log(achieved/target)|
    and the worst median factor, against the tokens used."""
    fig, ax = axes_or_new(ax, (5.0, 3.4))
    few = result.metrics["few_shot"]
    n = [f["tokens"] for f in few]
    ax.plot(n, [f["median_abs_log_error"] for f in few], "o-", color="#d95f02", label="median |log error|")
    ax.plot(n, [np.log(f["worst_median_factor"]) for f in few], "s--", color="#7570b3",
            label="log of the worst median factor")
    ax.set_xscale("log")
    ax.set_xlabel("tokens used to estimate A")
    ax.set_ylabel("steering error (log scale units)")
    ax.legend(fontsize=8)
    return fig


@figure("tpe-deletion")
def plot_deletion(result: Result, ax=None) -> Figure:
    """Fig. 7: mean per-position JS divergence of the output distribution (left) and the continuations' negative
    log-likelihood under the undeleted model (right) against the fraction of output dimensions deleted."""
    fig, axes = new_figure((8.6, 3.4), 1, 2) if ax is None else (ax[0].figure, ax)
    f = result.arrays["fractions"]
    from ...experiments.cho.token_probability import JS_NOTICEABLE

    for order in ("increasing", "random", "decreasing"):
        for a, key in zip(axes, ("js", "nll"), strict=True):
            v = result.arrays[f"{key}.{order}"]
            a.plot(f, v.mean(0), "o-", color=ORDER_COLORS[order], ms=3, label=f"{order} |A|" if order != "random"
                   else f"random ({v.shape[0]} orders)")
    axes[0].axhline(JS_NOTICEABLE, color="#333333", ls=":", lw=1, label=f"JS = {JS_NOTICEABLE}")
    axes[0].set_ylabel("mean JS (nats)")
    axes[1].set_ylabel("NLL of continuations (nats/token)")
    for a in axes:
        a.set_xlabel("fraction of output dimensions deleted")
    axes[0].legend(fontsize=8)
    return fig


@figure("tpe-dynamics")
def plot_dynamics(result: Result, ax=None) -> Figure:
    """Fig. 8: the frequency probe's held-out R² over checkpoints for the three widths (left), and for the widest,
    each layer's share of its way to its final values still ahead (right); step axis logarithmic (step 0 at the
    left edge)."""
    fig, axes = new_figure((9.0, 3.6), 1, 2) if ax is None else (ax[0].figure, ax)
    steps = result.arrays["steps"].astype(float)
    x = np.where(steps == 0, 0.5, steps)
    widths = list(result.metrics["widths"])
    for c, w in zip(WIDTH_COLORS, widths, strict=False):
        axes[0].plot(x, result.arrays[f"r2.{w}"], "o-", color=c, ms=3, label=f"d = {w}")
    widest = widths[-1]
    groups = result.metrics["widths"][widest]["groups"]
    ahead = result.arrays[f"ahead.{widest}"]
    for j, g in enumerate(groups):
        axes[1].plot(x, ahead[:, j], "-", color=GROUP_COLORS.get(g), label=g)
    axes[0].set_ylabel("frequency probe, held-out R²")
    axes[1].set_ylabel("‖θ_t − θ_T‖ / ‖θ_0 − θ_T‖")
    axes[1].set_title(f"d = {widest}", fontsize=9)
    for a in axes:
        a.set_xscale("log")
        step_axis(a)
        a.legend(fontsize=7)
    return fig
