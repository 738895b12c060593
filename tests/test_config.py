import pytest

from tiedemb.config import ConfigError, book_scale, check_seeds, num_threads, parse_seeds, progress_enabled
from tiedemb.experiments.gradients import GradCheckConfig, UpdateRuleConfig


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
