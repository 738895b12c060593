"""tpe-dynamics on a user's checkpoints (``--model DIR`` with sub-folders step<N>): a tiny GPT-2 "training run"
written here (nothing is downloaded), through the CLI and the Python API, and each bad folder refused with exit 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from tiedemb.cli import main
from tiedemb.experiments import compute
from tiedemb.experiments.cho.token_probability import DynamicsConfig, checkpoint_groups, judge_dynamics
from tiedemb.models.pretrained import ModelDirError, checkpoint_dirs
from tiedemb.results import Result

transformers = pytest.importorskip("transformers")

from hf_models import write_gpt2, write_gpt2_run  # noqa: E402

D = 4  # small enough for the probe: the byte-level tokenizer meets few token types in the lower-cased text


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_gpt2_run(tmp_path_factory.mktemp("ckpt") / "run", n_embd=D)


def check_result(metrics, arrays, count_tokens=DynamicsConfig.count_tokens):
    assert metrics["steps"] == [0, 10, 100] and metrics["checkpoints"] == ["step0", "step10", "step100"]
    assert list(metrics["widths"]) == [str(D)]  # one "width": the model's d
    w = metrics["widths"][str(D)]
    assert w["groups"] == ["emb_in", "pos", "layer0", "layer1", "norm"]  # GPT-2 ties lm_head to wte
    ahead, cos = np.asarray(arrays[f"ahead.{D}"]), np.asarray(arrays[f"cos.{D}"])
    assert ahead.shape == cos.shape == (3, 5) and np.asarray(arrays[f"r2.{D}"]).shape == (3,)
    assert np.allclose(ahead[0], 1.0) and np.allclose(ahead[-1], 0.0)  # ‖θ_t − θ_T‖/‖θ_0 − θ_T‖
    assert np.allclose(cos[-1], 1.0) and (cos[0] < 0.999).all()
    assert 0 < ahead[1].mean() < 1  # the middle checkpoint lies between (noise added step by step)
    assert metrics["counted_tokens"] == count_tokens and metrics["n_tokens"] > D * 5


def test_cli_runs_the_dynamics_on_a_folder_of_checkpoints(run_dir, tmp_path, tmp_cache):
    out = tmp_path / "out"
    assert main(["run", "tpe-dynamics", "--model", str(run_dir), "--out", str(out)]) == 0
    result = Result.load(out / "tpe-dynamics")
    assert result.config["model_dir"] == str(run_dir.resolve())
    check_result(result.metrics, result.arrays)
    [claim] = json.loads((out / "tpe-dynamics" / "result.json").read_text())["claims"]
    # noise learns nothing: the measured precondition (final perplexity below the unigram model's) is not met
    assert claim["label"] == "C-E6" and claim["verdict"] == "not testable at this scale"
    assert (out / "tpe-dynamics" / "dynamics.png").exists()


def test_python_api_streams_the_checkpoints(run_dir, tmp_cache):
    cfg = DynamicsConfig.quick().replace(model_dir=str(run_dir), count_tokens=100_000, text_tokens=2048)
    result = compute(cfg)
    check_result(result.metrics, result.arrays, cfg.count_tokens)
    assert judge_dynamics(DynamicsConfig.quick(), result.metrics)[0].verdict == result.claims[0].verdict
    # the distances against a brute-force one: every parameter of a group flattened and concatenated
    models = {s: transformers.GPT2LMHeadModel.from_pretrained(run_dir / f"step{s}", local_files_only=True)
              for s in (10, 100)}
    group_of = checkpoint_groups(models[100])
    groups = result.metrics["widths"][str(D)]["groups"]
    for j, g in enumerate(groups):
        now, end = (torch.cat([p.detach().double().flatten() for n, p in models[s].named_parameters()
                               if group_of[n] == g]) for s in (10, 100))
        assert result.arrays[f"cos.{D}"][1, j] == pytest.approx(float(now @ end / (now.norm() * end.norm())))


def test_groups_of_an_untied_model_and_numeric_step_order(tmp_path):
    config = transformers.GPT2Config(vocab_size=50, n_embd=8, n_layer=12, n_head=2, n_positions=16,
                                     tie_word_embeddings=False)
    groups = checkpoint_groups(transformers.GPT2LMHeadModel(config))
    assert groups["lm_head.weight"] == "emb_out" and groups["transformer.wte.weight"] == "emb_in"
    assert groups["transformer.h.11.mlp.c_fc.weight"] == "layer11" and groups["transformer.ln_f.bias"] == "norm"
    for s in (100, 2, 10):
        (tmp_path / f"step{s}").mkdir()
        (tmp_path / f"step{s}" / "config.json").write_text("{}")
        (tmp_path / f"step{s}" / "model.safetensors").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    assert [s for s, _ in checkpoint_dirs(tmp_path)] == [2, 10, 100]
    (tmp_path / "step010").mkdir()
    with pytest.raises(ModelDirError, match="both step 10"):
        checkpoint_dirs(tmp_path)


def _copy(run_dir, tmp_path):
    return shutil.copytree(run_dir, tmp_path / "run")


def _missing(run_dir, tmp_path):
    return tmp_path / "nowhere"


def _no_steps(run_dir, tmp_path):
    return shutil.copytree(run_dir / "step100", tmp_path / "final-only")  # a model folder, not a run's folder


def _one(run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_dir / "step100", folder / "step100")
    return folder


def _replaced(step: str, **gpt2):
    """A bad-folder builder: the run's folder with checkpoint ``step`` rewritten as another tiny GPT-2 (``gpt2``: its
    differing settings)."""
    def make(run_dir, tmp_path):
        folder = _copy(run_dir, tmp_path)
        shutil.rmtree(folder / step)
        write_gpt2(folder / step, **{"n_embd": D, **gpt2})
        return folder
    return make


_vocab = _replaced("step10", vocab_size=300)
_shapes = _replaced("step10", n_embd=2 * D)
_layers = _replaced("step0", n_layer=1)


def _no_weights(run_dir, tmp_path):
    folder = _copy(run_dir, tmp_path)
    (folder / "step10" / "model.safetensors").unlink()
    return folder


@pytest.mark.parametrize(("make", "message"), [
    (_missing, "no such folder"),
    (_no_steps, "no checkpoint folders; expected sub-folders step<N>"),
    (_one, "only one checkpoint (step100); the dynamics need at least two"),
    (_vocab, "vocabulary sizes differ (step0 257, step10 300, step100 257)"),
    (_shapes, "checkpoint step10 has other parameter names or shapes than the final checkpoint step100: "
              "transformer.h.0.attn.c_attn.bias has shape (24,) there and (12,) in step100"),
    (_layers, "checkpoint step0 has other parameter names or shapes than the final checkpoint step100: 12 "
              "parameter(s) missing (e.g. transformer.h.1."),
    (_no_weights, "checkpoint step10 has no weights (looked for model.safetensors"),
])
def test_bad_checkpoint_folders_exit_2(run_dir, tmp_path, capsys, make, message):
    folder = make(run_dir, tmp_path)
    out = tmp_path / "o"
    assert main(["run", "tpe-dynamics", "--model", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (out / "tpe-dynamics").exists()


def test_too_few_token_types_for_the_probe_exits_2(tmp_path, tmp_cache, capsys):
    folder = write_gpt2_run(tmp_path / "wide", steps=(0, 1))  # d = 16 against 38 byte types in the text
    assert main(["run", "tpe-dynamics", "--model", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "too few for a frequency probe on d = 16 dimensions with 5 folds" in capsys.readouterr().err


def test_help_of_model_names_the_dynamics(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_ = " ".join(capsys.readouterr().out.split())
    assert "tpe-dynamics: a folder of a training run's checkpoints, sub-folders step<N>" in help_
