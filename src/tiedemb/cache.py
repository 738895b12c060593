"""Where results are kept: the cache (keyed by config and code version) and the committed ``results/`` folders.

This module only stores and finds results; :func:`tiedemb.experiments.run_or_load` decides what to compute. A corrupt
cache entry, or one computed by other code (stale), is not returned (with a warning), never trusted. A committed
result is returned whatever code computed it (its ``code_version`` is shown on the page) and its claims are judged
again by the caller.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from .config import ExperimentConfig, cache_dir, results_dirs
from .results import Result, ResultError, code_version


class ResultMissing(FileNotFoundError):
    """A result that is not computed implicitly (paper scale) is not present."""


class StaleResultWarning(UserWarning):
    """A cached result was corrupt or computed by other code, and is being recomputed."""


def config_key(cfg: ExperimentConfig) -> str:
    """A stable hash of the config (its experiment name included)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(cfg: ExperimentConfig, root: Path | None = None) -> Path:
    """The cache folder of this config."""
    return (root or cache_dir()) / cfg.name / cfg.scale / config_key(cfg)


def checkpoint_path(cfg: ExperimentConfig, *parts: str, suffix: str = ".pt") -> Path:
    """Where a long run of ``cfg`` keeps a training checkpoint while it goes on (under the cache folder).

    The name holds the config key and the experiment's code version, so that a run resumes only from a checkpoint of
    the same configuration written by the same code; ``parts`` tell the runs of one experiment apart (seed, variant).
    """
    name = "-".join([config_key(cfg), code_version(cfg.name), *map(str, parts)]) + suffix
    return cache_dir() / "checkpoints" / cfg.name / name


def produce_command(cfg: ExperimentConfig) -> str:
    """The shell command that computes this config's result."""
    seeds = ",".join(map(str, cfg.seeds))
    default = type(cfg).for_scale(cfg.scale)
    seed_arg = "" if cfg.seeds == default.seeds else f" --seeds {seeds}"
    size = getattr(cfg, "size", None)
    size_arg = f" --size {size}" if size is not None and size != getattr(default, "size", None) else ""
    return f"python -m tiedemb run {cfg.name} --scale {cfg.scale}{size_arg}{seed_arg}"


def load_cached(folder: Path, cfg: ExperimentConfig, current_code: str) -> Result | None:
    """The cached result of ``cfg`` in ``folder`` if it is intact, of this config and of ``current_code``."""
    if not folder.exists():
        return None
    try:
        result = Result.load(folder)
    except ResultError as err:
        warnings.warn(f"cached result {folder} is corrupt ({err}); recomputing", StaleResultWarning, stacklevel=3)
        return None
    if result.config != cfg.to_dict():
        warnings.warn(f"cached result {folder} holds another config; recomputing", StaleResultWarning, stacklevel=3)
        return None
    if result.provenance.get("code_version") != current_code:
        warnings.warn(
            f"cached result {folder} was computed by code version {result.provenance.get('code_version')}, "
            f"now {current_code}; recomputing",
            StaleResultWarning,
            stacklevel=3,
        )
        return None
    return result


def load_committed(cfg: ExperimentConfig) -> Result | None:
    """A committed result whose config matches, if any: ``results/<scale>/<name>/`` (the experiment's own
    configuration at that scale), or ``results/<scale>/<name>/<config key>/`` (another configuration of the same
    experiment, e.g. a point of a sweep; :func:`committed_path`)."""
    for root in results_dirs():
        for folder in (root / cfg.scale / cfg.name, committed_path(cfg, root)):
            if not (folder / "result.json").is_file():
                continue
            try:
                result = Result.load(folder)
            except ResultError as err:
                warnings.warn(f"committed result {folder} is unreadable ({err}); ignoring it",
                              StaleResultWarning, stacklevel=3)
                continue
            if result.config == cfg.to_dict():
                return result
    return None


def committed_path(cfg: ExperimentConfig, root: Path) -> Path:
    """Where a configuration other than the experiment's own preset is committed under a results folder ``root``:
    ``<root>/<scale>/<name>/<config key>/``."""
    return root / cfg.scale / cfg.name / config_key(cfg)
