"""The twin MLM sweep (mlm-twins-point, mlm-twins-sweep): configuration checks, the bookkeeping of a two-point sweep
on a tiny text (each point cached under its own configuration), and the sweep figure."""

from __future__ import annotations

import numpy as np
import pytest

from tiedemb.cache import cache_path
from tiedemb.config import ConfigError
from tiedemb.experiments import get, run_or_load
from tiedemb.experiments.bertolotti.mlm import CLOSE
from tiedemb.experiments.bertolotti.mlm_sweep import (
    POINT_FIELDS,
    MLMTwinPointConfig,
    MLMTwinsSweepConfig,
    point_metrics,
)
from tiedemb.seeding import numpy_rng

TINY = dict(vocab_size=60, n_twins=10, n_random_pairs=10, seq_len=16, d_model=8, d_ff=16, batch_size=4,
            checkpoints=2, valid_sequences=4)


@pytest.mark.parametrize("changes, message", [
    (dict(optimizer="adam"), "optimizer must be one of"),
    (dict(optimizer="sgd", weight_decay=0.1), "weight_decay must be 0 with optimizer 'sgd'"),
    (dict(twin_rank=-1), "twin_rank must be a non-negative integer"),
    (dict(twin_rank=990), "vocab_size .* frequency rank"),
    (dict(swap=1.0), "swap must lie strictly between 0 and 1"),
    (dict(lr=1e-6), "eta_min must be >= 0 and below lr"),
    (dict(steps=0), "steps must be a positive integer"),
    (dict(n_random_pairs=5000), "n_random_pairs"),
])
def test_bad_points_raise_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        MLMTwinPointConfig.quick().replace(**changes)


@pytest.mark.parametrize("points, message", [
    ((), "at least one point"),
    ((("adamw", 1e-2, 0.1, 0.05, 100),), "each point must give 7 values"),
    ((("adamw", 1e-2, 0.1, 0.05, 100, 0, 0.5),) * 2, "distinct"),
    ((("sgd", 1.0, 0.1, 0.05, 100, 0, 0.5),), "weight_decay must be 0 with optimizer 'sgd'"),
])
def test_bad_sweeps_raise_clear_errors(points, message):
    with pytest.raises(ConfigError, match=message):
        MLMTwinsSweepConfig.quick().replace(points=points)


def test_presets_have_three_seeds_and_valid_points():
    for cfg in (MLMTwinsSweepConfig.quick(), MLMTwinsSweepConfig.paper()):
        assert len(cfg.seeds) >= 3
        for p in cfg.points:
            point = cfg.point_config(p)
            assert {f: getattr(point, f) for f in POINT_FIELDS} == dict(zip(POINT_FIELDS, p, strict=True))
    paper = MLMTwinsSweepConfig.paper()
    assert {p[0] for p in paper.points} == {"adamw", "sgd"}  # both optimisers
    assert len({p[5] for p in paper.points}) > 1  # top and mid-frequency twins
    assert set(MLMTwinsSweepConfig.quick().points) <= set(paper.points)


