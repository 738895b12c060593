"""Prose values of the norm/variance chapter (see :mod:`tiedemb.book`): the words that compare numbers, decided by
the numbers, so that every sentence of the page stays true whatever a run gives. Numbers shown as they are come from
the metrics by their dotted paths (``nv-minilm.middle.slope``)."""

from __future__ import annotations

import numpy as np

from ...experiments.yamagiwa.norm_variance import CV_SMALL, R2_HIGH, SLOPE_TOL
from ...results import Result
from .. import prose

SCRATCH_WORDS = {"mlm": "Post-LN masked LM", "lm_untied": "untied Pre-LN causal LM", "lm_tied": "tied Pre-LN causal LM"}


def _names(items: list[str]) -> str:
    if not items:
        return "none"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _r(x: float) -> float:
    """A ratio for print: round-off around zero (e.g. V_W/V = −1e-17 when V_W is exactly 0) shown as 0."""
    return 0.0 if abs(x) < 5e-4 else x


def _trend(first: float, last: float, *, up: str = "rises", down: str = "falls") -> str:
    """How a quantity moves from the first to the last layer, with both values."""
    first, last = _r(first), _r(last)
    word = up if last > first else down if last < first else "stays level"
    return f"{word} from {first:.3f} at the embeddings to {last:.3f} at the last layer"


def _sign(slope: float) -> str:
    return "rises" if slope > 0 else "falls" if slope < 0 else "is flat"


def _profile_words(prefix: str, m: dict) -> dict[str, str]:
    """Words for one model's per-layer profile (Figs. 4, 5, 6, 7)."""
    p = m["per_layer"]
    cv, slope = np.array(p["cv_q"]), np.array(p["slope"])
    layers = np.arange(len(cv))
    t = {}
    small = [str(i) for i in layers[1:] if cv[i] < CV_SMALL]
    t[f"{prefix}small_cv_layers"] = (f"layers {_names(small)}" if len(small) > 1 else f"layer {small[0]}"
                                     if small else "no layer")
    best_cv, best_slope = int(np.argmin(cv)), int(np.argmin(np.abs(slope + 1)))
    t[f"{prefix}cv_min_layer"] = str(best_cv)
    t[f"{prefix}slope_best_layer"] = str(best_slope)
    t[f"{prefix}cv_goes_with_slope"] = (
        f"the layer with the smallest CV of Q (layer {best_cv}) is also the one whose slope is closest to −1"
        if best_cv == best_slope else
        f"the smallest CV of Q (layer {best_cv}) and the slope closest to −1 (layer {best_slope}) are at different "
        f"layers")
    rho_cv = float(np.corrcoef(cv[1:], np.abs(slope[1:] + 1))[0, 1]) if len(cv) > 3 else float("nan")
    t[f"{prefix}cv_slope_corr"] = f"{rho_cv:.2f}"
    t[f"{prefix}cv_slope_agree"] = "go together" if rho_cv > 0 else "do not go together"
    t[f"{prefix}mq_trend"] = _trend(p["M_over_Q"][0], p["M_over_Q"][-1], up="grows", down="shrinks")
    t[f"{prefix}mq_max_layer"] = str(int(np.argmax(p["M_over_Q"])))
    t[f"{prefix}vwv_trend"] = _trend(p["VW_over_V"][0], p["VW_over_V"][-1], up="grows", down="shrinks")
    t[f"{prefix}vwv_max_layer"] = str(int(np.argmax(p["VW_over_V"])))
    return t


@prose("nv-minilm")
def minilm_prose(result: Result) -> dict[str, str]:
    """Words and rounded numbers of the pretrained-model part."""
    cfg, m = result.config, result.metrics
    mid = m["middle"]
    t = {"cfg_min_count": f"{cfg['min_count']:,}", "cfg_max_count": f"{cfg['max_count']:,}",
         "cfg_max_tokens": f"{cfg['max_tokens']:,}" if cfg["max_tokens"] else "every",
         "cfg_max_words": str(cfg["max_words"]), "slope_tol": f"{SLOPE_TOL:g}", "r2_high": f"{R2_HIGH:g}",
         "cv_small": f"{CV_SMALL:g}", "n_layers": str(m["n_hidden"] - 1),
         "special_counts": _names([f"{tok} {n:,}" for tok, n in zip(m["special_tokens"], m["special_counts"],
                                                                    strict=True) if n])}
    t["relation"] = ("a falling line" if mid["slope"] < 0 else "a rising line") + (
        f", slope {mid['slope']:.2f} (R² {mid['r2']:.2f})")
    t["slope_vs_paper"] = ("within" if abs(mid["slope"] + 1) <= SLOPE_TOL else "outside") + \
        f" the book's band of ±{SLOPE_TOL:g} around the paper's −1"
    t |= _profile_words("", m)
    f = m["frequency"]
    t["freq_words"] = "; ".join(f"{k} {_sign(f[k]['slope'])} with log10 n_t (slope {f[k]['slope']:.2f}, R² "
                                f"{f[k]['r2']:.2f})" for k in ("Q", "M", "V"))
    t["m_v_opposite"] = ("M and V move in opposite directions with frequency" if f["M"]["slope"] * f["V"]["slope"] < 0
                         else "M and V move in the same direction with frequency")
    toks = sorted(m["fig1_tokens"], key=lambda r: r["M"])
    if len(toks) >= 2:
        lo, hi = toks[0], toks[-1]
        t["fig1_far"] = f"“{hi['token']}” (M {hi['M']:.1f}, V {hi['V']:.1f})"
        t["fig1_near"] = f"“{lo['token']}” (M {lo['M']:.1f}, V {lo['V']:.1f})"
        t["fig1_tight"] = ("tighter" if hi["V"] < lo["V"] else "no tighter")
    else:
        t["fig1_far"] = t["fig1_near"] = "(too few tokens)"
        t["fig1_tight"] = "not comparable"
    return t


