"""Prose values of the gradient chapter, ``book/gradients/tied_gradients`` (see :mod:`tiedemb.book`).

Words that state an outcome ("every row", "closer to the output embedding", "did not cost perplexity") are chosen
here from the result's numbers, so that the chapter's sentences stay true whatever a run gives.
"""

from __future__ import annotations

from ...results import Result
from .. import prose

PAPER_TABLE6_PARAMS = {"untied": 4.65e6, "tied": 2.65e6}
"""Press & Wolf (2017), Table 6: sizes of the small PTB model without and with weight tying (rounded to 0.01M)."""


@prose("grad-check")
def grad_check_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    n, k = m["batches_checked"], m["batches_input_rows_are_input_tokens"]
    tol = m["tolerance_relative"]
    err = m["max_relative_err"]["tied_identity_err"]
    return {
        "identity_err_words": (f"round-off (below the tolerance of {tol:.0e} relative to the largest gradient entry)"
                               if err < tol else f"more than round-off (the tolerance is {tol:.0e})"),
        "input_rows_words": ("exactly the words of the batch, in every batch" if k == n
                             else f"the words of the batch in only {k} of {n} batches"),
        "output_rows_words": ("every row of the output embedding has one" if m["min_output_rows_updated"] == 1.0
                              else f"only {m['min_output_rows_updated']:.0%} of the rows of the output embedding "
                                   f"have one in some batch"),
    }


@prose("grad-update-rule")
def update_rule_prose(result: Result) -> dict[str, str]:
    m = result.metrics
    low = m["min_update_fraction"]
    if low["out"] == 1.0 and low["tied"] == 1.0:
        every_step = "every row of the output embedding and of the tied matrix is updated at every step"
    else:
        every_step = (f"the least-updated row of the output embedding is updated at {low['out']:.0%} of the steps "
                      f"and that of the tied matrix at {low['tied']:.0%}")
    final, per_seed = m["final"], m["final_per_seed"]
    n = len(per_seed["rho_tied_out"])
    closer = sum(o > i for o, i in zip(per_seed["rho_tied_out"], per_seed["rho_tied_in"], strict=True))
    if final["rho_tied_out"] > final["rho_tied_in"]:
        tied_closer = (f"closer to the untied output embedding's than to the input embedding's (in {closer} of "
                       f"{n} seeds)")
    else:
        tied_closer = (f"closer to the untied input embedding's than to the output embedding's (closer to the "
                       f"output embedding's in {closer} of {n} seeds only)")
    ppl = m["valid_ppl_per_seed"]
    lower = sum(t < u for u, t in zip(ppl["untied"], ppl["tied"], strict=True))
    if lower == n:
        tying_ppl = f"tying did not cost perplexity here (the tied model's is the lower in each of the {n} seeds)"
    elif lower == 0:
        tying_ppl = f"tying cost perplexity here (the tied model's is the higher in each of the {n} seeds)"
    else:
        tying_ppl = f"no consistent difference (the tied model's is the lower in {lower} of {n} seeds)"
    saving = m["ptb_small_params"]["saving"]
    paper_saving = PAPER_TABLE6_PARAMS["untied"] - PAPER_TABLE6_PARAMS["tied"]
    same = round(saving / 1e6, 2) == round(paper_saving / 1e6, 2)
    return {
        "every_step_words": every_step,
        "tied_closer_words": tied_closer,
        "tying_ppl_words": tying_ppl,
        "ptb_saving_words": (f"{'equals' if same else 'differs from'} the {paper_saving / 1e6:.1f}M of the paper's "
                             f"Table 6 ({PAPER_TABLE6_PARAMS['untied'] / 1e6:.2f}M → "
                             f"{PAPER_TABLE6_PARAMS['tied'] / 1e6:.2f}M)"),
    }
