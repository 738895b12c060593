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


def tie_stacked_embeddings(emb_in: nn.Parameter, emb_out_free: nn.Parameter | None, n_untied: int) -> torch.Tensor:
    """The output embeddings of an ensemble of runs whose matrices are stacked, (runs, vocab_size, d_model).

    Runs ``0 .. n_untied-1`` are untied: their output embedding is their row of ``emb_out_free``
    (n_untied, vocab_size, d_model). The other runs are tied: their output embedding is their slice of the stacked
    input Parameter ``emb_in`` itself, so both roles read the same storage, the optimiser sees the matrix once, and
    the run's rows get the sum of both roles' gradients, exactly as :func:`tie_embeddings` does for one model.
    """
    if emb_in.dim() != 3:
        raise ValueError(f"cannot tie: emb_in must be (runs, vocab_size, d_model), got {tuple(emb_in.shape)}")
    if not 0 <= n_untied <= emb_in.shape[0]:
        raise ValueError(f"n_untied must lie in [0, {emb_in.shape[0]}], got {n_untied}")
    if n_untied == 0:
        return emb_in
    if emb_out_free is None or emb_out_free.shape != (n_untied, *emb_in.shape[1:]):
        raise ValueError(f"emb_out_free must be ({n_untied}, {emb_in.shape[1]}, {emb_in.shape[2]}) for "
                         f"{n_untied} untied runs, got {None if emb_out_free is None else tuple(emb_out_free.shape)}")
    if n_untied == emb_in.shape[0]:
        return emb_out_free
    return torch.cat([emb_out_free, emb_in[n_untied:]])


def shared_tensors(model: nn.Module) -> list[list[str]]:
    """The names in ``model.state_dict()`` that share one storage, in groups of two or more (a tied model: its input
    and output embedding). A state dict lists a tied matrix under each of its names; formats that refuse shared
    tensors (safetensors) need to know which names are one tensor."""
    groups: dict[tuple[int, int], list[str]] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        groups.setdefault(key, []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimiser parameter groups: matrices (2-D and more, embeddings included) decayed by ``weight_decay``, vectors
    (biases, norms) not. Built from ``named_parameters()``, which yields a tied matrix once, so it is in one group and
    decayed once; grouping by the names of a state dict would list it twice. Each group also holds its ``names``.
    """
    decay, keep = [], []
    for name, p in model.named_parameters():  # remove_duplicate=True: a shared Parameter appears once
        if p.requires_grad:
            (decay if p.dim() >= 2 else keep).append((name, p))
    return [{"params": [p for _, p in group], "names": [n for n, _ in group], "weight_decay": wd}
            for group, wd in ((decay, weight_decay), (keep, 0.0)) if group]


def share_embedding(source: nn.Embedding, other: nn.Embedding) -> None:
    """Make ``other`` use ``source``'s weight (same Parameter): the encoder's input embedding shared with the
    decoder's, the third tie of three-way weight tying (press2017, Sec. 6)."""
    if source.weight.shape != other.weight.shape:
        raise ValueError(f"cannot share: embeddings are {tuple(source.weight.shape)} and {tuple(other.weight.shape)}; "
                         f"a shared vocabulary and one embedding size are needed")
    other.weight = source.weight
