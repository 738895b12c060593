"""Scales, run-time settings and the base class of every experiment config.

This module is the ONE place that reads the environment:

- ``BOOK_SCALE``: ``quick`` (default) or ``paper``; the scale the book's chapters run at.
- ``TIEDEMB_CACHE_DIR``: where :func:`tiedemb.cache.run_or_load` keeps results (default ``~/.cache/tiedemb``).
- ``TIEDEMB_RESULTS_DIR``: extra read-only folders (``:``-separated) searched for committed paper-scale results.
- ``TIEDEMB_THREADS``: torch intra-op threads (default 1; tiny models run faster on one thread).
- ``TIEDEMB_PROGRESS``: ``1`` forces progress bars on, ``0`` off; by default they show on a terminal only.
- ``TIEDEMB_NATIVE_KERNELS``: ``1`` lets torch use the fastest CPU kernels of the machine instead of the pinned ones
  (:func:`pin_cpu_kernels`; faster on some machines, but numbers then differ between machines).
- ``CI``: when set, progress bars are off.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

SCALES = ("quick", "paper")
"""The two scales of every experiment: ``quick`` runs in about 2 minutes on 2 CPU cores, ``paper`` is the
paper's own configuration."""

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent.parent
"""The repository root when the package is installed in editable mode from a checkout."""


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field and what is allowed."""


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise :class:`ConfigError`."""
    if scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; allowed: {', '.join(SCALES)}")
    return scale


def book_scale() -> str:
    """The scale the book runs at, from ``BOOK_SCALE`` (default ``quick``)."""
    value = os.environ.get("BOOK_SCALE", "quick").strip().lower() or "quick"
    try:
        return check_scale(value)
    except ConfigError as err:
        raise ConfigError(f"BOOK_SCALE: {err}") from None


def cache_dir() -> Path:
    """Folder of the results cache (``TIEDEMB_CACHE_DIR``, default ``~/.cache/tiedemb``)."""
    value = os.environ.get("TIEDEMB_CACHE_DIR")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "tiedemb"


def results_dirs() -> list[Path]:
    """Read-only folders holding committed results: ``TIEDEMB_RESULTS_DIR`` and the checkout's ``results/``."""
    dirs = [Path(p).expanduser() for p in os.environ.get("TIEDEMB_RESULTS_DIR", "").split(os.pathsep) if p]
    dirs.append(REPO_ROOT / "results")
    return dirs


def parse_positive_int(name: str, text: str) -> int:
    """``text`` as a positive integer, or a :class:`ConfigError` that names ``name`` (an option or a variable)."""
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {text!r}")
    return value


def num_threads() -> int:
    """Torch intra-op threads (``TIEDEMB_THREADS``, default 1)."""
    return parse_positive_int("TIEDEMB_THREADS", os.environ.get("TIEDEMB_THREADS", "1"))


X86_64 = platform.machine().lower() in {"x86_64", "amd64"}
"""Whether this machine has CPU code paths to pin (:func:`pin_cpu_kernels`)."""

CPU_KERNEL_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                   "OPENBLAS_CORETYPE": "Haswell"}
"""The CPU code paths every x86-64 run uses, so that a machine with AVX-512 and one without give the same numbers:
torch's vectorised kernels, MKL, oneDNN and numpy's OpenBLAS all at their AVX2 code paths. The committed notebook
outputs are compared number for number in CI, on whatever machine CI runs. (MKL's strict reproducibility mode,
``MKL_CBWR=COMPATIBLE``, would also cover Intel against AMD processors, but halves the speed of the masked language
model's large matrix products; a user who needs it can set it.)"""


