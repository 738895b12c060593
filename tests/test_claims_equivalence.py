"""The theory chapter's claims at quick scale, through run_or_load (computed once, then cached)."""

from __future__ import annotations

import pytest

from tiedemb.claims import HOLDS
from tiedemb.experiments import all_experiments, run_or_load
from tiedemb.experiments.bertolotti.theorems import DiagnoseConfig, TheoremsConfig, TyingConfig

LABELS = {"eqv-theorems": ("B-L1", "B-T1", "B-T2", "B-T3", "B-T4"), "eqv-tying": ("B-T5", "B-L2", "B-L3")}
CONFIGS = {"eqv-theorems": TheoremsConfig, "eqv-tying": TyingConfig}


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()  # a fresh cache: a result cached by other code would warn (stale) and be recomputed
    mp.setenv("TIEDEMB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.mark.parametrize("name, label", [(n, lab) for n, labels in LABELS.items() for lab in labels])
def test_claim_holds_at_quick_scale(name, label):
    result = run_or_load(CONFIGS[name].quick())
    assert result.claim(label).verdict == HOLDS, result.claim(label)


def test_every_theory_label_returned_by_exactly_one_experiment():
    wanted = {"B-T1", "B-T2", "B-T3", "B-T4", "B-T5", "B-L1", "B-L2", "B-L3"}
    seen = [c.label for e in all_experiments() if e.name.startswith("eqv-")
            for c in run_or_load(e.config_cls.quick()).claims]
    assert sorted(seen) == sorted(wanted)


def test_diagnose_matches_exact_and_finds_planted_pairs():
    m = run_or_load(DiagnoseConfig.quick()).metrics
    assert m["xor_estimates_match_exact"]
    assert m["synthetic_planted_found"] == m["synthetic_planted"]


def test_bad_configs():
    from tiedemb.config import ConfigError

    with pytest.raises(ConfigError, match="deficient_rank"):
        TheoremsConfig(deficient_rank=5)
    with pytest.raises(ConfigError, match="steps"):
        TyingConfig(steps=0)