def test_point_metrics_ratio_and_criterion():
    steps = np.array([0, 5, 10])
    a = {"step": steps}
    for model in ("untied", "tied"):
        for k, d in (("twin", 1.0), ("rand", 4.0)):
            for role in ("in", "out"):
                a[f"{model}_{k}_{role}"] = np.full((2, 3, 4), d)
        a[f"{model}_valid_loss"] = np.array([[3.0, 2.0, 2.0], [3.0, 2.0, 1.9]])
        a[f"{model}_valid_acc"] = np.full((2, 3), 0.4)
    a["untied_twin_in"][1, -1] = 3.0  # seed 1: input twins 3/4 of the random distance
    m = point_metrics(a, 1.0)
    assert m["ratio"]["in"] == [0.25, 0.75] and m["ratio"]["tied"] == [0.25, 0.25]
    assert m["close"] is False  # one seed is not close in the input embedding
    assert m["loss_drop"]["untied"] == pytest.approx([0.0, 0.05])
    assert m["plateau"] is False
    a["untied_twin_in"][1, -1] = 1.0
    assert point_metrics(a, 1.0)["close"] is True and 0.25 <= CLOSE
    a["tied_twin_in"][0, -1] = np.nan  # seed 0 of the tied model diverged
    m = point_metrics(a, 1.0)
    assert m["ratio"]["tied"] == [None, 0.25] and m["ratio_mean"]["tied"] == 0.25
    assert m["diverged"] == 1 and m["close"] is False


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "t.txt"
    rng = numpy_rng(5)
    path.write_text("\n\n".join(" ".join(f"w{int(k)}" for k in rng.zipf(1.3, 300) % 200) for _ in range(30)),
                    encoding="utf8")
    points = (("adamw", 1e-2, 0.1, 0.05, 6, 0, 0.5), ("sgd", 0.5, 0.0, 0.05, 4, 5, 0.1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEDEMB_CACHE_DIR", str(folder / "cache"))
        # the points' preset, made tiny: a sweep of the tiny text
        tiny = MLMTwinPointConfig.quick().replace(source=str(path), **TINY)
        mp.setattr(MLMTwinPointConfig, "quick", classmethod(lambda cls: tiny))
        cfg = MLMTwinsSweepConfig.quick().replace(points=points, seeds=(0, 1, 2))
        result = run_or_load(cfg)
        again = run_or_load(cfg)  # from the cache (a stale or mismatched entry would warn, and warnings fail)
        assert again.provenance == result.provenance
        yield cfg, result, [run_or_load(cfg.point_config(p)) for p in points], [cache_path(cfg.point_config(p))
                                                                                  for p in points]


def test_sweep_bookkeeping(tiny_sweep):
    cfg, result, points, folders = tiny_sweep
    rows = result.metrics["points"]
    assert [tuple(r[f] for f in POINT_FIELDS) for r in rows] == list(cfg.points)
    for i, (row, own, folder) in enumerate(zip(rows, points, folders, strict=True)):
        assert (folder / "result.json").is_file()  # each point is cached under its own configuration
        assert row["ratio"] == own.metrics["ratio"] and len(row["ratio"]["in"]) == 3  # one ratio per seed
        twin, rand = own.arrays["untied_twin_in"][:, -1].mean(axis=1), own.arrays["untied_rand_in"][:, -1].mean(axis=1)
        np.testing.assert_allclose(row["ratio"]["in"], twin / rand)
        assert result.arrays[f"twin_in.{i}"].shape == (3, len(result.arrays[f"step.{i}"]))
    assert own.arrays["untied_twin_in"].shape[2] == 10
    close = [i for i, r in enumerate(rows) if r["close"] and r["swap"] == 0.5]
    assert result.metrics["cheapest_close"] == (min(close, key=lambda i: rows[i]["steps"]) if close else None)
    assert get("mlm-twins-sweep").judge(cfg, result.metrics) == []


def test_sweep_figure(tiny_sweep):
    from tiedemb.experiments.bertolotti.mlm_sweep import point_label
    from tiedemb.plotting.bertolotti.mlm import plot_twin_sweep

    _, result, _, _ = tiny_sweep
    fig = plot_twin_sweep(result)
    assert len(fig.axes) == 3
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [point_label(r) for r in result.metrics["points"]]
    assert "SGD lr 0.5, σ 0.05, 4 steps, ranks 6+, swap 0.1" in labels


def test_surface_grids_find_the_paper_sweep_s_grids():
    from tiedemb.experiments.bertolotti.mlm_sweep import PAPER_POINTS
    from tiedemb.plotting.bertolotti.mlm import surface_grids

    rows = [dict(zip(POINT_FIELDS, p, strict=True)) for p in PAPER_POINTS]
    grids = surface_grids(rows)
    assert [(title, y, x, len(idx)) for title, y, x, idx in grids] == [
        ("AdamW, σ 0.05, 1,000 steps", "lr", "weight_decay", 9), ("AdamW, σ 0.3, 1,000 steps", "lr", "weight_decay", 9),
        ("SGD, 1,000 steps", "lr", "init_std", 6)]
    for _, y, x, idx in grids:  # each cell of a grid is one point
        assert len({(rows[i][y], rows[i][x]) for i in idx}) == len(idx)


def test_sweep_surface_figure_writes_every_value(tiny_sweep):
    from tiedemb.plotting.bertolotti.mlm import plot_twin_sweep_surface, surface_grids

    _, result, _, _ = tiny_sweep
    rows = result.metrics["points"]
    grids = surface_grids(rows)
    fig = plot_twin_sweep_surface(result)
    assert len(fig.axes) == 3 * len(grids) + 1  # the panels and the colour bar
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == len(grids[0][3])
    for i, text in zip(grids[0][3], texts, strict=True):
        value = rows[i]["ratio_mean"]["in"]
        assert text.rstrip("*") == ("diverged" if value is None else f"{value:.2f}")
    mid_only = [{**r, "twin_rank": 5} for r in rows]  # nothing to draw: a figure that says so, no error
    assert surface_grids(mid_only) == []
    empty = plot_twin_sweep_surface(type(result)(result.name, result.config, {**result.metrics, "points": mid_only},
                                                 [], {}))
    assert "no surface" in empty.axes[0].texts[0].get_text()


def test_sweep_prose_follows_the_numbers(tiny_sweep):
    from tiedemb.book import prose_text

    _, result, _, _ = tiny_sweep
    t = prose_text(result)
    rows = result.metrics["points"]
    assert t["sweep_n_seeds"] == "3" and t["sweep_points"].count(";") >= len(rows) - 1
    assert t["sweep_outcome"].startswith("no point") == (result.metrics["cheapest_close"] is None)
    dh = [r for r in rows if r["swap"] == 0.5 and r["ratio_mean"]["in"] is not None]
    assert t["sweep_range_in"].startswith(f"{min(r['ratio_mean']['in'] for r in dh):.2f}")
    rows[0]["close"], result.metrics["cheapest_close"] = True, 0  # a close point is named
    assert "AdamW lr 0.01, wd 0.1" in prose_text(result)["sweep_outcome"]


def test_the_point_preset_is_the_quick_sweep_s_first_point():
    """`run --all` computes both experiments: the point's own quick run must be one the sweep reads, not extra work."""
    sweep = MLMTwinsSweepConfig.quick()
    assert sweep.point_config(sweep.points[0]) == MLMTwinPointConfig.quick()


def test_the_chapter_finds_the_committed_points_of_the_paper_sweep(tmp_path, monkeypatch):
    from tiedemb.book.bertolotti.mlm import committed_sweep_points
    from tiedemb.cache import committed_path
    from tiedemb.results import Result

    monkeypatch.setattr("tiedemb.cache.results_dirs", lambda: [tmp_path])
    assert committed_sweep_points() == ()
    full = MLMTwinsSweepConfig.paper()
    for p in (full.points[7], full.points[2]):
        cfg = full.point_config(p)
        Result(cfg.name, cfg.to_dict(), {}, [], {}).save(committed_path(cfg, tmp_path))
    assert committed_sweep_points() == (full.points[2], full.points[7])  # in the sweep's order


def test_sweep_prose_skips_an_embedding_that_diverged_in_every_seed(tiny_sweep):
    import copy

    from tiedemb.book import prose_text

    _, result, _, _ = tiny_sweep
    broken = copy.deepcopy(result)
    row = next(r for r in broken.metrics["points"] if r["swap"] == 0.5)
    row["ratio_mean"]["in"], row["ratio"]["in"] = None, [None] * len(row["ratio"]["in"])
    row["ratio_mean"]["tied"] = None
    t = prose_text(broken)  # no TypeError from comparing None with numbers
    others = [r["ratio_mean"]["in"] for r in broken.metrics["points"]
              if r["swap"] == 0.5 and r["ratio_mean"]["in"] is not None]
    assert not others  # the tiny sweep's only ✓DH point: its input ratio is gone, so no range
    assert t["sweep_range_in"] == "nothing (every point diverged)"
    assert "diverged" in t["sweep_points"]
