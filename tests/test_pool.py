"""Many experiments in worker processes: the same results as a serial run; failures reported by name."""

import sys

import numpy as np
import pytest

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


def test_the_costliest_ready_experiment_starts_first(tmp_cache):
    from tiedemb.experiments.press_wolf.gradients import UpdateRuleConfig

    update = UpdateRuleConfig(n_groups=3, concepts_per_group=2, words_per_concept=2, train_tokens=2000,
                              valid_tokens=400, d_model=8, n_layers=1, batch_size=4, bptt=5, epochs=2, decay_start=2,
                              snapshots=4, n_pairs=30, seeds=(0,))
    order = []
    run_all([TINY[0], update], jobs=1, cost={"grad-check": 1.0, "grad-update-rule": 5.0}, report=order.append)
    assert [o.name for o in order] == ["grad-update-rule", "grad-check"]
    order.clear()
    run_all([update.replace(seeds=(1,)), TINY[1]], jobs=1, cost={"grad-check": 5.0}, report=order.append)
    assert [o.name for o in order] == ["grad-check", "grad-update-rule"]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_workers_end_when_the_batch_process_is_killed(tmp_path):
    """`run --all` killed (not interrupted at a terminal) leaves no worker computing on its own (Linux)."""
    import os
    import signal
    import subprocess
    import time

    env = {**os.environ, "TIEDEMB_CACHE_DIR": str(tmp_path), "TIEDEMB_PROGRESS": "0"}
    parent = subprocess.Popen([sys.executable, "-m", "tiedemb", "run", "--all", "--jobs", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while time.monotonic() < deadline and len(children) < 2:
            time.sleep(0.5)
            out = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout
            children = [int(p) for p in out.split()]
        assert children, "no worker started"
        workers = [p for p in children if "spawn_main" in _cmdline(p)]
        assert workers, "no worker among the children"
        time.sleep(2)
        parent.send_signal(signal.SIGKILL)  # a worker may still be importing: it must end once it has started
        parent.wait()
        deadline = time.monotonic() + 90
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(1)
            alive = [p for p in workers if os.path.exists(f"/proc/{p}")]
        assert not alive, f"workers {alive} outlived the killed batch"
    finally:
        parent.kill()
