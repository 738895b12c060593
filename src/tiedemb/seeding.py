"""The one place where global random state is set."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .config import num_threads


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch, make torch deterministic on the CPU, and return a torch generator.

    Data code never uses the global generators: it takes the returned ``torch.Generator`` (or a
    ``numpy.random.Generator`` made from the same seed) explicitly. The global seeds only cover parameter
    initialisation inside ``torch.nn`` modules.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the one global seed, for third-party code that uses it
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(num_threads())
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def numpy_rng(seed: int, *stream: int) -> np.random.Generator:
    """A numpy generator for ``seed`` and an optional stream id (independent streams from one seed)."""
    return np.random.default_rng([seed, *stream])
