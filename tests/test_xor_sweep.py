"""The learning-rate sweep of the XOR main configuration (xor-lr-sweep): its configuration, its bookkeeping and its
figure, on a two-point sweep of a few hundred steps."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tiedemb.cache import cache_path
from tiedemb.config import ConfigError
from tiedemb.experiments import get, run_or_load
from tiedemb.experiments.bertolotti.xor import XorTransformerSmall, learned_threshold
from tiedemb.experiments.bertolotti.xor_sweep import (
    BAYES_MARGIN,
    XorLrSweepConfig,
    first_reaching,
)


def test_first_reaching_finds_the_first_step_or_minus_one():
    steps = np.array([0, 10, 20, 30])
    acc = np.array([[0.4, 0.6, 0.5, 0.7], [0.4, 0.4, 0.4, 0.4], [0.7, 0.7, 0.7, 0.7]])
    assert first_reaching(steps, acc, 0.6).tolist() == [10, -1, 0]


def test_presets_start_at_the_authors_configuration():
    paper = XorLrSweepConfig.paper()
    main = XorTransformerSmall.paper()
    assert paper.points[0] == (main.lr, main.weight_decay, main.t_max, main.d_model)  # the authors' first
    assert (1e-3, 0.01, 1_000, 4) in paper.points  # the authors' earlier Makefiles
    assert len(paper.seeds) == 10 and paper.steps == 30_000
    point = paper.point_config(paper.points[0])
    assert point.replace(steps=main.steps, seeds=main.seeds) == main  # nothing else departs from the paper
    quick = XorLrSweepConfig.quick()
    assert quick.point_config(quick.points[0]) == XorTransformerSmall.quick()  # the cached quick experiment
    # the wider points change d_model and d_ff together and nothing else; one decay is T_max = steps
    wide = paper.point_config((2e-3, 0.1, paper.steps, 8)).to_dict()
    narrow = paper.point_config((2e-3, 0.1, paper.steps, 4)).to_dict()
    assert {k for k in wide if wide[k] != narrow[k]} == {"d_model", "d_ff"}
    assert narrow == paper.point_config((2e-3, 0.1, paper.steps, None)).to_dict()


@pytest.mark.parametrize("changes, message", [
    (dict(lrs=(1e-3,), weight_decays=(0.1, 0.1), t_maxes=(10,)), "equal length"),
    (dict(lrs=(), weight_decays=(), t_maxes=()), "non-empty"),
    (dict(lrs=(1e-3, 1e-3), weight_decays=(0.1, 0.1), t_maxes=(10, 10)), "distinct"),
    (dict(lrs=(-1.0,), weight_decays=(0.1,), t_maxes=(10,)), "lrs must be a positive number"),
    (dict(lrs=(1e-3,), weight_decays=(0.1,), t_maxes=(0,)), "t_maxes must be a positive integer"),
    (dict(lrs=(1e-6,), weight_decays=(0.1,), t_maxes=(10,)), "eta_min"),
    (dict(lrs=(1e-3,), weight_decays=(0.1,), t_maxes=(10,), widths=(4, 8)), "one width per point"),
    (dict(lrs=(1e-3,), weight_decays=(0.1,), t_maxes=(10,), widths=(0,)), "widths must be a positive integer"),
    (dict(lrs=(1e-3, 1e-3), weight_decays=(0.1, 0.1), t_maxes=(10, 10), widths=(4, 4)), "distinct"),
])
def test_bad_sweeps_raise_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        XorLrSweepConfig.quick().replace(**changes)


def test_two_point_sweep_counts_what_its_runs_did(tmp_cache):
    cfg = XorLrSweepConfig.quick().replace(lrs=(1e-2, 1e-3), weight_decays=(0.1, 0.1), t_maxes=(300, 300),
                                           steps=300, seeds=(42, 43))
    result = run_or_load(cfg)
    m = result.metrics
    assert [(p["lr"], p["weight_decay"], p["t_max"]) for p in m["points"]] == [p[:3] for p in cfg.points]
    assert [p["d_model"] for p in m["points"]] == [XorTransformerSmall.quick().d_model] * 2
    for i, (point, row) in enumerate(zip(cfg.points, m["points"], strict=True)):
        # each point is the main experiment at those settings, cached under its own configuration
        pcfg = cfg.point_config(point)
        assert (cache_path(pcfg) / "result.json").is_file()
        own = run_or_load(pcfg).metrics
        final = np.asarray(own["acc"]["untied"]["per_seed"])
        assert row["n_reach"] == int((final >= own["bayes_accuracy"] - BAYES_MARGIN).sum())
        curves = result.arrays[f"acc_untied.{i}"]
        assert curves.shape == (2, len(result.arrays["eval_step"]))
        escape = first_reaching(result.arrays["eval_step"], curves, learned_threshold(own))
        assert row["escape_step"] == escape.tolist()
        lr = result.arrays[f"lr.{i}"]
        assert lr[0] == pytest.approx(point[0]) and lr.min() >= cfg.point_config(point).eta_min - 1e-12
    reliable = [i for i, r in enumerate(m["points"]) if r["n_reach"] >= 0.8 * r["n_runs"]]
    assert m["first_reliable"] == (reliable[0] if reliable else None)
    assert get("xor-lr-sweep").judge(cfg, m) == []


def test_sweep_figure_has_a_panel_per_point(tmp_cache):
    from tiedemb.plotting.bertolotti.xor import plot_lr_sweep

    cfg = XorLrSweepConfig.quick().replace(lrs=(1e-2, 3e-3, 1e-3, 5e-4), weight_decays=(0.1,) * 4,
                                           t_maxes=(100,) * 4, steps=100, seeds=(42, 43))
    fig = plot_lr_sweep(run_or_load(cfg))
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_ylabel() == "untied accuracy"]
    assert len(visible) == 4
    assert all(re.search(r": [0-2]/2 reach$", ax.get_title()) for ax in visible)


def test_the_trend_in_words_follows_the_counts():
    from tiedemb.book.bertolotti.xor import reach_trend

    def row(lr, n, wd=0.1):
        return dict(lr=lr, weight_decay=wd, t_max=10, n_reach=n, n_runs=10)

    assert reach_trend([row(1e-3, 0), row(1e-2, 4), row(3e-3, 2)]).startswith("grows")
    assert reach_trend([row(1e-3, 4), row(3e-3, 2)]).startswith("shrinks")
    assert reach_trend([row(1e-3, 1), row(3e-3, 1)]).startswith("does not change")
    words = reach_trend([row(5e-4, 1), row(1e-3, 0, wd=0.01), row(2e-3, 3), row(5e-3, 0)])
    assert words.startswith("is not monotone") and "lr 0.002 (3 of 10" in words
    assert "lr 0.001" not in words  # another weight decay: not part of the learning-rate trend
    assert reach_trend([row(1e-3, 0)]).startswith("cannot be told")
    wider = {**row(4e-3, 9), "d_model": 8}  # another width: not part of the learning-rate trend either
    assert reach_trend([row(1e-3, 0), row(2e-3, 1), wider]) == "grows with the peak learning rate (from 0 to 1 of 10)"


def test_point_words_name_one_decay_and_the_width():
    from tiedemb.experiments.bertolotti.xor_sweep import point_words

    row = dict(lr=2e-3, weight_decay=0.1, t_max=30_000, d_model=8, one_decay=True)
    assert point_words(row) == "lr 0.002 (weight decay 0.1, one decay, no restart, d 8)"
    assert point_words(row, short=True) == "lr 0.002, wd 0.1, one decay, d 8"  # a figure panel's title
    periodic = {**row, "t_max": 10_000, "one_decay": False}
    assert point_words(periodic) == "lr 0.002 (weight decay 0.1, T_max 10,000, d 8)"
    assert point_words(periodic, short=True) == "lr 0.002, wd 0.1, T_max 10,000, d 8"


def test_the_departure_in_words_follows_the_first_reliable_point():
    from tiedemb.book.bertolotti.xor import sweep_prose
    from tiedemb.results import Result

    def row(lr, n):
        return dict(lr=lr, weight_decay=0.1, t_max=10, n_reach=n, n_runs=10, escape_lr=[None] * 10)

    def words(first, reach=(0, 9, 9)):
        rows = [row(lr, n) for lr, n in zip((5e-4, 2e-3, 3e-3), reach, strict=True)]
        return sweep_prose(Result("xor-lr-sweep", {}, {"points": rows, "first_reliable": first}, [], {}))

    none = words(None, reach=(0, 3, 3))
    assert none["departure"] == "none of the settings tried"
    assert none["most_reach"] == "lr 0.002 (weight decay 0.1, T_max 10), where 3 of 10 runs reach it"  # the first
    assert none["departure_next"] == ("no setting tried learns reliably within these steps; the most runs reach the "
                                      "Bayes level at lr 0.002 (weight decay 0.1, T_max 10) (3 of 10)")
    assert words(None, reach=(0, 0, 0))["departure_next"] == "no setting tried lets a single run reach the Bayes level"
    found = words(1)
    assert found["departure"].startswith("lr 0.002 (weight decay 0.1, T_max 10), where 9 of 10 runs reach it")
    assert found["departure_next"] == ("the first that does, lr 0.002 (weight decay 0.1, T_max 10), is the smallest "
                                       "departure found")
