"""The one place where embeddings are tied.

Tying makes the output layer use the input embedding's parameter itself (the same storage), so a tied model holds the
matrix once, counts it once, and an optimizer built from ``model.parameters()`` sees it once. Its gradient is the sum of
the gradients of its two roles (see :mod:`tiedemb.theory`).

Paper: press2017, Sec. 3; bertolotti2024, Sec. on weight tying.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def tie_embeddings(emb_in: nn.Embedding, emb_out: nn.Linear) -> None:
    """Make ``emb_out`` use ``emb_in``'s weight (same Parameter, same storage).

    Args:
        emb_in: the input embedding, weight of shape (vocab_size, d_model).
        emb_out: the output layer mapping d_model to vocab_size, weight of shape (vocab_size, d_model).
    """
    if emb_in.weight.shape != emb_out.weight.shape:
        raise ValueError(
            f"cannot tie: input embedding is {tuple(emb_in.weight.shape)} but output embedding is "
            f"{tuple(emb_out.weight.shape)}; both must be (vocab_size, d_model)"
        )
    emb_out.weight = emb_in.weight


def is_tied(model: nn.Module) -> bool:
    """Whether ``model.emb_in`` and ``model.emb_out`` share one parameter."""
    return model.emb_out.weight is model.emb_in.weight


def untie_embeddings(model: nn.Module) -> nn.Module:
    """A deep copy of a tied model whose output embedding is a separate copy of the shared matrix.

    The copy computes exactly the same function; only the gradient bookkeeping differs: the input and output roles
    now have a parameter each. Used to split a tied gradient into its input-path and output-path parts.
    """
    twin = copy.deepcopy(model)
    if is_tied(twin):
        twin.emb_out.weight = nn.Parameter(twin.emb_in.weight.detach().clone())
        twin.tied = False
    return twin


def count_parameters(model: nn.Module) -> int:
    """Number of distinct trainable scalars (a tied matrix counts once)."""
    seen: dict[int, torch.Tensor] = {}
    for p in model.parameters():  # parameters() already skips repeats of the same Parameter
        if p.requires_grad:
            seen[id(p)] = p
    return sum(p.numel() for p in seen.values())


def tie_stacked_embeddings(ensemble: nn.Module) -> None:
    """Tie an ensemble whose runs' embeddings are stacked into one tensor of shape (runs, vocab_size, d_model).

    The ensemble's ``emb_out`` becomes its ``emb_in`` Parameter itself, so every run's output role uses the same
    storage as its input role, the optimiser sees the tensor once, and each run's row gets the sum of both roles'
    gradients, exactly as :func:`tie_embeddings` does for one model.
    """
    emb_in = ensemble.emb_in
    if not isinstance(emb_in, nn.Parameter) or emb_in.dim() != 3:
        raise ValueError(f"cannot tie: the ensemble's emb_in must be a (runs, vocab_size, d_model) Parameter, got "
                         f"{type(emb_in).__name__} of shape {tuple(getattr(emb_in, 'shape', ()))}")
    ensemble.emb_out = emb_in


def is_tied_stacked(ensemble: nn.Module) -> bool:
    """Whether an ensemble's ``emb_out`` is its ``emb_in`` Parameter."""
    return ensemble.emb_out is ensemble.emb_in
