"""Figures of the norm/variance chapter (Yamagiwa & Shimodaira, COLING 2025): Figs. 1, 2, 4, 5, 6, 7 of the paper for
a pretrained model (``nv-minilm``) and for the models trained from scratch (``nv-scratch``)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...results import Result
from .. import axes_or_new, figure, new_figure

MODEL_COLORS = {"minilm": "#1b9e77", "mlm": "#7570b3", "lm_untied": "#d95f02", "lm_tied": "#e7298a"}
SCRATCH_LABELS = {"mlm": "Post-LN masked LM (scratch)", "lm_untied": "Pre-LN causal LM, untied (scratch)",
                  "lm_tied": "Pre-LN causal LM, tied (scratch)"}
PART_COLORS = {"M": "#1f77b4", "V_B": "#ff7f0e", "V_W": "#2ca02c"}
CMAP = "viridis"


def _view(result: Result, key: str | None) -> tuple[dict, dict[str, np.ndarray], str]:
    """(metrics, arrays, label) of one model: the pretrained model, or one of nv-scratch's models by key."""
    if key is None:
        return result.metrics, result.arrays, result.metrics["model"]
    a = {k.removeprefix(f"{key}_"): v for k, v in result.arrays.items() if k.startswith(f"{key}_")}
    return result.metrics["models"][key], a, SCRATCH_LABELS[key]


def _panels(n: int, ax, size: tuple[float, float], **kw) -> tuple[Figure, np.ndarray]:
    if ax is None:
        fig, axes = new_figure(size, 1, n, squeeze=False, **kw)
        return fig, axes[0]
    axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
    if len(axes) != n:
        raise ValueError(f"this figure draws {n} panels; got {len(axes)} axes")
    return axes[0].figure, axes


