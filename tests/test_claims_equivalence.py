"""The theory chapters' claims at quick scale, through run_or_load (computed once, then cached); their judges on
metrics that should fail or be untestable; the chapters' glued values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tiedemb.claims import FAILS, HOLDS, IDENTITY, UNTESTABLE
from tiedemb.experiments import all_experiments, run_or_load
from tiedemb.experiments.bertolotti.diagnose import DiagnoseConfig
from tiedemb.experiments.bertolotti.theorems import TheoremsConfig, TyingConfig, judge_theorems, judge_tying

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"eqv-theorems": ("B-T1", "B-T2", "B-T3", "B-T4"), "eqv-tying": ("B-T5", "B-L2", "B-L3")}
CONFIGS = {"eqv-theorems": TheoremsConfig, "eqv-tying": TyingConfig, "eqv-diagnose": DiagnoseConfig}


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()  # a fresh cache: a result cached by other code would warn (stale) and be recomputed
    mp.setenv("TIEDEMB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.mark.parametrize("name, label", [(n, lab) for n, labels in LABELS.items() for lab in labels])
def test_claim_holds_at_quick_scale(name, label):
    # Deterministic float64 checks (no seed noise): a regression of the solver, the model or the training breaks them.
    result = run_or_load(CONFIGS[name].quick())
    assert result.claim(label).verdict == HOLDS, result.claim(label)


def test_b_l1_is_an_identity_that_reports_a_failure_to_verify():
    cfg = TheoremsConfig.quick()
    m = run_or_load(cfg).metrics
    assert _verdicts(judge_theorems(cfg, m))["B-L1"] == IDENTITY
    assert _verdicts(judge_theorems(cfg, {**m, "l1_max_err": 1e-2}))["B-L1"] == FAILS


def test_every_theory_label_returned_by_exactly_one_experiment():
    wanted = {"B-T1", "B-T2", "B-T3", "B-T4", "B-T5", "B-L1", "B-L2", "B-L3"}
    seen = [c.label for e in all_experiments() if e.name.startswith("eqv-")
            for c in run_or_load(e.config_cls.quick()).claims]
    assert sorted(seen) == sorted(wanted)


def _verdicts(claims) -> dict[str, str]:
    return {c.label: c.verdict for c in claims}


def test_theorem_judge_fails_when_the_optimum_keeps_rows_equal_and_is_untestable_off_the_optimum():
    cfg = TheoremsConfig.quick()
    m = run_or_load(cfg).metrics
    # B-T3: a pair that is not ≡ but whose rows stayed together at the optimum contradicts the theorem
    assert _verdicts(judge_theorems(cfg, {**m, "t3_sep_dist_opt": 0.0}))["B-T3"] == FAILS
    # B-T1: an optimum that keeps a ∼ pair apart although the representations span
    assert _verdicts(judge_theorems(cfg, {**m, "t1_dist_opt": 0.5}))["B-T1"] == FAILS
    # B-T4: the counterexample disappears (rank-deficient body, rows equal)
    assert _verdicts(judge_theorems(cfg, {**m, "t4_body_dist_opt": 0.0}))["B-T4"] == FAILS
    # an instance not solved to the optimum says nothing about the optimum
    far = judge_theorems(cfg, {**m, "t4_out_excess": 1e-3, "t3_sep_excess": 1e-3})
    assert _verdicts(far)["B-T4"] == UNTESTABLE and _verdicts(far)["B-T3"] == UNTESTABLE
    assert "not met" in next(c for c in far if c.label == "B-T4").precondition


def test_tying_judge_fails_without_a_gap_and_is_untestable_when_untied_training_did_not_converge():
    cfg = TyingConfig.quick()
    m = run_or_load(cfg).metrics
    no_gap = {**m, "excess": {**m["excess"], "conflict": {"untied": 1e-8, "tied": 2e-8}}}
    assert _verdicts(judge_tying(cfg, no_gap))["B-T5"] == FAILS
    stuck = {**m, "excess": {**m["excess"], "freq": {"untied": 1e-2, "tied": 1e-8}}}
    claim = next(c for c in judge_tying(cfg, stuck) if c.label == "B-T5")
    assert claim.verdict == UNTESTABLE and "python -m tiedemb run eqv-tying --scale paper" in claim.precondition
    assert _verdicts(judge_tying(cfg, {**m, "random_min_contraction_eq": -1e-3}))["B-L2"] == FAILS
    assert _verdicts(judge_tying(cfg, {**m, "grad_closed_form_err": 1e-6}))["B-L2"] == FAILS


def test_diagnose_matches_exact_and_finds_planted_pairs():
    m = run_or_load(DiagnoseConfig.quick()).metrics
    assert m["xor_estimates_match_exact"] and m["xor_matches"] == m["xor_pairs"] == 3
    assert m["synthetic_planted_found"] == m["synthetic_planted"]
    rows = {r["pair"]: r for r in m["rows"] if r["source"] == "XOR main (exact)"}
    assert rows["0 / 1"]["dh"] == "fails: ≡ but not ∼" and rows["2 / 3"]["dh"] == "holds (≡ and ∼)"
    wiki = [r for r in m["rows"] if r["source"].startswith("Wikipedia")]
    assert m["wiki_cond_rejected"] == sum(not r["cond_equiv"] for r in wiki if r["evidence"] != "too few samples")


@pytest.mark.parametrize("notebook", ["book/theory/equivalences.ipynb", "book/theory/should_i_tie.ipynb"])
def test_every_glued_value_of_the_chapter_exists(notebook):
    # A renamed metric or prose key would leave an empty {glue:text} on the page.
    from tiedemb.book import glue_values

    cells = json.loads((ROOT / notebook).read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    keys = set(re.findall(r"\{glue:text\}`([^`:]+)", text))
    assert keys, f"{notebook} glues nothing"
    values = {f"{name}.{k}" for name, cls in CONFIGS.items() for k in glue_values(run_or_load(cls.quick()))}
    assert sorted(keys - values) == []


def test_bad_configs():
    from tiedemb.config import ConfigError

    with pytest.raises(ConfigError, match="deficient_rank"):
        TheoremsConfig(deficient_rank=5)
    with pytest.raises(ConfigError, match="steps"):
        TyingConfig(steps=0)
    with pytest.raises(ConfigError, match="permutations"):
        DiagnoseConfig(permutations=0)
