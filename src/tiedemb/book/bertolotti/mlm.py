"""Prose values of the bertolotti/mlm chapter (see :mod:`tiedemb.book`): the words and rounded numbers its sentences
need, decided by the numbers so that every sentence stays true whatever a run gives.

Numbers that the chapter shows as they are come from the metrics by their dotted paths (``distances.dh.in``); this
module adds the config values, the book's criteria, and the words (``closer``, ``higher``, ``met``) that compare
numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

from ...claims import UNTESTABLE
from ...experiments.bertolotti.mlm import (
    APART,
    CLOSE,
    LAST_PART,
    MODELS,
    PLATEAU,
    VARIANTS,
    MLMTwinsConfig,
    loss_drop,
    rank_band,
)
from ...experiments.bertolotti.mlm_sweep import MLMTwinsSweepConfig, point_label
from ...results import Result
from .. import MLM_PAPER_SPEED_FILE, measured_speed, prose, speed_table

EMBEDDINGS = {"in": "untied input", "out": "untied output", "tied": "tied"}
VARIANT_WORDS = {"dh": "✓DH", "ndh": "✗DH"}


def _names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; ``none`` when empty."""
    if not items:
        return "none"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _where(items: list[str], total: int, *, some: str, every: str, none: str) -> str:
    """``every`` when all ``total`` embeddings are listed, ``none`` when none is, else ``some`` followed by their
    names ("in the untied output embedding only")."""
    if len(items) == total:
        return every
    if not items:
        return none
    return f"{some} the {_names(items)} embedding{'s' if len(items) > 1 else ''} only"


def _config_words(cfg: dict) -> dict[str, str]:
    t = {f"cfg_{k}": (f"{cfg[k]:g}" if isinstance(cfg[k], float) else str(cfg[k]))
         for k in ("d_model", "n_layers", "n_heads", "d_ff", "batch_size", "seq_len", "lr", "weight_decay",
                   "init_std", "vocab_size", "swap", "swap_ndh", "n_twins", "n_random_pairs", "diagnose_window")}
    t["cfg_steps"] = f"{cfg['steps']:,}"
    t["cfg_seeds"] = _names([str(s) for s in cfg["seeds"]])
    t["cfg_n_seeds"] = "one seed" if len(cfg["seeds"]) == 1 else f"{len(cfg['seeds'])} seeds"
    t["cfg_cosine"] = ("one cosine decay" if not cfg["t_max"] or cfg["t_max"] >= cfg["steps"]
                       else f"cosine period {cfg['t_max']:,}")
    return t


def _plateau_words(result: Result) -> dict[str, str]:
    start, end, drops = loss_drop(result.metrics)
    listed = [f"{drops[v][m]:.2%} ({VARIANT_WORDS[v]} {m})" for v in VARIANTS for m in MODELS]
    still = [f"{VARIANT_WORDS[v]} {m}" for v in VARIANTS for m in MODELS if drops[v][m] >= PLATEAU]
    untestable = [c.label for c in result.claims if c.verdict == UNTESTABLE]
    if still:
        they = "it" if len(still) == 1 else "they"
        outcome = (f"the loss of the {_names(still)} model{'s' if len(still) > 1 else ''} still fell by "
                   f"{PLATEAU:.0%} or more: by this criterion {they} had not been trained to a plateau")
    else:
        outcome = (f"every model's loss fell by less than {PLATEAU:.0%}: by this criterion every model was trained "
                   f"to a plateau")
    scored = ("so the claims are scored on the numbers" if not untestable
              else f"so {_names(untestable)} {'is' if len(untestable) == 1 else 'are'} not testable at this scale")
    return {"plateau": f"{PLATEAU:.0%}", "last_part": "quarter" if LAST_PART == 0.25 else f"{LAST_PART:.0%}",
            "plateau_window": f"steps {start:,}–{end:,}", "loss_drops": _names(listed),
            "plateau_outcome": f"{outcome}, {scored}"}


