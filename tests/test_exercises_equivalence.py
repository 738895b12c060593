"""Checkers of the theory chapter's exercises: they pass the book's solutions and explain common mistakes."""

from __future__ import annotations

from tiedemb.data.languages import HOLE, Language, sim_not_equiv_language, twin_language
from tiedemb.exercises import check_conditional_divergence, check_sim_not_equiv_language
from tiedemb.metrics.equivalence import conditional_divergence


def test_sim_not_equiv_checker_passes_the_solution():
    # the chapter's solution: the named example language of tiedemb.data.languages
    assert check_sim_not_equiv_language(sim_not_equiv_language).passed


def test_sim_not_equiv_checker_explains_mistakes():
    both = Language(("a", "b"), {(HOLE,): (1.0, {"a": 0.5, "b": 0.5})})  # ∼ and (vacuously) ≡
    report = check_sim_not_equiv_language(lambda: both)
    assert not report.passed and "also semantically equivalent" in report.message
    freq = Language(("a", "b"), {(HOLE,): (1.0, {"a": 0.1, "b": 0.9})})
    assert "not conditionally equivalent" in check_sim_not_equiv_language(lambda: freq).message
    assert "malformed" in check_sim_not_equiv_language(
        lambda: Language(("a", "b"), {(HOLE,): (1.0, {"a": 0.5})})).message
    assert "must contain 'a' and 'b'" in check_sim_not_equiv_language(twin_language).message \
        or "exception" in check_sim_not_equiv_language(twin_language).message
    assert "Language" in check_sim_not_equiv_language(lambda: 3).message


def test_conditional_divergence_checker():
    assert check_conditional_divergence(conditional_divergence).passed
    twice = check_conditional_divergence(lambda lang, a, b: 2 * conditional_divergence(lang, a, b))
    assert not twice.passed and "twice too large" in twice.message
    assert "exception" in check_conditional_divergence(lambda lang, a, b: 1 / 0).message
