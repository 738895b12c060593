"""Tying in practice (Press & Wolf 2017, Sec. 3): saving with safetensors, weight decay once, tying across a
projection, Hugging Face's tie_word_embeddings on a tiny model created and saved here (nothing is downloaded)."""

# ruff: noqa: I001
import tiedemb  # noqa: F401 - first: pins the CPU code paths

import pytest
import torch
from safetensors.torch import load_model, save_file, save_model

from tiedemb.claims import IDENTITY
from tiedemb.exercises import check_decay_groups, solution_decay_groups
from tiedemb.experiments import compute
from tiedemb.experiments.press_wolf.practice import PracticeConfig
from tiedemb.models import LSTMLanguageModel, count_parameters, is_tied
from tiedemb.models.pretrained import ModelDirError, load_lm_with_report
from tiedemb.models.seq2seq import Seq2Seq
from tiedemb.models.tying import decay_groups, share_embedding, shared_tensors, tie_embeddings
from tiedemb.seeding import seed_everything


def test_safetensors_refuses_shared_tensors_and_save_model_restores_the_tie(tmp_path):
    seed_everything(0)
    model = LSTMLanguageModel(30, 8, 1, tied=True)
    assert shared_tensors(model) == [["emb_in.weight", "emb_out.weight"]]
    with pytest.raises(RuntimeError, match="share memory"):
        save_file(model.state_dict(), tmp_path / "x.safetensors")
    save_model(model, str(tmp_path / "m.safetensors"))
    seed_everything(1)
    fresh = LSTMLanguageModel(30, 8, 1, tied=True)
    load_model(fresh, str(tmp_path / "m.safetensors"))
    assert is_tied(fresh)
    x = torch.randint(0, 30, (2, 5))
    assert torch.equal(fresh(x), model(x))
    assert shared_tensors(LSTMLanguageModel(30, 8, 1, tied=False)) == []


def test_decay_groups_hold_a_tied_matrix_once_and_decay_it_once():
    model = LSTMLanguageModel(30, 8, 2, tied=True)
    groups = decay_groups(model, 0.1)
    assert sum(p.numel() for g in groups for p in g["params"]) == count_parameters(model)
    assert "emb_in.weight" in groups[0]["names"] and "emb_out.weight" not in groups[0]["names"]
    assert all(p.dim() < 2 for p in groups[1]["params"]) and groups[1]["weight_decay"] == 0.0
    opt = torch.optim.AdamW(groups, lr=0.5)
    before = model.emb_in.weight.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    torch.testing.assert_close(model.emb_in.weight.detach(), before * (1 - 0.5 * 0.1))


def test_projection_lets_tying_work_when_sizes_differ():
    with pytest.raises(ValueError, match="projection=True"):
        LSTMLanguageModel(40, 8, 1, d_hidden=12, tied=True)
    with pytest.raises(ValueError, match="cannot tie"):
        tie_embeddings(torch.nn.Embedding(40, 8), torch.nn.Linear(12, 40))
    tied = LSTMLanguageModel(40, 8, 2, d_hidden=12, tied=True, projection=True)
    untied = LSTMLanguageModel(40, 8, 2, d_hidden=12, tied=False, projection=True)
    assert is_tied(tied) and tied(torch.randint(0, 40, (3, 4))).shape == (3, 4, 40)
    assert count_parameters(tied) == tied.analytic_parameter_count()
    assert count_parameters(untied) == untied.analytic_parameter_count()
    assert count_parameters(untied) - count_parameters(tied) == 40 * 8
    # The square case is unchanged: d_hidden defaults to d_model.
    assert count_parameters(LSTMLanguageModel(40, 8, 2)) == LSTMLanguageModel(40, 8, 2).analytic_parameter_count()


def test_share_embedding_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shared vocabulary"):
        share_embedding(torch.nn.Embedding(10, 4), torch.nn.Embedding(11, 4))


def test_huggingface_tie_word_embeddings_on_a_tiny_local_model(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    seed_everything(0)
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2, bos_token_id=0,
                        eos_token_id=0, tie_word_embeddings=True)
    model = GPT2LMHeadModel(config).eval()
    assert model.lm_head.weight is model.transformer.wte.weight
    model.save_pretrained(str(tmp_path))
    reloaded, info = load_lm_with_report(tmp_path)
    assert reloaded.lm_head.weight is reloaded.transformer.wte.weight and not info["missing_keys"]
    x = torch.randint(0, 50, (1, 6))
    with torch.no_grad():
        assert torch.equal(reloaded(x).logits, model(x).logits)
    untied, info = load_lm_with_report(tmp_path, tie_word_embeddings=False)
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert info["missing_keys"] == {"lm_head.weight"} or list(info["missing_keys"]) == ["lm_head.weight"]
    with pytest.raises(ModelDirError, match="not a model folder"):
        load_lm_with_report(tmp_path / "nothing")


def test_practice_experiment_end_to_end(tmp_cache):
    r = compute(PracticeConfig.quick())
    assert {c.label: c.verdict for c in r.claims} == {"PW-P2": IDENTITY}
    m = r.metrics
    assert "share memory" in m["safetensors"]["refused"]
    assert "more than one parameter group" in m["weight_decay"]["refused"]
    assert m["weight_decay"]["naive_count"] - m["weight_decay"]["count"] == 200 * 16
    assert m["huggingface"]["untied_missing"] == ["lm_head.weight"] and m["huggingface"]["untied_max_diff"] > 0


def test_practice_paper_config_runs_the_projection_demo():
    from tiedemb.experiments.press_wolf.practice import demo_projection

    cfg = PracticeConfig.paper()
    out = demo_projection(cfg)
    assert out["count_tied"] == out["analytic_tied"] and out["count_untied"] - out["count_tied"] == 10_000 * 200


def test_decay_groups_exercise_checker():
    assert check_decay_groups(solution_decay_groups)

    def by_names(model, wd):  # the tempting way: a tied matrix appears under two names
        named = dict(model.named_parameters(remove_duplicate=False))
        return [{"params": [p for n, p in named.items() if p.dim() >= 2 and not n.startswith("emb_in")],
                 "weight_decay": wd},
                {"params": [p for n, p in named.items() if n.startswith("emb_in") or p.dim() < 2],
                 "weight_decay": 0.0}]

    report = check_decay_groups(by_names)
    assert not report and "named_parameters" in report.message
    report = check_decay_groups(lambda m, wd: [{"params": list(m.parameters()), "weight_decay": wd}])
    assert not report and "vector" in report.message
    assert Seq2Seq  # the checker's three-way tied model
