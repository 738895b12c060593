"""XOR models: shapes, tying through the one helper, parameter counts, ensemble = plain modules."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tiedemb.data.xor import XorLanguage
from tiedemb.experiments.bertolotti.xor import CONFIGS
from tiedemb.models import count_parameters, is_tied
from tiedemb.models.xor import BodySpec, XorEnsemble, build_model

LANG = XorLanguage.setting("main", 5)
BODIES = [BodySpec("transformer", 8, 1, 1, 32), BodySpec("transformer", 8, 2, 2, 16),
          BodySpec("lstm", 8, 2, hidden=16), BodySpec("mixer", 8, 2, d_ff=32, token_ff=16),
          BodySpec("transformer", 4, 1, 1, 4), BodySpec("lstm", 4, 2, hidden=8), BodySpec("mixer", 4, 1, d_ff=8)]


def _batch(seed=0):
    return LANG.sample("train", torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("body", BODIES, ids=lambda b: f"{b.arch}-d{b.d_model}-L{b.n_layers}")
@pytest.mark.parametrize("tied", [False, True])
def test_plain_model_shapes_tying_and_counts(body, tied):
    m = build_model(LANG.vocab_size, LANG.seq_len, body, tied=tied, seed=0)
    inputs, _, pos = _batch()
    assert m(inputs, pos).shape == (len(inputs), LANG.vocab_size)
    assert is_tied(m) == tied
    if tied:
        assert m.emb_out.weight.data_ptr() == m.emb_in.weight.data_ptr()
    assert count_parameters(m) == m.analytic_parameter_count()
    assert m.emb_out.bias is None  # logits = h · E_outᵀ, no bias


@pytest.mark.parametrize("name", ["xor-transformer-small", "xor-transformer-medium"])
def test_paper_transformer_configs_build_the_authors_layers(name):
    """At paper scale the body is the authors' ``nn.TransformerEncoderLayer(d, 1, ff)`` stack (GELU, dropout 0,
    batch first, post-LN), with N(0, 1) embeddings of 7 symbols, the output matrix counted once when tied."""
    cfg = CONFIGS[name].paper()
    lang = cfg.language
    authors = nn.TransformerEncoderLayer(cfg.d_model, 1, cfg.d_ff, dropout=0.0, activation="gelu", batch_first=True)
    body = cfg.n_layers * count_parameters(authors)
    for tied in (False, True):
        m = build_model(lang.vocab_size, lang.seq_len, cfg.body, tied=tied, seed=0)
        assert count_parameters(m) == body + lang.vocab_size * cfg.d_model * (1 if tied else 2)
        assert count_parameters(m.encoder) == body
        assert count_parameters(m) == m.analytic_parameter_count()
    # the same function as the authors' layer with the same weights
    layer = build_model(lang.vocab_size, lang.seq_len, cfg.body, tied=False, seed=0).encoder.layers[0]
    authors.load_state_dict(layer.state_dict())
    x = torch.randn(3, lang.seq_len, cfg.d_model, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(layer(x), authors(x))


@pytest.mark.parametrize("body", BODIES, ids=lambda b: f"{b.arch}-d{b.d_model}-L{b.n_layers}")
def test_ensemble_runs_equal_plain_modules(body):
    seeds = (3, 4, 3, 4)
    ens = XorEnsemble(LANG.vocab_size, LANG.seq_len, body, seeds, tied=(False, False, True, True))
    inputs, _, pos = _batch()
    out = ens(inputs, pos)
    assert out.shape == (4, len(inputs), LANG.vocab_size)
    for r, (seed, tied) in enumerate(zip(seeds, ens.tied, strict=True)):
        ref = build_model(LANG.vocab_size, LANG.seq_len, body, tied=tied, seed=seed)
        torch.testing.assert_close(out[r], ref(inputs, pos), atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(ens.run_model(r)(inputs, pos), ref(inputs, pos), atol=2e-5, rtol=1e-4)
    # the same seed starts tied and untied runs from the same input embedding and body
    torch.testing.assert_close(ens.emb_in[0], ens.emb_in[2], atol=0, rtol=0)
    # each run its own batch: run r on batch r equals the plain module on that batch
    g = torch.Generator().manual_seed(9)
    own = [LANG.sample("train", g) for _ in seeds]
    out = ens(torch.stack([b[0] for b in own]), torch.stack([b[2] for b in own]))
    for r, (seed, tied) in enumerate(zip(seeds, ens.tied, strict=True)):
        ref = build_model(LANG.vocab_size, LANG.seq_len, body, tied=tied, seed=seed)
        torch.testing.assert_close(out[r], ref(own[r][0], own[r][2]), atol=2e-5, rtol=1e-4)


def test_tied_ensemble_shares_storage_and_counts_once():
    body = BODIES[0]
    ens = XorEnsemble(LANG.vocab_size, LANG.seq_len, body, (0, 1, 0, 1), tied=(False, False, True, True))
    assert count_parameters(ens) == ens.analytic_parameter_count()
    names = [n for n, _ in ens.named_parameters()]
    assert "emb_out_free" in names and ens.emb_out_free.shape[0] == 2  # no output matrix for tied runs
    all_tied = XorEnsemble(LANG.vocab_size, LANG.seq_len, body, (0, 1), tied=True)
    assert all_tied.emb_out is all_tied.emb_in
    assert all_tied.emb_out.data_ptr() == all_tied.emb_in.data_ptr()
    assert count_parameters(all_tied) == all_tied.analytic_parameter_count()
    # a tied run's rows get input-path + output-path gradient, as the plain tied module's shared matrix
    inputs, targets, pos = _batch()
    target = targets[torch.arange(len(targets)), pos]
    F.cross_entropy(ens(inputs, pos)[2], target).backward()
    ref = build_model(LANG.vocab_size, LANG.seq_len, body, tied=True, seed=0)
    F.cross_entropy(ref(inputs, pos), target).backward()
    torch.testing.assert_close(ens.emb_in.grad[2], ref.emb_in.weight.grad, atol=1e-5, rtol=1e-4)
    assert ens.emb_in.grad[[0, 1, 3]].abs().max() == 0  # other runs are untouched


def test_bad_specs_raise():
    with pytest.raises(ValueError, match="arch must be one of"):
        BodySpec("gru")
    with pytest.raises(ValueError, match="divisible by n_heads"):
        BodySpec("transformer", 6, 1, 4, 8)
    with pytest.raises(ValueError, match="untied runs must come before"):
        XorEnsemble(7, 6, BODIES[0], (0, 1), tied=(True, False))


def test_output_embedding_is_standard_normal_like_the_input():
    m = build_model(50, 6, BodySpec("transformer", 64, 1, 1, 8), tied=False, seed=0)
    assert abs(float(m.emb_out.weight.detach().std()) - 1.0) < 0.05
    assert abs(float(m.emb_in.weight.detach().std()) - 1.0) < 0.05
