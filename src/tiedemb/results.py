"""The result of one experiment run, and how it is written to and read from disk.

On disk a result is a folder holding ``result.json`` (config, metrics, claims, provenance) and ``arrays.npz``
(curves and matrices for the figures). Folders are written atomically: into a temporary sibling that is renamed into
place, so a crash never leaves a half-written result.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .claims import Claim
from .config import PACKAGE_ROOT, REPO_ROOT, cpu_kernel_settings

SCHEMA = 1
RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"


class ResultError(RuntimeError):
    """A result folder is missing, corrupt, or of another schema."""


@dataclass
class Result:
    """What an experiment returns: its config, metrics, claims, arrays and provenance."""

    name: str  # experiment name, e.g. "grad-check"
    config: dict[str, Any]  # the config as plain data (ExperimentConfig.to_dict())
    metrics: dict[str, Any]  # JSON-able numbers and small tables
    claims: list[Claim]  # the paper's claims this experiment tests, with verdicts
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # curves and matrices for figures
    provenance: dict[str, Any] = field(default_factory=dict)  # versions, commit, wall time, device
    # Set when a stored result is loaded and judged again by the current code (not written to disk):
    stored_claims: list[Claim] = field(default_factory=list)  # the claims as stored with the result
    changed_verdicts: list[str] = field(default_factory=list)  # labels whose verdict the current code changed

    @property
    def code_is_current(self) -> bool:
        """Whether the result was computed by the current code of its experiment (committed results may not be; a
        result of an experiment that no longer exists is not)."""
        from .experiments import UnknownExperiment

        try:
            return self.provenance.get("code_version") == code_version(self.name)
        except UnknownExperiment:
            return False

    def claim(self, label: str) -> Claim:
        """The claim with this label."""
        for c in self.claims:
            if c.label == label:
                return c
        raise KeyError(f"{self.name} has no claim {label!r}; it has {[c.label for c in self.claims]}")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "config": self.config,
            "seeds": self.config.get("seeds"),
            "metrics": self.metrics,
            "claims": [c.to_dict() for c in self.claims],
            "arrays": sorted(self.arrays),
            **self.provenance,
        }

    def save(self, folder: Path) -> Path:
        """Write the result atomically into ``folder`` (replacing an older one) and return it."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_jsonable(self.to_json()), indent=2, sort_keys=False, allow_nan=False)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            (tmp / RESULT_FILE).write_text(text + "\n", encoding="utf8")
            with open(tmp / ARRAYS_FILE, "wb") as fh:
                np.savez_compressed(fh, **{k: np.asarray(v) for k, v in self.arrays.items()})
            replace_dir(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: Path) -> Result:
        """Read a result folder; raise :class:`ResultError` if it is missing, corrupt or of another schema."""
        folder = Path(folder)
        path = folder / RESULT_FILE
        if not path.is_file():
            raise ResultError(f"no {RESULT_FILE} in {folder}")
        try:
            data = json.loads(path.read_text(encoding="utf8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ResultError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ResultError(f"{path} has schema {data.get('schema') if isinstance(data, dict) else None!r}, "
                              f"expected {SCHEMA}")
        try:
            claims = [Claim.from_dict(c) for c in data["claims"]]
            arrays: dict[str, np.ndarray] = {}
            if data["arrays"]:
                with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
                if sorted(arrays) != sorted(data["arrays"]):
                    raise ResultError(f"{folder / ARRAYS_FILE} holds {sorted(arrays)}, expected {data['arrays']}")
            keys = {"schema", "name", "config", "seeds", "metrics", "claims", "arrays"}
            return cls(
                name=data["name"],
                config=data["config"],
                metrics=data["metrics"],
                claims=claims,
                arrays=arrays,
                provenance={k: v for k, v in data.items() if k not in keys},
            )
        except ResultError:
            raise
        except Exception as err:  # noqa: BLE001 - any malformed field means a corrupt result
            raise ResultError(f"{folder} is corrupt: {type(err).__name__}: {err}") from None


def replace_dir(src: Path, dst: Path) -> None:
    """Move folder ``src`` to ``dst``, replacing ``dst`` if it exists, never leaving ``dst`` half-written."""
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        os.replace(dst, old / dst.name)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def _jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays to plain JSON types; reject NaN and infinities."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"result contains a non-finite number ({obj}); refusing to write it")
    return obj


PRESENTATION = ("plotting", "book", "cli.py", "exercises.py", "__main__.py", "experiments/pool.py",
                "experiments/__init__.py", "cache.py", "results.py", "claims.py")
"""Modules that only present, register, store or schedule results; changing them does not make a result stale. Which
worker process computes a result does not change it (tested in ``tests/test_pool.py``); the registry
(``experiments/__init__.py``: the list of experiment modules, ``register``, ``run_or_load``) only calls an experiment's
run function, whose own module and imports make the numbers; ``cache.py`` and this module only say where and how
results and checkpoints are kept (a resumed run ends with the numbers of an uninterrupted one: tested per trainer; a
cached result that no longer loads is recomputed); ``claims.py`` holds the verdict rules, and every loaded result's
claims are judged again by the current code."""


def _presentation(path: Path) -> bool:
    rel = path.relative_to(PACKAGE_ROOT)
    return rel.parts[0] in PRESENTATION or rel.as_posix() in PRESENTATION


def _module_file(parts: tuple[str, ...]) -> Path | None:
    """The file of package module ``tiedemb.<parts>`` (a module or a package's ``__init__``), if it exists."""
    base = PACKAGE_ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if parts and path.is_file():
            return path
    return None


def _with_parents(path: Path) -> list[Path]:
    """A module file and the ``__init__`` of every package above it (importing a module runs them all)."""
    parts = path.relative_to(PACKAGE_ROOT).parts
    out = [PACKAGE_ROOT / "__init__.py"] + [PACKAGE_ROOT.joinpath(*parts[:i], "__init__.py")
                                            for i in range(1, len(parts))]
    return [p for p in out if p.is_file()] + [path]


def imported_modules(path: Path) -> set[Path]:
    """The package's module files that a source file imports: relative imports and ``tiedemb.…`` imports, anywhere in
    the file (also inside functions), with the packages above each. Imports by a computed name are not seen: the
    registry's own (``experiments/__init__.py`` importing every experiment module) is the only one, on purpose."""
    rel = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    package = rel[:-1]  # the package this file belongs to (for __init__, the package itself)
    found: set[Path] = set()

    def add(parts: tuple[str, ...], names: list[str]) -> None:
        target = _module_file(parts)
        if target is not None:
            found.update(_with_parents(target))
        for name in names:  # `from .pkg import module` names a module too
            sub = _module_file((*parts, name))
            if sub is not None:
                found.update(_with_parents(sub))

    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                add((*base, *node.module.split(".")) if node.module else base, names)
            elif node.module and node.module.split(".")[0] == "tiedemb":
                add(tuple(node.module.split(".")[1:]), names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tiedemb":
                    add(tuple(alias.name.split(".")[1:]), [])
    return found


def import_closure(module: str) -> list[Path]:
    """Every computing module file that importing ``module`` (``tiedemb.…``) can run, presentation modules left out:
    the source a result of that module's experiments depends on."""
    start = _module_file(tuple(module.split(".")[1:]))
    if start is None:
        raise ValueError(f"{module!r} is not a module of the tiedemb package")
    todo, seen = _with_parents(start), set()
    while todo:
        path = todo.pop()
        if path in seen or _presentation(path):
            continue
        seen.add(path)
        todo.extend(imported_modules(path) - seen)
    return sorted(seen)


@cache
def code_version(name: str) -> str:
    """A hash of the source experiment ``name``'s results depend on: its module's import closure
    (:func:`import_closure`) and the code versions of the experiments it reads (``after``), so that a change elsewhere
    in the package leaves its cached result valid; results computed by other code are stale."""
    from .experiments import get  # the registry imports this module: import it on use

    experiment = get(name)
    h = hashlib.sha256(__version__.encode())
    for other in experiment.after:
        h.update(code_version(other).encode())
    for path in import_closure(experiment.run.__module__):
        h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The checkout's commit (with ``-dirty`` when the package has uncommitted changes), or None."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "") if commit else None


def device_description() -> str:
    """The machine the computation ran on, in words."""
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    kernels = torch.backends.cpu.get_cpu_capability()
    mkl = cpu_kernel_settings().get("MKL_ENABLE_INSTRUCTIONS")
    return (f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s), "
            f"{kernels} kernels" + (f", MKL {mkl}" if mkl else ""))


def provenance(name: str, wall_time_s: float, *, code: str | None = None, commit: str | None = None,
               resumed: int = 0, earlier_s: float | None = 0.0) -> dict[str, Any]:
    """Versions (the code version of experiment ``name``), commit, device and wall time for a result computed now.

    ``code`` and ``commit``: as read when the computation started (the default reads them now); a file changed while
    an experiment runs must not label a result computed by the code before the change. ``resumed``: how many of its
    trainings resumed from a checkpoint written by an earlier process, which spent ``earlier_s`` wall seconds on them
    (None: not known); the wall time then covers every process (``wall_time_s``, with ``earlier_processes_s`` beside
    it), or, when the earlier time is not known, the finishing process alone (``wall_time_covers``).
    """
    timing: dict[str, Any] = {"wall_time_s": round(wall_time_s, 3)}
    if resumed:
        timing["resumed_trainings"] = resumed
        if earlier_s is None:
            timing["wall_time_covers"] = "the finishing process only"
        else:
            timing["wall_time_s"] = round(wall_time_s + earlier_s, 3)
            timing["earlier_processes_s"] = round(earlier_s, 3)
    return {
        "package_version": __version__,
        "code_version": code or code_version(name),
        "git_commit": commit or git_commit(),
        "torch_version": torch.__version__,
        "device": device_description(),
        **timing,
    }
