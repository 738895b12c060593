"""Every committed paper-scale XOR result reproduces from its configuration: the first steps of its first two seeds
(the fewest a configuration allows), trained again by the current code, give the records stored with it.

The committed results took minutes to hours; replaying their first :data:`REPLAY` steps for two seeds (untied and tied)
takes seconds and catches a change of data stream, initialisation, optimiser or schedule that would make a rerun of
the committed command give other numbers. The batched ensemble trains each seed on its own data stream, so two seeds
trained alone follow the same paths as inside the ten-run ensemble, up to float32 summation order
(:data:`ATOL`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tiedemb.experiments import compute
from tiedemb.experiments.bertolotti.xor import CONFIGS
from tiedemb.results import Result

ROOT = Path(__file__).resolve().parents[1]
REPLAY = 500  # steps replayed (five evaluations; the distances move from the first step)
ATOL = 1e-4  # accuracies (expected over all contexts) and distances: float32 round-off of a batched run vs a single one

COMMITTED = sorted(p.parent for p in (ROOT / "results/paper").glob("xor-transformer-*/**/result.json"))


def test_there_are_committed_xor_results_to_replay():
    names = {Result.load(f).name for f in COMMITTED}
    assert "xor-transformer-small" in names


@pytest.mark.parametrize("folder", COMMITTED, ids=[str(f.relative_to(ROOT / "results/paper")) for f in COMMITTED])
def test_committed_xor_result_replays(folder):
    stored = Result.load(folder)
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.config.items() if k != "experiment"}
    cfg = CONFIGS[stored.name](**config)
    replay = compute(cfg.replace(steps=REPLAY, seeds=cfg.seeds[:2], checkpoint_every=0))
    for steps, names in (("eval_step", ("acc_untied", "acc_tied")), ("record_step", ("dist_in", "dist_out",
                                                                                       "dist_tied"))):
        n = len(replay.arrays[steps])
        np.testing.assert_array_equal(replay.arrays[steps], stored.arrays[steps][:n])
        for name in names:
            np.testing.assert_allclose(replay.arrays[name], stored.arrays[name][:2, :n], atol=ATOL, rtol=0,
                                       err_msg=f"{name} of seeds {cfg.seeds[:2]} in {folder}")
