"""The token-probability chapter on any causal LM folder (a tiny random GPT-2 written here; nothing is downloaded),
its clear errors (exit code 2), its configs, and the start of the paper-scale training."""

from __future__ import annotations

import json

import pytest
import torch

from tiedemb.cli import main
from tiedemb.config import ConfigError
from tiedemb.experiments.cho.token_probability import (
    DeletionConfig,
    EncodingConfig,
    SteeringConfig,
    TPEModelsConfig,
    train_models,
)
from tiedemb.models.pretrained import ModelDirError, load_causal_lm
from tiedemb.train.loop import Stop

transformers = pytest.importorskip("transformers")

from hf_models import write_gpt2  # noqa: E402


def test_causal_lm_folder_loads_with_its_output_embedding(tmp_path):
    lm = load_causal_lm(write_gpt2(tmp_path / "gpt2"))
    assert lm.emb_out.shape == (257, 16) and lm.bias is None
    x = torch.randint(0, 257, (2, 5))
    assert torch.allclose(lm.hidden(x) @ lm.emb_out.T, lm.logits(x), atol=1e-5)


@pytest.mark.parametrize("name", ["tpe-encoding", "tpe-steering", "tpe-deletion"])
def test_cli_runs_each_analysis_on_a_model_folder(tmp_path, tmp_cache, name):
    folder = write_gpt2(tmp_path / "gpt2")
    out = tmp_path / "out"
    assert main(["run", name, "--model", str(folder), "--out", str(out)]) == 0
    result = json.loads((out / name / "result.json").read_text())
    assert result["config"]["model_dir"] == str(folder.resolve())
    assert all(c["verdict"] in ("holds", "does not hold", "not testable at this scale", "identity")
               for c in result["claims"])
    if name == "tpe-encoding":
        m = result["metrics"]["models"]["model"]
        assert m["logit_identity"] < 1e-4 and m["vocab_size"] == 257 and m["d_model"] == 16
        assert {c["label"]: c["verdict"] for c in result["claims"]}["C-D1"] == "identity"
    assert list((out / name).glob("*.png"))


def test_folder_without_output_embedding_exits_2(tmp_path, capsys):
    folder = write_gpt2(tmp_path / "bare", head=False)
    assert main(["run", "tpe-encoding", "--model", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "no output embedding" in capsys.readouterr().err
    with pytest.raises(ModelDirError, match="no output embedding"):
        load_causal_lm(folder)


def test_vocabulary_mismatch_exits_2(tmp_path, capsys):
    folder = write_gpt2(tmp_path / "small", vocab_size=200)
    assert main(["run", "tpe-steering", "--model", str(folder), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "257 tokens" in err and "200 rows" in err


@pytest.mark.parametrize("ratios", ["0,2", "-1", "2,abc", "nan", "inf"])
def test_ratio_not_positive_exits_2(tmp_path, capsys, ratios):
    assert main(["run", "tpe-steering", "--ratios", ratios, "--out", str(tmp_path / "o")]) == 2
    assert "ratios" in capsys.readouterr().err
    assert not (tmp_path / "o" / "tpe-steering").exists()


def test_options_only_where_they_apply(tmp_path, capsys):
    assert main(["run", "tpe-models", "--model", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--model applies to" in capsys.readouterr().err
    assert main(["run", "tpe-encoding", "--ratios", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--ratios applies to tpe-steering" in capsys.readouterr().err


def test_configs_validate():
    with pytest.raises(ConfigError, match="ratios"):
        SteeringConfig.quick().replace(ratios=(0.5, 0.0))
    with pytest.raises(ConfigError, match="d ≪ |V|"):
        TPEModelsConfig.quick().replace(vocab_size=200)
    with pytest.raises(ConfigError, match="d_model"):
        TPEModelsConfig.quick().replace(d_model=48)
    with pytest.raises(ConfigError, match="fractions"):
        DeletionConfig.quick().replace(fractions=(0.0, 1.0))
    with pytest.raises(ConfigError, match="folds"):
        EncodingConfig.quick().replace(folds=1)
    quick, paper = TPEModelsConfig.quick(), TPEModelsConfig.paper()
    assert paper.d_model > quick.d_model and paper.steps > 10 * quick.steps and paper.vocab_size > quick.vocab_size


def test_paper_scale_starts():
    # The paper-scale models (V = 8,000, d up to 256, 4 layers, windows of 128): build them and the task, run a few
    # steps of the real training, then stop as if killed.
    cfg = TPEModelsConfig.paper()
    with pytest.raises(Stop):
        train_models(cfg, stop_after=2)
