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
        assert e.config_cls.for_scale("quick") == quick and e.config_cls.for_scale("paper") == paper
        assert quick.replace(scale="paper") != paper, f"{e.name}: the paper scale must be the paper's configuration, " \
            "not the quick one relabelled"
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
    departures = [e.name for e in all_experiments() if e.departure]
    assert {"mlm-twins-mid", "xor-departure"} <= set(departures)
    assert not {r[0] for t in board.tables for r in t.rows} & set(departures)
    assert sum(board.counts().values()) == len(labels)
    order = [next(i for i, p in enumerate(PAPERS.values()) if t.title.startswith(p)) for t in board.tables]
    assert order == sorted(order), "tables must follow the papers' order"


def test_scoreboard_renders(board):
    html = board._repr_html_()
    assert html.count("<table") == len(board.tables)
    assert "PW-T1" in html and "PW-T1" in repr(board)
    assert "<details>" in html, "the long 'ours' text sits in a dropdown"
    assert 'href="gradients/tied_gradients.html"' in html, "labels link to their chapter"


def test_claims_table_and_metric_lookup():
    r = Result("grad-check", {}, {"a": {"b": 2}}, [judge("B-T1", "s <x>", "p", "o", False)])
    table = claims_table(r)
    assert isinstance(table, ClaimTable)
    assert "s &lt;x&gt;" in table._repr_html_() and "does not hold" in table._repr_html_()
    head = table._repr_html_().split("</tr>")[0]
    assert head.count("<th>") == 5 and "scored by <code>grad-check</code>" in table._repr_html_()
    assert metric(r, "a.b") == 2
    with pytest.raises(KeyError, match="no metric 'a.c'"):
        metric(r, "a.c")


def _capture_glue(monkeypatch) -> dict:
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.setdefault(name, (value, display)))
    return glued


def test_glue_result_glues_metrics_prose_and_verdicts_once(monkeypatch):
    from tiedemb.book import glue_result
    from tiedemb.claims import Precondition

    glued = _capture_glue(monkeypatch)
    unmet = Precondition("the task is learned", "accuracy 0.5", met=False)
    claims = [judge("B-E1", "s", "p", "o", True, unmet), judge("B-E4", "s", "p", "o", False)]
    result = Result("x-fake", {}, {"a": {"b": 1.5}, "seeds": [1, 2], "timing": {"tokens_per_s": 9.0}}, claims, {})
    glue_result(result)
    assert glued["x-fake.a.b"] == (1.5, False)
    assert glued["x-fake.verdict.B-E1"] == ("not testable at this scale", False)
    assert glued["x-fake.verdict.B-E4"] == ("does not hold", False)
    assert "not met (accuracy 0.5)" in glued["x-fake.precondition.B-E1"][0]
    assert glued["x-fake.precondition.B-E4"][0] == "none"
    assert not any(k.startswith("x-fake.timing") for k in glued), "run-to-run timings must not be glued"
    assert "x-fake.seeds" not in glued
    assert not any(".provenance." in k for k in glued), "provenance is glued only when asked (committed results)"


def test_glue_prefix_and_provenance_text(monkeypatch):
    from tiedemb.book import glue_result, provenance_text
    from tiedemb.results import code_version

    glued = _capture_glue(monkeypatch)
    result = Result("x-fake", {}, {"a": 1}, [], {},
                    {"wall_time_s": 1500.0, "device": "cpu", "git_commit": "0123456789abcdef",
                     "code_version": "0000000000000000"})
    glue_result(result, prefix="xor-paper", provenance=True)
    assert glued["xor-paper.provenance.wall_time"][0] == "25 minutes"
    assert glued["xor-paper.provenance.commit"][0] == "0123456789"
    assert "older code version (0000000000000000)" in glued["xor-paper.provenance.code"][0]
    current = Result("grad-check", {}, {}, [], {}, {"code_version": code_version("grad-check")})
    assert provenance_text(current)["code"] == "the current code"
    assert provenance_text(Result("x-y", {}, {}, [], {}))["wall_time"] == "unknown"
    resumed = Result("x-y", {}, {}, [], {},
                     {"wall_time_s": 600.0, "resumed_trainings": 1, "earlier_processes_s": 300.0})
    assert provenance_text(resumed)["wall_time"] == "10 minutes (every process of the resumed run)"
    resumed.provenance = {"wall_time_s": 600.0, "resumed_trainings": 1,
                          "wall_time_covers": "the finishing process only"}
    assert provenance_text(resumed)["wall_time"] == "10 minutes (the finishing process only)"
    assert provenance_text(resumed)["train_time"] == "unknown"
    assert provenance_text(Result("x-y", {}, {"timing": {"train_seconds": 4669.3}}, [], {}))["train_time"] == \
        "78 minutes"


def test_prose_keys_may_not_shadow_metrics(monkeypatch):
    from tiedemb import book

    monkeypatch.setitem(book._PROSE, "x-shadow", lambda r: {"a": "text"})
    with pytest.raises(KeyError, match="shadows a metric"):
        book.glue_values(Result("x-shadow", {}, {"a": 1.0}, [], {}))


