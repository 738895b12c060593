"""Languages (tiedemb.data.languages) and the exact deciders and estimators of semantic (≡) and conditional (∼)
equivalence (tiedemb.metrics.equivalence)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tiedemb.data.languages import (
    HOLE,
    Language,
    LanguageError,
    encode,
    plant_false_twins,
    plant_twins,
    sample_language,
    twin_language,
    xor_language,
    xor_setting,
)
from tiedemb.metrics.equivalence import (
    conditional_divergence,
    conditionally_equivalent,
    dh_violations,
    distributional_hypothesis_holds,
    estimate_pair,
    exact_report,
    semantic_divergence,
    semantically_equivalent,
)


@pytest.fixture(scope="module")
def xor_main() -> Language:
    return xor_language(3, (0.1, 0.9), (0.5, 0.5))


def test_xor_language_is_a_distribution(xor_main):
    _, weights, table = xor_main.matrix()
    assert weights.sum() == pytest.approx(1.0)
    assert np.allclose(table.sum(1), 1.0)


def test_xor_main_exact_verdicts(xor_main):
    # the paper's main configuration: (0, 1) ≡ but not ∼; (2, 3) both; (0, 2) neither
    assert semantically_equivalent(xor_main, "0", "1") and not conditionally_equivalent(xor_main, "0", "1")
    assert semantically_equivalent(xor_main, "2", "3") and conditionally_equivalent(xor_main, "2", "3")
    assert not semantically_equivalent(xor_main, "0", "2") and not conditionally_equivalent(xor_main, "0", "2")
    assert conditional_divergence(xor_main, "0", "1") == pytest.approx(0.8)
    assert semantic_divergence(xor_main, "0", "2") == pytest.approx(1.0)
    assert dh_violations(xor_main, [("0", "1"), ("2", "3")]) == [("0", "1", "fails: ≡ but not ∼")]
    assert distributional_hypothesis_holds(xor_main, [("2", "3"), ("0", "2")])


def test_xor_settings_are_the_papers_three():
    assert xor_setting("main", 3).contexts == xor_language(3, (0.1, 0.9), (0.5, 0.5)).contexts
    assert not conditionally_equivalent(xor_setting("ndh", 3), "2", "3")
    assert conditionally_equivalent(xor_setting("ydh", 3), "2", "3")
    with pytest.raises(LanguageError, match="unknown XOR setting 'xdh'; allowed: main, ndh, ydh"):
        xor_setting("xdh")


def test_encode_gives_token_ids_with_the_hole_last_and_the_tables():
    lang = twin_language("conflict")
    tokens, w, p = encode(lang)
    assert tokens.shape == (3, 3) and tokens.dtype == torch.int64
    assert (tokens[:, -1] == len(lang.alphabet)).all()  # the hole, at the end of every causal context
    assert tokens[1].tolist()[:2] == [lang.alphabet.index("S"), lang.alphabet.index("A")]
    assert w.dtype == p.dtype == torch.float64
    assert abs(float(w.sum()) - 1) < 1e-12 and torch.allclose(p.sum(1), torch.ones(3, dtype=torch.float64))
    ragged = Language(("a",), {("a", HOLE): (0.5, {"a": 1.0}), (HOLE,): (0.5, {"a": 1.0})})
    with pytest.raises(LanguageError, match="one length"):
        encode(ragged)


@pytest.mark.parametrize("kind, status", [("agree", "holds (≡ and ∼)"), ("freq", "fails: ≡ but not ∼"),
                                          ("conflict", "fails: ∼ but not ≡")])
def test_twin_languages(kind, status):
    assert exact_report(twin_language(kind), "A", "B").dh == status


def test_bad_distribution_does_not_sum_to_one():
    with pytest.raises(LanguageError, match="sums to 0.9"):
        Language(("a", "b"), {(HOLE,): (1.0, {"a": 0.5, "b": 0.4})})


def test_bad_context_probabilities():
    with pytest.raises(LanguageError, match="context probabilities"):
        Language(("a", "b"), {(HOLE,): (0.5, {"a": 1.0})})


def test_bad_unknown_symbols():
    with pytest.raises(LanguageError, match="unknown symbols"):
        Language(("a", "b"), {("c", HOLE): (1.0, {"a": 1.0})})
    with pytest.raises(LanguageError, match="predicts unknown"):
        Language(("a", "b"), {(HOLE,): (1.0, {"z": 1.0})})
    lang = Language(("a", "b"), {(HOLE,): (1.0, {"a": 1.0})})
    with pytest.raises(LanguageError, match="unknown symbol 'q'"):
        conditionally_equivalent(lang, "a", "q")


def test_bad_hole_and_empty():
    with pytest.raises(LanguageError, match="exactly one hole"):
        Language(("a",), {("a",): (1.0, {"a": 1.0})})
    with pytest.raises(LanguageError, match="no contexts"):
        Language(("a",), {})
    with pytest.raises(LanguageError, match="negative"):
        Language(("a", "b"), {(HOLE,): (1.0, {"a": 1.5, "b": -0.5})})


def test_estimator_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(LanguageError, match="empty"):
        estimate_pair([], "a", "b", rng=rng)
    with pytest.raises(LanguageError, match="empty"):
        estimate_pair([[]], "a", "b", rng=rng)
    with pytest.raises(LanguageError, match="never occur"):
        estimate_pair([["a", "c"]], "a", "b", rng=rng)
    with pytest.raises(LanguageError, match="window"):
        estimate_pair([["a", "b"]], "a", "b", window=0, rng=rng)


def test_estimates_match_exact_on_xor_samples(xor_main):
    sample = sample_language(xor_main, 8000, np.random.default_rng(0))
    for a, b in (("0", "1"), ("2", "3"), ("0", "2")):
        est = estimate_pair(sample, a, b, rng=np.random.default_rng(1))
        exact = exact_report(xor_main, a, b)
        assert (est.semantic_equivalent, est.conditional_equivalent) == (
            exact.semantic_equivalent, exact.conditional_equivalent), (a, b, est)


def test_planted_pairs_are_found():
    # Each verdict is a permutation test at 5% (1% for the last): a fixed seed makes the outcome reproducible.
    rng = np.random.default_rng(0)
    base = [list(rng.choice(["x", "y", "z", "w"], size=12)) for _ in range(1500)]
    twins = plant_twins(base, "x", "x2", 0.5, rng)
    assert estimate_pair(twins, "x", "x2", window=1, causal=True, rng=rng).dh == "holds (≡ and ∼)"
    rare = plant_twins(base, "y", "y2", 0.1, rng)
    assert estimate_pair(rare, "y", "y2", window=1, causal=True, rng=rng).dh == "fails: ≡ but not ∼"
    false = plant_false_twins(base, "z", "z2", "m", rng)
    report = estimate_pair(false, "z", "z2", window=1, causal=True, permutations=99, rng=rng)  # a 1% test
    assert report.dh == "fails: ∼ but not ≡"
