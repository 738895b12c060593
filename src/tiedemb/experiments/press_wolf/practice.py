"""Tying in practice: the questions users hit when they tie embeddings, each demonstrated on a small model.

``pw-practice`` runs four demonstrations and records what happened (error messages included):

- **saving and loading**: a tied model's state dict lists the shared matrix under two names; safetensors refuses
  to save it with ``save_file``; ``save_model`` writes it once and ``load_model`` restores the tie;
- **weight decay once**: parameter groups built from a state dict's names put the shared matrix in two groups (torch
  refuses); groups from ``named_parameters()`` (:func:`~tiedemb.models.tying.decay_groups`) hold every parameter
  once, and one AdamW step with zero gradient shrinks the shared matrix by ``1 − lr·wd`` exactly once;
- **embedding size ≠ hidden size**: the output embedding must have the input embedding's shape, so a projection
  from the hidden size to the embedding size comes before it (as in PR's P, here rectangular);
- **a Hugging Face causal LM**: ``tie_word_embeddings`` makes ``lm_head`` share ``wte``; ``save_pretrained`` writes
  the matrix once, loading restores the tie; loading the same files with ``tie_word_embeddings=False`` leaves
  ``lm_head`` missing and randomly initialised. The model is tiny, randomly initialised and saved into a temporary
  folder: nothing is downloaded.

Paper: press2017, Sec. 3 (weight tying) and Sec. 5 (PR's projection before the output embedding).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...claims import Claim, identity
from ...config import ExperimentConfig, positive
from ...models import LSTMLanguageModel, count_parameters, is_tied
from ...models.pretrained import load_lm_with_report
from ...models.tying import decay_groups, shared_tensors
from ...results import Result
from ...seeding import seed_everything
from ...train.loop import OptimSpec, build_optimizer
from .. import register

CHAPTER = "book/press_wolf/language_models"


@dataclass(frozen=True)
class PracticeConfig(ExperimentConfig):
    """Sizes of the small models of the demonstrations."""

    name = "pw-practice"

    vocab_size: int = 200  # C; paper (PTB): 10,000
    d_model: int = 16  # H, the embedding size; paper: 200 (small)
    d_hidden: int = 32  # LSTM units of the projection demonstration (≠ d_model on purpose)
    n_layers: int = 1  # LSTM layers; paper: 2
    lr: float = 0.1  # AdamW learning rate of the weight-decay demonstration
    weight_decay: float = 0.1  # AdamW weight decay of the weight-decay demonstration
    hf_layers: int = 1  # GPT-2 blocks of the Hugging Face demonstration; GPT-2 small: 12
    hf_heads: int = 2  # attention heads; GPT-2 small: 12
    hf_d_model: int = 32  # GPT-2's n_embd; GPT-2 small: 768

    def _validate(self) -> None:
        for f in ("vocab_size", "d_model", "d_hidden", "n_layers", "hf_layers", "hf_heads", "hf_d_model"):
            positive(f, getattr(self, f), integer=True)
        for f in ("lr", "weight_decay"):
            positive(f, getattr(self, f))

    @classmethod
    def quick(cls) -> PracticeConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> PracticeConfig:
        # The paper's small PTB model (C = 10,000, H = 200, 2 layers); a 650-unit LSTM for the projection, as in
        # Zaremba's medium model; a 2-block GPT-2 of width 200.
        return cls(scale="paper", seeds=(0,), vocab_size=10_000, d_model=200, d_hidden=650, n_layers=2,
                   hf_layers=2, hf_heads=4, hf_d_model=200)


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0]


def _tokens(cfg: PracticeConfig, vocab_size: int) -> torch.Tensor:
    return torch.randint(0, vocab_size, (2, 8), generator=torch.Generator().manual_seed(cfg.seeds[0]))


def demo_safetensors(cfg: PracticeConfig, folder: Path) -> dict[str, Any]:
    """Save a tied model with safetensors: the refused ``save_file``, then ``save_model``/``load_model``."""
    from safetensors import safe_open
    from safetensors.torch import load_model, save_file, save_model

    seed_everything(cfg.seeds[0])
    model = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=True)
    try:
        save_file(model.state_dict(), folder / "refused.safetensors")
        refused = ""
    except RuntimeError as err:  # "Some tensors share memory, this will lead to duplicate memory ...: [{names}]"
        # The message ends with a Python set of the names, whose order changes between processes: sorted here.
        refused = _first_line(err).split(": [")[0] + ": " + ", ".join(sorted(shared_tensors(model)[0]))
    save_model(model, str(folder / "tied.safetensors"))
    with safe_open(str(folder / "tied.safetensors"), framework="pt") as fh:
        stored = sorted(fh.keys())
    seed_everything(cfg.seeds[0] + 1)  # a fresh model with other weights
    fresh = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=True)
    load_model(fresh, str(folder / "tied.safetensors"))
    x = _tokens(cfg, cfg.vocab_size)
    with torch.no_grad():
        diff = float((fresh(x) - model(x)).abs().max())
    # The same file loaded into an UNTIED model: its output embedding is not in the file.
    untied = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=False)
    missing, _ = load_model(untied, str(folder / "tied.safetensors"), strict=False)
    return {"shared": shared_tensors(model), "state_dict_keys": len(model.state_dict()), "refused": refused,
            "stored_keys": stored, "dropped": sorted(set(model.state_dict()) - set(stored)),
            "reloaded_tied": is_tied(fresh), "reloaded_max_diff": diff, "untied_missing": sorted(missing)}


def demo_weight_decay(cfg: PracticeConfig) -> dict[str, Any]:
    """Weight decay on a tied model: groups by state-dict names (refused) against :func:`decay_groups`."""
    seed_everything(cfg.seeds[0])
    model = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=True)
    spec = OptimSpec("adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    # A common recipe: no decay for embeddings and biases, decay for the other matrices, chosen by name. The tied
    # matrix is "emb_in.weight" (an embedding: not decayed) AND "emb_out.weight" (a Linear's weight: decayed).
    named = dict(model.named_parameters(remove_duplicate=False))
    naive = [{"params": [p for n, p in named.items() if p.dim() >= 2 and not n.startswith("emb_in")],
              "weight_decay": cfg.weight_decay},
             {"params": [p for n, p in named.items() if n.startswith("emb_in") or p.dim() < 2], "weight_decay": 0.0}]
    naive_count = sum(p.numel() for g in naive for p in g["params"])
    try:
        build_optimizer(naive, spec)
        refused = ""
    except ValueError as err:  # "some parameters appear in more than one parameter group"
        refused = _first_line(err)
    groups = decay_groups(model, cfg.weight_decay)
    opt, _ = build_optimizer(groups, spec)
    shared = model.emb_in.weight
    before = shared.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only the decoupled decay moves the weights
    opt.step()
    ratio = (shared.detach() / before)[before.abs() > 1e-6]
    return {"refused": refused, "naive_count": naive_count, "state_dict_count": sum(
                t.numel() for t in model.state_dict().values()),
            "group_counts": [sum(p.numel() for p in g["params"]) for g in groups],
            "group_names": [g["names"] for g in groups], "count": count_parameters(model),
            "shrink_expected": 1 - cfg.lr * cfg.weight_decay, "shrink_measured": float(ratio.mean()),
            "shrink_spread": float(ratio.max() - ratio.min())}


def demo_projection(cfg: PracticeConfig) -> dict[str, Any]:
    """Tying with an LSTM wider than the embedding: refused without a projection, counted with one."""
    seed_everything(cfg.seeds[0])
    try:
        LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, d_hidden=cfg.d_hidden, tied=True)
        refused = ""
    except ValueError as err:
        refused = _first_line(err)
    tied = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, d_hidden=cfg.d_hidden, tied=True,
                             projection=True)
    untied = LSTMLanguageModel(cfg.vocab_size, cfg.d_model, cfg.n_layers, d_hidden=cfg.d_hidden, tied=False,
                               projection=True)
    with torch.no_grad():
        shape = list(tied(_tokens(cfg, cfg.vocab_size)).shape)
    return {"refused": refused, "tied": is_tied(tied), "logits_shape": shape,
            "count_tied": count_parameters(tied), "analytic_tied": tied.analytic_parameter_count(),
            "count_untied": count_parameters(untied), "analytic_untied": untied.analytic_parameter_count(),
            "projection_params": cfg.d_model * cfg.d_hidden + cfg.d_model}


def demo_huggingface(cfg: PracticeConfig, folder: Path) -> dict[str, Any]:
    """A tiny randomly initialised GPT-2 with ``tie_word_embeddings``: saved, loaded, and loaded untied."""
    from safetensors import safe_open
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Writing model shards" bar on stderr
    seed_everything(cfg.seeds[0])
    config = GPT2Config(vocab_size=cfg.vocab_size, n_positions=32, n_embd=cfg.hf_d_model, n_layer=cfg.hf_layers,
                        n_head=cfg.hf_heads, bos_token_id=0, eos_token_id=0, tie_word_embeddings=True)
    model = GPT2LMHeadModel(config).eval()
    tied = model.lm_head.weight is model.transformer.wte.weight
    model.save_pretrained(str(folder))
    with safe_open(str(folder / "model.safetensors"), framework="pt") as fh:
        stored = set(fh.keys())
    reloaded, info = load_lm_with_report(folder)
    x = _tokens(cfg, cfg.vocab_size)
    with torch.no_grad():
        ref = model(x).logits
        diff = float((reloaded(x).logits - ref).abs().max())
    seed_everything(cfg.seeds[0])
    untied, untied_info = load_lm_with_report(folder, tie_word_embeddings=False)
    with torch.no_grad():
        untied_diff = float((untied(x).logits - ref).abs().max())
    untied_config = GPT2Config(**{**config.to_dict(), "tie_word_embeddings": False})
    with torch.device("meta"):
        untied_count = count_parameters(GPT2LMHeadModel(untied_config))
    return {"tied": tied, "count": count_parameters(model), "num_parameters": model.num_parameters(),
            "untied_count": untied_count, "vocab_times_d": cfg.vocab_size * cfg.hf_d_model,
            "lm_head_stored": "lm_head.weight" in stored, "stored_keys": len(stored),
            "state_dict_keys": len(model.state_dict()), "reloaded_tied":
                reloaded.lm_head.weight is reloaded.transformer.wte.weight,
            "reloaded_missing": sorted(info["missing_keys"]), "reloaded_max_diff": diff,
            "untied_tied": untied.lm_head.weight is untied.transformer.wte.weight,
            "untied_missing": sorted(untied_info["missing_keys"]), "untied_max_diff": untied_diff}


def judge_practice(cfg: PracticeConfig, m: dict) -> list[Claim]:
    """PW-P2: a tied matrix is held, counted, saved and decayed once (facts of the code, shown as an identity)."""
    s, w, p, h = m["safetensors"], m["weight_decay"], m["projection"], m["huggingface"]
    ok = (s["reloaded_tied"] and s["reloaded_max_diff"] == 0 and len(s["dropped"]) == 1
          and sum(w["group_counts"]) == w["count"] and abs(w["shrink_measured"] - w["shrink_expected"]) < 1e-6
          and p["count_tied"] == p["analytic_tied"] and p["count_untied"] - p["count_tied"] == cfg.vocab_size
          * cfg.d_model and h["tied"] and h["reloaded_tied"] and not h["lm_head_stored"]
          and h["untied_count"] - h["count"] == h["vocab_times_d"])
    return [identity("PW-P2", "Tying holds the embedding matrix once: it is counted, saved, decayed and loaded once, "
                     "and removes exactly C × H parameters.",
                     "Sec. 3: U = V (one matrix); Tables 5, 6 and 8: tied models are smaller",
                     f"safetensors file without {', '.join(s['dropped'])} and reloaded tied (max logit change "
                     f"{s['reloaded_max_diff']:.1g}); optimiser groups hold {sum(w['group_counts']):,} = "
                     f"{w['count']:,} parameters; one AdamW step shrinks the shared matrix by "
                     f"{w['shrink_measured']:.4f} (1 − lr·wd = {w['shrink_expected']:.4f}); projection model "
                     f"{p['count_tied']:,} = its arithmetic count; GPT-2 tied {h['count']:,} vs untied "
                     f"{h['untied_count']:,} parameters", ok)]


@register("pw-practice", reproduces="Press & Wolf (2017) Sec. 3 in practice: saving, weight decay, shapes, "
          "Hugging Face", chapter=CHAPTER, config_cls=PracticeConfig, judge=judge_practice, cost=5)
def run_practice(cfg: PracticeConfig) -> Result:
    with tempfile.TemporaryDirectory(prefix="tiedemb-practice-") as tmp:
        folder = Path(tmp)
        (folder / "hf").mkdir()
        metrics = {"safetensors": demo_safetensors(cfg, folder), "weight_decay": demo_weight_decay(cfg),
                   "projection": demo_projection(cfg), "huggingface": demo_huggingface(cfg, folder / "hf")}
    return Result("pw-practice", cfg.to_dict(), metrics, [])