def test_every_experiment_is_judged_from_its_metrics():
    for e in all_experiments():
        assert e.judge is not None, f"{e.name} has no judge: verdicts must be computed from metrics on every load"


def test_summary_line_counts_each_kind():
    from tiedemb.book import summary_line

    counts = {"holds": 2, "does not hold": 1, "not testable at this scale": 0, "identity": 3}
    assert summary_line(counts) == "2 hold, 1 does not hold, 3 identities"


def test_measured_speed_reads_the_committed_benchmark(tmp_path):
    import json

    from tiedemb.book import SPEED_FILE, measured_speed

    path = tmp_path / "quick-speed.json"
    with pytest.raises(FileNotFoundError, match="bench_quick.py"):
        measured_speed("mlm-twins", path)
    row = {"date": "2026-12-02", "matmul_gflops": 60.0, "load_before": 0.1}
    path.write_text(json.dumps({"machine": "m, 2 cores", "experiments": {
        "mlm-twins": {**row, "wall_s": 120.4, "tokens_per_s": 54000.0, "model_flops_per_s": 2.0e10, "mfu": 2 / 6},
        "eqv-theorems": {**row, "wall_s": 5.0, "tokens_per_s": None, "model_flops_per_s": None, "mfu": None}}}))
    words = measured_speed("mlm-twins", path)
    assert words["speed_tokens"] == "54,000" and words["speed_mfu"] == "33%" and words["speed_wall"] == "120 s"
    assert words["speed_date"] == "2026-12-02" and words["speed_matmul"] == "60 GFLOP/s"
    assert "speed_mfu" not in measured_speed("eqv-theorems", path)
    with pytest.raises(KeyError, match="--only grad-check"):
        measured_speed("grad-check", path)
    # the committed table covers every chapter that states a speed
    assert "speed_mfu" in measured_speed("mlm-twins", SPEED_FILE)


def test_data_table_aligns_numbers_and_words():
    from tiedemb.book import DataTable

    table = DataTable(["model", "params", "ppl", "share"], [["untied", "4,651,600", "91.3", "–"],
                                                           ["WT", "2,651,600", "85.6", "39%"]], caption="c")
    html_text = table._repr_html_()
    assert '<th class="text">model</th><th class="num">params</th><th class="num">ppl</th>' in html_text
    assert '<td class="num">39%</td>' in html_text and 'class="data-table"' in html_text
    assert repr(table).splitlines()[0] == "c"


def test_data_table_takes_column_kinds_and_refuses_ragged_rows():
    from tiedemb.book import DataTable

    table = DataTable(["pair", "D (null)", "advice"], [["a–b", "0.012 (0.034)", "tie: nothing against it"]],
                      kinds=["text", "num", "text wide"])
    assert '<td class="num">0.012 (0.034)</td><td class="text wide">tie' in table._repr_html_()
    with pytest.raises(ValueError, match="2 column kinds for 3 columns"):
        DataTable(["a", "b", "c"], [], kinds=["num", "num"])
    with pytest.raises(ValueError, match="every row must have 3 cells"):
        DataTable(["a", "b", "c"], [["1", "2"]])


def test_diagnostic_table_puts_each_null_beside_its_divergence():
    from tiedemb.book.bertolotti.diagnose import diagnostic_table
    from tiedemb.results import Result

    row = {"source": "Wikipedia", "pair": "a–b", "count_a": 120.0, "count_b": 0.25, "D_sem": 0.1234,
           "D_sem_null": 0.05, "D_cond": 0.2, "D_cond_null": None, "dh": "✓DH", "expected": "–", "advice": "tie"}
    other = dict(row, source="XOR main (exact)")
    result = Result(name="eqv-diagnose", config={}, metrics={"rows": [row, other]}, claims=[])
    table = diagnostic_table(result, "Wikipedia")
    assert table.rows == [["a–b", "120", "0.250", "0.123 (0.050)", "0.200", "✓DH", "–", "tie"]]
    assert 'class="text wide">tie</td>' in table._repr_html_()
    with pytest.raises(ValueError, match="shows an eqv-diagnose result"):
        diagnostic_table(Result(name="xor", config={}, metrics={}, claims=[]), "")


def test_no_wall_time_is_glued(board):
    """Wall times change from run to run, so a page that glued one would fail nbval on a rerun: they belong under
    ``metrics["timing"]``, which glue skips. Checked on every quick result (read from the cache the scoreboard
    fixture filled) by the names of the glued values."""
    import re

    from tiedemb.book import glue_values, prose_text
    from tiedemb.experiments import all_experiments, run_or_load

    timing = re.compile(r"(seconds|wall|elapsed|duration|(^|[._])time([._]|$)|_s$|per_s$)", re.I)

    def glued_metrics(result):  # the run's own numbers (prose may quote committed benchmark files, which do not move)
        return [k for k in set(glue_values(result)) - set(prose_text(result)) if not k.startswith(("verdict.",
                                                                                                    "precondition."))]

    offending = {e.name: keys for e in all_experiments()
                 if (keys := [k for k in glued_metrics(run_or_load(e.config_cls.quick())) if timing.search(k)])}
    assert not offending, f"glued values that look like wall times (move them under metrics['timing']): {offending}"
