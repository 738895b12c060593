"""The committed paper-scale result of the small Transformer: found by run_or_load, complete, with provenance."""

from __future__ import annotations

import numpy as np

from tiedemb.claims import VERDICTS
from tiedemb.experiments import run_or_load
from tiedemb.experiments.bertolotti.xor import CONFIGS


def test_committed_paper_result_loads_with_provenance():
    cfg = CONFIGS["xor-transformer-small"].paper()
    result = run_or_load(cfg)  # paper scale is never computed implicitly: this must come from results/paper/
    assert result.config == cfg.to_dict()
    assert result.config["steps"] == 150_000 and result.config["n_bits"] == 7
    for key in ("device", "git_commit", "code_version", "wall_time_s", "torch_version"):
        assert result.provenance.get(key), key
    assert [c.label for c in result.claims] == ["B-E1", "B-E2", "B-E3", "B-E4"]
    assert all(c.verdict in VERDICTS for c in result.claims)
    assert result.arrays["dist_out"].shape[:2] == (len(cfg.seeds), cfg.steps // cfg.record_every + 1)
    assert np.isfinite(result.arrays["acc_untied"]).all()
