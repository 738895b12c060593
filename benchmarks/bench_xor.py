"""Training throughput on the XOR language: the batched ensemble trainer against plain nn.Module runs one by one.

Run (not collected by pytest):

    TIEDEMB_THREADS=1 python benchmarks/bench_xor.py                 # Transformer-small quick config, 10 runs
    python benchmarks/bench_xor.py --config xor-lstm-small --steps 200

Both sides train the same runs (every seed × {untied, tied}) on the same data for the same number of steps, in one
process on the same machine; throughput is in run-steps per second (runs × steps / wall time). The batched side
includes its bookkeeping (distance records and evaluations at the config's intervals).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from tiedemb.experiments.bertolotti.xor import CONFIGS
from tiedemb.metrics.embeddings import row_distances
from tiedemb.seeding import seed_everything
from tiedemb.train.xor import train_reference, train_xor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="xor-transformer-small", choices=sorted(CONFIGS))
    p.add_argument("--scale", default="quick", choices=["quick", "paper"])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--repeats", type=int, default=2, help="best of this many timings per side")
    args = p.parse_args()
    cfg = CONFIGS[args.config].for_scale(args.scale)
    spec = dataclasses.replace(cfg.train_spec, steps=args.steps, checkpoint_every=0)
    lang, body = cfg.language, cfg.body
    runs = 2 * len(cfg.seeds)
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