@prose("mlm-twins", "mlm-twins-mid")
def mlm_twins_prose(result: Result) -> dict[str, str]:
    """Words and rounded numbers of the MLM twins chapter (``mlm-twins``, and its run on mid-frequency words)."""
    cfg, m = result.config, result.metrics
    words = m["corpus"]["twinned_words"]
    ratio, apart, acc = m["ratio_to_random"], m["ndh_over_dh"], m["valid_accuracy"]
    t = _config_words(cfg) | _plateau_words(result)
    t |= {"top10": ", ".join(words[:10]), "last10": ", ".join(words[-10:]), "close": f"{CLOSE:g}",
          "apart": f"{APART:g}"}
    # ✓DH twins against random pairs, ✗DH twins against ✓DH twins
    closer = [EMBEDDINGS[e] for e in EMBEDDINGS if ratio["dh"][e] < 1]
    t["dh_vs_random"] = _where(closer, 3, some="closer than the random pairs in",
                               every="closer than the random pairs in all three embeddings",
                               none="no closer than the random pairs in any embedding")
    close = [EMBEDDINGS[e] for e in EMBEDDINGS if ratio["dh"][e] <= CLOSE]
    t["dh_close"] = _where(close, 3, some="close in", every="close in all three embeddings",
                           none="close in none of the three embeddings")
    farther = [EMBEDDINGS[e] for e in ("out", "tied") if apart[e] > 1]
    t["ndh_vs_dh"] = _where(farther, 2, some="farther apart than the ✓DH twins in",
                            every="farther apart than the ✓DH twins in both the untied output and the tied embedding",
                            none="no farther apart than the ✓DH twins in the untied output or the tied embedding")
    # tied against untied accuracy
    diffs = {v: acc[v]["tied"] - acc[v]["untied"] for v in VARIANTS}
    t["acc_tied_vs_untied"] = " and ".join(
        f"{'higher' if d > 0 else 'lower' if d < 0 else 'the same'} with {VARIANT_WORDS[v]} twins ({d:+.3f})"
        for v, d in diffs.items())
    # the diagnostic: does the majority of each kind of pair land in the case its construction implies?
    d = m["diagnosis"]
    t["diag_pairs_rand"] = str(sum(d["dh"]["rand"].values()))
    expected = {"✓DH twins pass both tests": (d["dh"]["twin"], "both"),
                "✗DH twins pass ≡ only": (d["ndh"]["twin"], "sem_only"),
                "random pairs pass neither": (d["dh"]["rand"], "neither")}
    hits = [k for k, (counts, case) in expected.items() if 2 * counts[case] > sum(counts.values())]
    if len(hits) == len(expected):
        t["diag_separates"] = f"tells the three kinds of pairs apart from the text (most {_names(hits)})"
    elif hits:
        t["diag_separates"] = (f"does not tell all three kinds of pairs apart from the text (a majority lands in the "
                               f"case its construction implies only where {_names(hits)})")
    else:
        t["diag_separates"] = ("does not tell the kinds of pairs apart from the text (for no kind does a majority "
                               "land in the case its construction implies)")
    # the authors' initial scale: rows N(0, σ² I_d) start about σ √(2d) apart
    paper = MLMTwinsConfig.paper()
    t["paper_init_std"] = f"{paper.init_std:g}"
    t["paper_d_model"] = str(paper.d_model)
    t["paper_init_distance"] = f"{paper.init_std * math.sqrt(2 * paper.d_model):.1f}"
    t["init_distance"] = f"{cfg['init_std'] * math.sqrt(2 * cfg['d_model']):.2f}"
    t |= _motion_words(m)
    t["twinned_ranks"] = rank_band(cfg.get("twin_rank", 0), cfg["n_twins"])
    if result.name == "mlm-twins":  # the benchmarks time the book's own quick run and the authors' configuration
        t |= measured_speed("mlm-twins") | paper_speed()
    return t


