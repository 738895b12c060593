"""Prose values and tables of the "Tying in practice" section of ``book/press_wolf/language_models``."""

from __future__ import annotations

from ...results import Result
from .. import DataTable, prose


def practice_table(result: Result) -> DataTable:
    """What each demonstration found: the refused way, the right way, and the check."""
    m = result.metrics
    s, w, p, h = m["safetensors"], m["weight_decay"], m["projection"], m["huggingface"]
    rows = [
        ["saving with safetensors", "save_file(model.state_dict())", s["refused"] or "accepted",
         f"save_model/load_model: {', '.join(s['dropped'])} not stored; reloaded model tied: "
         f"{s['reloaded_tied']}; largest logit change {s['reloaded_max_diff']:.1g}"],
        ["weight decay", "groups by state-dict names", w["refused"] or "accepted",
         f"decay_groups: {' + '.join(f'{c:,}' for c in w['group_counts'])} = {sum(w['group_counts']):,} "
         f"parameters (the model has {w['count']:,}); shrink per step {w['shrink_measured']:.4f}, 1 − lr·wd = "
         f"{w['shrink_expected']:.4f}"],
        ["embedding size ≠ hidden size", "tie without a projection", p["refused"] or "accepted",
         f"with a projection: tied {p['tied']}, {p['count_tied']:,} parameters (arithmetic {p['analytic_tied']:,}); "
         f"untied {p['count_untied']:,}"],
        ["Hugging Face tie_word_embeddings", "load the saved files with tie_word_embeddings=False",
         f"missing: {', '.join(h['untied_missing']) or 'nothing'}; largest logit change {h['untied_max_diff']:.2f}",
         f"tied GPT-2: lm_head stored: {h['lm_head_stored']}; reloaded tied: {h['reloaded_tied']}, largest logit "
         f"change {h['reloaded_max_diff']:.1g}; {h['count']:,} parameters against {h['untied_count']:,} untied"],
    ]
    return DataTable(["question", "the tempting way", "what happens", "the right way, checked"], rows,
                     caption="Tying in practice, demonstrated on small models")


@prose("pw-practice")
def practice_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    s, w, p, h = m["safetensors"], m["weight_decay"], m["projection"], m["huggingface"]
    return {
        "shared_words": " and ".join(s["shared"][0]) if s["shared"] else "none",
        "dropped_words": ", ".join(s["dropped"]) or "nothing",
        "untied_missing_words": ", ".join(s["untied_missing"]) or "nothing",
        "group_total": f"{sum(w['group_counts']):,}",
        "naive_total": f"{w['naive_count']:,}",
        "count_words": f"{w['count']:,}",
        "shrink_words": f"{w['shrink_measured']:.4f}",
        "shrink_expected_words": f"{w['shrink_expected']:.4f}",
        "projection_saving": f"{p['count_untied'] - p['count_tied']:,}",
        "hf_saving": f"{h['untied_count'] - h['count']:,}",
        "hf_lm_head_words": "not stored" if not h["lm_head_stored"] else "stored",
        "hf_untied_missing_words": ", ".join(h["untied_missing"]) or "nothing",
        "hf_untied_diff": f"{h['untied_max_diff']:.2f}",
    }
