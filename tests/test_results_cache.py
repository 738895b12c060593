import json

import numpy as np
import pytest

from tiedemb.cache import ResultMissing, StaleResultWarning, cache_path
from tiedemb.claims import judge
from tiedemb.experiments import run_or_load
from tiedemb.experiments.press_wolf.gradients import GradCheckConfig, UpdateRuleConfig
from tiedemb.results import Result, ResultError

TINY = GradCheckConfig(vocab_size=8, d_model=4, n_layers=1, d_ff=4, batch_size=2, seq_len=4, batches=1,
                       gradcheck_vocab=4, seeds=(0,))


def _result():
    return Result("grad-check", TINY.to_dict(), {"x": 1.5, "nested": {"y": [1, 2]}},
                  [judge("PW-T1", "s", "p", "o", True)], {"curve": np.arange(4.0)}, {"wall_time_s": 1.0})


def test_save_load_round_trip(tmp_path):
    folder = _result().save(tmp_path / "r")
    loaded = Result.load(folder)
    assert loaded.metrics == {"x": 1.5, "nested": {"y": [1, 2]}}
    assert loaded.claims[0].label == "PW-T1"
    np.testing.assert_array_equal(loaded.arrays["curve"], np.arange(4.0))
    assert loaded.provenance["wall_time_s"] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary folders left behind


def test_non_finite_numbers_are_refused_and_nothing_is_written(tmp_path):
    bad = _result()
    bad.metrics["x"] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        bad.save(tmp_path / "r")
    assert list(tmp_path.iterdir()) == []


def test_load_reports_corruption(tmp_path):
    folder = _result().save(tmp_path / "r")
    (folder / "result.json").write_text("{not json")
    with pytest.raises(ResultError, match="not valid JSON"):
        Result.load(folder)
    with pytest.raises(ResultError, match="no result.json"):
        Result.load(tmp_path / "missing")


def test_run_or_load_computes_once_then_loads(tmp_cache):
    first = run_or_load(TINY)
    folder = cache_path(TINY)
    assert (folder / "result.json").is_file()
    stamp = (folder / "result.json").stat().st_mtime_ns
    second = run_or_load(TINY)
    assert (folder / "result.json").stat().st_mtime_ns == stamp
    assert second.metrics == json.loads(json.dumps(first.metrics))
    data = json.loads((folder / "result.json").read_text())
    for key in ("config", "metrics", "claims", "seeds", "package_version", "code_version", "git_commit",
                "wall_time_s", "device"):
        assert key in data
    assert set(data["claims"][0]) == {"label", "statement", "paper", "ours", "verdict", "precondition"}


def test_loaded_verdicts_are_judged_again_by_the_current_code(tmp_cache):
    first = run_or_load(TINY)
    path = cache_path(TINY) / "result.json"
    data = json.loads(path.read_text())
    label = data["claims"][0]["label"]
    true_verdict = data["claims"][0]["verdict"]
    data["claims"][0]["verdict"] = "does not hold" if true_verdict != "does not hold" else "holds"
    path.write_text(json.dumps(data))
    loaded = run_or_load(TINY)
    assert [c.verdict for c in loaded.claims] == [c.verdict for c in first.claims]
    assert loaded.changed_verdicts == [label]
    assert loaded.stored_claims[0].verdict != true_verdict


def test_corrupt_cache_entry_is_recomputed_with_a_warning(tmp_cache):
    run_or_load(TINY)
    (cache_path(TINY) / "result.json").write_text("garbage")
    with pytest.warns(StaleResultWarning, match="corrupt"):
        result = run_or_load(TINY)
    assert result.claims


def test_stale_cache_entry_is_recomputed_with_a_warning(tmp_cache):
    run_or_load(TINY)
    path = cache_path(TINY) / "result.json"
    data = json.loads(path.read_text())
    data["code_version"] = "0000000000000000"
    path.write_text(json.dumps(data))
    with pytest.warns(StaleResultWarning, match="code version 0000000000000000"):
        run_or_load(TINY)
    assert json.loads(path.read_text())["code_version"] != "0000000000000000"


def test_missing_paper_result_names_the_command(tmp_cache, monkeypatch):
    monkeypatch.setenv("TIEDEMB_RESULTS_DIR", str(tmp_cache / "none"))
    with pytest.raises(ResultMissing, match="python -m tiedemb run grad-update-rule --scale paper"):
        run_or_load(UpdateRuleConfig.paper())


def test_same_config_same_numbers(tmp_cache):
    from tiedemb.experiments import compute

    a, b = compute(TINY), compute(TINY)
    assert a.metrics == b.metrics
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])


