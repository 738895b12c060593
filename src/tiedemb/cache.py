"""``run_or_load``: compute an experiment once, then load it.

Results are keyed by the experiment's config and the package's code version. A corrupt entry, or one computed by
other code (stale), is recomputed with a warning, never trusted. Paper-scale results are not computed implicitly:
when none is present, the error says exactly which command produces it.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path

from .config import ExperimentConfig, cache_dir, results_dirs
from .experiments import get
from .results import Result, ResultError, code_version, provenance


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


def produce_command(cfg: ExperimentConfig) -> str:
    """The shell command that computes this config's result."""
    seeds = ",".join(map(str, cfg.seeds))
    default = type(cfg).for_scale(cfg.scale)
    seed_arg = "" if cfg.seeds == default.seeds else f" --seeds {seeds}"
    return f"python -m tiedemb run {cfg.name} --scale {cfg.scale}{seed_arg}"


def compute(cfg: ExperimentConfig) -> Result:
    """Run the experiment now (no cache) and attach provenance."""
    experiment = get(cfg.name)
    if not isinstance(cfg, experiment.config_cls):
        raise TypeError(f"{cfg.name} expects a {experiment.config_cls.__name__}, got {type(cfg).__name__}")
    start = time.perf_counter()
    result = experiment.run(cfg)
    result.provenance = provenance(time.perf_counter() - start)
    return result


def _load_cached(folder: Path, cfg: ExperimentConfig) -> Result | None:
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
    if result.provenance.get("code_version") != code_version():
        warnings.warn(
            f"cached result {folder} was computed by code version {result.provenance.get('code_version')}, "
            f"now {code_version()}; recomputing",
            StaleResultWarning,
            stacklevel=3,
        )
        return None
    return result


def _load_committed(cfg: ExperimentConfig) -> Result | None:
    """A committed result (``results/<scale>/<name>/``) whose config matches, if any."""
    for root in results_dirs():
        folder = root / cfg.scale / cfg.name
        if (folder / "result.json").is_file():
            try:
                result = Result.load(folder)
            except ResultError as err:
                warnings.warn(f"committed result {folder} is unreadable ({err}); ignoring it",
                              StaleResultWarning, stacklevel=3)
                continue
            if result.config == cfg.to_dict():
                return result
    return None


def run_or_load(cfg: ExperimentConfig, *, compute_missing: bool | None = None) -> Result:
    """Load the result of ``cfg`` from the cache, or compute and cache it.

    Args:
        cfg: the experiment's config (its ``name`` picks the experiment).
        compute_missing: compute when nothing valid is cached. Default: True at quick scale, False at paper scale
            (paper-scale runs take hours and are started explicitly from the CLI).
    """
    if compute_missing is None:
        compute_missing = cfg.scale == "quick"
    folder = cache_path(cfg)
    result = _load_cached(folder, cfg)
    if result is None and cfg.scale == "paper":
        result = _load_committed(cfg)
    if result is not None:
        return result
    if not compute_missing:
        raise ResultMissing(
            f"the {cfg.scale}-scale result of {cfg.name} is not present (looked in {folder} and in the committed "
            f"results folders). Produce it with:\n    {produce_command(cfg)}"
        )
    result = compute(cfg)
    result.save(folder)
    return result
