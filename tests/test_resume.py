"""Checkpoints carried from one checkout to another: saved from a cache, committed, restored into a fresh cache, and
the run resumed there ends with the numbers of an uninterrupted run."""

import pytest
import torch
from test_train_loop import SPEC, Regression, _model

from tiedemb.cli import main
from tiedemb.resume import checkpoint_step, checkpoints_in, restore_checkpoints, save_checkpoints
from tiedemb.train.loop import Stop, fit


def _fake(path, step):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": step, "model": {}}, path)


def test_a_run_stopped_in_one_cache_resumes_from_the_committed_copy_in_another(tmp_path):
    full_task, full_model = Regression(), _model()
    fit(full_model, full_task, steps=23, optim=SPEC)
    first, committed, second = tmp_path / "first", tmp_path / "results/checkpoints", tmp_path / "second"
    name = "exp/key-code.pt"
    with pytest.raises(Stop):
        fit(_model(), Regression(), steps=23, optim=SPEC, checkpoint=first / "checkpoints" / name,
            checkpoint_every=5, stop_after=17)
    saved = save_checkpoints(committed, cache=first)
    assert [(c.experiment, c.name, c.step) for c in saved] == [("exp", "key-code.pt", 15)]
    restored = restore_checkpoints(cache=second, committed=[committed])
    assert [c.step for c in restored] == [15]
    task, model = Regression(seed=99), _model()
    stats = fit(model, task, steps=23, optim=SPEC, checkpoint=second / "checkpoints" / name, checkpoint_every=5)
    assert stats.resumed_from == 15
    assert task.losses == full_task.losses
    assert torch.equal(model.weight, full_model.weight)
    assert (committed / (name + ".xz")).is_file(), "the committed copy (compressed) stays until the result is committed"


def test_restore_copies_what_the_cache_lacks_or_holds_at_an_earlier_step_only(tmp_path):
    committed, cache = tmp_path / "committed", tmp_path / "cache"
    _fake(committed / "a/one.pt", 300)
    _fake(committed / "a/two.pt", 300)
    _fake(committed / "b/three.pt", 300)
    _fake(cache / "checkpoints/a/one.pt", 100)  # older: replaced
    _fake(cache / "checkpoints/a/two.pt", 500)  # newer: kept
    copied = restore_checkpoints(cache=cache, committed=[committed])
    assert sorted((c.experiment, c.name) for c in copied) == [("a", "one.pt"), ("b", "three.pt")]
    steps = {f"{c.experiment}/{c.name}": c.step for c in checkpoints_in(cache / "checkpoints")}
    assert steps == {"a/one.pt": 300, "a/two.pt": 500, "b/three.pt": 300}
    assert restore_checkpoints(cache=cache, committed=[committed]) == []
    assert restore_checkpoints(cache=cache, committed=[tmp_path / "none"]) == []


def test_save_keeps_a_later_committed_copy(tmp_path):
    cache, dest = tmp_path / "cache", tmp_path / "dest"
    _fake(cache / "checkpoints/a/one.pt", 200)
    save_checkpoints(dest, cache=cache)
    _fake(cache / "checkpoints/a/one.pt", 100)
    assert save_checkpoints(dest, cache=cache) == []
    assert checkpoint_step(dest / "a/one.pt.xz") == 200


def test_a_file_that_is_not_a_checkpoint_is_named_in_the_error(tmp_path):
    bad = tmp_path / "a/broken.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pt is not a readable training checkpoint"):
        checkpoints_in(tmp_path)


def test_the_command_lists_and_saves_checkpoints(tmp_path, tmp_cache, monkeypatch, capsys):
    monkeypatch.setattr("tiedemb.config.results_dirs", lambda: [tmp_path / "committed"])  # not the checkout's
    assert main(["checkpoints"]) == 0
    assert "no checkpoints" in capsys.readouterr().out
    _fake(tmp_cache / "checkpoints/xor-mlp-medium/k-c.pt", 30_000)
    assert main(["checkpoints", "--save", str(tmp_path / "committed/checkpoints")]) == 0
    assert "step 30,000" in capsys.readouterr().out
    assert main(["checkpoints"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[:4] for line in out.splitlines()] == [["cache", "xor-mlp-medium", "step", "30,000"],
                                                               ["committed", "xor-mlp-medium", "step", "30,000"]]
    (tmp_cache / "checkpoints/xor-mlp-medium/k-c.pt").write_bytes(b"garbage")
    assert main(["checkpoints"]) == 2
    assert "k-c.pt is not a readable training checkpoint" in capsys.readouterr().err


def test_a_paper_scale_run_restores_the_committed_checkpoints_first(tmp_path, tmp_cache, monkeypatch, capsys):
    committed = tmp_path / "committed"
    _fake(committed / "checkpoints/xor-mlp-medium/k-c.pt", 40_000)
    monkeypatch.setattr("tiedemb.resume.results_dirs", lambda: [committed])
    # a committed result: loaded, nothing trained; the checkpoint is restored all the same
    assert main(["run", "xor-transformer-ydh", "--scale", "paper", "--out", str(tmp_path / "out")]) == 0
    assert "restored the committed checkpoint" in capsys.readouterr().err
    assert checkpoint_step(tmp_cache / "checkpoints/xor-mlp-medium/k-c.pt") == 40_000


def test_progress_says_how_far_a_run_is_where_its_checkpoint_tells(tmp_path):
    torch.save({"step": 60_000, "fingerprint": {"steps": 300_000}, "elapsed_s": 5_400.0}, tmp_path / "x.pt")
    torch.save({"step": 2_000, "fingerprint": {"config": {"steps": 30_000}}}, tmp_path / "y.pt")
    (tmp_path / "a").mkdir()
    for name in ("x.pt", "y.pt"):
        (tmp_path / name).rename(tmp_path / "a" / name)
    x, y = checkpoints_in(tmp_path)
    assert x.progress().split() == ["step", "60,000", "of", "300,000", "(20%),", "1.5", "h", "so", "far"]
    assert (y.total, y.elapsed_s) == (30_000, None) and y.progress().endswith("of 30,000 (7%)")


def test_save_writes_an_index_of_what_it_holds(tmp_path):
    cache, dest = tmp_path / "cache", tmp_path / "dest"
    path = cache / "checkpoints/xor-mlp-medium/c1dbe8fda12d39d2-3510c21b346c43db.pt"
    path.parent.mkdir(parents=True)
    torch.save({"step": 60_000, "fingerprint": {"steps": 300_000}}, path)
    save_checkpoints(dest, cache=cache)
    text = (dest / "README.md").read_text()
    assert ("| `xor-mlp-medium` | `c1dbe8fda12d39d2-3510c21b346c43db.pt.xz` | 60,000 of 300,000 (20%) | "
            "`3510c21b346c43db` |") in text
