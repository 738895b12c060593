"""The registry and the scoreboard: every experiment has a chapter, every claim label is scored exactly once."""

from pathlib import Path

import pytest

from tiedemb.book import ClaimTable, claims_table, metric, scoreboard
from tiedemb.claims import PAPERS, judge
from tiedemb.experiments import UnknownExperiment, all_experiments, get
from tiedemb.results import Result

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_has_a_chapter_and_configs():
    for e in all_experiments():
        assert (ROOT / f"{e.chapter}.ipynb").is_file() or (ROOT / f"{e.chapter}.md").is_file(), e.chapter
        quick, paper = e.config_cls.quick(), e.config_cls.paper()
        assert (quick.scale, paper.scale) == ("quick", "paper")
        assert quick.name == paper.name == e.name


def test_unknown_experiment_lists_the_known_ones():
    with pytest.raises(UnknownExperiment, match="known experiments: .*grad-check"):
        get("grad-chekc")


@pytest.fixture(scope="module")
def board():
    return scoreboard("quick")


def test_scoreboard_scores_each_label_once(board):
    labels = [c.label for t in board.tables for _, c in t.rows]
    assert labels, "no claims on the scoreboard"
    assert len(labels) == len(set(labels)), f"labels scored by more than one experiment: {labels}"
    assert sum(board.counts().values()) == len(labels)
    order = [next(i for i, p in enumerate(PAPERS.values()) if t.title.startswith(p)) for t in board.tables]
    assert order == sorted(order), "tables must follow the papers' order"


def test_scoreboard_renders(board):
    html = board._repr_html_()
    assert html.count("<table") == len(board.tables)
    assert "PW-T1" in html and "PW-T1" in repr(board)


def test_claims_table_and_metric_lookup():
    r = Result("grad-check", {}, {"a": {"b": 2}}, [judge("B-T1", "s <x>", "p", "o", False)])
    table = claims_table(r)
    assert isinstance(table, ClaimTable)
    assert "s &lt;x&gt;" in table._repr_html_() and "does not hold" in table._repr_html_()
    assert metric(r, "a.b") == 2
    with pytest.raises(KeyError, match="no metric 'a.c'"):
        metric(r, "a.c")


def test_glue_metrics_takes_paths_or_a_mapping(monkeypatch):
    import myst_nb

    from tiedemb.book import glue_metrics

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.setdefault(name, (value, display)))
    result = Result("grad-check", {}, {"a": {"b": 1.5}, "text": {"c": "2.0"}}, [], {})
    glue_metrics(result, ["a.b"])
    glue_metrics(result, result.metrics["text"])
    assert glued == {"grad-check.a.b": (1.5, False), "grad-check.c": ("2.0", False)}
    with pytest.raises(KeyError, match="no metric 'a.x'"):
        glue_metrics(result, ["a.x"])
    with pytest.raises(TypeError, match="list of metric paths"):
        glue_metrics(result, "a.b")


def test_glue_prefix_and_provenance_text(monkeypatch):
    import myst_nb

    from tiedemb.book import glue_metrics, provenance_text

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.setdefault(name, value))
    result = Result("xor-transformer-small", {}, {"a": 1}, [], {},
                    {"wall_time_s": 1500.0, "device": "cpu", "git_commit": "0123456789abcdef"})
    glue_metrics(result, provenance_text(result), prefix="xor-paper")
    assert glued["xor-paper.wall_time"] == "25 minutes"
    assert glued["xor-paper.commit"] == "0123456789"
    assert provenance_text(Result("x-y", {}, {}, [], {}))["wall_time"] == "unknown"


def test_claim_verdicts_by_label():
    from tiedemb.book import claim_verdicts
    from tiedemb.claims import judge

    result = Result("x-y", {}, {}, [judge("B-E1", "s", "p", "o", True), judge("B-E4", "s", "p", "o", False)], {})
    assert claim_verdicts(result) == {"B-E1": "holds", "B-E4": "does not hold"}
