"""The norm/variance statistics (Yamagiwa & Shimodaira, Sec. 2): identities to float64 precision, streaming = batch =
sequential, on randomised inputs."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tiedemb.theory.yamagiwa import (
    StreamingStats,
    batch_token_stats,
    coefficient_of_variation,
    frequency_filter,
    loop_token_stats,
    ols,
    set_stats,
    streaming_token_stats,
)


def _data(seed: int, n: int, types: int, layers: int, d: int, offset: float):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, types, (n,), generator=g) * 7 + 3  # sparse, non-contiguous ids
    centres = torch.randn(layers, types * 7 + 3, d, generator=g, dtype=torch.float64) * offset
    hidden = centres[:, ids] + torch.randn(layers, n, d, generator=g, dtype=torch.float64)
    return ids, hidden


CASES = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 300), st.integers(1, 20), st.integers(1, 4),
                  st.integers(1, 9), st.sampled_from([0.0, 1.0, 30.0]))


def _close(a, b, scale):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(1.0, scale))


@settings(max_examples=60, deadline=None)
@given(CASES, st.integers(1, 64))
def test_y_t2_streaming_equals_two_pass_batch(case, batch):
    ids, hidden = _data(*case)
    s, b = streaming_token_stats(ids, hidden, batch=batch), batch_token_stats(ids, hidden)
    scale = float((hidden**2).sum(dim=2).max())
    assert (s.types == b.types).all() and (s.n == b.n).all()
    _close(s.mean, b.mean, scale**0.5)
    for k in ("Q", "M", "V"):
        _close(getattr(s, k), getattr(b, k), scale)


@settings(max_examples=30, deadline=None)
@given(CASES)
def test_y_t2_streaming_equals_the_sequential_update(case):
    ids, hidden = _data(*case)
    s, seq = streaming_token_stats(ids, hidden), loop_token_stats(ids, hidden)
    scale = float((hidden**2).sum(dim=2).max())
    assert (s.types == seq.types).all() and (s.n == seq.n).all()
    for k in ("Q", "M", "V"):
        _close(getattr(s, k), getattr(seq, k), scale)


@settings(max_examples=60, deadline=None)
@given(CASES)
def test_y_t1_q_equals_m_plus_v(case):
    ids, hidden = _data(*case)
    b = batch_token_stats(ids, hidden)  # V computed directly from the deviations
    _close(b.Q, b.M + b.V, float(b.Q.max()))
    assert (b.V >= -1e-12 * b.Q.max()).all()


@settings(max_examples=60, deadline=None)
@given(CASES)
def test_y_t4_v_equals_vw_plus_vb_and_y_t5_ratios_sum_to_one(case):
    ids, hidden = _data(*case)
    s = set_stats(streaming_token_stats(ids, hidden))
    x = hidden.numpy()  # the whole set directly
    mu = x.mean(axis=1)
    V_direct = ((x - mu[:, None]) ** 2).sum(axis=2).mean(axis=1)
    scale = float((x**2).sum(axis=2).max())
    _close(s.V, V_direct, scale)
    _close(s.V, s.V_W + s.V_B, scale)
    _close(s.Q, (x**2).sum(axis=2).mean(axis=1), scale)
    _close((s.M + s.V_W + s.V_B) / s.Q, np.ones_like(s.Q), 1.0)


def test_update_in_any_batching_gives_the_same_numbers():
    ids, hidden = _data(0, 500, 30, 3, 8, 1.0)
    a = streaming_token_stats(ids, hidden, batch=500)
    b = streaming_token_stats(ids, hidden, batch=7)
    np.testing.assert_array_equal(a.n, b.n)
    np.testing.assert_allclose(a.Q, b.Q, rtol=1e-13)


def test_a_batch_larger_than_the_chunk_is_added_chunk_by_chunk(monkeypatch):
    ids, hidden = _data(1, 500, 30, 3, 8, 1.0)
    whole = streaming_token_stats(ids, hidden, batch=500)
    monkeypatch.setattr(StreamingStats, "CHUNK", 64)  # 500 occurrences in 8 chunks, the last one short
    chunked, ref = streaming_token_stats(ids, hidden, batch=500), batch_token_stats(ids, hidden)
    np.testing.assert_array_equal(chunked.n, ref.n)
    np.testing.assert_allclose(chunked.mean, ref.mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(chunked.V, ref.V, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(chunked.Q, whole.Q, rtol=1e-13)


def test_storage_grows_with_types_seen_not_with_ids():
    acc = StreamingStats(2, 4, capacity=2)
    acc.update(torch.tensor([10**6, 5, 5]), torch.zeros(2, 3, 4))
    assert acc.n_types == 2 and acc.table.shape[1] >= 2 and acc.table.shape[1] <= 4
    acc.update(torch.tensor([1, 2, 3]), torch.ones(2, 3, 4))
    assert acc.n_types == 5 and acc.table.shape[1] < 16


def test_float32_inputs_are_accumulated_in_float64():
    # A huge common offset (Pre-LN residual streams): V = Q − M cancels badly in float32 sums.
    g = torch.Generator().manual_seed(0)
    x = (1000.0 + torch.randn(1, 2000, 4, generator=g)).float()
    s = streaming_token_stats(torch.zeros(2000, dtype=torch.long), x)
    direct = float(((x.double() - x.double().mean(dim=1, keepdim=True)) ** 2).sum(dim=2).mean())
    assert abs(s.V[0, 0] - direct) < 1e-6 * direct


def test_bad_shapes_are_clear_errors():
    acc = StreamingStats(2, 4)
    with pytest.raises(ValueError, match="n_layers=2"):
        acc.update(torch.zeros(3, dtype=torch.long), torch.zeros(3, 3, 4))
    with pytest.raises(ValueError, match="3 ids for 2"):
        acc.update(torch.zeros(3, dtype=torch.long), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="non-negative"):
        acc.update(torch.tensor([-1]), torch.zeros(2, 1, 4))


def test_ols_and_cv():
    x = np.arange(10.0)
    f = ols(x, 3 - x)
    assert f.slope == pytest.approx(-1) and f.intercept == pytest.approx(3) and f.r2 == pytest.approx(1)
    assert coefficient_of_variation(np.array([1.0, 1.0])) == 0
    assert frequency_filter(np.array([1, 10, 100, 1000]), 10, 100).tolist() == [False, True, True, False]
    with pytest.raises(ValueError, match="constant"):
        ols(np.ones(4), x[:4])


def test_the_result_ends_the_pass():
    # result() turns the sums into means in place: asking again gives the same statistics, adding more is an error.
    ids, hidden = _data(2, 200, 10, 2, 4, 1.0)
    acc = StreamingStats(2, 4)
    acc.update(ids, hidden)
    first = acc.result()
    assert acc.result() is first
    np.testing.assert_allclose(first.mean, batch_token_stats(ids, hidden).mean, rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="result\\(\\) was called"):
        acc.update(ids, hidden)