def pin_cpu_kernels() -> None:
    """Pin the CPU code paths (:data:`CPU_KERNEL_PINS`) unless ``TIEDEMB_NATIVE_KERNELS=1``.

    Torch, MKL and oneDNN read these variables when they first compute, so this runs when :mod:`tiedemb` is imported
    and only fills in variables the user has not set. OpenBLAS reads its own when numpy is first imported: import
    :mod:`tiedemb` before numpy (the chapters and the tests do). Off x86-64 there is nothing to pin.
    """
    if os.environ.get("TIEDEMB_NATIVE_KERNELS", "0") == "1" or not X86_64:
        return
    for key, value in CPU_KERNEL_PINS.items():
        os.environ.setdefault(key, value)


def cpu_kernel_settings() -> dict[str, str]:
    """The variables of :data:`CPU_KERNEL_PINS` that are set now (by the pins or by the user), for provenance."""
    return {key: os.environ[key] for key in CPU_KERNEL_PINS if key in os.environ}


def progress_enabled() -> bool:
    """Whether long loops show a progress bar: off in CI, on at a terminal, forced by ``TIEDEMB_PROGRESS``."""
    forced = os.environ.get("TIEDEMB_PROGRESS")
    if forced in {"0", "1"}:
        return forced == "1"
    if os.environ.get("CI"):
        return False
    return sys.stderr.isatty()


def parse_seeds(text: str) -> tuple[int, ...]:
    """Parse ``"0,1,2"`` or ``"42-46"`` (or a mix, ``"0,5-7"``) into a tuple of distinct non-negative seeds."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise ConfigError(f"bad seeds {text!r}: empty item; use e.g. '0,1,2' or '42-46'")
        lo, sep, hi = part.partition("-")
        try:
            bounds = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise ConfigError(
                f"bad seeds {text!r}: {part!r} is not an integer or a range; use e.g. '0,1,2' or '42-46'"
            ) from None
        if bounds[1] < bounds[0]:
            raise ConfigError(f"bad seeds {text!r}: range {part!r} is decreasing")
        seeds.extend(range(bounds[0], bounds[1] + 1))
    return check_seeds(tuple(seeds))


def check_seeds(seeds: tuple[int, ...]) -> tuple[int, ...]:
    """Validate a tuple of seeds: non-empty, distinct, each in [0, 2**31)."""
    if not seeds:
        raise ConfigError("seeds: at least one seed is needed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**31:
            raise ConfigError(f"seeds: {s!r} is not an integer in [0, 2**31)")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: {seeds} has duplicates")
    return seeds


@dataclass(frozen=True)
class ExperimentConfig:
    """Base of every experiment config: a frozen dataclass with a scale and seeds.

    Subclasses set ``name`` (the CLI name) and implement :meth:`quick` and :meth:`paper`; they validate their own
    fields in ``_validate`` with messages that name the field and the allowed values.
    """

    name: ClassVar[str] = ""

    scale: str = "quick"  # "quick" (about 2 min on 2 CPU cores) or "paper" (the paper's configuration)
    seeds: tuple[int, ...] = (0,)  # one run per seed; all randomness flows from these

    def __post_init__(self) -> None:
        check_scale(self.scale)
        if isinstance(self.seeds, list):
            object.__setattr__(self, "seeds", tuple(self.seeds))
        check_seeds(self.seeds)
        self._validate()

    def _validate(self) -> None:
        """Check the subclass's own fields; raise :class:`ConfigError`."""

    @classmethod
    def quick(cls) -> Self:
        """The configuration that shows the paper's effect in about 2 minutes on 2 CPU cores."""
        raise NotImplementedError

    @classmethod
    def paper(cls) -> Self:
        """The paper's own configuration."""
        raise NotImplementedError

    @classmethod
    def for_scale(cls, scale: str | None = None) -> Self:
        """The config at ``scale``, or at the book's scale (``BOOK_SCALE``) when ``scale`` is None."""
        scale = book_scale() if scale is None else check_scale(scale)
        return cls.quick() if scale == "quick" else cls.paper()

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data, with its experiment name."""
        data = dataclasses.asdict(self)
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        return {"experiment": self.name, **data}


def positive(name: str, value: float, *, integer: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a positive number (an int if ``integer``)."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")


def one_of(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is in ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