@prose("nv-scratch")
def scratch_prose(result: Result) -> dict[str, str]:
    """Words and rounded numbers of the models trained from scratch."""
    cfg, m = result.config, result.metrics
    tr = m["training"]
    t = {f"cfg_{k}": f"{cfg[k]:,}" for k in ("vocab_size", "seq_len", "d_model", "n_layers", "n_heads", "d_ff",
                                              "mlm_steps", "lm_epochs", "batch_size", "stats_tokens", "min_count")}
    t["cfg_lr"] = f"{cfg['lr']:g}"
    t["mlm_beats_unigram"] = "below" if tr["mlm_valid_loss"] < tr["unigram_nats"] else "not below"
    t["lm_beats_unigram"] = ", ".join(
        f"{k} {tr['lm_valid_ppl'][k]:.0f} ({'below' if tr['lm_valid_ppl'][k] < tr['unigram_ppl'] else 'not below'}"
        f" the unigram {tr['unigram_ppl']:.0f})" for k in ("untied", "tied"))
    models = m["models"]
    post, pre = models["mlm"]["middle"], models["lm_untied"]["middle"]
    t["contrast_cv"] = "smaller" if post["cv_q"] < pre["cv_q"] else "not smaller"
    t["contrast_r2"] = "higher" if post["r2"] > pre["r2"] else "not higher"
    both = post["cv_q"] < pre["cv_q"] and post["r2"] > pre["r2"]
    t["contrast_vs_paper"] = ("the direction of the paper's contrast between BERT/RoBERTa and GPT-2" if both
                              else "not the direction of the paper's contrast between BERT/RoBERTa and GPT-2 on "
                                   "both counts")
    t["cfg_lm_passes"] = "one pass" if cfg["lm_epochs"] == 1 else f"{cfg['lm_epochs']} passes"
    for key in models:
        t |= _profile_words(f"{key}.", models[key])
    tied, untied = models["lm_tied"]["middle"], models["lm_untied"]["middle"]
    t["tied_cv"] = "smaller" if tied["cv_q"] < untied["cv_q"] else "larger" if tied["cv_q"] > untied["cv_q"] \
        else "equal"
    t["tied_r2"] = "higher" if tied["r2"] > untied["r2"] else "lower" if tied["r2"] < untied["r2"] else "equal"
    e = m["embeddings"]
    order = sorted(e, key=lambda k: e[k]["M_over_Q"])
    labels = {"mlm_in": "the masked LM's input matrix", "mlm_out": "the masked LM's output matrix",
              "lm_untied_in": "the untied causal LM's input matrix",
              "lm_untied_out": "the untied causal LM's output matrix", "lm_tied": "the tied causal LM's matrix"}
    t["emb_mq_order"] = " < ".join(f"{labels[k]} ({e[k]['M_over_Q']:.3f})" for k in order)
    t["emb_out_vs_in"] = ("larger" if e["lm_untied_out"]["M_over_Q"] > e["lm_untied_in"]["M_over_Q"] else "smaller")
    t["emb_tied_between"] = (
        "between those of the untied input and output matrices" if min(e["lm_untied_in"]["M_over_Q"],
                                                                        e["lm_untied_out"]["M_over_Q"])
        <= e["lm_tied"]["M_over_Q"] <= max(e["lm_untied_in"]["M_over_Q"], e["lm_untied_out"]["M_over_Q"])
        else "outside the range of the untied input and output matrices")
    t["emb_norm_freq"] = "; ".join(f"{labels[k]} {_sign(e[k]['norm2_slope'])} (slope {e[k]['norm2_slope']:.2f})"
                                   for k in e)
    return t