def _v_vs_m(ax, m: dict, a: dict[str, np.ndarray], title: str, vmin: float, vmax: float):
    mid = m["middle"]
    layer = mid["layer"]
    M, V, logn = a["M"][layer], a["V"][layer], np.log10(a["n"])
    sc = ax.scatter(M, V, c=logn, cmap=CMAP, vmin=vmin, vmax=vmax, s=6, alpha=0.7, linewidths=0)
    x = np.linspace(float(M.min()), float(M.max()), 2)
    ax.plot(x, mid["intercept"] + mid["slope"] * x, color="#cf222e", lw=1.2,
            label=f"slope {mid['slope']:.2f}, R² {mid['r2']:.2f}")
    ax.set_xlabel("M(X_t) = ‖μ_t‖²")
    ax.set_ylabel("V(X_t)")
    ax.set_title(f"{title}\nlayer {layer}", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    return sc


@figure("nv-minilm")
def plot_token_clouds(result: Result, ax=None) -> Figure:
    """Fig. 1: the sampled tokens' contextual embeddings at the middle layer (small points) and their means (large
    points), in the PCA plane fitted on the means and the origin (×); colour: log10 n_t."""
    fig, ax = axes_or_new(ax, (6.4, 5.0))
    a = result.arrays
    if "fig1_mean" not in a:
        ax.text(0.5, 0.5, "too few tokens pass the filter for Fig. 1", ha="center", transform=ax.transAxes)
        return fig
    logn = a["fig1_logn"]
    vmin, vmax = float(logn.min()), float(logn.max())
    owner_logn = logn[a["fig1_owner"]]
    ax.scatter(a["fig1_cloud"][:, 0], a["fig1_cloud"][:, 1], c=owner_logn, cmap=CMAP, vmin=vmin, vmax=vmax, s=4,
               alpha=0.25, linewidths=0)
    sc = ax.scatter(a["fig1_mean"][:, 0], a["fig1_mean"][:, 1], c=logn, cmap=CMAP, vmin=vmin, vmax=vmax, s=60,
                    edgecolors="black", linewidths=0.6)
    for (x, y), tok in zip(a["fig1_mean"], result.metrics["fig1_tokens"], strict=True):
        ax.annotate(tok["token"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.scatter(*a["fig1_origin"], marker="x", s=80, color="#cf222e", label="origin")
    fig.colorbar(sc, ax=ax, label="log10 n_t")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"{result.metrics['model']}, layer {result.metrics['middle']['layer']}: token clouds and means",
                 fontsize=9)
    ax.legend(fontsize=8)
    return fig


@figure("nv-minilm")
def plot_v_against_m(result: Result, ax=None) -> Figure:
    """Fig. 2: V(X_t) against M(X_t) at the middle layer, one point per token type, with the OLS line."""
    fig, ax = axes_or_new(ax, (5.2, 4.2))
    logn = np.log10(result.arrays["n"])
    sc = _v_vs_m(ax, result.metrics, result.arrays, result.metrics["model"], float(logn.min()), float(logn.max()))
    fig.colorbar(sc, ax=ax, label="log10 n_t")
    return fig


def _layer_lines(axes, m: dict, label: str, color: str, relative: bool) -> None:
    p = m["per_layer"]
    x = np.arange(len(p["cv_q"]), dtype=float)
    if relative:
        x = x / x[-1]
    for ax, key in zip(axes, ("cv_q", "slope", "r2"), strict=True):
        ax.plot(x, p[key], marker="o", ms=3, color=color, label=label)


def _layer_axes(axes, relative: bool) -> None:
    for ax, title in zip(axes, ("CV of Q(X_t) across tokens", "slope of V on M", "R² of V on M"), strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("depth (layer / last layer)" if relative else "layer (0 = embeddings)")
        if not relative:
            ax.xaxis.get_major_locator().set_params(integer=True)
    axes[1].axhline(-1, color="#666666", lw=0.8, ls="--")
    axes[2].set_ylim(-0.02, 1.02)


@figure("nv-minilm")
def plot_regression_by_layer(result: Result, ax=None) -> Figure:
    """Fig. 4: per layer, the coefficient of variation of Q across tokens, and the slope and R² of V on M."""
    fig, axes = _panels(3, ax, (10.0, 3.2))
    _layer_lines(axes, result.metrics, result.metrics["model"], MODEL_COLORS["minilm"], relative=False)
    _layer_axes(axes, relative=False)
    return fig


def _stacked(ax, m: dict, title: str) -> None:
    p = m["per_layer"]
    x = np.arange(len(p["M_over_Q"]))
    bottom = np.zeros(len(x))
    for key, label in (("M_over_Q", "M(X)/Q(X)"), ("VB_over_Q", "V_B(X)/Q(X)"), ("VW_over_Q", "V_W(X)/Q(X)")):
        part = key.split("_over")[0].replace("VB", "V_B").replace("VW", "V_W")
        ax.bar(x, p[key], bottom=bottom, color=PART_COLORS[part], label=label, width=0.8)
        bottom = bottom + np.array(p[key])
    ax.set_xticks(x)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=9)


@figure("nv-minilm")
def plot_ratios(result: Result, ax=None) -> Figure:
    """Fig. 5: per layer, M(X)/Q(X), V_B(X)/Q(X) and V_W(X)/Q(X) stacked (they sum to 1)."""
    fig, ax = axes_or_new(ax, (5.6, 3.4))
    _stacked(ax, result.metrics, result.metrics["model"])
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


@figure("nv-minilm")
def plot_within_share(result: Result, ax=None) -> Figure:
    """Fig. 6: the within-token share of the variance, V_W(X)/V(X), per layer."""
    fig, ax = axes_or_new(ax, (5.0, 3.2))
    p = result.metrics["per_layer"]
    ax.plot(np.arange(len(p["VW_over_V"])), p["VW_over_V"], marker="o", color=MODEL_COLORS["minilm"],
            label=result.metrics["model"])
    ax.set_xticks(np.arange(len(p["VW_over_V"])))
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("V_W(X) / V(X)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return fig


@figure("nv-minilm")
def plot_against_frequency(result: Result, ax=None) -> Figure:
    """Fig. 7: Q(X_t), M(X_t) and V(X_t) at the middle layer against log10 n_t, each with its OLS line."""
    fig, axes = _panels(3, ax, (10.0, 3.2), sharey=True)
    m, a = result.metrics, result.arrays
    layer = m["middle"]["layer"]
    logn = np.log10(a["n"])
    x = np.array([logn.min(), logn.max()])
    for ax, key in zip(axes, ("Q", "M", "V"), strict=True):
        f = m["frequency"][key]
        ax.scatter(logn, a[key][layer], s=5, alpha=0.5, color=MODEL_COLORS["minilm"], linewidths=0)
        ax.plot(x, f["intercept"] + f["slope"] * x, color="#cf222e", lw=1.2,
                label=f"slope {f['slope']:.2f}, R² {f['r2']:.2f}")
        ax.set_title(f"{key}(X_t), layer {layer}", fontsize=9)
        ax.set_xlabel("log10 n_t")
        ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------------- scratch

SCRATCH = ("mlm", "lm_untied", "lm_tied")


@figure("nv-scratch")
def plot_scratch_v_against_m(result: Result, ax=None) -> Figure:
    """Fig. 2 for the models trained from scratch: V against M at each model's middle layer (one colour scale)."""
    fig, axes = _panels(3, ax, (12.0, 3.8))
    logn = np.log10(np.concatenate([result.arrays[f"{k}_n"] for k in SCRATCH]))
    sc = None
    for ax, key in zip(axes, SCRATCH, strict=True):
        m, a, label = _view(result, key)
        sc = _v_vs_m(ax, m, a, label, float(logn.min()), float(logn.max()))
    fig.colorbar(sc, ax=list(axes), label="log10 n_t")
    return fig


@figure("nv-scratch")
def plot_scratch_by_layer(result: Result, ax=None) -> Figure:
    """Fig. 4 for the models trained from scratch: CV of Q, slope and R² of V on M per layer."""
    fig, axes = _panels(3, ax, (10.0, 3.4))
    for key in SCRATCH:
        m, _, label = _view(result, key)
        _layer_lines(axes, m, label, MODEL_COLORS[key], relative=False)
    _layer_axes(axes, relative=False)
    axes[0].legend(fontsize=7)
    return fig


@figure("nv-scratch")
def plot_scratch_ratios(result: Result, ax=None) -> Figure:
    """Fig. 5 for the models trained from scratch: stacked M/Q, V_B/Q, V_W/Q per layer, one panel per model."""
    fig, axes = _panels(3, ax, (11.0, 3.4), sharey=True)
    for ax, key in zip(axes, SCRATCH, strict=True):
        m, _, label = _view(result, key)
        _stacked(ax, m, label)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


@figure("nv-scratch")
def plot_scratch_within_share(result: Result, ax=None) -> Figure:
    """Fig. 6 for the models trained from scratch: V_W(X)/V(X) per layer."""
    fig, ax = axes_or_new(ax, (5.4, 3.4))
    for key in SCRATCH:
        p = result.metrics["models"][key]["per_layer"]
        ax.plot(np.arange(len(p["VW_over_V"])), p["VW_over_V"], marker="o", color=MODEL_COLORS[key],
                label=SCRATCH_LABELS[key])
    ax.set_xticks(np.arange(len(p["VW_over_V"])))
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("V_W(X) / V(X)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    return fig


EMBEDDING_LABELS = {"mlm_in": "masked LM\ninput", "mlm_out": "masked LM\noutput", "lm_untied_in": "causal LM\ninput",
                    "lm_untied_out": "causal LM\noutput", "lm_tied": "causal LM\ntied"}


@figure("nv-scratch")
def plot_embedding_matrices(result: Result, ax=None) -> Figure:
    """The embedding matrices themselves, each row one point weighted by its token's count: M/Q (the share of the
    mean squared norm taken by the common mean direction), and the slope of a row's squared norm on log10 n_t."""
    fig, axes = _panels(2, ax, (10.0, 3.4))
    emb = result.metrics["embeddings"]
    keys = list(EMBEDDING_LABELS)
    x = np.arange(len(keys))
    colors = [MODEL_COLORS["mlm"] if k.startswith("mlm") else MODEL_COLORS["lm_tied" if k == "lm_tied"
                                                                          else "lm_untied"] for k in keys]
    axes[0].bar(x, [emb[k]["M_over_Q"] for k in keys], color=colors)
    axes[0].set_title("M/Q of the rows (frequency-weighted)", fontsize=9)
    axes[1].bar(x, [emb[k]["norm2_slope"] for k in keys], color=colors)
    axes[1].axhline(0, color="#666666", lw=0.8)
    axes[1].set_title("slope of a row's squared norm on log10 n_t", fontsize=9)
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels([EMBEDDING_LABELS[k] for k in keys], fontsize=7)
    return fig


def plot_depth_compared(minilm: Result, scratch: Result, ax=None) -> Figure:
    """Fig. 4 for every model of the chapter on one relative depth axis: MiniLM and the models trained from
    scratch, side by side."""
    fig, axes = _panels(3, ax, (10.5, 3.4))
    _layer_lines(axes, minilm.metrics, minilm.metrics["model"], MODEL_COLORS["minilm"], relative=True)
    for key in SCRATCH:
        m, _, label = _view(scratch, key)
        _layer_lines(axes, m, label, MODEL_COLORS[key], relative=True)
    _layer_axes(axes, relative=True)
    axes[0].legend(fontsize=7)
    return fig
