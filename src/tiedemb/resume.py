"""Checkpoints of long runs carried from one checkout to another.

A paper-scale run writes its checkpoint into the results cache (:func:`~.cache.checkpoint_path`:
``<cache>/checkpoints/<experiment>/<config key>-<code version>[-parts].pt``), which a fresh clone does not have. To
carry a stopped run to another machine or session, its checkpoint files are committed, under the same names
compressed with xz (``.pt.xz``, about a third of the size), to ``results/checkpoints/<experiment>/``
(``python -m tiedemb checkpoints --save``). ``python -m tiedemb run`` first copies
every committed checkpoint that the cache lacks, or holds at an earlier step, into the cache
(:func:`restore_checkpoints`), and the run resumes from it and ends with the numbers of an uninterrupted run — provided
the checkout's code for that experiment is the code that wrote it: the code version in the file name must match, or
the run starts afresh. Once the run's result is committed, its checkpoints are removed from ``results/checkpoints/``.

This module is imported by the command line only, so that it is outside every experiment's code version.
"""

from __future__ import annotations

import io
import lzma
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .config import cache_dir, results_dirs

FOLDER = "checkpoints"
"""The sub-folder of the cache and of each committed results folder that holds checkpoints."""
PACKED = ".xz"
"""The suffix added to a committed checkpoint (xz-compressed; the cache keeps plain ``.pt`` files)."""


@dataclass(frozen=True)
class Carried:
    """One checkpoint file: its experiment, its file name, the training step it holds, and where its run says so
    the run's length in steps and the wall seconds spent on it so far."""

    experiment: str
    name: str  # the file name in the cache (without the committed copy's .xz)
    step: int
    path: Path
    total: int | None = None
    elapsed_s: float | None = None

    def progress(self) -> str:
        """``step 40,000 of 300,000 (13 %), 0.8 h`` (as much of it as the checkpoint says)."""
        text = f"step {self.step:>9,}"
        if self.total:
            text += f" of {self.total:,} ({self.step / self.total:.0%})"
        if self.elapsed_s is not None:
            text += f", {self.elapsed_s / 3600:.1f} h so far"
        return text


def _read(path: Path) -> dict:
    import torch

    try:
        source = io.BytesIO(lzma.decompress(path.read_bytes())) if path.name.endswith(PACKED) else path
        state = torch.load(source, weights_only=True, map_location="cpu")
        int(state["step"])
        return state
    except Exception as err:  # a truncated file, another format, no step
        raise ValueError(f"{path} is not a readable training checkpoint with a step ({type(err).__name__}: {err})"
                         ) from None


def checkpoint_step(path: Path) -> int:
    """The training step a checkpoint file holds (its ``step`` entry), or a :class:`ValueError` naming the file."""
    return int(_read(path)["step"])


def _total_steps(fingerprint: object) -> int | None:
    """The run's length from a checkpoint's fingerprint: its ``steps``, or its config's (None if it has neither)."""
    if not isinstance(fingerprint, dict):
        return None
    for holder in (fingerprint, fingerprint.get("config")):
        if isinstance(holder, dict) and isinstance(holder.get("steps"), int):
            return holder["steps"]
    return None


def checkpoints_in(root: Path) -> list[Carried]:
    """The checkpoint files under ``root`` (``root/<experiment>/*.pt``, or ``*.pt.xz`` committed), sorted by
    experiment and name."""
    found = []
    for path in sorted([*root.glob("*/*.pt"), *root.glob(f"*/*.pt{PACKED}")]):
        state = _read(path)
        elapsed = state.get("elapsed_s")
        found.append(Carried(path.parent.name, path.name.removesuffix(PACKED), int(state["step"]), path,
                             _total_steps(state.get("fingerprint")), float(elapsed) if elapsed is not None else None))
    return found


def _copy_atomic(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` through a temporary sibling, compressing into a ``.xz`` destination and decompressing
    from a ``.xz`` source."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        if dest.name.endswith(PACKED):
            Path(tmp).write_bytes(lzma.compress(src.read_bytes()))
        elif src.name.endswith(PACKED):
            Path(tmp).write_bytes(lzma.decompress(src.read_bytes()))
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def restore_checkpoints(cache: Path | None = None, committed: list[Path] | None = None) -> list[Carried]:
    """Copy each committed checkpoint that ``cache`` lacks, or holds at an earlier step, into it; return those
    copied. ``committed`` defaults to the ``checkpoints`` folders of :func:`~.config.results_dirs`."""
    target = (cache or cache_dir()) / FOLDER
    roots = committed if committed is not None else [d / FOLDER for d in results_dirs()]
    copied = []
    for root in roots:
        for c in checkpoints_in(root):
            dest = target / c.experiment / c.name
            if dest.is_file() and checkpoint_step(dest) >= c.step:
                continue
            _copy_atomic(c.path, dest)
            copied.append(c)
    return copied


def save_checkpoints(dest: Path, cache: Path | None = None) -> list[Carried]:
    """Copy every checkpoint of the cache into ``dest/<experiment>/`` (to be committed), replacing a copy at an
    earlier step, and rewrite ``dest/README.md`` (:func:`index_text`); return those copied."""
    copied = []
    for c in checkpoints_in((cache or cache_dir()) / FOLDER):
        target = dest / c.experiment / (c.name + PACKED)
        if target.is_file() and checkpoint_step(target) >= c.step:
            continue
        _copy_atomic(c.path, target)
        copied.append(c)
    (dest / "README.md").write_text(index_text(checkpoints_in(dest)), encoding="utf8")
    return copied


def index_text(carried: list[Carried]) -> str:
    """The README of a folder of committed checkpoints: what each holds and how to resume it."""
    lines = ["# Checkpoints of long runs in progress", "",
             "Written by `python -m tiedemb checkpoints --save`; do not edit. Each file is a training checkpoint of a "
             "paper-scale run that has not finished, named `<config key>-<code version>[-parts].pt`. "
             "`python -m tiedemb run EXPERIMENT --scale paper` (or the experiment that trains this configuration) "
             "copies it into the results cache and resumes from it, provided the checkout's code version of the "
             "experiment is the one in the name (`python -c \"from tiedemb.cache import code_version; "
             "print(code_version('EXPERIMENT'))\"`); otherwise run it from a worktree of a commit whose code version "
             "matches. Once a run's result is committed under `results/paper/`, its checkpoints are deleted here.", "",
             "| experiment | file | progress | code version |", "|---|---|---|---|"]
    for c in carried:
        version = c.name.removesuffix(".pt").split("-")[1] if c.name.count("-") else "?"
        lines.append(f"| `{c.experiment}` | `{c.path.name}` | {c.progress().replace('step ', '', 1).strip()} | "
                     f"`{version}` |")
    if not carried:
        lines.append("| (none) | | | |")
    return "\n".join(lines) + "\n"