def paper_speed(path: Path = MLM_PAPER_SPEED_FILE) -> dict[str, str]:
    """What the committed benchmark of the authors' configuration (``benchmarks/bench_mlm_paper.py``) measured, as
    words: its date and machine, the seconds per training step on one thread, and the hours (or years) that the
    paper-scale preset and the authors' whole run would take on one core for the four models of one seed.

    Speeds change from run to run and machine to machine: the page states the benchmark's numbers with their date.
    """
    data = speed_table(path, "bench_mlm_paper.py")
    rows, hours = data["variants"], data["estimated_hours"]
    steps = sorted(r["step_s"] for r in rows.values())
    return {
        "paper_speed_date": data["date"],
        "paper_speed_machine": data["machine"],
        "paper_step_s": f"{steps[0]:.1f}" if f"{steps[0]:.1f}" == f"{steps[-1]:.1f}"
        else f"{steps[0]:.1f}–{steps[-1]:.1f}",
        "paper_models_per_seed": str(data["models_per_seed"]),
        "paper_preset_steps": f"{data['preset_steps']:,}",
        "paper_preset_hours": f"{hours['preset']:,.0f}",
        "paper_preset_days": f"{hours['preset'] / 24:.0f}",
        "paper_authors_steps": f"{data['authors_steps']:,}",
        "paper_authors_years": f"{hours['authors'] / 24 / 365:.1f}",
    }


def _motion_words(m: dict) -> dict[str, str]:
    """Words on how the ✓DH twins moved (:class:`~tiedemb.train.mlm.PairMotion`): what each part of the distance
    change did in each embedding, which part carried the change, and whether tying strengthened the pull (B-L3)."""
    mo = m["motion"]["dh"]
    t: dict[str, str] = {}
    along_apart = []
    for e, name in EMBEDDINGS.items():
        tw = mo[e]["twin"]
        along = "pushed them apart by" if tw["pull"] > 0 else "pulled them together by"
        t[f"motion_{e}_parts"] = (f"weight decay took {-tw['decay']:.2f} off their distance, the update along the "
                                  f"gap {along} {abs(tw['pull']):.2f} and the update across it added "
                                  f"{tw['spread']:.2f} (net {tw['change']:+.2f} from {tw['start']:.2f})")
        if tw["pull"] > 0:
            along_apart.append(name)
    t["motion_along"] = _where(along_apart, 3, some="pushed the twins apart in",
                               every="pushed the twins apart in all three embeddings",
                               none="pulled the twins together in all three embeddings")
    largest = {e: max(("decay", "pull", "spread"), key=lambda q: abs(mo[e]["twin"][q])) for e in EMBEDDINGS}
    names = {"decay": "weight decay", "pull": "the update along the gap", "spread": "the update across the gap"}
    kinds = set(largest.values())
    t["motion_largest"] = (f"{names[kinds.pop()]} was the largest part in all three embeddings" if len(kinds) == 1
                           else "; ".join(f"{names[q]} was the largest part in the {EMBEDDINGS[e]} embedding"
                                          for e, q in largest.items()))
    ratios = {e: (mo[e]["twin"]["differ_over_shared"], mo[e]["rand"]["differ_over_shared"]) for e in EMBEDDINGS}
    like = [EMBEDDINGS[e] for e, (tw, rd) in ratios.items() if tw >= 0.8 * rd]
    t["motion_independent"] = _where(
        like, 3, some="within a fifth of the random pairs' in",
        every="within a fifth of the random pairs' in all three embeddings: the twins' rows moved almost as "
              "independently as the rows of two different words",
        none="well below the random pairs' in every embedding: the twins' rows moved largely together")
    pulls = {e: mo[e]["twin"]["pull"] for e in EMBEDDINGS}
    t["motion_tied_pull"] = (
        "pulled the tied twins together more strongly than either untied matrix did, as B-L3 leads one to expect"
        if pulls["tied"] < min(pulls["in"], pulls["out"]) else
        "gave the tied twins no stronger pull together than both untied matrices, against what B-L3 leads one to "
        "expect of ✓DH pairs")
    return t


