import pytest

from tiedemb.config import X86_64, ConfigError, book_scale, check_seeds, num_threads, parse_seeds, progress_enabled
from tiedemb.experiments.press_wolf.gradients import GradCheckConfig, UpdateRuleConfig


def test_book_scale_default_and_values(monkeypatch):
    monkeypatch.delenv("BOOK_SCALE", raising=False)
    assert book_scale() == "quick"
    monkeypatch.setenv("BOOK_SCALE", "paper")
    assert book_scale() == "paper"
    assert GradCheckConfig.for_scale().scale == "paper"


def test_book_scale_rejects_unknown(monkeypatch):
    monkeypatch.setenv("BOOK_SCALE", "huge")
    with pytest.raises(ConfigError, match="BOOK_SCALE.*'huge'.*quick, paper"):
        book_scale()


@pytest.mark.parametrize(("text", "seeds"), [("0", (0,)), ("0,1,2", (0, 1, 2)), ("42-46", (42, 43, 44, 45, 46)),
                                              ("1, 5-6", (1, 5, 6))])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(("text", "message"), [("", "empty item"), ("a", "not an integer"), ("3-1", "decreasing"),
                                               ("1,1", "duplicates"), ("-1", "not an integer")])
def test_parse_seeds_rejects(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_seeds(text)


def test_check_seeds_range():
    with pytest.raises(ConfigError, match="at least one"):
        check_seeds(())
    with pytest.raises(ConfigError, match=r"\[0, 2\*\*31\)"):
        check_seeds((2**31,))


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="vocab_size must be a positive integer"):
        GradCheckConfig(vocab_size=0)
    with pytest.raises(ConfigError, match="unknown scale 'medium'"):
        GradCheckConfig(scale="medium")
    with pytest.raises(ConfigError, match="lr must be a positive number"):
        UpdateRuleConfig(lr=-1.0)
    with pytest.raises(ConfigError, match="divisible by n_heads"):
        GradCheckConfig(d_model=15)
    with pytest.raises(ConfigError, match="train_tokens"):
        UpdateRuleConfig(train_tokens=100)


def test_configs_are_frozen_and_replace_validates():
    cfg = GradCheckConfig.quick()
    with pytest.raises(AttributeError):
        cfg.vocab_size = 3
    assert cfg.replace(seeds=(5,)).seeds == (5,)
    with pytest.raises(ConfigError):
        cfg.replace(batches=0)


def test_paper_configs_are_the_papers():
    paper = UpdateRuleConfig.paper()
    assert (paper.d_model, paper.n_layers, paper.batch_size, paper.bptt, paper.epochs) == (200, 2, 20, 20, 13)
    assert paper.vocab_size == 10_000
    assert GradCheckConfig.paper().vocab_size == 10_000


def test_threads_and_progress_settings(monkeypatch):
    monkeypatch.setenv("TIEDEMB_THREADS", "2")
    assert num_threads() == 2
    monkeypatch.setenv("TIEDEMB_THREADS", "zero")
    with pytest.raises(ConfigError, match="TIEDEMB_THREADS"):
        num_threads()
    monkeypatch.setenv("TIEDEMB_PROGRESS", "1")
    assert progress_enabled()
    monkeypatch.setenv("TIEDEMB_PROGRESS", "0")
    assert not progress_enabled()
    monkeypatch.delenv("TIEDEMB_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()


def _kernels_in_fresh_process(env_overrides):
    """MKL's instruction cap and torch's CPU capability in a fresh interpreter that imports tiedemb, then computes."""
    import json
    import os
    import subprocess
    import sys

    from tiedemb.config import CPU_KERNEL_PINS

    env = {k: v for k, v in os.environ.items() if k not in {*CPU_KERNEL_PINS, "TIEDEMB_NATIVE_KERNELS"}}
    env.update(env_overrides)
    code = ("import json, os, torch, tiedemb; torch.ones(4).exp(); "
            "print(json.dumps([os.environ.get('MKL_ENABLE_INSTRUCTIONS'), torch.backends.cpu.get_cpu_capability()]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not X86_64, reason="x86-64 only")
def test_cpu_kernels_are_pinned_on_import_even_after_torch():
    # torch is imported before tiedemb in the child, as a user's notebook may do: the pins still take effect.
    mkl, capability = _kernels_in_fresh_process({})
    assert mkl == "AVX2"
    assert capability in {"AVX2", "DEFAULT"}  # AVX2, or the plain kernels on a machine without it; never AVX512


@pytest.mark.skipif(not X86_64, reason="x86-64 only")
def test_cpu_kernel_pins_respect_the_user():
    user = {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ATEN_CPU_CAPABILITY": "default"}
    assert _kernels_in_fresh_process(user) == ["SSE4_2", "DEFAULT"]
    assert _kernels_in_fresh_process({"TIEDEMB_NATIVE_KERNELS": "1"})[0] is None
