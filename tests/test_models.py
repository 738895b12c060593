import pytest
import torch

from tiedemb.models import (
    LSTMLanguageModel,
    TransformerLanguageModel,
    count_parameters,
    is_tied,
    tie_embeddings,
    untie_embeddings,
)
from tiedemb.train.loop import OptimSpec, build_optimizer

MODELS = [
    lambda tied: LSTMLanguageModel(30, 8, 2, tied=tied),
    lambda tied: TransformerLanguageModel(30, 8, 2, 2, 16, max_len=10, tied=tied),
]


@pytest.mark.parametrize("make", MODELS)
def test_tied_models_share_one_parameter(make):
    model = make(True)
    assert is_tied(model)
    assert model.emb_out.weight.data_ptr() == model.emb_in.weight.data_ptr()
    opt, _ = build_optimizer(model.parameters(), OptimSpec("sgd", lr=0.1))  # the package's one optimiser builder
    n_in_optimizer = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_in_optimizer == count_parameters(model)
    assert not is_tied(make(False))


@pytest.mark.parametrize("make", MODELS)
def test_parameter_counts_match_the_formula(make):
    for tied in (False, True):
        model = make(tied)
        assert count_parameters(model) == model.analytic_parameter_count()
    saving = count_parameters(make(False)) - count_parameters(make(True))
    assert saving == 30 * 8


def test_ptb_small_saving_is_two_million():
    untied = count_parameters(LSTMLanguageModel(10_000, 200, 2, tied=False))
    tied = count_parameters(LSTMLanguageModel(10_000, 200, 2, tied=True))
    assert untied - tied == 2_000_000


@pytest.mark.parametrize("make", MODELS)
def test_untie_keeps_the_function_and_splits_the_parameter(make):
    torch.manual_seed(0)
    model = make(True).eval()
    twin = untie_embeddings(model).eval()
    assert not is_tied(twin)
    tokens = torch.randint(0, 30, (2, 7))
    torch.testing.assert_close(model(tokens), twin(tokens), rtol=0, atol=0)


def test_tying_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"cannot tie.*\(10, 4\).*\(10, 5\)"):
        tie_embeddings(torch.nn.Embedding(10, 4), torch.nn.Linear(5, 10))


def test_bad_tokens_get_a_clear_error():
    model = LSTMLanguageModel(10, 4, 1)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\)"):
        model(torch.tensor([[1, 10]]))
    with pytest.raises(ValueError, match=r"shape \(batch, seq\)"):
        model(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="max_len"):
        TransformerLanguageModel(10, 4, 1, 2, 8, max_len=3)(torch.zeros(1, 5, dtype=torch.long))
