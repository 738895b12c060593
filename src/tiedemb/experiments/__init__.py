"""The registry of experiments, and :func:`run_or_load`, the one way a chapter, a test or the CLI gets a result.

Each paper's module (``experiments/<paper>/<chapter>.py``) registers its experiments with :func:`register`: a run
function that computes metrics and arrays, and a judge function that turns metrics into the paper's claims with
verdicts. Verdicts are never stored as the truth: every time a result is loaded (from the cache or from the committed
``results/`` folder) its claims are judged again by the current code from its stored metrics.

Names are lower-case with dashes and carry the chapter's prefix (``grad-…`` for the gradient chapter, ``eqv-…``,
``xor-…``, ``mlm-…``, ``pw-…``, ``tpe-…``, ``nv-…``).
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..cache import ResultMissing, StaleResultWarning, cache_path, load_cached, load_committed, produce_command
from ..claims import Claim
from ..config import ExperimentConfig, num_threads
from ..results import Result, code_version, git_commit, provenance

__all__ = ["Experiment", "ResultMissing", "StaleResultWarning", "UnknownExperiment", "all_experiments", "compute",
           "get", "register", "rejudge", "run_or_load"]

MODULES = ("press_wolf.gradients", "press_wolf.language_models", "press_wolf.practice", "press_wolf.word2vec",
           "press_wolf.translation", "bertolotti.theorems", "bertolotti.diagnose", "bertolotti.xor",
           "bertolotti.xor_sweep", "bertolotti.xor_departure", "bertolotti.mlm", "bertolotti.mlm_sweep",
           "yamagiwa.norm_variance", "cho.token_probability")
"""Experiment modules, by paper and chapter; imported on first use of the registry."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
_REGISTRY: dict[str, Experiment] = {}


@dataclass(frozen=True)
class Experiment:
    """An experiment: its config class, its run function, and what it reproduces."""

    name: str  # CLI name, e.g. "grad-check"
    reproduces: str  # the paper's figure/table/equations it reproduces
    chapter: str  # the book page that shows it, e.g. "book/gradients/tied_gradients"
    config_cls: type[ExperimentConfig]
    run: Callable[[ExperimentConfig], Result]  # computes metrics and arrays (its claims are replaced by judge's)
    judge: Callable[[ExperimentConfig, dict], list[Claim]]  # the claims and verdicts from the metrics alone
    after: tuple[str, ...] = ()  # experiments whose results this one reads (computed first by `run --all`)
    cost: float = 10.0  # rough one-core seconds at quick scale (benchmarks/quick-speed.md): `run --all` starts the
    # longest first, so that the last worker is not left alone with a long one; a scheduling hint, nothing else
    departure: bool = False  # a departure from the paper's configuration that scores claims another experiment scores
    # on the paper's configuration: its verdicts are shown by its chapter, not on the scoreboard (one verdict a claim)


class UnknownExperiment(KeyError):
    """No experiment of that name; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


def no_claims(cfg: ExperimentConfig, metrics: dict) -> list[Claim]:
    """The judge of an experiment that scores no claim of its own (its figures serve another's claims)."""
    return []


def register(name: str, *, reproduces: str, chapter: str, config_cls: type[ExperimentConfig],
             judge: Callable[[ExperimentConfig, dict], list[Claim]], after: tuple[str, ...] = (), cost: float = 10.0,
             departure: bool = False):
    """Decorator registering ``run(cfg) -> Result`` as experiment ``name``, with ``judge(cfg, metrics) -> claims``
    (:func:`no_claims` for an experiment without claims), ``cost``, the scheduling hint of :attr:`Experiment.cost`,
    and ``departure`` (:attr:`Experiment.departure`: its claims stay off the scoreboard)."""
    if not _NAME.match(name):
        raise ValueError(f"experiment name {name!r} must be lower-case words joined by dashes, with a prefix")
    if config_cls.name != name:
        raise ValueError(f"{config_cls.__name__}.name is {config_cls.name!r}, expected {name!r}")

    def wrap(run: Callable[[ExperimentConfig], Result]) -> Callable[[ExperimentConfig], Result]:
        if name in _REGISTRY:
            raise ValueError(f"experiment {name!r} registered twice")
        _REGISTRY[name] = Experiment(name, reproduces, chapter, config_cls, run, judge, tuple(after), float(cost),
                                     departure)
        return run

    return wrap


def _load_all() -> None:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")


def all_experiments() -> list[Experiment]:
    """Every registered experiment, sorted by name."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get(name: str) -> Experiment:
    """The experiment called ``name``; :class:`UnknownExperiment` lists the allowed names otherwise."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownExperiment(
            f"unknown experiment {name!r}; known experiments: {', '.join(sorted(_REGISTRY))}"
        ) from None


def compute(cfg: ExperimentConfig) -> Result:
    """Run the experiment now (no cache), judge its claims and attach provenance."""
    experiment = get(cfg.name)
    if not isinstance(cfg, experiment.config_cls):
        raise TypeError(f"{cfg.name} expects a {experiment.config_cls.__name__}, got {type(cfg).__name__}")
    code, commit = code_version(cfg.name), git_commit()  # the code that runs: read before it runs
    import torch

    # The same number of torch threads for every computation, wherever it runs (a worker of `run --all`, a notebook,
    # a test): summation orders, hence the last bits of float32 results, depend on it.
    torch.set_num_threads(num_threads())
    from ..train.loop import reset_resumed, resumed_seconds

    reset_resumed()
    start = time.perf_counter()
    result = experiment.run(cfg)
    result.claims = experiment.judge(cfg, result.metrics)
    resumed, earlier = resumed_seconds()  # trainings resumed from checkpoints: time the processes before them too
    result.provenance = provenance(cfg.name, time.perf_counter() - start, code=code, commit=commit,
                                   resumed=resumed, earlier_s=earlier)
    return result


def rejudge(result: Result, cfg: ExperimentConfig) -> Result:
    """Judge a loaded result's claims again with the current code, from its stored metrics.

    The claims stored with the result are kept in ``result.stored_claims``; ``result.changed_verdicts`` lists the
    labels whose verdict the current code judges differently (a test fails on those for committed results).
    """
    stored = result.claims
    result.claims = get(cfg.name).judge(cfg, result.metrics)
    result.stored_claims = stored
    before = {c.label: c.verdict for c in stored}
    result.changed_verdicts = sorted(c.label for c in result.claims if before.get(c.label, c.verdict) != c.verdict)
    return result


def run_or_load(cfg: ExperimentConfig, *, compute_missing: bool | None = None) -> Result:
    """Load the result of ``cfg`` from the cache (or, at paper scale, from the committed results), or compute and
    cache it. A loaded result's claims are judged again by the current code.

    Args:
        cfg: the experiment's config (its ``name`` picks the experiment).
        compute_missing: compute when nothing valid is cached. Default: True at quick scale, False at paper scale
            (paper-scale runs take hours and are started explicitly from the CLI).
    """
    if compute_missing is None:
        compute_missing = cfg.scale == "quick"
    folder = cache_path(cfg)
    result = load_cached(folder, cfg, code_version(cfg.name))
    if result is None and cfg.scale == "paper":
        result = load_committed(cfg)
    if result is not None:
        return rejudge(result, cfg)
    if not compute_missing:
        raise ResultMissing(
            f"the {cfg.scale}-scale result of {cfg.name} is not present (looked in {folder} and in the committed "
            f"results folders). Produce it with:\n    {produce_command(cfg)}"
        )
    result = compute(cfg)
    result.save(folder)
    return result
