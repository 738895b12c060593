"""Parts of the Press & Wolf language models: projection regularisation, truncated BPTT with a carried state, the
word-similarity benchmarks and metrics, the stratified pairs of the synthetic corpus."""

# ruff: noqa: I001
import tiedemb  # noqa: F401 - first: pins the CPU code paths
import math

import numpy as np
import pytest
import torch

from tiedemb.data.synthetic import CorpusSpec, generate, similarity_pairs
from tiedemb.data.wordsim import load_word_pairs
from tiedemb.metrics.embeddings import similarity_correlation, structure_correlations
from tiedemb.models import LSTMLanguageModel, count_parameters, is_tied
from tiedemb.seeding import numpy_rng, seed_everything
from tiedemb.train.lm import StreamTask, lm_cross_entropy, perplexity
from tiedemb.train.loop import OptimSpec, Stop, fit


def _stream(n=2000, v=40, seed=0):
    return numpy_rng(seed, 9).integers(0, v, size=n)


def build(variant, v, d, n, pr_coef=0.0):
    pr = variant in ("pr", "tied_pr")
    return LSTMLanguageModel(v, d, n, tied=variant in ("tied", "tied_pr"), projection=pr, pr_coef=pr_coef if pr else 0)


@pytest.mark.parametrize("variant", ("untied", "tied", "pr", "tied_pr"))
def test_pr_models_count_and_tie(variant):
    seed_everything(0)
    model = build(variant, 50, 8, 2, pr_coef=0.01)
    assert count_parameters(model) == model.analytic_parameter_count()
    assert is_tied(model) == (variant in ("tied", "tied_pr"))
    assert (model.proj is not None) == (variant in ("pr", "tied_pr"))
    assert model.emb_out.bias is not None  # the output bias stays untied
    assert model.redundant_bias_parameters() == 2 * 4 * 8


def test_pr_penalty_is_the_authors_squared_frobenius_norm():
    seed_everything(0)
    model = build("tied_pr", 30, 6, 1, pr_coef=0.25)
    assert torch.allclose(model.penalty(), 0.25 * (model.proj.weight ** 2).sum())
    assert build("tied", 30, 6, 1).penalty() is None
    with pytest.raises(ValueError, match="pr_coef"):
        LSTMLanguageModel(30, 6, 1, pr_coef=0.1)


def test_stream_task_adds_the_penalty_but_records_cross_entropy():
    seed_everything(0)
    model = torch.nn.ModuleDict({"tied_pr": build("tied_pr", 40, 8, 1, pr_coef=0.5)})
    task = StreamTask(("tied_pr",), _stream(), 4, 10, 1)
    loss = task.loss(model, 0)
    x, y = task.window(0)
    ce = lm_cross_entropy(model["tied_pr"], x, y)
    assert torch.allclose(loss, ce + model["tied_pr"].penalty())
    assert math.isclose(task.losses["tied_pr"][0], ce.item(), rel_tol=1e-6)


def test_carried_state_flows_between_windows_and_resets_each_epoch():
    seed_everything(0)
    model = torch.nn.ModuleDict({"untied": build("untied", 40, 8, 1)})
    carry = StreamTask(("untied",), _stream(), 4, 10, 2, carry_state=True)
    plain = StreamTask(("untied",), _stream(), 4, 10, 2)
    with torch.no_grad():
        first = [t.loss(model, 0).item() for t in (carry, plain)]
        second = [t.loss(model, 1).item() for t in (carry, plain)]
        epoch2 = carry.loss(model, carry.steps_per_epoch).item()
    assert first[0] == pytest.approx(first[1])  # both start from zeros
    assert second[0] != pytest.approx(second[1])  # the carried state changes the second window
    assert epoch2 == pytest.approx(first[0])  # a new epoch starts from zeros again
    m = model["untied"]
    text = _stream(seed=1)
    assert perplexity(m, text, 4, 10, carry_state=True) != pytest.approx(perplexity(m, text, 4, 10))


def test_carried_state_resumes_exactly(tmp_path):
    def run(stop_after=None):
        seed_everything(0)
        model = torch.nn.ModuleDict({"tied": build("tied", 40, 8, 1)})
        task = StreamTask(("tied",), _stream(), 4, 10, 2, carry_state=True)
        spec = OptimSpec("sgd", lr=1.0, clip=1.0)
        fit(model, task, steps=task.steps, optim=spec, checkpoint=tmp_path / "c.pt", checkpoint_every=5,
            stop_after=stop_after)
        return task.losses["tied"]

    whole = run()
    with pytest.raises(Stop):
        run(stop_after=12)
    assert run() == whole


def test_similarity_pairs_are_stratified():
    corpus = generate(CorpusSpec(4, 5, 3), 500, 100, numpy_rng(0, 0))
    pairs = similarity_pairs(corpus, 200, numpy_rng(0, 1))
    gold = corpus.similarity(pairs[:, 0], pairs[:, 1])
    assert (pairs[:, 0] != pairs[:, 1]).all() and pairs.max() < corpus.vocab_size
    assert np.bincount(gold, minlength=3).tolist() == [200, 200, 200]
    assert gold[:200].tolist() == [2] * 200 and gold[200:400].tolist() == [1] * 200


def test_word_similarity_benchmarks_ship_with_gensim():
    simlex, ws = load_word_pairs("simlex999"), load_word_pairs("wordsim353")
    assert len(simlex) == 999 and len(ws) == 353
    assert all(a.islower() and b.islower() for a, b in simlex.pairs)
    with pytest.raises(ValueError, match="unknown word-similarity benchmark"):
        load_word_pairs("men")


def test_similarity_metrics():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(20, 5, generator=gen)
    pairs = np.array([(i, (i + 1) % 20) for i in range(20)])
    gold = (w[pairs[:, 0]] * w[pairs[:, 1]]).sum(1) / w[pairs[:, 0]].norm(dim=1) / w[pairs[:, 1]].norm(dim=1)
    out = similarity_correlation(w, pairs, gold.numpy(), rare=np.arange(20) < 10)
    assert out["rho"] == pytest.approx(1.0) and out["rho_rare"] == pytest.approx(1.0) and out["pairs_rare"] == 10
    st = structure_correlations({"in": w, "out": 2 * w, "tied": torch.randn(20, 5, generator=gen)}, pairs)
    assert set(st) == {"in-out", "in-tied", "out-tied"}
    assert st["in-out"] == pytest.approx(1.0) and abs(st["in-tied"]) < 0.9
