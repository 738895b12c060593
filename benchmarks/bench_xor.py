"""Training throughput on the XOR language: the batched ensemble trainer against plain nn.Module runs one by one.

Run (not collected by pytest):

    TIEDEMB_THREADS=1 python benchmarks/bench_xor.py                 # Transformer-small quick config, 10 runs
    python benchmarks/bench_xor.py --config xor-lstm-small --steps 200
    python benchmarks/bench_xor.py --baseline /path/to/other/checkout/src   # this trainer against another version's

With ``--baseline``, the batched trainer of this checkout and that of another checkout (e.g. a worktree of an older
commit) are timed alternately in fresh processes (ABBA order), best of ``--repeats`` each, in one run: a before/after
comparison on the same machine under the same load.

Both sides train the same runs (every seed × {untied, tied}) on the same data for the same number of steps, in one
process on the same machine; throughput is in run-steps per second (runs × steps / wall time). The batched side
includes its bookkeeping (distance records and evaluations at the config's intervals).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tiedemb.experiments.bertolotti.xor import CONFIGS
from tiedemb.metrics.embeddings import row_distances
from tiedemb.seeding import seed_everything
from tiedemb.train.xor import train_reference, train_xor

_TIMED = """
import dataclasses, inspect, sys, time
import tiedemb
try:
    from tiedemb.experiments.bertolotti.xor import CONFIGS
except ImportError:
    from tiedemb.experiments.xor import CONFIGS
from tiedemb.metrics.embeddings import row_distances
from tiedemb.seeding import seed_everything
from tiedemb.train.xor import train_xor
cfg = CONFIGS[sys.argv[1]].for_scale(sys.argv[2])
spec = dataclasses.replace(cfg.train_spec, steps=int(sys.argv[3]), checkpoint_every=0)
extra = {"distances": row_distances} if "distances" in inspect.signature(train_xor).parameters else {}
seed_everything(0)
start = time.perf_counter()
train_xor(cfg.language, cfg.body, cfg.seeds, spec, **extra)
print(time.perf_counter() - start)
"""


def compare(args: argparse.Namespace, runs: int) -> None:
    """Time this checkout's batched trainer against another checkout's, alternately, in fresh processes."""
    sources = {"this checkout": str(Path(__file__).resolve().parents[1] / "src"), "baseline": args.baseline}
    best = dict.fromkeys(sources, float("inf"))
    for repeat in range(args.repeats):
        order = list(sources.items())  # alternate which side goes first: the first of a pair runs measurably slower
        for name, src in order if repeat % 2 == 0 else order[::-1]:
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run([sys.executable, "-c", _TIMED, args.config, args.scale, str(args.steps)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            best[name] = min(best[name], float(out.strip().splitlines()[-1]))
    rate = {k: round(runs * args.steps / v, 1) for k, v in best.items()}
    print(json.dumps({"config": args.config, "scale": args.scale, "runs": runs, "steps": args.steps,
                      "baseline": args.baseline, "batched_run_steps_per_s": rate,
                      "ratio_this_over_baseline": round(rate["this checkout"] / rate["baseline"], 3)}, indent=2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="xor-transformer-small", choices=sorted(CONFIGS))
    p.add_argument("--scale", default="quick", choices=["quick", "paper"])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--repeats", type=int, default=2, help="best of this many timings per side")
    p.add_argument("--baseline", help="the src/ folder of another checkout: compare batched trainers instead")
    args = p.parse_args()
    cfg = CONFIGS[args.config].for_scale(args.scale)
    spec = dataclasses.replace(cfg.train_spec, steps=args.steps, checkpoint_every=0)
    lang, body = cfg.language, cfg.body
    runs = 2 * len(cfg.seeds)
    if args.baseline:
        compare(args, runs)
        return
    seed_everything(0)

    def batched() -> None:
        train_xor(lang, body, cfg.seeds, spec, distances=row_distances)

    def sequential() -> None:
        for tied in (False, True):
            for seed in cfg.seeds:
                train_reference(lang, body, seed, spec, tied=tied)

    timings = {}
    for name, fn in (("batched", batched), ("sequential", sequential)):
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        timings[name] = best
    rate = {k: runs * args.steps / v for k, v in timings.items()}
    print(json.dumps({"config": cfg.name, "scale": args.scale, "runs": runs, "steps": args.steps,
                      "run_steps_per_s": {k: round(v, 1) for k, v in rate.items()},
                      "ratio_batched_over_sequential": round(rate["batched"] / rate["sequential"], 2)}, indent=2))


if __name__ == "__main__":
    main()
