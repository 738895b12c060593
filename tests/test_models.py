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


def test_forward_flops_match_the_counted_matrix_products():
    """The analytic FLOPs per token (the benchmarks' utilisation figure) against torch's FLOP counter. On the CPU the
    counter does not see the fused attention kernel nor the LSTM kernel, so those parts are counted by hand: attention
    is 2·2·seq·d per token and layer (scores and weighted sum); an LSTM layer is one multiply-add per weight entry."""
    from torch.utils.flop_counter import FlopCounterMode

    from tiedemb.models.lm import LSTMLanguageModel, TransformerLanguageModel
    from tiedemb.models.mlm import MaskedLanguageModel

    torch.manual_seed(0)
    x = torch.randint(3, 50, (3, 10))  # 30 tokens, windows of 10
    pos = torch.zeros(3, 10, dtype=torch.bool)
    pos[:, :4] = True  # 12 of 30 positions predicted
    d, layers, seq = 16, 2, 10
    attention = layers * 2 * 2 * seq * d
    mlm = MaskedLanguageModel(50, d, layers, 2, 24, pad_id=None)
    causal = TransformerLanguageModel(50, d, layers, 2, 24)
    lstm = LSTMLanguageModel(50, d, layers)
    pr = LSTMLanguageModel(50, d, layers, projection=True)  # PR: the square P before the output embedding
    lstm_weights = 2 * sum(p.numel() for n, p in lstm.lstm.named_parameters() if n.startswith("weight"))
    for model, call, analytic, uncounted in (
            (mlm, lambda: mlm(x, pos), mlm.forward_flops_per_token(seq, 12 / 30), attention),
            (causal, lambda: causal(x), causal.forward_flops_per_token(seq), attention),
            (lstm, lambda: lstm(x), lstm.forward_flops_per_token(seq), lstm_weights),
            (pr, lambda: pr(x), pr.forward_flops_per_token(seq), lstm_weights)):
        with FlopCounterMode(display=False) as counter:
            call()
        assert counter.get_total_flops() == pytest.approx(30 * (analytic - uncounted)), type(model).__name__
