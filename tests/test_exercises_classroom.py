"""The checkers written for the graded exercises of the "Should I tie?" and MLM-twins chapters, and the graded cells'
``CheckReport.require``: reference solutions pass, wrong answers fail with a specific message."""

import math

import numpy as np
import pytest

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
