"""The registry of experiments: every experiment of the book, by CLI name.

Each paper's module registers its experiments with :func:`register`. Names are lower-case with dashes and carry the
chapter's prefix (``grad-…`` for the gradient chapter, ``xor-…``, ``mlm-…``, ``pw-…``, ``tpe-…``, ``nv-…``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..config import ExperimentConfig
from ..results import Result

MODULES = ("press_wolf.gradients", "bertolotti.theorems", "bertolotti.xor", "bertolotti.mlm")
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
    run: Callable[[ExperimentConfig], Result]


class UnknownExperiment(KeyError):
    """No experiment of that name; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(name: str, *, reproduces: str, chapter: str, config_cls: type[ExperimentConfig]):
    """Decorator registering ``run(cfg) -> Result`` as experiment ``name``."""
    if not _NAME.match(name):
        raise ValueError(f"experiment name {name!r} must be lower-case words joined by dashes, with a prefix")
    if config_cls.name != name:
        raise ValueError(f"{config_cls.__name__}.name is {config_cls.name!r}, expected {name!r}")

    def wrap(run: Callable[[ExperimentConfig], Result]) -> Callable[[ExperimentConfig], Result]:
        if name in _REGISTRY:
            raise ValueError(f"experiment {name!r} registered twice")
        _REGISTRY[name] = Experiment(name, reproduces, chapter, config_cls, run)
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
