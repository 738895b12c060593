import numpy as np
import pytest

from tiedemb.data.synthetic import CorpusSpec, generate
from tiedemb.seeding import numpy_rng

SPEC = CorpusSpec(n_groups=4, concepts_per_group=3, words_per_concept=2)


def test_shapes_and_probabilities():
    corpus = generate(SPEC, 5000, 500, numpy_rng(0))
    assert corpus.vocab_size == 24
    assert len(corpus.train) == 5000 and len(corpus.valid) == 500
    assert corpus.train.min() >= 0 and corpus.train.max() < 24
    np.testing.assert_allclose(corpus.transition.sum(axis=1), 1.0)
    np.testing.assert_allclose(corpus.word_given_concept.sum(), 1.0)


def test_same_seed_same_text_other_seed_other_text():
    a = generate(SPEC, 2000, 200, numpy_rng(3))
    b = generate(SPEC, 2000, 200, numpy_rng(3))
    c = generate(SPEC, 2000, 200, numpy_rng(4))
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train, c.train)


def test_ground_truth_similarity():
    corpus = generate(SPEC, 100, 10, numpy_rng(0))
    assert corpus.similarity(np.array([0]), np.array([1]))[0] == 2  # same concept
    assert corpus.similarity(np.array([0]), np.array([2]))[0] == 1  # same group, other concept
    assert corpus.similarity(np.array([0]), np.array([6]))[0] == 0  # other group


def test_synonyms_are_exact_distributional_synonyms():
    """Words of one concept have the same successor distribution: it depends on the concept only."""
    corpus = generate(SPEC, 200_000, 10, numpy_rng(1))
    t = corpus.train
    counts = np.zeros((24, 24))
    np.add.at(counts, (t[:-1], t[1:]), 1)
    rows = counts / counts.sum(axis=1, keepdims=True)
    assert np.abs(rows[0] - rows[1]).sum() < 0.1  # synonyms: same successors up to sampling noise
    assert np.abs(rows[0] - rows[6]).sum() > 0.5  # other group: different successors


@pytest.mark.parametrize(("field", "value", "message"), [("n_groups", 0, "n_groups"),
                                                          ("successor_groups", 9, "exceeds n_groups"),
                                                          ("noise", 2.0, "noise")])
def test_spec_validation(field, value, message):
    kwargs = {"n_groups": 4, "concepts_per_group": 3, "words_per_concept": 2, field: value}
    with pytest.raises(ValueError, match=message):
        CorpusSpec(**kwargs)
