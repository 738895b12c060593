"""Prose values of the theory chapter "Equivalences, the distributional hypothesis, and why tying assumes it"
(``eqv-theorems``, ``eqv-tying``; see :mod:`tiedemb.book`).

Numbers that should be (near) zero are printed as "0", "< 1e-05" or one decimal in scientific notation, so that
round-off differences between machines do not show on the page; other numbers are glued from the metrics with a
format (``{glue:text}`eqv-theorems.t1_dist_init:.2f```).
"""

from __future__ import annotations

from ...experiments.bertolotti.theorems import small
from ...results import Result
from .. import prose


@prose("eqv-theorems")
def theorems_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    return {"l1_err": small(m["l1_max_err"]), "t1_opt": small(m["t1_dist_opt"]),
            "t1_def_span": small(m["t1_def_dist_span"]), "ratio_log_err": small(m["t1_ratio_log_err"], 1e-3),
            "t2_diff": small(m["t2_max_pred_diff"]), "t3_diff": small(m["t3_max_pred_diff"]),
            "sep_tv_err": small(m["t3_sep_tv_err"], 1e-3), "sep_excess": small(abs(m["t3_sep_excess"])),
            "t4_opt": small(m["t4_dist_opt"]),
            "broken_excess": small(max(abs(m["t4_body_excess"]), abs(m["t4_out_excess"]))),
            "broken_pred_diff": small(m["t4_body_pred_diff"]), "tol": f"{result.config['tol']:.0e}"}


@prose("eqv-tying")
def tying_prose(result: Result) -> dict[str, str]:
    m, cfg = result.metrics, result.config
    text = {f"{kind}_{variant}": small(m["excess"][kind][variant])
            for kind in ("agree", "freq", "conflict") for variant in ("untied", "tied")}
    return {**text, "min_contraction": small(m["random_min_contraction_eq"]),
            "train_min_contraction": small(m["train_min_contraction_agree"]),
            "neg_share": f"{m['random_negative_share_ratio9']:.0%}",
            "trials": str(cfg["trials"] * len(cfg["seeds"])), "restarts": str(cfg["restarts"]),
            "steps": str(cfg["steps"])}