def _spread(values: list[float]) -> str:
    """``0.94`` or ``0.94 to 1.02``, for the range of a ratio over points."""
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f} to {hi:.2f}"


def committed_sweep_points() -> tuple[tuple, ...]:
    """The points of the paper-scale sweep whose results are committed (``results/paper/mlm-twins-point/<config
    key>/``), in the sweep's order: the chapter shows the paper-scale sweep as far as it has been run."""
    from ...cache import load_committed

    full = MLMTwinsSweepConfig.paper()
    return tuple(p for p in full.points if load_committed(full.point_config(p)) is not None)


@prose("mlm-twins-sweep")
def mlm_twins_sweep_prose(result: Result) -> dict[str, str]:
    """Words and rounded numbers of the chapter's sweep section: each point's ratios and accuracy, the range of
    each embedding's ratio over the points, where the output-side ratio is lowest, and which point (if any) brings the
    ✓DH twins close."""
    m, cfg = result.metrics, result.config
    rows = m["points"]
    dh = [r for r in rows if r["swap"] == 0.5 and r["ratio_mean"]["out"] is not None]

    def acc(r: dict) -> float | None:
        kept = [a for a in r["valid_acc"]["untied"] if a is not None]
        return sum(kept) / len(kept) if kept else None

    def ratios(r: dict) -> str:
        text = ", ".join("diverged" if r["ratio_mean"][e] is None else f"{r['ratio_mean'][e]:.2f}" for e in EMBEDDINGS)
        a = acc(r)
        text += f" (accuracy untied {a:.3f}" if a is not None else " (diverged"
        for model, embs in (("untied", ("in", "out")), ("tied", ("tied",))):
            n = max(sum(x is None for x in r["ratio"][e]) for e in embs)
            if n:
                text += f"; the {model} model diverged in {n} of {len(cfg['seeds'])} seeds"
        return text + ")"

    t = {"sweep_n_points": str(len(rows)), "sweep_n_seeds": str(len(cfg["seeds"])), "sweep_close": f"{m['close']:g}",
         "sweep_n_full": str(len(MLMTwinsSweepConfig.for_scale(cfg["scale"]).points))}
    t["sweep_points"] = "; ".join(f"{point_label(r)}: {ratios(r)}" for r in rows)
    for e in EMBEDDINGS:
        kept = [r["ratio_mean"][e] for r in dh if r["ratio_mean"][e] is not None]  # None: diverged in every seed
        t[f"sweep_range_{e}"] = _spread(kept) if kept else "nothing (every point diverged)"
    if dh:
        low = min(dh, key=lambda r: r["ratio_mean"]["out"])
        best = max(dh, key=lambda r: -1.0 if acc(r) is None else acc(r))
        tied = low["ratio_mean"]["tied"]
        tied_text = "diverged" if tied is None else f"{tied:.2f}"
        t["sweep_lowest_out"] = (f"{point_label(low)} (untied output {low['ratio_mean']['out']:.2f}, tied "
                                 f"{tied_text}), where the untied model's masked-token accuracy is {acc(low):.3f}")
        t["sweep_best_acc"] = f"{point_label(best)} ({acc(best):.3f})"
        t["sweep_lowest_is_best"] = (
            "the same point" if low is best else
            "another point: the twins' output rows come closest where the model learns least" if acc(low) < acc(best)
            else "another point")
    else:
        t["sweep_lowest_out"] = t["sweep_best_acc"] = "no point (every point diverged)"
        t["sweep_lowest_is_best"] = "none"
    i = m["cheapest_close"]
    t["sweep_outcome"] = (
        f"the cheapest point that brings the ✓DH twins within {m['close']:g} of the random pairs' distance in the "
        f"untied input and the tied matrix, in every seed, is {point_label(rows[i])}" if i is not None else
        f"no point brings the ✓DH twins within {m['close']:g} of the random pairs' distance in both the untied input "
        f"and the tied matrix in every seed")
    return t