def test_each_experiment_depends_on_its_own_import_closure():
    from tiedemb.config import PACKAGE_ROOT
    from tiedemb.experiments import get
    from tiedemb.results import code_version, import_closure

    def rel(module):
        return {p.relative_to(PACKAGE_ROOT).as_posix() for p in import_closure(module)}

    nv = rel(get("nv-minilm").run.__module__)
    assert {"experiments/yamagiwa/norm_variance.py", "theory/yamagiwa.py", "train/loop.py", "__init__.py",
            "experiments/yamagiwa/__init__.py"} <= nv
    assert "experiments/__init__.py" not in nv, "the registry does not make the numbers"
    assert not any("xor" in f or f.startswith(("plotting", "book")) for f in nv)
    assert "data/xor.py" in rel(get("xor-transformer-small").run.__module__)
    # experiments of one module share a version; another module's experiments do not; `after` is folded in
    assert code_version("nv-minilm") == code_version("nv-scratch") != code_version("pw-lm")
    assert code_version("xor-other-bodies") != code_version("xor-lstm-small")
    with pytest.raises(ValueError, match="not a module of the tiedemb package"):
        import_closure("tiedemb.no_such_module")


def test_the_import_closure_holds_every_module_an_import_really_loads():
    """The static closure against what Python loads: import each experiment module in a fresh interpreter."""
    import subprocess
    import sys
    from pathlib import Path

    from tiedemb.config import PACKAGE_ROOT
    from tiedemb.experiments import all_experiments
    from tiedemb.results import _presentation, import_closure

    modules = sorted({e.run.__module__ for e in all_experiments()})
    script = ("import importlib, sys, json; mods = json.loads(sys.argv[1]); out = {}\n"
              "for m in mods:\n"
              "    importlib.import_module(m)\n"
              "    out[m] = sorted(getattr(sys.modules[k], '__file__', '') or '' for k in sys.modules\n"
              "                    if k == 'tiedemb' or k.startswith('tiedemb.'))\n"
              "print(json.dumps(out))")
    for module in modules:  # one interpreter per module: nothing loaded by an earlier one
        loaded = json.loads(subprocess.run([sys.executable, "-c", script, json.dumps([module])], capture_output=True,
                                           text=True, check=True).stdout)[module]
        real = {Path(f).resolve() for f in loaded if f and not _presentation(Path(f).resolve())}
        missing = sorted(str(p.relative_to(PACKAGE_ROOT)) for p in real - {p.resolve() for p in import_closure(module)})
        assert not missing, f"{module}: loaded but not in its closure: {missing}"


def test_an_experiment_that_reads_another_declares_it():
    """A result read through run_or_load must be named in `after`, or its code would not be in the reader's version."""
    import ast
    import inspect

    from tiedemb.experiments import all_experiments

    for e in all_experiments():
        source = inspect.getsource(inspect.getmodule(e.run))
        calls = {n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)}
        if "run_or_load" in calls:
            readers = [x for x in all_experiments() if x.run.__module__ == e.run.__module__]
            assert any(x.after for x in readers), f"{e.run.__module__} calls run_or_load but declares no `after`"


def test_a_committed_configuration_other_than_the_preset_is_found_by_its_key(tmp_cache, monkeypatch):
    from tiedemb.cache import committed_path, load_committed

    committed = tmp_cache / "committed"
    monkeypatch.setenv("TIEDEMB_RESULTS_DIR", str(committed))
    cfg = TINY.replace(scale="paper")
    other = cfg.replace(d_model=6)
    assert load_committed(cfg) is None
    run_or_load(cfg, compute_missing=True).save(committed_path(cfg, committed))
    loaded = load_committed(cfg)
    assert loaded is not None and loaded.config == cfg.to_dict()
    assert load_committed(other) is None  # another configuration's key: not found, never mistaken for it
    (cache_path(cfg) / "result.json").unlink()  # no cache: run_or_load at paper scale falls back on the commit
    assert run_or_load(cfg).metrics == loaded.metrics


def test_a_result_is_labelled_with_the_code_version_read_before_it_ran(tmp_cache, monkeypatch):
    """A file changed while an experiment runs (a merge during a long run) must not label a result computed by the
    code before the change with the code after it."""
    import tiedemb.experiments as experiments

    versions = iter(["before", "after", "after"])
    monkeypatch.setattr(experiments, "code_version", lambda name: next(versions))
    result = experiments.compute(TINY)
    assert result.provenance["code_version"] == "before"


def test_every_computation_runs_on_the_configured_number_of_threads(tmp_cache, monkeypatch):
    """Whatever the calling process set (a notebook, a test, a worker), an experiment computes on TIEDEMB_THREADS
    threads: float32 results depend on the summation order, which depends on the thread count."""
    import dataclasses

    import torch

    import tiedemb.experiments as experiments

    seen = []
    monkeypatch.setenv("TIEDEMB_THREADS", "1")
    exp = experiments.get("grad-check")
    monkeypatch.setattr(experiments, "code_version", lambda name: "test")  # the wrapper below is not package code
    monkeypatch.setitem(experiments._REGISTRY, "grad-check", dataclasses.replace(
        exp, run=lambda cfg: seen.append(torch.get_num_threads()) or exp.run(cfg)))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        experiments.compute(TINY)
    finally:
        torch.set_num_threads(before)
    assert seen == [1]
