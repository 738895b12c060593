"""Prose values of the token-probability-encoding chapter (see :mod:`tiedemb.book`): the words that compare numbers,
decided by the numbers, so that every sentence of the page stays true whatever a run gives. Numbers shown as they are
come from the metrics by their dotted paths (``tpe-encoding.models.main.r2_cv``)."""

from __future__ import annotations

import numpy as np

from ...experiments.cho.token_probability import (
    AHEAD_SHARE,
    COS_CLOSE,
    DELETE_PAPER,
    EARLY_SHARE,
    JS_NOTICEABLE,
    R2_GOOD,
    RHO_GOOD,
    SPARSE_FRACTION,
    SPARSE_SHARE,
    STEER_FACTOR,
)
from ...results import Result
from .. import prose

TEXTS = {"estimation": "the estimation text", "held_out": "held-out text", "ood": "out-of-distribution text"}


def _cmp(a: float, b: float, *, more: str = "higher", less: str = "lower") -> str:
    return more if a > b else less if a < b else "equal"


@prose("tpe-models")
def models_prose(result: Result) -> dict[str, str]:
    cfg, m = result.config, result.metrics
    t = {f"cfg_{k}": f"{cfg[k]:,}" for k in ("vocab_size", "d_model", "n_layers", "n_heads", "seq_len",
                                              "batch_size", "steps")}
    t["cfg_widths"] = ", ".join(str(w) for w in cfg["widths"])
    t["cfg_d_ff"] = f"{cfg['ff_mult'] * cfg['d_model']:,}"
    t["cfg_lr"] = f"{cfg['lr']:g}"
    t["checkpoints"] = ", ".join(str(s) for s in m["checkpoint_steps"])
    t["passes"] = f"{m['train_tokens'] / m['train_split_tokens']:.2f}"
    t["ppl_words"] = "; ".join(f"{k} {v['valid_ppl']:.0f}" for k, v in m["variants"].items())
    t["all_beat_unigram"] = ("every model is below" if all(v["valid_ppl"] < m["unigram_ppl"]
                                                           for v in m["variants"].values())
                             else "not every model is below")
    return t


@prose("tpe-encoding")
def encoding_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    s = m["models"][m["subject"]]
    t = {"r2_good": f"{R2_GOOD:g}", "rho_good": f"{RHO_GOOD:g}", "cos_close": f"{COS_CLOSE:g}",
         "sparse_fraction": f"{SPARSE_FRACTION:.1%}", "sparse_share": f"{SPARSE_SHARE:.0%}",
         "top_alpha": ", ".join(f"“{w}”" for w in s["alpha_top"]),
         "sparse_recovered": f"{s['r2_cv_top_k'] / s['r2_cv']:.0%}",
         "pc1_words": (f"{'falls' if s['pca_pc1_spearman_log_alpha'] < 0 else 'rises'} along the first principal "
                       f"component (Spearman of PC1 with log α {s['pca_pc1_spearman_log_alpha']:.2f})")}
    t["pc1_strength"] = "strongly" if abs(s["pca_pc1_spearman_log_alpha"]) >= 0.7 else "weakly"
    if "tied" in m["models"]:
        tied, bias = m["models"]["tied"], m["models"]["bias"]
        t["tied_vs_main_r2"] = _cmp(tied["r2_cv"], s["r2_cv"])
        t["bias_vs_main_r2"] = _cmp(bias["r2_cv"], s["r2_cv"])
        t["bias_carries"] = ("carries little of it" if abs(bias["spearman_bias_log_alpha"]) < 0.5
                             else "carries much of it")
        t["freq_probe_words"] = "; ".join(f"{k} {v['freq_probe_r2_cv']:.2f}" for k, v in m["models"].items())
    return t


