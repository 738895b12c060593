"""Many experiments in worker processes: the same results as a serial run; failures reported by name."""

import numpy as np

from tiedemb.cache import cache_path
from tiedemb.experiments import compute, run_or_load
from tiedemb.experiments.pool import CACHED, COMPUTED, FAILED, run_all
from tiedemb.experiments.press_wolf.gradients import GradCheckConfig

TINY = [GradCheckConfig(vocab_size=8, d_model=4, n_layers=1, d_ff=4, batch_size=2, seq_len=4, batches=1,
                        gradcheck_vocab=4, seeds=(seed,)) for seed in (0, 1)]


def test_pool_equals_serial_and_second_pass_is_cached(tmp_cache):
    seen = []
    summary = run_all(TINY, jobs=2, report=seen.append)
    assert [o.status for o in summary.outcomes] == [COMPUTED, COMPUTED]
    assert sorted(o.name for o in seen) == ["grad-check", "grad-check"]
    for cfg in TINY:
        pooled = run_or_load(cfg, compute_missing=False)
        serial = compute(cfg)
        assert pooled.metrics == serial.metrics
        for key in serial.arrays:
            np.testing.assert_array_equal(pooled.arrays[key], serial.arrays[key])
    again = run_all(TINY, jobs=2)
    assert [o.status for o in again.outcomes] == [CACHED, CACHED]
    assert "2 cached" in again.line()


def test_a_failure_is_reported_by_name_and_leaves_no_cache_entry(tmp_cache):
    bad = TINY[0].replace(seeds=(5,))
    object.__setattr__(bad, "d_model", "four")  # bypasses validation: the run itself fails in the worker
    summary = run_all([bad, TINY[1]], jobs=2, after={"grad-check": ()})
    status = {o.status for o in summary.outcomes}
    assert status == {FAILED, COMPUTED}
    failure = summary.failed[0]
    assert failure.name == "grad-check" and failure.error
    assert not cache_path(bad).exists()
