"""Hugging Face model folders on disk (tiny random BERT and GPT-2 written to a temporary folder), the command line's
--model, its errors (exit code 2), and the package models' hidden states."""

from __future__ import annotations

import json
import sys

import hf_models
import numpy as np
import pytest
import torch

from tiedemb.cli import main
from tiedemb.models.lm import TransformerLanguageModel
from tiedemb.models.mlm import MaskedLanguageModel
from tiedemb.models.pretrained import (
    ModelDirError,
    check_model_dir,
    encode_sentences,
    hidden_states,
    load_pretrained,
    merged_types,
)

transformers = pytest.importorskip("transformers")

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "of", "and", "a", "in", "is", "was", "to", "as",
         "##s", "s", "##ing", ".", ",", "(", ")"]


def write_bert(folder, vocab_size=None):
    """A tiny random BERT (2 layers, d 16) with a WordPiece tokenizer, saved like save_pretrained does."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    tok = transformers.BertTokenizer(str(folder / "vocab.txt"))
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=vocab_size or len(WORDS), hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32)
    transformers.BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def write_gpt2(folder):
    """A tiny random GPT-2 without its LM head (a decoder's hidden states are all this chapter reads)."""
    return hf_models.write_gpt2(folder, head=False, n_positions=256)


def test_bert_folder_loads_offline_with_every_hidden_state(tmp_path):
    pre = load_pretrained(write_bert(tmp_path / "bert"))
    assert (pre.n_hidden, pre.d_model, pre.kind) == (3, 16, "encoder")
    enc = encode_sentences(pre.tokenizer, ["The cats of the thing.", "a"])
    assert enc[0][0] == WORDS.index("[CLS]") and enc[0][-1] == WORDS.index("[SEP]")
    ids, states = hidden_states(pre, enc)
    assert ids.shape == (sum(map(len, enc)),) and states.shape == (3, len(ids), 16)
    # padding is dropped: the short sentence's states equal those computed alone
    _, alone = hidden_states(pre, enc[1:])
    torch.testing.assert_close(states[:, -len(enc[1]):], alone, atol=1e-5, rtol=1e-5)


def test_subword_prefixes_are_merged_and_specials_kept(tmp_path):
    pre = load_pretrained(write_bert(tmp_path / "bert"))
    type_of, names = merged_types(pre.tokenizer)
    assert type_of[WORDS.index("##s")] == type_of[WORDS.index("s")]
    assert type_of[WORDS.index("##ing")] != type_of[WORDS.index("s")]
    assert "[CLS]" in names and len(set(type_of.tolist())) == len(WORDS) - 1


def test_gpt2_folder_is_a_decoder_wrapped_in_endoftext(tmp_path):
    pre = load_pretrained(write_gpt2(tmp_path / "gpt2"))
    assert (pre.n_hidden, pre.kind) == (3, "decoder")
    enc = encode_sentences(pre.tokenizer, ["The cat sat."])
    assert enc[0][0] == enc[0][-1] == 256
    type_of, _ = merged_types(pre.tokenizer)
    assert type_of.shape == (257,)


@pytest.mark.parametrize("make", [write_bert, write_gpt2])
def test_cli_runs_nv_minilm_on_any_model_folder(tmp_path, tmp_cache, make, monkeypatch):
    folder = make(tmp_path / "model")
    out = tmp_path / "out"
    code = main(["run", "nv-minilm", "--model", str(folder), "--out", str(out)])
    assert code == 0
    result = json.loads((out / "nv-minilm" / "result.json").read_text())
    assert result["metrics"]["model"] == "model" and result["metrics"]["n_hidden"] == 3
    labels = {c["label"]: c["verdict"] for c in result["claims"]}
    assert labels["Y-E1"] == "identity"
    if make is write_gpt2:  # Y-E2/Y-E3 are about Post-LN encoders: not testable on a decoder
        assert labels["Y-E2"] == labels["Y-E3"] == "not testable at this scale"
    assert (out / "nv-minilm" / "v_against_m.png").is_file()


def _exit_code(args, capsys):
    with pytest.raises(SystemExit) as exc:
        sys.exit(main(args))
    return exc.value.code, capsys.readouterr().err


def test_folder_without_weights_exits_2(tmp_path, capsys):
    folder = write_bert(tmp_path / "bert")
    (folder / "model.safetensors").unlink()
    code, err = _exit_code(["run", "nv-minilm", "--model", str(folder), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no weights" in err
    assert not (tmp_path / "o").exists()


def test_missing_folder_and_mismatched_tokenizer_exit_2(tmp_path, capsys):
    code, err = _exit_code(["run", "nv-minilm", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                           capsys)
    assert code == 2 and "no such folder" in err
    folder = write_bert(tmp_path / "small", vocab_size=10)  # the tokenizer has 21 tokens, the embedding 10 rows
    code, err = _exit_code(["run", "nv-minilm", "--model", str(folder), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "do not belong together" in err
    with pytest.raises(ModelDirError, match="do not belong together"):
        check_model_dir(folder)


def test_model_option_only_for_pretrained_experiments(tmp_path, capsys):
    folder = write_bert(tmp_path / "bert")
    code, err = _exit_code(["run", "nv-scratch", "--model", str(folder), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--model applies" in err


@pytest.mark.parametrize("model", [
    MaskedLanguageModel(40, 16, 3, 2, 32),
    TransformerLanguageModel(40, 16, 3, 2, 32, max_len=12),
], ids=["post-ln-mlm", "pre-ln-lm"])
def test_hidden_layers_end_at_the_models_hidden(model):
    tokens = torch.randint(3, 40, (2, 12), generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        states = model.hidden_layers(tokens)
        assert states.shape == (4, 2, 12, 16)
        torch.testing.assert_close(states[-1], model.hidden(tokens))
        torch.testing.assert_close(states[0][..., :], states[0])
    if isinstance(model, MaskedLanguageModel):  # Post-LN: every layer's output is a LayerNorm output
        q = (states[1:] ** 2).sum(-1).numpy()
        assert np.allclose(q.mean(), 16, rtol=0.3)