@prose("tpe-steering")
def steering_prose(result: Result) -> dict[str, str]:
    m, cfg = result.metrics, result.config
    r = np.asarray(cfg["ratios"])
    t = {"steer_factor": f"{STEER_FACTOR:g}", "n_tokens": str(len(m["tokens"])),
         "ratio_min": f"1/{1 / r.min():g}" if r.min() < 1 else f"{r.min():g}", "ratio_max": f"{r.max():g}",
         "tokens_sample": ", ".join(f"“{w}”" for w in m["tokens"][:: max(1, len(m["tokens"]) // 6)])}
    lo, hi = int(np.argmin(r)), int(np.argmax(r))
    for k, v in m["texts"].items():
        t[f"{k}_lo"] = f"{v['median_ratio'][lo]:.3f}"
        t[f"{k}_hi"] = f"{v['median_ratio'][hi]:.1f}"
        t[f"{k}_worst"] = f"{v['worst_median_factor']:.2f}"
    worst_text = max(m["texts"], key=lambda k: m["texts"][k]["worst_median_factor"])
    t["worst_text"] = TEXTS[worst_text]
    spread = max(v["worst_median_factor"] for v in m["texts"].values()) / min(
        v["worst_median_factor"] for v in m["texts"].values())
    t["texts_alike"] = ("nearly the same on the three texts" if spread < 1.1 else "different on the three texts")
    few = m["few_shot"]
    t["few_first_tokens"] = f"{few[0]['tokens']:,}"
    t["few_first_cos"] = f"{few[0]['cos_to_full_A']:.3f}"
    t["few_first_err"] = f"{few[0]['median_abs_log_error']:.3f}"
    t["few_first_worst"] = f"{few[0]['worst_median_factor']:.2f}"
    t["few_last_err"] = f"{few[-1]['median_abs_log_error']:.3f}"
    t["few_last_worst"] = f"{few[-1]['worst_median_factor']:.2f}"
    t["few_degrades"] = ("degrades" if few[0]["worst_median_factor"] > few[-1]["worst_median_factor"]
                         else "does not degrade")
    return t


@prose("tpe-deletion")
def deletion_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    o = m["orders"]
    t = {"js_noticeable": f"{JS_NOTICEABLE:g}", "delete_paper": f"{DELETE_PAPER:.0%}"}
    for k in o:
        t[f"{k}_fraction"] = f"{o[k]['deletable_fraction']:.0%}"
    at = m["at_paper_fraction"]
    t["at_fraction"] = f"{at['fraction']:.0%}"
    ranked = sorted(("increasing", "random", "decreasing"), key=lambda k: at[k])
    t["order_ranking"] = " < ".join(f"{k} ({at[k]:.4f})" for k in ranked)
    t["order_as_paper"] = ("the paper's order" if ranked[0] == "increasing" else "not the paper's order")
    nll = {k: o[k]["nll"] for k in o}
    j = int(np.argmin(np.abs(np.asarray(result.config["fractions"]) - DELETE_PAPER)))
    t["nll_words"] = "; ".join(f"{k} {nll[k][j]:.2f}" for k in ("increasing", "random", "decreasing"))
    t["nll_base"] = f"{m['nll_undeleted']:.2f}"
    fr = result.config["fractions"]

    def kept(order: str) -> str:  # the largest fraction up to which the continuations' NLL stays within 5 %
        ok = 0.0
        for f, v in zip(fr, nll[order], strict=True):
            if v > 1.05 * m["nll_undeleted"]:
                break
            ok = f
        return f"{ok:.0%}"

    t["nll_kept_words"] = "; ".join(f"{k} {kept(k)}" for k in ("increasing", "random", "decreasing"))
    return t


@prose("tpe-dynamics")
def dynamics_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    w = m["widths"]
    t = {"early_share": f"{EARLY_SHARE:.0%}", "ahead_share": f"{AHEAD_SHARE:.0%}",
         "widths": ", ".join(w)}
    t["half_words"] = "; ".join(f"d = {k}: step {v['half_step']} ({v['mean_ahead_at_half']:.0%} of the way ahead)"
                                for k, v in w.items())
    t["early_words"] = "; ".join(f"d = {k}: step {v['early_step']} ({v['mean_ahead_at_early']:.0%} ahead)"
                                 for k, v in w.items())
    t["final_words"] = "; ".join(f"d = {k}: {v['r2_final']:.2f} (Spearman {v['spearman_final']:.2f})"
                                 for k, v in w.items())
    t["step0_words"] = "; ".join(f"{v['r2_step0']:.2f}" for v in w.values())
    t["shuffled_words"] = "; ".join(f"{v['r2_shuffled_final']:.2f}" for v in w.values())
    cos0 = [float(result.arrays[f"cos.{k}"][0].mean()) for k in w]  # mean over the layers at step 0
    t["cos_step0"] = "; ".join(f"{c:.2f}" for c in cos0)
    t["cos_step0_words"] = ("already high before any update: in a run this short the parameters move little "
                            "against their initial norm (and LayerNorm gains start at 1), so the cosine tells little "
                            "about convergence here" if min(cos0) >= 0.8 else "well below 1 before training")
    step0 = max(abs(v["r2_step0"]) for v in w.values())
    t["step0_reads"] = "explains nothing" if step0 < 0.1 else "already explains something"
    shuffled = max(v["r2_shuffled_final"] for v in w.values())
    t["shuffled_reads"] = "none either" if shuffled < 0.1 else "some, which calls the probe into question"
    t["cos_at_early"] = "; ".join(f"{v['mean_cos_at_early']:.3f}" for v in w.values())
    return t
