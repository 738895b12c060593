import torch

from tiedemb.exercises import (
    check_output_embedding_gradient,
    mistake_sum_instead_of_mean,
    solution_output_embedding_gradient,
)


def test_reference_solution_passes():
    report = check_output_embedding_gradient(solution_output_embedding_gradient)
    assert report.passed and "matches autograd" in repr(report)


def test_common_mistakes_get_specific_feedback():
    assert "n times too large" in repr(check_output_embedding_gradient(mistake_sum_instead_of_mean))
    wrong_sign = check_output_embedding_gradient(lambda h, e, t: -solution_output_embedding_gradient(h, e, t))
    assert "wrong sign" in repr(wrong_sign)

    def targets_only(h, e, t):
        grad = torch.zeros_like(e)
        grad.index_add_(0, t, -h / h.shape[0])  # forgets the softmax term q(k) h
        return grad

    report = check_output_embedding_gradient(targets_only)
    assert not report.passed and "rows that differ" in repr(report)


def test_exceptions_and_shapes_are_reported():
    def broken(h, e, t):
        raise RuntimeError("oops")

    assert "raised an exception" in repr(check_output_embedding_gradient(broken))
    assert "shape" in repr(check_output_embedding_gradient(lambda h, e, t: torch.zeros(2, 2)))
