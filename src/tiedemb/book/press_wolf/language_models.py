"""Prose values and tables of the language-model chapter, ``book/press_wolf/language_models`` (see
:mod:`tiedemb.book`).

Our numbers come from the result; the paper's (Tables 5 and 6 of press2017, on the Penn Treebank) are typed in
:mod:`tiedemb.experiments.press_wolf.language_models` with the table they come from, and shown beside ours.
"""

from __future__ import annotations

import math
from pathlib import Path

from ...experiments.press_wolf.language_models import (
    PAPER_TABLE5,
    PAPER_TABLE6,
    VARIANT_NAMES,
    VARIANTS,
)
from ...results import Result
from .. import LARGE_SPEED_FILE, DataTable, prose, speed_table

Table = DataTable
"""The chapter's tables: the book's :class:`~tiedemb.book.DataTable`."""


def _millions(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def _num(x: float, fmt: str = ".1f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def perplexity_table(result: Result) -> Table:
    """Table 6 in shape: our four models (size, train/validation/test perplexity) beside the paper's PTB numbers
    (Table 6, small models without dropout; Table 5's large untied and WT rows for comparison)."""
    m = result.metrics
    rows = []
    for k in (k for k in VARIANTS if k in m["params"]):
        paper6 = PAPER_TABLE6[k]
        paper5 = PAPER_TABLE5.get(k)
        rows.append([VARIANT_NAMES[k], _millions(m["params"][k]), _num(m["train_ppl"][k]), _num(m["valid_ppl"][k]),
                     _num(m["test_ppl"][k]), " / ".join(f"{x:.1f}" for x in paper6),
                     " / ".join(f"{x:.1f}" for x in paper5) if paper5 else "–"])
    header = ["model", "parameters (ours)", "train (ours)", "valid (ours)", "test (ours)",
              "paper Table 6: train / valid / test (PTB, small)", "paper Table 5 (PTB, large, dropout)"]
    return Table(header, rows, caption=f"{result.name}: perplexity of the four models; the paper's numbers are on "
                                       f"the Penn Treebank")


def parameter_table(result: Result) -> Table:
    """The parameter counts of the paper's own PTB models: instantiated (PyTorch), minus PyTorch's second LSTM bias,
    the paper's arithmetic, and the size printed in Tables 5 and 6."""
    from ...experiments.press_wolf.language_models import PAPER_SIZES

    rows = []
    for size, variants in result.metrics["paper_counts"].items():
        for k, c in variants.items():
            rows.append([f"{size} ({'Table 6' if size == 'small' else 'Table 5'})", VARIANT_NAMES[k],
                         f"{c['instantiated']:,}", f"{c['redundant_bias']:,}",
                         f"{c['instantiated'] - c['redundant_bias']:,}", f"{c['paper_formula']:,}",
                         f"{PAPER_SIZES[size][k] / 1e6:g}M"])
    header = ["model", "variant", "PyTorch count", "second LSTM bias", "TF-cell count", "arithmetic", "paper"]
    return Table(header, rows, caption="Parameters of the paper's PTB models (V = 10,000; H = 200 small, 1,500 large)")


ROLE_NAMES = {"in": "untied input", "out": "untied output", "tied": "tied"}


def similarity_table(result: Result) -> Table:
    """Table 2 in shape: Spearman's ρ of each embedding with human (or exact) similarity, with coverage and rare
    pairs."""
    m = result.metrics
    rows = []
    if result.name == "pw-lm-synthetic":
        for role, name in ROLE_NAMES.items():
            s = m["similarity"][role]
            rows.append(["exact similarity", name, _num(s["rho"], ".2f"), f"{s['pairs']}", _num(s["rho_rare"], ".2f"),
                         f"{s['pairs_rare']}"])
    else:
        for bench, s in m["similarity"].items():
            for role, name in ROLE_NAMES.items():
                r = s.get(role)
                cover = f"{r['pairs'] if r else 0} of {s['total_pairs']} ({s['coverage']:.0%})"
                rows.append([bench, name, _num(r["rho"], ".2f") if r else "–", cover,
                             _num(r["rho_rare"], ".2f") if r else "–", f"{r['pairs_rare']}" if r else "0"])
    header = ["benchmark", "embedding", "Spearman ρ", "pairs scored (coverage)",
              f"ρ, rare pairs (a word seen < {m['rare_below']:.0f} times)", "rare pairs"]
    return Table(header, rows, caption=f"{result.name}: the embeddings as word embeddings")


def structure_table(result: Result) -> Table:
    """Table 3 in shape: Spearman's ρ between the pairwise cosine similarities of two embeddings."""
    st = result.metrics["structure"]
    rows = [[f"{ROLE_NAMES[a]} vs {ROLE_NAMES[b]}", f"{st[f'{a}-{b}']:.2f}"]
            for a, b in (("in", "out"), ("in", "tied"), ("out", "tied"))]
    return Table(["embeddings", "ρ of their pairwise similarities"], rows,
                 caption=f"{result.name}: how alike the embeddings are ({result.config['n_pairs']:,} random pairs)")


def _ppl_words(result: Result) -> dict[str, str]:
    m, cfg = result.metrics, result.config
    v, t, tr = m["valid_ppl"], m["test_ppl"], m["train_ppl"]
    best = min(v, key=lambda k: v[k])
    wt = ("lower" if v["tied"] < v["untied"] and t["tied"] < t["untied"] else
          "higher" if v["tied"] > v["untied"] and t["tied"] > t["untied"] else "mixed (lower on one split only)")
    return {
        "best_words": VARIANT_NAMES[best],
        "wt_words": wt,
        "pr_train_words": ("–" if "tied_pr" not in tr else "higher" if tr["tied_pr"] > tr["untied"] else "lower"),
        "overfit_ratio": f"{v['untied'] / tr['untied']:.2f}",
        "saving_pct": f"{m['param_saving_fraction']['tied']:.0%}",
        "hidden_size": f"{cfg['d_model']}",
        "batch_words": f"{cfg['batch_size']} × {cfg['bptt']}",
        "epochs_words": f"{cfg['epochs']}",
    }


@prose("pw-lm")
def lm_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    counts = m["paper_counts"]
    small = counts["small"]
    return {
        **_ppl_words(result),
        "small_untied_count": f"{small['untied']['instantiated'] - small['untied']['redundant_bias']:,}",
        "small_tied_count": f"{small['tied']['instantiated'] - small['tied']['redundant_bias']:,}",
        "train_tokens_words": f"{m['corpus']['train_tokens']:,}",
        "eval_tokens_words": f"{m['corpus']['valid_tokens']:,}",
        "unk_pct": f"{m['corpus']['unk_rate']:.1%}",
        "simlex_coverage": f"{m['similarity']['simlex999']['coverage']:.0%}",
        "wordsim_coverage": f"{m['similarity']['wordsim353']['coverage']:.0%}",
        **large_model_speed(),
    }


def large_model_speed(path: Path = LARGE_SPEED_FILE) -> dict[str, str]:
    """What the committed benchmark of the large model (``benchmarks/bench_pw_large.py``) measured, as words: its
    date, machine and commit, the training tokens per second of each model on one thread, the model FLOPs
    utilisation, and the hours of the full 55-epoch schedule it implies.

    Speeds change from run to run and machine to machine: the page states the benchmark's numbers with their date.
    """
    data = speed_table(path, "bench_pw_large.py")
    rows, hours = data["variants"], data["estimated_hours"]
    return {
        "large_speed_date": data["date"],
        "large_speed_machine": data["machine"],
        "large_speed_commit": str(data["commit"])[:7],
        "large_tokens_untied": f"{rows['untied']['tokens_per_s']:,.0f}",
        "large_tokens_tied": f"{rows['tied']['tokens_per_s']:,.0f}",
        "large_step_s": f"{rows['untied']['step_s']:.1f}",
        "large_mfu": f"{min(r['mfu'] for r in rows.values()):.0%}–{max(r['mfu'] for r in rows.values()):.0%}",
        "large_matmul": f"{data['matmul_gflops']:.0f} GFLOP/s",
        "large_train_tokens": f"{data['train_tokens']['wikipedia']:,}",
        "large_epochs": f"{data['epochs']}",
        "large_hours": f"{hours['wikipedia']:,.0f}",
        "large_days": f"{hours['wikipedia'] / 24:.0f}",
        "large_hours_ptb": f"{hours['ptb']:,.0f}",
        "large_days_ptb": f"{hours['ptb'] / 24:.0f}",
    }


@prose("pw-lm-synthetic")
def synthetic_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    s, st = m["similarity"], m["structure"]
    out_better = s["out"]["rho"] > s["in"]["rho"]
    gap, gap_rare = s["out"]["rho"] - s["in"]["rho"], s["out"]["rho_rare"] - s["in"]["rho_rare"]
    closest = max(("in-out", "in-tied", "out-tied"), key=lambda k: st[k])
    return {
        **_ppl_words(result),
        "out_vs_in_words": "better" if out_better else "not better",
        "rare_gap_words": ("wider" if gap_rare > gap else "not wider"),
        "gap": f"{gap:.2f}",
        "gap_rare": f"{gap_rare:.2f}",
        "closest_words": {"in-out": "the untied input and output embeddings",
                          "in-tied": "the tied and the untied input embedding",
                          "out-tied": "the tied and the untied output embedding"}[closest],
    }
