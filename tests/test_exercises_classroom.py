"""The checkers written for the graded exercises of the classroom assignments (the "Should I tie?" and MLM-twins
exercises, and each chapter's second graded exercise), and the graded cells'
``CheckReport.require``: reference solutions pass, wrong answers fail with a specific message."""

import math

import numpy as np
import pytest

from tiedemb import exercises as ex
from tiedemb.exercises import (
    CheckReport,
    check_permutation_p_value,
    check_twin_row_distance,
    solution_permutation_p_value,
    solution_twin_row_distance,
)


def test_require_raises_with_the_report_only_on_failure():
    assert CheckReport(True, "fine").require() is None
    with pytest.raises(AssertionError, match="NOT YET: wrong row"):
        CheckReport(False, "wrong row", ["detail"]).require()


def test_permutation_p_value_reference():
    assert solution_permutation_p_value(2.0, np.linspace(0, 1, 19)) == pytest.approx(0.05)  # the page's 5% test
    assert solution_permutation_p_value(-1.0, [0.1, 0.2, 0.3]) == 1.0
    assert solution_permutation_p_value(0.2, [0.1, 0.2, 0.3]) == pytest.approx(3 / 4)  # a tie counts
    assert check_permutation_p_value(solution_permutation_p_value).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda o, n: float(np.mean(np.asarray(n) >= o)), "never give p = 0"),
    (lambda o, n: float((1 + np.sum(np.asarray(n) > o)) / (1 + len(n))), "use >=, not >"),
    (lambda o, n: float((1 + np.sum(np.asarray(n) <= o)) / (1 + len(n))), "ABOVE"),
    (lambda o, n: 0.05, "expected"),
])
def test_permutation_p_value_wrong_answers(wrong, hint):
    report = check_permutation_p_value(wrong)
    assert not report.passed and hint in repr(report)


def test_permutation_p_value_exception_is_reported():
    def broken(observed, null):
        raise ValueError("no")

    assert "raised an exception" in repr(check_permutation_p_value(broken))


def test_twin_row_distance_reference():
    assert solution_twin_row_distance(0.9, 0.1, math.sqrt(64)) == pytest.approx(math.log(9) / 8)  # 0.27, mlm-log9
    assert solution_twin_row_distance(0.5, 0.5, 3.0) == 0.0
    assert check_twin_row_distance(solution_twin_row_distance).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda pw, pt, h: math.log(pw / pt) / h, "absolute value"),
    (lambda pw, pt, h: abs(math.log10(pw / pt)) / h, "not log10"),
    (lambda pw, pt, h: abs(pw - pt) / h, "log-ratio of the probabilities"),
    (lambda pw, pt, h: abs(math.log(pw / pt)), "Divide the log-ratio"),
])
def test_twin_row_distance_wrong_answers(wrong, hint):
    report = check_twin_row_distance(wrong)
    assert not report.passed and hint in repr(report)


# The second graded exercise of each chapter: the reference passes, a common mistake fails with its hint

def _between_unweighted(groups):
    means = np.stack([g.mean(axis=0) for g in groups])
    return float(np.mean(np.sum((means - means.mean(axis=0)) ** 2, axis=1)))


SECOND = [
    (ex.check_lstm_parameter_count, ex.solution_lstm_parameter_count,
     lambda v, d, tied: ex.solution_lstm_parameter_count(v, d, tied) - 8 * d, "two bias vectors"),
    (ex.check_lstm_parameter_count, ex.solution_lstm_parameter_count,
     lambda v, d, tied: 2 * v * d + v + 2 * (8 * d * d + 8 * d), "count it once"),
    (ex.check_marginal_accuracy, ex.solution_marginal_accuracy, ex.solution_bayes_accuracy, "Bayes accuracy"),
    (ex.check_logit_gap, ex.solution_logit_gap, lambda p_w, p_t: math.log10(p_w / p_t), "not log10"),
    (ex.check_min_permutations, ex.solution_min_permutations, lambda alpha: round(1 / alpha), "n + 1 values"),
    (ex.check_others_factor, ex.solution_others_factor, lambda p_w, delta: math.exp(-delta), "normaliser"),
    (ex.check_between_variance, ex.solution_between_variance, _between_unweighted, "by its count"),
]


@pytest.mark.parametrize(("check", "solution", "wrong", "hint"), SECOND,
                         ids=[f"{c.__name__}-{i}" for i, (c, *_) in enumerate(SECOND)])
def test_second_graded_exercises(check, solution, wrong, hint):
    assert check(solution).passed
    report = check(wrong)
    assert not report.passed and hint in report.message, report
    assert not check(lambda *args: 0.0).passed
    raised = check(lambda *args: 1 / 0)
    assert not raised.passed and "ZeroDivisionError" in raised.message


def test_min_permutations_is_the_pages_19_draws():
    assert ex.solution_min_permutations(0.05) == 19
    assert ex.solution_permutation_p_value(1.0, np.zeros(19)) == pytest.approx(0.05)
