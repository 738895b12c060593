"""Compute many experiments at once, one worker process per core: what ``python -m tiedemb run --all`` does.

Each worker is a fresh process (``spawn``) that loads a result from the cache or computes and caches it, exactly as
:func:`tiedemb.experiments.run_or_load` would in a single process: every experiment seeds its own randomness, so the
results are identical to a serial run. An experiment that reads other experiments' results (``Experiment.after``) is
started only when those are done. A failure is reported with the experiment's name and its error; it leaves no cache
entry behind (results are written atomically) and does not stop the others.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from ..config import ExperimentConfig

COMPUTED, CACHED, FAILED = "computed", "cached", "failed"


@dataclass(frozen=True)
class Outcome:
    """What became of one experiment."""

    name: str
    status: str  # computed | cached | failed
    seconds: float  # wall time in the worker
    error: str = ""  # the error's last line, for a failure


@dataclass
class Summary:
    """Every outcome and the wall time of the whole batch."""

    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    def line(self) -> str:
        return (f"{len(self.outcomes)} experiments: {self.count(COMPUTED)} computed, {self.count(CACHED)} cached, "
                f"{self.count(FAILED)} failed, in {self.wall_seconds:.0f} s of wall time")


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"{category.__name__}: {message}\n"


def _init_worker(parent: int) -> None:
    """Worker initializer: warnings (e.g. a stale cached result being recomputed) as one line each, without the
    worker's source location; and on Linux, ask the kernel to end this worker when the process that started it
    (``parent``) ends, killed or interrupted, so that no orphaned worker goes on computing (a worker whose parent ended
    while it was still starting ends at once)."""
    warnings.formatwarning = _one_line_warning
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the parent ended before the request above
        os._exit(1)


def _work(cfg: ExperimentConfig) -> Outcome:
    """In a worker: load ``cfg``'s result from the cache, or compute and cache it."""
    from ..cache import cache_path, load_cached
    from ..results import code_version
    from . import compute

    start = time.perf_counter()
    try:
        if load_cached(cache_path(cfg), cfg, code_version(cfg.name)) is not None:
            return Outcome(cfg.name, CACHED, time.perf_counter() - start)
        compute(cfg).save(cache_path(cfg))
        return Outcome(cfg.name, COMPUTED, time.perf_counter() - start)
    except Exception as err:  # noqa: BLE001 - reported by name, the batch goes on
        last = traceback.format_exception_only(err)[-1].strip()
        return Outcome(cfg.name, FAILED, time.perf_counter() - start, last)


def run_all(configs: Sequence[ExperimentConfig], *, jobs: int, after: dict[str, tuple[str, ...]] | None = None,
            cost: dict[str, float] | None = None, report: Callable[[Outcome], None] | None = None) -> Summary:
    """Load or compute every config in ``jobs`` worker processes; ``after[name]`` names the experiments that must be
    done before ``name`` starts (those not in the batch are ignored). Of the experiments ready to start, the one with
    the largest ``cost[name]`` starts first (ties keep the given order). ``report`` is called as each one ends."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    after = after or {}
    cost = cost or {}
    names = {c.name for c in configs}
    waiting = sorted(configs, key=lambda c: -cost.get(c.name, 0.0))
    done: set[str] = set()
    summary = Summary()
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(os.getpid(),)) as pool:
        running: dict[Future, ExperimentConfig] = {}
        while waiting or running:
            ready = [c for c in waiting if all(d in done or d not in names for d in after.get(c.name, ()))]
            for cfg in ready[: max(0, jobs - len(running))]:
                waiting.remove(cfg)
                running[pool.submit(_work, cfg)] = cfg
            if not running:  # only experiments whose dependencies failed are left
                for cfg in waiting:
                    summary.outcomes.append(Outcome(cfg.name, FAILED, 0.0, "a result it reads failed"))
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                cfg = running.pop(fut)
                try:
                    outcome = fut.result()
                except Exception as err:  # noqa: BLE001 - a worker that died (killed, out of memory)
                    outcome = Outcome(cfg.name, FAILED, 0.0, f"worker died: {type(err).__name__}: {err}")
                if outcome.status != FAILED:
                    done.add(cfg.name)
                summary.outcomes.append(outcome)
                if report is not None:
                    report(outcome)
    summary.wall_seconds = time.perf_counter() - start
    return summary
